/*
 * Tests of ctmgr/xfer.c over loopback. The receiver listens on port 0, so
 * the kernel picks a free ephemeral port for every test. Tests that kill
 * one side run it in a child process; the others run the receiver in a
 * thread. They need root (chown to other uids, mknod).
 */
#include "config.h"

#include <arpa/inet.h>
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ctmgr/xfer.h"

#define CHECKED_SNPRINTF(buf, size, ...) \
	ck_assert_int_lt(snprintf(buf, size, __VA_ARGS__), (int)(size))

#define MIB (1024 * 1024)
/* Size of the file that the kill and stall tests stream. */
#define BIG_FILE_SIZE (24 * MIB)
/* Bytes a side streams before the test kills or stops it. */
#define KILL_AFTER (4 * MIB)

static char tmpdir[PATH_MAX]; /* per test */
static char src[PATH_MAX];    /* tmpdir/src: the volume to send */
static char storage[PATH_MAX]; /* tmpdir/storage: the receiver's storage */
static struct ctm_xfer_key key, other_key;

static const char cluster_key[] = "0123456789abcdef0123456789abcdef-test-cluster-key";
static const char other_cluster_key[] = "another cluster's key, 32 bytes or more long";

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";

	CHECKED_SNPRINTF(tmpdir, sizeof(tmpdir), "%s/check_xfer.XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	CHECKED_SNPRINTF(src, sizeof(src), "%s/src", tmpdir);
	CHECKED_SNPRINTF(storage, sizeof(storage), "%s/storage", tmpdir);
	ck_assert_int_eq(mkdir(src, 0755), 0);
	ck_assert_int_eq(mkdir(storage, 0755), 0);
	ck_assert_int_eq(ctm_xfer_key_derive(cluster_key, sizeof(cluster_key) - 1, &key, errmsg), 0);
	ck_assert_int_eq(ctm_xfer_key_derive(other_cluster_key, sizeof(other_cluster_key) - 1,
					     &other_key, errmsg), 0);
}

static void teardown(void)
{
	nftw(tmpdir, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t len, off_t offset)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, data, len, offset), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* A file of SIZE bytes of a non-repeating pattern. */
static void write_big_file(const char *path, size_t size)
{
	unsigned char *buf = malloc(MIB);
	size_t i, off;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_ge(fd, 0);
	for (off = 0; off < size; off += MIB) {
		for (i = 0; i < MIB; i++)
			buf[i] = (unsigned char)((off / MIB) * 131 + i * 7 + (i >> 11));
		ck_assert_int_eq(write(fd, buf, MIB), MIB);
	}
	ck_assert_int_eq(close(fd), 0);
	free(buf);
}

static bool same_content(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa && fb;
	int ca, cb;

	while (same) {
		ca = fgetc(fa);
		cb = fgetc(fb);
		if (ca != cb)
			same = false;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Number of entries in DIR other than . and .., or -1 if DIR is missing. */
static int count_entries(const char *dir)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int n = -1;

	if (!exists(dir))
		return -1;
	CHECKED_SNPRINTF(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* ---- A receiver in a thread ---- */

struct receive_job {
	struct ctm_xfer_server *server;
	struct ctm_xfer_opts opts;
	struct ctm_xfer_header header;
	struct ctm_xfer_result result;
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	int rv;
	pthread_t thread;
};

static void *receive_thread(void *data)
{
	struct receive_job *job = data;

	job->rv = ctm_xfer_server_receive(job->server, storage, 20000, &job->opts, &job->header,
					  &job->result, job->errmsg);
	return NULL;
}

static uint16_t start_receiver(struct receive_job *job, const struct ctm_xfer_key *k)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE];

	ck_assert_int_eq(ctm_xfer_server_new(k, "127.0.0.1", 0, &job->server, errmsg), 0);
	ck_assert_int_eq(pthread_create(&job->thread, NULL, receive_thread, job), 0);
	return ctm_xfer_server_port(job->server);
}

static void join_receiver(struct receive_job *job)
{
	ck_assert_int_eq(pthread_join(job->thread, NULL), 0);
	ctm_xfer_server_free(job->server);
}

/* ---- Key and header fields ---- */

START_TEST(test_ctm_xfer_key_derive_deterministic)
{
	struct ctm_xfer_key again;
	char errmsg[CTM_XFER_ERRMSG_SIZE];

	ck_assert_int_eq(ctm_xfer_key_derive(cluster_key, sizeof(cluster_key) - 1, &again, errmsg),
			 0);
	ck_assert_mem_eq(again.psk, key.psk, CTM_XFER_PSK_SIZE);
	ck_assert_int_ne(memcmp(key.psk, other_key.psk, CTM_XFER_PSK_SIZE), 0);
	/* The derived key is not the secret itself. */
	ck_assert_int_ne(memcmp(key.psk, cluster_key, CTM_XFER_PSK_SIZE), 0);
}
END_TEST

START_TEST(test_ctm_xfer_key_derive_short)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	struct ctm_xfer_key k;

	ck_assert_int_eq(ctm_xfer_key_derive("short", 5, &k, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "at least 16"));
}
END_TEST

