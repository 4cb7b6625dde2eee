/*
 * liblock: named cluster locks with leases and fencing tokens, on top of
 * libpmxfs.
 *
 * The store keeps a held lock as the entry /priv/lock/<name>. Its version
 * is the fencing token, so a later holder always gets a higher token. The
 * store's timekeeper ends a lease that is not renewed in time; only
 * release or expiry frees a lock, never a client disconnecting.
 *
 * Renewal. A held lock has its own connection and two threads. The
 * renewal thread renews at every third of the lease. The watchdog thread
 * declares the lock lost at LEASE minus LOCK_SAFETY_MARGIN_MS(LEASE),
 * counted on CLOCK_MONOTONIC from the moment this client sent the request
 * that last started the lease (the acquire or the last successful renew).
 * The store starts its lease timer when it delivers that request, which
 * is later, so the holder stops before the store can give the lock away.
 *
 * Loss notices. Between renewals the renewal thread also waits for the
 * PFS_EVENT_KIND_LOCK_LOST event that pmxfs sends on the lock's
 * connection when the lease ran out at the timekeeper, another client
 * released the lock, a sync replaced it, or this node lost quorum. The
 * lock is lost at once then, without waiting for the deadline; the
 * deadline still covers a daemon that cannot tell (hung or gone).
 *
 * A lost lock stays lost: the threads stop, lock_held() returns false,
 * lock_cond() and lock_write() fail with -ENOLCK, lock_lost_cause()
 * returns the cause, and the on_lost callback runs once, on the watchdog or the
 * renewal thread.
 *
 * Return convention: 0 or a negative errno value. Functions that can fail
 * for a reason worth telling fill a caller-owned errmsg of LOCK_ERRMSG_SIZE
 * bytes with one sentence (errmsg may be NULL). The library never logs.
 */
#ifndef LOCK_LOCK_H
#define LOCK_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pmxfs/pmxfs.h"

#define LOCK_ERRMSG_SIZE 256

/* Lease bounds that pmxfs accepts, and its default, in milliseconds. */
#define LOCK_MIN_LEASE_MS 1000u
#define LOCK_MAX_LEASE_MS 3600000u
#define LOCK_DEFAULT_LEASE_MS 120000u

/*
 * The safety margin of a lease of LEASE ms: a quarter of the lease, at
 * most 10 s. It covers the rate difference of the monotonic clocks of the
 * holder and the timekeeper and the time the holder needs to stop acting.
 * A 1 s lease is lost after 750 ms, a 120 s lease after 110 s.
 */
#define LOCK_SAFETY_MARGIN_MS(lease) ((lease) / 4 < 10000u ? (lease) / 4 : 10000u)

struct lock;

/* The cause of a lost lock. */
enum lock_lost_cause {
	LOCK_LOST_NONE = 0,  /* still held, or released */
	LOCK_LOST_DEADLINE,  /* no renewal succeeded before the lease minus the margin */
	LOCK_LOST_REFUSED,   /* a renewal was refused: the token is no longer current */
	LOCK_LOST_EXPIRED,   /* pmxfs: the lease ran out at the timekeeper */
	LOCK_LOST_RELEASED,  /* pmxfs: another client released the lock */
	LOCK_LOST_NO_QUORUM, /* pmxfs: this node lost quorum */
	LOCK_LOST_REPLACED,  /* pmxfs: a sync replaced the tree without this lock */
};

/* Called once when a held lock is lost, from one of the lock's threads.
 * It must not call lock_release() on the same lock. */
typedef void (*lock_lost_fn)(struct lock *lock, void *ctx);

/*
 * Acquire the lock NAME through the pmxfs service SERVICE (NULL: the
 * default, see pfs_connect()). LEASE_MS 0 means LOCK_DEFAULT_LEASE_MS.
 * TIMEOUT_MS 0 fails at once when the lock is held; otherwise the request
 * waits in the store's first-come, first-served queue for up to
 * TIMEOUT_MS. ON_LOST (may be NULL) runs with CTX when the lock is lost.
 * On success *OUT is renewed in the background until lock_release().
 *
 * Errors: -EINVAL (invalid name or lease), -EBUSY (held, TIMEOUT_MS 0),
 * -ETIMEDOUT (still held after TIMEOUT_MS, or no reply from the daemon
 * within TIMEOUT_MS plus 5 s), -ENOTCONN (no daemon),
 * -EACCES, -EROFS (not quorate), -ENOMEM, -EMFILE or -ENFILE (no file
 * descriptor), -EAGAIN (no thread, or the cluster configuration changed
 * while the request waited), and the other errors of pfs_lock_acquire().
 */
