/*
 * Volume transfer: copies one local volume of a container (a directory
 * volume, or the directory holding a raw image) from the agent of one node
 * to the agent of another during a migration, as described in
 * docs/migration.md ("Volume transfer").
 *
 * Channel: TCP, then TLS 1.3 with an external pre-shared key and no
 * certificates. The key is derived with HKDF-SHA256 from the bytes of the
 * cluster key file and a fixed label, so every node of one cluster derives
 * the same key and a peer holding another key fails the handshake on both
 * sides. The key never appears in a message.
 *
 * Stream: after the handshake the sender sends a header (container id,
 * transfer token, volume path, expected size), which the receiver accepts
 * or rejects. The sender then streams the directory as a pax tar archive
 * in frames and ends with the SHA-256 of the archive bytes. The receiver
 * replies with the final status.
 *
 * Landing: the receiver extracts into `<storage>/.incoming/<id>-<token>/`
 * (the volume's root is its subfolder `volume`), checks the SHA-256,
 * flushes the file system, and only then renames `volume` to
 * `<storage>/<volume>`. On any failure it removes the partial folder. ctm_xfer_clean_incoming() removes what a crash left behind.
 *
 * The library never logs: every function returns 0 or a negative errno
 * value and fills a caller-owned errmsg of CTM_XFER_ERRMSG_SIZE bytes with
 * one sentence naming the peer address and port, the volume and the cause.
 * Calls block the calling thread; every wait on the network is bounded by
 * the connect or stall timeout, and EINTR is retried.
 */
#ifndef CTMGR_XFER_H
#define CTMGR_XFER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Room for two addresses, a volume path and the cause. */
#define CTM_XFER_ERRMSG_SIZE 512

/* Length of the derived TLS pre-shared key (bytes, HKDF-SHA256 output). */
#define CTM_XFER_PSK_SIZE 32

/* Limits of the header fields. */
#define CTM_XFER_TOKEN_MAX 64   /* [A-Za-z0-9_.-], not starting with '.' */
#define CTM_XFER_VOLUME_MAX 255 /* relative path, see ctm_xfer_check_volume() */

/* Defaults of the timeouts, in milliseconds. */
#define CTM_XFER_CONNECT_TIMEOUT_MS 10000
#define CTM_XFER_STALL_TIMEOUT_MS 30000

/* The folder under a storage that contains the transfers in flight. */
#define CTM_XFER_INCOMING ".incoming"

/* The key both sides use; derive with ctm_xfer_key_derive(). */
struct ctm_xfer_key {
	unsigned char psk[CTM_XFER_PSK_SIZE];
};

/* Header of a transfer: everything it carries besides the archive. */
struct ctm_xfer_header {
	uint32_t ctid;
	const char *token;  /* unique per transfer, chosen by the migration task */
	const char *volume; /* path of the volume below the target storage */
	uint64_t expected_size; /* bytes the volume will need on the target, or 0 */
};

/*
 * Progress of a transfer: BYTES of archive sent or received so far, and
 * TOTAL, the sender's estimate of the archive size (0 when unknown).
 * Return 0 to go on, or a negative errno value to abort the transfer
 * with that error.
 */
typedef int (*ctm_xfer_progress_fn)(uint64_t bytes, uint64_t total, void *data);

/*
 * The receiver's check of a header before anything is written: return 0 to
 * accept, or a negative errno value and a sentence in ERRMSG (of
 * CTM_XFER_ERRMSG_SIZE bytes), which is sent to the sender.
 */
typedef int (*ctm_xfer_accept_fn)(const struct ctm_xfer_header *header, void *data,
				  char *errmsg);

/*
 * The receiver's choice of a transfer's storage folder from its header,
 * for ctm_xfer_server_receive_fd(). Copy the folder into STORAGE (PATH_MAX
 * bytes) and return 0. Or return a negative errno value and a sentence in
 * ERRMSG (of CTM_XFER_ERRMSG_SIZE bytes), which is sent to the sender.
 * Called after the accept callback, with the same DATA.
 */
typedef int (*ctm_xfer_route_fn)(const struct ctm_xfer_header *header, void *data,
				 char *storage, char *errmsg);

/* Options of both sides. Zero-initialise, then set what applies. */
struct ctm_xfer_opts {
	int connect_timeout_ms; /* 0: CTM_XFER_CONNECT_TIMEOUT_MS; sender only */

