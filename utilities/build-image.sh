#!/bin/sh
# Builds livebind's OCI image from Debian 12 packages, without pulling a
# base image: mmdebstrap extracts the libraries the binaries link, and
# busybox (a shell and a few tools for the probes and the install step),
# into an empty root; the project's own .debs (livebind-agent, livebind-cni,
# livebind-utils) and Open vSwitch's client tools (ovs-appctl, ovs-vsctl,
# without the daemons or Python) go on top; umoci makes that one layer an
# image.  `make image` runs it.
#
# Usage, as root:  utilities/build-image.sh [OPTION...]
#
#   --debs=DIR      the project's .debs (dpkg-buildpackage's output, as
#                   tests/packaging/test-packages.sh builds them); without
#                   it they are built here from a clean copy of the tree
#                   (DEB_BUILD_OPTIONS=nocheck: `make check` is the tests')
#   --workdir=DIR   work directory (default: _build/image in the tree)
#   --output=FILE   the OCI archive (default: livebind-VERSION.oci.tar in
#                   the current directory)
#   --name=NAME     the image's name and tag (default localhost/livebind:
#                   VERSION, what deploy/daemonset.yaml runs)
#   --source=URL    the org.opencontainers.image.source label (default:
#                   git's remote "origin", if it is an http(s) URL)
#   --refresh       download the Debian packages again (see below)
#   --no-load       do not load the image into podman, even if present
#
# Reproducible: the same commit and the same package set give the same
# image (manifest digest) and the same archive, byte for byte.  Times are
# the last commit's (SOURCE_DATE_EPOCH, unless set); the layer's entries are
# sorted, owned by 0:0, their times clamped to it.  The Debian packages are
# resolved once with the host's apt lists and kept in WORKDIR/debian-packages
# (there is no fixed snapshot of the archive to build from); later builds
# use that set until --refresh, which takes the current versions (security
# updates).
#
# Prints the image's name, digest and sizes; the last line is the archive's
# path.  Installs mmdebstrap, umoci and dpkg-dev (and, to build the .debs,
# debhelper and the build dependencies) if they are missing.
#
#   utilities/build-image.sh --list-libraries DEB...
#
# prints the shared library packages the DEBs' binaries need (the lib* in
# their Depends), one a line: the Containerfile installs those.
set -eu
umask 022

top=$(cd "$(dirname "$0")/.." && pwd)

# list_libraries DEB...: the lib* packages in the DEBs' Depends.
list_libraries() {
    for d; do
        dpkg-deb -f "$d" Depends
    done | tr ',' '\n' | sed 's/([^)]*)//; s/|.*//; s/:any//' | tr -d ' ' |
        grep '^lib' | sort -u
}
if [ "${1:-}" = --list-libraries ]; then
    shift
    list_libraries "$@"
    exit
fi

debs=
work=$top/_build/image
output=
name=
source=
refresh=false
load=true
for arg; do
    case $arg in
        --debs=*) debs=${arg#*=} ;;
        --workdir=*) work=${arg#*=} ;;
        --output=*) output=${arg#*=} ;;
        --name=*) name=${arg#*=} ;;
        --source=*) source=${arg#*=} ;;
        --refresh) refresh=true ;;
        --no-load) load=false ;;
        *) echo "build-image: unknown argument: $arg (see the script's" \
                "header)" >&2
           exit 2 ;;
    esac
done

die() {
    echo "build-image: $*" >&2
    exit 1
}
log() {
    echo "build-image: $*" >&2
}

[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap --mode=root, chroot)"

version=$(sed -n 's/^AC_INIT(\[livebind\], *\[\([^]]*\)\].*/\1/p' \
          "$top/configure.ac")
