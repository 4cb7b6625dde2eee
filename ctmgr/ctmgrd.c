/*
 * ctmgrd: the node agent. It serves the requests of service "ctmgr"
 * addressed to this node (start, stop, shutdown, status). It publishes the
 * state of this node's containers in the status area of pmxfs. Once after
 * boot, when the node is quorate, it starts the `onboot` containers. It
 * runs migrations as tasks in child processes, and receives the volumes
 * of migrations to this node on its transfer listener (ctmgr/migrate.h).
 *
 * Each start, stop or shutdown runs in a worker process of its own, so
 * requests for different containers run at once while those for one
 * container wait for each other, in the order they arrive. Replies to
 * status requests go out at once. startall waits between containers
 * without blocking requests.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/prctl.h>

#include "ctmgr/agent.h"
#include "ctmgr/ctm_internal.h"
#include "ctmgr/migrate.h"
#include "pmxfs/log.h"

/* Exists once startall ran since boot, because /run is emptied at boot. */
#define CTMGRD_MARKER "/run/ctmgrd-startall.done"
#define CTMGRD_REFRESH_MS 5000
/* Requests beyond this many workers wait for one to end. */
#define CTMGRD_MAX_WORKERS 16
/* Migration tasks and volume receivers running at once. */
#define CTMGRD_MAX_CHILDREN 32
/* How long an announced transfer waits for its sender. */
#define CTMGRD_RECEIVE_WAIT_MS 60000

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

/* A worker process running one request. */
struct worker {
	pid_t pid;
	int fd; /* the read end of its result pipe */
	unsigned ctid;
	uint64_t handle;
	char origin[64];
	size_t got;
	char buf[sizeof(int) + CONF_ERRMSG_SIZE]; /* the status, then the message */
};

/* A request waiting for its container's worker, or for a free worker. */
struct queued {
	struct pfs_node_request req;
	unsigned ctid;
	struct queued *next;
};

/* A migration task or a volume receiver, reaped without a result pipe. */
struct child {
	pid_t pid;
	bool receiver; /* else a migration task */
	unsigned ctid;               /* of a receiver: 0 until its header matched */
	char name[CTM_TASK_ID_SIZE]; /* task id, or transfer token */
	int report_fd;               /* of a receiver: reports the transfer it took, or -1 */
};

