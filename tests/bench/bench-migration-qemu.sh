#!/bin/bash
# Benchmark: what a real QEMU live migration costs the VM's traffic (the
# "qemu" VM mode of `make bench-migration BENCH_VM=qemu`).  The bed and the
# real control plane of bench-migration.sh, but the VM is the
# QEMU guest of tests/system/qemu.sh (utilities/build-guest.sh), attached as
# KubeVirt's bridge binding attaches it and live-migrated by QEMU itself,
# in step with KubeVirt's phases: node1 -> node2 -> node1 ...
# BENCH_MIGRATIONS times (default 5) in each mode, side by side:
#
#   mirror     livebind as deployed: every sender mirrors to both copies,
#              the target copy activates itself on QEMU's RARP
#   agent-gate mirror, agents run with --no-self-activation (the target
#              copy waits for its agent to unblock it)
#   no-gate    mirror, agents run with --no-port-gate (the blocked copy
#              held in the flow table alone)
#   no-mirror  agents run with --no-mirror
#   OVN        OVN's multichassis binding, activation-strategy=rarp (if
#              ovn-central and ovn-host are installed)
#
# Per migration: QEMU's downtime (query-migrate) and the source's STOP ->
# the target's RESUME (QMP events); on the target's tap (tests/system/
# tapcap.py): frames handed to the VM before RESUME, RESUME -> QEMU's
# first RARP, RESUME -> the client's first frame; at the client pod on
# node3: UDP probes lost (a datagram every BENCH_QEMU_UDP_MS, default
# 2 ms, to the guest's echo server; besides them a one-way datagram every
# BENCH_QEMU_MARK_MS, default 0.5 ms, to a closed port, so that the
# client's first frame on the tap is not up to 2 ms late) and the longest
# gap in the TCP echo stream (a message every 10 ms; under TCG the guest
# itself is slow for ~100 ms after it resumes, so this includes that).
# Prints figures; asserts nothing.  Exit: 0 when the figures were printed,
# 1 when the bench could not run, 77 without QEMU.  See
# tests/bench/README.md.
#
#   BENCH_MODES="mirror agent-gate no-gate no-mirror ovn" (the default);
#   LB_BED_KEEP=1 keeps
#   the raw figures in $LB_BED_DIR/bench.
set -eu
# Timed: the agents run as in production, without --check-incremental.
export LB_CHECK_INCREMENTAL=${LB_CHECK_INCREMENTAL:-0}

# Run by bench-migration.sh (BENCH_VM=qemu), which checked root, the build
# and BENCH_MIGRATIONS.
builddir=$LB_BUILDDIR
agent_bin=$builddir/ovn-agent/livebind-agent
N=$BENCH_MIGRATIONS
LB_PREFIX=${LB_PREFIX:-lbbq$$-}
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
. "$srcdir/tests/system/k8s.sh"
. "$srcdir/tests/system/migration.sh"
. "$srcdir/tests/system/qemu.sh"
. "$srcdir/tests/bench/ovn.sh"

die() { echo "bench-migration (qemu): ERROR: $*" >&2; exit 1; }
qemu_require
bed_trap

# The client's ends run SCHED_FIFO, so that a busy CPU does not delay
# their messages.
rt=() portcap_pid=""
if chrt -f 3 true 2>/dev/null; then rt=(chrt -f 3); fi
# The captures (tapcap.py) read the kernel's receive timestamps, so they
# need no CPU on time and run at nice 19: on two CPUs, a capture woken
# for every frame at a real-time priority preempted the target's switch
# (perf sched) and delayed the very frames it timed.
# The UDP echo probes' spacing (ms), and that of a one-way stream from the
# same client to a port nothing answers on (the marks).  The first client
# frame can reach the target only once one is sent, so the spacing is part
# of "R>cli": the marks every 0.5 ms keep it under the goal's resolution
# (before 2026-12-05 11:00 the echo probes, every 2 ms, put up to 2 ms of
# waiting for the next one into the figure), and the echoes stay every
# 2 ms, which a guest under TCG keeps up with as it resumes (at 0.5 ms
# it did not: 114 ms of echoes lost, median, against 14).
udp_ms=${BENCH_QEMU_UDP_MS:-2}
mark_ms=${BENCH_QEMU_MARK_MS:-0.5}

