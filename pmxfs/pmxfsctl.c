/* pmxfsctl: the command-line client of the pmxfs store. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include "common/exit_code.h"
#include "pmxfs/import.h"
#include "pmxfs/pmxfsctl_lock.h"
#include "pmxfs/pmxfsctl_node.h"
#include "pmxfs/pmxfsctl_quote.h"
#include "pmxfs/pmxfs.h"

struct opts {
	bool json;
	struct pfs_cond cond;
	long count;        /* watch: stop after this many events, -1 = never */
	int timeout_ms;    /* each request's reply, and watch's wait for an event;
			      -1 = the library default, and watch waits forever */
	const char *data;  /* request: the payload, NULL = standard input */
};

/* The maximum length of a store path the daemon accepts, and a buffer for one. */
#define CLI_MAX_PATH 4096
#define CLI_PATH_SIZE (CLI_MAX_PATH + 1)

static struct pfs_conn *conn;

/* Print TEXT to standard error with control bytes escaped as \xNN, so a
 * path or a message cannot drive the terminal. */
static void put_escaped(const char *text)
{
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(stderr, "\\x%02x", *p);
		else
			fputc(*p, stderr);
	}
}

/* Return the advice printed after an error's cause, or "" when there is none. */
static const char *hint(int rv, const char *object, char *buf, size_t size)
{
	char parent[CLI_PATH_SIZE], shown[PMXFSCTL_QUOTE_SIZE];
	const char *slash;

	if (rv == -EAGAIN)
		return "; nothing was changed, so run the command again";
	if (object[0] != '/')
		return "";
	if (rv == -EISDIR) {
		snprintf(buf, size, "; list a directory with pmxfsctl ls '%s'",
			 pmxfsctl_quote(object, shown));
		return buf;
	}
	if (rv == -ENOENT) {
		slash = strrchr(object, '/');
		snprintf(parent, sizeof(parent), "%.*s", slash == object ? 1 : (int)(slash - object),
			 object);
		snprintf(buf, size, "; check the path with pmxfsctl ls '%s'",
			 pmxfsctl_quote(parent, shown));
		return buf;
	}
	return "";
}

/*
 * Print "pmxfsctl: cannot VERB 'PATH': CAUSE; WHAT TO DO" and return the
 * exit code. A path is quoted, cut after 64 bytes and escaped; an object
 * that is not a path ("the status") is printed as it is.
 */
static int fail(int rv, const char *verb, const char *object)
{
	const char *cause = conn && pfs_last_error(conn)[0] ? pfs_last_error(conn) : strerror(-rv);
	char quoted[CLI_PATH_SIZE + 4], shown[PMXFSCTL_QUOTE_SIZE], help[PMXFSCTL_QUOTE_SIZE + 64];
	const char *named;

	/* A cause that names the object already ("cannot read '/x': Is a
	 * directory") is printed without its own prefix. */
	snprintf(quoted, sizeof(quoted), "'%s': ", object);
	named = strncmp(cause, "cannot ", 7) == 0 ? strstr(cause, quoted) : NULL;
	if (named)
		cause = named + strlen(quoted);
	fprintf(stderr, "pmxfsctl: cannot %s ", verb);
	if (object[0] == '/')
		fprintf(stderr, "'%s'", pmxfsctl_quote(object, shown));
	else
		put_escaped(object);
	fputs(": ", stderr);
	put_escaped(cause);
	fprintf(stderr, "%s\n", hint(rv, object, help, sizeof(help)));
	return pmx_exit_code(rv);
}

/*
 * Print one warning line after a read that the daemon served while
 * suspended (out of the cluster because it cannot store changes). The
 * node name and the time come from the status. The read still succeeds.
 */