struct agent {
	struct ctm_ctx ctx;
	struct ctm_xfer_server *xfer; /* the transfer listener, once it runs */
	bool xfer_logged;             /* its last failure was logged */
	bool cleaned;                 /* .incoming was cleaned since start */
	struct child children[CTMGRD_MAX_CHILDREN];
	size_t nchildren;
	/* Transfers announced by "expect" that no connection matched yet. */
	struct ctm_migrate_expect expects[CTMGRD_MAX_CHILDREN];
	size_t nexpects;
	char *published;          /* the state text last published */
	int64_t next_refresh;     /* monotonic ms */
	/* startall */
	bool startall_pending;    /* startall has not begun since boot */
	struct ctm_boot_entry *boot;
	size_t nboot, iboot;
	int64_t next_start;       /* monotonic ms */
	struct worker workers[CTMGRD_MAX_WORKERS];
	size_t nworkers;
	struct queued *queue;     /* first in, first out */
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

/*
 * Start the transfer listener on this node's ring address, on the port of
 * datacenter.cfg. The first time, remove what interrupted transfers left
 * in `.incoming`, since no transfer can run before the listener does.
 * Retried at every refresh until it works (the cluster key appears once
 * the cluster is quorate).
 */
static void agent_listen(struct agent *a)
{
	char errmsg[CONF_ERRMSG_SIZE], xmsg[CTM_XFER_ERRMSG_SIZE], addr[64];
	struct ctm_xfer_key key;
	uint16_t port = 0;
	unsigned removed = 0;
	int rv;

	if (!a->cleaned) {
		rv = ctm_migrate_clean(&a->ctx, &removed, errmsg);
		if (rv < 0) {
			/* No listener before the cleaning, which would remove its transfers. */
			pfs_log(WARN, "removing interrupted transfers failed: %s; retrying", errmsg);
			return;
		} else {
			a->cleaned = true;
			pfs_log(INFO, "removed %u interrupted transfers from .incoming folders",
			        removed);
		}
	}
	rv = ctm_migrate_key(&a->ctx, &key, errmsg);
	if (rv == 0)
		rv = ctm_migrate_port(&a->ctx, &port, errmsg);
	if (rv == 0)
		rv = ctm_migrate_node_addr(&a->ctx, a->ctx.node, addr, errmsg);
	if (rv == 0 && (rv = ctm_xfer_server_new(&key, addr, port, &a->xfer, xmsg)) < 0)
		snprintf(errmsg, sizeof(errmsg), "%.250s", xmsg);
	explicit_bzero(&key, sizeof(key));
	if (rv < 0) {
		if (!a->xfer_logged)
			pfs_log(WARN, "the migration transfer listener does not run: %s; retrying",
			        errmsg);
		a->xfer_logged = true;
		return;
	}
	a->xfer_logged = false;
	pfs_log(INFO, "receiving migration transfers on %s port %u", addr, port);
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
	if (!a->xfer)
		agent_listen(a);
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

static void agent_reply(struct agent *a, uint64_t handle, const char *origin, int rv,
                        const char *msg)
{
	int reply_rv;

	if (rv < 0)
		pfs_log(WARN, "request %llu failed: %s", (unsigned long long)handle, msg);
	else
		pfs_log(INFO, "request %llu done: %s", (unsigned long long)handle,
		        msg[0] ? msg : "ok");
	reply_rv = pfs_node_reply(a->ctx.conn, handle, rv, msg, strlen(msg));
	if (reply_rv < 0)
		pfs_log(WARN, "the reply to request %llu from node %s was lost: %s",
		        (unsigned long long)handle, origin, strerror(-reply_rv));
}

static bool ctid_busy(const struct agent *a, unsigned ctid)
{
	for (size_t i = 0; i < a->nworkers; i++)
		if (a->workers[i].ctid == ctid)
			return true;
	return false;
}

/* Run REQ for CTID in a new worker process. Returns false when the fork
 * failed, after replying with the error. */
static bool worker_spawn(struct agent *a, struct pfs_node_request *req, unsigned ctid)
{
	struct worker *w = &a->workers[a->nworkers];
	char msg[CONF_ERRMSG_SIZE];
	int fds[2];

	memset(w, 0, sizeof(*w));
	if (pipe2(fds, O_CLOEXEC) < 0 || (w->pid = fork()) < 0) {
		int rv = -errno;

		snprintf(msg, sizeof(msg), "CT %u: cannot start a worker process: %s", ctid,
		         strerror(-rv));
		pfs_log(ERR, "request %llu: %s", (unsigned long long)req->handle, msg);
		agent_reply(a, req->handle, req->origin_name, rv, msg);
		return false;
	}
	if (w->pid == 0) {
		struct ctm_ctx ctx = a->ctx;
		int rv;

		/* A connection of its own, because the parent's must stay unused. */
		pfs_forget_after_fork(a->ctx.conn);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		close(fds[0]);
		memset(w->buf, 0, sizeof(w->buf));
		rv = pfs_connect(NULL, &ctx.conn);
		if (rv < 0)
			snprintf(msg, sizeof(msg), "CT %u: the worker cannot connect to pmxfs: %s",
			         ctid, strerror(-rv));
		else if ((rv = ctm_ctx_init(&ctx, msg)) == 0)
			rv = ctm_agent_execute(&ctx, req->data ? req->data : "", msg);
		memcpy(w->buf, &rv, sizeof(rv));
		snprintf(w->buf + sizeof(rv), CONF_ERRMSG_SIZE, "%s", msg);
		pfs_disconnect(ctx.conn);
		_exit(write(fds[1], w->buf, sizeof(w->buf)) == (ssize_t)sizeof(w->buf) ? 0 : 1);
	}
	close(fds[1]);
	/* Non-blocking, because a readiness seen by poll may be stale. */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	w->fd = fds[0];
	w->ctid = ctid;
	w->handle = req->handle;
	snprintf(w->origin, sizeof(w->origin), "%s", req->origin_name);
	a->nworkers++;
	pfs_log(DEBUG, "request %llu runs in worker %d", (unsigned long long)req->handle,
	        (int)w->pid);
	return true;
}

/* Start the first queued requests whose container has no worker. */
static void queue_run(struct agent *a)
{
	struct queued **pp = &a->queue;

	while (*pp && a->nworkers < CTMGRD_MAX_WORKERS) {
		struct queued *q = *pp;

		if (ctid_busy(a, q->ctid)) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		worker_spawn(a, &q->req, q->ctid);
		pfs_node_request_clear(&q->req);
		free(q);
	}
}

/* Read the result of worker I from its pipe. Once the record is complete
 * or the pipe ends, reply, reap the worker and start queued requests. */
static void worker_read(struct agent *a, size_t i)
{
	struct worker *w = &a->workers[i];
	char msg[CONF_ERRMSG_SIZE];
	int rv = -EIO, status;
	ssize_t r;

	r = read(w->fd, w->buf + w->got, sizeof(w->buf) - w->got);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r > 0) {
		w->got += (size_t)r;
		if (w->got < sizeof(w->buf))
			return;
	}
	if (w->got == sizeof(w->buf)) {
		memcpy(&rv, w->buf, sizeof(rv));
		w->buf[sizeof(w->buf) - 1] = '\0';
		snprintf(msg, sizeof(msg), "%s", w->buf + sizeof(rv));
	} else {
		snprintf(msg, sizeof(msg), "CT %u: the worker process of the request died",
		         w->ctid);
	}
	close(w->fd);
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	agent_reply(a, w->handle, w->origin, rv, msg);
	a->workers[i] = a->workers[--a->nworkers];
	agent_refresh(a, false);
	queue_run(a);
}

/* Drop the announced transfers of CTID (any when 0) with TOKEN (any when
 * NULL). With EXPIRED_ONLY, drop only those whose deadline passed, logging each. */
static void expects_drop(struct agent *a, unsigned ctid, const char *token, bool expired_only)
{
	int64_t now = now_ms();

	for (size_t i = 0; i < a->nexpects;) {
		struct ctm_migrate_expect *e = &a->expects[i];

		if ((!ctid || e->ctid == ctid) && (!token || !strcmp(e->token, token)) &&
		    (!expired_only || e->deadline_ms <= now)) {
			if (expired_only)
				pfs_log(WARN, "CT %u: no sender came for the transfer %s within %d s",
				        e->ctid, e->token, CTMGRD_RECEIVE_WAIT_MS / 1000);
			a->expects[i] = a->expects[--a->nexpects];
		} else {
			i++;
		}
	}
}

/* Read which announced transfer receiver C took, once it reported it. */
static void child_read_report(struct agent *a, struct child *c)
{
	struct ctm_migrate_expect e;
	ssize_t r;

	if (c->report_fd < 0)
		return;
	r = read(c->report_fd, &e, sizeof(e));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r == (ssize_t)sizeof(e)) {
		c->ctid = e.ctid;
		snprintf(c->name, sizeof(c->name), "%s", e.token);
		expects_drop(a, e.ctid, e.token, false);
		pfs_log(INFO, "receiver %d takes the transfer %s of CT %u", (int)c->pid, e.token,
		        e.ctid);
	}
	close(c->report_fd);
	c->report_fd = -1;
}

