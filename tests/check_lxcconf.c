/*
 * Unit tests for the LXC config generator (ctmgr/lxcconf.h): expected
 * files for the configs in tests/data/lxcconf/ on both cgroup layouts,
 * every rejected setting, the cpuset choice, quoting, and layout
 * detection from mountinfo files.
 *
 * Every generated config is also loaded by liblxc itself, so a key or
 * value LXC does not accept fails the test. Set LXCCONF_UPDATE=1 to
 * rewrite the expected files after a deliberate change, then review the
 * diff.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <lxc/lxccontainer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "ctmgr/lxcconf.h"
#include "ctmgr/storage.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
/* An item of a hand-made config; the strings are never freed. */
#define ITEM(key, value)                                                                           \
	{                                                                                          \
		(char *)(key), (char *)(value)                                                     \
	}

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

static char *data_path(const char *name)
{
	char *path = NULL;

	ck_assert_int_ge(asprintf(&path, "%s/lxcconf/%s", data_dir(), name), 0);
	return path;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;
	ssize_t n;

	if (!f)
		return NULL;
	n = getdelim(&text, &len, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		return strdup("");
	}
	return text;
}

/* Devices of the tests, independent of the host's /dev. */
static int fake_device_id(const char *path, struct ctm_device_id *id, void *data)
{
	static const struct {
		const char *path;
		struct ctm_device_id id;
	} table[] = {
	    {"/dev/ttyUSB0", {'c', 188, 0}},
	    {"/dev/sdb", {'b', 8, 16}},
	    {"/dev/net/tun", {'c', 10, 200}},
	};

	(void)data;
	for (size_t i = 0; i < N_ELEMENTS(table); i++)
		if (strcmp(table[i].path, path) == 0) {
			*id = table[i].id;
			return 0;
		}
	return strncmp(path, "/dev/", 5) == 0 && strstr(path, "file") ? -ENODEV : -ENOENT;
}

static struct ctm_storage_cfg *test_storage(void)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_storage_cfg *cfg = NULL;
	char *path = data_path("storage.cfg");

	ck_assert_msg(ctm_storage_cfg_read(path, &cfg, errmsg) == 0, "%s", errmsg);
	free(path);
	return cfg;
}

static struct ctm_lxc_params test_params(enum ctm_cgroup_layout layout,
                                         const struct ctm_storage_cfg *storage,
                                         const char *config_dir)
{
	struct ctm_lxc_params p = {
	    .ctid = 100,
	    .layout = layout,
	    .config_dir = config_dir,
	    .host_cpus = "0-7",
	    .storage = storage,
	    .node = "node1",
	    .device_id = fake_device_id,
	};

	return p;
}

/* Build the config of TEXT; returns the rv and fills *OUT or ERRMSG. */
static int build_text(const char *text, enum ctm_cgroup_layout layout, struct ctm_lxc_config **out,
                      char *errmsg)
{
	struct ctm_storage_cfg *storage = test_storage();
	char *config_dir = data_path("lxc-config");
	struct ctm_lxc_params p = test_params(layout, storage, config_dir);
	struct conf_file *cf = NULL;
	int rv;

	ck_assert_int_eq(conf_parse(text, strlen(text), "test.conf", &cf), 0);
	*out = NULL;
	rv = ctm_lxc_config_build(conf_main(cf), &p, out, errmsg);
	conf_file_free(cf);
	ctm_storage_cfg_free(storage);
	free(config_dir);
	return rv;
}

/* Replace every FROM in TEXT (owned, freed) by TO. */
static char *replace_all(char *text, const char *from, const char *to)
{
	char *out = NULL, *p = text, *hit;
	size_t len = 0;
	FILE *stream = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(stream);
	while ((hit = strstr(p, from))) {
		fwrite(p, 1, (size_t)(hit - p), stream);
		fputs(to, stream);
		p = hit + strlen(from);
	}
	fputs(p, stream);
	ck_assert_int_eq(fclose(stream), 0);
	free(text);
	return out;
}

