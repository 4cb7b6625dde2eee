/*
 * Unit tests for conf/schema.c: key lookup, the read-time checks with
 * their normalisation, the strict checks for setting values, and the
 * classification of raw lxc.* keys.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/schema.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* A key, a value, the expected return and a phrase of the message. */
struct key_case {
	const char *key;
	const char *value;
	int rv;
	const char *message;
};

static void check_cases(int (*fn)(const char *, const char *, char *), const struct key_case *cases,
                        size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "";
		int rv = fn(cases[i].key, cases[i].value, errmsg);

		ck_assert_msg(rv == cases[i].rv, "%s: %s returned %d (%s), expected %d", cases[i].key,
		              cases[i].value, rv, errmsg, cases[i].rv);
		if (cases[i].message)
			ck_assert_msg(strstr(errmsg, cases[i].message) != NULL,
			              "%s: %s: message '%s' lacks '%s'", cases[i].key, cases[i].value,
			              errmsg, cases[i].message);
	}
}

/* conf_schema_parse_check() without the normalised value. */
static int parse_check(const char *key, const char *value, char *errmsg)
{
	char *normalized = NULL;
	int rv = conf_schema_parse_check(key, value, &normalized, errmsg);

	free(normalized);
	return rv;
}

/* ---- conf_schema_lookup ---- */

START_TEST(test_conf_schema_lookup_every_key)
{
	static const struct {
		const char *key;
		enum conf_type type;
	} keys[] = {
		{ "arch", CONF_TYPE_ENUM },        { "cmode", CONF_TYPE_ENUM },
		{ "console", CONF_TYPE_BOOL },     { "cores", CONF_TYPE_INT },
		{ "cpulimit", CONF_TYPE_NUMBER },  { "cpuunits", CONF_TYPE_INT },
		{ "debug", CONF_TYPE_BOOL },       { "delete", CONF_TYPE_STRING },
		{ "description", CONF_TYPE_STRING }, { "dev0", CONF_TYPE_PROPSTR },
		{ "entrypoint", CONF_TYPE_STRING }, { "env", CONF_TYPE_STRING },
		{ "features", CONF_TYPE_PROPSTR }, { "hookscript", CONF_TYPE_STRING },
		{ "hostname", CONF_TYPE_STRING },  { "lock", CONF_TYPE_ENUM },
		{ "memory", CONF_TYPE_INT },       { "mp0", CONF_TYPE_PROPSTR },
		{ "nameserver", CONF_TYPE_STRING }, { "net0", CONF_TYPE_PROPSTR },
		{ "onboot", CONF_TYPE_BOOL },      { "ostype", CONF_TYPE_ENUM },
		{ "parent", CONF_TYPE_STRING },    { "protection", CONF_TYPE_BOOL },
		{ "rootfs", CONF_TYPE_PROPSTR },   { "searchdomain", CONF_TYPE_STRING },
		{ "snapstate", CONF_TYPE_ENUM },   { "snaptime", CONF_TYPE_INT },
		{ "startup", CONF_TYPE_PROPSTR },  { "swap", CONF_TYPE_INT },
		{ "tags", CONF_TYPE_STRING },      { "template", CONF_TYPE_BOOL },
		{ "timezone", CONF_TYPE_STRING },  { "tty", CONF_TYPE_INT },
		{ "unprivileged", CONF_TYPE_BOOL }, { "unused0", CONF_TYPE_PROPSTR },
	};

	for (size_t i = 0; i < N_ELEMENTS(keys); i++) {
		const struct conf_key_info *info = conf_schema_lookup(keys[i].key);

		ck_assert_msg(info != NULL, "%s not found", keys[i].key);
		ck_assert_int_eq(info->type, keys[i].type);
		ck_assert_ptr_nonnull(info->description);
		ck_assert_uint_gt(strlen(info->description), 0);
	}
}
END_TEST

START_TEST(test_conf_schema_lookup_indexed)
{
	static const struct {
		const char *key;
		const char *name;
		unsigned max_index;
	} found[] = {
		{ "mp0", "mp", 255 },         { "mp10", "mp", 255 },     { "mp255", "mp", 255 },
		{ "net0", "net", 31 },        { "net31", "net", 31 },    { "dev0", "dev", 255 },
		{ "dev255", "dev", 255 },     { "unused0", "unused", 255 }, { "unused255", "unused", 255 },
	};
	static const char *const missing[] = { "mp256", "mp01", "mp", "net32", "net", "dev256",
		                                "unused256", "unused", "memory0", "rootfs0",
		                                "mp1000", "mp-1", "", "vmstate", "digest", "Memory",
		                                "lxc", "snapshots" };

	for (size_t i = 0; i < N_ELEMENTS(found); i++) {
		const struct conf_key_info *info = conf_schema_lookup(found[i].key);

		ck_assert_msg(info != NULL, "%s not found", found[i].key);
		ck_assert_str_eq(info->name, found[i].name);
		ck_assert(info->indexed);
		ck_assert_uint_eq(info->max_index, found[i].max_index);
	}
	for (size_t i = 0; i < N_ELEMENTS(missing); i++)
		ck_assert_msg(conf_schema_lookup(missing[i]) == NULL, "%s found", missing[i]);

	ck_assert(!conf_schema_lookup("memory")->indexed);
	ck_assert_uint_eq(conf_schema_lookup("memory")->max_index, 0);
}
END_TEST

