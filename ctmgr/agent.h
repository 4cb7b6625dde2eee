/*
 * The node agent's operations, shared by ctmgrd and the ctmgr CLI: requests
 * addressed to the agent of a node, the state of this node's containers
 * for the status area, and the boot order of startall and stopall.
 *
 * A request is one line of text, "VERB CTID [TIMEOUT [FORCE]]" with VERB
 * start, stop, shutdown or status. Its reply status is 0 or the negative
 * errno value of the operation, and its payload the one-sentence message
 * (for status: "running" or "stopped"). The agent ctmgrd also serves the
 * migration requests migrate, tasklog, expect, place and abort (ctmgr/migrate.h),
 * and "ping" (CTM_AGENT_PING).
 */
#ifndef CTMGR_AGENT_H
#define CTMGR_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctmgr/ct.h"

/* Limits of a request line: words and bytes. */
#define CTM_AGENT_WORDS_MAX 8
#define CTM_AGENT_REQUEST_MAX 1024

/* A request "VERB CTID [TIMEOUT [FORCE]]" of ctm_agent_execute(). */
struct ctm_agent_request {
	char verb[16];
	unsigned ctid;
	unsigned timeout; /* 60 unless given */
	bool force;
};

/*
 * Split request TEXT into its words, separated by single spaces: at most
 * MAX of them into WORDS (pointers into BUF, a copy of TEXT of
 * CTM_AGENT_REQUEST_MAX bytes), their number into *N. Rejects an empty
 * request, a leading, trailing or doubled space, control characters, more
 * than MAX words and a request longer than CTM_AGENT_REQUEST_MAX - 1 bytes.
 * Errors: -EINVAL.
 */
int ctm_agent_split(const char *text, char *buf, char **words, size_t max, size_t *n,
                    char *errmsg);

/*
 * Parse WORD, the field NAME of a request, as a decimal number from MIN to
 * MAX: digits only, no sign, no leading zero. Errors: -EINVAL, naming NAME
 * and the range.
 */
int ctm_agent_number(const char *word, const char *name, uint64_t min, uint64_t max,
                     uint64_t *out, char *errmsg);

/* The lowest and highest container id. */
#define CTM_CTID_MIN 100
#define CTM_CTID_MAX 999999999

/*
 * Parse TEXT, "VERB CTID [TIMEOUT [FORCE]]" with VERB start, stop, shutdown
 * or status, TIMEOUT 0 to UINT_MAX seconds and FORCE 0 or 1. Errors: -EINVAL.
 */
int ctm_agent_parse(const char *text, struct ctm_agent_request *req, char *errmsg);


/*
 * Run request TEXT on this node and return 0 or a negative errno value,
 * with MSG (CONF_ERRMSG_SIZE bytes) set to the message to send back.
 */
int ctm_agent_execute(struct ctm_ctx *ctx, const char *text, char *msg);

/*
 * Start CTID as ctm_ct_start() does, from a child process with a pmxfs
 * connection of its own. liblxc moves the process that starts a container
 * into the container's monitor cgroup. A process that lives on there
 * (ctmgrd) keeps that cgroup busy after the container stops, so the next
 * start of the container fails.
 */
int ctm_agent_start(struct ctm_ctx *ctx, unsigned ctid, char *errmsg);

/*
 * Send request TEXT to the agent of NODE and wait up to TIMEOUT_S seconds.
 * Returns 0 when the agent replied, with *RESULT its status and MSG its
 * message. Otherwise returns a negative errno value, with MSG naming NODE
 * and the cause.
 */
int ctm_agent_forward(struct ctm_ctx *ctx, const char *node, const char *text,
                      unsigned timeout_s, int *result, char *msg);

/* The JSON text of CTM_STATE_KEY for this node's containers, from liblxc
 * and the configs; *OUT: caller frees. Errors: as ctm_ct_list(). */
int ctm_agent_state(struct ctm_ctx *ctx, char **out, char *errmsg);

/* A container of this node in boot order. */
struct ctm_boot_entry {
	unsigned ctid;
	bool onboot;
	int64_t order; /* INT64_MAX when unset */
	unsigned up;   /* seconds to wait after starting it */
	unsigned down; /* shutdown timeout for stopall */
};

/*
 * The containers of this node in startall order (order ascending, unset
 * last, then CTID), all of them or only those with `onboot: 1`. *OUT:
 * caller frees. A config that does not parse is left out, with a line on
 * ctx->warn.
 */
int ctm_agent_boot_list(struct ctm_ctx *ctx, bool onboot_only, struct ctm_boot_entry **out,
                        size_t *count, char *errmsg);

/* Default shutdown timeout of stopall, as in pct. */
#define CTM_STOPALL_TIMEOUT 180

#endif /* CTMGR_AGENT_H */
