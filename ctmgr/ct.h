/*
 * Container operations: what `ctmgr` does to a container, as a library
 * that the node agent can call as well.
 *
 * A container's config lives in the pmxfs store at
 * /nodes/<node>/lxc/<CTID>.conf; /.vmlist records which node owns it. Every
 * change of a config is a compare-and-swap: it is written with the
 * version it was read at, and a concurrent change makes it fail with
 * -ESTALE instead of being lost. Running containers are driven through
 * liblxc, with their LXC config written to <lxc path>/<CTID>/config.
 *
 * Operations that act on the container itself (create, destroy, start,
 * stop, exec, snapshots...) need the container on this node; the caller
 * checks ctm_ct->node against ctm_ctx->node first, and they fail with
 * -EREMOTE otherwise.
 *
 * Return convention: 0, or a negative errno value with ERRMSG
 * (CONF_ERRMSG_SIZE bytes) set to one sentence that names the container
 * and the cause. Warnings (notes of the LXC config generator, guest
 * setup notes) go to ctx->warn when it is set. Nothing is logged.
 */
#ifndef CTMGR_CT_H
#define CTMGR_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf/conf.h"
#include "ctmgr/lxcconf.h"
#include "ctmgr/options.h"
#include "ctmgr/storage.h"
#include "pmxfs/pmxfs.h"

/* The store path of storage.cfg, as /etc/pve/storage.cfg in Proxmox VE. */
#define CTM_STORAGE_CFG_PATH "/storage.cfg"

/* The status area key under which the agent ctmgrd of each node publishes
 * the state of that node's containers, as a JSON object
 * {"CTID": {"status": "running"|"stopped", "lock": "..."}, ...}. */
#define CTM_STATE_KEY "ct-state"

/* The service name ctmgrd registers on its pmxfs. */
#define CTM_AGENT_SERVICE "ctmgr"

/* The request that checks whether the agent of a node runs. `ctmgr list`
 * trusts a node's CTM_STATE_KEY while its agent is registered. It waits
 * CTM_AGENT_PING_TIMEOUT_MS for the reply, and a busy agent that replies
 * later still counts as running. */
#define CTM_AGENT_PING "ping"
#define CTM_AGENT_PING_TIMEOUT_MS 2000

/* The context of every operation. Set conn, then call ctm_ctx_init(). */
struct ctm_ctx {
	struct pfs_conn *conn;  /* caller-owned */
	char node[64];          /* this node, from the pmxfs status */
	bool quorate;           /* from the pmxfs status, when ctm_ctx_init() ran */
	const char *lxc_path;   /* NULL: CTM_LXC_PATH */
	const char *config_dir; /* LXC's shipped includes; NULL: CTM_LXC_CONFIG_DIR */
	FILE *warn;             /* warnings, one line each; NULL: none */
	/* The config whose bad lines were last reported, so that a command
	 * that reads and writes a config more than once warns once. */
	char warned_path[4097];
	bool warned_write; /* the note that a write moves kept lines */
};

/*
 * Read this node's name and the quorum state from the pmxfs status into
 * CTX. Errors: those of pfs_status(), -EBADMSG (not the JSON pmxfs writes).
 */
int ctm_ctx_init(struct ctm_ctx *ctx, char *errmsg);

/* A container config as read from the store. */
struct ctm_ct {
	unsigned ctid;
	char node[64];    /* the node that owns it */
	char path[4097];  /* /nodes/<node>/lxc/<CTID>.conf */
	uint64_t version; /* the config's version when read or last saved */
	struct conf_file *cf;
	/* The number of kept lines with keys after them in their section,
	 * which the writer moves to the section's end, and the first of them. */
	unsigned n_moved;
	unsigned first_moved;
	/* The number of earlier lines of duplicate keys, which a write drops,
	 * and the first of them. */
	unsigned n_shadowed;
	unsigned first_shadowed;
};

/*
 * Find CTID in /.vmlist and read its config. On success *OUT belongs to
 * the caller (ctm_ct_free()).
 * Errors: -ENOENT no such container (or it is a VM), -EINVAL bad CTID,
 * -EBADMSG, -ENOMEM, those of pfs_get().
 */
int ctm_ct_load(struct ctm_ctx *ctx, unsigned ctid, struct ctm_ct **out, char *errmsg);

