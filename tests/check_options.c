/*
 * Unit tests for pct-style option parsing (ctmgr/options.h): the option
 * forms, typed values checked by the config schema, positional
 * arguments, every error message, and applying a parsed set to a config.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "ctmgr/options.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ARGS      32

/* Split LINE on blanks into ARGV (LINE is modified); returns argc. A
 * part written `'...'` keeps its blanks. */
static int split(char *line, char *argv[MAX_ARGS])
{
	int argc = 0;

	while (*line && argc < MAX_ARGS) {
		while (*line == ' ')
			line++;
		if (!*line)
			break;
		if (*line == '\'') {
			argv[argc++] = ++line;
			line = strchr(line, '\'');
			ck_assert_ptr_nonnull(line);
		} else {
			argv[argc++] = line;
			line += strcspn(line, " ");
		}
		if (*line)
			*line++ = '\0';
	}
	return argc;
}

/* Parse LINE for COMMAND; fails the test unless it succeeds. */
static void parse_ok(enum ctm_command command, const char *line, struct ctm_options *o)
{
	char copy[1024], *argv[MAX_ARGS], errmsg[CONF_ERRMSG_SIZE] = "";
	int argc;

	snprintf(copy, sizeof(copy), "%s", line);
	argc = split(copy, argv);
	ck_assert_msg(ctm_options_parse(command, argc, argv, o, errmsg) == 0, "%s: %s", line,
	              errmsg);
}

/* ---- ctm_options_parse ---- */

START_TEST(test_ctm_options_parse_create)
{
	struct ctm_options o;

	parse_ok(CTM_COMMAND_CREATE,
	         "100 local:vztmpl/debian-12.tar.zst -memory 1024 --hostname ct1 -storage local "
	         "--unprivileged --start 1 -net0 name=eth0,bridge=vmbr0,ip=dhcp -rootfs local:8",
	         &o);
	ck_assert_int_eq(o.command, CTM_COMMAND_CREATE);
	ck_assert_uint_eq(o.vmid, 100);
	ck_assert_str_eq(o.ostemplate, "local:vztmpl/debian-12.tar.zst");
	ck_assert_uint_eq(o.n_set, 5);
	ck_assert_str_eq(o.set[0].key, "memory");
	ck_assert_str_eq(o.set[0].value, "1024");
	ck_assert_str_eq(o.set[1].key, "hostname");
	ck_assert_str_eq(o.set[2].key, "unprivileged");
	ck_assert_str_eq(o.set[2].value, "1");
	ck_assert_str_eq(o.set[3].key, "net0");
	ck_assert_str_eq(o.set[3].value, "name=eth0,bridge=vmbr0,ip=dhcp");
	ck_assert_str_eq(o.set[4].value, "local:8");
	ck_assert_uint_eq(o.n_extra, 2);
	ck_assert_str_eq(ctm_options_get(&o, "storage"), "local");
	ck_assert_str_eq(ctm_options_get(&o, "start"), "1");
	ck_assert_uint_eq(o.n_delete, 0);
	ctm_options_clear(&o);
	ck_assert_ptr_null(o.set);
	ck_assert_uint_eq(o.vmid, 0);
}
END_TEST

/* `-k v`, `--k v`, `-k=v` and `--k=v` are one thing; values are stored
 * as pct stores them. */
