/*
 * Unit tests for dir storages (ctmgr/storage.h): storage.cfg parsing,
 * volume ids, allocation of folder volumes and ext4 images, removal and
 * snapshot copies. Allocation and snapshot tests work in their own
 * mkdtemp folder and run the real mkfs.ext4, debugfs and cp.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctmgr/storage.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define MIB           (1024ULL * 1024ULL)
#define GIB           (1024ULL * MIB)

/* ---- helpers ---- */

static const char *data_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("TEST_DATA_DIR");
	const char *slash;

	if (env != NULL && *env != '\0')
		return env;
	slash = strrchr(__FILE__, '/');
	snprintf(dir, sizeof(dir), "%.*sdata", slash != NULL ? (int)(slash - __FILE__ + 1) : 0,
	         __FILE__);
	return dir;
}

static struct ctm_storage_cfg *parse_ok(const char *text)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_storage_cfg *cfg = NULL;

	ck_assert_msg(ctm_storage_cfg_parse(text, strlen(text), NULL, &cfg, errmsg) == 0, "%s",
	              errmsg);
	return cfg;
}

static char tmp_dir[PATH_MAX];

static void make_tmp(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/check_storage.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void remove_tmp(void)
{
	char command[PATH_MAX + 16];

	snprintf(command, sizeof(command), "rm -rf '%s'", tmp_dir);
	ck_assert_int_eq(system(command), 0);
}

/* A storage.cfg with the dir storage "tmp" in the temporary folder. */
static struct ctm_storage_cfg *tmp_storage(const char *extra)
{
	char text[PATH_MAX + 256];

	snprintf(text, sizeof(text), "dir: tmp\n\tpath %s/store\n\tcontent rootdir,images\n%s",
	         tmp_dir, extra);
	return parse_ok(text);
}

static char *volume_path(const struct ctm_storage_cfg *cfg, const char *volid)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_volume v;
	char *path;

	ck_assert_msg(ctm_volume_resolve(cfg, volid, NULL, &v, errmsg) == 0, "%s", errmsg);
	path = strdup(v.path);
	ctm_volume_clear(&v);
	return path;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(getdelim(&text, &len, '\0', f), 0);
	fclose(f);
	return text;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ---- ctm_storage_cfg_parse ---- */

START_TEST(test_ctm_storage_cfg_parse_sample)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", path[PATH_MAX + 32];
	struct ctm_storage_cfg *cfg = NULL;
	const struct ctm_storage *s;

	snprintf(path, sizeof(path), "%s/storage/storage.cfg", data_dir());
	ck_assert_msg(ctm_storage_cfg_read(path, &cfg, errmsg) == 0, "%s", errmsg);
	ck_assert_uint_eq(cfg->n_storages, 5);

	s = ctm_storage_find(cfg, "local");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->type, "dir");
	ck_assert_str_eq(s->path, "/var/lib/vz");
	ck_assert_uint_eq(s->content, CTM_CONTENT_ISO | CTM_CONTENT_VZTMPL | CTM_CONTENT_BACKUP);
	ck_assert(!s->shared);
	ck_assert(!s->disabled);
	ck_assert(s->create_base_path);
	ck_assert_ptr_null(s->nodes);
	ck_assert_ptr_null(s->is_mountpoint);
	ck_assert_uint_eq(s->line, 2);

	s = ctm_storage_find(cfg, "ssd");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->path, "/mnt/ssd");
	ck_assert_uint_eq(s->content,
	                  CTM_CONTENT_ROOTDIR | CTM_CONTENT_IMAGES | CTM_CONTENT_SNIPPETS);
	ck_assert(s->shared);
	ck_assert(!s->create_base_path);
	ck_assert_str_eq(s->nodes[0], "node1");
	ck_assert_str_eq(s->nodes[1], "node2");
	ck_assert_ptr_null(s->nodes[2]);
	ck_assert_str_eq(s->is_mountpoint, "/mnt/ssd");
	ck_assert_str_eq(s->images_dir, "vm-images");
	ck_assert_str_eq(s->vztmpl_dir, "templates");
	ck_assert_ptr_null(s->snippets_dir);

	s = ctm_storage_find(cfg, "old");
	ck_assert_ptr_nonnull(s);
	ck_assert(s->disabled);
	ck_assert(!s->create_base_path);
	ck_assert_uint_eq(s->content, CTM_CONTENT_IMAGES | CTM_CONTENT_ROOTDIR);

	/* Other types are kept with their type, and noted. */
	s = ctm_storage_find(cfg, "local-lvm");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->type, "lvmthin");
	ck_assert_ptr_null(s->path);
	ck_assert_str_eq(ctm_storage_find(cfg, "backups")->type, "nfs");
	ck_assert_uint_eq(cfg->n_notes, 2);
	ck_assert_ptr_nonnull(strstr(cfg->notes[0], "storage.cfg:6: storage 'local-lvm' of type "
	                                            "'lvmthin' is ignored"));
	ck_assert_ptr_nonnull(strstr(cfg->notes[1], ":22: storage 'backups' of type 'nfs'"));
	ctm_storage_cfg_free(cfg);
}
END_TEST