/*
 * Remove from every section of CF the lines the reader kept as shadowed
 * (the earlier lines of a duplicate key), so that a write keeps only the
 * value in use. Returns their number. *FIRST (may be NULL) gets the first
 * of their lines.
 */
unsigned ctm_ct_drop_shadowed(struct conf_file *cf, unsigned *first);

/*
 * Write CT->cf with the expected version CT->version and update that
 * version. Errors: -ESTALE the config changed since it was read (the
 * message says to run the command again), -EROFS not quorate, -EINVAL a
 * value with a line break, those of pfs_write().
 */
int ctm_ct_save(struct ctm_ctx *ctx, struct ctm_ct *ct, char *errmsg);

/* Free CT; NULL is allowed. */
void ctm_ct_free(struct ctm_ct *ct);

/* Options of create besides the config keys, which come in OPTS. */
struct ctm_create_params {
	const struct ctm_options *opts; /* parsed with CTM_COMMAND_CREATE */
	const char *ssh_keys;           /* text of the authorized_keys lines, or NULL */
};

/*
 * Create container OPTS->vmid on this node from the template archive
 * OPTS->ostemplate (a path or a `storage:vztmpl/...` volume; gz, xz, zst
 * or plain tar): allocate rootfs and mpN requests, unpack with numeric
 * owners (shifted by the id map for unprivileged containers), run guest
 * setup with hostname, password and SSH keys, and write the config with
 * `lock: create` into the store first and without it at the end. Any
 * failure removes what was created.
 * Errors: -EEXIST CTID taken, -EINVAL bad option or archive, -ENOENT
 * archive or storage missing, -EROFS not quorate, those of storage,
 * guest setup and pfs_create().
 */
int ctm_ct_create(struct ctm_ctx *ctx, const struct ctm_create_params *params, char *errmsg);

/*
 * Destroy a stopped, unlocked container: set `lock: destroyed`, free its
 * volumes (also those of snapshots and unusedN), remove the config and
 * the LXC folder. Errors: -EBUSY running or locked, -ENOENT, -EREMOTE.
 */
int ctm_ct_destroy(struct ctm_ctx *ctx, unsigned ctid, char *errmsg);

/* The running state of a local container, from liblxc. */
int ctm_ct_running(struct ctm_ctx *ctx, unsigned ctid, bool *running, char *errmsg);

struct ctm_start_params {
	const char *debug_log; /* write LXC's debug log to this file, or NULL */
	/* The config of the container as ctm_ct_load() just read it, or NULL
	 * to read it. Saves the reads when the caller has it. It stays the
	 * caller's; the start applies the pending changes to it. */
	struct ctm_ct *ct;
};

/*
 * Start a container: refuse when locked ("CT is locked (VALUE)") or
 * without quorum, apply `[pve:pending]`, check bind mount sources, write
 * the LXC config, stage mounts, run guest setup and start through liblxc.
 * Errors: -EBUSY locked, -EROFS not quorate, -EALREADY running, -ENOENT
 * a mount source is missing, -EINVAL config, -EIO LXC failed.
 */
int ctm_ct_start(struct ctm_ctx *ctx, unsigned ctid, const struct ctm_start_params *params,
                 char *errmsg);

/* Kill a running container at once. Errors: -EBUSY locked, -EIO. */
int ctm_ct_stop(struct ctm_ctx *ctx, unsigned ctid, char *errmsg);

/*
 * Ask the container's init to shut down (SIGPWR) and wait TIMEOUT
 * seconds; then kill it when FORCE, else fail with -ETIMEDOUT.
 */
int ctm_ct_shutdown(struct ctm_ctx *ctx, unsigned ctid, unsigned timeout, bool force, char *errmsg);

/* Shut down (killing after TIMEOUT seconds) and start again. */
int ctm_ct_reboot(struct ctm_ctx *ctx, unsigned ctid, unsigned timeout, char *errmsg);

/*
 * Run ARGV in the running container and store its exit status (or 128 +
 * signal) in *STATUS. Errors: -EINVAL not running or empty ARGV, -EIO.
 */
int ctm_ct_exec(struct ctm_ctx *ctx, unsigned ctid, char *const argv[], int *status, char *errmsg);

