# tests/: unit tests (check programs printing TAP) and the test data.
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
UNIT_LIBS = $(CHECK_LIBS)

check_PROGRAMS += tests/check_conf
tests_check_conf_SOURCES = tests/check_conf.c tests/conf_oracle.h tests/conf_oracle.c
tests_check_conf_CFLAGS = $(UNIT_CFLAGS)
tests_check_conf_LDADD = conf/libconf.la $(UNIT_LIBS)

check_PROGRAMS += tests/check_snapshot
tests_check_snapshot_SOURCES = tests/check_snapshot.c
tests_check_snapshot_CFLAGS = $(UNIT_CFLAGS)
tests_check_snapshot_LDADD = conf/libconf.la $(UNIT_LIBS)

# propstr-begin: unit tests of property strings and the schema
check_PROGRAMS += tests/check_propstr tests/check_schema
tests_check_propstr_SOURCES = tests/check_propstr.c
tests_check_propstr_CFLAGS = $(UNIT_CFLAGS)
tests_check_propstr_LDADD = conf/libconf.la $(UNIT_LIBS)
tests_check_schema_SOURCES = tests/check_schema.c
tests_check_schema_CFLAGS = $(UNIT_CFLAGS)
tests_check_schema_LDADD = conf/libconf.la $(UNIT_LIBS)
# propstr-end

# pmxfs-begin: unit tests of the store
check_PROGRAMS += tests/check_wire
tests_check_wire_SOURCES = tests/check_wire.c
tests_check_wire_CFLAGS = $(UNIT_CFLAGS)
tests_check_wire_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)

check_PROGRAMS += tests/check_batch
tests_check_batch_SOURCES = tests/check_batch.c
tests_check_batch_CFLAGS = $(UNIT_CFLAGS)
tests_check_batch_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)

check_PROGRAMS += tests/check_tree
tests_check_tree_SOURCES = tests/check_tree.c
tests_check_tree_CFLAGS = $(UNIT_CFLAGS)
tests_check_tree_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)

check_PROGRAMS += tests/check_db tests/check_store
tests_check_db_SOURCES = tests/check_db.c
tests_check_db_CFLAGS = $(UNIT_CFLAGS)
tests_check_db_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)
tests_check_store_SOURCES = tests/check_store.c
tests_check_store_CFLAGS = $(UNIT_CFLAGS) $(QB_CFLAGS)
tests_check_store_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)

check_PROGRAMS += tests/check_server
tests_check_server_SOURCES = tests/check_server.c
tests_check_server_CFLAGS = $(UNIT_CFLAGS) $(QB_CFLAGS)
tests_check_server_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)

check_PROGRAMS += tests/check_import
tests_check_import_SOURCES = tests/check_import.c pmxfs/import.c
tests_check_import_CFLAGS = $(UNIT_CFLAGS) $(SQLITE_CFLAGS)
tests_check_import_LDADD = $(SQLITE_LIBS) $(UNIT_LIBS)

check_PROGRAMS += tests/check_ipc
tests_check_ipc_SOURCES = tests/check_ipc.c
tests_check_ipc_CFLAGS = $(UNIT_CFLAGS) $(QB_CFLAGS) -pthread
tests_check_ipc_LDADD = pmxfs/libpfscore.la pmxfs/libpmxfs.la $(UNIT_LIBS) -lpthread

check_PROGRAMS += tests/check_noderq
tests_check_noderq_SOURCES = tests/check_noderq.c
tests_check_noderq_CFLAGS = $(UNIT_CFLAGS) $(QB_CFLAGS) -pthread
tests_check_noderq_LDADD = pmxfs/libpfscore.la pmxfs/libpmxfs.la $(UNIT_LIBS) -lpthread

check_PROGRAMS += tests/check_mirror
tests_check_mirror_SOURCES = tests/check_mirror.c
tests_check_mirror_CFLAGS = $(UNIT_CFLAGS)
tests_check_mirror_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)

check_PROGRAMS += tests/check_sync
tests_check_sync_SOURCES = tests/check_sync.c
tests_check_sync_CFLAGS = $(UNIT_CFLAGS)
tests_check_sync_LDADD = pmxfs/libpfscore.la $(UNIT_LIBS)

# End-to-end tests of the store, run by ./run-tests store (they need root).
EXTRA_DIST += tests/store
# pmxfs-end