bed_up 3 >/dev/null || die "bed_up failed"
dir=$LB_BED_DIR
out=$dir/bench
mkdir -p "$out"
k8s_api_start || die "the control plane did not start"
k8s_switch pods 1 10.30.0.0/16 10.30.0.1 >/dev/null
for n in 1 2 3; do
    k8s_node "node$n" "$(bed_node_ip "$n")" >/dev/null
done
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" \
    >> "$out/notes"
echo "$("$QEMU_BIN" --version | head -1);" \
    "guest $(cat "$QEMU_GUEST/versions")" >> "$out/notes"

start_agents() {  # [ARGS...] : (re)start the three agents
    local n
    for n in 1 2 3; do
        agent_stop "node$n"
        agent_k8s_start "node$n" -vfile:info "$@" \
            2>>"$out/agent-start.log" || die "node$n: the agent did not start"
    done
    for n in 1 2 3; do
        agent_wait_synced "node$n" || die "node$n: the agent is not synced"
        agent_wait_installed "node$n" || die "node$n: flows not installed"
    done
}

# probes_start MODE I TO / probes_stop : the client's TCP echo stream and
# UDP probes around one migration to node TO.
probes_start() {
    local base=$out/$1.$2
    # What the client sends, where it sends it (its eth0), and what
    # reaches the target node's underlay (ul0, Geneve), so that the frame
    # first handed to the VM after its RARP is timed from the moment it
    # left the client: waiting for the client, its way through the
    # client's switch, and through the target's.
    bed_bg "$client" "$base.clientcap.log" nice -n 19 python3 \
        "$srcdir/tests/system/tapcap.py" capture eth0 "$base.client"
    clientcap_pid=$BED_BG_PID
    bed_bg "$3" "$base.ulcap.log" nice -n 19 python3 \
        "$srcdir/tests/system/tapcap.py" capture ul0 "$base.underlay"
    ulcap_pid=$BED_BG_PID
    bed_wait_until 10 grep -qs ready "$base.client" ||
        die "$1: no capture on the client"
    bed_wait_until 10 grep -qs ready "$base.underlay" ||
        die "$1: no capture on $3's underlay"
    bed_bg "$client" "$base.tcp.log" "${rt[@]}" python3 \
        "$srcdir/tests/system/echo-canary.py" tcp "$vm_ip" 7 "$base.tcp" 10
    tcp_pid=$BED_BG_PID
    bed_bg "$client" "$base.udp.log" "${rt[@]}" python3 \
        "$srcdir/tests/system/echo-canary.py" udp "$vm_ip" 7 "$base.udp" \
        "$udp_ms"
    udp_pid=$BED_BG_PID
    bed_bg "$client" "$base.mark.log" "${rt[@]}" python3 \
        "$srcdir/tests/system/echo-canary.py" mark "$vm_ip" 9 "$base.mark" \
        "$mark_ms"
    mark_pid=$BED_BG_PID
    bed_wait_until 10 test -s "$base.tcp.live" || die "$1: no TCP echoes"
    sleep 0.5
}
# port_capture_start MODE I NODE POD : what NODE's switch sends POD (its
# host-side interface, as the gate lets it through), from now on.
port_capture_start() {
    local base=$out/$1.$2 idx hif
    idx=$(ip -n "${LB_PREFIX}$4" -o link show eth0 |
        sed -n 's/.*eth0@if\([0-9]*\):.*/\1/p')
    hif=$(bed_exec "$3" ip -o link | awk -F': ' -v i="$idx" \
        '$1 == i { sub(/@.*/, "", $2); print $2 }')
    [ -n "$hif" ] || return 0
    bed_bg "$3" "$base.portcap.log" nice -n 19 python3 \
        "$srcdir/tests/system/tapcap.py" capture "$hif" "$base.port"
    portcap_pid=$BED_BG_PID
    bed_wait_until 10 grep -qs ready "$base.port" || true
}
probes_stop() {
    sleep 1
    kill "$tcp_pid" "$udp_pid" "$mark_pid" "$clientcap_pid" "$ulcap_pid" \
        $portcap_pid 2>/dev/null || true
    wait "$tcp_pid" "$udp_pid" "$mark_pid" "$clientcap_pid" "$ulcap_pid" \
        $portcap_pid 2>/dev/null || true
    portcap_pid=""
}