START_TEST(test_ctm_xfer_key_load_file)
{
	char path[PATH_MAX], errmsg[CTM_XFER_ERRMSG_SIZE];
	struct ctm_xfer_key k;

	CHECKED_SNPRINTF(path, sizeof(path), "%s/cluster.key", tmpdir);
	write_file(path, cluster_key, sizeof(cluster_key) - 1, 0);
	ck_assert_int_eq(ctm_xfer_key_load(path, &k, errmsg), 0);
	ck_assert_mem_eq(k.psk, key.psk, CTM_XFER_PSK_SIZE);

	CHECKED_SNPRINTF(path, sizeof(path), "%s/missing.key", tmpdir);
	ck_assert_int_eq(ctm_xfer_key_load(path, &k, errmsg), -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "missing.key"));
}
END_TEST

START_TEST(test_ctm_xfer_check_volume_cases)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE];

	ck_assert_int_eq(ctm_xfer_check_volume("subvol-100-disk-0", errmsg), 0);
	ck_assert_int_eq(ctm_xfer_check_volume("images/100/vm-100-disk-0.raw", errmsg), 0);
	ck_assert_int_eq(ctm_xfer_check_volume("", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_volume("/abs", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_volume("a/../b", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_volume("..", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_volume(".incoming/x", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_volume("a//b", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_volume("a/", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_volume("a b", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_volume("a/b/c/d/e/f/g/h/i", errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "a/b/c/d/e/f/g/h/i"));
}
END_TEST

START_TEST(test_ctm_xfer_check_token_cases)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE];

	ck_assert_int_eq(ctm_xfer_check_token("1733356800-ab12", errmsg), 0);
	ck_assert_int_eq(ctm_xfer_check_token("", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_token(".hidden", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_token("a/b", errmsg), -EINVAL);
	ck_assert_int_eq(ctm_xfer_check_token(
		"0123456789012345678901234567890123456789012345678901234567890123456789", errmsg),
		-EINVAL);
}
END_TEST

/* ---- A full tree ---- */

/* A POSIX ACL in the kernel's xattr format: user 4242 rwx, mask rwx. */
static size_t make_acl(unsigned char *buf)
{
	static const struct {
		uint16_t tag, perm;
		uint32_t id;
	} entries[] = {
		{ 0x01, 7, 0xffffffff }, /* ACL_USER_OBJ */
		{ 0x02, 7, 4242 },       /* ACL_USER */
		{ 0x04, 5, 0xffffffff }, /* ACL_GROUP_OBJ */
		{ 0x10, 7, 0xffffffff }, /* ACL_MASK */
		{ 0x20, 5, 0xffffffff }, /* ACL_OTHER */
	};
	uint32_t version = 2;
	size_t i, off = 0;

	memcpy(buf, &version, 4);
	off = 4;
	for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		memcpy(buf + off, &entries[i].tag, 2);
		memcpy(buf + off + 2, &entries[i].perm, 2);
		memcpy(buf + off + 4, &entries[i].id, 4);
		off += 8;
	}
	return off;
}

/* The tree of most tests; returns whether ACLs and xattrs could be set. */
static bool make_tree(void)
{
	char path[PATH_MAX], hard[PATH_MAX];
	unsigned char acl[64];
	size_t acl_len = make_acl(acl);
	bool attrs = true;

	CHECKED_SNPRINTF(path, sizeof(path), "%s/etc", src);
	ck_assert_int_eq(mkdir(path, 0750), 0);
	ck_assert_int_eq(chown(path, 101000, 101000), 0);

	CHECKED_SNPRINTF(path, sizeof(path), "%s/etc/hostname", src);
	write_file(path, "ct100\n", 6, 0);
	ck_assert_int_eq(chown(path, 1234567, 4294967294u), 0);
	ck_assert_int_eq(chmod(path, 04751), 0);
	CHECKED_SNPRINTF(hard, sizeof(hard), "%s/hostname.hard", src);
	ck_assert_int_eq(link(path, hard), 0);

	CHECKED_SNPRINTF(path, sizeof(path), "%s/sparse.raw", src);
	write_file(path, "begin", 5, 0);
	write_file(path, "middle", 6, 40 * MIB);
	ck_assert_int_eq(truncate(path, 96 * MIB), 0);

	CHECKED_SNPRINTF(path, sizeof(path), "%s/passwd-link", src);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	ck_assert_int_eq(lchown(path, 101000, 101001), 0);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/fifo", src);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/null", src);
	ck_assert_int_eq(mknod(path, S_IFCHR | 0666, makedev(1, 3)), 0);
	/* Names are bytes: one in UTF-8, one that is not valid UTF-8. */
	CHECKED_SNPRINTF(path, sizeof(path), "%s/caf\xc3\xa9", src);
	write_file(path, "utf-8", 5, 0);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/raw\xe9\xff", src);
	write_file(path, "latin-1", 7, 0);

	CHECKED_SNPRINTF(path, sizeof(path), "%s/etc/hostname", src);
	if (setxattr(path, "user.pmx.test", "value\0with nul", 14, 0) < 0 ||
	    setxattr(path, "trusted.pmx.test", "t", 1, 0) < 0) {
		fprintf(stderr, "# check_xfer: %s does not take extended attributes (%s): "
			"ACL and xattr checks skipped\n", tmpdir, strerror(errno));
		attrs = false;
	}
	CHECKED_SNPRINTF(path, sizeof(path), "%s/etc", src);
	if (attrs && (setxattr(path, "system.posix_acl_access", acl, acl_len, 0) < 0 ||
		      setxattr(path, "system.posix_acl_default", acl, acl_len, 0) < 0)) {
		fprintf(stderr, "# check_xfer: %s does not take POSIX ACLs (%s): ACL and xattr "
			"checks skipped\n", tmpdir, strerror(errno));
		attrs = false;
	}
	ck_assert_int_eq(chmod(src, 0711), 0);
	ck_assert_int_eq(chown(src, 100000, 100000), 0);
	return attrs;
}

static void assert_same_stat(const char *rel)
{
	char a[PATH_MAX], b[PATH_MAX];
	struct stat sa, sb;

	CHECKED_SNPRINTF(a, sizeof(a), "%s/%s", src, rel);
	CHECKED_SNPRINTF(b, sizeof(b), "%s/images/100/subvol-100-disk-0/%s", storage, rel);
	ck_assert_int_eq(lstat(a, &sa), 0);
	ck_assert_int_eq(lstat(b, &sb), 0);
	ck_assert_uint_eq(sa.st_mode, sb.st_mode);
	ck_assert_uint_eq(sa.st_uid, sb.st_uid);
	ck_assert_uint_eq(sa.st_gid, sb.st_gid);
	ck_assert_int_eq(sa.st_size, sb.st_size);
	ck_assert_uint_eq(sa.st_rdev, sb.st_rdev);
	if (!S_ISDIR(sa.st_mode) && !S_ISLNK(sa.st_mode))
		ck_assert_int_eq(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
}

static void assert_same_xattr(const char *rel, const char *name)
{
	char a[PATH_MAX], b[PATH_MAX], va[256], vb[256];
	ssize_t la, lb;

	CHECKED_SNPRINTF(a, sizeof(a), "%s/%s", src, rel);
	CHECKED_SNPRINTF(b, sizeof(b), "%s/images/100/subvol-100-disk-0/%s", storage, rel);
	la = getxattr(a, name, va, sizeof(va));
	lb = getxattr(b, name, vb, sizeof(vb));
	ck_assert_int_gt(la, 0);
	ck_assert_int_eq(la, lb);
	ck_assert_mem_eq(va, vb, (size_t)la);
}

START_TEST(test_ctm_xfer_send_tree)
{
	struct ctm_xfer_header h = { 100, "tok1", "images/100/subvol-100-disk-0", 0 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], a[PATH_MAX], b[PATH_MAX], target[PATH_MAX];
	struct receive_job job = { 0 };
	struct ctm_xfer_result sent;
	struct stat sa, sb;
	bool attrs = make_tree();
	uint16_t port = start_receiver(&job, &key);
	int rv;

	rv = ctm_xfer_send(&key, "127.0.0.1", port, &h, src, NULL, &sent, errmsg);
	join_receiver(&job);
	ck_assert_msg(rv == 0, "send: %s", errmsg);
	ck_assert_msg(job.rv == 0, "receive: %s", job.errmsg);

	/* Checksums and counts agree on both sides. */
	ck_assert_mem_eq(sent.sha256, job.result.sha256, 32);
	ck_assert_uint_eq(sent.archive_bytes, job.result.archive_bytes);
	ck_assert_uint_eq(sent.entries, 10);
	ck_assert_uint_eq(job.result.entries, 10);
	ck_assert_uint_eq(job.header.ctid, 100);

	/* Every kind of entry, with its owner, mode and times. */
	assert_same_stat(".");
	assert_same_stat("etc");
	assert_same_stat("etc/hostname");
	assert_same_stat("hostname.hard");
	assert_same_stat("sparse.raw");
	assert_same_stat("passwd-link");
	assert_same_stat("fifo");
	assert_same_stat("null");
	assert_same_stat("caf\xc3\xa9");
	assert_same_stat("raw\xe9\xff");

	CHECKED_SNPRINTF(target, sizeof(target), "%s/images/100/subvol-100-disk-0", storage);
	CHECKED_SNPRINTF(a, sizeof(a), "%s/etc/hostname", target);
	CHECKED_SNPRINTF(b, sizeof(b), "%s/hostname.hard", target);
	ck_assert_int_eq(stat(a, &sa), 0);
	ck_assert_int_eq(stat(b, &sb), 0);
	ck_assert_uint_eq(sa.st_ino, sb.st_ino);
	CHECKED_SNPRINTF(b, sizeof(b), "%s/etc/hostname", src);
	ck_assert(same_content(a, b));

	CHECKED_SNPRINTF(a, sizeof(a), "%s/passwd-link", target);
	ck_assert_int_eq(readlink(a, b, sizeof(b)), 11);
	ck_assert_mem_eq(b, "/etc/passwd", 11);

	/* The sparse file keeps its content and its holes. */
	CHECKED_SNPRINTF(a, sizeof(a), "%s/sparse.raw", src);
	CHECKED_SNPRINTF(b, sizeof(b), "%s/sparse.raw", target);
	ck_assert(same_content(a, b));
	ck_assert_int_eq(stat(a, &sa), 0);
	ck_assert_int_eq(stat(b, &sb), 0);
	ck_assert_int_le(sb.st_blocks, sa.st_blocks + 16);
	ck_assert_int_lt(sb.st_blocks * 512, MIB);

	if (attrs) {
		assert_same_xattr("etc/hostname", "user.pmx.test");
		assert_same_xattr("etc/hostname", "trusted.pmx.test");
		assert_same_xattr("etc", "system.posix_acl_access");
		assert_same_xattr("etc", "system.posix_acl_default");
	}

	/* Nothing is left in flight. */
	CHECKED_SNPRINTF(a, sizeof(a), "%s/.incoming", storage);
	ck_assert_int_eq(count_entries(a), 0);
}
END_TEST

START_TEST(test_ctm_xfer_send_wrong_key)
{
	struct ctm_xfer_header h = { 100, "tok1", "subvol-100-disk-0", 0 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX], expect[64];
	struct receive_job job = { 0 };
	uint16_t port;
	int rv;

	make_tree();
	port = start_receiver(&job, &other_key);
	rv = ctm_xfer_send(&key, "127.0.0.1", port, &h, src, NULL, NULL, errmsg);
	join_receiver(&job);

	/* Both sides reject the peer. */
	ck_assert_int_eq(rv, -EACCES);
	CHECKED_SNPRINTF(expect, sizeof(expect), "127.0.0.1:%u", port);
	ck_assert_ptr_nonnull(strstr(errmsg, expect));
	ck_assert_ptr_nonnull(strstr(errmsg, "subvol-100-disk-0"));
	ck_assert_ptr_nonnull(strstr(errmsg, "key"));
	ck_assert_int_eq(job.rv, -EACCES);
	ck_assert_ptr_nonnull(strstr(job.errmsg, "127.0.0.1"));
	ck_assert_ptr_nonnull(strstr(job.errmsg, "key"));

	/* Nothing lands. */
	CHECKED_SNPRINTF(path, sizeof(path), "%s/subvol-100-disk-0", storage);
	ck_assert(!exists(path));
	CHECKED_SNPRINTF(path, sizeof(path), "%s/.incoming", storage);
	ck_assert_int_le(count_entries(path), 0);
}
END_TEST

START_TEST(test_ctm_xfer_send_volume_exists)
{
	struct ctm_xfer_header h = { 100, "tok1", "subvol-100-disk-0", 0 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX];
	struct receive_job job = { 0 };
	uint16_t port;
	int rv;

	CHECKED_SNPRINTF(path, sizeof(path), "%s/subvol-100-disk-0", storage);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	port = start_receiver(&job, &key);
	rv = ctm_xfer_send(&key, "127.0.0.1", port, &h, src, NULL, NULL, errmsg);
	join_receiver(&job);
	ck_assert_int_eq(rv, -EEXIST);
	ck_assert_ptr_nonnull(strstr(errmsg, "exists"));
	ck_assert_int_eq(job.rv, -EEXIST);
	ck_assert_int_eq(count_entries(path), 0);
}
END_TEST

START_TEST(test_ctm_xfer_send_refused)
{
	struct ctm_xfer_header h = { 100, "tok1", "subvol-100-disk-0", 0 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], expect[64];
	struct ctm_xfer_server *server;
	uint16_t port;
	int rv;

	/* A port that was free a moment ago and has no listener now. */
	ck_assert_int_eq(ctm_xfer_server_new(&key, "127.0.0.1", 0, &server, errmsg), 0);
	port = ctm_xfer_server_port(server);
	ctm_xfer_server_free(server);
	rv = ctm_xfer_send(&key, "127.0.0.1", port, &h, src, NULL, NULL, errmsg);
	ck_assert_int_eq(rv, -ECONNREFUSED);
	CHECKED_SNPRINTF(expect, sizeof(expect), "to 127.0.0.1:%u: connect failed", port);
	ck_assert_msg(strstr(errmsg, expect) != NULL, "%s", errmsg);
}
END_TEST

static int reject_token(const struct ctm_xfer_header *header, void *data, char *errmsg)
{
	if (strcmp(header->token, data) == 0)
		return 0;
	snprintf(errmsg, CTM_XFER_ERRMSG_SIZE, "no migration of CT %u announced token %s",
		 header->ctid, header->token);
	return -EPERM;
}

START_TEST(test_ctm_xfer_send_rejected_token)
{
	struct ctm_xfer_header h = { 100, "tok1", "subvol-100-disk-0", 0 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX];
	struct receive_job job = {
		.opts = { .accept = reject_token, .accept_data = (void *)"tok2" },
	};
	uint16_t port = start_receiver(&job, &key);
	int rv;

	rv = ctm_xfer_send(&key, "127.0.0.1", port, &h, src, NULL, NULL, errmsg);
	join_receiver(&job);
	ck_assert_int_eq(rv, -EPERM);
	ck_assert_msg(strstr(errmsg, "rejected the transfer: no migration of CT 100 announced "
			     "token tok1") != NULL, "%s", errmsg);
	ck_assert_int_eq(job.rv, -EPERM);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/.incoming", storage);
	ck_assert(!exists(path));
}
END_TEST

START_TEST(test_ctm_xfer_send_no_space)
{
	struct ctm_xfer_header h = { 100, "tok1", "subvol-100-disk-0", UINT64_MAX / 2 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX];
	struct receive_job job = { 0 };
	uint16_t port = start_receiver(&job, &key);
	int rv;

	rv = ctm_xfer_send(&key, "127.0.0.1", port, &h, src, NULL, NULL, errmsg);
	join_receiver(&job);
	ck_assert_int_eq(rv, -ENOSPC);
	ck_assert_msg(strstr(errmsg, "bytes free, the volume needs") != NULL, "%s", errmsg);
	ck_assert_int_eq(job.rv, -ENOSPC);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/subvol-100-disk-0", storage);
	ck_assert(!exists(path));
}
END_TEST

/* A TCP listener that completes connections in the kernel but never speaks TLS. */
START_TEST(test_ctm_xfer_send_handshake_timeout)
{
	struct ctm_xfer_header h = { 100, "tok1", "subvol-100-disk-0", 0 };
	struct ctm_xfer_opts opts = { .stall_timeout_ms = 500 };
	struct sockaddr_in addr = { .sin_family = AF_INET };
	char errmsg[CTM_XFER_ERRMSG_SIZE], expect[96];
	socklen_t len = sizeof(addr);
	int fd, rv;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);

	rv = ctm_xfer_send(&key, "127.0.0.1", ntohs(addr.sin_port), &h, src, &opts, NULL, errmsg);
	close(fd);
	ck_assert_int_eq(rv, -ETIMEDOUT);
	CHECKED_SNPRINTF(expect, sizeof(expect), "127.0.0.1:%u: TLS handshake failed: no data",
			 ntohs(addr.sin_port));
	ck_assert_msg(strstr(errmsg, expect) != NULL, "%s", errmsg);
}
END_TEST

static void make_big_tree(void)
{
	char path[PATH_MAX];

	CHECKED_SNPRINTF(path, sizeof(path), "%s/big", src);
	write_big_file(path, BIG_FILE_SIZE);
}

struct send_job {
	uint16_t port;
	struct ctm_xfer_header header;
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	int rv;
	pthread_t thread;
};

static void *send_thread(void *data)
{
	struct send_job *job = data;

	job->rv = ctm_xfer_send(&key, "127.0.0.1", job->port, &job->header, src, NULL, NULL,
				job->errmsg);
	return NULL;
}

/* Two threads receive on one server while two senders send at once. */
START_TEST(test_ctm_xfer_server_receive_concurrent)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX];
	struct receive_job receivers[2] = { { 0 }, { 0 } };
	struct send_job senders[2] = {
		{ .header = { 100, "tok1", "subvol-100-disk-0", 0 } },
		{ .header = { 101, "tok1", "subvol-101-disk-0", 0 } },
	};
	struct ctm_xfer_server *server;
	int i;

	make_big_tree();
	ck_assert_int_eq(ctm_xfer_server_new(&key, "127.0.0.1", 0, &server, errmsg), 0);
	for (i = 0; i < 2; i++) {
		receivers[i].server = server;
		ck_assert_int_eq(pthread_create(&receivers[i].thread, NULL, receive_thread,
						&receivers[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		senders[i].port = ctm_xfer_server_port(server);
		ck_assert_int_eq(pthread_create(&senders[i].thread, NULL, send_thread,
						&senders[i]), 0);
	}
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(senders[i].thread, NULL), 0);
		ck_assert_int_eq(pthread_join(receivers[i].thread, NULL), 0);
	}
	ctm_xfer_server_free(server);

	for (i = 0; i < 2; i++) {
		ck_assert_msg(senders[i].rv == 0, "%s", senders[i].errmsg);
		ck_assert_msg(receivers[i].rv == 0, "%s", receivers[i].errmsg);
	}
	CHECKED_SNPRINTF(path, sizeof(path), "%s/subvol-100-disk-0/big", storage);
	ck_assert(exists(path));
	CHECKED_SNPRINTF(path, sizeof(path), "%s/subvol-101-disk-0/big", storage);
	ck_assert(exists(path));
}
END_TEST

/* The storage folder of a transfer: storage/a for token tok-a, storage/b for tok-b. */
static int route_by_token(const struct ctm_xfer_header *h, void *data, char *folder,
			  char *errmsg)
{
	(void)data;
	if (strcmp(h->token, "tok-a") && strcmp(h->token, "tok-b")) {
		snprintf(errmsg, CTM_XFER_ERRMSG_SIZE, "no transfer with token %s is expected",
			 h->token);
		return -EACCES;
	}
	if (snprintf(folder, PATH_MAX, "%s/%c", storage, h->token[4]) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

struct fd_job {
	struct ctm_xfer_server *server;
	int fd;
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	int rv;
	pthread_t thread;
};

static void *receive_fd_thread(void *data)
{
	struct fd_job *job = data;
	struct ctm_xfer_opts opts = { .route = route_by_token };

	job->rv = ctm_xfer_server_receive_fd(job->server, job->fd, &opts, NULL, NULL,
					     job->errmsg);
	return NULL;
}

/* The caller accepts three connections at once and hands each to a thread:
 * each lands in the storage its token names, and the unknown token is rejected. */
START_TEST(test_ctm_xfer_server_receive_fd_routed)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX];
	struct send_job senders[3] = {
		{ .header = { 100, "tok-a", "subvol-100-disk-0", 0 } },
		{ .header = { 101, "tok-b", "subvol-101-disk-0", 0 } },
		{ .header = { 102, "tok-x", "subvol-102-disk-0", 0 } },
	};
	struct fd_job receivers[3] = { { 0 }, { 0 }, { 0 } };
	struct ctm_xfer_server *server;
	struct pollfd pfd;
	int i, accepted = 0;

	make_big_tree();
	CHECKED_SNPRINTF(path, sizeof(path), "%s/a", storage);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/b", storage);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(ctm_xfer_server_new(&key, "127.0.0.1", 0, &server, errmsg), 0);
	for (i = 0; i < 3; i++) {
		senders[i].port = ctm_xfer_server_port(server);
		ck_assert_int_eq(pthread_create(&senders[i].thread, NULL, send_thread,
						&senders[i]), 0);
	}
	while (accepted < 3) {
		pfd.fd = ctm_xfer_server_fd(server);
		pfd.events = POLLIN;
		ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
		if (ctm_xfer_server_accept(server, &receivers[accepted].fd, errmsg) < 0)
			continue;
		receivers[accepted].server = server;
		ck_assert_int_eq(pthread_create(&receivers[accepted].thread, NULL,
						receive_fd_thread, &receivers[accepted]), 0);
		accepted++;
	}
	ck_assert_int_eq(ctm_xfer_server_accept(server, &i, errmsg), -EAGAIN);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(pthread_join(senders[i].thread, NULL), 0);
		ck_assert_int_eq(pthread_join(receivers[i].thread, NULL), 0);
	}
	ctm_xfer_server_free(server);

	ck_assert_msg(senders[0].rv == 0, "%s", senders[0].errmsg);
	ck_assert_msg(senders[1].rv == 0, "%s", senders[1].errmsg);
	ck_assert_int_eq(senders[2].rv, -EACCES);
	ck_assert_ptr_nonnull(strstr(senders[2].errmsg, "no transfer with token tok-x"));
	CHECKED_SNPRINTF(path, sizeof(path), "%s/a/subvol-100-disk-0/big", storage);
	ck_assert(exists(path));
	CHECKED_SNPRINTF(path, sizeof(path), "%s/b/subvol-101-disk-0/big", storage);
	ck_assert(exists(path));
	CHECKED_SNPRINTF(path, sizeof(path), "%s/subvol-102-disk-0", storage);
	ck_assert(!exists(path));
}
END_TEST

static void on_alarm(int signo)
{
	(void)signo;
}

/* A transfer goes on while a timer interrupts system calls every 1 ms. */
START_TEST(test_ctm_xfer_send_interrupted)
{
	struct ctm_xfer_header h = { 100, "tok1", "subvol-100-disk-0", 0 };
	struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	char errmsg[CTM_XFER_ERRMSG_SIZE], a[PATH_MAX], b[PATH_MAX];
	struct receive_job job = { 0 };
	uint16_t port;
	int rv;

	make_big_tree();
	/* No SA_RESTART: blocking calls return EINTR. */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &every_ms, NULL), 0);
	port = start_receiver(&job, &key);
	rv = ctm_xfer_send(&key, "127.0.0.1", port, &h, src, NULL, NULL, errmsg);
	join_receiver(&job);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);

	ck_assert_msg(rv == 0, "send: %s", errmsg);
	ck_assert_msg(job.rv == 0, "receive: %s", job.errmsg);
	CHECKED_SNPRINTF(a, sizeof(a), "%s/big", src);
	CHECKED_SNPRINTF(b, sizeof(b), "%s/subvol-100-disk-0/big", storage);
	ck_assert(same_content(a, b));
}
END_TEST

