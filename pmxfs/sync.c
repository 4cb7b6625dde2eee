/*
 * pfs_sync: the cluster state machine of one node. docs/sync.md has the
 * protocol, the message formats and the full table of transitions.
 *
 * Invariants (numbered as in docs/sync.md; sync_check_invariants()
 * asserts 1, 2, 4 and 9 in --enable-debug builds):
 *  1. Change messages reach the store only in state PRIMARY: the batch is
 *     empty in every other state.
 *  2. Writes are sent only in PRIMARY; held writes exist only outside it.
 *  3. Every accepted sync message carries the current round id.
 *  4. From UPDATE on, every member's summary is in and the source is a
 *     member chosen from the summaries alone.
 *  5. PRIMARY is entered only from SYNCED, after every digest matched.
 *  7. Replies wait for confirmations from members with a majority of the
 *     expected votes, each member weighted with its votequorum votes.
 *  9. A member's chunked message is reassembled part by part in order,
 *     checked against its SHA-256, and dropped with its round.
 * 10. A round past its bound is abandoned through RESTART at one point of
 *     the order, and its held writes are answered "busy, not applied".
 * 11. A diverged member's changes and deletions go to lost+found.
 *
 *              confchg               all SUMMARY in
 *   START ------------> SUMMARY ----------------------> UPDATE
 *                        ^ ^ ^                             |
 *        confchg, VERIFY | | | RESTART (past the bound,    | UPDATE and every LOST in
 *                        | | |  also from UPDATE)          v
 *                        | | +------------------------ VERIFY
 *                        | +--- digest mismatch ---------- |
 *                        |                                 | every DIGEST equal
 *                        +------ PRIMARY <------------ SYNCED
 *                                  PRIMARY(ring) delivered
 *
 *   state            event                 function
 *   any              configuration change  pfs_sync_confchg()
 *   any              CHUNK                 on_chunk(), then the message's handler
 *   SUMMARY          SUMMARY               on_summary()
 *   UPDATE           UPDATE, LOST          on_update(), on_lost()
 *   VERIFY           DIGEST                on_digest()
 *   SUMMARY..VERIFY  past the bound        pfs_sync_tick() sends RESTART
 *   SUMMARY..VERIFY  RESTART               on_restart()
 *   SYNCED           quorum                pfs_sync_quorum() -> try_primary()
 *   SYNCED           PRIMARY               on_primary()
 *   PRIMARY          change message        pfs_sync_deliver(), pfs_sync_flush()
 *   PRIMARY          CONFIRM               on_confirm()
 *   PRIMARY          VERIFY                on_verify()
 *   any              held write timed out  pfs_sync_tick()
 *   any              store cannot write    suspend() -> SUSPENDED, pfs_cpg leaves
 *   SUSPENDED        test write succeeded  pfs_sync_resume() -> START, pfs_cpg joins
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "pmxfs/log.h"
#include "pmxfs/sync.h"
#include "pmxfs/tree_internal.h"

#define LOST_DIR "/lost+found"
#define LOG_DELETIONS 20u /* recorded deletions logged one by one per member and round */

struct member {
	uint32_t id;
	bool have_summary, have_digest, have_lost;
	bool diverged;
	uint64_t fork; /* last version shared with the source, when diverged */
	struct pfs_sync_msg summary;
	struct pfs_sync_msg lost;
	uint8_t digest[32];
	uint64_t confirmed; /* CONFIRM count in the current primary component */

	/* A chunked message of this member being reassembled (docs/sync.md,
	 * "Chunks"): chunks are delivered in the member's send order, so
	 * part next is the only one accepted. */
	uint8_t *chunk_buf;
	uint64_t chunk_total;
	uint32_t chunk_next, chunk_count;
	uint16_t chunk_type;
	uint8_t chunk_digest[32];
};

/* votequorum's votes of one node. */
struct node_votes {
	uint32_t node;
	uint32_t votes;
};

/* A write submitted while no primary component exists. */
struct held {
	struct held *next;
	uint8_t *buf;
	size_t len;
	uint64_t request_id;
	uint64_t deadline_ms;
};

struct pfs_sync {
	struct pfs_store *store;
	uint32_t node_id;
	char node_name[64];
	struct pfs_sync_transport transport;
	struct pfs_sync_clock clock;

	enum pfs_sync_state state;
	struct pfs_sync_round round;
	struct member *members;
	uint32_t *member_ids;
	size_t nmembers;
	uint32_t *primary_ids; /* members of the last primary component */
	size_t nprimary;

	/* the round in progress */
	uint32_t source;
	bool have_update;
	struct pfs_sync_msg update;
	bool diverged;        /* this node diverged in this round */
	bool replaced;        /* a synced tree replaced this node's since the last primary */
	bool primary_sent;
	bool short_logged; /* the shortage of member votes was logged */
	char reject_why[256];
	uint32_t restarts;    /* digest mismatches in this ring */
	char suspend_why[2 * PFS_ERRMSG_SIZE]; /* in state SUSPENDED */
	uint64_t suspend_bytes;                 /* the largest tree then */
	time_t suspend_since; /* first suspension since the last finished round, or 0 */
	bool rejoining;       /* resumed, no round finished since */
	uint32_t probe_ms;    /* between test writes while suspended */

	/* votequorum's latest view */
	bool quorum_known;
	bool quorate;
	uint64_t quorum_seq;
	uint32_t expected_votes;

	/* the primary component */
	uint64_t primary_base; /* store delivery count at PRIMARY */
	uint64_t confirm_sent;
	uint64_t last_verify_ms;
	uint64_t round_start_ms; /* when the current round started */
	uint64_t own_bytes;      /* this node's tree, as counted in the round bound */
	uint64_t summary_bytes;  /* the trees of the summaries in so far */
	uint32_t timeouts;       /* rounds abandoned in this ring */
	bool restart_sent;

	struct node_votes votes[PFS_SYNC_MAX_MEMBERS];
	size_t nvotes;

	/* change messages delivered, not yet passed to the store */
	uint8_t **batch;
	size_t *batch_len;
	size_t nbatch, cbatch;

	struct held *held, **held_tail;
	size_t nheld;
	struct pfs_sync_stats stats;
};

/* Clocks and helpers ------------------------------------------------------ */

static uint64_t real_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t real_wall(void *ctx)
{
	(void)ctx;
	return (uint32_t)time(NULL);
}

static uint64_t now_ms(const struct pfs_sync *s)
{
	return s->clock.now_ms(s->clock.ctx);
}

const char *pfs_sync_state_name(enum pfs_sync_state state)
{
	static const char *const names[] = {"start", "summary", "update", "verify", "synced",
					    "primary", "suspended"};

	return state <= PFS_SYNC_STATE_SUSPENDED ? names[state] : "?";
}

static bool same_round(const struct pfs_sync_round *a, const struct pfs_sync_round *b)
{
	return a->ring_node == b->ring_node && a->ring_seq == b->ring_seq &&
	       a->counter == b->counter;
}

static struct member *member_of(struct pfs_sync *s, uint32_t id)
{
	for (size_t i = 0; i < s->nmembers; i++)
		if (s->members[i].id == id)
			return &s->members[i];
	return NULL;
}

static int hex_to_bytes(const char hex[65], uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int tree_digest(const struct pfs_tree *tree, uint8_t out[32])
{
	char hex[65];
	int rv = pfs_tree_digest(tree, hex);

	return rv < 0 ? rv : hex_to_bytes(hex, out);
}

/* Send buf, an encoded message of inner_type, as CHUNK messages. */
static int send_chunks(struct pfs_sync *s, enum pfs_sync_msg_type inner_type, const uint8_t *buf,
		       size_t len)
{
	struct pfs_sync_msg c = {.type = PFS_SYNC_CHUNK};
	unsigned int digest_len = 0;
	int rv = 0;

	if (!EVP_Digest(buf, len, c.digest, &digest_len, EVP_sha256(), NULL))
		return -ENOMEM;
	c.sender = s->node_id;
	c.round = s->round;
	c.inner_type = (uint16_t)inner_type;
	c.chunks = pfs_sync_chunk_count(len);
	c.total_len = len;
	for (uint32_t i = 0; i < c.chunks && rv == 0; i++) {
		uint64_t off = (uint64_t)i * PFS_SYNC_CHUNK_SIZE;
		uint8_t *part = NULL;
		size_t part_len = 0;

		c.index = i;
		c.payload = (uint8_t *)buf + off;
		c.payload_len = (uint32_t)(len - off < PFS_SYNC_CHUNK_SIZE ? len - off
									    : PFS_SYNC_CHUNK_SIZE);
		rv = pfs_sync_msg_encode(&c, &part, &part_len);
		if (rv == 0)
			rv = s->transport.ops->mcast(s->transport.impl, part, part_len);
		free(part);
		if (rv == 0)
			s->stats.chunks_sent++;
	}
	pfs_log(INFO, "sync message %d of %zu bytes sent as %" PRIu32 " chunks", inner_type, len,
		c.chunks);
	return rv;
}

static void send_msg(struct pfs_sync *s, struct pfs_sync_msg *m)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	m->sender = s->node_id;
	m->round = s->round;
	rv = pfs_sync_msg_encode(m, &buf, &len);
	if (rv == 0 && pfs_sync_chunk_count(len))
		rv = send_chunks(s, m->type, buf, len);
	else if (rv == 0)
		rv = s->transport.ops->mcast(s->transport.impl, buf, len);
	free(buf);
	if (rv < 0)
		pfs_log(ERR, "sending sync message %d of round %" PRIu32 "/%" PRIu64 "/%" PRIu32
			" failed: %s", m->type, s->round.ring_node, s->round.ring_seq,
			s->round.counter, strerror(-rv));
}

