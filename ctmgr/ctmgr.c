/*
 * ctmgr: the pct-compatible command line for containers whose configs
 * live in the pmxfs store. docs/ctmgr-cli.md describes the verbs.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/exit_code.h"
#include "conf/snapshot.h"
#include "ctmgr/agent.h"
#include "ctmgr/ct.h"
#include "ctmgr/migrate.h"
#include "pmxfs/pmxfs.h"

static bool json_out;
static bool json_pretty; /* --output-format json-pretty: indented JSON */

static const char usage_text[] =
    "usage: ctmgr [--json | --output-format json] COMMAND ARGS\n"
    "  create CTID TEMPLATE [--KEY VALUE ...]   set CTID [--KEY VALUE ...] [--delete KEYS]\n"
    "  start CTID [--debug]      stop CTID       shutdown CTID [--timeout S] [--forceStop 1]\n"
    "  reboot CTID [--timeout S] status CTID     exec CTID -- COMMAND [ARGS...]\n"
    "  destroy CTID              unlock CTID     config CTID [--current] [--snapshot NAME]\n"
    "  pending CTID              list            snapshot CTID NAME [--description TEXT]\n"
    "  listsnapshot CTID         rollback CTID NAME     delsnapshot CTID NAME [--force]\n"
    "  enter CTID                console CTID    cpusets\n"
    "  startall                  stopall\n"
    "  migrate CTID TARGET [--restart] [--timeout S]\n"
    "Options take one dash or two (-memory 512, --memory 512, --memory=512).\n";

/* After a usage error: one line that points to the usage, not all of it. */
#define USAGE_HINT "see 'ctmgr help' for the commands and their options\n"

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ctmgr: ");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	fprintf(stderr, fmt, arg);
#pragma GCC diagnostic pop
	fprintf(stderr, "\n%s", USAGE_HINT);
	return EXIT_USAGE;
}

static int fail(int rv, const char *errmsg)
{
	fprintf(stderr, "ctmgr: %s\n", *errmsg ? errmsg : strerror(-rv));
	return pmx_exit_code(rv);
}

/* ---- The options of the simple verbs ---- */

struct opt_spec {
	const char *name;
	bool value;   /* takes a value */
	bool boolean; /* a value of 0/1 may follow, else it means 1 */
};

struct parsed {
	const char *pos[3];
	size_t n_pos;
	const char *values[8];
	char **rest; /* after `--`, for exec */
	int n_rest;
};

static bool is_bool_word(const char *s)
{
	return !strcmp(s, "0") || !strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "no") ||
	       !strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "on") || !strcmp(s, "off");
}

static bool bool_value(const char *s)
{
	return s &&
	       (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on"));
}

/* Parse ARGV with the options SPEC (at most 8) and MAX_POS positional
 * arguments. Returns 0 or EXIT_USAGE after printing the error. */
static int parse_simple(int argc, char **argv, const struct opt_spec *spec, size_t max_pos,
                        bool want_rest, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *name, *eq;
		size_t k, namelen;

		if (!strcmp(a, "--")) {
			if (!want_rest)
				return usage_error("unexpected argument '%s'", a);
			p->rest = argv + i + 1;
			p->n_rest = argc - i - 1;
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (p->n_pos >= max_pos)
				return usage_error("unexpected argument '%s'", a);
			p->pos[p->n_pos++] = a;
			continue;
		}
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		namelen = eq ? (size_t)(eq - name) : strlen(name);
		for (k = 0; spec && spec[k].name; k++)
			if (strlen(spec[k].name) == namelen &&
			    !strncmp(spec[k].name, name, namelen))
				break;
		if (!spec || !spec[k].name)
			return usage_error("unknown option '%s'", a);
		if (eq) {
			p->values[k] = eq + 1;
		} else if (spec[k].value) {
			if (i + 1 >= argc)
				return usage_error("option '%s' needs a value", a);
			p->values[k] = argv[++i];
		} else if (i + 1 < argc && is_bool_word(argv[i + 1])) {
			p->values[k] = argv[++i];
		} else {
			p->values[k] = "1";
		}
		if (spec[k].boolean && !is_bool_word(p->values[k]))
			return usage_error("option '%s' takes 0 or 1", a);
	}
	return 0;
}

static int parse_ctid(const char *text, unsigned *ctid)
{
	char *end;
	unsigned long v;

	if (!text)
		return usage_error("%s", "a CTID is required");
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || !*text || text[0] == '0' || v < 100 || v > 999999999)
		return usage_error("invalid CTID '%s': use 100 to 999999999", text);
	*ctid = (unsigned)v;
	return 0;
}

static int parse_uint(const char *text, const char *what, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || !*text || v > INT_MAX) {
		fprintf(stderr, "ctmgr: invalid %s '%s': use whole seconds\n", what, text);
		return EXIT_USAGE;
	}
	*out = (unsigned)v;
	return 0;
}

/* ---- Output ---- */

static void print_json(struct json_object *obj)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	flags |= json_pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
	                     : JSON_C_TO_STRING_PLAIN;
	printf("%s\n", json_object_to_json_string_ext(obj, flags));
	json_object_put(obj);
}

