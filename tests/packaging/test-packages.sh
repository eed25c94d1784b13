#!/bin/sh
# Builds livebind's Debian packages (dpkg-buildpackage) and RPM packages
# (rpmbuild) from a clean copy of the source tree, checks what they hold,
# installs the .debs, runs what they installed, and purges them again.
#
# Usage, as root:  tests/packaging/test-packages.sh
#
# Environment:
#   LIVEBIND_OVS_CACHE=DIR  a libopenvswitch cache (utilities/build-ovs.sh
#                           DIR) for both builds, reused if already built.
#                           Without it the Debian build makes its own in its
#                           build tree, as a Debian builder would, and the
#                           RPM build reuses that one.
#   LB_PKG_WORKDIR=DIR      build there (default: a new temporary directory)
#   LB_PKG_KEEP=1           keep the work directory (packages, logs)
#   LB_IMAGE_RUNNER=chroot  run the image from its unpacked root with
#                           chroot even where podman can run it
#
# Prints a line per check and a summary; exits 0 if all passed, 1 if one
# failed, 77 if skipped (not root).
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: test-packages.sh needs root (apt-get, dpkg -i)"
    exit 77
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND...: passes if COMMAND succeeds.
check() {
    what=$1
    shift
    if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
# has FILE PATTERN: FILE has a line matching the extended regex PATTERN.
has() { grep -Eq -- "$2" "$1"; }
summary() {
    echo "packaging: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}
now() { date +%s; }

version=$(sed -n 's/^AC_INIT(\[livebind\], *\[\([^]]*\)\].*/\1/p' \
          "$top/configure.ac")
if [ -z "$version" ]; then
    fail "version from configure.ac's AC_INIT"
    summary
    exit 1
fi
echo "livebind $version"

work=${LB_PKG_WORKDIR:-$(mktemp -d /tmp/livebind-pkg.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
policy_rc_d_ours=false
installed_by_us=
cleanup() {
    if [ -n "$installed_by_us" ]; then
        # shellcheck disable=SC2086
        apt-get purge -y -qq $installed_by_us >/dev/null 2>&1
    fi
    if $policy_rc_d_ours; then
        rm -f /usr/sbin/policy-rc.d
    fi
    if [ "${LB_PKG_KEEP:-0}" = 1 ]; then
        echo "work directory kept: $work"
    elif [ -z "${LB_PKG_WORKDIR:-}" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

export DEBIAN_FRONTEND=noninteractive

# --- A clean copy of the tree: what git knows of (committed or not) and new
# files it does not ignore, without build products or caches.
rm -rf "$work/orig" "$work/deb" "$work/rpmbuild"
orig=$work/orig/livebind-$version
mkdir -p "$orig"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$top" ls-files --cached --others --exclude-standard \
        | (cd "$top" && while IFS= read -r f; do
               if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi
           done) > "$work/files"
    tar -C "$top" -cf - -T "$work/files" | tar -C "$orig" -xf -
else
    tar -C "$top" --exclude=.ovs-cache --exclude=_build --exclude=build \
        --exclude=autom4te.cache -cf - . | tar -C "$orig" -xf -
fi
check "clean copy of the tree has debian/ and rpm/" \
    test -f "$orig/debian/control" -a -f "$orig/rpm/livebind.spec.in"

# --- Build tools.
need=
for p in dpkg-dev debhelper fakeroot rpm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || need="$need $p"
done
if [ -n "$need" ]; then
    echo "installing:$need"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null 2>&1 \
        || { apt-get update -qq && \
             apt-get install -y -qq --no-install-recommends $need; } \
        >/dev/null 2>&1
fi
if ! (cd "$orig" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
    echo "installing the build dependencies"
    (cd "$orig" && apt-get build-dep -y -qq "$orig") >/dev/null 2>&1 \
        || { apt-get update -qq && \
             (cd "$orig" && apt-get build-dep -y -qq "$orig"); } \
        >/dev/null 2>&1
fi
check "build dependencies installed" sh -c "cd '$orig' && dpkg-checkbuilddeps"
check "rpmbuild available" command -v rpmbuild

# --- Debian packages.
debver=$(dpkg-parsechangelog -l "$orig/debian/changelog" -S Version)
check "debian/changelog version $debver is configure.ac's $version" \
    test "${debver%-*}" = "$version"
arch=$(dpkg --print-architecture)
mkdir -p "$work/deb"
cp -a "$orig" "$work/deb/"
start=$(now)
if (cd "$work/deb/livebind-$version" && \
    dpkg-buildpackage -b -us -uc -j"$(nproc)") > "$work/deb-build.log" 2>&1
then
    pass "dpkg-buildpackage -b ($(($(now) - start)) s)"
else
    fail "dpkg-buildpackage -b ($(($(now) - start)) s; log:" \
         "$work/deb-build.log)"
    tail -40 "$work/deb-build.log"
fi
check "make check ran in the Debian build" \
    has "$work/deb-build.log" '^# PASS: +[1-9]'

agent_deb=$work/deb/livebind-agent_${debver}_$arch.deb
cni_deb=$work/deb/livebind-cni_${debver}_$arch.deb
utils_deb=$work/deb/livebind-utils_${debver}_all.deb
for d in "$agent_deb" "$cni_deb" "$utils_deb"; do
    b=$(basename "$d")
    if [ -f "$d" ]; then
        pass "$b built"
        check "$b: Version $debver" \
            test "$(dpkg-deb -f "$d" Version)" = "$debver"
        dpkg-deb -c "$d" | awk '{print $6}' > "$d.list"
        dpkg-deb -I "$d" > "$d.info" 2>&1
    else
        fail "$b built"
        : > "$d.list"
        : > "$d.info"
    fi
done

for f in ./usr/sbin/livebind-agent ./lib/systemd/system/livebind-agent.service \
         ./etc/livebind/agent.conf ./etc/logrotate.d/livebind-agent; do
    check "livebind-agent deb has $f" has "$agent_deb.list" "^$f\$"
done
check "livebind-agent deb: agent.conf is a conffile" \
    sh -c "dpkg-deb -I '$agent_deb' conffiles | grep -qx /etc/livebind/agent.conf"
check "livebind-agent deb: Depends on openvswitch-switch" \
    sh -c "dpkg-deb -f '$agent_deb' Depends | grep -q openvswitch-switch"
check "livebind-agent deb: postinst handles the unit" \
    sh -c "dpkg-deb -I '$agent_deb' postinst | grep -q livebind-agent.service"
unit=$work/deb/livebind-agent.service
dpkg-deb --fsys-tarfile "$agent_deb" 2>/dev/null \
    | tar -xOf - ./lib/systemd/system/livebind-agent.service > "$unit" 2>/dev/null
check "unit runs /usr/sbin/livebind-agent --config=/etc/livebind/agent.conf" \
    has "$unit" '^ExecStart=/usr/sbin/livebind-agent'
check "unit passes --config=/etc/livebind/agent.conf" \
    grep -q -- '--config=/etc/livebind/agent.conf' "$unit"
check "unit requires Open vSwitch" has "$unit" '^Requires=.*ovs-vswitchd'
check "unit makes /run/livebind (the CNI socket's directory) mode 0700" \
    has "$unit" '^RuntimeDirectoryMode=0700$'
check "livebind-cni deb has ./usr/lib/cni/livebind" \
    has "$cni_deb.list" '^\./usr/lib/cni/livebind$'
check "livebind-cni deb has ./usr/sbin/livebind-install-cni" \
    has "$cni_deb.list" '^\./usr/sbin/livebind-install-cni$'
check "livebind-utils deb has ./usr/bin/livebind-ctl" \
    has "$utils_deb.list" '^\./usr/bin/livebind-ctl$'
check "livebind-agent deb has livebind-agent(8)" \
    has "$agent_deb.list" '^\./usr/share/man/man8/livebind-agent\.8\.gz$'
check "livebind-cni deb has livebind-install-cni(8)" \
    has "$cni_deb.list" \
    '^\./usr/share/man/man8/livebind-install-cni\.8\.gz$'
check "livebind-utils deb has livebind-ctl(8)" \
    has "$utils_deb.list" '^\./usr/share/man/man8/livebind-ctl\.8\.gz$'
check "livebind-utils deb: Depends on openvswitch-common" \
    sh -c "dpkg-deb -f '$utils_deb' Depends | grep -q openvswitch-common"

# --- RPM packages: Source0 is the clean copy; libopenvswitch is the tree
# the Debian build made (or LIVEBIND_OVS_CACHE's).
topdir=$work/rpmbuild
mkdir -p "$topdir/SOURCES"
tar -C "$work/orig" -czf "$topdir/SOURCES/livebind-$version.tar.gz" \
    "livebind-$version"
sed -e "s/@VERSION@/$version/g" "$orig/rpm/livebind.spec.in" \
    > "$work/livebind.spec"
if [ -n "${LIVEBIND_OVS_CACHE:-}" ]; then
    ovs=$LIVEBIND_OVS_CACHE
elif [ -f "$work/deb/livebind-$version/debian/ovs-cache/.built" ]; then
    ovs=$work/deb/livebind-$version/debian/ovs-cache
else
    ovs=$work/ovs-cache
fi
start=$(now)
ovs=$(sh "$orig/utilities/build-ovs.sh" "$ovs" 2>"$work/ovs-build.log") \
    || { fail "build libopenvswitch for rpmbuild"; tail -20 "$work/ovs-build.log"; }
if rpmbuild -bb --nodeps --define "_topdir $topdir" \
       --define "ovs_source $ovs/src" "$work/livebind.spec" \
       > "$work/rpm-build.log" 2>&1; then
    pass "rpmbuild -bb ($(($(now) - start)) s)"
else
    fail "rpmbuild -bb ($(($(now) - start)) s; log: $work/rpm-build.log)"
    tail -40 "$work/rpm-build.log"
fi
check "make check ran in the RPM build" \
    has "$work/rpm-build.log" '^# PASS: +[1-9]'

rpm_of() {
    find "$topdir/RPMS" -name "$1-$version-1*.rpm" 2>/dev/null | head -1
}
agent_rpm=$(rpm_of livebind-agent)
cni_rpm=$(rpm_of livebind-cni)
utils_rpm=$(rpm_of livebind-utils)
for r in agent cni utils; do
    eval "f=\$${r}_rpm"
    if [ -n "$f" ]; then
        pass "livebind-$r rpm built ($(basename "$f"))"
        check "livebind-$r rpm: Version $version" \
            test "$(rpm -qp --qf '%{VERSION}' "$f" 2>/dev/null)" = "$version"
        rpm -qlp "$f" > "$work/$r.rpmlist" 2>/dev/null
    else
        fail "livebind-$r rpm built"
        : > "$work/$r.rpmlist"
    fi
done
check "livebind-agent rpm has /usr/sbin/livebind-agent" \
    has "$work/agent.rpmlist" '^/usr/sbin/livebind-agent$'
check "livebind-agent rpm has the systemd unit" \
    has "$work/agent.rpmlist" '/systemd/system/livebind-agent\.service$'
check "livebind-agent rpm has /etc/livebind/agent.conf" \
    has "$work/agent.rpmlist" '^/etc/livebind/agent\.conf$'
check "livebind-agent rpm: agent.conf is %config(noreplace)" \
    sh -c "rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' '$agent_rpm' |
           grep -Eq '^/etc/livebind/agent.conf c.*n'"
check "livebind-agent rpm: scriptlets handle the unit" \
    sh -c "rpm -qp --scripts '$agent_rpm' | grep -q livebind-agent.service"
check "livebind-agent rpm: Requires openvswitch" \
    sh -c "rpm -qp --requires '$agent_rpm' | grep -qx 'openvswitch'"
check "livebind-cni rpm has /usr/libexec/cni/livebind" \
    has "$work/cni.rpmlist" '^/usr/libexec/cni/livebind$'
check "livebind-cni rpm has /usr/sbin/livebind-install-cni" \
    has "$work/cni.rpmlist" '^/usr/sbin/livebind-install-cni$'
check "livebind-utils rpm has /usr/bin/livebind-ctl" \
    has "$work/utils.rpmlist" '^/usr/bin/livebind-ctl$'
check "livebind-agent rpm has livebind-agent(8)" \
    has "$work/agent.rpmlist" '^/usr/share/man/man8/livebind-agent\.8'
check "livebind-cni rpm has livebind-install-cni(8)" \
    has "$work/cni.rpmlist" '^/usr/share/man/man8/livebind-install-cni\.8'
check "livebind-utils rpm has livebind-ctl(8)" \
    has "$work/utils.rpmlist" '^/usr/share/man/man8/livebind-ctl\.8'

# --- The OCI image (utilities/build-image.sh, what `make image` runs) from
# these .debs: built twice (same digest), inspected, run with podman where
# it can run, else from its unpacked root with chroot.
image_section() {
    if [ ! -f "$agent_deb" ] || [ ! -f "$cni_deb" ] || [ ! -f "$utils_deb" ]
    then
        fail "image: no .debs to build it from"
        return
    fi
    # podman to run it (runc as well: crun refuses some hosts' cgroups).
    need=
    for p in podman runc python3-yaml; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "ok installed" || need="$need $p"
    done
    if [ -n "$need" ]; then
        echo "installing:$need"
        # shellcheck disable=SC2086
        flock /tmp/livebind-apt.lock apt-get install -y -qq \
                --no-install-recommends $need >/dev/null 2>&1 ||
            { flock /tmp/livebind-apt.lock apt-get update -qq &&
              flock /tmp/livebind-apt.lock apt-get install -y -qq \
                  --no-install-recommends $need; } >/dev/null 2>&1 ||
            echo "could not install:$need"
    fi
    img=$work/image
    mkdir -p "$img"
    # The tree's script, not the clean copy's: its git has the commit the
    # image is labelled with and dated by.
    epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct \
                                 2>/dev/null)} ||
        epoch=$(dpkg-parsechangelog -l "$orig/debian/changelog" -S Timestamp)
    for n in 1 2; do
        start=$(now)
        if SOURCE_DATE_EPOCH=$epoch "$top/utilities/build-image.sh" \
               --debs="$work/deb" \
               --workdir="$img/work" --output="$img/livebind-$n.oci.tar" \
               --no-load > "$img/build-$n.log" 2>&1; then
            pass "build-image.sh, build $n ($(($(now) - start)) s)"
        else
            fail "build-image.sh, build $n ($(($(now) - start)) s; log:" \
                 "$img/build-$n.log)"
            tail -30 "$img/build-$n.log"
            return
        fi
    done
    grep -E '^(digest|size|built in):' "$img/build-1.log"
    python3 "$orig/tests/packaging/inspect-image.py" \
        "$img/livebind-1.oci.tar" "$version" "$epoch" > "$img/inspect.log"
    cat "$img/inspect.log"
    passed=$((passed + $(grep -c '^PASS' "$img/inspect.log")))
    failed=$((failed + $(grep -c '^FAIL' "$img/inspect.log")))
    d1=$(sed -n 's/^digest: *//p' "$img/build-1.log")
    d2=$(sed -n 's/^digest: *//p' "$img/build-2.log")
    check "image: two builds, same digest ($d1)" \
        test -n "$d1" -a "$d1" = "$d2"
    check "image: two builds, the same archive byte for byte" \
        cmp -s "$img/livebind-1.oci.tar" "$img/livebind-2.oci.tar"
    check "image: the digest inspect-image.py read is the build's" \
        grep -qx "digest: $d1" "$img/inspect.log"

    # The init container's command and arguments, from the DaemonSet.
    python3 - "$orig/deploy/daemonset.yaml" > "$img/install-cmd" <<'PY'
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "DaemonSet":
        for c in doc["spec"]["template"]["spec"]["initContainers"]:
            if c["name"] == "install-cni":
                print("\n".join(c["command"] + c.get("args", [])))
PY
    check "image: the DaemonSet's install-cni command read" \
        test -s "$img/install-cmd"

    # The temporary "host": the directories the init container mounts.
    host=$img/host
    rm -rf "$host"
    mkdir -p "$host/opt/cni/bin" "$host/etc/cni/net.d" "$host/run/livebind"
    chmod 0755 "$host/run/livebind"
    name=localhost/livebind:$version
    runner=
    # Lower limits than podman's defaults: it cannot raise them where the
    # host withholds CAP_SYS_RESOURCE.
    podman_opts="--network=host --ulimit=nofile=1024:1024
                 --ulimit=nproc=1024:1024"
    if [ "${LB_IMAGE_RUNNER:-}" = chroot ]; then
        echo "LB_IMAGE_RUNNER=chroot: not trying podman"
    elif command -v podman >/dev/null 2>&1; then
        had_image=false
        podman image exists "$name" 2>/dev/null && had_image=true
        if podman load -q -i "$img/livebind-1.oci.tar" > "$img/podman.log" 2>&1
        then
            pass "image: podman load"
            check "image: podman has $name with digest $d1" \
                sh -c "podman image inspect --format '{{.Digest}}' '$name' |
                       grep -qx '$d1'"
            for rt in "" runc; do
                # shellcheck disable=SC2086
                if podman ${rt:+--runtime=$rt} run --rm $podman_opts \
                       "$name" --version > "$img/version" \
                       2>> "$img/podman.log"; then
                    runner="podman${rt:+ --runtime=$rt}"
                    break
                fi
            done
            [ -n "$runner" ] ||
                echo "podman cannot run containers here ($(tail -1 \
                      "$img/podman.log")): chroot instead"
        else
            echo "podman load failed ($(tail -1 "$img/podman.log")):" \
                 "chroot instead"
        fi
    fi
    root=$img/root
    if [ -z "$runner" ]; then
        # The layer, unpacked; mount points for the "host".
        rm -rf "$root"
        mkdir -p "$root"
        layer=$(python3 -c 'import json, sys, tarfile
t = tarfile.open(sys.argv[1])
blob = lambda d: t.extractfile("./blobs/" + d.replace(":", "/"))
m = json.load(blob(json.load(t.extractfile("./index.json"))
                   ["manifests"][0]["digest"]))
print(m["layers"][0]["digest"].replace(":", "/"))' "$img/livebind-1.oci.tar")
        tar -xOf "$img/livebind-1.oci.tar" "./blobs/$layer" |
            tar -C "$root" -xzf -
        mkdir -p "$root/host/opt/cni/bin" "$root/host/etc/cni/net.d" \
            "$root/host/run/livebind"
        runner=chroot
        chroot "$root" /usr/sbin/livebind-agent --version > "$img/version" \
            2>&1
    fi
    echo "running the image with: $runner"
    check "image ($runner): livebind-agent --version says $version" \
        grep -qx "livebind-agent $version" "$img/version"

    # The install step, as the init container runs it.
    # shellcheck disable=SC2046
    set -- $(cat "$img/install-cmd")
    entry=$1
    shift
    if [ "$runner" = chroot ]; then
        unshare --mount --fork sh -ec '
            root=$1 host=$2
            shift 2
            for d in opt/cni/bin etc/cni/net.d run/livebind; do
                mount --bind "$host/$d" "$root/host/$d"
            done
            exec chroot "$root" "$@"' sh "$root" "$host" "$entry" "$@" \
            > "$img/install.log" 2>&1
    else
        # shellcheck disable=SC2086
        podman ${runner#podman} run --rm $podman_opts \
            -v "$host/opt/cni/bin:/host/opt/cni/bin" \
            -v "$host/etc/cni/net.d:/host/etc/cni/net.d" \
            -v "$host/run/livebind:/host/run/livebind" \
            --entrypoint "$entry" "$name" "$@" > "$img/install.log" 2>&1
    fi
    rc=$?
    check "image ($runner): $entry runs ($(tail -1 "$img/install.log"))" \
        test "$rc" = 0
    dpkg-deb --fsys-tarfile "$cni_deb" |
        tar -xOf - ./usr/lib/cni/livebind > "$img/plugin"
    check "image: installed /opt/cni/bin/livebind is the package's plugin" \
        cmp -s "$img/plugin" "$host/opt/cni/bin/livebind"
    check "image: /opt/cni/bin/livebind mode 0755" \
        test "$(stat -c %a "$host/opt/cni/bin/livebind" 2>/dev/null)" = 755
    conf=$host/etc/cni/net.d/10-livebind.conflist
    check "image: 10-livebind.conflist mode 0644" \
        test "$(stat -c %a "$conf" 2>/dev/null)" = 644
    check "image: 10-livebind.conflist names the agent's socket" \
        python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
assert c["plugins"] == [{"type": "livebind",
                         "agentSocket": "/run/livebind/cni.sock"}]' "$conf"
    check "image: /run/livebind made root's, mode 0700" \
        test "$(stat -c %a:%u "$host/run/livebind")" = 700:0
    check "image: nothing else written to the host" \
        test "$(ls -A "$host/opt/cni/bin")" = livebind \
             -a "$(ls -A "$host/etc/cni/net.d")" = 10-livebind.conflist
    check "image: the installed plugin runs on the host (CNI VERSION)" \
        sh -c "CNI_COMMAND=VERSION '$host/opt/cni/bin/livebind' </dev/null |
               grep -q supportedVersions"
    # The probes' tools: a shell and ovs-appctl.
    if [ "$runner" = chroot ]; then
        chroot "$root" /bin/sh -c 'ovs-appctl --version && ovs-vsctl --version'
    else
        # shellcheck disable=SC2086
        podman ${runner#podman} run --rm $podman_opts --entrypoint /bin/sh \
            "$name" -c 'ovs-appctl --version && ovs-vsctl --version'
    fi > "$img/probe.log" 2>&1
    check "image ($runner): /bin/sh runs ovs-appctl and ovs-vsctl" \
        grep -q '^ovs-vsctl (Open vSwitch)' "$img/probe.log"

    if [ "$runner" != chroot ] && ! ${had_image:-true}; then
        podman rmi -f "$name" >/dev/null 2>&1
    fi
}
image_section

# --- Install the .debs, run what they installed, purge them.
if [ ! -f "$agent_deb" ] || [ ! -f "$cni_deb" ] || [ ! -f "$utils_deb" ]; then
    fail "install the .debs (not built)"
    summary
    exit 1
fi
already=
for p in livebind-agent livebind-cni livebind-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        && already="$already $p"
done
if [ -n "$already" ]; then
    echo "SKIP: install test: already installed:$already"
    summary
    exit $?
fi
dpkg-query -W -f='${Package}\n' | sort > "$work/before"
# Installing must not start services (openvswitch-switch, if apt pulls it
# in, would start a system-wide OVS).
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_rc_d_ours=true
fi
if apt-get install -y -qq --no-install-recommends \
       "$agent_deb" "$cni_deb" "$utils_deb" > "$work/install.log" 2>&1; then
    pass "apt-get install the three .debs"
else
    fail "apt-get install the three .debs"
    tail -20 "$work/install.log"
fi
dpkg-query -W -f='${Package}\n' | sort > "$work/after"
installed_by_us=$(comm -13 "$work/before" "$work/after" | tr '\n' ' ')
echo "installed: $installed_by_us"

check "livebind-agent --version says $version" \
    sh -c "livebind-agent --version | grep -qx 'livebind-agent $version'"
check "livebind-agent reads the shipped /etc/livebind/agent.conf" \
    livebind-agent --config=/etc/livebind/agent.conf --version
check "agent.conf is registered as a conffile" \
    sh -c "dpkg-query -W -f='\${Conffiles}' livebind-agent |
           grep -q /etc/livebind/agent.conf"
check "livebind-agent.service installed, not enabled" \
    sh -c "test -f /lib/systemd/system/livebind-agent.service &&
           ! test -e /etc/systemd/system/multi-user.target.wants/livebind-agent.service"
if command -v systemd-analyze >/dev/null 2>&1; then
    check "systemd-analyze verify livebind-agent.service" \
        sh -c "systemd-analyze verify /lib/systemd/system/livebind-agent.service 2>&1 |
               grep -v 'ovs-\|ovsdb-\|openvswitch' | grep -q . && exit 1 || exit 0"
fi
empty=$work/empty-rundir
mkdir -p "$empty"
check "livebind-ctl runs (no agent: says so)" \
    sh -c "OVS_RUNDIR='$empty' livebind-ctl status 2>&1 |
           grep -q 'no livebind-agent control socket'"
check "CNI plugin /usr/lib/cni/livebind answers VERSION" \
    sh -c "CNI_COMMAND=VERSION /usr/lib/cni/livebind </dev/null |
           grep -q supportedVersions"

if [ -n "$installed_by_us" ]; then
    # shellcheck disable=SC2086
    apt-get purge -y -qq $installed_by_us > "$work/purge.log" 2>&1
fi
installed_by_us=
dpkg-query -W -f='${Package}\n' | sort > "$work/purged"
check "purged: installed packages as before" cmp -s "$work/before" "$work/purged"
check "purged: /etc/livebind, /usr/sbin/livebind-agent, /usr/lib/cni/livebind gone" \
    sh -c "! test -e /etc/livebind && ! test -e /usr/sbin/livebind-agent &&
           ! test -e /usr/lib/cni/livebind"

summary
