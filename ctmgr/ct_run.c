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
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mount.h>
#include <lxc/lxccontainer.h>

#include "conf/propstr.h"
#include "conf/snapshot.h"
#include "conf/schema.h"
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

/* ---- hookscripts ---- */

int ctm__ct_hookscript_check(struct ctm_ctx *ctx, unsigned ctid, const char *volid,
                             char *script, size_t size, char *errmsg)
{
	struct ctm_storage_cfg *storage = NULL;
	struct ctm_volume vol = {0};
	char msg[CONF_ERRMSG_SIZE];
	struct stat st;
	int rv;

	script[0] = '\0';
	if (!volid || !*volid)
		return 0;
	rv = ctm__ct_storage(ctx, &storage, errmsg);
	if (rv < 0)
		return rv;
	rv = ctm_storage_check_exists(storage, volid, ctx->node, CTM_CONTENT_SNIPPETS, "snippets",
	                              msg);
	if (rv == 0)
		rv = ctm_volume_resolve(storage, volid, ctx->node, &vol, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: hookscript %s: %s", ctid, volid, msg);
		goto out;
	}
	if (vol.kind != CTM_VOLUME_SNIPPET) {
		rv = ctm__error(-EINVAL, errmsg,
		                "CT %u: hookscript %s is not a snippets volume: use "
		                "STORAGE:snippets/FILE",
		                ctid, volid);
		goto out;
	}
	if (stat(vol.path, &st) == 0 && S_ISDIR(st.st_mode)) {
		rv = ctm__error(-EISDIR, errmsg,
		                "CT %u: hookscript %s (%s) is a folder, not a file: give a script "
		                "file",
		                ctid, volid, vol.path);
		goto out;
	}
	if (stat(vol.path, &st) < 0 || !S_ISREG(st.st_mode)) {
		rv = ctm__error(-ENOENT, errmsg,
		                "CT %u: hookscript %s (%s) does not exist: create it or change "
		                "hookscript",
		                ctid, volid, vol.path);
		goto out;
	}
	if (access(vol.path, X_OK) < 0) {
		rv = ctm__error(-EACCES, errmsg,
		                "CT %u: hookscript %s (%s) is not executable: chmod +x it", ctid,
		                volid, vol.path);
		goto out;
	}
	if (snprintf(script, size, "%s", vol.path) >= (int)size)
		rv = ctm__error(-ENAMETOOLONG, errmsg, "CT %u: the path of hookscript %s is too long",
		                ctid, volid);
out:
	ctm_volume_clear(&vol);
	ctm_storage_cfg_free(storage);
	return rv;
}

/* Find the hookscript of config section S and check that it can run: its
 * path into SCRIPT, or "" when S has none. */
static int hookscript_path(struct ctm_ctx *ctx, unsigned ctid, const struct conf_section *s,
                           char *script, size_t size, char *errmsg)
{
	return ctm__ct_hookscript_check(ctx, ctid, s ? conf_get(s, "hookscript") : NULL, script,
	                                size, errmsg);
}

int ctm_ct_hook_run(unsigned ctid, const char *script, const char *phase, char *errmsg)
{
	char id[16];
	pid_t pid;
	int ws;

	snprintf(id, sizeof(id), "%u", ctid);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return ctm__error(-errno, errmsg, "CT %u: running hookscript %s failed: %s", ctid,
		                  script, strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		/* The script gets no descriptor of ours, such as the pmxfs connection. */
		close_range(3, ~0U, 0);
		execl(script, script, id, phase, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR)
			return ctm__error(-errno, errmsg, "CT %u: waiting for hookscript %s failed",
			                  ctid, script);
	}
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		return 0;
	if (WIFEXITED(ws))
		return ctm__error(-EIO, errmsg, "CT %u: hookscript %s %s failed with exit status %d",
		                  ctid, script, phase, WEXITSTATUS(ws));
	return ctm__error(-EIO, errmsg, "CT %u: hookscript %s %s was killed by signal %d", ctid,
	                  script, phase, WTERMSIG(ws));
}

