/*
 * pfs_proto: the client API's messages over libqb IPC (service "pmxfs").
 *
 * Client and daemon run on the same host, so fields are in host byte
 * order; the layouts are fixed-width and pinned with _Static_assert.
 *
 * Request: a libqb request header (id = enum pfs_op, size = whole
 * message), then struct pfs_ipc_req, then path, path2 and data without
 * NUL bytes (their lengths are in the struct).
 *
 * Response: a libqb response header (id = op, size, error = 0 or a
 * negative errno value), then struct pfs_ipc_res, then an error message
 * (errmsg_len bytes) and the payload (data_len bytes). Its flags carry
 * PFS_RES_STALE while the daemon is suspended. Payloads:
 *   GET     struct pfs_ipc_stat, then the file contents
 *   STAT    struct pfs_ipc_stat
 *   LIST    per entry: struct pfs_ipc_stat, u32 name length, the name
 *           (-EMSGSIZE when the directory does not fit in one response)
 *   LIST_PAGE  the same, for the names after path2 (all when path2 is
 *           empty) in byte order, at most arg entries (0: as many as fit);
 *           token is 1 when more names follow the last one, else 0
 *   STATUS  JSON: {"node", "node_id", "quorate", "members", "version", ...}
 *   DIGEST  64 hex digits
 *   KV_GET  the value
 *   LOCK_LIST  per held lock: struct pfs_ipc_lock, the lock name, the
 *           holder's node name, then per waiter (first in line first)
 *           struct pfs_ipc_lock_waiter and its node name
 *   NODE_REQUEST  the agent's reply payload; token is its status (an int32
 *           sign-extended), error a failure of the delivery itself
 *
 * Node-addressed requests (see noderq.h):
 *   AGENT_REGISTER path = service
 *   NODE_REQUEST   path = target node (name or decimal id), path2 =
 *                  service, data = payload, timeout_ms (0: 120 s)
 *   NODE_REPLY     token = request handle, arg = status (int32), data =
 *                  payload
 * Their unused fields must be zero.
 *
 * Event (daemon to client, on the event channel): a libqb response header
 * (id = PFS_OP_EVENT), struct pfs_ipc_event, then op, path and path2. An
 * event of kind PFS_EVENT_NODE_REQUEST is a struct pfs_ipc_node_event
 * instead, then the service, the requester's node name and the payload.
 */
#ifndef PMXFS_PROTO_H
#define PMXFS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <qb/qbipc_common.h>

#include "pmxfs/wire.h"

#define PFS_IPC_SERVICE "pmxfs"
#define PFS_IPC_MAGIC 0x43504650u /* "PFPC" */
/* The largest request or response: a whole file plus two paths, rounded up. */
#define PFS_IPC_MAX_MSG (PFS_MAX_FILE_SIZE + 64 * 1024)

enum pfs_op {
	PFS_OP_GET = 1,
	PFS_OP_STAT = 2,
	PFS_OP_LIST = 3,
	PFS_OP_CREATE = 4,
	PFS_OP_WRITE = 5,
	PFS_OP_DELETE = 6,
	PFS_OP_MKDIR = 7,
	PFS_OP_RMDIR = 8,
	PFS_OP_RENAME = 9,
	PFS_OP_STATUS = 10,
	PFS_OP_WATCH = 11,
	PFS_OP_UNWATCH = 12,
	PFS_OP_LOCK_ACQUIRE = 13,
	PFS_OP_LOCK_RENEW = 14,
	PFS_OP_LOCK_RELEASE = 15,
	PFS_OP_KV_SET = 16,
	PFS_OP_KV_GET = 17,
	PFS_OP_DIGEST = 18,
	PFS_OP_AGENT_REGISTER = 19,
	PFS_OP_NODE_REQUEST = 20,
	PFS_OP_NODE_REPLY = 21,
	PFS_OP_LOCK_LIST = 22,
	PFS_OP_LIST_PAGE = 23,
	PFS_OP_EVENT = 100,
};
#define PFS_OP_MAX PFS_OP_LIST_PAGE

struct pfs_ipc_req {
	struct qb_ipc_request_header hdr;
	uint32_t magic;
	uint32_t flags;             /* PFS_COND_VERSION, PFS_COND_TOKEN */
	uint64_t expected_version;
	uint64_t token;             /* fencing token, or lock token */
	uint32_t arg;               /* lease ms (ACQUIRE); node id (KV_GET); status (NODE_REPLY);
				       most entries (LIST_PAGE) */
	uint32_t timeout_ms;        /* ACQUIRE: how long to wait, 0 = fail at once;
				       NODE_REQUEST: how long to wait for the reply */
	uint32_t path_len;
	uint32_t path2_len;
	uint32_t data_len;
	uint32_t reserved;
};
_Static_assert(sizeof(struct qb_ipc_request_header) == 16, "libqb request header");
_Static_assert(sizeof(struct pfs_ipc_req) == 64, "request size");
_Static_assert(offsetof(struct pfs_ipc_req, path_len) == 48, "request path_len offset");

