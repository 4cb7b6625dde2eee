/* Unit tests of the client API end to end in one process: a pfs_server on
 * a libqb loop in a second thread, and libpmxfs calls from the test. */
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
#include "pmxfs/pmxfs.h"
#include "pmxfs/server.h"
#include "pmxfs/store.h"
#include "pmxfs/wire.h"

static char dir[64];
static char service[64];
static qb_loop_t *loop;
static struct pfs_store *store;
static struct pfs_mirror *mirror;
static struct pfs_server *server;
static pthread_t loop_thread;
static atomic_bool stopping;
static qb_loop_timer_handle stop_timer;
static struct pfs_conn *conn;

/* The loop thread stops itself: qb_loop_stop() is not for other threads. */
static void check_stop(void *data)
{
	if (atomic_load(&stopping))
		qb_loop_stop(loop);
	else
		qb_loop_timer_add(loop, QB_LOOP_LOW, 20 * 1000000ull, NULL, check_stop, &stop_timer);
}

static void *run_loop(void *arg)
{
	qb_loop_run(loop);
	return NULL;
}

/*
 * The loopback transport, wrapped: while busy_left is above 0, a change is
 * not delivered but rejected with "busy, not applied", as the sync rejects
 * a change that every member dropped.
 */
static struct pfs_transport loopback;
static atomic_int busy_left, sends;
static uint64_t busy_request;
static qb_loop_timer_handle busy_timer;

static void answer_busy(void *data)
{
	(void)data;
	pfs_store_answer(store, busy_request, -EAGAIN,
			 "busy, not applied: the cluster configuration changed");
}

static int busy_send(void *impl, const uint8_t *buf, size_t len)
{
	struct pfs_msg msg;

	(void)impl;
	atomic_fetch_add(&sends, 1);
	if (atomic_load(&busy_left) <= 0)
		return loopback.ops->send(loopback.impl, buf, len);
	atomic_fetch_sub(&busy_left, 1);
	ck_assert_int_eq(pfs_msg_decode(buf, len, &msg), 0);
	busy_request = msg.request_id;
	pfs_msg_clear(&msg);
	/* The store adds the request to its pending ones after the send. */
	return qb_loop_timer_add(loop, QB_LOOP_LOW, 0, NULL, answer_busy, &busy_timer) ? -ENOMEM
										      : 0;
}

static void busy_free(void *impl)
{
	(void)impl;
	loopback.ops->free(loopback.impl);
}

static const struct pfs_transport_ops busy_ops = {.send = busy_send, .free = busy_free};

/* Open the store in dir and serve it from a loop in a second thread. */
static void start_daemon(void)
{
	struct pfs_server_config config = {0};
	struct pfs_transport transport;
	char path[128], errmsg[PFS_ERRMSG_SIZE];

	snprintf(path, sizeof(path), "%s/config.db", dir);
	ck_assert_int_eq(pfs_store_open(path, 1, &store, errmsg), 0);
	loop = qb_loop_create();
	ck_assert_ptr_nonnull(loop);
	ck_assert_int_eq(pfs_loopback_new(loop, store, &loopback), 0);
	atomic_store(&busy_left, 0);
	transport.ops = &busy_ops;
	transport.impl = NULL;
	pfs_store_set_transport(store, transport);
	snprintf(path, sizeof(path), "%s/mirror", dir);
	ck_assert_int_eq(pfs_mirror_open(path, NULL, "node1", 0, &mirror, errmsg), 0);

	config.service = service;
	config.node_name = "node1";
	config.reader_gid = 33;
	ck_assert_int_eq(pfs_server_start(loop, store, mirror, &config, &server, errmsg), 0);
	ck_assert_int_eq(pfs_server_bootstrap(server), 0);
	atomic_store(&stopping, false);
	check_stop(NULL);
	ck_assert_int_eq(pthread_create(&loop_thread, NULL, run_loop, NULL), 0);
	ck_assert_int_eq(pfs_connect(service, &conn), 0);
}

static void stop_daemon(void)
{
	pfs_disconnect(conn);
	atomic_store(&stopping, true);
	pthread_join(loop_thread, NULL);
	qb_loop_timer_del(loop, stop_timer);
	pfs_server_stop(server);
	pfs_mirror_close(mirror);
	pfs_store_free(store);
	qb_loop_destroy(loop);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_ipc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(service, sizeof(service), "pmxfs-check-%d", (int)getpid());
	start_daemon();
}

