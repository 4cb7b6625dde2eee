/* Unit tests of pfs_wire: round trips, truncated and oversized input. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/wire.h"

static void roundtrip(const struct pfs_msg *in, struct pfs_msg *out)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(pfs_msg_encode(in, &buf, &len), 0);
	ck_assert_int_eq(pfs_msg_decode(buf, len, out), 0);
	free(buf);
}

START_TEST(test_pfs_msg_encode_write_roundtrip)
{
	struct pfs_msg in = {0}, out;
	char data[] = "arch: amd64\0binary";

	in.type = PFS_MSG_WRITE;
	in.writer = 7;
	in.mtime = 1700000000;
	in.request_id = 0x0102030405060708ull;
	in.flags = PFS_COND_VERSION | PFS_COND_TOKEN;
	in.expected_version = 42;
	in.token = 99;
	in.path = "/nodes/a/lxc/100.conf";
	in.data = data;
	in.data_len = sizeof(data);
	roundtrip(&in, &out);

	ck_assert_int_eq(out.type, PFS_MSG_WRITE);
	ck_assert_uint_eq(out.writer, 7);
	ck_assert_uint_eq(out.mtime, 1700000000);
	ck_assert_uint_eq(out.request_id, 0x0102030405060708ull);
	ck_assert_uint_eq(out.flags, PFS_COND_VERSION | PFS_COND_TOKEN);
	ck_assert_uint_eq(out.expected_version, 42);
	ck_assert_uint_eq(out.token, 99);
	ck_assert_str_eq(out.path, "/nodes/a/lxc/100.conf");
	ck_assert_ptr_null(out.path2);
	ck_assert_uint_eq(out.data_len, sizeof(data));
	ck_assert_mem_eq(out.data, data, sizeof(data));
	pfs_msg_clear(&out);
}
END_TEST

START_TEST(test_pfs_msg_encode_rename_roundtrip)
{
	struct pfs_msg in = {0}, out;

	in.type = PFS_MSG_RENAME;
	in.path = "/a";
	in.path2 = "/b/c";
	roundtrip(&in, &out);
	ck_assert_str_eq(out.path, "/a");
	ck_assert_str_eq(out.path2, "/b/c");
	ck_assert_uint_eq(out.data_len, 0);
	pfs_msg_clear(&out);
}
END_TEST

START_TEST(test_pfs_msg_encode_lock_roundtrip)
{
	struct pfs_msg in = {0}, out;

	in.type = PFS_MSG_LOCK_RELEASE;
	in.path = "storage-local";
	in.lease_ms = 120000;
	in.token = 5;
	in.waiter_id = 77;
	roundtrip(&in, &out);
	ck_assert_int_eq(out.type, PFS_MSG_LOCK_RELEASE);
	ck_assert_str_eq(out.path, "storage-local");
	ck_assert_uint_eq(out.lease_ms, 120000);
	ck_assert_uint_eq(out.token, 5);
	ck_assert_uint_eq(out.waiter_id, 77);
	pfs_msg_clear(&out);
}
END_TEST

START_TEST(test_pfs_msg_encode_acquire_roundtrip)
{
	struct pfs_msg in = {0}, out;
	uint8_t *buf = NULL;
	size_t len = 0;

	in.type = PFS_MSG_LOCK_ACQUIRE;
	in.path = "storage-local";
	in.lease_ms = 12000;
	in.waiter_id = 1;
	in.pid = 4711;
	in.node_name = "node2";
	roundtrip(&in, &out);
	ck_assert_str_eq(out.path, "storage-local");
	ck_assert_uint_eq(out.pid, 4711);
	ck_assert_str_eq(out.node_name, "node2");
	ck_assert_uint_eq(out.lease_ms, 12000);
	pfs_msg_clear(&out);

	/* The pid and the node name length sit between the fixed part and
	 * the lock name, the node name after the lock name. */
	ck_assert_int_eq(pfs_msg_encode(&in, &buf, &len), 0);
	ck_assert_uint_eq(len, PFS_WIRE_HEADER_SIZE + PFS_WIRE_LOCK_BODY_SIZE +
				       PFS_WIRE_ACQUIRE_EXTRA_SIZE + 13 + 5);
	ck_assert_uint_eq(pfs__get_u32(buf + PFS_WIRE_HEADER_SIZE + 24), 4711);
	ck_assert_uint_eq(pfs__get_u32(buf + PFS_WIRE_HEADER_SIZE + 28), 5);
	ck_assert_int_eq(memcmp(buf + len - 5, "node2", 5), 0);

	/* A node name length that does not add up, or above the limit. */
	pfs__put_u32(buf + PFS_WIRE_HEADER_SIZE + 28, 6);
	ck_assert_int_eq(pfs_msg_decode(buf, len, &out), -EBADMSG);
	pfs__put_u32(buf + PFS_WIRE_HEADER_SIZE + 28, PFS_MAX_NODE_NAME + 1);
	ck_assert_int_eq(pfs_msg_decode(buf, len, &out), -EBADMSG);
	free(buf);

	/* An unknown node name travels as length 0. */
	in.node_name = NULL;
	roundtrip(&in, &out);
	ck_assert_ptr_null(out.node_name);
	pfs_msg_clear(&out);

	/* Only ACQUIRE carries the extra fields. */
	in.type = PFS_MSG_LOCK_RENEW;
	in.node_name = "node2";
	ck_assert_int_eq(pfs_msg_encode(&in, &buf, &len), 0);
	ck_assert_uint_eq(len, PFS_WIRE_HEADER_SIZE + PFS_WIRE_LOCK_BODY_SIZE + 13);
	free(buf);
}
END_TEST

