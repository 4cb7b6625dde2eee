/* ctlock: set, clear and check the lock property of a container config
 * by compare-and-swap in the pmxfs store (see ctlock.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "conf/conf.h"
#include "lock/ctlock.h"

const char *const ctlock_values[] = {
	"backup", "create", "destroyed", "disk", "fstrim", "migrate",
	"mounted", "rollback", "snapshot", "snapshot-delete", NULL,
};

static void set_errmsg(char *errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_errmsg(char *errmsg, const char *fmt, ...)
{
	va_list ap;

	if (!errmsg)
		return;
	va_start(ap, fmt);
	vsnprintf(errmsg, LOCK_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
}

bool ctlock_value_valid(const char *value)
{
	for (size_t i = 0; value && ctlock_values[i]; i++)
		if (!strcmp(value, ctlock_values[i]))
			return true;
	return false;
}

/* Look CTID up in /.vmlist, which the store builds from one consistent
 * tree: STATE->node and STATE->path. -ENOENT when it is no container. */
static int find_config(struct pfs_conn *conn, uint32_t ctid, struct ctlock_state *state,
		       char *errmsg)
{
	struct json_object *root = NULL, *ids, *vm, *node, *type;
	char *text = NULL, id[16];
	size_t len = 0;
	int rv;

	rv = pfs_get(conn, "/.vmlist", &text, &len, NULL);
	if (rv < 0) {
		set_errmsg(errmsg, "reading /.vmlist failed: %s", pfs_last_error(conn));
		goto out;
	}
	root = json_tokener_parse(text);
	if (!root || !json_object_object_get_ex(root, "ids", &ids)) {
		set_errmsg(errmsg, "/.vmlist is not the JSON pmxfs writes");
		rv = -EBADMSG;
		goto out;
	}

	snprintf(id, sizeof(id), "%" PRIu32, ctid);
	if (!json_object_object_get_ex(ids, id, &vm) ||
	    !json_object_object_get_ex(vm, "type", &type) ||
	    strcmp(json_object_get_string(type), "lxc") != 0 ||
	    !json_object_object_get_ex(vm, "node", &node)) {
		set_errmsg(errmsg, "CT %" PRIu32 " does not exist", ctid);
		rv = -ENOENT;
		goto out;
	}
	snprintf(state->node, sizeof(state->node), "%s", json_object_get_string(node));
	snprintf(state->path, sizeof(state->path), "/nodes/%s/lxc/%" PRIu32 ".conf", state->node,
		 ctid);
out:
	json_object_put(root);
	free(text);
	return rv;
}

/* Fill STATE->value and STATE->raw from the main section of CF. */
static void read_value(const struct conf_file *cf, struct ctlock_state *state)
{
	const char *value = conf_get(conf_main(cf), "lock");

	snprintf(state->raw, sizeof(state->raw), "%s", value ? value : "");
	state->value[0] = '\0';
	if (ctlock_value_valid(value))
		snprintf(state->value, sizeof(state->value), "%s", value);
}

/* Find and read the config of CTID: *STATE, and *CF when CF is not NULL
 * (caller frees with conf_file_free()). */
static int load(struct pfs_conn *conn, uint32_t ctid, struct ctlock_state *state,
		struct conf_file **cf, char *errmsg)
{
	struct conf_file *parsed = NULL;
	struct pfs_entry st;
	char *text = NULL;
	size_t len = 0;
	int rv;

	if (ctid < CTLOCK_CTID_MIN || ctid > CTLOCK_CTID_MAX) {
		set_errmsg(errmsg, "invalid CTID %" PRIu32 ": use %u to %u", ctid, CTLOCK_CTID_MIN,
			   CTLOCK_CTID_MAX);
		return -EINVAL;
	}
	memset(state, 0, sizeof(*state));
	rv = find_config(conn, ctid, state, errmsg);
	if (rv < 0)
		goto out;

	rv = pfs_get(conn, state->path, &text, &len, &st);
	if (rv == -ENOENT) {
		set_errmsg(errmsg, "CT %" PRIu32 " does not exist", ctid);
		goto out;
	}
	if (rv < 0) {
		set_errmsg(errmsg, "reading %s failed: %s", state->path, pfs_last_error(conn));
		goto out;
	}
	state->version = st.version;

	rv = conf_parse(text, len, state->path, &parsed);
	if (rv < 0) {
		set_errmsg(errmsg, "reading %s failed: %s", state->path, strerror(-rv));
		goto out;
	}
	read_value(parsed, state);
	if (cf) {
		*cf = parsed;
		parsed = NULL;
	}
out:
	conf_file_free(parsed);
	free(text);
	return rv;
}

int ctlock_get(struct pfs_conn *conn, uint32_t ctid, struct ctlock_state *state, char *errmsg)
{
	return load(conn, ctid, state, NULL, errmsg);
}

