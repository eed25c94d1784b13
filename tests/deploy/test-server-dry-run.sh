#!/bin/sh
# Every manifest in deploy/, as a real API server takes it: `kubectl apply
# --dry-run=server` of each file (admission, the CRDs' structural schemas
# and CEL rules, RBAC objects, the DaemonSet's priority class), beyond what
# tests/deploy/test_manifests.py checks without a server.
#
# Usage: tests/deploy/test-server-dry-run.sh [KUBECONFIG]
#
# KUBECONFIG (or $KUBECONFIG) is a cluster administrator's on a scratch
# control plane, such as the one tests/system/control-plane.sh starts: a dry
# run of an object whose kind a CRD defines, or whose namespace a manifest
# creates, needs them to exist, so deploy/crds.yaml and the namespace
# livebind are applied for real first when the server lacks them.
# sample-vm.yaml needs KubeVirt's VirtualMachine CRD: LB_KUBEVIRT_CRDS=FILE
# applies FILE first; without the CRD that file is skipped (and said so).
#
# Environment: LB_KUBECTL (default: kubectl in $PATH).
# Prints a line per check and "N passed, N failed"; exits 0 if all passed,
# 1 if one failed, 77 (skipped) without a kubeconfig or kubectl.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
kubeconfig=${1:-${KUBECONFIG:-}}
kubectl=${LB_KUBECTL:-kubectl}

if [ -z "$kubeconfig" ] || [ ! -r "$kubeconfig" ]; then
    echo "SKIP: no kubeconfig (argument or \$KUBECONFIG) for a real API" \
         "server"
    exit 77
fi
if ! command -v "$kubectl" >/dev/null 2>&1; then
    echo "SKIP: no kubectl (set LB_KUBECTL)"
    exit 77
fi
kc() { "$kubectl" --kubeconfig="$kubeconfig" "$@"; }

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# dry_run FILE: kubectl apply --dry-run=server of FILE, as a user would.
dry_run() {
    if kc apply --dry-run=server -f "$1" > "$log" 2>&1; then
        n=$(grep -c "(server dry run)" "$log")
        pass "dry-run=server: ${1#"$top"/} ($n objects)"
        # The server's warnings, if any.
        grep -v "(server dry run)" "$log" | sed 's/^/    /'
    else
        fail "dry-run=server: ${1#"$top"/}"
        sed 's/^/    /' "$log"
    fi
}

if ! kc version > "$log" 2>&1; then
    fail "API server answers"
    sed 's/^/    /' "$log"
    echo "$passed passed, $failed failed"
    exit 1
fi
pass "API server answers ($(grep -i '^server' "$log"))"

crds="logicalswitches.livebind.io logicalports.livebind.io
      ipallocations.livebind.io"
# shellcheck disable=SC2086
if ! kc get crd $crds > /dev/null 2>&1; then
    dry_run "$top/deploy/crds.yaml"
    echo "applying deploy/crds.yaml: the default switch's dry run needs it"
    kc apply -f "$top/deploy/crds.yaml" > /dev/null
fi
# shellcheck disable=SC2086
if kc wait --for condition=established --timeout=60s \
       $(for c in $crds; do echo "crd/$c"; done) > "$log" 2>&1; then
    pass "livebind's CRDs established"
else
    fail "livebind's CRDs established"
    sed 's/^/    /' "$log"
fi
if ! kc get namespace livebind > /dev/null 2>&1; then
    echo "creating the namespace livebind: the objects in it need it"
    kc create namespace livebind --save-config > /dev/null
fi
if [ -n "${LB_KUBEVIRT_CRDS:-}" ]; then
    kc apply -f "$LB_KUBEVIRT_CRDS" > /dev/null &&
        kc wait --for condition=established --timeout=60s \
            crd/virtualmachines.kubevirt.io > /dev/null 2>&1
fi

for f in "$top"/deploy/*.yaml; do
    case ${f##*/} in
        sample-vm.yaml)
            if ! kc get crd virtualmachines.kubevirt.io > /dev/null 2>&1
            then
                echo "SKIP: dry-run=server: deploy/sample-vm.yaml (no" \
                     "KubeVirt VirtualMachine CRD; set LB_KUBEVIRT_CRDS)"
                continue
            fi ;;
    esac
    dry_run "$f"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
