/* pfs_watch: watch prefixes, event encoding and overflow (see watch.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmxfs/perm.h"
#include "pmxfs/watch.h"

int pfs_watch_add(struct pfs_watchlist *list, const char *prefix)
{
	for (size_t i = 0; i < list->count; i++)
		if (!strcmp(list->prefixes[i], prefix))
			return -EEXIST;
	if (list->count == PFS_WATCH_MAX)
		return -ENOSPC;
	list->prefixes[list->count] = strdup(prefix);
	if (!list->prefixes[list->count])
		return -ENOMEM;
	list->count++;
	return 0;
}

int pfs_watch_remove(struct pfs_watchlist *list, const char *prefix)
{
	for (size_t i = 0; i < list->count; i++) {
		if (strcmp(list->prefixes[i], prefix) != 0)
			continue;
		free(list->prefixes[i]);
		list->prefixes[i] = list->prefixes[--list->count];
		return 0;
	}
	return -ENOENT;
}

void pfs_watch_clear(struct pfs_watchlist *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->prefixes[i]);
	list->count = 0;
}

static bool under(const char *prefix, const char *path)
{
	return path && !strncmp(path, prefix, strlen(prefix));
}

bool pfs_watch_matches(const struct pfs_watchlist *list, const char *path, const char *path2)
{
	if (list->hide_private && (pfs_perm_is_private(path) || (path2 && pfs_perm_is_private(path2))))
		return false;
	for (size_t i = 0; i < list->count; i++)
		if (under(list->prefixes[i], path) || under(list->prefixes[i], path2))
			return true;
	return false;
}

size_t pfs_watch_encode(uint8_t *buf, size_t cap, enum pfs_event_kind kind, uint64_t version,
			const char *op, const char *path, const char *path2)
{
	struct pfs_ipc_event ev;
	size_t lo = op ? strlen(op) : 0, lp = path ? strlen(path) : 0;
	size_t l2 = path2 ? strlen(path2) : 0, len = sizeof(ev) + lo + lp + l2;

	if (len > cap)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.hdr.id = PFS_OP_EVENT;
	ev.hdr.size = (int32_t)len;
	ev.magic = PFS_IPC_MAGIC;
	ev.kind = kind;
	ev.version = version;
	ev.op_len = (uint32_t)lo;
	ev.path_len = (uint32_t)lp;
	ev.path2_len = (uint32_t)l2;
	memcpy(buf, &ev, sizeof(ev));
	if (lo)
		memcpy(buf + sizeof(ev), op, lo);
	if (lp)
		memcpy(buf + sizeof(ev) + lo, path, lp);
	if (l2)
		memcpy(buf + sizeof(ev) + lo + lp, path2, l2);
	return len;
}

int pfs_watch_notify(struct pfs_watchlist *list, enum pfs_event_kind kind, uint64_t version,
		     const char *op, const char *path, const char *path2, pfs_watch_send_fn send,
		     void *ctx)
{
	uint8_t buf[sizeof(struct pfs_ipc_event) + 2 * PFS_MAX_PATH + 32];
	size_t len;

	if (list->count == 0)
		return 0;
	if (kind == PFS_EVENT_CHANGE && !pfs_watch_matches(list, path, path2))
		return 0;
	if (kind == PFS_EVENT_OVERFLOW && !list->overflow)
		return 0;

	/* Settle an owed overflow before anything newer goes out. */
	if (list->overflow) {
		len = pfs_watch_encode(buf, sizeof(buf), PFS_EVENT_OVERFLOW, version, "overflow", "",
				       NULL);
		if (send(ctx, buf, len) < 0)
			return -EAGAIN;
		list->overflow = false;
		if (kind == PFS_EVENT_OVERFLOW)
			return 0;
	}
	len = pfs_watch_encode(buf, sizeof(buf), kind, version, op, path, path2);
	if (len == 0 || send(ctx, buf, len) < 0) {
		list->overflow = true;
		return -EAGAIN;
	}
	return 0;
}