START_TEST(test_ctm_options_parse_forms)
{
	static const struct {
		const char *line, *key, *value;
	} cases[] = {
	    {"100 -memory 512", "memory", "512"},
	    {"100 --memory 512", "memory", "512"},
	    {"100 -memory=512", "memory", "512"},
	    {"100 --memory=0512", "memory", "512"},
	    {"--swap 0 100", "swap", "0"},
	    {"100 --onboot", "onboot", "1"},
	    {"100 --onboot yes", "onboot", "1"},
	    {"100 --onboot OFF", "onboot", "0"},
	    {"100 --onboot=false", "onboot", "0"},
	    {"100 -description -dashes-", "description", "-dashes-"},
	    {"100 -description '-a b-'", "description", "-a b-"},
	    {"100 -nameserver '192.0.2.1, 192.0.2.2;192.0.2.3'", "nameserver",
	     "192.0.2.1 192.0.2.2 192.0.2.3"},
	    {"100 -searchdomain a.example,b.example", "searchdomain", "a.example b.example"},
	    {"100 -tags web;db,web;app", "tags", "app;db;web"},
	    {"100 -mp0 /srv/data,mp=/data,ro=yes", "mp0", "/srv/data,mp=/data,ro=yes"},
	    {"100 -cpulimit 1.5", "cpulimit", "1.5"},
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct ctm_options o;

		parse_ok(CTM_COMMAND_SET, cases[i].line, &o);
		ck_assert_uint_eq(o.vmid, 100);
		ck_assert_uint_eq(o.n_set, 1);
		ck_assert_str_eq(o.set[0].key, cases[i].key);
		ck_assert_msg(strcmp(o.set[0].value, cases[i].value) == 0, "%s: '%s'",
		              cases[i].line, o.set[0].value);
		ctm_options_clear(&o);
	}
}
END_TEST

/* A boolean alone before another option, `--` ending the options, and
 * positional arguments anywhere. */
START_TEST(test_ctm_options_parse_positional)
{
	struct ctm_options o;

	parse_ok(CTM_COMMAND_SET, "--onboot --memory 256 100", &o);
	ck_assert_uint_eq(o.vmid, 100);
	ck_assert_str_eq(ctm_options_get(&o, "onboot"), "1");
	ck_assert_str_eq(ctm_options_get(&o, "memory"), "256");
	ctm_options_clear(&o);

	parse_ok(CTM_COMMAND_CREATE, "-memory 256 -- 101 -odd:vztmpl/t.tar-", &o);
	ck_assert_uint_eq(o.vmid, 101);
	ck_assert_str_eq(o.ostemplate, "-odd:vztmpl/t.tar-");
	ctm_options_clear(&o);

	/* A boolean takes only a boolean spelling as its value. */
	parse_ok(CTM_COMMAND_CREATE, "100 --unprivileged local:vztmpl/t.tar.gz --start", &o);
	ck_assert_str_eq(o.ostemplate, "local:vztmpl/t.tar.gz");
	ck_assert_str_eq(ctm_options_get(&o, "unprivileged"), "1");
	ck_assert_str_eq(ctm_options_get(&o, "start"), "1");
	ctm_options_clear(&o);

	parse_ok(CTM_COMMAND_CREATE, "999999999 /tmp/t.tar.gz --json", &o);
	ck_assert_uint_eq(o.vmid, 999999999);
	ck_assert_str_eq(ctm_options_get(&o, "json"), "1");
	ck_assert_ptr_null(ctm_options_get(&o, "memory"));
	ctm_options_clear(&o);
}
END_TEST

START_TEST(test_ctm_options_parse_delete)
{
	struct ctm_options o;

	parse_ok(CTM_COMMAND_SET,
	         "100 -delete mp0,mp1 --delete 'swap;cores mp0' -revert tags "
	         "-memory 1024",
	         &o);
	ck_assert_uint_eq(o.n_delete, 4);
	ck_assert_str_eq(o.delete[0], "mp0");
	ck_assert_str_eq(o.delete[1], "mp1");
	ck_assert_str_eq(o.delete[2], "swap");
	ck_assert_str_eq(o.delete[3], "cores");
	ck_assert_uint_eq(o.n_revert, 1);
	ck_assert_str_eq(o.revert[0], "tags");
	ck_assert_uint_eq(o.n_set, 1);
	ctm_options_clear(&o);

	/* A key outside the schema may be in the pending delete list: set
	 * decides, as for --delete. */
	parse_ok(CTM_COMMAND_SET, "100 -revert nosuchkey", &o);
	ck_assert_uint_eq(o.n_revert, 1);
	ck_assert_str_eq(o.revert[0], "nosuchkey");
	ctm_options_clear(&o);

	/* A delete alone is a change. */
	parse_ok(CTM_COMMAND_SET, "100 --delete=description", &o);
	ck_assert_uint_eq(o.n_delete, 1);
	ck_assert_uint_eq(o.n_set, 0);
	ctm_options_clear(&o);
}
END_TEST

