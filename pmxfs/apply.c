/*
 * pfs_tree_apply(): the deterministic apply functions, one per message
 * type, reached through a dispatch table.
 *
 * Each function validates against the tree and the message only (never
 * the local clock or node), and changes nothing when it fails. Error
 * codes: -EINVAL (bad path or name, the root, reserved name, CTID out of
 * range), -ENAMETOOLONG, -ENOENT, -ENOTDIR, -EISDIR, -EEXIST (exists,
 * CTID taken, a guest config renamed onto a file), -ENOTEMPTY, -EBUSY (a
 * held lock), -ESTALE (version mismatch), -ENOLCK (token not current),
 * -EPERM (lock entries changed by a file operation), -EFBIG, -ENOSPC,
 * -ENOMEM.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/tree_internal.h"

#define LOCK_PREFIX PFS_LOCK_DIR "/"

__attribute__((format(printf, 3, 4))) static int fail(struct pfs_apply_result *res, int rc,
						       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->errmsg, sizeof(res->errmsg), fmt, ap);
	va_end(ap);
	res->rc = rc;
	return rc;
}

static uint64_t bump(struct pfs_tree *tree, const struct pfs_msg *msg)
{
	tree->root.st.version++;
	tree->root.st.writer = msg->writer;
	tree->root.st.mtime = msg->mtime;
	return tree->root.st.version;
}

static int add_event(struct pfs_tree *tree, uint64_t version, const char *op, const char *path,
		     const char *path2)
{
	struct pfs_tree_event *ev;

	if (pfs__grow((void **)&tree->events, &tree->cevents, tree->nevents, sizeof(*ev)) < 0)
		return -ENOMEM;
	ev = &tree->events[tree->nevents];
	ev->version = version;
	ev->op = op;
	ev->path = strdup(path);
	ev->path2 = path2 ? strdup(path2) : NULL;
	if (!ev->path || (path2 && !ev->path2)) {
		free(ev->path);
		free(ev->path2);
		return -ENOMEM;
	}
	tree->nevents++;
	return 0;
}

/* Reserve room in every round list first, so a change is never half
 * recorded: after this the recording below cannot fail. */
static int reserve_round(struct pfs_tree *tree)
{
	if (pfs__grow((void **)&tree->dirty, &tree->cdirty, tree->ndirty + 4, sizeof(uint64_t)) < 0 ||
	    pfs__grow((void **)&tree->events, &tree->cevents, tree->nevents + 4,
		      sizeof(struct pfs_tree_event)) < 0 ||
	    pfs__grow((void **)&tree->notices, &tree->cnotices, tree->nnotices + 1,
		      sizeof(struct pfs_notice)) < 0 ||
	    pfs__grow((void **)&tree->leases, &tree->cleases, tree->nleases + 1,
		      sizeof(struct pfs_lease)) < 0)
		return -ENOMEM;
	return 0;
}

/* Find the parent directory of path and the last name in it. */
static struct pfs__entry *lookup_parent(const struct pfs_tree *tree, const char *path,
					const char **name, struct pfs_apply_result *res)
{
	char parent[PFS_MAX_PATH + 1];
	const char *slash = strrchr(path, '/');
	struct pfs__entry *dir;
	size_t plen;
	int rv;

	rv = pfs_tree_check_path(path, res->errmsg);
	if (rv < 0) {
		res->rc = rv;
		return NULL;
	}
	if (!slash || slash[1] == '\0') {
		fail(res, -EINVAL, "invalid path: the root directory cannot be changed");
		return NULL;
	}
	plen = slash == path ? 1 : (size_t)(slash - path);
	memcpy(parent, path, plen);
	parent[plen] = '\0';
	dir = pfs__lookup(tree, parent, &rv);
	if (!dir) {
		fail(res, rv, rv == -ENOENT ? "parent directory of '%s' not found"
					    : "a component of '%s' is not a directory", path);
		return NULL;
	}
	if (dir->st.type != PFS_TYPE_DIR) {
		fail(res, -ENOTDIR, "parent of '%s' is not a directory", path);
		return NULL;
	}
	*name = slash + 1;
	return dir;
}

/* Rules for a new name in dir: reserved root names, /nodes children. */
static int check_new_name(const struct pfs__entry *dir, const char *path, const char *name,
			  enum pfs_type type, struct pfs_apply_result *res)
{
	if (dir->st.inode == 0 && pfs_tree_is_reserved(name))
		return fail(res, -EINVAL, "'%s' is a reserved name", path);
	if (!strncmp(path, "/nodes/", 7) && !strchr(path + 7, '/') &&
	    (type != PFS_TYPE_DIR || !pfs_tree_is_dns_label(name)))
		return fail(res, -EINVAL,
			    "'%s' is invalid: entries in /nodes are directories named as DNS labels",
			    path);
	return 0;
}

static bool is_lock_path(const char *path)
{
	return path && !strncmp(path, LOCK_PREFIX, strlen(LOCK_PREFIX));
}