/*
 * Apply `ctmgr set` OPTS (parsed with CTM_COMMAND_SET): on a stopped
 * container to the config. On a running one memory, swap, cores,
 * cpulimit and cpuunits go to the config and its cgroups at once, the
 * keys of ctm_ct_fastplug_key() to the config, and other changes into
 * `[pve:pending]`. Every value is checked before anything changes.
 * Errors: -EBUSY locked, -ESTALE concurrent change or digest mismatch,
 * -EINVAL, -EIO a cgroup write failed (nothing saved).
 */
int ctm_ct_set(struct ctm_ctx *ctx, const struct ctm_options *opts, char *errmsg);

/* Clear any lock of CTID, on any node. Errors: as ctlock_clear(). */
int ctm_ct_unlock(struct ctm_ctx *ctx, unsigned ctid, char *errmsg);

/* Snapshots: the config through conf/snapshot.h, the volumes by copy. */
int ctm_ct_snapshot(struct ctm_ctx *ctx, unsigned ctid, const char *name, const char *comment,
                    char *errmsg);
int ctm_ct_delsnapshot(struct ctm_ctx *ctx, unsigned ctid, const char *name, bool force,
                       char *errmsg);
int ctm_ct_rollback(struct ctm_ctx *ctx, unsigned ctid, const char *name, char *errmsg);

/*
 * Run the hookscript of config section S (`hookscript:
 * STORAGE:snippets/FILE`) on the host as `SCRIPT CTID PHASE`, with stdin
 * from /dev/null, and wait for it. Without a hookscript nothing runs.
 * PHASE is pre-start, post-start, pre-stop or post-stop.
 * Errors: -ENOENT the script or its storage is missing, -EACCES not
 * executable, -EINVAL not a snippets volume, -EIO it failed (the message
 * names the script, the phase and its exit status or signal).
 */
int ctm_ct_hookscript(struct ctm_ctx *ctx, unsigned ctid, const struct conf_section *s,
                      const char *phase, char *errmsg);

/*
 * The pmxfs part of the LXC hook `ctmgr hook CTID lxc PHASE`: for
 * post-stop, read the current config and find its hookscript. SCRIPT (SIZE
 * bytes) gets the path to run with ctm_ct_hook_run(), or "" when there is
 * none. Errors: -EINVAL another phase, those of ctm_ct_load() and the
 * checks of ctm_ct_hookscript().
 */
int ctm_ct_hook_script(struct ctm_ctx *ctx, unsigned ctid, const char *phase, char *script,
                       size_t size, char *errmsg);

/*
 * Run SCRIPT as `SCRIPT CTID PHASE` with stdin from /dev/null and none of
 * our other descriptors, and wait for it. Errors: -EIO it failed (the
 * message names the script, the phase and its exit status or signal),
 * or those of fork().
 */
int ctm_ct_hook_run(unsigned ctid, const char *script, const char *phase, char *errmsg);

/*
 * Run the root user's login shell (or /bin/sh) in the running container.
 * The shell gets a clean environment (PATH, and TERM from the caller or
 * linux) and the caller's stdin, stdout and stderr. Its exit status goes
 * to *STATUS. Errors: -EINVAL not running, -EIO attach failed.
 */
int ctm_ct_enter(struct ctm_ctx *ctx, unsigned ctid, int *status, char *errmsg);

/*
 * Connect the caller's terminal to the container's console until the
 * user types Ctrl+a q. The console is tty 0 with `cmode: console`, else
 * the first free tty. With `cmode: shell` this runs ctm_ct_enter() and
 * stores the shell's exit status in *STATUS, which is 0 otherwise.
 * Errors: -EINVAL not running or `console: 0`, -ENOTTY stdin is no
 * terminal, -EIO.
 */
int ctm_ct_console(struct ctm_ctx *ctx, unsigned ctid, int *status, char *errmsg);

/*
 * The CPU list (`0-1,3`) of the cpuset of the running CTID, from its
 * cgroup, into BUF. Errors: -EINVAL not running, -ENOENT no cpuset
 * cgroup, -errno reading it.
 */
int ctm_ct_cpuset(struct ctm_ctx *ctx, unsigned ctid, char *buf, size_t size, char *errmsg);

/* One row of `ctmgr list`. */
struct ctm_ct_info {
	unsigned ctid;
	char node[64];
	char status[16]; /* "running", "stopped" or "unknown" */
	char lock[64];   /* "" when none */
	char name[256];  /* hostname, "" when unset */
};

