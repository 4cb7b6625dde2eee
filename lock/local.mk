# lock/: liblock (cluster locks and the container lock property) and
# ctlockctl, on top of libpmxfs and libconf.
noinst_LTLIBRARIES += lock/liblock.la
lock_liblock_la_SOURCES = lock/lock.h lock/lock.c lock/ctlock.h lock/ctlock.c
lock_liblock_la_CFLAGS = $(AM_CFLAGS) $(JSON_CFLAGS) -pthread
lock_liblock_la_LIBADD = pmxfs/libpmxfs.la conf/libconf.la $(JSON_LIBS) -lpthread

bin_PROGRAMS += lock/ctlockctl
lock_ctlockctl_SOURCES = lock/ctlockctl.c
lock_ctlockctl_CFLAGS = $(AM_CFLAGS) $(JSON_CFLAGS)
lock_ctlockctl_LDADD = lock/liblock.la $(JSON_LIBS)
