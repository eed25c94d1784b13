#!/bin/bash
# The livebind CNI plugin binary, run exactly as a runtime runs it (CNI_*
# environment, configuration on stdin), against cni-test-server: the real
# agent-side lib/cni-server.c with a canned handler.  Needs no root.
# Exit: 0 pass, 1 fail, 77 skip, 99 hard error.
#
# Settings: LB_BUILDDIR (default: the current directory, which is where
# `make check` runs tests), LB_CNI_PLUGIN, LB_CNI_TEST_SERVER, LB_K8S_BIN
# (cni-runtime, for the checks through libcni).
set -u

here=$(cd "$(dirname "$0")" && pwd)
builddir=${LB_BUILDDIR:-$PWD}
plugin=${LB_CNI_PLUGIN:-$builddir/cni-plugin/livebind}
server=${LB_CNI_TEST_SERVER:-$builddir/tests/system/cni-test-server}

command -v python3 >/dev/null 2>&1 ||
    { echo "SKIP: test-cni-plugin.sh needs python3" >&2; exit 77; }
for f in "$plugin" "$server"; do
    [ -x "$f" ] || { echo "ERROR: $f not built" >&2; exit 99; }
done

# The pod's network namespace: the plugin opens it and passes the
# descriptor to the agent, so it must be one.  Our own serves (only the
# real agent refuses the host's); creating one would need root.
netns=/proc/$$/ns/net

# Short: the socket path must fit in sun_path.
tmp=$(mktemp -d /tmp/lb-cni.XXXXXX) || exit 99
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

nfail=0
check() {
    local desc=$1; shift
    if "$@"; then
        echo "PASS: $desc"
    else
        echo "FAIL: $desc"
        echo "      rc=$rc out=$out"
        nfail=$((nfail + 1))
    fi
}

# start_server NAME ARGS... : cni-test-server on $tmp/NAME/cni.sock.
start_server() {
    local name=$1; shift
    rm -f "$tmp/ready"
    "$server" --socket="$tmp/$name/cni.sock" --record="$tmp/record" \
        --ready-file="$tmp/ready" "$@" 2>>"$tmp/server.log" &
    pids+=($!)
    local i
    for i in $(seq 500); do
        [ -s "$tmp/ready" ] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.01
    done
    echo "ERROR: cni-test-server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 99
}

stop_server() {
    local p=${pids[-1]}
    kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    unset 'pids[-1]'
}

# conf [VERSION [EXTRA_JSON_MEMBERS]] : a livebind network configuration
# for the current $sock.
conf() {
    local version=${1:-1.1.0} extra=${2:-} timeout='"timeoutMs":3000,'
    case $extra in *'"timeoutMs"'*) timeout= ;; esac
    echo "{\"cniVersion\":\"$version\",\"name\":\"pods\",\"type\":\"livebind\",$timeout\"agentSocket\":\"$sock\"${extra:+,$extra}}"
}

