/*
 * pfs_nodelist: the cluster's node list as corosync has it (cmap keys
 * nodelist.node.N.nodeid, .name and .ring0_addr), for node-addressed
 * requests and the .members file.
 */
#ifndef PMXFS_NODELIST_H
#define PMXFS_NODELIST_H

#include <stddef.h>

#include "pmxfs/noderq.h"

/*
 * Read the node list from the local corosync into *nodes (caller frees
 * with free()) and *count. A node without a nodeid is left out; a node
 * without a name is named by its ring0_addr.
 * Errors: -ENOTCONN (corosync does not answer), -ENOMEM.
 */
int pfs_nodelist_read(struct pfs_node_info **nodes, size_t *count);

#endif
