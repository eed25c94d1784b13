# vms.sh - VMs that migrate back and forth between node1 and node2, each
# with a TCP canary from a client pod on node3, for the fault tests and the
# soak.  Source after cluster.sh; call vms_client first.
#
#   vms_client                  the client pod "client" on node3
#   vm_new VM                   VMI, launcher pod on node1, guest; reachable
#   vm_canary VM PORT           canary server in the guest, client on node3
#   vm_migrate_prepare VM       VMIM, target pod on the other node, mirror
#   vm_migrate_cutover VM       the VM resumes there and announces itself
#   vm_migrate_complete VM      migrationState completed, source pod gone
#   vm_migrate VM               the three
#   vm_converged VM             no migration flows, owner right (see below)
#   canary_window VM            start a new outage window (canary.py)
#   canary_gap VM               the longest silence (ms) of the window
#   canary_verdict VM           one connection, nothing lost
#
# State is kept in the associative arrays below, indexed by VM name.

# Agents under valgrind (LB_VALGRIND) take seconds to start and sync.
_vms_slow=1
[ -z "${LB_VALGRIND-}" ] || _vms_slow=6
# Tries of a CNI command that failed, 0.5 s apart, as a runtime retries
# it: an agent SIGKILLed by a test is back within them; under valgrind, on
# the loaded machine, that took more than the 15 s of 30 tries.
_vms_tries=5
[ -z "${LB_VALGRIND-}" ] || _vms_tries=120

declare -A VM_UID VM_NODE VM_POD VM_UP VM_SEQ VM_MIG VM_MIGUID VM_TPOD \
    VM_TNODE VM_TUP VM_SERVER VM_CLIENT VM_KEY

vms_client() {
    add_pod node3 client
}

_other_node() { [ "$1" = node1 ] && echo node2 || echo node1; }

# vm_new VM : the VM runs on node1 behind its launcher pod.
vm_new() {
    local vm=$1
    VM_UID[$vm]=$(vmi_create "$vm" node1) || return 1
    VM_SEQ[$vm]=0
    VM_NODE[$vm]=node1
    VM_POD[$vm]=$vm-l0
    VM_UP[$vm]=up0
    add_pod node1 "${VM_POD[$vm]}" "$(launcher_meta "$vm" "${VM_UID[$vm]}")" \
        || return 1
    VM_KEY[$vm]=$(key_of "${VM_POD[$vm]}")
    guest_create "g-$vm" "$(mac_of "${VM_POD[$vm]}")" \
        "$(ip_of "${VM_POD[$vm]}")/16"
    vm_pod_bridge "${VM_POD[$vm]}" "g-$vm" up0
    ip -n "${LB_PREFIX}g-$vm" link set up0 up
    bed_wait_until 10 vm_reachable "$vm"
}

vm_ip() { ip_of "$1-l0"; }
vm_mac() { mac_of "$1-l0"; }

vm_reachable() {
    bed_exec client ping -c 1 -W 1 "$(vm_ip "$1")" >/dev/null
}

# vm_canary VM PORT : sequence-numbered TCP messages every 10 ms, client ->
# VM, over one connection.
vm_canary() {
    local vm=$1 port=$2 dir=$LB_BED_DIR
    bed_bg "g-$vm" "$dir/canary-$vm.log" python3 \
        "$srcdir/tests/system/canary.py" server "$port" "$dir/canary-$vm.json"
    VM_SERVER[$vm]=$BED_BG_PID
    bed_wait_until 5 bed_exec "g-$vm" sh -c "ss -ltn | grep -q :$port" \
        || return 1
    bed_bg client "$dir/canary-client-$vm.log" python3 \
        "$srcdir/tests/system/canary.py" client "$(vm_ip "$vm")" "$port" 10
    VM_CLIENT[$vm]=$BED_BG_PID
    bed_wait_until 10 canary_flowing "$vm"
}

_canary_field() {  # VM FIELD [FILE-SUFFIX]
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$LB_BED_DIR/canary-$1.json${3-.live}" "$2" 2>/dev/null || echo 0
}
canary_received() { _canary_field "$1" received; }
canary_flowing() {  # VM : the count grows within half a second
    local a b
    a=$(canary_received "$1"); sleep 0.5; b=$(canary_received "$1")
    [ "$b" -gt "$a" ]
}
canary_window() {
    kill -USR1 "${VM_SERVER[$1]}"
    sleep 0.6       # The live summary is rewritten at least every 0.5 s.
}
canary_gap() { _canary_field "$1" window_gap_ms; }

