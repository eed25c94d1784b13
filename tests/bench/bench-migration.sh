#!/bin/bash
# Benchmark: what a live migration costs the VM's traffic.  Three nodes, the
# real Kubernetes control plane (etcd, kube-apiserver), KubeVirt
# emulated (tests/system/migration.sh), a client pod on node3 and a VM that
# migrates node1 -> node2 -> node1 ... BENCH_MIGRATIONS times (default 5)
# in each mode:
#
#   mirror     livebind as deployed: every sender mirrors to both copies,
#              the target copy activates itself on the VM's RARP
#   agent-gate mirror, the agents run with --no-self-activation: the
#              target copy's gate and flows wait for its agent to unblock it
#   no-gate    mirror, the agents run with --no-port-gate: the blocked
#              copy is held in the flow table alone (as before the gate)
#   no-mirror  agents run with --no-mirror: traffic is re-pointed when the
#              activation reaches each node through the API
#   floor      no migration at all: the VM's two uplinks are bridged into
#              the same pod and the cutover switches between them, so the
#              network never changes: the emulation's own cost
#   OVN        OVN's multichassis binding (activation-strategy=rarp), if
#              ovn-controller, ovn-northd and ovn-nbctl are installed
#
# Measured: a UDP probe (tests/bench/udp-probe.py: a datagram every 2 ms,
# echoed by the VM: lost probes and the longest run of losses), the TCP
# canary (tests/system/canary.py, one stream per mode, and a second one over
# IPv6: the switch is dual-stack), the time from the
# target pod's creation to the migration flows on every node (OpenFlow flow
# monitors), and from the VM's RARP to its port unblocked (the agent's log);
# and, to tell where an outage comes from, the times of the cutover, the
# RARP, the packet-in, the flow changes and the first probe to reach the VM
# again (ip monitor, tcpdump in the guest, the flow monitors).
# Prints figures; asserts nothing.  Exit: 0 when the figures were printed
# (whatever they are), 1 when the bench could not run, 77 without root.
# See tests/bench/README.md.
#
#   sudo make bench-migration [BENCH_MIGRATIONS=N]
#   BENCH_MODES="mirror agent-gate no-gate no-mirror floor ovn" (the
#   default) picks
#   the modes;
#   BENCH_AGENT_VLOG=dbg logs the agents at debug level; LB_BED_KEEP=1
#   keeps the logs and the raw figures (in $LB_BED_DIR/bench).
set -eu
# Timed: the agents run as in production, without --check-incremental.
export LB_CHECK_INCREMENTAL=${LB_CHECK_INCREMENTAL:-0}

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${LB_BUILDDIR:-$srcdir}
agent_bin=$builddir/ovn-agent/livebind-agent
[ "$(id -u)" = 0 ] || { echo "SKIP: bench-migration needs root"; exit 77; }
for f in "$agent_bin" "$builddir/cni-plugin/livebind"; do
    [ -x "$f" ] || { echo "bench-migration: $f is not built" >&2; exit 1; }
done
for c in python3 curl nstat; do
    command -v "$c" >/dev/null ||
        { echo "bench-migration: $c is missing" >&2; exit 1; }
done
N=${BENCH_MIGRATIONS:-5}
case $N in
    ''|*[!0-9]*|0) echo "bench-migration: BENCH_MIGRATIONS=$N" >&2; exit 1 ;;
esac
# BENCH_VM=qemu: the VM is a real QEMU guest instead of the namespace
# emulation (mirror, no-mirror and OVN; tests/bench/bench-migration-qemu.sh).
if [ "${BENCH_VM:-namespace}" = qemu ]; then
    export srcdir LB_BUILDDIR=$builddir BENCH_MIGRATIONS=$N
    exec "$srcdir/tests/bench/bench-migration-qemu.sh"
fi
# BENCH_VM=scale: BENCH_SCALE_VMS (100) emulated VMs migrating at once
# among 3 nodes holding BENCH_SCALE_PORTS (10,000) other ports
# (tests/bench/bench-migration-scale.sh).
if [ "${BENCH_VM:-namespace}" = scale ]; then
    export srcdir LB_BUILDDIR=$builddir
    exec "$srcdir/tests/bench/bench-migration-scale.sh"
fi

LB_PREFIX=${LB_PREFIX:-lbbm$$-}
export LB_IPV6=1                # bed.sh: IPv6 on, for the IPv6 canary.
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
. "$srcdir/tests/system/k8s.sh"
. "$srcdir/tests/system/migration.sh"
bed_trap

probe=$srcdir/tests/bench/udp-probe.py
canary=$srcdir/tests/system/canary.py
bench_start=${EPOCHREALTIME/./}

# The probe's and the canary's ends run SCHED_FIFO, so that a busy CPU
# does not delay their messages (they sleep between them); the monitors
# that time-stamp events too, below them.
rt=() rt_hi=()
if chrt -f 1 true 2>/dev/null; then rt=(chrt -f 1) rt_hi=(chrt -f 3); fi

die() { echo "bench-migration: ERROR: $*" >&2; exit 1; }
now_us() { echo "${EPOCHREALTIME/./}"; }

bed_up 3 >/dev/null || die "bed_up failed"
dir=$LB_BED_DIR
out=$dir/bench
mkdir -p "$out"
k8s_api_start || die "the control plane did not start"
k8s_switch pods 1 10.30.0.0/16 10.30.0.1 fd00:30::/64 fd00:30::1 >/dev/null
for n in 1 2 3; do
    k8s_node "node$n" "$(bed_node_ip "$n")" >/dev/null
done

