#!/bin/bash
# System test of the admission of idle connections (lib/policy-admit.c,
# docs/policy.md "Connections idle until the migration completes"), on the
# real control plane: the VM vm1 has a default-deny ingress policy that
# admits client A only, and egress allowed to server S only.
#   - the VM opens $LB_IDLE_FAN TCP connections to S over IPv4 and as many
#     over IPv6, which then stay idle from before the migration until
#     after it has completed (the VMIM Succeeded, the source pod's CNI DEL
#     done and the pod deleted): the mirroring of the conntrack handover
#     never sees them;
#   - then S sends a line on each and the VM answers: every one works,
#     through the exact-tuple flows the target learned from the source's
#     tuples (their packet counts say so);
#   - a forged tuple, sent into the tunnel to the target with the
#     admission bit from a chassis that is not the port's (node3), and
#     packets of a pod (B) shaped like tuples, admit nothing: B still
#     cannot open that very connection to the VM afterwards;
#   - the learned flows survive an agent restart (a restarted agent sends
#     no flow-mod for them) and go when the port leaves the node;
#   - with the agents restarted with --no-ct-handover, the same kind of
#     idle connections all break at the next migration: the admission is
#     what carries them.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbi$$-}
export LB_IPV6=1                # bed.sh: keep IPv6 on in the namespaces.
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/vms.sh"
. "$srcdir/tests/system/policy.sh"

LB_SWITCH_PREFIX6=fd00:33::/64
LB_SWITCH_GATEWAY6=fd00:33::1
cluster_up 10.33.0.0/16 10.33.0.1
dir=$LB_BED_DIR
probe=$srcdir/tests/system/policy-probe.py
n_fan=${LB_IDLE_FAN:-200}

policy_vm_up

policy_vm1
check "the policy reaches node1's flows" bed_wait_until 10 policed_on node1
check "B no longer reaches the VM" \
    bed_wait_until 5 eval '! bed_exec client-b ping -c 1 -W 1 "$vm_ip"'

# The VM's sink for the connection B will try to open on a forged tuple.
bed_bg g-vm1 "$dir/sink.log" python3 "$probe" sink 7778 "$dir/sink.json"

# idle_fan PORT TAG : the VM opens $n_fan connections to S:PORT over IPv4
# ($dir/idleTAG.json) and as many over IPv6 ($dir/idleTAG-6.json); S says
# nothing on them until $dir/speakTAG exists.
idle_fan() {
    local port=$1 tag=$2
    bed_bg server "$dir/idle-server$tag.log" python3 "$probe" fan-server \
        "$port" --quiet-until "$dir/speak$tag"
    bed_wait_until 5 bed_exec server sh -c "ss -ltn | grep -q :$port" ||
        return 1
    bed_bg g-vm1 "$dir/idle$tag.log" python3 "$probe" fan-client "$s_ip" \
        "$port" "$n_fan" "$dir/idle$tag.json"
    bed_bg g-vm1 "$dir/idle$tag-6.log" python3 "$probe" fan-client \
        "$s_ip6" "$port" "$n_fan" "$dir/idle$tag-6.json"
    bed_wait_until 20 eval '[ "$(idle opened "$tag")" = "$n_fan" ] &&
                            [ "$(idle opened "$tag-6")" = "$n_fan" ]'
}
idle() {  # FIELD TAG
    python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
        "$dir/idle$2.json" "$1" 2>/dev/null || echo 0
}
# learned NODE : the number of tuples NODE's switch learned (table 46).
learned() {
    bed_ofctl "$1" dump-flows table=46 | grep -c 'cookie=0x8' || true
}
learned_packets() {  # NODE : packets that met them
    bed_ofctl "$1" dump-flows table=46 | grep 'cookie=0x8' |
        sed 's/.*n_packets=\([0-9]*\).*/\1/' |
        awk '{s += $1} END {print s + 0}'
}

check "the VM's $n_fan + $n_fan idle connections to S are open" \
    idle_fan 9101 1

# ---- Migration 1, node1 -> node2, with the handover.
check "migration 1 (node1 -> node2): mirroring" vm_migrate_prepare vm1

# Forgeries while node2 accepts tuples for the port.  From node3: a tuple
# of B's to the VM's port 7778, into the tunnel to node2 with the
# admission bit (a chassis that is not the port's main one).
tun3=$(bed_ovs node3 ovs-vsctl --bare --columns=ofport find interface \
           type=geneve "options:remote_ip=$(bed_node_ip node2)")
forged=$(python3 - "$b_ip" "$vm_ip" <<'EOF'
import socket, struct, sys
src, dst = (socket.inet_aton(a) for a in sys.argv[1:3])
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 16, 6, 0, src, dst)
s = sum(struct.unpack("!10H", ip))
s = (s & 0xffff) + (s >> 16)
ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
tcp = struct.pack("!HHIIBBHHH", 7777, 7778, 0, 0, 0x50, 0, 0, 0, 0)
eth = bytes.fromhex("0a580a00000b" "0a580a00000b" "0800")
print((eth + ip + tcp).hex())
EOF
)
into_tunnel="set_field:0x400001->tun_id,output:$tun3"   # switch key 1
check "node3 sends a forged tuple to node2 (tunnel ofport $tun3)" \
    bed_ofctl node3 packet-out \
    "in_port=controller,packet=$forged,actions=$into_tunnel"
# From pod B: datagrams and a SYN to the VM, TTL 16 as the tuples have.
check "B sends tuple-shaped packets to the VM" \
    bed_exec client-b python3 -c 'import socket, sys
