EXTRA_DIST += \
	utilities/bootstrap.sh \
	utilities/build-guest.sh \
	utilities/build-ovs.sh \
	utilities/build-k8s.sh \
	utilities/livebind-ctl.in \
	utilities/livebind-install-cni.in \
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

# Installs the CNI plugin and its configuration on a node: the DaemonSet's
# init container runs it (see deploy/daemonset.yaml).
sbin_SCRIPTS = utilities/livebind-install-cni
CLEANFILES += utilities/livebind-install-cni
utilities/livebind-install-cni: utilities/livebind-install-cni.in Makefile
	@$(MKDIR_P) utilities
	$(AM_V_GEN)sed -e 's|@cnibindir[@]|$(cnibindir)|g' \
	    < $(srcdir)/utilities/livebind-install-cni.in > $@.tmp && \
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

# The OCI image the DaemonSet runs (root): the .debs are built from a clean
# copy of the tree, then the image from them and Debian 12's packages, with
# no base image from a registry.  See utilities/build-image.sh and
# deploy/README.md.  Writes livebind-$(VERSION).oci.tar here and loads it
# into podman if podman is installed.
IMAGE_ARCHIVE = livebind-$(VERSION).oci.tar
image:
	$(top_srcdir)/utilities/build-image.sh --workdir=$(abs_builddir)/image \
	    --output=$(abs_builddir)/$(IMAGE_ARCHIVE)
.PHONY: image
EXTRA_DIST += utilities/build-image.sh Containerfile
CLEANFILES += $(IMAGE_ARCHIVE)
clean-local: clean-image
clean-image:
	rm -rf image
.PHONY: clean-image
