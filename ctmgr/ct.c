/* Container configs in the store, and the operations that only change
 * configs: set, unlock, snapshots and list. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <lxc/lxccontainer.h>
#include <openssl/evp.h>

#include "conf/propstr.h"
#include "conf/snapshot.h"
#include "ctmgr/ct.h"
#include "ctmgr/ct_internal.h"
#include "ctmgr/ctm_internal.h"
#include "lock/ctlock.h"

const char *ctm__ct_lxc_path(const struct ctm_ctx *ctx)
{
	return ctx->lxc_path ? ctx->lxc_path : CTM_LXC_PATH;
}

void ctm__ct_warn(struct ctm_ctx *ctx, unsigned ctid, char **lines, size_t n)
{
	if (!ctx->warn)
		return;
	for (size_t i = 0; i < n; i++)
		fprintf(ctx->warn, "warning: CT %u: %s\n", ctid, lines[i]);
}

void ctm__ct_warn_diags(struct ctm_ctx *ctx, unsigned ctid, const char *path,
                        const struct conf_file *cf)
{
	if (!ctx->warn || !cf->n_diags || !strcmp(ctx->warned_path, path))
		return;
	snprintf(ctx->warned_path, sizeof(ctx->warned_path), "%s", path);
	for (size_t i = 0; i < cf->n_diags; i++)
		fprintf(ctx->warn, "warning: CT %u: %s:%u: %s\n", ctid, path, cf->diags[i].line,
		        cf->diags[i].text);
}

unsigned ctm_ct_drop_shadowed(struct conf_file *cf, unsigned *first)
{
	unsigned n = 0;

	for (size_t i = 0; i < cf->n_sections; i++) {
		struct conf_section *s = &cf->sections[i];
		size_t kept = 0;

		for (size_t j = 0; j < s->n_verbatim; j++) {
			struct conf_verbatim *v = &s->verbatim[j];

			if (!v->shadowed) {
				s->verbatim[kept++] = *v;
				continue;
			}
			if (first && (!n || v->line < *first))
				*first = v->line;
			n++;
			free(v->text);
		}
		s->n_verbatim = kept;
	}
	return n;
}

int ctm_ctx_init(struct ctm_ctx *ctx, char *errmsg)
{
	struct json_object *root, *node, *quorate;
	char *text = NULL;
	int rv;

	/* The daemon's status, not /.members: it has the quorum of the cluster. */
	rv = pfs_status(ctx->conn, &text);
	if (rv < 0)
		return ctm__error(rv, errmsg, "reading the status of pmxfs failed: %s",
		                  *pfs_last_error(ctx->conn) ? pfs_last_error(ctx->conn)
		                                             : strerror(-rv));
	root = json_tokener_parse(text);
	free(text);
	if (!root || !json_object_object_get_ex(root, "node", &node) ||
	    !json_object_is_type(node, json_type_string) ||
	    !json_object_object_get_ex(root, "quorate", &quorate)) {
		json_object_put(root);
		return ctm__error(-EBADMSG, errmsg,
		                  "the status of pmxfs is not the JSON it writes");
	}
	snprintf(ctx->node, sizeof(ctx->node), "%s", json_object_get_string(node));
	ctx->quorate = json_object_get_boolean(quorate);
	json_object_put(root);
	return 0;
}

static int vmlist_cmp(const void *a, const void *b)
{
	const struct ctm_vmlist_entry *x = a, *y = b;

	return (x->ctid > y->ctid) - (x->ctid < y->ctid);
}

int ctm_vmlist_parse(const char *text, struct ctm_vmlist_entry **out, size_t *count)
{
	struct json_object *root, *ids, *node, *type, *version;
	struct ctm_vmlist_entry *list = NULL;
	size_t n = 0;
	int rv = 0;

	root = json_tokener_parse(text);
	if (!root || !json_object_object_get_ex(root, "ids", &ids) ||
	    !json_object_is_type(ids, json_type_object)) {
		json_object_put(root);
		return -EBADMSG;
	}
	json_object_object_foreach(ids, key, vm)
	{
		char *end;
		unsigned long id;

		errno = 0;
		id = strtoul(key, &end, 10);
		if (errno || *end || !*key || id > UINT32_MAX ||
		    !json_object_object_get_ex(vm, "node", &node) ||
		    !json_object_object_get_ex(vm, "type", &type)) {
			rv = -EBADMSG;
			break;
		}
		rv = ctm__grow(&list, n, sizeof(*list));
		if (rv < 0)
			break;
		memset(&list[n], 0, sizeof(list[n]));
		list[n].ctid = (unsigned)id;
		snprintf(list[n].node, sizeof(list[n].node), "%s", json_object_get_string(node));
		list[n].lxc = !strcmp(json_object_get_string(type), "lxc");
		if (json_object_object_get_ex(vm, "version", &version))
			list[n].version = json_object_get_uint64(version);
		n++;
	}
	json_object_put(root);
	if (rv < 0) {
		free(list);
		return rv;
	}
	if (n)
		qsort(list, n, sizeof(*list), vmlist_cmp);
	*out = list;
	*count = n;
	return 0;
}

/* Read /.vmlist and find CTID; -ENOENT when absent. */
static int vmlist_find(struct ctm_ctx *ctx, unsigned ctid, struct ctm_vmlist_entry *found,
                       char *errmsg)
{
	struct ctm_vmlist_entry *list = NULL;
	char *text = NULL;
	size_t n = 0;
	int rv;

	rv = pfs_get(ctx->conn, "/.vmlist", &text, NULL, NULL);
	if (rv < 0)
		return ctm__error(rv, errmsg, "reading /.vmlist from pmxfs failed: %s",
		                  strerror(-rv));
	rv = ctm_vmlist_parse(text, &list, &n);
	free(text);
	if (rv < 0)
		return ctm__error(rv, errmsg, "/.vmlist is not the JSON pmxfs writes");
	rv = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (list[i].ctid == ctid) {
			*found = list[i];
			rv = 0;
			break;
		}
	}
	free(list);
	return rv;
}

/* Count the kept lines of CT that the writer would move, and the shadowed
 * lines it drops (see struct ctm_ct). Lines of the section SKIP (or NULL)
 * are left out. */
static void count_moved(struct ctm_ct *ct, const struct conf_section *skip)
{
	ct->n_moved = ct->n_shadowed = 0;
	for (size_t i = 0; i < ct->cf->n_sections; i++) {
		const struct conf_section *s = &ct->cf->sections[i];
		unsigned last = 0;

		if (s == skip)
			continue;

		for (size_t j = 0; j < s->n_keys; j++)
			last = s->keys[j].line > last ? s->keys[j].line : last;
		for (size_t j = 0; j < s->n_raw; j++)
			last = s->raw[j].line > last ? s->raw[j].line : last;
		for (size_t j = 0; j < s->n_verbatim; j++) {
			const struct conf_verbatim *v = &s->verbatim[j];

			if (v->shadowed && v->line &&
			    (!ct->n_shadowed++ || v->line < ct->first_shadowed))
				ct->first_shadowed = v->line;
			if (v->shadowed || !v->line || v->line > last)
				continue;
			if (!ct->n_moved++ || v->line < ct->first_moved)
				ct->first_moved = v->line;
		}
	}
}

int ctm_ct_load(struct ctm_ctx *ctx, unsigned ctid, struct ctm_ct **out, char *errmsg)
{
	struct ctm_vmlist_entry entry;
	struct pfs_entry st;
	struct ctm_ct *ct;
	char *text = NULL;
	size_t len = 0;
	int rv;

	if (ctid < CTLOCK_CTID_MIN || ctid > CTLOCK_CTID_MAX)
		return ctm__error(-EINVAL, errmsg, "CTID %u is invalid: use 100 to 999999999",
		                  ctid);
	rv = vmlist_find(ctx, ctid, &entry, errmsg);
	if (rv == -ENOENT || (rv == 0 && !entry.lxc))
		return ctm__error(-ENOENT, errmsg, "CT %u does not exist", ctid);
	if (rv < 0)
		return rv;

	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return ctm__error(-ENOMEM, errmsg, "out of memory");
	ct->ctid = ctid;
	snprintf(ct->node, sizeof(ct->node), "%s", entry.node);
	snprintf(ct->path, sizeof(ct->path), "/nodes/%s/lxc/%u.conf", entry.node, ctid);
	rv = pfs_get(ctx->conn, ct->path, &text, &len, &st);
	if (rv < 0) {
		ctm__error(rv, errmsg, "reading the config of CT %u (%s) failed: %s", ctid,
		           ct->path, strerror(-rv));
		goto err_free_ct;
	}
	ct->version = st.version;
	rv = conf_parse(text, len, ct->path, &ct->cf);
	free(text);
	if (rv < 0) {
		ctm__error(rv, errmsg, "parsing the config of CT %u failed: %s", ctid,
		           strerror(-rv));
		goto err_free_ct;
	}
	ctm__ct_warn_diags(ctx, ctid, ct->path, ct->cf);
	count_moved(ct, NULL);
	*out = ct;
	return 0;

err_free_ct:
	free(ct);
	return rv;
}

