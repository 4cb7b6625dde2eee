/*
 * The node agent's operations: requests, container states, boot order.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "conf/propstr.h"
#include "ctmgr/agent.h"
#include "ctmgr/ctm_internal.h"

int ctm_agent_start(struct ctm_ctx *ctx, unsigned ctid, char *errmsg)
{
	char msg[CONF_ERRMSG_SIZE] = "", buf[sizeof(int) + CONF_ERRMSG_SIZE];
	int fds[2], rv = -EIO, status;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return ctm__error(-errno, errmsg, "CT %u: cannot make a pipe: %s", ctid,
		                  strerror(errno));
	pid = fork();
	if (pid < 0) {
		rv = -errno;
		close(fds[0]);
		close(fds[1]);
		return ctm__error(rv, errmsg, "CT %u: cannot fork: %s", ctid, strerror(-rv));
	}
	if (pid == 0) {
		struct ctm_start_params params = {0};
		struct ctm_ctx child = *ctx;

		/* The container's monitor is forked from this process, so it gets
		 * the default signal handlers, not those of ctmgrd. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		/* A connection of its own, because the parent's must stay unused. */
		rv = pfs_connect(NULL, &child.conn);
		if (rv < 0)
			ctm__error(rv, msg, "CT %u: cannot connect to pmxfs: %s", ctid,
			           strerror(-rv));
		else if ((rv = ctm_ctx_init(&child, msg)) == 0)
			rv = ctm_ct_start(&child, ctid, &params, msg);
		/* One record of a fixed size, because the container's monitor
		 * process may keep the pipe open and the parent cannot wait for EOF. */
		memcpy(buf, &rv, sizeof(rv));
		memcpy(buf + sizeof(rv), msg, sizeof(msg));
		pfs_disconnect(child.conn);
		_exit(write(fds[1], buf, sizeof(buf)) == (ssize_t)sizeof(buf) ? 0 : 1);
	}
	close(fds[1]);
	for (;;) {
		r = read(fds[0], buf + got, sizeof(buf) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(buf))
			break;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got < sizeof(buf))
		return ctm__error(-EIO, errmsg, "CT %u: the process that starts it died", ctid);
	memcpy(&rv, buf, sizeof(rv));
	buf[sizeof(buf) - 1] = '\0';
	snprintf(errmsg, CONF_ERRMSG_SIZE, "%s", buf + sizeof(rv));
	return rv;
}

