/*
 * Small helpers of ctmgr/: array growth, running a command, removing a
 * tree of files.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "ctmgr/ctm_internal.h"

extern char **environ;

int ctm__grow(void *array, size_t n, size_t elem_size)
{
	void **p = array;
	size_t cap = n == 0 ? 1 : 2 * n;
	void *grown;

	if (n != 0 && (n & (n - 1)) != 0)
		return 0;
	grown = realloc(*p, cap * elem_size);
	if (grown == NULL)
		return -ENOMEM;
	*p = grown;
	return 0;
}

int ctm__error(int rv, char *errmsg, const char *fmt, ...)
{
	va_list ap;

	if (!errmsg)
		return rv;
	va_start(ap, fmt);
	vsnprintf(errmsg, CONF_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
	return rv;
}

char *ctm__printf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : out;
}

/* Keep the last non-empty line of TEXT (LEN bytes) in OUTPUT. */
static void last_line(const char *text, size_t len, char *output, size_t size)
{
	size_t end = len, start;

	while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' '))
		end--;
	start = end;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	snprintf(output, size, "%.*s", (int)(end - start), text + start);
}

int ctm__run(const char *const argv[], char *output, size_t size)
{
	posix_spawn_file_actions_t actions;
	char buf[4096];
	size_t used = 0;
	int pipefd[2], status, rv;
	pid_t pid;
	ssize_t n;

	if (output && size)
		output[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
	rv = posix_spawnp(&pid, argv[0], &actions, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	close(pipefd[1]);
	if (rv != 0) {
		close(pipefd[0]);
		if (output)
			snprintf(output, size, "cannot run %s: %s", argv[0], strerror(rv));
		return -rv;
	}

	/* Keep the end of the output, where tools name the failure. */
	while ((n = read(pipefd[0], buf + used, sizeof(buf) - 1 - used)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		used += (size_t)n;
		if (used == sizeof(buf) - 1) {
			memmove(buf, buf + used / 2, used - used / 2);
			used -= used / 2;
		}
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (output) {
		last_line(buf, used, output, size);
		if (output[0] == '\0' && WIFEXITED(status))
			snprintf(output, size, "%s exited with status %d", argv[0],
			         WEXITSTATUS(status));
		else if (output[0] == '\0')
			snprintf(output, size, "%s was killed by signal %d", argv[0],
			         WTERMSIG(status));
	}
	return -EIO;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* A positive errno stops the walk; nftw() returns it. */
	if (type == FTW_DP)
		return rmdir(path) < 0 ? errno : 0;
	return unlink(path) < 0 ? errno : 0;
}

int ctm__remove_tree(const char *path)
{
	struct stat st;
	int rv;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;

	/* FTW_MOUNT leaves out what is mounted below, so its mount point
	 * stays non-empty and the removal stops there with an error. */
	rv = nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (rv == -1)
		return -errno;
	if (rv == ENOTEMPTY || rv == EEXIST)
		return -EBUSY;
	return -rv;
}