static void teardown(void)
{
	char cmd[160];

	stop_daemon();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_ipc_write_get_roundtrip)
{
	struct pfs_entry st, *list;
	uint64_t version = 0;
	size_t len, n;
	char *data;
	int links = 0;

	ck_assert_int_eq(pfs_write(conn, "/storage.cfg", "dir: local\n", 11, NULL, &version), 0);
	ck_assert_uint_gt(version, 0);
	ck_assert_int_eq(pfs_get(conn, "/storage.cfg", &data, &len, &st), 0);
	ck_assert_str_eq(data, "dir: local\n");
	ck_assert_uint_eq(len, 11);
	ck_assert_uint_eq(st.version, version);
	ck_assert_uint_eq(st.inode, version);
	ck_assert(!pfs_last_stale(conn)); /* a daemon that is not suspended */
	free(data);

	/* A write through the lxc link lands under this node. */
	ck_assert_int_eq(pfs_write(conn, "/lxc/100.conf", "arch: amd64\n", 12, NULL, NULL), 0);
	ck_assert_int_eq(pfs_stat(conn, "/nodes/node1/lxc/100.conf", &st), 0);
	ck_assert_uint_eq(st.type, PFS_ENTRY_FILE);
	ck_assert_int_eq(pfs_get(conn, "/.vmlist", &data, &len, NULL), 0);
	ck_assert_ptr_nonnull(strstr(data, "\"100\""));
	free(data);

	ck_assert_int_eq(pfs_list(conn, "/", &list, &n), 0);
	for (size_t i = 0; i < n; i++)
		links += list[i].type == PFS_ENTRY_LINK;
	ck_assert_int_eq(links, 3);
	pfs_list_free(list, n);
}
END_TEST

/* Pages of two names: byte order, the root's extras merged in, and the
 * last page without "more". */
START_TEST(test_ipc_list_page_cursor)
{
	static const char *const want[] = {"a10", "a2", "b", "c"};
	struct pfs_entry *list, *all;
	char after[64] = "";
	size_t n, nall, seen = 0;
	int more = 1, pages = 0;

	ck_assert_int_eq(pfs_mkdir(conn, "/d", NULL), 0);
	for (size_t i = 0; i < 4; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/d/%s", want[3 - i]);
		ck_assert_int_eq(pfs_write(conn, path, "x", 1, NULL, NULL), 0);
	}
	while (more) {
		ck_assert_int_eq(pfs_list_page(conn, "/d", after, 2, &list, &n, &more), 0);
		ck_assert_uint_le(n, 2);
		for (size_t i = 0; i < n; i++)
			ck_assert_str_eq(list[i].name, want[seen++]);
		if (n)
			snprintf(after, sizeof(after), "%s", list[n - 1].name);
		pfs_list_free(list, n);
		pages++;
	}
	ck_assert_uint_eq(seen, 4);
	ck_assert_int_eq(pages, 2);

	/* After the last name: an empty last page. */
	ck_assert_int_eq(pfs_list_page(conn, "/d", "c", 0, &list, &n, &more), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(more, 0);
	pfs_list_free(list, n);

	/* The root in pages of one equals the whole listing, sorted. */
	ck_assert_int_eq(pfs_list(conn, "/", &all, &nall), 0);
	after[0] = '\0';
	seen = 0;
	more = 1;
	while (more) {
		ck_assert_int_eq(pfs_list_page(conn, "/", after, 1, &list, &n, &more), 0);
		ck_assert_uint_eq(n, 1);
		ck_assert_uint_lt(seen, nall);
		ck_assert_str_eq(list[0].name, all[seen].name);
		ck_assert(seen == 0 || strcmp(all[seen - 1].name, all[seen].name) < 0);
		seen++;
		snprintf(after, sizeof(after), "%s", list[0].name);
		pfs_list_free(list, n);
	}
	ck_assert_uint_eq(seen, nall);
	ck_assert_uint_eq(nall, 6 + 3); /* virtual files, links, d, nodes, priv */
	pfs_list_free(all, nall);

	ck_assert_int_eq(pfs_list_page(conn, "/d/a2", NULL, 0, &list, &n, &more), -ENOTDIR);
	ck_assert_int_eq(pfs_list_page(conn, "/nope", NULL, 0, &list, &n, &more), -ENOENT);
}
END_TEST

/* Changes between pages: a name present throughout is listed once; one
 * created behind the cursor is not, one ahead of it is. */
START_TEST(test_ipc_list_page_changes)
{
	struct pfs_entry *list;
	size_t n;
	int more;

	ck_assert_int_eq(pfs_mkdir(conn, "/d", NULL), 0);
	ck_assert_int_eq(pfs_write(conn, "/d/b", "x", 1, NULL, NULL), 0);
	ck_assert_int_eq(pfs_write(conn, "/d/d", "x", 1, NULL, NULL), 0);
	ck_assert_int_eq(pfs_write(conn, "/d/f", "x", 1, NULL, NULL), 0);

	ck_assert_int_eq(pfs_list_page(conn, "/d", NULL, 1, &list, &n, &more), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0].name, "b");
	ck_assert_int_eq(more, 1);
	pfs_list_free(list, n);

	ck_assert_int_eq(pfs_write(conn, "/d/a", "x", 1, NULL, NULL), 0);
	ck_assert_int_eq(pfs_write(conn, "/d/c", "x", 1, NULL, NULL), 0);
	ck_assert_int_eq(pfs_delete(conn, "/d/b", NULL), 0);
	ck_assert_int_eq(pfs_delete(conn, "/d/f", NULL), 0);

	ck_assert_int_eq(pfs_list_page(conn, "/d", "b", 0, &list, &n, &more), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].name, "c");
	ck_assert_str_eq(list[1].name, "d");
	ck_assert_int_eq(more, 0);
	pfs_list_free(list, n);
}
END_TEST

