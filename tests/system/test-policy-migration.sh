#!/bin/bash
# System test of NetworkPolicy across live migrations, on the real control
# plane: the VM vm1 has a default-deny ingress policy that admits client A
# only, and egress allowed to server S only.  Through a migration there
# (node1 -> node2), back (node2 -> node1) and a failed one:
#   - client B (on node1, where the VM starts and comes back: local
#     delivery there, the tunnel when the VM is on node2) sends a UDP
#     datagram and a TCP SYN to the VM every 2 ms, and nothing of it ever
#     reaches the VM, on either node;
#   - client A's TCP stream (the canary, from node3) keeps one connection
#     and loses nothing;
#   - the target holds the port's policy flows from the moment the port is
#     bound to two chassis (mirroring, blocked);
#   - the VM reaches S, not B;
#   - the VM's own 1,000 TCP connections to S (opened before and during
#     the first migration; S sends each a line a second, the VM answers),
#     which the target's conntrack would judge as new inbound connections
#     from S and drop, all keep working after each cutover: the conntrack
#     handover (lib/policy-handover.c);
#   - 200 more connections of the VM to S, idle from before the migration
#     until after the cutover (S starts sending then), are handed over by
#     their first packets: the source, still mirrored to, judges them by
#     its conntrack and sends the target the copies that admit their
#     retransmissions;
#   - then, with the agents restarted with --no-ct-handover, one more
#     migration shows those connections breaking.
# The switch is dual-stack and the same checks run over IPv6 beside IPv4:
# B probes the VM's IPv6 address every 2 ms too, A streams a second canary
# to it over IPv6, and the VM holds 200 more connections to S over IPv6
# ($LB_POLICY_FAN6; fewer than IPv4's 1,000 to keep the test short), which
# survive each cutover with the handover and break without it.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbp$$-}
export LB_IPV6=1                # bed.sh: keep IPv6 on in the namespaces.
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/vms.sh"
. "$srcdir/tests/system/policy.sh"

LB_SWITCH_PREFIX6=fd00:32::/64
LB_SWITCH_GATEWAY6=fd00:32::1
cluster_up 10.32.0.0/16 10.32.0.1
dir=$LB_BED_DIR
probe=$srcdir/tests/system/policy-probe.py

policy_vm_up

bed_bg g-vm1 "$dir/sink.log" python3 "$probe" sink 9000 "$dir/sink.json"
bed_bg g-vm1 "$dir/bsink.log" python3 "$probe" sink 9002 "$dir/bsink.json"
bed_bg server "$dir/s-sink.log" python3 "$probe" sink 9000 "$dir/s-sink.json"
bed_bg client-b "$dir/b-sink.log" python3 "$probe" sink 9000 "$dir/b-sink.json"
sleep 0.5

# Without a policy, B reaches the VM: the policy is what stops it.
check "without a policy, B reaches the VM" \
    bed_exec client-b ping -c 2 -i 0.2 -W 1 "$vm_ip"
check "... over IPv6 too" \
    bed_wait_until 10 bed_exec client-b ping -6 -c 1 -W 1 "$vm_ip6"

policy_vm1

b_blocked() {
    ! bed_exec client-b ping -c 1 -W 1 "$vm_ip" >/dev/null &&
        ! bed_exec client-b ping -6 -c 1 -W 1 "$vm_ip6" >/dev/null
}
check "the policy reaches node1's flows" bed_wait_until 10 policed_on node1
check "B no longer reaches the VM (IPv4 and IPv6)" bed_wait_until 5 b_blocked
check "A reaches the VM" bed_exec client ping -c 2 -i 0.2 -W 1 "$vm_ip"
check "A reaches the VM over IPv6" \
    bed_exec client ping -6 -c 2 -i 0.2 -W 1 "$vm_ip6"
vm_to() {  # IP : a TCP connection from the VM to IP:9000
    bed_exec g-vm1 python3 -c 'import socket, sys
socket.create_connection((sys.argv[1], 9000), timeout=1).close()' "$1"
}
check "the VM reaches S (egress allowed)" vm_to "$s_ip"
check "the VM does not reach B (egress denied)" eval '! vm_to "$b_ip"'
check "nor A (egress denied)" eval '! vm_to "$a_ip"'
check "the VM reaches S over IPv6" vm_to "$s_ip6"
check "... not B nor A over IPv6" eval '! vm_to "$b_ip6" && ! vm_to "$a_ip6"'
agent_ctl node1 policies "default_vm1" | sed 's/^/    /'
selects_vm1() {
    agent_ctl node1 policies default_vm1 | grep -q 'default/vm1 ingress,egress'
}
check "livebind-ctl names the policy selecting the port" selects_vm1

