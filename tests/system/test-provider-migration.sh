#!/bin/bash
# System test of a provider network: a VM on VLAN 100 of a physical network
# (tests/system/physnet.sh: a learning switch with 300 s ageing, each node's
# uplink a trunk port), reached from a host outside the cluster through
# live migrations there and back, a failed one and a cancelled one.  The
# switch's MAC table must never point at the target before the VM runs
# there, must point there right after, and no migration flow may be left.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbv$$-}
# Headroom on the underlay for full-size VLAN frames tunnelled while a port
# migrates: 1500 + 14 (inner Ethernet) + 8 (Geneve) + 8 (UDP) + 20 (IPv4).
export LB_UL_MTU=1600
export LB_IPV6=1                # bed.sh: the VLAN is dual-stack.
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/physnet.sh"

VLAN=100
physnet_cluster_up 100,200
dir=$LB_BED_DIR
# Under valgrind's memcheck (make check-valgrind) the agents run tens of
# times slower, so what follows an activation (the source copy blocked, the
# target's NAs) takes longer than the waits below allow, and the canary's
# gap measures valgrind: the waits are 10 times longer there, and the gap
# is only printed.
slow=1
[ -z "${LB_VALGRIND-}" ] || slow=10
# The external host and (excluded from IPAM) the router's addresses.  The
# VLAN is dual-stack: its IPv6 prefix's low addresses are the fabric's.
PREFIX6=fd00:100::
physnet_host ext "$VLAN" 02:e0:00:00:00:fa 10.100.0.250/16
ip -n "${LB_PREFIX}ext" -6 addr add "${PREFIX6}fa/64" dev eth0 nodad
physnet_switch vlan100 2 10.100.0.0/16 10.100.0.1 physnet1 "$VLAN" 1500 \
    "[\"10.100.0.1-10.100.0.9\", \"10.100.0.250\", \"${PREFIX6}1-${PREFIX6}ff\"]" \
    "${PREFIX6}/64" >/dev/null
check "br-int patched to br-phys on every node" \
    bed_wait_until 10 on_all_nodes physnet_connected physnet1

# vm_meta VM VMI_UID [VMIM_UID VMIM_NAME] : a virt-launcher pod's metadata
# that puts its NIC on the provider network.
vm_meta() {
    launcher_meta "$@" |
        sed 's|"annotations":{|"annotations":{"livebind.io/logical-switch":"vlan100",|'
}

vmi_uid=$(vmi_create vm1 node1)
check "VM's pod on node1, on the provider network" \
    add_pod node1 launcher-1 "$(vm_meta vm1 "$vmi_uid")"
