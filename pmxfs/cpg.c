/* pfs_cpg: corosync CPG and votequorum glue for the sync state machine
 * (see cpg.h). CS_ERR_* results stop here. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <corosync/cpg.h>
#include <corosync/votequorum.h>

#include "pmxfs/batch.h"
#include "pmxfs/cpg.h"
#include "pmxfs/log.h"
#include "pmxfs/noderq.h"
#include "pmxfs/nodelist.h"

/* A message waiting because corosync returned CS_ERR_TRY_AGAIN. */
struct outgoing {
	struct outgoing *next;
	uint8_t *buf;
	size_t len;
	uint64_t first_try_ms;
};

struct pfs_cpg {
	qb_loop_t *loop;
	cpg_handle_t cpg;
	votequorum_handle_t vq;
	bool cpg_open, vq_open, joined, cpg_polled, vq_polled;
	int cpg_fd, vq_fd;
	uint32_t node_id;
	struct pfs_sync *sync;
	struct pfs_store *store;
	struct pfs_noderq *noderq; /* node-addressed requests, or NULL */

	/* Out of the group while the store cannot write (pfs_sync_suspended). */
	bool suspended, probe_armed;
	qb_loop_timer_handle probe_timer;
	uint32_t probes_failed;

	/* The last totem ring and the group's members. */
	struct cpg_ring_id ring;
	uint32_t members[PFS_SYNC_MAX_MEMBERS];
	size_t nmembers;
	uint32_t counter;

	/* votequorum's view */
	bool quorum_seen; /* the first quorum callback has arrived */
	bool quorate;
	votequorum_ring_id_t vq_ring;
	uint32_t expected_votes;

	struct outgoing *out, **out_tail;
	bool retry_armed, tick_armed;
	qb_loop_timer_handle retry_timer, tick_timer;

	/* Change messages of this turn of the main loop, sent as one message
	 * when the loop reaches batch_fd (low priority, after the clients). */
	struct pfs_batch batch;
	int batch_fd;
	bool batch_polled, batch_armed;
};