/* A command line that is rejected with a message containing MESSAGE. */
struct rejected {
	enum ctm_command command;
	const char *line;
	const char *message;
};

static const struct rejected rejected_lines[] = {
    {CTM_COMMAND_SET, "100 -colour blue",
     "unknown option '-colour': see the options of "
     "'ctmgr set'"},
    {CTM_COMMAND_SET, "100 --mem 512", "unknown option '--mem'"},
    {CTM_COMMAND_SET, "100 -parent s1", "unknown option '-parent'"},
    {CTM_COMMAND_SET, "100 -snaptime 5", "unknown option '-snaptime'"},
    {CTM_COMMAND_SET, "100 -storage local", "unknown option '-storage'"},
    {CTM_COMMAND_CREATE, "100 t.tar -delete swap",
     "unknown option '-delete': see the "
     "options of 'ctmgr create'"},
    {CTM_COMMAND_SET, "100 -memory", "option '-memory' requires a value"},
    {CTM_COMMAND_SET, "100 -memory 8",
     "invalid value '8' for 'memory': expected an integer "
     "from 16 to 1073741824"},
    {CTM_COMMAND_SET, "100 -memory -512", "invalid value '-512' for 'memory'"},
    {CTM_COMMAND_SET, "100 -tty 7",
     "invalid value '7' for 'tty': expected an integer from 0 "
     "to 6"},
    {CTM_COMMAND_SET, "100 -ostype redhat", "invalid value 'redhat' for 'ostype'"},
    {CTM_COMMAND_SET, "100 -onboot=maybe", "invalid value 'maybe' for 'onboot'"},
    {CTM_COMMAND_SET, "100 -onboot maybe", "too many arguments: 'maybe' is neither"},
    {CTM_COMMAND_SET, "100 -net0 bridge=vmbr0", "net0:"},
    {CTM_COMMAND_SET, "100 -hostname bad_name", "invalid value 'bad_name' for 'hostname'"},
    {CTM_COMMAND_SET, "100 -memory 512 --memory 1024",
     "option '-memory' is given twice: give it once"},
    {CTM_COMMAND_SET, "", "not enough arguments: expected VMID"},
    {CTM_COMMAND_SET, "-memory 512", "not enough arguments: expected VMID"},
    {CTM_COMMAND_CREATE, "100 -memory 512",
     "not enough arguments: expected VMID and "
     "OSTEMPLATE"},
    {CTM_COMMAND_SET, "100 101 -memory 512",
     "too many arguments: '101' is neither an "
     "option nor expected"},
    {CTM_COMMAND_SET, "abc -memory 512",
     "invalid value 'abc' for 'vmid': expected an "
     "integer from 100 to 999999999"},
    {CTM_COMMAND_SET, "99 -memory 512", "invalid value '99' for 'vmid'"},
    {CTM_COMMAND_SET, "1000000000 -memory 512", "invalid value '1000000000' for 'vmid'"},
    {CTM_COMMAND_SET, "+100 -memory 512", "invalid value '+100' for 'vmid'"},
    {CTM_COMMAND_SET, "100", "no options specified"},
    {CTM_COMMAND_SET, "100 -unprivileged 0",
     "unable to modify read-only option: "
     "'unprivileged'"},
    {CTM_COMMAND_SET, "100 -delete Colour!", "delete: unknown option 'Colour!'"},
    {CTM_COMMAND_CREATE, "100 tpl.tar.gz",
     "invalid template 'tpl.tar.gz': give a template volume STORAGE:vztmpl/FILE or an "
     "absolute path"},
    {CTM_COMMAND_CREATE, "100 ./tpl.tar.gz", "invalid template './tpl.tar.gz'"},
    {CTM_COMMAND_CREATE, "100 local:images/t.tar.gz",
     "invalid template 'local:images/t.tar.gz': a template is a volume STORAGE:vztmpl/FILE"},
    {CTM_COMMAND_CREATE, "100 local:vztmpl/", "invalid template 'local:vztmpl/'"},
    {CTM_COMMAND_CREATE, "100 local:vztmpl/sub/t.tar.gz",
     "invalid template 'local:vztmpl/sub/t.tar.gz'"},
    {CTM_COMMAND_CREATE, "100 local:vztmpl/../images/t.tar.gz",
     "invalid template 'local:vztmpl/../images/t.tar.gz'"},
    {CTM_COMMAND_CREATE, "100 :vztmpl/t.tar.gz", "invalid template ':vztmpl/t.tar.gz'"},
    {CTM_COMMAND_SET, "100 -hookscript local:snippets/",
     "invalid value 'local:snippets/' for 'hookscript': expected a volume "
     "STORAGE:snippets/FILE, with FILE a file right in the snippets folder"},
    {CTM_COMMAND_SET, "100 -hookscript local:snippets/sub/h.sh",
     "invalid value 'local:snippets/sub/h.sh' for 'hookscript'"},
    {CTM_COMMAND_SET, "100 -hookscript local:snippets/../../x",
     "invalid value 'local:snippets/../../x' for 'hookscript'"},
    {CTM_COMMAND_SET, "100 -hookscript local:snippets/..",
     "invalid value 'local:snippets/..' for 'hookscript'"},
    {CTM_COMMAND_CREATE, "100 /t.tar -hookscript local:vztmpl/t.tar.gz",
     "invalid value 'local:vztmpl/t.tar.gz' for 'hookscript'"},
    {CTM_COMMAND_SET, "100 -delete parent", "delete: unknown option 'parent'"},
    {CTM_COMMAND_SET, "100 -delete ,", "missing value for 'delete'"},
    {CTM_COMMAND_SET, "100 -delete memory", "unable to delete required option 'memory'"},
    {CTM_COMMAND_SET, "100 -delete rootfs", "unable to delete required option 'rootfs'"},
    {CTM_COMMAND_SET, "100 -delete ostype", "unable to delete required option 'ostype'"},
    {CTM_COMMAND_SET, "100 -delete unprivileged",
     "unable to delete read-only option: "
     "'unprivileged'"},
    {CTM_COMMAND_SET, "100 -swap 0 -delete swap",
     "you can't use '-swap' and '-delete swap' "
     "at the same time"},
    {CTM_COMMAND_SET, "100 -delete swap -revert swap",
     "you can't use '-delete swap' and "
     "'-revert swap' at the same time"},
    {CTM_COMMAND_SET, "100 -revert swap -swap 1",
     "you can't use '-swap' and '-revert swap' "
     "at the same time"},
    {CTM_COMMAND_SET, "100 -revert parent", "revert: unknown option 'parent'"},
    {CTM_COMMAND_SET, "100 -revert Nosuch", "revert: unknown option 'Nosuch'"},
    {CTM_COMMAND_SET, "100 -digest 0123456789012345678901234567890123456789a",
     "invalid value '0123456789012345678901234567890123456789a' for 'digest': expected the "
     "40 hex digits of the config's SHA-1 digest"},
    {CTM_COMMAND_SET, "100 -digest xyz", "invalid value 'xyz' for 'digest'"},
    {CTM_COMMAND_SET, "100 -digest 012345678901234567890123456789012345678g",
     "invalid value '012345678901234567890123456789012345678g' for 'digest'"},
    {CTM_COMMAND_CREATE, "100 t.tar -storage 1x", "invalid value '1x' for 'storage'"},
    {CTM_COMMAND_CREATE, "100 t.tar -bwlimit -1", "invalid value '-1' for 'bwlimit'"},
    {CTM_COMMAND_CREATE, "100 t.tar -output-format xml",
     "invalid value 'xml' for 'output-format': expected one of text, json, json-pretty, yaml"},
    {CTM_COMMAND_CREATE, "100 t.tar -start=sometimes",
     "invalid value 'sometimes' for "
     "'start'"},
    {CTM_COMMAND_CREATE, "100 '' -memory 512", "missing value for 'ostemplate'"},
    {CTM_COMMAND_SET, "100 -description=", "missing value for 'description'"},
};