	/*
	 * Maximum wait for the peer to send or take any data, also during the
	 * handshake; 0: CTM_XFER_STALL_TIMEOUT_MS.
	 */
	int stall_timeout_ms;

	ctm_xfer_progress_fn progress; /* NULL: none; called after every frame */
	void *progress_data;

	ctm_xfer_accept_fn accept; /* receiver only; NULL accepts every header */
	void *accept_data;

	ctm_xfer_route_fn route; /* ctm_xfer_server_receive_fd() only */
};

/* Figures of a successful transfer. */
struct ctm_xfer_result {
	uint64_t archive_bytes; /* bytes of the tar stream */
	uint64_t entries;       /* archive entries, the root folder included */
	unsigned char sha256[32]; /* of the tar stream, checked by the receiver */
};

/*
 * Derive the transfer key from SECRET (the bytes of the cluster key file,
 * LEN of them) with HKDF-SHA256, no salt and the fixed info label
 * "pmx-cluster volume transfer v1".
 *
 * Errors: -EINVAL (LEN below 16), -EIO (OpenSSL failed).
 */
int ctm_xfer_key_derive(const void *secret, size_t len, struct ctm_xfer_key *key,
			char *errmsg);

/*
 * Read the cluster key file PATH (16 bytes to 64 KiB) and derive the
 * transfer key from its bytes. The bytes read are wiped before return.
 *
 * Errors: -ENOENT, -EACCES and the other errors of open() and read();
 * -EINVAL (too short or too long); -EIO.
 */
int ctm_xfer_key_load(const char *path, struct ctm_xfer_key *key, char *errmsg);

/*
 * Check that VOLUME is a relative path of 1 to 8 components, each a name of
 * [A-Za-z0-9_.+-] that is not `.`, `..` or starting with `.`, separated by
 * single '/', at most CTM_XFER_VOLUME_MAX bytes in all.
 *
 * Errors: -EINVAL.
 */
int ctm_xfer_check_volume(const char *volume, char *errmsg);

/*
 * Check that TOKEN has 1 to CTM_XFER_TOKEN_MAX characters of
 * [A-Za-z0-9_.-] and does not start with '.'.
 *
 * Errors: -EINVAL.
 */
int ctm_xfer_check_token(const char *token, char *errmsg);

/*
 * Send the directory DIR (its own metadata, and everything below it,
 * without crossing into other file systems' mount points) as volume
 * HEADER->volume to the receiver at HOST (a numeric address or a name),
 * PORT. The archive is pax. It keeps numeric uid and gid, mode, times,
 * POSIX ACLs, extended attributes, sparse files, hard links, symlinks,
 * device nodes and FIFOs. Sockets are skipped. An expected size of 0 is
 * replaced by an estimate from a first walk of DIR, which also runs when
 * OPTS has a progress callback (for its total). Returns once the receiver
 * confirmed that the volume is in place. RESULT (may be NULL) gets the
 * figures.
 *
 * Errors: -EINVAL (bad header field), -ENOENT (DIR missing), -ECONNREFUSED,
 * -EHOSTUNREACH and other connect errors, -ETIMEDOUT (connect or stall),
 * -EACCES (the peer uses a different key), -EPROTO (peer speaks another
 * protocol), -ECONNRESET (peer closed the connection), the errno values a
 * receiver returned (-EEXIST when the volume exists, -ENOSPC, -EBADMSG on
 * a checksum mismatch...), errors of the progress callback, -ENOMEM.
 */
int ctm_xfer_send(const struct ctm_xfer_key *key, const char *host, uint16_t port,
		  const struct ctm_xfer_header *header, const char *dir,
		  const struct ctm_xfer_opts *opts, struct ctm_xfer_result *result,
		  char *errmsg);

/*
 * Like ctm_xfer_send(), but the archive bytes are whatever READ_FN returns
 * (up to SIZE bytes into BUF per call, 0 at the end, a negative errno value
 * on failure). For archives made elsewhere, and for tests. The receiver
 * still extracts them as a tar archive.
 */
typedef ssize_t (*ctm_xfer_read_fn)(void *buf, size_t size, void *data);
int ctm_xfer_send_stream(const struct ctm_xfer_key *key, const char *host, uint16_t port,
			 const struct ctm_xfer_header *header, ctm_xfer_read_fn read_fn,
			 void *read_data, const struct ctm_xfer_opts *opts,
			 struct ctm_xfer_result *result, char *errmsg);

