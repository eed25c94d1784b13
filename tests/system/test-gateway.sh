#!/bin/bash
# System test of the distributed gateway (lib/pipeline-gateway.c), both
# families: three nodes, agents with the gateway port lb-gw0, a dual-stack
# switch whose gateways are the defaults (10.40.0.1, fd00:40::1), pod pa on
# node1 and pb on node2, and an external host on the underlay that routes
# the switch's subnet to the nodes.
#
#   - every pod's neighbour entry for its gateway is the gateway MAC,
#     answered by its own node;
#   - node -> local pod and node -> remote pod (kubelet probes), sourced
#     from the node's own address;
#   - pod -> its node, pod -> another node's host address, without NAT;
#   - routed egress: pod -> external host without NAT, the replies coming
#     back through whichever node the external host's ECMP route picks;
#   - Services: the real kube-proxy (iptables mode) on every node, an
#     IPv4 and an IPv6 ClusterIP backed by pods on node2 and node3 (EndpointSlices written as
#     the endpointslice controller writes them), reached from pa on node1
#     with its own address kept, the replies back through node1's host
#     (conntrack, table 33).
#
# LB_GATEWAY_DUMP_DIR=DIR writes node1's flows there (docs/pipeline.md).
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbgw$$-}
export LB_IPV6=1
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/gateway.sh"

gw_cluster_up
dir=$LB_BED_DIR
# kube-proxy from the start, as on any node: its rules must let the rest
# through (routed egress's asymmetric replies among them).
for n in 1 2 3; do
    kube_proxy_start "node$n"
done

check "pod pa on node1" add_pod node1 pa
check "pod pb on node2" add_pod node2 pb
pa4=$(ip_of pa); pb4=$(ip_of pb)
pa6=$(ip6_of pa); pb6=$(ip6_of pb)
echo "pa: $pa4 $pa6 (node1); pb: $pb4 $pb6 (node2)"
check "the CNI result routes both families by the default gateways" \
    python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
gws = {i.get("gateway") for i in r["ips"]}
routes = r.get("routes", [])
sys.exit(0 if gws == {"10.40.0.1", "fd00:40::1"}
         and {"dst": "0.0.0.0/0", "gw": "10.40.0.1"} in routes
         and {"dst": "::/0", "gw": "fd00:40::1"} in routes else 1)' \
    "$dir/add.pa"

for n in 1 2 3; do
    peer_server "node$n" 8080
done
peer_server pa 8080
peer_server pb 8080
peer_server ext 8080

for fam in 4 6; do
    if [ $fam = 4 ]; then
        n1=$(bed_node_ip 1); n2=$(bed_node_ip 2); a=$pa4; b=$pb4
        ext=$GW_EXT4; gw=$GW_GW4
    else
        n1=$(gw_node_ip6 1); n2=$(gw_node_ip6 2); a=$pa6; b=$pb6
        ext=$GW_EXT6; gw=$GW_GW6
    fi
    check "IPv$fam: node1 -> its pod pa, from node1's address" \
        expect_peer node1 "$a" 8080 "$n1"
    check "IPv$fam: node1 -> pod pb on node2, from node1's address" \
        expect_peer node1 "$b" 8080 "$n1"
    check "IPv$fam: node2 -> pod pa on node1, from node2's address" \
        expect_peer node2 "$a" 8080 "$n2"
    check "IPv$fam: pa -> its node, no NAT" expect_peer pa "$n1" 8080 "$a"
    check "IPv$fam: pa -> node2's host address, no NAT" \
        expect_peer pa "$n2" 8080 "$a"
    check "IPv$fam: pb -> node1's host address, no NAT" \
        expect_peer pb "$n1" 8080 "$b"
    check "IPv$fam: routed egress: pa -> external host, no NAT" \
        expect_peer pa "$ext" 8080 "$a"
    check "IPv$fam: the external host reaches pb" \
        bed_exec ext ping -c 1 -W 2 "$b"
    check "IPv$fam: pa's neighbour entry for its gateway is the gateway MAC" \
        test "$(neigh_mac pa "$gw")" = "$GW_MAC"
done

