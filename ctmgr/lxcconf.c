/*
 * The LXC config generator: general settings, resources, network,
 * features, raw keys and the text form. Volumes and devices are in
 * lxcconf_volumes.c.
 *
 * The order of the generated entries follows pve-container's
 * update_lxc_config(), so the files read alike. docs/ctmgr.md lists the
 * differences: mount entries for volumes, bridges attached by LXC,
 * cgroup v1 keys and a deterministic cpuset.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/schema.h"
#include "ctmgr/ctm_internal.h"
#include "ctmgr/lxcconf_internal.h"

#define MIB (1024ULL * 1024ULL)
/* The most CPUs a CPU list may name (the `cores` limit of the schema). */
#define MAX_CPUS 8192
/* Period of the CFS bandwidth limit, in microseconds, as pct uses. */
#define CFS_PERIOD_US 100000ULL

/* ---- Host detection ---- */

int ctm_cgroup_detect(const char *mountinfo, enum ctm_cgroup_layout *layout, char *errmsg)
{
	const char *path = mountinfo ? mountinfo : "/proc/self/mountinfo";
	bool v1 = false, v2 = false;
	char *line = NULL;
	size_t size = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return ctm__error(-errno, errmsg, "cannot read %s: %s", path, strerror(errno));

	/* Fields: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER. */
	while (getline(&line, &size, f) > 0) {
		char *dash = strstr(line, " - "), *save = NULL, *fstype, *super;

		fstype = dash ? strtok_r(dash + 3, " \n", &save) : NULL;
		super =
		    fstype && strtok_r(NULL, " \n", &save) ? strtok_r(NULL, " \n", &save) : NULL;
		if (!super)
			continue;
		if (strcmp(fstype, "cgroup2") == 0)
			v2 = true;
		if (strcmp(fstype, "cgroup") != 0)
			continue;
		for (char *opt = strtok_r(super, ",", &save); opt; opt = strtok_r(NULL, ",", &save))
			if (strcmp(opt, "memory") == 0 || strcmp(opt, "cpu") == 0)
				v1 = true;
	}
	free(line);
	fclose(f);

	if (!v1 && !v2)
		return ctm__error(-ENOENT, errmsg,
		                  "no cgroup file system is mounted (%s): mount "
		                  "cgroup2 on /sys/fs/cgroup",
		                  path);
	*layout = v1 ? CTM_CGROUP_V1 : CTM_CGROUP_V2;
	return 0;
}

/* Read the first line of PATH into BUF. */
static int read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	int rv = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		rv = -EIO;
	fclose(f);
	if (rv == 0)
		buf[strcspn(buf, "\n")] = '\0';
	return rv == 0 && buf[0] == '\0' ? -ENODATA : rv;
}

int ctm_host_cpus(enum ctm_cgroup_layout layout, char *buf, size_t size, char *errmsg)
{
	const char *paths[] = {
	    layout == CTM_CGROUP_V1 ? "/sys/fs/cgroup/cpuset/cpuset.effective_cpus"
	                            : "/sys/fs/cgroup/cpuset.cpus.effective",
	    "/sys/devices/system/cpu/online",
	};
	int rv = -ENOENT;

	for (size_t i = 0; i < 2 && rv < 0; i++)
		rv = read_line(paths[i], buf, size);
	if (rv < 0)
		return ctm__error(rv, errmsg, "cannot read the host's CPU list from %s: %s",
		                  paths[1], strerror(-rv));
	return 0;
}

/* ---- Result ---- */

void ctm_lxc_config_free(struct ctm_lxc_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_items; i++) {
		free(c->items[i].key);
		free(c->items[i].value);
	}
	free(c->items);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].key);
		free(c->mounts[i].source);
		free(c->mounts[i].target);
		free(c->mounts[i].options);
	}
	free(c->mounts);
	for (size_t i = 0; i < c->n_devices; i++) {
		free(c->devices[i].key);
		free(c->devices[i].path);
		free(c->devices[i].node);
	}
	free(c->devices);
	for (size_t i = 0; i < c->n_notes; i++)
		free(c->notes[i]);
	free(c->notes);
	free(c->seccomp_path);
	free(c->seccomp);
	free(c);
}

static int add_value(struct ctm__builder *b, const char *key, char *value)
{
	struct ctm_lxc_config *c = b->c;

	if (!value || ctm__grow(&c->items, c->n_items, sizeof(*c->items)) < 0)
		goto err_nomem;
	c->items[c->n_items].key = strdup(key);
	if (!c->items[c->n_items].key)
		goto err_nomem;
	c->items[c->n_items++].value = value;
	return 0;

err_nomem:
	free(value);
	return -ENOMEM;
}

