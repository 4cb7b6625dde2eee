/*
 * pfs_db: the store's sqlite database, the durable copy of the tree.
 *
 * Tables:
 *   tree(inode, parent, version, writer, mtime, type, name, data): one row
 *     per entry, as pmxcfs lays out its `tree` table (type 4 = directory,
 *     8 = file; children of the root have parent 0). The row with inode 0,
 *     named "__version__", stores the tree version, writer and mtime.
 *   generations(id, ring_id, members, first_version, last_version): the
 *     history of primary components (in --local mode, one per start), which
 *     the cluster half compares to tell a lagging node from a diverged one.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so every commit is
 * fsynced before a client hears "done". With one transaction per dispatch
 * round (group commit) the fsync is shared by every change in the round.
 * NORMAL would skip the fsync of each commit and could lose acknowledged
 * writes at a power loss.
 */
#ifndef PMXFS_DB_H
#define PMXFS_DB_H

#include <stddef.h>
#include <stdint.h>

#include "pmxfs/tree.h"

struct pfs_db;

struct pfs_generation {
	int64_t id;
	char ring_id[64];
	uint32_t members;
	uint64_t first_version;
	uint64_t last_version;
};

/*
 * Open (or create) the database at path and its schema.
 * Errors: -EIO (sqlite failed, errmsg says why), -EPROTO (a newer or
 * unknown schema), -ENOMEM.
 */
int pfs_db_open(const char *path, struct pfs_db **out, char *errmsg);

/* Close the database. Accepts NULL. */
void pfs_db_close(struct pfs_db *db);

/*
 * Build a new tree from the database (caller frees with pfs_tree_free()).
 * Errors: -EIO, -EINVAL (inconsistent rows, errmsg names the entry),
 * -ENOMEM.
 */
int pfs_db_load(struct pfs_db *db, struct pfs_tree **out, char *errmsg);

/*
 * Persist one dispatch round in one transaction: every dirty inode of the
 * round (a row replaced, or deleted when the tree no longer has it), the
 * __version__ row, and the last version of the newest generation. On error
 * the transaction is rolled back and the database keeps the previous round.
 * Errors: -EIO.
 */
int pfs_db_commit_round(struct pfs_db *db, const struct pfs_tree *tree, char *errmsg);

/*
 * Start a generation that begins at first_version.
 * Errors: -EIO.
 */
int pfs_db_generation_start(struct pfs_db *db, const char *ring_id, uint32_t members,
			    uint64_t first_version, char *errmsg);

/*
 * Replace every row of both tables with tree and gens (their ids are
 * renumbered from 1) in one transaction, for a sync that brought a new
 * tree. On error the database keeps its previous content.
 * Errors: -EIO.
 */
int pfs_db_replace(struct pfs_db *db, const struct pfs_tree *tree,
		   const struct pfs_generation *gens, size_t ngens, char *errmsg);

/*
 * Read the generation history, oldest first (caller frees *out).
 * Errors: -EIO, -ENOMEM.
 */
int pfs_db_generations(struct pfs_db *db, struct pfs_generation **out, size_t *count);

/*
 * For tests: a function called inside pfs_db_commit_round() and
 * pfs_db_replace() after the rows are written and before COMMIT. A
 * nonzero return makes the commit fail.
 */
typedef int (*pfs_db_commit_hook)(void *ctx);
void pfs_db_set_commit_hook(struct pfs_db *db, pfs_db_commit_hook hook, void *ctx);

#endif
