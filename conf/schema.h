/*
 * The container config schema: every top-level key pct accepts, with its
 * type and limits, and the rules for raw `lxc.*` keys.
 *
 * Two levels of checking, as pct has them:
 * - conf_schema_parse_check() is what pct checks when it reads a file:
 *   the key must exist, the value must have the key's type (bool, integer,
 *   number) and property strings and formatted strings must parse. Enum,
 *   range, length and pattern limits of top-level keys are not checked.
 * - conf_schema_validate() is the strict check for values being set: the
 *   parse check plus every enum, range, length and pattern.
 *
 * Errors fill ERRMSG (CONF_ERRMSG_SIZE bytes) with one sentence that names
 * the key, the value and what is allowed.
 */
#ifndef CONF_SCHEMA_H
#define CONF_SCHEMA_H

#include "conf/conf.h"

enum conf_type {
	CONF_TYPE_BOOL = 1,
	CONF_TYPE_INT,
	CONF_TYPE_NUMBER,
	CONF_TYPE_STRING,
	CONF_TYPE_ENUM,
	CONF_TYPE_PROPSTR,
};

/* The schema entry of one key (indexed keys such as mp0..mp255
 * share one entry, named by their prefix, e.g. "mp"). */
struct conf_key_info {
	const char *name;
	enum conf_type type;
	unsigned max_index;     /* for indexed keys: highest N; 0 otherwise */
	bool indexed;
	const char *description; /* one line, for help text */
};

/* The schema entry for KEY (e.g. "memory", "mp10"), or NULL if unknown. */
const struct conf_key_info *conf_schema_lookup(const char *key);

/*
 * Check KEY: VALUE as pct does when it reads a config.
 * On success *NORMALIZED is a new string when the value reads differently
 * in canonical form (booleans become 1/0, "007" becomes 7), else NULL;
 * the caller frees it.
 * Errors: -ENOENT unknown key ("unknown setting 'KEY'"), -EINVAL the value
 * fails its type or format, -ENOMEM.
 */
int conf_schema_parse_check(const char *key, const char *value, char **normalized,
                            char *errmsg);

/*
 * Strictly validate KEY: VALUE for setting: type, format, enum, range,
 * length and pattern.
 * Errors: -ENOENT unknown key, -EINVAL invalid value, -ENOMEM.
 */
int conf_schema_validate(const char *key, const char *value, char *errmsg);

enum conf_raw_class {
	CONF_RAW_VALID = 0,      /* whitelisted, or lxc.cgroup2.*, lxc.prlimit.*, lxc.net.* */
	CONF_RAW_DEPRECATED = 1, /* kept with a warning: lxc 2.x names, lxc.cgroup.*, lxc.limit.* */
	CONF_RAW_INVALID = 2,    /* rejected: an error, ERRMSG gives the reason */
};

/* Classify the raw key KEY (starting with "lxc."), as pct does. */
enum conf_raw_class conf_schema_raw_key(const char *key, char *errmsg);

#endif /* CONF_SCHEMA_H */