/* The LXC text of C, then its mounts, devices, seccomp profile and notes
 * as comment lines, with CONFIG_DIR written as @CONFIG_DIR@. */
static char *render(const struct ctm_lxc_config *c, const char *config_dir)
{
	char *text = NULL, *out = NULL;
	size_t len = 0;
	FILE *stream;

	ck_assert_int_eq(ctm_lxc_config_text(c, &text), 0);
	stream = open_memstream(&out, &len);
	ck_assert_ptr_nonnull(stream);
	fputs(text, stream);
	free(text);
	fprintf(stream, "# unprivileged: %d, root: %u:%u\n", c->unprivileged, c->root_uid,
	        c->root_gid);
	for (size_t i = 0; i < c->n_mounts; i++)
		fprintf(stream, "# mount %s: %s on %s, options '%s'%s\n", c->mounts[i].key,
		        c->mounts[i].source, c->mounts[i].target, c->mounts[i].options,
		        c->mounts[i].loop ? ", loop" : "");
	for (size_t i = 0; i < c->n_devices; i++)
		fprintf(stream, "# device %s: %s as %s, %c %u:%u, mode %04o, owner %u:%u\n",
		        c->devices[i].key, c->devices[i].path, c->devices[i].node,
		        c->devices[i].id.type, c->devices[i].id.major, c->devices[i].id.minor,
		        c->devices[i].mode, c->devices[i].uid, c->devices[i].gid);
	if (c->seccomp) {
		fprintf(stream, "# seccomp %s:\n", c->seccomp_path);
		for (const char *line = c->seccomp; *line; line = strchr(line, '\n') + 1)
			fprintf(stream, "#   %.*s\n", (int)strcspn(line, "\n"), line);
	}
	for (size_t i = 0; i < c->n_notes; i++)
		fprintf(stream, "# note: %s\n", c->notes[i]);
	ck_assert_int_eq(fclose(stream), 0);
	return replace_all(out, config_dir, "@CONFIG_DIR@");
}

/* Load TEXT as an LXC config file with liblxc; fail with LXC's verdict. */
static void check_lxc_loads(const char *text)
{
	char dir[] = "/tmp/check_lxcconf.XXXXXX", path[PATH_MAX];
	struct lxc_container *ct;
	FILE *f;
	bool loaded;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "we");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);

	ct = lxc_container_new("100", dir);
	ck_assert_ptr_nonnull(ct);
	loaded = ct->load_config(ct, path);
	lxc_container_put(ct);
	unlink(path);
	rmdir(dir);
	ck_assert_msg(loaded, "liblxc rejected the generated config:\n%s", text);
}

/* ---- ctm_lxc_config_build: expected files ---- */

static const char *const sample_names[] = {"full", "unprivileged", "idmap"};

/* Sample _i / 2 on layout v1 (even _i) or v2 (odd _i). */
START_TEST(test_ctm_lxc_config_build_expected)
{
	enum ctm_cgroup_layout layout = _i % 2 == 0 ? CTM_CGROUP_V1 : CTM_CGROUP_V2;
	const char *name = sample_names[_i / 2];
	struct ctm_storage_cfg *storage = test_storage();
	char *config_dir = data_path("lxc-config");
	struct ctm_lxc_params p = test_params(layout, storage, config_dir);
	char errmsg[CONF_ERRMSG_SIZE] = "", file[64], *conf_path, *expected_path, *expected;
	struct ctm_lxc_config *c = NULL;
	struct conf_file *cf = NULL;
	char *actual, *text = NULL;

	snprintf(file, sizeof(file), "%s.conf", name);
	conf_path = data_path(file);
	snprintf(file, sizeof(file), "%s.%s.lxc", name, layout == CTM_CGROUP_V1 ? "v1" : "v2");
	expected_path = data_path(file);

	ck_assert_int_eq(conf_read_file(conf_path, &cf, errmsg), 0);
	ck_assert_msg(ctm_lxc_config_build(conf_main(cf), &p, &c, errmsg) == 0, "%s: %s", name,
	              errmsg);
	actual = render(c, config_dir);

	if (getenv("LXCCONF_UPDATE")) {
		FILE *f = fopen(expected_path, "we");

		ck_assert_ptr_nonnull(f);
		fputs(actual, f);
		ck_assert_int_eq(fclose(f), 0);
	}
	expected = read_all(expected_path);
	ck_assert_msg(expected != NULL, "missing %s", expected_path);
	ck_assert_str_eq(actual, expected);

	ck_assert_int_eq(ctm_lxc_config_text(c, &text), 0);
	check_lxc_loads(text);

	free(text);
	free(expected);
	free(actual);
	ctm_lxc_config_free(c);
	conf_file_free(cf);
	free(expected_path);
	free(conf_path);
	free(config_dir);
	ctm_storage_cfg_free(storage);
}
END_TEST

