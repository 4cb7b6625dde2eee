/* Unit tests of node-addressed requests: pfs_noderq between three nodes
 * over an in-memory group, then end to end through the client API against
 * a pfs_server on a libqb loop in a second thread (one node, as with
 * pmxfs --local). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbloop.h>

#include "pmxfs/mirror.h"
#include "pmxfs/noderq.h"
#include "pmxfs/pmxfs.h"
#include "pmxfs/server.h"
#include "pmxfs/store.h"

/* An in-memory group of three nodes ---------------------------------------- */

#define NODES 3
#define MAX_QUEUED 64

struct result {
	bool done;
	int rc;
	int32_t status;
	char data[256];
	char errmsg[256];
};

struct node {
	uint32_t id;
	struct pfs_noderq *nrq;
	struct pfs_noderq_request last; /* the last request handed to its agent */
	char last_data[256];
	int handed;
	int deliver_rc; /* what the deliver hook returns */
	int nodes_changed;
};

static qb_loop_t *loop;
static struct node nodes[NODES];
static uint8_t *queued[MAX_QUEUED];
static size_t queued_len[MAX_QUEUED];
static uint32_t queued_sender[MAX_QUEUED];
static size_t nqueued;
static bool in_group[NODES];

static int group_send(void *impl, const uint8_t *buf, size_t len)
{
	struct node *from = impl;

	ck_assert_uint_lt(nqueued, MAX_QUEUED);
	queued[nqueued] = malloc(len);
	ck_assert_ptr_nonnull(queued[nqueued]);
	memcpy(queued[nqueued], buf, len);
	queued_len[nqueued] = len;
	queued_sender[nqueued++] = from->id;
	return 0;
}

/* Deliver every queued message to every member, in order, like CPG. */
static void flush_group(void)
{
	for (size_t m = 0; m < nqueued; m++) {
		for (size_t i = 0; i < NODES; i++)
			if (in_group[i])
				pfs_noderq_deliver(nodes[i].nrq, queued_sender[m], queued[m],
						   queued_len[m]);
		free(queued[m]);
	}
	nqueued = 0;
}

static int hook_deliver(void *ctx, void *agent, const struct pfs_noderq_request *req)
{
	struct node *node = ctx;

	(void)agent;
	if (node->deliver_rc < 0)
		return node->deliver_rc;
	node->last = *req;
	snprintf(node->last_data, sizeof(node->last_data), "%.*s", (int)req->data_len,
		 (const char *)req->data);
	node->handed++;
	return 0;
}

static void hook_done(void *ctx, void *client, const struct pfs_noderq_result *res)
{
	struct result *r = client;

	(void)ctx;
	ck_assert(!r->done);
	r->done = true;
	r->rc = res->rc;
	r->status = res->status;
	if (res->rc == 0)
		snprintf(r->data, sizeof(r->data), "%.*s", (int)res->data_len,
			 (const char *)res->data);
	else
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", res->errmsg);
}

static void hook_nodes_changed(void *ctx)
{
	struct node *node = ctx;

	node->nodes_changed++;
}

static const struct pfs_noderq_hooks hooks = {hook_deliver, hook_done, hook_nodes_changed};

/* Every node lists node1..node3 and all three are members. */
static void group_setup(void)
{
	struct pfs_node_info list[NODES];
	uint32_t ids[NODES] = {1, 2, 3};
	char name[16];

	memset(list, 0, sizeof(list));
	loop = qb_loop_create();
	ck_assert_ptr_nonnull(loop);
	for (size_t i = 0; i < NODES; i++) {
		list[i].id = (uint32_t)i + 1;
		snprintf(list[i].name, sizeof(list[i].name), "node%zu", i + 1);
		snprintf(list[i].addr, sizeof(list[i].addr), "192.0.2.%zu", 11 + i);
	}
	for (size_t i = 0; i < NODES; i++) {
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].id = (uint32_t)i + 1;
		snprintf(name, sizeof(name), "node%zu", i + 1);
		ck_assert_int_eq(pfs_noderq_new(loop, nodes[i].id, name, &nodes[i].nrq), 0);
		pfs_noderq_set_hooks(nodes[i].nrq, &hooks, &nodes[i]);
		pfs_noderq_set_transport(nodes[i].nrq, group_send, &nodes[i]);
		ck_assert_int_eq(pfs_noderq_set_nodes(nodes[i].nrq, list, NODES), 0);
		ck_assert_int_eq(pfs_noderq_confchg(nodes[i].nrq, ids, NODES, NULL, 0), 0);
		in_group[i] = true;
	}
	nqueued = 0;
}