[ -n "$version" ] || die "no version in configure.ac's AC_INIT"
name=${name:-localhost/livebind:$version}
output=${output:-$PWD/livebind-$version.oci.tar}
case $output in /*) ;; *) output=$PWD/$output ;; esac
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null) ||
        SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$top/debian/changelog" \
                                -S Timestamp)
fi
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
revision=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$top" status --porcelain --untracked-files=no \
           2>/dev/null)" ]; then
    revision=$revision-modified
fi
if [ -z "$source" ]; then
    source=$(git -C "$top" remote get-url origin 2>/dev/null) || source=
    case $source in
        http://*@* | https://*@*) source= ;;   # no credentials in labels
        http://* | https://*) ;;
        *) source= ;;
    esac
    source=${source:-unknown}
fi
arch=$(dpkg --print-architecture)
export DEBIAN_FRONTEND=noninteractive

mkdir -p "$work"
work=$(cd "$work" && pwd)

# apt_install PACKAGE...: installs what is missing, under the project's
# apt lock (other builds may be running apt at the same time).
apt_install() {
    missing=
    for p; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "ok installed" || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    log "installing:$missing"
    # shellcheck disable=SC2086
    flock /tmp/livebind-apt.lock apt-get install -y -qq \
            --no-install-recommends $missing >/dev/null 2>&1 ||
        { flock /tmp/livebind-apt.lock apt-get update -qq &&
          flock /tmp/livebind-apt.lock apt-get install -y -qq \
              --no-install-recommends $missing; } >&2 ||
        die "cannot install:$missing"
}
apt_install mmdebstrap umoci dpkg-dev

# --- The project's .debs.
if [ -z "$debs" ]; then
    apt_install debhelper fakeroot
    debs=$work/debs
    src=$debs/livebind-$version
    rm -rf "$debs"
    mkdir -p "$src"
    # A clean copy: what git knows of and new files it does not ignore
    # (without git, as in a release tarball: all but build trees).
    if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$top" ls-files --cached --others --exclude-standard |
            (cd "$top" && while IFS= read -r f; do
                 if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi
             done) > "$debs/files"
        tar -C "$top" -cf - -T "$debs/files" | tar -C "$src" -xf -
    else
        tar -C "$top" --exclude=.ovs-cache --exclude=_build --exclude=build \
            --exclude=autom4te.cache --exclude='*.oci.tar' -cf - . |
            tar -C "$src" -xf -
    fi
    if ! (cd "$src" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
        log "installing the build dependencies"
        (cd "$src" && flock /tmp/livebind-apt.lock \
            apt-get build-dep -y -qq "$src") >/dev/null 2>&1 ||
            die "cannot install the build dependencies"
    fi
    log "building the .debs (log: $debs/build.log)"
    if [ -z "${LIVEBIND_OVS_CACHE:-}" ] && [ -f "$top/.ovs-cache/.built" ]
    then
        LIVEBIND_OVS_CACHE=$top/.ovs-cache
        export LIVEBIND_OVS_CACHE
    fi
    (cd "$src" && DEB_BUILD_OPTIONS=nocheck \
        dpkg-buildpackage -b -us -uc -j"$(nproc)") > "$debs/build.log" 2>&1 ||
        { tail -30 "$debs/build.log" >&2; die "dpkg-buildpackage failed"; }
fi
debs=$(cd "$debs" && pwd)
debver=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
agent_deb=$debs/livebind-agent_${debver}_$arch.deb
cni_deb=$debs/livebind-cni_${debver}_$arch.deb
utils_deb=$debs/livebind-utils_${debver}_all.deb
for d in "$agent_deb" "$cni_deb" "$utils_deb"; do
    [ -f "$d" ] || die "no $d"
done

# --- The Debian package set: Open vSwitch's two packages (only their
# client tools are taken) and, with their dependencies, busybox and the
# shared libraries that the binaries taken are linked with: the lib*
# packages in the Depends of the livebind and Open vSwitch packages.  The
# rest of those Depends (openvswitch-switch's daemons, Python, the init
# system's helpers) serves a host installation, not this image.
pkgs=$work/debian-packages
ovs_pkgs="openvswitch-common openvswitch-switch"
if $refresh || [ ! -f "$pkgs/.complete" ]; then
    rm -rf "$pkgs"
    mkdir -p "$pkgs/partial" "$pkgs/state"
    : > "$pkgs/state/status"
    # apt with an empty status: resolves as for an empty root, downloads
    # into $pkgs, and leaves the host's packages and apt's caches alone.
    fetch() {
        (cd "$pkgs" && apt-get -qq download $ovs_pkgs) &&
        libs=$(list_libraries "$agent_deb" "$cni_deb" \
                   "$pkgs"/openvswitch-*.deb | tr '\n' ' ') &&
        # shellcheck disable=SC2086
        apt-get -qq -o Debug::NoLocking=1 \
            -o Dir::State::status="$pkgs/state/status" \
            -o Dir::Cache::archives="$pkgs" -o Dir::Cache::pkgcache= \
            -o Dir::Cache::srcpkgcache= \
            -o APT::Install-Recommends=0 --download-only -y \
            install busybox $libs >&2 &&
        echo "busybox $libs" > "$pkgs/include"
    }
    if ! fetch 2>"$work/fetch.log"; then
        log "updating the apt lists"
        flock /tmp/livebind-apt.lock apt-get update -qq >&2 ||
            log "apt-get update failed; trying with the lists there are"
        rm -f "$pkgs"/*.deb
        fetch 2>"$work/fetch.log" ||
            { cat "$work/fetch.log" >&2; die "cannot download the packages"; }
    fi
    rm -rf "$pkgs/partial" "$pkgs/state" "$pkgs/lock"
    touch "$pkgs/.complete"
fi
include=$(cat "$pkgs/include")

# A local repository of exactly that set, for mmdebstrap.
repo=$work/repo
rm -rf "$repo"
mkdir -p "$repo"
for d in "$pkgs"/*.deb; do
    case ${d##*/} in openvswitch-*) ;; *) ln "$d" "$repo/" ;; esac