/* Print section S as `key: value` lines, or as a JSON object. */
static int print_section(const struct conf_section *s)
{
	struct conf_file *out = conf_file_new();
	char *text = NULL, msg[CONF_ERRMSG_SIZE];
	size_t len = 0;
	int rv;

	if (!out)
		return -ENOMEM;
	rv = conf_section_copy_contents(conf_main(out), s);
	/* Show only the value in use of a duplicate key. */
	ctm_ct_drop_shadowed(out, NULL);
	if (rv == 0 && json_out) {
		struct json_object *obj = json_object_new_object();
		struct conf_section *m = conf_main(out);

		for (size_t i = 0; i < m->n_keys; i++)
			json_object_object_add(obj, m->keys[i].key,
			                       json_object_new_string(m->keys[i].value));
		for (size_t i = 0; i < m->n_raw; i++)
			json_object_object_add(obj, m->raw[i].key,
			                       json_object_new_string(m->raw[i].value));
		if (m->description)
			json_object_object_add(obj, "description",
			                       json_object_new_string(m->description));
		print_json(obj);
	} else if (rv == 0) {
		rv = conf_write(out, &text, &len, msg);
		if (rv == 0)
			fwrite(text, 1, len, stdout);
		free(text);
	}
	conf_file_free(out);
	return rv;
}

/* ---- Verbs ---- */

struct cli {
	struct ctm_ctx ctx;
	char errmsg[CONF_ERRMSG_SIZE];
};

static int cmd_create_set(struct cli *cli, enum ctm_command command, int argc, char **argv)
{
	struct ctm_options opts;
	char *keys = NULL;
	int rv;

	rv = ctm_options_parse(command, argc, argv, &opts, cli->errmsg);
	if (rv < 0) {
		fprintf(stderr, "ctmgr: %s\n%s", cli->errmsg, USAGE_HINT);
		return rv == -ENOMEM ? EXIT_ERROR : EXIT_USAGE;
	}
	if (command == CTM_COMMAND_SET) {
		rv = ctm_ct_set(&cli->ctx, &opts, cli->errmsg);
	} else {
		struct ctm_create_params params = {.opts = &opts};
		const char *keyfile = ctm_options_get(&opts, "ssh-public-keys");

		if (keyfile) {
			FILE *f = fopen(keyfile, "re");
			size_t len = 0;

			if (f) {
				keys = calloc(1, CONF_MAX_FILE_SIZE + 1);
				len = keys ? fread(keys, 1, CONF_MAX_FILE_SIZE, f) : 0;
				fclose(f);
			}
			if (!f || !keys || len == 0) {
				fprintf(stderr, "ctmgr: CT %u: cannot read the SSH keys file %s\n",
				        opts.vmid, keyfile);
				free(keys);
				ctm_options_clear(&opts);
				return EXIT_ERROR;
			}
			params.ssh_keys = keys;
		}
		rv = ctm_ct_create(&cli->ctx, &params, cli->errmsg);
	}
	free(keys);
	ctm_options_clear(&opts);
	return rv < 0 ? fail(rv, cli->errmsg) : EXIT_OK;
}

static int cmd_status(struct cli *cli, unsigned ctid)
{
	struct ctm_ct *ct = NULL;
	bool running = false;
	int rv;

	rv = ctm_ct_load(&cli->ctx, ctid, &ct, cli->errmsg);
	if (rv == 0 && strcmp(ct->node, cli->ctx.node)) {
		snprintf(cli->errmsg, sizeof(cli->errmsg),
		         "CT %u is on node %s, not on this node %s: run the command on %s", ctid,
		         ct->node, cli->ctx.node, ct->node);
		rv = -EREMOTE;
	}
	ctm_ct_free(ct);
	if (rv == 0)
		rv = ctm_ct_running(&cli->ctx, ctid, &running, cli->errmsg);
	if (rv < 0)
		return fail(rv, cli->errmsg);
	if (json_out) {
		struct json_object *obj = json_object_new_object();

		json_object_object_add(obj, "status",
		                       json_object_new_string(running ? "running" : "stopped"));
		print_json(obj);
	} else {
		printf("status: %s\n", running ? "running" : "stopped");
	}
	return EXIT_OK;
}

static int cmd_config(struct cli *cli, unsigned ctid, bool current, const char *snapshot)
{
	struct ctm_ct *ct = NULL;
	const struct conf_section *s;
	bool changed;
	int rv;

	rv = ctm_ct_load(&cli->ctx, ctid, &ct, cli->errmsg);
	if (rv < 0)
		return fail(rv, cli->errmsg);
	if (snapshot) {
		s = conf_snapshot(ct->cf, snapshot);
		if (!s) {
			fprintf(stderr, "ctmgr: CT %u has no snapshot '%s'\n", ctid, snapshot);
			ctm_ct_free(ct);
			return EXIT_NOT_FOUND;
		}
	} else {
		if (!current && ctm_ct_apply_pending(ct->cf, &changed) < 0) {
			ctm_ct_free(ct);
			return fail(-ENOMEM, "out of memory");
		}
		s = conf_main(ct->cf);
	}
	rv = print_section(s);
	ctm_ct_free(ct);
	return rv < 0 ? fail(rv, "writing the config failed") : EXIT_OK;
}