/*
 * List every container of the cluster in CTID order: configs from the
 * store, the state from each node's status area entry, else from liblxc
 * for containers of this node, else "unknown". *OUT: caller frees.
 */
int ctm_ct_list(struct ctm_ctx *ctx, struct ctm_ct_info **out, size_t *count, char *errmsg);

/* ---- Pure helpers, used by the operations above and tested alone ---- */

/* One container of /.vmlist. */
struct ctm_vmlist_entry {
	unsigned ctid;
	char node[64];
	bool lxc; /* false for qemu-server */
	uint64_t version;
};

/*
 * Parse the /.vmlist JSON TEXT into *OUT (caller frees), sorted by CTID.
 * Errors: -EBADMSG, -ENOMEM.
 */
int ctm_vmlist_parse(const char *text, struct ctm_vmlist_entry **out, size_t *count);

/*
 * Apply the pending section of CF to its main section, as pct does at
 * start: each pending key replaces the main one, each key of the pending
 * `delete` list is removed, and the pending section goes away.
 * *CHANGED tells whether there was anything. Errors: -ENOMEM.
 */
int ctm_ct_apply_pending(struct conf_file *cf, bool *changed);

/* True for the keys a running container takes at once: memory, swap,
 * cores, cpulimit, cpuunits. */
bool ctm_ct_hot_key(const char *key);

/*
 * True when `ctmgr set` on a running container with main section CUR
 * applies a change of KEY at once as a mount: setting an mpN or devN that
 * CUR does not have (DELETE false), or deleting an mpN that CUR has
 * (DELETE true). Changes of an existing mpN or devN, deleting a devN and
 * rootfs wait in the pending section.
 */
bool ctm_ct_hotplug_key(const struct conf_section *cur, const char *key, bool delete);

/*
 * Parse the CPU list LIST (`0-2,5`, the format of cpuset.cpus) and set
 * SET[i] for each CPU i below LIMIT; *MAX becomes the highest CPU set when
 * that is above it. An empty list is valid. Errors: -EINVAL bad syntax
 * (SET may be partly filled).
 */
int ctm_cpulist_parse(const char *list, bool *set, size_t limit, int *max);

/* True for the keys that only the config reads, which a running container
 * takes at once as pct's "fastplug" options: description, onboot, startup,
 * protection, hookscript, tags. */
bool ctm_ct_fastplug_key(const char *key);

/*
 * The cgroup writes that move a running container from the resources of
 * OLD_CFG to those of NEW_CFG (both LXC configs of ctm_lxc_config_build()):
 * each `lxc.cgroup.*` or `lxc.cgroup2.*` key of the memory, cpu and cpuset
 * controllers whose value differs, without the prefix, as
 * set_cgroup_item() takes them. On a v1 host a growing memory limit
 * writes memory.memsw.limit_in_bytes before memory.limit_in_bytes and a
 * shrinking one after, because the kernel keeps memsw >= limit.
 * *OUT (caller frees the keys and values and the array).
 * Errors: -ENOMEM.
 */
int ctm_ct_cgroup_changes(const struct ctm_lxc_config *old_cfg,
                          const struct ctm_lxc_config *new_cfg, struct ctm_lxc_item **out,
                          size_t *count);

/* Free N items of ITEMS and the array; NULL is allowed. */
void ctm_lxc_items_free(struct ctm_lxc_item *items, size_t n);

/*
 * Collect the storage volume ids used by section S (rootfs, mpN and
 * unusedN of type `storage:name`), unique, in key order, into *OUT
 * (NULL-terminated, caller frees each and the array). Errors: -ENOMEM.
 */
int ctm_ct_section_volumes(const struct conf_section *s, bool with_unused, char ***out);

/*
 * Check the storage of every allocation request (STORAGE:SIZE) of rootfs
 * and mpN in section S, as create and set do before they write anything:
 * the storage exists, is enabled, is on NODE and allows content rootdir.
 * With ONLY, just the keys that ONLY sets.
 * ERRMSG names the key, the storage and the storages that would do.
 * Errors: -ENOENT, -EACCES, -EINVAL.
 */
int ctm_ct_check_alloc_storages(const struct ctm_storage_cfg *storage, const char *node,
                                const struct conf_section *s, const struct ctm_options *only,
                                char *errmsg);

/* Free a NULL-terminated string array; NULL is allowed. */
void ctm_strv_free(char **v);

#endif /* CTMGR_CT_H */
