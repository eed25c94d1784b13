#!/bin/bash
# System test of lib/pod-plumb (the kernel side of a pod attachment),
# driven through tests/lb-plumb-tool:
#   - add in a fresh network namespace, then verify with ip, ethtool and the
#     sysctls (the host end's IPv6 off); add again (idempotent); check;
#     mismatching add/check; del; del
#     again (idempotent); the namespace is as it was and no veth is left;
#   - a /32 address with an off-subnet gateway (on-link route), and no
#     gateway at all;
#   - failures leave nothing behind: missing namespace, a file that is not a
#     namespace, the host's own namespace, bad parameters, a pod interface
#     name already taken, a FIFO, a directory or a device (refused at
#     once by netns_fd_open(), which the tool calls as the plugin does:
#     never opened, opening a FIFO would wait; the host's own namespace
#     and other kinds by the agent's netns_fd_check()), and a failure
#     after the veth was made (the pod already has a default route), which
#     must be rolled back;
#   - two pods with the same MAC and IP on one bridge (a migration source
#     and target) both keep their IPv6 link-local address: no DAD tripped,
#     while a pod plumbed without pod-plumb's sysctls does trip (control);
#   - the tool under valgrind, leak-free, if valgrind is installed.
#
# Everything it creates carries a unique prefix and is removed by an EXIT
# trap, also when a check fails or the script is interrupted.
#
# Tool: $LB_PLUMB_TOOL, or tests/lb-plumb-tool under $abs_top_builddir,
# $top_builddir, the current directory or the source tree.
# Exit: 0 pass, 1 fail, 77 skip, 99 hard error.
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: test-pod-plumb.sh needs root (network namespaces)" >&2
    exit 77
fi
for c in ip ethtool awk; do
    command -v "$c" >/dev/null 2>&1 ||
        { echo "SKIP: test-pod-plumb.sh needs $c" >&2; exit 77; }
done

here=$(cd "$(dirname "$0")" && pwd)
TOOL=${LB_PLUMB_TOOL:-}
if [ -z "$TOOL" ]; then
    for d in "${LB_BUILDDIR:-}" "${abs_top_builddir:-}" "${top_builddir:-}" "$PWD" \
             "$here/../.."; do
        if [ -n "$d" ] && [ -x "$d/tests/lb-plumb-tool" ]; then
            TOOL=$d/tests/lb-plumb-tool
            break
        fi
    done
fi
if [ -z "$TOOL" ] || [ ! -x "$TOOL" ]; then
    echo "ERROR: tests/lb-plumb-tool not found: build it or set" \
         "LB_PLUMB_TOOL" >&2
    exit 99
fi

# Unique prefix: parallel runs (and other engineers' tests) don't collide.
P=${LB_PREFIX:-lbpp$$-}
NSES=""                         # Namespaces to delete on exit.
HOSTS=""                        # Host interfaces to delete on exit.
TMP=$(mktemp -d "/tmp/${P}XXXXXX")

