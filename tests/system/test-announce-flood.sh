#!/bin/bash
# System test: pods on a migration's target node flood the switch with
# RARP, GARP and NA frames, their own MAC's and the migrating VMs', as fast
# as they can, while a real migration to that node cuts over.
#
# The packet-ins of a blocked port go through that port's own meter in the
# switch (docs/pipeline.md), so the flood costs the agent at most 20 a
# second from the flooding port and nothing of another VM's allowance: the
# meter shows the drops, the agent answers its status and CNI requests
# throughout, and the real VM's first RARP still activates its port.
# Prints the figures: the flood's rate, the meters' counts, the agent's
# packet-ins and status latency, the activation latency with and without
# the flood.
#
# VMs: vm1 and vm3 are real (a guest behind a bridge, as in
# test-migration.sh) and migrate node1 -> node2, vm1 before the flood (the
# unflooded figure), vm3 during it.  vm2 also migrates to node2 and its
# target pod floods: its own frames tagged with a VLAN, which match its
# controller flows but which the agent rejects, so that its port stays
# blocked and the flood keeps hitting its meter; and the VMs' MAC
# untagged.  A plain pod on node2 floods too (its own frames untagged).
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbaf$$-}
FLOOD_SECONDS=${FLOOD_SECONDS:-8}
. "$srcdir/tests/system/cluster.sh"

cluster_up 10.60.0.0/16 10.60.0.1
dir=$LB_BED_DIR

declare -A vmi_uid vmim_uid
for i in 1 2 3; do
    vmi_uid[$i]=$(vmi_create "vm$i" node1)
    check "vm$i's pod on node1" \
        add_pod node1 "src$i" "$(launcher_meta "vm$i" "${vmi_uid[$i]}")"
done
for i in 1 3; do
    guest_create "g$i" "$(mac_of "src$i")" "$(ip_of "src$i")/16"
    vm_pod_bridge "src$i" "g$i" up-a
    ip -n "${LB_PREFIX}g$i" link set up-a up
done
t0=${EPOCHREALTIME/./}
check "a plain pod on node2" add_pod node2 plain
add0_ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
for i in 1 2 3; do
    vmim_uid[$i]=$(vmim_create "mig$i" "vm$i")
    vmim_phase "mig$i" Scheduling
    check "vm$i's target pod on node2" add_pod node2 "dst$i" \
        "$(launcher_meta "vm$i" "${vmi_uid[$i]}" "${vmim_uid[$i]}" "mig$i")"
    if [ "$i" != 2 ]; then
        vm_pod_bridge "dst$i" "g$i" up-b
    fi
    vmim_phase "mig$i" Running
done
for i in 1 2 3; do
    key[$i]=$(key_of "src$i")
done
all_blocked() {
    local i
    for i in 1 2 3; do
        port_blocked node2 "${key[$i]}" || return 1
    done
}
check "the three target copies are blocked on node2" \
    bed_wait_until 10 all_blocked

# meter_ids NODE : the ids of NODE's meters, sorted, on one line.
meter_ids() {
    bed_ofctl "$1" dump-meters | sed -n 's/^meter=\([0-9]*\) .*/\1/p' |
        sort -n | tr '\n' ' '
}
want_meters=$(printf '%s\n' "${key[@]}" | sort -n | tr '\n' ' ')
check "node2 has one meter for each blocked port, the port's key" \
    test "$(meter_ids node2)" = "$want_meters"
check "node1 and node3 have no meter" \
    test -z "$(meter_ids node1)$(meter_ids node3)"
echo "node2's meters:"
bed_ofctl node2 dump-meters | sed 's/^/    /'
controller_flows() {
    bed_dump_flows node2 | grep 'controller(' || true
}
every_controller_flow_metered() {
    local n; n=$(controller_flows | wc -l)
    [ "$n" -ge 9 ] || return 1
    ! controller_flows | grep -v 'meter_id=' | grep -q .
}
check "every controller flow on node2 names a meter" \
    every_controller_flow_metered
echo "node2's controller flows:"
controller_flows | sed 's/^/    /'

# A restarted agent reads the meters back: nothing to send.
agent_stop node2
agent_k8s_start node2
agent_wait_synced node2
check "restarted agent (node2) is synced" agent_wait_installed node2
check "restarted agent sent zero flow-mods" agent_flow_mods_equal node2 0
check "restarted agent sent zero meter-mods" agent_meter_mods_equal node2 0

