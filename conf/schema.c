/*
 * The container config schema: one rule per top-level key, and the rules
 * for raw lxc.* keys. Keys, types, limits and formats are those of
 * pve-container 6.x ($confdesc in src/PVE/LXC/Config.pm).
 *
 * A rule has two levels (see conf/schema.h). The type and the format are
 * checked when a file is read, and enum, range, length and pattern limits
 * only when a value is set.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/propstr.h"
#include "conf/schema.h"

#define DIGITS "0123456789"
#define LETTERS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LIST_SEPARATORS ",; \t\n\r\f\v"
#define ZONE_TAB "/usr/share/zoneinfo/zone.tab"

enum rule_flags {
	RULE_MIN = 1,
	RULE_MAX = 2,
	RULE_OWN_MESSAGE = 4, /* the format's message already names the key */
};

struct key_rule {
	struct conf_key_info info;
	/* Read-time format: a property string parser wrapper, or a predicate
	 * with a text that describes what it accepts. */
	int (*propstr)(const char *value, char *errmsg);
	bool (*format)(const char *value);
	const char *format_text;
	/* Set-time limits. */
	const char *const *choices; /* NULL-terminated */
	unsigned flags;
	double min, max;
	size_t max_length;
	bool (*pattern)(const char *value);
	const char *pattern_text;
};

/* ---- Formats checked when reading ---- */

/* Define NAME(value, errmsg): parse VALUE with PARSE into a TYPE, then
 * free the result with CLEAR. */
#define PROPSTR_CHECK(name, type, parse, clear)                                            \
	static int name(const char *value, char *errmsg)                                   \
	{                                                                                  \
		type parsed;                                                               \
		int rv = parse(value, &parsed, errmsg);                                    \
                                                                                           \
		if (rv == 0)                                                               \
			clear(&parsed);                                                    \
		return rv;                                                                 \
	}

PROPSTR_CHECK(check_rootfs, struct conf_mountpoint, conf_rootfs_parse, conf_mountpoint_clear)
PROPSTR_CHECK(check_mp, struct conf_mountpoint, conf_mp_parse, conf_mountpoint_clear)
PROPSTR_CHECK(check_net, struct conf_net, conf_net_parse, conf_net_clear)
PROPSTR_CHECK(check_dev, struct conf_dev, conf_dev_parse, conf_dev_clear)
PROPSTR_CHECK(check_features, struct conf_features, conf_features_parse, conf_features_clear)
PROPSTR_CHECK(check_unused, struct conf_unused, conf_unused_parse, conf_unused_clear)
PROPSTR_CHECK(check_startup, struct conf_startup, conf_startup_parse, conf_startup_clear)

/* Call IS_ITEM on each item of a list split as pct's split_list does: on
 * ',', ';' and white space; an empty list passes. */
static bool list_all(const char *value, bool (*is_item)(const char *))
{
	char *copy = strdup(value), *item, *save = NULL;
	bool ok = copy != NULL;

	for (item = ok ? strtok_r(copy, LIST_SEPARATORS, &save) : NULL; item && ok;
	     item = strtok_r(NULL, LIST_SEPARATORS, &save))
		ok = is_item(item);
	free(copy);
	return ok;
}

/* An IP address; link-local IPv6 may carry a zone, `fe80::1%eth0`. */
static bool is_nameserver(const char *text)
{
	const char *percent = strchr(text, '%');
	char address[64];
	size_t len;

	if (!percent)
		return conf__is_ipv4(text) || conf__is_ipv6(text);
	len = (size_t)(percent - text);
	if (strncmp(text, "fe80:", 5) != 0 || len >= sizeof(address))
		return false;
	memcpy(address, text, len);
	address[len] = '\0';
	return conf__is_ipv6(address) && conf__is_iface(percent + 1);
}

static bool is_nameserver_list(const char *value)
{
	return list_all(value, is_nameserver);
}

static bool is_dns_name_list(const char *value)
{
	return list_all(value, conf__is_dns_name);
}

