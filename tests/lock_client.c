/*
 * lock_client: a liblock client for tests/cluster/lock-3node.test, which
 * runs one on each lab node. It is faster than shell loops of pmxfsctl
 * and records what the test checks.
 *
 *   lock_client rounds NAME ROUNDS PATH LEASE_MS START_MS
 *       ROUNDS times: acquire NAME, read the counter file PATH, write
 *       counter+1 conditional on the token, release. One line per round:
 *       "TOKEN ACQUIRED_NS RELEASING_NS VALUE_WRITTEN", times on
 *       CLOCK_MONOTONIC (one clock for every node of the lab).
 *   lock_client share NAME TOTAL PATH LEASE_MS START_MS
 *       Loop like rounds until the counter reaches TOTAL; print
 *       "grants N", the rounds this client won.
 *   lock_client hold NAME LEASE_MS PATH WAIT_MS
 *       Acquire NAME, print "acquired TOKEN", wait up to WAIT_MS for the
 *       lock to be lost, then print "lost CAUSE AFTER_MS" (or "held") and
 *       "write RC" for a token-conditional write of PATH after the loss.
 *
 * START_MS is a CLOCK_REALTIME time in milliseconds at which every client
 * starts, so that no node gets a head start. Exit status 0, or 1 with a
 * message on stderr.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock/lock.h"

#define ACQUIRE_TIMEOUT_MS 60000u

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wait_until_ms(int64_t start_ms)
{
	int64_t left_ns = start_ms * 1000000 - clock_ns(CLOCK_REALTIME);
	struct timespec ts;

	if (left_ns <= 0)
		return;
	ts.tv_sec = left_ns / 1000000000;
	ts.tv_nsec = left_ns % 1000000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int fail(const char *step, const char *errmsg, int rv)
{
	fprintf(stderr, "lock_client: %s failed: %s\n", step, errmsg[0] ? errmsg : strerror(-rv));
	return 1;
}

/*
 * One round: acquire, read PATH, write the value plus one with the token,
 * release. *written is the value written, or -1 when the counter had
 * reached limit (then nothing is written).
 */
static int one_round(struct pfs_conn *conn, const char *name, const char *path,
		     uint32_t lease_ms, long limit, long *written, uint64_t *token,
		     int64_t *acquired_ns, int64_t *releasing_ns)
{
	char errmsg[LOCK_ERRMSG_SIZE] = "", value[32], *data = NULL;
	struct lock *lock = NULL;
	long counter;
	int rv;

	rv = lock_acquire(NULL, name, lease_ms, ACQUIRE_TIMEOUT_MS, NULL, NULL, &lock, errmsg);
	if (rv < 0)
		return fail("acquire", errmsg, rv);
	*acquired_ns = clock_ns(CLOCK_MONOTONIC);
	*token = lock_token(lock);

	rv = pfs_get(conn, path, &data, NULL, NULL);
	if (rv < 0) {
		lock_release(lock, NULL);
		return fail("read the counter", pfs_last_error(conn), rv);
	}
	counter = strtol(data, NULL, 10);
	free(data);
	*written = -1;
	if (limit < 0 || counter < limit) {
		snprintf(value, sizeof(value), "%ld", counter + 1);
		rv = lock_write(conn, lock, path, value, strlen(value), NULL, NULL, errmsg);
		if (rv < 0) {
			lock_release(lock, NULL);
			return fail("write the counter", errmsg, rv);
		}
		*written = counter + 1;
	}

	*releasing_ns = clock_ns(CLOCK_MONOTONIC);
	rv = lock_release(lock, errmsg);
	if (rv < 0)
		return fail("release", errmsg, rv);
	return 0;
}

static int cmd_rounds(struct pfs_conn *conn, char **argv, bool share)
{
	const char *name = argv[0], *path = argv[2];
	long count = strtol(argv[1], NULL, 10), grants = 0, written;
	uint32_t lease_ms = (uint32_t)strtoul(argv[3], NULL, 10);
	int64_t acquired, releasing;
	uint64_t token;

	wait_until_ms(strtoll(argv[4], NULL, 10));
	for (long i = 0; share || i < count; i++) {
		if (one_round(conn, name, path, lease_ms, share ? count : -1, &written, &token,
			      &acquired, &releasing) != 0)
			return 1;
		if (written < 0)
			break;
		grants++;
		if (!share)
			printf("%" PRIu64 " %" PRId64 " %" PRId64 " %ld\n", token, acquired, releasing,
			       written);
	}
	if (share)
		printf("grants %ld\n", grants);
	return 0;
}

static pthread_mutex_t lost_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lost_cond = PTHREAD_COND_INITIALIZER;
static bool lost;

static void on_lost(struct lock *lock, void *ctx)
{
	(void)lock;
	(void)ctx;
	pthread_mutex_lock(&lost_mutex);
	lost = true;
	pthread_cond_broadcast(&lost_cond);
	pthread_mutex_unlock(&lost_mutex);
}

static int cmd_hold(struct pfs_conn *conn, char **argv)
{
	const char *name = argv[0], *path = argv[2];
	uint32_t lease_ms = (uint32_t)strtoul(argv[1], NULL, 10);
	long wait_ms = strtol(argv[3], NULL, 10);
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock *lock = NULL;
	struct timespec deadline;
	int64_t start;
	int rv;

	rv = lock_acquire(NULL, name, lease_ms, 0, on_lost, NULL, &lock, errmsg);
	if (rv < 0)
		return fail("acquire", errmsg, rv);
	start = clock_ns(CLOCK_REALTIME);
	printf("acquired %" PRIu64 "\n", lock_token(lock));
	fflush(stdout);

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (wait_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lost_mutex);
	while (!lost && pthread_cond_timedwait(&lost_cond, &lost_mutex, &deadline) == 0)
		;
	pthread_mutex_unlock(&lost_mutex);

	if (lock_held(lock)) {
		printf("held\n");
	} else {
		printf("lost %s %" PRId64 "\n", lock_lost_cause_text(lock_lost_cause(lock)),
		       (clock_ns(CLOCK_REALTIME) - start) / 1000000);
		rv = lock_write(conn, lock, path, "stale", 5, NULL, NULL, errmsg);
		printf("write %d\n", rv);
	}
	fflush(stdout);
	lock_release(lock, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct pfs_conn *conn = NULL;
	int rv;

	if (!((argc == 7 && (!strcmp(argv[1], "rounds") || !strcmp(argv[1], "share"))) ||
	      (argc == 6 && !strcmp(argv[1], "hold")))) {
		fprintf(stderr, "usage: lock_client rounds|share NAME N PATH LEASE_MS START_MS\n"
				"       lock_client hold NAME LEASE_MS PATH WAIT_MS\n");
		return 2;
	}
	rv = pfs_connect(NULL, &conn);
	if (rv < 0)
		return fail("connect", "", rv);
	if (!strcmp(argv[1], "hold"))
		rv = cmd_hold(conn, argv + 2);
	else
		rv = cmd_rounds(conn, argv + 2, !strcmp(argv[1], "share"));
	pfs_disconnect(conn);
	return rv;
}
