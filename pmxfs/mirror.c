/* pfs_mirror: the plain-file copy of the tree (see mirror.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmxfs/log.h"
#include "pmxfs/mirror.h"
#include "pmxfs/perm.h"

/* LIMIT: paths remembered between flushes; beyond this a flush makes the
 * whole copy equal to the tree instead. */
#define MAX_DIRTY 4096

struct pfs_mirror {
	char copy[PFS_MAX_PATH];
	char target[PFS_MAX_PATH];
	char node[64];
	gid_t gid;
	bool mounted;
	char **dirty;      /* tree paths changed since the last flush */
	size_t ndirty;
	bool full_sync;    /* too many paths: sync everything at the flush */
	pfs_mirror_virtual_fn virtual_fn; /* NULL: this node alone in .members */
	void *virtual_ctx;
};

static void full_path(const struct pfs_mirror *m, const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s%s", m->copy, strcmp(path, "/") ? path : "");
}

/*
 * Create a temporary file next to path, named TMP_PREFIX and a counter.
 * The name stays short, so a 255-byte name gets a temporary file too.
 * O_EXCL skips a tree file or a leftover of a killed daemon that has the
 * same name; a full sync prunes such leftovers.
 */
#define TMP_PREFIX ".pmxfs-tmp."
#define TMP_ATTEMPTS 100

static int open_temp(const char *path, mode_t mode, char *tmp, size_t size)
{
	static unsigned long counter;
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;

	for (int i = 0; i < TMP_ATTEMPTS; i++) {
		int fd;

		snprintf(tmp, size, "%.*s" TMP_PREFIX "%lu", dir_len, path, counter++);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

/* Write data to path by a temporary file and a rename. */
static int write_atomic(const struct pfs_mirror *m, const char *path, const char *data,
			size_t len, mode_t mode)
{
	char tmp[PFS_MAX_PATH * 2 + 64];
	int fd, rv = 0;

	fd = open_temp(path, mode, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	if (fchown(fd, 0, m->gid) < 0 || fchmod(fd, mode) < 0)
		rv = -errno;
	for (size_t off = 0; rv == 0 && off < len;) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno != EINTR)
			rv = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (close(fd) < 0 && rv == 0)
		rv = -errno;
	if (rv == 0 && rename(tmp, path) < 0)
		rv = -errno;
	if (rv < 0)
		unlink(tmp);
	return rv;
}

static mode_t dir_mode(const char *path)
{
	return pfs_perm_is_private(path) ? 0700 : 0755;
}

static int make_dir(const struct pfs_mirror *m, const char *tree_path)
{
	char p[PFS_MAX_PATH * 2];

	full_path(m, tree_path, p, sizeof(p));
	if (mkdir(p, dir_mode(tree_path)) < 0 && errno != EEXIST)
		return -errno;
	if (chown(p, 0, m->gid) < 0 || chmod(p, dir_mode(tree_path)) < 0)
		return -errno;
	return 0;
}

/*
 * Tell whether the copy at path already has these contents, owner and
 * mode. Rewriting an equal file costs a rename, which on ext4 starts a
 * writeback, and a sync round rewrites every file of the tree.
 */
static bool copy_is_current(const struct pfs_mirror *m, const char *path, const char *data,
			    size_t len, mode_t mode)
{
	char buf[65536];
	struct stat have;
	size_t off = 0;
	bool same;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	same = fstat(fd, &have) == 0 && S_ISREG(have.st_mode) && (size_t)have.st_size == len &&
	       (have.st_mode & 07777) == mode && have.st_uid == 0 && have.st_gid == m->gid;
	while (same && off < len) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (size_t)n > len - off || memcmp(buf, data + off, (size_t)n) != 0)
			same = false;
		else
			off += (size_t)n;
	}
	close(fd);
	return same;
}

/* Write one file of the copy. A full sync passes keep_equal, so that it
 * leaves files alone that already match; a flushed change always differs. */
static int write_file(const struct pfs_mirror *m, const struct pfs_tree *tree,
		      const char *tree_path, bool keep_equal)
{
	char p[PFS_MAX_PATH * 2];
	struct pfs_stat st;
	const char *data;
	mode_t mode;
	int rv;

	rv = pfs_tree_read(tree, tree_path, &data, &st);
	if (rv < 0)
		return rv;
	full_path(m, tree_path, p, sizeof(p));
	mode = pfs_perm_is_private(tree_path) ? 0600 : 0640;
	if (keep_equal && copy_is_current(m, p, data, st.size, mode))
		return 0;
	return write_atomic(m, p, data, st.size, mode);
}

