/*
 * The LXC config of rootfs, the mpN mount points and the devN devices.
 *
 * Folders (bind mounts and folder volumes) are bind-mounted by LXC.
 * Raw images and block devices are mounted on the host by the start code
 * under <lxc path>/<ctid>/mnt/<key> (listed in the result's mounts) and
 * that folder is bind-mounted, because LXC's mount entries cannot attach
 * loop devices and an unprivileged container may not mount ext4 itself.
 * Mount points are mounted in index order, as pct does.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ctmgr/ctm_internal.h"
#include "ctmgr/lxcconf_internal.h"

#define MAX_MOUNTPOINTS 256
#define MAX_DEVICES     256

/* The origin of a mount point's data. */
struct source {
	char *folder; /* the folder LXC bind-mounts */
	char *device; /* for a host mount: the image or block device */
	bool loop;    /* DEVICE is an image file */
};

static void source_clear(struct source *src)
{
	free(src->folder);
	free(src->device);
}

/* PATH with the characters that end an fstab field written as octal
 * escapes, as getmntent() reads them. */
static char *escape_field(const char *path)
{
	char *out = malloc(strlen(path) * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *path; path++) {
		if (*path == ' ' || *path == '\t' || *path == '\n' || *path == '\\')
			o += sprintf(o, "\\%03o", (unsigned char)*path);
		else
			*o++ = *path;
	}
	*o = '\0';
	return out;
}

/* Is OPTION in the `;`-list LIST? */
static bool has_option(const char *list, const char *option)
{
	size_t len = strlen(option);

	for (const char *p = list; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL)
		if (strncmp(p, option, len) == 0 && (p[len] == ';' || p[len] == '\0'))
			return true;
	return false;
}

/*
 * The mount options of MP as a comma list: `ro`, then its mountoptions.
 * For a file system mount (FILESYSTEM) all mountoptions and `acl` apply;
 * a bind mount takes only the per-mount flags nodev, noexec, nosuid and
 * noatime. A read-only mount takes only nodev, noexec and nosuid, as pct.
 */
static char *mount_options(const struct conf_mountpoint *mp, bool filesystem)
{
	static const char *const names[] = {"discard", "lazytime", "noatime",
	                                    "nodev",   "noexec",   "nosuid"};
	bool ro = mp->ro == 1;
	char buf[128] = "";

	if (ro)
		strcat(buf, ",ro");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bool per_mount = i >= 3 || (i == 2 && !ro);

		if (!has_option(mp->mountoptions, names[i]) || !(per_mount || (filesystem && !ro)))
			continue;
		strcat(buf, ",");
		strcat(buf, names[i]);
	}
	if (filesystem && mp->acl == 1)
		strcat(buf, ",acl");
	return strdup(buf[0] ? buf + 1 : buf);
}

/* Reject what cannot be mounted as configured. */
static int check_mountpoint(struct ctm__builder *b, const char *key,
                            const struct conf_mountpoint *mp)
{
	if (mp->quota == 1)
		return ctm__error(
		    -EINVAL, b->errmsg,
		    "%s: quota=1 is not supported: user and group "
		    "quotas inside containers are not implemented; remove quota or set "
		    "quota=0",
		    key);
	if (mp->idmap)
		return ctm__error(-EINVAL, b->errmsg,
		                  "%s: idmap=%s is not supported: mount points "
		                  "use the container's id map; remove idmap",
		                  key, mp->idmap);
	if (mp->volume_type == CONF_VOLUME_ALLOC)
		return ctm__error(-EINVAL, b->errmsg,
		                  "%s: volume '%s' is an allocation request, not "
		                  "a volume: allocate it first (ctmgr create and set do)",
		                  key, mp->volume);
	if (mp->mp && strspn(mp->mp, "/") == strlen(mp->mp))
		return ctm__error(-EINVAL, b->errmsg,
		                  "%s: mp=%s would hide the root file system: "
		                  "choose a folder below /",
		                  key, mp->mp);
	return 0;
}

/* Find where the data of MP lives, and register a host mount when it
 * needs one. */
static int mount_source(struct ctm__builder *b, const char *key, const struct conf_mountpoint *mp,
                        struct source *src)
{
	struct ctm_volume volume;
	int rv;

