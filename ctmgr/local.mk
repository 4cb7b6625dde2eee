# ctmgr/: the container manager.

# setup-begin: guest setup, run on a container's root file system before
# every start and at create time.
noinst_LTLIBRARIES += ctmgr/libctsetup.la
ctmgr_libctsetup_la_SOURCES = ctmgr/setup.h ctmgr/setup.c
ctmgr_libctsetup_la_CFLAGS = $(AM_CFLAGS)
ctmgr_libctsetup_la_LIBADD = conf/libconf.la -lcrypt
# setup-end