# Routed egress, replies through every node: twenty connections from pa
# (node1) to the external host, hashed by ports over the three nodes'
# routes; each node's table-32 flow for pa's address counts the replies
# that came back through it, and node2's and node3's went through the
# tunnel to node1.
_gw_in_packets() {
    bed_ofctl "$1" dump-flows "table=32,$2" |
        sed -n 's/.*n_packets=\([0-9]*\).*/\1/p' | head -1
}
_gw_all_nodes_carried() {
    local n p
    for n in 1 2 3; do
        p=$(_gw_in_packets "node$n" "$1")
        echo "node$n: $p packets into the switch for $1"
        [ "${p:-0}" -gt 0 ] || return 1
    done
}
routed_both_ways() {
    peer_seen_n pa "$GW_EXT4" 8080 20 >/dev/null || return 1
    peer_seen_n pa "$GW_EXT6" 8080 20 >/dev/null || return 1
    # Flow counters lag: the datapath's are pulled about once a second.
    bed_wait_until 3 _gw_all_nodes_carried "ip,nw_dst=$pa4" &&
        bed_wait_until 3 _gw_all_nodes_carried "ipv6,ipv6_dst=$pa6"
}
check "routed egress: replies came back through every node's gateway" \
    routed_both_ways

# The gateway's ARP and neighbour solicitations are answered on the
# asker's node: the answering flows on node1 count pa's requests.
_flow_count() {  # the packets of every flow FILTER selects, summed
    bed_ofctl node1 dump-flows "$1" |
        sed -n 's/.*n_packets=\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}'
}
answered_locally() {
    local arp="table=20,arp,metadata=0x1,arp_tpa=$GW_GW4,arp_op=1"
    # The gateway's global address and the link-local one its router
    # advertisements come from (the pod's default route may use either).
    local nd="cookie=0x2000000000000001/-1,table=25,icmp6,metadata=0x1,icmp_type=135,icmp_code=0"
    local a0 n0
    a0=$(_flow_count "$arp"); n0=$(_flow_count "$nd")
    bed_exec pa ip neigh del "$GW_GW4" dev eth0
    bed_exec pa ip -6 neigh del "$GW_GW6" dev eth0
    bed_exec pa ip -6 neigh del fe80::859:ff:fe00:1 dev eth0
    peer_seen pa "$GW_EXT4" 8080 >/dev/null || return 1
    peer_seen pa "$GW_EXT6" 8080 >/dev/null || return 1
    sleep 1.2       # Flow counters lag.
    local a1 n1; a1=$(_flow_count "$arp"); n1=$(_flow_count "$nd")
    echo "ARP answers $a0 -> $a1, NS answers $n0 -> $n1"
    [ "$a1" -gt "$a0" ] && [ "$n1" -gt "$n0" ] &&
        [ "$(neigh_mac pa "$GW_GW4")" = "$GW_MAC" ] &&
        { [ "$(neigh_mac pa "$GW_GW6")" = "$GW_MAC" ] ||
          [ "$(neigh_mac pa fe80::859:ff:fe00:1)" = "$GW_MAC" ]; }
}
check "the gateway's ARP and NS are answered on the pod's own node" \
    answered_locally

# Services: kube-proxy on every node; "web" is backed by pb (node2) and pc
# (node3), and pa on node1 reaches it: DNAT by node1's kube-proxy, the
# replies from node2 and node3 back through node1's host (conntrack,
# table 33) so that its conntrack undoes the DNAT.
check "pod pc on node3" add_pod node3 pc
peer_server pc 8080
check "Service web (10.96.0.100:80) backed by pb and pc" \
    service_add web 10.96.0.100 80 8080 pb@node2 pc@node3
check "Service web6 ([fd00:96::100]:80) backed by pb and pc" \
    service_add web6 fd00:96::100 80 8080 pb@node2 pc@node3
check "kube-proxy programmed both on every node" \
    bed_wait_until 30 on_all_nodes service_programmed 10.96.0.100
check "... (IPv6)" \
    bed_wait_until 30 on_all_nodes service_programmed fd00:96::100

