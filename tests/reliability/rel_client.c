/*
 * rel_client: a client of the reliability tests. It makes random changes
 * through libpmxfs and liblock and writes every operation to a history of
 * JSON lines, which tests/reliability/checker.py checks.
 *
 *   rel_client run --id N --out FILE [--seconds S] [--stop-file F] [--seed X]
 *                  [--keys K] [--locks L] [--timeout MS]
 *   rel_client dump            print the test's part of the tree as JSON
 *   rel_client burst --out FILE --prefix P [--count N]
 *
 * `run` repeats, until S seconds passed or F exists: compare-and-swap
 * rounds on the keys /rel/k<i> (read, then create, write or delete with
 * the version read), creation and deletion of its own files
 * /rel/f/c<N>-<n>, and lock sessions on /priv/lock/rel-<j> with writes
 * to /rel/l<j> conditional on the fencing token.
 *
 * `burst` writes /P<n> for n = 0, 1, ... and logs each acknowledged one,
 * for the crash tests.
 *
 * Each operation writes an "invoke" line before it starts and one line
 * with its result after it ends, both with CLOCK_MONOTONIC times in ns
 * (one clock for every lab node, as they share the machine). Results:
 * "ok", "fail" (definitely not applied) or "info" (outcome unknown). An
 * invoke line without a result counts as "info".
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "lock/lock.h"
#include "pmxfs/pmxfs.h"

#define KEY_DIR "/rel"
#define FILE_DIR "/rel/f"
#define MAX_KEYS 64
#define MAX_FILES 4096
/* Lease of the test's locks: pmxfs takes at least four totem token
 * timeouts plus 5 s, 16.8 s on five lab nodes (token 1000 ms, plus 650 ms
 * per node above two). */
#define LOCK_LEASE_MS 20000u

struct key_state {
	int known;         /* the client read or wrote the key */
	int present;
	char value[64];
	uint64_t version;
};

struct client {
	int id;
	FILE *out;
	struct pfs_conn *conn;
	uint32_t timeout_ms;
	unsigned nkeys, nlocks;
	uint64_t next_op;
	uint64_t next_value;
	struct key_state keys[MAX_KEYS];
	uint64_t files[MAX_FILES]; /* numbers of own files believed to exist */
	unsigned nfiles;
	uint64_t next_file;
	unsigned seed;
};

static atomic_int_fast64_t lost_at; /* when the held lock was lost, ns */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static unsigned rnd(struct client *c, unsigned n)
{
	return (unsigned)rand_r(&c->seed) % n;
}

/* Whether an error means that the change was certainly not applied. */
static int definite_failure(int rc)
{
	switch (rc) {
	case -ESTALE:
	case -EEXIST:
	case -ENOENT:
	case -ENOLCK:
	case -EBUSY:
	case -EROFS:
	case -EAGAIN:
	case -EACCES:
	case -EINVAL:
	case -EFBIG:
	case -ENOSPC:
	case -EISDIR:
	case -ENOTDIR:
		return 1;
	default:
		return 0;
	}
}

static const char *result_type(int rc, int is_read)
{
	if (rc == 0)
		return "ok";
	if (is_read || definite_failure(rc))
		return "fail";
	return "info";
}

static struct json_object *op_new(struct client *c, const char *f, const char *key)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "client", json_object_new_int(c->id));
	json_object_object_add(o, "op", json_object_new_int64((int64_t)c->next_op));
	json_object_object_add(o, "f", json_object_new_string(f));
	if (key)
		json_object_object_add(o, "key", json_object_new_string(key));
	return o;
}

