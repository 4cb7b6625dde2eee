/*
 * Tests of ctmgr/setup.c. Each fixture in tests/data/setup/<case>/ has a
 * `config` (the container config), a `rootfs/` tree that is copied to a
 * fresh temporary directory for every test, an `expected/` tree with the
 * files (and symlinks) the rootfs must hold after setup, and an optional
 * `absent` list of paths that must not exist afterwards. Setup runs twice:
 * both runs must leave the expected files, and the second must change
 * nothing at all (same inodes and mtimes everywhere).
 */
#include "config.h"

#include <check.h>
#include <crypt.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "ctmgr/setup.h"

/* Host DNS values every test passes, so no test reads the real host's. */
#define HOST_NS "192.0.2.2"
#define HOST_SD "host.example"
#define PASSWORD "correct horse battery staple"
#define SSH_KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample user@host\n"

/* snprintf that fails the test instead of truncating. */
#define CHECKED_SNPRINTF(buf, size, ...) \
	ck_assert_int_lt(snprintf(buf, size, __VA_ARGS__), (int)(size))

static char tmpdir[PATH_MAX]; /* per test: contains rootfs/ and outside/ */
static char rootfs[PATH_MAX];
static char outside[PATH_MAX]; /* a host directory next to the rootfs */
static char errmsg[CONF_ERRMSG_SIZE];

static const char *data_dir(void)
{
	const char *dir = getenv("TEST_DATA_DIR");

	return dir ? dir : "tests/data";
}

static void run_cmd(const char *fmt, const char *a, const char *b)
	__attribute__((format(printf, 1, 0)));

static void run_cmd(const char *fmt, const char *a, const char *b)
{
	char cmd[3 * PATH_MAX];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	ck_assert_int_lt(snprintf(cmd, sizeof(cmd), fmt, a, b), (int)sizeof(cmd));
#pragma GCC diagnostic pop
	ck_assert_msg(system(cmd) == 0, "command failed: %s", cmd);
}