/* ---- Killed and stalled peers ---- */

struct kill_state {
	pid_t pid;
	int signal;
	bool done;
};

static int kill_after(uint64_t bytes, uint64_t total, void *data)
{
	struct kill_state *k = data;

	if (!k->done && bytes >= KILL_AFTER) {
		k->done = true;
		kill(k->pid ? k->pid : getpid(), k->signal);
	}
	return 0;
}

START_TEST(test_ctm_xfer_server_receive_killed)
{
	struct ctm_xfer_header h = { 101, "tok2", "subvol-101-disk-0", 0 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX], expect[64];
	struct ctm_xfer_server *server;
	struct kill_state k = { .signal = SIGKILL };
	struct ctm_xfer_opts opts = { .progress = kill_after, .progress_data = &k };
	unsigned removed = 0;
	uint16_t port;
	int rv, status;

	make_big_tree();
	ck_assert_int_eq(ctm_xfer_server_new(&key, "127.0.0.1", 0, &server, errmsg), 0);
	port = ctm_xfer_server_port(server);
	k.pid = fork();
	ck_assert_int_ge(k.pid, 0);
	if (k.pid == 0) {
		ctm_xfer_server_receive(server, storage, 20000, NULL, NULL, NULL, errmsg);
		_exit(0);
	}
	ctm_xfer_server_free(server);

	rv = ctm_xfer_send(&key, "127.0.0.1", port, &h, src, &opts, NULL, errmsg);
	ck_assert_int_eq(waitpid(k.pid, &status, 0), k.pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_lt(rv, 0);
	CHECKED_SNPRINTF(expect, sizeof(expect), "to 127.0.0.1:%u", port);
	ck_assert_msg(strstr(errmsg, expect) != NULL, "%s", errmsg);
	ck_assert_msg(strstr(errmsg, "subvol-101-disk-0") != NULL, "%s", errmsg);

	/* The killed receiver left its partial folder; start-up cleaning removes it. */
	CHECKED_SNPRINTF(path, sizeof(path), "%s/.incoming/101-tok2", storage);
	ck_assert(exists(path));
	ck_assert_int_eq(ctm_xfer_clean_incoming(storage, &removed, errmsg), 0);
	ck_assert_uint_eq(removed, 1);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/.incoming", storage);
	ck_assert_int_eq(count_entries(path), 0);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/subvol-101-disk-0", storage);
	ck_assert(!exists(path));
}
END_TEST

/* Fork a sender that sends the big tree and gets SIGNAL from itself midway. */
static pid_t fork_sender(uint16_t port, int signal)
{
	struct ctm_xfer_header h = { 102, "tok3", "subvol-102-disk-0", 0 };
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	struct kill_state k = { .signal = signal };
	struct ctm_xfer_opts opts = { .progress = kill_after, .progress_data = &k };
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ctm_xfer_send(&key, "127.0.0.1", port, &h, src, &opts, NULL, errmsg);
		_exit(0);
	}
	return pid;
}

