/* pfs_wire: encode and decode the store's change messages (see wire.h). */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/wire.h"

/*
 * The on-wire layouts as C structs. They are never copied to or from the
 * wire with memcpy (fields are written one by one in little-endian order);
 * they exist so that the offsets used below are pinned by the compiler.
 */
struct wire_header {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t writer;
	uint32_t mtime;
	uint64_t request_id;
	uint32_t body_len;
	uint32_t reserved;
};

struct wire_fs_body {
	uint32_t flags;
	uint32_t path_len;
	uint32_t path2_len;
	uint32_t data_len;
	uint64_t expected_version;
	uint64_t token;
};

struct wire_lock_body {
	uint32_t lease_ms;
	uint32_t name_len;
	uint64_t token;
	uint64_t waiter_id;
};

/* The fields ACQUIRE adds after struct wire_lock_body. */
struct wire_acquire_extra {
	uint32_t pid;
	uint32_t node_name_len;
};

struct wire_status_body {
	uint32_t key_len;
	uint32_t value_len;
};

_Static_assert(sizeof(struct wire_header) == PFS_WIRE_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct wire_header, request_id) == 16, "header request_id offset");
_Static_assert(offsetof(struct wire_header, body_len) == 24, "header body_len offset");
_Static_assert(sizeof(struct wire_fs_body) == PFS_WIRE_FS_BODY_SIZE, "fs body size");
_Static_assert(offsetof(struct wire_fs_body, expected_version) == 16, "fs body version offset");
_Static_assert(sizeof(struct wire_lock_body) == PFS_WIRE_LOCK_BODY_SIZE, "lock body size");
_Static_assert(offsetof(struct wire_lock_body, waiter_id) == 16, "lock body waiter offset");
_Static_assert(sizeof(struct wire_acquire_extra) == PFS_WIRE_ACQUIRE_EXTRA_SIZE,
	       "acquire extra size");
_Static_assert(sizeof(struct wire_status_body) == PFS_WIRE_STATUS_BODY_SIZE, "status body size");

#define H(field) offsetof(struct wire_header, field)
#define F(field) offsetof(struct wire_fs_body, field)
#define L(field) offsetof(struct wire_lock_body, field)
#define A(field) (PFS_WIRE_LOCK_BODY_SIZE + offsetof(struct wire_acquire_extra, field))

void pfs__put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void pfs__put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void pfs__put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t pfs__get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t pfs__get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t pfs__get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static const char *const type_names[PFS_MSG_TYPE_MAX + 1] = {
	[PFS_MSG_CREATE] = "create",
	[PFS_MSG_WRITE] = "write",
	[PFS_MSG_DELETE] = "delete",
	[PFS_MSG_MKDIR] = "mkdir",
	[PFS_MSG_RMDIR] = "rmdir",
	[PFS_MSG_RENAME] = "rename",
	[PFS_MSG_LOCK_ACQUIRE] = "lock-acquire",
	[PFS_MSG_LOCK_RENEW] = "lock-renew",
	[PFS_MSG_LOCK_RELEASE] = "lock-release",
	[PFS_MSG_LOCK_EXPIRE] = "lock-expire",
	[PFS_MSG_STATUS_SET] = "status-set",
};

const char *pfs_msg_type_name(enum pfs_msg_type type)
{
	if ((int)type < 1 || type > PFS_MSG_TYPE_MAX)
		return "?";
	return type_names[type];
}

enum body_kind { BODY_FS, BODY_LOCK, BODY_STATUS };

static enum body_kind body_kind_of(enum pfs_msg_type type)
{
	if (type >= PFS_MSG_LOCK_ACQUIRE && type <= PFS_MSG_LOCK_EXPIRE)
		return BODY_LOCK;
	if (type == PFS_MSG_STATUS_SET)
		return BODY_STATUS;
	return BODY_FS;
}

/* Length of an optional string, or -1 when it is longer than max. */
static long str_len(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	return n > max ? -1 : (long)n;
}

