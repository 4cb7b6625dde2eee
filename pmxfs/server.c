/*
 * pfs_server: the client API over libqb IPC (see server.h and proto.h).
 *
 * Each request goes through four steps:
 *  1. pfs_request_decode() checks its sizes and fields;
 *  2. links (/local, /lxc, /qemu-server) are resolved and paths checked;
 *  3. the client's access, from the uid, gid and pid libqb takes from the
 *     socket and the supplementary groups in /proc/<pid>/status, is
 *     checked against the operation and paths;
 *  4. a handler from the dispatch table runs.
 * Reads reply at once from the committed tree. Changes go through the
 * store and get their reply after their round is committed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <json-c/json.h>
#include <qb/qbipcs.h>

#include "pmxfs/log.h"
#include "pmxfs/noderq.h"
#include "pmxfs/perm.h"
#include "pmxfs/proto.h"
#include "pmxfs/server.h"
#include "pmxfs/sync.h"
#include "pmxfs/watch.h"

#define PFS_TYPE_LINK 10
#define MAX_GROUPS 256

struct conn;

/*
 * The lease of one held lock as this node times it: from this node's
 * delivery of the grant or of the last renewal, or from the moment this
 * node first saw the lock after a start or a sync. Every node keeps one
 * for the lock list; only the timekeeper arms the timer that sends EXPIRE.
 */
struct lease_timer {
	struct lease_timer *next;
	struct pfs_server *server;
	char name[PFS_MAX_LOCK_NAME + 1];
	uint64_t token;
	uint32_t lease_ms;
	int64_t start_ns; /* CLOCK_MONOTONIC */
	bool armed;
	qb_loop_timer_handle handle;
};

/* A lock that a client of this node acquired and holds: it gets a
 * PFS_EVENT_LOCK_LOST event when the lock is lost. */
struct holder {
	struct holder *next;
	struct conn *conn;
	char name[PFS_MAX_LOCK_NAME + 1];
	uint64_t token;
};

struct pfs_server {
	qb_loop_t *loop;
	qb_ipcs_service_t *service;
	struct pfs_store *store;
	struct pfs_mirror *mirror;
	char node[64];
	gid_t reader_gid;
	struct pfs_sync *sync; /* NULL in --local mode */
	struct pfs_noderq *noderq;
	uint32_t min_lease_ms;
	struct conn *conns;
	struct lease_timer *timers;
	struct holder *holders;
	bool flush_armed;
	qb_loop_timer_handle flush_timer;
	bool bootstrap_armed;
	qb_loop_timer_handle bootstrap_timer;
	uint8_t *buf; /* response scratch buffer, PFS_IPC_MAX_MSG bytes */
};

struct conn {
	struct conn *next, *prev;
	qb_ipcs_connection_t *c;
	struct pfs_server *server;
	enum pfs_access access;
	uid_t uid;
	gid_t gid;
	pid_t pid;                   /* from the socket's credentials, 0 when unknown */
	struct pfs_watchlist watches;
	enum pfs_op op;              /* of the request waiting for its round */
	bool waiting;
	uint64_t acquire_id;         /* a queued lock ACQUIRE */
	char lock_name[PFS_MAX_LOCK_NAME + 1];
	qb_loop_timer_handle acquire_timer;
	bool timer_armed;
	qb_loop_timer_handle overflow_timer;
	bool overflow_armed;
};

/* libqb's poll handlers have no context argument. */
static qb_loop_t *ipc_loop;

/* Responses ---------------------------------------------------------------- */

static void respond(struct conn *conn, enum pfs_op op, int rc, const char *errmsg,
		    uint64_t version, uint64_t token, const void *data, size_t data_len)
{
	struct pfs_ipc_res res;
	struct iovec iov[3];
	size_t elen = errmsg && rc < 0 ? strlen(errmsg) : 0;
	ssize_t sent;

	memset(&res, 0, sizeof(res));
	res.hdr.id = (int32_t)op;
	res.hdr.size = (int32_t)(sizeof(res) + elen + data_len);
	res.hdr.error = rc;
	res.magic = PFS_IPC_MAGIC;
	res.errmsg_len = (uint32_t)elen;
	res.data_len = (uint32_t)data_len;
	if (conn->server->sync && pfs_sync_suspended(conn->server->sync))
		res.flags |= PFS_RES_STALE;
	res.version = version;
	res.token = token;
	iov[0].iov_base = &res;
	iov[0].iov_len = sizeof(res);
	iov[1].iov_base = (void *)errmsg;
	iov[1].iov_len = elen;
	iov[2].iov_base = (void *)data;
	iov[2].iov_len = data_len;
	sent = qb_ipcs_response_sendv(conn->c, iov, 3);
	if (sent < 0)
		pfs_log(WARN, "response to client %u failed: %s", (unsigned)conn->uid,
			strerror((int)-sent));
}

