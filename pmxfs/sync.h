/*
 * pfs_sync: the cluster state machine of one node (docs/sync.md).
 *
 * It sits between the store and a group transport with agreed order (CPG
 * in the daemon, an in-memory group in tests):
 *
 *   store submit -> pfs_sync store transport -> mcast, hold or reject
 *   group delivery -> pfs_sync_deliver() -> sync handlers, or a batch of
 *                     change messages -> pfs_sync_flush() -> store deliver
 *   membership     -> pfs_sync_confchg()  (starts a sync round)
 *   votequorum     -> pfs_sync_quorum()
 *   timers         -> pfs_sync_tick()     (held writes, verify rounds)
 *
 * Everything runs on one thread; no function blocks.
 */
#ifndef PMXFS_SYNC_H
#define PMXFS_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pmxfs/store.h"

#define PFS_SYNC_MAGIC 0x59534650u /* "PFSY" in little-endian byte order */
#define PFS_SYNC_VERSION 2
#define PFS_SYNC_HEADER_SIZE 32
/* LIMIT: the payload of one CHUNK. A sync message longer than this travels
 * as CHUNK messages. libcpg of corosync 3.1 sends a message above its IPC
 * request size (1 MiB) minus 1024 bytes as fragments, synchronously: the
 * caller blocks, and after 100 retries of 10 ms on a busy connection it
 * gives up in the middle of the message. Chunks stay well below that
 * size, so each one is a single CPG message that the daemon's send queue
 * retries without blocking (pmxfs/cpg.c). */
#define PFS_SYNC_CHUNK_SIZE (256u * 1024)
#define PFS_SYNC_CHUNK_HEADER_SIZE 56 /* the fixed part of a CHUNK body */
/* LIMIT: the longest sync message. An UPDATE of a tree at the store's
 * limits is at most about 205 MiB (255-byte names). NOTE: a LOST of many
 * entries with paths near 4096 bytes can exceed it. Its member then
 * cannot send it, so the round restarts after every bound. */
#define PFS_SYNC_MAX_BODY (256u * 1024 * 1024)
#define PFS_SYNC_HOLD_MS 30000u               /* a held write waits at most this long */
#define PFS_SYNC_MAX_HELD 4096u               /* held writes; more get -EAGAIN */
#define PFS_SYNC_VERIFY_MS (10u * 60 * 1000)  /* period of verify rounds */
#define PFS_SYNC_MAX_RESTARTS 5u              /* digest mismatches per ring */
#define PFS_SYNC_PROBE_MS 5000u               /* between test writes while suspended */
#define PFS_SYNC_PROBE_MAX_MS 60000u          /* the longest, after failed rejoins */
/* A round that is not done after PFS_SYNC_ROUND_MS plus one second per
 * PFS_SYNC_ROUND_RATE bytes of the members' trees is abandoned and
 * restarted. Each timeout in a ring doubles the bound, up to
 * 2^PFS_SYNC_MAX_BACKOFF times the first value. */
#define PFS_SYNC_ROUND_MS 60000u
#define PFS_SYNC_ROUND_RATE (4u * 1024 * 1024)
#define PFS_SYNC_MAX_BACKOFF 4u
/* Bytes counted per entry in that bound, besides its data: the encoded
 * metadata, name and hash in SUMMARY and UPDATE. */
#define PFS_SYNC_ENTRY_BYTES 128u
#define PFS_SYNC_MAX_MEMBERS 64u
#define PFS_SYNC_BATCH_MAX 256u               /* change messages per store round */
#define PFS_SYNC_RING_ID_SIZE 64

/* Explicit values: they are part of the wire format. */
enum pfs_sync_msg_type {
	PFS_SYNC_SUMMARY = 1,
	PFS_SYNC_UPDATE = 2,
	PFS_SYNC_LOST = 3,
	PFS_SYNC_DIGEST = 4,
	PFS_SYNC_PRIMARY = 5,
	PFS_SYNC_CONFIRM = 6,
	PFS_SYNC_VERIFY = 7,
	PFS_SYNC_CHUNK = 8,
	PFS_SYNC_RESTART = 9,
};
#define PFS_SYNC_TYPE_MAX PFS_SYNC_RESTART

/* A sync round: the totem ring id plus a counter within the ring. */
struct pfs_sync_round {
	uint32_t ring_node;
	uint64_t ring_seq;
	uint32_t counter;
};

struct pfs_sync_gen {
	char ring_id[PFS_SYNC_RING_ID_SIZE];
	uint32_t members;
	uint64_t first_version;
	uint64_t last_version;
};

struct pfs_sync_hash {
	uint64_t inode;
	uint8_t hash[32];
};

/* An entry of UPDATE (inode and metadata) or of LOST (path in name). */
struct pfs_sync_entry {
	uint64_t inode, parent, version;
	uint32_t writer, mtime, type, size;
	char *name; /* NUL-terminated copy after decoding */
	char *data; /* NULL for directories */
};