# record MODE I FROM TO SRC_POD TGT_POD NOTE : one migration's figures.
record() {
    local base=$out/$1.$2 learned_key=""
    [ "$1" = OVN ] || learned_key=$key
    qemu_tap_report "$6" "$client_ip" > "$base.tap" || echo '{}' > "$base.tap"
    python3 - "$base" "$1" "$2" "$3" "$4" \
        "$(qemu_mig_downtime "$5" || echo null)" \
        "$(qemu_stop_to_resume "$5" "$6" || echo null)" "$7" \
        "$(qemu_event_time "$6" RESUME || true)" "$out/learned.$4" \
        "$learned_key" >> "$out/records" <<'PY'
import datetime, json, sys
base, mode, i, src, dst, downtime, s2r, note, resume, learned, key = \
    sys.argv[1:]
resume = float(resume) if resume else None
rec = {"mode": mode, "i": int(i), "path": src + "->" + dst,
       "downtime": json.loads(downtime), "stop_resume": json.loads(s2r),
       "note": note}
rec.update(json.load(open(base + ".tap")))
# QEMU's first RARP on the tap (the kernel's clock) -> the flow it made the
# target's switch learn (self-activation), as the monitor read it.
rec["rarp_to_learned_ms"] = None
if key and resume and rec.get("resume_to_rarp_ms") is not None:
    t_rarp = resume + rec["resume_to_rarp_ms"] / 1000
    try:
        for t, k in (map(int, l.split()) for l in open(learned)):
            if k == int(key, 0) and t / 1e6 >= t_rarp - 0.1:
                rec["rarp_to_learned_ms"] = round((t / 1e6 - t_rarp) * 1000,
                                                  3)
                break
    except (OSError, ValueError):
        pass
# That first frame as it left the client and as it reached the target
# node's underlay (the same datagram, by its sequence number, in those
# captures): QEMU's first RARP -> sent (negative: already on its way),
# sent -> on the target's underlay (the client's switch), and underlay ->
# on the tap (the target's switch).
rec["rarp_to_sent_ms"] = rec["sent_to_tap_ms"] = None
rec["sent_to_ul_ms"] = rec["ul_to_tap_ms"] = None
rec["ul_to_port_ms"] = rec["port_to_tap_ms"] = None
first = rec.pop("client_first", None)

def first_seen(path, direction, proto):
    try:
        for line in open(path):
            f = line.split()
            if len(f) == 8 and f[1] == direction and f[7] == proto:
                return float(f[0])
    except (OSError, ValueError):
        pass
    return None

if first and "#" in first[1] and rec.get("resume_to_rarp_ms") is not None:
    t_rarp = resume + rec["resume_to_rarp_ms"] / 1000
    t_tap = float(first[0])
    t_sent = first_seen(base + ".client", "to-vm", first[1])
    t_ul = first_seen(base + ".underlay", "from-vm", first[1] + "@geneve")
    if t_sent is not None:
        rec["rarp_to_sent_ms"] = round((t_sent - t_rarp) * 1000, 3)
        rec["sent_to_tap_ms"] = round((t_tap - t_sent) * 1000, 3)
        if t_ul is not None:
            rec["sent_to_ul_ms"] = round((t_ul - t_sent) * 1000, 3)
            rec["ul_to_tap_ms"] = round((t_tap - t_ul) * 1000, 3)
            t_port = first_seen(base + ".port", "to-vm", first[1])
            if t_port is not None:
                rec["ul_to_port_ms"] = round((t_port - t_ul) * 1000, 3)
                rec["port_to_tap_ms"] = round((t_tap - t_port) * 1000, 3)
try:
    rec["unblock_us"] = int(open(base + ".unblock").read())
except (OSError, ValueError):
    rec["unblock_us"] = None
# The agent's log line for the RARP's packet-in (ms resolution): its time
# after QEMU's first RARP on the tap.
try:
    pin = datetime.datetime.strptime(open(base + ".pin").read().strip(),
                                     "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    rec["rarp_to_pin_ms"] = round((pin - resume) * 1000
                                  - rec["resume_to_rarp_ms"], 1)
except (OSError, ValueError, TypeError):
    rec["rarp_to_pin_ms"] = None
for kind in ("tcp", "udp"):
    try:
        rec[kind] = json.load(open("%s.%s" % (base, kind)))
    except (OSError, ValueError):
        rec[kind] = None
print(json.dumps(rec))
PY
}

