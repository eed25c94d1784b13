#!/bin/bash
# System test of live migration: three nodes, a real Kubernetes control
# plane (etcd, kube-apiserver), KubeVirt emulated, the CNI plugin
# invoked as a runtime would, and a TCP canary streaming to the VM through
# three migrations (one that succeeds, one that fails, one cancelled).
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbm$$-}
. "$srcdir/tests/system/cluster.sh"

cluster_up 10.30.0.0/16 10.30.0.1
dir=$LB_BED_DIR

# The client on node3, the VM on node1.
check "client pod on node3" add_pod node3 client
vmi_uid=$(vmi_create vm1 node1)
check "VM's pod on node1" add_pod node1 launcher-1 "$(launcher_meta vm1 "$vmi_uid")"
vm_ip=$(ip_of launcher-1)
vm_mac=$(mac_of launcher-1)
key=$(key_of launcher-1)
echo "VM vm1: $vm_ip $vm_mac, port key $(printf '%#x' "$key")"
guest_create guest "$vm_mac" "$vm_ip/16"
vm_pod_bridge launcher-1 guest up-1
ip -n "${LB_PREFIX}guest" link set up-1 up
check "client reaches the VM" \
    bed_exec client ping -c 3 -i 0.2 -W 2 "$vm_ip"

# The canary: sequence-numbered TCP messages every 10 ms, client -> VM.
bed_bg guest "$dir/canary-server.log" python3 \
    "$srcdir/tests/system/canary.py" server 7000 "$dir/canary.json"
server_pid=$BED_BG_PID
bed_wait_until 5 bed_exec guest sh -c 'ss -ltn | grep -q :7000'
bed_bg client "$dir/canary-client.log" python3 \
    "$srcdir/tests/system/canary.py" client "$vm_ip" 7000 10
client_pid=$BED_BG_PID
check "canary flows" bed_wait_until 5 canary_flowing

# target_pod NODE POD VMIM VMIM_UID UPLINK : the migration target pod, as
# virt-controller creates it, plumbed by CNI and bridged to the guest.
target_pod() {
    add_pod "$1" "$2" "$(launcher_meta vm1 "$vmi_uid" "$4" "$3")" &&
        vm_pod_bridge "$2" guest "$5"
}

# ---- Migration 1: node1 -> node2, succeeds.
uid1=$(vmim_create mig1 vm1)
vmim_phase mig1 Scheduling
check "migration 1: target pod on node2" \
    target_pod node2 launcher-2 mig1 "$uid1" up-2
check "target pod reuses the VM's IP" test "$(ip_of launcher-2)" = "$vm_ip"
check "target pod reuses the VM's MAC" test "$(mac_of launcher-2)" = "$vm_mac"
vmim_phase mig1 Scheduled
vmim_phase mig1 PreparingTarget
vmi_migration_state vm1 "$(mig_state "$uid1" node1 node2 launcher-1 launcher-2)"
check "mirror flows on every node" \
    bed_wait_until 5 on_all_nodes has_migration_flows "$key"
check "the target copy on node2 is blocked" port_blocked node2 "$key"
check "... and behind its gate (tc), the flows delivering to it" \
    bed_wait_until 5 has_gate node2
for i in $(node_gates node2); do
    echo "node2's gate: tc filter show dev $i egress"
    bed_exec node2 tc filter show dev "$i" egress | sed 's/^/    /'
done
check "node3 mirrors to node1 and node2" \
    grep -q 'output:[0-9]*,output:[0-9]*' <<<"$(migration_flows node3 "$key")"

# Spoofed announcements change nothing.
bed_exec client python3 "$srcdir/tests/system/announce.py" eth0 "$vm_mac" \
    --rounds 0,20 || true
bed_exec launcher-2 python3 "$srcdir/tests/system/announce.py" eth0 \
    0a:58:de:ad:be:ef --rounds 0,20 || true
sleep 0.3
check "a RARP from another pod, or with a foreign MAC, activates nothing" \
    port_blocked node2 "$key"
check "... neither in the switch nor at the gate" \
    nothing_self_activated node2 "$key"

