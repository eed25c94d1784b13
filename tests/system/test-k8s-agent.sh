#!/bin/bash
# System test of the agents against a real Kubernetes control plane: three
# nodes, an agent on each with its own ServiceAccount token, flows
# following the objects; kube-apiserver restarted mid-watch after etcd was
# compacted while objects changed, so that the agents get 410 Gone.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${LB_BUILDDIR:-$srcdir}
agent_bin=$builddir/ovn-agent/livebind-agent
[ -x "$agent_bin" ] || { echo "SKIP: $agent_bin not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }

LB_PREFIX=${LB_PREFIX:-lbk$$-}
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
. "$srcdir/tests/system/k8s.sh"
bed_trap

bed_up 3
k8s_api_start

k8s_switch pods 1 10.0.0.0/24 10.0.0.1 >/dev/null
for n in 1 2 3; do
    k8s_node "node$n" "$(bed_node_ip "$n")" >/dev/null
done
for n in 1 2 3; do
    agent_k8s_start "node$n"
done
for n in 1 2 3; do
    check "node$n: agent listed every collection" agent_wait_synced "node$n"
    check "node$n: tunnels to the two other nodes" \
        bed_wait_until 10 tunnels_up "node$n" 2
done

pod_mac() { printf '0a:58:0a:00:00:%02x' "$1"; }
# plumb_pod NODE POD N : plumb pod POD with IP 10.0.0.N by hand (no CNI)
# and create its objects.
plumb_pod() {
    bed_pod_add "$1" "$2" "$(pod_mac "$3")" "10.0.0.$3/24" "$3" "default_$2"
    k8s_pod default "$2" "$1" >/dev/null
    k8s_port default "$2" "$2" "$1" $(((1 << 24) | $3)) "$(pod_mac "$3")" \
        "10.0.0.$3" >/dev/null
}
plumb_pod node1 pa 10
plumb_pod node2 pb 11
plumb_pod node3 pc 12

has_mac_flow() {  # MAC NODE
    bed_dump_flows "$2" | grep -q "dl_dst=$1 actions"
}
lacks_mac_flow() {  # MAC NODE
    ! has_mac_flow "$@"
}
wait_all() {  # CMD... (per node)
    bed_wait_until 10 on_all_nodes "$@"
}

check "pods' flows appear on every node" wait_all has_mac_flow "$(pod_mac 12)"
on_all_nodes agent_wait_installed
check "ping across nodes (pa -> pb)" bed_exec pa ping -c 3 -i 0.2 -W 2 10.0.0.11
check "ping across nodes (pc -> pa)" bed_exec pc ping -c 3 -i 0.2 -W 2 10.0.0.10

k8s_delete /apis/livebind.io/v1alpha1/namespaces/default/logicalports/pc
k8s_delete /api/v1/namespaces/default/pods/pc
check "a deleted port's flows go from every node" \
    wait_all lacks_mac_flow "$(pod_mac 12)"

# The agents stall mid-watch (SIGSTOP) while objects change; etcd's
# history is compacted and kube-apiserver restarts, so its watch cache
# starts over at the newest revision.  The agents resume from revisions it
# no longer has: 410 Gone, re-list, and the deletion must be noticed too.
relists_before=$(agent_ctl node1 k8s | sed -n 's/.*relists: \([0-9]*\).*/\1/p' |
                 awk '{ s += $1 } END { print s + 0 }')
for n in 1 2 3; do
    kill -STOP "$(cat "$(bed_node_dir "node$n")/agent.pid")"
done
plumb_pod node3 pd 13
k8s_delete /apis/livebind.io/v1alpha1/namespaces/default/logicalports/pb
k8s_delete /api/v1/namespaces/default/pods/pb
cp_etcd_compact
check "kube-apiserver restarted" cp_restart_apiserver
for n in 1 2 3; do
    kill -CONT "$(cat "$(bed_node_dir "node$n")/agent.pid")"
done
check "after the restart and 410: new port on every node" \
    wait_all has_mac_flow "$(pod_mac 13)"
check "after the restart and 410: deleted port gone from every node" \
    wait_all lacks_mac_flow "$(pod_mac 11)"
on_all_nodes agent_wait_installed
check "ping to the port created while streams were down (pa -> pd)" \
    bed_exec pa ping -c 3 -i 0.2 -W 2 10.0.0.13
relisted() {
    local now
    now=$(agent_ctl node1 k8s | sed -n 's/.*relists: \([0-9]*\).*/\1/p' |
          awk '{ s += $1 } END { print s + 0 }')
    echo "node1 re-lists: $relists_before -> $now"
    [ "$now" -gt "$relists_before" ]
}
check "node1 re-listed after 410 Gone" relisted

# The agents converged: a freshly started agent wants exactly what is
# installed, so it sends no flow-mod.
for n in 1 2 3; do
    before=$(bed_dump_flows "node$n" | md5sum)
    agent_stop "node$n"
    agent_k8s_start "node$n"
    agent_wait_synced "node$n"
    check "node$n: fresh agent is synced" agent_wait_installed "node$n"
    check "node$n: fresh agent sent zero flow-mods" \
        agent_flow_mods_equal "node$n" 0
    check "node$n: flows unchanged by the restart" \
        test "$(bed_dump_flows "node$n" | md5sum)" = "$before"
done
check "traffic after the restarts (pa -> pd)" \
    bed_exec pa ping -c 2 -i 0.2 -W 2 10.0.0.13

report
