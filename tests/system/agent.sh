# agent.sh - helpers for system tests that run livebind-agent on the bed of
# bed.sh.  Source it after bed.sh; set $agent_bin first.

_checks=0
_failures=0

# check DESCRIPTION CMD... : run CMD, print PASS or FAIL.
check() {
    local desc=$1; shift
    _checks=$((_checks + 1))
    if "$@" >"$LB_BED_DIR/check.out" 2>&1; then
        echo "PASS: $desc"
    else
        echo "FAIL: $desc"
        sed 's/^/    /' "$LB_BED_DIR/check.out" | tail -20
        _failures=$((_failures + 1))
    fi
}

# report : summary line; exit status 1 if any check failed.
report() {
    # Least privilege, proved by the real authorizer: a request of an agent
    # that RBAC refused fails the test.
    if [ -n "${CP_STARTED:-}" ]; then
        check "RBAC (deploy/rbac.yaml) refused no request of the agents" \
            cp_no_forbidden
    fi
    # An agent whose update port by port differed from a full one logged
    # what differed (lib/incremental-check.h).
    if [ -n "${LB_BED_DIR:-}" ] && [ -d "$LB_BED_DIR" ]; then
        check "no agent's incremental update differed from a full one" \
            agents_incremental_ok
    fi
    echo "$((_checks - _failures))/$_checks checks passed"
    [ "$_failures" = 0 ] || exit 1
}

agents_incremental_ok() {
    local f bad=0
    for f in "$LB_BED_DIR"/*/agent.log; do
        [ -f "$f" ] || continue
        if grep -q 'incremental update differs' "$f"; then
            grep -A45 'incremental update differs' "$f" | head -60
            bad=1
        fi
    done
    return $bad
}

# agent_start NODE [ARGS...] : run livebind-agent in NODE's namespace.
# With $LB_VALGRIND set to a directory, under valgrind (memcheck, definite
# leaks count as errors), which writes agent.PID.log there: empty when it
# found nothing (make check-valgrind checks them).
agent_start() {
    local node=$1; shift
    local d; d=$(bed_node_dir "$node")
    local vg=()
    if [ -n "${LB_VALGRIND-}" ]; then
        mkdir -p "$LB_VALGRIND"
        vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite
            --show-leak-kinds=definite --track-origins=yes
            --suppressions="$srcdir/tests/system/valgrind.supp"
            --log-file="$LB_VALGRIND/agent.%p.log")
    fi
    rm -f "$d/agent.ctl"
    # At the niceness its own unit gives it (utilities/livebind-agent.service:
    # none), below the switch's: the agent is off the VM's path at a cutover
    # and must not take the CPU from the switch that forwards the VM's frames.
    # Each incremental update checked against a full one (the benchmarks
    # turn that off: it costs a full recompute each time).
    local check=()
    [ "${LB_CHECK_INCREMENTAL:-1}" = 0 ] || check=(--check-incremental)
    bed_ovs "$node" "${vg[@]}" "$agent_bin" --node="$node" "${check[@]}" \
        --ovsdb="unix:$d/db.sock" \
        --datapath-type=netdev --unixctl="$d/agent.ctl" \
        --log-file="$d/agent.log" --pidfile="$d/agent.pid" --detach \
        -vconsole:off -vfile:dbg "$@"
}

# agent_stop NODE : stop NODE's agent; its flows stay in the switch.
agent_stop() {
    local d; d=$(bed_node_dir "$1")
    local pid; pid=$(cat "$d/agent.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    # Under valgrind, its leak check runs at exit.
    local timeout=5
    [ -z "${LB_VALGRIND-}" ] || timeout=60
    bed_wait_until "$timeout" sh -c "! kill -0 $pid 2>/dev/null"
}

# agent_pid NODE : the pid of NODE's agent.
agent_pid() {
    cat "$(bed_node_dir "$1")/agent.pid"
}

# cpu_ms PIDFILE... : the CPU time (user + system, ms) that the processes
# named by the PIDFILEs have used so far (0 for one that is gone).
cpu_ms() {
    local f pid total=0
    for f in "$@"; do
        pid=$(cat "$f" 2>/dev/null) || continue
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" \
                           2>/dev/null || echo 0)))
    done
    echo $((total * 1000 / $(getconf CLK_TCK)))
}

# agents_cpu_ms NODE... : cpu_ms of the NODEs' agents.
agents_cpu_ms() {
    local n files=()
    for n in "$@"; do files+=("$(bed_node_dir "$n")/agent.pid"); done
    cpu_ms "${files[@]}"
}

# agent_resources NODE : "rss=KB fds=N" of NODE's agent.
agent_resources() {
    local pid; pid=$(agent_pid "$1") || return 1
    local rss; rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
    local fds; fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    echo "rss=${rss}KB fds=$fds"
}

# agent_ctl NODE CMD [ARGS...] : a unixctl command to NODE's agent.
agent_ctl() {
    local node=$1; shift
    local d; d=$(bed_node_dir "$node")
    ovs-appctl -t "$d/agent.ctl" "$@"
}

_agent_installed() {
    local s; s=$(agent_ctl "$1" seqno 2>/dev/null) || return 1
    set -- $s
    [ "$1" -gt 0 ] && [ "$1" = "$2" ]
}

# agent_wait_installed NODE : wait until the flows NODE's agent desires are
# in its switch (the engine's "installed up to seqno").
agent_wait_installed() {
    bed_wait_until "${2:-15}" _agent_installed "$1"
}

# agent_flow_mods_equal NODE N : NODE's agent has sent exactly N flow-mods.
agent_flow_mods_equal() {
    local got
    got=$(agent_ctl "$1" status | sed -n 's/.*flow-mods: \([0-9]*\).*/\1/p')
    echo "flow-mods sent: $got (expected $2)"
    [ "$got" = "$2" ]
}