static int cmd_pending(struct cli *cli, unsigned ctid)
{
	struct json_object *list = json_object_new_array();
	struct conf_section *main, *pending;
	struct ctm_ct *ct = NULL;
	const char *del;
	int rv;

	rv = ctm_ct_load(&cli->ctx, ctid, &ct, cli->errmsg);
	if (rv < 0) {
		json_object_put(list);
		return fail(rv, cli->errmsg);
	}
	main = conf_main(ct->cf);
	pending = conf_pending(ct->cf);
	del = pending ? conf_get(pending, "delete") : NULL;

	/* Current keys with their pending value or deletion, then new keys. */
	for (size_t i = 0; i < main->n_keys; i++) {
		const char *key = main->keys[i].key, *value = main->keys[i].value;
		const char *next = pending ? conf_get(pending, key) : NULL;
		struct json_object *o = json_object_new_object();
		bool deleted = false;

		if (del) {
			char *copy = strdup(del), *save = NULL;

			for (char *t = copy ? strtok_r(copy, ",; ", &save) : NULL; t;
			     t = strtok_r(NULL, ",; ", &save))
				deleted = deleted || !strcmp(t + (*t == '!'), key);
			free(copy);
		}
		json_object_object_add(o, "key", json_object_new_string(key));
		json_object_object_add(o, "value", json_object_new_string(value));
		if (next)
			json_object_object_add(o, "pending", json_object_new_string(next));
		if (deleted)
			json_object_object_add(o, "delete", json_object_new_int(1));
		json_object_array_add(list, o);
	}
	/* Deletions of keys the config does not have, such as a key outside
	 * the schema: shown so that `set --revert KEY` can be found. */
	if (del) {
		char *copy = strdup(del), *save = NULL;

		for (char *t = copy ? strtok_r(copy, ",; ", &save) : NULL; t;
		     t = strtok_r(NULL, ",; ", &save)) {
			struct json_object *o;

			t += *t == '!';
			if (!*t || conf_get(main, t))
				continue;
			o = json_object_new_object();
			json_object_object_add(o, "key", json_object_new_string(t));
			json_object_object_add(o, "delete", json_object_new_int(1));
			json_object_array_add(list, o);
		}
		free(copy);
	}
	for (size_t i = 0; pending && i < pending->n_keys; i++) {
		const char *key = pending->keys[i].key;
		struct json_object *o;

		if (!strcmp(key, "delete") || conf_get(main, key))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "key", json_object_new_string(key));
		json_object_object_add(o, "pending",
		                       json_object_new_string(pending->keys[i].value));
		json_object_array_add(list, o);
	}
	ctm_ct_free(ct);
	if (json_out) {
		print_json(list);
		return EXIT_OK;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i), *j;
		const char *k, *v = NULL, *p = NULL;

		json_object_object_get_ex(o, "key", &j);
		k = json_object_get_string(j);
		if (json_object_object_get_ex(o, "value", &j))
			v = json_object_get_string(j);
		if (json_object_object_get_ex(o, "pending", &j))
			p = json_object_get_string(j);
		if (json_object_object_get_ex(o, "delete", &j)) {
			if (v)
				printf("del %s: %s\n", k, v);
			else
				printf("del %s\n", k);
			continue;
		}
		if (v)
			printf("cur %s: %s\n", k, v);
		if (p)
			printf("new %s: %s\n", k, p);
	}
	json_object_put(list);
	return EXIT_OK;
}

static int cmd_list(struct cli *cli)
{
	struct ctm_ct_info *infos = NULL;
	size_t n = 0;
	int rv;

	rv = ctm_ct_list(&cli->ctx, &infos, &n, cli->errmsg);
	if (rv < 0)
		return fail(rv, cli->errmsg);
	if (json_out) {
		struct json_object *list = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "vmid", json_object_new_int64(infos[i].ctid));
			json_object_object_add(o, "status",
			                       json_object_new_string(infos[i].status));
			if (infos[i].lock[0])
				json_object_object_add(o, "lock",
				                       json_object_new_string(infos[i].lock));
			json_object_object_add(o, "name", json_object_new_string(infos[i].name));
			json_object_object_add(o, "node", json_object_new_string(infos[i].node));
			json_object_array_add(list, o);
		}
		print_json(list);
	} else if (n > 0) {
		printf("%-10s %-10s %-12s %-20s %s\n", "VMID", "Status", "Lock", "Name", "Node");
		for (size_t i = 0; i < n; i++)
			printf("%-10u %-10s %-12s %-20s %s\n", infos[i].ctid, infos[i].status,
			       infos[i].lock, infos[i].name, infos[i].node);
	}
	free(infos);
	return EXIT_OK;
}

/* Print the snapshots whose parent is PARENT ("" for the roots), as a tree. */
static void print_snapshots(const struct conf_file *cf, const char *parent, int depth,
                            struct json_object *list)
{
	for (size_t i = 0; i < cf->n_sections; i++) {
		const struct conf_section *s = &cf->sections[i];
		const char *p, *snaptime, *desc = s->description ? s->description : "";
		char when[32] = "";
		time_t t;

		if (s->kind != CONF_SECTION_SNAPSHOT)
			continue;
		p = conf_get(s, "parent");
		if (strcmp(p ? p : "", parent))
			continue;
		snaptime = conf_get(s, "snaptime");
		t = snaptime ? (time_t)strtoll(snaptime, NULL, 10) : 0;
		if (snaptime)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		if (list) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(s->name));
			if (p)
				json_object_object_add(o, "parent", json_object_new_string(p));
			json_object_object_add(o, "snaptime", json_object_new_int64((int64_t)t));
			json_object_object_add(o, "description", json_object_new_string(desc));
			json_object_array_add(list, o);
		} else {
			printf("%*s`-> %-20s %-20s %.*s\n", depth * 2, "", s->name, when,
			       (int)strcspn(desc, "\n"), desc);
		}
		print_snapshots(cf, s->name, depth + 1, list);
	}
}