# start_agents [ARGS...] : (re)start the three agents.
start_agents() {
    local n
    for n in 1 2 3; do
        agent_stop "node$n"
        agent_k8s_start "node$n" \
            --cni-socket="$(bed_node_dir "node$n")/cni/cni.sock" \
            -vfile:"${BENCH_AGENT_VLOG:-info}" "$@" \
            2>>"$out/agent-start.log" || die "node$n: the agent did not start"
    done
    for n in 1 2 3; do
        agent_wait_synced "node$n" || die "node$n: the agent is not synced"
        agent_wait_installed "node$n" || die "node$n: flows not installed"
    done
}

# stamp CMD... : CMD's output lines prefixed with the wall clock time (us)
# they were read at; both run SCHED_FIFO, so that the time is close to the
# event's.
stamp() {
    "${rt[@]}" "$@" 2>&1 | "${rt[@]}" python3 -c '
import sys, time
for line in sys.stdin:
    sys.stdout.write("%d %s" % (time.time_ns() // 1000, line))
    sys.stdout.flush()'
}

# monitors_start LOG [WATCH] : every packet-in on every node (65534:
# miss_send_len) and, with WATCH (e.g. "watch:!initial"), every flow change,
# time-stamped into flows.nodeN.LOG: "ovs-ofctl monitor" prints them as they
# arrive.  Each in a process group of its own (setsid), so that
# monitors_stop ends the whole pipeline.
monitors=""
monitors_start() {
    local n
    for n in 1 2 3; do
        bed_bg "node$n" "$out/flows.node$n.$1" setsid bash -c "
            $(declare -f stamp)
            rt=(${rt[*]})
            stamp ovs-ofctl -O OpenFlow15 monitor \"unix:\$1/br-int.mgmt\" \
                65534 ${2-}" _ "$(bed_node_dir "node$n")"
        monitors="$monitors $BED_BG_PID"
        bed_wait_until 5 pgrp_alive "$BED_BG_PID" ||
            die "node$n: the monitor did not start"
    done
    sleep 0.2               # connected
}
pgrp_alive() { kill -0 -- "-$1" 2>/dev/null; }
monitors_stop() {
    local pid
    for pid in $monitors; do
        kill -TERM -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    monitors=""
}

# add_pod NODE POD [METADATA] : pod object, netns, CNI ADD.
add_pod() {
    k8s_pod default "$2" "$1" "${3-}" >/dev/null &&
        pod_netns "$2" &&
        cni "$1" ADD "$2" > "$out/add.$2"
}

# post_pod_timed NODE POD METADATA OUT : create the pod object like
# k8s_pod, writing to OUT the wall clock time (us) at which the request
# went out: the start of "VMIM event -> migration flows".  (curl's
# --trace-time is no good for this: its seconds come from time(), its
# fraction from the monotonic clock.)
post_pod_timed() {
    bed_exec ul python3 -c '
import http.client, ssl, sys, time
pki = sys.argv[3]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
conn = http.client.HTTPSConnection(sys.argv[1], int(sys.argv[2]), timeout=10,
                                   context=ctx)
conn.connect()
sent = time.time()
conn.request("POST", "/api/v1/namespaces/default/pods", sys.argv[4].encode(),
             {"Content-Type": "application/json"})
status = conn.getresponse().status
print(int(sent * 1e6))
sys.exit(0 if 200 <= status < 300 else 1)' "$LB_API_IP" "$LB_API_PORT" \
        "$LB_BED_DIR/k8s/pki" \
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
          \"metadata\":{\"name\":\"$2\",\"namespace\":\"default\",$3},
          \"spec\":{\"nodeName\":\"$1\",\"containers\":[{\"name\":\"compute\",
                    \"image\":\"livebind.test/pause\"}]}}" \
        > "$4" || return 1
    # Running, as the kubelet reports it.
    kapi_status "/api/v1/namespaces/default/pods/$2" \
        '{"status":{"phase":"Running"}}' >/dev/null
}

# mig_state UID SOURCE TARGET SOURCE_POD TARGET_POD [EXTRA] : the VMI's
# migrationState; what the previous migration's completion set is reset.
mig_state() {
    echo "{\"migrationUid\":\"$1\",\"sourceNode\":\"$2\",\"targetNode\":\"$3\",
           \"sourcePod\":\"$4\",\"targetPod\":\"$5\",\"mode\":\"PreCopy\"${6:-,
           \"completed\":false,\"targetNodeDomainReadyTimestamp\":null}}"
}

on_all_nodes() {
    local n
    for n in 1 2 3; do "$@" "node$n" || return 1; done
}
on_no_node() {
    local n
    for n in 1 2 3; do "$@" "node$n" && return 1; done
    return 0
}
unblock_lines() {  # NODE
    grep -c 'unblocked in the switch' "$(bed_node_dir "$1")/agent.log" ||
        true
}
unblocked_since() {  # NODE COUNT : more unblock lines than COUNT
    [ "$(unblock_lines "$1")" -gt "$2" ]
}

# probe_start FILE / probe_stop : one UDP probe client per migration.
probe_start() {
    rm -f "$1"
    probe_file=$1
    bed_bg "$client" "$1.log" "${rt_hi[@]}" python3 "$probe" client \
        "$vm_ip" 7001 "$1" 2
    probe_pid=$BED_BG_PID
}
probe_stop() {
    kill -TERM "$probe_pid" 2>/dev/null || true
    wait "$probe_pid" 2>/dev/null || true
    [ -s "$probe_file" ] || die "the UDP probe wrote no summary"
}

tcp_counters() {  # NS : the TCP loss-recovery counters of that namespace
    bed_exec "$1" nstat -asz TcpRetransSegs TcpExtTCPTimeouts \
        TcpExtTCPLossProbes TcpExtTCPLossProbeRecovery \
        TcpExtTCPSackRecovery TcpExtTCPFastRetrans TcpExtTCPSpuriousRTOs |
        awk '/^[A-Za-z]/ {printf "%s=%s ", $1, $2} END {print ""}'
}

# vm_start MODE VM GUEST NODE UPLINK : the VM (livebind), its launcher
# pod, its guest namespace, the probe's echo server and the TCP canary.
vm_start() {
    local mode=$1
    vm=$2 guest=$3 cur_node=$4 cur_up=$5 cur_pod=$2-l0
    vmi_uid=$(vmi_create "$vm" "$cur_node") || die "VMI $vm"
    add_pod "$cur_node" "$cur_pod" "$(launcher_meta "$vm" "$vmi_uid")" ||
        die "launcher pod of $vm"
    vm_ip=$(result_ip < "$out/add.$cur_pod")
    vm_ip6=$(python3 -c 'import json,sys
print(*[i["address"].split("/")[0] for i in json.load(sys.stdin)["ips"]
        if ":" in i["address"]][:1])' < "$out/add.$cur_pod")
    vm_mac=$(result_mac < "$out/add.$cur_pod")
    key=$(( (1 << 24) | $(echo "$vm_ip" | awk -F. '{print $3 * 256 + $4}') ))
    vm_guest "$mode"
}

# vm_guest MODE : the guest of the VM whose first pod $cur_pod exists,
# then the probe's echo server and the TCP canary.
vm_guest() {
    local mode=$1
    guest_create "$guest" "$vm_mac" "$vm_ip/16"
    if [ -n "$vm_ip6" ]; then
        ip -n "${LB_PREFIX}$guest" -6 addr add "$vm_ip6/64" dev br0 nodad
    fi
    vm_pod_bridge "$cur_pod" "$guest" "$cur_up"
    ip -n "${LB_PREFIX}$guest" link set "$cur_up" up
    bed_wait_until 10 bed_exec "$client" ping -c 1 -W 1 "$vm_ip" >/dev/null ||
        die "$mode: the client does not reach $vm"
    bed_bg "$guest" "$out/$mode.links" "${rt_hi[@]}" ip -ts monitor link
    watchers=$BED_BG_PID
    # The VM's side of the wire: its RARPs and the probes reaching it
    # (kernel time stamps).
    # And any TCP reset the client gets, with the MAC it came from.
    if command -v tcpdump >/dev/null; then
        bed_bg "$guest" "$out/$mode.pcap.txt" tcpdump -i br0 -n -tt -l \
            --immediate-mode 'ether proto 0x8035 or udp dst port 7001'
        watchers="$watchers $BED_BG_PID"
        bed_bg "$client" "$out/$mode.rst.txt" tcpdump -i eth0 -n -e -tt -l \
            --immediate-mode 'tcp[tcpflags] & tcp-rst != 0'
        watchers="$watchers $BED_BG_PID"
    fi
    bed_bg "$guest" "$out/$mode.echo.log" "${rt_hi[@]}" python3 "$probe" \
        server 7001
    echo_pid=$BED_BG_PID
    bed_bg "$guest" "$out/$mode.canary-server.log" "${rt_hi[@]}" python3 \
        "$canary" server 7000 "$out/$mode.canary.json"
    canary_server=$BED_BG_PID
    bed_wait_until 5 bed_exec "$guest" sh -c 'ss -ltn | grep -q :7000' ||
        die "$mode: canary server"
    tcp_counters "$client" > "$out/$mode.tcp-client.before"
    bed_bg "$client" "$out/$mode.canary-client.log" "${rt_hi[@]}" python3 \
        "$canary" client "$vm_ip" 7000 10
    canary_client=$BED_BG_PID
    bed_wait_until 5 test -s "$out/$mode.canary.json.live" ||
        die "$mode: the canary does not flow"
    canary6_client= canary6_server=
    if [ -n "$vm_ip6" ]; then
        bed_bg "$guest" "$out/$mode.canary6-server.log" "${rt_hi[@]}" \
            python3 "$canary" server 7002 "$out/$mode.canary6.json"
        canary6_server=$BED_BG_PID
        bed_wait_until 5 bed_exec "$guest" sh -c 'ss -ltn | grep -q :7002' ||
            die "$mode: IPv6 canary server"
        bed_bg "$client" "$out/$mode.canary6-client.log" "${rt_hi[@]}" \
            python3 "$canary" client "$vm_ip6" 7002 10
        canary6_client=$BED_BG_PID
        bed_wait_until 5 test -s "$out/$mode.canary6.json.live" ||
            die "$mode: the IPv6 canary does not flow"
    fi
    echo "$mode: VM $vm $vm_ip $vm_mac on $cur_node," \
         "port key $(printf '%#x' "$key"), client pod $client" >> "$out/notes"
}

vm_stop() {  # MODE
    local mode=$1
    sleep 0.3
    kill -TERM "$canary_client" $canary6_client 2>/dev/null || true
    wait "$canary_client" $canary6_client 2>/dev/null || true
    sleep 0.3
    kill -TERM "$canary_server" $canary6_server 2>/dev/null || true
    wait "$canary_server" $canary6_server 2>/dev/null || true
    kill -TERM "$echo_pid" 2>/dev/null || true
    wait "$echo_pid" 2>/dev/null || true
    # shellcheck disable=SC2086
    kill -TERM $watchers 2>/dev/null || true
    # shellcheck disable=SC2086
    wait $watchers 2>/dev/null || true
    tcp_counters "$client" > "$out/$mode.tcp-client.after"
    tcp_counters "$guest" > "$out/$mode.tcp-vm"
    if [ ! -s "$out/$mode.canary.json" ]; then
        # The server ended otherwise than by our SIGTERM: its last counts.
        cp "$out/$mode.canary.json.live" "$out/$mode.canary.json" ||
            die "$mode: no canary summary"
        touch "$out/$mode.canary.early"
        { echo "$mode: the canary server stopped early; its last counts:"
          sed 's/^/    /' "$out/$mode.canary-server.log"; } >> "$out/notes"
    fi
}

# record MODE I FROM TO T_CUT_US UNBLOCK_US NOTE : one migration's raw
# figures, for the report (with the uplink the VM leaves, $cur_up).
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
        "$key" "$5" "$6" "$cur_up" "$7" >> "$out/records"
}

# migrate MODE I FROM TO : migration I of the VM, from node FROM to TO, as
# KubeVirt does it, with the probe running throughout.
migrate() {
    local mode=$1 i=$2 from=$3 to=$4
    local vmim=$vm-mig$i pod=$vm-l$i up=u$vm-$i note="" uid t_cut unblock
    local base=$out/$mode.$i
    probe_start "$base.probe"
    sleep 0.2

    uid=$(vmim_create "$vmim" "$vm") || die "VMIM $vmim"
    vmim_phase "$vmim" Scheduling || die "VMIM $vmim phase"
    pod_netns "$pod"
    post_pod_timed "$to" "$pod" \
        "$(launcher_meta "$vm" "$vmi_uid" "$uid" "$vmim")" "$base.post" ||
        die "target pod $pod"
    # Let the agents react before CNI competes with them for the CPU.
    sleep 0.3
    cni "$to" ADD "$pod" > "$out/add.$pod" || die "CNI ADD $pod"
    vm_pod_bridge "$pod" "$guest" "$up"
    vmim_phase "$vmim" Scheduled
    vmim_phase "$vmim" PreparingTarget
    vmi_migration_state "$vm" "$(mig_state "$uid" "$from" "$to" "$cur_pod" \
        "$pod")" || die "VMI migrationState"
    bed_wait_until 5 on_all_nodes has_migration_flows "$key" ||
        note="$note migration-flows-missing"
    port_blocked "$to" "$key" || note="$note target-not-blocked"
    vmim_phase "$vmim" TargetReady
    vmim_phase "$vmim" Running

    local before; before=$(unblock_lines "$to")
    t_cut=$(now_us)
    cutover_and_announce "$guest" "$vm_mac" "$cur_up" "$up" ||
        die "cutover"
    if bed_wait_until 5 unblocked_since "$to" "$before"; then
        # None when the switch unblocked the copy itself (self-activation:
        # the agent sends no bundle then).
        unblock=$(grep 'unblocked in the switch' \
                  "$(bed_node_dir "$to")/agent.log" | tail -1 |
                  sed -n 's/.*switch \([0-9]*\) us after.*/\1/p')
        unblock=${unblock:--}
    else
        unblock=-
        note="$note not-unblocked"
    fi
    sleep 0.2

    vmi_migration_state "$vm" "$(mig_state "$uid" "$from" "$to" "$cur_pod" \
        "$pod" ",\"completed\":true,
        \"targetNodeDomainReadyTimestamp\":\"2026-11-22T00:00:00Z\"")" "$to" ||
        die "VMI completion"
    vmim_phase "$vmim" Succeeded
    pod_phase "$cur_pod" Succeeded
    bed_wait_until 5 on_no_node has_migration_flows "$key" ||
        note="$note migration-flows-left"
    cni "$from" DEL "$cur_pod" >/dev/null || note="$note cni-del-failed"
    k8s_delete "/api/v1/namespaces/default/pods/$cur_pod"
    ip netns del "${LB_PREFIX}$cur_pod"     # and the old uplink with it
    sleep 0.3
    probe_stop
    record "$mode" "$i" "$from" "$to" "$t_cut" "$unblock" "${note# }"
    cur_pod=$pod cur_up=$up cur_node=$to
}

# floor_cutover MODE I : the same cutover between two uplinks of one pod.
floor_cutover() {
    local mode=$1 i=$2 base=$out/$1.$2 t_cut next note=""
    next=$([ "$cur_up" = "${vm}a" ] && echo "${vm}b" || echo "${vm}a")
    probe_start "$base.probe"
    sleep 0.5
    t_cut=$(now_us)
    cutover_and_announce "$guest" "$vm_mac" "$cur_up" "$next" || die "cutover"
    sleep 0.5
    probe_stop
    record "$mode" "$i" "$cur_node" "$cur_node" "$t_cut" - "$note"
    # Down, as a fresh target uplink is when cutover_and_announce starts.
    ip -n "${LB_PREFIX}$guest" link set "$cur_up" down
    cur_up=$next
}

# ---------------------------------------------------------------- OVN
# OVN's own multichassis binding on the same bed, for reference: NB and SB
# databases and ovn-northd in the underlay namespace, ovn-controller on
# each node in place of livebind's agent, on the same br-int.

. "$srcdir/tests/bench/ovn.sh"

# ovn_vm_start MODE : the client pod on node3 and the VM on node1, as
# OVN logical ports "oclient" and "vm".
ovn_vm_start() {
    local mode=$1
    client=oclient vm=ovm guest=og cur_node=node1 cur_up=uovm-0
    cur_pod=ovm-l0 key=0
    vm_ip=10.40.0.20 vm_mac=0a:58:0a:28:00:14 vm_ip6=
    ovn_nbctl lsp-add pods oclient \
        -- lsp-set-addresses oclient "0a:58:0a:28:00:0a 10.40.0.10" \
        -- lsp-add pods vm -- lsp-set-addresses vm "$vm_mac $vm_ip" \
        -- lsp-set-options vm requested-chassis=node1 || return 1
    bed_pod_add node3 oclient 0a:58:0a:28:00:0a 10.40.0.10/16 "" oclient ||
        return 1
    bed_pod_add node1 "$cur_pod" "$vm_mac" "$vm_ip/16" "" vm || return 1
    bed_wait_until 20 ovn_installed node3 oclient || return 1
    bed_wait_until 20 ovn_installed node1 "$cur_pod" || return 1
    vm_guest "$mode"
}

# ovn_migrate MODE I FROM TO : OVN's way: the port requested on both
# chassis with activation-strategy=rarp, the target pod added, cutover,
# then the port requested on the target alone and the source pod removed.
ovn_migrate() {
    local mode=$1 i=$2 from=$3 to=$4
    local pod=ovm-l$i up=uovm-$i note="" t_cut base=$out/$1.$2
    probe_start "$base.probe"
    sleep 0.2
    # --wait=hv: every chassis knows of the migration before the target's
    # interface appears (the pod's eth0 holds the VM's IP and MAC until
    # vm_pod_bridge moves them to the guest).
    ovn_nbctl --wait=hv lsp-set-options vm requested-chassis="$from,$to" \
        activation-strategy=rarp || die "ovn-nbctl"
    bed_pod_add "$to" "$pod" "$vm_mac" "$vm_ip/16" "" vm || die "pod $pod"
    vm_pod_bridge "$pod" "$guest" "$up"
    bed_wait_until 5 ovn_installed "$to" "$pod" || note="$note not-installed"
    bed_wait_until 5 ovn_additional || note="$note no-additional-chassis"
    sleep 0.3
    t_cut=$(now_us)
    cutover_and_announce "$guest" "$vm_mac" "$cur_up" "$up" || die "cutover"
    sleep 0.2
    ovn_nbctl lsp-set-options vm requested-chassis="$to" \
        activation-strategy=rarp || die "ovn-nbctl"
    bed_wait_until 5 ovn_single || note="$note additional-chassis-left"
    bed_pod_del "$from" "$cur_pod"
    sleep 0.3
    probe_stop
    record "$mode" "$i" "$from" "$to" "$t_cut" - "${note# }"
    cur_pod=$pod cur_up=$up cur_node=$to
}

# ---------------------------------------------------------------- modes
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" \
    >> "$out/notes"
modes=${BENCH_MODES:-mirror agent-gate no-gate no-mirror floor ovn}
client=client
livebind_ready=""
livebind_setup() {  # MIRROR_OPTION : agents (again), the client pod once
    start_agents "$@"
    [ -n "$livebind_ready" ] && return 0
    add_pod node3 client || die "client pod"
    livebind_ready=1
}
pingpong() {  # FUNCTION MODE : N migrations node1 -> node2 -> node1 ...
    local i
    for i in $(seq "$N"); do
        if [ $((i % 2)) = 1 ]; then "$1" "$2" "$i" node1 node2
        else "$1" "$2" "$i" node2 node1; fi
    done
}

# livebind_mode MODE VM GUEST UPLINK [AGENT-ARGS...] : the agents with
# AGENT-ARGS, a VM on node1, its migrations and the agents' CPU.
livebind_mode() {
    local mode=$1 cpu_start
    livebind_setup "${@:5}"
    vm_start "$mode" "$2" "$3" node1 "$4"
    cpu_start=$(agents_cpu_ms node1 node2 node3)
    pingpong migrate "$mode"
    echo $(( $(agents_cpu_ms node1 node2 node3) - cpu_start )) \
        > "$out/$mode.cpu"
    vm_stop "$mode"
}

monitors_start 1 "watch:!initial"
echo "not measured: not in BENCH_MODES" > "$out/ovn.status"
for mode in $modes; do
    case $mode in
    mirror)     # livebind with mirroring, the agents as deployed
        livebind_mode mirror vm1 g1 uvm1-0 ;;
    agent-gate) # mirror, the copy waits for its agent to unblock it
        livebind_mode agent-gate vm5 g5 uvm5-0 --no-self-activation ;;
    no-gate)    # mirror, the blocked copy held in the flow table alone
        livebind_mode no-gate vm4 g4 uvm4-0 --no-port-gate ;;
    no-mirror)  # the agents re-point traffic on activation only
        livebind_mode no-mirror vm2 g2 uvm2-0 --no-mirror ;;
    floor)      # two uplinks into the same pod: the network never changes
        livebind_setup
        vm_start floor vm3 g3 node1 vm3a
        pod=${LB_PREFIX}$cur_pod gns=${LB_PREFIX}$guest
        ip -n "$pod" link add tap1 type veth peer name vm3b netns "$gns"
        ip -n "$pod" link set tap1 master k6t-eth0
        ip netns exec "$pod" ethtool -K tap1 tx off >/dev/null
        ip -n "$pod" link set tap1 up
        ip -n "$gns" link set vm3b master br0
        ip netns exec "$gns" ethtool -K vm3b tx off >/dev/null
        ip -n "$gns" link set dev vm3b type bridge_slave isolated on
        for i in $(seq "$N"); do
            floor_cutover floor "$i"
        done
        vm_stop floor ;;
    ovn)        # OVN's multichassis binding, last: it takes br-int over
        reason=$(ovn_available)
        if [ -n "$reason" ]; then
            echo "not measured: $reason" > "$out/ovn.status"
            continue
        fi
        # Not during OVN's start: its thousands of flows would swamp them.
        monitors_stop
        if ! ovn_start >> "$out/ovn-start.log" 2>&1; then
            echo "not measured: OVN did not start (see ovn-start.log)" \
                > "$out/ovn.status"
            continue
        fi
        if ! ovn_vm_start OVN >> "$out/ovn-start.log" 2>&1; then
            echo "not measured: OVN's ports did not come up" \
                > "$out/ovn.status"
            continue
        fi
        monitors_start 2 "watch:!initial"
        echo "measured: OVN $(ovn-controller --version | head -1 |
            awk '{print $NF}'), requested-chassis=src,dst +" \
            "activation-strategy=rarp, then requested-chassis=dst" \
            > "$out/ovn.status"
        cpu_start=$(ovn_cpu_ms)
        pingpong ovn_migrate OVN
        echo $(( $(ovn_cpu_ms) - cpu_start )) > "$out/OVN.cpu"
        vm_stop OVN ;;
    *)  die "unknown mode $mode in BENCH_MODES" ;;
    esac