static int errno_of(cs_error_t err)
{
	switch (err) {
	case CS_OK: return 0;
	case CS_ERR_NO_MEMORY: return -ENOMEM;
	case CS_ERR_TRY_AGAIN: return -EAGAIN;
	case CS_ERR_TOO_BIG: return -EMSGSIZE;
	default: return -ENOTCONN;
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fail(struct pfs_cpg *c, const char *what, int rv)
{
	pfs_log(ERR, "%s failed: %s; stopping, because the store cannot follow the cluster", what,
		strerror(-rv));
	qb_loop_stop(c->loop);
}

static void set_group_name(struct cpg_name *name)
{
	snprintf(name->value, sizeof(name->value), "%s", PFS_CPG_GROUP);
	name->length = (uint32_t)strlen(PFS_CPG_GROUP);
}

static void probe_job(void *data);
static cs_error_t join_group(struct pfs_cpg *c);
static cs_error_t rejoin(struct pfs_cpg *c);

static void arm_probe(struct pfs_cpg *c)
{
	if (c->probe_armed)
		return;
	if (qb_loop_timer_add(c->loop, QB_LOOP_LOW, pfs_sync_probe_ms(c->sync) * 1000000ull, c,
			      probe_job, &c->probe_timer) == 0)
		c->probe_armed = true;
	else
		pfs_log(ERR, "cannot start the test write timer: pmxfs must be restarted to rejoin");
}

static void drop_batch(struct pfs_cpg *c, int rc, const char *reason);

/* A sync call failed with rv. When the store could not write, the sync
 * state machine is SUSPENDED: leave the group and test the disk every
 * pfs_sync_probe_ms(). Any other failure stops pmxfs. */
static void suspend_or_fail(struct pfs_cpg *c, const char *what, int rv)
{
	struct cpg_name name;
	cs_error_t err;

	if (!pfs_sync_suspended(c->sync)) {
		fail(c, what, rv);
		return;
	}
	if (c->suspended)
		return;
	c->suspended = true;
	c->probes_failed = 0;

	/* Unsent messages: their clients already got "outcome unknown". */
	drop_batch(c, -EAGAIN, "busy, not applied: this node left the cluster");
	if (c->retry_armed)
		qb_loop_timer_del(c->loop, c->retry_timer);
	c->retry_armed = false;
	while (c->out) {
		struct outgoing *o = c->out;

		c->out = o->next;
		free(o->buf);
		free(o);
	}
	c->out_tail = &c->out;

	set_group_name(&name);
	err = cpg_leave(c->cpg, &name);
	if (err != CS_OK) {
		fail(c, "leaving the CPG group after a failed write", errno_of(err));
		return;
	}
	pfs_log(NOTICE, "left CPG group %s; testing the disk every %u ms", PFS_CPG_GROUP,
		pfs_sync_probe_ms(c->sync));
	arm_probe(c);
}

/* Out of the group: rejoin once a test write as large as the largest
 * tree of the last round plus PFS_CPG_PROBE_SPARE succeeds. */
static void probe_job(void *data)
{
	struct pfs_cpg *c = data;
	size_t bytes = (size_t)pfs_sync_suspended_bytes(c->sync) + PFS_CPG_PROBE_SPARE;
	char errmsg[PFS_ERRMSG_SIZE] = "";
	cs_error_t err;
	int rv;

	c->probe_armed = false;
	if (!c->suspended)
		return;
	rv = pfs_store_probe(c->store, bytes, errmsg);
	if (rv < 0) {
		/* Once a minute is enough in the log. */
		if (c->probes_failed++ % (60000u / pfs_sync_probe_ms(c->sync)) == 0)
			pfs_log(WARN, "still out of the group: %s", errmsg);
		arm_probe(c);
		return;
	}
	err = rejoin(c);
	if (err != CS_OK) {
		pfs_log(WARN, "a test write of %zu bytes succeeded, but joining CPG group %s failed "
			"(error %d): trying again in %u ms", bytes, PFS_CPG_GROUP, err,
			pfs_sync_probe_ms(c->sync));
		arm_probe(c);
		return;
	}
	pfs_log(NOTICE, "a test write of %zu bytes succeeded: joined CPG group %s again", bytes,
		PFS_CPG_GROUP);
	c->suspended = false;
	pfs_sync_resume(c->sync);
}

/* Sending ------------------------------------------------------------------ */

static cs_error_t mcast_now(struct pfs_cpg *c, const uint8_t *buf, size_t len)
{
	struct iovec iov = {(void *)buf, len};

	return cpg_mcast_joined(c->cpg, CPG_TYPE_AGREED, &iov, 1);
}

static void retry_job(void *data);

static void arm_retry(struct pfs_cpg *c)
{
	if (c->retry_armed)
		return;
	if (qb_loop_timer_add(c->loop, QB_LOOP_HIGH, PFS_CPG_RETRY_MS * 1000000ull, c, retry_job,
			      &c->retry_timer) == 0)
		c->retry_armed = true;
}

/* Send the queued messages in order until corosync pushes back again. */
static void retry_job(void *data)
{
	struct pfs_cpg *c = data;

	c->retry_armed = false;
	while (c->out) {
		struct outgoing *o = c->out;
		cs_error_t err = mcast_now(c, o->buf, o->len);

		if (err == CS_ERR_TRY_AGAIN) {
			if (mono_ms() - o->first_try_ms > PFS_CPG_MAX_RETRY_MS) {
				fail(c, "sending to the CPG group (CS_ERR_TRY_AGAIN for 30 s)",
				     -ETIMEDOUT);
				return;
			}
			arm_retry(c);
			return;
		}
		if (err != CS_OK) {
			fail(c, "sending to the CPG group", errno_of(err));
			return;
		}
		c->out = o->next;
		if (!c->out)
			c->out_tail = &c->out;
		free(o->buf);
		free(o);
	}
}

/* Send now, or queue behind the messages corosync pushed back. */
static int send_or_queue(struct pfs_cpg *c, const uint8_t *buf, size_t len)
{
	struct outgoing *o;
	cs_error_t err;

	/* Keep the order: nothing overtakes a queued message. */
	if (!c->out) {
		err = mcast_now(c, buf, len);
		if (err == CS_OK)
			return 0;
		if (err != CS_ERR_TRY_AGAIN)
			return errno_of(err);
	}
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->buf = malloc(len);
	if (!o->buf) {
		free(o);
		return -ENOMEM;
	}
	memcpy(o->buf, buf, len);
	o->len = len;
	o->first_try_ms = mono_ms();
	*c->out_tail = o;
	c->out_tail = &o->next;
	arm_retry(c);
	return 0;
}

struct batch_answer {
	struct pfs_cpg *c;
	int rc;
	const char *reason;
};

static int answer_item(void *ctx, const uint8_t *item, size_t len)
{
	struct batch_answer *a = ctx;

	(void)len;
	pfs_store_answer(a->c->store, pfs__get_u64(item + 16), a->rc, a->reason);
	return 0;
}

/* Reply rc to the clients of every change in the batch, and empty it.
 * A client that already got a reply (from the sync state machine) gets no
 * second one. */
static void drop_batch(struct pfs_cpg *c, int rc, const char *reason)
{
	struct batch_answer a = {c, rc, reason};

	pfs_batch_each(&c->batch, answer_item, &a);
	pfs_batch_reset(&c->batch);
}

static int flush_batch(struct pfs_cpg *c)
{
	const uint8_t *bytes;
	size_t len;
	int rv;

	bytes = pfs_batch_bytes(&c->batch, &len);
	if (!len)
		return 0;
	rv = send_or_queue(c, bytes, len);
	if (rv < 0) {
		pfs_log(ERR, "sending %u changes to the CPG group failed: %s", c->batch.count,
			strerror(-rv));
		drop_batch(c, rv, "sending the change to the CPG group failed");
		return rv;
	}
	pfs_batch_reset(&c->batch);
	return 0;
}

static int32_t on_batch_fd(int32_t fd, int32_t revents, void *data)
{
	struct pfs_cpg *c = data;
	uint64_t count;

	(void)revents;
	while (read(fd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	c->batch_armed = false;
	if (!c->suspended)
		flush_batch(c);
	return 0;
}

static int group_mcast(void *impl, const uint8_t *buf, size_t len)
{
	struct pfs_cpg *c = impl;
	uint64_t wake = 1;
	int rv;

	if (c->suspended)
		return -ENOTCONN;

	/* Anything else keeps its order behind the batch. */
	if (!c->batch_polled || !pfs_batch_item_ok(buf, len)) {
		rv = flush_batch(c);
		return rv < 0 ? rv : send_or_queue(c, buf, len);
	}
	rv = pfs_batch_add(&c->batch, buf, len);
	if (rv == -EMSGSIZE) {
		rv = flush_batch(c);
		if (rv == 0)
			rv = pfs_batch_add(&c->batch, buf, len);
	}
	if (rv < 0)
		return rv;

	/* On a failure this message's request is not pending yet, so its
	 * client learns of it from the return value. */
	if (pfs_batch_full(&c->batch))
		return flush_batch(c);
	if (c->batch_armed)
		return 0;
	if (write(c->batch_fd, &wake, sizeof(wake)) != sizeof(wake))
		return flush_batch(c);
	c->batch_armed = true;
	return 0;
}

static const struct pfs_sync_transport_ops group_ops = {group_mcast};

/* CPG callbacks -------------------------------------------------------------- */

static struct pfs_cpg *cpg_context(cpg_handle_t handle)
{
	void *ctx = NULL;

	cpg_context_get(handle, &ctx);
	return ctx;
}

struct batch_delivery {
	struct pfs_cpg *c;
	uint32_t sender;
};

/* One change of a batch, as if it had come alone. */
static int deliver_item(void *ctx, const uint8_t *item, size_t len)
{
	struct batch_delivery *d = ctx;

	return pfs_sync_deliver(d->c->sync, d->sender, item, len);
}

static void on_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid,
		       uint32_t pid, void *msg, size_t len)
{
	struct pfs_cpg *c = cpg_context(handle);
	int rv;

	(void)group;
	(void)pid;
	if (!c || !c->sync || c->suspended)
		return;
	if (pfs_batch_is(msg, len)) {
		struct batch_delivery d = {c, nodeid};

		rv = pfs_batch_foreach(msg, len, deliver_item, &d);
		if (rv == -EBADMSG)
			pfs_log(WARN, "malformed batch of %zu bytes from node %" PRIu32 " dropped",
				len, nodeid);
		else if (rv < 0)
			suspend_or_fail(c, "applying a delivered message", rv);
		return;
	}
	/* Node-addressed requests bypass the sync state machine and the store. */
	if (c->noderq && pfs_msg_is_node_msg(msg, len)) {
		pfs_noderq_deliver(c->noderq, nodeid, msg, len);
		return;
	}
	rv = pfs_sync_deliver(c->sync, nodeid, msg, len);
	if (rv < 0)
		suspend_or_fail(c, "applying a delivered message", rv);
}

static int cmp_address(const void *a, const void *b)
{
	const struct cpg_address *x = a, *y = b;

	if (x->nodeid != y->nodeid)
		return x->nodeid < y->nodeid ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* FNV-1a over the sorted members and their pids: the same on every member
 * for one membership (the joined and left lists are not, because after a
 * merge each side lists the other as joined), and different for a process
 * that rejoined with a new pid. */
static uint32_t hash_members(const struct cpg_address *list, size_t n)
{
	struct cpg_address sorted[PFS_SYNC_MAX_MEMBERS];
	uint32_t h = 2166136261u;

	n = n < PFS_SYNC_MAX_MEMBERS ? n : PFS_SYNC_MAX_MEMBERS;
	memcpy(sorted, list, n * sizeof(*list));
	qsort(sorted, n, sizeof(*sorted), cmp_address);
	for (size_t i = 0; i < n; i++) {
		uint32_t v[2] = {sorted[i].nodeid, sorted[i].pid};

		for (size_t j = 0; j < sizeof(v); j++) {
			h ^= ((const uint8_t *)v)[j];
			h *= 16777619u;
		}
	}
	return h;
}

static void start_round(struct pfs_cpg *c)
{
	struct pfs_sync_round round = {c->ring.nodeid, c->ring.seq, c->counter};
	int rv;

	/* The ring id comes with the first totem configuration callback. */
	if (!c->nmembers || c->ring.seq == 0 || c->suspended)
		return;
	rv = pfs_sync_confchg(c->sync, &round, c->members, c->nmembers);
	if (rv < 0)
		suspend_or_fail(c, "starting a sync round", rv);
}

/* Tell the node-addressed requests about the members and the nodes that
 * left, with corosync's node list read again (a node added to it joins
 * with a membership change). */
static void noderq_confchg(struct pfs_cpg *c, const struct cpg_address *left, size_t nleft)
{
	uint32_t left_ids[PFS_SYNC_MAX_MEMBERS];
	struct pfs_node_info *nodes = NULL;
	size_t n = 0, count = 0;
	int rv;

	if (!c->noderq)
		return;
	rv = pfs_nodelist_read(&nodes, &count);
	if (rv == 0)
		rv = pfs_noderq_set_nodes(c->noderq, nodes, count);
	if (rv < 0)
		pfs_log(WARN, "reading corosync's node list failed, node names stay as they were: %s",
			strerror(-rv));
	free(nodes);
	for (size_t i = 0; i < nleft && n < PFS_SYNC_MAX_MEMBERS; i++)
		left_ids[n++] = left[i].nodeid;
	if (pfs_noderq_confchg(c->noderq, c->members, c->nmembers, left_ids, n) < 0)
		pfs_log(ERR, "out of memory for the membership of node requests");
}

static void on_confchg(cpg_handle_t handle, const struct cpg_name *group,
		       const struct cpg_address *members, size_t nmembers,
		       const struct cpg_address *left, size_t nleft,
		       const struct cpg_address *joined, size_t njoined)
{
	struct pfs_cpg *c = cpg_context(handle);
	size_t n = 0;

	(void)group;
	if (!c || !c->sync)
		return;
	if (c->suspended) {
		pfs_log(INFO, "CPG group membership without this node: %zu members, %zu left, "
			"%zu joined", nmembers, nleft, njoined);
		return;
	}
	for (size_t i = 0; i < nmembers && n < PFS_SYNC_MAX_MEMBERS; i++) {
		bool seen = false;

		for (size_t j = 0; j < n; j++)
			seen |= c->members[j] == members[i].nodeid;
		if (!seen)
			c->members[n++] = members[i].nodeid;
	}
	c->nmembers = n;
	c->counter = hash_members(members, nmembers) & 0x7fffffffu; /* restarts within a round count upwards */
	pfs_log(NOTICE, "CPG group membership: %zu members, %zu left, %zu joined", nmembers, nleft,
		njoined);
	noderq_confchg(c, left, nleft);
	start_round(c);
}

static void on_totem_confchg(cpg_handle_t handle, struct cpg_ring_id ring, uint32_t nmembers,
			     const uint32_t *members)
{
	struct pfs_cpg *c = cpg_context(handle);
	bool changed;

	(void)nmembers;
	(void)members;
	if (!c)
		return;
	changed = ring.nodeid != c->ring.nodeid || ring.seq != c->ring.seq;
	c->ring = ring;
	pfs_log(NOTICE, "totem ring %" PRIu32 "/%" PRIu64 " with %" PRIu32 " nodes", ring.nodeid,
		(uint64_t)ring.seq, nmembers);

	/* A new ring restarts the sync; before our own join nothing runs. */
	if (changed && c->sync)
		start_round(c);
}

static int32_t on_cpg_fd(int32_t fd, int32_t revents, void *data)
{
	struct pfs_cpg *c = data;
	cs_error_t err;
	int rv;

	(void)fd;
	(void)revents;
	err = cpg_dispatch(c->cpg, CS_DISPATCH_ALL);
	if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
		fail(c, "dispatching CPG messages", errno_of(err));
		return -1;
	}

	/* The end of a dispatch batch: commit it and confirm it. */
	if (c->suspended)
		return 0;
	rv = pfs_sync_flush(c->sync);
	if (rv < 0)
		suspend_or_fail(c, "committing delivered changes", rv);
	return 0;
}

/* votequorum callbacks ----------------------------------------------------- */

static struct pfs_cpg *vq_context(votequorum_handle_t handle)
{
	void *ctx = NULL;

	votequorum_context_get(handle, &ctx);
	return ctx;
}

/* Pass the quorum on once votequorum has reported it: a node list comes
 * first, without the quorate flag or the expected votes. */
static void report_quorum(struct pfs_cpg *c)
{
	if (c->sync && c->quorum_seen)
		pfs_sync_quorum(c->sync, c->vq_ring.nodeid, c->vq_ring.seq, c->quorate,
				c->expected_votes);
}

/* Pass each node's votes to the acknowledgement gate. NOTE: a quorum
 * device's votes are not counted there. */
static void report_votes(struct pfs_cpg *c, const uint32_t *ids, uint32_t n)
{
	struct votequorum_info info;

	for (uint32_t i = 0; i < n && c->sync; i++)
		if (votequorum_getinfo(c->vq, ids[i], &info) == CS_OK)
			pfs_sync_set_votes(c->sync, ids[i], info.node_votes);
}

static void on_quorum(votequorum_handle_t handle, uint64_t context, uint32_t quorate,
		      uint32_t nnodes, votequorum_node_t nodes[])
{
	struct pfs_cpg *c = vq_context(handle);
	struct votequorum_info info;
	uint32_t ids[PFS_SYNC_MAX_MEMBERS];
	uint32_t n = 0;

	(void)context;
	if (!c)
		return;
	for (uint32_t i = 0; i < nnodes && n < PFS_SYNC_MAX_MEMBERS; i++)
		ids[n++] = nodes[i].nodeid;
	report_votes(c, ids, n);
	c->quorum_seen = true;
	c->quorate = quorate != 0;
	if (votequorum_getinfo(c->vq, c->node_id, &info) == CS_OK)
		c->expected_votes = info.node_expected_votes;
	report_quorum(c);
}

static void on_nodelist(votequorum_handle_t handle, uint64_t context, votequorum_ring_id_t ring,
			uint32_t nnodes, uint32_t nodes[])
{
	struct pfs_cpg *c = vq_context(handle);

	(void)context;
	if (!c)
		return;
	report_votes(c, nodes, nnodes);
	c->vq_ring = ring;
	report_quorum(c);
}

static void on_expected(votequorum_handle_t handle, uint64_t context, uint32_t expected)
{
	struct pfs_cpg *c = vq_context(handle);

	(void)context;
	if (!c)
		return;
	c->expected_votes = expected;
	report_quorum(c);
}

static int32_t on_vq_fd(int32_t fd, int32_t revents, void *data)
{
	struct pfs_cpg *c = data;
	cs_error_t err;

	(void)fd;
	(void)revents;
	err = votequorum_dispatch(c->vq, CS_DISPATCH_ALL);
	if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
		fail(c, "dispatching votequorum events", errno_of(err));
		return -1;
	}
	return 0;
}

static void tick_job(void *data)
{
	struct pfs_cpg *c = data;

	c->tick_armed = false;
	pfs_sync_tick(c->sync);
	if (qb_loop_timer_add(c->loop, QB_LOOP_LOW, PFS_CPG_TICK_MS * 1000000ull, c, tick_job,
			      &c->tick_timer) == 0)
		c->tick_armed = true;
}

/* Setup ------------------------------------------------------------------------ */

/* Warn when libcpg would fragment a CHUNK, because it sends fragments
 * within the call and blocks the main loop (docs/sync.md, "Chunks"). */
static void check_atomic_size(struct pfs_cpg *c)
{
	const uint32_t chunk = PFS_SYNC_HEADER_SIZE + PFS_SYNC_CHUNK_HEADER_SIZE +
			       PFS_SYNC_CHUNK_SIZE;
	uint32_t atomic = 0;

	if (cpg_max_atomic_msgsize_get(c->cpg, &atomic) != CS_OK)
		return;
	if (atomic < chunk)
		pfs_log(WARN, "CPG sends messages of at most %" PRIu32 " bytes unfragmented, less "
			"than a sync chunk of %" PRIu32 " bytes: large syncs will block the daemon "
			"while libcpg sends fragments", atomic, chunk);
	else
		pfs_log(DEBUG, "CPG sends messages of up to %" PRIu32 " bytes unfragmented", atomic);
}

static cs_error_t open_cpg(struct pfs_cpg *c)
{
	static cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = on_deliver,
		.cpg_confchg_fn = on_confchg,
		.cpg_totem_confchg_fn = on_totem_confchg,
		.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
	};

	return cpg_model_initialize(&c->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, c);
}

/* Replace the CPG connection that left the group by a new one and join
 * with it (a handle that left cannot join again). */
static cs_error_t rejoin(struct pfs_cpg *c)
{
	cs_error_t err;

	if (c->cpg_polled)
		qb_loop_poll_del(c->loop, c->cpg_fd);
	c->cpg_polled = false;
	if (c->cpg_open)
		cpg_finalize(c->cpg);
	c->cpg_open = false;
	err = open_cpg(c);
	if (err != CS_OK)
		return err;
	c->cpg_open = true;
	err = cpg_fd_get(c->cpg, &c->cpg_fd);
	if (err != CS_OK)
		return err;
	if (qb_loop_poll_add(c->loop, QB_LOOP_HIGH, c->cpg_fd, POLLIN, c, on_cpg_fd) != 0)
		return CS_ERR_LIBRARY;
	c->cpg_polled = true;
	return join_group(c);
}

int pfs_cpg_connect(qb_loop_t *loop, struct pfs_cpg **out, uint32_t *node_id, char *errmsg)
{
	static votequorum_callbacks_t vq_callbacks = {on_quorum, on_expected, on_nodelist};
	struct pfs_cpg *c = calloc(1, sizeof(*c));
	unsigned int id = 0;
	cs_error_t err;

	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->out_tail = &c->out;
	c->cpg_fd = c->vq_fd = c->batch_fd = -1;

	err = open_cpg(c);
	if (err != CS_OK) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot connect to corosync CPG (error %d): is "
			 "corosync running?", err);
		goto err_free;
	}
	c->cpg_open = true;
	err = cpg_local_get(c->cpg, &id);
	if (err != CS_OK) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot read the local node id (error %d)", err);
		goto err_free;
	}
	err = votequorum_initialize(&c->vq, &vq_callbacks);
	if (err != CS_OK) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot connect to corosync votequorum (error %d)",
			 err);
		goto err_free;
	}
	c->vq_open = true;
	votequorum_context_set(c->vq, c);
	check_atomic_size(c);
	c->node_id = id;
	*node_id = id;
	*out = c;
	return 0;

