/*
 * Creation of the cluster key by the first quorate pmxfs.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pmxfs/clusterkey.h"
#include "pmxfs/log.h"
#include "pmxfs/tree.h"
#include "pmxfs/wire.h"

#define KEY_CHECK_NS (2000ull * 1000000ull)

struct key_watch {
	qb_loop_t *loop;
	struct pfs_store *store;
	struct pfs_sync *sync;
	qb_loop_timer_handle timer;
};

static void key_check(void *data)
{
	struct key_watch *w = data;
	unsigned char key[PFS_CLUSTER_KEY_SIZE];
	char text[2 * PFS_CLUSTER_KEY_SIZE + 1];
	struct pfs_msg msg = {0};
	struct pfs_stat st;
	int rv;

	if (pfs_tree_stat(pfs_store_tree(w->store), PFS_CLUSTER_KEY_PATH, &st) == 0) {
		pfs_log(DEBUG, "%s exists", PFS_CLUSTER_KEY_PATH);
		free(w);
		return;
	}
	/* /priv may not exist yet. Changes are applied in the order they
	 * are sent, and a failed create is sent again at the next check. */
	if (!w->sync || pfs_sync_writable(w->sync)) {
		if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
			pfs_log(ERR, "cannot read random bytes for %s: %s", PFS_CLUSTER_KEY_PATH,
				strerror(errno));
		} else {
			for (size_t i = 0; i < sizeof(key); i++)
				snprintf(text + 2 * i, 3, "%02x", key[i]);
			/* Expected version 0: the create fails if another node's
			 * create came first in the total order. */
			msg.type = PFS_MSG_CREATE;
			msg.path = PFS_CLUSTER_KEY_PATH;
			msg.flags = PFS_COND_VERSION;
			msg.expected_version = 0;
			msg.data = text;
			msg.data_len = (uint32_t)(sizeof(text) - 1);
			rv = pfs_store_submit(w->store, &msg, NULL, NULL, NULL);
			if (rv < 0)
				pfs_log(WARN, "creating %s failed: %s; retrying in 2 s",
					PFS_CLUSTER_KEY_PATH, strerror(-rv));
			else
				pfs_log(INFO, "creating %s, unless another node created it first",
					PFS_CLUSTER_KEY_PATH);
			explicit_bzero(key, sizeof(key));
			explicit_bzero(text, sizeof(text));
		}
	}
	if (qb_loop_timer_add(w->loop, QB_LOOP_LOW, KEY_CHECK_NS, w, key_check, &w->timer) != 0) {
		pfs_log(ERR, "cannot arm the check of %s: the cluster key is not created",
			PFS_CLUSTER_KEY_PATH);
		free(w);
	}
}

int pfs_cluster_key_watch(qb_loop_t *loop, struct pfs_store *store, struct pfs_sync *sync)
{
	struct key_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->store = store;
	w->sync = sync;
	/* The first check runs now: in local mode the key is then created
	 * before the first client is served. key_check() re-arms itself. */
	key_check(w);
	return 0;
}
