/*
 * The cluster key /priv/cluster.key: 32 random bytes, written as 64
 * hexadecimal digits, that the agents derive
 * their transfer key from (docs/migration.md). The first quorate pmxfs
 * creates it with a create that must not find the file, so when two nodes
 * race, the store's total order lets exactly one create win and the other
 * fails with -EEXIST. The bytes are never logged.
 */
#ifndef PMXFS_CLUSTERKEY_H
#define PMXFS_CLUSTERKEY_H

#include <qb/qbloop.h>

#include "pmxfs/store.h"
#include "pmxfs/sync.h"

#define PFS_CLUSTER_KEY_PATH "/priv/cluster.key"
#define PFS_CLUSTER_KEY_SIZE 32

/*
 * Check now and then every 2 s until the key exists: when the store is
 * writable (SYNC NULL means always, as in local mode) and the key is
 * missing, submit its creation. Errors: -ENOMEM.
 */
int pfs_cluster_key_watch(qb_loop_t *loop, struct pfs_store *store, struct pfs_sync *sync);

#endif /* PMXFS_CLUSTERKEY_H */
