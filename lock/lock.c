/* liblock: acquire, renew, release and inspect cluster locks (see lock.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lock/lock.h"

#define LOCK_DIR "/priv/lock"
#define LOCK_MAX_NAME 128 /* bytes, as pmxfs accepts */

/* LIMIT: the pause before retrying a renewal that failed for a reason
 * other than a refused token: a tenth of the lease, at least 50 ms. */
#define RETRY_MS(lease) ((lease) / 10 < 50u ? 50u : (lease) / 10)

struct lock {
	char name[LOCK_MAX_NAME + 1];
	uint32_t lease_ms;
	uint64_t token;
	struct pfs_conn *conn; /* used by the renewal thread, then by release */
	lock_lost_fn on_lost;
	void *ctx;

	pthread_mutex_t mutex;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC; signals renewals and stop */
	pthread_t renewer, watchdog;
	bool threads_started;

	/* Protected by mutex. */
	int64_t lease_start_ns; /* send time of the request that started the lease */
	bool stop;
	bool lost;
	unsigned renewals;
};

static void set_errmsg(char *errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_errmsg(char *errmsg, const char *fmt, ...)
{
	va_list ap;

	if (!errmsg)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, LOCK_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec to_timespec(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};

	return ts;
}

static int64_t ms_to_ns(uint32_t ms)
{
	return (int64_t)ms * 1000000;
}

static int check_name(const char *name, char *errmsg)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > LOCK_MAX_NAME || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..")) {
		set_errmsg(errmsg, "invalid lock name '%.64s': use 1 to %d bytes without '/'",
			   name ? name : "", LOCK_MAX_NAME);
		return -EINVAL;
	}
	return 0;
}

/* The moment the holder must stop acting. */
static int64_t deadline_ns_locked(const struct lock *lock)
{
	return lock->lease_start_ns + ms_to_ns(lock->lease_ms - LOCK_SAFETY_MARGIN_MS(lock->lease_ms));
}

/* Mark the lock lost. Returns true for the one caller that must run the
 * callback (after unlocking the mutex). */
static bool mark_lost_locked(struct lock *lock)
{
	if (lock->lost)
		return false;
	lock->lost = true;
	pthread_cond_broadcast(&lock->cond);
	return true;
}

static void report_lost(struct lock *lock)
{
	if (lock->on_lost)
		lock->on_lost(lock, lock->ctx);
}

/*
 * Renew at every third of the lease. A refused token ends the lock at
 * once; other failures (a slow or restarting daemon) are retried until
 * the watchdog declares the lock lost.
 */
static void *renew_thread(void *arg)
{
	struct lock *lock = arg;
	int64_t next_ns, sent_ns;
	bool lost_here = false;
	int rv;

	pthread_mutex_lock(&lock->mutex);
	next_ns = lock->lease_start_ns + ms_to_ns(lock->lease_ms) / 3;
	while (!lock->stop && !lock->lost) {
		struct timespec ts = to_timespec(next_ns);

		if (now_ns() < next_ns) {
			pthread_cond_timedwait(&lock->cond, &lock->mutex, &ts);
			continue;
		}

		pthread_mutex_unlock(&lock->mutex);
		sent_ns = now_ns();
		rv = pfs_lock_renew(lock->conn, lock->name, lock->token);
		pthread_mutex_lock(&lock->mutex);

		if (rv == 0 && !lock->lost) {
			lock->lease_start_ns = sent_ns;
			lock->renewals++;
			pthread_cond_broadcast(&lock->cond);
			next_ns = sent_ns + ms_to_ns(lock->lease_ms) / 3;
		} else if (rv == -ENOLCK) {
			lost_here = mark_lost_locked(lock);
		} else {
			next_ns = now_ns() + ms_to_ns(RETRY_MS(lock->lease_ms));
		}
	}
	pthread_mutex_unlock(&lock->mutex);

	if (lost_here)
		report_lost(lock);
	return NULL;
}

/* Declare the lock lost when the deadline passes without a renewal. This
 * runs apart from the renewal thread because a renewal can block in the
 * daemon for much longer than the lease. */
static void *watchdog_thread(void *arg)
{
	struct lock *lock = arg;
	bool lost_here = false;

	pthread_mutex_lock(&lock->mutex);
	while (!lock->stop && !lock->lost) {
		int64_t deadline = deadline_ns_locked(lock);
		struct timespec ts = to_timespec(deadline);

		if (now_ns() >= deadline) {
			lost_here = mark_lost_locked(lock);
			break;
		}
		pthread_cond_timedwait(&lock->cond, &lock->mutex, &ts);
	}
	pthread_mutex_unlock(&lock->mutex);

	if (lost_here)
		report_lost(lock);
	return NULL;
}

static void lock_free(struct lock *lock)
{
	pfs_disconnect(lock->conn);
	pthread_cond_destroy(&lock->cond);
	pthread_mutex_destroy(&lock->mutex);
	free(lock);
}

static struct lock *lock_new(const char *name, uint32_t lease_ms)
{
	struct lock *lock = calloc(1, sizeof(*lock));
	pthread_condattr_t attr;