# lock-begin: liblock and the container lock property, against a real
# pmxfs --local daemon that each program starts from $BUILD_DIR; ctlock
# also runs lock/ctlockctl from there. `make check` builds both first.
check_PROGRAMS += tests/check_lock tests/check_ctlock
tests_check_lock_SOURCES = tests/check_lock.c tests/lock_daemon.h tests/lock_daemon.c
tests_check_lock_CFLAGS = $(UNIT_CFLAGS) -pthread
tests_check_lock_LDADD = lock/liblock.la $(UNIT_LIBS) -lpthread
tests_check_ctlock_SOURCES = tests/check_ctlock.c tests/lock_daemon.h tests/lock_daemon.c
tests_check_ctlock_CFLAGS = $(UNIT_CFLAGS) -pthread
tests_check_ctlock_LDADD = lock/liblock.la $(UNIT_LIBS) -lpthread

# An agent that dies while its forked child runs (node-request-local.test).
noinst_PROGRAMS += tests/fork_agent
tests_fork_agent_SOURCES = tests/fork_agent.c
tests_fork_agent_LDADD = pmxfs/libpmxfs.la

# The liblock client that tests/cluster/lock-3node.test runs on each node.
noinst_PROGRAMS += tests/lock_client
tests_lock_client_SOURCES = tests/lock_client.c
tests_lock_client_CFLAGS = $(AM_CFLAGS) -pthread
tests_lock_client_LDADD = lock/liblock.la -lpthread
# lock-end

# ctmgr-begin: unit tests of libctmgr (LXC config, storage, options)
check_PROGRAMS += tests/check_lxcconf tests/check_storage tests/check_options
tests_check_lxcconf_SOURCES = tests/check_lxcconf.c
tests_check_lxcconf_CFLAGS = $(UNIT_CFLAGS) $(LXC_CFLAGS)
tests_check_lxcconf_LDADD = ctmgr/libctmgr.la $(LXC_LIBS) $(UNIT_LIBS)
tests_check_storage_SOURCES = tests/check_storage.c
tests_check_storage_CFLAGS = $(UNIT_CFLAGS)
tests_check_storage_LDADD = ctmgr/libctmgr.la $(UNIT_LIBS)
tests_check_options_SOURCES = tests/check_options.c
tests_check_options_CFLAGS = $(UNIT_CFLAGS)
tests_check_options_LDADD = ctmgr/libctmgr.la $(UNIT_LIBS)
EXTRA_DIST += tests/data/lxcconf tests/data/storage
# ctmgr-end

# setup-begin: guest setup on fixture root file systems in tests/data/setup/
check_PROGRAMS += tests/check_setup
tests_check_setup_SOURCES = tests/check_setup.c
tests_check_setup_CFLAGS = $(UNIT_CFLAGS)
tests_check_setup_LDADD = ctmgr/libctsetup.la $(UNIT_LIBS) -lcrypt
EXTRA_DIST += tests/data/setup
# setup-end

# ct-begin: the pure parts of the container operations; the operations
# themselves are tested with real LXC by tests/system/ct-local.test, which
# needs root and runs apart from `make check`.
check_PROGRAMS += tests/check_ct
tests_check_ct_SOURCES = tests/check_ct.c
tests_check_ct_CFLAGS = $(UNIT_CFLAGS) $(LXC_CFLAGS)
tests_check_ct_LDADD = ctmgr/libctops.la $(UNIT_LIBS)
EXTRA_DIST += tests/system tests/demo
# ct-end

# migrate-begin: task ids, task logs and the migrate request; migrations
# themselves run in tests/system/migrate-3node.test.
check_PROGRAMS += tests/check_migrate
tests_check_migrate_SOURCES = tests/check_migrate.c
tests_check_migrate_CFLAGS = $(UNIT_CFLAGS) $(LXC_CFLAGS) $(JSON_CFLAGS)
tests_check_migrate_LDADD = ctmgr/libctagent.la $(UNIT_LIBS)
# migrate-end

# xfer-begin: volume transfer over loopback (needs root: chown, mknod)
check_PROGRAMS += tests/check_xfer
tests_check_xfer_SOURCES = tests/check_xfer.c
tests_check_xfer_CFLAGS = $(UNIT_CFLAGS) $(ARCHIVE_CFLAGS) -pthread
tests_check_xfer_LDADD = ctmgr/libctxfer.la $(ARCHIVE_LIBS) $(UNIT_LIBS) -lpthread
# xfer-end

TESTS += $(check_PROGRAMS) tests/ctconf.test
EXTRA_DIST += tests/ctconf.test
