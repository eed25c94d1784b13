# control-plane.sh - a real Kubernetes control plane for the bed: etcd and
# kube-apiserver (built by utilities/build-k8s.sh from the upstream
# modules), TLS with a CA made for the run, the ServiceAccount token
# authenticator and the RBAC authorizer.  Source after bed.sh (bed_up
# first: both run in the underlay namespace, where every node reaches the
# API server over the underlay as real nodes do).
#
#   cp_start                 etcd + kube-apiserver, then deploy/crds.yaml,
#                            deploy/daemonset.yaml (its Namespace) and
#                            deploy/rbac.yaml as shipped, KubeVirt's VMI
#                            and VMIM CRDs and Multus's
#                            NetworkAttachmentDefinition CRD
#   cp_agent_kubeconfig NODE a kubeconfig for NODE's agent: HTTPS, the CA,
#                            a token of its own for the ServiceAccount of
#                            deploy/rbac.yaml (re-read by the agent)
#   kc ARGS...               kubectl as the cluster administrator
#   cp_restart_apiserver     kube-apiserver stopped and started again
#   cp_etcd_compact          etcd's history compacted up to now
#   cp_forbidden             prints the agents' requests RBAC refused
#
# Every file lives under $LB_BED_DIR/k8s and every process in the bed's
# underlay namespace, so bed_down removes them, on failure too.
#
# Settings: LB_K8S_BIN (the binaries; default: the cache of
# utilities/build-k8s.sh, built when missing), LB_API_IP, LB_API_PORT.

LB_API_IP=${LB_API_IP:-${LB_UL_NET:-172.31.0}.254}
LB_API_PORT=${LB_API_PORT:-6443}
LB_API=https://$LB_API_IP:$LB_API_PORT
# The agents' view of the API server; the fault proxy replaces it.
LB_AGENT_API=${LB_AGENT_API:-$LB_API}

# cp_bin_dir : where the control plane's binaries are, building them into
# the cache of utilities/build-k8s.sh if they are not there yet.
cp_bin_dir() {
    if [ -n "${LB_K8S_BIN:-}" ]; then
        echo "$LB_K8S_BIN"
        return
    fi
    local cache
    cache=$("$srcdir/utilities/build-k8s.sh") || return 1
    LB_K8S_BIN=$cache/bin
    echo "$LB_K8S_BIN"
}

# cp_require : exit 77 (skip) when the control plane cannot run here.
cp_require() {
    command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }
    command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
    LB_K8S_BIN=$(cp_bin_dir) ||
        { echo "SKIP: utilities/build-k8s.sh failed"; exit 77; }
}

_cp_dir() { echo "$LB_BED_DIR/k8s"; }

# _cp_cert NAME SUBJECT EXTENSIONS : a key and a certificate signed by the
# run's CA.
_cp_cert() {
    local d; d=$(_cp_dir)/pki
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$d/$1.key" -subj "$2" -out "$d/$1.csr" 2>/dev/null
    printf '%b\n' "$3" > "$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
        -CAcreateserial -days 2 -sha256 -extfile "$d/$1.ext" \
        -out "$d/$1.crt" 2>/dev/null
}

_cp_pki() {
    local d; d=$(_cp_dir)/pki
    mkdir -p "$d"
    openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
        -subj "/CN=livebind-test-ca-$$" 2>/dev/null
    _cp_cert apiserver /CN=kube-apiserver \
        "subjectAltName=IP:$LB_API_IP,IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature"
    # The administrator (kubectl, the tests' own requests): system:masters,
    # as kubeadm's admin.conf.
    _cp_cert admin "/O=system:masters/CN=livebind-test-admin" \
        "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature"
    # ServiceAccount tokens are signed with this key, checked with its
    # public half.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 \
        -out "$d/sa.key" 2>/dev/null
    openssl pkey -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
    # Another CA, for tests that a wrong one is refused.
    openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$d/other-ca.key" -out "$d/other-ca.crt" -days 2 \
        -subj "/CN=not-the-cluster-ca" 2>/dev/null
}

