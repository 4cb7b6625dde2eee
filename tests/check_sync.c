/* Unit tests of pfs_sync: several nodes in one process over an in-memory
 * group with agreed order, partitions and a fake clock. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/sync.h"

#define MAX_NODES 5

/* A multicast in flight: delivered in queue order to its recipients. */
struct event {
	uint32_t sender;
	uint8_t *buf;
	size_t len;
	bool to[MAX_NODES + 1];
};

struct node {
	uint32_t id;
	char name[16];
	struct pfs_store *store;
	struct pfs_sync *sync;
	int component; /* nodes with the same component see each other */
};

static char dir[64];
static struct node nodes[MAX_NODES + 1];
static int nnodes;
static struct event *queue;
static size_t qhead, qlen, qcap;
static uint64_t ring_seq;
static uint64_t clock_ms;

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return clock_ms;
}

static uint32_t fake_wall(void *ctx)
{
	(void)ctx;
	return 1700000000u;
}

static const struct pfs_sync_clock fake_clock = {fake_now, fake_wall, NULL};

static int group_mcast(void *impl, const uint8_t *buf, size_t len)
{
	struct node *n = impl;
	struct event *e;

	if (qlen == qcap) {
		qcap = qcap ? qcap * 2 : 256;
		queue = realloc(queue, qcap * sizeof(*queue));
		ck_assert_ptr_nonnull(queue);
	}
	e = &queue[qlen++];
	memset(e, 0, sizeof(*e));
	e->sender = n->id;
	e->buf = malloc(len);
	ck_assert_ptr_nonnull(e->buf);
	memcpy(e->buf, buf, len);
	e->len = len;
	for (int i = 1; i <= nnodes; i++)
		e->to[i] = nodes[i].component == n->component;
	return 0;
}

static const struct pfs_sync_transport_ops group_ops = {group_mcast};

/* Deliver one queued message to every recipient still in the sender's
 * component, each in its own dispatch batch. Returns false when empty. */
static bool pump_one(void)
{
	struct event e;

	if (qhead == qlen)
		return false;
	e = queue[qhead++];
	for (int i = 1; i <= nnodes; i++) {
		if (!e.to[i] || nodes[i].component != nodes[e.sender].component)
			continue;
		ck_assert_int_eq(pfs_sync_deliver(nodes[i].sync, e.sender, e.buf, e.len), 0);
		ck_assert_int_eq(pfs_sync_flush(nodes[i].sync), 0);
	}
	free(e.buf);
	return true;
}

static void pump(void)
{
	while (pump_one())
		;
}

/* Deliver every queued message to each node in one dispatch batch, then
 * run the group until it is quiet. */
static void pump_batch(void)
{
	size_t end = qlen;

	for (int i = 1; i <= nnodes; i++) {
		for (size_t k = qhead; k < end; k++) {
			struct event *e = &queue[k];

			if (!e->to[i] || nodes[i].component != nodes[e->sender].component)
				continue;
			ck_assert_int_eq(pfs_sync_deliver(nodes[i].sync, e->sender, e->buf, e->len),
					 0);
		}
		ck_assert_int_eq(pfs_sync_flush(nodes[i].sync), 0);
	}
	for (size_t k = qhead; k < end; k++)
		free(queue[k].buf);
	qhead = end;
	pump();
}

/* The type of a queued sync message, or 0 for a change message. */
static int queued_type(const struct event *e)
{
	if (!pfs_sync_is_sync_msg(e->buf, e->len) || e->len < PFS_SYNC_HEADER_SIZE)
		return 0;
	return e->buf[6] | e->buf[7] << 8;
}

/* Drop the first queued sync message of type from sender; false if none. */
static bool drop_queued(uint32_t sender, int type)
{
	for (size_t k = qhead; k < qlen; k++) {
		if (queue[k].sender != sender || queued_type(&queue[k]) != type)
			continue;
		memset(queue[k].to, 0, sizeof(queue[k].to));
		return true;
	}
	return false;
}

/* Give every node the membership of its component and votequorum's view,
 * quorate with a majority of nnodes votes, or forced. */
static void confchg(bool force_quorate_component, int forced)
{
	ring_seq++;
	for (int i = 1; i <= nnodes; i++) {
		uint32_t ids[MAX_NODES];
		size_t n = 0;
		struct pfs_sync_round round = {0};

		for (int j = 1; j <= nnodes; j++)
			if (nodes[j].component == nodes[i].component)
				ids[n++] = nodes[j].id;
		round.ring_node = ids[0];
		round.ring_seq = ring_seq;
		ck_assert_int_eq(pfs_sync_confchg(nodes[i].sync, &round, ids, n), 0);
		bool force = force_quorate_component && nodes[i].component == forced;

		/* corosync-quorumtool -e lowers the expected votes. */
		pfs_sync_quorum(nodes[i].sync, ids[0], ring_seq, 2 * n > (size_t)nnodes || force,
				force ? (uint32_t)n : (uint32_t)nnodes);
	}
}

