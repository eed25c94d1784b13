#!/bin/bash
# System test of live migration with a real VM: QEMU (TCG) boots the test
# guest (utilities/build-guest.sh) in a virt-launcher pod attached as
# KubeVirt's bridge binding attaches it, and QEMU itself live-migrates it
# node1 -> node2 -> node1, then a third migration is cancelled.  KubeVirt's
# controllers are emulated in step with QEMU (tests/system/qemu.sh), a
# real kube-apiserver (tests/system/control-plane.sh) serves the objects,
# and the CNI plugin plumbs every pod through libcni.  The switch is
# dual-stack: the guest is given its IPv4 address on its kernel command
# line but configures IPv6 by SLAAC from the router advertisement livebind's
# agent answers its solicitation with, as a VM in bridge mode does.  A
# client pod on node3 streams TCP messages to the guest's echo server over
# IPv4 and over IPv6 and sends it UDP probes throughout.
#
# Checked: the guest's SLAAC address is the one livebind allocated (the
# prefix + EUI-64 of the port's MAC), made by the kernel's autoconfiguration
# (not added by hand), and its default route was learnt from the RA, via
# the switch gateway's link-local address; for both TCP streams one
# connection and no message lost; no frame reaches the
# target's tap before QEMU resumes the VM there (the target copy is
# blocked); the client's first frame after the resume follows QEMU's first
# RARP (the activation; how soon is printed); migration flows during each
# migration and none after it ends; after the cancel the VM runs on the
# source alone.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbq$$-}
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/qemu.sh"

export LB_IPV6=1                # bed.sh: keep IPv6 on in the namespaces.
qemu_require

LB_SWITCH_PREFIX6=fd00:40::/64
LB_SWITCH_GATEWAY6=fd00:40::1
GW_LLA=fe80::859:ff:fe00:1      # The switch's gateway (key 1), docs/ipv6.md.
QEMU_IPV6=slaac
cluster_up 10.40.0.0/16 10.40.0.1
dir=$LB_BED_DIR

check "client pod on node3" add_pod node3 client
client_ip=$(ip_of client)
t0=$(date +%s.%N)
check "VM vm1 boots in QEMU in launcher-1 on node1" \
    qemu_vm_create vm1 node1 launcher-1 10.40.0.0/16 10.40.0.1
key=$(key_of launcher-1)
echo "VM vm1: $QEMU_VM_IP $QEMU_VM_MAC, port key $(printf '%#x' "$key")"
check "the client reaches the guest" bed_wait_until 120 \
    bed_exec client ping -c 1 -W 1 "${QEMU_VM_IP%/*}"
