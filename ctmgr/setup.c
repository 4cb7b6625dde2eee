/*
 * Guest setup (see ctmgr/setup.h and docs/guest-setup.md).
 *
 * The file has four parts: confined file access inside the root file
 * system, OS detection, the steps every start runs (consoles, network,
 * hostname, DNS), and the create-time steps (password, SSH keys, template
 * fixes). The distribution-specific behaviour follows pve-container's
 * LXC/Setup/{Base,Debian,Ubuntu,Alpine}.pm.
 */
#include "config.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "conf/propstr.h"
#include "ctmgr/setup.h"

#define MARK_BEGIN "# --- BEGIN PVE ---"
#define MARK_END "# --- END PVE ---"

/* LIMIT: the largest guest file setup reads; bigger files are an error. */
#define GUEST_FILE_MAX (4 * 1024 * 1024)

/* pct's netN keys run from net0 to net31. */
#define MAX_NETS 32

/* pct's tty range, and the default when the config has no `tty`. */
#define TTY_MAX 6
#define TTY_DEFAULT 2

enum os {
	OS_DEBIAN,
	OS_UBUNTU,
	OS_ALPINE,
	OS_DEVUAN,
	OS_CENTOS,
	OS_FEDORA,
	OS_OPENSUSE,
	OS_ARCHLINUX,
	OS_GENTOO,
	OS_NIXOS,
	OS_OPENEULER,
	OS_UNMANAGED,
};

static const char *const os_names[] = {
	[OS_DEBIAN] = "debian",       [OS_UBUNTU] = "ubuntu",     [OS_ALPINE] = "alpine",
	[OS_DEVUAN] = "devuan",       [OS_CENTOS] = "centos",     [OS_FEDORA] = "fedora",
	[OS_OPENSUSE] = "opensuse",   [OS_ARCHLINUX] = "archlinux", [OS_GENTOO] = "gentoo",
	[OS_NIXOS] = "nixos",         [OS_OPENEULER] = "openeuler", [OS_UNMANAGED] = "unmanaged",
};

/* os-release IDs that name a distribution family under another name. */
static const struct {
	const char *id;
	enum os os;
} os_aliases[] = {
	{ "opensuse-leap", OS_OPENSUSE }, { "opensuse-tumbleweed", OS_OPENSUSE },
	{ "opensuse-slowroll", OS_OPENSUSE }, { "sles", OS_OPENSUSE },
	{ "rocky", OS_CENTOS }, { "almalinux", OS_CENTOS },
	{ "arch", OS_ARCHLINUX }, { "openEuler", OS_OPENEULER },
};

/* One run. */
struct setup {
	int root; /* O_PATH descriptor of the root file system */
	const struct conf_section *ct;
	const struct ctm_setup_opts *opts;
	struct ctm_setup_report *report;
	char *errmsg;

	enum os os;
	int major, minor; /* release of the guest, when the OS needs it */
	bool chown;       /* give new files to the container's root */
	uid_t uid;
	gid_t gid;

	char *nameservers;   /* space-separated, never NULL after dns_lookup() */
	char *searchdomains; /* likewise */
};

/* A growing NUL-terminated string. ENOMEM makes it sticky-failed. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
};

/* Lines of a text, without their '\n'. */
struct lines {
	char **v;
	size_t n;
};

/* ---- small helpers ---- */

static int fail(struct setup *s, int rv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct setup *s, int rv, const char *fmt, ...)
{
	va_list ap;

	if (s->errmsg) {
		va_start(ap, fmt);
		vsnprintf(s->errmsg, CONF_ERRMSG_SIZE, fmt, ap);
		va_end(ap);
	}
	return rv;
}

static void buf_add(struct buf *b, const char *text, size_t n)
{
	char *grown;
	size_t cap;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, text, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *text)
{
	buf_add(b, text, strlen(text));
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	buf_add(b, text, (size_t)n);
	free(text);
}

/* Make sure B contains a string, even an empty one. Returns -ENOMEM or 0. */
static int buf_finish(struct buf *b)
{
	buf_add(b, "", 0);
	return b->failed ? -ENOMEM : 0;
}