/* ---- conf_schema_parse_check ---- */

START_TEST(test_conf_schema_parse_check_types)
{
	static const struct key_case cases[] = {
		{ "onboot", "1", 0, NULL },
		{ "onboot", "maybe", -EINVAL, "invalid value 'maybe' for 'onboot': expected a boolean" },
		{ "onboot", "2", -EINVAL, "for 'onboot'" },
		{ "memory", "512", 0, NULL },
		{ "memory", "-512", -EINVAL, "invalid value '-512' for 'memory': expected an integer" },
		{ "memory", "+512", -EINVAL, "for 'memory'" },
		{ "memory", "512M", -EINVAL, "for 'memory'" },
		{ "memory", "5.5", -EINVAL, "for 'memory'" },
		{ "memory", " 512", -EINVAL, "for 'memory'" },
		{ "cpulimit", "1.5", 0, NULL },
		{ "cpulimit", "2", 0, NULL },
		{ "cpulimit", "1.", -EINVAL, "invalid value '1.' for 'cpulimit': expected a number" },
		{ "cpulimit", ".5", -EINVAL, "for 'cpulimit'" },
		{ "cpulimit", "-1", -EINVAL, "for 'cpulimit'" },
		{ "cpulimit", "1e3", -EINVAL, "for 'cpulimit'" },
		{ "cpulimit", "1.2.3", -EINVAL, "for 'cpulimit'" },
		{ "foo", "1", -ENOENT, "unknown setting 'foo'" },
		{ "vmstate", "local:state", -ENOENT, "unknown setting 'vmstate'" },
		{ "mp256", "local:1,mp=/x", -ENOENT, "unknown setting 'mp256'" },
		{ "memory", "", -EINVAL, "missing value for 'memory'" },
		{ "hostname", "a\nb", -EINVAL, "line break" },
		{ "hostname", "a\rb", -EINVAL, "line break" },
	};

	check_cases(parse_check, cases, N_ELEMENTS(cases));
}
END_TEST

START_TEST(test_conf_schema_parse_check_formats)
{
	static const struct key_case cases[] = {
		{ "rootfs", "local:subvol-100-disk-0,size=8G", 0, NULL },
		{ "rootfs", "local:1,acl=maybe", -EINVAL, "rootfs: invalid value 'maybe' for 'acl'" },
		{ "mp0", "/srv,mp=/srv", 0, NULL },
		{ "mp0", "/srv", -EINVAL, "mp0: missing required key 'mp'" },
		{ "net0", "name=eth0,bridge=vmbr0,ip=dhcp", 0, NULL },
		{ "net0", "name=eth0,mtu=9", -EINVAL, "net0: invalid value '9' for 'mtu'" },
		{ "net31", "bridge=vmbr0", -EINVAL, "net31: missing required key 'name'" },
		{ "dev0", "/dev/null", 0, NULL },
		{ "dev1", "/tmp/x", -EINVAL, "dev1: invalid value '/tmp/x' for 'path'" },
		{ "features", "nesting=1,keyctl=1", 0, NULL },
		{ "features", "nesting=1,nesting=1", -EINVAL, "features: duplicate key 'nesting'" },
		{ "unused0", "local:vm-100-disk-1", 0, NULL },
		{ "unused0", "/srv", -EINVAL, "unused0: invalid value '/srv' for 'volume'" },
		{ "startup", "order=1,up=30", 0, NULL },
		{ "startup", "0", -EINVAL, "invalid value '0' for 'startup'" },
		{ "startup", "first", -EINVAL, "invalid value 'first' for 'startup'" },
		{ "hostname", "ct100.example.com", 0, NULL },
		{ "hostname", "ct_100", -EINVAL, "invalid value 'ct_100' for 'hostname': expected a DNS name" },
		{ "nameserver", "8.8.8.8 2001:4860:4860::8888", 0, NULL },
		{ "nameserver", "1.1.1.1,8.8.8.8;9.9.9.9", 0, NULL },
		{ "nameserver", "fe80::1%eth0", 0, NULL },
		{ "nameserver", " , ", 0, NULL },
		{ "nameserver", "fd00::1%eth0", -EINVAL, "for 'nameserver'" },
		{ "nameserver", "fe80::1%", -EINVAL, "for 'nameserver'" },
		{ "nameserver", "dns.example.com", -EINVAL, "for 'nameserver': expected a list of IP addresses" },
		{ "searchdomain", "example.com lab.example.com", 0, NULL },
		{ "searchdomain", "example..com", -EINVAL, "for 'searchdomain'" },
		{ "tags", "web;prod,db test", 0, NULL },
		{ "tags", "_x;A.b+c-d", 0, NULL },
		{ "tags", "-web", -EINVAL, "for 'tags'" },
		{ "tags", "web!", -EINVAL, "for 'tags'" },
		{ "timezone", "Europe/Vienna", 0, NULL },
		{ "timezone", "host", 0, NULL },
		{ "timezone", "Etc/GMT+5", 0, NULL },
		{ "timezone", "../etc/passwd", -EINVAL, "for 'timezone'" },
		{ "timezone", "Europe//Vienna", -EINVAL, "for 'timezone'" },
		{ "hookscript", "local:snippets/hook.sh", 0, NULL },
		{ "hookscript", "/var/lib/vz/snippets/hook.sh", -EINVAL, "expected a volume id" },
		{ "parent", "before-upgrade", 0, NULL },
		{ "parent", "1st", -EINVAL, "for 'parent'" },
		{ "parent", "a", -EINVAL, "for 'parent'" },
		{ "snapstate", "prepare", 0, NULL },
		{ "snapstate", "delete", 0, NULL },
		{ "snapstate", "done", -EINVAL, "expected prepare or delete" },
		{ "delete", "mp0,net1", 0, NULL },
		{ "delete", "whatever", 0, NULL },
	};

	check_cases(parse_check, cases, N_ELEMENTS(cases));
}
END_TEST

