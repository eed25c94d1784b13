#!/usr/bin/env python3
"""Tests of the Kubernetes manifests in deploy/.

Run: python3 tests/deploy/test_manifests.py   (or `make check`)

Needs python3 and PyYAML only; no cluster, no root.  Checks that:
- every manifest parses and every object is named;
- the CRDs are structural and match what the agent watches; the livebind
  fixtures, the default switch and the objects
  the agent writes validate against them, and broken ones do not;
- the ClusterRole grants exactly the (group, resource, verb) triples the
  agent uses (EXPECTED_ACCESS), which a scan of the sources keeps honest;
  that the agents' real requests are granted is proved by the system
  tests themselves: they run against a real kube-apiserver with this RBAC
  and fail on any 403 in its audit log (tests/system/control-plane.sh);
- the DaemonSet can do the agent's job: host network and PID namespace,
  privileged, OVS and CNI sockets mounted where its arguments point, the
  pods' netns with HostToContainer propagation; its init container's
  command (utilities/livebind-install-cni.in), run here in a scratch
  directory, installs the plugin and the conflist; both run the image
  `make image` builds.
"""

import ast
import copy
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

try:
    import yaml
except ImportError:  # pragma: no cover
    print("SKIP: PyYAML is not installed (Debian: python3-yaml)")
    sys.exit(77)

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.normpath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(SRCDIR, "deploy")
FIXTURES = os.path.join(
    os.environ.get("LB_FIXTURES", os.path.join(SRCDIR, "tests", "fixtures")),
    "livebind")
GROUP = "livebind.io"
VERSION = "v1alpha1"

# What livebind-agent does in the API, from lib/agent-k8s.c (watches) and
# lib/agent-writes.c (every write, whichever part of the agent asks):
#   (apiGroup, resource): verbs
EXPECTED_ACCESS = {
    # Watched (list, then watch) cluster-wide; pods merge-patched with the
    # livebind.io/{logical-port,ip,mac} annotations on CNI ADD.
    ("", "pods"): {"list", "watch", "patch"},
    ("", "nodes"): {"list", "watch"},
    # NetworkPolicy and the namespaces' labels (lib/policy.c).
    ("networking.k8s.io", "networkpolicies"): {"list", "watch"},
    ("", "namespaces"): {"list", "watch"},
    ("kubevirt.io", "virtualmachineinstances"): {"list", "watch"},
    ("kubevirt.io", "virtualmachineinstancemigrations"): {"list", "watch"},
    (GROUP, "logicalswitches"): {"list", "watch"},
    # Created on CNI ADD, deleted on DEL when the owner is gone.
    (GROUP, "logicalports"): {"list", "watch", "create", "delete"},
    # Owners and activation: read-modify-write (GET + PUT of /status) and
    # merge patches dropping status.alternateOwner.
    (GROUP, "logicalports/status"): {"get", "update", "patch"},
    # Allocation by create (409 = taken), release by delete.
    (GROUP, "ipallocations"): {"create", "delete"},
    # Events on VMIs: created, and merge-patched to count a series.
    ("events.k8s.io", "events"): {"create", "patch"},
}

# Each API call site in the agent's sources, counted per file: a new call
# must be reflected in EXPECTED_ACCESS and deploy/rbac.yaml, and then here.
EXPECTED_CALL_SITES = {
    ("lib/agent-k8s.c", "k8s_watch_create"): 2,
    ("lib/agent-writes.c", "k8s_create"): 3,
    ("lib/agent-writes.c", "k8s_read_modify_write"): 1,
    ("lib/agent-writes.c", "k8s_merge_patch"): 4,
    ("lib/agent-writes.c", "k8s_delete"): 2,
}
K8S_CALLS = ("k8s_watch_create", "k8s_get", "k8s_create", "k8s_update",
             "k8s_merge_patch", "k8s_json_patch", "k8s_delete",
             "k8s_read_modify_write", "k8s_request", "k8s_request_sync",
             "k8s_read_modify_write_sync")

CONFLIST = {"cniVersion": "1.1.0", "name": "livebind",
            "plugins": [{"type": "livebind",
                         "agentSocket": "/run/livebind/cni.sock"}]}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_manifests():
    """{file name: [documents]} for every deploy/*.yaml, and the parse
    errors."""
    out, errors = {}, []
    for path in sorted(glob.glob(os.path.join(DEPLOY, "*.yaml"))):
        name = os.path.basename(path)
        try:
            with open(path, encoding="utf-8") as f:
                out[name] = [d for d in yaml.safe_load_all(f)
                             if d is not None]
        except (OSError, yaml.YAMLError) as e:
            errors.append("%s: %s" % (name, e))
            out[name] = []
    return out, errors


MANIFESTS, PARSE_ERRORS = load_manifests()


def objects(kind=None, api_version=None):
    return [d for docs in MANIFESTS.values() for d in docs
            if (kind is None or d.get("kind") == kind)
            and (api_version is None or d.get("apiVersion") == api_version)]


def the_object(kind, name):
    found = [o for o in objects(kind) if o["metadata"]["name"] == name]
    if len(found) != 1:
        raise AssertionError("expected one %s %s in deploy/, found %d"
                             % (kind, name, len(found)))
    return found[0]


def crds():
    return {c["spec"]["names"]["plural"]: c
            for c in objects("CustomResourceDefinition")}


def crd_schema(plural, version=VERSION):
    for v in crds()[plural]["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]
    raise KeyError(version)


def strip_comments(c_source):
    c_source = re.sub(r"/\*.*?\*/", " ", c_source, flags=re.S)
    return re.sub(r"//[^\n]*", " ", c_source)


# ---------------------------------------------------------------- OpenAPI
#
# A validator for the subset of OpenAPI v3 the CRDs use, with the CRD
# semantics that matter here: unknown fields would be pruned by the API
# server, so they are errors (a field the agent writes must be in the
# schema), except under a schema without "properties" (metadata).

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?"
                     r"([Zz]|[+-]\d{2}:\d{2})$")