static void setup_nodes(int count)
{
	char errmsg[PFS_ERRMSG_SIZE], path[128];

	snprintf(dir, sizeof(dir), "/tmp/check_sync.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	nnodes = count;
	ring_seq = 0;
	clock_ms = 1000;
	for (int i = 1; i <= count; i++) {
		struct pfs_sync_transport t = {&group_ops, &nodes[i]};

		nodes[i].id = (uint32_t)i;
		nodes[i].component = 0;
		snprintf(nodes[i].name, sizeof(nodes[i].name), "node%d", i);
		snprintf(path, sizeof(path), "%s/node%d.db", dir, i);
		ck_assert_int_eq(pfs_store_open(path, nodes[i].id, &nodes[i].store, errmsg), 0);
		ck_assert_int_eq(pfs_sync_new(nodes[i].store, nodes[i].id, nodes[i].name, t,
					      &fake_clock, &nodes[i].sync),
				 0);
	}
}

static void setup3(void)
{
	setup_nodes(3);
}

static void setup5(void)
{
	setup_nodes(5);
}

static void teardown(void)
{
	char cmd[160];

	while (qhead < qlen)
		free(queue[qhead++].buf);
	free(queue);
	queue = NULL;
	qhead = qlen = qcap = 0;
	for (int i = 1; i <= nnodes; i++) {
		pfs_sync_free(nodes[i].sync);
		pfs_store_free(nodes[i].store);
		memset(&nodes[i], 0, sizeof(nodes[i]));
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A client request and its reply. */
struct call {
	int answers;
	int rc;
};

static void on_done(void *ctx, const struct pfs_apply_result *res)
{
	struct call *c = ctx;

	c->answers++;
	c->rc = res->rc;
}

static int submit(int node, enum pfs_msg_type type, const char *path, const char *data,
		  struct call *c)
{
	struct pfs_msg m = {0};

	memset(c, 0, sizeof(*c));
	m.type = type;
	m.path = path;
	m.data = data;
	m.data_len = data ? (uint32_t)strlen(data) : 0;
	return pfs_store_submit(nodes[node].store, &m, on_done, c, NULL);
}

/* Write path with data on node and run the group until it is answered. */
static int write_file(int node, const char *path, const char *data)
{
	struct call c;

	ck_assert_int_eq(submit(node, PFS_MSG_CREATE, path, data, &c), 0);
	pump();
	ck_assert_int_eq(c.answers, 1);
	return c.rc;
}

static void assert_digests_equal(int first, int last)
{
	char a[65], b[65];

	ck_assert_int_eq(pfs_tree_digest(pfs_store_tree(nodes[first].store), a), 0);
	for (int i = first + 1; i <= last; i++) {
		ck_assert_int_eq(pfs_tree_digest(pfs_store_tree(nodes[i].store), b), 0);
		ck_assert_str_eq(a, b);
	}
}

static void assert_state(int node, enum pfs_sync_state state)
{
	ck_assert_str_eq(pfs_sync_state_name(pfs_sync_state(nodes[node].sync)),
			 pfs_sync_state_name(state));
}

static bool file_exists(int node, const char *path)
{
	struct pfs_stat st;

	return pfs_tree_stat(pfs_store_tree(nodes[node].store), path, &st) == 0;
}

START_TEST(test_pfs_sync_confchg_join)
{
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
	ck_assert_uint_eq(pfs_sync_timekeeper(nodes[2].sync), 1);
	ck_assert_int_eq(write_file(2, "/a", "hello"), 0);
	for (int i = 1; i <= 3; i++)
		ck_assert(file_exists(i, "/a"));
	assert_digests_equal(1, 3);
}
END_TEST

START_TEST(test_pfs_sync_flush_reply_after_majority)
{
	struct call c;

	confchg(false, 0);
	pump();

	/* The change itself: committed on every node, but no CONFIRM yet. */
	ck_assert_int_eq(submit(1, PFS_MSG_CREATE, "/a", "x", &c), 0);
	ck_assert(pump_one());
	ck_assert(file_exists(1, "/a"));
	ck_assert_int_eq(c.answers, 0);

	/* One CONFIRM (node 1's own) is not a majority of 3; two are. */
	ck_assert(pump_one());
	ck_assert_int_eq(c.answers, 0);
	ck_assert(pump_one());
	ck_assert_int_eq(c.answers, 1);
	ck_assert_int_eq(c.rc, 0);
	pump();
}
END_TEST

START_TEST(test_pfs_sync_confchg_leave_and_catch_up)
{
	struct call c;
	char path[32];

	confchg(false, 0);
	pump();
	ck_assert_int_eq(write_file(1, "/before", "1"), 0);

	/* Node 3 leaves: the majority goes on, node 3 rejects changes. */
	nodes[3].component = 1;
	confchg(false, 0);
	pump();
	assert_state(1, PFS_SYNC_STATE_PRIMARY);
	assert_state(3, PFS_SYNC_STATE_SYNCED);
	ck_assert_int_eq(submit(3, PFS_MSG_CREATE, "/minority", "x", &c), -EROFS);
	for (int i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "/f%d", i);
		ck_assert_int_eq(write_file(i % 2 + 1, path, "data"), 0);
	}
	ck_assert(!file_exists(3, "/f49"));

	/* It comes back and catches up. */
	nodes[3].component = 0;
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
	ck_assert(file_exists(3, "/f49"));
	ck_assert(!file_exists(3, "/minority"));
	assert_digests_equal(1, 3);
}
END_TEST

START_TEST(test_pfs_sync_confchg_mid_sync)
{
	struct pfs_sync_stats stats;

	confchg(false, 0);
	pump();
	ck_assert_int_eq(write_file(1, "/a", "1"), 0);

	/* A second change arrives after one summary of the first round. */
	nodes[3].component = 1;
	confchg(false, 0);
	ck_assert(pump_one());
	nodes[3].component = 0;
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
	pfs_sync_stats(nodes[1].sync, &stats);
	ck_assert_uint_gt(stats.stale, 0);
	ck_assert_int_eq(write_file(3, "/b", "2"), 0);
	assert_digests_equal(1, 3);
}
END_TEST

START_TEST(test_pfs_sync_deliver_stale_change_dropped)
{
	struct call c;
	struct pfs_sync_stats stats;

	confchg(false, 0);
	pump();

	/* Sent in the primary component, delivered after the next change. */
	ck_assert_int_eq(submit(1, PFS_MSG_CREATE, "/late", "x", &c), 0);
	confchg(false, 0);
	pump();
	ck_assert_int_eq(c.answers, 1);
	ck_assert_int_eq(c.rc, -EAGAIN);
	pfs_sync_stats(nodes[2].sync, &stats);
	ck_assert_uint_eq(stats.dropped, 1);
	for (int i = 1; i <= 3; i++)
		ck_assert(!file_exists(i, "/late"));
	assert_digests_equal(1, 3);
}
END_TEST

START_TEST(test_pfs_sync_submit_held_during_sync)
{
	struct call c, late;

	confchg(false, 0);

	/* Held until the primary component forms, then applied. */
	ck_assert_int_eq(submit(2, PFS_MSG_CREATE, "/held", "x", &c), 0);
	ck_assert_int_eq(c.answers, 0);
	pump();
	ck_assert_int_eq(c.answers, 1);
	ck_assert_int_eq(c.rc, 0);
	ck_assert(file_exists(3, "/held"));

	/* A sync that never ends: the held write is answered after 30 s. */
	confchg(false, 0);
	ck_assert_int_eq(submit(2, PFS_MSG_CREATE, "/late", "x", &late), 0);
	clock_ms += PFS_SYNC_HOLD_MS - 1;
	pfs_sync_tick(nodes[2].sync);
	ck_assert_int_eq(late.answers, 0);
	clock_ms += 1;
	pfs_sync_tick(nodes[2].sync);
	ck_assert_int_eq(late.answers, 1);
	ck_assert_int_eq(late.rc, -EAGAIN);
	pump();
	ck_assert(!file_exists(1, "/late"));
}
END_TEST

/* Before its first membership a new node has no member list, so their
 * votes are not counted yet: a write is held, not rejected. */
START_TEST(test_pfs_sync_submit_held_before_members)
{
	struct call c;

	pfs_sync_quorum(nodes[2].sync, 1, 0, true, 3);
	ck_assert_int_eq(submit(2, PFS_MSG_CREATE, "/early", "x", &c), 0);
	ck_assert_int_eq(c.answers, 0);
	confchg(false, 0);
	pump();
	ck_assert_int_eq(c.answers, 1);
	ck_assert_int_eq(c.rc, 0);
	ck_assert(file_exists(1, "/early"));
}
END_TEST

/* corosync quorate with three nodes, but only node 3 runs pmxfs: its
 * component never becomes PRIMARY and rejects writes, naming the votes. */
START_TEST(test_pfs_sync_submit_rejected_short_votes)
{
	struct pfs_sync_round round = {3, 1, 0};
	uint32_t alone = 3;
	struct call c;

	ck_assert_int_eq(pfs_sync_confchg(nodes[3].sync, &round, &alone, 1), 0);
	pfs_sync_quorum(nodes[3].sync, 3, 1, true, 3);
	pump();
	assert_state(3, PFS_SYNC_STATE_SYNCED);
	ck_assert(!pfs_sync_writable(nodes[3].sync));
	ck_assert_int_eq(submit(3, PFS_MSG_CREATE, "/alone", "x", &c), -EROFS);
	ck_assert_ptr_nonnull(strstr(pfs_sync_reject_why(nodes[3].sync),
				     "hold 1 of the 2 votes a change needs"));
	ck_assert(!file_exists(3, "/alone"));

	/* Forced down to one expected vote, it is a majority alone. */
	pfs_sync_quorum(nodes[3].sync, 3, 1, true, 1);
	pump();
	assert_state(3, PFS_SYNC_STATE_PRIMARY);
	ck_assert(pfs_sync_writable(nodes[3].sync));
}
END_TEST

START_TEST(test_pfs_sync_confchg_divergence_both_sides)
{
	struct pfs_sync_stats stats;

	confchg(false, 0);
	pump();
	ck_assert_int_eq(write_file(1, "/shared", "v1"), 0);

	/* Split, and force the minority quorate (corosync-quorumtool -e). */
	nodes[3].component = 1;
	confchg(true, 1);
	pump();
	assert_state(3, PFS_SYNC_STATE_PRIMARY);
	ck_assert_int_eq(write_file(3, "/minority", "m"), 0);
	ck_assert_int_eq(write_file(1, "/majority", "M"), 0);

	/* Heal: the majority's side wins, the minority's change is kept. */
	nodes[3].component = 0;
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++) {
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
		ck_assert(file_exists(i, "/majority"));
		ck_assert(!file_exists(i, "/minority"));
		ck_assert(file_exists(i, "/lost+found/node3/20231114-221320/minority"));
	}
	pfs_sync_stats(nodes[3].sync, &stats);
	ck_assert_uint_eq(stats.diverged, 1);
	ck_assert_uint_eq(stats.lost_entries, 1);
	assert_digests_equal(1, 3);
}
END_TEST

START_TEST(test_pfs_sync_confchg_five_nodes_merge)
{
	confchg(false, 0);
	pump();

	/* 2 + 3: only the three nodes can write. */
	nodes[4].component = 1;
	nodes[5].component = 1;
	confchg(false, 0);
	pump();
	ck_assert_int_eq(write_file(1, "/three", "3"), 0);
	assert_state(4, PFS_SYNC_STATE_SYNCED);

	nodes[4].component = 0;
	nodes[5].component = 0;
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 5; i++)
		ck_assert(file_exists(i, "/three"));
	assert_digests_equal(1, 5);
}
END_TEST