int ctm_ct_hookscript(struct ctm_ctx *ctx, unsigned ctid, const struct conf_section *s,
                      const char *phase, char *errmsg)
{
	char script[PATH_MAX];
	int rv;

	rv = hookscript_path(ctx, ctid, s, script, sizeof(script), errmsg);
	if (rv < 0 || !script[0])
		return rv;
	return ctm_ct_hook_run(ctid, script, phase, errmsg);
}

/* Run the hookscript of config section S for PHASE. A failure is only a
 * warning. */
static void hookscript_warn(struct ctm_ctx *ctx, unsigned ctid, const struct conf_section *s,
                            const char *phase)
{
	char msg[CONF_ERRMSG_SIZE] = "";

	if (ctm_ct_hookscript(ctx, ctid, s, phase, msg) < 0 && ctx->warn)
		fprintf(ctx->warn, "warning: %s\n", msg);
}

int ctm_ct_hook_script(struct ctm_ctx *ctx, unsigned ctid, const char *phase, char *script,
                       size_t size, char *errmsg)
{
	struct ctm_ct *ct = NULL;
	int rv;

	script[0] = '\0';
	if (strcmp(phase, "post-stop"))
		return ctm__error(-EINVAL, errmsg,
		                  "CT %u: the LXC hook %s is not handled: only post-stop is", ctid,
		                  phase);
	rv = ctm_ct_load(ctx, ctid, &ct, errmsg);
	if (rv == 0)
		rv = hookscript_path(ctx, ctid, conf_main(ct->cf), script, size, errmsg);
	ctm_ct_free(ct);
	return rv;
}

/*
 * The program LXC runs as the container's post-stop hook: `ctmgr` next to
 * the running program (ctmgr itself, or ctmgrd in the same folder).
 */
static int hook_command(char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (len <= 0)
		return -errno;
	exe[len] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -EINVAL;
	slash[1] = '\0';
	/* An uninstalled program runs from .libs/, below its libtool wrapper. */
	len = (ssize_t)strlen(exe);
	if (len >= 7 && !strcmp(exe + len - 7, ".libs/"))
		exe[len - 6] = '\0';
	if (snprintf(out, size, "%sctmgr hook", exe) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
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

/* Tell whether PATH contains exactly TEXT. */
static bool file_is(const char *path, const char *text)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	bool same = false;
	FILE *f;

	if (!buf)
		return false;
	f = fopen(path, "re");
	if (f) {
		same = fread(buf, 1, len + 1, f) == len && !memcmp(buf, text, len);
		fclose(f);
	}
	free(buf);
	return same;
}

/* Write TEXT to PATH through a temporary file and a rename, unless PATH
 * contains TEXT already (the usual case when a container starts again). */
static int write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 32];
	FILE *f;
	int rv = 0;

	if (file_is(path, text))
		return 0;
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

/*
 * Rewrite ERRMSG of a value the LXC config generator rejected to name the
 * file, the line and the fix, when a key of CT's main section fails the
 * schema check with the same message.
 */