TYPE_CHECKS = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: (isinstance(v, (int, float))
                         and not isinstance(v, bool)),
    "boolean": lambda v: isinstance(v, bool),
}


def validate(value, schema, path="", errors=None):
    """Returns the list of errors of 'value' against 'schema'."""
    if errors is None:
        errors = []
    where = path or "<root>"
    t = schema.get("type")
    if t is not None and not TYPE_CHECKS[t](value):
        errors.append("%s: %r is not of type %s" % (where, value, t))
        return errors
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r is not one of %r" % (where, value,
                                                     schema["enum"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append("%s: %r < minimum %r" % (where, value,
                                                   schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append("%s: %r > maximum %r" % (where, value,
                                                   schema["maximum"]))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append("%s: %r is shorter than %d" % (where, value,
                                                        schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s: %r is longer than %d" % (where, value,
                                                       schema["maxLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append("%s: %r does not match %s" % (where, value,
                                                        schema["pattern"]))
        if schema.get("format") == "date-time" and not RFC3339.match(value):
            errors.append("%s: %r is not an RFC 3339 date-time"
                          % (where, value))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append("%s: fewer than %d items" % (where,
                                                       schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append("%s: more than %d items" % (where,
                                                      schema["maxItems"]))
        if schema.get("x-kubernetes-list-type") == "set":
            seen = [json.dumps(v, sort_keys=True) for v in value]
            if len(set(seen)) != len(seen):
                errors.append("%s: duplicate items in a set" % where)
        if "items" in schema:
            for i, item in enumerate(value):
                validate(item, schema["items"], "%s[%d]" % (path, i), errors)
    if isinstance(value, dict):
        props = schema.get("properties")
        for name in schema.get("required", []):
            if name not in value:
                errors.append("%s: required field %r is missing"
                              % (where, name))
        for name, v in value.items():
            sub = "%s.%s" % (path, name) if path else name
            if props is not None and name in props:
                validate(v, props[name], sub, errors)
            elif props is not None and not schema.get(
                    "x-kubernetes-preserve-unknown-fields"):
                errors.append("%s: unknown field (the API server would "
                              "prune it)" % sub)
    for branch in schema.get("allOf", []):
        validate(value, branch, path, errors)
    if "anyOf" in schema:
        if not any(not validate(value, b, path) for b in schema["anyOf"]):
            errors.append("%s: matches none of anyOf %s"
                          % (where, json.dumps(schema["anyOf"])))
    if "oneOf" in schema:
        n = sum(1 for b in schema["oneOf"] if not validate(value, b, path))
        if n != 1:
            errors.append("%s: matches %d of oneOf %s (exactly 1 needed)"
                          % (where, n, json.dumps(schema["oneOf"])))
    if "not" in schema and not validate(value, schema["not"], path):
        errors.append("%s: matches \"not\" %s" % (where,
                                                   json.dumps(schema["not"])))
    return errors


SCHEMA_KEYWORDS = {
    "type", "description", "properties", "required", "items", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
    "maxLength", "minItems", "maxItems", "pattern", "enum", "format",
    "default", "nullable", "allOf", "anyOf", "oneOf", "not",
    "additionalProperties", "uniqueItems", "minProperties", "maxProperties",
    "x-kubernetes-validations", "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource", "title", "example",
}
# Not allowed in a structural schema's allOf/anyOf/oneOf/not branches.
BRANCH_FORBIDDEN = {
    "type", "description", "default", "additionalProperties", "nullable",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource", "x-kubernetes-validations",
}


def structural_errors(schema, path="", errors=None, root=True):
    """The ways 'schema' is not a structural schema (as far as checked)."""
    if errors is None:
        errors = []
    where = path or "<root>"
    unknown = set(schema) - SCHEMA_KEYWORDS
    if unknown:
        errors.append("%s: unknown keywords %s" % (where, sorted(unknown)))
    t = schema.get("type")
    untyped_ok = (schema.get("x-kubernetes-int-or-string")
                  or schema.get("x-kubernetes-preserve-unknown-fields"))
    if t is None and not untyped_ok:
        errors.append("%s: no type" % where)
    elif t is not None and t not in TYPE_CHECKS:
        errors.append("%s: unknown type %r" % (where, t))
    if "properties" in schema and t != "object":
        errors.append("%s: properties on a non-object" % where)
    if "properties" in schema and "additionalProperties" in schema:
        errors.append("%s: both properties and additionalProperties" % where)
    if t == "array" and "items" not in schema:
        errors.append("%s: array without items" % where)
    if "items" in schema and t != "array":
        errors.append("%s: items on a non-array" % where)
    if root and t != "object":
        errors.append("<root>: type must be object")
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in props:
            errors.append("%s: required %r is not a property" % (where, name))
    if schema.get("x-kubernetes-list-type") == "set":
        if schema.get("items", {}).get("type") not in ("string", "integer",
                                                      "number", "boolean"):
            errors.append("%s: a set's items must be scalars" % where)
    for rule in schema.get("x-kubernetes-validations", []):
        if not isinstance(rule.get("rule"), str) or not rule["rule"].strip():
            errors.append("%s: validation without a rule" % where)
        if "oldSelf" in rule.get("rule", "") and t in ("object", "array") \
                and path.endswith(".metadata"):
            errors.append("%s: transition rule on metadata" % where)
    if "default" in schema:
        for e in validate(schema["default"], schema, path):
            errors.append("%s: default: %s" % (where, e))
    for kw in ("allOf", "anyOf", "oneOf"):
        for i, branch in enumerate(schema.get(kw, [])):
            branch_errors(branch, schema, "%s.%s[%d]" % (where, kw, i), errors)
    if "not" in schema:
        branch_errors(schema["not"], schema, "%s.not" % where, errors)
    for name, sub in props.items():
        if root and name == "metadata" and set(sub) - {"type"}:
            errors.append("metadata: only \"type: object\" is allowed at the "
                          "root (and restrictions of name)")
        structural_errors(sub, "%s.%s" % (path, name) if path else name,
                          errors, root=False)
    if isinstance(schema.get("items"), dict):
        structural_errors(schema["items"], path + "[]", errors, root=False)
    return errors


def branch_errors(branch, parent, where, errors):
    bad = set(branch) & BRANCH_FORBIDDEN
    if bad:
        errors.append("%s: %s not allowed in a value validation"
                      % (where, sorted(bad)))
    props = parent.get("properties", {})
    for name in branch.get("required", []):
        if name not in props:
            errors.append("%s: required %r is not a property of the parent"
                          % (where, name))
    for name, sub in branch.get("properties", {}).items():
        if name not in props:
            errors.append("%s: property %r is not in the parent" % (where,
                                                                    name))
        else:
            branch_errors(sub, props[name], "%s.%s" % (where, name), errors)


def schema_at(schema, json_path):
    """The sub-schema for a printer column's jsonPath such as .spec.ips[0]."""
    for part in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", json_path):
        name, index = part
        if name:
            if name == "metadata" and schema is not None \
                    and "properties" not in schema.get("properties", {}).get(
                        "metadata", {}):
                return {"type": "object"}   # ObjectMeta, not in the schema
            schema = (schema or {}).get("properties", {}).get(name)
        else:
            schema = (schema or {}).get("items")
        if schema is None:
            return None
    return schema


# ---------------------------------------------------------------- requests

def template_to_resource(template):
    """(group, resource) of a fake API server path template such as
    "/apis/livebind.io/v1alpha1/namespaces/{namespace}/logicalports/{name}/
    status" (then "logicalports/status", with the subresource), or None if
    'template' is not an API path."""
    parts = [p for p in template.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    resource = rest[0]
    if len(rest) >= 3:
        resource += "/" + rest[2]
    return group, resource


def requests_from_log(stats):
    """{"verb path-template": count} of the agents' requests (User-Agent
    "livebind/VERSION", as lib/k8s-client.c sends it) in a saved
    GET /fake/stats answer, or None if it does not count requests per
    client: then the test's own requests (curl creating pods, VMIs...)
    cannot be told apart."""
    by_agent = stats.get("requests_by_user_agent")
    if not isinstance(by_agent, dict):
        return None
    out = {}
    for agent, reqs in by_agent.items():
        if agent.split("/")[0] == "livebind":
            for k, n in reqs.items():
                out[k] = out.get(k, 0) + n
    return out


def granted_triples(role):
    out = set()
    for rule in role.get("rules", []):
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                for v in rule.get("verbs", []):
                    out.add((g, r, v))
    return out


def expected_triples():
    return {(g, r, v) for (g, r), verbs in EXPECTED_ACCESS.items()
            for v in verbs}


# ---------------------------------------------------------------- tests

class ManifestTest(unittest.TestCase):
    def test_manifests_parse(self):
        self.assertFalse(PARSE_ERRORS, "\n".join(PARSE_ERRORS))

    def test_manifests_exist(self):
        self.assertEqual(
            sorted(MANIFESTS),
            ["crds.yaml", "daemonset.yaml", "default-switch.yaml",
             "rbac.yaml", "sample-vm.yaml"])

    def test_every_object_is_named(self):
        seen = set()
        for name, docs in MANIFESTS.items():
            self.assertTrue(docs, "%s has no objects" % name)
            for d in docs:
                with self.subTest(file=name, obj=d.get("kind")):
                    self.assertIsInstance(d, dict)
                    self.assertIsInstance(d.get("apiVersion"), str)
                    self.assertIsInstance(d.get("kind"), str)
                    self.assertIsInstance(d.get("metadata"), dict)
                    self.assertRegex(d["metadata"].get("name", ""),
                                     r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")
                    key = (d["apiVersion"], d["kind"],
                           d["metadata"].get("namespace"),
                           d["metadata"]["name"])
                    self.assertNotIn(key, seen, "duplicate object")
                    seen.add(key)

    def test_namespaced_objects_have_their_namespace(self):
        namespaces = {n["metadata"]["name"] for n in objects("Namespace")}
        self.assertIn("livebind", namespaces)
        for kind in ("ServiceAccount", "DaemonSet"):
            for o in objects(kind):
                self.assertIn(o["metadata"].get("namespace"), namespaces,
                              "%s %s" % (kind, o["metadata"]["name"]))


class CrdTest(unittest.TestCase):
    EXPECTED = {  # plural: (kind, scope, has /status)
        "logicalswitches": ("LogicalSwitch", "Cluster", False),
        "logicalports": ("LogicalPort", "Namespaced", True),
        "ipallocations": ("IPAllocation", "Cluster", False),
    }

    def test_the_three_crds(self):
        self.assertEqual(sorted(crds()), sorted(self.EXPECTED))
        for plural, (kind, scope, status) in self.EXPECTED.items():
            with self.subTest(crd=plural):
                c = crds()[plural]
                self.assertEqual(c["apiVersion"], "apiextensions.k8s.io/v1")
                self.assertEqual(c["metadata"]["name"], plural + "." + GROUP)
                spec = c["spec"]
                self.assertEqual(spec["group"], GROUP)
                self.assertEqual(spec["scope"], scope)
                names = spec["names"]
                self.assertEqual(names["kind"], kind)
                self.assertEqual(names["plural"], plural)
                self.assertEqual(names["listKind"], kind + "List")
                self.assertEqual(names["singular"], kind.lower())
                for v in spec["versions"]:
                    self.assertEqual("status" in v.get("subresources", {}),
                                     status, v["name"])

    def test_versions(self):
        for plural, c in crds().items():
            with self.subTest(crd=plural):
                versions = c["spec"]["versions"]
                self.assertTrue(versions)
                self.assertEqual(len({v["name"] for v in versions}),
                                 len(versions))
                for v in versions:
                    self.assertIsInstance(v.get("served"), bool)
                    self.assertIsInstance(v.get("storage"), bool)
                    self.assertEqual(v["schema"]["openAPIV3Schema"]["type"],
                                     "object")
                self.assertEqual(sum(v["storage"] for v in versions), 1,
                                 "exactly one storage version")
                self.assertIn(VERSION, [v["name"] for v in versions
                                        if v["served"]])

    def test_schemas_are_structural(self):
        for plural in crds():
            for v in crds()[plural]["spec"]["versions"]:
                with self.subTest(crd=plural, version=v["name"]):
                    errors = structural_errors(v["schema"]["openAPIV3Schema"])
                    self.assertEqual(errors, [])

    def test_printer_columns_point_into_the_schema(self):
        for plural, c in crds().items():
            for v in c["spec"]["versions"]:
                schema = v["schema"]["openAPIV3Schema"]
                for col in v.get("additionalPrinterColumns", []):
                    with self.subTest(crd=plural, column=col["name"]):
                        sub = schema_at(schema, col["jsonPath"])
                        self.assertIsNotNone(sub, col["jsonPath"])
                        if col["type"] in ("integer", "string"):
                            self.assertEqual(sub.get("type"), col["type"])

    def test_logicalport_columns(self):
        v = [v for v in crds()["logicalports"]["spec"]["versions"]
             if v["name"] == VERSION][0]
        paths = {c["jsonPath"] for c in v["additionalPrinterColumns"]
                 if not c.get("priority")}
        self.assertLessEqual({".spec.ips[0]", ".spec.mac",
                              ".status.activeOwner.node",
                              ".status.alternateOwner.node"}, paths)

    def test_agent_watches_these_resources(self):
        """The CRDs are what lib/agent-k8s.c watches and agent-writes.c
        writes."""
        src = read(os.path.join(SRCDIR, "lib", "agent-k8s.c")) + \
            read(os.path.join(SRCDIR, "lib", "agent-writes.c"))
        used = set(re.findall(r"/apis/livebind\.io/v1alpha1/"
                              r"(?:namespaces/%s/)?([a-z]+)", src))
        self.assertEqual(used, set(self.EXPECTED))


class SchemaValidationTest(unittest.TestCase):
    """The objects livebind reads and writes validate against the CRDs, and
    objects the agent would reject do not."""

    KIND_TO_PLURAL = {"LogicalSwitch": "logicalswitches",
                      "LogicalPort": "logicalports",
                      "IPAllocation": "ipallocations"}

    def assert_valid(self, obj, msg=None):
        self.assertEqual(obj.get("apiVersion"), GROUP + "/" + VERSION)
        plural = self.KIND_TO_PLURAL[obj["kind"]]
        self.assertEqual(validate(obj, crd_schema(plural)), [], msg)

    def assert_invalid(self, obj, msg=None):
        plural = self.KIND_TO_PLURAL[obj["kind"]]
        self.assertNotEqual(validate(obj, crd_schema(plural)), [], msg)

    def fixture(self, name):
        with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
            return json.load(f)

    def test_fixtures_validate(self):
        files = sorted(glob.glob(os.path.join(FIXTURES, "*.json")))
        self.assertGreaterEqual(len(files), 5)
        for path in files:
            with self.subTest(fixture=os.path.basename(path)):
                self.assert_valid(self.fixture(path))

    def test_default_switch_validates(self):
        sw = the_object("LogicalSwitch", "pods")
        self.assert_valid(sw)
        # The agent's CNI handling looks for the switch by this name.
        src = read(os.path.join(SRCDIR, "lib", "agent-cni.c"))
        self.assertIn('#define DEFAULT_SWITCH "pods"', src)
        self.assertLessEqual(sw["spec"]["mtu"], 1500 - 50)

    def test_agent_written_objects_validate(self):
        """Shapes built as lib/agent-writes.c builds them (json_pack
        formats there)."""
        port = {
            "apiVersion": "livebind.io/v1alpha1", "kind": "LogicalPort",
            "metadata": {"name": "web-0", "namespace": "default"},
            "spec": {"switch": "pods", "tunnelKey": (1 << 24) | 5,
                     "mac": "0a:58:0a:f4:00:05", "ips": ["10.244.0.5"],
                     "pod": "web-0"},
            "status": {"activeOwner": {"pod": "web-0", "podUID": "",
                                       "node": "node-a"}},
        }
        self.assert_valid(port)
        port["status"]["alternateOwner"] = {
            "pod": "virt-launcher-vm-x", "podUID": "u", "node": "node-b",
            "migrationUID": "m"}
        port["status"]["activation"] = {
            "node": "node-b", "migrationUID": "m",
            "time": "2026-11-22T02:03:28Z", "cause": "RARP on ofport 11"}
        self.assert_valid(port)
        alloc = {
            "apiVersion": "livebind.io/v1alpha1", "kind": "IPAllocation",
            "metadata": {"name": "pods-10-244-0-5"},
            "spec": {"switch": "pods", "ip": "10.244.0.5",
                     "port": "default/web-0"},
        }
        self.assert_valid(alloc)
        # The system tests' k8s_switch.
        self.assert_valid({
            "apiVersion": "livebind.io/v1alpha1", "kind": "LogicalSwitch",
            "metadata": {"name": "pods"},
            "spec": {"tunnelKey": 1, "subnet": "10.30.0.0/16",
                     "gateway": "10.30.0.1", "mtu": 1400}})

    def test_bad_ports_are_rejected(self):
        base = self.fixture("logicalport-testvm-activated.json")

        def broken(mutate):
            obj = copy.deepcopy(base)
            mutate(obj)
            return obj

        cases = {
            "vm and pod": lambda o: o["spec"].update(pod="p"),
            "neither vm nor pod": lambda o: o["spec"].pop("vm"),
            "empty vm": lambda o: o["spec"].update(vm=""),
            "no switch": lambda o: o["spec"].pop("switch"),
            "no ips, no key": lambda o: (o["spec"].pop("ips"),
                                         o["spec"].pop("tunnelKey")),
            "multicast MAC": lambda o: o["spec"].update(
                mac="01:00:5e:00:00:01"),
            "short MAC": lambda o: o["spec"].update(mac="0a:58:0a:10:00"),
            "bad IP": lambda o: o["spec"].update(ips=["10.16.0.256"]),
            "IPv6 prefix": lambda o: o["spec"].update(ips=["fd00::/64"]),
            "duplicate IPs": lambda o: o["spec"].update(
                ips=["10.16.0.10", "10.16.0.10"]),
            "too many IPs": lambda o: o["spec"].update(
                ips=["10.16.0.%d" % i for i in range(1, 10)]),
            "key 0": lambda o: o["spec"].update(tunnelKey=0),
            "key too big": lambda o: o["spec"].update(tunnelKey=1 << 31),
            "key as string": lambda o: o["spec"].update(tunnelKey="1"),
            "owner without node": lambda o: o["status"]["activeOwner"].pop(
                "node"),
            "alternate without migration": lambda o: o["status"][
                "alternateOwner"].pop("migrationUID"),
            "bad activation time": lambda o: o["status"][
                "activation"].update(time="yesterday"),
            "unknown spec field": lambda o: o["spec"].update(vlan=5),
        }
        for name, mutate in cases.items():
            with self.subTest(case=name):
                self.assert_invalid(broken(mutate), name)

    def test_bad_switches_are_rejected(self):
        base = self.fixture("logicalswitch-pods.json")
        cases = {
            "key 0": {"tunnelKey": 0},
            "key 128": {"tunnelKey": 128},
            "no prefix": {"subnet": "10.16.0.0"},
            "prefix 31": {"subnet": "10.16.0.0/31"},
            "prefix 7": {"subnet": "10.0.0.0/7"},
            "bad gateway": {"gateway": "10.16.0"},
            "mtu 100": {"mtu": 100},
            "mtu 9001": {"mtu": 9001},
            "IPv6 /48": {"ipv6Prefix": "fd00:10:16::/48"},
            "IPv6 garbage": {"ipv6Prefix": "x/64"},
            "bad gateway6": {"ipv6Prefix": "fd00::/64", "gateway6": "fd00::/64"},
            "egress without nodes": {"egressGateway": {}},
            "egress, no node": {"egressGateway": {"nodes": []}},
            "egress, 17 nodes": {"egressGateway": {
                "nodes": ["n%d" % i for i in range(17)]}},
            "egress, bad name": {"egressGateway": {"nodes": ["Node3"]}},
            "egress, not a list": {"egressGateway": {"nodes": "node3"}},
        }
        for name, change in cases.items():
            with self.subTest(case=name):
                obj = copy.deepcopy(base)
                obj["spec"].update(change)
                self.assert_invalid(obj, name)
        obj = copy.deepcopy(base)
        del obj["spec"]["tunnelKey"]
        self.assert_invalid(obj, "no key")

    def test_dual_stack_and_ipv6_only_validate(self):
        obj = self.fixture("logicalswitch-pods.json")
        obj["spec"].update(ipv6Prefix="fd00:10:16::/64",
                           gateway6="fd00:10:16::1")
        self.assert_valid(obj)
        del obj["spec"]["subnet"]
        del obj["spec"]["gateway"]
        self.assert_valid(obj)
        obj["spec"]["egressGateway"] = {"nodes": ["node3", "node2"]}
        self.assert_valid(obj)
        port = self.fixture("logicalport-testvm-new.json")
        port["spec"]["ips"] = ["10.16.0.10", "fd00:10:16::858:aff:fe10:a"]
        self.assert_valid(port)
        port["spec"]["ips"] = ["fd00:10:16::858:aff:fe10:a"]
        self.assert_valid(port)

    def test_bad_allocations_are_rejected(self):
        good = {"apiVersion": "livebind.io/v1alpha1", "kind": "IPAllocation",
                "metadata": {"name": "pods-10-16-0-10"},
                "spec": {"switch": "pods", "ip": "10.16.0.10",
                         "port": "default/testvm"}}
        self.assert_valid(good)
        for name, change in {"port without namespace": {"port": "testvm"},
                             "bad ip": {"ip": "10.16.0.1/32"}}.items():
            with self.subTest(case=name):
                obj = copy.deepcopy(good)
                obj["spec"].update(change)
                self.assert_invalid(obj, name)


class RbacTest(unittest.TestCase):
    def role(self):
        return the_object("ClusterRole", "livebind-agent")

    def test_rules_are_plain(self):
        for rule in self.role()["rules"]:
            with self.subTest(rule=rule):
                self.assertNotIn("nonResourceURLs", rule)
                self.assertNotIn("resourceNames", rule)
                for key in ("apiGroups", "resources", "verbs"):
                    self.assertTrue(rule.get(key), key)
                    self.assertNotIn("*", rule[key], "no wildcards")

    def test_grants_what_the_agent_uses(self):
        missing = expected_triples() - granted_triples(self.role())
        self.assertEqual(missing, set(), "not granted")

    def test_grants_nothing_more(self):
        extra = granted_triples(self.role()) - expected_triples()
        self.assertEqual(extra, set(), "granted but not used")

    def test_bound_to_the_agent(self):
        sa = the_object("ServiceAccount", "livebind-agent")
        binding = the_object("ClusterRoleBinding", "livebind-agent")
        self.assertEqual(binding["roleRef"], {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
            "name": "livebind-agent"})
        self.assertEqual(binding["subjects"], [{
            "kind": "ServiceAccount", "name": "livebind-agent",
            "namespace": sa["metadata"]["namespace"]}])
        ds = the_object("DaemonSet", "livebind-agent")
        self.assertEqual(ds["metadata"]["namespace"],
                         sa["metadata"]["namespace"])
        self.assertEqual(ds["spec"]["template"]["spec"]["serviceAccountName"],
                         "livebind-agent")

    def test_watched_collections_are_expected(self):
        """Every collection in lib/agent-k8s.c's watch_paths is listed and
        watched in EXPECTED_ACCESS."""
        src = strip_comments(read(os.path.join(SRCDIR, "lib",
                                               "agent-k8s.c")))
        paths = re.findall(r'\]\s*=\s*"(/apis?/[^"]+)"', src)
        self.assertEqual(len(paths), 8, paths)
        for path in paths:
            with self.subTest(path=path):
                group, resource = template_to_resource(path)
                verbs = EXPECTED_ACCESS.get((group, resource), set())
                self.assertLessEqual({"list", "watch"}, verbs)

    def test_api_call_sites_are_accounted_for(self):
        """A new API call in the agent must be added to EXPECTED_ACCESS (and
        deploy/rbac.yaml), then to EXPECTED_CALL_SITES."""
        found = {}
        files = (glob.glob(os.path.join(SRCDIR, "lib", "*.c"))
                 + glob.glob(os.path.join(SRCDIR, "ovn-agent", "*.c"))
                 + glob.glob(os.path.join(SRCDIR, "cni-plugin", "*.c")))
        for path in files:
            rel = os.path.relpath(path, SRCDIR)
            if os.path.basename(path) in ("k8s-client.c", "k8s-config.c",
                                          "k8s-stream.c"):
                continue        # the client itself
            src = strip_comments(read(path))
            for fn in K8S_CALLS:
                n = len(re.findall(r"\b%s\s*\(" % fn, src))
                if n:
                    found[(rel, fn)] = n
        self.assertEqual(found, EXPECTED_CALL_SITES,
                         "the agent's API calls changed: check the verbs "
                         "against EXPECTED_ACCESS and deploy/rbac.yaml, "
                         "then update EXPECTED_CALL_SITES")

    def test_write_paths(self):
        """The resources the write call sites address."""
        src = strip_comments(read(os.path.join(SRCDIR, "lib",
                                               "agent-writes.c")))
        # Adjacent string literals joined, as the compiler does.
        src = re.sub(r'"\s*\n\s*"', "", src)
        self.assertIn('#define PORTS_PATH "/apis/livebind.io/v1alpha1/'
                      'namespaces/%s/logicalports"', src)
        self.assertIn('PORTS_PATH"/%s/status"', src)
        self.assertIn('PORTS_PATH"/%s"', src)
        self.assertIn('ALLOCATIONS_PATH"/%s"', src)
        self.assertIn('"/api/v1/namespaces/%s/pods/%s"', src)

    def test_request_log(self):
        """With LB_API_REQUEST_LOG=FILE[:FILE...] (GET /fake/stats saved
        after system tests), every request the agents made is granted."""
        logs = [p for p in os.environ.get("LB_API_REQUEST_LOG",
                                          "").split(os.pathsep) if p]
        if not logs:
            self.skipTest("LB_API_REQUEST_LOG not set")
        requests = {}
        for log in logs:
            with open(log, encoding="utf-8") as f:
                stats = json.load(f)
            reqs = requests_from_log(stats)
            if reqs is None:
                self.skipTest("%s has no requests_by_user_agent: the agents' "
                              "requests cannot be told from the test's" % log)
            self.assertTrue(reqs, "%s holds no request from livebind" % log)
            for k, n in reqs.items():
                requests[k] = requests.get(k, 0) + n
        granted = granted_triples(self.role())
        seen, denied = set(), []
        for key, count in sorted(requests.items()):
            verb, _, template = key.partition(" ")
            res = template_to_resource(template)
            if res is None:
                denied.append("%s (%d): not an API path" % (key, count))
                continue
            triple = (res[0], res[1], verb)
            seen.add(triple)
            if triple not in granted:
                denied.append("%s (%d): %r is not granted" % (key, count,
                                                              triple))
        unexercised = sorted(expected_triples() - seen)
        sys.stderr.write(
            "\n%s: %d kinds of request by livebind; granted but not "
            "exercised: %s\n"
            % (":".join(logs), len(requests),
               ", ".join("%s %s/%s" % (v, g or "core", r)
                         for g, r, v in unexercised) or "none"))
        self.assertFalse(denied, "requests the ClusterRole would deny:\n"
                         + "\n".join(denied))


class DaemonSetTest(unittest.TestCase):
    def setUp(self):
        self.ds = the_object("DaemonSet", "livebind-agent")
        self.pod = self.ds["spec"]["template"]["spec"]
        self.agent = [c for c in self.pod["containers"]
                      if c["name"] == "livebind-agent"][0]
        self.volumes = {v["name"]: v for v in self.pod["volumes"]}

    def args(self):
        out = {}
        for a in self.agent.get("args", []):
            if a.startswith("--"):
                name, _, value = a[2:].partition("=")
                out[name] = value
        return out

    def host_path_of(self, container, path):
        """The host path at 'path' in 'container', or None."""
        best = None
        for m in container.get("volumeMounts", []):
            mp = m["mountPath"].rstrip("/")
            if path == mp or path.startswith(mp + "/"):
                if best is None or len(mp) > len(best[0]):
                    best = (mp, m)
        if best is None:
            return None
        vol = self.volumes[best[1]["name"]]
        if "hostPath" not in vol:
            return None
        return vol["hostPath"]["path"].rstrip("/") + path[len(best[0]):]

    def test_host_namespaces_and_privilege(self):
        self.assertIs(self.pod.get("hostNetwork"), True)
        self.assertIs(self.pod.get("hostPID"), True)
        self.assertEqual(self.pod.get("dnsPolicy"), "ClusterFirstWithHostNet")
        self.assertIs(self.agent["securityContext"]["privileged"], True)
        self.assertIn({"operator": "Exists"}, self.pod["tolerations"])
        self.assertEqual(self.ds["spec"]["selector"]["matchLabels"],
                         {k: v for k, v in self.ds["spec"]["template"]
                          ["metadata"]["labels"].items()
                          if k in self.ds["spec"]["selector"]["matchLabels"]})

    def test_arguments_are_agent_options(self):
        src = read(os.path.join(SRCDIR, "ovn-agent", "main.c"))
        options = set(re.findall(r'\{"([a-z-]+)",\s*(?:required|no|optional)'
                                 r'_argument', src))
        self.assertIn("node", options)
        for a in self.agent["args"]:
            with self.subTest(arg=a):
                if a.startswith("--"):
                    self.assertIn(a[2:].partition("=")[0], options)
                else:
                    self.assertRegex(a, r"^-v[a-z]+:[a-z]+$")
        self.assertEqual(self.agent["command"], ["livebind-agent"])
        args = self.args()
        self.assertEqual(args["node"], "$(NODE_NAME)")
        self.assertEqual(args["datapath-type"], "system")
        self.assertNotIn("kubeconfig", args)    # in-cluster configuration
        self.assertNotIn("k8s-server", args)
        env = {e["name"]: e for e in self.agent["env"]}
        self.assertEqual(env["NODE_NAME"]["valueFrom"]["fieldRef"]
                         ["fieldPath"], "spec.nodeName")

    def test_ovs_sockets(self):
        args = self.args()
        for name, sock in (("ovsdb", "db.sock"), ("openflow", "br-int.mgmt")):
            with self.subTest(option=name):
                target = args[name]
                self.assertTrue(target.startswith("unix:"), target)
                path = target[len("unix:"):]
                self.assertEqual(os.path.basename(path), sock)
                self.assertEqual(self.host_path_of(self.agent, path),
                                 "/var/run/openvswitch/" + sock)

    def test_cni_socket(self):
        sock = self.args()["cni-socket"]
        # The plugin runs on the host and dials the host path, so the agent
        # must see it at the same path.
        self.assertEqual(self.host_path_of(self.agent, sock), sock)
        self.assertEqual(sock, CONFLIST["plugins"][0]["agentSocket"])

    def test_control_socket_and_probes(self):
        ctl = self.args()["unixctl"]
        self.assertIsNotNone(self.host_path_of(self.agent, ctl))
        for probe in ("readinessProbe", "livenessProbe"):
            with self.subTest(probe=probe):
                cmd = self.agent[probe]["exec"]["command"]
                self.assertIn(ctl, " ".join(cmd))
                self.assertIn("ovs-appctl", " ".join(cmd))

    def test_readiness_script(self):
        """The readiness script, run against a stand-in ovs-appctl."""
        cmd = self.agent["readinessProbe"]["exec"]["command"]
        self.assertEqual(cmd[:2], ["/bin/sh", "-ec"])
        cases = [("Pod: 3 cached\n", "5 5", 0),
                 ("Pod: 0 cached (not synced)\n", "5 5", 1),
                 ("Pod: 3 cached\n", "0 0", 1),
                 (None, None, 1)]     # the agent does not answer
        with tempfile.TemporaryDirectory() as tmp:
            fake = os.path.join(tmp, "ovs-appctl")
            for k8s, seqno, want in cases:
                with self.subTest(k8s=k8s, seqno=seqno):
                    with open(fake, "w") as f:
                        if k8s is None:
                            f.write("#!/bin/sh\nexit 1\n")
                        else:
                            f.write("#!/bin/sh\ncase $3 in k8s) printf '%%s' "
                                    "'%s';; seqno) echo '%s';; *) exit 2;; "
                                    "esac\n" % (k8s, seqno))
                    os.chmod(fake, 0o755)
                    env = dict(os.environ,
                               PATH=tmp + os.pathsep + os.environ["PATH"])
                    rc = subprocess.call(["sh", "-ec", cmd[2]], env=env,
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
                    self.assertEqual(rc != 0, want != 0, rc)

    def test_netns_mount(self):
        mounts = {m["mountPath"]: m for m in self.agent["volumeMounts"]}
        m = mounts["/var/run/netns"]
        self.assertEqual(m.get("mountPropagation"), "HostToContainer")
        self.assertEqual(self.volumes[m["name"]]["hostPath"]["path"],
                         "/var/run/netns")

    def test_resources(self):
        for c in self.pod["containers"] + self.pod["initContainers"]:
            with self.subTest(container=c["name"]):
                self.assertIn("requests", c["resources"])
                self.assertIn("memory", c["resources"]["limits"])

    def test_images(self):
        """Both containers run the image `make image` builds, by the name
        utilities/build-image.sh gives it."""
        version = re.search(r"AC_INIT\(\[livebind\], *\[([^]]+)\]",
                            read(os.path.join(SRCDIR, "configure.ac")))
        images = {c["image"] for c in self.pod["containers"]
                  + self.pod["initContainers"]}
        self.assertEqual(images, {"localhost/livebind:" + version.group(1)})
        script = read(os.path.join(SRCDIR, "utilities", "build-image.sh"))
        self.assertIn("name=${name:-localhost/livebind:$version}", script)

    def install_cni(self, args, plugin_mode=0o644):
        """Runs utilities/livebind-install-cni.in with ARGS, whose /host/
        paths are moved into a scratch directory; returns (exit status,
        scratch host directory, plugin path, stderr)."""
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        host = os.path.join(tmp, "host")
        for d in ("opt/cni/bin", "etc/cni/net.d", "run/livebind"):
            os.makedirs(os.path.join(host, d), mode=0o755)
        os.chmod(os.path.join(host, "run/livebind"), 0o755)
        plugin = os.path.join(tmp, "livebind-plugin")
        with open(plugin, "w") as f:
            f.write("#!/bin/sh\necho plugin\n")
        os.chmod(plugin, plugin_mode)
        env = dict(os.environ)
        if os.geteuid() != 0:
            # Test double: only root may chown to root.  It records the
            # call instead; the packaging test runs the real one as root.
            fakebin = os.path.join(tmp, "bin")
            os.mkdir(fakebin)
            with open(os.path.join(fakebin, "chown"), "w") as f:
                f.write('#!/bin/sh\necho "$@" >> "%s/chown.log"\n' % tmp)
            os.chmod(os.path.join(fakebin, "chown"), 0o755)
            env["PATH"] = fakebin + os.pathsep + env["PATH"]
        args = [a.replace("=/host/", "=" + host + "/") for a in args]
        proc = subprocess.run(
            ["sh", os.path.join(SRCDIR, "utilities",
                                "livebind-install-cni.in"),
             "--plugin=" + plugin] + args, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            universal_newlines=True)
        return proc.returncode, host, plugin, proc.stderr

    def test_init_container_installs_the_plugin(self):
        """Runs the init container's command, livebind-install-cni, with
        its arguments and /host moved into a scratch directory."""
        init = [c for c in self.pod["initContainers"]
                if c["name"] == "install-cni"][0]
        self.assertEqual(init["command"], ["livebind-install-cni"])
        args = dict(a[2:].split("=", 1) for a in init["args"])
        self.assertNotIn("plugin", args)    # where its package put it
        mounts = {m["mountPath"]: self.volumes[m["name"]]["hostPath"]["path"]
                  for m in init["volumeMounts"]}
        self.assertEqual(mounts, {"/host/opt/cni/bin": "/opt/cni/bin",
                                  "/host/etc/cni/net.d": "/etc/cni/net.d",
                                  "/host/run/livebind": "/run/livebind"})
        self.assertEqual(args["bin-dir"], "/host/opt/cni/bin")
        self.assertEqual(args["conf-dir"], "/host/etc/cni/net.d")
        # The directory it secures holds the agent's CNI socket, which the
        # conflist names by its host path.
        self.assertEqual(mounts[args["run-dir"]], "/run/livebind")
        self.assertEqual(self.host_path_of(self.agent,
                                           self.args()["cni-socket"]),
                         args["socket"])
        rc, host, plugin, err = self.install_cni(init["args"])
        self.assertEqual(rc, 0, err)
        with open(host + "/etc/cni/net.d/10-livebind.conflist") as f:
            self.assertEqual(json.load(f), CONFLIST)
        installed = host + "/opt/cni/bin/livebind"
        self.assertEqual(read(installed), read(plugin))
        self.assertEqual(stat.S_IMODE(os.stat(installed).st_mode), 0o755)
        self.assertEqual(stat.S_IMODE(os.stat(
            host + "/etc/cni/net.d/10-livebind.conflist").st_mode), 0o644)
        self.assertEqual(stat.S_IMODE(os.stat(host + "/run/livebind")
                                      .st_mode), 0o700)
        self.assertEqual(sorted(os.listdir(host + "/etc/cni/net.d")),
                         ["10-livebind.conflist"])
        self.assertEqual(sorted(os.listdir(host + "/opt/cni/bin")),
                         ["livebind"])
        # The plugin's type is the binary's name, as runtimes look it up.
        self.assertEqual(CONFLIST["plugins"][0]["type"], "livebind")

    def test_install_cni_refuses_bad_arguments(self):
        """Bad arguments: a clear error, and nothing written."""
        good = ["--bin-dir=/host/opt/cni/bin",
                "--conf-dir=/host/etc/cni/net.d",
                "--run-dir=/host/run/livebind"]
        cases = [(["--socket=/run/a\"b.sock"], "escaped"),
                 (["--socket=relative.sock"], "absolute"),
                 (["--conf-dir=/host/nowhere"], "no directory"),
                 (["--frobnicate"], "unknown argument")]
        for extra, message in cases:
            with self.subTest(args=extra):
                rc, host, _, err = self.install_cni(good + extra)
                self.assertNotEqual(rc, 0)
                self.assertIn(message, err)
                self.assertEqual(os.listdir(host + "/opt/cni/bin"), [])
                self.assertEqual(os.listdir(host + "/etc/cni/net.d"), [])


class SampleVmTest(unittest.TestCase):
    def test_sample_vm(self):
        vms = objects("VirtualMachine", "kubevirt.io/v1")
        self.assertEqual(len(vms), 1)
        tmpl = vms[0]["spec"]["template"]
        header = read(os.path.join(SRCDIR, "lib", "k8s-objects.h"))
        annotation = "kubevirt.io/allow-pod-bridge-network-live-migration"
        self.assertIn('"%s"' % annotation, header)
        self.assertEqual(tmpl["metadata"]["annotations"][annotation], "true")
        spec = tmpl["spec"]
        ifaces = spec["domain"]["devices"]["interfaces"]
        nets = {n["name"]: n for n in spec["networks"]}
        self.assertEqual(len(ifaces), 1)
        self.assertEqual(ifaces[0].get("bridge"), {})
        self.assertEqual(nets[ifaces[0]["name"]], {"name": "default",
                                                   "pod": {}})
        disks = {d["name"] for d in spec["domain"]["devices"]["disks"]}
        vols = {v["name"]: v for v in spec["volumes"]}
        self.assertEqual(disks, set(vols))
        self.assertTrue(any("containerDisk" in v for v in vols.values()))

    def test_migration_example(self):
        """The commented VirtualMachineInstanceMigration parses and names
        the VM."""
        text = read(os.path.join(DEPLOY, "sample-vm.yaml"))
        block = re.search(r"^# ---\n((?:#(?: [^\n]*)?\n)+?)#\n", text, re.M)
        self.assertIsNotNone(block)
        vmim = yaml.safe_load(re.sub(r"^# ?", "", block.group(1), flags=re.M))
        self.assertEqual(vmim["apiVersion"], "kubevirt.io/v1")
        self.assertEqual(vmim["kind"], "VirtualMachineInstanceMigration")
        vm = objects("VirtualMachine")[0]
        self.assertEqual(vmim["spec"]["vmiName"], vm["metadata"]["name"])
        self.assertEqual(vmim["metadata"]["namespace"],
                         vm["metadata"]["namespace"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