static int fs_lengths(const struct pfs_msg *msg, long *path, long *path2, long *data)
{
	*path = str_len(msg->path, PFS_MAX_PATH);
	*path2 = msg->type == PFS_MSG_RENAME ? str_len(msg->path2, PFS_MAX_PATH) : 0;
	*data = 0;
	if (msg->type == PFS_MSG_CREATE || msg->type == PFS_MSG_WRITE) {
		if (msg->data_len > PFS_MAX_FILE_SIZE || (msg->data_len && !msg->data))
			return -EINVAL;
		*data = msg->data_len;
	}
	if (*path <= 0 || *path2 < 0 || (msg->type == PFS_MSG_RENAME && *path2 == 0))
		return -EINVAL;
	if (msg->flags & ~PFS_COND_MASK)
		return -EINVAL;
	return 0;
}

static void put_header(uint8_t *p, const struct pfs_msg *msg, size_t body_len)
{
	pfs__put_u32(p + H(magic), PFS_WIRE_MAGIC);
	pfs__put_u16(p + H(version), PFS_WIRE_VERSION);
	pfs__put_u16(p + H(type), (uint16_t)msg->type);
	pfs__put_u32(p + H(writer), msg->writer);
	pfs__put_u32(p + H(mtime), msg->mtime);
	pfs__put_u64(p + H(request_id), msg->request_id);
	pfs__put_u32(p + H(body_len), (uint32_t)body_len);
	pfs__put_u32(p + H(reserved), 0);
}

static int encode_fs(const struct pfs_msg *msg, uint8_t **out, size_t *out_len)
{
	long path, path2, data;
	size_t body, total;
	uint8_t *buf, *b, *s;

	if (fs_lengths(msg, &path, &path2, &data) < 0)
		return -EINVAL;
	body = PFS_WIRE_FS_BODY_SIZE + (size_t)path + (size_t)path2 + (size_t)data;
	total = PFS_WIRE_HEADER_SIZE + body;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;

	put_header(buf, msg, body);
	b = buf + PFS_WIRE_HEADER_SIZE;
	pfs__put_u32(b + F(flags), msg->flags);
	pfs__put_u32(b + F(path_len), (uint32_t)path);
	pfs__put_u32(b + F(path2_len), (uint32_t)path2);
	pfs__put_u32(b + F(data_len), (uint32_t)data);
	pfs__put_u64(b + F(expected_version), msg->expected_version);
	pfs__put_u64(b + F(token), msg->token);

	s = b + PFS_WIRE_FS_BODY_SIZE;
	memcpy(s, msg->path, (size_t)path);
	if (path2)
		memcpy(s + path, msg->path2, (size_t)path2);
	if (data)
		memcpy(s + path + path2, msg->data, (size_t)data);
	*out = buf;
	*out_len = total;
	return 0;
}

static int encode_lock(const struct pfs_msg *msg, uint8_t **out, size_t *out_len)
{
	long name = str_len(msg->path, PFS_MAX_LOCK_NAME);
	long node = 0;
	size_t fixed = PFS_WIRE_LOCK_BODY_SIZE, total;
	uint8_t *buf, *b;

	if (name <= 0)
		return -EINVAL;
	if (msg->type == PFS_MSG_LOCK_ACQUIRE) {
		node = str_len(msg->node_name, PFS_MAX_NODE_NAME);
		if (node < 0)
			return -EINVAL;
		fixed += PFS_WIRE_ACQUIRE_EXTRA_SIZE;
	}
	total = PFS_WIRE_HEADER_SIZE + fixed + (size_t)name + (size_t)node;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;

	put_header(buf, msg, total - PFS_WIRE_HEADER_SIZE);
	b = buf + PFS_WIRE_HEADER_SIZE;
	pfs__put_u32(b + L(lease_ms), msg->lease_ms);
	pfs__put_u32(b + L(name_len), (uint32_t)name);
	pfs__put_u64(b + L(token), msg->token);
	pfs__put_u64(b + L(waiter_id), msg->waiter_id);
	if (msg->type == PFS_MSG_LOCK_ACQUIRE) {
		pfs__put_u32(b + A(pid), msg->pid);
		pfs__put_u32(b + A(node_name_len), (uint32_t)node);
	}
	memcpy(b + fixed, msg->path, (size_t)name);
	if (node)
		memcpy(b + fixed + name, msg->node_name, (size_t)node);
	*out = buf;
	*out_len = total;
	return 0;
}

