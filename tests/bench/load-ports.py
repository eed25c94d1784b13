#!/usr/bin/env python3
# load-ports.py API PKI N SWITCH FIRST_IP [PREFIX] : N pods and their
# LogicalPorts in switch SWITCH (addresses FIRST_IP, FIRST_IP + 1, ...),
# bound to node1, node2, node3 in turn, written through kube-apiserver as
# the components write them: each pod created as scheduled, then Running
# through its status; each LogicalPort created, then its owner through its
# status.  Several connections at once, as a cluster's kubelets and agents
# would.  Pods and ports are named PREFIX0, PREFIX1, ... ("pod" unless
# given).  Used by bench-k8s.sh and bench-migration-scale.sh.
import concurrent.futures
import http.client
import ipaddress
import json
import ssl
import sys
import threading
import urllib.parse

api, pki = urllib.parse.urlparse(sys.argv[1]), sys.argv[2]
n, switch = int(sys.argv[3]), sys.argv[4]
first = int(ipaddress.IPv4Address(sys.argv[5]))
prefix = sys.argv[6] if len(sys.argv) > 6 else "pod"
ctx = ssl.create_default_context(cafile=pki + "/ca.crt")
ctx.load_cert_chain(pki + "/admin.crt", pki + "/admin.key")
local = threading.local()


def req(method, path, body, ctype="application/json"):
    c = getattr(local, "c", None)
    if c is None:
        c = local.c = http.client.HTTPSConnection(api.hostname, api.port,
                                                  context=ctx)
    c.request(method, path, json.dumps(body), {"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data)


def one(i):
    ip = str(ipaddress.IPv4Address(first + i))
    node, name = "node%d" % (1 + i % 3), "%s%d" % (prefix, i)
    pods = "/api/v1/namespaces/default/pods"
    ports = "/apis/livebind.io/v1alpha1/namespaces/default/logicalports"
    pod = req("POST", pods, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "containers": [
            {"name": "compute", "image": "livebind.test/pause"}]}})
    req("PATCH", pods + "/" + name + "/status",
        {"status": {"phase": "Running", "podIP": ip}},
        "application/merge-patch+json")
    req("POST", ports, {
        "apiVersion": "livebind.io/v1alpha1", "kind": "LogicalPort",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"switch": switch, "ips": [ip], "pod": name}})
    req("PATCH", ports + "/" + name + "/status",
        {"status": {"activeOwner": {"pod": name,
                                    "podUID": pod["metadata"]["uid"],
                                    "node": node}}},
        "application/merge-patch+json")


with concurrent.futures.ThreadPoolExecutor(8) as ex:
    list(ex.map(one, range(n)))