# The canary from A, and B's probes every 2 ms from now to the end.
check "canary from A flows" vm_canary vm1 7000
# A's second canary, over IPv6; vms.sh's canary_* helpers take its name.
canary6() {
    bed_bg g-vm1 "$dir/canary-vm1-6.log" python3 \
        "$srcdir/tests/system/canary.py" server 7006 "$dir/canary-vm1-6.json"
    VM_SERVER[vm1-6]=$BED_BG_PID
    bed_wait_until 5 bed_exec g-vm1 sh -c 'ss -ltn | grep -q ":7006 "' ||
        return 1
    bed_bg client "$dir/canary-client-vm1-6.log" python3 \
        "$srcdir/tests/system/canary.py" client "$vm_ip6" 7006 10
    VM_CLIENT[vm1-6]=$BED_BG_PID
    bed_wait_until 10 canary_flowing vm1-6
}
check "canary from A over IPv6 flows" canary6
bed_bg client-b "$dir/b-probe.log" python3 "$probe" send "$vm_ip" 9000 2 \
    "$dir/b-probe.json"
b_pid=$BED_BG_PID
bed_bg client-b "$dir/b-probe6.log" python3 "$probe" send "$vm_ip6" 9000 2 \
    "$dir/b-probe6.json"
b6_pid=$BED_BG_PID
bed_bg client "$dir/a-probe.log" python3 "$probe" send "$vm_ip" 9000 20 \
    "$dir/a-probe.json"
a_pid=$BED_BG_PID
# Broadcasts (255.255.255.255, flooded to every port of the switch) from
# both: A's reach the VM, B's never do (table 50 through ingress policy).
bed_bg client-b "$dir/b-bcast.log" python3 "$probe" send 255.255.255.255 \
    9002 5 "$dir/b-bcast.json"
bb_pid=$BED_BG_PID
bed_bg client "$dir/a-bcast.log" python3 "$probe" send 255.255.255.255 \
    9002 20 "$dir/a-bcast.json"
ab_pid=$BED_BG_PID

from_b() {  # [IP] : the sink's count of B's packets (UDP + TCP)
    python3 -c 'import ipaddress, json, sys
s = json.load(open(sys.argv[1]))
b = ipaddress.ip_address(sys.argv[2])
print(sum(n for k in ("udp", "tcp") for a, n in s[k].items()
          if ipaddress.ip_address(a) == b))' \
        "$dir/sink.json" "${1:-$b_ip}" 2>/dev/null || echo 0
}
from_a() {
    python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s["udp"].get(sys.argv[2], 0))' "$dir/sink.json" "$a_ip" 2>/dev/null ||
        echo 0
}
check "A's probes reach the VM" bed_wait_until 5 eval '[ "$(from_a)" -gt 0 ]'

staged_check() {  # the target holds the port's policy while blocked
    local t=${VM_TNODE[vm1]}
    check "mirroring to $t: its copy is blocked" port_blocked "$t" "$key"
    check "... and already holds the port's policy flows" policed_on "$t"
    check "... its ingress rules (conjunctive match on the port)" \
        eval 'bed_dump_flows "$t" table=42 |
              grep -q "reg15=$keyhex actions=conjunction"'
    check "... and A's IPv6 address among the peers" \
        eval 'bed_dump_flows "$t" table=42 |
              grep -q "ipv6,ipv6_src=$a_ip6 actions=conjunction"'
}

# dump NAME : with $LB_POLICY_DUMP_DIR, every node's flows (docs/policy.md
# quotes them).
dump() {
    [ -n "${LB_POLICY_DUMP_DIR-}" ] || return 0
    mkdir -p "$LB_POLICY_DUMP_DIR"
    local n
    for n in node1 node2 node3; do
        bed_dump_flows "$n" > "$LB_POLICY_DUMP_DIR/$1-$n.txt"
    done
}

# The VM's connections to S: half opened before the migration, the rest
# while it mirrors.
n_fan=${LB_POLICY_FAN:-1000}
bed_bg server "$dir/fan-server.log" python3 "$probe" fan-server 9100
bed_wait_until 5 bed_exec server sh -c 'ss -ltn | grep -q :9100'
bed_bg g-vm1 "$dir/fan.log" python3 "$probe" fan-client "$s_ip" 9100 \
    "$n_fan" "$dir/fan.json" --ramp 10
fan_pid=$BED_BG_PID
# ... and over IPv6 (the same server, dual-stack).
n_fan6=${LB_POLICY_FAN6:-200}
bed_bg g-vm1 "$dir/fan6.log" python3 "$probe" fan-client "$s_ip6" 9100 \
    "$n_fan6" "$dir/fan6.json" --ramp 10
