/*
 * cluster_bench: the per-node client of bench/run-cluster-bench. Each
 * subcommand runs against the pmxfs of the node it runs on (or, for
 * sqlite, in a folder of that node) and prints its result as described
 * in bench_util.h.
 *
 *   write CLIENTS SIZE SECONDS START PREFIX
 *       CLIENTS threads, each with its own connection, replace their own
 *       file PREFIX/cN with SIZE bytes as fast as the replies come.
 *   sqlite DIR SIZE SECONDS START
 *       single-row commits into DIR/bench-sqlite.db with the store's
 *       schema and settings (WAL, synchronous=FULL), one REPLACE of a
 *       SIZE-byte row per transaction.
 *   lock NAME SECONDS START
 *       lock_acquire() and lock_release() of a free lock, one at a time;
 *       a latency is one acquire plus release.
 *   rawlock NAME SECONDS START
 *       pfs_lock_acquire() and pfs_lock_release() of a free lock on one
 *       kept connection, without liblock's connection and threads.
 *   connect SECONDS START
 *       pfs_connect() and pfs_disconnect(), one at a time.
 *   handover NAME SECONDS START
 *       lock_acquire() waiting in the queue, then lock_release(), in a
 *       loop; run one per node on the same NAME. ops are acquisitions, a
 *       latency is the time from the acquire request to the grant.
 *   fill CLIENTS FIRST COUNT SIZE PREFIX
 *       COUNT writes of the files PREFIX/dN/fM, M from FIRST on and N =
 *       M % 100, of SIZE bytes each, spread over CLIENTS threads; prints
 *       the elapsed seconds.
 *   wait-digest HEX SINCE TIMEOUT
 *       poll the digest every 5 ms, connecting as soon as the daemon
 *       listens, until it is HEX. Prints the seconds from SINCE (a
 *       CLOCK_REALTIME epoch) to the first match and to the daemon's
 *       first reply. Fails after TIMEOUT seconds.
 *
 * START is a CLOCK_REALTIME epoch in seconds at which every process of
 * one measurement begins its window (0: at once).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "bench/bench_util.h"
#include "lock/lock.h"
#include "pmxfs/pmxfs.h"

static double window_start, window_end;
static atomic_int failures;

struct client {
	pthread_t thread;
	int id;
	size_t size;
	const char *prefix;
	long first, count; /* fill: the files first to first + count - 1 */
	long ops;
	struct bench_samples latencies;
};

static void fail(const char *what, int rv, struct pfs_conn *conn)
{
	if (atomic_fetch_add(&failures, 1) < 5)
		fprintf(stderr, "cluster_bench: %s failed: %s (%s)\n", what, strerror(-rv),
			conn ? pfs_last_error(conn) : "no connection");
}

static void *run_writer(void *arg)
{
	struct client *c = arg;
	struct pfs_conn *conn;
	char path[256], *data;
	int rv;

	data = malloc(c->size);
	rv = data ? pfs_connect(NULL, &conn) : -ENOMEM;
	if (rv < 0) {
		fail("connecting", rv, NULL);
		free(data);
		return NULL;
	}
	memset(data, 'w', c->size);
	snprintf(path, sizeof(path), "%s/c%d", c->prefix, c->id);
	bench_sleep(window_start - bench_mono());
	for (;;) {
		double t0 = bench_mono(), t1;

		if (t0 >= window_end)
			break;
		rv = pfs_write(conn, path, data, c->size, NULL, NULL);
		t1 = bench_mono();
		if (rv < 0) {
			fail("pfs_write", rv, conn);
			break;
		}
		if (t1 < window_end) {
			c->ops++;
			bench_samples_add(&c->latencies, t1 - t0);
		}
	}
	pfs_disconnect(conn);
	free(data);
	return NULL;
}

