# ovn.sh - OVN's own multichassis binding on the bed of tests/system/bed.sh,
# for the migration benchmarks (bench-migration.sh, bench-migration-qemu.sh)
# to compare livebind with: NB and SB databases and ovn-northd in the
# underlay namespace, ovn-controller on each node in place of livebind's
# agent, on the same br-int.  Source after bed.sh, agent.sh and k8s.sh;
# uses $dir (the bed's directory).

ovn_nbctl() { ovn-nbctl --db="unix:$dir/ovn/nb.sock" "$@"; }
ovn_sbctl() { ovn-sbctl --db="unix:$dir/ovn/sb.sock" "$@"; }

# ovn_available : prints why the OVN mode cannot run, or nothing.  As
# root on Debian, installs Debian's OVN first when it is missing (as
# utilities/bootstrap.sh installs what the tests need, its services kept
# from starting: the bed runs its own daemons).
ovn_available() {
    local c
    if ! command -v ovn-controller >/dev/null && [ "$(id -u)" = 0 ] &&
       command -v apt-get >/dev/null; then
        echo "bench: installing Debian's ovn-central and ovn-host" >&2
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d &&
            chmod +x /usr/sbin/policy-rc.d &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends ovn-central ovn-host >/dev/null 2>&1
        rm -f /usr/sbin/policy-rc.d
    fi
    for c in ovn-controller ovn-northd ovn-nbctl ovn-sbctl ovsdb-server; do
        command -v "$c" >/dev/null || { echo "$c is not installed"; return; }
    done
    for c in ovn-nb ovn-sb; do
        [ -r "/usr/share/ovn/$c.ovsschema" ] ||
            { echo "/usr/share/ovn/$c.ovsschema is missing"; return; }
    done
}

ovn_chassis_up() {
    [ "$(ovn_sbctl --bare --columns=name list Chassis | grep -c .)" = 3 ]
}
# ovn_cpu_ms : the CPU time (ms) the nodes' ovn-controllers used so far
# (cpu_ms of tests/system/agent.sh).
ovn_cpu_ms() {
    cpu_ms "$(bed_node_dir node1)/ovn-controller.pid" \
        "$(bed_node_dir node2)/ovn-controller.pid" \
        "$(bed_node_dir node3)/ovn-controller.pid"
}

ovn_installed() {  # NODE POD : ovn-controller has the pod's flows in
    [ "$(bed_ovs "$1" ovs-vsctl --if-exists get Interface \
        "$(bed_pod_ifname "$2")" external_ids:ovn-installed)" = '"true"' ]
}
ovn_additional() {  # the VM's port binding has an additional chassis
    [ -n "$(ovn_sbctl --bare --columns=additional_chassis find \
        Port_Binding logical_port=vm)" ]
}
ovn_single() { ! ovn_additional; }

# ovn_central_start : stops livebind's agents, empties br-int, starts OVN's
# databases and ovn-northd.
ovn_central_start() {
    local o=$dir/ovn n d db remote
    mkdir -p "$o"
    for n in 1 2 3; do
        agent_stop "node$n"
        for d in $(bed_ovs "node$n" ovs-vsctl list-ports br-int); do
            bed_ovs "node$n" ovs-vsctl del-port br-int "$d"
        done
        bed_ofctl "node$n" del-flows
    done
    for db in nb sb; do
        ovsdb-tool create "$o/$db.db" "/usr/share/ovn/ovn-$db.ovsschema" ||
            return 1
        # The nodes' ovn-controllers reach the SB database on the underlay.
        remote=punix:$o/$db.sock.tcp
        [ $db = nb ] || remote=ptcp:6642:$LB_API_IP
        bed_exec ul "${bed_nice[@]}" ovsdb-server "$o/$db.db" \
            --remote="punix:$o/$db.sock" \
            --remote="$remote" \
            --pidfile="$o/$db.pid" --unixctl="$o/$db.ctl" \
            --log-file="$o/$db.log" --detach || return 1
        bed_daemon_nice "$o/$db.pid"
    done
    bed_exec ul env OVN_RUNDIR="$o" "${bed_nice[@]}" ovn-northd \
        --ovnnb-db="unix:$o/nb.sock" --ovnsb-db="unix:$o/sb.sock" \
        --pidfile="$o/northd.pid" --unixctl="$o/northd.ctl" \
        --log-file="$o/northd.log" --detach || return 1
    bed_daemon_nice "$o/northd.pid"
}

# ovn_controller_start NODE [EXTERNAL_ID=VALUE...] : ovn-controller on
# NODE's br-int, in place of livebind's agent, with those settings too.
ovn_controller_start() {
    local node=$1 d id ids=()
    shift
    for id in "$@"; do ids+=("external_ids:$id"); done
    d=$(bed_node_dir "$node")
    bed_ovs "$node" ovs-vsctl set Open_vSwitch . \
        external_ids:ovn-remote="tcp:$LB_API_IP:6642" \
        external_ids:ovn-encap-type=geneve \
        external_ids:ovn-encap-ip="$(bed_node_ip "${node#node}")" \
        external_ids:ovn-bridge-datapath-type=netdev "${ids[@]}" || return 1
    bed_ovs "$node" env OVN_RUNDIR="$d" "${bed_nice[@]}" ovn-controller \
        "unix:$d/db.sock" --pidfile="$d/ovn-controller.pid" \
        --log-file="$d/ovn-controller.log" --detach || return 1
    bed_daemon_nice "$d/ovn-controller.pid"
}

# ovn_start : stops livebind's agents, empties br-int, starts OVN on the
# three nodes with one logical switch, "pods".
ovn_start() {
    local n
    ovn_central_start || return 1
    for n in 1 2 3; do
        ovn_controller_start "node$n" || return 1
    done
    bed_wait_until 20 ovn_chassis_up || return 1
    ovn_nbctl ls-add pods
}
