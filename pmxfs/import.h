/*
 * pfs_import: read a pmxcfs database into a list of paths in creation
 * order, parents first. The store then creates them with new inodes.
 *
 * pmxcfs keeps its tree in the table `tree(inode, parent, version, writer,
 * mtime, type, name, data)` with type 4 for directories and 8 for files.
 * Children of the root have parent 0, and the row with inode 0 stores the
 * tree version, so it is skipped.
 */
#ifndef PMXFS_IMPORT_H
#define PMXFS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

struct pfs_import_entry {
	char *path;     /* absolute path in the tree */
	int is_dir;
	char *data;     /* file contents (size bytes plus a NUL), NULL for dirs */
	size_t size;
	int64_t inode;  /* in the source database, for messages */
};

/*
 * Read file into *entries (free with pfs_import_free()), ordered so that
 * each directory comes before its children.
 * Errors: -ENOENT and other stat() errors of file, -EIO (not readable or
 * no `tree` table), -EINVAL (unknown type,
 * missing parent, a loop, an invalid name; errmsg names the entry),
 * -ENOMEM.
 */
int pfs_import_read(const char *file, struct pfs_import_entry **entries, size_t *count,
		    char *errmsg, size_t errmsg_len);

void pfs_import_free(struct pfs_import_entry *entries, size_t count);

#endif
