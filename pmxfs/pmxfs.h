/*
 * libpmxfs: the client library of the pmxfs store.
 *
 * A connection talks to the local pmxfs daemon over libqb IPC (service
 * "pmxfs", or $PMXFS_SERVICE). Paths are absolute within the tree
 * ("/nodes/node1/lxc/100.conf"); "/local", "/lxc" and "/qemu-server" lead
 * to this node's folders under /nodes.
 *
 * Every function returns 0 or a negative errno value. The daemon's
 * one-sentence explanation of the last error is available through
 * pfs_last_error(). Changes return once the daemon has committed them.
 * Error codes of changes: -EEXIST (exists, or the CTID is taken), -ESTALE
 * (expected version differs), -ENOLCK (fencing token not current), -EBUSY
 * (lock held), -ENOENT, -ENOTDIR, -EISDIR, -ENOTEMPTY, -EINVAL (invalid
 * path, name or CTID), -EFBIG, -ENOSPC (store limits), -EACCES, -EIO (the
 * change was not stored), -ETIMEDOUT (no reply in time to a read),
 * -ENOTCONN (daemon not running, or gone before it replied to a read),
 * -EINPROGRESS (outcome unknown: the change was sent, but the connection
 * was lost or the timeout ran out before the reply, or in a cluster the
 * node lost quorum before it learned whether the change was applied).
 * In a cluster also -EROFS (not quorate, changes are disabled) and
 * -EAGAIN (busy, not applied: every member dropped the change, for
 * example because the cluster configuration changed). The library sends
 * such a change again for up to 10 s, or the connection's timeout when
 * that is shorter, before it returns -EAGAIN. After
 * -ETIMEDOUT or -EINPROGRESS a late reply may still arrive, so disconnect
 * instead of sending the next request.
 *
 * One connection carries one request at a time; it is not thread-safe.
 * The library never logs.
 */
#ifndef PMXFS_PMXFS_H
#define PMXFS_PMXFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PFS_API __attribute__((visibility("default")))

struct pfs_conn;

/* Entry types as in pfs_entry.type. */
#define PFS_ENTRY_DIR 4
#define PFS_ENTRY_FILE 8
#define PFS_ENTRY_LINK 10

struct pfs_entry {
	uint64_t inode;
	uint64_t parent;
	uint64_t version; /* tree version at the entry's last change */
	uint32_t writer;  /* node id of the last writer */
	uint32_t mtime;   /* seconds, the writer's clock at the change */
	uint32_t size;
	uint32_t type;
	char *name;       /* in lists only; owned by the list */
};

/* Conditions of a change; a zeroed struct means none. */
struct pfs_cond {
	int has_version;
	uint64_t version; /* expected version; 0 means "must not exist" */
	int has_token;
	uint64_t token;   /* fencing token of a lock held by the caller */
};

/* Event kinds as in pfs_event.kind. */
#define PFS_EVENT_KIND_CHANGE 0
#define PFS_EVENT_KIND_RESYNC 1
#define PFS_EVENT_KIND_OVERFLOW 2
/* A lock this connection acquired is lost; no watch is needed. path is
 * the lock name, version its token and op the cause: "expired" (the
 * lease ran out), "released" (another client released it), "no-quorum"
 * (this node lost quorum) or "replaced" (a sync replaced the tree
 * without it). */
#define PFS_EVENT_KIND_LOCK_LOST 3
/* A request to an agent of this connection (see pfs_agent_register()):
 * version is its handle, op "request", path the service and path2 the
 * requester's node name. pfs_node_request_take() returns all of it. */
#define PFS_EVENT_KIND_NODE_REQUEST 4

struct pfs_event {
	int kind;           /* PFS_EVENT_KIND_* */
	uint64_t version;
	char op[16];        /* "create", "write", "delete", "mkdir", "rmdir", "rename",
			       "lock", "unlock", "expire", "resync", "overflow",
			       "request" */
	char path[4097];
	char path2[4097];   /* rename target, else "" */
};