/* The result names its key/value facts directly, not only in text. */
START_TEST(test_ctm_lxc_config_build_fields)
{
	const char *text = "hostname: a\nmemory: 1024\nswap: 256\nrootfs: local:subvol-100-disk-0\n"
	                   "unprivileged: 1\nostype: debian\ncpulimit: 0.25\ncpuunits: 50000\n";
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_lxc_config *c = NULL;

	ck_assert_msg(build_text(text, CTM_CGROUP_V2, &c, errmsg) == 0, "%s", errmsg);
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.uts.name"), "a");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup2.memory.max"), "1073741824");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup2.memory.high"), "1065353216");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup2.memory.swap.max"), "268435456");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup2.cpu.max"), "25000 100000");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup2.cpu.weight"), "10000");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.rootfs.path"),
	                 "dir:/var/lib/vz/images/100/subvol-100-disk-0");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.idmap"), "g 0 100000 65536");
	ck_assert_ptr_null(ctm_lxc_config_get(c, "lxc.cgroup2.cpuset.cpus"));
	ck_assert(c->unprivileged);
	ck_assert_uint_eq(c->root_uid, 100000);
	ck_assert_uint_eq(c->root_gid, 100000);
	ctm_lxc_config_free(c);

	ck_assert_msg(build_text(text, CTM_CGROUP_V1, &c, errmsg) == 0, "%s", errmsg);
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup.memory.limit_in_bytes"), "1073741824");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup.memory.memsw.limit_in_bytes"),
	                 "1342177280");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup.cpu.cfs_quota_us"), "25000");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup.cpu.cfs_period_us"), "100000");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup.cpu.shares"), "50000");
	ctm_lxc_config_free(c);
}
END_TEST

/* Defaults: memory 512, swap 0, tty 2, hostname CT<id>, cpu.shares 1024
 * on v1 and no cpu.weight on v2. */
START_TEST(test_ctm_lxc_config_build_defaults)
{
	const char *text = "rootfs: /srv/ct\n";
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_lxc_config *c = NULL;

	ck_assert_msg(build_text(text, CTM_CGROUP_V1, &c, errmsg) == 0, "%s", errmsg);
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.arch"), "amd64");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.uts.name"), "CT100");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.tty.max"), "2");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup.memory.limit_in_bytes"), "536870912");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup.memory.memsw.limit_in_bytes"),
	                 "536870912");
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup.cpu.shares"), "1024");
	ck_assert_ptr_null(ctm_lxc_config_get(c, "lxc.cgroup.cpu.cfs_quota_us"));
	ck_assert_ptr_null(ctm_lxc_config_get(c, "lxc.console.path"));
	ck_assert_ptr_null(ctm_lxc_config_get(c, "lxc.idmap"));
	ck_assert_ptr_null(ctm_lxc_config_get(c, "lxc.seccomp.profile"));
	ck_assert_ptr_null(c->seccomp);
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.rootfs.path"), "dir:/srv/ct");
	ck_assert_uint_eq(c->n_mounts, 0);
	ck_assert_uint_eq(c->n_notes, 0);
	ctm_lxc_config_free(c);

	ck_assert_msg(build_text(text, CTM_CGROUP_V2, &c, errmsg) == 0, "%s", errmsg);
	ck_assert_ptr_null(ctm_lxc_config_get(c, "lxc.cgroup2.cpu.weight"));
	ck_assert_ptr_null(ctm_lxc_config_get(c, "lxc.cgroup2.cpu.max"));
	ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup2.memory.high"), "532676608");
	ctm_lxc_config_free(c);
}
END_TEST

