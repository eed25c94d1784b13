#!/bin/bash
# System test of a VM with several NICs (lib/multinic.h) on the real
# control plane: its pod network's NIC (overlay), a NIC on VLAN 100 and one
# on VLAN 200 of the physical network (tests/system/physnet.sh), each
# selected as KubeVirt and Multus select them: VMI spec.networks[].multus,
# NetworkAttachmentDefinitions, the launcher pods' k8s.v1.cni.cncf.io/
# networks, the livebind plugin run as Multus's delegate on net1 and net2
# (tests/system/multus.sh).  Outside the cluster: an external host on VLAN
# 100, a router between VLAN 100 and VLAN 200, a routed client on VLAN 200.
# The external host and the routed client stream TCP to both VLAN NICs
# (one on their own VLAN, one through the router), and a pod with the same
# three networks to all three NICs, through migrations there and back and a
# failed one: one connection each, nothing lost; every NIC's port moves
# with the VM, blocked on the target until the VM runs there (the first
# announcement unblocks all of its NICs), and the switch's MAC table never
# points at the target before.  The pod network is not reachable from
# outside the cluster (no gateway to the fabric here), so only the pod
# streams to the VM's pod-network NIC.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbmn$$-}
export LB_UL_MTU=1600           # Headroom for tunnelled VLAN frames.
export LB_IPV6=1                # VLAN 100 is dual-stack.
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/physnet.sh"
. "$srcdir/tests/system/multus.sh"
. "$srcdir/tests/system/vms.sh"         # flows_as_fresh

t0=$EPOCHREALTIME
physnet_cluster_up 100,200
dir=$LB_BED_DIR
PREFIX6=fd00:100::
physnet_router router 100 10.100.0.1/16 200 10.200.0.1/16
physnet_host ext 100 02:e0:00:00:00:fa 10.100.0.250/16 10.100.0.1
ip -n "${LB_PREFIX}ext" -6 addr add "${PREFIX6}fa/64" dev eth0 nodad
physnet_host rc 200 02:e0:00:00:00:fb 10.200.0.250/16 10.200.0.1
physnet_switch vlan100 2 10.100.0.0/16 10.100.0.1 physnet1 100 1500 \
    "[\"10.100.0.1-10.100.0.9\", \"10.100.0.250\", \"${PREFIX6}1-${PREFIX6}ff\"]" \
    "${PREFIX6}/64" >/dev/null
physnet_switch vlan200 3 10.200.0.0/16 10.200.0.1 physnet1 200 1500 \
    '["10.200.0.1-10.200.0.9", "10.200.0.250"]' >/dev/null
check "NetworkAttachmentDefinitions vlan100 and vlan200 (real objects)" \
    eval "nad_create vlan100 vlan100 && nad_create vlan200 vlan200"
check "br-int patched to br-phys on every node" \
    bed_wait_until 10 on_all_nodes physnet_connected physnet1

# ---- The VM: three NICs on node1.
NADS="vlan100 vlan200"
vmi_uid=$(vmi_create_nics vm1 node1 $NADS)
check "the VM's launcher pod on node1: eth0, net1 and net2 (Multus)" \
    multus_add_pod node1 launcher-1 "$(launcher_meta_nics "$NADS" vm1 "$vmi_uid")"
declare -a IP MAC KEY
IP[0]=$(ip_of launcher-1); MAC[0]=$(mac_of launcher-1)
IP[1]=$(nic_ip launcher-1 net1); MAC[1]=$(nic_mac launcher-1 net1)
IP[2]=$(nic_ip launcher-1 net2); MAC[2]=$(nic_mac launcher-1 net2)
offset() { echo "$1" | awk -F. '{print $3 * 256 + $4}'; }
for i in 0 1 2; do
    KEY[$i]=$(( ((i + 1) << 24) | $(offset "${IP[$i]}") ))
    echo "vm1 NIC $i: ${IP[$i]} ${MAC[$i]} key $(printf '%#x' "${KEY[$i]}")"