# run CMD CONF [VAR=VALUE | VAR= ...] : runs the plugin with the CNI
# environment of pod default/pod1 (VAR=VALUE overrides, VAR= removes) and
# CONF on stdin; sets $out and $rc.
run() {
    local cmd=$1 config=$2; shift 2
    local -A vars=(
        [CNI_COMMAND]=$cmd
        [CNI_CONTAINERID]=c0ffee01
        [CNI_NETNS]=$netns
        [CNI_IFNAME]=eth0
        [CNI_PATH]=/opt/cni/bin
        [CNI_ARGS]="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod1;K8S_POD_UID=0b9a5e46-6c5e-4a4e-9b2f-3f1c6c1d2e3f;K8S_POD_INFRA_CONTAINER_ID=c0ffee01"
    )
    local a
    for a in "$@"; do
        if [ -z "${a#*=}" ]; then unset "vars[${a%%=*}]"; else vars[${a%%=*}]=${a#*=}; fi
    done
    local envs=()
    for a in "${!vars[@]}"; do envs+=("$a=${vars[$a]}"); done
    out=$(env -i PATH="$PATH" "${envs[@]}" "$plugin" <<< "$config" \
          2>>"$tmp/plugin.log")
    rc=$?
}

# jq_true EXPR : Python expression EXPR over j (the parsed $out) holds.
jq_true() {
    python3 -c 'import json, sys
j = json.loads(sys.argv[1])
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$out" "$1" 2>/dev/null
}

# fails_with CODE : the plugin exited non-zero with CNI error CODE.
fails_with() {
    [ "$rc" != 0 ] && jq_true "j['code'] == $1 and j['msg'] != '' and 'cniVersion' in j"
}

succeeds_silently() { [ "$rc" = 0 ] && [ -z "$out" ]; }

recorded() { grep -q -- "$1" "$tmp/record"; }

# ---------------------------------------------------------------- VERSION
run VERSION ""
check "VERSION prints the supported versions" eval \
    '[ "$rc" = 0 ] && [ "$out" = "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}" ]'

# ---------------------------------------------------------- with an agent
sock=$tmp/run/cni.sock
start_server run
check "socket is 0600 in a 0700 directory" eval \
    '[ "$(stat -c %a "$tmp/run")" = 700 ] && [ "$(stat -c %a "$sock")" = 600 ]'

run ADD "$(conf 1.1.0)"
check "ADD 1.1.0: result with mtu, no ips[].version" eval '[ "$rc" = 0 ] &&
    jq_true "j[\"cniVersion\"] == \"1.1.0\"
        and j[\"interfaces\"] == [{\"name\": \"eth0\", \"mac\": \"0a:58:0a:f4:00:05\", \"mtu\": 1400, \"sandbox\": \"$netns\"}]
        and j[\"ips\"] == [{\"interface\": 0, \"address\": \"10.244.0.5/16\", \"gateway\": \"10.244.0.1\"}]
        and j[\"routes\"] == [{\"dst\": \"0.0.0.0/0\", \"gw\": \"10.244.0.1\"}]
        and j[\"dns\"] == {\"nameservers\": [\"10.96.0.10\"]}"'
check "the agent got the request's parameters and configuration" recorded \
    "^ADD id=c0ffee01 netns=$netns fd=net:\[[0-9]*\] ifname=eth0 ns=default pod=pod1 uid=0b9a5e46-6c5e-4a4e-9b2f-3f1c6c1d2e3f infra=c0ffee01 path=/opt/cni/bin net=pods version=1.1.0 socket=$sock timeout=3000 prev=no$"

run ADD "$(conf 1.0.0)"
check "ADD 1.0.0: no mtu, no ips[].version" eval '[ "$rc" = 0 ] &&
    jq_true "j[\"cniVersion\"] == \"1.0.0\" and \"mtu\" not in j[\"interfaces\"][0]
        and \"version\" not in j[\"ips\"][0]"'

run ADD "$(conf 0.4.0)"
check "ADD 0.4.0: ips[].version is \"4\"" eval '[ "$rc" = 0 ] &&
    jq_true "j[\"cniVersion\"] == \"0.4.0\" and j[\"ips\"][0][\"version\"] == \"4\"
        and \"mtu\" not in j[\"interfaces\"][0]"'

prev='"prevResult":{"cniVersion":"1.1.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/pod1"}],"ips":[{"address":"10.244.0.5/16","interface":0}]}'
run CHECK "$(conf 1.1.0 "$prev")"
check "CHECK with prevResult: exit 0, no output" succeeds_silently
check "CHECK forwarded prevResult" recorded "^CHECK id=c0ffee01 .* prev=yes$"

run DEL "$(conf 1.1.0 "$prev")" CNI_NETNS= CNI_ARGS=
check "DEL without netns and CNI_ARGS: exit 0, no output" succeeds_silently
check "DEL reached the agent" recorded "^DEL id=c0ffee01 netns=- fd=- ifname=eth0 ns=- "

run STATUS "$(conf 1.1.0)" CNI_CONTAINERID= CNI_NETNS= CNI_IFNAME= CNI_ARGS=
check "STATUS: exit 0, no output" succeeds_silently

run GC "$(conf 1.1.0 '"cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]')" \
    CNI_CONTAINERID= CNI_NETNS= CNI_IFNAME= CNI_ARGS=
check "GC forwards the valid attachments" eval \
    'succeeds_silently && recorded "^GC .* valid=c1/eth0$"'

run STATUS "$(conf 1.0.0)" CNI_CONTAINERID= CNI_NETNS= CNI_IFNAME= CNI_ARGS=
check "STATUS with cniVersion 1.0.0: code 1" fails_with 1

# ------------------------------------------------ the network namespace
# The plugin opens CNI_NETNS, the agent never does: what is not a namespace
# is refused here, at once and without opening it (a FIFO's open() waits
# for a writer), and never reaches the agent.  A DEL whose namespace is
# gone succeeds (CNI wants it to) and tells the agent so.
mkfifo "$tmp/fifo"
touch "$tmp/file"
nrec() { wc -l < "$tmp/record"; }
refused_here() {  # PATTERN : code 4 naming PATTERN, nothing sent
    fails_with 4 && jq_true "'$1' in j['msg']" && [ "$(nrec)" = "$before" ]
}
before=$(nrec)
SECONDS=0
run ADD "$(conf)" CNI_NETNS="$tmp/fifo"
check "ADD in a FIFO: code 4, at once ($SECONDS s), not sent" \
    refused_here "not a network namespace"
run CHECK "$(conf)" CNI_NETNS="$tmp/fifo"
check "CHECK in a FIFO: code 4, not sent" \
    refused_here "not a network namespace"
run ADD "$(conf)" CNI_NETNS="$tmp/file"
check "ADD in a regular file: code 4, not sent" \
    refused_here "not a network namespace"
run ADD "$(conf)" CNI_NETNS="$tmp/missing"
check "ADD in a missing namespace: code 4, not sent" \
    refused_here "No such file or directory"
run ADD "$(conf)" CNI_NETNS=/proc/self/ns/mnt
check "ADD in a mount namespace: passed on as such (the agent refuses it)" \
    eval '[ "$rc" = 0 ] && recorded "^ADD id=c0ffee01 netns=/proc/self/ns/mnt fd=mnt:\["'
run DEL "$(conf)" CNI_NETNS="$tmp/missing"
check "DEL with the namespace gone: exit 0, the agent told so" eval \
    'succeeds_silently && recorded "^DEL id=c0ffee01 netns=$tmp/missing gone fd=- "'
run DEL "$(conf)" CNI_NETNS="$tmp/fifo"
check "DEL in a FIFO: sent without a descriptor (host end by name)" eval \
    'succeeds_silently && recorded "^DEL id=c0ffee01 netns=$tmp/fifo fd=- "'
run DEL "$(conf)"
check "DEL in a namespace: with its descriptor" eval \
    'succeeds_silently && recorded "^DEL id=c0ffee01 netns=$netns fd=net:\["'

# ----------------------------------------------- errors found by the plugin
run ADD '{"cniVersion":"1.1.0","name":"pods","type":"bridge"}'
check "type bridge: code 7 (invalid config)" fails_with 7

run ADD "$(conf 1.1.0 '"name":"other"')"
check "duplicate key: code 6 (decode)" fails_with 6

run ADD "$(conf 1.1.0 '"timeoutMs":0')"
check "timeoutMs 0: code 7" fails_with 7

run ADD '{"cniVersion":"1.1.0","name":"pods",'
check "truncated JSON: code 6 (decode)" fails_with 6

run ADD ""
check "empty stdin: code 6" fails_with 6

run ADD "$(conf 0.3.1)"
check "cniVersion 0.3.1: code 1 (incompatible), error in 1.1.0" eval \
    'fails_with 1 && jq_true "j[\"cniVersion\"] == \"1.1.0\""'

run ADD "$(conf 1.1.0 '"timeout_ms":500')"
check "misspelt option timeout_ms: code 2 naming key and value" eval \
    'fails_with 2 && jq_true "\"timeout_ms\" in j[\"msg\"] and \"500\" in j[\"msg\"]"'

run ADD "$(conf 1.1.0 '"ipam":{"type":"host-local"}')"
check "ipam section: code 2" fails_with 2

run ADD "$(conf 0.4.0)" CNI_NETNS=
check "ADD without CNI_NETNS: code 4 naming it, error in 0.4.0" eval \
    'fails_with 4 && jq_true "\"CNI_NETNS\" in j[\"msg\"] and j[\"cniVersion\"] == \"0.4.0\""'

run ADD "$(conf)" CNI_CONTAINERID= CNI_IFNAME=
check "ADD without CNI_CONTAINERID, CNI_IFNAME: code 4 naming both" eval \
    'fails_with 4 && jq_true "\"CNI_CONTAINERID\" in j[\"msg\"] and \"CNI_IFNAME\" in j[\"msg\"]"'

run ADD "$(conf)" CNI_COMMAND=
check "no CNI_COMMAND: code 4" fails_with 4

run FROB "$(conf)"
check "unknown CNI_COMMAND: code 4" fails_with 4

run ADD "$(conf)" CNI_IFNAME=eth0:1
check "bad CNI_IFNAME: code 4" fails_with 4

run ADD "$(conf)" CNI_ARGS="K8S_POD_NAMESPACE=default"
check "ADD without K8S_POD_NAME: code 4" fails_with 4

run ADD "$(conf)" CNI_ARGS="K8S_POD_NAMESPACE=Default;K8S_POD_NAME=pod1"
check "bad K8S_POD_NAMESPACE: code 4" fails_with 4

run GC "$(conf)" CNI_CONTAINERID= CNI_NETNS= CNI_IFNAME= CNI_ARGS=
check "GC without valid-attachments: code 7" fails_with 7

# ---------------------------------------------- errors found by the agent
stop_server
start_server run --error=101
run ADD "$(conf)"
check "agent error 101 is passed through, exit 1" eval \
    'fails_with 101 && jq_true "j[\"msg\"] == \"canned failure\" and j[\"details\"] == \"cni-test-server --error\""'
stop_server

start_server run --delay-ms=2000
run ADD "$(conf 1.1.0 '"timeoutMs":300')"
check "agent slower than timeoutMs: code 11 (try again)" fails_with 11
sleep 0.2
check "server told its handler the client went away" recorded "^closed id=c0ffee01$"
stop_server

start_server run --delay-ms=100
run ADD "$(conf)"
check "asynchronous reply (100 ms later) reaches the plugin" eval \
    '[ "$rc" = 0 ] && jq_true "j[\"ips\"][0][\"address\"] == \"10.244.0.5/16\""'
stop_server

start_server run --allow-uid=$(( $(id -u) + 4242 ))
run ADD "$(conf)"
check "peer uid not allowed: code 105" fails_with 105
stop_server

# -------------------------------------------------------- agent not there
# The server was killed: its socket is left behind, and refuses.
check "a killed server leaves a stale socket" eval '[ -S "$sock" ]'
run ADD "$(conf)"
check "agent down (stale socket, refused): code 50, exit non-zero" \
    fails_with 50
run STATUS "$(conf)" CNI_CONTAINERID= CNI_NETNS= CNI_IFNAME= CNI_ARGS=
check "STATUS with the agent down: code 50" fails_with 50
run DEL "$(conf)"
check "DEL with the agent down: code 50 (the runtime retries)" fails_with 50

mv "$sock" "$tmp/stale.sock"
run ADD "$(conf)"
check "agent down (no socket): code 50" fails_with 50
mv "$tmp/stale.sock" "$sock"

start_server run
check "a restarted server replaces the stale socket" eval '[ -S "$sock" ]'
start_server_dup() {
    "$server" --socket="$sock" 2>/dev/null & local p=$!
    wait "$p"
}
check "a second server on a live socket refuses to start" eval '! start_server_dup'

# ---------------------------------------------------------- libcni
# The plugin run by libcni, the runtime library containerd and CRI-O use
# (cni-runtime, built by utilities/build-k8s.sh), from a conflist: the
# result cache gives CHECK and DEL their prevResult and GC its valid
# attachments.  Malformed input, which libcni never sends, is fed to the
# plugin directly above.
runtime=${LB_K8S_BIN:-$here/../../.k8s-cache/bin}/cni-runtime
if [ -x "$runtime" ]; then
mkdir -p "$tmp/net.d"
cat > "$tmp/net.d/10-livebind.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "pods",
 "plugins": [{"type": "livebind", "agentSocket": "$sock"}]}
EOF
tool() {
    local cmd=$1; shift
    out=$("$runtime" -conf-dir "$tmp/net.d" -net pods -cache-dir "$tmp/cache" \
          -path "$(dirname "$plugin")" "$@" "$cmd" 2>>"$tmp/plugin.log")
    rc=$?
}
pod2=(-netns "$netns" -container-id c2
      -args "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod2")
tool add "${pod2[@]}"
check "libcni ADD from a conflist" eval '[ "$rc" = 0 ] &&
    jq_true "j[\"cniVersion\"] == \"1.0.0\"" &&
    recorded "^ADD id=c2 netns=$netns fd=net:\\[[0-9]*\\] ifname=eth0 ns=default pod=pod2 .* net=pods version=1.0.0 "'
tool check "${pod2[@]}"
check "libcni CHECK passes the cached result" eval \
    'succeeds_silently && recorded "^CHECK id=c2 .* prev=yes$"'
sed -i 's/"1.0.0"/"1.1.0"/' "$tmp/net.d/10-livebind.conflist"
tool gc
check "libcni GC lists cached attachments" eval \
    'succeeds_silently && recorded "^GC .* valid=c2/eth0$"'
tool status
check "libcni STATUS" eval 'succeeds_silently && recorded "^STATUS "'
sed -i 's/"1.1.0"/"1.0.0"/' "$tmp/net.d/10-livebind.conflist"
tool del "${pod2[@]}"
check "libcni DEL, cache emptied" eval \
    'succeeds_silently && recorded "^DEL id=c2 .* prev=yes$" &&
     [ -z "$(find "$tmp/cache" -type f)" ]'
tool version
check "libcni VERSION" eval '[ "$rc" = 0 ] && jq_true "\"1.1.0\" in j[\"supportedVersions\"]"'
else
    echo "SKIP: libcni checks: $runtime not built (utilities/build-k8s.sh)"
fi
stop_server

if grep -q 'ERROR: \(Address\|Leak\)Sanitizer\|runtime error:' \
        "$tmp/plugin.log" "$tmp/server.log"; then
    echo "FAIL: sanitizer reports:"
    cat "$tmp/plugin.log" "$tmp/server.log"
    nfail=$((nfail + 1))
fi

if [ "$nfail" != 0 ]; then
    echo "$nfail check(s) failed; plugin stderr:"
    cat "$tmp/plugin.log"
    exit 1
fi
echo "all checks passed"