START_TEST(test_ctm_options_parse_rejected)
{
	const struct rejected *r = &rejected_lines[_i];
	char copy[1024], *argv[MAX_ARGS], errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_options o;
	int argc, rv;

	snprintf(copy, sizeof(copy), "%s", r->line);
	argc = split(copy, argv);
	rv = ctm_options_parse(r->command, argc, argv, &o, errmsg);
	ck_assert_msg(rv == -EINVAL, "'%s': rv %d", r->line, rv);
	ck_assert_msg(strstr(errmsg, r->message) != NULL, "'%s': message '%s' lacks '%s'", r->line,
	              errmsg, r->message);

	/* Nothing is left behind. */
	ck_assert_ptr_null(o.set);
	ck_assert_ptr_null(o.delete);
	ck_assert_ptr_null(o.extra);
	ck_assert_ptr_null(o.ostemplate);
	ck_assert_uint_eq(o.vmid, 0);
}
END_TEST

START_TEST(test_ctm_options_parse_unknown_command)
{
	char *argv[] = {(char *)"100"}, errmsg[CONF_ERRMSG_SIZE] = "";
	struct ctm_options o;

	ck_assert_int_eq(ctm_options_parse(0, 1, argv, &o, errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "unknown command 0");
}
END_TEST

/* ---- ctm_options_get ---- */

START_TEST(test_ctm_options_get_keys)
{
	struct ctm_options o;

	parse_ok(CTM_COMMAND_CREATE, "100 /t.tar -pool prod -hostname h1", &o);
	ck_assert_str_eq(ctm_options_get(&o, "pool"), "prod");
	ck_assert_str_eq(ctm_options_get(&o, "hostname"), "h1");
	ck_assert_ptr_null(ctm_options_get(&o, "memory"));
	ck_assert_ptr_null(ctm_options_get(&o, "storage"));
	ctm_options_clear(&o);
}
END_TEST

/* ---- ctm_options_apply ---- */

static const char *const sample_config = "hostname: old\n"
                                         "memory: 512\n"
                                         "swap: 512\n"
                                         "ostype: debian\n"
                                         "rootfs: local:subvol-100-disk-0,size=8G\n"
                                         "mp0: /srv/data,mp=/data\n"
                                         "lxc.apparmor.profile: unconfined\n";

START_TEST(test_ctm_options_apply_changes)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *text = NULL;
	struct conf_file *cf = NULL;
	struct ctm_options o;
	size_t len;

	ck_assert_int_eq(conf_parse(sample_config, strlen(sample_config), NULL, &cf), 0);
	parse_ok(CTM_COMMAND_SET, "100 -hostname new -memory 1024 -onboot -delete swap,cores", &o);
	ck_assert_msg(ctm_options_apply(&o, conf_main(cf), errmsg) == 0, "%s", errmsg);
	ck_assert_int_eq(conf_write(cf, &text, &len, errmsg), 0);
	ck_assert_str_eq(text, "hostname: new\n"
	                       "memory: 1024\n"
	                       "mp0: /srv/data,mp=/data\n"
	                       "onboot: 1\n"
	                       "ostype: debian\n"
	                       "rootfs: local:subvol-100-disk-0,size=8G\n"
	                       "lxc.apparmor.profile: unconfined\n");
	free(text);
	ctm_options_clear(&o);
	conf_file_free(cf);
}
END_TEST