/* cpuunits is clamped to what each kernel interface accepts. */
START_TEST(test_ctm_lxc_config_build_cpuunits_clamped)
{
	static const struct {
		const char *units;
		enum ctm_cgroup_layout layout;
		const char *key, *value;
	} cases[] = {
	    {"0", CTM_CGROUP_V1, "lxc.cgroup.cpu.shares", "2"},
	    {"1", CTM_CGROUP_V1, "lxc.cgroup.cpu.shares", "2"},
	    {"500000", CTM_CGROUP_V1, "lxc.cgroup.cpu.shares", "262144"},
	    {"0", CTM_CGROUP_V2, "lxc.cgroup2.cpu.weight", "1"},
	    {"10000", CTM_CGROUP_V2, "lxc.cgroup2.cpu.weight", "10000"},
	    {"10001", CTM_CGROUP_V2, "lxc.cgroup2.cpu.weight", "10000"},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "", text[128];
		struct ctm_lxc_config *c = NULL;

		snprintf(text, sizeof(text), "rootfs: /srv/ct\ncpuunits: %s\n", cases[i].units);
		ck_assert_msg(build_text(text, cases[i].layout, &c, errmsg) == 0, "%s", errmsg);
		ck_assert_str_eq(ctm_lxc_config_get(c, cases[i].key), cases[i].value);
		ctm_lxc_config_free(c);
	}
}
END_TEST

/* The cores are consecutive entries of the host list from CTID mod N. */
START_TEST(test_ctm_lxc_config_build_cpuset_choice)
{
	static const struct {
		unsigned ctid;
		const char *host, *cores, *chosen;
	} cases[] = {
	    {100, "0-7", "2", "4-5"}, {7, "0-7", "3", "0-1,7"}, {101, "2,4,6", "2", "2,6"},
	    {100, "0-3", "8", "0-3"}, {5, "0", "1", "0"},       {9, "0-1,4-5", "3", "1,4-5"},
	};
	struct conf_file *cf = NULL;

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct ctm_lxc_params p = {
		    .ctid = cases[i].ctid, .layout = CTM_CGROUP_V2, .host_cpus = cases[i].host};
		char errmsg[CONF_ERRMSG_SIZE] = "", text[64];
		struct ctm_lxc_config *c = NULL;

		snprintf(text, sizeof(text), "rootfs: /srv/ct\ncores: %s\n", cases[i].cores);
		ck_assert_int_eq(conf_parse(text, strlen(text), NULL, &cf), 0);
		ck_assert_msg(ctm_lxc_config_build(conf_main(cf), &p, &c, errmsg) == 0, "%s",
		              errmsg);
		ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.cgroup2.cpuset.cpus"), cases[i].chosen);
		ctm_lxc_config_free(c);
		conf_file_free(cf);
	}
}
END_TEST