# ---- Figures.
# status_ms : one "status" round trip to node2's agent, in ms (ovs-appctl's
# own start included); fails if no answer within 5 s.
status_ms() {
    local t0=${EPOCHREALTIME/./}
    agent_ctl node2 -T 5 status >/dev/null || return 1
    echo $(( (${EPOCHREALTIME/./} - t0) / 1000 ))
}
# probe_status FILE : status_ms every 100 ms until FILE.stop exists.
probe_status() {
    while [ ! -e "$1.stop" ]; do
        status_ms || echo fail
        sleep 0.1
    done > "$1"
}
# summary FILE : "n N, median M ms, max X ms" of the figures in FILE.
summary() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        if (!NR) { print "none"; exit }
        printf "n %d, median %d ms, max %d ms\n", NR,
               v[int((NR + 1) / 2)], v[NR]
    }'
}
# agent_stat NODE FIELD : a counter from the agent's status.
agent_stat() {
    agent_ctl "$1" status | sed -n "s/.*$2: \([0-9]*\).*/\1/p"
}
# meter_stat NODE ID FIELD : "packet_in_count" or the drop band's
# "packet_count" of meter ID.
meter_stat() {
    bed_ofctl "$1" meter-stats | awk -v id="meter:$2" -v f="$3" '
        function field() {
            for (i = 1; i <= NF; i++) {
                if ($i ~ "^" f ":") { sub(f ":", "", $i); print $i; exit }
            }
        }
        $1 == id { on = 1; field() }
        on && /^ *0:/ { field() }'
}
# activate N : cut vm N over to node2, as cutover_and_announce does, with
# flood.py's timed announcement; prints the agent's activation latency (the
# VM's packet-in to the flows in the switch), and the time from the VM's
# first RARP to the agent's packet-in (ms, the agent log's resolution; the
# second RARP follows the first by 50 ms).  The agent names the port after
# its LogicalPort, "vmN", perhaps with its namespace in front.
activate() {
    local n=$1 log; log=$(bed_node_dir node2)/agent.log
    local port="port ([^ ]*_)?vm$n:" ns=${LB_PREFIX}g$n
    ip -n "$ns" link set up-b up
    bed_wait_until 5 eval "bridge -n $ns link show dev up-b |
                           grep -q 'state forwarding'" || return 1
    bridge -n "$ns" link set dev up-b state 0
    printf 'link set dev up-b state 3\nlink set dev up-a state 0\n' \
        > "$dir/cutover.$n"
    bed_exec "g$n" python3 "$srcdir/tests/system/flood.py" announce br0 \
        "$(mac_of "src$n")" --cutover "$dir/cutover.$n" \
        --stamp "$dir/stamp.$n" || return 1
    bed_wait_until 5 port_not_blocked node2 "${key[$n]}" || return 1
    bed_wait_until 5 grep -Eq "$port unblocked in the switch" "$log" ||
        return 1
    local us; us=$(sed -En \
        "s/.*$port unblocked in the switch ([0-9]*) us.*/\\2/p" "$log" |
        tail -1)
    local seen; seen=$(grep -E "$port .* from the VM on ofport" "$log" |
                       tail -1 | cut -d'|' -f1)
    local seen_us; seen_us=$(date -d "$seen" +%s%6N)
    local ms=$(( (seen_us - $(cat "$dir/stamp.$n")) / 1000 ))
    # The log has whole milliseconds: a packet-in in the same one reads -1.
    echo "$us $(( ms < 0 ? 0 : ms ))"
}

for i in $(seq 20); do status_ms; sleep 0.05; done > "$dir/status.quiet"
echo "status latency, no flood: $(summary "$dir/status.quiet")"

check "vm1 (no flood): its RARP unblocks its port on node2" \
    eval 'read -r act1 seen1 < <(activate 1) && [ -n "$act1" ]'
echo "activation, no flood: ${act1:-?} us after the packet-in," \
     "seen ${seen1:-?} ms after the VM's first RARP"

# ---- The flood.
pins0=$(agent_stat node2 packet-ins)
rm -f "$dir/status.flood.stop"
probe_status "$dir/status.flood" &
probe_pid=$!
bed_bg dst2 "$dir/flood.dst2.log" python3 "$srcdir/tests/system/flood.py" \
    eth0 "$(mac_of dst2)" "$(ip_of dst2)" "$(mac_of src3)" "$(ip_of src3)" \
    --seconds "$FLOOD_SECONDS" --stats "$dir/flood.dst2"
flood_pid=$BED_BG_PID
bed_bg plain "$dir/flood.plain.log" python3 "$srcdir/tests/system/flood.py" \
    eth0 "$(mac_of plain)" "$(ip_of plain)" "$(mac_of src3)" \
    "$(ip_of src3)" --seconds "$FLOOD_SECONDS" --own-untagged \
    --stats "$dir/flood.plain"
