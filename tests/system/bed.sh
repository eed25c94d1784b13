# bed.sh - multi-node Open vSwitch test bed for livebind system tests,
# the sandbox and benchmarks.  Source it from bash:
#
#     . tests/system/bed.sh
#     bed_trap                # clean up on exit, ^C and SIGTERM
#     bed_up 3                # node1..node3 + underlay
#     bed_pod_add node1 pod-a 02:00:00:00:01:0a 10.0.0.10/24 10
#
# Every node is a network namespace with its own ovsdb-server and
# ovs-vswitchd (userspace "netdev" datapath: no OVS kernel module needed).
# Nodes are connected by a Linux bridge in a namespace of its own, so nothing
# is created in the caller's network namespace.  Everything created is
# written to a registry file first, and bed_down removes exactly that.
# See tests/system/README.md.
#
# Settings (environment, read when used):
#   LB_PREFIX     namespace prefix, default "lb-"; make it unique per run so
#                 that parallel runs don't collide
#   LB_BED_DIR    state directory, default a fresh mktemp -d under /tmp
#   LB_UL_NET     first three octets of the underlay, default 172.31.0
#                 (node N gets $LB_UL_NET.N)
#   LB_UL_PLEN    underlay prefix length, default 24
#   LB_POD_MTU    pod MTU, default 1400 (Geneve over a 1500 underlay)
#   LB_UL_MTU     underlay MTU, default the veths' 1500; provider networks
#                 need headroom for tunnelled full-size frames (physnet.sh)
#   LB_IPV6       1 keeps IPv6 enabled in the namespaces; default 0, so that
#                 router/neighbour solicitations don't add noise to tests
#   LB_TNL_SEED   0 leaves the tunnel neighbour tables empty (see
#                 bed_tnl_seed); default 1
#   LB_BED_KEEP   1 keeps $LB_BED_DIR (logs, databases) after bed_down
#   LB_OVS_TIMEOUT  seconds an ovs-vsctl call may wait, default 30
#   LB_DAEMON_NICE  the niceness of ovsdb-server, ovs-vswitchd and OVN's
#                 daemons, default -10: what ovs-ctl and ovn-ctl give
#                 them, and so what a packaged node runs (livebind-agent
#                 runs at its own unit's, 0)

# Daemons live in /usr/sbin, which a non-login shell may not have in PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac

LB_PREFIX=${LB_PREFIX:-lb-}
# The switches here forward in ovs-vswitchd's main thread, where a kernel
# datapath forwards in softirq, ahead of every process; nice -10 is what
# ovs-ctl starts them with (OVS_VSWITCHD_PRIORITY), and without it a busy
# QEMU vCPU or test script delays forwarding by whole scheduler slices.
bed_nice=(nice -n "${LB_DAEMON_NICE:--10}")
# bed_daemon_nice PIDFILE : the niceness above, for the scheduler's
# autogroup of a daemon that detached.  With autogroup scheduling (this
# kernel's default, kernel.sched_autogroup_enabled) a process's nice only
# weighs against processes of its own session, and "--detach" starts a
# session of its own: without this, each switch's session weighs as much
# as the whole test's, control plane and agents included, whatever its
# nice.  (Under systemd, ovs-ctl's nice weighs within the unit's cgroup.)
bed_daemon_nice() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    [ -w "/proc/$pid/autogroup" ] || return 0
    echo "${LB_DAEMON_NICE:--10}" > "/proc/$pid/autogroup" 2>/dev/null ||
        true
}
# Where bed.sh and its helpers (impair.py) are.
_bed_src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LB_OVS_SCHEMA=${LB_OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}

# ---------------------------------------------------------------- internals

_bed_log() { echo "bed: $*" >&2; }
_bed_die() { echo "bed: ERROR: $*" >&2; return 1; }

# Exit with automake's SKIP code when the bed cannot run here at all.
bed_require() {
    local missing="" c
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: the test bed needs root (network namespaces)" >&2
        exit 77
    fi
    for c in ip ethtool ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl \
             ovs-ofctl ovs-appctl; do
        command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
    done
    if [ -n "$missing" ]; then
        echo "SKIP: the test bed needs:$missing" >&2
        exit 77
    fi
    if [ ! -r "$LB_OVS_SCHEMA" ]; then
        echo "SKIP: OVS schema $LB_OVS_SCHEMA not found" >&2
        exit 77
    fi
    # Internal ports of the userspace datapath are tap devices.
    if [ ! -c /dev/net/tun ]; then
        echo "SKIP: /dev/net/tun missing (userspace datapath needs tap)" >&2
        exit 77
    fi
}

