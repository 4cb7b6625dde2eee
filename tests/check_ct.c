/* Unit tests of the pure parts of the container operations (ctmgr/ct.h):
 * /.vmlist parsing, pending changes, hot keys, mount point hot-plug, CPU
 * lists, cgroup changes, the volumes of a section, the storage check of new
 * volumes, the warnings about a config and its duplicate keys. The
 * operations themselves run against real
 * LXC in tests/system/ct-local.test. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ctmgr/ct.h"
#include "ctmgr/ct_internal.h"

static struct conf_file *parse(const char *text)
{
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, strlen(text), NULL, &cf), 0);
	return cf;
}

/* ---- ctm_vmlist_parse ---- */

START_TEST(test_vmlist_parse_sorted)
{
	const char *text = "{\"version\": 7, \"ids\": {"
	                   "\"9902\": {\"node\": \"b\", \"type\": \"lxc\", \"version\": 5},"
	                   "\"100\": {\"node\": \"a\", \"type\": \"qemu-server\", \"version\": 3},"
	                   "\"9901\": {\"node\": \"a\", \"type\": \"lxc\", \"version\": 6}}}";
	struct ctm_vmlist_entry *list = NULL;
	size_t n = 0;

	ck_assert_int_eq(ctm_vmlist_parse(text, &list, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(list[0].ctid, 100);
	ck_assert(!list[0].lxc);
	ck_assert_uint_eq(list[1].ctid, 9901);
	ck_assert_str_eq(list[1].node, "a");
	ck_assert(list[1].lxc);
	ck_assert_uint_eq(list[1].version, 6);
	ck_assert_uint_eq(list[2].ctid, 9902);
	ck_assert_str_eq(list[2].node, "b");
	free(list);
}
END_TEST

START_TEST(test_vmlist_parse_empty)
{
	struct ctm_vmlist_entry *list = NULL;
	size_t n = 1;

	ck_assert_int_eq(ctm_vmlist_parse("{\"version\": 1, \"ids\": {}}", &list, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(list);
}
END_TEST

START_TEST(test_vmlist_parse_bad)
{
	struct ctm_vmlist_entry *list = NULL;
	size_t n = 0;

	ck_assert_int_eq(ctm_vmlist_parse("not json", &list, &n), -EBADMSG);
	ck_assert_int_eq(ctm_vmlist_parse("{\"version\": 1}", &list, &n), -EBADMSG);
	ck_assert_int_eq(
	    ctm_vmlist_parse("{\"ids\": {\"x1\": {\"node\": \"a\", \"type\": \"lxc\"}}}", &list,
	                     &n),
	    -EBADMSG);
	ck_assert_int_eq(ctm_vmlist_parse("{\"ids\": {\"101\": {\"type\": \"lxc\"}}}", &list, &n),
	                 -EBADMSG);
}
END_TEST

/* ---- ctm_ct_apply_pending ---- */

START_TEST(test_apply_pending_sets_and_deletes)
{
	struct conf_file *cf = parse("hostname: old\nmemory: 512\nonboot: 1\n\n"
	                             "[pve:pending]\nhostname: new\ndelete: onboot,cores\n");
	bool changed = false;

	ck_assert_int_eq(ctm_ct_apply_pending(cf, &changed), 0);
	ck_assert(changed);
	ck_assert_ptr_null(conf_pending(cf));
	ck_assert_str_eq(conf_get(conf_main(cf), "hostname"), "new");
	ck_assert_str_eq(conf_get(conf_main(cf), "memory"), "512");
	ck_assert_ptr_null(conf_get(conf_main(cf), "onboot"));
	ck_assert_ptr_null(conf_get(conf_main(cf), "delete"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_apply_pending_none)
{
	struct conf_file *cf = parse("hostname: old\n");
	bool changed = true;

	ck_assert_int_eq(ctm_ct_apply_pending(cf, &changed), 0);
	ck_assert(!changed);
	ck_assert_str_eq(conf_get(conf_main(cf), "hostname"), "old");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_apply_pending_keeps_snapshots)
{
	struct conf_file *cf = parse("memory: 512\nparent: s1\n\n[pve:pending]\nmemory: 1024\n\n"
	                             "[s1]\nmemory: 256\nsnaptime: 1\n");
	bool changed = false;

	ck_assert_int_eq(ctm_ct_apply_pending(cf, &changed), 0);
	ck_assert_str_eq(conf_get(conf_main(cf), "memory"), "1024");
	ck_assert_ptr_nonnull(conf_snapshot(cf, "s1"));
	ck_assert_str_eq(conf_get(conf_snapshot(cf, "s1"), "memory"), "256");
	conf_file_free(cf);
}
END_TEST

START_TEST(test_apply_pending_description_env)
{
	struct conf_file *cf = parse("#old text\nmemory: 512\nlxc.environment.runtime: A=1\n\n"
	                             "[pve:pending]\n#new text\nlxc.environment.runtime: B=2\n");
	struct conf_section *m;
	bool changed = false;

	ck_assert_int_eq(ctm_ct_apply_pending(cf, &changed), 0);
	ck_assert(changed);
	m = conf_main(cf);
	ck_assert_str_eq(m->description, "new text\n");
	ck_assert_uint_eq(m->n_raw, 1);
	ck_assert_str_eq(m->raw[0].key, "lxc.environment.runtime");
	ck_assert_str_eq(m->raw[0].value, "B=2");
	conf_file_free(cf);
}
END_TEST

/* ---- ctm_ct_hot_key ---- */

START_TEST(test_hot_key_list)
{
	ck_assert(ctm_ct_hot_key("memory"));
	ck_assert(ctm_ct_hot_key("swap"));
	ck_assert(ctm_ct_hot_key("cores"));
	ck_assert(ctm_ct_hot_key("cpulimit"));
	ck_assert(ctm_ct_hot_key("cpuunits"));
	ck_assert(!ctm_ct_hot_key("hostname"));
	ck_assert(!ctm_ct_hot_key("net0"));
	ck_assert(!ctm_ct_hot_key("memoryx"));
}
END_TEST

/* ---- ctm_ct_hotplug_key ---- */

START_TEST(test_mp_hotplug_new_mp)
{
	struct conf_file *cf = parse("mp0: /srv/a,mp=/a\nrootfs: local:0\n");

	ck_assert(ctm_ct_hotplug_key(conf_main(cf), "mp1", false));
	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "mp0", false));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_mp_hotplug_delete)
{
	struct conf_file *cf = parse("mp0: /srv/a,mp=/a\nrootfs: local:0\n");

	ck_assert(ctm_ct_hotplug_key(conf_main(cf), "mp0", true));
	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "mp1", true));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_mp_hotplug_new_dev)
{
	struct conf_file *cf = parse("dev0: /dev/null\nrootfs: local:0\n");

	ck_assert(ctm_ct_hotplug_key(conf_main(cf), "dev1", false));
	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "dev0", false));
	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "dev0", true));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_mp_hotplug_other_keys)
{
	struct conf_file *cf = parse("rootfs: local:0\n");

	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "rootfs", true));
	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "dev", false));
	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "unused0", false));
	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "mp", false));
	ck_assert(!ctm_ct_hotplug_key(conf_main(cf), "mpx", false));
	conf_file_free(cf);
}
END_TEST

