/* Unit tests of pfs_tree: apply functions and their errors, limits, names,
 * CTID rules, the lock queue and the virtual files. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/tree.h"

static struct pfs_tree *tree;
static struct pfs_apply_result res;

static void setup(void)
{
	ck_assert_int_eq(pfs_tree_new(&tree), 0);
	pfs_tree_round_begin(tree);
}

static void teardown(void)
{
	pfs_tree_round_end(tree);
	pfs_tree_free(tree);
	tree = NULL;
}

static int op(enum pfs_msg_type type, const char *path, const char *path2, const char *data)
{
	struct pfs_msg m = {0};

	m.type = type;
	m.writer = 1;
	m.mtime = 1000;
	m.path = path;
	m.path2 = path2;
	m.data = data;
	m.data_len = data ? (uint32_t)strlen(data) : 0;
	return pfs_tree_apply(tree, &m, &res);
}

static int op_cond(enum pfs_msg_type type, const char *path, const char *path2,
		   const char *data, uint32_t flags, uint64_t version, uint64_t token)
{
	struct pfs_msg m = {0};

	m.type = type;
	m.writer = 2;
	m.mtime = 2000;
	m.path = path;
	m.path2 = path2;
	m.data = data;
	m.data_len = data ? (uint32_t)strlen(data) : 0;
	m.flags = flags;
	m.expected_version = version;
	m.token = token;
	return pfs_tree_apply(tree, &m, &res);
}

static int lock_op(enum pfs_msg_type type, const char *name, uint32_t writer, uint64_t request,
		   uint64_t token, uint64_t waiter)
{
	struct pfs_msg m = {0};

	m.type = type;
	m.writer = writer;
	m.path = name;
	m.request_id = request;
	m.lease_ms = 10000;
	m.token = token;
	m.waiter_id = waiter;
	return pfs_tree_apply(tree, &m, &res);
}

static void mkdirs(void)
{
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes/n1", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes/n1/lxc", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes/n1/qemu-server", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes/n2", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes/n2/lxc", NULL, NULL), 0);
}

START_TEST(test_pfs_tree_apply_create_versions)
{
	struct pfs_stat st;
	const char *data;

	ck_assert_int_eq(op(PFS_MSG_CREATE, "/a.cfg", NULL, "x=1\n"), 0);
	ck_assert_uint_eq(res.version, 1);
	ck_assert_uint_eq(res.inode, 1);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/d", NULL, NULL), 0);
	ck_assert_uint_eq(res.inode, 2);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/d/f", NULL, ""), 0);
	ck_assert_uint_eq(res.inode, 3);
	ck_assert_uint_eq(pfs_tree_version(tree), 3);

	ck_assert_int_eq(pfs_tree_read(tree, "/a.cfg", &data, &st), 0);
	ck_assert_str_eq(data, "x=1\n");
	ck_assert_uint_eq(st.size, 4);
	ck_assert_uint_eq(st.writer, 1);
	ck_assert_uint_eq(st.mtime, 1000);
	ck_assert_int_eq(st.type, PFS_TYPE_FILE);
	ck_assert_uint_eq(pfs_tree_entry_count(tree), 3);
	ck_assert_uint_eq(pfs_tree_byte_count(tree), 4);
}
END_TEST

START_TEST(test_pfs_tree_apply_create_errors)
{
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/a", NULL, "1"), 0);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/a", NULL, "2"), -EEXIST);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/missing/a", NULL, "2"), -ENOENT);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/a/b", NULL, "2"), -ENOTDIR);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "relative", NULL, "2"), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/", NULL, "2"), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_WRITE, "/", NULL, ""), -EINVAL);
	ck_assert_ptr_nonnull(strstr(res.errmsg, "root directory"));
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/.vmlist", NULL, "2"), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/local", NULL, "2"), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/priv/lock/x", NULL, "2"), -EPERM);
	ck_assert_str_ne(res.errmsg, "");
	/* A failed change does not bump the version. */
	ck_assert_uint_eq(pfs_tree_version(tree), 1);
}
END_TEST

START_TEST(test_pfs_tree_check_path_names)
{
	char name[300];

	ck_assert_int_eq(pfs_tree_check_path("/", NULL), 0);
	ck_assert_int_eq(pfs_tree_check_path("/a/b.c", NULL), 0);
	ck_assert_int_eq(pfs_tree_check_path("", NULL), -EINVAL);
	ck_assert_int_eq(pfs_tree_check_path("/a//b", NULL), -EINVAL);
	ck_assert_int_eq(pfs_tree_check_path("/a/", NULL), -EINVAL);
	ck_assert_int_eq(pfs_tree_check_path("/a/./b", NULL), -EINVAL);
	ck_assert_int_eq(pfs_tree_check_path("/a/..", NULL), -EINVAL);
	memset(name, 'n', sizeof(name));
	name[0] = '/';
	name[256] = '\0';
	ck_assert_int_eq(pfs_tree_check_path(name, NULL), 0);
	name[256] = 'n';
	name[257] = '\0';
	ck_assert_int_eq(pfs_tree_check_path(name, NULL), -ENAMETOOLONG);
	ck_assert(pfs_tree_is_dns_label("node-1"));
	ck_assert(!pfs_tree_is_dns_label("-node"));
	ck_assert(!pfs_tree_is_dns_label("node_1"));
	ck_assert(!pfs_tree_is_dns_label(""));
}
END_TEST