/* The lock entry whose token (= inode = version) is token, or NULL. */
static struct pfs__entry *lock_by_token(const struct pfs_tree *tree, uint64_t token)
{
	struct pfs__entry *e = token ? pfs__by_inode(tree, token) : NULL;
	struct pfs__entry *dir;
	int rv;

	if (!e || e->st.type != PFS_TYPE_FILE || e->st.version != token)
		return NULL;
	dir = pfs__lookup(tree, PFS_LOCK_DIR, &rv);
	return dir && e->st.parent == dir->st.inode ? e : NULL;
}

/* Check the expected version (0 = must not exist) and the fencing token. */
static int check_cond(const struct pfs_tree *tree, const struct pfs_msg *msg,
		      const struct pfs__entry *e, struct pfs_apply_result *res)
{
	uint64_t have = e ? e->st.version : 0;

	if ((msg->flags & PFS_COND_VERSION) && have != msg->expected_version && !e)
		return fail(res, -ESTALE, "'%s' does not exist, expected version %" PRIu64,
			    msg->path, msg->expected_version);
	if ((msg->flags & PFS_COND_VERSION) && have != msg->expected_version &&
	    msg->expected_version == 0)
		return fail(res, -ESTALE, "'%s' exists with version %" PRIu64 ", expected it not "
			    "to exist (version 0)", msg->path, have);
	if ((msg->flags & PFS_COND_VERSION) && have != msg->expected_version)
		return fail(res, -ESTALE, "version of '%s' is %" PRIu64 ", expected %" PRIu64,
			    msg->path, have, msg->expected_version);
	if ((msg->flags & PFS_COND_TOKEN) && !lock_by_token(tree, msg->token))
		return fail(res, -ENOLCK, "fencing token %" PRIu64 " is not the current token of a lock",
			    msg->token);
	return 0;
}

/* The guest config that uses ctid, other than skip1 and skip2; NULL when
 * the CTID is free. */
static struct pfs__entry *find_ctid(const struct pfs_tree *tree, uint64_t ctid,
				    const struct pfs__entry *skip1, const struct pfs__entry *skip2,
				    char *where, size_t len)
{
	static const char *const types[] = {"lxc", "qemu-server"};
	struct pfs__entry *nodes, *node, *found = NULL;
	char file[32];
	int rv;

	nodes = pfs__lookup(tree, "/nodes", &rv);
	if (!nodes || nodes->st.type != PFS_TYPE_DIR)
		return NULL;
	snprintf(file, sizeof(file), "%" PRIu64 ".conf", ctid);
	for (node = nodes->first_child; node && !found; node = node->next_sibling) {
		for (int i = 0; i < 2 && !found; i++) {
			struct pfs__entry *dir = pfs__child(tree, node, types[i]);
			struct pfs__entry *c = dir ? pfs__child(tree, dir, file) : NULL;

			if (c && c != skip1 && c != skip2 && c->st.type == PFS_TYPE_FILE) {
				found = c;
				snprintf(where, len, "%s on node %s", types[i], node->name);
			}
		}
	}
	return found;
}

/* CTID rules for a file that will exist at path (skip: the entry moved). */
static int check_ctid(const struct pfs_tree *tree, const char *path, enum pfs_type type,
		      const struct pfs__entry *skip, const struct pfs__entry *replaced,
		      struct pfs_apply_result *res)
{
	uint64_t ctid = pfs_tree_guest_ctid(path);
	char where[128];

	if (ctid == 0)
		return 0;
	if (type != PFS_TYPE_FILE)
		return fail(res, -EINVAL, "'%s' is a guest config name and must be a file", path);
	if (ctid < PFS_CTID_MIN || ctid > PFS_CTID_MAX)
		return fail(res, -EINVAL, "CTID in '%s' is outside %u..%u", path, PFS_CTID_MIN,
			    PFS_CTID_MAX);

	/* The entry that moves and the one it replaces do not count. */
	if (find_ctid(tree, ctid, skip, replaced, where, sizeof(where)))
		return fail(res, -EEXIST, "CTID %" PRIu64 " already exists (%s)", ctid, where);
	return 0;
}

static int check_limits(const struct pfs_tree *tree, uint32_t new_entries, uint64_t old_size,
			uint64_t new_size, struct pfs_apply_result *res)
{
	if (new_size > PFS_MAX_FILE_SIZE)
		return fail(res, -EFBIG, "file size %" PRIu64 " is above the limit of %u bytes",
			    new_size, PFS_MAX_FILE_SIZE);
	if (tree->bytes - old_size + new_size > PFS_TREE_MAX_BYTES)
		return fail(res, -ENOSPC, "the store would hold more than %llu bytes of file data",
			    PFS_TREE_MAX_BYTES);
	if (tree->entries + new_entries > PFS_TREE_MAX_ENTRIES)
		return fail(res, -ENOSPC, "the store would hold more than %u entries",
			    PFS_TREE_MAX_ENTRIES);
	return 0;
}

static char *copy_data(const struct pfs_msg *msg)
{
	char *d = malloc((size_t)msg->data_len + 1);

	if (d) {
		if (msg->data_len)
			memcpy(d, msg->data, msg->data_len);
		d[msg->data_len] = '\0';
	}
	return d;
}