done

bench_end=$(now_us)
echo "run time: $(( (bench_end - bench_start) / 1000000 )) s" >> "$out/notes"

# ---------------------------------------------------------------- report
python3 - "$out" "$N" <<'EOF'
import datetime, json, os, re, statistics, sys

out, n_mig = sys.argv[1], int(sys.argv[2])
MODES = ["mirror", "agent-gate", "no-gate", "no-mirror", "floor", "OVN"]

def iso_us(s):
    return int(datetime.datetime.strptime(
        s, "%Y-%m-%dT%H:%M:%S.%f").timestamp() * 1e6)

def post_time(path):
    text = open(path).read().strip()
    return int(text) if text.isdigit() else None

flows = {}
for n in (1, 2, 3):
    ev = []
    for suffix in (1, 2):
        path = os.path.join(out, "flows.node%d.%d" % (n, suffix))
        if os.path.exists(path):
            for line in open(path):
                parts = line.split(" ", 1)
                if len(parts) == 2 and ("event=" in parts[1]
                                        or "PACKET_IN" in parts[1]):
                    ev.append((int(parts[0]), parts[1]))
    flows[n] = sorted(ev)

def flows_ready_us(t0, key):
    """Per node, the first migration-flow event after t0 (us after)."""
    cookie = "cookie=0x48%014x" % key
    res = []
    for n, ev in sorted(flows.items()):
        first = next((t for t, l in ev if t >= t0 and cookie in l
                      and ("ADDED" in l or "MODIFIED" in l)), None)
        res.append(None if first is None else first - t0)
    return res

