#!/bin/sh
# Builds libopenvswitch once from Debian's openvswitch-source package, the
# way OVN builds against an OVS tree.  The result lives in a cache directory
# (git-ignored); a second run with the same tarball is a no-op.
#
# Usage: utilities/build-ovs.sh [CACHE_DIR]
# Prints the cache directory; configure livebind with
#   --with-ovs-source=CACHE_DIR/src --with-ovs-build=CACHE_DIR/src
set -eu

tarball=${OVS_TARBALL:-/usr/src/openvswitch/openvswitch.tar.gz}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${1:-${LIVEBIND_OVS_CACHE:-$top/.ovs-cache}}

if [ ! -r "$tarball" ]; then
    echo "build-ovs: $tarball not found; install the openvswitch-source" \
         "package (apt-get install openvswitch-source)" >&2
    exit 1
fi

# OVS's compiled-in paths (run and database directories) are those of the
# distribution's own OVS, so that the agent finds ovsdb-server's socket and
# the bridges' management sockets where Debian's and Fedora's OVS put them.
ovs_configure="--prefix=/usr --localstatedir=/var --sysconfdir=/etc
    --enable-silent-rules --disable-ssl --with-pic --disable-shared
    --enable-static"

stamp=$cache/.built
want="$(cksum < "$tarball" | cut -d' ' -f1) $(echo $ovs_configure | cksum)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -f "$cache/src/lib/.libs/libopenvswitch.a" ]; then
    echo "$cache"
    exit 0
fi

rm -rf "$cache"
mkdir -p "$cache"
tar -xzf "$tarball" -C "$cache"
mv "$cache/openvswitch" "$cache/src"
cd "$cache/src"
if [ ! -x configure ]; then
    ./boot.sh >&2
fi
# Static, position-independent objects so that both the binaries and the
# libtool convenience library can link them.  No SSL/DPDK/unbound: livebind
# talks to the local switch over unix sockets only.
# shellcheck disable=SC2086
./configure $ovs_configure CFLAGS="-O2 -g" >&2
# Generated headers first (BUILT_SOURCES), then the library alone: the
# daemons and tools of OVS are not needed.
built_sources=$(printf 'print-built-sources:\n\t@echo $(BUILT_SOURCES)\n' \
    | make -s --no-print-directory -f Makefile -f - print-built-sources)
make -j"$(nproc)" $built_sources >&2
make -j"$(nproc)" lib/libopenvswitch.la >&2
echo "$want" > "$stamp"
echo "$cache"
