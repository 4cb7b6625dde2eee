/*
 * Volume transfer over TLS 1.3 with an external pre-shared key.
 *
 * Wire format, every integer little-endian, after the TLS handshake:
 *
 *   sender -> receiver  HELLO  "PXV1", u16 version (1), u16 token length,
 *                              u16 volume length, u16 zero, u32 ctid,
 *                              u64 expected size, token, volume
 *   receiver -> sender  REPLY  u32 status (0 or a positive errno value),
 *                              u16 message length, u16 kind (0: final,
 *                              1: keep-alive while the receiver flushes
 *                              the volume to disk), message
 *   sender -> receiver  FRAME  u32 type, u32 length, payload; DATA frames
 *                              carry the tar stream, one END frame carries
 *                              the SHA-256 of the stream (32 bytes), u64
 *                              stream bytes and u64 entries
 *   receiver -> sender  REPLY  the outcome, after the rename or the cleanup
 *
 * A receiver that fails sends its error REPLY at once, also in the middle
 * of the stream, and discards the rest. The sender checks for it before
 * every frame.
 *
 * Sockets are non-blocking and every SSL call that has to wait goes
 * through poll() with the stall timeout, so a dead or silent peer blocks
 * a thread for at most that long, and EINTR is retried. OpenSSL writes
 * its records into a BIO pair, which this file empties into the socket
 * with send(MSG_NOSIGNAL): a peer that went away raises no SIGPIPE, and
 * 16 KiB records leave in large send() calls.
 */
#include "config.h"

#include "ctmgr/xfer.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define HELLO_MAGIC "PXV1"
#define PROTOCOL_VERSION 1
#define HELLO_SIZE 24
#define REPLY_SIZE 8
#define REPLY_MESSAGE_MAX 400
#define REPLY_FINAL 0
#define REPLY_KEEPALIVE 1
#define FRAME_HEADER_SIZE 8
#define FRAME_DATA 1
#define FRAME_END 2
#define END_PAYLOAD_SIZE (32 + 8 + 8)
/* Largest DATA payload. */
#define FRAME_PAYLOAD_MAX (256 * 1024)
/* Smallest piece of the stream that the sender sends without gathering. */
#define DIRECT_MIN (64 * 1024)
/* Read size of the sender for file data. */
#define FILE_BUFFER_SIZE (1024 * 1024)
/* Bytes of TLS records that SSL can write before they must go to the socket. */
#define OUT_BUFFER_SIZE (512 * 1024)
/* How long either side waits to deliver or to read the reason of a failure. */
#define REASON_TIMEOUT_MS 2000
#define KEY_FILE_MIN 16
#define KEY_FILE_MAX (64 * 1024)
#define VOLUME_COMPONENTS_MAX 8

static const char hkdf_label[] = "pmx-cluster volume transfer v1";
static const unsigned char psk_identity[] = "pmx-cluster-xfer-v1";
/* TLS_AES_128_GCM_SHA256, the only suite offered. */
static const unsigned char psk_cipher_id[2] = { 0x13, 0x01 };

/* One TLS connection and what is known about why it failed. */
struct conn {
	int fd;
	SSL *ssl;
	BIO *out; /* the network end of the BIO pair that SSL writes into */
	int stall_ms;
	char peer[INET6_ADDRSTRLEN + 8]; /* ADDR:PORT */
	char cause[CTM_XFER_ERRMSG_SIZE];
};

struct ctm_xfer_server {
	int fd;
	uint16_t port;
	SSL_CTX *ctx;
	struct ctm_xfer_key key;
};

static void set_msg(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

#define set_cause(c, ...) set_msg((c)->cause, sizeof((c)->cause), __VA_ARGS__)
#define set_errmsg(e, ...) set_msg((e), CTM_XFER_ERRMSG_SIZE, __VA_ARGS__)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* poll() one descriptor until EVENTS or TIMEOUT_MS (-1: forever), EINTR-safe. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t deadline = timeout_ms < 0 ? 0 : now_ms() + timeout_ms;
	int left = timeout_ms;
	int r;

	for (;;) {
		r = poll(&pfd, 1, left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
		if (timeout_ms >= 0) {
			left = (int)(deadline - now_ms());
			if (left < 0)
				left = 0;
		}
	}
}

static void put_u16(unsigned char *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	put_u16(p, v & 0xffff);
	put_u16(p + 2, v >> 16);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, v & 0xffffffff);
	put_u32(p + 4, v >> 32);
}

static uint16_t get_u16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const unsigned char *p)
{
	return get_u16(p) | (uint32_t)get_u16(p + 2) << 16;
}

static uint64_t get_u64(const unsigned char *p)
{
	return get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* OUT (PATH_MAX bytes) = A/B; -ENAMETOOLONG with C's cause set when it does not fit. */
static int join_path(struct conn *c, char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a, b);

	if (n < 0 || n >= PATH_MAX) {
		if (c)
			set_cause(c, "path %s/%s is too long", a, b);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* ---- Key ---- */

int ctm_xfer_key_derive(const void *secret, size_t len, struct ctm_xfer_key *key,
			char *errmsg)
{
	OSSL_PARAM params[4];
	EVP_KDF_CTX *kctx = NULL;
	EVP_KDF *kdf = NULL;
	int rv = -EIO;

	if (len < KEY_FILE_MIN) {
		set_errmsg(errmsg, "cluster key has %zu bytes, at least %d are needed", len,
			   KEY_FILE_MIN);
		return -EINVAL;
	}

	kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	if (!kdf)
		goto out;
	kctx = EVP_KDF_CTX_new(kdf);
	if (!kctx)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)hkdf_label,
						      sizeof(hkdf_label) - 1);
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, key->psk, sizeof(key->psk), params) <= 0)
		goto out;
	rv = 0;

out:
	if (rv < 0)
		set_errmsg(errmsg, "cannot derive the transfer key: OpenSSL HKDF failed");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rv;
}

int ctm_xfer_key_load(const char *path, struct ctm_xfer_key *key, char *errmsg)
{
	unsigned char *buf;
	size_t len = 0;
	ssize_t n;
	int fd, rv;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rv = -errno;
		set_errmsg(errmsg, "cannot open cluster key %s: %s", path, strerror(-rv));
		return rv;
	}
	buf = malloc(KEY_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		set_errmsg(errmsg, "cannot read cluster key %s: out of memory", path);
		return -ENOMEM;
	}

	for (;;) {
		n = read(fd, buf + len, KEY_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len > KEY_FILE_MAX)
			break;
	}
	if (n < 0) {
		rv = -errno;
		set_errmsg(errmsg, "cannot read cluster key %s: %s", path, strerror(-rv));
	} else if (len > KEY_FILE_MAX || len < KEY_FILE_MIN) {
		rv = -EINVAL;
		set_errmsg(errmsg, "cluster key %s has %s bytes: it must have %d to %d", path,
			   len > KEY_FILE_MAX ? "too many" : "too few", KEY_FILE_MIN,
			   KEY_FILE_MAX);
	} else {
		rv = ctm_xfer_key_derive(buf, len, key, errmsg);
	}

	OPENSSL_cleanse(buf, KEY_FILE_MAX + 1);
	free(buf);
	close(fd);
	return rv;
}

/* ---- Header fields ---- */

static bool name_char(char ch, bool slash_ok)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-' || (slash_ok && ch == '+');
}

