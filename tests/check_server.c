/* Unit tests of the client API's pieces: request decoding, permissions and
 * watch events (with a fake event channel). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pmxfs/perm.h"
#include "pmxfs/proto.h"
#include "pmxfs/watch.h"

/* Build a request in buf; returns its length. */
static size_t build(uint8_t *buf, enum pfs_op op, const char *path, const char *path2,
		    const char *data)
{
	struct pfs_ipc_req req;
	size_t pl = path ? strlen(path) : 0, p2 = path2 ? strlen(path2) : 0;
	size_t dl = data ? strlen(data) : 0;

	memset(&req, 0, sizeof(req));
	req.hdr.id = (int32_t)op;
	req.hdr.size = (int32_t)(sizeof(req) + pl + p2 + dl);
	req.magic = PFS_IPC_MAGIC;
	req.path_len = (uint32_t)pl;
	req.path2_len = (uint32_t)p2;
	req.data_len = (uint32_t)dl;
	memcpy(buf, &req, sizeof(req));
	memcpy(buf + sizeof(req), path, pl);
	memcpy(buf + sizeof(req) + pl, path2, p2);
	memcpy(buf + sizeof(req) + pl + p2, data, dl);
	return sizeof(req) + pl + p2 + dl;
}

static uint8_t buf[2 * PFS_MAX_PATH + 1024];
static struct pfs_request req;

START_TEST(test_pfs_request_decode_valid)
{
	size_t len = build(buf, PFS_OP_WRITE, "/a", NULL, "data");

	ck_assert_int_eq(pfs_request_decode(buf, len, &req), 0);
	ck_assert_int_eq(req.op, PFS_OP_WRITE);
	ck_assert_str_eq(req.path, "/a");
	ck_assert_str_eq(req.path2, "");
	ck_assert_uint_eq(req.data_len, 4);
	ck_assert_mem_eq(req.data, "data", 4);

	len = build(buf, PFS_OP_RENAME, "/a", "/b", NULL);
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), 0);
	ck_assert_str_eq(req.path2, "/b");
	len = build(buf, PFS_OP_STATUS, NULL, NULL, NULL);
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), 0);
}
END_TEST

START_TEST(test_pfs_request_decode_invalid)
{
	struct pfs_ipc_req *h = (struct pfs_ipc_req *)buf;
	size_t len = build(buf, PFS_OP_GET, "/a", NULL, NULL), cut;
	char long_path[PFS_MAX_PATH + 2];

	for (cut = 0; cut < len; cut++)
		ck_assert_int_lt(pfs_request_decode(buf, cut, &req), 0);
	h->magic = 0;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	h->magic = PFS_IPC_MAGIC;
	h->hdr.id = 99;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EOPNOTSUPP);
	h->hdr.id = PFS_OP_GET;
	h->flags = 0x100;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);

	/* Missing or extra arguments. */
	len = build(buf, PFS_OP_GET, NULL, NULL, NULL);
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	len = build(buf, PFS_OP_RENAME, "/a", NULL, NULL);
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	len = build(buf, PFS_OP_GET, "/a", NULL, "data");
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);

	/* A NUL inside the path, and a path above the limit. */
	len = build(buf, PFS_OP_GET, "/ab", NULL, NULL);
	buf[sizeof(struct pfs_ipc_req) + 1] = '\0';
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	len = build(buf, PFS_OP_GET, long_path, NULL, NULL);
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -ENAMETOOLONG);

	/* A data length above the file limit. */
	len = build(buf, PFS_OP_WRITE, "/a", NULL, "x");
	h->data_len = PFS_MAX_FILE_SIZE + 1;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -E2BIG);
}
END_TEST

START_TEST(test_pfs_perm_classify_users)
{
	gid_t groups[] = {100, 33};

	ck_assert_int_eq(pfs_perm_classify(0, 0, NULL, 0, 33), PFS_ACCESS_WRITE);
	ck_assert_int_eq(pfs_perm_classify(1000, 33, NULL, 0, 33), PFS_ACCESS_READ);
	ck_assert_int_eq(pfs_perm_classify(1000, 1000, groups, 2, 33), PFS_ACCESS_READ);
	ck_assert_int_eq(pfs_perm_classify(1000, 1000, groups, 1, 33), PFS_ACCESS_NONE);
	ck_assert_int_ge(pfs_perm_proc_groups(getpid(), (gid_t[64]){0}, 64), 0);
}
END_TEST

