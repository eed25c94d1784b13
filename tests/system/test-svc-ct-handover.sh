#!/bin/bash
# System test: a VM's connections to ClusterIP Services with several
# backends survive its live migration there and back (node1 -> node2 ->
# node1), through the real kube-proxy (iptables mode: a random pick per
# new connection) on every node: the Service handover
# (lib/svc-ct-handover.c, lib/agent-svc-ct.c) gives the target's host the
# source's conntrack entries, with their DNAT, before the VM runs there.
#
#   - Two Services, IPv4 and IPv6, each with three backends, one on each
#     node; the VM holds 4 connections to each (svc-conns.py: an echo
#     every 20 ms, each checked; never reconnecting).  Across both
#     migrations every connection stays up with its first backend and
#     every echo is what was sent, and each is flowing again within
#     seconds.  The target's agent created the entries (its log, its
#     "svc-handover" figures); a record sent from node3 (not the
#     migration's source) creates nothing.
#   - In the seconds after each migration, no backend's neighbour entry
#     for the VM's IPv6 address names another MAC than the VM's; the
#     nodes' switches dropped their hosts' ICMPv6 redirects (which named
#     the gateway port's MAC).
#   - Then the agents of node1 and node2 restart with
#     --no-svc-ct-handover, and 4 new connections of each family go
#     through one migration: the target's kube-proxy picks again and some
#     break (all 8 keep their backend with probability 3^-8: the test
#     fails if none breaks, proving it would see the failure).
#
# Prints each connection's backend and longest silence across each
# migration.  Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbsc$$-}
export LB_IPV6=1
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/gateway.sh"
. "$srcdir/tests/system/vms.sh"

gw_vm_bed
dir=$LB_BED_DIR
vm4=$(vm_ip vm1)
vm6=$(ip6_of vm1-l0)
vmmac=$(vm_mac vm1)

SVC4=10.96.0.111
SVC6=fd00:96::111
for n in 1 2 3; do
    check "backend pod be$n on node$n" add_pod "node$n" "be$n"
    bed_bg "be$n" "$dir/svc-server-be$n.log" python3 \
        "$srcdir/tests/system/svc-conns.py" server 7010 "be$n"
done
listening() { bed_exec "$1" sh -c "ss -ltn | grep -q ':7010 '"; }
for n in 1 2 3; do
    check "be$n listens" bed_wait_until 5 listening "be$n"
done
check "Service multi4 ($SVC4:80 -> be1,be2,be3:7010)" \
    service_add multi4 "$SVC4" 80 7010 be1@node1 be2@node2 be3@node3
check "Service multi6 ([$SVC6]:80 -> be1,be2,be3:7010)" \
    service_add multi6 "$SVC6" 80 7010 be1@node1 be2@node2 be3@node3
check "kube-proxy programmed them on every node" \
    bed_wait_until 30 eval 'on_all_nodes service_programmed "$SVC4" &&
                            on_all_nodes service_programmed "$SVC6"'
# kube-proxy's own chain: a random pick among the three.
bed_exec node1 iptables -t nat -S | grep -- "-m statistic" | head -2

# conns NAME IP N : N held connections from the VM to IP:80.
declare -A CONNS
conns() {
    bed_bg g-vm1 "$dir/conns-$1.log" python3 \
        "$srcdir/tests/system/svc-conns.py" client "$2" 80 "$3" \
        "$dir/conns-$1.json"
    CONNS[$1]=$BED_BG_PID
    bed_wait_until 10 conns_flowing "$1"
}
_conns() {  # NAME FILE-SUFFIX PYTHON-EXPRESSION-OF-c-LIST
    python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$dir/conns-$1.json$2" "$3" 2>/dev/null
}
# Every connection's echoes grow within a second.
conns_flowing() {
    local a b
    a=$(_conns "$1" .live '[x["echoed"] for x in c]') || return 1
    sleep 1
    b=$(_conns "$1" .live '[x["echoed"] for x in c]') || return 1
    python3 -c 'import sys
a, b = eval(sys.argv[1]), eval(sys.argv[2])
sys.exit(not (len(a) == len(b) and all(y > x for x, y in zip(a, b))))' \
        "$a" "$b"
}
conns_window() { kill -USR1 "${CONNS[$1]}"; }
conns_gaps() { _conns "$1" .live '" ".join(str(x["window_gap_ms"]) for x in c)'; }
conns_stop() {
    kill "${CONNS[$1]}"
    bed_wait_until 5 test -s "$dir/conns-$1.json"
    echo "connections $1: $(cat "$dir/conns-$1.json")"
}
# Every connection up, nothing but its own echo.
conns_all_up() {
    _conns "$1" "" 'all(not x["error"] and x["echoed"] > 0 for x in c)' |
        grep -qx True
}
conns_some_broke() {
    _conns "$1" "" 'any(x["error"] for x in c)' | grep -qx True
}
conns_backends() { _conns "$1" .live '" ".join(x["backend"] for x in c)'; }

