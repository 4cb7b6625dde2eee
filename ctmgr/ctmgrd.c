/*
 * ctmgrd: the node agent. It serves the requests of service "ctmgr"
 * addressed to this node (start, stop, shutdown, status). It publishes the
 * state of this node's containers in the status area of pmxfs. Once after
 * boot, when the node is quorate, it starts the `onboot` containers.
 *
 * Requests are served one at a time, in the order they arrive; startall
 * waits between containers without blocking them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctmgr/agent.h"
#include "pmxfs/log.h"

/* Exists once startall ran since boot, because /run is emptied at boot. */
#define CTMGRD_MARKER "/run/ctmgrd-startall.done"
#define CTMGRD_REFRESH_MS 5000

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup_logging(bool foreground, bool debug)
{
	int level = debug ? LOG_DEBUG : LOG_INFO;

	qb_log_init("ctmgrd", LOG_DAEMON, level);
	qb_log_format_set(QB_LOG_SYSLOG, "[%f:%l] %b");
	if (foreground) {
		qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
		qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
		qb_log_format_set(QB_LOG_STDERR, "%t ctmgrd [%p] %g[%f:%l] %b");
		qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
	} else {
		qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
	}
}

struct agent {
	struct ctm_ctx ctx;
	char *published;          /* the state text last published */
	int64_t next_refresh;     /* monotonic ms */
	/* startall */
	bool startall_pending;    /* startall has not begun since boot */
	struct ctm_boot_entry *boot;
	size_t nboot, iboot;
	int64_t next_start;       /* monotonic ms */
};

/* Connect to pmxfs, register the service and read the context. Retry
 * every 2 s until this succeeds or a stop signal arrives. */
static int agent_connect(struct agent *a)
{
	char errmsg[CONF_ERRMSG_SIZE];
	bool logged = false;
	int rv;

	while (!stopping) {
		rv = pfs_connect(NULL, &a->ctx.conn);
		if (rv == 0) {
			rv = pfs_agent_register(a->ctx.conn, CTM_AGENT_SERVICE);
			if (rv == 0)
				rv = ctm_ctx_init(&a->ctx, errmsg);
			else
				snprintf(errmsg, sizeof(errmsg), "registering service '%s' failed: %s",
				         CTM_AGENT_SERVICE, strerror(-rv));
			if (rv == 0) {
				pfs_log(INFO, "connected to pmxfs on node %s, serving '%s'",
				        a->ctx.node, CTM_AGENT_SERVICE);
				free(a->published);
				a->published = NULL;
				a->next_refresh = 0;
				return 0;
			}
			pfs_disconnect(a->ctx.conn);
			a->ctx.conn = NULL;
		} else {
			snprintf(errmsg, sizeof(errmsg), "cannot connect to pmxfs: %s",
			         strerror(-rv));
		}
		if (!logged)
			pfs_log(WARN, "%s; retrying every 2 s", errmsg);
		logged = true;
		sleep(2);
	}
	return -EINTR;
}

/* Publish this node's container states when they changed, and re-read
 * the quorum state. */
static void agent_refresh(struct agent *a, bool force)
{
	char errmsg[CONF_ERRMSG_SIZE];
	char *text = NULL;
	bool quorate = a->ctx.quorate;
	int rv;

	if (ctm_ctx_init(&a->ctx, errmsg) == 0 && quorate != a->ctx.quorate)
		pfs_log(NOTICE, "node %s is %s", a->ctx.node,
		        a->ctx.quorate ? "quorate" : "not quorate");
	a->next_refresh = now_ms() + CTMGRD_REFRESH_MS;
	rv = ctm_agent_state(&a->ctx, &text, errmsg);
	if (rv < 0) {
		pfs_log(WARN, "reading the container states failed: %s", errmsg);
		return;
	}
	if (!force && a->published && !strcmp(a->published, text)) {
		free(text);
		return;
	}
	rv = pfs_kv_set(a->ctx.conn, CTM_STATE_KEY, text, strlen(text));
	if (rv < 0) {
		pfs_log(WARN, "publishing the container states failed: %s", strerror(-rv));
		free(text);
		return;
	}
	pfs_log(DEBUG, "published %s: %s", CTM_STATE_KEY, text);
	free(a->published);
	a->published = text;
}

static void agent_serve(struct agent *a, struct pfs_node_request *req)
{
	char msg[CONF_ERRMSG_SIZE];
	int rv, reply_rv;

	pfs_log(INFO, "request %llu from node %s: %s", (unsigned long long)req->handle,
	        req->origin_name, req->data ? req->data : "");
	rv = ctm_agent_execute(&a->ctx, req->data ? req->data : "", msg);
	if (rv < 0)
		pfs_log(WARN, "request %llu failed: %s", (unsigned long long)req->handle, msg);
	else
		pfs_log(INFO, "request %llu done: %s", (unsigned long long)req->handle,
		        msg[0] ? msg : "ok");
	reply_rv = pfs_node_reply(a->ctx.conn, req->handle, rv, msg, strlen(msg));
	if (reply_rv < 0)
		pfs_log(WARN, "the reply to request %llu from node %s was lost: %s",
		        (unsigned long long)req->handle, req->origin_name, strerror(-reply_rv));
	agent_refresh(a, false);
}

