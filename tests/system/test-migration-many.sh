#!/bin/bash
# System test: several VMs migrate at once, from node1 to node2, while a
# client on node3 keeps reaching each of them.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbmm$$-}
VMS=${VMS:-4}
. "$srcdir/tests/system/cluster.sh"

cluster_up 10.50.0.0/16 10.50.0.1
dir=$LB_BED_DIR

check "client pod on node3" add_pod node3 client
declare -A vmi_uid vmim_uid
for i in $(seq "$VMS"); do
    vmi_uid[$i]=$(vmi_create "vm$i" node1)
    add_pod node1 "src$i" "$(launcher_meta "vm$i" "${vmi_uid[$i]}")"
    guest_create "g$i" "$(mac_of "src$i")" "$(ip_of "src$i")/16"
    vm_pod_bridge "src$i" "g$i" up-a
    ip -n "${LB_PREFIX}g$i" link set up-a up
done
reach_all() {
    local i
    for i in $(seq "$VMS"); do
        bed_exec client ping -c 1 -W 2 "$(ip_of "src$i")" >/dev/null || return 1
    done
}
check "the client reaches all $VMS VMs on node1" reach_all

# All migrations at once: VMIMs, then the target pods' ADDs in parallel.
for i in $(seq "$VMS"); do
    vmim_uid[$i]=$(vmim_create "mig$i" "vm$i")
    vmim_phase "mig$i" Scheduling
done
pids=()
for i in $(seq "$VMS"); do
    add_pod node2 "dst$i" \
        "$(launcher_meta "vm$i" "${vmi_uid[$i]}" "${vmim_uid[$i]}" "mig$i")" &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
check "$VMS target pods added at once" test $rc = 0
for i in $(seq "$VMS"); do
    vm_pod_bridge "dst$i" "g$i" up-b
    vmim_phase "mig$i" Running
done
all_mirrored() {
    local i
    for i in $(seq "$VMS"); do
        on_all_nodes has_migration_flows "$(key_of "src$i")" || return 1
        port_blocked node2 "$(key_of "src$i")" || return 1
    done
}
check "every VM's port is mirrored, and blocked on node2" \
    bed_wait_until 10 all_mirrored
check "the client still reaches all VMs (through node1)" reach_all

# All cut over at once.
pids=()
for i in $(seq "$VMS"); do
    cutover_and_announce "g$i" "$(mac_of "src$i")" up-a up-b &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
all_active() {
    local i
    for i in $(seq "$VMS"); do
        port_not_blocked node2 "$(key_of "src$i")" || return 1
    done
}
check "every VM's RARP unblocked its port on node2" bed_wait_until 5 all_active
check "the client reaches all VMs on node2" reach_all

for i in $(seq "$VMS"); do
    vmim_phase "mig$i" Succeeded
    pod_phase "src$i" Succeeded
done
none_mirrored() {
    local i
    for i in $(seq "$VMS"); do
        on_no_node has_migration_flows "$(key_of "src$i")" || return 1
    done
}
check "no migration flows remain once all succeeded" \
    bed_wait_until 10 none_mirrored
check "the client reaches all VMs after completion" reach_all

report
