#!/bin/bash
# Benchmark of the bed, not of livebind: what every pod port costs the
# userspace switch the bed runs (`make bench-switch-ports`).
#
# In the userspace datapath (datapath_type=netdev, the only one here: no
# OVS kernel module) a pod's veth is an AF_PACKET port that ovs-vswitchd's
# main thread polls itself: every iteration of its main loop, whatever
# woke it, reads every such port, and each read first allocates 32 packet
# buffers and frees them when nothing came (OVS's
# netdev_linux_batch_rxq_recv_sock()).  So each idle pod port adds to
# every wakeup, and so to the time a packet waits for the switch: the
# RARP of a VM that just resumed among them.  The kernel datapath users
# run forwards in the kernel and has no such cost.
#
# One node, two pods pinging each other every 2 ms (BENCH_PINGS, 2,000),
# with 0, 32, 64 and 128 idle pod ports beside them, the switch with
# glibc's malloc and, when it is installed, with tcmalloc
# (libtcmalloc-minimal4) preloaded (LB_VSWITCHD_PRELOAD, tests/system/
# bed.sh).  Printed: the ping's round trip p50/p99/max, and the switch's
# main thread CPU per wakeup (its CPU time over its voluntary context
# switches: each is one wait in poll()).  Asserts nothing.
# Exit: 0 when the figures were printed, 1 when the bench could not run,
# 77 without root.
set -eu
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
pings=${BENCH_PINGS:-2000}
LB_PREFIX=${LB_PREFIX:-lbsp$$-}
. "$srcdir/tests/system/bed.sh"
bed_trap

die() { echo "bench-switch-ports: ERROR: $*" >&2; exit 1; }
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
out=$(mktemp -d /tmp/lb-bench-switch.XXXXXX)
trap 'bed_down; rm -rf "$out"' EXIT

measure() {  # ALLOCATOR PORTS
    local before after
    before=$(bed_switch_main_thread node1)
    ip netns exec "${LB_PREFIX}a" ping -n -c "$pings" -i 0.002 10.9.0.2 \
        > "$out/ping" || true
    after=$(bed_switch_main_thread node1)
    python3 - "$1" "$2" "$before" "$after" "$out/ping" <<'EOF'
import re, sys
alloc, ports, before, after, ping = sys.argv[1:]
rtt = sorted(float(m) for m in
             re.findall(r"time=([0-9.]+) ms", open(ping).read()))
cpu0, sw0 = map(int, before.split())
cpu1, sw1 = map(int, after.split())
if not rtt or sw1 == sw0:
    sys.exit("%s, %s ports: no round trip measured" % (alloc, ports))
pick = lambda q: rtt[min(len(rtt) - 1, int(q * len(rtt)))]
print("%-9s %6s %9.3f %9.3f %9.3f %9d %12.1f" % (
    alloc, ports, pick(0.5), pick(0.99), rtt[-1], sw1 - sw0,
    (cpu1 - cpu0) / 1e3 / (sw1 - sw0)))
EOF
}

run() {  # ALLOCATOR [PRELOAD]
    LB_VSWITCHD_PRELOAD=${2-}
    bed_up 1 > /dev/null || die "bed_up failed"
    bed_ofctl node1 add-flow "table=0,priority=0,actions=NORMAL"
    bed_pod_add node1 a 02:00:00:00:00:01 10.9.0.1/16 ||
        die "pod a"
    bed_pod_add node1 b 02:00:00:00:00:02 10.9.0.2/16 ||
        die "pod b"
    local n=0 want
    ip netns exec "${LB_PREFIX}a" ping -n -c 20 -i 0.01 -q 10.9.0.2 \
        > /dev/null || die "pod a does not reach pod b"
    for want in 0 32 64 128; do
        while [ "$n" -lt "$want" ]; do
            n=$((n + 1))
            bed_pod_add node1 "idle$n" \
                "$(printf '02:00:00:00:%02x:%02x' $((n / 256)) $((n % 256)))" \
                "10.9.$((1 + n / 256)).$((n % 256))/16" ||
                die "idle pod $n"
        done
        sleep 1
        measure "$1" "$n"
    done
    bed_down
}

echo "the userspace switch's cost per pod port: $pings pings every 2 ms"
echo "between two pods, beside idle pod ports (one node)"
echo
printf '%-9s %6s %9s %9s %9s %9s %12s\n' allocator ports "rtt p50" \
    "rtt p99" "rtt max" wakeups "us/wakeup"
printf '%-9s %6s %9s %9s %9s %9s %12s\n' "" "" "(ms)" "(ms)" "(ms)" "" \
    "(main thr.)"
run glibc
if [ -e "$tcmalloc" ]; then
    run tcmalloc "$tcmalloc"
else
    echo "tcmalloc: not installed ($tcmalloc; libtcmalloc-minimal4)"
fi
