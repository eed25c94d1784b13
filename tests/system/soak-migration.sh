#!/bin/bash
# Soak: $LB_SOAK_MIGRATIONS (200) migrations back to back, node1 <-> node2,
# of $LB_SOAK_VMS (3) VMs in turn, each with a TCP canary from node3.
# Every canary keeps its one connection and loses nothing; the agents' RSS
# and open file descriptors are printed at the start, after one migration
# of each VM (allocators and caches warmed up) and at the end, and must be
# flat from the second to the third: no more descriptors, RSS within
# 1 MiB.  As KubeVirt does, finished migrations are garbage-collected
# (the last 5 of each VM kept): cached objects do not pile up.  `make
# soak` runs it; it is not part of check-system.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbsk$$-}
MIGRATIONS=${LB_SOAK_MIGRATIONS:-200}
VMS=${LB_SOAK_VMS:-3}
. "$srcdir/tests/system/cluster.sh"
. "$srcdir/tests/system/vms.sh"

cluster_up 10.70.0.0/16 10.70.0.1
check "client pod on node3" vms_client
for i in $(seq "$VMS"); do
    check "vm$i on node1, reachable" vm_new "vm$i"
    check "vm$i's canary flows" vm_canary "vm$i" $((7000 + i))
done

declare -A res_start res_warm
resources() {  # LABEL ARRAY
    local n
    for n in 1 2 3; do
        local r; r=$(agent_resources "node$n")
        echo "agent node$n $1: $r"
        [ -z "${2-}" ] || eval "$2[node$n]=\"\$r\""
    done
}
resources start res_start

start=$SECONDS
failed=0
for m in $(seq "$MIGRATIONS"); do
    vm=vm$(( (m - 1) % VMS + 1 ))
    if ! vm_migrate "$vm"; then
        echo "FAIL: migration $m ($vm to ${VM_TNODE[$vm]})"
        failed=$((failed + 1))
        break
    fi
    [ "$m" != "$VMS" ] || resources warm res_warm
    [ $((m % 20)) != 0 ] ||
        echo "$m migrations in $((SECONDS - start)) s"
done
check "$MIGRATIONS migrations succeeded" test "$failed" = 0
echo "$MIGRATIONS migrations in $((SECONDS - start)) s"
resources end

flat() {  # NODE
    local w=${res_warm[$1]} e; e=$(agent_resources "$1")
    local wr=${w#rss=} er=${e#rss=}
    wr=${wr%%KB*} er=${er%%KB*}
    local wf=${w#*fds=} ef=${e#*fds=}
    echo "$1: warm $w, end $e"
    [ "$ef" -le "$wf" ] && [ "$er" -le $((wr + 1024)) ]
}
for n in 1 2 3; do
    check "node$n's agent: descriptors and RSS flat" flat "node$n"
done
for i in $(seq "$VMS"); do
    check "vm$i converged" bed_wait_until 10 vm_converged "vm$i"
done
for i in $(seq "$VMS"); do
    check "vm$i's canary: one connection, nothing lost" canary_verdict "vm$i"
done
report