static void name_bad_key(const struct ctm_ct *ct, char *errmsg)
{
	const struct conf_section *s = conf_main(ct->cf);
	char prefix[32], check[CONF_ERRMSG_SIZE];
	const char *msg;
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "CT %u: ", ct->ctid);

	if (strncmp(errmsg, prefix, n))
		return;
	msg = errmsg + n;
	for (size_t i = 0; i < s->n_keys; i++) {
		const struct conf_entry *e = &s->keys[i];

		check[0] = '\0';
		if (conf_schema_validate(e->key, e->value, check) != -EINVAL || strcmp(check, msg))
			continue;
		ctm__error(-EINVAL, errmsg,
		           "CT %u: %s:%u: %s; fix it with ctmgr set %u --%s ... or --delete %s",
		           ct->ctid, ct->path, e->line, check, ct->ctid, e->key, e->key);
		return;
	}
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
	if (rv == -EINVAL)
		name_bad_key(ct, errmsg);
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
		char hook[PATH_MAX + 16], *full;

		/* LXC runs it as `HOOK CTID lxc post-stop` after every stop. */
		if (hook_command(hook, sizeof(hook)) == 0) {
			full = ctm__printf("%slxc.hook.post-stop = %s\n", text, hook);
			free(text);
			text = full;
			rv = text ? 0 : -ENOMEM;
		}
	}
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
			    "CT %u: LXC failed to start the container; run `ctmgr start %u "
			    "--debug` for LXC's log in /var/log/ctmgr-start-%u.log",
			    ctid, ctid, ctid);
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

	if (params && params->ct && params->ct->ctid == ctid) {
		ct = params->ct;
	} else {
		rv = ctm_ct_load(ctx, ctid, &ct, errmsg);
		if (rv < 0)
			return rv;
	}
	rv = ctm__ct_require_local(ctx, ct, errmsg);
	if (rv == 0)
		rv = check_lock(ct, true, errmsg);
	if (rv == 0 && !ctx->quorate)
		rv = ctm__error(-EROFS, errmsg,
		                "CT %u: cluster not quorate, cannot start: " CTM_QUORUM_HINT, ctid);
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
	if (rv == 0) {
		rv = ctm_ct_hookscript(ctx, ctid, conf_main(ct->cf), "pre-start", errmsg);
		if (rv < 0)
			snprintf(errmsg + strlen(errmsg), CONF_ERRMSG_SIZE - strlen(errmsg),
			         "; the start is aborted");
	}
	if (rv == 0)
		rv = lxc_start(ctx, ctid, params ? params->debug_log : NULL, errmsg);
	if (rv < 0)
		ctm__ct_unstage(ctx, ctid);
	else
		hookscript_warn(ctx, ctid, conf_main(ct->cf), "post-start");
out:
	if (!params || ct != params->ct)
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
	if (rv < 0)
		goto out;
	*c = ctm__ct_lxc(ctx, ctid);
	if (!*c) {
		rv = ctm__error(-EIO, errmsg, "CT %u: liblxc cannot open the container", ctid);
		goto out;
	}
	if (!(*c)->is_running(*c)) {
		lxc_container_put(*c);
		*c = NULL;
		rv = ctm__error(-EINVAL, errmsg, "CT %u not running", ctid);
		goto out;
	}
	hookscript_warn(ctx, ctid, conf_main(ct->cf), "pre-stop");
out:
	ctm_ct_free(ct);
	return rv;
}