static void respond_error(struct conn *conn, enum pfs_op op, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void respond_error(struct conn *conn, enum pfs_op op, int rc, const char *fmt, ...)
{
	char msg[PFS_ERRMSG_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	respond(conn, op, rc, msg, 0, 0, NULL, 0);
}

static void put_stat(struct pfs_ipc_stat *out, const struct pfs_stat *st)
{
	memset(out, 0, sizeof(*out));
	out->inode = st->inode;
	out->parent = st->parent;
	out->version = st->version;
	out->writer = st->writer;
	out->mtime = st->mtime;
	out->size = st->size;
	out->type = st->type;
}

/* Reads ---------------------------------------------------------------------- */

static const struct pfs_tree *tree_of(struct conn *conn)
{
	return pfs_store_tree(conn->server->store);
}

static bool is_virtual(const char *path)
{
	return !strcmp(path, "/.members") || !strcmp(path, "/.vmlist") ||
	       !strcmp(path, "/.version");
}

/* A virtual file from the server's view: every node of the node list,
 * whether it is a member now, and quorum. */
static int server_virtual(void *ctx, const struct pfs_tree *tree, const char *name, char **json)
{
	struct pfs_server *server = ctx;
	const struct pfs_node_view *nodes;
	struct pfs_member *members;
	size_t n;
	int rv;

	nodes = pfs_noderq_nodes(server->noderq, &n);
	members = calloc(n ? n : 1, sizeof(*members));
	if (!members)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		members[i].id = nodes[i].info.id;
		members[i].name = nodes[i].info.name;
		members[i].online = nodes[i].online;
		members[i].ip = nodes[i].info.addr;
	}
	rv = pfs_tree_virtual(tree, name, server->node, members, n,
			      server->sync ? pfs_sync_writable(server->sync) : true, json);
	free(members);
	return rv;
}

static int virtual_file(struct conn *conn, const char *path, char **json)
{
	return server_virtual(conn->server, tree_of(conn), path + 1, json);
}

static void handle_get(struct conn *conn, const struct pfs_request *req)
{
	struct pfs_ipc_stat ist;
	struct pfs_stat st = {0};
	const char *data;
	char *json = NULL;
	int rv;

	if (is_virtual(req->path)) {
		rv = virtual_file(conn, req->path, &json);
		data = json;
		st.type = PFS_TYPE_FILE;
		st.version = pfs_tree_version(tree_of(conn));
		st.size = json ? (uint32_t)strlen(json) : 0;
	} else {
		rv = pfs_tree_read(tree_of(conn), req->path, &data, &st);
	}
	if (rv < 0) {
		respond_error(conn, req->op, rv, "cannot read '%s': %s", req->path, strerror(-rv));
		return;
	}
	put_stat(&ist, &st);
	memcpy(conn->server->buf, &ist, sizeof(ist));
	memcpy(conn->server->buf + sizeof(ist), data, st.size);
	respond(conn, req->op, 0, NULL, pfs_tree_version(tree_of(conn)), 0, conn->server->buf,
		sizeof(ist) + st.size);
	free(json);
}

static void handle_stat(struct conn *conn, const struct pfs_request *req)
{
	struct pfs_ipc_stat ist;
	struct pfs_stat st = {0};
	char *json = NULL;
	int rv;

	if (is_virtual(req->path)) {
		rv = virtual_file(conn, req->path, &json);
		st.type = PFS_TYPE_FILE;
		st.version = pfs_tree_version(tree_of(conn));
		st.size = json ? (uint32_t)strlen(json) : 0;
		free(json);
	} else {
		rv = pfs_tree_stat(tree_of(conn), req->path, &st);
	}
	if (rv < 0) {
		respond_error(conn, req->op, rv, "cannot stat '%s': %s", req->path, strerror(-rv));
		return;
	}
	put_stat(&ist, &st);
	respond(conn, req->op, 0, NULL, pfs_tree_version(tree_of(conn)), 0, &ist, sizeof(ist));
}

struct list_ctx {
	uint8_t *buf;
	size_t len, cap;
};

static int list_one(const char *name, const struct pfs_stat *st, void *data)
{
	struct list_ctx *ctx = data;
	uint32_t nlen = (uint32_t)strlen(name);
	struct pfs_ipc_stat ist;

	if (ctx->len + sizeof(ist) + 4 + nlen > ctx->cap)
		return -EMSGSIZE;
	put_stat(&ist, st);
	memcpy(ctx->buf + ctx->len, &ist, sizeof(ist));
	memcpy(ctx->buf + ctx->len + sizeof(ist), &nlen, 4);
	memcpy(ctx->buf + ctx->len + sizeof(ist) + 4, name, nlen);
	ctx->len += sizeof(ist) + 4 + nlen;
	return 0;
}

/* The root also lists the virtual files and the links. */
static int list_root_extras(struct conn *conn, struct list_ctx *ctx)
{
	static const char *const names[] = {".members", ".vmlist", ".version"};
	static const char *const links[] = {"local", "lxc", "qemu-server"};
	struct pfs_stat st = {0};
	int rv = 0;

	st.version = pfs_tree_version(tree_of(conn));
	st.type = PFS_TYPE_FILE;
	for (size_t i = 0; i < 3 && rv == 0; i++)
		rv = list_one(names[i], &st, ctx);
	st.type = (enum pfs_type)PFS_TYPE_LINK;
	for (size_t i = 0; i < 3 && rv == 0; i++)
		rv = list_one(links[i], &st, ctx);
	return rv;
}

/* The root's virtual files and links in byte order, for LIST_PAGE. */
static const char *const root_extras[] = {".members", ".version", ".vmlist",
					  "local", "lxc", "qemu-server"};
#define NROOT_EXTRAS 6

struct page_ctx {
	struct list_ctx out;
	const char *after;   /* list names after this one ("" for all) */
	uint32_t max;        /* 0: as many as fit */
	uint32_t count;
	bool more;
	size_t next_extra;   /* root: the next of root_extras to merge in */
	size_t nextras;      /* 0 for other directories */
	uint64_t version;
};

/* Add one entry; 1 stops the walk when the page is full. */
static int page_add(struct page_ctx *ctx, const char *name, const struct pfs_stat *st)
{
	if (ctx->max && ctx->count == ctx->max) {
		ctx->more = true;
		return 1;
	}
	if (list_one(name, st, &ctx->out) == -EMSGSIZE) {
		ctx->more = true;
		return 1;
	}
	ctx->count++;
	return 0;
}

/* Add the root's extras that sort before name (NULL: all that are left). */
static int page_extras(struct page_ctx *ctx, const char *name)
{
	struct pfs_stat st = {0};
	int rv = 0;

	st.version = ctx->version;
	while (rv == 0 && ctx->next_extra < ctx->nextras &&
	       (!name || strcmp(root_extras[ctx->next_extra], name) < 0)) {
		const char *extra = root_extras[ctx->next_extra];

		st.type = extra[0] == '.' ? PFS_TYPE_FILE : (enum pfs_type)PFS_TYPE_LINK;
		if (strcmp(extra, ctx->after) > 0)
			rv = page_add(ctx, extra, &st);
		if (rv == 0)
			ctx->next_extra++;
	}
	return rv;
}

static int page_one(const char *name, const struct pfs_stat *st, void *data)
{
	struct page_ctx *ctx = data;
	int rv;

	if (strcmp(name, ctx->after) <= 0)
		return 0;
	rv = page_extras(ctx, name);
	return rv ? rv : page_add(ctx, name, st);
}

/*
 * One page of a directory: the names after req->path2 in byte order, as
 * many as fit in a response or req->arg. Each page is read from the
 * committed tree of its moment; the next page starts after the last name
 * of this one, so a name present throughout the listing is listed once.
 */
static void handle_list_page(struct conn *conn, const struct pfs_request *req)
{
	struct page_ctx ctx = {{conn->server->buf, 0, PFS_IPC_MAX_MSG - sizeof(struct pfs_ipc_res)},
			       req->path2, req->arg, 0, false, 0, 0,
			       pfs_tree_version(tree_of(conn))};
	int rv;

	if (!strcmp(req->path, "/"))
		ctx.nextras = NROOT_EXTRAS;
	rv = pfs_tree_list(tree_of(conn), req->path, page_one, &ctx);
	if (rv == 0)
		rv = page_extras(&ctx, NULL);
	if (rv < 0) {
		respond_error(conn, req->op, rv, "cannot list '%s': %s", req->path, strerror(-rv));
		return;
	}
	respond(conn, req->op, 0, NULL, ctx.version, ctx.more ? 1 : 0, ctx.out.buf, ctx.out.len);
}

static void handle_list(struct conn *conn, const struct pfs_request *req)
{
	struct list_ctx ctx = {conn->server->buf, 0, PFS_IPC_MAX_MSG - sizeof(struct pfs_ipc_res)};
	int rv;

	rv = pfs_tree_list(tree_of(conn), req->path, list_one, &ctx);
	if (rv == 0 && !strcmp(req->path, "/"))
		rv = list_root_extras(conn, &ctx);
	if (rv == -EMSGSIZE) {
		/* LIMIT: one response contains about 1 MiB of names; clients
		 * that list larger directories use LIST_PAGE. */
		respond_error(conn, req->op, rv, "directory '%s' has too many entries to list in one response",
			      req->path);
		return;
	}
	if (rv < 0) {
		respond_error(conn, req->op, rv, "cannot list '%s': %s", req->path, strerror(-rv));
		return;
	}
	respond(conn, req->op, 0, NULL, pfs_tree_version(tree_of(conn)), 0, ctx.buf, ctx.len);
}

/* Mode, quorum and members: this node alone in --local mode, else the
 * sync state machine's view (members by node id). */
static void add_membership(const struct pfs_server *server, struct json_object *o,
			   struct json_object *members)
{
	const uint32_t *ids;
	size_t n;

	if (!server->sync) {
		json_object_object_add(o, "mode", json_object_new_string("local"));
		json_object_object_add(o, "quorate", json_object_new_boolean(1));
		json_object_array_add(members, json_object_new_string(server->node));
		json_object_object_add(o, "members", members);
		return;
	}
	json_object_object_add(o, "mode", json_object_new_string("cluster"));
	json_object_object_add(o, "quorate", json_object_new_boolean(pfs_sync_writable(server->sync)));
	if (pfs_sync_votes_short(server->sync))
		json_object_object_add(o, "quorate_reason",
				       json_object_new_string(pfs_sync_reject_why(server->sync)));
	json_object_object_add(o, "sync_state",
			       json_object_new_string(pfs_sync_state_name(pfs_sync_state(server->sync))));

	/* Out of the group after a failed write: reads come from the last
	 * stored tree and may lag behind the cluster. */
	json_object_object_add(o, "stale",
			       json_object_new_boolean(pfs_sync_suspended(server->sync) != NULL));
	if (pfs_sync_suspended(server->sync)) {
		json_object_object_add(o, "stale_reason",
				       json_object_new_string(pfs_sync_suspended(server->sync)));
		json_object_object_add(
			o, "stale_since",
			json_object_new_int64((int64_t)pfs_sync_suspended_since(server->sync)));
	}
	ids = pfs_sync_members(server->sync, &n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(members, json_object_new_int64(ids[i]));
	json_object_object_add(o, "members", members);
}

/* The counts of node-addressed requests, as "node_requests". */
static void add_node_requests(const struct pfs_server *server, struct json_object *o)
{
	struct json_object *n = json_object_new_object();
	struct pfs_noderq_stats stats;

	pfs_noderq_stats(server->noderq, &stats);
	json_object_object_add(n, "sent", json_object_new_uint64(stats.sent));
	json_object_object_add(n, "answered", json_object_new_uint64(stats.answered));
	json_object_object_add(n, "failed", json_object_new_uint64(stats.failed));
	json_object_object_add(n, "pending", json_object_new_uint64(stats.pending));
	json_object_object_add(n, "served", json_object_new_uint64(stats.served));
	json_object_object_add(n, "in_progress", json_object_new_uint64(stats.in_progress));
	json_object_object_add(n, "bad_messages", json_object_new_uint64(stats.bad));
	json_object_object_add(o, "node_requests", n);
}

static void handle_status(struct conn *conn, const struct pfs_request *req)
{
	struct json_object *o = json_object_new_object(), *members = json_object_new_array();
	struct pfs_store_stats stats;
	const char *text;

	pfs_store_stats(conn->server->store, &stats);
	json_object_object_add(o, "node", json_object_new_string(conn->server->node));
	json_object_object_add(o, "node_id",
			       json_object_new_int64(pfs_store_node_id(conn->server->store)));
	add_membership(conn->server, o, members);
	json_object_object_add(o, "version", json_object_new_uint64(pfs_tree_version(tree_of(conn))));
	json_object_object_add(o, "entries",
			       json_object_new_int64(pfs_tree_entry_count(tree_of(conn))));
	json_object_object_add(o, "bytes", json_object_new_uint64(pfs_tree_byte_count(tree_of(conn))));
	json_object_object_add(o, "rounds", json_object_new_uint64(stats.rounds));
	json_object_object_add(o, "failed_commits", json_object_new_uint64(stats.failed_commits));
	json_object_object_add(o, "mirror_mounted",
			       json_object_new_boolean(conn->server->mirror &&
						       pfs_mirror_mounted(conn->server->mirror)));
	add_node_requests(conn->server, o);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	respond(conn, req->op, 0, NULL, pfs_tree_version(tree_of(conn)), 0, text, strlen(text));
	json_object_put(o);
}

static void handle_digest(struct conn *conn, const struct pfs_request *req)
{
	char digest[65];
	int rv = pfs_tree_digest(tree_of(conn), digest);

	if (rv < 0)
		respond_error(conn, req->op, rv, "cannot compute the digest: %s", strerror(-rv));
	else
		respond(conn, req->op, 0, NULL, pfs_tree_version(tree_of(conn)), 0, digest, 64);
}

static void handle_watch(struct conn *conn, const struct pfs_request *req)
{
	int rv = req->op == PFS_OP_WATCH ? pfs_watch_add(&conn->watches, req->path)
					 : pfs_watch_remove(&conn->watches, req->path);

	if (rv < 0)
		respond_error(conn, req->op, rv, "cannot %s '%s': %s", pfs_op_name(req->op), req->path,
			      rv == -ENOSPC ? "too many watches on this connection" : strerror(-rv));
	else
		respond(conn, req->op, 0, NULL, pfs_tree_version(tree_of(conn)), 0, NULL, 0);
}

static void handle_kv_get(struct conn *conn, const struct pfs_request *req)
{
	uint32_t node = req->arg ? req->arg : pfs_store_node_id(conn->server->store);
	uint32_t len = 0;
	const char *value = pfs_tree_status_get(tree_of(conn), node, req->path, &len);

	if (!value)
		respond_error(conn, req->op, -ENOENT, "status key '%s' of node %u not found",
			      req->path, node);
	else
		respond(conn, req->op, 0, NULL, 0, 0, value, len);
}

/* Changes -------------------------------------------------------------------- */

static void holder_add(struct conn *conn, const char *name, uint64_t token);
static void holder_drop(struct conn *conn, const char *name, uint64_t token);

static void change_done(void *ctx, const struct pfs_apply_result *res)
{
	struct conn *conn = ctx;

	if (conn->timer_armed) {
		qb_loop_timer_del(conn->server->loop, conn->acquire_timer);
		conn->timer_armed = false;
	}
	conn->waiting = false;
	if (conn->op == PFS_OP_LOCK_ACQUIRE && res->rc == 0)
		holder_add(conn, conn->lock_name, res->token);
	respond(conn, conn->op, res->rc, res->errmsg, res->version, res->token, NULL, 0);
}

static const enum pfs_msg_type msg_types[PFS_OP_MAX + 1] = {
	[PFS_OP_CREATE] = PFS_MSG_CREATE,
	[PFS_OP_WRITE] = PFS_MSG_WRITE,
	[PFS_OP_DELETE] = PFS_MSG_DELETE,
	[PFS_OP_MKDIR] = PFS_MSG_MKDIR,
	[PFS_OP_RMDIR] = PFS_MSG_RMDIR,
	[PFS_OP_RENAME] = PFS_MSG_RENAME,
	[PFS_OP_LOCK_ACQUIRE] = PFS_MSG_LOCK_ACQUIRE,
	[PFS_OP_LOCK_RENEW] = PFS_MSG_LOCK_RENEW,
	[PFS_OP_LOCK_RELEASE] = PFS_MSG_LOCK_RELEASE,
	[PFS_OP_KV_SET] = PFS_MSG_STATUS_SET,
};

/* A queued ACQUIRE waited too long: withdraw it. Its reply comes back
 * through the store as -ETIMEDOUT (or a grant, if that came first). */
static void acquire_timeout(void *data)
{
	struct conn *conn = data;
	struct pfs_msg msg = {0};
	int rv;

	conn->timer_armed = false;
	msg.type = PFS_MSG_LOCK_RELEASE;
	msg.path = conn->lock_name;
	msg.waiter_id = conn->acquire_id;
	rv = pfs_store_submit(conn->server->store, &msg, NULL, NULL, NULL);
	if (rv < 0)
		pfs_log(WARN, "withdrawing the wait for lock '%s' failed: %s", conn->lock_name,
			strerror(-rv));
}

static int lock_lease(const struct pfs_server *server, uint32_t requested)
{
	if (requested == 0)
		return PFS_LOCK_DEFAULT_LEASE_MS;
	if (requested < server->min_lease_ms || requested > PFS_LOCK_MAX_LEASE_MS)
		return -EINVAL;
	return (int)requested;
}

static void handle_change(struct conn *conn, const struct pfs_request *req)
{
	struct pfs_msg msg = {0};
	struct pfs_apply_result pre;
	uint64_t id = 0;
	int rv, lease;

	msg.type = msg_types[req->op];
	msg.path = req->path;
	msg.path2 = req->path2[0] ? req->path2 : NULL;
	msg.data = req->data;
	msg.data_len = req->data_len;
	msg.flags = req->flags;
	msg.expected_version = req->expected_version;
	msg.token = req->token;
	if (req->op == PFS_OP_LOCK_ACQUIRE) {
		lease = lock_lease(conn->server, req->arg);
		if (lease < 0) {
			respond_error(conn, req->op, -EINVAL, "lease %u ms of lock '%s' is outside %u..%u ms",
				      req->arg, req->path, conn->server->min_lease_ms,
				      PFS_LOCK_MAX_LEASE_MS);
			return;
		}
		msg.lease_ms = (uint32_t)lease;
		msg.waiter_id = req->timeout_ms ? 1 : 0;
		msg.pid = conn->pid > 0 ? (uint32_t)conn->pid : 0;
		msg.node_name = conn->server->node;
		snprintf(conn->lock_name, sizeof(conn->lock_name), "%.*s", PFS_MAX_LOCK_NAME,
			 req->path);
	}

	/* A holder giving its lock up needs no loss notice, whatever the outcome. */
	if (req->op == PFS_OP_LOCK_RELEASE)
		holder_drop(conn, req->path, req->token);

	conn->op = req->op;
	conn->waiting = true;
	rv = pfs_store_submit(conn->server->store, &msg, change_done, conn, &id);
	/* Without quorum, reject a change that can never succeed with its own error. */
	if (rv == -EROFS && pfs_tree_precheck(&msg, &pre) < 0) {
		conn->waiting = false;
		pfs_log(DEBUG, "rejected the %s of '%s' from pid %d: %s", pfs_op_name(req->op),
			req->path, (int)conn->pid, pre.errmsg);
		respond_error(conn, req->op, pre.rc, "%s", pre.errmsg);
		return;
	}
	if (rv == -EROFS) {
		conn->waiting = false;
		respond_error(conn, req->op, rv, "%s",
			      conn->server->sync ? pfs_sync_reject_why(conn->server->sync)
						 : PFS_SYNC_NOT_QUORATE);
		return;
	}
	if (rv == -ENOSPC && conn->server->sync && pfs_sync_suspended(conn->server->sync)) {
		conn->waiting = false;
		respond_error(conn, req->op, rv, "%s", pfs_sync_suspended(conn->server->sync));
		return;
	}
	if (rv < 0) {
		conn->waiting = false;
		respond_error(conn, req->op, rv, "cannot send the %s of '%s': %s", pfs_op_name(req->op),
			      req->path, strerror(-rv));
		return;
	}
	if (req->op == PFS_OP_LOCK_ACQUIRE && req->timeout_ms) {
		conn->acquire_id = id;
		if (qb_loop_timer_add(conn->server->loop, QB_LOOP_MED,
				      (uint64_t)req->timeout_ms * 1000000ull, conn, acquire_timeout,
				      &conn->acquire_timer) == 0)
			conn->timer_armed = true;
	}
}

/* Node-addressed requests ---------------------------------------------------- */

static void handle_agent_register(struct conn *conn, const struct pfs_request *req)
{
	char errmsg[PFS_ERRMSG_SIZE] = "";
	int rv = pfs_noderq_register(conn->server->noderq, conn, req->path, errmsg);

	respond(conn, req->op, rv, errmsg, 0, 0, NULL, 0);
}

static void handle_node_request(struct conn *conn, const struct pfs_request *req)
{
	char errmsg[PFS_ERRMSG_SIZE] = "";
	int rv;

	/* The result may come before pfs_noderq_request() returns. */
	conn->op = req->op;
	conn->waiting = true;
	rv = pfs_noderq_request(conn->server->noderq, conn, req->path, req->path2, req->data,
				req->data_len, req->timeout_ms, errmsg);
	if (rv < 0) {
		conn->waiting = false;
		respond(conn, req->op, rv, errmsg, 0, 0, NULL, 0);
	}
}

static void handle_node_reply(struct conn *conn, const struct pfs_request *req)
{
	char errmsg[PFS_ERRMSG_SIZE] = "";
	int rv = pfs_noderq_reply(conn->server->noderq, conn, req->token, (int32_t)req->arg,
				  req->data, req->data_len, errmsg);

	respond(conn, req->op, rv, errmsg, 0, 0, NULL, 0);
}

/* Hand a request to its agent on the agent's event channel. */
static int node_deliver(void *ctx, void *agent, const struct pfs_noderq_request *req)
{
	struct conn *conn = agent;
	struct pfs_ipc_node_event ev;
	size_t slen = strlen(req->service), olen = strlen(req->origin_name);
	struct iovec iov[4];
	ssize_t sent;

	(void)ctx;
	memset(&ev, 0, sizeof(ev));
	ev.hdr.id = PFS_OP_EVENT;
	ev.hdr.size = (int32_t)(sizeof(ev) + slen + olen + req->data_len);
	ev.magic = PFS_IPC_MAGIC;
	ev.kind = PFS_EVENT_NODE_REQUEST;
	ev.handle = req->handle;
	ev.origin = req->origin;
	ev.timeout_ms = req->timeout_ms;
	ev.service_len = (uint32_t)slen;
	ev.origin_name_len = (uint32_t)olen;
	ev.data_len = req->data_len;
	iov[0] = (struct iovec){&ev, sizeof(ev)};
	iov[1] = (struct iovec){(void *)req->service, slen};
	iov[2] = (struct iovec){(void *)req->origin_name, olen};
	iov[3] = (struct iovec){(void *)req->data, req->data_len};
	sent = qb_ipcs_event_sendv(conn->c, iov, 4);
	return sent < 0 ? (int)sent : 0;
}

/* The result of a client's node request: the agent's status goes in the
 * token field. */
static void node_done(void *ctx, void *client, const struct pfs_noderq_result *res)
{
	struct conn *conn = client;

	(void)ctx;
	conn->waiting = false;
	respond(conn, PFS_OP_NODE_REQUEST, res->rc, res->errmsg, 0,
		(uint64_t)(int64_t)res->status, res->data, res->data_len);
}

static void node_list_changed(void *ctx)
{
	struct pfs_server *server = ctx;

	if (server->mirror && pfs_mirror_virtual(server->mirror, pfs_store_tree(server->store)) < 0)
		pfs_log(WARN, "rewriting the virtual files of the mirror failed");
}

static const struct pfs_noderq_hooks noderq_hooks = {
	.deliver = node_deliver,
	.done = node_done,
	.nodes_changed = node_list_changed,
};

typedef void (*handler_fn)(struct conn *conn, const struct pfs_request *req);

static void handle_lock_list(struct conn *conn, const struct pfs_request *req);

static const handler_fn handlers[PFS_OP_MAX + 1] = {
	[PFS_OP_GET] = handle_get,
	[PFS_OP_STAT] = handle_stat,
	[PFS_OP_LIST] = handle_list,
	[PFS_OP_CREATE] = handle_change,
	[PFS_OP_WRITE] = handle_change,
	[PFS_OP_DELETE] = handle_change,
	[PFS_OP_MKDIR] = handle_change,
	[PFS_OP_RMDIR] = handle_change,
	[PFS_OP_RENAME] = handle_change,
	[PFS_OP_STATUS] = handle_status,
	[PFS_OP_WATCH] = handle_watch,
	[PFS_OP_UNWATCH] = handle_watch,
	[PFS_OP_LOCK_ACQUIRE] = handle_change,
	[PFS_OP_LOCK_RENEW] = handle_change,
	[PFS_OP_LOCK_RELEASE] = handle_change,
	[PFS_OP_KV_SET] = handle_change,
	[PFS_OP_KV_GET] = handle_kv_get,
	[PFS_OP_DIGEST] = handle_digest,
	[PFS_OP_AGENT_REGISTER] = handle_agent_register,
	[PFS_OP_NODE_REQUEST] = handle_node_request,
	[PFS_OP_NODE_REPLY] = handle_node_reply,
	[PFS_OP_LOCK_LIST] = handle_lock_list,
	[PFS_OP_LIST_PAGE] = handle_list_page,
};

static bool is_path_op(enum pfs_op op)
{
	return op == PFS_OP_LIST_PAGE ||
	       (op != PFS_OP_STATUS && op != PFS_OP_DIGEST && op != PFS_OP_KV_SET &&
		op != PFS_OP_KV_GET && op < PFS_OP_LOCK_ACQUIRE);
}

/* The path2 of LIST_PAGE is a name to start after, not a path. */
static bool has_path2(const struct pfs_request *req)
{
	return req->op != PFS_OP_LIST_PAGE && req->path2[0];
}

/* Resolve links and check the path arguments of a request. */
static int prepare_paths(struct conn *conn, struct pfs_request *req, char *errmsg)
{
	char resolved[PFS_MAX_PATH + 1];
	int rv;

	if (!is_path_op(req->op))
		return 0;
	rv = pfs_tree_resolve_link(conn->server->node, req->path, resolved, sizeof(resolved));
	if (rv == 0)
		memcpy(req->path, resolved, sizeof(resolved));
	if (rv == 0 && has_path2(req)) {
		rv = pfs_tree_resolve_link(conn->server->node, req->path2, resolved, sizeof(resolved));
		if (rv == 0)
			memcpy(req->path2, resolved, sizeof(resolved));
	}
	if (rv < 0) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "path '%.64s...' is too long", req->path);
		return rv;
	}

	/* A watch takes any prefix of an absolute path ("/nodes/" too). */
	if (req->op == PFS_OP_WATCH || req->op == PFS_OP_UNWATCH) {
		if (req->path[0] == '/')
			return 0;
		snprintf(errmsg, PFS_ERRMSG_SIZE, "invalid watch prefix '%.64s': it starts with '/'",
			 req->path);
		return -EINVAL;
	}
	rv = pfs_tree_check_path(req->path, errmsg);
	if (rv == 0 && has_path2(req))
		rv = pfs_tree_check_path(req->path2, errmsg);
	return rv;
}

