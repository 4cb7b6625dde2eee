/* libpmxfs: client side of the IPC protocol (see pmxfs.h and proto.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <time.h>

#include <qb/qbipcc.h>

#include "pmxfs/pmxfs.h"
#include "pmxfs/proto.h"

/* LIMIT: how long a request waits for its reply unless pfs_set_timeout()
 * sets another. Changes wait for the commit; lock acquisition adds its
 * own timeout on top. */
#define REQUEST_TIMEOUT_MS 120000
/* A node request's own timeout when the caller gives 0, as the daemon's. */
#define NODE_TIMEOUT_MS 120000u
/* Slice of the wait for a reply: a request in flight notices a dead
 * daemon within about this time. */
#define RECV_SLICE_MS 500u
/* LIMIT: how long a change rejected with "busy, not applied" (-EAGAIN) is
 * retried, unless the connection's timeout is shorter, and the first and
 * longest pause between two tries. */
#define BUSY_RETRY_MS 10000u
#define BUSY_PAUSE_FIRST_MS 20u
#define BUSY_PAUSE_MAX_MS 1000u

struct pfs_conn {
	qb_ipcc_connection_t *c;
	uint8_t *buf; /* responses and events, PFS_IPC_MAX_MSG bytes */
	uint32_t timeout_ms;
	char errmsg[256];
	bool stale; /* the last reply had PFS_RES_STALE */
	struct pfs_node_request request; /* of the last node request event */
	bool has_request;
};

struct call {
	enum pfs_op op;
	const char *path, *path2;
	const void *data;
	size_t data_len;
	const struct pfs_cond *cond;
	uint64_t token;
	uint32_t arg, timeout_ms;

	/* results */
	uint64_t version;
	uint64_t rtoken;
	const uint8_t *payload;
	size_t payload_len;
};

/* Finish an asynchronous connect within timeout_ms, so a stopped daemon
 * cannot block the caller. */
static int connect_within(const char *service, uint32_t timeout_ms, qb_ipcc_connection_t **out)
{
	struct pollfd pfd = {.events = POLLIN};
	qb_ipcc_connection_t *c;
	int rv;

	c = qb_ipcc_connect_async(service, PFS_IPC_MAX_MSG, &pfd.fd);
	if (!c)
		return -ENOTCONN;
	do {
		rv = poll(&pfd, 1, (int)timeout_ms);
	} while (rv < 0 && errno == EINTR);
	if (rv <= 0) {
		qb_ipcc_disconnect(c);
		return rv == 0 ? -ETIMEDOUT : -ENOTCONN;
	}
	/* On failure qb_ipcc_connect_continue() frees c itself. */
	if (qb_ipcc_connect_continue(c) < 0)
		return -ENOTCONN;
	*out = c;
	return 0;
}

int pfs_connect_timeout(const char *service, uint32_t timeout_ms, struct pfs_conn **out)
{
	struct pfs_conn *conn = calloc(1, sizeof(*conn));
	int rv;

	if (!conn)
		return -ENOMEM;
	if (!service)
		service = getenv("PMXFS_SERVICE");
	if (!service || !*service)
		service = PFS_IPC_SERVICE;
	conn->timeout_ms = timeout_ms ? timeout_ms : REQUEST_TIMEOUT_MS;
	conn->buf = malloc(PFS_IPC_MAX_MSG);
	if (!conn->buf) {
		free(conn);
		return -ENOMEM;
	}
	rv = connect_within(service, conn->timeout_ms, &conn->c);
	if (rv < 0) {
		free(conn->buf);
		free(conn);
		return rv;
	}
	*out = conn;
	return 0;
}

int pfs_connect(const char *service, struct pfs_conn **out)
{
	return pfs_connect_timeout(service, 0, out);
}

void pfs_set_timeout(struct pfs_conn *conn, uint32_t timeout_ms)
{
	conn->timeout_ms = timeout_ms ? timeout_ms : REQUEST_TIMEOUT_MS;
}

/* Reads change nothing; every other request may have been applied once
 * it was sent. */