static int hard_stop(struct ctm_ctx *ctx, unsigned ctid, struct lxc_container *c, char *errmsg)
{
	int rv = 0;

	/* Trust the state, not the return value: a stop that reports
	 * success on a container that still runs is a failure. */
	c->stop(c);
	if (c->is_running(c))
		return ctm__error(-EIO, errmsg,
		                  "CT %u: LXC failed to stop the container: it is still running",
		                  ctid);
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

	/* liblxc's shutdown with timeout 0 sends the halt signal and returns
	 * at once: 0 s means no grace period, so kill at once or refuse. */
	if (timeout == 0 && !force)
		return ctm__error(-EINVAL, errmsg,
		                  "CT %u: --timeout 0 leaves the container no time to shut down: "
		                  "use at least 1 s, or add --forceStop 1 to kill it at once",
		                  ctid);
	rv = load_for_stop(ctx, ctid, false, &c, errmsg);
	if (rv < 0)
		return rv;
	if (timeout > 0)
		c->shutdown(c, timeout > INT_MAX ? INT_MAX : (int)timeout);
	if (timeout > 0 && !c->is_running(c))
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

/* Write VALUE into the cgroup file FILE. */
static int write_value(const char *file, const char *value)
{
	FILE *f = fopen(file, "we");
	int rv = 0;

	if (!f)
		return -errno;
	if (fputs(value, f) < 0)
		rv = -EIO;
	if (fclose(f) != 0 && rv == 0)
		rv = -errno;
	return rv;
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

		snprintf(controller, sizeof(controller), "%.*s", (int)strcspn(items[i].key, "."),
		         items[i].key);
		rv = cgroup_dir(pid, controller, dir, sizeof(dir));
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: the %s cgroup of the container is not found",
			           ctid, controller);
			break;
		}
		snprintf(file, sizeof(file), "%s/%s", dir, items[i].key);
		if (!strncmp(items[i].key, "devices.", 8) && access(file, F_OK) < 0) {
			/* v2 has no devices files: liblxc's monitor updates the
			 * container's device program. NOTE: the test host has v1
			 * controllers, so no test ran this path. */
			struct lxc_container *lc = ctm__ct_lxc(ctx, ctid);

			rv = lc && lc->set_cgroup_item(lc, items[i].key, items[i].value) ? 0 : -EIO;
			if (lc)
				lxc_container_put(lc);
			if (rv < 0)
				rv = ctm__error(-EIO, errmsg, "CT %u: LXC does not take %s = %s",
				                ctid, items[i].key, items[i].value);
			continue;
		}
		rv = write_value(file, items[i].value);
		if (rv == 0 && !strcmp(items[i].key, "devices.allow")) {
			/* The inner `ns` cgroup gets only what its parent allows. */
			snprintf(file, sizeof(file), "%s/ns/%s", dir, items[i].key);
			if (access(file, F_OK) == 0)
				rv = write_value(file, items[i].value);
		}
		if (!strncmp(items[i].key, "cpuset.", 7)) {
			/* A v1 cpuset must stay within its parent's: shrink the
			 * inner `ns` cgroup first, grow it after the container's. */
			snprintf(file, sizeof(file), "%s/ns/%s", dir, items[i].key);
			if (rv == -EBUSY && write_value(file, items[i].value) == 0) {
				snprintf(file, sizeof(file), "%s/%s", dir, items[i].key);
				rv = write_value(file, items[i].value);
			} else if (rv == 0 && access(file, F_OK) == 0) {
				rv = write_value(file, items[i].value);
			}
		}
		if (rv < 0)
			rv = ctm__error(-EIO, errmsg, "CT %u: the cgroup does not take %s = %s: %s",
			                ctid, items[i].key, items[i].value, strerror(-rv));
	}
	return rv;
}

/* Open the liblxc handle of the running local container CTID. */
static int open_running(struct ctm_ctx *ctx, unsigned ctid, struct ctm_ct **ct,
                        struct lxc_container **c, char *errmsg)
{
	int rv = ctm_ct_load(ctx, ctid, ct, errmsg);

	if (rv == 0)
		rv = ctm__ct_require_local(ctx, *ct, errmsg);
	if (rv < 0)
		goto err;
	*c = ctm__ct_lxc(ctx, ctid);
	if (!*c) {
		rv = ctm__error(-EIO, errmsg, "CT %u: liblxc cannot open the container", ctid);
		goto err;
	}
	if (!(*c)->is_running(*c)) {
		lxc_container_put(*c);
		*c = NULL;
		rv = ctm__error(-EINVAL, errmsg, "CT %u not running", ctid);
		goto err;
	}
	return 0;
err:
	ctm_ct_free(*ct);
	*ct = NULL;
	return rv;
}