#ifdef PMX_DEBUG
static bool sync_check_invariants(const struct pfs_sync *s)
{
	/* 1 and 2: batches only in PRIMARY, held writes only outside it. */
	if (s->state != PFS_SYNC_STATE_PRIMARY && s->nbatch)
		return false;
	if (s->state == PFS_SYNC_STATE_PRIMARY && s->nheld)
		return false;

	/* Members are sorted, unique, and include this node. */
	if (s->state != PFS_SYNC_STATE_START) {
		bool self = false;

		for (size_t i = 0; i < s->nmembers; i++) {
			if (i && s->member_ids[i - 1] >= s->member_ids[i])
				return false;
			self |= s->member_ids[i] == s->node_id;
		}
		if (!self)
			return false;
	}

	/* 9: a reassembly contains the parts before chunk_next, fewer than all. */
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct member *mb = &s->members[i];

		if (!mb->chunk_buf)
			continue;
		if (mb->chunk_next == 0 || mb->chunk_next >= mb->chunk_count ||
		    pfs_sync_chunk_count((size_t)mb->chunk_total) != mb->chunk_count)
			return false;
	}

	/* 4: from UPDATE on, every summary is in and the source is a member. */
	if (s->state >= PFS_SYNC_STATE_UPDATE && s->state <= PFS_SYNC_STATE_SYNCED) {
		for (size_t i = 0; i < s->nmembers; i++)
			if (!s->members[i].have_summary)
				return false;
		if (!member_of((struct pfs_sync *)s, s->source))
			return false;
	}
	return true;
}
#define CHECK_INVARIANTS(s) assert(sync_check_invariants(s))
#else
#define CHECK_INVARIANTS(s) ((void)(s))
#endif

/* Held writes ------------------------------------------------------------ */

static void held_free(struct held *h)
{
	free(h->buf);
	free(h);
}

/* Reply with rc to every held write and drop it. */
static void held_fail_all(struct pfs_sync *s, int rc, const char *why)
{
	while (s->held) {
		struct held *h = s->held;

		s->held = h->next;
		pfs_store_answer(s->store, h->request_id, rc, why);
		held_free(h);
	}
	s->held_tail = &s->held;
	s->nheld = 0;
}

/* Send every held write, oldest first. */
static void held_send_all(struct pfs_sync *s)
{
	while (s->held) {
		struct held *h = s->held;
		int rv;

		s->held = h->next;
		rv = s->transport.ops->mcast(s->transport.impl, h->buf, h->len);
		if (rv < 0)
			pfs_store_answer(s->store, h->request_id, rv,
					 "sending the held change failed: it was not applied");
		held_free(h);
	}
	s->held_tail = &s->held;
	s->nheld = 0;
}

/* The latest quorum report covers the current ring, or a later one. */
static bool quorum_current(const struct pfs_sync *s)
{
	return s->quorum_known && s->quorum_seq >= s->round.ring_seq;
}

static uint32_t votes_of(const struct pfs_sync *s, uint32_t node);

/* The votes the members of the group hold, and the votes a reply needs
 * (a majority of the expected votes, see on_confirm()). */
static void member_votes(const struct pfs_sync *s, uint64_t *have, uint64_t *needed)
{
	uint64_t total = 0;

	for (size_t i = 0; i < s->nmembers; i++)
		total += votes_of(s, s->members[i].id);
	*have = total;
	*needed = (s->expected_votes > total ? s->expected_votes : total) / 2 + 1;
}

/* Quorate, and the nodes that run pmxfs can confirm a change: corosync
 * counts the votes of nodes whose pmxfs is stopped, but only members of
 * the group send CONFIRMs. */
static bool store_quorate(const struct pfs_sync *s)
{
	uint64_t have, needed;

	member_votes(s, &have, &needed);
	return s->quorate && have >= needed;
}

/* corosync is quorate, but the members, settled by a round (SYNCED or
 * PRIMARY), hold too few votes to confirm a change. */
static bool votes_short(const struct pfs_sync *s)
{
	return s->quorate && (s->state == PFS_SYNC_STATE_SYNCED || s->state == PFS_SYNC_STATE_PRIMARY) &&
	       !store_quorate(s);
}

static int store_send(void *impl, const uint8_t *buf, size_t len)
{
	struct pfs_sync *s = impl;
	struct held *h;

	if (s->state == PFS_SYNC_STATE_SUSPENDED)
		return -ENOSPC;
	/* In a primary component send at once; without quorum reject. The
	 * member votes count only once a round has settled the members. */
	if (s->state == PFS_SYNC_STATE_PRIMARY && (!quorum_current(s) || store_quorate(s)))
		return s->transport.ops->mcast(s->transport.impl, buf, len);
	if (quorum_current(s) && (!s->quorate || votes_short(s)))
		return -EROFS;
	if (s->nheld >= PFS_SYNC_MAX_HELD)
		return -EAGAIN;

	/* During a sync: hold the write, at most PFS_SYNC_HOLD_MS. */
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->buf = malloc(len);
	if (!h->buf) {
		free(h);
		return -ENOMEM;
	}
	memcpy(h->buf, buf, len);
	h->len = len;
	h->request_id = len >= PFS_WIRE_HEADER_SIZE ? pfs__get_u64(buf + 16) : 0;
	h->deadline_ms = now_ms(s) + PFS_SYNC_HOLD_MS;
	*s->held_tail = h;
	s->held_tail = &h->next;
	s->nheld++;
	return 0;
}

static const struct pfs_transport_ops store_transport_ops = {
	.send = store_send,
	.free = NULL,
};

/* Summaries --------------------------------------------------------------- */

struct hash_ctx {
	struct pfs_sync_hash *hashes;
	uint32_t n, cap;
	bool failed;
};

static void hash_u64(EVP_MD_CTX *ctx, uint64_t v)
{
	uint8_t b[8];

	pfs__put_u64(b, v);
	EVP_DigestUpdate(ctx, b, sizeof(b));
}

/* SHA-256 of an entry's metadata, name and data, as the tree digest
 * covers them. */
static int entry_hash(const char *name, const struct pfs_stat *st, const char *data,
		      uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;

	if (!ctx)
		return -ENOMEM;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	hash_u64(ctx, st->inode);
	hash_u64(ctx, st->parent);
	hash_u64(ctx, st->version);
	hash_u64(ctx, st->writer);
	hash_u64(ctx, st->mtime);
	hash_u64(ctx, st->type);
	hash_u64(ctx, st->size);
	EVP_DigestUpdate(ctx, name, strlen(name) + 1);
	if (data && st->size)
		EVP_DigestUpdate(ctx, data, st->size);
	EVP_DigestFinal_ex(ctx, out, &len);
	EVP_MD_CTX_free(ctx);
	return 0;
}

static int collect_hash(const char *name, const struct pfs_stat *st, const char *data, void *arg)
{
	struct hash_ctx *c = arg;

	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 64;
		struct pfs_sync_hash *grown = realloc(c->hashes, cap * sizeof(*grown));

		if (!grown) {
			c->failed = true;
			return -ENOMEM;
		}
		c->hashes = grown;
		c->cap = cap;
	}
	c->hashes[c->n].inode = st->inode;
	if (entry_hash(name, st, data, c->hashes[c->n].hash) < 0) {
		c->failed = true;
		return -ENOMEM;
	}
	c->n++;
	return 0;
}

static int send_summary(struct pfs_sync *s)
{
	const struct pfs_tree *tree = pfs_store_tree(s->store);
	struct pfs_sync_msg m = {.type = PFS_SYNC_SUMMARY};
	struct pfs_generation *gens = NULL;
	struct hash_ctx hc = {0};
	size_t ngens = 0;
	int rv;

	rv = pfs_db_generations(pfs_store_db(s->store), &gens, &ngens);
	if (rv < 0)
		return rv;
	m.gens = calloc(ngens ? ngens : 1, sizeof(*m.gens));
	if (!m.gens) {
		free(gens);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ngens; i++) {
		snprintf(m.gens[i].ring_id, sizeof(m.gens[i].ring_id), "%s", gens[i].ring_id);
		m.gens[i].members = gens[i].members;
		m.gens[i].first_version = gens[i].first_version;
		m.gens[i].last_version = gens[i].last_version;
	}
	m.ngens = (uint32_t)ngens;
	free(gens);

	pfs_tree_walk(tree, collect_hash, &hc);
	if (hc.failed) {
		free(hc.hashes);
		free(m.gens);
		return -ENOMEM;
	}
	m.hashes = hc.hashes;
	m.nhashes = hc.n;
	m.version = pfs_tree_version(tree);
	m.start_time = s->clock.wall(s->clock.ctx);
	m.tree_bytes = pfs_tree_byte_count(tree);
	rv = tree_digest(tree, m.digest);
	if (rv == 0)
		send_msg(s, &m);
	pfs_sync_msg_clear(&m);
	return rv;
}

static void chunk_reset(struct member *mb)
{
	free(mb->chunk_buf);
	mb->chunk_buf = NULL;
	mb->chunk_total = 0;
	mb->chunk_next = mb->chunk_count = 0;
	mb->chunk_type = 0;
}

/* The bytes a member's tree adds to the round bound. */
static uint64_t bound_bytes(uint64_t data_bytes, uint64_t entries)
{
	return data_bytes + entries * PFS_SYNC_ENTRY_BYTES;
}

