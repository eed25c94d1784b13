# gateway.sh - the distributed gateway's bed: the cluster of cluster.sh on a
# dual-stack switch whose gateways are left to their defaults, an agent on
# each node with the gateway port lb-gw0, IPv6 addresses on the underlay,
# and an external host "ext" on the underlay that routes the switch's
# subnet and prefix to the nodes (routed egress: no NAT).  Source after
# cluster.sh with LB_IPV6=1 exported.
#
#   gw_cluster_up          all of the above; GW_* name the addresses
#   gw_node_ip6 N          node N's IPv6 underlay address
#   peer_server NS PORT    in namespace NS (bed_exec's names), a TCP server
#                          that answers each connection with the peer's
#                          address and closes it
#   peer_seen NS IP PORT   connect from NS and print what the server saw
#   neigh_mac NS IP        the MAC of NS's neighbour entry for IP
#   gw_vm_guest VM         VM's guest (vms.sh) configured for both families
#   gw_vm_bed              all of it with kube-proxy on every node, the
#                          client pod on node3 and VM vm1 on node1

GW_SUBNET=10.40.0.0/16
GW_GW4=10.40.0.1                # The default: the subnet's first address.
GW_PREFIX6=fd00:40::/64
GW_GW6=fd00:40::1               # The default: the prefix's ::1.
GW_MAC=0a:59:00:00:00:01        # Switch key 1's gateway MAC.
GW_PORT=lb-gw0
GW_EXT4=${LB_UL_NET:-172.31.0}.200
GW_EXT6=fd31::200

gw_node_ip6() { echo "fd31::${1#node}"; }

# The node's network configuration, as on any node a CNI runs on: it
# forwards, and has its own IPv6 address.
_gw_node_setup() {
    local n=$1
    bed_exec "node$n" sysctl -qw net.ipv4.ip_forward=1 \
        net.ipv6.conf.all.forwarding=1 || return 1
    bed_exec "node$n" ip -6 addr add "$(gw_node_ip6 "$n")/64" dev br-phy \
        nodad || return 1
}

# The external host: on the underlay's switch, routing the switch's subnet
# and prefix to all three nodes (ECMP, by layer 4, so that different
# connections come back through different nodes).
_gw_ext_up() {
    local ul; ul=$(_bed_ns ul)
    local ns=${LB_PREFIX}ext
    _bed_ns_add "$ns" || return 1
    ip -n "$ul" link add ul-ext type veth peer name eth0 netns "$ns" \
        || return 1
    ip -n "$ul" link set ul-ext master lb-ul up
    ip netns exec "$ul" ethtool -K ul-ext tx off >/dev/null
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
    ip -n "$ns" link set eth0 up
    ip -n "$ns" addr add "$GW_EXT4/${LB_UL_PLEN:-24}" dev eth0
    ip -n "$ns" -6 addr add "$GW_EXT6/64" dev eth0 nodad
    ip netns exec "$ns" sysctl -qw net.ipv4.fib_multipath_hash_policy=1 \
        net.ipv6.fib_multipath_hash_policy=1
    ip -n "$ns" route add "$GW_SUBNET" \
        nexthop via "$(bed_node_ip 1)" nexthop via "$(bed_node_ip 2)" \
        nexthop via "$(bed_node_ip 3)" || return 1
    ip -n "$ns" -6 route add "$GW_PREFIX6" \
        nexthop via "$(gw_node_ip6 1)" dev eth0 \
        nexthop via "$(gw_node_ip6 2)" dev eth0 \
        nexthop via "$(gw_node_ip6 3)" dev eth0 || return 1
}

# The agent made the gateway port and routes the subnet and the prefix
# into it.
gw_host_ready() {
    bed_exec "$1" ip route show "$GW_SUBNET" | grep -q "dev $GW_PORT" &&
        bed_exec "$1" ip -6 route show "$GW_PREFIX6" |
            grep -q "dev $GW_PORT" &&
        bed_exec "$1" ip link show "$GW_PORT" | grep -q 'NOARP.*,UP'
}

