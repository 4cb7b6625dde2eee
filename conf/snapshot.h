/*
 * Snapshot transformations on a parsed config, as pure functions. They
 * change the conf_file in memory and nothing else: no storage, and no
 * clock, because the caller passes the time. Each operation has the
 * phases pct has. A caller does the storage work between them, so a crash
 * in between leaves a state pct recognises (`lock: snapshot`,
 * `snapstate: prepare` and so on).
 *
 * Every function returns 0, or a negative errno with ERRMSG
 * (CONF_ERRMSG_SIZE bytes) set to pct's message where pct has one.
 * On error the config is unchanged. Pointers into cf->sections stay
 * valid except across create (which may move the section array) and the
 * last phase of delete and rollback (which remove sections).
 */
#ifndef CONF_SNAPSHOT_H
#define CONF_SNAPSHOT_H

#include <stdint.h>

#include "conf/conf.h"

/* The maximum length of a snapshot name in pct, in bytes. */
#define CONF_SNAPSHOT_NAME_MAX 40

/*
 * Check NAME: `[a-z][a-z0-9_-]+` (case-insensitive), at most 40
 * characters, and not the reserved `current` or `vzdump`.
 * Errors: -EINVAL.
 */
int conf_snapshot_check_name(const char *name, char *errmsg);

/*
 * Return -EBUSY with "CT is locked (VALUE)" when the main section has a
 * `lock:` value, else 0.
 */
int conf_check_lock(const struct conf_file *cf, char *errmsg);

/*
 * Create, first phase: reject templates, locked configs and a duplicate
 * name. Then set `lock: snapshot`, drop stale `parent` references to NAME,
 * and add section NAME. The section is a copy of the main section without
 * lock, snapstate, snaptime, vmstate, digest and unusedN, raw lxc.*
 * entries included, plus `snaptime: SNAPTIME`, `snapstate: prepare` and
 * COMMENT (may be NULL) as its description.
 * Errors: -EBUSY locked, -EEXIST name used, -EINVAL bad name or
 * template, -ENOMEM.
 */
int conf_snapshot_prepare(struct conf_file *cf, const char *name, const char *comment,
                          uint64_t snaptime, char *errmsg);

/*
 * Create, second phase: require `lock: snapshot` and the snapshot in
 * `snapstate: prepare`; drop both and point the main `parent` at NAME.
 * Errors: -ENOENT no such snapshot, -EINVAL "missing snapshot lock" or
 * "wrong snapshot state", -ENOMEM.
 */
int conf_snapshot_commit(struct conf_file *cf, const char *name, char *errmsg);

/*
 * Delete, first phase: reject a locked config. FORCE takes over a
 * `snapshot` or `snapshot-delete` lock left by a failed create or delete,
 * but any other lock, such as `backup`, still rejects it. Then set
 * `lock: snapshot-delete` and `snapstate: delete` on the snapshot.
 * Errors: -ENOENT, -EBUSY, -EINVAL template, -ENOMEM.
 */
int conf_snapshot_delete_prepare(struct conf_file *cf, const char *name, bool force,
                                 char *errmsg);

/*
 * Delete, last phase: require `lock: snapshot-delete`. Every
 * `parent: NAME` (in other snapshots and the main section) is re-pointed
 * to the deleted snapshot's parent, or removed when there is none. The
 * section and the lock are removed. Volumes that only the deleted snapshot
 * used become `unusedN` entries of the main section (lowest free N).
 * Errors: -ENOENT, -EINVAL wrong lock, -ENOSPC all 256 unusedN taken,
 * -ENOMEM.
 */
int conf_snapshot_delete_commit(struct conf_file *cf, const char *name, char *errmsg);

/*
 * Rollback, first phase: the snapshot must exist and have no snapstate,
 * the config must not be a template or locked; set `lock: rollback`.
 * (Stopping a running container is the caller's job.)
 * Errors: -ENOENT, -EBUSY, -EINVAL, -ENOMEM.
 */
int conf_snapshot_rollback_prepare(struct conf_file *cf, const char *name, char *errmsg);

/*
 * Rollback, last phase: require `lock: rollback` ("got wrong lock") and
 * remove it. The new main section is the snapshot's keys (copy rules as
 * for create) plus the current description and unusedN entries, with
 * `parent: NAME`. Current volumes the snapshot does not have become
 * `unusedN`, and the pending section is dropped.
 * Errors: -ENOENT, -EINVAL wrong lock, -ENOSPC, -ENOMEM.
 */
int conf_snapshot_rollback_commit(struct conf_file *cf, const char *name, char *errmsg);

#endif /* CONF_SNAPSHOT_H */