/* The description becomes `#` lines and env becomes the runtime
 * environment entries, as pct writes them. */
START_TEST(test_ctm_options_apply_description_env)
{
	const char *config = "#old text\nmemory: 512\nlxc.environment.runtime: A=1\n"
	                     "lxc.environment.runtime: B=2\nlxc.apparmor.profile: unconfined\n";
	char errmsg[CONF_ERRMSG_SIZE] = "", *text = NULL;
	struct conf_file *cf = NULL;
	struct ctm_options o;
	size_t len;

	ck_assert_int_eq(conf_parse(config, strlen(config), NULL, &cf), 0);
	parse_ok(CTM_COMMAND_SET, "100 -description 'new: 100%' -env C=3", &o);
	ck_assert_msg(ctm_options_apply(&o, conf_main(cf), errmsg) == 0, "%s", errmsg);
	ck_assert_int_eq(conf_write(cf, &text, &len, errmsg), 0);
	ck_assert_str_eq(text, "#new%3A 100%25\n"
	                       "memory: 512\n"
	                       "lxc.environment.runtime: C=3\n"
	                       "lxc.apparmor.profile: unconfined\n");
	free(text);
	ctm_options_clear(&o);

	parse_ok(CTM_COMMAND_SET, "100 -delete description,env", &o);
	ck_assert_int_eq(ctm_options_apply(&o, conf_main(cf), errmsg), 0);
	ck_assert_int_eq(conf_write(cf, &text, &len, errmsg), 0);
	ck_assert_str_eq(text, "memory: 512\nlxc.apparmor.profile: unconfined\n");
	free(text);
	ctm_options_clear(&o);
	conf_file_free(cf);
}
END_TEST

