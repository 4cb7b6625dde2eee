/*
 * cpg_bench: raw corosync CPG agreed-order messages, the baseline of the
 * cluster benchmarks.
 *
 * Run one process per node, all with the same GROUP, MEMBERS and START.
 * Each process joins GROUP, waits until the group has MEMBERS members
 * and the START time has come, then for SECONDS keeps WINDOW messages of
 * SIZE bytes of its own outstanding (WINDOW 0: receive only). A message
 * is outstanding from its cpg_mcast_joined() until this process delivers
 * it, which is its round trip.
 *
 * Output (see bench_util.h): ops = messages from every sender delivered
 * here during the window, then the round trip of each own message sent
 * during the window, in microseconds.
 *
 * Usage: cpg_bench GROUP MEMBERS WINDOW [SIZE [SECONDS [START]]]
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <corosync/cpg.h>

#include "bench/bench_util.h"

struct header {
	uint32_t nodeid;
	uint32_t pid;
	double sent; /* CLOCK_MONOTONIC seconds */
};

static uint32_t local_nodeid;
static uint32_t local_pid;
static size_t members;
static int outstanding;
static double window_start, window_end;
static long delivered;
static struct bench_samples round_trips;

static void on_deliver(cpg_handle_t handle, const struct cpg_name *group, uint32_t nodeid,
		       uint32_t pid, void *msg, size_t len)
{
	struct header h;
	double t = bench_mono();

	(void)handle;
	(void)group;
	if (t >= window_start && t < window_end)
		delivered++;
	if (nodeid != local_nodeid || pid != local_pid || len < sizeof(h))
		return;
	memcpy(&h, msg, sizeof(h));
	outstanding--;
	if (h.sent >= window_start && h.sent < window_end)
		bench_samples_add(&round_trips, t - h.sent);
}

static void on_confchg(cpg_handle_t handle, const struct cpg_name *group,
		       const struct cpg_address *member_list, size_t member_count,
		       const struct cpg_address *left, size_t left_count,
		       const struct cpg_address *joined, size_t joined_count)
{
	(void)handle;
	(void)group;
	(void)member_list;
	(void)left;
	(void)left_count;
	(void)joined;
	(void)joined_count;
	members = member_count;
}

static cpg_model_v1_data_t model = {
	.model = CPG_MODEL_V1,
	.cpg_deliver_fn = on_deliver,
	.cpg_confchg_fn = on_confchg,
};

/* Wait up to TIMEOUT seconds for a delivery or a change and dispatch it. */
static void dispatch(cpg_handle_t handle, int fd, double timeout)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int ms = timeout <= 0 ? 0 : (int)(timeout * 1000) + 1;
	cs_error_t err;

	if (poll(&p, 1, ms) < 0 && errno != EINTR) {
		perror("cpg_bench: poll");
		exit(1);
	}
	err = cpg_dispatch(handle, CS_DISPATCH_ALL);
	if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
		fprintf(stderr, "cpg_bench: cpg_dispatch failed: error %d\n", err);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct cpg_name group;
	cpg_handle_t handle;
	size_t want_members, size = 1024;
	double seconds = 3, start = 0, deadline;
	int window, fd;
	long sent = 0;
	char *msg;
	cs_error_t err;

	if (argc < 4 || argc > 7) {
		fprintf(stderr, "Usage: cpg_bench GROUP MEMBERS WINDOW [SIZE [SECONDS [START]]]\n");
		return 2;
	}
	want_members = (size_t)atoi(argv[2]);
	window = atoi(argv[3]);
	if (argc > 4)
		size = (size_t)atol(argv[4]);
	if (argc > 5)
		seconds = atof(argv[5]);
	if (argc > 6)
		start = atof(argv[6]);
	if (strlen(argv[1]) >= CPG_MAX_NAME_LENGTH || want_members < 1 || window < 0 ||
	    size < sizeof(struct header) || seconds <= 0) {
		fprintf(stderr, "cpg_bench: invalid argument: GROUP must be shorter than %d bytes, "
			"MEMBERS at least 1, WINDOW at least 0, SIZE at least %zu bytes and "
			"SECONDS positive\n", CPG_MAX_NAME_LENGTH, sizeof(struct header));
		return 2;
	}
	msg = calloc(1, size);
	if (!msg)
		return 1;

	err = cpg_model_initialize(&handle, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL);
	if (err != CS_OK) {
		fprintf(stderr, "cpg_bench: cpg_model_initialize failed: error %d. Start corosync "
			"in this network namespace first.\n", err);
		return 1;
	}
	cpg_local_get(handle, &local_nodeid);
	cpg_fd_get(handle, &fd);
	local_pid = (uint32_t)getpid();
	group.length = (uint32_t)strlen(argv[1]);
	memcpy(group.value, argv[1], group.length);
	err = cpg_join(handle, &group);
	if (err != CS_OK) {
		fprintf(stderr, "cpg_bench: joining group %s failed: error %d\n", argv[1], err);
		return 1;
	}

	deadline = bench_mono() + 30;
	while (members < want_members) {
		if (bench_mono() > deadline) {
			fprintf(stderr, "cpg_bench: group %s has %zu of %zu members after 30 s\n",
				argv[1], members, want_members);
			return 1;
		}
		dispatch(handle, fd, 0.1);
	}
	window_start = bench_start_mono(start);
	window_end = window_start + seconds;
	while (bench_mono() < window_start)
		dispatch(handle, fd, window_start - bench_mono());

	while (bench_mono() < window_end) {
		bool blocked = false;

		while (outstanding < window) {
			struct header h = {local_nodeid, local_pid, bench_mono()};
			struct iovec iov = {msg, size};

			memcpy(msg, &h, sizeof(h));
			err = cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1);
			if (err == CS_ERR_TRY_AGAIN) {
				blocked = true;
				break;
			}
			if (err != CS_OK) {
				fprintf(stderr, "cpg_bench: cpg_mcast_joined failed: error %d\n", err);
				return 1;
			}
			outstanding++;
			sent++;
		}
		/* Under flow control, retry the send soon even without a delivery. */
		dispatch(handle, fd, blocked ? 0.001 : window_end - bench_mono());
	}
	/* Stay joined a little so that the other senders' windows end first. */
	deadline = bench_mono() + 0.5;
	while (bench_mono() < deadline)
		dispatch(handle, fd, deadline - bench_mono());

	printf("# ops=%ld seconds=%.3f sent=%ld\n", delivered, seconds, sent);
	bench_samples_print(&round_trips, stdout);
	cpg_leave(handle, &group);
	cpg_finalize(handle);
	free(msg);
	return 0;
}
