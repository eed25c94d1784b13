# qemu.sh - a real QEMU guest, attached and live-migrated as KubeVirt does,
# for livebind's QEMU migration test, the sandbox and the benchmark.  Source
# after bed.sh, agent.sh, k8s.sh and migration.sh.
#
# The guest: utilities/build-guest.sh (Debian's kernel, busybox, an echo
# server on port 7, TCP and UDP).  QEMU runs it under TCG in the
# virt-launcher pod's network namespace.  As KubeVirt's bridge binding does,
# the pod's eth0 (plumbed by livebind's CNI ADD) loses its address and gets
# another MAC, a bridge k6t-eth0 holds eth0 and a tap "tap0" created before
# QEMU starts, and QEMU opens the tap by name with the pod's IP and MAC.
#
# The migration stream runs over a unix socket, not the pod network: as
# KubeVirt's virt-launcher, QEMU migrates into a unix socket that
# virt-handler's migration proxy carries to the target node, where the
# proxy connects to the target QEMU's socket.  Both ends are on this one
# machine here, so the proxy's TCP hop between the nodes is left out.
#
# Each QEMU has two QMP sockets: one for commands (qmp.py), one whose
# events a logger appends to $LB_BED_DIR/qemu.POD.events (JSON lines with
# QEMU's wall-clock timestamps); the "events" migration capability is on at
# both ends.
#
# Settings: QEMU_VM (VM name), QEMU_VMI_UID, QEMU_VM_MAC, QEMU_VM_IP
# (address/prefix), QEMU_VM_GW, QEMU_IPV6 ("slaac": the guest is
# dual-stack and configures IPv6 by SLAAC from the switch's router
# advertisements, as a VM in bridge mode does; no IPv6 address or route is
# given to it), QEMU_MTU (default 1400): qemu_vm_create sets all but the
# last two.

QEMU_BIN=${QEMU_BIN:-qemu-system-x86_64}
QEMU_BIOS=${QEMU_BIOS:-/usr/share/qemu/qboot.rom}
QEMU_MTU=${QEMU_MTU:-1400}
QEMU_IPV6=${QEMU_IPV6-}

# qemu_check : build (or find) the guest and set QEMU_GUEST.  If QEMU
# cannot run here, print why and return 1; if the guest cannot be built,
# 2.
qemu_check() {
    command -v "$QEMU_BIN" >/dev/null 2>&1 ||
        { echo "no $QEMU_BIN (Debian package qemu-system-x86)"; return 1; }
    [ -r "$QEMU_BIOS" ] ||
        { echo "no $QEMU_BIOS (qemu-system-data)"; return 1; }
    [ -c /dev/net/tun ] || { echo "no /dev/net/tun"; return 1; }
    local log; log=$(mktemp)
    QEMU_GUEST=$("$srcdir/utilities/build-guest.sh" 2>"$log" | tail -1)
    if [ ! -r "$QEMU_GUEST/vmlinuz" ]; then
        echo "cannot build the guest (utilities/build-guest.sh):"
        tail -5 "$log"
        rm -f "$log"
        return 2
    fi
    rm -f "$log"
}

# qemu_require : qemu_check, or exit: 77 (skip) if QEMU cannot run here,
# 1 if the guest cannot be built.
qemu_require() {
    local why rc=0
    why=$(mktemp)
    qemu_check > "$why" || rc=$?
    case $rc in
        0) rm -f "$why"; return 0 ;;
        1) echo "SKIP: $(cat "$why")" ;;
        *) echo "FAIL: $(cat "$why")" ;;
    esac
    rm -f "$why"
    [ "$rc" = 1 ] && exit 77
    exit 1
}