static int32_t msg_process(qb_ipcs_connection_t *c, void *data, size_t size)
{
	struct conn *conn = qb_ipcs_context_get(c);
	struct pfs_request *req;
	struct qb_ipc_request_header hdr = {0};
	char errmsg[PFS_ERRMSG_SIZE] = "";
	int rv;

	req = malloc(sizeof(*req));
	if (!req) {
		respond_error(conn, PFS_OP_STATUS, -ENOMEM, "out of memory");
		return 0;
	}
	if (size >= sizeof(hdr))
		memcpy(&hdr, data, sizeof(hdr));

	rv = pfs_request_decode(data, size, req);
	if (rv < 0) {
		respond_error(conn, (enum pfs_op)hdr.id, rv, "invalid request of %zu bytes: %s", size,
			      strerror(-rv));
		goto out;
	}
	rv = prepare_paths(conn, req, errmsg);
	if (rv < 0) {
		respond(conn, req->op, rv, errmsg, 0, 0, NULL, 0);
		goto out;
	}
	rv = pfs_perm_check(conn->access, req->op, req->path, has_path2(req) ? req->path2 : NULL);
	if (rv < 0) {
		/* Changes and priv/ need root; other reads also take the reader group. */
		const char *needs = conn->access == PFS_ACCESS_READ || !pfs_perm_is_read_op(req->op)
					    ? "root"
					    : "root or the reader group";

		/* A listing comes in pages; the user asked for a list. */
		const char *what = req->op == PFS_OP_LIST_PAGE ? "list" : pfs_op_name(req->op);

		if (req->path[0] != '\0')
			respond_error(conn, req->op, rv, "permission denied: %s of '%s' needs %s",
				      what, req->path, needs);
		else
			respond_error(conn, req->op, rv, "permission denied: %s needs %s", what,
				      needs);
		goto out;
	}
	if (conn->waiting) {
		respond_error(conn, req->op, -EBUSY, "a request of this connection is in progress");
		goto out;
	}
	handlers[req->op](conn, req);

out:
	free(req);
	return 0;
}