static void setup_tmp(void)
{
	CHECKED_SNPRINTF(tmpdir, sizeof(tmpdir), "/tmp/check_setup.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	CHECKED_SNPRINTF(rootfs, sizeof(rootfs), "%s/rootfs", tmpdir);
	CHECKED_SNPRINTF(outside, sizeof(outside), "%s/outside", tmpdir);
	ck_assert_int_eq(mkdir(rootfs, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	errmsg[0] = '\0';
}

static void teardown_tmp(void)
{
	if (tmpdir[0])
		run_cmd("rm -rf '%s'%s", tmpdir, "");
	tmpdir[0] = '\0';
}

/* Copy the rootfs of fixture NAME into the test's rootfs. */
static void copy_fixture(const char *name)
{
	char src[PATH_MAX];

	CHECKED_SNPRINTF(src, sizeof(src), "%s/setup/%s/rootfs/.", data_dir(), name);
	run_cmd("cp -a '%s' '%s'", src, rootfs);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(fread(text, 1, (size_t)n, f), n);
	fclose(f);
	return text;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f != NULL, "cannot create %s", path);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The path of REL (starting with '/') inside the test rootfs, in a static buffer. */
static const char *in_root(const char *rel)
{
	static char path[PATH_MAX];

	CHECKED_SNPRINTF(path, sizeof(path), "%s%s", rootfs, rel);
	return path;
}

static struct conf_file *config_from_text(const char *text)
{
	struct conf_file *cf = NULL;

	ck_assert_int_eq(conf_parse(text, strlen(text), NULL, &cf), 0);
	return cf;
}

static struct conf_file *config_of_fixture(const char *name)
{
	char path[PATH_MAX], msg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;

	CHECKED_SNPRINTF(path, sizeof(path), "%s/setup/%s/config", data_dir(), name);
	ck_assert_msg(conf_read_file(path, &cf, msg) == 0, "%s", msg);
	return cf;
}

static struct ctm_setup_opts default_opts(bool create)
{
	struct ctm_setup_opts o = {
		.create = create,
		.host_nameserver = HOST_NS,
		.host_searchdomain = HOST_SD,
		.root_uid = (uid_t)-1,
		.root_gid = (gid_t)-1,
	};

	if (create) {
		o.root_password = PASSWORD;
		o.ssh_keys = SSH_KEY;
	}
	return o;
}

/* Run setup on the test rootfs and return its result; REPORT is filled. */
static int run_setup(const struct conf_file *cf, const struct ctm_setup_opts *o,
                     struct ctm_setup_report *report)
{
	return ctm_setup_run(rootfs, conf_main(cf), o, report, errmsg);
}

/* ---- tree comparison ---- */

static const char *compare_base; /* the expected/ tree being walked */
static int compared;

static int compare_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + strlen(compare_base);
	char want[PATH_MAX], got[PATH_MAX];
	struct stat got_st;
	char *want_text, *got_text;
	ssize_t n;

	(void)st;
	(void)ftw;
	if (type == FTW_D || type == FTW_DP)
		return 0;
	ck_assert_msg(lstat(in_root(rel), &got_st) == 0, "%s is missing", rel);

	if (type == FTW_SL) {
		ck_assert_msg(S_ISLNK(got_st.st_mode), "%s is not a symlink", rel);
		n = readlink(path, want, sizeof(want) - 1);
		ck_assert_int_ge(n, 0);
		want[n] = '\0';
		n = readlink(in_root(rel), got, sizeof(got) - 1);
		ck_assert_int_ge(n, 0);
		got[n] = '\0';
		ck_assert_msg(strcmp(want, got) == 0, "%s points to %s, expected %s", rel, got, want);
	} else {
		ck_assert_msg(S_ISREG(got_st.st_mode), "%s is not a regular file", rel);
		want_text = read_text(path);
		got_text = read_text(in_root(rel));
		ck_assert_ptr_nonnull(want_text);
		ck_assert_ptr_nonnull(got_text);
		ck_assert_msg(strcmp(want_text, got_text) == 0,
		              "%s differs\n--- expected\n%s--- got\n%s---", rel, want_text, got_text);
		free(want_text);
		free(got_text);
	}
	compared++;
	return 0;
}

/* Check the rootfs against the expected/ tree and the absent list of fixture NAME. */
static void assert_fixture_result(const char *name)
{
	char dir[PATH_MAX], list[PATH_MAX], *text, *line, *save = NULL;
	struct stat st;

	CHECKED_SNPRINTF(dir, sizeof(dir), "%s/setup/%s/expected", data_dir(), name);
	compare_base = dir;
	compared = 0;
	ck_assert_int_eq(nftw(dir, compare_entry, 16, FTW_PHYS), 0);
	ck_assert_int_gt(compared, 0);

	CHECKED_SNPRINTF(list, sizeof(list), "%s/setup/%s/absent", data_dir(), name);
	text = read_text(list);
	if (!text)
		return;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		ck_assert_msg(lstat(in_root(line), &st) < 0 && errno == ENOENT,
		              "%s exists but should not", line);
	free(text);
}

/* Every entry of a tree with its inode and mtime, to prove nothing was rewritten. */
#define MAX_ENTRIES 512
static struct {
	char path[PATH_MAX];
	ino_t ino;
	struct timespec mtime;
	mode_t mode;
} entries[MAX_ENTRIES];
static int n_entries;

static int record_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)type;
	(void)ftw;
	ck_assert_int_lt(n_entries, MAX_ENTRIES);
	snprintf(entries[n_entries].path, PATH_MAX, "%s", path);
	entries[n_entries].ino = st->st_ino;
	entries[n_entries].mtime = st->st_mtim;
	entries[n_entries].mode = st->st_mode;
	n_entries++;
	return 0;
}

static void tree_record(const char *dir)
{
	n_entries = 0;
	ck_assert_int_eq(nftw(dir, record_entry, 16, FTW_PHYS), 0);
}

/* Assert that DIR still has exactly the recorded entries, untouched. */
static void tree_assert_unchanged(const char *dir)
{
	struct stat st;
	int before = n_entries;

	for (int i = 0; i < before; i++) {
		ck_assert_msg(lstat(entries[i].path, &st) == 0, "%s vanished", entries[i].path);
		ck_assert_msg(st.st_ino == entries[i].ino, "%s was replaced", entries[i].path);
		ck_assert_msg(st.st_mtim.tv_sec == entries[i].mtime.tv_sec &&
		                  st.st_mtim.tv_nsec == entries[i].mtime.tv_nsec,
		              "%s was modified", entries[i].path);
		ck_assert_int_eq(st.st_mode, entries[i].mode);
	}
	tree_record(dir);
	ck_assert_msg(n_entries == before, "%s has %d entries now, %d before", dir, n_entries,
	              before);
}

