#!/bin/bash
# Benchmark: live migration on a provider network, seen from a host outside
# the cluster.  Three nodes, the real control plane, the physical switch of
# tests/system/physnet.sh (MAC ageing 300 s, each node's uplink a trunk),
# an external host on VLAN 100 and a VM on VLAN 100 that migrates node1 ->
# node2 -> node1 ... BENCH_MIGRATIONS times (default 20) in each mode:
#
#   livebind   the agents, the VM's port on a provider LogicalSwitch
#   OVN        OVN's own on the same bed, as Kube-OVN drives it: a localnet
#              logical switch with tag 100 (ovn-bridge-mappings to the same
#              br-phys), the VM's port requested on both chassis with
#              activation-strategy=rarp, then on the target alone; if
#              ovn-controller, ovn-northd and ovn-nbctl are installed
#
# Measured from the external host, in BENCH_MIGRATIONS migrations each
# (one after the other, so that neither disturbs the other): a UDP probe (a
# datagram every 2 ms, echoed by the VM: tests/bench/udp-probe.py) across
# the cutover, the outage = the longest run of lost probes x 2 ms; then a
# bulk TCP transfer at the VLAN's full MTU (tests/system/bulk.py, 64 KiB
# every 10 ms in 1448-byte segments) across the cutover: whether it
# arrived whole and its longest stall.  After each migration, the path MTU
# the external host caches for the VM (below 1500: an ICMP "fragmentation
# needed" was sent it).  Prints figures; asserts nothing.  Exit: 0 when
# the figures were printed, 1 when the bench could not run, 77 without
# root.
#
#   sudo make bench-provider [BENCH_MIGRATIONS=N] [BENCH_MODES="livebind ovn"]
#       [BENCH_MEASURE="udp bulk"] [BENCH_CAPTURE=1 (tcpdump of the probes in
#       the guest and at the external host, kept with LB_BED_KEEP=1)]
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
N=${BENCH_MIGRATIONS:-20}
case $N in
    ''|*[!0-9]*|0) echo "bench-provider: BENCH_MIGRATIONS=$N" >&2; exit 1 ;;
esac
modes=${BENCH_MODES:-livebind ovn}
measures=${BENCH_MEASURE:-udp bulk}
LB_PREFIX=${LB_PREFIX:-lbbp$$-}
export LB_UL_MTU=1600           # Headroom for tunnelled VLAN frames.
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/physnet.sh"

probe=$srcdir/tests/bench/udp-probe.py
bulk=$srcdir/tests/system/bulk.py
rt=()
if chrt -f 1 true 2>/dev/null; then rt=(chrt -f 1); fi
die() { echo "bench-provider: ERROR: $*" >&2; exit 1; }

t0=$EPOCHREALTIME
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
physnet_cluster_up 100 >/dev/null 2>&1 ||
    die "the cluster or the physical switch did not start"
dir=$LB_BED_DIR
out=$dir/bench
mkdir -p "$out"
physnet_host ext 100 02:e0:00:00:00:fa 10.100.0.250/16
physnet_switch vlan100 2 10.100.0.0/16 10.100.0.1 physnet1 100 1500 \
    '["10.100.0.1-10.100.0.9", "10.100.0.250"]' >/dev/null
bed_wait_until 10 on_all_nodes physnet_connected physnet1 ||
    die "br-int not patched to br-phys"

# The measurement of migration I: "udp" or "bulk" (BENCH_MEASURE, each
# for BENCH_MIGRATIONS migrations in turn).
kinds=()
for k in $measures; do
    for i in $(seq 1 "$N"); do kinds+=("$k"); done
