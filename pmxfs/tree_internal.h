/* Internals of pfs_tree shared by tree.c, apply.c and virtual.c. */
#ifndef PMXFS_TREE_INTERNAL_H
#define PMXFS_TREE_INTERNAL_H

#include <qb/qbmap.h>

#include "pmxfs/tree.h"

struct pfs__entry {
	struct pfs_stat st;
	char *name;
	char *data;          /* files: size bytes plus a NUL */
	/* Directories: children in a doubly linked list, unsorted. Lookup by
	 * name goes through the tree's name map. */
	struct pfs__entry *first_child;
	uint32_t nchildren;
	struct pfs__entry *prev_sibling, *next_sibling;
	char *name_key;      /* "<parent inode hex>/<name>", the key in names */
	char key[17];        /* inode as 16 hex digits, the key in the index */
};

/* An ACQUIRE waiting for a held lock, in delivery order. */
struct pfs__waiter {
	struct pfs__waiter *next;
	char name[PFS_MAX_LOCK_NAME + 1];
	uint32_t node;
	uint64_t request_id;
	uint32_t lease_ms;
	uint32_t pid;
	char node_name[PFS_MAX_NODE_NAME + 1];
};

struct pfs__status_value {
	uint32_t node;
	char *key;
	char *value;
	uint32_t len;
};

struct pfs_tree {
	struct pfs__entry root;
	qb_map_t *index;     /* inode key -> entry, root excluded, sorted by inode */
	qb_map_t *names;     /* name key -> entry, a hash table */
	uint32_t entries;
	uint64_t bytes;
	struct pfs__waiter *waiters;
	qb_map_t *status;    /* "node/key" -> struct pfs__status_value */

	/* the current dispatch round */
	uint64_t *dirty;
	size_t ndirty, cdirty;
	struct pfs_tree_event *events;
	size_t nevents, cevents;
	struct pfs_notice *notices;
	size_t nnotices, cnotices;
	struct pfs_lease *leases;
	size_t nleases, cleases;
};

/* Grow *arr (elements of size elem) so that it has room for at least n + 1. */
int pfs__grow(void **arr, size_t *cap, size_t n, size_t elem);

struct pfs__entry *pfs__lookup(const struct pfs_tree *tree, const char *path, int *rv);
struct pfs__entry *pfs__by_inode(const struct pfs_tree *tree, uint64_t inode);
struct pfs__entry *pfs__child(const struct pfs_tree *tree, const struct pfs__entry *dir,
			      const char *name);

/* Link e (its name set) as a child of dir, or unlink it from its parent. */
int pfs__link(struct pfs_tree *tree, struct pfs__entry *dir, struct pfs__entry *e);
void pfs__unlink(struct pfs_tree *tree, struct pfs__entry *e);

/* The name key of a child (caller frees), and linking with a key made
 * before (taken), which cannot fail. */
char *pfs__name_key(uint64_t parent, const char *name);
void pfs__link_key(struct pfs_tree *tree, struct pfs__entry *dir, struct pfs__entry *e, char *key);

/* Create an entry with inode = version, link it under parent and index it.
 * Takes data (NULL for directories) on success only. */
struct pfs__entry *pfs__entry_add(struct pfs_tree *tree, struct pfs__entry *parent,
				  const char *name, enum pfs_type type, char *data, uint32_t size,
				  uint64_t version, uint32_t writer, uint32_t mtime);

/* Unlink an entry (a file or an empty directory) and free it. */
void pfs__entry_remove(struct pfs_tree *tree, struct pfs__entry *e);

/* Record an inode as changed in this round. */
int pfs__mark_dirty(struct pfs_tree *tree, uint64_t inode);

#endif