START_TEST(test_pfs_tree_check_path_control_chars)
{
	char errmsg[PFS_ERRMSG_SIZE] = "";

	ck_assert_int_eq(pfs_tree_check_path("/a\nb", errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "control character 0x0a"));
	ck_assert_int_eq(pfs_tree_check_path("/dir\t/b", NULL), -EINVAL);
	ck_assert_int_eq(pfs_tree_check_path("/a\x01", NULL), -EINVAL);
	ck_assert_int_eq(pfs_tree_check_path("/a\x1f", NULL), -EINVAL);
	ck_assert_int_eq(pfs_tree_check_path("/a\x7f", NULL), -EINVAL);
	ck_assert_int_eq(pfs_tree_check_path("/a b~", NULL), 0);
	ck_assert_int_eq(pfs_tree_check_path("/caf\xc3\xa9", NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/two\nlines", NULL, "x"), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/d\r", NULL, NULL), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/ok", NULL, "x"), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/ok", "/bad\x7f", NULL), -EINVAL);
}
END_TEST

START_TEST(test_pfs_tree_apply_nodes_names)
{
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes/bad_name", NULL, NULL), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/file", NULL, "x"), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes/good-1", NULL, NULL), 0);
}
END_TEST

START_TEST(test_pfs_tree_apply_write)
{
	ck_assert_int_eq(op(PFS_MSG_WRITE, "/a", NULL, "one"), 0);
	ck_assert_uint_eq(res.inode, 1);
	ck_assert_int_eq(op(PFS_MSG_WRITE, "/a", NULL, "two!"), 0);
	ck_assert_uint_eq(res.inode, 1);
	ck_assert_uint_eq(res.version, 2);
	ck_assert_uint_eq(pfs_tree_byte_count(tree), 4);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/d", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_WRITE, "/d", NULL, "x"), -EISDIR);
}
END_TEST

START_TEST(test_pfs_tree_apply_write_cas)
{
	ck_assert_int_eq(op(PFS_MSG_WRITE, "/a", NULL, "one"), 0);
	ck_assert_int_eq(op_cond(PFS_MSG_WRITE, "/a", NULL, "two", PFS_COND_VERSION, 7, 0), -ESTALE);
	ck_assert_int_eq(op_cond(PFS_MSG_WRITE, "/a", NULL, "two", PFS_COND_VERSION, 1, 0), 0);
	ck_assert_int_eq(op_cond(PFS_MSG_WRITE, "/a", NULL, "3", PFS_COND_VERSION, 1, 0), -ESTALE);
	/* Expected version 0 means "must not exist yet". */
	ck_assert_int_eq(op_cond(PFS_MSG_WRITE, "/b", NULL, "x", PFS_COND_VERSION, 0, 0), 0);
	ck_assert_int_eq(op_cond(PFS_MSG_WRITE, "/b", NULL, "y", PFS_COND_VERSION, 0, 0), -ESTALE);
	ck_assert_int_eq(op_cond(PFS_MSG_DELETE, "/b", NULL, NULL, PFS_COND_VERSION, 1, 0), -ESTALE);
	ck_assert_int_eq(op_cond(PFS_MSG_DELETE, "/b", NULL, NULL, PFS_COND_VERSION, 3, 0), 0);
}
END_TEST

START_TEST(test_pfs_tree_apply_write_token)
{
	uint64_t token;

	ck_assert_int_eq(op(PFS_MSG_WRITE, "/a", NULL, "one"), 0);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "file-a", 1, 10, 0, 0), 0);
	token = res.token;
	ck_assert_int_eq(op_cond(PFS_MSG_WRITE, "/a", NULL, "two", PFS_COND_TOKEN, 0, token), 0);
	ck_assert_int_eq(op_cond(PFS_MSG_WRITE, "/a", NULL, "x", PFS_COND_TOKEN, 0, 1), -ENOLCK);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RELEASE, "file-a", 1, 11, token, 0), 0);
	/* A stale holder cannot write after the release. */
	ck_assert_int_eq(op_cond(PFS_MSG_WRITE, "/a", NULL, "x", PFS_COND_TOKEN, 0, token), -ENOLCK);
}
END_TEST

/* Collects what pfs_tree_locks() and pfs_tree_lock_waiters() report. */
static struct pfs_lock_entry seen_locks[4];
static struct pfs_tree_waiter seen_waiters[4];
static size_t nseen_locks, nseen_waiters;

static int collect_lock(const struct pfs_lock_entry *lock, void *ctx)
{
	(void)ctx;
	ck_assert_uint_lt(nseen_locks, 4);
	seen_locks[nseen_locks++] = *lock;
	return 0;
}

