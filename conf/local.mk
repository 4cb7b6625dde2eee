# conf/: the container config library and the ctconf tool.
noinst_LTLIBRARIES += conf/libconf.la
conf_libconf_la_SOURCES = \
	conf/conf.h conf/conf_internal.h conf/conf.c \
	conf/parse.c conf/write.c conf/desc.c conf/volumes.c \
	conf/schema.h conf/schema.c \
	conf/propstr.h conf/propstr.c \
	conf/snapshot.h conf/snapshot.c
conf_libconf_la_CFLAGS = $(AM_CFLAGS)
conf_libconf_la_LIBADD = $(OPENSSL_LIBS)

bin_PROGRAMS += conf/ctconf
conf_ctconf_SOURCES = conf/ctconf.c common/exit_code.h
conf_ctconf_CFLAGS = $(AM_CFLAGS) $(JSON_CFLAGS)
conf_ctconf_LDADD = conf/libconf.la $(JSON_LIBS)