gw_cluster_up() {
    local n
    LB_SWITCH_PREFIX6=$GW_PREFIX6
    LB_SWITCH_GATEWAY6=
    cluster_up "$GW_SUBNET" "" --gateway-port="$GW_PORT" || return 1
    for n in 1 2 3; do
        _gw_node_setup "$n" || return 1
    done
    _gw_ext_up || return 1
    for n in 1 2 3; do
        bed_wait_until 15 gw_host_ready "node$n" ||
            { echo "node$n: gateway port not ready"
              bed_exec "node$n" ip -d link show "$GW_PORT"
              bed_exec "node$n" ip route; bed_exec "node$n" ip -6 route
              grep -i gateway "$(bed_node_dir "node$n")/agent.log" | tail
              return 1; }
    done
}

_GW_PEER_SERVER='
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
s.listen(16)
while True:
    c, a = s.accept()
    peer = a[0][7:] if a[0].startswith("::ffff:") else a[0]
    c.sendall((peer + "\n").encode())
    c.close()
'

peer_server() {
    bed_bg "$1" "$LB_BED_DIR/peer-$1-$2.log" python3 -c "$_GW_PEER_SERVER" "$2"
    bed_wait_until 5 bed_exec "$1" sh -c "ss -ltn | grep -q ':$2 '"
}

peer_seen() {
    # Generous timeouts: the machine may be loaded (one SYN lost costs 1 s).
    bed_exec "$1" timeout 15 python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
print(c.recv(100).decode().strip())' "$2" "$3"
}

# peer_seen_n NS IP PORT N : N connections from one process (cheaper than
# N processes on a loaded machine); prints what the server saw each time.
peer_seen_n() {
    bed_exec "$1" timeout 60 python3 -c '
import socket, sys
for i in range(int(sys.argv[3])):
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    print(c.recv(100).decode().strip())
    c.close()' "$2" "$3" "$4"
}

# expect_peer NS IP PORT WANT : connecting from NS to IP:PORT, the server
# sees WANT as the client's address.
expect_peer() {
    local got; got=$(peer_seen "$1" "$2" "$3") || return 1
    echo "$1 -> $2: seen as $got (want $4)"
    [ "$got" = "$4" ]
}

# gw_vm_guest VM : the guest's own configuration, as its DHCP client and
# SLAAC would make it: the IPv6 address, and a default route per family by
# the gateway.  Prints the VM's addresses, MAC and port key.
gw_vm_guest() {
    local g=${LB_PREFIX}g-$1 vm6; vm6=$(ip6_of "$1-l0")
    ip -n "$g" -6 addr replace "$vm6/64" dev br0 nodad &&
        ip -n "$g" route add default via "$GW_GW4" dev br0 &&
        ip -n "$g" -6 route add default via "$GW_GW6" dev br0 metric 10 ||
        return 1
    echo "VM $1: $(vm_ip "$1") $vm6 $(vm_mac "$1"), port key" \
         "$(printf '%#x' "${VM_KEY[$1]}")"
}

# gw_vm_bed : gw_cluster_up, the real kube-proxy on every node (below),
# the client pod on node3 and VM vm1 on node1 with its guest configured
# (vms.sh, sourced after this file).
gw_vm_bed() {
    local n
    gw_cluster_up || return 1
    for n in 1 2 3; do
        kube_proxy_start "node$n"
    done
    check "client pod on node3" vms_client
    check "VM vm1 on node1" vm_new vm1
    check "the guest's addresses and routes" gw_vm_guest vm1
}

neigh_mac() {
    bed_exec "$1" ip neigh show "$2" | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p'
}

# ---- Services: the real kube-proxy (built by utilities/build-k8s.sh from
# the same sources as kube-apiserver) in each node's namespace, fed by
# Services and EndpointSlices written as the endpointslice controller
# writes them (no controller manager runs in the bed).

_gw_kp_kubeconfig() {
    local f=$LB_BED_DIR/k8s/kube-proxy.kubeconfig tok
    if [ ! -f "$f" ]; then
        # kube-proxy's own ServiceAccount with the bootstrap policy's
        # system:node-proxier, as kubeadm sets it up.
        kc create serviceaccount kube-proxy -n kube-system >/dev/null ||
            return 1
        kc create clusterrolebinding livebind-test-kube-proxy \
            --clusterrole=system:node-proxier \
            --serviceaccount=kube-system:kube-proxy >/dev/null || return 1
        tok=$(kc create token kube-proxy -n kube-system --duration=2h) ||
            return 1
        _cp_kubeconfig "$f" "$LB_API" "$LB_BED_DIR/k8s/pki/ca.crt" \
            "    token: $tok"
    fi
    echo "$f"
}