vm_ip=$(ip_of launcher-1)
vm_mac=$(mac_of launcher-1)
key=$(( (2 << 24) | $(echo "$vm_ip" | awk -F. '{print $3 * 256 + $4}') ))
echo "VM vm1: $vm_ip $vm_mac, port key $(printf '%#x' "$key")"
in_vlan_subnet() {
    case $vm_ip in 10.100.*) ;; *) return 1 ;; esac
    [ "$vm_ip" != 10.100.0.250 ] && [ "${vm_ip#10.100.0.}" = "$vm_ip" ] \
        || [ "${vm_ip#10.100.0.}" -ge 10 ] 2>/dev/null
}
check "the VM's address is in the VLAN's subnet, not excluded" in_vlan_subnet
# Its IPv6 address: the prefix and the EUI-64 of its MAC.
vm_ip6=$(python3 -c 'import ipaddress, sys
m = [int(x, 16) for x in sys.argv[2].split(":")]
iid = bytes([m[0] ^ 2] + m[1:3] + [0xff, 0xfe] + m[3:])
print(ipaddress.IPv6Address(ipaddress.IPv6Address(sys.argv[1]).packed[:8] + iid))' \
    "$PREFIX6" "$vm_mac")
vm_lla6=$(python3 -c 'import ipaddress, sys
m = [int(x, 16) for x in sys.argv[1].split(":")]
print(ipaddress.IPv6Address(bytes([0xfe, 0x80] + [0] * 6 + [m[0] ^ 2] + m[1:3]
                                  + [0xff, 0xfe] + m[3:])))' "$vm_mac")
echo "VM vm1: $vm_ip6"
guest_create guest "$vm_mac" "$vm_ip/16"
ip -n "${LB_PREFIX}guest" -6 addr add "$vm_ip6/64" dev br0 nodad
ip -n "${LB_PREFIX}guest" link set br0 mtu 1500
vm_pod_bridge launcher-1 guest up-1
ip -n "${LB_PREFIX}guest" link set up-1 up

check "the external host reaches the VM on VLAN $VLAN" \
    bed_exec ext ping -c 3 -i 0.2 -W 2 "$vm_ip"
check "the VM reaches the external host" \
    bed_exec guest ping -c 2 -i 0.2 -W 2 10.100.0.250
check "the external host reaches the VM over IPv6" \
    bed_exec ext ping -6 -c 3 -i 0.2 -W 2 "$vm_ip6"
# (The VM forgets what the host's solicitations taught it, so that it must
# solicit the host, an address no port has, itself.)
ip -n "${LB_PREFIX}guest" -6 neigh flush dev br0
check "the VM reaches the external host over IPv6 (its NS went out by the uplink)" \
    bed_exec guest ping -6 -c 2 -i 0.2 -W 2 "${PREFIX6}fa"
vm_on() {  # TRUNK : the switch has the VM's MAC on that port
    test "$(physnet_mac_port "$vm_mac" "$VLAN")" = "$1"
}
check "the switch learned the VM's MAC on node1's trunk" vm_on tr-node1
check "nothing of the VM goes through tunnels (node3 sends to the uplink)" \
    eval "bed_dump_flows node3 | grep -q 'reg15=$(printf '%#x' "$key"),metadata=0x2 actions=resubmit(,45)'"
check "livebind-ctl ports shows the VM's network and VLAN" eval \
    "agent_ctl node2 ports | grep -q ' network=physnet1 vlan=100 mac=$vm_mac '"
check "a full-size frame reaches the VM (ping -s 1472, DF)" \
    bed_exec ext ping -c 2 -i 0.2 -W 2 -M do -s 1472 "$vm_ip"
# A pod on the provider network on node3: while the VM migrates it reaches
# the VM through tunnels.
check "a pod on node3 on the provider network" add_pod node3 client \
    '"annotations":{"livebind.io/logical-switch":"vlan100"}'
client_ip=$(ip_of client)

# The canary: sequence-numbered TCP messages every 10 ms, external host ->
# VM, and the switch's MAC table and the RARPs on its trunk ports, watched.
bed_bg guest "$dir/canary-server.log" python3 \
    "$srcdir/tests/system/canary.py" server 7000 "$dir/canary.json"
server_pid=$BED_BG_PID
bed_wait_until 5 bed_exec guest sh -c 'ss -ltn | grep -q :7000'
bed_bg ext "$dir/canary-client.log" python3 \
    "$srcdir/tests/system/canary.py" client "$vm_ip" 7000 10
client_pid=$BED_BG_PID
check "canary flows (external host -> VM)" bed_wait_until 5 canary_flowing
physnet_watch "$dir/watch.log" "$vm_mac" "$VLAN"
watch_pid=$BED_BG_PID
bed_wait_until 5 grep -qs tr-node1 "$dir/watch.log"

mark() { echo "$1 $EPOCHREALTIME" >> "$dir/marks"; }
# na_on MIG TRUNK ADDR... : since MIG's mark, the switch got an unsolicited
# NA from the VM's MAC for each ADDR on TRUNK.
na_on() {
    python3 - "$dir/watch.log" "$dir/marks" "$@" <<'PY'
import json, sys
log, marks, mig, trunk = sys.argv[1:5]
start = max(float(m.split()[-1]) for m in open(marks) if m.split()[0] == mig)
seen = {e["na"] for e in map(json.loads, filter(str.strip, open(log)))
        if "na" in e and e["src"] == trunk and e["t"] >= start}
sys.exit(0 if set(sys.argv[5:]) <= seen else 1)
PY
}
target_pod() {  # NODE POD VMIM VMIM_UID UPLINK
    add_pod "$1" "$2" "$(vm_meta vm1 "$vmi_uid" "$4" "$3")" &&
        vm_pod_bridge "$2" guest "$5"
}
# A new migration's state (migration.sh's mig_state EXTRA): a merge patch,
# so the previous migration's outcome is cleared explicitly.
fresh=',"completed":null,"failed":null,"targetNodeDomainReadyTimestamp":null'
hex_key=$(printf '%#x' "$key")
relays_to_target() {  # NODE : what the fabric sends it goes to a tunnel too
    bed_dump_flows "$1" |
        grep "reg14=0x80000000,reg15=$hex_key,metadata=0x2 actions=" |
        grep -q 'tun_id,output:'
}

# dump_flows WHAT : with $LB_PROVIDER_DUMP_DIR set, every node's flows
# there (docs/pipeline.md shows them).
dump_flows() {
    [ -n "${LB_PROVIDER_DUMP_DIR-}" ] || return 0
    local n
    for n in 1 2 3; do
        bed_dump_flows "node$n" > "$LB_PROVIDER_DUMP_DIR/$1.node$n"
    done
}

# migrate N VMIM SRC DST SRC_POD DST_POD SRC_UP DST_UP : a migration that
# succeeds, as KubeVirt drives it.
migrate() {
    local n=$1 mig=$2 src=$3 dst=$4 spod=$5 dpod=$6 sup=$7 dup=$8 uid
    mark "$mig $dst"
    uid=$(vmim_create "$mig" vm1)
    vmim_phase "$mig" Scheduling
    check "$mig: target pod on $dst" target_pod "$dst" "$dpod" "$mig" \
        "$uid" "$dup"
    check "$mig: the target pod has the VM's IP and MAC" test \
        "$(ip_of "$dpod") $(mac_of "$dpod")" = "$vm_ip $vm_mac"
    vmim_phase "$mig" PreparingTarget
    vmi_migration_state vm1 "$(mig_state "$uid" "$src" "$dst" "$spod" "$dpod" \
        "$fresh")"
    check "$mig: migration flows on every node" \
        bed_wait_until 5 on_all_nodes has_migration_flows "$key"
    check "$mig: the copy on $dst is blocked" port_blocked "$dst" "$key"
    check "$mig: $src relays what the fabric sends it to $dst" \
        relays_to_target "$src"
    check "$mig: full-size frames through the tunnels (client -> VM)" \
        bed_exec client ping -c 2 -i 0.2 -W 2 -M do -s 1472 "$vm_ip"
    check "$mig: the switch still has the VM on $src's trunk" vm_on "tr-$src"
    dump_flows "$mig-blocked"
    # A bulk transfer at full MTU from the external host across the cutover.
    rm -f "$dir/bulk.$mig" "$dir/bulk.$mig.stop"
    bed_bg guest "$dir/bulk-server.$mig.log" python3 \
        "$srcdir/tests/system/bulk.py" server 7001 "$dir/bulk.$mig"
    bed_wait_until 5 bed_exec guest sh -c 'ss -ltn | grep -q :7001'
    bed_bg ext "$dir/bulk-client.$mig.log" python3 \
        "$srcdir/tests/system/bulk.py" client "$vm_ip" 7001 \
        "$dir/bulk.$mig.stop"
    sleep 0.3
    vmim_phase "$mig" TargetReady
    vmim_phase "$mig" Running
    cutover_and_announce guest "$vm_mac" "$sup" "$dup"
    check "$mig: the VM's RARP unblocked the port on $dst" \
        bed_wait_until 5 port_not_blocked "$dst" "$key"
    check "$mig: the switch has the VM on $dst's trunk" \
        bed_wait_until 2 vm_on "tr-$dst"
    check "$mig: the source copy on $src may no longer send" \
        bed_wait_until $((slow - 1)) port_blocked "$src" "$key"
    check "$mig: the agent's NAs for the VM's addresses left by $dst's uplink" \
        bed_wait_until $((2 * slow)) na_on "$mig" "tr-$dst" "$vm_ip6" \
        "$vm_lla6"
    check "$mig: canary flows after the cutover" \
        bed_wait_until 5 canary_flowing
    dump_flows "$mig-activated"
    sleep 0.3
    touch "$dir/bulk.$mig.stop"
    check "$mig: the bulk transfer arrived whole" bed_wait_until 10 \
        bulk_whole "$mig"
    echo "    $mig: bulk transfer: $(cat "$dir/bulk-client.$mig.log") -> $(cat "$dir/bulk.$mig")"
    vmi_migration_state vm1 "$(mig_state "$uid" "$src" "$dst" "$spod" "$dpod" \
        ",\"completed\":true,\"targetNodeDomainReadyTimestamp\":\"2026-12-0${n}T00:00:00Z\"")" "$dst"
    vmim_phase "$mig" Succeeded
    pod_phase "$spod" Succeeded
    check "$mig: no migration flows once it completed" \
        bed_wait_until 5 on_no_node has_migration_flows "$key"
    cni "$src" DEL "$spod" >/dev/null || true
    k8s_delete "/api/v1/namespaces/default/pods/$spod"
    check "$mig: the external host reaches the VM on $dst" \
        bed_exec ext ping -c 2 -i 0.2 -W 2 "$vm_ip"
    check "$mig: no node's br-phys sends the VM's MAC to br-int but $dst's" \
        bed_wait_until 2 brphys_points_at "$dst"
}
bulk_whole() {  # MIG : what the client sent, the server received
    [ -s "$dir/bulk.$1" ] && python3 -c 'import json, sys
sent = json.load(open(sys.argv[1]))["sent"]
sys.exit(json.load(open(sys.argv[2]))["received"] != sent)' \
        "$dir/bulk-client.$1.log" "$dir/bulk.$1"
}
brphys_points_at() {  # NODE : only NODE's br-phys has the VM behind br-int
    local n port
    for n in 1 2 3; do
        port=$(physnet_node_mac_port "node$n" "$vm_mac" "$VLAN")
        echo "node$n: br-phys has the VM on ${port:-(none)}"
        case $port in
            patch-*) [ "node$n" = "$1" ] || return 1 ;;
            *) [ "node$n" != "$1" ] || return 1 ;;
        esac
    done
}

