# bench/: measurements of the store (not run by make check).
noinst_PROGRAMS += bench/pmxfs_bench
bench_pmxfs_bench_SOURCES = bench/pmxfs_bench.c
bench_pmxfs_bench_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) -pthread
bench_pmxfs_bench_LDADD = pmxfs/libpmxfs.la $(SQLITE_LIBS) -lpthread
EXTRA_DIST += bench/run-bench

# Cluster benchmarks, driven by bench/run-cluster-bench on a lab cluster.
noinst_PROGRAMS += bench/cpg_bench bench/cluster_bench
bench_cpg_bench_SOURCES = bench/cpg_bench.c bench/bench_util.h
bench_cpg_bench_CFLAGS = $(AM_CFLAGS) $(CPG_CFLAGS)
bench_cpg_bench_LDADD = $(CPG_LIBS)
bench_cluster_bench_SOURCES = bench/cluster_bench.c bench/bench_util.h
bench_cluster_bench_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS) -pthread
bench_cluster_bench_LDADD = lock/liblock.la pmxfs/libpmxfs.la $(SQLITE_LIBS) -lpthread
EXTRA_DIST += bench/run-cluster-bench bench/store-ab bench/xfer-bench bench/sync-memory \
	bench/migrate-bench bench/ct-bench
noinst_PROGRAMS += bench/etcd_bench
bench_etcd_bench_SOURCES = bench/etcd_bench.c bench/bench_util.h
bench_etcd_bench_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) -pthread
bench_etcd_bench_LDADD = $(OPENSSL_LIBS) -lpthread
