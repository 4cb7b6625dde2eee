/* Unit tests of the pure parts of migration (ctmgr/migrate.h): task ids,
 * reading task logs in slices, ending the logs of killed tasks and
 * parsing the agent's requests. The
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

#include "ctmgr/agent.h"
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

/* ---- ctm_task_end_orphan ---- */

static void read_back(const char *id, char *buf, size_t size)
{
	char path[PATH_MAX * 2];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, id);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* A task killed before its final line: the log ends with an error once
 * no process holds its lock, and only then. */
START_TEST(test_task_end_orphan)
{
	const char *id = "UPID:node1:00000001:00000010:ctmigrate:100:root:";
	char errmsg[256], text[512], *data = NULL;
	bool done = false;
	int fd, status = 0;
	size_t len = 0;

	fd = ctm_task_log_create(id);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "step one\n", 9), 9);
	/* The task holds the lock: it runs, its log stays open. */
	ck_assert_int_eq(ctm_task_end_orphan(id, errmsg), 0);
	read_back(id, text, sizeof(text));
	ck_assert_str_eq(text, "step one\n");
	close(fd);

	ck_assert_int_eq(ctm_task_end_orphan(id, errmsg), 1);
	read_back(id, text, sizeof(text));
	ck_assert_str_eq(text, "step one\nTASK ERROR: " CTM_TASK_ORPHANED "\n");
	ck_assert_int_eq(ctm_task_read(id, 0, &data, &len, &done, &status, errmsg), 0);
	ck_assert(done);
	ck_assert_int_eq(status, 1);
	free(data);
	/* Ended once only. */
	ck_assert_int_eq(ctm_task_end_orphan(id, errmsg), 0);
}
END_TEST

START_TEST(test_task_end_orphan_keeps_final_line)
{
	const char *ok_id = "UPID:node1:00000001:00000011:ctmigrate:100:root:";
	const char *cut_id = "UPID:node1:00000001:00000012:ctmigrate:100:root:";
	char errmsg[256], text[512];
	unsigned ended = 0;

	write_log(ok_id, "step\nTASK OK\n");
	write_log(cut_id, "step\nhalf a li");
	ck_assert_int_eq(ctm_task_end_orphans(&ended, errmsg), 0);
	ck_assert_uint_eq(ended, 1);
	read_back(ok_id, text, sizeof(text));
	ck_assert_str_eq(text, "step\nTASK OK\n");
	/* A line cut by the kill gets its line break before the final line. */
	read_back(cut_id, text, sizeof(text));
	ck_assert_str_eq(text, "step\nhalf a li\nTASK ERROR: " CTM_TASK_ORPHANED "\n");
	ck_assert_int_eq(ctm_task_end_orphan("UPID:node1:1:2:x", errmsg), -ENOENT);
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

START_TEST(test_migrate_parse_strict)
{
	static const char *bad[] = {
		"migrate 100 node2 1 5 junk", "migrate 100 node2 1x", "migrate 100x node2",
		"migrate 100 node2 2", "migrate +100 node2", "migrate 0100 node2",
		"migrate -1 node2", "migrate 4294967396 node2", "migrate 1000000000 node2",
		"migrate 100 node2 1 4294967296", "migrate 100  node2", " migrate 100 node2",
		"migrate 100 node2 ", "migrate 100 node2\n", "migrate 100 node2\t1",
		"migrate 100 ../node2", "migrate 100 .node2", "",
	};
	struct ctm_migrate_params p;
	char errmsg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errmsg[0] = '\0';
		ck_assert_msg(ctm_migrate_parse(bad[i], &p, errmsg) == -EINVAL, "accepted '%s'",
		              bad[i]);
		ck_assert_msg(errmsg[0] != '\0', "no message for '%s'", bad[i]);
	}
	ck_assert_int_eq(ctm_migrate_parse("migrate 100 node2 1 4294967295", &p, errmsg), 0);
	ck_assert_uint_eq(p.timeout, 4294967295u);
	ck_assert_int_eq(ctm_migrate_parse("migrate 100 node2 1 2x", &p, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "invalid timeout '2x': use a number from 1 to 4294967295");
	/* 0 s would copy a container that is still shutting down. */
	ck_assert_int_eq(ctm_migrate_parse("migrate 100 node2 1 0", &p, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "invalid timeout '0': use a number from 1 to 4294967295");
}
END_TEST

/* ---- ctm_migrate_parse_expect ---- */

START_TEST(test_migrate_parse_expect_valid)
{
	struct ctm_migrate_expect e;
	char errmsg[256];

	ck_assert_int_eq(ctm_migrate_parse_expect("expect 9950 6b1-42-0 local", &e, errmsg), 0);
	ck_assert_uint_eq(e.ctid, 9950);
	ck_assert_str_eq(e.token, "6b1-42-0");
	ck_assert_str_eq(e.storage, "local");
}
END_TEST

START_TEST(test_migrate_parse_expect_invalid)
{
	static const char *bad[] = {
		"expect 9950 tok", "expect 9950 tok local x", "expect 9950 .tok local",
		"expect 9950 to/k local", "expect 9950 tok lo/cal", "expect 9950 tok .local",
		"expect 99 tok local", "expect 9950x tok local", "abort 9950 tok local",
		"expect 9950 tok local ",
		"expect 9950 tok aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"expect 9950 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa local",
	};
	struct ctm_migrate_expect e;
	char errmsg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ctm_migrate_parse_expect(bad[i], &e, errmsg) == -EINVAL,
		              "accepted '%s'", bad[i]);
	ck_assert_int_eq(ctm_migrate_parse_expect("expect 9950 tok lo/cal", &e, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "invalid storage id 'lo/cal'"));
}
END_TEST

/* ---- ctm_migrate_parse_volume ---- */

START_TEST(test_migrate_parse_volume_valid)
{
	char errmsg[256], storage[64], volume[CTM_XFER_VOLUME_MAX + 1];
	unsigned ctid = 0;

	ck_assert_int_eq(ctm_migrate_parse_volume("place 100 local images/100/migrate-t1", "place",
	                                          &ctid, storage, volume, errmsg),
	                 0);
	ck_assert_uint_eq(ctid, 100);
	ck_assert_str_eq(storage, "local");
	ck_assert_str_eq(volume, "images/100/migrate-t1");
}
END_TEST

START_TEST(test_migrate_parse_volume_invalid)
{
	static const char *bad[] = {
		"abort 100 local images/../etc", "abort 100 local /images/100/x",
		"abort 100 local images//100", "abort 100 local", "abort 100 local a b",
		"place 100 local images/100/x", "abort 99 local images/99/x",
	};
	char errmsg[256], storage[64], volume[CTM_XFER_VOLUME_MAX + 1];
	unsigned ctid = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ctm_migrate_parse_volume(bad[i], "abort", &ctid, storage, volume,
		                                       errmsg) == -EINVAL,
		              "accepted '%s'", bad[i]);
}
END_TEST