int ctm_ct_enter(struct ctm_ctx *ctx, unsigned ctid, int *status, char *errmsg)
{
	static char path_env[] =
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
	struct lxc_container *c = NULL;
	struct ctm_ct *ct = NULL;
	const char *term = getenv("TERM");
	char *term_env, *env[3];
	pid_t pid;
	int rv, ws;

	rv = open_running(ctx, ctid, &ct, &c, errmsg);
	if (rv < 0)
		return rv;
	ctm_ct_free(ct);
	term_env = ctm__printf("TERM=%s", term && *term ? term : "linux");
	if (!term_env) {
		rv = ctm__error(-ENOMEM, errmsg, "out of memory");
		goto out;
	}
	env[0] = path_env;
	env[1] = term_env;
	env[2] = NULL;
	opts.env_policy = LXC_ATTACH_CLEAR_ENV;
	opts.extra_env_vars = env;
	if (c->attach(c, lxc_attach_run_shell, NULL, &opts, &pid) < 0) {
		rv = ctm__error(-EIO, errmsg, "CT %u: attaching a shell to the container failed",
		                ctid);
		goto out;
	}
	while (waitpid(pid, &ws, 0) < 0) {
		if (errno != EINTR) {
			rv = ctm__error(-EIO, errmsg, "CT %u: waiting for the shell failed: %s",
			                ctid, strerror(errno));
			goto out;
		}
	}
	if (WIFEXITED(ws))
		*status = WEXITSTATUS(ws);
	else if (WIFSIGNALED(ws))
		*status = 128 + WTERMSIG(ws);
	else
		*status = 1;
out:
	free(term_env);
	lxc_container_put(c);
	return rv;
}

int ctm_ct_console(struct ctm_ctx *ctx, unsigned ctid, int *status, char *errmsg)
{
	struct lxc_container *c = NULL;
	struct ctm_ct *ct = NULL;
	const char *cmode;
	int rv, tty;

	rv = open_running(ctx, ctid, &ct, &c, errmsg);
	if (rv < 0)
		return rv;
	cmode = conf_get(conf_main(ct->cf), "cmode");
	*status = 0;
	if (cmode && !strcmp(cmode, "shell")) {
		ctm_ct_free(ct);
		lxc_container_put(c);
		return ctm_ct_enter(ctx, ctid, status, errmsg);
	}
	tty = cmode && !strcmp(cmode, "console") ? 0 : -1;
	if (!isatty(STDIN_FILENO)) {
		rv = ctm__error(-ENOTTY, errmsg,
		                "CT %u: the console needs a terminal on stdin; use `ctmgr exec` "
		                "or `ctmgr enter` from scripts",
		                ctid);
		goto out;
	}
	if (cmode && !strcmp(cmode, "console") && conf_get(conf_main(ct->cf), "console") &&
	    !strcmp(conf_get(conf_main(ct->cf), "console"), "0")) {
		rv = ctm__error(-EINVAL, errmsg, "CT %u has no console (console: 0)", ctid);
		goto out;
	}
	/* Escape 1 is Ctrl+a. liblxc prints how to leave the console. */
	if (c->console(c, tty, STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, 1) < 0)
		rv = ctm__error(-EIO, errmsg,
		                "CT %u: connecting to the console failed: no free tty, or tty "
		                "is 0",
		                ctid);
out:
	ctm_ct_free(ct);
	lxc_container_put(c);
	return rv;
}

/* ---- mount points of a running container ---- */

/* Mount attribute flags for the mount options OPTIONS of an LXC entry. */
static uint64_t mount_attrs(const char *options)
{
	static const struct {
		const char *name;
		uint64_t attr;
	} map[] = {{"ro", MOUNT_ATTR_RDONLY},
	           {"nosuid", MOUNT_ATTR_NOSUID},
	           {"nodev", MOUNT_ATTR_NODEV},
	           {"noexec", MOUNT_ATTR_NOEXEC},
	           {"noatime", MOUNT_ATTR_NOATIME}};
	char buf[512], *save = NULL;
	uint64_t attrs = 0;

	snprintf(buf, sizeof(buf), "%s", options ? options : "");
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcmp(t, map[i].name))
				attrs |= map[i].attr;
	return attrs;
}

