/*
 * Tests of liblock against a real `pmxfs --local` daemon: acquire, busy
 * and queued locks, renewal timing, loss and loss notices, fencing tokens,
 * inspection and the lock list.
 * Each test uses its own lock names, so all share one daemon.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lock/lock.h"
#include "tests/lock_daemon.h"

/* The shortest lease the daemon accepts, which keeps these tests fast. */
#define LEASE_MS LOCK_MIN_LEASE_MS

static struct lock_daemon daemon_ = {.pid = -1};

static void daemon_setup(void)
{
	ck_assert_int_eq(lock_daemon_start(&daemon_), 0);
}

static void daemon_teardown(void)
{
	lock_daemon_stop(&daemon_);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static struct pfs_conn *connect_or_fail(void)
{
	struct pfs_conn *conn = NULL;

	ck_assert_int_eq(pfs_connect(NULL, &conn), 0);
	return conn;
}

START_TEST(test_lock_acquire_release)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock_info info;
	struct lock *lock = NULL;

	ck_assert_int_eq(lock_acquire(NULL, "basic", 0, 0, NULL, NULL, &lock, errmsg), 0);
	ck_assert_uint_gt(lock_token(lock), 0);
	ck_assert_str_eq(lock_name(lock), "basic");
	ck_assert_uint_eq(lock_lease_ms(lock), LOCK_DEFAULT_LEASE_MS);
	ck_assert(lock_held(lock));
	ck_assert_int_gt(lock_time_left_ms(lock), LOCK_DEFAULT_LEASE_MS - 10000 - 1000);
	ck_assert_int_le(lock_time_left_ms(lock), LOCK_DEFAULT_LEASE_MS - 10000);

	ck_assert_int_eq(lock_inspect(conn, "basic", &info, errmsg), 0);
	ck_assert_str_eq(info.name, "basic");
	ck_assert_uint_eq(info.token, lock_token(lock));
	ck_assert_uint_ne(info.node, 0);
	ck_assert_uint_eq(info.lease_ms, LOCK_DEFAULT_LEASE_MS);
	ck_assert_uint_gt(info.acquired, 0);
	lock_info_clear(&info);

	ck_assert_int_eq(lock_release(lock, errmsg), 0);
	ck_assert_int_eq(lock_inspect(conn, "basic", &info, errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "lock 'basic' is free");
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_lock_acquire_invalid)
{
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock *lock = NULL;
	char name[200];

	ck_assert_int_eq(lock_acquire(NULL, "", 0, 0, NULL, NULL, &lock, errmsg), -EINVAL);
	ck_assert_int_eq(lock_acquire(NULL, "a/b", 0, 0, NULL, NULL, &lock, errmsg), -EINVAL);
	ck_assert_int_eq(lock_acquire(NULL, "..", 0, 0, NULL, NULL, &lock, errmsg), -EINVAL);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(lock_acquire(NULL, name, 0, 0, NULL, NULL, &lock, errmsg), -EINVAL);
	ck_assert_int_eq(lock_acquire(NULL, "short", 999, 0, NULL, NULL, &lock, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "lease 999 ms of lock 'short' is outside 1000..3600000 ms");
	ck_assert_int_eq(lock_acquire(NULL, "long", LOCK_MAX_LEASE_MS + 1, 0, NULL, NULL, &lock,
				      errmsg),
			 -EINVAL);
	ck_assert_int_eq(lock_acquire("pmxfs-check-lock-nonexistent", "x", 0, 0, NULL, NULL, &lock,
				      errmsg),
			 -ENOTCONN);
}
END_TEST

START_TEST(test_lock_acquire_busy)
{
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock *holder = NULL, *other = NULL;
	int64_t start;

	ck_assert_int_eq(lock_acquire(NULL, "busy", 0, 0, NULL, NULL, &holder, errmsg), 0);
	ck_assert_int_eq(lock_acquire(NULL, "busy", 0, 0, NULL, NULL, &other, errmsg), -EBUSY);

	start = now_ms();
	ck_assert_int_eq(lock_acquire(NULL, "busy", 0, 300, NULL, NULL, &other, errmsg), -ETIMEDOUT);
	ck_assert_int_ge(now_ms() - start, 300);
	ck_assert_str_eq(errmsg, "lock 'busy' is still held after 300 ms");
	ck_assert_int_eq(lock_release(holder, errmsg), 0);
}
END_TEST

START_TEST(test_lock_token_increases)
{
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	uint64_t previous = 0;
	struct lock *lock;
	int i;

	for (i = 0; i < 5; i++) {
		lock = NULL;
		ck_assert_int_eq(lock_acquire(NULL, "tokens", 0, 0, NULL, NULL, &lock, errmsg), 0);
		ck_assert_uint_gt(lock_token(lock), previous);
		previous = lock_token(lock);
		ck_assert_int_eq(lock_release(lock, errmsg), 0);
	}
}
END_TEST

struct waiter {
	pthread_t thread;
	const char *name;
	uint32_t timeout_ms;
	int rv;
	uint64_t token;
	int64_t done_ms;
};

static void *wait_for_lock(void *arg)
{
	struct waiter *w = arg;
	struct lock *lock = NULL;

	w->rv = lock_acquire(NULL, w->name, LEASE_MS, w->timeout_ms, NULL, NULL, &lock, NULL);
	w->done_ms = now_ms();
	if (w->rv == 0) {
		w->token = lock_token(lock);
		lock_release(lock, NULL);
	}
	return NULL;
}

START_TEST(test_lock_release_hands_over)
{
	struct waiter w = {.name = "handover", .timeout_ms = 5000};
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock *holder = NULL;
	int64_t released;

	ck_assert_int_eq(lock_acquire(NULL, "handover", 0, 0, NULL, NULL, &holder, errmsg), 0);
	ck_assert_int_eq(pthread_create(&w.thread, NULL, wait_for_lock, &w), 0);
	sleep_ms(200);
	released = now_ms();
	ck_assert_int_eq(lock_release(holder, errmsg), 0);
	pthread_join(w.thread, NULL);

	ck_assert_int_eq(w.rv, 0);
	ck_assert_int_ge(w.done_ms, released);
	ck_assert_int_lt(w.done_ms - released, 1000);
	ck_assert_uint_gt(w.token, 0);
}
END_TEST

/* A holder keeps the lock through several leases, and a waiter that
 * waits 2.5 leases never gets it. */
START_TEST(test_lock_renewal_keeps_lock)
{
	struct waiter w = {.name = "renewed", .timeout_ms = 5 * LEASE_MS / 2};
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock_info info;
	struct lock *lock = NULL;

	ck_assert_int_eq(lock_acquire(NULL, "renewed", LEASE_MS, 0, NULL, NULL, &lock, errmsg), 0);
	ck_assert_int_le(lock_time_left_ms(lock), LEASE_MS - LOCK_SAFETY_MARGIN_MS(LEASE_MS));
	ck_assert_int_eq(pthread_create(&w.thread, NULL, wait_for_lock, &w), 0);
	pthread_join(w.thread, NULL);

	ck_assert_int_eq(w.rv, -ETIMEDOUT);
	ck_assert(lock_held(lock));
	/* 2.5 leases at one renewal per third of a lease make 7; allow for
	 * slow runs such as valgrind. */
	ck_assert_uint_ge(lock_renewals(lock), 4);
	ck_assert_int_eq(lock_inspect(conn, "renewed", &info, errmsg), 0);
	ck_assert_uint_eq(info.token, lock_token(lock));
	ck_assert_uint_eq(info.lease_ms, LEASE_MS);
	lock_info_clear(&info);
	ck_assert_int_eq(lock_release(lock, errmsg), 0);
	pfs_disconnect(conn);
}
END_TEST

/* A holder that stops renewing (a plain pfs_lock_acquire) loses the lock
 * when its lease runs out: a waiter gets it after the lease, not before,
 * with a higher token, and the old token no longer fences anything. */
START_TEST(test_lock_expired_holder_loses)
{
	struct waiter w = {.name = "expiring", .timeout_ms = 4 * LEASE_MS};
	struct pfs_conn *conn = connect_or_fail();
	struct pfs_cond cond = {0};
	uint64_t stale = 0;
	int64_t sent;

	sent = now_ms();
	ck_assert_int_eq(pfs_lock_acquire(conn, "expiring", LEASE_MS, 0, &stale), 0);
	ck_assert_int_eq(pthread_create(&w.thread, NULL, wait_for_lock, &w), 0);
	pthread_join(w.thread, NULL);

	ck_assert_int_eq(w.rv, 0);
	ck_assert_int_ge(w.done_ms - sent, LEASE_MS);
	ck_assert_int_lt(w.done_ms - sent, 3 * LEASE_MS);
	ck_assert_uint_gt(w.token, stale);

	ck_assert_int_eq(pfs_lock_renew(conn, "expiring", stale), -ENOLCK);
	cond.has_token = 1;
	cond.token = stale;
	ck_assert_int_eq(pfs_write(conn, "/stale-write", "x", 1, &cond, NULL), -ENOLCK);
	pfs_disconnect(conn);
}
END_TEST

static atomic_int lost_calls;
static _Atomic int64_t lost_at_ms;

static void on_lost(struct lock *lock, void *ctx)
{
	(void)lock;
	(void)ctx;
	atomic_fetch_add(&lost_calls, 1);
	atomic_store(&lost_at_ms, now_ms());
}

/* With the daemon stopped, renewals get no reply: the holder must count
 * the lock lost at the lease minus the margin, and refuse to write. */
START_TEST(test_lock_lost_without_renewal)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock *lock = NULL;
	int64_t stopped, limit;
	int rv;

	atomic_store(&lost_calls, 0);
	ck_assert_int_eq(lock_acquire(NULL, "lost", LEASE_MS, 0, on_lost, NULL, &lock, errmsg), 0);
	ck_assert_int_eq(lock_write(conn, lock, "/fenced", "a", 1, NULL, NULL, errmsg), 0);

	stopped = now_ms();
	limit = lock_time_left_ms(lock);
	ck_assert_int_eq(kill(daemon_.pid, SIGSTOP), 0);
	sleep_ms(LEASE_MS);
	ck_assert(!lock_held(lock));
	ck_assert_int_eq(lock_time_left_ms(lock), 0);
	ck_assert_int_eq(atomic_load(&lost_calls), 1);
	ck_assert_int_le(atomic_load(&lost_at_ms) - stopped, limit + 250);
	ck_assert_int_eq(lock_lost_cause(lock), LOCK_LOST_DEADLINE);
	rv = lock_write(conn, lock, "/fenced", "b", 1, NULL, NULL, errmsg);
	ck_assert_int_eq(kill(daemon_.pid, SIGCONT), 0);

	ck_assert_int_eq(rv, -ENOLCK);
	ck_assert_str_eq(errmsg, "not writing /fenced: lock 'lost' was lost");
	rv = lock_release(lock, errmsg);
	ck_assert(rv == 0 || rv == -ENOLCK);
	ck_assert_int_eq(atomic_load(&lost_calls), 1);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_lock_write_token)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "", *data = NULL;
	struct lock *first = NULL, *second = NULL;
	struct pfs_cond cond = {0};
	uint64_t version = 0, old_token;
	size_t len = 0;

	ck_assert_int_eq(lock_acquire(NULL, "writer", 0, 0, NULL, NULL, &first, errmsg), 0);
	ck_assert_int_eq(lock_write(conn, first, "/counter", "1", 1, NULL, &version, errmsg), 0);
	ck_assert_uint_gt(version, lock_token(first));
	old_token = lock_token(first);
	ck_assert_int_eq(lock_release(first, errmsg), 0);

	ck_assert_int_eq(lock_acquire(NULL, "writer", 0, 0, NULL, NULL, &second, errmsg), 0);
	ck_assert_uint_gt(lock_token(second), old_token);

	/* The previous holder's token is rejected, the current one accepted. */
	cond.has_token = 1;
	cond.token = old_token;
	ck_assert_int_eq(pfs_write(conn, "/counter", "stale", 5, &cond, NULL), -ENOLCK);
	ck_assert_int_eq(lock_write(conn, second, "/counter", "2", 1, &version, &version, errmsg), 0);

	/* The token and an expected version combine. */
	old_token = version - 1;
	ck_assert_int_eq(lock_write(conn, second, "/counter", "3", 1, &old_token, NULL, errmsg),
			 -ESTALE);
	ck_assert_int_eq(pfs_get(conn, "/counter", &data, &len, NULL), 0);
	ck_assert_str_eq(data, "2");
	free(data);

	cond.has_token = 0;
	ck_assert_int_eq(lock_cond(second, &cond), 0);
	ck_assert_int_eq(cond.has_token, 1);
	ck_assert_uint_eq(cond.token, lock_token(second));
	ck_assert_int_eq(lock_release(second, errmsg), 0);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_lock_list_held)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock *a = NULL, *b = NULL;
	struct lock_info *infos = NULL;
	size_t count = 0, i;
	int seen = 0;

	ck_assert_int_eq(lock_acquire(NULL, "list-a", 0, 0, NULL, NULL, &a, errmsg), 0);
	ck_assert_int_eq(lock_acquire(NULL, "list-b", 5000, 0, NULL, NULL, &b, errmsg), 0);
	ck_assert_int_eq(lock_list(conn, &infos, &count, errmsg), 0);
	for (i = 0; i < count; i++) {
		if (i > 0)
			ck_assert_int_lt(strcmp(infos[i - 1].name, infos[i].name), 0);
		if (!strcmp(infos[i].name, "list-a")) {
			ck_assert_uint_eq(infos[i].token, lock_token(a));
			ck_assert_uint_eq(infos[i].lease_ms, LOCK_DEFAULT_LEASE_MS);
			seen |= 1;
		} else if (!strcmp(infos[i].name, "list-b")) {
			ck_assert_uint_eq(infos[i].token, lock_token(b));
			ck_assert_uint_eq(infos[i].lease_ms, 5000);
			ck_assert_int_gt(infos[i].lease_left_ms, 0);
			ck_assert_int_le(infos[i].lease_left_ms, 5000);
			seen |= 2;
		} else {
			continue;
		}
		ck_assert_uint_eq(infos[i].pid, (uint32_t)getpid());
		ck_assert_str_eq(infos[i].node_name, "node1");
		ck_assert_uint_eq(infos[i].nwaiters, 0);
	}
	ck_assert_int_eq(seen, 3);
	lock_list_free(infos, count);
	ck_assert_int_eq(lock_release(a, errmsg), 0);
	ck_assert_int_eq(lock_release(b, errmsg), 0);
	pfs_disconnect(conn);
}
END_TEST

