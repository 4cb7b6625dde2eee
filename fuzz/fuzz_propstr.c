/*
 * libFuzzer target for property strings and the schema checks.
 *
 * The input, cut at its first NUL byte, goes to every property-string
 * parser. A value that parses must print, the print must parse again, and
 * printing that must give the same text; otherwise the target aborts.
 * The input is also checked as the value of every top-level key and
 * classified as a raw lxc.* key, where only memory errors can show up.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/propstr.h"
#include "conf/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One property-string kind, with its parser, printer and clear function
 * adapted to a void pointer. */
struct kind {
	const char *name;
	int (*parse)(const char *value, void *out, char *errmsg);
	int (*print)(const void *object, char **out);
	void (*clear)(void *object);
};

#define KIND(name_, type_, parse_fn, print_fn, clear_fn)                                   \
	static int parse_##name_(const char *value, void *out, char *errmsg)               \
	{                                                                                  \
		return parse_fn(value, (type_ *)out, errmsg);                              \
	}                                                                                  \
	static int print_##name_(const void *object, char **out)                           \
	{                                                                                  \
		return print_fn(object, out);                                              \
	}                                                                                  \
	static void clear_##name_(void *object)                                            \
	{                                                                                  \
		clear_fn(object);                                                          \
	}

KIND(rootfs, struct conf_mountpoint, conf_rootfs_parse, conf_rootfs_print, conf_mountpoint_clear)
KIND(mp, struct conf_mountpoint, conf_mp_parse, conf_mp_print, conf_mountpoint_clear)
KIND(net, struct conf_net, conf_net_parse, conf_net_print, conf_net_clear)
KIND(dev, struct conf_dev, conf_dev_parse, conf_dev_print, conf_dev_clear)
KIND(features, struct conf_features, conf_features_parse, conf_features_print, conf_features_clear)
KIND(unused, struct conf_unused, conf_unused_parse, conf_unused_print, conf_unused_clear)
KIND(startup, struct conf_startup, conf_startup_parse, conf_startup_print, conf_startup_clear)

#define ENTRY(name_) { #name_, parse_##name_, print_##name_, clear_##name_ }

static const struct kind kinds[] = {
	ENTRY(rootfs), ENTRY(mp), ENTRY(net), ENTRY(dev), ENTRY(features), ENTRY(unused), ENTRY(startup),
};

/* Large enough for any of the structs above. */
union object {
	struct conf_mountpoint mountpoint;
	struct conf_net net;
	struct conf_dev dev;
	struct conf_features features;
	struct conf_unused unused;
	struct conf_startup startup;
};

static const char *const keys[] = {
	"arch",     "cmode",      "console",    "cores",   "cpulimit",     "cpuunits",
	"debug",    "delete",     "description", "dev0",   "entrypoint",   "env",
	"features", "hookscript", "hostname",   "lock",    "memory",       "mp0",
	"nameserver", "net0",     "onboot",     "ostype",  "parent",       "protection",
	"rootfs",   "searchdomain", "snapstate", "snaptime", "startup",    "swap",
	"tags",     "template",   "timezone",   "tty",     "unprivileged", "unused0",
};

static void fail(const struct kind *k, const char *step, const char *input, const char *text)
{
	fprintf(stderr, "%s: %s failed\ninput: '%s'\ntext: '%s'\n", k->name, step, input,
	        text ? text : "(none)");
	abort();
}

/* Parse INPUT as kind K; when it parses, check print, re-parse and print. */
static void round_trip(const struct kind *k, const char *input)
{
	char errmsg[CONF_ERRMSG_SIZE];
	char *printed = NULL, *reprinted = NULL;
	union object first, second;
	int rv;

	rv = k->parse(input, &first, errmsg);
	if (rv != 0) {
		if (rv != -EINVAL || strlen(errmsg) == 0)
			fail(k, "error reporting", input, errmsg);
		return;
	}

	if (k->print(&first, &printed) != 0)
		fail(k, "print", input, NULL);
	if (k->parse(printed, &second, errmsg) != 0)
		fail(k, "re-parse", input, printed);
	if (k->print(&second, &reprinted) != 0 || strcmp(printed, reprinted) != 0)
		fail(k, "re-print", printed, reprinted);

	free(printed);
	free(reprinted);
	k->clear(&first);
	k->clear(&second);
}

/* A normalised value passes the same check and normalises to itself. */
static void check_normalized(const char *key, const char *input, const char *normalized)
{
	char errmsg[CONF_ERRMSG_SIZE], *again = NULL;

	if (conf_schema_parse_check(key, normalized, &again, errmsg) != 0 || again != NULL) {
		fprintf(stderr, "%s: normalised value '%s' of '%s' is not canonical\n", key,
		        normalized, input);
		abort();
	}
}

static void check_schema(const char *input)
{
	char errmsg[CONF_ERRMSG_SIZE], *normalized;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		normalized = NULL;
		if (conf_schema_parse_check(keys[i], input, &normalized, errmsg) == 0 && normalized)
			check_normalized(keys[i], input, normalized);
		free(normalized);
		conf_schema_validate(keys[i], input, errmsg);
	}
	conf_schema_lookup(input);
	conf_schema_parse_check(input, "1", &normalized, errmsg);
	free(normalized);
	conf_schema_raw_key(input, errmsg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = malloc(size + 1);

	if (!input)
		return 0;
	memcpy(input, data, size);
	input[size] = '\0';

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		round_trip(&kinds[i], input);
	check_schema(input);

	free(input);
	return 0;
}
