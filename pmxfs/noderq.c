/* pfs_noderq: node-addressed requests and replies (see noderq.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pmxfs/log.h"
#include "pmxfs/noderq.h"
#include "pmxfs/tree.h"

/* A registered service. */
struct agent {
	struct agent *next;
	void *ctx;
	char service[PFS_MAX_SERVICE + 1];
};

/* A request of this node's client, waiting for its result. */
struct outgoing {
	struct outgoing *next;
	struct pfs_noderq *nrq;
	uint64_t id;
	uint32_t target;
	void *client;
	char service[PFS_MAX_SERVICE + 1];
	uint32_t timeout_ms;
	uint64_t sent_ms;
	qb_loop_timer_handle timer;
	bool timer_armed;
};

/* A request handed to this node's agent, waiting for its reply. */
struct incoming {
	struct incoming *next;
	struct pfs_noderq *nrq;
	uint64_t handle;
	uint64_t request_id;
	uint32_t origin;
	void *agent;
	char service[PFS_MAX_SERVICE + 1];
	qb_loop_timer_handle timer;
	bool timer_armed;
};

struct pfs_noderq {
	qb_loop_t *loop;
	uint32_t node_id;
	char node_name[PFS_NODE_NAME_SIZE];
	pfs_noderq_send_fn send;
	void *send_impl;
	struct pfs_noderq_hooks hooks;
	void *hooks_ctx;

	struct pfs_node_info *config; /* the node list as given */
	size_t nconfig;
	uint32_t *members;
	size_t nmembers;
	struct pfs_node_view *view;   /* config plus unlisted members, by id */
	size_t nview;