int ctm__lxc_add(struct ctm__builder *b, const char *key, const char *fmt, ...)
{
	char *value = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&value, fmt, ap);
	va_end(ap);
	return add_value(b, key, n < 0 ? NULL : value);
}

int ctm__lxc_note(struct ctm__builder *b, const char *fmt, ...)
{
	struct ctm_lxc_config *c = b->c;
	char *text = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (ctm__grow(&c->notes, c->n_notes, sizeof(*c->notes)) < 0) {
		free(text);
		return -ENOMEM;
	}
	c->notes[c->n_notes++] = text;
	return 0;
}

const char *ctm_lxc_config_get(const struct ctm_lxc_config *c, const char *key)
{
	for (size_t i = c->n_items; i > 0; i--)
		if (strcmp(c->items[i - 1].key, key) == 0)
			return c->items[i - 1].value;
	return NULL;
}

int ctm__lxc_value(struct ctm__builder *b, const char *key, const char **value)
{
	*value = conf_get(b->s, key);
	if (!*value)
		return 0;
	return conf_schema_validate(key, *value, b->errmsg);
}

/* ---- Raw entries ---- */

/* The value LXC's reader makes of RAW: one pair of matching quotes
 * around it is removed. */
static char *unquote(const char *raw)
{
	size_t len = strlen(raw);

	if (len > 1 && (raw[0] == '"' || raw[0] == '\'') && raw[len - 1] == raw[0])
		return strndup(raw + 1, len - 2);
	return strdup(raw);
}

/* The first raw entry KEY of the config, or NULL. */
static const struct conf_entry *raw_find(const struct conf_section *s, const char *key)
{
	for (size_t i = 0; i < s->n_raw; i++)
		if (strcmp(s->raw[i].key, key) == 0)
			return &s->raw[i];
	return NULL;
}

/* Parse an id map value `u|g CT HOST COUNT`. */
static int parse_idmap(const char *value, struct ctm__idmap *map)
{
	unsigned long ct, host, count;
	char kind, end;

	if (sscanf(value, " %c %lu %lu %lu %c", &kind, &ct, &host, &count, &end) != 4 ||
	    (kind != 'u' && kind != 'g') || count == 0 || ct > UINT32_MAX || host > UINT32_MAX ||
	    count > UINT32_MAX)
		return -EINVAL;
	*map = (struct ctm__idmap){kind, (uint32_t)ct, (uint32_t)host, (uint32_t)count};
	return 0;
}

/* Collect the id maps: raw lxc.idmap lines, else pct's default for an
 * unprivileged container. */
static int collect_idmaps(struct ctm__builder *b, bool unprivileged)
{
	for (size_t i = 0; i < b->s->n_raw; i++) {
		char *value;
		int rv;

		if (strcmp(b->s->raw[i].key, "lxc.idmap") != 0)
			continue;
		value = unquote(b->s->raw[i].value);
		if (!value)
			return -ENOMEM;
		rv =
		    b->n_maps == CTM__MAX_IDMAPS ? -E2BIG : parse_idmap(value, &b->maps[b->n_maps]);
		free(value);
		if (rv < 0)
			return ctm__error(
			    -EINVAL, b->errmsg,
			    "invalid value '%s' for 'lxc.idmap': "
			    "expected 'u|g CONTAINER-ID HOST-ID COUNT' (at most %d lines)",
			    b->s->raw[i].value, CTM__MAX_IDMAPS);
		b->n_maps++;
		b->custom_idmap = true;
	}
	if (!b->custom_idmap && unprivileged) {
		b->maps[0] = (struct ctm__idmap){'u', 0, 100000, 65536};
		b->maps[1] = (struct ctm__idmap){'g', 0, 100000, 65536};
		b->n_maps = 2;
	}
	return 0;
}

int ctm__lxc_map_id(const struct ctm__builder *b, char kind, uint32_t id, uint32_t *host)
{
	if (b->n_maps == 0) {
		*host = id;
		return 0;
	}
	for (size_t i = 0; i < b->n_maps; i++) {
		const struct ctm__idmap *m = &b->maps[i];

		if (m->kind == kind && id >= m->ct && id - m->ct < m->count) {
			*host = m->host + (id - m->ct);
			return 0;
		}
	}
	return -ERANGE;
}

/* Append the raw entries in order; note cgroup keys of the other layout.
 * Raw keys may repeat generated ones: LXC applies the later value. */
