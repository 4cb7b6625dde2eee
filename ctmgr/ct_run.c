/* Running containers through liblxc: start, stop, shutdown, reboot, exec,
 * cgroup writes, and the host mounts a start stages. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lxc/lxccontainer.h>

#include "conf/propstr.h"
#include "conf/snapshot.h"
#include "ctmgr/ct.h"
#include "ctmgr/ct_internal.h"
#include "ctmgr/ctm_internal.h"
#include "ctmgr/setup.h"

struct lxc_container *ctm__ct_lxc(struct ctm_ctx *ctx, unsigned ctid)
{
	char name[16];

	snprintf(name, sizeof(name), "%u", ctid);
	return lxc_container_new(name, ctm__ct_lxc_path(ctx));
}

int ctm_ct_running(struct ctm_ctx *ctx, unsigned ctid, bool *running, char *errmsg)
{
	struct lxc_container *c = ctm__ct_lxc(ctx, ctid);

	if (!c)
		return ctm__error(-EIO, errmsg, "CT %u: liblxc cannot open the container", ctid);
	*running = c->is_running(c);
	lxc_container_put(c);
	return 0;
}

const char *ctm__ct_rootfs_dir(const struct ctm_lxc_config *lcfg)
{
	const char *path = ctm_lxc_config_get(lcfg, "lxc.rootfs.path");

	if (path && !strncmp(path, "dir:", 4))
		path += 4;
	return path && *path == '/' ? path : NULL;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static bool is_mount_point(const char *path)
{
	struct stat st, parent;
	char up[PATH_MAX];

	if (snprintf(up, sizeof(up), "%s/..", path) >= (int)sizeof(up))
		return false;
	return stat(path, &st) == 0 && stat(up, &parent) == 0 && st.st_dev != parent.st_dev;
}

static void unmount_staged(const struct ctm_lxc_config *lcfg, size_t n)
{
	while (n-- > 0)
		if (is_mount_point(lcfg->mounts[n].target))
			umount2(lcfg->mounts[n].target, MNT_DETACH);
}

int ctm__ct_stage(const struct ctm_lxc_config *lcfg, char *errmsg)
{
	char output[256], *opts;
	size_t i;
	int rv = 0;

	for (i = 0; i < lcfg->n_mounts; i++) {
		const struct ctm_lxc_mount *m = &lcfg->mounts[i];
		const char *argv[] = {"mount", "-o", NULL, m->source, m->target, NULL};

		rv = mkdir_p(m->target, 0755);
		if (rv < 0) {
			ctm__error(rv, errmsg, "creating the mount folder %s failed: %s", m->target,
			           strerror(-rv));
			break;
		}
		if (is_mount_point(m->target))
			continue; /* staged by an earlier start that did not clean up */
		opts = ctm__printf("%s%s%s", m->loop ? "loop" : "",
		                   m->loop && m->options && *m->options ? "," : "",
		                   m->options ? m->options : "");
		if (!opts) {
			rv = ctm__error(-ENOMEM, errmsg, "out of memory");
			break;
		}
		argv[2] = *opts ? opts : "defaults";
		rv = ctm__run(argv, output, sizeof(output));
		free(opts);
		if (rv < 0) {
			ctm__error(rv, errmsg, "mounting %s of %s on %s failed: %s", m->key,
			           m->source, m->target, output);
			break;
		}
	}
	for (size_t d = 0; rv == 0 && d < lcfg->n_devices; d++) {
		const struct ctm_lxc_device *dev = &lcfg->devices[d];
		mode_t type = dev->id.type == 'b' ? S_IFBLK : S_IFCHR;
		char *dir = strdup(dev->node), *slash;

		if (!dir) {
			rv = ctm__error(-ENOMEM, errmsg, "out of memory");
			break;
		}
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		rv = mkdir_p(dir, 0755);
		free(dir);
		unlink(dev->node);
		if (rv == 0 &&
		    mknod(dev->node, type | dev->mode, makedev(dev->id.major, dev->id.minor)) < 0)
			rv = -errno;
		if (rv == 0 && chown(dev->node, dev->uid, dev->gid) < 0)
			rv = -errno;
		if (rv < 0)
			ctm__error(rv, errmsg, "creating the device node %s of %s failed: %s",
			           dev->node, dev->key, strerror(-rv));
	}
	if (rv == 0 && lcfg->seccomp_path && lcfg->seccomp) {
		FILE *f = fopen(lcfg->seccomp_path, "we");

		if (!f || fputs(lcfg->seccomp, f) < 0 || fclose(f) != 0) {
			rv = -errno;
			if (!rv)
				rv = -EIO;
			ctm__error(rv, errmsg, "writing the seccomp profile %s failed: %s",
			           lcfg->seccomp_path, strerror(-rv));
		}
	}
	if (rv < 0)
		unmount_staged(lcfg, i);
	return rv;
}