	struct agent *agents;
	struct outgoing *out;
	struct incoming *in;
	uint64_t next_id, next_handle;
	struct pfs_noderq_stats stats;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Nodes and members ----------------------------------------------------------- */

static bool is_member(const struct pfs_noderq *nrq, uint32_t id)
{
	if (id == nrq->node_id)
		return true;
	for (size_t i = 0; i < nrq->nmembers; i++)
		if (nrq->members[i] == id)
			return true;
	return false;
}

static const struct pfs_node_view *view_of(const struct pfs_noderq *nrq, uint32_t id)
{
	for (size_t i = 0; i < nrq->nview; i++)
		if (nrq->view[i].info.id == id)
			return &nrq->view[i];
	return NULL;
}

/* A node's name for messages: its listed name, else its id. */
static const char *name_of(const struct pfs_noderq *nrq, uint32_t id, char buf[16])
{
	const struct pfs_node_view *v = view_of(nrq, id);

	if (v)
		return v->info.name;
	snprintf(buf, 16, "%" PRIu32, id);
	return buf;
}

static int cmp_view(const void *a, const void *b)
{
	const struct pfs_node_view *x = a, *y = b;

	return x->info.id < y->info.id ? -1 : x->info.id > y->info.id;
}

static bool listed(const struct pfs_node_view *view, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (view[i].info.id == id)
			return true;
	return false;
}

/* The node list plus this node plus members missing from the list. */
static int rebuild_view(struct pfs_noderq *nrq)
{
	size_t cap = nrq->nconfig + nrq->nmembers + 1, n = 0;
	struct pfs_node_view *view = calloc(cap, sizeof(*view));

	if (!view)
		return -ENOMEM;
	for (size_t i = 0; i < nrq->nconfig; i++) {
		if (listed(view, n, nrq->config[i].id))
			continue;
		view[n].info = nrq->config[i];
		if (view[n].info.id == nrq->node_id)
			snprintf(view[n].info.name, sizeof(view[n].info.name), "%s", nrq->node_name);
		n++;
	}
	if (!listed(view, n, nrq->node_id)) {
		view[n].info.id = nrq->node_id;
		snprintf(view[n].info.name, sizeof(view[n].info.name), "%s", nrq->node_name);
		n++;
	}
	for (size_t i = 0; i < nrq->nmembers; i++) {
		if (listed(view, n, nrq->members[i]))
			continue;
		view[n].info.id = nrq->members[i];
		snprintf(view[n].info.name, sizeof(view[n].info.name), "%" PRIu32, nrq->members[i]);
		n++;
	}
	for (size_t i = 0; i < n; i++)
		view[i].online = is_member(nrq, view[i].info.id);
	qsort(view, n, sizeof(*view), cmp_view);
	free(nrq->view);
	nrq->view = view;
	nrq->nview = n;
	if (nrq->hooks.nodes_changed)
		nrq->hooks.nodes_changed(nrq->hooks_ctx);
	return 0;
}

const struct pfs_node_view *pfs_noderq_nodes(const struct pfs_noderq *nrq, size_t *count)
{
	*count = nrq->nview;
	return nrq->view;
}

/* Find node by name, then as a decimal node id. */
static int resolve(const struct pfs_noderq *nrq, const char *node, uint32_t *id, char *errmsg)
{
	unsigned long long v;
	char *end;

	for (size_t i = 0; i < nrq->nview; i++) {
		if (!strcmp(nrq->view[i].info.name, node)) {
			*id = nrq->view[i].info.id;
			return 0;
		}
	}
	if (node[0] >= '0' && node[0] <= '9') {
		errno = 0;
		v = strtoull(node, &end, 10);
		if (!errno && !*end && v > 0 && v <= UINT32_MAX && view_of(nrq, (uint32_t)v)) {
			*id = (uint32_t)v;
			return 0;
		}
	}
	snprintf(errmsg, PFS_ERRMSG_SIZE,
		 "unknown node '%.64s': it is neither a name nor an id in the corosync nodelist",
		 node);
	return -ENXIO;
}

int pfs_noderq_set_nodes(struct pfs_noderq *nrq, const struct pfs_node_info *nodes, size_t count)
{
	struct pfs_node_info *copy = NULL, *old = nrq->config;
	size_t nold = nrq->nconfig;
	int rv;

	if (count) {
		copy = malloc(count * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, nodes, count * sizeof(*copy));
	}
	nrq->config = copy;
	nrq->nconfig = count;
	rv = rebuild_view(nrq);
	if (rv < 0) {
		nrq->config = old;
		nrq->nconfig = nold;
		free(copy);
		return rv;
	}
	free(old);
	return 0;
}

/* Results for this node's clients ------------------------------------------------ */

static void unlink_outgoing(struct pfs_noderq *nrq, struct outgoing *o)
{
	struct outgoing **pp;

	for (pp = &nrq->out; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	if (o->timer_armed)
		qb_loop_timer_del(nrq->loop, o->timer);
	o->timer_armed = false;
}

/* Give o its one result and free it. */
static void finish(struct pfs_noderq *nrq, struct outgoing *o, const struct pfs_noderq_result *res)
{
	char buf[16];

	unlink_outgoing(nrq, o);
	if (res->rc == 0) {
		nrq->stats.answered++;
		pfs_log(INFO, "node request %" PRIu64 " to node %s for service '%s' answered with "
			"status %" PRId32 " and %" PRIu32 " bytes after %" PRIu64 " ms", o->id,
			name_of(nrq, o->target, buf), o->service, res->status, res->data_len,
			mono_ms() - o->sent_ms);
	} else {
		nrq->stats.failed++;
		pfs_log(WARN, "node request %" PRIu64 " to node %s for service '%s' failed: %s",
			o->id, name_of(nrq, o->target, buf), o->service, res->errmsg);
	}
	if (o->client && nrq->hooks.done)
		nrq->hooks.done(nrq->hooks_ctx, o->client, res);
	free(o);
}

static void fail_outgoing(struct pfs_noderq *nrq, struct outgoing *o, int rc, const char *errmsg)
{
	struct pfs_noderq_result res = {0};

	res.rc = rc;
	res.errmsg = errmsg;
	finish(nrq, o, &res);
}

static void outgoing_timeout(void *data)
{
	struct outgoing *o = data;
	char msg[PFS_ERRMSG_SIZE], buf[16];

	o->timer_armed = false;
	snprintf(msg, sizeof(msg), "node %s did not reply within %" PRIu32 " ms; the agent of "
		 "service '%s' may still act on the request", name_of(o->nrq, o->target, buf),
		 o->timeout_ms, o->service);
	fail_outgoing(o->nrq, o, -ETIMEDOUT, msg);
}

static struct outgoing *find_outgoing(struct pfs_noderq *nrq, uint64_t id, uint32_t target)
{
	for (struct outgoing *o = nrq->out; o; o = o->next)
		if (o->id == id && o->target == target)
			return o;
	return NULL;
}

/* A reply from sender to the request id of this node. */
static void on_reply(struct pfs_noderq *nrq, uint32_t sender, const struct pfs_msg *msg)
{
	struct outgoing *o = find_outgoing(nrq, msg->request_id, sender);
	struct pfs_noderq_result res = {0};
	char errmsg[PFS_ERRMSG_SIZE];

	if (!o) {
		pfs_log(DEBUG, "reply of node %" PRIu32 " to node request %" PRIu64 " ignored: "
			"it is no longer pending", sender, msg->request_id);
		return;
	}
	res.rc = msg->result;
	res.status = msg->status;
	if (res.rc < 0) {
		snprintf(errmsg, sizeof(errmsg), "%.*s", (int)msg->data_len,
			 msg->data ? msg->data : "");
		res.errmsg = errmsg;
	} else {
		res.data = msg->data;
		res.data_len = msg->data_len;
	}
	finish(nrq, o, &res);
}

/* Requests for this node's agents ------------------------------------------------ */

/* Send a reply to the request id of node origin (this node: hand it over). */
static void send_reply(struct pfs_noderq *nrq, uint32_t origin, uint64_t request_id, int result,
		       int32_t status, const void *data, uint32_t len)
{
	struct pfs_msg msg = {0};
	uint8_t *buf = NULL;
	size_t buf_len = 0;
	int rv;

	msg.type = PFS_MSG_NODE_REPLY;
	msg.writer = nrq->node_id;
	msg.mtime = (uint32_t)time(NULL);
	msg.request_id = request_id;
	msg.node = origin;
	msg.result = result;
	msg.status = result < 0 ? 0 : status;
	msg.data = data;
	msg.data_len = len;
	if (origin == nrq->node_id) {
		on_reply(nrq, nrq->node_id, &msg);
		return;
	}
	rv = pfs_msg_encode(&msg, &buf, &buf_len);
	if (rv == 0)
		rv = nrq->send ? nrq->send(nrq->send_impl, buf, buf_len) : -ENOTCONN;
	free(buf);
	if (rv < 0)
		pfs_log(WARN, "sending the reply to node request %" PRIu64 " of node %" PRIu32
			" failed: %s", request_id, origin, strerror(-rv));
}

/* Send an error reply whose message is errmsg. */
static void send_error(struct pfs_noderq *nrq, uint32_t origin, uint64_t request_id, int rc,
		       const char *errmsg)
{
	send_reply(nrq, origin, request_id, rc, 0, errmsg, (uint32_t)strlen(errmsg));
}

static void unlink_incoming(struct pfs_noderq *nrq, struct incoming *in)
{
	struct incoming **pp;

	for (pp = &nrq->in; *pp; pp = &(*pp)->next) {
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	}
	if (in->timer_armed)
		qb_loop_timer_del(nrq->loop, in->timer);
	in->timer_armed = false;
}

/* The requester gave up by now: forget the request. */
static void incoming_timeout(void *data)
{
	struct incoming *in = data;
	char buf[16];

	in->timer_armed = false;
	pfs_log(WARN, "node request %" PRIu64 " of node %s for service '%s' (handle %" PRIu64
		") timed out before the agent replied", in->request_id,
		name_of(in->nrq, in->origin, buf), in->service, in->handle);
	unlink_incoming(in->nrq, in);
	free(in);
}

static struct agent *agent_of(const struct pfs_noderq *nrq, const char *service)
{
	for (struct agent *a = nrq->agents; a; a = a->next)
		if (!strcmp(a->service, service))
			return a;
	return NULL;
}

/* A request of node origin for one of this node's services. */
static void on_request(struct pfs_noderq *nrq, uint32_t origin, const struct pfs_msg *msg)
{
	struct pfs_noderq_request req = {0};
	struct agent *a = agent_of(nrq, msg->path);
	struct incoming *in;
	char errmsg[PFS_ERRMSG_SIZE], buf[16];
	int rv;

	if (!a) {
		snprintf(errmsg, sizeof(errmsg), "no agent is registered for service '%s' on node %s",
			 msg->path, nrq->node_name);
		pfs_log(WARN, "node request %" PRIu64 " of node %s rejected: %s", msg->request_id,
			name_of(nrq, origin, buf), errmsg);
		send_error(nrq, origin, msg->request_id, -ENOENT, errmsg);
		return;
	}
	in = calloc(1, sizeof(*in));
	if (!in) {
		pfs_log(ERR, "node request %" PRIu64 " of node %s rejected: out of memory",
			msg->request_id, name_of(nrq, origin, buf));
		send_error(nrq, origin, msg->request_id, -ENOMEM, "the target node is out of memory");
		return;
	}
	in->nrq = nrq;
	in->handle = nrq->next_handle++;
	in->request_id = msg->request_id;
	in->origin = origin;
	in->agent = a->ctx;
	snprintf(in->service, sizeof(in->service), "%s", msg->path);
	if (nrq->loop && qb_loop_timer_add(nrq->loop, QB_LOOP_MED,
					   (uint64_t)msg->timeout_ms * 1000000ull, in,
					   incoming_timeout, &in->timer) == 0)
		in->timer_armed = true;
	in->next = nrq->in;
	nrq->in = in;

	req.handle = in->handle;
	req.request_id = in->request_id;
	req.origin = origin;
	req.origin_name = name_of(nrq, origin, buf);
	req.service = in->service;
	req.data = msg->data;
	req.data_len = msg->data_len;
	req.timeout_ms = msg->timeout_ms;
	rv = nrq->hooks.deliver ? nrq->hooks.deliver(nrq->hooks_ctx, a->ctx, &req) : -ENOTCONN;
	if (rv < 0) {
		snprintf(errmsg, sizeof(errmsg), "the agent of service '%s' on node %s %s",
			 in->service, nrq->node_name,
			 rv == -EAGAIN ? "is not reading its requests (its event channel is full)"
				       : "cannot take the request");
		unlink_incoming(nrq, in);
		free(in);
		pfs_log(WARN, "node request %" PRIu64 " of node %s: %s (%s)", req.request_id,
			req.origin_name, errmsg, strerror(-rv));
		send_error(nrq, origin, req.request_id, rv == -EAGAIN ? -EBUSY : -ECONNRESET,
			   errmsg);
		return;
	}
	nrq->stats.served++;
	pfs_log(INFO, "node request %" PRIu64 " of node %s for service '%s' handed to its agent "
		"as handle %" PRIu64 " (%" PRIu32 " bytes)", req.request_id, req.origin_name,
		req.service, req.handle, req.data_len);
}

void pfs_noderq_deliver(struct pfs_noderq *nrq, uint32_t sender, const uint8_t *buf, size_t len)
{
	struct pfs_msg msg;
	int rv = pfs_msg_decode(buf, len, &msg);

	if (rv < 0) {
		nrq->stats.bad++;
		pfs_log(WARN, "node message of %zu bytes from node %" PRIu32 " is malformed and "
			"dropped: %s", len, sender, strerror(-rv));
		return;
	}
	if (msg.writer != sender) {
		nrq->stats.bad++;
		pfs_log(WARN, "node message from node %" PRIu32 " claims writer %" PRIu32
			" and is dropped", sender, msg.writer);
	} else if (msg.node != nrq->node_id) {
		/* Addressed to another member. */
	} else if (msg.type == PFS_MSG_NODE_REQUEST) {
		on_request(nrq, sender, &msg);
	} else if (msg.type == PFS_MSG_NODE_REPLY) {
		on_reply(nrq, sender, &msg);
	}
	pfs_msg_clear(&msg);
}

/* The API of the daemon's clients ------------------------------------------------ */

static int check_service(const char *service, char *errmsg)
{
	if (pfs_service_name_valid(service, strlen(service)))
		return 0;
	snprintf(errmsg, PFS_ERRMSG_SIZE, "invalid service name '%.64s': use 1 to %d letters, "
		 "digits, '.', '_' or '-'", service, PFS_MAX_SERVICE);
	return -EINVAL;
}

int pfs_noderq_register(struct pfs_noderq *nrq, void *agent, const char *service, char *errmsg)
{
	struct agent *a;
	unsigned count = 0;
	int rv = check_service(service, errmsg);

	if (rv < 0)
		return rv;
	a = agent_of(nrq, service);
	if (a && a->ctx == agent)
		return 0;
	if (a) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "service '%s' already has an agent on node %s",
			 service, nrq->node_name);
		pfs_log(WARN, "agent registration rejected: %s", errmsg);
		return -EEXIST;
	}
	for (a = nrq->agents; a; a = a->next)
		count += a->ctx == agent;
	if (count >= PFS_NODERQ_MAX_SERVICES) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "this connection serves %u services already, the "
			 "maximum", PFS_NODERQ_MAX_SERVICES);
		return -ENOSPC;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "out of memory");
		return -ENOMEM;
	}
	a->ctx = agent;
	snprintf(a->service, sizeof(a->service), "%s", service);
	a->next = nrq->agents;
	nrq->agents = a;
	pfs_log(INFO, "agent registered for service '%s'", service);
	return 0;
}