/* Connections ------------------------------------------------------------- */

static int32_t connection_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	struct pfs_server *server = qb_ipcs_connection_service_context_get(c);
	struct conn *conn = calloc(1, sizeof(*conn));

	if (!conn)
		return -ENOMEM;
	conn->c = c;
	conn->server = server;
	conn->uid = uid;
	conn->gid = gid;
	qb_ipcs_context_set(c, conn);
	return 0;
}

static void connection_created(qb_ipcs_connection_t *c)
{
	struct conn *conn = qb_ipcs_context_get(c);
	struct qb_ipcs_connection_stats stats;
	gid_t groups[MAX_GROUPS];
	int n = 0;

	/* Supplementary groups count for the reader group too. */
	memset(&stats, 0, sizeof(stats));
	if (qb_ipcs_connection_stats_get(c, &stats, QB_FALSE) == 0 && stats.client_pid > 0) {
		conn->pid = stats.client_pid;
		n = pfs_perm_proc_groups(stats.client_pid, groups, MAX_GROUPS);
	}
	conn->access = pfs_perm_classify(conn->uid, conn->gid, groups, n > 0 ? (size_t)n : 0,
					 conn->server->reader_gid);
	conn->watches.hide_private = conn->access != PFS_ACCESS_WRITE;

	conn->next = conn->server->conns;
	if (conn->next)
		conn->next->prev = conn;
	conn->server->conns = conn;
	pfs_log(DEBUG, "client pid %d uid %u connected with access level %d", stats.client_pid,
		(unsigned)conn->uid, (int)conn->access);
}