static void emit(struct client *c, struct json_object *o)
{
	fprintf(c->out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	fflush(c->out);
}

/* Write the invoke line of O (which stays owned by the caller). */
static void invoke(struct client *c, struct json_object *o)
{
	json_object_object_add(o, "type", json_object_new_string("invoke"));
	json_object_object_add(o, "time", json_object_new_int64(now_ns()));
	emit(c, o);
}

/* Write the result line of O and free it. */
static void complete(struct client *c, struct json_object *o, int rc, int is_read)
{
	json_object_object_add(o, "type", json_object_new_string(result_type(rc, is_read)));
	json_object_object_add(o, "time", json_object_new_int64(now_ns()));
	json_object_object_add(o, "rc", json_object_new_int(rc));
	if (rc < 0) {
		json_object_object_add(o, "error", json_object_new_string(strerror(-rc)));
		if (c->conn)
			json_object_object_add(o, "message",
					       json_object_new_string(pfs_last_error(c->conn)));
	}
	emit(c, o);
	json_object_put(o);
	c->next_op++;
}

static void disconnect(struct client *c)
{
	pfs_disconnect(c->conn);
	c->conn = NULL;
}

/* Connect unless connected; 0 or a negative errno value. */
static int ensure_conn(struct client *c)
{
	int rv;

	if (c->conn)
		return 0;
	rv = pfs_connect_timeout(NULL, c->timeout_ms, &c->conn);
	if (rv < 0) {
		c->conn = NULL;
		usleep(200 * 1000);
	}
	return rv;
}

/* After a lost reply the connection may still deliver it later. */
static void after_call(struct client *c, int rc)
{
	if (rc == -EINPROGRESS || rc == -ETIMEDOUT || rc == -ENOTCONN || rc == -EBADMSG)
		disconnect(c);
}

static void key_path(char *buf, size_t len, unsigned k)
{
	snprintf(buf, len, KEY_DIR "/k%u", k);
}

static void new_value(struct client *c, char *buf, size_t len)
{
	snprintf(buf, len, "c%d-%" PRIu64, c->id, c->next_value++);
}

static void op_read(struct client *c, unsigned k)
{
	struct key_state *ks = &c->keys[k];
	struct json_object *o;
	struct pfs_entry st;
	char path[64], key[16];
	char *data = NULL;
	size_t len = 0;
	int rc;

	key_path(path, sizeof(path), k);
	snprintf(key, sizeof(key), "k%u", k);
	o = op_new(c, "read", key);
	invoke(c, o);
	rc = pfs_get(c->conn, path, &data, &len, &st);
	if (rc == 0) {
		json_object_object_add(o, "value", json_object_new_string_len(data, (int)len));
		json_object_object_add(o, "version", json_object_new_int64((int64_t)st.version));
		ks->known = 1;
		ks->present = 1;
		snprintf(ks->value, sizeof(ks->value), "%.*s", (int)len, data);
		ks->version = st.version;
	} else if (rc == -ENOENT) {
		/* A read of a missing key succeeds with the value null. */
		json_object_object_add(o, "value", NULL);
		ks->known = 1;
		ks->present = 0;
		rc = 0;
	}
	free(data);
	complete(c, o, rc, 1);
	after_call(c, rc);
}

/* One change on key k from what the client last read: create when it was
 * missing, else write or delete with the version read. */
static void op_change(struct client *c, unsigned k)
{
	struct key_state *ks = &c->keys[k];
	struct pfs_cond cond = {0};
	struct json_object *o;
	char path[64], key[16], value[64];
	uint64_t version = 0;
	int rc, del = 0;

	key_path(path, sizeof(path), k);
	snprintf(key, sizeof(key), "k%u", k);
	new_value(c, value, sizeof(value));
	if (!ks->present) {
		o = op_new(c, "create", key);
		json_object_object_add(o, "value", json_object_new_string(value));
		invoke(c, o);
		rc = pfs_create(c->conn, path, value, strlen(value), NULL, &version);
	} else {
		del = rnd(c, 5) == 0;
		o = op_new(c, del ? "delete" : "cas", key);
		json_object_object_add(o, "expect", json_object_new_string(ks->value));
		json_object_object_add(o, "expect_version", json_object_new_int64((int64_t)ks->version));
		if (!del)
			json_object_object_add(o, "value", json_object_new_string(value));
		cond.has_version = 1;
		cond.version = ks->version;
		invoke(c, o);
		if (del)
			rc = pfs_delete(c->conn, path, &cond);
		else
			rc = pfs_write(c->conn, path, value, strlen(value), &cond, &version);
	}
	if (rc == 0 && !del) {
		json_object_object_add(o, "version", json_object_new_int64((int64_t)version));
		ks->present = 1;
		snprintf(ks->value, sizeof(ks->value), "%s", value);
		ks->version = version;
	} else if (rc == 0) {
		ks->present = 0;
	} else {
		/* Read again before the next change of this key. */
		ks->known = 0;
	}
	complete(c, o, rc, 0);
	after_call(c, rc);
}

static void op_file_create(struct client *c)
{
	struct json_object *o;
	char path[96], name[64];
	uint64_t n = c->next_file++;
	int rc;

	if (c->nfiles >= MAX_FILES)
		return;
	snprintf(name, sizeof(name), "c%d-%" PRIu64, c->id, n);
	snprintf(path, sizeof(path), FILE_DIR "/%s", name);
	o = op_new(c, "fcreate", name);
	invoke(c, o);
	rc = pfs_create(c->conn, path, name, strlen(name), NULL, NULL);
	/* Files of unknown outcome are deleted later too: they may exist. */
	if (rc == 0 || !definite_failure(rc))
		c->files[c->nfiles++] = n;
	complete(c, o, rc, 0);
	after_call(c, rc);
}

static void op_file_delete(struct client *c)
{
	struct json_object *o;
	char path[96], name[64];
	unsigned i;
	int rc;

	if (c->nfiles == 0)
		return;
	i = rnd(c, c->nfiles);
	snprintf(name, sizeof(name), "c%d-%" PRIu64, c->id, c->files[i]);
	snprintf(path, sizeof(path), FILE_DIR "/%s", name);
	o = op_new(c, "fdelete", name);
	invoke(c, o);
	rc = pfs_delete(c->conn, path, NULL);
	if (rc == 0 || rc == -ENOENT)
		c->files[i] = c->files[--c->nfiles];
	complete(c, o, rc, 0);
	after_call(c, rc);
}

static void on_lost(struct lock *lock, void *ctx)
{
	(void)lock;
	(void)ctx;
	atomic_store(&lost_at, now_ns());
}

/*
 * A lock session: acquire rel-<j>, write /rel/l<j> with the token one to
 * three times, release. The "hold" line records the span in which this
 * client believed it held the lock: from the acquire's reply to the
 * release request, or to the moment liblock declared the lock lost.
 */
static void op_lock_session(struct client *c, unsigned j)
{
	char name[32], path[64], errmsg[LOCK_ERRMSG_SIZE], value[64];
	struct json_object *o;
	struct lock *lock = NULL;
	int64_t acquired, until;
	unsigned writes, w;
	uint64_t token, version;
	int rc, held;

	snprintf(name, sizeof(name), "rel-%u", j);
	snprintf(path, sizeof(path), KEY_DIR "/l%u", j);
	atomic_store(&lost_at, 0);
	o = op_new(c, "acquire", name);
	invoke(c, o);
	rc = lock_acquire(NULL, name, LOCK_LEASE_MS, 2000, on_lost, NULL, &lock, errmsg);
	if (rc == 0)
		json_object_object_add(o, "token", json_object_new_int64((int64_t)lock_token(lock)));
	/* liblock's connection is its own: an acquire is a change whose
	 * outcome the caller cannot see after a lost reply. */
	if (rc < 0)
		json_object_object_add(o, "lock_error", json_object_new_string(errmsg));
	complete(c, o, rc == -ETIMEDOUT ? -EBUSY : rc, 0);
	if (rc < 0)
		return;
	acquired = now_ns();
	token = lock_token(lock);

	writes = 1 + rnd(c, 3);
	for (w = 0; w < writes && lock_held(lock); w++) {
		if (ensure_conn(c) < 0)
			break;
		new_value(c, value, sizeof(value));
		o = op_new(c, "lockwrite", name);
		json_object_object_add(o, "token", json_object_new_int64((int64_t)token));
		json_object_object_add(o, "value", json_object_new_string(value));
		invoke(c, o);
		version = 0;
		rc = lock_write(c->conn, lock, path, value, strlen(value), NULL, &version, errmsg);
		if (rc == 0)
			json_object_object_add(o, "version", json_object_new_int64((int64_t)version));
		complete(c, o, rc, 0);
		after_call(c, rc);
		usleep(100 * 1000 * rnd(c, 5));
	}

	held = lock_held(lock);
	until = now_ns();
	if (!held && atomic_load(&lost_at) != 0)
		until = atomic_load(&lost_at);
	o = op_new(c, "hold", name);
	json_object_object_add(o, "token", json_object_new_int64((int64_t)token));
	json_object_object_add(o, "start", json_object_new_int64(acquired));
	json_object_object_add(o, "end", json_object_new_int64(until));
	json_object_object_add(o, "lost", json_object_new_boolean(!held));
	json_object_object_add(o, "type", json_object_new_string("hold"));
	emit(c, o);
	json_object_put(o);

	o = op_new(c, "release", name);
	json_object_object_add(o, "token", json_object_new_int64((int64_t)token));
	invoke(c, o);
	rc = lock_release(lock, errmsg);
	complete(c, o, rc, 0);
}

static void run(struct client *c, unsigned seconds, const char *stop_file)
{
	int64_t end = now_ns() + (int64_t)seconds * 1000000000;
	unsigned dice, k;

	while (now_ns() < end && !(stop_file && access(stop_file, F_OK) == 0)) {
		if (ensure_conn(c) < 0)
			continue;
		dice = rnd(c, 100);
		k = rnd(c, c->nkeys);
		if (dice < 60) {
			if (!c->keys[k].known || rnd(c, 3) == 0)
				op_read(c, k);
			else
				op_change(c, k);
		} else if (dice < 75) {
			op_file_create(c);
		} else if (dice < 85) {
			op_file_delete(c);
		} else if (c->nlocks > 0 && dice < 90) {
			op_lock_session(c, rnd(c, c->nlocks));
		} else {
			usleep(20 * 1000);
		}
	}
	disconnect(c);
}

/* Add the files under dir to obj (name -> {"value", "version"}), and
 * subfolders recursively when recurse is set. */
static int dump_dir(struct pfs_conn *conn, const char *dir, int recurse, struct json_object *obj)
{
	struct pfs_entry *list = NULL;
	size_t n = 0, i, len;
	char path[4200], *data;
	int rv;

	rv = pfs_list(conn, dir, &list, &n);
	if (rv < 0)
		return rv == -ENOENT ? 0 : rv;
	for (i = 0; i < n && rv == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list[i].name);
		if (list[i].type == PFS_ENTRY_DIR) {
			if (recurse)
				rv = dump_dir(conn, path, 1, obj);
			continue;
		}
		data = NULL;
		rv = pfs_get(conn, path, &data, &len, NULL);
		if (rv < 0)
			break;
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "value", json_object_new_string_len(data, (int)len));
		json_object_object_add(e, "version", json_object_new_int64((int64_t)list[i].version));
		json_object_object_add(obj, recurse ? path : list[i].name, e);
		free(data);
	}
	pfs_list_free(list, n);
	return rv;
}