/* Without a host CPU list the cores are noted, not applied. */
START_TEST(test_ctm_lxc_config_build_cpuset_unknown_host)
{
	struct ctm_lxc_params p = {.ctid = 100, .layout = CTM_CGROUP_V1};
	const char *text = "rootfs: /srv/ct\ncores: 2\n";
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_lxc_config *c = NULL;
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, strlen(text), NULL, &cf), 0);
	ck_assert_int_eq(ctm_lxc_config_build(conf_main(cf), &p, &c, errmsg), 0);
	ck_assert_ptr_null(ctm_lxc_config_get(c, "lxc.cgroup.cpuset.cpus"));
	ck_assert_uint_eq(c->n_notes, 1);
	ck_assert_ptr_nonnull(strstr(c->notes[0], "cores: 2 is not applied"));
	ctm_lxc_config_free(c);

	p.host_cpus = "3-1";
	ck_assert_int_eq(ctm_lxc_config_build(conf_main(cf), &p, &c, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "invalid host CPU list '3-1'"));
	conf_file_free(cf);
}
END_TEST

/* Raw values lose one pair of quotes, as LXC's reader does, and the text
 * form quotes again so that LXC reads the same value. */
START_TEST(test_ctm_lxc_config_build_raw_quotes)
{
	static const struct {
		const char *raw, *value;
	} cases[] = {
	    {"\"/srv\"", "/srv"},
	    {"'/srv'", "/srv"},
	    {"\"'/srv'\"", "'/srv'"},
	    {"\"\"/srv\"\"", "\"/srv\""},
	    {"\"/srv'", "\"/srv'"},
	    {"\"", "\""},
	    {"\"\"", ""},
	    {"a \"b\"", "a \"b\""},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "", text[128], *lxc_text = NULL, got[128] = "";
		struct ctm_lxc_config *c = NULL;
		char dir[] = "/tmp/check_lxcconf.XXXXXX", path[PATH_MAX];
		struct lxc_container *ct;
		FILE *f;
		int len;

		snprintf(text, sizeof(text), "rootfs: /srv/ct\nlxc.init.cwd: %s\n", cases[i].raw);
		ck_assert_msg(build_text(text, CTM_CGROUP_V2, &c, errmsg) == 0, "%s", errmsg);
		ck_assert_str_eq(ctm_lxc_config_get(c, "lxc.init.cwd"), cases[i].value);

		/* LXC itself reads the written value back unchanged. */
		ck_assert_int_eq(ctm_lxc_config_text(c, &lxc_text), 0);
		ck_assert_ptr_nonnull(mkdtemp(dir));
		snprintf(path, sizeof(path), "%s/config", dir);
		f = fopen(path, "we");
		ck_assert_ptr_nonnull(f);
		fputs(lxc_text, f);
		ck_assert_int_eq(fclose(f), 0);
		ct = lxc_container_new("100", dir);
		ck_assert_ptr_nonnull(ct);
		ck_assert(ct->load_config(ct, path));
		len = ct->get_config_item(ct, "lxc.init.cwd", got, sizeof(got));
		ck_assert_int_ge(len, 0);
		ck_assert_str_eq(got, cases[i].value);
		lxc_container_put(ct);
		unlink(path);
		rmdir(dir);
		free(lxc_text);
		ctm_lxc_config_free(c);
	}
}
END_TEST

/* A config TEXT that is rejected with RV and a message containing MESSAGE. */
struct rejected {
	const char *text;
	int rv;
	const char *message;
};