static int collect_waiter(const struct pfs_tree_waiter *waiter, void *ctx)
{
	(void)ctx;
	ck_assert_uint_lt(nseen_waiters, 4);
	seen_waiters[nseen_waiters++] = *waiter;
	return 0;
}

static int acquire_as(const char *name, uint32_t writer, uint64_t request, uint32_t pid,
		      const char *node_name, uint64_t waiter)
{
	struct pfs_msg m = {0};

	m.type = PFS_MSG_LOCK_ACQUIRE;
	m.writer = writer;
	m.mtime = 3000;
	m.path = name;
	m.request_id = request;
	m.lease_ms = 12000;
	m.waiter_id = waiter;
	m.pid = pid;
	m.node_name = node_name;
	return pfs_tree_apply(tree, &m, &res);
}

START_TEST(test_pfs_tree_locks_holders_waiters)
{
	nseen_locks = nseen_waiters = 0;
	ck_assert_int_eq(pfs_tree_locks(tree, collect_lock, NULL), 0);
	ck_assert_uint_eq(nseen_locks, 0);

	ck_assert_int_eq(acquire_as("vm-1", 1, 10, 4711, "node1", 0), 0);
	ck_assert_int_eq(acquire_as("vm-1", 2, 20, 4800, "node2", 1), 0);
	ck_assert(res.queued);
	ck_assert_int_eq(acquire_as("vm-1", 3, 30, 0, "", 1), 0);
	ck_assert_int_eq(acquire_as("bad", 3, 31, 1, "no_dns", 0), -EINVAL);

	ck_assert_int_eq(pfs_tree_locks(tree, collect_lock, NULL), 0);
	ck_assert_uint_eq(nseen_locks, 1);
	ck_assert_str_eq(seen_locks[0].name, "vm-1");
	ck_assert_uint_eq(seen_locks[0].node, 1);
	ck_assert_uint_eq(seen_locks[0].request_id, 10);
	ck_assert_uint_eq(seen_locks[0].lease_ms, 12000);
	ck_assert_uint_eq(seen_locks[0].pid, 4711);
	ck_assert_str_eq(seen_locks[0].node_name, "node1");
	ck_assert_uint_eq(seen_locks[0].mtime, 3000);
	ck_assert_uint_gt(seen_locks[0].token, 0);

	ck_assert_int_eq(pfs_tree_lock_waiters(tree, "vm-1", collect_waiter, NULL), 0);
	ck_assert_uint_eq(nseen_waiters, 2);
	ck_assert_uint_eq(seen_waiters[0].node, 2);
	ck_assert_uint_eq(seen_waiters[0].pid, 4800);
	ck_assert_str_eq(seen_waiters[0].node_name, "node2");
	ck_assert_uint_eq(seen_waiters[1].node, 3);
	ck_assert_uint_eq(seen_waiters[1].pid, 0);
	ck_assert_str_eq(seen_waiters[1].node_name, "");

	/* The first waiter's pid and node name move into the entry. */
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RELEASE, "vm-1", 1, 11, seen_locks[0].token, 0), 0);
	nseen_locks = 0;
	ck_assert_int_eq(pfs_tree_locks(tree, collect_lock, NULL), 0);
	ck_assert_uint_eq(nseen_locks, 1);
	ck_assert_uint_eq(seen_locks[0].pid, 4800);
	ck_assert_str_eq(seen_locks[0].node_name, "node2");
}
END_TEST

START_TEST(test_pfs_tree_lock_parse_layouts)
{
	struct pfs_lock_entry lock;

	/* Entries written before the pid and node name were kept. */
	memset(&lock, 0xff, sizeof(lock));
	ck_assert_int_eq(pfs_tree_lock_parse("node 2\nrequest 7\nlease_ms 5000\n", &lock), 0);
	ck_assert_uint_eq(lock.node, 2);
	ck_assert_uint_eq(lock.request_id, 7);
	ck_assert_uint_eq(lock.lease_ms, 5000);
	ck_assert_uint_eq(lock.pid, 0);
	ck_assert_str_eq(lock.node_name, "");

	ck_assert_int_eq(pfs_tree_lock_parse("node 2\nrequest 7\nlease_ms 5000\npid 99\n"
					     "node_name node-2\n", &lock), 0);
	ck_assert_uint_eq(lock.pid, 99);
	ck_assert_str_eq(lock.node_name, "node-2");
	ck_assert_int_eq(pfs_tree_lock_parse("node 2\nrequest 7\nlease_ms 5000\npid 99\n"
					     "node_name \n", &lock), 0);
	ck_assert_str_eq(lock.node_name, "");

	ck_assert_int_eq(pfs_tree_lock_parse("", &lock), -EBADMSG);
	ck_assert_int_eq(pfs_tree_lock_parse("node x\n", &lock), -EBADMSG);
	ck_assert_int_eq(pfs_tree_lock_parse("node 2\nrequest 7\nlease_ms 5000\nowner 3\n", &lock),
			 -EBADMSG);
}
END_TEST

