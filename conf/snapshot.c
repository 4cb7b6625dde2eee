/*
 * Snapshot transformations: create, delete and rollback in pct's phases,
 * on the in-memory config only.
 *
 * Every operation runs its checks on the config as it is, then makes its
 * changes on a staged copy of the section contents and swaps the copies in
 * only when every step succeeded. So on error the config is unchanged,
 * and pointers to its sections stay valid unless a section is added
 * (create) or removed (delete, and the pending section on rollback).
 *
 * Volumes: the volume of a rootfs or mpN value is its first part when that
 * part has no '=', else its `volume=` part. Absolute paths (bind mounts
 * and /dev/ devices) are not storage volumes, so they never become unusedN
 * entries. pct visits the mount keys in the order rootfs, mp0, mp1, ...,
 * mp255, and new unusedN entries are added in that order.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/conf_internal.h"
#include "conf/snapshot.h"

/* Current pve-container allows mp0..mp255 and unused0..unused255 (256 of
 * each; older releases had 10). */
#define MAX_MOUNT_POINTS 256
#define MAX_UNUSED 256

/* A volume id inside a value: START is not NUL-terminated. */
struct volume_ref {
	const char *start;
	size_t len;
};

/* ---- key classes ---- */

/* True when KEY is PREFIX followed by one or more digits. */
static bool is_indexed_key(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(key, prefix, n) != 0 || key[n] == '\0')
		return false;
	for (key += n; *key != '\0'; key++) {
		if (!isdigit((unsigned char)*key))
			return false;
	}
	return true;
}

static bool is_unused_key(const char *key)
{
	return is_indexed_key(key, "unused");
}

/* Keys that neither a new snapshot nor a rollback takes over, as in pct's
 * snapshot copy: the snapshot bookkeeping, the lock, the digest and the
 * unusedN entries. The description is a separate field in this model. */
static bool is_copy_excluded(const char *key)
{
	static const char *const excluded[] = { "lock", "snapstate", "snaptime", "vmstate",
		                                "digest", "description" };

	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++) {
		if (strcmp(key, excluded[i]) == 0)
			return true;
	}
	return is_unused_key(key);
}

static bool is_template(const struct conf_section *s)
{
	const char *value = conf_get(s, "template");

	return value != NULL && strcmp(value, "1") == 0;
}

static bool has_value(const struct conf_section *s, const char *key, const char *expected)
{
	const char *value = conf_get(s, key);

	return value != NULL && strcmp(value, expected) == 0;
}

/* ---- volumes ---- */

/* Find the volume of a mount point or unusedN VALUE. */
static bool volume_find(const char *value, struct volume_ref *vol)
{
	const char *part = value;

	while (part != NULL) {
		const char *end = strchr(part, ',');
		size_t len = end != NULL ? (size_t)(end - part) : strlen(part);
		const char *eq = memchr(part, '=', len);

		if (eq == NULL && part == value && len > 0) {
			*vol = (struct volume_ref){ .start = part, .len = len };
			return true;
		}
		if (eq == part + 6 && strncmp(part, "volume", 6) == 0 && len > 7) {
			*vol = (struct volume_ref){ .start = eq + 1, .len = len - 7 };
			return true;
		}
		part = end != NULL ? end + 1 : NULL;
	}
	return false;
}

static bool volume_eq(const struct volume_ref *a, const struct volume_ref *b)
{
	return a->len == b->len && memcmp(a->start, b->start, a->len) == 0;
}

/* Find the storage volume of mount key KEY in S. Returns false when KEY is
 * unset or is a bind mount or device (an absolute path). */
static bool storage_volume(const struct conf_section *s, const char *key,
                           struct volume_ref *vol)
{
	const char *value = conf_get(s, key);

	if (value == NULL || !volume_find(value, vol))
		return false;
	return vol->start[0] != '/';
}

/* Write the name of the mount key with index I (0 is rootfs, I >= 1 is
 * mp(I-1)) into BUF and return it. */
