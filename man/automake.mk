# Manual pages, section 8: the agent, livebind-ctl and livebind-install-cni.
# Generated from man/*.8.in with the configured paths.
man_MANS = man/livebind-agent.8 man/livebind-ctl.8 \
	man/livebind-install-cni.8
EXTRA_DIST += man/livebind-agent.8.in man/livebind-ctl.8.in \
	man/livebind-install-cni.8.in
CLEANFILES += $(man_MANS)
MAN_SED = sed -e 's|@VERSION[@]|$(PACKAGE_VERSION)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@RUNDIR[@]|$(localstatedir)/run/livebind|g' \
	-e 's|@OVS_RUNDIR[@]|$(localstatedir)/run/openvswitch|g' \
	-e 's|@cnibindir[@]|$(cnibindir)|g'
man/livebind-agent.8: man/livebind-agent.8.in
man/livebind-ctl.8: man/livebind-ctl.8.in
man/livebind-install-cni.8: man/livebind-install-cni.8.in
$(man_MANS): Makefile
	@$(MKDIR_P) man
	$(AM_V_GEN)$(MAN_SED) < $(srcdir)/$@.in > $@.tmp && mv $@.tmp $@

# Each page renders without a warning, and says what the program has: the
# agent's every long option and control command, the other two's options.
TESTS += tests/unit/check-man-pages.sh
EXTRA_DIST += tests/unit/check-man-pages.sh
check_DATA = $(man_MANS)
