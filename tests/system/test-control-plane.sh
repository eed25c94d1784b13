#!/bin/bash
# System test: the bed's Kubernetes control plane is the real one
# (tests/system/control-plane.sh), and the agent talks to it as an
# in-cluster client would.
#   - kube-apiserver answers /version over TLS verified with the run's CA,
#     and a client trusting another CA refuses it;
#   - RBAC as shipped in deploy/rbac.yaml: the agent's ServiceAccount token
#     may list pods, and gets 403 for what the ClusterRole does not grant;
#     tokens of another audience or none at all get 401;
#   - an agent with its own token and the CA syncs every collection, and
#     none of its requests is refused;
#   - an agent trusting the wrong CA does not sync and says why;
#   - revoked tokens: the agent reports 401, and recovers once its token
#     file is rotated.
#
# Exit: 0 pass, 1 fail, 77 skip.
set -eu

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
LB_PREFIX=${LB_PREFIX:-lbcp$$-}
. "$srcdir/tests/system/cluster.sh"
cp_require

bed_up 2
cp_start
PKI=$LB_BED_DIR/k8s/pki

# curl_as TOKEN-FILE ARGS... : curl in the underlay with that token (or
# none for "-"), printing the body then the HTTP status on its own line.
curl_as() {
    local tok=$1; shift
    local auth=()
    [ "$tok" = - ] || auth=(-H "Authorization: Bearer $(cat "$tok")")
    bed_exec ul curl -sS -w '\n%{http_code}\n' "${auth[@]}" "$@"
}
status_is() {  # WANT CMD... : the last line of CMD's output is WANT
    local want=$1 out; shift
    out=$("$@") || true
    echo "$out" | tail -3
    [ "$(echo "$out" | tail -1)" = "$want" ]
}
version_ok() {
    local v; v=$(cp_version)
    echo "gitVersion: $v"
    [[ $v == v1.* ]]
}
check "kube-apiserver answers /version (TLS verified with the run's CA)" \
    version_ok
wrong_ca_refused() {
    local rc=0
    bed_exec ul curl -sS --cacert "$PKI/other-ca.crt" "$LB_API/version" \
        || rc=$?
    # 60: peer certificate cannot be authenticated with the CA certificates.
    echo "curl exit status $rc"
    [ "$rc" = 60 ]
}
check "a client trusting another CA refuses the server" wrong_ca_refused

kcfg1=$(cp_agent_kubeconfig node1)
tok1=$(dirname "$kcfg1")/token
C=(--cacert "$PKI/ca.crt")
check "agent token: list pods cluster-wide (granted) is 200" \
    status_is 200 curl_as "$tok1" "${C[@]}" "$LB_API/api/v1/pods?limit=1"
# Granted, so not 403: 404, as the port does not exist.
check "agent token: patch a LogicalPort's status (granted) is not 403" \
    status_is 404 curl_as "$tok1" "${C[@]}" -X PATCH \
    -H 'Content-Type: application/merge-patch+json' -d '{}' \
    "$LB_API/apis/livebind.io/v1alpha1/namespaces/default/logicalports/x/status"
check "agent token: list secrets (not granted) is 403" \
    status_is 403 curl_as "$tok1" "${C[@]}" "$LB_API/api/v1/secrets"
check "agent token: create a pod (not granted) is 403" \
    status_is 403 curl_as "$tok1" "${C[@]}" -X POST \
    -H 'Content-Type: application/json' \
    -d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i"}]}}' \
    "$LB_API/api/v1/namespaces/default/pods"
check "agent token: update a LogicalSwitch (administrator's) is 403" \
    status_is 403 curl_as "$tok1" "${C[@]}" -X PATCH \
    -H 'Content-Type: application/merge-patch+json' -d '{}' \
    "$LB_API/apis/livebind.io/v1alpha1/logicalswitches/pods"
check "forbidden requests are in the audit log" \
    bash -c "grep -c '\"code\":403' '$LB_BED_DIR/k8s/audit.log'"
check "no token: anonymous list of pods is 403" \
    status_is 403 curl_as - "${C[@]}" "$LB_API/api/v1/pods"
echo forged.token.value > "$LB_BED_DIR/forged"
check "a forged token is 401" \
    status_is 401 curl_as "$LB_BED_DIR/forged" "${C[@]}" "$LB_API/api/v1/pods"
# Every manifest of deploy/ as the real server takes it (dry run).
dry_run() {
    bed_exec ul env LB_KUBECTL="$LB_K8S_BIN/kubectl" \
        KUBECACHEDIR="$LB_BED_DIR/k8s/kubectl-cache" \
        "$srcdir/tests/deploy/test-server-dry-run.sh" \
        "$LB_BED_DIR/k8s/admin.kubeconfig"
}
check "deploy/*.yaml: kubectl apply --dry-run=server accepts them" dry_run
# The audit log must show only what the agents themselves do from here on.
: > "$LB_BED_DIR/k8s/audit.log"

k8s_switch pods 1 10.0.0.0/24 10.0.0.1 >/dev/null
for n in 1 2; do
    k8s_node "node$n" "$(bed_node_ip "$n")" >/dev/null
done
agent_start node1 --kubeconfig="$kcfg1" \
    --cni-socket="$(bed_node_dir node1)/cni/cni.sock"
check "node1: agent with its ServiceAccount token and the CA is synced" \
    agent_wait_synced node1 30
check "node1: tunnel to node2 from the real Node object" \
    bed_wait_until 10 tunnels_up node1 1
k8s_pod default pa node2 >/dev/null
pod_seen() { agent_ctl node1 k8s | grep -A3 'watch /api/v1/pods' |
             grep -q 'objects: 1'; }
check "node1: a pod created by the administrator reaches the agent" \
    bed_wait_until 10 pod_seen

# The wrong CA: TLS refused, the error says so, nothing synced.
kcfg2=$(cp_agent_kubeconfig node2 "$LB_API" "$PKI/other-ca.crt")
agent_start node2 --kubeconfig="$kcfg2" \
    --cni-socket="$(bed_node_dir node2)/cni/cni.sock"
tls_error_shown() {
    agent_ctl node2 k8s | grep -m1 'last error' | tee /dev/stderr |
        grep -q 'TLS: the API server.s certificate is not trusted by the CA in'
}
check "node2 (wrong CA): the agent reports the certificate problem" \
    bed_wait_until 15 tls_error_shown
nothing_synced() { ! agent_ctl node2 k8s | grep ', synced'; }
check "node2 (wrong CA): nothing synced" nothing_synced
agent_stop node2

# Revoked tokens (the ServiceAccount deleted and made anew): 401 for the
# agent, then recovery once its token file holds a new token.
cp_revoke_tokens
k8s_pod default pb node2 >/dev/null
unauthorized_shown() {
    agent_ctl node1 k8s | grep -q 'HTTP 401'
}
agent_ctl node1 k8s >/dev/null
# A running watch is not re-authenticated; the next request is.  Restart
# the API server to make the agent reconnect.
cp_restart_apiserver
check "revoked token: the agent reports 401" \
    bed_wait_until 20 unauthorized_shown
cp_rotate_tokens node1
pods_seen_2() { agent_ctl node1 k8s | grep -A3 'watch /api/v1/pods' |
                grep -q 'objects: 2'; }
check "rotated token: the agent re-reads it, re-syncs, sees the new pod" \
    bed_wait_until 30 pods_seen_2
check "no request of a (valid) agent token was refused by RBAC" \
    cp_no_forbidden

report