static int32_t connection_closed(qb_ipcs_connection_t *c)
{
	return 0;
}

static void connection_destroyed(qb_ipcs_connection_t *c)
{
	struct conn *conn = qb_ipcs_context_get(c);

	if (!conn)
		return;

	/* A queued lock request is withdrawn; a held lock stays held. */
	if (conn->timer_armed) {
		qb_loop_timer_del(conn->server->loop, conn->acquire_timer);
		acquire_timeout(conn);
	}
	if (conn->overflow_armed)
		qb_loop_timer_del(conn->server->loop, conn->overflow_timer);
	holder_drop(conn, NULL, 0);
	pfs_store_forget(conn->server->store, conn);
	pfs_noderq_forget(conn->server->noderq, conn);
	if (conn->prev)
		conn->prev->next = conn->next;
	else if (conn->server->conns == conn)
		conn->server->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	pfs_watch_clear(&conn->watches);
	qb_ipcs_context_set(c, NULL);
	free(conn);
}

/* Store hooks: mirror, watches, timekeeper ---------------------------------- */

static int send_event(void *ctx, const void *buf, size_t len)
{
	struct conn *conn = ctx;
	ssize_t rv = qb_ipcs_event_send(conn->c, buf, len);

	return rv < 0 ? (int)rv : 0;
}

#define OVERFLOW_RETRY_NS (250ull * 1000 * 1000)

static void retry_overflow(void *data);

/* Send an event. When the channel is full, a timer retries the owed
 * overflow event, so the client gets it without waiting for more changes. */