void ctm__ct_unstage(struct ctm_ctx *ctx, unsigned ctid)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%u/mnt", ctm__ct_lxc_path(ctx), ctid);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (is_mount_point(path))
			umount2(path, MNT_DETACH);
	}
	closedir(d);
}

/* Fail with -EBUSY and pct's message when the lock of CT is set. */
static int check_lock(const struct ctm_ct *ct, bool allow_mounted, char *errmsg)
{
	const char *lock = conf_get(conf_main(ct->cf), "lock");
	char msg[CONF_ERRMSG_SIZE];

	if (allow_mounted && lock && !strcmp(lock, "mounted"))
		return 0;
	if (conf_check_lock(ct->cf, msg) < 0)
		return ctm__error(-EBUSY, errmsg, "CT %u: %s", ct->ctid, msg);
	return 0;
}

/* Check that bind mount and device sources of rootfs and mpN exist. */
static int check_mount_sources(const struct ctm_ct *ct, char *errmsg)
{
	const struct conf_section *s = conf_main(ct->cf);
	char msg[CONF_ERRMSG_SIZE];
	int rv = 0;

	for (size_t i = 0; rv == 0 && i < s->n_keys; i++) {
		const struct conf_entry *e = &s->keys[i];
		struct conf_mountpoint mp = {0};
		struct stat st;

		if (!strcmp(e->key, "rootfs"))
			rv = conf_rootfs_parse(e->value, &mp, msg);
		else if (!strncmp(e->key, "mp", 2))
			rv = conf_mp_parse(e->value, &mp, msg);
		else
			continue;
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: %s is invalid: %s", ct->ctid, e->key, msg);
		} else if ((mp.volume_type == CONF_VOLUME_BIND ||
		            mp.volume_type == CONF_VOLUME_DEVICE) &&
		           stat(mp.volume, &st) < 0) {
			rv = ctm__error(
			    -ENOENT, errmsg,
			    "CT %u: the source %s of %s does not exist: create it or change %s",
			    ct->ctid, mp.volume, e->key, e->key);
		}
		conf_mountpoint_clear(&mp);
	}
	return rv;
}

/* Write TEXT to PATH through a temporary file and a rename. */
static int write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 32];
	FILE *f;
	int rv = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		rv = -errno;
	if (fclose(f) != 0 && rv == 0)
		rv = -errno;
	if (rv == 0 && rename(tmp, path) < 0)
		rv = -errno;
	if (rv < 0)
		unlink(tmp);
	return rv;
}

/* Generate the LXC config of CT, stage mounts, run guest setup and write
 * <lxc path>/<CTID>/config. */