int ctm_xfer_check_token(const char *token, char *errmsg)
{
	size_t len = token ? strlen(token) : 0;
	size_t i;

	if (len == 0 || len > CTM_XFER_TOKEN_MAX || token[0] == '.') {
		set_errmsg(errmsg, "invalid transfer token '%s': use 1 to %d characters of "
			   "A-Z a-z 0-9 _ . - not starting with '.'", token ? token : "",
			   CTM_XFER_TOKEN_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		if (!name_char(token[i], false)) {
			set_errmsg(errmsg, "invalid transfer token '%s': character %zu is not one "
				   "of A-Z a-z 0-9 _ . -", token, i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

int ctm_xfer_check_volume(const char *volume, char *errmsg)
{
	size_t len = volume ? strlen(volume) : 0;
	const char *p, *start;
	int components = 0;

	if (len == 0 || len > CTM_XFER_VOLUME_MAX)
		goto bad;
	start = volume;
	for (p = volume;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t clen = (size_t)(p - start);

			if (clen == 0 || start[0] == '.')
				goto bad;
			components++;
			if (*p == '\0')
				break;
			start = p + 1;
		} else if (!name_char(*p, true)) {
			goto bad;
		}
	}
	if (components > VOLUME_COMPONENTS_MAX)
		goto bad;
	return 0;

bad:
	set_errmsg(errmsg, "invalid volume path '%s': use a relative path of 1 to %d names "
		   "of A-Z a-z 0-9 _ . + - separated by '/', none starting with '.', at most "
		   "%d bytes", volume ? volume : "", VOLUME_COMPONENTS_MAX, CTM_XFER_VOLUME_MAX);
	return -EINVAL;
}

/* ---- TLS ---- */

/* A TLS 1.3 session that carries the pre-shared key of SSL's context. */
static SSL_SESSION *psk_session(SSL *ssl)
{
	const struct ctm_xfer_key *key = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, psk_cipher_id);
	SSL_SESSION *session;

	if (!cipher)
		return NULL;
	session = SSL_SESSION_new();
	if (!session)
		return NULL;
	if (!SSL_SESSION_set1_master_key(session, key->psk, sizeof(key->psk)) ||
	    !SSL_SESSION_set_cipher(session, cipher) ||
	    !SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION)) {
		SSL_SESSION_free(session);
		return NULL;
	}
	return session;
}

static int psk_use_session(SSL *ssl, const EVP_MD *md, const unsigned char **id,
			   size_t *idlen, SSL_SESSION **sessionp)
{
	SSL_SESSION *session = psk_session(ssl);

	if (!session)
		return 0;
	/* After a HelloRetryRequest only a key of the chosen hash may be offered. */
	if (md && EVP_MD_get_type(md) !=
		  EVP_MD_get_type(SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(session)))) {
		SSL_SESSION_free(session);
		*sessionp = NULL;
		*id = NULL;
		*idlen = 0;
		return 1;
	}
	*sessionp = session;
	*id = psk_identity;
	*idlen = sizeof(psk_identity) - 1;
	return 1;
}

static int psk_find_session(SSL *ssl, const unsigned char *id, size_t idlen,
			    SSL_SESSION **sessionp)
{
	*sessionp = NULL;
	if (idlen != sizeof(psk_identity) - 1 || memcmp(id, psk_identity, idlen) != 0)
		return 1; /* unknown identity: no key, so the handshake fails */
	*sessionp = psk_session(ssl);
	return *sessionp ? 1 : 0;
}

/* A TLS 1.3 PSK-only context; KEY must outlive it. */
static SSL_CTX *tls_context(const struct ctm_xfer_key *key, bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256")) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_app_data(ctx, (void *)key);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Fewer read() calls: OpenSSL reads ahead as much as its buffer takes. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, 128 * 1024);
	if (server)
		SSL_CTX_set_psk_find_session_callback(ctx, psk_find_session);
	else
		SSL_CTX_set_psk_use_session_callback(ctx, psk_use_session);
	return ctx;
}

/*
 * Send the TLS records waiting in the BIO pair. With WAIT false, stop
 * when the socket takes no more; used on error paths to deliver an alert.
 */
static int conn_flush(struct conn *c, bool wait)
{
	char *p;
	ssize_t n, sent;
	int rv;

	while ((n = BIO_nread0(c->out, &p)) > 0) {
		sent = send(c->fd, p, (size_t)n, MSG_NOSIGNAL);
		if (sent >= 0) {
			BIO_nread(c->out, &p, (int)sent);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			rv = -errno;
			set_cause(c, "sending failed: %s", strerror(-rv));
			return rv;
		}
		if (!wait)
			return 0;
		rv = wait_fd(c->fd, POLLOUT, c->stall_ms);
		if (rv < 0) {
			set_cause(c, "sending failed: %s", rv == -ETIMEDOUT ?
				  "the peer took no data within the stall timeout" : strerror(-rv));
			return rv;
		}
	}
	return 0;
}

/* Create the SSL object of C from CTX: reads from the socket, writes into a BIO pair. */
static int conn_attach(struct conn *c, SSL_CTX *ctx)
{
	BIO *in, *ssl_out;

	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		return -ENOMEM;
	in = BIO_new_socket(c->fd, BIO_NOCLOSE);
	if (!in)
		return -ENOMEM;
	if (!BIO_new_bio_pair(&ssl_out, OUT_BUFFER_SIZE, &c->out, 0)) {
		BIO_free(in);
		return -ENOMEM;
	}
	SSL_set_bio(c->ssl, in, ssl_out);
	return 0;
}

/*
 * Turn the outcome R of an SSL call into 0 (retry after waiting) or a
 * negative errno value with c->cause set. WHAT names the step.
 */
static int conn_ssl_error(struct conn *c, int r, const char *what)
{
	unsigned long e;
	char text[256];
	int err = SSL_get_error(c->ssl, r);
	int saved_errno = errno;
	int reason;

	switch (err) {
	case SSL_ERROR_WANT_READ:
		/* The peer may wait for our records (a handshake flight) first. */
		r = conn_flush(c, true);
		if (r < 0)
			return r;
		r = wait_fd(c->fd, POLLIN, c->stall_ms);
		break;
	case SSL_ERROR_WANT_WRITE:
		/* The BIO pair is full. */
		return conn_flush(c, true);
	case SSL_ERROR_ZERO_RETURN:
		set_cause(c, "%s failed: the peer closed the connection", what);
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		if (saved_errno == 0 || saved_errno == EPIPE)
			saved_errno = ECONNRESET;
		set_cause(c, "%s failed: %s", what, strerror(saved_errno));
		return -saved_errno;
	default:
		conn_flush(c, false); /* deliver the alert, if any */
		e = ERR_peek_last_error();
		reason = ERR_GET_REASON(e);
		ERR_error_string_n(e, text, sizeof(text));
		if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			set_cause(c, "%s failed: the peer closed the connection", what);
			return -ECONNRESET;
		}
		if (reason == SSL_R_BINDER_DOES_NOT_VERIFY ||
		    reason == SSL_R_TLSV1_ALERT_DECRYPT_ERROR ||
		    reason == SSL_R_NO_SHARED_CIPHER ||
		    reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE ||
		    reason == SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER) {
			set_cause(c, "%s failed: the peer does not use this cluster's key (%s)",
				  what, ERR_reason_error_string(e));
			return -EACCES;
		}
		set_cause(c, "%s failed: %s", what, e ? text : "unknown TLS error");
		return -EPROTO;
	}

	if (r == -ETIMEDOUT)
		set_cause(c, "%s failed: no data from the peer for %d ms", what, c->stall_ms);
	else if (r < 0)
		set_cause(c, "%s failed: %s", what, strerror(-r));
	return r;
}

static int conn_handshake(struct conn *c, bool server)
{
	int r, rv;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
		if (r == 1)
			return conn_flush(c, true);
		rv = conn_ssl_error(c, r, "TLS handshake");
		if (rv < 0)
			return rv;
	}
}

static int conn_write(struct conn *c, const void *buf, size_t len, const char *what)
{
	const unsigned char *p = buf;
	size_t done;
	int r, rv;

	while (len > 0) {
		ERR_clear_error();
		errno = 0;
		r = SSL_write_ex(c->ssl, p, len, &done);
		if (r == 1) {
			p += done;
			len -= done;
			continue;
		}
		rv = conn_ssl_error(c, r, what);
		if (rv < 0)
			return rv;
	}
	return conn_flush(c, true);
}

static int conn_read(struct conn *c, void *buf, size_t len, const char *what)
{
	unsigned char *p = buf;
	size_t done;
	int r, rv;

	while (len > 0) {
		ERR_clear_error();
		errno = 0;
		r = SSL_read_ex(c->ssl, p, len, &done);
		if (r == 1) {
			p += done;
			len -= done;
			continue;
		}
		rv = conn_ssl_error(c, r, what);
		if (rv < 0)
			return rv;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		/* One non-blocking close_notify; the peer does not wait for it. */
		ERR_clear_error();
		if (SSL_is_init_finished(c->ssl) && c->out &&
		    !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN)) {
			SSL_shutdown(c->ssl);
			conn_flush(c, false);
		}
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	BIO_free(c->out);
	c->out = NULL;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	ERR_clear_error();
}

/*
 * After a failure reply: send close_notify, end our direction and discard
 * what the sender still sends, for up to REASON_TIMEOUT_MS. Closing a
 * socket with unread data makes the kernel send a reset, which can discard
 * the reply before the sender reads it.
 */
static void linger(struct conn *c)
{
	char scratch[16384];
	int64_t deadline = now_ms() + REASON_TIMEOUT_MS;
	ssize_t n;

	ERR_clear_error();
	SSL_shutdown(c->ssl);
	conn_flush(c, false);
	shutdown(c->fd, SHUT_WR);
	for (;;) {
		n = recv(c->fd, scratch, sizeof(scratch), 0);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n == 0 || errno != EAGAIN)
			break;
		if (wait_fd(c->fd, POLLIN, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0)) < 0)
			break;
	}
	ERR_clear_error();
}

static void format_peer(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	/* Copies, because SA may be less aligned than the specific types. */
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in;

		memcpy(&in, sa, sizeof(in));
		inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host));
		port = ntohs(in.sin_port);
		snprintf(buf, size, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, sa, sizeof(in6));
		inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host));
		port = ntohs(in6.sin6_port);
		snprintf(buf, size, "[%s]:%u", host, port);
	} else {
		snprintf(buf, size, "?");
	}
}

/* ---- Messages ---- */

static int send_reply_kind(struct conn *c, int status, uint16_t kind, const char *message)
{
	unsigned char buf[REPLY_SIZE + REPLY_MESSAGE_MAX];
	size_t len = message ? strlen(message) : 0;

	if (len > REPLY_MESSAGE_MAX)
		len = REPLY_MESSAGE_MAX;
	put_u32(buf, (uint32_t)(status < 0 ? -status : status));
	put_u16(buf + 4, (uint16_t)len);
	put_u16(buf + 6, kind);
	if (len)
		memcpy(buf + REPLY_SIZE, message, len);
	return conn_write(c, buf, REPLY_SIZE + len, "sending the reply");
}

static int send_reply(struct conn *c, int status, const char *message)
{
	return send_reply_kind(c, status, REPLY_FINAL, message);
}

/*
 * Read a final reply into *STATUS (0 or a negative errno value) and
 * MESSAGE. Keep-alive replies in front of it reset the stall timeout.
 */
static int read_reply(struct conn *c, int *status, char *message, size_t size)
{
	unsigned char buf[REPLY_SIZE];
	char text[REPLY_MESSAGE_MAX + 1];
	uint32_t code;
	uint16_t kind;
	size_t len;
	int rv;

	do {
		rv = conn_read(c, buf, sizeof(buf), "reading the receiver's reply");
		if (rv < 0)
			return rv;
		kind = get_u16(buf + 6);
	} while (kind == REPLY_KEEPALIVE && get_u16(buf + 4) == 0);
	code = get_u32(buf);
	len = get_u16(buf + 4);
	if (len > REPLY_MESSAGE_MAX || code > 4095 || kind != REPLY_FINAL) {
		set_cause(c, "the receiver's reply is malformed");
		return -EPROTO;
	}
	rv = conn_read(c, text, len, "reading the receiver's reply");
	if (rv < 0)
		return rv;
	text[len] = '\0';
	*status = -(int)code;
	snprintf(message, size, "%s", text);
	return 0;
}

