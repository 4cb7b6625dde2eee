/* liblock: acquire, renew, release and inspect cluster locks (see lock.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lock/lock.h"

/* Pause before asking again for a lock after a membership change. */
#define ACQUIRE_RETRY_US 200000

/* LIMIT: how long past TIMEOUT_MS lock_acquire() waits for the daemon's
 * reply, for the round through the store. A daemon that cannot confirm
 * the request (no quorum acknowledges it) would otherwise hold the caller
 * for the library's default reply timeout of 120 s. */
#define ACQUIRE_REPLY_MARGIN_MS 5000u

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
	int wake_fd;         /* eventfd: wakes the renewal thread for stop and loss */
	pthread_t renewer, watchdog;
	bool threads_started;

	/* Protected by mutex. */
	int64_t lease_start_ns; /* send time of the request that started the lease */
	bool stop;
	bool lost;
	enum lock_lost_cause cause;
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

/* Wake both threads: the watchdog waits on the condition, the renewal
 * thread in poll(). */
static void wake_locked(struct lock *lock)
{
	uint64_t one = 1;

	pthread_cond_broadcast(&lock->cond);
	if (write(lock->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow here; a failed write leaves the
		 * renewal thread to wake at its next renewal instead. */
	}
}

/* Mark the lock lost for cause. Returns true for the one caller that must
 * run the callback (after unlocking the mutex). */
static bool mark_lost_locked(struct lock *lock, enum lock_lost_cause cause)
{
	if (lock->lost)
		return false;
	lock->lost = true;
	lock->cause = cause;
	wake_locked(lock);
	return true;
}

static void report_lost(struct lock *lock)
{
	if (lock->on_lost)
		lock->on_lost(lock, lock->ctx);
}

static enum lock_lost_cause cause_of(const char *op)
{
	if (!strcmp(op, "expired"))
		return LOCK_LOST_EXPIRED;
	if (!strcmp(op, "released"))
		return LOCK_LOST_RELEASED;
	if (!strcmp(op, "no-quorum"))
		return LOCK_LOST_NO_QUORUM;
	return LOCK_LOST_REPLACED;
}

/*
 * Read the events pmxfs sent on the lock's connection. Returns the cause
 * of a loss notice for this lock, or LOCK_LOST_NONE. *fd becomes -1 when
 * the connection is gone, so that poll() stops reporting it; the watchdog
 * then ends the lock at its deadline.
 */
static enum lock_lost_cause read_events(struct lock *lock, int *fd)
{
	enum lock_lost_cause cause = LOCK_LOST_NONE;
	struct pfs_event ev;
	int rv;

	while ((rv = pfs_next_event(lock->conn, &ev, 0)) == 0) {
		if (ev.kind == PFS_EVENT_KIND_LOCK_LOST && ev.version == lock->token &&
		    !strcmp(ev.path, lock->name))
			cause = cause_of(ev.op);
	}
	if (rv != -ETIMEDOUT)
		*fd = -1;
	return cause;
}

/*
 * Sleep until deadline_ns, a wake-up (stop or loss) or an event from
 * pmxfs. Returns the cause when pmxfs sent a loss notice for this lock.
 */
static enum lock_lost_cause wait_renewal(struct lock *lock, int64_t deadline_ns, int *event_fd)
{
	struct pollfd fds[2] = {{.fd = lock->wake_fd, .events = POLLIN},
				{.fd = *event_fd, .events = POLLIN}};
	int64_t left_ns = deadline_ns - now_ns();
	int timeout_ms = left_ns <= 0 ? 0 : (int)((left_ns + 999999) / 1000000);
	uint64_t count;

	if (poll(fds, *event_fd >= 0 ? 2 : 1, timeout_ms) <= 0)
		return LOCK_LOST_NONE;
	if (fds[0].revents & POLLIN && read(lock->wake_fd, &count, sizeof(count)) < 0)
		count = 0; /* nonblocking: another wake-up consumed it */
	if (*event_fd >= 0 && fds[1].revents)
		return read_events(lock, event_fd);
	return LOCK_LOST_NONE;
}

/*
 * Renew at every third of the lease, and between renewals wait for a loss
 * notice from pmxfs (expired, quorum lost), which ends the lock at once.
 * A refused token ends the lock too; other failures (a slow or restarting
 * daemon) are retried until the watchdog declares the lock lost. This
 * thread is the only user of the connection while the lock is held.
 */
static void *renew_thread(void *arg)
{
	struct lock *lock = arg;
	enum lock_lost_cause notice;
	int64_t next_ns, sent_ns;
	bool lost_here = false;
	int event_fd = -1, rv;

	if (pfs_event_fd(lock->conn, &event_fd) < 0)
		event_fd = -1;
	pthread_mutex_lock(&lock->mutex);
	next_ns = lock->lease_start_ns + ms_to_ns(lock->lease_ms) / 3;
	while (!lock->stop && !lock->lost) {
		if (now_ns() < next_ns) {
			pthread_mutex_unlock(&lock->mutex);
			notice = wait_renewal(lock, next_ns, &event_fd);
			pthread_mutex_lock(&lock->mutex);
			if (notice != LOCK_LOST_NONE)
				lost_here = mark_lost_locked(lock, notice);
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
			lost_here = mark_lost_locked(lock, LOCK_LOST_REFUSED);
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
			lost_here = mark_lost_locked(lock, LOCK_LOST_DEADLINE);
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
	if (lock->wake_fd >= 0)
		close(lock->wake_fd);
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
	lock->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lock->wake_fd < 0) {
		free(lock);
		return NULL;
	}
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
		wake_locked(lock);
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
		rv = errno == EMFILE || errno == ENFILE ? -errno : -ENOMEM;
		set_errmsg(errmsg, "cannot set up lock '%s': %s", name, strerror(-rv));
		goto out;
	}
	lock->on_lost = on_lost;
	lock->ctx = ctx;
	/* Bound the connect like the reply, so a stopped or hung daemon that
	 * does not accept the connection cannot hold the caller longer. */
	rv = pfs_connect_timeout(service, timeout_ms + ACQUIRE_REPLY_MARGIN_MS, &lock->conn);
	if (rv < 0) {
		set_errmsg(errmsg, "cannot connect to pmxfs: %s", rv == -ETIMEDOUT
			   ? "the daemon did not accept within the wait plus 5 s" : strerror(-rv));
		goto err_free;
	}

	/* A queued request fails with -EAGAIN ("busy, not applied") at a
	 * membership change. Nothing was granted, so retry while time is left. */
	int64_t give_up_ns = now_ns() + (int64_t)timeout_ms * 1000000;

	pfs_set_timeout(lock->conn, ACQUIRE_REPLY_MARGIN_MS);
	for (;;) {
		int64_t left_ms = (give_up_ns - now_ns()) / 1000000;

		lock->lease_start_ns = now_ns();
		rv = pfs_lock_acquire(lock->conn, name, lease_ms,
				      left_ms > 0 ? (uint32_t)left_ms : 0, &lock->token);
		if (rv != -EAGAIN || left_ms <= 0)
			break;
		usleep(ACQUIRE_RETRY_US);
	}
	pfs_set_timeout(lock->conn, 0);
	if (rv == -EINPROGRESS && strstr(pfs_last_error(lock->conn), "timeout ran out")) {
		/* No reply in time: a grant that comes later has no holder
		 * that renews it, so it ends with its lease. */
		set_errmsg(errmsg, "pmxfs did not answer the request for lock '%s' within %" PRIu32
			   " ms (the wait plus %u ms); the lock was not acquired", name,
			   timeout_ms + ACQUIRE_REPLY_MARGIN_MS, ACQUIRE_REPLY_MARGIN_MS);
		rv = -ETIMEDOUT;
		goto err_free;
	}
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
	wake_locked(lock);
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

enum lock_lost_cause lock_lost_cause(const struct lock *lock)
{
	struct lock *l = (struct lock *)lock;
	enum lock_lost_cause cause;

	pthread_mutex_lock(&l->mutex);
	cause = l->cause;
	pthread_mutex_unlock(&l->mutex);
	return cause;
}

const char *lock_lost_cause_text(enum lock_lost_cause cause)
{
	switch (cause) {
	case LOCK_LOST_NONE:
		return "not lost";
	case LOCK_LOST_DEADLINE:
		return "no renewal succeeded before the lease ran out";
	case LOCK_LOST_REFUSED:
		return "a renewal was refused";
	case LOCK_LOST_EXPIRED:
		return "its lease ran out";
	case LOCK_LOST_RELEASED:
		return "another client released it";
	case LOCK_LOST_NO_QUORUM:
		return "this node lost quorum";
	case LOCK_LOST_REPLACED:
		return "a sync replaced it";
	}
	return "unknown cause";
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

static void copy_info(struct lock_info *info, const struct pfs_lock_state *l)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", l->name);
	info->node = l->node;
	snprintf(info->node_name, sizeof(info->node_name), "%s", l->node_name);
	info->pid = l->pid;
	info->request = l->request_id;
	info->token = l->token;
	info->lease_ms = l->lease_ms;
	info->lease_left_ms = l->lease_left_ms;
	info->acquired = l->acquired;
}

/* Move the waiters of l into info. */
static void take_waiters(struct lock_info *info, struct pfs_lock_state *l)
{
	info->nwaiters = l->nwaiters;
	info->waiters = l->waiters;
	l->waiters = NULL;
	l->nwaiters = 0;
}

void lock_info_clear(struct lock_info *info)
{
	if (!info)
		return;
	free(info->waiters);
	info->waiters = NULL;
	info->nwaiters = 0;
}

void lock_list_free(struct lock_info *infos, size_t count)
{
	for (size_t i = 0; infos && i < count; i++)
		lock_info_clear(&infos[i]);
	free(infos);
}

int lock_list(struct pfs_conn *conn, struct lock_info **infos, size_t *count, char *errmsg)
{
	struct pfs_lock_state *locks = NULL;
	struct lock_info *list = NULL;
	size_t n = 0;
	int rv;

	rv = pfs_lock_list(conn, &locks, &n);
	if (rv < 0) {
		set_errmsg(errmsg, "listing the locks failed: %s",
			   pfs_last_error(conn)[0] ? pfs_last_error(conn) : strerror(-rv));
		return rv;
	}
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list) {
		set_errmsg(errmsg, "out of memory");
		pfs_lock_list_free(locks, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		copy_info(&list[i], &locks[i]);
		take_waiters(&list[i], &locks[i]);
	}
	pfs_lock_list_free(locks, n);
	*infos = list;
	*count = n;
	return 0;
}

int lock_inspect(struct pfs_conn *conn, const char *name, struct lock_info *info, char *errmsg)
{
	struct pfs_lock_state *locks = NULL;
	size_t n = 0, i;
	int rv;

	rv = check_name(name, errmsg);
	if (rv < 0)
		return rv;
	rv = pfs_lock_list(conn, &locks, &n);
	if (rv < 0) {
		set_errmsg(errmsg, "reading lock '%s' failed: %s", name,
			   pfs_last_error(conn)[0] ? pfs_last_error(conn) : strerror(-rv));
		return rv;
	}
	for (i = 0; i < n && strcmp(locks[i].name, name) != 0; i++)
		;
	if (i == n) {
		set_errmsg(errmsg, "lock '%s' is free", name);
		rv = -ENOENT;
	} else {
		copy_info(info, &locks[i]);
		take_waiters(info, &locks[i]);
	}
	pfs_lock_list_free(locks, n);
	return rv;
}
