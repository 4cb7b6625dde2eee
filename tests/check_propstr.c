/*
 * Unit tests for conf/propstr.c: every property-string kind and sub-key,
 * canonical printing, round trips and rejected input.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/propstr.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* A property string and its canonical form. */
struct round_trip {
	const char *input;
	const char *printed;
};

/* An input the parser rejects, and a phrase the message must contain. */
struct rejected {
	const char *input;
	const char *message;
};

static const char *const true_spellings[] = { "1", "on", "yes", "true", "ON", "Yes", "TRUE", "tRuE" };
static const char *const false_spellings[] = { "0", "off", "no", "false", "OFF", "No", "FALSE", "fAlSe" };

/* ---- mountpoints ---- */

/* Parse INPUT as rootfs (ROOTFS) or mpN, print it, and parse the print. */
static void check_mountpoint_round_trip(bool rootfs, const char *input, const char *printed)
{
	struct conf_mountpoint mp, again;
	char errmsg[CONF_ERRMSG_SIZE] = "", *out = NULL, *out2 = NULL;

	ck_assert_msg((rootfs ? conf_rootfs_parse(input, &mp, errmsg) : conf_mp_parse(input, &mp, errmsg)) == 0,
	              "%s: %s", input, errmsg);
	ck_assert_int_eq(rootfs ? conf_rootfs_print(&mp, &out) : conf_mp_print(&mp, &out), 0);
	ck_assert_str_eq(out, printed);

	ck_assert_int_eq(rootfs ? conf_rootfs_parse(out, &again, errmsg) : conf_mp_parse(out, &again, errmsg), 0);
	ck_assert_int_eq(rootfs ? conf_rootfs_print(&again, &out2) : conf_mp_print(&again, &out2), 0);
	ck_assert_str_eq(out2, printed);
	ck_assert_int_eq(again.volume_type, mp.volume_type);

	free(out);
	free(out2);
	conf_mountpoint_clear(&mp);
	conf_mountpoint_clear(&again);
}

static void check_mountpoint_rejected(bool rootfs, const struct rejected *r)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE] = "";
	int rv = rootfs ? conf_rootfs_parse(r->input, &mp, errmsg) : conf_mp_parse(r->input, &mp, errmsg);

	ck_assert_msg(rv == -EINVAL, "%s: accepted", r->input);
	ck_assert_msg(strstr(errmsg, r->message) != NULL, "%s: message '%s' lacks '%s'", r->input,
	              errmsg, r->message);
	ck_assert_ptr_null(mp.volume);
	ck_assert_ptr_null(mp.mp);
	ck_assert_int_eq(mp.size, CONF_UNSET);
}

START_TEST(test_conf_rootfs_parse_fields)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_rootfs_parse("local:subvol-100-disk-0,size=8G,acl=1,ro=0,quota=yes,"
	                                   "replicate=no,shared=on,mountoptions=noatime;nodev,"
	                                   "idmap=passthrough",
	                                   &mp, errmsg),
	                 0);
	ck_assert_str_eq(mp.volume, "local:subvol-100-disk-0");
	ck_assert_int_eq(mp.volume_type, CONF_VOLUME_STORAGE);
	ck_assert_ptr_null(mp.mp);
	ck_assert_int_eq(mp.size, 8LL << 30);
	ck_assert_int_eq(mp.acl, 1);
	ck_assert_int_eq(mp.ro, 0);
	ck_assert_int_eq(mp.quota, 1);
	ck_assert_int_eq(mp.replicate, 0);
	ck_assert_int_eq(mp.shared, 1);
	ck_assert_int_eq(mp.backup, CONF_UNSET);
	ck_assert_int_eq(mp.keepattrs, CONF_UNSET);
	ck_assert_str_eq(mp.mountoptions, "noatime;nodev");
	ck_assert_str_eq(mp.idmap, "passthrough");
	conf_mountpoint_clear(&mp);
}
END_TEST

START_TEST(test_conf_rootfs_parse_unset_fields)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_rootfs_parse("local:100/vm-100-disk-0.raw", &mp, errmsg), 0);
	ck_assert_int_eq(mp.size, CONF_UNSET);
	ck_assert_int_eq(mp.acl, CONF_UNSET);
	ck_assert_int_eq(mp.ro, CONF_UNSET);
	ck_assert_int_eq(mp.quota, CONF_UNSET);
	ck_assert_int_eq(mp.replicate, CONF_UNSET);
	ck_assert_int_eq(mp.shared, CONF_UNSET);
	ck_assert_ptr_null(mp.mountoptions);
	ck_assert_ptr_null(mp.idmap);
	conf_mountpoint_clear(&mp);
}
END_TEST

START_TEST(test_conf_rootfs_parse_volume_types)
{
	static const struct {
		const char *input;
		enum conf_volume_type type;
	} cases[] = {
		{ "local:subvol-100-disk-0", CONF_VOLUME_STORAGE },
		{ "local-lvm:vm-100-disk-0", CONF_VOLUME_STORAGE },
		{ "local:8", CONF_VOLUME_ALLOC },
		{ "local:0.5", CONF_VOLUME_ALLOC },
		{ "/srv/ct100", CONF_VOLUME_BIND },
		{ "/dev/vg0/ct100", CONF_VOLUME_DEVICE },
		{ "volume=local:4", CONF_VOLUME_ALLOC },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct conf_mountpoint mp;
		char errmsg[CONF_ERRMSG_SIZE];

		ck_assert_int_eq(conf_rootfs_parse(cases[i].input, &mp, errmsg), 0);
		ck_assert_int_eq(mp.volume_type, cases[i].type);
		conf_mountpoint_clear(&mp);
	}
}
END_TEST

START_TEST(test_conf_rootfs_parse_booleans)
{
	static const char *const keys[] = { "acl", "ro", "quota", "replicate", "shared" };

	for (size_t k = 0; k < N_ELEMENTS(keys); k++) {
		for (size_t i = 0; i < N_ELEMENTS(true_spellings); i++) {
			char input[64], expected[64];

			snprintf(input, sizeof(input), "local:1,%s=%s", keys[k], true_spellings[i]);
			snprintf(expected, sizeof(expected), "local:1,%s=1", keys[k]);
			check_mountpoint_round_trip(true, input, expected);
			snprintf(input, sizeof(input), "local:1,%s=%s", keys[k], false_spellings[i]);
			snprintf(expected, sizeof(expected), "local:1,%s=0", keys[k]);
			check_mountpoint_round_trip(true, input, expected);
		}
	}
}
END_TEST