static int add_raw_entries(struct ctm__builder *b)
{
	bool v1 = b->p->layout == CTM_CGROUP_V1;
	bool old_lxc = b->p->lxc_major < 7;

	for (size_t i = 0; i < b->s->n_raw; i++) {
		const char *key = b->s->raw[i].key;
		int rv;

		/* LXC 7 split lxc.environment into .runtime and .hooks; older
		 * versions know only lxc.environment, for the container. */
		if (old_lxc && strcmp(key, "lxc.environment.runtime") == 0) {
			key = "lxc.environment";
		} else if (old_lxc && strcmp(key, "lxc.environment.hooks") == 0) {
			rv = ctm__lxc_note(b,
			                   "raw key 'lxc.environment.hooks' is left out: it needs "
			                   "LXC 7 or later");
			if (rv < 0)
				return rv;
			continue;
		}
		rv = add_value(b, key, unquote(b->s->raw[i].value));

		if (rv == 0 && v1 && strncmp(key, "lxc.cgroup2.", 12) == 0)
			rv = ctm__lxc_note(
			    b,
			    "raw key '%s' has no effect: it sets a cgroup v2 "
			    "controller, but this host has its controllers on cgroup v1 "
			    "(lxc.cgroup.* keys)",
			    key);
		if (rv == 0 && !v1 && strncmp(key, "lxc.cgroup.", 11) == 0 &&
		    strncmp(key, "lxc.cgroup.dir", 14) != 0 &&
		    strcmp(key, "lxc.cgroup.relative") != 0)
			rv = ctm__lxc_note(
			    b,
			    "raw key '%s' has no effect: it sets a cgroup v1 "
			    "controller, but this host uses cgroup v2 (lxc.cgroup2.* keys)",
			    key);
		if (rv < 0)
			return rv;
	}
	return 0;
}

/* ---- General settings ---- */