/* Assert that the file path on node contains the string want. */
static void assert_data(int node, const char *path, const char *want)
{
	const char *data;
	struct pfs_stat st;

	ck_assert_int_eq(pfs_tree_read(pfs_store_tree(nodes[node].store), path, &data, &st), 0);
	ck_assert_uint_eq(st.size, strlen(want));
	ck_assert_int_eq(memcmp(data, want, st.size), 0);
}

START_TEST(test_pfs_sync_confchg_majority_after_tail)
{
	struct call tail, acked;

	confchg(false, 0);
	pump();
	ck_assert_int_eq(write_file(1, "/k", "v0"), 0);

	/* A silent split 1,2 | 3,4,5: node 1's change of the old ring
	 * reaches only nodes 1 and 2, which apply it and confirm it. */
	ck_assert_int_eq(submit(1, PFS_MSG_WRITE, "/k", "tail", &tail), 0);
	for (int i = 3; i <= 5; i++)
		nodes[i].component = 1;
	ck_assert(pump_one());
	assert_data(2, "/k", "tail");
	confchg(false, 0);
	pump();
	ck_assert_int_eq(tail.answers, 1);
	ck_assert_int_eq(tail.rc, -EINPROGRESS);

	/* The majority forms a primary component and acknowledges a change. */
	assert_state(3, PFS_SYNC_STATE_PRIMARY);
	ck_assert_int_eq(submit(3, PFS_MSG_WRITE, "/k", "acked", &acked), 0);
	pump();
	ck_assert_int_eq(acked.answers, 1);
	ck_assert_int_eq(acked.rc, 0);

	/* Nodes 4 and 5 meet nodes 1 and 2 while node 3 is away. The
	 * majority's later primary component wins over the longer tail of
	 * the old one, which goes to lost+found. */
	nodes[3].component = 2;
	nodes[4].component = 0;
	nodes[5].component = 0;
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 5; i++) {
		if (i == 3)
			continue;
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
		assert_data(i, "/k", "acked");
		assert_data(i, "/lost+found/node1/20231114-221320/k", "tail");
	}

	nodes[3].component = 0;
	confchg(false, 0);
	pump();
	assert_data(3, "/k", "acked");
	assert_digests_equal(1, 5);
}
END_TEST

/* Acquire lock name on node with waiter_id (1: wait in the queue). */
static int acquire(int node, const char *name, uint64_t waiter_id, struct call *c)
{
	struct pfs_msg m = {0};

	memset(c, 0, sizeof(*c));
	m.type = PFS_MSG_LOCK_ACQUIRE;
	m.path = name;
	m.lease_ms = 10000;
	m.waiter_id = waiter_id;
	return pfs_store_submit(nodes[node].store, &m, on_done, c, NULL);
}

START_TEST(test_pfs_sync_confchg_drops_lock_waiters)
{
	struct call holder, waiter, later;

	confchg(false, 0);
	pump();
	ck_assert_int_eq(acquire(1, "t", 0, &holder), 0);
	pump();
	ck_assert_int_eq(holder.answers, 1);
	ck_assert_int_eq(holder.rc, 0);

	/* Node 2 waits in the queue; a configuration change empties it. */
	ck_assert_int_eq(acquire(2, "t", 1, &waiter), 0);
	pump();
	ck_assert_int_eq(waiter.answers, 0);
	confchg(false, 0);
	pump();
	ck_assert_int_eq(waiter.answers, 1);
	ck_assert_int_eq(waiter.rc, -EAGAIN);

	/* The lock itself survives the change. */
	ck_assert_int_eq(acquire(3, "t", 0, &later), 0);
	pump();
	ck_assert_int_eq(later.rc, -EBUSY);
	assert_digests_equal(1, 3);
}
END_TEST

START_TEST(test_pfs_sync_timekeeper_hand_over)
{
	confchg(false, 0);
	pump();
	ck_assert_uint_eq(pfs_sync_timekeeper(nodes[3].sync), 1);
	ck_assert(pfs_store_is_timekeeper(nodes[1].store));
	ck_assert(!pfs_store_is_timekeeper(nodes[2].store));

	/* Node 1 leaves: node 2, the lowest id left, keeps time. */
	nodes[1].component = 1;
	confchg(false, 0);
	pump();
	ck_assert_uint_eq(pfs_sync_timekeeper(nodes[3].sync), 2);
	ck_assert(pfs_store_is_timekeeper(nodes[2].store));
	ck_assert(!pfs_store_is_timekeeper(nodes[3].store));

	/* Alone without quorum, node 1 stops keeping time. */
	ck_assert(!pfs_store_is_timekeeper(nodes[1].store));
}
END_TEST

