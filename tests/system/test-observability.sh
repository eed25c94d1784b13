#!/bin/bash
# System test of what operators read: through a migration that succeeds and
# one that fails, the expected Kubernetes Events appear on the VMI, in
# order, once each, recorded by the real kube-apiserver; the agents'
# /metrics pages parse with Prometheus' own text-format parser, and the
# activation histogram counts one observation per activation.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbo$$-}
. "$srcdir/tests/system/cluster.sh"

# Prometheus' parser, from Debian's python3-prometheus-client (the python3
# first on PATH may be another installation that does not see it).
prom_python=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then
        prom_python=$p
        break
    fi
done
[ -n "$prom_python" ] || {
    echo "SKIP: python3-prometheus-client is not installed"
    exit 77
}

# Each node's agent serves its metrics on the node namespace's loopback.
cluster_up 10.30.0.0/16 10.30.0.1 --metrics-address=127.0.0.1:9477
dir=$LB_BED_DIR

vmi_uid=$(vmi_create vm1 node1)
check "VM's pod on node1" add_pod node1 launcher-1 "$(launcher_meta vm1 "$vmi_uid")"
vm_ip=$(ip_of launcher-1)
vm_mac=$(mac_of launcher-1)
key=$(key_of launcher-1)
guest_create guest "$vm_mac" "$vm_ip/16"
vm_pod_bridge launcher-1 guest up-1
ip -n "${LB_PREFIX}guest" link set up-1 up

target_pod() {  # NODE POD VMIM VMIM_UID UPLINK
    add_pod "$1" "$2" "$(launcher_meta vm1 "$vmi_uid" "$4" "$3")" &&
        vm_pod_bridge "$2" guest "$5"
}

# ---- Migration 1: node1 -> node2, succeeds on the VM's RARP.
uid1=$(vmim_create mig1 vm1)
vmim_phase mig1 Scheduling
check "migration 1: target pod on node2" \
    target_pod node2 launcher-2 mig1 "$uid1" up-2
vmim_phase mig1 Scheduled
vmim_phase mig1 PreparingTarget
vmi_migration_state vm1 "$(mig_state "$uid1" node1 node2 launcher-1 launcher-2)"
check "migration 1: mirror flows on every node" \
    bed_wait_until 5 on_all_nodes has_migration_flows "$key"
vmim_phase mig1 TargetReady
vmim_phase mig1 Running
cutover_and_announce guest "$vm_mac" up-1 up-2
check "migration 1: the VM's RARP unblocked node2's copy" \
    bed_wait_until 5 port_not_blocked node2 "$key"
vmi_migration_state vm1 "$(mig_state "$uid1" node1 node2 launcher-1 launcher-2 \
    ",\"completed\":true,\"targetNodeDomainReadyTimestamp\":\"2026-11-22T00:00:00Z\"")" node2
vmim_phase mig1 Succeeded
pod_phase launcher-1 Succeeded
check "migration 1 complete: mirror flows gone" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
cni node1 DEL launcher-1 >/dev/null || true
k8s_delete /api/v1/namespaces/default/pods/launcher-1

# ---- Migration 2: node2 -> node3, fails.
uid2=$(vmim_create mig2 vm1)
vmim_phase mig2 Scheduling
check "migration 2: target pod on node3" \
    target_pod node3 launcher-3 mig2 "$uid2" up-3
check "migration 2: mirror flows on every node" \
    bed_wait_until 5 on_all_nodes has_migration_flows "$key"
vmim_phase mig2 Failed
check "migration 2 failed: mirror flows gone" \
    bed_wait_until 5 on_no_node has_migration_flows "$key"
cni node3 DEL launcher-3 >/dev/null || true
k8s_delete /api/v1/namespaces/default/pods/launcher-3

# ---- Events on the VMI, as "kubectl get events" lists them.
events_json=$dir/events.json
events_are() {  # EXPECTED (reason@reporting-node, space-separated)
    kapi GET /apis/events.k8s.io/v1/namespaces/default/events \
        > "$events_json" || return 1
    python3 - "$events_json" "$vmi_uid" "$1" <<'EOF'
import json, sys
events = json.load(open(sys.argv[1]))["items"]
mine = [e for e in events
        if e.get("regarding", {}).get("uid") == sys.argv[2]
        and e.get("reportingController") == "livebind.io/livebind-agent"]
mine.sort(key=lambda e: (e["eventTime"], e["metadata"]["name"]))
got = ["%s@%s" % (e["reason"], e["reportingInstance"].split("-")[-1])
       for e in mine]
counts = [e.get("series", {}).get("count", 1) for e in mine]
want = sys.argv[3].split()
if got != want or any(c != 1 for c in counts):
    print("got: %s (counts %s)" % (" ".join(got), counts), file=sys.stderr)
    sys.exit(1)
for e in mine:
    print("    %-8s %-32s %s" % (e["type"], e["reason"], e["note"]))
EOF
}
expected="LiveMigrationMirroring@node2 LiveMigrationTargetBlocked@node2
LiveMigrationActivated@node2 LiveMigrationCompleted@node2
LiveMigrationMirroring@node3 LiveMigrationTargetBlocked@node3
LiveMigrationRolledBack@node3"
check "the VMI's events: each step once, in order, by the target's agent" \
    bed_wait_until 10 events_are "$(echo $expected)"