/* Run fixture NAME twice and check the result after each run. */
static void check_fixture(const char *name, bool create)
{
	struct ctm_setup_opts o = default_opts(create);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture(name);

	copy_fixture(name);

	ck_assert_msg(run_setup(cf, &o, &r) == 0, "first run: %s", errmsg);
	assert_fixture_result(name);
	ctm_setup_report_clear(&r);

	tree_record(rootfs);
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "second run: %s", errmsg);
	ck_assert_msg(r.n_changed == 0, "second run changed %s", r.n_changed ? r.changed[0] : "");
	tree_assert_unchanged(rootfs);
	assert_fixture_result(name);

	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}

/* Check that the root hash in FILE (passwd or shadow) is a SHA-512 hash of PASSWORD. */
static void assert_root_hash(const char *file)
{
	char *text = read_text(in_root(file)), *hash, *end;
	struct crypt_data cd;

	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strncmp(text, "root:$6$", 8) == 0, "%s: %.20s", file, text);
	hash = text + 5;
	end = strchr(hash, ':');
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	memset(&cd, 0, sizeof(cd));
	ck_assert_str_eq(crypt_r(PASSWORD, hash, &cd), hash);
	free(text);
}

/* ---- fixtures ---- */

START_TEST(test_ctm_setup_run_debian12)
{
	check_fixture("debian-12", true);
	assert_root_hash("/etc/shadow");
}
END_TEST

START_TEST(test_ctm_setup_run_debian9)
{
	check_fixture("debian-9", false);
}
END_TEST

START_TEST(test_ctm_setup_run_ubuntu1604)
{
	check_fixture("ubuntu-16.04", false);
}
END_TEST

START_TEST(test_ctm_setup_run_ubuntu2204)
{
	check_fixture("ubuntu-22.04", true);
	assert_root_hash("/etc/shadow");
}
END_TEST

START_TEST(test_ctm_setup_run_devuan)
{
	check_fixture("devuan-4", false);
}
END_TEST

START_TEST(test_ctm_setup_run_alpine)
{
	check_fixture("alpine-3.18", true);
	assert_root_hash("/etc/passwd");
}
END_TEST