START_TEST(test_pfs_sync_confchg_unconfirmed_replies)
{
	struct call minority, majority;

	confchg(false, 0);
	pump();

	/* Both changes are delivered everywhere, no CONFIRM is. */
	ck_assert_int_eq(submit(3, PFS_MSG_CREATE, "/m", "x", &minority), 0);
	ck_assert_int_eq(submit(1, PFS_MSG_CREATE, "/M", "y", &majority), 0);
	ck_assert(pump_one());
	ck_assert(pump_one());
	ck_assert_int_eq(minority.answers, 0);
	ck_assert_int_eq(majority.answers, 0);

	/* Node 3 ends up alone without quorum: outcome unknown. Node 1's
	 * change is in the new primary component: its true result. */
	nodes[3].component = 1;
	confchg(false, 0);
	pump();
	ck_assert_int_eq(minority.answers, 1);
	ck_assert_int_eq(minority.rc, -EINPROGRESS);
	ck_assert_int_eq(majority.answers, 1);
	ck_assert_int_eq(majority.rc, 0);
	ck_assert(file_exists(2, "/m"));
}
END_TEST

/* A synced tree replaced node 3's unconfirmed change in a round that was
 * then abandoned: the next primary component must not report it applied. */
START_TEST(test_pfs_sync_confchg_diverged_round_abandoned)
{
	struct call lost, kept;
	struct event e;

	confchg(false, 0);
	pump();

	/* Node 3 alone delivers its change, and no member confirms it. */
	ck_assert_int_eq(submit(3, PFS_MSG_CREATE, "/m", "x", &lost), 0);
	e = queue[qhead++];
	ck_assert_int_eq(pfs_sync_deliver(nodes[3].sync, e.sender, e.buf, e.len), 0);
	ck_assert_int_eq(pfs_sync_flush(nodes[3].sync), 0);
	free(e.buf);

	/* Nodes 1 and 2 deliver another change at the same version. */
	nodes[3].component = 1;
	ck_assert_int_eq(submit(1, PFS_MSG_CREATE, "/M", "y", &kept), 0);
	pump();
	ck_assert_int_eq(kept.answers, 1);
	ck_assert_int_eq(kept.rc, 0);
	ck_assert_int_eq(lost.answers, 0);

	/* All three meet: node 3 diverges and takes the source's tree, but
	 * node 2 leaves before the round ends. */
	nodes[3].component = 0;
	confchg(false, 0);
	while (pfs_sync_state(nodes[3].sync) != PFS_SYNC_STATE_VERIFY && pump_one())
		;
	assert_state(3, PFS_SYNC_STATE_VERIFY);
	ck_assert(!file_exists(3, "/m"));
	nodes[2].component = 1;
	confchg(false, 0);
	pump();
	assert_state(3, PFS_SYNC_STATE_PRIMARY);

	/* Its change is in lost+found, so its outcome was never "applied". */
	ck_assert_int_eq(lost.answers, 1);
	ck_assert_int_eq(lost.rc, -EINPROGRESS);
	ck_assert(!file_exists(3, "/m"));
	ck_assert(file_exists(3, "/M"));
}
END_TEST

START_TEST(test_pfs_sync_confchg_status_to_joiner)
{
	struct call c;
	struct pfs_msg m = {0};
	const char *value;
	uint32_t len = 0;

	/* Node 3 is away while node 1 sets a status value. */
	nodes[3].component = 1;
	confchg(false, 0);
	pump();
	m.type = PFS_MSG_STATUS_SET;
	m.path = "agent";
	m.data = "up";
	m.data_len = 2;
	ck_assert_int_eq(pfs_store_submit(nodes[1].store, &m, on_done, &c, NULL), 0);
	pump();
	ck_assert_int_eq(c.rc, 0);

	/* It joins and gets the value through the sync. */
	nodes[3].component = 0;
	confchg(false, 0);
	pump();
	value = pfs_tree_status_get(pfs_store_tree(nodes[3].store), 1, "agent", &len);
	ck_assert_ptr_nonnull(value);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(memcmp(value, "up", 2), 0);
	value = pfs_tree_status_get(pfs_store_tree(nodes[2].store), 1, "agent", &len);
	ck_assert_ptr_nonnull(value);

	/* Node 1 leaves: its value is dropped everywhere. */
	nodes[1].component = 1;
	confchg(false, 0);
	pump();
	ck_assert_ptr_null(pfs_tree_status_get(pfs_store_tree(nodes[3].store), 1, "agent", &len));
}
END_TEST

static int fail_commit(void *ctx)
{
	(void)ctx;
	return 1;
}

/* Submit a CREATE of path on node writer in a formed group, and deliver
 * it to node 2 alone, whose commit fails. */
static void fail_commit_on_node2(int writer, const char *path, struct call *c)
{
	struct event e;

	confchg(false, 0);
	pump();
	pfs_db_set_commit_hook(pfs_store_db(nodes[2].store), fail_commit, NULL);
	ck_assert_int_eq(submit(writer, PFS_MSG_CREATE, path, "x", c), 0);
	ck_assert_uint_eq(qlen - qhead, 1);
	e = queue[qhead++];
	ck_assert_int_eq(pfs_sync_deliver(nodes[2].sync, e.sender, e.buf, e.len), 0);
	ck_assert_int_eq(pfs_sync_flush(nodes[2].sync), -EIO);
	free(e.buf);
}

START_TEST(test_pfs_sync_flush_failed_commit)
{
	struct call c;

	/* Node 2 cannot commit the round that the others commit. */
	fail_commit_on_node2(1, "/a", &c);
	ck_assert(!file_exists(2, "/a"));

	/* It is out of the group: changes are rejected with the reason. */
	assert_state(2, PFS_SYNC_STATE_SUSPENDED);
	ck_assert_ptr_nonnull(strstr(pfs_sync_suspended(nodes[2].sync), dir));
	ck_assert_int_eq(submit(2, PFS_MSG_CREATE, "/b", "y", &c), -ENOSPC);
	ck_assert_int_gt(pfs_sync_suspended_since(nodes[2].sync), 0);
	ck_assert_uint_eq(pfs_sync_probe_ms(nodes[2].sync), PFS_SYNC_PROBE_MS);
	pfs_sync_resume(nodes[2].sync);
	assert_state(2, PFS_SYNC_STATE_START);
	ck_assert_ptr_null(pfs_sync_suspended(nodes[2].sync));
	ck_assert_int_eq(pfs_sync_suspended_since(nodes[2].sync), 0);
}
END_TEST

/* Node 2 cannot commit a round with its own change, which the others
 * commit: its client hears "outcome unknown", not "not stored". */