static int encode_status(const struct pfs_msg *msg, uint8_t **out, size_t *out_len)
{
	long key = str_len(msg->path, PFS_MAX_STATUS_KEY);
	size_t total;
	uint8_t *buf, *b;

	if (key <= 0 || msg->data_len > PFS_MAX_STATUS_VALUE || (msg->data_len && !msg->data))
		return -EINVAL;
	total = PFS_WIRE_HEADER_SIZE + PFS_WIRE_STATUS_BODY_SIZE + (size_t)key + msg->data_len;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;

	put_header(buf, msg, total - PFS_WIRE_HEADER_SIZE);
	b = buf + PFS_WIRE_HEADER_SIZE;
	pfs__put_u32(b, (uint32_t)key);
	pfs__put_u32(b + 4, msg->data_len);
	memcpy(b + PFS_WIRE_STATUS_BODY_SIZE, msg->path, (size_t)key);
	if (msg->data_len)
		memcpy(b + PFS_WIRE_STATUS_BODY_SIZE + key, msg->data, msg->data_len);
	*out = buf;
	*out_len = total;
	return 0;
}

int pfs_msg_encode(const struct pfs_msg *msg, uint8_t **out, size_t *out_len)
{
	if ((int)msg->type < 1 || msg->type > PFS_MSG_TYPE_MAX)
		return -EINVAL;

	switch (body_kind_of(msg->type)) {
	case BODY_LOCK:
		return encode_lock(msg, out, out_len);
	case BODY_STATUS:
		return encode_status(msg, out, out_len);
	case BODY_FS:
	default:
		return encode_fs(msg, out, out_len);
	}
}

/* Copy len bytes into a new NUL-terminated string; -EBADMSG on inner NUL. */
static int copy_str(const uint8_t *p, size_t len, const char **out)
{
	char *s;

	if (memchr(p, '\0', len))
		return -EBADMSG;
	s = malloc(len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, p, len);
	s[len] = '\0';
	*out = s;
	return 0;
}

/* Copy file data, which may contain NUL bytes; the copy is terminated too. */
static int copy_data(const uint8_t *p, uint32_t len, struct pfs_msg *msg)
{
	char *d = malloc((size_t)len + 1);

	if (!d)
		return -ENOMEM;
	memcpy(d, p, len);
	d[len] = '\0';
	msg->data = d;
	msg->data_len = len;
	return 0;
}

static int decode_fs(const uint8_t *b, size_t body_len, struct pfs_msg *msg)
{
	uint32_t path, path2, data;
	const uint8_t *s = b + PFS_WIRE_FS_BODY_SIZE;
	int rv;

	if (body_len < PFS_WIRE_FS_BODY_SIZE)
		return -EBADMSG;
	msg->flags = pfs__get_u32(b + F(flags));
	path = pfs__get_u32(b + F(path_len));
	path2 = pfs__get_u32(b + F(path2_len));
	data = pfs__get_u32(b + F(data_len));
	msg->expected_version = pfs__get_u64(b + F(expected_version));
	msg->token = pfs__get_u64(b + F(token));

	/* Each length is bounded first, so the sum below cannot overflow. */
	if (path == 0 || path > PFS_MAX_PATH || path2 > PFS_MAX_PATH || data > PFS_MAX_FILE_SIZE)
		return -EBADMSG;
	if ((size_t)path + path2 + data != body_len - PFS_WIRE_FS_BODY_SIZE)
		return -EBADMSG;
	if (msg->flags & ~PFS_COND_MASK)
		return -EBADMSG;
	if ((msg->type == PFS_MSG_RENAME) != (path2 != 0))
		return -EBADMSG;
	if (data && msg->type != PFS_MSG_CREATE && msg->type != PFS_MSG_WRITE)
		return -EBADMSG;

	rv = copy_str(s, path, &msg->path);
	if (rv == 0 && path2)
		rv = copy_str(s + path, path2, &msg->path2);
	if (rv == 0)
		rv = copy_data(s + path + path2, data, msg);
	return rv;
}