cleanup() {
    local rc=$? h ns
    set +eu
    for h in $HOSTS; do
        ip link del "$h" >/dev/null 2>&1
    done
    for ns in $NSES; do
        ip netns del "$ns" >/dev/null 2>&1
    done
    rm -rf "$TMP"
    return $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

npass=0
t0=$EPOCHREALTIME

diag() {
    local ns
    set +e
    for ns in $NSES; do
        echo "--- netns $ns"
        ip -n "$ns" -d link 2>&1
        ip -n "$ns" addr 2>&1
        ip -n "$ns" route 2>&1
    done
    echo "--- host interfaces $HOSTS"
    for h in $HOSTS; do
        ip -d link show "$h" 2>&1
    done
    echo "--- last tool output"
    cat "$TMP/out" 2>/dev/null
}

# check DESCRIPTION CMD... : one line per check; the first failure stops
# the test (the EXIT trap still cleans up).
check() {
    local desc=$1; shift
    if "$@"; then
        echo "PASS: $desc"
        npass=$((npass + 1))
    else
        echo "FAIL: $desc"
        diag >&2
        echo "$npass passed, 1 failed"
        exit 1
    fi
}

# tool ARG... : runs the tool, its stdout and stderr in $TMP/out.
tool() {
    "$TOOL" "$@" >"$TMP/out" 2>&1
}

# fails PATTERN ARG... : the tool fails, saying something matching PATTERN.
fails() {
    local pattern=$1; shift
    if "$TOOL" "$@" >"$TMP/out" 2>&1; then
        echo "    tool succeeded but should have failed" >&2
        return 1
    fi
    grep -qF -- "$pattern" "$TMP/out" ||
        { echo "    expected \"$pattern\" in: $(cat "$TMP/out")" >&2
          return 1; }
}

# fails_promptly PATTERN ARG... : as fails, and within 5 s: nothing a
# request names may make the tool (the agent, in production) wait.
fails_promptly() {
    local pattern=$1 rc=0; shift
    timeout -s KILL 5 "$TOOL" "$@" >"$TMP/out" 2>&1 || rc=$?
    if [ $rc = 137 ]; then
        echo "    tool still running after 5 s: killed" >&2
        return 1
    elif [ $rc = 0 ]; then
        echo "    tool succeeded but should have failed" >&2
        return 1
    fi
    grep -qF -- "$pattern" "$TMP/out" ||
        { echo "    expected \"$pattern\" in: $(cat "$TMP/out")" >&2
          return 1; }
}

new_ns() {
    ip netns add "$1"
    NSES="$NSES $1"
}

# host_ifname VAR ID : sets VAR to the host interface name for container
# ID and remembers it for cleanup.
host_ifname() {
    local name
    name=$("$TOOL" host-ifname "test-pod-plumb-$$-$2")
    HOSTS="$HOSTS $name"
    eval "$1=\$name"
}

no_host_link() { ! ip link show "$1" >/dev/null 2>&1; }
no_ns_link() { ! ip -n "$1" link show "$2" >/dev/null 2>&1; }

# ns_sysctl NS FAMILY IF NAME : prints net.FAMILY.conf.IF.NAME in NS.
ns_sysctl() {
    ip netns exec "$1" cat "/proc/sys/net/$2/conf/$3/$4"
}

# What a pod's namespace looks like, apart from lo: interfaces, IPv4
# addresses, IPv4 and IPv6 routes of the main table.
ns_snapshot() {
    ip -n "$1" -o link | awk '{ print $2 }' | grep -v '^lo:' || true
    ip -n "$1" -o -4 addr | awk '$2 != "lo"' || true
    ip -n "$1" route
    ip -n "$1" -6 route | grep -v ' dev lo ' || true
}

# Matches ip's one-line output against an extended regex.
matches() {
    local regex=$1; shift
    "$@" 2>&1 | grep -Eq -- "$regex"
}

# Both are "tx-checksumming: off" (ETHTOOL_STXCSUM turns off the group).
txcsum_off() {
    "$@" | grep -q '^tx-checksumming: off'
}

have_ipv6() { [ -d /proc/sys/net/ipv6 ]; }

# ---------------------------------------------------------------------------
# 1. Add, verify, add again, check, mismatches, del, del again.

NS=${P}pod
NSPATH=/run/netns/$NS
host_ifname HOST a
MAC=0a:58:0a:f4:00:05
ATT="$NSPATH eth0 $HOST $MAC 1400 10.244.0.5/16 10.244.0.1"

new_ns "$NS"
check "netns $NS exists at $NSPATH" test -e "$NSPATH"
check "host interface name is stable, lb + 11 hex digits" eval \
    "[ \"\$('$TOOL' host-ifname x)\" = \"\$('$TOOL' host-ifname x)\" ] &&
     '$TOOL' host-ifname x | grep -Eqx 'lb[0-9a-f]{11}'"
before=$(ns_snapshot "$NS")

check "add" tool add $ATT
check "pod eth0 has the MAC" \
    matches "link/ether $MAC " ip -n "$NS" -o link show eth0
check "pod eth0 has MTU 1400" \
    matches " mtu 1400 " ip -n "$NS" -o link show eth0
check "pod eth0 is up with carrier" \
    matches "<[^>]*,UP,LOWER_UP>" ip -n "$NS" -o link show eth0
check "pod eth0 is a veth" matches "veth" ip -n "$NS" -d -o link show eth0
check "pod lo is up" matches "<LOOPBACK,UP" ip -n "$NS" -o link show lo
check "pod eth0 has 10.244.0.5/16" \
    matches "inet 10\.244\.0\.5/16 brd 10\.244\.255\.255 " \
    ip -n "$NS" -o -4 addr show dev eth0
check "pod default route via 10.244.0.1 dev eth0" \
    matches "^default via 10\.244\.0\.1 dev eth0" \
    ip -n "$NS" route show default
check "pod subnet route" \
    matches "^10\.244\.0\.0/16 dev eth0 .*src 10\.244\.0\.5" ip -n "$NS" route
check "host end has MTU 1400, up" \
    matches " mtu 1400 .*state UP" ip -o link show "$HOST"
check "host end's peer is in $NS" \
    matches "link-netns $NS" ip -o link show "$HOST"
check "TX checksum offload off on the host end" txcsum_off ethtool -k "$HOST"
check "TX checksum offload off on pod eth0" \
    txcsum_off ip netns exec "$NS" ethtool -k eth0
check "net.ipv4.conf.eth0.arp_notify = 0" \
    test "$(ns_sysctl "$NS" ipv4 eth0 arp_notify)" = 0
if have_ipv6; then
    check "net.ipv6.conf.eth0.accept_dad = 0" \
        test "$(ns_sysctl "$NS" ipv6 eth0 accept_dad)" = 0
    check "net.ipv6.conf.eth0.dad_transmits = 0" \
        test "$(ns_sysctl "$NS" ipv6 eth0 dad_transmits)" = 0
    check "pod link-local address is not tentative" eval \
        "ip -n '$NS' -6 addr show dev eth0 | grep -q 'inet6 fe80' &&
         ! ip -n '$NS' -6 addr show dev eth0 | grep -Eq 'tentative|dadfailed'"
    # The host end sends nothing of its own into the pod (MLD, DAD, RS).
    check "host end: net.ipv6.conf.$HOST.disable_ipv6 = 1, no address" eval \
        "[ \$(cat /proc/sys/net/ipv6/conf/$HOST/disable_ipv6) = 1 ] &&
         [ -z \"\$(ip -6 addr show dev $HOST)\" ]"
fi

check "check" tool check $ATT
check "add again (idempotent)" tool add $ATT
check "still exactly one address and one default route" eval \
    "[ \$(ip -n '$NS' -o -4 addr show dev eth0 | wc -l) = 1 ] &&
     [ \$(ip -n '$NS' route show default | wc -l) = 1 ]"
check "add with another MAC: refused, says how it differs" \
    fails "differs: eth0 has MAC $MAC, not 0a:58:0a:f4:00:99" \
    add "$NSPATH" eth0 "$HOST" 0a:58:0a:f4:00:99 1400 10.244.0.5/16 10.244.0.1
check "add with another IP: refused" \
    fails "already exists and differs: eth0 has no address 10.244.0.6/16" \
    add "$NSPATH" eth0 "$HOST" "$MAC" 1400 10.244.0.6/16 10.244.0.1
check "check with another MTU fails" \
    fails "has MTU 1400, not 1500" \
    check "$NSPATH" eth0 "$HOST" "$MAC" 1500 10.244.0.5/16 10.244.0.1
check "check with another gateway fails" \
    fails "no default route via 10.244.0.254 dev eth0" \
    check "$NSPATH" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16 10.244.0.254
check "refused adds changed nothing: check still passes" tool check $ATT
ip netns exec "$NS" ethtool -K eth0 tx on >/dev/null 2>&1
check "check notices TX checksum offload turned back on" \
    fails "eth0 has TX checksum offload on" check $ATT
ip netns exec "$NS" ethtool -K eth0 tx off >/dev/null 2>&1
if have_ipv6; then
    echo 0 > "/proc/sys/net/ipv6/conf/$HOST/disable_ipv6"
    check "check notices IPv6 turned back on on the host end" \
        fails "net.ipv6.conf.$HOST.disable_ipv6 is 0, not 1" check $ATT
    echo 1 > "/proc/sys/net/ipv6/conf/$HOST/disable_ipv6"
fi

check "del" tool del "$NSPATH" eth0 "$HOST"
check "host end is gone" no_host_link "$HOST"
check "pod eth0 is gone" no_ns_link "$NS" eth0
check "check now fails: does not exist" fails "does not exist" check $ATT
check "del again (idempotent)" tool del "$NSPATH" eth0 "$HOST"
check "del by pod side when gone (idempotent)" tool del "$NSPATH" eth0 -
check "del with the namespace gone" tool del "/run/netns/${P}gone" eth0 -
check "namespace is as before (apart from lo)" \
    test "$before" = "$(ns_snapshot "$NS")"

# ---------------------------------------------------------------------------
# 2. /32 with an off-subnet gateway; no gateway; del from the pod side.

ATT32="$NSPATH eth0 $HOST $MAC 1400 10.244.0.5/32 169.254.1.1"
check "add /32 with off-subnet gateway" tool add $ATT32
check "on-link route to the gateway" \
    matches "^169\.254\.1\.1 dev eth0 .*scope link" ip -n "$NS" route
check "default route via the gateway" \
    matches "^default via 169\.254\.1\.1 dev eth0" \
    ip -n "$NS" route show default
check "check /32" tool check $ATT32
check "del from the pod side" tool del "$NSPATH" eth0 -
check "host end went with it" no_host_link "$HOST"

ATTNOGW="$NSPATH net1 $HOST $MAC 9000 192.0.2.10/24"
check "add without gateway, MTU 9000, ifname net1" tool add $ATTNOGW
check "no default route" test -z "$(ip -n "$NS" route show default)"
check "subnet route only" \
    test "$(ip -n "$NS" route | awk '{ print $1 }')" = 192.0.2.0/24
check "check without gateway" tool check $ATTNOGW
check "del" tool del "$NSPATH" net1 "$HOST"
check "namespace is as before again" test "$before" = "$(ns_snapshot "$NS")"

# ---------------------------------------------------------------------------
# 3. Failures leave nothing behind.

check "missing namespace: error" fails "cannot open network namespace" \
    add "/run/netns/${P}missing" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
check "  and no veth left" no_host_link "$HOST"
touch "$TMP/not-a-netns"
check "a file that is not a namespace: error" fails "not a network namespace" \
    add "$TMP/not-a-netns" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
check "  and no veth left" no_host_link "$HOST"
check "a namespace of another kind: error" fails "not a network namespace" \
    add /proc/self/ns/uts eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
check "  and no veth left" no_host_link "$HOST"
# Opening a FIFO waits for a writer: the namespace path must be looked at,
# never opened, unless it is a namespace.
mkfifo "$TMP/fifo"
check "a FIFO: error at once" fails_promptly "not a network namespace" \
    add "$TMP/fifo" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
check "  and no veth left" no_host_link "$HOST"
check "del by pod side in a FIFO: error at once" \
    fails_promptly "not a network namespace" del "$TMP/fifo" eth0 -
check "check in a FIFO: error at once" \
    fails_promptly "not a network namespace" \
    check "$TMP/fifo" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
ln -s fifo "$TMP/fifo-link"
check "a symbolic link to a FIFO: error at once" \
    fails_promptly "not a network namespace" \
    add "$TMP/fifo-link" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
check "a directory: error" fails_promptly "not a network namespace" \
    add "$TMP" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
check "a character device: error" fails_promptly "not a network namespace" \
    add /dev/null eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
check "the host's own namespace: error" fails "host's own network namespace" \
    add /proc/self/ns/net eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
check "  and no veth left" no_host_link "$HOST"
check "MTU 10: error" fails "MTU 10 is outside" \
    add "$NSPATH" eth0 "$HOST" "$MAC" 10 10.244.0.5/16
check "multicast MAC: error" fails "not a unicast address" \
    add "$NSPATH" eth0 "$HOST" 01:00:5e:00:00:01 1400 10.244.0.5/16
check "16-character ifname: error" fails "invalid pod interface name" \
    add "$NSPATH" eth0123456789abc "$HOST" "$MAC" 1400 10.244.0.5/16
check "gateway = own IP: error" fails "is the pod's own address" \
    add "$NSPATH" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16 10.244.0.5
check "  and no veth left" no_host_link "$HOST"
check "namespace untouched" test "$before" = "$(ns_snapshot "$NS")"

# The pod already has an eth0 (another MAC): a clear error, and the pod's
# interface is left alone.
NS2=${P}pod2
new_ns "$NS2"
ip -n "$NS2" link add eth0 address 02:00:00:00:00:99 type veth peer name xpeer
before2=$(ns_snapshot "$NS2")
check "ifname taken in the pod: error names it and its MAC" \
    fails "interface eth0 (MAC 02:00:00:00:00:99) already exists" \
    add "/run/netns/$NS2" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16 10.244.0.1
check "  and no veth left" no_host_link "$HOST"
check "  and the pod's eth0 is untouched" \
    test "$before2" = "$(ns_snapshot "$NS2")"

# del refuses to delete what is not a veth.
ip -n "$NS2" link add eth9 type bridge
check "del of a pod interface that is not a veth: refused" \
    fails "eth9 is not a veth, not deleting it" del "/run/netns/$NS2" eth9 -
check "  and it is still there" ip -n "$NS2" link show eth9 >/dev/null

# A failure after the veth exists: the pod already has a default route, so
# adding ours fails; everything must be undone.
ip -n "$NS2" link set xpeer up
ip -n "$NS2" link set eth0 up
ip -n "$NS2" addr add 198.51.100.2/24 dev eth0
ip -n "$NS2" route add default via 198.51.100.1
before2=$(ns_snapshot "$NS2")
check "pod already has a default route: error" \
    fails "cannot add default route via 10.244.0.1 dev net0: File exists" \
    add "/run/netns/$NS2" net0 "$HOST" "$MAC" 1400 10.244.0.5/16 10.244.0.1
check "  rolled back: no veth on the host" no_host_link "$HOST"
check "  rolled back: no net0 in the pod" no_ns_link "$NS2" net0
check "  rolled back: the pod is as it was" \
    test "$before2" = "$(ns_snapshot "$NS2")"

# ---------------------------------------------------------------------------
# 4. Migration source and target side by side: same MAC and IP on one L2.
# Done inside a "node" namespace (the tool runs there, so the host ends
# live there too), bridged together.

if have_ipv6; then
    NODE=${P}node
    SRC=${P}src
    DST=${P}dst
    CTL=${P}ctl
    new_ns "$NODE"; new_ns "$SRC"; new_ns "$DST"; new_ns "$CTL"
    ip -n "$NODE" link add br0 type bridge
    ip -n "$NODE" link set br0 up
    HSRC=$("$TOOL" host-ifname "$SRC")
    HDST=$("$TOOL" host-ifname "$DST")
    check "node: add source pod" ip netns exec "$NODE" "$TOOL" add \
        "/run/netns/$SRC" eth0 "$HSRC" "$MAC" 1400 10.244.0.5/16 10.244.0.1
    ip -n "$NODE" link set "$HSRC" master br0
    check "node: add target pod, same MAC and IP" ip netns exec "$NODE" \
        "$TOOL" add "/run/netns/$DST" eth0 "$HDST" "$MAC" 1400 \
        10.244.0.5/16 10.244.0.1
    ip -n "$NODE" link set "$HDST" master br0

    # Control: the same plumbing by hand but with the kernel's defaults.
    ip -n "$NODE" link add hctl type veth peer name eth0 netns "$CTL"
    ip -n "$CTL" link set eth0 address "$MAC"
    ip -n "$NODE" link set hctl master br0
    ip -n "$NODE" link set hctl up
    ip -n "$CTL" link set eth0 up
    ip -n "$CTL" addr add 10.244.0.5/16 dev eth0

    # Default DAD takes 1 s (one probe, RetransTimer 1 s); wait up to 5.
    for i in $(seq 50); do
        ip -n "$CTL" -6 addr show dev eth0 | grep -q tentative || break
        sleep 0.1
    done
    check "control pod trips DAD (the check can fail)" \
        matches "dadfailed" ip -n "$CTL" -6 addr show dev eth0
    check "source pod's link-local address is fine" eval \
        "! ip -n '$SRC' -6 addr show dev eth0 | grep -Eq 'tentative|dadfailed'"
    check "target pod's link-local address is fine" eval \
        "! ip -n '$DST' -6 addr show dev eth0 | grep -Eq 'tentative|dadfailed'"
    check "node: check both" eval \
        "ip netns exec '$NODE' '$TOOL' check /run/netns/$SRC eth0 $HSRC $MAC \
             1400 10.244.0.5/16 10.244.0.1 &&
         ip netns exec '$NODE' '$TOOL' check /run/netns/$DST eth0 $HDST $MAC \
             1400 10.244.0.5/16 10.244.0.1"
    check "node: del both" eval \
        "ip netns exec '$NODE' '$TOOL' del - eth0 $HSRC &&
         ip netns exec '$NODE' '$TOOL' del - eth0 $HDST"
    check "  both gone" eval "no_ns_link '$SRC' eth0 && no_ns_link '$DST' eth0"
else
    echo "SKIP: no IPv6 in this kernel: DAD checks skipped"
fi

# ---------------------------------------------------------------------------
# 5. Under valgrind, leak-free (not for a sanitizer build: valgrind cannot
# run one).

if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIP: valgrind is not installed"
elif grep -qa __asan_init "$TOOL"; then
    echo "SKIP: valgrind: the tool is built with AddressSanitizer"
else
    VG="valgrind -q --leak-check=full"
    VG="$VG --errors-for-leak-kinds=definite,indirect,possible"
    # vg ARG... : the tool under valgrind; exit 1 on any valgrind error.
    vg() { $VG --error-exitcode=1 "$TOOL" "$@" >"$TMP/out" 2>&1; }
    # vg_fails PATTERN ARG... : the tool fails (exit 1) as it should, says
    # PATTERN, and valgrind found nothing (it would exit 3).
    vg_fails() {
        local pattern=$1 rc=0; shift
        $VG --error-exitcode=3 "$TOOL" "$@" >"$TMP/out" 2>&1 || rc=$?
        [ $rc = 1 ] && grep -qF -- "$pattern" "$TMP/out"
    }
    check "valgrind: add" vg add $ATT
    check "valgrind: add again" vg add $ATT
    check "valgrind: check" vg check $ATT
    check "valgrind: add that fails (mismatch)" vg_fails "already exists" \
        add "$NSPATH" eth0 "$HOST" 0a:58:0a:f4:00:99 1400 10.244.0.5/16
    check "valgrind: del" vg del "$NSPATH" eth0 "$HOST"
    check "valgrind: del again" vg del "$NSPATH" eth0 "$HOST"
    check "valgrind: add that rolls back" vg_fails "File exists" \
        add "/run/netns/$NS2" net0 "$HOST" "$MAC" 1400 10.244.0.5/16 10.244.0.1
    check "valgrind: missing namespace" vg_fails "cannot open" \
        add "/run/netns/${P}missing" eth0 "$HOST" "$MAC" 1400 10.244.0.5/16
    check "  nothing left" no_host_link "$HOST"
fi

t1=$EPOCHREALTIME
echo "all checks passed in $(awk -v a="$t0" -v b="$t1" \
    'BEGIN { printf "%.1f", b - a }') s"
echo "$npass passed, 0 failed"
