/* ctlockctl: set, clear and check the lock property of a container
 * config in the pmxfs store, from any node. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/exit_code.h"
#include "lock/ctlock.h"

static void usage(FILE *out)
{
	fputs("Usage: ctlockctl [--json] COMMAND CTID [ARGS]\n"
	      "Commands:\n"
	      "  set CTID VALUE [--expect VALUE | --expect-none]\n"
	      "        set the lock; by default only when no lock is set\n"
	      "  clear CTID [--expect VALUE]\n"
	      "        clear the lock VALUE, or any lock without --expect\n"
	      "  check CTID\n"
	      "        exit 4 with \"CT is locked (VALUE)\" when a lock is set\n"
	      "Lock values: backup create destroyed disk fstrim migrate mounted rollback\n"
	      "             snapshot snapshot-delete\n"
	      "Options:\n"
	      "  --json, --output-format json   print the config's lock state as JSON\n"
	      "The pmxfs service is $PMXFS_SERVICE, else \"pmxfs\".\n"
	      "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict or locked,\n"
	      "5 not quorate, 6 permission denied, 7 timed out, 8 outcome unknown.\n",
	      out);
}

static bool parse_ctid(const char *text, uint32_t *ctid)
{
	char *end;
	unsigned long v;

	if (!text || text[0] < '1' || text[0] > '9')
		return false;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v < CTLOCK_CTID_MIN || v > CTLOCK_CTID_MAX)
		return false;
	*ctid = (uint32_t)v;
	return true;
}

static void print_state(uint32_t ctid, const struct ctlock_state *state, bool json)
{
	struct json_object *o;

	if (!json)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "ctid", json_object_new_int64(ctid));
	json_object_object_add(o, "node", json_object_new_string(state->node));
	json_object_object_add(o, "path", json_object_new_string(state->path));
	json_object_object_add(o, "version", json_object_new_uint64(state->version));
	json_object_object_add(o, "lock",
			       state->raw[0] ? json_object_new_string(state->raw) : NULL);
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

struct args {
	bool json;
	const char *expect;
	bool expect_none;
	const char *command;
	uint32_t ctid;
	const char *value;
};

/* Parse argv into *A. Returns EXIT_OK, or EXIT_USAGE after a message. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option options[] = {
		{"json", no_argument, NULL, 'j'},
		{"output-format", required_argument, NULL, 'o'},
		{"expect", required_argument, NULL, 'e'},
		{"expect-none", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, npos;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			a->json = true;
			break;
		case 'o':
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "ctlockctl: invalid output format '%s': use json or text\n",
					optarg);
				return EXIT_USAGE;
			}
			a->json = !strcmp(optarg, "json");
			break;
		case 'e':
			a->expect = optarg;
			break;
		case 'n':
			a->expect_none = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}

	npos = argc - optind;
	a->command = npos > 0 ? argv[optind] : NULL;
	if (!a->command) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (npos < 2 || !parse_ctid(argv[optind + 1], &a->ctid)) {
		fprintf(stderr, "ctlockctl: %s needs a CTID from %u to %u\n", a->command,
			CTLOCK_CTID_MIN, CTLOCK_CTID_MAX);
		return EXIT_USAGE;
	}

	if (!strcmp(a->command, "set")) {
		if (npos != 3) {
			fprintf(stderr, "ctlockctl: set needs CTID and VALUE\n");
			return EXIT_USAGE;
		}
		a->value = argv[optind + 2];
		if (a->expect && a->expect_none) {
			fprintf(stderr, "ctlockctl: use either --expect or --expect-none\n");
			return EXIT_USAGE;
		}
	} else if (!strcmp(a->command, "clear") || !strcmp(a->command, "check")) {
		if (npos != 2) {
			fprintf(stderr, "ctlockctl: %s takes only CTID\n", a->command);
			return EXIT_USAGE;
		}
		if (a->expect_none || (a->expect && !strcmp(a->command, "check"))) {
			fprintf(stderr, "ctlockctl: %s does not take this --expect option\n",
				a->command);
			return EXIT_USAGE;
		}
	} else {
		fprintf(stderr, "ctlockctl: unknown command '%s'\n", a->command);
		usage(stderr);
		return EXIT_USAGE;
	}

	if ((a->value && !ctlock_value_valid(a->value)) ||
	    (a->expect && !ctlock_value_valid(a->expect))) {
		fprintf(stderr,
			"ctlockctl: invalid lock value '%s': use backup, create, destroyed, disk, "
			"fstrim, migrate, mounted, rollback, snapshot or snapshot-delete\n",
			a->value && !ctlock_value_valid(a->value) ? a->value : a->expect);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	struct ctlock_state state;
	struct pfs_conn *conn = NULL;
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	int rv, code;

	code = parse_args(argc, argv, &a);
	if (code != EXIT_OK)
		return code;

	rv = pfs_connect(NULL, &conn);
	if (rv < 0) {
		fprintf(stderr, "ctlockctl: cannot connect to pmxfs: %s; is the daemon running?\n",
			strerror(-rv));
		return pmx_exit_code(rv);
	}

	if (!strcmp(a.command, "set")) {
		rv = ctlock_set(conn, a.ctid, a.value, a.expect, &state, errmsg);
	} else if (!strcmp(a.command, "clear")) {
		rv = ctlock_clear(conn, a.ctid, a.expect, &state, errmsg);
	} else {
		rv = ctlock_get(conn, a.ctid, &state, errmsg);
		if (rv == 0) {
			print_state(a.ctid, &state, a.json);
			if (state.raw[0]) {
				snprintf(errmsg, sizeof(errmsg), "CT is locked (%s)", state.raw);
				rv = -EBUSY;
			}
		}
	}

	if (rv < 0)
		fprintf(stderr, "ctlockctl: %s\n", errmsg);
	else if (a.json && strcmp(a.command, "check") != 0)
		print_state(a.ctid, &state, true);
	pfs_disconnect(conn);
	return pmx_exit_code(rv);
}