static void notify(struct conn *conn, enum pfs_event_kind kind, uint64_t version, const char *op,
		   const char *path, const char *path2)
{
	if (pfs_watch_notify(&conn->watches, kind, version, op, path, path2, send_event, conn) ==
		    -EAGAIN &&
	    !conn->overflow_armed &&
	    qb_loop_timer_add(conn->server->loop, QB_LOOP_LOW, OVERFLOW_RETRY_NS, conn,
			      retry_overflow, &conn->overflow_timer) == 0)
		conn->overflow_armed = true;
}

static void retry_overflow(void *data)
{
	struct conn *conn = data;

	conn->overflow_armed = false;
	if (conn->watches.overflow)
		notify(conn, PFS_EVENT_OVERFLOW, pfs_tree_version(pfs_store_tree(conn->server->store)),
		       "overflow", "/", NULL);
}

/* While the writer thread is busy, changes keep collecting; check again
 * after this many ns, so they are flushed soon after it is done. */
#define FLUSH_RETRY_NS (PFS_MIRROR_FLUSH_MS * 1000000ull / 5)

static void flush_mirror(void *data)
{
	struct pfs_server *server = data;

	server->flush_armed = false;
	if (pfs_mirror_busy(server->mirror)) {
		if (qb_loop_timer_add(server->loop, QB_LOOP_LOW, FLUSH_RETRY_NS, server,
				      flush_mirror, &server->flush_timer) == 0) {
			server->flush_armed = true;
			return;
		}
	}
	pfs_mirror_flush(server->mirror, pfs_store_tree(server->store));
}

static void lock_event(struct pfs_server *server, const struct pfs_tree_event *ev);
static void locks_reloaded(struct pfs_server *server);

static void on_event(void *ctx, const struct pfs_tree_event *ev)
{
	struct pfs_server *server = ctx;
	int rv;

	for (struct conn *conn = server->conns; conn; conn = conn->next)
		notify(conn, PFS_EVENT_CHANGE, ev->version, ev->op, ev->path, ev->path2);
	lock_event(server, ev);

	/* The mirror follows within PFS_MIRROR_FLUSH_MS, written once per file. */
	if (!server->mirror)
		return;
	rv = pfs_mirror_event(server->mirror, ev->path, ev->path2);
	if (rv < 0)
		pfs_log(WARN, "mirror update for %s %s failed: %s", ev->op, ev->path, strerror(-rv));
	if (!server->flush_armed &&
	    qb_loop_timer_add(server->loop, QB_LOOP_LOW, PFS_MIRROR_FLUSH_MS * 1000000ull, server,
			      flush_mirror, &server->flush_timer) == 0)
		server->flush_armed = true;
}

static void on_reloaded(void *ctx)
{
	struct pfs_server *server = ctx;
	uint64_t version = pfs_tree_version(pfs_store_tree(server->store));

	if (server->mirror && pfs_mirror_sync(server->mirror, pfs_store_tree(server->store)) < 0)
		pfs_log(WARN, "mirror resync after a reload failed");
	for (struct conn *conn = server->conns; conn; conn = conn->next)
		notify(conn, PFS_EVENT_RESYNC, version, "resync", "/", NULL);
	locks_reloaded(server);
}

/* Locks: lease timers, holders and the lock list -------------------------- */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void lease_expired(void *data)
{
	struct lease_timer *t = data;
	struct pfs_msg msg = {0};
	int rv;

	t->armed = false;
	msg.type = PFS_MSG_LOCK_EXPIRE;
	msg.path = t->name;
	msg.token = t->token;
	rv = pfs_store_submit(t->server->store, &msg, NULL, NULL, NULL);
	if (rv < 0)
		pfs_log(WARN, "sending the expiry of lock '%s' failed: %s", t->name, strerror(-rv));
	else
		pfs_log(INFO, "lease of lock '%s' with token %" PRIu64 " ran out", t->name, t->token);
}

static struct lease_timer *find_lease(struct pfs_server *server, const char *name)
{
	struct lease_timer *t;

	for (t = server->timers; t; t = t->next)
		if (!strcmp(t->name, name))
			break;
	return t;
}

static void disarm(struct lease_timer *t)
{
	if (t->armed)
		qb_loop_timer_del(t->server->loop, t->handle);
	t->armed = false;
}

/*
 * (Re)start the lease of a lock from now. The timekeeper also arms the
 * timer that sends EXPIRE; a stale timer sends an EXPIRE whose token no
 * longer matches, which apply ignores.
 */
static void start_lease(struct pfs_server *server, const char *name, uint64_t token,
			uint32_t lease_ms)
{
	struct lease_timer *t = find_lease(server, name);

	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t) {
			pfs_log(ERR, "out of memory for the lease of lock '%s'", name);
			return;
		}
		t->server = server;
		snprintf(t->name, sizeof(t->name), "%s", name);
		t->next = server->timers;
		server->timers = t;
	}
	disarm(t);
	t->token = token;
	t->lease_ms = lease_ms;
	t->start_ns = mono_ns();
	if (!pfs_store_is_timekeeper(server->store))
		return;
	if (qb_loop_timer_add(server->loop, QB_LOOP_MED, (uint64_t)lease_ms * 1000000ull, t,
			      lease_expired, &t->handle) == 0)
		t->armed = true;
	else
		pfs_log(ERR, "cannot start the lease timer of lock '%s'", name);
}

static void drop_lease(struct pfs_server *server, const char *name)
{
	struct lease_timer **tp, *t;

	for (tp = &server->timers; *tp; tp = &(*tp)->next)
		if (!strcmp((*tp)->name, name))
			break;
	t = *tp;
	if (!t)
		return;
	*tp = t->next;
	disarm(t);
	free(t);
}

/* Milliseconds left of the lease of (name, token) as this node times it,
 * or -1 when this node has no record of it. */
static int64_t lease_left_ms(struct pfs_server *server, const char *name, uint64_t token)
{
	struct lease_timer *t = find_lease(server, name);
	int64_t left;

	if (!t || t->token != token)
		return -1;
	left = (int64_t)t->lease_ms - (mono_ns() - t->start_ns) / 1000000;
	return left > 0 ? left : 0;
}

/* Every node: a lease started with a grant or was renewed. */
static void on_lease_seen(void *ctx, const struct pfs_lease *lease)
{
	start_lease(ctx, lease->name, lease->token, lease->lease_ms);
}

static int restart_lease(const struct pfs_lock_entry *lock, void *data)
{
	struct pfs_server *server = data;
	uint32_t lease_ms = lock->lease_ms ? lock->lease_ms : PFS_LOCK_DEFAULT_LEASE_MS;

	start_lease(server, lock->name, lock->token, lease_ms);
	if (pfs_store_is_timekeeper(server->store))
		pfs_log(INFO, "lease of lock '%s' (token %" PRIu64 ") restarts with %u ms",
			lock->name, lock->token, lease_ms);
	return 0;
}

/* Remove the records of locks that are gone or changed hands. */
static void drop_stale_leases(struct pfs_server *server)
{
	const struct pfs_tree *tree = pfs_store_tree(server->store);
	struct lease_timer *t = server->timers, *next;
	char path[sizeof(PFS_LOCK_DIR) + PFS_MAX_LOCK_NAME + 1];
	struct pfs_stat st;

	for (; t; t = next) {
		next = t->next;
		snprintf(path, sizeof(path), PFS_LOCK_DIR "/%s", t->name);
		if (pfs_tree_stat(tree, path, &st) < 0 || st.version != t->token)
			drop_lease(server, t->name);
	}
}

/* Restart every lease from now: after a start, and when this node becomes
 * the timekeeper, because the holder's clock is not known here and a
 * lease must never end early. */