static void warn_if_stale(void)
{
	struct json_object *j, *v;
	const char *node = "this node";
	char since[16] = "";
	char *text = NULL;
	time_t t = 0;
	struct tm tm;

	if (!pfs_last_stale(conn))
		return;
	j = pfs_status(conn, &text) == 0 ? json_tokener_parse(text) : NULL;
	free(text);
	if (j && json_object_object_get_ex(j, "node", &v))
		node = json_object_get_string(v);
	if (j && json_object_object_get_ex(j, "stale_since", &v))
		t = (time_t)json_object_get_int64(v);
	if (t > 0 && localtime_r(&t, &tm))
		strftime(since, sizeof(since), " since %H:%M:%S", &tm);
	fprintf(stderr, "pmxfsctl: %s is suspended (disk full%s): this data may be stale\n", node,
		since);
	json_object_put(j);
}

/* Report a failed read like fail(), and add the stale warning on a
 * suspended node, because its "not found" may be out of date. */
static int fail_read(int rv, const char *verb, const char *object)
{
	int code = fail(rv, verb, object);

	warn_if_stale();
	return code;
}

static void usage(FILE *out)
{
	fputs("Usage: pmxfsctl [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  status                 node, mode, quorum, sync state, members, version\n"
	      "                         and whether this node is stale (suspended)\n"
	      "  ls PATH                list a directory\n"
	      "  stat PATH              show an entry's metadata\n"
	      "  get PATH               print a file\n"
	      "  put PATH               replace or create a file with standard input\n"
	      "                         (a PATH starts with /, at most 4096 bytes)\n"
	      "  create PATH            create a file from standard input; fails if it exists\n"
	      "  rm PATH                delete a file\n"
	      "  mkdir PATH             create a directory\n"
	      "  rmdir PATH             delete an empty directory\n"
	      "  mv FROM TO             rename a file or an empty directory\n"
	      "  edit PATH              edit a copy in $EDITOR, save by compare-and-swap;\n"
	      "                         a missing file is created when saved\n"
	      "  watch PREFIX           print VERSION OP PATH for each change under PREFIX\n"
	      "  digest                 print the SHA-256 digest of the whole tree\n"
	      "  import CONFIG.DB       copy a pmxcfs database into an empty store\n"
	      "  lock NAME -- COMMAND   run COMMAND holding the cluster lock NAME; its own\n"
	      "                         --timeout and --lease are in seconds\n"
	      "                         (see pmxfsctl lock --help)\n"
	      "  locks                  list held locks: holder node and pid, token,\n"
	      "                         waiters, lease left\n"
	      "  request NODE SERVICE   send a request (--data, or standard input) to the\n"
	      "                         agent of SERVICE on NODE (a name or a node id) and\n"
	      "                         print its reply; the exit code follows its status\n"
	      "  serve SERVICE -- COMMAND  be the agent of SERVICE on this node: run COMMAND\n"
	      "                         for each request (see pmxfsctl serve --help)\n"
	      "\n"
	      "Options (before or after the command; before lock and serve only --json\n"
	      "and --timeout):\n"
	      "  --json, --output-format json   machine-readable output\n"
	      "  --if-version N         change only if the entry's version is N (0: must not exist)\n"
	      "  --token T              change only while T is the token of a held lock\n"
	      "  --count N              watch: exit after N events\n"
	      "  --timeout MS           wait at most MS milliseconds for each reply (default\n"
	      "                         120000); exit 7 when a read times out and 8 when a\n"
	      "                         change was sent but not answered. watch: exit 7 after\n"
	      "                         MS milliseconds without an event (without --timeout,\n"
	      "                         watch waits for events forever). request: wait at\n"
	      "                         most MS milliseconds for the agent's reply. lock:\n"
	      "                         the wait for the lock, in milliseconds\n"
	      "  --data STRING          request: the payload (default: standard input)\n"
	      "\n"
	      "Environment:\n"
	      "  PMXFS_SERVICE          IPC service name of the daemon (default pmxfs)\n"
	      "  VISUAL, EDITOR         edit: the editor command, run by sh (default vi)\n"
	      "\n"
	      "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 not quorate,\n"
	      "6 permission denied, 7 timed out, 8 outcome unknown.\n",
	      out);
}

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static const char *type_name(uint32_t type)
{
	if (type == PFS_ENTRY_DIR)
		return "dir";
	if (type == PFS_ENTRY_LINK)
		return "link";
	return "file";
}