/* A listening receiver. */
struct ctm_xfer_server;

/*
 * Listen on ADDR (numeric IPv4 or IPv6 address), PORT (0 picks a free one;
 * see ctm_xfer_server_port()) for transfers with KEY, which is copied.
 * Caller frees *SERVER with ctm_xfer_server_free().
 *
 * Errors: -EINVAL (ADDR not numeric), -EADDRINUSE and the other errors of
 * socket(), bind() and listen(); -EIO (OpenSSL failed); -ENOMEM.
 */
int ctm_xfer_server_new(const struct ctm_xfer_key *key, const char *addr, uint16_t port,
			struct ctm_xfer_server **server, char *errmsg);

/* The port SERVER listens on. */
uint16_t ctm_xfer_server_port(const struct ctm_xfer_server *server);

/* Close SERVER's socket and free it; NULL is fine. */
void ctm_xfer_server_free(struct ctm_xfer_server *server);

/*
 * Wait up to ACCEPT_TIMEOUT_MS (-1: forever) for one sender, and receive
 * its volume into the storage folder STORAGE. The archive is extracted
 * into `STORAGE/.incoming/<ctid>-<token>/volume`. After the SHA-256
 * matched, syncfs() runs and that folder is renamed to `STORAGE/<volume>`
 * (missing parent folders are created with mode 0755), then the parent is
 * fsynced. On failure the `.incoming` folder of this transfer is removed
 * and the sender gets the error. The extraction rejects absolute paths,
 * `..` components and any write through a symlink (docs/migration.md). HEADER_OUT (may be
 * NULL) gets the header's ctid and size, with NULL strings. RESULT (may
 * be NULL) gets the figures. Several threads may receive on one SERVER at
 * the same time; each takes the next sender.
 *
 * Errors: -ETIMEDOUT (no sender, or a stalled one), -EACCES (the sender
 * uses a different key), -EPROTO, -ECONNRESET (the sender went away),
 * -EINVAL (bad header field, or an archive entry with an absolute path,
 * with `..`, or not below a folder that the archive created before it), -EEXIST (the volume or the transfer folder exists), -ENOSPC (the
 * storage lacks the expected size), -EBADMSG (checksum mismatch), errors of
 * the accept callback, file system errors, -ENOMEM.
 */
int ctm_xfer_server_receive(struct ctm_xfer_server *server, const char *storage,
			    int accept_timeout_ms, const struct ctm_xfer_opts *opts,
			    struct ctm_xfer_header *header_out,
			    struct ctm_xfer_result *result, char *errmsg);

/*
 * For a caller that accepts connections itself and hands each to a
 * process of its own: ctm_xfer_server_fd() is the listening socket (non-
 * blocking) to poll for POLLIN, ctm_xfer_server_accept() takes one
 * connection into *FD without waiting, and ctm_xfer_server_receive_fd()
 * receives on it like ctm_xfer_server_receive(), into the storage folder
 * that OPTS->route names from the header (required). FD is closed before
 * ctm_xfer_server_receive_fd() returns, also on error.
 *
 * Errors of ctm_xfer_server_accept(): -EAGAIN (no connection waits), those
 * of accept(). Errors of ctm_xfer_server_receive_fd(): those of
 * ctm_xfer_server_receive() but -ETIMEDOUT of the accept, errors of the
 * route callback, -EINVAL (no route callback).
 */
int ctm_xfer_server_fd(const struct ctm_xfer_server *server);
int ctm_xfer_server_accept(struct ctm_xfer_server *server, int *fd, char *errmsg);
int ctm_xfer_server_receive_fd(struct ctm_xfer_server *server, int fd,
			       const struct ctm_xfer_opts *opts,
			       struct ctm_xfer_header *header_out,
			       struct ctm_xfer_result *result, char *errmsg);

/*
 * Remove every folder under `STORAGE/.incoming/`: transfers that a crash
 * or a kill interrupted. Only for the agent's start-up, when no transfer
 * can be running. *REMOVED (may be NULL) gets the number of folders
 * removed. A missing `.incoming` is not an error.
 *
 * Errors: file system errors of the walk and the removal.
 */
int ctm_xfer_clean_incoming(const char *storage, unsigned *removed, char *errmsg);

#endif /* CTMGR_XFER_H */