done
M=${#kinds[@]}

# measure_start TAG IP KIND : the probe or the bulk transfer from the
# external host to IP, into $out/TAG.*.
measure_start() {
    rm -f "$out/$1.bulk" "$out/$1.stop"
    if [ "$3" = bulk ]; then
        bed_bg "$guest" "$out/$1.bulk-server.log" python3 "$bulk" server \
            7001 "$out/$1.bulk"
        bulk_server=$BED_BG_PID
        bed_wait_until 5 bed_exec "$guest" sh -c 'ss -ltn | grep -q :7001'
        bed_bg ext "$out/$1.bulk-client.log" python3 "$bulk" client "$2" \
            7001 "$out/$1.stop"
    else
        bed_bg ext "$out/$1.probe.log" "${rt[@]}" python3 "$probe" client \
            "$2" 7100 "$out/$1.probe" 2
        probe_client=$BED_BG_PID
    fi
    sleep 0.3
}
measure_stop() {
    if [ "$3" = bulk ]; then
        touch "$out/$1.stop"
        bed_wait_until 10 test -s "$out/$1.bulk" || kill "$bulk_server" ||
            true
    else
        kill -TERM "$probe_client" 2>/dev/null || true
        bed_wait_until 10 test -s "$out/$1.probe" || true
    fi
    # What the external host caches for the VM now.
    bed_exec ext ip route get "$2" | sed -n 's/.* mtu \([0-9]*\).*/\1/p' \
        > "$out/$1.pmtu"
}

# vm_guest GUEST MAC IP : the VM's stack, MTU 1500, with the probe's echo.
vm_guest() {
    guest=$1
    guest_create "$1" "$2" "$3/16"
    ip -n "${LB_PREFIX}$1" link set br0 mtu 1500
    bed_bg "$1" "$out/$1.probe-server.log" "${rt[@]}" python3 "$probe" \
        server 7100
}

# ---------------------------------------------------------------- livebind
fresh=',"completed":null,"failed":null,"targetNodeDomainReadyTimestamp":null'
vm_meta() {  # launcher_meta's, on the provider network
    launcher_meta "$@" |
        sed 's|"annotations":{|"annotations":{"livebind.io/logical-switch":"vlan100",|'
}
livebind_run() {
    local uid i src=node1 dst=node2 spod=launcher-0 dpod mig muid
    uid=$(vmi_create vm1 node1)
    add_pod node1 launcher-0 "$(vm_meta vm1 "$uid")" || die "the VM's pod"
    local ip mac key
    ip=$(ip_of launcher-0) mac=$(mac_of launcher-0)
    key=$(( (2 << 24) | $(echo "$ip" | awk -F. '{print $3 * 256 + $4}') ))
    vm_guest guest "$mac" "$ip"
    vm_pod_bridge launcher-0 guest up0
    ip -n "${LB_PREFIX}guest" link set up0 up
    bed_wait_until 10 bed_exec ext ping -c 1 -W 1 "$ip" >/dev/null ||
        die "the external host does not reach the VM"
    for i in $(seq 1 "$M"); do
        mig=mig$i dpod=launcher-$i kind=${kinds[$((i - 1))]}
        muid=$(vmim_create "$mig" vm1)
        vmim_phase "$mig" Scheduling
        add_pod "$dst" "$dpod" "$(vm_meta vm1 "$uid" "$muid" "$mig")" ||
            die "$mig: target pod"
        vm_pod_bridge "$dpod" guest "up$i"
        if [ -n "${BENCH_CAPTURE:-}" ]; then
            # Where a lost probe was lost: every probe and echo as the
            # guest's bridge and the external host see them.
            bed_bg guest "$out/livebind.$i.cap-guest" tcpdump -i any -n -tt \
                -l --immediate-mode 'udp port 7100 or ether proto 0x8035'
            bed_bg ext "$out/livebind.$i.cap-ext" tcpdump -i eth0 -n -tt -e \
                -l --immediate-mode 'udp port 7100 or ether proto 0x8035 or arp'
        fi
        vmim_phase "$mig" PreparingTarget
        vmi_migration_state vm1 "$(mig_state "$muid" "$src" "$dst" "$spod" \
            "$dpod" "$fresh")"
        bed_wait_until 5 port_blocked "$dst" "$key" || die "$mig: not mirrored"
        measure_start "livebind.$i" "$ip" "$kind"
        vmim_phase "$mig" Running
        cutover_and_announce guest "$mac" "up$((i - 1))" "up$i"
        bed_wait_until 5 port_not_blocked "$dst" "$key" ||
            echo "livebind $i: not unblocked" >> "$out/notes"
        sleep 0.5
        measure_stop "livebind.$i" "$ip" "$kind"
        vmi_migration_state vm1 "$(mig_state "$muid" "$src" "$dst" "$spod" \
            "$dpod" ",\"completed\":true")" "$dst"
        vmim_phase "$mig" Succeeded
        pod_phase "$spod" Succeeded
        cni "$src" DEL "$spod" >/dev/null || true
        k8s_delete "/api/v1/namespaces/default/pods/$spod"
        ip -n "${LB_PREFIX}guest" link del "up$((i - 1))" 2>/dev/null || true
        ip netns del "${LB_PREFIX}$spod" 2>/dev/null || true
        bed_wait_until 5 on_no_node has_migration_flows "$key" || true
        echo "livebind $i $src->$dst" >> "$out/runs"
        spod=$dpod
        local t=$src; src=$dst; dst=$t
    done
    # The VM leaves the switch's table before OVN's runs.
    bed_exec ext ip neigh flush dev eth0
}