_bed_registry() { echo "${LB_BED_DIR:-/nonexistent}/registry"; }

# Entries are recorded *before* the thing is created, so that a failure
# half-way still gets cleaned up; removal tolerates absent objects.
_bed_reg_add() { echo "$*" >> "$(_bed_registry)"; }
_bed_reg_del() {
    local reg; reg=$(_bed_registry)
    [ -f "$reg" ] || return 0
    grep -vxF -- "$*" "$reg" > "$reg.tmp" || true
    mv -f "$reg.tmp" "$reg"
}

# Node names: "node3" or just "3".
_bed_node() {
    case $1 in
        *[!0-9]*|'') echo "$1" ;;
        *) echo "node$1" ;;
    esac
}

# Namespace of a node, pod or "ul".
_bed_ns() { echo "${LB_PREFIX}$(_bed_node "$1")"; }

_bed_node_dir() { echo "$LB_BED_DIR/$(_bed_node "$1")"; }

# Environment that points the OVS tools (and ovs-vswitchd itself) at one
# node's private run/db/log directory instead of /var/run/openvswitch.
_bed_node_env() {
    local d; d=$(_bed_node_dir "$1")
    echo "OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d OVS_SYSCONFDIR=$d" \
         "OVS_PKGDATADIR=$(dirname "$LB_OVS_SCHEMA")"
}

# Host-side veth name of a pod (at most 15 characters, stable): readable
# for short pod names, a checksum otherwise.
bed_pod_ifname() {
    case $1 in
        *[!A-Za-z0-9_.-]*) ;;
        *) if [ ${#1} -le 13 ]; then echo "p-$1"; return; fi ;;
    esac
    printf 'p-%08x\n' "$(printf '%s' "$1" | cksum | cut -d' ' -f1)"
}

_bed_ns_add() {
    # Registered first (a signal may come while "ip netns add" runs), and
    # unregistered if the name turns out to be taken: not ours to delete.
    _bed_reg_add "netns $1"
    ip netns add "$1" || { _bed_reg_del "netns $1"; return 1; }
    ip -n "$1" link set lo up
    if [ "${LB_IPV6:-0}" != 1 ]; then
        ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
    fi
}

# Kill every process in namespace $1 (only ever called on our namespaces:
# all that runs there was started by the bed or by the test using it).
_bed_ns_kill() {
    local ns=$1 pids i
    pids=$(_bed_ns_pids "$ns")
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for i in $(seq 200); do
        pids=$(_bed_ns_pids "$ns")
        [ -n "$pids" ] || return 0
        sleep 0.01
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.1
}

_bed_ns_pids() {
    local p
    for p in $(ip netns pids "$1" 2>/dev/null); do
        bed_pid_alive "$p" && echo "$p"
    done
}

# True if PID runs and is not a zombie: detached daemons are reparented to
# whatever subreaper runs us, which may be slow to reap them.
bed_pid_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# Kill a daemon we started, if that pid still is what we started.
_bed_pid_kill() {
    local pid=$1 name=$2 i
    bed_pid_alive "$pid" || return 0
    case $(cat "/proc/$pid/comm" 2>/dev/null) in
        "$name"*) ;;
        *) return 0 ;;
    esac
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 100); do
        bed_pid_alive "$pid" || return 0
        sleep 0.01
    done
    kill -KILL "$pid" 2>/dev/null
}

# ---------------------------------------------------------------- public API