/* Line ends in CRLF, a file without a final newline, an empty file. */
START_TEST(test_ctm_storage_cfg_parse_line_ends)
{
	struct ctm_storage_cfg *cfg = parse_ok("dir: a1\r\n\tpath /srv/a\r\n\tshared yes\r\n");

	ck_assert_str_eq(ctm_storage_find(cfg, "a1")->path, "/srv/a");
	ck_assert(ctm_storage_find(cfg, "a1")->shared);
	ctm_storage_cfg_free(cfg);

	cfg = parse_ok("dir: a1\n\tpath /srv/a");
	ck_assert_str_eq(ctm_storage_find(cfg, "a1")->path, "/srv/a");
	ctm_storage_cfg_free(cfg);

	{
		const char nul_text[] = "dir: a1\n\tpath /srv\0x\n";
		char errmsg[CONF_ERRMSG_SIZE] = "";

		ck_assert_int_eq(
		    ctm_storage_cfg_parse(nul_text, sizeof(nul_text) - 1, "s.cfg", &cfg, errmsg),
		    -EINVAL);
		ck_assert_str_eq(errmsg, "s.cfg:2: the line contains a NUL byte");
	}

	/* A long nodes list is kept whole. */
	{
		char text[4096] = "dir: a1\n\tpath /srv\n\tnodes ";
		const struct ctm_storage *s;

		for (int i = 0; i < 300; i++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%snode%03d",
			         i ? "," : "", i);
		cfg = parse_ok(text);
		s = ctm_storage_find(cfg, "a1");
		ck_assert_str_eq(s->nodes[0], "node000");
		ck_assert_str_eq(s->nodes[299], "node299");
		ck_assert_ptr_null(s->nodes[300]);
		ctm_storage_cfg_free(cfg);
	}

	cfg = parse_ok("");
	ck_assert_uint_eq(cfg->n_storages, 0);
	ck_assert_ptr_null(ctm_storage_find(cfg, "a1"));
	ctm_storage_cfg_free(cfg);
	ctm_storage_cfg_free(NULL);
}
END_TEST

struct bad_cfg {
	const char *text;
	const char *message;
};

static const struct bad_cfg bad_cfgs[] = {
    {"dir: a1\n\tpath /srv\n\tcolour blue\n",
     "storage.cfg:3: unknown key 'colour' in dir storage 'a1'"},
    {"dir: a1\n\tpath /srv\n\tpath /srv\n", "storage.cfg:3: duplicate key 'path'"},
    {"dir: a1\n\tpath /srv\n\tshared maybe\n", "storage.cfg:3: invalid value 'maybe' for 'shared'"},
    {"dir: a1\n\tpath /srv\n\tcontent rootdir,pictures\n",
     "storage.cfg:3: invalid content type 'pictures'"},
    {"dir: a1\n\tcontent rootdir\n\ndir: b1\n\tpath /srv\n",
     "storage.cfg:1: dir storage 'a1' has no path"},
    {"dir: a1\n\tcontent rootdir\n", "storage.cfg:1: dir storage 'a1' has no path"},
    {"\tpath /srv\n", "storage.cfg:1: indented line 'path /srv' outside a section"},
    {"dir local\n", "storage.cfg:1: expected a section header 'TYPE: ID'"},
    {"dir: a1 b1\n", "storage.cfg:1: expected a section header 'TYPE: ID'"},
    {"dir: a1\n\tpath /a\n\ndir: a1\n\tpath /b\n", "storage.cfg:4: storage 'a1' is defined twice"},
    {"dir: 1a\n\tpath /a\n", "storage.cfg:1: invalid storage id '1a'"},
    {"dir: a1\n\tpath srv\n", "storage.cfg:2: invalid value 'srv' for 'path'"},
    {"dir: a1\n\tpath /srv\n\tnodes\n", "storage.cfg:3: missing value for 'nodes'"},
    {"dir: a1\n\tpath /srv\n\tcontent-dirs images=/abs\n",
     "storage.cfg:3: invalid content-dirs item 'images=/abs'"},
    {"dir: a1\n\tpath /srv\n\tcontent-dirs images=../up\n",
     "storage.cfg:3: invalid content-dirs item 'images=../up'"},
};