START_TEST(test_conf_rootfs_parse_rejected)
{
	static const struct rejected cases[] = {
		{ "", "missing required key 'volume'" },
		{ " , ,", "missing required key 'volume'" },
		{ "size=8G", "missing required key 'volume'" },
		{ "local:1,local:2", "duplicate key 'volume'" },
		{ "volume=local:1,local:2", "duplicate key 'volume'" },
		{ "local:1,volume=local:2", "duplicate key 'volume'" },
		{ "local:1,acl=1,acl=0", "duplicate key 'acl'" },
		{ "local:1,mp=/x", "unknown key 'mp' in rootfs value" },
		{ "local:1,backup=1", "unknown key 'backup'" },
		{ "local:1,keepattrs=1", "unknown key 'keepattrs'" },
		{ "local:1,bogus=1", "unknown key 'bogus'" },
		{ "local:1,ACL=1", "unknown key 'ACL'" },
		{ "local:1, acl=1", "unknown key ' acl'" },
		{ "local:1,acl=", "invalid part 'acl=': the value after '=' is empty" },
		{ "local:1,=1", "invalid part '=1': the key before '=' is missing" },
		{ "local:1,acl=maybe", "invalid value 'maybe' for 'acl'" },
		{ "local:1,ro=2", "invalid value '2' for 'ro'" },
		{ "local:1,quota=", "invalid part" },
		{ "local:1,replicate=y", "for 'replicate'" },
		{ "local:1,shared=-1", "for 'shared'" },
		{ "local:1,size=8X", "invalid value '8X' for 'size'" },
		{ "local:1,size=-1G", "for 'size'" },
		{ "local:1,size=1.G", "for 'size'" },
		{ "local:1,size=.5G", "for 'size'" },
		{ "local:1,size=8g", "for 'size'" },
		{ "local:1,size=8 G", "for 'size'" },
		{ "local:1,size=8GB", "for 'size'" },
		{ "local:1,size=99999999999T", "for 'size'" },
		{ "local:1,mountoptions=ro", "for 'mountoptions'" },
		{ "local:1,mountoptions=noatime;", "for 'mountoptions'" },
		{ "local:1,mountoptions=;noatime", "for 'mountoptions'" },
		{ "local:1,mountoptions=noatime;;nodev", "for 'mountoptions'" },
		{ "local:1,mountoptions=NOATIME", "for 'mountoptions'" },
		{ "local:1,idmap=u:0:1000", "for 'idmap'" },
		{ "local:1,idmap=u:0:1000:0", "for 'idmap'" },
		{ "local:1,idmap=x:0:1000:1", "for 'idmap'" },
		{ "local:1,idmap=u:0:1000:1;", "for 'idmap'" },
		{ "local:1,idmap=u:a:1000:1", "for 'idmap'" },
		{ "local:1,idmap=u:0:1000:01", "for 'idmap'" },
		{ "local:1,idmap=Passthrough", "for 'idmap'" },
		{ "relative/path", "for 'volume'" },
		{ "x:1y", "for 'volume'" },
		{ "1local:vol", "for 'volume'" },
		{ "local:", "for 'volume'" },
		{ "/srv/../etc", "for 'volume'" },
		{ "/srv/./x", "for 'volume'" },
		{ "/srv/.", "for 'volume'" },
		{ "/srv/..", "for 'volume'" },
		{ "local:1\nro=1", "line break" },
		{ "local:1,ro=1\r", "line break" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		check_mountpoint_rejected(true, &cases[i]);
}
END_TEST

START_TEST(test_conf_rootfs_parse_message_names_allowed)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_rootfs_parse("local:1,acl=maybe", &mp, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "invalid value 'maybe' for 'acl': expected a boolean "
	                         "(1, 0, on, off, yes, no, true or false)");
	ck_assert_int_eq(conf_rootfs_parse("local:1,foo=1", &mp, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "unknown key 'foo' in rootfs value: expected one of volume, size, "
	                         "acl, mountoptions, idmap, ro, quota, replicate, shared");
}
END_TEST

START_TEST(test_conf_rootfs_parse_null_errmsg)
{
	struct conf_mountpoint mp;

	ck_assert_int_eq(conf_rootfs_parse("local:1,acl=maybe", &mp, NULL), -EINVAL);
	ck_assert_int_eq(conf_rootfs_parse("local:1", &mp, NULL), 0);
	conf_mountpoint_clear(&mp);
}
END_TEST

START_TEST(test_conf_rootfs_print_canonical)
{
	static const struct round_trip cases[] = {
		{ "local:subvol-100-disk-0,size=8G", "local:subvol-100-disk-0,size=8G" },
		{ "size=8G,volume=local:subvol-100-disk-0", "local:subvol-100-disk-0,size=8G" },
		{ "local:100/vm-100-disk-0.raw,size=0", "local:100/vm-100-disk-0.raw,size=0T" },
		{ "shared=1,ro=1,quota=1,acl=0,replicate=0,local:1",
		  "local:1,acl=0,quota=1,replicate=0,ro=1,shared=1" },
		{ "local:1,,, ,size=1024M,", "local:1,size=1G" },
		{ "local:1,idmap=u:0:100000:65536;g:0:100000:65536,mountoptions=discard;lazytime",
		  "local:1,idmap=u:0:100000:65536;g:0:100000:65536,mountoptions=discard;lazytime" },
		{ "/dev/sdb1", "/dev/sdb1" },
		{ "/srv/data", "/srv/data" },
		{ "Local.Store-1:x,ro=1", "Local.Store-1:x,ro=1" },
		{ "volume=/srv/a=b", "volume=/srv/a=b" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		check_mountpoint_round_trip(true, cases[i].input, cases[i].printed);
}
END_TEST

START_TEST(test_conf_rootfs_print_skips_mp_fields)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE], *out;

	ck_assert_int_eq(conf_mp_parse("local:1,mp=/data,backup=1,keepattrs=1", &mp, errmsg), 0);
	ck_assert_int_eq(conf_rootfs_print(&mp, &out), 0);
	ck_assert_str_eq(out, "local:1");
	free(out);
	conf_mountpoint_clear(&mp);
}
END_TEST

START_TEST(test_conf_rootfs_print_invalid)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE], *out = (char *)"untouched";

	ck_assert_int_eq(conf_rootfs_parse("local:1", &mp, errmsg), 0);

	mp.acl = 2;
	ck_assert_int_eq(conf_rootfs_print(&mp, &out), -EINVAL);
	ck_assert_ptr_null(out);
	mp.acl = CONF_UNSET;

	mp.size = -5;
	ck_assert_int_eq(conf_rootfs_print(&mp, &out), -EINVAL);
	mp.size = CONF_UNSET;

	free(mp.volume);
	mp.volume = strdup("local:a,b");
	ck_assert_int_eq(conf_rootfs_print(&mp, &out), -EINVAL);
	free(mp.volume);
	mp.volume = NULL;
	ck_assert_int_eq(conf_rootfs_print(&mp, &out), -EINVAL);

	mp.volume = strdup("local:1");
	mp.mountoptions = strdup("bogus");
	ck_assert_int_eq(conf_rootfs_print(&mp, &out), -EINVAL);
	conf_mountpoint_clear(&mp);
}
END_TEST

START_TEST(test_conf_mp_parse_fields)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_mp_parse("/mnt/data,mp=/data,backup=1,keepattrs=0,ro=1", &mp, errmsg), 0);
	ck_assert_str_eq(mp.volume, "/mnt/data");
	ck_assert_int_eq(mp.volume_type, CONF_VOLUME_BIND);
	ck_assert_str_eq(mp.mp, "/data");
	ck_assert_int_eq(mp.backup, 1);
	ck_assert_int_eq(mp.keepattrs, 0);
	ck_assert_int_eq(mp.ro, 1);
	conf_mountpoint_clear(&mp);
}
END_TEST

START_TEST(test_conf_mp_parse_mp_paths)
{
	static const char *const accepted[] = { "/data", "/", "data", "/a/b/c", "/a.b", "/..a",
		                                "/a/.b", "..", "/a/b.", "a=b" };

	for (size_t i = 0; i < N_ELEMENTS(accepted); i++) {
		struct conf_mountpoint mp;
		char input[64], errmsg[CONF_ERRMSG_SIZE];

		snprintf(input, sizeof(input), "local:1,mp=%s", accepted[i]);
		ck_assert_msg(conf_mp_parse(input, &mp, errmsg) == 0, "%s: %s", input, errmsg);
		ck_assert_str_eq(mp.mp, accepted[i]);
		conf_mountpoint_clear(&mp);
	}
}
END_TEST