static struct json_object *entry_json(const struct pfs_entry *e, const char *name)
{
	struct json_object *o = json_object_new_object();

	if (name)
		json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "type", json_object_new_string(type_name(e->type)));
	json_object_object_add(o, "inode", json_object_new_uint64(e->inode));
	json_object_object_add(o, "version", json_object_new_uint64(e->version));
	json_object_object_add(o, "writer", json_object_new_int64(e->writer));
	json_object_object_add(o, "mtime", json_object_new_int64(e->mtime));
	json_object_object_add(o, "size", json_object_new_int64(e->size));
	return o;
}

/* Read all of a stream; the store takes files up to 1 MiB. */
static int read_all(FILE *f, char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t r;

		if (n == cap) {
			char *grown;

			if (cap > 2 * 1024 * 1024) {
				free(buf);
				return -EFBIG;
			}
			grown = realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			cap *= 2;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int cmd_status(const struct opts *o, char **args)
{
	struct json_object *j, *v;
	char *text = NULL;
	int rv = pfs_status(conn, &text);

	if (rv < 0)
		return fail(rv, "read", "the status");
	if (o->json) {
		puts(text);
		free(text);
		return EXIT_OK;
	}
	j = json_tokener_parse(text);
	free(text);
	if (!j)
		return fail(-EBADMSG, "parse", "the status");
	if (json_object_object_get_ex(j, "node", &v))
		printf("node: %s\n", json_object_get_string(v));
	if (json_object_object_get_ex(j, "mode", &v))
		printf("mode: %s\n", json_object_get_string(v));
	if (json_object_object_get_ex(j, "quorate_reason", &v))
		printf("quorate: no (%s)\n", json_object_get_string(v));
	else if (json_object_object_get_ex(j, "quorate", &v))
		printf("quorate: %s\n", json_object_get_boolean(v) ? "yes" : "no");
	if (json_object_object_get_ex(j, "sync_state", &v))
		printf("sync_state: %s\n", json_object_get_string(v));
	if (json_object_object_get_ex(j, "members", &v)) {
		printf("members:");
		for (size_t i = 0; i < json_object_array_length(v); i++)
			printf(" %s", json_object_get_string(json_object_array_get_idx(v, i)));
		printf("\n");
	}
	if (json_object_object_get_ex(j, "version", &v))
		printf("version: %s\n", json_object_get_string(v));
	/* An operator must see a suspended node: "stale: yes (REASON)". */
	if (json_object_object_get_ex(j, "stale_reason", &v))
		printf("stale: yes (%s)\n", json_object_get_string(v));
	else if (json_object_object_get_ex(j, "stale", &v))
		printf("stale: %s\n", json_object_get_boolean(v) ? "yes" : "no");
	json_object_put(j);
	return EXIT_OK;
}

static int cmd_ls(const struct opts *o, char **args)
{
	struct pfs_entry *list;
	struct json_object *arr;
	size_t n;
	int rv = pfs_list(conn, args[0], &list, &n);

	if (rv < 0)
		return fail_read(rv, "list", args[0]);
	if (o->json) {
		arr = json_object_new_array();
		for (size_t i = 0; i < n; i++)
			json_object_array_add(arr, entry_json(&list[i], list[i].name));
		print_json(arr);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s%s\n", list[i].name, list[i].type == PFS_ENTRY_DIR ? "/" : "");
	}
	pfs_list_free(list, n);
	warn_if_stale();
	return EXIT_OK;
}

static int cmd_stat(const struct opts *o, char **args)
{
	struct pfs_entry e;
	int rv = pfs_stat(conn, args[0], &e);

	if (rv < 0)
		return fail_read(rv, "stat", args[0]);
	warn_if_stale();
	if (o->json) {
		print_json(entry_json(&e, NULL));
	} else {
		printf("type: %s\ninode: %" PRIu64 "\nversion: %" PRIu64 "\nwriter: %u\n"
		       "mtime: %u\nsize: %u\n",
		       type_name(e.type), e.inode, e.version, e.writer, e.mtime, e.size);
	}
	return EXIT_OK;
}

static int cmd_get(const struct opts *o, char **args)
{
	struct pfs_entry e;
	struct json_object *j;
	char *data;
	size_t len;
	int rv = pfs_get(conn, args[0], &data, &len, &e);

	if (rv < 0)
		return fail_read(rv, "read", args[0]);
	warn_if_stale();
	if (o->json) {
		j = entry_json(&e, NULL);
		json_object_object_add(j, "data", json_object_new_string_len(data, (int)len));
		print_json(j);
	} else if (fwrite(data, 1, len, stdout) != len) {
		free(data);
		return fail(-EIO, "print", args[0]);
	}
	free(data);
	return EXIT_OK;
}

static int print_version(const struct opts *o, uint64_t version)
{
	struct json_object *j;

	if (o->json) {
		j = json_object_new_object();
		json_object_object_add(j, "version", json_object_new_uint64(version));
		print_json(j);
	}
	return EXIT_OK;
}

static int write_stdin(const struct opts *o, const char *path, bool create)
{
	uint64_t version = 0;
	char *data;
	size_t len;
	int rv;

	rv = read_all(stdin, &data, &len);
	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: cannot read standard input: %s\n",
			rv == -EFBIG ? "more than the 1 MiB file limit" : strerror(-rv));
		return EXIT_ERROR;
	}
	rv = create ? pfs_create(conn, path, data, len, &o->cond, &version)
		    : pfs_write(conn, path, data, len, &o->cond, &version);
	free(data);
	if (rv < 0)
		return fail(rv, create ? "create" : "write", path);
	return print_version(o, version);
}