/* Start round s->round: forget the last one's messages, send SUMMARY. */
static int start_round(struct pfs_sync *s)
{
	const struct pfs_tree *tree = pfs_store_tree(s->store);

	for (size_t i = 0; i < s->nmembers; i++) {
		struct member *mb = &s->members[i];

		pfs_sync_msg_clear(&mb->summary);
		pfs_sync_msg_clear(&mb->lost);
		chunk_reset(mb);
		mb->have_summary = mb->have_digest = mb->have_lost = mb->diverged = false;
		mb->fork = 0;
	}
	pfs_sync_msg_clear(&s->update);
	s->have_update = false;
	s->diverged = false;
	s->primary_sent = false;
	s->source = 0;
	s->state = PFS_SYNC_STATE_SUMMARY;
	s->round_start_ms = now_ms(s);
	s->own_bytes = bound_bytes(pfs_tree_byte_count(tree), pfs_tree_entry_count(tree));
	s->summary_bytes = 0;
	s->restart_sent = false;
	s->stats.rounds++;
	pfs_log(INFO, "sync round %" PRIu32 "/%" PRIu64 "/%" PRIu32 " started with %zu members",
		s->round.ring_node, s->round.ring_seq, s->round.counter, s->nmembers);
	return send_summary(s);
}

/* Source choice and divergence -------------------------------------------- */

static uint32_t last_gen_members(const struct pfs_sync_msg *m)
{
	return m->ngens ? m->gens[m->ngens - 1].members : 0;
}

static bool same_gen(const struct pfs_sync_gen *a, const struct pfs_sync_gen *b)
{
	return !strcmp(a->ring_id, b->ring_id) && a->first_version == b->first_version;
}

/* Return true when another member's history contains x's last generation
 * followed by a later one. That later primary component formed with quorum
 * without x's last changes, so a majority never confirmed them. */
static bool superseded(const struct pfs_sync *s, const struct member *x)
{
	const struct pfs_sync_msg *m = &x->summary;

	if (!m->ngens)
		return false;
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct pfs_sync_msg *y = &s->members[i].summary;

		if (&s->members[i] == x)
			continue;
		for (uint32_t k = 0; k + 1 < y->ngens; k++)
			if (same_gen(&y->gens[k], &m->gens[m->ngens - 1]))
				return true;
	}
	return false;
}

/* Return true when a is a better source than b: not superseded, then
 * more members in its last generation, then a higher version, then a
 * lower node id. */
static bool better_source(const struct pfs_sync *s, const struct member *a,
			  const struct member *b)
{
	bool sa = superseded(s, a), sb = superseded(s, b);
	uint32_t ma = last_gen_members(&a->summary), mb = last_gen_members(&b->summary);

	if (sa != sb)
		return sb;
	if (ma != mb)
		return ma > mb;
	if (a->summary.version != b->summary.version)
		return a->summary.version > b->summary.version;
	return a->id < b->id;
}

/* Decide whether m only lags behind src (its history a prefix of src's,
 * its last generation possibly ending earlier), or diverged after *fork. */
static bool history_diverged(const struct pfs_sync_msg *m, const struct pfs_sync_msg *src,
			     uint64_t *fork)
{
	uint32_t k = 0;

	while (k < m->ngens && k < src->ngens && same_gen(&m->gens[k], &src->gens[k]))
		k++;
	/* All of m's generations are src's: behind, unless m went further
	 * inside its last one. A history-less member with data diverged. */
	if (k == m->ngens && k == 0 && m->version == 0)
		return false;
	if (k == m->ngens && k > 0 && m->gens[k - 1].last_version <= src->gens[k - 1].last_version)
		return false;
	if (k == 0) {
		*fork = 0;
	} else {
		uint64_t a = m->gens[k - 1].last_version, b = src->gens[k - 1].last_version;

		*fork = a < b ? a : b;
	}
	return true;
}

static bool behind(const struct member *x, const struct member *y)
{
	uint64_t fork;

	return !history_diverged(&x->summary, &y->summary, &fork);
}

/* Return true when another member's history strictly extends x's: x only
 * lags behind and cannot be the source. */
static bool extended_by_other(const struct pfs_sync *s, const struct member *x)
{
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct member *y = &s->members[i];

		if (y != x && behind(x, y) && !behind(y, x))
			return true;
	}
	return false;
}

