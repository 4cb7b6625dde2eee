# ctmgr/: the container manager.

# libctmgr: container configs into LXC configs, dir storage volumes and
# pct-style options.
noinst_LTLIBRARIES += ctmgr/libctmgr.la
ctmgr_libctmgr_la_SOURCES = \
	ctmgr/ctm_internal.h ctmgr/util.c \
	ctmgr/storage.h ctmgr/storage.c \
	ctmgr/lxcconf.h ctmgr/lxcconf_internal.h ctmgr/lxcconf.c ctmgr/lxcconf_volumes.c \
	ctmgr/options.h ctmgr/options.c
ctmgr_libctmgr_la_CFLAGS = $(AM_CFLAGS)
ctmgr_libctmgr_la_LIBADD = conf/libconf.la

# setup-begin: guest setup, run on a container's root file system before
# every start and at create time.
noinst_LTLIBRARIES += ctmgr/libctsetup.la
ctmgr_libctsetup_la_SOURCES = ctmgr/setup.h ctmgr/setup.c
ctmgr_libctsetup_la_CFLAGS = $(AM_CFLAGS)
ctmgr_libctsetup_la_LIBADD = conf/libconf.la -lcrypt
# setup-end

# ct-begin: container operations (libctops, for ctmgr and the node agent)
# and the ctmgr CLI.
noinst_LTLIBRARIES += ctmgr/libctops.la
ctmgr_libctops_la_SOURCES = ctmgr/ct.h ctmgr/ct_internal.h ctmgr/ct.c ctmgr/ct_run.c \
	ctmgr/ct_create.c
ctmgr_libctops_la_CFLAGS = $(AM_CFLAGS) $(LXC_CFLAGS) $(ARCHIVE_CFLAGS) $(JSON_CFLAGS) \
	$(OPENSSL_CFLAGS)
ctmgr_libctops_la_LIBADD = ctmgr/libctmgr.la ctmgr/libctsetup.la lock/liblock.la \
	$(LXC_LIBS) $(ARCHIVE_LIBS) $(JSON_LIBS) $(OPENSSL_LIBS)

sbin_PROGRAMS += ctmgr/ctmgr
ctmgr_ctmgr_SOURCES = ctmgr/ctmgr.c
ctmgr_ctmgr_CFLAGS = $(AM_CFLAGS) $(LXC_CFLAGS) $(JSON_CFLAGS)
ctmgr_ctmgr_LDADD = ctmgr/libctops.la $(JSON_LIBS)
# ct-end

# agent-begin: the node agent ctmgrd, and what the ctmgr CLI shares with
# it (requests to other nodes' agents, startall and stopall order).
noinst_LTLIBRARIES += ctmgr/libctagent.la
ctmgr_libctagent_la_SOURCES = ctmgr/agent.h ctmgr/agent.c ctmgr/migrate.h ctmgr/migrate.c
ctmgr_libctagent_la_CFLAGS = $(AM_CFLAGS) $(LXC_CFLAGS) $(JSON_CFLAGS)
ctmgr_libctagent_la_LIBADD = ctmgr/libctops.la ctmgr/libctxfer.la $(JSON_LIBS)
ctmgr_ctmgr_LDADD += ctmgr/libctagent.la

sbin_PROGRAMS += ctmgr/ctmgrd
ctmgr_ctmgrd_SOURCES = ctmgr/ctmgrd.c
ctmgr_ctmgrd_CFLAGS = $(AM_CFLAGS) $(LXC_CFLAGS) $(JSON_CFLAGS) $(QB_CFLAGS)
ctmgr_ctmgrd_LDADD = ctmgr/libctagent.la $(QB_LIBS)
# agent-end

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