static int cmd_put(const struct opts *o, char **args)
{
	return write_stdin(o, args[0], false);
}

static int cmd_create(const struct opts *o, char **args)
{
	return write_stdin(o, args[0], true);
}

static int cmd_rm(const struct opts *o, char **args)
{
	int rv = pfs_delete(conn, args[0], &o->cond);

	return rv < 0 ? fail(rv, "delete", args[0]) : EXIT_OK;
}

static int cmd_mkdir(const struct opts *o, char **args)
{
	int rv = pfs_mkdir(conn, args[0], &o->cond);

	return rv < 0 ? fail(rv, "create directory", args[0]) : EXIT_OK;
}

static int cmd_rmdir(const struct opts *o, char **args)
{
	int rv = pfs_rmdir(conn, args[0], &o->cond);

	return rv < 0 ? fail(rv, "delete directory", args[0]) : EXIT_OK;
}

static int cmd_mv(const struct opts *o, char **args)
{
	int rv = pfs_rename(conn, args[0], args[1], &o->cond);

	return rv < 0 ? fail(rv, "rename", args[0]) : EXIT_OK;
}

static int cmd_digest(const struct opts *o, char **args)
{
	struct json_object *j;
	char digest[65];
	int rv = pfs_digest(conn, digest);

	if (rv < 0)
		return fail(rv, "compute", "the digest");
	if (o->json) {
		j = json_object_new_object();
		json_object_object_add(j, "digest", json_object_new_string(digest));
		print_json(j);
	} else {
		puts(digest);
	}
	return EXIT_OK;
}

