/*
 * pfs_tree: the store's in-memory tree and the deterministic apply
 * functions of the change messages.
 *
 * Rules (they hold on every node, because apply depends only on the tree
 * and the message):
 *  - One version counter for the whole tree, bumped once by every applied
 *    change (and once per entry a lock message creates or deletes). A new
 *    entry's inode is that new version; rename keeps the inode and gives
 *    the entry the new version. The root has inode 0.
 *  - writer and mtime of a changed entry come from the message header.
 *  - Names are 1..255 bytes, not "." or "..", without "/" and without
 *    control characters (bytes below 0x20, 0x7f). Direct children
 *    of /nodes are directories named as DNS labels.
 *  - Limits: PFS_MAX_FILE_SIZE per file (-EFBIG), PFS_TREE_MAX_BYTES of
 *    file data and PFS_TREE_MAX_ENTRIES entries (-ENOSPC).
 *  - Guest configs are files /nodes/<node>/{lxc,qemu-server}/<CTID>.conf
 *    with CTID 100..999999999. A CTID exists at most once across all nodes
 *    and both types; a rename that moves one between nodes (migration) is
 *    allowed. /lost+found is outside these checks.
 *  - /priv/lock/<name> files are lock entries: only lock messages change
 *    them, and a lock's fencing token is its entry's version.
 *
 * The root names .members, .vmlist, .version, local, lxc and qemu-server
 * are reserved: they are virtual files and links made at read time.
 *
 * A dispatch round: pfs_tree_round_begin(), then pfs_tree_apply() for each
 * delivered message, then the caller persists pfs_tree_dirty() (see
 * pfs_db_commit_round()) and only then publishes the round's events,
 * notices and leases, and calls pfs_tree_round_end(). Nothing reads the
 * tree between apply and commit, because both run on one thread; if the
 * commit fails the caller discards this tree and loads a new one from the
 * database.
 */
#ifndef PMXFS_TREE_H
#define PMXFS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pmxfs/wire.h"

#define PFS_ERRMSG_SIZE 256
#define PFS_TREE_MAX_BYTES (128ull * 1024 * 1024) /* total file data */
#define PFS_TREE_MAX_ENTRIES (256u * 1024)        /* entries besides the root */
#define PFS_CTID_MIN 100u
#define PFS_CTID_MAX 999999999u
#define PFS_LOCK_DIR "/priv/lock"

/* Entry types, with the values pmxcfs stores in its `tree` table. */
enum pfs_type {
	PFS_TYPE_DIR = 4,
	PFS_TYPE_FILE = 8,
};

struct pfs_tree;

/* A snapshot of one entry's metadata. */
struct pfs_stat {
	uint64_t inode;
	uint64_t parent;
	uint64_t version;
	uint32_t writer;
	uint32_t mtime;
	uint32_t size;
	enum pfs_type type;
};

/* The outcome of applying one message. */
struct pfs_apply_result {
	int rc;            /* 0 or a negative errno value */
	uint64_t version;  /* tree version after the change */
	uint64_t inode;    /* entry changed or created */
	uint64_t token;    /* ACQUIRE granted at once, RENEW */
	bool queued;       /* ACQUIRE waits in the lock's queue */
	char errmsg[PFS_ERRMSG_SIZE];
};

/* A change to report to watchers after commit. */
struct pfs_tree_event {
	uint64_t version;
	const char *op;  /* "create", "write", "delete", "mkdir", "rmdir", "rename" */
	char *path;
	char *path2;     /* rename target, else NULL */
};

/*
 * The reply to a queued ACQUIRE, made while applying a later message:
 * granted (rc 0, token) on RELEASE or EXPIRE of the holder, or withdrawn
 * (rc -ETIMEDOUT) by a RELEASE with token 0.
 */
struct pfs_notice {
	uint32_t node;
	uint64_t request_id;
	int rc;
	uint64_t token;
};

/* A lease that started or was renewed in this round, for the timekeeper. */
struct pfs_lease {
	char name[PFS_MAX_LOCK_NAME + 1];
	uint64_t token;
	uint32_t lease_ms;
};

/* A held lock as its entry in /priv/lock records it. */
struct pfs_lock_entry {
	char name[PFS_MAX_LOCK_NAME + 1];
	uint64_t token;      /* the entry's version */
	uint32_t mtime;      /* seconds, the sender's clock at the grant */
	uint32_t node;       /* node id of the holder */
	uint64_t request_id; /* the holder's ACQUIRE on its node */
	uint32_t lease_ms;
	uint32_t pid;        /* the holder's process id, 0 when unknown */
	char node_name[PFS_MAX_NODE_NAME + 1]; /* "" when unknown */
};

