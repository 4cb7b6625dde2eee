/*
 * ctlock: the `lock:` property of a container config.
 *
 * A container's config is /nodes/<node>/lxc/<CTID>.conf in the pmxfs
 * store, on whichever node owns it; these functions find it on any node.
 * The property marks the container busy across crashes until someone
 * clears it. Setting and clearing are compare-and-swap: read the config
 * and its version, check the current value against the expected one,
 * write with the version read. When another change to the config wins
 * the race, the helpers read it again and retry, but only while the lock
 * value still matches the expectation, at most CTLOCK_MAX_ATTEMPTS times.
 *
 * The legal values are pct's ten: backup create destroyed disk fstrim
 * migrate mounted rollback snapshot snapshot-delete.
 *
 * Return convention: 0 or a negative errno value, with one sentence in
 * the caller's errmsg of LOCK_ERRMSG_SIZE bytes (may be NULL). The library
 * never logs.
 */
#ifndef LOCK_CTLOCK_H
#define LOCK_CTLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "lock/lock.h"
#include "pmxfs/pmxfs.h"

#define CTLOCK_CTID_MIN 100u
#define CTLOCK_CTID_MAX 999999999u

/* Room for the longest legal value, "snapshot-delete", and its NUL. */
#define CTLOCK_VALUE_SIZE 16

/* LIMIT: reads and writes per set or clear before giving up on a config
 * that keeps changing. */
#define CTLOCK_MAX_ATTEMPTS 8

/* The legal values in pct's order, ending with NULL. */
extern const char *const ctlock_values[];

/* True when VALUE is one of the ten legal values. */
bool ctlock_value_valid(const char *value);

/* The location of a container's config and its lock value. */
struct ctlock_state {
	char path[4097];                 /* /nodes/<node>/lxc/<CTID>.conf */
	char node[256];
	uint64_t version;                /* the config's version when read */
	char value[CTLOCK_VALUE_SIZE];   /* "" when no lock is set */
	char raw[64];                    /* the value as found, cut at 63 bytes */
};

/*
 * Find the config of CTID on any node and read its lock into *STATE.
 * A value that is not one of the ten is reported in STATE->raw and
 * counts as set, as pct's check does; STATE->value is then "".
 *
 * Errors: -EINVAL (CTID outside 100..999999999), -ENOENT (no container
 * with that CTID), -ENOMEM, and those of pfs_get() and pfs_list().
 */
int ctlock_get(struct pfs_conn *conn, uint32_t ctid, struct ctlock_state *state, char *errmsg);

/*
 * Fail with pct's message "CT is locked (VALUE)" when CTID has a lock.
 * Errors: -EBUSY (locked), and those of ctlock_get().
 */
int ctlock_check(struct pfs_conn *conn, uint32_t ctid, char *errmsg);

/*
 * Set the lock of CTID to VALUE when its current lock is EXPECTED (NULL:
 * no lock). *STATE (may be NULL) receives the config as written.
 *
 * Errors: -EINVAL (VALUE or EXPECTED is not a legal value), -EBUSY (the
 * config has another lock: "CT is locked (VALUE)"), -ENOLCK (EXPECTED
 * given but no lock set), -ESTALE (the config kept changing), -ENOENT,
 * and those of pfs_write().
 */
int ctlock_set(struct pfs_conn *conn, uint32_t ctid, const char *value, const char *expected,
	       struct ctlock_state *state, char *errmsg);

/*
 * Clear the lock of CTID when it is EXPECTED, or any lock when EXPECTED
 * is NULL (pct's unlock). *STATE (may be NULL) receives the config as
 * written.
 *
 * Errors: -ENOLCK (no lock set; with EXPECTED NULL the message is "no
 * lock found trying to remove any lock", as pct's), -EBUSY (another lock
 * is set), -EINVAL (EXPECTED is not a legal value), -ESTALE, -ENOENT,
 * and those of pfs_write().
 */
int ctlock_clear(struct pfs_conn *conn, uint32_t ctid, const char *expected,
		 struct ctlock_state *state, char *errmsg);

#endif /* LOCK_CTLOCK_H */