/* ---- ctm_migrate_parse_tasklog ---- */

START_TEST(test_migrate_parse_tasklog_valid)
{
	char errmsg[256], id[CTM_TASK_ID_SIZE];
	uint64_t offset = 0;

	ck_assert_int_eq(ctm_migrate_parse_tasklog(
	                     "tasklog UPID:node1:00001ADD:6B137E09:ctmigrate:9953:root: 4096", id,
	                     &offset, errmsg),
	                 0);
	ck_assert_str_eq(id, "UPID:node1:00001ADD:6B137E09:ctmigrate:9953:root:");
	ck_assert_uint_eq(offset, 4096);
}
END_TEST

START_TEST(test_migrate_parse_tasklog_invalid)
{
	static const char *bad[] = {
		"tasklog UPID:node1:1:2:x: -1", "tasklog UPID:node1:1:2:x: 18446744073709551616",
		"tasklog UPID:node1:1:2:x: 9223372036854775808", "tasklog UPID:node1:1:2:x:",
		"tasklog node1 0", "tasklog UPID:a/b:1 0", "tasklog UPID:node1:1:2:x: 0 0",
	};
	char errmsg[256], id[CTM_TASK_ID_SIZE];
	uint64_t offset = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ctm_migrate_parse_tasklog(bad[i], id, &offset, errmsg) == -EINVAL,
		              "accepted '%s'", bad[i]);
}
END_TEST

/* ---- ctm_agent_parse ---- */

START_TEST(test_agent_parse_valid)
{
	struct ctm_agent_request r;
	char errmsg[256];

	ck_assert_int_eq(ctm_agent_parse("shutdown 101 30 1", &r, errmsg), 0);
	ck_assert_str_eq(r.verb, "shutdown");
	ck_assert_uint_eq(r.ctid, 101);
	ck_assert_uint_eq(r.timeout, 30);
	ck_assert(r.force);
	ck_assert_int_eq(ctm_agent_parse("status 999999999", &r, errmsg), 0);
	ck_assert_uint_eq(r.timeout, 60);
	ck_assert(!r.force);
}
END_TEST

START_TEST(test_agent_parse_invalid)
{
	static const char *bad[] = {
		"start", "start 99", "start 101 junk", "shutdown 101 30 2", "stop 101 1 0 0",
		"start 4294967397", "reboot 101", "start 101\n", "start  101", "start 0x65",
	};
	struct ctm_agent_request r;
	char errmsg[256], longline[CTM_AGENT_REQUEST_MAX + 8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ctm_agent_parse(bad[i], &r, errmsg) == -EINVAL, "accepted '%s'",
		              bad[i]);
	memset(longline, '1', sizeof(longline) - 1);
	memcpy(longline, "start ", 6);
	longline[sizeof(longline) - 1] = '\0';
	ck_assert_int_eq(ctm_agent_parse(longline, &r, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "longer than 1023 bytes"));
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

	tc = tcase_create("ctm_task_end_orphan");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_task_end_orphan);
	tcase_add_test(tc, test_task_end_orphan_keeps_final_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_migrate_parse");
	tcase_add_test(tc, test_migrate_parse_full);
	tcase_add_test(tc, test_migrate_parse_defaults);
	tcase_add_test(tc, test_migrate_parse_invalid);
	tcase_add_test(tc, test_migrate_parse_strict);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_migrate_parse_expect");
	tcase_add_test(tc, test_migrate_parse_expect_valid);
	tcase_add_test(tc, test_migrate_parse_expect_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_migrate_parse_volume");
	tcase_add_test(tc, test_migrate_parse_volume_valid);
	tcase_add_test(tc, test_migrate_parse_volume_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_migrate_parse_tasklog");
	tcase_add_test(tc, test_migrate_parse_tasklog_valid);
	tcase_add_test(tc, test_migrate_parse_tasklog_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_agent_parse");
	tcase_add_test(tc, test_agent_parse_valid);
	tcase_add_test(tc, test_agent_parse_invalid);
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
