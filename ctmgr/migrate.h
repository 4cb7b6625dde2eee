/*
 * Container migration between nodes (docs/migration.md): the task the
 * source node's agent runs, its task id and log, and the target side's
 * helpers.
 *
 * Task id (as Proxmox's UPID):
 *   UPID:<node>:<pid, 8 hex digits>:<start time, 8 hex digits>:ctmigrate:<CTID>:root:
 * <node> is the source node whose agent runs the task, <pid> the task
 * process. The log is the file <task dir>/<id>, one line per event with a
 * timestamp; its last line is "TASK OK" or "TASK ERROR: <message>". The
 * task dir is /var/log/ctmgr/tasks, or $CTMGR_TASK_DIR.
 *
 * Agent requests (node-addressed, service "ctmgr"):
 *   migrate CTID TARGET RESTART TIMEOUT   on the source: start the task;
 *                                         the reply's message is the task id
 *   tasklog ID OFFSET                     on the source: "NEXT DONE STATUS\n"
 *                                         and up to 48 KiB of the log from OFFSET
 *   expect CTID TOKEN STORAGE             on the target: accept the transfer of
 *                                         CTID with TOKEN within 60 s
 *   place CTID STORAGE FOLDER             on the target: move the raw images of a
 *                                         received transfer folder up into images/CTID
 *   abort CTID STORAGE VOLUME             on the target: remove a received volume
 */
#ifndef CTMGR_MIGRATE_H
#define CTMGR_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ctmgr/ct.h"
#include "ctmgr/xfer.h"

#define CTM_TASK_DIR "/var/log/ctmgr/tasks"
#define CTM_TASK_ID_SIZE 160
/* Bytes of log per tasklog reply. */
#define CTM_TASK_SLICE 49152

/* The default transfer port, when datacenter.cfg sets no `migration: port=N`. */
#define CTM_MIGRATE_PORT 60000
/* The default shutdown timeout of --restart, as pct's. */
#define CTM_MIGRATE_TIMEOUT 180
/* The store path of the cluster key. */
#define CTM_CLUSTER_KEY_PATH "/priv/cluster.key"
/* Test only: seconds the task sleeps after the config rename. */
#define CTM_MIGRATE_PAUSE_ENV "CTMGR_TEST_PAUSE_AFTER_RENAME"
/* Test only: seconds the task sleeps once per copy, after the first frame
 * of the archive went out; below the receiver's stall timeout. */
#define CTM_MIGRATE_COPY_PAUSE_ENV "CTMGR_TEST_PAUSE_DURING_COPY"

/* The request of a migration. */
struct ctm_migrate_params {
	unsigned ctid;
	char target[64];
	bool restart;
	unsigned timeout; /* seconds of the shutdown before the kill */
};

/* The task folder: $CTMGR_TASK_DIR or CTM_TASK_DIR. */
const char *ctm_task_dir(void);

/* Write the id of a task into OUT (CTM_TASK_ID_SIZE bytes). */
void ctm_task_id(char *out, const char *node, pid_t pid, time_t start, unsigned ctid);

/*
 * Check that ID is a task id and copy its node into NODE (64 bytes).
 * Errors: -EINVAL.
 */
int ctm_task_id_node(const char *id, char *node, char *errmsg);

/* The message the agent writes after "TASK ERROR: " into the log of a task
 * whose process ended without a final line (killed, as with its agent). */
#define CTM_TASK_ORPHANED "the task's process ended without a result (agent restarted?)"

/*
 * Create the log of task ID (mode 0640) and lock it (flock) for the
 * task: the agent calls it before it forks the task process, which
 * inherits the descriptor and so holds the lock until it ends. Returns
 * the descriptor, or a negative errno value.
 */
int ctm_task_log_create(const char *id);

/*
 * End the log of task ID with "TASK ERROR: " CTM_TASK_ORPHANED when it
 * has no final line and no process holds its lock. Returns 1 when it
 * wrote that line, 0 when the log has its final line or the task runs.
 * Errors: -EINVAL bad id, -errno of opening, locking or writing the log.
 */
int ctm_task_end_orphan(const char *id, char *errmsg);

/*
 * ctm_task_end_orphan() on every task log of the task folder; *ENDED
 * counts the logs it ended. Goes on after an error and returns the first.
 */
int ctm_task_end_orphans(unsigned *ended, char *errmsg);

/*
 * Read the log of task ID from OFFSET: up to CTM_TASK_SLICE bytes into
 * *DATA (caller frees, NUL-terminated), *LEN. *DONE when the log has its
 * final line and nothing is left after the slice; *STATUS is then 0 for
 * TASK OK and 1 for TASK ERROR. Errors: -ENOENT no such task, -EINVAL.
 */
