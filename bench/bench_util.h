/*
 * Helpers shared by the cluster benchmarks: clocks, a common start time
 * for processes on several lab nodes, and latency samples.
 *
 * Every benchmark process prints one header line
 *   # ops=N seconds=S
 * followed by one latency in microseconds per line, for the operations
 * that completed inside the measured window. bench/run-cluster-bench
 * merges the outputs of several processes.
 */
#ifndef BENCH_BENCH_UTIL_H
#define BENCH_BENCH_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double bench_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void bench_sleep(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Convert START, a CLOCK_REALTIME epoch in seconds shared by processes on
 * several nodes of one host, to CLOCK_MONOTONIC. 0 means now.
 */
static inline double bench_start_mono(double start)
{
	if (start <= 0)
		return bench_mono();
	return bench_mono() + (start - bench_real());
}

/* Latencies in seconds, one growing array per thread. */
struct bench_samples {
	double *v;
	size_t n, cap;
};

static inline void bench_samples_add(struct bench_samples *s, double value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 4096;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			fprintf(stderr, "bench: out of memory for %zu latency samples\n", cap);
			exit(1);
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = value;
}

static inline void bench_samples_print(const struct bench_samples *s, FILE *out)
{
	for (size_t i = 0; i < s->n; i++)
		fprintf(out, "%.1f\n", s->v[i] * 1e6);
}

#endif /* BENCH_BENCH_UTIL_H */