/* A node-addressed request, as its agent receives it. */
struct pfs_node_request {
	uint64_t handle;      /* pass it to pfs_node_reply() */
	uint32_t origin;      /* node id of the requester */
	char origin_name[64]; /* its node name */
	char service[65];
	uint32_t timeout_ms;  /* the requester waits this long for the reply */
	char *data;           /* the payload, NUL-terminated; owned by the struct */
	size_t len;
};

/*
 * Connect to the daemon. service NULL means $PMXFS_SERVICE or "pmxfs".
 * Errors: -ENOTCONN (no daemon), -ENOMEM.
 */
PFS_API int pfs_connect(const char *service, struct pfs_conn **out);

/*
 * Connect like pfs_connect(), and wait at most timeout_ms (0: 120 s) for
 * the daemon to accept; the timeout then also applies to every request
 * (see pfs_set_timeout()). Errors: -ENOTCONN, -ETIMEDOUT, -ENOMEM.
 */
PFS_API int pfs_connect_timeout(const char *service, uint32_t timeout_ms, struct pfs_conn **out);

/*
 * Set how long each request waits for its reply, in milliseconds; 0
 * restores the default of 120 s. Lock acquisition adds its own timeout.
 */
PFS_API void pfs_set_timeout(struct pfs_conn *conn, uint32_t timeout_ms);

/* Disconnect and free. Accepts NULL. */
PFS_API void pfs_disconnect(struct pfs_conn *conn);

/*
 * In a child after fork(): close the child's copy of the connection's
 * socket and tell pmxfs nothing. The connection then ends when the parent
 * disconnects or dies, not only once the child exits too, so a restarted
 * parent can register its agent service again at once. The child must
 * not use conn afterwards, nor free it. Accepts NULL.
 */
PFS_API void pfs_forget_after_fork(struct pfs_conn *conn);

/* The daemon's message for the last failed request ("" if none). */
PFS_API const char *pfs_last_error(const struct pfs_conn *conn);

/*
 * Whether the daemon replied to the last request while suspended: out of
 * the cluster because it cannot store changes (disk full or failing). A
 * read it served then comes from its last stored tree and may lag behind
 * the cluster. pfs_status() gives "stale_reason" and "stale_since".
 * False for daemons older than this flag.
 */
PFS_API bool pfs_last_stale(const struct pfs_conn *conn);

/*
 * Read a file: *data (caller frees, NUL-terminated) and *len; len and st
 * may be NULL. Also reads the virtual files /.members, /.vmlist and /.version.
 */
PFS_API int pfs_get(struct pfs_conn *conn, const char *path, char **data, size_t *len,
		    struct pfs_entry *st);

PFS_API int pfs_stat(struct pfs_conn *conn, const char *path, struct pfs_entry *st);

/*
 * List a directory in name order (byte order of the names): *entries
 * (free with pfs_list_free()) and *count. A large directory takes several
 * requests, each read from the tree of its moment: a name present
 * throughout is listed exactly once, a name created or removed meanwhile
 * may or may not be, and the entries are not one snapshot. The root also
 * lists the virtual files and the links.
 * Errors: as pfs_stat(), -ENOTDIR, -ENOMEM, -EBADMSG.
 */
PFS_API int pfs_list(struct pfs_conn *conn, const char *path, struct pfs_entry **entries,
		     size_t *count);

/*
 * Read one page of a listing: the names after `after` (NULL or "" for
 * the first page) in name order, at most max of them (0: as many as fit
 * in one response, about 1 MiB). They go to *entries (free with
 * pfs_list_free()) and *count. *more is 1 when names follow the last one,
 * whose name is then the `after` of the next page.
 * Errors: as pfs_list(), and -EOPNOTSUPP from a daemon older than paged
 * listing.
 */
PFS_API int pfs_list_page(struct pfs_conn *conn, const char *path, const char *after,
			  uint32_t max, struct pfs_entry **entries, size_t *count, int *more);
PFS_API void pfs_list_free(struct pfs_entry *entries, size_t count);