static bool is_change(enum pfs_op op)
{
	switch (op) {
	case PFS_OP_GET:
	case PFS_OP_STAT:
	case PFS_OP_LIST:
	case PFS_OP_LIST_PAGE:
	case PFS_OP_STATUS:
	case PFS_OP_WATCH:
	case PFS_OP_UNWATCH:
	case PFS_OP_KV_GET:
	case PFS_OP_DIGEST:
	case PFS_OP_LOCK_LIST:
		return false;
	default:
		return true;
	}
}

/*
 * Map a failed receive after the request was sent. A change may have been
 * applied, so its outcome is unknown (-EINPROGRESS); a read timed out
 * (-ETIMEDOUT) or lost the daemon (-ENOTCONN).
 */
static int receive_error(struct pfs_conn *conn, const struct call *k, ssize_t n)
{
	bool timed_out = n == -ETIMEDOUT || n == -EAGAIN;

	if (k->op == PFS_OP_NODE_REQUEST) {
		snprintf(conn->errmsg, sizeof(conn->errmsg),
			 "outcome unknown: the request was sent, but %s before pmxfs replied, so "
			 "its agent may or may not have acted on it",
			 timed_out ? "the timeout ran out" : "the connection was lost");
		return -EINPROGRESS;
	}
	if (is_change(k->op)) {
		snprintf(conn->errmsg, sizeof(conn->errmsg),
			 "outcome unknown: the request was sent, but %s before pmxfs replied, so "
			 "the change may or may not have been applied",
			 timed_out ? "the timeout ran out" : "the connection was lost");
		return -EINPROGRESS;
	}
	snprintf(conn->errmsg, sizeof(conn->errmsg), "no reply from pmxfs: %s",
		 timed_out ? "timed out" : strerror((int)-n));
	return timed_out ? -ETIMEDOUT : -ENOTCONN;
}

void pfs_disconnect(struct pfs_conn *conn)
{
	if (!conn)
		return;
	pfs_node_request_clear(&conn->request);
	qb_ipcc_disconnect(conn->c);
	free(conn->buf);
	free(conn);
}

void pfs_forget_after_fork(struct pfs_conn *conn)
{
	int32_t fd;

	/* The socket is the only descriptor a connection keeps; its rings
	 * are mappings, which end with the child. */
	if (conn && qb_ipcc_fd_get(conn->c, &fd) == 0)
		close(fd);
}

const char *pfs_last_error(const struct pfs_conn *conn)
{
	return conn->errmsg;
}

bool pfs_last_stale(const struct pfs_conn *conn)
{
	return conn->stale;
}

/*
 * Wait up to timeout_ms for the reply, in slices of RECV_SLICE_MS. A
 * receive on the shared-memory ring sleeps until a reply or its timeout
 * and does not notice that the daemon died. libqb checks the connection
 * when a receive times out, so a dead daemon is noticed within a slice
 * instead of at the end of the whole timeout (libqb 2.0.6).
 */
static ssize_t recv_reply(struct pfs_conn *conn, uint32_t timeout_ms)
{
	uint32_t waited = 0, slice;
	ssize_t n;

	for (;;) {
		slice = timeout_ms - waited < RECV_SLICE_MS ? timeout_ms - waited : RECV_SLICE_MS;
		n = qb_ipcc_recv(conn->c, conn->buf, PFS_IPC_MAX_MSG, (int32_t)slice);
		waited += slice;
		if ((n != -ETIMEDOUT && n != -EAGAIN) || waited >= timeout_ms)
			return n;
	}
}