START_TEST(test_ctm_storage_cfg_parse_errors)
{
	const struct bad_cfg *bad = &bad_cfgs[_i];
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_storage_cfg *cfg = NULL;
	int rv = ctm_storage_cfg_parse(bad->text, strlen(bad->text), NULL, &cfg, errmsg);

	ck_assert_msg(rv == -EINVAL, "%s: rv %d", bad->text, rv);
	ck_assert_msg(strstr(errmsg, bad->message) != NULL, "message '%s' lacks '%s'", errmsg,
	              bad->message);
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(test_ctm_storage_cfg_parse_read_missing)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_storage_cfg *cfg = NULL;

	ck_assert_int_eq(ctm_storage_cfg_read("/nonexistent/storage.cfg", &cfg, errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "cannot read /nonexistent/storage.cfg: No such file or directory");
	ck_assert_ptr_null(cfg);
}
END_TEST

/* ---- ctm_volume_resolve ---- */

static const char *const resolve_cfg =
    "dir: local\n\tpath /var/lib/vz\n\n"
    "dir: ssd\n\tpath /mnt/ssd\n\tnodes node1\n\tcontent-dirs images=vm,vztmpl=tpl,snippets=sn\n\n"
    "dir: off\n\tpath /srv/off\n\tdisable 1\n\n"
    "zfspool: tank\n\tpool tank/ct\n";

START_TEST(test_ctm_volume_resolve_paths)
{
	static const struct {
		const char *volid;
		enum ctm_volume_kind kind;
		unsigned vmid;
		const char *file, *path;
	} cases[] = {
	    {"local:100/vm-100-disk-0.raw", CTM_VOLUME_RAW, 100, "vm-100-disk-0.raw",
	     "/var/lib/vz/images/100/vm-100-disk-0.raw"},
	    {"local:100/subvol-100-disk-1.subvol", CTM_VOLUME_SUBVOL, 100,
	     "subvol-100-disk-1.subvol", "/var/lib/vz/images/100/subvol-100-disk-1.subvol"},
	    {"local:subvol-100-disk-2", CTM_VOLUME_SUBVOL, 100, "subvol-100-disk-2",
	     "/var/lib/vz/images/100/subvol-100-disk-2"},
	    {"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", CTM_VOLUME_VZTMPL, 0,
	     "debian-12-standard_12.7-1_amd64.tar.zst",
	     "/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst"},
	    {"local:snippets/hook.pl", CTM_VOLUME_SNIPPET, 0, "hook.pl",
	     "/var/lib/vz/snippets/hook.pl"},
	    {"ssd:200/base-200-disk-0.raw", CTM_VOLUME_RAW, 200, "base-200-disk-0.raw",
	     "/mnt/ssd/vm/200/base-200-disk-0.raw"},
	    {"ssd:subvol-300-disk-4", CTM_VOLUME_SUBVOL, 300, "subvol-300-disk-4",
	     "/mnt/ssd/vm/300/subvol-300-disk-4"},
	    {"ssd:vztmpl/alpine.tar.xz", CTM_VOLUME_VZTMPL, 0, "alpine.tar.xz",
	     "/mnt/ssd/tpl/alpine.tar.xz"},
	    {"ssd:snippets/x.sh", CTM_VOLUME_SNIPPET, 0, "x.sh", "/mnt/ssd/sn/x.sh"},
	};
	struct ctm_storage_cfg *cfg = parse_ok(resolve_cfg);

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "";
		struct ctm_volume v;

		ck_assert_msg(ctm_volume_resolve(cfg, cases[i].volid, "node1", &v, errmsg) == 0,
		              "%s: %s", cases[i].volid, errmsg);
		ck_assert_int_eq(v.kind, cases[i].kind);
		ck_assert_uint_eq(v.vmid, cases[i].vmid);
		ck_assert_str_eq(v.file, cases[i].file);
		ck_assert_str_eq(v.path, cases[i].path);
		ck_assert_str_eq(v.name, strchr(cases[i].volid, ':') + 1);
		ck_assert_str_eq(v.storage->id, cases[i].volid[0] == 'l' ? "local" : "ssd");
		ctm_volume_clear(&v);
	}
	ctm_storage_cfg_free(cfg);
}
END_TEST