# _cp_kubeconfig FILE SERVER CA USER-YAML
_cp_kubeconfig() {
    cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: livebind-bed
  cluster:
    server: $2
    certificate-authority: $3
contexts:
- name: livebind-bed
  context:
    cluster: livebind-bed
    user: user
current-context: livebind-bed
users:
- name: user
  user:
$4
EOF
}

_cp_etcd_start() {
    local d; d=$(_cp_dir)
    # Only the API server talks to etcd: loopback of the underlay
    # namespace.  No fsync: the bed's data lives as long as the test.
    bed_bg ul "$d/etcd.log" "$LB_K8S_BIN/etcd" --name bed \
        --data-dir "$d/etcd" \
        --listen-client-urls http://127.0.0.1:2379 \
        --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 \
        --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster bed=http://127.0.0.1:2380 \
        --unsafe-no-fsync --log-level warn
    CP_ETCD_PID=$BED_BG_PID
    disown "$CP_ETCD_PID"
}

_cp_apiserver_start() {
    local d; d=$(_cp_dir)
    bed_bg ul "$d/kube-apiserver.log" "$LB_K8S_BIN/kube-apiserver" \
        --etcd-servers=http://127.0.0.1:2379 \
        --bind-address="$LB_API_IP" --advertise-address="$LB_API_IP" \
        --secure-port="$LB_API_PORT" --cert-dir="$d/pki" \
        --tls-cert-file="$d/pki/apiserver.crt" \
        --tls-private-key-file="$d/pki/apiserver.key" \
        --client-ca-file="$d/pki/ca.crt" \
        --service-account-issuer=https://kubernetes.default.svc \
        --service-account-key-file="$d/pki/sa.pub" \
        --service-account-signing-key-file="$d/pki/sa.key" \
        --authorization-mode=RBAC --allow-privileged=true \
        --service-cluster-ip-range=10.96.0.0/24,fd00:96::/112 \
        --audit-policy-file="$d/audit-policy.yaml" \
        --audit-log-path="$d/audit.log" --audit-log-maxbackup=0 \
        --profiling=false --v=1
    CP_APISERVER_PID=$BED_BG_PID
    disown "$CP_APISERVER_PID"
}

_cp_ready() {
    [ "$(bed_exec ul curl -s -o /dev/null -w '%{http_code}' \
         --cacert "$(_cp_dir)/pki/ca.crt" "$LB_API/readyz")" = 200 ]
}

_cp_apiserver_wait() {
    if ! bed_wait_until "${1:-90}" _cp_ready; then
        echo "control-plane: kube-apiserver not ready; its log:" >&2
        tail -30 "$(_cp_dir)/kube-apiserver.log" >&2
        return 1
    fi
}

# kc ARGS... : kubectl as the cluster administrator, in the underlay.
kc() {
    bed_exec ul "$LB_K8S_BIN/kubectl" \
        --kubeconfig="$(_cp_dir)/admin.kubeconfig" \
        --cache-dir="$(_cp_dir)/kubectl-cache" "$@"
}

cp_start() {
    local d t0=$EPOCHREALTIME
    d=$(_cp_dir)
    [ -n "${LB_K8S_BIN:-}" ] || LB_K8S_BIN=$(cp_bin_dir) || return 1
    _bed_reg_add "dir $d"
    mkdir -p "$d"
    local ul; ul=${LB_PREFIX}ul
    ip -n "$ul" addr add "$LB_API_IP/${LB_UL_PLEN:-24}" dev lb-ul \
        2>/dev/null || true
    _cp_pki
    # Every request of an agent's ServiceAccount is recorded, so that a
    # test fails on anything RBAC refused it (cp_forbidden).
    cat > "$d/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: ["system:serviceaccount:livebind:livebind-agent"]
- level: None
EOF
    _cp_kubeconfig "$d/admin.kubeconfig" "$LB_API" "$d/pki/ca.crt" \
"    client-certificate: $d/pki/admin.crt
    client-key: $d/pki/admin.key"
    _cp_etcd_start
    _cp_apiserver_start
    _cp_apiserver_wait || return 1
    kc apply -f "$srcdir/deploy/crds.yaml" \
        -f "$srcdir/tests/fixtures/kubevirt/crds.yaml" \
        -f "$srcdir/tests/fixtures/multus/crds.yaml" >/dev/null
    # The Namespace of deploy/daemonset.yaml (its DaemonSet stays
    # unscheduled: no controller manager runs), then the RBAC as shipped.
    kc apply -f "$srcdir/deploy/daemonset.yaml" >/dev/null
    kc apply -f "$srcdir/deploy/rbac.yaml" >/dev/null
    # No controller manager: make the ServiceAccount that its
    # serviceaccount controller would, which pod admission requires.
    kc create serviceaccount default -n default >/dev/null 2>&1 || true
    kc wait --for condition=established --timeout=60s \
        crd/logicalports.livebind.io crd/logicalswitches.livebind.io \
        crd/ipallocations.livebind.io \
        crd/virtualmachineinstances.kubevirt.io \
        crd/virtualmachineinstancemigrations.kubevirt.io \
        crd/virtualmachines.kubevirt.io \
        crd/network-attachment-definitions.k8s.cni.cncf.io >/dev/null
    CP_STARTED=1
    awk -v t0="$t0" -v now="$EPOCHREALTIME" -v v="$(cp_version)" \
        'BEGIN { printf "control-plane: etcd and kube-apiserver %s up, " \
                 "manifests applied, in %.1f s\n", v, now - t0 }'
}

