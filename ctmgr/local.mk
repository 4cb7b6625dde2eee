# ctmgr/: the container manager.

# setup-begin: guest setup, run on a container's root file system before
# every start and at create time.
noinst_LTLIBRARIES += ctmgr/libctsetup.la
ctmgr_libctsetup_la_SOURCES = ctmgr/setup.h ctmgr/setup.c
ctmgr_libctsetup_la_CFLAGS = $(AM_CFLAGS)
ctmgr_libctsetup_la_LIBADD = conf/libconf.la -lcrypt
# setup-end

# xfer-begin: volume transfer between the agents of two nodes (migration),
# and ctxfer, its command-line front end for tests and the benchmark.
noinst_LTLIBRARIES += ctmgr/libctxfer.la
ctmgr_libctxfer_la_SOURCES = ctmgr/xfer.h ctmgr/xfer.c
ctmgr_libctxfer_la_CFLAGS = $(AM_CFLAGS) $(ARCHIVE_CFLAGS) $(OPENSSL_CFLAGS) -pthread
ctmgr_libctxfer_la_LIBADD = $(ARCHIVE_LIBS) $(OPENSSL_LIBS) -lpthread

noinst_PROGRAMS += ctmgr/ctxfer
ctmgr_ctxfer_SOURCES = ctmgr/ctxfer.c
ctmgr_ctxfer_CFLAGS = $(AM_CFLAGS)
ctmgr_ctxfer_LDADD = ctmgr/libctxfer.la
# xfer-end