START_TEST(test_conf_mp_parse_booleans)
{
	static const char *const keys[] = { "backup", "keepattrs" };

	for (size_t k = 0; k < N_ELEMENTS(keys); k++) {
		for (size_t i = 0; i < N_ELEMENTS(true_spellings); i++) {
			char input[64], expected[64];

			snprintf(input, sizeof(input), "local:1,mp=/x,%s=%s", keys[k], true_spellings[i]);
			snprintf(expected, sizeof(expected), "local:1,mp=/x,%s=1", keys[k]);
			check_mountpoint_round_trip(false, input, expected);
			snprintf(input, sizeof(input), "local:1,mp=/x,%s=%s", keys[k], false_spellings[i]);
			snprintf(expected, sizeof(expected), "local:1,mp=/x,%s=0", keys[k]);
			check_mountpoint_round_trip(false, input, expected);
		}
	}
}
END_TEST

START_TEST(test_conf_mp_parse_rejected)
{
	static const struct rejected cases[] = {
		{ "local:1", "missing required key 'mp' in mp value" },
		{ "mp=/data", "missing required key 'volume'" },
		{ "local:1,mp=/a,mp=/b", "duplicate key 'mp'" },
		{ "local:1,mp=/a,backup=1,backup=0", "duplicate key 'backup'" },
		{ "local:1,mp=/a,bogus=1", "unknown key 'bogus' in mp value" },
		{ "local:1,mp=/a/./b", "for 'mp'" },
		{ "local:1,mp=/a/../b", "for 'mp'" },
		{ "local:1,mp=/a/.", "for 'mp'" },
		{ "local:1,mp=/a/..", "for 'mp'" },
		{ "local:1,mp=../a", "for 'mp'" },
		{ "local:1,mp=/a,backup=x", "for 'backup'" },
		{ "local:1,mp=/a,keepattrs=2", "for 'keepattrs'" },
		{ "local:1,mp=/a,size=1Q", "for 'size'" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		check_mountpoint_rejected(false, &cases[i]);
}
END_TEST

START_TEST(test_conf_mp_print_canonical)
{
	static const struct round_trip cases[] = {
		{ "local:subvol-101-disk-1,mp=/data,backup=1,size=8G",
		  "local:subvol-101-disk-1,mp=/data,backup=1,size=8G" },
		{ "size=8G,backup=1,mp=/data,local:subvol-101-disk-1",
		  "local:subvol-101-disk-1,mp=/data,backup=1,size=8G" },
		/* Found by fuzzing: a blank value was accepted but not printed. */
		{ "local:1,mp=\t", "local:1,mp=\t" },
		{ "mp=/x,volume=/dev/sdb1,shared=1,ro=1,replicate=0,quota=0,mountoptions=nosuid,"
		  "keepattrs=1,idmap=g:1:2:3,backup=0,acl=1,size=512",
		  "/dev/sdb1,mp=/x,acl=1,backup=0,idmap=g:1:2:3,keepattrs=1,mountoptions=nosuid,"
		  "quota=0,replicate=0,ro=1,shared=1,size=512" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		check_mountpoint_round_trip(false, cases[i].input, cases[i].printed);
}
END_TEST

START_TEST(test_conf_mp_print_missing_mp)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE], *out;

	ck_assert_int_eq(conf_rootfs_parse("local:1", &mp, errmsg), 0);
	ck_assert_int_eq(conf_mp_print(&mp, &out), -EINVAL);
	mp.mp = strdup("/x");
	ck_assert_int_eq(conf_mp_print(&mp, &out), 0);
	ck_assert_str_eq(out, "local:1,mp=/x");
	free(out);
	conf_mountpoint_clear(&mp);
}
END_TEST

START_TEST(test_conf_mountpoint_clear_resets)
{
	struct conf_mountpoint mp;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_mp_parse("local:1,mp=/x,acl=1,size=1K,idmap=passthrough", &mp, errmsg), 0);
	conf_mountpoint_clear(&mp);
	ck_assert_ptr_null(mp.volume);
	ck_assert_ptr_null(mp.mp);
	ck_assert_ptr_null(mp.idmap);
	ck_assert_int_eq(mp.acl, CONF_UNSET);
	ck_assert_int_eq(mp.size, CONF_UNSET);
	ck_assert_int_eq(mp.volume_type, CONF_VOLUME_INVALID);
	conf_mountpoint_clear(&mp);
}
END_TEST

/* ---- net ---- */

static void check_net_round_trip(const char *input, const char *printed)
{
	struct conf_net net, again;
	char errmsg[CONF_ERRMSG_SIZE] = "", *out = NULL, *out2 = NULL;

	ck_assert_msg(conf_net_parse(input, &net, errmsg) == 0, "%s: %s", input, errmsg);
	ck_assert_int_eq(conf_net_print(&net, &out), 0);
	ck_assert_str_eq(out, printed);
	ck_assert_int_eq(conf_net_parse(out, &again, errmsg), 0);
	ck_assert_int_eq(conf_net_print(&again, &out2), 0);
	ck_assert_str_eq(out2, printed);
	free(out);
	free(out2);
	conf_net_clear(&net);
	conf_net_clear(&again);
}

static void check_net_rejected(const char *input, const char *message)
{
	struct conf_net net;
	char errmsg[CONF_ERRMSG_SIZE] = "";

	ck_assert_msg(conf_net_parse(input, &net, errmsg) == -EINVAL, "%s: accepted", input);
	ck_assert_msg(strstr(errmsg, message) != NULL, "%s: message '%s' lacks '%s'", input, errmsg,
	              message);
	ck_assert_ptr_null(net.name);
}

START_TEST(test_conf_net_parse_fields)
{
	struct conf_net net;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_net_parse("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:2A:3B:4C,"
	                                "ip=192.168.1.10/24,gw=192.168.1.1,ip6=fd00::10/64,"
	                                "gw6=fd00::1,mtu=1500,rate=12.5,tag=10,trunks=20;30,"
	                                "firewall=1,link_down=no,type=veth,host-managed=yes",
	                                &net, errmsg),
	                 0);
	ck_assert_str_eq(net.name, "eth0");
	ck_assert_str_eq(net.bridge, "vmbr0");
	ck_assert_str_eq(net.hwaddr, "BC:24:11:2A:3B:4C");
	ck_assert_str_eq(net.ip, "192.168.1.10/24");
	ck_assert_str_eq(net.gw, "192.168.1.1");
	ck_assert_str_eq(net.ip6, "fd00::10/64");
	ck_assert_str_eq(net.gw6, "fd00::1");
	ck_assert_int_eq(net.mtu, 1500);
	ck_assert_str_eq(net.rate, "12.5");
	ck_assert_int_eq(net.tag, 10);
	ck_assert_str_eq(net.trunks, "20;30");
	ck_assert_int_eq(net.firewall, 1);
	ck_assert_int_eq(net.link_down, 0);
	ck_assert_str_eq(net.type, "veth");
	ck_assert_int_eq(net.host_managed, 1);
	conf_net_clear(&net);
}
END_TEST

START_TEST(test_conf_net_parse_unset_fields)
{
	struct conf_net net;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_net_parse("name=eth0", &net, errmsg), 0);
	ck_assert_ptr_null(net.bridge);
	ck_assert_ptr_null(net.hwaddr);
	ck_assert_ptr_null(net.ip);
	ck_assert_ptr_null(net.rate);
	ck_assert_int_eq(net.mtu, CONF_UNSET);
	ck_assert_int_eq(net.tag, CONF_UNSET);
	ck_assert_int_eq(net.firewall, CONF_UNSET);
	ck_assert_int_eq(net.link_down, CONF_UNSET);
	ck_assert_int_eq(net.host_managed, CONF_UNSET);
	conf_net_clear(&net);
}
END_TEST