/*
 * Changes. cond may be NULL. *version (may be NULL) receives the tree
 * version the change produced, which is also the entry's new version.
 * create fails with -EEXIST if path exists; write creates or replaces.
 */
PFS_API int pfs_create(struct pfs_conn *conn, const char *path, const void *data, size_t len,
		       const struct pfs_cond *cond, uint64_t *version);
PFS_API int pfs_write(struct pfs_conn *conn, const char *path, const void *data, size_t len,
		      const struct pfs_cond *cond, uint64_t *version);
PFS_API int pfs_delete(struct pfs_conn *conn, const char *path, const struct pfs_cond *cond);
PFS_API int pfs_mkdir(struct pfs_conn *conn, const char *path, const struct pfs_cond *cond);
PFS_API int pfs_rmdir(struct pfs_conn *conn, const char *path, const struct pfs_cond *cond);
PFS_API int pfs_rename(struct pfs_conn *conn, const char *from, const char *to,
		       const struct pfs_cond *cond);

/* The daemon status as JSON text (caller frees): node, node_id, quorate,
 * members, version and counters. */
PFS_API int pfs_status(struct pfs_conn *conn, char **json);

/* The SHA-256 digest of the whole tree, 64 hex digits and a NUL. */
PFS_API int pfs_digest(struct pfs_conn *conn, char out[65]);

/*
 * Locks. Acquire waits up to timeout_ms (0: fail with -EBUSY at once)
 * and returns the fencing token. lease_ms 0 means the default (120 s).
 */
PFS_API int pfs_lock_acquire(struct pfs_conn *conn, const char *name, uint32_t lease_ms,
			     uint32_t timeout_ms, uint64_t *token);
PFS_API int pfs_lock_renew(struct pfs_conn *conn, const char *name, uint64_t token);
PFS_API int pfs_lock_release(struct pfs_conn *conn, const char *name, uint64_t token);

/* A client of some node waiting for a lock. */
struct pfs_lock_waiter {
	uint32_t node;       /* node id */
	uint32_t pid;        /* 0 when unknown */
	char node_name[64];  /* "" when unknown */
};

/* A held lock as the daemon shows it. */
struct pfs_lock_state {
	char name[129];
	uint64_t token;
	uint32_t node;          /* node id of the holder */
	char node_name[64];     /* "" when unknown */
	uint32_t pid;           /* the holder's process id on its node, 0 when unknown */
	uint64_t request_id;    /* the holder's request on its node */
	uint32_t lease_ms;
	int64_t lease_left_ms;  /* as this node times the lease; -1 when unknown */
	uint32_t acquired;      /* seconds since the epoch, the holder node's clock */
	size_t nwaiters;
	struct pfs_lock_waiter *waiters; /* first in line first; owned by the list */
};

/*
 * List the held locks in name order with their waiters: *locks (free with
 * pfs_lock_list_free()) and *count. Needs root, like /priv.
 * Errors: -EACCES, -EMSGSIZE (too many for one response), -EBADMSG,
 * -ENOMEM, and the errors of reads.
 */
PFS_API int pfs_lock_list(struct pfs_conn *conn, struct pfs_lock_state **locks, size_t *count);
PFS_API void pfs_lock_list_free(struct pfs_lock_state *locks, size_t count);

/* The ephemeral status area: per node, not persisted. An empty value
 * deletes the key. node 0 means this node. */
PFS_API int pfs_kv_set(struct pfs_conn *conn, const char *key, const void *value, size_t len);
PFS_API int pfs_kv_get(struct pfs_conn *conn, uint32_t node, const char *key, char **value,
		       size_t *len);

/*
 * Watches: events for paths under prefix arrive in apply order; lock loss
 * events arrive without a watch. pfs_next_event() waits up to timeout_ms
 * (-1: forever) for one.
 * Errors of pfs_next_event(): -ETIMEDOUT, -ENOTCONN.
 */
