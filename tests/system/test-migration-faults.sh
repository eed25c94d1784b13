#!/bin/bash
# System test: faults during a live migration.  VM vm1 migrates between
# node1 and node2 with a TCP canary from a client on node3; vm2 idles on
# node1.  Each fault strikes in the middle of mirroring and again right
# after activation:
#
#   vswitchd   ovs-vswitchd of the VM's node restarted (the agent puts the
#              flows back; the canary's outage is printed)
#   ovsdb      ovsdb-server of the VM's node restarted
#   api-cut    the API unreachable from the target node for 5 s across
#              the cutover: activation is still local and immediate, the
#              API catches up after
#   api-restart, api-compact
#              the API server restarted; its history compacted (410)
#   cni-kill   the CNI plugin killed in the middle of an ADD (the target's,
#              and a new pod's right after activation): no half-plumbed
#              pod, no address leaked, the retried ADD succeeds
#   netem      the underlay with 1% loss and 5 ms delay on every node's
#              link, both ways, for a whole migration: it converges, the
#              canary keeps its connection; its outage is printed.  Real
#              netem where the kernel has sch_netem; where it has not (nor
#              cls_matchall or fq: tc cannot impair at all), a test double
#              for it, the userspace forwarder impair.py spliced into each
#              link (bed.sh's bed_impair)
#
# then agents killed with SIGKILL at random points of a run of migrations,
# $LB_FAULT_KILLS times (10; `make soak-kills` the full 50).
# LB_FAULTS (a list of the names above) runs only those; empty, only the
# SIGKILLs.  After each: no migration flows anywhere, the owners right,
# every node's flows those a freshly started agent installs (restarted, it
# sends zero flow-mods), the canary flowing and vm2 reachable; after each
# pair of SIGKILLs also no migration left in progress in any agent, and no
# IP allocation, OVS port or meter leaked; at the end the canary kept its
# one connection.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbf$$-}
KILLS=${LB_FAULT_KILLS:-10}
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/vms.sh"

cluster_up 10.60.0.0/16 10.60.0.1
dir=$LB_BED_DIR
exec 3>&1       # checks made inside a check print here

check "client pod on node3" vms_client
check "vm1 on node1, reachable" vm_new vm1
check "vm1's canary flows" vm_canary vm1 7001
check "vm2 (idle) on node1, reachable" vm_new vm2

outages=()

# converged TAG : the end state every fault must reach.
converged() {
    local tag=$1 n
    check "$tag: no migration flows, owners right" \
        bed_wait_until 15 eval "vm_converged vm1 && vm_converged vm2"
    check "$tag: no migration-cookie flow on any node" \
        on_all_nodes no_migration_cookie
    for n in 1 2 3; do
        check "$tag: node$n's flows are a fresh agent's" \
            flows_as_fresh "node$n"
    done
    check "$tag: canary flows" bed_wait_until 10 canary_flowing vm1
    check "$tag: idle vm2 reachable" bed_wait_until 5 vm_reachable vm2
}

# run_fault FAULT : a migration of vm1 with FAULT in the middle of
# mirroring, then one with FAULT right after activation.
run_fault() {
    local fault=$1 when
    for when in mirroring activated; do
        local tag="$fault ($when)"
        canary_window vm1
        # The CNI plugin's fault strikes the target's ADD itself.
        [ "$fault$when" != cni-killmirroring ] ||
            VM_TARGET_ADD=target_add_killed
        check "$tag: mirroring" vm_migrate_prepare vm1
        VM_TARGET_ADD=
        [ "$when" != mirroring ] || "fault_$fault" "$tag" mirroring
        [ "$fault$when" = api-cutmirroring ] ||  # fault_api-cut did it
            check "$tag: cutover" vm_migrate_cutover vm1
        [ "$when" != activated ] || "fault_$fault" "$tag" activated
        check "$tag: completion" vm_migrate_complete vm1
        local gap; gap=$(canary_gap vm1)
        echo "$tag: canary's longest silence ${gap} ms"
        outages+=("$tag: ${gap} ms")
        converged "$tag"
    done
}

# The node the VM's traffic goes through now.
vm_node_now() {
    [ "$1" = mirroring ] && echo "${VM_NODE[vm1]}" || echo "${VM_TNODE[vm1]}"
}