static int call(struct pfs_conn *conn, struct call *k)
{
	struct pfs_ipc_req req;
	struct pfs_ipc_res res;
	struct iovec iov[4];
	size_t plen = k->path ? strlen(k->path) : 0, p2len = k->path2 ? strlen(k->path2) : 0;
	ssize_t n;

	conn->errmsg[0] = '\0';
	conn->stale = false;
	if (plen > PFS_MAX_PATH || p2len > PFS_MAX_PATH) {
		snprintf(conn->errmsg, sizeof(conn->errmsg), "path is longer than %d bytes",
			 PFS_MAX_PATH);
		return -ENAMETOOLONG;
	}
	if (k->data_len > PFS_MAX_FILE_SIZE) {
		snprintf(conn->errmsg, sizeof(conn->errmsg),
			 "file size %zu is above the limit of %u bytes", k->data_len,
			 PFS_MAX_FILE_SIZE);
		return -EFBIG;
	}
	memset(&req, 0, sizeof(req));
	req.hdr.id = (int32_t)k->op;
	req.hdr.size = (int32_t)(sizeof(req) + plen + p2len + k->data_len);
	req.magic = PFS_IPC_MAGIC;
	if (k->cond && k->cond->has_version) {
		req.flags |= PFS_COND_VERSION;
		req.expected_version = k->cond->version;
	}
	if (k->cond && k->cond->has_token) {
		req.flags |= PFS_COND_TOKEN;
		req.token = k->cond->token;
	}
	if (k->token)
		req.token = k->token;
	req.arg = k->arg;
	req.timeout_ms = k->timeout_ms;
	req.path_len = (uint32_t)plen;
	req.path2_len = (uint32_t)p2len;
	req.data_len = (uint32_t)k->data_len;
	iov[0] = (struct iovec){&req, sizeof(req)};
	iov[1] = (struct iovec){(void *)k->path, plen};
	iov[2] = (struct iovec){(void *)k->path2, p2len};
	iov[3] = (struct iovec){(void *)k->data, k->data_len};

	/* Send and receive apart: only a failure after sending leaves the
	 * outcome of a change unknown. */
	n = qb_ipcc_sendv(conn->c, iov, 4);
	if (n < 0) {
		snprintf(conn->errmsg, sizeof(conn->errmsg), "cannot send the request to pmxfs: %s",
			 strerror((int)-n));
		return n == -EAGAIN ? -ETIMEDOUT : -ENOTCONN;
	}
	n = recv_reply(conn, conn->timeout_ms + k->timeout_ms);
	if (n < 0)
		return receive_error(conn, k, n);
	if ((size_t)n < sizeof(res))
		return -EBADMSG;
	memcpy(&res, conn->buf, sizeof(res));
	if (res.magic != PFS_IPC_MAGIC || (size_t)res.hdr.size != (size_t)n ||
	    sizeof(res) + (size_t)res.errmsg_len + res.data_len != (size_t)n)
		return -EBADMSG;
	if (res.errmsg_len)
		snprintf(conn->errmsg, sizeof(conn->errmsg), "%.*s", (int)res.errmsg_len,
			 (const char *)conn->buf + sizeof(res));
	conn->stale = (res.flags & PFS_RES_STALE) != 0;
	k->version = res.version;
	k->rtoken = res.token;
	k->payload = conn->buf + sizeof(res) + res.errmsg_len;
	k->payload_len = res.data_len;
	return res.hdr.error;
}

static void get_stat(struct pfs_entry *st, const uint8_t *p)
{
	struct pfs_ipc_stat s;

	memcpy(&s, p, sizeof(s));
	memset(st, 0, sizeof(*st));
	st->inode = s.inode;
	st->parent = s.parent;
	st->version = s.version;
	st->writer = s.writer;
	st->mtime = s.mtime;
	st->size = s.size;
	st->type = s.type;
}

int pfs_get(struct pfs_conn *conn, const char *path, char **data, size_t *len,
	    struct pfs_entry *st)
{
	struct call k = {.op = PFS_OP_GET, .path = path};
	struct pfs_entry e;
	int rv = call(conn, &k);

	if (rv < 0)
		return rv;
	if (k.payload_len < sizeof(struct pfs_ipc_stat))
		return -EBADMSG;
	get_stat(&e, k.payload);
	if (e.size != k.payload_len - sizeof(struct pfs_ipc_stat))
		return -EBADMSG;
	*data = malloc((size_t)e.size + 1);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, k.payload + sizeof(struct pfs_ipc_stat), e.size);
	(*data)[e.size] = '\0';
	if (len)
		*len = e.size;
	if (st)
		*st = e;
	return 0;
}

