# k8s.sh - helpers for system tests that run livebind-agent against the
# bed's real Kubernetes control plane (control-plane.sh: etcd and
# kube-apiserver in the underlay namespace, where every node reaches it the
# way real nodes reach theirs).  Source after bed.sh and agent.sh.
#
# Objects are written the way the real components write them: the
# administrator (system:masters) creates them, pods carry spec.nodeName as
# after scheduling, and statuses go through the status subresource (the
# API server drops a status sent with a create).

. "$srcdir/tests/system/control-plane.sh"

# k8s_api_start : the control plane (cp_start), or skip (exit 77) when it
# cannot be had here.
k8s_api_start() {
    cp_require
    cp_start
}

# kapi METHOD PATH [BODY [CONTENT-TYPE]] : one API request as the
# administrator; prints the body.
kapi() {
    local method=$1 path=$2 body=${3-} ctype=${4:-application/json}
    local pki=$LB_BED_DIR/k8s/pki
    local args=(-sS -X "$method" -H "Content-Type: $ctype"
                --cacert "$pki/ca.crt" --cert "$pki/admin.crt"
                --key "$pki/admin.key")
    [ -z "$body" ] || args+=(--data-binary "$body")
    bed_exec ul curl "${args[@]}" "$LB_API$path"
}

# kapi_ok METHOD PATH [BODY [CONTENT-TYPE]] : like kapi, fails on >= 400.
kapi_ok() {
    local out
    out=$(kapi "$@") || return 1
    if echo "$out" | grep -q '"kind": *"Status"' \
       && echo "$out" | grep -q '"status": *"Failure"'; then
        echo "$out" >&2
        return 1
    fi
    echo "$out"
}

# kapi_status PATH JSON : a merge patch of PATH's status subresource.
kapi_status() {
    kapi_ok PATCH "$1/status" "$2" application/merge-patch+json
}

# k8s_namespace NAME : a namespace with its "default" ServiceAccount (made
# by the controller manager in a cluster; none runs here).
k8s_namespace() {
    kc create namespace "$1" >/dev/null 2>&1 || true
    kc create serviceaccount default -n "$1" >/dev/null 2>&1 || true
}

k8s_node() {  # NAME IP
    kapi_ok POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",
      \"metadata\":{\"name\":\"$1\"},
      \"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$2\"}]}}"
}

# k8s_switch NAME KEY SUBNET GATEWAY [PREFIX6 [GATEWAY6]] : an empty
# SUBNET (or GATEWAY...) is left out: IPv6-only or without a gateway.
k8s_switch() {
    local spec="\"tunnelKey\":$2" f v i=3
    for f in subnet gateway ipv6Prefix gateway6; do
        eval "v=\${$i-}"
        [ -z "$v" ] || spec="$spec,\"$f\":\"$v\""
        i=$((i + 1))
    done
    kapi_ok POST /apis/livebind.io/v1alpha1/logicalswitches \
      "{\"apiVersion\":\"livebind.io/v1alpha1\",\"kind\":\"LogicalSwitch\",
        \"metadata\":{\"name\":\"$1\"},\"spec\":{$spec,\"mtu\":1400}}"
}

# k8s_pod NS NAME NODE [EXTRA-METADATA-JSON] : a running pod object: as
# scheduled (spec.nodeName), then Running as the kubelet reports it.
k8s_pod() {
    local extra=${4:+,$4}
    kapi_ok POST "/api/v1/namespaces/$1/pods" \
      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
        \"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\"$extra},
        \"spec\":{\"nodeName\":\"$3\",
                  \"containers\":[{\"name\":\"compute\",\"image\":\"livebind.test/pause\"}]}}" \
        >/dev/null || return 1
    kapi_status "/api/v1/namespaces/$1/pods/$2" \
        '{"status":{"phase":"Running"}}'
}

# k8s_port NS NAME POD NODE KEY MAC IP : a pod's LogicalPort, owned by POD
# (the spec, then the owner in the status, as the agent writes them).
k8s_port() {
    local uid base=/apis/livebind.io/v1alpha1/namespaces/$1/logicalports
    uid=$(pod_uid "$1" "$3")
    kapi_ok POST "$base" \
      "{\"apiVersion\":\"livebind.io/v1alpha1\",\"kind\":\"LogicalPort\",
        \"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\"},
        \"spec\":{\"switch\":\"pods\",\"tunnelKey\":$5,\"mac\":\"$6\",
                  \"ips\":[\"$7\"],\"pod\":\"$3\"}}" >/dev/null || return 1
    kapi_status "$base/$2" \
        "{\"status\":{\"activeOwner\":{\"pod\":\"$3\",\"podUID\":\"$uid\",
                                     \"node\":\"$4\"}}}"
}