/*
 * Warn once per command that the writer moves the lines the reader kept
 * as they were to the end of their section, because it sorts the keys.
 */
static void warn_moved_lines(struct ctm_ctx *ctx, struct ctm_ct *ct)
{
	if (ctx->warn && ct->n_moved && !ctx->warned_write)
		fprintf(ctx->warn,
		        "warning: CT %u: %s: %u line%s the reader could not use (the first is "
		        "line %u) %s moved to the end of %s section, as the writer sorts the "
		        "keys; fix or remove %s: `ctmgr set %u --delete KEY` for a bad value or "
		        "an unknown key, `pmxfsctl edit %s` for a line it cannot parse\n",
		        ct->ctid, ct->path, ct->n_moved, ct->n_moved == 1 ? "" : "s",
		        ct->first_moved, ct->n_moved == 1 ? "is" : "are",
		        ct->n_moved == 1 ? "its" : "their", ct->n_moved == 1 ? "it" : "them",
		        ct->ctid, ct->path);
	ctx->warned_write = ctx->warned_write || ct->n_moved;
	ct->n_moved = 0;
}

/*
 * Warn once that a write drops the earlier lines of duplicate keys, which
 * the reader does not use, as pct does.
 */
static void warn_shadowed_lines(struct ctm_ctx *ctx, struct ctm_ct *ct)
{
	if (ctx->warn && ct->n_shadowed)
		fprintf(ctx->warn,
		        "warning: CT %u: %s: %u earlier line%s of a duplicate key (the first is "
		        "line %u) %s removed; the last line of each key stays in effect\n",
		        ct->ctid, ct->path, ct->n_shadowed, ct->n_shadowed == 1 ? "" : "s",
		        ct->first_shadowed, ct->n_shadowed == 1 ? "is" : "are");
	ct->n_shadowed = 0;
}

int ctm_ct_save(struct ctm_ctx *ctx, struct ctm_ct *ct, char *errmsg)
{
	struct pfs_cond cond = {.has_version = 1, .version = ct->version};
	char *text = NULL, msg[CONF_ERRMSG_SIZE];
	uint64_t version = 0;
	size_t len = 0;
	int rv;

	ctm_ct_drop_shadowed(ct->cf, NULL);
	rv = conf_write(ct->cf, &text, &len, msg);
	if (rv < 0)
		return ctm__error(rv, errmsg, "CT %u: %s", ct->ctid, msg);
	warn_moved_lines(ctx, ct);
	warn_shadowed_lines(ctx, ct);
	rv = pfs_write(ctx->conn, ct->path, text, len, &cond, &version);
	free(text);
	if (rv == -ESTALE)
		return ctm__error(
		    rv, errmsg,
		    "CT %u: the config was changed by someone else since it was read; "
		    "run the command again",
		    ct->ctid);
	if (rv == -EROFS)
		return ctm__error(rv, errmsg,
		                  "CT %u: cluster not quorate, the config cannot change: "
		                  CTM_QUORUM_HINT,
		                  ct->ctid);
	if (rv < 0)
		return ctm__error(rv, errmsg, "CT %u: writing %s failed: %s", ct->ctid, ct->path,
		                  *pfs_last_error(ctx->conn) ? pfs_last_error(ctx->conn)
		                                             : strerror(-rv));
	ct->version = version;
	return 0;
}

void ctm_ct_free(struct ctm_ct *ct)
{
	if (!ct)
		return;
	conf_file_free(ct->cf);
	free(ct);
}

int ctm__ct_require_local(const struct ctm_ctx *ctx, const struct ctm_ct *ct, char *errmsg)
{
	if (!strcmp(ctx->node, ct->node))
		return 0;
	return ctm__error(-EREMOTE, errmsg,
	                  "CT %u is on node %s, not on this node %s: run the command on %s",
	                  ct->ctid, ct->node, ctx->node, ct->node);
}

int ctm__ct_storage(struct ctm_ctx *ctx, struct ctm_storage_cfg **out, char *errmsg)
{
	char *text = NULL, msg[CONF_ERRMSG_SIZE];
	size_t len = 0;
	int rv;

	rv = pfs_get(ctx->conn, CTM_STORAGE_CFG_PATH, &text, &len, NULL);
	if (rv == -ENOENT) {
		text = strdup("");
		len = 0;
		if (!text)
			return ctm__error(-ENOMEM, errmsg, "out of memory");
	} else if (rv < 0) {
		return ctm__error(rv, errmsg, "reading %s from pmxfs failed: %s",
		                  CTM_STORAGE_CFG_PATH, strerror(-rv));
	}
	rv = ctm_storage_cfg_parse(text, len, CTM_STORAGE_CFG_PATH, out, msg);
	free(text);
	if (rv < 0)
		return ctm__error(rv, errmsg, "%s", msg);
	return 0;
}

int ctm__ct_build_lxc(struct ctm_ctx *ctx, unsigned ctid, const struct conf_section *s,
                      const struct ctm_storage_cfg *storage, struct ctm_lxc_config **out,
                      char *errmsg)
{
	struct ctm_lxc_params params = {0};
	char cpus[1024], msg[CONF_ERRMSG_SIZE];
	int rv;

	params.ctid = ctid;
	params.lxc_path = ctm__ct_lxc_path(ctx);
	params.config_dir = ctx->config_dir;
	params.storage = storage;
	params.node = ctx->node;
	rv = ctm_cgroup_detect(NULL, &params.layout, msg);
	if (rv < 0)
		return ctm__error(rv, errmsg, "CT %u: %s", ctid, msg);
	if (ctm_host_cpus(params.layout, cpus, sizeof(cpus), msg) == 0)
		params.host_cpus = cpus;
	rv = ctm_lxc_config_build(s, &params, out, msg);
	if (rv < 0)
		return ctm__error(rv, errmsg, "CT %u: %s", ctid, msg);
	return 0;
}

/* ---- Pure helpers ---- */

/* Remove the raw entries KEY of section S. */
static void raw_remove(struct conf_section *s, const char *key)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->n_raw; i++) {
		if (strcmp(s->raw[i].key, key) == 0) {
			free(s->raw[i].key);
			free(s->raw[i].value);
		} else {
			s->raw[kept++] = s->raw[i];
		}
	}
	s->n_raw = kept;
}

static int split_keys(const char *list, char ***out)
{
	char *copy = strdup(list), *save = NULL, *tok;
	char **v = NULL;
	size_t n = 0;
	int rv = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",; \t", &save); tok; tok = strtok_r(NULL, ",; \t", &save)) {
		rv = ctm__grow(&v, n + 1, sizeof(*v));
		if (rv < 0)
			break;
		v[n] = strdup(tok);
		if (!v[n]) {
			rv = -ENOMEM;
			break;
		}
		v[++n] = NULL;
	}
	free(copy);
	if (rv < 0) {
		ctm_strv_free(v);
		return rv;
	}
	*out = v;
	return 0;
}