done
IP6_1=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["ips"][1]["address"].split("/")[0])' \
    "$dir/add.launcher-1.net1")
echo "vm1 NIC 1: $IP6_1"
in_subnet() {  # IP NET : IP is in NET.0.0/16 and not excluded
    case $1 in "$2".*) ;; *) return 1 ;; esac
    case $1 in *.0.[0-9]|*.0.250) return 1 ;; esac
}
check "each NIC's address is from its own switch's subnet" eval \
    "in_subnet ${IP[0]} 10.30 && in_subnet ${IP[1]} 10.100 && in_subnet ${IP[2]} 10.200"
lp_field() {  # NAME PYTHON-EXPR(o)
    kapi GET "/apis/livebind.io/v1alpha1/namespaces/default/logicalports/$1" |
        python3 -c "import json, sys; o = json.load(sys.stdin); print($2)"
}
check "each NIC is its own LogicalPort, named after the VM and interface" \
    eval "[ \"\$(lp_field vm1.net1 'o[\"spec\"][\"vm\"], o[\"spec\"][\"interface\"], o[\"spec\"][\"switch\"]')\" = 'vm1 net1 vlan100' ] &&
          [ \"\$(lp_field vm1.net2 'o[\"spec\"][\"vm\"], o[\"spec\"][\"interface\"], o[\"spec\"][\"switch\"]')\" = 'vm1 net2 vlan200' ] &&
          [ \"\$(lp_field vm1 'o[\"spec\"].get(\"interface\"), o[\"spec\"][\"switch\"]')\" = 'None pods' ]"
# ports NODE : livebind-ctl ports on NODE.
ports() { agent_ctl "$1" ports; }
check "livebind-ctl ports: each NIC's network, VLAN, node and owners" eval "
    ports node2 | grep -q '^default_vm1.net1 key=${KEY[1]} switch=vlan100 network=physnet1 vlan=100 mac=${MAC[1]} .* chassis=node1\$' &&
    ports node2 | grep -q '^default_vm1.net2 key=${KEY[2]} switch=vlan200 network=physnet1 vlan=200 mac=${MAC[2]} .* chassis=node1\$' &&
    ports node2 | grep -q '^default_vm1 key=${KEY[0]} switch=pods mac=${MAC[0]} .* chassis=node1\$' &&
    ports node2 | grep -q '^default_vm1.net1 vm=vm1 nic=net1 active=launcher-1@node1\$' &&
    ports node2 | grep -q '^default_vm1.net2 vm=vm1 nic=net2 active=launcher-1@node1\$' &&
    ports node2 | grep -q '^default_vm1 vm=vm1 nic=eth0 active=launcher-1@node1\$'"
check "a NIC that is not among the pod's networks is refused (code 7)" eval \
    "! _multus_delegate node1 ADD launcher-1 default vlan100 net7 > $dir/net7.out &&
     grep -q 'interface net7 is not one of the pod' $dir/net7.out"

# The VM's network stack: a bridge per NIC (br0, br1, br2), each NIC's
# replies leave by the NIC they came in on (source routing, as a
# multi-homed guest is set up), and one uplink per NIC and launcher pod.
guest=${LB_PREFIX}guest
guest_create guest "${MAC[0]}" "${IP[0]}/16"
for i in 1 2; do
    ip -n "$guest" link add "br$i" type bridge
    ip -n "$guest" link set "br$i" address "${MAC[$i]}" mtu 1500
    ip -n "$guest" addr add "${IP[$i]}/16" dev "br$i"
    ip netns exec "$guest" ethtool -K "br$i" tx off >/dev/null 2>&1 || true
    ip -n "$guest" link set "br$i" up
    ip -n "$guest" rule add from "${IP[$i]}" table "${i}00"
    ip -n "$guest" route add "10.${i}00.0.0/16" dev "br$i" table "${i}00"
    ip -n "$guest" route add default via "10.${i}00.0.1" dev "br$i" \
        table "${i}00"
done
ip -n "$guest" -6 addr add "$IP6_1/64" dev br1 nodad
ip netns exec "$guest" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
    net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0
# bridge_nics POD SEQ : POD's three NICs to the guest's bridges, through
# uplinks u0-SEQ, u1-SEQ, u2-SEQ (down).
bridge_nics() {
    vm_pod_bridge "$1" guest "u0-$2" &&
        vm_pod_bridge "$1" guest "u1-$2" net1 br1 &&
        vm_pod_bridge "$1" guest "u2-$2" net2 br2
}
bridge_nics launcher-1 1
unbridge_nics() {  # POD SEQ : the source's taps go with its QEMU
    local i
    for i in 0 1 2; do
        ip -n "$guest" link del "u$i-$2" 2>/dev/null || true
    done
    ip netns del "${LB_PREFIX}$1" 2>/dev/null || true
}
for i in 0 1 2; do
    ip -n "$guest" link set "u$i-1" up
done

# A pod on node3 with the same three networks (the short form of the
# annotation): it reaches each NIC on that NIC's network.
check "a pod on node3 with three NICs (pods, vlan100, vlan200)" \
    multus_add_pod node3 client \
    '"annotations":{"k8s.v1.cni.cncf.io/networks":"vlan100, default/vlan200"}'
check "the pod's secondary NICs have no default route" eval \
    "bed_exec client ip route show default | grep -q 'dev eth0' &&
     ! bed_exec client ip route show default | grep -q 'dev net'"
check "the pod reaches NIC 0 (pod network)" \
    bed_exec client ping -c 2 -i 0.2 -W 2 "${IP[0]}"
check "the pod reaches NIC 1 (VLAN 100)" \
    bed_exec client ping -c 2 -i 0.2 -W 2 "${IP[1]}"
check "the pod reaches NIC 2 (VLAN 200)" \
    bed_exec client ping -c 2 -i 0.2 -W 2 "${IP[2]}"
check "the external host reaches NIC 1 on VLAN 100, full-size (DF)" \
    bed_exec ext ping -c 2 -i 0.2 -W 2 -M do -s 1472 "${IP[1]}"
check "the external host reaches NIC 1 over IPv6" \
    bed_exec ext ping -6 -c 2 -i 0.2 -W 2 "$IP6_1"
check "the external host reaches NIC 2 through the router" \
    bed_exec ext ping -c 2 -i 0.2 -W 2 "${IP[2]}"
check "the routed client reaches NIC 2 on VLAN 200" \
    bed_exec rc ping -c 2 -i 0.2 -W 2 "${IP[2]}"
check "the routed client reaches NIC 1 through the router" \
    bed_exec rc ping -c 2 -i 0.2 -W 2 "${IP[1]}"
# trunk_of MAC VLAN : the fab port that has MAC in VLAN.
on_trunk() {  # NODE : the switch has NIC 1 and NIC 2 on NODE's trunk
    [ "$(physnet_mac_port "${MAC[1]}" 100)" = "tr-$1" ] &&
        [ "$(physnet_mac_port "${MAC[2]}" 200)" = "tr-$1" ]
}
check "the switch learned NIC 1 and NIC 2 on node1's trunk" on_trunk node1
ext_arp_before=$(bed_exec ext ip neigh show "${IP[1]}" | awk '{print $5}')
echo "the external host's ARP entry for NIC 1: $ext_arp_before"

# ---- Seven streams, one TCP connection each: NAME SOURCE IP PORT.
STREAMS="ext-nic1 ext ${IP[1]} 7001
ext-nic2 ext ${IP[2]} 7002
rc-nic2 rc ${IP[2]} 7003
rc-nic1 rc ${IP[1]} 7004
pod-nic0 client ${IP[0]} 7005
pod-nic1 client ${IP[1]} 7006
pod-nic2 client ${IP[2]} 7007"
declare -A SERVER CLIENT
while read -r name src ip port; do
    bed_bg guest "$dir/canary-server-$name.log" python3 \
        "$srcdir/tests/system/canary.py" server "$port" "$dir/canary-$name.json"
    SERVER[$name]=$BED_BG_PID
    bed_wait_until 20 bed_exec guest sh -c "ss -ltn | grep -q :$port" ||
        echo "canary server $name: not listening after 20 s"
    bed_bg "$src" "$dir/canary-client-$name.log" python3 \
        "$srcdir/tests/system/canary.py" client "$ip" "$port" 10
    CLIENT[$name]=$BED_BG_PID
done <<<"$STREAMS"
received() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["received"])' \
        "$dir/canary-$1.json.live" 2>/dev/null || echo 0
}
all_flowing() {  # every stream's count grows within 0.3 s
    local name a b
    declare -A before
    for name in "${!SERVER[@]}"; do before[$name]=$(received "$name"); done
    sleep 0.3
    for name in "${!SERVER[@]}"; do
        b=$(received "$name")
        [ "$b" -gt "${before[$name]}" ] || { echo "$name: stalled at $b"; return 1; }
    done
}
check "all seven streams flow" bed_wait_until 20 all_flowing
physnet_watch "$dir/watch.log" "${MAC[1]}" 100 "${MAC[2]}" 200
watch_pid=$BED_BG_PID
check "the MAC table watch runs" \
    bed_wait_until 20 grep -qs tr-node1 "$dir/watch.log"