/* Print {"keys": {...}, "files": {...}, "lost+found": {...}, "digest"}. */
static int dump(void)
{
	struct json_object *root = json_object_new_object();
	struct json_object *keys = json_object_new_object(), *files = json_object_new_object();
	struct json_object *lost = json_object_new_object();
	struct pfs_conn *conn;
	char digest[65];
	int rv;

	rv = pfs_connect_timeout(NULL, 30000, &conn);
	if (rv < 0) {
		fprintf(stderr, "rel_client: cannot connect to pmxfs: %s\n", strerror(-rv));
		json_object_put(root);
		return 1;
	}
	rv = dump_dir(conn, KEY_DIR, 0, keys);
	if (rv == 0)
		rv = dump_dir(conn, FILE_DIR, 0, files);
	if (rv == 0)
		rv = dump_dir(conn, "/lost+found", 1, lost);
	if (rv == 0)
		rv = pfs_digest(conn, digest);
	if (rv < 0) {
		fprintf(stderr, "rel_client: dump failed: %s (%s)\n", strerror(-rv),
			pfs_last_error(conn));
		pfs_disconnect(conn);
		json_object_put(root);
		json_object_put(keys);
		json_object_put(files);
		json_object_put(lost);
		return 1;
	}
	json_object_object_add(root, "keys", keys);
	json_object_object_add(root, "files", files);
	json_object_object_add(root, "lost+found", lost);
	json_object_object_add(root, "digest", json_object_new_string(digest));
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	pfs_disconnect(conn);
	return 0;
}

