/*
 * pfs_noderq: node-addressed requests, a message from a client on one node
 * to the agent of a named node ("start container 100" for node2's
 * container agent), with a reply.
 *
 *   requester --NODE_REQUEST op--> origin pmxfs --NODE_REQUEST msg--> target pmxfs
 *                                                                        | event
 *   requester <--reply---------- origin pmxfs <--NODE_REPLY msg--- agent reply op
 *
 * An agent is a client of its local daemon that registered for a service
 * name. The messages travel in the daemons' CPG group like store changes,
 * but they are neither applied nor persisted nor versioned, and they need
 * no quorum: only the members of the group take part. A request to this
 * node is handed over without the group (and --local has no group).
 *
 * The requester hears exactly one result for each request: the agent's
 * status and payload, or an error: -ENXIO (node name or id not in the
 * node list), -EHOSTUNREACH (the target is not a member, or left before it
 * replied: answered at the membership change), -ENOENT (no agent for the
 * service on the target), -ECONNRESET (the agent disconnected before it
 * replied), -EBUSY (the agent's event channel is full), -ETIMEDOUT. After
 * a timeout or a departure the agent may have acted on the request.
 *
 * Request ids count from 1 in each daemon run. A reply to a request of an
 * earlier run cannot reach the new run: the target drops the requests of
 * a node when it sees that node's process leave, which CPG delivers before
 * any message of the new process.
 *
 * Everything runs on the daemon's main loop; hooks may be called from
 * within the calls below (a request to this node is answered at once when
 * no agent is registered).
 */
#ifndef PMXFS_NODERQ_H
#define PMXFS_NODERQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qb/qbloop.h>

#include "pmxfs/wire.h"

#define PFS_NODE_DEFAULT_TIMEOUT_MS 120000u
#define PFS_NODE_NAME_SIZE 64         /* a DNS label and its NUL */
#define PFS_NODE_ADDR_SIZE 256        /* ring0_addr: an address or a host name */
#define PFS_NODERQ_MAX_SERVICES 16u   /* services one agent connection registers */

/* A node of the cluster's node list (corosync's nodelist). */
struct pfs_node_info {
	uint32_t id;
	char name[PFS_NODE_NAME_SIZE];
	char addr[PFS_NODE_ADDR_SIZE]; /* "" when unknown */
};

/* A node in the daemon's view: listed, or a member missing from the node
 * list (named by its decimal id then), and whether it is a member now. */
struct pfs_node_view {
	struct pfs_node_info info;
	bool online;
};

/* A request handed to an agent. The pointers are valid during the hook. */
struct pfs_noderq_request {
	uint64_t handle;     /* the agent passes it to pfs_noderq_reply() */
	uint64_t request_id; /* the requester's node numbers its requests */
	uint32_t origin;     /* node id of the requester */
	const char *origin_name;
	const char *service;
	const void *data;
	uint32_t data_len;
	uint32_t timeout_ms; /* the requester's timeout */
};

/* The result of a request, for the requester. */
struct pfs_noderq_result {
	int rc;             /* 0: the agent replied; else a negative errno value */
	int32_t status;     /* the agent's status (rc 0) */
	const void *data;   /* the agent's payload (rc 0) */
	uint32_t data_len;
	const char *errmsg; /* one sentence (rc < 0) */
};

struct pfs_noderq_hooks {
	/* Hand req to agent (the ctx it registered with): 0, or a negative
	 * errno value and the requester gets an error. */
	int (*deliver)(void *ctx, void *agent, const struct pfs_noderq_request *req);
	/* The one result of a request of client. */
	void (*done)(void *ctx, void *client, const struct pfs_noderq_result *res);
	/* The node list or the membership changed. */
	void (*nodes_changed)(void *ctx);
};

/* Multicast buf to every member of the group (copied). */
typedef int (*pfs_noderq_send_fn)(void *impl, const uint8_t *buf, size_t len);

struct pfs_noderq;

/*
 * Create the requests of node node_id, named node_name (copied), timing
 * requests on loop. Until pfs_noderq_set_transport() only this node is
 * reachable, and it is the only member and node.
 * Errors: -ENOMEM.
 */
