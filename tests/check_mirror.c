/* Unit tests of pfs_mirror: flushes through the writer thread, coalescing
 * of repeated changes, order of removals and renames, and the full sync. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pmxfs/mirror.h"
#include "pmxfs/tree.h"

static char dir[64];
static char copy[128];
static struct pfs_tree *tree;
static struct pfs_mirror *mirror;

static void setup(void)
{
	char errmsg[PFS_ERRMSG_SIZE];

	snprintf(dir, sizeof(dir), "/tmp/check_mirror.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/mirror", dir);
	ck_assert_int_eq(pfs_tree_new(&tree), 0);
	ck_assert_int_eq(pfs_mirror_open(copy, NULL, "node1", getgid(), &mirror, errmsg), 0);
}

static void teardown(void)
{
	char cmd[128];

	pfs_mirror_close(mirror);
	pfs_tree_free(tree);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Apply one change to the tree and tell the mirror, as the daemon does. */
static void change(enum pfs_msg_type type, const char *path, const char *path2, const char *data)
{
	struct pfs_apply_result res;
	struct pfs_msg m = {0};

	m.type = type;
	m.writer = 1;
	m.mtime = 1000;
	m.path = path;
	m.path2 = path2;
	m.data = data;
	m.data_len = data ? (uint32_t)strlen(data) : 0;
	pfs_tree_round_begin(tree);
	ck_assert_int_eq(pfs_tree_apply(tree, &m, &res), 0);
	pfs_tree_round_end(tree);
	ck_assert_int_eq(pfs_mirror_event(mirror, path, path2), 0);
}

/* The contents of a mirror file, or "" when it cannot be read. */
static const char *mirror_file(const char *path)
{
	static char buf[256];
	char p[256];
	size_t n = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", copy, path);
	buf[0] = '\0';
	f = fopen(p, "r");
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool mirror_exists(const char *path)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", copy, path);
	return lstat(p, &st) == 0;
}

/* The three virtual files are written at every flush. */
#define VIRTUAL_FILES 3

START_TEST(test_pfs_mirror_flush_writes_a_file_once)
{
	char data[32];

	for (int i = 0; i < 1000; i++) {
		snprintf(data, sizeof(data), "value %d\n", i);
		change(PFS_MSG_WRITE, "/a.cfg", NULL, data);
	}
	ck_assert(pfs_mirror_pending(mirror));
	ck_assert_int_eq(pfs_mirror_flush(mirror, tree), 0);
	ck_assert(!pfs_mirror_pending(mirror));
	pfs_mirror_wait(mirror);
	ck_assert(!pfs_mirror_busy(mirror));
	ck_assert_str_eq(mirror_file("/a.cfg"), "value 999\n");
	ck_assert_uint_eq(pfs_mirror_writes(mirror), 1 + VIRTUAL_FILES);
}
END_TEST

/* More events than the limit of remembered paths, on few paths, are
 * coalesced instead of turning the flush into a sync of the whole copy,
 * which would also write the files nobody changed since. */
START_TEST(test_pfs_mirror_event_coalesces_beyond_the_limit)
{
	char path[32], data[32];
	struct pfs_apply_result res;
	struct pfs_msg m = {0};

	pfs_tree_round_begin(tree);
	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/quiet%d.cfg", i);
		m.type = PFS_MSG_WRITE;
		m.writer = 1;
		m.path = path;
		m.data = "quiet\n";
		m.data_len = 6;
		ck_assert_int_eq(pfs_tree_apply(tree, &m, &res), 0);
	}
	pfs_tree_round_end(tree);

	for (int i = 0; i < 6000; i++) {
		snprintf(path, sizeof(path), "/busy%d.cfg", i % 10);
		snprintf(data, sizeof(data), "%d\n", i);
		change(PFS_MSG_WRITE, path, NULL, data);
	}
	ck_assert_int_eq(pfs_mirror_flush(mirror, tree), 0);
	pfs_mirror_wait(mirror);
	ck_assert_uint_eq(pfs_mirror_writes(mirror), 10 + VIRTUAL_FILES);
	ck_assert_str_eq(mirror_file("/busy0.cfg"), "5990\n");
	ck_assert_str_eq(mirror_file("/busy9.cfg"), "5999\n");
	ck_assert(!mirror_exists("/quiet0.cfg"));
}
END_TEST

/* Batches land in order: a later flush never overtakes an earlier one. */
START_TEST(test_pfs_mirror_flush_keeps_order)
{
	change(PFS_MSG_MKDIR, "/d", NULL, NULL);
	change(PFS_MSG_WRITE, "/d/x.cfg", NULL, "one\n");
	ck_assert_int_eq(pfs_mirror_flush(mirror, tree), 0);
	change(PFS_MSG_RENAME, "/d/x.cfg", "/y.cfg", NULL);
	change(PFS_MSG_RMDIR, "/d", NULL, NULL);
	ck_assert_int_eq(pfs_mirror_flush(mirror, tree), 0);
	change(PFS_MSG_MKDIR, "/d", NULL, NULL);
	change(PFS_MSG_WRITE, "/d/z.cfg", NULL, "two\n");
	ck_assert_int_eq(pfs_mirror_flush(mirror, tree), 0);
	pfs_mirror_wait(mirror);
	ck_assert(!mirror_exists("/d/x.cfg"));
	ck_assert_str_eq(mirror_file("/y.cfg"), "one\n");
	ck_assert_str_eq(mirror_file("/d/z.cfg"), "two\n");
	ck_assert(mirror_exists("/.members"));
}
END_TEST

/* A full sync waits for the queued batches, then keeps equal files. */
START_TEST(test_pfs_mirror_sync_after_flush)
{
	uint64_t before;

	change(PFS_MSG_WRITE, "/a.cfg", NULL, "a\n");
	change(PFS_MSG_WRITE, "/b.cfg", NULL, "b\n");
	ck_assert_int_eq(pfs_mirror_flush(mirror, tree), 0);
	ck_assert_int_eq(pfs_mirror_sync(mirror, tree), 0);
	ck_assert(!pfs_mirror_busy(mirror));
	before = pfs_mirror_writes(mirror);
	ck_assert_int_eq(pfs_mirror_sync(mirror, tree), 0);
	ck_assert_uint_eq(pfs_mirror_writes(mirror), before + VIRTUAL_FILES);
	ck_assert_str_eq(mirror_file("/b.cfg"), "b\n");
}
END_TEST

/* Closing the mirror writes what is still queued. */
START_TEST(test_pfs_mirror_close_writes_the_queue)
{
	char p[256];
	struct stat st;

	change(PFS_MSG_WRITE, "/last.cfg", NULL, "last\n");
	ck_assert_int_eq(pfs_mirror_flush(mirror, tree), 0);
	pfs_mirror_close(mirror);
	mirror = NULL;
	snprintf(p, sizeof(p), "%s/last.cfg", copy);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 5);
}
END_TEST

static Suite *mirror_suite(void)
{
	Suite *s = suite_create("pfs_mirror");
	TCase *tc;

	tc = tcase_create("pfs_mirror_flush");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_mirror_flush_writes_a_file_once);
	tcase_add_test(tc, test_pfs_mirror_flush_keeps_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("pfs_mirror_event");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_mirror_event_coalesces_beyond_the_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("pfs_mirror_sync");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_mirror_sync_after_flush);
	suite_add_tcase(s, tc);

	tc = tcase_create("pfs_mirror_close");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_mirror_close_writes_the_queue);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mirror_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