static void group_teardown(void)
{
	flush_group();
	for (size_t i = 0; i < NODES; i++)
		pfs_noderq_free(nodes[i].nrq);
	qb_loop_destroy(loop);
}

static struct pfs_noderq *nrq(int node)
{
	return nodes[node - 1].nrq;
}

static char errmsg[PFS_ERRMSG_SIZE];
static int agent_a, agent_b; /* their addresses are the agents' ids */

START_TEST(test_pfs_noderq_request_reply)
{
	struct result r = {0};
	struct pfs_noderq_stats stats;

	ck_assert_int_eq(pfs_noderq_register(nrq(3), &agent_a, "ctmgr", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node3", "ctmgr", "start 100", 9, 5000,
					    errmsg), 0);
	ck_assert(!r.done);
	flush_group();

	/* Only node3's agent gets it, with the requester's name. */
	ck_assert_int_eq(nodes[2].handed, 1);
	ck_assert_int_eq(nodes[1].handed, 0);
	ck_assert_str_eq(nodes[2].last_data, "start 100");
	ck_assert_str_eq(nodes[2].last.service, "ctmgr");
	ck_assert_uint_eq(nodes[2].last.origin, 1);
	ck_assert_uint_eq(nodes[2].last.timeout_ms, 5000);
	ck_assert_int_eq(pfs_noderq_reply(nrq(3), &agent_a, nodes[2].last.handle, -EEXIST,
					  "already running", 15, errmsg), 0);
	ck_assert(!r.done);
	flush_group();
	ck_assert(r.done);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(r.status, -EEXIST);
	ck_assert_str_eq(r.data, "already running");

	/* A second reply finds nothing pending. */
	ck_assert_int_eq(pfs_noderq_reply(nrq(3), &agent_a, nodes[2].last.handle, 0, NULL, 0,
					  errmsg), -ENOENT);
	pfs_noderq_stats(nrq(1), &stats);
	ck_assert_uint_eq(stats.sent, 1);
	ck_assert_uint_eq(stats.answered, 1);
	ck_assert_uint_eq(stats.pending, 0);
	pfs_noderq_stats(nrq(3), &stats);
	ck_assert_uint_eq(stats.served, 1);
	ck_assert_uint_eq(stats.in_progress, 0);
}
END_TEST

START_TEST(test_pfs_noderq_request_by_id_and_local)
{
	struct result r = {0}, local = {0};

	ck_assert_int_eq(pfs_noderq_register(nrq(2), &agent_a, "svc", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "2", "svc", NULL, 0, 0, errmsg), 0);
	flush_group();
	ck_assert_int_eq(nodes[1].handed, 1);
	ck_assert_uint_eq(nodes[1].last.timeout_ms, PFS_NODE_DEFAULT_TIMEOUT_MS);
	ck_assert_int_eq(pfs_noderq_reply(nrq(2), &agent_a, nodes[1].last.handle, 0, "ok", 2,
					  errmsg), 0);
	flush_group();
	ck_assert(r.done);
	ck_assert_str_eq(r.data, "ok");

	/* A request to this node never goes through the group. */
	ck_assert_int_eq(pfs_noderq_request(nrq(2), &local, "node2", "svc", "x", 1, 1000, errmsg),
			 0);
	ck_assert_uint_eq(nqueued, 0);
	ck_assert_int_eq(nodes[1].handed, 2);
	ck_assert_uint_eq(nodes[1].last.origin, 2);
	ck_assert_int_eq(pfs_noderq_reply(nrq(2), &agent_a, nodes[1].last.handle, 0, "y", 1,
					  errmsg), 0);
	ck_assert(local.done);
	ck_assert_str_eq(local.data, "y");
	ck_assert_uint_eq(nqueued, 0);
}
END_TEST

