#!/usr/bin/env python3
# fake_apiserver.py -- a TEST DOUBLE of the Kubernetes API server, for
# livebind's system tests and benchmarks.
#
# This is NOT a Kubernetes implementation.  It keeps a few resource kinds in
# memory and imitates what a list+watch client sees on the wire from a real
# kube-apiserver: one global resourceVersion, Status objects, 409/410/422,
# chunked watch streams with bookmarks, selectors, paginated lists.  A control
# API under /fake/ injects faults.  No admission, defaulting, validation beyond
# the basics, RBAC, persistence or TLS.  Python 3 standard library only.
# See README.md next to this file.

import argparse
import base64
import collections
import copy
import fnmatch
import http.server
import json
import os
import random
import re
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
import uuid

# (apiVersion, plural) -> (kind, namespaced, has a /status subresource).
# Adding a kind is one line here.
RESOURCES = {
    ("v1", "pods"): ("Pod", True, True),
    ("v1", "nodes"): ("Node", False, True),
    ("kubevirt.io/v1", "virtualmachineinstances"): ("VirtualMachineInstance", True, True),
    ("kubevirt.io/v1", "virtualmachineinstancemigrations"): ("VirtualMachineInstanceMigration", True, True),
    ("kubevirt.io/v1", "virtualmachines"): ("VirtualMachine", True, True),
    ("livebind.io/v1alpha1", "logicalports"): ("LogicalPort", True, True),
    ("livebind.io/v1alpha1", "ipallocations"): ("IPAllocation", False, False),
    ("livebind.io/v1alpha1", "logicalswitches"): ("LogicalSwitch", False, False),
}

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
           422: "Invalid", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
           504: "Timeout"}
MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
JSON_PATCH_TYPE = "application/json-patch+json"
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generateName
TOTALS = ("open_watches", "watches_started", "watches_dropped", "events_sent", "bookmarks_sent",
          "faults_applied")


class Resource:
    def __init__(self, api_version, plural, kind, namespaced, has_status):
        self.api_version, self.plural, self.kind = api_version, plural, kind
        self.namespaced, self.has_status = namespaced, has_status
        self.group = api_version.rpartition("/")[0]
        self.prefix = ("/apis/" if self.group else "/api/") + api_version
        self.qualified = plural + ("." + self.group if self.group else "")
        # Real servers drop kind/apiVersion from list items of built-in types
        # but keep them for CRDs (unstructured).  CRD groups contain a dot.
        self.is_crd = "." in self.group and not self.group.endswith(".k8s.io")

    def details(self, name):
        return dict({"name": name, "kind": self.plural}, **({"group": self.group} if self.group else {}))


RESOURCE_LIST = [Resource(av, plural, *v) for (av, plural), v in RESOURCES.items()]
BY_PATH = {(r.prefix, r.plural): r for r in RESOURCE_LIST}
BY_KIND = {(r.api_version, r.kind): r for r in RESOURCE_LIST}


class ApiError(Exception):
    """An error answered with a metav1.Status body."""

    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        self.reason, self.headers = reason or REASONS.get(code, "Unknown"), headers or {}

    def status(self):
        st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": self.message, "reason": self.reason}
        if self.details:
            st["details"] = self.details
        st["code"] = self.code
        return st


def not_found(res, name):
    return ApiError(404, '%s "%s" not found' % (res.qualified, name), details=res.details(name))


def conflict(res, name):
    return ApiError(409, 'Operation cannot be fulfilled on %s "%s": the object has been modified; please '
                    'apply your changes to the latest version and try again' % (res.qualified, name),
                    details=res.details(name))


def expired(requested, oldest):
    return ApiError(410, "too old resource version: %s (%s)" % (requested, oldest))


def invalid(res, name, field, msg):
    causes = [{"reason": "FieldValueInvalid", "message": msg, "field": field}]
    return ApiError(422, '%s "%s" is invalid: %s: %s' % (res.kind, name, field, msg),
                    details=dict(res.details(name), kind=res.kind, causes=causes))


def not_allowed():
    return ApiError(405, "the server does not allow this method on the requested resource")


