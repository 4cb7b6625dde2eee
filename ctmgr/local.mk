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
