/*
 * pfs_cpg: the cluster transport of the daemon. It joins the corosync CPG
 * group "pmxfs" (agreed order), feeds deliveries and configuration
 * changes into the sync state machine (pmxfs/sync.h), and votequorum's
 * quorum, ring id and expected votes into pfs_sync_quorum(). Both
 * corosync connections are dispatched from the libqb main loop.
 *
 * A lost connection to corosync stops the main loop: the daemon exits
 * rather than serve a tree that no longer follows the cluster.
 */
#ifndef PMXFS_CPG_H
#define PMXFS_CPG_H

#include <stdint.h>

#include <qb/qbloop.h>

#include "pmxfs/store.h"
#include "pmxfs/sync.h"

#define PFS_CPG_GROUP "pmxfs"
#define PFS_CPG_RETRY_MS 10u            /* between CS_ERR_TRY_AGAIN retries */
#define PFS_CPG_MAX_RETRY_MS 30000u     /* give up on a message after this long */
#define PFS_CPG_TICK_MS 1000u           /* held writes and verify rounds */
#define PFS_CPG_PROBE_SPARE (1u << 20)  /* test write size beyond the tree's */

struct pfs_cpg;

/*
 * Connect to corosync's CPG and votequorum services on loop and return
 * this node's id through *node_id.
 * Errors: -ENOTCONN (corosync is not running), -ENOMEM, with errmsg.
 */
int pfs_cpg_connect(qb_loop_t *loop, struct pfs_cpg **out, uint32_t *node_id, char *errmsg);

/*
 * Create the sync state machine over store (node_name copied), join the
 * group and start dispatching.
 * Errors: -ENOTCONN, -ENOMEM, with errmsg.
 */
int pfs_cpg_join(struct pfs_cpg *cpg, struct pfs_store *store, const char *node_name,
		 char *errmsg);

/* The sync state machine, after pfs_cpg_join(). */
struct pfs_sync *pfs_cpg_sync(struct pfs_cpg *cpg);

/*
 * Route node-addressed requests through the group from now on: nrq sends
 * through it, gets its NODE_REQUEST and NODE_REPLY messages, its
 * membership changes and corosync's node list (read again at each change).
 * nrq must outlive the group's dispatching.
 */
struct pfs_noderq;
void pfs_cpg_attach_noderq(struct pfs_cpg *cpg, struct pfs_noderq *nrq);

/* Leave the group, disconnect and free. Accepts NULL. Call it before
 * pfs_store_free(). */
void pfs_cpg_free(struct pfs_cpg *cpg);

#endif