/* A queued lock ACQUIRE. */
struct pfs_tree_waiter {
	uint32_t node;
	uint32_t pid;        /* 0 when unknown */
	char node_name[PFS_MAX_NODE_NAME + 1];
	uint64_t request_id;
	uint32_t lease_ms;
};

/*
 * Create an empty tree (only the root, version 0).
 * Errors: -ENOMEM.
 */
int pfs_tree_new(struct pfs_tree **out);

/* Free the tree. Accepts NULL. */
void pfs_tree_free(struct pfs_tree *tree);

/* Return the tree version (the number of changes applied so far). */
uint64_t pfs_tree_version(const struct pfs_tree *tree);

/* Return the number of entries besides the root, and the file bytes. */
uint32_t pfs_tree_entry_count(const struct pfs_tree *tree);
uint64_t pfs_tree_byte_count(const struct pfs_tree *tree);

/*
 * Check an absolute path: "/" or "/a/b" with valid names, no empty
 * component and no trailing slash. On error errmsg (may be NULL) gives the reason.
 * Errors: -EINVAL, -ENAMETOOLONG.
 */
int pfs_tree_check_path(const char *path, char *errmsg);

/* Return true when name is a DNS label (1..63 letters, digits, hyphens
 * that are not first or last). */
bool pfs_tree_is_dns_label(const char *name);

/*
 * Return the CTID of a guest config path (/nodes/<node>/lxc/<N>.conf or
 * .../qemu-server/<N>.conf, N without leading zero), or 0 when path is
 * not one. N may be outside the allowed range; the caller checks.
 */
uint64_t pfs_tree_guest_ctid(const char *path);

/*
 * Look up path and fill st. Virtual files and links are not resolved here.
 * Errors: -ENOENT, -ENOTDIR (a component is a file), -EINVAL (bad path).
 */
int pfs_tree_stat(const struct pfs_tree *tree, const char *path, struct pfs_stat *st);

/*
 * Return the contents of the file at path through *data (not a copy: valid
 * until the next apply) and its metadata through st (may be NULL).
 * Errors: as pfs_tree_stat(), and -EISDIR.
 */
int pfs_tree_read(const struct pfs_tree *tree, const char *path, const char **data,
		  struct pfs_stat *st);

/*
 * Call fn for each child of the directory at path, in name order. A
 * nonzero return of fn stops the walk and is returned.
 * Errors: as pfs_tree_stat(), and -ENOTDIR.
 */
typedef int (*pfs_tree_list_fn)(const char *name, const struct pfs_stat *st, void *ctx);
int pfs_tree_list(const struct pfs_tree *tree, const char *path, pfs_tree_list_fn fn, void *ctx);

/*
 * Call fn for every entry (the root excluded) in inode order, with the
 * entry's name and data (NULL for directories).
 */
typedef int (*pfs_tree_walk_fn)(const char *name, const struct pfs_stat *st, const char *data,
				void *ctx);
int pfs_tree_walk(const struct pfs_tree *tree, pfs_tree_walk_fn fn, void *ctx);

/*
 * Write the absolute path of inode into buf of size len.
 * Errors: -ENOENT, -ENAMETOOLONG.
 */
int pfs_tree_path_of(const struct pfs_tree *tree, uint64_t inode, char *buf, size_t len);

/* Compute a SHA-256 digest of the whole tree (every entry's metadata,
 * name and data, in inode order) as 64 hex digits plus NUL. */
int pfs_tree_digest(const struct pfs_tree *tree, char out[65]);

/* Start a dispatch round: clear the dirty set, events, notices, leases. */
void pfs_tree_round_begin(struct pfs_tree *tree);

/*
 * Apply one delivered message and fill res. res->rc is the outcome for the
 * client; a failed change leaves the tree unchanged. Returns res->rc.
 */
int pfs_tree_apply(struct pfs_tree *tree, const struct pfs_msg *msg, struct pfs_apply_result *res);

/*
 * The errors pfs_tree_apply() gives msg whatever the tree holds: a bad
 * path or name, a CTID outside the range, a file over the size limit, a
 * lock entry changed by a file request, a bad lock name or lease. Fills
 * res and returns res->rc; 0 when only the tree can tell. A node that
 * cannot send a change uses it to name a permanent error instead of the
 * missing quorum.
 */
int pfs_tree_precheck(const struct pfs_msg *msg, struct pfs_apply_result *res);

/* The inodes changed or deleted in this round (deleted ones are no longer
 * in the tree). An inode may appear more than once; persisting its current
 * state twice is harmless. */