static void buf_free(struct buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static bool ends_with(const char *text, const char *suffix)
{
	size_t a = strlen(text), b = strlen(suffix);

	return a >= b && strcmp(text + a - b, suffix) == 0;
}

static int list_add(char ***v, size_t *n, const char *text)
{
	char **grown = realloc(*v, (*n + 1) * sizeof(**v));

	if (!grown)
		return -ENOMEM;
	*v = grown;
	grown[*n] = strdup(text);
	if (!grown[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static void list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int note(struct setup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int note(struct setup *s, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;
	int rv;

	va_start(ap, fmt);
	rv = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (rv < 0)
		return -ENOMEM;
	rv = list_add(&s->report->notes, &s->report->n_notes, text);
	free(text);
	return rv;
}

/*
 * Split TEXT at '\n'. Without KEEP_EMPTY_TAIL, every empty line at the end
 * is dropped, as Perl's split does. With it they are kept, as reading line
 * by line does, but a final '\n' still ends the last line.
 */
static int lines_split(const char *text, bool keep_empty_tail, struct lines *out)
{
	const char *p = text, *nl;
	char **grown;

	memset(out, 0, sizeof(*out));
	while (*p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		grown = realloc(out->v, (out->n + 1) * sizeof(*out->v));
		if (!grown)
			goto err;
		out->v = grown;
		out->v[out->n] = strndup(p, (size_t)(nl - p));
		if (!out->v[out->n])
			goto err;
		out->n++;
		p = *nl ? nl + 1 : nl;
	}
	while (!keep_empty_tail && out->n > 0 && out->v[out->n - 1][0] == '\0')
		free(out->v[--out->n]);
	return 0;

err:
	list_free(out->v, out->n);
	memset(out, 0, sizeof(*out));
	return -ENOMEM;
}

static void lines_free(struct lines *l)
{
	list_free(l->v, l->n);
	memset(l, 0, sizeof(*l));
}

/* Match TEXT against the extended regular expression RE. */
static bool regex_match(const char *re, const char *text, int cflags)
{
	regex_t rx;
	bool hit;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB | cflags) != 0)
		return false;
	hit = regexec(&rx, text, 0, NULL, 0) == 0;
	regfree(&rx);
	return hit;
}

/* The Nth (from 0) blank-separated word of LINE into BUF, or false. */
static bool word_at(const char *line, int n, char *buf, size_t size)
{
	const char *p = line, *start;
	size_t len;

	for (int i = 0;; i++) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			return false;
		start = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (i == n) {
			len = (size_t)(p - start);
			if (len >= size)
				return false;
			memcpy(buf, start, len);
			buf[len] = '\0';
			return true;
		}
	}
}

static int word_count(const char *line)
{
	int n = 0;

	for (const char *p = line; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		n++;
		while (*p && !isspace((unsigned char)*p))
			p++;
	}
	return n;
}

/*
 * Split a pct list (separated by blanks, ',' or ';') into a
 * space-separated string. Returns NULL on ENOMEM.
 */
static char *list_normalise(const char *text)
{
	struct buf b = { 0 };
	const char *p = text ? text : "";
	size_t n;

	while (*p) {
		while (*p && (isspace((unsigned char)*p) || *p == ',' || *p == ';'))
			p++;
		n = strcspn(p, " \t\r\n,;");
		if (n) {
			if (b.len)
				buf_str(&b, " ");
			buf_add(&b, p, n);
		}
		p += n;
	}
	if (buf_finish(&b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* ---- confined file access ---- */

/* LIMIT: symlinks followed in one path, as the kernel's limit (ELOOP). */
#define WALK_MAX_LINKS 40
/* LIMIT: directory depth of a path in the guest for the fallback walk. */
#define WALK_MAX_DEPTH 256

/*
 * Resolve PATH below ROOT one component at a time, for kernels (and
 * valgrind) without openat2. Each component is opened with O_NOFOLLOW; a
 * symlink's target is spliced into the rest of the path, and an absolute
 * target starts again at ROOT. ".." pops to the descriptor of the parent
 * held on a stack and stays at ROOT at the top, so neither a symlink nor a
 * concurrent rename leads out of ROOT. The last component is opened with
 * FLAGS | O_NOFOLLOW: if it turned into a symlink meanwhile, the open
 * fails with ELOOP instead of following it. FLAGS must not hold O_CREAT.
 */
static int walk_open(int root, const char *path, int flags)
{
	int stack[WALK_MAX_DEPTH];
	char *rest = NULL, *spliced, *comp, target[PATH_MAX];
	struct stat st;
	bool had_slash, last;
	int depth = 0, links = 0, fd, rv;
	ssize_t n;
	size_t len;

	stack[0] = root;
	rest = strdup(path);
	if (!rest)
		return -ENOMEM;

	for (char *p = rest;;) {
		p += strspn(p, "/");
		if (!*p) {
			/* PATH named a directory: open the one reached. */
			rv = openat(stack[depth], ".", flags | O_CLOEXEC);
			rv = rv < 0 ? -errno : rv;
			goto out;
		}
		len = strcspn(p, "/");
		comp = p;
		had_slash = p[len] == '/';
		p += len;
		if (had_slash)
			*p++ = '\0';
		last = p[strspn(p, "/")] == '\0';

		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (depth > 0)
				close(stack[depth--]);
			continue;
		}

		fd = openat(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			rv = -errno;
			if (fd >= 0)
				close(fd);
			goto out;
		}

		if (S_ISLNK(st.st_mode)) {
			n = readlinkat(fd, "", target, sizeof(target) - 1);
			close(fd);
			if (n < 0 || ++links > WALK_MAX_LINKS) {
				rv = n < 0 ? -errno : -ELOOP;
				goto out;
			}
			target[n] = '\0';
			if (target[0] == '/')
				while (depth > 0)
					close(stack[depth--]);
			if (asprintf(&spliced, "%s%s%s", target, had_slash ? "/" : "", p) < 0) {
				rv = -ENOMEM;
				goto out;
			}
			free(rest);
			rest = p = spliced;
			continue;
		}

		if (last) {
			if (had_slash && !S_ISDIR(st.st_mode)) {
				close(fd);
				rv = -ENOTDIR;
				goto out;
			}
			if ((flags & O_PATH) && !(flags & O_DIRECTORY)) {
				rv = fd;
				goto out;
			}
			close(fd);
			rv = openat(stack[depth], comp, flags | O_NOFOLLOW | O_CLOEXEC);
			rv = rv < 0 ? -errno : rv;
			goto out;
		}

		if (!S_ISDIR(st.st_mode) || depth + 1 >= WALK_MAX_DEPTH) {
			close(fd);
			rv = S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
			goto out;
		}
		stack[++depth] = fd;
	}

out:
	while (depth > 0)
		close(stack[depth--]);
	free(rest);
	return rv;
}

/* LIMIT: openat2 attempts that end in EAGAIN before the walk takes over. */
#define OPENAT2_TRIES 16

/*
 * Open PATH (absolute, inside the guest) with every symlink kept inside
 * the root: openat2 with RESOLVE_IN_ROOT, or walk_open() where the kernel
 * lacks openat2. openat2 fails with EAGAIN when a rename or mount anywhere
 * on the system races with a ".." in the path. So it is retried, and when
 * that persists the walk, which has no such failure, resolves the path.
 */
static int root_open(struct setup *s, const char *path, int flags, mode_t mode)
{
	static bool no_openat2;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	for (int i = 0; !no_openat2 && i < OPENAT2_TRIES; i++) {
		fd = syscall(SYS_openat2, s->root, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno == ENOSYS)
			no_openat2 = true;
		else if (errno != EAGAIN)
			return -errno;
	}
	return walk_open(s->root, path, flags);
}

/* Split "/a/b/c" into the directory "/a/b" (in DIR) and the name "c". */
static int path_split(const char *path, char *dir, size_t size, const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash || !slash[1])
		return -EINVAL;
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(dir, path, len);
	dir[len] = '\0';
	*base = slash + 1;
	return 0;
}

static int report_changed(struct setup *s, const char *path)
{
	return list_add(&s->report->changed, &s->report->n_changed, path);
}

static int give_to_root(struct setup *s, int dirfd, const char *name)
{
	if (!s->chown)
		return 0;
	if (fchownat(dirfd, name, s->uid, s->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/*
 * Open directory DIR of the guest for use with the *at() calls. With
 * CREATE, missing directories on the way are made (mode 0755, owned by
 * the container's root) and reported.
 */
static int dir_open(struct setup *s, const char *dir, bool create, int *out)
{
	char prefix[PATH_MAX];
	const char *base;
	int fd, parent, rv;

	fd = root_open(s, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd >= 0 || fd != -ENOENT || !create || strcmp(dir, "/") == 0) {
		if (fd < 0)
			return fd;
		*out = fd;
		return 0;
	}

	rv = path_split(dir, prefix, sizeof(prefix), &base);
	if (rv < 0)
		return rv;
	rv = dir_open(s, prefix, true, &parent);
	if (rv < 0)
		return rv;
	if (mkdirat(parent, base, 0755) < 0 && errno != EEXIST) {
		rv = -errno;
		close(parent);
		return rv;
	}
	rv = give_to_root(s, parent, base);
	close(parent);
	if (rv < 0)
		return rv;
	rv = report_changed(s, dir);
	if (rv < 0)
		return rv;

	fd = root_open(s, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	*out = fd;
	return 0;
}

/* Whether a regular file `.pve-ignore.NAME` sits in DIRFD. */
static bool is_ignored(int dirfd, const char *name)
{
	char marker[NAME_MAX + 16];
	struct stat st;

	if ((size_t)snprintf(marker, sizeof(marker), ".pve-ignore.%s", name) >= sizeof(marker))
		return false;
	return fstatat(dirfd, marker, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static int report_ignored(struct setup *s, const char *path)
{
	for (size_t i = 0; i < s->report->n_ignored; i++)
		if (strcmp(s->report->ignored[i], path) == 0)
			return 0;
	return list_add(&s->report->ignored, &s->report->n_ignored, path);
}

/* Read all of FD, a regular file, into a new NUL-terminated string. */
static int read_fd(int fd, char **out, size_t *out_len)
{
	struct buf b = { 0 };
	char chunk[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_free(&b);
			return -errno;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > GUEST_FILE_MAX) {
			buf_free(&b);
			return -EFBIG;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	if (buf_finish(&b) < 0) {
		buf_free(&b);
		return -ENOMEM;
	}
	*out = b.data;
	if (out_len)
		*out_len = b.len;
	return 0;
}

/*
 * Read the guest file PATH (symlinks followed inside the root). Returns
 * -ENOENT quietly when it is missing; other errors fill ERRMSG.
 */
static int file_read(struct setup *s, const char *path, char **out)
{
	struct stat st;
	int fd, rv;

	fd = root_open(s, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return -ENOENT;
	if (fd < 0)
		return fail(s, fd, "cannot open %s in the guest: %s", path, strerror(-fd));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(s, -EINVAL, "%s in the guest is not a regular file", path);
	}
	rv = read_fd(fd, out, NULL);
	close(fd);
	if (rv < 0)
		return fail(s, rv, "cannot read %s in the guest: %s", path, strerror(-rv));
	return 0;
}

/* The first line of PATH without its '\n', or -ENOENT. */
static int file_first_line(struct setup *s, const char *path, char **out)
{
	char *text = NULL;
	int rv = file_read(s, path, &text);

	if (rv < 0)
		return rv;
	text[strcspn(text, "\n")] = '\0';
	*out = text;
	return 0;
}

/* Stat PATH, following symlinks inside the root. */
static int path_stat(struct setup *s, const char *path, struct stat *st)
{
	int fd = root_open(s, path, O_PATH, 0), rv = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		rv = -errno;
	close(fd);
	return rv;
}

static bool is_file(struct setup *s, const char *path)
{
	struct stat st;

	return path_stat(s, path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(struct setup *s, const char *path)
{
	struct stat st;

	return path_stat(s, path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_executable(struct setup *s, const char *path)
{
	struct stat st;

	return path_stat(s, path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* The target of the symlink PATH (its last component is not followed). */
static int link_read(struct setup *s, const char *path, char *target, size_t size)
{
	char dir[PATH_MAX];
	const char *base;
	ssize_t n;
	int dirfd, rv;

	rv = path_split(path, dir, sizeof(dir), &base);
	if (rv < 0)
		return rv;
	dirfd = root_open(s, dir, O_PATH | O_DIRECTORY, 0);
	if (dirfd < 0)
		return dirfd;
	n = readlinkat(dirfd, base, target, size - 1);
	rv = n < 0 ? -errno : 0;
	close(dirfd);
	if (rv < 0)
		return rv;
	target[n] = '\0';
	return 0;
}

/* Whether the regular file NAME in DIRFD contains exactly DATA. */
static bool same_content(int dirfd, const char *name, const char *data, size_t len)
{
	char *old = NULL;
	size_t old_len = 0;
	bool same;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	same = read_fd(fd, &old, &old_len) == 0 && old_len == len && memcmp(old, data, len) == 0;
	close(fd);
	free(old);
	return same;
}

static int write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write DATA into NAME of DIRFD through a temporary file and a rename, so
 * the old content stays whole until the new one is on disk. The new file
 * takes the mode and owner in ST when KEEP, else MODE and the container's
 * root.
 */
static int replace_in_dir(struct setup *s, int dirfd, const char *name, const char *data,
                          size_t len, const struct stat *st, bool keep, mode_t mode)
{
	char tmp[NAME_MAX + 32];
	int fd, rv;

	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.ctmgr-%ld", name, (long)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;

	rv = write_all(fd, data, len);
	if (rv == 0 && keep && (st->st_uid != geteuid() || st->st_gid != getegid()) &&
	    fchown(fd, st->st_uid, st->st_gid) < 0)
		rv = -errno;
	if (rv == 0 && !keep && s->chown && fchown(fd, s->uid, s->gid) < 0)
		rv = -errno;
	if (rv == 0 && fchmod(fd, keep ? (st->st_mode & 07777) : mode) < 0)
		rv = -errno;
	if (rv == 0 && fsync(fd) < 0)
		rv = -errno;
	if (close(fd) < 0 && rv == 0)
		rv = -errno;
	if (rv == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rv = -errno;
	if (rv < 0) {
		unlinkat(dirfd, tmp, 0);
		return rv;
	}
	fsync(dirfd);
	return 0;
}

enum {
	WRITE_MKPARENTS = 1, /* create missing parent directories */
};

/*
 * Make the guest file PATH hold DATA. Nothing happens when it already
 * does or when it is ignored. A symlink at PATH is replaced, never written
 * through. MODE applies to a new file only.
 */
static int file_write(struct setup *s, const char *path, const char *data, size_t len,
                      mode_t mode, int flags)
{
	char dir[PATH_MAX];
	const char *base;
	struct stat st = { 0 };
	bool keep = false;
	int dirfd, rv;

	rv = path_split(path, dir, sizeof(dir), &base);
	if (rv < 0)
		return fail(s, rv, "invalid guest path %s", path);
	rv = dir_open(s, dir, flags & WRITE_MKPARENTS, &dirfd);
	if (rv < 0)
		return fail(s, rv, "cannot open directory %s in the guest to write %s: %s", dir,
		            base, strerror(-rv));

	if (is_ignored(dirfd, base)) {
		rv = report_ignored(s, path);
		goto out;
	}

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			rv = fail(s, -EISDIR, "cannot write %s in the guest: it is a directory", path);
			goto out;
		}
		if (S_ISREG(st.st_mode)) {
			if (same_content(dirfd, base, data, len))
				goto out;
			keep = true;
		}
	}

	rv = replace_in_dir(s, dirfd, base, data, len, &st, keep, mode);
	if (rv < 0) {
		rv = fail(s, rv, "cannot write %s in the guest: %s", path, strerror(-rv));
		goto out;
	}
	rv = report_changed(s, path);

out:
	close(dirfd);
	return rv;
}

static int file_write_str(struct setup *s, const char *path, const char *data, int flags)
{
	return file_write(s, path, data, strlen(data), 0644, flags);
}

/*
 * Make PATH a symlink to TARGET unless it already is one or is ignored.
 * The new link is made under a temporary name and renamed over PATH, so
 * PATH never goes missing.
 */
static int symlink_ensure(struct setup *s, const char *path, const char *target, int flags)
{
	char dir[PATH_MAX], old[PATH_MAX], tmp[NAME_MAX + 32];
	const char *base;
	struct stat st;
	ssize_t n;
	int dirfd, rv;

	rv = path_split(path, dir, sizeof(dir), &base);
	if (rv < 0)
		return fail(s, rv, "invalid guest path %s", path);
	rv = dir_open(s, dir, flags & WRITE_MKPARENTS, &dirfd);
	if (rv < 0)
		return fail(s, rv, "cannot open directory %s in the guest to link %s: %s", dir,
		            base, strerror(-rv));

	if (is_ignored(dirfd, base)) {
		rv = report_ignored(s, path);
		goto out;
	}

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			n = readlinkat(dirfd, base, old, sizeof(old) - 1);
			if (n >= 0) {
				old[n] = '\0';
				if (strcmp(old, target) == 0)
					goto out;
			}
		}
		if (S_ISDIR(st.st_mode)) {
			rv = fail(s, -EISDIR, "cannot link %s in the guest: it is a directory", path);
			goto out;
		}
	}

	if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.ctmgr-%ld", base, (long)getpid()) >=
	    sizeof(tmp)) {
		rv = fail(s, -ENAMETOOLONG, "cannot link %s in the guest: name too long", path);
		goto out;
	}
	unlinkat(dirfd, tmp, 0);
	if (symlinkat(target, dirfd, tmp) < 0) {
		rv = fail(s, -errno, "cannot link %s in the guest: %s", path, strerror(errno));
		goto out;
	}
	rv = give_to_root(s, dirfd, tmp);
	if (rv == 0 && renameat(dirfd, tmp, dirfd, base) < 0)
		rv = -errno;
	if (rv < 0) {
		unlinkat(dirfd, tmp, 0);
		rv = fail(s, rv, "cannot link %s in the guest: %s", path, strerror(-rv));
		goto out;
	}
	rv = report_changed(s, path);

out:
	close(dirfd);
	return rv;
}

/* Remove the file or symlink PATH if it exists and is not ignored. */
static int file_remove(struct setup *s, const char *path)
{
	char dir[PATH_MAX];
	const char *base;
	struct stat st;
	int dirfd, rv;

	rv = path_split(path, dir, sizeof(dir), &base);
	if (rv < 0)
		return fail(s, rv, "invalid guest path %s", path);
	dirfd = root_open(s, dir, O_RDONLY | O_DIRECTORY, 0);
	if (dirfd < 0)
		return 0;

	rv = 0;
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
		goto out;
	if (is_ignored(dirfd, base)) {
		rv = report_ignored(s, path);
		goto out;
	}
	if (unlinkat(dirfd, base, 0) < 0) {
		rv = fail(s, -errno, "cannot remove %s in the guest: %s", path, strerror(errno));
		goto out;
	}
	rv = report_changed(s, path);

out:
	close(dirfd);
	return rv;
}

/* Make directory PATH (its parent must exist) with MODE unless it is one. */
static int dir_ensure(struct setup *s, const char *path, mode_t mode)
{
	char dir[PATH_MAX];
	const char *base;
	int dirfd, rv;

	if (is_dir(s, path))
		return 0;
	rv = path_split(path, dir, sizeof(dir), &base);
	if (rv < 0)
		return fail(s, rv, "invalid guest path %s", path);
	rv = dir_open(s, dir, false, &dirfd);
	if (rv < 0)
		return fail(s, rv, "cannot open directory %s in the guest: %s", dir, strerror(-rv));
	if (mkdirat(dirfd, base, mode) < 0)
		rv = fail(s, -errno, "cannot create directory %s in the guest: %s", path,
		          strerror(errno));
	if (rv == 0)
		rv = give_to_root(s, dirfd, base);
	if (rv == 0)
		rv = report_changed(s, path);
	close(dirfd);
	return rv;
}

/* ---- marker sections ---- */

/* Whether LINE is a marker: '#', "---", WORD, "PVE", with any blanks between. */
static bool is_marker(const char *line, const char *word)
{
	size_t n = strlen(word);

	if (*line++ != '#')
		return false;
	while (isspace((unsigned char)*line))
		line++;
	if (strncmp(line, "---", 3) != 0)
		return false;
	line += 3;
	while (isspace((unsigned char)*line))
		line++;
	if (strncasecmp(line, word, n) != 0)
		return false;
	line += n;
	while (isspace((unsigned char)*line))
		line++;
	return strncasecmp(line, "PVE", 3) == 0;
}

enum {
	SECTION_APPEND = 0,  /* no section yet: append one to the file */
	SECTION_REPLACE = 1, /* no section yet: the section becomes the whole file */
};

/*
 * Put DATA between the markers in the guest file PATH. The first section
 * is replaced in place and the rest of the file is kept. A file without a
 * section gets one appended, or with SECTION_REPLACE the section becomes
 * its whole content. A missing file is created (MODE) with the section
 * alone, unless DATA is empty. As pct does, blank lines at the end of the
 * file are dropped when it is rewritten.
 */
static int section_write(struct setup *s, const char *path, const char *data, int how,
                         mode_t mode)
{
	struct buf body = { 0 }, out = { 0 };
	struct lines l = { 0 };
	char *old = NULL;
	size_t beg = 0, end = 0;
	bool have_beg = false, have_end = false;
	int rv;

	buf_str(&body, MARK_BEGIN "\n");
	buf_str(&body, data);
	if (*data && !ends_with(data, "\n"))
		buf_str(&body, "\n");
	buf_str(&body, MARK_END "\n");
	rv = buf_finish(&body);
	if (rv < 0)
		goto out;

	rv = file_read(s, path, &old);
	if (rv == -ENOENT) {
		rv = *data ? file_write(s, path, body.data, body.len, mode, 0) : 0;
		goto out;
	}
	if (rv < 0)
		goto out;

	rv = lines_split(old, false, &l);
	if (rv < 0)
		goto out;
	for (size_t i = 0; i < l.n && !have_end; i++) {
		if (!have_beg && is_marker(l.v[i], "BEGIN")) {
			beg = i;
			have_beg = true;
		} else if (have_beg && is_marker(l.v[i], "END")) {
			end = i;
			have_end = true;
		}
	}

	if (have_end) {
		for (size_t i = 0; i < beg; i++)
			buf_printf(&out, "%s\n", l.v[i]);
		buf_add(&out, body.data, body.len);
		for (size_t i = end + 1; i < l.n; i++)
			buf_printf(&out, "%s\n", l.v[i]);
	} else if (*data) {
		if (how == SECTION_APPEND) {
			for (size_t i = 0; i < l.n; i++)
				buf_printf(&out, i + 1 < l.n ? "%s\n" : "%s", l.v[i]);
			buf_str(&out, "\n");
		}
		buf_add(&out, body.data, body.len);
	} else {
		goto out;
	}
	rv = buf_finish(&out);
	if (rv == 0)
		rv = file_write(s, path, out.data, out.len, mode, 0);

out:
	free(old);
	lines_free(&l);
	buf_free(&body);
	buf_free(&out);
	return rv == -ENOMEM ? fail(s, rv, "out of memory") : rv;
}

/*
 * TEXT without the lines from the first line starting (after blanks) with
 * the begin marker to the last line starting with the end marker.
 */
static char *remove_sections(const char *text)
{
	struct lines l = { 0 };
	struct buf b = { 0 };
	size_t beg = 0, end = 0;
	bool have_beg = false, have_end = false;
	const char *p;

	if (lines_split(text, true, &l) < 0)
		return NULL;
	for (size_t i = 0; i < l.n; i++) {
		p = l.v[i] + strspn(l.v[i], " \t");
		if (!have_beg && strncmp(p, MARK_BEGIN, strlen(MARK_BEGIN)) == 0) {
			beg = i;
			have_beg = true;
		} else if (have_beg && strncmp(p, MARK_END, strlen(MARK_END)) == 0) {
			end = i;
			have_end = true;
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		if (have_end && i >= beg && i <= end)
			continue;
		buf_printf(&b, "%s\n", l.v[i]);
	}
	lines_free(&l);
	if (buf_finish(&b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* ---- OS detection ---- */

/* The value of KEY in an os-release text, without quotes, or NULL. */
static char *os_release_value(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text, *v;
	size_t len;

	while (*p) {
		if (strncmp(p, key, n) == 0 && p[n] == '=') {
			v = p + n + 1;
			len = strcspn(v, "\n");
			while (len > 0 && isspace((unsigned char)v[len - 1]))
				len--;
			if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
				v++;
				len -= 2;
			}
			return strndup(v, len);
		}
		p += strcspn(p, "\n");
		if (*p)
			p++;
	}
	return NULL;
}

static bool os_from_name(const char *name, enum os *os)
{
	for (size_t i = 0; i < sizeof(os_names) / sizeof(os_names[0]); i++) {
		if (strcmp(os_names[i], name) == 0) {
			*os = (enum os)i;
			return true;
		}
	}
	for (size_t i = 0; i < sizeof(os_aliases) / sizeof(os_aliases[0]); i++) {
		if (strcmp(os_aliases[i].id, name) == 0) {
			*os = os_aliases[i].os;
			return true;
		}
	}
	return false;
}

static bool lsb_is_ubuntu(struct setup *s)
{
	char *text = NULL;
	bool hit;

	if (file_read(s, "/etc/lsb-release", &text) < 0)
		return false;
	hit = regex_match("(^|\n)DISTRIB_ID=Ubuntu(\n|$)", text, REG_ICASE);
	free(text);
	return hit;
}

/* pct's fallback checks when os-release is missing or names no known ID. */
static bool detect_by_files(struct setup *s, enum os *os)
{
	static const struct {
		const char *path;
		enum os os;
	} files[] = {
		{ "/etc/debian_version", OS_DEBIAN },    { "/etc/devuan_version", OS_DEVUAN },
		{ "/etc/SuSE-brand", OS_OPENSUSE },      { "/etc/SuSE-release", OS_OPENSUSE },
		{ "/etc/fedora-release", OS_FEDORA },    { "/etc/centos-release", OS_CENTOS },
		{ "/etc/redhat-release", OS_CENTOS },    { "/etc/arch-release", OS_ARCHLINUX },
		{ "/etc/alpine-release", OS_ALPINE },    { "/etc/gentoo-release", OS_GENTOO },
	};

	if (lsb_is_ubuntu(s)) {
		*os = OS_UBUNTU;
		return true;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (is_file(s, files[i].path)) {
			*os = files[i].os;
			return true;
		}
	}
	if (is_dir(s, "/nix/store")) {
		*os = OS_NIXOS;
		return true;
	}
	if (is_file(s, "/etc/openEuler-release")) {
		*os = OS_OPENEULER;
		return true;
	}
	return false;
}

static int detect_os(struct setup *s, char **os_release)
{
	const char *source = "/etc/os-release";
	char *id = NULL;
	int rv;

	rv = file_read(s, source, os_release);
	if (rv == -ENOENT) {
		source = "/usr/lib/os-release";
		rv = file_read(s, source, os_release);
	}
	if (rv < 0 && rv != -ENOENT)
		return rv;
	if (rv == 0) {
		id = os_release_value(*os_release, "ID");
		if (id && os_from_name(id, &s->os) && s->os != OS_UNMANAGED) {
			free(id);
			return 0;
		}
	}
	if (detect_by_files(s, &s->os)) {
		free(id);
		return 0;
	}

	if (id)
		rv = fail(s, -EINVAL,
		          "cannot detect the guest OS: %s has the unknown ID \"%.40s\" and no "
		          "release file of a known distribution is in /etc; set ostype: unmanaged "
		          "to start without guest setup",
		          source, id);
	else
		rv = fail(s, -EINVAL,
		          "cannot detect the guest OS: no /etc/os-release, /usr/lib/os-release or "
		          "release file of a known distribution in /etc; is the rootfs mounted? "
		          "set ostype: unmanaged to start without guest setup");
	free(id);
	return rv;
}

/* Parse "MAJOR[.MINOR...]" at the start of TEXT. */
static bool version_parse(const char *text, int *major, int *minor)
{
	char *end;
	long maj, min = 0;

	if (!isdigit((unsigned char)*text))
		return false;
	maj = strtol(text, &end, 10);
	if (*end == '.' && isdigit((unsigned char)end[1]))
		min = strtol(end + 1, NULL, 10);
	if (maj > 100000 || min > 100000)
		return false;
	*major = (int)maj;
	*minor = (int)min;
	return true;
}

static bool version_at_least(const struct setup *s, int major, int minor)
{
	return s->major > major || (s->major == major && s->minor >= minor);
}

static int debian_version(struct setup *s, const char *os_release)
{
	/* Testing and derivative names that carry no number. */
	static const struct {
		const char *name;
		int major;
	} names[] = {
		{ "stretch/sid", 9 },  { "buster/sid", 10 }, { "bullseye/sid", 11 },
		{ "bookworm/sid", 12 }, { "trixie/sid", 13 }, { "forky/sid", 14 },
		{ "duke/sid", 15 },    { "kali-rolling", 12 },
	};
	char *line = NULL;
	int rv;

	rv = file_first_line(s, "/etc/debian_version", &line);
	if (rv == -ENOENT && os_release) {
		/* Unlike pct, accept a guest that only has os-release (a minimal rootfs). */
		line = os_release_value(os_release, "VERSION_ID");
		rv = line ? 0 : -ENOENT;
	}
	if (rv == -ENOENT)
		return fail(s, -EINVAL, "cannot read the Debian release: the guest has neither "
		                        "/etc/debian_version nor VERSION_ID in /etc/os-release");
	if (rv < 0)
		return rv;
	snprintf(s->report->version, sizeof(s->report->version), "%s", line);

	rv = 0;
	s->major = -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(line, names[i].name) == 0)
			s->major = names[i].major, s->minor = 0;
	if (s->major < 0 && !version_parse(line, &s->major, &s->minor))
		rv = fail(s, -EINVAL, "cannot parse the Debian release \"%.40s\" in "
		                      "/etc/debian_version of the guest", line);
	else if (s->major < 4)
		rv = fail(s, -ENOTSUP, "the guest's Debian release %d is too old; setup supports "
		                       "Debian 4 and later", s->major);
	free(line);
	return rv;
}

/* Devuan names its releases; setup uses the Debian release each is based on. */
static int devuan_version(struct setup *s)
{
	static const struct {
		const char *name;
		int debian;
	} names[] = {
		{ "jessie", 8 },     { "ascii", 9 },            { "ascii/ceres", 9 },
		{ "beowulf", 10 },   { "beowulf/ceres", 10 },   { "chimaera", 11 },
		{ "chimaera/ceres", 11 }, { "daedalus", 12 },   { "daedalus/ceres", 12 },
		{ "excalibur", 13 }, { "excalibur/ceres", 13 },
	};
	char *line = NULL;
	int rv;

	rv = file_first_line(s, "/etc/devuan_version", &line);
	if (rv == -ENOENT)
		return fail(s, -EINVAL, "cannot read the Devuan release: /etc/devuan_version is "
		                        "missing in the guest");
	if (rv < 0)
		return rv;
	for (char *p = line; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(s->report->version, sizeof(s->report->version), "%s", line);

	s->major = -1;
	s->minor = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(line, names[i].name) == 0)
			s->major = names[i].debian;
	rv = 0;
	if (s->major < 0)
		rv = fail(s, -ENOTSUP, "the guest's Devuan release \"%.40s\" in /etc/devuan_version "
		                       "is not supported; setup supports jessie to excalibur", line);
	free(line);
	return rv;
}

static int ubuntu_version(struct setup *s, const char *os_release)
{
	/* Releases before 17.04 that pct still accepts. */
	static const char *const old_known[] = {
		"12.04", "14.04", "15.04", "15.10", "16.04", "16.10",
	};
	char *text = NULL, *release = NULL;
	const char *source = "/etc/lsb-release";
	bool known = false;
	int rv;

	if (file_read(s, source, &text) == 0)
		release = os_release_value(text, "DISTRIB_RELEASE");
	free(text);
	if (!release && os_release) {
		source = "/etc/os-release";
		release = os_release_value(os_release, "VERSION_ID");
	}
	if (!release)
		return fail(s, -EINVAL, "cannot read the Ubuntu release: neither DISTRIB_RELEASE in "
		                        "/etc/lsb-release nor VERSION_ID in /etc/os-release of the "
		                        "guest");
	snprintf(s->report->version, sizeof(s->report->version), "%s", release);

	rv = 0;
	if (!regex_match("^[0-9]+\\.[0-9]+$", release, 0) ||
	    !version_parse(release, &s->major, &s->minor)) {
		rv = fail(s, -EINVAL, "cannot parse the Ubuntu release \"%.40s\" in %s of the guest",
		          release, source);
		goto out;
	}
	for (size_t i = 0; i < sizeof(old_known) / sizeof(old_known[0]); i++)
		known = known || strcmp(release, old_known[i]) == 0;
	if (s->major < 17 && !known)
		rv = fail(s, -ENOTSUP, "the guest's Ubuntu release %s is not supported; setup "
		                       "supports 17.04 and later, and a few older LTS releases",
		          release);

out:
	free(release);
	return rv;
}

static int alpine_version(struct setup *s, const char *os_release)
{
	char *line = NULL;
	int rv;

	rv = file_first_line(s, "/etc/alpine-release", &line);
	if (rv == -ENOENT && os_release) {
		line = os_release_value(os_release, "VERSION_ID");
		rv = line ? 0 : -ENOENT;
	}
	if (rv == -ENOENT)
		return fail(s, -EINVAL, "cannot read the Alpine release: /etc/alpine-release is "
		                        "missing in the guest");
	if (rv < 0)
		return rv;
	snprintf(s->report->version, sizeof(s->report->version), "%s", line);
	rv = 0;
	if (!version_parse(line, &s->major, &s->minor))
		rv = fail(s, -EINVAL, "cannot parse the Alpine release \"%.40s\" in "
		                      "/etc/alpine-release of the guest", line);
	free(line);
	return rv;
}

/* ---- config values ---- */

static int tty_count(struct setup *s, int *count)
{
	const char *value = conf_get(s->ct, "tty");
	char *end;
	long n;

	*count = TTY_DEFAULT;
	if (!value)
		return 0;
	errno = 0;
	n = strtol(value, &end, 10);
	if (errno || end == value || *end || n < 0 || n > TTY_MAX)
		return fail(s, -EINVAL, "invalid tty value \"%.40s\" in the config: expected 0 to %d",
		            value, TTY_MAX);
	*count = (int)n;
	return 0;
}

static bool config_bool(struct setup *s, const char *key)
{
	const char *value = conf_get(s->ct, key);
	bool b = false;

	return value && conf_bool_parse(value, &b) && b;
}

/* Whether TEXT is a DNS name: labels of letters, digits and '-', joined by '.'. */
static bool is_dns_name(const char *text)
{
	size_t n = strlen(text);

	if (n == 0 || n > 255 || text[0] == '.' || text[0] == '-')
		return false;
	for (const char *p = text; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return false;
	return strstr(text, "..") == NULL;
}

/* Whether TEXT is an IPv4 or IPv6 address, the latter with an optional %zone. */
static bool is_ip(const char *text)
{
	unsigned char addr[16];
	char host[INET6_ADDRSTRLEN + 1];
	size_t n = strcspn(text, "%");

	if (n >= sizeof(host))
		return false;
	memcpy(host, text, n);
	host[n] = '\0';
	if (text[n] == '%')
		return inet_pton(AF_INET6, host, addr) == 1 && text[n + 1] != '\0';
	return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* Whether TEXT is a zone name such as Europe/Vienna: no "..", no leading '/'. */
static bool is_zone_name(const char *text)
{
	if (!*text || text[0] == '/' || strstr(text, "..") || strlen(text) > 128)
		return false;
	for (const char *p = text; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return false;
	return true;
}

/*
 * Check the config values that end up in guest files, so that a value the
 * lenient config reader kept cannot put stray words into /etc/hosts or
 * resolv.conf.
 */
static int config_check(struct setup *s)
{
	const char *hostname = conf_get(s->ct, "hostname");
	const char *zone = conf_get(s->ct, "timezone");
	const char *keys[] = { "nameserver", "searchdomain" };
	char *list, *word, *save = NULL;
	int ttys, rv;

	rv = tty_count(s, &ttys);
	if (rv < 0)
		return rv;
	if (zone && strcmp(zone, "host") == 0)
		zone = s->opts->host_timezone;
	if (zone && !is_zone_name(zone))
		return fail(s, -EINVAL, "invalid timezone \"%.60s\": expected a zone name such as "
		                        "Europe/Vienna, or host", zone);
	if (hostname && !is_dns_name(hostname))
		return fail(s, -EINVAL, "invalid hostname \"%.60s\" in the config: expected a DNS "
		                        "name of letters, digits, '-' and '.'", hostname);
	for (size_t k = 0; k < 2 && rv == 0; k++) {
		if (!conf_get(s->ct, keys[k]))
			continue;
		list = list_normalise(conf_get(s->ct, keys[k]));
		if (!list)
			return fail(s, -ENOMEM, "out of memory");
		for (word = strtok_r(list, " ", &save); word && rv == 0;
		     word = strtok_r(NULL, " ", &save))
			if (k == 0 ? !is_ip(word) : !is_dns_name(word))
				rv = fail(s, -EINVAL, "invalid %s \"%.60s\" in the config: expected %s",
				          keys[k], word, k == 0 ? "IP addresses" : "DNS names");
		free(list);
	}
	return rv;
}

/* Parse every netN of the config into NETS (index N); unset ones stay zero. */
static int nets_parse(struct setup *s, struct conf_net *nets)
{
	char key[16], msg[CONF_ERRMSG_SIZE];
	const char *value;
	int rv;

	for (int i = 0; i < MAX_NETS; i++) {
		snprintf(key, sizeof(key), "net%d", i);
		value = conf_get(s->ct, key);
		if (!value)
			continue;
		msg[0] = '\0';
		rv = conf_net_parse(value, &nets[i], msg);
		if (rv < 0)
			return fail(s, rv, "invalid %s in the config: %s", key, msg);
	}
	return 0;
}

static void nets_clear(struct conf_net *nets)
{
	for (int i = 0; i < MAX_NETS; i++)
		conf_net_clear(&nets[i]);
}

/* Read `search`/`domain` and up to three `nameserver` lines of the host. */
static int host_resolv_read(struct setup *s, char **nameservers, char **search)
{
	const char *path = s->opts->host_resolv_conf ? s->opts->host_resolv_conf
	                                             : "/etc/resolv.conf";
	struct buf ns = { 0 };
	struct lines l = { 0 };
	char word[256], *text = NULL;
	FILE *f;
	int count = 0, rv;

	*search = NULL;
	f = fopen(path, "re");
	if (f) {
		struct buf all = { 0 };
		char chunk[4096];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && all.len < GUEST_FILE_MAX)
			buf_add(&all, chunk, n);
		fclose(f);
		if (buf_finish(&all) < 0) {
			buf_free(&all);
			return -ENOMEM;
		}
		text = all.data;
	}

	rv = lines_split(text ? text : "", false, &l);
	for (size_t i = 0; rv == 0 && i < l.n; i++) {
		if (!word_at(l.v[i], 0, word, sizeof(word)))
			continue;
		if (strcmp(word, "search") == 0 || strcmp(word, "domain") == 0) {
			free(*search);
			*search = list_normalise(l.v[i] + strspn(l.v[i], " \t") + strlen(word));
			if (!*search)
				rv = -ENOMEM;
		} else if (strcmp(word, "nameserver") == 0 && count < 3 &&
		           word_at(l.v[i], 1, word, sizeof(word))) {
			if (ns.len)
				buf_str(&ns, " ");
			buf_str(&ns, word);
			count++;
		}
	}
	if (rv == 0)
		rv = buf_finish(&ns);
	if (rv == 0 && !*search && !(*search = strdup("")))
		rv = -ENOMEM;
	if (rv < 0) {
		buf_free(&ns);
		free(*search);
		*search = NULL;
	} else {
		*nameservers = ns.data;
	}
	free(text);
	lines_free(&l);
	return rv;
}

/*
 * The DNS servers and search domains for the guest: the config's, else
 * the host values of OPTS, else the host's resolv.conf.
 */
static int dns_lookup(struct setup *s)
{
	const char *ns = conf_get(s->ct, "nameserver");
	const char *sd = conf_get(s->ct, "searchdomain");
	const struct ctm_setup_opts *o = s->opts;
	char *host_ns = NULL, *host_sd = NULL;
	int rv = 0;

	if ((!ns || !sd) && !o->host_nameserver && !o->host_searchdomain) {
		rv = host_resolv_read(s, &host_ns, &host_sd);
		if (rv < 0)
			return fail(s, rv, "out of memory");
	}
	if (!ns)
		ns = o->host_nameserver ? o->host_nameserver : (host_ns ? host_ns : "");
	if (!sd)
		sd = o->host_searchdomain ? o->host_searchdomain : (host_sd ? host_sd : "");

	s->nameservers = list_normalise(ns);
	s->searchdomains = list_normalise(sd);
	free(host_ns);
	free(host_sd);
	if (!s->nameservers || !s->searchdomains)
		return fail(s, -ENOMEM, "out of memory");
	return 0;
}

/* ---- hostname, /etc/hosts, resolv.conf ---- */

/* The guest's main address: net0's IPv4 address, else its IPv6 one. */
static char *primary_ip(const struct conf_net *net0)
{
	const char *ip = NULL;

	if (net0->ip && strcmp(net0->ip, "dhcp") != 0 && strcmp(net0->ip, "manual") != 0)
		ip = net0->ip;
	else if (net0->ip6 && strcmp(net0->ip6, "auto") != 0 && strcmp(net0->ip6, "dhcp") != 0 &&
	         strcmp(net0->ip6, "manual") != 0)
		ip = net0->ip6;
	return ip ? strndup(ip, strcspn(ip, "/")) : NULL;
}

static int hosts_update(struct setup *s, const char *hostname, const struct conf_net *net0)
{
	struct buf sec = { 0 }, names = { 0 };
	char *old = NULL, *outside = NULL, *ip = NULL, *sd, *dom, *save = NULL;
	size_t short_len = strcspn(hostname, ".");
	bool has_lo4 = false, has_lo6 = false;
	int rv;

	if (hostname[short_len] == '.') {
		buf_printf(&names, "%s %.*s", hostname, (int)short_len, hostname);
	} else {
		sd = strdup(s->searchdomains);
		for (dom = sd ? strtok_r(sd, " ", &save) : NULL; dom; dom = strtok_r(NULL, " ", &save))
			buf_printf(&names, "%s.%s ", hostname, dom);
		if (!sd)
			names.failed = true;
		free(sd);
		buf_str(&names, hostname);
	}

	rv = file_read(s, "/etc/hosts", &old);
	if (rv < 0 && rv != -ENOENT)
		goto out;
	if (rv == 0) {
		outside = remove_sections(old);
		if (!outside) {
			rv = -ENOMEM;
			goto out;
		}
		has_lo4 = regex_match("(^|\n)[ \t]*127\\.0\\.0\\.1[ \t]+", outside, 0);
		has_lo6 = regex_match("(^|\n)[ \t]*::1[ \t]+", outside, 0);
	}
	if (!has_lo4)
		buf_str(&sec, "127.0.0.1 localhost.localnet localhost\n");
	if (!has_lo6)
		buf_str(&sec, "::1 localhost.localnet localhost\n");

	ip = primary_ip(net0);
	rv = buf_finish(&names);
	if (rv < 0)
		goto out;
	if (ip)
		buf_printf(&sec, "%s %s\n", ip, names.data);
	else if (strncmp(hostname, "localhost", short_len) != 0 || short_len != 9)
		buf_printf(&sec, "127.0.1.1 %s\n", names.data);
	else
		buf_str(&sec, "127.0.1.1 localhost\n");
	rv = buf_finish(&sec);
	if (rv == 0)
		rv = section_write(s, "/etc/hosts", sec.data, SECTION_APPEND, 0644);

out:
	free(old);
	free(outside);
	free(ip);
	buf_free(&sec);
	buf_free(&names);
	return rv == -ENOMEM ? fail(s, rv, "out of memory") : rv;
}

/*
 * Write /etc/hostname (the short name, or the full name when FQDN) and
 * the hostname line of /etc/hosts.
 */
static int hostname_set(struct setup *s, const struct conf_net *nets, bool fqdn)
{
	const char *hostname = conf_get(s->ct, "hostname");
	char *line;
	int rv;

	if (!hostname || !*hostname)
		hostname = "localhost";
	rv = hosts_update(s, hostname, &nets[0]);
	if (rv < 0)
		return rv;
	if (asprintf(&line, "%.*s\n", fqdn ? (int)strlen(hostname) : (int)strcspn(hostname, "."),
	             hostname) < 0)
		return fail(s, -ENOMEM, "out of memory");
	rv = file_write_str(s, "/etc/hostname", line, 0);
	free(line);
	return rv;
}

static int dns_set(struct setup *s)
{
	struct buf b = { 0 };
	char *list, *ns, *save = NULL;
	int rv;

	if (*s->searchdomains)
		buf_printf(&b, "search %s\n", s->searchdomains);
	list = strdup(s->nameservers);
	if (!list)
		b.failed = true;
	for (ns = list ? strtok_r(list, " ", &save) : NULL; ns; ns = strtok_r(NULL, " ", &save))
		buf_printf(&b, "nameserver %s\n", ns);
	free(list);
	rv = buf_finish(&b);
	if (rv == 0)
		rv = section_write(s, "/etc/resolv.conf", b.data, SECTION_REPLACE, 0644);
	else
		rv = fail(s, rv, "out of memory");
	buf_free(&b);
	return rv;
}

/* The host's zone name: OPTS' host_timezone, else from the /etc/localtime link. */
static char *host_zone(struct setup *s)
{
	static const char prefix[] = "/usr/share/zoneinfo/";
	char *real;
	char *zone = NULL;

	if (s->opts->host_timezone)
		return strdup(s->opts->host_timezone);
	real = realpath("/etc/localtime", NULL);
	if (real && strncmp(real, prefix, strlen(prefix)) == 0)
		zone = strdup(real + strlen(prefix));
	free(real);
	return zone;
}

/*
 * Point /etc/localtime at the zone of the `timezone` key (`host` means the
 * host's zone) and write the zone to /etc/timezone when the guest has that
 * file. A link that already leads to the zone's file is kept. A guest
 * without the zone file keeps its time zone, with a note.
 */
static int timezone_set(struct setup *s)
{
	const char *value = conf_get(s->ct, "timezone");
	struct stat want, have;
	char *zone, *tz_path = NULL, *line = NULL;
	int rv = 0;

	if (!value)
		return 0;
	zone = strcmp(value, "host") == 0 ? host_zone(s) : strdup(value);
	if (!zone)
		return strcmp(value, "host") == 0
		           ? note(s, "the host's time zone is unknown; the guest's is left alone")
		           : fail(s, -ENOMEM, "out of memory");
	if (!is_zone_name(zone)) {
		rv = fail(s, -EINVAL, "invalid timezone \"%.60s\": expected a zone name such as "
		                      "Europe/Vienna, or host", zone);
		goto out;
	}
	if (asprintf(&tz_path, "/usr/share/zoneinfo/%s", zone) < 0) {
		tz_path = NULL;
		rv = fail(s, -ENOMEM, "out of memory");
		goto out;
	}
	if (path_stat(s, tz_path, &want) < 0 || !S_ISREG(want.st_mode)) {
		rv = note(s, "the guest has no %s; its time zone is left alone", tz_path);
		goto out;
	}

	if (path_stat(s, "/etc/localtime", &have) < 0 || have.st_dev != want.st_dev ||
	    have.st_ino != want.st_ino)
		rv = symlink_ensure(s, "/etc/localtime", tz_path, 0);
	if (rv == 0 && is_file(s, "/etc/timezone") && asprintf(&line, "%s\n", zone) >= 0)
		rv = file_write_str(s, "/etc/timezone", line, 0);

out:
	free(line);
	free(tz_path);
	free(zone);
	return rv;
}

/* ---- consoles ---- */

/* Whether /sbin/init is a symlink to systemd. */
static bool init_is_systemd(struct setup *s)
{
	char target[PATH_MAX];

	return link_read(s, "/sbin/init", target, sizeof(target)) == 0 &&
	       ends_with(target, "/systemd");
}

/* Replace every "pts/%I" and "lxc/tty%I" in TEXT by TTYDIR "tty%I". */
static char *getty_template_fix(const char *text, const char *ttydir, bool *changed)
{
	static const char *const from[] = { "pts/%I", "lxc/tty%I" };
	struct buf b = { 0 };
	const char *p = text;
	size_t n;
	bool hit;

	*changed = false;
	while (*p) {
		hit = false;
		for (size_t i = 0; i < 2 && !hit; i++) {
			n = strlen(from[i]);
			if (strncmp(p, from[i], n) == 0) {
				buf_printf(&b, "%stty%%I", ttydir);
				p += n;
				hit = *changed = true;
			}
		}
		if (!hit)
			buf_add(&b, p++, 1);
	}
	if (buf_finish(&b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/*
 * Enable container-getty@N for N = 1..TTYS in getty.target.wants and
 * disable the others, as pct does for systemd guests. Nothing happens
 * when the guest has no container-getty@.service.
 */
static int getty_setup(struct setup *s, int ttys, const char *ttydir)
{
	const char *wants = "/etc/systemd/system/getty.target.wants";
	char template[PATH_MAX], path[PATH_MAX];
	char *text = NULL, *fixed;
	bool changed;
	int rv;

	snprintf(template, sizeof(template), "%s/container-getty@.service",
	         is_executable(s, "/lib/systemd/systemd") ? "/lib/systemd/system"
	                                                  : "/usr/lib/systemd/system");
	rv = file_read(s, template, &text);
	if (rv == -ENOENT)
		return 0;
	if (rv < 0)
		return rv;
	fixed = getty_template_fix(text, ttydir, &changed);
	free(text);
	if (!fixed)
		return fail(s, -ENOMEM, "out of memory");
	rv = changed ? file_write_str(s, template, fixed, 0) : 0;
	free(fixed);
	if (rv < 0)
		return rv;

	for (int i = 1; i <= TTY_MAX; i++) {
		snprintf(path, sizeof(path), "%s/getty@tty%d.service", wants, i);
		rv = file_remove(s, path);
		snprintf(path, sizeof(path), "%s/container-getty@%d.service", wants, i);
		if (rv == 0 && i <= ttys)
			rv = symlink_ensure(s, path, template, WRITE_MKPARENTS);
		else if (rv == 0)
			rv = file_remove(s, path);
		if (rv < 0)
			return rv;
	}
	return file_remove(s, "/etc/systemd/system/getty.target");
}

/* Write the systemd preset file; ENABLE_NETWORKD is pct's choice per OS. */
static int preset_write(struct setup *s, bool enable_networkd)
{
	char *text;
	int rv;

	if (asprintf(&text,
	             "# Written by ctmgr guest setup; systemd reads it on first boot only.\n"
	             "enable container-getty@.service\n"
	             "disable getty@.service\n"
	             "disable sys-kernel-config.mount\n"
	             "disable sys-kernel-debug.mount\n"
	             "%s systemd-networkd.service\n",
	             enable_networkd ? "enable" : "disable") < 0)
		return fail(s, -ENOMEM, "out of memory");
	rv = file_write_str(s, "/etc/systemd/system-preset/00-pve.preset", text, WRITE_MKPARENTS);
	free(text);
	return rv;
}

/*
 * Rewrite the getty lines of /etc/inittab, if the guest has one: the old
 * getty lines (and on Debian the power-failure lines) go, then one getty
 * line per console is appended, in each distribution's format.
 */
static int inittab_setup(struct setup *s, int ttys, bool alpine)
{
	struct lines l = { 0 };
	struct buf b = { 0 };
	char *text = NULL;
	int rv;

	rv = file_read(s, "/etc/inittab", &text);
	if (rv == -ENOENT)
		return 0;
	if (rv < 0)
		return rv;
	rv = lines_split(text, false, &l);
	if (rv < 0)
		goto out;

	for (size_t i = 0; i < l.n; i++) {
		if (alpine && regex_match("^[[:space:]]*tty[0-9]+:[0-9]*:[^:]*:.*getty", l.v[i], 0))
			continue;
		if (!alpine && (regex_match("^[[:space:]]*[0-9]+:[0-9]*:[^:]*:.*getty", l.v[i], 0) ||
		                regex_match("^[[:space:]]*p[fno0]:", l.v[i], 0)))
			continue;
		buf_printf(&b, "%s\n", l.v[i]);
	}
	if (l.n == 0)
		buf_str(&b, "\n");
	if (!alpine)
		buf_str(&b, "p0::powerfail:/sbin/init 0\n");
	for (int id = 1; id <= ttys; id++) {
		if (alpine)
			buf_printf(&b, "tty%d::respawn:/sbin/getty 38400 tty%d\n", id, id);
		else
			buf_printf(&b, "%d:%s:respawn:/sbin/getty %s 38400 tty%d\n", id,
			           id == 1 ? "2345" : "23", s->major < 7 ? "-L" : "--noclear", id);
	}
	rv = buf_finish(&b);
	if (rv == 0)
		rv = file_write_str(s, "/etc/inittab", b.data, 0);

out:
	free(text);
	lines_free(&l);
	buf_free(&b);
	return rv == -ENOMEM ? fail(s, rv, "out of memory") : rv;
}

static int init_setup(struct setup *s)
{
	bool unprivileged = config_bool(s, "unprivileged");
	int ttys, rv;

	rv = tty_count(s, &ttys);
	if (rv < 0)
		return rv;

	switch (s->os) {
	case OS_DEBIAN:
	case OS_DEVUAN:
		if (init_is_systemd(s)) {
			rv = getty_setup(s, ttys, "");
			if (rv == 0 && version_at_least(s, 12, 0))
				rv = preset_write(s, false);
		}
		return rv < 0 ? rv : inittab_setup(s, ttys, false);
	case OS_UBUNTU:
		if (version_at_least(s, 23, 4))
			rv = preset_write(s, true);
		if (rv == 0 && version_at_least(s, 16, 10))
			rv = getty_setup(s, ttys, unprivileged ? "" : "lxc/");
		if (rv == 0 && !version_at_least(s, 15, 0))
			rv = note(s, "Ubuntu %s uses upstart; its tty jobs in /etc/init are left alone",
			          s->report->version);
		return rv;
	case OS_ALPINE:
		return inittab_setup(s, ttys, true);
	default:
		return 0;
	}
}

/* ---- network ---- */

/* Parse "ADDR/PREFIX" of FAMILY into bytes and the prefix length. */
static bool cidr_parse(const char *cidr, int family, unsigned char *addr, int *prefix)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(cidr, '/');
	int max = family == AF_INET ? 32 : 128;
	char *end;
	long n;

	if (!slash || (size_t)(slash - cidr) >= sizeof(host))
		return false;
	memcpy(host, cidr, (size_t)(slash - cidr));
	host[slash - cidr] = '\0';
	if (inet_pton(family, host, addr) != 1)
		return false;
	errno = 0;
	n = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || n < 0 || n > max)
		return false;
	*prefix = (int)n;
	return true;
}

/* Whether address IP (no prefix) of FAMILY lies inside CIDR. */
static bool ip_in_cidr(const char *ip, const char *cidr, int family)
{
	unsigned char a[16], net[16];
	int prefix, full, rest;

	if (inet_pton(family, ip, a) != 1 || !cidr_parse(cidr, family, net, &prefix))
		return false;
	full = prefix / 8;
	rest = prefix % 8;
	if (memcmp(a, net, (size_t)full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* The settings of one configured interface, in ifupdown terms. */
struct iface {
	const char *name;
	char *address;  /* "dhcp", "manual" or the IPv4 address; NULL: no IPv4 stanza */
	char *netmask;  /* dotted */
	const char *cidr;
	const char *gateway;
	bool needsroute; /* the gateway is outside the subnet */
	char *address6; /* "auto", "dhcp", "manual" or the IPv6 address */
	char *netmask6; /* the prefix length */
	const char *cidr6;
	const char *gateway6;
	bool needsroute6;
	bool done_v4, done_v6;
};

/* State of one rewrite of /etc/network/interfaces. */
struct ifupdown {
	struct setup *s;
	struct iface ifaces[MAX_NETS];
	size_t n_ifaces;
	char **autos; /* interfaces that already have an `auto` line */
	size_t n_autos;
	bool cidr_form; /* `address a/b` instead of address + netmask */
	struct buf out;

	bool in_section; /* an iface stanza of a managed interface is open */
	bool section_v6;
	struct iface *section_if;
	char **attrs; /* its other option lines, without indentation */
	size_t n_attrs;
	int rv;
};

static struct iface *iface_find(struct ifupdown *u, const char *name)
{
	for (size_t i = 0; i < u->n_ifaces; i++)
		if (strcmp(u->ifaces[i].name, name) == 0)
			return &u->ifaces[i];
	return NULL;
}

static bool auto_done(struct ifupdown *u, const char *name)
{
	for (size_t i = 0; i < u->n_autos; i++)
		if (strcmp(u->autos[i], name) == 0)
			return true;
	return false;
}

static void auto_mark(struct ifupdown *u, const char *name)
{
	if (!auto_done(u, name) && list_add(&u->autos, &u->n_autos, name) < 0)
		u->rv = -ENOMEM;
}

static void iface_clear(struct iface *f)
{
	free(f->address);
	free(f->netmask);
	free(f->address6);
	free(f->netmask6);
	memset(f, 0, sizeof(*f));
}

/* Build the iface table from the netN values; Alpine turns IPv6 dhcp/auto into manual. */
static int ifaces_build(struct ifupdown *u, const struct conf_net *nets)
{
	struct setup *s = u->s;
	struct iface *f;
	unsigned char addr[16];
	char mask[INET_ADDRSTRLEN];
	int prefix;
	uint32_t m;

	for (int i = 0; i < MAX_NETS; i++) {
		const struct conf_net *n = &nets[i];

		if (!n->name || (!n->ip && !n->gw && !n->ip6 && !n->gw6))
			continue;
		/* A later netN with the same interface name replaces the earlier one. */
		f = iface_find(u, n->name);
		if (f)
			iface_clear(f);
		else
			f = &u->ifaces[u->n_ifaces++];
		memset(f, 0, sizeof(*f));
		f->name = n->name;

		if (n->ip && (strcmp(n->ip, "dhcp") == 0 || strcmp(n->ip, "manual") == 0)) {
			f->address = strdup(n->ip);
		} else if (n->ip) {
			if (!cidr_parse(n->ip, AF_INET, addr, &prefix))
				return fail(s, -EINVAL, "invalid IPv4 address \"%.60s\" of %s in the config",
				            n->ip, n->name);
			m = prefix ? htonl(0xffffffffu << (32 - prefix)) : 0;
			inet_ntop(AF_INET, &m, mask, sizeof(mask));
			f->address = strndup(n->ip, strcspn(n->ip, "/"));
			f->netmask = strdup(mask);
			f->cidr = n->ip;
			if (!f->netmask)
				return -ENOMEM;
		}
		if (n->ip && !f->address)
			return -ENOMEM;
		if (n->gw) {
			f->gateway = n->gw;
			f->needsroute = f->cidr && !ip_in_cidr(n->gw, f->cidr, AF_INET);
		}

		if (n->ip6 && (strcmp(n->ip6, "auto") == 0 || strcmp(n->ip6, "dhcp") == 0 ||
		               strcmp(n->ip6, "manual") == 0)) {
			f->address6 = strdup(s->os == OS_ALPINE && strcmp(n->ip6, "manual") != 0
			                         ? "manual" : n->ip6);
		} else if (n->ip6) {
			if (!cidr_parse(n->ip6, AF_INET6, addr, &prefix))
				return fail(s, -EINVAL, "invalid IPv6 address \"%.60s\" of %s in the config",
				            n->ip6, n->name);
			f->address6 = strndup(n->ip6, strcspn(n->ip6, "/"));
			f->netmask6 = strdup(strchr(n->ip6, '/') + 1);
			f->cidr6 = n->ip6;
			if (!f->netmask6)
				return -ENOMEM;
		}
		if (n->ip6 && !f->address6)
			return -ENOMEM;
		if (n->gw6) {
			f->gateway6 = n->gw6;
			f->needsroute6 = f->cidr6 && !ip_in_cidr(n->gw6, f->cidr6, AF_INET6) &&
			                 !ip_in_cidr(n->gw6, "fe80::/10", AF_INET6);
		}
	}
	return 0;
}

static void attrs_clear(struct ifupdown *u)
{
	list_free(u->attrs, u->n_attrs);
	u->attrs = NULL;
	u->n_attrs = 0;
}

/* LINE with every run of blanks made one space, into BUF. */
static void squeeze_blanks(const char *line, char *buf, size_t size)
{
	size_t n = 0;

	for (const char *p = line; *p && n + 1 < size; p++) {
		if (isspace((unsigned char)*p)) {
			if (n > 0 && buf[n - 1] != ' ')
				buf[n++] = ' ';
		} else {
			buf[n++] = *p;
		}
	}
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
}

/*
 * Whether attribute lines I..I+3 are the four route lines that older
 * releases wrote without markers for one gateway and device.
 */
static bool is_legacy_route_block(char **attrs, size_t n, size_t i)
{
	char line[256], want[256], gw[128], dev[64];

	if (i + 4 > n)
		return false;
	squeeze_blanks(attrs[i], line, sizeof(line));
	if (word_count(line) != 7 || !word_at(line, 4, gw, sizeof(gw)) ||
	    !word_at(line, 6, dev, sizeof(dev)))
		return false;
	snprintf(want, sizeof(want), "post-up ip route add %s dev %s", gw, dev);
	if (strcmp(line, want) != 0)
		return false;
	squeeze_blanks(attrs[i + 1], line, sizeof(line));
	snprintf(want, sizeof(want), "post-up ip route add default via %s dev %s", gw, dev);
	if (strcmp(line, want) != 0)
		return false;
	squeeze_blanks(attrs[i + 2], line, sizeof(line));
	snprintf(want, sizeof(want), "pre-down ip route del default via %s dev %s", gw, dev);
	if (strcmp(line, want) != 0)
		return false;
	squeeze_blanks(attrs[i + 3], line, sizeof(line));
	snprintf(want, sizeof(want), "pre-down ip route del %s dev %s", gw, dev);
	return strcmp(line, want) == 0;
}

/*
 * Drop the route block an earlier run wrote: the attribute lines between
 * markers and the markers. A stanza without markers may still carry the
 * unmarked four-line block of older releases, which pct also removes.
 */
static void attrs_drop_routes(struct ifupdown *u)
{
	size_t kept = 0;
	bool keep = true, found = false;

	for (size_t i = 0; i < u->n_attrs; i++) {
		if (strcmp(u->attrs[i], MARK_BEGIN) == 0 || strcmp(u->attrs[i], MARK_END) == 0) {
			keep = strcmp(u->attrs[i], MARK_END) == 0;
			found = true;
			free(u->attrs[i]);
		} else if (keep) {
			u->attrs[kept++] = u->attrs[i];
		} else {
			free(u->attrs[i]);
		}
	}
	u->n_attrs = kept;
	if (found)
		return;

	kept = 0;
	for (size_t i = 0; i < u->n_attrs; i++) {
		if (is_legacy_route_block(u->attrs, u->n_attrs, i)) {
			for (size_t j = i; j < i + 4; j++)
				free(u->attrs[j]);
			i += 3;
			continue;
		}
		u->attrs[kept++] = u->attrs[i];
	}
	u->n_attrs = kept;
}

static void route_block(struct buf *b, const char *ifname, const char *gw)
{
	buf_printf(b,
	           MARK_BEGIN "\n"
	           "\tpost-up ip route add %s dev %s\n"
	           "\tpost-up ip route add default via %s dev %s\n"
	           "\tpre-down ip route del default via %s dev %s\n"
	           "\tpre-down ip route del %s dev %s\n" MARK_END "\n",
	           gw, ifname, gw, ifname, gw, ifname, gw, ifname);
}

/* Print the open stanza, with the config's addresses and the kept options. */
static void section_flush(struct ifupdown *u)
{
	struct iface *f = u->section_if;
	struct buf *b = &u->out;
	const char *address, *netmask, *cidr, *gateway, *family;
	bool needsroute;

	if (!u->in_section)
		return;
	u->in_section = false;

	if (!auto_done(u, f->name)) {
		buf_printf(b, "auto %s\n", f->name);
		auto_mark(u, f->name);
	}
	if (u->section_v6) {
		f->done_v6 = true;
		address = f->address6, netmask = f->netmask6, cidr = f->cidr6;
		gateway = f->gateway6, needsroute = f->needsroute6, family = "inet6";
	} else {
		f->done_v4 = true;
		address = f->address, netmask = f->netmask, cidr = f->cidr;
		gateway = f->gateway, needsroute = f->needsroute, family = "inet";
	}

	if (!address) {
		/* An address family the config does not set: the stanza goes. */
	} else if (!cidr) {
		buf_printf(b, "iface %s %s %s\n\n", f->name, family, address);
	} else {
		buf_printf(b, "iface %s %s static\n", f->name, family);
		if (u->cidr_form) {
			buf_printf(b, "\taddress %s\n", cidr);
		} else {
			buf_printf(b, "\taddress %s\n", address);
			buf_printf(b, "\tnetmask %s\n", netmask);
		}
		attrs_drop_routes(u);
		if (gateway && needsroute)
			route_block(b, f->name, gateway);
		else if (gateway)
			buf_printf(b, "\tgateway %s\n", gateway);
		for (size_t i = 0; i < u->n_attrs; i++)
			buf_printf(b, "\t%s\n", u->attrs[i]);
		buf_str(b, "\n");
	}
	attrs_clear(u);
}

static void section_open(struct ifupdown *u, struct iface *f, bool v6)
{
	u->in_section = true;
	u->section_if = f;
	u->section_v6 = v6;
}

/* Handle one line of the old file. */
static void interfaces_line(struct ifupdown *u, const char *line)
{
	char w0[64], w1[128], w2[16], attr_name[64];
	struct iface *f;
	const char *p;
	int words = word_count(line);

	if (strncmp(line, MARK_BEGIN, strlen(MARK_BEGIN)) == 0 ||
	    strncmp(line, MARK_END, strlen(MARK_END)) == 0) {
		if (u->in_section && list_add(&u->attrs, &u->n_attrs, line) < 0)
			u->rv = -ENOMEM;
		return;
	}
	if (line[0] == '#') {
		buf_printf(&u->out, "%s\n", line);
		return;
	}
	if (words == 0) {
		if (u->in_section)
			section_flush(u);
		else
			buf_printf(&u->out, "%s\n", line);
		return;
	}
	if (words == 4 && word_at(line, 0, w0, sizeof(w0)) && strcmp(w0, "iface") == 0 &&
	    word_at(line, 1, w1, sizeof(w1)) && word_at(line, 2, w2, sizeof(w2)) &&
	    (strcmp(w2, "inet") == 0 || strcmp(w2, "inet6") == 0)) {
		section_flush(u);
		f = iface_find(u, w1);
		if (f)
			section_open(u, f, strcmp(w2, "inet6") == 0);
		else
			buf_printf(&u->out, "%s\n", line);
		return;
	}

	p = line + strspn(line, " \t\r\n\v\f");
	if (strncmp(p, "auto", 4) == 0) {
		for (int i = 0; word_at(p + 4, i, w1, sizeof(w1)); i++)
			auto_mark(u, w1);
		section_flush(u);
		buf_printf(&u->out, "%s\n", line);
		return;
	}
	if (regex_match("^(mapping[[:space:]]|allow-|source[[:space:]]|source-directory[[:space:]])",
	             p, 0)) {
		section_flush(u);
		buf_printf(&u->out, "%s\n", line);
		return;
	}
	if (u->in_section && words >= 2 && word_at(p, 0, attr_name, sizeof(attr_name))) {
		if (strcmp(attr_name, "address") != 0 && strcmp(attr_name, "netmask") != 0 &&
		    strcmp(attr_name, "gateway") != 0 && strcmp(attr_name, "broadcast") != 0 &&
		    list_add(&u->attrs, &u->n_attrs, p) < 0)
			u->rv = -ENOMEM;
		return;
	}
	buf_printf(&u->out, "%s\n", line);
}

static int iface_cmp(const void *a, const void *b)
{
	return strcmp(((const struct iface *)a)->name, ((const struct iface *)b)->name);
}

/*
 * Rewrite /etc/network/interfaces. Stanzas of other interfaces and every
 * comment are kept. In the stanzas of configured interfaces, the address,
 * netmask, gateway and broadcast lines are replaced and the other options
 * kept. Missing stanzas are appended in name order, and a loopback stanza
 * is put first when the file has no `auto lo`.
 */
static int interfaces_write(struct setup *s, const struct conf_net *nets)
{
	struct ifupdown u = { .s = s };
	struct lines l = { 0 };
	struct buf final = { 0 };
	char *old = NULL;
	bool separator;
	int rv;

	u.cidr_form = (s->os == OS_DEBIAN && version_at_least(s, 10, 0)) ||
	              (s->os == OS_ALPINE && version_at_least(s, 3, 13));
	rv = ifaces_build(&u, nets);
	if (rv < 0 || u.n_ifaces == 0)
		goto out;
	qsort(u.ifaces, u.n_ifaces, sizeof(u.ifaces[0]), iface_cmp);

	rv = file_read(s, "/etc/network/interfaces", &old);
	if (rv < 0 && rv != -ENOENT)
		goto out;
	rv = lines_split(old ? old : "", true, &l);
	for (size_t i = 0; rv == 0 && i < l.n; i++)
		interfaces_line(&u, l.v[i]);
	section_flush(&u);

	separator = u.out.len > 0 && !(u.out.len >= 2 && ends_with(u.out.data, "\n\n"));
	for (size_t i = 0; i < u.n_ifaces; i++) {
		struct iface *f = &u.ifaces[i];

		for (int v6 = 0; v6 < 2; v6++) {
			if (v6 ? (f->done_v6 || !f->address6) : (f->done_v4 || !f->address))
				continue;
			if (separator)
				buf_str(&u.out, "\n");
			separator = false;
			section_open(&u, f, v6);
			section_flush(&u);
		}
	}

	if (!auto_done(&u, "lo"))
		buf_str(&final, "auto lo\niface lo inet loopback\niface lo inet6 loopback\n\n");
	if (u.out.len)
		buf_add(&final, u.out.data, u.out.len);
	rv = rv < 0 ? rv : u.rv;
	if (rv == 0)
		rv = buf_finish(&u.out);
	if (rv == 0)
		rv = buf_finish(&final);
	if (rv == 0)
		rv = file_write(s, "/etc/network/interfaces", final.data, final.len, 0644,
		                WRITE_MKPARENTS);

out:
	for (size_t i = 0; i < u.n_ifaces; i++)
		iface_clear(&u.ifaces[i]);
	attrs_clear(&u);
	list_free(u.autos, u.n_autos);
	buf_free(&u.out);
	buf_free(&final);
	lines_free(&l);
	free(old);
	return rv == -ENOMEM ? fail(s, rv, "out of memory") : rv;
}

/* Write /etc/systemd/network/NAME.network for one interface. */
static int networkd_write_one(struct setup *s, const struct conf_net *n)
{
	static const char *const dhcp_modes[] = { "no", "ipv4", "ipv6", "yes" };
	struct buf b = { 0 }, routes = { 0 };
	char path[PATH_MAX];
	bool has_v4 = false, has_v6 = false;
	const char *accept_ra = "false";
	int dhcp = 0, rv;

	buf_printf(&b, "[Match]\nName = %s\n\n[Network]\n", n->name);
	buf_printf(&b, "Description = Interface %s configured by ctmgr\n", n->name);
	if (n->ip && strcmp(n->ip, "dhcp") == 0) {
		dhcp |= 1;
	} else if (n->ip && strcmp(n->ip, "manual") != 0) {
		has_v4 = true;
		buf_printf(&b, "Address = %s\n", n->ip);
	}
	if (n->gw) {
		buf_printf(&b, "Gateway = %s\n", n->gw);
		if (has_v4 && !ip_in_cidr(n->gw, n->ip, AF_INET))
			buf_printf(&routes, "\n[Route]\nDestination = %s/32\nScope = link\n", n->gw);
	}
	if (n->ip6 && strcmp(n->ip6, "dhcp") == 0) {
		dhcp |= 2;
		accept_ra = "true";
	} else if (n->ip6 && strcmp(n->ip6, "auto") == 0) {
		accept_ra = "true";
	} else if (n->ip6 && strcmp(n->ip6, "manual") != 0) {
		has_v6 = true;
		buf_printf(&b, "Address = %s\n", n->ip6);
	}
	if (n->gw6) {
		accept_ra = "false";
		buf_printf(&b, "Gateway = %s\n", n->gw6);
		if (has_v6 && !ip_in_cidr(n->gw6, n->ip6, AF_INET6) &&
		    !ip_in_cidr(n->gw6, "fe80::/10", AF_INET6))
			buf_printf(&routes, "\n[Route]\nDestination = %s/128\nScope = link\n", n->gw6);
	}
	buf_printf(&b, "DHCP = %s\nIPv6AcceptRA = %s\n", dhcp_modes[dhcp], accept_ra);
	if (buf_finish(&routes) == 0)
		buf_add(&b, routes.data, routes.len);
	else
		b.failed = true;

	rv = buf_finish(&b);
	snprintf(path, sizeof(path), "/etc/systemd/network/%s.network", n->name);
	if (rv == 0)
		rv = file_write(s, path, b.data, b.len, 0644, WRITE_MKPARENTS);
	else
		rv = fail(s, rv, "out of memory");
	buf_free(&b);
	buf_free(&routes);
	return rv;
}

static int network_setup(struct setup *s, const struct conf_net *nets)
{
	int rv = 0;

	if (s->os == OS_UBUNTU && version_at_least(s, 17, 10)) {
		for (int i = 0; i < MAX_NETS && rv == 0; i++)
			if (nets[i].name)
				rv = networkd_write_one(s, &nets[i]);
		return rv;
	}
	return interfaces_write(s, nets);
}

/* ---- create-time steps ---- */

/* Whether TEXT looks like a crypt(3) hash, which is stored as given. */
static bool is_crypt_hash(const char *text)
{
	return regex_match("^\\$(1|2[axy]?|5|6)\\$[a-zA-Z0-9./]{1,16}\\$[a-zA-Z0-9./]+$", text, 0);
}

/* The password field of USER in the passwd or shadow TEXT, or NULL. */
static char *pw_field(const char *text, const char *user)
{
	size_t n = strlen(user);

	for (const char *p = text; *p;) {
		if (strncmp(p, user, n) == 0 && p[n] == ':')
			return strndup(p + n + 1, strcspn(p + n + 1, ":\n"));
		p += strcspn(p, "\n");
		if (*p)
			p++;
	}
	return NULL;
}

/*
 * The hash to store for PASSWORD. When OLD_HASH already matches the
 * password it is kept, so a repeated run changes nothing.
 */
static int password_hash(struct setup *s, const char *password, const char *old_hash,
                         char **out)
{
	struct crypt_data *cd;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *hashed;
	int rv = 0;

	if (!password) {
		*out = strdup("*");
		return *out ? 0 : fail(s, -ENOMEM, "out of memory");
	}
	if (is_crypt_hash(password)) {
		*out = strdup(password);
		return *out ? 0 : fail(s, -ENOMEM, "out of memory");
	}

	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return fail(s, -ENOMEM, "out of memory");
	if (old_hash && old_hash[0] == '$') {
		hashed = crypt_r(password, old_hash, cd);
		if (hashed && strcmp(hashed, old_hash) == 0) {
			*out = strdup(old_hash);
			rv = *out ? 0 : fail(s, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt))) {
		rv = fail(s, -errno ? -errno : -EIO, "cannot make a salt for the root password");
		goto out;
	}
	hashed = crypt_r(password, salt, cd);
	if (!hashed || hashed[0] == '*') {
		rv = fail(s, -EINVAL, "cannot hash the root password with SHA-512 crypt");
		goto out;
	}
	*out = strdup(hashed);
	if (!*out)
		rv = fail(s, -ENOMEM, "out of memory");

out:
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rv;
}

/*
 * Set the password field of USER in PATH to EPW. In a shadow file the
 * last-change day is set too, but only on lines whose hash changes.
 */
static int pw_replace(struct setup *s, const char *path, const char *user, const char *epw,
                      bool shadow)
{
	struct lines l = { 0 };
	struct buf b = { 0 };
	char *text = NULL, *old;
	size_t n = strlen(user);
	long days = (long)(time(NULL) / 86400);
	const char *rest;
	int rv;

	rv = file_read(s, path, &text);
	if (rv < 0)
		return rv == -ENOENT ? 0 : rv;
	rv = lines_split(text, true, &l);
	for (size_t i = 0; rv == 0 && i < l.n; i++) {
		const char *line = l.v[i];

		if (strncmp(line, user, n) != 0 || line[n] != ':') {
			buf_printf(&b, "%s\n", line);
			continue;
		}
		old = pw_field(line, user);
		rest = strchr(line + n + 1, ':');
		if (shadow && rest)
			rest = strchr(rest + 1, ':');
		if (!rest || (old && strcmp(old, epw) == 0))
			buf_printf(&b, "%s\n", line);
		else if (shadow)
			buf_printf(&b, "%s:%s:%ld%s\n", user, epw, days, rest);
		else
			buf_printf(&b, "%s:%s%s\n", user, epw, rest);
		free(old);
	}
	if (rv == 0)
		rv = buf_finish(&b);
	if (rv == 0)
		rv = file_write(s, path, b.data, b.len, 0644, 0);
	explicit_bzero(text, strlen(text));
	free(text);
	lines_free(&l);
	buf_free(&b);
	return rv == -ENOMEM ? fail(s, rv, "out of memory") : rv;
}

static int root_password_set(struct setup *s)
{
	char *text = NULL, *old = NULL, *epw = NULL;
	bool shadow = is_file(s, "/etc/shadow");
	int rv;

	if (!is_file(s, "/etc/passwd"))
		return 0;
	if (file_read(s, shadow ? "/etc/shadow" : "/etc/passwd", &text) == 0) {
		old = pw_field(text, "root");
		explicit_bzero(text, strlen(text));
		free(text);
	}
	rv = password_hash(s, s->opts->root_password, old, &epw);
	free(old);
	if (rv < 0)
		return rv;
	if (shadow) {
		rv = pw_replace(s, "/etc/shadow", "root", epw, true);
		if (rv == 0)
			rv = pw_replace(s, "/etc/passwd", "root", "x", false);
	} else {
		rv = pw_replace(s, "/etc/passwd", "root", epw, false);
	}
	free(epw);
	return rv;
}

/* Home directory of root from /etc/passwd (field 6), else /root. */
static char *root_home(struct setup *s)
{
	char *text = NULL, *home = NULL;
	const char *p;

	if (file_read(s, "/etc/passwd", &text) == 0) {
		for (p = text; *p;) {
			if (strncmp(p, "root:", 5) == 0) {
				for (int field = 0; field < 5 && p; field++) {
					p = strchr(p, ':');
					p = p ? p + 1 : NULL;
				}
				if (p && strchr(p, ':') && strchr(p, ':') < p + strcspn(p, "\n"))
					home = strndup(p, strcspn(p, ":"));
				break;
			}
			p += strcspn(p, "\n");
			if (*p)
				p++;
		}
		free(text);
	}
	if (home && (!home[0] || home[0] != '/')) {
		free(home);
		home = NULL;
	}
	return home ? home : strdup("/root");
}

static int ssh_keys_set(struct setup *s)
{
	char path[PATH_MAX];
	char *home;
	int rv;

	if (!s->opts->ssh_keys || !*s->opts->ssh_keys)
		return 0;
	home = root_home(s);
	if (!home)
		return fail(s, -ENOMEM, "out of memory");
	if (strcmp(home, "/") == 0)
		home[0] = '\0';
	if (home[0] && !is_dir(s, home)) {
		rv = fail(s, -ENOENT, "cannot add SSH keys: the home directory %.100s of root does "
		                      "not exist in the guest", home);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/.ssh", home);
	rv = dir_ensure(s, path, 0700);
	snprintf(path, sizeof(path), "%s/.ssh/authorized_keys", home);
	if (rv == 0)
		rv = section_write(s, path, s->opts->ssh_keys, SECTION_APPEND, 0600);

out:
	free(home);
	return rv;
}

static int machine_id_clear(struct setup *s)
{
	struct stat st;
	bool systemd = is_executable(s, "/lib/systemd/systemd") ||
	               is_executable(s, "/usr/lib/systemd/systemd");
	char target[PATH_MAX];
	int rv = 0;

	if (systemd && is_file(s, "/var/lib/dbus/machine-id") &&
	    link_read(s, "/var/lib/dbus/machine-id", target, sizeof(target)) < 0)
		rv = file_remove(s, "/var/lib/dbus/machine-id");
	if (rv == 0 && path_stat(s, "/etc/machine-id", &st) == 0 && S_ISREG(st.st_mode))
		rv = file_remove(s, "/etc/machine-id");
	return rv;
}

/* Append the missing device names in ADD to /etc/securetty, if the guest has one. */
static int securetty_add(struct setup *s, const char *const *add, size_t n)
{
	struct buf b = { 0 };
	char *text = NULL, *re;
	int rv;

	rv = file_read(s, "/etc/securetty", &text);
	if (rv < 0)
		return rv == -ENOENT ? 0 : rv;
	buf_str(&b, text);
	while (b.len > 0 && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	buf_str(&b, "\n");
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&re, "(^|\n)%s[[:space:]]*(\n|$)", add[i]) < 0) {
			b.failed = true;
			break;
		}
		if (!b.failed && !regex_match(re, b.data, 0))
			buf_printf(&b, "%s\n", add[i]);
		free(re);
	}
	rv = buf_finish(&b);
	if (rv == 0)
		rv = file_write_str(s, "/etc/securetty", b.data, 0);
	else
		rv = fail(s, rv, "out of memory");
	free(text);
	buf_free(&b);
	return rv;
}

/* Drop the bogus `127.0.1.1 LXC_NAME` line that some image templates ship. */
static int hosts_drop_lxc_name(struct setup *s)
{
	struct lines l = { 0 };
	struct buf b = { 0 };
	char *text = NULL;
	int rv;

	rv = file_read(s, "/etc/hosts", &text);
	if (rv < 0)
		return rv == -ENOENT ? 0 : rv;
	rv = lines_split(text, false, &l);
	for (size_t i = 0; rv == 0 && i < l.n; i++)
		if (!regex_match("^127.0.1.1[[:space:]]+LXC_NAME$", l.v[i], 0))
			buf_printf(&b, "%s\n", l.v[i]);
	if (rv == 0)
		rv = buf_finish(&b);
	if (rv == 0)
		rv = file_write_str(s, "/etc/hosts", b.data, 0);
	free(text);
	lines_free(&l);
	buf_free(&b);
	return rv == -ENOMEM ? fail(s, rv, "out of memory") : rv;
}

static int template_fixup(struct setup *s)
{
	static const char *const alpine_services[][2] = {
		{ "/etc/init.d/networking", "/etc/runlevels/boot/networking" },
		{ "/etc/init.d/bootmisc", "/etc/runlevels/boot/bootmisc" },
		{ "/etc/init.d/hostname", "/etc/runlevels/boot/hostname" },
		{ "/etc/init.d/killprocs", "/etc/runlevels/shutdown/killprocs" },
		{ "/etc/init.d/savecache", "/etc/runlevels/shutdown/savecache" },
	};
	static const char *const alpine_ttys[] = { "console", "tty1", "tty2", "tty3", "tty4" };
	static const char *const ubuntu_ttys[] = { "pts/0" };
	int rv = 0;

	switch (s->os) {
	case OS_UBUNTU:
		if (version_at_least(s, 17, 10) && !version_at_least(s, 23, 4)) {
			rv = symlink_ensure(s,
			                    "/etc/systemd/system/multi-user.target.wants/"
			                    "systemd-networkd.service",
			                    "/lib/systemd/system/systemd-networkd.service",
			                    WRITE_MKPARENTS);
			if (rv == 0)
				rv = symlink_ensure(s,
				                    "/etc/systemd/system/socket.target.wants/"
				                    "systemd-networkd.socket",
				                    "/lib/systemd/system/systemd-networkd.socket",
				                    WRITE_MKPARENTS);
		}
		if (rv == 0 && version_at_least(s, 17, 10))
			rv = file_remove(s, "/etc/netplan/10-lxc.yaml");
		if (rv == 0 && version_at_least(s, 15, 4) && !version_at_least(s, 16, 10))
			rv = securetty_add(s, ubuntu_ttys, 1);
		return rv;
	case OS_ALPINE:
		for (size_t i = 0; i < 5 && rv == 0; i++)
			if (is_dir(s, "/etc/runlevels"))
				rv = symlink_ensure(s, alpine_services[i][1], alpine_services[i][0],
				                    WRITE_MKPARENTS);
		if (rv == 0)
			rv = securetty_add(s, alpine_ttys, 5);
		if (rv == 0)
			rv = hosts_drop_lxc_name(s);
		return rv;
	default:
		return 0;
	}
}

/* ---- the run ---- */

static bool fully_managed(enum os os)
{
	return os == OS_DEBIAN || os == OS_DEVUAN || os == OS_UBUNTU || os == OS_ALPINE;
}

static int read_release(struct setup *s, const char *os_release)
{
	switch (s->os) {
	case OS_DEBIAN:
		return debian_version(s, os_release);
	case OS_DEVUAN:
		return devuan_version(s);
	case OS_UBUNTU:
		return ubuntu_version(s, os_release);
	case OS_ALPINE:
		return alpine_version(s, os_release);
	default:
		return 0;
	}
}

/* The steps for Debian, Devuan, Ubuntu and Alpine. */
static int setup_full(struct setup *s, const struct conf_net *nets)
{
	int rv = 0;

	if (s->opts->create) {
		rv = machine_id_clear(s);
		if (rv == 0)
			rv = template_fixup(s);
		if (rv == 0)
			rv = root_password_set(s);
		if (rv == 0)
			rv = ssh_keys_set(s);
		if (rv < 0)
			return rv;
	}

	rv = file_write_str(s, "/fastboot", "", 0);
	if (rv == 0)
		rv = init_setup(s);
	if (rv == 0)
		rv = network_setup(s, nets);
	if (rv == 0)
		rv = hostname_set(s, nets, false);
	if (rv == 0)
		rv = dns_set(s);
	if (rv == 0)
		rv = timezone_set(s);
	return rv;
}

static int setup_partial(struct setup *s, const struct conf_net *nets)
{
	const char *name = os_names[s->os];
	int rv;

	if (s->os == OS_NIXOS)
		return note(s, "NixOS manages its own files; guest setup changed nothing");
	rv = hostname_set(s, nets, s->os == OS_CENTOS);
	if (rv == 0)
		rv = note(s, "guest setup for %s writes only /etc/hostname and /etc/hosts; its "
		             "network, DNS and console files are left alone", name);
	if (rv == 0 && s->opts->create && (s->opts->root_password || s->opts->ssh_keys))
		rv = note(s, "the root password and SSH keys are not set for %s; set them inside "
		             "the container", name);
	return rv;
}

int ctm_setup_run(const char *rootfs, const struct conf_section *ct,
                  const struct ctm_setup_opts *opts, struct ctm_setup_report *report,
                  char *errmsg)
{
	static const struct ctm_setup_opts no_opts = { .root_uid = (uid_t)-1,
		                                       .root_gid = (gid_t)-1 };
	struct conf_net nets[MAX_NETS];
	struct setup s = {
		.root = -1, .ct = ct, .opts = opts ? opts : &no_opts, .report = report,
		.errmsg = errmsg,
	};
	const char *ostype = conf_get(ct, "ostype");
	char *os_release = NULL;
	int rv;

	memset(report, 0, sizeof(*report));
	memset(nets, 0, sizeof(nets));
	if (errmsg)
		errmsg[0] = '\0';

	if (ostype && strcmp(ostype, "unmanaged") == 0) {
		snprintf(report->os, sizeof(report->os), "unmanaged");
		return 0;
	}
	if (!rootfs || rootfs[0] != '/' || rootfs[strspn(rootfs, "/")] == '\0')
		return fail(&s, -EINVAL, "invalid root file system path \"%.100s\": an absolute "
		                         "path other than / is needed", rootfs ? rootfs : "");

	s.root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s.root < 0)
		return fail(&s, -errno, "cannot open the root file system %.150s: %s", rootfs,
		            strerror(errno));
	s.uid = s.opts->root_uid;
	s.gid = s.opts->root_gid;
	s.chown = s.uid != (uid_t)-1 && s.uid != 0;

	/* Resolve the root once, so that a failing resolver is reported before any work. */
	rv = root_open(&s, "/", O_PATH | O_DIRECTORY, 0);
	if (rv < 0) {
		rv = fail(&s, rv, "cannot resolve paths inside %.150s: openat2 failed: %s", rootfs,
		          strerror(-rv));
		goto out;
	}
	close(rv);

	rv = detect_os(&s, &os_release);
	if (rv < 0)
		goto out;
	snprintf(report->os, sizeof(report->os), "%s", os_names[s.os]);
	if (ostype && strcmp(ostype, os_names[s.os]) != 0) {
		rv = fail(&s, -EINVAL, "ostype is %.30s in the config, but the guest in %.100s is %s; "
		                       "correct ostype or set it to unmanaged",
		          ostype, rootfs, os_names[s.os]);
		goto out;
	}
	rv = read_release(&s, os_release);
	if (rv == 0)
		rv = config_check(&s);
	if (rv == 0)
		rv = nets_parse(&s, nets);
	if (rv == 0)
		rv = dns_lookup(&s);
	if (rv < 0)
		goto out;

	rv = fully_managed(s.os) ? setup_full(&s, nets) : setup_partial(&s, nets);

out:
	if (rv == -ENOMEM && errmsg && !errmsg[0])
		fail(&s, rv, "out of memory");
	nets_clear(nets);
	free(os_release);
	free(s.nameservers);
	free(s.searchdomains);
	close(s.root);
	return rv;
}

void ctm_setup_report_clear(struct ctm_setup_report *report)
{
	if (!report)
		return;
	list_free(report->changed, report->n_changed);
	list_free(report->ignored, report->n_ignored);
	list_free(report->notes, report->n_notes);
	memset(report, 0, sizeof(*report));
}