/* Send the request of o to its target: through the group, or straight to
 * this node's agent. */
static int send_request(struct pfs_noderq *nrq, const struct outgoing *o, const void *data,
			uint32_t len)
{
	struct pfs_msg msg = {0};
	uint8_t *buf = NULL;
	size_t buf_len = 0;
	int rv;

	msg.type = PFS_MSG_NODE_REQUEST;
	msg.writer = nrq->node_id;
	msg.mtime = (uint32_t)time(NULL);
	msg.request_id = o->id;
	msg.node = o->target;
	msg.timeout_ms = o->timeout_ms;
	msg.path = o->service;
	msg.data = data;
	msg.data_len = len;
	if (o->target == nrq->node_id) {
		on_request(nrq, nrq->node_id, &msg);
		return 0;
	}
	if (!nrq->send)
		return -ENOTCONN;
	rv = pfs_msg_encode(&msg, &buf, &buf_len);
	if (rv == 0)
		rv = nrq->send(nrq->send_impl, buf, buf_len);
	free(buf);
	return rv;
}

static int check_request(const char *service, uint32_t len, uint32_t timeout_ms, char *errmsg)
{
	int rv = check_service(service, errmsg);

	if (rv < 0)
		return rv;
	if (len > PFS_MAX_NODE_PAYLOAD) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "request payload of %" PRIu32 " bytes is above the "
			 "limit of %u bytes", len, PFS_MAX_NODE_PAYLOAD);
		return -E2BIG;
	}
	if (timeout_ms > PFS_NODE_MAX_TIMEOUT_MS) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "request timeout %" PRIu32 " ms is above the "
			 "maximum of %u ms", timeout_ms, PFS_NODE_MAX_TIMEOUT_MS);
		return -EINVAL;
	}
	return 0;
}