static int add_cgroup_dirs(struct ctm__builder *b)
{
	unsigned id = b->p->ctid;
	int rv;

	/* Absolute cgroup folders, the monitor outside the container's
	 * cgroup, and an inner cgroup the container may manage. */
	rv = ctm__lxc_add(b, "lxc.cgroup.relative", "0");
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.cgroup.dir.monitor", "lxc.monitor/%u", id);
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.cgroup.dir.container", "lxc/%u", id);
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.cgroup.dir.container.inner", "ns");
	return rv;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* lxc.include of the common (and for unprivileged containers the user
 * namespace) config, per OS type when LXC ships one. */
static int add_includes(struct ctm__builder *b)
{
	const char *dir = b->p->config_dir ? b->p->config_dir : CTM_LXC_CONFIG_DIR;
	const char *names[2] = {"common", "userns"}, *ostype;
	int rv = ctm__lxc_value(b, "ostype", &ostype);

	for (int i = 0; rv == 0 && i < (b->c->unprivileged ? 2 : 1); i++) {
		char *path = ostype ? ctm__printf("%s/%s.%s.conf", dir, ostype, names[i]) : NULL;

		if (path && file_exists(path))
			rv = add_value(b, "lxc.include", path);
		else {
			free(path);
			rv = ctm__lxc_add(b, "lxc.include", "%s/%s.conf", dir, names[i]);
		}
	}
	return rv;
}

/*
 * The seccomp profile of unprivileged containers, as pct builds it. It
 * starts with the deny list of LXC 5.0's common.seccomp (no forced
 * umount, no kexec or module calls). Then btrfs ioctls fail, because
 * their snapshot calls misbehave in user namespaces, AF_ALG sockets fail,
 * and keyctl() fails with ENOSYS unless features keyctl=1.
 */
static int add_seccomp(struct ctm__builder *b)
{
	bool keyctl = b->features.keyctl == 1;

	if (raw_find(b->s, "lxc.seccomp.profile")) {
		if (keyctl)
			return ctm__lxc_note(b,
			                     "raw lxc.seccomp.profile overrides features keyctl=1");
		return 0;
	}
	if (!b->c->unprivileged) {
		if (keyctl)
			return ctm__lxc_note(b, "features keyctl=1 has no effect on a privileged "
			                        "container: keyctl() is allowed there");
		return 0;
	}

	b->c->seccomp_path = ctm__printf("%s/%u/rules.seccomp", b->lxc_path, b->p->ctid);
	b->c->seccomp = ctm__printf("2\n"
	                            "denylist\n"
	                            "reject_force_umount\n"
	                            "[all]\n"
	                            "kexec_load errno 1\n"
	                            "open_by_handle_at errno 1\n"
	                            "init_module errno 1\n"
	                            "finit_module errno 1\n"
	                            "delete_module errno 1\n"
	                            "ioctl errno 1 [1,0x9400,SCMP_CMP_MASKED_EQ,0xff00]\n"
	                            "%s"
	                            "socket errno 97 [0,38,SCMP_CMP_EQ]\n",
	                            keyctl ? "" : "keyctl errno 38\n");
	if (!b->c->seccomp_path || !b->c->seccomp)
		return -ENOMEM;
	return ctm__lxc_add(b, "lxc.seccomp.profile", "%s", b->c->seccomp_path);
}

/* The AppArmor profile LXC generates, with pct's additions. */
static int add_apparmor(struct ctm__builder *b)
{
	const struct conf_features *f = &b->features;
	char *mount_list, *save = NULL;
	int rv;

	if (raw_find(b->s, "lxc.apparmor.profile")) {
		if (f->nesting == 1 || f->fuse == 1 || f->mount)
			return ctm__lxc_note(
			    b, "raw lxc.apparmor.profile overrides the AppArmor rules of "
			       "features nesting, fuse and mount");
		return 0;
	}
	rv = ctm__lxc_add(b, "lxc.apparmor.profile", "generated");
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.apparmor.raw", "allow mqueue,");
	if (rv == 0 && f->nesting == 1) {
		rv = ctm__lxc_add(b, "lxc.apparmor.allow_nesting", "1");
		if (rv == 0)
			rv = ctm__lxc_add(b, "lxc.apparmor.raw", "allow userns,");
	} else if (rv == 0) {
		/* Without nesting the container may not mount over /proc or
		 * /sys, where it could change host-visible permissions. */
		rv = ctm__lxc_add(b, "lxc.apparmor.raw", "deny mount -> /proc/,");
		if (rv == 0)
			rv = ctm__lxc_add(b, "lxc.apparmor.raw", "deny mount -> /sys/,");
	}
	if (rv < 0 || !f->mount)
		return rv;

	mount_list = strdup(f->mount);
	if (!mount_list)
		return -ENOMEM;
	for (char *fs = strtok_r(mount_list, "; ", &save); fs && rv == 0;
	     fs = strtok_r(NULL, "; ", &save))
		rv = ctm__lxc_add(b, "lxc.apparmor.raw", "mount fstype=%s,", fs);
	free(mount_list);
	return rv;
}

static int add_features(struct ctm__builder *b)
{
	const char *entrypoint = NULL;
	int rv = add_seccomp(b);

	if (rv == 0)
		rv = add_apparmor(b);
	if (rv == 0 && b->features.fuse == 1) {
		rv = ctm__lxc_add(b, "lxc.apparmor.raw", "mount fstype=fuse,");
		if (rv == 0)
			rv = ctm__lxc_add(b, "lxc.mount.entry",
			                  "/dev/fuse dev/fuse none bind,create=file 0 0");
	}
	if (rv == 0 && b->c->unprivileged && b->features.force_rw_sys != 1)
		rv = ctm__lxc_add(b, "lxc.mount.auto", "sys:mixed");
	if (rv == 0)
		rv = ctm__lxc_value(b, "entrypoint", &entrypoint);
	/* An init system mounts /dev/shm; without one, this entry does. */
	if (rv == 0 && entrypoint && strcmp(entrypoint, "/sbin/init") != 0)
		rv = ctm__lxc_add(b, "lxc.mount.entry",
		                  "shm dev/shm tmpfs rw,nosuid,nodev,create=dir 0 0");
	return rv;
}

/* Read FEATURES and reject what cannot work here. */
static int read_features(struct ctm__builder *b)
{
	const char *value = NULL;
	int rv = ctm__lxc_value(b, "features", &value);

	if (rv < 0 || !value)
		return rv;
	rv = conf_features_parse(value, &b->features, b->errmsg);
	if (rv < 0)
		return rv;
	if (b->features.mknod == 1)
		return ctm__error(
		    -EINVAL, b->errmsg,
		    "features: mknod=1 is not supported: it needs a "
		    "seccomp notify proxy, which this host does not run; remove mknod "
		    "from features");
	return 0;
}

static int add_console_tty(struct ctm__builder *b)
{
	const char *console = NULL, *tty = NULL;
	bool on = true;
	int rv = ctm__lxc_value(b, "console", &console);

	if (rv == 0)
		rv = ctm__lxc_value(b, "tty", &tty);
	if (rv < 0)
		return rv;
	if (console)
		conf_bool_parse(console, &on);
	if (!on) {
		rv = ctm__lxc_add(b, "lxc.console.path", "none");
		if (rv == 0)
			rv =
			    ctm__lxc_add(b,
			                 b->p->layout == CTM_CGROUP_V1 ? "lxc.cgroup.devices.deny"
			                                               : "lxc.cgroup2.devices.deny",
			                 "c 5:1 rwm");
	}
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.tty.max", "%lu", tty ? strtoul(tty, NULL, 10) : 2UL);
	return rv;
}

static int add_idmaps(struct ctm__builder *b)
{
	int rv = 0;

	if (b->custom_idmap || !b->c->unprivileged)
		return 0;
	for (size_t i = 0; i < b->n_maps && rv == 0; i++)
		rv = ctm__lxc_add(b, "lxc.idmap", "%c %u %u %u", b->maps[i].kind, b->maps[i].ct,
		                  b->maps[i].host, b->maps[i].count);
	return rv;
}

/* ---- Resources ---- */

static int add_memory(struct ctm__builder *b)
{
	const char *memory = NULL, *swap = NULL;
	unsigned long long mem_mib = 512, swap_mib = 0;
	int rv = ctm__lxc_value(b, "memory", &memory);

	if (rv == 0)
		rv = ctm__lxc_value(b, "swap", &swap);
	if (rv < 0)
		return rv;
	if (memory)
		mem_mib = strtoull(memory, NULL, 10);
	if (swap)
		swap_mib = strtoull(swap, NULL, 10);

	if (b->p->layout == CTM_CGROUP_V1) {
		/* memsw limits memory and swap together. */
		rv = ctm__lxc_add(b, "lxc.cgroup.memory.limit_in_bytes", "%llu", mem_mib * MIB);
		if (rv == 0)
			rv = ctm__lxc_add(b, "lxc.cgroup.memory.memsw.limit_in_bytes", "%llu",
			                  (mem_mib + swap_mib) * MIB);
		return rv;
	}

	/* memory.high throttles a little below the hard limit: 1016/1024 of
	 * it, but at most 128 MiB below. */
	rv = ctm__lxc_add(b, "lxc.cgroup2.memory.max", "%llu", mem_mib * MIB);
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.cgroup2.memory.high", "%llu",
		                  mem_mib >= 16384 ? (mem_mib - 128) * MIB : mem_mib * 1024 * 1016);
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.cgroup2.memory.swap.max", "%llu", swap_mib * MIB);
	return rv;
}