static int prepare_start(struct ctm_ctx *ctx, const struct ctm_ct *ct, char *errmsg)
{
	struct ctm_storage_cfg *storage = NULL;
	struct ctm_lxc_config *lcfg = NULL;
	struct ctm_setup_report report = {0};
	struct ctm_setup_opts sopts = {0};
	char dir[PATH_MAX], path[PATH_MAX + 16], msg[CONF_ERRMSG_SIZE], *text = NULL;
	const char *rootfs;
	int rv;

	rv = ctm__ct_storage(ctx, &storage, errmsg);
	if (rv < 0)
		return rv;
	rv = ctm__ct_build_lxc(ctx, ct->ctid, conf_main(ct->cf), storage, &lcfg, errmsg);
	if (rv < 0)
		goto out;
	ctm__ct_warn(ctx, ct->ctid, lcfg->notes, lcfg->n_notes);

	snprintf(dir, sizeof(dir), "%s/%u", ctm__ct_lxc_path(ctx), ct->ctid);
	rv = mkdir_p(dir, 0755);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: creating %s failed: %s", ct->ctid, dir,
		           strerror(-rv));
		goto out;
	}
	rv = ctm__ct_stage(lcfg, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: %s", ct->ctid, msg);
		goto out;
	}

	rootfs = ctm__ct_rootfs_dir(lcfg);
	if (!rootfs) {
		rv = ctm__error(-EINVAL, errmsg,
		                "CT %u: the LXC config has no root file system folder", ct->ctid);
		goto err_unstage;
	}
	sopts.root_uid = lcfg->root_uid;
	sopts.root_gid = lcfg->root_gid;
	rv = ctm_setup_run(rootfs, conf_main(ct->cf), &sopts, &report, msg);
	ctm__ct_warn(ctx, ct->ctid, report.notes, report.n_notes);
	ctm_setup_report_clear(&report);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: guest setup failed: %s", ct->ctid, msg);
		goto err_unstage;
	}

	rv = ctm_lxc_config_text(lcfg, &text);
	if (rv == 0) {
		snprintf(path, sizeof(path), "%s/config", dir);
		rv = write_file(path, text);
		free(text);
		if (rv < 0)
			ctm__error(rv, errmsg, "CT %u: writing %s failed: %s", ct->ctid, path,
			           strerror(-rv));
	} else {
		ctm__error(rv, errmsg, "CT %u: writing the LXC config failed: %s", ct->ctid,
		           strerror(-rv));
	}
	if (rv == 0)
		goto out;
err_unstage:
	unmount_staged(lcfg, lcfg->n_mounts);
out:
	ctm_lxc_config_free(lcfg);
	ctm_storage_cfg_free(storage);
	return rv;
}

static int lxc_start(struct ctm_ctx *ctx, unsigned ctid, const char *debug_log, char *errmsg)
{
	struct lxc_container *c = ctm__ct_lxc(ctx, ctid);
	int rv = 0;

	if (!c)
		return ctm__error(-EIO, errmsg, "CT %u: liblxc cannot open the container", ctid);
	if (debug_log && (!c->set_config_item(c, "lxc.log.file", debug_log) ||
	                  !c->set_config_item(c, "lxc.log.level", "DEBUG"))) {
		rv = ctm__error(-EINVAL, errmsg, "CT %u: LXC does not take the log file %s", ctid,
		                debug_log);
		goto out;
	}
	c->want_daemonize(c, true);
	if (!c->start(c, 0, NULL) || !c->wait(c, "RUNNING", 10)) {
		if (debug_log)
			rv = ctm__error(-EIO, errmsg,
			                "CT %u: LXC failed to start the container; see %s", ctid,
			                debug_log);
		else
			rv = ctm__error(
			    -EIO, errmsg,
			    "CT %u: LXC failed to start the container; run the start with "
			    "--debug FILE for LXC's log",
			    ctid);
	}
out:
	lxc_container_put(c);
	return rv;
}

int ctm_ct_start(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_start_params *params,
                 char *errmsg)
{
	struct ctm_ct *ct = NULL;
	bool running = false, changed = false;
	int rv;

	rv = ctm_ct_load(ctx, ctid, &ct, errmsg);
	if (rv < 0)
		return rv;
	rv = ctm__ct_require_local(ctx, ct, errmsg);
	if (rv == 0)
		rv = check_lock(ct, true, errmsg);
	if (rv == 0 && !ctx->quorate)
		rv = ctm__error(-EROFS, errmsg, "CT %u: cluster not quorate, cannot start", ctid);
	if (rv == 0)
		rv = ctm_ct_running(ctx, ctid, &running, errmsg);
	if (rv == 0 && running)
		rv = ctm__error(-EALREADY, errmsg, "CT %u already running", ctid);
	if (rv < 0)
		goto out;

	rv = ctm_ct_apply_pending(ct->cf, &changed);
	if (rv < 0) {
		ctm__error(rv, errmsg, "out of memory");
		goto out;
	}
	if (changed) {
		rv = ctm_ct_save(ctx, ct, errmsg);
		if (rv < 0)
			goto out;
	}
	rv = check_mount_sources(ct, errmsg);
	if (rv == 0)
		rv = prepare_start(ctx, ct, errmsg);
	if (rv == 0)
		rv = lxc_start(ctx, ctid, params ? params->debug_log : NULL, errmsg);
	if (rv < 0)
		ctm__ct_unstage(ctx, ctid);
out:
	ctm_ct_free(ct);
	return rv;
}