/* What pct checks only when a value is set passes when reading. */
START_TEST(test_conf_schema_parse_check_skips_limits)
{
	static const struct key_case cases[] = {
		{ "ostype", "redhat", 0, NULL },    { "arch", "sparc", 0, NULL },
		{ "cmode", "serial", 0, NULL },     { "lock", "held", 0, NULL },
		{ "tty", "9", 0, NULL },            { "cores", "0", 0, NULL },
		{ "cores", "9000", 0, NULL },       { "memory", "8", 0, NULL },
		{ "cpulimit", "9000.5", 0, NULL },  { "cpuunits", "500001", 0, NULL },
		{ "entrypoint", "a\x01", 0, NULL }, { "env", "not an entry", 0, NULL },
		{ "parent", "a123456789012345678901234567890123456789x", 0, NULL },
	};

	check_cases(parse_check, cases, N_ELEMENTS(cases));
}
END_TEST

START_TEST(test_conf_schema_parse_check_normalizes)
{
	static const struct {
		const char *key;
		const char *value;
		const char *normalized; /* NULL when unchanged */
	} cases[] = {
		{ "onboot", "yes", "1" },      { "onboot", "TRUE", "1" },   { "onboot", "on", "1" },
		{ "onboot", "no", "0" },       { "onboot", "False", "0" },  { "onboot", "off", "0" },
		{ "onboot", "1", NULL },       { "onboot", "0", NULL },     { "memory", "007", "7" },
		{ "memory", "000", "0" },      { "memory", "512", NULL },   { "tty", "0", NULL },
		{ "cpulimit", "01.50", NULL }, { "hostname", "Web", NULL },
		{ "delete", "swap;!mp0 net1,mp0", "mp0,net1,swap" },
		{ "delete", "net1,!memory", "!memory,net1" },
		{ "delete", "a,b", NULL },
		/* Found by fuzzing: an empty list normalised to "". */
		{ "delete", "\t\t", NULL },
		{ "delete", ",;", NULL },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "", *normalized = (char *)"unset";

		ck_assert_int_eq(conf_schema_parse_check(cases[i].key, cases[i].value, &normalized, errmsg), 0);
		if (cases[i].normalized)
			ck_assert_str_eq(normalized, cases[i].normalized);
		else
			ck_assert_ptr_null(normalized);
		free(normalized);
	}
}
END_TEST

START_TEST(test_conf_schema_parse_check_error_leaves_null)
{
	char errmsg[CONF_ERRMSG_SIZE], *normalized = (char *)"unset";

	ck_assert_int_eq(conf_schema_parse_check("onboot", "maybe", &normalized, errmsg), -EINVAL);
	ck_assert_ptr_null(normalized);
	normalized = (char *)"unset";
	ck_assert_int_eq(conf_schema_parse_check("nokey", "1", &normalized, errmsg), -ENOENT);
	ck_assert_ptr_null(normalized);
	ck_assert_int_eq(conf_schema_parse_check("nokey", "1", &normalized, NULL), -ENOENT);
}
END_TEST

/* ---- conf_schema_validate ---- */