/* Write /PREFIX<n> until killed or count reached; print each
 * acknowledged n to OUT with fsync, so a SIGKILL of the daemon leaves a
 * list of writes that must have survived. */
static int burst(const char *out_path, const char *prefix, unsigned count, uint32_t timeout_ms)
{
	struct pfs_conn *conn = NULL;
	char path[256], data[64];
	FILE *out;
	unsigned n;
	int rv;

	out = fopen(out_path, "a");
	if (!out) {
		fprintf(stderr, "rel_client: cannot open %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	path[0] = '\0';
	rv = pfs_connect_timeout(NULL, timeout_ms, &conn);
	for (n = 0; rv == 0 && n < count; n++) {
		snprintf(path, sizeof(path), "/%s%u", prefix, n);
		snprintf(data, sizeof(data), "burst %u", n);
		rv = pfs_write(conn, path, data, strlen(data), NULL, NULL);
		if (rv == 0) {
			fprintf(out, "%s\n", path);
			fflush(out);
			fdatasync(fileno(out));
		}
	}
	if (rv < 0)
		fprintf(stderr, "rel_client: burst stopped at %s: %s\n", path,
			conn ? pfs_last_error(conn) : strerror(-rv));
	pfs_disconnect(conn);
	fclose(out);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rel_client run --id N --out FILE [--seconds S] [--stop-file F] [--seed X]\n"
		"                      [--keys K] [--locks L] [--timeout MS]\n"
		"       rel_client dump\n"
		"       rel_client burst --out FILE --prefix P [--count N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"id", required_argument, NULL, 'i'},	   {"out", required_argument, NULL, 'o'},
		{"seconds", required_argument, NULL, 's'}, {"stop-file", required_argument, NULL, 'S'},
		{"seed", required_argument, NULL, 'r'},	   {"keys", required_argument, NULL, 'k'},
		{"locks", required_argument, NULL, 'l'},   {"timeout", required_argument, NULL, 't'},
		{"prefix", required_argument, NULL, 'p'},  {"count", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	struct client c = {.nkeys = 8, .nlocks = 2, .timeout_ms = 35000, .seed = 1};
	const char *out = NULL, *stop_file = NULL, *prefix = "burst-", *mode;
	unsigned seconds = 60, count = 1000000;
	int opt;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': c.id = atoi(optarg); break;
		case 'o': out = optarg; break;
		case 's': seconds = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S': stop_file = optarg; break;
		case 'r': c.seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k': c.nkeys = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': c.nlocks = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': c.timeout_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'p': prefix = optarg; break;
		case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(mode, "dump"))
		return dump();
	if (!strcmp(mode, "burst")) {
		if (!out)
			usage();
		return burst(out, prefix, count, c.timeout_ms);
	}
	if (strcmp(mode, "run") || !out || c.nkeys == 0 || c.nkeys > MAX_KEYS)
		usage();
	c.out = fopen(out, "a");
	if (!c.out) {
		fprintf(stderr, "rel_client: cannot open %s: %s\n", out, strerror(errno));
		return 1;
	}
	run(&c, seconds, stop_file);
	fclose(c.out);
	return 0;
}