int pfs_noderq_request(struct pfs_noderq *nrq, void *client, const char *node,
		       const char *service, const void *data, uint32_t len, uint32_t timeout_ms,
		       char *errmsg)
{
	struct outgoing *o;
	uint32_t target = 0;
	int rv;

	rv = check_request(service, len, timeout_ms, errmsg);
	if (rv == 0)
		rv = resolve(nrq, node, &target, errmsg);
	if (rv == 0 && !is_member(nrq, target)) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "node %.64s (id %" PRIu32 ") is not reachable: its "
			 "pmxfs is not a member of the group", node, target);
		rv = -EHOSTUNREACH;
	}
	if (rv < 0) {
		pfs_log(INFO, "node request to node %.64s for service '%.64s' rejected: %s", node,
			service, errmsg);
		return rv;
	}

	o = calloc(1, sizeof(*o));
	if (!o) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "out of memory");
		return -ENOMEM;
	}
	o->nrq = nrq;
	o->id = nrq->next_id++;
	o->target = target;
	o->client = client;
	o->timeout_ms = timeout_ms ? timeout_ms : PFS_NODE_DEFAULT_TIMEOUT_MS;
	o->sent_ms = mono_ms();
	snprintf(o->service, sizeof(o->service), "%s", service);
	if (nrq->loop && qb_loop_timer_add(nrq->loop, QB_LOOP_MED,
					   (uint64_t)o->timeout_ms * 1000000ull, o,
					   outgoing_timeout, &o->timer) == 0)
		o->timer_armed = true;
	o->next = nrq->out;
	nrq->out = o;
	nrq->stats.sent++;
	pfs_log(INFO, "node request %" PRIu64 " to node %s (id %" PRIu32 ") for service '%s' "
		"sent with %" PRIu32 " bytes, timeout %" PRIu32 " ms", o->id, node, target,
		service, len, o->timeout_ms);

	/* To this node, the result may come right here and free o. */
	rv = send_request(nrq, o, data, len);
	if (rv < 0) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot send the request to node %.64s: %s", node,
			 strerror(-rv));
		pfs_log(WARN, "node request to node %.64s for service '%.64s' failed: %s", node,
			service, errmsg);
		nrq->stats.sent--;
		unlink_outgoing(nrq, o);
		free(o);
		return rv;
	}
	return 0;
}

