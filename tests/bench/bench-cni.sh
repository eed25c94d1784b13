#!/bin/bash
# Benchmark: CNI ADD latency, from the plugin's start to its result, which
# the agent gives only once the pod's flows are installed.  100 pods, one
# after another, on one node of a three-node bed.  Prints p50 and p99;
# asserts nothing.
set -eu
# Timed: the agents run as in production, without --check-incremental.
export LB_CHECK_INCREMENTAL=${LB_CHECK_INCREMENTAL:-0}

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${LB_BUILDDIR:-$srcdir}
agent_bin=$builddir/ovn-agent/livebind-agent
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
pods=${BENCH_PODS:-100}

LB_PREFIX=${LB_PREFIX:-lbbc$$-}
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
. "$srcdir/tests/system/k8s.sh"
bed_trap
bed_up 3 >/dev/null
k8s_api_start
k8s_switch pods 1 10.40.0.0/16 10.40.0.1 >/dev/null
for n in 1 2 3; do
    k8s_node "node$n" "$(bed_node_ip "$n")" >/dev/null
    agent_k8s_start "node$n" -vfile:info \
        --cni-socket="$(bed_node_dir "node$n")/cni/cni.sock" 2>/dev/null
done
for n in 1 2 3; do agent_wait_synced "node$n"; done

lat=()
for i in $(seq "$pods"); do
    k8s_pod default "p$i" node1 >/dev/null
    pod_netns "p$i"
    # The pod object's arrival at the agent is not part of ADD's latency
    # in a real cluster (the kubelet runs CNI after the pod is scheduled).
    sleep 0.05
    uid=$(pod_uid default "p$i")
    start=${EPOCHREALTIME/./}
    CNI_POD_UID=$uid cni node1 ADD "p$i" >/dev/null
    end=${EPOCHREALTIME/./}
    lat+=($(( end - start )))
done
printf '%s\n' "${lat[@]}" | sort -n > "$LB_BED_DIR/lat"
p() { sed -n "$(( ($1 * pods + 99) / 100 ))p" "$LB_BED_DIR/lat"; }
echo "CNI ADD latency over $pods pods (flows installed before the result):"
echo "  p50 $(( $(p 50) / 1000 )) ms, p99 $(( $(p 99) / 1000 )) ms," \
     "max $(( $(tail -1 "$LB_BED_DIR/lat") / 1000 )) ms" \
     "(targets: p50 <= 30 ms, p99 <= 100 ms)"
echo "  (includes exec'ing libcni's runtime and the plugin, as a runtime does)"