static const struct rejected rejected_configs[] = {
    {"rootfs: local:subvol-100-disk-0,quota=1\n", -EINVAL, "rootfs: quota=1 is not supported"},
    {"rootfs: /srv/ct\nmp0: /srv/data,mp=/data,quota=1\n", -EINVAL,
     "mp0: quota=1 is not supported"},
    {"rootfs: /srv/ct\nfeatures: nesting=1,mknod=1\n", -EINVAL,
     "features: mknod=1 is not supported"},
    {"rootfs: /srv/ct\nmemory: 8\n", -EINVAL, "invalid value '8' for 'memory'"},
    {"rootfs: /srv/ct\ntty: 9\n", -EINVAL, "invalid value '9' for 'tty'"},
    {"rootfs: /srv/ct\ncores: 0\n", -EINVAL, "invalid value '0' for 'cores'"},
    {"rootfs: /srv/ct\ncpulimit: 9000\n", -EINVAL, "invalid value '9000' for 'cpulimit'"},
    {"rootfs: /srv/ct\narch: sparc\n", -EINVAL, "invalid value 'sparc' for 'arch'"},
    {"rootfs: /srv/ct\nhostname: -bad-\n", -EINVAL, "invalid value '-bad-' for 'hostname'"},
    {"rootfs: /srv/ct\nswap: lots\n", -EINVAL, "invalid value 'lots' for 'swap'"},
    {"rootfs: /srv/ct\nunprivileged: maybe\n", -EINVAL, "invalid value 'maybe' for 'unprivileged'"},
    {"rootfs: /srv/ct\nnet0: name=eth0\n", -EINVAL, "net0: missing bridge"},
    {"rootfs: /srv/ct\nnet0: bridge=vmbr0\n", -EINVAL, "net0"},
    {"rootfs: /srv/ct\nnet0: name=eth0,bridge=vmbr0,ip6=auto,host-managed=1\n", -EINVAL,
     "net0: ip6=auto (SLAAC) is not supported"},
    {"memory: 512\n", -EINVAL, "missing 'rootfs'"},
    {"rootfs: /srv/ct\ntemplate: 1\n", -EINVAL,
     "the container is a template, which cannot be started"},
    {"rootfs: local:8\n", -EINVAL, "volume 'local:8' is an allocation request"},
    {"rootfs: nosuch:subvol-100-disk-0\n", -ENOENT, "storage 'nosuch' of volume"},
    {"rootfs: local:vztmpl/debian.tar.zst\n", -EINVAL, "is not a container volume"},
    {"rootfs: local:100/vm-100-disk-0.qcow2\n", -EINVAL, "qcow2 and vmdk images"},
    {"rootfs: /srv/ct\nmp0: /srv/data,mp=/data,idmap=passthrough\n", -EINVAL,
     "mp0: idmap=passthrough is not supported"},
    {"rootfs: /srv/ct\ndev0: /dev/missing\n", -ENOENT, "dev0: cannot use device '/dev/missing'"},
    {"rootfs: /srv/ct\ndev0: /dev/a-file\n", -EINVAL,
     "dev0: '/dev/a-file' is not a character or block device"},
    {"rootfs: /srv/ct\ndev0: /dev/ttyUSB0,uid=70000\nunprivileged: 1\n", -EINVAL,
     "dev0: uid 70000 or gid 0 is outside the container's id map"},
    {"rootfs: /srv/ct\nlxc.idmap: u 0 100000\n", -EINVAL,
     "invalid value 'u 0 100000' for 'lxc.idmap'"},
    {"rootfs: /srv/ct\nlxc.idmap: u 1 100000 10\nlxc.idmap: g 0 100000 10\n", -EINVAL,
     "the id maps leave the container's root"},
    {"rootfs: /srv/ct\nfeatures: nesting=2\n", -EINVAL, "features"},
};

START_TEST(test_ctm_lxc_config_build_rejected)
{
	const struct rejected *r = &rejected_configs[_i];
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_lxc_config *c = NULL;
	int rv = build_text(r->text, _i % 2 ? CTM_CGROUP_V2 : CTM_CGROUP_V1, &c, errmsg);

	ck_assert_msg(rv == r->rv, "%s: rv %d, expected %d (%s)", r->text, rv, r->rv, errmsg);
	ck_assert_msg(strstr(errmsg, r->message) != NULL, "%s: message '%s' lacks '%s'", r->text,
	              errmsg, r->message);
	ck_assert_ptr_null(c);
}
END_TEST

/* A volume on a storage needs a storage.cfg; a storage limited to other
 * nodes is refused. */