# ---------------------------------------------------------------- OVN
. "$srcdir/tests/bench/ovn.sh"
ovn_run() {
    local ip=10.100.0.30 mac=0a:58:0a:64:00:1e i src=node1 dst=node2 p
    ovn_start >> "$out/ovn-start.log" 2>&1 || return 1
    for n in 1 2 3; do
        # livebind's patch port on br-phys goes with its agent.
        for p in $(bed_ovs "node$n" ovs-vsctl list-ports br-phys); do
            [ "$p" = up0 ] || bed_ovs "node$n" ovs-vsctl del-port br-phys "$p"
        done
        bed_ovs "node$n" ovs-vsctl set Open_vSwitch . \
            external_ids:ovn-bridge-mappings=physnet1:br-phys || return 1
    done
    ovn_nbctl ls-add vlan100 \
        -- lsp-add vlan100 ln-vlan100 "" 100 \
        -- lsp-set-type ln-vlan100 localnet \
        -- lsp-set-addresses ln-vlan100 unknown \
        -- lsp-set-options ln-vlan100 network_name=physnet1 \
        -- lsp-add vlan100 vm -- lsp-set-addresses vm "$mac $ip" \
        -- lsp-set-options vm requested-chassis=node1 || return 1
    LB_POD_MTU=1500 bed_pod_add node1 ovm-0 "$mac" "$ip/16" "" vm || return 1
    bed_wait_until 20 ovn_installed node1 ovm-0 || return 1
    vm_guest og "$mac" "$ip"
    vm_pod_bridge ovm-0 og uo0
    ip -n "${LB_PREFIX}og" link set uo0 up
    bed_wait_until 10 bed_exec ext ping -c 1 -W 1 "$ip" >/dev/null ||
        return 1
    echo "measured: OVN $(ovn-controller --version | head -1 |
        awk '{print $NF}')" > "$out/ovn.status"
    for i in $(seq 1 "$M"); do
        kind=${kinds[$((i - 1))]}
        ovn_nbctl --wait=hv lsp-set-options vm \
            requested-chassis="$src,$dst" activation-strategy=rarp ||
            return 1
        LB_POD_MTU=1500 bed_pod_add "$dst" "ovm-$i" "$mac" "$ip/16" "" vm ||
            return 1
        vm_pod_bridge "ovm-$i" og "uo$i"
        bed_wait_until 5 ovn_installed "$dst" "ovm-$i" ||
            echo "OVN $i: not installed" >> "$out/notes"
        bed_wait_until 5 ovn_additional ||
            echo "OVN $i: no additional chassis" >> "$out/notes"
        # Every ovn-controller has processed the binding (as livebind's
        # run waits for the target's blocked flows): the measurement
        # starts on a converged network.
        ovn_nbctl --wait=hv --timeout=10 sync ||
            echo "OVN $i: not synced" >> "$out/notes"
        measure_start "OVN.$i" "$ip" "$kind"
        cutover_and_announce og "$mac" "uo$((i - 1))" "uo$i"
        sleep 0.5
        measure_stop "OVN.$i" "$ip" "$kind"
        ovn_nbctl lsp-set-options vm requested-chassis="$dst" \
            activation-strategy=rarp || return 1
        bed_wait_until 5 ovn_single ||
            echo "OVN $i: additional chassis left" >> "$out/notes"
        bed_pod_del "$src" "ovm-$((i - 1))"
        ip -n "${LB_PREFIX}og" link del "uo$((i - 1))" 2>/dev/null || true
        echo "OVN $i $src->$dst" >> "$out/runs"
        local t=$src; src=$dst; dst=$t
    done
}

for m in $modes; do
    case $m in
        livebind) livebind_run ;;
        ovn)
            reason=$(ovn_available)
            if [ -n "$reason" ]; then
                echo "not measured: $reason" > "$out/ovn.status"
            elif ! ovn_run; then
                echo "not measured: OVN did not start (see ovn-start.log)" \
                    >> "$out/ovn.status"
            fi
            ;;
        *) die "unknown mode $m" ;;
    esac