/* CPULIMIT (digits with an optional fraction) times the CFS period,
 * rounded down, computed exactly. */
static unsigned long long cfs_quota(const char *cpulimit)
{
	const char *dot = strchr(cpulimit, '.');
	unsigned long long quota = strtoull(cpulimit, NULL, 10) * CFS_PERIOD_US;
	unsigned long long scale = CFS_PERIOD_US / 10;

	for (const char *d = dot ? dot + 1 : ""; *d && scale; d++, scale /= 10)
		quota += (unsigned long long)(*d - '0') * scale;
	return quota;
}

static int add_cpu(struct ctm__builder *b)
{
	bool v1 = b->p->layout == CTM_CGROUP_V1;
	const char *cpulimit = NULL, *cpuunits = NULL;
	unsigned long long quota = 0;
	unsigned long units;
	int rv = ctm__lxc_value(b, "cpulimit", &cpulimit);

	if (rv == 0)
		rv = ctm__lxc_value(b, "cpuunits", &cpuunits);
	if (rv < 0)
		return rv;
	if (cpulimit)
		quota = cfs_quota(cpulimit);

	if (quota > 0 && v1) {
		rv = ctm__lxc_add(b, "lxc.cgroup.cpu.cfs_period_us", "%llu", CFS_PERIOD_US);
		if (rv == 0)
			rv = ctm__lxc_add(b, "lxc.cgroup.cpu.cfs_quota_us", "%llu", quota);
	} else if (quota > 0) {
		rv = ctm__lxc_add(b, "lxc.cgroup2.cpu.max", "%llu %llu", quota, CFS_PERIOD_US);
	}
	if (rv < 0)
		return rv;

	/* cpu.shares is always set on v1 (default 1024, kernel range 2 to
	 * 262144); cpu.weight only when given (kernel range 1 to 10000). */
	if (v1) {
		units = cpuunits ? strtoul(cpuunits, NULL, 10) : 1024;
		if (units < 2)
			units = 2;
		if (units > 262144)
			units = 262144;
		return ctm__lxc_add(b, "lxc.cgroup.cpu.shares", "%lu", units);
	}
	if (!cpuunits)
		return 0;
	units = strtoul(cpuunits, NULL, 10);
	if (units < 1)
		units = 1;
	if (units > 10000)
		units = 10000;
	return ctm__lxc_add(b, "lxc.cgroup2.cpu.weight", "%lu", units);
}