# ---------------------------------------------------------------- livebind
vm_n=0
livebind_vm() {  # MODE : a fresh VM on node1, booted and reachable
    vm_n=$((vm_n + 1))
    vm=vm$vm_n cur_pod=vm$vm_n-l0 cur_node=node1
    qemu_vm_create "$vm" node1 "$cur_pod" 10.30.0.0/16 10.30.0.1 ||
        die "$1: VM $vm"
    vm_ip=${QEMU_VM_IP%/*}
    key=$(key_of "$cur_pod")
    bed_wait_until 120 bed_exec "$client" ping -c 1 -W 1 "$vm_ip" \
        >/dev/null || die "$1: the client does not reach $vm"
}

livebind_migrate() {  # MODE I FROM TO
    local mode=$1 i=$2 from=$3 to=$4 pod=$vm-l$2 vmim=$vm-mig$2 note=""
    probes_start "$mode" "$i" "$to"
    qemu_mig_prepare "$vmim" "$from" "$cur_pod" "$to" "$pod" ||
        die "$mode: target pod $pod"
    port_capture_start "$mode" "$i" "$to" "$pod"
    bed_wait_until 5 on_all_nodes has_migration_flows "$key" ||
        [ "$mode" = no-mirror ] || note="$note migration-flows-missing"
    qemu_mig_target_ready "$vmim" "$pod" || die "$mode: migrate-incoming"
    qemu_mig_run "$vmim" "$cur_pod" || die "$mode: migrate"
    qemu_mig_wait "$cur_pod" "$pod" 60 || die "$mode: the migration failed"
    bed_wait_until 5 port_not_blocked "$to" "$key" ||
        note="$note not-unblocked"
    # The target's agent: packet-in of the RARP -> unblocked (us).
    grep 'unblocked in the switch' "$(bed_node_dir "$to")/agent.log" |
        tail -1 | sed -n 's/.*switch \([0-9]*\) us after.*/\1/p' \
        > "$out/$mode.$i.unblock"
    grep 'RARP from the VM' "$(bed_node_dir "$to")/agent.log" | tail -1 |
        cut -d'|' -f1 > "$out/$mode.$i.pin"
    probes_stop
    ! qemu_guest_panicked "$pod" || note="$note guest-panicked"
    qemu_mig_succeed "$vmim" "$from" "$cur_pod" "$to" "$pod"
    bed_wait_until 5 on_no_node has_migration_flows "$key" ||
        note="$note migration-flows-left"
    record "$mode" "$i" "$from" "$to" "$cur_pod" "$pod" "${note# }"
    ip netns del "${LB_PREFIX}$cur_pod"
    cur_pod=$pod cur_node=$to
}

# ---------------------------------------------------------------- OVN
ovn_vm() {  # the client and the VM as OVN logical ports "oclient", "vm"
    client=oclient client_ip=10.40.0.10 vm=ovm cur_pod=ovm-l0 cur_node=node1
    vm_ip=10.40.0.20
    QEMU_VM=ovm QEMU_VM_MAC=0a:58:0a:28:00:14 QEMU_VM_IP=$vm_ip/16
    QEMU_VM_GW=10.40.0.1
    ovn_nbctl lsp-add pods oclient \
        -- lsp-set-addresses oclient "0a:58:0a:28:00:0a $client_ip" \
        -- lsp-add pods vm -- lsp-set-addresses vm "$QEMU_VM_MAC $vm_ip" \
        -- lsp-set-options vm requested-chassis=node1 || return 1
    bed_pod_add node3 oclient 0a:58:0a:28:00:0a "$client_ip/16" "" oclient ||
        return 1
    bed_pod_add node1 "$cur_pod" "$QEMU_VM_MAC" "$QEMU_VM_IP" "" vm ||
        return 1
    bed_wait_until 20 ovn_installed node3 oclient || return 1
    bed_wait_until 20 ovn_installed node1 "$cur_pod" || return 1
    qemu_pod_attach "$cur_pod"
    qemu_start "$cur_pod" || return 1
    bed_wait_until 120 bed_exec "$client" ping -c 1 -W 1 "$vm_ip" >/dev/null
}

# OVN's way, with the same QEMU migration: the port requested on both
# chassis with activation-strategy=rarp, the target pod added and QEMU
# migrated, then the port requested on the target alone and the source
# pod removed.
ovn_migrate() {  # MODE I FROM TO
    local mode=$1 i=$2 from=$3 to=$4 pod=ovm-l$2 note=""
    probes_start "$mode" "$i" "$to"
    ovn_nbctl --wait=hv lsp-set-options vm requested-chassis="$from,$to" \
        activation-strategy=rarp || die "ovn-nbctl"
    bed_pod_add "$to" "$pod" "$QEMU_VM_MAC" "$QEMU_VM_IP" "" vm ||
        die "pod $pod"
    qemu_pod_attach "$pod"
    qemu_tap_capture "$pod"
    port_capture_start "$mode" "$i" "$to" "$pod"
    qemu_start "$pod" --incoming || die "$mode: target QEMU"
    bed_wait_until 5 ovn_installed "$to" "$pod" || note="$note not-installed"
    bed_wait_until 5 ovn_additional || note="$note no-additional-chassis"
    qmp "$pod" migrate-incoming "{\"uri\":\"unix:$dir/qemu.ovn$i.mig\"}" \
        >/dev/null || die "$mode: migrate-incoming"
    qmp "$cur_pod" migrate "{\"uri\":\"unix:$dir/qemu.ovn$i.mig\"}" \
        >/dev/null || die "$mode: migrate"
    qemu_mig_wait "$cur_pod" "$pod" 60 || die "$mode: the migration failed"
    probes_stop
    ! qemu_guest_panicked "$pod" || note="$note guest-panicked"
    ovn_nbctl lsp-set-options vm requested-chassis="$to" \
        activation-strategy=rarp || die "ovn-nbctl"
    bed_wait_until 5 ovn_single || note="$note additional-chassis-left"
    qemu_stop "$cur_pod"
    record "$mode" "$i" "$from" "$to" "$cur_pod" "$pod" "${note# }"
    bed_pod_del "$from" "$cur_pod"
    cur_pod=$pod cur_node=$to
}

# ---------------------------------------------------------------- modes
pingpong() {  # FUNCTION MODE
    local i
    for i in $(seq "$N"); do
        if [ $((i % 2)) = 1 ]; then "$1" "$2" "$i" "$cur_node" node2
        else "$1" "$2" "$i" "$cur_node" node1; fi
    done
}
# The activations the targets' switches learn (self-activation).
learned_monitors=()
for n in 1 2; do
    learned_monitor "node$n" "$out/learned.node$n" "${rt[@]}"
    learned_monitors+=("$BED_BG_PID")
done
modes=${BENCH_MODES:-mirror agent-gate no-gate no-mirror ovn}
client=client client_ready=""
echo "not measured: not in BENCH_MODES" > "$out/ovn.status"
for mode in $modes; do
    case $mode in
    mirror|agent-gate|no-gate|no-mirror)
        case $mode in
            mirror) start_agents ;;
            agent-gate) start_agents --no-self-activation ;;
            no-gate) start_agents --no-port-gate ;;
            no-mirror) start_agents --no-mirror ;;
        esac
        if [ -z "$client_ready" ]; then
            add_pod node3 client || die "client pod"
            client_ip=$(ip_of client) client_ready=1
        fi
        livebind_vm "$mode"
        cpu_start=$(agents_cpu_ms node1 node2 node3)
        pingpong livebind_migrate "$mode"
        echo $(( $(agents_cpu_ms node1 node2 node3) - cpu_start )) \
            > "$out/$mode.cpu"
        qemu_stop "$cur_pod" ;;
    ovn)
        reason=$(ovn_available)
        if [ -n "$reason" ]; then
            echo "not measured: $reason" > "$out/ovn.status"
            continue
        fi
        ovn_start >> "$out/ovn-start.log" 2>&1 || {
            echo "not measured: OVN did not start (see ovn-start.log)" \
                > "$out/ovn.status"; continue; }
        ovn_vm >> "$out/ovn-start.log" 2>&1 || {
            echo "not measured: OVN's ports or the VM did not come up" \
                > "$out/ovn.status"; continue; }
        echo "measured: OVN $(ovn-controller --version | head -1 |
            awk '{print $NF}'), requested-chassis=src,dst +" \
            "activation-strategy=rarp, then requested-chassis=dst" \
            > "$out/ovn.status"
        cpu_start=$(ovn_cpu_ms)
        pingpong ovn_migrate OVN
        echo $(( $(ovn_cpu_ms) - cpu_start )) > "$out/OVN.cpu"
        ;;
    *)  die "unknown mode $mode in BENCH_MODES" ;;
    esac