# ---- ovs-vswitchd restarted.
flow_mods() {  # NODE : flow-mods its agent sent so far
    agent_ctl "$1" status | sed -n 's/.*flow-mods: \([0-9]*\).*/\1/p'
}
fault_vswitchd() {
    local node; node=$(vm_node_now "$2")
    local before; before=$(bed_dump_flows "$node")
    local mods0; mods0=$(flow_mods "$node")
    local t0=$EPOCHREALTIME
    check "$1: $node's ovs-vswitchd restarted" bed_restart "$node" ovs-vswitchd
    check "$1: $node's agent put the same flows back" bed_wait_until 30 \
        eval '[ "$(bed_dump_flows "$node")" = "$before" ]'
    local ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
    local sent=$(( $(flow_mods "$node") - mods0 )) n
    n=$(wc -l <<<"$before")
    echo "$1: ovs-vswitchd stopped to flows back: $ms ms; the agent sent" \
         "$sent flow-mods for $n flows"
    [ "$2" != mirroring ] ||
        check "$1: as many flow-mods as flows: adds, no flush" \
            test "$sent" = "$n"
    [ "$2" != mirroring ] ||
        check "$1: still mirrored, the target blocked" \
            bed_wait_until 10 _vm_mirrored vm1
}

# ---- ovsdb-server restarted.
fault_ovsdb() {
    local node; node=$(vm_node_now "$2")
    local mods0; mods0=$(flow_mods "$node")
    check "$1: $node's ovsdb-server restarted" bed_restart "$node" ovsdb-server
    check "$1: $node's agent is connected and installed again" \
        agent_wait_installed "$node" 30
    [ "$2" != mirroring ] ||
        check "$1: ... having sent no flow-mod" \
            test "$(flow_mods "$node")" = "$mods0"
    [ "$2" != mirroring ] ||
        check "$1: still mirrored, the target blocked" \
            bed_wait_until 10 _vm_mirrored vm1
}

# ---- The API unreachable from the target node for 5 s.
api_block() {  # NODE -I|-D
    bed_exec "$1" iptables "$2" OUTPUT -d "$LB_API_IP" -j DROP &&
        bed_exec "$1" iptables "$2" INPUT -s "$LB_API_IP" -j DROP
}
fault_api-cut() {
    local node=${VM_TNODE[vm1]} t0=$EPOCHREALTIME
    check "$1: API unreachable from $node" api_block "$node" -I
    if [ "$2" = mirroring ]; then
        # Across the cutover: the activation does not wait for the API.
        check "$1: cutover activates at once, API or not" \
            vm_migrate_cutover vm1
        grep 'unblocked in the switch' "$(bed_node_dir "$node")/agent.log" |
            tail -1 | sed 's/.*|/    /'
        # The switch unblocked the copy itself; with no API server to
        # show the activation, the agent takes it over by itself.
        if grep -q "unblocked in the switch by the VM's RARP" \
                "$(bed_node_dir "$node")/agent.log"; then
            check "$1: without the API, the agent took the copy over" \
                bed_wait_until 5 grep -q \
                "taking over 1 self-activated port(s) the API server" \
                "$(bed_node_dir "$node")/agent.log"
            check "$1: ... in its flows" port_not_blocked "$node" \
                "${VM_KEY[vm1]}"
        fi
    fi
    local left=$(( 5000000 - (${EPOCHREALTIME/./} - ${t0/./}) ))
    [ "$left" -le 0 ] || sleep "$((left / 1000000)).$(printf %06d $((left % 1000000)))"
    check "$1: API reachable again from $node" api_block "$node" -D
    check "$1: the API catches up: the activation is recorded" \
        bed_wait_until 15 eval "_port_status vm1 | grep -q '\"activation\":{'"
}