static int cmd_listsnapshot(struct cli *cli, unsigned ctid)
{
	struct ctm_ct *ct = NULL;
	const char *parent;
	int rv;

	rv = ctm_ct_load(&cli->ctx, ctid, &ct, cli->errmsg);
	if (rv < 0)
		return fail(rv, cli->errmsg);
	parent = conf_get(conf_main(ct->cf), "parent");
	if (json_out) {
		struct json_object *list = json_object_new_array(), *cur = json_object_new_object();

		print_snapshots(ct->cf, "", 0, list);
		json_object_object_add(cur, "name", json_object_new_string("current"));
		if (parent)
			json_object_object_add(cur, "parent", json_object_new_string(parent));
		json_object_object_add(cur, "description", json_object_new_string("You are here!"));
		json_object_array_add(list, cur);
		print_json(list);
	} else {
		int depth = 0;

		print_snapshots(ct->cf, "", 0, NULL);
		/* `current` sits below its parent, as in pct. */
		for (const char *p = parent; p;) {
			const struct conf_section *s = conf_snapshot(ct->cf, p);

			depth++;
			p = s ? conf_get(s, "parent") : NULL;
			if (depth > 1000)
				break;
		}
		printf("%*s`-> %-20s %-20s %s\n", depth * 2, "", "current", "", "You are here!");
	}
	ctm_ct_free(ct);
	return EXIT_OK;
}

static int cmd_exec(struct cli *cli, unsigned ctid, char **argv, int argc)
{
	int status = 0, rv;

	if (argc < 1)
		return usage_error("%s", "exec needs a command after --");
	rv = ctm_ct_exec(&cli->ctx, ctid, argv, &status, cli->errmsg);
	if (rv < 0)
		return fail(rv, cli->errmsg);
	return status;
}

/* The verbs with a CTID and simple options. */
/*
 * Send VERB for CTID to the agent of the container's node when that is
 * another node, and print its reply. Returns the exit code, or -1 when the
 * container is on this node or cannot be read, so the verb itself runs
 * and reports it.
 */
static int forward_remote(struct cli *cli, const char *verb, unsigned ctid, unsigned timeout,
                          bool force, struct ctm_ct **local)
{
	struct ctm_ct *ct = NULL;
	char node[64], text[96];
	int result = 0, rv;

	if (ctm_ct_load(&cli->ctx, ctid, &ct, cli->errmsg) < 0 || !strcmp(ct->node, cli->ctx.node)) {
		/* The command runs here: hand the config over for it. */
		if (local && ct && !strcmp(ct->node, cli->ctx.node))
			*local = ct;
		else
			ctm_ct_free(ct);
		cli->errmsg[0] = '\0';
		return -1;
	}
	snprintf(node, sizeof(node), "%s", ct->node);
	ctm_ct_free(ct);
	snprintf(text, sizeof(text), "%s %u %u %d", verb, ctid, timeout, force);
	rv = ctm_agent_forward(&cli->ctx, node, text,
	                       !strcmp(verb, "shutdown") ? timeout + 60 : 120, &result,
	                       cli->errmsg);
	if (rv < 0) {
		fprintf(stderr, "ctmgr: CT %u is on node %s: %s\n", ctid, node, cli->errmsg);
		return pmx_exit_code(rv);
	}
	if (result < 0)
		return fail(result, cli->errmsg);
	if (!strcmp(verb, "status")) {
		if (json_out) {
			struct json_object *obj = json_object_new_object();

			json_object_object_add(obj, "status", json_object_new_string(cli->errmsg));
			print_json(obj);
		} else {
			printf("status: %s\n", cli->errmsg);
		}
	}
	return EXIT_OK;
}

/*
 * startall: the onboot containers of this node in boot order, waiting
 * `up` seconds after each start. stopall: every container of this node
 * in reverse order, shut down with its `down` timeout, then killed.
 * Failures are printed and make the exit code 1; the others go on.
 */
static int cmd_startall_stopall(struct cli *cli, bool start)
{
	struct ctm_boot_entry *list = NULL;
	size_t n = 0;
	int code = EXIT_OK, rv;

	if (start && !cli->ctx.quorate) {
		fprintf(stderr, "ctmgr: node %s is not quorate: startall starts nothing\n",
		        cli->ctx.node);
		return EXIT_NOT_QUORATE;
	}
	rv = ctm_agent_boot_list(&cli->ctx, start, &list, &n, cli->errmsg);
	if (rv < 0)
		return fail(rv, cli->errmsg);
	for (size_t k = 0; k < n; k++) {
		struct ctm_boot_entry *e = &list[start ? k : n - 1 - k];
		bool running = false;

		if (ctm_ct_running(&cli->ctx, e->ctid, &running, cli->errmsg) < 0) {
			fail(-EIO, cli->errmsg);
			code = EXIT_ERROR;
			continue;
		}
		if (running == start)
			continue;
		if (start) {
			rv = ctm_agent_start(&cli->ctx, e->ctid, cli->errmsg);
		} else {
			rv = ctm_ct_shutdown(&cli->ctx, e->ctid, e->down, true, cli->errmsg);
		}
		if (rv < 0) {
			fail(rv, cli->errmsg);
			code = EXIT_ERROR;
			continue;
		}
		printf("CT %u %s\n", e->ctid, start ? "started" : "stopped");
		fflush(stdout);
		if (start && e->up)
			sleep(e->up);
	}
	free(list);
	return code;
}