static int cmp_hash(const void *a, const void *b)
{
	const struct pfs_sync_hash *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static const struct pfs_sync_hash *find_hash(const struct pfs_sync_msg *m, uint64_t inode)
{
	struct pfs_sync_hash key = {.inode = inode};

	return bsearch(&key, m->hashes, m->nhashes, sizeof(key), cmp_hash);
}

#define STATUS_COLLECT_FAILED UINT32_MAX

static void collect_status(uint32_t node, const char *key, const char *value, uint32_t len,
			   void *arg)
{
	struct pfs_sync_msg *m = arg;
	struct pfs_sync_status *grown;

	if (m->nstatus == STATUS_COLLECT_FAILED)
		return;
	grown = realloc(m->status, ((size_t)m->nstatus + 1) * sizeof(*grown));
	if (!grown) {
		free(m->status);
		m->status = NULL;
		m->nstatus = STATUS_COLLECT_FAILED;
		return;
	}
	m->status = grown;
	m->status[m->nstatus].node = node;
	m->status[m->nstatus].key = (char *)key;
	m->status[m->nstatus].value = (char *)value;
	m->status[m->nstatus].len = len;
	m->nstatus++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort v and drop repeated values; return the new count. */
static uint32_t sort_unique(uint64_t *v, uint32_t n)
{
	uint32_t out = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (uint32_t i = 0; i < n; i++)
		if (out == 0 || v[out - 1] != v[i])
			v[out++] = v[i];
	return out;
}

/* Source: send the entries some member lacks and the inodes to delete. */
static int send_update(struct pfs_sync *s, const struct member *self)
{
	const struct pfs_tree *tree = pfs_store_tree(s->store);
	struct pfs_sync_msg m = {.type = PFS_SYNC_UPDATE};
	size_t cap_del = 0;
	int rv = 0;

	m.entries = calloc(self->summary.nhashes ? self->summary.nhashes : 1, sizeof(*m.entries));
	if (!m.entries)
		return -ENOMEM;

	/* Entries of the source whose hash differs on some member. */
	for (uint32_t i = 0; i < self->summary.nhashes; i++) {
		const struct pfs_sync_hash *mine = &self->summary.hashes[i];
		struct pfs_sync_entry *e;
		struct pfs_stat st;
		const char *name, *data;
		bool needed = false;

		for (size_t j = 0; j < s->nmembers && !needed; j++) {
			const struct pfs_sync_hash *theirs =
				find_hash(&s->members[j].summary, mine->inode);

			needed = !theirs || memcmp(theirs->hash, mine->hash, 32) != 0;
		}
		if (!needed || pfs__tree_by_inode(tree, mine->inode, &st, &name, &data) < 0)
			continue;
		e = &m.entries[m.nentries++];
		e->inode = st.inode;
		e->parent = st.parent;
		e->version = st.version;
		e->writer = st.writer;
		e->mtime = st.mtime;
		e->type = st.type;
		e->size = st.type == PFS_TYPE_FILE ? st.size : 0;
		e->name = (char *)name;
		e->data = st.type == PFS_TYPE_FILE ? (char *)(data ? data : "") : NULL;
	}

	/* Inodes that a member has and the source does not, each once. */
	for (size_t j = 0; j < s->nmembers && rv == 0; j++) {
		const struct pfs_sync_msg *theirs = &s->members[j].summary;

		for (uint32_t i = 0; i < theirs->nhashes; i++) {
			uint64_t inode = theirs->hashes[i].inode;

			if (find_hash(&self->summary, inode))
				continue;
			if (pfs__grow((void **)&m.deleted, &cap_del, m.ndeleted, sizeof(uint64_t)) < 0) {
				rv = -ENOMEM;
				break;
			}
			m.deleted[m.ndeleted++] = inode;
		}
	}
	m.ndeleted = sort_unique(m.deleted, m.ndeleted);
	m.version = pfs_tree_version(tree);
	pfs__tree_root_meta(tree, &m.root_writer, &m.root_mtime);

	/* The whole status area: it is not in the entries, and a rebuilt
	 * tree starts without it. */
	pfs_tree_status_walk(tree, 0, collect_status, &m);
	if (rv == 0 && m.nstatus != STATUS_COLLECT_FAILED)
		send_msg(s, &m);
	else if (rv == 0)
		rv = -ENOMEM;

	/* The names, data and status values belong to the tree. */
	free(m.entries);
	free(m.deleted);
	free(m.status);
	return rv;
}

struct lost_ctx {
	const struct pfs_tree *tree;
	uint64_t fork;
	struct pfs_sync_msg *m;
	uint32_t cap;
	int rv;
};

static bool outside_lost(const char *path)
{
	return strncmp(path, LOST_DIR "/", sizeof(LOST_DIR)) != 0 &&
	       strncmp(path, PFS_LOCK_DIR "/", sizeof(PFS_LOCK_DIR)) != 0;
}

static int collect_lost(const char *name, const struct pfs_stat *st, const char *data, void *arg)
{
	struct lost_ctx *c = arg;
	struct pfs_sync_entry *e;
	char path[PFS_MAX_PATH];

	(void)name;
	if (st->version <= c->fork || pfs_tree_path_of(c->tree, st->inode, path, sizeof(path)) < 0 ||
	    !outside_lost(path))
		return 0;
	if (c->m->nentries == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 16;
		struct pfs_sync_entry *grown = realloc(c->m->entries, cap * sizeof(*grown));

		if (!grown)
			goto err_nomem;
		c->m->entries = grown;
		c->cap = cap;
	}
	e = &c->m->entries[c->m->nentries];
	memset(e, 0, sizeof(*e));
	e->type = st->type;
	e->name = strdup(path);
	if (!e->name)
		goto err_nomem;
	if (st->type == PFS_TYPE_FILE) {
		e->size = st->size;
		e->data = malloc(st->size + 1u);
		if (!e->data) {
			free(e->name);
			goto err_nomem;
		}
		memcpy(e->data, data ? data : "", st->size);
		e->data[st->size] = '\0';
	}
	c->m->nentries++;
	return 0;

err_nomem:
	c->rv = -ENOMEM;
	return -ENOMEM;
}

/* A diverged member: send what it changed after the fork, by path. */
static int send_lost(struct pfs_sync *s, uint64_t fork)
{
	struct pfs_sync_msg m = {.type = PFS_SYNC_LOST};
	struct lost_ctx c = {pfs_store_tree(s->store), fork, &m, 0, 0};

	m.node_name = strdup(s->node_name);
	if (!m.node_name)
		return -ENOMEM;
	pfs_tree_walk(c.tree, collect_lost, &c);
	if (c.rv == 0)
		send_msg(s, &m);
	pfs_sync_msg_clear(&m);
	return c.rv;
}

static int on_summary(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	struct member *src, *self;
	int rv = 0;

	if (s->state != PFS_SYNC_STATE_SUMMARY || mb->have_summary)
		return 0;
	qsort(m->hashes, m->nhashes, sizeof(*m->hashes), cmp_hash);
	s->summary_bytes += bound_bytes(m->tree_bytes, m->nhashes);
	mb->summary = *m;
	memset(m, 0, sizeof(*m));
	mb->have_summary = true;
	for (size_t i = 0; i < s->nmembers; i++)
		if (!s->members[i].have_summary)
			return 0;

	/* Every summary is in: the same source and divergence everywhere. */
	src = NULL;
	for (size_t i = 0; i < s->nmembers; i++)
		if (!extended_by_other(s, &s->members[i]) &&
		    (!src || better_source(s, &s->members[i], src)))
			src = &s->members[i];
	if (!src)
		src = &s->members[0]; /* not reached: "behind" has a maximal member */
	s->source = src->id;
	for (size_t i = 0; i < s->nmembers; i++) {
		struct member *x = &s->members[i];

		x->diverged = x != src && history_diverged(&x->summary, &src->summary, &x->fork);
		if (x->diverged)
			pfs_log(ERR, "node %" PRIu32 " diverged from sync source %" PRIu32
				" after version %" PRIu64 ": its later changes go to " LOST_DIR,
				x->id, src->id, x->fork);
	}
	s->state = PFS_SYNC_STATE_UPDATE;
	self = member_of(s, s->node_id);
	if (!self)
		return -EINVAL;
	s->diverged = self->diverged;
	if (s->diverged)
		s->stats.diverged++;
	if (s->source == s->node_id)
		rv = send_update(s, self);
	if (rv == 0 && s->diverged)
		rv = send_lost(s, self->fork);
	return rv;
}

/* Building the synced tree ------------------------------------------------ */

static int cmp_entry(const void *a, const void *b)
{
	const struct pfs_sync_entry *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Entries and deleted inodes of an UPDATE are sorted by on_update(). */
static const struct pfs_sync_entry *update_entry(const struct pfs_sync_msg *u, uint64_t inode)
{
	struct pfs_sync_entry key = {.inode = inode};

	if (!u || !u->nentries)
		return NULL;
	return bsearch(&key, u->entries, u->nentries, sizeof(key), cmp_entry);
}

static bool update_deletes(const struct pfs_sync_msg *u, uint64_t inode)
{
	if (!u || !u->ndeleted)
		return false;
	return bsearch(&inode, u->deleted, u->ndeleted, sizeof(inode), cmp_u64) != NULL;
}

struct merge_ctx {
	struct pfs_tree *out;
	const struct pfs_sync_msg *update;
	char *errmsg;
	int rv;
};

static int merge_own(const char *name, const struct pfs_stat *st, const char *data, void *arg)
{
	struct merge_ctx *c = arg;

	if (update_entry(c->update, st->inode) || update_deletes(c->update, st->inode))
		return 0;
	c->rv = pfs__tree_load_entry(c->out, st, name, data, c->errmsg);
	return c->rv;
}

/* A new tree: the entries of base that update neither replaces nor
 * deletes, plus the entries of update (NULL: a copy of base). */
static int merge_tree(const struct pfs_tree *base, const struct pfs_sync_msg *update,
		      struct pfs_tree **out, char *errmsg)
{
	struct merge_ctx c = {NULL, update, errmsg, 0};
	uint32_t writer, mtime;
	int rv;

	rv = pfs_tree_new(&c.out);
	if (rv < 0)
		return rv;
	pfs_tree_walk(base, merge_own, &c);
	rv = c.rv;
	for (uint32_t i = 0; rv == 0 && update && i < update->nentries; i++) {
		const struct pfs_sync_entry *e = &update->entries[i];
		struct pfs_stat st = {e->inode, e->parent, e->version, e->writer, e->mtime,
				      e->size, (enum pfs_type)e->type};

		rv = pfs__tree_load_entry(c.out, &st, e->name, e->data, errmsg);
	}
	if (rv == 0) {
		pfs__tree_root_meta(base, &writer, &mtime);
		if (update)
			pfs__tree_load_root(c.out, update->version, update->root_writer,
					    update->root_mtime);
		else
			pfs__tree_load_root(c.out, pfs_tree_version(base), writer, mtime);
		rv = pfs__tree_load_finish(c.out, errmsg);
	}
	if (rv < 0) {
		pfs_tree_free(c.out);
		return rv;
	}
	*out = c.out;
	return 0;
}

static void apply_one(struct pfs_tree *tree, enum pfs_msg_type type, uint32_t writer,
		      uint32_t mtime, const char *path, const char *data, uint32_t size)
{
	struct pfs_msg msg = {0};
	struct pfs_apply_result res;

	msg.type = type;
	msg.writer = writer;
	msg.mtime = mtime;
	msg.path = path;
	msg.data = data;
	msg.data_len = size;
	pfs_tree_apply(tree, &msg, &res);
	if (res.rc < 0 && res.rc != -EEXIST)
		pfs_log(ERR, "applying %s of %s during a sync failed: %s", pfs_msg_type_name(type),
			path, res.errmsg);
}

/* Create every missing directory of path (its last component excluded). */
static void make_parents(struct pfs_tree *tree, uint32_t writer, uint32_t mtime, const char *path)
{
	char buf[PFS_MAX_PATH];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		struct pfs_stat st;

		*p = '\0';
		if (pfs_tree_stat(tree, buf, &st) < 0)
			apply_one(tree, PFS_MSG_MKDIR, writer, mtime, buf, NULL, 0);
		*p = '/';
	}
}

static void format_stamp(uint32_t start, char stamp[32])
{
	time_t t = (time_t)start;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, 32, "%Y%m%d-%H%M%S", &tm);
}

/* Store a diverged member's entries under lost+found/<node>/<start>/. */
static void store_lost(struct pfs_sync *s, struct pfs_tree *tree, const struct member *mb,
		       uint32_t start)
{
	char stamp[32], path[PFS_MAX_PATH];

	format_stamp(start, stamp);
	for (uint32_t i = 0; i < mb->lost.nentries; i++) {
		const struct pfs_sync_entry *e = &mb->lost.entries[i];
		int n = snprintf(path, sizeof(path), LOST_DIR "/%s/%s%s", mb->lost.node_name, stamp,
				 e->name);

		if (n < 0 || (size_t)n >= sizeof(path) || pfs_tree_check_path(path, NULL) < 0) {
			pfs_log(ERR, "entry %s of node %" PRIu32 " cannot be stored under " LOST_DIR
				": the path is invalid or too long", e->name, mb->id);
			continue;
		}
		make_parents(tree, mb->id, start, path);
		apply_one(tree, e->type == PFS_TYPE_DIR ? PFS_MSG_MKDIR : PFS_MSG_CREATE, mb->id,
			  start, path, e->data, e->size);
		s->stats.lost_entries++;
		pfs_log(ERR, "diverged entry %s of node %s stored as %s", e->name,
			mb->lost.node_name, path);
	}
}

/* Record one deletion of a diverged member: a note file for a file, a
 * directory for a directory, at lost+found/<node>/<start>.deleted/<path>. */
static bool store_deletion(struct pfs_sync *s, struct pfs_tree *tree, const struct member *mb,
			   uint32_t start, const char *stamp, uint64_t inode, bool quiet)
{
	char path[PFS_MAX_PATH], note_path[PFS_MAX_PATH], note[PFS_MAX_PATH + 256];
	struct pfs_stat st;
	int n;

	if (pfs_tree_path_of(tree, inode, path, sizeof(path)) < 0 || !outside_lost(path) ||
	    pfs_tree_stat(tree, path, &st) < 0)
		return false;
	n = snprintf(note_path, sizeof(note_path), LOST_DIR "/%s/%s.deleted%s", mb->lost.node_name,
		     stamp, path);
	if (n < 0 || (size_t)n >= sizeof(note_path) || pfs_tree_check_path(note_path, NULL) < 0) {
		pfs_log(ERR, "the deletion of %s by node %" PRIu32 " cannot be recorded under "
			LOST_DIR ": the path is invalid or too long", path, mb->id);
		return false;
	}
	make_parents(tree, mb->id, start, note_path);
	if (st.type == PFS_TYPE_DIR) {
		apply_one(tree, PFS_MSG_MKDIR, mb->id, start, note_path, NULL, 0);
	} else {
		n = snprintf(note, sizeof(note), "node %s deleted %s after version %" PRIu64
			     "; the synced tree keeps it at version %" PRIu64 "\n",
			     mb->lost.node_name, path, mb->fork, st.version);
		apply_one(tree, PFS_MSG_CREATE, mb->id, start, note_path, note, (uint32_t)n);
	}
	s->stats.deletions++;
	if (!quiet)
		pfs_log(ERR, "deletion of %s by diverged node %s was not kept; recorded as %s",
			path, mb->lost.node_name, note_path);
	return true;
}

/* Record what a diverged member deleted after the fork: the inodes at or
 * below the fork that the source has and the member lacks. They existed
 * in the shared history, so the member deleted them (a rename keeps the
 * inode). tree is the source's tree, the same on every member. */
static void store_deletions(struct pfs_sync *s, struct pfs_tree *tree, const struct member *mb,
			    const struct member *src)
{
	char stamp[32];
	uint32_t count = 0;

	format_stamp(src->summary.start_time, stamp);
	for (uint32_t i = 0; i < src->summary.nhashes; i++) {
		uint64_t inode = src->summary.hashes[i].inode;

		if (inode == 0 || inode > mb->fork || find_hash(&mb->summary, inode))
			continue;
		if (store_deletion(s, tree, mb, src->summary.start_time, stamp, inode,
				   count >= LOG_DELETIONS))
			count++;
	}
	if (count > LOG_DELETIONS)
		pfs_log(ERR, "%" PRIu32 " deletions of diverged node %s recorded under " LOST_DIR
			"/%s/%s.deleted, %" PRIu32 " of them not logged one by one", count,
			mb->lost.node_name, mb->lost.node_name, stamp, count - LOG_DELETIONS);
}

static int send_digest(struct pfs_sync *s)
{
	struct pfs_sync_msg m = {.type = PFS_SYNC_DIGEST};
	int rv;

	m.version = pfs_tree_version(pfs_store_tree(s->store));
	rv = tree_digest(pfs_store_tree(s->store), m.digest);
	if (rv == 0)
		send_msg(s, &m);
	return rv;
}

static void count_status(uint32_t node, const char *key, const char *value, uint32_t len,
			 void *arg)
{
	(void)node;
	(void)key;
	(void)value;
	(void)len;
	(*(uint32_t *)arg)++;
}

/* Return true when the UPDATE would leave this member as it is: the same
 * tree digest, root metadata, history and status area as the source's.
 * Rebuilding would then only rewrite the database and the mirror. */
static bool same_as_source(const struct pfs_sync *s, const struct member *self,
			   const struct member *src)
{
	const struct pfs_tree *tree = pfs_store_tree(s->store);
	const struct pfs_sync_msg *mine = &self->summary, *theirs = &src->summary;
	uint32_t writer, mtime, nstatus = 0;

	if (memcmp(mine->digest, theirs->digest, 32) != 0 || mine->version != theirs->version ||
	    mine->ngens != theirs->ngens)
		return false;
	for (uint32_t i = 0; i < mine->ngens; i++)
		if (!same_gen(&mine->gens[i], &theirs->gens[i]) ||
		    mine->gens[i].members != theirs->gens[i].members ||
		    mine->gens[i].last_version != theirs->gens[i].last_version)
			return false;
	pfs__tree_root_meta(tree, &writer, &mtime);
	if (writer != s->update.root_writer || mtime != s->update.root_mtime)
		return false;

	/* Equal counts and every source value present here: equal areas. */
	pfs_tree_status_walk(tree, 0, count_status, &nstatus);
	if (nstatus != s->update.nstatus)
		return false;
	for (uint32_t i = 0; i < s->update.nstatus; i++) {
		const struct pfs_sync_status *sv = &s->update.status[i];
		uint32_t len = 0;
		const char *value = pfs_tree_status_get(tree, sv->node, sv->key, &len);

		if (!value || len != sv->len || memcmp(value, sv->value, len) != 0)
			return false;
	}
	return true;
}

static void suspend(struct pfs_sync *s, const char *step);

/* A diverged member before members[i] (a lower node id) with the same
 * tree, version and fork: both were on the losing side together and sent
 * the same LOST, which is stored once, under the first one's name. */
static const struct member *same_side_before(const struct pfs_sync *s, size_t i)
{
	const struct member *x = &s->members[i];

	for (size_t k = 0; k < i; k++) {
		const struct member *y = &s->members[k];

		if (y->diverged && y->fork == x->fork && y->summary.version == x->summary.version &&
		    memcmp(y->summary.digest, x->summary.digest, 32) == 0)
			return y;
	}
	return NULL;
}

/* UPDATE and every LOST are in: build and persist the tree, send DIGEST. */
static int finish_update(struct pfs_sync *s)
{
	const struct member *src = member_of(s, s->source);
	struct pfs_generation *gens = NULL;
	struct pfs_tree *tree = NULL;
	char errmsg[PFS_ERRMSG_SIZE] = "";
	bool any_lost = false;
	int rv;

	for (size_t i = 0; i < s->nmembers; i++) {
		if (s->members[i].diverged && !s->members[i].have_lost)
			return 0;
		any_lost |= s->members[i].diverged;
	}
	s->state = PFS_SYNC_STATE_VERIFY;
	if (s->source == s->node_id && !any_lost)
		return send_digest(s);
	if (!any_lost && same_as_source(s, member_of(s, s->node_id), src)) {
		pfs_log(DEBUG, "tree, history and status area equal sync source %" PRIu32
			"'s: nothing to rebuild", s->source);
		return send_digest(s);
	}

	/* The source's tree, then the lost entries in node id order. */
	rv = merge_tree(pfs_store_tree(s->store), s->source == s->node_id ? NULL : &s->update,
			&tree, errmsg);
	if (rv < 0) {
		pfs_log(ERR, "building the tree of sync source %" PRIu32 " failed: %s", s->source,
			errmsg);
		return send_digest(s);
	}
	pfs_tree_round_begin(tree);
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct member *twin;

		if (!s->members[i].diverged)
			continue;
		twin = same_side_before(s, i);
		if (twin) {
			pfs_log(ERR, "diverged node %s holds the same changes as node %s: they are "
				"stored once, under " LOST_DIR "/%s", s->members[i].lost.node_name,
				twin->lost.node_name, twin->lost.node_name);
			continue;
		}
		store_lost(s, tree, &s->members[i], src->summary.start_time);
		store_deletions(s, tree, &s->members[i], src);
	}

	/* The source's status area, which the rebuilt tree lacks. */
	for (uint32_t i = 0; i < s->update.nstatus; i++) {
		const struct pfs_sync_status *sv = &s->update.status[i];

		apply_one(tree, PFS_MSG_STATUS_SET, sv->node, 0, sv->key, sv->value, sv->len);
	}
	pfs_tree_round_end(tree);

	/* The source's history replaces ours. */
	gens = calloc(src->summary.ngens ? src->summary.ngens : 1, sizeof(*gens));
	if (!gens) {
		pfs_tree_free(tree);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < src->summary.ngens; i++) {
		snprintf(gens[i].ring_id, sizeof(gens[i].ring_id), "%s", src->summary.gens[i].ring_id);
		gens[i].members = src->summary.gens[i].members;
		gens[i].first_version = src->summary.gens[i].first_version;
		gens[i].last_version = src->summary.gens[i].last_version;
	}
	rv = pfs_store_replace_tree(s->store, tree, gens, src->summary.ngens, errmsg);
	free(gens);
	s->replaced = true;
	if (rv < 0) {
		/* Leave the group, as after a failed commit: a digest that
		 * cannot match would hold every member in sync. */
		pfs_log(ERR, "storing the synced tree failed: %s", errmsg);
		pfs_tree_free(tree);
		suspend(s, "storing the synced tree");
		return rv;
	}
	return send_digest(s);
}

