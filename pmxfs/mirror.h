/*
 * pfs_mirror: a plain directory equal to the tree, for readers that use
 * files (cat, grep, editors).
 *
 * The daemon writes the copy under <data dir>/mirror: a new file is written
 * to a temporary name and renamed into place, and a file that is replaced
 * is written to <data dir>/mirror.spare and exchanged with it
 * (RENAME_EXCHANGE), so readers see the old or the new contents, never a
 * mix. The exchange keeps inodes in use instead of freeing one and
 * allocating another for every write. Changed paths are collected, and
 * pfs_mirror_flush(), which the daemon runs PFS_MIRROR_FLUSH_MS after the
 * first change, copies their current contents into a batch for a writer
 * thread. A file changed many times in that window is written once, and
 * the main loop does not wait for the open() and rename() of a flush.
 * The writer thread runs the batches in order. While it is busy, the
 * daemon collects further changes and flushes them once it is done.
 * A full sync runs on the caller's thread. Files are 0640 and directories
 * 0755, group the reader group; priv/ directories are 0700 and their files 0600.
 * The virtual files (.members, .vmlist, .version) are written after each
 * round and `local`, `lxc` and `qemu-server` are symbolic links to
 * nodes/<this node>/...
 *
 * When a target directory is given (default /etc/pve), the copy is bind
 * mounted there read-only, so even root gets "read-only file system"
 * instead of an edit the daemon would overwrite. Where mounting is not
 * permitted the daemon logs a warning and the copy stays in the data dir.
 */
#ifndef PMXFS_MIRROR_H
#define PMXFS_MIRROR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pmxfs/tree.h"

/* LIMIT: how long changes collect before a flush, in ms. The mirror lags
 * the tree by this plus the time the writer thread needs for the batch
 * before. */
#define PFS_MIRROR_FLUSH_MS 50

struct pfs_mirror;

/*
 * Prepare the copy folder (created if missing) and, unless target is
 * NULL, bind mount it read-only on target (created if missing).
 * Errors: negative errno values of mkdir and mount, with errmsg.
 */
int pfs_mirror_open(const char *copy_dir, const char *target, const char *node_name,
		    gid_t reader_gid, struct pfs_mirror **out, char *errmsg);

/* Write the queued batches, stop the writer thread, unmount the target
 * and free the mirror. Accepts NULL. */
void pfs_mirror_close(struct pfs_mirror *mirror);

/* Make the copy equal to the tree: write what differs, remove the rest.
 * Waits for the writer thread's batches, then writes on the caller's
 * thread. */
int pfs_mirror_sync(struct pfs_mirror *mirror, const struct pfs_tree *tree);

/* Remember the paths of one committed change (an event of
 * pfs_tree_events(); path2 may be NULL) for the next flush. */
int pfs_mirror_event(struct pfs_mirror *mirror, const char *path, const char *path2);

/* Return true when changes wait for a flush. */
bool pfs_mirror_pending(const struct pfs_mirror *mirror);

/*
 * Queue the remembered paths (each once, as the tree has it now) and the
 * virtual files for the writer thread, and forget the paths. After too
 * many paths it makes the whole copy equal to the tree at once, as
 * pfs_mirror_sync() does. Errors: -ENOMEM (the next flush syncs the whole
 * copy), or those of pfs_mirror_sync().
 */
int pfs_mirror_flush(struct pfs_mirror *mirror, const struct pfs_tree *tree);

/* Queue the virtual files for the writer thread. Errors: -ENOMEM. */
int pfs_mirror_virtual(struct pfs_mirror *mirror, const struct pfs_tree *tree);

/* Return true while the writer thread has a batch queued or running. */
bool pfs_mirror_busy(struct pfs_mirror *mirror);

/* Wait until the writer thread has written every queued batch. */
void pfs_mirror_wait(struct pfs_mirror *mirror);

/* Return the number of files written (renamed or exchanged into place)
 * since the mirror was opened. */
uint64_t pfs_mirror_writes(const struct pfs_mirror *mirror);

/* Build the virtual files with fn (as pfs_tree_virtual() does) from now
 * on, so the copy shows the daemon's view of the cluster. */
typedef int (*pfs_mirror_virtual_fn)(void *ctx, const struct pfs_tree *tree, const char *name,
				     char **json);
void pfs_mirror_set_virtual(struct pfs_mirror *mirror, pfs_mirror_virtual_fn fn, void *ctx);

/* Return true when the copy is mounted read-only on the target. */
bool pfs_mirror_mounted(const struct pfs_mirror *mirror);

#endif