START_TEST(test_ctm_xfer_server_receive_sender_killed)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX];
	struct ctm_xfer_server *server;
	pid_t pid;
	int rv, status;

	make_big_tree();
	ck_assert_int_eq(ctm_xfer_server_new(&key, "127.0.0.1", 0, &server, errmsg), 0);
	pid = fork_sender(ctm_xfer_server_port(server), SIGKILL);
	rv = ctm_xfer_server_receive(server, storage, 20000, NULL, NULL, NULL, errmsg);
	ctm_xfer_server_free(server);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));

	ck_assert_int_eq(rv, -ECONNRESET);
	ck_assert_msg(strstr(errmsg, "subvol-102-disk-0 of CT 102 from 127.0.0.1:") != NULL, "%s",
		      errmsg);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/.incoming", storage);
	ck_assert_int_eq(count_entries(path), 0);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/subvol-102-disk-0", storage);
	ck_assert(!exists(path));
}
END_TEST

START_TEST(test_ctm_xfer_server_receive_stalled)
{
	struct ctm_xfer_opts opts = { .stall_timeout_ms = 1000 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], path[PATH_MAX];
	struct ctm_xfer_server *server;
	pid_t pid;
	int rv, status;

	make_big_tree();
	ck_assert_int_eq(ctm_xfer_server_new(&key, "127.0.0.1", 0, &server, errmsg), 0);
	pid = fork_sender(ctm_xfer_server_port(server), SIGSTOP);
	rv = ctm_xfer_server_receive(server, storage, 20000, &opts, NULL, NULL, errmsg);
	ctm_xfer_server_free(server);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);

	ck_assert_int_eq(rv, -ETIMEDOUT);
	ck_assert_msg(strstr(errmsg, "no data from the peer for 1000 ms") != NULL, "%s", errmsg);
	CHECKED_SNPRINTF(path, sizeof(path), "%s/.incoming", storage);
	ck_assert_int_eq(count_entries(path), 0);
}
END_TEST