def encode(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def event_line(etype, obj):
    return encode({"type": etype, "object": obj}) + b"\n"


def meta(obj):
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


# ------------------------------------------------------------------ selectors

KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
LABEL_SET_RX = re.compile(r"^(%s)\s+(in|notin)\s*\(([^)]*)\)$" % KEY)
LABEL_EQ_RX = re.compile(r"^(%s)\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)$" % KEY)
LABEL_EXISTS_RX = re.compile(r"^(!?)\s*(%s)$" % KEY)
FIELD_RX = re.compile(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$")
# op -> test(actual value, or None when absent; argument)
SELECTOR_OPS = {"=": lambda v, a: v == a, "==": lambda v, a: v == a, "!=": lambda v, a: v != a,
                "in": lambda v, a: v in a, "notin": lambda v, a: v not in a,
                "exists": lambda v, a: v is not None, "!": lambda v, a: v is None}


def parse_selector(text, field=False):
    """A label or field selector as a list of (key, op, argument)."""
    terms, depth, cur = [], 0, ""
    for ch in (text or "") + ",":  # split on commas outside parentheses
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            terms, cur = terms + [cur.strip()] if cur.strip() else terms, ""
        else:
            cur += ch
    reqs = []
    for term in terms:
        m = FIELD_RX.match(term) if field else LABEL_SET_RX.match(term) or LABEL_EQ_RX.match(term)
        exists = None if field or m else LABEL_EXISTS_RX.match(term)
        if m:
            key, op, arg = m.groups()
            arg = {v.strip() for v in arg.split(",")} if op in ("in", "notin") else arg
        elif exists:
            key, op, arg = exists.group(2), exists.group(1) or "exists", None
        else:
            raise ApiError(400, "unable to parse requirement: invalid %s selector term %r"
                           % ("field" if field else "label", term))
        reqs.append((key, op, arg))
    return reqs


def field_value(obj, path):
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    if isinstance(obj, bool):
        return "true" if obj else "false"
    return "" if obj is None else obj if isinstance(obj, str) else json.dumps(obj)


def make_matcher(namespace, name, query):
    labels = parse_selector(query.get("labelSelector"))
    fields = parse_selector(query.get("fieldSelector"), field=True)

    def matches(obj):
        m = meta(obj)
        lab = m.get("labels") if isinstance(m.get("labels"), dict) else {}
        return ((namespace is None or m.get("namespace") == namespace) and
                (name is None or m.get("name") == name) and
                all(SELECTOR_OPS[op](lab.get(k), arg) for k, op, arg in labels) and
                all(SELECTOR_OPS[op](field_value(obj, k), arg) for k, op, arg in fields))
    return matches


# ------------------------------------------------------------------ patches

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, val in patch.items():
        if val is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), val)
    return result


def json_equal(a, b):
    """JSON equality: unlike Python's ==, true != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return a == b


def json_patch(doc, ops):
    """RFC 6902 JSON patch.  A failing operation is a 422, as in Kubernetes."""
    root = {"": doc}  # gives the pointer "" a parent too

    def fail(msg):
        raise ApiError(422, msg)

    def child(parent, key, path):
        if isinstance(parent, dict) and key in parent:
            return parent[key]
        if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
            return parent[int(key)]
        fail("doc is missing path: %s" % path)

    def locate(path):  # -> (parent container, last token)
        if not isinstance(path, str) or (path and path[0] != "/"):
            fail("invalid JSON pointer %r" % (path,))
        parent, key = root, ""
        for tok in path.split("/")[1:]:
            parent, key = child(parent, key, path), tok.replace("~1", "/").replace("~0", "~")
        return parent, key

    def get(path):
        return child(*locate(path), path)

    def remove(path):
        value, (parent, key) = get(path), locate(path)
        parent.pop(int(key) if isinstance(parent, list) else key)
        return value

    def add(path, value):
        parent, key = locate(path)
        if isinstance(parent, dict):
            parent[key] = value
        elif isinstance(parent, list) and (key == "-" or (key.isdigit() and int(key) <= len(parent))):
            parent.insert(len(parent) if key == "-" else int(key), value)
        else:
            fail("doc is missing path: %s" % path)

    for op in ops:
        if not isinstance(op, dict):
            fail("patch operation is not an object")
        kind, path, value = op.get("op"), op.get("path"), copy.deepcopy(op.get("value"))
        if kind in ("add", "replace", "test") and "value" not in op:
            fail("missing value for %s operation" % kind)
        if kind in ("remove", "replace"):
            remove(path)
        if kind in ("add", "replace"):
            add(path, value)
        elif kind == "move":
            add(path, remove(op.get("from")))
        elif kind == "copy":
            add(path, copy.deepcopy(get(op.get("from"))))
        elif kind == "test" and not json_equal(get(path), value):
            fail("testing value %s failed: test failed" % path)
        elif kind not in ("remove", "test"):
            fail("Unexpected kind: %s" % kind)
    return root.get("")


# ------------------------------------------------------------------ storage

Event = collections.namedtuple("Event", "rv res type obj prev line")


class Store:
    """All objects plus an etcd-like event history.  Stored objects are never
    changed in place (a write stores a new dict), so events and responses share
    them without copying.  One lock; its Condition wakes the watchers."""

    def __init__(self, history_size):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0
        self.objects = {r: {} for r in RESOURCE_LIST}  # res -> {(namespace or "", name): obj}
        self.history = collections.deque()
        self.history_size = history_size
        self.compacted_rv = 0  # events with rv <= this are gone
        self.drop_gen = 0      # bumped to drop every open watch

    def commit(self, res, etype, key, obj, prev):
        """Caller holds the lock; obj is a fresh dict."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if etype == "DELETED":
            self.objects[res].pop(key, None)
        else:
            self.objects[res][key] = obj
        self.history.append(Event(self.rv, res, etype, obj, prev, event_line(etype, obj)))
        while len(self.history) > self.history_size:
            self.compacted_rv = self.history.popleft().rv
        self.cond.notify_all()
        return obj

    def events_after(self, res, rv):
        out = []
        for ev in reversed(self.history):  # newest first: a watcher usually wants only the tail
            if ev.rv <= rv:
                break
            if ev.res is res:
                out.append(ev)
        return out[::-1]


