/*
 * A real `pmxfs --local` daemon for the tests of lock/: started on a new
 * mkdtemp folder with its own IPC service name, stopped by its pid.
 */
#ifndef TESTS_LOCK_DAEMON_H
#define TESTS_LOCK_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

struct lock_daemon {
	pid_t pid;           /* -1 when not running */
	char dir[64];        /* the mkdtemp folder; removed by lock_daemon_stop() */
	char service[64];    /* the IPC service name */
};

/* The pmxfs program, $BUILD_DIR/pmxfs/pmxfs, or NULL when BUILD_DIR is
 * unset or the program is missing. The result is a static buffer. */
const char *lock_daemon_program(void);

/* Start the daemon as node "node1", set $PMXFS_SERVICE to its service
 * and wait until it accepts a connection. Returns 0 or -1 (the reason is
 * printed to stderr). */
int lock_daemon_start(struct lock_daemon *d);

/* Stop the daemon with SIGTERM (SIGKILL after 5 s) and remove its folder.
 * Safe to call twice. */
void lock_daemon_stop(struct lock_daemon *d);

#endif