START_TEST(test_pfs_sync_flush_failed_commit_own_change)
{
	struct call c;

	fail_commit_on_node2(2, "/own", &c);
	ck_assert_int_eq(c.answers, 1);
	ck_assert_int_eq(c.rc, -EINPROGRESS);
	assert_state(2, PFS_SYNC_STATE_SUSPENDED);
}
END_TEST

/* As confchg(), for the nodes that are not suspended: a suspended node
 * left the CPG group, so corosync tells it nothing. */
static void confchg_unsuspended(void)
{
	ring_seq++;
	for (int i = 1; i <= nnodes; i++) {
		uint32_t ids[MAX_NODES];
		size_t n = 0;
		struct pfs_sync_round round = {0};

		if (pfs_sync_suspended(nodes[i].sync))
			continue;
		for (int j = 1; j <= nnodes; j++)
			if (nodes[j].component == nodes[i].component && !pfs_sync_suspended(nodes[j].sync))
				ids[n++] = nodes[j].id;
		round.ring_node = ids[0];
		round.ring_seq = ring_seq;
		ck_assert_int_eq(pfs_sync_confchg(nodes[i].sync, &round, ids, n), 0);
		pfs_sync_quorum(nodes[i].sync, ids[0], ring_seq, 2 * n > (size_t)nnodes,
				(uint32_t)nnodes);
	}
}

/* As pump(), but a suspended node gets nothing more, and node 2's
 * failures to store are expected. */
static void pump_unsuspended(void)
{
	while (qhead < qlen) {
		struct event e = queue[qhead++];

		for (int i = 1; i <= nnodes; i++) {
			if (!e.to[i] || nodes[i].component != nodes[e.sender].component ||
			    pfs_sync_suspended(nodes[i].sync))
				continue;
			if (i == 2) {
				if (pfs_sync_deliver(nodes[i].sync, e.sender, e.buf, e.len) == 0)
					pfs_sync_flush(nodes[i].sync);
				continue;
			}
			ck_assert_int_eq(pfs_sync_deliver(nodes[i].sync, e.sender, e.buf, e.len), 0);
			ck_assert_int_eq(pfs_sync_flush(nodes[i].sync), 0);
		}
		free(e.buf);
	}
}

/* A rejoin whose synced tree cannot be stored doubles the time to the
 * next test write, up to PFS_SYNC_PROBE_MAX_MS; a finished round resets it. */
START_TEST(test_pfs_sync_resume_backoff)
{
	static const uint32_t expect[] = {10000, 20000, 40000, 60000, 60000};
	struct call c;
	struct event e;
	time_t since;

	confchg(false, 0);
	pump();
	pfs_db_set_commit_hook(pfs_store_db(nodes[2].store), fail_commit, NULL);
	ck_assert_int_eq(submit(1, PFS_MSG_CREATE, "/a", "x", &c), 0);
	e = queue[qhead++];
	for (int i = 1; i <= 3; i++) {
		ck_assert_int_eq(pfs_sync_deliver(nodes[i].sync, e.sender, e.buf, e.len), 0);
		ck_assert_int_eq(pfs_sync_flush(nodes[i].sync), i == 2 ? -EIO : 0);
	}
	free(e.buf);
	confchg_unsuspended();
	pump_unsuspended();
	ck_assert(file_exists(1, "/a"));
	assert_state(2, PFS_SYNC_STATE_SUSPENDED);
	since = pfs_sync_suspended_since(nodes[2].sync);
	ck_assert_uint_eq(pfs_sync_probe_ms(nodes[2].sync), PFS_SYNC_PROBE_MS);

	/* Node 2 rejoins; the round sends it the tree with /a, which it
	 * cannot store, so it is suspended again and the others go on. */
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		pfs_sync_resume(nodes[2].sync);
		confchg_unsuspended();
		pump_unsuspended();
		assert_state(2, PFS_SYNC_STATE_SUSPENDED);
		ck_assert_uint_eq(pfs_sync_probe_ms(nodes[2].sync), expect[i]);
		ck_assert_int_eq(pfs_sync_suspended_since(nodes[2].sync), since);
		confchg_unsuspended();
		pump_unsuspended();
		assert_state(1, PFS_SYNC_STATE_PRIMARY);
	}

	/* Once a round finishes, the interval is back to the first one. */
	pfs_db_set_commit_hook(pfs_store_db(nodes[2].store), NULL, NULL);
	pfs_sync_resume(nodes[2].sync);
	confchg_unsuspended();
	pump_unsuspended();
	ck_assert(file_exists(2, "/a"));
	ck_assert_ptr_null(pfs_sync_suspended(nodes[2].sync));
	ck_assert_uint_eq(pfs_sync_probe_ms(nodes[2].sync), PFS_SYNC_PROBE_MS);
}
END_TEST

START_TEST(test_pfs_sync_next_probe_ms)
{
	ck_assert_uint_eq(pfs_sync_next_probe_ms(0, false), PFS_SYNC_PROBE_MS);
	ck_assert_uint_eq(pfs_sync_next_probe_ms(0, true), PFS_SYNC_PROBE_MS);
	ck_assert_uint_eq(pfs_sync_next_probe_ms(40000, false), PFS_SYNC_PROBE_MS);
	ck_assert_uint_eq(pfs_sync_next_probe_ms(PFS_SYNC_PROBE_MS, true), 2 * PFS_SYNC_PROBE_MS);
	ck_assert_uint_eq(pfs_sync_next_probe_ms(20000, true), 40000);
	ck_assert_uint_eq(pfs_sync_next_probe_ms(40000, true), PFS_SYNC_PROBE_MAX_MS);
	ck_assert_uint_eq(pfs_sync_next_probe_ms(PFS_SYNC_PROBE_MAX_MS, true),
			  PFS_SYNC_PROBE_MAX_MS);
	ck_assert_uint_eq(pfs_sync_next_probe_ms(UINT32_MAX, true), PFS_SYNC_PROBE_MAX_MS);
}
END_TEST

START_TEST(test_pfs_sync_tick_verify_round)
{
	struct pfs_sync_stats before, after;

	confchg(false, 0);
	pump();
	pfs_sync_stats(nodes[2].sync, &before);
	clock_ms += PFS_SYNC_VERIFY_MS;
	for (int i = 1; i <= 3; i++)
		pfs_sync_tick(nodes[i].sync);
	pump();
	pfs_sync_stats(nodes[2].sync, &after);
	ck_assert_uint_eq(after.rounds, before.rounds + 1);
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
	ck_assert_int_eq(write_file(2, "/after", "x"), 0);
}
END_TEST

START_TEST(test_pfs_sync_msg_decode_rejects)
{
	struct pfs_sync_msg m = {0}, out;
	uint8_t *buf = NULL;
	size_t len = 0;

	m.type = PFS_SYNC_CONFIRM;
	m.count = 7;
	ck_assert_int_eq(pfs_sync_msg_encode(&m, &buf, &len), 0);
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), 0);
	ck_assert_uint_eq(out.count, 7);
	pfs_sync_msg_clear(&out);
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len - 1, &out), -EBADMSG);
	buf[4] = 9;
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), -EPROTO);
	buf[4] = 1;
	buf[6] = 99;
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), -EPROTO);
	buf[0] = 'X';
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), -EBADMSG);
	free(buf);
}
END_TEST