int pfs_stat(struct pfs_conn *conn, const char *path, struct pfs_entry *st)
{
	struct call k = {.op = PFS_OP_STAT, .path = path};
	int rv = call(conn, &k);

	if (rv < 0)
		return rv;
	if (k.payload_len != sizeof(struct pfs_ipc_stat))
		return -EBADMSG;
	get_stat(st, k.payload);
	return 0;
}

void pfs_list_free(struct pfs_entry *entries, size_t count)
{
	for (size_t i = 0; entries && i < count; i++)
		free(entries[i].name);
	free(entries);
}

/* Append the entries of a LIST or LIST_PAGE payload to *list (*n entries,
 * room for *cap). On error *list keeps what was appended before. */
static int parse_entries(const struct call *k, struct pfs_entry **list, size_t *n, size_t *cap)
{
	size_t off = 0;

	while (off < k->payload_len) {
		uint32_t nlen;

		if (k->payload_len - off < sizeof(struct pfs_ipc_stat) + 4)
			return -EBADMSG;
		memcpy(&nlen, k->payload + off + sizeof(struct pfs_ipc_stat), 4);
		if (nlen > k->payload_len - off - sizeof(struct pfs_ipc_stat) - 4)
			return -EBADMSG;
		if (*n == *cap) {
			size_t grow = *cap ? *cap * 2 : 64;
			struct pfs_entry *grown = realloc(*list, grow * sizeof(**list));

			if (!grown)
				return -ENOMEM;
			*list = grown;
			*cap = grow;
		}
		get_stat(&(*list)[*n], k->payload + off);
		(*list)[*n].name = strndup(
			(const char *)k->payload + off + sizeof(struct pfs_ipc_stat) + 4, nlen);
		if (!(*list)[*n].name)
			return -ENOMEM;
		(*n)++;
		off += sizeof(struct pfs_ipc_stat) + 4 + nlen;
	}
	return 0;
}

/* Read one page, append it to *list and set *more when names follow. */
static int list_page(struct pfs_conn *conn, const char *path, const char *after, uint32_t max,
		     struct pfs_entry **list, size_t *n, size_t *cap, bool *more)
{
	struct call k = {.op = PFS_OP_LIST_PAGE, .path = path, .path2 = after, .arg = max};
	size_t first = *n;
	int rv = call(conn, &k);

	if (rv < 0)
		return rv;
	if (k.rtoken > 1)
		return -EBADMSG;
	rv = parse_entries(&k, list, n, cap);
	if (rv == 0 && k.rtoken && *n == first)
		rv = -EBADMSG; /* "more" with an empty page would never end */
	*more = k.rtoken == 1;
	return rv;
}

int pfs_list_page(struct pfs_conn *conn, const char *path, const char *after, uint32_t max,
		  struct pfs_entry **entries, size_t *count, int *more)
{
	struct pfs_entry *list = NULL;
	size_t n = 0, cap = 0;
	bool m = false;
	int rv;

	rv = list_page(conn, path, after && *after ? after : NULL, max, &list, &n, &cap, &m);
	if (rv < 0) {
		pfs_list_free(list, n);
		return rv;
	}
	*entries = list;
	*count = n;
	*more = m;
	return 0;
}

/* Read the whole directory with one LIST, for a daemon without LIST_PAGE. */
static int list_whole(struct pfs_conn *conn, const char *path, struct pfs_entry **entries,
		      size_t *count)
{
	struct call k = {.op = PFS_OP_LIST, .path = path};
	struct pfs_entry *list = NULL;
	size_t n = 0, cap = 0;
	int rv = call(conn, &k);

	if (rv == 0)
		rv = parse_entries(&k, &list, &n, &cap);
	if (rv < 0) {
		pfs_list_free(list, n);
		return rv;
	}
	*entries = list;
	*count = n;
	return 0;
}

