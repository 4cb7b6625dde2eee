/*
 * The LXC config of a container, generated from its parsed config
 * (conf/conf.h) for the host's cgroup layout. docs/ctmgr.md has the table
 * of config keys and the LXC lines each becomes.
 *
 * The result is an ordered list of LXC keys and values: the generated
 * entries first, then the raw `lxc.*` entries of the config in their
 * order. Values are what LXC uses after reading its config file, so a raw
 * value written `"x"` in the config is `x` here, as LXC's reader strips one
 * pair of quotes. ctm_lxc_config_text() writes the list as an LXC config
 * file and quotes again where LXC's reader would change a value.
 *
 * Some work cannot be expressed in LXC keys, and the result lists it for the
 * code that starts the container:
 * - mounts: raw images and block devices of rootfs and mpN are mounted on
 *   the host under <lxc path>/<ctid>/mnt/<key> before the start, and the
 *   LXC config bind-mounts that folder (LXC's mount entries cannot attach
 *   loop devices, and an unprivileged container may not mount ext4);
 * - devices: the device nodes of devN are created under
 *   <lxc path>/<ctid>/passthrough/ with their mode and owner, and bound
 *   into the container's /dev;
 * - seccomp: the profile text to write for unprivileged containers.
 * - notes: settings that are accepted but have no effect here.
 *
 * Return convention: 0, or a negative errno value with ERRMSG
 * (CONF_ERRMSG_SIZE bytes) naming the key and value. The library does not
 * log, and reads only what the parameters point it at.
 */
#ifndef CTMGR_LXCCONF_H
#define CTMGR_LXCCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "ctmgr/storage.h"

/* The layout of the host's cgroup controllers. */
enum ctm_cgroup_layout {
	CTM_CGROUP_V1 = 1, /* the memory and cpu controllers are on v1 hierarchies
	                      (also the v1 and v2 "hybrid" layout) */
	CTM_CGROUP_V2 = 2, /* pure v2: one unified hierarchy */
};

/*
 * Find the cgroup layout from MOUNTINFO (a /proc/PID/mountinfo file; NULL
 * means /proc/self/mountinfo): v1 when a `cgroup` mount carries the memory
 * or cpu controller, else v2 when a `cgroup2` mount exists.
 * Errors: -ENOENT no cgroup file system is mounted, -errno of reading.
 */
int ctm_cgroup_detect(const char *mountinfo, enum ctm_cgroup_layout *layout, char *errmsg);

/*
 * Read the CPUs containers may use into BUF (SIZE bytes) as a CPU list
 * ("0-3,6"): the effective cpuset of the cgroup root for LAYOUT, else
 * /sys/devices/system/cpu/online. Errors: -errno, -ENOSPC.
 */
int ctm_host_cpus(enum ctm_cgroup_layout layout, char *buf, size_t size, char *errmsg);

/* The parent folder of each container's config, staged mounts and device nodes. */
#define CTM_LXC_PATH "/var/lib/lxc"
/* The folder of LXC's shipped config includes. */
#define CTM_LXC_CONFIG_DIR "/usr/share/lxc/config"

/* A device number and type, as stat() reports it. */
struct ctm_device_id {
	char type; /* 'c' or 'b' */
	unsigned major;
	unsigned minor;
};

/* The inputs of the generator besides the config. */
struct ctm_lxc_params {
	unsigned ctid;
	enum ctm_cgroup_layout layout;
	const char *lxc_path;   /* NULL: CTM_LXC_PATH */
	const char *config_dir; /* NULL: CTM_LXC_CONFIG_DIR; per-OS includes are used
	                           when <ostype>.common.conf exists there */
	const char *host_cpus;  /* CPU list the `cores` are chosen from; NULL: no cpuset */
	const struct ctm_storage_cfg *storage; /* for storage volumes; may be NULL */
	const char *node;   /* this node, checked against storage `nodes`; may be NULL */
	unsigned lxc_major; /* major version of the liblxc that reads the config
	                       (lxc_get_version()); 0 means 5, the oldest served */
	/* Find the device number of PATH; NULL means stat(). Returns 0 or a
	 * negative errno. */
	int (*device_id)(const char *path, struct ctm_device_id *id, void *data);
	void *data;
};

/* One `key = value` entry. */
struct ctm_lxc_item {
	char *key;
	char *value;
};

/* A volume to mount on the host before the start. */
struct ctm_lxc_mount {
	char *key;     /* rootfs or mpN */
	char *source;  /* the image file or block device */
	char *target;  /* the folder it is mounted on */
	char *options; /* mount(8) options, comma-separated, maybe empty */
	bool loop;     /* SOURCE is an image file: attach a loop device */
};

/* A device node to create before the start. */
struct ctm_lxc_device {
	char *key;  /* devN */
	char *path; /* the path inside the container, e.g. /dev/ttyUSB0 */
	char *node; /* the node to create on the host */
	struct ctm_device_id id;
	unsigned mode; /* permission bits, pct's default 0660 */
	uint32_t uid;  /* owner on the host: the container's id mapped */
	uint32_t gid;
};

struct ctm_lxc_config {
	struct ctm_lxc_item *items;
	size_t n_items;
	struct ctm_lxc_mount *mounts;
	size_t n_mounts;
	struct ctm_lxc_device *devices;
	size_t n_devices;
	char *seccomp_path; /* where to write SECCOMP, or NULL */
	char *seccomp;      /* the seccomp profile text, or NULL */
	char **notes;       /* one sentence each */
	size_t n_notes;
	bool unprivileged; /* `unprivileged: 1` or a raw lxc.idmap */
	uint32_t root_uid; /* the host uid of the container's root */
	uint32_t root_gid;
};

/*
 * Build the LXC config of section S (the main section of a container's
 * config) with PARAMS. Every key the generator uses is checked strictly
 * (conf_schema_validate()), and settings it cannot honour are rejected:
 * `quota=1` on rootfs or mpN, `mknod=1` in features, templates.
 * On success *OUT belongs to the caller (ctm_lxc_config_free()).
 * Errors: -EINVAL bad or unsupported value (ERRMSG names key and value),
 * -ENOENT a device or storage missing, errors of ctm_volume_resolve(),
 * -ENOMEM.
 */
int ctm_lxc_config_build(const struct conf_section *s, const struct ctm_lxc_params *params,
                         struct ctm_lxc_config **out, char *errmsg);

/* Free CONFIG; NULL is allowed. */
void ctm_lxc_config_free(struct ctm_lxc_config *config);

/*
 * Write CONFIG as the text of an LXC config file, `key = value` lines, into
 * a new string (*OUT, caller frees). A value that LXC's reader would change
 * (surrounding blanks, surrounding quotes) is written inside double quotes.
 * Errors: -EINVAL a value contains a line break, -ENOMEM.
 */
int ctm_lxc_config_text(const struct ctm_lxc_config *config, char **out);

/* The value of the last entry KEY in CONFIG, or NULL. */
const char *ctm_lxc_config_get(const struct ctm_lxc_config *config, const char *key);

#endif /* CTMGR_LXCCONF_H */
