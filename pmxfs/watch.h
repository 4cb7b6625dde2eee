/*
 * pfs_watch: the watches of one client connection.
 *
 * A watch is a path prefix (a plain string prefix: "/nodes" also matches
 * "/nodes2"). Events go out in apply order. When the client's event
 * channel is full, the list enters overflow: later events are dropped
 * until an `overflow` event could be sent, after which the client
 * re-reads what it watches.
 */
#ifndef PMXFS_WATCH_H
#define PMXFS_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pmxfs/proto.h"

#define PFS_WATCH_MAX 64 /* prefixes per connection */

struct pfs_watchlist {
	char *prefixes[PFS_WATCH_MAX];
	size_t count;
	bool overflow;      /* an overflow event is owed to the client */
	bool hide_private;  /* drop events on priv/ paths (non-root client) */
};

/* Send one encoded event; 0, -EAGAIN when the channel is full, or another
 * negative errno value. */
typedef int (*pfs_watch_send_fn)(void *ctx, const void *buf, size_t len);

/* Add or remove a prefix. Errors: -ENOSPC (too many), -EEXIST, -ENOENT,
 * -ENOMEM. */
int pfs_watch_add(struct pfs_watchlist *list, const char *prefix);
int pfs_watch_remove(struct pfs_watchlist *list, const char *prefix);

/* Free the prefixes. */
void pfs_watch_clear(struct pfs_watchlist *list);

/* Return true when path (or path2) falls under a prefix of list. */
bool pfs_watch_matches(const struct pfs_watchlist *list, const char *path, const char *path2);

/*
 * Deliver one event: a change (op, path, path2 may be NULL), or a resync
 * or overflow. Settles an owed overflow first. Returns 0 when the event
 * was sent or not wanted, -EAGAIN when it was dropped into overflow.
 */
int pfs_watch_notify(struct pfs_watchlist *list, enum pfs_event_kind kind, uint64_t version,
		     const char *op, const char *path, const char *path2, pfs_watch_send_fn send,
		     void *ctx);

/* Encode an event into buf of cap bytes (the struct plus the
 * strings); returns its length. */
size_t pfs_watch_encode(uint8_t *buf, size_t cap, enum pfs_event_kind kind, uint64_t version,
			const char *op, const char *path, const char *path2);

#endif
