/*
 * Tests of the container lock property (lock/ctlock.h) and ctlockctl
 * against a real `pmxfs --local` daemon. Each test uses its own CTIDs,
 * so all share one daemon.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lock/ctlock.h"
#include "tests/lock_daemon.h"

static struct lock_daemon daemon_ = {.pid = -1};

static void daemon_setup(void)
{
	struct pfs_conn *conn = NULL;

	ck_assert_int_eq(lock_daemon_start(&daemon_), 0);
	ck_assert_int_eq(pfs_connect(NULL, &conn), 0);
	ck_assert_int_eq(pfs_mkdir(conn, "/nodes/node2", NULL), 0);
	ck_assert_int_eq(pfs_mkdir(conn, "/nodes/node2/lxc", NULL), 0);
	pfs_disconnect(conn);
}

static void daemon_teardown(void)
{
	lock_daemon_stop(&daemon_);
}

static struct pfs_conn *connect_or_fail(void)
{
	struct pfs_conn *conn = NULL;

	ck_assert_int_eq(pfs_connect(NULL, &conn), 0);
	return conn;
}

/* Create the config of CTID on NODE with EXTRA lines appended. */
static void create_ct(struct pfs_conn *conn, const char *node, unsigned ctid, const char *extra)
{
	char path[128], text[1024];
	int n;

	snprintf(path, sizeof(path), "/nodes/%s/lxc/%u.conf", node, ctid);
	n = snprintf(text, sizeof(text),
		     "arch: amd64\nhostname: ct%u\nmemory: 512\nostype: debian\n"
		     "rootfs: local:%u/vm-%u-disk-0.raw,size=8G\n%s",
		     ctid, ctid, ctid, extra);
	ck_assert_int_eq(pfs_create(conn, path, text, (size_t)n, NULL, NULL), 0);
}

/* The config text of CTID on NODE (caller frees). */
static char *read_ct(struct pfs_conn *conn, const char *node, unsigned ctid, uint64_t *version)
{
	struct pfs_entry st;
	char path[128], *text = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "/nodes/%s/lxc/%u.conf", node, ctid);
	ck_assert_int_eq(pfs_get(conn, path, &text, &len, &st), 0);
	if (version)
		*version = st.version;
	return text;
}

