#!/bin/sh
# Builds livebind's test guest once and caches it: Debian's kernel (from the
# linux-image-amd64 package, extracted, not installed) and an initramfs with
# busybox-static, the modules virtio-net needs and tests/guest's /init and
# echo server.  QEMU boots it for the system test, the sandbox and the
# benchmark (tests/system/qemu.sh).
#
# Usage: utilities/build-guest.sh
# Prints the guest's directory (vmlinuz, initrd.img) on its last line.
#
# The cache is $LB_GUEST_CACHE (default .guest-cache in the source tree),
# one directory per key: the kernel's and busybox-static's package versions
# and a hash of this script and tests/guest.  Needs apt's package lists (run
# apt-get update once), dpkg-deb, cpio, modinfo (kmod) and a C compiler
# with a static libc.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${LB_GUEST_CACHE:-$top/.guest-cache}
cc=${CC:-cc}

die() { echo "build-guest: $*" >&2; exit 1; }

# The versioned kernel package linux-image-amd64 points at.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1
}
kpkg=$(kernel_package)
if [ -z "$kpkg" ] && [ "$(id -u)" = 0 ]; then
    # A fresh machine whose packages were all there: no lists yet.
    flock /tmp/livebind-apt.lock apt-get update -qq >&2 || true
    kpkg=$(kernel_package)
fi
[ -n "$kpkg" ] || die "no linux-image-amd64 in apt's lists (apt-get update?)"
kver=$(apt-cache policy "$kpkg" | sed -n 's/^ *Candidate: //p')
bver=$(apt-cache policy busybox-static | sed -n 's/^ *Candidate: //p')
[ -n "$kver" ] && [ -n "$bver" ] || die "cannot resolve package versions"
src_hash=$(cat "$0" "$top/tests/guest/init" "$top/tests/guest/echo-server.c" |
           md5sum | cut -c1-12)
key=$(echo "$kpkg-$kver-busybox-$bver-$src_hash" | tr ':~+' '___')
out=$cache/$key

if [ -f "$out/.built" ]; then
    echo "$out"
    exit 0
fi
for c in dpkg-deb cpio modinfo gzip "$cc"; do
    command -v "$c" >/dev/null 2>&1 || die "needs $c"
done

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -f "$out/.built" ]; then      # Another run built it meanwhile.
    echo "$out"
    exit 0
fi

work=$(mktemp -d "$cache/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
# apt's download user must be able to write here.
chmod 755 "$work"
echo "build-guest: downloading $kpkg $kver and busybox-static $bver" >&2
apt-get download -q "$kpkg=$kver" "busybox-static=$bver" >&2
mkdir kernel busybox
dpkg-deb -x "$kpkg"_*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox

kdir=$(ls -d kernel/lib/modules/*)
kern=$(basename "$kdir")

# The modules, each after its dependencies (read from the modules
# themselves: the package has no modules.dep).
root=$work/root
mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" \
    "$root/lib/modules"
: > "$work/order"
add_module() {
    grep -qx "$1.ko" "$work/order" && return 0
    local f dep
    f=$(find "$kdir" -name "$1.ko" | head -1)
    [ -n "$f" ] || f=$(find "$kdir" -name "$(echo "$1" | tr _ -).ko" | head -1)
    [ -n "$f" ] || die "module $1 not in $kpkg"
    for dep in $(modinfo -F depends "$f" | tr ',' ' '); do
        add_module "$dep"
    done
    cp "$f" "$root/lib/modules/$1.ko"
    echo "$1.ko" >> "$work/order"
}
add_module virtio_pci
add_module virtio_net
cp "$work/order" "$root/lib/modules/order"
echo "build-guest: modules: $(tr '\n' ' ' < "$work/order")" >&2

cp busybox/bin/busybox "$root/bin/busybox"
cp "$top/tests/guest/init" "$root/init"
chmod 755 "$root/init"
"$cc" -static -O2 -Wall -o "$root/bin/echo-server" \
    "$top/tests/guest/echo-server.c"
strip "$root/bin/echo-server" 2>/dev/null || true

mkdir -p "$out.new"
cp "kernel/boot/vmlinuz-$kern" "$out.new/vmlinuz"
# Reproducible: the same inputs give the same initramfs, byte for byte (a
# fixed order, time stamp and owner; no inode numbers; no gzip name or time).
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . | LC_ALL=C sort |
     cpio -o -H newc --quiet --reproducible -R 0:0) | gzip -n -1 \
    > "$out.new/initrd.img"
echo "$kpkg $kver busybox-static $bver" > "$out.new/versions"
touch "$out.new/.built"
rm -rf "$out"
mv "$out.new" "$out"
echo "$out"