static void *run_filler(void *arg)
{
	struct client *c = arg;
	struct pfs_conn *conn;
	char path[256], *data;
	int rv;

	data = malloc(c->size);
	rv = data ? pfs_connect(NULL, &conn) : -ENOMEM;
	if (rv < 0) {
		fail("connecting", rv, NULL);
		free(data);
		return NULL;
	}
	memset(data, 'f', c->size);
	for (long i = c->first; i < c->first + c->count; i++) {
		snprintf(path, sizeof(path), "%s/d%ld/f%ld", c->prefix, i % 100, i);
		rv = pfs_write(conn, path, data, c->size, NULL, NULL);
		if (rv < 0) {
			fail("pfs_write", rv, conn);
			break;
		}
		c->ops++;
	}
	pfs_disconnect(conn);
	free(data);
	return NULL;
}

static void print_clients(struct client *clients, int n, double seconds)
{
	long ops = 0;

	for (int i = 0; i < n; i++)
		ops += clients[i].ops;
	printf("# ops=%ld seconds=%.3f\n", ops, seconds);
	for (int i = 0; i < n; i++)
		bench_samples_print(&clients[i].latencies, stdout);
}

static int run_threads(struct client *clients, int n, void *(*fn)(void *))
{
	for (int i = 0; i < n; i++) {
		int rv = pthread_create(&clients[i].thread, NULL, fn, &clients[i]);

		if (rv != 0) {
			fprintf(stderr, "cluster_bench: starting thread %d failed: %s\n", i,
				strerror(rv));
			exit(1);
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(clients[i].thread, NULL);
	return atomic_load(&failures) ? 1 : 0;
}

static int cmd_write(int n, size_t size, double seconds, double start, const char *prefix)
{
	struct client *clients = calloc((size_t)n, sizeof(*clients));
	struct pfs_conn *conn;
	int rv;

	if (!clients)
		return 1;
	rv = pfs_connect(NULL, &conn);
	if (rv < 0) {
		fail("connecting", rv, NULL);
		return 1;
	}
	rv = pfs_mkdir(conn, prefix, NULL);
	if (rv < 0 && rv != -EEXIST) {
		fail("pfs_mkdir", rv, conn);
		return 1;
	}
	pfs_disconnect(conn);

	window_start = bench_start_mono(start);
	window_end = window_start + seconds;
	for (int i = 0; i < n; i++) {
		clients[i].id = i;
		clients[i].size = size;
		clients[i].prefix = prefix;
	}
	rv = run_threads(clients, n, run_writer);
	print_clients(clients, n, seconds);
	return rv;
}

static int cmd_fill(int n, long first, long count, size_t size, const char *prefix)
{
	struct client *clients = calloc((size_t)n, sizeof(*clients));
	struct pfs_conn *conn;
	char path[256];
	double t0;
	int rv;

	if (!clients)
		return 1;
	rv = pfs_connect(NULL, &conn);
	if (rv < 0) {
		fail("connecting", rv, NULL);
		return 1;
	}
	rv = pfs_mkdir(conn, prefix, NULL);
	for (int d = 0; d < 100 && (rv >= 0 || rv == -EEXIST); d++) {
		snprintf(path, sizeof(path), "%s/d%d", prefix, d);
		rv = pfs_mkdir(conn, path, NULL);
	}
	if (rv < 0 && rv != -EEXIST) {
		fail("pfs_mkdir", rv, conn);
		return 1;
	}
	pfs_disconnect(conn);

	t0 = bench_mono();
	for (int i = 0; i < n; i++) {
		clients[i].size = size;
		clients[i].prefix = prefix;
		clients[i].first = first;
		clients[i].count = count / n + (i < count % n);
		first += clients[i].count;
	}
	rv = run_threads(clients, n, run_filler);
	printf("%.3f\n", bench_mono() - t0);
	return rv;
}

static int cmd_sqlite(const char *dir, size_t size, double seconds, double start)
{
	struct bench_samples latencies = {0};
	char path[4096], *data;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long n = 0, ops = 0;

	snprintf(path, sizeof(path), "%s/bench-sqlite.db", dir);
	remove(path);
	data = malloc(size);
	if (!data)
		return 1;
	memset(data, 's', size);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE tree (inode INTEGER PRIMARY KEY, parent INTEGER NOT NULL,"
			 " version INTEGER NOT NULL, writer INTEGER NOT NULL, mtime INTEGER NOT NULL,"
			 " type INTEGER NOT NULL, name TEXT NOT NULL, data BLOB);",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "REPLACE INTO tree VALUES (?, 1, ?, 1, 0, 8, 'f', ?)", -1, &st,
			       NULL) != SQLITE_OK) {
		fprintf(stderr, "cluster_bench: sqlite setup in %s failed: %s\n", path,
			sqlite3_errmsg(db));
		return 1;
	}

	window_start = bench_start_mono(start);
	window_end = window_start + seconds;
	bench_sleep(window_start - bench_mono());
	for (;;) {
		double t0 = bench_mono(), t1;
		int rv;

		if (t0 >= window_end)
			break;
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_bind_int64(st, 1, n % 32 + 2);
		sqlite3_bind_int64(st, 2, n);
		sqlite3_bind_blob(st, 3, data, (int)size, SQLITE_STATIC);
		rv = sqlite3_step(st);
		sqlite3_reset(st);
		if (rv != SQLITE_DONE ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "cluster_bench: commit in %s failed: %s\n", path,
				sqlite3_errmsg(db));
			return 1;
		}
		t1 = bench_mono();
		n++;
		if (t1 < window_end) {
			ops++;
			bench_samples_add(&latencies, t1 - t0);
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	remove(path);
	snprintf(path, sizeof(path), "%s/bench-sqlite.db-wal", dir);
	remove(path);
	snprintf(path, sizeof(path), "%s/bench-sqlite.db-shm", dir);
	remove(path);
	free(data);
	printf("# ops=%ld seconds=%.3f\n", ops, seconds);
	bench_samples_print(&latencies, stdout);
	return 0;
}

/*
 * Acquire and release NAME in a loop. CONTENDED waits in the store's
 * queue (up to 30 s) and times the acquire alone. Otherwise the lock
 * must be free, and a latency is the acquire plus the release.
 */
static int cmd_lock(const char *name, double seconds, double start, bool contended)
{
	struct bench_samples latencies = {0};
	char errmsg[LOCK_ERRMSG_SIZE];
	long ops = 0;

	window_start = bench_start_mono(start);
	window_end = window_start + seconds;
	bench_sleep(window_start - bench_mono());
	for (;;) {
		struct lock *lock;
		double t0 = bench_mono(), t1, t2;
		int rv;

		if (t0 >= window_end)
			break;
		rv = lock_acquire(NULL, name, 0, contended ? 30000 : 0, NULL, NULL, &lock, errmsg);
		t1 = bench_mono();
		if (rv < 0) {
			fprintf(stderr, "cluster_bench: %s\n", errmsg);
			return 1;
		}
		rv = lock_release(lock, errmsg);
		t2 = bench_mono();
		if (rv < 0) {
			fprintf(stderr, "cluster_bench: %s\n", errmsg);
			return 1;
		}
		if (t2 < window_end) {
			ops++;
			bench_samples_add(&latencies, contended ? t1 - t0 : t2 - t0);
		}
	}
	printf("# ops=%ld seconds=%.3f\n", ops, seconds);
	bench_samples_print(&latencies, stdout);
	return 0;
}

static int cmd_rawlock(const char *name, double seconds, double start)
{
	struct bench_samples latencies = {0};
	struct pfs_conn *conn;
	long ops = 0;
	int rv;

	rv = pfs_connect(NULL, &conn);
	if (rv < 0) {
		fail("connecting", rv, NULL);
		return 1;
	}
	window_start = bench_start_mono(start);
	window_end = window_start + seconds;
	bench_sleep(window_start - bench_mono());
	for (;;) {
		double t0 = bench_mono(), t1;
		uint64_t token;

		if (t0 >= window_end)
			break;
		rv = pfs_lock_acquire(conn, name, 0, 0, &token);
		if (rv < 0) {
			fail("pfs_lock_acquire", rv, conn);
			return 1;
		}
		rv = pfs_lock_release(conn, name, token);
		if (rv < 0) {
			fail("pfs_lock_release", rv, conn);
			return 1;
		}
		t1 = bench_mono();
		if (t1 < window_end) {
			ops++;
			bench_samples_add(&latencies, t1 - t0);
		}
	}
	pfs_disconnect(conn);
	printf("# ops=%ld seconds=%.3f\n", ops, seconds);
	bench_samples_print(&latencies, stdout);
	return 0;
}

static int cmd_connect(double seconds, double start)
{
	struct bench_samples latencies = {0};
	long ops = 0;

	window_start = bench_start_mono(start);
	window_end = window_start + seconds;
	bench_sleep(window_start - bench_mono());
	for (;;) {
		struct pfs_conn *conn;
		double t0 = bench_mono(), t1;
		int rv;

		if (t0 >= window_end)
			break;
		rv = pfs_connect(NULL, &conn);
		if (rv < 0) {
			fail("connecting", rv, NULL);
			return 1;
		}
		pfs_disconnect(conn);
		t1 = bench_mono();
		if (t1 < window_end) {
			ops++;
			bench_samples_add(&latencies, t1 - t0);
		}
	}
	printf("# ops=%ld seconds=%.3f\n", ops, seconds);
	bench_samples_print(&latencies, stdout);
	return 0;
}

static int cmd_wait_digest(const char *want, double since, double timeout)
{
	struct pfs_conn *conn = NULL;
	double deadline = bench_mono() + timeout, first_reply = -1;
	char digest[65] = "";

	while (bench_mono() < deadline) {
		if (!conn && pfs_connect_timeout(NULL, 1000, &conn) < 0)
			conn = NULL;
		if (conn && pfs_digest(conn, digest) < 0) {
			pfs_disconnect(conn);
			conn = NULL;
		}
		if (conn && first_reply < 0)
			first_reply = bench_real() - since;
		if (conn && strcmp(digest, want) == 0) {
			printf("%.3f %.3f\n", bench_real() - since, first_reply);
			pfs_disconnect(conn);
			return 0;
		}
		bench_sleep(0.005);
	}
	fprintf(stderr, "cluster_bench: digest is still %s, not %s, after %.0f s\n",
		digest[0] ? digest : "(no reply)", want, timeout);
	return 1;
}

static int usage(void)
{
	fprintf(stderr,
		"Usage: cluster_bench write CLIENTS SIZE SECONDS START PREFIX\n"
		"       cluster_bench sqlite DIR SIZE SECONDS START\n"
		"       cluster_bench lock NAME SECONDS START\n"
		"       cluster_bench rawlock NAME SECONDS START\n"
		"       cluster_bench connect SECONDS START\n"
		"       cluster_bench handover NAME SECONDS START\n"
		"       cluster_bench fill CLIENTS FIRST COUNT SIZE PREFIX\n"
		"       cluster_bench wait-digest HEX SINCE TIMEOUT\n"
		"SIZE in bytes, SECONDS of measurement, START a CLOCK_REALTIME epoch (0: now).\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (strcmp(cmd, "write") == 0 && argc == 7 && atoi(argv[2]) > 0)
		return cmd_write(atoi(argv[2]), (size_t)atol(argv[3]), atof(argv[4]), atof(argv[5]),
				 argv[6]);
	if (strcmp(cmd, "sqlite") == 0 && argc == 6)
		return cmd_sqlite(argv[2], (size_t)atol(argv[3]), atof(argv[4]), atof(argv[5]));
	if (strcmp(cmd, "lock") == 0 && argc == 5)
		return cmd_lock(argv[2], atof(argv[3]), atof(argv[4]), false);
	if (strcmp(cmd, "rawlock") == 0 && argc == 5)
		return cmd_rawlock(argv[2], atof(argv[3]), atof(argv[4]));
	if (strcmp(cmd, "connect") == 0 && argc == 4)
		return cmd_connect(atof(argv[2]), atof(argv[3]));
	if (strcmp(cmd, "handover") == 0 && argc == 5)
		return cmd_lock(argv[2], atof(argv[3]), atof(argv[4]), true);
	if (strcmp(cmd, "fill") == 0 && argc == 7 && atoi(argv[2]) > 0)
		return cmd_fill(atoi(argv[2]), atol(argv[3]), atol(argv[4]), (size_t)atol(argv[5]),
				argv[6]);
	if (strcmp(cmd, "wait-digest") == 0 && argc == 5)
		return cmd_wait_digest(argv[2], atof(argv[3]), atof(argv[4]));
	return usage();
}
