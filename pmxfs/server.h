/*
 * pfs_server: the client API of the daemon over libqb IPC, the watches,
 * the lock timekeeper, node-addressed requests and the mirror updates,
 * all on one libqb main loop.
 */
#ifndef PMXFS_SERVER_H
#define PMXFS_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include <qb/qbloop.h>

#include "pmxfs/mirror.h"
#include "pmxfs/store.h"

#define PFS_LOCK_DEFAULT_LEASE_MS 120000u /* as pmxcfs locks */
/* LIMIT: the shortest lease in --local mode. With corosync the daemon
 * raises it to four totem tokens plus 5 s (min_lease_ms). */
#define PFS_LOCK_MIN_LEASE_MS 1000u
#define PFS_LOCK_MAX_LEASE_MS 3600000u

struct pfs_noderq;
struct pfs_sync;

struct pfs_server_config {
	const char *service;   /* IPC service name, "pmxfs" by default */
	const char *node_name;
	gid_t reader_gid;
	struct pfs_sync *sync; /* the cluster state machine, NULL in --local mode */
	uint32_t min_lease_ms; /* shortest lease; 0 or less than PFS_LOCK_MIN_LEASE_MS: that */
};

struct pfs_server;

/*
 * Start serving store on loop; mirror may be NULL. The server installs
 * itself as the store's hooks (mirror, watches, timekeeper).
 * Errors: -ENOMEM, -EADDRINUSE (the service name is taken), other IPC
 * errors, with errmsg.
 */
int pfs_server_start(qb_loop_t *loop, struct pfs_store *store, struct pfs_mirror *mirror,
		     const struct pfs_server_config *config, struct pfs_server **out,
		     char *errmsg);

/* Stop serving and free the server. Accepts NULL. */
void pfs_server_stop(struct pfs_server *server);

/* The server's node-addressed requests (owned by the server), for the
 * cluster transport to feed. */
struct pfs_noderq *pfs_server_noderq(struct pfs_server *server);

/* How often the node's folders are checked, in milliseconds, while the
 * store takes changes and while it does not. */
#define PFS_BOOTSTRAP_CHECK_MS 1000
#define PFS_BOOTSTRAP_WAIT_MS 100

/*
 * Create the directories a node needs if they are missing:
 * /nodes/<node>/{lxc,qemu-server,priv} and /priv/lock, through the store,
 * now and again every PFS_BOOTSTRAP_CHECK_MS while the store takes changes
 * (checked every PFS_BOOTSTRAP_WAIT_MS while it does not), until the
 * server stops. Returns 0 or -ENOMEM when the check cannot be
 * armed.
 */
int pfs_server_bootstrap(struct pfs_server *server);

#endif