START_TEST(test_conf_schema_validate_ranges)
{
	static const struct key_case cases[] = {
		{ "cores", "1", 0, NULL },
		{ "cores", "8192", 0, NULL },
		{ "cores", "0", -EINVAL, "invalid value '0' for 'cores': expected an integer from 1 to 8192" },
		{ "cores", "8193", -EINVAL, "from 1 to 8192" },
		{ "cpulimit", "0", 0, NULL },
		{ "cpulimit", "8192", 0, NULL },
		{ "cpulimit", "0.25", 0, NULL },
		{ "cpulimit", "8192.0", 0, NULL },
		{ "cpulimit", "8192.01", -EINVAL, "expected a number from 0 to 8192" },
		{ "cpuunits", "0", 0, NULL },
		{ "cpuunits", "500000", 0, NULL },
		{ "cpuunits", "500001", -EINVAL, "from 0 to 500000" },
		{ "memory", "16", 0, NULL },
		{ "memory", "1048576", 0, NULL },
		{ "memory", "15", -EINVAL,
		  "invalid value '15' for 'memory': expected an integer from 16 to 1073741824" },
		{ "memory", "0016", 0, NULL },
		/* 1 PiB at most: larger values overflow the byte count. */
		{ "memory", "1073741824", 0, NULL },
		{ "memory", "1073741825", -EINVAL,
		  "invalid value '1073741825' for 'memory': expected an integer from 16 to 1073741824" },
		{ "memory", "17592186044417", -EINVAL, "from 16 to 1073741824" },
		{ "memory", "99999999999999999999", -EINVAL, "from 16 to 1073741824" },
		{ "swap", "0", 0, NULL },
		{ "swap", "1073741824", 0, NULL },
		{ "swap", "1073741825", -EINVAL,
		  "invalid value '1073741825' for 'swap': expected an integer from 0 to 1073741824" },
		{ "swap", "99999999999999999999999", -EINVAL, "from 0 to 1073741824" },
		{ "swap", "-1", -EINVAL, "for 'swap'" },
		{ "tty", "0", 0, NULL },
		{ "tty", "6", 0, NULL },
		{ "tty", "7", -EINVAL, "expected an integer from 0 to 6" },
		{ "tty", "99999999999999999999999", -EINVAL, "from 0 to 6" },
		{ "snaptime", "0", 0, NULL },
		{ "snaptime", "1234567890", 0, NULL },
		{ "snaptime", "-1", -EINVAL, "for 'snaptime'" },
	};

	check_cases(conf_schema_validate, cases, N_ELEMENTS(cases));
}
END_TEST

START_TEST(test_conf_schema_validate_enums)
{
	static const char *const arch[] = { "amd64", "i386", "arm64", "armhf", "riscv32", "riscv64" };
	static const char *const cmode[] = { "shell", "console", "tty" };
	static const char *const lock[] = { "backup",   "create",   "destroyed", "disk",
		                            "fstrim",   "migrate",  "mounted",   "rollback",
		                            "snapshot", "snapshot-delete" };
	static const char *const ostype[] = { "debian", "devuan",    "ubuntu", "centos",
		                              "fedora", "opensuse",  "archlinux", "alpine",
		                              "gentoo", "nixos",     "unmanaged" };
	static const struct key_case rejected[] = {
		{ "arch", "x86_64", -EINVAL, "invalid value 'x86_64' for 'arch': expected one of amd64, i386, arm64, armhf, riscv32, riscv64" },
		{ "arch", "AMD64", -EINVAL, "for 'arch'" },
		{ "cmode", "serial", -EINVAL, "expected one of shell, console, tty" },
		{ "lock", "held", -EINVAL, "expected one of backup, create, destroyed, disk, fstrim, migrate, mounted, rollback, snapshot, snapshot-delete" },
		{ "ostype", "redhat", -EINVAL, "invalid value 'redhat' for 'ostype': expected one of debian, devuan, ubuntu, centos, fedora, opensuse, archlinux, alpine, gentoo, nixos, unmanaged" },
		{ "ostype", "openeuler", -EINVAL, "for 'ostype'" },
		{ "snapstate", "done", -EINVAL, "for 'snapstate'" },
	};
	char errmsg[CONF_ERRMSG_SIZE];

	for (size_t i = 0; i < N_ELEMENTS(arch); i++)
		ck_assert_int_eq(conf_schema_validate("arch", arch[i], errmsg), 0);
	for (size_t i = 0; i < N_ELEMENTS(cmode); i++)
		ck_assert_int_eq(conf_schema_validate("cmode", cmode[i], errmsg), 0);
	for (size_t i = 0; i < N_ELEMENTS(lock); i++)
		ck_assert_int_eq(conf_schema_validate("lock", lock[i], errmsg), 0);
	for (size_t i = 0; i < N_ELEMENTS(ostype); i++)
		ck_assert_int_eq(conf_schema_validate("ostype", ostype[i], errmsg), 0);
	ck_assert_int_eq(conf_schema_validate("snapstate", "prepare", errmsg), 0);
	ck_assert_int_eq(conf_schema_validate("snapstate", "delete", errmsg), 0);
	check_cases(conf_schema_validate, rejected, N_ELEMENTS(rejected));
}
END_TEST