# k8s_delete PATH : deletes the object.  A pod on a node is deleted as a
# kubelet sees it go: gracefully first (deletionTimestamp set, what the
# agents watch), then for good once its containers are gone (grace 0, the
# kubelet's own final delete).
k8s_delete() {
    kapi_ok DELETE "$1" >/dev/null || return 1
    case $1 in
        */pods/*) kapi DELETE "$1?gracePeriodSeconds=0" >/dev/null ;;
    esac
}

# agent_k8s_start NODE [ARGS...] : an agent in Kubernetes mode, with the
# credentials a pod of deploy/daemonset.yaml has (cp_agent_kubeconfig).
agent_k8s_start() {
    local node=$1; shift
    local kcfg; kcfg=$(bed_node_dir "$node")/serviceaccount/kubeconfig
    [ -f "$kcfg" ] || kcfg=$(cp_agent_kubeconfig "$node") || return 1
    agent_start "$node" --kubeconfig="$kcfg" \
        --cni-socket="$(bed_node_dir "$node")/cni/cni.sock" "$@"
}

_agent_synced() {
    ! agent_ctl "$1" k8s 2>/dev/null | grep -q 'not synced'
}

agent_wait_synced() {  # NODE
    bed_wait_until "${2:-15}" _agent_synced "$1"
}

# api_poke COLLECTION... : writes an annotation on the first object of each
# collection (an empty one is left out) and prints "COLLECTION RV" for
# each, RV the resourceVersion of that write.  An agent whose watch of
# COLLECTION is at RV or past it has seen everything written before.
api_poke() {
    local c obj path rv
    for c in "$@"; do
        obj=$(kapi_ok GET "$c?limit=1" | python3 -c '
import json, sys
items = json.load(sys.stdin).get("items") or []
if items:
    m = items[0]["metadata"]
    print(" ".join(filter(None, (m.get("namespace"), m["name"]))))') || return 1
        [ -n "$obj" ] || continue
        if [ "${obj% *}" != "$obj" ]; then  # namespaced: NS NAME
            path="${c%/*}/namespaces/${obj% *}/${c##*/}/${obj#* }"
        else
            path="$c/$obj"
        fi
        rv=$(kapi_ok PATCH "$path" \
            "{\"metadata\":{\"annotations\":{\"test/poke\":\"$RANDOM\"}}}" \
            application/merge-patch+json | python3 -c '
import json, sys
print(json.load(sys.stdin)["metadata"]["resourceVersion"])') || return 1
        echo "$c $rv"
    done
}

# agent_caught_up NODE POKES : each of NODE's agent's watches is at or past
# the resourceVersion api_poke printed (POKES) for its collection: it has
# seen every change made before the poke (a dead connection to an API
# server that restarted can hide them until TCP notices).
agent_caught_up() {
    agent_ctl "$1" k8s | awk -v pokes="$2" '
        BEGIN {
            n = split(pokes, p, /[ \n]+/)
            for (i = 1; i < n; i += 2) { want[p[i]] = p[i + 1] }
        }
        /^watch / { path = $2 }
        /^  resource version: [0-9]+$/ { have[path] = $3 }
        END {
            for (c in want) {
                if (!(c in have) || have[c] + 0 < want[c] + 0) {
                    printf "%s: at %s, not yet at %s\n", c,
                           (c in have) ? have[c] : "(none)", want[c]
                    bad = 1
                }
            }
            exit bad
        }'
}

# agents_caught_up [SECONDS] : api_poke on the collections the agents watch
# (as node1's lists them), then every node's agent caught up within
# SECONDS (30).
agents_caught_up() {
    local pokes n watches
    watches=$(agent_ctl node1 k8s | awk '/^watch / { print $2 }')
    [ -n "$watches" ] || return 1
    pokes=$(api_poke $watches) || return 1
    for n in node1 node2 node3; do
        bed_wait_until "${1:-30}" agent_caught_up "$n" "$pokes" >/dev/null ||
            { agent_caught_up "$n" "$pokes"; return 1; }
    done
}

# pod_uid NS NAME : the pod object's UID.
pod_uid() {
    kapi GET "/api/v1/namespaces/$1/pods/$2" |
        sed -n 's/.*"uid": *"\([^"]*\)".*/\1/p' | head -1
}

# cni_conf_dir NODE : NODE's CNI configuration directory (its
# /etc/cni/net.d), as the DaemonSet's init container makes it: the build's
# livebind-install-cni puts the plugin in the node's cni/bin and the
# conflist here, with the node's own agent socket.  With $CNI_SOCKET or
# $CNI_TIMEOUT_MS set, a directory of its own whose conflist has that
# socket or that "timeoutMs".
cni_conf_dir() {
    local n d sock
    n=$(bed_node_dir "$1")
    d=$n/cni/net.d
    sock=${CNI_SOCKET:-$n/cni/cni.sock}
    if [ -n "${CNI_SOCKET:-}${CNI_TIMEOUT_MS:-}" ]; then
        d=$d-$(echo "$sock ${CNI_TIMEOUT_MS:-}" | cksum | cut -d' ' -f1)
    fi
    if [ ! -f "$d/10-livebind.conflist" ]; then
        mkdir -p "$d" "$n/cni/bin"
        "$builddir/utilities/livebind-install-cni" \
            --plugin="$builddir/cni-plugin/livebind" --bin-dir="$n/cni/bin" \
            --conf-dir="$d" --run-dir="$n/cni" --socket="$sock" >/dev/null
        if [ -n "${CNI_TIMEOUT_MS:-}" ]; then
            sed -i "s|\"type\":\"livebind\",|&\"timeoutMs\":$CNI_TIMEOUT_MS,|" \
                "$d/10-livebind.conflist"
        fi
    fi
    echo "$d"
}

# cni NODE COMMAND POD [NS] : a CNI command (ADD, CHECK, DEL; STATUS and GC
# take no pod) for pod NS/POD on NODE, whose netns is $LB_PREFIX$POD (or
# the path $CNI_NETNS_PATH, which need not be a namespace at all), run
# the way a container runtime runs it: through libcni (cni-runtime, built
# by utilities/build-k8s.sh) in the node's network namespace, from the
# node's conflist ($CNI_NET, default "livebind"), with the node's result
# cache (prevResult for CHECK and DEL, the attachments for GC) and the
# arguments the kubelet passes.  Prints the result (ADD) or the plugin's
# error JSON.
cni() {
    local node=$1 cmd=$2 pod=${3-} ns=${4:-default}
    local d; d=$(bed_node_dir "$node")
    local args=()
    if [ -n "$pod" ]; then
        local uid=${CNI_POD_UID:-}
        [ -n "$uid" ] || uid=$(pod_uid "$ns" "$pod")
        args=(-container-id "cid-$pod"
              -netns "${CNI_NETNS_PATH:-/var/run/netns/${LB_PREFIX}$pod}"
              -ifname eth0
              -args "IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$pod;K8S_POD_UID=$uid;K8S_POD_INFRA_CONTAINER_ID=cid-$pod")
    fi
    bed_exec "$node" "$LB_K8S_BIN/cni-runtime" \
        -conf-dir "$(cni_conf_dir "$node")" -net "${CNI_NET:-livebind}" \
        -cache-dir "$d/cni/cache" -path "$d/cni/bin:$LB_K8S_BIN" \
        "${args[@]}" ${CNI_GC_DROP:+-drop "$CNI_GC_DROP"} "${cmd,,}"
}

# pod_netns POD : create the (empty) network namespace of POD, the way a
# runtime does before ADD; bed_down removes it.
pod_netns() {
    _bed_ns_add "${LB_PREFIX}$1"
}

# result_ip JSON : the first IP address (without prefix) of a CNI result.
result_ip() {
    python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])'
}
result_mac() {
    python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["mac"])'
}

