/* pfs_import: read a pmxcfs `tree` table (see import.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "pmxfs/import.h"

/* LIMIT: deeper trees than this are treated as a parent loop. */
#define MAX_DEPTH 256

struct row {
	int64_t inode, parent;
	int type;
	char *name;
	char *data;
	size_t size;
	char *path;
	int depth;
};

static int by_inode(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static struct row *find_row(struct row *rows, size_t n, int64_t inode)
{
	struct row key = {.inode = inode};

	return bsearch(&key, rows, n, sizeof(*rows), by_inode);
}

static int valid_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= 255 && strcmp(name, ".") && strcmp(name, "..") &&
	       !strchr(name, '/');
}

/* Build a row's path from its parents. */
static int row_path(struct row *rows, size_t n, struct row *r, int depth)
{
	struct row *parent = NULL;
	size_t len;

	if (r->path)
		return 0;
	if (depth > MAX_DEPTH)
		return -EINVAL;
	if (r->parent != 0) {
		parent = find_row(rows, n, r->parent);
		if (!parent || parent->type != 4 || row_path(rows, n, parent, depth + 1) < 0)
			return -EINVAL;
	}
	len = (parent ? strlen(parent->path) : 0) + strlen(r->name) + 2;
	r->path = malloc(len);
	if (!r->path)
		return -ENOMEM;
	snprintf(r->path, len, "%s/%s", parent ? parent->path : "", r->name);
	r->depth = parent ? parent->depth + 1 : 1;
	return 0;
}

static int by_depth(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->depth != y->depth ? x->depth - y->depth : strcmp(x->path, y->path);
}

static int read_rows(const char *file, struct row **out, size_t *count, char *errmsg,
		     size_t errlen)
{
	static const char query[] =
		"SELECT inode, parent, type, name, data FROM tree WHERE inode != 0";
	struct row *rows = NULL;
	size_t n = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int rc, rv = 0;

	/* sqlite reports a missing file only as "unable to open". */
	if (stat(file, &sb) < 0) {
		rv = -errno;
		snprintf(errmsg, errlen, "cannot open %s: %s", file, strerror(errno));
		return rv;
	}
	if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK) {
		snprintf(errmsg, errlen, "cannot read the tree table of %s: %s", file,
			 sqlite3_errmsg(db));
		sqlite3_close(db);
		return -EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct row *grown = realloc(rows, (n + 1) * sizeof(*rows)), *r;
		const char *name = (const char *)sqlite3_column_text(st, 3);
		const void *blob;

		if (!grown) {
			rv = -ENOMEM;
			break;
		}
		rows = grown;
		r = &rows[n++];
		memset(r, 0, sizeof(*r));
		r->inode = sqlite3_column_int64(st, 0);
		r->parent = sqlite3_column_int64(st, 1);
		r->type = sqlite3_column_int(st, 2);
		r->name = strdup(name ? name : "");
		blob = sqlite3_column_blob(st, 4);
		r->size = (size_t)sqlite3_column_bytes(st, 4);
		r->data = malloc(r->size + 1);
		if (!r->name || !r->data) {
			rv = -ENOMEM;
			break;
		}
		if (r->size)
			memcpy(r->data, blob, r->size);
		r->data[r->size] = '\0';
	}
	if (rv == 0 && rc != SQLITE_DONE) {
		snprintf(errmsg, errlen, "cannot read the tree table of %s: %s", file,
			 sqlite3_errmsg(db));
		rv = -EIO;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	*out = rows;
	*count = n;
	return rv;
}

static void free_rows(struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].name);
		free(rows[i].data);
		free(rows[i].path);
	}
	free(rows);
}

/* Check every row and give it its path. */
static int check_rows(struct row *rows, size_t n, char *errmsg, size_t errlen)
{
	int rv;

	qsort(rows, n, sizeof(*rows), by_inode);
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i];

		if (r->type != 4 && r->type != 8) {
			snprintf(errmsg, errlen, "entry %" PRId64 " has the unknown type %d",
				 r->inode, r->type);
			return -EINVAL;
		}
		if (!valid_name(r->name) || (i > 0 && rows[i - 1].inode == r->inode)) {
			snprintf(errmsg, errlen, "entry %" PRId64 " has an invalid name or inode",
				 r->inode);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++) {
		rv = row_path(rows, n, &rows[i], 0);
		if (rv < 0) {
			snprintf(errmsg, errlen, "entry %" PRId64 " ('%s') has no parent directory %"
				 PRId64 " or sits in a loop", rows[i].inode, rows[i].name,
				 rows[i].parent);
			return rv;
		}
	}
	return 0;
}

int pfs_import_read(const char *file, struct pfs_import_entry **entries, size_t *count,
		    char *errmsg, size_t errmsg_len)
{
	struct pfs_import_entry *list;
	struct row *rows = NULL;
	size_t n = 0;
	int rv;

	rv = read_rows(file, &rows, &n, errmsg, errmsg_len);
	if (rv == 0)
		rv = check_rows(rows, n, errmsg, errmsg_len);
	if (rv < 0) {
		free_rows(rows, n);
		return rv;
	}

	/* Parents before children: by depth, then by path. */
	qsort(rows, n, sizeof(*rows), by_depth);
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list) {
		free_rows(rows, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		list[i].path = rows[i].path;
		list[i].is_dir = rows[i].type == 4;
		list[i].inode = rows[i].inode;
		if (list[i].is_dir) {
			free(rows[i].data);
		} else {
			list[i].data = rows[i].data;
			list[i].size = rows[i].size;
		}
		free(rows[i].name);
	}
	free(rows);
	*entries = list;
	*count = n;
	return 0;
}

void pfs_import_free(struct pfs_import_entry *entries, size_t count)
{
	for (size_t i = 0; entries && i < count; i++) {
		free(entries[i].path);
		free(entries[i].data);
	}
	free(entries);
}
