/* Unit tests of the pure parts of migration (ctmgr/migrate.h): task ids,
 * reading task logs in slices and parsing the migrate request. The
 * migration itself runs with real nodes and containers in
 * tests/system/migrate-3node.test. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "ctmgr/migrate.h"

static char tmpdir[PATH_MAX];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_migrate.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	setenv("CTMGR_TASK_DIR", tmpdir, 1);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	unsetenv("CTMGR_TASK_DIR");
}

static void write_log(const char *id, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, id);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* ---- ctm_task_id and ctm_task_id_node ---- */

START_TEST(test_task_id_format)
{
	char id[CTM_TASK_ID_SIZE], node[64], errmsg[256];

	ctm_task_id(id, "node1", 0x1add, 0x6b137e09, 9953);
	ck_assert_str_eq(id, "UPID:node1:00001ADD:6B137E09:ctmigrate:9953:root:");
	ck_assert_int_eq(ctm_task_id_node(id, node, errmsg), 0);
	ck_assert_str_eq(node, "node1");
}
END_TEST

START_TEST(test_task_id_node_invalid)
{
	char node[64], errmsg[256];

	ck_assert_int_eq(ctm_task_id_node("node1:1:2", node, errmsg), -EINVAL);
	ck_assert_int_eq(ctm_task_id_node("UPID::1:2", node, errmsg), -EINVAL);
	ck_assert_int_eq(ctm_task_id_node("UPID:node1", node, errmsg), -EINVAL);
	ck_assert_int_eq(ctm_task_id_node("UPID:../x:1:", node, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "invalid task id"));
}
END_TEST

/* ---- ctm_task_read ---- */

START_TEST(test_task_read_running)
{
	const char *id = "UPID:node1:00000001:00000002:ctmigrate:100:root:";
	char errmsg[256], *data = NULL;
	bool done = true;
	int status = -1;
	size_t len = 0;

	write_log(id, "line one\nline two\n");
	ck_assert_int_eq(ctm_task_read(id, 0, &data, &len, &done, &status, errmsg), 0);
	ck_assert_uint_eq(len, 18);
	ck_assert_str_eq(data, "line one\nline two\n");
	ck_assert(!done);
	free(data);
	ck_assert_int_eq(ctm_task_read(id, 9, &data, &len, &done, &status, errmsg), 0);
	ck_assert_str_eq(data, "line two\n");
	free(data);
}
END_TEST