/* A waiter shows up in the list with its node and pid, first in line
 * first, and lock_inspect() returns the same. */
START_TEST(test_lock_list_waiters)
{
	struct waiter w1 = {.name = "queue", .timeout_ms = 5000};
	struct waiter w2 = {.name = "queue", .timeout_ms = 5000};
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock_info info;
	struct lock *holder = NULL;
	int64_t start = now_ms();

	ck_assert_int_eq(lock_acquire(NULL, "queue", 0, 0, NULL, NULL, &holder, errmsg), 0);
	ck_assert_int_eq(pthread_create(&w1.thread, NULL, wait_for_lock, &w1), 0);
	ck_assert_int_eq(pthread_create(&w2.thread, NULL, wait_for_lock, &w2), 0);
	do {
		memset(&info, 0, sizeof(info));
		ck_assert_int_eq(lock_inspect(conn, "queue", &info, errmsg), 0);
		if (info.nwaiters == 2)
			break;
		lock_info_clear(&info);
		sleep_ms(20);
	} while (now_ms() - start < 3000);

	ck_assert_str_eq(info.name, "queue");
	ck_assert_uint_eq(info.token, lock_token(holder));
	ck_assert_uint_eq(info.pid, (uint32_t)getpid());
	ck_assert_uint_eq(info.nwaiters, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_uint_eq(info.waiters[i].node, info.node);
		ck_assert_uint_eq(info.waiters[i].pid, (uint32_t)getpid());
		ck_assert_str_eq(info.waiters[i].node_name, "node1");
	}
	lock_info_clear(&info);
	ck_assert_ptr_null(info.waiters);
	ck_assert_uint_eq(info.nwaiters, 0);

	ck_assert_int_eq(lock_release(holder, errmsg), 0);
	pthread_join(w1.thread, NULL);
	pthread_join(w2.thread, NULL);
	ck_assert_int_eq(w1.rv, 0);
	ck_assert_int_eq(w2.rv, 0);
	ck_assert_int_eq(lock_inspect(conn, "queue", &info, errmsg), -ENOENT);
	pfs_disconnect(conn);
}
END_TEST