for fam, ip in ((socket.AF_INET, sys.argv[1]),):
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 16)
    for i in range(5):
        u.sendto(b"x", (ip, 7778))
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 16)
    t.settimeout(0.5)
    try:
        t.connect((ip, 7778))
    except OSError:
        pass' "$vm_ip"
sleep 1
check "migration 1: cutover" vm_migrate_cutover vm1
# KubeVirt reports completion once the source's QEMU is done, seconds
# after the target runs; the source sends the tuples the moment it sees
# the target activated.  Wait for them as KubeVirt would.
check "node2 learned the source's tuples before completion" \
    bed_wait_until 10 eval '[ "$(learned node2)" -ge $((2 * n_fan)) ]'
echo "    node2 learned $(learned node2) tuples"
# With $LB_POLICY_DUMP_DIR, node2's flows now (docs/pipeline.md quotes
# them).
if [ -n "${LB_POLICY_DUMP_DIR-}" ]; then
    mkdir -p "$LB_POLICY_DUMP_DIR"
    bed_ofctl node2 dump-flows > "$LB_POLICY_DUMP_DIR/admit-node2.txt"
fi
agent_ctl node1 policies default_vm1 | sed 's/^/    /'
check "node1 says how many tuples it sent" \
    eval 'agent_ctl node1 policies default_vm1 |
          grep -q "tuples sent to node2: [1-9]"'
check "nothing learned for the forged tuple, nor for B" \
    eval '! bed_ofctl node2 dump-flows table=46 |
          grep -e "tp_src=7777" -e "tp_dst=7777" -e "nw_src=$b_ip," \
               -e "nw_dst=$b_ip,"'
check "no tuple learned on node1 or node3" \
    eval '[ "$(learned node1)" = 0 ] && [ "$(learned node3)" = 0 ]'
check "migration 1: complete (VMIM Succeeded, source pod deleted)" \
    vm_migrate_complete vm1
check "livebind-ctl on node2 counts the admitted tuples" \
    bed_wait_until 5 eval 'agent_ctl node2 policies default_vm1 |
                           grep -q "admitted on this node: [1-9]"'
agent_ctl node2 policies default_vm1 | sed 's/^/    /'
sleep 1
echo "    before S speaks: $(cat "$dir/idle1.json") $(cat "$dir/idle1-6.json")"

# Now S speaks on every one, the VM answers.
touch "$dir/speak1"
all_work() {  # TAG
    [ "$(idle fresh "$1")" = "$n_fan" ] && [ "$(idle broken "$1")" = 0 ] &&
        [ "$(idle fresh "$1-6")" = "$n_fan" ] &&
        [ "$(idle broken "$1-6")" = 0 ]
}
check "after completion, all $n_fan + $n_fan idle connections work" \
    bed_wait_until 15 all_work 1
echo "    IPv4: $(cat "$dir/idle1.json")"
echo "    IPv6: $(cat "$dir/idle1-6.json")"
echo "    packets that met node2's learned tuples: $(learned_packets node2)"
check "... through the learned tuples" \
    eval '[ "$(learned_packets node2)" -ge $((2 * n_fan)) ]'
check "B cannot open the forged tuple's connection" \
    eval '! bed_exec client-b python3 -c "import socket, sys
s = socket.socket()
s.bind((\"\", 7777))
s.settimeout(1)
s.connect((sys.argv[1], 7778))" "$vm_ip"'
check "... nothing of B's reached the VM" eval 'python3 -c "import json, sys
s = json.load(open(sys.argv[1]))
assert not s[\"udp\"] and not s[\"tcp\"], s" "$dir/sink.json"'

# ---- Restarted agents: the learned flows stay, and the restarted agent
# sends no flow-mod for them (ofctrl neither compares nor deletes them);
# they go when the port leaves node2.
n_learned=$(learned node2)
agent_stop node2
agent_k8s_start node2
agent_wait_synced node2
sleep 1
check "node2's restarted agent sent zero flow-mods" \
    agent_flow_mods_equal node2 0
check "... and left the $n_learned learned tuples be" \
    eval '[ "$(learned node2)" = "$n_learned" ]'
# From now on, without the handover.
for n in node1 node2 node3; do
    agent_stop "$n"
    agent_k8s_start "$n" --no-ct-handover
done
for n in node1 node2 node3; do
    agent_wait_synced "$n"
done
sleep 1
check "agents restarted with --no-ct-handover leave them be too" \
    eval '[ "$(learned node2)" = "$n_learned" ]'

# ---- Migration 2, node2 -> node1, without the handover: new idle
# connections break.
check "new idle connections to S are open" idle_fan 9102 2
check "migration 2, no handover (node2 -> node1): mirroring" \
    vm_migrate_prepare vm1
sleep 1
check "migration 2: cutover" vm_migrate_cutover vm1
sleep 1
check "migration 2: complete" vm_migrate_complete vm1
check "the port left node2: its learned tuples went" \
    bed_wait_until 5 eval '[ "$(learned node2)" = 0 ]'
check "nothing learned on node1 without the handover" \
    eval '[ "$(learned node1)" = 0 ]'
touch "$dir/speak2"
sleep 5
echo "    IPv4: $(cat "$dir/idle2.json")"
echo "    IPv6: $(cat "$dir/idle2-6.json")"
check "without the handover, the idle connections stall (both families)" \
    eval '[ "$(idle fresh 2)" -lt $((n_fan / 2)) ] &&
          [ "$(idle fresh 2-6)" -lt $((n_fan / 2)) ]'
report