	memset(src, 0, sizeof(*src));
	switch (mp->volume_type) {
	case CONF_VOLUME_BIND:
		src->folder = strdup(mp->volume);
		return src->folder ? 0 : -ENOMEM;
	case CONF_VOLUME_DEVICE:
		src->device = strdup(mp->volume);
		break;
	case CONF_VOLUME_STORAGE:
		if (!b->p->storage)
			return ctm__error(-ENOENT, b->errmsg,
			                  "%s: volume '%s' is on a storage, but no "
			                  "storage.cfg was given",
			                  key, mp->volume);
		rv = ctm_volume_resolve(b->p->storage, mp->volume, b->p->node, &volume, b->errmsg);
		if (rv < 0)
			return rv;
		if (volume.kind == CTM_VOLUME_SUBVOL) {
			src->folder = volume.path;
			volume.path = NULL;
		} else if (volume.kind == CTM_VOLUME_RAW) {
			src->device = volume.path;
			src->loop = true;
			volume.path = NULL;
		}
		ctm_volume_clear(&volume);
		if (!src->folder && !src->device)
			return ctm__error(-EINVAL, b->errmsg,
			                  "%s: volume '%s' is not a container volume "
			                  "(a raw image or a folder volume)",
			                  key, mp->volume);
		if (src->folder)
			return 0;
		break;
	default:
		return ctm__error(-EINVAL, b->errmsg, "%s: invalid volume '%s'", key, mp->volume);
	}

	/* A file system the start code mounts on the host. */
	if (!src->device)
		return -ENOMEM;
	src->folder = ctm__printf("%s/%u/mnt/%s", b->lxc_path, b->p->ctid, key);
	if (!src->folder)
		return -ENOMEM;
	return 0;
}

static int add_host_mount(struct ctm__builder *b, const char *key, const struct conf_mountpoint *mp,
                          const struct source *src)
{
	struct ctm_lxc_config *c = b->c;
	struct ctm_lxc_mount *m;

	if (ctm__grow(&c->mounts, c->n_mounts, sizeof(*c->mounts)) < 0)
		return -ENOMEM;
	m = &c->mounts[c->n_mounts];
	m->key = strdup(key);
	m->source = strdup(src->device);
	m->target = strdup(src->folder);
	m->options = mount_options(mp, true);
	m->loop = src->loop;
	c->n_mounts++;
	if (!m->key || !m->source || !m->target || !m->options)
		return -ENOMEM;
	return 0;
}

/* Resolve the mount point KEY: VALUE; on success SRC and MP are filled
 * and the caller clears both. */
static int prepare_mountpoint(struct ctm__builder *b, const char *key, const char *value,
                              struct conf_mountpoint *mp, struct source *src)
{
	int rv = key[0] == 'r' ? conf_rootfs_parse(value, mp, b->errmsg)
	                       : conf_mp_parse(value, mp, b->errmsg);

	memset(src, 0, sizeof(*src));
	if (rv < 0)
		return rv;
	rv = check_mountpoint(b, key, mp);
	if (rv == 0)
		rv = mount_source(b, key, mp, src);
	if (rv == 0 && src->device)
		rv = add_host_mount(b, key, mp, src);
	if (rv < 0) {
		source_clear(src);
		conf_mountpoint_clear(mp);
	}
	return rv;
}

int ctm__lxc_rootfs(struct ctm__builder *b)
{
	struct conf_mountpoint mp;
	struct source src;
	const char *value = NULL;
	char *options;
	int rv = ctm__lxc_value(b, "rootfs", &value);

	if (rv < 0)
		return rv;
	if (!value)
		return ctm__error(-EINVAL, b->errmsg,
		                  "missing 'rootfs': set it to the volume or "
		                  "folder of the root file system");
	rv = prepare_mountpoint(b, "rootfs", value, &mp, &src);
	if (rv < 0)
		return rv;

	rv = ctm__lxc_add(b, "lxc.rootfs.path", "dir:%s", src.folder);
	options = mount_options(&mp, false);
	if (!options)
		rv = -ENOMEM;
	else if (rv == 0 && options[0])
		rv = ctm__lxc_add(b, "lxc.rootfs.options", "%s", options);
	free(options);
	source_clear(&src);
	conf_mountpoint_clear(&mp);
	return rv;
}

static int add_mountpoint(struct ctm__builder *b, const char *key, const char *value)
{
	char *folder = NULL, *target = NULL, *options = NULL;
	struct conf_mountpoint mp;
	struct source src;
	int rv = prepare_mountpoint(b, key, value, &mp, &src);

	if (rv < 0)
		return rv;
	folder = escape_field(src.folder);
	target = escape_field(mp.mp + strspn(mp.mp, "/"));
	options = mount_options(&mp, false);
	if (!folder || !target || !options)
		rv = -ENOMEM;
	else
		rv = ctm__lxc_add(b, "lxc.mount.entry", "%s %s none bind,create=dir%s%s 0 0",
		                  folder, target, options[0] ? "," : "", options);
	free(options);
	free(target);
	free(folder);
	source_clear(&src);
	conf_mountpoint_clear(&mp);
	return rv;
}