/* Reap migration tasks and receivers that ended. */
static void children_reap(struct agent *a)
{
	expects_drop(a, 0, NULL, true);
	for (size_t i = 0; i < a->nchildren;) {
		struct child *c = &a->children[i];
		int status;
		pid_t r;

		child_read_report(a, c);
		r = waitpid(c->pid, &status, WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			i++;
			continue;
		}
		if (c->report_fd >= 0)
			close(c->report_fd);
		if (c->receiver)
			pfs_log(INFO, "receiver %d of CT %u (token %s) ended: %s", (int)c->pid,
			        c->ctid, c->name,
			        r > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "volume "
			        "received" : "failed");
		else
			pfs_log(INFO, "task %s ended", c->name);
		a->children[i] = a->children[--a->nchildren];
	}
}

static void child_add(struct agent *a, pid_t pid, bool receiver, unsigned ctid,
                      const char *name)
{
	struct child *c = &a->children[a->nchildren++];

	c->pid = pid;
	c->receiver = receiver;
	c->ctid = ctid;
	c->report_fd = -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
}

/* A child process with a pmxfs connection of its own in CTX. */
static int child_connect(struct ctm_ctx *ctx, char *msg)
{
	int rv;

	/* Without this, the agent's service stayed registered while a task
	 * ran, so an agent restarted meanwhile could not serve. */
	pfs_forget_after_fork(ctx->conn);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	rv = pfs_connect(NULL, &ctx->conn);
	if (rv < 0)
		return ctm__error(rv, msg, "cannot connect to pmxfs: %s", strerror(-rv));
	return ctm_ctx_init(ctx, msg);
}

