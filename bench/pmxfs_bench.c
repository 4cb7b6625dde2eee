/*
 * pmxfs_bench: measure a running pmxfs against plain sqlite, in one run.
 *
 *   1. single-row sqlite commits in DIR (WAL, synchronous=FULL, the
 *      settings of the store), one REPLACE per transaction;
 *   2. writes per second through the API from N client threads, each
 *      replacing its own file (the daemon commits a round per loop turn);
 *   3. reads per second through the API from N client threads.
 *
 * Usage: pmxfs_bench DIR [SECONDS] [CLIENTS]
 * The daemon must run with its data folder on the same disk as DIR.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "pmxfs/pmxfs.h"

static double seconds = 5;
static atomic_long ops;
static atomic_int failures;
static atomic_bool stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double sqlite_commits(const char *dir)
{
	char path[4096], data[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double start, elapsed;
	long n = 0;

	snprintf(path, sizeof(path), "%s/bench-sqlite.db", dir);
	remove(path);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE tree (inode INTEGER PRIMARY KEY, parent INTEGER, version INTEGER,"
			 " writer INTEGER, mtime INTEGER, type INTEGER, name TEXT, data BLOB);",
			 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "REPLACE INTO tree VALUES (?, 0, ?, 1, 0, 8, 'f', ?)", -1, &st,
			       NULL) != SQLITE_OK) {
		fprintf(stderr, "pmxfs_bench: sqlite setup in %s failed: %s\n", dir,
			sqlite3_errmsg(db));
		exit(1);
	}
	memset(data, 'x', sizeof(data));
	start = now();
	while ((elapsed = now() - start) < seconds) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_bind_int64(st, 1, n % 32);
		sqlite3_bind_int64(st, 2, n);
		sqlite3_bind_blob(st, 3, data, sizeof(data), SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	remove(path);
	return (double)n / elapsed;
}

struct worker {
	pthread_t thread;
	int id;
	int write;
};

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct pfs_conn *conn;
	char path[64], data[256], *got;
	size_t len;

	if (pfs_connect(NULL, &conn) < 0) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	memset(data, 'x', sizeof(data));
	snprintf(path, sizeof(path), "/bench/client-%d", w->id);
	while (!atomic_load(&stop)) {
		int rv;

		if (w->write) {
			rv = pfs_write(conn, path, data, sizeof(data), NULL, NULL);
		} else {
			rv = pfs_get(conn, "/bench/read", &got, &len, NULL);
			if (rv == 0)
				free(got);
		}
		if (rv < 0)
			atomic_fetch_add(&failures, 1);
		else
			atomic_fetch_add(&ops, 1);
	}
	pfs_disconnect(conn);
	return NULL;
}

static double api_rate(int clients, int write)
{
	struct worker *workers = calloc((size_t)clients, sizeof(*workers));
	struct timespec pause = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
	double start, elapsed;

	if (!workers)
		exit(1);
	atomic_store(&ops, 0);
	atomic_store(&stop, false);
	start = now();
	for (int i = 0; i < clients; i++) {
		workers[i].id = i;
		workers[i].write = write;
		pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]);
	}
	nanosleep(&pause, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < clients; i++)
		pthread_join(workers[i].thread, NULL);
	elapsed = now() - start;
	free(workers);
	return (double)atomic_load(&ops) / elapsed;
}

int main(int argc, char **argv)
{
	struct pfs_conn *conn;
	int clients = 32;
	double commits, writes, reads;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "Usage: pmxfs_bench DIR [SECONDS] [CLIENTS]\n");
		return 2;
	}
	if (argc > 2)
		seconds = atof(argv[2]);
	if (argc > 3)
		clients = atoi(argv[3]);
	if (seconds <= 0 || clients <= 0) {
		fprintf(stderr, "pmxfs_bench: SECONDS and CLIENTS must be positive\n");
		return 2;
	}

	if (pfs_connect(NULL, &conn) < 0) {
		fprintf(stderr, "pmxfs_bench: cannot connect to pmxfs; start it first\n");
		return 1;
	}
	pfs_mkdir(conn, "/bench", NULL);
	if (pfs_write(conn, "/bench/read", "memory: 512\n", 12, NULL, NULL) < 0) {
		fprintf(stderr, "pmxfs_bench: cannot write /bench/read: %s\n", pfs_last_error(conn));
		return 1;
	}
	pfs_disconnect(conn);

	commits = sqlite_commits(argv[1]);
	writes = api_rate(clients, 1);
	reads = api_rate(clients, 0);
	printf("sqlite single-row commits/s (WAL, synchronous=FULL): %.0f\n", commits);
	printf("pmxfs writes/s, %d clients: %.0f\n", clients, writes);
	printf("pmxfs reads/s, %d clients: %.0f\n", clients, reads);
	printf("failed requests: %d\n", atomic_load(&failures));
	return atomic_load(&failures) ? 1 : 0;
}