/* A value of the ephemeral status area (UPDATE). */
struct pfs_sync_status {
	uint32_t node;
	uint32_t len;
	char *key;   /* NUL-terminated copies after decoding */
	char *value;
};

/* A decoded sync message; the fields of its type are set. */
struct pfs_sync_msg {
	enum pfs_sync_msg_type type;
	uint32_t sender;
	struct pfs_sync_round round;
	uint64_t version;             /* SUMMARY, UPDATE, DIGEST */
	uint8_t digest[32];           /* SUMMARY, DIGEST */
	uint32_t start_time;          /* SUMMARY */
	uint64_t tree_bytes;          /* SUMMARY: data bytes of the sender's tree */
	uint32_t root_writer, root_mtime; /* UPDATE */
	uint64_t count;               /* CONFIRM */
	char *node_name;              /* LOST: the sender's name, for lost+found */
	struct pfs_sync_gen *gens;    /* SUMMARY */
	uint32_t ngens;
	struct pfs_sync_hash *hashes; /* SUMMARY */
	uint32_t nhashes;
	uint64_t *deleted;            /* UPDATE */
	uint32_t ndeleted;
	struct pfs_sync_entry *entries; /* UPDATE, LOST */
	uint32_t nentries;
	struct pfs_sync_status *status; /* UPDATE: the source's whole status area */
	uint32_t nstatus;

	/* CHUNK: part index of count of an encoded sync message of
	 * inner_type, total_len bytes long, whose SHA-256 is in digest. */
	uint16_t inner_type;
	uint32_t index, chunks;
	uint64_t total_len;
	uint8_t *payload;
	uint32_t payload_len;
};

/* Return true when buf starts with the sync magic (else it is a change
 * message of the store). */
bool pfs_sync_is_sync_msg(const void *buf, size_t len);

/*
 * Encode m into a new buffer (caller frees *out).
 * Errors: -EINVAL (unknown type, oversized string), -ENOMEM.
 */
int pfs_sync_msg_encode(const struct pfs_sync_msg *m, uint8_t **out, size_t *len);

/*
 * Decode exactly len bytes into m; the caller clears it with
 * pfs_sync_msg_clear() after success. On error m is left empty.
 * Errors: -EBADMSG (bad magic, lengths or counts), -EPROTO (unknown
 * version or type), -ENOMEM.
 */
int pfs_sync_msg_decode(const void *buf, size_t len, struct pfs_sync_msg *m);

/* Free what a decoded message owns and zero it. Accepts NULL. */
void pfs_sync_msg_clear(struct pfs_sync_msg *m);

/* Number of CHUNK messages for an encoded sync message of len bytes (0:
 * it is sent whole). */
uint32_t pfs_sync_chunk_count(size_t len);

enum pfs_sync_state {
	PFS_SYNC_STATE_START = 0,
	PFS_SYNC_STATE_SUMMARY,
	PFS_SYNC_STATE_UPDATE,
	PFS_SYNC_STATE_VERIFY,
	PFS_SYNC_STATE_SYNCED,
	PFS_SYNC_STATE_PRIMARY,
	PFS_SYNC_STATE_SUSPENDED, /* left the group: the store cannot write */
};
const char *pfs_sync_state_name(enum pfs_sync_state state);

/* The group transport: multicast to every member, this node included,
 * with agreed order. */
struct pfs_sync_transport_ops {
	int (*mcast)(void *impl, const uint8_t *buf, size_t len);
};
struct pfs_sync_transport {
	const struct pfs_sync_transport_ops *ops;
	void *impl;
};

/* Clocks, replaceable for tests: monotonic milliseconds and wall seconds. */
struct pfs_sync_clock {
	uint64_t (*now_ms)(void *ctx);
	uint32_t (*wall)(void *ctx);
	void *ctx;
};

struct pfs_sync;

/*
 * Create the state machine of node_id (named node_name, copied) over store and install its store
 * transport (the store no longer writes without a primary component).
 * clock may be NULL for the real clocks. Replies of the store wait for
 * confirmation from then on.
 * Errors: -ENOMEM.
 */
int pfs_sync_new(struct pfs_store *store, uint32_t node_id, const char *node_name,
		 struct pfs_sync_transport transport, const struct pfs_sync_clock *clock,
		 struct pfs_sync **out);

/* Free the state machine and what it holds. Held writes are dropped
 * without a reply. Accepts NULL. Call it before pfs_store_free(). */
void pfs_sync_free(struct pfs_sync *sync);

/*
 * A configuration change: members (node ids, any order, this node
 * included) form the group from now on and round names the new round.
 * Change messages batched so far are applied first.
 * Errors: -EINVAL (too many members or this node missing), -ENOMEM,
 * -EIO (the store is broken).
 */
int pfs_sync_confchg(struct pfs_sync *sync, const struct pfs_sync_round *round,
		     const uint32_t *members, size_t count);

/*
 * One delivered message from sender, in agreed order. Change messages are
 * batched until pfs_sync_flush() or the next sync message.
 * Errors: -ENOMEM, -EIO (the store is broken: the daemon must exit).
 */