/* Remove a file or a whole directory of the copy. */
static int remove_all(const char *p)
{
	struct dirent *d;
	DIR *dir;

	if (unlink(p) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	dir = opendir(p);
	if (!dir)
		return -errno;
	while ((d = readdir(dir)) != NULL) {
		char child[PFS_MAX_PATH * 2];

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (snprintf(child, sizeof(child), "%s/%s", p, d->d_name) < (int)sizeof(child))
			remove_all(child);
	}
	closedir(dir);
	return rmdir(p) < 0 ? -errno : 0;
}

static int write_links(const struct pfs_mirror *m)
{
	static const char *const links[][2] = {
		{"local", ""}, {"lxc", "/lxc"}, {"qemu-server", "/qemu-server"}};
	char p[PFS_MAX_PATH + 32], to[128];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", m->copy, links[i][0]);
		snprintf(to, sizeof(to), "nodes/%s%s", m->node, links[i][1]);
		unlink(p);
		if (symlink(to, p) < 0)
			return -errno;
	}
	return 0;
}

void pfs_mirror_set_virtual(struct pfs_mirror *m, pfs_mirror_virtual_fn fn, void *ctx)
{
	m->virtual_fn = fn;
	m->virtual_ctx = ctx;
}

int pfs_mirror_virtual(struct pfs_mirror *m, const struct pfs_tree *tree)
{
	static const char *const names[] = {".members", ".vmlist", ".version"};
	struct pfs_member self = {1, m->node, true, NULL};
	char p[PFS_MAX_PATH + 32];
	int rv = 0;

	for (size_t i = 0; i < 3 && rv == 0; i++) {
		char *json = NULL;

		rv = m->virtual_fn ? m->virtual_fn(m->virtual_ctx, tree, names[i], &json)
				   : pfs_tree_virtual(tree, names[i], m->node, &self, 1, true, &json);
		if (rv < 0)
			break;
		snprintf(p, sizeof(p), "%s/%s", m->copy, names[i]);
		rv = write_atomic(m, p, json, strlen(json), 0640);
		free(json);
	}
	return rv;
}

struct sync_ctx {
	struct pfs_mirror *m;
	const struct pfs_tree *tree;
	const char *dir;
	int rv;
};

static int sync_dir(struct pfs_mirror *m, const struct pfs_tree *tree, const char *tree_dir);

static int sync_child(const char *name, const struct pfs_stat *st, void *data)
{
	struct sync_ctx *ctx = data;
	char child[PFS_MAX_PATH + 2];
	int rv;

	snprintf(child, sizeof(child), "%s/%s", strcmp(ctx->dir, "/") ? ctx->dir : "", name);
	rv = st->type == PFS_TYPE_DIR ? sync_dir(ctx->m, ctx->tree, child)
				      : write_file(ctx->m, ctx->tree, child, true);
	if (rv < 0 && st->type != PFS_TYPE_DIR)
		pfs_log(WARN, "mirror sync of %s failed: %s", child, strerror(-rv));
	if (rv < 0 && ctx->rv == 0)
		ctx->rv = rv;
	return 0;
}

/* Remove names of the copy that the tree does not have (root extras kept). */
static void prune_dir(struct pfs_mirror *m, const struct pfs_tree *tree, const char *tree_dir)
{
	char p[PFS_MAX_PATH * 2], child[PFS_MAX_PATH * 2];
	struct pfs_stat st;
	struct dirent *d;
	DIR *dir;

	full_path(m, tree_dir, p, sizeof(p));
	dir = opendir(p);
	if (!dir)
		return;
	while ((d = readdir(dir)) != NULL) {
		bool root = !strcmp(tree_dir, "/");

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (root && pfs_tree_is_reserved(d->d_name))
			continue;
		snprintf(child, sizeof(child), "%s/%s", root ? "" : tree_dir, d->d_name);
		if (pfs_tree_stat(tree, child, &st) == 0)
			continue;
		if (snprintf(child, sizeof(child), "%s/%s", p, d->d_name) < (int)sizeof(child))
			remove_all(child);
	}
	closedir(dir);
}

static int sync_dir(struct pfs_mirror *m, const struct pfs_tree *tree, const char *tree_dir)
{
	struct sync_ctx ctx = {m, tree, tree_dir, 0};
	int rv;

	rv = make_dir(m, tree_dir);
	if (rv < 0) {
		pfs_log(WARN, "mirror sync of directory %s failed: %s", tree_dir, strerror(-rv));
		return rv;
	}
	prune_dir(m, tree, tree_dir);
	rv = pfs_tree_list(tree, tree_dir, sync_child, &ctx);
	return rv < 0 ? rv : ctx.rv;
}

int pfs_mirror_sync(struct pfs_mirror *m, const struct pfs_tree *tree)
{
	int rv = sync_dir(m, tree, "/");

	if (rv == 0)
		rv = write_links(m);
	if (rv == 0)
		rv = pfs_mirror_virtual(m, tree);
	return rv;
}

int pfs_mirror_event(struct pfs_mirror *m, const char *path, const char *path2)
{
	const char *paths[2] = {path, path2};

	for (size_t i = 0; i < 2 && paths[i]; i++) {
		char *copy;

		if (m->full_sync || m->ndirty == MAX_DIRTY) {
			m->full_sync = true;
			return 0;
		}
		copy = strdup(paths[i]);
		if (!copy) {
			m->full_sync = true;
			return -ENOMEM;
		}
		m->dirty[m->ndirty++] = copy;
	}
	return 0;
}

