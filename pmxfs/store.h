/*
 * pfs_store: the change path of one node.
 *
 *   pfs_store_submit()   client request -> change message (wire format)
 *        |                 -> transport send
 *   transport delivers, in the same order on every member
 *        v
 *   pfs_store_deliver()  one dispatch round: apply every message to the
 *                        tree, commit the round to sqlite in one
 *                        transaction, then publish: reply to this node's
 *                        clients, then call the hooks (watches, mirror,
 *                        lock timekeeper).
 *
 * The transport is the only part that differs between --local (a loopback
 * that delivers on the next main loop turn) and a cluster (CPG with agreed
 * order). Apply uses the writer and mtime of the message header only.
 *
 * A failed commit: the round's changes are not persisted, so the tree is
 * discarded and loaded again from the database (the last committed
 * round), this node's clients of the round get -EIO, and the hooks get a
 * reload (watchers see a `resync` event). If that load fails too, the
 * store is broken and pfs_store_deliver() returns -EIO: the daemon exits
 * rather than serve a tree that differs from its database.
 */
#ifndef PMXFS_STORE_H
#define PMXFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pmxfs/db.h"
#include "pmxfs/tree.h"
#include "pmxfs/wire.h"

/* A transport: sends an encoded message to every member, this node
 * included. Delivery comes back through pfs_store_deliver(). */
struct pfs_transport_ops {
	/* Copy and send buf; 0 or a negative errno value. */
	int (*send)(void *impl, const uint8_t *buf, size_t len);
	void (*free)(void *impl);
};

struct pfs_transport {
	const struct pfs_transport_ops *ops;
	void *impl;
};

/* Called after a successful commit and the replies of the round. */
struct pfs_store_hooks {
	void (*event)(void *ctx, const struct pfs_tree_event *ev);   /* mirror, watches */
	void (*lease)(void *ctx, const struct pfs_lease *lease); /* the timekeeper */
	void (*reloaded)(void *ctx);                             /* tree replaced */
	void (*timekeeper)(void *ctx, bool on); /* on: restart every lease; off: stop timers */
	/* Every node, timekeeper or not: a lease started or was renewed. */
	void (*lease_seen)(void *ctx, const struct pfs_lease *lease);
	/* This node ended a sync without quorum: its lock holders lose their locks. */
	void (*quorum_lost)(void *ctx);
};

struct pfs_store;

/* The reply to a submitted message: res->rc, res->version, res->token. */
typedef void (*pfs_store_done_fn)(void *ctx, const struct pfs_apply_result *res);

/*
 * Open the database at db_path and load the tree. node_id is the writer id
 * this node puts into its messages.
 * Errors: as pfs_db_open() and pfs_db_load(), with errmsg.
 */
int pfs_store_open(const char *db_path, uint32_t node_id, struct pfs_store **out, char *errmsg);

/* Free the store and its transport. Pending requests are dropped without
 * a reply. Accepts NULL. */
void pfs_store_free(struct pfs_store *store);

/* Set the transport (taken: freed with the store) and the hooks. */
void pfs_store_set_transport(struct pfs_store *store, struct pfs_transport transport);
void pfs_store_set_hooks(struct pfs_store *store, const struct pfs_store_hooks *hooks,
			 void *ctx);

/*
 * Send msg (its writer, mtime and request id are filled in here). done is
 * called with ctx once the message is applied and committed, or with
 * -EIO after a failed commit. A queued lock ACQUIRE gets its reply when it is
 * granted or withdrawn. *request_id (may be NULL) receives the id.
 * Errors: -EINVAL (msg does not encode), -ENOMEM, transport errors.
 */
int pfs_store_submit(struct pfs_store *store, struct pfs_msg *msg, pfs_store_done_fn done,
		     void *ctx, uint64_t *request_id);

/* Drop every pending reply addressed to ctx (its client went away). */
void pfs_store_forget(struct pfs_store *store, void *ctx);

/*
 * Apply one dispatch round of delivered messages, commit and publish.
 * Malformed messages are counted and skipped.
 * Errors: -EIO (commit failed and the reload failed too: see above).
 */
