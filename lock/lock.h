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
 * A lost lock stays lost: the threads stop, lock_held() returns false, and
 * the on_lost callback runs once, on the watchdog or the renewal thread.
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
 * -ETIMEDOUT (still held after TIMEOUT_MS), -ENOTCONN (no daemon),
 * -EACCES, -EROFS (not quorate), -ENOMEM, -EAGAIN (no thread), and the
 * other errors of pfs_lock_acquire().
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
 * renewal, or the clock passed the lease minus the margin. */
bool lock_held(const struct lock *lock);

/* Milliseconds until this holder must stop acting, 0 once lost. */
int64_t lock_time_left_ms(const struct lock *lock);

/* Successful renewals since the acquire. */
unsigned lock_renewals(const struct lock *lock);

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

/*
 * What the store shows about a held lock. The store keeps neither the
 * waiters nor the time left of a lease in the tree, so neither is here.
 */
struct lock_info {
	char name[129];
	uint32_t node;       /* node id of the holder */
	uint64_t request;    /* the holder's request id on its node */
	uint64_t token;      /* the entry's version */
	uint32_t lease_ms;
	uint32_t acquired;   /* seconds since the epoch, the writer's clock */
};

/*
 * Read the lock NAME through CONN. Errors: -ENOENT (the lock is free),
 * -EINVAL (invalid name), -EBADMSG (the entry does not have the layout
 * pmxfs writes), and those of pfs_get().
 */
int lock_inspect(struct pfs_conn *conn, const char *name, struct lock_info *info, char *errmsg);

/*
 * List the held locks in name order: *INFOS (caller frees with free())
 * and *COUNT. Entries that vanish or do not parse while listing are left
 * out. Errors: those of pfs_list(), -ENOMEM.
 */
int lock_list(struct pfs_conn *conn, struct lock_info **infos, size_t *count, char *errmsg);

#endif /* LOCK_LOCK_H */