START_TEST(test_pfs_tree_apply_limits)
{
	char *big = malloc(PFS_MAX_FILE_SIZE + 2);
	char path[32];
	int i;

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', PFS_MAX_FILE_SIZE + 1);
	big[PFS_MAX_FILE_SIZE + 1] = '\0';
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/big", NULL, big), -EFBIG);
	big[PFS_MAX_FILE_SIZE] = '\0';
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/big", NULL, big), 0);

	/* 127 more files of 1 MiB fill 128 MiB; one more byte is too much. */
	for (i = 0; i < 127; i++) {
		snprintf(path, sizeof(path), "/f%d", i);
		ck_assert_int_eq(op(PFS_MSG_CREATE, path, NULL, big), 0);
	}
	ck_assert_uint_eq(pfs_tree_byte_count(tree), PFS_TREE_MAX_BYTES);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/one-more", NULL, "x"), -ENOSPC);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/empty", NULL, ""), 0);
	free(big);
}
END_TEST

START_TEST(test_pfs_tree_apply_entry_limit)
{
	char path[32];
	uint32_t i;

	for (i = 0; i < PFS_TREE_MAX_ENTRIES; i++) {
		snprintf(path, sizeof(path), "/e%u", i);
		ck_assert_int_eq(op(PFS_MSG_MKDIR, path, NULL, NULL), 0);
		if (i % 4096 == 0) {
			pfs_tree_round_end(tree);
			pfs_tree_round_begin(tree);
		}
	}
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/too-many", NULL, NULL), -ENOSPC);
	ck_assert_int_eq(op(PFS_MSG_RMDIR, "/e0", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/fits", NULL, NULL), 0);
}
END_TEST

START_TEST(test_pfs_tree_apply_delete)
{
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/a", NULL, "1"), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/d", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_DELETE, "/d", NULL, NULL), -EISDIR);
	ck_assert_int_eq(op(PFS_MSG_DELETE, "/nope", NULL, NULL), -ENOENT);
	ck_assert_int_eq(op(PFS_MSG_DELETE, "/", NULL, NULL), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_DELETE, "/a", NULL, NULL), 0);
	ck_assert_uint_eq(res.version, 3);
	ck_assert_uint_eq(pfs_tree_entry_count(tree), 1);
	ck_assert_uint_eq(pfs_tree_byte_count(tree), 0);
}
END_TEST

START_TEST(test_pfs_tree_apply_mkdir_rmdir)
{
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/d", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/d", NULL, NULL), -EEXIST);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/d/f", NULL, "x"), 0);
	ck_assert_int_eq(op(PFS_MSG_RMDIR, "/d", NULL, NULL), -ENOTEMPTY);
	ck_assert_int_eq(op(PFS_MSG_RMDIR, "/d/f", NULL, NULL), -ENOTDIR);
	ck_assert_int_eq(op(PFS_MSG_RMDIR, "/nope", NULL, NULL), -ENOENT);
	ck_assert_int_eq(op(PFS_MSG_RMDIR, "/", NULL, NULL), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_DELETE, "/d/f", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_RMDIR, "/d", NULL, NULL), 0);
	ck_assert_uint_eq(pfs_tree_entry_count(tree), 0);
}
END_TEST

START_TEST(test_pfs_tree_apply_rename)
{
	struct pfs_stat st;

	ck_assert_int_eq(op(PFS_MSG_CREATE, "/a", NULL, "A"), 0);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/b", NULL, "BB"), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/d", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/a", "/d/a2", NULL), 0);
	ck_assert_uint_eq(res.inode, 1);
	ck_assert_uint_eq(res.version, 4);
	ck_assert_int_eq(pfs_tree_stat(tree, "/d/a2", &st), 0);
	ck_assert_uint_eq(st.inode, 1);
	ck_assert_uint_eq(st.version, 4);
	ck_assert_int_eq(pfs_tree_stat(tree, "/a", &st), -ENOENT);

	/* Onto an existing file: the target is replaced. */
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/b", "/d/a2", NULL), 0);
	ck_assert_int_eq(pfs_tree_stat(tree, "/d/a2", &st), 0);
	ck_assert_uint_eq(st.inode, 2);
	ck_assert_uint_eq(pfs_tree_entry_count(tree), 2);
	ck_assert_uint_eq(pfs_tree_byte_count(tree), 2);

	ck_assert_int_eq(op(PFS_MSG_RENAME, "/nope", "/x", NULL), -ENOENT);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/d/a2", "/missing/x", NULL), -ENOENT);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/d/a2", "/d/a2", NULL), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/d", "/e", NULL), -ENOTEMPTY);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/e", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/d/a2", "/e", NULL), -EISDIR);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/f", NULL, "x"), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/e", "/f", NULL), -EEXIST);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/e", "/e2", NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/f", "/.members", NULL), -EINVAL);
	ck_assert_int_eq(op_cond(PFS_MSG_RENAME, "/f", "/g", NULL, PFS_COND_VERSION, 1, 0), -ESTALE);
}
END_TEST

