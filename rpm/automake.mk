# RPM packaging.  configure makes rpm/livebind.spec from the .in (the
# version); `rpmbuild -ta livebind-VERSION.tar.gz` finds it in the tarball.
EXTRA_DIST += rpm/livebind.spec.in rpm/livebind.spec

# Debian packaging (debian/rules) and the test that builds both kinds of
# package, installs the .debs and removes them (root, a few minutes):
#   tests/packaging/test-packages.sh
EXTRA_DIST += \
	debian/changelog \
	debian/control \
	debian/copyright \
	debian/livebind-agent.README.Debian \
	debian/livebind-agent.docs \
	debian/livebind-agent.install \
	debian/livebind-agent.logrotate \
	debian/livebind-cni.README.Debian \
	debian/livebind-cni.docs \
	debian/livebind-cni.install \
	debian/livebind-utils.install \
	debian/rules \
	debian/source/format \
	tests/packaging/inspect-image.py \
	tests/packaging/test-packages.sh