/* Load CTID for an operation on the running container. */
static int load_for_stop(struct ctm_ctx *ctx, unsigned ctid, bool allow_mounted,
                         struct lxc_container **c, char *errmsg)
{
	struct ctm_ct *ct = NULL;
	int rv;

	rv = ctm_ct_load(ctx, ctid, &ct, errmsg);
	if (rv < 0)
		return rv;
	rv = ctm__ct_require_local(ctx, ct, errmsg);
	if (rv == 0)
		rv = check_lock(ct, allow_mounted, errmsg);
	ctm_ct_free(ct);
	if (rv < 0)
		return rv;
	*c = ctm__ct_lxc(ctx, ctid);
	if (!*c)
		return ctm__error(-EIO, errmsg, "CT %u: liblxc cannot open the container", ctid);
	if (!(*c)->is_running(*c)) {
		lxc_container_put(*c);
		*c = NULL;
		return ctm__error(-EINVAL, errmsg, "CT %u not running", ctid);
	}
	return 0;
}

static int hard_stop(struct ctm_ctx *ctx, unsigned ctid, struct lxc_container *c, char *errmsg)
{
	int rv = 0;

	if (!c->stop(c) && c->is_running(c))
		rv = ctm__error(-EIO, errmsg, "CT %u: LXC failed to stop the container", ctid);
	ctm__ct_unstage(ctx, ctid);
	return rv;
}

int ctm_ct_stop(struct ctm_ctx *ctx, unsigned ctid, char *errmsg)
{
	struct lxc_container *c = NULL;
	int rv;

	rv = load_for_stop(ctx, ctid, true, &c, errmsg);
	if (rv < 0)
		return rv;
	rv = hard_stop(ctx, ctid, c, errmsg);
	lxc_container_put(c);
	return rv;
}

int ctm_ct_shutdown(struct ctm_ctx *ctx, unsigned ctid, unsigned timeout, bool force, char *errmsg)
{
	struct lxc_container *c = NULL;
	int rv;

	rv = load_for_stop(ctx, ctid, false, &c, errmsg);
	if (rv < 0)
		return rv;
	if (c->shutdown(c, timeout > INT_MAX ? INT_MAX : (int)timeout) || !c->is_running(c))
		ctm__ct_unstage(ctx, ctid);
	else if (force)
		rv = hard_stop(ctx, ctid, c, errmsg);
	else
		rv = ctm__error(-ETIMEDOUT, errmsg,
		                "CT %u did not stop within %u s; add --forceStop 1 to kill it",
		                ctid, timeout);
	lxc_container_put(c);
	return rv;
}

int ctm_ct_reboot(struct ctm_ctx *ctx, unsigned ctid, unsigned timeout, char *errmsg)
{
	int rv = ctm_ct_shutdown(ctx, ctid, timeout, true, errmsg);

	if (rv < 0)
		return rv;
	return ctm_ct_start(ctx, ctid, NULL, errmsg);
}

int ctm_ct_exec(struct ctm_ctx *ctx, unsigned ctid, char *const argv[], int *status, char *errmsg)
{
	static char path_env[] =
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	static char term_env[] = "TERM=linux";
	static char *env[] = {path_env, term_env, NULL};
	lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
	struct lxc_container *c = NULL;
	struct ctm_ct *ct = NULL;
	int rv, ws;

	if (!argv || !argv[0])
		return ctm__error(-EINVAL, errmsg, "CT %u: no command to run", ctid);
	rv = ctm_ct_load(ctx, ctid, &ct, errmsg);
	if (rv == 0)
		rv = ctm__ct_require_local(ctx, ct, errmsg);
	ctm_ct_free(ct);
	if (rv < 0)
		return rv;
	c = ctm__ct_lxc(ctx, ctid);
	if (!c)
		return ctm__error(-EIO, errmsg, "CT %u: liblxc cannot open the container", ctid);
	if (!c->is_running(c)) {
		rv = ctm__error(-EINVAL, errmsg, "CT %u not running", ctid);
		goto out;
	}
	opts.env_policy = LXC_ATTACH_CLEAR_ENV;
	opts.extra_env_vars = env;
	ws = c->attach_run_wait(c, &opts, argv[0], (const char *const *)argv);
	if (ws < 0) {
		rv = ctm__error(-EIO, errmsg, "CT %u: running %s in the container failed", ctid,
		                argv[0]);
		goto out;
	}
	if (WIFEXITED(ws))
		*status = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		*status = 128 + WTERMSIG(ws);
	else
		*status = 1;
out:
	lxc_container_put(c);
	return rv;
}

