# multus.sh - pods with several NICs, for system tests on the bed's real
# control plane: NetworkAttachmentDefinitions (k8s.cni.cncf.io/v1, the CRD
# control-plane.sh installs) as real objects, and Multus's delegation.
# Source after cluster.sh.
#
# Multus runs the cluster network's plugin on eth0, then, for each element
# of the pod's k8s.v1.cni.cncf.io/networks in order, the plugin of that
# NetworkAttachmentDefinition's spec.config, with the same container ID,
# netns and K8S_POD_* arguments, on the interface the element names, else
# "net<N>" (N its position, from 1); DEL in the reverse order.  The real
# thin plugin (github.com/k8snetworkplumbingwg/multus-cni, cmd/multus) is
# not to be had here: the Go module proxy this machine reaches answers 403
# for its module.  multus_cni does its delegation the same way, through
# libcni (cni-runtime) with each NAD's configuration as read from the API
# server, so that the livebind plugin runs exactly as Multus's delegate.
#
#   nad_create NAME SWITCH         a NAD for livebind on LogicalSwitch SWITCH
#   multus_add_pod NODE POD META   the pod object, its netns, every NIC's ADD
#   multus_cni NODE CMD POD        ADD/DEL of every NIC (eth0 first for ADD)
#   nic_result POD IFNAME          the ADD result of a NIC (eth0: add.POD)

# nad_create NAME SWITCH : NetworkAttachmentDefinition NAME in "default",
# whose configuration is the livebind plugin's on LogicalSwitch SWITCH.
nad_create() {
    local conf="{\\\"cniVersion\\\":\\\"1.1.0\\\",\\\"name\\\":\\\"$1\\\",\\\"type\\\":\\\"livebind\\\",\\\"logicalSwitch\\\":\\\"$2\\\"}"
    kapi_ok POST \
        /apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions \
        "{\"apiVersion\":\"k8s.cni.cncf.io/v1\",
          \"kind\":\"NetworkAttachmentDefinition\",
          \"metadata\":{\"name\":\"$1\",\"namespace\":\"default\"},
          \"spec\":{\"config\":\"$conf\"}}" >/dev/null
}

# _multus_delegates POD : "NAD-NAMESPACE NAD-NAME IFNAME" for each secondary
# network of POD, as Multus reads its annotation (either form).
_multus_delegates() {
    kapi GET "/api/v1/namespaces/default/pods/$1" | python3 -c '
import json, sys
pod = json.load(sys.stdin)
ns = pod["metadata"]["namespace"]
ann = pod["metadata"].get("annotations", {}).get(
    "k8s.v1.cni.cncf.io/networks", "").strip()
if ann.startswith("["):
    sel = json.loads(ann)
else:
    sel = []
    for tok in filter(None, (t.strip() for t in ann.split(","))):
        name, _, ifname = tok.partition("@")
        n, _, m = name.partition("/")
        sel.append({"namespace": n, "name": m} if m else {"name": n})
        if ifname:
            sel[-1]["interface"] = ifname
for i, s in enumerate(sel, 1):
    print(s.get("namespace") or ns, s["name"], s.get("interface") or "net%d" % i)
'
}

# _multus_conf_dir NODE NS NAME : a configuration directory holding NAD
# NS/NAME's spec.config, as Multus hands it to the delegate; the bed's
# agents listen on per-node sockets, so its "agentSocket" is NODE's (a
# node's default socket in a cluster).  Prints the directory.
_multus_conf_dir() {
    local d; d=$(bed_node_dir "$1")/cni/multus.d/$2-$3
    mkdir -p "$d"
    kapi GET "/apis/k8s.cni.cncf.io/v1/namespaces/$2/network-attachment-definitions/$3" |
        python3 -c '
import json, sys
conf = json.loads(json.load(sys.stdin)["spec"]["config"])
conf["agentSocket"] = sys.argv[1]
json.dump(conf, open(sys.argv[2], "w"))' \
            "$(bed_node_dir "$1")/cni/cni.sock" "$d/$3.conf" || return 1
    echo "$d"
}