static int send_frame(struct conn *c, unsigned char *frame, uint32_t type, size_t len)
{
	put_u32(frame, type);
	put_u32(frame + 4, (uint32_t)len);
	return conn_write(c, frame, FRAME_HEADER_SIZE + len, "sending the archive");
}

/* ---- SHA-256 in a helper thread ---- */

/*
 * The SHA-256 of the stream runs in a thread of its own, next to the TLS
 * encryption or the extraction, so a transfer uses two CPUs when it can.
 * The caller submits buffers in stream order and must not change a buffer
 * before hasher_wait() returned for the sequence number of its submission.
 */
#define HASH_QUEUE 16

struct hasher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	EVP_MD_CTX *sha;
	const void *ptr[HASH_QUEUE];
	size_t len[HASH_QUEUE];
	uint64_t submitted, done;
	bool running, stop, failed;
};

static void *hasher_main(void *data)
{
	struct hasher *h = data;
	const void *ptr;
	size_t len;
	bool ok;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (h->done == h->submitted && !h->stop)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->done == h->submitted)
			break;
		ptr = h->ptr[h->done % HASH_QUEUE];
		len = h->len[h->done % HASH_QUEUE];
		pthread_mutex_unlock(&h->lock);
		ok = EVP_DigestUpdate(h->sha, ptr, len) == 1;
		pthread_mutex_lock(&h->lock);
		if (!ok)
			h->failed = true;
		h->done++;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static int hasher_start(struct hasher *h)
{
	memset(h, 0, sizeof(*h));
	h->sha = EVP_MD_CTX_new();
	if (!h->sha || !EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL))
		goto err;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if (pthread_create(&h->thread, NULL, hasher_main, h) != 0) {
		pthread_cond_destroy(&h->cond);
		pthread_mutex_destroy(&h->lock);
		goto err;
	}
	h->running = true;
	return 0;

err:
	EVP_MD_CTX_free(h->sha);
	h->sha = NULL;
	return -ENOMEM;
}

/* Queue PTR for hashing; returns its sequence number for hasher_wait(). */
static uint64_t hasher_submit(struct hasher *h, const void *ptr, size_t len)
{
	uint64_t seq;

	pthread_mutex_lock(&h->lock);
	while (h->submitted - h->done >= HASH_QUEUE)
		pthread_cond_wait(&h->cond, &h->lock);
	h->ptr[h->submitted % HASH_QUEUE] = ptr;
	h->len[h->submitted % HASH_QUEUE] = len;
	seq = ++h->submitted;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return seq;
}

/* Wait until every buffer up to sequence number SEQ is hashed. */
static void hasher_wait(struct hasher *h, uint64_t seq)
{
	pthread_mutex_lock(&h->lock);
	while (h->done < seq)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

/* Stop the thread after the queued buffers; DIGEST (may be NULL) gets the hash. */
static int hasher_stop(struct hasher *h, unsigned char *digest)
{
	bool failed;

	if (!h->running) {
		EVP_MD_CTX_free(h->sha);
		h->sha = NULL;
		return -EIO;
	}
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	h->running = false;
	failed = h->failed || (digest && !EVP_DigestFinal_ex(h->sha, digest, NULL));
	EVP_MD_CTX_free(h->sha);
	h->sha = NULL;
	return failed ? -EIO : 0;
}

/* ---- Sender ---- */

struct sender {
	struct conn conn;
	struct hasher hash;
	unsigned char *frames[2]; /* FRAME_HEADER_SIZE + FRAME_PAYLOAD_MAX each */
	uint64_t frame_seq[2];    /* hash sequence number of each frame's last use */
	unsigned char *frame;     /* the one gathering small pieces */
	size_t fill;              /* bytes gathered in frame, after its header */
	unsigned char *filebufs[2]; /* FILE_BUFFER_SIZE each, used in turn */
	uint64_t filebuf_seq[2];
	unsigned filebuf_next;
	unsigned char *zeros;     /* FILE_BUFFER_SIZE, never written */
	uint64_t bytes;
	uint64_t total;
	uint64_t entries;
	const struct ctm_xfer_opts *opts;
	int err;                /* first error of the stream, with conn.cause */
};

/*
 * Return the receiver's error if it sent one during the stream: a receiver
 * sends nothing before the END frame unless it failed.
 */
static int check_early_reply(struct sender *s)
{
	struct pollfd pfd = { .fd = s->conn.fd, .events = POLLIN };
	char message[REPLY_MESSAGE_MAX + 1];
	int status, rv;

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	rv = read_reply(&s->conn, &status, message, sizeof(message));
	if (rv < 0)
		return rv;
	if (status == 0) {
		set_cause(&s->conn, "the receiver replied before the end of the stream");
		return -EPROTO;
	}
	set_cause(&s->conn, "the receiver failed: %s", message);
	return status;
}

/* Send BUF as one DATA frame, without copying it. */
static int send_data_frame(struct sender *s, const void *buf, size_t len)
{
	unsigned char head[FRAME_HEADER_SIZE];
	int rv;

	rv = check_early_reply(s);
	if (rv < 0)
		return rv;

	hasher_submit(&s->hash, buf, len);
	put_u32(head, FRAME_DATA);
	put_u32(head + 4, (uint32_t)len);
	rv = conn_write(&s->conn, head, sizeof(head), "sending the archive");
	if (rv == 0)
		rv = conn_write(&s->conn, buf, len, "sending the archive");
	if (rv < 0)
		return rv;
	s->bytes += len;
	if (s->opts->progress) {
		rv = s->opts->progress(s->bytes, s->total, s->opts->progress_data);
		if (rv < 0) {
			set_cause(&s->conn, "aborted by the progress callback: %s", strerror(-rv));
			return rv;
		}
	}
	return 0;
}

/* Send the bytes gathered in s->frame, then gather into the other frame. */
static int sender_flush(struct sender *s)
{
	unsigned i = s->frame == s->frames[0] ? 0 : 1;
	size_t fill = s->fill;
	int rv;

	if (!fill)
		return 0;
	s->fill = 0;
	rv = send_data_frame(s, s->frame + FRAME_HEADER_SIZE, fill);
	s->frame_seq[i] = s->hash.submitted;
	s->frame = s->frames[!i];
	hasher_wait(&s->hash, s->frame_seq[!i]);
	return rv;
}

/* A buffer for the next read of file data, free of pending hashing. */
static unsigned char *sender_filebuf(struct sender *s)
{
	unsigned i = s->filebuf_next;

	s->filebuf_next = !i;
	hasher_wait(&s->hash, s->filebuf_seq[i]);
	return s->filebufs[i];
}

/* Record that everything submitted so far may point into BUF. */
static void sender_filebuf_used(struct sender *s, const unsigned char *buf)
{
	s->filebuf_seq[buf == s->filebufs[0] ? 0 : 1] = s->hash.submitted;
}

static bool sender_owns(const struct sender *s, const void *buf)
{
	const unsigned char *p = buf;
	unsigned i;

	for (i = 0; i < 2; i++) {
		if (p >= s->filebufs[i] && p < s->filebufs[i] + FILE_BUFFER_SIZE)
			return true;
	}
	return p >= s->zeros && p < s->zeros + FILE_BUFFER_SIZE;
}

/*
 * Queue LEN bytes of the stream. Small pieces (tar headers, small files)
 * are gathered into frames of up to FRAME_PAYLOAD_MAX bytes. Large ones go
 * out directly from BUF, which saves a copy of the file data.
 */
static int sender_data(struct sender *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t chunk;
	int rv;

	if (len < DIRECT_MIN) {
		if (s->fill + len > FRAME_PAYLOAD_MAX) {
			rv = sender_flush(s);
			if (rv < 0)
				return rv;
		}
		memcpy(s->frame + FRAME_HEADER_SIZE + s->fill, buf, len);
		s->fill += len;
		return 0;
	}

	rv = sender_flush(s);
	while (rv == 0 && len > 0) {
		chunk = len < FRAME_PAYLOAD_MAX ? len : FRAME_PAYLOAD_MAX;
		rv = send_data_frame(s, p, chunk);
		p += chunk;
		len -= chunk;
	}
	/* libarchive may reuse its own buffers as soon as this returns. */
	if (!sender_owns(s, buf))
		hasher_wait(&s->hash, s->hash.submitted);
	return rv;
}

static la_ssize_t archive_out(struct archive *a, void *data, const void *buf, size_t len)
{
	struct sender *s = data;
	int rv = sender_data(s, buf, len);

	if (rv < 0) {
		s->err = rv;
		archive_set_error(a, -rv, "%s", s->conn.cause);
		return -1;
	}
	return (la_ssize_t)len;
}

/* The error of a failed libarchive call: the stream's if it failed first. */
static int archive_failure(struct sender *s, struct archive *a, const char *what,
			   const char *path)
{
	int e = archive_errno(a);

	if (s->err < 0)
		return s->err;
	set_cause(&s->conn, "%s %s failed: %s", what, path,
		  archive_error_string(a) ? archive_error_string(a) : "unknown error");
	s->err = e > 0 ? -e : -EIO;
	return s->err;
}

/* Write LEN bytes of BUF (or zeros) as entry data; short writes are an error. */
static int write_entry_data(struct sender *s, struct archive *a, const void *buf, size_t len,
			    const char *path)
{
	la_ssize_t n;

	while (len > 0) {
		n = archive_write_data(a, buf, len);
		if (n < 0)
			return archive_failure(s, a, "writing", path);
		if (n == 0)
			return 0; /* the entry is full: the file grew while read */
		len -= (size_t)n;
		buf = (const unsigned char *)buf + n;
	}
	return 0;
}

static int write_zeros(struct sender *s, struct archive *a, int64_t count, const char *path)
{
	size_t chunk;
	int rv;

	while (count > 0) {
		chunk = count > FILE_BUFFER_SIZE ? FILE_BUFFER_SIZE : (size_t)count;
		rv = write_entry_data(s, a, s->zeros, chunk, path);
		if (rv < 0)
			return rv;
		count -= (int64_t)chunk;
	}
	return 0;
}

/* Copy LENGTH bytes of FD from OFFSET into the entry. */
static int copy_region(struct sender *s, struct archive *a, int fd, int64_t offset,
		       int64_t length, const char *path)
{
	unsigned char *buf;
	size_t chunk;
	ssize_t n;
	int rv;

	while (length > 0) {
		chunk = length > FILE_BUFFER_SIZE ? FILE_BUFFER_SIZE : (size_t)length;
		buf = sender_filebuf(s);
		n = pread(fd, buf, chunk, offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rv = -errno;
			set_cause(&s->conn, "reading %s failed: %s", path, strerror(-rv));
			return rv;
		}
		if (n == 0) /* the file shrank while read: the rest stays zero */
			return write_zeros(s, a, length, path);
		rv = write_entry_data(s, a, buf, (size_t)n, path);
		sender_filebuf_used(s, buf);
		if (rv < 0)
			return rv;
		offset += n;
		length -= n;
	}
	return 0;
}

/*
 * Write the data of a regular file. The pax writer stores only the data
 * regions of a sparse entry and skips the bytes written for its holes, so
 * zeros are written through the holes without being sent.
 */
static int copy_file_data(struct sender *s, struct archive *a, struct archive_entry *entry,
			  int fd, const char *path)
{
	int64_t size = archive_entry_size(entry);
	int64_t pos = 0, offset, length;
	int rv;

	if (archive_entry_sparse_reset(entry) == 0)
		return copy_region(s, a, fd, 0, size, path);

	while (archive_entry_sparse_next(entry, &offset, &length) == ARCHIVE_OK) {
		if (offset > pos) {
			rv = write_zeros(s, a, offset - pos, path);
			if (rv < 0)
				return rv;
		}
		rv = copy_region(s, a, fd, offset, length, path);
		if (rv < 0)
			return rv;
		pos = offset + length;
	}
	return 0;
}

static int send_one(struct sender *s, struct archive *a, struct archive *disk,
		    struct archive_entry_linkresolver *links, FTSENT *f, const char *name)
{
	struct archive_entry *entry, *spare = NULL;
	bool regular = S_ISREG(f->fts_statp->st_mode);
	int fd = -1;
	int rv = 0;

	if (S_ISSOCK(f->fts_statp->st_mode))
		return 0; /* sockets are created by their servers, never copied */

	entry = archive_entry_new2(a);
	if (!entry) {
		set_cause(&s->conn, "out of memory");
		return -ENOMEM;
	}
	archive_entry_copy_pathname(entry, name);
	archive_entry_copy_sourcepath(entry, f->fts_accpath);

	if (regular || S_ISDIR(f->fts_statp->st_mode)) {
		fd = open(f->fts_accpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			rv = -errno;
			set_cause(&s->conn, "opening %s failed: %s", f->fts_path, strerror(-rv));
			goto out;
		}
	}
	/*
	 * Looking for holes costs six lseek() calls per file; only a file with
	 * fewer blocks than its size can have one. NOTE: a file whose holes
	 * are outweighed by metadata blocks is sent without them (as zeros).
	 * File flags (chattr) are not restored, so they are not read either.
	 */
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_FFLAGS |
				       (regular && f->fts_statp->st_blocks * 512 <
					f->fts_statp->st_size ? 0 : ARCHIVE_READDISK_NO_SPARSE));
	if (archive_read_disk_entry_from_file(disk, entry, fd, f->fts_statp) < ARCHIVE_WARN) {
		rv = archive_failure(s, disk, "reading the metadata of", f->fts_path);
		goto out;
	}

	archive_entry_linkify(links, &entry, &spare);
	if (!entry)
		goto out;
	if (archive_write_header(a, entry) < ARCHIVE_WARN) {
		rv = archive_failure(s, a, "writing the header of", f->fts_path);
		goto out;
	}
	s->entries++;
	if (regular && archive_entry_size(entry) > 0 && !archive_entry_hardlink(entry)) {
		rv = copy_file_data(s, a, entry, fd, f->fts_path);
		if (rv < 0)
			goto out;
	}
	if (archive_write_finish_entry(a) < ARCHIVE_WARN)
		rv = archive_failure(s, a, "finishing", f->fts_path);

out:
	if (fd >= 0)
		close(fd);
	archive_entry_free(entry);
	archive_entry_free(spare);
	return rv;
}

