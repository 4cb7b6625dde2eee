/* pfs_db: sqlite persistence of the tree (see db.h). sqlite result codes
 * stop here: callers see 0 or a negative errno value and errmsg. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "pmxfs/db.h"
#include "pmxfs/tree_internal.h"

#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 10000

struct pfs_db {
	sqlite3 *sql;
	sqlite3_stmt *replace;
	sqlite3_stmt *delete;
	sqlite3_stmt *generation_end;
	pfs_db_commit_hook hook;
	void *hook_ctx;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS tree ("
	" inode INTEGER PRIMARY KEY CHECK (typeof(inode) = 'integer'),"
	" parent INTEGER NOT NULL CHECK (typeof(parent) = 'integer'),"
	" version INTEGER NOT NULL CHECK (typeof(version) = 'integer'),"
	" writer INTEGER NOT NULL CHECK (typeof(writer) = 'integer'),"
	" mtime INTEGER NOT NULL CHECK (typeof(mtime) = 'integer'),"
	" type INTEGER NOT NULL CHECK (type IN (0, 4, 8)),"
	" name TEXT NOT NULL,"
	" data BLOB);"
	"CREATE TABLE IF NOT EXISTS generations ("
	" id INTEGER PRIMARY KEY,"
	" ring_id TEXT NOT NULL,"
	" members INTEGER NOT NULL,"
	" first_version INTEGER NOT NULL,"
	" last_version INTEGER NOT NULL);";

static int sql_fail(struct pfs_db *db, const char *what, char *errmsg)
{
	if (errmsg)
		snprintf(errmsg, PFS_ERRMSG_SIZE, "database %s failed: %s", what,
			 db->sql ? sqlite3_errmsg(db->sql) : "no handle");
	return -EIO;
}

static int exec(struct pfs_db *db, const char *sql, const char *what, char *errmsg)
{
	if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(db, what, errmsg);
	return 0;
}

static int user_version(struct pfs_db *db, int *version)
{
	sqlite3_stmt *st = NULL;
	int rv = -EIO;

	if (sqlite3_prepare_v2(db->sql, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		rv = 0;
	}
	sqlite3_finalize(st);
	return rv;
}

static int prepare(struct pfs_db *db, char *errmsg)
{
	static const char replace[] =
		"REPLACE INTO tree (inode, parent, version, writer, mtime, type, name, data)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	static const char generation_end[] =
		"UPDATE generations SET last_version = ?"
		" WHERE id = (SELECT max(id) FROM generations)";
	unsigned flags = SQLITE_PREPARE_PERSISTENT;

	if (sqlite3_prepare_v3(db->sql, replace, -1, flags, &db->replace, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db->sql, "DELETE FROM tree WHERE inode = ?", -1, flags, &db->delete,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db->sql, generation_end, -1, flags, &db->generation_end, NULL) !=
		    SQLITE_OK)
		return sql_fail(db, "prepare", errmsg);
	return 0;
}

int pfs_db_open(const char *path, struct pfs_db **out, char *errmsg)
{
	struct pfs_db *db = calloc(1, sizeof(*db));
	int rv, version = 0;

	if (!db)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rv = sql_fail(db, "open", errmsg);
		goto err_close;
	}
	sqlite3_busy_timeout(db->sql, BUSY_TIMEOUT_MS);

	/* WAL with FULL: every commit is on disk before it is acknowledged. */
	rv = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", "setup", errmsg);
	if (rv < 0)
		goto err_close;
	rv = user_version(db, &version);
	if (rv < 0 || version > SCHEMA_VERSION) {
		if (errmsg)
			snprintf(errmsg, PFS_ERRMSG_SIZE,
				 "database %s has schema version %d, this pmxfs reads up to %d",
				 path, version, SCHEMA_VERSION);
		rv = -EPROTO;
		goto err_close;
	}
	rv = exec(db, schema, "schema creation", errmsg);
	if (rv == 0 && version == 0)
		rv = exec(db, "PRAGMA user_version = 1", "schema version", errmsg);
	if (rv == 0)
		rv = prepare(db, errmsg);
	if (rv < 0)
		goto err_close;
	*out = db;
	return 0;

err_close:
	pfs_db_close(db);
	return rv;
}

void pfs_db_close(struct pfs_db *db)
{
	if (!db)
		return;
	sqlite3_finalize(db->replace);
	sqlite3_finalize(db->delete);
	sqlite3_finalize(db->generation_end);
	sqlite3_close(db->sql);
	free(db);
}