fan6_pid=$BED_BG_PID
handover_counts() {  # NODE : packets committed by the handover there
    bed_ofctl "$1" dump-flows table=0 | grep 'tun_id=0x8' |
        sed 's/.*n_packets=\([0-9]*\).*/\1/' | awk '{s += $1} END {print s + 0}'
}
fan() {  # FIELD [SUFFIX] : of fan$SUFFIX.json
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$dir/fan${2-}.json" "$1" 2>/dev/null || echo 0
}
# And idle ones: S says nothing on them until $dir/speak exists.
bed_bg server "$dir/idle-server.log" python3 "$probe" fan-server 9101 \
    --quiet-until "$dir/speak"
bed_wait_until 5 bed_exec server sh -c 'ss -ltn | grep -q :9101'
bed_bg g-vm1 "$dir/idle.log" python3 "$probe" fan-client "$s_ip" 9101 \
    200 "$dir/idle.json"
idle() {  # FIELD
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$dir/idle.json" "$1" 2>/dev/null || echo 0
}
check "the VM's 200 idle connections to S are open" \
    bed_wait_until 20 eval '[ "$(idle opened)" = 200 ]'
check "half the VM's connections to S are open" \
    bed_wait_until 20 eval '[ "$(fan opened)" -ge $((n_fan / 2)) ]'
check "half the VM's IPv6 connections to S are open" \
    bed_wait_until 20 eval '[ "$(fan opened 6)" -ge $((n_fan6 / 2)) ]'
# fan_survived : after a cutover, every connection (IPv4 and IPv6) got a
# line from S since (a fresh window) and none broke.
fan_survived() {
    kill -USR1 "$fan_pid" "$fan6_pid"
    sleep 3.5
    echo "VM's connections to S: $(cat "$dir/fan.json")"
    echo "VM's IPv6 connections to S: $(cat "$dir/fan6.json")"
    [ "$(fan opened)" = "$n_fan" ] && [ "$(fan broken)" = 0 ] &&
        [ "$(fan fresh)" = "$n_fan" ] &&
        [ "$(fan opened 6)" = "$n_fan6" ] && [ "$(fan broken 6)" = 0 ] &&
        [ "$(fan fresh 6)" = "$n_fan6" ]
}

# ---- There: node1 -> node2.
dump before
check "migration 1 (node1 -> node2): mirroring" vm_migrate_prepare vm1
staged_check
dump mirroring
# QEMU copies memory: connections keep opening and talking meanwhile.
sleep 4
echo "    node2 committed $(handover_counts node2) packets of the VM's" \
    "connections handed over so far"
check "all the VM's connections to S opened (during the mirroring too)" \
    bed_wait_until 10 eval '[ "$(fan opened)" = "$n_fan" ] &&
                            [ "$(fan opened 6)" = "$n_fan6" ]'
handed_over() {  # NODE : livebind-ctl there counts handed-over packets
    agent_ctl "$1" policies default_vm1 |
        grep -q 'conntrack handover to this node: [1-9][0-9]* packets'
}
check "livebind-ctl on node2 counts the packets handed over" \
    bed_wait_until 5 handed_over node2
check "migration 1: cutover" vm_migrate_cutover vm1
touch "$dir/speak"
check "migration 1: the 200 connections idle until after the cutover all work" \
    bed_wait_until 10 eval '[ "$(idle fresh)" = 200 ] && [ "$(idle broken)" = 0 ]'
echo "    idle connections after migration 1: $(cat "$dir/idle.json")"
check "migration 1: complete" vm_migrate_complete vm1
agent_ctl node2 policies default_vm1 | sed 's/^/    /'
dump after
check "node2 delivers through the policy" policed_on node2
check "canary flows on node2" bed_wait_until 5 canary_flowing vm1
check "... and over IPv6" bed_wait_until 5 canary_flowing vm1-6
check "the VM reaches S from node2" vm_to "$s_ip"
check "B does not reach the VM on node2" b_blocked
check "migration 1: the VM's $n_fan + $n_fan6 connections to S all survived" \
    bed_wait_until 10 fan_survived
flushes() {  # NODE : how many times its agent flushed the VM's zone
    grep -c 'default_vm1: flushed conntrack zone' \
        "$(bed_node_dir "$1")/agent.log" || true
}
flushed_on() { [ "$(flushes "$1")" -gt 0 ]; }
check "the source (node1) flushed the VM's zone there, the connections live on" \
    flushed_on node1
echo "    after migration 1: $(cat "$dir/fan.json")"
echo "    ... over IPv6: $(cat "$dir/fan6.json")"

