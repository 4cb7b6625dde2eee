/*
 * pct-style option parsing for create and set (see ctmgr/options.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/propstr.h"
#include "conf/schema.h"
#include "ctmgr/ctm_internal.h"
#include "ctmgr/options.h"

#define LIST_SEPARATORS ",; \t"
#define VMID_MIN        100
#define VMID_MAX        999999999UL

enum extra_type {
	EXTRA_BOOL = 1,
	EXTRA_STRING,
	EXTRA_NUMBER,
	EXTRA_STORAGE,
	EXTRA_FORMAT,
	EXTRA_LIST,   /* delete, revert */
	EXTRA_DIGEST, /* 40 hex digits */
};

/* An option of a command that is not a config key. */
struct extra {
	const char *name;
	unsigned commands; /* bits of 1 << enum ctm_command */
	enum extra_type type;
	size_t max_length;
};

#define CREATE (1u << CTM_COMMAND_CREATE)
#define SET    (1u << CTM_COMMAND_SET)

/* The options of pct create and pct set besides the config keys. */
static const struct extra extras[] = {
    {"storage", CREATE, EXTRA_STORAGE, 0},
    {"password", CREATE, EXTRA_STRING, 0},
    {"ssh-public-keys", CREATE, EXTRA_STRING, 0},
    {"restore", CREATE, EXTRA_BOOL, 0},
    {"force", CREATE, EXTRA_BOOL, 0},
    {"unique", CREATE, EXTRA_BOOL, 0},
    {"start", CREATE, EXTRA_BOOL, 0},
    {"ignore-unpack-errors", CREATE, EXTRA_BOOL, 0},
    {"pool", CREATE, EXTRA_STRING, 0},
    {"bwlimit", CREATE, EXTRA_NUMBER, 0},
    {"digest", SET, EXTRA_DIGEST, 0},
    {"delete", SET, EXTRA_LIST, 0},
    {"revert", SET, EXTRA_LIST, 0},
    {"json", CREATE | SET, EXTRA_BOOL, 0},
    {"output-format", CREATE | SET, EXTRA_FORMAT, 0},
};

/* Config keys pct keeps for itself: snapshot bookkeeping and the pending
 * delete list. */
static const char *const internal_keys[] = {"parent", "snaptime", "snapstate", "delete", NULL};

/* Keys a container cannot lose. */
static const char *const required_keys[] = {"memory", "rootfs", "ostype", NULL};

static bool in_list(const char *const *list, const char *key)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], key) == 0)
			return true;
	return false;
}

static const struct extra *find_extra(enum ctm_command command, const char *name)
{
	for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++)
		if (strcmp(extras[i].name, name) == 0 && (extras[i].commands & (1u << command)))
			return &extras[i];
	return NULL;
}

static const struct conf_key_info *find_key(const char *name)
{
	if (in_list(internal_keys, name))
		return NULL;
	return conf_schema_lookup(name);
}

bool ctm_options_known_key(const char *name)
{
	return find_key(name) != NULL;
}

/* True when NAME has the form of a config key, `[a-z][a-z_]*[0-9]*`. */
static bool key_syntax(const char *name)
{
	const char *p = name;

	if (!islower((unsigned char)*p))
		return false;
	while (islower((unsigned char)*p) || *p == '_')
		p++;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0';
}

/* ---- Result ---- */

static void free_pairs(struct ctm_option *pairs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(pairs[i].key);
		free(pairs[i].value);
	}
	free(pairs);
}

static void free_strings(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void ctm_options_clear(struct ctm_options *o)
{
	free(o->ostemplate);
	free_pairs(o->set, o->n_set);
	free_strings(o->delete, o->n_delete);
	free_strings(o->revert, o->n_revert);
	free_pairs(o->extra, o->n_extra);
	memset(o, 0, sizeof(*o));
}

static const char *pair_get(const struct ctm_option *pairs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(pairs[i].key, key) == 0)
			return pairs[i].value;
	return NULL;
}

const char *ctm_options_get(const struct ctm_options *o, const char *key)
{
	const char *value = pair_get(o->set, o->n_set, key);

	return value ? value : pair_get(o->extra, o->n_extra, key);
}