static int decode_lock(const uint8_t *b, size_t body_len, struct pfs_msg *msg)
{
	size_t fixed = PFS_WIRE_LOCK_BODY_SIZE;
	uint32_t name, node = 0;
	int rv;

	if (msg->type == PFS_MSG_LOCK_ACQUIRE)
		fixed += PFS_WIRE_ACQUIRE_EXTRA_SIZE;
	if (body_len < fixed)
		return -EBADMSG;
	msg->lease_ms = pfs__get_u32(b + L(lease_ms));
	name = pfs__get_u32(b + L(name_len));
	msg->token = pfs__get_u64(b + L(token));
	msg->waiter_id = pfs__get_u64(b + L(waiter_id));
	if (msg->type == PFS_MSG_LOCK_ACQUIRE) {
		msg->pid = pfs__get_u32(b + A(pid));
		node = pfs__get_u32(b + A(node_name_len));
		if (node > PFS_MAX_NODE_NAME)
			return -EBADMSG;
	}
	/* Both lengths are bounded first, so the sum cannot overflow. */
	if (name == 0 || name > PFS_MAX_LOCK_NAME || (size_t)name + node != body_len - fixed)
		return -EBADMSG;
	rv = copy_str(b + fixed, name, &msg->path);
	if (rv == 0 && node)
		rv = copy_str(b + fixed + name, node, &msg->node_name);
	return rv;
}

static int decode_status(const uint8_t *b, size_t body_len, struct pfs_msg *msg)
{
	uint32_t key, value;
	const uint8_t *s = b + PFS_WIRE_STATUS_BODY_SIZE;
	int rv;

	if (body_len < PFS_WIRE_STATUS_BODY_SIZE)
		return -EBADMSG;
	key = pfs__get_u32(b);
	value = pfs__get_u32(b + 4);
	if (key == 0 || key > PFS_MAX_STATUS_KEY || value > PFS_MAX_STATUS_VALUE)
		return -EBADMSG;
	if ((size_t)key + value != body_len - PFS_WIRE_STATUS_BODY_SIZE)
		return -EBADMSG;
	rv = copy_str(s, key, &msg->path);
	if (rv == 0)
		rv = copy_data(s + key, value, msg);
	return rv;
}

int pfs_msg_decode(const void *buf, size_t len, struct pfs_msg *msg)
{
	const uint8_t *p = buf;
	uint32_t body_len;
	uint16_t type;
	int rv;

	memset(msg, 0, sizeof(*msg));
	if (len < PFS_WIRE_HEADER_SIZE || len > PFS_WIRE_MAX_SIZE)
		return -EBADMSG;
	if (pfs__get_u32(p + H(magic)) != PFS_WIRE_MAGIC)
		return -EBADMSG;
	if (pfs__get_u16(p + H(version)) != PFS_WIRE_VERSION)
		return -EPROTO;
	type = pfs__get_u16(p + H(type));
	if (type < 1 || type > PFS_MSG_TYPE_MAX)
		return -EPROTO;
	body_len = pfs__get_u32(p + H(body_len));
	if (body_len != len - PFS_WIRE_HEADER_SIZE || pfs__get_u32(p + H(reserved)) != 0)
		return -EBADMSG;

	msg->type = (enum pfs_msg_type)type;
	msg->writer = pfs__get_u32(p + H(writer));
	msg->mtime = pfs__get_u32(p + H(mtime));
	msg->request_id = pfs__get_u64(p + H(request_id));

	switch (body_kind_of(msg->type)) {
	case BODY_LOCK:
		rv = decode_lock(p + PFS_WIRE_HEADER_SIZE, body_len, msg);
		break;
	case BODY_STATUS:
		rv = decode_status(p + PFS_WIRE_HEADER_SIZE, body_len, msg);
		break;
	case BODY_FS:
	default:
		rv = decode_fs(p + PFS_WIRE_HEADER_SIZE, body_len, msg);
		break;
	}
	if (rv < 0)
		pfs_msg_clear(msg);
	return rv;
}

void pfs_msg_clear(struct pfs_msg *msg)
{
	if (!msg)
		return;
	free((char *)msg->path);
	free((char *)msg->path2);
	free((char *)msg->data);
	free((char *)msg->node_name);
	memset(msg, 0, sizeof(*msg));
}
