/*
 * The lock commands of pmxfsctl, on top of liblock.
 */
#ifndef PMXFS_PMXFSCTL_LOCK_H
#define PMXFS_PMXFSCTL_LOCK_H

#include <stdbool.h>

struct pfs_conn;

/*
 * Run `pmxfsctl lock`: ARGV[0] is "lock", then NAME, options, "--" and the
 * command. SERVICE is the daemon's IPC service. GLOBAL_TIMEOUT_MS is a
 * --timeout MS given before "lock" (-1: none); it sets the wait for the
 * lock in milliseconds and must agree with lock's own --timeout S.
 * Returns the exit status.
 */
int pmxfsctl_lock_main(const char *service, int global_timeout_ms, int argc, char **argv);

/* Print the held locks as a table, or as JSON. Returns the exit status. */
int pmxfsctl_locks(struct pfs_conn *conn, bool json);

#endif /* PMXFS_PMXFSCTL_LOCK_H */