START_TEST(test_pfs_noderq_request_errors)
{
	struct result r = {0}, local = {0};
	uint32_t two[] = {1, 3};

	/* Refused at once: unknown node, invalid service, payload, timeout. */
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node9", "svc", NULL, 0, 0, errmsg),
			 -ENXIO);
	ck_assert_ptr_nonnull(strstr(errmsg, "unknown node 'node9'"));
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "7", "svc", NULL, 0, 0, errmsg), -ENXIO);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node2", "a b", NULL, 0, 0, errmsg),
			 -EINVAL);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node2", "svc", "x",
					    PFS_MAX_NODE_PAYLOAD + 1, 0, errmsg), -E2BIG);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node2", "svc", NULL, 0,
					    PFS_NODE_MAX_TIMEOUT_MS + 1, errmsg), -EINVAL);

	/* A node that is listed but no member is unreachable. */
	ck_assert_int_eq(pfs_noderq_confchg(nrq(1), two, 2, NULL, 0), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node2", "svc", NULL, 0, 0, errmsg),
			 -EHOSTUNREACH);
	ck_assert_ptr_nonnull(strstr(errmsg, "not reachable"));
	ck_assert_uint_eq(nqueued, 0);
	ck_assert(!r.done);

	/* No agent on the target: -ENOENT from the target, by name. */
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node3", "svc", NULL, 0, 0, errmsg), 0);
	flush_group();
	ck_assert(r.done);
	ck_assert_int_eq(r.rc, -ENOENT);
	ck_assert_str_eq(r.errmsg, "no agent is registered for service 'svc' on node node3");

	/* On this node the result comes before the call returns. */
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &local, "node1", "svc", NULL, 0, 0, errmsg),
			 0);
	ck_assert(local.done);
	ck_assert_int_eq(local.rc, -ENOENT);
}
END_TEST