migrate 1 mig1 node1 node2 launcher-1 launcher-2 up-1 up-2
migrate 2 mig2 node2 node1 launcher-2 launcher-3 up-2 up-3

# ---- A failed migration to node3: node1 stays the only place.
mark "mig3 node3"
uid3=$(vmim_create mig3 vm1)
vmim_phase mig3 Scheduling
check "mig3: target pod on node3" target_pod node3 launcher-4 mig3 "$uid3" up-4
vmim_phase mig3 PreparingTarget
vmi_migration_state vm1 "$(mig_state "$uid3" node1 node3 launcher-3 launcher-4 \
    "$fresh")"
check "mig3: migration flows on every node" \
    bed_wait_until 5 on_all_nodes has_migration_flows "$key"
check "mig3: the copy on node3 is blocked" port_blocked node3 "$key"
vmim_phase mig3 Failed
vmi_migration_state vm1 "$(mig_state "$uid3" node1 node3 launcher-3 launcher-4 \
    ",\"failed\":true")"
cni node3 DEL launcher-4 >/dev/null || true
k8s_delete /api/v1/namespaces/default/pods/launcher-4
check "mig3 (failed): no migration flows left" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
check "mig3 (failed): the switch has the VM on node1's trunk" vm_on tr-node1
check "mig3 (failed): canary flows" bed_wait_until 5 canary_flowing