const uint64_t *pfs_tree_dirty(const struct pfs_tree *tree, size_t *count);
const struct pfs_tree_event *pfs_tree_events(const struct pfs_tree *tree, size_t *count);
const struct pfs_notice *pfs_tree_notices(const struct pfs_tree *tree, size_t *count);
const struct pfs_lease *pfs_tree_leases(const struct pfs_tree *tree, size_t *count);

/* End a round and free its lists. */
void pfs_tree_round_end(struct pfs_tree *tree);

/* Return the status value stored by node for key, or NULL. */
const char *pfs_tree_status_get(const struct pfs_tree *tree, uint32_t node, const char *key,
				uint32_t *len);

/* Call fn for each status value of node (every node when node is 0). */
typedef void (*pfs_tree_status_fn)(uint32_t node, const char *key, const char *value,
				   uint32_t len, void *ctx);
void pfs_tree_status_walk(const struct pfs_tree *tree, uint32_t node, pfs_tree_status_fn fn,
			  void *ctx);

/* Drop the status values of a node that left. */
void pfs_tree_status_drop(struct pfs_tree *tree, uint32_t node);

/* Drop the queued lock ACQUIREs of a node that left (node 0: of every
 * node). */
void pfs_tree_drop_waiters(struct pfs_tree *tree, uint32_t node);

/*
 * Parse the data of a lock entry into the holder fields of *lock: node,
 * request_id, lease_ms, pid and node_name. Entries written before the pid
 * and node name were recorded leave those two empty.
 * Errors: -EBADMSG (not the layout apply writes).
 */
int pfs_tree_lock_parse(const char *data, struct pfs_lock_entry *lock);

/*
 * Call fn for each held lock in name order. An entry whose data does not
 * parse is reported with its name and token only. A nonzero return of fn
 * stops the walk and is returned.
 */
typedef int (*pfs_tree_lock_fn)(const struct pfs_lock_entry *lock, void *ctx);
int pfs_tree_locks(const struct pfs_tree *tree, pfs_tree_lock_fn fn, void *ctx);

/* Call fn for each queued ACQUIRE of the lock name, first in line first. */
typedef int (*pfs_tree_waiter_fn)(const struct pfs_tree_waiter *waiter, void *ctx);
int pfs_tree_lock_waiters(const struct pfs_tree *tree, const char *name, pfs_tree_waiter_fn fn,
			  void *ctx);

/*
 * Build the JSON of the virtual file name (".members", ".vmlist",
 * ".version") into a new string (caller frees). members lists every node
 * of the cluster with its id, whether it is a member now, and its address;
 * local_node is this node's name.
 * Errors: -ENOENT (not a virtual file), -ENOMEM.
 */
struct pfs_member {
	uint32_t id;
	const char *name;
	bool online;
	const char *ip; /* NULL or "" when unknown */
};
int pfs_tree_virtual(const struct pfs_tree *tree, const char *name, const char *local_node,
		     const struct pfs_member *members, size_t nmembers, bool quorate, char **out);

/* Return true for the reserved root names (virtual files and links). */
bool pfs_tree_is_reserved(const char *name);

/*
 * Rewrite a client path that goes through a link (/local, /lxc,
 * /qemu-server) to the real path under /nodes/<node>, into out of size
 * len. Other paths are copied.
 * Errors: -ENAMETOOLONG.
 */
int pfs_tree_resolve_link(const char *node, const char *path, char *out, size_t len);

/*
 * Loading from the database: add entries in any order with
 * pfs__tree_load_entry() (data is copied), set the root's version with
 * pfs__tree_load_root(), then link them with pfs__tree_load_finish().
 * Errors: -ENOMEM, -EEXIST (duplicate inode), -EINVAL (bad entry, missing
 * parent or duplicate name, with errmsg).
 */
int pfs__tree_load_entry(struct pfs_tree *tree, const struct pfs_stat *st, const char *name,
			 const void *data, char *errmsg);
void pfs__tree_load_root(struct pfs_tree *tree, uint64_t version, uint32_t writer,
			 uint32_t mtime);
int pfs__tree_load_finish(struct pfs_tree *tree, char *errmsg);

/* The root's writer and mtime (for the __version__ row). */
void pfs__tree_root_meta(const struct pfs_tree *tree, uint32_t *writer, uint32_t *mtime);

/* Look up an entry by inode: its stat, name and data (NULL for dirs). */
int pfs__tree_by_inode(const struct pfs_tree *tree, uint64_t inode, struct pfs_stat *st,
		       const char **name, const char **data);

#endif