# kube_proxy_start NODE : kube-proxy in iptables mode; the pods' subnet
# and prefix are the cluster's (traffic from them is not masqueraded).
# Routed egress is asymmetric (out through the pod's node, back through
# any): a node sees a connection's replies without its start, which
# conntrack calls INVALID and kube-proxy's default rules drop; with
# --conntrack-tcp-be-liberal it installs no such rule (docs/pipeline.md).
kube_proxy_start() {
    local kcfg; kcfg=$(_gw_kp_kubeconfig) || return 1
    bed_bg "$1" "$LB_BED_DIR/$1/kube-proxy.log" "$LB_K8S_BIN/kube-proxy" \
        --kubeconfig="$kcfg" --hostname-override="$1" \
        --proxy-mode=iptables --cluster-cidr="$GW_SUBNET,$GW_PREFIX6" \
        --conntrack-max-per-core=0 --conntrack-tcp-be-liberal --v=1
}

# service_add NAME CLUSTER-IP PORT TARGET-PORT POD@NODE... : a ClusterIP
# Service of the CLUSTER-IP's family and its EndpointSlice with the pods'
# addresses of that family (ready, on their nodes).
service_add() {
    local name=$1 cip=$2 port=$3 tport=$4 uid eps="" pod node
    local fam=IPv4 addr_of=ip_of
    case $cip in *:*) fam=IPv6; addr_of=ip6_of ;; esac
    shift 4
    uid=$(kapi_ok POST /api/v1/namespaces/default/services \
      "{\"apiVersion\":\"v1\",\"kind\":\"Service\",
        \"metadata\":{\"name\":\"$name\",\"namespace\":\"default\"},
        \"spec\":{\"clusterIP\":\"$cip\",\"ipFamilies\":[\"$fam\"],
          \"selector\":{\"app\":\"$name\"},
          \"ports\":[{\"name\":\"tcp\",\"port\":$port,
                      \"targetPort\":$tport,\"protocol\":\"TCP\"}]}}" |
        json_field uid) || return 1
    for pod in "$@"; do
        node=${pod#*@}
        pod=${pod%@*}
        eps="$eps${eps:+,}{\"addresses\":[\"$($addr_of "$pod")\"],
            \"conditions\":{\"ready\":true,\"serving\":true,
                            \"terminating\":false},
            \"nodeName\":\"$node\",
            \"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"default\",
                           \"name\":\"$pod\"}}"
    done
    kapi_ok POST /apis/discovery.k8s.io/v1/namespaces/default/endpointslices \
      "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",
        \"metadata\":{\"name\":\"$name-gw1\",\"namespace\":\"default\",
          \"labels\":{\"kubernetes.io/service-name\":\"$name\",
            \"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\"},
          \"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",
            \"name\":\"$name\",\"uid\":\"$uid\",\"controller\":true,
            \"blockOwnerDeletion\":true}]},
        \"addressType\":\"$fam\",
        \"ports\":[{\"name\":\"tcp\",\"port\":$tport,\"protocol\":\"TCP\"}],
        \"endpoints\":[$eps]}" >/dev/null
}

# service_programmed CLUSTER-IP NODE : NODE's kube-proxy has rules for it,
# with endpoints (on_all_nodes's order).
service_programmed() {
    case $1 in
    *:*) bed_exec "$2" ip6tables -t nat -S KUBE-SERVICES 2>/dev/null |
            grep -q -- "-d $1/128 .*-j KUBE-SVC-" ;;
    *) bed_exec "$2" iptables -t nat -S KUBE-SERVICES 2>/dev/null |
            grep -q -- "-d $1/32 .*-j KUBE-SVC-" ;;
    esac
}