# qemu_json FILE KEY : a top-level field of the JSON object in FILE.
qemu_json() {
    python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

_qemu_files() { echo "$LB_BED_DIR/qemu.$1"; }

# qemu_pod_attach POD : KubeVirt's bridge binding in POD's namespace.
qemu_pod_attach() {
    local ns=${LB_PREFIX}$1
    ip -n "$ns" addr flush dev eth0
    ip -n "$ns" link set eth0 address "02:00:00:$(printf '%02x:%02x:%02x' \
        $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))"
    # No multicast snooping: a snooping bridge joins the multicast router
    # discovery group (224.0.0.106) and reports it to its ports, the tap
    # too, and the test counts every frame the VM is handed.
    ip -n "$ns" link add k6t-eth0 type bridge mcast_snooping 0
    ip -n "$ns" tuntap add dev tap0 mode tap
    # The pod's side of the bridge is layer 2 only, from before it is up:
    # its own IPv6 (MLD reports and router solicitations from the
    # interfaces' link-local addresses) would go out the tap to the VM,
    # and to the switch, which drops it (not the port's MAC).
    if [ -d /proc/sys/net/ipv6 ]; then
        ip netns exec "$ns" sh -c 'for i in eth0 k6t-eth0 tap0; do
            echo 1 > /proc/sys/net/ipv6/conf/$i/disable_ipv6; done'
    fi
    ip -n "$ns" link set k6t-eth0 mtu "$QEMU_MTU"
    ip -n "$ns" link set eth0 master k6t-eth0
    ip -n "$ns" link set tap0 mtu "$QEMU_MTU" master k6t-eth0
    ip -n "$ns" link set tap0 up
    ip -n "$ns" link set k6t-eth0 up
}

# qemu_tap_capture POD : record the frames on POD's tap (tapcap.py) into
# $LB_BED_DIR/qemu.POD.tap, from before QEMU opens it.
qemu_tap_capture() {
    local f; f=$(_qemu_files "$1")
    rm -f "$f.tap"
    # At nice 19: the kernel timestamps each frame, and the capture,
    # woken for each one, should not take a CPU from the switches.
    bed_bg "$1" "$f.tapcap.log" nice -n 19 python3 \
        "$srcdir/tests/system/tapcap.py" capture tap0 "$f.tap"
    echo "$BED_BG_PID" > "$f.tapcap.pid"
    bed_wait_until 10 grep -qs ready "$f.tap"
}

# qemu_start POD [--incoming] : QEMU in POD's namespace on its tap, the VM
# with QEMU_VM_MAC and QEMU_VM_IP; with --incoming it waits for a migration
# ("-incoming defer").  Waits for the monitors and starts the event log.
qemu_start() {
    local pod=$1 f; f=$(_qemu_files "$1")
    local incoming=()
    [ "${2-}" != --incoming ] || incoming=(-incoming defer)
    local append="console=ttyS0 quiet panic=-1 lb.mac=$QEMU_VM_MAC"
    append="$append lb.ip=$QEMU_VM_IP lb.gw=$QEMU_VM_GW lb.mtu=$QEMU_MTU"
    [ -z "$QEMU_IPV6" ] || append="$append lb.ipv6=$QEMU_IPV6"
    rm -f "$f.qmp" "$f.ev" "$f.events"
    # vnet_hdr=off: the guest computes its own checksums and sends no
    # offloaded super-frames, which the userspace datapath's veths would
    # pass on unfinished.
    bed_bg "$pod" "$f.log" "$QEMU_BIN" -name "$QEMU_VM,process=qemu-$pod" \
        -accel tcg -M pc -bios "$QEMU_BIOS" -m 128 -smp 1 -nodefaults \
        -display none -kernel "$QEMU_GUEST/vmlinuz" \
        -initrd "$QEMU_GUEST/initrd.img" -append "$append" \
        -netdev tap,id=net0,ifname=tap0,script=no,downscript=no,vnet_hdr=off \
        -device "virtio-net-pci,netdev=net0,mac=$QEMU_VM_MAC,romfile=" \
        -serial "file:$f.console" \
        -qmp "unix:$f.qmp,server=on,wait=off" \
        -qmp "unix:$f.ev,server=on,wait=off" "${incoming[@]}"
    echo "$BED_BG_PID" > "$f.pid"
    bed_wait_until 10 test -S "$f.ev" || { cat "$f.log"; return 1; }
    bed_bg "$pod" "$f.events.log" python3 "$srcdir/tests/system/qmp.py" \
        "$f.ev" --events "$f.events"
    bed_wait_until 10 test -e "$f.events" || return 1
    qmp "$pod" migrate-set-capabilities \
        '{"capabilities":[{"capability":"events","state":true}]}' >/dev/null
}

# qmp POD COMMAND [ARGS-JSON] : one QMP command to POD's QEMU.
qmp() {
    local f; f=$(_qemu_files "$1")
    python3 "$srcdir/tests/system/qmp.py" "$f.qmp" "${@:2}"
}

# qemu_stop POD : QEMU quits (or is killed); its event log and tap capture
# end with it.
qemu_stop() {
    local f pid
    f=$(_qemu_files "$1")
    pid=$(cat "$f.pid" 2>/dev/null) || return 0
    if kill -0 "$pid" 2>/dev/null; then
        qmp "$1" quit >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    fi
    bed_wait_until 5 _qemu_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    rm -f "$f.pid"
    qemu_tap_capture_stop "$1"
}
_qemu_gone() { ! bed_pid_alive "$1"; }
qemu_tap_capture_stop() {
    local f pid
    f=$(_qemu_files "$1")
    pid=$(cat "$f.tapcap.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || true
    rm -f "$f.tapcap.pid"
}

# qemu_event_time POD EVENT : the wall-clock time (seconds, microsecond
# precision) of POD's QEMU's first EVENT; fails if there was none.
qemu_event_time() {
    local f; f=$(_qemu_files "$1")
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev["event"] == sys.argv[2]:
        t = ev["timestamp"]
        print("%d.%06d" % (t["seconds"], t["microseconds"]))
        sys.exit(0)
sys.exit(1)' "$f.events" "$2"
}
qemu_has_event() { qemu_event_time "$@" >/dev/null; }

# qemu_status POD : "running", "postmigrate", "inmigrate", ...
qemu_status() {
    qmp "$1" query-status |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'
}

# qemu_vm_create VM NODE POD IP/PLEN GW : the VMI and its virt-launcher pod
# on NODE (the CNI ADD gives it the VM's MAC and IP), attached as KubeVirt
# attaches a VM, and QEMU booting the guest.  Sets QEMU_VM, QEMU_VMI_UID,
# QEMU_VM_MAC, QEMU_VM_IP and QEMU_VM_GW.  The CNI result's address must be
# in IP/PLEN's subnet: only the prefix length is taken from it.
qemu_vm_create() {
    QEMU_VM=$1
    QEMU_VMI_UID=$(vmi_create "$1" "$2") || return 1
    add_pod "$2" "$3" "$(launcher_meta "$1" "$QEMU_VMI_UID")" || return 1
    QEMU_VM_MAC=$(mac_of "$3")
    QEMU_VM_IP=$(ip_of "$3")/${4#*/}
    QEMU_VM_GW=$5
    qemu_pod_attach "$3"
    qemu_start "$3"
}

# qemu_mig_state UID SOURCE TARGET SOURCE_POD TARGET_POD [EXTRA] : the
# VMI's status.migrationState, as virt-controller and virt-handler fill it;
# without EXTRA, what the previous migration's end set is reset (the API
# merges the patch into the object).
qemu_mig_state() {
    echo "{\"migrationUid\":\"$1\",\"sourceNode\":\"$2\",\"targetNode\":\"$3\",
           \"sourcePod\":\"$4\",\"targetPod\":\"$5\",\"mode\":\"PreCopy\"${6:-,
           \"completed\":false,\"failed\":false,
           \"targetNodeDomainReadyTimestamp\":null}}"
}

# A migration, in step with KubeVirt's phases.  The caller runs these in
# order (checking what it wants between them); each sets or reads
# QEMU_MIG_UID.
#
# qemu_mig_prepare VMIM SRC_NODE SRC_POD TGT_NODE TGT_POD : Scheduling,
# the target pod and its CNI ADD, Scheduled; the target pod attached, its
# tap captured, its QEMU started to wait for the migration;
# PreparingTarget and the VMI's migrationState.
qemu_mig_prepare() {
    local vmim=$1 sn=$2 sp=$3 tn=$4 tp=$5
    QEMU_MIG_UID=$(vmim_create "$vmim" "$QEMU_VM") || return 1
    vmim_phase "$vmim" Scheduling
    add_pod "$tn" "$tp" \
        "$(launcher_meta "$QEMU_VM" "$QEMU_VMI_UID" "$QEMU_MIG_UID" "$vmim")" \
        || return 1
    [ "$(mac_of "$tp")" = "$QEMU_VM_MAC" ] ||
        { echo "target pod $tp got another MAC"; return 1; }
    vmim_phase "$vmim" Scheduled
    qemu_pod_attach "$tp"
    qemu_tap_capture "$tp"
    qemu_start "$tp" --incoming || return 1
    vmim_phase "$vmim" PreparingTarget
    vmi_migration_state "$QEMU_VM" \
        "$(qemu_mig_state "$QEMU_MIG_UID" "$sn" "$tn" "$sp" "$tp")"
}

# qemu_mig_target_ready VMIM TGT_POD : the target QEMU listens on the
# migration socket; TargetReady.
qemu_mig_target_ready() {
    qmp "$2" migrate-incoming \
        "{\"uri\":\"unix:$(_qemu_files "$1").mig\"}" >/dev/null || return 1
    vmim_phase "$1" TargetReady
}

# qemu_mig_run VMIM SRC_POD : Running; the source QEMU migrates.
qemu_mig_run() {
    vmim_phase "$1" Running
    qmp "$2" migrate "{\"uri\":\"unix:$(_qemu_files "$1").mig\"}" >/dev/null
}

# qemu_mig_wait SRC_POD TGT_POD [TIMEOUT] : the migration completes and the
# target resumes; the source's final query-migrate goes to
# $LB_BED_DIR/qemu.SRC_POD.migrate.
qemu_mig_wait() {
    local f; f=$(_qemu_files "$1")
    python3 "$srcdir/tests/system/qmp.py" "$f.qmp" --wait-migration \
        "${3:-60}" > "$f.migrate" || { cat "$f.migrate"; return 1; }
    bed_wait_until 10 qemu_has_event "$2" RESUME
}

# qemu_mig_downtime SRC_POD : QEMU's downtime of the last migration (ms).
qemu_mig_downtime() {
    qemu_json "$(_qemu_files "$1").migrate" downtime
}

# qemu_stop_to_resume SRC_POD TGT_POD : ms from the source QEMU's STOP to
# the target's RESUME (events; the guest's own downtime).
qemu_stop_to_resume() {
    local stop resume
    stop=$(qemu_event_time "$1" STOP) &&
        resume=$(qemu_event_time "$2" RESUME) &&
        python3 -c 'import sys; a, b = map(float, sys.argv[1:])
print(round((b - a) * 1000, 1))' "$stop" "$resume"
}

# qemu_guest_panicked POD : whether the guest's kernel panicked in POD's
# QEMU (it reboots at once, panic=-1, and answers again seconds later).
qemu_guest_panicked() {
    grep -q "Kernel panic" "$(_qemu_files "$1").console" 2>/dev/null
}

# qemu_mig_succeed VMIM SRC_NODE SRC_POD TGT_NODE TGT_POD : Succeeded and
# the VMI's migrationState completed, on the target node; the source pod
# Succeeded, its QEMU gone, CNI DEL, deleted.
qemu_mig_succeed() {
    local vmim=$1 sn=$2 sp=$3 tn=$4 tp=$5
    vmi_migration_state "$QEMU_VM" "$(qemu_mig_state "$QEMU_MIG_UID" "$sn" \
        "$tn" "$sp" "$tp" ",\"completed\":true,
        \"targetNodeDomainReadyTimestamp\":\"$(date -u +%FT%TZ)\"")" "$tn"
    vmim_phase "$vmim" Succeeded
    pod_phase "$sp" Succeeded
    qemu_stop "$sp"
    cni "$sn" DEL "$sp" >/dev/null || true
    k8s_delete "/api/v1/namespaces/default/pods/$sp"
}

# qemu_mig_cancel VMIM SRC_NODE SRC_POD TGT_NODE TGT_POD : QMP
# migrate_cancel at the source, which keeps running; Failed; the target
# pod's QEMU gone, CNI DEL, deleted.
qemu_mig_cancel() {
    local vmim=$1 sn=$2 sp=$3 tn=$4 tp=$5
    qmp "$sp" migrate_cancel >/dev/null || return 1
    python3 "$srcdir/tests/system/qmp.py" "$(_qemu_files "$sp").qmp" \
        --wait-migration 30 > "$(_qemu_files "$sp").migrate" || true
    vmi_migration_state "$QEMU_VM" "$(qemu_mig_state "$QEMU_MIG_UID" "$sn" \
        "$tn" "$sp" "$tp" ",\"completed\":true,\"failed\":true")"
    vmim_phase "$vmim" Failed
    pod_phase "$tp" Failed
    qemu_stop "$tp"
    cni "$tn" DEL "$tp" >/dev/null || true
    k8s_delete "/api/v1/namespaces/default/pods/$tp"
}

# qemu_guest_ipv6 POD : what the guest (booted in POD, QEMU_IPV6=slaac)
# printed of its IPv6 configuration once SLAAC was done (tests/guest/init):
# JSON with its global address and the kernel's flags for it, and its
# default route's gateway and flags.  Fails until it has printed them.
qemu_guest_ipv6() {
    local f; f=$(_qemu_files "$1")
    python3 - "$f.console" <<'PY'
import ipaddress, json, sys
res = {}
for line in open(sys.argv[1], errors="replace"):
    w = line.split()
    if w[:3] == ["guest:", "ipv6", "addr"] and len(w) == 7:
        res["address"] = str(ipaddress.IPv6Address(bytes.fromhex(w[3])))
        res["prefixlen"] = int(w[4], 16)
        res["addr_flags"] = int(w[6], 16)
    elif w[:3] == ["guest:", "ipv6", "default"] and len(w) == 5:
        res["gateway"] = str(ipaddress.IPv6Address(bytes.fromhex(w[3])))
        res["route_flags"] = int(w[4], 16)
if len(res) != 5:
    sys.exit(1)
print(json.dumps(res))
PY
}

# qemu_tap_report POD CLIENT_IP : tapcap.py's analysis of POD's tap
# around its QEMU's RESUME (JSON).
qemu_tap_report() {
    local f; f=$(_qemu_files "$1")
    python3 "$srcdir/tests/system/tapcap.py" analyze "$f.tap" \
        "$QEMU_VM_MAC" "$2" "$(qemu_event_time "$1" RESUME)"
}