static struct incoming *find_incoming(struct pfs_noderq *nrq, uint64_t handle)
{
	for (struct incoming *in = nrq->in; in; in = in->next)
		if (in->handle == handle)
			return in;
	return NULL;
}

int pfs_noderq_reply(struct pfs_noderq *nrq, void *agent, uint64_t handle, int32_t status,
		     const void *data, uint32_t len, char *errmsg)
{
	struct incoming *in = find_incoming(nrq, handle);
	char buf[16];

	if (len > PFS_MAX_NODE_PAYLOAD) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "reply payload of %" PRIu32 " bytes is above the "
			 "limit of %u bytes", len, PFS_MAX_NODE_PAYLOAD);
		return -E2BIG;
	}
	if (!in) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "request handle %" PRIu64 " is not pending: it was "
			 "answered, it timed out or its requester left", handle);
		pfs_log(INFO, "agent reply dropped: %s", errmsg);
		return -ENOENT;
	}
	if (in->agent != agent) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "request handle %" PRIu64 " was handed to another "
			 "agent", handle);
		pfs_log(WARN, "agent reply rejected: %s", errmsg);
		return -EPERM;
	}
	unlink_incoming(nrq, in);
	pfs_log(INFO, "agent of service '%s' replied to node request %" PRIu64 " of node %s "
		"(handle %" PRIu64 ") with status %" PRId32 " and %" PRIu32 " bytes", in->service,
		in->request_id, name_of(nrq, in->origin, buf), handle, status, len);
	send_reply(nrq, in->origin, in->request_id, 0, status, data, len);
	free(in);
	return 0;
}