START_TEST(test_ctlock_every_value)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "", expected[64], *text;
	struct ctlock_state state;
	size_t i;

	create_ct(conn, "node1", 101, "");
	for (i = 0; ctlock_values[i]; i++) {
		const char *value = ctlock_values[i];

		ck_assert_int_eq(ctlock_set(conn, 101, value, NULL, &state, errmsg), 0);
		ck_assert_str_eq(state.value, value);
		ck_assert_str_eq(state.path, "/nodes/node1/lxc/101.conf");

		ck_assert_int_eq(ctlock_check(conn, 101, errmsg), -EBUSY);
		snprintf(expected, sizeof(expected), "CT is locked (%s)", value);
		ck_assert_str_eq(errmsg, expected);
		text = read_ct(conn, "node1", 101, NULL);
		snprintf(expected, sizeof(expected), "\nlock: %s\n", value);
		ck_assert_ptr_nonnull(strstr(text, expected));
		ck_assert_ptr_nonnull(strstr(text, "memory: 512\n"));
		free(text);

		ck_assert_int_eq(ctlock_clear(conn, 101, value, &state, errmsg), 0);
		ck_assert_str_eq(state.value, "");
		ck_assert_int_eq(ctlock_check(conn, 101, errmsg), 0);
		text = read_ct(conn, "node1", 101, NULL);
		ck_assert_ptr_null(strstr(text, "lock:"));
		free(text);
	}
	ck_assert_uint_eq(i, 10);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_ctlock_invalid_value)
{
	static const char *const invalid[] = {"", "foo", "Migrate", "migrate ", "snapshot_delete"};
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	uint64_t before, after;
	size_t i;

	create_ct(conn, "node1", 102, "");
	free(read_ct(conn, "node1", 102, &before));
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		ck_assert(!ctlock_value_valid(invalid[i]));
		ck_assert_int_eq(ctlock_set(conn, 102, invalid[i], NULL, NULL, errmsg), -EINVAL);
		ck_assert_int_eq(ctlock_set(conn, 102, "backup", invalid[i], NULL, errmsg), -EINVAL);
		ck_assert_int_eq(ctlock_clear(conn, 102, invalid[i], NULL, errmsg), -EINVAL);
	}
	ck_assert_int_eq(ctlock_set(conn, 102, "foo", NULL, NULL, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "invalid lock value 'foo': use backup, create, destroyed, disk, "
				 "fstrim, migrate, mounted, rollback, snapshot or snapshot-delete");
	ck_assert_int_eq(ctlock_set(conn, 102, NULL, NULL, NULL, errmsg), -EINVAL);
	free(read_ct(conn, "node1", 102, &after));
	ck_assert_uint_eq(after, before);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_ctlock_set_when_locked)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct ctlock_state state;

	create_ct(conn, "node1", 103, "");
	ck_assert_int_eq(ctlock_set(conn, 103, "migrate", NULL, NULL, errmsg), 0);
	ck_assert_int_eq(ctlock_set(conn, 103, "backup", NULL, NULL, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, "CT is locked (migrate)");
	ck_assert_int_eq(ctlock_set(conn, 103, "migrate", NULL, NULL, errmsg), -EBUSY);

	/* Replacing a lock needs the current one as the expected value. */
	ck_assert_int_eq(ctlock_set(conn, 103, "backup", "migrate", &state, errmsg), 0);
	ck_assert_str_eq(state.value, "backup");
	ck_assert_int_eq(ctlock_get(conn, 103, &state, errmsg), 0);
	ck_assert_str_eq(state.value, "backup");
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_ctlock_wrong_expected)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct ctlock_state state;

	create_ct(conn, "node1", 104, "");
	ck_assert_int_eq(ctlock_set(conn, 104, "snapshot", "migrate", NULL, errmsg), -ENOLCK);
	ck_assert_str_eq(errmsg, "CT 104 has no lock, expected lock 'migrate'");
	ck_assert_int_eq(ctlock_clear(conn, 104, "migrate", NULL, errmsg), -ENOLCK);

	ck_assert_int_eq(ctlock_set(conn, 104, "disk", NULL, NULL, errmsg), 0);
	ck_assert_int_eq(ctlock_set(conn, 104, "snapshot", "backup", NULL, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, "CT 104 has lock 'disk', expected lock 'backup'");
	ck_assert_int_eq(ctlock_clear(conn, 104, "migrate", NULL, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, "CT 104 has lock 'disk', expected lock 'migrate'");

	ck_assert_int_eq(ctlock_get(conn, 104, &state, errmsg), 0);
	ck_assert_str_eq(state.value, "disk");
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_ctlock_unlock_none)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	uint64_t before, after;

	create_ct(conn, "node1", 105, "");
	free(read_ct(conn, "node1", 105, &before));
	ck_assert_int_eq(ctlock_clear(conn, 105, NULL, NULL, errmsg), -ENOLCK);
	ck_assert_str_eq(errmsg, "no lock found trying to remove any lock");
	free(read_ct(conn, "node1", 105, &after));
	ck_assert_uint_eq(after, before);

	ck_assert_int_eq(ctlock_set(conn, 105, "mounted", NULL, NULL, errmsg), 0);
	ck_assert_int_eq(ctlock_clear(conn, 105, NULL, NULL, errmsg), 0);
	ck_assert_int_eq(ctlock_check(conn, 105, errmsg), 0);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_ctlock_missing_ctid)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct ctlock_state state;
	const char *vm = "memory: 512\n";

	ck_assert_int_eq(ctlock_get(conn, 9999, &state, errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "CT 9999 does not exist");
	ck_assert_int_eq(ctlock_check(conn, 9999, errmsg), -ENOENT);
	ck_assert_int_eq(ctlock_set(conn, 9999, "migrate", NULL, NULL, errmsg), -ENOENT);
	ck_assert_int_eq(ctlock_clear(conn, 9999, NULL, NULL, errmsg), -ENOENT);

	/* A VM's config is no container config. */
	ck_assert_int_eq(pfs_create(conn, "/nodes/node1/qemu-server/300.conf", vm, strlen(vm), NULL,
				    NULL),
			 0);
	ck_assert_int_eq(ctlock_set(conn, 300, "backup", NULL, NULL, errmsg), -ENOENT);

	ck_assert_int_eq(ctlock_check(conn, 99, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "invalid CTID 99: use 100 to 999999999");
	ck_assert_int_eq(ctlock_check(conn, 1000000000, errmsg), -EINVAL);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_ctlock_other_node)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "", *text;
	struct ctlock_state state;

	create_ct(conn, "node2", 201, "");
	ck_assert_int_eq(ctlock_set(conn, 201, "migrate", NULL, &state, errmsg), 0);
	ck_assert_str_eq(state.node, "node2");
	ck_assert_str_eq(state.path, "/nodes/node2/lxc/201.conf");
	text = read_ct(conn, "node2", 201, NULL);
	ck_assert_ptr_nonnull(strstr(text, "lock: migrate\n"));
	free(text);
	ck_assert_int_eq(ctlock_check(conn, 201, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, "CT is locked (migrate)");

	/* The config moves to node1 with its lock, as a migration does. */
	ck_assert_int_eq(pfs_rename(conn, "/nodes/node2/lxc/201.conf", "/nodes/node1/lxc/201.conf",
				    NULL),
			 0);
	ck_assert_int_eq(ctlock_clear(conn, 201, NULL, &state, errmsg), 0);
	ck_assert_str_eq(state.node, "node1");
	ck_assert_int_eq(ctlock_check(conn, 201, errmsg), 0);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_ctlock_unknown_value_in_file)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct ctlock_state state;

	create_ct(conn, "node1", 106, "lock: weird\n");
	ck_assert_int_eq(ctlock_get(conn, 106, &state, errmsg), 0);
	ck_assert_str_eq(state.raw, "weird");
	ck_assert_str_eq(state.value, "");
	ck_assert_int_eq(ctlock_check(conn, 106, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, "CT is locked (weird)");
	ck_assert_int_eq(ctlock_set(conn, 106, "backup", NULL, NULL, errmsg), -EBUSY);
	ck_assert_int_eq(ctlock_clear(conn, 106, NULL, NULL, errmsg), 0);
	ck_assert_int_eq(ctlock_check(conn, 106, errmsg), 0);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_ctlock_keeps_other_content)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "", *text;

	create_ct(conn, "node1", 107,
		  "#notes%3A here\nparent: snap1\n\n[snap1]\narch: amd64\nhostname: old\n"
		  "memory: 256\nostype: debian\nrootfs: local:107/vm-107-disk-0.raw,size=8G\n"
		  "snaptime: 1700000000\n");
	ck_assert_int_eq(ctlock_set(conn, 107, "backup", NULL, NULL, errmsg), 0);
	ck_assert_int_eq(ctlock_clear(conn, 107, "backup", NULL, errmsg), 0);
	text = read_ct(conn, "node1", 107, NULL);
	ck_assert_ptr_nonnull(strstr(text, "#notes%3A here\n"));
	ck_assert_ptr_nonnull(strstr(text, "parent: snap1\n"));
	ck_assert_ptr_nonnull(strstr(text, "[snap1]\n"));
	ck_assert_ptr_nonnull(strstr(text, "hostname: old\n"));
	ck_assert_ptr_nonnull(strstr(text, "snaptime: 1700000000\n"));
	ck_assert_ptr_null(strstr(text, "lock:"));
	free(text);
	pfs_disconnect(conn);
}
END_TEST

