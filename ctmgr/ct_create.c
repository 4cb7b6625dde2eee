/* Creating containers from template archives, and destroying them. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <lxc/lxccontainer.h>

#include "conf/propstr.h"
#include "conf/snapshot.h"
#include "ctmgr/ct.h"
#include "ctmgr/ct_internal.h"
#include "ctmgr/ctm_internal.h"
#include "ctmgr/setup.h"
#include "lock/ctlock.h"

/* LIMIT: container ids an unprivileged container maps, as pct's default map. */
#define CT_IDMAP_COUNT 65536u

static int created_add(struct ctm__created *cr, char *volid)
{
	int rv = ctm__grow(&cr->volumes, cr->n, sizeof(*cr->volumes));

	if (rv < 0)
		return rv;
	cr->volumes[cr->n++] = volid;
	return 0;
}

/* Tell whether KEY is a volume key (rootfs, mpN) and, with ONLY, is set there. */
static bool volume_key_selected(const char *key, const struct ctm_options *only)
{
	if (strcmp(key, "rootfs") && strncmp(key, "mp", 2))
		return false;
	return !only || ctm_options_get(only, key);
}

int ctm_ct_check_alloc_storages(const struct ctm_storage_cfg *storage, const char *node,
                                const struct conf_section *s, const struct ctm_options *only,
                                char *errmsg)
{
	char msg[CONF_ERRMSG_SIZE];
	int rv = 0;

	for (size_t i = 0; rv == 0 && i < s->n_keys; i++) {
		struct conf_mountpoint mp = {0};
		bool rootfs = !strcmp(s->keys[i].key, "rootfs");
		char *storage_id = NULL;
		uint64_t bytes = 0;

		if (!volume_key_selected(s->keys[i].key, only))
			continue;
		/* A value that does not parse is the option check's to report. */
		if ((rootfs ? conf_rootfs_parse(s->keys[i].value, &mp, msg)
		            : conf_mp_parse(s->keys[i].value, &mp, msg)) < 0)
			continue;
		if (mp.volume_type == CONF_VOLUME_ALLOC &&
		    ctm_alloc_request_parse(mp.volume, &storage_id, &bytes, msg) == 0) {
			rv = ctm_storage_check_rootdir(storage, storage_id, node, msg);
			if (rv < 0)
				ctm__error(rv, errmsg, "%s (%s): %s", s->keys[i].key,
				           s->keys[i].value, msg);
		}
		free(storage_id);
		conf_mountpoint_clear(&mp);
	}
	return rv;
}

int ctm__ct_alloc_volumes(struct ctm_ctx *ctx, unsigned ctid, struct conf_section *s,
                          const struct ctm_storage_cfg *storage, uid_t root_uid,
                          const struct ctm_options *only, struct ctm__created *cr,
                          char *errmsg)
{
	char msg[CONF_ERRMSG_SIZE];
	int rv = 0;

	for (size_t i = 0; rv == 0 && i < s->n_keys; i++) {
		struct conf_mountpoint mp = {0};
		bool rootfs = !strcmp(s->keys[i].key, "rootfs");
		char *storage_id = NULL, *volid = NULL, *text = NULL;
		uint64_t bytes = 0;

		if (!volume_key_selected(s->keys[i].key, only))
			continue;
		rv = rootfs ? conf_rootfs_parse(s->keys[i].value, &mp, msg)
		            : conf_mp_parse(s->keys[i].value, &mp, msg);
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: %s is invalid: %s", ctid, s->keys[i].key,
			           msg);
			break;
		}
		if (mp.volume_type != CONF_VOLUME_ALLOC) {
			conf_mountpoint_clear(&mp);
			continue;
		}
		rv = ctm_alloc_request_parse(mp.volume, &storage_id, &bytes, msg);
		if (rv == 0)
			rv = ctm_volume_alloc(storage, storage_id, ctx->node, ctid, bytes, root_uid,
			                      root_uid, &volid, msg);
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: allocating %s (%s) failed: %s", ctid,
			           s->keys[i].key, s->keys[i].value, msg);
		} else if ((rv = created_add(cr, volid)) < 0) {
			free(volid);
			ctm__error(rv, errmsg, "out of memory");
		} else {
			free(mp.volume);
			mp.volume = strdup(volid);
			mp.volume_type = CONF_VOLUME_STORAGE;
			mp.size = (int64_t)bytes;
			rv = mp.volume ? (rootfs ? conf_rootfs_print(&mp, &text)
			                         : conf_mp_print(&mp, &text))
			               : -ENOMEM;
			if (rv == 0)
				rv = conf_set(s, s->keys[i].key, text);
			if (rv < 0)
				ctm__error(rv, errmsg, "out of memory");
		}
		free(text);
		free(storage_id);
		conf_mountpoint_clear(&mp);
	}
	return rv;
}