/* Another client releasing the lock with its token ends it for the
 * holder at once, long before its deadline, through the loss notice. */
START_TEST(test_lock_lost_notice_released)
{
	struct pfs_conn *conn = connect_or_fail();
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock *lock = NULL;
	int64_t released;

	atomic_store(&lost_calls, 0);
	ck_assert_int_eq(lock_acquire(NULL, "taken", 0, 0, on_lost, NULL, &lock, errmsg), 0);
	ck_assert_int_eq(lock_lost_cause(lock), LOCK_LOST_NONE);
	released = now_ms();
	ck_assert_int_eq(pfs_lock_release(conn, "taken", lock_token(lock)), 0);
	while (atomic_load(&lost_calls) == 0 && now_ms() - released < 5000)
		sleep_ms(10);

	ck_assert_int_eq(atomic_load(&lost_calls), 1);
	ck_assert_int_lt(atomic_load(&lost_at_ms) - released, 1000);
	ck_assert(!lock_held(lock));
	ck_assert_int_eq(lock_lost_cause(lock), LOCK_LOST_RELEASED);
	ck_assert_int_eq(lock_write(conn, lock, "/taken-write", "x", 1, NULL, NULL, errmsg),
			 -ENOLCK);
	ck_assert_int_eq(lock_release(lock, errmsg), -ENOLCK);
	pfs_disconnect(conn);
}
END_TEST