/* Create a file or directory at path, which must not exist. */
static int add_new(struct pfs_tree *tree, const struct pfs_msg *msg, struct pfs__entry *dir,
		   const char *name, enum pfs_type type, struct pfs_apply_result *res)
{
	uint32_t size = type == PFS_TYPE_FILE ? msg->data_len : 0;
	struct pfs__entry *e;
	char *data = NULL;
	uint64_t version;

	if (check_new_name(dir, msg->path, name, type, res) < 0 ||
	    check_ctid(tree, msg->path, type, NULL, NULL, res) < 0 ||
	    check_limits(tree, 1, 0, size, res) < 0)
		return res->rc;
	if (type == PFS_TYPE_FILE && !(data = copy_data(msg)))
		return fail(res, -ENOMEM, "out of memory");

	version = tree->root.st.version + 1;
	e = pfs__entry_add(tree, dir, name, type, data, size, version, msg->writer, msg->mtime);
	if (!e) {
		free(data);
		return fail(res, -ENOMEM, "out of memory");
	}
	bump(tree, msg);
	pfs__mark_dirty(tree, e->st.inode);
	add_event(tree, version, type == PFS_TYPE_FILE ? "create" : "mkdir", msg->path, NULL);
	res->version = version;
	res->inode = e->st.inode;
	return 0;
}

static int apply_create(struct pfs_tree *tree, const struct pfs_msg *msg,
			struct pfs_apply_result *res, enum pfs_type type)
{
	struct pfs__entry *dir;
	const char *name;

	if (is_lock_path(msg->path))
		return fail(res, -EPERM, "'%s' is a lock entry: use lock requests", msg->path);
	dir = lookup_parent(tree, msg->path, &name, res);
	if (!dir)
		return res->rc;
	if (pfs__child(tree, dir, name))
		return fail(res, -EEXIST, "'%s' already exists", msg->path);
	if (check_cond(tree, msg, NULL, res) < 0)
		return res->rc;
	return add_new(tree, msg, dir, name, type, res);
}

static int apply_create_file(struct pfs_tree *tree, const struct pfs_msg *msg,
			     struct pfs_apply_result *res)
{
	return apply_create(tree, msg, res, PFS_TYPE_FILE);
}

static int apply_mkdir(struct pfs_tree *tree, const struct pfs_msg *msg,
		       struct pfs_apply_result *res)
{
	return apply_create(tree, msg, res, PFS_TYPE_DIR);
}

/* Replace a file's contents, or create it when it does not exist. */
static int apply_write(struct pfs_tree *tree, const struct pfs_msg *msg,
		       struct pfs_apply_result *res)
{
	struct pfs__entry *dir, *e;
	const char *name;
	char *data;

	if (is_lock_path(msg->path))
		return fail(res, -EPERM, "'%s' is a lock entry: use lock requests", msg->path);
	dir = lookup_parent(tree, msg->path, &name, res);
	if (!dir)
		return res->rc;
	e = pfs__child(tree, dir, name);
	if (check_cond(tree, msg, e, res) < 0)
		return res->rc;
	if (!e)
		return add_new(tree, msg, dir, name, PFS_TYPE_FILE, res);
	if (e->st.type != PFS_TYPE_FILE)
		return fail(res, -EISDIR, "'%s' is a directory", msg->path);
	if (check_limits(tree, 0, e->st.size, msg->data_len, res) < 0)
		return res->rc;
	data = copy_data(msg);
	if (!data)
		return fail(res, -ENOMEM, "out of memory");

	free(e->data);
	e->data = data;
	tree->bytes = tree->bytes - e->st.size + msg->data_len;
	e->st.size = msg->data_len;
	e->st.version = bump(tree, msg);
	e->st.writer = msg->writer;
	e->st.mtime = msg->mtime;
	pfs__mark_dirty(tree, e->st.inode);
	add_event(tree, e->st.version, "write", msg->path, NULL);
	res->version = e->st.version;
	res->inode = e->st.inode;
	return 0;
}

/* Look up an existing entry for delete, rmdir and rename. */
static struct pfs__entry *lookup_existing(const struct pfs_tree *tree, const char *path,
					  struct pfs_apply_result *res)
{
	struct pfs__entry *e;
	int rv = pfs_tree_check_path(path, res->errmsg);

	if (rv < 0) {
		res->rc = rv;
		return NULL;
	}
	e = pfs__lookup(tree, path, &rv);
	if (!e) {
		fail(res, rv, rv == -ENOENT ? "'%s' not found" : "a component of '%s' is not a directory",
		     path);
		return NULL;
	}
	if (e->st.inode == 0) {
		fail(res, -EINVAL, "invalid path: the root directory cannot be changed");
		return NULL;
	}
	return e;
}

static int remove_entry(struct pfs_tree *tree, const struct pfs_msg *msg, struct pfs__entry *e,
			const char *op, struct pfs_apply_result *res)
{
	uint64_t inode = e->st.inode;

	pfs__entry_remove(tree, e);
	res->version = bump(tree, msg);
	res->inode = inode;
	pfs__mark_dirty(tree, inode);
	add_event(tree, res->version, op, msg->path, NULL);
	return 0;
}