/*
 * migrate: ask the agent of the container's node to run the migration as
 * a task, then follow the task's log until its final line. Interrupting
 * ctmgr stops the following, never the task.
 */
/* What ctmgr prints when Ctrl-C (or SIGTERM) stops the following of a
 * task; written from the signal handler, so formatted before. */
static char stop_following_msg[512];

static void on_stop_following(int sig)
{
	ssize_t r = write(STDERR_FILENO, stop_following_msg, strlen(stop_following_msg));

	(void)r;
	_exit(128 + sig);
}

static void catch_stop_following(const char *id, const char *node)
{
	struct sigaction sa = {0};

	snprintf(stop_following_msg, sizeof(stop_following_msg),
	         "\nctmgr: stopped following task %s; the task goes on: its log is %s/%s "
	         "on node %s\n",
	         id, ctm_task_dir(), id, node);
	sa.sa_handler = on_stop_following;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int cmd_migrate(struct cli *cli, unsigned ctid, const char *target, bool restart,
                       unsigned timeout)
{
	char node[64], text[256], id[CTM_TASK_ID_SIZE] = "";
	unsigned long long offset = 0;
	struct ctm_ct *ct = NULL;
	int result = 0, rv, misses = 0;

	rv = ctm_ct_load(&cli->ctx, ctid, &ct, cli->errmsg);
	if (rv < 0)
		return fail(rv, cli->errmsg);
	snprintf(node, sizeof(node), "%s", ct->node);
	ctm_ct_free(ct);
	snprintf(text, sizeof(text), "migrate %u %s %d %u", ctid, target, restart ? 1 : 0,
	         timeout);
	rv = ctm_agent_forward(&cli->ctx, node, text, 60, &result, cli->errmsg);
	if (rv < 0) {
		fprintf(stderr, "ctmgr: CT %u is on node %s: %s\n", ctid, node, cli->errmsg);
		return pmx_exit_code(rv);
	}
	if (result < 0)
		return fail(result, cli->errmsg);
	snprintf(id, sizeof(id), "%.159s", cli->errmsg);
	catch_stop_following(id, node);
	if (!json_out) {
		printf("task %s\n", id);
		fflush(stdout);
	}
	for (;;) {
		char *reply = NULL;
		unsigned long long next;
		int done = 0, status = 0, n = 0;
		size_t len = 0;

		/* The slices are larger than errmsg: ask through the store API. */
		snprintf(text, sizeof(text), "tasklog %s %llu", id, offset);
		rv = pfs_node_request(cli->ctx.conn, node, CTM_AGENT_SERVICE, text, strlen(text),
		                      30000, &result, &reply, &len);
		if (rv == 0 && result == 0 && reply &&
		    sscanf(reply, "%llu %d %d\n%n", &next, &done, &status, &n) == 3 && n > 0) {
			misses = 0;
			if (!json_out)
				fwrite(reply + n, 1, len - (size_t)n, stdout);
			fflush(stdout);
			offset = next;
			if (done && status &&
			    memmem(reply + n, len - (size_t)n, CTM_TASK_ORPHANED,
			           strlen(CTM_TASK_ORPHANED)))
				fprintf(stderr,
				        "ctmgr: task %s was killed before it ended: CT %u may "
				        "still be locked (migrate) and its volumes half copied; "
				        "check `ctmgr config %u` and the volumes on node %s and "
				        "%s, then `ctmgr unlock %u`\n",
				        id, ctid, ctid, node, target, ctid);
			free(reply);
			if (done) {
				if (json_out) {
					struct json_object *obj = json_object_new_object();

					json_object_object_add(obj, "upid", json_object_new_string(id));
					json_object_object_add(obj, "status",
					                       json_object_new_string(status ? "error" : "ok"));
					print_json(obj);
				}
				return status ? EXIT_ERROR : EXIT_OK;
			}
			if ((size_t)n == len)
				usleep(300000);
			continue;
		}
		free(reply);
		/* The source's agent may restart; the task runs on. */
		if (++misses > 20) {
			fprintf(stderr,
			        "ctmgr: the agent on node %s did not send the log of task %s for "
			        "20 s (last error: %s); the task may still run: its log is %s/%s "
			        "there. If the agent stays down, `ctmgr config %u` shows whether "
			        "the container is still locked (migrate); `ctmgr unlock %u` "
			        "clears that lock\n",
			        node, id, rv < 0 ? strerror(-rv) : strerror(-result), ctm_task_dir(), id,
			        ctid, ctid);
			return EXIT_UNKNOWN;
		}
		sleep(1);
	}
}

/*
 * cpusets: the CPUs of each running container of this node, one line per
 * container and one column per CPU.
 */
static int cmd_cpusets(struct cli *cli)
{
	enum { MAX_CPUS = 1024 };
	struct ctm_ct_info *list = NULL;
	bool(*sets)[MAX_CPUS] = NULL;
	size_t n = 0;
	int max = -1, rv;

	rv = ctm_ct_list(&cli->ctx, &list, &n, cli->errmsg);
	if (rv < 0)
		return fail(rv, cli->errmsg);
	sets = calloc(n + 1, sizeof(*sets));
	if (!sets) {
		free(list);
		return fail(-ENOMEM, "");
	}
	for (size_t i = 0; i < n; i++) {
		char buf[4096];

		if (strcmp(list[i].node, cli->ctx.node) || strcmp(list[i].status, "running") ||
		    ctm_ct_cpuset(&cli->ctx, list[i].ctid, buf, sizeof(buf), cli->errmsg) < 0) {
			list[i].ctid = 0;
			continue;
		}
		if (ctm_cpulist_parse(buf, sets[i], MAX_CPUS, &max) < 0) {
			fprintf(stderr, "ctmgr: CT %u: invalid cpuset '%s'\n", list[i].ctid, buf);
			list[i].ctid = 0;
		}
	}
	if (json_out) {
		struct json_object *obj = json_object_new_object();

		for (size_t i = 0; i < n; i++) {
			struct json_object *cpus = json_object_new_array();
			char id[16];

			if (!list[i].ctid)
				continue;
			for (int c = 0; c <= max; c++)
				if (sets[i][c])
					json_object_array_add(cpus, json_object_new_int(c));
			snprintf(id, sizeof(id), "%u", list[i].ctid);
			json_object_object_add(obj, id, cpus);
		}
		print_json(obj);
	} else {
		for (size_t i = 0; i < n; i++) {
			int last = -1;

			if (!list[i].ctid)
				continue;
			for (int c = 0; c <= max; c++)
				if (sets[i][c])
					last = c;
			printf("%u:", list[i].ctid);
			for (int c = 0; c <= last; c++)
				printf(sets[i][c] ? " %3d" : "    ", c);
			printf("\n");
		}
	}
	free(sets);
	free(list);
	return EXIT_OK;
}

/*
 * LIMIT: how long `ctmgr hook` may wait for pmxfs in all. LXC's monitor
 * runs the hook in a container's stop path, so a hung or absent pmxfs
 * must not hold up the stop. The connect and each request time out after
 * HOOK_REQUEST_MS, and an alarm ends the program after HOOK_PMXFS_S. The
 * hookscript itself runs after that, without a limit as in other phases.
 */
#define HOOK_REQUEST_MS 2000u
#define HOOK_PMXFS_S 5u

static char hook_alarm_msg[160];

static void hook_alarm(int sig)
{
	ssize_t n;

	(void)sig;
	n = write(STDERR_FILENO, hook_alarm_msg, strlen(hook_alarm_msg));
	(void)n;
	_exit(EXIT_TIMEOUT);
}

/* Say on stderr (LXC's log) and in syslog that the hookscript phase of CT
 * is skipped, and why. */
static int hook_skipped(unsigned ctid, const char *phase, int rv, const char *reason)
{
	fprintf(stderr, "ctmgr: CT %u: the %s hookscript phase is skipped: %s\n", ctid, phase,
	        reason);
	openlog("ctmgr", LOG_PID, LOG_DAEMON);
	syslog(LOG_WARNING, "CT %u: the %s hookscript phase is skipped: %s", ctid, phase, reason);
	closelog();
	return pmx_exit_code(rv);
}

/*
 * `ctmgr hook CTID lxc PHASE`, run by LXC's monitor after a container
 * stopped: read the config from pmxfs within HOOK_PMXFS_S seconds, then
 * run the hookscript. When pmxfs cannot be reached in time the phase is
 * skipped with a log line and the stop goes on.
 */
static int cmd_hook(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = hook_alarm};
	struct pfs_conn *conn = NULL;
	struct cli cli = {0};
	char script[PATH_MAX], reason[CONF_ERRMSG_SIZE + 64];
	const char *phase;
	unsigned ctid = 0;
	int rv;

	if (argc != 4)
		return usage_error("%s", "hook takes CTID lxc PHASE");
	rv = parse_ctid(argv[1], &ctid);
	if (rv)
		return rv;
	phase = argv[3];

	snprintf(hook_alarm_msg, sizeof(hook_alarm_msg),
	         "ctmgr: CT %u: the %s hookscript phase is skipped: pmxfs timed out after "
	         "%u s\n",
	         ctid, phase, HOOK_PMXFS_S);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(HOOK_PMXFS_S);

	rv = pfs_connect_timeout(NULL, HOOK_REQUEST_MS, &conn);
	if (rv < 0) {
		alarm(0);
		snprintf(reason, sizeof(reason), "cannot connect to pmxfs: %s",
		         rv == -ETIMEDOUT ? "timed out" : strerror(-rv));
		return hook_skipped(ctid, phase, rv, reason);
	}
	cli.ctx.conn = conn;
	cli.ctx.warn = stderr;
	rv = ctm_ctx_init(&cli.ctx, cli.errmsg);
	if (rv == 0)
		rv = ctm_ct_hook_script(&cli.ctx, ctid, phase, script, sizeof(script),
		                        cli.errmsg);
	alarm(0);
	pfs_disconnect(conn);
	if (rv == -ETIMEDOUT || rv == -ENOTCONN)
		return hook_skipped(ctid, phase, rv, cli.errmsg);
	if (rv < 0)
		return fail(rv, cli.errmsg);
	if (!script[0])
		return EXIT_OK;
	rv = ctm_ct_hook_run(ctid, script, phase, cli.errmsg);
	return rv < 0 ? fail(rv, cli.errmsg) : EXIT_OK;
}