check "4 connections VM -> $SVC4:80" conns h4 "$SVC4" 4
check "4 connections VM -> [$SVC6]:80" conns h6 "$SVC6" 4
echo "backends: IPv4 $(conns_backends h4); IPv6 $(conns_backends h6)"
echo "node1's conntrack of the VM's Service connections:"
bed_exec node1 conntrack -L -s "$vm4" -p tcp 2>/dev/null | sed 's/^/    /' ||
    true

# No backend's neighbour entry for the VM's IPv6 address names another
# MAC than the VM's.  The hosts' ICMPv6 redirects named their gateway
# port's, and the backends' replies went to it, silent for seconds, until
# the pipeline dropped those redirects (docs/pipeline.md, table 32).
backends_neigh_right() {
    local n mac
    for n in 1 2 3; do
        mac=$(neigh_mac "be$n" "$vm6")
        [ -z "$mac" ] || [ "$mac" = "$vmmac" ] ||
            { echo "be$n's neighbour entry for $vm6: $mac, not $vmmac"
              return 1; }
    done
}
# neigh_right_for SECONDS : backends_neigh_right all that time.
neigh_right_for() {
    local i
    for i in $(seq $(($1 * 10))); do
        backends_neigh_right || return 1
        sleep 0.1
    done
}
# redirects_dropped NODE : the host's ICMPv6 redirects NODE's switch held
# back (table 32).
redirects_dropped() {
    bed_ofctl "$1" dump-flows table=32,icmp6,icmp_type=137 |
        sed -n 's/.*n_packets=\([0-9]*\),.*/\1/p' |
        awk '{n += $1} END {print n + 0}'
}

declare -A gaps
# migrate N TARGET SETS... : the VM's Nth migration; every set still
# flowing after it, its connections' longest silences in gaps[SET.N].
migrate() {
    local n=$1 target=$2 s; shift 2
    for s in "$@"; do conns_window "$s"; done
    check "migration $n, to $target: prepared (mirroring)" \
        vm_migrate_prepare vm1
    echo "$target's Service handover flows (table 0), and its synced replies' (table 33):"
    bed_dump_flows "$target" |
        grep -e 'tun_id=0x100001' -e 'table=33, priority=10[5-7]' |
        sed 's/^/    /'
    # The source reads its host's conntrack every 200 ms while mirroring.
    sleep 0.5
    check "migration $n, to $target: cut over and complete" \
        eval 'vm_migrate_cutover vm1 && vm_migrate_complete vm1'
    check "the VM's port converged on $target" \
        bed_wait_until 10 vm_converged vm1
    check "the backends' neighbour entries for the VM name its MAC" \
        neigh_right_for 2
    for s in "$@"; do
        gaps[$s.$n]=$(conns_gaps "$s")
    done
}

migrate 1 node2 h4 h6
grep "Service handover" "$(bed_node_dir node1)/agent.log" | tail -4 |
    sed 's/^/    node1: /'
grep "Service handover" "$(bed_node_dir node2)/agent.log" | tail -8 |
    sed 's/^/    node2: /'
echo "node2's conntrack of the VM's Service connections:"
bed_exec node2 conntrack -L -s "$vm4" -p tcp 2>/dev/null | sed 's/^/    /' ||
    true
migrate 2 node1 h4 h6
for s in h4 h6; do
    echo "connections $s: longest silence (ms) node1->node2: ${gaps[$s.1]};" \
         "node2->node1: ${gaps[$s.2]}"