# ---- The API server restarted; its history compacted.  On the fake API
# server (a test double, until the system tests move to a real
# kube-apiserver) both are emulated: a restart drops every watch and
# answers the next requests 503; compaction makes every older
# resourceVersion 410 Gone and drops the watches, which resume from a
# compacted version.
relists() {  # the relists of all agents, summed
    local n sum=0 r
    for n in 1 2 3; do
        r=$(agent_ctl "node$n" k8s |
            sed -n 's/.*relists: \([0-9]*\).*/\1/p' |
            awk '{s += $1} END {print s + 0}')
        sum=$((sum + ${r:-0}))
    done
    echo "$sum"
}
# cp_restart_apiserver behind a load balancer that, as in production,
# sends the nodes to a kube-apiserver only once its /readyz passes: before
# that it answers, but refuses requests (403) until its RBAC caches are
# filled, which the test's RBAC check would count against the agents.
api_server_restart() {
    local n rc=0
    for n in 1 2 3; do api_block "node$n" -I; done
    cp_restart_apiserver || rc=1
    for n in 1 2 3; do api_block "node$n" -D; done
    return $rc
}
api_restart() {
    if type -t cp_restart_apiserver >/dev/null; then
        api_server_restart
    else
        echo "(fake API server: restart emulated)"
        fake_api_fault '{"drop_watches":true,
                         "next":[{"status":503,"count":8}]}'
    fi
}
api_compact() {
    if type -t cp_etcd_compact >/dev/null; then
        # etcd's history compacted up to now, then kube-apiserver
        # restarted: its watch cache starts over from the compacted
        # store, and every watch is re-made.
        cp_etcd_compact && api_server_restart
    else
        # The agents' watches are dropped and their returns held for a
        # second, while an object changes and the history is compacted:
        # they come back with a compacted resourceVersion.
        echo "(fake API server: compaction emulated)"
        fake_api_fault '{"drop_watches":true,
            "next":[{"delay_ms":1500,"match":"watch","count":100}]}' &&
        kapi_ok PATCH "$KV/virtualmachineinstances/vm2" \
            "{\"metadata\":{\"annotations\":{\"test/poke\":\"$RANDOM\"}}}" \
            application/merge-patch+json >/dev/null &&
        fake_api_fault '{"compact":true}' >/dev/null &&
        sleep 2 && bed_exec ul curl -sS -X POST "$LB_API/fake/reset"
    fi
}
caught_up() {  # TAG
    local t0=$EPOCHREALTIME
    check "$1: every agent's watches caught up with the API" \
        agents_caught_up
    awk -v t0="$t0" -v now="$EPOCHREALTIME" -v tag="$1" 'BEGIN {
        printf "%s: the agents caught up %.1f s after they said synced\n",
            tag, now - t0 }'
}
fault_api-restart() {
    check "$1: API server restarted" api_restart
    check "$1: agents synced again" bed_wait_until 30 \
        on_all_nodes agent_wait_synced
    caught_up "$1"
}
fault_api-compact() {
    local before; before=$(relists)
    check "$1: API history compacted" api_compact
    check "$1: agents synced again" bed_wait_until 30 \
        on_all_nodes agent_wait_synced
    check "$1: the agents relisted on 410" \
        bed_wait_until 10 eval "[ \$(relists) -gt $before ]"
    # Until then, a watch may still sit on a connection to the server that
    # restarted, and miss what the test does next.
    caught_up "$1"
    echo "$1: the agents' relists: $before before, $(relists) after"
}

# ---- The CNI plugin killed during an ADD.
# The plugin, while a test kills it, is a wrapper in the node's CNI bin
# directory that records its pid and execs the real one (the same
# process): an ADD takes 10-50 ms here, too short to find it with pgrep.
wrap=$dir/plugin-wrap
mkdir -p "$wrap"
plugin_wrap() {  # NODE on|off
    local bin; bin=$(bed_node_dir "$1")/cni/bin
    if [ "$2" = on ]; then
        cat > "$bin/livebind.wrap" <<EOF
#!/bin/sh
echo \$\$ > "$wrap/pid.tmp" && mv "$wrap/pid.tmp" "$wrap/pid"
exec "$bin/livebind.real" "\$@"
EOF
        chmod +x "$bin/livebind.wrap"
        mv "$bin/livebind" "$bin/livebind.real"
        mv "$bin/livebind.wrap" "$bin/livebind"
    else
        mv "$bin/livebind.real" "$bin/livebind"
    fi
}

