#!/bin/bash
# System test of the foundation: three nodes, real ovs-vswitchd (userspace
# datapath), Geneve between them, a livebind-agent per node fed a model file
# (no Kubernetes), pods as namespaces.  Real traffic.
#
# Exit: 0 pass, 1 fail, 77 skip (not root / tools missing).
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${LB_BUILDDIR:-$srcdir}
agent_bin=$builddir/ovn-agent/livebind-agent
[ -x "$agent_bin" ] || { echo "SKIP: $agent_bin not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

LB_PREFIX=${LB_PREFIX:-lbp$$-}
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
bed_trap

bed_up 3
dir=$LB_BED_DIR

# Pods: two on node1, one on node2, one on node3.
pod_mac() { printf '0a:58:0a:00:00:%02x' "$1"; }
bed_pod_add node1 pa "$(pod_mac 10)" 10.0.0.10/24 10 pa
bed_pod_add node1 pb "$(pod_mac 11)" 10.0.0.11/24 11 pb
bed_pod_add node2 pc "$(pod_mac 12)" 10.0.0.12/24 12 pc
bed_pod_add node3 pd "$(pod_mac 13)" 10.0.0.13/24 13 pd

# write_model PD_CHASSIS: the model, with port pd on PD_CHASSIS.
write_model() {
    local port ports="" n
    for port in pa:10:node1 pb:11:node1 pc:12:node2 "pd:13:$1"; do
        IFS=: read -r name n chassis <<<"$port"
        ports="$ports${ports:+,}
  {\"name\": \"$name\", \"key\": $(( (1 << 24) | n )), \"switch\": \"pods\",
   \"mac\": \"$(pod_mac "$n")\", \"ips\": [\"10.0.0.$n\"],
   \"chassis\": \"$chassis\"}"
    done
    cat > "$dir/model.json.tmp" <<JSON
{"chassis": [{"name": "node1", "ip": "$(bed_node_ip 1)"},
             {"name": "node2", "ip": "$(bed_node_ip 2)"},
             {"name": "node3", "ip": "$(bed_node_ip 3)"}],
 "switches": [{"name": "pods", "key": 1, "subnet": "10.0.0.0/24",
               "mtu": 1400}],
 "ports": [$ports]}
JSON
    mv "$dir/model.json.tmp" "$dir/model.json"
}
write_model node3

for n in 1 2 3; do
    agent_start "node$n" --model="$dir/model.json"
done
for n in 1 2 3; do
    check "agent on node$n installed its flows" agent_wait_installed "node$n"
done
for n in 1 2 3; do
    check "node$n has 2 tunnels" bed_wait_until 10 tunnels_up "node$n" 2
done

check "ping, same node (pa -> pb)" \
    bed_exec pa ping -c 3 -i 0.2 -W 2 10.0.0.11
check "ping, across nodes (pa -> pc)" \
    bed_exec pa ping -c 3 -i 0.2 -W 2 10.0.0.12
check "ping, across nodes (pb -> pd)" \
    bed_exec pb ping -c 3 -i 0.2 -W 2 10.0.0.13
check "ARP for a remote pod is answered on the sender's node" \
    arp_answered_locally
check "TCP stream, same node (pa -> pb, 2 MB)" tcp_transfer pa pb 10.0.0.11
check "TCP stream, across nodes (pa -> pd, 2 MB)" \
    tcp_transfer pa pd 10.0.0.13

# Move pd to node2: the pod is re-plumbed there with the same MAC and IP,
# the model says so, and traffic follows.
bed_pod_del node3 pd
bed_pod_add node2 pd "$(pod_mac 13)" 10.0.0.13/24 13 pd
write_model node2
for n in 1 2 3; do
    agent_ctl "node$n" model/reload >/dev/null
done
for n in 1 2 3; do
    agent_wait_installed "node$n"
done
check "port moved to node2: traffic follows (pa -> pd)" \
    bed_exec pa ping -c 3 -i 0.2 -W 2 10.0.0.13
check "node3 has no flow for pd's MAC any more in its output" \
    flows_absent node3 "reg15=0x100000d actions=output:13"

# Port security.
check "a spoofed source IP is dropped" spoofed_ip_dropped
check "a spoofed source MAC is dropped" spoofed_mac_dropped

# A restarted agent with the same model sends no flow-mod.
before=$(bed_dump_flows node1 | md5sum)
agent_stop node1
agent_start node1 --model="$dir/model.json"
check "restarted agent on node1 is synced" agent_wait_installed node1
check "restarted agent sent zero flow-mods" agent_flow_mods_equal node1 0
check "flows unchanged after the restart" \
    test "$(bed_dump_flows node1 | md5sum)" = "$before"
check "traffic still flows after the restart" \
    bed_exec pa ping -c 2 -i 0.2 -W 2 10.0.0.13

check "tables in a real dump are those docs/pipeline.md describes" \
    tables_match_docs node1

report