# agent_meter_mods_equal NODE N : NODE's agent has sent exactly N
# meter-mods.
agent_meter_mods_equal() {
    local got
    got=$(agent_ctl "$1" status | sed -n 's/.*meter-mods: \([0-9]*\).*/\1/p')
    echo "meter-mods sent: $got (expected $2)"
    [ "$got" = "$2" ]
}

# tunnels_up NODE N : NODE's agent has N tunnels with ofports.
tunnels_up() {
    [ "$(agent_ctl "$1" chassis | grep -c 'tunnel ofport [1-9]')" = "$2" ]
}

# tcp_transfer SRC_POD DST_POD DST_IP : 2 MB over TCP, every byte arrives.
tcp_transfer() {
    local src=$1 dst=$2 ip=$3
    local out=$LB_BED_DIR/tcp.$dst
    rm -f "$out"
    bed_exec "$dst" timeout 20 nc -l 5001 > "$out" &
    local listener=$!
    bed_wait_until 5 bed_exec "$dst" sh -c 'ss -ltn | grep -q :5001'
    head -c 2000000 /dev/zero | bed_exec "$src" timeout 20 nc -N "$ip" 5001
    wait "$listener" || true
    local size; size=$(stat -c %s "$out")
    echo "received $size bytes"
    [ "$size" = 2000000 ]
}

# flows_absent NODE PATTERN : no flow of NODE's switch contains PATTERN.
flows_absent() {
    ! bed_dump_flows "$1" | grep -F -- "$2"
}

# _flow_packets NODE FILTER : packets of the priority-100 flow FILTER selects.
_flow_packets() {
    bed_ofctl "$1" dump-flows "$2" | grep 'priority=100' |
        sed -n 's/.*n_packets=\([0-9]*\).*/\1/p' | head -1
}

_flow_packets_above() {
    [ "$(_flow_packets "$1" "$2")" -gt "$3" ]
}

# An ARP request from pa for pc's IP is answered by node1 itself.
arp_answered_locally() {
    local filter="table=20,arp,arp_tpa=10.0.0.12,arp_op=1,metadata=0x1"
    bed_exec pa ip neigh flush dev eth0
    local before; before=$(_flow_packets node1 "$filter")
    bed_exec pa ping -c 1 -W 2 10.0.0.12 >/dev/null
    # Flow counters lag: the datapath's are pulled about once a second.
    bed_wait_until 3 _flow_packets_above node1 "$filter" "$before"
    local after; after=$(_flow_packets node1 "$filter")
    echo "ARP responder hits: $before -> $after"
    [ "$after" -gt "$before" ]
}

spoofed_ip_dropped() {
    bed_exec pa ping -c 1 -W 2 10.0.0.12 || return 1   # control
    bed_exec pa ip addr add 10.0.0.99/32 dev eth0
    local rc=0
    if bed_exec pa ping -c 2 -i 0.2 -W 1 -I 10.0.0.99 10.0.0.12; then
        rc=1
    fi
    bed_exec pa ip addr del 10.0.0.99/32 dev eth0
    return $rc
}

spoofed_mac_dropped() {
    bed_exec pb ping -c 1 -W 2 10.0.0.12 || return 1   # control
    bed_exec pb ip link set eth0 address 0a:58:0a:00:00:99
    bed_exec pb ip neigh flush dev eth0
    local rc=0
    if bed_exec pb ping -c 2 -i 0.2 -W 1 10.0.0.12; then
        rc=1
    fi
    bed_exec pb ip link set eth0 address 0a:58:0a:00:00:0b
    bed_exec pb ip neigh flush dev eth0
    bed_exec pb ping -c 1 -W 2 10.0.0.12 || rc=1        # control
    return $rc
}

# tables_match_docs NODE : the set of tables in NODE's dump equals the set
# of "### Table N:" sections in docs/pipeline.md.
tables_match_docs() {
    local dumped documented
    # ovs-ofctl leaves "table=0" out.
    dumped=$(bed_dump_flows "$1" |
             sed 's/.*table=\([0-9]*\),.*/\1/; t; s/.*/0/' |
             sort -n -u | tr '\n' ' ')
    documented=$(sed -n 's/^### Table \([0-9]*\):.*/\1/p' \
                 "$srcdir/docs/pipeline.md" | sort -n -u | tr '\n' ' ')
    echo "dumped: $dumped; documented: $documented"
    [ -n "$dumped" ] && [ "$dumped" = "$documented" ]
}

# on_all_nodes CMD... : CMD NODE succeeds for node1, node2 and node3.
on_all_nodes() {
    local n
    for n in 1 2 3; do "$@" "node$n" || return 1; done
}

# on_no_node CMD... : CMD NODE fails for node1, node2 and node3.
on_no_node() {
    local n
    for n in 1 2 3; do "$@" "node$n" && return 1; done
    return 0
}