done
for p in "${learned_monitors[@]}"; do
    kill -TERM -- "-$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
done

# ---------------------------------------------------------------- report
python3 - "$out" "$N" "$udp_ms" "$mark_ms" <<'PY'
import json, os, statistics, sys

out, n_mig, UDP_MS, MARK_MS = sys.argv[1], int(sys.argv[2]), *sys.argv[3:5]
MODES = ["mirror", "agent-gate", "no-gate", "no-mirror", "OVN"]
recs = [json.loads(l) for l in open(os.path.join(out, "records"))] \
    if os.path.exists(os.path.join(out, "records")) else []

def fmt(x, d=1):
    if x is None:
        return "-"
    return ("%%.%df" % d) % x if isinstance(x, float) else str(x)

print("""Per migration (a real QEMU guest, TCG, 128 MiB).  down: QEMU's
downtime; stop>res: the source's STOP -> the target's RESUME (QMP events);
on the target's tap: pre: frames handed to the VM before RESUME; RARP:
RESUME -> QEMU's first RARP; client: RESUME -> the client's first frame;
R>cli: QEMU's first RARP -> the client's first frame (the network's share;
its floor is one frame's trip, as QEMU announces the VM at resume; the
client also sends a one-way mark every %s ms), split into R>snt: the RARP
-> that frame leaving the client (negative: already on its way) and trip:
its way from the client to the tap, itself split into >ul: to the target
node's underlay (the client's switch) and ul>: from there to the tap, of
which ul>p: the target's switch, to the pod's interface, and p>tap: the
kernel's veth and the pod's bridge; p-in: QEMU's first RARP on
the tap -> livebind's target agent logs its packet-in (the log's ms
resolution); learn: QEMU's first RARP on the tap -> the flow it made the
target's switch learn, its copy unblocked there (self-activation; an
OpenFlow monitor's reading); unblock: the agent's packet-in -> its
unblocking bundle's barrier reply (the agent's figure); at the client: UDP probes lost (every
%s ms) and the longest run of them x %s ms, the TCP echo stream's longest
gap (includes the guest's own slow start).""" % (MARK_MS, UDP_MS, UDP_MS))
H = ("%-9s %2s %-12s %5s %8s %4s %6s %7s %6s %6s %5s %5s %5s %5s %5s %5s"
     " %6s %7s %5s %7s %7s %s")
