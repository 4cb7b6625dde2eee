# systemd/: the units of the store daemon and the node manager.
# ctmgrd.service and ctmgr-stopall.service are installed before ctmgrd and
# ctmgr exist, so packages can ship the final unit layout already.
SYSTEMD_UNITS = systemd/pmxfs.service systemd/ctmgrd.service systemd/ctmgr-stopall.service
EXTRA_DIST += systemd/pmxfs.service.in systemd/ctmgrd.service.in \
	systemd/ctmgr-stopall.service.in
CLEANFILES += $(SYSTEMD_UNITS)
if HAVE_SYSTEMD
systemdsystemunit_DATA = $(SYSTEMD_UNITS)
else
noinst_DATA += $(SYSTEMD_UNITS)
endif

systemd/pmxfs.service: $(srcdir)/systemd/pmxfs.service.in
systemd/ctmgrd.service: $(srcdir)/systemd/ctmgrd.service.in
systemd/ctmgr-stopall.service: $(srcdir)/systemd/ctmgr-stopall.service.in
$(SYSTEMD_UNITS): Makefile
	$(subst_file)
