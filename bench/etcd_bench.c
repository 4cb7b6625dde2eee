/*
 * etcd_bench: 1 KiB puts to etcd, the peer figure of the cluster
 * benchmarks. Each client thread keeps one HTTP/1.1 connection to the
 * JSON gateway of etcd v3 (POST /v3/kv/put) and puts its own key as fast
 * as the replies come. The gateway adds JSON and base64 work to every
 * request that a gRPC client would not pay.
 *
 * Output as described in bench_util.h.
 *
 * Usage: etcd_bench ADDRESS PORT CLIENTS SIZE SECONDS START KEYPREFIX
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bench/bench_util.h"

static struct sockaddr_in server;
static double window_start, window_end;
static atomic_int failures;

struct client {
	pthread_t thread;
	char *request;
	size_t request_len;
	long ops;
	struct bench_samples latencies;
};

static char *base64(const char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
	return out;
}

/* Read one HTTP response; returns 0 for a 200 with its body consumed. */
static int read_response(int fd, char *buf, size_t size)
{
	size_t have = 0, body_len = 0;
	char *end = NULL, *p;
	ssize_t n;
	int status;

	while (!end) {
		if (have + 1 >= size)
			return -1;
		n = read(fd, buf + have, size - have - 1);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	p = strcasestr(buf, "\r\ncontent-length:");
	if (!p || p > end) {
		/* Chunked replies would need parsing; the gateway sends a length. */
		return -1;
	}
	body_len = strtoul(p + 17, NULL, 10);
	have -= (size_t)(end + 4 - buf);
	while (have < body_len) {
		n = read(fd, buf, size < body_len - have ? size : body_len - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return status == 200 ? 0 : -1;
}

static void *run_client(void *arg)
{
	struct client *c = arg;
	char buf[16384];
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
		perror("etcd_bench: connect");
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bench_sleep(window_start - bench_mono());
	for (;;) {
		double t0 = bench_mono(), t1;

		if (t0 >= window_end)
			break;
		if (write(fd, c->request, c->request_len) != (ssize_t)c->request_len ||
		    read_response(fd, buf, sizeof(buf)) < 0) {
			if (atomic_fetch_add(&failures, 1) < 5)
				fprintf(stderr, "etcd_bench: put failed: %.200s\n", buf);
			break;
		}
		t1 = bench_mono();
		if (t1 < window_end) {
			c->ops++;
			bench_samples_add(&c->latencies, t1 - t0);
		}
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct client *clients;
	size_t size;
	double seconds;
	long ops = 0;
	int n;

	if (argc != 8) {
		fprintf(stderr,
			"Usage: etcd_bench ADDRESS PORT CLIENTS SIZE SECONDS START KEYPREFIX\n");
		return 2;
	}
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)atoi(argv[2]));
	n = atoi(argv[3]);
	size = (size_t)atol(argv[4]);
	seconds = atof(argv[5]);
	if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1 || n <= 0 || size == 0 ||
	    size > 8192 || seconds <= 0) {
		fprintf(stderr, "etcd_bench: invalid argument: ADDRESS must be an IPv4 address, "
			"CLIENTS positive, SIZE 1..8192 bytes, SECONDS positive\n");
		return 2;
	}
	clients = calloc((size_t)n, sizeof(*clients));
	if (!clients)
		return 1;
	for (int i = 0; i < n; i++) {
		char key[256], *value = malloc(size), *key64, *value64, body[16384];
		int body_len;

		if (!value)
			return 1;
		memset(value, 'e', size);
		snprintf(key, sizeof(key), "%s-c%d", argv[7], i);
		key64 = base64(key, strlen(key));
		value64 = base64(value, size);
		if (!key64 || !value64)
			return 1;
		body_len = snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\"}", key64,
				    value64);
		clients[i].request = malloc(strlen(body) + 256);
		if (!clients[i].request)
			return 1;
		clients[i].request_len = (size_t)sprintf(clients[i].request,
			"POST /v3/kv/put HTTP/1.1\r\nHost: %s:%s\r\n"
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			argv[1], argv[2], body_len, body);
		free(value);
		free(key64);
		free(value64);
	}

	window_start = bench_start_mono(atof(argv[6]));
	window_end = window_start + seconds;
	for (int i = 0; i < n; i++)
		pthread_create(&clients[i].thread, NULL, run_client, &clients[i]);
	for (int i = 0; i < n; i++) {
		pthread_join(clients[i].thread, NULL);
		ops += clients[i].ops;
	}
	printf("# ops=%ld seconds=%.3f\n", ops, seconds);
	for (int i = 0; i < n; i++)
		bench_samples_print(&clients[i].latencies, stdout);
	return atomic_load(&failures) ? 1 : 0;
}