START_TEST(test_ctm_volume_resolve_errors)
{
	static const struct {
		const char *volid, *node;
		int rv;
		const char *message;
	} cases[] = {
	    {"local", NULL, -EINVAL, "invalid volume 'local': expected STORAGE:NAME"},
	    {":100/vm-100-disk-0.raw", NULL, -EINVAL, "expected STORAGE:NAME"},
	    {"local:", NULL, -EINVAL, "expected STORAGE:NAME"},
	    {"nas:100/vm-100-disk-0.raw", NULL, -ENOENT,
	     "storage 'nas' of volume 'nas:100/vm-100-disk-0.raw' does not exist: define it in "
	     "storage.cfg"},
	    {"off:subvol-100-disk-0", NULL, -EACCES,
	     "storage 'off' is disabled: remove 'disable' from its section"},
	    {"ssd:subvol-100-disk-0", "node2", -EACCES,
	     "storage 'ssd' is not available on node 'node2': add the node to its 'nodes' list"},
	    {"tank:subvol-100-disk-0", NULL, -EINVAL,
	     "storage 'tank' has type 'zfspool': only dir storages hold container volumes"},
	    {"local:100/vm-100-disk-0.qcow2", NULL, -EINVAL, "qcow2 and vmdk images"},
	    {"local:100/snap-s1-vm-100-disk-0.raw", NULL, -EINVAL, "names a snapshot copy"},
	    {"local:100/vm-100-disk-0", NULL, -EINVAL, "expected a file ending in .raw or .subvol"},
	    {"local:100/../etc.raw", NULL, -EINVAL, "expected VMID/FILE"},
	    {"local:abc/vm-100-disk-0.raw", NULL, -EINVAL, "expected VMID/FILE"},
	    {"local:0/vm-0-disk-0.raw", NULL, -EINVAL, "expected VMID/FILE"},
	    {"local:vm-100-disk-0.raw", NULL, -EINVAL, "expected VMID/vm-VMID-disk-N.raw"},
	    {"local:subvol-x-disk-0", NULL, -EINVAL, "expected VMID/vm-VMID-disk-N.raw"},
	    {"local:vztmpl/", NULL, -EINVAL, "expected a file name after the folder"},
	    {"local:vztmpl/.hidden", NULL, -EINVAL, "expected a file name after the folder"},
	    {"local:vztmpl/a b.tar", NULL, -EINVAL, "expected a file name after the folder"},
	};
	struct ctm_storage_cfg *cfg = parse_ok(resolve_cfg);

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "";
		struct ctm_volume v;
		int rv = ctm_volume_resolve(cfg, cases[i].volid, cases[i].node, &v, errmsg);

		ck_assert_msg(rv == cases[i].rv, "%s: rv %d (%s)", cases[i].volid, rv, errmsg);
		ck_assert_msg(strstr(errmsg, cases[i].message) != NULL, "%s: '%s' lacks '%s'",
		              cases[i].volid, errmsg, cases[i].message);
		ck_assert_ptr_null(v.path);
		ck_assert_ptr_null(v.storage);
	}
	ctm_storage_cfg_free(cfg);
}
END_TEST

/* ---- ctm_storage_check_exists ---- */

START_TEST(test_ctm_storage_check_exists)
{
	struct ctm_storage_cfg *cfg =
	    parse_ok("dir: local\n\tpath /var/lib/vz\n\tcontent snippets\n\n"
	             "dir: off\n\tpath /srv/off\n\tcontent snippets\n"
	             "\tdisable\n\n"
	             "dir: tpl\n\tpath /srv/tpl\n\tcontent vztmpl\n");
	char errmsg[CONF_ERRMSG_SIZE] = "";

	ck_assert_int_eq(ctm_storage_check_exists(cfg, "local:snippets/h.sh", "n1",
	                                          CTM_CONTENT_SNIPPETS, "snippets", errmsg),
	                 0);
	/* Only an unknown storage fails, not one without the content. */
	ck_assert_int_eq(ctm_storage_check_exists(cfg, "tpl:snippets/h.sh", "n1",
	                                          CTM_CONTENT_SNIPPETS, "snippets", errmsg),
	                 0);
	ck_assert_int_eq(ctm_storage_check_exists(cfg, "nostore:snippets/h.sh", "n1",
	                                          CTM_CONTENT_SNIPPETS, "snippets", errmsg),
	                 -ENOENT);
	ck_assert_str_eq(errmsg, "storage 'nostore' does not exist; or use one of the storages "
	                         "with content snippets: local");
	ck_assert_int_eq(ctm_storage_check_exists(cfg, "nostore:vztmpl/t.tar", "n1",
	                                          CTM_CONTENT_VZTMPL, "vztmpl", errmsg),
	                 -ENOENT);
	ck_assert_str_eq(errmsg, "storage 'nostore' does not exist; or use one of the storages "
	                         "with content vztmpl: tpl");
	ck_assert_int_eq(ctm_storage_check_exists(cfg, "nostore:iso/x.iso", "n1", CTM_CONTENT_ISO,
	                                          "iso", errmsg),
	                 -ENOENT);
	ck_assert_str_eq(errmsg, "storage 'nostore' does not exist, and no storage in "
	                         "storage.cfg has content iso on this node: add iso to the "
	                         "content of one");
	ctm_storage_cfg_free(cfg);
}
END_TEST

/* ---- ctm_alloc_request_parse ---- */

START_TEST(test_ctm_alloc_request_parse_sizes)
{
	static const struct {
		const char *text, *storage;
		uint64_t bytes;
	} cases[] = {
	    {"local:8", "local", 8 * GIB},
	    {"local:0", "local", 0},
	    {"ssd:0.5", "ssd", 512 * MIB},
	    {"a1:1.001", "a1", GIB + MIB},
	    {"a1:0.0001", "a1", 0},
	    {"a1:2.25", "a1", 2 * GIB + 256 * MIB},
	    {"a1:999999999", "a1", 999999999ULL * GIB},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "", *storage = NULL;
		uint64_t bytes = 1;

		ck_assert_msg(ctm_alloc_request_parse(cases[i].text, &storage, &bytes, errmsg) == 0,
		              "%s: %s", cases[i].text, errmsg);
		ck_assert_str_eq(storage, cases[i].storage);
		ck_assert_msg(bytes == cases[i].bytes, "%s: %llu bytes", cases[i].text,
		              (unsigned long long)bytes);
		free(storage);
	}
}
END_TEST