START_TEST(test_conf_net_parse_accepted_values)
{
	static const char *const cases[] = {
		"name=eth0,ip=dhcp", "name=eth0,ip=manual", "name=eth0,ip=10.0.0.1/8",
		"name=eth0,ip=255.255.255.255/32", "name=eth0,ip=0.0.0.0/08", "name=eth0,ip6=auto",
		"name=eth0,ip6=dhcp", "name=eth0,ip6=manual", "name=eth0,ip6=::/8",
		"name=eth0,ip6=2001:db8::1/128", "name=eth0,ip6=::ffff:10.0.0.1/96",
		"name=eth0,gw6=fe80::1", "name=eth0,gw=0.0.0.0", "name=eth0,mtu=64",
		"name=eth0,mtu=65535", "name=eth0,tag=1", "name=eth0,tag=4094", "name=eth0,tag=+7",
		"name=eth0,trunks=1", "name=eth0,trunks=1;2;4094", "name=eth0,rate=0",
		"name=eth0,rate=1.", "name=eth0,rate=.5", "name=eth0,rate=-1", "name=eth0,rate=1e3",
		"name=eth0,rate=+2.5E-1", "name=a-b_c.d", "name=eth0,bridge=vmbr0.100",
		"name=eth0,hwaddr=02:00:00:00:00:00", "name=eth0,hwaddr=0e:ff:ff:ff:ff:ff",
		"name=eth0,hwaddr=aA:bB:cC:dD:eE:fF",
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct conf_net net;
		char errmsg[CONF_ERRMSG_SIZE];

		ck_assert_msg(conf_net_parse(cases[i], &net, errmsg) == 0, "%s: %s", cases[i], errmsg);
		conf_net_clear(&net);
	}
}
END_TEST

START_TEST(test_conf_net_parse_booleans)
{
	static const char *const keys[] = { "firewall", "link_down", "host-managed" };

	for (size_t k = 0; k < N_ELEMENTS(keys); k++) {
		for (size_t i = 0; i < N_ELEMENTS(true_spellings); i++) {
			char input[64], expected[64];

			snprintf(input, sizeof(input), "name=eth0,%s=%s", keys[k], true_spellings[i]);
			snprintf(expected, sizeof(expected), "name=eth0,%s=1", keys[k]);
			check_net_round_trip(input, expected);
			snprintf(input, sizeof(input), "name=eth0,%s=%s", keys[k], false_spellings[i]);
			snprintf(expected, sizeof(expected), "name=eth0,%s=0", keys[k]);
			check_net_round_trip(input, expected);
		}
	}
}
END_TEST