int ctm_task_read(const char *id, uint64_t offset, char **data, size_t *len, bool *done,
                  int *status, char *errmsg);

/*
 * Parse "migrate CTID TARGET [RESTART [TIMEOUT]]" (RESTART 0 or 1, TIMEOUT
 * in seconds). The request parsers reject what ctm_agent_split() rejects,
 * a wrong number of fields, numbers out of range and invalid names, with
 * ERRMSG naming the field. Errors: -EINVAL.
 */
int ctm_migrate_parse(const char *text, struct ctm_migrate_params *p, char *errmsg);

/* A transfer announced to the target's agent by an expect request. */
struct ctm_migrate_expect {
	unsigned ctid;
	char token[CTM_XFER_TOKEN_MAX + 1];
	char storage[64];
	int64_t deadline_ms; /* CLOCK_MONOTONIC; set by the agent */
};

/* Parse "expect CTID TOKEN STORAGE" into E (deadline 0). Errors: -EINVAL. */
int ctm_migrate_parse_expect(const char *text, struct ctm_migrate_expect *e, char *errmsg);

/*
 * Parse "VERB CTID STORAGE VOLUME" with VERB "abort" or "place" (given):
 * STORAGE (64 bytes), VOLUME (CTM_XFER_VOLUME_MAX + 1 bytes, a valid
 * volume path). Errors: -EINVAL.
 */
int ctm_migrate_parse_volume(const char *text, const char *verb, unsigned *ctid, char *storage,
                             char *volume, char *errmsg);

/* Parse "tasklog ID OFFSET": ID (CTM_TASK_ID_SIZE bytes). Errors: -EINVAL. */
int ctm_migrate_parse_tasklog(const char *text, char *id, uint64_t *offset, char *errmsg);

/*
 * Run the migration P on this (the source) node, writing the log to LOG.
 * Returns 0, or a negative errno value with ERRMSG set to the cause and,
 * after the config rename, what is left to do.
 */
int ctm_migrate_run(struct ctm_ctx *ctx, const struct ctm_migrate_params *p, FILE *log,
                    char *errmsg);

/*
 * The transfer port (datacenter.cfg `migration: ... port=N`, else
 * CTM_MIGRATE_PORT), and NODE's ring address from /.members into ADDR
 * (64 bytes). Errors: -ENOENT node unknown or without address, -EINVAL a
 * bad port, those of pfs_get().
 */
int ctm_migrate_port(struct ctm_ctx *ctx, uint16_t *port, char *errmsg);
int ctm_migrate_node_addr(struct ctm_ctx *ctx, const char *node, char *addr, char *errmsg);

/* Load the transfer key from the store's cluster key. */
int ctm_migrate_key(struct ctm_ctx *ctx, struct ctm_xfer_key *key, char *errmsg);

/*
 * Target side. ctm_migrate_storage_path() gives the folder of the dir
 * storage ID on this node (caller frees *PATH).
 * ctm_migrate_abort() removes the received VOLUME of CTID (a path below
 * images/CTID/ of the storage). ctm_migrate_clean() removes the
 * `.incoming` folders of every dir storage of this node; *REMOVED counts
 * them.
 */
int ctm_migrate_storage_path(struct ctm_ctx *ctx, const char *storage_id, char **path,
                             char *errmsg);
/*
 * Receive on FD, a connection the agent accepted on SERVER (closed here),
 * the transfer whose header matches the CTID and token of one of the N
 * transfers EXP lists and whose deadline has not passed, into that one's
 * storage. A header that matches none is rejected with a message to the
 * sender: this node expects no transfer of that CTID with that token. Once
 * the header matched, the matched entry is written to REPORT_FD (when not
 * negative) as one record of sizeof(struct ctm_migrate_expect) bytes, so
 * the agent can drop it and learns the connection's CTID.
 */
int ctm_migrate_receive_fd(struct ctm_ctx *ctx, struct ctm_xfer_server *server, int fd,
                           const struct ctm_migrate_expect *exp, size_t n, int report_fd,
                           char *errmsg);
int ctm_migrate_abort(struct ctm_ctx *ctx, unsigned ctid, const char *storage_id,
                      const char *volume, char *errmsg);

/*
 * Move every entry of the transfer folder FOLDER (images/CTID/migrate-TOKEN
 * below storage STORAGE_ID) one level up, never replacing an entry, then
 * remove FOLDER. Errors: -EINVAL bad FOLDER, -EEXIST, file system errors.
 */
int ctm_migrate_place(struct ctm_ctx *ctx, unsigned ctid, const char *storage_id,
                      const char *folder, char *errmsg);
int ctm_migrate_clean(struct ctm_ctx *ctx, unsigned *removed, char *errmsg);

#endif /* CTMGR_MIGRATE_H */
