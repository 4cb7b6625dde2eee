/*
 * Storages of `storage.cfg` (Proxmox format) and the volumes on them.
 *
 * Only `dir` storages hold volumes. Sections of other types (nfs, lvm,
 * zfspool, ...) are read, kept with their type and a note, and rejected
 * when a volume names them.
 *
 * Volume ids, and where their data lives on a dir storage with path P:
 *
 *   local:100/vm-100-disk-0.raw           P/images/100/vm-100-disk-0.raw (ext4 image)
 *   local:100/subvol-100-disk-0.subvol    P/images/100/subvol-100-disk-0.subvol (folder)
 *   local:subvol-100-disk-0               P/images/100/subvol-100-disk-0 (folder)
 *   local:vztmpl/debian-12.tar.zst        P/template/cache/debian-12.tar.zst
 *   local:snippets/hook.sh                P/snippets/hook.sh
 *
 * The first two are the names pct uses; the third is the short form this
 * project allocates for folder volumes. A `content-dirs` override of the
 * storage replaces `images`, `template/cache` or `snippets`.
 *
 * Snapshots of dir volumes are full copies named
 * P/images/<vmid>/snap-<snapshot>-<volume name>.
 *
 * Return convention: 0, or a negative errno value with ERRMSG
 * (CONF_ERRMSG_SIZE bytes) set to one sentence naming the storage, the
 * volume and what to do. Nothing is logged.
 */
#ifndef CTMGR_STORAGE_H
#define CTMGR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/conf.h"

/* Content types of a storage, as bits. */
enum ctm_content {
	CTM_CONTENT_IMAGES = 1 << 0,
	CTM_CONTENT_ROOTDIR = 1 << 1,
	CTM_CONTENT_VZTMPL = 1 << 2,
	CTM_CONTENT_ISO = 1 << 3,
	CTM_CONTENT_BACKUP = 1 << 4,
	CTM_CONTENT_SNIPPETS = 1 << 5,
	CTM_CONTENT_IMPORT = 1 << 6,
};

/* One section of storage.cfg. */
struct ctm_storage {
	char *id;         /* section id, e.g. "local" */
	char *type;       /* "dir", or a type this library does not serve */
	unsigned line;    /* line of the section header */
	char *path;       /* dir: the base folder (required) */
	unsigned content; /* enum ctm_content bits; default images and rootdir, as pct */
	bool shared;
	bool disabled;
	bool create_base_path; /* `mkdir` / `create-base-path`, default true */
	char *is_mountpoint;   /* NULL, or the folder that must be a mount point */
	char **nodes;          /* NULL-terminated, or NULL for every node */
	char *images_dir;      /* content-dirs override for images, or NULL */
	char *vztmpl_dir;      /* content-dirs override for vztmpl, or NULL */
	char *snippets_dir;    /* content-dirs override for snippets, or NULL */
};

/* A parsed storage.cfg. */
struct ctm_storage_cfg {
	struct ctm_storage *storages;
	size_t n_storages;
	char **notes; /* "FILE:LINE: TEXT" about what was ignored */
	size_t n_notes;
};

/* The kind of a volume. */
enum ctm_volume_kind {
	CTM_VOLUME_RAW = 1,     /* an ext4 image file */
	CTM_VOLUME_SUBVOL = 2,  /* a folder */
	CTM_VOLUME_VZTMPL = 3,  /* a template archive */
	CTM_VOLUME_SNIPPET = 4, /* a snippet file (hookscripts) */
};

/* A resolved volume id. */
struct ctm_volume {
	const struct ctm_storage *storage; /* points into the cfg */
	char *name;                        /* the part after "storage:" */
	char *file;                        /* the last path part, e.g. vm-100-disk-0.raw */
	enum ctm_volume_kind kind;
	unsigned vmid; /* owner, 0 for templates and snippets */
	char *path;    /* absolute path of the data */
};

/*
 * Parse the storage.cfg text TEXT (LEN bytes); PATH is used in messages
 * only (may be NULL, then "storage.cfg"). Sections start with a
 * `type: id` line at column 0, their properties are indented `key value`
 * lines (a boolean key alone means 1), and a blank line ends a section.
 * `#` lines are comments. Sections of other types than dir are kept as
 * they are, with a note. In a dir section an unknown key, a duplicate
 * key, a bad boolean or content type, and a missing path are errors.
 * On success *OUT belongs to the caller (ctm_storage_cfg_free()).
 * Errors: -EINVAL (ERRMSG names file, line, key and value), -ENOMEM.
 */
int ctm_storage_cfg_parse(const char *text, size_t len, const char *path,
                          struct ctm_storage_cfg **out, char *errmsg);

/* Read and parse the file PATH. Errors: as above, -errno of reading. */
int ctm_storage_cfg_read(const char *path, struct ctm_storage_cfg **out, char *errmsg);

/* Free CFG; NULL is allowed. */
void ctm_storage_cfg_free(struct ctm_storage_cfg *cfg);

/* The storage named ID, or NULL. */
const struct ctm_storage *ctm_storage_find(const struct ctm_storage_cfg *cfg, const char *id);