# bed_wait_until TIMEOUT CMD... : run CMD every 10 ms until it succeeds;
# returns 1 after TIMEOUT seconds (may be fractional, e.g. 0.5).
bed_wait_until() {
    local timeout=$1; shift
    local sec=${timeout%%.*} frac=
    case $timeout in *.*) frac=${timeout#*.} ;; esac
    frac=${frac}000000
    local deadline=$(( ${EPOCHREALTIME/./} + ${sec:-0} * 1000000 \
                       + 10#${frac:0:6} ))
    while :; do
        "$@" && return 0
        [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || return 1
        sleep 0.01
    done
}

# bed_exec NODE|POD|ul CMD... : run CMD in that namespace.
bed_exec() {
    local ns; ns=$(_bed_ns "$1"); shift
    ip netns exec "$ns" "$@"
}

# bed_node_dir NODE : print the node's private directory (db.sock,
# br-int.mgmt, logs, pid files).
bed_node_dir() { _bed_node_dir "$1"; }

# bed_node_ip N : print node N's underlay IP address.
bed_node_ip() {
    local n; n=$(_bed_node "$1"); n=${n#node}
    echo "${LB_UL_NET:-172.31.0}.$n"
}

# bed_node_mac N : print the MAC of node N's br-phy (fixed, so that
# captures and tunnel neighbour entries are predictable).
bed_node_mac() {
    local n; n=$(_bed_node "$1"); n=${n#node}
    printf '02:1b:00:00:%02x:%02x\n' $((n / 256)) $((n % 256))
}

# bed_switch_main_thread NODE : NODE's ovs-vswitchd main thread, which in
# the userspace datapath also forwards: its CPU time so far (ns, the
# scheduler's) and its voluntary context switches (each a wait in poll()).
bed_switch_main_thread() {
    local pid t
    pid=$(cat "$(_bed_node_dir "$1")/ovs-vswitchd.pid") || return 1
    t=/proc/$pid/task/$pid
    echo "$(awk '{ print $1 }' "$t/schedstat")" \
        "$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")"
}

# bed_ovs NODE CMD ARGS... : run an OVS tool (or anything else, e.g. the
# agent) in NODE's namespace with that node's OVS environment.  ovs-vsctl
# also gets the node's --db and a timeout.
bed_ovs() {
    local node=$1 cmd=$2; shift 2
    local d; d=$(_bed_node_dir "$node")
    [ -d "$d" ] || { _bed_die "no such node: $node"; return 1; }
    case $cmd in
        ovs-vsctl)
            set -- --db="unix:$d/db.sock" --timeout="${LB_OVS_TIMEOUT:-30}" \
                "$@" ;;
    esac
    # shellcheck disable=SC2046
    env $(_bed_node_env "$node") ip netns exec "$(_bed_ns "$node")" \
        "$cmd" "$@"
}

# bed_ofctl NODE [OPTIONS] COMMAND [ARGS...] : ovs-ofctl -O OpenFlow15
# (unless OPTIONS has another -O) against NODE's br-int; the switch
# argument is filled in, e.g.
#     bed_ofctl node1 add-flow "table=0,priority=0,actions=drop"
#     bed_ofctl node1 add-flows - < flows.txt
# (an explicit "br-int" or "unix:..." switch argument is also accepted).
# Options taking a value must be written --opt=value (or -O X).
bed_ofctl() {
    local node=$1; shift
    local d; d=$(_bed_node_dir "$node")
    local opts=() proto=(-O OpenFlow15)
    while [ $# -gt 0 ]; do
        case $1 in
            -O|--protocols) proto=("$1" "${2-}"); shift 2 ;;
            -O*|--protocols=*) proto=("$1"); shift ;;
            -*) opts+=("$1"); shift ;;
            *) break ;;
        esac
    done
    [ $# -gt 0 ] || { _bed_die "bed_ofctl: no command"; return 1; }
    local cmd=$1; shift
    case ${1-} in br-int|unix:*|tcp:*|ssl:*) shift ;; esac
    bed_ovs "$node" ovs-ofctl "${proto[@]}" "${opts[@]}" "$cmd" \
        "unix:$d/br-int.mgmt" "$@"
}

# bed_bg NODE|POD LOG CMD... : start CMD in the background in that
# namespace (a node's with its OVS environment), stdout and stderr to LOG;
# sets BED_BG_PID to CMD's own pid ("bed_exec ... &" would give the pid of
# a subshell, and killing that leaves CMD running).  bed_down kills
# whatever still runs in the bed's namespaces.
bed_bg() {
    local target=$1 log=$2; shift 2
    local ns; ns=$(_bed_ns "$target")
    if [ -d "$(_bed_node_dir "$target")" ]; then
        # shellcheck disable=SC2046
        env $(_bed_node_env "$target") ip netns exec "$ns" "$@" \
            > "$log" 2>&1 &
    else
        ip netns exec "$ns" "$@" > "$log" 2>&1 &
    fi
    BED_BG_PID=$!
}

# bed_monitor NODE LOG [ARGS...] : "ovs-ofctl monitor br-int 65534" in the
# background (65534 = miss_send_len, without it there are no packet-ins;
# the messages go to stderr, hence into LOG).  Returns once the monitor
# answers on its unixctl socket, i.e. is connected.  Pid in BED_BG_PID.
bed_monitor() {
    local node=$1 log=$2; shift 2
    local d; d=$(_bed_node_dir "$node")
    bed_bg "$node" "$log" ovs-ofctl -O OpenFlow15 monitor \
        "unix:$d/br-int.mgmt" 65534 "$@"
    bed_wait_until 10 bed_ovs "$node" ovs-appctl \
        -t "$d/ovs-ofctl.$BED_BG_PID.ctl" version >/dev/null 2>&1
}