START_TEST(test_pfs_tree_apply_rename_guest_config_onto_file)
{
	struct pfs_stat st;
	const char *data;
	uint64_t target_version;

	mkdirs();
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n1/lxc/100.conf", NULL, "ct100"), 0);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n2/lxc/301.conf", NULL, "ct301"), 0);
	target_version = res.version;

	/* Without an expected version the target survives. */
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/nodes/n1/lxc/100.conf", "/nodes/n2/lxc/301.conf",
			    NULL),
			 -EEXIST);
	ck_assert_ptr_nonnull(strstr(res.errmsg, "/nodes/n1/lxc/100.conf"));
	ck_assert_ptr_nonnull(strstr(res.errmsg, "/nodes/n2/lxc/301.conf"));
	ck_assert_int_eq(pfs_tree_read(tree, "/nodes/n2/lxc/301.conf", &data, &st), 0);
	ck_assert_int_eq(memcmp(data, "ct301", 5), 0);
	ck_assert_int_eq(pfs_tree_stat(tree, "/nodes/n1/lxc/100.conf", &st), 0);

	/* Onto a plain file too. */
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n1/lxc/notes", NULL, "n"), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/nodes/n1/lxc/100.conf", "/nodes/n1/lxc/notes", NULL),
			 -EEXIST);

	/* The expected version is the target's. */
	ck_assert_int_eq(op_cond(PFS_MSG_RENAME, "/nodes/n1/lxc/100.conf", "/nodes/n2/lxc/301.conf",
				 NULL, PFS_COND_VERSION, target_version + 100, 0),
			 -ESTALE);
	ck_assert_int_eq(op_cond(PFS_MSG_RENAME, "/nodes/n1/lxc/100.conf", "/nodes/n2/lxc/301.conf",
				 NULL, PFS_COND_VERSION, target_version, 0),
			 0);
	ck_assert_int_eq(pfs_tree_read(tree, "/nodes/n2/lxc/301.conf", &data, &st), 0);
	ck_assert_int_eq(memcmp(data, "ct100", 5), 0);
	ck_assert_int_eq(pfs_tree_stat(tree, "/nodes/n1/lxc/100.conf", &st), -ENOENT);

	/* A temporary file renamed over a config still replaces it. */
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n2/lxc/301.conf.tmp.123", NULL, "new"), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/nodes/n2/lxc/301.conf.tmp.123",
			    "/nodes/n2/lxc/301.conf", NULL),
			 0);
	ck_assert_int_eq(pfs_tree_read(tree, "/nodes/n2/lxc/301.conf", &data, &st), 0);
	ck_assert_int_eq(memcmp(data, "new", 3), 0);
}
END_TEST

START_TEST(test_pfs_tree_guest_ctid_parse)
{
	ck_assert_uint_eq(pfs_tree_guest_ctid("/nodes/n1/lxc/100.conf"), 100);
	ck_assert_uint_eq(pfs_tree_guest_ctid("/nodes/n1/qemu-server/999999999.conf"), 999999999);
	ck_assert_uint_eq(pfs_tree_guest_ctid("/nodes/n1/lxc/99.conf"), 99);
	ck_assert_uint_eq(pfs_tree_guest_ctid("/nodes/n1/lxc/0100.conf"), 0);
	ck_assert_uint_eq(pfs_tree_guest_ctid("/nodes/n1/lxc/100.txt"), 0);
	ck_assert_uint_eq(pfs_tree_guest_ctid("/nodes/n1/priv/100.conf"), 0);
	ck_assert_uint_eq(pfs_tree_guest_ctid("/lost+found/n1/lxc/100.conf"), 0);
	ck_assert_uint_eq(pfs_tree_guest_ctid("/nodes/n1/lxc/12345678901.conf"), UINT64_MAX);
}
END_TEST

START_TEST(test_pfs_tree_apply_ctid_rules)
{
	mkdirs();
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n1/lxc/100.conf", NULL, "a"), 0);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n2/lxc/100.conf", NULL, "a"), -EEXIST);
	ck_assert_int_eq(op(PFS_MSG_WRITE, "/nodes/n1/qemu-server/100.conf", NULL, "a"), -EEXIST);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n1/lxc/99.conf", NULL, "a"), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n1/lxc/1000000000.conf", NULL, "a"), -EINVAL);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n1/lxc/999999999.conf", NULL, "a"), 0);
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/nodes/n1/lxc/101.conf", NULL, NULL), -EINVAL);
	/* Writing the same config again is fine. */
	ck_assert_int_eq(op(PFS_MSG_WRITE, "/nodes/n1/lxc/100.conf", NULL, "b"), 0);

	/* Migration: the same CTID moves to another node. */
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/nodes/n1/lxc/100.conf", "/nodes/n2/lxc/100.conf", NULL),
			 0);
	/* A rename onto a CTID taken elsewhere fails. */
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n1/lxc/tmp", NULL, "t"), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/nodes/n1/lxc/tmp", "/nodes/n1/lxc/100.conf", NULL),
			 -EEXIST);
	/* ... but replacing the same file in place works. */
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/nodes/n1/lxc/tmp", "/nodes/n2/lxc/100.conf", NULL), 0);

	/* lost+found is outside the CTID rules. */
	ck_assert_int_eq(op(PFS_MSG_MKDIR, "/lost+found", NULL, NULL), 0);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/lost+found/100.conf", NULL, "x"), 0);
}
END_TEST

