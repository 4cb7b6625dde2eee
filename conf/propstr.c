/*
 * Property strings: one descriptor table per kind, one generic parser and
 * one generic printer. See conf/propstr.h for the syntax and contracts.
 *
 * The patterns and ranges below are those of pve-container 6.x
 * (src/PVE/LXC/Config.pm) and pve-common 9.x (src/PVE/JSONSchema.pm).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/propstr.h"

#define DIGITS "0123456789"
#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define ALNUM LOWER UPPER DIGITS
#define HEX DIGITS "abcdefABCDEF"

/* The maximum number of fields of one kind, because the sets of seen
 * fields are 32-bit masks. */
#define MAX_FIELDS 32

#define BOOL_TEXT "a boolean (1, 0, on, off, yes, no, true or false)"
#define SIZE_TEXT "a size: digits with an optional fraction and unit K, M, G or T, such as 8G"

/* ---- Small text checks ---- */

/* True when TEXT is not empty and every byte is in SET. */
static bool consists_of(const char *text, const char *set)
{
	return text[0] != '\0' && text[strspn(text, set)] == '\0';
}

static bool is_blank(const char *text)
{
	return text[strspn(text, " \t\f\v")] == '\0';
}

/* Parse `[+-]?\d+` into VALUE. Errors: -EINVAL syntax, -ERANGE overflow. */
static int parse_int(const char *text, int64_t *value)
{
	bool negative = false;
	int64_t result = 0;

	if (*text == '+' || *text == '-')
		negative = *text++ == '-';
	if (!consists_of(text, DIGITS))
		return -EINVAL;

	for (; *text; text++) {
		int digit = *text - '0';

		if (result > (INT64_MAX - digit) / 10)
			return -ERANGE;
		result = result * 10 + digit;
	}
	*value = negative ? -result : result;
	return 0;
}

/* Perl's notion of a number, as JSONSchema's is_number checks it:
 * `[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?`. */
static bool is_number(const char *text)
{
	size_t n_int, n_frac = 0;

	if (*text == '+' || *text == '-')
		text++;
	n_int = strspn(text, DIGITS);
	text += n_int;
	if (*text == '.') {
		n_frac = strspn(text + 1, DIGITS);
		text += 1 + n_frac;
	}
	if (n_int + n_frac == 0)
		return false;

	if (*text == 'e' || *text == 'E') {
		text++;
		if (*text == '+' || *text == '-')
			text++;
		return consists_of(text, DIGITS);
	}
	return *text == '\0';
}

bool conf_bool_parse(const char *text, bool *value)
{
	static const char *const yes[] = { "1", "on", "yes", "true" };
	static const char *const no[] = { "0", "off", "no", "false" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*value = true;
			return true;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*value = false;
			return true;
		}
	}
	return false;
}

