/* pfs_tree: the in-memory tree, its lookups, loading and digest. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pmxfs/tree_internal.h"

int pfs__grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static void entry_key(char key[17], uint64_t inode)
{
	snprintf(key, 17, "%016" PRIx64, inode);
}

int pfs_tree_new(struct pfs_tree **out)
{
	struct pfs_tree *tree = calloc(1, sizeof(*tree));

	if (!tree)
		return -ENOMEM;
	tree->root.st.type = PFS_TYPE_DIR;
	tree->root.name = NULL;
	/* NOTE: libqb 2.0 seeds its skiplist levels at each qb_skiplist_create(),
	 * so skiplists are made only here; one per directory made inserts
	 * quadratic. Children are found through one hash table instead. */
	tree->index = qb_skiplist_create();
	tree->status = qb_skiplist_create();
	tree->names = qb_hashtable_create(PFS_TREE_MAX_ENTRIES);
	if (!tree->index || !tree->status || !tree->names) {
		pfs_tree_free(tree);
		return -ENOMEM;
	}
	entry_key(tree->root.key, 0);
	*out = tree;
	return 0;
}

static void entry_free(struct pfs__entry *e)
{
	free(e->name_key);
	free(e->name);
	free(e->data);
	free(e);
}

static void free_round(struct pfs_tree *tree)
{
	for (size_t i = 0; i < tree->nevents; i++) {
		free(tree->events[i].path);
		free(tree->events[i].path2);
	}
	tree->ndirty = tree->nevents = tree->nnotices = tree->nleases = 0;
}

void pfs_tree_free(struct pfs_tree *tree)
{
	qb_map_iter_t *it;
	void *value;

	if (!tree)
		return;
	if (tree->index) {
		it = qb_map_iter_create(tree->index);
		while (it && qb_map_iter_next(it, &value))
			entry_free(value);
		qb_map_iter_free(it);
		qb_map_destroy(tree->index);
	}
	if (tree->status) {
		it = qb_map_iter_create(tree->status);
		while (it && qb_map_iter_next(it, &value)) {
			struct pfs__status_value *sv = value;

			free(sv->key);
			free(sv->value);
			free(sv);
		}
		qb_map_iter_free(it);
		qb_map_destroy(tree->status);
	}
	if (tree->names)
		qb_map_destroy(tree->names);
	while (tree->waiters) {
		struct pfs__waiter *w = tree->waiters;

		tree->waiters = w->next;
		free(w);
	}
	free_round(tree);
	free(tree->dirty);
	free(tree->events);
	free(tree->notices);
	free(tree->leases);
	free(tree);
}

uint64_t pfs_tree_version(const struct pfs_tree *tree)
{
	return tree->root.st.version;
}

uint32_t pfs_tree_entry_count(const struct pfs_tree *tree)
{
	return tree->entries;
}

uint64_t pfs_tree_byte_count(const struct pfs_tree *tree)
{
	return tree->bytes;
}

static int check_name(const char *name, size_t len, char *errmsg)
{
	if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2))) {
		if (errmsg)
			snprintf(errmsg, PFS_ERRMSG_SIZE,
				 "invalid path: a name is empty, \".\" or \"..\"");
		return -EINVAL;
	}
	if (len > PFS_MAX_NAME) {
		if (errmsg)
			snprintf(errmsg, PFS_ERRMSG_SIZE,
				 "invalid path: a name is longer than %d bytes", PFS_MAX_NAME);
		return -ENAMETOOLONG;
	}
	return 0;
}

/*
 * Reject control characters (bytes below 0x20 and 0x7f) in a name of a
 * request or message. A newline would split one entry over two lines of
 * `ls` or `watch` output, and the others garble terminals and logs.
 * Loading skips this check, so a database written before the rule loads.
 */
static int check_name_chars(const char *name, size_t len, char *errmsg)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f) {
			if (errmsg)
				snprintf(errmsg, PFS_ERRMSG_SIZE,
					 "invalid path: a name contains the control character 0x%02x",
					 c);
			return -EINVAL;
		}
	}
	return 0;
}

