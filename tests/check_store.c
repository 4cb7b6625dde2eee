/* Unit tests of pfs_store: the change path over the loopback transport,
 * group commit, lock notices and a failed commit. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/store.h"

static char dir[64];
static char path[128];
static struct pfs_store *store;
static struct pfs_transport transport;
static int answers, events, reloads, leases;
static struct pfs_apply_result last;

static void on_done(void *ctx, const struct pfs_apply_result *res)
{
	answers++;
	last = *res;
	if (ctx)
		*(int *)ctx = res->rc;
}

static void on_event(void *ctx, const struct pfs_tree_event *ev)
{
	events++;
}

static void on_lease(void *ctx, const struct pfs_lease *lease)
{
	leases++;
}

static void on_reload(void *ctx)
{
	reloads++;
}

static const struct pfs_store_hooks hooks = {on_event, on_lease, on_reload};

static void setup(void)
{
	char errmsg[PFS_ERRMSG_SIZE];

	snprintf(dir, sizeof(dir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.db", dir);
	ck_assert_int_eq(pfs_store_open(path, 1, &store, errmsg), 0);
	ck_assert_int_eq(pfs_loopback_new(NULL, store, &transport), 0);
	pfs_store_set_transport(store, transport);
	pfs_store_set_hooks(store, &hooks, NULL);
	answers = events = reloads = leases = 0;
}

static void teardown(void)
{
	char cmd[160];

	pfs_store_free(store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int submit(enum pfs_msg_type type, const char *p, const char *data, int *rc)
{
	struct pfs_msg m = {0};

	m.type = type;
	m.path = p;
	m.data = data;
	m.data_len = data ? (uint32_t)strlen(data) : 0;
	return pfs_store_submit(store, &m, on_done, rc, NULL);
}

START_TEST(test_pfs_store_submit_group_commit)
{
	struct pfs_store_stats stats;
	int rc1 = 1, rc2 = 1, rc3 = 1;
	const char *data;

	ck_assert_int_eq(submit(PFS_MSG_MKDIR, "/d", NULL, &rc1), 0);
	ck_assert_int_eq(submit(PFS_MSG_CREATE, "/d/f", "x", &rc2), 0);
	ck_assert_int_eq(submit(PFS_MSG_CREATE, "/d/f", "y", &rc3), 0);
	/* Nothing is applied before delivery. */
	ck_assert_int_eq(answers, 0);
	ck_assert_uint_eq(pfs_tree_version(pfs_store_tree(store)), 0);

	ck_assert_int_eq(pfs_loopback_flush(&transport), 0);
	ck_assert_int_eq(answers, 3);
	ck_assert_int_eq(rc1, 0);
	ck_assert_int_eq(rc2, 0);
	ck_assert_int_eq(rc3, -EEXIST);
	ck_assert_int_eq(events, 2);
	pfs_store_stats(store, &stats);
	ck_assert_uint_eq(stats.rounds, 1);
	ck_assert_uint_eq(stats.messages, 3);
	ck_assert_int_eq(pfs_tree_read(pfs_store_tree(store), "/d/f", &data, NULL), 0);
	ck_assert_str_eq(data, "x");
}
END_TEST

START_TEST(test_pfs_store_deliver_bad_message)
{
	const uint8_t junk[] = "not a message at all, but long enough for a header";
	const uint8_t *bufs[] = {junk};
	size_t lens[] = {sizeof(junk)};
	struct pfs_store_stats stats;

	ck_assert_int_eq(pfs_store_deliver(store, bufs, lens, 1), 0);
	pfs_store_stats(store, &stats);
	ck_assert_uint_eq(stats.bad_messages, 1);
}
END_TEST

static int fail_once(void *ctx)
{
	int *left = ctx;

	return (*left)-- > 0;
}

START_TEST(test_pfs_store_deliver_failed_commit)
{
	int rc1 = 1, rc2 = 1, left = 1;
	struct pfs_stat st;

	ck_assert_int_eq(submit(PFS_MSG_CREATE, "/kept", "1", &rc1), 0);
	ck_assert_int_eq(pfs_loopback_flush(&transport), 0);
	ck_assert_int_eq(rc1, 0);

	pfs_db_set_commit_hook(pfs_store_db(store), fail_once, &left);
	ck_assert_int_eq(submit(PFS_MSG_CREATE, "/lost", "2", &rc2), 0);
	ck_assert_int_eq(pfs_loopback_flush(&transport), 0);
	ck_assert_int_eq(rc2, -EIO);
	ck_assert_str_ne(last.errmsg, "");
	ck_assert_int_eq(reloads, 1);
	/* The tree is the database's again: the failed round is gone. */
	ck_assert_int_eq(pfs_tree_stat(pfs_store_tree(store), "/lost", &st), -ENOENT);
	ck_assert_int_eq(pfs_tree_stat(pfs_store_tree(store), "/kept", &st), 0);
	ck_assert_uint_eq(pfs_tree_version(pfs_store_tree(store)), 1);

	/* The next round works. */
	ck_assert_int_eq(submit(PFS_MSG_CREATE, "/lost", "2", &rc2), 0);
	ck_assert_int_eq(pfs_loopback_flush(&transport), 0);
	ck_assert_int_eq(rc2, 0);
}
END_TEST

