# ctmgr/: the container manager. libctmgr turns container configs into
# LXC configs, manages dir storage volumes and parses pct-style options.
noinst_LTLIBRARIES += ctmgr/libctmgr.la
ctmgr_libctmgr_la_SOURCES = \
	ctmgr/ctm_internal.h ctmgr/util.c \
	ctmgr/storage.h ctmgr/storage.c \
	ctmgr/lxcconf.h ctmgr/lxcconf_internal.h ctmgr/lxcconf.c ctmgr/lxcconf_volumes.c \
	ctmgr/options.h ctmgr/options.c
ctmgr_libctmgr_la_CFLAGS = $(AM_CFLAGS)
ctmgr_libctmgr_la_LIBADD = conf/libconf.la