/* Entry name of F below ROOT: "." for the root itself. */
static const char *entry_name(const FTSENT *f, size_t rootlen)
{
	if (f->fts_level == 0)
		return ".";
	return f->fts_path + rootlen + (f->fts_path[rootlen] == '/' ? 1 : 0);
}

/* Walk DIR and send every entry; with A NULL, only add up the size estimate. */
static int walk(struct sender *s, const char *dir, struct archive *a, struct archive *disk,
		struct archive_entry_linkresolver *links)
{
	char *paths[] = { (char *)dir, NULL };
	size_t rootlen = strlen(dir);
	FTSENT *f;
	FTS *fts;
	int rv = 0;

	while (rootlen > 1 && dir[rootlen - 1] == '/')
		rootlen--;
	fts = fts_open(paths, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
	if (!fts) {
		rv = -errno;
		set_cause(&s->conn, "cannot walk %s: %s", dir, strerror(-rv));
		return rv;
	}
	while (rv == 0) {
		errno = 0;
		f = fts_read(fts);
		if (!f) {
			if (errno != 0) { /* rather than the end of the walk */
				rv = -errno;
				set_cause(&s->conn, "cannot walk %s: %s", dir, strerror(-rv));
			}
			break;
		}
		switch (f->fts_info) {
		case FTS_DP:
			break;
		case FTS_DNR:
		case FTS_ERR:
		case FTS_NS:
			rv = -f->fts_errno;
			set_cause(&s->conn, "cannot read %s: %s", f->fts_path,
				  strerror(f->fts_errno));
			break;
		default:
			if (!a) {
				const struct stat *st = f->fts_statp;
				uint64_t data = (uint64_t)st->st_blocks * 512;

				s->entries++;
				s->total += 1536; /* header blocks, pax extension included */
				if (S_ISREG(st->st_mode))
					s->total += ((data < (uint64_t)st->st_size ? data :
						      (uint64_t)st->st_size) + 511) / 512 * 512;
				break;
			}
			rv = send_one(s, a, disk, links, f, entry_name(f, rootlen));
		}
	}
	fts_close(fts);
	return rv;
}

static int send_archive(struct sender *s, const char *dir)
{
	struct archive_entry_linkresolver *links = NULL;
	struct archive *disk = NULL, *a = NULL;
	int rv = -ENOMEM;

	a = archive_write_new();
	disk = archive_read_disk_new();
	links = archive_entry_linkresolver_new();
	if (!a || !disk || !links) {
		set_cause(&s->conn, "out of memory");
		goto out;
	}
	archive_read_disk_set_symlink_physical(disk);
	/*
	 * Names are stored as the bytes they are, whatever the locale, and the
	 * pax header hdrcharset=BINARY makes the receiver take them as bytes
	 * too, without an iconv module (which its chrooted thread could not
	 * load).
	 */
	if (archive_write_set_format_pax(a) != ARCHIVE_OK ||
	    archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK) {
		rv = archive_failure(s, a, "setting up", "the archive");
		goto out;
	}
	archive_entry_linkresolver_set_strategy(links, archive_format(a));
	if (archive_write_open(a, s, NULL, archive_out, NULL) != ARCHIVE_OK) {
		rv = archive_failure(s, a, "opening", "the archive");
		goto out;
	}

	s->entries = 0;
	rv = walk(s, dir, a, disk, links);
	if (rv < 0)
		goto out;
	if (archive_write_close(a) != ARCHIVE_OK)
		rv = archive_failure(s, a, "closing", "the archive");

out:
	archive_entry_linkresolver_free(links);
	archive_read_free(disk);
	archive_write_free(a);
	return rv;
}

/* Connect to HOST:PORT within the connect timeout; fills c->fd and c->peer. */
static int conn_connect(struct conn *c, const char *host, uint16_t port, int timeout_ms)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	char service[8];
	int64_t deadline = now_ms() + timeout_ms;
	socklen_t len;
	int fd = -1, rv, soerr, one = 1;

	snprintf(service, sizeof(service), "%u", port);
	snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	rv = getaddrinfo(host, service, &hints, &res);
	if (rv != 0) {
		set_cause(c, "cannot resolve %s: %s", host, gai_strerror(rv));
		return -EHOSTUNREACH;
	}
	rv = -EHOSTUNREACH;
	set_cause(c, "no address found for %s", host);
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			rv = -errno;
			set_cause(c, "socket() failed: %s", strerror(-rv));
			continue;
		}
		format_peer(ai->ai_addr, c->peer, sizeof(c->peer));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		/* An interrupted connect() goes on in the background, like EINPROGRESS. */
		if (errno != EINPROGRESS && errno != EINTR) {
			rv = -errno;
			goto next;
		}
		rv = wait_fd(fd, POLLOUT, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0));
		if (rv < 0)
			goto next;
		len = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr == 0)
			break;
		rv = -soerr;
next:
		set_cause(c, "connect failed: %s", rv == -ETIMEDOUT ?
			  "no answer within the connect timeout" : strerror(-rv));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return rv;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	return 0;
}