mark() { echo "$1 $EPOCHREALTIME" >> "$dir/marks"; }
fresh=',"completed":null,"failed":null,"targetNodeDomainReadyTimestamp":null'
for_nics() {  # CMD ARGS... : CMD ARGS KEY for every NIC's key
    local i
    for i in 0 1 2; do "$@" "${KEY[$i]}" || { echo "NIC $i"; return 1; }; done
}
blocked_on() { for_nics _blocked_on "$1"; }
# On a provider network the source copy of an activated port may no longer
# send (the fabric must not learn the MAC back there): the VLAN NICs.
vlan_blocked_on() {
    port_blocked "$1" "${KEY[1]}" && port_blocked "$1" "${KEY[2]}"
}
_blocked_on() { port_blocked "$1" "$2"; }
unblocked_on() { for_nics _unblocked_on "$1"; }
_unblocked_on() { port_not_blocked "$1" "$2"; }
mig_flows_everywhere() { for_nics _mig_flows_everywhere; }
_mig_flows_everywhere() { on_all_nodes has_migration_flows "$1"; }
no_mig_flows() { for_nics _no_mig_flows; }
_no_mig_flows() { on_no_node has_migration_flows "$1"; }
same_nics() {  # POD : its NICs have the VM's addresses and MACs
    [ "$(ip_of "$1") $(mac_of "$1")" = "${IP[0]} ${MAC[0]}" ] &&
        [ "$(nic_ip "$1" net1) $(nic_mac "$1" net1)" = "${IP[1]} ${MAC[1]}" ] &&
        [ "$(nic_ip "$1" net2) $(nic_mac "$1" net2)" = "${IP[2]} ${MAC[2]}" ]
}
owners() {  # POD NODE : every NIC's port is POD's on NODE, alone
    local p line
    for p in default_vm1 default_vm1.net1 default_vm1.net2; do
        line=$(ports node3 | grep "^$p vm=vm1 nic=")
        [[ $line == *" active=$1@$2"* && $line != *alternate=* ]] ||
            { echo "$line"; return 1; }
    done
}