START_TEST(test_ctm_xfer_server_receive_accept_timeout)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	struct ctm_xfer_server *server;

	ck_assert_int_eq(ctm_xfer_server_new(&key, "127.0.0.1", 0, &server, errmsg), 0);
	ck_assert_int_eq(ctm_xfer_server_receive(server, storage, 100, NULL, NULL, NULL, errmsg),
			 -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(errmsg, "no sender"));
	ctm_xfer_server_free(server);
}
END_TEST

/* ---- Hostile archives ---- */

struct memory_stream {
	const unsigned char *data;
	size_t size, pos;
};

static ssize_t read_memory(void *buf, size_t size, void *data)
{
	struct memory_stream *m = data;
	size_t n = m->size - m->pos < size ? m->size - m->pos : size;

	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/*
 * A pax archive with a folder "dir", then one entry PATH: a file, a hard
 * link to LINK if set, or a symlink to SYMLINK if set, followed by a file
 * "PATH/evil". Then a file "dir/tail" of TAIL bytes.
 */
static size_t make_archive(unsigned char *buf, size_t size, const char *path, const char *link,
			   const char *symlink, size_t tail)
{
	char below[PATH_MAX];
	static const unsigned char zeros[65536];
	size_t done;
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t used = 0;

	ck_assert_int_eq(archive_write_set_format_pax(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_memory(a, buf, size, &used), ARCHIVE_OK);
	archive_entry_set_pathname(e, "dir");
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, symlink ? AE_IFLNK : AE_IFREG);
	archive_entry_set_perm(e, 0644);
	if (symlink) {
		archive_entry_set_symlink(e, symlink);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		CHECKED_SNPRINTF(below, sizeof(below), "%s/evil", path);
		archive_entry_clear(e);
		archive_entry_set_pathname(e, below);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 5);
	} else if (link) {
		archive_entry_set_hardlink(e, link);
		archive_entry_set_size(e, 0);
	} else {
		archive_entry_set_size(e, 5);
	}
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	if (!link)
		ck_assert_int_eq(archive_write_data(a, "evil\n", 5), 5);
	if (tail) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, "dir/tail");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)tail);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		for (done = 0; done < tail; done += sizeof(zeros))
			ck_assert_int_eq(archive_write_data(a, zeros, sizeof(zeros)), sizeof(zeros));
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
	return used;
}