# add_pod NODE POD [METADATA-JSON] : a pod the way a cluster makes one: the
# pod object, its network namespace, then the CNI ADD, whose result goes to
# $LB_BED_DIR/add.POD, and the pod's IP in its status.
add_pod() {
    k8s_pod default "$2" "$1" "${3-}" >/dev/null
    pod_netns "$2"
    cni "$1" ADD "$2" > "$LB_BED_DIR/add.$2" || return 1
    # The kubelet reports the address the runtime's ADD returned.
    local ip; ip=$(ip_of "$2")
    kapi_status "/api/v1/namespaces/default/pods/$2" \
        "{\"status\":{\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}]}}" \
        >/dev/null
}

# ip_of POD, mac_of POD : the address and MAC its ADD returned; ip6_of
# POD: its IPv6 address (on a switch with a prefix).
ip_of() { result_ip < "$LB_BED_DIR/add.$1"; }
ip6_of() {
    python3 -c 'import json, sys
print([i["address"] for i in json.load(sys.stdin)["ips"]
       if ":" in i["address"]][0].split("/")[0])' < "$LB_BED_DIR/add.$1"
}
mac_of() { result_mac < "$LB_BED_DIR/add.$1"; }
# ip6_of POD : the (first) IPv6 address its ADD returned.
ip6_of() {
    python3 -c 'import json,sys
for ip in json.load(sys.stdin)["ips"]:
    if ":" in ip["address"]:
        print(ip["address"].split("/")[0]); break' < "$LB_BED_DIR/add.$1"
}

# key_of POD : its logical port's key, in a switch with tunnel key 1 and a
# /16 subnet (as the tests use): (1 << 24) | the address's offset.
key_of() {
    echo $(( (1 << 24) | $(ip_of "$1" | awk -F. '{print $3 * 256 + $4}') ))
}
