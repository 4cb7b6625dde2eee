/*
 * pmxfsctl lock NAME [--timeout S] [--lease S] -- COMMAND [ARGS...]
 * pmxfsctl locks
 *
 * `lock` runs COMMAND while holding the cluster lock NAME. The command
 * gets the fencing token in PMXFS_LOCK_TOKEN, runs in a process group of
 * its own, and that group is killed with SIGKILL when the lock is lost (a
 * renewal came too late or was refused). The lock is released when the
 * command exits. Exit status: the command's (128 + signal when it was
 * killed), 7 when the lock was not acquired within the timeout, 4 when
 * the lock was lost while the command ran.
 *
 * `locks` lists the held locks as the local daemon shows them: name,
 * holder node and pid, token, waiters (count, then one line each) and the
 * lease left as this node times it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exit_code.h"
#include "lock/lock.h"
#include "pmxfs/pmxfs.h"
#include "pmxfs/pmxfsctl_lock.h"
#include "pmxfs/pmxfsctl_quote.h"

/* The default wait for the lock, as pct waits for its config lock. */
#define LOCK_CMD_DEFAULT_TIMEOUT_S 10

struct running {
	atomic_int pgid; /* the command's process group, 0 before it starts */
	atomic_bool lost;
};

static const char *node_label(const char *name, uint32_t id, char *buf, size_t len);

/* Like pmx_exit_code(), but a lock still held after the wait is a timeout. */
static int exit_code_of(int rv)
{
	return rv == -EBUSY ? EXIT_TIMEOUT : pmx_exit_code(rv);
}

/* Runs on a lock thread: stop the command before anyone else acts. */
static void on_lost(struct lock *lock, void *ctx)
{
	struct running *run = ctx;
	int pgid = atomic_load(&run->pgid);

	(void)lock;
	atomic_store(&run->lost, true);
	if (pgid > 0)
		kill(-pgid, SIGKILL);
}

static int parse_seconds(const char *text, uint32_t max_s, uint32_t *ms)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max_s)
		return -EINVAL;
	*ms = (uint32_t)(v * 1000);
	return 0;
}

static pid_t start_command(char **command, uint64_t token)
{
	char value[24];
	pid_t pid = fork();

	if (pid != 0)
		return pid;

	/* Child: a process group of its own, so that a lost lock kills all of it. */
	setpgid(0, 0);
	snprintf(value, sizeof(value), "%" PRIu64, token);
	setenv("PMXFS_LOCK_TOKEN", value, 1);
	execvp(command[0], command);
	fprintf(stderr, "pmxfsctl: cannot run %s: %s\n", command[0], strerror(errno));
	_exit(127);
}