done
(cd "$repo" && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null) ||
    die "dpkg-scanpackages failed"

# --- The root filesystem.
start=$(date +%s)
root=$work/rootfs
rm -rf "$root"
# shellcheck disable=SC2086
mmdebstrap --quiet --mode=root --variant=extract \
    --setup-hook='for d in bin sbin lib lib64; do
                      mkdir -p "$1/usr/$d" && ln -s "usr/$d" "$1/$d"
                  done' \
    --include="$(echo $include | tr ' ' ',')" \
    bookworm "$root" "deb [trusted=yes] copy://$repo ./" >&2 ||
    die "mmdebstrap failed"

# extract DEB [MEMBER...]: DEB's files (or only MEMBERs) into the root.
extract() {
    deb=$1
    shift
    dpkg-deb --fsys-tarfile "$deb" |
        tar -C "$root" -x --keep-directory-symlink --no-same-owner "$@"
}
extract "$agent_deb"
extract "$cni_deb"
extract "$utils_deb"
ovs_common=$(ls "$pkgs"/openvswitch-common_*.deb)
ovs_switch=$(ls "$pkgs"/openvswitch-switch_*.deb)
extract "$ovs_common" ./usr/bin/ovs-appctl \
    ./usr/share/doc/openvswitch-common/copyright
extract "$ovs_switch" ./usr/bin/ovs-vsctl \
    ./usr/share/doc/openvswitch-switch/copyright

# What a container does not use: a host's service files, apt's and dpkg's
# configuration (neither is in the image), the files the runtime provides
# (device nodes, resolv.conf, hostname), documentation but the copyrights.
rm -rf "$root/lib/systemd" "$root/etc/logrotate.d" "$root/etc/apt" \
    "$root/etc/dpkg" "$root/var/lib/apt" "$root/var/cache/apt" \
    "$root/var/log/apt" "$root/etc/resolv.conf" "$root/etc/hostname" \
    "$root/etc/fstab" "$root/usr/share/man" "$root/usr/share/info" \
    "$root/usr/share/locale" "$root/usr/share/lintian" \
    "$root/usr/share/initramfs-tools"
find "$root/dev" -mindepth 1 -delete
# glibc's character set converters: iconv() between legacy charsets, which
# nothing here calls (UTF-8 and ASCII are built in).
rm -rf "$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/gconv"
find "$root/usr/share/doc" -type f ! -name copyright -delete
find "$root/usr/share/doc" -depth -type d -empty -delete

# busybox: the shell of the readiness probe and of livebind-install-cni,
# and the few tools those and a person debugging a node use.  (The agent
# itself needs no shell.)
for a in sh cat chmod chown cp grep ln ls mkdir mv ps rm sed sleep; do
    [ -e "$root/usr/bin/$a" ] || ln -s busybox "$root/usr/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
mkdir -p "$root/root" "$root/run" "$root/var/run/openvswitch"
chmod 0700 "$root/root"