	if (!lock)
		return NULL;
	snprintf(lock->name, sizeof(lock->name), "%s", name);
	lock->lease_ms = lease_ms;
	pthread_mutex_init(&lock->mutex, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&lock->cond, &attr);
	pthread_condattr_destroy(&attr);
	return lock;
}

/* Start the renewal and watchdog threads. */
static int start_threads(struct lock *lock)
{
	int rv;

	rv = pthread_create(&lock->renewer, NULL, renew_thread, lock);
	if (rv != 0)
		return -rv;
	rv = pthread_create(&lock->watchdog, NULL, watchdog_thread, lock);
	if (rv != 0) {
		pthread_mutex_lock(&lock->mutex);
		lock->stop = true;
		pthread_cond_broadcast(&lock->cond);
		pthread_mutex_unlock(&lock->mutex);
		pthread_join(lock->renewer, NULL);
		return -rv;
	}
	lock->threads_started = true;
	return 0;
}

/*
 * Restart the lease now when the acquire waited in the queue: the grant
 * happened at an unknown moment between the send and the reply, so the
 * send time alone could leave too little of the lease.
 */
static int restart_lease_after_wait(struct lock *lock, char *errmsg)
{
	int64_t sent_ns = now_ns();
	int rv;

	if (sent_ns - lock->lease_start_ns < ms_to_ns(lock->lease_ms) / 3)
		return 0;
	rv = pfs_lock_renew(lock->conn, lock->name, lock->token);
	if (rv < 0) {
		set_errmsg(errmsg, "renewing lock '%s' right after the wait failed: %s", lock->name,
			   pfs_last_error(lock->conn));
		return rv;
	}
	lock->lease_start_ns = sent_ns;
	return 0;
}

int lock_acquire(const char *service, const char *name, uint32_t lease_ms, uint32_t timeout_ms,
		 lock_lost_fn on_lost, void *ctx, struct lock **out, char *errmsg)
{
	struct lock *lock = NULL;
	int rv;

	rv = check_name(name, errmsg);
	if (rv < 0)
		goto out;
	if (lease_ms == 0)
		lease_ms = LOCK_DEFAULT_LEASE_MS;
	if (lease_ms < LOCK_MIN_LEASE_MS || lease_ms > LOCK_MAX_LEASE_MS) {
		set_errmsg(errmsg, "lease %" PRIu32 " ms of lock '%s' is outside %u..%u ms", lease_ms,
			   name, LOCK_MIN_LEASE_MS, LOCK_MAX_LEASE_MS);
		rv = -EINVAL;
		goto out;
	}

	lock = lock_new(name, lease_ms);
	if (!lock) {
		set_errmsg(errmsg, "out of memory");
		rv = -ENOMEM;
		goto out;
	}
	lock->on_lost = on_lost;
	lock->ctx = ctx;
	rv = pfs_connect(service, &lock->conn);
	if (rv < 0) {
		set_errmsg(errmsg, "cannot connect to pmxfs: %s", strerror(-rv));
		goto err_free;
	}

	lock->lease_start_ns = now_ns();
	rv = pfs_lock_acquire(lock->conn, name, lease_ms, timeout_ms, &lock->token);
	if (rv < 0) {
		if (rv == -ETIMEDOUT)
			set_errmsg(errmsg, "lock '%s' is still held after %" PRIu32 " ms", name,
				   timeout_ms);
		else
			set_errmsg(errmsg, "acquiring lock '%s' failed: %s", name,
				   pfs_last_error(lock->conn));
		goto err_free;
	}

	rv = restart_lease_after_wait(lock, errmsg);
	if (rv < 0)
		goto err_release;
	rv = start_threads(lock);
	if (rv < 0) {
		set_errmsg(errmsg, "cannot start the renewal of lock '%s': %s", name, strerror(-rv));
		goto err_release;
	}
	*out = lock;
	return 0;

err_release:
	pfs_lock_release(lock->conn, name, lock->token);
err_free:
	lock_free(lock);
out:
	return rv;
}

int lock_release(struct lock *lock, char *errmsg)
{
	bool was_lost;
	int rv;

	if (!lock)
		return 0;

	/* Stop both threads. The renewal thread may first finish a request. */
	pthread_mutex_lock(&lock->mutex);
	lock->stop = true;
	pthread_cond_broadcast(&lock->cond);
	pthread_mutex_unlock(&lock->mutex);
	if (lock->threads_started) {
		pthread_join(lock->renewer, NULL);
		pthread_join(lock->watchdog, NULL);
	}
	was_lost = lock->lost;

	/* Release even a lock this holder counts as lost: while the store
	 * still has it, this frees it before its lease runs out. */
	rv = pfs_lock_release(lock->conn, lock->name, lock->token);
	if (rv == -ENOLCK)
		set_errmsg(errmsg, "lock '%s' with token %" PRIu64 " was lost before its release",
			   lock->name, lock->token);
	else if (rv < 0)
		set_errmsg(errmsg, "releasing lock '%s' failed: %s", lock->name,
			   pfs_last_error(lock->conn));
	else if (was_lost)
		set_errmsg(errmsg, "lock '%s' was released after its holder counted it lost",
			   lock->name);
	lock_free(lock);
	return rv;
}