/* Give every netN without hwaddr a random address in Proxmox's range
 * BC:24:11, as pct does at create. */
static int add_hwaddrs(unsigned ctid, struct conf_section *s, char *errmsg)
{
	char msg[CONF_ERRMSG_SIZE];
	int rv = 0;

	for (size_t i = 0; rv == 0 && i < s->n_keys; i++) {
		struct conf_net net = {0};
		unsigned char r[3] = {0};
		char mac[18], *text = NULL;

		if (strncmp(s->keys[i].key, "net", 3))
			continue;
		rv = conf_net_parse(s->keys[i].value, &net, msg);
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: %s is invalid: %s", ctid, s->keys[i].key,
			           msg);
			break;
		}
		if (!net.hwaddr) {
			if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
				rv = -errno;
			snprintf(mac, sizeof(mac), "BC:24:11:%02X:%02X:%02X", r[0], r[1], r[2]);
			net.hwaddr = rv == 0 ? strdup(mac) : NULL;
			if (rv == 0 && !net.hwaddr)
				rv = -ENOMEM;
			if (rv == 0)
				rv = conf_net_print(&net, &text);
			if (rv == 0)
				rv = conf_set(s, s->keys[i].key, text);
			free(text);
			if (rv < 0)
				ctm__error(rv, errmsg,
				           "CT %u: adding a MAC address to %s failed: %s", ctid,
				           s->keys[i].key, strerror(-rv));
		}
		conf_net_clear(&net);
	}
	return rv;
}

/* Shift the owner ID of an archive entry by OFFSET; IDs outside the map fail. */
static int shift_id(int64_t id, uint32_t offset, int64_t *out)
{
	if (offset == 0) {
		*out = id;
		return 0;
	}
	if (id < 0 || id >= CT_IDMAP_COUNT)
		return -ERANGE;
	*out = id + offset;
	return 0;
}

/*
 * Unpack the archive PATH into ROOTFS with numeric owners shifted by
 * OFFSET. libarchive rejects entries with `..` and writes through no
 * symbolic link.
 * NOTE: that check covers every part of the target path, so a ROOTFS
 * below a symbolic link on the host (a storage path such as /srv/link/ct)
 * fails to unpack.
 */
