/* pfs_mirror: the plain-file copy of the tree (see mirror.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmxfs/log.h"
#include "pmxfs/mirror.h"
#include "pmxfs/perm.h"

/* LIMIT: distinct paths remembered between flushes; beyond this a flush
 * makes the whole copy equal to the tree instead. */
#define MAX_DIRTY 4096

/* One step of a batch for the writer thread, with everything it needs
 * copied out of the tree, so the thread never reads the tree. */
enum item_kind { ITEM_FILE, ITEM_DIR, ITEM_REMOVE };

struct item {
	enum item_kind kind;
	char *path;        /* tree path, for messages */
	char *data;        /* ITEM_FILE: the contents */
	size_t len;
	mode_t mode;
};

struct batch {
	struct item *items;
	size_t nitems;
	struct batch *next;
};

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

	/* The writer thread takes batches in order; only it writes the copy
	 * while a batch is queued or running. Guarded by lock. */
	pthread_t writer;
	bool writer_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;   /* a batch was queued, or stop */
	pthread_cond_t idle;   /* the queue became empty */
	struct batch *head, *tail;
	bool running;          /* the writer works on a batch it took */
	bool stop;
	uint64_t writes;       /* files renamed or exchanged into place */

	/* Owned by the thread that writes the copy (see above). */
	char spare[PFS_MAX_PATH + 16]; /* <copy>.spare, next to the copy */
	bool spare_off;        /* exchanges are not supported here */
};

/* Write the copy's path of PATH into OUT. Callers pass room for the copy
 * folder and a tree path. A path that did not fit would leave OUT empty,
 * so the write fails instead of reaching a shorter path. */
static void full_path(const struct pfs_mirror *m, const char *path, char *out, size_t len)
{
	if (snprintf(out, len, "%s%s", m->copy, strcmp(path, "/") ? path : "") >= (int)len)
		out[0] = '\0';
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

static int write_all(int fd, const char *data, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			off += (size_t)n;
	}
	return 0;
}

/*
 * Open the spare file for a new write. A reader may still have the old
 * inode open that an exchange put there. The write lease taken here then
 * fails and the spare is replaced by a new file, so no reader sees a file
 * change under an open descriptor. The caller holds the lease while it
 * writes, so an open() that raced with the last exchange waits for the
 * new contents. NOTE: a reader that mapped the file and closed its
 * descriptor is not seen, and its mapping shows the next contents.
 * Return the descriptor, or -1 when the caller must use a temporary file.
 */
