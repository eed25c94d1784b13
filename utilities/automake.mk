EXTRA_DIST += \
	utilities/bootstrap.sh \
	utilities/build-ovs.sh \
	utilities/livebind-ctl.in \
	utilities/livebind-sandbox \
	utilities/livebind-test

bin_SCRIPTS = utilities/livebind-ctl
CLEANFILES += utilities/livebind-ctl
utilities/livebind-ctl: utilities/livebind-ctl.in Makefile
	@$(MKDIR_P) utilities
	$(AM_V_GEN)sed -e 's|@RUNDIR[@]|$(localstatedir)/run/openvswitch|' \
	    < $(srcdir)/utilities/livebind-ctl.in > $@.tmp && \
	    chmod +x $@.tmp && mv $@.tmp $@