START_TEST(test_conf_net_parse_rejected)
{
	static const struct rejected cases[] = {
		{ "", "missing required key 'name' in net value" },
		{ "bridge=vmbr0", "missing required key 'name'" },
		{ "eth0", "has no key" },
		{ "name=eth0,name=eth1", "duplicate key 'name'" },
		{ "name=eth0,ip=dhcp,ip=manual", "duplicate key 'ip'" },
		{ "name=eth0,vlan=5", "unknown key 'vlan' in net value" },
		{ "name=eth 0", "for 'name'" },
		{ "name=eth0/1", "for 'name'" },
		{ "name=eth0,bridge=vm+br", "for 'bridge'" },
		{ "name=eth0,hwaddr=01:00:00:00:00:00", "for 'hwaddr'" },
		{ "name=eth0,hwaddr=03:00:00:00:00:00", "for 'hwaddr'" },
		{ "name=eth0,hwaddr=02:00:00:00:00", "for 'hwaddr'" },
		{ "name=eth0,hwaddr=02-00-00-00-00-00", "for 'hwaddr'" },
		{ "name=eth0,hwaddr=g2:00:00:00:00:00", "for 'hwaddr'" },
		{ "name=eth0,ip=10.0.0.1", "for 'ip'" },
		{ "name=eth0,ip=10.0.0.1/7", "for 'ip'" },
		{ "name=eth0,ip=10.0.0.1/33", "for 'ip'" },
		{ "name=eth0,ip=10.0.0.256/24", "for 'ip'" },
		{ "name=eth0,ip=10.0.0.01/24", "for 'ip'" },
		{ "name=eth0,ip=10.0.0/24", "for 'ip'" },
		{ "name=eth0,ip=DHCP", "for 'ip'" },
		{ "name=eth0,ip=auto", "for 'ip'" },
		{ "name=eth0,ip=fd00::1/64", "for 'ip'" },
		{ "name=eth0,ip=10.0.0.1/", "for 'ip'" },
		{ "name=eth0,gw=10.0.0.1/24", "for 'gw'" },
		{ "name=eth0,gw=fd00::1", "for 'gw'" },
		{ "name=eth0,ip6=fd00::1", "for 'ip6'" },
		{ "name=eth0,ip6=fd00::1/7", "for 'ip6'" },
		{ "name=eth0,ip6=fd00::1/129", "for 'ip6'" },
		{ "name=eth0,ip6=fd00:::1/64", "for 'ip6'" },
		{ "name=eth0,ip6=10.0.0.1/24", "for 'ip6'" },
		{ "name=eth0,ip6=fe80::1%eth0/64", "for 'ip6'" },
		{ "name=eth0,gw6=fd00::1/64", "for 'gw6'" },
		{ "name=eth0,gw6=10.0.0.1", "for 'gw6'" },
		{ "name=eth0,mtu=63", "expected an integer from 64 to 65535" },
		{ "name=eth0,mtu=65536", "for 'mtu'" },
		{ "name=eth0,mtu=15x", "for 'mtu'" },
		{ "name=eth0,mtu=99999999999999999999999", "for 'mtu'" },
		{ "name=eth0,tag=0", "expected an integer from 1 to 4094" },
		{ "name=eth0,tag=4095", "for 'tag'" },
		{ "name=eth0,tag=-1", "for 'tag'" },
		{ "name=eth0,trunks=1;", "for 'trunks'" },
		{ "name=eth0,trunks=1;a", "for 'trunks'" },
		{ "name=eth0,trunks=1 2", "for 'trunks'" },
		{ "name=eth0,rate=fast", "for 'rate'" },
		{ "name=eth0,rate=.", "for 'rate'" },
		{ "name=eth0,rate=1e", "for 'rate'" },
		{ "name=eth0,type=macvlan", "invalid value 'macvlan' for 'type': expected veth" },
		{ "name=eth0,firewall=2", "for 'firewall'" },
		{ "name=eth0,link_down=x", "for 'link_down'" },
		{ "name=eth0,host-managed=", "invalid part" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		check_net_rejected(cases[i].input, cases[i].message);
}
END_TEST

START_TEST(test_conf_net_print_canonical)
{
	static const struct round_trip cases[] = {
		{ "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth",
		  "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth" },
		{ "type=veth,ip=dhcp,hwaddr=BC:24:11:00:00:01,bridge=vmbr0,name=eth0",
		  "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth" },
		{ "trunks=5,tag=+0010,rate=3,name=e,mtu=01500,link_down=1,ip6=auto,ip=manual,"
		  "hwaddr=02:00:00:00:00:01,host-managed=0,gw6=::1,gw=1.2.3.4,firewall=true,bridge=b",
		  "name=e,bridge=b,firewall=1,gw=1.2.3.4,gw6=::1,host-managed=0,"
		  "hwaddr=02:00:00:00:00:01,ip=manual,ip6=auto,link_down=1,mtu=1500,rate=3,tag=10,"
		  "trunks=5" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++)
		check_net_round_trip(cases[i].input, cases[i].printed);
}
END_TEST

START_TEST(test_conf_net_print_invalid)
{
	struct conf_net net;
	char errmsg[CONF_ERRMSG_SIZE], *out;

	ck_assert_int_eq(conf_net_parse("name=eth0", &net, errmsg), 0);
	net.mtu = 10;
	ck_assert_int_eq(conf_net_print(&net, &out), -EINVAL);
	net.mtu = CONF_UNSET;
	net.ip = strdup("10.0.0.1");
	ck_assert_int_eq(conf_net_print(&net, &out), -EINVAL);
	free(net.ip);
	net.ip = NULL;
	free(net.name);
	net.name = NULL;
	ck_assert_int_eq(conf_net_print(&net, &out), -EINVAL);
	conf_net_clear(&net);
}
END_TEST

START_TEST(test_conf_net_clear_resets)
{
	struct conf_net net;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_net_parse("name=eth0,bridge=vmbr0,tag=5,firewall=1", &net, errmsg), 0);
	conf_net_clear(&net);
	ck_assert_ptr_null(net.name);
	ck_assert_ptr_null(net.bridge);
	ck_assert_int_eq(net.tag, CONF_UNSET);
	ck_assert_int_eq(net.firewall, CONF_UNSET);
}
END_TEST

/* ---- dev ---- */

START_TEST(test_conf_dev_parse_fields)
{
	struct conf_dev dev;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_dev_parse("/dev/ttyUSB0,mode=0660,uid=100,gid=+20,deny-write=1", &dev,
	                                errmsg),
	                 0);
	ck_assert_str_eq(dev.path, "/dev/ttyUSB0");
	ck_assert_str_eq(dev.mode, "0660");
	ck_assert_int_eq(dev.uid, 100);
	ck_assert_int_eq(dev.gid, 20);
	ck_assert_int_eq(dev.deny_write, 1);
	conf_dev_clear(&dev);

	ck_assert_int_eq(conf_dev_parse("path=/dev/dri/renderD128", &dev, errmsg), 0);
	ck_assert_str_eq(dev.path, "/dev/dri/renderD128");
	ck_assert_ptr_null(dev.mode);
	ck_assert_int_eq(dev.uid, CONF_UNSET);
	ck_assert_int_eq(dev.gid, CONF_UNSET);
	ck_assert_int_eq(dev.deny_write, CONF_UNSET);
	conf_dev_clear(&dev);

	ck_assert_int_eq(conf_dev_parse("/dev/.udev-x,uid=0,gid=-0", &dev, errmsg), 0);
	ck_assert_int_eq(dev.gid, 0);
	conf_dev_clear(&dev);
}
END_TEST

START_TEST(test_conf_dev_parse_booleans)
{
	for (size_t i = 0; i < N_ELEMENTS(true_spellings); i++) {
		struct conf_dev dev;
		char input[64], errmsg[CONF_ERRMSG_SIZE];

		snprintf(input, sizeof(input), "/dev/null,deny-write=%s", true_spellings[i]);
		ck_assert_int_eq(conf_dev_parse(input, &dev, errmsg), 0);
		ck_assert_int_eq(dev.deny_write, 1);
		conf_dev_clear(&dev);
		snprintf(input, sizeof(input), "/dev/null,deny-write=%s", false_spellings[i]);
		ck_assert_int_eq(conf_dev_parse(input, &dev, errmsg), 0);
		ck_assert_int_eq(dev.deny_write, 0);
		conf_dev_clear(&dev);
	}
}
END_TEST

START_TEST(test_conf_dev_parse_rejected)
{
	static const struct rejected cases[] = {
		{ "", "missing required key 'path' in dev value" },
		{ "mode=0660", "missing required key 'path'" },
		{ "/dev/a,/dev/b", "duplicate key 'path'" },
		{ "/dev/a,uid=1,uid=2", "duplicate key 'uid'" },
		{ "/dev/a,major=1", "unknown key 'major' in dev value" },
		{ "/tmp/x", "for 'path'" },
		{ "/dev", "for 'path'" },
		{ "dev/null", "for 'path'" },
		{ "/dev/../etc/shadow", "for 'path'" },
		{ "/dev/./null", "for 'path'" },
		{ "/dev/a/..", "for 'path'" },
		{ "/dev/a/.", "for 'path'" },
		{ "/dev/a,mode=660", "for 'mode'" },
		{ "/dev/a,mode=0680", "for 'mode'" },
		{ "/dev/a,mode=00660", "for 'mode'" },
		{ "/dev/a,mode=1660", "for 'mode'" },
		{ "/dev/a,uid=-1", "expected an integer >= 0" },
		{ "/dev/a,gid=x", "for 'gid'" },
		{ "/dev/a,gid=99999999999999999999", "for 'gid'" },
		{ "/dev/a,deny-write=maybe", "for 'deny-write'" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct conf_dev dev;
		char errmsg[CONF_ERRMSG_SIZE] = "";

		ck_assert_msg(conf_dev_parse(cases[i].input, &dev, errmsg) == -EINVAL, "%s: accepted",
		              cases[i].input);
		ck_assert_msg(strstr(errmsg, cases[i].message) != NULL, "%s: '%s'", cases[i].input, errmsg);
		ck_assert_ptr_null(dev.path);
	}
}
END_TEST

START_TEST(test_conf_dev_print_canonical)
{
	struct conf_dev dev, again;
	char errmsg[CONF_ERRMSG_SIZE], *out, *out2;

	ck_assert_int_eq(conf_dev_parse("uid=0100,mode=0600,deny-write=on,gid=5,path=/dev/fuse", &dev,
	                                errmsg),
	                 0);
	ck_assert_int_eq(conf_dev_print(&dev, &out), 0);
	ck_assert_str_eq(out, "/dev/fuse,deny-write=1,gid=5,mode=0600,uid=100");
	ck_assert_int_eq(conf_dev_parse(out, &again, errmsg), 0);
	ck_assert_int_eq(conf_dev_print(&again, &out2), 0);
	ck_assert_str_eq(out2, out);
	free(out);
	free(out2);
	conf_dev_clear(&dev);
	conf_dev_clear(&again);
}
END_TEST

START_TEST(test_conf_dev_print_invalid)
{
	struct conf_dev dev;
	char errmsg[CONF_ERRMSG_SIZE], *out;

	ck_assert_int_eq(conf_dev_parse("/dev/null", &dev, errmsg), 0);
	dev.uid = -7;
	ck_assert_int_eq(conf_dev_print(&dev, &out), -EINVAL);
	dev.uid = CONF_UNSET;
	dev.mode = strdup("777");
	ck_assert_int_eq(conf_dev_print(&dev, &out), -EINVAL);
	conf_dev_clear(&dev);
	ck_assert_int_eq(conf_dev_print(&dev, &out), -EINVAL);
}
END_TEST

START_TEST(test_conf_dev_clear_resets)
{
	struct conf_dev dev;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_dev_parse("/dev/null,mode=0666,uid=1", &dev, errmsg), 0);
	conf_dev_clear(&dev);
	ck_assert_ptr_null(dev.path);
	ck_assert_ptr_null(dev.mode);
	ck_assert_int_eq(dev.uid, CONF_UNSET);
}
END_TEST

/* ---- features ---- */

START_TEST(test_conf_features_parse_fields)
{
	struct conf_features f;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_features_parse("nesting=1,keyctl=0,fuse=yes,mknod=off,force_rw_sys=TRUE,"
	                                     "mount=nfs;cifs",
	                                     &f, errmsg),
	                 0);
	ck_assert_int_eq(f.nesting, 1);
	ck_assert_int_eq(f.keyctl, 0);
	ck_assert_int_eq(f.fuse, 1);
	ck_assert_int_eq(f.mknod, 0);
	ck_assert_int_eq(f.force_rw_sys, 1);
	ck_assert_str_eq(f.mount, "nfs;cifs");
	conf_features_clear(&f);

	ck_assert_int_eq(conf_features_parse("", &f, errmsg), 0);
	ck_assert_int_eq(f.nesting, CONF_UNSET);
	ck_assert_ptr_null(f.mount);
	conf_features_clear(&f);
}
END_TEST