START_TEST(test_pfs_noderq_confchg_target_left)
{
	struct result r = {0}, other = {0};
	uint32_t members[] = {1, 2}, left[] = {3};

	ck_assert_int_eq(pfs_noderq_register(nrq(3), &agent_a, "svc", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_register(nrq(2), &agent_b, "svc", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node3", "svc", NULL, 0, 0, errmsg), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &other, "node2", "svc", NULL, 0, 0, errmsg), 0);
	flush_group();
	ck_assert_int_eq(nodes[2].handed, 1);

	/* node3 leaves before it replies: only its request fails, at once. */
	in_group[2] = false;
	ck_assert_int_eq(pfs_noderq_confchg(nrq(1), members, 2, left, 1), 0);
	ck_assert(r.done);
	ck_assert_int_eq(r.rc, -EINPROGRESS);
	ck_assert_ptr_nonnull(strstr(r.errmsg, "node3 left the group"));
	ck_assert(!other.done);

	/* The requester left: node2 drops the request, a late reply finds none. */
	ck_assert_int_eq(pfs_noderq_confchg(nrq(2), (uint32_t[]){2, 3}, 2, (uint32_t[]){1}, 1), 0);
	ck_assert_int_eq(pfs_noderq_reply(nrq(2), &agent_b, nodes[1].last.handle, 0, NULL, 0,
					  errmsg), -ENOENT);
}
END_TEST

START_TEST(test_pfs_noderq_forget_agent)
{
	struct result r = {0}, local = {0};

	ck_assert_int_eq(pfs_noderq_register(nrq(3), &agent_a, "svc", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node3", "svc", NULL, 0, 0, errmsg), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(3), &local, "node3", "svc", NULL, 0, 0, errmsg), 0);
	flush_group();
	ck_assert_int_eq(nodes[2].handed, 2);

	/* Another agent cannot reply to it. */
	ck_assert_int_eq(pfs_noderq_reply(nrq(3), &agent_b, nodes[2].last.handle, 0, NULL, 0,
					  errmsg), -EPERM);

	/* The agent goes away: both requesters get -ECONNRESET, and the
	 * service is free again. */
	pfs_noderq_forget(nrq(3), &agent_a);
	ck_assert(local.done);
	ck_assert_int_eq(local.rc, -ECONNRESET);
	flush_group();
	ck_assert(r.done);
	ck_assert_int_eq(r.rc, -ECONNRESET);
	ck_assert_ptr_nonnull(strstr(r.errmsg, "disconnected before it replied"));
	ck_assert_int_eq(pfs_noderq_register(nrq(3), &agent_b, "svc", errmsg), 0);
}
END_TEST

START_TEST(test_pfs_noderq_forget_client)
{
	struct result r = {0};

	ck_assert_int_eq(pfs_noderq_register(nrq(2), &agent_a, "svc", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node2", "svc", NULL, 0, 0, errmsg), 0);
	flush_group();
	pfs_noderq_forget(nrq(1), &r);
	ck_assert_int_eq(pfs_noderq_reply(nrq(2), &agent_a, nodes[1].last.handle, 0, "late", 4,
					  errmsg), 0);
	flush_group();
	ck_assert(!r.done);
}
END_TEST

START_TEST(test_pfs_noderq_deliver_busy_agent)
{
	struct result r = {0};

	ck_assert_int_eq(pfs_noderq_register(nrq(2), &agent_a, "svc", errmsg), 0);
	nodes[1].deliver_rc = -EAGAIN;
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node2", "svc", NULL, 0, 0, errmsg), 0);
	flush_group();
	ck_assert(r.done);
	ck_assert_int_eq(r.rc, -EBUSY);
	ck_assert_ptr_nonnull(strstr(r.errmsg, "is not reading its requests"));
}
END_TEST

START_TEST(test_pfs_noderq_deliver_malformed)
{
	struct pfs_noderq_stats stats;
	struct pfs_msg msg = {0};
	uint8_t junk[40] = {0}, *buf;
	size_t len;

	pfs_noderq_deliver(nrq(1), 2, junk, sizeof(junk));
	pfs_noderq_stats(nrq(1), &stats);
	ck_assert_uint_eq(stats.bad, 1);

	/* A writer that is not the sender is dropped too. */
	msg.type = PFS_MSG_NODE_REPLY;
	msg.writer = 3;
	msg.node = 1;
	ck_assert_int_eq(pfs_msg_encode(&msg, &buf, &len), 0);
	pfs_noderq_deliver(nrq(1), 2, buf, len);
	free(buf);
	pfs_noderq_stats(nrq(1), &stats);
	ck_assert_uint_eq(stats.bad, 2);
}
END_TEST

static void stop_loop(void *data)
{
	(void)data;
	qb_loop_stop(loop);
}

START_TEST(test_pfs_noderq_request_timeout)
{
	struct result r = {0};
	qb_loop_timer_handle stop;

	ck_assert_int_eq(pfs_noderq_register(nrq(2), &agent_a, "svc", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_request(nrq(1), &r, "node2", "svc", NULL, 0, 50, errmsg), 0);
	flush_group();
	ck_assert_int_eq(qb_loop_timer_add(loop, QB_LOOP_LOW, 300 * 1000000ull, NULL, stop_loop,
					   &stop), 0);
	qb_loop_run(loop);
	ck_assert(r.done);
	ck_assert_int_eq(r.rc, -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(r.errmsg, "did not reply within 50 ms"));

	/* The target forgot the request too. */
	ck_assert_int_eq(pfs_noderq_reply(nrq(2), &agent_a, nodes[1].last.handle, 0, NULL, 0,
					  errmsg), -ENOENT);
}
END_TEST

START_TEST(test_pfs_noderq_register_rules)
{
	char name[PFS_MAX_SERVICE + 2];

	ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_a, "svc", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_a, "svc", errmsg), 0);
	ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_b, "svc", errmsg), -EEXIST);
	ck_assert_str_eq(errmsg, "service 'svc' already has an agent on node node1");
	ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_b, "", errmsg), -EINVAL);
	ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_b, "a/b", errmsg), -EINVAL);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_b, name, errmsg), -EINVAL);
	name[PFS_MAX_SERVICE] = '\0';
	ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_b, name, errmsg), 0);
	for (unsigned i = 1; i < PFS_NODERQ_MAX_SERVICES; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_a, name, errmsg), 0);
	}
	ck_assert_int_eq(pfs_noderq_register(nrq(1), &agent_a, "one-more", errmsg), -ENOSPC);
}
END_TEST

