/* pfs_perm: access rules of the client API (see perm.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/perm.h"

enum pfs_access pfs_perm_classify(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
				  gid_t reader_gid)
{
	if (uid == 0)
		return PFS_ACCESS_WRITE;
	if (gid == reader_gid)
		return PFS_ACCESS_READ;
	for (size_t i = 0; i < ngroups; i++)
		if (groups[i] == reader_gid)
			return PFS_ACCESS_READ;
	return PFS_ACCESS_NONE;
}

int pfs_perm_proc_groups(pid_t pid, gid_t *groups, size_t cap)
{
	char path[64], line[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7; (size_t)n < cap; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			groups[n++] = (gid_t)g;
		}
		break;
	}
	fclose(f);
	return n;
}

bool pfs_perm_is_private(const char *path)
{
	const char *p = path;

	while ((p = strstr(p, "/priv")) != NULL) {
		if (p[5] == '\0' || p[5] == '/')
			return true;
		p += 5;
	}
	return false;
}

static bool is_read_op(enum pfs_op op)
{
	switch (op) {
	case PFS_OP_GET:
	case PFS_OP_STAT:
	case PFS_OP_LIST:
	case PFS_OP_LIST_PAGE:
	case PFS_OP_STATUS:
	case PFS_OP_WATCH:
	case PFS_OP_UNWATCH:
	case PFS_OP_KV_GET:
	case PFS_OP_DIGEST:
		return true;
	default:
		return false;
	}
}

int pfs_perm_check(enum pfs_access access, enum pfs_op op, const char *path, const char *path2)
{
	if (access == PFS_ACCESS_WRITE)
		return 0;
	if (access == PFS_ACCESS_NONE || !is_read_op(op))
		return -EACCES;

	/* A watch on "/" is allowed: its priv events are filtered out. */
	if (op != PFS_OP_WATCH && op != PFS_OP_UNWATCH && op != PFS_OP_KV_GET &&
	    ((path && pfs_perm_is_private(path)) || (path2 && pfs_perm_is_private(path2))))
		return -EACCES;
	if (op == PFS_OP_WATCH && path && pfs_perm_is_private(path))
		return -EACCES;
	return 0;
}

bool pfs_perm_is_read_op(enum pfs_op op)
{
	return is_read_op(op);
}