static int unpack(const char *path, const char *rootfs, uint32_t offset, char *errmsg)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *entry;
	char target[PATH_MAX];
	int flags = ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
	            ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_FFLAGS |
	            ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS;
	int rv = 0, r;

	if (!in || !out) {
		rv = ctm__error(-ENOMEM, errmsg, "out of memory");
		goto out;
	}
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	archive_write_disk_set_options(out, flags);
	if (archive_read_open_filename(in, path, 65536) != ARCHIVE_OK) {
		rv = ctm__error(-EINVAL, errmsg, "reading the template %s failed: %s", path,
		                archive_error_string(in));
		goto out;
	}
	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(entry),
		           *link = archive_entry_hardlink(entry);
		int64_t uid, gid;

		while (name && (name[0] == '/' || (name[0] == '.' && name[1] == '/')))
			name += name[0] == '/' ? 1 : 2;
		if (!name || !*name || !strcmp(name, "."))
			continue;
		if (shift_id(archive_entry_uid(entry), offset, &uid) < 0 ||
		    shift_id(archive_entry_gid(entry), offset, &gid) < 0) {
			rv = ctm__error(
			    -ERANGE, errmsg,
			    "the template %s has %s owned by %jd:%jd, outside the container's "
			    "id map 0-65535",
			    path, name, (intmax_t)archive_entry_uid(entry),
			    (intmax_t)archive_entry_gid(entry));
			goto out;
		}
		archive_entry_set_uid(entry, uid);
		archive_entry_set_gid(entry, gid);
		snprintf(target, sizeof(target), "%s/%s", rootfs, name);
		archive_entry_copy_pathname(entry, target);
		if (link) {
			while (link[0] == '/' || (link[0] == '.' && link[1] == '/'))
				link += link[0] == '/' ? 1 : 2;
			snprintf(target, sizeof(target), "%s/%s", rootfs, link);
			archive_entry_copy_hardlink(entry, target);
		}
		if (archive_write_header(out, entry) < ARCHIVE_WARN ||
		    (archive_entry_size(entry) > 0 &&
		     archive_write_data_block(out, NULL, 0, 0) < 0)) {
			rv = ctm__error(-EIO, errmsg, "unpacking %s of the template %s failed: %s",
			                name, path, archive_error_string(out));
			goto out;
		}
		for (;;) {
			const void *buf;
			size_t size;
			la_int64_t off;

			r = archive_read_data_block(in, &buf, &size, &off);
			if (r == ARCHIVE_EOF)
				break;
			if (r < ARCHIVE_WARN ||
			    archive_write_data_block(out, buf, size, off) < ARCHIVE_WARN) {
				rv = ctm__error(
				    -EIO, errmsg, "unpacking %s of the template %s failed: %s",
				    name, path, archive_error_string(r < ARCHIVE_WARN ? in : out));
				goto out;
			}
		}
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			rv = ctm__error(-EIO, errmsg, "unpacking %s of the template %s failed: %s",
			                name, path, archive_error_string(out));
			goto out;
		}
	}
	if (r != ARCHIVE_EOF)
		rv = ctm__error(-EINVAL, errmsg, "reading the template %s failed: %s", path,
		                archive_error_string(in));
out:
	if (out) {
		if (archive_write_close(out) != ARCHIVE_OK && rv == 0)
			rv = ctm__error(-EIO, errmsg, "unpacking the template %s failed: %s", path,
			                archive_error_string(out));
		archive_write_free(out);
	}
	archive_read_free(in);
	return rv;
}

/* Whether PATH opens as a tar archive and has a first entry, so that a
 * file that is no template fails before any volume is made. */
static int check_template(const char *path, char *errmsg)
{
	struct archive *in = archive_read_new();
	struct archive_entry *entry;
	int rv = 0;

	if (!in)
		return ctm__error(-ENOMEM, errmsg, "out of memory");
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	if (archive_read_open_filename(in, path, 65536) != ARCHIVE_OK ||
	    archive_read_next_header(in, &entry) != ARCHIVE_OK)
		rv = ctm__error(-EINVAL, errmsg,
		                "the template %s is not a tar archive (plain, gzip, xz or zstd): %s",
		                path, archive_error_string(in) ? archive_error_string(in)
		                                               : "no entry");
	archive_read_free(in);
	return rv;
}