# bed_dump_flows NODE [FILTER] : NODE's br-int flows without counters,
# sorted, one per line: stable output to compare against expectations.
bed_dump_flows() {
    local node=$1; shift
    bed_ofctl "$node" --no-stats --no-names dump-flows "$@" |
        sed -e '/^OFPST_FLOW reply/d' -e '/^NXST_FLOW reply/d' \
            -e 's/^ *//' \
            -e 's/\(duration\|n_packets\|n_bytes\|idle_age\|hard_age\)=[^,]*, *//g' |
        LC_ALL=C sort
}

# bed_trap : clean up on exit and on SIGINT/SIGTERM.  (A plain
# "trap bed_down EXIT INT TERM" also works, but on a signal the script
# would go on running after the cleanup.)
bed_trap() {
    trap bed_down EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# bed_up [N] : create N nodes (default 3) and the underlay.
bed_up() {
    local n=${1:-3} i
    bed_require
    if [ -n "${LB_BED_DIR:-}" ] && [ -s "$(_bed_registry)" ]; then
        _bed_die "a bed is already up in $LB_BED_DIR (bed_down first)"
        return 1
    fi
    if [ -z "${LB_BED_DIR:-}" ]; then
        LB_BED_DIR=$(mktemp -d /tmp/lb-bed.XXXXXX) || return 1
        export LB_BED_DIR
        _bed_reg_add "dir $LB_BED_DIR"
    elif [ ! -d "$LB_BED_DIR" ]; then
        mkdir -p "$LB_BED_DIR" || return 1
        _bed_reg_add "dir $LB_BED_DIR"
    fi
    # Refuse to adopt namespaces we did not create.
    for i in ul $(seq "$n"); do
        if ip netns list | grep -qx -- "$(_bed_ns "$i")\( (id: .*)\)\?"; then
            _bed_die "namespace $(_bed_ns "$i") exists already;" \
                     "another bed with LB_PREFIX=$LB_PREFIX?"
            return 1
        fi
    done
    echo "$n" > "$LB_BED_DIR/nodes"

    # Underlay switch.
    local ul; ul=$(_bed_ns ul)
    _bed_ns_add "$ul" || return 1
    ip -n "$ul" link add lb-ul type bridge || return 1
    ip -n "$ul" link set lb-ul up

    for i in $(seq "$n"); do
        _bed_node_up "$i" || return 1
    done
    [ "${LB_TNL_SEED:-1}" = 0 ] || bed_tnl_seed
}

# bed_tnl_seed : fill every node's tunnel neighbour table with the other
# nodes' br-phy MACs.  Otherwise the userspace datapath drops the first
# packet towards a node it has no neighbour entry for while it ARPs, which
# makes loss measurements noisy.  Entries age out after 900 s
# (ovs-appctl tnl/neigh/aging).
bed_tnl_seed() {
    local n m nodes
    nodes=$(cat "$LB_BED_DIR/nodes") || return 1
    for n in $(seq "$nodes"); do
        for m in $(seq "$nodes"); do
            [ "$n" = "$m" ] && continue
            bed_ovs "$n" ovs-appctl tnl/neigh/set br-phy \
                "$(bed_node_ip "$m")" "$(bed_node_mac "$m")" >/dev/null \
                || return 1
        done
    done
}

# Default pidfile and unixctl names inside OVS_RUNDIR, so that plain
# "ovs-appctl [-t ovsdb-server]" works through bed_ovs.
_bed_ovsdb_start() {
    local node=$1 d; d=$(_bed_node_dir "$1")
    # shellcheck disable=SC2046
    env $(_bed_node_env "$node") ip netns exec "$(_bed_ns "$node")" \
        "${bed_nice[@]}" ovsdb-server "$d/conf.db" \
        --remote="punix:$d/db.sock" \
        --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
        --pidfile --log-file="$d/ovsdb-server.log" --detach \
        2> "$d/ovsdb-server.stderr" \
        || { cat "$d/ovsdb-server.stderr" >&2
             _bed_die "$node: ovsdb-server failed"; return 1; }
    _bed_reg_add "pid $(cat "$d/ovsdb-server.pid") ovsdb-server"
    bed_daemon_nice "$d/ovsdb-server.pid"
}

# --disable-system: no kernel datapath here; the userspace datapath still
# follows the namespace's routes (needed by tunnels).
_bed_vswitchd_start() {
    local node=$1 d; d=$(_bed_node_dir "$1")
    # LB_VSWITCHD_PRELOAD=LIBRARY (an experiment, not a default): the
    # switch runs with LIBRARY preloaded, e.g. another malloc.  Each
    # iteration of its main loop polls every pod port and allocates 32
    # packet buffers to each poll, idle or not
    # (tests/bench/bench-switch-ports.sh).
    local preload=()
    if [ -n "${LB_VSWITCHD_PRELOAD-}" ]; then
        preload=(env "LD_PRELOAD=$LB_VSWITCHD_PRELOAD")
    fi
    # shellcheck disable=SC2046
    env $(_bed_node_env "$node") ip netns exec "$(_bed_ns "$node")" \
        "${preload[@]}" "${bed_nice[@]}" ovs-vswitchd \
        "unix:$d/db.sock" --disable-system \
        --pidfile --log-file="$d/ovs-vswitchd.log" --detach \
        2> "$d/ovs-vswitchd.stderr" \
        || { cat "$d/ovs-vswitchd.stderr" >&2
             _bed_die "$node: ovs-vswitchd failed"; return 1; }
    _bed_reg_add "pid $(cat "$d/ovs-vswitchd.pid") ovs-vswitchd"
    bed_daemon_nice "$d/ovs-vswitchd.pid"
}

# bed_restart NODE ovsdb-server|ovs-vswitchd : stops the daemon (SIGTERM,
# as a service restart does) and starts it again with the same database.
# The userspace datapath's internal ports are taps that die with
# ovs-vswitchd: br-phy's address, the links' state and the tunnel
# neighbours are put back, as the node's network configuration would.
bed_restart() {
    local node; node=$(_bed_node "$1")
    local daemon=$2 d; d=$(_bed_node_dir "$node")
    local ns; ns=$(_bed_ns "$node")
    local pid; pid=$(cat "$d/$daemon.pid") || return 1
    _bed_pid_kill "$pid" "${daemon:0:15}"
    bed_wait_until 10 eval "! bed_pid_alive $pid" || return 1
    _bed_reg_del "pid $pid $daemon"
    case $daemon in
    ovsdb-server) _bed_ovsdb_start "$node" ;;
    ovs-vswitchd)
        _bed_vswitchd_start "$node" || return 1
        bed_wait_until 10 ip -n "$ns" link show br-phy >/dev/null 2>&1 \
            || return 1
        bed_wait_until 10 ip -n "$ns" link show br-int >/dev/null 2>&1 \
            || return 1
        ip -n "$ns" addr replace "$(bed_node_ip "${node#node}")/${LB_UL_PLEN:-24}" \
            dev br-phy || return 1
        ip -n "$ns" link set br-phy up
        ip -n "$ns" link set br-int up
        [ "${LB_TNL_SEED:-1}" = 0 ] || bed_tnl_seed
        ;;
    *) _bed_die "bed_restart: unknown daemon $daemon" ;;
    esac
}