done
for n in node1 node2; do
    echo "$n: livebind-ctl svc-handover"
    agent_ctl "$n" svc-handover | sed 's/^/    /'
done
created() {
    agent_ctl "$1" svc-handover | grep -q "taken: [1-9][0-9]* created"
}
check "node2's agent created the VM's entries in its host's conntrack" \
    created node2
dropped=0
for n in 1 2 3; do
    d=$(redirects_dropped "node$n")
    echo "node$n's switch dropped ${d:-?} of its host's ICMPv6 redirects"
    dropped=$((dropped + ${d:-0}))
done
# They come with every Service connection of the VM's: it sends through
# its host and back out of the gateway port to the backend.
check "the hosts' ICMPv6 redirects were dropped ($dropped)" \
    test "$dropped" -gt 0
for s in h4 h6; do
    # Both families as silent as any stream across a migration, a few
    # hundred ms: still flowing right away.
    check "connections $s: still flowing" bed_wait_until 5 conns_flowing "$s"
    conns_stop "$s"
    check "connections $s: each one up, every echo what was sent" \
        conns_all_up "$s"
done

# A record that does not come from the migration's source: node3 sends
# one into its tunnel to node2 while vm1 migrates from node1 to node2
# (forged: a connection the VM never had).  node2 creates nothing.
check "migration 3, to node2: prepared (mirroring)" vm_migrate_prepare vm1
forged_key=$((1 | 0x100000))
tun3=$(bed_ovs node3 ovs-vsctl --bare --columns=ofport find interface \
           type=geneve "options:remote_ip=$(bed_node_ip node2)")
forged=$(python3 - "$vm4" "$(vm_mac vm1 | tr -d :)" <<'EOF'
import socket, struct, sys
vm, mac = sys.argv[1], bytes.fromhex(sys.argv[2])
rec = (b"LBSC" + bytes([1, 6, 3, 0]) + struct.pack("!IHHHH", 600, 40000, 80,
       7010, 0) + b"\0" * 10 + b"\xff\xff" + socket.inet_aton("10.40.9.9"))
udp = struct.pack("!HHHH", 0x4c42, 0x4c42, 8 + len(rec), 0) + rec
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 socket.inet_aton(vm), socket.inet_aton("10.96.0.111"))
print((mac + mac + b"\x08\x00" + ip + udp).hex())
EOF
)
if [ -n "$tun3" ]; then
    bed_ofctl node3 packet-out br-int \
        "in_port=controller packet=$forged actions=set_field:$forged_key->tun_id,output:$tun3"
    sleep 1
    check "node2 refused node3's forged record" \
        sh -c "grep -q 'Service handover record refused' '$(bed_node_dir node2)/agent.log' ||
               ! grep -q '10.40.9.9' '$(bed_node_dir node2)/agent.log'"
    check "node2's host has no entry from it" \
        sh -c "! bed_exec node2 conntrack -L -r 10.40.9.9 2>/dev/null | grep -q 10.40.9.9"
else
    echo "node3's tunnel to node2 not found: forged record not sent"
    check "node3's tunnel to node2" false
fi
check "migration 3, to node2: cut over and complete" \
    eval 'vm_migrate_cutover vm1 && vm_migrate_complete vm1'

# Without the handover: the same connections break.
for n in node1 node2; do
    check "$n's agent restarted with --no-svc-ct-handover" agent_stop "$n"
    check "$n's agent is back" agent_k8s_start "$n" \
        --gateway-port="$GW_PORT" --no-svc-ct-handover
done
check "the VM's port converged on node2" bed_wait_until 20 vm_converged vm1
check "4 connections VM -> $SVC4:80 (no handover)" conns n4 "$SVC4" 4
check "4 connections VM -> [$SVC6]:80 (no handover)" conns n6 "$SVC6" 4
echo "backends: IPv4 $(conns_backends n4); IPv6 $(conns_backends n6)"
migrate 4 node1 n4 n6
for s in n4 n6; do conns_stop "$s"; done
some_broke() { conns_some_broke n4 || conns_some_broke n6; }
check "without the handover, connections broke (the test sees it)" some_broke

report