static int record_bytes(uint64_t bytes, uint64_t total, void *data)
{
	*(uint64_t *)data = bytes;
	return 0;
}

static void assert_archive_rejected(const char *path, const char *link, const char *symlink,
				    size_t tail, const char *why)
{
	uint64_t sent = 0;
	struct ctm_xfer_opts opts = { .progress = record_bytes, .progress_data = &sent };
	struct ctm_xfer_header h = { 103, "tok4", "subvol-103-disk-0", 0 };
	char errmsg[CTM_XFER_ERRMSG_SIZE], check[PATH_MAX];
	size_t size = tail + 64 * 1024;
	unsigned char *archive = malloc(size);
	struct memory_stream m = { archive, 0, 0 };
	struct receive_job job = { 0 };
	uint16_t port;
	int rv;

	ck_assert_ptr_nonnull(archive);
	m.size = make_archive(archive, size, path, link, symlink, tail);
	port = start_receiver(&job, &key);
	rv = ctm_xfer_send_stream(&key, "127.0.0.1", port, &h, read_memory, &m, &opts, NULL,
				  errmsg);
	join_receiver(&job);

	ck_assert_int_eq(job.rv, -EINVAL);
	ck_assert_msg(strstr(job.errmsg, why) != NULL, "%s", job.errmsg);
	ck_assert_int_eq(rv, -EINVAL);
	ck_assert_msg(strstr(errmsg, why) != NULL, "%s", errmsg);
	/* A sender still streaming stops soon after the receiver failed. */
	ck_assert_uint_lt(sent, 16 * MIB + tail / 4);
	CHECKED_SNPRINTF(check, sizeof(check), "%s/.incoming", storage);
	ck_assert_int_eq(count_entries(check), 0);
	CHECKED_SNPRINTF(check, sizeof(check), "%s/subvol-103-disk-0", storage);
	ck_assert(!exists(check));
	CHECKED_SNPRINTF(check, sizeof(check), "%s/evil", tmpdir);
	ck_assert(!exists(check));
	CHECKED_SNPRINTF(check, sizeof(check), "%s/evil", storage);
	ck_assert(!exists(check));
	free(archive);
}