static void restart_leases(struct pfs_server *server)
{
	drop_stale_leases(server);
	pfs_tree_locks(pfs_store_tree(server->store), restart_lease, server);
}

static void stop_lease_timers(struct pfs_server *server)
{
	for (struct lease_timer *t = server->timers; t; t = t->next)
		disarm(t);
}

static void free_leases(struct pfs_server *server)
{
	while (server->timers) {
		struct lease_timer *t = server->timers;

		server->timers = t->next;
		disarm(t);
		free(t);
	}
}

/* This node became the timekeeper (restart every lease) or stopped being
 * it (another node times the leases now; the records stay for the list). */
static void on_timekeeper(void *ctx, bool on)
{
	struct pfs_server *server = ctx;

	stop_lease_timers(server);
	if (on)
		restart_leases(server);
}

static void holder_add(struct conn *conn, const char *name, uint64_t token)
{
	struct holder *h = calloc(1, sizeof(*h));

	if (!h) {
		pfs_log(ERR, "out of memory: client pid %d will not hear if lock '%s' is lost",
			(int)conn->pid, name);
		return;
	}
	h->conn = conn;
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->token = token;
	h->next = conn->server->holders;
	conn->server->holders = h;
}

/* Forget the holder records of conn: the one of (name, token), or all of
 * them when name is NULL. */
static void holder_drop(struct conn *conn, const char *name, uint64_t token)
{
	struct holder **hp = &conn->server->holders;

	while (*hp) {
		struct holder *h = *hp;

		if (h->conn != conn || (name && (strcmp(h->name, name) != 0 || h->token != token))) {
			hp = &h->next;
			continue;
		}
		*hp = h->next;
		free(h);
	}
}

/* Send PFS_EVENT_LOCK_LOST to the holder: op is the cause, path the lock
 * name and version the token. */
static void tell_lost(struct holder *h, const char *cause)
{
	uint8_t buf[sizeof(struct pfs_ipc_event) + PFS_MAX_LOCK_NAME + 32];
	size_t len = pfs_watch_encode(buf, sizeof(buf), PFS_EVENT_LOCK_LOST, h->token, cause,
				      h->name, NULL);
	ssize_t rv = qb_ipcs_event_send(h->conn->c, buf, len);

	if (rv < 0)
		pfs_log(WARN, "telling client pid %d that lock '%s' (token %" PRIu64 ") is lost "
			"failed: %s; it stops at its own deadline", (int)h->conn->pid, h->name,
			h->token, strerror((int)-rv));
	else
		pfs_log(INFO, "lock '%s' (token %" PRIu64 ") of client pid %d is lost: %s", h->name,
			h->token, (int)h->conn->pid, cause);
}

/* Tell every holder whose lock no longer has its token (all of them when
 * all is true) that it is lost, and forget them. */
static void check_holders(struct pfs_server *server, const char *cause, bool all)
{
	const struct pfs_tree *tree = pfs_store_tree(server->store);
	char path[sizeof(PFS_LOCK_DIR) + PFS_MAX_LOCK_NAME + 1];
	struct holder **hp = &server->holders;
	struct pfs_stat st;

	while (*hp) {
		struct holder *h = *hp;

		snprintf(path, sizeof(path), PFS_LOCK_DIR "/%s", h->name);
		if (!all && pfs_tree_stat(tree, path, &st) == 0 && st.version == h->token) {
			hp = &h->next;
			continue;
		}
		tell_lost(h, cause);
		*hp = h->next;
		free(h);
	}
}

/* A lock entry went away: forget its lease, tell a holder who lost it. */
static void lock_event(struct pfs_server *server, const struct pfs_tree_event *ev)
{
	const char *name = ev->path + sizeof(PFS_LOCK_DIR);

	if (strncmp(ev->path, PFS_LOCK_DIR "/", sizeof(PFS_LOCK_DIR)) != 0 ||
	    (strcmp(ev->op, "expire") != 0 && strcmp(ev->op, "unlock") != 0))
		return;
	drop_lease(server, name);
	check_holders(server, !strcmp(ev->op, "expire") ? "expired" : "released", false);
}

static int start_new_lease(const struct pfs_lock_entry *lock, void *data)
{
	struct lease_timer *t = find_lease(data, lock->name);

	return t && t->token == lock->token ? 0 : restart_lease(lock, data);
}

/* The tree was replaced: leases of locks that are new here start now,
 * the others go on. */
static void locks_reloaded(struct pfs_server *server)
{
	drop_stale_leases(server);
	pfs_tree_locks(pfs_store_tree(server->store), start_new_lease, server);
	check_holders(server, "replaced", false);
}

static void on_quorum_lost(void *ctx)
{
	struct pfs_server *server = ctx;

	if (server->holders)
		pfs_log(NOTICE, "this node lost quorum: its lock holders lose their locks");
	check_holders(server, "no-quorum", true);
}

struct lock_list_ctx {
	struct pfs_server *server;
	uint8_t *buf;
	size_t len, cap;
	struct pfs_ipc_lock *current; /* the entry whose waiters are added */
};

static int put_bytes(struct lock_list_ctx *ctx, const void *data, size_t len)
{
	if (ctx->len + len > ctx->cap)
		return -EMSGSIZE;
	memcpy(ctx->buf + ctx->len, data, len);
	ctx->len += len;
	return 0;
}

static int list_waiter(const struct pfs_tree_waiter *waiter, void *data)
{
	struct lock_list_ctx *ctx = data;
	struct pfs_ipc_lock_waiter w = {0};
	int rv;

	w.node = waiter->node;
	w.pid = waiter->pid;
	w.node_name_len = (uint32_t)strlen(waiter->node_name);
	rv = put_bytes(ctx, &w, sizeof(w));
	if (rv == 0)
		rv = put_bytes(ctx, waiter->node_name, w.node_name_len);
	if (rv == 0)
		ctx->current->nwaiters++;
	return rv;
}

static int list_lock(const struct pfs_lock_entry *lock, void *data)
{
	struct lock_list_ctx *ctx = data;
	struct pfs_ipc_lock l = {0};
	size_t at = ctx->len;
	int rv;

	l.token = lock->token;
	l.request_id = lock->request_id;
	l.lease_left_ms = lease_left_ms(ctx->server, lock->name, lock->token);
	l.node = lock->node;
	l.pid = lock->pid;
	l.lease_ms = lock->lease_ms;
	l.mtime = lock->mtime;
	l.name_len = (uint32_t)strlen(lock->name);
	l.node_name_len = (uint32_t)strlen(lock->node_name);
	rv = put_bytes(ctx, &l, sizeof(l));
	if (rv == 0)
		rv = put_bytes(ctx, lock->name, l.name_len);
	if (rv == 0)
		rv = put_bytes(ctx, lock->node_name, l.node_name_len);
	if (rv < 0)
		return rv;

	/* The waiter count is patched into the entry as they are added. */
	ctx->current = &l;
	rv = pfs_tree_lock_waiters(pfs_store_tree(ctx->server->store), lock->name, list_waiter,
				   ctx);
	memcpy(ctx->buf + at, &l, sizeof(l));
	return rv;
}

static void handle_lock_list(struct conn *conn, const struct pfs_request *req)
{
	struct lock_list_ctx ctx = {conn->server, conn->server->buf, 0,
				    PFS_IPC_MAX_MSG - sizeof(struct pfs_ipc_res), NULL};
	int rv = pfs_tree_locks(tree_of(conn), list_lock, &ctx);

	if (rv < 0) {
		respond_error(conn, req->op, rv, "cannot list the locks: %s",
			      rv == -EMSGSIZE ? "too many locks and waiters for one response"
					      : strerror(-rv));
		return;
	}
	respond(conn, req->op, 0, NULL, pfs_tree_version(tree_of(conn)), 0, ctx.buf, ctx.len);
}