# cp_version : the API server's /version gitVersion, asked anonymously.
cp_version() {
    bed_exec ul curl -sS --cacert "$(_cp_dir)/pki/ca.crt" \
        "$LB_API/version" | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p'
}

# cp_token FILE [DURATION] : a new token of the agents' ServiceAccount.
cp_token() {
    local tok
    tok=$(kc create token livebind-agent -n livebind \
          --duration="${2:-24h}") || return 1
    # Atomically: the agent may read the file at any moment.
    printf '%s' "$tok" > "$1.tmp"
    mv -f "$1.tmp" "$1"
}

# cp_agent_kubeconfig NODE [SERVER [CA]] : NODE's credentials, as a pod of
# the DaemonSet gets them: the CA, a token of its own (a file the agent
# re-reads, as a projected token is rotated); prints the kubeconfig's path.
cp_agent_kubeconfig() {
    local sa; sa=$(bed_node_dir "$1")/serviceaccount
    mkdir -p "$sa"
    cp "$(_cp_dir)/pki/ca.crt" "$sa/ca.crt"
    echo livebind > "$sa/namespace"
    cp_token "$sa/token" || return 1
    _cp_kubeconfig "$sa/kubeconfig" "${2:-$LB_AGENT_API}" \
        "${3:-$sa/ca.crt}" "    tokenFile: $sa/token"
    echo "$sa/kubeconfig"
}

# cp_rotate_tokens NODE... : every token the agents hold becomes invalid at
# once (their ServiceAccount is deleted and made anew, as when an
# administrator revokes it); new tokens are written to the nodes' files.
cp_revoke_tokens() {
    kc delete serviceaccount livebind-agent -n livebind --wait >/dev/null
    kc apply -f "$srcdir/deploy/rbac.yaml" >/dev/null
}
cp_rotate_tokens() {
    local n
    for n in "$@"; do
        cp_token "$(bed_node_dir "$n")/serviceaccount/token" || return 1
    done
}

cp_restart_apiserver() {
    _bed_pid_kill "$CP_APISERVER_PID" kube-apiserver
    bed_wait_until 30 sh -c "! kill -0 $CP_APISERVER_PID 2>/dev/null"
    _cp_apiserver_start
    _cp_apiserver_wait
}

# cp_etcd_revision : etcd's current revision (the resourceVersion of the
# newest write), through etcd's gRPC gateway.
cp_etcd_revision() {
    bed_exec ul curl -sS -X POST http://127.0.0.1:2379/v3/kv/range \
        -d '{"key":"AA=="}' |
        sed -n 's/.*"revision": *"\([0-9]*\)".*/\1/p'
}

# cp_etcd_compact : drops etcd's history up to now, as kube-apiserver's own
# compactor does every five minutes.
cp_etcd_compact() {
    local rev; rev=$(cp_etcd_revision)
    bed_exec ul curl -sS -X POST http://127.0.0.1:2379/v3/kv/compaction \
        -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null
}

