# migration.sh - emulates KubeVirt for livebind's migration tests and the
# sandbox.  Source after bed.sh, agent.sh and k8s.sh.
#
# A VM is a "guest" namespace holding the VM's IP and MAC on a bridge br0
# with one uplink per virt-launcher pod (source, then target), as KubeVirt's
# bridge binding connects a VM to its pod's eth0.  Cutover is one
# "ip -batch" that brings the target uplink up and the source uplink down:
# the guest's TCP stack never notices, and its carrier never flaps.

KV=/apis/kubevirt.io/v1/namespaces/default

json_field() {  # FIELD : read a top-level metadata field from JSON on stdin
    python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["'"$1"'"])'
}

# vmi_create VM NODE : the VirtualMachineInstance, opted in, running on
# NODE (its status written through the status subresource, as
# virt-controller and virt-handler do); prints its UID.
vmi_create() {
    kapi_ok POST "$KV/virtualmachineinstances" \
      "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachineInstance\",
        \"metadata\":{\"name\":\"$1\",\"namespace\":\"default\",
          \"annotations\":{\"kubevirt.io/allow-pod-bridge-network-live-migration\":\"true\"}},
        \"spec\":{\"domain\":{\"devices\":{\"interfaces\":[{\"name\":\"default\",\"bridge\":{}}]}},
                  \"networks\":[{\"name\":\"default\",\"pod\":{}}]}}" |
        json_field uid
    kapi_status "$KV/virtualmachineinstances/$1" \
        "{\"status\":{\"nodeName\":\"$2\",\"phase\":\"Running\"}}" \
        >/dev/null
}

# launcher_meta VM VMI_UID [VMIM_UID VMIM_NAME] : virt-launcher pod metadata
# (labels, annotations, controller ownerReference), as KubeVirt sets them;
# with a VMIM, a migration target pod's.
launcher_meta() {
    local mig_label="" mig_ann=""
    if [ -n "${3-}" ]; then
        mig_label=",\"kubevirt.io/migrationJobUID\":\"$3\""
        mig_ann=",\"kubevirt.io/migrationJobName\":\"$4\""
    fi
    echo "\"labels\":{\"kubevirt.io\":\"virt-launcher\",
            \"vm.kubevirt.io/name\":\"$1\",\"vmi.kubevirt.io/id\":\"$1\",
            \"kubevirt.io/created-by\":\"$2\"$mig_label},
          \"ownerReferences\":[{\"apiVersion\":\"kubevirt.io/v1\",
            \"kind\":\"VirtualMachineInstance\",\"name\":\"$1\",
            \"uid\":\"$2\",\"controller\":true,\"blockOwnerDeletion\":true}],
          \"annotations\":{\"kubevirt.io/domain\":\"$1\",
            \"kubevirt.io/allow-pod-bridge-network-live-migration\":\"true\"$mig_ann}"
}

# vm_pod_bridge POD GUEST UPLINK [IFNAME BRIDGE] : bridge POD's eth0 (or
# IFNAME, a secondary NIC) to the guest's br0 (or BRIDGE) through a veth
# (POD: tap0, or tap-IFNAME; GUEST: UPLINK), as KubeVirt's bridge binding
# does: the pod's interface loses its address and gets another MAC, the VM
# keeps both.  The uplink starts down.
vm_pod_bridge() {
    local pod=${LB_PREFIX}$1 guest=${LB_PREFIX}$2 up=$3
    local ifn=${4:-eth0} br=${5:-br0} tap=tap0
    [ "$ifn" = eth0 ] || tap=tap-$ifn
    ip -n "$pod" addr flush dev "$ifn"
    ip -n "$pod" link set "$ifn" address "02:00:00:$(printf '%02x:%02x:%02x' \
        $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))"
    ip -n "$pod" link add "k6t-$ifn" type bridge
    ip -n "$pod" link set "$ifn" master "k6t-$ifn"
    ip -n "$pod" link add "$tap" type veth peer name "$up" netns "$guest"
    ip -n "$pod" link set "$tap" master "k6t-$ifn"
    ip netns exec "$pod" ethtool -K "$tap" tx off >/dev/null
    ip netns exec "$pod" ethtool -K "k6t-$ifn" tx off >/dev/null 2>&1 || true
    ip -n "$pod" link set "$tap" up
    ip -n "$pod" link set "k6t-$ifn" up
    ip -n "$guest" link set "$up" master "$br"
    ip netns exec "$guest" ethtool -K "$up" tx off >/dev/null
    # Isolated: while both pods are bridged, br0 must not reflect one
    # pod's broadcasts into the other.
    ip -n "$guest" link set dev "$up" type bridge_slave isolated on
}

# guest_create GUEST MAC IP/PLEN : the VM's own network stack.
guest_create() {
    _bed_ns_add "${LB_PREFIX}$1"
    local ns=${LB_PREFIX}$1
    ip -n "$ns" link add br0 type bridge
    ip -n "$ns" link set br0 address "$2" mtu 1400
    ip -n "$ns" addr add "$3" dev br0
    ip netns exec "$ns" ethtool -K br0 tx off >/dev/null 2>&1 || true
    ip -n "$ns" link set br0 up
}