struct pfs_ipc_res {
	struct qb_ipc_response_header hdr;
	uint32_t magic;
	uint32_t errmsg_len;
	uint32_t data_len;
	uint32_t flags;     /* PFS_RES_STALE; zero from daemons before it */
	uint64_t version;   /* tree version after a change, or of the read */
	uint64_t token;     /* lock token; the agent's status (NODE_REQUEST) */
};
/* The daemon is out of the group because its store cannot write
 * (suspended): a read came from its last stored tree and may lag behind
 * the cluster. Set in every response while it is suspended. */
#define PFS_RES_STALE 0x1u
_Static_assert(sizeof(struct qb_ipc_response_header) == 24, "libqb response header");
_Static_assert(sizeof(struct pfs_ipc_res) == 56, "response size");

struct pfs_ipc_stat {
	uint64_t inode;
	uint64_t parent;
	uint64_t version;
	uint32_t writer;
	uint32_t mtime;
	uint32_t size;
	uint32_t type;      /* 4 directory, 8 file, 10 link (virtual) */
};
_Static_assert(sizeof(struct pfs_ipc_stat) == 40, "stat size");

enum pfs_event_kind {
	PFS_EVENT_CHANGE = 0,
	PFS_EVENT_RESYNC = 1,   /* the tree was replaced: re-read what you watch */
	PFS_EVENT_OVERFLOW = 2, /* events were lost: re-read what you watch */
	PFS_EVENT_LOCK_LOST = 3, /* a lock this connection acquired is lost: op is the
				    cause, path the lock name, version its token */
	PFS_EVENT_NODE_REQUEST = 4, /* a request for an agent: struct pfs_ipc_node_event */
};

struct pfs_ipc_event {
	struct qb_ipc_response_header hdr;
	uint32_t magic;
	uint32_t kind;
	uint64_t version;
	uint32_t op_len;
	uint32_t path_len;
	uint32_t path2_len;
	uint32_t reserved;
};
_Static_assert(sizeof(struct pfs_ipc_event) == 56, "event size");

/* One held lock in a LOCK_LIST response. */
struct pfs_ipc_lock {
	uint64_t token;
	uint64_t request_id;    /* the holder's ACQUIRE on its node */
	int64_t lease_left_ms;  /* as this node times it; -1 when unknown */
	uint32_t node;          /* holder node id */
	uint32_t pid;           /* holder pid, 0 when unknown */
	uint32_t lease_ms;
	uint32_t mtime;         /* seconds, the sender's clock at the grant */
	uint32_t name_len;
	uint32_t node_name_len;
	uint32_t nwaiters;
	uint32_t reserved;
};
_Static_assert(sizeof(struct pfs_ipc_lock) == 56, "lock list entry size");

struct pfs_ipc_lock_waiter {
	uint32_t node;
	uint32_t pid;
	uint32_t node_name_len;
	uint32_t reserved;
};
_Static_assert(sizeof(struct pfs_ipc_lock_waiter) == 16, "lock waiter size");

struct pfs_ipc_node_event {
	struct qb_ipc_response_header hdr;
	uint32_t magic;
	uint32_t kind;          /* PFS_EVENT_NODE_REQUEST, at the offset of pfs_ipc_event's */
	uint64_t handle;        /* the argument of the agent's NODE_REPLY */
	uint32_t origin;        /* node id of the requester */
	uint32_t timeout_ms;    /* the requester's timeout */
	uint32_t service_len;
	uint32_t origin_name_len;
	uint32_t data_len;
	uint32_t reserved;
};
_Static_assert(sizeof(struct pfs_ipc_node_event) == 64, "node event size");
_Static_assert(offsetof(struct pfs_ipc_node_event, kind) == offsetof(struct pfs_ipc_event, kind),
	       "node event kind offset");

/* A decoded request. Strings are NUL-terminated copies; data points into
 * the buffer that was decoded. */
struct pfs_request {
	enum pfs_op op;
	uint32_t flags;
	uint64_t expected_version;
	uint64_t token;
	uint32_t arg;
	uint32_t timeout_ms;
	char path[PFS_MAX_PATH + 1];
	char path2[PFS_MAX_PATH + 1];
	const char *data;
	uint32_t data_len;
};

/*
 * Decode and validate a request of len bytes: sizes agree, lengths are
 * within the limits, strings hold no NUL, the op is known and has the
 * arguments it needs (a path for file operations, a target for RENAME;
 * LIST_PAGE takes a start name in path2 or none).
 * Errors: -EBADMSG (malformed, or a field the op does not use is not
 * zero), -EOPNOTSUPP (unknown op), -E2BIG (data above the file limit, or
 * above PFS_MAX_NODE_PAYLOAD for node requests and replies),
 * -ENAMETOOLONG.
 */
int pfs_request_decode(const void *buf, size_t len, struct pfs_request *req);

/* Return the op name ("get", "write", ...), or "?". */
const char *pfs_op_name(enum pfs_op op);

#endif