# Only an unsolicited neighbour advertisement for the VM's own address
# activates: not one for another address, not a solicited one, though
# both pass the switch's match (ICMPv6 type 136 from the VM's MAC).
vm_lla=$(python3 -c 'import ipaddress, sys
m = [int(x, 16) for x in sys.argv[1].split(":")]
print(ipaddress.IPv6Address(bytes([0xfe, 0x80] + [0] * 6 + [m[0] ^ 2]
                                  + m[1:3] + [0xff, 0xfe] + m[3:])))' "$vm_mac")
bed_exec launcher-2 python3 "$srcdir/tests/system/announce.py" eth0 \
    "$vm_mac" --rounds 0,20 --na fd00::99 --na-flags O || true
bed_exec launcher-2 python3 "$srcdir/tests/system/announce.py" eth0 \
    "$vm_mac" --rounds 0,20 --na "$vm_lla" --na-flags SO || true
sleep 0.3
check "an NA from the VM's MAC, solicited or for another address, activates nothing" \
    port_blocked node2 "$key"
check "... neither in the switch nor at the gate" \
    nothing_self_activated node2 "$key"

# The target's agent, killed while mirroring, comes back with the same
# flows, sending no flow-mod.
before=$(bed_dump_flows node2 | md5sum)
agent_stop node2
agent_k8s_start node2
agent_wait_synced node2
check "restarted agent (node2, mirroring) is synced" agent_wait_installed node2
check "restarted agent sent zero flow-mods" agent_flow_mods_equal node2 0
check "restarted agent sent zero meter-mods" agent_meter_mods_equal node2 0
check "node2's flows are unchanged by the restart" \
    test "$(bed_dump_flows node2 | md5sum)" = "$before"

vmim_phase mig1 TargetReady
vmim_phase mig1 Running

# Cutover: the VM resumes on node2 and QEMU announces it.  node2's agent is
# stopped meanwhile: the VM's RARP opens the gate in the kernel and
# activates the copy in the switch by itself (port-gate.h, pipeline.c).
kill -STOP "$(agent_pid node2)"
cutover_and_announce guest "$vm_mac" up-1 up-2
check "with node2's agent stopped, the VM's RARP activated its copy in the switch" \
    self_activated node2 "$key"
check "... and the canary flows through node2" bed_wait_until 5 canary_flowing
echo "node2, its agent stopped, after the VM's RARP:"
bed_dump_flows node2 | grep -E "table=1[05], .*reg14=$(printf '%#x' "$key")" |
    sed 's/^/    /'
for i in $(node_gates node2); do
    for hook in egress ingress; do
        echo "    tc filter show dev $i $hook"
        bed_exec node2 tc filter show dev "$i" "$hook" | sed 's/^/    /'
    done
done
kill -CONT "$(agent_pid node2)"
# The RARP's packet-in came from the flow that learned the activation: the
# agent sends no bundle for it then, and takes the copy over in its flows
# once the API server shows the activation (or 250 ms later).
check "the agent knew that the switch had unblocked the copy itself" \
    bed_wait_until 5 grep -Eq "unblocked in the switch by the VM's RARP on ofport [0-9]+ itself" \
    "$(bed_node_dir node2)/agent.log"
check "the agent then unblocked the port on node2" \
    bed_wait_until 5 port_not_blocked node2 "$key"
check "... and the switch forgot the learned activation with the flows" \
    bed_wait_until 5 not_self_activated node2 "$key"
check "... and removed the gate, which had opened on the VM's RARP" \
    bed_wait_until 5 grep -q "gate removed (it had opened on the VM's announcement)" \
    "$(bed_node_dir node2)/agent.log"
check "... and opened its gate" bed_wait_until 5 has_no_gate node2
agent_ctl node2 migrations | sed 's/^/    /'
port_status_has() {  # PATTERN (in the compacted JSON)
    kapi GET /apis/livebind.io/v1alpha1/namespaces/default/logicalports/vm1 |
        tr -d ' \n' | grep -q -- "$1"
}
check "the activation is recorded in the API" \
    bed_wait_until 5 port_status_has '"activation":{'
check "canary flows after the cutover" bed_wait_until 5 canary_flowing

# Restarted once activated: the activation comes back from the API.
before=$(bed_dump_flows node2 | md5sum)
agent_stop node2
agent_k8s_start node2
agent_wait_synced node2
check "restarted agent (node2, activated) is synced" agent_wait_installed node2
check "restarted agent (activated) sent zero flow-mods" \
    agent_flow_mods_equal node2 0
check "node2's flows are unchanged by the restart (still unblocked)" \
    test "$(bed_dump_flows node2 | md5sum)" = "$before"

# Completion.
vmi_migration_state vm1 "$(mig_state "$uid1" node1 node2 launcher-1 launcher-2 \
    ",\"completed\":true,\"targetNodeDomainReadyTimestamp\":\"2026-11-22T00:00:00Z\"")" node2
vmim_phase mig1 Succeeded
pod_phase launcher-1 Succeeded
check "mirroring stops when the migration completes" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
sends_to_one() {  # NODE: its output flow for the VM has one tunnel
    bed_dump_flows "$1" | grep "reg15=$(printf '%#x' "$key"),metadata" |
        grep -v reg14 | grep -q 'tun_id,output:[0-9]*$'
}
check "the port is bound to node2 alone (node3 sends only to node2)" \
    bed_wait_until 5 sends_to_one node3
