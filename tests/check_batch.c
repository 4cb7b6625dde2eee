/* Unit tests of pfs_batch: building, sending one alone, reading back and
 * rejecting malformed batches. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/batch.h"
#include "pmxfs/wire.h"

/* An encoded WRITE of path with request id id (caller frees). */
static uint8_t *change(const char *path, uint64_t id, size_t *len)
{
	struct pfs_msg m = {0};
	uint8_t *buf = NULL;

	m.type = PFS_MSG_WRITE;
	m.request_id = id;
	m.path = path;
	m.data = "x";
	m.data_len = 1;
	ck_assert_int_eq(pfs_msg_encode(&m, &buf, len), 0);
	return buf;
}

/* Add WRITEs with request ids 1 to count. */
static void add_changes(struct pfs_batch *b, uint64_t count)
{
	for (uint64_t id = 1; id <= count; id++) {
		size_t n;
		uint8_t *msg = change("/a", id, &n);

		ck_assert_int_eq(pfs_batch_add(b, msg, n), 0);
		free(msg);
	}
}

struct seen {
	unsigned count;
	uint64_t ids[8];
	int stop_at; /* return 1 at this item, or -1 */
};

static int collect(void *ctx, const uint8_t *item, size_t len)
{
	struct seen *s = ctx;
	struct pfs_msg m;

	ck_assert_int_eq(pfs_msg_decode(item, len, &m), 0);
	s->ids[s->count++] = m.request_id;
	pfs_msg_clear(&m);
	return (int)s->count - 1 == s->stop_at ? 1 : 0;
}

START_TEST(test_pfs_batch_roundtrip)
{
	struct pfs_batch b = {0};
	struct seen s = {.stop_at = -1};
	const uint8_t *bytes;
	size_t len;

	add_changes(&b, 3);
	bytes = pfs_batch_bytes(&b, &len);
	ck_assert(pfs_batch_is(bytes, len));
	ck_assert_int_eq(pfs_batch_foreach(bytes, len, collect, &s), 0);
	ck_assert_uint_eq(s.count, 3);
	ck_assert_uint_eq(s.ids[0], 1);
	ck_assert_uint_eq(s.ids[1], 2);
	ck_assert_uint_eq(s.ids[2], 3);
	pfs_batch_free(&b);
}
END_TEST

START_TEST(test_pfs_batch_each_items)
{
	struct pfs_batch b = {0};
	struct seen s = {.stop_at = -1};

	/* A batch of one too: pfs_batch_each() needs no batch message. */
	add_changes(&b, 1);
	ck_assert_int_eq(pfs_batch_each(&b, collect, &s), 0);
	ck_assert_uint_eq(s.count, 1);
	add_changes(&b, 2);
	s.count = 0;
	ck_assert_int_eq(pfs_batch_each(&b, collect, &s), 0);
	ck_assert_uint_eq(s.count, 3);
	ck_assert_uint_eq(s.ids[2], 2);
	pfs_batch_free(&b);
}
END_TEST