START_TEST(test_ctm_alloc_request_parse_too_large)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *storage = NULL;
	uint64_t bytes = 1;

	ck_assert_int_eq(ctm_alloc_request_parse("a1:9999999999", &storage, &bytes, errmsg),
	                 -ERANGE);
	ck_assert_str_eq(errmsg, "size of 'a1:9999999999' is too large");
	ck_assert_ptr_null(storage);
	ck_assert_uint_eq(bytes, 1);
}
END_TEST

START_TEST(test_ctm_alloc_request_parse_errors)
{
	static const char *const bad[] = {"local",    ":8",       "local:8G", "local:-1",
	                                  "local:1.", "local:.5", "local:",   "local:12345678901"};

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "", *storage = NULL;
		uint64_t bytes = 1;

		ck_assert_msg(ctm_alloc_request_parse(bad[i], &storage, &bytes, errmsg) == -EINVAL,
		              "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(errmsg, "expected STORAGE:SIZE with SIZE in GiB"));
		ck_assert_ptr_nonnull(strstr(errmsg, bad[i]));
		ck_assert_ptr_null(storage);
		ck_assert_uint_eq(bytes, 1);
	}
}
END_TEST

/* ---- ctm_volume_alloc ---- */

START_TEST(test_ctm_volume_alloc_subvol)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *volid = NULL, *path;
	struct ctm_storage_cfg *cfg;
	struct stat st;

	make_tmp();
	cfg = tmp_storage("");
	ck_assert_msg(
	    ctm_volume_alloc(cfg, "tmp", "node1", 100, 0, 100000, 100001, &volid, errmsg) == 0,
	    "%s", errmsg);
	ck_assert_str_eq(volid, "tmp:subvol-100-disk-0");
	path = volume_path(cfg, volid);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_uint_eq(st.st_uid, 100000);
	ck_assert_uint_eq(st.st_gid, 100001);
	free(path);
	free(volid);

	/* The next one takes the next number. */
	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 100, 0, 0, 0, &volid, errmsg), 0);
	ck_assert_str_eq(volid, "tmp:subvol-100-disk-1");
	free(volid);

	/* Another container starts at 0 again. */
	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 101, 0, 0, 0, &volid, errmsg), 0);
	ck_assert_str_eq(volid, "tmp:subvol-101-disk-0");
	free(volid);
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

/* The lowest free number counts pct's names and the short form alike. */
START_TEST(test_ctm_volume_alloc_lowest_free)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *volid = NULL, folder[PATH_MAX + 32],
	     file[PATH_MAX + 64];
	static const char *const taken[] = {"vm-100-disk-0.raw",         "subvol-100-disk-1.subvol",
	                                    "subvol-100-disk-3",         "base-100-disk-4.raw",
	                                    "snap-s1-vm-100-disk-2.raw", "vm-1000-disk-2.raw"};
	struct ctm_storage_cfg *cfg;

	make_tmp();
	cfg = tmp_storage("");
	snprintf(folder, sizeof(folder), "%s/store/images/100", tmp_dir);
	snprintf(file, sizeof(file), "mkdir -p '%s'", folder);
	ck_assert_int_eq(system(file), 0);
	for (size_t i = 0; i < N_ELEMENTS(taken); i++) {
		snprintf(file, sizeof(file), "%s/%s", folder, taken[i]);
		write_file(file, "");
	}
	ck_assert_msg(ctm_volume_alloc(cfg, "tmp", NULL, 100, 0, 0, 0, &volid, errmsg) == 0, "%s",
	              errmsg);
	ck_assert_str_eq(volid, "tmp:subvol-100-disk-2");
	free(volid);
	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 100, 0, 0, 0, &volid, errmsg), 0);
	ck_assert_str_eq(volid, "tmp:subvol-100-disk-5");
	free(volid);
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

