EXTRA_DIST += utilities/build-ovs.sh