/* "migrate CTID TARGET RESTART TIMEOUT": start the task, reply its id. */
static int serve_migrate(struct agent *a, const char *text, char *msg)
{
	struct ctm_migrate_params p;
	char id[CTM_TASK_ID_SIZE], path[PATH_MAX], c;
	time_t start = time(NULL);
	int rv, fd, ready[2];
	ssize_t n;
	pid_t pid;

	rv = ctm_migrate_parse(text, &p, msg);
	if (rv < 0)
		return rv;
	if (a->nchildren >= CTMGRD_MAX_CHILDREN)
		return ctm__error(-EAGAIN, msg,
		                  "node %s runs %d migration tasks and transfers already: try "
		                  "again later",
		                  a->ctx.node, CTMGRD_MAX_CHILDREN);
	if (mkdir(ctm_task_dir(), 0755) < 0 && errno != EEXIST) {
		/* The parent may be missing too, as /var/log/ctmgr. */
		char parent[PATH_MAX], *slash;

		snprintf(parent, sizeof(parent), "%s", ctm_task_dir());
		slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			mkdir(parent, 0755);
		}
		if (mkdir(ctm_task_dir(), 0755) < 0 && errno != EEXIST) {
			rv = -errno;
			snprintf(msg, CONF_ERRMSG_SIZE, "cannot create the task folder %s: %s",
			         ctm_task_dir(), strerror(-rv));
			return rv;
		}
	}
	if (pipe2(ready, O_CLOEXEC) < 0) {
		rv = -errno;
		snprintf(msg, CONF_ERRMSG_SIZE, "CT %u: cannot start the migration task: %s", p.ctid,
		         strerror(-rv));
		return rv;
	}
	pid = fork();
	if (pid < 0) {
		rv = -errno;
		close(ready[0]);
		close(ready[1]);
		snprintf(msg, CONF_ERRMSG_SIZE, "CT %u: cannot start the migration task: %s", p.ctid,
		         strerror(-rv));
		return rv;
	}
	if (pid == 0) {
		struct ctm_ctx ctx = a->ctx;
		char err[CONF_ERRMSG_SIZE] = "";
		FILE *log;

		/* The task holds the lock of its log while it runs; a later
		 * agent ends the log of a task whose lock is free. */
		close(ready[0]);
		ctm_task_id(id, a->ctx.node, getpid(), start, p.ctid);
		fd = ctm_task_log_create(id);
		log = fd >= 0 ? fdopen(fd, "a") : NULL;
		if (!log || write(ready[1], "1", 1) != 1)
			_exit(1);
		close(ready[1]);
		rv = child_connect(&ctx, err);
		if (rv == 0)
			rv = ctm_migrate_run(&ctx, &p, log, err);
		if (rv < 0)
			fprintf(log, "TASK ERROR: %s\n", err);
		else
			fprintf(log, "TASK OK\n");
		fclose(log);
		pfs_disconnect(ctx.conn);
		_exit(rv < 0 ? 1 : 0);
	}
	ctm_task_id(id, a->ctx.node, pid, start, p.ctid);
	close(ready[1]);
	/* Reply once the task holds its lock, so no tasklog request finds
	 * the new log unlocked and ends it. */
	do
		n = read(ready[0], &c, 1);
	while (n < 0 && errno == EINTR);
	close(ready[0]);
	child_add(a, pid, false, p.ctid, id);
	if (n != 1) {
		snprintf(path, sizeof(path), "%s/%s", ctm_task_dir(), id);
		return ctm__error(-EIO, msg, "CT %u: the migration task cannot create its log %s",
		                  p.ctid, path);
	}
	pfs_log(INFO, "task %s: migrate CT %u to node %s%s", id, p.ctid, p.target,
	        p.restart ? " with restart" : "");
	snprintf(msg, CONF_ERRMSG_SIZE, "%s", id);
	return 0;
}