static const char *mount_key(unsigned i, char buf[8])
{
	if (i == 0)
		return "rootfs";
	snprintf(buf, 8, "mp%u", i - 1);
	return buf;
}

static bool section_mounts(const struct conf_section *s, const struct volume_ref *vol)
{
	struct volume_ref mounted;
	char buf[8];

	for (unsigned i = 0; i <= MAX_MOUNT_POINTS; i++) {
		if (storage_volume(s, mount_key(i, buf), &mounted) && volume_eq(&mounted, vol))
			return true;
	}
	return false;
}

static bool section_lists_unused(const struct conf_section *s, const struct volume_ref *vol)
{
	struct volume_ref listed;

	for (size_t i = 0; i < s->n_keys; i++) {
		if (is_unused_key(s->keys[i].key) && volume_find(s->keys[i].value, &listed) &&
		    volume_eq(&listed, vol))
			return true;
	}
	return false;
}

/*
 * Add VOL to S as `unusedN` with the lowest free N, unless an unusedN
 * already names it. Errors: -ENOSPC all 256 entries are taken, -ENOMEM.
 */
static int unused_add(struct conf_section *s, const struct volume_ref *vol, char *errmsg)
{
	char key[16], *value;
	int rv;

	if (section_lists_unused(s, vol))
		return 0;

	for (unsigned n = 0; n < MAX_UNUSED; n++) {
		snprintf(key, sizeof(key), "unused%u", n);
		if (conf_get(s, key) != NULL)
			continue;
		value = strndup(vol->start, vol->len);
		if (value == NULL)
			return -ENOMEM;
		rv = conf_set(s, key, value);
		free(value);
		return rv;
	}
	conf__errmsg(errmsg, "Too many unused volumes - please delete them first.");
	return -ENOSPC;
}

/* ---- staged changes ---- */

/* Copies of the contents of every section of a config, in the same order.
 * Names are borrowed from the config. */
struct stage {
	struct conf_section *copies;
	size_t n;
};

static int stage_begin(struct stage *st, const struct conf_file *cf)
{
	int rv = 0;

	st->n = cf->n_sections;
	st->copies = calloc(st->n, sizeof(*st->copies));
	if (st->copies == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < st->n && rv == 0; i++) {
		st->copies[i].kind = cf->sections[i].kind;
		st->copies[i].name = cf->sections[i].name;
		st->copies[i].line = cf->sections[i].line;
		rv = conf_section_copy_contents(&st->copies[i], &cf->sections[i]);
	}
	return rv;
}

/* Free the copies. After stage_commit() they contain the old contents. */
static void stage_end(struct stage *st)
{
	for (size_t i = 0; i < st->n && st->copies != NULL; i++)
		conf_section_clear(&st->copies[i]);
	free(st->copies);
	st->copies = NULL;
	st->n = 0;
}

static void contents_swap(struct conf_section *a, struct conf_section *b)
{
	struct conf_section tmp = *a;

	a->description = b->description;
	a->keys = b->keys;
	a->n_keys = b->n_keys;
	a->raw = b->raw;
	a->n_raw = b->n_raw;
	a->verbatim = b->verbatim;
	a->n_verbatim = b->n_verbatim;

	b->description = tmp.description;
	b->keys = tmp.keys;
	b->n_keys = tmp.n_keys;
	b->raw = tmp.raw;
	b->n_raw = tmp.n_raw;
	b->verbatim = tmp.verbatim;
	b->n_verbatim = tmp.n_verbatim;
}

/* Swap the staged contents into the first ST->n sections of CF. Cannot
 * fail, so every allocation must be done before. */
static void stage_commit(struct stage *st, struct conf_file *cf)
{
	for (size_t i = 0; i < st->n; i++)
		contents_swap(&cf->sections[i], &st->copies[i]);
}

