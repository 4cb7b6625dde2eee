/*
 * pfs_wire: the change messages of the store, as they travel between
 * nodes (and through the loopback transport in --local mode).
 *
 * Every message is a 32-byte header followed by a body. All integers are
 * fixed-width little-endian; strings carry explicit lengths and no NUL.
 *
 *   offset size field
 *        0    4 magic        PFS_WIRE_MAGIC ("PFSM" read as bytes)
 *        4    2 version      PFS_WIRE_VERSION
 *        6    2 type         enum pfs_msg_type
 *        8    4 writer       node id of the sender
 *       12    4 mtime        sender's wall clock (seconds) at send time
 *       16    8 request id   sender-local id that matches the result
 *       24    4 body length  bytes after the header
 *       28    4 reserved     0
 *
 * File system bodies (CREATE, WRITE, DELETE, MKDIR, RMDIR, RENAME):
 *
 *        0    4 flags        PFS_COND_VERSION, PFS_COND_TOKEN
 *        4    4 path length
 *        8    4 path2 length (RENAME target, else 0)
 *       12    4 data length  (CREATE, WRITE, else 0)
 *       16    8 expected version (used with PFS_COND_VERSION)
 *       24    8 fencing token    (used with PFS_COND_TOKEN)
 *       32      path, path2, data
 *
 * Lock bodies (ACQUIRE, RENEW, RELEASE, EXPIRE):
 *
 *        0    4 lease in ms  (ACQUIRE)
 *        4    4 name length
 *        8    8 token        (RENEW, RELEASE, EXPIRE; 0 in ACQUIRE)
 *       16    8 waiter id    ACQUIRE: nonzero to wait in the queue when the
 *                            lock is held, 0 to fail with -EBUSY.
 *                            RELEASE with token 0: the request id of the
 *                            writer's queued ACQUIRE to withdraw.
 *       24      name
 *
 * ACQUIRE adds the holder's details between the fixed part and the name,
 * so that every node can show who holds or waits for a lock:
 *
 *       24    4 pid          the requesting client's process id (0: unknown)
 *       28    4 node name length (0..PFS_MAX_NODE_NAME; 0: unknown)
 *       32      name, then the sender's node name
 *
 * STATUS_SET body: key length (4), value length (4), key, value.
 *
 * A receiver rejects a message whose magic, version, type or lengths do
 * not match exactly; a higher version is an error, never ignored.
 */
#ifndef PMXFS_WIRE_H
#define PMXFS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define PFS_WIRE_MAGIC 0x4d534650u /* "PFSM" in little-endian byte order */
#define PFS_WIRE_VERSION 1
#define PFS_WIRE_HEADER_SIZE 32
#define PFS_WIRE_FS_BODY_SIZE 32
#define PFS_WIRE_LOCK_BODY_SIZE 24
#define PFS_WIRE_ACQUIRE_EXTRA_SIZE 8 /* pid and node name length */
#define PFS_WIRE_STATUS_BODY_SIZE 8

/* Limits shared by the wire format, the tree and the client API. */
#define PFS_MAX_PATH 4096            /* bytes, absolute path in the tree */
#define PFS_MAX_NAME 255             /* bytes, one path component */
#define PFS_MAX_FILE_SIZE (1u << 20) /* 1 MiB per file */
#define PFS_MAX_LOCK_NAME 128        /* bytes */
#define PFS_MAX_NODE_NAME 63         /* bytes, a DNS label */
#define PFS_MAX_STATUS_KEY 128       /* bytes */
#define PFS_MAX_STATUS_VALUE (32u * 1024) /* bytes */
#define PFS_WIRE_MAX_SIZE \
	(PFS_WIRE_HEADER_SIZE + PFS_WIRE_FS_BODY_SIZE + 2 * PFS_MAX_PATH + PFS_MAX_FILE_SIZE)

/* Explicit values: they are part of the wire format. */
enum pfs_msg_type {
	PFS_MSG_CREATE = 1,
	PFS_MSG_WRITE = 2,
	PFS_MSG_DELETE = 3,
	PFS_MSG_MKDIR = 4,
	PFS_MSG_RMDIR = 5,
	PFS_MSG_RENAME = 6,
	PFS_MSG_LOCK_ACQUIRE = 7,
	PFS_MSG_LOCK_RENEW = 8,
	PFS_MSG_LOCK_RELEASE = 9,
	PFS_MSG_LOCK_EXPIRE = 10,
	PFS_MSG_STATUS_SET = 11,
};
#define PFS_MSG_TYPE_MAX PFS_MSG_STATUS_SET

/* Conditions of a file system change. */
#define PFS_COND_VERSION 0x1u /* fail with -ESTALE unless the version matches */
#define PFS_COND_TOKEN 0x2u   /* fail with -ESTALE unless the lock token is current */
#define PFS_COND_MASK (PFS_COND_VERSION | PFS_COND_TOKEN)

/*
 * A change message. For encoding the caller owns the strings. After
 * decoding they are NUL-terminated copies owned by the message (freed by
 * pfs_msg_clear()), and unused strings are NULL.
 */
struct pfs_msg {
	enum pfs_msg_type type;
	uint32_t writer;
	uint32_t mtime;
	uint64_t request_id;

	/* file system changes */
	uint32_t flags;
	uint64_t expected_version;
	uint64_t token; /* fencing token, or lock token for RENEW/RELEASE/EXPIRE */
	const char *path;  /* file system path, lock name or status key */
	const char *path2; /* RENAME target */
	const char *data;  /* file contents or status value (NUL-terminated copy) */
	uint32_t data_len;

	/* locks */
	uint32_t lease_ms;
	uint64_t waiter_id;
	uint32_t pid;          /* ACQUIRE: the requesting client's pid */
	const char *node_name; /* ACQUIRE: the sender's node name */
};

/* Return the name of a message type ("create", "lock-acquire"), or "?". */
const char *pfs_msg_type_name(enum pfs_msg_type type);

/*
 * Encode msg into a new buffer. On success *out (caller frees with free())
 * and *out_len are set. The strings a type needs must be set; others are
 * ignored.
 * Errors: -EINVAL (unknown type, missing or oversized string, unknown
 * flag), -ENOMEM.
 */
int pfs_msg_encode(const struct pfs_msg *msg, uint8_t **out, size_t *out_len);

/*
 * Decode one message of exactly len bytes into msg, which the caller
 * clears with pfs_msg_clear() after success. On error msg is left empty.
 * Errors: -EBADMSG (bad magic, truncated or trailing bytes, length above a
 * limit, NUL inside a string, unknown flag), -EPROTO (unknown version or
 * type), -ENOMEM.
 */
int pfs_msg_decode(const void *buf, size_t len, struct pfs_msg *msg);

/* Free the strings of msg and zero it. Accepts NULL. */
void pfs_msg_clear(struct pfs_msg *msg);

/* Little-endian helpers, also used by the IPC layer. */
void pfs__put_u16(uint8_t *p, uint16_t v);
void pfs__put_u32(uint8_t *p, uint32_t v);
void pfs__put_u64(uint8_t *p, uint64_t v);
uint16_t pfs__get_u16(const uint8_t *p);
uint32_t pfs__get_u32(const uint8_t *p);
uint64_t pfs__get_u64(const uint8_t *p);

#endif
