#!/bin/bash
# Benchmark: many VMs migrating at once (`make bench-migration
# BENCH_VM=scale`).  The bed and the real control plane of
# bench-migration.sh, the VMs emulated as there (tests/system/migration.sh),
# livebind with mirroring; on top of them BENCH_SCALE_PORTS (10,000) other
# pods and LogicalPorts, bound to the three nodes in turn, so that every
# node's switch holds their flows.  BENCH_SCALE_VMS (100) VMs, spread over
# the three nodes, each migrate to the next node (node1 -> node2 -> node3
# -> node1), all prepared together, then all cut over at once (every VM's
# cutover and QEMU-like RARP rounds released together), then all completed.
#
# Measured: every VM's first RARP -> the flow it made its target's switch
# learn (its copy unblocked in the switch: self-activation; an OpenFlow
# monitor on each node), the agents' own round trip for each activation
# (the target agents' log lines: packet-in -> barrier reply, and when the
# bundle left), the frames the switches' packet sockets dropped while the
# VMs cut over, UDP probes from a client pod on node3 to
# BENCH_SCALE_PROBES (5) of the VMs (lost probes, the longest run x 2 ms;
# their one-way delay from the release to the last copy unblocked, what
# any packet waited then, and in the second before), each switch's main
# loop in the 2 s before the release (its CPU per wakeup, which polls
# every pod port), and the three agents' CPU time per migration: while
# the migrations are prepared (VMIMs, target pods, mirror flows), cut
# over and completed.  OVN is not measured in this mode (10,000 logical
# ports and 100 multichassis bindings would be a bed of their own).
# Prints figures; asserts nothing.  Exit: 0 when the figures were printed,
# 1 when the bench could not run.  See tests/bench/README.md.
set -eu
# Timed: the agents run as in production, without --check-incremental.
export LB_CHECK_INCREMENTAL=${LB_CHECK_INCREMENTAL:-0}

# Run by bench-migration.sh (BENCH_VM=scale), which checked root and the
# build.
builddir=$LB_BUILDDIR
agent_bin=$builddir/ovn-agent/livebind-agent
n_vms=${BENCH_SCALE_VMS:-100}
n_ports=${BENCH_SCALE_PORTS:-10000}
n_probes=${BENCH_SCALE_PROBES:-5}
LB_PREFIX=${LB_PREFIX:-lbbs$$-}
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
. "$srcdir/tests/system/k8s.sh"
. "$srcdir/tests/system/migration.sh"
bed_trap

die() { echo "bench-migration (scale): ERROR: $*" >&2; exit 1; }
now_us() { echo "${EPOCHREALTIME/./}"; }
rt=()
if chrt -f 3 true 2>/dev/null; then rt=(chrt -f 3); fi
[ "$n_probes" -le "$n_vms" ] || n_probes=$n_vms

bed_up 3 >/dev/null || die "bed_up failed"
dir=$LB_BED_DIR
out=$dir/bench
mkdir -p "$out"
k8s_api_start || die "the control plane did not start"
k8s_switch pods 1 10.60.0.0/16 10.60.0.1 >/dev/null
# The other ports' own switch: the CNI's address management knows nothing
# of addresses written straight into LogicalPorts.
k8s_switch bulk 2 10.64.0.0/10 10.64.0.1 >/dev/null
for n in 1 2 3; do
    k8s_node "node$n" "$(bed_node_ip "$n")" >/dev/null
done
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" \
    >> "$out/notes"

t=$(now_us)
bed_exec ul python3 "$srcdir/tests/bench/load-ports.py" "$LB_API" \
    "$LB_BED_DIR/k8s/pki" "$n_ports" bulk 10.64.0.10 bulk ||
    die "loading $n_ports ports"
echo "$n_ports other pods and LogicalPorts written in" \
     "$(( ($(now_us) - t) / 1000000 )) s" >> "$out/notes"