/* Append KEY and VALUE (VALUE owned, freed on error). */
static int pair_add(struct ctm_option **pairs, size_t *n, const char *key, char *value)
{
	if (!value || ctm__grow(pairs, *n, sizeof(**pairs)) < 0)
		goto err_nomem;
	(*pairs)[*n].key = strdup(key);
	if (!(*pairs)[*n].key)
		goto err_nomem;
	(*pairs)[(*n)++].value = value;
	return 0;

err_nomem:
	free(value);
	return -ENOMEM;
}

static int string_add(char ***list, size_t *n, const char *text)
{
	if (ctm__grow(list, *n, sizeof(**list)) < 0)
		return -ENOMEM;
	(*list)[*n] = strdup(text);
	if (!(*list)[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* ---- Values ---- */

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The stored form of a list: its items split on ',', ';' and blanks,
 * joined with JOIN; sorted and without repeats when SORT.
 */
static char *normalize_list(const char *value, const char *join, bool sort)
{
	char *copy = strdup(value), **items = NULL, *item, *save = NULL, *out = NULL;
	size_t n = 0, len = 0;
	FILE *stream;

	if (!copy)
		return NULL;
	items = calloc(strlen(value) / 2 + 1, sizeof(*items));
	if (!items)
		goto out;
	for (item = strtok_r(copy, LIST_SEPARATORS, &save); item;
	     item = strtok_r(NULL, LIST_SEPARATORS, &save))
		items[n++] = item;
	if (sort)
		qsort(items, n, sizeof(*items), compare_strings);

	stream = open_memstream(&out, &len);
	if (!stream)
		goto out;
	for (size_t i = 0, written = 0; i < n; i++) {
		if (sort && i > 0 && strcmp(items[i], items[i - 1]) == 0)
			continue;
		fprintf(stream, "%s%s", written++ ? join : "", items[i]);
	}
	if (fclose(stream) != 0) {
		free(out);
		out = NULL;
	}
out:
	free(items);
	free(copy);
	return out;
}

/* Validate the config key KEY: VALUE and return its stored form. */
static int config_value(const char *key, const char *value, char **out, char *errmsg)
{
	char *normalized = NULL;
	int rv = conf_schema_validate(key, value, errmsg);

	*out = NULL;
	if (rv == -ENOMEM)
		return rv;
	if (rv < 0)
		return -EINVAL;
	rv = conf_schema_parse_check(key, value, &normalized, errmsg);
	if (rv < 0)
		return rv == -ENOMEM ? rv : -EINVAL;

	if (strcmp(key, "nameserver") == 0 || strcmp(key, "searchdomain") == 0)
		*out = normalize_list(value, " ", false);
	else if (strcmp(key, "tags") == 0)
		*out = normalize_list(value, ";", true);
	else
		*out = normalized ? normalized : strdup(value);
	if (*out != normalized)
		free(normalized);
	return *out ? 0 : -ENOMEM;
}

/* A storage id: `[a-z][a-z0-9._-]*[a-z0-9]`, any case. */
static bool is_storage_id(const char *text)
{
	size_t len = strlen(text);

	if (len < 2 || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", text[0]))
		return false;
	if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
	            text[len - 1]))
		return false;
	return text[strspn(text,
	                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] ==
	       '\0';
}

static bool is_number(const char *text)
{
	size_t n = strspn(text, "0123456789");

	if (n == 0)
		return false;
	if (text[n] == '.')
		return text[n + 1] != '\0' &&
		       text[n + 1 + strspn(text + n + 1, "0123456789")] == '\0';
	return text[n] == '\0';
}

static int invalid(const char *key, const char *value, const char *expected, char *errmsg)
{
	return ctm__error(-EINVAL, errmsg, "invalid value '%s' for '%s': expected %s", value, key,
	                  expected);
}

/* Validate the command option X: VALUE and return its stored form. */
static int extra_value(const struct extra *x, const char *value, char **out, char *errmsg)
{
	bool flag;

	*out = NULL;
	switch (x->type) {
	case EXTRA_BOOL:
		if (!conf_bool_parse(value, &flag))
			return invalid(x->name, value,
			               "a boolean (1, 0, on, off, yes, no, true or false)", errmsg);
		*out = strdup(flag ? "1" : "0");
		break;
	case EXTRA_NUMBER:
		if (!is_number(value))
			return invalid(x->name, value, "a number >= 0", errmsg);
		*out = strdup(value);
		break;
	case EXTRA_STORAGE:
		if (!is_storage_id(value))
			return invalid(x->name, value,
			               "a storage id (a letter, then letters, digits, "
			               "'.', '_' or '-')",
			               errmsg);
		*out = strdup(value);
		break;
	case EXTRA_DIGEST:
		if (strlen(value) != 40 || value[strspn(value, "0123456789abcdefABCDEF")] != '\0')
			return invalid(x->name, value,
			               "the 40 hex digits of the config's SHA-1 digest",
			               errmsg);
		*out = strdup(value);
		break;
	case EXTRA_FORMAT:
		if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0 &&
		    strcmp(value, "json-pretty") != 0 && strcmp(value, "yaml") != 0)
			return invalid(x->name, value, "one of text, json, json-pretty, yaml",
			               errmsg);
		*out = strdup(value);
		break;
	default:
		if (value[0] == '\0')
			return ctm__error(-EINVAL, errmsg, "missing value for '%s'", x->name);
		if (x->max_length && strlen(value) > x->max_length)
			return ctm__error(-EINVAL, errmsg,
			                  "invalid value for '%s': it is %zu bytes long, "
			                  "the maximum is %zu",
			                  x->name, strlen(value), x->max_length);
		*out = strdup(value);
		break;
	}
	return *out ? 0 : -ENOMEM;
}

/* ---- Parsing ---- */

struct parse_state {
	enum ctm_command command;
	struct ctm_options *o;
	char **positional;
	size_t n_positional;
	char *errmsg;
};

static bool given_before(const struct ctm_options *o, const char *name)
{
	return pair_get(o->set, o->n_set, name) || pair_get(o->extra, o->n_extra, name);
}

/* Add the keys of the list VALUE to *LIST (delete or revert). */
static int add_list(struct parse_state *st, const char *option, const char *value, char ***list,
                    size_t *n)
{
	char *copy = strdup(value), *item, *save = NULL;
	int rv = copy ? 0 : -ENOMEM;

	for (item = copy ? strtok_r(copy, LIST_SEPARATORS, &save) : NULL; item && rv == 0;
	     item = strtok_r(NULL, LIST_SEPARATORS, &save)) {
		bool dup = false;

		/* An unknown key may still be in the config or in its pending
		 * delete list: set decides. */
		bool deletable = (strcmp(option, "delete") == 0 || strcmp(option, "revert") == 0) &&
		                 key_syntax(item) && !in_list(internal_keys, item);

		if (!find_key(item) && !deletable) {
			rv = ctm__error(-EINVAL, st->errmsg, "%s: unknown option '%s'", option,
			                item);
			break;
		}
		for (size_t i = 0; i < *n; i++)
			dup = dup || strcmp((*list)[i], item) == 0;
		if (!dup)
			rv = string_add(list, n, item);
	}
	if (rv == 0 && copy && !strpbrk(copy, "abcdefghijklmnopqrstuvwxyz0123456789"))
		rv = ctm__error(-EINVAL, st->errmsg, "missing value for '%s'", option);
	free(copy);
	return rv;
}

/* Store option NAME with VALUE. */
/* Whether TEXT is the volume STORAGE:FOLDER/FILE with FILE a name right in
 * FOLDER, as pct's names of snippets and templates are. */
static bool is_folder_volume(const char *text, const char *folder)
{
	const char *colon = strchr(text, ':'), *file;
	size_t n = strlen(folder);

	if (!colon || colon == text || strncmp(colon + 1, folder, n) || colon[1 + n] != '/')
		return false;
	file = colon + 2 + n;
	return *file && !strchr(file, '/') && strcmp(file, ".") && strcmp(file, "..");
}

static int store_option(struct parse_state *st, const char *name, const char *value)
{
	const struct extra *x = find_extra(st->command, name);
	struct ctm_options *o = st->o;
	char *stored = NULL;
	int rv;

	if (x && x->type == EXTRA_LIST)
		return strcmp(name, "delete") == 0
		           ? add_list(st, name, value, &o->delete, &o->n_delete)
		           : add_list(st, name, value, &o->revert, &o->n_revert);
	if (given_before(o, name))
		return ctm__error(-EINVAL, st->errmsg, "option '-%s' is given twice: give it once",
		                  name);
	if (x) {
		rv = extra_value(x, value, &stored, st->errmsg);
		return rv < 0 ? rv : pair_add(&o->extra, &o->n_extra, name, stored);
	}
	if (st->command == CTM_COMMAND_SET && strcmp(name, "unprivileged") == 0)
		return ctm__error(-EINVAL, st->errmsg, "unable to modify read-only option: '%s'",
		                  name);
	rv = config_value(name, value, &stored, st->errmsg);
	if (rv == 0 && !strcmp(name, "hookscript") && *stored &&
	    !is_folder_volume(stored, "snippets")) {
		rv = ctm__error(-EINVAL, st->errmsg,
		                "invalid value '%s' for 'hookscript': expected a volume "
		                "STORAGE:snippets/FILE, with FILE a file right in the snippets folder",
		                stored);
		free(stored);
	}
	return rv < 0 ? rv : pair_add(&o->set, &o->n_set, name, stored);
}

/* Is NAME an option that may stand without a value? */
static bool is_boolean_option(enum ctm_command command, const char *name)
{
	const struct extra *x = find_extra(command, name);
	const struct conf_key_info *info = x ? NULL : find_key(name);

	return (x && x->type == EXTRA_BOOL) || (info && info->type == CONF_TYPE_BOOL);
}

/* Parse the option in ARGV[*I]; advances *I past a separate value. */
static int parse_option(struct parse_state *st, int argc, char *const argv[], int *i)
{
	const char *arg = argv[*i], *name = arg + (arg[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
	bool flag;
	char buf[128];
	const char *value;

	if ((size_t)(eq ? eq - name : (ptrdiff_t)strlen(name)) >= sizeof(buf))
		return ctm__error(-EINVAL, st->errmsg, "unknown option '%.40s...'", arg);
	snprintf(buf, sizeof(buf), "%.*s", (int)(eq ? eq - name : (ptrdiff_t)strlen(name)), name);

	if (!find_extra(st->command, buf) && !find_key(buf))
		return ctm__error(-EINVAL, st->errmsg,
		                  "unknown option '%s': see the options of "
		                  "'ctmgr %s'",
		                  arg, st->command == CTM_COMMAND_SET ? "set" : "create");

	if (eq) {
		value = eq + 1;
	} else if (is_boolean_option(st->command, buf)) {
		/* A boolean takes the next argument when it is a boolean
		 * spelling. pct takes any argument but an option, and then
		 * fails on `--unprivileged local:vztmpl/...`. */
		if (*i + 1 < argc && conf_bool_parse(argv[*i + 1], &flag))
			value = argv[++*i];
		else
			value = "1";
	} else if (*i + 1 < argc) {
		value = argv[++*i];
	} else {
		return ctm__error(-EINVAL, st->errmsg, "option '-%s' requires a value", buf);
	}
	return store_option(st, buf, value);
}

static int parse_vmid(struct parse_state *st, const char *text)
{
	char *end;
	unsigned long vmid = strtoul(text, &end, 10);

	if (text[0] < '0' || text[0] > '9' || *end != '\0' || vmid < VMID_MIN || vmid > VMID_MAX)
		return invalid("vmid", text, "an integer from 100 to 999999999", st->errmsg);
	st->o->vmid = (unsigned)vmid;
	return 0;
}

static int parse_positional(struct parse_state *st)
{
	size_t expected = st->command == CTM_COMMAND_CREATE ? 2 : 1;
	int rv;

	if (st->n_positional < expected)
		return ctm__error(-EINVAL, st->errmsg, "not enough arguments: expected %s",
		                  expected == 2 ? "VMID and OSTEMPLATE" : "VMID");
	if (st->n_positional > expected)
		return ctm__error(-EINVAL, st->errmsg,
		                  "too many arguments: '%s' is neither an option "
		                  "nor expected",
		                  st->positional[expected]);
	rv = parse_vmid(st, st->positional[0]);
	if (rv == 0 && expected == 2) {
		if (st->positional[1][0] == '\0')
			return ctm__error(-EINVAL, st->errmsg, "missing value for 'ostemplate'");
		/* A relative path would depend on the folder ctmgr runs in. */
		if (st->positional[1][0] != '/' && !strchr(st->positional[1], ':'))
			return ctm__error(-EINVAL, st->errmsg,
			                  "invalid template '%s': give a template volume "
			                  "STORAGE:vztmpl/FILE or an absolute path",
			                  st->positional[1]);
		if (st->positional[1][0] != '/' && !is_folder_volume(st->positional[1], "vztmpl"))
			return ctm__error(-EINVAL, st->errmsg,
			                  "invalid template '%s': a template is a volume "
			                  "STORAGE:vztmpl/FILE, with FILE a file right in the "
			                  "template folder, or an absolute path",
			                  st->positional[1]);
		st->o->ostemplate = strdup(st->positional[1]);
		if (!st->o->ostemplate)
			return -ENOMEM;
	}
	return rv;
}

/* The rules that look at several options together. */
static int check_combinations(struct parse_state *st)
{
	const struct ctm_options *o = st->o;

	for (size_t i = 0; i < o->n_delete; i++) {
		const char *key = o->delete[i];

		if (pair_get(o->set, o->n_set, key))
			return ctm__error(-EINVAL, st->errmsg,
			                  "you can't use '-%s' and '-delete %s' at "
			                  "the same time",
			                  key, key);
		for (size_t j = 0; j < o->n_revert; j++)
			if (strcmp(o->revert[j], key) == 0)
				return ctm__error(-EINVAL, st->errmsg,
				                  "you can't use '-delete %s' and "
				                  "'-revert %s' at the same time",
				                  key, key);
		if (in_list(required_keys, key))
			return ctm__error(-EINVAL, st->errmsg,
			                  "unable to delete required option '%s'", key);
		if (strcmp(key, "unprivileged") == 0)
			return ctm__error(-EINVAL, st->errmsg,
			                  "unable to delete read-only option: '%s'", key);
	}
	for (size_t j = 0; j < o->n_revert; j++)
		if (pair_get(o->set, o->n_set, o->revert[j]))
			return ctm__error(-EINVAL, st->errmsg,
			                  "you can't use '-%s' and '-revert %s' at "
			                  "the same time",
			                  o->revert[j], o->revert[j]);
	if (st->command == CTM_COMMAND_SET && o->n_set == 0 && o->n_delete == 0 && o->n_revert == 0)
		return ctm__error(-EINVAL, st->errmsg, "no options specified");
	return 0;
}

int ctm_options_parse(enum ctm_command command, int argc, char *const argv[],
                      struct ctm_options *out, char *errmsg)
{
	struct parse_state st = {.command = command, .o = out, .errmsg = errmsg};
	bool options_done = false;
	int rv = 0;

	memset(out, 0, sizeof(*out));
	out->command = command;
	if (command != CTM_COMMAND_CREATE && command != CTM_COMMAND_SET)
		return ctm__error(-EINVAL, errmsg, "unknown command %d", (int)command);
	st.positional = calloc((size_t)argc + 1, sizeof(*st.positional));
	if (!st.positional)
		return -ENOMEM;

	for (int i = 0; i < argc && rv == 0; i++) {
		const char *arg = argv[i];

		if (!options_done && strcmp(arg, "--") == 0)
			options_done = true;
		else if (!options_done && arg[0] == '-' && arg[1] != '\0' &&
		         !(arg[1] == '-' && arg[2] == '\0'))
			rv = parse_option(&st, argc, argv, &i);
		else
			st.positional[st.n_positional++] = argv[i];
	}
	if (rv == 0)
		rv = parse_positional(&st);
	if (rv == 0)
		rv = check_combinations(&st);
	free(st.positional);
	if (rv < 0) {
		if (rv == -ENOMEM)
			ctm__error(rv, errmsg, "out of memory while parsing the options");
		ctm_options_clear(out);
		out->command = command;
	}
	return rv;
}

/* ---- Applying ---- */

static bool is_drive_key(const char *key)
{
	return strcmp(key, "rootfs") == 0 ||
	       (strncmp(key, "mp", 2) == 0 && key[2] >= '0' && key[2] <= '9') ||
	       strncmp(key, "unused", 6) == 0;
}

static int check_protection(const struct ctm_options *o, const struct conf_section *s, char *errmsg)
{
	const char *protection = conf_get(s, "protection");
	bool on = false;

	if (!protection || !conf_bool_parse(protection, &on) || !on)
		return 0;
	for (size_t i = 0; i < o->n_set; i++)
		if (is_drive_key(o->set[i].key) && conf_get(s, o->set[i].key))
			return ctm__error(-EPERM, errmsg,
			                  "can't update CT %u drive '%s': the container "
			                  "is protected (protection: 1)",
			                  o->vmid, o->set[i].key);
	for (size_t i = 0; i < o->n_delete; i++)
		if (is_drive_key(o->delete[i]) && conf_get(s, o->delete[i]))
			return ctm__error(-EPERM, errmsg,
			                  "can't remove CT %u drive '%s': the container "
			                  "is protected (protection: 1)",
			                  o->vmid, o->delete[i]);
	return 0;
}

/* Remove the raw entries KEY of S. */
static void remove_raw(struct conf_section *s, const char *key)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->n_raw; i++) {
		if (strcmp(s->raw[i].key, key) == 0) {
			free(s->raw[i].key);
			free(s->raw[i].value);
		} else {
			s->raw[kept++] = s->raw[i];
		}
	}
	s->n_raw = kept;
}

/*
 * Set KEY to VALUE in S, or delete KEY when VALUE is NULL. The config
 * model keeps two keys elsewhere, as pct writes them: the description as
 * `#` lines, and env as `lxc.environment.runtime` entries.
 */
static int change_key(struct conf_section *s, const char *key, const char *value)
{
	char *text;
	int rv;

	if (strcmp(key, "description") == 0) {
		text = value ? ctm__printf("%s\n", value) : NULL;
		if (value && !text)
			return -ENOMEM;
		rv = conf_set_description(s, text);
		free(text);
		return rv;
	}
	if (strcmp(key, "env") == 0) {
		remove_raw(s, "lxc.environment.runtime");
		return value ? conf_raw_add(s, "lxc.environment.runtime", value) : 0;
	}
	if (!value) {
		rv = conf_delete(s, key);
		return rv == -ENOENT ? 0 : rv;
	}
	return conf_set(s, key, value);
}

int ctm_options_apply(const struct ctm_options *o, struct conf_section *s, char *errmsg)
{
	struct conf_section copy = {.kind = s->kind}, old;
	int rv = check_protection(o, s, errmsg);

	if (rv < 0)
		return rv;
	for (size_t i = 0; i < o->n_delete; i++)
		if (!find_key(o->delete[i]) && !conf_get(s, o->delete[i]))
			return ctm__error(-EINVAL, errmsg,
			                  "delete: unknown option '%s', and the config of CT %u "
			                  "has no such key: check the name with ctmgr config %u",
			                  o->delete[i], o->vmid, o->vmid);

	/* Work on a copy and swap it in only when every change is made. */
	rv = conf_section_copy_contents(&copy, s);
	for (size_t i = 0; rv == 0 && i < o->n_set; i++)
		rv = change_key(&copy, o->set[i].key, o->set[i].value);
	for (size_t i = 0; rv == 0 && i < o->n_delete; i++)
		rv = change_key(&copy, o->delete[i], NULL);
	if (rv < 0) {
		conf_section_clear(&copy);
		return ctm__error(rv, errmsg, "out of memory while changing the config");
	}

	old = *s;
	*s = copy;
	s->kind = old.kind;
	s->name = old.name;
	s->line = old.line;
	conf_section_clear(&old);
	return 0;
}