/*
 * The folder of CONTROLLER's cgroup of the container whose init is PID:
 * the mount point of the hierarchy plus the path in /proc/PID/cgroup
 * without the inner `ns` level, because the limits sit one level up, on
 * `lxc/<CTID>`. On a v2 host CONTROLLER is ignored.
 */
static int cgroup_dir(pid_t pid, const char *controller, char *out, size_t size)
{
	char path[64], line[4096], mnt[PATH_MAX] = "", cg[PATH_MAX] = "";
	bool v2 = false;
	size_t len;
	FILE *f;

	/* The mount point: a v1 hierarchy carrying the controller, else cgroup2. */
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char point[PATH_MAX], *sep = strstr(line, " - ");
		char fstype[32], source[64], opts[1024];

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
		    sscanf(sep + 3, "%31s %63s %1023s", fstype, source, opts) != 3)
			continue;
		if (!strcmp(fstype, "cgroup")) {
			char *save = NULL;

			for (char *t = strtok_r(opts, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (!strcmp(t, controller)) {
					snprintf(mnt, sizeof(mnt), "%s", point);
					v2 = false;
				}
			}
		} else if (!strcmp(fstype, "cgroup2") && !*mnt) {
			snprintf(mnt, sizeof(mnt), "%s", point);
			v2 = true;
		}
		if (*mnt && !v2)
			break;
	}
	fclose(f);
	if (!*mnt)
		return -ENOENT;

	/* The container's cgroup in that hierarchy. */
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *cgpath = ctrl ? strchr(ctrl + 1, ':') : NULL;

		if (!cgpath)
			continue;
		*cgpath++ = '\0';
		cgpath[strcspn(cgpath, "\n")] = '\0';
		ctrl++;
		if (v2 && !*ctrl) {
			snprintf(cg, sizeof(cg), "%s", cgpath);
			break;
		}
		if (!v2) {
			char *save = NULL;

			for (char *t = strtok_r(ctrl, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				if (!strcmp(t, controller))
					snprintf(cg, sizeof(cg), "%s", cgpath);
			if (*cg)
				break;
		}
	}
	fclose(f);
	if (!*cg)
		return -ENOENT;
	len = strlen(cg);
	if (len >= 3 && !strcmp(cg + len - 3, "/ns"))
		cg[len - 3] = '\0';
	if (snprintf(out, size, "%s%s", mnt, cg) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * NOTE: on a v1 host liblxc 5.0.2's set_cgroup_item() writes into the
 * inner `ns` cgroup. A limit there does not bind the container, and the
 * kernel rejects memory.memsw.limit_in_bytes below the inner cgroup's
 * unlimited memory limit. So the limits go into the files of the
 * container's own cgroup (`lxc/<CTID>`) directly.
 */
int ctm__ct_set_cgroup(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_item *items,
                       size_t n, char *errmsg)
{
	struct lxc_container *c;
	pid_t pid;
	int rv = 0;

	if (n == 0)
		return 0;
	c = ctm__ct_lxc(ctx, ctid);
	if (!c)
		return ctm__error(-EIO, errmsg, "CT %u: liblxc cannot open the container", ctid);
	pid = c->init_pid(c);
	lxc_container_put(c);
	if (pid <= 0)
		return ctm__error(-EINVAL, errmsg, "CT %u not running", ctid);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		char controller[32], dir[PATH_MAX], file[PATH_MAX * 2];
		FILE *f;

		snprintf(controller, sizeof(controller), "%.*s", (int)strcspn(items[i].key, "."),
		         items[i].key);
		rv = cgroup_dir(pid, controller, dir, sizeof(dir));
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: the %s cgroup of the container is not found",
			           ctid, controller);
			break;
		}
		snprintf(file, sizeof(file), "%s/%s", dir, items[i].key);
		f = fopen(file, "we");
		if (!f) {
			rv = -errno;
		} else {
			if (fputs(items[i].value, f) < 0)
				rv = -EIO;
			if (fclose(f) != 0 && rv == 0)
				rv = -errno;
		}
		if (rv < 0)
			rv = ctm__error(-EIO, errmsg, "CT %u: the cgroup does not take %s = %s: %s",
			                ctid, items[i].key, items[i].value, strerror(-rv));
	}
	return rv;
}
