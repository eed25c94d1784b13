EXTRA_DIST += \
	utilities/bootstrap.sh \
	utilities/build-guest.sh \
	utilities/build-ovs.sh \
	utilities/livebind-ctl.in \
	utilities/livebind-sandbox \
	utilities/sandbox-vm.sh \
	utilities/livebind-test

bin_SCRIPTS = utilities/livebind-ctl
CLEANFILES += utilities/livebind-ctl
utilities/livebind-ctl: utilities/livebind-ctl.in Makefile
	@$(MKDIR_P) utilities
	$(AM_V_GEN)sed -e 's|@RUNDIR[@]|$(localstatedir)/run/openvswitch|' \
	    < $(srcdir)/utilities/livebind-ctl.in > $@.tmp && \
	    chmod +x $@.tmp && mv $@.tmp $@

# The agent's systemd unit and default configuration, for packages and
# `make install` alike (see debian/ and rpm/).
livebindconfdir = $(sysconfdir)/livebind
dist_livebindconf_DATA = utilities/agent.conf
if INSTALL_SYSTEMD_UNIT
systemdsystemunit_DATA = utilities/livebind-agent.service
endif
noinst_DATA = utilities/livebind-agent.service
CLEANFILES += utilities/livebind-agent.service
EXTRA_DIST += utilities/livebind-agent.service.in \
	utilities/livebind-agent.logrotate
utilities/livebind-agent.service: utilities/livebind-agent.service.in Makefile
	@$(MKDIR_P) utilities
	$(AM_V_GEN)sed -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@localstatedir[@]|$(localstatedir)|g' \
	    < $(srcdir)/utilities/livebind-agent.service.in > $@.tmp && \
	    mv $@.tmp $@