/* The sender's side from the TCP connection to the final reply. */
static int sender_run(struct sender *s, SSL_CTX *ctx, const char *host, uint16_t port,
		      const struct ctm_xfer_header *h, const char *dir, ctm_xfer_read_fn read_fn,
		      void *read_data, int connect_ms)
{
	struct conn *c = &s->conn;
	unsigned char hello[HELLO_SIZE + CTM_XFER_TOKEN_MAX + CTM_XFER_VOLUME_MAX];
	unsigned char digest[32];
	char message[REPLY_MESSAGE_MAX + 1];
	size_t tlen = strlen(h->token), vlen = strlen(h->volume);
	int status, rv;
	ssize_t n;

	rv = conn_connect(c, host, port, connect_ms);
	if (rv < 0)
		return rv;
	if (conn_attach(c, ctx) < 0) {
		set_cause(c, "cannot set up TLS: out of memory");
		return -ENOMEM;
	}
	rv = conn_handshake(c, false);
	if (rv < 0)
		return rv;

	/* Header, and the receiver's acceptance. */
	memcpy(hello, HELLO_MAGIC, 4);
	put_u16(hello + 4, PROTOCOL_VERSION);
	put_u16(hello + 6, (uint16_t)tlen);
	put_u16(hello + 8, (uint16_t)vlen);
	put_u16(hello + 10, 0);
	put_u32(hello + 12, h->ctid);
	put_u64(hello + 16, h->expected_size);
	memcpy(hello + HELLO_SIZE, h->token, tlen);
	memcpy(hello + HELLO_SIZE + tlen, h->volume, vlen);
	rv = conn_write(c, hello, HELLO_SIZE + tlen + vlen, "sending the header");
	if (rv < 0)
		return rv;
	rv = read_reply(c, &status, message, sizeof(message));
	if (rv < 0)
		return rv;
	if (status < 0) {
		set_cause(c, "the receiver rejected the transfer: %s", message);
		return status;
	}

	/* The archive. */
	if (hasher_start(&s->hash) < 0) {
		set_cause(c, "cannot start the SHA-256 thread");
		return -ENOMEM;
	}
	if (dir) {
		rv = send_archive(s, dir);
	} else {
		for (;;) {
			unsigned char *buf = sender_filebuf(s);

			n = read_fn(buf, FILE_BUFFER_SIZE, read_data);
			if (n <= 0) {
				rv = (int)n;
				if (rv < 0)
					set_cause(c, "reading the archive failed: %s",
						  strerror((int)-n));
				break;
			}
			rv = sender_data(s, buf, (size_t)n);
			sender_filebuf_used(s, buf);
			if (rv < 0)
				break;
		}
	}
	if (rv == 0)
		rv = sender_flush(s);
	if (hasher_stop(&s->hash, digest) < 0 && rv == 0) {
		set_cause(c, "SHA-256 failed");
		rv = -EIO;
	}
	if (rv < 0)
		return rv;

	/* End frame, and the outcome. */
	memcpy(s->frame + FRAME_HEADER_SIZE, digest, 32);
	put_u64(s->frame + FRAME_HEADER_SIZE + 32, s->bytes);
	put_u64(s->frame + FRAME_HEADER_SIZE + 40, s->entries);
	rv = send_frame(c, s->frame, FRAME_END, END_PAYLOAD_SIZE);
	if (rv < 0)
		return rv;
	rv = read_reply(c, &status, message, sizeof(message));
	if (rv < 0)
		return rv;
	if (status < 0) {
		set_cause(c, "the receiver failed: %s", message);
		return status;
	}
	memcpy(s->frame, digest, 32); /* kept for the result */
	return 0;
}

static int send_common(const struct ctm_xfer_key *key, const char *host, uint16_t port,
		       const struct ctm_xfer_header *header, const char *dir,
		       ctm_xfer_read_fn read_fn, void *read_data, const struct ctm_xfer_opts *opts,
		       struct ctm_xfer_result *result, char *errmsg)
{
	static const struct ctm_xfer_opts defaults;
	struct ctm_xfer_header h = *header;
	struct sender s = { .conn = { .fd = -1 } };
	struct ctm_xfer_key keycopy = *key;
	char message[REPLY_MESSAGE_MAX + 1];
	const char *volume = header->volume ? header->volume : "";
	struct stat st;
	SSL_CTX *ctx = NULL;
	int connect_ms, status, rv;

	if (!opts)
		opts = &defaults;
	s.opts = opts;
	s.conn.stall_ms = opts->stall_timeout_ms > 0 ? opts->stall_timeout_ms :
			  CTM_XFER_STALL_TIMEOUT_MS;
	connect_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms :
		     CTM_XFER_CONNECT_TIMEOUT_MS;
	snprintf(s.conn.peer, sizeof(s.conn.peer), "%s:%u", host, port);

	rv = ctm_xfer_check_token(h.token, s.conn.cause);
	if (rv == 0)
		rv = ctm_xfer_check_volume(h.volume, s.conn.cause);
	if (rv == 0 && dir && stat(dir, &st) < 0) {
		rv = -errno;
		set_cause(&s.conn, "cannot read %s: %s", dir, strerror(-rv));
	} else if (rv == 0 && dir && !S_ISDIR(st.st_mode)) {
		rv = -ENOTDIR;
		set_cause(&s.conn, "%s is not a directory", dir);
	}
	if (rv < 0)
		goto out;

	rv = -ENOMEM;
	s.frames[0] = malloc(FRAME_HEADER_SIZE + FRAME_PAYLOAD_MAX);
	s.frames[1] = malloc(FRAME_HEADER_SIZE + FRAME_PAYLOAD_MAX);
	s.frame = s.frames[0];
	s.filebufs[0] = malloc(FILE_BUFFER_SIZE);
	s.filebufs[1] = malloc(FILE_BUFFER_SIZE);
	s.zeros = calloc(1, FILE_BUFFER_SIZE);
	ctx = tls_context(&keycopy, false);
	if (!s.frames[0] || !s.frames[1] || !s.filebufs[0] || !s.filebufs[1] || !s.zeros ||
	    !ctx) {
		set_cause(&s.conn, "out of memory");
		goto out;
	}

	/*
	 * Estimate first, so the receiver can check space and progress has a
	 * total. It costs a second walk of the tree, so a caller that knows
	 * the size and wants no progress skips it.
	 */
	if (dir && (h.expected_size == 0 || opts->progress)) {
		rv = walk(&s, dir, NULL, NULL, NULL);
		if (rv < 0)
			goto out;
		if (h.expected_size == 0)
			h.expected_size = s.total;
	}

	rv = sender_run(&s, ctx, host, port, &h, dir, read_fn, read_data, connect_ms);
	if (s.hash.running)
		hasher_stop(&s.hash, NULL);
	if (rv < 0 && s.conn.ssl && rv != -EACCES && SSL_is_init_finished(s.conn.ssl)) {
		/* A receiver that failed first sends its error before it closes. */
		int saved = rv;
		char cause[sizeof(s.conn.cause)];

		memcpy(cause, s.conn.cause, sizeof(cause));
		s.conn.stall_ms = REASON_TIMEOUT_MS;
		if (read_reply(&s.conn, &status, message, sizeof(message)) == 0 && status < 0) {
			rv = status;
			set_cause(&s.conn, "the receiver failed: %s", message);
		} else {
			rv = saved;
			memcpy(s.conn.cause, cause, sizeof(cause));
		}
	}
	conn_close(&s.conn);

	if (rv == 0 && result) {
		result->archive_bytes = s.bytes;
		result->entries = s.entries;
		memcpy(result->sha256, s.frame, 32);
	}

out:
	if (rv < 0)
		set_errmsg(errmsg, "cannot send volume %s to %s: %s", volume, s.conn.peer,
			   s.conn.cause);
	conn_close(&s.conn);
	SSL_CTX_free(ctx);
	free(s.frames[0]);
	free(s.frames[1]);
	free(s.filebufs[0]);
	free(s.filebufs[1]);
	free(s.zeros);
	OPENSSL_cleanse(&keycopy, sizeof(keycopy));
	return rv;
}

int ctm_xfer_send(const struct ctm_xfer_key *key, const char *host, uint16_t port,
		  const struct ctm_xfer_header *header, const char *dir,
		  const struct ctm_xfer_opts *opts, struct ctm_xfer_result *result,
		  char *errmsg)
{
	return send_common(key, host, port, header, dir, NULL, NULL, opts, result, errmsg);
}

int ctm_xfer_send_stream(const struct ctm_xfer_key *key, const char *host, uint16_t port,
			 const struct ctm_xfer_header *header, ctm_xfer_read_fn read_fn,
			 void *read_data, const struct ctm_xfer_opts *opts,
			 struct ctm_xfer_result *result, char *errmsg)
{
	return send_common(key, host, port, header, NULL, read_fn, read_data, opts, result,
			   errmsg);
}

/* ---- Receiver ---- */

int ctm_xfer_server_new(const struct ctm_xfer_key *key, const char *addr, uint16_t port,
			struct ctm_xfer_server **serverp, char *errmsg)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct ctm_xfer_server *server;
	socklen_t len;
	int one = 1, rv;

	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		len = sizeof(*in);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		len = sizeof(*in6);
	} else {
		set_errmsg(errmsg, "cannot listen on '%s': not a numeric IPv4 or IPv6 address",
			   addr);
		return -EINVAL;
	}

	server = calloc(1, sizeof(*server));
	if (!server) {
		set_errmsg(errmsg, "cannot listen on %s:%u: out of memory", addr, port);
		return -ENOMEM;
	}
	server->key = *key;
	server->ctx = tls_context(&server->key, true);
	if (!server->ctx) {
		rv = -EIO;
		set_errmsg(errmsg, "cannot listen on %s:%u: cannot set up TLS", addr, port);
		goto err_free;
	}
	server->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (server->fd < 0) {
		rv = -errno;
		goto err_msg;
	}
	setsockopt(server->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(server->fd, (struct sockaddr *)&ss, len) < 0 || listen(server->fd, 8) < 0) {
		rv = -errno;
		goto err_close;
	}
	len = sizeof(ss);
	if (getsockname(server->fd, (struct sockaddr *)&ss, &len) < 0) {
		rv = -errno;
		goto err_close;
	}
	server->port = ntohs(ss.ss_family == AF_INET ? in->sin_port : in6->sin6_port);
	*serverp = server;
	return 0;

err_close:
	close(server->fd);
err_msg:
	set_errmsg(errmsg, "cannot listen on %s:%u: %s", addr, port, strerror(-rv));