err_free:
	pfs_cpg_free(c);
	return errno_of(err);
}

/* Join the group, retrying on CS_ERR_TRY_AGAIN for at most
 * PFS_CPG_MAX_RETRY_MS. */
static cs_error_t join_group(struct pfs_cpg *c)
{
	struct cpg_name name;
	cs_error_t err;

	snprintf(name.value, sizeof(name.value), "%s", PFS_CPG_GROUP);
	name.length = (uint32_t)strlen(PFS_CPG_GROUP);
	for (unsigned i = 0; i < PFS_CPG_MAX_RETRY_MS / PFS_CPG_RETRY_MS; i++) {
		struct timespec ts = {0, PFS_CPG_RETRY_MS * 1000000L};

		err = cpg_join(c->cpg, &name);
		if (err != CS_ERR_TRY_AGAIN)
			return err;
		nanosleep(&ts, NULL);
	}
	return CS_ERR_TRY_AGAIN;
}

int pfs_cpg_join(struct pfs_cpg *c, struct pfs_store *store, const char *node_name,
		 char *errmsg)
{
	struct pfs_sync_transport t = {&group_ops, c};
	cs_error_t err;
	int rv;

	c->store = store;
	rv = pfs_sync_new(store, c->node_id, node_name, t, NULL, &c->sync);
	if (rv < 0) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot create the sync state machine: %s",
			 strerror(-rv));
		return rv;
	}

	c->batch_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->batch_fd >= 0 &&
	    qb_loop_poll_add(c->loop, QB_LOOP_LOW, c->batch_fd, POLLIN, c, on_batch_fd) == 0)
		c->batch_polled = true;
	else
		pfs_log(WARN, "cannot watch an eventfd (%s): changes go to CPG one by one",
			strerror(errno));

	/* votequorum first, so the quorum is known when the first round ends. */
	err = votequorum_trackstart(c->vq, 0, CS_TRACK_CURRENT | CS_TRACK_CHANGES);
	if (err == CS_OK)
		err = votequorum_fd_get(c->vq, &c->vq_fd);
	if (err == CS_OK && qb_loop_poll_add(c->loop, QB_LOOP_HIGH, c->vq_fd, POLLIN, c, on_vq_fd) == 0)
		c->vq_polled = true;
	if (!c->vq_polled) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot track votequorum (error %d)", err);
		return -ENOTCONN;
	}

	err = cpg_fd_get(c->cpg, &c->cpg_fd);
	if (err == CS_OK && qb_loop_poll_add(c->loop, QB_LOOP_HIGH, c->cpg_fd, POLLIN, c, on_cpg_fd) == 0)
		c->cpg_polled = true;
	if (c->cpg_polled)
		err = join_group(c);
	if (err != CS_OK || !c->cpg_polled) {
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot join the CPG group %s (error %d)",
			 PFS_CPG_GROUP, err);
		return errno_of(err ? err : CS_ERR_LIBRARY);
	}
	c->joined = true;
	if (qb_loop_timer_add(c->loop, QB_LOOP_LOW, PFS_CPG_TICK_MS * 1000000ull, c, tick_job,
			      &c->tick_timer) == 0)
		c->tick_armed = true;
	pfs_log(INFO, "joined CPG group %s as node %" PRIu32, PFS_CPG_GROUP, c->node_id);
	return 0;
}