/* Parse the CPU list TEXT ("0-3,8") into CPUS; returns the count or -1. */
static int parse_cpu_list(const char *text, bool *cpus)
{
	int count = 0;

	while (*text) {
		char *end;
		unsigned long first = strtoul(text, &end, 10), last = first;

		if (end == text || first >= MAX_CPUS)
			return -1;
		if (*end == '-') {
			text = end + 1;
			last = strtoul(text, &end, 10);
			if (end == text || last >= MAX_CPUS || last < first)
				return -1;
		}
		for (unsigned long i = first; i <= last; i++) {
			if (!cpus[i])
				count++;
			cpus[i] = true;
		}
		if (*end != ',' && *end != '\0')
			return -1;
		text = *end ? end + 1 : end;
	}
	return count;
}

/* Print the CPUs set in CPUS as a CPU list with ranges. */
static char *format_cpu_list(const bool *cpus)
{
	char *out = NULL;
	size_t len = 0;
	FILE *stream = open_memstream(&out, &len);
	bool first = true;

	if (!stream)
		return NULL;
	for (unsigned i = 0; i < MAX_CPUS; i++) {
		unsigned j = i;

		if (!cpus[i])
			continue;
		while (j + 1 < MAX_CPUS && cpus[j + 1])
			j++;
		fprintf(stream, j > i ? "%s%u-%u" : "%s%u", first ? "" : ",", i, j);
		first = false;
		i = j;
	}
	return fclose(stream) == 0 ? out : NULL;
}

/*
 * Choose CORES CPUs of the host's list: consecutive entries of the list
 * starting at entry CTID mod N, wrapping around. The choice depends on
 * nothing but the CTID and the list, so a restart keeps it, and
 * containers with neighbouring CTIDs start on different CPUs.
 */
static int add_cpuset(struct ctm__builder *b)
{
	const char *key =
	    b->p->layout == CTM_CGROUP_V1 ? "lxc.cgroup.cpuset.cpus" : "lxc.cgroup2.cpuset.cpus";
	bool *host = NULL, *chosen = NULL;
	unsigned *order = NULL;
	const char *cores = NULL;
	unsigned long want;
	int n, rv = ctm__lxc_value(b, "cores", &cores);

	if (rv < 0 || !cores || raw_find(b->s, key))
		return rv;
	if (!b->p->host_cpus)
		return ctm__lxc_note(b, "cores: %s is not applied: the host's CPU list is unknown",
		                     cores);

	host = calloc(MAX_CPUS, sizeof(*host));
	chosen = calloc(MAX_CPUS, sizeof(*chosen));
	order = calloc(MAX_CPUS, sizeof(*order));
	if (!host || !chosen || !order) {
		rv = -ENOMEM;
		goto out;
	}
	n = parse_cpu_list(b->p->host_cpus, host);
	if (n <= 0) {
		rv = ctm__error(-EINVAL, b->errmsg,
		                "invalid host CPU list '%s': expected a list "
		                "such as 0-3,8",
		                b->p->host_cpus);
		goto out;
	}
	for (unsigned i = 0, k = 0; i < MAX_CPUS; i++)
		if (host[i])
			order[k++] = i;
	want = strtoul(cores, NULL, 10);
	for (unsigned long i = 0; i < want && i < (unsigned long)n; i++)
		chosen[order[(b->p->ctid + i) % (unsigned)n]] = true;
	rv = add_value(b, key, format_cpu_list(chosen));
out:
	free(order);
	free(chosen);
	free(host);
	return rv;
}

/* ---- Network ---- */

static int net_notes(struct ctm__builder *b, const char *key, const struct conf_net *net)
{
	int rv = 0;

	if (!net->hwaddr)
		rv = ctm__lxc_note(b,
		                   "%s has no hwaddr: LXC picks a new random MAC address at each "
		                   "start; set hwaddr to keep one",
		                   key);
	if (rv == 0 && net->firewall == 1)
		rv = ctm__lxc_note(
		    b,
		    "%s: firewall=1 has no effect: the interface is attached to "
		    "bridge '%s' without a firewall bridge, so traffic is not filtered",
		    key, net->bridge);
	if (rv == 0 && net->rate)
		rv = ctm__lxc_note(b, "%s: rate=%s has no effect: traffic is not shaped", key,
		                   net->rate);
	if (rv == 0 && net->link_down == 1)
		rv = ctm__lxc_note(b,
		                   "%s: link_down=1: the interface is not attached to bridge '%s'",
		                   key, net->bridge);
	return rv;
}

/* Append `lxc.net.N.SUFFIX` (N from PREFIX) while RV is 0. */
#define NET_ADD(suffix, ...)                                                                       \
	do {                                                                                       \
		char name_[64];                                                                    \
		snprintf(name_, sizeof(name_), "%s%s", prefix, suffix);                            \
		if (rv == 0)                                                                       \
			rv = ctm__lxc_add(b, name_, __VA_ARGS__);                                  \
	} while (0)

