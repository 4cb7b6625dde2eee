# tests/reliability/: the client of the fault-injection and crash tests
# (./run-tests reliability, which needs root).
noinst_PROGRAMS += tests/reliability/rel_client
tests_reliability_rel_client_SOURCES = tests/reliability/rel_client.c
tests_reliability_rel_client_CFLAGS = $(AM_CFLAGS) $(JSON_CFLAGS) -pthread
tests_reliability_rel_client_LDADD = lock/liblock.la pmxfs/libpmxfs.la $(JSON_LIBS) -lpthread
EXTRA_DIST += tests/reliability