done

python3 - "$out" "$N" <<'PY'
import json, os, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
runs = [l.split() for l in open(os.path.join(out, "runs"))]
def load(tag, suffix):
    try:
        return json.load(open(os.path.join(out, "%s.%s" % (tag, suffix))))
    except (OSError, ValueError):
        return None
rows = {}
print("Per migration (probe every 2 ms from the external host; bulk at "
      "full MTU):")
print("%-9s %3s %-13s %6s %6s %10s %9s %6s" % (
    "mode", "#", "path", "lost", "outage", "bulk", "stall", "pmtu"))
for mode, i, path in runs:
    tag = "%s.%s" % (mode, i)
    p, b = load(tag, "probe"), load(tag, "bulk")
    sent = None
    try:
        sent = json.loads(open(os.path.join(out, tag + ".bulk-client.log"))
                          .read().strip().splitlines()[-1])["sent"]
    except (OSError, ValueError, IndexError, KeyError):
        pass
    pmtu = open(os.path.join(out, tag + ".pmtu")).read().strip() or "-"
    whole = (b is not None and sent is not None and b["received"] == sent)
    r = rows.setdefault(mode, {"outage": [], "lost": [], "stall": [],
                               "whole": 0, "pmtu_low": 0, "n": 0,
                               "bulk_runs": 0})
    r["n"] += 1
    r["bulk_runs"] += os.path.exists(os.path.join(out, tag + ".bulk-client.log"))
    if p:
        r["outage"].append(p["outage_ms"])
        r["lost"].append(p["lost"])
    if b:
        r["stall"].append(b["max_stall_ms"])
    r["whole"] += whole
    r["pmtu_low"] += pmtu != "-" and int(pmtu) < 1500
    print("%-9s %3s %-13s %6s %6s %10s %9s %6s" % (
        mode, i, path, p["lost"] if p else "-",
        "%.1f" % p["outage_ms"] if p else "-",
        ("whole" if whole else "SHORT") if b else
        ("BROKEN" if os.path.exists(os.path.join(out, tag + ".stop"))
         else "-"),
        "%.0f ms" % b["max_stall_ms"] if b else "-", pmtu))
def med(v):
    return "%.1f" % statistics.median(v) if v else "n/m"
def mx(v):
    return "%.1f" % max(v) if v else "n/m"
modes = list(rows)
print()
print("Summary, %d migrations per mode and measurement:" % n)
fmt = "%-44s" + " %12s" * len(modes) + "   %s"
print(fmt % (("",) + tuple(modes) + ("goal",)))
def line(label, f, goal=""):
    print(fmt % ((label,) + tuple(f(rows[m]) for m in modes) + (goal,)))
line("migrations", lambda r: r["n"])
line("probed / bulk transfers", lambda r: "%d/%d" % (len(r["outage"]),
                                                     r["bulk_runs"]))
line("external host's UDP outage, median (ms)", lambda r: med(r["outage"]),
     "<= 2 (OVN, Kube-OVN sequence: 9.9)")
line("external host's UDP outage, max (ms)", lambda r: mx(r["outage"]),
     "<= 10")
line("lost probes/migration, median/max", lambda r: "%s/%s" % (
    med(r["lost"]).split(".")[0], mx(r["lost"]).split(".")[0]))
line("bulk transfers arrived whole, one connection", lambda r: "%d/%d" % (
    r["whole"], r["bulk_runs"]))
line("bulk: longest stall, median/max (ms)", lambda r: "%s/%s" % (
    med(r["stall"]).split(".")[0], mx(r["stall"]).split(".")[0]))
line("bulk: stalls > 250 ms", lambda r: sum(s > 250 for s in r["stall"]),
     "0")
line("path MTU < 1500 cached afterwards", lambda r: r["pmtu_low"], "0")
status = os.path.join(out, "ovn.status")
print()
print("OVN: " + (open(status).read().strip() if os.path.exists(status)
                 else "not measured: not in BENCH_MODES"))
notes = os.path.join(out, "notes")
if os.path.exists(notes):
    print("notes: " + "; ".join(l.strip() for l in open(notes)))
PY
awk -v t0="$t0" -v now="$EPOCHREALTIME" \
    'BEGIN { printf "bench-provider: %.0f s\n", now - t0 }'
