#!/bin/bash
# Benchmark: the conntrack handover of a migrating VM's connections
# (docs/policy.md, lib/policy-handover.c), for 1,000 and then 10,000 of
# them ($BENCH_HANDOVER_CONNS).  Prints figures; asserts nothing.
#
# On the bed's three nodes and real control plane: the VM vm1 (node1) has a
# default-deny ingress policy and egress to the server S (node3) only, so
# that every reply S sends it after the cutover passes the target only if
# the connection was handed over.  For each N, the VM opens N TCP
# connections to S (S quiet meanwhile), then S sends a line on each every
# P seconds, spread over the period (the VM answering each line): P is 1 s
# up to 2,000 connections and N / 2,000 s above, so that the bed carries
# 2,000 lines a second each way at most ($BENCH_HANDOVER_PERIOD sets it).
# The migration mirrors, and the figures are:
#   - handed over: from mirroring (the target's copy blocked) to the
#     target's conntrack holding all N connections (ovs-appctl
#     dpctl/dump-conntrack, polled);
#   - livebind-ctl's count on the target (packets committed, over how long);
#   - after the cutover: from the target's unblocking to every one of the
#     N having received a line through the target (S's period included);
#   - admission: how many of the N tuples the target's switch learned
#     (lib/policy-admit.c), and how soon after the activation the source
#     had sent them.
# The VM migrates node1 -> node2 for the first N, back for the second.
# Then the same for connections idle until the migration completes (the
# admission of their tuples, below).
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbbh$$-}
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/vms.sh"

cluster_up 10.33.0.0/16 10.33.0.1 >/dev/null
dir=$LB_BED_DIR
probe=$srcdir/tests/system/policy-probe.py
ms() { echo $(( (${EPOCHREALTIME/./} - $1) / 1000 )); }

vms_client >/dev/null
add_pod node3 server '"labels":{"role":"server"}' >/dev/null
vm_new vm1
s_ip=$(ip_of server)
kapi_ok POST /apis/networking.k8s.io/v1/namespaces/default/networkpolicies \
  '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
    "metadata":{"name":"vm1","namespace":"default"},
    "spec":{"podSelector":{"matchLabels":{"vm.kubevirt.io/name":"vm1"}},
            "policyTypes":["Ingress","Egress"],
            "egress":[{"to":[{"podSelector":{"matchLabels":
                                {"role":"server"}}}]}]}}' >/dev/null
keyhex=$(printf '%#x' "${VM_KEY[vm1]}")
policed() { bed_dump_flows node1 table=44 | grep -q "reg15=$keyhex "; }
bed_wait_until 10 policed

field() {  # FILE FIELD
    python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null ||
        echo 0
}
# held NODE PORT : the node's conntrack entries of connections to S:PORT
# (either way round: the target may first see a connection's reply).
held() {
    bed_ovs "$1" ovs-appctl dpctl/dump-conntrack | grep -c "port=$2[,)]" ||
        true
}

# learned NODE : the tuples of idle connections NODE's switch learned.
learned() {
    bed_ofctl "$1" dump-flows table=46 | grep -c 'cookie=0x8' || true
}