static const struct pfs_store_hooks server_hooks = {
	.event = on_event,
	.reloaded = on_reloaded,
	.timekeeper = on_timekeeper,
	.lease_seen = on_lease_seen,
	.quorum_lost = on_quorum_lost,
};

/* libqb poll glue -------------------------------------------------------- */

static int32_t job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(ipc_loop, p, data, fn);
}

static int32_t dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(ipc_loop, p, fd, events, data, fn);
}

static int32_t dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t events, void *data,
			    qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(ipc_loop, p, fd, events, data, fn);
}

static int32_t dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(ipc_loop, fd);
}

int pfs_server_start(qb_loop_t *loop, struct pfs_store *store, struct pfs_mirror *mirror,
		     const struct pfs_server_config *config, struct pfs_server **out, char *errmsg)
{
	static struct qb_ipcs_service_handlers service_handlers = {
		.connection_accept = connection_accept,
		.connection_created = connection_created,
		.msg_process = msg_process,
		.connection_closed = connection_closed,
		.connection_destroyed = connection_destroyed,
	};
	static struct qb_ipcs_poll_handlers poll_handlers = {
		.job_add = job_add,
		.dispatch_add = dispatch_add,
		.dispatch_mod = dispatch_mod,
		.dispatch_del = dispatch_del,
	};
	struct pfs_server *server = calloc(1, sizeof(*server));
	const char *name = config->service ? config->service : PFS_IPC_SERVICE;
	int rv;

	if (!server)
		return -ENOMEM;
	server->buf = malloc(PFS_IPC_MAX_MSG);
	if (!server->buf) {
		free(server);
		return -ENOMEM;
	}
	server->loop = loop;
	server->store = store;
	server->mirror = mirror;
	server->sync = config->sync;
	server->min_lease_ms = config->min_lease_ms > PFS_LOCK_MIN_LEASE_MS ? config->min_lease_ms
									 : PFS_LOCK_MIN_LEASE_MS;
	server->reader_gid = config->reader_gid;
	snprintf(server->node, sizeof(server->node), "%s", config->node_name);
	ipc_loop = loop;
	rv = pfs_noderq_new(loop, pfs_store_node_id(store), server->node, &server->noderq);
	if (rv < 0) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot set up node requests: %s", strerror(-rv));
		goto err_free;
	}
	pfs_noderq_set_hooks(server->noderq, &noderq_hooks, server);

	server->service = qb_ipcs_create(name, 0, QB_IPC_NATIVE, &service_handlers);
	if (!server->service) {
		rv = -errno ? -errno : -ENOMEM;
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot create IPC service '%s': %s", name,
			 strerror(-rv));
		goto err_free;
	}
	qb_ipcs_service_context_set(server->service, server);
	qb_ipcs_enforce_buffer_size(server->service, PFS_IPC_MAX_MSG);
	qb_ipcs_poll_handlers_set(server->service, &poll_handlers);
	rv = qb_ipcs_run(server->service);
	if (rv < 0) {
		/* libqb 2.0 has already released the service when run fails. */
		snprintf(errmsg, PFS_ERRMSG_SIZE,
			 "cannot start IPC service '%s': %s; is another pmxfs running with it?", name,
			 strerror(-rv));
		goto err_free;
	}
	pfs_store_set_hooks(store, &server_hooks, server);
	if (mirror) {
		pfs_mirror_set_virtual(mirror, server_virtual, server);
		node_list_changed(server);
	}
	restart_leases(server);
	*out = server;
	return 0;

err_free:
	pfs_noderq_free(server->noderq);
	free(server->buf);
	free(server);
	return rv;
}

struct pfs_noderq *pfs_server_noderq(struct pfs_server *server)
{
	return server->noderq;
}

void pfs_server_stop(struct pfs_server *server)
{
	if (!server)
		return;
	if (server->service)
		qb_ipcs_destroy(server->service);
	server->service = NULL;
	if (server->bootstrap_armed) {
		qb_loop_timer_del(server->loop, server->bootstrap_timer);
		server->bootstrap_armed = false;
	}
	if (server->flush_armed) {
		/* Queued even while the writer is busy; closing the mirror
		 * writes every queued batch. */
		qb_loop_timer_del(server->loop, server->flush_timer);
		server->flush_armed = false;
		pfs_mirror_flush(server->mirror, pfs_store_tree(server->store));
	}
	free_leases(server);
	while (server->holders) {
		struct holder *h = server->holders;

		server->holders = h->next;
		free(h);
	}
	if (server->mirror)
		pfs_mirror_set_virtual(server->mirror, NULL, NULL);
	pfs_noderq_free(server->noderq);
	free(server->buf);
	free(server);
}

/* Submit a mkdir of PATH if it is missing. */
static void bootstrap_one(struct pfs_server *server, const char *path)
{
	struct pfs_msg msg = {0};
	struct pfs_stat st;
	int rv;

	if (pfs_tree_stat(pfs_store_tree(server->store), path, &st) == 0)
		return;
	msg.type = PFS_MSG_MKDIR;
	msg.path = path;
	rv = pfs_store_submit(server->store, &msg, NULL, NULL, NULL);
	if (rv < 0)
		pfs_log(ERR, "cannot create %s: %s", path, strerror(-rv));
	else
		pfs_log(INFO, "creating %s", path);
}

static void bootstrap_send(struct pfs_server *server)
{
	static const char *const subdirs[] = {"", "/lxc", "/qemu-server", "/priv"};
	char path[PFS_MAX_PATH];

	/* Parents before children: the changes are applied in the order
	 * they are sent. */
	bootstrap_one(server, "/nodes");
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "/nodes/%s%s", server->node, subdirs[i]);
		bootstrap_one(server, path);
	}
	bootstrap_one(server, "/priv");
	bootstrap_one(server, PFS_LOCK_DIR);
}

/*
 * A mkdir sent while the node is outside a primary component is dropped
 * ("busy, not applied"), and a sync round can replace the tree with one
 * that lacks the folders. So the check repeats for the life of the
 * daemon: every PFS_BOOTSTRAP_WAIT_MS while the store takes no changes,
 * so that the folders follow soon after the node becomes writable, and
 * every PFS_BOOTSTRAP_CHECK_MS after that.
 */
static void bootstrap_check(void *data)
{
	struct pfs_server *server = data;
	uint64_t delay_ms = PFS_BOOTSTRAP_CHECK_MS;

	server->bootstrap_armed = false;
	if (!server->sync || pfs_sync_writable(server->sync))
		bootstrap_send(server);
	else
		delay_ms = PFS_BOOTSTRAP_WAIT_MS;
	if (qb_loop_timer_add(server->loop, QB_LOOP_LOW, delay_ms * 1000000ull, server,
			      bootstrap_check, &server->bootstrap_timer) == 0)
		server->bootstrap_armed = true;
	else
		pfs_log(ERR, "cannot arm the check of the node folders of %s", server->node);
}

int pfs_server_bootstrap(struct pfs_server *server)
{
	/* Sent at once even before the first sync round: they are usually
	 * applied after it, and the check repeats any that were dropped. */
	bootstrap_send(server);
	if (qb_loop_timer_add(server->loop, QB_LOOP_LOW, PFS_BOOTSTRAP_WAIT_MS * 1000000ull,
			      server, bootstrap_check, &server->bootstrap_timer) != 0) {
		pfs_log(ERR, "cannot arm the check of the node folders of %s", server->node);
		return -ENOMEM;
	}
	server->bootstrap_armed = true;
	return 0;
}