err_free:
	SSL_CTX_free(server->ctx);
	OPENSSL_cleanse(&server->key, sizeof(server->key));
	free(server);
	return rv;
}

uint16_t ctm_xfer_server_port(const struct ctm_xfer_server *server)
{
	return server->port;
}

void ctm_xfer_server_free(struct ctm_xfer_server *server)
{
	if (!server)
		return;
	close(server->fd);
	SSL_CTX_free(server->ctx);
	OPENSSL_cleanse(&server->key, sizeof(server->key));
	free(server);
}

/* Frame buffers of the receiver: libarchive reads one while others are hashed. */
#define RECEIVE_RING 4

struct receiver {
	struct conn conn;
	struct hasher hash;
	unsigned char *ring[RECEIVE_RING]; /* FRAME_PAYLOAD_MAX each */
	uint64_t ring_seq[RECEIVE_RING];   /* hash sequence number of each buffer */
	unsigned ring_next;
	unsigned char *buf;                /* the buffer libarchive reads */
	const struct ctm_xfer_opts *opts;
	uint64_t expected_size;
	uint64_t bytes;
	uint64_t entries;
	bool ended;
	unsigned char end[END_PAYLOAD_SIZE];
	int err;
	char token[CTM_XFER_TOKEN_MAX + 1];
	char volume[CTM_XFER_VOLUME_MAX + 1];
};

/* Read the next frame into r->buf; returns its payload length, 0 at END. */
static ssize_t receive_frame(struct receiver *r)
{
	unsigned char head[FRAME_HEADER_SIZE];
	uint32_t type, len;
	unsigned slot;
	int rv;

	if (r->ended)
		return 0;
	rv = conn_read(&r->conn, head, sizeof(head), "receiving the archive");
	if (rv < 0)
		return rv;
	type = get_u32(head);
	len = get_u32(head + 4);
	if (type == FRAME_END && len == END_PAYLOAD_SIZE) {
		rv = conn_read(&r->conn, r->end, len, "receiving the archive");
		if (rv < 0)
			return rv;
		r->ended = true;
		return 0;
	}
	if (type != FRAME_DATA || len == 0 || len > FRAME_PAYLOAD_MAX) {
		set_cause(&r->conn, "malformed frame (type %u, %u bytes) in the stream", type, len);
		return -EPROTO;
	}
	slot = r->ring_next;
	r->ring_next = (slot + 1) % RECEIVE_RING;
	hasher_wait(&r->hash, r->ring_seq[slot]);
	r->buf = r->ring[slot];
	rv = conn_read(&r->conn, r->buf, len, "receiving the archive");
	if (rv < 0)
		return rv;
	r->ring_seq[slot] = hasher_submit(&r->hash, r->buf, len);
	r->bytes += len;
	if (r->opts->progress) {
		rv = r->opts->progress(r->bytes, r->expected_size, r->opts->progress_data);
		if (rv < 0) {
			set_cause(&r->conn, "aborted by the progress callback: %s", strerror(-rv));
			return rv;
		}
	}
	return (ssize_t)len;
}

static la_ssize_t archive_in(struct archive *a, void *data, const void **buf)
{
	struct receiver *r = data;
	ssize_t n = receive_frame(r);

	if (n < 0) {
		r->err = (int)n;
		archive_set_error(a, (int)-n, "%s", r->conn.cause);
		return -1;
	}
	*buf = r->buf;
	return n;
}

/* Reject entry paths that are absolute or climb with "..". */
static int check_entry_path(struct receiver *r, const char *path, const char *what)
{
	const char *p = path;

	if (!path || !*path) {
		set_cause(&r->conn, "an archive entry has an empty %s", what);
		return -EINVAL;
	}
	if (path[0] == '/') {
		set_cause(&r->conn, "archive entry %s '%s' is absolute", what, path);
		return -EINVAL;
	}
	while (*p) {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0')) {
			set_cause(&r->conn, "archive entry %s '%s' contains '..'", what, path);
			return -EINVAL;
		}
		p = strchr(p, '/');
		if (!p)
			break;
		p++;
	}
	return 0;
}

/*
 * The folders this extraction created, by normalised path. An entry is
 * extracted only below one of them (or the root), so no entry is ever
 * written through a symlink or a file that an earlier entry created.
 */
struct dir_set {
	char **slots;
	size_t size;  /* a power of two */
	size_t count;
};

static uint64_t hash_path(const char *path)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*path)
		h = (h ^ (unsigned char)*path++) * 1099511628211ULL;
	return h;
}

static bool dir_set_contains(const struct dir_set *set, const char *path)
{
	size_t i;

	if (!set->size)
		return false;
	for (i = hash_path(path) & (set->size - 1); set->slots[i]; i = (i + 1) & (set->size - 1)) {
		if (strcmp(set->slots[i], path) == 0)
			return true;
	}
	return false;
}

static int dir_set_add(struct dir_set *set, const char *path)
{
	char **old = set->slots;
	size_t old_size = set->size, i, j;

	if (dir_set_contains(set, path))
		return 0;
	if ((set->count + 1) * 2 > set->size) {
		set->size = old_size ? old_size * 2 : 1024;
		set->slots = calloc(set->size, sizeof(*set->slots));
		if (!set->slots) {
			set->slots = old;
			set->size = old_size;
			return -ENOMEM;
		}
		for (j = 0; j < old_size; j++) {
			if (!old[j])
				continue;
			for (i = hash_path(old[j]) & (set->size - 1); set->slots[i];
			     i = (i + 1) & (set->size - 1))
				;
			set->slots[i] = old[j];
		}
		free(old);
	}
	for (i = hash_path(path) & (set->size - 1); set->slots[i]; i = (i + 1) & (set->size - 1))
		;
	set->slots[i] = strdup(path);
	if (!set->slots[i])
		return -ENOMEM;
	set->count++;
	return 0;
}

static void dir_set_clear(struct dir_set *set)
{
	size_t i;

	for (i = 0; i < set->size; i++)
		free(set->slots[i]);
	free(set->slots);
	memset(set, 0, sizeof(*set));
}

/*
 * Normalise PATH into OUT (PATH_MAX bytes): no "." components, no empty
 * ones, no trailing '/'; the root becomes "". Then check that its parent
 * is the root or a folder in DIRS. WHAT names the field for errors.
 */
static int normalise_entry_path(struct receiver *r, const struct dir_set *dirs,
				const char *path, const char *what, char *out)
{
	const char *p = path, *end;
	size_t len = 0, clen;
	char *slash;

	while (*p) {
		end = strchr(p, '/');
		clen = end ? (size_t)(end - p) : strlen(p);
		if (clen == 0 || (clen == 1 && p[0] == '.')) {
			/* empty or "." component: skip */
		} else if (len + clen + 2 > PATH_MAX) {
			set_cause(&r->conn, "archive entry %s '%s' is too long", what, path);
			return -ENAMETOOLONG;
		} else {
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, clen);
			len += clen;
		}
		p += clen;
		if (*p == '/')
			p++;
	}
	out[len] = '\0';

	slash = strrchr(out, '/');
	if (slash) {
		*slash = '\0';
		if (!dir_set_contains(dirs, out)) {
			set_cause(&r->conn, "archive entry %s '%s' is not below a folder that the "
				  "archive created before it", what, path);
			*slash = '/';
			return -EINVAL;
		}
		*slash = '/';
	}
	return 0;
}

static int disk_failure(struct receiver *r, struct archive *a, const char *what,
			const char *path)
{
	int e = archive_errno(a);

	if (r->err < 0)
		return r->err;
	set_cause(&r->conn, "%s %s failed: %s", what, path,
		  archive_error_string(a) ? archive_error_string(a) : "unknown error");
	r->err = e > 0 ? -e : -EIO;
	return r->err;
}

/* OUT = DIR/PATH, or DIR alone for the root "". */
static int prefix_path(struct receiver *r, const char *dir, const char *path, char *out)
{
	if (!*path) {
		snprintf(out, PATH_MAX, "%s", dir);
		return 0;
	}
	return join_path(&r->conn, out, dir, path);
}

