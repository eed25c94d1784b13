#!/bin/bash
# Benchmark of the Kubernetes control plane.  Prints figures; asserts
# nothing.
#
# 1. Objects per second the agent processes: the bed's real kube-apiserver
#    (tests/system/control-plane.sh) holds 10,000 pods and their 10,000
#    LogicalPorts, written through the API as the components write them;
#    one agent lists and watches them; time from its start until it is
#    synced and until the flows of all ports are installed.
# 2. Latency from an object change at the API server to flows installed on
#    all 3 nodes (p50/p99 over BENCH_CHANGES LogicalPort creations), found
#    by polling each node's switch for the new port's MAC.
# 3. The node agent's memory and start, side by side with OVN 23.03's
#    ovn-controller holding the same ports (n/m without OVN).
set -eu
# Timed: the agents run as in production, without --check-incremental.
export LB_CHECK_INCREMENTAL=${LB_CHECK_INCREMENTAL:-0}

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${LB_BUILDDIR:-$srcdir}
agent_bin=$builddir/ovn-agent/livebind-agent
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
n_pods=${BENCH_PODS:-10000}
n_changes=${BENCH_CHANGES:-30}

LB_PREFIX=${LB_PREFIX:-lbbk$$-}
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
. "$srcdir/tests/system/k8s.sh"
bed_trap
bed_up 3 >/dev/null
dir=$LB_BED_DIR

k8s_api_start
k8s_switch pods 1 10.0.0.0/8 10.0.0.1 >/dev/null
for n in 1 2 3; do
    k8s_node "node$n" "$(bed_node_ip "$n")" >/dev/null
done
# The objects, written as the components write them: each pod created as
# scheduled, then Running through its status; each LogicalPort created, then
# its owner through its status.  Several connections at once, as a cluster's
# kubelets and agents would.
load_start=${EPOCHREALTIME/./}
bed_exec ul python3 "$srcdir/tests/bench/load-ports.py" "$LB_API" \
    "$LB_BED_DIR/k8s/pki" "$n_pods" pods 10.0.0.10
load_end=${EPOCHREALTIME/./}
echo "loaded $n_pods pods and $n_pods LogicalPorts (4 writes each) into" \
     "kube-apiserver in $(( (load_end - load_start) / 1000 )) ms:" \
     "$(( 4 * n_pods * 1000000 / (load_end - load_start) )) writes/s"

start=${EPOCHREALTIME/./}
agent_start=$start
agent_k8s_start node1 -vfile:info
agent_wait_synced node1 300
synced=${EPOCHREALTIME/./}
agent_wait_installed node1 300
installed=${EPOCHREALTIME/./}
objects=$((2 * n_pods + 4))
ms() { echo $(( ($2 - $1) / 1000 )); }
echo "list+watch: $objects objects ($n_pods pods, $n_pods LogicalPorts, 3 nodes, 1 switch)"
echo "  synced after $(ms "$start" "$synced") ms:" \
     "$(( objects * 1000000 / (synced - start) )) objects/s"
livebind_flows=$(agent_ctl node1 status |
                 sed -n 's/^desired flows: \([0-9]*\).*/\1/p')
echo "  flows of $n_pods ports installed after $(ms "$start" "$installed") ms" \
     "($livebind_flows flows)"
agent_ctl node1 status | grep -E 'last full compute'
rss_kib=$(ps -o rss= -p "$(cat "$(bed_node_dir node1)/agent.pid")")
echo "  agent RSS with every object cached and every flow installed:" \
     "$(( rss_kib / 1024 )) MiB"