/* Tell whether VERB is a command of ctmgr. */
static bool is_verb(const char *verb)
{
	static const char *const verbs[] = {
	    "create",      "set",      "startall", "stopall", "list",    "start",
	    "stop",        "shutdown", "reboot",   "destroy", "unlock",  "snapshot",
	    "delsnapshot", "rollback", "status",   "config",  "pending", "listsnapshot",
	    "exec",        "enter",    "console",  "hook",    "cpusets", "migrate"};

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verb, verbs[i]))
			return true;
	return false;
}

static int run_verb(struct cli *cli, const char *verb, int argc, char **argv)
{
	static const struct opt_spec none[] = {{NULL, false, false}};
	static const struct opt_spec start_opts[] = {
	    {"debug", false, true}, {"skiplock", false, true}, {NULL, false, false}};
	static const struct opt_spec shutdown_opts[] = {
	    {"timeout", true, false}, {"forceStop", false, true}, {NULL, false, false}};
	static const struct opt_spec config_opts[] = {
	    {"current", false, true}, {"snapshot", true, false}, {NULL, false, false}};
	static const struct opt_spec snap_opts[] = {{"description", true, false},
	                                            {NULL, false, false}};
	static const struct opt_spec del_opts[] = {{"force", false, true}, {NULL, false, false}};
	static const struct opt_spec migrate_opts[] = {
	    {"restart", false, true}, {"timeout", true, false}, {"online", false, true},
	    {NULL, false, false}};
	const struct opt_spec *spec = none;
	struct ctm_ct *local = NULL;
	struct parsed p;
	unsigned ctid = 0, timeout = 60;
	size_t need = 1;
	bool exec = !strcmp(verb, "exec");
	int rv;

	if (!strcmp(verb, "start"))
		spec = start_opts;
	else if (!strcmp(verb, "shutdown") || !strcmp(verb, "reboot"))
		spec = shutdown_opts;
	else if (!strcmp(verb, "config"))
		spec = config_opts;
	else if (!strcmp(verb, "snapshot"))
		spec = snap_opts, need = 2;
	else if (!strcmp(verb, "delsnapshot"))
		spec = del_opts, need = 2;
	else if (!strcmp(verb, "rollback"))
		need = 2;
	else if (!strcmp(verb, "migrate"))
		spec = migrate_opts, need = 2;

	rv = parse_simple(argc, argv, spec, need, exec, &p);
	if (rv)
		return rv;
	if (p.n_pos < need)
		return usage_error("%s needs more arguments", verb);
	rv = parse_ctid(p.pos[0], &ctid);
	if (rv)
		return rv;
	if (spec == shutdown_opts && p.values[0] &&
	    (rv = parse_uint(p.values[0], "timeout", &timeout)))
		return rv;

	if (spec == migrate_opts) {
		timeout = CTM_MIGRATE_TIMEOUT;
		if (p.values[1] && (rv = parse_uint(p.values[1], "timeout", &timeout)))
			return rv;
		if (timeout == 0) {
			fprintf(stderr, "ctmgr: CT %u: --timeout 0 leaves the container no time to "
			        "shut down before the copy: use at least 1 s\n", ctid);
			return EXIT_USAGE;
		}
		if (bool_value(p.values[2])) {
			fprintf(stderr, "ctmgr: CT %u: live migration (--online) is not supported "
			        "for containers; use --restart\n", ctid);
			return EXIT_USAGE;
		}
		return cmd_migrate(cli, ctid, p.pos[1], bool_value(p.values[0]), timeout);
	}
	if (!strcmp(verb, "start") || !strcmp(verb, "stop") || !strcmp(verb, "shutdown") ||
	    !strcmp(verb, "status")) {
		rv = forward_remote(cli, verb, ctid, timeout,
		                    spec == shutdown_opts && bool_value(p.values[1]),
		                    !strcmp(verb, "start") ? &local : NULL);
		if (rv >= 0)
			return rv;
	}
	if (!strcmp(verb, "start")) {
		struct ctm_start_params params = {.ct = local};
		char path[64];

		if (p.values[1] && bool_value(p.values[1])) {
			fprintf(stderr,
			        "ctmgr: CT %u: --skiplock is not supported; clear the lock with "
			        "`ctmgr unlock %u` instead\n",
			        ctid, ctid);
			ctm_ct_free(local);
			return EXIT_USAGE;
		}
		if (bool_value(p.values[0])) {
			snprintf(path, sizeof(path), "/var/log/ctmgr-start-%u.log", ctid);
			params.debug_log = path;
			fprintf(stderr, "ctmgr: CT %u: LXC's debug log goes to %s\n", ctid, path);
		}
		rv = ctm_ct_start(&cli->ctx, ctid, &params, cli->errmsg);
		ctm_ct_free(local);
	} else if (!strcmp(verb, "stop")) {
		rv = ctm_ct_stop(&cli->ctx, ctid, cli->errmsg);
	} else if (!strcmp(verb, "shutdown")) {
		rv =
		    ctm_ct_shutdown(&cli->ctx, ctid, timeout, bool_value(p.values[1]), cli->errmsg);
	} else if (!strcmp(verb, "reboot")) {
		rv = ctm_ct_reboot(&cli->ctx, ctid, timeout, cli->errmsg);
	} else if (!strcmp(verb, "destroy")) {
		rv = ctm_ct_destroy(&cli->ctx, ctid, cli->errmsg);
	} else if (!strcmp(verb, "unlock")) {
		rv = ctm_ct_unlock(&cli->ctx, ctid, cli->errmsg);
	} else if (!strcmp(verb, "snapshot")) {
		/* A bad name is a usage error, found before the config is read. */
		if (conf_snapshot_check_name(p.pos[1], cli->errmsg) < 0) {
			fprintf(stderr, "ctmgr: CT %u: %s\n", ctid, cli->errmsg);
			return EXIT_USAGE;
		}
		rv = ctm_ct_snapshot(&cli->ctx, ctid, p.pos[1], p.values[0], cli->errmsg);
	} else if (!strcmp(verb, "delsnapshot")) {
		rv = ctm_ct_delsnapshot(&cli->ctx, ctid, p.pos[1], bool_value(p.values[0]),
		                        cli->errmsg);
	} else if (!strcmp(verb, "rollback")) {
		rv = ctm_ct_rollback(&cli->ctx, ctid, p.pos[1], cli->errmsg);
	} else if (!strcmp(verb, "status")) {
		return cmd_status(cli, ctid);
	} else if (!strcmp(verb, "config")) {
		return cmd_config(cli, ctid, bool_value(p.values[0]), p.values[1]);
	} else if (!strcmp(verb, "pending")) {
		return cmd_pending(cli, ctid);
	} else if (!strcmp(verb, "listsnapshot")) {
		return cmd_listsnapshot(cli, ctid);
	} else if (exec) {
		return cmd_exec(cli, ctid, p.rest, p.n_rest);
	} else if (!strcmp(verb, "enter") || !strcmp(verb, "console")) {
		int status = 0;

		rv = !strcmp(verb, "enter") ? ctm_ct_enter(&cli->ctx, ctid, &status, cli->errmsg)
		                            : ctm_ct_console(&cli->ctx, ctid, &status, cli->errmsg);
		return rv < 0 ? fail(rv, cli->errmsg) : status;
	} else {
		return usage_error("unknown command '%s'", verb);
	}
	return rv < 0 ? fail(rv, cli->errmsg) : EXIT_OK;
}