static int extract_entry(struct receiver *r, struct archive *in, struct archive *disk,
			 struct dir_set *dirs, struct archive_entry *entry, const char *dir)
{
	char name[PATH_MAX], path[PATH_MAX], full[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
	const char *hardlink = archive_entry_hardlink(entry);
	const void *buf;
	size_t size;
	la_int64_t offset;
	int rv, ret;

	snprintf(name, sizeof(name), "%s", archive_entry_pathname(entry) ?
		 archive_entry_pathname(entry) : "");
	rv = check_entry_path(r, archive_entry_pathname(entry), "path");
	if (rv == 0)
		rv = normalise_entry_path(r, dirs, name, "path", path);
	if (rv == 0)
		rv = prefix_path(r, dir, path, full);
	if (rv == 0 && hardlink) {
		rv = check_entry_path(r, hardlink, "hard link target");
		if (rv == 0)
			rv = normalise_entry_path(r, dirs, hardlink, "hard link target", link);
		if (rv == 0)
			rv = prefix_path(r, dir, link, target);
		if (rv == 0)
			archive_entry_copy_hardlink(entry, target);
	}
	if (rv < 0)
		return rv;
	archive_entry_copy_pathname(entry, full);
	if (!hardlink && archive_entry_filetype(entry) == AE_IFDIR) {
		rv = dir_set_add(dirs, path);
		if (rv < 0) {
			set_cause(&r->conn, "out of memory");
			return rv;
		}
	}

	if (archive_write_header(disk, entry) != ARCHIVE_OK)
		return disk_failure(r, disk, "creating", name);
	r->entries++;
	if (archive_entry_size(entry) > 0) {
		while ((ret = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
			if (archive_write_data_block(disk, buf, size, offset) != ARCHIVE_OK)
				return disk_failure(r, disk, "writing", name);
		}
		if (ret != ARCHIVE_EOF)
			return disk_failure(r, in, "reading the data of", name);
	}
	if (archive_write_finish_entry(disk) != ARCHIVE_OK)
		return disk_failure(r, disk, "finishing", name);
	return 0;
}

/*
 * ARCHIVE_EXTRACT_SECURE_SYMLINKS is left out: it opens and stats every
 * component of every entry's path, which tripled the receiver's system
 * calls on a root file system of small files. The folder set of
 * normalise_entry_path() gives the same guarantee in memory, and the
 * extraction thread runs chrooted into the transfer folder as well.
 */
#define EXTRACT_FLAGS (ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | \
		       ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR | \
		       ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | \
		       ARCHIVE_EXTRACT_NO_OVERWRITE)

/* Extract the stream into DIR (relative to the working folder) and check its SHA-256. */
static int extract(struct receiver *r, const char *dir)
{
	struct archive *in = NULL, *disk = NULL;
	struct dir_set dirs = { 0 };
	struct archive_entry *entry;
	unsigned char digest[32];
	ssize_t n;
	int ret, rv = -ENOMEM;

	in = archive_read_new();
	disk = archive_write_disk_new();
	if (!in || !disk) {
		set_cause(&r->conn, "out of memory");
		goto out;
	}
	/* No user lookup is set, so uid and gid are restored as numbers. */
	archive_write_disk_set_options(disk, EXTRACT_FLAGS);
	archive_read_support_format_tar(in);
	if (archive_read_open(in, r, NULL, archive_in, NULL) != ARCHIVE_OK) {
		rv = disk_failure(r, in, "opening", "the archive");
		goto out;
	}

	rv = 0;
	while (rv == 0 && (ret = archive_read_next_header(in, &entry)) == ARCHIVE_OK)
		rv = extract_entry(r, in, disk, &dirs, entry, dir);
	if (rv == 0 && ret != ARCHIVE_EOF)
		rv = disk_failure(r, in, "reading", "the archive");
	if (rv == 0 && archive_write_close(disk) != ARCHIVE_OK)
		rv = disk_failure(r, disk, "setting the folder metadata of", "the volume");
	if (rv < 0)
		goto out;

	/* The tar end blocks may leave frames unread before END. */
	while ((n = receive_frame(r)) > 0)
		;
	if (n < 0) {
		rv = (int)n;
		goto out;
	}
	if (hasher_stop(&r->hash, digest) < 0) {
		set_cause(&r->conn, "SHA-256 failed");
		rv = -EIO;
		goto out;
	}
	if (memcmp(digest, r->end, 32) != 0 || get_u64(r->end + 32) != r->bytes) {
		set_cause(&r->conn, "the SHA-256 of the %llu bytes received does not match the "
			  "sender's (%llu bytes)", (unsigned long long)r->bytes,
			  (unsigned long long)get_u64(r->end + 32));
		rv = -EBADMSG;
		goto out;
	}
	memcpy(r->end, digest, 32);

out:
	dir_set_clear(&dirs);
	archive_read_free(in);
	archive_write_free(disk);
	return rv;
}

struct extract_job {
	struct receiver *r;
	const char *dir;
	int rv;
};

static void *extract_thread(void *data)
{
	struct extract_job *job = data;

	if (unshare(CLONE_FS) < 0 || chdir(job->dir) < 0 || chroot(".") < 0) {
		job->rv = -errno;
		set_cause(&job->r->conn, "cannot enter %s: %s", job->dir, strerror(-job->rv));
		return NULL;
	}
	job->rv = extract(job->r, "volume");
	return NULL;
}

/*
 * Extract the stream into DIR/volume from a thread whose working folder
 * and root are DIR, so even a symlink that the checks missed cannot lead
 * a write out of the transfer folder. unshare(CLONE_FS) gives that thread
 * a working folder and root of its own, and the rest of the process keeps
 * its own.
 */
static int extract_in(struct receiver *r, const char *dir)
{
	struct extract_job job = { .r = r, .dir = dir };
	pthread_t thread;

	if (pthread_create(&thread, NULL, extract_thread, &job) != 0) {
		set_cause(&r->conn, "cannot start the extraction thread");
		return -ENOMEM;
	}
	pthread_join(thread, NULL);
	return job.rv;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

/* Remove PATH and everything below it, without following symlinks. */
static int remove_tree(const char *path)
{
	if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rv = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rv = -errno;
	close(fd);
	return rv;
}

/* Create the folders above STORAGE/VOLUME; fills PARENT with the last one. */
static int make_parents(struct receiver *r, const char *storage, const char *volume,
			char *parent)
{
	char path[PATH_MAX];
	char *slash;

	if (join_path(&r->conn, path, storage, volume) < 0)
		return -ENAMETOOLONG;
	slash = path + strlen(storage);
	while ((slash = strchr(slash + 1, '/')) != NULL) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			int rv = -errno;

			set_cause(&r->conn, "cannot create %s: %s", path, strerror(-rv));
			return rv;
		}
		*slash = '/';
	}
	memcpy(parent, path, sizeof(path));
	*strrchr(parent, '/') = '\0';
	return 0;
}

/* Read and check the header; fills H, whose strings point into R. */
static int read_hello(struct receiver *r, struct ctm_xfer_header *h)
{
	char *token = r->token, *volume = r->volume;
	unsigned char buf[HELLO_SIZE];
	size_t tlen, vlen;
	int rv;

	rv = conn_read(&r->conn, buf, sizeof(buf), "reading the header");
	if (rv < 0)
		return rv;
	tlen = get_u16(buf + 6);
	vlen = get_u16(buf + 8);
	if (memcmp(buf, HELLO_MAGIC, 4) != 0 || get_u16(buf + 4) != PROTOCOL_VERSION ||
	    tlen > CTM_XFER_TOKEN_MAX || vlen > CTM_XFER_VOLUME_MAX) {
		set_cause(&r->conn, "the header is not one of protocol version %d",
			  PROTOCOL_VERSION);
		return -EPROTO;
	}
	rv = conn_read(&r->conn, token, tlen, "reading the header");
	if (rv == 0)
		rv = conn_read(&r->conn, volume, vlen, "reading the header");
	if (rv < 0)
		return rv;
	token[tlen] = '\0';
	volume[vlen] = '\0';
	h->ctid = get_u32(buf + 12);
	h->expected_size = get_u64(buf + 16);
	h->token = token;
	h->volume = volume;

	rv = ctm_xfer_check_token(token, r->conn.cause);
	if (rv == 0)
		rv = ctm_xfer_check_volume(volume, r->conn.cause);
	return rv;
}

/* Check the storage and create the transfer folder DIR. */
static int prepare(struct receiver *r, const char *storage, const struct ctm_xfer_header *h,
		   char *dir)
{
	char path[PATH_MAX], name[16 + CTM_XFER_TOKEN_MAX];
	struct statvfs vfs;
	struct stat st;
	uint64_t avail;
	int rv;

	rv = join_path(&r->conn, path, storage, h->volume);
	if (rv < 0)
		return rv;
	if (lstat(path, &st) == 0) {
		set_cause(&r->conn, "%s exists already", path);
		return -EEXIST;
	}
	if (statvfs(storage, &vfs) == 0) {
		avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (avail < h->expected_size) {
			set_cause(&r->conn, "storage %s has %llu bytes free, the volume needs %llu",
				  storage, (unsigned long long)avail,
				  (unsigned long long)h->expected_size);
			return -ENOSPC;
		}
	}
	rv = join_path(&r->conn, path, storage, CTM_XFER_INCOMING);
	if (rv < 0)
		return rv;
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		rv = -errno;
		set_cause(&r->conn, "cannot create %s: %s", path, strerror(-rv));
		return rv;
	}
	snprintf(name, sizeof(name), "%u-%s", h->ctid, h->token);
	rv = join_path(&r->conn, dir, path, name);
	if (rv < 0)
		return rv;
	if (mkdir(dir, 0700) < 0) {
		rv = -errno;
		set_cause(&r->conn, "cannot create %s: %s", dir, strerror(-rv));
		return rv;
	}
	return 0;
}

/* Move the checked folder DIR to STORAGE/VOLUME, durably. */
struct flush_job {
	int fd;
	int rv;
};

static void *flush_thread(void *data)
{
	struct flush_job *job = data;

	job->rv = syncfs(job->fd) < 0 ? -errno : 0;
	return NULL;
}

/*
 * syncfs() the file system of DIR. It can take minutes after a large
 * volume, so it runs in a thread while this one sends the sender a
 * keep-alive reply every third of the stall timeout.
 */
static int flush_volume(struct receiver *r, const char *dir)
{
	struct flush_job job = { .fd = -1 };
	struct timespec deadline;
	pthread_t thread;
	int rv = 0, keepalive_rv = 0;

	job.fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (job.fd < 0) {
		rv = -errno;
		goto out;
	}
	if (pthread_create(&thread, NULL, flush_thread, &job) != 0) {
		rv = -ENOMEM;
		goto out;
	}
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += r->conn.stall_ms / 3000;
		deadline.tv_nsec += (long)(r->conn.stall_ms / 3 % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		if (pthread_timedjoin_np(thread, NULL, &deadline) == 0)
			break;
		if (keepalive_rv == 0)
			keepalive_rv = send_reply_kind(&r->conn, 0, REPLY_KEEPALIVE, NULL);
	}
	rv = job.rv;
	if (rv == 0 && keepalive_rv < 0)
		return keepalive_rv; /* the cause is set already */

out:
	if (rv < 0)
		set_cause(&r->conn, "cannot flush %s: %s", dir, strerror(-rv));
	if (job.fd >= 0)
		close(job.fd);
	return rv;
}