/* Create folder on node with count small files and big files of 1 MiB
 * in it, through the group. */
static void fill_tree(int node, const char *folder, int count, int big)
{
	struct call *calls = calloc((size_t)(count + big), sizeof(*calls));
	char *data = malloc(PFS_MAX_FILE_SIZE + 1);
	char path[64];
	struct call c;

	ck_assert_ptr_nonnull(calls);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(submit(node, PFS_MSG_MKDIR, folder, NULL, &c), 0);
	pump();
	ck_assert_int_eq(c.rc, 0);
	for (int i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/f%d", folder, i);
		ck_assert_int_eq(submit(node, PFS_MSG_CREATE, path, "small", &calls[i]), 0);
	}
	for (int i = 0; i < big; i++) {
		memset(data, 'a' + i % 26, PFS_MAX_FILE_SIZE);
		data[PFS_MAX_FILE_SIZE] = '\0';
		snprintf(path, sizeof(path), "%s/big%d", folder, i);
		ck_assert_int_eq(submit(node, PFS_MSG_CREATE, path, data, &calls[count + i]), 0);
	}
	pump_batch();
	for (int i = 0; i < count + big; i++) {
		ck_assert_int_eq(calls[i].answers, 1);
		ck_assert_int_eq(calls[i].rc, 0);
	}
	free(data);
	free(calls);
}

/* SUMMARY of 7000 entries (280 KB) and UPDATE of 5 MiB both travel as
 * chunks to a node that joins empty. */
START_TEST(test_pfs_sync_confchg_large_tree_chunks)
{
	struct pfs_sync_stats src, joiner;

	nodes[3].component = 1;
	confchg(false, 0);
	pump();
	fill_tree(1, "/many", 7000, 5);

	nodes[3].component = 0;
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
	ck_assert(file_exists(3, "/many/f6999"));
	ck_assert(file_exists(3, "/many/big4"));
	assert_digests_equal(1, 3);
	pfs_sync_stats(nodes[1].sync, &src);
	pfs_sync_stats(nodes[3].sync, &joiner);
	ck_assert_uint_gt(src.chunks_sent, 20);
	ck_assert_uint_eq(src.chunks_dropped, 0);
	ck_assert_uint_eq(joiner.chunks_dropped, 0);
	ck_assert_uint_eq(joiner.bad, 0);
}
END_TEST

/* A configuration change in the middle of a chunked UPDATE: the partly
 * reassembled message and the old round's later chunks are dropped, and
 * the next round completes. */
START_TEST(test_pfs_sync_deliver_stale_chunks_dropped)
{
	struct pfs_sync_stats stats;
	int chunks = 0;

	nodes[3].component = 1;
	confchg(false, 0);
	pump();
	fill_tree(1, "/big", 0, 3);
	nodes[3].component = 0;
	confchg(false, 0);

	/* Run until node 3 received two chunks of node 1's UPDATE. */
	while (chunks < 2) {
		ck_assert_uint_lt(qhead, qlen);
		if (queue[qhead].sender == 1 && queued_type(&queue[qhead]) == PFS_SYNC_CHUNK &&
		    queue[qhead].buf[PFS_SYNC_HEADER_SIZE] == PFS_SYNC_UPDATE)
			chunks++;
		ck_assert(pump_one());
	}
	assert_state(3, PFS_SYNC_STATE_UPDATE);
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
	pfs_sync_stats(nodes[3].sync, &stats);
	ck_assert_uint_gt(stats.stale, 0);
	ck_assert(file_exists(3, "/big/big2"));
	assert_digests_equal(1, 3);
}
END_TEST

/* A chunk whose payload changed on the way: the reassembled message fails
 * its SHA-256 on every member, the round stalls, and its timeout starts
 * the next round, which completes. */
START_TEST(test_pfs_sync_deliver_corrupt_chunk)
{
	struct pfs_sync_stats stats;
	bool corrupted = false;

	nodes[3].component = 1;
	confchg(false, 0);
	pump();
	fill_tree(1, "/big", 0, 2);
	nodes[3].component = 0;
	confchg(false, 0);
	while (!corrupted) {
		struct event *e = &queue[qhead];

		ck_assert_uint_lt(qhead, qlen);
		if (e->sender == 1 && queued_type(e) == PFS_SYNC_CHUNK && e->buf[36] == 1) {
			e->buf[e->len - 1] ^= 0xff; /* the last byte of the second chunk */
			corrupted = true;
		}
		ck_assert(pump_one());
	}
	pump();
	assert_state(3, PFS_SYNC_STATE_UPDATE);
	pfs_sync_stats(nodes[3].sync, &stats);
	ck_assert_uint_eq(stats.chunks_dropped, 1);

	clock_ms += pfs_sync_round_bound_ms(nodes[3].sync);
	for (int i = 1; i <= 3; i++)
		pfs_sync_tick(nodes[i].sync);
	pump();
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
	pfs_sync_stats(nodes[3].sync, &stats);
	ck_assert_uint_eq(stats.timeouts, 1);
	ck_assert(file_exists(3, "/big/big1"));
	assert_digests_equal(1, 3);
}
END_TEST

/* A member whose SUMMARY never arrives stalls the round: after its bound
 * every member abandons it and starts the next round id; a write held
 * meanwhile is answered "busy, not applied", because it was never sent. */
START_TEST(test_pfs_sync_tick_round_timeout)
{
	struct pfs_sync_stats stats;
	struct call held;
	uint64_t empty_bound, bound;

	confchg(false, 0);
	pump();
	empty_bound = pfs_sync_round_bound_ms(nodes[1].sync);
	ck_assert_uint_ge(empty_bound, PFS_SYNC_ROUND_MS);
	fill_tree(1, "/big", 0, 8);

	confchg(false, 0);
	ck_assert(drop_queued(3, PFS_SYNC_SUMMARY));
	ck_assert_int_eq(submit(2, PFS_MSG_CREATE, "/held", "x", &held), 0);
	pump();
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_SUMMARY);

	/* The bound grows with the data: 8 MiB in each summary that is in. */
	bound = pfs_sync_round_bound_ms(nodes[1].sync);
	ck_assert_uint_ge(bound, empty_bound + 2 * 8 * 1000 * (uint64_t)PFS_MAX_FILE_SIZE /
					      PFS_SYNC_ROUND_RATE);
	clock_ms += bound - 1;
	for (int i = 1; i <= 3; i++)
		pfs_sync_tick(nodes[i].sync);
	ck_assert_uint_eq(qlen - qhead, 0);
	clock_ms += 1;
	for (int i = 1; i <= 3; i++)
		pfs_sync_tick(nodes[i].sync);
	ck_assert_uint_eq(qlen - qhead, 3);
	pump();
	ck_assert_int_eq(held.answers, 1);
	ck_assert_int_eq(held.rc, -EAGAIN);
	for (int i = 1; i <= 3; i++) {
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
		pfs_sync_stats(nodes[i].sync, &stats);
		ck_assert_uint_eq(stats.timeouts, 1);
	}
	ck_assert(!file_exists(1, "/held"));
	ck_assert_int_eq(write_file(3, "/after", "x"), 0);
	assert_digests_equal(1, 3);
}
END_TEST