START_TEST(test_pfs_perm_check_rules)
{
	ck_assert(pfs_perm_is_private("/priv"));
	ck_assert(pfs_perm_is_private("/priv/lock/x"));
	ck_assert(pfs_perm_is_private("/nodes/a/priv/key"));
	ck_assert(!pfs_perm_is_private("/private"));
	ck_assert(!pfs_perm_is_private("/a/privx/b"));

	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_WRITE, PFS_OP_WRITE, "/priv/x", NULL), 0);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_GET, "/storage.cfg", NULL), 0);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_GET, "/priv/x", NULL), -EACCES);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_LIST, "/nodes/a/priv", NULL),
			 -EACCES);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_WRITE, "/a", NULL), -EACCES);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_LOCK_ACQUIRE, "x", NULL), -EACCES);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_WATCH, "/", NULL), 0);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_WATCH, "/priv", NULL), -EACCES);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_NONE, PFS_OP_GET, "/a", NULL), -EACCES);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_NONE, PFS_OP_STATUS, NULL, NULL), -EACCES);
}
END_TEST

/* A fake event channel that can be full. */
static int sent, full;
static char last_op[32];

static int fake_send(void *ctx, const void *data, size_t len)
{
	struct pfs_ipc_event ev;

	if (full)
		return -EAGAIN;
	memcpy(&ev, data, sizeof(ev));
	ck_assert_uint_eq(len, sizeof(ev) + ev.op_len + ev.path_len + ev.path2_len);
	snprintf(last_op, sizeof(last_op), "%.*s", (int)ev.op_len, (const char *)data + sizeof(ev));
	sent++;
	return 0;
}

START_TEST(test_pfs_watch_notify_events)
{
	struct pfs_watchlist list = {0};

	sent = full = 0;
	ck_assert_int_eq(pfs_watch_notify(&list, PFS_EVENT_CHANGE, 1, "write", "/a", NULL,
					  fake_send, NULL), 0);
	ck_assert_int_eq(sent, 0);
	ck_assert_int_eq(pfs_watch_add(&list, "/nodes/"), 0);
	ck_assert_int_eq(pfs_watch_add(&list, "/nodes/"), -EEXIST);
	ck_assert_int_eq(pfs_watch_notify(&list, PFS_EVENT_CHANGE, 2, "write", "/a", NULL,
					  fake_send, NULL), 0);
	ck_assert_int_eq(sent, 0);
	ck_assert_int_eq(pfs_watch_notify(&list, PFS_EVENT_CHANGE, 3, "create", "/nodes/a/x", NULL,
					  fake_send, NULL), 0);
	ck_assert_int_eq(sent, 1);
	ck_assert_str_eq(last_op, "create");
	/* A rename into the prefix matches by its target. */
	ck_assert_int_eq(pfs_watch_notify(&list, PFS_EVENT_CHANGE, 4, "rename", "/tmp1",
					  "/nodes/a/y", fake_send, NULL), 0);
	ck_assert_int_eq(sent, 2);
	ck_assert_int_eq(pfs_watch_notify(&list, PFS_EVENT_RESYNC, 5, "resync", "/", NULL,
					  fake_send, NULL), 0);
	ck_assert_str_eq(last_op, "resync");
	ck_assert_int_eq(pfs_watch_remove(&list, "/nodes/"), 0);
	ck_assert_int_eq(pfs_watch_remove(&list, "/nodes/"), -ENOENT);
	pfs_watch_clear(&list);
}
END_TEST

START_TEST(test_pfs_watch_notify_overflow)
{
	struct pfs_watchlist list = {0};

	sent = 0;
	ck_assert_int_eq(pfs_watch_add(&list, "/"), 0);
	full = 1;
	ck_assert_int_eq(pfs_watch_notify(&list, PFS_EVENT_CHANGE, 1, "write", "/a", NULL,
					  fake_send, NULL), -EAGAIN);
	ck_assert(list.overflow);
	ck_assert_int_eq(pfs_watch_notify(&list, PFS_EVENT_CHANGE, 2, "write", "/a", NULL,
					  fake_send, NULL), -EAGAIN);
	/* Once there is room, the overflow event goes first. */
	full = 0;
	ck_assert_int_eq(pfs_watch_notify(&list, PFS_EVENT_CHANGE, 3, "write", "/a", NULL,
					  fake_send, NULL), 0);
	ck_assert_int_eq(sent, 2);
	ck_assert(!list.overflow);
	pfs_watch_clear(&list);
}
END_TEST