struct pfs_sync *pfs_cpg_sync(struct pfs_cpg *c)
{
	return c->sync;
}

void pfs_cpg_attach_noderq(struct pfs_cpg *c, struct pfs_noderq *nrq)
{
	c->noderq = nrq;
	pfs_noderq_set_transport(nrq, group_mcast, c);
	noderq_confchg(c, NULL, 0);
}

void pfs_cpg_free(struct pfs_cpg *c)
{
	struct cpg_name name;

	if (!c)
		return;
	if (c->tick_armed)
		qb_loop_timer_del(c->loop, c->tick_timer);
	if (c->retry_armed)
		qb_loop_timer_del(c->loop, c->retry_timer);
	if (c->probe_armed)
		qb_loop_timer_del(c->loop, c->probe_timer);
	if (c->cpg_polled)
		qb_loop_poll_del(c->loop, c->cpg_fd);
	if (c->vq_polled)
		qb_loop_poll_del(c->loop, c->vq_fd);
	if (c->batch_polled)
		qb_loop_poll_del(c->loop, c->batch_fd);
	if (c->batch_fd >= 0)
		close(c->batch_fd);
	pfs_batch_free(&c->batch);
	if (c->joined && !c->suspended) {
		set_group_name(&name);
		cpg_leave(c->cpg, &name);
	}
	if (c->cpg_open)
		cpg_finalize(c->cpg);
	if (c->vq_open)
		votequorum_finalize(c->vq);
	while (c->out) {
		struct outgoing *o = c->out;

		c->out = o->next;
		free(o->buf);
		free(o);
	}
	pfs_sync_free(c->sync);
	free(c);
}