def wire(mode):
    """The VM's side (tcpdump on br0): RARP times and probe arrivals."""
    rarps, probes = [], []
    path = os.path.join(out, mode + ".pcap.txt")
    if os.path.exists(path):
        for line in open(path):
            f = line.split()
            if len(f) < 2 or not re.match(r"\d+\.\d+$", f[0]):
                continue
            t = int(f[0].replace(".", ""))
            if "Reverse" in line or "RARP" in line:
                rarps.append(t)
            elif f[1] == "IP":
                probes.append(t)
    return rarps, probes


def target_events(node, t, key):
    """On the target, after t: the first packet-in, the first removal of a
    blocking flow of the port (livebind: table 10, its migration cookie;
    OVN, whose cookies we do not know: any flow change after the
    packet-in), and the switch's own activation of a self-activating copy
    (livebind: the flow its VM's RARP made table 10's learn() add to table
    15, cookie kind 9)."""
    cookie = "cookie=0x48%014x" % key
    learned = "cookie=0x9%015x" % key
    ev = flows.get(node, [])
    pin = next((x for x, l in ev if x >= t and "PACKET_IN" in l), None)
    if key:
        unb = next((x for x, l in ev if x >= t and cookie in l
                    and "event=DELETED" in l and "table=10 " in l), None)
        act = next((x for x, l in ev if x >= t and learned in l
                    and "event=ADDED" in l and "table=15 " in l), None)
    else:
        unb = next((x for x, l in ev if pin and x >= pin
                    and "event=" in l), None)
        act = None
    return pin, unb, act

