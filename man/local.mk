# man/: manual pages, written in roff. Each page is made from PAGE.in with
# the version and the install paths filled in.
MAN_PAGES = man/ctconf.1 man/ctmgr.1 man/ct.conf.5 man/pmxfs.8 man/pmxfsctl.8 \
	man/ctlockctl.8 man/ctmgrd.8
EXTRA_DIST += man/ctconf.1.in man/ctmgr.1.in man/ct.conf.5.in man/pmxfs.8.in \
	man/pmxfsctl.8.in man/ctlockctl.8.in man/ctmgrd.8.in
nodist_man1_MANS = man/ctconf.1 man/ctmgr.1
nodist_man5_MANS = man/ct.conf.5
nodist_man8_MANS = man/pmxfs.8 man/pmxfsctl.8 man/ctlockctl.8 man/ctmgrd.8
CLEANFILES += $(MAN_PAGES)

man/ctconf.1: $(srcdir)/man/ctconf.1.in
man/ct.conf.5: $(srcdir)/man/ct.conf.5.in
man/pmxfs.8: $(srcdir)/man/pmxfs.8.in
man/pmxfsctl.8: $(srcdir)/man/pmxfsctl.8.in
man/ctlockctl.8: $(srcdir)/man/ctlockctl.8.in
man/ctmgr.1: $(srcdir)/man/ctmgr.1.in
man/ctmgrd.8: $(srcdir)/man/ctmgrd.8.in
$(MAN_PAGES): Makefile
	$(subst_file)