START_TEST(test_conf_features_parse_booleans)
{
	static const char *const keys[] = { "nesting", "keyctl", "fuse", "mknod", "force_rw_sys" };

	for (size_t k = 0; k < N_ELEMENTS(keys); k++) {
		for (size_t i = 0; i < N_ELEMENTS(true_spellings); i++) {
			struct conf_features f;
			char input[64], expected[64], errmsg[CONF_ERRMSG_SIZE], *out;

			snprintf(input, sizeof(input), "%s=%s", keys[k], true_spellings[i]);
			snprintf(expected, sizeof(expected), "%s=1", keys[k]);
			ck_assert_int_eq(conf_features_parse(input, &f, errmsg), 0);
			ck_assert_int_eq(conf_features_print(&f, &out), 0);
			ck_assert_str_eq(out, expected);
			free(out);
			conf_features_clear(&f);

			snprintf(input, sizeof(input), "%s=%s", keys[k], false_spellings[i]);
			snprintf(expected, sizeof(expected), "%s=0", keys[k]);
			ck_assert_int_eq(conf_features_parse(input, &f, errmsg), 0);
			ck_assert_int_eq(conf_features_print(&f, &out), 0);
			ck_assert_str_eq(out, expected);
			free(out);
			conf_features_clear(&f);
		}
	}
}
END_TEST

START_TEST(test_conf_features_parse_rejected)
{
	static const struct rejected cases[] = {
		{ "nesting", "has no key" },
		{ "nesting=1,nesting=0", "duplicate key 'nesting'" },
		{ "nesting=2", "for 'nesting'" },
		{ "keyctl=x", "for 'keyctl'" },
		{ "fuse=-", "for 'fuse'" },
		{ "mknod=10", "for 'mknod'" },
		{ "force_rw_sys=y", "for 'force_rw_sys'" },
		{ "mount=nfs-4", "for 'mount'" },
		{ "mount=nfs/cifs", "for 'mount'" },
		{ "nested=1", "unknown key 'nested' in features value" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct conf_features f;
		char errmsg[CONF_ERRMSG_SIZE] = "";

		ck_assert_msg(conf_features_parse(cases[i].input, &f, errmsg) == -EINVAL, "%s: accepted",
		              cases[i].input);
		ck_assert_msg(strstr(errmsg, cases[i].message) != NULL, "%s: '%s'", cases[i].input, errmsg);
	}
}
END_TEST

START_TEST(test_conf_features_print_canonical)
{
	struct conf_features f;
	char errmsg[CONF_ERRMSG_SIZE], *out;

	ck_assert_int_eq(conf_features_parse("nesting=1,mount=nfs; cifs,keyctl=1,fuse=0", &f, errmsg), 0);
	ck_assert_int_eq(conf_features_print(&f, &out), 0);
	ck_assert_str_eq(out, "fuse=0,keyctl=1,mount=nfs; cifs,nesting=1");
	free(out);
	conf_features_clear(&f);

	ck_assert_int_eq(conf_features_parse(" ", &f, errmsg), 0);
	ck_assert_int_eq(conf_features_print(&f, &out), 0);
	ck_assert_str_eq(out, "");
	free(out);
	conf_features_clear(&f);
}
END_TEST

START_TEST(test_conf_features_clear_resets)
{
	struct conf_features f;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_features_parse("nesting=1,mount=nfs", &f, errmsg), 0);
	conf_features_clear(&f);
	ck_assert_ptr_null(f.mount);
	ck_assert_int_eq(f.nesting, CONF_UNSET);
}
END_TEST

/* ---- unused ---- */

START_TEST(test_conf_unused_parse_volume)
{
	struct conf_unused u;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_unused_parse("local-lvm:vm-100-disk-1", &u, errmsg), 0);
	ck_assert_str_eq(u.volume, "local-lvm:vm-100-disk-1");
	conf_unused_clear(&u);
	ck_assert_int_eq(conf_unused_parse("volume=local:100/vm-100-disk-2.raw", &u, errmsg), 0);
	ck_assert_str_eq(u.volume, "local:100/vm-100-disk-2.raw");
	conf_unused_clear(&u);
}
END_TEST

START_TEST(test_conf_unused_parse_rejected)
{
	static const struct rejected cases[] = {
		{ "", "missing required key 'volume' in unused value" },
		{ "/srv/data", "for 'volume'" },
		{ "l:vol", "for 'volume'" },
		{ "local-:vol", "for 'volume'" },
		{ "local:", "for 'volume'" },
		{ "local:a,local:b", "duplicate key 'volume'" },
		{ "local:a,size=1G", "unknown key 'size' in unused value" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct conf_unused u;
		char errmsg[CONF_ERRMSG_SIZE] = "";

		ck_assert_msg(conf_unused_parse(cases[i].input, &u, errmsg) == -EINVAL, "%s: accepted",
		              cases[i].input);
		ck_assert_msg(strstr(errmsg, cases[i].message) != NULL, "%s: '%s'", cases[i].input, errmsg);
		ck_assert_ptr_null(u.volume);
	}
}
END_TEST

START_TEST(test_conf_unused_print_canonical)
{
	struct conf_unused u;
	char errmsg[CONF_ERRMSG_SIZE], *out;

	ck_assert_int_eq(conf_unused_parse("volume=local:vm-100-disk-1", &u, errmsg), 0);
	ck_assert_int_eq(conf_unused_print(&u, &out), 0);
	ck_assert_str_eq(out, "local:vm-100-disk-1");
	free(out);
	conf_unused_clear(&u);
	ck_assert_int_eq(conf_unused_print(&u, &out), -EINVAL);
}
END_TEST

START_TEST(test_conf_unused_clear_resets)
{
	struct conf_unused u;
	char errmsg[CONF_ERRMSG_SIZE];

	ck_assert_int_eq(conf_unused_parse("local:x", &u, errmsg), 0);
	conf_unused_clear(&u);
	ck_assert_ptr_null(u.volume);
}
END_TEST

/* ---- startup ---- */

START_TEST(test_conf_startup_parse_forms)
{
	static const struct {
		const char *input;
		int64_t order, up, down;
	} cases[] = {
		{ "1", 1, CONF_UNSET, CONF_UNSET },
		{ "order=2", 2, CONF_UNSET, CONF_UNSET },
		{ "order=3,up=30,down=60", 3, 30, 60 },
		{ "up=5", CONF_UNSET, 5, CONF_UNSET },
		{ "down=7,,", CONF_UNSET, CONF_UNSET, 7 },
		{ ",", CONF_UNSET, CONF_UNSET, CONF_UNSET },
		{ "", CONF_UNSET, CONF_UNSET, CONF_UNSET },
		{ "00", 0, CONF_UNSET, CONF_UNSET },
		{ "order=0", 0, CONF_UNSET, CONF_UNSET },
		{ "1,order=4", 4, CONF_UNSET, CONF_UNSET },
		{ "up=1, ,up=2", CONF_UNSET, 2, CONF_UNSET },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct conf_startup s;
		char errmsg[CONF_ERRMSG_SIZE];

		ck_assert_msg(conf_startup_parse(cases[i].input, &s, errmsg) == 0, "%s", cases[i].input);
		ck_assert_int_eq(s.order, cases[i].order);
		ck_assert_int_eq(s.up, cases[i].up);
		ck_assert_int_eq(s.down, cases[i].down);
	}
}
END_TEST

START_TEST(test_conf_startup_parse_rejected)
{
	static const char *const cases[] = { "0", "order=", "order=-1", "up=x", "down=1.5",
		                             " 1", "1 ", "order=1,sideways=2", "+1",
		                             "up=99999999999999999999", "order=1\n" };

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct conf_startup s;
		char errmsg[CONF_ERRMSG_SIZE] = "";

		ck_assert_msg(conf_startup_parse(cases[i], &s, errmsg) == -EINVAL, "%s: accepted", cases[i]);
		ck_assert_ptr_nonnull(strstr(errmsg, "for 'startup': expected [[order=]N][,up=N][,down=N]"));
		ck_assert_int_eq(s.order, CONF_UNSET);
	}
}
END_TEST