/* Another writer that changes `memory` by compare-and-swap while the test
 * sets and clears the lock: neither may undo the other's change. */
struct changer {
	pthread_t thread;
	int rounds;
	int conflicts;
	int rv;
};

static int change_memory(struct pfs_conn *conn, int memory, int *conflicts)
{
	struct pfs_cond cond = {.has_version = 1};
	struct conf_file *cf = NULL;
	char *text, *out = NULL, value[16];
	size_t len = 0;
	int rv;

	/* No ck_assert here: it runs in a second thread. */
	for (;;) {
		struct pfs_entry st;

		rv = pfs_get(conn, "/nodes/node1/lxc/108.conf", &text, &len, &st);
		if (rv < 0)
			return rv;
		cond.version = st.version;
		rv = conf_parse(text, len, NULL, &cf);
		free(text);
		if (rv < 0)
			return rv;
		snprintf(value, sizeof(value), "%d", memory);
		rv = conf_set(conf_main(cf), "memory", value);
		if (rv == 0)
			rv = conf_write(cf, &out, &len, NULL);
		conf_file_free(cf);
		cf = NULL;
		if (rv < 0)
			return rv;
		rv = pfs_write(conn, "/nodes/node1/lxc/108.conf", out, len, &cond, NULL);
		free(out);
		out = NULL;
		if (rv != -ESTALE)
			return rv;
		(*conflicts)++;
	}
}