print(H % ("mode", "#", "path", "down", "stop>res", "pre", "RARP", "client",
           "R>cli", "R>snt", "trip", ">ul", "ul>", "ul>p", "p>tap", "p-in",
           "learn", "unblock", "lost", "outage", "TCP gap", "notes"))
print(H % ("", "", "", "ms", "ms", "", "ms", "ms", "ms", "ms", "ms", "ms",
           "ms", "ms", "ms", "ms", "ms", "us", "", "ms", "ms", ""))
per = {m: {"down": [], "s2r": [], "rarp": [], "client": [], "lost": [],
           "r2c": [], "r2s": [], "trip": [], "to_ul": [], "ul_tap": [],
           "ul_port": [], "port_tap": [],
           "outage": [], "gap": [], "pre": [], "pin": [], "unblock": [],
           "learn": [],
           "tcp_lost": 0, "panics": 0,
           "tcp_conns": 0} for m in MODES}
for m in MODES:
    try:
        per[m]["cpu"] = "%.1f" % (int(open(os.path.join(out, m + ".cpu"))
                                      .read()) / n_mig)
    except (OSError, ValueError):
        per[m]["cpu"] = "-"
for r in recs:
    u, t = r.get("udp") or {}, r.get("tcp") or {}
    outage = (u.get("longest_loss_run", 0) * u.get("interval_ms", 2.0)
              if u else None)
    r2c = None
    if (r.get("resume_to_rarp_ms") is not None
            and r.get("resume_to_client_ms") is not None):
        r2c = r["resume_to_client_ms"] - r["resume_to_rarp_ms"]
    print(H % (r["mode"], r["i"], r["path"], fmt(r["downtime"]),
               fmt(r["stop_resume"]), fmt(r.get("to_vm_before_resume")),
               fmt(r.get("resume_to_rarp_ms"), 2),
               fmt(r.get("resume_to_client_ms"), 2), fmt(r2c, 2),
               fmt(r.get("rarp_to_sent_ms"), 2),
               fmt(r.get("sent_to_tap_ms"), 2),
               fmt(r.get("sent_to_ul_ms"), 2), fmt(r.get("ul_to_tap_ms"), 2),
               fmt(r.get("ul_to_port_ms"), 2),
               fmt(r.get("port_to_tap_ms"), 2),
               fmt(r.get("rarp_to_pin_ms")),
               fmt(r.get("rarp_to_learned_ms"), 2), fmt(r.get("unblock_us")),
               fmt(u.get("lost")),
               fmt(outage), fmt(t.get("max_gap_ms")), r["note"]))
    p = per[r["mode"]]
    for k, v in (("down", r["downtime"]), ("s2r", r["stop_resume"]),
                 ("rarp", r.get("resume_to_rarp_ms")),
                 ("client", r.get("resume_to_client_ms")), ("r2c", r2c),
                 ("r2s", r.get("rarp_to_sent_ms")),
                 ("trip", r.get("sent_to_tap_ms")),
                 ("to_ul", r.get("sent_to_ul_ms")),
                 ("ul_tap", r.get("ul_to_tap_ms")),
                 ("ul_port", r.get("ul_to_port_ms")),
                 ("port_tap", r.get("port_to_tap_ms")),
                 ("lost", u.get("lost")), ("outage", outage),
                 ("gap", t.get("max_gap_ms")),
                 ("pre", r.get("to_vm_before_resume")),
                 ("pin", r.get("rarp_to_pin_ms")),
                 ("unblock", r.get("unblock_us")),
                 ("learn", r.get("rarp_to_learned_ms"))):
        if v is not None:
            p[k].append(v)
    p["tcp_lost"] += t.get("lost", 0)
    p["panics"] += "guest-panicked" in r["note"]
    p["tcp_conns"] += t.get("connections", 0) - 1 if t else 0