# clusterip_both_backends CLUSTER-IP MATCH A B C : twelve connections from
# pa (address A) to CLUSTER-IP reach both backends (B, C), each seeing A;
# MATCH is "ip,nw_dst=" or "ipv6,ipv6_dst=".
clusterip_both_backends() {
    local cip=$1 m=$2 a=$3 b=$4 c=$5 got b0 c0 b1 c1
    b0=$(_gw_in_packets node1 "$m$b"); c0=$(_gw_in_packets node1 "$m$c")
    got=$(peer_seen_n pa "$cip" 80 12 | sort | uniq -c) || {
        echo "a connection failed"; return 1; }
    # Each backend sees pa's own address: no masquerade.
    echo "seen as: $got"
    [ "$(echo "$got" | awk '{print $2}')" = "$a" ] || return 1
    [ "$(echo "$got" | awk '{print $1}')" = 12 ] || return 1
    sleep 1.2       # Flow counters lag.
    # Both backends were chosen: node1's host sent to each through the
    # gateway port (table 32).
    b1=$(_gw_in_packets node1 "$m$b"); c1=$(_gw_in_packets node1 "$m$c")
    echo "node1's host -> pb: $b0 -> $b1 packets, -> pc: $c0 -> $c1"
    [ "$b1" -gt "$b0" ] && [ "$c1" -gt "$c0" ]
}
check "pa -> ClusterIP 10.96.0.100: both backends, pa's address kept" \
    clusterip_both_backends 10.96.0.100 "ip,nw_dst=" "$pa4" "$pb4" \
    "$(ip_of pc)"
check "pa -> ClusterIP fd00:96::100: both backends, pa's address kept" \
    clusterip_both_backends fd00:96::100 "ipv6,ipv6_dst=" "$pa6" "$pb6" \
    "$(ip6_of pc)"
_svc_replies() {
    local p
    p=$(bed_ofctl node1 dump-flows "table=33,ct_state=+trk+rpl,ct_mark=0x1/0x1,$1" |
        sed -n 's/.*n_packets=\([0-9]*\).*/\1/p' | head -1)
    echo "$1 replies sent back to node1's host by table 33: $p"
    [ "${p:-0}" -gt 0 ]
}
check "the backends' replies came back through node1's host (table 33)" \
    _svc_replies ip
check "... (IPv6)" _svc_replies ipv6

# A restarted agent computes the same flows, the gateway's included, and
# sends no change to the switch.
agent_restarts_clean() {
    agent_stop node1
    agent_k8s_start node1 --gateway-port="$GW_PORT" || return 1
    agent_wait_synced node1 30 || return 1
    agent_wait_installed node1 30 || return 1
    agent_flow_mods_equal node1 0
}
check "a restarted agent sends no flow-mod (the gateway's flows as installed)" \
    agent_restarts_clean

# A restarted ovs-vswitchd makes the gateway port's tap anew (its MAC from
# the Interface's mac column); the agent puts back its flags and routes.
gw_back_after_restart() {
    bed_restart node1 ovs-vswitchd || return 1
    bed_wait_until 30 gw_host_ready node1 || return 1
    bed_exec node1 ip link show "$GW_PORT" | grep -q "link/ether 0a:59:00:00:00:00" ||
        return 1
    bed_wait_until 30 expect_peer node1 "$pb4" 8080 "$(bed_node_ip 1)"
}
check "after ovs-vswitchd restarts on node1 its gateway works again" \
    gw_back_after_restart

if [ -n "${LB_GATEWAY_DUMP_DIR-}" ]; then
    mkdir -p "$LB_GATEWAY_DUMP_DIR"
    for n in 1 2; do
        bed_dump_flows "node$n" > "$LB_GATEWAY_DUMP_DIR/node$n.flows"
    done
    bed_exec node1 ip route > "$LB_GATEWAY_DUMP_DIR/node1.routes"
    bed_exec node1 ip -6 route >> "$LB_GATEWAY_DUMP_DIR/node1.routes"
    bed_exec node1 ip -d link show "$GW_PORT" \
        > "$LB_GATEWAY_DUMP_DIR/node1.link"
fi

report
