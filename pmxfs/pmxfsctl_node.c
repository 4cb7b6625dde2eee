/*
 * pmxfsctl request NODE SERVICE [--data STRING]
 * pmxfsctl serve SERVICE -- COMMAND [ARGS...]
 *
 * `request` sends a node-addressed request (payload from --data or
 * standard input, at most 64 KiB) and prints the reply payload. Its exit
 * status is 0 when the agent replied with status 0, the shared exit code of
 * the agent's negative status otherwise, and the shared exit code of the
 * delivery error when there was no reply.
 *
 * `serve` registers as the agent of SERVICE on this node and, for each
 * request in turn, runs COMMAND with the payload on standard input and
 * replies with its standard output (at most 64 KiB) and a status made from
 * its exit status: 0 for 0, the errno value of a shared exit code (3 ->
 * -ENOENT, 4 -> -EEXIST, 5 -> -EROFS, 6 -> -EACCES, 7 -> -ETIMEDOUT,
 * 8 -> -EINPROGRESS) so `request` exits with the same code, else -EIO. The
 * command gets PMXFS_REQUEST_NODE, PMXFS_REQUEST_NODE_ID,
 * PMXFS_REQUEST_SERVICE and PMXFS_REQUEST_HANDLE in its environment and
 * inherits serve's standard error. serve runs until the connection to
 * pmxfs ends (exit 1) or a signal stops it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/exit_code.h"
#include "pmxfs/pmxfs.h"
#include "pmxfs/pmxfsctl_node.h"

#define MAX_PAYLOAD (64 * 1024)

/* Read at most MAX_PAYLOAD bytes from fd into buf (MAX_PAYLOAD + 1 bytes);
 * *len is MAX_PAYLOAD + 1 when there was more, which is drained. */
static int read_bounded(int fd, char *buf, size_t *len)
{
	char sink[4096];
	size_t n = 0;

	for (;;) {
		ssize_t r = n <= MAX_PAYLOAD ? read(fd, buf + n, MAX_PAYLOAD + 1 - n)
					     : read(fd, sink, sizeof(sink));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		if (n <= MAX_PAYLOAD)
			n += (size_t)r;
	}
	*len = n;
	return 0;
}

static void print_reply(const char *node, const char *service, int status, const char *reply,
			size_t len, bool json)
{
	struct json_object *j;

	if (json) {
		j = json_object_new_object();
		json_object_object_add(j, "node", json_object_new_string(node));
		json_object_object_add(j, "service", json_object_new_string(service));
		json_object_object_add(j, "status", json_object_new_int(status));
		json_object_object_add(j, "data", json_object_new_string_len(reply, (int)len));
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
		return;
	}
	if (fwrite(reply, 1, len, stdout) != len)
		fprintf(stderr, "pmxfsctl: cannot print the reply: %s\n", strerror(errno));
}

int pmxfsctl_request(struct pfs_conn *conn, const char *node, const char *service,
		     const char *data, int timeout_ms, bool json)
{
	char *input = NULL, *reply = NULL;
	size_t len = 0, reply_len = 0;
	int rv, status = 0;

	if (data) {
		len = strlen(data);
	} else {
		input = malloc(MAX_PAYLOAD + 1);
		if (!input || read_bounded(STDIN_FILENO, input, &len) < 0) {
			fprintf(stderr, "pmxfsctl: cannot read standard input: %s\n", strerror(errno));
			free(input);
			return EXIT_ERROR;
		}
		data = input;
	}
	if (len > MAX_PAYLOAD) {
		fprintf(stderr, "pmxfsctl: the request payload is above the limit of %d bytes\n",
			MAX_PAYLOAD);
		free(input);
		return EXIT_ERROR;
	}

	rv = pfs_node_request(conn, node, service, data, len,
			      timeout_ms > 0 ? (uint32_t)timeout_ms : 0, &status, &reply, &reply_len);
	free(input);
	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: request to service '%s' on node %s failed: %s\n", service,
			node, pfs_last_error(conn)[0] ? pfs_last_error(conn) : strerror(-rv));
		return pmx_exit_code(rv);
	}
	print_reply(node, service, status, reply, reply_len, json);
	free(reply);
	if (status == 0)
		return EXIT_OK;
	fprintf(stderr, "pmxfsctl: service '%s' on node %s replied with status %d (%s)\n", service,
		node, status, status < 0 ? strerror(-status) : "not an errno value");
	return status < 0 ? pmx_exit_code(status) : EXIT_ERROR;
}

/* serve --------------------------------------------------------------------- */

/* The reply status for a command's exit status (see the top of this file). */
static int status_of(int wstatus)
{
	if (!WIFEXITED(wstatus))
		return -EIO;
	switch (WEXITSTATUS(wstatus)) {
	case EXIT_OK: return 0;
	case EXIT_NOT_FOUND: return -ENOENT;
	case EXIT_CONFLICT: return -EEXIST;
	case EXIT_NOT_QUORATE: return -EROFS;
	case EXIT_DENIED: return -EACCES;
	case EXIT_TIMEOUT: return -ETIMEDOUT;
	case EXIT_UNKNOWN: return -EINPROGRESS;
	default: return -EIO;
	}
}

/* In the child: the request's environment and standard streams, then exec. */
static void exec_command(char **command, const struct pfs_node_request *req, int in_fd,
			 int out_fd)
{
	char value[32];

	if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0)
		_exit(126);
	setenv("PMXFS_REQUEST_NODE", req->origin_name, 1);
	snprintf(value, sizeof(value), "%" PRIu32, req->origin);
	setenv("PMXFS_REQUEST_NODE_ID", value, 1);
	setenv("PMXFS_REQUEST_SERVICE", req->service, 1);
	snprintf(value, sizeof(value), "%" PRIu64, req->handle);
	setenv("PMXFS_REQUEST_HANDLE", value, 1);
	execvp(command[0], command);
	fprintf(stderr, "pmxfsctl: cannot run %s: %s\n", command[0], strerror(errno));
	_exit(127);
}