/* The daemon's notice itself: a lease that runs out is reported on the
 * connection that acquired the lock, with its name, token and cause. */
START_TEST(test_lock_lost_notice_expired)
{
	struct pfs_conn *conn = connect_or_fail();
	struct pfs_event ev;
	uint64_t token = 0;
	int64_t sent = now_ms();

	ck_assert_int_eq(pfs_lock_acquire(conn, "notice", LEASE_MS, 0, &token), 0);
	ck_assert_int_eq(pfs_next_event(conn, &ev, 3 * LEASE_MS), 0);
	ck_assert_int_ge(now_ms() - sent, LEASE_MS);
	ck_assert_int_eq(ev.kind, PFS_EVENT_KIND_LOCK_LOST);
	ck_assert_str_eq(ev.op, "expired");
	ck_assert_str_eq(ev.path, "notice");
	ck_assert_uint_eq(ev.version, token);
	ck_assert_int_eq(pfs_next_event(conn, &ev, 100), -ETIMEDOUT);
	pfs_disconnect(conn);
}
END_TEST

START_TEST(test_lock_lost_cause_text)
{
	ck_assert_str_eq(lock_lost_cause_text(LOCK_LOST_NONE), "not lost");
	ck_assert_str_eq(lock_lost_cause_text(LOCK_LOST_DEADLINE),
			 "no renewal succeeded before the lease ran out");
	ck_assert_str_eq(lock_lost_cause_text(LOCK_LOST_REFUSED), "a renewal was refused");
	ck_assert_str_eq(lock_lost_cause_text(LOCK_LOST_EXPIRED), "its lease ran out");
	ck_assert_str_eq(lock_lost_cause_text(LOCK_LOST_RELEASED), "another client released it");
	ck_assert_str_eq(lock_lost_cause_text(LOCK_LOST_NO_QUORUM), "this node lost quorum");
	ck_assert_str_eq(lock_lost_cause_text(LOCK_LOST_REPLACED), "a sync replaced it");
	ck_assert_str_eq(lock_lost_cause_text((enum lock_lost_cause)99), "unknown cause");
}
END_TEST

static Suite *lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("lock");

	tcase_add_unchecked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_lock_acquire_release);
	tcase_add_test(tc, test_lock_acquire_invalid);
	tcase_add_test(tc, test_lock_acquire_busy);
	tcase_add_test(tc, test_lock_token_increases);
	tcase_add_test(tc, test_lock_release_hands_over);
	tcase_add_test(tc, test_lock_renewal_keeps_lock);
	tcase_add_test(tc, test_lock_expired_holder_loses);
	tcase_add_test(tc, test_lock_lost_without_renewal);
	tcase_add_test(tc, test_lock_write_token);
	tcase_add_test(tc, test_lock_list_held);
	tcase_add_test(tc, test_lock_list_waiters);
	tcase_add_test(tc, test_lock_lost_notice_released);
	tcase_add_test(tc, test_lock_lost_notice_expired);
	tcase_add_test(tc, test_lock_lost_cause_text);
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
	sr = srunner_create(lock_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