static int apply_delete(struct pfs_tree *tree, const struct pfs_msg *msg,
			struct pfs_apply_result *res)
{
	struct pfs__entry *e = lookup_existing(tree, msg->path, res);

	if (!e)
		return res->rc;
	if (is_lock_path(msg->path))
		return fail(res, -EPERM, "'%s' is a lock entry: use lock requests", msg->path);
	if (e->st.type == PFS_TYPE_DIR)
		return fail(res, -EISDIR, "'%s' is a directory: use rmdir", msg->path);
	if (check_cond(tree, msg, e, res) < 0)
		return res->rc;
	return remove_entry(tree, msg, e, "delete", res);
}

static int apply_rmdir(struct pfs_tree *tree, const struct pfs_msg *msg,
		       struct pfs_apply_result *res)
{
	struct pfs__entry *e = lookup_existing(tree, msg->path, res);

	if (!e)
		return res->rc;
	if (e->st.type != PFS_TYPE_DIR)
		return fail(res, -ENOTDIR, "'%s' is not a directory", msg->path);
	if (e->nchildren > 0)
		return fail(res, -ENOTEMPTY, "directory '%s' is not empty", msg->path);
	if (check_cond(tree, msg, e, res) < 0)
		return res->rc;
	return remove_entry(tree, msg, e, "rmdir", res);
}

/*
 * Check a rename of a guest config onto the existing file old. Without a
 * condition it would silently replace another file (often another guest's
 * config), so it needs the expected version, and that is compared with the
 * target's version instead of the source's. Renames of other files onto
 * existing ones (write a temporary file, rename it over the config) keep
 * comparing with the source.
 */
static int check_guest_replace(const struct pfs_tree *tree, const struct pfs_msg *msg,
			       const struct pfs__entry *old, struct pfs_apply_result *res)
{
	struct pfs_msg token_only = *msg;

	if (!(msg->flags & PFS_COND_VERSION))
		return fail(res, -EEXIST,
			    "renaming guest config '%s' onto '%s' would replace an existing file; "
			    "give the target's version as the expected version to replace it",
			    msg->path, msg->path2);
	if (old->st.version != msg->expected_version)
		return fail(res, -ESTALE, "version of '%s' is %" PRIu64 ", expected %" PRIu64,
			    msg->path2, old->st.version, msg->expected_version);
	token_only.flags &= ~(uint32_t)PFS_COND_VERSION;
	return check_cond(tree, &token_only, NULL, res);
}

/*
 * Move an entry to path2, replacing a file there. A directory moves only
 * when empty, so a subtree never changes its CTIDs or paths at once.
 */
static int apply_rename(struct pfs_tree *tree, const struct pfs_msg *msg,
			struct pfs_apply_result *res)
{
	struct pfs__entry *src, *dir, *old;
	const char *name;
	char *new_name, *key;
	uint64_t removed = 0;

	src = lookup_existing(tree, msg->path, res);
	if (!src)
		return res->rc;
	if (is_lock_path(msg->path) || is_lock_path(msg->path2))
		return fail(res, -EPERM, "lock entries change only through lock requests");
	dir = lookup_parent(tree, msg->path2, &name, res);
	if (!dir)
		return res->rc;
	if (src->st.type == PFS_TYPE_DIR && src->nchildren > 0)
		return fail(res, -ENOTEMPTY, "directory '%s' is not empty", msg->path);
	old = pfs__child(tree, dir, name);
	if (old == src)
		return fail(res, -EINVAL, "'%s' and '%s' are the same entry", msg->path, msg->path2);
	if (old && old->st.type == PFS_TYPE_DIR)
		return fail(res, -EISDIR, "target '%s' is a directory", msg->path2);
	if (old && src->st.type == PFS_TYPE_DIR)
		return fail(res, -EEXIST, "target '%s' already exists", msg->path2);
	if (old && pfs_tree_guest_ctid(msg->path) != 0) {
		if (check_guest_replace(tree, msg, old, res) < 0)
			return res->rc;
	} else if (check_cond(tree, msg, src, res) < 0) {
		return res->rc;
	}
	if (check_new_name(dir, msg->path2, name, src->st.type, res) < 0 ||
	    check_ctid(tree, msg->path2, src->st.type, src, old, res) < 0)
		return res->rc;
	new_name = strdup(name);
	key = pfs__name_key(dir->st.inode, name);
	if (!new_name || !key) {
		free(new_name);
		free(key);
		return fail(res, -ENOMEM, "out of memory");
	}

	/* Replace the target, then move src under its new name. */
	if (old) {
		removed = old->st.inode;
		pfs__entry_remove(tree, old);
	}
	pfs__unlink(tree, src);
	free(src->name);
	src->name = new_name;
	pfs__link_key(tree, dir, src, key);
	src->st.version = bump(tree, msg);
	src->st.writer = msg->writer;
	src->st.mtime = msg->mtime;