/* Run command for req; *status and out (MAX_PAYLOAD + 1 bytes), *len. */
static int run_command(char **command, const struct pfs_node_request *req, int *status,
		       char *out, size_t *len)
{
	int in_fd, pipefd[2], wstatus, rv;
	pid_t pid;

	/* The payload comes from a memory file, so the command may read it at
	 * its own pace while its output is collected here. */
	in_fd = memfd_create("pmxfsctl-request", MFD_CLOEXEC);
	if (in_fd < 0)
		return -errno;
	if (write(in_fd, req->data, req->len) != (ssize_t)req->len ||
	    lseek(in_fd, 0, SEEK_SET) < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		rv = -errno;
		close(in_fd);
		return rv;
	}
	pid = fork();
	if (pid == 0)
		exec_command(command, req, in_fd, pipefd[1]);
	rv = pid < 0 ? -errno : 0;
	close(in_fd);
	close(pipefd[1]);
	if (rv == 0)
		rv = read_bounded(pipefd[0], out, len);
	close(pipefd[0]);
	if (pid < 0)
		return rv;
	while (waitpid(pid, &wstatus, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	*status = status_of(wstatus);
	return rv;
}

/* Serve one request: run the command and reply. Returns a negative errno
 * value when serving cannot go on. */
static int serve_one(struct pfs_conn *conn, char **command, const struct pfs_node_request *req,
		     char *out)
{
	static const char too_big[] = "the reply is above the limit of 65536 bytes\n";
	size_t len = 0;
	int status = 0, rv;

	rv = run_command(command, req, &status, out, &len);
	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: cannot run %s for request %" PRIu64 ": %s\n", command[0],
			req->handle, strerror(-rv));
		status = -EIO;
		len = 0;
	} else if (len > MAX_PAYLOAD) {
		fprintf(stderr, "pmxfsctl: output of %s for request %" PRIu64 " is above the "
			"limit of %d bytes\n", command[0], req->handle, MAX_PAYLOAD);
		status = -E2BIG;
		len = sizeof(too_big) - 1;
		memcpy(out, too_big, len);
	}
	rv = pfs_node_reply(conn, req->handle, status, out, len);
	if (rv == -ENOTCONN || rv == -EINPROGRESS)
		return -ENOTCONN;
	if (rv < 0)
		fprintf(stderr, "pmxfsctl: reply to request %" PRIu64 " from node %s failed: %s\n",
			req->handle, req->origin_name, pfs_last_error(conn));
	else
		fprintf(stderr, "pmxfsctl: request %" PRIu64 " from node %s: status %d, %zu "
			"bytes\n", req->handle, req->origin_name, status, len);
	return 0;
}

static void serve_usage(FILE *out)
{
	fputs("Usage: pmxfsctl serve SERVICE -- COMMAND [ARGS...]\n"
	      "\n"
	      "Serve node requests for SERVICE on this node: run COMMAND for each with the\n"
	      "payload on standard input, and reply with its standard output and a status\n"
	      "from its exit code (the shared exit codes 3-8 keep their meaning).\n"
	      "COMMAND gets PMXFS_REQUEST_NODE, PMXFS_REQUEST_NODE_ID, PMXFS_REQUEST_SERVICE\n"
	      "and PMXFS_REQUEST_HANDLE. Requests are served one at a time.\n"
	      "A --timeout MS before serve bounds the connect and the registration.\n",
	      out);
}

int pmxfsctl_serve_main(const char *ipc_service, int timeout_ms, int argc, char **argv)
{
	struct pfs_node_request req = {0};
	struct pfs_conn *conn = NULL;
	const char *service;
	char *out;
	int rv;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		serve_usage(stdout);
		return EXIT_OK;
	}
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "pmxfsctl: serve takes SERVICE, then -- and a COMMAND; "
			"see pmxfsctl serve --help\n");
		return EXIT_USAGE;
	}
	service = argv[1];
	out = malloc(MAX_PAYLOAD + 1);
	if (!out) {
		fprintf(stderr, "pmxfsctl: out of memory\n");
		return EXIT_ERROR;
	}
	rv = pfs_connect_timeout(ipc_service, timeout_ms > 0 ? (uint32_t)timeout_ms : 0, &conn);
	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: cannot connect to pmxfs IPC service '%s': %s\n",
			ipc_service, strerror(-rv));
		free(out);
		return pmx_exit_code(rv);
	}
	rv = pfs_agent_register(conn, service);
	if (rv < 0) {
		fprintf(stderr, "pmxfsctl: cannot serve '%s': %s\n", service,
			pfs_last_error(conn)[0] ? pfs_last_error(conn) : strerror(-rv));
		goto out;
	}
	fprintf(stderr, "pmxfsctl: serving '%s' on this node\n", service);

	for (;;) {
		rv = pfs_next_node_request(conn, &req, -1);
		if (rv == -ETIMEDOUT)
			continue;
		if (rv < 0)
			break;
		rv = serve_one(conn, argv + 3, &req, out);
		pfs_node_request_clear(&req);
		if (rv < 0)
			break;
	}
	fprintf(stderr, "pmxfsctl: serving '%s' ended: %s\n", service,
		rv == -ENOTCONN ? "the connection to pmxfs was lost" : strerror(-rv));
	rv = rv < 0 ? rv : -EIO;

out:
	pfs_disconnect(conn);
	free(out);
	return pmx_exit_code(rv);
}
