#!/usr/bin/env python3
"""Tests for fake_apiserver.py (the fake Kubernetes API server test double).

Run: python3 tests/fake-apiserver/test_fake_apiserver.py
Servers run in threads on ephemeral ports; one test runs the CLI as a
subprocess.  Watch streams are read from raw sockets so that the chunk
framing itself can be checked.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
import fake_apiserver as fa  # noqa: E402

FIXTURES = "/work/shared/fixtures/kubevirt"
PODS = "/api/v1/namespaces/default/pods"
VMIS = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"
IPALLOCS = "/apis/livebind.io/v1alpha1/ipallocations"
STATUS_KEYS = {"kind", "apiVersion", "metadata", "status", "message", "reason", "code"}


def pod(name, labels=None, node="node-a", phase="Running", ns="default", **meta):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": dict({"name": name, "namespace": ns, "labels": labels or {}}, **meta),
            "spec": {"nodeName": node, "containers": [{"name": "compute"}]},
            "status": {"phase": phase}}


class FakeServer:
    """The server in a thread of this process."""

    def __init__(self, *args):
        cfg = fa.parse_args(["--listen", "127.0.0.1:0", "--bookmark-interval", "0.2",
                             "--seed", "7", *args])
        self.api = fa.FakeAPI(cfg)
        self.httpd = fa.Server(cfg.listen, self.api)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class RawWatch:
    """A watch client on a raw socket that records HTTP chunks as they come."""

    def __init__(self, port, path, headers=""):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n" % (path, headers)).encode())
        self.buf, self.data, self.chunks, self.ended = b"", b"", [], False
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}

    def _fill(self):
        more = self.sock.recv(65536)
        if not more:
            raise EOFError("connection closed")
        self.buf += more

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def body(self):
        return json.loads(self._take(int(self.headers["content-length"])))

    def read_chunk(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        size = int(line, 16)
        payload = self._take(size + 2)[:size]
        if size == 0:
            self.ended = True
        else:
            self.chunks.append(payload)
        return payload

    def next_event(self, timeout=5):
        """The next event, or None when the stream ended cleanly."""
        self.sock.settimeout(timeout)
        while b"\n" not in self.data:
            chunk = b"" if self.ended else self.read_chunk()
            if not chunk:
                return None
            self.data += chunk
        line, self.data = self.data.split(b"\n", 1)
        return json.loads(line)

    def events(self, n, timeout=5):
        return [self.next_event(timeout) for _ in range(n)]

    def close(self):
        self.sock.close()


class Base(unittest.TestCase):
    server_args = ()

    def setUp(self):
        self.srv = FakeServer(*self.server_args)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=5)
        self.watches = []

    def tearDown(self):
        for w in self.watches:
            w.close()
        self.conn.close()
        self.srv.stop()

    def req(self, method, path, body=None, ctype="application/json", headers=None):
        hdrs = dict(headers or {})
        if body is not None:
            hdrs["Content-Type"] = ctype
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        self.assertEqual(resp.getheader("Content-Length"), str(len(data)))
        try:
            data = json.loads(data)
        except ValueError:
            data = data.decode()
        return resp.status, data

    def ok(self, method, path, body=None, ctype="application/json", code=None):
        status, data = self.req(method, path, body, ctype)
        self.assertEqual(status, code or (201 if method == "POST" else 200), data)
        return data

    def assertStatus(self, result, code, reason):
        status, body = result
        self.assertEqual(status, code, body)
        self.assertTrue(STATUS_KEYS <= set(body), body)
        self.assertEqual((body["kind"], body["apiVersion"], body["status"], body["code"], body["reason"]),
                         ("Status", "v1", "Failure", code, reason))
        return body

    def watch(self, path, **kw):
        w = RawWatch(self.srv.port, path, **kw)
        self.watches.append(w)
        return w

    def rv(self, path=PODS):
        return int(self.ok("GET", path)["metadata"]["resourceVersion"])

    def wait_for(self, pred, timeout=3):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.02)
        return pred()


class TestCrud(Base):
    def test_healthz_and_unknown_paths(self):
        self.assertEqual(self.req("GET", "/healthz"), (200, "ok"))
        self.assertStatus(self.req("GET", "/api/v1/namespaces/default/secrets"), 404, "NotFound")
        self.assertStatus(self.req("GET", "/nope"), 404, "NotFound")
        self.assertStatus(self.req("GET", "/api/v1/nodes/n1/nonsense"), 404, "NotFound")
        self.assertStatus(self.req("GET", "/api/v1/namespaces/x/nodes"), 404, "NotFound")
        self.assertStatus(self.req("GET", "/apis/livebind.io/v1alpha1/ipallocations/a/status"), 404, "NotFound")

    def test_pod_lifecycle(self):
        created = self.ok("POST", PODS, pod("p1"))
        m = created["metadata"]
        self.assertTrue(m["uid"] and m["creationTimestamp"].endswith("Z"))
        self.assertEqual(created["status"]["phase"], "Running")
        self.assertEqual(self.ok("GET", PODS + "/p1"), created)
        body = self.assertStatus(self.req("POST", PODS, pod("p1")), 409, "AlreadyExists")
        self.assertEqual(body["details"], {"name": "p1", "kind": "pods"})

        lst = self.ok("GET", PODS)
        self.assertEqual((lst["kind"], lst["apiVersion"]), ("PodList", "v1"))
        self.assertEqual(lst["metadata"]["resourceVersion"], m["resourceVersion"])
        self.assertNotIn("kind", lst["items"][0])  # like a real server for built-in kinds
        self.assertEqual(self.ok("GET", "/api/v1/pods")["items"][0]["metadata"]["name"], "p1")

        stale = dict(created, spec={"nodeName": "node-b"})
        updated = self.ok("PUT", PODS + "/p1", stale)
        self.assertGreater(int(updated["metadata"]["resourceVersion"]), int(m["resourceVersion"]))
        self.assertEqual(updated["metadata"]["uid"], m["uid"])
        self.assertEqual(updated["metadata"]["generation"], 2)
        body = self.assertStatus(self.req("PUT", PODS + "/p1", stale), 409, "Conflict")
        fixture_path = os.path.join(FIXTURES, "19-status-409-conflict.json")
        if os.path.exists(fixture_path):  # same shape and wording as the real one
            with open(fixture_path) as f:
                fixture = json.load(f)
            self.assertEqual(set(body), set(fixture))
            self.assertEqual(body["message"], fixture["message"].replace("virt-launcher-testvm-abcde", "p1"))
        unconditional = dict(stale, metadata=dict(stale["metadata"], resourceVersion=""))
        unconditional["spec"] = {"nodeName": "node-c"}
        self.assertEqual(self.ok("PUT", PODS + "/p1", unconditional)["spec"]["nodeName"], "node-c")
        # a no-op write keeps the resourceVersion, like a real server
        cur = self.ok("GET", PODS + "/p1")
        self.assertEqual(self.ok("PUT", PODS + "/p1", cur)["metadata"]["resourceVersion"],
                         cur["metadata"]["resourceVersion"])
        self.assertStatus(self.req("PUT", PODS + "/nope", pod("nope")), 404, "NotFound")
        self.assertStatus(self.req("PUT", PODS + "/p1", pod("other")), 400, "BadRequest")

        deleted = self.ok("DELETE", PODS + "/p1")
        self.assertEqual(deleted["metadata"]["name"], "p1")
        self.assertGreater(int(deleted["metadata"]["resourceVersion"]), int(cur["metadata"]["resourceVersion"]))
        body = self.assertStatus(self.req("GET", PODS + "/p1"), 404, "NotFound")
        self.assertEqual(body["message"], 'pods "p1" not found')
        self.assertStatus(self.req("DELETE", PODS + "/p1"), 404, "NotFound")

    def test_generate_name_and_global_rv(self):
        a = self.ok("POST", PODS, {"metadata": {"generateName": "virt-launcher-testvm-"}, "spec": {}})
        self.assertRegex(a["metadata"]["name"], r"^virt-launcher-testvm-[a-z0-9]{5}$")
        self.assertEqual((a["kind"], a["apiVersion"], a["metadata"]["namespace"]), ("Pod", "v1", "default"))
        vmi = self.ok("POST", VMIS, {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                                     "metadata": {"name": "testvm"}})
        node = self.ok("POST", "/api/v1/nodes", {"metadata": {"name": "node-a", "namespace": "ignored"}})
        self.assertNotIn("namespace", node["metadata"])
        rvs = [int(o["metadata"]["resourceVersion"]) for o in (a, vmi, node)]
        self.assertEqual(rvs, sorted(set(rvs)))
        self.assertEqual(self.rv("/api/v1/nodes"), rvs[-1])

    def test_cluster_scoped_and_crds(self):
        self.ok("POST", IPALLOCS, {"apiVersion": "livebind.io/v1alpha1", "kind": "IPAllocation",
                                   "metadata": {"name": "10.16.0.10"}, "spec": {"owner": "p"},
                                   "status": {"state": "Bound"}})
        lst = self.ok("GET", IPALLOCS)
        self.assertEqual(lst["kind"], "IPAllocationList")
        self.assertEqual(lst["items"][0]["kind"], "IPAllocation")  # CRD lists keep kind
        # no status subresource: a PUT on the object changes status
        obj = lst["items"][0]
        obj["status"] = {"state": "Released"}
        self.assertEqual(self.ok("PUT", IPALLOCS + "/10.16.0.10", obj)["status"]["state"], "Released")
        lp = "/apis/livebind.io/v1alpha1/namespaces/ns1/logicalports"
        self.ok("POST", lp, {"apiVersion": "livebind.io/v1alpha1", "kind": "LogicalPort",
                             "metadata": {"name": "lp1"}})
        self.assertEqual(len(self.ok("GET", "/apis/livebind.io/v1alpha1/logicalports")["items"]), 1)
        self.assertStatus(self.req("GET", "/apis/livebind.io/v1alpha1/logicalports/lp1"), 404, "NotFound")
        self.assertStatus(self.req("POST", "/api/v1/pods", pod("x")), 405, "MethodNotAllowed")
        body = self.assertStatus(self.req("GET", VMIS + "/none"), 404, "NotFound")
        self.assertEqual(body["details"], {"name": "none", "kind": "virtualmachineinstances",
                                           "group": "kubevirt.io"})

    def test_status_subresource(self):
        created = self.ok("POST", PODS, pod("p1", phase="Pending"))
        changed = json.loads(json.dumps(created))
        changed["status"]["phase"] = "Running"
        changed["metadata"]["labels"] = {"x": "y"}
        after = self.ok("PUT", PODS + "/p1", changed)
        self.assertEqual(after["status"]["phase"], "Pending")  # status ignored on the main resource
        self.assertEqual(after["metadata"]["labels"], {"x": "y"})
        after["status"]["phase"] = "Running"
        after["spec"]["nodeName"] = "elsewhere"
        after["metadata"]["labels"] = {"x": "z"}
        st = self.ok("PUT", PODS + "/p1/status", after)
        self.assertEqual((st["status"]["phase"], st["spec"]["nodeName"], st["metadata"]["labels"]),
                         ("Running", "node-a", {"x": "y"}))
        st = self.ok("PATCH", PODS + "/p1/status", {"status": {"podIP": "10.0.0.1"}},
                     "application/merge-patch+json")
        self.assertEqual(st["status"], {"phase": "Running", "podIP": "10.0.0.1"})
        st = self.ok("PATCH", PODS + "/p1", {"status": {"phase": "Failed"}, "metadata": {"labels": {"a": "b"}}},
                     "application/merge-patch+json")
        self.assertEqual((st["status"]["phase"], st["metadata"]["labels"]), ("Running", {"x": "y", "a": "b"}))
        self.assertEqual(self.ok("GET", PODS + "/p1/status")["metadata"]["name"], "p1")
        node = self.ok("POST", "/api/v1/nodes", {"metadata": {"name": "n1"}, "status": {"a": 1}})
        node["status"] = {"a": 2}
        self.assertEqual(self.ok("PUT", "/api/v1/nodes/n1/status", node)["status"], {"a": 2})

    def test_merge_patch(self):
        self.ok("POST", PODS, pod("p1", labels={"a": "1", "b": "2"}))
        out = self.ok("PATCH", PODS + "/p1", {"metadata": {"labels": {"a": None, "c": "3"}}},
                      "application/merge-patch+json")
        self.assertEqual(out["metadata"]["labels"], {"b": "2", "c": "3"})
        out = self.ok("PATCH", PODS + "/p1", {"metadata": {"annotations": {"k": "v"}}},
                      "application/strategic-merge-patch+json; charset=utf-8")
        self.assertEqual(out["metadata"]["annotations"], {"k": "v"})
        rv = out["metadata"]["resourceVersion"]
        ok = self.ok("PATCH", PODS + "/p1", {"metadata": {"resourceVersion": rv, "labels": {"d": "4"}}},
                     "application/merge-patch+json")
        self.assertEqual(ok["metadata"]["labels"]["d"], "4")
        self.assertStatus(self.req("PATCH", PODS + "/p1", {"metadata": {"resourceVersion": rv}},
                                   "application/merge-patch+json"), 409, "Conflict")
        self.assertStatus(self.req("PATCH", PODS + "/p1", {}, "application/apply-patch+yaml"),
                          415, "UnsupportedMediaType")
        self.assertStatus(self.req("PATCH", PODS + "/zz", {}, "application/merge-patch+json"), 404, "NotFound")
        self.assertStatus(self.req("PATCH", PODS + "/p1", [1], "application/merge-patch+json"), 400, "BadRequest")

    def test_json_patch(self):
        self.ok("POST", PODS, pod("p1", labels={"a": "1"}, finalizers=["f1"]))
        ops = [{"op": "test", "path": "/metadata/labels/a", "value": "1"},
               {"op": "add", "path": "/metadata/labels/kubevirt.io~1x", "value": "y"},
               {"op": "replace", "path": "/spec/nodeName", "value": "node-b"},
               {"op": "add", "path": "/metadata/finalizers/-", "value": "f2"},
               {"op": "copy", "from": "/spec/nodeName", "path": "/metadata/labels/node"},
               {"op": "move", "from": "/metadata/labels/a", "path": "/metadata/labels/moved"},
               {"op": "remove", "path": "/metadata/finalizers/0"}]
        out = self.ok("PATCH", PODS + "/p1", ops, "application/json-patch+json")
        self.assertEqual(out["metadata"]["labels"], {"kubevirt.io/x": "y", "node": "node-b", "moved": "1"})
        self.assertEqual((out["spec"]["nodeName"], out["metadata"]["finalizers"]), ("node-b", ["f2"]))
        rv = out["metadata"]["resourceVersion"]
        for bad in ([{"op": "test", "path": "/spec/nodeName", "value": "node-a"}],
                    [{"op": "test", "path": "/metadata/generation", "value": True}],
                    [{"op": "remove", "path": "/spec/missing"}],
                    [{"op": "replace", "path": "/nope/x", "value": 1}],
                    [{"op": "bogus", "path": "/spec"}]):
            self.assertStatus(self.req("PATCH", PODS + "/p1", bad, "application/json-patch+json"), 422, "Invalid")
        self.assertEqual(self.ok("GET", PODS + "/p1")["metadata"]["resourceVersion"], rv)  # nothing applied
        self.assertStatus(self.req("PATCH", PODS + "/p1", {"op": "add"}, "application/json-patch+json"),
                          400, "BadRequest")
        ops = [{"op": "replace", "path": "/metadata/resourceVersion", "value": "1"}]
        self.assertStatus(self.req("PATCH", PODS + "/p1", ops, "application/json-patch+json"), 409, "Conflict")

    def test_finalizers(self):
        w = self.watch(PODS + "?watch=1&resourceVersion=%d" % self.rv())
        self.ok("POST", PODS, pod("p1", finalizers=["kubevirt.io/x", "y"]))
        d = self.ok("DELETE", PODS + "/p1")
        self.assertTrue(d["metadata"]["deletionTimestamp"])
        self.assertEqual(self.ok("DELETE", PODS + "/p1"), d)  # repeated delete: no change
        d["metadata"]["finalizers"] = ["y"]
        d = self.ok("PUT", PODS + "/p1", d)
        self.assertTrue(d["metadata"]["deletionTimestamp"])
        d["metadata"]["finalizers"] = ["y", "new"]
        self.assertStatus(self.req("PUT", PODS + "/p1", d), 422, "Invalid")
        self.ok("PATCH", PODS + "/p1", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
        self.assertStatus(self.req("GET", PODS + "/p1"), 404, "NotFound")
        types = [e["type"] for e in w.events(4)]
        self.assertEqual(types, ["ADDED", "MODIFIED", "MODIFIED", "DELETED"])

    def test_delete_preconditions(self):
        p = self.ok("POST", PODS, pod("p1"))
        self.assertStatus(self.req("DELETE", PODS + "/p1", {"preconditions": {"uid": "other"}}), 409, "Conflict")
        self.assertStatus(self.req("DELETE", PODS + "/p1", {"preconditions": {"resourceVersion": "999"}}),
                          409, "Conflict")
        self.ok("DELETE", PODS + "/p1", {"kind": "DeleteOptions", "apiVersion": "v1",
                                         "preconditions": {"uid": p["metadata"]["uid"]}})

    def test_label_selectors(self):
        for name, labels in (("a", {"app": "x", "tier": "web"}), ("b", {"app": "y"}), ("c", {"tier": "db"}),
                             ("d", {})):
            self.ok("POST", PODS, pod(name, labels=labels))
        cases = {"app=x": "a", "app==x": "a", "app!=x": "bcd", "app": "ab", "!app": "cd",
                 "app,tier": "a", "app in (x, y)": "ab", "app notin (x)": "bcd",
                 "tier in (web,db),app!=x": "c", "": "abcd", "app=x,tier=db": ""}
        for sel, want in cases.items():
            items = self.ok("GET", PODS + "?labelSelector=" + fa.urllib.parse.quote(sel))["items"]
            self.assertEqual("".join(i["metadata"]["name"] for i in items), want, sel)
        self.assertStatus(self.req("GET", PODS + "?labelSelector=a%3D%3D%3Db"), 400, "BadRequest")

    def test_field_selectors(self):
        self.ok("POST", PODS, pod("a", node="node-a", phase="Running"))
        self.ok("POST", PODS, pod("b", node="node-b", phase="Succeeded"))
        self.ok("POST", "/api/v1/namespaces/other/pods", pod("c", node="node-b", ns="other"))
        cases = {"metadata.name=a": "a", "metadata.namespace=other": "c", "spec.nodeName=node-b": "bc",
                 "status.phase!=Running": "b", "spec.nodeName=node-b,status.phase=Running": "c",
                 "spec.containers=x": "", "spec.missing=": "abc", "metadata.name==b": "b"}
        for sel, want in cases.items():
            items = self.ok("GET", "/api/v1/pods?fieldSelector=" + fa.urllib.parse.quote(sel))["items"]
            self.assertEqual("".join(i["metadata"]["name"] for i in items), want, sel)
        self.assertStatus(self.req("GET", PODS + "?fieldSelector=nonsense"), 400, "BadRequest")

    def test_pagination(self):
        for i in range(5):
            self.ok("POST", PODS, pod("p%d" % i))
        rv = self.rv()
        names, token, pages = [], "", 0
        while True:
            page = self.ok("GET", PODS + "?limit=2&resourceVersion=0" + ("&continue=" + token if token else ""))
            pages += 1
            names += [i["metadata"]["name"] for i in page["items"]]
            self.assertEqual(page["metadata"]["resourceVersion"], str(rv))
            token = page["metadata"].get("continue")
            if not token:
                self.assertNotIn("remainingItemCount", page["metadata"])
                break
            self.assertEqual(page["metadata"]["remainingItemCount"], 5 - len(names))
            self.ok("POST", PODS, pod("a%d" % pages))  # sorts before the token: unseen; RV kept
        self.assertEqual(pages, 3)
        self.assertEqual(names[:5], ["p0", "p1", "p2", "p3", "p4"])
        self.assertStatus(self.req("GET", PODS + "?limit=2&continue=garbage"), 400, "BadRequest")
        token = self.ok("GET", PODS + "?limit=1")["metadata"]["continue"]
        self.ok("POST", PODS, pod("after-token"))
        self.ok("POST", "/fake/faults", {"compact": True}, code=200)
        self.assertStatus(self.req("GET", PODS + "?limit=1&continue=" + token), 410, "Expired")

    def test_bad_input_and_keepalive(self):
        self.assertStatus(self.req("POST", PODS, "{not json"), 400, "BadRequest")
        self.assertStatus(self.req("POST", PODS, ""), 400, "BadRequest")
        self.assertStatus(self.req("POST", PODS, "[1,2]"), 400, "BadRequest")
        self.assertStatus(self.req("POST", PODS, dict(pod("x"), kind="Node")), 400, "BadRequest")
        self.assertStatus(self.req("POST", PODS, dict(pod("x"), apiVersion="kubevirt.io/v1")), 400, "BadRequest")
        self.assertStatus(self.req("POST", PODS, pod("x", ns="other")), 400, "BadRequest")
        self.assertStatus(self.req("POST", PODS, pod("x"), ctype="application/x-www-form-urlencoded"),
                          415, "UnsupportedMediaType")
        self.assertStatus(self.req("POST", PODS, {"metadata": "x"}), 400, "BadRequest")
        self.assertStatus(self.req("PUT", PODS + "/x", b"\xff\xfe"), 400, "BadRequest")
        body = self.assertStatus(self.req("POST", PODS, {"metadata": {}}), 422, "Invalid")
        self.assertIn("name or generateName is required", body["message"])
        self.assertStatus(self.req("GET", PODS + "?watch=1&resourceVersion=abc"), 400, "BadRequest")
        self.assertStatus(self.req("PUT", PODS, pod("x")), 405, "MethodNotAllowed")
        self.assertStatus(self.req("DELETE", PODS), 405, "MethodNotAllowed")
        # all of the above went over one keep-alive connection
        self.ok("POST", PODS, pod("ok"))
        # chunked request bodies and Expect: 100-continue (libcurl sends both)
        self.conn.request("POST", PODS, body=iter([json.dumps(pod("chunked")).encode()]),
                          headers={"Content-Type": "application/json"}, encode_chunked=True)
        resp = self.conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())["metadata"]["name"]), (201, "chunked"))
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        body = json.dumps(pod("expect")).encode()
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % (PODS.encode(), len(body)))
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 100"))
        s.sendall(body)
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 201"))
        s.close()
        # garbage on the wire does not kill the server
        s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=5)
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        s.recv(1000)
        s.close()
        self.assertEqual(self.req("GET", "/healthz"), (200, "ok"))


class TestWatch(Base):
    def test_initial_and_live_events(self):
        self.ok("POST", PODS, pod("old"))
        w = self.watch(PODS + "?watch=true")
        self.assertEqual((w.status, w.headers["transfer-encoding"], w.headers["content-type"]),
                         (200, "chunked", "application/json"))
        self.assertNotIn("content-length", w.headers)
        ev = w.next_event()
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"], ev["object"]["kind"],
                          ev["object"]["apiVersion"]), ("ADDED", "old", "Pod", "v1"))
        created = self.ok("POST", PODS, pod("new"))
        self.ok("POST", VMIS, {"metadata": {"name": "other-kind"}})
        self.ok("POST", "/api/v1/namespaces/other/pods", pod("other-ns", ns="other"))
        self.ok("PATCH", PODS + "/new", {"metadata": {"labels": {"a": "b"}}}, "application/merge-patch+json")
        deleted = self.ok("DELETE", PODS + "/new")
        evs = w.events(3)
        self.assertEqual([e["type"] for e in evs], ["ADDED", "MODIFIED", "DELETED"])
        self.assertEqual(evs[0]["object"], created)
        self.assertEqual(evs[2]["object"], deleted)
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs, sorted(rvs))
        cluster = self.watch("/api/v1/pods?watch=1&resourceVersion=0")
        self.assertEqual(sorted(e["object"]["metadata"]["name"] for e in cluster.events(2)), ["old", "other-ns"])

    def test_resume_from_list_rv(self):
        self.ok("POST", PODS, pod("a"))
        rv = self.rv()
        self.ok("POST", PODS, pod("b"))
        self.ok("DELETE", PODS + "/a")
        w = self.watch(PODS + "?watch=1&resourceVersion=%d&allowWatchBookmarks=false" % rv)
        evs = w.events(2)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in evs],
                         [("ADDED", "b"), ("DELETED", "a")])
        self.assertTrue(all(int(e["object"]["metadata"]["resourceVersion"]) > rv for e in evs))
        self.ok("POST", PODS, pod("c"))
        self.assertEqual(w.next_event()["object"]["metadata"]["name"], "c")
        # watching a single object by name (fieldSelector and the object path)
        n = self.watch(PODS + "?watch=1&fieldSelector=metadata.name%3Dc")
        self.assertEqual(n.next_event()["object"]["metadata"]["name"], "c")
        n2 = self.watch(PODS + "/b?watch=1")
        self.assertEqual(n2.next_event()["object"]["metadata"]["name"], "b")

    def test_selector_transitions(self):
        self.ok("POST", PODS, pod("p", labels={"app": "a"}))
        w = self.watch(PODS + "?watch=1&labelSelector=app%3Da")
        self.assertEqual(w.next_event()["type"], "ADDED")
        moved = self.ok("PATCH", PODS + "/p", {"metadata": {"labels": {"app": "b"}}}, "application/merge-patch+json")
        ev = w.next_event()
        self.assertEqual(ev["type"], "DELETED")
        self.assertEqual(ev["object"]["metadata"]["labels"], {"app": "a"})  # old content...
        self.assertEqual(ev["object"]["metadata"]["resourceVersion"], moved["metadata"]["resourceVersion"])
        self.ok("PATCH", PODS + "/p", {"metadata": {"labels": {"app": "a", "x": "1"}}}, "application/merge-patch+json")
        self.assertEqual(w.next_event()["type"], "ADDED")
        self.ok("PATCH", PODS + "/p", {"metadata": {"labels": {"x": "2"}}}, "application/merge-patch+json")
        self.assertEqual(w.next_event()["type"], "MODIFIED")

    def test_expired_rv_error_event(self):
        self.srv.stop()
        self.srv = FakeServer("--history", "3")
        self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=5)
        for i in range(6):
            self.ok("POST", PODS, pod("p%d" % i))
        w = self.watch(PODS + "?watch=1&resourceVersion=1")
        self.assertEqual(w.status, 200)
        ev = w.next_event()
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual(set(ev["object"]), STATUS_KEYS)
        self.assertEqual((ev["object"]["code"], ev["object"]["reason"]), (410, "Expired"))
        self.assertEqual(ev["object"]["message"], "too old resource version: 1 (4)")
        self.assertIsNone(w.next_event())  # stream ended cleanly
        ok = self.watch(PODS + "?watch=1&resourceVersion=3")  # 4, 5, 6 still kept
        self.assertEqual([e["object"]["metadata"]["name"] for e in ok.events(3)], ["p3", "p4", "p5"])
        # an expired RV answered as HTTP 410 when asked for
        self.ok("POST", "/fake/faults", {"expired_watch": "http"}, code=200)
        w = self.watch(PODS + "?watch=1&resourceVersion=1")
        self.assertEqual((w.status, w.body()["reason"]), (410, "Expired"))

    def test_bookmarks_and_timeout(self):
        self.ok("POST", PODS, pod("p"))
        rv = self.rv()
        self.ok("POST", VMIS, {"metadata": {"name": "v"}})  # advances the global RV
        start = time.monotonic()
        w = self.watch(PODS + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=%d" % rv)
        ev = w.next_event()
        self.assertEqual(ev, {"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                            "metadata": {"resourceVersion": str(rv + 1)}}})
        types = []
        while True:
            ev = w.next_event()
            if ev is None:
                break
            types.append(ev["type"])
        elapsed = time.monotonic() - start
        self.assertTrue(0.9 <= elapsed < 2.0, elapsed)
        self.assertTrue(set(types) == {"BOOKMARK"} and len(types) >= 2, types)
        # no bookmarks unless asked for
        w = self.watch(PODS + "?watch=1&timeoutSeconds=0.6&resourceVersion=%d" % rv)
        self.assertIsNone(w.next_event())

    def test_no_busy_loop(self):
        ws = [self.watch(PODS + "?watch=1&allowWatchBookmarks=true") for _ in range(5)]
        cpu = time.process_time()
        time.sleep(1.0)
        self.assertLess(time.process_time() - cpu, 0.2)
        self.assertEqual(self.ok("GET", "/fake/stats")["open_watches"], 5)
        for w in ws:
            w.close()
        self.assertTrue(self.wait_for(lambda: self.ok("GET", "/fake/stats")["open_watches"] == 0))


class TestChunkModes(Base):
    def stream(self, mode, n=20):
        self.srv.stop()
        self.srv = FakeServer("--chunk-mode", mode)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=5)
        for i in range(n):
            self.ok("POST", PODS, pod("p%02d" % i, labels={"i": str(i)}))
        w = self.watch(PODS + "?watch=1")
        names = [e["object"]["metadata"]["name"] for e in w.events(n)]
        self.assertEqual(names, ["p%02d" % i for i in range(n)])
        return w

    def test_line(self):
        w = self.stream("line")
        self.assertEqual(len(w.chunks), 20)
        self.assertTrue(all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in w.chunks))

    def test_split(self):
        w = self.stream("split")
        self.assertGreaterEqual(len(w.chunks), 40)
        self.assertEqual(sum(c.endswith(b"\n") for c in w.chunks), 20)  # every event spans >= 2 chunks

    def test_random(self):
        w = self.stream("random", n=60)
        self.assertTrue(any(b"\n" in c[:-1] for c in w.chunks) or
                        any(not c.endswith(b"\n") for c in w.chunks))


class TestFaults(Base):
    def test_next_status(self):
        self.ok("POST", "/fake/faults", {"next": [{"match": "GET /api/v1/pods", "status": 500, "count": 2}]},
                code=200)
        self.ok("GET", PODS)  # another path is not affected
        self.assertStatus(self.req("GET", "/api/v1/pods"), 500, "InternalError")
        self.assertStatus(self.req("GET", "/api/v1/pods"), 500, "InternalError")
        self.ok("GET", "/api/v1/pods")
        self.ok("POST", "/fake/faults", {"match": "create " + PODS, "status": 429, "retry_after": 3}, code=200)
        self.conn.request("POST", PODS, body=json.dumps(pod("x")), headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        self.assertEqual((resp.status, resp.getheader("Retry-After"), json.loads(resp.read())["reason"]),
                         (429, "3", "TooManyRequests"))
        self.ok("POST", "/fake/faults", {"match": "/apis/kubevirt.io/*", "status": 503, "count": -1}, code=200)
        for _ in range(3):
            self.assertStatus(self.req("GET", VMIS), 503, "ServiceUnavailable")
        self.ok("POST", "/fake/reset", code=200)
        self.ok("GET", VMIS)
        self.assertEqual(self.ok("GET", "/fake/faults")["faults"], [])

    def test_watch_http_410_and_error_event(self):
        self.ok("POST", "/fake/faults", {"status": 410, "match": "watch", "count": 1}, code=200)
        self.ok("GET", PODS)  # a list is not a watch
        w = self.watch(PODS + "?watch=1&resourceVersion=5")
        body = w.body()
        self.assertEqual((w.status, body["code"], body["reason"], body["kind"]), (410, 410, "Expired", "Status"))
        self.ok("POST", "/fake/faults", {"error_event_410": True}, code=200)
        w = self.watch(PODS + "?watch=1")
        ev = w.next_event()
        self.assertEqual((w.status, ev["type"], ev["object"]["code"]), (200, "ERROR", 410))
        self.assertIsNone(w.next_event())
        w = self.watch(PODS + "?watch=1&timeoutSeconds=0.2")  # faults used up
        self.assertIsNone(w.next_event())

    def test_delay_and_close(self):
        self.ok("POST", "/fake/faults", {"delay_ms": 300, "match": "list /api/v1/*", "count": 1}, code=200)
        start = time.monotonic()
        self.ok("GET", PODS)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        start = time.monotonic()
        self.ok("GET", PODS)  # used up
        self.assertLess(time.monotonic() - start, 0.25)
        self.ok("POST", "/fake/faults", {"close": True, "match": "GET " + PODS}, code=200)
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            self.req("GET", PODS)
        self.conn.close()
        self.ok("GET", PODS)

    def test_drop_watches(self):
        self.ok("POST", PODS, pod("p"))
        ws = [self.watch(PODS + "?watch=1") for _ in range(3)]
        for w in ws:
            self.assertEqual(w.next_event()["type"], "ADDED")
        self.ok("POST", "/fake/faults", {"drop_watches": True}, code=200)
        for w in ws:
            with self.assertRaises(EOFError):  # ends inside a chunk, no terminating chunk
                while True:
                    w.read_chunk()
            self.assertFalse(w.ended)
        self.assertTrue(self.wait_for(lambda: self.ok("GET", "/fake/stats")["open_watches"] == 0))
        self.assertEqual(self.ok("GET", "/fake/stats")["watches_dropped"], 3)
        w = self.watch(PODS + "?watch=1")  # later watches are fine
        self.assertEqual(w.next_event()["type"], "ADDED")

    def test_compact(self):
        self.ok("POST", PODS, pod("a"))
        old_rv = self.rv()
        self.ok("POST", PODS, pod("b"))
        live = self.watch(PODS + "?watch=1")
        live.events(2)
        self.ok("POST", "/fake/faults", {"compact": True}, code=200)
        w = self.watch(PODS + "?watch=1&resourceVersion=%d" % old_rv)
        self.assertEqual(w.next_event()["object"]["code"], 410)
        cur = self.watch(PODS + "?watch=1&resourceVersion=%d" % self.rv())
        self.ok("POST", PODS, pod("c"))
        self.assertEqual(cur.next_event()["object"]["metadata"]["name"], "c")
        self.assertEqual(live.next_event()["object"]["metadata"]["name"], "c")  # open watches carry on

    def test_stats_and_bad_fault_bodies(self):
        self.ok("POST", PODS, pod("p"))
        self.ok("GET", PODS + "/p")
        self.ok("GET", "/api/v1/pods")
        w = self.watch(PODS + "?watch=1")
        w.next_event()
        stats = self.ok("GET", "/fake/stats")
        self.assertEqual(stats["requests"]["create /api/v1/namespaces/{namespace}/pods"], 1)
        self.assertEqual(stats["requests"]["get /api/v1/namespaces/{namespace}/pods/{name}"], 1)
        self.assertEqual(stats["requests"]["list /api/v1/pods"], 1)
        self.assertEqual(stats["requests"]["watch /api/v1/namespaces/{namespace}/pods"], 1)
        self.assertEqual((stats["open_watches"], stats["events_sent"], stats["objects"]["pods"]), (1, 1, 1))
        self.assertEqual(stats["resource_version"], "1")
        self.assertStatus(self.req("POST", "/fake/faults", "nope"), 400, "BadRequest")
        self.assertStatus(self.req("POST", "/fake/faults", {"next": [{"match": "x"}]}), 400, "BadRequest")
        self.assertStatus(self.req("GET", "/fake/whatever"), 404, "NotFound")
        # curl -d sends a form content type; the control API does not mind
        self.ok("POST", "/fake/faults", {"delay_ms": 1}, ctype="application/x-www-form-urlencoded", code=200)
        self.ok("POST", "/fake/reset", {"stats": True}, code=200)
        self.assertEqual(self.ok("GET", "/fake/stats")["requests"], {})


class TestToken(Base):
    server_args = ("--token", "s3cret")

    def test_token(self):
        self.assertStatus(self.req("GET", PODS), 401, "Unauthorized")
        self.assertStatus(self.req("GET", PODS, headers={"Authorization": "Bearer wrong"}), 401, "Unauthorized")
        self.assertEqual(self.req("GET", PODS, headers={"Authorization": "Bearer s3cret"})[0], 200)
        self.assertEqual(self.req("GET", "/healthz"), (200, "ok"))
        w = self.watch(PODS + "?watch=1&timeoutSeconds=0.1", headers="Authorization: Bearer s3cret\r\n")
        self.assertEqual(w.status, 200)


class TestCli(unittest.TestCase):
    def test_subprocess_load_port_file_sigterm(self):
        with tempfile.TemporaryDirectory() as tmp:
            port_file = os.path.join(tmp, "port")
            arr = os.path.join(tmp, "array.json")
            with open(arr, "w") as f:
                json.dump([{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
                           {"apiVersion": "livebind.io/v1alpha1", "kind": "IPAllocation",
                            "metadata": {"name": "ip1"}}], f)
            lst = os.path.join(tmp, "list.json")
            with open(lst, "w") as f:
                json.dump({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                           "items": [pod("from-list", ns="ns1")]}, f)
            loads = [arr, lst]
            if os.path.isdir(FIXTURES):
                loads += [os.path.join(FIXTURES, n) for n in sorted(os.listdir(FIXTURES))
                          if n.endswith(".json") and n[:2] in ("01", "02", "03", "09", "17", "20")]
            proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_apiserver.py"),
                                     "--listen", "127.0.0.1:0", "--port-file", port_file, "--load", *loads,
                                     "--history", "50", "--verbose"],
                                    stderr=subprocess.PIPE, text=True)
            try:
                end = time.monotonic() + 10
                while not os.path.exists(port_file) and time.monotonic() < end:
                    time.sleep(0.02)
                with open(port_file) as f:
                    port = int(f.read())
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

                def get(path):
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    return resp.status, json.loads(resp.read())
                self.assertEqual(get("/api/v1/nodes/n1")[0], 200)
                self.assertEqual(get("/apis/livebind.io/v1alpha1/ipallocations/ip1")[0], 200)
                self.assertEqual(get("/api/v1/namespaces/ns1/pods/from-list")[1]["kind"], "Pod")
                if os.path.isdir(FIXTURES):
                    st, vmim = get("/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations/"
                                   "kubevirt-migrate-vm-x7k2p")
                    self.assertEqual((st, vmim["status"]["phase"]), (200, "Succeeded"))  # 09 replaced 03
                    self.assertEqual(vmim["metadata"]["uid"], "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b")
                    self.assertEqual(get("/api/v1/nodes/node-b")[0], 200)
                    self.assertGreaterEqual(len(get("/api/v1/namespaces/default/pods")[1]["items"]), 2)
                conn.close()
            finally:
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=5)
            self.assertEqual(proc.returncode, 0)
            self.assertIn('"GET /api/v1/nodes/n1 HTTP/1.1" 200', err)

    def test_bad_load_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}, f)
            f.flush()
            proc = subprocess.run([sys.executable, os.path.join(HERE, "fake_apiserver.py"), "--load", f.name],
                                  capture_output=True, text=True, timeout=10)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("unsupported kind", proc.stderr)


if __name__ == "__main__":
    unittest.main()
