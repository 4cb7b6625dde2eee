# pmxfs/: the store daemon, its client library and pmxfsctl.
# libpfscore holds what the daemon, the tests and the fuzz targets share.
noinst_LTLIBRARIES += pmxfs/libpfscore.la
pmxfs_libpfscore_la_SOURCES = \
	pmxfs/wire.h pmxfs/wire.c \
	pmxfs/tree.h pmxfs/tree_internal.h pmxfs/tree.c pmxfs/apply.c pmxfs/virtual.c \
	pmxfs/db.h pmxfs/db.c pmxfs/log.h pmxfs/store.h pmxfs/store.c
pmxfs_libpfscore_la_CFLAGS = $(AM_CFLAGS) $(QB_CFLAGS) $(JSON_CFLAGS) $(OPENSSL_CFLAGS) \
	$(SQLITE_CFLAGS)
pmxfs_libpfscore_la_LIBADD = $(QB_LIBS) $(JSON_LIBS) $(OPENSSL_LIBS) $(SQLITE_LIBS)