/* The file of the template OSTEMPLATE: a path, or a vztmpl volume id. */
static int template_path(const struct ctm_storage_cfg *storage, const char *node,
                         const char *ostemplate, char **out, char *errmsg)
{
	struct ctm_volume vol = {0};
	char msg[CONF_ERRMSG_SIZE];
	struct stat st;
	int rv;

	if (ostemplate[0] == '/') {
		*out = strdup(ostemplate);
	} else {
		rv = ctm_storage_check_exists(storage, ostemplate, node, CTM_CONTENT_VZTMPL, "vztmpl",
		                              msg);
		if (rv == 0)
			rv = ctm_volume_resolve(storage, ostemplate, node, &vol, msg);
		if (rv < 0)
			return ctm__error(rv, errmsg, "template %s: %s", ostemplate, msg);
		if (vol.kind != CTM_VOLUME_VZTMPL) {
			ctm_volume_clear(&vol);
			return ctm__error(-EINVAL, errmsg,
			                  "%s is not a template: a template is a volume "
			                  "STORAGE:vztmpl/FILE or an absolute path",
			                  ostemplate);
		}
		*out = strdup(vol.path);
		ctm_volume_clear(&vol);
	}
	if (!*out)
		return ctm__error(-ENOMEM, errmsg, "out of memory");
	rv = 0;
	if (stat(*out, &st) == 0 && S_ISDIR(st.st_mode))
		rv = ctm__error(-EISDIR, errmsg,
		                "the template %s is a folder, not a file: give a template archive",
		                *out);
	else if (stat(*out, &st) < 0 || !S_ISREG(st.st_mode))
		rv = ctm__error(-ENOENT, errmsg,
		                ostemplate[0] == '/'
		                    ? "the template %s does not exist: check the path"
		                    : "the template %s does not exist: copy the archive there or "
		                      "choose another template",
		                *out);
	if (rv < 0) {
		free(*out);
		*out = NULL;
	}
	return rv;
}

/* Unpack the template into the new volumes and run guest setup. */
static int fill_rootfs(struct ctm_ctx *ctx, struct ctm_ct *ct,
                       const struct ctm_create_params *params,
                       const struct ctm_storage_cfg *storage, const char *template, char *errmsg)
{
	struct ctm_lxc_config *lcfg = NULL;
	struct ctm_setup_report report = {0};
	struct ctm_setup_opts sopts = {0};
	char dir[PATH_MAX], msg[CONF_ERRMSG_SIZE];
	struct conf_section *s = conf_main(ct->cf);
	const char *rootfs;
	int rv;

	rv = ctm__ct_build_lxc(ctx, ct->ctid, s, storage, &lcfg, errmsg);
	if (rv < 0)
		return rv;
	snprintf(dir, sizeof(dir), "%s/%u", ctm__ct_lxc_path(ctx), ct->ctid);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rv = ctm__error(-errno, errmsg, "CT %u: creating %s failed: %s", ct->ctid, dir,
		                strerror(errno));
		goto out;
	}
	rv = ctm__ct_stage(lcfg, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: %s", ct->ctid, msg);
		goto out;
	}
	rootfs = ctm__ct_rootfs_dir(lcfg);
	if (!rootfs) {
		rv = ctm__error(-EINVAL, errmsg, "CT %u: the root file system has no folder",
		                ct->ctid);
		goto err_unstage;
	}
	rv = unpack(template, rootfs, lcfg->root_uid, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: %s", ct->ctid, msg);
		goto err_unstage;
	}

	sopts.create = true;
	sopts.root_password = ctm_options_get(params->opts, "password");
	sopts.ssh_keys = params->ssh_keys;
	sopts.root_uid = lcfg->root_uid;
	sopts.root_gid = lcfg->root_gid;
	rv = ctm_setup_run(rootfs, s, &sopts, &report, msg);
	ctm__ct_warn(ctx, ct->ctid, report.notes, report.n_notes);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: guest setup failed: %s", ct->ctid, msg);
	} else if (!conf_get(s, "ostype") && conf_set(s, "ostype", report.os) < 0) {
		rv = ctm__error(-ENOMEM, errmsg, "out of memory");
	}
	ctm_setup_report_clear(&report);
err_unstage:
	ctm__ct_unstage(ctx, ct->ctid);
out:
	ctm_lxc_config_free(lcfg);
	return rv;
}

/* Remove VOLID, made by a create that failed, and its folder
 * (images/CTID) when that is empty now. */
static void remove_volume(const struct ctm_storage_cfg *storage, const char *volid)
{
	char msg[CONF_ERRMSG_SIZE], *slash;
	struct ctm_volume v = {0};

	if (ctm_volume_resolve(storage, volid, NULL, &v, msg) < 0)
		return;
	ctm_volume_free(storage, volid, msg);
	slash = v.path ? strrchr(v.path, '/') : NULL;
	if (slash && slash != v.path) {
		*slash = '\0';
		rmdir(v.path);
	}
	ctm_volume_clear(&v);
}

