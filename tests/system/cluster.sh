# cluster.sh - the common start of system tests that run livebind as in a
# cluster: three nodes, the real Kubernetes control plane (control-plane.sh),
# an agent on each node, pods through the CNI plugin.  Source it with
# $srcdir set (and $LB_PREFIX, unique per test); it skips (exit 77) when the
# test cannot run here, sources the helper libraries and sets the EXIT trap.
# cluster_up SUBNET then brings everything up.

builddir=${LB_BUILDDIR:-$srcdir}
agent_bin=$builddir/ovn-agent/livebind-agent
[ -x "$agent_bin" ] && [ -x "$builddir/cni-plugin/livebind" ] \
    || { echo "SKIP: not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }

. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
. "$srcdir/tests/system/k8s.sh"
. "$srcdir/tests/system/migration.sh"
bed_trap

# cluster_up SUBNET GATEWAY [AGENT-ARGS...] : 3 nodes, the control plane with
# switch "pods" (tunnel key 1) and the Node objects, synced agents.  The
# switch gets IPv6 prefix $LB_SWITCH_PREFIX6 and gateway $LB_SWITCH_GATEWAY6
# if set; an empty SUBNET makes it IPv6-only.
cluster_up() {
    local subnet=$1 gateway=$2 n
    shift 2
    bed_up 3
    k8s_api_start
    k8s_switch pods 1 "$subnet" "$gateway" "${LB_SWITCH_PREFIX6-}" \
        "${LB_SWITCH_GATEWAY6-}" >/dev/null
    for n in 1 2 3; do
        k8s_node "node$n" "$(bed_node_ip "$n")" >/dev/null
    done
    for n in 1 2 3; do
        agent_k8s_start "node$n" "$@"
    done
    for n in 1 2 3; do
        agent_wait_synced "node$n"
    done
}
