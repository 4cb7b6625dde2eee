/* libpmxfs: client side of the IPC protocol (see pmxfs.h and proto.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <qb/qbipcc.h>

#include "pmxfs/pmxfs.h"
#include "pmxfs/proto.h"

/* LIMIT: how long a request waits for its reply unless pfs_set_timeout()
 * sets another. Changes wait for the commit; lock acquisition adds its
 * own timeout on top. */
#define REQUEST_TIMEOUT_MS 120000
/* Slice of the wait for a reply: a request in flight notices a dead
 * daemon within about this time. */
#define RECV_SLICE_MS 500u

struct pfs_conn {
	qb_ipcc_connection_t *c;
	uint8_t *buf; /* responses and events, PFS_IPC_MAX_MSG bytes */
	uint32_t timeout_ms;
	char errmsg[256];
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
	case PFS_OP_STATUS:
	case PFS_OP_WATCH:
	case PFS_OP_UNWATCH:
	case PFS_OP_KV_GET:
	case PFS_OP_DIGEST:
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
	qb_ipcc_disconnect(conn->c);
	free(conn->buf);
	free(conn);
}

const char *pfs_last_error(const struct pfs_conn *conn)
{
	return conn->errmsg;
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

int pfs_list(struct pfs_conn *conn, const char *path, struct pfs_entry **entries, size_t *count)
{
	struct call k = {.op = PFS_OP_LIST, .path = path};
	struct pfs_entry *list = NULL;
	size_t n = 0, off = 0;
	int rv = call(conn, &k);

	if (rv < 0)
		return rv;
	while (off < k.payload_len) {
		uint32_t nlen;
		struct pfs_entry *grown;

		if (k.payload_len - off < sizeof(struct pfs_ipc_stat) + 4)
			goto err_bad;
		memcpy(&nlen, k.payload + off + sizeof(struct pfs_ipc_stat), 4);
		if (nlen > k.payload_len - off - sizeof(struct pfs_ipc_stat) - 4)
			goto err_bad;
		grown = realloc(list, (n + 1) * sizeof(*list));
		if (!grown) {
			pfs_list_free(list, n);
			return -ENOMEM;
		}
		list = grown;
		get_stat(&list[n], k.payload + off);
		list[n].name = strndup((const char *)k.payload + off + sizeof(struct pfs_ipc_stat) + 4,
				       nlen);
		if (!list[n].name) {
			pfs_list_free(list, n);
			return -ENOMEM;
		}
		n++;
		off += sizeof(struct pfs_ipc_stat) + 4 + nlen;
	}
	*entries = list;
	*count = n;
	return 0;

err_bad:
	pfs_list_free(list, n);
	return -EBADMSG;
}

static int change(struct pfs_conn *conn, enum pfs_op op, const char *path, const char *path2,
		  const void *data, size_t len, const struct pfs_cond *cond, uint64_t *version)
{
	struct call k = {.op = op, .path = path, .path2 = path2, .data = data, .data_len = len,
			 .cond = cond};
	int rv = call(conn, &k);

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