START_TEST(test_ctm_setup_run_centos)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("centos-9");

	check_fixture("centos-9", false);

	ck_assert_int_eq(run_setup(cf, &o, &r), 0);
	ck_assert_str_eq(r.os, "centos");
	ck_assert_uint_eq(r.n_notes, 1);
	ck_assert_ptr_nonnull(strstr(r.notes[0], "only /etc/hostname and /etc/hosts"));
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_unmanaged)
{
	struct ctm_setup_opts o = default_opts(true);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("unmanaged");

	copy_fixture("unmanaged");
	tree_record(rootfs);
	ck_assert_int_eq(run_setup(cf, &o, &r), 0);
	ck_assert_str_eq(r.os, "unmanaged");
	ck_assert_uint_eq(r.n_changed, 0);
	tree_assert_unchanged(rootfs);
	assert_fixture_result("unmanaged");
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* ---- .pve-ignore ---- */

START_TEST(test_ctm_setup_run_pve_ignore)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("debian-12");
	char *hosts, *interfaces, *text;

	copy_fixture("debian-12");
	write_text(in_root("/etc/.pve-ignore.hosts"), "");
	write_text(in_root("/etc/network/.pve-ignore.interfaces"), "");
	write_text(in_root("/.pve-ignore.fastboot"), "");
	hosts = read_text(in_root("/etc/hosts"));
	interfaces = read_text(in_root("/etc/network/interfaces"));

	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/hosts"));
	ck_assert_str_eq(text, hosts);
	free(text);
	text = read_text(in_root("/etc/network/interfaces"));
	ck_assert_str_eq(text, interfaces);
	free(text);
	ck_assert_int_ne(access(in_root("/fastboot"), F_OK), 0);
	ck_assert_uint_eq(r.n_ignored, 3);

	/* The files without a marker are still written. */
	text = read_text(in_root("/etc/hostname"));
	ck_assert_str_eq(text, "ct1\n");
	free(text);

	free(hosts);
	free(interfaces);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* A directory named like a marker file does not count: pct checks for a regular file. */
START_TEST(test_ctm_setup_run_pve_ignore_dir)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("debian-12");

	copy_fixture("debian-12");
	ck_assert_int_eq(mkdir(in_root("/etc/.pve-ignore.hostname"), 0755), 0);
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	ck_assert_uint_eq(r.n_ignored, 0);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* ---- markers ---- */

START_TEST(test_ctm_setup_run_markers_in_place)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("hostname: a\nostype: debian\n"
	                                        "searchdomain: example.com\n");
	char *text;

	copy_fixture("debian-9");
	/* Blanks in the markers are tolerated, and the second section is left as it is. */
	write_text(in_root("/etc/hosts"), "1.2.3.4 first\n"
	                                  "#  ---  BEGIN PVE ---\n"
	                                  "127.0.1.1 stale\n"
	                                  "# --- END PVE ---\n"
	                                  "5.6.7.8 middle\n"
	                                  "# --- BEGIN PVE ---\n"
	                                  "9.9.9.9 second\n"
	                                  "# --- END PVE ---\n"
	                                  "::1 ip6-localhost\n"
	                                  "\n\n");
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/hosts"));
	ck_assert_str_eq(text, "1.2.3.4 first\n"
	                       "# --- BEGIN PVE ---\n"
	                       "127.0.0.1 localhost.localnet localhost\n"
	                       "127.0.1.1 a.example.com a\n"
	                       "# --- END PVE ---\n"
	                       "5.6.7.8 middle\n"
	                       "# --- BEGIN PVE ---\n"
	                       "9.9.9.9 second\n"
	                       "# --- END PVE ---\n"
	                       "::1 ip6-localhost\n");
	free(text);

	/* resolv.conf without a section is replaced by the section alone. */
	text = read_text(in_root("/etc/resolv.conf"));
	ck_assert_str_eq(text, "# --- BEGIN PVE ---\n"
	                       "search example.com\n"
	                       "nameserver " HOST_NS "\n"
	                       "# --- END PVE ---\n");
	free(text);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_markers_append)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("hostname: b\nostype: debian\nsearchdomain: x.org\n"
	                                        "nameserver: 192.0.2.9\n");
	char *text;

	copy_fixture("debian-9");
	write_text(in_root("/etc/hosts"), "127.0.0.1 localhost\n::1 localhost\n");
	write_text(in_root("/etc/resolv.conf"), "nameserver 10.0.0.1\n# --- BEGIN PVE ---\n"
	                                        "nameserver 10.0.0.2\n# --- END PVE ---\n"
	                                        "options edns0\n");
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/hosts"));
	ck_assert_str_eq(text, "127.0.0.1 localhost\n::1 localhost\n"
	                       "# --- BEGIN PVE ---\n"
	                       "127.0.1.1 b.x.org b\n"
	                       "# --- END PVE ---\n");
	free(text);
	text = read_text(in_root("/etc/resolv.conf"));
	ck_assert_str_eq(text, "nameserver 10.0.0.1\n# --- BEGIN PVE ---\n"
	                       "search x.org\nnameserver 192.0.2.9\n# --- END PVE ---\n"
	                       "options edns0\n");
	free(text);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* The unmarked route lines older releases wrote are replaced too. */
START_TEST(test_ctm_setup_run_legacy_routes)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text(
		"ostype: debian\nnet0: name=eth0,ip=198.51.100.5/24,gw=198.51.100.1\n");
	char *text;

	copy_fixture("debian-9");
	write_text(in_root("/etc/network/interfaces"),
	           "auto lo\niface lo inet loopback\n\n"
	           "auto eth0\niface eth0 inet static\n"
	           "\taddress 10.0.0.5\n\tnetmask 255.255.255.0\n"
	           "\tpost-up ip route add 203.0.113.1 dev eth0\n"
	           "\tpost-up  ip route add default via 203.0.113.1 dev eth0\n"
	           "\tpre-down ip route del default via 203.0.113.1 dev eth0\n"
	           "\tpre-down ip route del 203.0.113.1 dev eth0\n"
	           "\tpost-up ip route add 192.0.2.9 dev eth1\n");
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/network/interfaces"));
	ck_assert_str_eq(text, "auto lo\niface lo inet loopback\n\n"
	                       "auto eth0\niface eth0 inet static\n"
	                       "\taddress 198.51.100.5\n\tnetmask 255.255.255.0\n"
	                       "\tgateway 198.51.100.1\n"
	                       "\tpost-up ip route add 192.0.2.9 dev eth1\n\n");
	free(text);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* Two netN with one interface name: the later one wins, nothing leaks. */