static int land(struct receiver *r, const char *storage, const char *volume, const char *dir)
{
	char target[PATH_MAX], parent[PATH_MAX], incoming[PATH_MAX];
	int rv;

	rv = flush_volume(r, dir);
	if (rv < 0)
		return rv;

	rv = make_parents(r, storage, volume, parent);
	if (rv < 0)
		return rv;
	rv = join_path(&r->conn, target, storage, volume);
	if (rv < 0)
		return rv;
	if (renameat2(AT_FDCWD, dir, AT_FDCWD, target, RENAME_NOREPLACE) < 0) {
		rv = -errno;
		set_cause(&r->conn, "cannot rename %s to %s: %s", dir, target, strerror(-rv));
		return rv;
	}
	rv = join_path(&r->conn, incoming, storage, CTM_XFER_INCOMING);
	if (rv < 0)
		return rv;
	rv = fsync_dir(parent);
	if (rv == 0)
		rv = fsync_dir(incoming);
	if (rv < 0) {
		set_cause(&r->conn, "cannot flush %s: %s", parent, strerror(-rv));
		return rv;
	}
	return 0;
}

/* Resolve symlinks in the storage path once, so errors name the real folder. */
static int resolve_storage(const char *storage, char *root, char *errmsg)
{
	int rv;

	if (realpath(storage, root))
		return 0;
	rv = -errno;
	set_errmsg(errmsg, "cannot receive a volume into storage %s: %s", storage, strerror(-rv));
	return rv;
}

/*
 * Handshake, header and its check. With no STORAGE yet (ROOT empty), the
 * route callback names it from the header.
 */
static int receiver_run(struct receiver *r, char *storage, struct ctm_xfer_header *h,
			char *dir)
{
	char reason[CTM_XFER_ERRMSG_SIZE], root[PATH_MAX], chosen[PATH_MAX];
	int rv;

	rv = conn_handshake(&r->conn, true);
	if (rv < 0)
		return rv;
	rv = read_hello(r, h);
	if (rv == 0 && r->opts->accept) {
		reason[0] = '\0';
		rv = r->opts->accept(h, r->opts->accept_data, reason);
		if (rv < 0)
			set_cause(&r->conn, "%s", reason[0] ? reason : strerror(-rv));
	}
	if (rv == 0 && !storage[0]) {
		reason[0] = '\0';
		chosen[0] = '\0';
		rv = r->opts->route(h, r->opts->accept_data, chosen, reason);
		if (rv < 0)
			set_cause(&r->conn, "%s", reason[0] ? reason : strerror(-rv));
		else if ((rv = resolve_storage(chosen, storage, reason)) < 0)
			set_cause(&r->conn, "%s", reason);
	}
	if (rv == 0)
		rv = prepare(r, storage, h, dir);
	if (rv < 0)
		return rv;
	r->expected_size = h->expected_size;
	rv = send_reply(&r->conn, 0, "");
	if (rv < 0)
		return rv;

	if (hasher_start(&r->hash) < 0) {
		set_cause(&r->conn, "cannot start the SHA-256 thread");
		return -ENOMEM;
	}
	/*
	 * The archive's root entry "." becomes DIR/volume, a folder that
	 * libarchive creates itself: it applies the root's mode, owner, ACLs
	 * and extended attributes only to folders it creates.
	 */
	rv = join_path(&r->conn, root, dir, "volume");
	if (rv == 0)
		rv = extract_in(r, dir);
	if (rv == 0 && mkdir(root, 0755) < 0 && errno != EEXIST) {
		rv = -errno;
		set_cause(&r->conn, "cannot create %s: %s", root, strerror(-rv));
	}
	if (rv == 0)
		rv = land(r, storage, r->volume, root);
	if (rv < 0)
		return rv;
	remove_tree(dir); /* empty, unless a hostile archive wrote beside volume */
	dir[0] = '\0'; /* landed: nothing to remove any more */
	return send_reply(&r->conn, 0, "");
}

/* Receive on the accepted connection FD (closed here) into STORAGE, or,
 * with STORAGE empty, into the folder the route callback names. */
static int receive_conn(struct ctm_xfer_server *server, int fd, const struct sockaddr *peer,
			char *root, const struct ctm_xfer_opts *opts,
			struct ctm_xfer_header *header_out, struct ctm_xfer_result *result,
			char *errmsg)
{
	static const struct ctm_xfer_opts defaults;
	struct receiver r = { .conn = { .fd = fd } };
	struct ctm_xfer_header h = { 0 };
	char dir[PATH_MAX] = "";
	char cause[CTM_XFER_ERRMSG_SIZE];
	unsigned i;
	int rv;

	if (!opts)
		opts = &defaults;
	r.opts = opts;
	r.conn.stall_ms = opts->stall_timeout_ms > 0 ? opts->stall_timeout_ms :
			  CTM_XFER_STALL_TIMEOUT_MS;
	format_peer(peer, r.conn.peer, sizeof(r.conn.peer));

	rv = -ENOMEM;
	for (i = 0; i < RECEIVE_RING; i++) {
		r.ring[i] = malloc(FRAME_PAYLOAD_MAX);
		if (!r.ring[i])
			break;
	}
	if (i < RECEIVE_RING || conn_attach(&r.conn, server->ctx) < 0) {
		set_cause(&r.conn, "out of memory");
		goto out;
	}

	rv = receiver_run(&r, root, &h, dir);
	if (r.hash.running)
		hasher_stop(&r.hash, NULL);
	if (rv < 0) {
		if (dir[0])
			remove_tree(dir);
		/* Best effort: the sender may be gone already. */
		if (SSL_is_init_finished(r.conn.ssl) && rv != -ECONNRESET) {
			r.conn.stall_ms = REASON_TIMEOUT_MS;
			memcpy(cause, r.conn.cause, sizeof(cause));
			send_reply(&r.conn, rv, cause);
			linger(&r.conn);
			memcpy(r.conn.cause, cause, sizeof(cause));
		}
	}
	conn_close(&r.conn);

out:
	if (rv < 0 && r.volume[0])
		set_errmsg(errmsg, "cannot receive volume %s of CT %u from %s into %s: %s",
			   r.volume, h.ctid, r.conn.peer, root[0] ? root : "its storage",
			   r.conn.cause);
	else if (rv < 0)
		set_errmsg(errmsg, "cannot receive a volume from %s into %s: %s", r.conn.peer,
			   root[0] ? root : "a storage", r.conn.cause);
	if (header_out) {
		header_out->ctid = h.ctid;
		header_out->expected_size = h.expected_size;
		header_out->token = NULL;
		header_out->volume = NULL;
	}
	if (rv == 0 && result) {
		result->archive_bytes = r.bytes;
		result->entries = r.entries;
		memcpy(result->sha256, r.end, 32);
	}
	conn_close(&r.conn);
	for (i = 0; i < RECEIVE_RING; i++)
		free(r.ring[i]);
	return rv;
}

int ctm_xfer_server_receive(struct ctm_xfer_server *server, const char *storage,
			    int accept_timeout_ms, const struct ctm_xfer_opts *opts,
			    struct ctm_xfer_header *header_out,
			    struct ctm_xfer_result *result, char *errmsg)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char root[PATH_MAX];
	int rv, fd;

	rv = resolve_storage(storage, root, errmsg);
	if (rv < 0)
		return rv;

	/* Wait for one sender. */
	for (;;) {
		rv = wait_fd(server->fd, POLLIN, accept_timeout_ms);
		if (rv < 0) {
			set_errmsg(errmsg, "cannot receive a volume on port %u: %s", server->port,
				   rv == -ETIMEDOUT ? "no sender within the accept timeout" :
				   strerror(-rv));
			return rv;
		}
		fd = accept4(server->fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			rv = -errno;
			set_errmsg(errmsg, "cannot receive a volume on port %u: accept failed: %s",
				   server->port, strerror(-rv));
			return rv;
		}
	}
	return receive_conn(server, fd, (struct sockaddr *)&ss, root, opts, header_out, result,
			    errmsg);
}

int ctm_xfer_server_accept(struct ctm_xfer_server *server, int *fd, char *errmsg)
{
	int rv;

	for (;;) {
		*fd = accept4(server->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (*fd >= 0)
			return 0;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		rv = -errno;
		if (rv != -EAGAIN)
			set_errmsg(errmsg, "cannot receive a volume on port %u: accept failed: %s",
				   server->port, strerror(-rv));
		return rv;
	}
}

int ctm_xfer_server_fd(const struct ctm_xfer_server *server)
{
	return server->fd;
}

int ctm_xfer_server_receive_fd(struct ctm_xfer_server *server, int fd,
			       const struct ctm_xfer_opts *opts,
			       struct ctm_xfer_header *header_out,
			       struct ctm_xfer_result *result, char *errmsg)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	char root[PATH_MAX] = "";

	if (!opts || !opts->route) {
		close(fd);
		set_errmsg(errmsg, "cannot receive a volume: no route callback names its storage");
		return -EINVAL;
	}
	getpeername(fd, (struct sockaddr *)&ss, &len);
	return receive_conn(server, fd, (struct sockaddr *)&ss, root, opts, header_out, result,
			    errmsg);
}

/* ---- Clean-up at start ---- */

int ctm_xfer_clean_incoming(const char *storage, unsigned *removed, char *errmsg)
{
	char path[PATH_MAX], child[PATH_MAX];
	struct dirent *de;
	unsigned count = 0;
	DIR *d;
	int rv = 0, r;

	if (removed)
		*removed = 0;
	if (join_path(NULL, path, storage, CTM_XFER_INCOMING) < 0) {
		set_errmsg(errmsg, "cannot clean storage %s: the path is too long", storage);
		return -ENAMETOOLONG;
	}
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		rv = -errno;
		set_errmsg(errmsg, "cannot clean %s: %s", path, strerror(-rv));
		return rv;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = join_path(NULL, child, path, de->d_name);
		if (r == 0)
			r = remove_tree(child);
		if (r < 0 && rv == 0) {
			rv = r;
			set_errmsg(errmsg, "cannot remove %s: %s", child, strerror(-r));
		}
		if (r == 0)
			count++;
	}
	closedir(d);
	if (removed)
		*removed = count;
	return rv;
}