int pfs_noderq_new(qb_loop_t *loop, uint32_t node_id, const char *node_name,
		   struct pfs_noderq **out);

/* Free everything; no hook is called. Accepts NULL. */
void pfs_noderq_free(struct pfs_noderq *nrq);

void pfs_noderq_set_hooks(struct pfs_noderq *nrq, const struct pfs_noderq_hooks *hooks,
			  void *ctx);

/* Send through the group from now on (the daemon's CPG connection). */
void pfs_noderq_set_transport(struct pfs_noderq *nrq, pfs_noderq_send_fn send, void *impl);

/*
 * Replace the node list with nodes (copied). This node is always in it,
 * under this daemon's name.
 * Errors: -ENOMEM (the list is unchanged).
 */
int pfs_noderq_set_nodes(struct pfs_noderq *nrq, const struct pfs_node_info *nodes, size_t count);

/*
 * A membership change of the group: members (node ids) form it from now
 * on, and the processes of the left nodes are gone. Requests to a node
 * that left or is no member fail with -EHOSTUNREACH; requests from one are
 * dropped.
 * Errors: -ENOMEM (the membership is unchanged).
 */
int pfs_noderq_confchg(struct pfs_noderq *nrq, const uint32_t *members, size_t count,
		       const uint32_t *left, size_t nleft);

/* The nodes in this daemon's view, sorted by node id (not a copy; valid
 * until the next change). */
const struct pfs_node_view *pfs_noderq_nodes(const struct pfs_noderq *nrq, size_t *count);

/*
 * One delivered NODE_REQUEST or NODE_REPLY message from sender. Messages
 * for other nodes are ignored; malformed ones are logged and dropped.
 */
void pfs_noderq_deliver(struct pfs_noderq *nrq, uint32_t sender, const uint8_t *buf, size_t len);

/*
 * Register agent (an opaque owner, compared by pointer) for service on
 * this node. Registering a service again from the same agent succeeds.
 * Errors, with errmsg: -EINVAL (invalid service name), -EEXIST (another
 * agent serves it), -ENOSPC (PFS_NODERQ_MAX_SERVICES for this agent),
 * -ENOMEM.
 */
int pfs_noderq_register(struct pfs_noderq *nrq, void *agent, const char *service,
			char *errmsg);

/*
 * Send a request of client to the agent of service on node (a name, or a
 * decimal node id), waiting at most timeout_ms (0: the default). On
 * success the done hook is called exactly once for client, maybe before
 * this returns; on error never.
 * Errors, with errmsg: -EINVAL (invalid service name or timeout), -E2BIG
 * (payload above PFS_MAX_NODE_PAYLOAD), -ENXIO (unknown node),
 * -EHOSTUNREACH (the node is not a member), -ENOMEM, transport errors.
 */
int pfs_noderq_request(struct pfs_noderq *nrq, void *client, const char *node,
		       const char *service, const void *data, uint32_t len, uint32_t timeout_ms,
		       char *errmsg);

/*
 * The reply of agent to the request with handle: status and payload go to
 * the requester.
 * Errors, with errmsg: -ENOENT (no such request pending: answered, timed
 * out, or its requester left), -EPERM (handed to another agent), -E2BIG,
 * -ENOMEM, transport errors.
 */
int pfs_noderq_reply(struct pfs_noderq *nrq, void *agent, uint64_t handle, int32_t status,
		     const void *data, uint32_t len, char *errmsg);

/*
 * ctx (an agent or a client) went away: its services are unregistered, the
 * requests handed to it are answered with -ECONNRESET, and its own requests
 * are forgotten without a result.
 */
void pfs_noderq_forget(struct pfs_noderq *nrq, void *ctx);

/* Counts for status output and tests. */
struct pfs_noderq_stats {
	uint64_t sent;        /* requests of this node's clients */
	uint64_t answered;    /* ...that got the agent's reply */
	uint64_t failed;      /* ...that got an error */
	uint64_t served;      /* requests handed to this node's agents */
	uint64_t bad;         /* malformed messages dropped */
	size_t pending;       /* requests of this node's clients waiting */
	size_t in_progress;   /* requests waiting for this node's agents */
};
void pfs_noderq_stats(const struct pfs_noderq *nrq, struct pfs_noderq_stats *stats);

#endif