/* ---- ctm_cpulist_parse ---- */

START_TEST(test_cpulist_parse_ranges)
{
	bool set[8] = {false};
	int max = -1;

	ck_assert_int_eq(ctm_cpulist_parse("0-2,5\n", set, 8, &max), 0);
	ck_assert(set[0]);
	ck_assert(set[1]);
	ck_assert(set[2]);
	ck_assert(!set[3]);
	ck_assert(!set[4]);
	ck_assert(set[5]);
	ck_assert_int_eq(max, 5);
}
END_TEST

START_TEST(test_cpulist_parse_limit)
{
	bool set[4] = {false};
	int max = -1;

	ck_assert_int_eq(ctm_cpulist_parse("2-9", set, 4, &max), 0);
	ck_assert(set[3]);
	ck_assert_int_eq(max, 3);
}
END_TEST

START_TEST(test_cpulist_parse_empty)
{
	bool set[4] = {false};
	int max = -1;

	ck_assert_int_eq(ctm_cpulist_parse("", set, 4, &max), 0);
	ck_assert_int_eq(max, -1);
}
END_TEST

START_TEST(test_cpulist_parse_bad)
{
	bool set[4] = {false};
	int max = -1;

	ck_assert_int_eq(ctm_cpulist_parse("1-", set, 4, &max), -EINVAL);
	ck_assert_int_eq(ctm_cpulist_parse("3-1", set, 4, &max), -EINVAL);
	ck_assert_int_eq(ctm_cpulist_parse("0,", set, 4, &max), -EINVAL);
	ck_assert_int_eq(ctm_cpulist_parse("a", set, 4, &max), -EINVAL);
	ck_assert_int_eq(ctm_cpulist_parse("1 2", set, 4, &max), -EINVAL);
}
END_TEST