START_TEST(test_conf_startup_print_canonical)
{
	static const struct round_trip cases[] = {
		{ "5", "order=5" },
		{ "down=3,up=2,order=1", "order=1,up=2,down=3" },
		{ "up=010", "up=10" },
		{ ",", "" },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct conf_startup s, again;
		char errmsg[CONF_ERRMSG_SIZE], *out, *out2;

		ck_assert_int_eq(conf_startup_parse(cases[i].input, &s, errmsg), 0);
		ck_assert_int_eq(conf_startup_print(&s, &out), 0);
		ck_assert_str_eq(out, cases[i].printed);
		ck_assert_int_eq(conf_startup_parse(out, &again, errmsg), 0);
		ck_assert_int_eq(conf_startup_print(&again, &out2), 0);
		ck_assert_str_eq(out2, out);
		free(out);
		free(out2);
	}
}
END_TEST

START_TEST(test_conf_startup_print_invalid)
{
	struct conf_startup s = { .order = -2, .up = CONF_UNSET, .down = CONF_UNSET };
	char *out;

	ck_assert_int_eq(conf_startup_print(&s, &out), -EINVAL);
}
END_TEST

START_TEST(test_conf_startup_clear_resets)
{
	struct conf_startup s = { .order = 1, .up = 2, .down = 3 };

	conf_startup_clear(&s);
	ck_assert_int_eq(s.order, CONF_UNSET);
	ck_assert_int_eq(s.up, CONF_UNSET);
	ck_assert_int_eq(s.down, CONF_UNSET);
}
END_TEST

/* ---- helpers ---- */

START_TEST(test_conf_volume_classify_kinds)
{
	ck_assert_int_eq(conf_volume_classify("/dev/sda"), CONF_VOLUME_DEVICE);
	ck_assert_int_eq(conf_volume_classify("/dev/"), CONF_VOLUME_DEVICE);
	ck_assert_int_eq(conf_volume_classify("/dev"), CONF_VOLUME_BIND);
	ck_assert_int_eq(conf_volume_classify("/devices"), CONF_VOLUME_BIND);
	ck_assert_int_eq(conf_volume_classify("/"), CONF_VOLUME_BIND);
	ck_assert_int_eq(conf_volume_classify("local:10"), CONF_VOLUME_ALLOC);
	ck_assert_int_eq(conf_volume_classify("x:10.25"), CONF_VOLUME_ALLOC);
	ck_assert_int_eq(conf_volume_classify("local:10.x"), CONF_VOLUME_STORAGE);
	ck_assert_int_eq(conf_volume_classify("local:vm-1-disk-0"), CONF_VOLUME_STORAGE);
	ck_assert_int_eq(conf_volume_classify("x:vol"), CONF_VOLUME_INVALID);
	ck_assert_int_eq(conf_volume_classify("local"), CONF_VOLUME_INVALID);
	ck_assert_int_eq(conf_volume_classify(""), CONF_VOLUME_INVALID);
	ck_assert_int_eq(conf_volume_classify("lo cal:1"), CONF_VOLUME_INVALID);
}
END_TEST

START_TEST(test_conf_size_parse_units)
{
	static const struct {
		const char *text;
		int64_t bytes;
	} cases[] = {
		{ "0", 0 },
		{ "512", 512 },
		{ "1.9", 1 },
		{ "1K", 1024 },
		{ "1KiB", 1024 },
		{ "2M", 2 << 20 },
		{ "2MiB", 2 << 20 },
		{ "8G", 8LL << 30 },
		{ "8GiB", 8LL << 30 },
		{ "1T", 1LL << 40 },
		{ "1TiB", 1LL << 40 },
		{ "1.5G", 3LL << 29 },
		{ "0.5K", 512 },
		{ "0.0001K", 0 },
		{ "0.0009765625K", 1 },
		{ "0.00000000000090949470177292823791503906", 0 },
		{ "0.0000000000009094947017729282379150390625T", 1 },
		{ "0.00000000000090949470177292823791503906T", 0 },
		{ "007G", 7LL << 30 },
		{ "8388607T", 8388607LL << 40 },
		{ "9223372036854775807", INT64_MAX },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		int64_t bytes = -1;

		ck_assert_msg(conf_size_parse(cases[i].text, &bytes) == 0, "%s", cases[i].text);
		ck_assert_int_eq(bytes, cases[i].bytes);
	}
}
END_TEST

START_TEST(test_conf_size_parse_rejected)
{
	static const char *const invalid[] = { "", "G", "-1", "+1", "1.", ".5", "1.5.5", "1g",
		                               "1k", "1KB", "1Ki", "1 K", " 1", "1P", "0x10", "1e3" };
	int64_t bytes;

	for (size_t i = 0; i < N_ELEMENTS(invalid); i++)
		ck_assert_msg(conf_size_parse(invalid[i], &bytes) == -EINVAL, "%s", invalid[i]);

	ck_assert_int_eq(conf_size_parse("8388608T", &bytes), -ERANGE);
	ck_assert_int_eq(conf_size_parse("9223372036854775808", &bytes), -ERANGE);
	ck_assert_int_eq(conf_size_parse("99999999999999999999999999999999999G", &bytes), -ERANGE);
}
END_TEST

START_TEST(test_conf_size_format_units)
{
	static const struct {
		int64_t bytes;
		const char *text;
	} cases[] = {
		{ 0, "0T" },
		{ 1, "1" },
		{ 1023, "1023" },
		{ 1024, "1K" },
		{ 1536, "1536" },
		{ 3LL << 29, "1536M" },
		{ 2 << 20, "2M" },
		{ 8LL << 30, "8G" },
		{ 1LL << 40, "1T" },
		{ 1LL << 50, "1024T" },
		{ (1LL << 40) + 1024, "1073741825K" },
		{ INT64_MAX, "9223372036854775807" },
	};
	char buf[CONF_SIZE_BUFSIZE];

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		conf_size_format(cases[i].bytes, buf);
		ck_assert_str_eq(buf, cases[i].text);
	}
}
END_TEST

START_TEST(test_conf_bool_parse_spellings)
{
	bool value;

	for (size_t i = 0; i < N_ELEMENTS(true_spellings); i++) {
		value = false;
		ck_assert(conf_bool_parse(true_spellings[i], &value));
		ck_assert_int_eq(value, true);
		ck_assert(conf_bool_parse(false_spellings[i], &value));
		ck_assert_int_eq(value, false);
	}
	ck_assert(!conf_bool_parse("", &value));
	ck_assert(!conf_bool_parse("2", &value));
	ck_assert(!conf_bool_parse("y", &value));
	ck_assert(!conf_bool_parse(" 1", &value));
	ck_assert(!conf_bool_parse("01", &value));
	ck_assert(!conf_bool_parse("enabled", &value));
}
END_TEST

START_TEST(test_conf__quote_shortens)
{
	char buf[CONF__QUOTE_SIZE];
	char long_text[100];

	ck_assert_str_eq(conf__quote("plain", buf), "plain");
	ck_assert_str_eq(conf__quote("a\tb\x7f", buf), "a?b?");
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	conf__quote(long_text, buf);
	ck_assert_uint_eq(strlen(buf), 63);
	ck_assert_str_eq(buf + 60, "...");
}
END_TEST

