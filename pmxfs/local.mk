# pmxfs/: the store daemon, its client library and pmxfsctl.
# libpfscore holds what the daemon, the tests and the fuzz targets share.
noinst_LTLIBRARIES += pmxfs/libpfscore.la
pmxfs_libpfscore_la_SOURCES = \
	pmxfs/wire.h pmxfs/wire.c \
	pmxfs/tree.h pmxfs/tree_internal.h pmxfs/tree.c pmxfs/apply.c pmxfs/virtual.c \
	pmxfs/db.h pmxfs/db.c pmxfs/log.h pmxfs/store.h pmxfs/store.c \
	pmxfs/proto.h pmxfs/proto.c pmxfs/perm.h pmxfs/perm.c pmxfs/watch.h pmxfs/watch.c \
	pmxfs/mirror.h pmxfs/mirror.c pmxfs/server.h pmxfs/server.c \
	pmxfs/sync.h pmxfs/sync.c pmxfs/sync_msg.c pmxfs/noderq.h pmxfs/noderq.c
pmxfs_libpfscore_la_CFLAGS = $(AM_CFLAGS) $(QB_CFLAGS) $(JSON_CFLAGS) $(OPENSSL_CFLAGS) \
	$(SQLITE_CFLAGS)
pmxfs_libpfscore_la_LIBADD = $(QB_LIBS) $(JSON_LIBS) $(OPENSSL_LIBS) $(SQLITE_LIBS)

# libpmxfs: the client library, with the documented header pmxfs/pmxfs.h.
lib_LTLIBRARIES += pmxfs/libpmxfs.la
pmxfsincludedir = $(includedir)/pmxfs
pmxfsinclude_HEADERS = pmxfs/pmxfs.h
pmxfs_libpmxfs_la_SOURCES = pmxfs/pmxfs.h pmxfs/libpmxfs.c pmxfs/proto.h pmxfs/wire.h
pmxfs_libpmxfs_la_CFLAGS = $(AM_CFLAGS) $(QB_CFLAGS)
pmxfs_libpmxfs_la_LIBADD = $(QB_LIBS)
pmxfs_libpmxfs_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0

sbin_PROGRAMS += pmxfs/pmxfs
pmxfs_pmxfs_SOURCES = pmxfs/pmxfs.c pmxfs/cpg.h pmxfs/cpg.c pmxfs/nodelist.h pmxfs/nodelist.c
pmxfs_pmxfs_CFLAGS = $(AM_CFLAGS) $(QB_CFLAGS) $(CMAP_CFLAGS) $(CPG_CFLAGS) $(VOTEQUORUM_CFLAGS)
pmxfs_pmxfs_LDADD = pmxfs/libpfscore.la $(CMAP_LIBS) $(CPG_LIBS) $(VOTEQUORUM_LIBS)

bin_PROGRAMS += pmxfs/pmxfsctl
pmxfs_pmxfsctl_SOURCES = pmxfs/pmxfsctl.c pmxfs/import.h pmxfs/import.c \
	pmxfs/pmxfsctl_lock.h pmxfs/pmxfsctl_lock.c pmxfs/pmxfsctl_node.h pmxfs/pmxfsctl_node.c
pmxfs_pmxfsctl_CFLAGS = $(AM_CFLAGS) $(JSON_CFLAGS) $(SQLITE_CFLAGS)
pmxfs_pmxfsctl_LDADD = lock/liblock.la pmxfs/libpmxfs.la $(JSON_LIBS) $(SQLITE_LIBS) -lpthread
