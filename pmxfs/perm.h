/*
 * pfs_perm: who may do what through the client API.
 *
 * Root (uid 0) may read and change everything. Members of the reader
 * group (default www-data, as in Proxmox), by primary or supplementary
 * group, may read everything except paths with a `priv` component
 * (/priv, /nodes/<node>/priv). Everyone else gets "permission denied".
 */
#ifndef PMXFS_PERM_H
#define PMXFS_PERM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pmxfs/proto.h"

enum pfs_access {
	PFS_ACCESS_NONE = 0,
	PFS_ACCESS_READ = 1,
	PFS_ACCESS_WRITE = 2,
};

/* Classify a client from its credentials and supplementary groups. */
enum pfs_access pfs_perm_classify(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
				  gid_t reader_gid);

/*
 * Read the supplementary groups of pid from /proc/<pid>/status into groups
 * (at most cap). Returns how many, or a negative errno value.
 */
int pfs_perm_proc_groups(pid_t pid, gid_t *groups, size_t cap);

/* Return true when path has a `priv` component. */
bool pfs_perm_is_private(const char *path);

/*
 * Check op on path (and path2, may be NULL) for a client of access.
 * Errors: -EACCES.
 */
int pfs_perm_check(enum pfs_access access, enum pfs_op op, const char *path, const char *path2);

/* True when OP only reads (get, stat, list, status, watch, ...). */
bool pfs_perm_is_read_op(enum pfs_op op);

#endif