/* More names than one response holds: pfs_list takes several pages. */
START_TEST(test_ipc_list_large)
{
	struct pfs_entry *list;
	char path[300], name[260];
	size_t n;
	int more;

	/* 4,000 names of 250 bytes: 1.18 MB of entries, where a response
	 * has room for 1.11 MB. */
	ck_assert_int_eq(pfs_mkdir(conn, "/big", NULL), 0);
	memset(name, 'n', 250);
	name[250] = '\0';
	for (int i = 0; i < 4000; i++) {
		snprintf(name, sizeof(name), "%05d", i);
		name[5] = 'n';
		snprintf(path, sizeof(path), "/big/%s", name);
		ck_assert_int_eq(pfs_create(conn, path, "", 0, NULL, NULL), 0);
	}
	ck_assert_int_eq(pfs_list(conn, "/big", &list, &n), 0);
	ck_assert_uint_eq(n, 4000);
	for (size_t i = 1; i < n; i++)
		ck_assert_int_lt(strcmp(list[i - 1].name, list[i].name), 0);
	ck_assert_uint_eq(strlen(list[3999].name), 250);
	ck_assert_int_eq(strncmp(list[3999].name, "03999", 5), 0);
	pfs_list_free(list, n);

	ck_assert_int_eq(pfs_list_page(conn, "/big", NULL, 0, &list, &n, &more), 0);
	ck_assert_uint_gt(n, 3000);
	ck_assert_uint_lt(n, 4000);
	ck_assert_int_eq(more, 1);
	pfs_list_free(list, n);
}
END_TEST

START_TEST(test_ipc_change_errors)
{
	struct pfs_cond cond = {0};
	struct pfs_entry st;
	size_t len;
	char *data;

	ck_assert_int_eq(pfs_get(conn, "/missing", &data, &len, NULL), -ENOENT);
	ck_assert_str_ne(pfs_last_error(conn), "");
	ck_assert_int_eq(pfs_stat(conn, "relative", &st), -EINVAL);
	ck_assert_int_eq(pfs_create(conn, "/a", "1", 1, NULL, NULL), 0);
	ck_assert_int_eq(pfs_create(conn, "/a", "1", 1, NULL, NULL), -EEXIST);
	cond.has_version = 1;
	cond.version = 12345;
	ck_assert_int_eq(pfs_write(conn, "/a", "2", 1, &cond, NULL), -ESTALE);
	ck_assert_ptr_nonnull(strstr(pfs_last_error(conn), "expected 12345"));
	ck_assert_int_eq(pfs_rmdir(conn, "/a", NULL), -ENOTDIR);
	ck_assert_int_eq(pfs_mkdir(conn, "/d", NULL), 0);
	ck_assert_int_eq(pfs_rename(conn, "/a", "/d/a", NULL), 0);
	ck_assert_int_eq(pfs_rmdir(conn, "/d", NULL), -ENOTEMPTY);
	ck_assert_int_eq(pfs_delete(conn, "/d/a", NULL), 0);
	ck_assert_int_eq(pfs_rmdir(conn, "/d", NULL), 0);
	/* The library checks the size before it reads the data. */
	ck_assert_int_eq(pfs_write(conn, "/big", "x", PFS_MAX_FILE_SIZE + 1, NULL, NULL),
			 -EFBIG);
}
END_TEST