START_TEST(test_pfs_tree_apply_lock_queue)
{
	const struct pfs_notice *notices;
	const struct pfs_lease *leases;
	uint64_t t1, t2;
	size_t n;

	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "storage-x", 1, 100, 0, 1), 0);
	ck_assert(!res.queued);
	t1 = res.token;
	ck_assert_uint_gt(t1, 0);
	leases = pfs_tree_leases(tree, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(leases[0].token, t1);
	ck_assert_uint_eq(leases[0].lease_ms, 10000);

	/* Without the wait flag a held lock is busy; with it the request queues. */
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "storage-x", 2, 200, 0, 0), -EBUSY);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "storage-x", 2, 201, 0, 1), 0);
	ck_assert(res.queued);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "storage-x", 3, 300, 0, 1), 0);
	ck_assert(res.queued);

	/* Renew with the right token only. */
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RENEW, "storage-x", 1, 101, t1, 0), 0);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RENEW, "storage-x", 1, 101, t1 + 1, 0), -ENOLCK);

	/* Release hands the lock to the first waiter, with a higher token. */
	pfs_tree_round_end(tree);
	pfs_tree_round_begin(tree);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RELEASE, "storage-x", 1, 102, t1, 0), 0);
	notices = pfs_tree_notices(tree, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(notices[0].node, 2);
	ck_assert_uint_eq(notices[0].request_id, 201);
	ck_assert_int_eq(notices[0].rc, 0);
	t2 = notices[0].token;
	ck_assert_uint_gt(t2, t1);

	/* A stale release and a stale expire do nothing. */
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RELEASE, "storage-x", 1, 103, t1, 0), -ENOLCK);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_EXPIRE, "storage-x", 1, 0, t1, 0), -ENOLCK);

	/* The last waiter withdraws; then expiry frees the lock entirely. */
	pfs_tree_round_end(tree);
	pfs_tree_round_begin(tree);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RELEASE, "storage-x", 3, 301, 0, 300), 0);
	notices = pfs_tree_notices(tree, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(notices[0].rc, -ETIMEDOUT);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RELEASE, "storage-x", 3, 302, 0, 300), -ENOENT);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_EXPIRE, "storage-x", 1, 0, t2, 0), 0);
	pfs_tree_notices(tree, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "storage-x", 1, 104, 0, 0), 0);
	ck_assert_uint_gt(res.token, t2);
}
END_TEST

START_TEST(test_pfs_tree_apply_lock_errors)
{
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "a/b", 1, 1, 0, 0), -EINVAL);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "..", 1, 1, 0, 0), -EINVAL);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_RELEASE, "nope", 1, 1, 5, 0), -ENOLCK);
	ck_assert_int_eq(lock_op(PFS_MSG_LOCK_ACQUIRE, "ok", 1, 1, 0, 0), 0);
	/* File operations cannot touch lock entries. */
	ck_assert_int_eq(op(PFS_MSG_DELETE, "/priv/lock/ok", NULL, NULL), -EPERM);
	ck_assert_int_eq(op(PFS_MSG_WRITE, "/priv/lock/ok", NULL, "x"), -EPERM);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/priv/lock/ok", "/x", NULL), -EPERM);
}
END_TEST

START_TEST(test_pfs_tree_apply_status)
{
	struct pfs_msg m = {0};
	uint32_t len;

	m.type = PFS_MSG_STATUS_SET;
	m.writer = 4;
	m.path = "ip";
	m.data = "10.0.0.4";
	m.data_len = 8;
	ck_assert_int_eq(pfs_tree_apply(tree, &m, &res), 0);
	ck_assert_str_eq(pfs_tree_status_get(tree, 4, "ip", &len), "10.0.0.4");
	ck_assert_uint_eq(len, 8);
	ck_assert_uint_eq(pfs_tree_version(tree), 0);
	pfs_tree_status_drop(tree, 4);
	ck_assert_ptr_null(pfs_tree_status_get(tree, 4, "ip", NULL));
}
END_TEST