int ctlock_check(struct pfs_conn *conn, uint32_t ctid, char *errmsg)
{
	struct ctlock_state state;
	int rv = load(conn, ctid, &state, NULL, errmsg);

	if (rv < 0)
		return rv;
	if (state.raw[0]) {
		set_errmsg(errmsg, "CT is locked (%s)", state.raw);
		return -EBUSY;
	}
	return 0;
}

/* One change of the lock property: SET NULL clears it. EXPECTED NULL
 * means "no lock" for a set and "any lock" for a clear. */
struct change {
	uint32_t ctid;
	const char *set;
	const char *expected;
};

/* Check the value found against the expectation of CH. */
static int check_expected(const struct change *ch, const struct ctlock_state *state, char *errmsg)
{
	const char *found = state->raw;

	if (ch->set && !ch->expected) {
		if (found[0]) {
			set_errmsg(errmsg, "CT is locked (%s)", found);
			return -EBUSY;
		}
		return 0;
	}
	if (!found[0]) {
		if (ch->expected)
			set_errmsg(errmsg, "CT %" PRIu32 " has no lock, expected lock '%s'", ch->ctid,
				   ch->expected);
		else
			set_errmsg(errmsg, "no lock found trying to remove any lock");
		return -ENOLCK;
	}
	if (ch->expected && strcmp(found, ch->expected) != 0) {
		set_errmsg(errmsg, "CT %" PRIu32 " has lock '%s', expected lock '%s'", ch->ctid, found,
			   ch->expected);
		return -EBUSY;
	}
	return 0;
}

/* Apply CH to CF and write the result with STATE->version as the
 * expected version. -ESTALE when another change came first. */
static int write_change(struct pfs_conn *conn, const struct change *ch, struct conf_file *cf,
			struct ctlock_state *state, char *errmsg)
{
	struct pfs_cond cond = {.has_version = 1, .version = state->version};
	char *text = NULL;
	size_t len = 0;
	uint64_t version = 0;
	int rv;

	if (ch->set)
		rv = conf_set(conf_main(cf), "lock", ch->set);
	else
		rv = conf_delete(conf_main(cf), "lock");
	if (rv < 0 && rv != -ENOENT) {
		set_errmsg(errmsg, "changing the lock of CT %" PRIu32 " failed: %s", ch->ctid,
			   strerror(-rv));
		goto out;
	}
	rv = conf_write(cf, &text, &len, errmsg);
	if (rv < 0)
		goto out;

	rv = pfs_write(conn, state->path, text, len, &cond, &version);
	if (rv < 0) {
		set_errmsg(errmsg, "writing %s failed: %s", state->path, pfs_last_error(conn));
		goto out;
	}
	state->version = version;
	read_value(cf, state);
out:
	free(text);
	return rv;
}

/* Read, check and write until the write wins or the check fails. */
static int change_lock(struct pfs_conn *conn, const struct change *ch, struct ctlock_state *out,
		       char *errmsg)
{
	struct ctlock_state state;
	struct conf_file *cf = NULL;
	int rv = -ESTALE, attempt;

	for (attempt = 0; attempt < CTLOCK_MAX_ATTEMPTS; attempt++) {
		conf_file_free(cf);
		cf = NULL;
		rv = load(conn, ch->ctid, &state, &cf, errmsg);
		if (rv < 0)
			goto out;
		rv = check_expected(ch, &state, errmsg);
		if (rv < 0)
			goto out;

		/* A config that changed or moved to another node since it was
		 * read fails with -ESTALE, so read it again. */
		rv = write_change(conn, ch, cf, &state, errmsg);
		if (rv != -ESTALE)
			break;
	}
	if (rv == -ESTALE)
		set_errmsg(errmsg,
			   "the config of CT %" PRIu32 " changed %d times while its lock was "
			   "being changed; try again",
			   ch->ctid, CTLOCK_MAX_ATTEMPTS);
	if (rv == 0 && out)
		*out = state;
out:
	conf_file_free(cf);
	return rv;
}

int ctlock_set(struct pfs_conn *conn, uint32_t ctid, const char *value, const char *expected,
	       struct ctlock_state *state, char *errmsg)
{
	struct change ch = {.ctid = ctid, .set = value, .expected = expected};

	if (!ctlock_value_valid(value)) {
		set_errmsg(errmsg,
			   "invalid lock value '%s': use backup, create, destroyed, disk, fstrim, "
			   "migrate, mounted, rollback, snapshot or snapshot-delete",
			   value ? value : "");
		return -EINVAL;
	}
	if (expected && !ctlock_value_valid(expected)) {
		set_errmsg(errmsg, "invalid expected lock value '%s'", expected);
		return -EINVAL;
	}
	return change_lock(conn, &ch, state, errmsg);
}

int ctlock_clear(struct pfs_conn *conn, uint32_t ctid, const char *expected,
		 struct ctlock_state *state, char *errmsg)
{
	struct change ch = {.ctid = ctid, .set = NULL, .expected = expected};

	if (expected && !ctlock_value_valid(expected)) {
		set_errmsg(errmsg, "invalid expected lock value '%s'", expected);
		return -EINVAL;
	}
	return change_lock(conn, &ch, state, errmsg);
}