/* A tag: `[a-z0-9_][a-z0-9_+.-]*`, any case. */
static bool is_tag(const char *text)
{
	return text[0] != '\0' && strchr(LETTERS DIGITS "_", text[0]) &&
	       text[strspn(text, LETTERS DIGITS "_+.-")] == '\0';
}

static bool is_tag_list(const char *value)
{
	return list_all(value, is_tag);
}

/* A snapshot name: `[a-z][a-z0-9_-]+`, any case. */
static bool is_config_id(const char *text)
{
	if (text[0] == '\0' || !strchr(LETTERS, text[0]) || text[1] == '\0')
		return false;
	return text[strspn(text, LETTERS DIGITS "_-")] == '\0';
}

/* `host`, `UTC`, or a zone name such as Europe/Vienna: parts of letters,
 * digits, '_', '+' and '-', separated by '/'. */
static bool is_timezone_name(const char *text)
{
	static const char part[] = LETTERS DIGITS "_+-";

	if (strcmp(text, "host") == 0)
		return true;
	for (;;) {
		size_t len = strspn(text, part);

		if (len == 0)
			return false;
		if (text[len] == '\0')
			return true;
		if (text[len] != '/')
			return false;
		text += len + 1;
	}
}

static bool is_snapstate(const char *text)
{
	return strcmp(text, "prepare") == 0 || strcmp(text, "delete") == 0;
}

/* ---- Patterns checked when setting ---- */

