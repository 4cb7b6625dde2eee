/*
 * Tests of conf/snapshot.c: each test reads a config from text, runs one
 * snapshot phase and compares the config as written with the expected text.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/snapshot.h"

/* Every value pct accepts for `lock:`. */
static const char *const lock_values[] = {
	"backup", "create", "destroyed", "disk", "fstrim",
	"migrate", "mounted", "rollback", "snapshot", "snapshot-delete",
};
#define N_LOCK_VALUES ((int)(sizeof(lock_values) / sizeof(lock_values[0])))

/* A small config with one snapshot, written in canonical form. */
static const char one_snapshot[] =
	"hostname: ct\n"
	"parent: first\n"
	"rootfs: local:vm-100-disk-0,size=4G\n"
	"\n"
	"[first]\n"
	"hostname: ct\n"
	"rootfs: local:vm-100-disk-0,size=4G\n"
	"snaptime: 1000\n";

static char errmsg[CONF_ERRMSG_SIZE];

static void clear_errmsg(void)
{
	errmsg[0] = '\0';
}

static struct conf_file *parse(const char *text)
{
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, strlen(text), NULL, &cf), 0);
	ck_assert_ptr_nonnull(cf);
	return cf;
}

static void assert_config(const struct conf_file *cf, const char *expected)
{
	char write_errmsg[CONF_ERRMSG_SIZE] = "";
	char *text = NULL;

	ck_assert_int_eq(conf_write(cf, &text, NULL, write_errmsg), 0);
	ck_assert_str_eq(text, expected);
	free(text);
}

/* Replace the main section's lock with VALUE (NULL removes it). */
static void set_lock(struct conf_file *cf, const char *value)
{
	if (value == NULL)
		conf_delete(conf_main(cf), "lock");
	else
		ck_assert_int_eq(conf_set(conf_main(cf), "lock", value), 0);
}

/* Create snapshot NAME in both phases. */
static void create_snapshot(struct conf_file *cf, const char *name, uint64_t snaptime)
{
	ck_assert_int_eq(conf_snapshot_prepare(cf, name, NULL, snaptime, errmsg), 0);
	ck_assert_int_eq(conf_snapshot_commit(cf, name, errmsg), 0);
}

/* Run both delete phases. */
static void delete_snapshot(struct conf_file *cf, const char *name)
{
	ck_assert_int_eq(conf_snapshot_delete_prepare(cf, name, false, errmsg), 0);
	ck_assert_int_eq(conf_snapshot_delete_commit(cf, name, errmsg), 0);
}

/* ---- conf_snapshot_check_name ---- */