# canary_verdict VM : stops the canary; one connection, nothing lost.
canary_verdict() {
    local vm=$1
    kill "${VM_CLIENT[$vm]}"
    sleep 0.3
    kill "${VM_SERVER[$vm]}"
    bed_wait_until 5 test -s "$LB_BED_DIR/canary-$vm.json" || return 1
    echo "canary $vm: $(cat "$LB_BED_DIR/canary-$vm.json")"
    [ "$(_canary_field "$vm" connections "")" = 1 ] &&
        [ "$(_canary_field "$vm" lost "")" = 0 ]
}

_mig_state() {  # VM [EXTRA]
    local vm=$1
    echo "{\"migrationUid\":\"${VM_MIGUID[$vm]}\",
           \"sourceNode\":\"${VM_NODE[$vm]}\",
           \"targetNode\":\"${VM_TNODE[$vm]}\",
           \"sourcePod\":\"${VM_POD[$vm]}\",\"targetPod\":\"${VM_TPOD[$vm]}\",
           \"mode\":\"PreCopy\"${2-}}"
}

# vm_migrate_prepare VM : up to mirroring: the VMIM, the target pod on the
# other node (CNI ADD), the VMI's migrationState; returns once every node
# mirrors and the target copy is blocked.
vm_migrate_prepare() {
    local vm=$1 seq
    seq=$((VM_SEQ[$vm] + 1))
    VM_SEQ[$vm]=$seq
    VM_MIG[$vm]=$vm-m$seq
    VM_TNODE[$vm]=$(_other_node "${VM_NODE[$vm]}")
    VM_TPOD[$vm]=$vm-l$seq
    VM_TUP[$vm]=up$seq
    VM_MIGUID[$vm]=$(vmim_create "${VM_MIG[$vm]}" "$vm") || return 1
    vmim_phase "${VM_MIG[$vm]}" Scheduling
    vm_target_add "$vm" || return 1
    vm_pod_bridge "${VM_TPOD[$vm]}" "g-$vm" "${VM_TUP[$vm]}"
    vmim_phase "${VM_MIG[$vm]}" Scheduled
    vmim_phase "${VM_MIG[$vm]}" PreparingTarget
    # A new migration's state replaces the last one's (a merge patch
    # would keep its "completed").
    vmi_migration_state "$vm" "$(_mig_state "$vm" \
        ',"completed":false,"targetNodeDomainReadyTimestamp":null')"
    bed_wait_until $((10 * _vms_slow)) _vm_mirrored "$vm"
}

# vm_target_add VM : the target pod object and its CNI ADD, retried
# ($_vms_tries times) as a runtime retries a failed sandbox; or
# $VM_TARGET_ADD VM when set (a test's own way).
vm_target_add() {
    local vm=$1
    if [ -n "${VM_TARGET_ADD-}" ]; then
        "$VM_TARGET_ADD" "$vm"
        return
    fi
    add_pod "${VM_TNODE[$vm]}" "${VM_TPOD[$vm]}" \
        "$(launcher_meta "$vm" "${VM_UID[$vm]}" "${VM_MIGUID[$vm]}" \
           "${VM_MIG[$vm]}")" && return 0
    _vms_retry "${VM_TNODE[$vm]}" ADD "${VM_TPOD[$vm]}"
}

# _vms_retry NODE COMMAND POD : cni_retry, up to $_vms_tries times.
_vms_retry() {
    local try
    for try in $(seq "$_vms_tries"); do
        sleep 0.5
        cni_retry "$@" && return 0
    done
    return 1
}

# cni_retry NODE COMMAND POD : the command again, as the runtime retries
# it; an ADD's result goes where add_pod puts it.
cni_retry() {
    if [ "$2" = ADD ]; then
        cni "$1" ADD "$3" > "$LB_BED_DIR/add.$3"
    else
        cni "$@" >/dev/null
    fi
}

_vm_mirrored() {
    on_all_nodes has_migration_flows "${VM_KEY[$1]}" &&
        port_blocked "${VM_TNODE[$1]}" "${VM_KEY[$1]}"
}

