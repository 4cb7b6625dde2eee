# pmxfs/: the store daemon, its client library and pmxfsctl.
noinst_LTLIBRARIES += pmxfs/libpfscore.la
pmxfs_libpfscore_la_SOURCES = \
	pmxfs/wire.h pmxfs/wire.c
pmxfs_libpfscore_la_CFLAGS = $(AM_CFLAGS)
