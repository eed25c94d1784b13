#!/bin/bash
# System test of a live migration over IPv6: the cluster harness (three
# nodes, agents in Kubernetes mode, the CNI plugin) on a dual-stack switch
# or, with LB_V6_ONLY=1, an IPv6-only one.  A TCP canary streams to the VM
# over IPv6 while it migrates node1 -> node2; the VM announces itself with
# an unsolicited NA for its address alone (no RARP, no GARP).  Before
# activation the target pod sends no NA and hears no NS for the VM's
# address (captured); after it, one connection and nothing lost.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbm6$$-}
export LB_IPV6=1                # bed.sh: keep IPv6 on in the namespaces.
. "$srcdir/tests/system/cluster.sh"
command -v tcpdump >/dev/null || { echo "SKIP: no tcpdump"; exit 77; }

LB_SWITCH_PREFIX6=fd00:30::/64
LB_SWITCH_GATEWAY6=fd00:30::1
if [ "${LB_V6_ONLY-}" = 1 ]; then
    cluster_up "" ""
else
    cluster_up 10.30.0.0/16 10.30.0.1
fi
dir=$LB_BED_DIR

# port_key VM : the key of the VM's LogicalPort, as the agent wrote it.
port_key() {
    kapi GET "/apis/livebind.io/v1alpha1/namespaces/default/logicalports/$1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["tunnelKey"])'
}
result_has() {  # POD PYTHON-EXPR over the result r
    python3 -c "import json,sys; r = json.load(sys.stdin); sys.exit(0 if ($2) else 1)" \
        < "$dir/add.$1"
}

check "client pod on node3" add_pod node3 client
vmi_uid=$(vmi_create vm1 node1)
check "VM's pod on node1" add_pod node1 launcher-1 "$(launcher_meta vm1 "$vmi_uid")"
vm_ip6=$(ip6_of launcher-1)
vm_mac=$(mac_of launcher-1)
key=$(port_key vm1)
echo "VM vm1: $vm_ip6 $vm_mac, port key $(printf '%#x' "$key")"
check "the CNI result has an IPv6 address with gateway and default route" \
    result_has launcher-1 \
    '[i for i in r["ips"] if ":" in i["address"] and i["address"].endswith("/64") and i.get("gateway") == "fd00:30::1"] and {"dst": "::/0", "gw": "fd00:30::1"} in r.get("routes", [])'
if [ "${LB_V6_ONLY-}" = 1 ]; then
    check "IPv6-only: the result has no IPv4 address" \
        result_has launcher-1 'all(":" in i["address"] for i in r["ips"])'
else
    check "dual-stack: the result has an IPv4 address too" \
        result_has launcher-1 'any(":" not in i["address"] for i in r["ips"])'
fi
check "the VM's IPv6 address is the prefix + EUI-64 of its MAC" \
    python3 -c 'import ipaddress, sys
m = [int(x, 16) for x in sys.argv[1].split(":")]
want = ipaddress.IPv6Address(bytes([0xfd, 0, 0, 0x30, 0, 0, 0, 0, m[0] ^ 2])
                             + bytes(m[1:3]) + b"\xff\xfe" + bytes(m[3:]))
sys.exit(0 if ipaddress.IPv6Address(sys.argv[2]) == want else 1)' \
    "$vm_mac" "$vm_ip6"

if [ "${LB_V6_ONLY-}" = 1 ]; then
    guest_create guest "$vm_mac" "$vm_ip6/64"
else
    guest_create guest "$vm_mac" "$(ip_of launcher-1)/16"
    ip -n "${LB_PREFIX}guest" -6 addr add "$vm_ip6/64" dev br0 nodad
fi
vm_pod_bridge launcher-1 guest up-1
ip -n "${LB_PREFIX}guest" link set up-1 up
check "client reaches the VM over IPv6" \
    bed_wait_until 10 bed_exec client ping -6 -c 1 -W 1 "$vm_ip6"

bed_bg guest "$dir/canary-server.log" python3 \
    "$srcdir/tests/system/canary.py" server 7000 "$dir/canary.json"
server_pid=$BED_BG_PID
bed_wait_until 5 bed_exec guest sh -c 'ss -ltn | grep -q :7000'
bed_bg client "$dir/canary-client.log" python3 \
    "$srcdir/tests/system/canary.py" client "$vm_ip6" 7000 10
