# k8s.sh - helpers for system tests that run livebind-agent against the fake
# Kubernetes API server (tests/fake-apiserver, a test double).  Source after
# bed.sh and agent.sh.
#
# The API server runs in the underlay namespace, on the underlay bridge, so
# that every node reaches it the way real nodes reach theirs.

LB_API_IP=${LB_API_IP:-${LB_UL_NET:-172.31.0}.254}
LB_API_PORT=${LB_API_PORT:-6443}
LB_API=http://$LB_API_IP:$LB_API_PORT

# fake_api_start [ARGS...] : start the fake API server.
fake_api_start() {
    local ul; ul=${LB_PREFIX}ul
    ip -n "$ul" addr add "$LB_API_IP/${LB_UL_PLEN:-24}" dev lb-ul 2>/dev/null \
        || true
    rm -f "$LB_BED_DIR/api.port"
    bed_bg ul "$LB_BED_DIR/fake-api.log" python3 \
        "$srcdir/tests/fake-apiserver/fake_apiserver.py" \
        --listen "$LB_API_IP:$LB_API_PORT" --port-file "$LB_BED_DIR/api.port" \
        --bookmark-interval 1 "$@"
    FAKE_API_PID=$BED_BG_PID
    bed_wait_until 10 test -s "$LB_BED_DIR/api.port"
}

# kapi METHOD PATH [BODY [CONTENT-TYPE]] : one API request; prints the body.
kapi() {
    local method=$1 path=$2 body=${3-} ctype=${4:-application/json}
    local args=(-sS -X "$method" -H "Content-Type: $ctype")
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

# k8s_pod NS NAME NODE [EXTRA-METADATA-JSON] : a running pod object.
k8s_pod() {
    local extra=${4:+,$4}
    kapi_ok POST "/api/v1/namespaces/$1/pods" \
      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
        \"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\"$extra},
        \"spec\":{\"nodeName\":\"$3\"},\"status\":{\"phase\":\"Running\"}}"
}

# k8s_port NS NAME POD NODE KEY MAC IP : a pod's LogicalPort, owned by POD.
k8s_port() {
    local uid
    uid=$(kapi GET "/api/v1/namespaces/$1/pods/$3" |
          sed -n 's/.*"uid": *"\([^"]*\)".*/\1/p' | head -1)
    kapi_ok POST "/apis/livebind.io/v1alpha1/namespaces/$1/logicalports" \
      "{\"apiVersion\":\"livebind.io/v1alpha1\",\"kind\":\"LogicalPort\",
        \"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\"},
        \"spec\":{\"switch\":\"pods\",\"tunnelKey\":$5,\"mac\":\"$6\",
                  \"ips\":[\"$7\"],\"pod\":\"$3\"},
        \"status\":{\"activeOwner\":{\"pod\":\"$3\",\"podUID\":\"$uid\",
                                     \"node\":\"$4\"}}}"
}

k8s_delete() {  # PATH
    kapi_ok DELETE "$1" >/dev/null
}

fake_api_fault() {  # JSON
    bed_exec ul curl -sS -X POST --data-binary "$1" "$LB_API/fake/faults"
}

# agent_k8s_start NODE [ARGS...] : an agent in Kubernetes mode.
agent_k8s_start() {
    local node=$1; shift
    agent_start "$node" --k8s-server="$LB_API" \
        --cni-socket="$(bed_node_dir "$node")/cni/cni.sock" "$@"
}

_agent_synced() {
    ! agent_ctl "$1" k8s 2>/dev/null | grep -q 'not synced'
}

agent_wait_synced() {  # NODE
    bed_wait_until "${2:-15}" _agent_synced "$1"
}

# pod_uid NS NAME : the pod object's UID.
pod_uid() {
    kapi GET "/api/v1/namespaces/$1/pods/$2" |
        sed -n 's/.*"uid": *"\([^"]*\)".*/\1/p' | head -1
}

# cni NODE COMMAND POD [NS] : run the livebind CNI plugin exactly as a
# runtime does (environment, configuration on stdin) for pod NS/POD on
# NODE, whose netns is $LB_PREFIX$POD.  Prints the plugin's output.
# $CNI_SOCKET and $CNI_TIMEOUT_MS override the agent's socket and the
# plugin's timeout.
cni() {
    local node=$1 cmd=$2 pod=$3 ns=${4:-default}
    local d; d=$(bed_node_dir "$node")
    local uid=${CNI_POD_UID:-}
    [ -n "$uid" ] || uid=$(pod_uid "$ns" "$pod")
    printf '{"cniVersion":"1.1.0","name":"livebind","type":"livebind",
             "agentSocket":"%s","timeoutMs":%d}' \
        "${CNI_SOCKET:-$d/cni/cni.sock}" "${CNI_TIMEOUT_MS:-20000}" |
    env -i PATH="$PATH" CNI_COMMAND="$cmd" CNI_CONTAINERID="cid-$pod" \
        CNI_NETNS="/var/run/netns/${LB_PREFIX}$pod" CNI_IFNAME=eth0 \
        CNI_PATH="$builddir/cni-plugin" \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=$pod;K8S_POD_UID=$uid;K8S_POD_INFRA_CONTAINER_ID=cid-$pod" \
        "$builddir/cni-plugin/livebind"
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
# $LB_BED_DIR/add.POD.
add_pod() {
    k8s_pod default "$2" "$1" "${3-}" >/dev/null
    pod_netns "$2"
    cni "$1" ADD "$2" > "$LB_BED_DIR/add.$2"
}

# ip_of POD, mac_of POD : the address and MAC its ADD returned.
ip_of() { result_ip < "$LB_BED_DIR/add.$1"; }
mac_of() { result_mac < "$LB_BED_DIR/add.$1"; }

# key_of POD : its logical port's key, in a switch with tunnel key 1 and a
# /16 subnet (as the tests use): (1 << 24) | the address's offset.
key_of() {
    echo $(( (1 << 24) | $(ip_of "$1" | awk -F. '{print $3 * 256 + $4}') ))
}