START_TEST(test_ctm_xfer_server_receive_dotdot)
{
	assert_archive_rejected("dir/../../../evil", NULL, NULL, 0, "contains '..'");
}
END_TEST

/* The receiver fails early and the sender, still streaming, reports why. */
START_TEST(test_ctm_xfer_server_receive_dotdot_midstream)
{
	assert_archive_rejected("dir/../../../evil", NULL, NULL, 32 * MIB, "contains '..'");
}
END_TEST

START_TEST(test_ctm_xfer_server_receive_absolute)
{
	char path[PATH_MAX];

	CHECKED_SNPRINTF(path, sizeof(path), "%s/evil", tmpdir);
	assert_archive_rejected(path, NULL, NULL, 0, "is absolute");
}
END_TEST

START_TEST(test_ctm_xfer_server_receive_hardlink_out)
{
	assert_archive_rejected("dir/link", "../../evil", NULL, 0, "hard link target");
}
END_TEST

/* A symlink to a folder outside, then a file written through it. */
START_TEST(test_ctm_xfer_server_receive_symlink_out)
{
	assert_archive_rejected("dir/link", NULL, tmpdir, 0,
				"'dir/link/evil' is not below a folder");
}
END_TEST

/* The same through a relative symlink that climbs out. */
START_TEST(test_ctm_xfer_server_receive_symlink_up)
{
	assert_archive_rejected("dir/up", NULL, "../../../..", 0,
				"'dir/up/evil' is not below a folder");
}
END_TEST