int pfs_sync_deliver(struct pfs_sync *sync, uint32_t sender, const uint8_t *buf, size_t len);

/*
 * End of a dispatch batch: apply the batched change messages in one store
 * round, then send one CONFIRM covering them.
 * Errors: -ENOMEM, -EIO (the store is broken, or the round's commit failed
 * and this node no longer has the other members' tree: the daemon must
 * leave the group).
 */
int pfs_sync_flush(struct pfs_sync *sync);

/* votequorum's view: quorate or not for ring, with expected_votes. */
void pfs_sync_quorum(struct pfs_sync *sync, uint32_t ring_node, uint64_t ring_seq, bool quorate,
		     uint32_t expected_votes);

/* The reply to a change on a node without quorum. */
#define PFS_SYNC_NOT_QUORATE                                                                 \
	"not quorate: this node is not in the quorate part of the cluster, so it takes no "    \
	"changes; run the command on a node of the quorate part, or wait until this node "     \
	"rejoins it"

/* Why a change is rejected while pfs_sync_writable() is false: the
 * cluster is not quorate, or the members that run pmxfs hold too few of
 * its votes to confirm a change. Valid until the next call. */
const char *pfs_sync_reject_why(struct pfs_sync *sync);

/* Return true when corosync is quorate but the members, settled by a
 * round, hold too few votes to confirm a change. */
bool pfs_sync_votes_short(const struct pfs_sync *sync);

/* votequorum's votes of node (default 1 for a node never reported). The
 * acknowledgement gate weighs each member's confirmations with them. */
void pfs_sync_set_votes(struct pfs_sync *sync, uint32_t node, uint32_t votes);

/* Time passed: reply -EAGAIN to held writes older than PFS_SYNC_HOLD_MS,
 * send RESTART for a round past its bound (pfs_sync_round_bound_ms()), start a
 * verify round when due. */
void pfs_sync_tick(struct pfs_sync *sync);

enum pfs_sync_state pfs_sync_state(const struct pfs_sync *sync);
bool pfs_sync_writable(const struct pfs_sync *sync);

/* The message that rejects changes while this node is out of the group
 * because its store could not write (state SUSPENDED), or NULL. */
const char *pfs_sync_suspended(const struct pfs_sync *sync);

/* The bytes that storing a synced tree may take, from the largest tree of
 * the members when this node was suspended. */
uint64_t pfs_sync_suspended_bytes(const struct pfs_sync *sync);

/* While suspended: when this node first left the group since its last
 * finished sync round (wall clock), else 0. A rejoin that fails again
 * keeps the first time. */
time_t pfs_sync_suspended_since(const struct pfs_sync *sync);

/* While suspended, how long pfs_cpg waits between test writes, in ms:
 * PFS_SYNC_PROBE_MS, doubled for each rejoin in a row that failed again
 * (the synced tree did not fit) up to PFS_SYNC_PROBE_MAX_MS, and back to
 * PFS_SYNC_PROBE_MS once a sync round finishes. */
uint32_t pfs_sync_probe_ms(const struct pfs_sync *sync);

/* The interval after current: doubled, at most PFS_SYNC_PROBE_MAX_MS,
 * when a rejoin failed again; PFS_SYNC_PROBE_MS otherwise. */
uint32_t pfs_sync_next_probe_ms(uint32_t current, bool rejoin_failed);

/* Leave state SUSPENDED after a test write succeeded: the next
 * configuration change starts a round with this node. */
void pfs_sync_resume(struct pfs_sync *sync);
/* The timekeeper: the lowest node id of the primary component, or 0. */
uint32_t pfs_sync_timekeeper(const struct pfs_sync *sync);
/* The members of the current configuration, sorted (not a copy). */
const uint32_t *pfs_sync_members(const struct pfs_sync *sync, size_t *count);
/* How long the current round may take before it is abandoned, in ms. */
uint64_t pfs_sync_round_bound_ms(const struct pfs_sync *sync);

struct pfs_sync_stats {
	uint64_t rounds;         /* rounds started */
	uint64_t stale;          /* sync messages of another round dropped */
	uint64_t dropped;        /* change messages delivered outside PRIMARY */
	uint64_t bad;            /* malformed sync messages */
	uint64_t diverged;       /* rounds in which this node diverged */
	uint64_t lost_entries;   /* entries stored under lost+found */
	uint64_t restarts;       /* digest mismatches */
	uint64_t chunks_sent;    /* CHUNK messages sent */
	uint64_t chunks_dropped; /* CHUNK messages out of order or with a bad digest */
	uint64_t timeouts;       /* rounds abandoned after their bound */
	uint64_t deletions;      /* deletions of a diverged member recorded in lost+found */
	uint64_t suspended;      /* times this node left the group after a failed write */
};
void pfs_sync_stats(const struct pfs_sync *sync, struct pfs_sync_stats *stats);

#endif