START_TEST(test_check_name_valid)
{
	static const char *const names[] = {
		"ab", "before-upgrade", "Snap_1", "a234567890123456789012345678901234567890",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_int_eq(conf_snapshot_check_name(names[i], errmsg), 0);
}
END_TEST

/* The rule every rejected name's message ends with. */
#define NAME_RULE "use a letter first, then letters, digits, '-' and '_', 2 to 40 characters in all"

START_TEST(test_check_name_bad_format)
{
	static const char *const names[] = {
		"a", "1snap", "-snap", "snap.1", "snap 1", "snap/1", "snäp",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char expected[CONF_ERRMSG_SIZE];

		clear_errmsg();
		ck_assert_int_eq(conf_snapshot_check_name(names[i], errmsg), -EINVAL);
		snprintf(expected, sizeof(expected), "invalid snapshot name '%s': %s", names[i],
		         NAME_RULE);
		ck_assert_str_eq(errmsg, expected);
	}
}
END_TEST

START_TEST(test_check_name_null)
{
	ck_assert_int_eq(conf_snapshot_check_name(NULL, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "missing snapshot name: " NAME_RULE);
	ck_assert_int_eq(conf_snapshot_check_name("", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "missing snapshot name: " NAME_RULE);
}
END_TEST

START_TEST(test_check_name_too_long)
{
	ck_assert_int_eq(conf_snapshot_check_name("a2345678901234567890123456789012345678901",
	                                          errmsg),
	                 -EINVAL);
	ck_assert_str_eq(errmsg, "invalid snapshot name 'a234567890123456789012345678901234567890...': "
	                         "it has 41 characters: " NAME_RULE);
}
END_TEST

START_TEST(test_check_name_reserved)
{
	ck_assert_int_eq(conf_snapshot_check_name("current", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "unable to use snapshot name 'current' (reserved name)");
	ck_assert_int_eq(conf_snapshot_check_name("vzdump", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "unable to use snapshot name 'vzdump' (reserved name)");
}
END_TEST

START_TEST(test_check_name_reserved_case_sensitive)
{
	/* pct compares the reserved names exactly. */
	ck_assert_int_eq(conf_snapshot_check_name("Current", errmsg), 0);
}
END_TEST

/* ---- conf_check_lock ---- */

START_TEST(test_check_lock_unlocked)
{
	struct conf_file *cf = parse(one_snapshot);

	ck_assert_int_eq(conf_check_lock(cf, errmsg), 0);
	conf_file_free(cf);
}
END_TEST

/* Loop test over lock_values. */
START_TEST(test_check_lock_each_value)
{
	char text[256], expected[CONF_ERRMSG_SIZE];
	struct conf_file *cf;

	snprintf(text, sizeof(text), "hostname: ct\nlock: %s\n", lock_values[_i]);
	cf = parse(text);
	snprintf(expected, sizeof(expected), "CT is locked (%s)", lock_values[_i]);

	ck_assert_int_eq(conf_check_lock(cf, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, expected);
	conf_file_free(cf);
}
END_TEST

/* ---- conf_snapshot_prepare ---- */

START_TEST(test_prepare_fresh_config)
{
	struct conf_file *cf = parse(
		"#web server\n"
		"arch: amd64\n"
		"hostname: web\n"
		"memory: 1024\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"mp1: /srv/share,mp=/share\n"
		"rootfs: local:vm-100-disk-0,size=8G\n"
		"unused0: local:vm-100-disk-9\n"
		"lxc.apparmor.profile: unconfined\n"
		"lxc.cgroup2.devices.allow: c 10:200 rwm\n");

	ck_assert_int_eq(conf_snapshot_prepare(cf, "first", "before upgrade", 1700000000, errmsg),
	                 0);

	assert_config(cf,
		"#web server\n"
		"arch: amd64\n"
		"hostname: web\n"
		"lock: snapshot\n"
		"memory: 1024\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"mp1: /srv/share,mp=/share\n"
		"rootfs: local:vm-100-disk-0,size=8G\n"
		"unused0: local:vm-100-disk-9\n"
		"lxc.apparmor.profile: unconfined\n"
		"lxc.cgroup2.devices.allow: c 10:200 rwm\n"
		"\n"
		"[first]\n"
		"#before upgrade\n"
		"arch: amd64\n"
		"hostname: web\n"
		"memory: 1024\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"mp1: /srv/share,mp=/share\n"
		"rootfs: local:vm-100-disk-0,size=8G\n"
		"snapstate: prepare\n"
		"snaptime: 1700000000\n"
		"lxc.apparmor.profile: unconfined\n"
		"lxc.cgroup2.devices.allow: c 10:200 rwm\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_prepare_copy_rules)
{
	struct conf_file *cf = parse(
		"#current notes\n"
		"digest: 0123abcd\n"
		"hostname: ct\n"
		"parent: old\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 500\n"
		"unused0: local:vm-100-disk-8\n"
		"unused12: local:vm-100-disk-9\n"
		"vmstate: local:vm-100-state-old\n"
		"\n"
		"[old]\n"
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 500\n");

	/* The reader keeps a `snapstate:` line of the main section aside, so
	 * set the key in memory to see that it is not copied either. */
	ck_assert_int_eq(conf_set(conf_main(cf), "snapstate", "delete"), 0);

	ck_assert_int_eq(conf_snapshot_prepare(cf, "second", NULL, 900, errmsg), 0);

	assert_config(cf,
		"#current notes\n"
		"digest: 0123abcd\n"
		"hostname: ct\n"
		"lock: snapshot\n"
		"parent: old\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snapstate: delete\n"
		"snaptime: 500\n"
		"unused0: local:vm-100-disk-8\n"
		"unused12: local:vm-100-disk-9\n"
		"vmstate: local:vm-100-state-old\n"
		"\n"
		"[old]\n"
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 500\n"
		"\n"
		"[second]\n"
		"hostname: ct\n"
		"parent: old\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snapstate: prepare\n"
		"snaptime: 900\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_prepare_parent_chain)
{
	struct conf_file *cf = parse(
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n");

	create_snapshot(cf, "s1", 1000);
	create_snapshot(cf, "s2", 2000);
	create_snapshot(cf, "s3", 3000);

	assert_config(cf,
		"hostname: ct\n"
		"parent: s3\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"\n"
		"[s1]\n"
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 1000\n"
		"\n"
		"[s2]\n"
		"hostname: ct\n"
		"parent: s1\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 2000\n"
		"\n"
		"[s3]\n"
		"hostname: ct\n"
		"parent: s2\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 3000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_prepare_drops_stale_parent)
{
	/* [later] names a deleted snapshot `gone` as its parent: a new
	 * `gone` must not become its parent, or the chain would loop. */
	struct conf_file *cf = parse(
		"hostname: ct\n"
		"parent: later\n"
		"\n"
		"[later]\n"
		"hostname: ct\n"
		"parent: gone\n"
		"snaptime: 1000\n");

	ck_assert_int_eq(conf_snapshot_prepare(cf, "gone", NULL, 2000, errmsg), 0);

	assert_config(cf,
		"hostname: ct\n"
		"lock: snapshot\n"
		"parent: later\n"
		"\n"
		"[gone]\n"
		"hostname: ct\n"
		"parent: later\n"
		"snapstate: prepare\n"
		"snaptime: 2000\n"
		"\n"
		"[later]\n"
		"hostname: ct\n"
		"snaptime: 1000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_prepare_multiline_comment)
{
	struct conf_file *cf = parse("hostname: ct\n");

	ck_assert_int_eq(conf_snapshot_prepare(cf, "first", "line one\nline: two", 1, errmsg), 0);

	assert_config(cf,
		"hostname: ct\n"
		"lock: snapshot\n"
		"\n"
		"[first]\n"
		"#line one\n"
		"#line%3A two\n"
		"hostname: ct\n"
		"snapstate: prepare\n"
		"snaptime: 1\n");
	ck_assert_str_eq(conf_snapshot(cf, "first")->description, "line one\nline: two\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_prepare_duplicate_name)
{
	struct conf_file *cf = parse(one_snapshot);

	ck_assert_int_eq(conf_snapshot_prepare(cf, "first", NULL, 2000, errmsg), -EEXIST);
	ck_assert_str_eq(errmsg, "snapshot name 'first' already used");
	assert_config(cf, one_snapshot);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_prepare_bad_name)
{
	static const char *const names[] = { "1st", "x", "snap.1", "current", "vzdump",
		                             "a2345678901234567890123456789012345678901" };
	struct conf_file *cf = parse(one_snapshot);

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		clear_errmsg();
		ck_assert_int_eq(conf_snapshot_prepare(cf, names[i], NULL, 2000, errmsg), -EINVAL);
		ck_assert_str_ne(errmsg, "");
		assert_config(cf, one_snapshot);
	}
	conf_file_free(cf);
}
END_TEST

/* Loop test over lock_values. */
START_TEST(test_prepare_locked)
{
	char text[256], expected[CONF_ERRMSG_SIZE];
	struct conf_file *cf;

	snprintf(text, sizeof(text), "hostname: ct\nlock: %s\n", lock_values[_i]);
	cf = parse(text);
	snprintf(expected, sizeof(expected), "CT is locked (%s)", lock_values[_i]);

	ck_assert_int_eq(conf_snapshot_prepare(cf, "second", NULL, 2000, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, expected);
	assert_config(cf, text);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_prepare_template)
{
	static const char text[] =
		"hostname: ct\n"
		"rootfs: local:base-100-disk-0,size=4G\n"
		"template: 1\n";
	struct conf_file *cf = parse(text);

	ck_assert_int_eq(conf_snapshot_prepare(cf, "first", NULL, 2000, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "you can't take a snapshot if it's a template");
	assert_config(cf, text);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_prepare_not_template_when_zero)
{
	struct conf_file *cf = parse("hostname: ct\ntemplate: 0\n");

	ck_assert_int_eq(conf_snapshot_prepare(cf, "first", NULL, 2000, errmsg), 0);
	conf_file_free(cf);
}
END_TEST

/* ---- conf_snapshot_commit ---- */

START_TEST(test_commit_ok)
{
	struct conf_file *cf = parse(
		"hostname: ct\n"
		"lock: snapshot\n"
		"parent: old\n"
		"\n"
		"[new]\n"
		"hostname: ct\n"
		"parent: old\n"
		"snapstate: prepare\n"
		"snaptime: 2000\n"
		"\n"
		"[old]\n"
		"hostname: ct\n"
		"snaptime: 1000\n");

	ck_assert_int_eq(conf_snapshot_commit(cf, "new", errmsg), 0);

	assert_config(cf,
		"hostname: ct\n"
		"parent: new\n"
		"\n"
		"[new]\n"
		"hostname: ct\n"
		"parent: old\n"
		"snaptime: 2000\n"
		"\n"
		"[old]\n"
		"hostname: ct\n"
		"snaptime: 1000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_commit_without_lock)
{
	static const char text[] =
		"hostname: ct\n"
		"\n"
		"[new]\n"
		"hostname: ct\n"
		"snapstate: prepare\n"
		"snaptime: 2000\n";
	struct conf_file *cf = parse(text);

	ck_assert_int_eq(conf_snapshot_commit(cf, "new", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "missing snapshot lock");
	assert_config(cf, text);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_commit_other_lock)
{
	static const char text[] =
		"hostname: ct\n"
		"lock: backup\n"
		"\n"
		"[new]\n"
		"hostname: ct\n"
		"snapstate: prepare\n"
		"snaptime: 2000\n";
	struct conf_file *cf = parse(text);

	ck_assert_int_eq(conf_snapshot_commit(cf, "new", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "missing snapshot lock");
	assert_config(cf, text);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_commit_wrong_state)
{
	static const char *const states[] = { NULL, "delete" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		struct conf_file *cf = parse(one_snapshot);

		set_lock(cf, "snapshot");
		if (states[i] != NULL)
			conf_set(conf_snapshot(cf, "first"), "snapstate", states[i]);

		ck_assert_int_eq(conf_snapshot_commit(cf, "first", errmsg), -EINVAL);
		ck_assert_str_eq(errmsg, "wrong snapshot state");
		ck_assert_str_eq(conf_get(conf_main(cf), "lock"), "snapshot");
		conf_file_free(cf);
	}
}
END_TEST

START_TEST(test_commit_missing_snapshot)
{
	struct conf_file *cf = parse(one_snapshot);

	set_lock(cf, "snapshot");
	ck_assert_int_eq(conf_snapshot_commit(cf, "nosuch", errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "snapshot 'nosuch' does not exist");
	conf_file_free(cf);
}
END_TEST

/* ---- conf_snapshot_delete_prepare ---- */

START_TEST(test_delete_prepare_ok)
{
	struct conf_file *cf = parse(one_snapshot);

	ck_assert_int_eq(conf_snapshot_delete_prepare(cf, "first", false, errmsg), 0);

	assert_config(cf,
		"hostname: ct\n"
		"lock: snapshot-delete\n"
		"parent: first\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"\n"
		"[first]\n"
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snapstate: delete\n"
		"snaptime: 1000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_prepare_missing)
{
	struct conf_file *cf = parse(one_snapshot);

	ck_assert_int_eq(conf_snapshot_delete_prepare(cf, "nosuch", false, errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "snapshot 'nosuch' does not exist");
	assert_config(cf, one_snapshot);
	conf_file_free(cf);
}
END_TEST

/* Loop test over lock_values. */
START_TEST(test_delete_prepare_locked)
{
	char expected[CONF_ERRMSG_SIZE];
	struct conf_file *cf = parse(one_snapshot);

	set_lock(cf, lock_values[_i]);
	snprintf(expected, sizeof(expected), "CT is locked (%s)", lock_values[_i]);

	ck_assert_int_eq(conf_snapshot_delete_prepare(cf, "first", false, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, expected);
	ck_assert_str_eq(conf_get(conf_main(cf), "lock"), lock_values[_i]);
	ck_assert_ptr_null(conf_get(conf_snapshot(cf, "first"), "snapstate"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_prepare_force_after_failed_create)
{
	struct conf_file *cf = parse(
		"hostname: ct\n"
		"lock: snapshot\n"
		"\n"
		"[first]\n"
		"hostname: ct\n"
		"snapstate: prepare\n"
		"snaptime: 1000\n");

	ck_assert_int_eq(conf_snapshot_delete_prepare(cf, "first", true, errmsg), 0);

	assert_config(cf,
		"hostname: ct\n"
		"lock: snapshot-delete\n"
		"\n"
		"[first]\n"
		"hostname: ct\n"
		"snapstate: delete\n"
		"snaptime: 1000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_prepare_force_other_lock)
{
	struct conf_file *cf = parse(one_snapshot);

	set_lock(cf, "backup");
	ck_assert_int_eq(conf_snapshot_delete_prepare(cf, "first", true, errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, "CT is locked (backup)");
	ck_assert_str_eq(conf_get(conf_main(cf), "lock"), "backup");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_prepare_template)
{
	static const char text[] =
		"hostname: ct\n"
		"template: 1\n"
		"\n"
		"[first]\n"
		"hostname: ct\n"
		"snaptime: 1000\n";
	struct conf_file *cf = parse(text);

	ck_assert_int_eq(conf_snapshot_delete_prepare(cf, "first", false, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "you can't delete a snapshot if vm is a template");
	assert_config(cf, text);
	conf_file_free(cf);
}
END_TEST

/* ---- conf_snapshot_delete_commit ---- */

/* Three snapshots s1 <- s2 <- s3 <- current. */
static const char three_snapshots[] =
	"hostname: ct\n"
	"parent: s3\n"
	"rootfs: local:vm-100-disk-0,size=4G\n"
	"\n"
	"[s1]\n"
	"hostname: ct\n"
	"rootfs: local:vm-100-disk-0,size=4G\n"
	"snaptime: 1000\n"
	"\n"
	"[s2]\n"
	"hostname: ct\n"
	"parent: s1\n"
	"rootfs: local:vm-100-disk-0,size=4G\n"
	"snaptime: 2000\n"
	"\n"
	"[s3]\n"
	"hostname: ct\n"
	"parent: s2\n"
	"rootfs: local:vm-100-disk-0,size=4G\n"
	"snaptime: 3000\n";

START_TEST(test_delete_commit_middle)
{
	struct conf_file *cf = parse(three_snapshots);

	delete_snapshot(cf, "s2");

	assert_config(cf,
		"hostname: ct\n"
		"parent: s3\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"\n"
		"[s1]\n"
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 1000\n"
		"\n"
		"[s3]\n"
		"hostname: ct\n"
		"parent: s1\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 3000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_commit_newest)
{
	struct conf_file *cf = parse(three_snapshots);

	delete_snapshot(cf, "s3");

	assert_config(cf,
		"hostname: ct\n"
		"parent: s2\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"\n"
		"[s1]\n"
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 1000\n"
		"\n"
		"[s2]\n"
		"hostname: ct\n"
		"parent: s1\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 2000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_commit_oldest_without_parent)
{
	struct conf_file *cf = parse(three_snapshots);

	delete_snapshot(cf, "s1");

	assert_config(cf,
		"hostname: ct\n"
		"parent: s3\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"\n"
		"[s2]\n"
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 2000\n"
		"\n"
		"[s3]\n"
		"hostname: ct\n"
		"parent: s2\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 3000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_commit_only_snapshot)
{
	struct conf_file *cf = parse(one_snapshot);

	delete_snapshot(cf, "first");

	assert_config(cf,
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_commit_parent_missing)
{
	/* [s2] names a parent that no longer exists: its child takes the
	 * same name over, as pct does, and nothing else changes. */
	struct conf_file *cf = parse(
		"hostname: ct\n"
		"parent: s3\n"
		"\n"
		"[s2]\n"
		"hostname: ct\n"
		"parent: gone\n"
		"snaptime: 2000\n"
		"\n"
		"[s3]\n"
		"hostname: ct\n"
		"parent: s2\n"
		"snaptime: 3000\n");

	delete_snapshot(cf, "s2");

	assert_config(cf,
		"hostname: ct\n"
		"parent: s3\n"
		"\n"
		"[s3]\n"
		"hostname: ct\n"
		"parent: gone\n"
		"snaptime: 3000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_commit_unused_volumes)
{
	/* [old] alone mounts disk-2 (as mp1) and disk-4 (as rootfs through
	 * `volume=`); disk-0 is the current rootfs, disk-3 is in [other],
	 * disk-5 is already unused0, and the others are a bind mount and a
	 * device. */
	struct conf_file *cf = parse(
		"hostname: ct\n"
		"lock: snapshot-delete\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"unused0: local:vm-100-disk-5\n"
		"\n"
		"[old]\n"
		"hostname: ct\n"
		"mp0: local:vm-100-disk-0,mp=/data\n"
		"mp1: local:vm-100-disk-2,mp=/logs\n"
		"mp10: local:vm-100-disk-5,mp=/cache\n"
		"mp2: /srv/share,mp=/share\n"
		"mp3: /dev/sdb1,mp=/raw\n"
		"mp4: local:vm-100-disk-3,mp=/spool\n"
		"rootfs: size=4G,volume=local:vm-100-disk-4\n"
		"snapstate: delete\n"
		"snaptime: 1000\n"
		"\n"
		"[other]\n"
		"hostname: ct\n"
		"mp0: local:vm-100-disk-3,mp=/spool\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 2000\n");

	ck_assert_int_eq(conf_snapshot_delete_commit(cf, "old", errmsg), 0);

	assert_config(cf,
		"hostname: ct\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"unused0: local:vm-100-disk-5\n"
		"unused1: local:vm-100-disk-4\n"
		"unused2: local:vm-100-disk-2\n"
		"\n"
		"[other]\n"
		"hostname: ct\n"
		"mp0: local:vm-100-disk-3,mp=/spool\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 2000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_commit_without_lock)
{
	struct conf_file *cf = parse(one_snapshot);

	ck_assert_int_eq(conf_snapshot_delete_commit(cf, "first", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "encountered invalid lock, expected 'snapshot-delete'");
	assert_config(cf, one_snapshot);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_delete_commit_missing)
{
	struct conf_file *cf = parse(one_snapshot);

	set_lock(cf, "snapshot-delete");
	ck_assert_int_eq(conf_snapshot_delete_commit(cf, "nosuch", errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "snapshot 'nosuch' does not exist");
	ck_assert_ptr_nonnull(conf_snapshot(cf, "first"));
	conf_file_free(cf);
}
END_TEST

/* ---- conf_snapshot_rollback_prepare ---- */

START_TEST(test_rollback_prepare_ok)
{
	struct conf_file *cf = parse(one_snapshot);

	ck_assert_int_eq(conf_snapshot_rollback_prepare(cf, "first", errmsg), 0);

	assert_config(cf,
		"hostname: ct\n"
		"lock: rollback\n"
		"parent: first\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"\n"
		"[first]\n"
		"hostname: ct\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 1000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_rollback_prepare_missing)
{
	struct conf_file *cf = parse(one_snapshot);

	ck_assert_int_eq(conf_snapshot_rollback_prepare(cf, "nosuch", errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "snapshot 'nosuch' does not exist");
	assert_config(cf, one_snapshot);
	conf_file_free(cf);
}
END_TEST

/* Loop test over lock_values. */
START_TEST(test_rollback_prepare_locked)
{
	char expected[CONF_ERRMSG_SIZE];
	struct conf_file *cf = parse(one_snapshot);

	set_lock(cf, lock_values[_i]);
	snprintf(expected, sizeof(expected), "CT is locked (%s)", lock_values[_i]);

	ck_assert_int_eq(conf_snapshot_rollback_prepare(cf, "first", errmsg), -EBUSY);
	ck_assert_str_eq(errmsg, expected);
	ck_assert_str_eq(conf_get(conf_main(cf), "lock"), lock_values[_i]);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_rollback_prepare_incomplete)
{
	struct conf_file *cf = parse(one_snapshot);

	conf_set(conf_snapshot(cf, "first"), "snapstate", "prepare");
	ck_assert_int_eq(conf_snapshot_rollback_prepare(cf, "first", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "unable to rollback to incomplete snapshot (snapstate = prepare)");
	ck_assert_ptr_null(conf_get(conf_main(cf), "lock"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_rollback_prepare_template)
{
	struct conf_file *cf = parse(one_snapshot);

	conf_set(conf_main(cf), "template", "1");
	ck_assert_int_eq(conf_snapshot_rollback_prepare(cf, "first", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "you can't rollback if vm is a template");
	ck_assert_ptr_null(conf_get(conf_main(cf), "lock"));
	conf_file_free(cf);
}
END_TEST

/* ---- conf_snapshot_rollback_commit ---- */

START_TEST(test_rollback_commit_restores)
{
	/* Since [first], memory changed, mp1 (disk-2) and a bind mount were
	 * added, and the raw lxc.* entries changed. disk-7 was already unused
	 * and stays so; disk-2 becomes unused. */
	struct conf_file *cf = parse(
		"#current notes\n"
		"hostname: ct\n"
		"lock: rollback\n"
		"memory: 2048\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"mp1: local:vm-100-disk-2,mp=/logs\n"
		"mp2: /srv/share,mp=/share\n"
		"parent: second\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"unused0: local:vm-100-disk-7\n"
		"lxc.apparmor.profile: unconfined\n"
		"\n"
		"[pve:pending]\n"
		"memory: 4096\n"
		"\n"
		"[first]\n"
		"#old comment\n"
		"hostname: ct\n"
		"memory: 512\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 1000\n"
		"lxc.cgroup2.devices.allow: c 10:200 rwm\n"
		"\n"
		"[second]\n"
		"hostname: ct\n"
		"memory: 2048\n"
		"parent: first\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 2000\n");

	ck_assert_int_eq(conf_snapshot_rollback_commit(cf, "first", errmsg), 0);

	assert_config(cf,
		"#current notes\n"
		"hostname: ct\n"
		"memory: 512\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"parent: first\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"unused0: local:vm-100-disk-7\n"
		"unused1: local:vm-100-disk-2\n"
		"lxc.cgroup2.devices.allow: c 10:200 rwm\n"
		"\n"
		"[first]\n"
		"#old comment\n"
		"hostname: ct\n"
		"memory: 512\n"
		"mp0: local:vm-100-disk-1,mp=/data\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 1000\n"
		"lxc.cgroup2.devices.allow: c 10:200 rwm\n"
		"\n"
		"[second]\n"
		"hostname: ct\n"
		"memory: 2048\n"
		"parent: first\n"
		"rootfs: local:vm-100-disk-0,size=4G\n"
		"snaptime: 2000\n");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_rollback_commit_snapshot_parent_replaced)
{
	struct conf_file *cf = parse(
		"hostname: new\n"
		"lock: rollback\n"
		"parent: s2\n"
		"\n"
		"[s1]\n"
		"hostname: one\n"
		"snaptime: 1000\n"
		"\n"
		"[s2]\n"
		"hostname: two\n"
		"parent: s1\n"
		"snaptime: 2000\n");

	ck_assert_int_eq(conf_snapshot_rollback_commit(cf, "s2", errmsg), 0);

	ck_assert_str_eq(conf_get(conf_main(cf), "parent"), "s2");
	ck_assert_str_eq(conf_get(conf_main(cf), "hostname"), "two");
	ck_assert_ptr_null(conf_get(conf_main(cf), "lock"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_rollback_commit_without_lock)
{
	struct conf_file *cf = parse(one_snapshot);

	ck_assert_int_eq(conf_snapshot_rollback_commit(cf, "first", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "got wrong lock");
	assert_config(cf, one_snapshot);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_rollback_commit_missing)
{
	struct conf_file *cf = parse(one_snapshot);

	set_lock(cf, "rollback");
	ck_assert_int_eq(conf_snapshot_rollback_commit(cf, "nosuch", errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "snapshot 'nosuch' does not exist");
	ck_assert_str_eq(conf_get(conf_main(cf), "lock"), "rollback");
	conf_file_free(cf);
}
END_TEST

/* ---- suite ---- */

static TCase *check_name_case(void)
{
	TCase *tc = tcase_create("conf_snapshot_check_name");

	tcase_add_test(tc, test_check_name_valid);
	tcase_add_test(tc, test_check_name_bad_format);
	tcase_add_test(tc, test_check_name_null);
	tcase_add_test(tc, test_check_name_too_long);
	tcase_add_test(tc, test_check_name_reserved);
	tcase_add_test(tc, test_check_name_reserved_case_sensitive);
	return tc;
}

static TCase *check_lock_case(void)
{
	TCase *tc = tcase_create("conf_check_lock");

	tcase_add_test(tc, test_check_lock_unlocked);
	tcase_add_loop_test(tc, test_check_lock_each_value, 0, N_LOCK_VALUES);
	return tc;
}

static TCase *prepare_case(void)
{
	TCase *tc = tcase_create("conf_snapshot_prepare");

	tcase_add_test(tc, test_prepare_fresh_config);
	tcase_add_test(tc, test_prepare_copy_rules);
	tcase_add_test(tc, test_prepare_parent_chain);
	tcase_add_test(tc, test_prepare_drops_stale_parent);
	tcase_add_test(tc, test_prepare_multiline_comment);
	tcase_add_test(tc, test_prepare_duplicate_name);
	tcase_add_test(tc, test_prepare_bad_name);
	tcase_add_loop_test(tc, test_prepare_locked, 0, N_LOCK_VALUES);
	tcase_add_test(tc, test_prepare_template);
	tcase_add_test(tc, test_prepare_not_template_when_zero);
	return tc;
}

static TCase *commit_case(void)
{
	TCase *tc = tcase_create("conf_snapshot_commit");

	tcase_add_test(tc, test_commit_ok);
	tcase_add_test(tc, test_commit_without_lock);
	tcase_add_test(tc, test_commit_other_lock);
	tcase_add_test(tc, test_commit_wrong_state);
	tcase_add_test(tc, test_commit_missing_snapshot);
	return tc;
}

static TCase *delete_prepare_case(void)
{
	TCase *tc = tcase_create("conf_snapshot_delete_prepare");

	tcase_add_test(tc, test_delete_prepare_ok);
	tcase_add_test(tc, test_delete_prepare_missing);
	tcase_add_loop_test(tc, test_delete_prepare_locked, 0, N_LOCK_VALUES);
	tcase_add_test(tc, test_delete_prepare_force_after_failed_create);
	tcase_add_test(tc, test_delete_prepare_force_other_lock);
	tcase_add_test(tc, test_delete_prepare_template);
	return tc;
}

static TCase *delete_commit_case(void)
{
	TCase *tc = tcase_create("conf_snapshot_delete_commit");

	tcase_add_test(tc, test_delete_commit_middle);
	tcase_add_test(tc, test_delete_commit_newest);
	tcase_add_test(tc, test_delete_commit_oldest_without_parent);
	tcase_add_test(tc, test_delete_commit_only_snapshot);
	tcase_add_test(tc, test_delete_commit_parent_missing);
	tcase_add_test(tc, test_delete_commit_unused_volumes);
	tcase_add_test(tc, test_delete_commit_without_lock);
	tcase_add_test(tc, test_delete_commit_missing);
	return tc;
}

static TCase *rollback_prepare_case(void)
{
	TCase *tc = tcase_create("conf_snapshot_rollback_prepare");

	tcase_add_test(tc, test_rollback_prepare_ok);
	tcase_add_test(tc, test_rollback_prepare_missing);
	tcase_add_loop_test(tc, test_rollback_prepare_locked, 0, N_LOCK_VALUES);
	tcase_add_test(tc, test_rollback_prepare_incomplete);
	tcase_add_test(tc, test_rollback_prepare_template);
	return tc;
}

static TCase *rollback_commit_case(void)
{
	TCase *tc = tcase_create("conf_snapshot_rollback_commit");

	tcase_add_test(tc, test_rollback_commit_restores);
	tcase_add_test(tc, test_rollback_commit_snapshot_parent_replaced);
	tcase_add_test(tc, test_rollback_commit_without_lock);
	tcase_add_test(tc, test_rollback_commit_missing);
	return tc;
}

int main(void)
{
	Suite *s = suite_create("snapshot");
	SRunner *sr;
	int failed;

	suite_add_tcase(s, check_name_case());
	suite_add_tcase(s, check_lock_case());
	suite_add_tcase(s, prepare_case());
	suite_add_tcase(s, commit_case());
	suite_add_tcase(s, delete_prepare_case());
	suite_add_tcase(s, delete_commit_case());
	suite_add_tcase(s, rollback_prepare_case());
	suite_add_tcase(s, rollback_commit_case());

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
