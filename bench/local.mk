# bench/: measurements of the store (not run by make check).
noinst_PROGRAMS += bench/pmxfs_bench
bench_pmxfs_bench_SOURCES = bench/pmxfs_bench.c
bench_pmxfs_bench_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) -pthread
bench_pmxfs_bench_LDADD = pmxfs/libpmxfs.la $(SQLITE_LIBS) -lpthread
EXTRA_DIST += bench/run-bench
