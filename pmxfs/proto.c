/* pfs_proto: decoding and validation of client requests (see proto.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "pmxfs/proto.h"

static const char *const op_names[PFS_OP_MAX + 1] = {
	[PFS_OP_GET] = "get",
	[PFS_OP_STAT] = "stat",
	[PFS_OP_LIST] = "list",
	[PFS_OP_CREATE] = "create",
	[PFS_OP_WRITE] = "write",
	[PFS_OP_DELETE] = "delete",
	[PFS_OP_MKDIR] = "mkdir",
	[PFS_OP_RMDIR] = "rmdir",
	[PFS_OP_RENAME] = "rename",
	[PFS_OP_STATUS] = "status",
	[PFS_OP_WATCH] = "watch",
	[PFS_OP_UNWATCH] = "unwatch",
	[PFS_OP_LOCK_ACQUIRE] = "lock-acquire",
	[PFS_OP_LOCK_RENEW] = "lock-renew",
	[PFS_OP_LOCK_RELEASE] = "lock-release",
	[PFS_OP_KV_SET] = "kv-set",
	[PFS_OP_KV_GET] = "kv-get",
	[PFS_OP_DIGEST] = "digest",
	[PFS_OP_AGENT_REGISTER] = "agent-register",
	[PFS_OP_NODE_REQUEST] = "node-request",
	[PFS_OP_NODE_REPLY] = "node-reply",
	[PFS_OP_LOCK_LIST] = "lock-list",
	[PFS_OP_LIST_PAGE] = "list-page",
};

const char *pfs_op_name(enum pfs_op op)
{
	if ((int)op < 1 || op > PFS_OP_MAX)
		return op == PFS_OP_EVENT ? "event" : "?";
	return op_names[op] ? op_names[op] : "?";
}

/* Which strings each op needs. */
static int needs(enum pfs_op op, int *path, int *path2, int *data)
{
	*path = 1;
	*path2 = op == PFS_OP_RENAME || op == PFS_OP_NODE_REQUEST;
	*data = op == PFS_OP_CREATE || op == PFS_OP_WRITE || op == PFS_OP_KV_SET ||
		op == PFS_OP_NODE_REQUEST || op == PFS_OP_NODE_REPLY;
	if (op == PFS_OP_STATUS || op == PFS_OP_DIGEST || op == PFS_OP_LOCK_LIST ||
	    op == PFS_OP_NODE_REPLY)
		*path = 0;
	return 0;
}

static bool is_node_op(enum pfs_op op)
{
	return op == PFS_OP_AGENT_REGISTER || op == PFS_OP_NODE_REQUEST || op == PFS_OP_NODE_REPLY;
}

/* Node ops: the payload limit, and zero in every field the op does not use. */
static int check_node_op(enum pfs_op op, const struct pfs_ipc_req *h)
{
	if (h->data_len > PFS_MAX_NODE_PAYLOAD)
		return -E2BIG;
	if (h->flags || h->expected_version || h->reserved)
		return -EBADMSG;
	if (op != PFS_OP_NODE_REPLY && (h->token || h->arg))
		return -EBADMSG;
	if (op != PFS_OP_NODE_REQUEST && h->timeout_ms)
		return -EBADMSG;
	return 0;
}

static int copy_string(const char *src, uint32_t len, char *dst, size_t cap)
{
	if (len >= cap)
		return -ENAMETOOLONG;
	if (memchr(src, '\0', len))
		return -EBADMSG;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

int pfs_request_decode(const void *buf, size_t len, struct pfs_request *req)
{
	struct pfs_ipc_req h;
	const char *p = (const char *)buf + sizeof(h);
	int need_path, need_path2, need_data, rv;

	memset(req, 0, sizeof(*req));
	if (len < sizeof(h) || len > PFS_IPC_MAX_MSG)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != PFS_IPC_MAGIC || h.hdr.size < 0 || (size_t)h.hdr.size != len)
		return -EBADMSG;
	/* Unassigned numbers below PFS_OP_MAX have no handler either. */
	if (h.hdr.id < 1 || h.hdr.id > PFS_OP_MAX || !op_names[h.hdr.id])
		return -EOPNOTSUPP;
	if (h.flags & ~PFS_COND_MASK)
		return -EBADMSG;
	if (h.path_len > PFS_MAX_PATH || h.path2_len > PFS_MAX_PATH)
		return -ENAMETOOLONG;
	if (h.data_len > PFS_MAX_FILE_SIZE)
		return -E2BIG;
	if (is_node_op((enum pfs_op)h.hdr.id)) {
		rv = check_node_op((enum pfs_op)h.hdr.id, &h);
		if (rv < 0)
			return rv;
	}
	if ((size_t)h.path_len + h.path2_len + h.data_len != len - sizeof(h))
		return -EBADMSG;

	req->op = (enum pfs_op)h.hdr.id;
	needs(req->op, &need_path, &need_path2, &need_data);
	/* LIST_PAGE starts after the name in path2, or at the first name. */
	if ((need_path && h.path_len == 0) || (!need_path && h.path_len) ||
	    (req->op != PFS_OP_LIST_PAGE && need_path2 != (h.path2_len != 0)) ||
	    (!need_data && h.data_len))
		return -EBADMSG;

	rv = copy_string(p, h.path_len, req->path, sizeof(req->path));
	if (rv == 0)
		rv = copy_string(p + h.path_len, h.path2_len, req->path2, sizeof(req->path2));
	if (rv < 0)
		return rv;
	req->flags = h.flags;
	req->expected_version = h.expected_version;
	req->token = h.token;
	req->arg = h.arg;
	req->timeout_ms = h.timeout_ms;
	req->data = p + h.path_len + h.path2_len;
	req->data_len = h.data_len;
	return 0;
}
