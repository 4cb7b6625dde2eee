/*
 * The node request commands of pmxfsctl: `request` sends one request to
 * the agent of a node, `serve` is an agent that runs a command for each.
 */
#ifndef PMXFS_PMXFSCTL_NODE_H
#define PMXFS_PMXFSCTL_NODE_H

#include <stdbool.h>

struct pfs_conn;

/*
 * Run `pmxfsctl request NODE SERVICE`: send data (NULL: standard input)
 * and print the reply payload, or JSON. timeout_ms < 1 means 120 s.
 * Returns the exit status.
 */
int pmxfsctl_request(struct pfs_conn *conn, const char *node, const char *service,
		     const char *data, int timeout_ms, bool json);

/*
 * Run `pmxfsctl serve`: argv[0] is "serve", then SERVICE, "--" and the
 * command. ipc_service is the daemon's IPC service; timeout_ms (-1: the
 * library default) bounds the connect and the registration. Returns the
 * exit status when the connection to the daemon ends.
 */
int pmxfsctl_serve_main(const char *ipc_service, int timeout_ms, int argc, char **argv);

#endif /* PMXFS_PMXFSCTL_NODE_H */