PFS_API int pfs_watch(struct pfs_conn *conn, const char *prefix);
PFS_API int pfs_unwatch(struct pfs_conn *conn, const char *prefix);
PFS_API int pfs_next_event(struct pfs_conn *conn, struct pfs_event *ev, int timeout_ms);

/* The file descriptor to poll for events. */
PFS_API int pfs_event_fd(struct pfs_conn *conn, int *fd);

/*
 * Node-addressed requests: a message from a client on one node to the
 * agent of a named node, with a reply. The daemons pass them through the
 * cluster group. They are not stored and need no quorum, and they reach
 * only nodes whose pmxfs is a member of the group. A request to this
 * node stays on this node. Service names are 1 to 64 letters, digits, '.', '_'
 * or '-'; payloads are at most 64 KiB. Only root may send, serve or reply.
 */

/*
 * Send data (len bytes, may be NULL when len is 0) to the agent of service
 * on node (a node name, or a decimal node id) and wait up to timeout_ms
 * (0: 120 s) for its reply. On success *status is the agent's status: 0,
 * or by convention a negative errno value. *reply (caller frees,
 * NUL-terminated) is its payload. status, reply and reply_len may be NULL.
 * Errors: -ENXIO (no such node in the node list), -EHOSTUNREACH (the node
 * is not a member), -EINPROGRESS (the node left before it replied), -ENOENT (no agent serves
 * service on the node), -ECONNRESET (the agent disconnected before it
 * replied), -EBUSY (the agent does not read its requests), -ETIMEDOUT,
 * -EINVAL (invalid service name), -E2BIG (payload above 64 KiB), -EACCES,
 * -ENOTCONN, -EINPROGRESS (the connection to pmxfs was lost after sending).
 * After any error but -ENXIO, -EINVAL, -E2BIG, -EACCES and -ENOTCONN the
 * agent may have acted on the request.
 */
PFS_API int pfs_node_request(struct pfs_conn *conn, const char *node, const char *service,
			     const void *data, size_t len, uint32_t timeout_ms, int *status,
			     char **reply, size_t *reply_len);

/*
 * Serve service on this node from conn, until conn is closed: its requests
 * arrive as events (pfs_next_node_request(), or pfs_next_event() with
 * pfs_node_request_take()). A connection serves up to 16 services.
 * Errors: -EEXIST (another connection serves service), -EINVAL, -ENOSPC,
 * -EACCES, -ENOTCONN.
 */
PFS_API int pfs_agent_register(struct pfs_conn *conn, const char *service);

/*
 * Wait up to timeout_ms (-1: forever) for the next request to an agent
 * and fill req (clear it with pfs_node_request_clear()). Other events of
 * conn (watches) are skipped: a connection that watches too reads with
 * pfs_next_event() instead.
 * Errors: -ETIMEDOUT, -ENOTCONN, -EBADMSG, -ENOMEM.
 */
PFS_API int pfs_next_node_request(struct pfs_conn *conn, struct pfs_node_request *req,
				  int timeout_ms);

/*
 * Move the request of the last event of kind PFS_EVENT_KIND_NODE_REQUEST
 * that pfs_next_event() returned into req (clear it with
 * pfs_node_request_clear()). A request not taken before the next event is
 * dropped and gets no reply from this agent, so its requester times out.
 * Errors: -ENOENT (no request waiting).
 */
PFS_API int pfs_node_request_take(struct pfs_conn *conn, struct pfs_node_request *req);

/* Free the payload of req and zero it. Accepts NULL. */
PFS_API void pfs_node_request_clear(struct pfs_node_request *req);

/*
 * Reply to the request with handle: status (0, or a negative errno value)
 * and data (len bytes, at most 64 KiB) go to the requester.
 * Errors: -ENOENT (the request is no longer pending: it timed out or its
 * requester left), -EPERM (another connection got it), -E2BIG, -EACCES,
 * -ENOTCONN.
 */
PFS_API int pfs_node_reply(struct pfs_conn *conn, uint64_t handle, int status, const void *data,
			   size_t len);

#endif
