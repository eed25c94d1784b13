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
#     back through whichever node the external host's ECMP route picks.
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

result_ip6() {
    python3 -c 'import json,sys
for ip in json.load(sys.stdin)["ips"]:
    if ":" in ip["address"]:
        print(ip["address"].split("/")[0])' < "$dir/add.$1"
}

check "pod pa on node1" add_pod node1 pa
check "pod pb on node2" add_pod node2 pb
pa4=$(ip_of pa); pb4=$(ip_of pb)
pa6=$(result_ip6 pa); pb6=$(result_ip6 pb)
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
    local i
    for i in $(seq 20); do
        peer_seen pa "$GW_EXT4" 8080 >/dev/null || return 1
        peer_seen pa "$GW_EXT6" 8080 >/dev/null || return 1
    done
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