START_TEST(test_ctm_xfer_clean_incoming_missing)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	unsigned removed = 7;

	ck_assert_int_eq(ctm_xfer_clean_incoming(storage, &removed, errmsg), 0);
	ck_assert_uint_eq(removed, 0);
}
END_TEST

static Suite *xfer_suite(void)
{
	Suite *s = suite_create("xfer");
	TCase *tc;

	tc = tcase_create("ctm_xfer_key_derive");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ctm_xfer_key_derive_deterministic);
	tcase_add_test(tc, test_ctm_xfer_key_derive_short);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_xfer_key_load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ctm_xfer_key_load_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_xfer_check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ctm_xfer_check_volume_cases);
	tcase_add_test(tc, test_ctm_xfer_check_token_cases);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_xfer_send");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ctm_xfer_send_tree);
	tcase_add_test(tc, test_ctm_xfer_send_wrong_key);
	tcase_add_test(tc, test_ctm_xfer_send_volume_exists);
	tcase_add_test(tc, test_ctm_xfer_send_refused);
	tcase_add_test(tc, test_ctm_xfer_send_handshake_timeout);
	tcase_add_test(tc, test_ctm_xfer_send_rejected_token);
	tcase_add_test(tc, test_ctm_xfer_send_no_space);
	tcase_add_test(tc, test_ctm_xfer_send_interrupted);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_xfer_server_receive");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ctm_xfer_server_receive_concurrent);
	tcase_add_test(tc, test_ctm_xfer_server_receive_fd_routed);
	tcase_add_test(tc, test_ctm_xfer_server_receive_killed);
	tcase_add_test(tc, test_ctm_xfer_server_receive_sender_killed);
	tcase_add_test(tc, test_ctm_xfer_server_receive_stalled);
	tcase_add_test(tc, test_ctm_xfer_server_receive_accept_timeout);
	tcase_add_test(tc, test_ctm_xfer_server_receive_dotdot);
	tcase_add_test(tc, test_ctm_xfer_server_receive_dotdot_midstream);
	tcase_add_test(tc, test_ctm_xfer_server_receive_absolute);
	tcase_add_test(tc, test_ctm_xfer_server_receive_hardlink_out);
	tcase_add_test(tc, test_ctm_xfer_server_receive_symlink_out);
	tcase_add_test(tc, test_ctm_xfer_server_receive_symlink_up);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_xfer_clean_incoming");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_ctm_xfer_clean_incoming_missing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(xfer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