/* "tasklog ID OFFSET": reply "NEXT DONE STATUS" and a slice of the log. */
static void serve_tasklog(struct agent *a, struct pfs_node_request *req)
{
	char id[CTM_TASK_ID_SIZE], msg[CONF_ERRMSG_SIZE], *data = NULL, *out;
	unsigned long long offset = 0;
	bool done = false;
	size_t len = 0;
	int status = 0, rv, n;
	uint64_t off = 0;

	if (ctm_migrate_parse_tasklog(req->data, id, &off, msg) < 0) {
		agent_reply(a, req->handle, req->origin_name, -EINVAL, msg);
		return;
	}
	offset = off;
	/* A task killed with its agent never writes its final line. */
	if (ctm_task_end_orphan(id, msg) == 1)
		pfs_log(WARN, "task %s: its process ended without a result: ended its log", id);
	rv = ctm_task_read(id, offset, &data, &len, &done, &status, msg);
	if (rv < 0) {
		agent_reply(a, req->handle, req->origin_name, rv, msg);
		return;
	}
	out = malloc(len + 64);
	if (!out) {
		free(data);
		agent_reply(a, req->handle, req->origin_name, -ENOMEM, "out of memory");
		return;
	}
	n = snprintf(out, 64, "%llu %d %d\n", offset + len, done ? 1 : 0, status);
	memcpy(out + n, data, len);
	free(data);
	rv = pfs_node_reply(a->ctx.conn, req->handle, 0, out, (size_t)n + len);
	if (rv < 0)
		pfs_log(WARN, "the reply to request %llu from node %s was lost: %s",
		        (unsigned long long)req->handle, req->origin_name, strerror(-rv));
	free(out);
}

/*
 * "expect CTID TOKEN STORAGE": note the transfer. The agent accepts every
 * connection on its listener and hands it to a receiver process
 * (agent_accept()), which takes the transfer whose CTID and token its
 * header names, so concurrent migrations to this node never take each
 * other's senders.
 */
static int serve_expect(struct agent *a, const char *text, char *msg)
{
	struct ctm_migrate_expect e;
	int rv;

	rv = ctm_migrate_parse_expect(text, &e, msg);
	if (rv < 0)
		return rv;
	if (!a->xfer)
		return ctm__error(-EAGAIN, msg,
		                  "the transfer listener of node %s does not run: see the log of "
		                  "its ctmgrd",
		                  a->ctx.node);
	expects_drop(a, 0, NULL, true);
	for (size_t i = 0; i < a->nexpects; i++)
		if (a->expects[i].ctid == e.ctid && !strcmp(a->expects[i].token, e.token))
			return ctm__error(-EEXIST, msg, "CT %u: the transfer %s is expected already",
			                  e.ctid, e.token);
	if (a->nexpects >= CTMGRD_MAX_CHILDREN)
		return ctm__error(-EAGAIN, msg,
		                  "node %s receives too many transfers: try again later",
		                  a->ctx.node);
	e.deadline_ms = now_ms() + CTMGRD_RECEIVE_WAIT_MS;
	a->expects[a->nexpects++] = e;
	snprintf(msg, CONF_ERRMSG_SIZE, "node %s expects the transfer %s of CT %u", a->ctx.node,
	         e.token, e.ctid);
	return 0;
}