static int wait_command(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return EXIT_ERROR;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/*
 * Print why the lock was not acquired. For a busy lock, also print the
 * holder's node and pid when the daemon reports them.
 */
static void report_not_acquired(const char *service, const char *name, const char *shown,
				int rv, uint32_t timeout_ms, const char *errmsg)
{
	char info_err[LOCK_ERRMSG_SIZE] = "", node[16];
	struct lock_info info = { 0 };
	struct pfs_conn *conn = NULL;
	unsigned min_ms, max_ms, requested;
	const char *outside, *lease;

	/* The daemon's range of leases ("acquiring lock 'x' failed: lease 1000
	 * ms of lock 'x' is outside 11600..3600000 ms"): print it once, in
	 * seconds, the unit of --lease. */
	lease = strncmp(errmsg, "lease ", 6) == 0 ? errmsg : strstr(errmsg, "failed: lease ");
	if (lease && lease != errmsg)
		lease += 8;
	outside = lease ? strstr(lease, " is outside ") : NULL;
	if (rv == -EINVAL && outside && sscanf(lease, "lease %u ms", &requested) == 1 &&
	    sscanf(outside, " is outside %u..%u ms", &min_ms, &max_ms) == 2) {
		fprintf(stderr, "pmxfsctl: cannot acquire lock '%s': a lease of %u s is too %s "
			"for this cluster; give --lease %u to %u (seconds)\n", shown, requested / 1000,
			requested < min_ms ? "short" : "long", (min_ms + 999) / 1000, max_ms / 1000);
		return;
	}
	if (rv == -EINVAL && strncmp(errmsg, "invalid lock name", 17) == 0) {
		fprintf(stderr, "pmxfsctl: invalid lock name '%s': use 1 to 128 bytes without "
			"'/'\n", shown);
		return;
	}
	/* Only a lock held by another: after a request that got no reply,
	 * the holder shown may be this very request. */
	if (rv == -EBUSY || (rv == -ETIMEDOUT && strstr(errmsg, "is still held"))) {
		if (pfs_connect_timeout(service, 2000, &conn) == 0 &&
		    lock_inspect(conn, name, &info, info_err) == 0) {
			if (info.pid)
				fprintf(stderr, "pmxfsctl: lock '%s' is held by pid %" PRIu32
					" on node %s (token %" PRIu64 "); ", shown, info.pid,
					node_label(info.node_name, info.node, node, sizeof(node)),
					info.token);
			else
				fprintf(stderr, "pmxfsctl: lock '%s' is held by node %s (token %"
					PRIu64 "); ", shown,
					node_label(info.node_name, info.node, node, sizeof(node)),
					info.token);
			lock_info_clear(&info);
			pfs_disconnect(conn);
			if (rv == -EBUSY)
				fprintf(stderr, "not acquired, as --timeout 0 does not wait (exit 7)\n");
			else
				fprintf(stderr, "not acquired within %" PRIu32 " s (exit 7)\n",
					timeout_ms / 1000);
			return;
		}
		pfs_disconnect(conn);
		if (rv == -EBUSY) {
			fprintf(stderr, "pmxfsctl: lock '%s' is held; not acquired, as --timeout 0 "
				"does not wait (exit 7)\n", shown);
			return;
		}
	}
	fprintf(stderr, "pmxfsctl: cannot acquire lock '%s': %s\n", shown,
		errmsg[0] != '\0' ? errmsg : strerror(-rv));
}

static int run_locked(const char *service, const char *name, uint32_t lease_ms,
		      uint32_t timeout_ms, char **command)
{
	char errmsg[LOCK_ERRMSG_SIZE] = "", shown[PMXFSCTL_QUOTE_SIZE];
	struct running run = { 0 };
	struct lock *lock = NULL;
	enum lock_lost_cause cause;
	pid_t pid;
	int rv, code;

	pmxfsctl_quote(name, shown);
	rv = lock_acquire(service, name, lease_ms, timeout_ms, on_lost, &run, &lock, errmsg);
	if (rv < 0) {
		report_not_acquired(service, name, shown, rv, timeout_ms, errmsg);
		/* An invalid name or lease is a usage error; nothing was asked. */
		return rv == -EINVAL ? EXIT_USAGE : exit_code_of(rv);
	}

	pid = start_command(command, lock_token(lock));
	if (pid < 0) {
		fprintf(stderr, "pmxfsctl: cannot start %s: %s\n", command[0], strerror(errno));
		lock_release(lock, errmsg);
		return EXIT_ERROR;
	}
	/* Set the group here too, so on_lost never signals a group not yet made. */
	setpgid(pid, pid);
	atomic_store(&run.pgid, pid);
	if (atomic_load(&run.lost))
		kill(-pid, SIGKILL);

	code = wait_command(pid);
	cause = lock_lost_cause(lock);
	rv = lock_release(lock, errmsg);
	if (atomic_load(&run.lost) || rv == -ENOLCK) {
		fprintf(stderr, "pmxfsctl: lock '%s' was lost while %s ran (%s): the command was "
			"killed\n", shown, command[0],
			cause != LOCK_LOST_NONE ? lock_lost_cause_text(cause)
						: "it was no longer held at its release");
		return EXIT_CONFLICT;
	}
	if (rv < 0)
		fprintf(stderr, "pmxfsctl: cannot release lock '%s': %s (its lease will run out)\n",
			shown, errmsg[0] != '\0' ? errmsg : strerror(-rv));
	return code;
}

static int bad_seconds(const char *option, const char *value)
{
	if (strcmp(option, "lease") == 0)
		fprintf(stderr, "pmxfsctl: invalid number of seconds '%s' for --lease: give %u to %u "
			"(the cluster may require a longer lease)\n", value != NULL ? value : "",
			LOCK_MIN_LEASE_MS / 1000, LOCK_MAX_LEASE_MS / 1000);
	else
		fprintf(stderr, "pmxfsctl: invalid number of seconds '%s' for --%s: give 0 to 86400\n",
			value != NULL ? value : "", option);
	return EXIT_USAGE;
}

static void lock_usage(FILE *out)
{
	fputs("Usage: pmxfsctl lock NAME [--timeout S] [--lease S] -- COMMAND [ARGS...]\n"
	      "\n"
	      "Run COMMAND while holding the cluster lock NAME; its token is in\n"
	      "PMXFS_LOCK_TOKEN. The command's process group is killed if the lock is lost.\n"
	      "\n"
	      "  --timeout S   wait at most S seconds (not milliseconds) for the lock,\n"
	      "                0 to 86400 (default 10; 0: do not wait)\n"
	      "  --lease S     lease in seconds, renewed while the command runs (default 120)\n"
	      "\n"
	      "A global --timeout MS before lock (pmxfsctl --timeout 2000 lock NAME ...) is\n"
	      "the same wait in milliseconds; given with --timeout S, the two must agree.\n"
	      "A --json before lock is accepted; lock prints nothing of its own.\n"
	      "\n"
	      "Exit status: the command's; 7 when the lock was not acquired in time, 4 when\n"
	      "it was lost while the command ran, 5 without quorum.\n",
	      out);
}

/* Match ARG against --NAME S or --NAME=S; *VALUE is S, *USED the words taken. */
static bool match_option(char **argv, int i, int argc, const char *name, const char **value,
			 int *used)
{
	size_t len = strlen(name);
	const char *arg = argv[i];

	if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, len) != 0)
		return false;
	if (arg[2 + len] == '=') {
		*value = arg + 3 + len;
		*used = 1;
		return true;
	}
	if (arg[2 + len] != '\0')
		return false;
	*value = i + 1 < argc ? argv[i + 1] : NULL;
	*used = 2;
	return true;
}