# cutover FROM TO ANNOUNCE : the VM resumes behind uplinks u*-TO (all three
# NICs at once, one "bridge -batch"); QEMU's RARPs on br0 and, with
# ANNOUNCE "all", on br1 and br2 as well.
cutover() {
    local from=$1 to=$2 i
    for i in 0 1 2; do
        ip -n "$guest" link set "u$i-$to" up
    done
    for i in 0 1 2; do
        bed_wait_until 5 _uplink_forwarding "$guest" "u$i-$to"
        bridge -n "$guest" link set dev "u$i-$to" state 0
    done
    : > "$dir/cutover.batch"
    for i in 0 1 2; do
        printf 'link set dev u%s-%s state 3\nlink set dev u%s-%s state 0\n' \
            "$i" "$to" "$i" "$from" >> "$dir/cutover.batch"
    done
    if [ "$3" = all ]; then
        for i in 1 2; do
            bed_bg guest "$dir/announce.$to.$i.log" python3 \
                "$srcdir/tests/system/announce.py" "br$i" "${MAC[$i]}" \
                --rounds 5,50,200,450,800
        done
    fi
    bed_exec guest python3 "$srcdir/tests/system/announce.py" br0 \
        "${MAC[0]}" --cutover "$dir/cutover.batch"
}