	pfs__mark_dirty(tree, src->st.inode);
	if (removed)
		pfs__mark_dirty(tree, removed);
	add_event(tree, src->st.version, "rename", msg->path, msg->path2);
	res->version = src->st.version;
	res->inode = src->st.inode;
	return 0;
}

/* Locks ------------------------------------------------------------------ */

static int check_lock_name(const char *name, struct pfs_apply_result *res)
{
	size_t len = strlen(name);

	if (len == 0 || len > PFS_MAX_LOCK_NAME || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return fail(res, -EINVAL, "invalid lock name '%.64s'", name);
	return 0;
}

/* Make a directory at path unless it exists (a change of its own). */
static struct pfs__entry *ensure_dir(struct pfs_tree *tree, const struct pfs_msg *msg,
				     struct pfs__entry *parent, const char *name, const char *path)
{
	struct pfs__entry *e = pfs__child(tree, parent, name);
	uint64_t version;

	if (e)
		return e->st.type == PFS_TYPE_DIR ? e : NULL;
	version = tree->root.st.version + 1;
	e = pfs__entry_add(tree, parent, name, PFS_TYPE_DIR, NULL, 0, version, msg->writer,
			   msg->mtime);
	if (e) {
		bump(tree, msg);
		pfs__mark_dirty(tree, e->st.inode);
		add_event(tree, version, "mkdir", path, NULL);
	}
	return e;
}

/* The requester of a lock: the fields of an ACQUIRE that its entry keeps. */
struct holder {
	uint32_t node;
	uint64_t request_id;
	uint32_t lease_ms;
	uint32_t pid;
	const char *node_name;
};

/* LIMIT: the longest entry text, with the largest numbers and a 63-byte
 * node name, is 154 bytes. */
#define LOCK_ENTRY_SIZE 192

/* Create the lock entry for holder h and record its lease. */
static int grant(struct pfs_tree *tree, const struct pfs_msg *msg, const char *name,
		 const struct holder *h, uint64_t *token)
{
	struct pfs__entry *priv, *dir, *e;
	char path[sizeof(LOCK_PREFIX) + PFS_MAX_LOCK_NAME], *data;
	struct pfs_lease *lease;
	uint64_t version;
	int n;

	priv = ensure_dir(tree, msg, &tree->root, "priv", "/priv");
	dir = priv ? ensure_dir(tree, msg, priv, "lock", PFS_LOCK_DIR) : NULL;
	if (!dir)
		return -ENOTDIR;

	data = malloc(LOCK_ENTRY_SIZE);
	if (!data)
		return -ENOMEM;
	n = snprintf(data, LOCK_ENTRY_SIZE,
		     "node %u\nrequest %" PRIu64 "\nlease_ms %u\npid %u\nnode_name %s\n", h->node,
		     h->request_id, h->lease_ms, h->pid, h->node_name);
	version = tree->root.st.version + 1;
	e = pfs__entry_add(tree, dir, name, PFS_TYPE_FILE, data, (uint32_t)n, version, msg->writer,
			   msg->mtime);
	if (!e) {
		free(data);
		return -ENOMEM;
	}
	bump(tree, msg);
	pfs__mark_dirty(tree, e->st.inode);
	snprintf(path, sizeof(path), LOCK_PREFIX "%s", name);
	add_event(tree, version, "lock", path, NULL);

	lease = &tree->leases[tree->nleases++];
	snprintf(lease->name, sizeof(lease->name), "%s", name);
	lease->token = version;
	lease->lease_ms = h->lease_ms;
	*token = version;
	return 0;
}

static struct pfs__entry *lock_entry(const struct pfs_tree *tree, const char *name)
{
	char path[sizeof(LOCK_PREFIX) + PFS_MAX_LOCK_NAME];
	int rv;

	snprintf(path, sizeof(path), LOCK_PREFIX "%s", name);
	return pfs__lookup(tree, path, &rv);
}

static int apply_acquire(struct pfs_tree *tree, const struct pfs_msg *msg,
			 struct pfs_apply_result *res)
{
	const char *node_name = msg->node_name ? msg->node_name : "";
	struct holder h = {msg->writer, msg->request_id, msg->lease_ms, msg->pid, node_name};
	struct pfs__waiter *w, **tail;
	int rv;

	if (check_lock_name(msg->path, res) < 0)
		return res->rc;
	if (msg->lease_ms == 0)
		return fail(res, -EINVAL, "lease of lock '%s' is 0 ms", msg->path);
	if (node_name[0] && !pfs_tree_is_dns_label(node_name))
		return fail(res, -EINVAL, "node name '%.64s' in the request for lock '%s' is invalid",
			    node_name, msg->path);
	if (!lock_entry(tree, msg->path)) {
		if (check_limits(tree, 3, 0, 0, res) < 0)
			return res->rc;
		rv = grant(tree, msg, msg->path, &h, &res->token);
		if (rv < 0)
			return fail(res, rv, "cannot create lock '%s': /priv/lock is not a directory",
				    msg->path);
		res->version = res->inode = res->token;
		return 0;
	}
	if (msg->waiter_id == 0)
		return fail(res, -EBUSY, "lock '%s' is held", msg->path);

	/* Queue behind the holder and earlier waiters, in delivery order. */
	w = calloc(1, sizeof(*w));
	if (!w)
		return fail(res, -ENOMEM, "out of memory");
	snprintf(w->name, sizeof(w->name), "%s", msg->path);
	w->node = msg->writer;
	w->request_id = msg->request_id;
	w->lease_ms = msg->lease_ms;
	w->pid = msg->pid;
	snprintf(w->node_name, sizeof(w->node_name), "%s", node_name);
	for (tail = &tree->waiters; *tail; tail = &(*tail)->next)
		;
	*tail = w;
	res->queued = true;
	return 0;
}

static int apply_renew(struct pfs_tree *tree, const struct pfs_msg *msg,
		       struct pfs_apply_result *res)
{
	struct pfs__entry *e = lock_by_token(tree, msg->token);
	struct pfs_lock_entry held = {0};
	struct pfs_lease *lease;

	if (!e || strcmp(e->name, msg->path) != 0)
		return fail(res, -ENOLCK, "token %" PRIu64 " does not hold lock '%s'", msg->token,
			    msg->path);
	if (e->data)
		pfs_tree_lock_parse(e->data, &held);
	lease = &tree->leases[tree->nleases++];
	snprintf(lease->name, sizeof(lease->name), "%s", msg->path);
	lease->token = msg->token;
	lease->lease_ms = held.lease_ms;
	res->token = msg->token;
	res->version = tree->root.st.version;
	return 0;
}

/* Hand a released lock to its first waiter, if any. */
static void grant_next(struct pfs_tree *tree, const struct pfs_msg *msg, const char *name)
{
	struct pfs__waiter **pw, *w;
	struct pfs_notice *n;
	struct holder h;
	uint64_t token = 0;
	int rv;

	for (pw = &tree->waiters; *pw; pw = &(*pw)->next)
		if (!strcmp((*pw)->name, name))
			break;
	w = *pw;
	if (!w)
		return;
	*pw = w->next;
	h = (struct holder){w->node, w->request_id, w->lease_ms, w->pid, w->node_name};
	rv = grant(tree, msg, name, &h, &token);
	n = &tree->notices[tree->nnotices++];
	n->node = w->node;
	n->request_id = w->request_id;
	n->rc = rv;
	n->token = token;
	free(w);
}

static int withdraw(struct pfs_tree *tree, const struct pfs_msg *msg, struct pfs_apply_result *res)
{
	struct pfs__waiter **pw, *w;
	struct pfs_notice *n;

	for (pw = &tree->waiters; *pw; pw = &(*pw)->next)
		if ((*pw)->node == msg->writer && (*pw)->request_id == msg->waiter_id &&
		    !strcmp((*pw)->name, msg->path))
			break;
	w = *pw;
	if (!w)
		return fail(res, -ENOENT, "no waiter %" PRIu64 " for lock '%s'", msg->waiter_id,
			    msg->path);
	*pw = w->next;
	n = &tree->notices[tree->nnotices++];
	n->node = w->node;
	n->request_id = w->request_id;
	n->rc = -ETIMEDOUT;
	n->token = 0;
	free(w);
	res->version = tree->root.st.version;
	return 0;
}

static int release(struct pfs_tree *tree, const struct pfs_msg *msg, struct pfs_apply_result *res,
		   const char *op)
{
	struct pfs__entry *e;
	char path[sizeof(LOCK_PREFIX) + PFS_MAX_LOCK_NAME];
	uint64_t inode;

	if (check_lock_name(msg->path, res) < 0)
		return res->rc;
	if (msg->type == PFS_MSG_LOCK_RELEASE && msg->token == 0)
		return withdraw(tree, msg, res);
	e = lock_by_token(tree, msg->token);
	if (!e || strcmp(e->name, msg->path) != 0)
		return fail(res, -ENOLCK, "token %" PRIu64 " does not hold lock '%s'", msg->token,
			    msg->path);

	inode = e->st.inode;
	pfs__entry_remove(tree, e);
	res->version = bump(tree, msg);
	pfs__mark_dirty(tree, inode);
	snprintf(path, sizeof(path), LOCK_PREFIX "%s", msg->path);
	add_event(tree, res->version, op, path, NULL);
	grant_next(tree, msg, msg->path);
	return 0;
}

static int apply_release(struct pfs_tree *tree, const struct pfs_msg *msg,
			 struct pfs_apply_result *res)
{
	return release(tree, msg, res, "unlock");
}

static int apply_expire(struct pfs_tree *tree, const struct pfs_msg *msg,
			struct pfs_apply_result *res)
{
	return release(tree, msg, res, "expire");
}

/* The ephemeral status area: per node, not versioned, not persisted. */
static int apply_status_set(struct pfs_tree *tree, const struct pfs_msg *msg,
			    struct pfs_apply_result *res)
{
	char key[16 + PFS_MAX_STATUS_KEY];
	struct pfs__status_value *sv;

	snprintf(key, sizeof(key), "%08x/%s", msg->writer, msg->path);
	sv = qb_map_get(tree->status, key);
	if (msg->data_len == 0) {
		if (sv) {
			qb_map_rm(tree->status, key);
			free(sv->key);
			free(sv->value);
			free(sv);
		}
		return 0;
	}
	if (!sv) {
		sv = calloc(1, sizeof(*sv));
		if (!sv || !(sv->key = strdup(key))) {
			free(sv);
			return fail(res, -ENOMEM, "out of memory");
		}
		sv->node = msg->writer;
		qb_map_put(tree->status, sv->key, sv);
	}
	free(sv->value);
	sv->value = copy_data(msg);
	sv->len = sv->value ? msg->data_len : 0;
	if (!sv->value)
		return fail(res, -ENOMEM, "out of memory");
	res->version = tree->root.st.version;
	return 0;
}

typedef int (*apply_fn)(struct pfs_tree *tree, const struct pfs_msg *msg,
			struct pfs_apply_result *res);

static const apply_fn handlers[PFS_MSG_TYPE_MAX + 1] = {
	[PFS_MSG_CREATE] = apply_create_file,
	[PFS_MSG_WRITE] = apply_write,
	[PFS_MSG_DELETE] = apply_delete,
	[PFS_MSG_MKDIR] = apply_mkdir,
	[PFS_MSG_RMDIR] = apply_rmdir,
	[PFS_MSG_RENAME] = apply_rename,
	[PFS_MSG_LOCK_ACQUIRE] = apply_acquire,
	[PFS_MSG_LOCK_RENEW] = apply_renew,
	[PFS_MSG_LOCK_RELEASE] = apply_release,
	[PFS_MSG_LOCK_EXPIRE] = apply_expire,
	[PFS_MSG_STATUS_SET] = apply_status_set,
};

int pfs_tree_apply(struct pfs_tree *tree, const struct pfs_msg *msg, struct pfs_apply_result *res)
{
	memset(res, 0, sizeof(*res));
	/* Node-addressed requests share the format but never change the tree. */
	if ((int)msg->type < 1 || msg->type > PFS_MSG_TYPE_MAX || !handlers[msg->type] || !msg->path)
		return fail(res, -EINVAL, "invalid message type %d", (int)msg->type);
	if (reserve_round(tree) < 0)
		return fail(res, -ENOMEM, "out of memory");
	res->rc = handlers[msg->type](tree, msg, res);
	if (res->rc == 0)
		res->errmsg[0] = '\0';
	return res->rc;
}

/* Prechecks --------------------------------------------------------------- */

/* Check the path rules of lookup_parent() and lookup_existing(). */
static int precheck_path(const char *path, struct pfs_apply_result *res)
{
	const char *slash;
	int rv = pfs_tree_check_path(path, res->errmsg);

	if (rv < 0) {
		res->rc = rv;
		return rv;
	}
	slash = strrchr(path, '/');
	if (!slash || slash[1] == '\0')
		return fail(res, -EINVAL, "invalid path: the root directory cannot be changed");
	return 0;
}

/* Check the CTID rules of check_ctid() except the search for a taken CTID. */
static int precheck_ctid(const char *path, bool dir, struct pfs_apply_result *res)
{
	uint64_t ctid = pfs_tree_guest_ctid(path);

	if (ctid == 0)
		return 0;
	if (dir)
		return fail(res, -EINVAL, "'%s' is a guest config name and must be a file", path);
	if (ctid < PFS_CTID_MIN || ctid > PFS_CTID_MAX)
		return fail(res, -EINVAL, "CTID in '%s' is outside %u..%u", path, PFS_CTID_MIN,
			    PFS_CTID_MAX);
	return 0;
}

static int precheck_new_name(const char *path, bool dir, struct pfs_apply_result *res)
{
	const char *name = strrchr(path, '/') + 1;

	if (name - 1 == path && pfs_tree_is_reserved(name))
		return fail(res, -EINVAL, "'%s' is a reserved name", path);
	if (!strncmp(path, "/nodes/", 7) && !strchr(path + 7, '/') &&
	    (!dir || !pfs_tree_is_dns_label(name)))
		return fail(res, -EINVAL,
			    "'%s' is invalid: entries in /nodes are directories named as DNS labels",
			    path);
	return precheck_ctid(path, dir, res);
}

/*
 * Check the rules of pfs_tree_apply() that need no tree. Apply rejects
 * whatever this rejects, on any tree, because its other checks (parent,
 * entry, condition) only add errors.
 */
int pfs_tree_precheck(const struct pfs_msg *msg, struct pfs_apply_result *res)
{
	bool dir = msg->type == PFS_MSG_MKDIR;

	memset(res, 0, sizeof(*res));
	if (!msg->path)
		return fail(res, -EINVAL, "invalid message type %d", (int)msg->type);
	switch (msg->type) {
	case PFS_MSG_CREATE:
	case PFS_MSG_MKDIR:
	case PFS_MSG_WRITE:
		if (is_lock_path(msg->path))
			return fail(res, -EPERM, "'%s' is a lock entry: use lock requests", msg->path);
		if (precheck_path(msg->path, res) < 0)
			return res->rc;
		/* apply_write() checks names only for a new file. No change creates
		 * a file that breaks them, so an existing one never does. */
		if (precheck_new_name(msg->path, dir, res) < 0)
			return res->rc;
		if (!dir && msg->data_len > PFS_MAX_FILE_SIZE)
			return fail(res, -EFBIG, "file size %u is above the limit of %u bytes",
				    msg->data_len, PFS_MAX_FILE_SIZE);
		return 0;
	case PFS_MSG_DELETE:
	case PFS_MSG_RMDIR:
		return precheck_path(msg->path, res);
	case PFS_MSG_RENAME:
		if (precheck_path(msg->path, res) < 0 || !msg->path2 ||
		    precheck_path(msg->path2, res) < 0)
			return msg->path2 ? res->rc : fail(res, -EINVAL, "a rename needs a target");
		if (is_lock_path(msg->path) || is_lock_path(msg->path2))
			return fail(res, -EPERM, "lock entries change only through lock requests");
		return precheck_ctid(msg->path2, false, res);
	case PFS_MSG_LOCK_ACQUIRE:
		if (check_lock_name(msg->path, res) < 0)
			return res->rc;
		if (msg->lease_ms == 0)
			return fail(res, -EINVAL, "lease of lock '%s' is 0 ms", msg->path);
		if (msg->node_name && msg->node_name[0] && !pfs_tree_is_dns_label(msg->node_name))
			return fail(res, -EINVAL,
				    "node name '%.64s' in the request for lock '%s' is invalid",
				    msg->node_name, msg->path);
		return 0;
	default:
		return 0;
	}
}

void pfs_tree_drop_waiters(struct pfs_tree *tree, uint32_t node)
{
	struct pfs__waiter **wp = &tree->waiters;

	while (*wp) {
		struct pfs__waiter *w = *wp;

		if (node && w->node != node) {
			wp = &w->next;
			continue;
		}
		*wp = w->next;
		free(w);
	}
}

int pfs_tree_lock_parse(const char *data, struct pfs_lock_entry *lock)
{
	unsigned node, lease_ms, pid;
	uint64_t request;
	char node_name[PFS_MAX_NODE_NAME + 1] = "";
	int end = 0;

	if (sscanf(data, "node %u\nrequest %" SCNu64 "\nlease_ms %u\n%n", &node, &request,
		   &lease_ms, &end) != 3 || end == 0)
		return -EBADMSG;
	lock->node = node;
	lock->request_id = request;
	lock->lease_ms = lease_ms;
	lock->pid = 0;
	lock->node_name[0] = '\0';

	/* Entries written before the holder's pid and node name were kept. */
	if (data[end] == '\0')
		return 0;
	if (sscanf(data + end, "pid %u\nnode_name %63[A-Za-z0-9-]", &pid, node_name) < 1)
		return -EBADMSG;
	lock->pid = pid;
	snprintf(lock->node_name, sizeof(lock->node_name), "%s", node_name);
	return 0;
}

struct locks_ctx {
	const struct pfs_tree *tree;
	pfs_tree_lock_fn fn;
	void *ctx;
};

static int lock_one(const char *name, const struct pfs_stat *st, void *data)
{
	struct locks_ctx *lc = data;
	struct pfs_lock_entry lock = {0};
	char path[sizeof(LOCK_PREFIX) + PFS_MAX_NAME];
	const char *text;

	if (st->type != PFS_TYPE_FILE)
		return 0;
	snprintf(lock.name, sizeof(lock.name), "%s", name);
	lock.token = st->version;
	lock.mtime = st->mtime;
	snprintf(path, sizeof(path), LOCK_PREFIX "%s", name);
	if (pfs_tree_read(lc->tree, path, &text, NULL) == 0 && pfs_tree_lock_parse(text, &lock) < 0)
		memset(&lock.node, 0, sizeof(lock) - offsetof(struct pfs_lock_entry, node));
	return lc->fn(&lock, lc->ctx);
}

int pfs_tree_locks(const struct pfs_tree *tree, pfs_tree_lock_fn fn, void *ctx)
{
	struct locks_ctx lc = {tree, fn, ctx};
	int rv = pfs_tree_list(tree, PFS_LOCK_DIR, lock_one, &lc);

	return rv == -ENOENT || rv == -ENOTDIR ? 0 : rv;
}

int pfs_tree_lock_waiters(const struct pfs_tree *tree, const char *name, pfs_tree_waiter_fn fn,
			  void *ctx)
{
	for (const struct pfs__waiter *w = tree->waiters; w; w = w->next) {
		struct pfs_tree_waiter info = {0};
		int rv;

		if (strcmp(w->name, name) != 0)
			continue;
		info.node = w->node;
		info.pid = w->pid;
		snprintf(info.node_name, sizeof(info.node_name), "%s", w->node_name);
		info.request_id = w->request_id;
		info.lease_ms = w->lease_ms;
		rv = fn(&info, ctx);
		if (rv != 0)
			return rv;
	}
	return 0;
}