/* The staged copy of section S of CF. */
static struct conf_section *staged(struct stage *st, const struct conf_file *cf,
                                   const struct conf_section *s)
{
	return &st->copies[s - cf->sections];
}

/* ---- shared steps ---- */

/* Copy the keys of SRC that pct's snapshot copy takes, and its raw lxc.*
 * entries, into DST. Errors: -ENOMEM. */
static int copy_config(struct conf_section *dst, const struct conf_section *src)
{
	int rv = 0;

	for (size_t i = 0; i < src->n_keys && rv == 0; i++) {
		if (!is_copy_excluded(src->keys[i].key))
			rv = conf_set(dst, src->keys[i].key, src->keys[i].value);
	}
	for (size_t i = 0; i < src->n_raw && rv == 0; i++)
		rv = conf_raw_add(dst, src->raw[i].key, src->raw[i].value);
	return rv;
}

/* In S, replace `parent: OLD` by `parent: NEW`, or remove it when NEW is
 * NULL. Errors: -ENOMEM. */
static int relink_parent(struct conf_section *s, const char *old, const char *new)
{
	if (!has_value(s, "parent", old))
		return 0;
	if (new == NULL)
		return conf_delete(s, "parent");
	return conf_set(s, "parent", new);
}

static struct conf_section *find_snapshot(const struct conf_file *cf, const char *name,
                                          char *errmsg)
{
	struct conf_section *snap = conf_snapshot(cf, name);

	if (snap == NULL)
		conf__errmsg(errmsg, "snapshot '%s' does not exist", name);
	return snap;
}

/* ---- checks ---- */