# no_half_plumbed NODE POD : either the pod is fully plumbed (eth0 in its
# netns and its port on br-int) or not at all; every veth of the node is
# an OVS port.
no_half_plumbed() {
    local node=$1 pod=$2 has_eth0=0 has_port=0 l
    ip -n "${LB_PREFIX}$pod" link show eth0 >/dev/null 2>&1 && has_eth0=1
    [ -z "$(bed_ovs "$node" ovs-vsctl --bare --columns=name find Interface \
            "external_ids:k8s-pod-name=$pod")" ] || has_port=1
    echo "$pod: eth0 $has_eth0, OVS port $has_port"
    [ "$has_eth0" = "$has_port" ] || return 1
    local ports; ports=$(bed_ovs "$node" ovs-vsctl list-ports br-int)
    for l in $(ip -n "${LB_PREFIX}$node" -o link show type veth |
               awk -F': ' '{print $2}' | cut -d@ -f1); do
        [ "$l" = ul0 ] && continue
        grep -qx "$l" <<<"$ports" || { echo "stray veth $l"; return 1; }
    done
}
# allocations : how many IPAllocations exist.  Asked again for a while: a
# kube-apiserver just restarted serves custom resources only once it has
# read their definitions again (a 404 until then).
allocations() {
    local i n
    for i in $(seq 20); do
        if n=$(kapi GET /apis/livebind.io/v1alpha1/ipallocations |
               python3 -c 'import json, sys
print(len(json.load(sys.stdin)["items"]))' 2>/dev/null); then
            echo "$n"
            return 0
        fi
        sleep 0.5
    done
    echo "allocations: the API server did not list IPAllocations" >&2
    return 1
}
# kill_mid_add NODE POD DELAY : the plugin's ADD for POD, killed (SIGKILL)
# DELAY seconds after it started; says whether the agent was still on it.
kill_mid_add() {
    local node=$1 pod=$2 delay=$3 log pid=
    log=$(bed_node_dir "$node")/agent.log
    local lines; lines=$(wc -l < "$log")
    rm -f "$wrap/pid"
    plugin_wrap "$node" on
    cni "$node" ADD "$pod" > "$dir/add.$pod" 2>&1 &
    local job=$!
    bed_wait_until 5 test -s "$wrap/pid" && pid=$(cat "$wrap/pid")
    sleep "$delay"
    [ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
    wait "$job" 2>/dev/null || true
    plugin_wrap "$node" off
    sleep 0.2
    if tail -n +"$lines" "$log" |
       grep -q "ADD default/$pod failed: the plugin hung up"; then
        echo "killed the plugin ($pid) after ${delay} s: mid-ADD (the agent undid it)"
    elif tail -n +"$lines" "$log" | grep -q "ADD pod default/$pod "; then
        echo "killed the plugin ($pid) after ${delay} s: the ADD was done"
    else
        echo "killed the plugin ($pid) after ${delay} s: before its request"
    fi
}

# random_kills TAG NODE POD : three ADDs of POD, each killed at a random
# point of its first 20 ms (an ADD takes 10-50 ms here), each leaving no
# half-plumbed pod.
random_kills() {
    local i
    for i in 1 2 3; do
        kill_mid_add "$2" "$3" "0.0$((RANDOM % 2))$((RANDOM % 10))"
        check "$1: no half-plumbed pod (kill $i)" \
            bed_wait_until 5 no_half_plumbed "$2" "$3"
    done
}

# target_add_killed VM : the target pod's ADD (see vm_target_add), its
# plugin killed twice: while the agent waits for the pod object, then at
# a random point once the pod exists; then the runtime's retry.
target_add_killed() {
    local vm=$1 node=${VM_TNODE[$1]} pod=${VM_TPOD[$1]} tag="cni-kill (target)"
    k8s_pod default "$pod" "$node" "$(launcher_meta "$vm" "${VM_UID[$vm]}" \
        "${VM_MIGUID[$vm]}" "${VM_MIG[$vm]}")" >/dev/null
    pod_netns "$pod"
    # An ADD for a newer incarnation of the pod than the agent has seen
    # (deleted and made again): the agent waits for its watch to catch up.
    CNI_POD_UID=00000000-0000-4000-8000-$(printf %012d $RANDOM) \
        kill_mid_add "$node" "$pod" 0.3 >&3
    check "$tag: no half-plumbed pod" bed_wait_until 5 \
        no_half_plumbed "$node" "$pod" >&3
    random_kills "$tag" "$node" "$pod" >&3
    check "$tag: the retried ADD succeeds" cni_retry "$node" ADD "$pod" >&3 || return 1
    check "$tag: ... with the VM's address" \
        test "$(ip_of "$pod")" = "$(vm_ip "$vm")" >&3
}
fault_cni-kill() {
    local node=${VM_TNODE[vm1]} pod n0
    n0=$(allocations)
    if [ "$2" = mirroring ]; then
        check "$1: no IP allocation beyond the VM's" test "$(allocations)" = "$n0"
    else
        # A new pod's ADD (which allocates an address), killed at random.
        pod=newpod-$RANDOM
        k8s_pod default "$pod" "$node" >/dev/null
        pod_netns "$pod"
        if type -t fake_api_fault >/dev/null; then
            # The plugin hangs up while the agent's IPAllocation request
            # is held by the API server, which then makes it: the agent
            # must give that address back.
            fake_api_fault '{"delay_ms":1000,"count":1,
                "match":"POST /apis/livebind.io/v1alpha1/ipallocations"}' \
                >/dev/null
            kill_mid_add "$node" "$pod" 0.3
            sleep 1         # The held request is carried out.
            check "$1: no half-plumbed pod (allocation in flight)" \
                bed_wait_until 5 no_half_plumbed "$node" "$pod"
            check "$1: the allocation made after the hang-up is given back" \
                bed_wait_until 5 eval "[ \$(allocations) = $n0 ]"
        fi
        random_kills "$1" "$node" "$pod"
        check "$1: the retried ADD succeeds" cni_retry "$node" ADD "$pod"
        check "$1: one allocation for the new pod, none leaked" \
            bed_wait_until 5 eval "[ \$(allocations) = $((n0 + 1)) ]"
        cni "$node" DEL "$pod" >/dev/null || true
        k8s_delete "/api/v1/namespaces/default/pods/$pod"
        check "$1: its allocation released on DEL" \
            bed_wait_until 5 eval "[ \$(allocations) = $n0 ]"
    fi
}

# ---- The underlay with 1% loss and 5 ms delay.  bed_impair applies it
# to each node's link in both directions (netem, or where the kernel has
# none its stand-in impair.py): node to node, a frame crosses two links,
# so about 2% loss and 10 ms each way.
IMPAIR_LOSS=1 IMPAIR_DELAY=5
impair_on() {
    local n
    for n in 1 2 3; do
        bed_impair "node$n" "$IMPAIR_LOSS" "$IMPAIR_DELAY" || return 1
    done
    echo "netem: every node's underlay link: $IMPAIR_LOSS% loss," \
         "$IMPAIR_DELAY ms delay, both ways, by $BED_IMPAIR_HOW" >&3
}
impair_off() {
    local n rc=0
    for n in 1 2 3; do
        bed_unimpair "node$n" | sed "s/^/node$n: /" >&3 || rc=1
    done
    return $rc
}
# rtt_ms : node1's round trip to node2 over the underlay (ping's average).
rtt_ms() {
    bed_exec node1 ping -q -c 5 -i 0.05 -W 1 "$(bed_node_ip 2)" |
        sed -n 's|^rtt [^=]*= [^/]*/\([^/]*\)/.*|\1|p'
}
fault_netem() {
    local rtt0 t0=$EPOCHREALTIME; rtt0=$(rtt_ms)
    check "netem: underlay impaired" impair_on
    echo "netem: node1-node2 round trip ${rtt0:-?} ms before, $(rtt_ms) ms" \
         "impaired"
    # The outage measured is the migration's over the impaired underlay,
    # not the splice's (bed_impair moves the links).
    canary_window vm1
    check "netem: migration over a lossy, slow underlay" vm_migrate vm1
    check "netem: the canary flows over it" \
        bed_wait_until 10 canary_flowing vm1
    check "netem: the canary's one connection survived" \
        test "$(_canary_field vm1 connections)" = 1
    local gap; gap=$(canary_gap vm1)
    check "netem: underlay restored" impair_off
    echo "netem: canary's longest silence ${gap} ms; the fault took" \
         "$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000000 )) s"
    outages+=("netem: ${gap} ms")
    converged netem
}

# ---- A migration with no fault, for comparison.
canary_window vm1
check "baseline: migration" vm_migrate vm1
outages+=("none: $(canary_gap vm1) ms")
converged baseline

faults=${LB_FAULTS-vswitchd ovsdb api-cut api-restart api-compact cni-kill netem}
if ! command -v iptables >/dev/null; then
    echo "SKIP (api-cut): no iptables to cut the API off"
    faults=${faults/api-cut /}
fi
for f in ${faults/netem/}; do
    run_fault "$f"
done

[ "${faults/netem/}" = "$faults" ] || fault_netem

# ---- Agents killed with SIGKILL at random points of a run of migrations,
# and started again (as the DaemonSet's pod would be) 0-0.5 s later.
# The restarted agent's flow-mods once it has caught up are logged: what
# changed while it was down (the migration goes on), zero if nothing did.
kill_agent_later() {  # NODE DELAY
    sleep "$2"
    local pid; pid=$(agent_pid "$1")
    kill -KILL "$pid"
    bed_wait_until 5 eval "! bed_pid_alive $pid"
    local down=$((RANDOM % 5))
    sleep "0.$down"
    agent_k8s_start "$1"
    local mods=?
    if agent_wait_synced "$1" 30 && agent_wait_installed "$1" 30; then
        mods=$(agent_ctl "$1" status |
               sed -n 's/.*flow-mods: \([0-9]*\).*/\1/p')
    fi
    echo "SIGKILL $1's agent ($pid) after $2 s, down 0.$down s;" \
         "restarted, it sent $mods flow-mods" >> "$dir/kills"
}
# What is left once the migrations are over, to compare after each kill:
# a leak shows as a difference.
n_ifaces() {  # br-int's interfaces on all nodes (the VM moves: the sum)
    local n
    for n in 1 2 3; do
        bed_ovs "node$n" ovs-vsctl list-ifaces br-int
    done | wc -l
}
meters_none() {  # NODE : no meter (the switch is IPv4-only, no migration)
    [ -z "$(bed_ofctl "$1" dump-meters | grep '^meter=')" ]
}
no_migrating_port() {  # NODE : its agent has no port bound to two chassis
    ! agent_ctl "$1" migrations | grep -q 'ports bound to two chassis'
}
n_alloc0=$(allocations)
n_ifaces0=$(n_ifaces)
kills=0
canary_window vm1
while [ "$kills" -lt "$KILLS" ]; do
    killers=()
    first=$((RANDOM % 3))
    # Two different nodes: one node's two killers would race on its
    # pidfile.
    for n in $((first + 1)) $(( (first + 1 + RANDOM % 2) % 3 + 1 )); do
        kill_agent_later "node$n" "$((RANDOM % 4)).$((RANDOM % 10))" &
        killers+=($!)
    done
    kills=$((kills + 2))
    tag="SIGKILL $((kills - 1))-$kills"
    rc=0
    vm_migrate_prepare vm1 || rc=1
    # An agent down through every RARP round misses the activation; the
    # completion binds the port to the target alone all the same.
    [ $rc = 1 ] || vm_migrate_cutover vm1 ||
        echo "$tag: no activation seen (agent down at the cutover?)"
    [ $rc = 1 ] || vm_migrate_complete vm1 || rc=1
    for p in "${killers[@]}"; do wait "$p" || true; done
    check "$tag: the migration went through" test $rc = 0
    check "$tag: agents synced" bed_wait_until 30 \
        on_all_nodes agent_wait_synced
    converged "$tag"
    check "$tag: no migration in progress in any agent" \
        on_all_nodes no_migrating_port
    check "$tag: no IP allocation leaked ($n_alloc0)" \
        test "$(allocations)" = "$n_alloc0"
    check "$tag: no OVS port leaked ($n_ifaces0 on br-int)" \
        test "$(n_ifaces)" = "$n_ifaces0"
    check "$tag: no meter left" on_all_nodes meters_none
done
if [ "$KILLS" -gt 0 ]; then
    sed 's/^/    /' "$dir/kills"
    echo "    restarts after SIGKILL that sent no flow-mod:" \
         "$(grep -c 'sent 0 flow-mods' "$dir/kills") of $KILLS"
    outages+=("$KILLS SIGKILLs over $((KILLS / 2)) migrations: $(canary_gap vm1) ms")
fi

echo "canary's longest silence per fault (the VM's node's view):"
printf '    %s\n' "${outages[@]}"
check "the canary kept its one connection and lost nothing" \
    canary_verdict vm1
report
