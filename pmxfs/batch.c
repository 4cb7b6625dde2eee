/* pfs_batch: change messages of one node in one CPG message (see batch.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/batch.h"
#include "pmxfs/wire.h"

bool pfs_batch_is(const void *buf, size_t len)
{
	return len >= 4 && pfs__get_u32(buf) == PFS_BATCH_MAGIC;
}

bool pfs_batch_item_ok(const void *msg, size_t len)
{
	return len >= PFS_WIRE_HEADER_SIZE && len <= PFS_BATCH_MAX_ITEM &&
	       pfs__get_u32(msg) == PFS_WIRE_MAGIC && !pfs_msg_is_node_msg(msg, len);
}

bool pfs_batch_full(const struct pfs_batch *b)
{
	return b->len >= PFS_BATCH_MAX_BYTES || b->count >= PFS_BATCH_MAX_ITEMS;
}

int pfs_batch_add(struct pfs_batch *b, const void *msg, size_t len)
{
	size_t need;

	if (!pfs_batch_item_ok(msg, len) || b->count >= PFS_BATCH_MAX_ITEMS)
		return -EMSGSIZE;
	if (b->count == 0)
		b->len = PFS_BATCH_HEADER_SIZE;
	need = b->len + 4 + len;
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *buf;

		while (cap < need)
			cap *= 2;
		buf = realloc(b->buf, cap);
		if (!buf)
			return -ENOMEM;
		b->buf = buf;
		b->cap = cap;
	}
	pfs__put_u32(b->buf + b->len, (uint32_t)len);
	memcpy(b->buf + b->len + 4, msg, len);
	if (b->count == 0) {
		b->first_off = b->len + 4;
		b->first_len = len;
	}
	b->len = need;
	b->count++;
	return 0;
}

const uint8_t *pfs_batch_bytes(struct pfs_batch *b, size_t *len)
{
	if (b->count == 0) {
		*len = 0;
		return NULL;
	}
	if (b->count == 1) {
		*len = b->first_len;
		return b->buf + b->first_off;
	}
	pfs__put_u32(b->buf, PFS_BATCH_MAGIC);
	pfs__put_u16(b->buf + 4, PFS_BATCH_VERSION);
	pfs__put_u16(b->buf + 6, (uint16_t)b->count);
	*len = b->len;
	return b->buf;
}

int pfs_batch_each(const struct pfs_batch *b,
		   int (*fn)(void *ctx, const uint8_t *item, size_t len), void *ctx)
{
	size_t off = PFS_BATCH_HEADER_SIZE;

	for (unsigned i = 0; i < b->count; i++) {
		size_t n = pfs__get_u32(b->buf + off);
		int rv = fn(ctx, b->buf + off + 4, n);

		if (rv != 0)
			return rv;
		off += 4 + n;
	}
	return 0;
}

void pfs_batch_reset(struct pfs_batch *b)
{
	b->len = 0;
	b->count = 0;
}

void pfs_batch_free(struct pfs_batch *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

int pfs_batch_foreach(const void *buf, size_t len,
		      int (*fn)(void *ctx, const uint8_t *item, size_t len), void *ctx)
{
	const uint8_t *p = buf;
	size_t off = PFS_BATCH_HEADER_SIZE;
	unsigned count;

	if (len < PFS_BATCH_HEADER_SIZE || !pfs_batch_is(p, len) ||
	    pfs__get_u16(p + 4) != PFS_BATCH_VERSION)
		return -EBADMSG;
	count = pfs__get_u16(p + 6);
	if (count < 2 || count > PFS_BATCH_MAX_ITEMS)
		return -EBADMSG;

	/* Check every length first, so that a bad batch applies nothing. */
	for (unsigned i = 0; i < count; i++) {
		size_t n;

		if (len - off < 4)
			return -EBADMSG;
		n = pfs__get_u32(p + off);
		if (n < PFS_WIRE_HEADER_SIZE || n > PFS_BATCH_MAX_ITEM || n > len - off - 4 ||
		    !pfs_batch_item_ok(p + off + 4, n))
			return -EBADMSG;
		off += 4 + n;
	}
	if (off != len)
		return -EBADMSG;

	off = PFS_BATCH_HEADER_SIZE;
	for (unsigned i = 0; i < count; i++) {
		size_t n = pfs__get_u32(p + off);
		int rv = fn(ctx, p + off + 4, n);

		if (rv != 0)
			return rv;
		off += 4 + n;
	}
	return 0;
}