START_TEST(test_ctm_lxc_config_build_storage_checks)
{
	const char *text = "rootfs: local:subvol-100-disk-0\n";
	const char *cfg_text = "dir: local\n\tpath /var/lib/vz\n\tnodes node2,node3\n";
	struct ctm_lxc_params p = {.ctid = 100, .layout = CTM_CGROUP_V2, .node = "node1"};
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_storage_cfg *storage = NULL;
	struct ctm_lxc_config *c = NULL;
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, strlen(text), NULL, &cf), 0);
	ck_assert_int_eq(ctm_lxc_config_build(conf_main(cf), &p, &c, errmsg), -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "no storage.cfg was given"));

	ck_assert_int_eq(ctm_storage_cfg_parse(cfg_text, strlen(cfg_text), NULL, &storage, errmsg),
	                 0);
	p.storage = storage;
	ck_assert_int_eq(ctm_lxc_config_build(conf_main(cf), &p, &c, errmsg), -EACCES);
	ck_assert_ptr_nonnull(strstr(errmsg, "not available on node 'node1'"));

	p.node = "node3";
	ck_assert_int_eq(ctm_lxc_config_build(conf_main(cf), &p, &c, errmsg), 0);
	ctm_lxc_config_free(c);
	ctm_storage_cfg_free(storage);
	conf_file_free(cf);
}
END_TEST

/* An unknown layout value is an error, not a guess. */
START_TEST(test_ctm_lxc_config_build_bad_layout)
{
	struct ctm_lxc_params p = {.ctid = 100, .layout = 3};
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_lxc_config *c = NULL;
	struct conf_file *cf = conf_file_new();

	ck_assert_int_eq(ctm_lxc_config_build(conf_main(cf), &p, &c, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "unknown cgroup layout 3");
	conf_file_free(cf);
}
END_TEST

/* ---- ctm_lxc_config_text ---- */

START_TEST(test_ctm_lxc_config_text_quoting)
{
	struct ctm_lxc_item items[] = {
	    ITEM("lxc.a", "plain"), ITEM("lxc.b", " lead"), ITEM("lxc.c", "trail\t"),
	    ITEM("lxc.d", "'x'"),   ITEM("lxc.e", "\"x'"),  ITEM("lxc.f", ""),
	    ITEM("lxc.g", "\""),    ITEM("lxc.h", "a = b"),
	};
	struct ctm_lxc_config c = {.items = items, .n_items = N_ELEMENTS(items)};
	char *text = NULL;

	ck_assert_int_eq(ctm_lxc_config_text(&c, &text), 0);
	ck_assert_str_eq(text, "lxc.a = plain\n"
	                       "lxc.b = \" lead\"\n"
	                       "lxc.c = \"trail\t\"\n"
	                       "lxc.d = \"'x'\"\n"
	                       "lxc.e = \"x'\n"
	                       "lxc.f =\n"
	                       "lxc.g = \"\n"
	                       "lxc.h = a = b\n");
	free(text);
}
END_TEST

START_TEST(test_ctm_lxc_config_text_line_break)
{
	struct ctm_lxc_item items[] = {ITEM("lxc.a", "one\ntwo")};
	struct ctm_lxc_config c = {.items = items, .n_items = 1};
	char *text = NULL;

	ck_assert_int_eq(ctm_lxc_config_text(&c, &text), -EINVAL);
	ck_assert_ptr_null(text);
}
END_TEST

/* ---- ctm_lxc_config_get ---- */

START_TEST(test_ctm_lxc_config_get_last)
{
	struct ctm_lxc_item items[] = {ITEM("lxc.idmap", "u 0 1 2"), ITEM("lxc.idmap", "g 0 1 2")};
	struct ctm_lxc_config c = {.items = items, .n_items = 2};

	ck_assert_str_eq(ctm_lxc_config_get(&c, "lxc.idmap"), "g 0 1 2");
	ck_assert_ptr_null(ctm_lxc_config_get(&c, "lxc.arch"));
}
END_TEST

/* ---- ctm_cgroup_detect ---- */

START_TEST(test_ctm_cgroup_detect_layouts)
{
	static const struct {
		const char *file;
		enum ctm_cgroup_layout layout;
	} cases[] = {
	    {"mountinfo-hybrid", CTM_CGROUP_V1},
	    {"mountinfo-v1", CTM_CGROUP_V1},
	    {"mountinfo-v2", CTM_CGROUP_V2},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		enum ctm_cgroup_layout layout = 0;
		char errmsg[CONF_ERRMSG_SIZE] = "", *path = data_path(cases[i].file);

		ck_assert_msg(ctm_cgroup_detect(path, &layout, errmsg) == 0, "%s", errmsg);
		ck_assert_msg(layout == cases[i].layout, "%s: layout %d", cases[i].file,
		              (int)layout);
		free(path);
	}
}
END_TEST

START_TEST(test_ctm_cgroup_detect_none)
{
	enum ctm_cgroup_layout layout = 0;
	char errmsg[CONF_ERRMSG_SIZE] = "", *path = data_path("mountinfo-none");

	ck_assert_int_eq(ctm_cgroup_detect(path, &layout, errmsg), -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "no cgroup file system is mounted"));
	ck_assert_int_eq(layout, 0);
	free(path);

	path = data_path("no-such-file");
	ck_assert_int_eq(ctm_cgroup_detect(path, &layout, errmsg), -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "no-such-file"));
	free(path);
}
END_TEST