START_TEST(test_pfs_msg_encode_status_roundtrip)
{
	struct pfs_msg in = {0}, out;

	in.type = PFS_MSG_STATUS_SET;
	in.path = "ip";
	in.data = "10.0.0.1";
	in.data_len = 8;
	roundtrip(&in, &out);
	ck_assert_str_eq(out.path, "ip");
	ck_assert_str_eq(out.data, "10.0.0.1");
	pfs_msg_clear(&out);
}
END_TEST

START_TEST(test_pfs_msg_encode_invalid)
{
	struct pfs_msg in = {0};
	uint8_t *buf = NULL;
	size_t len;

	in.type = 0;
	in.path = "/a";
	ck_assert_int_eq(pfs_msg_encode(&in, &buf, &len), -EINVAL);
	in.type = PFS_MSG_RENAME; /* no target */
	ck_assert_int_eq(pfs_msg_encode(&in, &buf, &len), -EINVAL);
	in.type = PFS_MSG_WRITE;
	in.data_len = PFS_MAX_FILE_SIZE + 1;
	in.data = "x";
	ck_assert_int_eq(pfs_msg_encode(&in, &buf, &len), -EINVAL);
	in.data_len = 0;
	in.flags = 0x80;
	ck_assert_int_eq(pfs_msg_encode(&in, &buf, &len), -EINVAL);
	ck_assert_ptr_null(buf);
}
END_TEST

START_TEST(test_pfs_msg_decode_truncated)
{
	struct pfs_msg in = {0}, out;
	uint8_t *buf;
	size_t len, cut;

	in.type = PFS_MSG_CREATE;
	in.path = "/storage.cfg";
	in.data = "dir: local\n";
	in.data_len = 11;
	ck_assert_int_eq(pfs_msg_encode(&in, &buf, &len), 0);

	/* Every strict prefix is rejected, and so is a trailing byte. */
	for (cut = 0; cut < len; cut++)
		ck_assert_int_eq(pfs_msg_decode(buf, cut, &out), -EBADMSG);
	buf = realloc(buf, len + 1);
	ck_assert_ptr_nonnull(buf);
	buf[len] = 0;
	ck_assert_int_eq(pfs_msg_decode(buf, len + 1, &out), -EBADMSG);
	ck_assert_ptr_null(out.path);
	free(buf);
}
END_TEST

