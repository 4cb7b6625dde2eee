# tests/: unit tests (check programs printing TAP) and the test data.
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
UNIT_LIBS = $(CHECK_LIBS)

check_PROGRAMS += tests/check_conf
tests_check_conf_SOURCES = tests/check_conf.c
tests_check_conf_CFLAGS = $(UNIT_CFLAGS)
tests_check_conf_LDADD = conf/libconf.la $(UNIT_LIBS)

check_PROGRAMS += tests/check_snapshot
tests_check_snapshot_SOURCES = tests/check_snapshot.c
tests_check_snapshot_CFLAGS = $(UNIT_CFLAGS)
tests_check_snapshot_LDADD = conf/libconf.la $(UNIT_LIBS)

# pmxfs-begin: unit tests of the store
check_PROGRAMS += tests/check_wire
tests_check_wire_SOURCES = tests/check_wire.c
tests_check_wire_CFLAGS = $(UNIT_CFLAGS)
tests_check_wire_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)
# pmxfs-end

TESTS += $(check_PROGRAMS) tests/ctconf.test
EXTRA_DIST += tests/ctconf.test