void ctm_strv_free(char **v)
{
	if (!v)
		return;
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

int ctm_ct_apply_pending(struct conf_file *cf, bool *changed)
{
	struct conf_section *pending = conf_pending(cf), *main = conf_main(cf);
	struct conf_file *scratch;
	int rv = 0;

	*changed = false;
	if (!pending)
		return 0;

	/* Work on a copy of the main section, so a failure changes nothing. */
	scratch = conf_file_new();
	if (!scratch)
		return -ENOMEM;
	rv = conf_section_copy_contents(conf_main(scratch), main);
	for (size_t i = 0; rv == 0 && i < pending->n_keys; i++) {
		const struct conf_entry *e = &pending->keys[i];
		char **del = NULL;

		if (strcmp(e->key, "delete")) {
			rv = conf_set(conf_main(scratch), e->key, e->value);
			continue;
		}
		rv = split_keys(e->value, &del);
		for (size_t j = 0; rv == 0 && del && del[j]; j++)
			conf_delete(conf_main(scratch), del[j]);
		ctm_strv_free(del);
	}
	if (rv == 0 && pending->description)
		rv = conf_set_description(conf_main(scratch), pending->description);
	for (size_t i = 0; rv == 0 && i < pending->n_raw; i++)
		raw_remove(conf_main(scratch), pending->raw[i].key);
	for (size_t i = 0; rv == 0 && i < pending->n_raw; i++)
		rv = conf_raw_add(conf_main(scratch), pending->raw[i].key, pending->raw[i].value);
	if (rv == 0) {
		conf_section_clear(main);
		rv = conf_section_copy_contents(main, conf_main(scratch));
		conf_section_remove(cf, pending);
		*changed = true;
	}
	conf_file_free(scratch);
	return rv;
}

bool ctm_ct_hot_key(const char *key)
{
	static const char *const hot[] = {"memory", "swap", "cores", "cpulimit", "cpuunits", NULL};

	for (size_t i = 0; hot[i]; i++)
		if (!strcmp(key, hot[i]))
			return true;
	return false;
}

bool ctm_ct_fastplug_key(const char *key)
{
	static const char *const fast[] = {"description", "onboot", "startup", "protection",
	                                   "hookscript",  "tags",   NULL};

	for (size_t i = 0; fast[i]; i++)
		if (!strcmp(key, fast[i]))
			return true;
	return false;
}

/* The cgroup key of an LXC key of the memory, cpu or cpuset controller,
 * or NULL. */
static const char *cgroup_key(const char *lxc_key)
{
	const char *k;

	if (!strncmp(lxc_key, "lxc.cgroup2.", 12))
		k = lxc_key + 12;
	else if (!strncmp(lxc_key, "lxc.cgroup.", 11))
		k = lxc_key + 11;
	else
		return NULL;
	if (!strncmp(k, "memory.", 7) || !strncmp(k, "cpu.", 4) || !strncmp(k, "cpuset.", 7))
		return k;
	return NULL;
}

/* The value that undoes a cgroup limit the new config no longer sets, or
 * NULL when there is none to write. */
static const char *cgroup_reset_value(const char *key)
{
	if (!strcmp(key, "cpu.max"))
		return "max 100000";
	if (!strcmp(key, "cpu.cfs_quota_us"))
		return "-1";
	if (!strcmp(key, "cpu.weight"))
		return "100";
	if (!strcmp(key, "cpu.shares"))
		return "1024";
	return NULL;
}

static int items_add(struct ctm_lxc_item **items, size_t *n, const char *key, const char *value)
{
	int rv = ctm__grow(items, *n, sizeof(**items));

	if (rv < 0)
		return rv;
	(*items)[*n].key = strdup(key);
	(*items)[*n].value = strdup(value);
	if (!(*items)[*n].key || !(*items)[*n].value) {
		free((*items)[*n].key);
		free((*items)[*n].value);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

void ctm_lxc_items_free(struct ctm_lxc_item *items, size_t n)
{
	if (!items)
		return;
	for (size_t i = 0; i < n; i++) {
		free(items[i].key);
		free(items[i].value);
	}
	free(items);
}

static ssize_t items_find(const struct ctm_lxc_item *items, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(items[i].key, key))
			return (ssize_t)i;
	return -1;
}

int ctm_ct_cgroup_changes(const struct ctm_lxc_config *old_cfg,
                          const struct ctm_lxc_config *new_cfg, struct ctm_lxc_item **out,
                          size_t *count)
{
	struct ctm_lxc_item *items = NULL;
	size_t n = 0;
	ssize_t limit, memsw;
	int rv = 0;

	/* Keys the new config sets, with their last value, when it differs. */
	for (size_t i = 0; rv == 0 && i < new_cfg->n_items; i++) {
		const char *lxc_key = new_cfg->items[i].key, *key = cgroup_key(lxc_key), *now,
		           *before;

		if (!key || items_find(items, n, key) >= 0)
			continue;
		now = ctm_lxc_config_get(new_cfg, lxc_key);
		before = ctm_lxc_config_get(old_cfg, lxc_key);
		if (before && !strcmp(before, now))
			continue;
		rv = items_add(&items, &n, key, now);
	}

	/* Limits the old config set and the new one drops. */
	for (size_t i = 0; rv == 0 && i < old_cfg->n_items; i++) {
		const char *lxc_key = old_cfg->items[i].key, *key = cgroup_key(lxc_key), *reset;

		if (!key || ctm_lxc_config_get(new_cfg, lxc_key) || items_find(items, n, key) >= 0)
			continue;
		reset = cgroup_reset_value(key);
		if (reset)
			rv = items_add(&items, &n, key, reset);
	}
	if (rv < 0) {
		ctm_lxc_items_free(items, n);
		return rv;
	}

	/* v1 keeps memsw >= limit: raise memsw first when the limit grows. */
	limit = items_find(items, n, "memory.limit_in_bytes");
	memsw = items_find(items, n, "memory.memsw.limit_in_bytes");
	if (limit >= 0 && memsw >= 0) {
		const char *old_limit =
		    ctm_lxc_config_get(old_cfg, "lxc.cgroup.memory.limit_in_bytes");
		bool grow = !old_limit ||
		            strtoull(items[limit].value, NULL, 10) > strtoull(old_limit, NULL, 10);

		if ((grow && memsw > limit) || (!grow && memsw < limit)) {
			struct ctm_lxc_item tmp = items[limit];

			items[limit] = items[memsw];
			items[memsw] = tmp;
		}
	}
	*out = items;
	*count = n;
	return 0;
}

/* Append the storage volume of the mount point or unused VALUE to V. */
static int add_volume(const char *key, const char *value, char ***v, size_t *n)
{
	struct conf_mountpoint mp = {0};
	struct conf_unused unused = {0};
	char msg[CONF_ERRMSG_SIZE];
	const char *volume = NULL;
	int rv = 0;

	if (!strcmp(key, "rootfs"))
		rv = conf_rootfs_parse(value, &mp, msg) == 0 ? 0 : 1;
	else if (!strncmp(key, "mp", 2))
		rv = conf_mp_parse(value, &mp, msg) == 0 ? 0 : 1;
	else
		rv = conf_unused_parse(value, &unused, msg) == 0 ? 0 : 1;
	if (rv == 0)
		volume = mp.volume ? mp.volume : unused.volume;
	if (volume && conf_volume_classify(volume) == CONF_VOLUME_STORAGE) {
		bool seen = false;

		for (size_t i = 0; i < *n; i++)
			seen = seen || !strcmp((*v)[i], volume);
		if (!seen) {
			rv = ctm__grow(v, *n + 1, sizeof(**v));
			if (rv == 0) {
				(*v)[*n] = strdup(volume);
				rv = (*v)[*n] ? 0 : -ENOMEM;
				if (rv == 0)
					(*v)[++(*n)] = NULL;
			}
		}
	}
	conf_mountpoint_clear(&mp);
	conf_unused_clear(&unused);
	return rv < 0 ? rv : 0;
}

static bool is_mp_key(const char *key, bool with_unused)
{
	const char *digits;

	if (!strcmp(key, "rootfs"))
		return true;
	if (!strncmp(key, "mp", 2))
		digits = key + 2;
	else if (with_unused && !strncmp(key, "unused", 6))
		digits = key + 6;
	else
		return false;
	return *digits && strspn(digits, "0123456789") == strlen(digits);
}

/* True for mpN keys, which a running container can mount or unmount. */
static bool is_mpn(const char *key)
{
	return strcmp(key, "rootfs") && is_mp_key(key, false);
}

/* True for devN keys. */
static bool is_devn(const char *key)
{
	return !strncmp(key, "dev", 3) && key[3] &&
	       strspn(key + 3, "0123456789") == strlen(key + 3);
}

bool ctm_ct_hotplug_key(const struct conf_section *cur, const char *key, bool delete)
{
	bool present = conf_get(cur, key) != NULL;

	if (is_devn(key))
		return !delete &&!present;
	return is_mpn(key) && present == delete;
}

int ctm_cpulist_parse(const char *list, bool *set, size_t limit, int *max)
{
	const char *p = list;

	while (*p && *p != '\n') {
		char *end;
		unsigned long lo, hi;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		lo = strtoul(p, &end, 10);
		hi = lo;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return -EINVAL;
			hi = strtoul(end + 1, &end, 10);
		}
		if (hi < lo || (*end && *end != ',' && *end != '\n'))
			return -EINVAL;
		for (unsigned long i = lo; i <= hi && i < limit; i++) {
			set[i] = true;
			if ((long)i > *max)
				*max = (int)i;
		}
		p = *end == ',' ? end + 1 : end;
		if (*end == ',' && !isdigit((unsigned char)*p))
			return -EINVAL;
	}
	return 0;
}

int ctm_ct_section_volumes(const struct conf_section *s, bool with_unused, char ***out)
{
	const struct conf_entry **sorted;
	char **v = calloc(1, sizeof(*v));
	size_t n = 0, m = 0;
	int rv = 0;

	sorted = calloc(s->n_keys + 1, sizeof(*sorted));
	if (!v || !sorted) {
		free(v);
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_keys; i++)
		if (is_mp_key(s->keys[i].key, with_unused))
			sorted[m++] = &s->keys[i];
	/* Key order: rootfs, then mpN and unusedN by conf_key_cmp(). */
	for (size_t i = 1; i < m; i++)
		for (size_t j = i; j > 0 && conf_key_cmp(sorted[j - 1]->key, sorted[j]->key) > 0;
		     j--) {
			const struct conf_entry *t = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (size_t i = 0; rv == 0 && i < m; i++)
		rv = add_volume(sorted[i]->key, sorted[i]->value, &v, &n);
	free(sorted);
	if (rv < 0) {
		ctm_strv_free(v);
		return rv;
	}
	*out = v;
	return 0;
}

/* ---- set ---- */

/* A deep copy of CF through its text. */
static int conf_copy(const struct conf_file *cf, struct conf_file **out)
{
	char *text = NULL, msg[CONF_ERRMSG_SIZE];
	size_t len = 0;
	int rv;

	rv = conf_write(cf, &text, &len, msg);
	if (rv < 0)
		return rv;
	rv = conf_parse(text, len, cf->path, out);
	free(text);
	return rv;
}

/* The SHA-1 of the config text as pct's `digest`, 40 hex digits. */
static int conf_digest(const struct conf_file *cf, char hex[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char *text = NULL, msg[CONF_ERRMSG_SIZE];
	unsigned mdlen = 0;
	size_t len = 0;
	int rv;

	rv = conf_write(cf, &text, &len, msg);
	if (rv < 0)
		return rv;
	rv = EVP_Digest(text, len, md, &mdlen, EVP_sha1(), NULL) ? 0 : -EIO;
	free(text);
	for (unsigned i = 0; rv == 0 && i < mdlen && i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return rv;
}

/* Add KEY to the `delete` list of the pending section P. */
static int pending_delete(struct conf_section *p, const char *key)
{
	const char *list = conf_get(p, "delete");
	char **keys = NULL, *joined;
	int rv;

	conf_delete(p, key);
	if (!list)
		return conf_set(p, "delete", key);
	rv = split_keys(list, &keys);
	if (rv < 0)
		return rv;
	for (size_t i = 0; keys[i]; i++) {
		if (!strcmp(keys[i], key)) {
			ctm_strv_free(keys);
			return 0;
		}
	}
	ctm_strv_free(keys);
	joined = ctm__printf("%s,%s", list, key);
	if (!joined)
		return -ENOMEM;
	rv = conf_set(p, "delete", joined);
	free(joined);
	return rv;
}

/* The pending section P changes nothing. */
static bool pending_empty(const struct conf_section *p)
{
	return p->n_keys == 0 && p->n_raw == 0 && !p->description;
}

/* True when the pending section P (may be NULL) deletes KEY. */
static bool pending_deletes(const struct conf_section *p, const char *key)
{
	const char *list = p ? conf_get(p, "delete") : NULL;
	char **keys = NULL;
	bool found = false;

	if (!list || split_keys(list, &keys) < 0)
		return false;
	for (size_t i = 0; keys[i]; i++)
		found = found || !strcmp(keys[i] + (keys[i][0] == '!'), key);
	ctm_strv_free(keys);
	return found;
}

/* Remove KEY from the pending section P: its value and its deletion. The
 * description and env live apart from the keys, as ctm_options_apply()
 * stores them. */
static int pending_revert(struct conf_section *p, const char *key)
{
	const char *list = conf_get(p, "delete");
	char **keys = NULL, *joined = NULL;
	int rv;

	if (!strcmp(key, "description"))
		conf_set_description(p, NULL);
	else if (!strcmp(key, "env"))
		raw_remove(p, "lxc.environment.runtime");
	conf_delete(p, key);
	if (!list)
		return 0;
	rv = split_keys(list, &keys);
	if (rv < 0)
		return rv;
	for (size_t i = 0; rv == 0 && keys[i]; i++) {
		char *next;

		/* A forced deletion is written `!key`. */
		if (!strcmp(keys[i] + (keys[i][0] == '!'), key))
			continue;
		next = joined ? ctm__printf("%s,%s", joined, keys[i]) : strdup(keys[i]);
		free(joined);
		joined = next;
		rv = joined ? 0 : -ENOMEM;
	}
	ctm_strv_free(keys);
	if (rv == 0)
		rv = joined ? conf_set(p, "delete", joined) : (conf_delete(p, "delete"), 0);
	free(joined);
	return rv;
}

/* Drop the pending changes of every key OPTS sets or deletes, because a
 * stopped container takes the change at once. */
static int drop_pending(struct conf_file *cf, const struct ctm_options *opts, char *errmsg)
{
	struct conf_section *p = conf_pending(cf);
	int rv = 0;

	if (!p)
		return 0;
	for (size_t i = 0; rv == 0 && i < opts->n_set; i++)
		rv = pending_revert(p, opts->set[i].key);
	for (size_t i = 0; rv == 0 && i < opts->n_delete; i++)
		rv = pending_revert(p, opts->delete[i]);
	if (rv < 0)
		return ctm__error(rv, errmsg, "out of memory");
	if (pending_empty(p))
		conf_section_remove(cf, p);
	return 0;
}

/*
 * Change NEW_CF for a running container: hot keys go to the main
 * section, everything else to the pending section.
 */
static int set_running(const struct ctm_options *opts, struct conf_file *new_cf, char *errmsg)
{
	const struct conf_section *cur = conf_main(new_cf);
	struct ctm_options now = *opts, later = *opts;
	struct ctm_option *now_sets = NULL, *later_sets = NULL;
	char **now_deletes = NULL;
	struct conf_section *pending;
	int rv = 0;

	now.n_set = now.n_delete = now.n_revert = 0;
	later.n_set = later.n_delete = later.n_revert = 0;
	now_sets = calloc(opts->n_set + 1, sizeof(*now_sets));
	later_sets = calloc(opts->n_set + 1, sizeof(*later_sets));
	now_deletes = calloc(opts->n_delete + 1, sizeof(*now_deletes));
	pending = conf_section_add(new_cf, CONF_SECTION_PENDING, CONF_PENDING_NAME);
	if (!now_sets || !later_sets || !now_deletes || !pending) {
		rv = ctm__error(-ENOMEM, errmsg, "out of memory");
		goto out;
	}
	now.set = now_sets;
	now.delete = now_deletes;
	later.set = later_sets;

	/* Split the changes; a change made now replaces a pending one. */
	for (size_t i = 0; rv == 0 && i < opts->n_set; i++) {
		const char *key = opts->set[i].key;

		if (ctm_ct_hot_key(key) || ctm_ct_fastplug_key(key) ||
		    ctm_ct_hotplug_key(cur, key, false)) {
			now_sets[now.n_set++] = opts->set[i];
			rv = pending_revert(pending, key);
		} else {
			later_sets[later.n_set++] = opts->set[i];
		}
	}
	for (size_t i = 0; rv == 0 && i < opts->n_delete; i++) {
		const char *key = opts->delete[i];

		/* A key outside the schema has no effect on the running
		 * container: it goes at once. */
		if (!ctm_options_known_key(key) || ctm_ct_hot_key(key) ||
		    ctm_ct_fastplug_key(key) || ctm_ct_hotplug_key(cur, key, true)) {
			now_deletes[now.n_delete++] = opts->delete[i];
			rv = pending_revert(pending, key);
		} else {
			rv = pending_delete(pending, key);
		}
	}
	if (rv < 0) {
		ctm__error(rv, errmsg, "out of memory");
		goto out;
	}
	if (later.n_set)
		rv = ctm_options_apply(&later, pending, errmsg);
	if (rv == 0 && (now.n_set || now.n_delete))
		rv = ctm_options_apply(&now, conf_main(new_cf), errmsg);
out:
	if (pending && pending_empty(pending))
		conf_section_remove(new_cf, pending);
	free(now_sets);
	free(later_sets);
	free(now_deletes);
	return rv;
}

/* Build the LXC configs of the main sections of OLD_CF and NEW_CF and
 * list the cgroup writes between them. */
static int hot_changes(struct ctm_ctx *ctx, unsigned ctid, const struct conf_file *old_cf,
                       const struct conf_file *new_cf, struct ctm_lxc_item **items, size_t *n_items,
                       struct ctm_lxc_item **undo, size_t *n_undo, char *errmsg)
{
	struct ctm_lxc_config *old_lcfg = NULL, *new_lcfg = NULL;
	struct ctm_storage_cfg *storage = NULL;
	int rv;

	rv = ctm__ct_storage(ctx, &storage, errmsg);
	if (rv < 0)
		return rv;
	rv = ctm__ct_build_lxc(ctx, ctid, conf_main(old_cf), storage, &old_lcfg, errmsg);
	if (rv == 0)
		rv = ctm__ct_build_lxc(ctx, ctid, conf_main(new_cf), storage, &new_lcfg, errmsg);
	if (rv == 0)
		rv = ctm_ct_cgroup_changes(old_lcfg, new_lcfg, items, n_items);
	if (rv == 0) {
		rv = ctm_ct_cgroup_changes(new_lcfg, old_lcfg, undo, n_undo);
		if (rv < 0)
			ctm_lxc_items_free(*items, *n_items);
	}
	if (rv == -ENOMEM)
		ctm__error(rv, errmsg, "out of memory");
	ctm_lxc_config_free(old_lcfg);
	ctm_lxc_config_free(new_lcfg);
	ctm_storage_cfg_free(storage);
	return rv;
}

/* Undo the octal escapes of an fstab field (`\040`) in place. */
static void unescape_field(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* One mount point of a running container to mount or unmount. */
struct mp_change {
	char *source;  /* the host folder */
	char *target;  /* the path inside the container */
	char *options; /* the LXC mount options */
	const struct ctm_lxc_mount *staged;
};

static void mp_change_clear(struct mp_change *c)
{
	free(c->source);
	free(c->target);
	free(c->options);
	memset(c, 0, sizeof(*c));
}

/* Find the mount of KEY (mpN, value VALUE) in LCFG: its LXC mount entry
 * (source, target and options) and its staged host mount. */
static int mp_find(const struct ctm_lxc_config *lcfg, const char *key, const char *value,
                   struct mp_change *out, char *errmsg)
{
	struct conf_mountpoint mp = {0};
	char msg[CONF_ERRMSG_SIZE];
	const char *want;
	int rv;

	rv = conf_mp_parse(value, &mp, msg);
	if (rv < 0)
		return ctm__error(rv, errmsg, "%s is invalid: %s", key, msg);
	want = mp.mp + strspn(mp.mp, "/");
	rv = -ENOENT;
	for (size_t i = 0; i < lcfg->n_items && rv == -ENOENT; i++) {
		char *f[6] = {0}, *save = NULL, *copy;
		size_t n = 0;

		if (strcmp(lcfg->items[i].key, "lxc.mount.entry"))
			continue;
		copy = strdup(lcfg->items[i].value);
		if (!copy) {
			rv = -ENOMEM;
			break;
		}
		for (char *t = strtok_r(copy, " \t", &save); t && n < 6;
		     t = strtok_r(NULL, " \t", &save))
			f[n++] = t;
		if (n >= 4) {
			unescape_field(f[0]);
			unescape_field(f[1]);
		}
		if (n >= 4 && !strcmp(f[1], want)) {
			out->source = strdup(f[0]);
			out->target = ctm__printf("/%s", f[1]);
			out->options = strdup(f[3]);
			rv = out->source && out->target && out->options ? 0 : -ENOMEM;
		}
		free(copy);
	}
	for (size_t i = 0; rv == 0 && i < lcfg->n_mounts; i++)
		if (!strcmp(lcfg->mounts[i].key, key))
			out->staged = &lcfg->mounts[i];
	if (rv == -ENOENT)
		ctm__error(rv, errmsg, "%s: the LXC config has no mount entry for %s", key, mp.mp);
	else if (rv < 0)
		ctm__error(rv, errmsg, "out of memory");
	if (rv < 0)
		mp_change_clear(out);
	conf_mountpoint_clear(&mp);
	return rv;
}

/*
 * Add the device KEY (devN) of LCFG to the running CTID: allow it in the
 * devices cgroup as LCFG does, then create its node and bind it inside.
 * NOTE: a failure after the cgroup write leaves the device allowed; it is
 * not in the config, so the next start drops it.
 */
static int device_plug(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_lxc_config *lcfg,
                       const char *key, char *errmsg)
{
	const struct ctm_lxc_device *dev = NULL;
	struct ctm_lxc_item *items = NULL;
	char prefix[48];
	size_t n_items = 0;
	int rv = 0;

	for (size_t i = 0; i < lcfg->n_devices; i++)
		if (!strcmp(lcfg->devices[i].key, key))
			dev = &lcfg->devices[i];
	if (!dev)
		return ctm__error(-ENOENT, errmsg, "the LXC config has no device for %s", key);
	snprintf(prefix, sizeof(prefix), "%c %u:%u ", dev->id.type, dev->id.major, dev->id.minor);
	for (size_t i = 0; rv == 0 && i < lcfg->n_items; i++) {
		const char *k = lcfg->items[i].key;
		const char *short_key = !strncmp(k, "lxc.cgroup2.", 12)  ? k + 12
		                        : !strncmp(k, "lxc.cgroup.", 11) ? k + 11
		                                                         : NULL;

		if (short_key && !strncmp(short_key, "devices.", 8) &&
		    !strncmp(lcfg->items[i].value, prefix, strlen(prefix)))
			rv = items_add(&items, &n_items, short_key, lcfg->items[i].value);
	}
	if (rv < 0) {
		ctm_lxc_items_free(items, n_items);
		return ctm__error(rv, errmsg, "out of memory");
	}
	rv = ctm__ct_set_cgroup(ctx, ctid, items, n_items, errmsg);
	ctm_lxc_items_free(items, n_items);
	if (rv == 0)
		rv = ctm__ct_plug_device(ctx, ctid, dev, errmsg);
	return rv;
}

/*
 * Bring the mount points of the running CTID from the main section of
 * OLD_CF to that of NEW_CF: mount each mpN NEW_CF adds, then unmount each
 * mpN it drops. A failed mount unmounts the ones mounted before it.
 */
static int hotplug_mounts(struct ctm_ctx *ctx, unsigned ctid, const struct conf_file *old_cf,
                          const struct conf_file *new_cf, char *errmsg)
{
	const struct conf_section *o = conf_main((struct conf_file *)old_cf);
	const struct conf_section *n = conf_main((struct conf_file *)new_cf);
	struct ctm_lxc_config *old_lcfg = NULL, *new_lcfg = NULL;
	struct ctm_storage_cfg *storage = NULL;
	struct mp_change *added = NULL;
	char msg[CONF_ERRMSG_SIZE];
	size_t n_added = 0;
	bool any = false;
	int rv;

	for (size_t i = 0; i < n->n_keys; i++)
		any |= (is_mpn(n->keys[i].key) || is_devn(n->keys[i].key)) &&
		       !conf_get(o, n->keys[i].key);
	for (size_t i = 0; i < o->n_keys; i++)
		any |= is_mpn(o->keys[i].key) && !conf_get(n, o->keys[i].key);
	if (!any)
		return 0;

	rv = ctm__ct_storage(ctx, &storage, errmsg);
	if (rv == 0)
		rv = ctm__ct_build_lxc(ctx, ctid, o, storage, &old_lcfg, errmsg);
	if (rv == 0)
		rv = ctm__ct_build_lxc(ctx, ctid, n, storage, &new_lcfg, errmsg);
	if (rv == 0) {
		added = calloc(n->n_keys + 1, sizeof(*added));
		if (!added)
			rv = ctm__error(-ENOMEM, errmsg, "out of memory");
	}
	for (size_t i = 0; rv == 0 && i < n->n_keys; i++) {
		const struct conf_entry *e = &n->keys[i];
		struct mp_change *c = &added[n_added];

		if (!is_mpn(e->key) || conf_get(o, e->key))
			continue;
		rv = mp_find(new_lcfg, e->key, e->value, c, msg);
		if (rv == 0)
			rv = ctm__ct_plug(ctx, ctid, c->staged, c->source, c->target, c->options,
			                  new_lcfg->root_uid, new_lcfg->root_gid, msg);
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: %s cannot be mounted now: %s", ctid, e->key,
			           msg);
			mp_change_clear(c);
		} else {
			n_added++;
		}
	}
	for (size_t i = 0; rv == 0 && i < n->n_keys; i++) {
		if (is_devn(n->keys[i].key) && !conf_get(o, n->keys[i].key)) {
			rv = device_plug(ctx, ctid, new_lcfg, n->keys[i].key, msg);
			if (rv < 0)
				ctm__error(rv, errmsg, "CT %u: %s cannot be added now: %s", ctid,
				           n->keys[i].key, msg);
		}
	}
	for (size_t i = 0; rv == 0 && i < o->n_keys; i++) {
		const struct conf_entry *e = &o->keys[i];
		struct mp_change c = {0};

		if (!is_mpn(e->key) || conf_get(n, e->key))
			continue;
		rv = mp_find(old_lcfg, e->key, e->value, &c, msg);
		if (rv == 0)
			rv = ctm__ct_unplug(ctx, ctid, c.staged, c.target, msg);
		if (rv < 0)
			ctm__error(rv, errmsg, "CT %u: %s cannot be unmounted now: %s", ctid,
			           e->key, msg);
		mp_change_clear(&c);
	}
	if (rv < 0)
		for (size_t i = n_added; i-- > 0;)
			ctm__ct_unplug(ctx, ctid, added[i].staged, added[i].target, msg);
	for (size_t i = 0; i < n_added; i++)
		mp_change_clear(&added[i]);
	free(added);
	ctm_lxc_config_free(old_lcfg);
	ctm_lxc_config_free(new_lcfg);
	ctm_storage_cfg_free(storage);
	return rv;
}

/*
 * Check the storage of each allocation request (STORAGE:SIZE) that OPTS
 * sets in rootfs or mpN of NEW_CF, main or pending section, then allocate
 * the volumes and write their ids, as pct does: the config never keeps a
 * request. *STORAGE stays NULL when OPTS sets no such key.
 * NOTE: pct keeps a volume that a new one replaces as unusedN; here it
 * stays on the storage, named by no config.
 */
static int set_alloc_volumes(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_options *opts,
                             struct conf_file *new_cf, struct ctm_storage_cfg **storage,
                             struct ctm__created *cr, char *errmsg)
{
	struct conf_section *sections[] = {conf_main(new_cf), conf_pending(new_cf)};
	const char *unpriv = conf_get(conf_main(new_cf), "unprivileged");
	uid_t root_uid = unpriv && !strcmp(unpriv, "1") ? 100000 : 0;
	char msg[CONF_ERRMSG_SIZE];
	bool any = false;
	int rv = 0;

	for (size_t i = 0; i < opts->n_set; i++)
		any |= is_mp_key(opts->set[i].key, false);
	if (!any)
		return 0;
	rv = ctm__ct_storage(ctx, storage, errmsg);
	for (size_t i = 0; rv == 0 && i < 2; i++) {
		if (!sections[i])
			continue;
		rv = ctm_ct_check_alloc_storages(*storage, ctx->node, sections[i], opts, msg);
		if (rv < 0)
			ctm__error(rv, errmsg, "CT %u: %s", ctid, msg);
	}
	for (size_t i = 0; rv == 0 && i < 2; i++)
		if (sections[i])
			rv = ctm__ct_alloc_volumes(ctx, ctid, sections[i], *storage, root_uid, opts,
			                           cr, errmsg);
	return rv;
}

int ctm_ct_set(struct ctm_ctx *ctx, const struct ctm_options *opts, char *errmsg)
{
	struct ctm_storage_cfg *storage = NULL;
	struct ctm__created cr = {0};
	struct ctm_lxc_item *items = NULL, *undo = NULL;
	struct conf_file *new_cf = NULL, *old_cf;
	struct ctm_ct *ct = NULL;
	size_t n_items = 0, n_undo = 0;
	const char *digest = ctm_options_get(opts, "digest");
	char lockmsg[CONF_ERRMSG_SIZE];
	bool running = false;
	int rv;

	rv = ctm_ct_load(ctx, opts->vmid, &ct, errmsg);
	if (rv < 0)
		return rv;
	rv = ctm__ct_require_local(ctx, ct, errmsg);
	if (rv == 0 && conf_check_lock(ct->cf, lockmsg) < 0) {
		const char *lock = conf_get(conf_main(ct->cf), "lock");

		rv = ctm__error(-EBUSY, errmsg,
		                "CT %u is locked (%s): wait until that operation ends, or clear "
		                "the lock with `ctmgr unlock %u` if none runs",
		                opts->vmid, lock ? lock : "", opts->vmid);
	}
	if (rv < 0)
		goto out;
	if (digest) {
		char hex[41] = "";

		rv = conf_digest(ct->cf, hex);
		if (rv == 0 && strcasecmp(hex, digest))
			rv = ctm__error(
			    -ESTALE, errmsg,
			    "CT %u: the config digest is %s, not %s: the config changed; "
			    "read it again",
			    ct->ctid, hex, digest);
		if (rv < 0)
			goto out;
	}
	if (ctm_options_get(opts, "hookscript")) {
		char script[PATH_MAX];

		/* Reject a hookscript that could not run before any change, as pct does. */
		rv = ctm__ct_hookscript_check(ctx, ct->ctid, ctm_options_get(opts, "hookscript"),
		                              script, sizeof(script), errmsg);
		if (rv < 0)
			goto out;
	}
	rv = ctm_ct_running(ctx, ct->ctid, &running, errmsg);
	if (rv < 0)
		goto out;

	/* Every change happens on a copy first, so the store gets all or none. */
	rv = conf_copy(ct->cf, &new_cf);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: copying the config failed: %s", ct->ctid,
		           strerror(-rv));
		goto out;
	}
	if (running) {
		struct conf_file *check = NULL;

		/* Run the checks of a plain apply (protection...) on a scratch copy. */
		rv = conf_copy(ct->cf, &check);
		if (rv == 0)
			rv = ctm_options_apply(opts, conf_main(check), errmsg);
		conf_file_free(check);
		if (rv == 0)
			rv = set_running(opts, new_cf, errmsg);
	} else {
		rv = ctm_options_apply(opts, conf_main(new_cf), errmsg);
		if (rv == 0)
			rv = drop_pending(new_cf, opts, errmsg);
	}
	for (size_t i = 0; rv == 0 && i < opts->n_revert; i++) {
		struct conf_section *p = conf_pending(new_cf);

		if (!ctm_options_known_key(opts->revert[i]) &&
		    !pending_deletes(p, opts->revert[i])) {
			rv = ctm__error(-EINVAL, errmsg,
			                "revert: unknown option '%s', and CT %u has no pending "
			                "deletion of it: see ctmgr pending %u",
			                opts->revert[i], ct->ctid, ct->ctid);
			break;
		}
		if (p)
			rv = pending_revert(p, opts->revert[i]);
		if (p && pending_empty(p))
			conf_section_remove(new_cf, p);
	}
	if (rv < 0)
		goto out;
	rv = set_alloc_volumes(ctx, ct->ctid, opts, new_cf, &storage, &cr, errmsg);
	if (rv < 0)
		goto out;

	if (running) {
		rv = hot_changes(ctx, ct->ctid, ct->cf, new_cf, &items, &n_items, &undo, &n_undo,
		                 errmsg);
		if (rv < 0)
			goto out;
		rv = ctm__ct_set_cgroup(ctx, ct->ctid, items, n_items, errmsg);
		if (rv == 0) {
			rv = hotplug_mounts(ctx, ct->ctid, ct->cf, new_cf, errmsg);
			if (rv < 0)
				ctm__ct_set_cgroup(ctx, ct->ctid, undo, n_undo, NULL);
		} else {
			ctm__ct_set_cgroup(ctx, ct->ctid, undo, n_undo, NULL);
		}
		if (rv < 0)
			goto out;
	}

	old_cf = ct->cf;
	ct->cf = new_cf;
	new_cf = old_cf;
	rv = ctm_ct_save(ctx, ct, errmsg);
	if (rv < 0 && running) {
		char msg[CONF_ERRMSG_SIZE];

		/* Put the mounts back as they are in the stored config. */
		hotplug_mounts(ctx, ct->ctid, ct->cf, new_cf, msg);
		ctm__ct_set_cgroup(ctx, ct->ctid, undo, n_undo, NULL);
	}
out:
	/* A volume allocated for a config that was not written goes again;
	 * after a write of unknown outcome the config may name it. */
	ctm__created_clear(storage, &cr, rv < 0 && rv != -EINPROGRESS);
	ctm_storage_cfg_free(storage);
	ctm_lxc_items_free(items, n_items);
	ctm_lxc_items_free(undo, n_undo);
	conf_file_free(new_cf);
	ctm_ct_free(ct);
	return rv;
}

int ctm_ct_unlock(struct ctm_ctx *ctx, unsigned ctid, char *errmsg)
{
	char msg[LOCK_ERRMSG_SIZE] = "";
	int rv;

	rv = ctlock_clear(ctx->conn, ctid, NULL, NULL, msg);
	if (rv == -ENOENT)
		return ctm__error(rv, errmsg, "CT %u does not exist", ctid);
	if (rv < 0)
		return ctm__error(rv, errmsg, "CT %u: %s", ctid, msg);
	return 0;
}

/* ---- snapshots ---- */

/* Load CTID, require it on this node, and read storage.cfg. */
static int load_local(struct ctm_ctx *ctx, unsigned ctid, struct ctm_ct **ct,
                      struct ctm_storage_cfg **storage, char *errmsg)
{
	int rv = ctm_ct_load(ctx, ctid, ct, errmsg);

	if (rv == 0)
		rv = ctm__ct_require_local(ctx, *ct, errmsg);
	if (rv == 0 && storage)
		rv = ctm__ct_storage(ctx, storage, errmsg);
	if (rv < 0) {
		ctm_ct_free(*ct);
		*ct = NULL;
	}
	return rv;
}

/* Read the config again, after the storage work between two phases. */
static int reload(struct ctm_ctx *ctx, struct ctm_ct **ct, char *errmsg)
{
	struct ctm_ct *fresh = NULL;
	int rv = ctm_ct_load(ctx, (*ct)->ctid, &fresh, errmsg);

	if (rv < 0)
		return rv;
	ctm_ct_free(*ct);
	*ct = fresh;
	return 0;
}

/* Apply a phase function of conf/snapshot.h and save, with CTID in the message. */
#define SNAP_PHASE(call)                                                                           \
	do {                                                                                       \
		char m_[CONF_ERRMSG_SIZE];                                                         \
		char *errmsg_ = errmsg;                                                            \
		rv = call;                                                                         \
		if (rv < 0) {                                                                      \
			ctm__error(rv, errmsg_, "CT %u: %s", ct->ctid, m_);                        \
			goto out;                                                                  \
		}                                                                                  \
		rv = ctm_ct_save(ctx, ct, errmsg);                                                 \
		if (rv < 0)                                                                        \
			goto out;                                                                  \
	} while (0)

int ctm_ct_snapshot(struct ctm_ctx *ctx, unsigned ctid, const char *name, const char *comment,
                    char *errmsg)
{
	struct ctm_storage_cfg *storage = NULL;
	struct ctm_ct *ct = NULL;
	struct lxc_container *c = NULL;
	char **volumes = NULL, msg[CONF_ERRMSG_SIZE];
	size_t done = 0;
	bool running = false, frozen = false;
	int rv;

	rv = load_local(ctx, ctid, &ct, &storage, errmsg);
	if (rv < 0)
		return rv;
	SNAP_PHASE(conf_snapshot_prepare(ct->cf, name, comment, (uint64_t)time(NULL), m_));

	/* The config now carries `lock: snapshot`; copy the volumes. */
	rv = ctm_ct_section_volumes(conf_snapshot(ct->cf, name), false, &volumes);
	if (rv < 0) {
		ctm__error(rv, errmsg, "out of memory");
		goto err_unlock;
	}
	rv = ctm_ct_running(ctx, ctid, &running, errmsg);
	if (rv < 0)
		goto err_unlock;
	if (running) {
		c = ctm__ct_lxc(ctx, ctid);
		frozen = c && c->freeze(c);
	}
	for (; volumes[done]; done++) {
		rv = ctm_volume_snapshot(storage, volumes[done], name, msg);
		if (rv < 0) {
			ctm__error(rv, errmsg, "CT %u: snapshot %s of %s failed: %s", ctid, name,
			           volumes[done], msg);
			break;
		}
	}
	if (frozen)
		c->unfreeze(c);
	if (rv < 0)
		goto err_unlock;

	rv = reload(ctx, &ct, errmsg);
	if (rv < 0)
		goto out;
	SNAP_PHASE(conf_snapshot_commit(ct->cf, name, m_));
	goto out;

err_unlock:
	/* Undo: drop the copies made, the section and the lock. */
	for (size_t i = 0; i < done; i++)
		ctm_volume_snapshot_delete(storage, volumes[i], name, msg);
	if (reload(ctx, &ct, msg) == 0) {
		struct conf_section *s = conf_snapshot(ct->cf, name);

		if (s) {
			conf_section_remove(ct->cf, s);
			ctm_ct_save(ctx, ct, msg);
		}
	}
	ctlock_clear(ctx->conn, ctid, "snapshot", NULL, msg);
out:
	if (c)
		lxc_container_put(c);
	ctm_strv_free(volumes);
	ctm_storage_cfg_free(storage);
	ctm_ct_free(ct);
	return rv;
}

int ctm_ct_delsnapshot(struct ctm_ctx *ctx, unsigned ctid, const char *name, bool force,
                       char *errmsg)
{
	struct ctm_storage_cfg *storage = NULL;
	struct ctm_ct *ct = NULL;
	char **volumes = NULL, msg[CONF_ERRMSG_SIZE];
	size_t kept = 0;
	int rv;

	rv = load_local(ctx, ctid, &ct, &storage, errmsg);
	if (rv < 0)
		return rv;
	/* The section's lines are removed with it, so they are not counted as moved. */
	count_moved(ct, conf_snapshot(ct->cf, name));
	kept = conf_snapshot(ct->cf, name) ? conf_snapshot(ct->cf, name)->n_verbatim : 0;
	SNAP_PHASE(conf_snapshot_delete_prepare(ct->cf, name, force, m_));
	rv = ctm_ct_section_volumes(conf_snapshot(ct->cf, name), false, &volumes);
	if (rv < 0) {
		ctm__error(rv, errmsg, "out of memory");
		goto out;
	}
	for (size_t i = 0; volumes[i]; i++) {
		rv = ctm_volume_snapshot_delete(storage, volumes[i], name, msg);
		if (rv < 0 && !force) {
			/* The config keeps `lock: snapshot-delete`, as pct leaves it. */
			ctm__error(rv, errmsg, "CT %u: deleting snapshot %s of %s failed: %s", ctid,
			           name, volumes[i], msg);
			goto out;
		}
	}
	rv = reload(ctx, &ct, errmsg);
	if (rv < 0)
		goto out;
	SNAP_PHASE(conf_snapshot_delete_commit(ct->cf, name, m_));
	/* Report the removed lines, as the other writers report the lines they move. */
	if (ctx->warn && kept)
		fprintf(ctx->warn,
		        "warning: CT %u: %s: %zu line%s the reader could not use in section [%s] "
		        "%s removed with it\n",
		        ctid, ct->path, kept, kept == 1 ? "" : "s", name, kept == 1 ? "is" : "are");
out:
	ctm_strv_free(volumes);
	ctm_storage_cfg_free(storage);
	ctm_ct_free(ct);
	return rv;
}

int ctm_ct_rollback(struct ctm_ctx *ctx, unsigned ctid, const char *name, char *errmsg)
{
	struct ctm_storage_cfg *storage = NULL;
	struct ctm_ct *ct = NULL;
	char **volumes = NULL, msg[CONF_ERRMSG_SIZE];
	bool running = false;
	int rv;

	rv = load_local(ctx, ctid, &ct, &storage, errmsg);
	if (rv < 0)
		return rv;

	/* Check before stopping, so a refused rollback leaves it running. */
	rv = conf_snapshot_rollback_prepare(ct->cf, name, msg);
	if (rv < 0) {
		ctm__error(rv, errmsg, "CT %u: %s", ctid, msg);
		goto out;
	}
	rv = reload(ctx, &ct, errmsg);
	if (rv == 0)
		rv = ctm_ct_running(ctx, ctid, &running, errmsg);
	if (rv == 0 && running)
		rv = ctm_ct_stop(ctx, ctid, errmsg);
	if (rv < 0)
		goto out;
	SNAP_PHASE(conf_snapshot_rollback_prepare(ct->cf, name, m_));

	rv = ctm_ct_section_volumes(conf_snapshot(ct->cf, name), false, &volumes);
	if (rv < 0) {
		ctm__error(rv, errmsg, "out of memory");
		goto out;
	}
	for (size_t i = 0; volumes[i]; i++) {
		rv = ctm_volume_snapshot_rollback(storage, volumes[i], name, msg);
		if (rv < 0) {
			/* `lock: rollback` stays, as in pct: the volumes are half rolled back. */
			ctm__error(rv, errmsg, "CT %u: rollback of %s to %s failed: %s", ctid,
			           volumes[i], name, msg);
			goto out;
		}
	}
	rv = reload(ctx, &ct, errmsg);
	if (rv < 0)
		goto out;
	SNAP_PHASE(conf_snapshot_rollback_commit(ct->cf, name, m_));
out:
	ctm_strv_free(volumes);
	ctm_storage_cfg_free(storage);
	ctm_ct_free(ct);
	return rv;
}

/* ---- list ---- */

/* The node id of NODE from the /.members JSON ROOT, or 0. */
static uint32_t member_id(struct json_object *root, const char *node)
{
	struct json_object *list, *m, *id;

	if (!root || !json_object_object_get_ex(root, "nodelist", &list) ||
	    !json_object_object_get_ex(list, node, &m) || !json_object_object_get_ex(m, "id", &id))
		return 0;
	return (uint32_t)json_object_get_int64(id);
}

/*
 * Whether the agent of NODE runs: its registration of the service
 * CTM_AGENT_SERVICE ends with its pmxfs connection, so a killed agent
 * replies to no ping. Any reply of the agent counts, also an error
 * status of an agent that does not serve "ping".
 */
static bool agent_alive(struct ctm_ctx *ctx, const char *node)
{
	char *reply = NULL;
	size_t len = 0;
	int status = 0;
	int rv = pfs_node_request(ctx->conn, node, CTM_AGENT_SERVICE, CTM_AGENT_PING,
	                          strlen(CTM_AGENT_PING), CTM_AGENT_PING_TIMEOUT_MS, &status,
	                          &reply, &len);

	free(reply);
	/* Only a missing registration means the agent is gone: pmxfs drops it
	 * with the agent's connection. An agent busy past the timeout still
	 * runs, and its entry is current. */
	return rv == 0 || rv == -ETIMEDOUT || rv == -EBUSY;
}

/*
 * Set the state of a container from the status area entry CTM_STATE_KEY
 * that the agent of its node publishes. Each node's entry is read once
 * into STATES (node name to parsed entry, or null when there is none).
 * The entry stays after its agent was killed, so it counts only while
 * the agent replies to a ping. Without a current entry, containers of this
 * node get their state from liblxc and the others "unknown".
 */
static void list_status(struct ctm_ctx *ctx, struct json_object *members,
                        struct json_object *states, struct ctm_ct_info *info)
{
	struct json_object *state = NULL, *ct, *status;
	char id[16];
	bool running;

	snprintf(info->status, sizeof(info->status), "unknown");
	if (!json_object_object_get_ex(states, info->node, &state)) {
		uint32_t node_id = member_id(members, info->node);
		char *value = NULL;
		size_t len = 0;

		if (node_id && pfs_kv_get(ctx->conn, node_id, CTM_STATE_KEY, &value, &len) == 0 &&
		    len > 0 && agent_alive(ctx, info->node))
			state = json_tokener_parse(value);
		free(value);
		json_object_object_add(states, info->node, state);
	}
	snprintf(id, sizeof(id), "%u", info->ctid);
	if (state && json_object_object_get_ex(state, id, &ct) &&
	    json_object_object_get_ex(ct, "status", &status)) {
		snprintf(info->status, sizeof(info->status), "%s", json_object_get_string(status));
		return;
	}
	if (!strcmp(info->node, ctx->node) && ctm_ct_running(ctx, info->ctid, &running, NULL) == 0)
		snprintf(info->status, sizeof(info->status), "%s", running ? "running" : "stopped");
}

int ctm_ct_list(struct ctm_ctx *ctx, struct ctm_ct_info **out, size_t *count, char *errmsg)
{
	struct ctm_vmlist_entry *list = NULL;
	struct ctm_ct_info *infos = NULL;
	struct json_object *members = NULL, *states = json_object_new_object();
	char *text = NULL;
	size_t n = 0, m = 0;
	int rv;

	rv = pfs_get(ctx->conn, "/.vmlist", &text, NULL, NULL);
	if (rv < 0)
		return ctm__error(rv, errmsg, "reading /.vmlist from pmxfs failed: %s",
		                  strerror(-rv));
	rv = ctm_vmlist_parse(text, &list, &n);
	free(text);
	if (rv < 0)
		return ctm__error(rv, errmsg, "/.vmlist is not the JSON pmxfs writes");
	if (pfs_get(ctx->conn, "/.members", &text, NULL, NULL) == 0) {
		members = json_tokener_parse(text);
		free(text);
	}
	infos = calloc(n + 1, sizeof(*infos));
	if (!infos) {
		rv = ctm__error(-ENOMEM, errmsg, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct ctm_ct_info *info = &infos[m];
		struct conf_file *cf = NULL;
		char path[4097], *conf_text = NULL;
		size_t len = 0;
		const char *v;

		if (!list[i].lxc)
			continue;
		/* A config removed since /.vmlist was read is left out. */
		snprintf(path, sizeof(path), "/nodes/%s/lxc/%u.conf", list[i].node, list[i].ctid);
		if (pfs_get(ctx->conn, path, &conf_text, &len, NULL) < 0)
			continue;
		rv = conf_parse(conf_text, len, path, &cf);
		free(conf_text);
		if (rv < 0) {
			ctm__error(rv, errmsg, "parsing the config of CT %u failed: %s",
			           list[i].ctid, strerror(-rv));
			goto err_free_infos;
		}
		ctm__ct_warn_diags(ctx, list[i].ctid, path, cf);
		info->ctid = list[i].ctid;
		snprintf(info->node, sizeof(info->node), "%s", list[i].node);
		v = conf_get(conf_main(cf), "lock");
		snprintf(info->lock, sizeof(info->lock), "%s", v ? v : "");
		v = conf_get(conf_main(cf), "hostname");
		snprintf(info->name, sizeof(info->name), "%s", v ? v : "");
		conf_file_free(cf);
		list_status(ctx, members, states, info);
		m++;
	}
	*out = infos;
	*count = m;
	goto out;

err_free_infos:
	free(infos);
out:
	json_object_put(states);
	json_object_put(members);
	free(list);
	return rv;
}