# vmim_create NAME VM : a VirtualMachineInstanceMigration in phase Pending
# (created by a user, its phase set by virt-controller); prints its UID.
vmim_create() {
    kapi_ok POST "$KV/virtualmachineinstancemigrations" \
      "{\"apiVersion\":\"kubevirt.io/v1\",
        \"kind\":\"VirtualMachineInstanceMigration\",
        \"metadata\":{\"name\":\"$1\",\"namespace\":\"default\"},
        \"spec\":{\"vmiName\":\"$2\"}}" |
        json_field uid
    vmim_phase "$1" Pending
}

# vmim_phase NAME PHASE : advance the VMIM, as virt-controller does.
vmim_phase() {
    kapi_ok PATCH "$KV/virtualmachineinstancemigrations/$1/status" \
        "{\"status\":{\"phase\":\"$2\"}}" application/merge-patch+json \
        >/dev/null
}

# vmi_migration_state VM JSON : set the VMI's status.migrationState (and
# nodeName when given as a third argument).
vmi_migration_state() {
    local node=${3:+,\"nodeName\":\"$3\"}
    kapi_ok PATCH "$KV/virtualmachineinstances/$1/status" \
        "{\"status\":{\"migrationState\":$2$node}}" \
        application/merge-patch+json >/dev/null
}

# pod_phase POD PHASE
pod_phase() {
    kapi_ok PATCH "/api/v1/namespaces/default/pods/$1/status" \
        "{\"status\":{\"phase\":\"$2\"}}" application/merge-patch+json \
        >/dev/null
}

# cutover_and_announce GUEST MAC FROM TO [ANNOUNCE-ARGS...] : the VM
# resumes behind uplink TO and announces itself right away: with QEMU's
# RARP rounds, or as ANNOUNCE-ARGS tell announce.py (e.g. an NA).
#
# The target uplink is brought up first, in the bridge port state
# "disabled", and the cutover itself is one "bridge -batch" that sets TO
# forwarding and FROM disabled: a carrier change would take effect only
# when the kernel's linkwatch gets to it, which it batches for up to a
# second when several links change at once (many VMs cut over together).
cutover_and_announce() {
    local guest=$1 mac=$2 from=$3 to=$4
    shift 4
    _cutover_prepare "$guest" "$from" "$to"
    bed_exec "$guest" python3 "$srcdir/tests/system/announce.py" br0 "$mac" \
        --cutover "$LB_BED_DIR/cutover.$guest.batch" "$@"
}
# The target uplink up, disabled, and the batch that cuts over.
_cutover_prepare() {  # GUEST FROM TO
    local ns=${LB_PREFIX}$1 guest=$1 from=$2 to=$3
    ip -n "$ns" link set "$to" up
    bed_wait_until 5 _uplink_forwarding "$ns" "$to"
    bridge -n "$ns" link set dev "$to" state 0
    printf 'link set dev %s state 3\nlink set dev %s state 0\n' "$to" \
        "$from" > "$LB_BED_DIR/cutover.$guest.batch"
}

# cutover_arm GUEST MAC FROM TO FIFO : as cutover_and_announce, in the
# background (BED_BG_PID), but the cutover waits until FIFO is opened for
# writing: every VM armed so resumes at once ("exec 3>FIFO").  When the
# cutover was applied and each RARP sent: $LB_BED_DIR/cutover.GUEST.log
# (announce.py --stamp).
cutover_arm() {
    local guest=$1 mac=$2 from=$3 to=$4 fifo=$5
    _cutover_prepare "$guest" "$from" "$to"
    bed_bg "$guest" "$LB_BED_DIR/cutover.$guest.log" python3 \
        "$srcdir/tests/system/announce.py" br0 "$mac" \
        --cutover "$LB_BED_DIR/cutover.$guest.batch" --trigger "$fifo" \
        --stamp
}
# cutover_arm_all FIFO [PREFIX...] -- GUEST:MAC... : as cutover_arm for
# each VM (uplink up0 -> up1), from one process (tests/system/resume-all.py,
# in the first GUEST's namespace; BED_BG_PID; PREFIX runs it, e.g. "chrt
# -f 3"): the VMs resume one after the other, each cutover followed at once
# by its first RARP, as a real VM's is.  Returns once every VM is armed;
# stamps in $LB_BED_DIR/cutover.GUEST.log.
cutover_arm_all() {
    local fifo=$1 spec=$LB_BED_DIR/resume-all.spec vm guest first=""
    local prefix=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do prefix+=("$1"); shift; done
    shift
    : > "$spec"
    for vm in "$@"; do
        guest=${vm%%:*}
        first=${first:-$guest}
        _cutover_prepare "$guest" up0 up1
        echo "$(_bed_ns "$guest") br0 ${vm#*:}" \
            "$LB_BED_DIR/cutover.$guest.batch" \
            "$LB_BED_DIR/cutover.$guest.log" >> "$spec"
    done
    bed_bg "$first" "$LB_BED_DIR/resume-all.log" "${prefix[@]}" python3 \
        "$srcdir/tests/system/resume-all.py" "$spec" --trigger "$fifo"
    bed_wait_until 60 grep -q '^armed' "$LB_BED_DIR/resume-all.log"
}
_uplink_forwarding() {
    bridge -n "$1" link show dev "$2" | grep -q 'state forwarding'
}

# learned_monitor NODE LOG [PREFIX...] : in the background (BED_BG_PID,
# a process group of its own: stop it with "kill -- -PID"), an OpenFlow
# monitor of the activations NODE's switch learns (table 15: the flow a
# VM's RARP adds, cookie kind 9, docs/pipeline.md, "Self-activation"):
# LOG gets "US KEY" for each, the wall clock time (us) the monitor read it
# at and the port key (decimal); PREFIX runs it (e.g. "chrt -f 3").
# Given no miss_send_len, the monitor gets no packet-ins: it adds nothing
# to the switch's work but these reports.
learned_monitor() {
    local node=$1 log=$2; shift 2
    bed_bg "$node" "$log" setsid "$@" python3 -c '
import re, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
for line in p.stdout:
    m = re.search(r"event=ADDED .*cookie=0x9([0-9a-f]{15})\b", line)
    if m:
        print(time.time_ns() // 1000, int(m.group(1), 16), flush=True)
' ovs-ofctl -O OpenFlow15 monitor \
        "unix:$(bed_node_dir "$node")/br-int.mgmt" \
        'watch:!initial,!delete,!modify,table=15'
}

# migration_flows NODE KEY : NODE's migration flows of port KEY.
migration_flows() {
    bed_dump_flows "$1" "cookie=$(printf '0x48%014x' "$2")/-1"
}
has_migration_flows() { [ -n "$(migration_flows "$2" "$1")" ]; }
no_migration_flows() { [ -z "$(migration_flows "$2" "$1")" ]; }
# blocked NODE KEY : NODE holds the copy of port KEY blocked.
# port_blocked NODE KEY : NODE's copy of port KEY is blocked in the flow
# table: dropped (priority 150), or, self-activating, dropped until its VM
# announces itself (priority 155, pipeline.c).
port_blocked() {
    local k
    k=$(printf '%#x' "$2")
    bed_dump_flows "$1" | grep -Eq "priority=150,reg14=$k actions=drop|priority=155,reg10=0x2/0x3,reg14=$k actions=drop"
}
port_not_blocked() { ! port_blocked "$@"; }
# node_gates NODE : the interfaces of NODE's br-int that carry the agent's
# gate (lib/port-gate.h), the tc filter that drops what the switch sends a
# blocked copy.
node_gates() {
    local ifname
    for ifname in $(bed_ovs "$1" ovs-vsctl --bare --columns=name list \
                    Interface); do
        bed_exec "$1" tc filter show dev "$ifname" egress 2>/dev/null |
            grep -q 'livebind-gate' && echo "$ifname"
    done
    return 0
}
has_gate() { [ -n "$(node_gates "$1")" ]; }
# self_activated NODE KEY : NODE's switch learned that port KEY's copy was
# activated by its VM's RARP (table 15, pipeline.c).
self_activated() {
    bed_dump_flows "$1" | grep -q "table=15, .*reg14=$(printf '%#x' "$2")"
}
# gate_opened_by_vm NODE : a gate on NODE opened itself on its VM's RARP,
# in the kernel (port-gate.h), as NODE's agent reads the gate's flag.
gate_opened_by_vm() {
    ovs-appctl -t "$(bed_node_dir "$1")/agent.ctl" status |
        grep -q '(opened by the VM)'
}
not_self_activated() { ! self_activated "$@"; }
nothing_self_activated() {  # NODE KEY
    ! self_activated "$1" "$2" && ! gate_opened_by_vm "$1"
}
has_no_gate() { [ -z "$(node_gates "$1")" ]; }
# agent_has_no_gates NODE : NODE's agent holds no gate (livebind-ctl
# status), not even one on an interface that went away.
agent_has_no_gates() {
    ovs-appctl -t "$(bed_node_dir "$1")/agent.ctl" status |
        grep -q '^gates closed: 0$'
}

# ---- The TCP canary and VMI migration states, shared by the migration
# tests.  The canary's server writes $LB_BED_DIR/canary.json(.live).

canary_received() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["received"])' \
        "$LB_BED_DIR/canary.json.live" 2>/dev/null || echo 0
}
canary_flowing() {  # the count grows within 0.3 s
    local a b
    a=$(canary_received); sleep 0.3; b=$(canary_received)
    [ "$b" -gt "$a" ]
}
canary_field() {  # FIELD of the final summary
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$LB_BED_DIR/canary.json" "$1"
}
mig_state() {  # UID SOURCE TARGET SOURCE_POD TARGET_POD [EXTRA]
    echo "{\"migrationUid\":\"$1\",\"sourceNode\":\"$2\",\"targetNode\":\"$3\",
           \"sourcePod\":\"$4\",\"targetPod\":\"$5\",\"mode\":\"PreCopy\"${6-}}"
}
