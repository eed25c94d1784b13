#!/bin/bash
# System test of IPv6 on a dual-stack switch: three nodes, real
# ovs-vswitchd, a livebind-agent per node fed a model file, pods as
# namespaces with IPv6 on.  Ping and TCP over IPv6 on one node and across
# nodes; neighbour solicitations answered on the asker's node and never
# flooded; a spoofed source, a spoofed NA and a rogue RA dropped; the
# gateway's RA giving a pod exactly its address and a default route; and a
# handover in which the blocked target copy hears no solicitation for the
# VM's address, is activated by an unsolicited NA alone, the agent then
# announcing nothing of its own (an overlay: no neighbour entry changes when
# a VM keeps its MAC), and the VM's next NA reaches the other pods.
#
# Exit: 0 pass, 1 fail, 77 skip (not root / tools missing).
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${LB_BUILDDIR:-$srcdir}
agent_bin=$builddir/ovn-agent/livebind-agent
[ -x "$agent_bin" ] || { echo "SKIP: $agent_bin not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v tcpdump >/dev/null || { echo "SKIP: no tcpdump"; exit 77; }
[ -e /proc/sys/net/ipv6 ] || { echo "SKIP: no IPv6 in the kernel"; exit 77; }

LB_PREFIX=${LB_PREFIX:-lb6$$-}
export LB_IPV6=1                # bed.sh: keep IPv6 on in the namespaces.
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
bed_trap

bed_up 3
dir=$LB_BED_DIR
nd=$srcdir/tests/system/nd.py
announce=$srcdir/tests/system/announce.py

pod_mac() { printf '0a:58:0a:00:00:%02x' "$1"; }
# ip6_of N: fd00:: + EUI-64 of pod_mac N, as lib/ipam.c makes it.
ip6_of() { printf 'fd00::858:aff:fe00:%x' "$1"; }
lla_of() { printf 'fe80::858:aff:fe00:%x' "$1"; }
GW_LLA=fe80::859:ff:fe00:1      # The switch's gateway (key 1).

# PORTS: name:n:chassis[:additional] (pm migrates node1 -> node2).
write_model() {
    local port ports="" name n chassis extra
    for port in pa:10:node1 pb:11:node1 pc:12:node2 pd:13:node3 \
                pe:14:node2 "pm:20:node1:$1"; do
        IFS=: read -r name n chassis extra <<<"$port"
        ports="$ports${ports:+,}
  {\"name\": \"$name\", \"key\": $(( (1 << 24) | n )), \"switch\": \"pods\",
   \"mac\": \"$(pod_mac "$n")\", \"ips\": [\"10.0.0.$n\", \"$(ip6_of "$n")\"],
   \"chassis\": \"$chassis\"${extra:+, \"additional_chassis\": \"$extra\",
   \"additional_blocked\": true}}"
    done
    cat > "$dir/model.json.tmp" <<JSON
{"chassis": [{"name": "node1", "ip": "$(bed_node_ip 1)"},
             {"name": "node2", "ip": "$(bed_node_ip 2)"},
             {"name": "node3", "ip": "$(bed_node_ip 3)"}],
 "switches": [{"name": "pods", "key": 1, "subnet": "10.0.0.0/24",
               "ipv6_prefix": "fd00::/64", "gateway6": "fd00::1",
               "mtu": 1400}],
 "ports": [$ports]}
JSON
    mv "$dir/model.json.tmp" "$dir/model.json"
}

# pod6 NODE POD N [IFACE_ID] : a pod with both addresses (IPv6 static,
# without DAD, as the CNI plugin configures it).
pod6() {
    bed_pod_add "$1" "$2" "$(pod_mac "$3")" "10.0.0.$3/24" "" "${4:-$2}"
    bed_exec "$2" ip -6 addr add "$(ip6_of "$3")/64" dev eth0 nodad
}
pod6 node1 pa 10
pod6 node1 pb 11
pod6 node2 pc 12
pod6 node3 pd 13
write_model node2

for n in 1 2 3; do
    agent_start "node$n" --model="$dir/model.json"
done
for n in 1 2 3; do
    check "agent on node$n installed its flows" agent_wait_installed "node$n"
done
for n in 1 2 3; do
    check "node$n has 2 tunnels" bed_wait_until 10 tunnels_up "node$n" 2
done

ping6_ok() {  # POD ADDR
    bed_exec "$1" ping -6 -c 3 -i 0.2 -W 2 "$2"
}
check "ping over IPv6, same node (pa -> pb)" ping6_ok pa "$(ip6_of 11)"
check "ping over IPv6, across nodes (pa -> pc)" ping6_ok pa "$(ip6_of 12)"
check "ping over IPv6, across nodes (pb -> pd)" ping6_ok pb "$(ip6_of 13)"
# pb's link-local address may still be tentative (DAD) on a loaded
# machine, when its global one already answers: ask again for up to 5 s.
check "ping to a link-local address (pa -> pb)" \
    bed_wait_until 5 ping6_ok pa "$(lla_of 11)%eth0"
# tcp6_transfer SRC_POD DST_POD DST_IP : 2 MB over TCP/IPv6, all arrive.
tcp6_transfer() {
    local out=$LB_BED_DIR/tcp6.$2
    rm -f "$out"
    bed_exec "$2" timeout 20 nc -6 -l 5001 > "$out" &
    local listener=$!
    bed_wait_until 5 bed_exec "$2" sh -c 'ss -ltn | grep -q :5001'
    head -c 2000000 /dev/zero | bed_exec "$1" timeout 20 nc -N "$3" 5001
    wait "$listener" || true
    echo "received $(stat -c %s "$out") bytes"
    [ "$(stat -c %s "$out")" = 2000000 ]
}
check "TCP over IPv6, same node (pa -> pb, 2 MB)" \
    tcp6_transfer pa pb "$(ip6_of 11)"
check "TCP over IPv6, across nodes (pa -> pd, 2 MB)" \
    tcp6_transfer pa pd "$(ip6_of 13)"

# capture POD FILE FILTER : tcpdump in POD until capture_stop.
capture() {
    # shellcheck disable=SC2086
    bed_bg "$1" "$2" tcpdump -l -n -i eth0 ${CAPTURE_ARGS-} "$3"
    CAPTURE_PID=$BED_BG_PID
    sleep 1                     # tcpdump is listening by then
}
capture_stop() {
    sleep 0.5
    kill "$CAPTURE_PID" 2>/dev/null || true
    wait "$CAPTURE_PID" 2>/dev/null || true
}
_nd_packets() {  # NODE TARGET : hits of NODE's ND responder for TARGET
    bed_ofctl "$1" dump-flows "table=25,icmp6,icmp_type=135,metadata=0x1,nd_target=$2" |
        grep 'priority=100' | sed -n 's/.*n_packets=\([0-9]*\).*/\1/p'
}
_nd_packets_above() { [ "$(_nd_packets "$1" "$2")" -gt "$3" ]; }

# pa solicits pc's address: node1 answers; neither pb (same node) nor pc
# (the owner) hears the multicast solicitation.
ns_answered_locally() {
    local before; before=$(_nd_packets node1 "$(ip6_of 12)")
    bed_exec pa ip -6 neigh flush dev eth0
    capture pb "$dir/ns.pb" "icmp6 and ip6[40] == 135 and ether src $(pod_mac 10)"
    local pb_cap=$CAPTURE_PID
    capture pc "$dir/ns.pc" "icmp6 and ip6[40] == 135 and ether src $(pod_mac 10)"
    bed_exec pa ping -6 -c 1 -W 2 "$(ip6_of 12)" >/dev/null || return 1
    capture_stop
    CAPTURE_PID=$pb_cap capture_stop
    bed_wait_until 3 _nd_packets_above node1 "$(ip6_of 12)" "$before" ||
        return 1
    echo "ND responder hits: $before -> $(_nd_packets node1 "$(ip6_of 12)")"
    ! grep -q 'neighbor solicitation' "$dir/ns.pb" "$dir/ns.pc"
}
check "an NS for a remote pod is answered on the sender's node, not flooded" \
    ns_answered_locally

# Port security.
spoofed_ip6_dropped() {
    ping6_ok pa "$(ip6_of 12)" >/dev/null || return 1      # control
    bed_exec pa ip -6 addr add fd00::99/128 dev eth0 nodad
    local rc=0
    if bed_exec pa ping -6 -c 2 -i 0.2 -W 1 -I fd00::99 "$(ip6_of 12)"; then
        rc=1
    fi
    bed_exec pa ip -6 addr del fd00::99/128 dev eth0
    return $rc
}
check "a spoofed IPv6 source is dropped" spoofed_ip6_dropped

neigh_of() {  # POD ADDR : the MAC POD's neighbour table has for ADDR
    bed_exec "$1" ip -6 neigh show "$2" dev eth0 |
        sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p'
}
spoofed_na_dropped() {
    ping6_ok pb "$(ip6_of 12)" >/dev/null || return 1      # pb knows pc
    test "$(neigh_of pb "$(ip6_of 12)")" = "$(pod_mac 12)" || return 1
    # pa claims pc's address with an unsolicited, overriding NA.
    bed_exec pa python3 "$announce" eth0 "$(pod_mac 10)" --rounds 0,20,40 \
        --na "$(ip6_of 12)" --na-flags O
    sleep 0.3
    echo "pb's neighbour entry for pc: $(neigh_of pb "$(ip6_of 12)")"
    test "$(neigh_of pb "$(ip6_of 12)")" = "$(pod_mac 12)"
}
check "a spoofed NA (another pod's address) is dropped" spoofed_na_dropped

rogue_ra_dropped() {
    bed_exec pa python3 "$nd" eth0 "$(pod_mac 10)" ra fd99::
    sleep 1
    bed_exec pb ip -6 addr show dev eth0 | sed 's/^/    pb: /'
    ! bed_exec pb ip -6 addr show dev eth0 | grep -q fd99 &&
        ! bed_exec pb ip -6 route show default | grep -q "$(lla_of 10)"
}
check "a rogue RA from a pod is dropped" rogue_ra_dropped

# The gateway's RA: a pod with IPv6 and no address configured gets exactly
# its port's address by SLAAC, and a default route via the gateway.
bed_pod_add node2 pe "$(pod_mac 14)" 10.0.0.14/24 "" pe
slaac_done() {
    bed_exec pe ip -6 addr show dev eth0 | grep -q "$(ip6_of 14)/64" &&
        bed_exec pe ip -6 route show default | grep -q "via $GW_LLA"
}
check "RS answered: SLAAC gives the port's address and the default route" \
    bed_wait_until 15 slaac_done
bed_exec pe ip -6 addr show dev eth0 | sed 's/^/    pe: /'
bed_exec pe ip -6 route show default | sed 's/^/    pe: /'
check "the SLAAC address works (pe -> pa)" ping6_ok pe "$(ip6_of 10)"
gateway_resolved() {
    bed_exec pe ping -6 -c 1 -W 1 fd00::1 >/dev/null 2>&1 || true
    bed_exec pe ip -6 neigh show fd00::1 | tee /dev/stderr |
        grep -q 'lladdr 0a:59:00:00:00:01 router'
}
check "the gateway's address is answered (pe -> fd00::1 resolves)" \
    gateway_resolved

# Handover: pm runs on node1; its target copy on node2 is blocked.
pod6 node1 pm1 20 pm
pod6 node2 pm2 20 pm
for n in 1 2 3; do
    agent_wait_installed "node$n"
done
pm_blocked() {
    bed_dump_flows node2 |
        grep -Eq 'priority=150,reg14=0x1000014 actions=drop|priority=155,reg10=0x2/0x3,reg14=0x1000014 actions=drop'
}
pm_unblocked() { ! pm_blocked; }
check "pm's target copy on node2 is blocked" pm_blocked
check "pm reachable on its source (pa -> pm)" ping6_ok pa "$(ip6_of 20)"

target_hears_nothing() {
    # (The host end of its veth, in the node, may solicit routers: that
    # never went through the switch.)
    CAPTURE_ARGS="-Q in" capture pm2 "$dir/nd.pm2" \
        "icmp6 and (ip6[40] == 135 or ip6[40] == 136)"
    local pm2_cap=$CAPTURE_PID
    capture pm1 "$dir/nd.pm1" "icmp6 and ip6[40] == 135"
    bed_exec pa ip -6 neigh flush dev eth0
    bed_exec pa ping -6 -c 2 -i 0.2 -W 2 "$(ip6_of 20)" >/dev/null
    bed_exec pc python3 "$nd" eth0 "$(pod_mac 12)" dad "$(ip6_of 20)"
    bed_exec pd python3 "$nd" eth0 "$(pod_mac 13)" dad "$(ip6_of 20)"
    capture_stop
    CAPTURE_PID=$pm2_cap capture_stop
    echo "    source heard: $(grep -c 'neighbor solicitation' "$dir/nd.pm1") NS"
    grep ICMP6 "$dir/nd.pm2" | sed "s/^/    target heard: /"
    # The owner hears the DAD probes (so they were delivered, not lost);
    # the blocked copy hears no solicitation or advertisement about the
    # VM's addresses.
    grep -q "who has $(ip6_of 20)" "$dir/nd.pm1" &&
        ! grep -q -e "$(ip6_of 20)" -e "$(lla_of 20)" "$dir/nd.pm2"
}
check "before activation the target copy hears no NS for the VM's address" \
    target_hears_nothing

# Activation by an unsolicited NA alone.  The blocked copy's NA goes to
# the agent only; on an overlay the agent then announces nothing of its own
# (lib/agent-migration.c: the flows are the only MAC table and the VM
# keeps its MAC), which it would send right after its unblocking bundle's
# barrier reply, before it logs "unblocked in the switch".  The VM's NAs
# after that reach the other pods as it sent them.
capture pb "$dir/na.pb" "icmp6 and ip6[40] == 136 and ether src $(pod_mac 20)"
bed_exec pm2 python3 "$announce" eth0 "$(pod_mac 20)" --rounds 0 \
    --na "$(ip6_of 20)" --na-flags O
check "the NA unblocked pm on node2" bed_wait_until 5 pm_unblocked
# The agent logs the cause once the unblocking bundle is on its way, so
# the line may follow the flows by a moment on a loaded machine.
check "node2's agent says an NA did it" \
    bed_wait_until 5 grep -q 'port pm: NA from the VM' \
    "$(bed_node_dir node2)/agent.log"
check "node2's agent had its unblocking bundle's barrier reply" \
    bed_wait_until 5 grep -q 'port pm: unblocked in the switch' \
    "$(bed_node_dir node2)/agent.log"
sleep 0.5
bed_exec pm2 python3 "$announce" eth0 "$(pod_mac 20)" --rounds 0 \
    --na "$(lla_of 20)" --na-flags O
sleep 0.5
capture_stop
sed 's/^/    pb: /' "$dir/na.pb"
only_the_vms_na() {
    grep "tgt is" "$dir/na.pb"
    [ "$(grep -c "tgt is" "$dir/na.pb")" = 1 ] &&
        grep -q "tgt is $(lla_of 20)" "$dir/na.pb"
}
check "the agent announced nothing; the VM's next NA reached pb, alone" \
    only_the_vms_na
check "the activated target copy is reachable (pc -> pm)" \
    ping6_ok pc "$(ip6_of 20)"

# A restarted agent reads the IPv6 flows back as the ones it wants.
before=$(bed_dump_flows node1 | md5sum)
agent_stop node1
agent_start node1 --model="$dir/model.json"
check "restarted agent on node1 is synced" agent_wait_installed node1
check "restarted agent sent zero flow-mods (IPv6 flows included)" \
    agent_flow_mods_equal node1 0
check "flows unchanged after the restart" \
    test "$(bed_dump_flows node1 | md5sum)" = "$before"

check "tables in a real dump are those docs/pipeline.md describes" \
    tables_match_docs node1

report