def med_max(v, d=1):
    if not v:
        return "-"
    return "%s/%s" % (fmt(float(statistics.median(v)), d),
                      fmt(float(max(v)), d))

def pct3(v):
    """p50/p99/max in ms."""
    if not v:
        return "-"
    v = sorted(v)
    p99 = v[max(0, min(len(v) - 1, -(-99 * len(v) // 100) - 1))]
    return "%.2f/%.2f/%.2f" % (statistics.median(v), p99, v[-1])

ovn = open(os.path.join(out, "ovn.status")).read().strip()
rows = [
    ("migrations", lambda p: str(len(p["down"]))),
    ("QEMU downtime med/max (ms)", lambda p: med_max(p["down"])),
    ("source STOP -> target RESUME med/max (ms)", lambda p: med_max(p["s2r"])),
    ("frames to the target tap before RESUME", lambda p: str(sum(p["pre"]))),
    ("guest kernel panics after the migration",
     lambda p: str(p["panics"])),
    ("RESUME -> first RARP med/max (ms)", lambda p: med_max(p["rarp"], 2)),
    ("RESUME -> client's first frame med/max (ms)",
     lambda p: med_max(p["client"], 2)),
    ("first RARP -> client's first frame med/max",
     lambda p: med_max(p["r2c"], 2), "<= 1 / 2 ms"),
] + [
    # That first frame's way, part by part (its captures).
    (name, lambda p, key=key: med_max(p[key], 2)) for name, key in (
        ("  of which: RARP -> it left the client", "r2s"),
        ("  of which: its trip, client -> tap", "trip"),
        ("    client -> target node (client's switch)", "to_ul"),
        ("    target node -> tap", "ul_tap"),
        ("      target's switch -> pod's interface", "ul_port"),
        ("      pod's interface -> tap (kernel)", "port_tap"))
] + [
    ("first RARP -> unblocked in the switch",
     lambda p: pct3(p["learn"]), "p99 <= 1 ms"),
    ("RARP -> agent's packet-in med/max (ms)", lambda p: med_max(p["pin"])),
    ("agent: packet-in -> barrier med/max (us)",
     lambda p: med_max(p["unblock"], 0)),
    ("UDP probes lost/migration med/max", lambda p: med_max(p["lost"], 0)),
    ("UDP outage med/max (ms)", lambda p: med_max(p["outage"])),
    ("TCP echo gap med/max (ms)", lambda p: med_max(p["gap"])),
    ("TCP messages lost / reconnects",
     lambda p: "%d / %d" % (p["tcp_lost"], p["tcp_conns"])),
    ("controllers' CPU per migration, 3 nodes (ms)",
     lambda p: p["cpu"]),
]
print()
print("Summary, %d migrations per mode (ping-pong node1 <-> node2), real QEMU:"
      % n_mig)
ROW = "%-44s" + " %12s" * len(MODES) + "   %s"
print(ROW % ("", *MODES, "goal (mirror)"))
for name, f, *goal in rows:
    print(ROW % (name, *(
        f(per[m]) if per[m]["down"] else "n/m" for m in MODES),
        goal[0] if goal else ""))
print()
print("OVN multichassis: " + ovn)
PY
cat "$out/notes"