START_TEST(test_pfs_batch_one_alone)
{
	struct pfs_batch b = {0};
	const uint8_t *bytes;
	size_t len, n;
	uint8_t *msg = change("/a", 7, &n);

	bytes = pfs_batch_bytes(&b, &len);
	ck_assert_ptr_null(bytes);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(pfs_batch_add(&b, msg, n), 0);
	bytes = pfs_batch_bytes(&b, &len);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(bytes, msg, n);
	ck_assert(!pfs_batch_is(bytes, len));

	/* After a reset the buffer starts over. */
	pfs_batch_reset(&b);
	bytes = pfs_batch_bytes(&b, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(pfs_batch_add(&b, msg, n), 0);
	bytes = pfs_batch_bytes(&b, &len);
	ck_assert_mem_eq(bytes, msg, n);
	free(msg);
	pfs_batch_free(&b);
}
END_TEST

START_TEST(test_pfs_batch_stop_early)
{
	struct pfs_batch b = {0};
	struct seen s = {.stop_at = 1};
	const uint8_t *bytes;
	size_t len;

	add_changes(&b, 3);
	bytes = pfs_batch_bytes(&b, &len);
	ck_assert_int_eq(pfs_batch_foreach(bytes, len, collect, &s), 1);
	ck_assert_uint_eq(s.count, 2);
	pfs_batch_free(&b);
}
END_TEST

START_TEST(test_pfs_batch_add_rejects)
{
	struct pfs_batch b = {0};
	uint8_t big[PFS_BATCH_MAX_ITEM + 1] = {0};
	uint8_t *node;
	struct pfs_msg m = {0};
	size_t n;

	/* Not a change message, too short, too long. */
	ck_assert_int_eq(pfs_batch_add(&b, "PFSY0000000000000000000000000000000", 33), -EMSGSIZE);
	ck_assert_int_eq(pfs_batch_add(&b, "PFSM", 4), -EMSGSIZE);
	pfs__put_u32(big, PFS_WIRE_MAGIC);
	ck_assert_int_eq(pfs_batch_add(&b, big, sizeof(big)), -EMSGSIZE);

	/* Node messages travel alone. */
	m.type = PFS_MSG_NODE_REQUEST;
	m.node = 2;
	m.timeout_ms = 1000;
	m.path = "ctmgrd";
	m.data = "ping";
	m.data_len = 4;
	ck_assert_int_eq(pfs_msg_encode(&m, &node, &n), 0);
	ck_assert_int_eq(pfs_batch_add(&b, node, n), -EMSGSIZE);
	free(node);
	ck_assert_uint_eq(b.count, 0);
	pfs_batch_free(&b);
}
END_TEST

START_TEST(test_pfs_batch_full)
{
	struct pfs_batch b = {0};
	size_t n;
	uint8_t *msg = change("/a", 1, &n);
	unsigned added = 0;

	while (!pfs_batch_full(&b)) {
		ck_assert_int_eq(pfs_batch_add(&b, msg, n), 0);
		added++;
	}
	ck_assert(b.len >= PFS_BATCH_MAX_BYTES || added == PFS_BATCH_MAX_ITEMS);
	ck_assert_uint_le(added, PFS_BATCH_MAX_ITEMS);
	ck_assert_int_eq(pfs_batch_add(&b, msg, n), b.count < PFS_BATCH_MAX_ITEMS ? 0 : -EMSGSIZE);
	free(msg);
	pfs_batch_free(&b);
}
END_TEST

/* A well-formed batch of two items, for the malformed cases to break. */
static uint8_t *two_items(size_t *len)
{
	struct pfs_batch b = {0};
	const uint8_t *bytes;
	uint8_t *copy;

	add_changes(&b, 2);
	bytes = pfs_batch_bytes(&b, len);
	copy = malloc(*len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, bytes, *len);
	pfs_batch_free(&b);
	return copy;
}

START_TEST(test_pfs_batch_foreach_malformed)
{
	struct seen s = {.stop_at = -1};
	size_t len;
	uint8_t *buf = two_items(&len);
	uint8_t *longer = malloc(len + 1);

	/* Truncated anywhere. */
	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(pfs_batch_foreach(buf, cut, collect, &s), -EBADMSG);

	/* A trailing byte. */
	memcpy(longer, buf, len);
	longer[len] = 0;
	ck_assert_int_eq(pfs_batch_foreach(longer, len + 1, collect, &s), -EBADMSG);

	/* A count of one, a count that does not match, a wrong version. */
	pfs__put_u16(buf + 6, 1);
	ck_assert_int_eq(pfs_batch_foreach(buf, len, collect, &s), -EBADMSG);
	pfs__put_u16(buf + 6, 3);
	ck_assert_int_eq(pfs_batch_foreach(buf, len, collect, &s), -EBADMSG);
	pfs__put_u16(buf + 6, 2);
	pfs__put_u16(buf + 4, PFS_BATCH_VERSION + 1);
	ck_assert_int_eq(pfs_batch_foreach(buf, len, collect, &s), -EBADMSG);
	pfs__put_u16(buf + 4, PFS_BATCH_VERSION);

	/* An item that is not a change message: nothing is delivered. */
	buf[PFS_BATCH_HEADER_SIZE + 4 + 3] = 'X';
	ck_assert_int_eq(pfs_batch_foreach(buf, len, collect, &s), -EBADMSG);
	ck_assert_uint_eq(s.count, 0);
	free(longer);
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("pfs_batch");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_pfs_batch_roundtrip);
	tcase_add_test(tc, test_pfs_batch_each_items);
	tcase_add_test(tc, test_pfs_batch_one_alone);
	tcase_add_test(tc, test_pfs_batch_stop_early);
	tcase_add_test(tc, test_pfs_batch_add_rejects);
	tcase_add_test(tc, test_pfs_batch_full);
	tcase_add_test(tc, test_pfs_batch_foreach_malformed);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