START_TEST(test_pfs_watch_matches_private)
{
	struct pfs_watchlist list = {0};

	ck_assert_int_eq(pfs_watch_add(&list, "/"), 0);
	ck_assert(pfs_watch_matches(&list, "/priv/lock/x", NULL));
	list.hide_private = true;
	ck_assert(!pfs_watch_matches(&list, "/priv/lock/x", NULL));
	ck_assert(!pfs_watch_matches(&list, "/a", "/nodes/n/priv/b"));
	ck_assert(pfs_watch_matches(&list, "/storage.cfg", NULL));
	pfs_watch_clear(&list);
}
END_TEST

START_TEST(test_pfs_watch_add_limit)
{
	struct pfs_watchlist list = {0};
	char prefix[32];

	for (int i = 0; i < PFS_WATCH_MAX; i++) {
		snprintf(prefix, sizeof(prefix), "/p%d", i);
		ck_assert_int_eq(pfs_watch_add(&list, prefix), 0);
	}
	ck_assert_int_eq(pfs_watch_add(&list, "/one-more"), -ENOSPC);
	pfs_watch_clear(&list);
}
END_TEST

START_TEST(test_pfs_request_decode_node_ops)
{
	struct pfs_ipc_req *h = (struct pfs_ipc_req *)buf;
	size_t len;

	len = build(buf, PFS_OP_AGENT_REGISTER, "ctmgr", NULL, NULL);
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), 0);
	ck_assert_str_eq(req.path, "ctmgr");
	len = build(buf, PFS_OP_NODE_REQUEST, "node2", "ctmgr", "start 100");
	h->timeout_ms = 5000;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), 0);
	ck_assert_str_eq(req.path, "node2");
	ck_assert_str_eq(req.path2, "ctmgr");
	ck_assert_uint_eq(req.timeout_ms, 5000);
	ck_assert_mem_eq(req.data, "start 100", 9);
	len = build(buf, PFS_OP_NODE_REPLY, NULL, NULL, "done");
	h->token = 12;
	h->arg = (uint32_t)-ENOENT;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), 0);
	ck_assert_uint_eq(req.token, 12);
	ck_assert_int_eq((int32_t)req.arg, -ENOENT);

	/* Missing arguments and arguments the op does not take. */
	len = build(buf, PFS_OP_NODE_REQUEST, "node2", NULL, "x");
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	len = build(buf, PFS_OP_AGENT_REGISTER, "svc", NULL, "x");
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	len = build(buf, PFS_OP_NODE_REPLY, "node2", NULL, NULL);
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);

	/* Unused fields must be zero. */
	len = build(buf, PFS_OP_AGENT_REGISTER, "svc", NULL, NULL);
	h->token = 1;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	h->token = 0;
	h->timeout_ms = 1;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	h->timeout_ms = 0;
	h->flags = PFS_COND_VERSION;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	h->flags = 0;
	h->reserved = 1;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);
	len = build(buf, PFS_OP_NODE_REQUEST, "node2", "svc", NULL);
	h->arg = 1;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -EBADMSG);

	/* The payload limit is 64 KiB, not the file limit. */
	len = build(buf, PFS_OP_NODE_REPLY, NULL, NULL, "x");
	h->data_len = PFS_MAX_NODE_PAYLOAD + 1;
	ck_assert_int_eq(pfs_request_decode(buf, len, &req), -E2BIG);
}
END_TEST

START_TEST(test_pfs_perm_check_node_ops)
{
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_WRITE, PFS_OP_NODE_REQUEST, "node2", "svc"), 0);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_NODE_REQUEST, "node2", "svc"),
			 -EACCES);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_AGENT_REGISTER, "svc", NULL),
			 -EACCES);
	ck_assert_int_eq(pfs_perm_check(PFS_ACCESS_READ, PFS_OP_NODE_REPLY, "", NULL), -EACCES);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("server");
	TCase *tc;
	SRunner *sr;
	int failed;

	tc = tcase_create("pfs_request_decode");
	tcase_add_test(tc, test_pfs_request_decode_valid);
	tcase_add_test(tc, test_pfs_request_decode_invalid);
	tcase_add_test(tc, test_pfs_request_decode_node_ops);
	suite_add_tcase(s, tc);
	tc = tcase_create("pfs_perm");
	tcase_add_test(tc, test_pfs_perm_classify_users);
	tcase_add_test(tc, test_pfs_perm_check_rules);
	tcase_add_test(tc, test_pfs_perm_check_node_ops);
	suite_add_tcase(s, tc);
	tc = tcase_create("pfs_watch");
	tcase_add_test(tc, test_pfs_watch_notify_events);
	tcase_add_test(tc, test_pfs_watch_notify_overflow);
	tcase_add_test(tc, test_pfs_watch_matches_private);
	tcase_add_test(tc, test_pfs_watch_add_limit);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