START_TEST(test_ctm_setup_run_duplicate_iface)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("ostype: debian\n"
	                                        "net0: name=eth0,ip=192.0.2.5/24,ip6=2001:db8::5/64\n"
	                                        "net1: name=eth0,ip=198.51.100.5/24\n");
	char *text;

	copy_fixture("debian-9");
	unlink(in_root("/etc/network/interfaces"));
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/network/interfaces"));
	ck_assert_str_eq(text, "auto lo\niface lo inet loopback\niface lo inet6 loopback\n\n"
	                       "auto eth0\niface eth0 inet static\n"
	                       "\taddress 198.51.100.5\n\tnetmask 255.255.255.0\n\n");
	free(text);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* ---- confinement ---- */

/*
 * Symlinks in the guest that point at host files (absolute, relative with
 * many "..", and a directory link) stand for a hostile guest that links
 * /etc/hosts to the host's /etc/passwd. A sentinel file outside the rootfs
 * takes the place of /etc/passwd, so that a bug cannot damage the host.
 */
START_TEST(test_ctm_setup_run_symlink_escape)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("debian-12");
	char sentinel[PATH_MAX], relative[3 * PATH_MAX], target[PATH_MAX];
	struct stat st;
	char *text;

	copy_fixture("debian-12");
	CHECKED_SNPRINTF(sentinel, sizeof(sentinel), "%s/passwd", outside);
	write_text(sentinel, "host secret\n");

	unlink(in_root("/etc/hosts"));
	ck_assert_int_eq(symlink(sentinel, in_root("/etc/hosts")), 0);
	CHECKED_SNPRINTF(relative, sizeof(relative), "../../../../../../../../..%s", sentinel);
	unlink(in_root("/etc/resolv.conf"));
	ck_assert_int_eq(symlink(relative, in_root("/etc/resolv.conf")), 0);
	ck_assert_int_eq(symlink(sentinel, in_root("/etc/hostname")), 0);
	run_cmd("rm -rf '%s'%s", in_root("/etc/network"), "");
	ck_assert_int_eq(symlink(outside, in_root("/etc/network")), 0);
	run_cmd("mkdir -p '%s'%s", in_root(outside), "");
	tree_record(outside);

	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);

	/* The host side is untouched. */
	text = read_text(sentinel);
	ck_assert_str_eq(text, "host secret\n");
	free(text);
	tree_assert_unchanged(outside);

	/* The links were replaced by regular files inside the guest. */
	ck_assert_int_eq(lstat(in_root("/etc/hosts"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	text = read_text(in_root("/etc/hosts"));
	ck_assert_ptr_null(strstr(text, "host secret"));
	free(text);
	ck_assert_int_eq(lstat(in_root("/etc/resolv.conf"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	text = read_text(in_root("/etc/hostname"));
	ck_assert_str_eq(text, "ct1\n");
	free(text);

	/* The directory link was followed as if the rootfs were /. */
	ck_assert_int_eq(readlink(in_root("/etc/network"), target, sizeof(target)), strlen(outside));
	ck_assert_int_eq(lstat(in_root(outside), &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	CHECKED_SNPRINTF(target, sizeof(target), "%s/interfaces", outside);
	ck_assert_int_eq(access(in_root(target), F_OK), 0);

	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/*
 * The literal case: guest files linked to /etc/passwd, absolute and
 * relative. The test runs in a child with its own mount namespace, where
 * a sentinel file is bind-mounted over /etc/passwd, so a bug writes into
 * the sentinel and never into the host's file. Needs root; skipped
 * otherwise.
 */
START_TEST(test_ctm_setup_run_link_to_passwd)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("debian-12");
	char sentinel[PATH_MAX], *text;
	struct stat st;
	int status, rv;
	pid_t pid;

	if (geteuid() != 0) {
		conf_file_free(cf);
		return;
	}
	copy_fixture("debian-12");
	CHECKED_SNPRINTF(sentinel, sizeof(sentinel), "%s/passwd", outside);
	write_text(sentinel, "sentinel\n");
	ck_assert_int_eq(symlink("/etc/passwd", in_root("/etc/hostname")), 0);
	unlink(in_root("/etc/hosts"));
	ck_assert_int_eq(symlink("../../../../../../../../../../etc/passwd", in_root("/etc/hosts")),
	                 0);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount(sentinel, "/etc/passwd", "none", MS_BIND, NULL) < 0)
			_exit(77);
		rv = run_setup(cf, &o, &r);
		ctm_setup_report_clear(&r);
		conf_file_free(cf);
		text = read_text("/etc/passwd");
		status = rv != 0 ? 1 : strcmp(text, "sentinel\n") != 0 ? 2 : 0;
		free(text);
		_exit(status);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	conf_file_free(cf);
	if (WEXITSTATUS(status) == 77)
		return;
	ck_assert_msg(WEXITSTATUS(status) == 0, "child failed with %d (1: setup failed, 2: "
	              "/etc/passwd was written)", WEXITSTATUS(status));

	text = read_text(sentinel);
	ck_assert_str_eq(text, "sentinel\n");
	free(text);
	ck_assert_int_eq(lstat(in_root("/etc/hostname"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(lstat(in_root("/etc/hosts"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

/* A home directory linked out of the guest is not where SSH keys go. */
START_TEST(test_ctm_setup_run_symlink_home)
{
	struct ctm_setup_opts o = default_opts(true);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("debian-12");
	int rv;

	copy_fixture("debian-12");
	run_cmd("rm -rf '%s'%s", in_root("/root"), "");
	ck_assert_int_eq(symlink(outside, in_root("/root")), 0);
	tree_record(outside);

	rv = run_setup(cf, &o, &r);
	ck_assert_int_eq(rv, -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "home directory /root"));
	tree_assert_unchanged(outside);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_ctm_setup_run_ostype_mismatch)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("hostname: x\nostype: alpine\n");

	copy_fixture("debian-12");
	tree_record(rootfs);
	ck_assert_int_eq(run_setup(cf, &o, &r), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "ostype is alpine"));
	ck_assert_ptr_nonnull(strstr(errmsg, "is debian"));
	tree_assert_unchanged(rootfs);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_unknown_os)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("hostname: x\n");

	ck_assert_int_eq(mkdir(in_root("/etc"), 0755), 0);
	ck_assert_int_eq(run_setup(cf, &o, &r), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "/etc/os-release"));
	ck_assert_ptr_nonnull(strstr(errmsg, "unmanaged"));
	ctm_setup_report_clear(&r);

	write_text(in_root("/etc/os-release"), "NAME=\"Mystery\"\nID=\"mystery\"\n");
	ck_assert_int_eq(run_setup(cf, &o, &r), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "/etc/os-release has the unknown ID \"mystery\""));
	ck_assert_uint_eq(r.n_changed, 0);
	ctm_setup_report_clear(&r);

	/* A release file of a known distribution is the fallback, as in pct. */
	write_text(in_root("/etc/alpine-release"), "3.19.1\n");
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	ck_assert_str_eq(r.os, "alpine");
	ck_assert_str_eq(r.version, "3.19.1");
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_old_release)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("ostype: ubuntu\n");

	ck_assert_int_eq(mkdir(in_root("/etc"), 0755), 0);
	write_text(in_root("/etc/lsb-release"), "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=13.10\n");
	ck_assert_int_eq(run_setup(cf, &o, &r), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(errmsg, "13.10"));
	ctm_setup_report_clear(&r);
	conf_file_free(cf);

	cf = config_from_text("ostype: debian\n");
	write_text(in_root("/etc/os-release"), "ID=debian\n");
	write_text(in_root("/etc/debian_version"), "bogus\n");
	ck_assert_int_eq(run_setup(cf, &o, &r), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "/etc/debian_version"));
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_bad_rootfs)
{
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("ostype: debian\n");

	ck_assert_int_eq(ctm_setup_run("/", conf_main(cf), NULL, &r, errmsg), -EINVAL);
	ck_assert_int_eq(ctm_setup_run("//", conf_main(cf), NULL, &r, errmsg), -EINVAL);
	ck_assert_int_eq(ctm_setup_run("relative", conf_main(cf), NULL, &r, errmsg), -EINVAL);
	ck_assert_int_eq(ctm_setup_run(in_root("/missing"), conf_main(cf), NULL, &r, errmsg),
	                 -ENOENT);
	ck_assert_ptr_nonnull(strstr(errmsg, "missing"));
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_bad_net)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("ostype: debian\nnet3: name=eth0,ip=300.1.1.1/24\n");

	copy_fixture("debian-9");
	tree_record(rootfs);
	ck_assert_int_eq(run_setup(cf, &o, &r), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "net3"));
	tree_assert_unchanged(rootfs);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_bad_dns)
{
	static const char *const configs[] = {
		"ostype: debian\nhostname: a b\n",
		"ostype: debian\nhostname: x/../y\n",
		"ostype: debian\nnameserver: 192.0.2.1 evil\n",
		"ostype: debian\nsearchdomain: ok.example bad_domain!\n",
	};
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf;

	copy_fixture("debian-9");
	tree_record(rootfs);
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		cf = config_from_text(configs[i]);
		ck_assert_int_eq(run_setup(cf, &o, &r), -EINVAL);
		ck_assert_ptr_nonnull(strstr(errmsg, "in the config"));
		ctm_setup_report_clear(&r);
		conf_file_free(cf);
	}
	tree_assert_unchanged(rootfs);

	/* A link-local server with its zone is valid. */
	cf = config_from_text("ostype: debian\nnameserver: fe80::1%eth0\n");
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* A minimal Debian rootfs with only os-release, as test containers have. */
START_TEST(test_ctm_setup_run_debian_os_release_only)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("ostype: debian\nhostname: bb\n");

	ck_assert_int_eq(mkdir(in_root("/etc"), 0755), 0);
	write_text(in_root("/etc/os-release"), "ID=debian\nVERSION_ID=\"12\"\n");
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	ck_assert_str_eq(r.version, "12");
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* ---- DNS, password, tty ---- */

START_TEST(test_ctm_setup_run_host_resolv_conf)
{
	struct ctm_setup_opts o = { .root_uid = (uid_t)-1, .root_gid = (gid_t)-1 };
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("hostname: h\nostype: debian\n");
	char host_resolv[PATH_MAX];
	char *text;

	copy_fixture("debian-9");
	CHECKED_SNPRINTF(host_resolv, sizeof(host_resolv), "%s/resolv.conf", outside);
	write_text(host_resolv, "# host\ndomain old.example\nsearch a.example b.example\n"
	                        "nameserver 192.0.2.1\nnameserver 192.0.2.2\n"
	                        "nameserver 192.0.2.3\nnameserver 192.0.2.4\noptions rotate\n");
	o.host_resolv_conf = host_resolv;
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/resolv.conf"));
	ck_assert_str_eq(text, "# --- BEGIN PVE ---\nsearch a.example b.example\n"
	                       "nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n"
	                       "# --- END PVE ---\n");
	free(text);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_password_hash_given)
{
	static const char hash[] = "$6$abcdefgh$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
	struct ctm_setup_opts o = default_opts(true);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("debian-12");
	char *text;

	copy_fixture("debian-12");
	o.root_password = hash;
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/shadow"));
	ck_assert_ptr_nonnull(strstr(text, hash));
	ck_assert_ptr_nonnull(strstr(text, "daemon:*:19000:0:99999:7:::\n"));
	free(text);
	ctm_setup_report_clear(&r);

	/* No password locks root, as pct does. */
	o.root_password = NULL;
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/shadow"));
	ck_assert_int_eq(strncmp(text, "root:*:", 7), 0);
	free(text);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_tty_zero)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("hostname: t\nostype: debian\ntty: 0\n");
	char *text;

	copy_fixture("debian-9");
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	text = read_text(in_root("/etc/inittab"));
	ck_assert_ptr_null(strstr(text, "getty"));
	ck_assert_ptr_nonnull(strstr(text, "p0::powerfail:/sbin/init 0\n"));
	free(text);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);

	cf = config_from_text("ostype: debian\ntty: 9\n");
	tree_record(rootfs);
	ck_assert_int_eq(run_setup(cf, &o, &r), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "tty"));
	tree_assert_unchanged(rootfs);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

START_TEST(test_ctm_setup_run_timezone)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_from_text("ostype: debian\ntimezone: host\n");
	char target[PATH_MAX];
	ssize_t n;

	copy_fixture("debian-12");

	/* A relative link to the zone's file is kept. */
	o.host_timezone = "Europe/Vienna";
	unlink(in_root("/etc/localtime"));
	ck_assert_int_eq(symlink("../usr/share/zoneinfo/Europe/Vienna", in_root("/etc/localtime")),
	                 0);
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	n = readlink(in_root("/etc/localtime"), target, sizeof(target) - 1);
	ck_assert_int_gt(n, 0);
	target[n] = '\0';
	ck_assert_str_eq(target, "../usr/share/zoneinfo/Europe/Vienna");
	ctm_setup_report_clear(&r);

	/* A zone the guest lacks leaves the link alone, with a note. */
	o.host_timezone = "America/Lima";
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	ck_assert_uint_eq(r.n_notes, 1);
	ck_assert_ptr_nonnull(strstr(r.notes[0], "/usr/share/zoneinfo/America/Lima"));
	ctm_setup_report_clear(&r);
	conf_file_free(cf);

	/* A zone name that climbs out of the zoneinfo tree is invalid. */
	cf = config_from_text("ostype: debian\ntimezone: ../../../etc/shadow\n");
	ck_assert_int_eq(run_setup(cf, &o, &r), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "invalid timezone"));
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