bool pfs_mirror_pending(const struct pfs_mirror *m)
{
	return m->ndirty > 0 || m->full_sync;
}

static int by_length(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	size_t lx = strlen(*x), ly = strlen(*y);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(*x, *y);
}

/* Make one path of the copy equal to the tree. */
static int flush_path(struct pfs_mirror *m, const struct pfs_tree *tree, const char *path)
{
	char p[PFS_MAX_PATH * 2];
	struct pfs_stat st;
	struct stat have;
	int rv;

	full_path(m, path, p, sizeof(p));
	if (pfs_tree_stat(tree, path, &st) < 0)
		return remove_all(p);
	if (st.type == PFS_TYPE_DIR) {
		if (lstat(p, &have) == 0 && !S_ISDIR(have.st_mode))
			unlink(p);
		return make_dir(m, path);
	}
	rv = write_file(m, tree, path, false);
	if (rv == -EISDIR || rv == -ENOTEMPTY || rv == -EEXIST) {
		remove_all(p);
		rv = write_file(m, tree, path, false);
	}
	return rv;
}

int pfs_mirror_flush(struct pfs_mirror *m, const struct pfs_tree *tree)
{
	int rv = 0, one;

	if (m->full_sync) {
		rv = pfs_mirror_sync(m, tree);
	} else {
		/* Shorter paths first, so parents exist before their children. */
		qsort(m->dirty, m->ndirty, sizeof(*m->dirty), by_length);
		for (size_t i = 0; i < m->ndirty; i++) {
			if (i > 0 && !strcmp(m->dirty[i], m->dirty[i - 1]))
				continue;
			one = flush_path(m, tree, m->dirty[i]);
			if (one < 0 && rv == 0) {
				pfs_log(WARN, "mirror update of %s failed: %s", m->dirty[i], strerror(-one));
				rv = one;
			}
		}
		one = pfs_mirror_virtual(m, tree);
		if (one < 0 && rv == 0)
			rv = one;
	}
	for (size_t i = 0; i < m->ndirty; i++)
		free(m->dirty[i]);
	m->ndirty = 0;
	m->full_sync = false;
	return rv;
}

/* Unmount a stale bind mount of an earlier run that was killed. */
static void unmount_stale(const char *copy, const char *target)
{
	struct stat a, b;

	if (stat(copy, &a) == 0 && stat(target, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		umount2(target, MNT_DETACH);
}

static int mount_ro(struct pfs_mirror *m, char *errmsg)
{
	if (mkdir(m->target, 0755) < 0 && errno != EEXIST)
		goto err;
	unmount_stale(m->copy, m->target);
	if (mount(m->copy, m->target, "none", MS_BIND, NULL) < 0)
		goto err;
	if (mount("none", m->target, "none", MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
		int saved = errno;

		umount2(m->target, MNT_DETACH);
		errno = saved;
		goto err;
	}
	m->mounted = true;
	return 0;

err:
	snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot bind mount %.100s read-only on %.100s: %s",
		 m->copy, m->target, strerror(errno));
	return -errno;
}

int pfs_mirror_open(const char *copy_dir, const char *target, const char *node_name,
		    gid_t reader_gid, struct pfs_mirror **out, char *errmsg)
{
	struct pfs_mirror *m = calloc(1, sizeof(*m));
	int rv;

	if (!m)
		return -ENOMEM;
	m->dirty = calloc(MAX_DIRTY, sizeof(*m->dirty));
	if (!m->dirty) {
		free(m);
		return -ENOMEM;
	}
	snprintf(m->copy, sizeof(m->copy), "%s", copy_dir);
	snprintf(m->target, sizeof(m->target), "%s", target ? target : "");
	snprintf(m->node, sizeof(m->node), "%s", node_name);
	m->gid = reader_gid;
	if (mkdir(copy_dir, 0755) < 0 && errno != EEXIST) {
		rv = -errno;
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot create %s: %s", copy_dir, strerror(-rv));
		free(m->dirty);
		free(m);
		return rv;
	}
	if (target && mount_ro(m, errmsg) < 0)
		pfs_log(WARN, "mirror stays in %s only: %s", copy_dir, errmsg);
	*out = m;
	return 0;
}

bool pfs_mirror_mounted(const struct pfs_mirror *mirror)
{
	return mirror->mounted;
}

void pfs_mirror_close(struct pfs_mirror *m)
{
	if (!m)
		return;
	if (m->mounted && umount2(m->target, MNT_DETACH) < 0)
		pfs_log(WARN, "cannot unmount %s: %s", m->target, strerror(errno));
	for (size_t i = 0; i < m->ndirty; i++)
		free(m->dirty[i]);
	free(m->dirty);
	free(m);
}