/* Addresses LXC configures itself, for host-managed interfaces only;
 * otherwise ip and gw are written into the guest by the guest setup. */
static int net_host_managed(struct ctm__builder *b, unsigned index, const char *key,
                            const struct conf_net *net)
{
	char prefix[32];
	int rv = 0;

	if (net->host_managed != 1 || net->link_down == 1)
		return 0;
	if (net->ip6 && strcmp(net->ip6, "auto") == 0)
		return ctm__error(-EINVAL, b->errmsg,
		                  "%s: ip6=auto (SLAAC) is not supported for a "
		                  "host-managed interface: give an address or use dhcp",
		                  key);
	snprintf(prefix, sizeof(prefix), "lxc.net.%u.", index);

	if (net->ip && strcmp(net->ip, "dhcp") != 0 && strcmp(net->ip, "manual") != 0)
		NET_ADD("ipv4.address", "%s", net->ip);
	if (net->gw)
		NET_ADD("ipv4.gateway", "%s", net->gw);
	if (net->ip6 && strcmp(net->ip6, "dhcp") != 0 && strcmp(net->ip6, "manual") != 0)
		NET_ADD("ipv6.address", "%s", net->ip6);
	if (net->gw6)
		NET_ADD("ipv6.gateway", "%s", net->gw6);
	NET_ADD("flags", "up");
	return rv;
}

static int add_net(struct ctm__builder *b, unsigned index, const char *key, const char *value)
{
	struct conf_net net;
	char prefix[32], *trunks = NULL, *save = NULL;
	int rv = conf_net_parse(value, &net, b->errmsg);

	if (rv < 0)
		return rv;
	if (!net.bridge) {
		rv = ctm__error(-EINVAL, b->errmsg,
		                "%s: missing bridge: a veth interface is attached "
		                "to a bridge, set bridge=NAME",
		                key);
		goto out;
	}
	snprintf(prefix, sizeof(prefix), "lxc.net.%u.", index);

	NET_ADD("type", "veth");
	NET_ADD("veth.pair", "veth%ui%u", b->p->ctid, index);
	if (net.hwaddr)
		NET_ADD("hwaddr", "%s", net.hwaddr);
	NET_ADD("name", "%s", net.name);
	if (net.link_down != 1)
		NET_ADD("link", "%s", net.bridge);
	if (net.mtu != CONF_UNSET)
		NET_ADD("mtu", "%lld", (long long)net.mtu);
	/* VLANs on a VLAN-aware bridge: the untagged VLAN and the trunks. */
	if (net.tag != CONF_UNSET)
		NET_ADD("veth.vlan.id", "%lld", (long long)net.tag);
	if (rv == 0 && net.trunks && !(trunks = strdup(net.trunks)))
		rv = -ENOMEM;
	for (char *vlan = trunks ? strtok_r(trunks, ";", &save) : NULL; vlan;
	     vlan = strtok_r(NULL, ";", &save))
		NET_ADD("veth.vlan.tagged.id", "%s", vlan);
#undef NET_ADD
	if (rv == 0)
		rv = net_host_managed(b, index, key, &net);
	if (rv == 0)
		rv = net_notes(b, key, &net);
out:
	free(trunks);
	conf_net_clear(&net);
	return rv;
}

static int add_networks(struct ctm__builder *b)
{
	int rv = 0;

	for (unsigned i = 0; i <= 31 && rv == 0; i++) {
		char key[16];
		const char *value = NULL;

		snprintf(key, sizeof(key), "net%u", i);
		rv = ctm__lxc_value(b, key, &value);
		if (rv == 0 && value)
			rv = add_net(b, i, key, value);
	}
	return rv;
}

/* ---- Building ---- */

static int read_basics(struct ctm__builder *b)
{
	const char *value = NULL;
	bool flag = false;
	int rv = ctm__lxc_value(b, "template", &value);

	if (rv == 0 && value && conf_bool_parse(value, &flag) && flag)
		return ctm__error(-EINVAL, b->errmsg,
		                  "template: the container is a template, which "
		                  "cannot be started; clone it into a new container");
	if (rv == 0)
		rv = ctm__lxc_value(b, "unprivileged", &value);
	if (rv < 0)
		return rv;
	flag = false;
	if (value)
		conf_bool_parse(value, &flag);
	rv = collect_idmaps(b, flag);
	if (rv < 0)
		return rv;

	/* A custom id map makes the container unprivileged, as in pct. */
	b->c->unprivileged = flag || b->custom_idmap;
	if (ctm__lxc_map_id(b, 'u', 0, &b->c->root_uid) < 0 ||
	    ctm__lxc_map_id(b, 'g', 0, &b->c->root_gid) < 0)
		return ctm__error(-EINVAL, b->errmsg,
		                  "lxc.idmap: the id maps leave the container's "
		                  "root (uid and gid 0) unmapped: map id 0 for both u and g");
	return read_features(b);
}