echo "    boot to first ping: $(echo "$(date +%s.%N) - $t0" | bc) s"
vm_ip=${QEMU_VM_IP%/*}

# IPv6 by SLAAC.  The guest prints what its kernel configured once it has
# an address (past duplicate address detection) and a default route.
vm_ip6=$(ip6_of launcher-1)
echo "VM vm1: livebind allocated $vm_ip6"
check "QEMU's kernel command line names no IPv6 address or route" \
    sh -c "! tr '\\0' ' ' < /proc/$(cat "$dir/qemu.launcher-1.pid")/cmdline |
           grep -Eq 'fd00:40|lb\.ip6|lb\.gw6|fe80:'"
check "the guest configured IPv6 from the RA" \
    bed_wait_until 60 qemu_guest_ipv6 launcher-1
guest6=$(qemu_guest_ipv6 launcher-1)
echo "    guest's IPv6: $guest6"
g6() {  # PYTHON-EXPR over the guest's IPv6 report g
    python3 -c "import json, sys; g = json.loads(sys.argv[1])
sys.exit(0 if ($1) else 1)" "$guest6"
}
check "the guest's SLAAC address is the one livebind allocated" \
    g6 "g['address'] == '$vm_ip6' and g['prefixlen'] == 64"
check "the kernel made it by autoconfiguration (not IFA_F_PERMANENT)" \
    g6 "not g['addr_flags'] & 0x80"
check "its default route is the RA's: via the gateway's link-local address" \
    g6 "g['gateway'] == '$GW_LLA'"
check "... learnt from the RA (RTF_ADDRCONF|RTF_DEFAULT|RTF_GATEWAY)" \
    g6 "g['route_flags'] & 0x50003 == 0x50003"
check "the client reaches the guest over IPv6" \
    bed_wait_until 20 bed_exec client ping -6 -c 1 -W 1 "$vm_ip6"

# The canaries, client -> guest's echo server: TCP every 10 ms, UDP every
# 5 ms (the UDP probes time the cutover on the target's tap).
bed_bg client "$dir/tcp-canary.log" python3 \
    "$srcdir/tests/system/echo-canary.py" tcp "$vm_ip" 7 "$dir/tcp.json" 10
tcp_pid=$BED_BG_PID
bed_bg client "$dir/tcp6-canary.log" python3 \
    "$srcdir/tests/system/echo-canary.py" tcp "$vm_ip6" 7 "$dir/tcp6.json" 10
tcp6_pid=$BED_BG_PID
bed_bg client "$dir/udp-canary.log" python3 \
    "$srcdir/tests/system/echo-canary.py" udp "$vm_ip" 7 "$dir/udp.json" 5
udp_pid=$BED_BG_PID
echoed() { qemu_json "$dir/$1.json.live" echoed 2>/dev/null || echo 0; }
canary_flowing() {  # both TCP streams' echoes grow within half a second
    local a b a6 b6
    a=$(echoed tcp); a6=$(echoed tcp6); sleep 0.5
    b=$(echoed tcp); b6=$(echoed tcp6)
    [ "$b" -gt "$a" ] && [ "$b6" -gt "$a6" ]
}
check "TCP canary echoes flow (IPv4 and IPv6)" bed_wait_until 20 canary_flowing

tap_field() { qemu_json "$dir/tap.$1.json" "$2"; }  # POD FIELD
sends_to_one() {  # NODE: its output flow for the VM has one tunnel
    bed_dump_flows "$1" | grep "reg15=$(printf '%#x' "$key"),metadata" |
        grep -v reg14 | grep -q 'tun_id,output:[0-9]*$'
}

# migrate VMIM SRC_NODE SRC_POD TGT_NODE TGT_POD : one live migration,
# checked at each phase.
migrate() {
    local vmim=$1 sn=$2 sp=$3 tn=$4 tp=$5 m=$1
    check "$m: target pod $tp on $tn, QEMU waiting (-incoming defer)" \
        qemu_mig_prepare "$@"
    check "$m: migration flows on every node" \
        bed_wait_until 10 on_all_nodes has_migration_flows "$key"
    check "$m: the target copy on $tn is blocked" port_blocked "$tn" "$key"
    check "$m: TargetReady (target QEMU listening)" \
        qemu_mig_target_ready "$vmim" "$tp"
    check "$m: Running: QEMU migrates" qemu_mig_run "$vmim" "$sp"
    check "$m: completed, the target QEMU resumed" qemu_mig_wait "$sp" "$tp"
    check "$m: the VM runs on $tn" test "$(qemu_status "$tp")" = running
    check "$m: the VM's RARP unblocked its port on $tn" \
        bed_wait_until 5 port_not_blocked "$tn" "$key"
    check "$m: migration flows still there before Succeeded" \
        on_all_nodes has_migration_flows "$key"
    # Let the capture see the client's frames, then read it.
    sleep 1
    check "$m: Succeeded; source pod $sp gone" \
        qemu_mig_succeed "$vmim" "$sn" "$sp" "$tn" "$tp"
    check "$m: migration flows gone everywhere" \
        bed_wait_until 10 on_no_node has_migration_flows "$key"
    check "$m: the port is bound to $tn alone (node3 sends to one node)" \
        bed_wait_until 10 sends_to_one node3
    qemu_tap_report "$tp" "$client_ip" > "$dir/tap.$tp.json"
    echo "    $m: QEMU downtime $(qemu_mig_downtime "$sp") ms," \
        "source STOP -> target RESUME $(qemu_stop_to_resume "$sp" "$tp") ms;" \
        "target tap:" \
        "$(cat "$dir/tap.$tp.json")"
    check "$m: zero frames delivered to the target tap before RESUME" \
        test "$(tap_field "$tp" to_vm_before_resume)" = 0
    check "$m: QEMU's RARP on the target tap after RESUME" \
        test "$(tap_field "$tp" resume_to_rarp_ms)" != None
    local r2c; r2c=$(tap_field "$tp" rarp_to_client_ms)
    echo "    $m: first RARP -> client's first frame on the target tap:" \
        "$r2c ms (QEMU's second RARP round: $(tap_field "$tp" \
        resume_to_rarp2_ms) ms after RESUME)"
    # Order, not speed: the client's frames reach the VM only once its
    # RARP has activated the target copy.  How soon is the benchmark's
    # figure (tests/bench), not asserted: this runs on busy CI machines.
    check "$m: the client's first frame follows QEMU's first RARP" \
        python3 -c 'import sys; sys.exit(not float(sys.argv[1]) >= 0)' "$r2c"
    check "$m: TCP canary flows after the migration" \
        bed_wait_until 10 canary_flowing
}

migrate mig1 node1 launcher-1 node2 launcher-2
migrate mig2 node2 launcher-2 node1 launcher-3

# ---- Migration 3: node1 -> node2, cancelled while QEMU copies memory
# (slowed down so that there is time to cancel).
qmp launcher-3 migrate-set-parameters '{"max-bandwidth": 2000000}' >/dev/null
check "mig3: target pod launcher-4 on node2, QEMU waiting" \
    qemu_mig_prepare mig3 node1 launcher-3 node2 launcher-4
check "mig3: migration flows on every node" \
    bed_wait_until 10 on_all_nodes has_migration_flows "$key"
check "mig3: TargetReady" qemu_mig_target_ready mig3 launcher-4
check "mig3: Running: QEMU migrates" qemu_mig_run mig3 launcher-3
migrating() {
    qmp launcher-3 query-migrate | grep -q '"status": "active"'
}
check "mig3: the migration is under way" bed_wait_until 10 migrating
sleep 0.5
check "mig3: migrate_cancel; Failed; the target pod gone" \
    qemu_mig_cancel mig3 node1 launcher-3 node2 launcher-4
check "mig3: QEMU reports the migration cancelled" \
    grep -q '"status": "cancelled"' "$dir/qemu.launcher-3.migrate"
check "mig3: the VM keeps running on node1" \
    test "$(qemu_status launcher-3)" = running
check "mig3: migration flows gone everywhere" \
    bed_wait_until 10 on_no_node has_migration_flows "$key"
check "mig3: the port is bound to node1 alone" \
    bed_wait_until 10 sends_to_one node3
check "mig3: the VM's port on node1 is not blocked" \
    port_not_blocked node1 "$key"
check "mig3: zero frames delivered to the cancelled target's tap" \
    test "$(grep -c ' to-vm ' "$dir/qemu.launcher-4.tap")" = 0
check "mig3: TCP canary flows after the cancel" \
    bed_wait_until 10 canary_flowing

# The canaries' verdict.
kill "$tcp_pid" "$tcp6_pid" "$udp_pid"
bed_wait_until 10 test -s "$dir/tcp.json"
bed_wait_until 10 test -s "$dir/tcp6.json"
bed_wait_until 10 test -s "$dir/udp.json"
echo "TCP canary: $(cat "$dir/tcp.json")"
echo "TCP canary over IPv6: $(cat "$dir/tcp6.json")"
echo "UDP probes: $(cat "$dir/udp.json")"
canary_field() { qemu_json "$dir/$1" "$2"; }  # FILE FIELD
for c in tcp tcp6; do
    check "$c: one TCP connection throughout (no reconnect)" \
        test "$(canary_field $c.json connections)" = 1
    check "$c: no TCP message lost" test "$(canary_field $c.json lost)" = 0
    check "$c: TCP echoes in order" \
        test "$(canary_field $c.json out_of_order)" = 0
done

report