# One node: namespace, daemons, br-phy (underlay) and br-int.
_bed_node_up() {
    local node; node=$(_bed_node "$1")
    local idx=${node#node}
    local ns; ns=$(_bed_ns "$node")
    local ul; ul=$(_bed_ns ul)
    local d; d=$(_bed_node_dir "$node")

    _bed_reg_add "dir $d"
    mkdir -p "$d" || return 1
    _bed_ns_add "$ns" || return 1

    ovsdb-tool create "$d/conf.db" "$LB_OVS_SCHEMA" || return 1
    _bed_ovsdb_start "$node" || return 1
    bed_ovs "$node" ovs-vsctl --no-wait -- init \
        -- set Open_vSwitch . external_ids:system-id="$node" \
                              external_ids:hostname="$node" || return 1

    _bed_vswitchd_start "$node" || return 1

    # Underlay veth: "ul-nodeN" on lb-ul, "ul0" in the node.
    ip -n "$ul" link add "ul-$node" type veth peer name ul0 netns "$ns" \
        || return 1
    ip -n "$ul" link set "ul-$node" master lb-ul up
    ip netns exec "$ul" ethtool -K "ul-$node" tx off >/dev/null
    ip netns exec "$ns" ethtool -K ul0 tx off >/dev/null
    if [ -n "${LB_UL_MTU:-}" ]; then
        ip -n "$ul" link set "ul-$node" mtu "$LB_UL_MTU" || return 1
        ip -n "$ns" link set ul0 mtu "$LB_UL_MTU" || return 1
    fi
    # The userspace datapath reads ul0 through a packet socket, which does
    # not take frames from the kernel: the node's kernel still sees every
    # frame on ul0 and, ARP being per host (arp_ignore=0), would answer
    # ARP requests for the node's address (on br-phy) with ul0's own MAC
    # as well as br-phy's.  Whichever reply comes last wins, in the
    # asker's kernel and in its tunnel neighbour table (which snoops ARP),
    # and frames sent to ul0's MAC never reach br-phy or the tunnel: Geneve
    # between two nodes is then lost until the next ARP exchange, seconds
    # later.  A real uplink of a netdev bridge is not the kernel's (DPDK),
    # and a kernel-datapath port passes nothing up: so ul0 answers no ARP.
    ip -n "$ns" link set ul0 arp off
    ip -n "$ns" link set ul0 up

    # Userspace tunnels only resolve their next hop (route + ARP snooping)
    # when the underlay IP sits on an OVS bridge of the same vswitchd: so
    # br-phy owns ul0 and carries the node IP on its internal port.
    bed_ovs "$node" ovs-vsctl \
        -- add-br br-phy \
        -- set Bridge br-phy datapath_type=netdev fail-mode=standalone \
               other-config:hwaddr="$(bed_node_mac "$idx")" \
        -- add-port br-phy ul0 || return 1
    if [ -n "${LB_UL_MTU:-}" ]; then
        bed_ovs "$node" ovs-vsctl set Interface br-phy \
            mtu_request="$LB_UL_MTU" || return 1
    fi
    ip -n "$ns" addr add "$(bed_node_ip "$idx")/${LB_UL_PLEN:-24}" \
        dev br-phy || return 1
    ip -n "$ns" link set br-phy up

    # The agent ensures br-int too (idempotently); same settings.
    bed_ovs "$node" ovs-vsctl \
        -- --may-exist add-br br-int \
        -- set Bridge br-int datapath_type=netdev fail-mode=secure \
               other-config:disable-in-band=true \
               protocols=OpenFlow13,OpenFlow14,OpenFlow15 || return 1
    ip -n "$ns" link set br-int up
}

# bed_pod_add NODE POD MAC IP/PREFIX [OFPORT] [IFACE_ID] [GATEWAY]
# Pod namespace $LB_PREFIX$POD with eth0, its peer (bed_pod_ifname POD) on
# NODE's br-int.  Empty optional arguments mean "not given"; IFACE_ID
# defaults to POD.
bed_pod_add() {
    local node; node=$(_bed_node "$1")
    local pod=$2 mac=$3 ip=$4 ofport=${5:-} ifid=${6:-$2} gw=${7:-}
    local ns; ns=$(_bed_ns "$node")
    local pns; pns=$(_bed_ns "$pod")
    local hif; hif=$(bed_pod_ifname "$pod")
    local mtu=${LB_POD_MTU:-1400}

    [ -d "$(_bed_node_dir "$node")" ] || { _bed_die "no node $node"; return 1; }
    if ip netns list | grep -q "^$pns\( \|$\)"; then
        _bed_die "namespace $pns exists already"; return 1
    fi
    _bed_reg_add "pod $node $pod"
    _bed_ns_add "$pns" || return 1

    # Created directly in the two namespaces: never visible on the host.
    ip -n "$pns" link add eth0 type veth peer name "$hif" netns "$ns" \
        || return 1
    ip -n "$pns" link set eth0 address "$mac" mtu "$mtu" || return 1
    ip -n "$pns" addr add "$ip" dev eth0 || return 1
    ip -n "$ns" link set "$hif" mtu "$mtu"
    # Checksum offload makes the kernel hand TCP with partial checksums to
    # the userspace datapath, which would forward it broken.
    ip netns exec "$pns" ethtool -K eth0 tx off >/dev/null
    ip netns exec "$ns" ethtool -K "$hif" tx off >/dev/null
    ip -n "$pns" link set eth0 up
    ip -n "$ns" link set "$hif" up
    if [ -n "$gw" ]; then
        ip -n "$pns" route add default via "$gw" dev eth0 onlink || return 1
    fi

    local req=()
    [ -z "$ofport" ] || req=("ofport_request=$ofport")
    bed_ovs "$node" ovs-vsctl -- add-port br-int "$hif" \
        -- set Interface "$hif" "${req[@]}" \
               external_ids:iface-id="$ifid" \
               external_ids:attached-mac="$mac" || return 1
    if [ -n "$ofport" ]; then
        local got
        got=$(bed_ovs "$node" ovs-vsctl get Interface "$hif" ofport)
        [ "$got" = "$ofport" ] || {
            _bed_die "$pod: got ofport $got, wanted $ofport"; return 1; }
    fi
}

# bed_pod_del NODE POD : remove the pod's port, processes and namespace.
bed_pod_del() {
    local node; node=$(_bed_node "$1")
    local pod=$2
    local pns; pns=$(_bed_ns "$pod")
    grep -qxF "pod $node $pod" "$(_bed_registry)" 2>/dev/null ||
        { _bed_die "no pod $pod on $node"; return 1; }
    bed_ovs "$node" ovs-vsctl --if-exists del-port br-int \
        "$(bed_pod_ifname "$pod")"
    _bed_ns_kill "$pns"
    ip netns del "$pns" 2>/dev/null
    _bed_reg_del "netns $pns"
    _bed_reg_del "pod $node $pod"
}

# bed_down : stop and delete everything bed_up/bed_pod_add created.
# Idempotent; safe from an EXIT trap (never fails, keeps $?).
bed_down() {
    local rc=$?
    local -            # restore set -e/-u etc. on return
    set +eu
    local reg; reg=$(_bed_registry)
    if [ -z "${LB_BED_DIR:-}" ] || [ ! -f "$reg" ]; then
        return "$rc"
    fi
    local kind a b
    # Daemons first (a namespace with live processes would outlive its name),
    # then whatever else runs in our namespaces, newest namespace first.
    while read -r kind a b; do
        [ "$kind" = pid ] && _bed_pid_kill "$a" "$b"
    done < "$reg"
    tac "$reg" | while read -r kind a b; do
        [ "$kind" = netns ] || continue
        _bed_ns_kill "$a"
        # Deleting the namespace deletes its veths (and their peers).
        ip netns del "$a" 2>/dev/null
    done
    if [ "${LB_BED_KEEP:-0}" = 1 ]; then
        mv -f "$reg" "$reg.done"
        _bed_log "kept $LB_BED_DIR"
    else
        tac "$reg" | while read -r kind a b; do
            [ "$kind" = dir ] || continue
            case $a in /?*) rm -rf -- "$a" ;; esac
        done
        rm -f "$reg" "$LB_BED_DIR/nodes"
        rmdir "$LB_BED_DIR" 2>/dev/null
    fi
    # A dir we made up ourselves is not reused by the next bed_up.
    if [ ! -d "$LB_BED_DIR" ] || [ "${LB_BED_KEEP:-0}" = 1 ]; then
        unset LB_BED_DIR
    fi
    return "$rc"
}