int pfs_list(struct pfs_conn *conn, const char *path, struct pfs_entry **entries, size_t *count)
{
	struct pfs_entry *list = NULL;
	size_t n = 0, cap = 0;
	bool more = true;
	int rv = 0;

	while (rv == 0 && more)
		rv = list_page(conn, path, n ? list[n - 1].name : NULL, 0, &list, &n, &cap, &more);
	if (rv == -EOPNOTSUPP && n == 0) {
		free(list);
		return list_whole(conn, path, entries, count);
	}
	if (rv < 0) {
		pfs_list_free(list, n);
		return rv;
	}
	*entries = list;
	*count = n;
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Send a change, and retry it while the daemon replies "busy, not applied"
 * (-EAGAIN). Every member dropped the change then, for example because
 * the cluster configuration changed, so a retry cannot apply it twice.
 */
static int change(struct pfs_conn *conn, enum pfs_op op, const char *path, const char *path2,
		  const void *data, size_t len, const struct pfs_cond *cond, uint64_t *version)
{
	struct call k = {.op = op, .path = path, .path2 = path2, .data = data, .data_len = len,
			 .cond = cond};
	uint32_t budget = conn->timeout_ms < BUSY_RETRY_MS ? conn->timeout_ms : BUSY_RETRY_MS;
	uint32_t pause = BUSY_PAUSE_FIRST_MS;
	uint64_t end = mono_ms() + budget;
	int rv;

	for (;;) {
		rv = call(conn, &k);
		if (rv != -EAGAIN || mono_ms() + pause > end)
			break;
		nanosleep(&(struct timespec){.tv_sec = pause / 1000,
					     .tv_nsec = (long)(pause % 1000) * 1000000},
			  NULL);
		pause = pause * 2 < BUSY_PAUSE_MAX_MS ? pause * 2 : BUSY_PAUSE_MAX_MS;
	}

	if (rv == 0 && version)
		*version = k.version;
	return rv;
}

int pfs_create(struct pfs_conn *conn, const char *path, const void *data, size_t len,
	       const struct pfs_cond *cond, uint64_t *version)
{
	return change(conn, PFS_OP_CREATE, path, NULL, data, len, cond, version);
}

int pfs_write(struct pfs_conn *conn, const char *path, const void *data, size_t len,
	      const struct pfs_cond *cond, uint64_t *version)
{
	return change(conn, PFS_OP_WRITE, path, NULL, data, len, cond, version);
}

int pfs_delete(struct pfs_conn *conn, const char *path, const struct pfs_cond *cond)
{
	return change(conn, PFS_OP_DELETE, path, NULL, NULL, 0, cond, NULL);
}

int pfs_mkdir(struct pfs_conn *conn, const char *path, const struct pfs_cond *cond)
{
	return change(conn, PFS_OP_MKDIR, path, NULL, NULL, 0, cond, NULL);
}

int pfs_rmdir(struct pfs_conn *conn, const char *path, const struct pfs_cond *cond)
{
	return change(conn, PFS_OP_RMDIR, path, NULL, NULL, 0, cond, NULL);
}

int pfs_rename(struct pfs_conn *conn, const char *from, const char *to,
	       const struct pfs_cond *cond)
{
	return change(conn, PFS_OP_RENAME, from, to, NULL, 0, cond, NULL);
}

static int text_result(struct pfs_conn *conn, struct call *k, char **out)
{
	int rv = call(conn, k);

	if (rv < 0)
		return rv;
	*out = strndup((const char *)k->payload, k->payload_len);
	return *out ? 0 : -ENOMEM;
}

int pfs_status(struct pfs_conn *conn, char **json)
{
	struct call k = {.op = PFS_OP_STATUS};

	return text_result(conn, &k, json);
}

int pfs_digest(struct pfs_conn *conn, char out[65])
{
	struct call k = {.op = PFS_OP_DIGEST};
	int rv = call(conn, &k);

	if (rv < 0)
		return rv;
	if (k.payload_len != 64)
		return -EBADMSG;
	memcpy(out, k.payload, 64);
	out[64] = '\0';
	return 0;
}

int pfs_lock_acquire(struct pfs_conn *conn, const char *name, uint32_t lease_ms,
		     uint32_t timeout_ms, uint64_t *token)
{
	struct call k = {.op = PFS_OP_LOCK_ACQUIRE, .path = name, .arg = lease_ms,
			 .timeout_ms = timeout_ms};
	int rv = call(conn, &k);

	if (rv == 0 && token)
		*token = k.rtoken;
	return rv;
}

int pfs_lock_renew(struct pfs_conn *conn, const char *name, uint64_t token)
{
	struct call k = {.op = PFS_OP_LOCK_RENEW, .path = name, .token = token};

	return call(conn, &k);
}

int pfs_lock_release(struct pfs_conn *conn, const char *name, uint64_t token)
{
	struct call k = {.op = PFS_OP_LOCK_RELEASE, .path = name, .token = token};

	if (token == 0)
		return -EINVAL;
	return call(conn, &k);
}

void pfs_lock_list_free(struct pfs_lock_state *locks, size_t count)
{
	for (size_t i = 0; locks && i < count; i++)
		free(locks[i].waiters);
	free(locks);
}

/* Copy len bytes of a string from the payload at *off into out of size cap. */
static int take_string(const struct call *k, size_t *off, uint32_t len, char *out, size_t cap)
{
	if (len >= cap || len > k->payload_len - *off)
		return -EBADMSG;
	memcpy(out, k->payload + *off, len);
	out[len] = '\0';
	*off += len;
	return 0;
}

static int take_waiters(const struct call *k, size_t *off, struct pfs_lock_state *l,
			uint32_t nwaiters)
{
	struct pfs_ipc_lock_waiter w;

	/* Each waiter takes at least its fixed part, which bounds nwaiters. */
	if (nwaiters > (k->payload_len - *off) / sizeof(w))
		return -EBADMSG;
	if (nwaiters == 0)
		return 0;
	l->waiters = calloc(nwaiters, sizeof(*l->waiters));
	if (!l->waiters)
		return -ENOMEM;
	for (uint32_t i = 0; i < nwaiters; i++) {
		if (k->payload_len - *off < sizeof(w))
			return -EBADMSG;
		memcpy(&w, k->payload + *off, sizeof(w));
		*off += sizeof(w);
		l->waiters[i].node = w.node;
		l->waiters[i].pid = w.pid;
		if (take_string(k, off, w.node_name_len, l->waiters[i].node_name,
				sizeof(l->waiters[i].node_name)) < 0)
			return -EBADMSG;
		l->nwaiters++;
	}
	return 0;
}

static int take_lock(const struct call *k, size_t *off, struct pfs_lock_state *l)
{
	struct pfs_ipc_lock e;
	int rv;

	memset(l, 0, sizeof(*l));
	if (k->payload_len - *off < sizeof(e))
		return -EBADMSG;
	memcpy(&e, k->payload + *off, sizeof(e));
	*off += sizeof(e);
	l->token = e.token;
	l->node = e.node;
	l->pid = e.pid;
	l->request_id = e.request_id;
	l->lease_ms = e.lease_ms;
	l->lease_left_ms = e.lease_left_ms;
	l->acquired = e.mtime;
	rv = take_string(k, off, e.name_len, l->name, sizeof(l->name));
	if (rv == 0)
		rv = take_string(k, off, e.node_name_len, l->node_name, sizeof(l->node_name));
	if (rv == 0)
		rv = take_waiters(k, off, l, e.nwaiters);
	return rv;
}

int pfs_lock_list(struct pfs_conn *conn, struct pfs_lock_state **locks, size_t *count)
{
	struct call k = {.op = PFS_OP_LOCK_LIST};
	struct pfs_lock_state *list = NULL, *grown;
	size_t n = 0, off = 0;
	int rv = call(conn, &k);

	if (rv < 0)
		return rv;
	while (off < k.payload_len) {
		grown = realloc(list, (n + 1) * sizeof(*list));
		if (!grown) {
			rv = -ENOMEM;
			goto err_free;
		}
		list = grown;
		rv = take_lock(&k, &off, &list[n]);
		n++;
		if (rv < 0)
			goto err_free;
	}
	*locks = list;
	*count = n;
	return 0;

err_free:
	if (rv == -EBADMSG)
		snprintf(conn->errmsg, sizeof(conn->errmsg), "malformed lock list from pmxfs");
	pfs_lock_list_free(list, n);
	return rv;
}

int pfs_kv_set(struct pfs_conn *conn, const char *key, const void *value, size_t len)
{
	struct call k = {.op = PFS_OP_KV_SET, .path = key, .data = value, .data_len = len};

	return call(conn, &k);
}

int pfs_kv_get(struct pfs_conn *conn, uint32_t node, const char *key, char **value, size_t *len)
{
	struct call k = {.op = PFS_OP_KV_GET, .path = key, .arg = node};
	int rv = text_result(conn, &k, value);

	if (rv == 0 && len)
		*len = k.payload_len;
	return rv;
}

int pfs_watch(struct pfs_conn *conn, const char *prefix)
{
	struct call k = {.op = PFS_OP_WATCH, .path = prefix};

	return call(conn, &k);
}

int pfs_unwatch(struct pfs_conn *conn, const char *prefix)
{
	struct call k = {.op = PFS_OP_UNWATCH, .path = prefix};

	return call(conn, &k);
}

/* Keep the node request event of n bytes in conn->buf for
 * pfs_node_request_take(), and describe it in ev. */
static int node_request_event(struct pfs_conn *conn, size_t n, struct pfs_event *ev)
{
	struct pfs_node_request *r = &conn->request;
	struct pfs_ipc_node_event e;
	const char *s = (const char *)conn->buf + sizeof(e);

	if (n < sizeof(e))
		return -EBADMSG;
	memcpy(&e, conn->buf, sizeof(e));
	if (e.magic != PFS_IPC_MAGIC || e.service_len == 0 || e.service_len >= sizeof(r->service) ||
	    e.origin_name_len >= sizeof(r->origin_name) || e.data_len > PFS_MAX_NODE_PAYLOAD ||
	    sizeof(e) + e.service_len + e.origin_name_len + e.data_len != n)
		return -EBADMSG;
	pfs_node_request_clear(r);
	conn->has_request = false;
	r->data = malloc((size_t)e.data_len + 1);
	if (!r->data)
		return -ENOMEM;
	r->handle = e.handle;
	r->origin = e.origin;
	r->timeout_ms = e.timeout_ms;
	memcpy(r->service, s, e.service_len);
	memcpy(r->origin_name, s + e.service_len, e.origin_name_len);
	memcpy(r->data, s + e.service_len + e.origin_name_len, e.data_len);
	r->data[e.data_len] = '\0';
	r->len = e.data_len;
	conn->has_request = true;

	memset(ev, 0, sizeof(*ev));
	ev->kind = PFS_EVENT_NODE_REQUEST;
	ev->version = r->handle;
	snprintf(ev->op, sizeof(ev->op), "request");
	snprintf(ev->path, sizeof(ev->path), "%s", r->service);
	snprintf(ev->path2, sizeof(ev->path2), "%s", r->origin_name);
	return 0;
}

int pfs_next_event(struct pfs_conn *conn, struct pfs_event *ev, int timeout_ms)
{
	struct pfs_ipc_event e;
	const char *s;
	ssize_t n;

	n = qb_ipcc_event_recv(conn->c, conn->buf, PFS_IPC_MAX_MSG, timeout_ms);
	if (n == -ETIMEDOUT || n == -EAGAIN)
		return -ETIMEDOUT;
	if (n < 0)
		return -ENOTCONN;
	if ((size_t)n < sizeof(e))
		return -EBADMSG;
	memcpy(&e, conn->buf, sizeof(e));
	if (e.kind == PFS_EVENT_NODE_REQUEST)
		return node_request_event(conn, (size_t)n, ev);
	if (e.magic != PFS_IPC_MAGIC || e.op_len >= sizeof(ev->op) || e.path_len > PFS_MAX_PATH ||
	    e.path2_len > PFS_MAX_PATH || sizeof(e) + e.op_len + e.path_len + e.path2_len != (size_t)n)
		return -EBADMSG;
	s = (const char *)conn->buf + sizeof(e);
	memset(ev, 0, sizeof(*ev));
	ev->kind = (int)e.kind;
	ev->version = e.version;
	memcpy(ev->op, s, e.op_len);
	memcpy(ev->path, s + e.op_len, e.path_len);
	memcpy(ev->path2, s + e.op_len + e.path_len, e.path2_len);
	return 0;
}

int pfs_event_fd(struct pfs_conn *conn, int *fd)
{
	int32_t rv = qb_ipcc_fd_get(conn->c, fd);

	return rv < 0 ? rv : 0;
}

/* Node-addressed requests ------------------------------------------------------- */

int pfs_node_request(struct pfs_conn *conn, const char *node, const char *service,
		     const void *data, size_t len, uint32_t timeout_ms, int *status, char **reply,
		     size_t *reply_len)
{
	struct call k = {.op = PFS_OP_NODE_REQUEST, .path = node, .path2 = service, .data = data,
			 .data_len = len, .timeout_ms = timeout_ms ? timeout_ms : NODE_TIMEOUT_MS};
	int rv;

	if (len > PFS_MAX_NODE_PAYLOAD) {
		snprintf(conn->errmsg, sizeof(conn->errmsg),
			 "request payload of %zu bytes is above the limit of %u bytes", len,
			 PFS_MAX_NODE_PAYLOAD);
		return -E2BIG;
	}
	rv = call(conn, &k);
	if (rv < 0)
		return rv;
	if (reply) {
		*reply = malloc(k.payload_len + 1);
		if (!*reply)
			return -ENOMEM;
		memcpy(*reply, k.payload, k.payload_len);
		(*reply)[k.payload_len] = '\0';
	}
	if (reply_len)
		*reply_len = k.payload_len;
	if (status)
		*status = (int)(int64_t)k.rtoken;
	return 0;
}

int pfs_agent_register(struct pfs_conn *conn, const char *service)
{
	struct call k = {.op = PFS_OP_AGENT_REGISTER, .path = service};

	return call(conn, &k);
}

int pfs_next_node_request(struct pfs_conn *conn, struct pfs_node_request *req, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
	struct pfs_event *ev = malloc(sizeof(*ev));
	int rv, wait = timeout_ms;

	if (!ev)
		return -ENOMEM;
	for (;;) {
		rv = pfs_next_event(conn, ev, wait);
		if (rv < 0 || ev->kind == PFS_EVENT_NODE_REQUEST)
			break;
		/* A watch event: skip it, within what is left of the timeout. */
		if (timeout_ms >= 0) {
			uint64_t now = mono_ms();

			wait = now >= deadline ? 0 : (int)(deadline - now);
		}
	}
	free(ev);
	return rv < 0 ? rv : pfs_node_request_take(conn, req);
}

int pfs_node_request_take(struct pfs_conn *conn, struct pfs_node_request *req)
{
	if (!conn->has_request)
		return -ENOENT;
	*req = conn->request;
	memset(&conn->request, 0, sizeof(conn->request));
	conn->has_request = false;
	return 0;
}

void pfs_node_request_clear(struct pfs_node_request *req)
{
	if (!req)
		return;
	free(req->data);
	memset(req, 0, sizeof(*req));
}

int pfs_node_reply(struct pfs_conn *conn, uint64_t handle, int status, const void *data,
		   size_t len)
{
	struct call k = {.op = PFS_OP_NODE_REPLY, .token = handle, .arg = (uint32_t)status,
			 .data = data, .data_len = len};

	if (len > PFS_MAX_NODE_PAYLOAD) {
		snprintf(conn->errmsg, sizeof(conn->errmsg),
			 "reply payload of %zu bytes is above the limit of %u bytes", len,
			 PFS_MAX_NODE_PAYLOAD);
		return -E2BIG;
	}
	return call(conn, &k);
}