/*
 * Run finish_update() and, once it built the tree, free the decoded
 * UPDATE: a second copy of the whole tree that nothing reads afterwards
 * (have_update stays set, so a repeated UPDATE is still ignored). The
 * heap is trimmed, because its many small blocks would otherwise stay
 * resident until the next round reuses them.
 */
static int finish_update_and_drop(struct pfs_sync *s)
{
	int rv = finish_update(s);

	if (s->state != PFS_SYNC_STATE_UPDATE) {
		pfs_sync_msg_clear(&s->update);
		malloc_trim(0);
	}
	return rv;
}

static int on_update(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	if (s->state != PFS_SYNC_STATE_UPDATE || mb->id != s->source || s->have_update)
		return 0;
	qsort(m->entries, m->nentries, sizeof(*m->entries), cmp_entry);
	m->ndeleted = sort_unique(m->deleted, m->ndeleted);
	s->update = *m;
	memset(m, 0, sizeof(*m));
	s->have_update = true;
	return finish_update_and_drop(s);
}

static int on_lost(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	if (s->state != PFS_SYNC_STATE_UPDATE || !mb->diverged || mb->have_lost)
		return 0;
	mb->lost = *m;
	memset(m, 0, sizeof(*m));
	mb->have_lost = true;
	return s->have_update ? finish_update_and_drop(s) : 0;
}

/* Quorum and the primary component ----------------------------------------- */

static void try_primary(struct pfs_sync *s)
{
	struct pfs_sync_msg m = {.type = PFS_SYNC_PRIMARY};

	uint64_t have, needed;

	if (s->state != PFS_SYNC_STATE_SYNCED || s->source != s->node_id || s->primary_sent ||
	    !quorum_current(s) || !s->quorate)
		return;
	member_votes(s, &have, &needed);
	if (have < needed) {
		if (!s->short_logged)
			pfs_log(WARN, "corosync is quorate, but the nodes that run pmxfs hold %" PRIu64
				" of the %" PRIu64 " votes a change needs: changes are rejected until "
				"pmxfs runs on more nodes", have, needed);
		s->short_logged = true;
		return;
	}
	s->short_logged = false;
	s->primary_sent = true;
	send_msg(s, &m);
}