static void *change_memory_thread(void *arg)
{
	struct changer *c = arg;
	struct pfs_conn *conn = NULL;
	int i;

	c->rv = pfs_connect(NULL, &conn);
	for (i = 1; c->rv == 0 && i <= c->rounds; i++) {
		c->rv = change_memory(conn, 1000 + i, &c->conflicts);
		usleep(2000); /* leave the lock changes a chance to win */
	}
	pfs_disconnect(conn);
	return NULL;
}

START_TEST(test_ctlock_config_changed)
{
	struct changer c = {.rounds = 60};
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "", *text;
	struct ctlock_state state, before;
	int set_rv = 0, get_rv = 0, clear_rv = 0, i;
	uint64_t version;

	create_ct(conn, "node1", 108, "");

	/* A change after the caller's read is seen: the caller's version is
	 * old, and the write keeps the other change. */
	ck_assert_int_eq(ctlock_get(conn, 108, &before, errmsg), 0);
	ck_assert_int_eq(change_memory(conn, 777, &i), 0);
	ck_assert_int_eq(ctlock_set(conn, 108, "fstrim", NULL, &state, errmsg), 0);
	ck_assert_uint_gt(state.version, before.version);
	text = read_ct(conn, "node1", 108, &version);
	ck_assert_ptr_nonnull(strstr(text, "memory: 777\n"));
	ck_assert_ptr_nonnull(strstr(text, "lock: fstrim\n"));
	ck_assert_uint_eq(version, state.version);
	free(text);
	ck_assert_int_eq(ctlock_clear(conn, 108, "fstrim", NULL, errmsg), 0);

	/* A lock set by someone else after the caller's read wins. */
	ck_assert_int_eq(ctlock_get(conn, 108, &before, errmsg), 0);
	ck_assert_str_eq(before.raw, "");
	ck_assert_int_eq(ctlock_set(conn, 108, "backup", NULL, NULL, errmsg), 0);
	ck_assert_int_eq(ctlock_set(conn, 108, "rollback", NULL, NULL, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, "CT is locked (backup)");
	ck_assert_int_eq(ctlock_clear(conn, 108, "backup", NULL, errmsg), 0);

	/* Concurrent changes: every lock change and every memory change lands. */
	ck_assert_int_eq(pthread_create(&c.thread, NULL, change_memory_thread, &c), 0);
	for (i = 0; i < 20 && set_rv == 0 && get_rv == 0 && clear_rv == 0; i++) {
		set_rv = ctlock_set(conn, 108, "snapshot", NULL, &state, errmsg);
		if (set_rv == 0)
			get_rv = ctlock_get(conn, 108, &state, errmsg);
		if (get_rv == 0 && strcmp(state.value, "snapshot") != 0)
			get_rv = -EPROTO;
		if (set_rv == 0 && get_rv == 0)
			clear_rv = ctlock_clear(conn, 108, "snapshot", &state, errmsg);
	}
	pthread_join(c.thread, NULL);
	ck_assert_int_eq(set_rv, 0);
	ck_assert_int_eq(get_rv, 0);
	ck_assert_int_eq(clear_rv, 0);
	ck_assert_int_eq(c.rv, 0);
	text = read_ct(conn, "node1", 108, NULL);
	ck_assert_ptr_nonnull(strstr(text, "memory: 1060\n"));
	ck_assert_ptr_null(strstr(text, "lock:"));
	free(text);
	pfs_disconnect(conn);
}
END_TEST

/* Run ctlockctl with ARGS; its stdout and stderr go to OUT and ERR
 * (NUL-terminated, at most 511 bytes). Returns the exit status. */
static int run_cli(const char *const *args, char out[512], char err[512])
{
	char program[4096], out_path[128], err_path[128];
	const char *argv[16];
	int status, fd, i;
	ssize_t n;
	pid_t pid;

	snprintf(program, sizeof(program), "%s/lock/ctlockctl", getenv("BUILD_DIR"));
	snprintf(out_path, sizeof(out_path), "%s/cli.out", daemon_.dir);
	snprintf(err_path, sizeof(err_path), "%s/cli.err", daemon_.dir);
	argv[0] = program;
	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, STDOUT_FILENO);
		fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, STDERR_FILENO);
		execv(program, (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);

	fd = open(out_path, O_RDONLY);
	n = fd >= 0 ? read(fd, out, 511) : 0;
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	fd = open(err_path, O_RDONLY);
	n = fd >= 0 ? read(fd, err, 511) : 0;
	err[n > 0 ? n : 0] = '\0';
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(test_ctlockctl_commands)
{
	struct pfs_conn *conn = connect_or_fail();
	char out[512], err[512], expected[512];
	uint64_t version;

	create_ct(conn, "node2", 202, "");
	ck_assert_int_eq(run_cli((const char *[]){"check", "202", NULL}, out, err), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(run_cli((const char *[]){"set", "202", "migrate", NULL}, out, err), 0);
	ck_assert_int_eq(run_cli((const char *[]){"check", "202", NULL}, out, err), 4);
	ck_assert_str_eq(err, "ctlockctl: CT is locked (migrate)\n");

	free(read_ct(conn, "node2", 202, &version));
	ck_assert_int_eq(run_cli((const char *[]){"--json", "check", "202", NULL}, out, err), 4);
	snprintf(expected, sizeof(expected),
		 "{\"ctid\":202,\"node\":\"node2\",\"path\":\"/nodes/node2/lxc/202.conf\","
		 "\"version\":%" PRIu64 ",\"lock\":\"migrate\"}\n",
		 version);
	ck_assert_str_eq(out, expected);

	ck_assert_int_eq(run_cli((const char *[]){"set", "202", "backup", NULL}, out, err), 4);
	ck_assert_int_eq(run_cli((const char *[]){"clear", "202", "--expect", "backup", NULL}, out,
				 err),
			 4);
	ck_assert_int_eq(run_cli((const char *[]){"set", "202", "backup", "--expect", "migrate",
						  NULL},
				 out, err),
			 0);
	ck_assert_int_eq(run_cli((const char *[]){"--output-format", "json", "clear", "202", NULL},
				 out, err),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "\"lock\":null}"));
	ck_assert_int_eq(run_cli((const char *[]){"clear", "202", NULL}, out, err), 4);
	ck_assert_str_eq(err, "ctlockctl: no lock found trying to remove any lock\n");

	ck_assert_int_eq(run_cli((const char *[]){"check", "9999", NULL}, out, err), 3);
	ck_assert_str_eq(err, "ctlockctl: CT 9999 does not exist\n");
	ck_assert_int_eq(run_cli((const char *[]){"set", "202", "foo", NULL}, out, err), 2);
	ck_assert_int_eq(run_cli((const char *[]){"set", "202", "backup", "--expect-none",
						  "--expect", "disk", NULL},
				 out, err),
			 2);
	ck_assert_int_eq(run_cli((const char *[]){"check", "0100", NULL}, out, err), 2);
	ck_assert_int_eq(run_cli((const char *[]){"frobnicate", "202", NULL}, out, err), 2);
	pfs_disconnect(conn);
}
END_TEST

static Suite *ctlock_suite(void)
{
	Suite *s = suite_create("ctlock");
	TCase *tc = tcase_create("ctlock");

	tcase_add_unchecked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ctlock_every_value);
	tcase_add_test(tc, test_ctlock_invalid_value);
	tcase_add_test(tc, test_ctlock_set_when_locked);
	tcase_add_test(tc, test_ctlock_wrong_expected);
	tcase_add_test(tc, test_ctlock_unlock_none);
	tcase_add_test(tc, test_ctlock_missing_ctid);
	tcase_add_test(tc, test_ctlock_other_node);
	tcase_add_test(tc, test_ctlock_unknown_value_in_file);
	tcase_add_test(tc, test_ctlock_keeps_other_content);
	tcase_add_test(tc, test_ctlock_config_changed);
	tcase_add_test(tc, test_ctlockctl_commands);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (!lock_daemon_program()) {
		printf("1..0 # SKIP pmxfs not found: set BUILD_DIR to the build folder\n");
		return EXIT_SUCCESS;
	}
	sr = srunner_create(ctlock_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