# ---- An egress gateway that does not move with the VM: the switch's
# traffic to the world leaves through one chosen node, which SNATs it to
# its own address, so the SNAT state stays there whichever node the VM
# runs on.  The LogicalSwitch names the nodes (spec.egressGateway.nodes);
# the agents write the policy routing and the NAT rule (docs/pipeline.md).

GW_WORLD4=198.51.100.1          # Beyond the external host: "the world".
GW_WORLD6=2001:db8:100::1
GW_EGRESS_TABLE=10801           # lb_egress_table(1): switch key 1's.

# gw_world_up : the world behind the external host, which is every node's
# default route (as a real network's router is).
gw_world_up() {
    local n
    bed_exec ext ip addr add "$GW_WORLD4/32" dev lo || return 1
    bed_exec ext ip -6 addr add "$GW_WORLD6/128" dev lo || return 1
    for n in 1 2 3; do
        bed_exec "node$n" ip route replace default via "$GW_EXT4" || return 1
        bed_exec "node$n" ip -6 route replace default via "$GW_EXT6" ||
            return 1
    done
}

# gw_node_status N READY : node N's status as its kubelet reports it: both
# InternalIPs and the Ready condition ("True" or "False").
gw_node_status() {
    kapi_status "/api/v1/nodes/node$1"       "{\"status\":{\"addresses\":[
          {\"type\":\"InternalIP\",\"address\":\"$(bed_node_ip "$1")\"},
          {\"type\":\"InternalIP\",\"address\":\"$(gw_node_ip6 "$1")\"}],
        \"conditions\":[{\"type\":\"Ready\",\"status\":\"$2\",
          \"reason\":\"KubeletReady\"}]}}" >/dev/null
}

# gw_egress_nodes NODE... : the switch's egress gateway, in preference
# order (none: routed again).
gw_egress_nodes() {
    local list="" n v=null
    for n in "$@"; do list="$list${list:+,}\"$n\""; done
    [ -z "$list" ] || v="{\"nodes\":[$list]}"
    kapi_ok PATCH /apis/livebind.io/v1alpha1/logicalswitches/pods \
        "{\"spec\":{\"egressGateway\":$v}}" \
        application/merge-patch+json >/dev/null
}

# gw_egress_via NODE EGRESS : NODE routes the switch's sources (both
# families) to EGRESS, and has no NAT rule of livebind's.
gw_egress_via() {
    local eg=${2#node}
    bed_exec "$1" ip rule show | grep -q \
        "from $GW_SUBNET lookup main suppress_prefixlength 0 proto 108" &&
    bed_exec "$1" ip -6 rule show | grep -q \
        "from $GW_PREFIX6 lookup $GW_EGRESS_TABLE proto 108" &&
    bed_exec "$1" ip route show table "$GW_EGRESS_TABLE" |
        grep -q "^default via $(bed_node_ip "$eg") " &&
    bed_exec "$1" ip -6 route show table "$GW_EGRESS_TABLE" |
        grep -q "^default via $(gw_node_ip6 "$eg") " &&
    ! bed_exec "$1" nft list table inet livebind >/dev/null 2>&1
}

# gw_egress_snat NODE : NODE is the active egress node: it masquerades
# both families and has no egress rule of livebind's.
gw_egress_snat() {
    local t
    t=$(bed_exec "$1" nft list table inet livebind 2>/dev/null) || return 1
    echo "$t" | grep -q "ip saddr $GW_SUBNET .*masquerade" &&
    echo "$t" | grep -q "ip6 saddr $GW_PREFIX6 .*masquerade" &&
    ! bed_exec "$1" ip rule show | grep -q "proto 108" &&
    ! bed_exec "$1" ip -6 rule show | grep -q "proto 108"
}

# gw_egress_active EGRESS : every node agrees that EGRESS is active.
gw_egress_active() {
    local n
    for n in 1 2 3; do
        if [ "node$n" = "$1" ]; then
            gw_egress_snat "node$n" || return 1
        else
            gw_egress_via "node$n" "$1" || return 1
        fi
    done
}

# gw_egress_writes NODE : how many changes NODE's agent has written.
gw_egress_writes() {
    agent_ctl "$1" egress | sed -n 's/^egress writes: //p'
}
