/*
 * ctconf: check, format and show container config files.
 *
 *   ctconf check FILE...   report problems as FILE:LINE: error|warning: TEXT
 *   ctconf format FILE     print the canonical text
 *   ctconf json FILE       print the parsed structure as JSON
 *
 * Exit codes: 0 success (warnings alone included), 1 a file has an error,
 * 2 usage, 3 a file was not found, 6 permission denied.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exit_code.h"
#include "conf/conf.h"

static const char usage_text[] =
	"Usage: ctconf [--json | --output-format json] COMMAND FILE...\n"
	"\n"
	"Commands:\n"
	"  check FILE...   report every problem as FILE:LINE: error|warning: TEXT;\n"
	"                  exit 1 when a file has an error (warnings alone exit 0)\n"
	"  format FILE     print the config in pct's canonical form\n"
	"  json FILE       print the parsed config as JSON\n"
	"\n"
	"Options:\n"
	"  --json, --output-format json   machine-readable output (check, format)\n"
	"  -h, --help                     show this help\n";

static bool json_output;

/* Read PATH; on failure print the reason and return the exit code. */
static int load(const char *path, struct conf_file **cf)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	int rv = conf_read_file(path, cf, errmsg);

	if (rv == 0)
		return EXIT_OK;
	fprintf(stderr, "ctconf: %s\n", errmsg[0] != '\0' ? errmsg : strerror(-rv));
	return pmx_exit_code(rv);
}

static const char *severity_name(enum conf_severity severity)
{
	return severity == CONF_ERROR ? "error" : "warning";
}

static void print_diags_text(FILE *out, const struct conf_file *cf, const char *path)
{
	for (size_t i = 0; i < cf->n_diags; i++)
		fprintf(out, "%s:%u: %s: %s\n", path, cf->diags[i].line,
		        severity_name(cf->diags[i].severity), cf->diags[i].text);
}

static void add_diags_json(json_object *list, const struct conf_file *cf, const char *path)
{
	for (size_t i = 0; i < cf->n_diags; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "file", json_object_new_string(path));
		json_object_object_add(d, "line", json_object_new_int64(cf->diags[i].line));
		json_object_object_add(d, "severity",
		                       json_object_new_string(severity_name(cf->diags[i].severity)));
		json_object_object_add(d, "message", json_object_new_string(cf->diags[i].text));
		json_object_array_add(list, d);
	}
}