/* The sync ended without quorum: nothing held can be applied, this node
 * stops timing leases (if it keeps time again later, it restarts them),
 * and the lock holders on this node are told that their locks are lost. */
static void answer_not_quorate(struct pfs_sync *s)
{
	pfs_store_set_timekeeper(s->store, false);
	pfs_store_quorum_lost(s->store);
	held_fail_all(s, -EROFS, PFS_SYNC_NOT_QUORATE);
	pfs_store_fail_unconfirmed(s->store, -EINPROGRESS,
				   "outcome unknown: this node lost quorum before the change was "
				   "confirmed");
	pfs_store_fail_undelivered(s->store, UINT64_MAX, -EINPROGRESS,
				   "outcome unknown: this node lost quorum before the change was "
				   "delivered");
}

/* The store could not write a round or the synced tree, so this node
 * cannot follow the group: it leaves it (pfs_cpg), keeps its last stored
 * tree for reads and rejects changes until pfs_sync_resume(). */
static void suspend(struct pfs_sync *s, const char *step)
{
	char dir[PFS_ERRMSG_SIZE];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", pfs_store_db_path(s->store));
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	snprintf(s->suspend_why, sizeof(s->suspend_why),
		 "node %s cannot store changes in %.80s (disk full or failing): free space there "
		 "or fix the disk; it rejoins the cluster once a test write succeeds",
		 s->node_name, dir);
	pfs_log(ERR, "%s failed: this node leaves the group and serves its last stored tree, "
		"version %" PRIu64 ", as stale reads: %s", step,
		pfs_tree_version(pfs_store_tree(s->store)), s->suspend_why);
	s->suspend_bytes = bound_bytes(pfs_tree_byte_count(pfs_store_tree(s->store)),
				       pfs_tree_entry_count(pfs_store_tree(s->store)));
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct member *mb = &s->members[i];
		uint64_t b = bound_bytes(mb->summary.tree_bytes, mb->summary.nhashes);

		if (mb->have_summary && b > s->suspend_bytes)
			s->suspend_bytes = b;
	}
	s->state = PFS_SYNC_STATE_SUSPENDED;
	s->stats.suspended++;
	if (!s->suspend_since)
		s->suspend_since = time(NULL);
	s->probe_ms = pfs_sync_next_probe_ms(s->probe_ms, s->rejoining);
	if (s->rejoining)
		pfs_log(WARN, "the rejoin of node %s failed: %s failed again; the next test write "
			"in %u ms", s->node_name, step, s->probe_ms);
	s->rejoining = false;
	pfs_store_set_timekeeper(s->store, false);
	pfs_store_quorum_lost(s->store);
	held_fail_all(s, -ENOSPC, s->suspend_why);
	pfs_store_fail_unconfirmed(s->store, -EINPROGRESS,
				   "outcome unknown: this node left the cluster, because it cannot "
				   "store changes, before the change was confirmed");
	pfs_store_fail_undelivered(s->store, UINT64_MAX, -EINPROGRESS,
				   "outcome unknown: this node left the cluster, because it cannot "
				   "store changes, before the change was delivered");
}

static int on_digest(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	const struct member *src;

	if (s->state != PFS_SYNC_STATE_VERIFY || mb->have_digest)
		return 0;
	memcpy(mb->digest, m->digest, 32);
	mb->have_digest = true;
	for (size_t i = 0; i < s->nmembers; i++)
		if (!s->members[i].have_digest)
			return 0;

	/* Every digest is in: equal to the source's, or start again. */
	src = member_of(s, s->source);
	for (size_t i = 0; i < s->nmembers; i++) {
		if (memcmp(s->members[i].digest, src->digest, 32) == 0)
			continue;
		s->stats.restarts++;
		pfs_log(ERR, "node %" PRIu32 " has a different digest than sync source %" PRIu32
			" after round %" PRIu32, s->members[i].id, s->source, s->round.counter);
		if (++s->restarts > PFS_SYNC_MAX_RESTARTS) {
			pfs_log(ERR, "sync gave up after %u digest mismatches; waiting for the next "
				"configuration change", PFS_SYNC_MAX_RESTARTS);
			return 0;
		}
		s->round.counter++;
		return start_round(s);
	}
	s->state = PFS_SYNC_STATE_SYNCED;
	if (s->rejoining)
		pfs_log(NOTICE, "node %s rejoined after its store could not write: test writes go "
			"back to every %u ms", s->node_name, PFS_SYNC_PROBE_MS);
	s->rejoining = false;
	s->suspend_since = 0;
	s->probe_ms = PFS_SYNC_PROBE_MS;
	pfs_log(INFO, "sync round %" PRIu32 "/%" PRIu64 "/%" PRIu32 " done at version %" PRIu64
		", source node %" PRIu32, s->round.ring_node, s->round.ring_seq, s->round.counter,
		pfs_tree_version(pfs_store_tree(s->store)), s->source);
	if (quorum_current(s) && !store_quorate(s))
		answer_not_quorate(s);
	try_primary(s);
	return 0;
}