int pmxfsctl_lock_main(const char *service, int global_timeout_ms, int argc, char **argv)
{
	uint32_t timeout_ms = LOCK_CMD_DEFAULT_TIMEOUT_S * 1000, lease_ms = 0;
	const char *value, *own_timeout = NULL;
	int i, used;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		lock_usage(stdout);
		return EXIT_OK;
	}
	if (argc < 2 || strncmp(argv[1], "--", 2) == 0)
		goto usage;

	/* ARGV: lock NAME [--timeout S] [--lease S] -- COMMAND... */
	for (i = 2; i < argc && strcmp(argv[i], "--") != 0; i += used) {
		if (match_option(argv, i, argc, "timeout", &value, &used)) {
			if (value == NULL || parse_seconds(value, 86400, &timeout_ms) < 0)
				return bad_seconds("timeout", value);
			own_timeout = value;
		} else if (match_option(argv, i, argc, "lease", &value, &used)) {
			if (value == NULL ||
			    parse_seconds(value, LOCK_MAX_LEASE_MS / 1000, &lease_ms) < 0 ||
			    lease_ms < LOCK_MIN_LEASE_MS)
				return bad_seconds("lease", value);
		} else {
			char q[PMXFSCTL_QUOTE_SIZE];

			fprintf(stderr, "pmxfsctl: lock: unknown option '%s'; see pmxfsctl lock "
				"--help\n", pmxfsctl_quote(argv[i], q));
			return EXIT_USAGE;
		}
	}
	if (i + 1 >= argc)
		goto usage;
	/* The global --timeout is in milliseconds, lock's own in seconds. */
	if (global_timeout_ms >= 0 && own_timeout && (uint32_t)global_timeout_ms != timeout_ms) {
		fprintf(stderr, "pmxfsctl: lock: --timeout %d before lock (milliseconds) and "
			"--timeout %s after the name (seconds) disagree; give one of them\n",
			global_timeout_ms, own_timeout);
		return EXIT_USAGE;
	}
	if (global_timeout_ms >= 0)
		timeout_ms = (uint32_t)global_timeout_ms;
	return run_locked(service, argv[1], lease_ms, timeout_ms, argv + i + 1);