START_TEST(test_fastplug_key_list)
{
	ck_assert(ctm_ct_fastplug_key("description"));
	ck_assert(ctm_ct_fastplug_key("onboot"));
	ck_assert(ctm_ct_fastplug_key("startup"));
	ck_assert(ctm_ct_fastplug_key("protection"));
	ck_assert(ctm_ct_fastplug_key("hookscript"));
	ck_assert(ctm_ct_fastplug_key("tags"));
	ck_assert(!ctm_ct_fastplug_key("hostname"));
	ck_assert(!ctm_ct_fastplug_key("memory"));
}
END_TEST

/* ---- ctm_ct_cgroup_changes ---- */

static struct ctm_lxc_config make_config(struct ctm_lxc_item *items, size_t n)
{
	struct ctm_lxc_config c;

	memset(&c, 0, sizeof(c));
	c.items = items;
	c.n_items = n;
	return c;
}

#define V1_MEM(limit, memsw)                                                                       \
	{(char *)"lxc.cgroup.memory.limit_in_bytes", (char *)(limit)},                             \
	{                                                                                          \
		(char *)"lxc.cgroup.memory.memsw.limit_in_bytes", (char *)(memsw)                  \
	}

START_TEST(test_cgroup_changes_v1_grow)
{
	struct ctm_lxc_item old_items[] = {{(char *)"lxc.uts.name", (char *)"a"},
	                                   V1_MEM("268435456", "268435456")};
	struct ctm_lxc_item new_items[] = {{(char *)"lxc.uts.name", (char *)"b"},
	                                   V1_MEM("536870912", "536870912")};
	struct ctm_lxc_config old_cfg = make_config(old_items, 3),
	                      new_cfg = make_config(new_items, 3);
	struct ctm_lxc_item *out = NULL;
	size_t n = 0;

	ck_assert_int_eq(ctm_ct_cgroup_changes(&old_cfg, &new_cfg, &out, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(out[0].key, "memory.memsw.limit_in_bytes");
	ck_assert_str_eq(out[0].value, "536870912");
	ck_assert_str_eq(out[1].key, "memory.limit_in_bytes");
	ck_assert_str_eq(out[1].value, "536870912");
	ctm_lxc_items_free(out, n);
}
END_TEST

START_TEST(test_cgroup_changes_v1_shrink)
{
	struct ctm_lxc_item old_items[] = {V1_MEM("536870912", "536870912")};
	struct ctm_lxc_item new_items[] = {V1_MEM("268435456", "268435456")};
	struct ctm_lxc_config old_cfg = make_config(old_items, 2),
	                      new_cfg = make_config(new_items, 2);
	struct ctm_lxc_item *out = NULL;
	size_t n = 0;

	ck_assert_int_eq(ctm_ct_cgroup_changes(&old_cfg, &new_cfg, &out, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(out[0].key, "memory.limit_in_bytes");
	ck_assert_str_eq(out[1].key, "memory.memsw.limit_in_bytes");
	ctm_lxc_items_free(out, n);
}
END_TEST

START_TEST(test_cgroup_changes_unchanged)
{
	struct ctm_lxc_item items[] = {V1_MEM("268435456", "268435456"),
	                               {(char *)"lxc.cgroup.cpu.shares", (char *)"1024"}};
	struct ctm_lxc_config cfg = make_config(items, 3);
	struct ctm_lxc_item *out = NULL;
	size_t n = 1;

	ck_assert_int_eq(ctm_ct_cgroup_changes(&cfg, &cfg, &out, &n), 0);
	ck_assert_uint_eq(n, 0);
	ctm_lxc_items_free(out, n);
}
END_TEST

START_TEST(test_cgroup_changes_v2_cleared)
{
	struct ctm_lxc_item old_items[] = {{(char *)"lxc.cgroup2.memory.max", (char *)"536870912"},
	                                   {(char *)"lxc.cgroup2.cpu.max", (char *)"50000 100000"},
	                                   {(char *)"lxc.cgroup2.cpu.weight", (char *)"200"},
	                                   {(char *)"lxc.cgroup2.devices.allow", (char *)"a"}};
	struct ctm_lxc_item new_items[] = {{(char *)"lxc.cgroup2.memory.max", (char *)"536870912"},
	                                   {(char *)"lxc.cgroup2.cpuset.cpus", (char *)"0-1"},
	                                   {(char *)"lxc.cgroup2.devices.allow", (char *)"b"}};
	struct ctm_lxc_config old_cfg = make_config(old_items, 4),
	                      new_cfg = make_config(new_items, 3);
	struct ctm_lxc_item *out = NULL;
	size_t n = 0;

	ck_assert_int_eq(ctm_ct_cgroup_changes(&old_cfg, &new_cfg, &out, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out[0].key, "cpuset.cpus");
	ck_assert_str_eq(out[0].value, "0-1");
	ck_assert_str_eq(out[1].key, "cpu.max");
	ck_assert_str_eq(out[1].value, "max 100000");
	ck_assert_str_eq(out[2].key, "cpu.weight");
	ck_assert_str_eq(out[2].value, "100");
	ctm_lxc_items_free(out, n);
}
END_TEST

START_TEST(test_cgroup_changes_last_value_wins)
{
	struct ctm_lxc_item old_items[] = {{(char *)"lxc.cgroup2.memory.max", (char *)"1"}};
	struct ctm_lxc_item new_items[] = {{(char *)"lxc.cgroup2.memory.max", (char *)"2"},
	                                   {(char *)"lxc.cgroup2.memory.max", (char *)"3"}};
	struct ctm_lxc_config old_cfg = make_config(old_items, 1),
	                      new_cfg = make_config(new_items, 2);
	struct ctm_lxc_item *out = NULL;
	size_t n = 0;

	ck_assert_int_eq(ctm_ct_cgroup_changes(&old_cfg, &new_cfg, &out, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(out[0].key, "memory.max");
	ck_assert_str_eq(out[0].value, "3");
	ctm_lxc_items_free(out, n);
}
END_TEST

/* ---- ctm_ct_section_volumes ---- */

START_TEST(test_section_volumes_storage_only)
{
	struct conf_file *cf = parse("rootfs: local:subvol-101-disk-0,size=0\n"
	                             "mp1: /srv/data,mp=/data\n"
	                             "mp0: local:101/vm-101-disk-1.raw,mp=/a,size=1G\n"
	                             "mp2: local:subvol-101-disk-0,mp=/b\n"
	                             "unused0: local:subvol-101-disk-2\n");
	char **v = NULL;

	ck_assert_int_eq(ctm_ct_section_volumes(conf_main(cf), false, &v), 0);
	ck_assert_str_eq(v[0], "local:101/vm-101-disk-1.raw");
	ck_assert_str_eq(v[1], "local:subvol-101-disk-0");
	ck_assert_ptr_null(v[2]);
	ctm_strv_free(v);

	ck_assert_int_eq(ctm_ct_section_volumes(conf_main(cf), true, &v), 0);
	ck_assert_str_eq(v[0], "local:101/vm-101-disk-1.raw");
	ck_assert_str_eq(v[1], "local:subvol-101-disk-0");
	ck_assert_str_eq(v[2], "local:subvol-101-disk-2");
	ck_assert_ptr_null(v[3]);
	ctm_strv_free(v);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_section_volumes_none)
{
	struct conf_file *cf = parse("hostname: x\nrootfs: /srv/ct\n");
	char **v = NULL;

	ck_assert_int_eq(ctm_ct_section_volumes(conf_main(cf), true, &v), 0);
	ck_assert_ptr_null(v[0]);
	ctm_strv_free(v);
	conf_file_free(cf);
}
END_TEST

/* ---- ctm__ct_warn_diags, ctm_ct_drop_shadowed ---- */

/* The warnings ctm__ct_warn_diags() writes for TEXT, a new string. */
static char *warn_text(const char *text)
{
	struct conf_file *cf = parse(text);
	struct ctm_ctx ctx = {0};
	char *out = NULL;
	size_t len = 0;

	ctx.warn = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(ctx.warn);
	ctm__ct_warn_diags(&ctx, 8702, "/nodes/n1/lxc/8702.conf", cf);
	/* Once per command: the same config again adds nothing. */
	ctm__ct_warn_diags(&ctx, 8702, "/nodes/n1/lxc/8702.conf", cf);
	fclose(ctx.warn);
	conf_file_free(cf);
	return out;
}

START_TEST(test_warn_diags_warnings)
{
	/* No errors at all: each warning still gets a line, as in ctconf check. */
	char *out = warn_text("hostname: first\nmemory: 1\nhostname: second\ncores: 99999\n"
	                      "lock: bogus\n[pve:pending]\ndelete: nosuchkey\n");

	ck_assert_str_eq(out,
	                 "warning: CT 8702: /nodes/n1/lxc/8702.conf:1: duplicate key "
	                 "'hostname': line 3 is used\n"
	                 "warning: CT 8702: /nodes/n1/lxc/8702.conf:2: invalid value '1' for "
	                 "'memory': expected an integer from 16 to 1073741824\n"
	                 "warning: CT 8702: /nodes/n1/lxc/8702.conf:4: invalid value '99999' for "
	                 "'cores': expected an integer from 1 to 8192\n"
	                 "warning: CT 8702: /nodes/n1/lxc/8702.conf:5: invalid value 'bogus' for "
	                 "'lock': expected one of backup, create, destroyed, disk, fstrim, "
	                 "migrate, mounted, rollback, snapshot, snapshot-delete\n"
	                 "warning: CT 8702: /nodes/n1/lxc/8702.conf:7: invalid value 'nosuchkey' "
	                 "for 'delete': expected a list of known keys, each optionally prefixed "
	                 "with '!'\n");
	free(out);
}
END_TEST

START_TEST(test_warn_diags_errors_and_warnings)
{
	char *out = warn_text("frob: 1\nmemory: 1\n");

	ck_assert_str_eq(out,
	                 "warning: CT 8702: /nodes/n1/lxc/8702.conf:1: unknown setting 'frob'\n"
	                 "warning: CT 8702: /nodes/n1/lxc/8702.conf:2: invalid value '1' for "
	                 "'memory': expected an integer from 16 to 1073741824\n");
	free(out);
}
END_TEST

START_TEST(test_warn_diags_clean)
{
	char *out = warn_text("hostname: x\nmemory: 512\n");

	ck_assert_str_eq(out, "");
	free(out);
}
END_TEST

START_TEST(test_drop_shadowed)
{
	struct conf_file *cf = parse("hostname: first\nmp0: /a,mp=/a\nhostname: second\n"
	                             "mp0: /b,mp=/b\n!!bad\n[s1]\nmemory: 64\nmemory: 128\n");
	char *text = NULL, msg[CONF_ERRMSG_SIZE];
	unsigned first = 0;
	size_t len = 0;

	ck_assert_uint_eq(ctm_ct_drop_shadowed(cf, &first), 3);
	ck_assert_uint_eq(first, 1);
	ck_assert_int_eq(conf_write(cf, &text, &len, msg), 0);
	/* Only the values in use stay; the unparsable line is kept. */
	ck_assert_str_eq(text, "hostname: second\nmp0: /b,mp=/b\n!!bad\n\n[s1]\nmemory: 128\n");
	free(text);
	/* Deleting the key then removes it entirely. */
	ck_assert_int_eq(conf_delete(conf_main(cf), "hostname"), 0);
	ck_assert_int_eq(conf_write(cf, &text, &len, msg), 0);
	ck_assert_ptr_null(strstr(text, "hostname"));
	free(text);
	ck_assert_uint_eq(ctm_ct_drop_shadowed(cf, NULL), 0);
	conf_file_free(cf);
}
END_TEST

/* ---- ctm_ct_check_alloc_storages ---- */

static const char alloc_storage_cfg[] =
    "dir: local\n\tpath /var/lib/vz\n\tcontent rootdir,vztmpl\n\n"
    "dir: tplonly\n\tpath /srv/t\n\tcontent vztmpl\n\n"
    "dir: off\n\tpath /srv/off\n\tcontent rootdir\n\tdisable\n\n"
    "dir: far\n\tpath /srv/far\n\tcontent rootdir\n"
    "\tnodes other\n";

static void check_alloc(const char *conf, int want, const char *want_msg)
{
	struct ctm_storage_cfg *storage = NULL;
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = parse(conf);

	ck_assert_int_eq(ctm_storage_cfg_parse(alloc_storage_cfg, strlen(alloc_storage_cfg), NULL,
	                                       &storage, errmsg),
	                 0);
	ck_assert_int_eq(ctm_ct_check_alloc_storages(storage, "node1", conf_main(cf), NULL, errmsg),
	                 want);
	if (want_msg)
		ck_assert_msg(strstr(errmsg, want_msg), "'%s' lacks '%s'", errmsg, want_msg);
	conf_file_free(cf);
	ctm_storage_cfg_free(storage);
}

START_TEST(test_alloc_storages_ok)
{
	/* Requests on a storage for containers, volumes and paths pass. */
	check_alloc("rootfs: local:4\nmp0: local:1,mp=/x\nmp1: /srv/d,mp=/d\n"
	            "mp2: nostore:subvol-1-disk-0,mp=/y\n",
	            0, NULL);
}
END_TEST

START_TEST(test_alloc_storages_bad)
{
	check_alloc("rootfs: local:4\nmp0: nostore:1,mp=/x\n", -ENOENT,
	            "mp0 (nostore:1,mp=/x): storage 'nostore' does not exist; or use one of "
	            "the storages for containers: local");
	check_alloc("rootfs: tplonly:1\n", -EINVAL,
	            "rootfs (tplonly:1): storage 'tplonly' does not allow content type 'rootdir'");
	check_alloc("rootfs: off:1\n", -EACCES, "storage 'off' is disabled");
	check_alloc("rootfs: local:1\nmp3: far:1,mp=/z\n", -EACCES,
	            "storage 'far' is not available on node 'node1'");
}
END_TEST

START_TEST(test_alloc_storages_only)
{
	struct ctm_option set[] = {{.key = (char *)"mp1", .value = (char *)"local:1,mp=/y"}};
	struct ctm_options only = {.set = set, .n_set = 1};
	struct ctm_storage_cfg *storage = NULL;
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = parse("rootfs: local:4\nmp0: nostore:1,mp=/x\nmp1: local:1,mp=/y\n");

	ck_assert_int_eq(ctm_storage_cfg_parse(alloc_storage_cfg, strlen(alloc_storage_cfg), NULL,
	                                       &storage, errmsg),
	                 0);
	/* A key the command does not set is left alone. */
	ck_assert_int_eq(
	    ctm_ct_check_alloc_storages(storage, "node1", conf_main(cf), &only, errmsg), 0);
	set[0].key = (char *)"mp0";
	ck_assert_int_eq(
	    ctm_ct_check_alloc_storages(storage, "node1", conf_main(cf), &only, errmsg), -ENOENT);
	conf_file_free(cf);
	ctm_storage_cfg_free(storage);
}
END_TEST

static Suite *ct_suite(void)
{
	Suite *s = suite_create("ct");
	TCase *tc;

	tc = tcase_create("ctm_vmlist_parse");
	tcase_add_test(tc, test_vmlist_parse_sorted);
	tcase_add_test(tc, test_vmlist_parse_empty);
	tcase_add_test(tc, test_vmlist_parse_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_ct_apply_pending");
	tcase_add_test(tc, test_apply_pending_sets_and_deletes);
	tcase_add_test(tc, test_apply_pending_none);
	tcase_add_test(tc, test_apply_pending_keeps_snapshots);
	tcase_add_test(tc, test_apply_pending_description_env);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_ct_hot_key");
	tcase_add_test(tc, test_hot_key_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_ct_fastplug_key");
	tcase_add_test(tc, test_fastplug_key_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_ct_hotplug_key");
	tcase_add_test(tc, test_mp_hotplug_new_mp);
	tcase_add_test(tc, test_mp_hotplug_delete);
	tcase_add_test(tc, test_mp_hotplug_new_dev);
	tcase_add_test(tc, test_mp_hotplug_other_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_cpulist_parse");
	tcase_add_test(tc, test_cpulist_parse_ranges);
	tcase_add_test(tc, test_cpulist_parse_limit);
	tcase_add_test(tc, test_cpulist_parse_empty);
	tcase_add_test(tc, test_cpulist_parse_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_ct_cgroup_changes");
	tcase_add_test(tc, test_cgroup_changes_v1_grow);
	tcase_add_test(tc, test_cgroup_changes_v1_shrink);
	tcase_add_test(tc, test_cgroup_changes_unchanged);
	tcase_add_test(tc, test_cgroup_changes_v2_cleared);
	tcase_add_test(tc, test_cgroup_changes_last_value_wins);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_ct_section_volumes");
	tcase_add_test(tc, test_section_volumes_storage_only);
	tcase_add_test(tc, test_section_volumes_none);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_ct_warn_diags");
	tcase_add_test(tc, test_warn_diags_warnings);
	tcase_add_test(tc, test_warn_diags_errors_and_warnings);
	tcase_add_test(tc, test_warn_diags_clean);
	tcase_add_test(tc, test_drop_shadowed);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_ct_check_alloc_storages");
	tcase_add_test(tc, test_alloc_storages_ok);
	tcase_add_test(tc, test_alloc_storages_bad);
	tcase_add_test(tc, test_alloc_storages_only);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ct_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