void ctm__created_clear(const struct ctm_storage_cfg *storage, struct ctm__created *cr,
                        bool remove)
{
	for (size_t i = 0; i < cr->n; i++) {
		if (remove)
			remove_volume(storage, cr->volumes[i]);
		free(cr->volumes[i]);
	}
	free(cr->volumes);
	cr->volumes = NULL;
	cr->n = 0;
}

int ctm_ct_create(struct ctm_ctx *ctx, const struct ctm_create_params *params, char *errmsg)
{
	const struct ctm_options *opts = params->opts;
	struct ctm_storage_cfg *storage = NULL;
	struct ctm__created cr = {0};
	struct ctm_ct ct = {0};
	struct conf_section *s;
	char *template = NULL, *text = NULL, msg[CONF_ERRMSG_SIZE], dir[PATH_MAX];
	const char *unpriv;
	uid_t root_uid;
	size_t len = 0;
	int rv;

	ct.ctid = opts->vmid;
	snprintf(ct.node, sizeof(ct.node), "%s", ctx->node);
	snprintf(ct.path, sizeof(ct.path), "/nodes/%s/lxc/%u.conf", ctx->node, ct.ctid);
	if (!ctx->quorate)
		return ctm__error(-EROFS, errmsg,
		                  "CT %u: cluster not quorate, cannot create: " CTM_QUORUM_HINT,
		                  ct.ctid);

	rv = ctm__ct_storage(ctx, &storage, errmsg);
	if (rv < 0)
		return rv;
	if (ctm_options_get(opts, "storage")) {
		rv = ctm_storage_check_rootdir(storage, ctm_options_get(opts, "storage"), ctx->node,
		                               msg);
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: --storage: %s", ct.ctid, msg);
			goto out;
		}
	}
	if (ctm_options_get(opts, "hookscript")) {
		char script[PATH_MAX];

		rv = ctm__ct_hookscript_check(ctx, ct.ctid, ctm_options_get(opts, "hookscript"),
		                              script, sizeof(script), errmsg);
		if (rv < 0)
			goto out;
	}
	rv = template_path(storage, ctx->node, opts->ostemplate, &template, errmsg);
	if (rv == 0)
		rv = check_template(template, errmsg);
	if (rv < 0)
		goto out;

	/* The config from the options, with pct's defaults. */
	ct.cf = conf_file_new();
	if (!ct.cf) {
		rv = ctm__error(-ENOMEM, errmsg, "out of memory");
		goto out;
	}
	s = conf_main(ct.cf);
	rv = ctm_options_apply(opts, s, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: %s", ct.ctid, msg);
		goto out;
	}
	rv = add_hwaddrs(ct.ctid, s, errmsg);
	if (rv < 0)
		goto out;
	if (!conf_get(s, "arch") && conf_set(s, "arch", "amd64") < 0) {
		rv = ctm__error(-ENOMEM, errmsg, "out of memory");
		goto out;
	}
	if (!conf_get(s, "rootfs")) {
		/* pct's default: 4 GiB on the storage of --storage, else local. */
		const char *id = ctm_options_get(opts, "storage");
		char *req = ctm__printf("%s:4", id ? id : "local");

		rv = req ? conf_set(s, "rootfs", req) : -ENOMEM;
		free(req);
		if (rv < 0) {
			ctm__error(rv, errmsg, "out of memory");
			goto out;
		}
	}
	/* Every volume's storage, before the config is written. */
	rv = ctm_ct_check_alloc_storages(storage, ctx->node, s, NULL, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: %s", ct.ctid, msg);
		goto out;
	}
	unpriv = conf_get(s, "unprivileged");
	root_uid = unpriv && !strcmp(unpriv, "1") ? 100000 : 0;

	/* Claim the CTID: the store rejects a CTID used on any node. */
	rv = conf_set(s, "lock", "create");
	if (rv == 0)
		rv = conf_write(ct.cf, &text, &len, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: %s", ct.ctid, msg);
		goto out;
	}
	rv = pfs_create(ctx->conn, ct.path, text, len, NULL, &ct.version);
	free(text);
	if (rv == -EEXIST) {
		ctm__error(rv, errmsg, "CT %u already exists: choose another CTID", ct.ctid);
		goto out;
	}
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: writing %s failed: %s", ct.ctid, ct.path,
		           *pfs_last_error(ctx->conn) ? pfs_last_error(ctx->conn) : strerror(-rv));
		goto out;
	}

	rv = ctm__ct_alloc_volumes(ctx, ct.ctid, s, storage, root_uid, NULL, &cr, errmsg);
	if (rv == 0)
		rv = fill_rootfs(ctx, &ct, params, storage, template, errmsg);
	if (rv == 0) {
		conf_delete(s, "lock");
		rv = ctm_ct_save(ctx, &ct, errmsg);
	}
	if (rv < 0)
		goto err_remove;
	if (ctm_options_get(opts, "start") && !strcmp(ctm_options_get(opts, "start"), "1"))
		rv = ctm_ct_start(ctx, ct.ctid, NULL, errmsg);
	goto out;