const char *conf__quote(const char *text, char *buf)
{
	const size_t max_shown = 60;
	size_t i;

	for (i = 0; text[i] != '\0' && i < max_shown; i++) {
		unsigned char c = (unsigned char)text[i];

		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (text[i] != '\0')
		strcpy(buf + i, "...");
	else
		buf[i] = '\0';
	return buf;
}

/* ---- Addresses and names ---- */

/* An IPv4 octet: 0..255 without leading zeros. */
static bool is_octet(const char *text, size_t len)
{
	int value = 0;

	if (len == 0 || len > 3 || (len > 1 && text[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		value = value * 10 + (text[i] - '0');
	}
	return value <= 255;
}

bool conf__is_ipv4(const char *text)
{
	for (int part = 0; part < 4; part++) {
		size_t len = strcspn(text, ".");

		if (!is_octet(text, len))
			return false;
		text += len;
		if (part < 3 && *text++ != '.')
			return false;
	}
	return *text == '\0';
}

bool conf__is_ipv6(const char *text)
{
	struct in6_addr addr;

	/* inet_pton() takes exactly the RFC 4291 text forms, including an
	 * embedded dotted IPv4 tail, and no zone suffix. */
	if (!consists_of(text, HEX ":."))
		return false;
	return inet_pton(AF_INET6, text, &addr) == 1;
}

/* ADDRESS/PREFIX with PREFIX in MIN_PREFIX..MAX_PREFIX; IS_ADDRESS checks
 * the part before the last '/'. */
static bool is_cidr(const char *text, bool (*is_address)(const char *), int64_t min_prefix,
                    int64_t max_prefix)
{
	const char *slash = strrchr(text, '/');
	char address[64];
	int64_t prefix;
	size_t len;

	if (!slash || !consists_of(slash + 1, DIGITS))
		return false;
	len = (size_t)(slash - text);
	if (len >= sizeof(address))
		return false;
	memcpy(address, text, len);
	address[len] = '\0';

	if (!is_address(address) || parse_int(slash + 1, &prefix) < 0)
		return false;
	return prefix >= min_prefix && prefix <= max_prefix;
}

/* pct takes IPv4 prefixes 8..32 and IPv6 prefixes 8..128. */
static bool is_ipv4_config(const char *text)
{
	return strcmp(text, "dhcp") == 0 || strcmp(text, "manual") == 0 ||
	       is_cidr(text, conf__is_ipv4, 8, 32);
}

static bool is_ipv6_config(const char *text)
{
	return strcmp(text, "auto") == 0 || strcmp(text, "dhcp") == 0 ||
	       strcmp(text, "manual") == 0 || is_cidr(text, conf__is_ipv6, 8, 128);
}

/* A unicast MAC address: the lowest bit of the first octet is clear. */
static bool is_unicast_mac(const char *text)
{
	static const char even[] = "02468aceACE";

	if (strlen(text) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		bool colon = i % 3 == 2;

		if (colon ? text[i] != ':' : !strchr(HEX, text[i]))
			return false;
	}
	return strchr(even, text[1]) != NULL;
}

/* One DNS label: `[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?`. */
static bool is_dns_label(const char *text, size_t len)
{
	if (len == 0 || text[0] == '-' || text[len - 1] == '-')
		return false;
	return strspn(text, ALNUM "-") >= len;
}

bool conf__is_dns_name(const char *text)
{
	for (;;) {
		size_t len = strcspn(text, ".");

		if (!is_dns_label(text, len))
			return false;
		if (text[len] == '\0')
			return true;
		text += len + 1;
	}
}

/* `storage:volname`: the storage id `[a-z][a-z0-9._-]*[a-z0-9]` (any case),
 * then any non-empty name. */
bool conf__is_volume_id(const char *text)
{
	size_t len = strcspn(text, ":");

	if (len < 2 || text[len] != ':' || text[len + 1] == '\0')
		return false;
	if (!strchr(LOWER UPPER, text[0]) || !strchr(ALNUM, text[len - 1]))
		return false;
	return strspn(text, ALNUM "-_.") == len;
}

/* A host interface name: `[a-z][a-z0-9_]{1,20}([:.]\d+)?` (any case). */
bool conf__is_iface(const char *text)
{
	size_t len = strspn(text, ALNUM "_");

	if (len < 2 || len > 21 || !strchr(LOWER UPPER, text[0]))
		return false;
	if (text[len] == '\0')
		return true;
	return (text[len] == ':' || text[len] == '.') && consists_of(text + len + 1, DIGITS);
}

/* ---- Checks of sub-values ---- */

/* A mount path, as pct's pve-lxc-mp-string: no `/./` or `/../`, no
 * trailing `/.` or `/..`, no leading `../`. */
static bool is_mount_path(const char *text)
{
	const char *p;
	size_t len = strlen(text);

	if (strstr(text, "/./") || strstr(text, "/../") || strncmp(text, "../", 3) == 0)
		return false;
	if (len >= 2 && strcmp(text + len - 2, "/.") == 0)
		return false;
	p = len >= 3 ? text + len - 3 : "";
	return strcmp(p, "/..") != 0;
}

static bool is_mount_volume(const char *text)
{
	return is_mount_path(text) && conf_volume_classify(text) != CONF_VOLUME_INVALID;
}

/* A device path: starts with /dev/ and has no `.` or `..` component. */
static bool is_dev_path(const char *text)
{
	const char *p;

	if (strncmp(text, "/dev/", 5) != 0)
		return false;
	for (p = strstr(text, "/."); p; p = strstr(p + 1, "/.")) {
		size_t dots = p[2] == '.' ? 2 : 1;

		if (p[1 + dots] == '/' || p[1 + dots] == '\0')
			return false;
	}
	return true;
}

/* A `;`-separated list whose items all pass IS_ITEM; no empty items. */
static bool is_list_of(const char *text, bool (*is_item)(const char *, size_t))
{
	for (;;) {
		size_t len = strcspn(text, ";");

		if (!is_item(text, len))
			return false;
		if (text[len] == '\0')
			return true;
		text += len + 1;
	}
}

static bool is_mount_option(const char *text, size_t len)
{
	static const char *const options[] = { "discard", "lazytime", "noatime",
		                                "nodev",   "noexec",   "nosuid" };

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strlen(options[i]) == len && strncmp(text, options[i], len) == 0)
			return true;
	return false;
}

static bool is_mount_options(const char *text)
{
	return is_list_of(text, is_mount_option);
}

static bool is_digits_item(const char *text, size_t len)
{
	return len > 0 && strspn(text, DIGITS) >= len;
}

/* One idmap entry `[ug]:\d+:\d+:[1-9]\d*`. */
static bool is_idmap_entry(const char *text, size_t len)
{
	const char *end = text + len;
	size_t n;

	if (len < 2 || (text[0] != 'u' && text[0] != 'g') || text[1] != ':')
		return false;
	text += 2;
	for (int field = 0; field < 3; field++) {
		n = strspn(text, DIGITS);
		if (n == 0 || text + n > end || (field == 2 && text[0] == '0'))
			return false;
		text += n;
		if (field < 2 && (text >= end || *text++ != ':'))
			return false;
	}
	return text == end;
}

static bool is_idmap(const char *text)
{
	return strcmp(text, "passthrough") == 0 || is_list_of(text, is_idmap_entry);
}

static bool is_trunks(const char *text)
{
	return is_list_of(text, is_digits_item);
}

/* Interface and bridge names: `[-_.\w\d]+`. */
static bool is_net_name(const char *text)
{
	return consists_of(text, ALNUM "-_.");
}

static bool is_veth(const char *text)
{
	return strcmp(text, "veth") == 0;
}

static bool is_dev_mode(const char *text)
{
	return strlen(text) == 4 && text[0] == '0' && strspn(text + 1, "01234567") == 3;
}

static bool is_fs_type_list(const char *text)
{
	return consists_of(text, ALNUM "_; ");
}

/* ---- Sizes ---- */

/* The shift of a size unit: none, K/KiB, M/MiB, G/GiB, T/TiB. */
static int size_unit_shift(const char *unit, unsigned *shift)
{
	static const char units[] = "KMGT";
	const char *found;

	if (*unit == '\0') {
		*shift = 0;
		return 0;
	}
	found = strchr(units, *unit);
	if (!found)
		return -EINVAL;
	if (unit[1] != '\0' && strcmp(unit + 1, "iB") != 0)
		return -EINVAL;
	*shift = 10 * (unsigned)(found - units + 1);
	return 0;
}

/*
 * floor(0.FRAC * 2^SHIFT), exact. The first SHIFT decimal digits decide
 * the result (2^SHIFT divides 10^SHIFT), so 40 digits are enough for T.
 * Each doubling of the decimal fraction carries one bit into the result.
 */
static int64_t fraction_times_pow2(const char *frac, size_t n_frac, unsigned shift)
{
	char digits[40] = { 0 };
	size_t n = n_frac < sizeof(digits) ? n_frac : sizeof(digits);
	int64_t result = 0;

	for (size_t i = 0; i < n; i++)
		digits[i] = (char)(frac[i] - '0');

	for (unsigned bit = 0; bit < shift; bit++) {
		int carry = 0;

		for (size_t i = sizeof(digits); i-- > 0;) {
			int doubled = digits[i] * 2 + carry;

			digits[i] = (char)(doubled % 10);
			carry = doubled / 10;
		}
		result = result * 2 + carry;
	}
	return result;
}

int conf_size_parse(const char *text, int64_t *bytes)
{
	size_t n_int = strspn(text, DIGITS), n_frac = 0;
	const char *frac = text + n_int + 1;
	char whole_text[32];
	int64_t whole;
	unsigned shift;

	if (n_int == 0)
		return -EINVAL;
	if (text[n_int] == '.') {
		n_frac = strspn(frac, DIGITS);
		if (n_frac == 0)
			return -EINVAL;
	}
	if (size_unit_shift(n_frac ? frac + n_frac : text + n_int, &shift) < 0)
		return -EINVAL;

	/* Leading zeros do not count towards the digit limit. */
	while (n_int > 1 && text[0] == '0') {
		text++;
		n_int--;
	}
	if (n_int >= sizeof(whole_text))
		return -ERANGE;
	memcpy(whole_text, text, n_int);
	whole_text[n_int] = '\0';
	if (parse_int(whole_text, &whole) < 0 || whole > (INT64_MAX >> shift))
		return -ERANGE;

	/* whole << shift leaves room below INT64_MAX for any fraction,
	 * which adds less than 1 << shift. */
	*bytes = (whole << shift) + fraction_times_pow2(frac, n_frac, shift);
	return 0;
}

void conf_size_format(int64_t bytes, char *buf)
{
	static const char units[] = "KMGT";
	uint64_t value = (uint64_t)bytes;
	int unit = -1;

	while (unit < 3 && value % 1024 == 0) {
		value /= 1024;
		unit++;
	}
	if (unit < 0)
		snprintf(buf, CONF_SIZE_BUFSIZE, "%llu", (unsigned long long)value);
	else
		snprintf(buf, CONF_SIZE_BUFSIZE, "%llu%c", (unsigned long long)value, units[unit]);
}

/* ---- Volumes ---- */

/* `storage:N` with N GiB to allocate: `[^:\s]+:\d+(\.\d+)?`. */
static bool is_volume_alloc(const char *text)
{
	size_t len = strcspn(text, ": \t\n\r\f\v");
	const char *size = text + len + 1;
	size_t n_int;

	if (len == 0 || text[len] != ':')
		return false;
	n_int = strspn(size, DIGITS);
	if (n_int == 0)
		return false;
	if (size[n_int] == '\0')
		return true;
	return size[n_int] == '.' && consists_of(size + n_int + 1, DIGITS);
}

enum conf_volume_type conf_volume_classify(const char *volume)
{
	if (volume[0] == '/')
		return strncmp(volume, "/dev/", 5) == 0 ? CONF_VOLUME_DEVICE : CONF_VOLUME_BIND;
	if (is_volume_alloc(volume))
		return CONF_VOLUME_ALLOC;
	if (conf__is_volume_id(volume))
		return CONF_VOLUME_STORAGE;
	return CONF_VOLUME_INVALID;
}

/* ---- Descriptor tables ---- */

enum field_type {
	FIELD_STRING,
	FIELD_BOOL, /* int8_t: 0, 1 or CONF_UNSET */
	FIELD_INT,  /* int64_t in min..max, or CONF_UNSET */
	FIELD_SIZE, /* int64_t bytes, or CONF_UNSET */
};

enum field_flags {
	FIELD_DEFAULT_KEY = 1, /* a part without '=' sets this key */
	FIELD_REQUIRED = 2,
};

struct field {
	const char *name;
	enum field_type type;
	unsigned flags;
	size_t offset;
	bool (*check)(const char *text); /* FIELD_STRING only */
	int64_t min, max;                 /* FIELD_INT only */
	const char *allowed;              /* what the value may be, for messages */
};

struct propstr_format {
	const char *kind; /* for messages: "net", "mp", ... */
	const struct field *fields;
	size_t n_fields;
	size_t object_size;
	void (*finish)(void *object); /* after a successful parse */
	/* The format whose fields cover the whole struct, when this one
	 * covers only part of it (rootfs shares the mp struct). */
	const struct propstr_format *layout;
};

#define STRING_FIELD(key, type_, member, flags_, check_, allowed_)                        \
	{ .name = (key), .type = FIELD_STRING, .flags = (flags_),                          \
	  .offset = offsetof(type_, member), .check = (check_), .allowed = (allowed_) }
#define BOOL_FIELD(key, type_, member)                                                     \
	{ .name = (key), .type = FIELD_BOOL, .offset = offsetof(type_, member),            \
	  .allowed = BOOL_TEXT }
#define INT_FIELD(key, type_, member, min_, max_, allowed_)                               \
	{ .name = (key), .type = FIELD_INT, .offset = offsetof(type_, member),             \
	  .min = (min_), .max = (max_), .allowed = (allowed_) }

#define MOUNT_COMMON_FIELDS                                                                \
	STRING_FIELD("volume", struct conf_mountpoint, volume,                             \
	             FIELD_DEFAULT_KEY | FIELD_REQUIRED, is_mount_volume,                  \
	             "a storage volume (storage:volname), storage:N or an absolute path "  \
	             "without /./ or /../"),                                               \
	{ .name = "size", .type = FIELD_SIZE,                                              \
	  .offset = offsetof(struct conf_mountpoint, size), .allowed = SIZE_TEXT },        \
	BOOL_FIELD("acl", struct conf_mountpoint, acl),                                    \
	STRING_FIELD("mountoptions", struct conf_mountpoint, mountoptions, 0,              \
	             is_mount_options,                                                     \
	             "a ';'-list of discard, lazytime, noatime, nodev, noexec, nosuid"),   \
	STRING_FIELD("idmap", struct conf_mountpoint, idmap, 0, is_idmap,                  \
	             "passthrough or a ';'-list of u|g:ctid:diskid:count with count >= 1"), \
	BOOL_FIELD("ro", struct conf_mountpoint, ro),                                      \
	BOOL_FIELD("quota", struct conf_mountpoint, quota),                                \
	BOOL_FIELD("replicate", struct conf_mountpoint, replicate),                        \
	BOOL_FIELD("shared", struct conf_mountpoint, shared)

static const struct field rootfs_fields[] = {
	MOUNT_COMMON_FIELDS,
};

static const struct field mp_fields[] = {
	MOUNT_COMMON_FIELDS,
	STRING_FIELD("mp", struct conf_mountpoint, mp, FIELD_REQUIRED, is_mount_path,
	             "a path without /./ or /../, not ending in /. or /.., not starting with ../"),
	BOOL_FIELD("backup", struct conf_mountpoint, backup),
	BOOL_FIELD("keepattrs", struct conf_mountpoint, keepattrs),
};

static const struct field net_fields[] = {
	STRING_FIELD("name", struct conf_net, name, FIELD_REQUIRED, is_net_name,
	             "letters, digits, '-', '_' and '.'"),
	STRING_FIELD("bridge", struct conf_net, bridge, 0, is_net_name,
	             "letters, digits, '-', '_' and '.'"),
	STRING_FIELD("hwaddr", struct conf_net, hwaddr, 0, is_unicast_mac,
	             "a unicast MAC address XX:XX:XX:XX:XX:XX with an even second digit"),
	STRING_FIELD("ip", struct conf_net, ip, 0, is_ipv4_config,
	             "an IPv4 address with prefix length 8-32 (a.b.c.d/N), dhcp or manual"),
	STRING_FIELD("gw", struct conf_net, gw, 0, conf__is_ipv4, "an IPv4 address"),
	STRING_FIELD("ip6", struct conf_net, ip6, 0, is_ipv6_config,
	             "an IPv6 address with prefix length 8-128, auto, dhcp or manual"),
	STRING_FIELD("gw6", struct conf_net, gw6, 0, conf__is_ipv6, "an IPv6 address"),
	INT_FIELD("mtu", struct conf_net, mtu, 64, 65535, "an integer from 64 to 65535"),
	STRING_FIELD("rate", struct conf_net, rate, 0, is_number, "a number (Mbit/s)"),
	INT_FIELD("tag", struct conf_net, tag, 1, 4094, "an integer from 1 to 4094"),
	STRING_FIELD("trunks", struct conf_net, trunks, 0, is_trunks,
	             "a ';'-list of VLAN ids such as 10;20"),
	BOOL_FIELD("firewall", struct conf_net, firewall),
	BOOL_FIELD("link_down", struct conf_net, link_down),
	STRING_FIELD("type", struct conf_net, type, 0, is_veth, "veth"),
	BOOL_FIELD("host-managed", struct conf_net, host_managed),
};

static const struct field dev_fields[] = {
	STRING_FIELD("path", struct conf_dev, path, FIELD_DEFAULT_KEY | FIELD_REQUIRED,
	             is_dev_path, "a path starting with /dev/ without . or .. components"),
	STRING_FIELD("mode", struct conf_dev, mode, 0, is_dev_mode,
	             "an octal mode of 4 digits starting with 0, such as 0660"),
	INT_FIELD("uid", struct conf_dev, uid, 0, INT64_MAX, "an integer >= 0"),
	INT_FIELD("gid", struct conf_dev, gid, 0, INT64_MAX, "an integer >= 0"),
	BOOL_FIELD("deny-write", struct conf_dev, deny_write),
};

static const struct field features_fields[] = {
	STRING_FIELD("mount", struct conf_features, mount, 0, is_fs_type_list,
	             "a ';'-list of file system types (letters, digits, '_' and ' ')"),
	BOOL_FIELD("nesting", struct conf_features, nesting),
	BOOL_FIELD("keyctl", struct conf_features, keyctl),
	BOOL_FIELD("fuse", struct conf_features, fuse),
	BOOL_FIELD("mknod", struct conf_features, mknod),
	BOOL_FIELD("force_rw_sys", struct conf_features, force_rw_sys),
};

static const struct field unused_fields[] = {
	STRING_FIELD("volume", struct conf_unused, volume, FIELD_DEFAULT_KEY | FIELD_REQUIRED,
	             conf__is_volume_id, "a volume id storage:volname"),
};

static void mountpoint_finish(void *object)
{
	struct conf_mountpoint *mp = object;

	mp->volume_type = conf_volume_classify(mp->volume);
}

#define FORMAT(kind_, fields_, type_, finish_)                                             \
	{ .kind = (kind_), .fields = (fields_),                                            \
	  .n_fields = sizeof(fields_) / sizeof((fields_)[0]), .object_size = sizeof(type_), \
	  .finish = (finish_) }

static const struct propstr_format mp_format =
	FORMAT("mp", mp_fields, struct conf_mountpoint, mountpoint_finish);
static const struct propstr_format rootfs_format = {
	.kind = "rootfs",
	.fields = rootfs_fields,
	.n_fields = sizeof(rootfs_fields) / sizeof(rootfs_fields[0]),
	.object_size = sizeof(struct conf_mountpoint),
	.finish = mountpoint_finish,
	.layout = &mp_format,
};
static const struct propstr_format net_format =
	FORMAT("net", net_fields, struct conf_net, NULL);
static const struct propstr_format dev_format =
	FORMAT("dev", dev_fields, struct conf_dev, NULL);
static const struct propstr_format features_format =
	FORMAT("features", features_fields, struct conf_features, NULL);
static const struct propstr_format unused_format =
	FORMAT("unused", unused_fields, struct conf_unused, NULL);

_Static_assert(sizeof(mp_fields) / sizeof(mp_fields[0]) <= MAX_FIELDS, "field sets are masks");
_Static_assert(sizeof(net_fields) / sizeof(net_fields[0]) <= MAX_FIELDS, "field sets are masks");

/* ---- Field access ---- */

static char **string_at(void *object, const struct field *f)
{
	return (char **)(void *)((char *)object + f->offset);
}

static int8_t *bool_at(void *object, const struct field *f)
{
	return (int8_t *)((char *)object + f->offset);
}

static int64_t *int_at(void *object, const struct field *f)
{
	return (int64_t *)(void *)((char *)object + f->offset);
}

static bool field_is_set(const void *object, const struct field *f)
{
	void *o = (void *)(uintptr_t)object;

	switch (f->type) {
	case FIELD_STRING:
		return *string_at(o, f) != NULL;
	case FIELD_BOOL:
		return *bool_at(o, f) != CONF_UNSET;
	case FIELD_INT:
	case FIELD_SIZE:
		return *int_at(o, f) != CONF_UNSET;
	}
	return false;
}

/* Set every field of OBJECT to unset, without freeing anything. */
static void propstr_reset(const struct propstr_format *fmt, void *object)
{
	if (fmt->layout)
		fmt = fmt->layout;
	memset(object, 0, fmt->object_size);

	for (size_t i = 0; i < fmt->n_fields; i++) {
		const struct field *f = &fmt->fields[i];

		if (f->type == FIELD_BOOL)
			*bool_at(object, f) = CONF_UNSET;
		else if (f->type != FIELD_STRING)
			*int_at(object, f) = CONF_UNSET;
	}
}

/* Free the strings of OBJECT and set every field to unset. */
static void propstr_clear(const struct propstr_format *fmt, void *object)
{
	if (fmt->layout)
		fmt = fmt->layout;
	for (size_t i = 0; i < fmt->n_fields; i++) {
		const struct field *f = &fmt->fields[i];

		if (f->type == FIELD_STRING)
			free(*string_at(object, f));
	}
	propstr_reset(fmt, object);
}

static const struct field *field_find(const struct propstr_format *fmt, const char *name)
{
	for (size_t i = 0; i < fmt->n_fields; i++)
		if (strcmp(fmt->fields[i].name, name) == 0)
			return &fmt->fields[i];
	return NULL;
}

static const struct field *default_field(const struct propstr_format *fmt)
{
	for (size_t i = 0; i < fmt->n_fields; i++)
		if (fmt->fields[i].flags & FIELD_DEFAULT_KEY)
			return &fmt->fields[i];
	return NULL;
}

/* ---- Parsing ---- */

static int invalid_value(const struct field *f, const char *text, char *errmsg)
{
	char quoted[CONF__QUOTE_SIZE];

	if (errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE, "invalid value '%s' for '%s': expected %s",
		         conf__quote(text, quoted), f->name, f->allowed);
	return -EINVAL;
}

static int set_string(const struct field *f, const char *text, void *object, char *errmsg)
{
	char *copy;

	if (!f->check(text))
		return invalid_value(f, text, errmsg);
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	*string_at(object, f) = copy;
	return 0;
}

/* Store TEXT, checked, into field F of OBJECT. */
static int field_set(const struct field *f, const char *text, void *object, char *errmsg)
{
	bool flag;
	int64_t number;

	switch (f->type) {
	case FIELD_STRING:
		return set_string(f, text, object, errmsg);
	case FIELD_BOOL:
		if (!conf_bool_parse(text, &flag))
			return invalid_value(f, text, errmsg);
		*bool_at(object, f) = flag;
		return 0;
	case FIELD_INT:
		if (parse_int(text, &number) < 0 || number < f->min || number > f->max)
			return invalid_value(f, text, errmsg);
		*int_at(object, f) = number;
		return 0;
	case FIELD_SIZE:
		if (conf_size_parse(text, &number) < 0)
			return invalid_value(f, text, errmsg);
		*int_at(object, f) = number;
		return 0;
	}
	return -EINVAL;
}

/* Write the names of FMT's keys, comma-separated, into BUF. */
static const char *key_list(const struct propstr_format *fmt, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < fmt->n_fields && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
		                         fmt->fields[i].name);
	return buf;
}

static int unknown_key(const struct propstr_format *fmt, const char *key, char *errmsg)
{
	char quoted[CONF__QUOTE_SIZE], keys[160];

	if (errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE, "unknown key '%s' in %s value: expected one of %s",
		         conf__quote(key, quoted), fmt->kind, key_list(fmt, keys, sizeof(keys)));
	return -EINVAL;
}

static int duplicate_key(const struct field *f, char *errmsg)
{
	if (errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE, "duplicate key '%s'", f->name);
	return -EINVAL;
}

/* A part without '=': the value of the default key. */
static int parse_bare_part(const struct propstr_format *fmt, const char *part, void *object,
                           uint32_t *seen, char *errmsg)
{
	const struct field *f = default_field(fmt);
	char quoted[CONF__QUOTE_SIZE];
	uint32_t bit;

	if (!f) {
		if (errmsg)
			snprintf(errmsg, CONF_ERRMSG_SIZE,
			         "value '%s' has no key, but %s values have no default key: "
			         "write key=value", conf__quote(part, quoted), fmt->kind);
		return -EINVAL;
	}
	bit = 1u << (f - fmt->fields);
	if (*seen & bit)
		return duplicate_key(f, errmsg);
	*seen |= bit;
	return field_set(f, part, object, errmsg);
}

/* One part `key=value` (PART is modified) or a bare default-key value. */
static int parse_part(const struct propstr_format *fmt, char *part, void *object,
                      uint32_t *seen, char *errmsg)
{
	char *equals = strchr(part, '='), quoted[CONF__QUOTE_SIZE];
	const struct field *f;
	uint32_t bit;

	if (!equals)
		return parse_bare_part(fmt, part, object, seen, errmsg);
	if (equals == part || equals[1] == '\0') {
		if (errmsg)
			snprintf(errmsg, CONF_ERRMSG_SIZE, "invalid part '%s': %s",
			         conf__quote(part, quoted),
			         equals == part ? "the key before '=' is missing"
			                        : "the value after '=' is empty");
		return -EINVAL;
	}

	*equals = '\0';
	f = field_find(fmt, part);
	if (!f)
		return unknown_key(fmt, part, errmsg);
	bit = 1u << (f - fmt->fields);
	if (*seen & bit)
		return duplicate_key(f, errmsg);
	*seen |= bit;
	return field_set(f, equals + 1, object, errmsg);
}

static int check_required(const struct propstr_format *fmt, uint32_t seen, char *errmsg)
{
	for (size_t i = 0; i < fmt->n_fields; i++) {
		const struct field *f = &fmt->fields[i];

		if ((f->flags & FIELD_REQUIRED) && !(seen & (1u << i))) {
			if (errmsg)
				snprintf(errmsg, CONF_ERRMSG_SIZE,
				         "missing required key '%s' in %s value", f->name, fmt->kind);
			return -EINVAL;
		}
	}
	return 0;
}

/* Line breaks never occur in a config value; pct rejects them too. */
static int check_line_break(const char *value, char *errmsg)
{
	if (!strpbrk(value, "\r\n"))
		return 0;
	if (errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE, "invalid value: it contains a line break");
	return -EINVAL;
}

static int propstr_parse(const struct propstr_format *fmt, const char *value, void *object,
                         char *errmsg)
{
	uint32_t seen = 0;
	char *copy, *part, *next;
	int rv;

	propstr_reset(fmt, object);
	rv = check_line_break(value, errmsg);
	if (rv < 0)
		return rv;
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;

	/* Parts are split on every ','; blank parts are skipped. */
	for (part = copy; part; part = next) {
		next = strchr(part, ',');
		if (next)
			*next++ = '\0';
		if (is_blank(part))
			continue;
		rv = parse_part(fmt, part, object, &seen, errmsg);
		if (rv < 0)
			goto err_clear;
	}
	rv = check_required(fmt, seen, errmsg);
	if (rv < 0)
		goto err_clear;

	if (fmt->finish)
		fmt->finish(object);
	free(copy);
	return 0;

err_clear:
	propstr_clear(fmt, object);
	free(copy);
	return rv;
}

/* ---- Printing ---- */

/* True when field F of OBJECT contains a value that parses back. */
static bool field_printable(const struct field *f, const void *object)
{
	void *o = (void *)(uintptr_t)object;
	int64_t number;

	switch (f->type) {
	case FIELD_STRING:
		return **string_at(o, f) != '\0' && !strpbrk(*string_at(o, f), ",\r\n") &&
		       f->check(*string_at(o, f));
	case FIELD_BOOL:
		return *bool_at(o, f) == 0 || *bool_at(o, f) == 1;
	case FIELD_INT:
		number = *int_at(o, f);
		return number >= f->min && number <= f->max;
	case FIELD_SIZE:
		return *int_at(o, f) >= 0;
	}
	return false;
}

static int check_printable(const struct propstr_format *fmt, const void *object)
{
	for (size_t i = 0; i < fmt->n_fields; i++) {
		const struct field *f = &fmt->fields[i];

		if (!field_is_set(object, f)) {
			if (f->flags & FIELD_REQUIRED)
				return -EINVAL;
			continue;
		}
		if (!field_printable(f, object))
			return -EINVAL;
	}
	return 0;
}

static void print_field(FILE *stream, const struct field *f, const void *object, bool first)
{
	void *o = (void *)(uintptr_t)object;
	char size[CONF_SIZE_BUFSIZE];
	const char *text;

	if (!first)
		fputc(',', stream);

	/* A bare default-key value with '=' would read back as key=value,
	 * and a blank one would be skipped, so these keep their key (pct
	 * prints them bare and cannot read them back). */
	text = f->type == FIELD_STRING ? *string_at(o, f) : "";
	if (!(f->flags & FIELD_DEFAULT_KEY) || strchr(text, '=') || is_blank(text))
		fprintf(stream, "%s=", f->name);

	switch (f->type) {
	case FIELD_STRING:
		fputs(text, stream);
		break;
	case FIELD_BOOL:
		fputc(*bool_at(o, f) ? '1' : '0', stream);
		break;
	case FIELD_INT:
		fprintf(stream, "%lld", (long long)*int_at(o, f));
		break;
	case FIELD_SIZE:
		conf_size_format(*int_at(o, f), size);
		fputs(size, stream);
		break;
	}
}

/* Fill ORDER with the field indexes of FMT sorted byte-wise by name. */
static void sort_fields(const struct propstr_format *fmt, size_t *order)
{
	for (size_t i = 0; i < fmt->n_fields; i++) {
		size_t j = i;

		while (j > 0 && strcmp(fmt->fields[order[j - 1]].name, fmt->fields[i].name) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

/* pct's order: the default key, then required keys, then the rest; each
 * group sorted. PASS 0, 1 and 2 select those groups. */
static bool in_pass(const struct field *f, int pass)
{
	if (f->flags & FIELD_DEFAULT_KEY)
		return pass == 0;
	if (f->flags & FIELD_REQUIRED)
		return pass == 1;
	return pass == 2;
}

static int propstr_print(const struct propstr_format *fmt, const void *object, char **out)
{
	size_t order[MAX_FIELDS], len;
	bool first = true;
	FILE *stream;

	*out = NULL;
	if (check_printable(fmt, object) < 0)
		return -EINVAL;
	stream = open_memstream(out, &len);
	if (!stream)
		return -ENOMEM;

	sort_fields(fmt, order);
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < fmt->n_fields; i++) {
			const struct field *f = &fmt->fields[order[i]];

			if (!in_pass(f, pass) || !field_is_set(object, f))
				continue;
			print_field(stream, f, object, first);
			first = false;
		}
	}

	if (fclose(stream) != 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* ---- Per-kind entry points ---- */

int conf_rootfs_parse(const char *value, struct conf_mountpoint *out, char *errmsg)
{
	return propstr_parse(&rootfs_format, value, out, errmsg);
}

int conf_rootfs_print(const struct conf_mountpoint *rootfs, char **out)
{
	return propstr_print(&rootfs_format, rootfs, out);
}

int conf_mp_parse(const char *value, struct conf_mountpoint *out, char *errmsg)
{
	return propstr_parse(&mp_format, value, out, errmsg);
}

int conf_mp_print(const struct conf_mountpoint *mp, char **out)
{
	return propstr_print(&mp_format, mp, out);
}

void conf_mountpoint_clear(struct conf_mountpoint *mp)
{
	propstr_clear(&mp_format, mp);
}

int conf_net_parse(const char *value, struct conf_net *out, char *errmsg)
{
	return propstr_parse(&net_format, value, out, errmsg);
}

int conf_net_print(const struct conf_net *net, char **out)
{
	return propstr_print(&net_format, net, out);
}

void conf_net_clear(struct conf_net *net)
{
	propstr_clear(&net_format, net);
}

int conf_dev_parse(const char *value, struct conf_dev *out, char *errmsg)
{
	return propstr_parse(&dev_format, value, out, errmsg);
}

int conf_dev_print(const struct conf_dev *dev, char **out)
{
	return propstr_print(&dev_format, dev, out);
}

void conf_dev_clear(struct conf_dev *dev)
{
	propstr_clear(&dev_format, dev);
}

int conf_features_parse(const char *value, struct conf_features *out, char *errmsg)
{
	return propstr_parse(&features_format, value, out, errmsg);
}

int conf_features_print(const struct conf_features *features, char **out)
{
	return propstr_print(&features_format, features, out);
}

void conf_features_clear(struct conf_features *features)
{
	propstr_clear(&features_format, features);
}

int conf_unused_parse(const char *value, struct conf_unused *out, char *errmsg)
{
	return propstr_parse(&unused_format, value, out, errmsg);
}

int conf_unused_print(const struct conf_unused *unused, char **out)
{
	return propstr_print(&unused_format, unused, out);
}

void conf_unused_clear(struct conf_unused *unused)
{
	propstr_clear(&unused_format, unused);
}

/* ---- startup ---- */

/* One part of a startup value: `N`, `order=N`, `up=N` or `down=N`. */
static int startup_part(const char *part, struct conf_startup *out)
{
	static const struct {
		const char *prefix;
		size_t offset;
	} keys[] = {
		{ "", offsetof(struct conf_startup, order) },
		{ "order=", offsetof(struct conf_startup, order) },
		{ "up=", offsetof(struct conf_startup, up) },
		{ "down=", offsetof(struct conf_startup, down) },
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t len = strlen(keys[i].prefix);
		int64_t *slot = (int64_t *)(void *)((char *)out + keys[i].offset);

		if (strncmp(part, keys[i].prefix, len) != 0 || !consists_of(part + len, DIGITS))
			continue;
		return parse_int(part + len, slot);
	}
	return -EINVAL;
}

static int startup_invalid(const char *value, char *errmsg)
{
	char quoted[CONF__QUOTE_SIZE];

	if (errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE,
		         "invalid value '%s' for 'startup': expected [[order=]N][,up=N][,down=N]",
		         conf__quote(value, quoted));
	return -EINVAL;
}

int conf_startup_parse(const char *value, struct conf_startup *out, char *errmsg)
{
	char *copy, *part, *next;
	int rv = 0;

	conf_startup_clear(out);
	/* pct tests the whole value for Perl truth first, so "0" fails. */
	if (strcmp(value, "0") == 0 || strpbrk(value, "\r\n"))
		return startup_invalid(value, errmsg);
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;

	for (part = copy; part && rv == 0; part = next) {
		next = strchr(part, ',');
		if (next)
			*next++ = '\0';
		if (!is_blank(part))
			rv = startup_part(part, out);
	}
	free(copy);

	if (rv == -ENOMEM || rv == 0)
		return rv;
	conf_startup_clear(out);
	return startup_invalid(value, errmsg);
}

int conf_startup_print(const struct conf_startup *startup, char **out)
{
	const int64_t values[] = { startup->order, startup->up, startup->down };
	const char *const names[] = { "order", "up", "down" };
	size_t len;
	FILE *stream;
	bool first = true;

	*out = NULL;
	for (int i = 0; i < 3; i++)
		if (values[i] < CONF_UNSET)
			return -EINVAL;
	stream = open_memstream(out, &len);
	if (!stream)
		return -ENOMEM;

	for (int i = 0; i < 3; i++) {
		if (values[i] == CONF_UNSET)
			continue;
		fprintf(stream, "%s%s=%lld", first ? "" : ",", names[i], (long long)values[i]);
		first = false;
	}
	if (fclose(stream) != 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

void conf_startup_clear(struct conf_startup *startup)
{
	startup->order = CONF_UNSET;
	startup->up = CONF_UNSET;
	startup->down = CONF_UNSET;
}
