/* pfs_store: submit, deliver, commit and publish (see store.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbloop.h>

#include "pmxfs/log.h"
#include "pmxfs/store.h"

/* A request of this node waiting for its delivery. */
struct pending {
	struct pending *next;
	uint64_t request_id;
	pfs_store_done_fn done;
	void *ctx;

	/* With the acknowledgement gate: the result waits for confirmation. */
	bool delivered;  /* its message was applied (a queued ACQUIRE too) */
	bool has_result;
	uint64_t seq;    /* delivery number that must be confirmed */
	struct pfs_apply_result res;
};

struct pfs_store {
	char db_path[4096];
	struct pfs_db *db;
	struct pfs_tree *tree;
	uint32_t node_id;
	uint64_t next_request_id;
	struct pending *pending;
	struct pfs_transport transport;
	struct pfs_store_hooks hooks;
	void *hooks_ctx;
	struct pfs_store_stats stats;
	bool broken;
	bool ack_gate;      /* replies wait for pfs_store_release() */
	bool timekeeper;    /* call the lease hook */
	uint64_t delivered; /* messages passed to pfs_store_deliver() */
};

int pfs_store_open(const char *db_path, uint32_t node_id, struct pfs_store **out, char *errmsg)
{
	struct pfs_store *store = calloc(1, sizeof(*store));
	int rv;

	if (!store)
		return -ENOMEM;
	snprintf(store->db_path, sizeof(store->db_path), "%s", db_path);
	store->node_id = node_id;
	store->next_request_id = 1;
	store->timekeeper = true;
	rv = pfs_db_open(db_path, &store->db, errmsg);
	if (rv == 0)
		rv = pfs_db_load(store->db, &store->tree, errmsg);
	if (rv < 0) {
		pfs_store_free(store);
		return rv;
	}
	*out = store;
	return 0;
}

void pfs_store_free(struct pfs_store *store)
{
	if (!store)
		return;
	while (store->pending) {
		struct pending *p = store->pending;

		store->pending = p->next;
		free(p);
	}
	if (store->transport.ops && store->transport.ops->free)
		store->transport.ops->free(store->transport.impl);
	pfs_tree_free(store->tree);
	pfs_db_close(store->db);
	free(store);
}

void pfs_store_set_transport(struct pfs_store *store, struct pfs_transport transport)
{
	store->transport = transport;
}

void pfs_store_set_hooks(struct pfs_store *store, const struct pfs_store_hooks *hooks, void *ctx)
{
	store->hooks = *hooks;
	store->hooks_ctx = ctx;
}

const struct pfs_tree *pfs_store_tree(const struct pfs_store *store)
{
	return store->tree;
}

struct pfs_db *pfs_store_db(const struct pfs_store *store)
{
	return store->db;
}

uint32_t pfs_store_node_id(const struct pfs_store *store)
{
	return store->node_id;
}

const char *pfs_store_db_path(const struct pfs_store *store)
{
	return store->db_path;
}