START_TEST(test_ipc_change_busy_retried)
{
	size_t len;
	char *data;

	atomic_store(&sends, 0);
	atomic_store(&busy_left, 2);
	ck_assert_int_eq(pfs_write(conn, "/retried", "v", 1, NULL, NULL), 0);
	ck_assert_int_eq(atomic_load(&sends), 3);
	ck_assert_int_eq(pfs_get(conn, "/retried", &data, &len, NULL), 0);
	ck_assert_mem_eq(data, "v", 1);
	free(data);
}
END_TEST

START_TEST(test_ipc_change_busy_gives_up)
{
	size_t len;
	char *data;

	pfs_set_timeout(conn, 300);
	atomic_store(&sends, 0);
	atomic_store(&busy_left, 1000);
	ck_assert_int_eq(pfs_write(conn, "/dropped", "v", 1, NULL, NULL), -EAGAIN);
	ck_assert_str_eq(pfs_last_error(conn),
			 "busy, not applied: the cluster configuration changed");
	/* Pauses of 20, 40, 80 and 160 ms fit into 300 ms. */
	ck_assert_int_ge(atomic_load(&sends), 3);
	ck_assert_int_le(atomic_load(&sends), 5);
	atomic_store(&busy_left, 0);
	ck_assert_int_eq(pfs_get(conn, "/dropped", &data, &len, NULL), -ENOENT);
}
END_TEST

START_TEST(test_ipc_lock_busy_timeout)
{
	uint64_t token = 0, other = 0;

	ck_assert_int_eq(pfs_lock_acquire(conn, "storage-x", 60000, 0, &token), 0);
	ck_assert_uint_gt(token, 0);
	ck_assert_int_eq(pfs_lock_acquire(conn, "storage-x", 60000, 0, &other), -EBUSY);
	ck_assert_int_eq(pfs_lock_acquire(conn, "storage-x", 60000, 200, &other), -ETIMEDOUT);
	ck_assert_int_eq(pfs_lock_renew(conn, "storage-x", token), 0);
	ck_assert_int_eq(pfs_lock_renew(conn, "storage-x", token + 1), -ENOLCK);
	ck_assert_int_eq(pfs_lock_acquire(conn, "storage-x", 10, 0, &other), -EINVAL);
	ck_assert_int_eq(pfs_lock_release(conn, "storage-x", token), 0);
	ck_assert_int_eq(pfs_lock_release(conn, "storage-x", token), -ENOLCK);
}
END_TEST

struct waiter {
	uint64_t token;
	int rv;
};

static void *acquire_waiting(void *arg)
{
	struct waiter *w = arg;
	struct pfs_conn *c;

	w->rv = pfs_connect(service, &c);
	if (w->rv == 0) {
		w->rv = pfs_lock_acquire(c, "storage-x", 60000, 5000, &w->token);
		pfs_disconnect(c);
	}
	return NULL;
}

START_TEST(test_ipc_lock_handoff)
{
	struct pfs_cond cond = {0};
	struct waiter w = {0};
	pthread_t thread;
	uint64_t token = 0;

	ck_assert_int_eq(pfs_lock_acquire(conn, "storage-x", 60000, 0, &token), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, acquire_waiting, &w), 0);
	usleep(200 * 1000);
	ck_assert_int_eq(pfs_lock_release(conn, "storage-x", token), 0);
	pthread_join(thread, NULL);
	ck_assert_int_eq(w.rv, 0);
	ck_assert_uint_gt(w.token, token);

	/* The old token no longer fences writes; the new one does. */
	cond.has_token = 1;
	cond.token = token;
	ck_assert_int_eq(pfs_write(conn, "/fenced", "x", 1, &cond, NULL), -ENOLCK);
	cond.token = w.token;
	ck_assert_int_eq(pfs_write(conn, "/fenced", "x", 1, &cond, NULL), 0);
}
END_TEST

START_TEST(test_ipc_lock_lease_expiry)
{
	uint64_t token = 0, next = 0;

	/* The timekeeper (this node) expires the lease after 1 s. */
	ck_assert_int_eq(pfs_lock_acquire(conn, "ha-lock", 1000, 0, &token), 0);
	ck_assert_int_eq(pfs_lock_acquire(conn, "ha-lock", 1000, 3000, &next), 0);
	ck_assert_uint_gt(next, token);
	ck_assert_int_eq(pfs_lock_renew(conn, "ha-lock", token), -ENOLCK);
}
END_TEST