START_TEST(test_pfs_noderq_nodes_view)
{
	struct pfs_node_info list[2];
	const struct pfs_node_view *v;
	uint32_t members[] = {1, 2, 4};
	size_t n;

	/* This node keeps its own name; a member missing from the list is
	 * shown by its id. */
	memset(list, 0, sizeof(list));
	list[0].id = 1;
	snprintf(list[0].name, sizeof(list[0].name), "other-name");
	list[1].id = 3;
	snprintf(list[1].name, sizeof(list[1].name), "node3");
	snprintf(list[1].addr, sizeof(list[1].addr), "192.0.2.13");
	ck_assert_int_eq(pfs_noderq_set_nodes(nrq(1), list, 2), 0);
	ck_assert_int_eq(pfs_noderq_confchg(nrq(1), members, 3, NULL, 0), 0);
	v = pfs_noderq_nodes(nrq(1), &n);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(v[0].info.id, 1);
	ck_assert_str_eq(v[0].info.name, "node1");
	ck_assert(v[0].online);
	ck_assert_str_eq(v[1].info.name, "2");
	ck_assert(v[1].online);
	ck_assert_str_eq(v[2].info.name, "node3");
	ck_assert_str_eq(v[2].info.addr, "192.0.2.13");
	ck_assert(!v[2].online);
	ck_assert_str_eq(v[3].info.name, "4");
	ck_assert_int_gt(nodes[0].nodes_changed, 0);
}
END_TEST

/* End to end through libpmxfs -------------------------------------------------- */

static char dir[64];
static char service[64];
static struct pfs_store *store;
static struct pfs_mirror *mirror;
static struct pfs_server *server;
static pthread_t loop_thread;
static atomic_bool stopping;
static qb_loop_timer_handle stop_timer;
static struct pfs_conn *requester, *agent;

static void check_stop(void *data)
{
	(void)data;
	if (atomic_load(&stopping))
		qb_loop_stop(loop);
	else
		qb_loop_timer_add(loop, QB_LOOP_LOW, 20 * 1000000ull, NULL, check_stop, &stop_timer);
}

static void *run_loop(void *arg)
{
	(void)arg;
	qb_loop_run(loop);
	return NULL;
}