int pfs_tree_check_path(const char *path, char *errmsg)
{
	const char *p, *slash;
	size_t len = strlen(path);
	int rv;

	if (len > PFS_MAX_PATH) {
		if (errmsg)
			snprintf(errmsg, PFS_ERRMSG_SIZE, "invalid path: longer than %d bytes",
				 PFS_MAX_PATH);
		return -ENAMETOOLONG;
	}
	if (path[0] != '/') {
		if (errmsg)
			snprintf(errmsg, PFS_ERRMSG_SIZE,
				 "invalid path '%.64s': paths start with '/'", path);
		return -EINVAL;
	}
	if (len == 1)
		return 0;

	/* Each component between slashes must be a valid name. */
	for (p = path + 1;; p = slash + 1) {
		size_t n;

		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		rv = check_name(p, n, errmsg);
		if (rv == 0)
			rv = check_name_chars(p, n, errmsg);
		if (rv < 0)
			return rv;
		if (!slash)
			return 0;
	}
}

bool pfs_tree_is_dns_label(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63 || name[0] == '-' || name[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			return false;
	return true;
}

uint64_t pfs_tree_guest_ctid(const char *path)
{
	char node[64];
	const char *p, *rest, *file, *dot;
	uint64_t ctid = 0;
	size_t n;

	if (strncmp(path, "/nodes/", 7) != 0)
		return 0;
	p = path + 7;
	rest = strchr(p, '/');
	if (!rest || (size_t)(rest - p) >= sizeof(node))
		return 0;
	n = (size_t)(rest - p);
	memcpy(node, p, n);
	node[n] = '\0';
	if (!pfs_tree_is_dns_label(node))
		return 0;

	if (!strncmp(rest, "/lxc/", 5))
		file = rest + 5;
	else if (!strncmp(rest, "/qemu-server/", 13))
		file = rest + 13;
	else
		return 0;

	/* [1-9][0-9]*\.conf; more than 10 digits is out of range anyway. */
	dot = strchr(file, '.');
	if (!dot || strcmp(dot, ".conf") != 0 || dot == file || file[0] == '0')
		return 0;
	if (dot - file > 10)
		return UINT64_MAX;
	for (p = file; p < dot; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		ctid = ctid * 10 + (uint64_t)(*p - '0');
	}
	return ctid;
}

char *pfs__name_key(uint64_t parent, const char *name)
{
	size_t len = 18 + strlen(name);
	char *key = malloc(len);

	if (key)
		snprintf(key, len, "%016" PRIx64 "/%s", parent, name);
	return key;
}

struct pfs__entry *pfs__child(const struct pfs_tree *tree, const struct pfs__entry *dir,
			      const char *name)
{
	char buf[18 + PFS_MAX_NAME + 1];

	if (dir->st.type != PFS_TYPE_DIR || strlen(name) > PFS_MAX_NAME)
		return NULL;
	snprintf(buf, sizeof(buf), "%016" PRIx64 "/%s", dir->st.inode, name);
	return qb_map_get(tree->names, buf);
}

int pfs__link(struct pfs_tree *tree, struct pfs__entry *dir, struct pfs__entry *e)
{
	char *key = pfs__name_key(dir->st.inode, e->name);

	if (!key)
		return -ENOMEM;
	pfs__link_key(tree, dir, e, key);
	return 0;
}

void pfs__link_key(struct pfs_tree *tree, struct pfs__entry *dir, struct pfs__entry *e, char *key)
{
	free(e->name_key);
	e->name_key = key;
	e->st.parent = dir->st.inode;
	e->prev_sibling = NULL;
	e->next_sibling = dir->first_child;
	if (dir->first_child)
		dir->first_child->prev_sibling = e;
	dir->first_child = e;
	dir->nchildren++;
	qb_map_put(tree->names, e->name_key, e);
}

void pfs__unlink(struct pfs_tree *tree, struct pfs__entry *e)
{
	struct pfs__entry *dir = pfs__by_inode(tree, e->st.parent);

	if (!e->name_key)
		return;
	qb_map_rm(tree->names, e->name_key);
	if (e->prev_sibling)
		e->prev_sibling->next_sibling = e->next_sibling;
	else if (dir)
		dir->first_child = e->next_sibling;
	if (e->next_sibling)
		e->next_sibling->prev_sibling = e->prev_sibling;
	if (dir)
		dir->nchildren--;
	e->prev_sibling = e->next_sibling = NULL;
	free(e->name_key);
	e->name_key = NULL;
}

struct pfs__entry *pfs__by_inode(const struct pfs_tree *tree, uint64_t inode)
{
	char key[17];

	if (inode == 0)
		return (struct pfs__entry *)&tree->root;
	entry_key(key, inode);
	return qb_map_get(tree->index, key);
}

struct pfs__entry *pfs__lookup(const struct pfs_tree *tree, const char *path, int *rv)
{
	char buf[PFS_MAX_PATH + 1];
	struct pfs__entry *e = (struct pfs__entry *)&tree->root;
	char *save = NULL, *name;

	*rv = pfs_tree_check_path(path, NULL);
	if (*rv < 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (name = strtok_r(buf, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		if (e->st.type != PFS_TYPE_DIR) {
			*rv = -ENOTDIR;
			return NULL;
		}
		e = pfs__child(tree, e, name);
		if (!e) {
			*rv = -ENOENT;
			return NULL;
		}
	}
	*rv = 0;
	return e;
}

int pfs_tree_stat(const struct pfs_tree *tree, const char *path, struct pfs_stat *st)
{
	int rv;
	struct pfs__entry *e = pfs__lookup(tree, path, &rv);

	if (!e)
		return rv;
	*st = e->st;
	return 0;
}

int pfs_tree_read(const struct pfs_tree *tree, const char *path, const char **data,
		  struct pfs_stat *st)
{
	int rv;
	struct pfs__entry *e = pfs__lookup(tree, path, &rv);

	if (!e)
		return rv;
	if (e->st.type != PFS_TYPE_FILE)
		return -EISDIR;
	*data = e->data ? e->data : "";
	if (st)
		*st = e->st;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct pfs__entry *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

int pfs_tree_list(const struct pfs_tree *tree, const char *path, pfs_tree_list_fn fn, void *ctx)
{
	struct pfs__entry *e, *c, **sorted;
	size_t n = 0;
	int rv;

	e = pfs__lookup(tree, path, &rv);
	if (!e)
		return rv;
	if (e->st.type != PFS_TYPE_DIR)
		return -ENOTDIR;
	sorted = malloc(((size_t)e->nchildren + 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (c = e->first_child; c; c = c->next_sibling)
		sorted[n++] = c;
	qsort(sorted, n, sizeof(*sorted), by_name);
	for (size_t i = 0; rv == 0 && i < n; i++)
		rv = fn(sorted[i]->name, &sorted[i]->st, ctx);
	free(sorted);
	return rv;
}

int pfs_tree_walk(const struct pfs_tree *tree, pfs_tree_walk_fn fn, void *ctx)
{
	qb_map_iter_t *it = qb_map_iter_create(tree->index);
	void *value;
	int rv = 0;

	if (!it)
		return -ENOMEM;
	while (rv == 0 && qb_map_iter_next(it, &value)) {
		struct pfs__entry *e = value;

		rv = fn(e->name, &e->st, e->st.type == PFS_TYPE_FILE ? e->data : NULL, ctx);
	}
	qb_map_iter_free(it);
	return rv;
}

int pfs_tree_path_of(const struct pfs_tree *tree, uint64_t inode, char *buf, size_t len)
{
	const struct pfs__entry *chain[PFS_MAX_PATH / 2 + 1];
	struct pfs__entry *e = pfs__by_inode(tree, inode);
	size_t depth = 0, off = 0;

	if (!e)
		return -ENOENT;
	while (e && e->st.inode != 0 && depth < sizeof(chain) / sizeof(chain[0])) {
		chain[depth++] = e;
		e = pfs__by_inode(tree, e->st.parent);
	}
	if (len < 2)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	if (depth == 0)
		snprintf(buf, len, "/");
	while (depth > 0) {
		int n = snprintf(buf + off, len - off, "/%s", chain[--depth]->name);

		if (n < 0 || (size_t)n >= len - off)
			return -ENAMETOOLONG;
		off += (size_t)n;
	}
	return 0;
}

int pfs__tree_by_inode(const struct pfs_tree *tree, uint64_t inode, struct pfs_stat *st,
		       const char **name, const char **data)
{
	struct pfs__entry *e = pfs__by_inode(tree, inode);

	if (!e)
		return -ENOENT;
	*st = e->st;
	*name = e->name;
	*data = e->st.type == PFS_TYPE_FILE ? e->data : NULL;
	return 0;
}

void pfs__tree_root_meta(const struct pfs_tree *tree, uint32_t *writer, uint32_t *mtime)
{
	*writer = tree->root.st.writer;
	*mtime = tree->root.st.mtime;
}

/* Give e its inode and put it into the index (after its fields are set). */
static void index_entry(struct pfs_tree *tree, struct pfs__entry *e)
{
	entry_key(e->key, e->st.inode);
	qb_map_put(tree->index, e->key, e);
}

struct pfs__entry *pfs__entry_add(struct pfs_tree *tree, struct pfs__entry *parent,
				  const char *name, enum pfs_type type, char *data, uint32_t size,
				  uint64_t version, uint32_t writer, uint32_t mtime)
{
	struct pfs__entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->name = strdup(name);
	if (!e->name || pfs__link(tree, parent, e) < 0) {
		entry_free(e);
		return NULL;
	}
	e->st.type = type;
	e->st.inode = version;
	e->st.version = version;
	e->st.writer = writer;
	e->st.mtime = mtime;
	e->st.size = size;
	e->data = data;
	index_entry(tree, e);
	tree->entries++;
	tree->bytes += size;
	return e;
}

void pfs__entry_remove(struct pfs_tree *tree, struct pfs__entry *e)
{
	pfs__unlink(tree, e);
	qb_map_rm(tree->index, e->key);
	tree->entries--;
	tree->bytes -= e->st.size;
	entry_free(e);
}

int pfs__mark_dirty(struct pfs_tree *tree, uint64_t inode)
{
	if (pfs__grow((void **)&tree->dirty, &tree->cdirty, tree->ndirty, sizeof(uint64_t)) < 0)
		return -ENOMEM;
	tree->dirty[tree->ndirty++] = inode;
	return 0;
}

/* Loading: entries are parked in the index first, and linked at the end. */
int pfs__tree_load_entry(struct pfs_tree *tree, const struct pfs_stat *st, const char *name,
			 const void *data, char *errmsg)
{
	struct pfs__entry *e;
	char key[17];

	if (st->inode == 0 || check_name(name, strlen(name), errmsg) < 0 ||
	    (st->type != PFS_TYPE_DIR && st->type != PFS_TYPE_FILE) ||
	    st->size > PFS_MAX_FILE_SIZE || (st->type == PFS_TYPE_DIR && st->size)) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "entry %" PRIu64 " ('%.64s') is invalid",
			 st->inode, name);
		return -EINVAL;
	}
	entry_key(key, st->inode);
	if (qb_map_get(tree->index, key))
		return -EEXIST;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->st = *st;
	e->name = strdup(name);
	if (st->type == PFS_TYPE_FILE)
		e->data = malloc((size_t)st->size + 1);
	if (!e->name || (st->type == PFS_TYPE_FILE && !e->data)) {
		entry_free(e);
		return -ENOMEM;
	}
	if (e->data) {
		if (st->size)
			memcpy(e->data, data, st->size);
		e->data[st->size] = '\0';
	}
	index_entry(tree, e);
	tree->entries++;
	tree->bytes += st->size;
	return 0;
}

void pfs__tree_load_root(struct pfs_tree *tree, uint64_t version, uint32_t writer, uint32_t mtime)
{
	tree->root.st.version = version;
	tree->root.st.writer = writer;
	tree->root.st.mtime = mtime;
}

int pfs__tree_load_finish(struct pfs_tree *tree, char *errmsg)
{
	qb_map_iter_t *it = qb_map_iter_create(tree->index);
	void *value;
	int rv = 0;

	if (!it)
		return -ENOMEM;
	while (rv == 0 && qb_map_iter_next(it, &value)) {
		struct pfs__entry *e = value, *parent = pfs__by_inode(tree, e->st.parent);

		if (!parent || parent->st.type != PFS_TYPE_DIR ||
		    pfs__child(tree, parent, e->name) || e->st.parent == e->st.inode) {
			snprintf(errmsg, PFS_ERRMSG_SIZE,
				 "entry %" PRIu64 " ('%.64s') has no parent directory %" PRIu64
				 " or a duplicate name", e->st.inode, e->name, e->st.parent);
			rv = -EINVAL;
		} else {
			rv = pfs__link(tree, parent, e);
		}
	}
	qb_map_iter_free(it);
	if (rv == 0 && tree->entries > PFS_TREE_MAX_ENTRIES) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "the database holds %u entries, more than %u",
			 tree->entries, PFS_TREE_MAX_ENTRIES);
		rv = -EINVAL;
	}
	return rv;
}

/* Hash fixed-width fields little-endian, so the digest is the same on
 * every architecture. */
static void hash_u64(EVP_MD_CTX *ctx, uint64_t v)
{
	uint8_t b[8];

	pfs__put_u64(b, v);
	EVP_DigestUpdate(ctx, b, sizeof(b));
}

int pfs_tree_digest(const struct pfs_tree *tree, char out[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int mdlen = 0;
	qb_map_iter_t *it;
	void *value;

	if (!ctx)
		return -ENOMEM;
	it = qb_map_iter_create(tree->index);
	if (!it) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	hash_u64(ctx, tree->root.st.version);
	while (qb_map_iter_next(it, &value)) {
		struct pfs__entry *e = value;

		hash_u64(ctx, e->st.inode);
		hash_u64(ctx, e->st.parent);
		hash_u64(ctx, e->st.version);
		hash_u64(ctx, e->st.writer);
		hash_u64(ctx, e->st.mtime);
		hash_u64(ctx, e->st.type);
		hash_u64(ctx, e->st.size);
		EVP_DigestUpdate(ctx, e->name, strlen(e->name) + 1);
		if (e->st.size)
			EVP_DigestUpdate(ctx, e->data, e->st.size);
	}
	qb_map_iter_free(it);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

void pfs_tree_round_begin(struct pfs_tree *tree)
{
	free_round(tree);
}

void pfs_tree_round_end(struct pfs_tree *tree)
{
	free_round(tree);
}

const uint64_t *pfs_tree_dirty(const struct pfs_tree *tree, size_t *count)
{
	*count = tree->ndirty;
	return tree->dirty;
}

const struct pfs_tree_event *pfs_tree_events(const struct pfs_tree *tree, size_t *count)
{
	*count = tree->nevents;
	return tree->events;
}

const struct pfs_notice *pfs_tree_notices(const struct pfs_tree *tree, size_t *count)
{
	*count = tree->nnotices;
	return tree->notices;
}

const struct pfs_lease *pfs_tree_leases(const struct pfs_tree *tree, size_t *count)
{
	*count = tree->nleases;
	return tree->leases;
}

static const char *const reserved_names[] = {
	".members", ".vmlist", ".version", "local", "lxc", "qemu-server", NULL,
};

bool pfs_tree_is_reserved(const char *name)
{
	for (int i = 0; reserved_names[i]; i++)
		if (!strcmp(name, reserved_names[i]))
			return true;
	return false;
}

int pfs_tree_resolve_link(const char *node, const char *path, char *out, size_t len)
{
	static const struct {
		const char *link;
		const char *sub;
	} links[] = {{"/local", ""}, {"/lxc", "/lxc"}, {"/qemu-server", "/qemu-server"}};
	int n = -1;

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		size_t l = strlen(links[i].link);

		if (!strncmp(path, links[i].link, l) && (path[l] == '\0' || path[l] == '/')) {
			n = snprintf(out, len, "/nodes/%s%s%s", node, links[i].sub, path + l);
			break;
		}
	}
	if (n < 0)
		n = snprintf(out, len, "%s", path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