# ------------------------------------------------------------------ the API

class FakeAPI:
    """Config, store, fault rules and counters; the object-level verbs."""

    def __init__(self, cfg):
        self.cfg, self.store = cfg, Store(cfg.history)
        self.lock = threading.Lock()  # faults and counters
        self.rules = []               # pending fault rules; the first match applies
        self.expired_watch = "event"  # how a watch with a too old RV is told: "event" or "http"
        self.watch_seq = 0
        self.totals = collections.Counter()
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.requests, self.responses = collections.Counter(), collections.Counter()
            self.requests_by_user_agent = collections.defaultdict(collections.Counter)
            self.totals = collections.Counter(open_watches=self.totals["open_watches"])  # a gauge

    def count(self, table, key, n=1):
        with self.lock:
            getattr(self, table)[key] += n

    def stats(self):
        with self.lock:
            out = {"requests": dict(self.requests), "responses": dict(self.responses),
                   "requests_by_user_agent": {ua: dict(c) for ua, c in
                                              self.requests_by_user_agent.items()},
                   "pending_faults": copy.deepcopy(self.rules)}
            out.update((k, self.totals[k]) for k in TOTALS)
        with self.store.lock:
            out.update(resource_version=str(self.store.rv), history=len(self.store.history),
                       compacted_resource_version=str(self.store.compacted_rv),
                       objects={r.qualified: len(o) for r, o in self.store.objects.items()})
        return out

    # ---- fault injection
    RULE_ACTIONS = ("status", "delay_ms", "close", "error_event_410")

    def add_faults(self, body):
        if not isinstance(body, dict):
            raise ApiError(400, "the fault body must be a JSON object")
        rules = list(body.get("next") or [])
        if any(k in body for k in self.RULE_ACTIONS):  # the body itself is one rule
            rules.append({k: v for k, v in body.items() if k not in ("next", "drop_watches", "compact")})
        for rule in rules:
            if not isinstance(rule, dict) or not any(k in rule for k in self.RULE_ACTIONS):
                raise ApiError(400, "a fault rule needs one of " + ", ".join(self.RULE_ACTIONS))
            rule.setdefault("match", "watch" if rule.get("error_event_410") else "*")
            if not isinstance(rule.setdefault("count", 1), int) or not isinstance(rule["match"], str):
                raise ApiError(400, "a fault rule's count must be an integer and match a string")
        if body.get("expired_watch") not in (None, "event", "http"):
            raise ApiError(400, 'expired_watch must be "event" or "http"')
        with self.lock:
            self.rules.extend(rules)
            self.expired_watch = body.get("expired_watch") or self.expired_watch
        with self.store.lock:
            if body.get("compact"):  # like etcd compaction: every older RV is now 410
                self.store.history.clear()
                self.store.compacted_rv = self.store.rv
            if body.get("drop_watches"):
                self.store.drop_gen += 1
            self.store.cond.notify_all()

    def clear_faults(self):
        with self.lock:
            self.rules, self.expired_watch = [], "event"

    @staticmethod
    def rule_matches(pattern, method, verb, path):
        """pattern: "[VERB] [PATH-GLOB]"; VERB is an HTTP method (GET), a
        Kubernetes verb (list, watch, ...) or *."""
        words = pattern.split(None, 1)
        if words and not words[0].startswith("/"):
            want, glob = words[0], (words[1] if len(words) > 1 else "*")
            if want != "*" and want != method and want.lower() != verb:
                return False
        else:
            glob = pattern or "*"
        return fnmatch.fnmatchcase(path, glob.strip())

    def take_fault(self, method, verb, path):
        with self.lock:
            for rule in self.rules:
                if self.rule_matches(rule["match"], method, verb, path):
                    rule["count"] -= 1  # a count <= 0 at the start means forever
                    if rule["count"] == 0:
                        self.rules.remove(rule)
                    self.totals["faults_applied"] += 1
                    return dict(rule)
        return None

    # ---- object verbs, shared by HTTP and --load
    @staticmethod
    def normalize(res, obj, namespace):
        """Checks kind/apiVersion/namespace; returns obj with apiVersion and kind first."""
        if not isinstance(obj, dict):
            raise ApiError(400, "the body must be a JSON object")
        obj = dict({"apiVersion": res.api_version, "kind": res.kind}, **obj)
        if obj["apiVersion"] != res.api_version or obj["kind"] != res.kind:
            raise ApiError(400, "the kind in the data (%s %s) does not match the expected kind (%s %s)"
                           % (obj["apiVersion"], obj["kind"], res.api_version, res.kind))
        m = obj.setdefault("metadata", {})
        if not isinstance(m, dict):
            raise ApiError(400, "metadata must be an object")
        if not res.namespaced:
            m.pop("namespace", None)
        elif m.setdefault("namespace", namespace) != namespace:
            raise ApiError(400, "the namespace of the provided object does not match the namespace "
                           "sent on the request")
        return obj

    def create(self, res, namespace, obj, replace=False):
        obj = self.normalize(res, obj, namespace)
        m = obj["metadata"]
        if not m.get("name") and not m.get("generateName"):
            raise invalid(res, "", "metadata.name", "Required value: name or generateName is required")
        m.setdefault("uid", str(uuid.uuid4()))
        m.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        m.setdefault("generation", 1)
        with self.store.lock:
            objs = self.store.objects[res]
            if not m.get("name"):
                m["name"] = ""
                while not m["name"] or (namespace or "", m["name"]) in objs:  # redraw on a clash
                    m["name"] = m["generateName"] + "".join(random.choice(NAME_CHARS) for _ in range(5))
            key = (namespace or "", m["name"])
            old = objs.get(key)
            if old is not None and not replace:
                raise ApiError(409, '%s "%s" already exists' % (res.qualified, m["name"]),
                               reason="AlreadyExists", details=res.details(m["name"]))
            return self.store.commit(res, "MODIFIED" if old else "ADDED", key, obj, old)

    def update(self, res, namespace, name, body, subresource, patch=None):
        """PUT (body) or PATCH (patch: a function from a copy of the object to the new one)."""
        with self.store.lock:
            key = (namespace or "", name)
            old = self.store.objects[res].get(key)
            if old is None:
                raise not_found(res, name)
            body = self.normalize(res, patch(copy.deepcopy(old)) if patch else body, namespace)
            m, om = body["metadata"], old["metadata"]
            if m.setdefault("name", name) != name:
                raise ApiError(400, "the name of the object (%s) does not match the name on the URL (%s)"
                               % (m["name"], name))
            if m.get("resourceVersion") and m["resourceVersion"] != om["resourceVersion"]:
                raise conflict(res, name)  # a stale precondition, also via a patch
            if subresource == "status":  # only .status changes
                new = {k: v for k, v in old.items() if k != "status"}
                new.update({"status": body["status"]} if "status" in body else {})
            else:
                new = body
                for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "generation"):  # server-owned
                    m.pop(f, None)
                    m.update({f: om[f]} if f in om else {})
                if res.has_status:  # status changes only through /status
                    new.pop("status", None)
                    new.update({"status": old["status"]} if "status" in old else {})
                if [(k, v) for k, v in new.items() if k not in ("metadata", "status")] != \
                        [(k, v) for k, v in old.items() if k not in ("metadata", "status")]:
                    m["generation"] = om.get("generation", 0) + 1
            new["metadata"] = nm = dict(new["metadata"], resourceVersion=om["resourceVersion"])
            if json_equal(new, old):
                return old  # a no-op write: no new resourceVersion, no event (like etcd3 store)
            if om.get("deletionTimestamp"):
                if set(nm.get("finalizers") or []) - set(om.get("finalizers") or []):
                    raise invalid(res, name, "metadata.finalizers",
                                  "Forbidden: no new finalizers can be added if the object is being deleted")
                if not nm.get("finalizers"):  # the last finalizer is gone: delete now
                    return self.store.commit(res, "DELETED", key, new, old)
            return self.store.commit(res, "MODIFIED", key, new, old)

    def delete(self, res, namespace, name, options):
        pre = options.get("preconditions") if isinstance(options, dict) else None
        with self.store.lock:
            key = (namespace or "", name)
            old = self.store.objects[res].get(key)
            if old is None:
                raise not_found(res, name)
            om = old["metadata"]
            if isinstance(pre, dict) and any(pre.get(f) not in (None, om.get(f))
                                             for f in ("uid", "resourceVersion")):
                raise conflict(res, name)
            if not om.get("finalizers"):
                return self.store.commit(res, "DELETED", key, copy.deepcopy(old), None)
            if om.get("deletionTimestamp"):
                return old  # already waiting for its finalizers
            new = copy.deepcopy(old)
            new["metadata"].update(deletionTimestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   deletionGracePeriodSeconds=0)
            return self.store.commit(res, "MODIFIED", key, new, old)

    def load_file(self, path):
        """An object, a List or a JSON array; an existing object is replaced."""
        with open(path) as f:
            data = json.load(f)
        items = data if isinstance(data, list) else [data]
        if isinstance(data, dict) and str(data.get("kind")).endswith("List") and "items" in data:
            items = [dict({"apiVersion": data.get("apiVersion"), "kind": data["kind"][:-4]}, **i)
                     for i in data["items"]]
        for obj in items:
            res = BY_KIND.get((obj.get("apiVersion"), obj.get("kind")))
            if res is None:
                raise ValueError("unsupported kind %s %s" % (obj.get("apiVersion"), obj.get("kind")))
            self.create(res, (meta(obj).get("namespace") or "default") if res.namespaced else None,
                        obj, replace=True)


