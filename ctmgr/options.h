/*
 * pct-style options of `ctmgr create` and `ctmgr set`.
 *
 * Syntax, as pct reads it (Perl's Getopt::Long with pct's settings):
 * - an option is `-key` or `--key`; its value is the next argument, or
 *   follows '=' (`--memory=512`);
 * - the value of a key that takes one is the next argument even when it
 *   starts with '-' (`-description -x-`);
 * - a boolean option may stand alone, meaning 1 (`--onboot`); the next
 *   argument is its value when it is a boolean spelling (1, 0, yes, no,
 *   on, off, true, false), else it is the next option or a positional
 *   argument;
 * - `-delete` and `-revert` (set only) take a list of keys separated by
 *   ',', ';' or blanks, and may be repeated;
 * - `--` ends the options; other arguments are positional, anywhere:
 *   create takes VMID and OSTEMPLATE, set takes VMID.
 * Unlike Getopt::Long, abbreviations (`--mem`) are not accepted and an
 * option given twice is an error, not a silent override.
 *
 * Every config key is checked with conf_schema_validate() while parsing,
 * so a bad value is reported before anything changes. Values are stored
 * as pct stores them. Booleans become 1/0 and integers lose leading
 * zeros. Nameserver and searchdomain lists are joined with blanks, and
 * tags are sorted, made unique and joined with ';'.
 *
 * Errors are one sentence in ERRMSG (CONF_ERRMSG_SIZE bytes), in pct's
 * words where pct has them ("unknown option", "not enough arguments",
 * "unable to delete required option 'memory'").
 */
#ifndef CTMGR_OPTIONS_H
#define CTMGR_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"

enum ctm_command {
	CTM_COMMAND_CREATE = 1,
	CTM_COMMAND_SET = 2,
};

/* One `key value` pair. */
struct ctm_option {
	char *key;
	char *value;
};

struct ctm_options {
	enum ctm_command command;
	unsigned vmid;
	char *ostemplate;       /* create only */
	struct ctm_option *set; /* config keys to set, in command-line order */
	size_t n_set;
	char **delete; /* set: config keys to delete */
	size_t n_delete;
	char **revert; /* set: pending changes to revert */
	size_t n_revert;
	struct ctm_option *extra; /* the command's own options (storage, start, digest, ...) */
	size_t n_extra;
};

/*
 * Parse ARGV[0..ARGC-1], the arguments after the command name, into OUT
 * (overwritten; the caller clears it with ctm_options_clear() after
 * success; on error it is left cleared).
 * Errors: -EINVAL with ERRMSG naming the option and value, -ENOMEM.
 * -EINVAL covers an unknown option, a missing or invalid value, a wrong
 * number of positional arguments, and a key both set and deleted. It
 * also covers deleting a required or read-only key and set without any
 * change.
 */
int ctm_options_parse(enum ctm_command command, int argc, char *const argv[],
                      struct ctm_options *out, char *errmsg);

/* Free what OPTIONS owns and zero it. */
void ctm_options_clear(struct ctm_options *options);

/* The value of the config key or command option KEY, or NULL. */
const char *ctm_options_get(const struct ctm_options *options, const char *key);

/* True when KEY is a config key of the schema that ctmgr can set. */
bool ctm_options_known_key(const char *key);

/*
 * Apply the sets and deletes of OPTIONS to section S of container
 * OPTIONS->vmid: all of them or, on error, none. Deleting a key that is
 * not set is not an error (pct only warns). The parser lets --delete name
 * a key outside the schema, so that a key the reader could not use can
 * be removed: such a key must be in S. A config with `protection: 1`
 * refuses changes to rootfs, mpN and unusedN with pct's message.
 * Errors: -EPERM protected, -EINVAL an unknown key not in S, -ENOMEM.
 */
int ctm_options_apply(const struct ctm_options *options, struct conf_section *s, char *errmsg);

#endif /* CTMGR_OPTIONS_H */