conns=${BENCH_HANDOVER_CONNS:-1000 10000}
round=0
for n in $conns; do
    round=$((round + 1))
    port=$((9200 + round))
    json=$dir/fan-$n.json
    echo "bench-handover: $n connections, VM ${VM_NODE[vm1]} ->" \
         "$(_other_node "${VM_NODE[vm1]}")"
    period=${BENCH_HANDOVER_PERIOD:-$(( n > 2000 ? n / 2000 : 1 ))}
    bed_bg server "$dir/fan-server-$n.log" python3 "$probe" fan-server \
        "$port" --quiet-until "$dir/speak-$n" --period "$period"
    srv=$BED_BG_PID
    bed_wait_until 5 bed_exec server sh -c "ss -ltn | grep -q ':$port '"
    start=${EPOCHREALTIME/./}
    bed_bg g-vm1 "$dir/fan-$n.log" python3 "$probe" fan-client "$s_ip" \
        "$port" "$n" "$json"
    cli=$BED_BG_PID
    bed_wait_until $((30 + n / 50)) \
        eval '[ "$(field "$json" opened)" -ge "$n" ]' || true
    echo "  opened $(field "$json" opened) of $n in $(ms "$start") ms"
    touch "$dir/speak-$n"
    sleep "$period"
    kill -USR1 "$cli"
    sleep "$period"
    sleep 0.6
    echo "  before the migration: $(field "$json" fresh) of $n got a line" \
         "in one period ($period s)"
    prep=${EPOCHREALTIME/./}
    vm_migrate_prepare vm1
    start=${EPOCHREALTIME/./}
    target=${VM_TNODE[vm1]}
    echo "  mirroring ($(ms "$prep") ms to prepare: the target pod's ADD," \
         "the flows); the target ($target) holds $(held "$target" "$port")"
    bed_wait_until $((60 + n / 100)) \
        eval '[ "$(held "$target" "$port")" -ge "$n" ]' || true
    echo "  handed over: the target holds $(held "$target" "$port") of $n" \
         "$(ms "$start") ms after the mirroring started" \
         "($(ms "$prep") ms after the prepare's start)"
    sleep 2
    agent_ctl "$target" policies default_vm1 | grep 'handover' |
        sed 's/^ */  livebind-ctl on the target: /'

    cut=${EPOCHREALTIME/./}
    vm_migrate_cutover vm1
    # A new window from the target's unblocking: lines since came through
    # the target.  (The summary is rewritten every 0.5 s.)
    start=${EPOCHREALTIME/./}
    kill -USR1 "$cli"
    sleep 0.6
    bed_wait_until $((30 + n / 200)) \
        eval '[ "$(field "$json" fresh)" -ge "$n" ]' || true
    echo "  after the cutover: $(field "$json" fresh) of $n got a line" \
         "within $(ms "$start") ms of the target's unblocking" \
         "($(ms "$cut") ms from the cutover's start)," \
         "$(field "$json" broken) broken"
    # The admission of idle connections (lib/policy-admit.c): all N had
    # traffic in the mirroring window, so none needs its tuple sent.
    agent_ctl "${VM_NODE[vm1]}" policies default_vm1 | grep 'tuples sent' |
        sed 's/^ */  livebind-ctl on the source: /'
    vm_migrate_complete vm1
    kill "$cli" "$srv" 2>/dev/null || true
    sleep 1
done

# The admission of connections idle from before the migration until after
# it completes (lib/policy-admit.c): for each N ($BENCH_ADMIT_CONNS), the
# VM opens N connections to S, which stays quiet; the migration mirrors
# for 2 s, cuts over, and the figures are the time from the target's
# unblocking until its switch has learned all N tuples, the source's
# figure, and, once the migration has completed and S speaks on each
# (spread over one period), the time until every one has had a line.
for n in ${BENCH_ADMIT_CONNS:-1000 10000}; do
    round=$((round + 1))
    port=$((9200 + round))
    json=$dir/idle-$n.json
    echo "bench-handover: $n idle connections, VM ${VM_NODE[vm1]} ->" \
         "$(_other_node "${VM_NODE[vm1]}")"
    period=$(( n > 2000 ? n / 2000 : 1 ))
    bed_bg server "$dir/idle-server-$n.log" python3 "$probe" fan-server \
        "$port" --quiet-until "$dir/speak-idle-$n" --period "$period"
    srv=$BED_BG_PID
    bed_wait_until 5 bed_exec server sh -c "ss -ltn | grep -q ':$port '"
    bed_bg g-vm1 "$dir/idle-$n.log" python3 "$probe" fan-client "$s_ip" \
        "$port" "$n" "$json"
    cli=$BED_BG_PID
    bed_wait_until $((30 + n / 50)) \
        eval '[ "$(field "$json" opened)" -ge "$n" ]' || true
    vm_migrate_prepare vm1
    target=${VM_TNODE[vm1]}
    before=$(learned "$target")
    sleep 2
    vm_migrate_cutover vm1
    start=${EPOCHREALTIME/./}
    bed_wait_until $((30 + n / 200)) \
        eval '[ "$(learned "$target")" -ge $((before + n)) ]' || true
    echo "  admission: the target learned $(( $(learned "$target") - before ))" \
         "of $n tuples within $(ms "$start") ms of its unblocking"
    agent_ctl "${VM_NODE[vm1]}" policies default_vm1 | grep 'tuples sent' |
        sed 's/^ */  livebind-ctl on the source: /'
    vm_migrate_complete vm1
    touch "$dir/speak-idle-$n"
    start=${EPOCHREALTIME/./}
    bed_wait_until $((30 + n / 200)) \
        eval '[ "$(field "$json" fresh)" -ge "$n" ]' || true
    echo "  after the completion: $(field "$json" fresh) of $n got a line" \
         "within $(ms "$start") ms of S speaking (period $period s)," \
         "$(field "$json" broken) broken"
    kill "$cli" "$srv" 2>/dev/null || true
    sleep 1
done