static bool is_ascii_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* True when NAME matches `[a-z][a-z0-9_-]+`, ignoring case. */
static bool is_config_id(const char *name)
{
	if (!is_ascii_letter(name[0]) || name[1] == '\0')
		return false;
	for (name++; *name != '\0'; name++) {
		char c = *name;

		if (!is_ascii_letter(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* The rule for snapshot names: pct's configuration ID format. */
#define SNAPSHOT_NAME_RULE                                                                         \
	"use a letter first, then letters, digits, '-' and '_', 2 to 40 characters in all"
_Static_assert(CONF_SNAPSHOT_NAME_MAX == 40, "SNAPSHOT_NAME_RULE names the maximum");

int conf_snapshot_check_name(const char *name, char *errmsg)
{
	if (name == NULL || name[0] == '\0') {
		conf__errmsg(errmsg, "missing snapshot name: %s", SNAPSHOT_NAME_RULE);
		return -EINVAL;
	}
	if (strlen(name) > CONF_SNAPSHOT_NAME_MAX) {
		conf__errmsg(errmsg, "invalid snapshot name '%.*s...': it has %zu characters: %s",
		             CONF_SNAPSHOT_NAME_MAX, name, strlen(name), SNAPSHOT_NAME_RULE);
		return -EINVAL;
	}
	if (!is_config_id(name)) {
		conf__errmsg(errmsg, "invalid snapshot name '%s': %s", name, SNAPSHOT_NAME_RULE);
		return -EINVAL;
	}
	if (strcmp(name, "current") == 0 || strcmp(name, "vzdump") == 0) {
		conf__errmsg(errmsg, "unable to use snapshot name '%s' (reserved name)", name);
		return -EINVAL;
	}
	return 0;
}

int conf_check_lock(const struct conf_file *cf, char *errmsg)
{
	const char *lock = conf_get(conf_main(cf), "lock");

	if (lock == NULL)
		return 0;
	conf__errmsg(errmsg, "CT is locked (%s)", lock);
	return -EBUSY;
}

/* ---- create ---- */

static int check_prepare(const struct conf_file *cf, const char *name, char *errmsg)
{
	int rv = conf_snapshot_check_name(name, errmsg);

	if (rv != 0)
		return rv;
	if (is_template(conf_main(cf))) {
		conf__errmsg(errmsg, "you can't take a snapshot if it's a template");
		return -EINVAL;
	}
	rv = conf_check_lock(cf, errmsg);
	if (rv != 0)
		return rv;
	if (conf_snapshot(cf, name) != NULL) {
		conf__errmsg(errmsg, "snapshot name '%s' already used", name);
		return -EEXIST;
	}
	return 0;
}

/* Fill the empty section SNAP with the new snapshot's contents. */
static int build_snapshot(struct conf_section *snap, const struct conf_section *current,
                          const char *comment, uint64_t snaptime)
{
	char time_text[24];
	size_t len;
	int rv;

	rv = copy_config(snap, current);
	snprintf(time_text, sizeof(time_text), "%" PRIu64, snaptime);
	if (rv == 0)
		rv = conf_set(snap, "snaptime", time_text);
	if (rv == 0)
		rv = conf_set(snap, "snapstate", "prepare");
	if (rv != 0 || comment == NULL || comment[0] == '\0')
		return rv;

	/* Descriptions end in a newline, as the reader stores them. */
	len = strlen(comment);
	if (comment[len - 1] == '\n')
		return conf_set_description(snap, comment);
	snap->description = malloc(len + 2);
	if (snap->description == NULL)
		return -ENOMEM;
	memcpy(snap->description, comment, len);
	memcpy(snap->description + len, "\n", 2);
	return 0;
}

/* Set the lock and drop `parent: NAME` from every snapshot. Such a
 * reference is stale, because no snapshot NAME exists yet, and keeping it
 * would form a parent cycle. */
static int stage_prepare(struct stage *st, const char *name)
{
	int rv = conf_set(&st->copies[0], "lock", "snapshot");

	for (size_t i = 1; i < st->n && rv == 0; i++) {
		if (st->copies[i].kind == CONF_SECTION_SNAPSHOT)
			rv = relink_parent(&st->copies[i], name, NULL);
	}
	return rv;
}

int conf_snapshot_prepare(struct conf_file *cf, const char *name, const char *comment,
                          uint64_t snaptime, char *errmsg)
{
	struct conf_section snap = { .kind = CONF_SECTION_SNAPSHOT };
	struct conf_section *added;
	struct stage st = { 0 };
	int rv;

	rv = check_prepare(cf, name, errmsg);
	if (rv != 0)
		return rv;

	rv = build_snapshot(&snap, conf_main(cf), comment, snaptime);
	if (rv == 0)
		rv = stage_begin(&st, cf);
	if (rv == 0)
		rv = stage_prepare(&st, name);
	if (rv != 0)
		goto out;

	/* The last step that can fail; the stage indexes stay valid after it. */
	added = conf_section_add(cf, CONF_SECTION_SNAPSHOT, name);
	if (added == NULL) {
		rv = -ENOMEM;
		goto out;
	}
	stage_commit(&st, cf);
	contents_swap(added, &snap);

out:
	stage_end(&st);
	conf_section_clear(&snap);
	return rv;
}

int conf_snapshot_commit(struct conf_file *cf, const char *name, char *errmsg)
{
	struct conf_section *snap;
	struct stage st = { 0 };
	int rv;

	if (!has_value(conf_main(cf), "lock", "snapshot")) {
		conf__errmsg(errmsg, "missing snapshot lock");
		return -EINVAL;
	}
	snap = find_snapshot(cf, name, errmsg);
	if (snap == NULL)
		return -ENOENT;
	if (!has_value(snap, "snapstate", "prepare")) {
		conf__errmsg(errmsg, "wrong snapshot state");
		return -EINVAL;
	}

	rv = stage_begin(&st, cf);
	if (rv == 0)
		rv = conf_set(&st.copies[0], "parent", name);
	if (rv == 0) {
		conf_delete(&st.copies[0], "lock");
		conf_delete(staged(&st, cf, snap), "snapstate");
		stage_commit(&st, cf);
	}
	stage_end(&st);
	return rv;
}

/* ---- delete ---- */

/* With FORCE, a delete takes over the snapshot lock that a failed create
 * or delete left. A lock of any other operation still rejects it. */
static int check_delete_lock(const struct conf_file *cf, bool force, char *errmsg)
{
	const struct conf_section *current = conf_main(cf);

	if (force && (has_value(current, "lock", "snapshot") ||
	              has_value(current, "lock", "snapshot-delete")))
		return 0;
	return conf_check_lock(cf, errmsg);
}

int conf_snapshot_delete_prepare(struct conf_file *cf, const char *name, bool force,
                                 char *errmsg)
{
	struct conf_section *snap;
	struct stage st = { 0 };
	int rv;

	snap = find_snapshot(cf, name, errmsg);
	if (snap == NULL)
		return -ENOENT;
	rv = check_delete_lock(cf, force, errmsg);
	if (rv != 0)
		return rv;
	if (is_template(conf_main(cf))) {
		conf__errmsg(errmsg, "you can't delete a snapshot if vm is a template");
		return -EINVAL;
	}

	rv = stage_begin(&st, cf);
	if (rv == 0)
		rv = conf_set(&st.copies[0], "lock", "snapshot-delete");
	if (rv == 0)
		rv = conf_set(staged(&st, cf, snap), "snapstate", "delete");
	if (rv == 0)
		stage_commit(&st, cf);
	stage_end(&st);
	return rv;
}

/* True when a section of CF other than SKIP (the main section and every
 * other snapshot) mounts VOL. */
static bool volume_used_elsewhere(const struct conf_file *cf, const struct conf_section *skip,
                                  const struct volume_ref *vol)
{
	for (size_t i = 0; i < cf->n_sections; i++) {
		const struct conf_section *s = &cf->sections[i];

		if (s != skip && s->kind != CONF_SECTION_PENDING && section_mounts(s, vol))
			return true;
	}
	return false;
}

/*
 * Add the storage volumes that only SNAP mounts as unusedN entries of
 * DST, the staged main section.
 * NOTE: pct adds every volume of the deleted snapshot, and its writer
 * hides those the main section mounts. A volume that another snapshot
 * still mounts is left out here until that snapshot is deleted too.
 */
static int add_orphaned_volumes(struct conf_section *dst, const struct conf_file *cf,
                                const struct conf_section *snap, char *errmsg)
{
	struct volume_ref vol;
	char buf[8];
	int rv = 0;

	for (unsigned i = 0; i <= MAX_MOUNT_POINTS && rv == 0; i++) {
		if (storage_volume(snap, mount_key(i, buf), &vol) &&
		    !volume_used_elsewhere(cf, snap, &vol))
			rv = unused_add(dst, &vol, errmsg);
	}
	return rv;
}

/* Point every `parent: NAME` in the staged sections to PARENT (or drop
 * it), drop the lock and add the volumes the snapshot leaves unused. */
static int stage_delete(struct stage *st, const struct conf_file *cf,
                        const struct conf_section *snap, char *errmsg)
{
	const char *parent = conf_get(snap, "parent");
	int rv = 0;

	for (size_t i = 0; i < st->n && rv == 0; i++) {
		if (st->copies[i].kind != CONF_SECTION_PENDING)
			rv = relink_parent(&st->copies[i], snap->name, parent);
	}
	if (rv != 0)
		return rv;

	conf_delete(&st->copies[0], "lock");
	return add_orphaned_volumes(&st->copies[0], cf, snap, errmsg);
}

int conf_snapshot_delete_commit(struct conf_file *cf, const char *name, char *errmsg)
{
	struct conf_section *snap;
	struct stage st = { 0 };
	int rv;

	if (!has_value(conf_main(cf), "lock", "snapshot-delete")) {
		conf__errmsg(errmsg, "encountered invalid lock, expected 'snapshot-delete'");
		return -EINVAL;
	}
	snap = find_snapshot(cf, name, errmsg);
	if (snap == NULL)
		return -ENOENT;

	rv = stage_begin(&st, cf);
	if (rv == 0)
		rv = stage_delete(&st, cf, snap, errmsg);
	if (rv == 0) {
		stage_commit(&st, cf);
		conf_section_remove(cf, snap);
	}
	stage_end(&st);
	return rv;
}

/* ---- rollback ---- */

/* The checks both rollback phases make, in pct's order. */
static int check_rollback(const struct conf_file *cf, const char *name,
                          struct conf_section **snap, char *errmsg)
{
	const char *snapstate;

	if (is_template(conf_main(cf))) {
		conf__errmsg(errmsg, "you can't rollback if vm is a template");
		return -EINVAL;
	}
	*snap = find_snapshot(cf, name, errmsg);
	if (*snap == NULL)
		return -ENOENT;
	snapstate = conf_get(*snap, "snapstate");
	if (snapstate != NULL) {
		conf__errmsg(errmsg, "unable to rollback to incomplete snapshot (snapstate = %s)",
		             snapstate);
		return -EINVAL;
	}
	return 0;
}

int conf_snapshot_rollback_prepare(struct conf_file *cf, const char *name, char *errmsg)
{
	struct conf_section *snap;
	int rv;

	rv = check_rollback(cf, name, &snap, errmsg);
	if (rv == 0)
		rv = conf_check_lock(cf, errmsg);
	if (rv != 0)
		return rv;

	/* One change only, and conf_set() leaves the section as it was on error. */
	return conf_set(conf_main(cf), "lock", "rollback");
}

/*
 * Fill the empty section DST with the main section after a rollback of
 * CURRENT to SNAP. It gets the current description and unusedN entries,
 * and a new unusedN entry for each current volume that SNAP does not
 * mount. Then come SNAP's keys and raw entries under the copy rules, and
 * `parent: NAME`. Lines the reader could not parse are dropped from both.
 */
static int build_rollback(struct conf_section *dst, const struct conf_section *current,
                          const struct conf_section *snap, char *errmsg)
{
	struct volume_ref vol;
	char buf[8];
	int rv;

	rv = conf_set_description(dst, current->description);
	for (size_t i = 0; i < current->n_keys && rv == 0; i++) {
		if (is_unused_key(current->keys[i].key))
			rv = conf_set(dst, current->keys[i].key, current->keys[i].value);
	}
	for (unsigned i = 0; i <= MAX_MOUNT_POINTS && rv == 0; i++) {
		if (storage_volume(current, mount_key(i, buf), &vol) && !section_mounts(snap, &vol))
			rv = unused_add(dst, &vol, errmsg);
	}
	if (rv == 0)
		rv = copy_config(dst, snap);
	if (rv == 0)
		rv = conf_set(dst, "parent", snap->name);
	return rv;
}

int conf_snapshot_rollback_commit(struct conf_file *cf, const char *name, char *errmsg)
{
	struct conf_section *snap, *pending;
	struct stage st = { 0 };
	int rv;

	/* NOTE: pct fails with "implement me - save vmstate" after this
	 * phase when the snapshot has a vmstate. Here the copy rules drop it. */
	rv = check_rollback(cf, name, &snap, errmsg);
	if (rv != 0)
		return rv;
	if (!has_value(conf_main(cf), "lock", "rollback")) {
		conf__errmsg(errmsg, "got wrong lock");
		return -EINVAL;
	}

	rv = stage_begin(&st, cf);
	if (rv == 0) {
		conf_section_clear(&st.copies[0]);
		rv = build_rollback(&st.copies[0], conf_main(cf), snap, errmsg);
	}
	if (rv == 0) {
		stage_commit(&st, cf);

		/* pct's new config keeps only the snapshots, because pending
		 * changes belonged to the config that the rollback replaced. */
		pending = conf_pending(cf);
		if (pending != NULL)
			conf_section_remove(cf, pending);
	}
	stage_end(&st);
	return rv;
}