START_TEST(test_ipc_lock_lease_restart)
{
	uint64_t token = 0, next = 0;

	/* A lock held across a restart still expires: its lease restarts. */
	ck_assert_int_eq(pfs_lock_acquire(conn, "ha-lock", 1000, 0, &token), 0);
	stop_daemon();
	start_daemon();
	ck_assert_int_eq(pfs_lock_acquire(conn, "ha-lock", 1000, 0, &next), -EBUSY);
	ck_assert_int_eq(pfs_lock_acquire(conn, "ha-lock", 1000, 3000, &next), 0);
	ck_assert_uint_gt(next, token);
}
END_TEST

START_TEST(test_ipc_watch_events)
{
	struct pfs_conn *watcher;
	struct pfs_event ev;

	ck_assert_int_eq(pfs_connect(service, &watcher), 0);
	ck_assert_int_eq(pfs_watch(watcher, "/w/"), 0);
	ck_assert_int_eq(pfs_mkdir(conn, "/w", NULL), 0);
	ck_assert_int_eq(pfs_write(conn, "/w/a", "1", 1, NULL, NULL), 0);
	ck_assert_int_eq(pfs_rename(conn, "/w/a", "/w/b", NULL), 0);
	ck_assert_int_eq(pfs_write(conn, "/other", "1", 1, NULL, NULL), 0);
	ck_assert_int_eq(pfs_delete(conn, "/w/b", NULL), 0);

	ck_assert_int_eq(pfs_next_event(watcher, &ev, 2000), 0);
	ck_assert_str_eq(ev.op, "create");
	ck_assert_str_eq(ev.path, "/w/a");
	ck_assert_int_eq(pfs_next_event(watcher, &ev, 2000), 0);
	ck_assert_str_eq(ev.op, "rename");
	ck_assert_str_eq(ev.path2, "/w/b");
	ck_assert_int_eq(pfs_next_event(watcher, &ev, 2000), 0);
	ck_assert_str_eq(ev.op, "delete");
	ck_assert_int_eq(pfs_next_event(watcher, &ev, 100), -ETIMEDOUT);
	ck_assert_int_eq(pfs_unwatch(watcher, "/w/"), 0);
	ck_assert_int_eq(pfs_unwatch(watcher, "/w/"), -ENOENT);
	pfs_disconnect(watcher);
}
END_TEST

START_TEST(test_ipc_status_area)
{
	size_t len;
	char *value;

	ck_assert_int_eq(pfs_kv_set(conn, "ip", "10.0.0.1", 8), 0);
	ck_assert_int_eq(pfs_kv_get(conn, 0, "ip", &value, &len), 0);
	ck_assert_str_eq(value, "10.0.0.1");
	ck_assert_uint_eq(len, 8);
	free(value);
	ck_assert_int_eq(pfs_kv_get(conn, 0, "missing", &value, &len), -ENOENT);
}
END_TEST

START_TEST(test_ipc_status_digest)
{
	char *json, digest[65];

	ck_assert_int_eq(pfs_status(conn, &json), 0);
	ck_assert_ptr_nonnull(strstr(json, "\"node\":\"node1\""));
	ck_assert_ptr_nonnull(strstr(json, "\"quorate\":true"));
	ck_assert_ptr_nonnull(strstr(json, "\"members\":[\"node1\"]"));
	free(json);
	ck_assert_int_eq(pfs_digest(conn, digest), 0);
	ck_assert_uint_eq(strlen(digest), 64);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("pfs_server");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ipc_write_get_roundtrip);
	tcase_add_test(tc, test_ipc_list_page_cursor);
	tcase_add_test(tc, test_ipc_list_page_changes);
	tcase_add_test(tc, test_ipc_list_large);
	tcase_add_test(tc, test_ipc_change_errors);
	tcase_add_test(tc, test_ipc_change_busy_retried);
	tcase_add_test(tc, test_ipc_change_busy_gives_up);
	tcase_add_test(tc, test_ipc_lock_busy_timeout);
	tcase_add_test(tc, test_ipc_lock_handoff);
	tcase_add_test(tc, test_ipc_lock_lease_expiry);
	tcase_add_test(tc, test_ipc_lock_lease_restart);
	tcase_add_test(tc, test_ipc_watch_events);
	tcase_add_test(tc, test_ipc_status_area);
	tcase_add_test(tc, test_ipc_status_digest);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
