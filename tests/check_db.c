/* Unit tests of pfs_db: commit, reload, a kill between stage and commit,
 * failed commits and the generation history. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmxfs/db.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_db.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.db", dir);
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void apply(struct pfs_tree *tree, enum pfs_msg_type type, const char *p, const char *p2,
		  const char *data)
{
	struct pfs_msg m = {0};
	struct pfs_apply_result res;

	m.type = type;
	m.writer = 3;
	m.mtime = 1234;
	m.path = p;
	m.path2 = p2;
	m.data = data;
	m.data_len = data ? (uint32_t)strlen(data) : 0;
	ck_assert_int_eq(pfs_tree_apply(tree, &m, &res), 0);
}

/* Open, load, apply one round of changes and commit it. */
static int commit_round(const char *db_path, pfs_db_commit_hook hook)
{
	char errmsg[PFS_ERRMSG_SIZE];
	struct pfs_tree *tree;
	struct pfs_db *db;
	int rv;

	ck_assert_int_eq(pfs_db_open(db_path, &db, errmsg), 0);
	ck_assert_int_eq(pfs_db_load(db, &tree, errmsg), 0);
	pfs_db_set_commit_hook(db, hook, NULL);
	pfs_tree_round_begin(tree);
	apply(tree, PFS_MSG_MKDIR, "/d", NULL, NULL);
	apply(tree, PFS_MSG_CREATE, "/d/f", NULL, "hello");
	apply(tree, PFS_MSG_CREATE, "/empty", NULL, "");
	rv = pfs_db_commit_round(db, tree, errmsg);
	pfs_tree_round_end(tree);
	pfs_tree_free(tree);
	pfs_db_close(db);
	return rv;
}

static int hook_kill(void *ctx)
{
	raise(SIGKILL);
	return 0;
}

static int hook_fail(void *ctx)
{
	return 1;
}

static struct pfs_tree *load(void)
{
	char errmsg[PFS_ERRMSG_SIZE];
	struct pfs_tree *tree;
	struct pfs_db *db;

	ck_assert_int_eq(pfs_db_open(path, &db, errmsg), 0);
	ck_assert_int_eq(pfs_db_load(db, &tree, errmsg), 0);
	pfs_db_close(db);
	return tree;
}

START_TEST(test_pfs_db_commit_round_reload)
{
	struct pfs_tree *tree;
	struct pfs_stat st;
	const char *data;
	char d1[65], d2[65];

	ck_assert_int_eq(commit_round(path, NULL), 0);
	tree = load();
	ck_assert_uint_eq(pfs_tree_version(tree), 3);
	ck_assert_int_eq(pfs_tree_read(tree, "/d/f", &data, &st), 0);
	ck_assert_str_eq(data, "hello");
	ck_assert_uint_eq(st.inode, 2);
	ck_assert_uint_eq(st.writer, 3);
	ck_assert_uint_eq(st.mtime, 1234);
	ck_assert_int_eq(pfs_tree_read(tree, "/empty", &data, &st), 0);
	ck_assert_uint_eq(st.size, 0);

	/* Delete and rename in a second round; reload gives the same digest. */
	pfs_tree_digest(tree, d1);
	{
		char errmsg[PFS_ERRMSG_SIZE];
		struct pfs_db *db;

		ck_assert_int_eq(pfs_db_open(path, &db, errmsg), 0);
		pfs_tree_round_begin(tree);
		apply(tree, PFS_MSG_DELETE, "/empty", NULL, NULL);
		apply(tree, PFS_MSG_RENAME, "/d/f", "/g", NULL);
		ck_assert_int_eq(pfs_db_commit_round(db, tree, errmsg), 0);
		pfs_tree_round_end(tree);
		pfs_db_close(db);
	}
	pfs_tree_digest(tree, d1);
	pfs_tree_free(tree);
	tree = load();
	pfs_tree_digest(tree, d2);
	ck_assert_str_eq(d1, d2);
	ck_assert_int_eq(pfs_tree_stat(tree, "/empty", &st), -ENOENT);
	ck_assert_int_eq(pfs_tree_stat(tree, "/g", &st), 0);
	pfs_tree_free(tree);
}
END_TEST