void pfs_noderq_forget(struct pfs_noderq *nrq, void *ctx)
{
	struct agent **ap = &nrq->agents;
	struct incoming **ip = &nrq->in;
	struct outgoing **op = &nrq->out;
	char errmsg[PFS_ERRMSG_SIZE];

	while (*ap) {
		struct agent *a = *ap;

		if (a->ctx != ctx) {
			ap = &a->next;
			continue;
		}
		*ap = a->next;
		pfs_log(INFO, "agent for service '%s' unregistered: its connection closed",
			a->service);
		free(a);
	}

	/* Its own requests first: an error reply below may reach the outgoing
	 * list when the agent served a request of this node. */
	while (*op) {
		struct outgoing *o = *op;

		if (o->client != ctx) {
			op = &o->next;
			continue;
		}
		*op = o->next;
		if (o->timer_armed)
			qb_loop_timer_del(nrq->loop, o->timer);
		pfs_log(INFO, "node request %" PRIu64 " for service '%s' forgotten: its client "
			"disconnected", o->id, o->service);
		free(o);
	}

	/* Unlink each one before its error reply goes out. */
	while (*ip) {
		struct incoming *in = *ip;

		if (in->agent != ctx) {
			ip = &in->next;
			continue;
		}
		*ip = in->next;
		if (in->timer_armed)
			qb_loop_timer_del(nrq->loop, in->timer);
		snprintf(errmsg, sizeof(errmsg), "the agent of service '%s' on node %s disconnected "
			 "before it replied", in->service, nrq->node_name);
		pfs_log(WARN, "node request %" PRIu64 " (handle %" PRIu64 "): %s", in->request_id,
			in->handle, errmsg);
		send_error(nrq, in->origin, in->request_id, -ECONNRESET, errmsg);
		free(in);
	}
}