# ---- A cancelled migration to node2 (the VMIM deleted): the same.
mark "mig4 node2"
uid4=$(vmim_create mig4 vm1)
vmim_phase mig4 Scheduling
check "mig4: target pod on node2" target_pod node2 launcher-5 mig4 "$uid4" up-5
vmim_phase mig4 PreparingTarget
vmi_migration_state vm1 "$(mig_state "$uid4" node1 node2 launcher-3 launcher-5 \
    "$fresh")"
check "mig4: migration flows on every node" \
    bed_wait_until 5 on_all_nodes has_migration_flows "$key"
k8s_delete "$KV/virtualmachineinstancemigrations/mig4"
check "mig4 (cancelled): no migration flows left" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
cni node2 DEL launcher-5 >/dev/null || true
k8s_delete /api/v1/namespaces/default/pods/launcher-5
check "mig4 (cancelled): the switch has the VM on node1's trunk" vm_on tr-node1
check "mig4 (cancelled): only node1's br-phys has the VM behind br-int" \
    brphys_points_at node1
check "mig4 (cancelled): canary flows" bed_wait_until 5 canary_flowing
mark end

# The canary's verdict.
kill "$client_pid"
sleep 0.3
kill "$server_pid" "$watch_pid"
bed_wait_until 5 test -s "$dir/canary.json"
echo "canary: $(cat "$dir/canary.json")"
check "one TCP connection throughout (no reconnect)" \
    test "$(canary_field connections)" = 1
check "no canary message lost" test "$(canary_field lost)" = 0

# The switch's MAC table, from the watch (physnet_fdb_verdict).
fdb_verdict() {
    physnet_fdb_verdict "$dir/watch.log" "$dir/marks" mig3 mig4
}
check "the switch's MAC entry never at a target before activation" \
    fdb_verdict
fdb_verdict | sed 's/^/    /'
if [ "$slow" = 1 ]; then
    check "the canary's longest gap is under 1 s" python3 -c 'import json, sys
sys.exit(json.load(open(sys.argv[1]))["max_gap_ms"] >= 1000)' "$dir/canary.json"
else
    echo "(under valgrind the canary's gap measures valgrind: not checked)"
fi
check "no migration flows on any node at the end" \
    on_no_node has_migration_flows "$key"
check "the external host reaches the VM at the end" \
    bed_exec ext ping -c 2 -i 0.2 -W 2 "$vm_ip"
check "... and over IPv6" bed_exec ext ping -6 -c 2 -i 0.2 -W 2 "$vm_ip6"
pmtu_intact() {  # no path MTU below 1500 cached for the VM on the host
    ! bed_exec ext ip route get "$vm_ip" | grep -Eq 'mtu (1[0-4][0-9][0-9]|[0-9]{1,3}) '
}
check "no path MTU below the VLAN's 1500 left on the external host" \
    pmtu_intact

report
