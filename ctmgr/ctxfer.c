/*
 * ctxfer: the volume transfer of migrations (ctmgr/xfer.h) on the command
 * line, for tests and the benchmark.
 *
 *   ctxfer serve --key FILE --listen ADDR:PORT --storage DIR [--count N]
 *   ctxfer send --key FILE --to ADDR:PORT --id CTID --token T --volume PATH DIR
 *   ctxfer clean --storage DIR
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/exit_code.h"
#include "ctmgr/xfer.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ctxfer serve --key FILE --listen ADDR:PORT --storage DIR [--count N]\n"
		"                    [--stall-timeout SECONDS] [--json]\n"
		"       ctxfer send --key FILE --to ADDR:PORT --id CTID --token TOKEN\n"
		"                   --volume PATH [--size BYTES] [--connect-timeout SECONDS]\n"
		"                   [--stall-timeout SECONDS] [--progress] [--json] DIR\n"
		"       ctxfer clean --storage DIR [--json]\n"
		"\n"
		"serve   receive transfers into DIR/PATH (through DIR/.incoming) until N\n"
		"        transfers (default: no limit) have ended; prints 'listening on\n"
		"        ADDR:PORT' once ready (PORT 0 picks a free port)\n"
		"send    copy DIR as volume PATH of container CTID to the receiver\n"
		"clean   remove the folders that interrupted transfers left in DIR/.incoming\n"
		"--key   the cluster key file; the transfer key is derived from its bytes\n"
		"--size  bytes the receiver must have free (default: the sender's estimate)\n");
}

/* Split ADDR:PORT or [ADDR]:PORT into HOST (of HOST_SIZE bytes) and *PORT. */
static int parse_endpoint(const char *arg, char *host, size_t host_size, uint16_t *port)
{
	const char *colon = strrchr(arg, ':');
	const char *start = arg;
	size_t len;
	char *end;
	unsigned long value;

	if (!colon || colon == arg)
		return -EINVAL;
	len = (size_t)(colon - arg);
	if (arg[0] == '[' && colon[-1] == ']') {
		start = arg + 1;
		len -= 2;
	}
	if (len == 0 || len >= host_size)
		return -EINVAL;
	memcpy(host, start, len);
	host[len] = '\0';
	errno = 0;
	value = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || value > 65535)
		return -EINVAL;
	*port = (uint16_t)value;
	return 0;
}

static int parse_number(const char *arg, const char *option, uint64_t max, uint64_t *out)
{
	unsigned long long value;
	char *end;

	errno = 0;
	value = strtoull(arg, &end, 10);
	if (errno || *end || end == arg || arg[0] == '-' || value > max) {
		fprintf(stderr, "ctxfer: invalid %s value '%s': use a whole number from 0 to %"
			PRIu64 "\n", option, arg, max);
		return -EINVAL;
	}
	*out = value;
	return 0;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void hex(const unsigned char *sha, char *out)
{
	int i;

	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", sha[i]);
}

/* Prints a line to stderr at every tenth of the estimate. */
static int print_progress(uint64_t bytes, uint64_t total, void *data)
{
	unsigned *last = data;
	unsigned tenth = total ? (unsigned)(bytes * 10 / total) : 0;

	if (tenth > *last && tenth <= 10) {
		*last = tenth;
		fprintf(stderr, "ctxfer: %" PRIu64 " of about %" PRIu64 " bytes sent\n", bytes,
			total);
	}
	return 0;
}

enum {
	OPT_KEY = 256, OPT_LISTEN, OPT_STORAGE, OPT_COUNT, OPT_TO, OPT_ID, OPT_TOKEN,
	OPT_VOLUME, OPT_SIZE, OPT_CONNECT_TIMEOUT, OPT_STALL_TIMEOUT, OPT_PROGRESS, OPT_JSON,
	OPT_OUTPUT_FORMAT, OPT_HELP,
};

static const struct option options[] = {
	{ "key", required_argument, NULL, OPT_KEY },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "storage", required_argument, NULL, OPT_STORAGE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "to", required_argument, NULL, OPT_TO },
	{ "id", required_argument, NULL, OPT_ID },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "volume", required_argument, NULL, OPT_VOLUME },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "stall-timeout", required_argument, NULL, OPT_STALL_TIMEOUT },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "output-format", required_argument, NULL, OPT_OUTPUT_FORMAT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *key, *listen, *storage, *to, *token, *volume, *dir;
	uint64_t count, id, size, connect_timeout, stall_timeout;
	bool has_id, progress, json;
};

static int cmd_serve(const struct args *a)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE], host[256], sha[65];
	struct ctm_xfer_server *server;
	struct ctm_xfer_opts opts = { .stall_timeout_ms = (int)a->stall_timeout * 1000 };
	struct ctm_xfer_header h;
	struct ctm_xfer_result res;
	struct ctm_xfer_key key;
	struct timespec start;
	uint16_t port;
	uint64_t done;
	int rv, last = 0;

	if (!a->key || !a->listen || !a->storage || a->dir) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_endpoint(a->listen, host, sizeof(host), &port) < 0) {
		fprintf(stderr, "ctxfer: invalid --listen value '%s': use ADDR:PORT\n", a->listen);
		return EXIT_USAGE;
	}
	rv = ctm_xfer_key_load(a->key, &key, errmsg);
	if (rv == 0)
		rv = ctm_xfer_server_new(&key, host, port, &server, errmsg);
	if (rv < 0) {
		fprintf(stderr, "ctxfer: %s\n", errmsg);
		return pmx_exit_code(rv);
	}
	printf("listening on %s:%u\n", host, ctm_xfer_server_port(server));
	fflush(stdout);

	for (done = 0; a->count == 0 || done < a->count; done++) {
		clock_gettime(CLOCK_MONOTONIC, &start);
		rv = ctm_xfer_server_receive(server, a->storage, -1, &opts, &h, &res, errmsg);
		if (rv < 0) {
			fprintf(stderr, "ctxfer: %s\n", errmsg);
			last = rv;
			continue;
		}
		hex(res.sha256, sha);
		if (a->json)
			printf("{\"ctid\":%u,\"bytes\":%" PRIu64 ",\"entries\":%" PRIu64
			       ",\"sha256\":\"%s\",\"seconds\":%.3f}\n", h.ctid, res.archive_bytes,
			       res.entries, sha, seconds_since(&start));
		else
			printf("received CT %u: %" PRIu64 " bytes, %" PRIu64 " entries, sha256 %s\n",
			       h.ctid, res.archive_bytes, res.entries, sha);
		fflush(stdout);
		last = 0;
	}
	ctm_xfer_server_free(server);
	return pmx_exit_code(last);
}

