/*
 * Helpers shared between ct.c, ct_run.c and ct_create.c and not part of
 * the API in ctmgr/ct.h.
 */
#ifndef CTMGR_CT_INTERNAL_H
#define CTMGR_CT_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "ctmgr/ct.h"

struct lxc_container;

/* Fail with -EREMOTE when CT belongs to another node, naming that node. */
int ctm__ct_require_local(const struct ctm_ctx *ctx, const struct ctm_ct *ct, char *errmsg);

/*
 * Read storage.cfg from the store into *OUT. A missing file gives an
 * empty configuration, so bind mounts still work.
 */
int ctm__ct_storage(struct ctm_ctx *ctx, struct ctm_storage_cfg **out, char *errmsg);

/* Build the LXC config of section S of CTID for this host. */
int ctm__ct_build_lxc(struct ctm_ctx *ctx, unsigned ctid, const struct conf_section *s,
                      const struct ctm_storage_cfg *storage, struct ctm_lxc_config **out,
                      char *errmsg);

/*
 * Mount the staged volumes of LCFG, create its device nodes and write its
 * seccomp profile. On error whatever was mounted is unmounted again.
 */
int ctm__ct_stage(const struct ctm_lxc_config *lcfg, char *errmsg);

/* Unmount everything below <lxc path>/<CTID>/mnt; missing is fine. */
void ctm__ct_unstage(struct ctm_ctx *ctx, unsigned ctid);

/* The host folder of the container's root file system, from LCFG, or NULL. */
const char *ctm__ct_rootfs_dir(const struct ctm_lxc_config *lcfg);

/* A liblxc handle of CTID (lxc_container_put() it), or NULL. */
struct lxc_container *ctm__ct_lxc(struct ctm_ctx *ctx, unsigned ctid);

/*
 * Check that the hookscript VOLID (STORAGE:snippets/FILE) can run: the
 * storage exists, the file exists and is executable. Its path goes into
 * SCRIPT; "" when VOLID is NULL or empty. ERRMSG names the volume and
 * the path. Errors: -ENOENT, -EACCES, -EINVAL, those of reading storage.cfg.
 */
int ctm__ct_hookscript_check(struct ctm_ctx *ctx, unsigned ctid, const char *volid,
                             char *script, size_t size, char *errmsg);

/* Volumes that create or set allocated, removed again when they fail. */
struct ctm__created {
	char **volumes;
	size_t n;
};

/*
 * Replace the allocation requests (STORAGE:SIZE) of rootfs and mpN in S
 * with new volumes of CTID owned by ROOT_UID, adding each to CR. With
 * ONLY, just the keys that ONLY sets.
 */
int ctm__ct_alloc_volumes(struct ctm_ctx *ctx, unsigned ctid, struct conf_section *s,
                          const struct ctm_storage_cfg *storage, uid_t root_uid,
                          const struct ctm_options *only, struct ctm__created *cr,
                          char *errmsg);

/* Remove the volumes of CR (when REMOVE) and free CR. */
void ctm__created_clear(const struct ctm_storage_cfg *storage, struct ctm__created *cr,
                        bool remove);

/* Write WARN lines of a guest setup report and LXC config notes. */
void ctm__ct_warn(struct ctm_ctx *ctx, unsigned ctid, char **lines, size_t n);

/*
 * Write one warning per diagnostic of CF (errors and warnings, the lines
 * `ctconf check` reports), naming the store PATH, the line and the reason,
 * as pct warns "unable to parse config". A config already reported by this
 * command is not reported again.
 */
void ctm__ct_warn_diags(struct ctm_ctx *ctx, unsigned ctid, const char *path,
                        const struct conf_file *cf);

/* Write N cgroup ITEMS into the cgroup files of the running CTID, in
 * order. Errors: -EINVAL not running, -ENOENT cgroup not found, -EIO
 * naming the key and value the kernel rejected. */
int ctm__ct_set_cgroup(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_item *items,
                       size_t n, char *errmsg);

/*
 * Mount the host folder SOURCE on TARGET (absolute, inside the container)
 * in the mount namespace of the running CTID, with the flags ro, nosuid,
 * nodev, noexec and noatime of the LXC mount OPTIONS. STAGED (or NULL) is
 * mounted on the host first, as at start. A missing TARGET folder is
 * created with owner UID:GID. On error nothing stays mounted.
 * Errors: -EINVAL not running, those of the mount calls.
 */
int ctm__ct_plug(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_mount *staged,
                 const char *source, const char *target, const char *options, uid_t uid, gid_t gid,
                 char *errmsg);

/* Unmount TARGET inside the running CTID (not mounted is fine), then
 * STAGED (or NULL) on the host. Errors: -EINVAL not running, -errno. */
int ctm__ct_unplug(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_mount *staged,
                   const char *target, char *errmsg);

/*
 * Create the device node DEV on the host, as a start does, and bind it on
 * its path inside the running CTID (creating the file). The caller allows
 * the device in the cgroup. Errors: -EINVAL not running, -errno.
 */
int ctm__ct_plug_device(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_device *dev,
                        char *errmsg);

/* The lxc path in use. */
const char *ctm__ct_lxc_path(const struct ctm_ctx *ctx);

#endif /* CTMGR_CT_INTERNAL_H */
