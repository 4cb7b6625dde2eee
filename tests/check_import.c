/* Unit tests of pfs_import: a pmxcfs database built here with the same
 * `tree` schema is read into paths in creation order. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "pmxfs/import.h"

static char dir[64];
static char path[128];

/* The pmxcfs schema, as its database.c creates it. */
static const char schema[] =
	"CREATE TABLE tree (inode INTEGER PRIMARY KEY NOT NULL, parent INTEGER NOT NULL"
	" CHECK(typeof(parent)=='integer'), version INTEGER NOT NULL"
	" CHECK(typeof(version)=='integer'), writer INTEGER NOT NULL"
	" CHECK(typeof(writer)=='integer'), mtime INTEGER NOT NULL"
	" CHECK(typeof(mtime)=='integer'), type INTEGER NOT NULL"
	" CHECK(typeof(type)=='integer'), name TEXT NOT NULL, data BLOB);";

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_import.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.db", dir);
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void make_db(const char *rows)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, schema, NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

START_TEST(test_pfs_import_read_order)
{
	struct pfs_import_entry *list;
	char errmsg[256];
	size_t n;

	/* Parents with higher inodes than their children, as after renames. */
	make_db("INSERT INTO tree VALUES (0, 0, 9, 0, 0, 8, '__version__', NULL);"
		"INSERT INTO tree VALUES (5, 0, 5, 1, 0, 4, 'nodes', NULL);"
		"INSERT INTO tree VALUES (3, 5, 6, 1, 0, 4, 'pve1', NULL);"
		"INSERT INTO tree VALUES (7, 3, 7, 1, 0, 4, 'lxc', NULL);"
		"INSERT INTO tree VALUES (1, 7, 8, 1, 0, 8, '100.conf', 'arch: amd64');"
		"INSERT INTO tree VALUES (2, 0, 2, 1, 0, 8, 'storage.cfg', 'dir: local');"
		"INSERT INTO tree VALUES (4, 0, 4, 1, 0, 8, 'empty', NULL);");
	ck_assert_int_eq(pfs_import_read(path, &list, &n, errmsg, sizeof(errmsg)), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(list[0].path, "/empty");
	ck_assert_str_eq(list[1].path, "/nodes");
	ck_assert_int_eq(list[1].is_dir, 1);
	ck_assert_str_eq(list[2].path, "/storage.cfg");
	ck_assert_str_eq(list[2].data, "dir: local");
	ck_assert_uint_eq(list[2].size, 10);
	ck_assert_str_eq(list[3].path, "/nodes/pve1");
	ck_assert_str_eq(list[4].path, "/nodes/pve1/lxc");
	ck_assert_str_eq(list[5].path, "/nodes/pve1/lxc/100.conf");
	ck_assert_str_eq(list[5].data, "arch: amd64");
	ck_assert_uint_eq(list[0].size, 0);
	pfs_import_free(list, n);
}
END_TEST

START_TEST(test_pfs_import_read_errors)
{
	struct pfs_import_entry *list;
	char errmsg[256] = "";
	size_t n;

	/* The database file does not exist yet. */
	ck_assert_int_eq(pfs_import_read(path, &list, &n, errmsg, sizeof(errmsg)), -ENOENT);
	ck_assert_str_ne(errmsg, "");

	make_db("INSERT INTO tree VALUES (1, 9, 1, 1, 0, 8, 'orphan', 'x');");
	ck_assert_int_eq(pfs_import_read(path, &list, &n, errmsg, sizeof(errmsg)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "orphan"));
}
END_TEST

START_TEST(test_pfs_import_read_bad_rows)
{
	struct pfs_import_entry *list;
	char errmsg[256] = "";
	size_t n;

	/* A loop, an unknown type and a bad name are each rejected. */
	make_db("INSERT INTO tree VALUES (1, 2, 1, 1, 0, 4, 'a', NULL);"
		"INSERT INTO tree VALUES (2, 1, 2, 1, 0, 4, 'b', NULL);");
	ck_assert_int_eq(pfs_import_read(path, &list, &n, errmsg, sizeof(errmsg)), -EINVAL);
	teardown();
	setup();
	make_db("INSERT INTO tree VALUES (1, 0, 1, 1, 0, 10, 'link', NULL);");
	ck_assert_int_eq(pfs_import_read(path, &list, &n, errmsg, sizeof(errmsg)), -EINVAL);
	teardown();
	setup();
	make_db("INSERT INTO tree VALUES (1, 0, 1, 1, 0, 8, '..', NULL);");
	ck_assert_int_eq(pfs_import_read(path, &list, &n, errmsg, sizeof(errmsg)), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("import");
	TCase *tc = tcase_create("pfs_import_read");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_import_read_order);
	tcase_add_test(tc, test_pfs_import_read_errors);
	tcase_add_test(tc, test_pfs_import_read_bad_rows);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