/* Hand every connection waiting on the transfer listener to a receiver. */
static void agent_accept(struct agent *a)
{
	char xmsg[CTM_XFER_ERRMSG_SIZE];
	int fd, pipefd[2], rv;
	pid_t pid;

	while ((rv = ctm_xfer_server_accept(a->xfer, &fd, xmsg)) == 0) {
		if (a->nchildren >= CTMGRD_MAX_CHILDREN) {
			pfs_log(WARN, "refused a transfer connection: %d receivers and tasks run",
			        CTMGRD_MAX_CHILDREN);
			close(fd);
			continue;
		}
		if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
			pfs_log(WARN, "refused a transfer connection: cannot make a pipe: %s",
			        strerror(errno));
			close(fd);
			continue;
		}
		pid = fork();
		if (pid < 0) {
			pfs_log(WARN, "refused a transfer connection: cannot fork: %s",
			        strerror(errno));
			close(fd);
			close(pipefd[0]);
			close(pipefd[1]);
			continue;
		}
		if (pid == 0) {
			struct ctm_ctx ctx = a->ctx;
			char err[CONF_ERRMSG_SIZE] = "";

			/* A receiver dies with its agent, whose start cleans .incoming. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(1);
			close(pipefd[0]);
			rv = child_connect(&ctx, err);
			if (rv == 0)
				rv = ctm_migrate_receive_fd(&ctx, a->xfer, fd, a->expects, a->nexpects,
				                            pipefd[1], err);
			else
				close(fd);
			if (rv < 0)
				pfs_log(WARN, "receiving a transfer failed: %s", err);
			else
				pfs_log(INFO, "received a transfer");
			pfs_disconnect(ctx.conn);
			_exit(rv < 0 ? 1 : 0);
		}
		close(fd);
		close(pipefd[1]);
		child_add(a, pid, true, 0, "?");
		a->children[a->nchildren - 1].report_fd = pipefd[0];
	}
	if (rv != -EAGAIN)
		pfs_log(WARN, "%s", xmsg);
}

/* "abort CTID STORAGE VOLUME": stop the receivers of CTID, remove VOLUME. */
static int serve_abort(struct agent *a, const char *text, char *msg)
{
	char storage[64], volume[CTM_XFER_VOLUME_MAX + 1];
	unsigned ctid = 0;
	int rv;

	rv = ctm_migrate_parse_volume(text, "abort", &ctid, storage, volume, msg);
	if (rv < 0)
		return rv;
	expects_drop(a, ctid, NULL, false);
	for (size_t i = 0; i < a->nchildren; i++) {
		child_read_report(a, &a->children[i]);
		if (a->children[i].receiver && a->children[i].ctid == ctid)
			kill(a->children[i].pid, SIGKILL);
	}
	return ctm_migrate_abort(&a->ctx, ctid, storage, volume, msg);
}

/* "place CTID STORAGE FOLDER": move received raw images into place. */
static int serve_place(struct agent *a, const char *text, char *msg)
{
	char storage[64], folder[CTM_XFER_VOLUME_MAX + 1];
	unsigned ctid = 0;
	int rv;

	rv = ctm_migrate_parse_volume(text, "place", &ctid, storage, folder, msg);
	if (rv < 0)
		return rv;
	return ctm_migrate_place(&a->ctx, ctid, storage, folder, msg);
}

static void agent_serve(struct agent *a, struct pfs_node_request *req)
{
	char msg[CONF_ERRMSG_SIZE], verb[16] = "";
	struct ctm_agent_request ar;
	unsigned ctid = 0;
	int rv;

	/* `ctmgr list` pings each node's agent: reply at once, logging at debug level only. */
	if (req->data && !strcmp(req->data, CTM_AGENT_PING)) {
		pfs_log(DEBUG, "ping %llu from node %s", (unsigned long long)req->handle,
		        req->origin_name);
		rv = pfs_node_reply(a->ctx.conn, req->handle, 0, "ctmgrd runs", 11);
		if (rv < 0)
			pfs_log(WARN, "the reply to ping %llu from node %s was lost: %s",
			        (unsigned long long)req->handle, req->origin_name, strerror(-rv));
		return;
	}
	pfs_log(INFO, "request %llu from node %s: %s", (unsigned long long)req->handle,
	        req->origin_name, req->data ? req->data : "");
	if (req->data)
		snprintf(verb, sizeof(verb), "%.*s", (int)strcspn(req->data, " "), req->data);
	if (req->data && ctm_agent_parse(req->data, &ar, msg) == 0 &&
	    (ctid = ar.ctid) && strcmp(ar.verb, "status")) {
		struct queued *q = calloc(1, sizeof(*q)), **pp = &a->queue;

		if (q) {
			q->req = *req;
			q->ctid = ctid;
			memset(req, 0, sizeof(*req)); /* the queue owns the payload now */
			while (*pp)
				pp = &(*pp)->next;
			*pp = q;
			if (ctid_busy(a, ctid) || a->nworkers >= CTMGRD_MAX_WORKERS)
				pfs_log(INFO, "request %llu waits for the running request of CT %u",
				        (unsigned long long)q->req.handle, ctid);
			queue_run(a);
			return;
		}
	}
	/* The other requests are quick, so the reply goes out here. */
	if (!strcmp(verb, "tasklog")) {
		serve_tasklog(a, req);
		return;
	}
	if (!strcmp(verb, "migrate"))
		rv = serve_migrate(a, req->data, msg);
	else if (!strcmp(verb, "expect"))
		rv = serve_expect(a, req->data, msg);
	else if (!strcmp(verb, "abort"))
		rv = serve_abort(a, req->data, msg);
	else if (!strcmp(verb, "place"))
		rv = serve_place(a, req->data, msg);
	else
		rv = ctm_agent_execute(&a->ctx, req->data ? req->data : "", msg);
	agent_reply(a, req->handle, req->origin_name, rv, msg);
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

/* End the logs of the tasks that a killed agent left without a final
 * line, so that `ctmgr migrate` following one stops. */
static void agent_end_orphans(void)
{
	char errmsg[CONF_ERRMSG_SIZE];
	unsigned ended = 0;

	if (ctm_task_end_orphans(&ended, errmsg) < 0)
		pfs_log(WARN, "checking the task logs failed: %s", errmsg);
	if (ended)
		pfs_log(WARN, "ended the log of %u %s whose process ended without a result",
		        ended, ended == 1 ? "task" : "tasks");
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
	agent_end_orphans();
	if (agent_connect(&a) < 0)
		goto out;
	while (!stopping) {
		struct pollfd fds[CTMGRD_MAX_WORKERS + 2];
		struct pfs_node_request req = {0};
		size_t nfds = 0, first_worker, listener = SIZE_MAX;

		if (now_ms() >= a.next_refresh)
			agent_refresh(&a, true);
		agent_startall_step(&a);
		if (pfs_event_fd(a.ctx.conn, &fds[0].fd) == 0)
			fds[nfds++].events = POLLIN;
		if (a.xfer) {
			listener = nfds;
			fds[nfds].fd = ctm_xfer_server_fd(a.xfer);
			fds[nfds++].events = POLLIN;
		}
		first_worker = nfds;
		for (size_t i = 0; i < a.nworkers; i++) {
			fds[nfds].fd = a.workers[i].fd;
			fds[nfds++].events = POLLIN;
		}
		if (poll(fds, nfds, (int)wait_ms(&a)) < 0 && errno != EINTR)
			pfs_log(ERR, "poll failed: %s", strerror(errno));
		children_reap(&a);
		if (listener != SIZE_MAX && (fds[listener].revents & POLLIN))
			agent_accept(&a);
		/* Workers first. Reaping one may start another, even on the same
		 * descriptor number, so each is found again by its descriptor. */
		for (size_t k = first_worker; k < nfds; k++) {
			if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (size_t i = 0; i < a.nworkers; i++) {
				if (a.workers[i].fd == fds[k].fd) {
					worker_read(&a, i);
					break;
				}
			}
		}
		/* Every request that arrived, without waiting. */
		while ((rv = pfs_next_node_request(a.ctx.conn, &req, 0)) == 0) {
			agent_serve(&a, &req);
			pfs_node_request_clear(&req);
		}
		if (rv != -ETIMEDOUT && !stopping) {
			pfs_log(ERR, "reading requests from pmxfs failed: %s; reconnecting",
			        strerror(-rv));
			pfs_disconnect(a.ctx.conn);
			a.ctx.conn = NULL;
			if (agent_connect(&a) < 0)
				break;
		}
	}
out:
	pfs_log(INFO, "ctmgrd stopping, %zu requests running and their replies lost",
	        a.nworkers);
	while (a.queue) {
		struct queued *q = a.queue;

		a.queue = q->next;
		pfs_node_request_clear(&q->req);
		free(q);
	}
	free(a.boot);
	free(a.published);
	ctm_xfer_server_free(a.xfer);
	pfs_disconnect(a.ctx.conn);
	qb_log_fini();
	return 0;
}