# _multus_delegate NODE CMD POD NS NAME IFNAME : one delegate's command.
_multus_delegate() {
    local node=$1 cmd=$2 pod=$3 ns=$4 nad=$5 ifn=$6 d dir uid
    d=$(bed_node_dir "$node")
    dir=$(_multus_conf_dir "$node" "$ns" "$nad") || return 1
    uid=${CNI_POD_UID:-$(pod_uid default "$pod")}
    bed_exec "$node" "$LB_K8S_BIN/cni-runtime" -conf-dir "$dir" -net "$nad" \
        -cache-dir "$d/cni/cache" -path "$d/cni/bin:$LB_K8S_BIN" \
        -container-id "cid-$pod" \
        -netns "/var/run/netns/${LB_PREFIX}$pod" -ifname "$ifn" \
        -args "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$pod;K8S_POD_UID=$uid;K8S_POD_INFRA_CONTAINER_ID=cid-$pod" \
        "${cmd,,}"
}

# multus_cni NODE CMD POD : CMD (ADD, DEL, CHECK) for every NIC of POD.  An
# ADD's results go to $LB_BED_DIR/add.POD (eth0) and add.POD.IFNAME.
multus_cni() {
    local node=$1 cmd=$2 pod=$3 ns nad ifn lines
    lines=$(_multus_delegates "$pod") || return 1
    if [ "$cmd" = ADD ]; then
        cni "$node" ADD "$pod" > "$LB_BED_DIR/add.$pod" || return 1
        while read -r ns nad ifn; do
            [ -n "$ifn" ] || continue
            _multus_delegate "$node" ADD "$pod" "$ns" "$nad" "$ifn" \
                > "$LB_BED_DIR/add.$pod.$ifn" || return 1
        done <<<"$lines"
    else
        while read -r ns nad ifn; do
            [ -n "$ifn" ] || continue
            _multus_delegate "$node" "$cmd" "$pod" "$ns" "$nad" "$ifn" \
                >/dev/null || return 1
        done < <(tac <<<"$lines")
        cni "$node" "$cmd" "$pod" >/dev/null
    fi
}

# multus_add_pod NODE POD [METADATA-JSON] : like add_pod, with every NIC.
multus_add_pod() {
    k8s_pod default "$2" "$1" "${3-}" >/dev/null
    pod_netns "$2"
    multus_cni "$1" ADD "$2" || return 1
    local ip; ip=$(ip_of "$2")
    kapi_status "/api/v1/namespaces/default/pods/$2" \
        "{\"status\":{\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}]}}" \
        >/dev/null
}

# nic_ip POD IFNAME, nic_mac POD IFNAME : from that NIC's ADD result.
nic_ip() { result_ip < "$LB_BED_DIR/add.$1.$2"; }
nic_mac() { result_mac < "$LB_BED_DIR/add.$1.$2"; }

# vmi_create_nics VM NODE NAD... : like vmi_create, a VM with the pod
# network and a bridge-bound NIC on each NAD (spec.networks[].multus); its
# pods' metadata is launcher_meta_nics's.  Prints its UID.
vmi_create_nics() {
    local vm=$1 node=$2 ifs='{"name":"default","bridge":{}}'
    local nets='{"name":"default","pod":{}}' n
    shift 2
    for n in "$@"; do
        ifs="$ifs,{\"name\":\"$n\",\"bridge\":{}}"
        nets="$nets,{\"name\":\"$n\",\"multus\":{\"networkName\":\"$n\"}}"
    done
    kapi_ok POST "$KV/virtualmachineinstances" \
      "{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachineInstance\",
        \"metadata\":{\"name\":\"$vm\",\"namespace\":\"default\",
          \"annotations\":{\"kubevirt.io/allow-pod-bridge-network-live-migration\":\"true\"}},
        \"spec\":{\"domain\":{\"devices\":{\"interfaces\":[$ifs]}},
                  \"networks\":[$nets]}}" |
        json_field uid
    kapi_status "$KV/virtualmachineinstances/$vm" \
        "{\"status\":{\"nodeName\":\"$node\",\"phase\":\"Running\"}}" \
        >/dev/null
}

# launcher_meta_nics "NAD..." VM VMI_UID [VMIM_UID VMIM_NAME] :
# launcher_meta's, with k8s.v1.cni.cncf.io/networks as virt-controller
# writes it for the VMI's Multus networks (net1, net2, ... in order).
launcher_meta_nics() {
    local nads=$1 sel="" i=0 n
    shift
    for n in $nads; do
        i=$((i + 1))
        sel="$sel${sel:+,}{\\\"interface\\\":\\\"net$i\\\",\\\"name\\\":\\\"$n\\\",\\\"namespace\\\":\\\"default\\\"}"
    done
    local meta; meta=$(launcher_meta "$@")
    local key='"annotations":{'
    echo "${meta%%"$key"*}$key\"k8s.v1.cni.cncf.io/networks\":\"[$sel]\",${meta#*"$key"}"
}