void pfs_db_set_commit_hook(struct pfs_db *db, pfs_db_commit_hook hook, void *ctx)
{
	db->hook = hook;
	db->hook_ctx = ctx;
}

static int load_rows(struct pfs_db *db, struct pfs_tree *tree, char *errmsg)
{
	static const char query[] =
		"SELECT inode, parent, version, writer, mtime, type, name, data FROM tree";
	sqlite3_stmt *st = NULL;
	int rc, rv = 0;

	if (sqlite3_prepare_v2(db->sql, query, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, "load", errmsg);
	while (rv == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pfs_stat s = {0};
		const char *name = (const char *)sqlite3_column_text(st, 6);
		const void *data = sqlite3_column_blob(st, 7);

		s.inode = (uint64_t)sqlite3_column_int64(st, 0);
		s.parent = (uint64_t)sqlite3_column_int64(st, 1);
		s.version = (uint64_t)sqlite3_column_int64(st, 2);
		s.writer = (uint32_t)sqlite3_column_int64(st, 3);
		s.mtime = (uint32_t)sqlite3_column_int64(st, 4);
		s.type = (enum pfs_type)sqlite3_column_int(st, 5);
		s.size = (uint32_t)sqlite3_column_bytes(st, 7);
		if (s.inode == 0) {
			pfs__tree_load_root(tree, s.version, s.writer, s.mtime);
			continue;
		}
		rv = pfs__tree_load_entry(tree, &s, name ? name : "", data, errmsg);
	}
	if (rv == 0 && rc != SQLITE_DONE)
		rv = sql_fail(db, "load", errmsg);
	sqlite3_finalize(st);
	return rv;
}

int pfs_db_load(struct pfs_db *db, struct pfs_tree **out, char *errmsg)
{
	struct pfs_tree *tree = NULL;
	int rv;

	rv = pfs_tree_new(&tree);
	if (rv < 0)
		return rv;
	rv = load_rows(db, tree, errmsg);
	if (rv == 0)
		rv = pfs__tree_load_finish(tree, errmsg);
	if (rv < 0) {
		pfs_tree_free(tree);
		return rv;
	}
	*out = tree;
	return 0;
}

static int write_row(struct pfs_db *db, const struct pfs_stat *s, const char *name,
		     const char *data)
{
	sqlite3_stmt *st = db->replace;
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)s->inode);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)s->parent);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)s->version);
	sqlite3_bind_int64(st, 4, s->writer);
	sqlite3_bind_int64(st, 5, s->mtime);
	sqlite3_bind_int(st, 6, (int)s->type);
	sqlite3_bind_text(st, 7, name, -1, SQLITE_STATIC);
	if (data)
		sqlite3_bind_blob(st, 8, data, (int)s->size, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 8);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int delete_row(struct pfs_db *db, uint64_t inode)
{
	int rc;

	sqlite3_bind_int64(db->delete, 1, (sqlite3_int64)inode);
	rc = sqlite3_step(db->delete);
	sqlite3_reset(db->delete);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Write the rows of one round; the caller owns the transaction. */
static int write_round(struct pfs_db *db, const struct pfs_tree *tree)
{
	struct pfs_stat root = {0};
	const uint64_t *dirty;
	size_t n;
	int rv = 0, rc;

	dirty = pfs_tree_dirty(tree, &n);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		struct pfs_stat s;
		const char *name, *data;

		if (pfs__tree_by_inode(tree, dirty[i], &s, &name, &data) == 0)
			rv = write_row(db, &s, name, data ? data : (s.type == PFS_TYPE_FILE ? "" : NULL));
		else
			rv = delete_row(db, dirty[i]);
	}
	if (rv < 0)
		return rv;

	root.version = pfs_tree_version(tree);
	pfs__tree_root_meta(tree, &root.writer, &root.mtime);
	root.type = 0;
	rv = write_row(db, &root, "__version__", NULL);
	if (rv < 0)
		return rv;

	sqlite3_bind_int64(db->generation_end, 1, (sqlite3_int64)root.version);
	rc = sqlite3_step(db->generation_end);
	sqlite3_reset(db->generation_end);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int pfs_db_commit_round(struct pfs_db *db, const struct pfs_tree *tree, char *errmsg)
{
	int rv;

	rv = exec(db, "BEGIN IMMEDIATE", "begin", errmsg);
	if (rv < 0)
		return rv;
	rv = write_round(db, tree);
	if (rv < 0) {
		sql_fail(db, "write", errmsg);
		goto err_rollback;
	}
	if (db->hook && db->hook(db->hook_ctx) != 0) {
		if (errmsg)
			snprintf(errmsg, PFS_ERRMSG_SIZE, "database commit failed: the commit hook failed");
		rv = -EIO;
		goto err_rollback;
	}
	rv = exec(db, "COMMIT", "commit", errmsg);
	if (rv < 0)
		goto err_rollback;
	return 0;

err_rollback:
	sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	return rv;
}

static int replace_row(const char *name, const struct pfs_stat *st, const char *data, void *ctx)
{
	struct pfs_db *db = ctx;

	return write_row(db, st, name, data ? data : (st->type == PFS_TYPE_FILE ? "" : NULL));
}

static int insert_generation(struct pfs_db *db, const struct pfs_generation *g)
{
	static const char insert[] =
		"INSERT INTO generations (ring_id, members, first_version, last_version)"
		" VALUES (?, ?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->sql, insert, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, g->ring_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, g->members);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)g->first_version);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)g->last_version);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int pfs_db_replace(struct pfs_db *db, const struct pfs_tree *tree,
		   const struct pfs_generation *gens, size_t ngens, char *errmsg)
{
	struct pfs_stat root = {0};
	int rv;

	rv = exec(db, "BEGIN IMMEDIATE", "begin", errmsg);
	if (rv < 0)
		return rv;
	rv = exec(db, "DELETE FROM tree; DELETE FROM generations", "clear", errmsg);
	if (rv < 0)
		goto err_rollback;

	/* Every entry, then the __version__ row, then the history. */
	rv = pfs_tree_walk(tree, replace_row, db);
	if (rv == 0) {
		root.version = pfs_tree_version(tree);
		pfs__tree_root_meta(tree, &root.writer, &root.mtime);
		rv = write_row(db, &root, "__version__", NULL);
	}
	for (size_t i = 0; rv == 0 && i < ngens; i++)
		rv = insert_generation(db, &gens[i]);
	if (rv < 0) {
		sql_fail(db, "replace", errmsg);
		goto err_rollback;
	}
	if (db->hook && db->hook(db->hook_ctx) != 0) {
		if (errmsg)
			snprintf(errmsg, PFS_ERRMSG_SIZE, "database commit failed: the commit hook failed");
		rv = -EIO;
		goto err_rollback;
	}
	rv = exec(db, "COMMIT", "commit", errmsg);
	if (rv < 0)
		goto err_rollback;
	return 0;

err_rollback:
	sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	return rv;
}

int pfs_db_generation_start(struct pfs_db *db, const char *ring_id, uint32_t members,
			    uint64_t first_version, char *errmsg)
{
	static const char insert[] =
		"INSERT INTO generations (ring_id, members, first_version, last_version)"
		" VALUES (?, ?, ?, ?)";
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->sql, insert, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, "generation insert", errmsg);
	sqlite3_bind_text(st, 1, ring_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, members);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)first_version);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)(first_version ? first_version - 1 : 0));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_fail(db, "generation insert", errmsg);
}

int pfs_db_generations(struct pfs_db *db, struct pfs_generation **out, size_t *count)
{
	static const char query[] =
		"SELECT id, ring_id, members, first_version, last_version FROM generations ORDER BY id";
	struct pfs_generation *list = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc, rv = 0;

	if (sqlite3_prepare_v2(db->sql, query, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pfs_generation *g;
		const char *ring = (const char *)sqlite3_column_text(st, 1);

		if (pfs__grow((void **)&list, &cap, n, sizeof(*list)) < 0) {
			rv = -ENOMEM;
			break;
		}
		g = &list[n++];
		g->id = sqlite3_column_int64(st, 0);
		snprintf(g->ring_id, sizeof(g->ring_id), "%s", ring ? ring : "");
		g->members = (uint32_t)sqlite3_column_int64(st, 2);
		g->first_version = (uint64_t)sqlite3_column_int64(st, 3);
		g->last_version = (uint64_t)sqlite3_column_int64(st, 4);
	}
	if (rv == 0 && rc != SQLITE_DONE)
		rv = -EIO;
	sqlite3_finalize(st);
	if (rv < 0) {
		free(list);
		return rv;
	}
	*out = list;
	*count = n;
	return 0;
}
