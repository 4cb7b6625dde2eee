/* Test helper: an agent registers SERVICE, forks a child that keeps
 * running, and dies. Then a new connection registers SERVICE again.
 *
 * Usage: fork_agent forget|keep SERVICE
 * With "forget" the child calls pfs_forget_after_fork(). The output is
 * "register: RV" (0, or a negative errno value such as -17 for EEXIST),
 * and the exit status 0 once that line is written. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmxfs/pmxfs.h"

int main(int argc, char **argv)
{
	struct pfs_conn *conn, *again;
	pid_t first;
	int status, rv;

	if (argc != 3 || (strcmp(argv[1], "forget") != 0 && strcmp(argv[1], "keep") != 0)) {
		fprintf(stderr, "usage: fork_agent forget|keep SERVICE\n");
		return 2;
	}
	first = fork();
	if (first == 0) {
		if (pfs_connect(NULL, &conn) < 0 || pfs_agent_register(conn, argv[2]) < 0)
			_exit(1);
		if (fork() == 0) {
			if (!strcmp(argv[1], "forget"))
				pfs_forget_after_fork(conn);
			sleep(3);
			_exit(0);
		}

		/* Dies without disconnecting, as after SIGKILL. */
		_exit(0);
	}
	if (first < 0 || waitpid(first, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "fork_agent: the first agent did not register %s\n", argv[2]);
		return 1;
	}
	usleep(300 * 1000);
	rv = pfs_connect(NULL, &again);
	if (rv < 0) {
		fprintf(stderr, "fork_agent: connecting failed: %s\n", strerror(-rv));
		return 1;
	}
	printf("register: %d\n", pfs_agent_register(again, argv[2]));
	pfs_disconnect(again);
	return 0;
}