/* A protected container keeps its drives, and nothing else changes. */
START_TEST(test_ctm_options_apply_protected)
{
	char errmsg[CONF_ERRMSG_SIZE] = "", *before = NULL, *after = NULL;
	struct conf_file *cf = NULL;
	struct ctm_options o;
	size_t len;

	ck_assert_int_eq(conf_parse(sample_config, strlen(sample_config), NULL, &cf), 0);
	ck_assert_int_eq(conf_set(conf_main(cf), "protection", "1"), 0);
	ck_assert_int_eq(conf_write(cf, &before, &len, errmsg), 0);

	parse_ok(CTM_COMMAND_SET, "100 -hostname new -mp0 /srv/other,mp=/data", &o);
	ck_assert_int_eq(ctm_options_apply(&o, conf_main(cf), errmsg), -EPERM);
	ck_assert_str_eq(errmsg, "can't update CT 100 drive 'mp0': the container is protected "
	                         "(protection: 1)");
	ctm_options_clear(&o);

	parse_ok(CTM_COMMAND_SET, "100 -delete mp0", &o);
	ck_assert_int_eq(ctm_options_apply(&o, conf_main(cf), errmsg), -EPERM);
	ck_assert_str_eq(errmsg, "can't remove CT 100 drive 'mp0': the container is protected "
	                         "(protection: 1)");
	ctm_options_clear(&o);

	ck_assert_int_eq(conf_write(cf, &after, &len, errmsg), 0);
	ck_assert_str_eq(after, before);
	free(after);

	/* A new mount point is no change to an existing drive. */
	parse_ok(CTM_COMMAND_SET, "100 -mp1 /srv/more,mp=/more", &o);
	ck_assert_int_eq(ctm_options_apply(&o, conf_main(cf), errmsg), 0);
	ck_assert_str_eq(conf_get(conf_main(cf), "mp1"), "/srv/more,mp=/more");
	ctm_options_clear(&o);
	free(before);
	conf_file_free(cf);
}
END_TEST