/* Deletions and rmdir of a minority forced quorate while the majority
 * also changed things: the majority's tree wins, and each deletion is
 * recorded under lost+found/<node>/<start>.deleted/. */
START_TEST(test_pfs_sync_confchg_divergence_deletions)
{
	const char *base = "/lost+found/node3/20231114-221320.deleted";
	struct pfs_sync_stats stats;
	char path[128];
	char note[256];
	const char *data;
	struct pfs_stat rst;
	struct call c;

	confchg(false, 0);
	pump();
	ck_assert_int_eq(write_file(1, "/gone", "g"), 0);
	ck_assert_int_eq(write_file(1, "/changed", "v1"), 0);
	ck_assert_int_eq(submit(1, PFS_MSG_MKDIR, "/dir", NULL, &c), 0);
	pump();
	ck_assert_int_eq(write_file(1, "/dir/x", "x"), 0);

	/* Node 3 alone, forced quorate, deletes; the majority rewrites one
	 * of the deleted files and writes a file of its own. */
	nodes[3].component = 1;
	confchg(true, 1);
	pump();
	ck_assert_int_eq(submit(3, PFS_MSG_DELETE, "/gone", NULL, &c), 0);
	pump();
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(submit(3, PFS_MSG_DELETE, "/changed", NULL, &c), 0);
	pump();
	ck_assert_int_eq(submit(3, PFS_MSG_DELETE, "/dir/x", NULL, &c), 0);
	pump();
	ck_assert_int_eq(submit(3, PFS_MSG_RMDIR, "/dir", NULL, &c), 0);
	pump();
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(write_file(3, "/minority", "m"), 0);
	ck_assert_int_eq(submit(1, PFS_MSG_WRITE, "/changed", "v2", &c), 0);
	pump();
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(write_file(2, "/majority", "M"), 0);

	nodes[3].component = 0;
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++) {
		const struct pfs_tree *tree = pfs_store_tree(nodes[i].store);
		struct pfs_stat st;

		assert_state(i, PFS_SYNC_STATE_PRIMARY);
		ck_assert(file_exists(i, "/gone"));
		ck_assert(file_exists(i, "/dir/x"));
		ck_assert(file_exists(i, "/majority"));
		ck_assert(file_exists(i, "/lost+found/node3/20231114-221320/minority"));
		snprintf(path, sizeof(path), "%s/gone", base);
		ck_assert_int_eq(pfs_tree_read(tree, path, &data, &rst), 0);
		ck_assert_uint_lt(rst.size, sizeof(note));
		memcpy(note, data, rst.size);
		note[rst.size] = '\0';
		ck_assert_ptr_nonnull(strstr(note, "node node3 deleted /gone after version"));
		snprintf(path, sizeof(path), "%s/changed", base);
		ck_assert(file_exists(i, path));
		snprintf(path, sizeof(path), "%s/dir", base);
		ck_assert_int_eq(pfs_tree_stat(tree, path, &st), 0);
		ck_assert_int_eq(st.type, PFS_TYPE_DIR);
		snprintf(path, sizeof(path), "%s/dir/x", base);
		ck_assert(file_exists(i, path));
		pfs_sync_stats(nodes[i].sync, &stats);
		ck_assert_uint_eq(stats.deletions, 4);
	}
	ck_assert_int_eq(pfs_tree_read(pfs_store_tree(nodes[3].store), "/changed", &data, &rst), 0);
	ck_assert_uint_eq(rst.size, 2);
	ck_assert_int_eq(memcmp(data, "v2", 2), 0);
	assert_digests_equal(1, 3);
}
END_TEST

/* Count the CONFIRMs delivered before node 1's change is answered, with
 * votes for nodes 1 to 3 and 4 expected votes. */
static int confirms_until_reply(const uint32_t votes[3])
{
	struct call c;
	int confirms = 0;

	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++) {
		for (int j = 1; j <= 3; j++)
			pfs_sync_set_votes(nodes[i].sync, (uint32_t)j, votes[j - 1]);
		pfs_sync_quorum(nodes[i].sync, 1, ring_seq, true, 4);
	}
	ck_assert_int_eq(submit(1, PFS_MSG_CREATE, "/v", "x", &c), 0);
	ck_assert(pump_one());
	while (c.answers == 0 && pump_one())
		confirms++;
	ck_assert_int_eq(c.answers, 1);
	ck_assert_int_eq(c.rc, 0);
	pump();
	return confirms;
}

START_TEST(test_pfs_sync_set_votes_majority)
{
	static const uint32_t heavy_first[3] = {2, 1, 1};

	/* CONFIRMs arrive in node order: 2 + 1 votes after two of them. */
	ck_assert_int_eq(confirms_until_reply(heavy_first), 2);
}
END_TEST

START_TEST(test_pfs_sync_set_votes_heavy_last)
{
	static const uint32_t heavy_last[3] = {1, 1, 2};

	/* 1 + 1 votes are not 3 of 4: node 3's CONFIRM is needed. */
	ck_assert_int_eq(confirms_until_reply(heavy_last), 3);
}
END_TEST

static void count_reload(void *ctx)
{
	(*(int *)ctx)++;
}

/* A round in which a member already has the source's tree, history and
 * status area leaves its store alone; a member whose status area differs
 * rebuilds and takes the source's over. */
START_TEST(test_pfs_sync_confchg_unchanged_no_rebuild)
{
	struct pfs_store_hooks hooks = {0};
	int reloads[MAX_NODES + 1] = {0};
	struct pfs_msg m = {0};
	uint32_t len = 0;
	struct call c;

	hooks.reloaded = count_reload;
	for (int i = 1; i <= 3; i++)
		pfs_store_set_hooks(nodes[i].store, &hooks, &reloads[i]);
	confchg(false, 0);
	pump();
	ck_assert_int_eq(write_file(2, "/a", "x"), 0);
	m.type = PFS_MSG_STATUS_SET;
	m.path = "agent";
	m.data = "up";
	m.data_len = 2;
	ck_assert_int_eq(pfs_store_submit(nodes[1].store, &m, on_done, &c, NULL), 0);
	pump();
	memset(reloads, 0, sizeof(reloads));

	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++) {
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
		ck_assert_int_eq(reloads[i], 0);
	}

	/* Node 3 loses node 1's status value: only node 3 rebuilds. */
	pfs_store_drop_node(nodes[3].store, 1);
	confchg(false, 0);
	pump();
	ck_assert_int_eq(reloads[3], 1);
	ck_assert_int_eq(reloads[1] + reloads[2], 0);
	ck_assert_ptr_nonnull(pfs_tree_status_get(pfs_store_tree(nodes[3].store), 1, "agent", &len));
	assert_digests_equal(1, 3);
}
END_TEST

