/*
 * pfs_batch: several change messages of one node in one CPG message.
 *
 * corosync's cost per message is high next to its cost per byte (on the
 * lab machine, 8 KiB messages went at a third of the rate of 1 KiB ones,
 * so at about 2.7 times the bytes per second). A node therefore sends the
 * change messages that its clients submit within one main loop turn as
 * one batch, and every member takes them out in order, as if they had been
 * delivered one by one.
 *
 * Format, little-endian:
 *
 *   offset size field
 *        0    4 magic    PFS_BATCH_MAGIC ("PFSB" read as bytes)
 *        4    2 version  PFS_BATCH_VERSION
 *        6    2 count    items, 2 to PFS_BATCH_MAX_ITEMS
 *        8      items    each: u32 length, then that many bytes
 *
 * The items fill the message exactly, and each is a change message of the
 * store (pfs_batch_item_ok()). Sync and node messages, and change
 * messages longer than PFS_BATCH_MAX_ITEM, travel alone.
 */
#ifndef PMXFS_BATCH_H
#define PMXFS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PFS_BATCH_MAGIC 0x42534650u /* "PFSB" in little-endian byte order */
#define PFS_BATCH_VERSION 1
#define PFS_BATCH_HEADER_SIZE 8
#define PFS_BATCH_MAX_ITEMS 1024u
#define PFS_BATCH_MAX_ITEM (16u * 1024)  /* a longer message travels alone */
#define PFS_BATCH_MAX_BYTES (64u * 1024) /* a batch is sent once it reaches this */

/* A batch being filled. */
struct pfs_batch {
	uint8_t *buf;
	size_t len, cap;
	unsigned count;
	/* The first item, kept apart: a batch of one is sent as that message. */
	size_t first_off, first_len;
};

/* Return true when buf starts with the batch magic. */
bool pfs_batch_is(const void *buf, size_t len);

/*
 * Append a copy of the len bytes at msg.
 * Errors: -EMSGSIZE (not pfs_batch_item_ok(), or the batch contains
 * PFS_BATCH_MAX_ITEMS: send it first), -ENOMEM.
 */
int pfs_batch_add(struct pfs_batch *b, const void *msg, size_t len);

/* Return true when the len bytes at msg may go into a batch: a change
 * message of the store's format (not a node message) of at most
 * PFS_BATCH_MAX_ITEM bytes. Only the header is looked at. */
bool pfs_batch_item_ok(const void *msg, size_t len);

/* Return true when the batch should be sent before anything else is added. */
bool pfs_batch_full(const struct pfs_batch *b);

/*
 * The bytes to send: the batch message, or the single item alone when the
 * batch contains one. Valid until the next pfs_batch_add() or
 * pfs_batch_reset(). *len is 0 when the batch is empty.
 */
const uint8_t *pfs_batch_bytes(struct pfs_batch *b, size_t *len);

/* Call fn for each item added to b since its last reset, in order, and
 * stop at the first nonzero return, which is returned. */
int pfs_batch_each(const struct pfs_batch *b,
		   int (*fn)(void *ctx, const uint8_t *item, size_t len), void *ctx);

/* Empty the batch and keep its buffer. */
void pfs_batch_reset(struct pfs_batch *b);

/* Free the buffer. */
void pfs_batch_free(struct pfs_batch *b);

/*
 * Call fn for each item of the batch message in buf, in order, and stop at
 * the first nonzero return, which is returned.
 * Errors: -EBADMSG (not a well-formed batch: then fn was not called).
 */
int pfs_batch_foreach(const void *buf, size_t len,
		      int (*fn)(void *ctx, const uint8_t *item, size_t len), void *ctx);

#endif