uint64_t lock_token(const struct lock *lock)
{
	return lock->token;
}

const char *lock_name(const struct lock *lock)
{
	return lock->name;
}

uint32_t lock_lease_ms(const struct lock *lock)
{
	return lock->lease_ms;
}

int64_t lock_time_left_ms(const struct lock *lock)
{
	struct lock *l = (struct lock *)lock; /* only the mutex changes */
	int64_t left;

	pthread_mutex_lock(&l->mutex);
	left = l->lost ? 0 : deadline_ns_locked(l) - now_ns();
	pthread_mutex_unlock(&l->mutex);
	return left > 0 ? left / 1000000 : 0;
}

bool lock_held(const struct lock *lock)
{
	return lock_time_left_ms(lock) > 0;
}

unsigned lock_renewals(const struct lock *lock)
{
	struct lock *l = (struct lock *)lock;
	unsigned n;

	pthread_mutex_lock(&l->mutex);
	n = l->renewals;
	pthread_mutex_unlock(&l->mutex);
	return n;
}

int lock_cond(const struct lock *lock, struct pfs_cond *cond)
{
	if (!lock_held(lock))
		return -ENOLCK;
	cond->has_token = 1;
	cond->token = lock->token;
	return 0;
}

int lock_write(struct pfs_conn *conn, const struct lock *lock, const char *path,
	       const void *data, size_t len, const uint64_t *expected_version, uint64_t *version,
	       char *errmsg)
{
	struct pfs_cond cond = {0};
	int rv;

	if (expected_version) {
		cond.has_version = 1;
		cond.version = *expected_version;
	}
	rv = lock_cond(lock, &cond);
	if (rv < 0) {
		set_errmsg(errmsg, "not writing %s: lock '%s' was lost", path, lock->name);
		return rv;
	}
	rv = pfs_write(conn, path, data, len, &cond, version);
	if (rv < 0)
		set_errmsg(errmsg, "writing %s with the token %" PRIu64 " of lock '%s' failed: %s",
			   path, lock->token, lock->name, pfs_last_error(conn));
	return rv;
}

/* Parse the entry pmxfs writes: "node N\nrequest R\nlease_ms L\n". */
static int parse_entry(const char *text, struct lock_info *info)
{
	unsigned node, lease_ms;
	uint64_t request;
	int end = 0;

	if (sscanf(text, "node %u\nrequest %" SCNu64 "\nlease_ms %u\n%n", &node, &request,
		   &lease_ms, &end) != 3 || end == 0)
		return -EBADMSG;
	info->node = node;
	info->request = request;
	info->lease_ms = lease_ms;
	return 0;
}

int lock_inspect(struct pfs_conn *conn, const char *name, struct lock_info *info, char *errmsg)
{
	char path[sizeof(LOCK_DIR) + LOCK_MAX_NAME + 1], *data = NULL;
	struct pfs_entry st;
	size_t len = 0;
	int rv;

	rv = check_name(name, errmsg);
	if (rv < 0)
		return rv;
	snprintf(path, sizeof(path), LOCK_DIR "/%s", name);
	rv = pfs_get(conn, path, &data, &len, &st);
	if (rv == -ENOENT) {
		set_errmsg(errmsg, "lock '%s' is free", name);
		goto out;
	}
	if (rv < 0) {
		set_errmsg(errmsg, "reading lock '%s' failed: %s", name, pfs_last_error(conn));
		goto out;
	}

	memset(info, 0, sizeof(*info));
	rv = parse_entry(data, info);
	if (rv < 0) {
		set_errmsg(errmsg, "%s does not look like a lock entry of pmxfs", path);
		goto out;
	}
	snprintf(info->name, sizeof(info->name), "%s", name);
	info->token = st.version;
	info->acquired = st.mtime;
out:
	free(data);
	return rv;
}

int lock_list(struct pfs_conn *conn, struct lock_info **infos, size_t *count, char *errmsg)
{
	struct pfs_entry *entries = NULL;
	struct lock_info *list = NULL;
	size_t n = 0, i, used = 0;
	int rv;

	rv = pfs_list(conn, LOCK_DIR, &entries, &n);
	if (rv == -ENOENT) {
		n = 0;
		rv = 0;
	} else if (rv < 0) {
		set_errmsg(errmsg, "listing %s failed: %s", LOCK_DIR, pfs_last_error(conn));
		goto out;
	}
	if (n > 0) {
		list = calloc(n, sizeof(*list));
		if (!list) {
			set_errmsg(errmsg, "out of memory");
			rv = -ENOMEM;
			goto out;
		}
	}

	for (i = 0; i < n; i++) {
		if (entries[i].type != PFS_ENTRY_FILE)
			continue;
		rv = lock_inspect(conn, entries[i].name, &list[used], errmsg);
		if (rv == -ENOENT || rv == -EBADMSG || rv == -EINVAL)
			continue;
		if (rv < 0)
			goto out;
		used++;
	}
	rv = 0;
	*infos = list;
	*count = used;
	list = NULL;
out:
	free(list);
	pfs_list_free(entries, n);
	return rv;
}