# vm_migrate_cutover VM : the VM resumes on the target, announces itself
# (QEMU's RARPs); returns once the target's copy is unblocked.
vm_migrate_cutover() {
    local vm=$1
    vmim_phase "${VM_MIG[$vm]}" TargetReady
    vmim_phase "${VM_MIG[$vm]}" Running
    cutover_and_announce "g-$vm" "$(vm_mac "$vm")" "${VM_UP[$vm]}" \
        "${VM_TUP[$vm]}"
    bed_wait_until $((5 * _vms_slow)) port_not_blocked "${VM_TNODE[$vm]}" \
        "${VM_KEY[$vm]}"
}

# vm_migrate_complete VM : KubeVirt's completion, the source pod's DEL; the
# target becomes the VM's node and pod.
vm_migrate_complete() {
    local vm=$1
    vmi_migration_state "$vm" "$(_mig_state "$vm" \
        ",\"completed\":true,\"targetNodeDomainReadyTimestamp\":\"2026-12-01T00:00:00Z\"")" \
        "${VM_TNODE[$vm]}"
    vmim_phase "${VM_MIG[$vm]}" Succeeded
    pod_phase "${VM_POD[$vm]}" Succeeded
    cni "${VM_NODE[$vm]}" DEL "${VM_POD[$vm]}" >/dev/null ||
        _vms_retry "${VM_NODE[$vm]}" DEL "${VM_POD[$vm]}" || return 1
    k8s_delete "/api/v1/namespaces/default/pods/${VM_POD[$vm]}" || return 1
    # The source's tap and uplink go with its QEMU.
    ip -n "${LB_PREFIX}g-$vm" link del "${VM_UP[$vm]}" 2>/dev/null || true
    ip netns del "${LB_PREFIX}${VM_POD[$vm]}" 2>/dev/null || true
    VM_NODE[$vm]=${VM_TNODE[$vm]}
    VM_POD[$vm]=${VM_TPOD[$vm]}
    VM_UP[$vm]=${VM_TUP[$vm]}
    # KubeVirt garbage-collects finished migrations, keeping the last 5 of
    # each VMI.
    local old=$((VM_SEQ[$vm] - 5))
    [ "$old" -lt 1 ] || kapi_ok DELETE \
        "$KV/virtualmachineinstancemigrations/$vm-m$old" >/dev/null || true
}

vm_migrate() {
    vm_migrate_prepare "$1" && vm_migrate_cutover "$1" &&
        vm_migrate_complete "$1"
}

_port_status() {  # VM
    kapi GET "/apis/livebind.io/v1alpha1/namespaces/default/logicalports/$1" |
        tr -d ' \n'
}

# vm_owner_right VM : the port's active owner is the VM's current pod on
# its current node, and it has no alternate owner.
vm_owner_right() {
    local s; s=$(_port_status "$1")
    grep -q "\"activeOwner\":{[^}]*\"pod\":\"${VM_POD[$1]}\"" <<<"$s" &&
        grep -q "\"activeOwner\":{[^}]*\"node\":\"${VM_NODE[$1]}\"" <<<"$s" &&
        ! grep -q '"alternateOwner":{' <<<"$s" ||
        { echo "owner of $1 is not ${VM_POD[$1]}@${VM_NODE[$1]}: $s"; return 1; }
}

# vm_converged VM : no node has migration flows for the VM's port, and its
# owner is right.
vm_converged() {
    on_no_node has_migration_flows "${VM_KEY[$1]}" && vm_owner_right "$1"
}

# no_migration_cookie NODE : NODE has no flow with the migration bit
# (lib/cookie.h's LB_COOKIE_MIGRATION) in its cookie, of any port.
no_migration_cookie() {
    local f; f=$(bed_dump_flows "$1" cookie=0x0800000000000000/0x0800000000000000)
    [ -z "$f" ] || { echo "$f"; return 1; }
}

# flows_as_fresh NODE [AGENT-ARGS...] : NODE's switch holds exactly the
# flows a freshly started agent (with AGENT-ARGS) installs: the agent is
# restarted, installs with zero flow-mods, and the dump is unchanged.
flows_as_fresh() {
    local node=$1 before after
    shift
    before=$(bed_dump_flows "$node")
    agent_stop "$node"
    agent_k8s_start "$node" "$@" || return 1
    agent_wait_synced "$node" 30 || return 1
    agent_wait_installed "$node" 30 || return 1
    after=$(bed_dump_flows "$node")
    agent_flow_mods_equal "$node" 0 || {
        diff <(echo "$before") <(echo "$after") | head -20
        return 1
    }
    [ "$before" = "$after" ] ||
        { diff <(echo "$before") <(echo "$after") | head -20; return 1; }
}