START_TEST(test_conf_schema_validate_booleans)
{
	static const char *const bools[] = { "console", "debug", "onboot", "protection", "template",
		                             "unprivileged" };
	static const char *const spellings[] = { "1", "0", "on", "off", "yes", "no", "true", "false",
		                                 "ON", "Off", "YES", "No", "True", "FALSE" };
	char errmsg[CONF_ERRMSG_SIZE];

	for (size_t k = 0; k < N_ELEMENTS(bools); k++) {
		for (size_t i = 0; i < N_ELEMENTS(spellings); i++)
			ck_assert_int_eq(conf_schema_validate(bools[k], spellings[i], errmsg), 0);
		ck_assert_int_eq(conf_schema_validate(bools[k], "2", errmsg), -EINVAL);
		ck_assert_int_eq(conf_schema_validate(bools[k], "y", errmsg), -EINVAL);
	}
}
END_TEST

START_TEST(test_conf_schema_validate_lengths)
{
	char long_text[8194];
	char errmsg[CONF_ERRMSG_SIZE];
	char hostname[300];

	memset(long_text, 'x', 8192);
	long_text[8192] = '\0';
	ck_assert_int_eq(conf_schema_validate("description", long_text, errmsg), 0);
	long_text[8192] = 'x';
	long_text[8193] = '\0';
	ck_assert_int_eq(conf_schema_validate("description", long_text, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "invalid value for 'description': it is 8193 bytes long, the maximum is 8192");

	/* 255 bytes: labels of 63 with dots. */
	memset(hostname, 'a', sizeof(hostname));
	for (size_t i = 63; i < 255; i += 64)
		hostname[i] = '.';
	hostname[255] = '\0';
	ck_assert_int_eq(conf_schema_validate("hostname", hostname, errmsg), 0);
	hostname[255] = 'a';
	hostname[256] = '\0';
	ck_assert_int_eq(conf_schema_validate("hostname", hostname, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "the maximum is 255"));

	ck_assert_int_eq(conf_schema_validate("parent", "a234567890123456789012345678901234567890", errmsg), 0);
	ck_assert_int_eq(conf_schema_validate("parent", "a2345678901234567890123456789012345678901", errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "the maximum is 40"));
}
END_TEST

START_TEST(test_conf_schema_validate_patterns)
{
	static const struct key_case cases[] = {
		{ "entrypoint", "/sbin/init", 0, NULL },
		{ "entrypoint", "/usr/bin/app\t--flag", 0, NULL },
		{ "entrypoint", "/bin/sh\x1b", -EINVAL, "invalid value '/bin/sh?' for 'entrypoint': expected text without control characters" },
		{ "entrypoint", "x\x7f", -EINVAL, "for 'entrypoint'" },
		{ "env", "FOO=bar", 0, NULL },
		{ "env", "FOO=", 0, NULL },
		{ "env", "_X1=a b\tc", 0, NULL },
		{ "env", "=bar", -EINVAL, "for 'env'" },
		{ "env", "FOO-BAR=1", -EINVAL, "for 'env'" },
		{ "env", "FOO", -EINVAL, "for 'env'" },
		{ "env", "FOO=\x01", -EINVAL, "for 'env'" },
		{ "delete", "mp0,net1;!swap memory", 0, NULL },
		{ "delete", "mp0,vmstate", -EINVAL, "expected a list of known keys" },
		{ "delete", "!", -EINVAL, "for 'delete'" },
		{ "delete", "mp256", -EINVAL, "for 'delete'" },
		{ "description", "any text: with colons % and 100%", 0, NULL },
		{ "timezone", "host", 0, NULL },
		{ "timezone", "UTC", 0, NULL },
	};

	check_cases(conf_schema_validate, cases, N_ELEMENTS(cases));
}
END_TEST

START_TEST(test_conf_schema_validate_timezone_zone_tab)
{
	char errmsg[CONF_ERRMSG_SIZE];

	if (access("/usr/share/zoneinfo/zone.tab", R_OK) != 0) {
		ck_assert_int_eq(conf_schema_validate("timezone", "Mars/Olympus_Mons", errmsg), 0);
		return;
	}
	ck_assert_int_eq(conf_schema_validate("timezone", "Europe/Vienna", errmsg), 0);
	ck_assert_int_eq(conf_schema_validate("timezone", "America/New_York", errmsg), 0);
	ck_assert_int_eq(conf_schema_validate("timezone", "Mars/Olympus_Mons", errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "invalid value 'Mars/Olympus_Mons' for 'timezone'"));
}
END_TEST

/* Every key of the schema, with a value that passes and one that fails. */
START_TEST(test_conf_schema_validate_every_key)
{
	static const struct key_case cases[] = {
		{ "arch", "arm64", 0, NULL },
		{ "arch", "mips", -EINVAL, NULL },
		{ "cmode", "console", 0, NULL },
		{ "cmode", "", -EINVAL, "missing value for 'cmode'" },
		{ "console", "0", 0, NULL },
		{ "console", "nope", -EINVAL, NULL },
		{ "cores", "4", 0, NULL },
		{ "cores", "four", -EINVAL, NULL },
		{ "cpulimit", "1.5", 0, NULL },
		{ "cpulimit", "x", -EINVAL, NULL },
		{ "cpuunits", "1024", 0, NULL },
		{ "cpuunits", "1024.5", -EINVAL, NULL },
		{ "debug", "1", 0, NULL },
		{ "debug", "debug", -EINVAL, NULL },
		{ "delete", "swap", 0, NULL },
		{ "delete", "swapfile", -EINVAL, NULL },
		{ "description", "a", 0, NULL },
		{ "description", "a\nb", -EINVAL, "line break" },
		{ "dev0", "/dev/ttyUSB0,mode=0660", 0, NULL },
		{ "dev255", "/dev/null,uid=-1", -EINVAL, "dev255: invalid value '-1' for 'uid'" },
		{ "entrypoint", "/init", 0, NULL },
		{ "entrypoint", "\x01", -EINVAL, NULL },
		{ "env", "A=b", 0, NULL },
		{ "env", "A", -EINVAL, NULL },
		{ "features", "nesting=1", 0, NULL },
		{ "features", "nesting=1,bogus=1", -EINVAL, "features: unknown key 'bogus'" },
		{ "hookscript", "local:snippets/x.sh", 0, NULL },
		{ "hookscript", "x.sh", -EINVAL, NULL },
		{ "hostname", "ct100", 0, NULL },
		{ "hostname", "ct 100", -EINVAL, NULL },
		{ "lock", "migrate", 0, NULL },
		{ "lock", "locked", -EINVAL, NULL },
		{ "memory", "512", 0, NULL },
		{ "memory", "1", -EINVAL, NULL },
		{ "mp0", "local:8,mp=/data", 0, NULL },
		{ "mp255", "local:8", -EINVAL, "mp255: missing required key 'mp'" },
		{ "nameserver", "10.0.0.1", 0, NULL },
		{ "nameserver", "10.0.0.256", -EINVAL, NULL },
		{ "net0", "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1", 0, NULL },
		{ "net31", "name=eth0,tag=4095", -EINVAL, "net31: invalid value '4095' for 'tag'" },
		{ "onboot", "1", 0, NULL },
		{ "onboot", "-1", -EINVAL, NULL },
		{ "ostype", "alpine", 0, NULL },
		{ "ostype", "windows", -EINVAL, NULL },
		{ "parent", "snap1", 0, NULL },
		{ "parent", "snap 1", -EINVAL, NULL },
		{ "protection", "0", 0, NULL },
		{ "protection", "01", -EINVAL, NULL },
		{ "rootfs", "local:subvol-100-disk-0,size=8G", 0, NULL },
		{ "rootfs", "local:subvol-100-disk-0,mp=/", -EINVAL, "rootfs: unknown key 'mp'" },
		{ "searchdomain", "example.com", 0, NULL },
		{ "searchdomain", "-example.com", -EINVAL, NULL },
		{ "snapstate", "prepare", 0, NULL },
		{ "snapstate", "commit", -EINVAL, NULL },
		{ "snaptime", "1700000000", 0, NULL },
		{ "snaptime", "1.5", -EINVAL, NULL },
		{ "startup", "order=2,up=10,down=20", 0, NULL },
		{ "startup", "order=2,later=1", -EINVAL, "for 'startup'" },
		{ "swap", "512", 0, NULL },
		{ "swap", "512K", -EINVAL, NULL },
		{ "tags", "a;b", 0, NULL },
		{ "tags", "a;b/c", -EINVAL, NULL },
		{ "template", "1", 0, NULL },
		{ "template", "template", -EINVAL, NULL },
		{ "timezone", "Europe/Vienna", 0, NULL },
		{ "timezone", "Europe Vienna", -EINVAL, NULL },
		{ "tty", "2", 0, NULL },
		{ "tty", "-2", -EINVAL, NULL },
		{ "unprivileged", "1", 0, NULL },
		{ "unprivileged", "root", -EINVAL, NULL },
		{ "unused0", "local:vm-100-disk-1", 0, NULL },
		{ "unused255", "vm-100-disk-1", -EINVAL, "unused255: invalid value 'vm-100-disk-1' for 'volume'" },
		{ "bogus", "1", -ENOENT, "unknown setting 'bogus'" },
	};

	check_cases(conf_schema_validate, cases, N_ELEMENTS(cases));
}
END_TEST

START_TEST(test_conf_schema_validate_quotes_value)
{
	char errmsg[CONF_ERRMSG_SIZE], value[200];

	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	ck_assert_int_eq(conf_schema_validate("ostype", value, errmsg), -EINVAL);
	ck_assert_ptr_nonnull(strstr(errmsg, "...' for 'ostype'"));
	ck_assert_int_eq(conf_schema_validate("ostype", value, NULL), -EINVAL);
}
END_TEST

/* ---- conf_schema_raw_key ---- */

START_TEST(test_conf_schema_raw_key_whitelist)
{
	static const char *const valid[] = {
		"lxc.apparmor.profile", "lxc.apparmor.allow_incomplete", "lxc.apparmor.allow_nesting",
		"lxc.apparmor.raw", "lxc.selinux.context", "lxc.include", "lxc.arch", "lxc.uts.name",
		"lxc.signal.halt", "lxc.signal.reboot", "lxc.signal.stop", "lxc.init.cmd",
		"lxc.init.cwd", "lxc.init.uid", "lxc.init.gid", "lxc.init.groups", "lxc.pty.max",
		"lxc.console.logfile", "lxc.console.path", "lxc.tty.max", "lxc.devtty.dir",
		"lxc.hook.autodev", "lxc.autodev", "lxc.kmsg", "lxc.mount.fstab", "lxc.mount.entry",
		"lxc.mount.auto", "lxc.rootfs.mount", "lxc.cap.drop", "lxc.cap.keep",
		"lxc.seccomp.profile", "lxc.seccomp.notify.proxy", "lxc.seccomp.notify.cookie",
		"lxc.idmap", "lxc.hook.pre-start", "lxc.hook.pre-mount", "lxc.hook.mount",
		"lxc.hook.start", "lxc.hook.stop", "lxc.hook.post-stop", "lxc.hook.clone",
		"lxc.hook.destroy", "lxc.hook.version", "lxc.log.level", "lxc.log.file",
		"lxc.start.auto", "lxc.start.delay", "lxc.start.order", "lxc.group",
		"lxc.environment", "lxc.environment.runtime", "lxc.environment.hooks",
		"lxc.sysctl.fs.mqueue", "lxc.sysctl.kernel.msgmax", "lxc.sysctl.kernel.msgmnb",
		"lxc.sysctl.kernel.msgmni", "lxc.sysctl.kernel.sem", "lxc.sysctl.kernel.shmall",
		"lxc.sysctl.kernel.shmmax", "lxc.sysctl.kernel.shmmni",
		"lxc.sysctl.kernel.shm_rmid_forced",
		"lxc.cgroup2.devices.allow", "lxc.cgroup2.memory.max", "lxc.prlimit.nofile",
		"lxc.net.0.type", "lxc.net.1.link",
	};

	for (size_t i = 0; i < N_ELEMENTS(valid); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "stale";

		ck_assert_msg(conf_schema_raw_key(valid[i], errmsg) == CONF_RAW_VALID, "%s", valid[i]);
		ck_assert_str_eq(errmsg, "");
	}
	ck_assert_int_eq(conf_schema_raw_key("lxc.idmap", NULL), CONF_RAW_VALID);
}
END_TEST

START_TEST(test_conf_schema_raw_key_deprecated)
{
	static const struct {
		const char *key;
		const char *message;
	} cases[] = {
		{ "lxc.aa_profile", "'lxc.aa_profile' is deprecated: it was renamed to 'lxc.apparmor.profile'" },
		{ "lxc.aa_allow_incomplete", "'lxc.apparmor.allow_incomplete'" },
		{ "lxc.console", "'lxc.console.path'" },
		{ "lxc.devttydir", "'lxc.tty.dir'" },
		{ "lxc.haltsignal", "'lxc.signal.halt'" },
		{ "lxc.rebootsignal", "'lxc.signal.reboot'" },
		{ "lxc.stopsignal", "'lxc.signal.stop'" },
		{ "lxc.id_map", "'lxc.idmap'" },
		{ "lxc.init_cmd", "'lxc.init.cmd'" },
		{ "lxc.loglevel", "'lxc.log.level'" },
		{ "lxc.logfile", "'lxc.log.file'" },
		{ "lxc.mount", "'lxc.mount.fstab'" },
		{ "lxc.network.type", "'lxc.net.INDEX.type'" },
		{ "lxc.network.flags", "'lxc.net.INDEX.flags'" },
		{ "lxc.network.link", "'lxc.net.INDEX.link'" },
		{ "lxc.network.mtu", "'lxc.net.INDEX.mtu'" },
		{ "lxc.network.name", "'lxc.net.INDEX.name'" },
		{ "lxc.network.hwaddr", "'lxc.net.INDEX.hwaddr'" },
		{ "lxc.network.ipv4", "'lxc.net.INDEX.ipv4.address'" },
		{ "lxc.network.ipv4.gateway", "'lxc.net.INDEX.ipv4.gateway'" },
		{ "lxc.network.ipv6", "'lxc.net.INDEX.ipv6.address'" },
		{ "lxc.network.ipv6.gateway", "'lxc.net.INDEX.ipv6.gateway'" },
		{ "lxc.network.script.up", "'lxc.net.INDEX.script.up'" },
		{ "lxc.network.script.down", "'lxc.net.INDEX.script.down'" },
		{ "lxc.pts", "'lxc.pty.max'" },
		{ "lxc.se_context", "'lxc.selinux.context'" },
		{ "lxc.seccomp", "'lxc.seccomp.profile'" },
		{ "lxc.tty", "'lxc.tty.max'" },
		{ "lxc.utsname", "'lxc.uts.name'" },
		{ "lxc.limit.nofile", "lxc.limit.* was renamed to lxc.prlimit.*" },
		{ "lxc.cgroup.devices.allow", "cgroup v1 key, use lxc.cgroup2.*" },
		{ "lxc.cgroup.memory.limit_in_bytes", "'lxc.cgroup.memory.limit_in_bytes' is deprecated" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "";

		ck_assert_msg(conf_schema_raw_key(cases[i].key, errmsg) == CONF_RAW_DEPRECATED, "%s",
		              cases[i].key);
		ck_assert_msg(strstr(errmsg, cases[i].message) != NULL, "%s: '%s'", cases[i].key, errmsg);
	}
}
END_TEST

START_TEST(test_conf_schema_raw_key_invalid)
{
	static const struct {
		const char *key;
		const char *message;
	} cases[] = {
		{ "lxc.rootfs.path", "'lxc.rootfs.path' is generated from the 'rootfs' key: set rootfs instead" },
		{ "lxc.rootfs.options", "'lxc.rootfs.options' is not supported: set the mountoptions of rootfs or mpN instead" },
		{ "lxc.rootfs", "unsupported raw key 'lxc.rootfs'" },
		{ "lxc.foo", "unsupported raw key 'lxc.foo'" },
		{ "lxc.cgroup2", "unsupported raw key" },
		{ "lxc.net", "unsupported raw key" },
		{ "lxc.apparmor.profile.x", "unsupported raw key" },
		{ "lxc.", "is not a raw key" },
		{ "lxc", "is not a raw key" },
		{ "memory", "is not a raw key" },
		{ "lxc.Arch", "is not a raw key" },
		{ "lxc.a b", "is not a raw key" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char errmsg[CONF_ERRMSG_SIZE] = "";

		ck_assert_msg(conf_schema_raw_key(cases[i].key, errmsg) == CONF_RAW_INVALID, "%s",
		              cases[i].key);
		ck_assert_msg(strstr(errmsg, cases[i].message) != NULL, "%s: '%s'", cases[i].key, errmsg);
	}
}
END_TEST

/* ---- suite ---- */

static void add_case(Suite *s, const char *name, const TTest *const *tests, size_t n)
{
	TCase *tc = tcase_create(name);

	for (size_t i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
}

#define ADD_CASE(suite, name, ...)                                                         \
	do {                                                                               \
		const TTest *const tests_[] = { __VA_ARGS__ };                             \
		add_case((suite), (name), tests_, N_ELEMENTS(tests_));                     \
	} while (0)

static Suite *schema_suite(void)
{
	Suite *s = suite_create("schema");

	ADD_CASE(s, "conf_schema_lookup", test_conf_schema_lookup_every_key,
	         test_conf_schema_lookup_indexed);
	ADD_CASE(s, "conf_schema_parse_check", test_conf_schema_parse_check_types,
	         test_conf_schema_parse_check_formats, test_conf_schema_parse_check_skips_limits,
	         test_conf_schema_parse_check_normalizes, test_conf_schema_parse_check_error_leaves_null);
	ADD_CASE(s, "conf_schema_validate", test_conf_schema_validate_ranges,
	         test_conf_schema_validate_enums, test_conf_schema_validate_booleans,
	         test_conf_schema_validate_lengths, test_conf_schema_validate_patterns,
	         test_conf_schema_validate_timezone_zone_tab, test_conf_schema_validate_every_key,
	         test_conf_schema_validate_quotes_value);
	ADD_CASE(s, "conf_schema_raw_key", test_conf_schema_raw_key_whitelist,
	         test_conf_schema_raw_key_deprecated, test_conf_schema_raw_key_invalid);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(schema_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}