int pfs_store_deliver(struct pfs_store *store, const uint8_t *const *bufs, const size_t *lens,
		      size_t count);

const struct pfs_tree *pfs_store_tree(const struct pfs_store *store);
struct pfs_db *pfs_store_db(const struct pfs_store *store);
uint32_t pfs_store_node_id(const struct pfs_store *store);

/* The path of the store's database file. */
const char *pfs_store_db_path(const struct pfs_store *store);

/*
 * Write bytes bytes to a test file next to the database, sync it and
 * remove it: whether the disk takes writes again.
 * Errors: -errno of the failed call, with errmsg naming the file.
 */
int pfs_store_probe(const struct pfs_store *store, size_t bytes, char *errmsg);

/* Counters for status output and tests. */
struct pfs_store_stats {
	uint64_t rounds;
	uint64_t messages;
	uint64_t bad_messages;
	uint64_t failed_commits;
};
void pfs_store_stats(const struct pfs_store *store, struct pfs_store_stats *stats);

/* Return true after a failed commit whose reload failed too: the tree no
 * longer matches the database and the daemon must exit. */
bool pfs_store_broken(const struct pfs_store *store);

/*
 * Cluster mode (see docs/sync.md). With the acknowledgement gate on, the
 * result of a request of this node is kept until pfs_store_release() is
 * called with a delivery number at or above its own: the number of
 * messages passed to pfs_store_deliver() since open, up to and including
 * the request's message (pfs_store_delivered() after its round).
 */
void pfs_store_set_ack_gate(struct pfs_store *store, bool on);
uint64_t pfs_store_delivered(const struct pfs_store *store);
void pfs_store_release(struct pfs_store *store, uint64_t seq);

/* Reply with rc and the message why to every request whose result waits
 * for confirmation (unconfirmed), to every request whose message was never
 * delivered and whose id is below before_id (undelivered), or to the one
 * request with request_id (answer). */
void pfs_store_fail_unconfirmed(struct pfs_store *store, int rc, const char *why);
void pfs_store_fail_undelivered(struct pfs_store *store, uint64_t before_id, int rc,
				const char *why);
void pfs_store_answer(struct pfs_store *store, uint64_t request_id, int rc, const char *why);

/* Make this node the lock timekeeper or not: only the timekeeper gets the
 * lease hook, and the timekeeper hook hears every change (default on). */
void pfs_store_set_timekeeper(struct pfs_store *store, bool on);
bool pfs_store_is_timekeeper(const struct pfs_store *store);

/*
 * Replace the tree and the generation history with tree (taken on
 * success) and gens, in one transaction; the reloaded hook is called.
 * Errors: -EIO with errmsg; the store keeps its tree.
 */
int pfs_store_replace_tree(struct pfs_store *store, struct pfs_tree *tree,
			   const struct pfs_generation *gens, size_t ngens, char *errmsg);

/* Tell the hooks that this node ended a sync without quorum (see
 * pfs_store_hooks.quorum_lost). */
void pfs_store_quorum_lost(struct pfs_store *store);

/* Drop the status values and the lock waiters of a node that left. Call it
 * at the same point of the delivery order on every member. */
void pfs_store_drop_node(struct pfs_store *store, uint32_t node);

/* Drop every queued lock ACQUIRE and reply with rc and why to this node's
 * queued ones. A sync rebuilds trees without the queues, so every member
 * starts the primary component with empty queues. */
void pfs_store_drop_waiters(struct pfs_store *store, int rc, const char *why);

/*
 * The loopback transport of --local mode: send() queues a copy, and the
 * queue is delivered as one dispatch round on the next turn of the libqb
 * main loop (loop), or by pfs_loopback_flush() when loop is NULL (tests).
 */
struct qb_loop;
int pfs_loopback_new(struct qb_loop *loop, struct pfs_store *store, struct pfs_transport *out);
int pfs_loopback_flush(struct pfs_transport *transport);

#endif