# ---- Back: node2 -> node1.
check "migration 2 (node2 -> node1): mirroring" vm_migrate_prepare vm1
staged_check
sleep 1
check "migration 2: cutover" vm_migrate_cutover vm1
check "migration 2: complete" vm_migrate_complete vm1
check "canary flows back on node1" bed_wait_until 5 canary_flowing vm1
check "... and over IPv6" bed_wait_until 5 canary_flowing vm1-6
check "migration 2: the VM's connections to S all survived" \
    bed_wait_until 10 fan_survived

# ---- A failed one: node1 -> node2, the target pod goes away.
check "migration 3 (node1 -> node2): mirroring" vm_migrate_prepare vm1
staged_check
node2_flushes=$(flushes node2)
vmim_phase "${VM_MIG[vm1]}" Failed
cni node2 DEL "${VM_TPOD[vm1]}" >/dev/null || true
k8s_delete "/api/v1/namespaces/default/pods/${VM_TPOD[vm1]}"
check "failed migration: no migration flows left" \
    bed_wait_until 10 on_no_node has_migration_flows "$key"
check "failed migration: node2 holds no policy flows for the port" \
    bed_wait_until 10 eval '! policed_on node2'
check "canary flows after the failed migration" \
    bed_wait_until 5 canary_flowing vm1
check "failed migration: the VM's connections to S all survived" \
    bed_wait_until 10 fan_survived
check "the failed target (node2) flushed what was handed over to it" \
    bed_wait_until 5 eval '[ "$(flushes node2)" -gt "$node2_flushes" ]'

# ---- Without the handover: the same connections break at a cutover.
for n in node1 node2 node3; do
    agent_stop "$n"
    agent_k8s_start "$n" --no-ct-handover
done
for n in node1 node2 node3; do
    agent_wait_synced "$n"
done
check "migration 4, no handover (node1 -> node2): mirroring" \
    vm_migrate_prepare vm1
sleep 1
check "migration 4: cutover" vm_migrate_cutover vm1
check "migration 4: complete" vm_migrate_complete vm1
check "canary (A, admitted by the policy) still flows" \
    bed_wait_until 5 canary_flowing vm1
fan_broken() {
    kill -USR1 "$fan_pid" "$fan6_pid"
    sleep 3.5
    echo "VM's connections to S: $(cat "$dir/fan.json")"
    echo "VM's IPv6 connections to S: $(cat "$dir/fan6.json")"
    [ "$(fan fresh)" -lt $((n_fan / 2)) ] &&
        [ "$(fan fresh 6)" -lt $((n_fan6 / 2)) ]
}
check "without the handover, most connections to S stall (both families)" \
    fan_broken
echo "    after migration 4 (no handover): $(cat "$dir/fan.json")"
echo "    ... over IPv6: $(cat "$dir/fan6.json")"

# Verdicts.
sleep 1
kill "$b_pid" "$b6_pid" "$a_pid" "$bb_pid" "$ab_pid" 2>/dev/null || true
sleep 0.5
echo "B sent: $(cat "$dir/b-probe.json" 2>/dev/null)"
echo "B sent over IPv6: $(cat "$dir/b-probe6.json" 2>/dev/null)"
echo "sink: $(cat "$dir/sink.json")"
check "B's probes ran throughout (thousands sent)" python3 -c 'import json, sys
assert json.load(open(sys.argv[1]))["sent"] > 2000' "$dir/b-probe.json"
check "... and over IPv6" python3 -c 'import json, sys
assert json.load(open(sys.argv[1]))["sent"] > 2000' "$dir/b-probe6.json"
check "nothing of B's ever reached the VM, on either node" \
    test "$(from_b)" = 0
check "nothing of B's over IPv6 either" test "$(from_b "$b_ip6")" = 0
check "A's probes kept reaching the VM" eval '[ "$(from_a)" -gt 100 ]'
bcasts_from() {  # IP : the VM's count of broadcasts from IP
    python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["udp"].get(sys.argv[2], 0))' \
        "$dir/bsink.json" "$1" 2>/dev/null || echo 0
}
echo "broadcasts: B sent $(cat "$dir/b-bcast.json" 2>/dev/null)," \
    "A sent $(cat "$dir/a-bcast.json" 2>/dev/null); the VM got" \
    "$(bcasts_from "$a_ip") of A's, $(bcasts_from "$b_ip") of B's"
check "A's broadcasts reached the VM" \
    eval '[ "$(bcasts_from "$a_ip")" -gt 10 ]'
check "none of B's broadcasts ever reached the VM" \
    test "$(bcasts_from "$b_ip")" = 0
check "A's TCP stream: one connection, nothing lost" canary_verdict vm1
check "A's IPv6 TCP stream: one connection, nothing lost" \
    canary_verdict vm1-6
report
