/* pfs_sync messages: one encode and one decode function (see sync.h and
 * the message formats in docs/sync.md). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/sync.h"
#include "pmxfs/tree.h"

#define GEN_SIZE (PFS_SYNC_RING_ID_SIZE + 4 + 8 + 8)
#define HASH_SIZE (8 + 32)
#define UPDATE_ENTRY_SIZE (8 + 8 + 8 + 4 + 4 + 4 + 4 + 4)
#define LOST_ENTRY_SIZE (4 + 4 + 4)
#define STATUS_SIZE (4 + 4 + 4)

/* A growable output buffer; a failed allocation is sticky. */
struct writer {
	uint8_t *buf;
	size_t len, cap;
	bool failed;
};

static uint8_t *reserve(struct writer *w, size_t n)
{
	uint8_t *p;

	if (w->failed)
		return NULL;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *grown;

		while (cap < w->len + n)
			cap *= 2;
		grown = realloc(w->buf, cap);
		if (!grown) {
			w->failed = true;
			return NULL;
		}
		w->buf = grown;
		w->cap = cap;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

static void put32(struct writer *w, uint32_t v)
{
	uint8_t *p = reserve(w, 4);

	if (p)
		pfs__put_u32(p, v);
}

static void put64(struct writer *w, uint64_t v)
{
	uint8_t *p = reserve(w, 8);

	if (p)
		pfs__put_u64(p, v);
}

static void put_bytes(struct writer *w, const void *src, size_t n)
{
	uint8_t *p = reserve(w, n);

	if (p && n)
		memcpy(p, src, n);
}

static void encode_summary(struct writer *w, const struct pfs_sync_msg *m)
{
	put64(w, m->version);
	put_bytes(w, m->digest, 32);
	put32(w, m->start_time);
	put64(w, m->tree_bytes);
	put32(w, m->ngens);
	put32(w, m->nhashes);
	for (uint32_t i = 0; i < m->ngens; i++) {
		uint8_t ring[PFS_SYNC_RING_ID_SIZE] = {0};

		memcpy(ring, m->gens[i].ring_id, strnlen(m->gens[i].ring_id, sizeof(ring) - 1));
		put_bytes(w, ring, sizeof(ring));
		put32(w, m->gens[i].members);
		put64(w, m->gens[i].first_version);
		put64(w, m->gens[i].last_version);
	}
	for (uint32_t i = 0; i < m->nhashes; i++) {
		put64(w, m->hashes[i].inode);
		put_bytes(w, m->hashes[i].hash, 32);
	}
}

static void encode_update(struct writer *w, const struct pfs_sync_msg *m)
{
	put64(w, m->version);
	put32(w, m->root_writer);
	put32(w, m->root_mtime);
	put32(w, m->ndeleted);
	put32(w, m->nentries);
	for (uint32_t i = 0; i < m->ndeleted; i++)
		put64(w, m->deleted[i]);
	for (uint32_t i = 0; i < m->nentries; i++) {
		const struct pfs_sync_entry *e = &m->entries[i];
		size_t name_len = strlen(e->name);

		put64(w, e->inode);
		put64(w, e->parent);
		put64(w, e->version);
		put32(w, e->writer);
		put32(w, e->mtime);
		put32(w, e->type);
		put32(w, (uint32_t)name_len);
		put32(w, e->data ? e->size : 0);
		put_bytes(w, e->name, name_len);
		if (e->data)
			put_bytes(w, e->data, e->size);
	}
	put32(w, m->nstatus);
	for (uint32_t i = 0; i < m->nstatus; i++) {
		const struct pfs_sync_status *sv = &m->status[i];
		size_t key_len = strlen(sv->key);

		put32(w, sv->node);
		put32(w, (uint32_t)key_len);
		put32(w, sv->len);
		put_bytes(w, sv->key, key_len);
		put_bytes(w, sv->value, sv->len);
	}
}

static void encode_lost(struct writer *w, const struct pfs_sync_msg *m)
{
	size_t name_len = m->node_name ? strlen(m->node_name) : 0;

	put32(w, (uint32_t)name_len);
	put_bytes(w, m->node_name, name_len);
	put32(w, m->nentries);
	for (uint32_t i = 0; i < m->nentries; i++) {
		const struct pfs_sync_entry *e = &m->entries[i];
		size_t path_len = strlen(e->name);

		put32(w, e->type);
		put32(w, (uint32_t)path_len);
		put32(w, e->data ? e->size : 0);
		put_bytes(w, e->name, path_len);
		if (e->data)
			put_bytes(w, e->data, e->size);
	}
}

uint32_t pfs_sync_chunk_count(size_t len)
{
	if (len <= PFS_SYNC_CHUNK_SIZE)
		return 0;
	return (uint32_t)((len + PFS_SYNC_CHUNK_SIZE - 1) / PFS_SYNC_CHUNK_SIZE);
}

/* The payload length of part index of a chunked message of total bytes. */
static uint32_t chunk_payload_len(uint64_t total, uint32_t index)
{
	uint64_t rest = total - (uint64_t)index * PFS_SYNC_CHUNK_SIZE;

	return rest < PFS_SYNC_CHUNK_SIZE ? (uint32_t)rest : PFS_SYNC_CHUNK_SIZE;
}

static void encode_chunk(struct writer *w, const struct pfs_sync_msg *m)
{
	put32(w, m->inner_type); /* inner type (2) and reserved (2), little-endian */
	put32(w, m->index);
	put32(w, m->chunks);
	put32(w, m->payload_len);
	put64(w, m->total_len);
	put_bytes(w, m->digest, 32);
	put_bytes(w, m->payload, m->payload_len);
}

int pfs_sync_msg_encode(const struct pfs_sync_msg *m, uint8_t **out, size_t *len)
{
	struct writer w = {0};
	uint8_t *h;

	if (m->type < PFS_SYNC_SUMMARY || m->type > PFS_SYNC_TYPE_MAX)
		return -EINVAL;
	h = reserve(&w, PFS_SYNC_HEADER_SIZE);
	if (!h)
		return -ENOMEM;
	memset(h, 0, PFS_SYNC_HEADER_SIZE);

	/* The body of the type, then the header with its length. */
	switch (m->type) {
	case PFS_SYNC_SUMMARY: encode_summary(&w, m); break;
	case PFS_SYNC_UPDATE: encode_update(&w, m); break;
	case PFS_SYNC_LOST: encode_lost(&w, m); break;
	case PFS_SYNC_DIGEST:
		put_bytes(&w, m->digest, 32);
		put64(&w, m->version);
		break;
	case PFS_SYNC_CONFIRM: put64(&w, m->count); break;
	case PFS_SYNC_CHUNK: encode_chunk(&w, m); break;
	case PFS_SYNC_PRIMARY:
	case PFS_SYNC_VERIFY:
	case PFS_SYNC_RESTART: break;
	}
	if (w.failed) {
		free(w.buf);
		return -ENOMEM;
	}
	if (w.len - PFS_SYNC_HEADER_SIZE > PFS_SYNC_MAX_BODY) {
		free(w.buf);
		return -EINVAL;
	}
	h = w.buf;
	pfs__put_u32(h, PFS_SYNC_MAGIC);
	pfs__put_u16(h + 4, PFS_SYNC_VERSION);
	pfs__put_u16(h + 6, (uint16_t)m->type);
	pfs__put_u32(h + 8, m->sender);
	pfs__put_u32(h + 12, m->round.ring_node);
	pfs__put_u64(h + 16, m->round.ring_seq);
	pfs__put_u32(h + 24, m->round.counter);
	pfs__put_u32(h + 28, (uint32_t)(w.len - PFS_SYNC_HEADER_SIZE));
	*out = w.buf;
	*len = w.len;
	return 0;
}

/* A bounds-checked input cursor; running past the end is sticky. */
struct reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static const uint8_t *take(struct reader *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

static uint32_t get32(struct reader *r)
{
	const uint8_t *p = take(r, 4);

	return p ? pfs__get_u32(p) : 0;
}

static uint64_t get64(struct reader *r)
{
	const uint8_t *p = take(r, 8);

	return p ? pfs__get_u64(p) : 0;
}

/* Allocate count elements of size, after checking that the rest of the
 * message can hold count records of at least min bytes each. */
static void *alloc_records(struct reader *r, uint32_t count, size_t min, size_t size)
{
	if (r->bad || (min && count > r->left / min)) {
		r->bad = true;
		return NULL;
	}
	return calloc(count ? count : 1, size);
}

/* Copy n bytes as a NUL-terminated string; a NUL inside is malformed. */
static char *take_string(struct reader *r, uint32_t n, bool text)
{
	const uint8_t *p = take(r, n);
	char *s;

	if (!p)
		return NULL;
	if (text && memchr(p, '\0', n)) {
		r->bad = true;
		return NULL;
	}
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static int decode_summary(struct reader *r, struct pfs_sync_msg *m)
{
	const uint8_t *d;

	m->version = get64(r);
	d = take(r, 32);
	if (d)
		memcpy(m->digest, d, 32);
	m->start_time = get32(r);
	m->tree_bytes = get64(r);
	m->ngens = get32(r);
	m->nhashes = get32(r);
	m->gens = alloc_records(r, m->ngens, GEN_SIZE, sizeof(*m->gens));
	if (!m->gens)
		return r->bad ? -EBADMSG : -ENOMEM;
	for (uint32_t i = 0; i < m->ngens && !r->bad; i++) {
		const uint8_t *ring = take(r, PFS_SYNC_RING_ID_SIZE);

		if (ring) {
			/* NUL-terminated and zero-padded, so it encodes the same. */
			size_t n = strnlen((const char *)ring, PFS_SYNC_RING_ID_SIZE);

			for (size_t j = n; j < PFS_SYNC_RING_ID_SIZE; j++)
				r->bad |= ring[j] != 0;
			r->bad |= n == PFS_SYNC_RING_ID_SIZE;
			memcpy(m->gens[i].ring_id, ring, PFS_SYNC_RING_ID_SIZE);
		}
		m->gens[i].members = get32(r);
		m->gens[i].first_version = get64(r);
		m->gens[i].last_version = get64(r);
	}
	m->hashes = alloc_records(r, m->nhashes, HASH_SIZE, sizeof(*m->hashes));
	if (!m->hashes)
		return r->bad ? -EBADMSG : -ENOMEM;
	for (uint32_t i = 0; i < m->nhashes && !r->bad; i++) {
		m->hashes[i].inode = get64(r);
		d = take(r, 32);
		if (d)
			memcpy(m->hashes[i].hash, d, 32);
	}
	return r->bad ? -EBADMSG : 0;
}

/* Decode the name and data of an entry whose lengths were read. */
static int decode_entry_strings(struct reader *r, struct pfs_sync_entry *e, uint32_t name_len,
				uint32_t data_len, uint32_t max_name)
{
	if (name_len == 0 || name_len > max_name || data_len > PFS_MAX_FILE_SIZE ||
	    (e->type != PFS_TYPE_DIR && e->type != PFS_TYPE_FILE) ||
	    (e->type == PFS_TYPE_DIR && data_len)) {
		r->bad = true;
		return -EBADMSG;
	}
	e->name = take_string(r, name_len, true);
	if (!e->name)
		return r->bad ? -EBADMSG : -ENOMEM;
	e->size = data_len;
	if (e->type == PFS_TYPE_FILE) {
		e->data = take_string(r, data_len, false);
		if (!e->data)
			return r->bad ? -EBADMSG : -ENOMEM;
	}
	return 0;
}

static int decode_status(struct reader *r, struct pfs_sync_msg *m)
{
	m->nstatus = get32(r);
	m->status = alloc_records(r, m->nstatus, STATUS_SIZE, sizeof(*m->status));
	if (!m->status)
		return r->bad ? -EBADMSG : -ENOMEM;
	for (uint32_t i = 0; i < m->nstatus && !r->bad; i++) {
		struct pfs_sync_status *sv = &m->status[i];
		uint32_t key_len;

		sv->node = get32(r);
		key_len = get32(r);
		sv->len = get32(r);
		if (r->bad || key_len == 0 || key_len > PFS_MAX_STATUS_KEY || sv->len == 0 ||
		    sv->len > PFS_MAX_STATUS_VALUE)
			return -EBADMSG;
		sv->key = take_string(r, key_len, true);
		if (!sv->key)
			return r->bad ? -EBADMSG : -ENOMEM;
		sv->value = take_string(r, sv->len, false);
		if (!sv->value)
			return r->bad ? -EBADMSG : -ENOMEM;
	}
	return r->bad ? -EBADMSG : 0;
}

static int decode_update(struct reader *r, struct pfs_sync_msg *m)
{
	int rv = 0;

	m->version = get64(r);
	m->root_writer = get32(r);
	m->root_mtime = get32(r);
	m->ndeleted = get32(r);
	m->nentries = get32(r);
	m->deleted = alloc_records(r, m->ndeleted, 8, sizeof(*m->deleted));
	if (!m->deleted)
		return r->bad ? -EBADMSG : -ENOMEM;
	for (uint32_t i = 0; i < m->ndeleted; i++)
		m->deleted[i] = get64(r);
	m->entries = alloc_records(r, m->nentries, UPDATE_ENTRY_SIZE, sizeof(*m->entries));
	if (!m->entries)
		return r->bad ? -EBADMSG : -ENOMEM;
	for (uint32_t i = 0; i < m->nentries && rv == 0 && !r->bad; i++) {
		struct pfs_sync_entry *e = &m->entries[i];
		uint32_t name_len, data_len;

		e->inode = get64(r);
		e->parent = get64(r);
		e->version = get64(r);
		e->writer = get32(r);
		e->mtime = get32(r);
		e->type = get32(r);
		name_len = get32(r);
		data_len = get32(r);
		if (!r->bad)
			rv = decode_entry_strings(r, e, name_len, data_len, PFS_MAX_NAME);
	}
	if (rv < 0 || r->bad)
		return rv < 0 ? rv : -EBADMSG;
	return decode_status(r, m);
}

static int decode_lost(struct reader *r, struct pfs_sync_msg *m)
{
	uint32_t name_len = get32(r);
	int rv = 0;

	if (r->bad || name_len == 0 || name_len > 63)
		return -EBADMSG;
	m->node_name = take_string(r, name_len, true);
	if (!m->node_name)
		return r->bad ? -EBADMSG : -ENOMEM;
	if (!pfs_tree_is_dns_label(m->node_name))
		return -EBADMSG;
	m->nentries = get32(r);
	m->entries = alloc_records(r, m->nentries, LOST_ENTRY_SIZE, sizeof(*m->entries));
	if (!m->entries)
		return r->bad ? -EBADMSG : -ENOMEM;
	for (uint32_t i = 0; i < m->nentries && rv == 0 && !r->bad; i++) {
		struct pfs_sync_entry *e = &m->entries[i];
		uint32_t path_len, data_len;

		e->type = get32(r);
		path_len = get32(r);
		data_len = get32(r);
		if (!r->bad)
			rv = decode_entry_strings(r, e, path_len, data_len, PFS_MAX_PATH);
	}
	if (rv < 0)
		return rv;
	return r->bad ? -EBADMSG : 0;
}

/* A CHUNK must be the part its index names of a message that is too long
 * to be sent whole, so that every chunked message has one encoding. */
static int decode_chunk(struct reader *r, struct pfs_sync_msg *m)
{
	const uint8_t *d;
	uint16_t reserved;
	uint32_t word;

	word = get32(r);
	m->inner_type = (uint16_t)(word & 0xffffu);
	reserved = (uint16_t)(word >> 16);
	m->index = get32(r);
	m->chunks = get32(r);
	m->payload_len = get32(r);
	m->total_len = get64(r);
	d = take(r, 32);
	if (!d)
		return -EBADMSG;
	memcpy(m->digest, d, 32);
	if (reserved || m->inner_type < PFS_SYNC_SUMMARY || m->inner_type > PFS_SYNC_TYPE_MAX ||
	    m->inner_type == PFS_SYNC_CHUNK ||
	    m->total_len > (uint64_t)PFS_SYNC_HEADER_SIZE + PFS_SYNC_MAX_BODY ||
	    pfs_sync_chunk_count((size_t)m->total_len) != m->chunks || m->index >= m->chunks ||
	    m->payload_len != chunk_payload_len(m->total_len, m->index) ||
	    m->payload_len != r->left)
		return -EBADMSG;
	m->payload = malloc(m->payload_len);
	if (!m->payload)
		return -ENOMEM;
	memcpy(m->payload, take(r, m->payload_len), m->payload_len);
	return 0;
}

bool pfs_sync_is_sync_msg(const void *buf, size_t len)
{
	return len >= 4 && pfs__get_u32(buf) == PFS_SYNC_MAGIC;
}

int pfs_sync_msg_decode(const void *buf, size_t len, struct pfs_sync_msg *m)
{
	const uint8_t *h = buf;
	struct reader r;
	uint16_t version, type;
	int rv = 0;

	memset(m, 0, sizeof(*m));
	if (len < PFS_SYNC_HEADER_SIZE || pfs__get_u32(h) != PFS_SYNC_MAGIC ||
	    pfs__get_u32(h + 28) != len - PFS_SYNC_HEADER_SIZE)
		return -EBADMSG;
	version = pfs__get_u16(h + 4);
	type = pfs__get_u16(h + 6);
	if (version != PFS_SYNC_VERSION || type < PFS_SYNC_SUMMARY || type > PFS_SYNC_TYPE_MAX)
		return -EPROTO;
	m->type = type;
	m->sender = pfs__get_u32(h + 8);
	m->round.ring_node = pfs__get_u32(h + 12);
	m->round.ring_seq = pfs__get_u64(h + 16);
	m->round.counter = pfs__get_u32(h + 24);
	r.p = h + PFS_SYNC_HEADER_SIZE;
	r.left = len - PFS_SYNC_HEADER_SIZE;
	r.bad = false;

	switch (m->type) {
	case PFS_SYNC_SUMMARY: rv = decode_summary(&r, m); break;
	case PFS_SYNC_UPDATE: rv = decode_update(&r, m); break;
	case PFS_SYNC_LOST: rv = decode_lost(&r, m); break;
	case PFS_SYNC_DIGEST: {
		const uint8_t *d = take(&r, 32);

		if (d)
			memcpy(m->digest, d, 32);
		m->version = get64(&r);
		break;
	}
	case PFS_SYNC_CONFIRM: m->count = get64(&r); break;
	case PFS_SYNC_CHUNK: rv = decode_chunk(&r, m); break;
	case PFS_SYNC_PRIMARY:
	case PFS_SYNC_VERIFY:
	case PFS_SYNC_RESTART: break;
	}
	if (rv == 0 && (r.bad || r.left))
		rv = -EBADMSG;
	if (rv < 0)
		pfs_sync_msg_clear(m);
	return rv;
}

void pfs_sync_msg_clear(struct pfs_sync_msg *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; m->entries && i < m->nentries; i++) {
		free(m->entries[i].name);
		free(m->entries[i].data);
	}
	free(m->entries);
	for (uint32_t i = 0; m->status && i < m->nstatus; i++) {
		free(m->status[i].key);
		free(m->status[i].value);
	}
	free(m->status);
	free(m->node_name);
	free(m->gens);
	free(m->hashes);
	free(m->deleted);
	free(m->payload);
	memset(m, 0, sizeof(*m));
}