/* This host has a layout and a CPU list: the functions read real files. */
START_TEST(test_ctm_cgroup_detect_host)
{
	enum ctm_cgroup_layout layout = 0;
	char errmsg[CONF_ERRMSG_SIZE] = "", cpus[256] = "";

	ck_assert_msg(ctm_cgroup_detect(NULL, &layout, errmsg) == 0, "%s", errmsg);
	ck_assert(layout == CTM_CGROUP_V1 || layout == CTM_CGROUP_V2);
	ck_assert_msg(ctm_host_cpus(layout, cpus, sizeof(cpus), errmsg) == 0, "%s", errmsg);
	ck_assert_int_gt(strlen(cpus), 0);
	ck_assert_uint_eq(strspn(cpus, "0123456789,-"), strlen(cpus));
}
END_TEST

/* ---- main ---- */

int main(void)
{
	Suite *s = suite_create("lxcconf");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("ctm_lxc_config_build");
	tcase_add_loop_test(tc, test_ctm_lxc_config_build_expected, 0,
	                    (int)N_ELEMENTS(sample_names) * 2);
	tcase_add_test(tc, test_ctm_lxc_config_build_fields);
	tcase_add_test(tc, test_ctm_lxc_config_build_defaults);
	tcase_add_test(tc, test_ctm_lxc_config_build_cpuunits_clamped);
	tcase_add_test(tc, test_ctm_lxc_config_build_cpuset_choice);
	tcase_add_test(tc, test_ctm_lxc_config_build_cpuset_unknown_host);
	tcase_add_test(tc, test_ctm_lxc_config_build_raw_quotes);
	tcase_add_loop_test(tc, test_ctm_lxc_config_build_rejected, 0,
	                    (int)N_ELEMENTS(rejected_configs));
	tcase_add_test(tc, test_ctm_lxc_config_build_storage_checks);
	tcase_add_test(tc, test_ctm_lxc_config_build_bad_layout);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_lxc_config_text");
	tcase_add_test(tc, test_ctm_lxc_config_text_quoting);
	tcase_add_test(tc, test_ctm_lxc_config_text_line_break);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_lxc_config_get");
	tcase_add_test(tc, test_ctm_lxc_config_get_last);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_cgroup_detect");
	tcase_add_test(tc, test_ctm_cgroup_detect_layouts);
	tcase_add_test(tc, test_ctm_cgroup_detect_none);
	tcase_add_test(tc, test_ctm_cgroup_detect_host);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