int ctm_agent_split(const char *text, char *buf, char **words, size_t max, size_t *n,
                    char *errmsg)
{
	size_t len = strnlen(text, CTM_AGENT_REQUEST_MAX), count = 0;
	char *p;

	*n = 0;
	if (len == 0)
		return ctm__error(-EINVAL, errmsg, "empty request: expected VERB and its fields");
	if (len >= CTM_AGENT_REQUEST_MAX)
		return ctm__error(-EINVAL, errmsg, "request '%.32s...' is longer than %d bytes",
		                  text, CTM_AGENT_REQUEST_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			return ctm__error(-EINVAL, errmsg,
			                  "request '%.64s' has a control character at byte %zu: "
			                  "separate its fields with single spaces",
			                  text, i);
	if (text[0] == ' ' || text[len - 1] == ' ' || strstr(text, "  "))
		return ctm__error(-EINVAL, errmsg,
		                  "request '%.64s' has a leading, trailing or doubled space: "
		                  "separate its fields with single spaces",
		                  text);
	memcpy(buf, text, len + 1);
	for (p = buf; p; ) {
		char *sp = strchr(p, ' ');

		if (count == max)
			return ctm__error(-EINVAL, errmsg,
			                  "request '%.64s' has more than %zu fields", text, max);
		if (sp)
			*sp = '\0';
		words[count++] = p;
		p = sp ? sp + 1 : NULL;
	}
	*n = count;
	return 0;
}

int ctm_agent_number(const char *word, const char *name, uint64_t min, uint64_t max,
                     uint64_t *out, char *errmsg)
{
	uint64_t v = 0;
	const char *p;

	if (!word[0] || (word[0] == '0' && word[1]))
		goto bad;
	for (p = word; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	return ctm__error(-EINVAL, errmsg, "invalid %s '%.32s': use a number from %" PRIu64
	                  " to %" PRIu64,
	                  name, word, min, max);
}

int ctm_agent_parse(const char *text, struct ctm_agent_request *req, char *errmsg)
{
	char buf[CTM_AGENT_REQUEST_MAX], *w[CTM_AGENT_WORDS_MAX];
	uint64_t v;
	size_t n;
	int rv;

	memset(req, 0, sizeof(*req));
	req->timeout = 60;
	rv = ctm_agent_split(text, buf, w, CTM_AGENT_WORDS_MAX, &n, errmsg);
	if (rv < 0)
		return rv;
	if (strcmp(w[0], "start") && strcmp(w[0], "stop") && strcmp(w[0], "shutdown") &&
	    strcmp(w[0], "status"))
		return ctm__error(-EINVAL, errmsg,
		                  "unknown request '%.16s': use start, stop, shutdown or status",
		                  w[0]);
	if (n < 2 || n > 4)
		return ctm__error(-EINVAL, errmsg,
		                  "invalid request '%.64s': expected %s CTID [TIMEOUT [FORCE]]",
		                  text, w[0]);
	snprintf(req->verb, sizeof(req->verb), "%s", w[0]);
	if ((rv = ctm_agent_number(w[1], "CTID", CTM_CTID_MIN, CTM_CTID_MAX, &v, errmsg)) < 0)
		return rv;
	req->ctid = (unsigned)v;
	if (n > 2) {
		if ((rv = ctm_agent_number(w[2], "timeout", 0, UINT_MAX, &v, errmsg)) < 0)
			return rv;
		req->timeout = (unsigned)v;
	}
	if (n > 3) {
		if ((rv = ctm_agent_number(w[3], "force flag", 0, 1, &v, errmsg)) < 0)
			return rv;
		req->force = v != 0;
	}
	return 0;
}

int ctm_agent_execute(struct ctm_ctx *ctx, const char *text, char *msg)
{
	struct ctm_agent_request r;
	const char *verb = r.verb;
	unsigned ctid, timeout;
	bool force;
	int rv;

	msg[0] = '\0';
	rv = ctm_agent_parse(text, &r, msg);
	if (rv < 0)
		return rv;
	ctid = r.ctid;
	timeout = r.timeout;
	force = r.force;
	if (!strcmp(verb, "start")) {
		rv = ctm_agent_start(ctx, ctid, msg);
	} else if (!strcmp(verb, "stop")) {
		rv = ctm_ct_stop(ctx, ctid, msg);
	} else if (!strcmp(verb, "shutdown")) {
		rv = ctm_ct_shutdown(ctx, ctid, timeout, force, msg);
	} else if (!strcmp(verb, "status")) {
		struct ctm_ct *ct = NULL;
		bool running = false;

		rv = ctm_ct_load(ctx, ctid, &ct, msg);
		if (rv == 0 && strcmp(ct->node, ctx->node))
			rv = ctm__error(-EREMOTE, msg, "CT %u is on node %s, not on node %s", ctid,
			                ct->node, ctx->node);
		ctm_ct_free(ct);
		if (rv == 0)
			rv = ctm_ct_running(ctx, ctid, &running, msg);
		if (rv == 0)
			snprintf(msg, CONF_ERRMSG_SIZE, "%s", running ? "running" : "stopped");
	} else {
		return ctm__error(-EINVAL, msg,
		                  "unknown request '%.16s': use start, stop, shutdown or status",
		                  verb);
	}
	if (rv < 0 && !msg[0])
		snprintf(msg, CONF_ERRMSG_SIZE, "CT %u: %s", ctid, strerror(-rv));
	return rv;
}

int ctm_agent_forward(struct ctm_ctx *ctx, const char *node, const char *text,
                      unsigned timeout_s, int *result, char *msg)
{
	char *reply = NULL;
	size_t len = 0;
	int status = 0, rv;

	rv = pfs_node_request(ctx->conn, node, CTM_AGENT_SERVICE, text, strlen(text),
	                      timeout_s * 1000u, &status, &reply, &len);
	if (rv == -ENOENT)
		return ctm__error(-EHOSTDOWN, msg,
		                  "the agent ctmgrd does not run on node %s: start it there "
		                  "(systemctl start ctmgrd)",
		                  node);
	if (rv == -ENXIO)
		return ctm__error(rv, msg, "node %s is not in the cluster's node list", node);
	if (rv == -EHOSTUNREACH)
		return ctm__error(rv, msg, "node %s is offline: its pmxfs is not a member", node);
	if (rv < 0)
		return ctm__error(rv, msg, "the request to ctmgrd on node %s failed: %s", node,
		                  strerror(-rv));
	*result = status;
	snprintf(msg, CONF_ERRMSG_SIZE, "%.*s", (int)len, reply ? reply : "");
	free(reply);
	return 0;
}

int ctm_agent_state(struct ctm_ctx *ctx, char **out, char *errmsg)
{
	struct ctm_ct_info *infos = NULL;
	struct json_object *root;
	size_t n = 0;
	int rv;

	rv = ctm_ct_list(ctx, &infos, &n, errmsg);
	if (rv < 0)
		return rv;
	root = json_object_new_object();
	for (size_t i = 0; i < n; i++) {
		struct json_object *o;
		char id[16];
		bool running = false;

		if (strcmp(infos[i].node, ctx->node))
			continue;
		if (ctm_ct_running(ctx, infos[i].ctid, &running, NULL) < 0)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "status",
		                       json_object_new_string(running ? "running" : "stopped"));
		json_object_object_add(o, "lock", json_object_new_string(infos[i].lock));
		snprintf(id, sizeof(id), "%u", infos[i].ctid);
		json_object_object_add(root, id, o);
	}
	free(infos);
	*out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return *out ? 0 : ctm__error(-ENOMEM, errmsg, "out of memory");
}

static int boot_cmp(const void *a, const void *b)
{
	const struct ctm_boot_entry *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->ctid < y->ctid ? -1 : x->ctid > y->ctid;
}

int ctm_agent_boot_list(struct ctm_ctx *ctx, bool onboot_only, struct ctm_boot_entry **out,
                        size_t *count, char *errmsg)
{
	struct ctm_vmlist_entry *list = NULL;
	struct ctm_boot_entry *entries;
	char *text = NULL;
	size_t n = 0, m = 0;
	int rv;

	rv = pfs_get(ctx->conn, "/.vmlist", &text, NULL, NULL);
	if (rv < 0)
		return ctm__error(rv, errmsg, "reading /.vmlist from pmxfs failed: %s",
		                  strerror(-rv));
	rv = ctm_vmlist_parse(text, &list, &n);
	free(text);
	if (rv < 0)
		return ctm__error(rv, errmsg, "/.vmlist is not the JSON pmxfs writes");
	entries = calloc(n + 1, sizeof(*entries));
	if (!entries) {
		free(list);
		return ctm__error(-ENOMEM, errmsg, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct conf_startup st = {CONF_UNSET, CONF_UNSET, CONF_UNSET};
		struct ctm_boot_entry *e = &entries[m];
		char serr[CONF_ERRMSG_SIZE] = "";
		struct ctm_ct *ct = NULL;
		const char *v;

		if (!list[i].lxc || strcmp(list[i].node, ctx->node))
			continue;
		if (ctm_ct_load(ctx, list[i].ctid, &ct, serr) < 0) {
			if (ctx->warn)
				fprintf(ctx->warn, "%s\n", serr);
			continue;
		}
		v = conf_get(conf_main(ct->cf), "onboot");
		e->onboot = v && (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") ||
		                  !strcmp(v, "on"));
		v = conf_get(conf_main(ct->cf), "startup");
		if (v && conf_startup_parse(v, &st, serr) < 0) {
			if (ctx->warn)
				fprintf(ctx->warn,
				        "CT %u: the startup value '%s' is invalid (%s): starting it "
				        "last without delay\n",
				        list[i].ctid, v, serr);
			st.order = st.up = st.down = CONF_UNSET;
		}
		ctm_ct_free(ct);
		if (onboot_only && !e->onboot)
			continue;
		e->ctid = list[i].ctid;
		e->order = st.order == CONF_UNSET ? INT64_MAX : st.order;
		e->up = st.up == CONF_UNSET ? 0 : (unsigned)st.up;
		e->down = st.down == CONF_UNSET ? CTM_STOPALL_TIMEOUT : (unsigned)st.down;
		m++;
	}
	free(list);
	qsort(entries, m, sizeof(*entries), boot_cmp);
	*out = entries;
	*count = m;
	return 0;
}