/*
 * Fail with -ENOENT when the storage of the volume VOLID (STORAGE:NAME)
 * is not in CFG. ERRMSG then lists the dir storages enabled on NODE
 * (may be NULL) with the content CONTENT, named CONTENT_NAME. A VOLID
 * without a storage passes: resolving it reports that.
 */
int ctm_storage_check_exists(const struct ctm_storage_cfg *cfg, const char *volid,
                             const char *node, unsigned content, const char *content_name,
                             char *errmsg);

/*
 * Check that the storage ID exists, is a dir storage that is enabled and
 * available on NODE (may be NULL), and allows content rootdir. ERRMSG
 * names the problem and lists the storages that would do.
 * Errors: -ENOENT no such storage, -EACCES disabled or not on NODE,
 * -EINVAL wrong type or content.
 */
int ctm_storage_check_rootdir(const struct ctm_storage_cfg *cfg, const char *id,
                              const char *node, char *errmsg);

/*
 * Resolve VOLID (`storage:name`) to its storage, kind and path. NODE (may
 * be NULL) is the node that will use the volume: a storage whose `nodes`
 * list lacks it is rejected. The storage must be a dir storage and not
 * disabled. The data need not exist. On success the caller frees OUT
 * with ctm_volume_clear(); on error OUT is cleared.
 * Errors: -ENOENT no such storage, -EINVAL bad volume name or storage
 * type, -EACCES disabled or not on NODE, -ENOMEM.
 */
int ctm_volume_resolve(const struct ctm_storage_cfg *cfg, const char *volid, const char *node,
                       struct ctm_volume *out, char *errmsg);

/* Free what VOLUME owns and zero it. */
void ctm_volume_clear(struct ctm_volume *volume);

/*
 * Parse an allocation request `storage:N` of rootfs or mpN: N GiB, a
 * decimal with an optional fraction, rounded down to whole MiB as pct
 * does. *STORAGE_ID is a new string (caller frees).
 * Errors: -EINVAL not of that form, -ERANGE too large, -ENOMEM.
 */
int ctm_alloc_request_parse(const char *text, char **storage_id, uint64_t *bytes, char *errmsg);

/*
 * Allocate a volume for container VMID on storage STORAGE_ID, used on
 * NODE (may be NULL). BYTES 0 makes a folder `storage:subvol-VMID-disk-N`
 * owned by ROOT_UID:ROOT_GID; any other size makes a sparse raw image
 * `storage:VMID/vm-VMID-disk-N.raw` formatted with mkfs.ext4 (root
 * directory owned by ROOT_UID:ROOT_GID, with multi-mount protection). N is the lowest number no
 * volume of VMID uses yet. The storage must allow content type rootdir. Its base folder is created
 * when missing, unless `mkdir 0` or `create-base-path 0` turns that off. On success *VOLID is a new
 * string (caller frees). On error no volume is left behind, though the folders above it may remain.
 * Errors: -ENOENT, -EINVAL, -EACCES as ctm_volume_resolve(), -EEXIST no
 * free name, -EIO mkfs.ext4 failed, -errno of file operations, -ENOMEM.
 */
int ctm_volume_alloc(const struct ctm_storage_cfg *cfg, const char *storage_id, const char *node,
                     unsigned vmid, uint64_t bytes, uid_t root_uid, gid_t root_gid, char **volid,
                     char *errmsg);

/*
 * Remove the data of VOLID and its snapshot copies. A folder volume is
 * removed with all its content; a mount point below it stops the removal
 * with -EBUSY. A volume already gone is not an error.
 * Errors: as ctm_volume_resolve(), -EBUSY, -errno of removing.
 */
int ctm_volume_free(const struct ctm_storage_cfg *cfg, const char *volid, char *errmsg);

/*
 * Dir snapshots are copies. ctm_volume_snapshot() copies VOLID to its
 * snapshot SNAPNAME, and an existing copy of that name is an error.
 * ctm_volume_snapshot_rollback() replaces the volume's data by a copy of
 * the snapshot in one atomic exchange once the copy is complete.
 * ctm_volume_snapshot_delete() removes the copy; a missing one is not an
 * error. Copies keep owners, modes, times, extended attributes, ACLs,
 * hard links and holes (cp -a). The container must not be running.
 * Errors: as ctm_volume_resolve(), -EEXIST snapshot exists, -ENOENT
 * volume or snapshot missing, -EIO the copy failed, -errno.
 */
int ctm_volume_snapshot(const struct ctm_storage_cfg *cfg, const char *volid, const char *snapname,
                        char *errmsg);
int ctm_volume_snapshot_rollback(const struct ctm_storage_cfg *cfg, const char *volid,
                                 const char *snapname, char *errmsg);
int ctm_volume_snapshot_delete(const struct ctm_storage_cfg *cfg, const char *volid,
                               const char *snapname, char *errmsg);

/* The path of the snapshot copy SNAPNAME of VOLUME, new (caller frees), or NULL. */
char *ctm_volume_snapshot_path(const struct ctm_volume *volume, const char *snapname);

#endif /* CTMGR_STORAGE_H */