int ctm__lxc_mountpoints(struct ctm__builder *b)
{
	int rv = 0;

	for (unsigned i = 0; i < MAX_MOUNTPOINTS && rv == 0; i++) {
		char key[16];
		const char *value = NULL;

		snprintf(key, sizeof(key), "mp%u", i);
		rv = ctm__lxc_value(b, key, &value);
		if (rv == 0 && value)
			rv = add_mountpoint(b, key, value);
	}
	return rv;
}

/* ---- Devices ---- */

static int stat_device(const char *path, struct ctm_device_id *id, void *data)
{
	struct stat st;

	(void)data;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return -ENODEV;
	id->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
	id->major = major(st.st_rdev);
	id->minor = minor(st.st_rdev);
	return 0;
}

/* Fill D (key, path, id, mode, owner) from the devN value DEV. */
static int describe_device(struct ctm__builder *b, const char *key, const struct conf_dev *dev,
                           struct ctm_lxc_device *d)
{
	int (*lookup)(const char *, struct ctm_device_id *, void *) =
	    b->p->device_id ? b->p->device_id : stat_device;
	uint32_t uid = dev->uid == CONF_UNSET ? 0 : (uint32_t)dev->uid;
	uint32_t gid = dev->gid == CONF_UNSET ? 0 : (uint32_t)dev->gid;
	int rv = lookup(dev->path, &d->id, b->p->data);

	if (rv == -ENODEV || (rv == 0 && d->id.type != 'c' && d->id.type != 'b'))
		return ctm__error(-EINVAL, b->errmsg, "%s: '%s' is not a character or block device",
		                  key, dev->path);
	if (rv < 0)
		return ctm__error(rv == -ENOENT ? -ENOENT : rv, b->errmsg,
		                  "%s: cannot use device "
		                  "'%s': %s",
		                  key, dev->path, strerror(-rv));

	d->mode = dev->mode ? (unsigned)strtoul(dev->mode, NULL, 8) : 0660;
	if (ctm__lxc_map_id(b, 'u', uid, &d->uid) < 0 || ctm__lxc_map_id(b, 'g', gid, &d->gid) < 0)
		return ctm__error(-EINVAL, b->errmsg,
		                  "%s: uid %u or gid %u is outside the "
		                  "container's id map: choose ids the lxc.idmap lines map",
		                  key, uid, gid);
	d->key = strdup(key);
	d->path = strdup(dev->path);
	d->node = ctm__printf("%s/%u/passthrough%s", b->lxc_path, b->p->ctid, dev->path);
	return d->key && d->path && d->node ? 0 : -ENOMEM;
}

static int add_device(struct ctm__builder *b, const char *key, const char *value)
{
	const char *allow = b->p->layout == CTM_CGROUP_V1 ? "lxc.cgroup.devices.allow"
	                                                  : "lxc.cgroup2.devices.allow";
	const char *deny =
	    b->p->layout == CTM_CGROUP_V1 ? "lxc.cgroup.devices.deny" : "lxc.cgroup2.devices.deny";
	struct ctm_lxc_config *c = b->c;
	struct ctm_lxc_device *d;
	char *node = NULL, *target = NULL;
	struct conf_dev dev;
	int rv = conf_dev_parse(value, &dev, b->errmsg);

	if (rv < 0)
		return rv;
	if (ctm__grow(&c->devices, c->n_devices, sizeof(*c->devices)) < 0) {
		conf_dev_clear(&dev);
		return -ENOMEM;
	}
	d = &c->devices[c->n_devices++];
	memset(d, 0, sizeof(*d));
	rv = describe_device(b, key, &dev, d);

	/* Read-only devices: allowed for reading, writes denied. */
	if (rv == 0)
		rv = ctm__lxc_add(b, allow, "%c %u:%u %s", d->id.type, d->id.major, d->id.minor,
		                  dev.deny_write == 1 ? "r" : "rw");
	if (rv == 0 && dev.deny_write == 1)
		rv = ctm__lxc_add(b, deny, "%c %u:%u w", d->id.type, d->id.major, d->id.minor);
	if (rv == 0) {
		node = escape_field(d->node);
		target = escape_field(d->path + 1);
		rv = node && target ? ctm__lxc_add(b, "lxc.mount.entry",
		                                   "%s %s none bind,create=file 0 0", node, target)
		                    : -ENOMEM;
	}
	free(node);
	free(target);
	conf_dev_clear(&dev);
	return rv;
}

int ctm__lxc_devices(struct ctm__builder *b)
{
	int rv = 0;

	for (unsigned i = 0; i < MAX_DEVICES && rv == 0; i++) {
		char key[16];
		const char *value = NULL;

		snprintf(key, sizeof(key), "dev%u", i);
		rv = ctm__lxc_value(b, key, &value);
		if (rv == 0 && value)
			rv = add_device(b, key, value);
	}
	return rv;
}