client_pid=$BED_BG_PID
check "canary flows over IPv6" bed_wait_until 5 canary_flowing

uid1=$(vmim_create mig1 vm1)
vmim_phase mig1 Scheduling
check "target pod on node2" add_pod node2 launcher-2 \
    "$(launcher_meta vm1 "$vmi_uid" "$uid1" mig1)"
check "target pod reuses the VM's IPv6 address" \
    test "$(ip6_of launcher-2)" = "$vm_ip6"
check "target pod reuses the VM's MAC" test "$(mac_of launcher-2)" = "$vm_mac"
vm_pod_bridge launcher-2 guest up-2
vmim_phase mig1 Scheduled
vmim_phase mig1 PreparingTarget
vmi_migration_state vm1 "$(mig_state "$uid1" node1 node2 launcher-1 launcher-2)"
check "mirror flows on every node" \
    bed_wait_until 5 on_all_nodes has_migration_flows "$key"
check "the target copy on node2 is blocked" port_blocked node2 "$key"
check "livebind-ctl migrations shows the VM's IPv6 address" \
    sh -c "ovs-appctl -t $(bed_node_dir node2)/agent.ctl migrations | grep -q '$vm_ip6'"
agent_ctl node2 migrations | sed 's/^/    /'

# Before activation: the client forgets the VM and solicits it again, and
# probes its address as DAD would; the target pod neither hears an NS nor
# sends an NA (its eth0, bridged to the guest's still-down uplink).
bed_bg launcher-2 "$dir/target.cap" tcpdump -l -n -i eth0 \
    "icmp6 and (ip6[40] == 135 or ip6[40] == 136)"
cap_pid=$BED_BG_PID
sleep 1
bed_exec client ip -6 neigh flush dev eth0
bed_exec client ping -6 -c 2 -i 0.2 -W 2 "$vm_ip6" >/dev/null || true
bed_exec client python3 "$srcdir/tests/system/nd.py" eth0 \
    "$(mac_of client)" dad "$vm_ip6"
sleep 0.5
kill "$cap_pid"; wait "$cap_pid" 2>/dev/null || true
sed 's/^/    target: /' "$dir/target.cap"
# (The pod's own new interfaces may probe their own link-local addresses:
# those are not the VM's, and the blocked copy's flows drop them anyway.)
check "before activation the target pod hears no NS for the VM's address and sends no NA for it" \
    sh -c "! grep -q -e 'who has $vm_ip6' -e 'tgt is $vm_ip6' '$dir/target.cap'"
check "... while the client's solicitations did go out (answered, not lost)" \
    bed_exec client sh -c "ip -6 neigh show $vm_ip6 | grep -q $vm_mac"
check "the canary still flows (to the source)" canary_flowing

vmim_phase mig1 TargetReady
vmim_phase mig1 Running

# Cutover: the VM announces itself with one unsolicited NA for its address.
cutover_and_announce guest "$vm_mac" up-1 up-2 --rounds 0 --na "$vm_ip6" \
    --na-flags O
check "the NA alone unblocked the port on node2" \
    bed_wait_until 5 port_not_blocked node2 "$key"
check "... and node2 says so (cause NA)" bed_wait_until 5 sh -c \
    "ovs-appctl -t $(bed_node_dir node2)/agent.ctl migrations |
     grep -q 'migration $uid1: NA on ofport'"
check "canary flows after the cutover" bed_wait_until 5 canary_flowing

vmi_migration_state vm1 "$(mig_state "$uid1" node1 node2 launcher-1 launcher-2 \
    ",\"completed\":true,\"targetNodeDomainReadyTimestamp\":\"2026-11-22T00:00:00Z\"")" node2
vmim_phase mig1 Succeeded
pod_phase launcher-1 Succeeded
check "mirroring stops when the migration completes" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
check "canary flows after completion" bed_wait_until 5 canary_flowing

kill "$client_pid"
sleep 0.3
kill "$server_pid"
bed_wait_until 5 test -s "$dir/canary.json"
echo "canary: $(cat "$dir/canary.json")"
check "one TCP connection over IPv6 throughout (no reconnect)" \
    test "$(canary_field connections)" = 1
check "no canary message lost" test "$(canary_field lost)" = 0

report