usage:
	fprintf(stderr, "pmxfsctl: lock takes NAME, options, then -- and a COMMAND; see pmxfsctl lock --help\n");
	return EXIT_USAGE;
}

static json_object *waiters_json(const struct lock_info *info)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; i < info->nwaiters; i++) {
		const struct pfs_lock_waiter *w = &info->waiters[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "node", json_object_new_int64(w->node));
		json_object_object_add(o, "node_name", json_object_new_string(w->node_name));
		json_object_object_add(o, "pid", json_object_new_int64(w->pid));
		json_object_array_add(list, o);
	}
	return list;
}

static void print_json(const struct lock_info *infos, size_t count)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; i < count; i++) {
		const struct lock_info *l = &infos[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "name", json_object_new_string(l->name));
		json_object_object_add(o, "node", json_object_new_int64(l->node));
		json_object_object_add(o, "node_name", json_object_new_string(l->node_name));
		json_object_object_add(o, "pid", json_object_new_int64(l->pid));
		json_object_object_add(o, "token", json_object_new_uint64(l->token));
		json_object_object_add(o, "lease_ms", json_object_new_int64(l->lease_ms));
		json_object_object_add(o, "lease_left_ms", l->lease_left_ms < 0
					   ? NULL : json_object_new_int64(l->lease_left_ms));
		json_object_object_add(o, "acquired", json_object_new_int64(l->acquired));
		json_object_object_add(o, "waiters", waiters_json(l));
		json_object_array_add(list, o);
	}
	puts(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN));
	json_object_put(list);
}

/* The holder's node name, or its id when the name is not known. */
static const char *node_label(const char *name, uint32_t id, char *buf, size_t len)
{
	if (name[0] != '\0')
		return name;
	snprintf(buf, len, "%" PRIu32, id);
	return buf;
}

/* One line per lock, and under it one indented line per waiter. */
static void print_table(const struct lock_info *infos, size_t count)
{
	char node[16], left[32];

	printf("%-32s %-16s %8s %10s %7s %10s\n", "NAME", "NODE", "PID", "TOKEN", "WAITERS",
	       "LEASE-LEFT");
	for (size_t i = 0; i < count; i++) {
		const struct lock_info *l = &infos[i];

		if (l->lease_left_ms < 0)
			snprintf(left, sizeof(left), "-");
		else
			snprintf(left, sizeof(left), "%.1fs", l->lease_left_ms / 1000.0);
		printf("%-32s %-16s %8" PRIu32 " %10" PRIu64 " %7zu %10s\n", l->name,
		       node_label(l->node_name, l->node, node, sizeof(node)), l->pid, l->token,
		       l->nwaiters, left);
		for (size_t w = 0; w < l->nwaiters; w++)
			printf("  waiter %zu: node %s pid %" PRIu32 "\n", w + 1,
			       node_label(l->waiters[w].node_name, l->waiters[w].node, node,
					  sizeof(node)),
			       l->waiters[w].pid);
	}
}

int pmxfsctl_locks(struct pfs_conn *conn, bool json)
{
	char errmsg[LOCK_ERRMSG_SIZE] = "";
	struct lock_info *infos = NULL;
	size_t count = 0;
	int rv = lock_list(conn, &infos, &count, errmsg);

	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: cannot list locks: %s\n",
			errmsg[0] != '\0' ? errmsg : strerror(-rv));
		return exit_code_of(rv);
	}
	if (json)
		print_json(infos, count);
	else
		print_table(infos, count);
	lock_list_free(infos, count);
	return EXIT_OK;
}