static int cmd_watch(const struct opts *o, char **args)
{
	struct pfs_event ev;
	long seen = 0;
	int rv = pfs_watch(conn, args[0]);

	if (rv < 0)
		return fail(rv, "watch", args[0]);
	while (o->count < 0 || seen < o->count) {
		rv = pfs_next_event(conn, &ev, o->timeout_ms);
		if (rv < 0)
			return rv == -ETIMEDOUT ? EXIT_TIMEOUT : fail(rv, "watch", args[0]);
		seen++;
		if (o->json) {
			struct json_object *j = json_object_new_object();

			json_object_object_add(j, "version", json_object_new_uint64(ev.version));
			json_object_object_add(j, "op", json_object_new_string(ev.op));
			json_object_object_add(j, "path", json_object_new_string(ev.path));
			if (ev.path2[0])
				json_object_object_add(j, "to", json_object_new_string(ev.path2));
			print_json(j);
		} else if (ev.path2[0]) {
			printf("%" PRIu64 " %s %s %s\n", ev.version, ev.op, ev.path, ev.path2);
		} else {
			printf("%" PRIu64 " %s %s\n", ev.version, ev.op, ev.path);
		}
		fflush(stdout);
	}
	return EXIT_OK;
}

/* Run $VISUAL or $EDITOR (default vi) through sh on file and wait for it. */
static int run_editor(const char *file)
{
	const char *editor = getenv("VISUAL");
	pid_t pid;
	int status;

	if (!editor || !*editor)
		editor = getenv("EDITOR");
	if (!editor || !*editor)
		editor = "vi";
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* As git and crontab do: the shell splits and unquotes the editor
		 * command, and the file is its last argument. */
		if (setenv("PMXFSCTL_EDITOR", editor, 1) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", "eval \"$PMXFSCTL_EDITOR\" '\"$1\"'", "sh", file,
		      (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECANCELED;
}

static int cmd_edit(const struct opts *o, char **args)
{
	struct pfs_cond cond = {0};
	struct pfs_entry e;
	char tmp[] = "/tmp/pmxfsctl-edit.XXXXXX";
	char *old = NULL, *new = NULL;
	size_t old_len = 0, new_len = 0;
	FILE *f;
	int fd, rv, code = EXIT_ERROR;

	/* Start from the current contents, or from nothing for a new file. */
	rv = pfs_get(conn, args[0], &old, &old_len, &e);
	if (rv == -ENOENT) {
		cond.has_version = 1;
		cond.version = 0;
	} else if (rv < 0) {
		return fail(rv, "read", args[0]);
	} else {
		cond.has_version = 1;
		cond.version = e.version;
	}
	fd = mkstemp(tmp);
	if (fd < 0 || write(fd, old ? old : "", old_len) != (ssize_t)old_len) {
		fprintf(stderr, "pmxfsctl: cannot write the copy %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;

	rv = run_editor(tmp);
	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: the editor failed; %s is unchanged\n", args[0]);
		goto out_unlink;
	}
	f = fopen(tmp, "r");
	if (!f || read_all(f, &new, &new_len) < 0) {
		fprintf(stderr, "pmxfsctl: cannot read the edited copy %s\n", tmp);
		if (f)
			fclose(f);
		goto out_unlink;
	}
	fclose(f);

	/* An unchanged file writes nothing. */
	if (rv == 0 && new_len == old_len && (old_len == 0 || !memcmp(new, old, old_len))) {
		if (!o->json)
			fprintf(stderr, "pmxfsctl: %s not changed\n", args[0]);
		code = EXIT_OK;
		goto out_unlink;
	}
	cond.has_token = o->cond.has_token;
	cond.token = o->cond.token;
	rv = pfs_write(conn, args[0], new, new_len, &cond, NULL);
	if (rv < 0) {
		code = fail(rv, "save", args[0]);
		fprintf(stderr, "pmxfsctl: your edited copy is kept in %s\n", tmp);
		goto out;
	}
	code = EXIT_OK;

out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(old);
	free(new);
	return code;
}

/* import ----------------------------------------------------------------- */

/* The store counts as empty when it contains no files (the daemon's own
 * folders may exist). */
/*
 * Count the files below DIR in *FILES, leaving out /priv/cluster.key:
 * pmxfs creates that key itself once quorate, so even a new store has it.
 */
static int count_files(const char *dir, long *files)
{
	struct pfs_entry *list;
	size_t n;
	int rv = pfs_list(conn, dir, &list, &n);

	if (rv < 0)
		return rv;
	for (size_t i = 0; i < n && rv == 0; i++) {
		char child[4200];

		if (list[i].type == PFS_ENTRY_FILE && list[i].inode != 0) {
			if (strcmp(dir, "/priv") || strcmp(list[i].name, "cluster.key"))
				(*files)++;
		} else if (list[i].type == PFS_ENTRY_DIR) {
			snprintf(child, sizeof(child), "%s/%s", strcmp(dir, "/") ? dir : "",
				 list[i].name);
			rv = count_files(child, files);
		}
	}
	pfs_list_free(list, n);
	return rv;
}

static int cmd_import(const struct opts *o, char **args)
{
	struct pfs_import_entry *list = NULL;
	char errmsg[512];
	size_t n = 0;
	long files = 0, failed = 0, imported = 0, skipped = 0;
	int rv;

	/* Check the file first: a missing file is the error to report. */
	rv = pfs_import_read(args[0], &list, &n, errmsg, sizeof(errmsg));
	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: cannot import %s: %s\n", args[0], errmsg);
		return rv == -ENOENT ? EXIT_NOT_FOUND : EXIT_ERROR;
	}
	rv = count_files("/", &files);
	if (rv < 0) {
		pfs_import_free(list, n);
		return fail(rv, "read", "the store");
	}
	if (files > 0) {
		pfs_import_free(list, n);
		fprintf(stderr, "pmxfsctl: cannot import %s: the store already contains %ld files; "
			"import needs an empty store\n", args[0], files);
		return EXIT_CONFLICT;
	}

	/* Parents come first; the store gives every entry a new inode. */
	for (size_t i = 0; i < n; i++) {
		struct pfs_import_entry *e = &list[i];

		/* pmxcfs keeps its held locks as folders below /priv/lock. They
		 * belong to the old cluster's running tasks, and here only lock
		 * requests create entries there. */
		if (strncmp(e->path, "/priv/lock/", 11) == 0) {
			if (!o->json)
				fprintf(stderr, "pmxfsctl: skipped %s: a pmxcfs lock of the old "
					"cluster, not carried over\n", e->path);
			skipped++;
			continue;
		}
		rv = e->is_dir ? pfs_mkdir(conn, e->path, NULL)
			       : pfs_create(conn, e->path, e->data, e->size, NULL, NULL);
		if (rv == -EEXIST && e->is_dir)
			rv = 0;
		if (rv < 0) {
			failed++;
			fail(rv, "import", e->path);
		} else {
			imported++;
		}
	}
	pfs_import_free(list, n);
	if (o->json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "imported", json_object_new_int64(imported));
		json_object_object_add(j, "failed", json_object_new_int64(failed));
		json_object_object_add(j, "skipped", json_object_new_int64(skipped));
		print_json(j);
	} else {
		printf("imported %ld entries, %ld failed, %ld pmxcfs locks skipped\n", imported,
		       failed, skipped);
	}
	return failed ? EXIT_ERROR : EXIT_OK;
}

static int cmd_locks(const struct opts *o, char **args)
{
	(void)args;
	return pmxfsctl_locks(conn, o->json);
}

static int cmd_request(const struct opts *o, char **args)
{
	return pmxfsctl_request(conn, args[0], args[1], o->data, o->timeout_ms, o->json);
}

struct command {
	const char *name;
	int nargs;
	int (*fn)(const struct opts *o, char **args);
	bool paths; /* every argument is a store path */
};

static const struct command commands[] = {
	{"status", 0, cmd_status, false}, {"ls", 1, cmd_ls, true},
	{"stat", 1, cmd_stat, true},      {"get", 1, cmd_get, true},
	{"put", 1, cmd_put, true},        {"create", 1, cmd_create, true},
	{"rm", 1, cmd_rm, true},          {"mkdir", 1, cmd_mkdir, true},
	{"rmdir", 1, cmd_rmdir, true},    {"mv", 2, cmd_mv, true},
	{"edit", 1, cmd_edit, true},      {"watch", 1, cmd_watch, true},
	{"digest", 0, cmd_digest, false}, {"import", 1, cmd_import, false},
	{"locks", 0, cmd_locks, false},   {"request", 2, cmd_request, false},
};

/*
 * Check a store path given on the command line and put it in the form the
 * daemon takes: it starts with '/', and trailing slashes are dropped
 * unless keep_trailing (watch prefixes) is set. Returns -EINVAL for an
 * empty or relative path, -ENAMETOOLONG for one over CLI_MAX_PATH bytes.
 */
static int normalize_path(const char *in, char *out, size_t size, bool keep_trailing)
{
	size_t len = strlen(in);

	if (in[0] != '/')
		return -EINVAL;
	if (len > CLI_MAX_PATH || len >= size)
		return -ENAMETOOLONG;
	memcpy(out, in, len + 1);
	while (!keep_trailing && len > 1 && out[len - 1] == '/')
		out[--len] = '\0';
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? -EINVAL : 0;
}

enum { OPT_JSON = 256, OPT_FORMAT, OPT_IF_VERSION, OPT_TOKEN, OPT_COUNT, OPT_TIMEOUT,
       OPT_DATA };

static const struct option long_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"output-format", required_argument, NULL, OPT_FORMAT},
	{"if-version", required_argument, NULL, OPT_IF_VERSION},
	{"token", required_argument, NULL, OPT_TOKEN},
	{"count", required_argument, NULL, OPT_COUNT},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"data", required_argument, NULL, OPT_DATA},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/*
 * The index of the command word: the first argument that is neither an
 * option nor the value of one ("--timeout 2000 lock" finds "lock").
 * Returns argc when there is none.
 */