for n in 1 2 3; do
    agent_k8s_start "node$n" -vfile:info \
        2>>"$out/agent-start.log" || die "node$n: the agent did not start"
done
for n in 1 2 3; do
    agent_wait_synced "node$n" 300 || die "node$n: the agent is not synced"
    agent_wait_installed "node$n" 300 || die "node$n: flows not installed"
done
echo "flows per node: $(for n in 1 2 3; do agent_ctl "node$n" status |
    sed -n 's/^desired flows: \([0-9]*\).*/\1/p'; done | paste -sd/)" \
    >> "$out/notes"
add_pod node3 client || die "client pod"

src_node() { echo "node$(( ($1 - 1) % 3 + 1 ))"; }
dst_node() { echo "node$(( $1 % 3 + 1 ))"; }

# in_parallel FUNCTION : FUNCTION 1 .. FUNCTION n_vms, ten at a time.
in_parallel() {
    local i pids=() rc=0 p
    for i in $(seq "$n_vms"); do
        "$1" "$i" > "$out/$1.$i.log" 2>&1 &
        pids+=($!)
        if [ ${#pids[@]} -ge 10 ]; then
            for p in "${pids[@]}"; do wait "$p" || rc=1; done
            pids=()
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    return $rc
}

vm_up() {  # I : VM I runs on its source node, behind its launcher pod
    local i=$1 node uid
    node=$(src_node "$i")
    uid=$(vmi_create "vm$i" "$node") || return 1
    echo "$uid" > "$out/vmi.$i"
    add_pod "$node" "vm$i-l0" "$(launcher_meta "vm$i" "$uid")" || return 1
    guest_create "g$i" "$(mac_of "vm$i-l0")" "$(ip_of "vm$i-l0")/16"
    vm_pod_bridge "vm$i-l0" "g$i" up0
    ip -n "${LB_PREFIX}g$i" link set up0 up
}

vm_prepare() {  # I : VMIM, target pod, mirroring, up to Running
    local i=$1 src dst vmi uid
    src=$(src_node "$i") dst=$(dst_node "$i") vmi=$(cat "$out/vmi.$i")
    uid=$(vmim_create "mig$i" "vm$i") || return 1
    vmim_phase "mig$i" Scheduling
    add_pod "$dst" "vm$i-l1" "$(launcher_meta "vm$i" "$vmi" "$uid" "mig$i")" ||
        return 1
    vm_pod_bridge "vm$i-l1" "g$i" up1
    vmim_phase "mig$i" Scheduled
    vmim_phase "mig$i" PreparingTarget
    echo "{\"migrationUid\":\"$uid\",\"sourceNode\":\"$src\",
           \"targetNode\":\"$dst\",\"sourcePod\":\"vm$i-l0\",
           \"targetPod\":\"vm$i-l1\",\"mode\":\"PreCopy\"" > "$out/state.$i"
    vmi_migration_state "vm$i" "$(cat "$out/state.$i")}" || return 1
    vmim_phase "mig$i" TargetReady
    vmim_phase "mig$i" Running
}

vm_complete() {  # I
    local i=$1
    vmi_migration_state "vm$i" "$(cat "$out/state.$i"),\"completed\":true,
        \"targetNodeDomainReadyTimestamp\":\"2026-12-05T00:00:00Z\"}" \
        "$(dst_node "$i")" || return 1
    vmim_phase "mig$i" Succeeded
    pod_phase "vm$i-l0" Succeeded
}

# Flow checks over all VMs, one dump a node (each holds tens of
# thousands of flows): how many of the VMs' copies are blocked on their
# target, and how many migration flows of theirs are left anywhere.
blocked_count() {
    local n i total=0
    for n in node1 node2 node3; do
        for i in $(seq "$n_vms"); do
            [ "$(dst_node "$i")" != "$n" ] ||
                printf '%s\n' \
                    "priority=150,reg14=${keys[$i]} actions=drop" \
                    "priority=155,reg10=0x2/0x3,reg14=${keys[$i]} actions=drop"
        done > "$out/patterns"
        total=$((total + $(bed_dump_flows "$n" |
            grep -o -F -f "$out/patterns" | sort -u | wc -l)))
    done
    echo "$total"
}
migration_flow_count() {
    local n i total=0
    for i in $(seq "$n_vms"); do
        printf 'cookie=0x48%014x,\n' "${keys[$i]}"
    done > "$out/patterns"
    for n in node1 node2 node3; do
        total=$((total + $(bed_dump_flows "$n" |
            grep -c -F -f "$out/patterns" || true)))
    done
    echo "$total"
}
all_blocked() { [ "$(blocked_count)" = "$n_vms" ]; }
none_blocked() { [ "$(blocked_count)" = 0 ]; }
no_migration_flows() { [ "$(migration_flow_count)" = 0 ]; }
# agents_log_count PATTERN : the three agents' log lines that match
# PATTERN, in which "@" stands for the agent's own node.
agents_log_count() {
    local n
    for n in node1 node2 node3; do
        grep -c -- "${1//@/$n}" "$(bed_node_dir "$n")/agent.log" || true
    done | awk '{ n += $1 } END { print n + 0 }'
}
all_logged() {
    [ "$(agents_log_count 'unblocked in the switch')" -ge "$n_vms" ]
}
# The target agents have derived every migration as activated: from the
# API's view, or after their own takeover of a copy the switch unblocked
# (lib/agent-migration.c); their flows follow within a loop iteration.
all_taken_over() {
    [ "$(agents_log_count '-> @): [a-z]* -> activated')" -ge "$n_vms" ]
}

t=$(now_us)
in_parallel vm_up || die "starting the VMs (see $out/vm_up.*.log)"
declare -A keys
for i in $(seq "$n_vms"); do
    keys[$i]=$(printf '%#x' "$(key_of "vm$i-l0")")
done
echo "$n_vms VMs started in $(( ($(now_us) - t) / 1000000 )) s" \
    >> "$out/notes"

cpu0=$(agents_cpu_ms node1 node2 node3)
t=$(now_us)
in_parallel vm_prepare || die "preparing the migrations (see $out)"
bed_wait_until 120 all_blocked ||
    die "not every target copy is blocked"
t_prep=$(( ($(now_us) - t) / 1000 ))
cpu1=$(agents_cpu_ms node1 node2 node3)

# The probes, on the first VMs: from just before the cutover
# to a second after it.
probe_pids=()
for i in $(seq "$n_probes"); do
    bed_bg "g$i" "$out/echo.$i.log" "${rt[@]}" python3 \
        "$srcdir/tests/bench/udp-probe.py" server 7001
    bed_bg client "$out/probe.$i.log" "${rt[@]}" python3 \
        "$srcdir/tests/bench/udp-probe.py" client "$(ip_of "vm$i-l0")" 7001 \
        "$out/probe.$i" 2
    probe_pids+=("$BED_BG_PID")
done

# The switches' own activations: every flow a VM's RARP made its target's
# switch learn, as a monitor on each node reads it (at SCHED_FIFO).
learned_monitors=()
for n in 1 2 3; do
    learned_monitor "node$n" "$out/learned.node$n" "${rt[@]}"
    learned_monitors+=("$BED_BG_PID")
done
for i in $(seq "$n_vms"); do
    echo "$i ${keys[$i]} $(dst_node "$i")"
done > "$out/keys"

# What the switches' packet sockets dropped (receive buffer full: the
# switch's thread did not read in time): "ss" counts it for each socket
# (skmem's d), saved per node before and after the cutovers.
socket_drops() {  # SUFFIX
    local n
    for n in node1 node2 node3; do
        bed_exec "$n" ss -0 -m -n > "$out/ss.$n.$1"
    done
}

sleep 1

# All at once: every VM's cutover and RARPs armed, waiting on one FIFO,
# then released together (as many VMs resuming in the same instant), from
# one process that resumes them one after the other, each VM's first RARP
# right after its cutover (cutover_arm_all), at SCHED_FIFO as the probes:
# a real VM's QEMU resumes on its own node's CPUs, and does not wait for
# this bed's three switches to get one.  BENCH_SCALE_EMULATION=process
# arms a process for each VM instead (cutover_arm), as this bench did
# before: on two CPUs those wait for a CPU between cutover and RARP.
fifo=$out/resume
mkfifo "$fifo"
pids=()
if [ "${BENCH_SCALE_EMULATION:-one}" = process ]; then
    for i in $(seq "$n_vms"); do
        cutover_arm "g$i" "$(mac_of "vm$i-l0")" up0 up1 "$fifo"
        pids+=("$BED_BG_PID")
    done
    armed() { [ "$(pgrep -c -f -- "--trigger $fifo")" -ge "$n_vms" ]; }
    bed_wait_until 60 armed ||
        echo "not every cutover was armed" >> "$out/notes"
else
    vms=()
    for i in $(seq "$n_vms"); do vms+=("g$i:$(mac_of "vm$i-l0")"); done
    cutover_arm_all "$fifo" "${rt[@]}" -- "${vms[@]}" ||
        echo "not every cutover was armed" >> "$out/notes"
    pids+=("$BED_BG_PID")
fi
# Each switch's main loop in the last 2 s before the release, with the
# probes running: its CPU per wakeup, where each wakeup polls every
# AF_PACKET port (tests/bench/bench-switch-ports.sh).  switch_loops
# writes, for each node, the time (us), the main thread's CPU (ns) and
# its waits in poll() (voluntary context switches).
switch_loops() {  # SUFFIX
    local n
    for n in node1 node2 node3; do
        echo "$(now_us) $(bed_switch_main_thread "$n")"
    done > "$out/loops.$1"
}
for n in node1 node2 node3; do
    bed_ovs "$n" ovs-vsctl --bare --columns=name find Interface 'type=""' |
        grep -c .
done > "$out/loops.ports"
switch_loops before
sleep 2
switch_loops after
socket_drops before
# BENCH_SCALE_PERF=1: the whole machine's scheduling and CPU samples
# (perf) from here until the probes stop, into bench/perf.data, to tell
# which thread held a CPU or waited while the VMs cut over.
# perf starts with its events off and turns them on when told, once it
# has read every process's maps (seconds with a few hundred processes):
# its acknowledgement is what the cutovers wait for.  Its clock against
# the wall clock's, for reading the two together: bench/perf.clock.
perf_pid=""
if [ -n "${BENCH_SCALE_PERF-}" ]; then
    mkfifo "$out/perf.ctl" "$out/perf.ack"
    perf record -q -a -g -k mono -D -1 \
        --control "fifo:$out/perf.ctl,$out/perf.ack" \
        -e sched:sched_switch,sched:sched_wakeup,cpu-clock \
        -o "$out/perf.data" > "$out/perf.log" 2>&1 &
    perf_pid=$!
    echo enable > "$out/perf.ctl"
    timeout 60 head -c 3 "$out/perf.ack" > /dev/null ||
        echo "perf did not acknowledge" >> "$out/notes"
    python3 -c 'import time
print("wall - mono (s):", time.time() - time.monotonic())' \
        > "$out/perf.clock"
fi
t_cut=$(now_us)
exec 3>"$fifo"
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
exec 3>&-
socket_drops after
bed_wait_until 60 all_logged || echo "not every activation was logged" \
    >> "$out/notes"
# The probes go on while the agents take the copies over in their flows
# (bundles to the switches that forward them), and a second after.
bed_wait_until 60 all_taken_over ||
    echo "not every migration was derived activated" >> "$out/notes"
t_taken=$(now_us)
cpu2=$(agents_cpu_ms node1 node2 node3)
sleep 1
for p in "${probe_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${probe_pids[@]}"; do wait "$p" 2>/dev/null || true; done
if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
fi
# Only once the probes are done: dumping a switch's 46,000 flows holds its
# main thread, which also forwards, for a tenth of a second or more.
bed_wait_until 30 none_blocked ||
    echo "not every target copy was unblocked" >> "$out/notes"

cpu3=$(agents_cpu_ms node1 node2 node3)
for p in "${learned_monitors[@]}"; do
    kill -TERM -- "-$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
done
t=$(now_us)
in_parallel vm_complete || die "completing the migrations (see $out)"
bed_wait_until 120 no_migration_flows ||
    echo "migration flows left after completion" >> "$out/notes"
t_done=$(( ($(now_us) - t) / 1000 ))
cpu4=$(agents_cpu_ms node1 node2 node3)

for n in 1 2 3; do
    grep 'unblocked in the switch' "$(bed_node_dir "node$n")/agent.log" |
        sed -n 's/^\([^|]*\)|.*switch \([0-9]*\) us after.*left after \([0-9]*\) us.*/\2 \3 \1/p'
done > "$out/unblock"
# The copies the switch unblocked itself (self-activation), which the
# agents took over later without a bundle of their own: no round trip.
agents_log_count "unblocked in the switch by the VM's RARP" \
    > "$out/self-unblocked"

python3 - "$out" "$LB_BED_DIR" "$n_vms" "$n_ports" "$n_probes" "$t_prep" \
    "$t_cut" "$t_done" "$t_taken" "$cpu0" "$cpu1" "$cpu2" "$cpu3" "$cpu4" <<'PY'
import datetime, json, os, re, sys
out, bed = sys.argv[1:3]
(n_vms, n_ports, n_probes, t_prep, t_cut, t_done, t_taken,
 *cpu) = map(int, sys.argv[3:])
lat = [l.split() for l in open(out + "/unblock")]
n_self = int(open(out + "/self-unblocked").read() or 0)
unb = sorted(int(x[0]) for x in lat)
sent = sorted(int(x[1]) for x in lat)
# The last activation's log line (ms resolution) after the release.
last = max((datetime.datetime.strptime(x[2], "%Y-%m-%dT%H:%M:%S.%fZ")
            .replace(tzinfo=datetime.timezone.utc).timestamp()
            for x in lat), default=None)
t_unbl = "-" if last is None else "%.0f" % (last * 1000 - t_cut / 1000)

def pct(v, p):
    if not v:
        return "-"
    return str(v[max(0, min(len(v) - 1, -(-p * len(v) // 100) - 1))])

# Each VM's first RARP (its emulation's clock, announce.py --stamp) ->
# the flow it made its target's switch learn (the monitor's clock).
learned = {}
for n in (1, 2, 3):
    path = "%s/learned.node%d" % (out, n)
    if os.path.exists(path):
        for t, key in (map(int, l.split()) for l in open(path)):
            learned.setdefault((n, key), t)
switch = []
cut_to_rarp = []
vm_cut_to_rarp = {}
last_act = None
for line in open(out + "/keys"):
    i, key, dst = line.split()
    rarp = cut = None
    try:
        for l in open("%s/cutover.g%s.log" % (bed, i)):
            if l.startswith("cutover "):
                cut = int(l.split()[1])
            elif l.startswith("sent "):
                rarp = int(l.split()[1])
                break
    except OSError:
        pass
    if cut is not None and rarp is not None:
        cut_to_rarp.append(rarp - cut)
        vm_cut_to_rarp[int(i)] = rarp - cut
    t = learned.get((int(dst[-1]), int(key, 16)))
    if t is not None:
        last_act = t if last_act is None else max(last_act, t)
        if rarp is not None:
            switch.append(t - rarp)
switch.sort()
cut_to_rarp.sort()

def socket_drops(path):
    """Per socket ("interface" or "interface#k"), the frames it dropped."""
    res, seen = {}, {}
    try:
        lines = open(path).read().splitlines()[1:]
    except OSError:
        return res
    for l in lines:
        f = l.split()
        m = re.search(r"skmem:\(.*,d(\d+)\)", l)
        if len(f) < 4 or not m:
            continue
        name = f[3].split(":")[-1]
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += "#%d" % seen[name]
        res[name] = int(m.group(1))
    return res

drops, drop_ports = [], []
for n in (1, 2, 3):
    a = socket_drops("%s/ss.node%d.before" % (out, n))
    b = socket_drops("%s/ss.node%d.after" % (out, n))
    d = {k: v - a.get(k, 0) for k, v in b.items() if v > a.get(k, 0)}
    drops.append(sum(d.values()))
    drop_ports += ["node%d %s %d" % (n, k, v) for k, v in
                   sorted(d.items(), key=lambda x: -x[1])[:4]]

print("%d VMs migrating at once across 3 nodes (node1 -> node2 -> node3 -> "
      "node1), %d other ports on every node, livebind with mirroring"
      % (n_vms, n_ports))
print("%-52s %-14s %s" % ("", "figure", "goal"))
rows = [
    ("activated in the switches (learned)", "%d of %d" % (len(switch),
                                                          n_vms), ""),
    ("RARP -> unblocked in the switch p50/p99/max (us)",
     "%s/%s/%s" % (pct(switch, 50), pct(switch, 99), pct(switch, 100)),
     "p99 <= 1000"),
    ("cutovers released -> the last one unblocked (ms)",
     "-" if last_act is None else "%.0f" % ((last_act - t_cut) / 1000), ""),
    ("activations logged by the agents", "%d of %d" % (
        len(unb) + n_self, n_vms), ""),
    ("  of them unblocked by the switch itself", str(n_self),
     "no bundle: no round trip"),
    ("the agents' round trip p50/p99/max (us)",
     "%s/%s/%s" % (pct(unb, 50), pct(unb, 99), pct(unb, 100)), ""),
    ("  of it, RARP -> bundle sent p50/p99/max (us)",
     "%s/%s/%s" % (pct(sent, 50), pct(sent, 99), pct(sent, 100)), ""),
    ("cutovers released -> the last agent's barrier (ms)", t_unbl, ""),
    ("cutovers released -> every migration derived activated (ms)",
     "%d" % ((t_taken - t_cut) / 1000), "the probes run a second past it"),
    ("preparation (VMIMs, pods, mirroring) of all (ms)", str(t_prep), ""),
    ("completion of all -> no migration flow left (ms)", str(t_done), ""),
    ("agents' CPU per migration, 3 nodes: preparing (ms)",
     "%.1f" % ((cpu[1] - cpu[0]) / n_vms), ""),
    ("  cutting over (ms)", "%.1f" % ((cpu[2] - cpu[1]) / n_vms), ""),
    ("  completing (ms)", "%.1f" % ((cpu[4] - cpu[3]) / n_vms), ""),
    ("frames the switches' sockets dropped, cutting over",
     "/".join(map(str, drops)), "node1/2/3"),
    ("  most on", ", ".join(drop_ports) or "-", ""),
    ("the emulation: cutover -> first RARP p50/p99/max (us)",
     "%s/%s/%s" % (pct(cut_to_rarp, 50), pct(cut_to_rarp, 99),
                   pct(cut_to_rarp, 100)), ""),
]
probes = {}
for i in range(1, n_probes + 1):
    try:
        probes[i] = json.load(open("%s/probe.%d" % (out, i)))
    except (OSError, ValueError):
        pass
# What any packet waited then: the probes' one-way delay (client ->
# the VM's echo, through two switches: the client's on node3 and the
# VM's), for those sent from the release to the last copy unblocked, and
# in the second before the release.
window, steady = [], []
for p in probes.values():
    for sent_at, one_way, _ in p.get("delays", []):
        t = sent_at * 1e6
        if last_act is not None and t_cut <= t <= last_act:
            window.append(int(one_way * 1000))
        elif t_cut - 1e6 <= t < t_cut:
            steady.append(int(one_way * 1000))
window.sort()
steady.sort()
rows.append(("the probes' one-way delay p50/p99/max (us)", "%s/%s/%s" % (
                 pct(window, 50), pct(window, 99), pct(window, 100)),
             "released -> last unblocked: %d datagrams, two switches"
             % len(window)))
rows.append(("  in the second before the release (us)",
             "%s/%s/%s" % (pct(steady, 50), pct(steady, 99),
                           pct(steady, 100)),
             "%d datagrams" % len(steady)))
for i, p in sorted(probes.items()):
    # The emulated VM's own share: from its cutover (neither copy
    # delivers to it) to its first RARP (the target's copy opens).
    own = vm_cut_to_rarp.get(i)
    # The cutovers' outage: the longest run of losses from the release on
    # (the probes start before the VMs are armed, which takes a while);
    # what was lost before it, apart.
    after = [r for r in p["runs"] if r["start"] * 1e6 >= t_cut - 50000]
    before = sum(r["length"] for r in p["runs"]
                 if r["start"] * 1e6 < t_cut - 50000)
    outage = max((r["length"] for r in after), default=0) * p["interval_ms"]
    rows.append(("UDP probe to vm%d: lost, outage (ms)" % i,
                 "%d, %.1f" % (sum(r["length"] for r in after), outage),
                 "<= 1 ms; its cutover -> RARP %s ms; lost before the "
                 "release: %d" % ("-" if own is None else
                                  "%.1f" % (own / 1000), before)))
try:
    loops = [[list(map(int, l.split()))
              for l in open("%s/loops.%s" % (out, w))]
             for w in ("before", "after")]
    ports = open(out + "/loops.ports").read().split()
    per = []
    for (t0, c0, w0), (t1, c1, w1) in zip(*loops):
        waits = w1 - w0
        per.append((waits / ((t1 - t0) / 1e6),
                    (c1 - c0) / 1e3 / (t1 - t0),
                    (c1 - c0) / 1e3 / max(waits, 1)))
    rows.append(("switches' polled ports, 2 s before the release",
                 "/".join(ports), "node1/2/3"))
    rows.append(("  main thread busy (share of a CPU)",
                 "/".join("%.2f" % p[1] for p in per), ""))
    rows.append(("  main loop waits in poll() per s",
                 "/".join("%.0f" % p[0] for p in per), ""))
    rows.append(("  main thread CPU per wait (us)",
                 "/".join("%.0f" % p[2] for p in per),
                 "each wakeup polls every port"))
except (OSError, ValueError):
    pass
for name, v, goal in rows:
    print("%-52s %-14s %s" % (name, v, goal))
PY
# BENCH_SCALE_PERF=1: who had the two CPUs from the release until the
# last copy was unblocked in its switch, and how long each switch's main
# thread, which handles the RARPs, waited for one (tests/bench/README.md,
# "Where a RARP waits in the switch").
if [ -n "$perf_pid" ]; then
    t_last=$(cut -d' ' -f1 "$out"/learned.node? 2>/dev/null |
             sort -n | tail -1)
    [ "${t_last:-0}" -gt "$t_cut" ] || t_last=$((t_cut + 30000))
    switches=()
    for n in 1 2 3; do
        switches+=("node$n's switch=$(cat \
            "$(bed_node_dir "node$n")/ovs-vswitchd.pid")")
    done
    echo "the release -> the last copy unblocked, as perf saw it:"
    python3 "$srcdir/tests/bench/sched-window.py" "$out/perf.data" \
        "$(awk '{ print $NF }' "$out/perf.clock")" "$t_cut" "$t_last" \
        "${switches[@]}" | sed 's/^/  /'
fi
cat "$out/notes"