START_TEST(test_pfs_msg_decode_bad_header)
{
	struct pfs_msg in = {0}, out;
	uint8_t *buf;
	size_t len;

	in.type = PFS_MSG_MKDIR;
	in.path = "/ha";
	ck_assert_int_eq(pfs_msg_encode(&in, &buf, &len), 0);

	buf[0] ^= 0xff;
	ck_assert_int_eq(pfs_msg_decode(buf, len, &out), -EBADMSG);
	buf[0] ^= 0xff;
	pfs__put_u16(buf + 4, PFS_WIRE_VERSION + 1);
	ck_assert_int_eq(pfs_msg_decode(buf, len, &out), -EPROTO);
	pfs__put_u16(buf + 4, PFS_WIRE_VERSION);
	pfs__put_u16(buf + 6, PFS_MSG_TYPE_MAX + 1);
	ck_assert_int_eq(pfs_msg_decode(buf, len, &out), -EPROTO);
	pfs__put_u16(buf + 6, PFS_MSG_MKDIR);
	ck_assert_int_eq(pfs_msg_decode(buf, len, &out), 0);
	pfs_msg_clear(&out);

	/* A NUL inside the path is rejected. */
	buf[PFS_WIRE_HEADER_SIZE + PFS_WIRE_FS_BODY_SIZE + 1] = '\0';
	ck_assert_int_eq(pfs_msg_decode(buf, len, &out), -EBADMSG);
	free(buf);
}
END_TEST

START_TEST(test_pfs_msg_decode_oversized)
{
	struct pfs_msg out;
	size_t len = PFS_WIRE_HEADER_SIZE + PFS_WIRE_FS_BODY_SIZE + 8;
	uint8_t *buf = calloc(1, len);

	/* A header that claims a data length above the file limit. */
	ck_assert_ptr_nonnull(buf);
	pfs__put_u32(buf, PFS_WIRE_MAGIC);
	pfs__put_u16(buf + 4, PFS_WIRE_VERSION);
	pfs__put_u16(buf + 6, PFS_MSG_WRITE);
	pfs__put_u32(buf + 24, (uint32_t)(len - PFS_WIRE_HEADER_SIZE));
	pfs__put_u32(buf + PFS_WIRE_HEADER_SIZE + 4, 8);
	pfs__put_u32(buf + PFS_WIRE_HEADER_SIZE + 12, 0xffffffffu);
	ck_assert_int_eq(pfs_msg_decode(buf, len, &out), -EBADMSG);

	/* A whole message above the maximum size. */
	ck_assert_int_eq(pfs_msg_decode(buf, PFS_WIRE_MAX_SIZE + 1, &out), -EBADMSG);
	free(buf);
}
END_TEST

START_TEST(test_pfs_msg_type_name_values)
{
	ck_assert_str_eq(pfs_msg_type_name(PFS_MSG_CREATE), "create");
	ck_assert_str_eq(pfs_msg_type_name(PFS_MSG_LOCK_EXPIRE), "lock-expire");
	ck_assert_str_eq(pfs_msg_type_name(0), "?");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("pfs_msg_encode");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_pfs_msg_encode_write_roundtrip);
	tcase_add_test(tc, test_pfs_msg_encode_rename_roundtrip);
	tcase_add_test(tc, test_pfs_msg_encode_lock_roundtrip);
	tcase_add_test(tc, test_pfs_msg_encode_acquire_roundtrip);
	tcase_add_test(tc, test_pfs_msg_encode_status_roundtrip);
	tcase_add_test(tc, test_pfs_msg_encode_invalid);
	suite_add_tcase(s, tc);
	tc = tcase_create("pfs_msg_decode");
	tcase_add_test(tc, test_pfs_msg_decode_truncated);
	tcase_add_test(tc, test_pfs_msg_decode_bad_header);
	tcase_add_test(tc, test_pfs_msg_decode_oversized);
	suite_add_tcase(s, tc);
	tc = tcase_create("pfs_msg_type_name");
	tcase_add_test(tc, test_pfs_msg_type_name_values);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