static int cmd_send(const struct args *a)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE], host[256], sha[65];
	struct ctm_xfer_opts opts = {
		.connect_timeout_ms = (int)a->connect_timeout * 1000,
		.stall_timeout_ms = (int)a->stall_timeout * 1000,
	};
	struct ctm_xfer_header h = {
		.ctid = (uint32_t)a->id, .token = a->token, .volume = a->volume,
		.expected_size = a->size,
	};
	struct ctm_xfer_result res;
	struct ctm_xfer_key key;
	struct timespec start;
	unsigned last_tenth = 0;
	uint16_t port;
	double seconds;
	int rv;

	if (!a->key || !a->to || !a->has_id || !a->token || !a->volume || !a->dir) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_endpoint(a->to, host, sizeof(host), &port) < 0 || port == 0) {
		fprintf(stderr, "ctxfer: invalid --to value '%s': use ADDR:PORT\n", a->to);
		return EXIT_USAGE;
	}
	if (a->progress) {
		opts.progress = print_progress;
		opts.progress_data = &last_tenth;
	}
	rv = ctm_xfer_key_load(a->key, &key, errmsg);
	if (rv < 0) {
		fprintf(stderr, "ctxfer: %s\n", errmsg);
		return pmx_exit_code(rv);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	rv = ctm_xfer_send(&key, host, port, &h, a->dir, &opts, &res, errmsg);
	if (rv < 0) {
		fprintf(stderr, "ctxfer: %s\n", errmsg);
		return pmx_exit_code(rv);
	}
	seconds = seconds_since(&start);
	hex(res.sha256, sha);
	if (a->json)
		printf("{\"bytes\":%" PRIu64 ",\"entries\":%" PRIu64 ",\"sha256\":\"%s\","
		       "\"seconds\":%.3f}\n", res.archive_bytes, res.entries, sha, seconds);
	else
		printf("sent %s as volume %s: %" PRIu64 " bytes, %" PRIu64 " entries, sha256 %s, "
		       "%.3f s\n", a->dir, a->volume, res.archive_bytes, res.entries, sha, seconds);
	return EXIT_OK;
}

static int cmd_clean(const struct args *a)
{
	char errmsg[CTM_XFER_ERRMSG_SIZE];
	unsigned removed;
	int rv;

	if (!a->storage || a->dir) {
		usage(stderr);
		return EXIT_USAGE;
	}
	rv = ctm_xfer_clean_incoming(a->storage, &removed, errmsg);
	if (rv < 0) {
		fprintf(stderr, "ctxfer: %s\n", errmsg);
		return pmx_exit_code(rv);
	}
	if (a->json)
		printf("{\"removed\":%u}\n", removed);
	else
		printf("removed %u interrupted transfers from %s/%s\n", removed, a->storage,
		       CTM_XFER_INCOMING);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	const char *command;
	int opt;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	command = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_KEY: a.key = optarg; break;
		case OPT_LISTEN: a.listen = optarg; break;
		case OPT_STORAGE: a.storage = optarg; break;
		case OPT_TO: a.to = optarg; break;
		case OPT_TOKEN: a.token = optarg; break;
		case OPT_VOLUME: a.volume = optarg; break;
		case OPT_PROGRESS: a.progress = true; break;
		case OPT_JSON: a.json = true; break;
		case OPT_OUTPUT_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0) {
				fprintf(stderr, "ctxfer: invalid --output-format '%s': use json or "
					"text\n", optarg);
				return EXIT_USAGE;
			}
			a.json = !strcmp(optarg, "json");
			break;
		case OPT_COUNT:
			if (parse_number(optarg, "--count", UINT32_MAX, &a.count) < 0)
				return EXIT_USAGE;
			break;
		case OPT_ID:
			if (parse_number(optarg, "--id", 999999999, &a.id) < 0)
				return EXIT_USAGE;
			a.has_id = true;
			break;
		case OPT_SIZE:
			if (parse_number(optarg, "--size", UINT64_MAX, &a.size) < 0)
				return EXIT_USAGE;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_number(optarg, "--connect-timeout", 86400, &a.connect_timeout) < 0)
				return EXIT_USAGE;
			break;
		case OPT_STALL_TIMEOUT:
			if (parse_number(optarg, "--stall-timeout", 86400, &a.stall_timeout) < 0)
				return EXIT_USAGE;
			break;
		case OPT_HELP:
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		a.dir = argv[optind++];
	if (optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	if (!strcmp(command, "serve"))
		return cmd_serve(&a);
	if (!strcmp(command, "send"))
		return cmd_send(&a);
	if (!strcmp(command, "clean"))
		return cmd_clean(&a);
	fprintf(stderr, "ctxfer: unknown command '%s': use serve, send or clean\n", command);
	return EXIT_USAGE;
}