START_TEST(test_ctm_volume_alloc_raw)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *volid = NULL, *path, command[PATH_MAX + 64];
	unsigned char magic[2];
	struct ctm_storage_cfg *cfg;
	struct stat st;
	FILE *out;
	char line[256];
	bool owner_seen = false; /* then: mmp seen */
	int fd;

	make_tmp();
	cfg = tmp_storage("");
	ck_assert_msg(
	    ctm_volume_alloc(cfg, "tmp", NULL, 100, 64 * MIB, 100000, 100000, &volid, errmsg) == 0,
	    "%s", errmsg);
	ck_assert_str_eq(volid, "tmp:100/vm-100-disk-0.raw");
	path = volume_path(cfg, volid);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_size, 64 * MIB);
	/* Sparse: far fewer blocks than the size. */
	ck_assert_int_lt(st.st_blocks * 512, 32 * MIB);

	/* The ext4 superblock magic 0xEF53 at byte 1080. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, magic, 2, 1080), 2);
	close(fd);
	ck_assert_uint_eq(magic[0], 0x53);
	ck_assert_uint_eq(magic[1], 0xef);

	/* The root folder belongs to the container's root. */
	snprintf(command, sizeof(command), "debugfs -R 'stat /' '%s' 2>/dev/null", path);
	out = popen(command, "r");
	ck_assert_ptr_nonnull(out);
	while (fgets(line, sizeof(line), out))
		if (strstr(line, "User: 100000") && strstr(line, "Group: 100000"))
			owner_seen = true;
	pclose(out);
	ck_assert(owner_seen);

	/* Multi-mount protection is on, as pct formats images. */
	snprintf(command, sizeof(command), "dumpe2fs -h '%s' 2>/dev/null", path);
	out = popen(command, "r");
	ck_assert_ptr_nonnull(out);
	owner_seen = false;
	while (fgets(line, sizeof(line), out))
		if (strncmp(line, "Filesystem features:", 20) == 0 && strstr(line, " mmp"))
			owner_seen = true;
	pclose(out);
	ck_assert_msg(owner_seen, "no mmp feature on %s", path);
	free(path);
	free(volid);
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

/* A failed mkfs.ext4 leaves no file behind. */
START_TEST(test_ctm_volume_alloc_mkfs_fails)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *volid = NULL, path[PATH_MAX + 64];
	struct ctm_storage_cfg *cfg;

	make_tmp();
	cfg = tmp_storage("");
	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 100, 4096, 0, 0, &volid, errmsg), -EIO);
	ck_assert_ptr_nonnull(strstr(errmsg, "storage 'tmp': mkfs.ext4 failed on '"));
	ck_assert_ptr_null(volid);
	snprintf(path, sizeof(path), "%s/store/images/100/vm-100-disk-0.raw", tmp_dir);
	ck_assert(!exists(path));
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

START_TEST(test_ctm_volume_alloc_refused)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *volid = NULL, text[PATH_MAX * 5];
	struct ctm_storage_cfg *cfg;

	make_tmp();
	snprintf(text, sizeof(text),
	         "dir: tmp\n\tpath %s/store\n\tcontent images,iso\n\n"
	         "dir: off\n\tpath %s/off\n\tdisable\n\n"
	         "dir: fixed\n\tpath %s/fixed\n\tmkdir 0\n\n"
	         "dir: mnt\n\tpath %s\n\tis_mountpoint yes\n\n"
	         "lvm: vg\n\tvgname pve\n",
	         tmp_dir, tmp_dir, tmp_dir, tmp_dir);
	cfg = parse_ok(text);

	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 100, 0, 0, 0, &volid, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "storage 'tmp' does not allow content type 'rootdir' (Container): "
	                         "add rootdir to its content list");
	ck_assert_int_eq(ctm_volume_alloc(cfg, "off", NULL, 100, 0, 0, 0, &volid, errmsg), -EACCES);
	ck_assert_ptr_nonnull(strstr(errmsg, "storage 'off' is disabled"));
	ck_assert_int_eq(ctm_volume_alloc(cfg, "nas", NULL, 100, 0, 0, 0, &volid, errmsg), -ENOENT);
	ck_assert_str_eq(errmsg, "storage 'nas' does not exist: define it in storage.cfg or "
	                         "choose another");
	ck_assert_int_eq(ctm_volume_alloc(cfg, "vg", NULL, 100, 0, 0, 0, &volid, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "has type 'lvm'"));
	ck_assert_int_eq(ctm_volume_alloc(cfg, "fixed", NULL, 100, 0, 0, 0, &volid, errmsg),
	                 -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "storage 'fixed': cannot use folder '"));
	ck_assert_ptr_nonnull(strstr(errmsg, "remove 'mkdir 0'"));
	/* The temporary folder is no mount point. */
	ck_assert_int_eq(ctm_volume_alloc(cfg, "mnt", NULL, 100, 0, 0, 0, &volid, errmsg), -ENODEV);
	ck_assert_ptr_nonnull(strstr(errmsg, "must be a mount point but nothing is mounted there"));
	ck_assert_ptr_null(volid);
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

/* ---- ctm_volume_free ---- */