flood2_pid=$BED_BG_PID
sleep 2

drops_of() { meter_stat node2 "$1" packet_count; }
has_drops() { [ "$(drops_of "$1")" -gt 0 ] 2>/dev/null; }
check "the flooding port's meter drops packet-ins" \
    bed_wait_until 3 has_drops "${key[2]}"
check "vm3's meter drops nothing (the flood is not its)" \
    test "$(drops_of "${key[3]}")" = 0
check "the flooding port stays blocked (the agent rejects tagged frames)" \
    port_blocked node2 "${key[2]}"
echo "node2's meter-stats during the flood:"
bed_ofctl node2 meter-stats | sed 's/^/    /'

t0=${EPOCHREALTIME/./}
check "a new pod on node2 (watch event, API writes, CNI ADD) is served \
during the flood" \
    add_pod node2 late
add_ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
echo "new pod (CNI ADD) during the flood: $add_ms ms (no flood: $add0_ms ms)"

check "vm3 (flood): its RARP still unblocks its port on node2" \
    eval 'read -r act3 seen3 < <(activate 3) && [ -n "$act3" ]'
echo "activation, flood: ${act3:-?} us after the packet-in," \
     "seen ${seen3:-?} ms after the VM's first RARP" \
     "(no flood: ${act1:-?} us, ${seen1:-?} ms)"

wait "$flood_pid" || true
wait "$flood2_pid" || true
touch "$dir/status.flood.stop"
wait "$probe_pid" || true
pins=$(( $(agent_stat node2 packet-ins) - pins0 ))
drops=$(drops_of "${key[2]}")
passed=$(meter_stat node2 "${key[2]}" packet_in_count)
read -r sent secs < "$dir/flood.dst2" || sent=0 secs=1
read -r sent2 secs2 < "$dir/flood.plain" || sent2=0 secs2=1
echo "flood: flooding target pod sent $sent frames in $secs s," \
     "plain pod $sent2 in $secs2 s"
echo "flooding port's meter: $passed packets in, $drops dropped;" \
     "the agent received $pins packet-ins over the flood"
echo "status latency, flood: $(summary <(grep -v fail "$dir/status.flood"))"
check "the agent answered every status during the flood" \
    eval '! grep -q fail "$dir/status.flood" && [ -s "$dir/status.flood" ]'
check "the agent received no more packet-ins than the meter let through" \
    test "$pins" -le "$((passed - drops + 6))"

# ---- The same flood with the meter gone (deleted behind the agent's
# back; the flows keep naming it and the datapath lets all through): the
# agent takes at most 128 messages from the switch per loop iteration and
# OVS queues at most 100 packet-ins for it, so it still answers.
check "the flooding port's meter deleted in the switch" \
    bed_ofctl node2 del-meters "meter=${key[2]}"
pins0=$(agent_stat node2 packet-ins)
rm -f "$dir/status.nometer.stop"
probe_status "$dir/status.nometer" &
probe_pid=$!
bed_bg dst2 "$dir/flood.nometer.log" python3 \
    "$srcdir/tests/system/flood.py" eth0 "$(mac_of dst2)" "$(ip_of dst2)" \
    "$(mac_of src1)" "$(ip_of src1)" --seconds 4 \
    --stats "$dir/flood.nometer"
flood_pid=$BED_BG_PID
sleep 1
t0=${EPOCHREALTIME/./}
check "a new pod on node2 is served during the unmetered flood" \
    add_pod node2 late2
add2_ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
wait "$flood_pid" || true
touch "$dir/status.nometer.stop"
wait "$probe_pid" || true
pins=$(( $(agent_stat node2 packet-ins) - pins0 ))
read -r sent secs < "$dir/flood.nometer" || sent=0 secs=1
echo "unmetered flood: $sent frames in $secs s; the agent received $pins" \
     "packet-ins; CNI ADD $add2_ms ms"
echo "status latency, unmetered flood:" \
     "$(summary <(grep -v fail "$dir/status.nometer"))"
check "the agent answered every status during the unmetered flood" \
    eval '! grep -q fail "$dir/status.nometer" && [ -s "$dir/status.nometer" ]'
check "the flooding port still stays blocked" port_blocked node2 "${key[2]}"

# Once the migrations are over, no meter is left.
for i in 1 2 3; do
    vmim_phase "mig$i" Succeeded
    pod_phase "src$i" Succeeded
done
check "no meter left on node2 once the migrations are over" \
    bed_wait_until 10 eval '[ -z "$(meter_ids node2)" ]'

report