check "the target pod is the active owner" bed_wait_until 5 \
    port_status_has '"activeOwner":{[^}]*"pod":"launcher-2"'
check "canary flows after completion" bed_wait_until 5 canary_flowing
cni node1 DEL launcher-1 >/dev/null || true
k8s_delete /api/v1/namespaces/default/pods/launcher-1

# ---- Migration 2: back to node1, fails: back to node2 alone.
uid2=$(vmim_create mig2 vm1)
vmim_phase mig2 Scheduling
check "migration 2 (back): target pod on node1" \
    target_pod node1 launcher-3 mig2 "$uid2" up-3
check "migration 2: mirror flows on every node" \
    bed_wait_until 5 on_all_nodes has_migration_flows "$key"
check "migration 2: node1's copy is blocked" port_blocked node1 "$key"
vmim_phase mig2 Failed
cni node1 DEL launcher-3 >/dev/null || true
k8s_delete /api/v1/namespaces/default/pods/launcher-3
check "failed migration: mirror flows gone everywhere" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
check "canary flows after the failed migration" bed_wait_until 5 canary_flowing

# ---- Migration 3: to node3, cancelled (VMIM deleted before success).
uid3=$(vmim_create mig3 vm1)
vmim_phase mig3 Scheduling
check "migration 3: target pod on node3" \
    target_pod node3 launcher-4 mig3 "$uid3" up-4
check "migration 3: mirror flows on every node" \
    bed_wait_until 5 on_all_nodes has_migration_flows "$key"
k8s_delete "$KV/virtualmachineinstancemigrations/mig3"
check "cancelled migration: mirror flows gone everywhere" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
check "cancelled migration: node3 delivers nothing to its copy" \
    port_not_blocked node3 "$key"
# The switch's datapath may still deliver a few frames to the copy after
# its flow table stopped (cached flows live until revalidated): the copy,
# whose VM never resumed, stays behind its gate until its pod goes.
check "cancelled migration: node3's copy keeps its gate while its pod stays" \
    has_gate node3
check "canary flows after the cancelled migration" \
    bed_wait_until 5 canary_flowing

# KubeVirt deletes the cancelled migration's target pod.
cni node3 DEL launcher-4 >/dev/null || true
k8s_delete /api/v1/namespaces/default/pods/launcher-4
check "cancelled migration: the gate goes with the target pod" \
    bed_wait_until 5 has_no_gate node3
check "cancelled migration: node3's agent forgot the gate" \
    bed_wait_until 5 agent_has_no_gates node3

# ---- Migration 4: to node3, succeeds; the VM announces itself with an
# unsolicited IPv6 neighbour advertisement for its link-local address
# instead of RARP, which activates the copy there just the same.
uid4=$(vmim_create mig4 vm1)
vmim_phase mig4 Scheduling
check "migration 4: target pod on node3" \
    target_pod node3 launcher-5 mig4 "$uid4" up-5
check "migration 4: node3's copy is blocked" \
    bed_wait_until 5 port_blocked node3 "$key"
vmim_phase mig4 Running
cutover_and_announce guest "$vm_mac" up-2 up-5 --na "$vm_lla" --na-flags O
check "the VM's unsolicited NA unblocked the port on node3" \
    bed_wait_until 5 port_not_blocked node3 "$key"
check "... and node3 says so (cause NA)" bed_wait_until 5 sh -c \
    "ovs-appctl -t $(bed_node_dir node3)/agent.ctl migrations |
     grep -q 'migration $uid4: NA on ofport'"
check "canary flows after the NA cutover" bed_wait_until 5 canary_flowing
vmi_migration_state vm1 "$(mig_state "$uid4" node2 node3 launcher-2 launcher-5 \
    ",\"completed\":true,\"targetNodeDomainReadyTimestamp\":\"2026-11-22T01:00:00Z\"")" node3
vmim_phase mig4 Succeeded
pod_phase launcher-2 Succeeded
check "migration 4 complete: mirror flows gone everywhere" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
check "canary flows after migration 4" bed_wait_until 5 canary_flowing

# The canary's verdict.
kill "$client_pid"
sleep 0.3
kill "$server_pid"
bed_wait_until 5 test -s "$dir/canary.json"
echo "canary: $(cat "$dir/canary.json")"
check "one TCP connection throughout (no reconnect)" \
    test "$(canary_field connections)" = 1
check "no canary message lost" test "$(canary_field lost)" = 0

# Every API request the agents made is one deploy/rbac.yaml grants: the
# real RBAC authorizer refused none (report checks the audit log).
report