/*
 * --delete removes a key outside the schema that the config has, because
 * pct lets an admin delete what it cannot parse. A key it lacks is rejected.
 */
START_TEST(test_ctm_options_apply_delete_unknown)
{
	const char *text = "memory: 512\nfrob: 1\ncores: abc\n";
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;
	struct ctm_options o;

	ck_assert_int_eq(conf_parse(text, strlen(text), NULL, &cf), 0);
	parse_ok(CTM_COMMAND_SET, "100 -delete frob,cores", &o);
	ck_assert_int_eq(ctm_options_apply(&o, conf_main(cf), errmsg), 0);
	ck_assert_ptr_null(conf_get(conf_main(cf), "frob"));
	ck_assert_ptr_null(conf_get(conf_main(cf), "cores"));
	ck_assert_str_eq(conf_get(conf_main(cf), "memory"), "512");
	ctm_options_clear(&o);

	parse_ok(CTM_COMMAND_SET, "100 -delete frob -memory 256", &o);
	ck_assert_int_eq(ctm_options_apply(&o, conf_main(cf), errmsg), -EINVAL);
	ck_assert_str_eq(errmsg, "delete: unknown option 'frob', and the config of CT 100 has "
	                         "no such key: check the name with ctmgr config 100");
	ck_assert_str_eq(conf_get(conf_main(cf), "memory"), "512");
	ctm_options_clear(&o);
	conf_file_free(cf);
}
END_TEST

/* Changes to a snapshot or pending section keep its name and kind. */
START_TEST(test_ctm_options_apply_section_kept)
{
	const char *text = "memory: 512\n\n[pve:pending]\nmemory: 1024\n";
	char errmsg[CONF_ERRMSG_SIZE] = "";
	struct conf_file *cf = NULL;
	struct conf_section *pending;
	struct ctm_options o;

	ck_assert_int_eq(conf_parse(text, strlen(text), NULL, &cf), 0);
	pending = conf_pending(cf);
	ck_assert_ptr_nonnull(pending);
	parse_ok(CTM_COMMAND_SET, "100 -swap 64", &o);
	ck_assert_int_eq(ctm_options_apply(&o, pending, errmsg), 0);
	ck_assert_str_eq(pending->name, "pve:pending");
	ck_assert_int_eq(pending->kind, CONF_SECTION_PENDING);
	ck_assert_str_eq(conf_get(pending, "swap"), "64");
	ck_assert_str_eq(conf_get(pending, "memory"), "1024");
	ck_assert_ptr_null(conf_get(conf_main(cf), "swap"));
	ctm_options_clear(&o);
	conf_file_free(cf);
}
END_TEST

/* ---- main ---- */

int main(void)
{
	Suite *s = suite_create("options");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("ctm_options_parse");
	tcase_add_test(tc, test_ctm_options_parse_create);
	tcase_add_test(tc, test_ctm_options_parse_forms);
	tcase_add_test(tc, test_ctm_options_parse_positional);
	tcase_add_test(tc, test_ctm_options_parse_delete);
	tcase_add_loop_test(tc, test_ctm_options_parse_rejected, 0,
	                    (int)N_ELEMENTS(rejected_lines));
	tcase_add_test(tc, test_ctm_options_parse_unknown_command);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_options_get");
	tcase_add_test(tc, test_ctm_options_get_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("ctm_options_apply");
	tcase_add_test(tc, test_ctm_options_apply_changes);
	tcase_add_test(tc, test_ctm_options_apply_description_env);
	tcase_add_test(tc, test_ctm_options_apply_protected);
	tcase_add_test(tc, test_ctm_options_apply_delete_unknown);
	tcase_add_test(tc, test_ctm_options_apply_section_kept);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