# Watch events: a burst of MODIFIED pods (labels), counted at the agent.
burst=${BENCH_BURST:-2000}
before=$(agent_ctl node1 k8s | awk '/pods/ && /events/ {print}' | head -1)
start=${EPOCHREALTIME/./}
bed_exec ul python3 - "$LB_API" "$LB_BED_DIR/k8s/pki" "$burst" <<'PY'
import http.client, json, ssl, sys, urllib.parse
u, pki = urllib.parse.urlparse(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
for i in range(int(sys.argv[3])):
    body = json.dumps({"metadata": {"labels": {"bench": str(i)}}})
    c.request("PATCH", "/api/v1/namespaces/default/pods/pod%d" % i, body,
              {"Content-Type": "application/merge-patch+json"})
    c.getresponse().read()
PY
written=${EPOCHREALTIME/./}
# The agent has processed the burst when its pods watch reports the last
# write's resourceVersion.
api_rv=$(kapi GET "/api/v1/namespaces/default/pods/pod$((burst - 1))" |
         sed -n 's/.*"resourceVersion": *"\([0-9]*\)".*/\1/p' | head -1)
pods_rv() {
    agent_ctl node1 k8s | awk '/^watch \/api\/v1\/pods/ {w = 1}
        w && /resource version:/ {print $3; exit}'
}
caught_up() {
    local rv; rv=$(pods_rv)
    [ -n "$rv" ] && [ "$rv" -ge "$api_rv" ]
}
bed_wait_until 60 caught_up || true
end=${EPOCHREALTIME/./}
echo "  watch: $burst MODIFIED pod events written in $(ms "$start" "$written") ms" \
     "and processed by the agent $(ms "$start" "$end") ms after the first" \
     "($(( burst * 1000000 / (end - start) )) events/s; one client's" \
     "sequential writes to kube-apiserver bound it)"

# Change -> flows on all 3 nodes.  The agents log each flow-mod (ofctrl at
# debug level) with a millisecond timestamp; the barrier that confirms the
# bundle follows within about a millisecond.
agent_ctl node1 vlog/set ofctrl:file:dbg >/dev/null
for n in 2 3; do agent_k8s_start "node$n" -vfile:info -vofctrl:file:dbg; done
for n in 2 3; do agent_wait_synced "node$n" 300; agent_wait_installed "node$n" 300; done
lat=()
for i in $(seq "$n_changes"); do
    off=$((n_pods + 100 + i))
    ip="10.$((off >> 16)).$(((off >> 8) & 255)).$((off & 255))"
    mac=$(printf '0a:58:0a:%02x:%02x:%02x' $((off >> 16)) $(((off >> 8) & 255)) $((off & 255)))
    body="{\"apiVersion\":\"livebind.io/v1alpha1\",\"kind\":\"LogicalPort\",
           \"metadata\":{\"name\":\"new$i\",\"namespace\":\"default\"},
           \"spec\":{\"switch\":\"pods\",\"ips\":[\"$ip\"],\"pod\":\"new$i\"}}"
    owner="{\"status\":{\"activeOwner\":{\"pod\":\"new$i\",\"podUID\":\"u$i\",
                                        \"node\":\"node1\"}}}"
    start=${EPOCHREALTIME/./}
    # As the agent's CNI ADD writes a port: the object, then its owner.
    kapi_ok POST /apis/livebind.io/v1alpha1/namespaces/default/logicalports "$body" >/dev/null
    kapi_status /apis/livebind.io/v1alpha1/namespaces/default/logicalports/new$i "$owner" >/dev/null
    last=0
    for n in 1 2 3; do
        log=$(bed_node_dir "node$n")/agent.log
        bed_wait_until 10 grep -q "add table=30 .*dl_dst=$mac" "$log"
        t=$(grep -m1 "add table=30 .*dl_dst=$mac" "$log" | cut -d'|' -f1)
        t=$(date -d "$t" +%s%6N)
        [ "$t" -gt "$last" ] && last=$t
    done
    lat+=($(( last - start )))
done
printf '%s\n' "${lat[@]}" | sort -n > "$dir/lat"
p() { sed -n "$(( ($1 * n_changes + 99) / 100 ))p" "$dir/lat"; }
echo "object change -> flows on all 3 nodes ($n_changes LogicalPort creations," \
     "$n_pods ports present):"
echo "  p50 $(( $(p 50) / 1000 )) ms, p99 $(( $(p 99) / 1000 )) ms" \
     "(from before the POST, through kube-apiserver and its watch streams," \
     "to the flow-mod in the last node's bundle; millisecond log stamps)"

# 3. The node agent's memory, side by side with OVN's: OVN 23.03 holding the
# same ports (ovn-northd, ovn-controller on node1 in place of livebind's
# agent), from ovn-controller's start to its flows installed.  The ports
# are bound to node2 and node3, written into the SB database as their
# ovn-controllers would (none runs there, so that no one releases them);
# one port is node1's own, so that its switch is local to node1.
# BENCH_OVN_MONITOR_ALL (true) is ovn-controller's ovn-monitor-all: with
# false it reads only its local switches' rows, and OVN 23.03 then takes
# minutes here (tests/bench/README.md).
. "$srcdir/tests/bench/ovn.sh"
echo "the node agent among $n_pods ports, livebind and OVN side by side:"
ovn_why=$(ovn_available)
ovn_monitor_all=${BENCH_OVN_MONITOR_ALL:-true}
if [ -z "$ovn_why" ]; then
    ovn_flows_settled() {  # the switch's flow count unchanged for 2 s
        local now; now=$(bed_ofctl node1 dump-aggregate br-int |
                         sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
        if [ "$now" != "$ovn_count" ]; then
            ovn_count=$now ovn_since=${EPOCHREALTIME/./}
            return 1
        fi
        [ $(( ${EPOCHREALTIME/./} - ovn_since )) -ge 2000000 ]
    }
    # The last port's MAC in node1's flows: ovn-controller has computed
    # and installed the ports' flows (it claims node1's own port and sets
    # it ovn-installed before it has even read the switch's logical flows).
    off=$(( 10 + n_pods - 1 ))
    ovn_last_mac=$(printf '0a:58:0a:%02x:%02x:%02x' $((off >> 16)) \
                   $(((off >> 8) & 255)) $((off & 255)))
    ovn_last_installed() {
        bed_ofctl node1 dump-flows br-int "dl_dst=$ovn_last_mac" |
            grep -q "dl_dst=$ovn_last_mac"
    }
    ovn_central_start >> "$dir/ovn-start.log" 2>&1 ||
        ovn_why="OVN did not start (see $dir/ovn-start.log)"
fi
if [ -z "$ovn_why" ]; then
    for n in 2 3; do
        ovn_sbctl chassis-add "node$n" geneve "$(bed_node_ip "$n")"
    done
    ovn_load_start=${EPOCHREALTIME/./}
    lflows=$(python3 "$srcdir/tests/bench/ovn-load-ports.py" \
        "$dir/ovn/nb.sock" "$dir/ovn/sb.sock" "$n_pods" 10.0.0.10 local0 \
        node2 node3 | sed -n 's/^lflows //p')
    ovn_load_end=${EPOCHREALTIME/./}
    bed_ovs node1 ovs-vsctl add-port br-int ovnlocal -- \
        set Interface ovnlocal type=internal external_ids:iface-id=local0
    start=${EPOCHREALTIME/./}
    ovn_controller_start node1 "ovn-monitor-all=$ovn_monitor_all"
    bed_wait_until 600 ovn_last_installed ||
        ovn_why="ovn-controller did not install the ports' flows in 600 s"
fi
if [ -z "$ovn_why" ]; then
    ovn_ms=$(ms "$start" "${EPOCHREALTIME/./}")
    ovn_count= ovn_since=
    bed_wait_until 120 ovn_flows_settled || true
    ovn_rss=$(ps -o rss= -p "$(cat "$(bed_node_dir node1)/ovn-controller.pid")")
    ovn_rss=$(( ovn_rss / 1024 ))
    echo "  (OVN's $n_pods ports and $lflows logical flows loaded and" \
         "bound in $(ms "$ovn_load_start" "$ovn_load_end") ms, before" \
         "ovn-controller started, with ovn-monitor-all=$ovn_monitor_all)"
else
    ovn_ms=n/m ovn_rss=n/m ovn_count=n/m
fi
printf '  %-44s %12s %12s\n' "" livebind "OVN 23.03"
printf '  %-44s %12s %12s\n' "RSS, every port cached and installed (MiB)" \
    "$(( rss_kib / 1024 ))" "$ovn_rss"
printf '  %-44s %12s %12s\n' "OpenFlow flows on node1" \
    "${livebind_flows:-?}" "$ovn_count"
printf '  %-44s %12s %12s\n' "start -> flows installed (ms)" \
    "$(ms "$agent_start" "$installed")" "$ovn_ms"
[ -z "$ovn_why" ] || echo "  OVN: n/m: $ovn_why"