/* A tree at the store's limits (262128 entries, 127.25 MiB of data) joins
 * an empty node. It is too slow for every run (and for valgrind), so
 * main() adds it only when CHECK_SYNC_LIMITS is set. */
START_TEST(test_pfs_sync_confchg_limits)
{
	static struct call calls[2000];
	struct pfs_sync_stats src;
	char path[64];
	struct call c;

	nodes[3].component = 1;
	confchg(false, 0);
	pump();
	ck_assert_int_eq(submit(1, PFS_MSG_MKDIR, "/many", NULL, &c), 0);
	pump();
	for (int batch = 0; batch < 131; batch++) {
		for (int i = 0; i < 2000; i++) {
			snprintf(path, sizeof(path), "/many/f%d", batch * 2000 + i);
			ck_assert_int_eq(submit(1, PFS_MSG_CREATE, path, "small", &calls[i]), 0);
		}
		pump_batch();
		ck_assert_int_eq(calls[1999].rc, 0);
	}
	fill_tree(1, "/big", 0, 126);
	ck_assert_uint_eq(pfs_tree_entry_count(pfs_store_tree(nodes[1].store)), 262128);

	nodes[3].component = 0;
	confchg(false, 0);
	pump();
	for (int i = 1; i <= 3; i++)
		assert_state(i, PFS_SYNC_STATE_PRIMARY);
	assert_digests_equal(1, 3);
	pfs_sync_stats(nodes[1].sync, &src);
	ck_assert_uint_gt(src.chunks_sent, 500);
}
END_TEST

START_TEST(test_pfs_sync_msg_decode_chunk)
{
	struct pfs_sync_msg m = {0}, out;
	uint8_t payload[100] = {0}, *buf = NULL;
	size_t len = 0;

	m.type = PFS_SYNC_CHUNK;
	m.inner_type = PFS_SYNC_UPDATE;
	m.total_len = PFS_SYNC_CHUNK_SIZE + 100;
	m.chunks = 2;
	m.index = 1;
	m.payload = payload;
	m.payload_len = 100;
	ck_assert_int_eq(pfs_sync_msg_encode(&m, &buf, &len), 0);
	ck_assert_uint_eq(len, PFS_SYNC_HEADER_SIZE + PFS_SYNC_CHUNK_HEADER_SIZE + 100);
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), 0);
	ck_assert_uint_eq(out.index, 1);
	ck_assert_uint_eq(out.payload_len, 100);
	pfs_sync_msg_clear(&out);
	free(buf);

	/* A payload length that does not fit the index, an index past the
	 * count, a count that does not fit the length, a chunk of a chunk. */
	m.payload_len = 99;
	ck_assert_int_eq(pfs_sync_msg_encode(&m, &buf, &len), 0);
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), -EBADMSG);
	free(buf);
	m.payload_len = 100;
	m.index = 2;
	ck_assert_int_eq(pfs_sync_msg_encode(&m, &buf, &len), 0);
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), -EBADMSG);
	free(buf);
	m.index = 1;
	m.chunks = 3;
	ck_assert_int_eq(pfs_sync_msg_encode(&m, &buf, &len), 0);
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), -EBADMSG);
	free(buf);
	m.chunks = 2;
	m.inner_type = PFS_SYNC_CHUNK;
	ck_assert_int_eq(pfs_sync_msg_encode(&m, &buf, &len), 0);
	ck_assert_int_eq(pfs_sync_msg_decode(buf, len, &out), -EBADMSG);
	free(buf);
	ck_assert_uint_eq(pfs_sync_chunk_count(PFS_SYNC_CHUNK_SIZE), 0);
	ck_assert_uint_eq(pfs_sync_chunk_count(PFS_SYNC_CHUNK_SIZE + 1), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pfs_sync");
	TCase *tc3 = tcase_create("three nodes"), *tc5 = tcase_create("five nodes");
	TCase *tcm = tcase_create("messages");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc3, setup3, teardown);
	tcase_add_test(tc3, test_pfs_sync_confchg_join);
	tcase_add_test(tc3, test_pfs_sync_flush_reply_after_majority);
	tcase_add_test(tc3, test_pfs_sync_confchg_leave_and_catch_up);
	tcase_add_test(tc3, test_pfs_sync_confchg_mid_sync);
	tcase_add_test(tc3, test_pfs_sync_deliver_stale_change_dropped);
	tcase_add_test(tc3, test_pfs_sync_submit_held_during_sync);
	tcase_add_test(tc3, test_pfs_sync_submit_held_before_members);
	tcase_add_test(tc3, test_pfs_sync_submit_rejected_short_votes);
	tcase_add_test(tc3, test_pfs_sync_confchg_divergence_both_sides);
	tcase_add_test(tc3, test_pfs_sync_tick_verify_round);
	tcase_add_test(tc3, test_pfs_sync_confchg_drops_lock_waiters);
	tcase_add_test(tc3, test_pfs_sync_timekeeper_hand_over);
	tcase_add_test(tc3, test_pfs_sync_flush_failed_commit);
	tcase_add_test(tc3, test_pfs_sync_flush_failed_commit_own_change);
	tcase_add_test(tc3, test_pfs_sync_resume_backoff);
	tcase_add_test(tc3, test_pfs_sync_confchg_unconfirmed_replies);
	tcase_add_test(tc3, test_pfs_sync_confchg_diverged_round_abandoned);
	tcase_add_test(tc3, test_pfs_sync_confchg_status_to_joiner);
	tcase_add_test(tc3, test_pfs_sync_confchg_large_tree_chunks);
	tcase_add_test(tc3, test_pfs_sync_deliver_stale_chunks_dropped);
	tcase_add_test(tc3, test_pfs_sync_deliver_corrupt_chunk);
	tcase_add_test(tc3, test_pfs_sync_tick_round_timeout);
	tcase_add_test(tc3, test_pfs_sync_confchg_divergence_deletions);
	tcase_add_test(tc3, test_pfs_sync_set_votes_majority);
	tcase_add_test(tc3, test_pfs_sync_set_votes_heavy_last);
	tcase_add_test(tc3, test_pfs_sync_confchg_unchanged_no_rebuild);
	if (getenv("CHECK_SYNC_LIMITS"))
		tcase_add_test(tc3, test_pfs_sync_confchg_limits);
	tcase_set_timeout(tc3, getenv("CHECK_SYNC_LIMITS") ? 600 : 120);
	suite_add_tcase(s, tc3);
	tcase_add_checked_fixture(tc5, setup5, teardown);
	tcase_add_test(tc5, test_pfs_sync_confchg_five_nodes_merge);
	tcase_add_test(tc5, test_pfs_sync_confchg_majority_after_tail);
	tcase_set_timeout(tc5, 60);
	suite_add_tcase(s, tc5);
	tcase_add_test(tcm, test_pfs_sync_msg_decode_rejects);
	tcase_add_test(tcm, test_pfs_sync_msg_decode_chunk);
	tcase_add_test(tcm, test_pfs_sync_next_probe_ms);
	suite_add_tcase(s, tcm);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
