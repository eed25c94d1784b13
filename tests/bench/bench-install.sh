#!/bin/bash
# Benchmark: install 10,000 ports' flows (100 chassis) into a real
# ovs-vswitchd, then change one port.  Prints figures; asserts nothing.
set -eu
# Timed: the agents run as in production, without --check-incremental.
export LB_CHECK_INCREMENTAL=${LB_CHECK_INCREMENTAL:-0}

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${LB_BUILDDIR:-$srcdir}
agent_bin=$builddir/ovn-agent/livebind-agent
bench=$builddir/tests/bench/bench-pipeline
ports=${BENCH_PORTS:-10000}
chassis=${BENCH_CHASSIS:-100}

LB_PREFIX=${LB_PREFIX:-lbbi$$-}
. "$srcdir/tests/system/bed.sh"
. "$srcdir/tests/system/agent.sh"
bed_trap
bed_up 1 >/dev/null
model=$LB_BED_DIR/model.json
"$bench" --ports "$ports" --chassis "$chassis" --emit-model "$model"

ms() { echo $(( ($2 - $1) / 1000 )); }
flow_mods() {
    agent_ctl node1 status | sed -n 's/.*flow-mods: \([0-9]*\).*/\1/p'
}

# Tunnels first, so that the timed part is the flows.
start=${EPOCHREALTIME/./}
agent_start node1 --model="$model" -vfile:info 2>/dev/null
bed_wait_until 120 tunnels_up node1 $((chassis - 1))
agent_wait_installed node1 120
end=${EPOCHREALTIME/./}
flows=$(bed_ofctl node1 dump-aggregate | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
echo "initial install: $ports ports, $chassis chassis: $flows flows," \
     "$(flow_mods) flow-mods, $(ms "$start" "$end") ms from agent start" \
     "(tunnels included)"

# One port moves to another chassis.
before=$(flow_mods)
sed -i '0,/"chassis": "node2"}/s//"chassis": "node3"}/' "$model"
start=${EPOCHREALTIME/./}
agent_ctl node1 model/reload >/dev/null
agent_wait_installed node1 30
end=${EPOCHREALTIME/./}
echo "one port changed: $(( $(flow_mods) - before )) flow-mods," \
     "$(ms "$start" "$end") ms from reload to installed (including the" \
     "file re-read and model diff of $ports ports)"
agent_ctl node1 status | grep 'last update'

# NetworkPolicy at scale: bench-policy's 1,000 policies over 10,000 pods
# (tests/bench/bench-policy.c), their flows installed into the same switch
# through ofctrl as the agent installs them.  The agent is stopped and its
# flows removed first, so that the figure is the policy flows' alone.
agent_stop node1
bed_ofctl node1 del-flows
"$builddir/tests/bench/bench-policy" \
    --install "unix:$(bed_node_dir node1)/br-int.mgmt" |
    sed -n '/^bench-policy/p; /flows out/p; /installed into/,/one policy/p'