START_TEST(test_conf__is_ipv4_forms)
{
	ck_assert(conf__is_ipv4("0.0.0.0"));
	ck_assert(conf__is_ipv4("255.255.255.255"));
	ck_assert(conf__is_ipv4("10.1.2.3"));
	ck_assert(!conf__is_ipv4("256.0.0.1"));
	ck_assert(!conf__is_ipv4("01.0.0.1"));
	ck_assert(!conf__is_ipv4("1.2.3"));
	ck_assert(!conf__is_ipv4("1.2.3.4.5"));
	ck_assert(!conf__is_ipv4("1.2.3."));
	ck_assert(!conf__is_ipv4("1..3.4"));
	ck_assert(!conf__is_ipv4("1.2.3.4 "));
	ck_assert(!conf__is_ipv4("1.2.3.1234"));
	ck_assert(!conf__is_ipv4(""));
}
END_TEST

START_TEST(test_conf__is_ipv6_forms)
{
	ck_assert(conf__is_ipv6("::"));
	ck_assert(conf__is_ipv6("::1"));
	ck_assert(conf__is_ipv6("fe80::1"));
	ck_assert(conf__is_ipv6("2001:db8:0:0:0:0:0:1"));
	ck_assert(conf__is_ipv6("::ffff:192.0.2.1"));
	ck_assert(!conf__is_ipv6(":::"));
	ck_assert(!conf__is_ipv6("1:2:3:4:5:6:7:8:9"));
	ck_assert(!conf__is_ipv6("12345::"));
	ck_assert(!conf__is_ipv6("fe80::1%eth0"));
	ck_assert(!conf__is_ipv6("::ffff:192.0.2.01"));
	ck_assert(!conf__is_ipv6("10.0.0.1"));
	ck_assert(!conf__is_ipv6(""));
}
END_TEST

START_TEST(test_conf__is_dns_name_forms)
{
	ck_assert(conf__is_dns_name("a"));
	ck_assert(conf__is_dns_name("ct100"));
	ck_assert(conf__is_dns_name("web-1.example.com"));
	ck_assert(conf__is_dns_name("1.2.3"));
	ck_assert(!conf__is_dns_name(""));
	ck_assert(!conf__is_dns_name("-a"));
	ck_assert(!conf__is_dns_name("a-"));
	ck_assert(!conf__is_dns_name("a..b"));
	ck_assert(!conf__is_dns_name("a."));
	ck_assert(!conf__is_dns_name(".a"));
	ck_assert(!conf__is_dns_name("a_b"));
}
END_TEST

START_TEST(test_conf__is_volume_id_forms)
{
	ck_assert(conf__is_volume_id("local:vm-100-disk-0"));
	ck_assert(conf__is_volume_id("Local.Store_1:x"));
	ck_assert(conf__is_volume_id("ab:c:d"));
	ck_assert(!conf__is_volume_id("a:x"));
	ck_assert(!conf__is_volume_id("ab:"));
	ck_assert(!conf__is_volume_id("1b:x"));
	ck_assert(!conf__is_volume_id("ab-:x"));
	ck_assert(!conf__is_volume_id("a b:x"));
	ck_assert(!conf__is_volume_id("local"));
}
END_TEST

START_TEST(test_conf__is_iface_forms)
{
	ck_assert(conf__is_iface("eth0"));
	ck_assert(conf__is_iface("vmbr0.100"));
	ck_assert(conf__is_iface("eth0:1"));
	ck_assert(!conf__is_iface("e"));
	ck_assert(!conf__is_iface("0eth"));
	ck_assert(!conf__is_iface("eth0."));
	ck_assert(!conf__is_iface("eth-0"));
	ck_assert(!conf__is_iface("abcdefghijklmnopqrstuv"));
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

static Suite *propstr_suite(void)
{
	Suite *s = suite_create("propstr");

	ADD_CASE(s, "conf_rootfs_parse", test_conf_rootfs_parse_fields,
	         test_conf_rootfs_parse_unset_fields, test_conf_rootfs_parse_volume_types,
	         test_conf_rootfs_parse_booleans, test_conf_rootfs_parse_rejected,
	         test_conf_rootfs_parse_message_names_allowed, test_conf_rootfs_parse_null_errmsg);
	ADD_CASE(s, "conf_rootfs_print", test_conf_rootfs_print_canonical,
	         test_conf_rootfs_print_skips_mp_fields, test_conf_rootfs_print_invalid);
	ADD_CASE(s, "conf_mp_parse", test_conf_mp_parse_fields, test_conf_mp_parse_mp_paths,
	         test_conf_mp_parse_booleans, test_conf_mp_parse_rejected);
	ADD_CASE(s, "conf_mp_print", test_conf_mp_print_canonical, test_conf_mp_print_missing_mp);
	ADD_CASE(s, "conf_mountpoint_clear", test_conf_mountpoint_clear_resets);
	ADD_CASE(s, "conf_net_parse", test_conf_net_parse_fields, test_conf_net_parse_unset_fields,
	         test_conf_net_parse_accepted_values, test_conf_net_parse_booleans,
	         test_conf_net_parse_rejected);
	ADD_CASE(s, "conf_net_print", test_conf_net_print_canonical, test_conf_net_print_invalid);
	ADD_CASE(s, "conf_net_clear", test_conf_net_clear_resets);
	ADD_CASE(s, "conf_dev_parse", test_conf_dev_parse_fields, test_conf_dev_parse_booleans,
	         test_conf_dev_parse_rejected);
	ADD_CASE(s, "conf_dev_print", test_conf_dev_print_canonical, test_conf_dev_print_invalid);
	ADD_CASE(s, "conf_dev_clear", test_conf_dev_clear_resets);
	ADD_CASE(s, "conf_features_parse", test_conf_features_parse_fields,
	         test_conf_features_parse_booleans, test_conf_features_parse_rejected);
	ADD_CASE(s, "conf_features_print", test_conf_features_print_canonical);
	ADD_CASE(s, "conf_features_clear", test_conf_features_clear_resets);
	ADD_CASE(s, "conf_unused_parse", test_conf_unused_parse_volume, test_conf_unused_parse_rejected);
	ADD_CASE(s, "conf_unused_print", test_conf_unused_print_canonical);
	ADD_CASE(s, "conf_unused_clear", test_conf_unused_clear_resets);
	ADD_CASE(s, "conf_startup_parse", test_conf_startup_parse_forms, test_conf_startup_parse_rejected);
	ADD_CASE(s, "conf_startup_print", test_conf_startup_print_canonical,
	         test_conf_startup_print_invalid);
	ADD_CASE(s, "conf_startup_clear", test_conf_startup_clear_resets);
	ADD_CASE(s, "conf_volume_classify", test_conf_volume_classify_kinds);
	ADD_CASE(s, "conf_size_parse", test_conf_size_parse_units, test_conf_size_parse_rejected);
	ADD_CASE(s, "conf_size_format", test_conf_size_format_units);
	ADD_CASE(s, "conf_bool_parse", test_conf_bool_parse_spellings);
	ADD_CASE(s, "conf__quote", test_conf__quote_shortens);
	ADD_CASE(s, "conf__is_ipv4", test_conf__is_ipv4_forms);
	ADD_CASE(s, "conf__is_ipv6", test_conf__is_ipv6_forms);
	ADD_CASE(s, "conf__is_dns_name", test_conf__is_dns_name_forms);
	ADD_CASE(s, "conf__is_volume_id", test_conf__is_volume_id_forms);
	ADD_CASE(s, "conf__is_iface", test_conf__is_iface_forms);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(propstr_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}