/* Take --json and --output-format out of ARGV (before any `--`). */
static int strip_format(int *argc, char **argv)
{
	int out = 0, i;

	for (i = 0; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			break;
		} else if (!strcmp(a, "--json") || !strcmp(a, "-json")) {
			json_out = true;
		} else if (!strcmp(a, "--output-format") || !strcmp(a, "-output-format") ||
		           !strncmp(a, "--output-format=", 16)) {
			const char *v = strchr(a, '=') ? strchr(a, '=') + 1 : argv[++i];

			if (!v)
				return usage_error("%s",
				                   "--output-format needs a value: json or text");
			if (!strcmp(v, "json") || !strcmp(v, "json-pretty")) {
				json_out = true;
				json_pretty = !strcmp(v, "json-pretty");
			} else if (strcmp(v, "text")) {
				return usage_error("invalid output format '%s': use text, json or "
				                   "json-pretty", v);
			}
		} else {
			argv[out++] = argv[i];
		}
	}
	for (; i < *argc; i++)
		argv[out++] = argv[i];
	argv[out] = NULL;
	*argc = out;
	return 0;
}

int main(int argc, char **argv)
{
	struct pfs_conn *conn = NULL;
	struct cli cli = {0};
	const char *verb;
	int rv, code;

	argc--;
	argv++;
	rv = strip_format(&argc, argv);
	if (rv)
		return rv;
	if (argc < 1) {
		fprintf(stderr, "ctmgr: a command is required\n%s", usage_text);
		return EXIT_USAGE;
	}
	verb = argv[0];
	if (!strcmp(verb, "help") || !strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (!is_verb(verb))
		return usage_error("unknown command '%s'", verb);
	if (!strcmp(verb, "hook"))
		return cmd_hook(argc, argv);

	rv = pfs_connect(NULL, &conn);
	if (rv < 0) {
		fprintf(stderr, "ctmgr: cannot connect to pmxfs: %s; is pmxfs running?\n",
		        strerror(-rv));
		return pmx_exit_code(rv) == EXIT_ERROR ? EXIT_ERROR : pmx_exit_code(rv);
	}
	cli.ctx.conn = conn;
	cli.ctx.warn = stderr;
	rv = ctm_ctx_init(&cli.ctx, cli.errmsg);
	if (rv < 0) {
		code = fail(rv, cli.errmsg);
	} else if (!strcmp(verb, "create")) {
		code = cmd_create_set(&cli, CTM_COMMAND_CREATE, argc - 1, argv + 1);
	} else if (!strcmp(verb, "set")) {
		code = cmd_create_set(&cli, CTM_COMMAND_SET, argc - 1, argv + 1);
	} else if (!strcmp(verb, "startall") || !strcmp(verb, "stopall")) {
		code = argc > 1 ? usage_error("unexpected argument '%s'", argv[1])
		                : cmd_startall_stopall(&cli, !strcmp(verb, "startall"));
	} else if (!strcmp(verb, "cpusets")) {
		code =
		    argc > 1 ? usage_error("unexpected argument '%s'", argv[1]) : cmd_cpusets(&cli);
	} else if (!strcmp(verb, "list")) {
		code = argc > 1 ? usage_error("unexpected argument '%s'", argv[1]) : cmd_list(&cli);
	} else {
		code = run_verb(&cli, verb, argc - 1, argv + 1);
	}
	pfs_disconnect(conn);
	return code;
}