int lock_acquire(const char *service, const char *name, uint32_t lease_ms, uint32_t timeout_ms,
		 lock_lost_fn on_lost, void *ctx, struct lock **out, char *errmsg);

/*
 * Stop renewing and release the lock, then free it (NULL is allowed).
 * Returns 0 when the lock was released, -ENOLCK when it had already been
 * lost or given to someone else, or another error of pfs_lock_release()
 * (then the lease runs out in the store). LOCK is freed in every case.
 * NOTE: a renewal in flight is waited for, which can take up to the
 * request timeout of libpmxfs (120 s) when the daemon hangs.
 */
int lock_release(struct lock *lock, char *errmsg);

/* The fencing token, the lock name and the lease in ms. */
uint64_t lock_token(const struct lock *lock);
const char *lock_name(const struct lock *lock);
uint32_t lock_lease_ms(const struct lock *lock);

/* True until the lock is lost: the threads noticed a late or refused
 * renewal or a loss notice, or the clock passed the lease minus the margin. */
bool lock_held(const struct lock *lock);

/* Milliseconds until this holder must stop acting, 0 once lost. */
int64_t lock_time_left_ms(const struct lock *lock);

/* Successful renewals since the acquire. */
unsigned lock_renewals(const struct lock *lock);

/* Return the cause of the loss, LOCK_LOST_NONE while the lock is held. */
enum lock_lost_cause lock_lost_cause(const struct lock *lock);

/* A short phrase for cause ("this node lost quorum"), a static string. */
const char *lock_lost_cause_text(enum lock_lost_cause cause);

/*
 * Fill *COND with the fencing token of LOCK, keeping its other fields.
 * Returns -ENOLCK when the lock is no longer held.
 */
int lock_cond(const struct lock *lock, struct pfs_cond *cond);

/*
 * Write DATA (LEN bytes) to PATH through CONN, only while LOCK is held:
 * the store rejects the write unless the lock's token is still current.
 * EXPECTED_VERSION (may be NULL) adds a version condition as in pfs_cond.
 * *VERSION (may be NULL) receives the new version.
 *
 * Errors: -ENOLCK (the lock was lost or the token is stale; nothing was
 * written), -ESTALE (the version differs), and those of pfs_write().
 */
int lock_write(struct pfs_conn *conn, const struct lock *lock, const char *path,
	       const void *data, size_t len, const uint64_t *expected_version, uint64_t *version,
	       char *errmsg);

/* What pmxfs shows about a held lock (see pfs_lock_list()). */
struct lock_info {
	char name[129];
	uint32_t node;          /* node id of the holder */
	char node_name[64];     /* "" when unknown */
	uint32_t pid;           /* the holder's process id on its node, 0 when unknown */
	uint64_t request;       /* the holder's request id on its node */
	uint64_t token;         /* the entry's version */
	uint32_t lease_ms;
	int64_t lease_left_ms;  /* as the queried node times it, -1 when unknown */
	uint32_t acquired;      /* seconds since the epoch, the holder node's clock */
	size_t nwaiters;
	struct pfs_lock_waiter *waiters; /* first in line first; lock_info_clear() frees */
};

/*
 * Read the lock NAME through CONN. Free INFO's waiters with
 * lock_info_clear(). Errors: -ENOENT (the lock is free), -EINVAL (invalid
 * name), and those of pfs_lock_list().
 */
int lock_inspect(struct pfs_conn *conn, const char *name, struct lock_info *info, char *errmsg);

/* Free the waiters of INFO. Accepts NULL. */
void lock_info_clear(struct lock_info *info);

/*
 * List the held locks in name order with their waiters: *INFOS (caller
 * frees with lock_list_free()) and *COUNT. Needs root, like /priv.
 * Errors: those of pfs_lock_list().
 */
int lock_list(struct pfs_conn *conn, struct lock_info **infos, size_t *count, char *errmsg);

/* Free a list from lock_list(). Accepts NULL. */
void lock_list_free(struct lock_info *infos, size_t count);

#endif /* LOCK_LOCK_H */