START_TEST(test_ctm_volume_free_volumes)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *subvol = NULL, *raw = NULL, *path, file[PATH_MAX + 64];
	struct ctm_storage_cfg *cfg;

	make_tmp();
	cfg = tmp_storage("");
	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 100, 0, 0, 0, &subvol, errmsg), 0);
	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 100, 16 * MIB, 0, 0, &raw, errmsg), 0);
	path = volume_path(cfg, subvol);
	snprintf(file, sizeof(file), "%s/etc", path);
	ck_assert_int_eq(mkdir(file, 0755), 0);
	snprintf(file, sizeof(file), "%s/etc/hostname", path);
	write_file(file, "ct\n");
	ck_assert_int_eq(ctm_volume_snapshot(cfg, subvol, "s1", errmsg), 0);

	ck_assert_msg(ctm_volume_free(cfg, subvol, errmsg) == 0, "%s", errmsg);
	ck_assert(!exists(path));
	snprintf(file, sizeof(file), "%s/store/images/100/snap-s1-subvol-100-disk-0", tmp_dir);
	ck_assert(!exists(file));
	free(path);

	path = volume_path(cfg, raw);
	ck_assert_int_eq(ctm_volume_free(cfg, raw, errmsg), 0);
	ck_assert(!exists(path));

	/* Already gone is fine; a template is no container volume. */
	ck_assert_int_eq(ctm_volume_free(cfg, raw, errmsg), 0);
	ck_assert_int_eq(ctm_volume_free(cfg, "tmp:vztmpl/x.tar.gz", errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "volume 'tmp:vztmpl/x.tar.gz' is not a container volume");
	ck_assert_int_eq(ctm_volume_free(cfg, "u:subvol-100-disk-0", errmsg), -ENOENT);
	free(path);
	free(subvol);
	free(raw);
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

/* ---- snapshots ---- */

/* Fill the folder volume at PATH with a file, a hard link, a symlink, a
 * file owned by the container's root and a sparse file. */
static void fill_subvol(const char *path)
{
	char file[PATH_MAX + 64], link_path[PATH_MAX + 64];
	int fd;

	snprintf(file, sizeof(file), "%s/data", path);
	write_file(file, "version 1\n");
	snprintf(link_path, sizeof(link_path), "%s/data.link", path);
	ck_assert_int_eq(link(file, link_path), 0);
	snprintf(link_path, sizeof(link_path), "%s/data.sym", path);
	ck_assert_int_eq(symlink("data", link_path), 0);
	snprintf(file, sizeof(file), "%s/owned", path);
	write_file(file, "x");
	ck_assert_int_eq(chown(file, 100033, 100044), 0);
	ck_assert_int_eq(chmod(file, 0751), 0);
	snprintf(file, sizeof(file), "%s/sparse", path);
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 64 * MIB), 0);
	close(fd);
}

static void check_subvol(const char *path, const char *version)
{
	char file[PATH_MAX + 64], target[16] = "", *text;
	struct stat st, st2;

	snprintf(file, sizeof(file), "%s/data", path);
	text = read_file(file);
	ck_assert_str_eq(text, version);
	free(text);
	ck_assert_int_eq(stat(file, &st), 0);
	snprintf(file, sizeof(file), "%s/data.link", path);
	ck_assert_int_eq(stat(file, &st2), 0);
	ck_assert_uint_eq(st.st_ino, st2.st_ino);
	snprintf(file, sizeof(file), "%s/data.sym", path);
	ck_assert_int_eq(readlink(file, target, sizeof(target) - 1), 4);
	ck_assert_str_eq(target, "data");
	snprintf(file, sizeof(file), "%s/owned", path);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_uint_eq(st.st_uid, 100033);
	ck_assert_uint_eq(st.st_gid, 100044);
	ck_assert_uint_eq(st.st_mode & 07777, 0751);
	snprintf(file, sizeof(file), "%s/sparse", path);
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert_uint_eq(st.st_size, 64 * MIB);
	ck_assert_int_lt(st.st_blocks * 512, MIB);
}

START_TEST(test_ctm_volume_snapshot_subvol)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *volid = NULL, *path, file[PATH_MAX + 64];
	struct ctm_storage_cfg *cfg;

	make_tmp();
	cfg = tmp_storage("");
	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 100, 0, 100000, 100000, &volid, errmsg),
	                 0);
	path = volume_path(cfg, volid);
	fill_subvol(path);

	ck_assert_msg(ctm_volume_snapshot(cfg, volid, "before-upgrade", errmsg) == 0, "%s", errmsg);
	snprintf(file, sizeof(file), "%s/store/images/100/snap-before-upgrade-subvol-100-disk-0",
	         tmp_dir);
	check_subvol(file, "version 1\n");
	ck_assert_int_eq(ctm_volume_snapshot(cfg, volid, "before-upgrade", errmsg), -EEXIST);
	ck_assert_str_eq(errmsg, "snapshot 'before-upgrade' of volume 'tmp:subvol-100-disk-0' "
	                         "already exists: delete it first");

	/* Change the volume, then roll back. */
	snprintf(file, sizeof(file), "%s/data", path);
	write_file(file, "version 2\n");
	snprintf(file, sizeof(file), "%s/new", path);
	write_file(file, "new\n");
	ck_assert_msg(ctm_volume_snapshot_rollback(cfg, volid, "before-upgrade", errmsg) == 0, "%s",
	              errmsg);
	check_subvol(path, "version 1\n");
	ck_assert(!exists(file));

	/* The snapshot stays for another rollback; no leftovers. */
	snprintf(file, sizeof(file), "%s.rollback", path);
	ck_assert(!exists(file));
	ck_assert_int_eq(ctm_volume_snapshot_delete(cfg, volid, "before-upgrade", errmsg), 0);
	snprintf(file, sizeof(file), "%s/store/images/100/snap-before-upgrade-subvol-100-disk-0",
	         tmp_dir);
	ck_assert(!exists(file));
	ck_assert_int_eq(ctm_volume_snapshot_delete(cfg, volid, "before-upgrade", errmsg), 0);
	ck_assert_int_eq(ctm_volume_snapshot_rollback(cfg, volid, "before-upgrade", errmsg),
	                 -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "cannot roll back volume 'tmp:subvol-100-disk-0'"));

	free(path);
	free(volid);
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