static bool is_member(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static int on_primary(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	char ring[PFS_SYNC_RING_ID_SIZE], errmsg[PFS_ERRMSG_SIZE] = "";
	uint32_t *ids;
	int rv;

	(void)m;
	if (s->state != PFS_SYNC_STATE_SYNCED || mb->id != s->source)
		return 0;

	/* A generation starts with the next version. */
	snprintf(ring, sizeof(ring), "%" PRIu32 ".%" PRIu64 ".%" PRIu32, s->round.ring_node,
		 s->round.ring_seq, s->round.counter);
	rv = pfs_db_generation_start(pfs_store_db(s->store), ring, (uint32_t)s->nmembers,
				     pfs_tree_version(pfs_store_tree(s->store)) + 1, errmsg);
	if (rv < 0)
		pfs_log(ERR, "recording generation %s failed: %s", ring, errmsg);

	/* Departed nodes lose their status values. Lock queues are not part
	 * of the synced state, so every member empties them here. */
	for (size_t i = 0; i < s->nprimary; i++)
		if (!is_member(s->member_ids, s->nmembers, s->primary_ids[i]))
			pfs_store_drop_node(s->store, s->primary_ids[i]);
	pfs_store_drop_waiters(s->store, -EAGAIN,
			       "busy, not applied: the cluster configuration changed while the "
			       "request waited for the lock");
	ids = malloc(s->nmembers * sizeof(*ids));
	if (ids) {
		memcpy(ids, s->member_ids, s->nmembers * sizeof(*ids));
		free(s->primary_ids);
		s->primary_ids = ids;
		s->nprimary = s->nmembers;
	}

	s->state = PFS_SYNC_STATE_PRIMARY;
	s->restarts = 0;
	s->timeouts = 0;
	s->primary_base = pfs_store_delivered(s->store);
	s->confirm_sent = 0;
	for (size_t i = 0; i < s->nmembers; i++)
		s->members[i].confirmed = 0;
	s->last_verify_ms = now_ms(s);
	pfs_log(NOTICE, "primary component %s formed with %zu members, version %" PRIu64, ring,
		s->nmembers, pfs_tree_version(pfs_store_tree(s->store)));

	/* Replies from before the configuration change: the result is final
	 * unless a synced tree replaced this node's, in this round or in an
	 * abandoned one, and never-delivered changes are unknown. */
	if (s->diverged || s->replaced)
		pfs_store_fail_unconfirmed(s->store, -EINPROGRESS,
					   "outcome unknown: a synced tree replaced this node's before "
					   "the change was confirmed");
	else
		pfs_store_release(s->store, UINT64_MAX);
	s->replaced = false;
	pfs_store_fail_undelivered(s->store, s->held ? s->held->request_id : UINT64_MAX,
				   -EINPROGRESS,
				   "outcome unknown: the configuration changed before delivery");

	pfs_store_set_timekeeper(s->store, s->member_ids[0] == s->node_id);
	held_send_all(s);
	return 0;
}

static uint32_t votes_of(const struct pfs_sync *s, uint32_t node)
{
	for (size_t i = 0; i < s->nvotes; i++)
		if (s->votes[i].node == node)
			return s->votes[i].votes;
	return 1;
}

/* A member's confirmation count and its votes. */
struct confirmation {
	uint64_t count;
	uint32_t votes;
};

static int cmp_confirmation_desc(const void *a, const void *b)
{
	const struct confirmation *x = a, *y = b;

	return x->count > y->count ? -1 : x->count < y->count;
}

static int on_confirm(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	struct confirmation c[PFS_SYNC_MAX_MEMBERS];
	uint64_t expected, needed, total = 0, sum = 0;

	if (s->state != PFS_SYNC_STATE_PRIMARY)
		return 0;
	if (m->count > mb->confirmed)
		mb->confirmed = m->count;

	/* Members holding a majority of the expected votes must have
	 * confirmed a delivery before its reply goes out: walk the members
	 * from the highest count down until their votes reach it. */
	for (size_t i = 0; i < s->nmembers; i++) {
		c[i].count = s->members[i].confirmed;
		c[i].votes = votes_of(s, s->members[i].id);
		total += c[i].votes;
	}
	expected = s->expected_votes > total ? s->expected_votes : total;
	needed = expected / 2 + 1;
	qsort(c, s->nmembers, sizeof(c[0]), cmp_confirmation_desc);
	for (size_t i = 0; i < s->nmembers; i++) {
		sum += c[i].votes;
		if (sum >= needed) {
			pfs_store_release(s->store, s->primary_base + c[i].count);
			break;
		}
	}
	return 0;
}

/* A member's round took longer than its bound: every member abandons it
 * here, at the same point of the order, and starts the next one. */
static int on_restart(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	(void)m;
	if (s->state < PFS_SYNC_STATE_SUMMARY || s->state > PFS_SYNC_STATE_VERIFY)
		return 0;
	s->stats.timeouts++;
	pfs_log(WARN, "sync round %" PRIu32 "/%" PRIu64 "/%" PRIu32 " abandoned in state %s after "
		"%" PRIu64 " ms: node %" PRIu32 " saw it pass its bound of %" PRIu64 " ms; "
		"starting the next round", s->round.ring_node, s->round.ring_seq, s->round.counter,
		pfs_sync_state_name(s->state), now_ms(s) - s->round_start_ms, mb->id,
		pfs_sync_round_bound_ms(s));
	held_fail_all(s, -EAGAIN, "busy, not applied: the sync round timed out before the change "
		      "was sent");
	if (s->timeouts < PFS_SYNC_MAX_BACKOFF)
		s->timeouts++;
	s->round.counter++;
	return start_round(s);
}

static int on_verify(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	(void)m;
	if (s->state != PFS_SYNC_STATE_PRIMARY || mb->id != s->source)
		return 0;
	s->round.counter++;
	return start_round(s);
}

/* Delivery ----------------------------------------------------------------- */

typedef int (*handler_fn)(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m);

static const handler_fn handlers[PFS_SYNC_TYPE_MAX + 1] = {
	[PFS_SYNC_SUMMARY] = on_summary,
	[PFS_SYNC_UPDATE] = on_update,
	[PFS_SYNC_LOST] = on_lost,
	[PFS_SYNC_DIGEST] = on_digest,
	[PFS_SYNC_PRIMARY] = on_primary,
	[PFS_SYNC_CONFIRM] = on_confirm,
	[PFS_SYNC_VERIFY] = on_verify,
	[PFS_SYNC_RESTART] = on_restart,
};

static int dispatch(struct pfs_sync *s, uint32_t sender, const uint8_t *buf, size_t len,
		    uint16_t want_type);

static void chunk_drop(struct pfs_sync *s, struct member *mb, const struct pfs_sync_msg *m,
		       const char *why)
{
	s->stats.chunks_dropped++;
	pfs_log(WARN, "chunk %" PRIu32 " of %" PRIu32 " from node %" PRIu32 " in round %" PRIu32
		"/%" PRIu64 "/%" PRIu32 " dropped with its message: %s", m->index, m->chunks,
		mb->id, s->round.ring_node, s->round.ring_seq, s->round.counter, why);
	chunk_reset(mb);
}

/* Add one part of a chunked message of the current round. Part 0 starts
 * a reassembly, and every later part must be the next one of the same
 * message. The last part checks the SHA-256 and hands the message on. */
static int on_chunk(struct pfs_sync *s, struct member *mb, struct pfs_sync_msg *m)
{
	uint8_t digest[32];
	unsigned int digest_len = 0;
	uint8_t *buf;
	uint64_t total;
	uint16_t type;

	if (m->index == 0) {
		if (mb->chunk_buf)
			chunk_drop(s, mb, m, "a new message started before the last one ended");
		mb->chunk_buf = malloc((size_t)m->total_len);
		if (!mb->chunk_buf)
			return -ENOMEM;
		mb->chunk_total = m->total_len;
		mb->chunk_count = m->chunks;
		mb->chunk_type = m->inner_type;
		memcpy(mb->chunk_digest, m->digest, 32);
		mb->chunk_next = 0;
	} else if (!mb->chunk_buf || m->index != mb->chunk_next ||
		   m->total_len != mb->chunk_total || m->inner_type != mb->chunk_type ||
		   memcmp(m->digest, mb->chunk_digest, 32) != 0) {
		chunk_drop(s, mb, m, "it does not continue the message being reassembled");
		return 0;
	}
	memcpy(mb->chunk_buf + (uint64_t)m->index * PFS_SYNC_CHUNK_SIZE, m->payload,
	       m->payload_len);
	mb->chunk_next++;
	if (mb->chunk_next < mb->chunk_count)
		return 0;

	/* The whole message: check it, then hand it on as if sent whole. */
	buf = mb->chunk_buf;
	total = mb->chunk_total;
	type = mb->chunk_type;
	mb->chunk_buf = NULL;
	chunk_reset(mb);
	if (!EVP_Digest(buf, (size_t)total, digest, &digest_len, EVP_sha256(), NULL) ||
	    memcmp(digest, m->digest, 32) != 0) {
		free(buf);
		s->stats.chunks_dropped++;
		pfs_log(WARN, "sync message %" PRIu16 " of %" PRIu64 " bytes from node %" PRIu32
			" reassembled from %" PRIu32 " chunks has a wrong SHA-256 and is dropped",
			type, total, mb->id, m->chunks);
		return 0;
	}
	pfs_log(INFO, "sync message %" PRIu16 " of %" PRIu64 " bytes from node %" PRIu32
		" reassembled from %" PRIu32 " chunks", type, total, mb->id, m->chunks);
	{
		int rv = dispatch(s, mb->id, buf, (size_t)total, type);

		free(buf);
		return rv;
	}
}

/* Decode and handle one sync message; want_type is the type a reassembled
 * message must have (0 for a message delivered by the group). */
static int dispatch(struct pfs_sync *s, uint32_t sender, const uint8_t *buf, size_t len,
		    uint16_t want_type)
{
	struct pfs_sync_msg m;
	struct member *mb;
	int rv;

	rv = pfs_sync_msg_decode(buf, len, &m);
	if (rv == 0 && want_type && m.type != want_type) {
		pfs_sync_msg_clear(&m);
		rv = -EBADMSG;
	}
	if (rv < 0) {
		s->stats.bad++;
		pfs_log(WARN, "sync message of %zu bytes from node %" PRIu32 " is malformed: %s", len,
			sender, strerror(-rv));
		return rv == -ENOMEM ? rv : 0;
	}
	mb = member_of(s, sender);
	if (!mb || m.sender != sender || !same_round(&m.round, &s->round)) {
		s->stats.stale++;
		pfs_log(DEBUG, "sync message %d of round %" PRIu32 "/%" PRIu64 "/%" PRIu32
			" from node %" PRIu32 " dropped: not the current round", m.type,
			m.round.ring_node, m.round.ring_seq, m.round.counter, sender);
		pfs_sync_msg_clear(&m);
		return 0;
	}
	rv = m.type == PFS_SYNC_CHUNK ? on_chunk(s, mb, &m) : handlers[m.type](s, mb, &m);
	pfs_sync_msg_clear(&m);
	CHECK_INVARIANTS(s);
	return rv;
}

int pfs_sync_flush(struct pfs_sync *s)
{
	struct pfs_sync_msg m = {.type = PFS_SYNC_CONFIRM};
	uint64_t count;
	int rv = 0;

	if (s->nbatch) {
		struct pfs_store_stats before, after;

		pfs_store_stats(s->store, &before);
		rv = pfs_store_deliver(s->store, (const uint8_t *const *)s->batch, s->batch_len,
				       s->nbatch);
		for (size_t i = 0; i < s->nbatch; i++)
			free(s->batch[i]);
		s->nbatch = 0;
		if (rv < 0)
			return rv;

		/* The other members committed this round: a node that could not
		 * must leave the group rather than go on with another tree. */
		pfs_store_stats(s->store, &after);
		if (after.failed_commits != before.failed_commits) {
			suspend(s, "committing a round of changes");
			return -EIO;
		}
	}

	/* One CONFIRM covers everything this node delivered so far. */
	if (s->state != PFS_SYNC_STATE_PRIMARY)
		return 0;
	count = pfs_store_delivered(s->store) - s->primary_base;
	if (count > s->confirm_sent) {
		s->confirm_sent = count;
		m.count = count;
		send_msg(s, &m);
	}
	return 0;
}

int pfs_sync_deliver(struct pfs_sync *s, uint32_t sender, const uint8_t *buf, size_t len)
{
	uint8_t *copy;
	int rv;

	if (pfs_sync_is_sync_msg(buf, len)) {
		rv = pfs_sync_flush(s);
		return rv < 0 ? rv : dispatch(s, sender, buf, len, 0);
	}

	/* A change outside a primary component is dropped by every member. */
	if (s->state != PFS_SYNC_STATE_PRIMARY) {
		s->stats.dropped++;
		if (sender == s->node_id && len >= PFS_WIRE_HEADER_SIZE)
			pfs_store_answer(s->store, pfs__get_u64(buf + 16), -EAGAIN,
					 "busy, not applied: the cluster configuration changed");
		return 0;
	}
	if (s->nbatch == s->cbatch) {
		size_t cap = s->cbatch ? s->cbatch * 2 : 64;
		uint8_t **b = realloc(s->batch, cap * sizeof(*b));
		size_t *l;

		if (!b)
			return -ENOMEM;
		s->batch = b;
		l = realloc(s->batch_len, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		s->batch_len = l;
		s->cbatch = cap;
	}
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	s->batch[s->nbatch] = copy;
	s->batch_len[s->nbatch++] = len;

	/* Bounded rounds keep each commit, and the time away from the
	 * delivery path, short. */
	return s->nbatch >= PFS_SYNC_BATCH_MAX ? pfs_sync_flush(s) : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int pfs_sync_confchg(struct pfs_sync *s, const struct pfs_sync_round *round,
		     const uint32_t *members, size_t count)
{
	struct member *mbs;
	uint32_t *ids;
	bool self = false;
	int rv;

	for (size_t i = 0; i < count; i++)
		self |= members[i] == s->node_id;
	if (count == 0 || count > PFS_SYNC_MAX_MEMBERS || !self)
		return -EINVAL;

	/* Changes delivered before the configuration change still apply. */
	rv = pfs_sync_flush(s);
	if (rv < 0)
		return rv;

	ids = malloc(count * sizeof(*ids));
	mbs = calloc(count, sizeof(*mbs));
	if (!ids || !mbs) {
		free(ids);
		free(mbs);
		return -ENOMEM;
	}
	memcpy(ids, members, count * sizeof(*ids));
	qsort(ids, count, sizeof(*ids), cmp_u32);
	for (size_t i = 0; i < count; i++)
		mbs[i].id = ids[i];
	for (size_t i = 0; i < s->nmembers; i++) {
		pfs_sync_msg_clear(&s->members[i].summary);
		pfs_sync_msg_clear(&s->members[i].lost);
		chunk_reset(&s->members[i]);
	}
	free(s->members);
	free(s->member_ids);
	s->members = mbs;
	s->member_ids = ids;
	s->nmembers = count;
	if (s->round.ring_node != round->ring_node || s->round.ring_seq != round->ring_seq) {
		s->restarts = 0;
		s->timeouts = 0;
	}
	s->round = *round;
	pfs_log(NOTICE, "configuration changed: %zu members, ring %" PRIu32 "/%" PRIu64, count,
		round->ring_node, round->ring_seq);
	rv = start_round(s);
	CHECK_INVARIANTS(s);
	return rv;
}

void pfs_sync_quorum(struct pfs_sync *s, uint32_t ring_node, uint64_t ring_seq, bool quorate,
		     uint32_t expected_votes)
{
	(void)ring_node;
	if (!s->quorum_known)
		pfs_log(NOTICE, "quorum %s at start in ring %" PRIu32 "/%" PRIu64
			" (expected votes %" PRIu32 ")", quorate ? "present" : "missing", ring_node,
			ring_seq, expected_votes);
	else if (s->quorate != quorate)
		pfs_log(NOTICE, "quorum %s in ring %" PRIu32 "/%" PRIu64 " (expected votes %" PRIu32
			")", quorate ? "gained" : "lost", ring_node, ring_seq, expected_votes);
	s->quorum_known = true;
	s->quorate = quorate;
	s->quorum_seq = ring_seq;
	s->expected_votes = expected_votes;
	if (s->state == PFS_SYNC_STATE_SYNCED && quorum_current(s) && !store_quorate(s))
		answer_not_quorate(s);
	try_primary(s);
	CHECK_INVARIANTS(s);
}

void pfs_sync_tick(struct pfs_sync *s)
{
	uint64_t now = now_ms(s);

	/* Held writes past their deadline, oldest first. */
	while (s->held && s->held->deadline_ms <= now) {
		struct held *h = s->held;

		s->held = h->next;
		if (!s->held)
			s->held_tail = &s->held;
		s->nheld--;
		pfs_store_answer(s->store, h->request_id, -EAGAIN,
				 "busy, not applied: the cluster is syncing");
		held_free(h);
	}

	/* A round past its bound: ask every member to abandon it, at one
	 * point of the order (on_restart()). */
	if (s->state >= PFS_SYNC_STATE_SUMMARY && s->state <= PFS_SYNC_STATE_VERIFY &&
	    !s->restart_sent && now - s->round_start_ms >= pfs_sync_round_bound_ms(s)) {
		struct pfs_sync_msg m = {.type = PFS_SYNC_RESTART};

		s->restart_sent = true;
		pfs_log(WARN, "sync round %" PRIu32 "/%" PRIu64 "/%" PRIu32 " is still in state %s "
			"after %" PRIu64 " ms, past its bound of %" PRIu64 " ms: a member may be hung; "
			"asking every member to restart it", s->round.ring_node, s->round.ring_seq,
			s->round.counter, pfs_sync_state_name(s->state), now - s->round_start_ms,
			pfs_sync_round_bound_ms(s));
		send_msg(s, &m);
	}

	/* The source starts a verify round at one point of the order. */
	if (s->state == PFS_SYNC_STATE_PRIMARY && s->source == s->node_id &&
	    now - s->last_verify_ms >= PFS_SYNC_VERIFY_MS) {
		struct pfs_sync_msg m = {.type = PFS_SYNC_VERIFY};

		s->last_verify_ms = now;
		send_msg(s, &m);
	}
}

int pfs_sync_new(struct pfs_store *store, uint32_t node_id, const char *node_name,
		 struct pfs_sync_transport transport, const struct pfs_sync_clock *clock,
		 struct pfs_sync **out)
{
	struct pfs_sync *s = calloc(1, sizeof(*s));
	struct pfs_transport st;

	if (!s)
		return -ENOMEM;
	s->store = store;
	s->node_id = node_id;
	snprintf(s->node_name, sizeof(s->node_name), "%s", node_name);
	s->transport = transport;
	if (clock) {
		s->clock = *clock;
	} else {
		s->clock.now_ms = real_now_ms;
		s->clock.wall = real_wall;
	}
	s->held_tail = &s->held;
	s->state = PFS_SYNC_STATE_START;
	st.ops = &store_transport_ops;
	st.impl = s;
	pfs_store_set_transport(store, st);
	pfs_store_set_ack_gate(store, true);
	pfs_store_set_timekeeper(store, false);
	*out = s;
	return 0;
}

void pfs_sync_free(struct pfs_sync *s)
{
	if (!s)
		return;
	while (s->held) {
		struct held *h = s->held;

		s->held = h->next;
		held_free(h);
	}
	for (size_t i = 0; i < s->nbatch; i++)
		free(s->batch[i]);
	free(s->batch);
	free(s->batch_len);
	for (size_t i = 0; i < s->nmembers; i++) {
		pfs_sync_msg_clear(&s->members[i].summary);
		pfs_sync_msg_clear(&s->members[i].lost);
		chunk_reset(&s->members[i]);
	}
	pfs_sync_msg_clear(&s->update);
	free(s->members);
	free(s->member_ids);
	free(s->primary_ids);
	free(s);
}

enum pfs_sync_state pfs_sync_state(const struct pfs_sync *s)
{
	return s->state;
}

bool pfs_sync_writable(const struct pfs_sync *s)
{
	return s->state == PFS_SYNC_STATE_PRIMARY && (!quorum_current(s) || store_quorate(s));
}

bool pfs_sync_votes_short(const struct pfs_sync *s)
{
	return votes_short(s);
}

const char *pfs_sync_reject_why(struct pfs_sync *s)
{
	uint64_t have, needed;

	if (votes_short(s)) {
		member_votes(s, &have, &needed);
		snprintf(s->reject_why, sizeof(s->reject_why),
			 "not quorate for changes: corosync is quorate, but the nodes that run pmxfs "
			 "hold %" PRIu64 " of the %" PRIu64 " votes a change needs; start pmxfs on "
			 "more nodes",
			 have, needed);
		return s->reject_why;
	}
	return PFS_SYNC_NOT_QUORATE;
}

const char *pfs_sync_suspended(const struct pfs_sync *s)
{
	return s->state == PFS_SYNC_STATE_SUSPENDED ? s->suspend_why : NULL;
}

uint64_t pfs_sync_suspended_bytes(const struct pfs_sync *s)
{
	return s->suspend_bytes;
}

time_t pfs_sync_suspended_since(const struct pfs_sync *s)
{
	return s->state == PFS_SYNC_STATE_SUSPENDED ? s->suspend_since : 0;
}

uint32_t pfs_sync_probe_ms(const struct pfs_sync *s)
{
	return s->probe_ms ? s->probe_ms : PFS_SYNC_PROBE_MS;
}

uint32_t pfs_sync_next_probe_ms(uint32_t current, bool rejoin_failed)
{
	if (!rejoin_failed || current < PFS_SYNC_PROBE_MS)
		return PFS_SYNC_PROBE_MS;
	return current >= PFS_SYNC_PROBE_MAX_MS / 2 ? PFS_SYNC_PROBE_MAX_MS : 2 * current;
}

void pfs_sync_resume(struct pfs_sync *s)
{
	if (s->state != PFS_SYNC_STATE_SUSPENDED)
		return;
	s->state = PFS_SYNC_STATE_START;
	s->suspend_why[0] = '\0';
	s->rejoining = true;
	pfs_log(NOTICE, "node %s may store changes again: it rejoins the group at version %" PRIu64,
		s->node_name, pfs_tree_version(pfs_store_tree(s->store)));
}

uint32_t pfs_sync_timekeeper(const struct pfs_sync *s)
{
	return s->state == PFS_SYNC_STATE_PRIMARY ? s->member_ids[0] : 0;
}

const uint32_t *pfs_sync_members(const struct pfs_sync *s, size_t *count)
{
	*count = s->nmembers;
	return s->member_ids;
}

uint64_t pfs_sync_round_bound_ms(const struct pfs_sync *s)
{
	uint64_t bytes = s->summary_bytes > s->own_bytes ? s->summary_bytes : s->own_bytes;
	uint64_t bound = PFS_SYNC_ROUND_MS + bytes * 1000u / PFS_SYNC_ROUND_RATE;

	return bound << s->timeouts;
}

void pfs_sync_set_votes(struct pfs_sync *s, uint32_t node, uint32_t votes)
{
	for (size_t i = 0; i < s->nvotes; i++) {
		if (s->votes[i].node == node) {
			s->votes[i].votes = votes;
			return;
		}
	}
	if (s->nvotes == PFS_SYNC_MAX_MEMBERS) {
		pfs_log(WARN, "votes of node %" PRIu32 " ignored: more than %u nodes reported", node,
			PFS_SYNC_MAX_MEMBERS);
		return;
	}
	s->votes[s->nvotes].node = node;
	s->votes[s->nvotes].votes = votes;
	s->nvotes++;
}

void pfs_sync_stats(const struct pfs_sync *s, struct pfs_sync_stats *stats)
{
	*stats = s->stats;
}