START_TEST(test_pfs_tree_virtual_files)
{
	struct pfs_member members[] = {{1, "n1", true, NULL}};
	char *json = NULL;

	mkdirs();
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n1/lxc/100.conf", NULL, "a"), 0);
	ck_assert_int_eq(op(PFS_MSG_CREATE, "/nodes/n2/lxc/101.conf", NULL, "a"), 0);
	ck_assert_int_eq(pfs_tree_virtual(tree, ".vmlist", "n1", members, 1, true, &json), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"100\""));
	ck_assert_ptr_nonnull(strstr(json, "\"node\": \"n2\""));
	free(json);
	ck_assert_int_eq(pfs_tree_virtual(tree, ".members", "n1", members, 1, true, &json), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"nodename\": \"n1\""));
	free(json);
	ck_assert_int_eq(pfs_tree_virtual(tree, ".version", "n1", members, 1, true, &json), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"version\": 8"));
	free(json);
	ck_assert_int_eq(pfs_tree_virtual(tree, ".other", "n1", members, 1, true, &json), -ENOENT);
}
END_TEST

START_TEST(test_pfs_tree_resolve_link_paths)
{
	char out[64];

	ck_assert_int_eq(pfs_tree_resolve_link("n1", "/lxc/100.conf", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/nodes/n1/lxc/100.conf");
	ck_assert_int_eq(pfs_tree_resolve_link("n1", "/local", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/nodes/n1");
	ck_assert_int_eq(pfs_tree_resolve_link("n1", "/qemu-server", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/nodes/n1/qemu-server");
	ck_assert_int_eq(pfs_tree_resolve_link("n1", "/lxcfoo", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/lxcfoo");
	ck_assert_int_eq(pfs_tree_resolve_link("n1", "/local/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
					       out, sizeof(out)), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_pfs_tree_digest_deterministic)
{
	struct pfs_tree *other;
	char d1[65], d2[65];

	ck_assert_int_eq(op(PFS_MSG_CREATE, "/a", NULL, "x"), 0);
	ck_assert_int_eq(pfs_tree_digest(tree, d1), 0);
	ck_assert_int_eq(pfs_tree_new(&other), 0);
	{
		struct pfs_tree *mine = tree;

		tree = other;
		pfs_tree_round_begin(tree);
		ck_assert_int_eq(op(PFS_MSG_CREATE, "/a", NULL, "x"), 0);
		ck_assert_int_eq(pfs_tree_digest(tree, d2), 0);
		ck_assert_str_eq(d1, d2);
		ck_assert_int_eq(op(PFS_MSG_WRITE, "/a", NULL, "y"), 0);
		ck_assert_int_eq(pfs_tree_digest(tree, d2), 0);
		ck_assert_str_ne(d1, d2);
		tree = mine;
	}
	pfs_tree_free(other);
}
END_TEST

START_TEST(test_pfs_tree_events_dirty)
{
	const struct pfs_tree_event *ev;
	const uint64_t *dirty;
	size_t n;

	ck_assert_int_eq(op(PFS_MSG_CREATE, "/a", NULL, "x"), 0);
	ck_assert_int_eq(op(PFS_MSG_RENAME, "/a", "/b", NULL), 0);
	ev = pfs_tree_events(tree, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(ev[0].op, "create");
	ck_assert_str_eq(ev[1].op, "rename");
	ck_assert_str_eq(ev[1].path, "/a");
	ck_assert_str_eq(ev[1].path2, "/b");
	ck_assert_uint_eq(ev[1].version, 2);
	dirty = pfs_tree_dirty(tree, &n);
	ck_assert_uint_ge(n, 1);
	ck_assert_uint_eq(dirty[0], 1);
}
END_TEST

/* Each message with the error pfs_tree_precheck() gives it (0: only the
 * tree can tell). */
static const struct {
	enum pfs_msg_type type;
	const char *path, *path2;
	uint32_t data_len, lease_ms;
	int rc;
} prechecks[] = {
	{PFS_MSG_WRITE, "/nodes/n1/lxc/99.conf", NULL, 1, 0, -EINVAL},
	{PFS_MSG_CREATE, "/nodes/n1/lxc/1000000000.conf", NULL, 1, 0, -EINVAL},
	{PFS_MSG_MKDIR, "/nodes/n1/lxc/101.conf", NULL, 0, 0, -EINVAL},
	{PFS_MSG_WRITE, "/nodes/n1/lxc/100.conf", NULL, 1, 0, 0},
	{PFS_MSG_WRITE, "/nodes/n1/lxc/100.conf", NULL, PFS_MAX_FILE_SIZE + 1, 0, -EFBIG},
	{PFS_MSG_WRITE, "/nodes/n1/f", NULL, PFS_MAX_FILE_SIZE, 0, 0},
	{PFS_MSG_WRITE, "relative", NULL, 1, 0, -EINVAL},
	{PFS_MSG_WRITE, "/a//b", NULL, 1, 0, -EINVAL},
	{PFS_MSG_DELETE, "/", NULL, 0, 0, -EINVAL},
	{PFS_MSG_RMDIR, "/a/../b", NULL, 0, 0, -EINVAL},
	{PFS_MSG_WRITE, "/.members", NULL, 1, 0, -EINVAL},
	{PFS_MSG_MKDIR, "/lxc", NULL, 0, 0, -EINVAL},
	{PFS_MSG_WRITE, "/nodes/n1", NULL, 1, 0, -EINVAL},
	{PFS_MSG_MKDIR, "/nodes/bad_name", NULL, 0, 0, -EINVAL},
	{PFS_MSG_MKDIR, "/nodes/n3", NULL, 0, 0, 0},
	{PFS_MSG_WRITE, "/priv/lock/x", NULL, 1, 0, -EPERM},
	{PFS_MSG_RENAME, "/nodes/n1/lxc/100.conf", "/nodes/n2/lxc/99.conf", 0, 0, -EINVAL},
	{PFS_MSG_RENAME, "/nodes/n1/lxc/100.conf", "/priv/lock/y", 0, 0, -EPERM},
	{PFS_MSG_RENAME, "/nodes/n1/lxc/100.conf", "/nodes/n2/lxc/100.conf", 0, 0, 0},
	{PFS_MSG_DELETE, "/nodes/n1/lxc/99.conf", NULL, 0, 0, 0},
	{PFS_MSG_LOCK_ACQUIRE, "a/b", NULL, 0, 1000, -EINVAL},
	{PFS_MSG_LOCK_ACQUIRE, "job", NULL, 0, 0, -EINVAL},
	{PFS_MSG_LOCK_ACQUIRE, "job", NULL, 0, 1000, 0},
};

static void precheck_msg(size_t i, struct pfs_msg *m, char *data)
{
	memset(m, 0, sizeof(*m));
	m->type = prechecks[i].type;
	m->writer = 1;
	m->path = prechecks[i].path;
	m->path2 = prechecks[i].path2;
	m->data = data;
	m->data_len = prechecks[i].data_len;
	m->lease_ms = prechecks[i].lease_ms;
}

/* Fill the tree so that each message's entries exist, the other case apply meets. */
static void fill_for_prechecks(void)
{
	static const char *const files[] = {"/nodes/n1/lxc/100.conf", "/nodes/n1/f",
					    "/nodes/n2/lxc/200.conf"};
	size_t i;

	mkdirs();
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		ck_assert_int_eq(op(PFS_MSG_CREATE, files[i], NULL, "x"), 0);
}

START_TEST(test_pfs_tree_precheck_errors)
{
	char *data = calloc(1, PFS_MAX_FILE_SIZE + 1);
	struct pfs_msg m;
	int rv;

	ck_assert_ptr_nonnull(data);
	precheck_msg((size_t)_i, &m, data);
	rv = pfs_tree_precheck(&m, &res);
	ck_assert_msg(rv == prechecks[_i].rc, "message %d: precheck gave %d, expected %d (%s)", _i,
		      rv, prechecks[_i].rc, res.errmsg);
	ck_assert_int_eq(res.rc, rv);
	if (rv < 0)
		ck_assert_str_ne(res.errmsg, "");

	/* What the precheck rejects, apply rejects on any tree. */
	if (rv < 0) {
		ck_assert_int_lt(pfs_tree_apply(tree, &m, &res), 0);
		fill_for_prechecks();
		ck_assert_int_lt(pfs_tree_apply(tree, &m, &res), 0);
	}
	free(data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tree");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("pfs_tree_apply");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pfs_tree_apply_create_versions);
	tcase_add_test(tc, test_pfs_tree_apply_create_errors);
	tcase_add_test(tc, test_pfs_tree_apply_nodes_names);
	tcase_add_test(tc, test_pfs_tree_apply_write);
	tcase_add_test(tc, test_pfs_tree_apply_write_cas);
	tcase_add_test(tc, test_pfs_tree_apply_write_token);
	tcase_add_test(tc, test_pfs_tree_apply_limits);
	tcase_add_test(tc, test_pfs_tree_apply_entry_limit);
	tcase_add_test(tc, test_pfs_tree_apply_delete);
	tcase_add_test(tc, test_pfs_tree_apply_mkdir_rmdir);
	tcase_add_test(tc, test_pfs_tree_apply_rename);
	tcase_add_test(tc, test_pfs_tree_apply_ctid_rules);
	tcase_add_test(tc, test_pfs_tree_apply_rename_guest_config_onto_file);
	tcase_add_test(tc, test_pfs_tree_apply_lock_queue);
	tcase_add_test(tc, test_pfs_tree_apply_lock_errors);
	tcase_add_test(tc, test_pfs_tree_locks_holders_waiters);
	tcase_add_test(tc, test_pfs_tree_lock_parse_layouts);
	tcase_add_test(tc, test_pfs_tree_apply_status);
	tcase_add_test(tc, test_pfs_tree_events_dirty);
	tcase_add_test(tc, test_pfs_tree_digest_deterministic);
	tcase_add_loop_test(tc, test_pfs_tree_precheck_errors, 0,
			    (int)(sizeof(prechecks) / sizeof(prechecks[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("pfs_tree_paths");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_tree_check_path_names);
	tcase_add_test(tc, test_pfs_tree_check_path_control_chars);
	tcase_add_test(tc, test_pfs_tree_guest_ctid_parse);
	tcase_add_test(tc, test_pfs_tree_resolve_link_paths);
	tcase_add_test(tc, test_pfs_tree_virtual_files);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