START_TEST(test_pfs_db_load_parent_after_child)
{
	char errmsg[PFS_ERRMSG_SIZE];
	struct pfs_tree *tree;
	struct pfs_db *db;
	struct pfs_stat st;

	/* /a (inode 1) moves under /b (inode 2): the parent's inode is higher. */
	ck_assert_int_eq(pfs_db_open(path, &db, errmsg), 0);
	ck_assert_int_eq(pfs_db_load(db, &tree, errmsg), 0);
	pfs_tree_round_begin(tree);
	apply(tree, PFS_MSG_MKDIR, "/a", NULL, NULL);
	apply(tree, PFS_MSG_MKDIR, "/b", NULL, NULL);
	apply(tree, PFS_MSG_RENAME, "/a", "/b/a", NULL);
	ck_assert_int_eq(pfs_db_commit_round(db, tree, errmsg), 0);
	pfs_tree_round_end(tree);
	pfs_tree_free(tree);
	pfs_db_close(db);

	tree = load();
	ck_assert_int_eq(pfs_tree_stat(tree, "/b/a", &st), 0);
	ck_assert_uint_eq(st.inode, 1);
	ck_assert_uint_eq(st.parent, 2);
	pfs_tree_free(tree);
}
END_TEST

START_TEST(test_pfs_db_commit_round_killed)
{
	struct pfs_tree *tree;
	pid_t pid;
	int status;

	/* A child stages a round and is killed before COMMIT. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		commit_round(path, hook_kill);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);

	tree = load();
	ck_assert_uint_eq(pfs_tree_version(tree), 0);
	ck_assert_uint_eq(pfs_tree_entry_count(tree), 0);
	pfs_tree_free(tree);

	/* A child that commits and is then killed keeps its round. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		commit_round(path, NULL);
		raise(SIGKILL);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	tree = load();
	ck_assert_uint_eq(pfs_tree_version(tree), 3);
	ck_assert_uint_eq(pfs_tree_entry_count(tree), 3);
	pfs_tree_free(tree);
}
END_TEST

START_TEST(test_pfs_db_commit_round_failed)
{
	struct pfs_tree *tree;

	ck_assert_int_eq(commit_round(path, hook_fail), -EIO);
	tree = load();
	ck_assert_uint_eq(pfs_tree_version(tree), 0);
	pfs_tree_free(tree);
}
END_TEST

START_TEST(test_pfs_db_open_errors)
{
	char errmsg[PFS_ERRMSG_SIZE] = "";
	char bad[160];
	struct pfs_db *db;
	FILE *f;

	snprintf(bad, sizeof(bad), "%s/missing/config.db", dir);
	ck_assert_int_eq(pfs_db_open(bad, &db, errmsg), -EIO);
	ck_assert_str_ne(errmsg, "");

	/* A file that is not a database. */
	snprintf(bad, sizeof(bad), "%s/junk.db", dir);
	f = fopen(bad, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an sqlite database, just text that is long enough......\n", f);
	fclose(f);
	ck_assert_int_lt(pfs_db_open(bad, &db, errmsg), 0);
}
END_TEST

START_TEST(test_pfs_db_generations_history)
{
	char errmsg[PFS_ERRMSG_SIZE];
	struct pfs_generation *gens;
	struct pfs_db *db;
	size_t n;

	ck_assert_int_eq(pfs_db_open(path, &db, errmsg), 0);
	ck_assert_int_eq(pfs_db_generation_start(db, "local", 1, 1, errmsg), 0);
	pfs_db_close(db);
	ck_assert_int_eq(commit_round(path, NULL), 0);
	ck_assert_int_eq(pfs_db_open(path, &db, errmsg), 0);
	ck_assert_int_eq(pfs_db_generation_start(db, "local", 1, 4, errmsg), 0);
	ck_assert_int_eq(pfs_db_generations(db, &gens, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(gens[0].ring_id, "local");
	ck_assert_uint_eq(gens[0].first_version, 1);
	ck_assert_uint_eq(gens[0].last_version, 3);
	ck_assert_uint_eq(gens[1].first_version, 4);
	ck_assert_uint_eq(gens[1].last_version, 3);
	free(gens);
	pfs_db_close(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("pfs_db_commit_round");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_db_commit_round_reload);
	tcase_add_test(tc, test_pfs_db_commit_round_failed);
	tcase_add_test(tc, test_pfs_db_commit_round_killed);
	suite_add_tcase(s, tc);
	tc = tcase_create("pfs_db_load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_db_load_parent_after_child);
	suite_add_tcase(s, tc);
	tc = tcase_create("pfs_db_open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_db_open_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("pfs_db_generations");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_db_generations_history);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