events_are "$(echo $expected)" || true

activation_note() {
    python3 -c 'import json, sys
for e in json.load(open(sys.argv[1]))["items"]:
    if e["reason"] == "LiveMigrationActivated":
        print(e["note"])' "$events_json"
}
check "the activation event names the announcement and its latency" \
    grep -q 'on its RARP on ofport [0-9]*: [0-9]* us from the announcement' \
    <<<"$(activation_note)"
check "the rollback is a Warning" grep -q '"type": *"Warning"' \
    <<<"$(python3 -c 'import json, sys
for e in json.load(open(sys.argv[1]))["items"]:
    if e["reason"] == "LiveMigrationRolledBack": print(json.dumps(e))' \
    "$events_json")"

# ---- Metrics.
scrape() {  # NODE
    bed_exec "$1" curl -sS --max-time 5 http://127.0.0.1:9477/metrics
}
metric() {  # NODE NAME LABELS-JSON : a sample's value, through the parser
    scrape "$1" > "$dir/metrics.$1" || return 1
    "$prom_python" - "$dir/metrics.$1" "$2" "$3" <<'EOF'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
want = json.loads(sys.argv[3])
total = None
for family in text_string_to_metric_families(text):
    for s in family.samples:
        if s.name == sys.argv[2] and all(s.labels.get(k) == v
                                         for k, v in want.items()):
            total = (total or 0) + s.value
if total is None:
    sys.exit("no sample %s %s" % (sys.argv[2], sys.argv[3]))
print(int(total) if total == int(total) else total)
EOF
}
check "node2's metrics page parses" metric node2 livebind_flows '{}'
check "node3's metrics page parses" metric node3 livebind_flows '{}'
check "one activation observed on node2 (RARP)" test \
    "$(metric node2 livebind_activation_latency_seconds_count \
       '{"announcement": "RARP"}')" = 1
check "one activation observed on node2 (all announcements)" test \
    "$(metric node2 livebind_activation_latency_seconds_count '{}')" = 1
check "no activation on node3" test \
    "$(metric node3 livebind_activation_latency_seconds_count '{}')" = 0
check "node2 counts one completed migration" test \
    "$(metric node2 livebind_migrations_total '{"outcome": "completed"}')" = 1
check "node3 counts one rolled-back migration" test \
    "$(metric node3 livebind_migrations_total '{"outcome": "rolled-back"}')" = 1
check "node1 counts none" test \
    "$(metric node1 livebind_migrations_total '{}')" = 0
check "node2 counts its CNI ADD" test \
    "$(metric node2 livebind_cni_requests_total \
       '{"command": "ADD", "result": "ok"}')" -ge 1
check "node2 recorded its events through the API" test \
    "$(metric node2 livebind_events_total '{"outcome": "created"}')" = 4
check "no API write failed" test \
    "$(metric node2 livebind_api_write_failures_total '{}')" = 0
# The figures every Prometheus client library exports for its process.
rss=$(metric node2 process_resident_memory_bytes '{}')
check "node2's RSS is on its page (${rss:-?} bytes)" \
    test "${rss:-0}" -gt $((1024 * 1024))
check "node2's CPU time is on its page" \
    metric node2 process_cpu_seconds_total '{}'
check "node2's open file descriptors are on its page" test \
    "$(metric node2 process_open_fds '{}')" -gt 3
started=$(metric node2 process_start_time_seconds '{}')
check "node2's start time is within the last hour" \
    test "$(( $(date +%s) - ${started%.*} ))" -lt 3600
check "node2 counts its NetworkPolicy compiles" \
    metric node2 livebind_network_policy_compiles_total '{}'
# OVS's memory module: what the agent's memory grows with.
agent_ctl node2 memory/show > "$dir/memory.node2" 2>&1 || true
check "memory/show reports the flows" \
    grep -q 'desired-flows:[1-9]' "$dir/memory.node2"
check "memory/show reports the cached pods" \
    grep -q 'k8s-Pod:[1-9]' "$dir/memory.node2"
sed 's/^/    /' "$dir/memory.node2"
sed -n '/^livebind_activation_latency_seconds_bucket{announcement="RARP"/p' \
    "$dir/metrics.node2" | sed 's/^/    /' | head -20

http_status() {  # NODE REQUEST
    bed_exec "$1" sh -c "printf '$2' | nc -q 2 -w 3 127.0.0.1 9477" |
        head -1 | cut -d' ' -f2
}
check "a bad request gets 400" test "$(http_status node2 'BAD\r\n\r\n')" = 400
check "another path gets 404" \
    test "$(http_status node2 'GET /x HTTP/1.1\r\n\r\n')" = 404
check "the agent still serves after them" metric node2 livebind_ready '{}'

report