wires = {}
def first_after(times, t):
    return next((x for x in times if x >= t), None)

def cutover_us(mode, t_cut, uplink):
    """When the guest's source uplink stopped forwarding: the first change
    to it after t_cut (ip -ts monitor link)."""
    path = os.path.join(out, mode + ".links")
    if not os.path.exists(path):
        return None
    for line in open(path):
        m = re.match(r"\[(\S+)\] \d+: ([^@:]+)[@:]", line)
        if m and m.group(2) == uplink:
            t = iso_us(m.group(1))
            if t >= t_cut:
                return t
    return None

def pct(values, p):
    v = sorted(values)
    if not v:
        return None
    k = max(0, min(len(v) - 1, -(-p * len(v) // 100) - 1))
    return v[int(k)]

def fmt(x, digits=1):
    if x is None:
        return "-"
    if isinstance(x, float):
        return ("%%.%df" % digits) % x
    return str(x)

recs = []
if os.path.exists(os.path.join(out, "records")):
    for line in open(os.path.join(out, "records")):
        mode, i, src, dst, key, t_cut, unblock, uplink, note = \
            line.rstrip("\n").split("\t")
        recs.append(dict(mode=mode, i=int(i), src=src, dst=dst,
                         key=int(key), t_cut=int(t_cut), uplink=uplink,
                         unblock=None if unblock in ("-", "") else
                         int(unblock), note=note))

print("""Per migration.  lost: UDP probes lost (a datagram every 2 ms from the
client pod on node3 to the VM, echoed), fwd: of them on the way to the VM;
outage: longest run of losses x 2 ms.  Then times in ms after the cutover
(the source uplink stops forwarding in the guest): start: the first lost
probe sent; RARP: the VM's first RARP on its wire; p-in: the target's
switch sends it to its controllers; learn: the switch adds the flow that
the RARP made it learn (self-activation); unbl: the switch's flow table
loses the blocking flows; node3: the client's node changes the port's
flows (the re-pointing, without mirroring); VMrx: the first probe reaches
the VM after that RARP; end: the first probe after the outage that came
back was sent.  stale: lost probes sent in the 100 ms after 'learn' (else
'unbl'; and 'node3'), i.e. dropped although the flow tables let them
through (the datapath's cached flows lag them).  unblock: the VM's RARP
at the target's agent -> unblocking flows in its switch (the agent's
log).  flows: target pod created -> migration flows in each
node's switch (ms).""")
HDR = ("%-9s %2s %-12s %4s %4s %6s %5s %5s %5s %5s %5s %5s %5s %5s %5s %7s "
       "%-14s %s")
print(HDR % ("mode", "#", "path", "lost", "fwd", "outage", "start", "RARP",
             "p-in", "learn", "unbl", "node3", "VMrx", "end", "stale",
             "unblock", "flows", "notes"))
print(HDR % ("", "", "", "", "", "ms", "ms", "ms", "ms", "ms", "ms", "ms",
             "ms", "ms", "", "us", "ms n1/n2/n3", ""))
per_mode = {m: dict(outage=[], lost=[], flows=[], unblock=[], stale=[],
                    switch=[])
            for m in MODES}
for r in recs:
    p = json.load(open(os.path.join(out, "%s.%d.probe" % (r["mode"],
                                                           r["i"]))))
    cut = cutover_us(r["mode"], r["t_cut"], r["uplink"])
    longest = max(p["runs"], key=lambda x: x["length"], default=None)
    starts = ends = None
    if longest and cut:
        starts = (longest["start"] * 1e6 - cut) / 1000
        if longest["end"]:
            ends = (longest["end"] * 1e6 - cut) / 1000
    fl = None
    per_node = "-"
    post = os.path.join(out, "%s.%d.post" % (r["mode"], r["i"]))
    if os.path.exists(post):
        t0 = post_time(post)
        if t0:
            nodes = flows_ready_us(t0, r["key"])
            per_node = "/".join("-" if x is None else "%.1f" % (x / 1000)
                                for x in nodes)
            if None not in nodes:
                fl = max(nodes)
    if r["mode"] not in wires:
        wires[r["mode"]] = wire(r["mode"])
    rarp = vmrx = pin = unb = act = n3 = stale = switch_us = None
    rel = lambda t: None if t is None else (t - cut) / 1000
    if cut:
        # ip monitor's clock is read in user space, tcpdump's in the kernel:
        # the first RARP may appear to precede the cutover a little.
        t_rarp = first_after(wires[r["mode"]][0], cut - 5000)
        rarp = rel(t_rarp)
        # Probes may still be on their way when the uplink goes down: the
        # first one to reach the VM through the target comes after a RARP.
        vmrx = rel(first_after(wires[r["mode"]][1], t_rarp or cut))
        if r["dst"] != r["src"]:
            pin, unb, act = map(rel, target_events(int(r["dst"][-1]),
                                                   cut - 5000, r["key"]))
            # The VM's first RARP on its wire -> its copy unblocked in the
            # target's flow table: by the switch itself (learned), else by
            # the flow change (the agent's bundle; OVN's flows).
            opened = act if act is not None else unb
            if rarp is not None and opened is not None:
                switch_us = int((opened - rarp) * 1000)
            t = first_after([x for x, l in flows[3] if
                             "cookie=0x4" in l and "%x," % r["key"] in l],
                            cut - 5000)
            if t is not None and t - cut < 500000:
                n3 = rel(t)
            # Probes sent once every flow table let them through (the
            # target unblocked: by the switch itself when it learned the
            # activation, else by the flow change; without mirroring,
            # node3 re-pointed too), and lost all the same.
            if opened is not None:
                t_ok = cut + max(opened, n3 or 0) * 1000
                stale = sum(1 for x in p.get("lost_sent_at", [])
                            if t_ok < x * 1e6 < t_ok + 100000)
    note = r["note"]
    # The probe fell silent around the cutover: the outage may be longer.
    if cut:
        for start, ms in p.get("send_gaps", []):
            rel_ = (start * 1e6 - cut) / 1000
            if -ms - 2 < rel_ < 30:
                note += " probe-silent-%.1fms@%.1fms" % (ms, rel_)
    if len(p["runs"]) > 1 and cut:
        note += " runs:" + ",".join(
            "%d@%.0fms" % (x["length"], (x["start"] * 1e6 - cut) / 1000)
            for x in p["runs"])
    print(HDR % (
        r["mode"], r["i"], r["src"] + "->" + r["dst"], p["lost"],
        p["lost_forward"], fmt(p["outage_ms"]), fmt(starts), fmt(rarp),
        fmt(pin), fmt(act, 2), fmt(unb), fmt(n3), fmt(vmrx), fmt(ends),
        fmt(stale),
        fmt(r["unblock"]),
        per_node, note.strip()))
    pm = per_mode[r["mode"]]
    pm["outage"].append(p["outage_ms"])
    pm["lost"].append(p["lost"])
    if fl is not None:
        pm["flows"].append(fl / 1000)
    if stale is not None:
        pm["stale"].append(stale)
    if switch_us is not None:
        pm["switch"].append(switch_us)
    if r["unblock"] is not None:
        pm["unblock"].append(r["unblock"])
    elif r["mode"] == "OVN" and pin is not None and unb is not None:
        pm["unblock"].append(int((unb - pin) * 1000))

canary = {}
canary6 = {}
tcp = {}
for m in MODES:
    path = os.path.join(out, m + ".canary.json")
    if os.path.exists(path):
        canary[m] = json.load(open(path))
    path = os.path.join(out, m + ".canary6.json")
    if os.path.exists(path):
        canary6[m] = json.load(open(path))
    def counters(f):
        p = os.path.join(out, f)
        if not os.path.exists(p):
            return {}
        return {k: int(v) for k, v in
                (x.split("=") for x in open(p).read().split())}
    b = counters(m + ".tcp-client.before")
    a = counters(m + ".tcp-client.after")
    if a:
        tcp[m] = {k: a[k] - b.get(k, 0) for k in a}
        for k, v in counters(m + ".tcp-vm").items():
            tcp[m]["vm:" + k] = v

ovn_status = open(os.path.join(out, "ovn.status")).read().strip() \
    if os.path.exists(os.path.join(out, "ovn.status")) else "not measured"

def cell(m, f):
    if m == "OVN" and not per_mode[m]["outage"]:
        return "n/m"
    try:
        return f(m)
    except (KeyError, TypeError, ValueError, OSError, ZeroDivisionError):
        return "-"

def med(v):
    return statistics.median(v) if v else None

rows = [
    ("migrations", lambda m: str(len(per_mode[m]["outage"])), ""),
    ("UDP outage, median (ms)",
     lambda m: fmt(med(per_mode[m]["outage"])), "<= 1 (mirror)"),
    ("UDP outage, max (ms)",
     lambda m: fmt(max(per_mode[m]["outage"])), ""),
    ("UDP lost probes/migration, median/max",
     lambda m: "%s/%s" % (fmt(med(per_mode[m]["lost"])),
                          fmt(max(per_mode[m]["lost"]))), ""),
    ("TCP canary: max gap (ms)",
     lambda m: fmt(canary[m]["max_gap_ms"]), ""),
    ("TCP canary: messages lost",
     lambda m: str(canary[m]["lost"]), "0"),
    ("TCP canary: reconnects",
     lambda m: ("reset" if os.path.exists(os.path.join(out, m +
                                                       ".canary.early"))
                else str(canary[m]["connections"] - 1)), "0"),
    ("TCP canary over IPv6: max gap (ms)",
     lambda m: fmt(canary6[m]["max_gap_ms"]), ""),
    ("TCP canary over IPv6: messages lost",
     lambda m: str(canary6[m]["lost"]), "0"),
    ("TCP canary over IPv6: reconnects",
     lambda m: str(canary6[m]["connections"] - 1), "0"),
    ("TCP retransmits (client; of them RTO)",
     lambda m: "%d (%d)" % (tcp[m]["TcpRetransSegs"],
                            tcp[m]["TcpExtTCPTimeouts"]), ""),
    ("VMIM event -> flows on 3 nodes p50/p99 ms",
     lambda m: "%s/%s" % (fmt(pct(per_mode[m]["flows"], 50)),
                          fmt(pct(per_mode[m]["flows"], 99)))
     if per_mode[m]["flows"] else "n/a", "p99 <= 10"),
    ("RARP -> unblocked in switch p50/p99/max us",
     lambda m: "%s/%s/%s" % (fmt(pct(per_mode[m]["switch"], 50)),
                             fmt(pct(per_mode[m]["switch"], 99)),
                             fmt(max(per_mode[m]["switch"])))
     if per_mode[m]["switch"] else "n/a", "p99 <= 1000"),
    ("  the controller's round trip p50/max (us)",
     lambda m: "%s/%s" % (fmt(pct(per_mode[m]["unblock"], 50)),
                          fmt(max(per_mode[m]["unblock"])))
     if per_mode[m]["unblock"] else "n/a", ""),
    ("stale: probes lost after the unblock",
     lambda m: str(sum(per_mode[m]["stale"])), "0"),
    ("controllers' CPU per migration, 3 nodes (ms)",
     lambda m: fmt(int(open(os.path.join(out, m + ".cpu")).read())
                   / len(per_mode[m]["outage"])), ""),
]
print()
print("Summary, %d migrations per mode (ping-pong node1 <-> node2):" % n_mig)
ROW = "%-42s" + " %11s" * len(MODES) + "   %s"
print(ROW % ("", *MODES, "goal"))
for name, f, goal in rows:
    print(ROW % (name, *(cell(m, f) for m in MODES), goal))
print()
print("OVN multichassis: " + ovn_status)
print("""  RARP -> unblocked in the switch: from the VM's first RARP on its wire
  (tcpdump, the kernel's clock) to the target's flow table letting its
  copy's traffic through, as an OpenFlow monitor reads it (user space, at
  SCHED_FIFO): with self-activation (mirror) the flow the RARP itself made
  the switch learn (table 15), else the first change of the blocking flows
  (livebind: the agent's bundle; OVN: ovn-controller's flows).
  The controller's round trip: livebind's from the agent's log, the
  RARP's packet-in to the barrier reply of its unblocking bundle (off the
  VM's path with self-activation); OVN's from the target switch's
  packet-in to its next flow change, as the monitor sees them.""")
for m in MODES:
    path = os.path.join(out, m + ".rst.txt")
    if os.path.exists(path):
        rsts = [l.strip() for l in open(path)
                if re.match(r"\d+\.\d+ ", l)]
        if rsts:
            print("%s: the client got %d TCP reset(s), the first: %s"
                  % (m, len(rsts), rsts[0][:150]))
print("TCP counters per mode (client deltas; vm: the VM's side):")
for m in MODES:
    if m in tcp:
        print("  %-10s %s" % (m, " ".join(
            "%s=%d" % (k.replace("TcpExtTCP", "").replace("Tcp", ""), v)
            for k, v in sorted(tcp[m].items()) if v)))
EOF
cat "$out/notes"