# ---------------------------------------------------------------- impairment
#
# bed_impair NODE LOSS_PERCENT DELAY_MS : NODE's underlay link drops
# LOSS_PERCENT of the frames at random and delays each by DELAY_MS, in
# both directions (so a path between two impaired nodes crosses two
# impaired links).  With the kernel's sch_netem, that is netem on both
# ends of the link (ul-nodeN's and ul0's egress).  Without it (and without
# cls_matchall or the fq qdisc, tc cannot impair a link at all) the link
# is spliced instead:
#
#     node's ul0 <-> ul-nodeN [impair.py] uf-nodeN <-> ui-nodeN on lb-ul
#                    \____ namespace ${LB_PREFIX}imp-nodeN ____/
#
# impair.py (a test double for netem: same loss and delay, in order; no
# jitter, reordering or rate) copies the frames between ul-nodeN, taken
# off the bridge into a namespace of its own, and a new veth whose other
# end joins the bridge in its place.  LB_IMPAIR=netem or =forwarder
# forces one (default auto).
# bed_unimpair NODE undoes it; bed_down kills the forwarder and deletes
# its namespace (both registered); the veths and qdiscs go with the
# namespaces.  BED_IMPAIR_HOW is set to "netem" or "forwarder".
bed_impair() {
    local node; node=$(_bed_node "$1")
    local loss=$2 delay=$3
    local ns; ns=$(_bed_ns "$node")
    local ul; ul=$(_bed_ns ul)
    local how=${LB_IMPAIR:-auto}
    local f="$LB_BED_DIR/impair-$node"
    [ -d "$(_bed_node_dir "$node")" ] ||
        { _bed_die "no node $node"; return 1; }
    [ ! -e "$f.how" ] || { _bed_die "$node is impaired already"; return 1; }
    if [ "$how" != forwarder ]; then
        if ip netns exec "$ul" tc qdisc add dev "ul-$node" root netem \
               loss "$loss%" delay "${delay}ms" 2> "$f.err" &&
           ip netns exec "$ns" tc qdisc add dev ul0 root netem \
               loss "$loss%" delay "${delay}ms" 2>> "$f.err"; then
            echo netem > "$f.how"
            BED_IMPAIR_HOW=netem
            return 0
        fi
        ip netns exec "$ul" tc qdisc del dev "ul-$node" root 2>/dev/null ||
            true
        if [ "$how" = netem ]; then
            _bed_die "$node: no netem: $(head -1 "$f.err")"
            return 1
        fi
    fi
    command -v python3 >/dev/null ||
        { _bed_die "no netem, and no python3 for the forwarder"; return 1; }
    local fns; fns=$(_bed_ns "imp-$node")
    local mtu; mtu=$(ip netns exec "$ul" cat "/sys/class/net/ul-$node/mtu") ||
        return 1
    # A bridge takes the lowest MAC of its ports unless given one: the new
    # veth must not change it (the underlay's own address, the API server's
    # in the control plane, would move, and every neighbour cache go stale).
    local brmac
    brmac=$(ip netns exec "$ul" cat /sys/class/net/lb-ul/address) || return 1
    ip -n "$ul" link set lb-ul address "$brmac" || return 1
    echo forwarder > "$f.how"
    # The forwarder's namespace has no address: its kernel must neither
    # answer nor see the spliced link's traffic (the underlay namespace
    # would answer ARP for its own addresses on ul-nodeN).
    _bed_ns_add "$fns" || return 1
    ip -n "$ul" link add "ui-$node" mtu "$mtu" type veth \
        peer name "uf-$node" mtu "$mtu" netns "$fns" || return 1
    # As on every underlay veth: no partial checksums for userspace.
    ip netns exec "$ul" ethtool -K "ui-$node" tx off >/dev/null
    ip netns exec "$fns" ethtool -K "uf-$node" tx off >/dev/null
    ip -n "$fns" link set "uf-$node" up || return 1
    # Off the bridge before the forwarder runs, and the new veth on it only
    # after: never both, which would be a loop.
    ip -n "$ul" link set "ul-$node" nomaster || return 1
    ip -n "$ul" link set "ul-$node" netns "$fns" || return 1
    ip -n "$fns" link set "ul-$node" up || return 1
    bed_bg "imp-$node" "$f.log" python3 "$_bed_src/impair.py" \
        "ul-$node" "uf-$node" "$loss" "$delay"
    _bed_reg_add "pid $BED_BG_PID python3"
    echo "$BED_BG_PID" > "$f.pid"
    bed_wait_until 10 grep -q '^impair:' "$f.log" ||
        { cat "$f.log" >&2; _bed_die "$node: impair.py did not start"
          return 1; }
    ip -n "$ul" link set "ui-$node" master lb-ul up || return 1
    BED_IMPAIR_HOW=forwarder
}