/* Run one step of startall: begin it once quorate, and start the next
 * container when its `up` delay is over. */
static void agent_startall_step(struct agent *a)
{
	char errmsg[CONF_ERRMSG_SIZE];
	struct ctm_boot_entry *e;
	struct timespec ts;
	bool running = false;
	int fd, rv;

	if (!a->boot) {
		if (!a->startall_pending || !a->ctx.quorate)
			return;
		rv = ctm_agent_boot_list(&a->ctx, true, &a->boot, &a->nboot, errmsg);
		if (rv < 0) {
			pfs_log(WARN, "startall: %s; retrying", errmsg);
			return;
		}
		a->startall_pending = false;
		fd = open(CTMGRD_MARKER, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			pfs_log(WARN, "startall: cannot create %s: %s; a restart of ctmgrd will "
			        "start the onboot containers again", CTMGRD_MARKER, strerror(errno));
		else
			close(fd);
		pfs_log(INFO, "startall: %zu onboot containers on node %s", a->nboot, a->ctx.node);
		a->iboot = 0;
		a->next_start = now_ms();
	}
	if (a->iboot >= a->nboot || now_ms() < a->next_start)
		return;
	e = &a->boot[a->iboot++];
	a->next_start = now_ms();
	if (ctm_ct_running(&a->ctx, e->ctid, &running, NULL) == 0 && running) {
		pfs_log(INFO, "startall: CT %u is running already", e->ctid);
	} else {
		rv = ctm_agent_start(&a->ctx, e->ctid, errmsg);
		clock_gettime(CLOCK_REALTIME, &ts);
		if (rv < 0) {
			pfs_log(ERR, "startall: %s", errmsg);
		} else {
			pfs_log(INFO, "startall: CT %u started at %lld.%03ld, waiting %u s", e->ctid,
			        (long long)ts.tv_sec, ts.tv_nsec / 1000000, e->up);
			a->next_start = now_ms() + (int64_t)e->up * 1000;
		}
		agent_refresh(a, false);
	}
	if (a->iboot >= a->nboot)
		pfs_log(INFO, "startall: done");
}

static int64_t wait_ms(const struct agent *a)
{
	int64_t now = now_ms(), until = a->next_refresh;

	if (a->boot && a->iboot < a->nboot && a->next_start < until)
		until = a->next_start;
	if (until - now > 1000)
		return 1000; /* to see a stop signal soon */
	return until > now ? until - now : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ctmgrd [-f] [-d]\n"
	           "  -f, --foreground  stay in the foreground and log to stderr\n"
	           "  -d, --debug       log debug messages too\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"foreground", no_argument, NULL, 'f'},
	                                          {"debug", no_argument, NULL, 'd'},
	                                          {"help", no_argument, NULL, 'h'},
	                                          {NULL, 0, NULL, 0}};
	struct agent a = {0};
	struct sigaction sa = {0};
	bool foreground = false, debug = false;
	int c, rv;

	while ((c = getopt_long(argc, argv, "fdh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 'd':
			debug = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ctmgrd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	setup_logging(foreground, debug);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	pfs_log(INFO, "ctmgrd %s starting", PACKAGE_VERSION);
	a.startall_pending = access(CTMGRD_MARKER, F_OK) != 0;
	if (!a.startall_pending)
		pfs_log(INFO, "startall ran since boot (%s exists): starting no container",
		        CTMGRD_MARKER);
	if (agent_connect(&a) < 0)
		goto out;
	while (!stopping) {
		struct pfs_node_request req = {0};

		if (now_ms() >= a.next_refresh)
			agent_refresh(&a, true);
		agent_startall_step(&a);
		rv = pfs_next_node_request(a.ctx.conn, &req, (int)wait_ms(&a));
		if (rv == 0) {
			agent_serve(&a, &req);
			pfs_node_request_clear(&req);
		} else if (rv != -ETIMEDOUT && !stopping) {
			pfs_log(ERR, "reading requests from pmxfs failed: %s; reconnecting",
			        strerror(-rv));
			pfs_disconnect(a.ctx.conn);
			a.ctx.conn = NULL;
			if (agent_connect(&a) < 0)
				break;
		}
	}
out:
	pfs_log(INFO, "ctmgrd stopping");
	free(a.boot);
	free(a.published);
	pfs_disconnect(a.ctx.conn);
	qb_log_fini();
	return 0;
}