static void daemon_setup(void)
{
	struct pfs_server_config config = {0};
	struct pfs_transport transport;
	char path[128], errbuf[PFS_ERRMSG_SIZE];

	snprintf(dir, sizeof(dir), "/tmp/check_noderq.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(service, sizeof(service), "pmxfs-noderq-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/config.db", dir);
	ck_assert_int_eq(pfs_store_open(path, 1, &store, errbuf), 0);
	loop = qb_loop_create();
	ck_assert_ptr_nonnull(loop);
	ck_assert_int_eq(pfs_loopback_new(loop, store, &transport), 0);
	pfs_store_set_transport(store, transport);
	snprintf(path, sizeof(path), "%s/mirror", dir);
	ck_assert_int_eq(pfs_mirror_open(path, NULL, "node1", 0, &mirror, errbuf), 0);
	config.service = service;
	config.node_name = "node1";
	ck_assert_int_eq(pfs_server_start(loop, store, mirror, &config, &server, errbuf), 0);
	ck_assert_int_eq(pfs_server_bootstrap(server), 0);
	atomic_store(&stopping, false);
	check_stop(NULL);
	ck_assert_int_eq(pthread_create(&loop_thread, NULL, run_loop, NULL), 0);
	ck_assert_int_eq(pfs_connect(service, &requester), 0);
	ck_assert_int_eq(pfs_connect(service, &agent), 0);
}

static void daemon_teardown(void)
{
	char cmd[160];

	pfs_disconnect(requester);
	pfs_disconnect(agent);
	atomic_store(&stopping, true);
	pthread_join(loop_thread, NULL);
	qb_loop_timer_del(loop, stop_timer);
	pfs_server_stop(server);
	pfs_mirror_close(mirror);
	pfs_store_free(store);
	qb_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The agent's side in a thread: reply to requests until one says "stop",
 * replying "<service>:<origin name>:<payload>" with status -<payload
 * length>, or disconnect on "hang up". */
static void *agent_main(void *arg)
{
	struct pfs_node_request req;
	char reply[512];
	int rv;

	(void)arg;
	for (;;) {
		rv = pfs_next_node_request(agent, &req, 5000);
		if (rv < 0)
			return (void *)(intptr_t)rv;
		if (!strcmp(req.data, "stop")) {
			pfs_node_reply(agent, req.handle, 0, NULL, 0);
			pfs_node_request_clear(&req);
			return NULL;
		}
		if (!strcmp(req.data, "hang up")) {
			pfs_node_request_clear(&req);
			pfs_disconnect(agent);
			agent = NULL;
			return NULL;
		}
		snprintf(reply, sizeof(reply), "%s:%s:%s", req.service, req.origin_name, req.data);
		rv = pfs_node_reply(agent, req.handle, -(int)req.len, reply, strlen(reply));
		pfs_node_request_clear(&req);
		if (rv < 0)
			return (void *)(intptr_t)rv;
	}
}

START_TEST(test_pfs_node_request_local_agent)
{
	pthread_t thread;
	char *reply = NULL;
	size_t len = 0;
	int status = 1;
	void *agent_rv;

	ck_assert_int_eq(pfs_agent_register(agent, "echo"), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, agent_main, NULL), 0);

	ck_assert_int_eq(pfs_node_request(requester, "node1", "echo", "hello", 5, 5000, &status,
					  &reply, &len), 0);
	ck_assert_int_eq(status, -5);
	ck_assert_str_eq(reply, "echo:node1:hello");
	ck_assert_uint_eq(len, 16);
	free(reply);

	/* By node id, with an empty payload and no reply buffer. */
	ck_assert_int_eq(pfs_node_request(requester, "1", "echo", NULL, 0, 0, &status, NULL, NULL),
			 0);
	ck_assert_int_eq(status, 0);

	ck_assert_int_eq(pfs_node_request(requester, "node1", "echo", "stop", 4, 5000, &status,
					  NULL, NULL), 0);
	pthread_join(thread, &agent_rv);
	ck_assert_ptr_null(agent_rv);
}
END_TEST

START_TEST(test_pfs_node_request_errors)
{
	pthread_t thread;
	char *reply = NULL, big[70000];
	int status = 0;

	ck_assert_int_eq(pfs_node_request(requester, "node1", "echo", "x", 1, 5000, &status,
					  &reply, NULL), -ENOENT);
	ck_assert_str_eq(pfs_last_error(requester),
			 "no agent is registered for service 'echo' on node node1");
	ck_assert_int_eq(pfs_node_request(requester, "node2", "echo", "x", 1, 5000, &status,
					  &reply, NULL), -ENXIO);
	ck_assert_int_eq(pfs_node_request(requester, "node1", "no such", "x", 1, 5000, &status,
					  &reply, NULL), -EINVAL);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(pfs_node_request(requester, "node1", "echo", big, sizeof(big), 5000,
					  &status, &reply, NULL), -E2BIG);
	ck_assert_int_eq(pfs_agent_register(agent, "bad name"), -EINVAL);

	/* A second agent for one service is refused. */
	ck_assert_int_eq(pfs_agent_register(agent, "echo"), 0);
	ck_assert_int_eq(pfs_agent_register(requester, "echo"), -EEXIST);

	/* A reply to nothing pending. */
	ck_assert_int_eq(pfs_node_reply(agent, 12345, 0, "x", 1), -ENOENT);

	/* The agent hangs up mid-request: -ECONNRESET. */
	ck_assert_int_eq(pthread_create(&thread, NULL, agent_main, NULL), 0);
	ck_assert_int_eq(pfs_node_request(requester, "node1", "echo", "hang up", 7, 5000, &status,
					  &reply, NULL), -ECONNRESET);
	ck_assert_ptr_nonnull(strstr(pfs_last_error(requester), "disconnected before it replied"));
	pthread_join(thread, NULL);
	ck_assert_ptr_null(reply);
}
END_TEST

START_TEST(test_pfs_node_request_timeout)
{
	struct pfs_node_request req;
	char *reply = NULL;
	int status = 0;

	/* The agent reads no requests, so the requester times out. */
	ck_assert_int_eq(pfs_agent_register(agent, "slow"), 0);
	ck_assert_int_eq(pfs_node_request(requester, "node1", "slow", "x", 1, 200, &status, &reply,
					  NULL), -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(pfs_last_error(requester), "did not reply within 200 ms"));
	ck_assert_int_eq(pfs_next_node_request(agent, &req, 1000), 0);
	ck_assert_str_eq(req.data, "x");

	/* The daemon dropped it at the same deadline, a moment later. */
	usleep(300 * 1000);
	ck_assert_int_eq(pfs_node_reply(agent, req.handle, 0, NULL, 0), -ENOENT);
	pfs_node_request_clear(&req);
}
END_TEST

/* A connection that watches reads requests among its events. */
static void *watching_agent(void *arg)
{
	struct pfs_node_request req;
	struct pfs_event ev;

	(void)arg;
	do {
		if (pfs_next_event(agent, &ev, 5000) < 0)
			return (void *)1;
	} while (ev.kind != PFS_EVENT_KIND_NODE_REQUEST);
	if (strcmp(ev.op, "request") || strcmp(ev.path, "w") || strcmp(ev.path2, "node1"))
		return (void *)2;
	if (pfs_node_request_take(agent, &req) < 0 || req.handle != ev.version)
		return (void *)3;
	if (pfs_node_request_take(agent, &req) != -ENOENT)
		return (void *)4;
	pfs_node_reply(agent, req.handle, 0, "seen", 4);
	pfs_node_request_clear(&req);
	return NULL;
}

START_TEST(test_pfs_node_request_take_event)
{
	pthread_t thread;
	char *reply = NULL;
	int status = 1;
	void *rv;

	ck_assert_int_eq(pfs_watch(agent, "/"), 0);
	ck_assert_int_eq(pfs_agent_register(agent, "w"), 0);
	ck_assert_int_eq(pfs_mkdir(requester, "/d", NULL), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, watching_agent, NULL), 0);
	ck_assert_int_eq(pfs_node_request(requester, "node1", "w", NULL, 0, 5000, &status, &reply,
					  NULL), 0);
	ck_assert_str_eq(reply, "seen");
	free(reply);
	pthread_join(thread, &rv);
	ck_assert_ptr_null(rv);
}
END_TEST