/* New files of an unprivileged container belong to its mapped root. */
START_TEST(test_ctm_setup_run_owner)
{
	struct ctm_setup_opts o = default_opts(false);
	struct ctm_setup_report r;
	struct conf_file *cf = config_of_fixture("ubuntu-22.04");
	struct stat st;

	if (geteuid() != 0)
		return;
	copy_fixture("ubuntu-22.04");
	o.root_uid = 100000;
	o.root_gid = 100000;
	ck_assert_msg(run_setup(cf, &o, &r) == 0, "%s", errmsg);
	ck_assert_int_eq(lstat(in_root("/etc/systemd/network/eth0.network"), &st), 0);
	ck_assert_int_eq(st.st_uid, 100000);
	ck_assert_int_eq(st.st_gid, 100000);
	ck_assert_int_eq(lstat(in_root("/etc/systemd/network"), &st), 0);
	ck_assert_int_eq(st.st_uid, 100000);
	/* A replaced file keeps its owner. */
	ck_assert_int_eq(lstat(in_root("/usr/lib/systemd/system/container-getty@.service"), &st),
	                 0);
	ck_assert_int_eq(st.st_uid, 0);
	ctm_setup_report_clear(&r);
	conf_file_free(cf);
}
END_TEST

static Suite *setup_suite(void)
{
	Suite *s = suite_create("setup");
	TCase *tc = tcase_create("ctm_setup_run");

	tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ctm_setup_run_debian12);
	tcase_add_test(tc, test_ctm_setup_run_debian9);
	tcase_add_test(tc, test_ctm_setup_run_ubuntu1604);
	tcase_add_test(tc, test_ctm_setup_run_ubuntu2204);
	tcase_add_test(tc, test_ctm_setup_run_devuan);
	tcase_add_test(tc, test_ctm_setup_run_alpine);
	tcase_add_test(tc, test_ctm_setup_run_centos);
	tcase_add_test(tc, test_ctm_setup_run_unmanaged);
	tcase_add_test(tc, test_ctm_setup_run_pve_ignore);
	tcase_add_test(tc, test_ctm_setup_run_pve_ignore_dir);
	tcase_add_test(tc, test_ctm_setup_run_markers_in_place);
	tcase_add_test(tc, test_ctm_setup_run_markers_append);
	tcase_add_test(tc, test_ctm_setup_run_legacy_routes);
	tcase_add_test(tc, test_ctm_setup_run_duplicate_iface);
	tcase_add_test(tc, test_ctm_setup_run_symlink_escape);
	tcase_add_test(tc, test_ctm_setup_run_link_to_passwd);
	tcase_add_test(tc, test_ctm_setup_run_symlink_home);
	tcase_add_test(tc, test_ctm_setup_run_ostype_mismatch);
	tcase_add_test(tc, test_ctm_setup_run_unknown_os);
	tcase_add_test(tc, test_ctm_setup_run_old_release);
	tcase_add_test(tc, test_ctm_setup_run_bad_rootfs);
	tcase_add_test(tc, test_ctm_setup_run_bad_net);
	tcase_add_test(tc, test_ctm_setup_run_bad_dns);
	tcase_add_test(tc, test_ctm_setup_run_debian_os_release_only);
	tcase_add_test(tc, test_ctm_setup_run_host_resolv_conf);
	tcase_add_test(tc, test_ctm_setup_run_password_hash_given);
	tcase_add_test(tc, test_ctm_setup_run_tty_zero);
	tcase_add_test(tc, test_ctm_setup_run_timezone);
	tcase_add_test(tc, test_ctm_setup_run_owner);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(setup_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