int pfs_store_probe(const struct pfs_store *store, size_t bytes, char *errmsg)
{
	static const uint8_t zeros[65536];
	char path[sizeof(store->db_path) + 16];
	int fd, rv = 0;

	snprintf(path, sizeof(path), "%s.probe", store->db_path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rv = -errno;
		snprintf(errmsg, PFS_ERRMSG_SIZE, "cannot create the test file %.150s: %s", path,
			 strerror(-rv));
		return rv;
	}
	for (size_t done = 0; done < bytes && rv == 0;) {
		size_t n = bytes - done < sizeof(zeros) ? bytes - done : sizeof(zeros);
		ssize_t w = write(fd, zeros, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rv = w < 0 ? -errno : -ENOSPC;
		else
			done += (size_t)w;
	}
	if (rv == 0 && fsync(fd) < 0)
		rv = -errno;
	if (rv < 0)
		snprintf(errmsg, PFS_ERRMSG_SIZE, "writing %zu bytes to the test file %.150s failed: %s",
			 bytes, path, strerror(-rv));
	close(fd);
	unlink(path);
	return rv;
}

void pfs_store_stats(const struct pfs_store *store, struct pfs_store_stats *stats)
{
	*stats = store->stats;
}

bool pfs_store_broken(const struct pfs_store *store)
{
	return store->broken;
}

int pfs_store_submit(struct pfs_store *store, struct pfs_msg *msg, pfs_store_done_fn done,
		     void *ctx, uint64_t *request_id)
{
	struct pending *p;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	if (!store->transport.ops)
		return -ENOTCONN;
	msg->writer = store->node_id;
	msg->mtime = (uint32_t)time(NULL);
	msg->request_id = store->next_request_id++;
	rv = pfs_msg_encode(msg, &buf, &len);
	if (rv < 0)
		return rv;
	p = calloc(1, sizeof(*p));
	if (!p) {
		free(buf);
		return -ENOMEM;
	}
	rv = store->transport.ops->send(store->transport.impl, buf, len);
	free(buf);
	if (rv < 0) {
		free(p);
		return rv;
	}
	p->request_id = msg->request_id;
	p->done = done;
	p->ctx = ctx;
	p->next = store->pending;
	store->pending = p;
	if (request_id)
		*request_id = msg->request_id;
	return 0;
}

void pfs_store_forget(struct pfs_store *store, void *ctx)
{
	for (struct pending *p = store->pending; p; p = p->next)
		if (p->ctx == ctx)
			p->done = NULL;
}

/* Reply to the pending request with this id, if it is ours, and drop it. */
static void reply(struct pfs_store *store, uint64_t request_id, const struct pfs_apply_result *res)
{
	struct pending **pp, *p;

	for (pp = &store->pending; *pp; pp = &(*pp)->next)
		if ((*pp)->request_id == request_id)
			break;
	p = *pp;
	if (!p)
		return;
	*pp = p->next;
	if (p->done)
		p->done(p->ctx, res);
	free(p);
}

/* Keep the result of a delivered request of this node until delivery
 * number seq is confirmed. A queued ACQUIRE has no result yet. */
static void hold_result(struct pfs_store *store, uint64_t request_id, uint64_t seq,
			const struct pfs_apply_result *res)
{
	for (struct pending *p = store->pending; p; p = p->next) {
		if (p->request_id != request_id)
			continue;
		p->delivered = true;
		if (!res->queued) {
			p->has_result = true;
			p->seq = seq;
			p->res = *res;
		}
		return;
	}
}

struct round_item {
	uint32_t writer;
	uint64_t request_id;
	uint64_t seq;
	bool valid;
	struct pfs_apply_result res;
};

/* The commit failed: go back to the database's tree, tell everyone. */
static int recover(struct pfs_store *store, struct round_item *items, size_t count,
		   const char *why)
{
	struct pfs_tree *fresh = NULL;
	char errmsg[PFS_ERRMSG_SIZE] = "";
	int rv;

	store->stats.failed_commits++;
	pfs_log(ERR, "commit of a round of %zu messages failed, reloading the tree: %s", count, why);
	pfs_tree_round_end(store->tree);
	rv = pfs_db_load(store->db, &fresh, errmsg);
	if (rv < 0) {
		pfs_log(ERR, "reload of %s after a failed commit failed: %s", store->db_path, errmsg);
		store->broken = true;
		return -EIO;
	}
	pfs_tree_free(store->tree);
	store->tree = fresh;

	/* With the acknowledgement gate other members got the same round, and
	 * may well have stored it: the outcome is unknown, not a failure. */
	for (size_t i = 0; i < count; i++) {
		if (!items[i].valid || items[i].writer != store->node_id)
			continue;
		memset(&items[i].res, 0, sizeof(items[i].res));
		items[i].res.rc = store->ack_gate ? -EINPROGRESS : -EIO;
		if (store->ack_gate)
			snprintf(items[i].res.errmsg, sizeof(items[i].res.errmsg),
				 "outcome unknown: this node could not store the change (%s), "
				 "but the other nodes may have; read it on another node",
				 why);
		else
			snprintf(items[i].res.errmsg, sizeof(items[i].res.errmsg),
				 "the change was not stored: %s", why);
		reply(store, items[i].request_id, &items[i].res);
	}
	if (store->hooks.reloaded)
		store->hooks.reloaded(store->hooks_ctx);
	return 0;
}

static void publish(struct pfs_store *store, struct round_item *items, size_t count)
{
	const struct pfs_tree_event *events;
	const struct pfs_notice *notices;
	const struct pfs_lease *leases;
	size_t n;

	/* Clients first, then watches and the mirror, then the timekeeper. */
	for (size_t i = 0; i < count; i++) {
		if (!items[i].valid || items[i].writer != store->node_id)
			continue;
		if (store->ack_gate)
			hold_result(store, items[i].request_id, items[i].seq, &items[i].res);
		else if (!items[i].res.queued)
			reply(store, items[i].request_id, &items[i].res);
	}

	notices = pfs_tree_notices(store->tree, &n);
	for (size_t i = 0; i < n; i++) {
		struct pfs_apply_result res = {0};

		if (notices[i].node != store->node_id)
			continue;
		res.rc = notices[i].rc;
		res.token = notices[i].token;
		res.version = notices[i].token;
		if (res.rc == -ETIMEDOUT)
			snprintf(res.errmsg, sizeof(res.errmsg), "timed out waiting for the lock");
		if (store->ack_gate)
			hold_result(store, notices[i].request_id, store->delivered, &res);
		else
			reply(store, notices[i].request_id, &res);
	}

	events = pfs_tree_events(store->tree, &n);
	for (size_t i = 0; i < n && store->hooks.event; i++)
		store->hooks.event(store->hooks_ctx, &events[i]);
	leases = pfs_tree_leases(store->tree, &n);
	for (size_t i = 0; i < n && store->hooks.lease_seen; i++)
		store->hooks.lease_seen(store->hooks_ctx, &leases[i]);
	for (size_t i = 0; i < n && store->hooks.lease && store->timekeeper; i++)
		store->hooks.lease(store->hooks_ctx, &leases[i]);
}

int pfs_store_deliver(struct pfs_store *store, const uint8_t *const *bufs, const size_t *lens,
		      size_t count)
{
	char errmsg[PFS_ERRMSG_SIZE] = "";
	struct round_item *items;
	int rv = 0;

	items = calloc(count ? count : 1, sizeof(*items));
	if (!items)
		return -ENOMEM;
	store->stats.rounds++;
	store->delivered += count;
	pfs_tree_round_begin(store->tree);

	/* Stage: apply every message of the round to the tree. */
	for (size_t i = 0; i < count; i++) {
		struct pfs_msg msg;
		int dec = pfs_msg_decode(bufs[i], lens[i], &msg);

		if (dec < 0) {
			store->stats.bad_messages++;
			pfs_log(WARN, "delivered message %zu of %zu bytes is malformed and skipped: %s",
				i, lens[i], strerror(-dec));
			continue;
		}
		store->stats.messages++;
		items[i].valid = true;
		items[i].seq = store->delivered - count + i + 1;
		items[i].writer = msg.writer;
		items[i].request_id = msg.request_id;
		pfs_tree_apply(store->tree, &msg, &items[i].res);
		pfs_log(DEBUG, "applied %s %s from node %u: %d", pfs_msg_type_name(msg.type), msg.path,
			msg.writer, items[i].res.rc);
		pfs_msg_clear(&msg);
	}

	/* Commit the round in one transaction, then publish it. */
	if (pfs_db_commit_round(store->db, store->tree, errmsg) < 0) {
		rv = recover(store, items, count, errmsg);
	} else {
		publish(store, items, count);
		pfs_tree_round_end(store->tree);
	}
	free(items);
	return rv;
}

void pfs_store_set_ack_gate(struct pfs_store *store, bool on)
{
	store->ack_gate = on;
}

uint64_t pfs_store_delivered(const struct pfs_store *store)
{
	return store->delivered;
}

void pfs_store_release(struct pfs_store *store, uint64_t seq)
{
	struct pending **pp = &store->pending;

	while (*pp) {
		struct pending *p = *pp;

		if (!p->has_result || p->seq > seq) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (p->done)
			p->done(p->ctx, &p->res);
		free(p);
	}
}

/* Reply to every pending request that matches (delivered, has_result). */
static void answer_where(struct pfs_store *store, bool delivered, bool has_result,
			 uint64_t before_id, int rc, const char *why)
{
	struct pending **pp = &store->pending;

	while (*pp) {
		struct pending *p = *pp;
		struct pfs_apply_result res = {0};

		if (p->delivered != delivered || p->has_result != has_result ||
		    p->request_id >= before_id) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		res.rc = rc;
		snprintf(res.errmsg, sizeof(res.errmsg), "%s", why);
		if (p->done)
			p->done(p->ctx, &res);
		free(p);
	}
}

void pfs_store_fail_unconfirmed(struct pfs_store *store, int rc, const char *why)
{
	answer_where(store, true, true, UINT64_MAX, rc, why);
}

void pfs_store_fail_undelivered(struct pfs_store *store, uint64_t before_id, int rc,
				const char *why)
{
	answer_where(store, false, false, before_id, rc, why);
}

void pfs_store_answer(struct pfs_store *store, uint64_t request_id, int rc, const char *why)
{
	struct pfs_apply_result res = {0};

	res.rc = rc;
	snprintf(res.errmsg, sizeof(res.errmsg), "%s", why);
	reply(store, request_id, &res);
}

void pfs_store_set_timekeeper(struct pfs_store *store, bool on)
{
	if (store->timekeeper == on)
		return;
	store->timekeeper = on;
	if (store->hooks.timekeeper)
		store->hooks.timekeeper(store->hooks_ctx, on);
}

bool pfs_store_is_timekeeper(const struct pfs_store *store)
{
	return store->timekeeper;
}

int pfs_store_replace_tree(struct pfs_store *store, struct pfs_tree *tree,
			   const struct pfs_generation *gens, size_t ngens, char *errmsg)
{
	int rv = pfs_db_replace(store->db, tree, gens, ngens, errmsg);

	if (rv < 0)
		return rv;
	pfs_tree_free(store->tree);
	store->tree = tree;
	if (store->hooks.reloaded)
		store->hooks.reloaded(store->hooks_ctx);
	return 0;
}

void pfs_store_quorum_lost(struct pfs_store *store)
{
	if (store->hooks.quorum_lost)
		store->hooks.quorum_lost(store->hooks_ctx);
}

void pfs_store_drop_node(struct pfs_store *store, uint32_t node)
{
	pfs_tree_status_drop(store->tree, node);
	pfs_tree_drop_waiters(store->tree, node);
}

void pfs_store_drop_waiters(struct pfs_store *store, int rc, const char *why)
{
	pfs_tree_drop_waiters(store->tree, 0);
	answer_where(store, true, false, UINT64_MAX, rc, why);
}

/* The loopback transport ------------------------------------------------- */

struct loopback {
	qb_loop_t *loop;
	qb_loop_timer_handle timer;
	struct pfs_store *store;
	uint8_t **bufs;
	size_t *lens;
	size_t count, cap;
	bool scheduled;
};

static int loopback_deliver(struct loopback *lb)
{
	uint8_t **bufs = lb->bufs;
	size_t *lens = lb->lens, count = lb->count;
	int rv;

	/* Messages sent while this round is published go to the next round. */
	lb->bufs = NULL;
	lb->lens = NULL;
	lb->count = lb->cap = 0;
	lb->scheduled = false;
	rv = pfs_store_deliver(lb->store, (const uint8_t *const *)bufs, lens, count);
	for (size_t i = 0; i < count; i++)
		free(bufs[i]);
	free(bufs);
	free(lens);
	return rv;
}

static void loopback_job(void *data)
{
	struct loopback *lb = data;

	if (loopback_deliver(lb) < 0) {
		pfs_log(ERR, "the store cannot continue after a failed commit, stopping");
		qb_loop_stop(lb->loop);
	}
}

static int loopback_send(void *impl, const uint8_t *buf, size_t len)
{
	struct loopback *lb = impl;
	uint8_t *copy;

	if (lb->count == lb->cap) {
		size_t cap = lb->cap ? lb->cap * 2 : 16;
		uint8_t **bufs = realloc(lb->bufs, cap * sizeof(*bufs));
		size_t *lens;

		if (!bufs)
			return -ENOMEM;
		lb->bufs = bufs;
		lens = realloc(lb->lens, cap * sizeof(*lens));
		if (!lens)
			return -ENOMEM;
		lb->lens = lens;
		lb->cap = cap;
	}
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	if (lb->loop && !lb->scheduled) {
		/* A timer due at once, not a job: libqb 2.0 can leave a job added
		 * from a poll handler waiting for the next wake-up of the loop. */
		if (qb_loop_timer_add(lb->loop, QB_LOOP_LOW, 0, lb, loopback_job, &lb->timer) != 0) {
			free(copy);
			return -ENOMEM;
		}
		lb->scheduled = true;
	}
	lb->bufs[lb->count] = copy;
	lb->lens[lb->count++] = len;
	return 0;
}

static void loopback_free(void *impl)
{
	struct loopback *lb = impl;

	if (!lb)
		return;
	if (lb->scheduled)
		qb_loop_timer_del(lb->loop, lb->timer);
	for (size_t i = 0; i < lb->count; i++)
		free(lb->bufs[i]);
	free(lb->bufs);
	free(lb->lens);
	free(lb);
}

static const struct pfs_transport_ops loopback_ops = {
	.send = loopback_send,
	.free = loopback_free,
};

int pfs_loopback_new(struct qb_loop *loop, struct pfs_store *store, struct pfs_transport *out)
{
	struct loopback *lb = calloc(1, sizeof(*lb));

	if (!lb)
		return -ENOMEM;
	lb->loop = loop;
	lb->store = store;
	out->ops = &loopback_ops;
	out->impl = lb;
	return 0;
}

int pfs_loopback_flush(struct pfs_transport *transport)
{
	struct loopback *lb = transport->impl;

	if (transport->ops != &loopback_ops)
		return -EINVAL;
	return lb->count ? loopback_deliver(lb) : 0;
}