# bed_unimpair NODE : NODE's underlay link as bed_up made it; prints the
# forwarder's counts (frames passed and dropped) when there was one.
bed_unimpair() {
    local node; node=$(_bed_node "$1")
    local ns; ns=$(_bed_ns "$node")
    local ul; ul=$(_bed_ns ul)
    local f="$LB_BED_DIR/impair-$node" pid
    case $(cat "$f.how" 2>/dev/null) in
    netem)
        ip netns exec "$ul" tc qdisc del dev "ul-$node" root 2>/dev/null ||
            true
        ip netns exec "$ns" tc qdisc del dev ul0 root 2>/dev/null || true
        ;;
    forwarder)
        if pid=$(cat "$f.pid" 2>/dev/null); then
            _bed_pid_kill "$pid" python3
            bed_wait_until 5 eval "! bed_pid_alive $pid" || true
            _bed_reg_del "pid $pid python3"
            sed -n 's/^impair: /    /p' "$f.log" | tail -n +2
        fi
        local fns; fns=$(_bed_ns "imp-$node")
        ip -n "$ul" link del "ui-$node" 2>/dev/null || true
        # (Absent when bed_impair failed before moving it.)
        ip -n "$fns" link set "ul-$node" netns "$ul" 2>/dev/null || true
        ip -n "$ul" link set "ul-$node" master lb-ul up || return 1
        _bed_ns_kill "$fns"
        ip netns del "$fns" 2>/dev/null || true
        _bed_reg_del "netns $fns"
        ;;
    *) return 0 ;;
    esac
    rm -f "$f.how" "$f.pid"
}