/* Membership ------------------------------------------------------------------------ */

static bool in_list(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Fail the requests to nodes that are gone; drop the requests from them. */
static void drop_departed(struct pfs_noderq *nrq, const uint32_t *left, size_t nleft)
{
	struct outgoing *o, *next_o;
	struct incoming *in, *next_in;
	char errmsg[PFS_ERRMSG_SIZE], buf[16];

	for (o = nrq->out; o; o = next_o) {
		next_o = o->next;
		if (o->target == nrq->node_id ||
		    (is_member(nrq, o->target) && !in_list(left, nleft, o->target)))
			continue;
		snprintf(errmsg, sizeof(errmsg), "node %s left the group before it replied; the "
			 "agent of service '%s' may have acted on the request",
			 name_of(nrq, o->target, buf), o->service);
		fail_outgoing(nrq, o, -EINPROGRESS, errmsg);
	}
	for (in = nrq->in; in; in = next_in) {
		next_in = in->next;
		if (in->origin == nrq->node_id ||
		    (is_member(nrq, in->origin) && !in_list(left, nleft, in->origin)))
			continue;
		pfs_log(WARN, "node request %" PRIu64 " (handle %" PRIu64 ") for service '%s' "
			"dropped: its node %s left the group", in->request_id, in->handle,
			in->service, name_of(nrq, in->origin, buf));
		unlink_incoming(nrq, in);
		free(in);
	}
}

int pfs_noderq_confchg(struct pfs_noderq *nrq, const uint32_t *members, size_t count,
		       const uint32_t *left, size_t nleft)
{
	uint32_t *copy = NULL;
	int rv;

	if (count) {
		copy = malloc(count * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, members, count * sizeof(*copy));
	}
	free(nrq->members);
	nrq->members = copy;
	nrq->nmembers = count;
	rv = rebuild_view(nrq);
	drop_departed(nrq, left, nleft);
	return rv;
}

/* Setup ------------------------------------------------------------------------------ */

int pfs_noderq_new(qb_loop_t *loop, uint32_t node_id, const char *node_name,
		   struct pfs_noderq **out)
{
	struct pfs_noderq *nrq = calloc(1, sizeof(*nrq));

	if (!nrq)
		return -ENOMEM;
	nrq->loop = loop;
	nrq->node_id = node_id;
	snprintf(nrq->node_name, sizeof(nrq->node_name), "%s", node_name);
	nrq->next_id = 1;
	nrq->next_handle = 1;
	if (rebuild_view(nrq) < 0) {
		free(nrq);
		return -ENOMEM;
	}
	*out = nrq;
	return 0;
}

void pfs_noderq_free(struct pfs_noderq *nrq)
{
	if (!nrq)
		return;
	while (nrq->agents) {
		struct agent *a = nrq->agents;

		nrq->agents = a->next;
		free(a);
	}
	while (nrq->out) {
		struct outgoing *o = nrq->out;

		unlink_outgoing(nrq, o);
		free(o);
	}
	while (nrq->in) {
		struct incoming *in = nrq->in;

		unlink_incoming(nrq, in);
		free(in);
	}
	free(nrq->config);
	free(nrq->members);
	free(nrq->view);
	free(nrq);
}

void pfs_noderq_set_hooks(struct pfs_noderq *nrq, const struct pfs_noderq_hooks *hooks, void *ctx)
{
	nrq->hooks = *hooks;
	nrq->hooks_ctx = ctx;
}

void pfs_noderq_set_transport(struct pfs_noderq *nrq, pfs_noderq_send_fn send, void *impl)
{
	nrq->send = send;
	nrq->send_impl = impl;
}

void pfs_noderq_stats(const struct pfs_noderq *nrq, struct pfs_noderq_stats *stats)
{
	*stats = nrq->stats;
	stats->pending = 0;
	stats->in_progress = 0;
	for (const struct outgoing *o = nrq->out; o; o = o->next)
		stats->pending++;
	for (const struct incoming *in = nrq->in; in; in = in->next)
		stats->in_progress++;
}