# migrate N MIG SRC DST SPOD DPOD ANNOUNCE : a migration that succeeds.
migrate() {
    local n=$1 mig=$2 src=$3 dst=$4 spod=$5 dpod=$6 announce=$7 uid
    mark "$mig $dst"
    uid=$(vmim_create "$mig" vm1)
    vmim_phase "$mig" Scheduling
    check "$mig: target pod on $dst with the three NICs" \
        multus_add_pod "$dst" "$dpod" \
        "$(launcher_meta_nics "$NADS" vm1 "$vmi_uid" "$uid" "$mig")"
    check "$mig: the target pod reuses each NIC's port (IP and MAC)" \
        same_nics "$dpod"
    bridge_nics "$dpod" "$((n + 1))"
    vmim_phase "$mig" PreparingTarget
    vmi_migration_state vm1 "$(mig_state "$uid" "$src" "$dst" "$spod" \
        "$dpod" "$fresh")"
    check "$mig: every NIC's migration flows on every node" \
        bed_wait_until 5 mig_flows_everywhere
    check "$mig: every NIC's copy on $dst is blocked" blocked_on "$dst"
    check "$mig: the switch still has the VLAN NICs on $src's trunk" \
        on_trunk "$src"
    vmim_phase "$mig" TargetReady
    vmim_phase "$mig" Running
    cutover "$n" "$((n + 1))" "$announce"
    check "$mig: every NIC unblocked on $dst" \
        bed_wait_until 5 unblocked_on "$dst"
    check "$mig: the switch has the VLAN NICs on $dst's trunk" \
        bed_wait_until 2 on_trunk "$dst"
    check "$mig: the VLAN NICs' source copies on $src may no longer send" \
        vlan_blocked_on "$src"
    check "$mig: all seven streams flow after the cutover" \
        bed_wait_until 5 all_flowing
    if [ "$announce" = first ]; then
        check "$mig: the VM's first RARP (pod network) activated its VLAN NICs" \
            eval "lp_field vm1.net2 'o[\"status\"][\"activation\"][\"cause\"]' |
                  grep -q 'of the same VM.s port default_vm1\$'"
    fi
    vmi_migration_state vm1 "$(mig_state "$uid" "$src" "$dst" "$spod" "$dpod" \
        ",\"completed\":true,\"targetNodeDomainReadyTimestamp\":\"2026-12-0${n}T00:00:00Z\"")" "$dst"
    vmim_phase "$mig" Succeeded
    pod_phase "$spod" Succeeded
    check "$mig: no migration flows once it completed" \
        bed_wait_until 5 no_mig_flows
    check "$mig: DEL of the source pod's three NICs (Multus's order)" \
        multus_cni "$src" DEL "$spod"
    k8s_delete "/api/v1/namespaces/default/pods/$spod"
    unbridge_nics "$spod" "$n"
    check "$mig: every NIC's port is $dpod's on $dst alone" \
        bed_wait_until 5 owners "$dpod" "$dst"
}