static int command_index(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			return i + 1;
		if (a[0] != '-' || a[1] == '\0')
			return i;
		if (a[1] != '-' || strchr(a, '='))
			continue;
		for (const struct option *opt = long_options; opt->name; opt++)
			if (!strcmp(a + 2, opt->name) && opt->has_arg == required_argument)
				i++;
	}
	return argc;
}

/*
 * Parse the options of ARGV into *O with getopt_long. Returns -1 to go
 * on, or the exit code after --help or an error (reported on one line).
 */
static int parse_options(int argc, char **argv, struct opts *o)
{
	int c, option_index = 0;
	uint64_t v;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_options, &option_index)) != -1) {
		switch (c) {
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				fprintf(stderr, "pmxfsctl: --output-format takes json or text, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			o->json = !strcmp(optarg, "json");
			break;
		case OPT_IF_VERSION:
			if (parse_u64(optarg, &o->cond.version) < 0)
				goto bad_number;
			o->cond.has_version = 1;
			break;
		case OPT_TOKEN:
			if (parse_u64(optarg, &o->cond.token) < 0)
				goto bad_number;
			o->cond.has_token = 1;
			break;
		case OPT_COUNT:
			if (parse_u64(optarg, &v) < 0 || v > LONG_MAX)
				goto bad_number;
			o->count = (long)v;
			break;
		case OPT_TIMEOUT:
			if (parse_u64(optarg, &v) < 0 || v > 86400000)
				goto bad_number;
			o->timeout_ms = (int)v;
			break;
		case OPT_DATA:
			o->data = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case ':':
			fprintf(stderr, "pmxfsctl: option '%s' needs a value; see pmxfsctl --help\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			/* getopt gives a long option's value in optopt when the
			 * option takes no value but got one. */
			if (optopt >= OPT_JSON)
				fprintf(stderr, "pmxfsctl: option '%.*s' takes no value; see "
					"pmxfsctl --help\n",
					(int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
			else if (optopt)
				fprintf(stderr, "pmxfsctl: unknown option '-%c'; see pmxfsctl --help\n",
					optopt);
			else
				fprintf(stderr, "pmxfsctl: unknown option '%s'; see pmxfsctl --help\n",
					argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	return -1;

bad_number:
	fprintf(stderr, "pmxfsctl: invalid value '%s' for --%s: give a whole number%s\n", optarg,
		long_options[option_index].name,
		c == OPT_TIMEOUT ? " of milliseconds, 0 to 86400000"
		: c == OPT_COUNT ? ", 0 to 9223372036854775807"
				 : ", 0 to 18446744073709551615 (a version or token is never negative)");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct opts o = {.count = -1, .timeout_ms = -1};
	const struct command *cmd = NULL;
	const char *service;
	static char paths[2][CLI_PATH_SIZE];
	int rv, code, first = command_index(argc, argv);

	service = getenv("PMXFS_SERVICE");
	if (!service || !*service)
		service = "pmxfs";

	/* `lock` and `serve` have options of their own and a command line
	 * after "--"; the global options before them are parsed here. */
	if (first < argc && (!strcmp(argv[first], "lock") || !strcmp(argv[first], "serve"))) {
		code = parse_options(first, argv, &o);
		if (code >= 0)
			return code;
		if (o.cond.has_version || o.cond.has_token || o.count >= 0 || o.data) {
			fprintf(stderr, "pmxfsctl: %s takes only --json and --timeout before it; "
				"see pmxfsctl %s --help\n", argv[first], argv[first]);
			return EXIT_USAGE;
		}
		if (!strcmp(argv[first], "lock"))
			return pmxfsctl_lock_main(service, o.timeout_ms, argc - first, argv + first);
		return pmxfsctl_serve_main(service, o.timeout_ms, argc - first, argv + first);
	}

	code = parse_options(argc, argv, &o);
	if (code >= 0)
		return code;
	if (optind >= argc) {
		fprintf(stderr, "pmxfsctl: no command given; see pmxfsctl --help\n");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		char q[PMXFSCTL_QUOTE_SIZE];

		fprintf(stderr, "pmxfsctl: unknown command '%s'; see pmxfsctl --help\n",
			pmxfsctl_quote(argv[optind], q));
		return EXIT_USAGE;
	}
	if (argc - optind - 1 != cmd->nargs) {
		fprintf(stderr, "pmxfsctl: %s takes %d argument%s; see pmxfsctl --help\n", cmd->name,
			cmd->nargs, cmd->nargs == 1 ? "" : "s");
		return EXIT_USAGE;
	}
	for (int i = 0; cmd->paths && i < cmd->nargs; i++) {
		char **arg = &argv[optind + 1 + i];

		rv = normalize_path(*arg, paths[i], sizeof(paths[i]), !strcmp(cmd->name, "watch"));
		if (rv < 0) {
			char q[PMXFSCTL_QUOTE_SIZE];

			fprintf(stderr, "pmxfsctl: invalid path '%s' for %s: %s\n",
				pmxfsctl_quote(*arg, q), cmd->name,
				rv == -ENAMETOOLONG
					? "it is longer than the limit of 4096 bytes"
					: "give an absolute path in the store, starting with /, such as "
					  "/nodes/node1/lxc/100.conf");
			return EXIT_USAGE;
		}
		*arg = paths[i];
	}

	rv = pfs_connect_timeout(service, o.timeout_ms > 0 ? (uint32_t)o.timeout_ms : 0, &conn);
	if (rv == -ENOTCONN) {
		fprintf(stderr, "pmxfsctl: cannot connect to pmxfs: IPC service '%s' does not "
			"respond; is the daemon running, and is PMXFS_SERVICE its --service name?\n",
			service);
		return EXIT_ERROR;
	}
	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: cannot connect to pmxfs IPC service '%s': %s\n", service,
			rv == -ETIMEDOUT ? "the daemon did not accept in time" : strerror(-rv));
		return pmx_exit_code(rv);
	}
	code = cmd->fn(&o, argv + optind + 1);
	pfs_disconnect(conn);
	return code;
}