START_TEST(test_pfs_store_submit_lock_queue)
{
	struct pfs_msg m = {0};
	uint64_t token;
	int rc = 1, rc2 = 1;

	m.type = PFS_MSG_LOCK_ACQUIRE;
	m.path = "vm-100";
	m.lease_ms = 5000;
	m.waiter_id = 1;
	ck_assert_int_eq(pfs_store_submit(store, &m, on_done, &rc, NULL), 0);
	ck_assert_int_eq(pfs_loopback_flush(&transport), 0);
	ck_assert_int_eq(rc, 0);
	token = last.token;
	ck_assert_int_eq(leases, 1);

	/* A second acquire waits: no answer until the release. */
	ck_assert_int_eq(pfs_store_submit(store, &m, on_done, &rc2, NULL), 0);
	ck_assert_int_eq(pfs_loopback_flush(&transport), 0);
	ck_assert_int_eq(answers, 1);

	memset(&m, 0, sizeof(m));
	m.type = PFS_MSG_LOCK_RELEASE;
	m.path = "vm-100";
	m.token = token;
	ck_assert_int_eq(pfs_store_submit(store, &m, on_done, &rc, NULL), 0);
	ck_assert_int_eq(pfs_loopback_flush(&transport), 0);
	ck_assert_int_eq(answers, 3);
	ck_assert_int_eq(rc2, 0);
	ck_assert_uint_gt(last.token, token);
}
END_TEST

START_TEST(test_pfs_store_forget_client)
{
	int rc = 1;

	ck_assert_int_eq(submit(PFS_MSG_CREATE, "/a", "1", &rc), 0);
	pfs_store_forget(store, &rc);
	ck_assert_int_eq(pfs_loopback_flush(&transport), 0);
	ck_assert_int_eq(answers, 0);
	ck_assert_int_eq(rc, 1);
}
END_TEST

/* A fake agreed-order transport for two nodes: every message goes into
 * one shared queue, and a flush delivers the queue to both stores in the
 * same order, as CPG does. */
struct fake_bus {
	struct pfs_store *stores[2];
	uint8_t *bufs[64];
	size_t lens[64];
	size_t count;
};

static int bus_send(void *impl, const uint8_t *buf, size_t len)
{
	struct fake_bus *bus = impl;
	uint8_t *copy = malloc(len);

	if (!copy || bus->count == 64) {
		free(copy);
		return -ENOMEM;
	}
	memcpy(copy, buf, len);
	bus->bufs[bus->count] = copy;
	bus->lens[bus->count++] = len;
	return 0;
}

static const struct pfs_transport_ops bus_ops = {.send = bus_send, .free = NULL};

static void bus_flush(struct fake_bus *bus)
{
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pfs_store_deliver(bus->stores[i], (const uint8_t *const *)bus->bufs,
						   bus->lens, bus->count), 0);
	for (size_t i = 0; i < bus->count; i++)
		free(bus->bufs[i]);
	bus->count = 0;
}

START_TEST(test_pfs_store_deliver_two_nodes)
{
	struct fake_bus bus = {0};
	struct pfs_transport transport2 = {&bus_ops, &bus}, transport1 = {&bus_ops, &bus};
	struct pfs_store *other;
	char errmsg[PFS_ERRMSG_SIZE], path2[160], d1[65], d2[65];
	struct pfs_msg m = {0};
	int rc1 = 1, rc2 = 1;

	/* Replace the fixture's loopback with the bus, and add node 2. */
	snprintf(path2, sizeof(path2), "%s/node2.db", dir);
	ck_assert_int_eq(pfs_store_open(path2, 2, &other, errmsg), 0);
	transport.ops->free(transport.impl);
	pfs_store_set_transport(store, transport1);
	pfs_store_set_transport(other, transport2);
	bus.stores[0] = store;
	bus.stores[1] = other;

	/* Both nodes create the same CTID at once: the first in order wins. */
	m.type = PFS_MSG_MKDIR;
	m.path = "/nodes";
	ck_assert_int_eq(pfs_store_submit(store, &m, NULL, NULL, NULL), 0);
	m.path = "/nodes/n1";
	ck_assert_int_eq(pfs_store_submit(store, &m, NULL, NULL, NULL), 0);
	m.path = "/nodes/n1/lxc";
	ck_assert_int_eq(pfs_store_submit(store, &m, NULL, NULL, NULL), 0);
	m.path = "/nodes/n2";
	ck_assert_int_eq(pfs_store_submit(other, &m, NULL, NULL, NULL), 0);
	m.path = "/nodes/n2/lxc";
	ck_assert_int_eq(pfs_store_submit(other, &m, NULL, NULL, NULL), 0);
	bus_flush(&bus);

	memset(&m, 0, sizeof(m));
	m.type = PFS_MSG_CREATE;
	m.path = "/nodes/n2/lxc/100.conf";
	m.data = "x";
	m.data_len = 1;
	ck_assert_int_eq(pfs_store_submit(other, &m, on_done, &rc2, NULL), 0);
	m.path = "/nodes/n1/lxc/100.conf";
	ck_assert_int_eq(pfs_store_submit(store, &m, on_done, &rc1, NULL), 0);
	bus_flush(&bus);
	ck_assert_int_eq(rc2, 0);
	ck_assert_int_eq(rc1, -EEXIST);

	/* Both trees are identical, inodes included. */
	ck_assert_uint_eq(pfs_tree_version(pfs_store_tree(store)), 6);
	pfs_tree_digest(pfs_store_tree(store), d1);
	pfs_tree_digest(pfs_store_tree(other), d2);
	ck_assert_str_eq(d1, d2);

	pfs_store_set_transport(store, (struct pfs_transport){NULL, NULL});
	pfs_store_set_transport(other, (struct pfs_transport){NULL, NULL});
	pfs_store_free(other);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("pfs_store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pfs_store_submit_group_commit);
	tcase_add_test(tc, test_pfs_store_deliver_bad_message);
	tcase_add_test(tc, test_pfs_store_deliver_failed_commit);
	tcase_add_test(tc, test_pfs_store_submit_lock_queue);
	tcase_add_test(tc, test_pfs_store_forget_client);
	tcase_add_test(tc, test_pfs_store_deliver_two_nodes);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