START_TEST(test_ctm_volume_snapshot_raw)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *volid = NULL, *path, snap[PATH_MAX + 64];
	struct ctm_storage_cfg *cfg;
	struct stat st, st_snap;
	int fd;

	make_tmp();
	cfg = tmp_storage("");
	ck_assert_int_eq(ctm_volume_alloc(cfg, "tmp", NULL, 100, 32 * MIB, 0, 0, &volid, errmsg),
	                 0);
	path = volume_path(cfg, volid);
	ck_assert_int_eq(ctm_volume_snapshot(cfg, volid, "s1", errmsg), 0);
	snprintf(snap, sizeof(snap), "%s/store/images/100/snap-s1-vm-100-disk-0.raw", tmp_dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(stat(snap, &st_snap), 0);
	ck_assert_uint_eq(st_snap.st_size, st.st_size);
	ck_assert_int_lt(st_snap.st_blocks * 512, 16 * MIB);

	/* Overwrite the superblock, roll back, and the magic is back. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\0\0", 2, 1080), 2);
	close(fd);
	ck_assert_int_eq(ctm_volume_snapshot_rollback(cfg, volid, "s1", errmsg), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	{
		unsigned char magic[2];

		ck_assert_int_eq(pread(fd, magic, 2, 1080), 2);
		ck_assert_uint_eq(magic[0], 0x53);
		ck_assert_uint_eq(magic[1], 0xef);
	}
	close(fd);
	free(path);
	free(volid);
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

START_TEST(test_ctm_volume_snapshot_errors)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_storage_cfg *cfg;

	make_tmp();
	cfg = tmp_storage("");
	ck_assert_int_eq(ctm_volume_snapshot(cfg, "tmp:subvol-100-disk-0", "s1", errmsg), -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "cannot snapshot volume 'tmp:subvol-100-disk-0'"));
	ck_assert_int_eq(ctm_volume_snapshot(cfg, "tmp:subvol-100-disk-0", "../x", errmsg),
	                 -EINVAL);
	ck_assert_int_eq(ctm_volume_snapshot(cfg, "tmp:subvol-100-disk-0", "current", errmsg),
	                 -EINVAL);
	ck_assert_int_eq(ctm_volume_snapshot_delete(cfg, "tmp:vztmpl/a.tar", "s1", errmsg),
	                 -EINVAL);
	ck_assert_str_eq(errmsg, "volume 'tmp:vztmpl/a.tar' is not a container volume");
	ctm_storage_cfg_free(cfg);
	remove_tmp();
}
END_TEST

/* ---- main ---- */

int main(void)
{
	Suite *s = suite_create("storage");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("ctm_storage_cfg_parse");
	tcase_add_test(tc, test_ctm_storage_cfg_parse_sample);
	tcase_add_test(tc, test_ctm_storage_cfg_parse_line_ends);
	tcase_add_loop_test(tc, test_ctm_storage_cfg_parse_errors, 0, (int)N_ELEMENTS(bad_cfgs));
	tcase_add_test(tc, test_ctm_storage_cfg_parse_read_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_volume_resolve");
	tcase_add_test(tc, test_ctm_volume_resolve_paths);
	tcase_add_test(tc, test_ctm_volume_resolve_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_storage_check_exists");
	tcase_add_test(tc, test_ctm_storage_check_exists);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_alloc_request_parse");
	tcase_add_test(tc, test_ctm_alloc_request_parse_sizes);
	tcase_add_test(tc, test_ctm_alloc_request_parse_too_large);
	tcase_add_test(tc, test_ctm_alloc_request_parse_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_volume_alloc");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ctm_volume_alloc_subvol);
	tcase_add_test(tc, test_ctm_volume_alloc_lowest_free);
	tcase_add_test(tc, test_ctm_volume_alloc_raw);
	tcase_add_test(tc, test_ctm_volume_alloc_mkfs_fails);
	tcase_add_test(tc, test_ctm_volume_alloc_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_volume_free");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ctm_volume_free_volumes);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_volume_snapshot");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ctm_volume_snapshot_subvol);
	tcase_add_test(tc, test_ctm_volume_snapshot_raw);
	tcase_add_test(tc, test_ctm_volume_snapshot_errors);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