# The packages the files come from, one control file each where image
# scanners look for them (dpkg itself is not in the image).
status=$root/var/lib/dpkg/status.d
rm -rf "$root/var/lib/dpkg"
mkdir -p "$status"
for d in "$repo"/*.deb "$ovs_common" "$ovs_switch" \
         "$agent_deb" "$cni_deb" "$utils_deb"; do
    p=$(dpkg-deb -f "$d" Package)
    { dpkg-deb -f "$d" Package Version Architecture Source Maintainer \
          Installed-Size Multi-Arch Homepage
      echo "Status: install ok installed"; } > "$status/$p"
done

# The binaries' libraries are all there.
for b in usr/sbin/livebind-agent usr/lib/cni/livebind usr/bin/ovs-appctl \
         usr/bin/ovs-vsctl usr/bin/busybox; do
    [ -x "$root/$b" ] || die "no /$b in the image"
    if chroot "$root" /lib64/ld-linux-x86-64.so.2 --list "/$b" 2>&1 |
           grep 'not found' >&2; then
        die "/$b: libraries missing from the image"
    fi
done
rootfs_size=$(du -sk --apparent-size "$root" | cut -f1)

# --- The layer and the image.
layer=$work/layer.tar
tar -C "$root" --sort=name --format=gnu --numeric-owner --owner=0 \
    --group=0 --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime -cf "$layer" .
oci=$work/oci
tag=$version
rm -rf "$oci"
umoci init --layout "$oci"
umoci new --image "$oci:$tag"
umoci raw add-layer --image "$oci:$tag" --history.created="$created" \
    --history.created_by="utilities/build-image.sh" \
    --history.comment="Debian 12 packages: $(echo $include |
                                            wc -w) libraries and busybox, \
Open vSwitch's ovs-appctl and ovs-vsctl, livebind $debver" "$layer"
set -- --config.label "org.opencontainers.image.title=livebind" \
    --config.label "org.opencontainers.image.description=livebind-agent \
and the livebind CNI plugin: KubeVirt live migration networking on Open \
vSwitch" \
    --config.label "org.opencontainers.image.version=$version" \
    --config.label "org.opencontainers.image.revision=$revision" \
    --config.label "org.opencontainers.image.licenses=Apache-2.0" \
    --config.label "org.opencontainers.image.source=$source" \
    --config.label "org.opencontainers.image.created=$created"
umoci config --image "$oci:$tag" --no-history --created="$created" \
    --author="livebind developers" \
    --config.env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:\
/sbin:/bin" \
    --config.entrypoint /usr/sbin/livebind-agent \
    --config.workingdir / "$@"
umoci gc --layout "$oci"

# index.json: the name, for podman load and containerd's import (both take
# it from these annotations).  The manifest, and so the digest, is as umoci
# wrote it.
python3 - "$oci/index.json" "$name" <<'PY'
import json, sys
path, name = sys.argv[1:]
with open(path) as f:
    index = json.load(f)
(desc,) = index["manifests"]
desc["annotations"] = {"org.opencontainers.image.ref.name": name,
                       "io.containerd.image.name": name}
with open(path, "w") as f:
    json.dump(index, f, sort_keys=True, separators=(",", ":"))
PY
digest=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' \
         "$oci/index.json")

# The OCI archive: the layout, in a tar that is the same every time.
chmod -R a+rX "$oci"
find "$oci" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
tar -C "$oci" --sort=name --format=gnu --numeric-owner --owner=0 \
    --group=0 --mtime="@$SOURCE_DATE_EPOCH" -cf "$output.tmp" .
mv -f "$output.tmp" "$output"
archive_size=$(stat -c %s "$output")

echo "image:    $name"
echo "digest:   $digest"
echo "size:     $((archive_size / 1024)) KiB archive (compressed)," \
     "$((rootfs_size / 1024)) MiB unpacked"
echo "built in: $(($(date +%s) - start)) s (root filesystem and image)"
if $load && command -v podman >/dev/null 2>&1; then
    if podman load -q -i "$output" >&2; then
        echo "loaded:   podman ($name)"
    else
        log "podman load failed (the archive is fine: see deploy/README.md)"
    fi
fi
echo "$output"