# ------------------------------------------------------------------ HTTP

Route = collections.namedtuple("Route", "res namespace name subresource template")


def parse_route(path):
    parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        prefix, rest = "/api/" + parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        prefix, rest = "/apis/%s/%s" % (parts[1], parts[2]), parts[3:]
    else:
        return None
    ns, template = None, prefix
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest, template = rest[1], rest[2:], prefix + "/namespaces/{namespace}"
    res = BY_PATH.get((prefix, rest[0])) if 1 <= len(rest) <= 3 else None
    name, sub = (rest + [None, None])[1:3]
    if (res is None or (sub is not None and (sub != "status" or not res.has_status)) or
            (ns is not None and not res.namespaced) or (ns is None and res.namespaced and name)):
        return None
    template += "/" + res.plural + ("/{name}" if name else "") + ("/" + sub if sub else "")
    return Route(res, ns, name, sub, template)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every non-watch response has a Content-Length
    server_version = "fake-apiserver/1.0"

    def setup(self):
        super().setup()
        # No Nagle, like Go's net/http: avoids 40 ms stalls on keep-alive and
        # sends split watch chunks as separate segments.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        if self.server.api.cfg.verbose:
            sys.stderr.write("%s %s %s\n" % (time.strftime("%H:%M:%S"), self.address_string(), fmt % args))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = lambda self: self.dispatch()

    def send_body(self, code, body, ctype="application/json", headers=None):
        self.server.api.count("responses", str(code))
        self.send_response(code)
        for k, v in dict({"Content-Type": ctype, "Content-Length": str(len(body)),
                          "Cache-Control": "no-cache, private"}, **(headers or {})).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, code, obj, headers=None):
        self.send_body(code, encode(obj) + b"\n", headers=headers)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if not size:
                    while self.rfile.readline().strip():  # trailers, up to the blank line
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()  # the CRLF after the data
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def json_body(self, required=True):
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if (self.command in ("POST", "PUT") and ctype not in ("", "application/json", "*/*") and
                not self.path.startswith("/fake/")):  # the control API takes curl -d as it comes
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types "
                           "include: application/json")
        if not self.body.strip():
            if required:
                raise ApiError(400, "the request body is empty")
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, "the body of the request could not be decoded: %s" % e)

    def abort_connection(self, partial=b""):
        """Close abruptly, optionally after a partial chunk."""
        self.close_connection = True
        try:
            self.wfile.write(partial)
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def dispatch(self):
        api, self.headers_sent = self.server.api, False
        try:
            self.body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return self.send_json(400, ApiError(400, "malformed request body").status())
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if url.path in ("/healthz", "/livez", "/readyz"):
                return self.send_body(200, b"ok", "text/plain; charset=utf-8")
            if url.path.startswith("/fake/"):
                return self.control(url.path)
            if api.cfg.token and self.headers.get("Authorization", "") != "Bearer " + api.cfg.token:
                raise ApiError(401, "Unauthorized")
            route = parse_route(url.path)
            if self.command == "GET":
                verb = ("watch" if query.get("watch") in ("1", "true") else
                        "get" if route and route.name else "list")
            else:
                verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[self.command]
            key = "%s %s" % (verb, route.template if route else url.path)
            api.count("requests", key)
            with api.lock:  # who asked: the agents (libcurl, "livebind/VERSION") or the test
                api.requests_by_user_agent[self.headers.get("User-Agent", "")][key] += 1
            fault = api.take_fault(self.command, verb, url.path)
            if fault and self.apply_fault(fault, query):
                return
            if route is None:
                raise ApiError(404, "the server could not find the requested resource")
            if verb == "watch":
                return self.watch(route, query, error_event=bool(fault and fault.get("error_event_410")))
            self.serve_verb(verb, route, query)
        except ApiError as e:
            self.send_json(e.code, e.status(), e.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # bad input must never kill the server
            if api.cfg.verbose:
                traceback.print_exc()
            if self.headers_sent:
                self.abort_connection()
            else:
                self.send_json(500, ApiError(500, "Internal error occurred: %s" % e).status())

    def apply_fault(self, fault, query):
        """Returns True when the fault has answered the request."""
        time.sleep(fault.get("delay_ms", 0) / 1000.0)
        if fault.get("close"):
            self.abort_connection()
            return True
        code = fault.get("status")
        if not code:
            return False
        if code == 410:
            err = expired(query.get("resourceVersion", ""), self.server.api.store.compacted_rv + 1)
        else:
            err = ApiError(code, ("Internal error occurred: " if code >= 500 else "") + "injected fault")
        err.message, err.reason = fault.get("message", err.message), fault.get("reason", err.reason)
        if code in (429, 503):
            err.headers = {"Retry-After": str(fault.get("retry_after", 1))}
        raise err

    def control(self, path):
        api, cmd = self.server.api, self.command
        if path == "/fake/stats" and cmd == "GET":
            return self.send_json(200, api.stats())
        if path == "/fake/faults" and cmd in ("GET", "POST"):
            if cmd == "POST":
                api.add_faults(self.json_body())
            with api.lock:
                body = encode({"faults": api.rules, "expired_watch": api.expired_watch}) + b"\n"
            return self.send_body(200, body)
        if path == "/fake/reset" and cmd == "POST":
            body = self.json_body(required=False)
            api.clear_faults()
            if isinstance(body, dict) and body.get("stats"):
                api.reset_stats()
            return self.send_json(200, {"status": "ok"})
        raise ApiError(404, "unknown control endpoint %s %s" % (cmd, path))

    def serve_verb(self, verb, route, query):
        api, res, ns, name = self.server.api, route.res, route.namespace, route.name
        if verb == "list":
            return self.send_json(200, self.list_objects(route, query))
        if verb == "create":
            if name or (res.namespaced and ns is None):
                raise not_allowed()
            return self.send_json(201, api.create(res, ns, self.json_body()))
        if name is None:
            raise not_allowed()
        if verb == "get":
            with api.store.lock:
                obj = api.store.objects[res].get((ns or "", name))
            if obj is None:
                raise not_found(res, name)
            return self.send_json(200, obj)
        if verb == "update":
            return self.send_json(200, api.update(res, ns, name, self.json_body(), route.subresource))
        if verb == "delete" and not route.subresource:
            return self.send_json(200, api.delete(res, ns, name, self.json_body(required=False)))
        if verb != "patch":
            raise not_allowed()
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        patch = self.json_body() if ctype in MERGE_PATCH_TYPES + (JSON_PATCH_TYPE,) else None
        if ctype in MERGE_PATCH_TYPES:  # strategic merge is treated as a plain merge patch
            if not isinstance(patch, dict):
                raise ApiError(400, "a merge patch must be a JSON object")
            apply = lambda doc: merge_patch(doc, patch)
        elif ctype == JSON_PATCH_TYPE:
            if not isinstance(patch, list):
                raise ApiError(400, "a JSON patch must be an array of operations")
            apply = lambda doc: json_patch(doc, patch)
        else:
            raise ApiError(415, "the body of the request was in an unknown format - accepted media types "
                           "include: " + ", ".join(MERGE_PATCH_TYPES + (JSON_PATCH_TYPE,)))
        return self.send_json(200, api.update(res, ns, name, None, route.subresource, patch=apply))

    def list_objects(self, route, query):
        api, res = self.server.api, route.res
        matches = make_matcher(route.namespace, None, query)
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 0
        start, list_rv = None, None
        if query.get("continue"):  # opaque to clients: the list RV and the last key served
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"].encode()))
                list_rv, start = int(token["rv"]), tuple(token["start"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "continue key is not valid")
        with api.store.lock:
            if list_rv is not None and list_rv < api.store.compacted_rv:
                raise ApiError(410, "The provided continue parameter is too old to display a consistent "
                               "list result. You can start a new list without the continue parameter.")
            list_rv = api.store.rv if list_rv is None else list_rv
            objs = api.store.objects[res]
            items = [objs[k] for k in sorted(objs) if (start is None or k > start) and matches(objs[k])]
        md = {"resourceVersion": str(list_rv)}
        if 0 < limit < len(items):
            last = items[limit - 1]["metadata"]
            md["continue"] = base64.urlsafe_b64encode(encode(
                {"rv": list_rv, "start": [last.get("namespace", ""), last["name"]]})).decode()
            md["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if api.cfg.list_item_kind == "omit" or (api.cfg.list_item_kind == "auto" and not res.is_crd):
            items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": md, "items": items}

    def watch(self, route, query, error_event=False):
        api, store, res, cfg = self.server.api, self.server.api.store, route.res, self.server.api.cfg
        matches = make_matcher(route.namespace, route.name, query)
        try:
            deadline = time.monotonic() + float(query.get("timeoutSeconds") or cfg.watch_timeout)
            start = query.get("resourceVersion") or "0"
            pos = int(start)
        except ValueError:
            raise ApiError(400, "invalid resourceVersion or timeoutSeconds")
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        initial = []
        with store.lock:
            drop_gen, oldest = store.drop_gen, store.compacted_rv + 1
            too_old = error_event or 0 < pos < store.compacted_rv
            if too_old and not error_event and api.expired_watch == "http":
                raise expired(start, oldest)
            if pos == 0:  # "0" or absent: synthetic ADDED for the current state, then live events
                objs = store.objects[res]
                initial = [objs[k] for k in sorted(objs) if matches(objs[k])]  # encoded unlocked
                pos = store.rv
        with api.lock:
            api.watch_seq += 1
            seq = api.watch_seq
            api.totals["open_watches"] += 1
            api.totals["watches_started"] += 1
        self.send_response(200)
        for k, v in (("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"),
                     ("Cache-Control", "no-cache, private")):
            self.send_header(k, v)
        self.end_headers()
        self.headers_sent = True
        api.count("responses", "200")
        out = ChunkWriter(self.wfile, cfg.chunk_mode,
                          random.Random(None if cfg.seed is None else cfg.seed + seq))
        try:
            if too_old:
                out.write([event_line("ERROR", expired(start, oldest).status())])
                return out.finish()
            api.count("totals", "events_sent", len(initial))  # counted first: a client that
            out.write([event_line("ADDED", o) for o in initial])  # saw it, sees it counted
            next_bookmark = time.monotonic() + cfg.bookmark_interval
            while True:
                with store.lock:
                    if store.rv <= pos and store.drop_gen == drop_gen:  # sleep until a write
                        wake = min(deadline, next_bookmark if bookmarks else deadline,
                                   time.monotonic() + 0.5)  # 0.5 s: notice clients that hung up
                        store.cond.wait(max(0.0, wake - time.monotonic()))
                    dropped = store.drop_gen != drop_gen
                    lost = pos < store.compacted_rv  # fell behind the history
                    events = [] if lost else store.events_after(res, pos)
                    seen, oldest, pos = pos, store.compacted_rv + 1, max(pos, store.rv)
                lines = [ln for ev in events for ln in self.filter_event(ev, matches)]
                if dropped:
                    api.count("totals", "watches_dropped")
                    return out.abort(self, lines)
                api.count("totals", "events_sent", len(lines))
                out.write(lines)
                if lost:
                    out.write([event_line("ERROR", expired(seen, oldest).status())])
                    return out.finish()
                now = time.monotonic()
                if bookmarks and now >= next_bookmark:  # all events up to pos have been sent
                    api.count("totals", "bookmarks_sent")
                    out.write([event_line("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version,
                                                       "metadata": {"resourceVersion": str(pos)}})])
                    next_bookmark = now + cfg.bookmark_interval
                if now >= deadline:
                    return out.finish()
                if self.peer_closed():
                    self.close_connection = True
                    return
        except OSError:  # the client went away
            self.close_connection = True
        finally:
            api.count("totals", "open_watches", -1)

    @staticmethod
    def filter_event(ev, matches):
        """An event as a selector-filtered watcher sees it (like the watch cache)."""
        now_in = matches(ev.obj)
        was_in = ev.type == "MODIFIED" and ev.prev is not None and matches(ev.prev)
        if ev.type != "MODIFIED" or (now_in and was_in):
            return [ev.line] if now_in else []
        if now_in:
            return [event_line("ADDED", ev.obj)]
        if was_in:  # left the selection: DELETED with the old content at the new RV
            gone = dict(ev.prev, metadata=dict(ev.prev["metadata"], resourceVersion=str(ev.rv)))
            return [event_line("DELETED", gone)]
        return []

    def peer_closed(self):
        try:
            readable = select.select([self.connection], [], [], 0)[0]
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


class ChunkWriter:
    """Writes watch events as HTTP chunks whose boundaries deliberately do not
    line up with the JSON objects (except in "line" mode)."""

    def __init__(self, wfile, mode, rng):
        self.wfile, self.mode, self.rng = wfile, mode, rng

    def write(self, lines):
        if not lines:
            return
        if self.mode == "line":
            pieces = lines
        elif self.mode == "split":  # each event in 2 or 3 chunks, cut at random places
            pieces = []
            for ln in lines:
                cuts = sorted(self.rng.sample(range(1, len(ln)), min(len(ln) - 1, self.rng.randint(1, 2))))
                pieces += [ln[a:b] for a, b in zip([0] + cuts, cuts + [len(ln)])]
        else:  # random: coalesce the events, then cut anywhere
            data, pieces = b"".join(lines), []
            while data:
                n = self.rng.randint(1, min(len(data), 4096))
                pieces, data = pieces + [data[:n]], data[n:]
        chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces]
        if self.mode == "line":
            self.wfile.write(b"".join(chunks))
        elif self.mode == "split":
            for c in chunks:  # one send each
                self.wfile.write(c)
        else:  # random: even the chunk framing is split across sends
            raw = b"".join(chunks)
            while raw:
                n = self.rng.randint(1, min(len(raw), 8192))
                self.wfile.write(raw[:n])
                raw = raw[n:]

    def finish(self):
        self.wfile.write(b"0\r\n\r\n")

    def abort(self, handler, lines):
        """Drop the stream: announce a chunk, send only half of it, close."""
        data = b"".join(lines) or b'{"type":"MODIFIED","object":{"kind":"Dropped"}}\n'
        handler.abort_connection(b"%x\r\n%s" % (len(data), data[:max(1, len(data) // 2)]))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    block_on_close = False

    def __init__(self, addr, api):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.api = api
        super().__init__(addr, Handler)

    def handle_error(self, request, client_address):
        if self.api.cfg.verbose:  # clients hanging up are normal here
            super().handle_error(request, client_address)

    def server_bind(self):  # skips HTTPServer's reverse DNS lookup of the host
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def parse_listen(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return host.strip("[]"), int(port)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Fake Kubernetes API server: a TEST DOUBLE, not Kubernetes.")
    p.add_argument("--listen", type=parse_listen, default=("127.0.0.1", 0), metavar="HOST:PORT",
                   help="port 0 picks a free port (default 127.0.0.1:0)")
    p.add_argument("--port-file", help="write the bound port to this file once listening")
    p.add_argument("--load", action="extend", nargs="+", default=[], metavar="FILE.json",
                   help="preload objects: an object, a List or a JSON array")
    p.add_argument("--history", type=int, default=1000, help="events kept for watch resumption (1000)")
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN'")
    p.add_argument("--bookmark-interval", type=float, default=1.0, metavar="SECONDS")
    p.add_argument("--watch-timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="watch length when the client sends no timeoutSeconds (1800)")
    p.add_argument("--chunk-mode", choices=("line", "split", "random"), default="split")
    p.add_argument("--list-item-kind", choices=("auto", "omit", "keep"), default="auto",
                   help="kind/apiVersion on list items; auto: omit for built-in kinds, keep for CRDs")
    p.add_argument("--seed", type=int, help="seed for the chunk splitting")
    p.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    return p.parse_args(argv)


def main(argv=None):
    cfg = parse_args(argv)
    api = FakeAPI(cfg)
    for path in cfg.load:
        try:
            api.load_file(path)
        except (OSError, ValueError, ApiError) as e:
            sys.exit("fake_apiserver: cannot load %s: %s" % (path, e))
    server = Server(cfg.listen, api)
    port = server.server_address[1]
    if cfg.port_file:  # write, then rename: readers never see a partial file
        with open(cfg.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(cfg.port_file + ".tmp", cfg.port_file)
    if cfg.verbose:
        sys.stderr.write("fake_apiserver listening on %s:%d\n" % (cfg.listen[0], port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