err_remove:
	ctm__created_clear(storage, &cr, true);
	pfs_delete(ctx->conn, ct.path, NULL);
	snprintf(dir, sizeof(dir), "%s/%u", ctm__ct_lxc_path(ctx), ct.ctid);
	ctm__remove_tree(dir);
out:
	ctm__created_clear(storage, &cr, false);
	conf_file_free(ct.cf);
	free(template);
	ctm_storage_cfg_free(storage);
	return rv;
}

int ctm_ct_destroy(struct ctm_ctx *ctx, unsigned ctid, char *errmsg)
{
	struct ctm_storage_cfg *storage = NULL;
	struct ctlock_state state;
	struct ctm_ct *ct = NULL;
	struct pfs_cond cond = {.has_version = 1};
	char msg[CONF_ERRMSG_SIZE], dir[PATH_MAX];
	bool running = false;
	int rv;

	rv = ctm_ct_load(ctx, ctid, &ct, errmsg);
	if (rv < 0)
		return rv;
	rv = ctm__ct_require_local(ctx, ct, errmsg);
	if (rv == 0 && conf_check_lock(ct->cf, msg) < 0)
		rv = ctm__error(-EBUSY, errmsg, "CT %u: %s", ctid, msg);
	if (rv == 0)
		rv = ctm_ct_running(ctx, ctid, &running, errmsg);
	if (rv == 0 && running)
		rv = ctm__error(-EBUSY, errmsg, "CT %u is running: stop it before destroying it",
		                ctid);
	if (rv == 0)
		rv = ctm__ct_storage(ctx, &storage, errmsg);
	if (rv < 0)
		goto out;

	/* `lock: destroyed` marks a half-destroyed container after a crash. */
	rv = ctlock_set(ctx->conn, ctid, "destroyed", NULL, &state, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: %s", ctid, msg);
		goto out;
	}
	for (size_t i = 0; i < ct->cf->n_sections; i++) {
		char **volumes = NULL;

		rv = ctm_ct_section_volumes(&ct->cf->sections[i], true, &volumes);
		for (size_t j = 0; rv == 0 && volumes[j]; j++) {
			rv = ctm_volume_free(storage, volumes[j], msg);
			if (rv < 0)
				ctm__error(rv, errmsg, "CT %u: removing %s failed: %s", ctid,
				           volumes[j], msg);
		}
		ctm_strv_free(volumes);
		if (rv < 0)
			goto out;
	}
	cond.version = state.version;
	rv = pfs_delete(ctx->conn, ct->path, &cond);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: removing %s failed: %s", ctid, ct->path,
		           strerror(-rv));
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/%u", ctm__ct_lxc_path(ctx), ctid);
	ctm__ct_unstage(ctx, ctid);
	ctm__remove_tree(dir);
out:
	ctm_storage_cfg_free(storage);
	ctm_ct_free(ct);
	return rv;
}