migrate 1 mig1 node1 node2 launcher-1 launcher-2 first
migrate 2 mig2 node2 node1 launcher-2 launcher-3 all

# ---- A failed migration to node3: node1 stays the only place.
mark "mig3 node3"
uid3=$(vmim_create mig3 vm1)
vmim_phase mig3 Scheduling
check "mig3: target pod on node3 with the three NICs" \
    multus_add_pod node3 launcher-4 \
    "$(launcher_meta_nics "$NADS" vm1 "$vmi_uid" "$uid3" mig3)"
bridge_nics launcher-4 4
vmim_phase mig3 PreparingTarget
vmi_migration_state vm1 "$(mig_state "$uid3" node1 node3 launcher-3 \
    launcher-4 "$fresh")"
check "mig3: every NIC's migration flows on every node" \
    bed_wait_until 5 mig_flows_everywhere
check "mig3: every NIC's copy on node3 is blocked" blocked_on node3
vmim_phase mig3 Failed
vmi_migration_state vm1 "$(mig_state "$uid3" node1 node3 launcher-3 \
    launcher-4 ",\"failed\":true")"
check "mig3 (failed): no migration flows left, for any NIC" \
    bed_wait_until 5 no_mig_flows
multus_cni node3 DEL launcher-4 || true
k8s_delete /api/v1/namespaces/default/pods/launcher-4
unbridge_nics launcher-4 4
check "mig3 (failed): every NIC's port is launcher-3's on node1 alone" \
    bed_wait_until 5 owners launcher-3 node1
check "mig3 (failed): the switch has the VLAN NICs on node1's trunk" \
    on_trunk node1
check "mig3 (failed): all seven streams flow" bed_wait_until 5 all_flowing
mark end

# ---- Verdicts.
for name in "${!CLIENT[@]}"; do
    kill "${CLIENT[$name]}"
done
sleep 0.3
for name in "${!SERVER[@]}"; do
    kill "${SERVER[$name]}"
done
kill "$watch_pid"
stream_ok() {  # NAME : one connection, nothing lost
    bed_wait_until 5 test -s "$dir/canary-$1.json" || return 1
    echo "$1: $(cat "$dir/canary-$1.json")"
    python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(not (s["connections"] == 1 and s["lost"] == 0))' "$dir/canary-$1.json"
}
while read -r name _; do
    check "stream $name: one TCP connection, no message lost" stream_ok "$name"
    sed -n 's/^/    /p' "$LB_BED_DIR/check.out"
done <<<"$STREAMS"
fdb_verdict() {
    physnet_fdb_verdict "$dir/watch.log" "$dir/marks" mig3
}
check "the switch's MAC entries never at a target before activation" \
    fdb_verdict
fdb_verdict | sed 's/^/    /'
check "the external host's ARP entry for NIC 1 never changed" eval \
    "[ \"\$(bed_exec ext ip neigh show ${IP[1]} | awk '{print \$5}')\" = '$ext_arp_before' ] && [ '$ext_arp_before' = '${MAC[1]}' ]"
check "no migration flows on any node at the end" no_mig_flows
check "node1's flows (three NICs) are those a fresh agent installs: 0 flow-mods" \
    flows_as_fresh node1 --bridge-mappings=physnet1:br-phys
check "the external host reaches NIC 1 and NIC 2 at the end" eval \
    "bed_exec ext ping -c 1 -W 2 ${IP[1]} && bed_exec ext ping -c 1 -W 2 ${IP[2]} && bed_exec ext ping -6 -c 1 -W 2 $IP6_1"
awk -v t0="$t0" -v now="$EPOCHREALTIME" \
    'BEGIN { printf "test-multinic-migration: %.0f s\n", now - t0 }'
report