static int build(struct ctm__builder *b)
{
	const char *arch = NULL, *hostname = NULL, *entrypoint = NULL;
	int rv = read_basics(b);

	if (rv == 0)
		rv = add_cgroup_dirs(b);
	if (rv == 0)
		rv = ctm__lxc_value(b, "arch", &arch);
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.arch", "%s", arch ? arch : "amd64");
	if (rv == 0)
		rv = add_includes(b);
	if (rv == 0)
		rv = add_features(b);
	if (rv == 0)
		rv = ctm__lxc_devices(b);
	/* Keep mounts made for the start out of the monitor's namespace. */
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.monitor.unshare", "1");
	if (rv == 0)
		rv = add_idmaps(b);
	if (rv == 0)
		rv = add_console_tty(b);
	/* Some init scripts expect a Linux terminal. */
	if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.environment", "TERM=linux");
	if (rv == 0)
		rv = ctm__lxc_value(b, "hostname", &hostname);
	if (rv == 0 && hostname)
		rv = ctm__lxc_add(b, "lxc.uts.name", "%s", hostname);
	else if (rv == 0)
		rv = ctm__lxc_add(b, "lxc.uts.name", "CT%u", b->p->ctid);
	if (rv == 0)
		rv = add_memory(b);
	if (rv == 0)
		rv = add_cpu(b);
	if (rv == 0)
		rv = ctm__lxc_rootfs(b);
	if (rv == 0)
		rv = ctm__lxc_mountpoints(b);
	if (rv == 0)
		rv = ctm__lxc_value(b, "entrypoint", &entrypoint);
	if (rv == 0 && entrypoint)
		rv = ctm__lxc_add(b, "lxc.init.cmd", "%s", entrypoint);
	if (rv == 0)
		rv = add_networks(b);
	if (rv == 0)
		rv = add_cpuset(b);
	if (rv == 0)
		rv = add_raw_entries(b);
	return rv;
}

int ctm_lxc_config_build(const struct conf_section *s, const struct ctm_lxc_params *params,
                         struct ctm_lxc_config **out, char *errmsg)
{
	struct ctm__builder b = {
	    .s = s,
	    .p = params,
	    .errmsg = errmsg,
	    .lxc_path = params->lxc_path ? params->lxc_path : CTM_LXC_PATH,
	    .features = {.nesting = CONF_UNSET,
	                 .keyctl = CONF_UNSET,
	                 .fuse = CONF_UNSET,
	                 .mknod = CONF_UNSET,
	                 .force_rw_sys = CONF_UNSET},
	};
	int rv;

	if (params->layout != CTM_CGROUP_V1 && params->layout != CTM_CGROUP_V2)
		return ctm__error(-EINVAL, errmsg, "unknown cgroup layout %d", (int)params->layout);
	b.c = calloc(1, sizeof(*b.c));
	if (!b.c)
		return -ENOMEM;

	rv = build(&b);
	conf_features_clear(&b.features);
	if (rv < 0) {
		if (rv == -ENOMEM)
			ctm__error(rv, errmsg, "out of memory while generating the LXC config");
		ctm_lxc_config_free(b.c);
		return rv;
	}
	*out = b.c;
	return 0;
}

/* ---- Text ---- */

/* True when LXC's reader would change VALUE: it trims blanks around it
 * and removes one pair of matching quotes. */
static bool needs_quotes(const char *value)
{
	size_t len = strlen(value);

	if (len == 0)
		return false;
	if (isspace((unsigned char)value[0]) || isspace((unsigned char)value[len - 1]))
		return true;
	return len > 1 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0];
}

int ctm_lxc_config_text(const struct ctm_lxc_config *c, char **out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *stream;

	for (size_t i = 0; i < c->n_items; i++)
		if (strpbrk(c->items[i].value, "\r\n") || strpbrk(c->items[i].key, " \t\r\n="))
			return -EINVAL;
	stream = open_memstream(&text, &len);
	if (!stream)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_items; i++) {
		const char *value = c->items[i].value;

		if (needs_quotes(value))
			fprintf(stream, "%s = \"%s\"\n", c->items[i].key, value);
		else
			fprintf(stream, "%s =%s%s\n", c->items[i].key, value[0] ? " " : "", value);
	}
	if (fclose(stream) != 0) {
		free(text);
		return -ENOMEM;
	}
	*out = text;
	return 0;
}