START_TEST(test_task_read_ok)
{
	const char *id = "UPID:node1:00000001:00000003:ctmigrate:100:root:";
	char errmsg[256], *data = NULL;
	bool done = false;
	int status = -1;
	size_t len = 0;

	write_log(id, "step\nTASK OK\n");
	ck_assert_int_eq(ctm_task_read(id, 5, &data, &len, &done, &status, errmsg), 0);
	ck_assert_str_eq(data, "TASK OK\n");
	ck_assert(done);
	ck_assert_int_eq(status, 0);
	free(data);
	/* Past the end: nothing more, still done. */
	ck_assert_int_eq(ctm_task_read(id, 13, &data, &len, &done, &status, errmsg), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert(done);
	free(data);
}
END_TEST

START_TEST(test_task_read_error)
{
	const char *id = "UPID:node1:00000001:00000004:ctmigrate:100:root:";
	char errmsg[256], *data = NULL;
	bool done = false;
	int status = 0;
	size_t len = 0;

	write_log(id, "step\nTASK ERROR: CT 100 is running: add --restart\n");
	ck_assert_int_eq(ctm_task_read(id, 0, &data, &len, &done, &status, errmsg), 0);
	ck_assert(done);
	ck_assert_int_eq(status, 1);
	free(data);
}
END_TEST

START_TEST(test_task_read_final_line_incomplete)
{
	const char *id = "UPID:node1:00000001:00000005:ctmigrate:100:root:";
	char errmsg[256], *data = NULL;
	bool done = true;
	int status = 0;
	size_t len = 0;

	/* The final line counts only once its line break is written. */
	write_log(id, "step\nTASK OK");
	ck_assert_int_eq(ctm_task_read(id, 0, &data, &len, &done, &status, errmsg), 0);
	ck_assert(!done);
	free(data);
}
END_TEST

START_TEST(test_task_read_missing)
{
	char errmsg[256], *data = NULL;
	bool done = false;
	int status = 0;
	size_t len = 0;

	ck_assert_int_eq(ctm_task_read("UPID:node1:00000009:00000009:ctmigrate:100:root:", 0,
	                               &data, &len, &done, &status, errmsg),
	                 -ENOENT);
	ck_assert_ptr_null(data);
	ck_assert_int_eq(ctm_task_read("../etc/passwd", 0, &data, &len, &done, &status, errmsg),
	                 -EINVAL);
}
END_TEST

START_TEST(test_task_read_slices)
{
	const char *id = "UPID:node1:00000001:00000006:ctmigrate:100:root:";
	char errmsg[256], *data = NULL, *text;
	uint64_t offset = 0, total = 100000; /* lines of 100 bytes: three slices with the final line */
	bool done = false;
	int status = 0, slices = 0;
	size_t len = 0;

	text = malloc(total + 9);
	ck_assert_ptr_nonnull(text);
	memset(text, 'x', total);
	for (uint64_t i = 99; i < total; i += 100)
		text[i] = '\n';
	strcpy(text + total, "TASK OK\n");
	write_log(id, text);
	while (!done) {
		ck_assert_int_eq(ctm_task_read(id, offset, &data, &len, &done, &status, errmsg), 0);
		ck_assert_uint_le(len, CTM_TASK_SLICE);
		ck_assert_int_eq(memcmp(data, text + offset, len), 0);
		offset += len;
		free(data);
		ck_assert_int_lt(++slices, 5);
	}
	ck_assert_uint_eq(offset, total + 8);
	ck_assert_int_eq(slices, 3);
	free(text);
}
END_TEST

/* ---- ctm_migrate_parse ---- */

START_TEST(test_migrate_parse_full)
{
	struct ctm_migrate_params p;
	char errmsg[256];

	ck_assert_int_eq(ctm_migrate_parse("migrate 9950 node2 1 5", &p, errmsg), 0);
	ck_assert_uint_eq(p.ctid, 9950);
	ck_assert_str_eq(p.target, "node2");
	ck_assert(p.restart);
	ck_assert_uint_eq(p.timeout, 5);
}
END_TEST

START_TEST(test_migrate_parse_defaults)
{
	struct ctm_migrate_params p;
	char errmsg[256];

	ck_assert_int_eq(ctm_migrate_parse("migrate 100 node3", &p, errmsg), 0);
	ck_assert(!p.restart);
	ck_assert_uint_eq(p.timeout, CTM_MIGRATE_TIMEOUT);
}
END_TEST

START_TEST(test_migrate_parse_invalid)
{
	struct ctm_migrate_params p;
	char errmsg[256];

	ck_assert_int_eq(ctm_migrate_parse("migrate 99 node2", &p, errmsg), -EINVAL);
	ck_assert_int_eq(ctm_migrate_parse("migrate 100", &p, errmsg), -EINVAL);
	ck_assert_int_eq(ctm_migrate_parse("start 100 node2", &p, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "expected migrate CTID TARGET"));
}
END_TEST

static Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc;

	tc = tcase_create("ctm_task_id");
	tcase_add_test(tc, test_task_id_format);
	tcase_add_test(tc, test_task_id_node_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_task_read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_task_read_running);
	tcase_add_test(tc, test_task_read_ok);
	tcase_add_test(tc, test_task_read_error);
	tcase_add_test(tc, test_task_read_final_line_incomplete);
	tcase_add_test(tc, test_task_read_missing);
	tcase_add_test(tc, test_task_read_slices);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_migrate_parse");
	tcase_add_test(tc, test_migrate_parse_full);
	tcase_add_test(tc, test_migrate_parse_defaults);
	tcase_add_test(tc, test_migrate_parse_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(migrate_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