/* No control characters except TAB. */
static bool is_command_line(const char *text)
{
	for (; *text; text++) {
		unsigned char c = (unsigned char)*text;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/*
 * One `NAME=value` entry, NAME of letters, digits and '_'. pct stores the
 * list NUL-separated, which a C string cannot hold, so callers check each
 * entry on its own.
 */
static bool is_env_entry(const char *text)
{
	size_t len = strspn(text, LETTERS DIGITS "_");

	return len > 0 && text[len] == '=' && is_command_line(text + len + 1);
}

/* `host`, `UTC`, or a zone listed in the third column of zone.tab. When
 * zone.tab is missing only the syntax is checked. */
static bool is_known_timezone(const char *text)
{
	char line[512];
	bool found = false;
	FILE *tab;

	if (strcmp(text, "host") == 0 || strcmp(text, "UTC") == 0)
		return true;
	tab = fopen(ZONE_TAB, "re");
	if (!tab)
		return is_timezone_name(text);

	while (!found && fgets(line, sizeof(line), tab)) {
		char *save = NULL, *column = strtok_r(line, "\t\n", &save);

		for (int i = 0; column && i < 2; i++)
			column = strtok_r(NULL, "\t\n", &save);
		found = line[0] != '#' && column && strcmp(column, text) == 0;
	}
	fclose(tab);
	return found;
}

/* Every item of a pending delete list names a known key. */
static bool is_known_key(const char *text)
{
	return conf_schema_lookup(text[0] == '!' ? text + 1 : text) != NULL;
}

static bool is_delete_list(const char *value)
{
	return list_all(value, is_known_key);
}

/* ---- The table ---- */

static const char *const arch_choices[] = { "amd64", "i386", "arm64", "armhf",
	                                    "riscv32", "riscv64", NULL };
static const char *const cmode_choices[] = { "shell", "console", "tty", NULL };
static const char *const lock_choices[] = { "backup",   "create",  "destroyed", "disk",
	                                    "fstrim",   "migrate", "mounted",   "rollback",
	                                    "snapshot", "snapshot-delete", NULL };
static const char *const ostype_choices[] = { "debian",  "devuan",    "ubuntu", "centos",
	                                      "fedora",  "opensuse",  "archlinux", "alpine",
	                                      "gentoo",  "nixos",     "unmanaged", NULL };
static const char *const snapstate_choices[] = { "prepare", "delete", NULL };

#define INFO(name_, type_, description_)                                                   \
	.info = { .name = (name_), .type = (type_), .description = (description_) }
#define INDEXED_INFO(name_, max_, description_)                                            \
	.info = { .name = (name_), .type = CONF_TYPE_PROPSTR, .max_index = (max_),         \
	          .indexed = true, .description = (description_) }

/* The largest memory and swap limit in MiB: 1 PiB. It keeps the byte
 * count (times 2^20, plus memory and swap added for cgroup v1's memsw)
 * far below 2^64, and is larger than any machine's memory. */
#define SIZE_MIB_MAX 1073741824.0

static const struct key_rule rules[] = {
	{ INFO("arch", CONF_TYPE_ENUM, "OS architecture"), .choices = arch_choices },
	{ INFO("cmode", CONF_TYPE_ENUM, "console mode of pct console"), .choices = cmode_choices },
	{ INFO("console", CONF_TYPE_BOOL, "attach a console device (/dev/console)") },
	{ INFO("cores", CONF_TYPE_INT, "number of CPU cores the container may use"),
	  .flags = RULE_MIN | RULE_MAX, .min = 1, .max = 8192 },
	{ INFO("cpulimit", CONF_TYPE_NUMBER, "CPU time limit in CPUs, 0 for none"),
	  .flags = RULE_MIN | RULE_MAX, .min = 0, .max = 8192 },
	{ INFO("cpuunits", CONF_TYPE_INT, "CPU weight relative to other containers"),
	  .flags = RULE_MIN | RULE_MAX, .min = 0, .max = 500000 },
	{ INFO("debug", CONF_TYPE_BOOL, "start with debug log level") },
	{ INFO("delete", CONF_TYPE_STRING, "keys a pending change deletes, '!' forces"),
	  .pattern = is_delete_list, .pattern_text = "a list of known keys, each optionally prefixed with '!'" },
	{ INFO("description", CONF_TYPE_STRING, "free text, stored as comment lines"),
	  .max_length = 8192 },
	{ INDEXED_INFO("dev", 255, "device passed through to the container"),
	  .propstr = check_dev },
	{ INFO("entrypoint", CONF_TYPE_STRING, "command run as init, /sbin/init by default"),
	  .pattern = is_command_line, .pattern_text = "text without control characters except TAB" },
	{ INFO("env", CONF_TYPE_STRING, "runtime environment of the container"),
	  .pattern = is_env_entry, .pattern_text = "NAME=value, NAME of letters, digits and '_', value without control characters except TAB" },
	{ INFO("features", CONF_TYPE_PROPSTR, "advanced features such as nesting"),
	  .propstr = check_features },
	{ INFO("hookscript", CONF_TYPE_STRING, "script volume run at lifecycle steps"),
	  .format = conf__is_volume_id, .format_text = "a volume id storage:volname" },
	{ INFO("hostname", CONF_TYPE_STRING, "host name of the container"),
	  .format = conf__is_dns_name, .format_text = "a DNS name (labels of letters, digits and inner '-', separated by '.')",
	  .max_length = 255 },
	{ INFO("lock", CONF_TYPE_ENUM, "lock set by a running operation"), .choices = lock_choices },
	{ INFO("memory", CONF_TYPE_INT, "memory limit in MiB"), .flags = RULE_MIN | RULE_MAX,
	  .min = 16, .max = SIZE_MIB_MAX },
	{ INDEXED_INFO("mp", 255, "mount point"), .propstr = check_mp },
	{ INFO("nameserver", CONF_TYPE_STRING, "DNS server addresses"),
	  .format = is_nameserver_list, .format_text = "a list of IP addresses" },
	{ INDEXED_INFO("net", 31, "network interface"), .propstr = check_net },
	{ INFO("onboot", CONF_TYPE_BOOL, "start the container when the node boots") },
	{ INFO("ostype", CONF_TYPE_ENUM, "OS type, selects the guest setup"), .choices = ostype_choices },
	{ INFO("parent", CONF_TYPE_STRING, "name of the parent snapshot"),
	  .format = is_config_id, .format_text = "a snapshot name (a letter, then letters, digits, '_' and '-')",
	  .max_length = 40 },
	{ INFO("protection", CONF_TYPE_BOOL, "forbid removing the container and its disks") },
	{ INFO("rootfs", CONF_TYPE_PROPSTR, "root file system volume"), .propstr = check_rootfs },
	{ INFO("searchdomain", CONF_TYPE_STRING, "DNS search domains"),
	  .format = is_dns_name_list, .format_text = "a list of DNS names" },
	{ INFO("snapstate", CONF_TYPE_ENUM, "state of a snapshot being created or deleted"),
	  .format = is_snapstate, .format_text = "prepare or delete", .choices = snapstate_choices },
	{ INFO("snaptime", CONF_TYPE_INT, "snapshot creation time, seconds since the epoch"),
	  .flags = RULE_MIN, .min = 0 },
	{ INFO("startup", CONF_TYPE_PROPSTR, "boot order and start/stop delays"),
	  .propstr = check_startup, .flags = RULE_OWN_MESSAGE },
	{ INFO("swap", CONF_TYPE_INT, "swap limit in MiB"), .flags = RULE_MIN | RULE_MAX, .min = 0,
	  .max = SIZE_MIB_MAX },
	{ INFO("tags", CONF_TYPE_STRING, "tags, only meta information"),
	  .format = is_tag_list, .format_text = "a list of tags (letters, digits, '_', '+', '.' and '-', not starting with '+', '.' or '-')" },
	{ INFO("template", CONF_TYPE_BOOL, "the container is a template") },
	{ INFO("timezone", CONF_TYPE_STRING, "time zone of the container, or host"),
	  .format = is_timezone_name, .format_text = "host or a time zone name such as Europe/Vienna",
	  .pattern = is_known_timezone, .pattern_text = "host, UTC or a time zone of " ZONE_TAB },
	{ INFO("tty", CONF_TYPE_INT, "number of ttys"), .flags = RULE_MIN | RULE_MAX, .min = 0, .max = 6 },
	{ INFO("unprivileged", CONF_TYPE_BOOL, "run as an unprivileged user namespace") },
	{ INDEXED_INFO("unused", 255, "volume no longer referenced"), .propstr = check_unused },
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

/* ---- Lookup ---- */

/* Split KEY into a name and an index: "mp10" is "mp" and 10. Indexes have
 * no leading zeros ("mp01" is no key). Returns the rule or NULL. */
static const struct key_rule *find_rule(const char *key)
{
	size_t name_len = strcspn(key, DIGITS);
	const char *digits = key + name_len;
	unsigned long index = 0;

	if (*digits != '\0') {
		if (!(digits[strspn(digits, DIGITS)] == '\0') || (digits[0] == '0' && digits[1]) ||
		    strlen(digits) > 3)
			return NULL;
		index = strtoul(digits, NULL, 10);
	}

	for (size_t i = 0; i < N_RULES; i++) {
		const struct conf_key_info *info = &rules[i].info;

		if (strlen(info->name) != name_len || strncmp(info->name, key, name_len) != 0)
			continue;
		if (info->indexed != (*digits != '\0') || index > info->max_index)
			return NULL;
		return &rules[i];
	}
	return NULL;
}

const struct conf_key_info *conf_schema_lookup(const char *key)
{
	const struct key_rule *rule = find_rule(key);

	return rule ? &rule->info : NULL;
}

/* ---- Messages ---- */

static int invalid(const char *key, const char *value, const char *allowed, char *errmsg)
{
	char quoted[CONF__QUOTE_SIZE];

	if (errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE, "invalid value '%s' for '%s': expected %s",
		         conf__quote(value, quoted), key, allowed);
	return -EINVAL;
}

static int unknown_setting(const char *key, char *errmsg)
{
	char quoted[CONF__QUOTE_SIZE];

	if (errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE, "unknown setting '%s'", conf__quote(key, quoted));
	return -ENOENT;
}

/* ---- Read-time checks ---- */

static int check_text(const char *key, const char *value, char *errmsg)
{
	if (value[0] == '\0') {
		if (errmsg)
			snprintf(errmsg, CONF_ERRMSG_SIZE, "missing value for '%s'", key);
		return -EINVAL;
	}
	if (strpbrk(value, "\r\n")) {
		if (errmsg)
			snprintf(errmsg, CONF_ERRMSG_SIZE,
			         "invalid value for '%s': it contains a line break", key);
		return -EINVAL;
	}
	return 0;
}

/* `^\d+(\.\d+)?$`: pct's read-time test for numbers. */
static bool is_plain_number(const char *value)
{
	size_t n_int = strspn(value, DIGITS);

	if (n_int == 0)
		return false;
	if (value[n_int] == '\0')
		return true;
	return value[n_int] == '.' && value[n_int + 1] != '\0' &&
	       value[n_int + 1 + strspn(value + n_int + 1, DIGITS)] == '\0';
}

static int check_type(const struct key_rule *rule, const char *key, const char *value,
                      char *errmsg)
{
	bool flag;

	switch (rule->info.type) {
	case CONF_TYPE_BOOL:
		if (!conf_bool_parse(value, &flag))
			return invalid(key, value, "a boolean (1, 0, on, off, yes, no, true or false)",
			               errmsg);
		return 0;
	case CONF_TYPE_INT:
		if (value[strspn(value, DIGITS)] != '\0')
			return invalid(key, value, "an integer of digits only", errmsg);
		return 0;
	case CONF_TYPE_NUMBER:
		if (!is_plain_number(value))
			return invalid(key, value, "a number of digits with an optional fraction", errmsg);
		return 0;
	default:
		return 0;
	}
}

static int check_format(const struct key_rule *rule, const char *key, const char *value,
                        char *errmsg)
{
	char detail[CONF_ERRMSG_SIZE];
	int rv;

	if (rule->format && !rule->format(value))
		return invalid(key, value, rule->format_text, errmsg);
	if (!rule->propstr)
		return 0;

	detail[0] = '\0';
	rv = rule->propstr(value, detail);
	if (rv == -EINVAL && errmsg && (rule->flags & RULE_OWN_MESSAGE))
		memcpy(errmsg, detail, sizeof(detail));
	else if (rv == -EINVAL && errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE, "%s: %s", key, detail);
	return rv;
}

/* The checks pct runs when it reads KEY: VALUE. */
static int check_read(const struct key_rule *rule, const char *key, const char *value,
                      char *errmsg)
{
	int rv = check_text(key, value, errmsg);

	if (rv == 0)
		rv = check_type(rule, key, value, errmsg);
	if (rv == 0)
		rv = check_format(rule, key, value, errmsg);
	return rv;
}

/* ---- Normalisation ---- */

/* One item of a pending delete list: KEY, forced when it had a '!'. */
struct delete_item {
	const char *key;
	bool force;
};

static int cmp_delete_item(const void *a, const void *b)
{
	return strcmp(((const struct delete_item *)a)->key, ((const struct delete_item *)b)->key);
}

/* Split the delete list in COPY (modified) into ITEMS, one per key: a
 * later mention of a key replaces the earlier one, as pct reads it. */
static size_t split_delete_list(char *copy, struct delete_item *items)
{
	char *save = NULL, *item;
	size_t n = 0;

	for (item = strtok_r(copy, LIST_SEPARATORS, &save); item;
	     item = strtok_r(NULL, LIST_SEPARATORS, &save)) {
		bool force = item[0] == '!';
		size_t i;

		for (i = 0; i < n && strcmp(items[i].key, item + force) != 0; i++)
			;
		items[i].key = item + force;
		items[i].force = force;
		n += i == n;
	}
	return n;
}

/* pct's written form of a pending delete list: sorted, comma-joined. */
static int normalize_delete(const char *value, char **out)
{
	char *copy = strdup(value), *joined = NULL;
	struct delete_item *items = NULL;
	size_t n, len = 0;
	FILE *stream = NULL;

	if (!copy)
		goto err_nomem;
	items = calloc(strlen(value) / 2 + 1, sizeof(*items));
	if (!items)
		goto err_nomem;
	n = split_delete_list(copy, items);
	qsort(items, n, sizeof(*items), cmp_delete_item);

	stream = open_memstream(&joined, &len);
	if (!stream)
		goto err_nomem;
	for (size_t i = 0; i < n; i++)
		fprintf(stream, "%s%s%s", i ? "," : "", items[i].force ? "!" : "", items[i].key);
	if (fclose(stream) != 0)
		goto err_nomem;
	free(items);
	free(copy);
	*out = joined;
	return 0;

err_nomem:
	free(items);
	free(copy);
	return -ENOMEM;
}

/* The canonical text of VALUE, in *OUT (new), or NULL when it is VALUE. */
static int normalize(const struct key_rule *rule, const char *value, char **out)
{
	const char *canonical = NULL;
	bool flag;
	int rv;

	*out = NULL;
	if (rule->info.type == CONF_TYPE_BOOL && conf_bool_parse(value, &flag))
		canonical = flag ? "1" : "0";
	else if (rule->info.type == CONF_TYPE_INT)
		canonical = value + strspn(value, "0") - (value[strspn(value, "0")] == '\0');
	else if (strcmp(rule->info.name, "delete") == 0) {
		/* A list of separators only stays as it is: "" is no value. */
		rv = normalize_delete(value, out);
		if (rv == 0 && (strcmp(*out, value) == 0 || **out == '\0')) {
			free(*out);
			*out = NULL;
		}
		return rv;
	}

	if (!canonical || strcmp(canonical, value) == 0)
		return 0;
	*out = strdup(canonical);
	return *out ? 0 : -ENOMEM;
}

int conf_schema_parse_check(const char *key, const char *value, char **normalized,
                            char *errmsg)
{
	const struct key_rule *rule = find_rule(key);
	int rv;

	*normalized = NULL;
	if (!rule)
		return unknown_setting(key, errmsg);
	rv = check_read(rule, key, value, errmsg);
	if (rv < 0)
		return rv;
	return normalize(rule, value, normalized);
}

/* ---- Set-time limits ---- */

static int check_choices(const struct key_rule *rule, const char *key, const char *value,
                         char *errmsg)
{
	char allowed[160];
	size_t used = 0;

	for (size_t i = 0; rule->choices[i]; i++)
		if (strcmp(rule->choices[i], value) == 0)
			return 0;

	allowed[0] = '\0';
	for (size_t i = 0; rule->choices[i] && used < sizeof(allowed); i++)
		used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s",
		                         i ? ", " : "one of ", rule->choices[i]);
	return invalid(key, value, allowed, errmsg);
}

static int check_range(const struct key_rule *rule, const char *key, const char *value,
                       char *errmsg)
{
	const char *kind = rule->info.type == CONF_TYPE_INT ? "an integer" : "a number";
	double number = strtod(value, NULL);
	char allowed[80];

	if ((!(rule->flags & RULE_MIN) || number >= rule->min) &&
	    (!(rule->flags & RULE_MAX) || number <= rule->max))
		return 0;

	if (rule->flags & RULE_MAX)
		snprintf(allowed, sizeof(allowed), "%s from %.15g to %.15g", kind, rule->min,
		         rule->max);
	else
		snprintf(allowed, sizeof(allowed), "%s >= %.15g", kind, rule->min);
	return invalid(key, value, allowed, errmsg);
}

static int check_length(const struct key_rule *rule, const char *key, const char *value,
                        char *errmsg)
{
	size_t len = strlen(value);

	if (len <= rule->max_length)
		return 0;
	if (errmsg)
		snprintf(errmsg, CONF_ERRMSG_SIZE,
		         "invalid value for '%s': it is %zu bytes long, the maximum is %zu", key, len,
		         rule->max_length);
	return -EINVAL;
}

static int check_limits(const struct key_rule *rule, const char *key, const char *value,
                        char *errmsg)
{
	int rv = 0;

	if (rule->choices)
		rv = check_choices(rule, key, value, errmsg);
	if (rv == 0 && (rule->flags & (RULE_MIN | RULE_MAX)))
		rv = check_range(rule, key, value, errmsg);
	if (rv == 0 && rule->max_length)
		rv = check_length(rule, key, value, errmsg);
	if (rv == 0 && rule->pattern && !rule->pattern(value))
		rv = invalid(key, value, rule->pattern_text, errmsg);
	return rv;
}

int conf_schema_validate(const char *key, const char *value, char *errmsg)
{
	const struct key_rule *rule = find_rule(key);
	int rv;

	if (!rule)
		return unknown_setting(key, errmsg);
	rv = check_read(rule, key, value, errmsg);
	if (rv < 0)
		return rv;
	return check_limits(rule, key, value, errmsg);
}

/* ---- Raw lxc.* keys ---- */

/* The raw keys pct accepts as they are (without the "lxc." prefix). */
static const char *const raw_whitelist[] = {
	"apparmor.profile", "apparmor.allow_incomplete", "apparmor.allow_nesting",
	"apparmor.raw", "selinux.context", "include", "arch", "uts.name", "signal.halt",
	"signal.reboot", "signal.stop", "init.cmd", "init.cwd", "init.uid", "init.gid",
	"init.groups", "pty.max", "console.logfile", "console.path", "tty.max", "devtty.dir",
	"hook.autodev", "autodev", "kmsg", "mount.fstab", "mount.entry", "mount.auto",
	"rootfs.mount", "cap.drop", "cap.keep", "seccomp.profile", "seccomp.notify.proxy",
	"seccomp.notify.cookie", "idmap", "hook.pre-start", "hook.pre-mount", "hook.mount",
	"hook.start", "hook.stop", "hook.post-stop", "hook.clone", "hook.destroy",
	"hook.version", "log.level", "log.file", "start.auto", "start.delay", "start.order",
	"group", "environment", "environment.runtime", "environment.hooks",
	"sysctl.fs.mqueue", "sysctl.kernel.msgmax", "sysctl.kernel.msgmnb",
	"sysctl.kernel.msgmni", "sysctl.kernel.sem", "sysctl.kernel.shmall",
	"sysctl.kernel.shmmax", "sysctl.kernel.shmmni", "sysctl.kernel.shm_rmid_forced",
	NULL,
};

/* LXC 2.x names removed in LXC 3.0, with their replacements. */
static const char *const raw_renamed[][2] = {
	{ "lxc.aa_profile", "lxc.apparmor.profile" },
	{ "lxc.aa_allow_incomplete", "lxc.apparmor.allow_incomplete" },
	{ "lxc.console", "lxc.console.path" },
	{ "lxc.devttydir", "lxc.tty.dir" },
	{ "lxc.haltsignal", "lxc.signal.halt" },
	{ "lxc.rebootsignal", "lxc.signal.reboot" },
	{ "lxc.stopsignal", "lxc.signal.stop" },
	{ "lxc.id_map", "lxc.idmap" },
	{ "lxc.init_cmd", "lxc.init.cmd" },
	{ "lxc.loglevel", "lxc.log.level" },
	{ "lxc.logfile", "lxc.log.file" },
	{ "lxc.mount", "lxc.mount.fstab" },
	{ "lxc.network.type", "lxc.net.INDEX.type" },
	{ "lxc.network.flags", "lxc.net.INDEX.flags" },
	{ "lxc.network.link", "lxc.net.INDEX.link" },
	{ "lxc.network.mtu", "lxc.net.INDEX.mtu" },
	{ "lxc.network.name", "lxc.net.INDEX.name" },
	{ "lxc.network.hwaddr", "lxc.net.INDEX.hwaddr" },
	{ "lxc.network.ipv4", "lxc.net.INDEX.ipv4.address" },
	{ "lxc.network.ipv4.gateway", "lxc.net.INDEX.ipv4.gateway" },
	{ "lxc.network.ipv6", "lxc.net.INDEX.ipv6.address" },
	{ "lxc.network.ipv6.gateway", "lxc.net.INDEX.ipv6.gateway" },
	{ "lxc.network.script.up", "lxc.net.INDEX.script.up" },
	{ "lxc.network.script.down", "lxc.net.INDEX.script.down" },
	{ "lxc.pts", "lxc.pty.max" },
	{ "lxc.se_context", "lxc.selinux.context" },
	{ "lxc.seccomp", "lxc.seccomp.profile" },
	{ "lxc.tty", "lxc.tty.max" },
	{ "lxc.utsname", "lxc.uts.name" },
};

static bool has_prefix(const char *text, const char *prefix)
{
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

static bool in_whitelist(const char *key)
{
	for (size_t i = 0; raw_whitelist[i]; i++)
		if (strcmp(key + 4, raw_whitelist[i]) == 0)
			return true;
	return false;
}

static const char *renamed_to(const char *key)
{
	for (size_t i = 0; i < sizeof(raw_renamed) / sizeof(raw_renamed[0]); i++)
		if (strcmp(key, raw_renamed[i][0]) == 0)
			return raw_renamed[i][1];
	return NULL;
}

/* Keys kept with a warning: LXC 2.x names, lxc.limit.*, lxc.cgroup.*. */
static bool raw_deprecated(const char *key, char *msg)
{
	const char *new_name = renamed_to(key);

	if (has_prefix(key, "lxc.limit."))
		snprintf(msg, CONF_ERRMSG_SIZE,
		         "'%s' is deprecated: lxc.limit.* was renamed to lxc.prlimit.*", key);
	else if (new_name)
		snprintf(msg, CONF_ERRMSG_SIZE, "'%s' is deprecated: it was renamed to '%s'", key,
		         new_name);
	else if (has_prefix(key, "lxc.cgroup.") && !in_whitelist(key))
		snprintf(msg, CONF_ERRMSG_SIZE,
		         "'%s' is deprecated: it is a cgroup v1 key, use lxc.cgroup2.* instead", key);
	else
		return false;
	return true;
}

/* Keys rejected: the rootfs keys pct generates, and unknown keys. */
static bool raw_invalid(const char *key, char *msg)
{
	if (strcmp(key, "lxc.rootfs.path") == 0)
		snprintf(msg, CONF_ERRMSG_SIZE,
		         "'lxc.rootfs.path' is generated from the 'rootfs' key: set rootfs instead");
	else if (strcmp(key, "lxc.rootfs.options") == 0)
		snprintf(msg, CONF_ERRMSG_SIZE,
		         "'lxc.rootfs.options' is not supported: set the mountoptions of rootfs or "
		         "mpN instead");
	else if (in_whitelist(key) || has_prefix(key, "lxc.cgroup2.") ||
	         has_prefix(key, "lxc.prlimit.") || has_prefix(key, "lxc.net."))
		return false;
	else
		snprintf(msg, CONF_ERRMSG_SIZE, "unsupported raw key '%s'", key);
	return true;
}

enum conf_raw_class conf_schema_raw_key(const char *key, char *errmsg)
{
	char msg[CONF_ERRMSG_SIZE] = "", quoted[CONF__QUOTE_SIZE];
	enum conf_raw_class class = CONF_RAW_VALID;

	if (!has_prefix(key, "lxc.") || key[4] == '\0' ||
	    key[strspn(key, "abcdefghijklmnopqrstuvwxyz" DIGITS "_.-")] != '\0') {
		snprintf(msg, sizeof(msg), "'%s' is not a raw key (lxc. followed by a-z, 0-9, '_', "
		         "'.' and '-')", conf__quote(key, quoted));
		class = CONF_RAW_INVALID;
	} else if (raw_deprecated(key, msg)) {
		class = CONF_RAW_DEPRECATED;
	} else if (raw_invalid(key, msg)) {
		class = CONF_RAW_INVALID;
	}

	if (errmsg)
		memcpy(errmsg, msg, sizeof(msg));
	return class;
}