static void print_json(json_object *obj)
{
	puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
	                                             JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int cmd_check(int argc, char **argv)
{
	json_object *list = json_output ? json_object_new_array() : NULL;
	int worst = EXIT_OK;

	for (int i = 0; i < argc; i++) {
		struct conf_file *cf = NULL;
		int rv = load(argv[i], &cf);

		if (rv != EXIT_OK) {
			worst = worst == EXIT_OK || worst == EXIT_ERROR ? rv : worst;
			continue;
		}
		if (list != NULL)
			add_diags_json(list, cf, argv[i]);
		else
			print_diags_text(stdout, cf, argv[i]);
		if (cf->n_errors > 0 && worst == EXIT_OK)
			worst = EXIT_ERROR;
		conf_file_free(cf);
	}

	if (list != NULL) {
		print_json(list);
		json_object_put(list);
	}
	return worst;
}

static int cmd_format(const char *path)
{
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;
	char *text = NULL;
	size_t len = 0;
	int rv = load(path, &cf);

	if (rv != EXIT_OK)
		return rv;
	print_diags_text(stderr, cf, path);

	if (conf_write(cf, &text, &len, errmsg) != 0) {
		fprintf(stderr, "ctconf: cannot format %s: %s\n", path, errmsg);
		rv = EXIT_ERROR;
	} else if (json_output) {
		json_object *obj = json_object_new_object();

		json_object_object_add(obj, "text", json_object_new_string_len(text, (int)len));
		print_json(obj);
		json_object_put(obj);
	} else {
		fwrite(text, 1, len, stdout);
	}
	if (rv == EXIT_OK && cf->n_errors > 0)
		rv = EXIT_ERROR;
	free(text);
	conf_file_free(cf);
	return rv;
}

static const char *kind_name(enum conf_section_kind kind)
{
	switch (kind) {
	case CONF_SECTION_PENDING:
		return "pending";
	case CONF_SECTION_SNAPSHOT:
		return "snapshot";
	default:
		return "main";
	}
}

static json_object *entries_json(const struct conf_entry *e, size_t n, bool as_pairs)
{
	json_object *obj = as_pairs ? json_object_new_array() : json_object_new_object();

	for (size_t i = 0; i < n; i++) {
		if (as_pairs) {
			json_object *pair = json_object_new_array();

			json_object_array_add(pair, json_object_new_string(e[i].key));
			json_object_array_add(pair, json_object_new_string(e[i].value));
			json_object_array_add(obj, pair);
		} else {
			json_object_object_add(obj, e[i].key, json_object_new_string(e[i].value));
		}
	}
	return obj;
}

static json_object *section_json(const struct conf_section *s)
{
	json_object *obj = json_object_new_object();
	json_object *verbatim = json_object_new_array();

	json_object_object_add(obj, "kind", json_object_new_string(kind_name(s->kind)));
	json_object_object_add(obj, "name", s->name != NULL ? json_object_new_string(s->name) : NULL);
	json_object_object_add(obj, "description",
	                       s->description != NULL ? json_object_new_string(s->description) : NULL);
	json_object_object_add(obj, "keys", entries_json(s->keys, s->n_keys, false));
	json_object_object_add(obj, "lxc", entries_json(s->raw, s->n_raw, true));
	for (size_t i = 0; i < s->n_verbatim; i++) {
		json_object *v = json_object_new_object();

		json_object_object_add(v, "line", json_object_new_int64(s->verbatim[i].line));
		json_object_object_add(v, "text", json_object_new_string(s->verbatim[i].text));
		json_object_object_add(v, "shadowed", json_object_new_boolean(s->verbatim[i].shadowed));
		json_object_array_add(verbatim, v);
	}
	json_object_object_add(obj, "verbatim", verbatim);
	return obj;
}

static int cmd_json(const char *path)
{
	struct conf_file *cf = NULL;
	json_object *root, *sections, *diags;
	int rv = load(path, &cf);

	if (rv != EXIT_OK)
		return rv;

	root = json_object_new_object();
	sections = json_object_new_array();
	diags = json_object_new_array();
	for (size_t i = 0; i < cf->n_sections; i++)
		json_object_array_add(sections, section_json(&cf->sections[i]));
	add_diags_json(diags, cf, path);
	json_object_object_add(root, "path", json_object_new_string(path));
	json_object_object_add(root, "sections", sections);
	json_object_object_add(root, "diagnostics", diags);
	print_json(root);

	json_object_put(root);
	rv = cf->n_errors > 0 ? EXIT_ERROR : EXIT_OK;
	conf_file_free(cf);
	return rv;
}

/* Print "ctconf: MESSAGE" and the pointer to --help; return the usage code. */
static int usage_error(const char *message)
{
	fprintf(stderr, "ctconf: %s\nRun 'ctconf --help' for usage.\n", message);
	return EXIT_USAGE;
}

/* As usage_error(), for a message about the given VALUE. */
static int usage_error_value(const char *what, const char *value, const char *hint)
{
	fprintf(stderr, "ctconf: %s '%s': %s\nRun 'ctconf --help' for usage.\n", what, value, hint);
	return EXIT_USAGE;
}

/* Parse the options; returns -1 to go on, else the exit code. */
static int parse_options(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "output-format", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			json_output = true;
			break;
		case 'o':
			if (strcmp(optarg, "json") == 0 || strcmp(optarg, "json-pretty") == 0)
				json_output = true;
			else if (strcmp(optarg, "text") != 0)
				return usage_error_value("invalid --output-format", optarg,
				                         "use text or json");
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			return usage_error("invalid option");
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *command;
	int rv = parse_options(argc, argv);

	if (rv >= 0)
		return rv;
	if (optind >= argc)
		return usage_error("missing command: use check, format or json");

	command = argv[optind++];
	argc -= optind;
	argv += optind;
	if (strcmp(command, "check") == 0) {
		if (argc < 1)
			return usage_error("check needs at least one FILE");
		return cmd_check(argc, argv);
	}
	if (strcmp(command, "format") != 0 && strcmp(command, "json") != 0)
		return usage_error_value("unknown command", command, "use check, format or json");
	if (argc != 1)
		return usage_error(strcmp(command, "format") == 0 ? "format needs exactly one FILE"
		                                                  : "json needs exactly one FILE");
	return strcmp(command, "format") == 0 ? cmd_format(argv[0]) : cmd_json(argv[0]);
}