static int open_spare(struct pfs_mirror *m)
{
	int fd;

	for (int i = 0; i < 2; i++) {
		fd = open(m->spare, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;

		/* A lease break sends SIGURG, which is ignored, not SIGIO. */
		if (fcntl(fd, F_SETSIG, SIGURG) == 0 && fcntl(fd, F_SETLEASE, F_WRLCK) == 0)
			return fd;
		if (errno != EAGAIN && errno != EBUSY) {
			pfs_log(INFO, "mirror cannot take a lease on %s (%s): it uses temporary files",
				m->spare, strerror(errno));
			close(fd);
			m->spare_off = true;
			unlink(m->spare);
			return -1;
		}
		close(fd);
		unlink(m->spare);
	}
	return -1;
}

/*
 * Write data to the spare file and exchange it with the regular file at
 * path, so the old inode becomes the next spare and no inode is freed.
 * This matters because ext4 without a journal skips every recently freed
 * inode at each allocation, so a rename per write gets slower the more
 * files change. Return 1, writing nothing, when path is not a regular
 * file or the file system cannot exchange. The caller then uses a
 * temporary file.
 */
static int write_exchange(struct pfs_mirror *m, const char *path, const char *data,
			  size_t len, mode_t mode)
{
	struct stat have;
	int fd, rv = 0;

	if (m->spare_off || lstat(path, &have) < 0 || !S_ISREG(have.st_mode))
		return 1;
	fd = open_spare(m);
	if (fd < 0)
		return 1;
	if (fchown(fd, 0, m->gid) < 0 || fchmod(fd, mode) < 0)
		rv = -errno;
	if (rv == 0)
		rv = write_all(fd, data, len);
	if (rv == 0 && ftruncate(fd, (off_t)len) < 0)
		rv = -errno;
	if (rv == 0 && fcntl(fd, F_SETLEASE, F_UNLCK) < 0)
		rv = -errno;
	if (rv == 0 && renameat2(AT_FDCWD, m->spare, AT_FDCWD, path, RENAME_EXCHANGE) < 0) {
		rv = -errno;
		if (rv == -EXDEV || rv == -EINVAL || rv == -ENOSYS) {
			pfs_log(INFO, "mirror cannot exchange %s with files in %s (%s): it uses "
				"temporary files", m->spare, m->copy, strerror(-rv));
			m->spare_off = true;
			unlink(m->spare);
			rv = 1;
		}
	}
	if (close(fd) < 0 && rv == 0)
		rv = -errno;
	if (rv != 0)
		return rv;

	/* The spare now contains the old contents: only root may read them. */
	chmod(m->spare, 0600);
	__atomic_add_fetch(&m->writes, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Write data to path by a temporary file and a rename, or by an exchange
 * with the spare file. */
static int write_atomic(struct pfs_mirror *m, const char *path, const char *data,
			size_t len, mode_t mode)
{
	char tmp[PFS_MAX_PATH * 2 + 64];
	int fd, rv;

	rv = write_exchange(m, path, data, len, mode);
	if (rv <= 0)
		return rv;
	rv = 0;
	fd = open_temp(path, mode, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	if (fchown(fd, 0, m->gid) < 0 || fchmod(fd, mode) < 0)
		rv = -errno;
	if (rv == 0)
		rv = write_all(fd, data, len);
	if (close(fd) < 0 && rv == 0)
		rv = -errno;
	if (rv == 0 && rename(tmp, path) < 0)
		rv = -errno;
	if (rv < 0)
		unlink(tmp);
	if (rv == 0)
		__atomic_add_fetch(&m->writes, 1, __ATOMIC_RELAXED);
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
static int write_file(struct pfs_mirror *m, const struct pfs_tree *tree,
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

/* Batches for the writer thread ------------------------------------------- */

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->nitems; i++) {
		free(b->items[i].path);
		free(b->items[i].data);
	}
	free(b->items);
	free(b);
}

static struct batch *batch_new(size_t capacity)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->items = calloc(capacity ? capacity : 1, sizeof(*b->items));
	if (!b->items) {
		free(b);
		return NULL;
	}
	return b;
}

/* Append an item; data (len bytes) is copied. The caller sized items. */
static int batch_add(struct batch *b, enum item_kind kind, const char *path, const char *data,
		     size_t len, mode_t mode)
{
	struct item *it = &b->items[b->nitems];

	it->kind = kind;
	it->path = strdup(path);
	if (!it->path)
		return -ENOMEM;
	if (kind == ITEM_FILE) {
		it->data = malloc(len ? len : 1);
		if (!it->data) {
			free(it->path);
			return -ENOMEM;
		}
		memcpy(it->data, data, len);
		it->len = len;
	}
	it->mode = mode;
	b->nitems++;
	return 0;
}

/* Append the virtual files, built on the caller's thread. */
static int add_virtual(struct pfs_mirror *m, const struct pfs_tree *tree, struct batch *b)
{
	static const char *const names[] = {"/.members", "/.vmlist", "/.version"};
	struct pfs_member self = {1, m->node, true, NULL};
	int rv = 0;

	for (size_t i = 0; i < 3 && rv == 0; i++) {
		char *json = NULL;

		rv = m->virtual_fn ? m->virtual_fn(m->virtual_ctx, tree, names[i] + 1, &json)
				   : pfs_tree_virtual(tree, names[i] + 1, m->node, &self, 1, true,
						      &json);
		if (rv < 0)
			break;
		rv = batch_add(b, ITEM_FILE, names[i], json, strlen(json), 0640);
		free(json);
	}
	return rv;
}

/* Carry out one item; log a failure. */
static int run_item(struct pfs_mirror *m, const struct item *it)
{
	char p[PFS_MAX_PATH * 2];
	struct stat have;
	int rv;

	full_path(m, it->path, p, sizeof(p));
	switch (it->kind) {
	case ITEM_REMOVE:
		rv = remove_all(p);
		break;
	case ITEM_DIR:
		if (lstat(p, &have) == 0 && !S_ISDIR(have.st_mode))
			unlink(p);
		rv = make_dir(m, it->path);
		break;
	default:
		rv = write_atomic(m, p, it->data, it->len, it->mode);
		if (rv == -EISDIR || rv == -ENOTEMPTY || rv == -EEXIST) {
			remove_all(p);
			rv = write_atomic(m, p, it->data, it->len, it->mode);
		}
		break;
	}
	if (rv < 0)
		pfs_log(WARN, "mirror update of %s failed: %s", it->path, strerror(-rv));
	return rv;
}

static int run_batch(struct pfs_mirror *m, const struct batch *b)
{
	int rv = 0;

	for (size_t i = 0; i < b->nitems; i++) {
		int one = run_item(m, &b->items[i]);

		if (one < 0 && rv == 0)
			rv = one;
	}
	return rv;
}

static void *writer_main(void *arg)
{
	struct pfs_mirror *m = arg;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		struct batch *b;

		while (!m->head && !m->stop)
			pthread_cond_wait(&m->wake, &m->lock);
		b = m->head;
		if (!b)
			break;
		m->head = b->next;
		if (!m->head)
			m->tail = NULL;
		m->running = true;
		pthread_mutex_unlock(&m->lock);

		run_batch(m, b);
		batch_free(b);

		pthread_mutex_lock(&m->lock);
		m->running = false;
		if (!m->head)
			pthread_cond_broadcast(&m->idle);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Hand a batch to the writer thread, or run it here when there is none. */
static int enqueue(struct pfs_mirror *m, struct batch *b)
{
	int rv;

	if (!m->writer_started) {
		rv = run_batch(m, b);
		batch_free(b);
		return rv;
	}
	pthread_mutex_lock(&m->lock);
	if (m->tail)
		m->tail->next = b;
	else
		m->head = b;
	m->tail = b;
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

bool pfs_mirror_busy(struct pfs_mirror *m)
{
	bool busy;

	pthread_mutex_lock(&m->lock);
	busy = m->head || m->running;
	pthread_mutex_unlock(&m->lock);
	return busy;
}

void pfs_mirror_wait(struct pfs_mirror *m)
{
	pthread_mutex_lock(&m->lock);
	while (m->head || m->running)
		pthread_cond_wait(&m->idle, &m->lock);
	pthread_mutex_unlock(&m->lock);
}

uint64_t pfs_mirror_writes(const struct pfs_mirror *m)
{
	return __atomic_load_n(&m->writes, __ATOMIC_RELAXED);
}

int pfs_mirror_virtual(struct pfs_mirror *m, const struct pfs_tree *tree)
{
	struct batch *b = batch_new(3);
	int rv;

	if (!b)
		return -ENOMEM;
	rv = add_virtual(m, tree, b);
	if (rv < 0) {
		batch_free(b);
		return rv;
	}
	return enqueue(m, b);
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
	struct batch *b;
	int rv;

	/* The queued batches are older than this tree: let them land first,
	 * and write nothing in parallel with the writer thread. */
	pfs_mirror_wait(m);
	rv = sync_dir(m, tree, "/");
	if (rv == 0)
		rv = write_links(m);
	if (rv < 0)
		return rv;
	b = batch_new(3);
	if (!b)
		return -ENOMEM;
	rv = add_virtual(m, tree, b);
	if (rv == 0)
		rv = run_batch(m, b);
	batch_free(b);
	return rv;
}

static int by_length(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	size_t lx = strlen(*x), ly = strlen(*y);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(*x, *y);
}

/* Sort the remembered paths, shorter first so that parents come before
 * their children, and drop repeats: a path changed many times is written
 * once. */
static void compact_dirty(struct pfs_mirror *m)
{
	size_t n = 0;

	qsort(m->dirty, m->ndirty, sizeof(*m->dirty), by_length);
	for (size_t i = 0; i < m->ndirty; i++) {
		if (n > 0 && !strcmp(m->dirty[i], m->dirty[n - 1]))
			free(m->dirty[i]);
		else
			m->dirty[n++] = m->dirty[i];
	}
	m->ndirty = n;
}

int pfs_mirror_event(struct pfs_mirror *m, const char *path, const char *path2)
{
	const char *paths[2] = {path, path2};

	for (size_t i = 0; i < 2 && paths[i]; i++) {
		char *copy;

		if (!m->full_sync && m->ndirty == MAX_DIRTY)
			compact_dirty(m);
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

static void clear_dirty(struct pfs_mirror *m)
{
	for (size_t i = 0; i < m->ndirty; i++)
		free(m->dirty[i]);
	m->ndirty = 0;
	m->full_sync = false;
}

/* Add what one path of the copy must become to match the tree. */
static int add_path(struct batch *b, const struct pfs_tree *tree, const char *path)
{
	struct pfs_stat st;
	const char *data;
	int rv;

	if (pfs_tree_stat(tree, path, &st) < 0)
		return batch_add(b, ITEM_REMOVE, path, NULL, 0, 0);
	if (st.type == PFS_TYPE_DIR)
		return batch_add(b, ITEM_DIR, path, NULL, 0, 0);
	rv = pfs_tree_read(tree, path, &data, &st);
	if (rv < 0)
		return rv;
	return batch_add(b, ITEM_FILE, path, data, st.size,
			 pfs_perm_is_private(path) ? 0600 : 0640);
}

int pfs_mirror_flush(struct pfs_mirror *m, const struct pfs_tree *tree)
{
	struct batch *b;
	int rv = 0;

	if (m->full_sync) {
		clear_dirty(m);
		return pfs_mirror_sync(m, tree);
	}
	compact_dirty(m);
	b = batch_new(m->ndirty + 3);
	if (!b)
		rv = -ENOMEM;
	for (size_t i = 0; rv == 0 && i < m->ndirty; i++)
		rv = add_path(b, tree, m->dirty[i]);
	if (rv == 0)
		rv = add_virtual(m, tree, b);
	if (rv < 0) {
		/* Nothing of this flush is lost: the next one syncs everything. */
		pfs_log(WARN, "preparing the mirror update failed: %s; the next flush rewrites "
			"the copy", strerror(-rv));
		batch_free(b);
		clear_dirty(m);
		m->full_sync = true;
		return rv;
	}
	clear_dirty(m);
	return enqueue(m, b);
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
	sigset_t all, old;
	size_t copy_len;
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
	/* The spare sits next to the copy, on its file system but outside
	 * what readers see. */
	copy_len = strlen(m->copy);
	while (copy_len > 1 && m->copy[copy_len - 1] == '/')
		copy_len--;
	snprintf(m->spare, sizeof(m->spare), "%.*s.spare", (int)copy_len, m->copy);
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
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->wake, NULL);
	pthread_cond_init(&m->idle, NULL);
	/* The writer inherits a mask that blocks every signal, so SIGTERM and
	 * the others reach the main loop's handlers. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rv = pthread_create(&m->writer, NULL, writer_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rv != 0)
		pfs_log(WARN, "cannot start the mirror writer thread (%s): the main loop writes "
			"the mirror", strerror(rv));
	m->writer_started = rv == 0;
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
	if (m->writer_started) {
		/* The writer empties the queue before it stops. */
		pthread_mutex_lock(&m->lock);
		m->stop = true;
		pthread_cond_signal(&m->wake);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->writer, NULL);
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->wake);
	pthread_cond_destroy(&m->idle);
	if (m->mounted && umount2(m->target, MNT_DETACH) < 0)
		pfs_log(WARN, "cannot unmount %s: %s", m->target, strerror(errno));
	for (size_t i = 0; i < m->ndirty; i++)
		free(m->dirty[i]);
	free(m->dirty);
	free(m);
}