START_TEST(test_pfs_node_request_members_file)
{
	char *json = NULL;

	ck_assert_int_eq(pfs_get(requester, "/.members", &json, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"node1\": {"));
	ck_assert_ptr_nonnull(strstr(json, "\"online\": 1"));
	free(json);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("noderq");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("pfs_noderq");
	tcase_add_checked_fixture(tc, group_setup, group_teardown);
	tcase_add_test(tc, test_pfs_noderq_request_reply);
	tcase_add_test(tc, test_pfs_noderq_request_by_id_and_local);
	tcase_add_test(tc, test_pfs_noderq_request_errors);
	tcase_add_test(tc, test_pfs_noderq_confchg_target_left);
	tcase_add_test(tc, test_pfs_noderq_forget_agent);
	tcase_add_test(tc, test_pfs_noderq_forget_client);
	tcase_add_test(tc, test_pfs_noderq_deliver_busy_agent);
	tcase_add_test(tc, test_pfs_noderq_deliver_malformed);
	tcase_add_test(tc, test_pfs_noderq_request_timeout);
	tcase_add_test(tc, test_pfs_noderq_register_rules);
	tcase_add_test(tc, test_pfs_noderq_nodes_view);
	suite_add_tcase(s, tc);

	tc = tcase_create("pfs_node_request");
	tcase_add_checked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pfs_node_request_local_agent);
	tcase_add_test(tc, test_pfs_node_request_errors);
	tcase_add_test(tc, test_pfs_node_request_timeout);
	tcase_add_test(tc, test_pfs_node_request_take_event);
	tcase_add_test(tc, test_pfs_node_request_members_file);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