/* Create the folder PATH and its parents, owned by UID:GID when new. */
static int mkdir_owned(const char *path, uid_t uid, gid_t gid)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		bool end = !*p;

		if (*p && *p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == 0) {
			if (chown(buf, uid, gid) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (end)
			break;
		*p = '/';
	}
	return 0;
}

/* Run FN(DATA) in a child process that entered the mount namespace of
 * PID; returns 0 or the child's negative errno value. */
static int in_mount_ns(pid_t pid, int (*fn)(void *), void *data)
{
	char path[64];
	pid_t child;
	int fd, ws;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	child = fork();
	if (child < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (child == 0) {
		int rv = setns(fd, CLONE_NEWNS) < 0 ? -errno : fn(data);

		_exit(rv < 0 ? -rv : 0);
	}
	close(fd);
	while (waitpid(child, &ws, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(ws))
		return -EIO;
	return -WEXITSTATUS(ws);
}

struct plug_args {
	int tree; /* the detached mount to attach */
	const char *target;
	bool file; /* the target is a file (a device node), not a folder */
	uid_t uid;
	gid_t gid;
};

static int plug_child(void *data)
{
	const struct plug_args *a = data;
	int rv;

	/* After setns() the root is the container's root file system. */
	if (chdir("/") < 0)
		return -errno;
	if (a->file) {
		char dir[PATH_MAX], *slash;
		int fd;

		snprintf(dir, sizeof(dir), "%s", a->target);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			rv = mkdir_owned(dir, a->uid, a->gid);
			if (rv < 0)
				return rv;
		}
		/* An existing node is mounted over; it is not opened. */
		fd = open(a->target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno != EEXIST)
			return -errno;
		if (fd >= 0)
			close(fd);
	} else {
		rv = mkdir_owned(a->target, a->uid, a->gid);
		if (rv < 0)
			return rv;
	}
	if (syscall(SYS_move_mount, a->tree, "", AT_FDCWD, a->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static int unplug_child(void *data)
{
	const char *target = data;

	if (umount2(target, MNT_DETACH) < 0)
		return -errno;
	return 0;
}

static pid_t running_pid(struct ctm_ctx *ctx, unsigned ctid)
{
	struct lxc_container *c = ctm__ct_lxc(ctx, ctid);
	pid_t pid = -1;

	if (c) {
		if (c->is_running(c))
			pid = c->init_pid(c);
		lxc_container_put(c);
	}
	return pid;
}

int ctm__ct_plug(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_mount *staged,
                 const char *source, const char *target, const char *options, uid_t uid, gid_t gid,
                 char *errmsg)
{
	struct ctm_lxc_config one = {0};
	struct mount_attr attr = {0};
	struct plug_args a = {.target = target, .uid = uid, .gid = gid};
	char msg[CONF_ERRMSG_SIZE];
	pid_t pid = running_pid(ctx, ctid);
	int rv;

	if (pid <= 0)
		return ctm__error(-EINVAL, errmsg, "the container is not running");
	if (staged) {
		/* An image or a block device: mounted on the host first. */
		one.mounts = (struct ctm_lxc_mount *)staged;
		one.n_mounts = 1;
		rv = ctm__ct_stage(&one, msg);
		if (rv < 0)
			return ctm__error(rv, errmsg, "%s", msg);
	}
	a.tree = (int)syscall(SYS_open_tree, AT_FDCWD, source,
	                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (a.tree < 0) {
		if (errno == ENOENT)
			rv = ctm__error(-ENOENT, errmsg,
			                "the source %s does not exist: create it first", source);
		else
			rv = ctm__error(-errno, errmsg, "cannot take a copy of the mount %s: %s",
			                source, strerror(errno));
		goto err_unstage;
	}
	attr.attr_set = mount_attrs(options);
	if (attr.attr_set && syscall(SYS_mount_setattr, a.tree, "", AT_EMPTY_PATH | AT_RECURSIVE,
	                             &attr, sizeof(attr)) < 0) {
		rv = ctm__error(-errno, errmsg, "cannot set the options %s on %s: %s", options,
		                source, strerror(errno));
		close(a.tree);
		goto err_unstage;
	}
	rv = in_mount_ns(pid, plug_child, &a);
	close(a.tree);
	if (rv < 0) {
		ctm__error(rv, errmsg, "mounting %s on %s in the running container failed: %s",
		           source, target, strerror(-rv));
		goto err_unstage;
	}
	return 0;
err_unstage:
	if (staged)
		unmount_staged(&one, 1);
	return rv;
}

int ctm__ct_unplug(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_mount *staged,
                   const char *target, char *errmsg)
{
	pid_t pid = running_pid(ctx, ctid);
	int rv;

	if (pid <= 0)
		return ctm__error(-EINVAL, errmsg, "the container is not running");
	rv = in_mount_ns(pid, unplug_child, (void *)target);
	if (rv < 0 && rv != -EINVAL && rv != -ENOENT)
		return ctm__error(rv, errmsg, "unmounting %s in the running container failed: %s",
		                  target, strerror(-rv));
	if (staged && is_mount_point(staged->target))
		umount2(staged->target, MNT_DETACH);
	return 0;
}

int ctm__ct_plug_device(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_device *dev,
                        char *errmsg)
{
	struct ctm_lxc_config one = {0};
	struct plug_args a = {.target = dev->path, .file = true};
	char msg[CONF_ERRMSG_SIZE];
	pid_t pid = running_pid(ctx, ctid);
	int rv;

	if (pid <= 0)
		return ctm__error(-EINVAL, errmsg, "the container is not running");
	one.devices = (struct ctm_lxc_device *)dev;
	one.n_devices = 1;
	rv = ctm__ct_stage(&one, msg);
	if (rv < 0)
		return ctm__error(rv, errmsg, "%s", msg);
	a.tree =
	    (int)syscall(SYS_open_tree, AT_FDCWD, dev->node, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (a.tree < 0)
		return ctm__error(-errno, errmsg, "cannot take a copy of the device node %s: %s",
		                  dev->node, strerror(errno));
	rv = in_mount_ns(pid, plug_child, &a);
	close(a.tree);
	if (rv < 0)
		ctm__error(rv, errmsg, "binding %s on %s in the running container failed: %s",
		           dev->node, dev->path, strerror(-rv));
	return rv;
}

int ctm_ct_cpuset(struct ctm_ctx *ctx, unsigned ctid, char *buf, size_t size, char *errmsg)
{
	struct lxc_container *c = ctm__ct_lxc(ctx, ctid);
	char dir[PATH_MAX], file[PATH_MAX + 32];
	pid_t pid = -1;
	FILE *f;
	int rv;

	if (c) {
		if (c->is_running(c))
			pid = c->init_pid(c);
		lxc_container_put(c);
	}
	if (pid <= 0)
		return ctm__error(-EINVAL, errmsg, "CT %u not running", ctid);
	rv = cgroup_dir(pid, "cpuset", dir, sizeof(dir));
	if (rv < 0)
		return ctm__error(rv, errmsg,
		                  "CT %u: the cpuset cgroup of the container is not found", ctid);
	/* A v2 cgroup has the effective set in its own file. On v1, cpuset.cpus is the effective
	 * set. */
	snprintf(file, sizeof(file), "%s/cpuset.cpus.effective", dir);
	f = fopen(file, "re");
	if (!f) {
		snprintf(file, sizeof(file), "%s/cpuset.cpus", dir);
		f = fopen(file, "re");
	}
	if (!f)
		return ctm__error(-errno, errmsg, "CT %u: cannot read %s: %s", ctid, file,
		                  strerror(errno));
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}
