#!/bin/sh
# Installs what livebind needs on Debian 12 (apt), builds libopenvswitch once
# from Debian's openvswitch-source package, and configures and builds
# livebind in _build/NAME.
#
# Usage: utilities/bootstrap.sh NAME [CONFIGURE-ARGS...]
# Prints the build directory on its last line.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: bootstrap.sh NAME [CONFIGURE-ARGS...]}
shift

packages="build-essential autoconf automake libtool pkg-config python3
    libcurl4-openssl-dev libjansson-dev libnl-3-dev libnl-route-3-dev
    libnftables-dev nftables
    libcmocka-dev libyaml-dev libcap-ng-dev openvswitch-source
    openvswitch-switch openvswitch-common iproute2 ethtool iputils-ping
    netcat-openbsd procps valgrind curl python3-yaml openssl tcpdump
    python3-prometheus-client
    qemu-system-x86 cpio kmod iptables conntrack
    clang libclang-rt-14-dev"

missing=
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bootstrap: installing:$missing" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: run as root (or install these packages first)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # The switch package would start a system-wide OVS; livebind's tests
    # run their own per node, so keep the service from starting.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends $missing >&2 \
        || { rm -f /usr/sbin/policy-rc.d; exit 1; }
    rm -f /usr/sbin/policy-rc.d
fi

ovs=$("$top/utilities/build-ovs.sh")

cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    autoreconf -fi >&2
fi
build=$top/_build/$name
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
    "$top/configure" --with-ovs-source="$ovs/src" --enable-Werror "$@" >&2
fi
make -j"$(nproc)" >&2
echo "$build"
