# tests/reliability/: the client of the fault-injection and crash tests
# (./run-tests reliability, which needs root).
noinst_PROGRAMS += tests/reliability/rel_client
tests_reliability_rel_client_SOURCES = tests/reliability/rel_client.c
tests_reliability_rel_client_CFLAGS = $(AM_CFLAGS) $(JSON_CFLAGS) -pthread
tests_reliability_rel_client_LDADD = lock/liblock.la pmxfs/libpmxfs.la $(JSON_LIBS) -lpthread
# Named one by one: the build folder has a tests/reliability of its own
# with rel_client in it, and a folder in EXTRA_DIST is copied from there.
EXTRA_DIST += tests/reliability/checker-unit.test tests/reliability/checker.py \
	tests/reliability/crash.test tests/reliability/ct-faults.test \
	tests/reliability/disk-full.test tests/reliability/faults.test \
	tests/reliability/hostile.test tests/reliability/nemesis.py