# cp_forbidden : the audit records of agent requests that RBAC refused.
cp_forbidden() {
    grep '"code":403' "$(_cp_dir)/audit.log" 2>/dev/null || true
}

# cp_no_forbidden : fails (printing them) if RBAC refused any agent request.
cp_no_forbidden() {
    local bad; bad=$(cp_forbidden)
    [ -z "$bad" ] || { echo "$bad" | head -5; return 1; }
}

# cp_host_kubeconfig : a kubeconfig for a kubectl in the caller's own
# namespace (the sandbox's --keep): a forwarder from a free loopback port
# to the API server in the underlay (its pid in the bed's registry, so
# bed_down stops it), the administrator's credentials; prints its path.
cp_host_kubeconfig() {
    local d; d=$(_cp_dir)
    rm -f "$d/forward.port"
    setsid python3 "$srcdir/tests/system/ns-forward.py" 0 "${LB_PREFIX}ul" \
        "$LB_API_IP" "$LB_API_PORT" "$d/forward.port" \
        > "$d/forward.log" 2>&1 < /dev/null &
    _bed_reg_add "pid $! python3"
    bed_wait_until 10 test -s "$d/forward.port" || return 1
    _cp_kubeconfig "$d/kubeconfig" \
        "https://127.0.0.1:$(cat "$d/forward.port")" "$d/pki/ca.crt" \
"    client-certificate: $d/pki/admin.crt
    client-key: $d/pki/admin.key"
    echo "$d/kubeconfig"
}

# cp_proxy_start [ARGS...] : the fault-injecting proxy (tests/fault-proxy)
# in front of kube-apiserver, at $LB_PROXY (same address, next port; the
# API server's certificate covers it).  Faults: proxy_fault JSON;
# proxy_reset; proxy_stats.  Only faults the real server cannot make on
# demand go through it: cut streams, held events, 500, 429, slow answers.
LB_PROXY_PORT=${LB_PROXY_PORT:-$((LB_API_PORT + 1))}
LB_PROXY=https://$LB_API_IP:$LB_PROXY_PORT
_CP_PROXY_CONTROL=http://127.0.0.1:$((LB_PROXY_PORT + 1))
cp_proxy_start() {
    local d; d=$(_cp_dir)
    bed_bg ul "$d/fault-proxy.log" "$LB_K8S_BIN/fault-proxy" \
        -listen "$LB_API_IP:$LB_PROXY_PORT" \
        -cert "$d/pki/apiserver.crt" -key "$d/pki/apiserver.key" \
        -upstream "$LB_API" -ca "$d/pki/ca.crt" \
        -control "${_CP_PROXY_CONTROL#http://}" "$@"
    CP_PROXY_PID=$BED_BG_PID
    disown "$CP_PROXY_PID"
    bed_wait_until 10 bed_exec ul curl -sf -o /dev/null \
        "$_CP_PROXY_CONTROL/stats"
}
proxy_fault() {  # JSON
    bed_exec ul curl -sSf -X POST --data-binary "$1" \
        "$_CP_PROXY_CONTROL/faults" >/dev/null
}
proxy_reset() {
    bed_exec ul curl -sSf -X POST "$_CP_PROXY_CONTROL/reset" >/dev/null
}
proxy_stats() {
    bed_exec ul curl -sSf "$_CP_PROXY_CONTROL/stats"
}

# cp_admin_token FILE : a token of a cluster-admin ServiceAccount, for a
# client that cannot use the administrator's certificate (one behind the
# fault proxy, where TLS ends).
cp_admin_token() {
    kc create serviceaccount test-admin -n kube-system >/dev/null 2>&1 ||
        true
    kc create clusterrolebinding test-admin --clusterrole=cluster-admin \
        --serviceaccount=kube-system:test-admin >/dev/null 2>&1 || true
    local tok
    tok=$(kc create token test-admin -n kube-system --duration=24h) ||
        return 1
    printf '%s' "$tok" > "$1"
}

# cp_kubeconfig FILE SERVER TOKEN-FILE : a kubeconfig with a token file.
cp_kubeconfig() {
    _cp_kubeconfig "$1" "$2" "$(_cp_dir)/pki/ca.crt" "    tokenFile: $3"
}
