/* Start and stop a `pmxfs --local` daemon for the tests of lock/. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pmxfs/pmxfs.h"
#include "tests/lock_daemon.h"

const char *lock_daemon_program(void)
{
	static char path[4096];
	const char *build = getenv("BUILD_DIR");

	if (!build || !*build)
		return NULL;
	snprintf(path, sizeof(path), "%s/pmxfs/pmxfs", build);
	return access(path, X_OK) == 0 ? path : NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* The child: die with the test process, log to DIR/pmxfs.log, run pmxfs. */
static void exec_daemon(const struct lock_daemon *d, const char *program)
{
	char data[128], mirror[128], log[128];
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	snprintf(data, sizeof(data), "%s/data", d->dir);
	snprintf(mirror, sizeof(mirror), "%s/mirror", d->dir);
	snprintf(log, sizeof(log), "%s/pmxfs.log", d->dir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	execl(program, program, "-f", "--local", "--node", "node1", "--data-dir", data,
	      "--mirror", mirror, "--no-bind-mount", "--service", d->service, (char *)NULL);
	_exit(127);
}

int lock_daemon_start(struct lock_daemon *d)
{
	const char *program = lock_daemon_program();
	struct pfs_conn *conn = NULL;
	int status, i;

	d->pid = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/check-lock-XXXXXX");
	if (!program) {
		fprintf(stderr, "pmxfs not found: set BUILD_DIR to the build folder\n");
		return -1;
	}
	if (!mkdtemp(d->dir)) {
		fprintf(stderr, "mkdtemp %s failed: %s\n", d->dir, strerror(errno));
		d->dir[0] = '\0';
		return -1;
	}
	snprintf(d->service, sizeof(d->service), "pmxfs-check-lock-%d-%s", (int)getpid(),
		 d->dir + strlen("/tmp/check-lock-"));

	d->pid = fork();
	if (d->pid < 0) {
		fprintf(stderr, "fork failed: %s\n", strerror(errno));
		return -1;
	}
	if (d->pid == 0)
		exec_daemon(d, program);
	setenv("PMXFS_SERVICE", d->service, 1);

	/* Wait up to 10 s for the daemon to accept connections. */
	for (i = 0; i < 1000; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			fprintf(stderr, "pmxfs exited during start; see %s/pmxfs.log\n", d->dir);
			d->pid = -1;
			return -1;
		}
		if (pfs_connect(d->service, &conn) == 0) {
			pfs_disconnect(conn);
			return 0;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "pmxfs did not accept connections within 10 s\n");
	return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void lock_daemon_stop(struct lock_daemon *d)
{
	int status, i;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		for (i = 0; i < 500 && waitpid(d->pid, &status, WNOHANG) != d->pid; i++)
			sleep_ms(10);
		if (i == 500) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
		}
		d->pid = -1;
	}
	if (d->dir[0]) {
		nftw(d->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		d->dir[0] = '\0';
	}
}
