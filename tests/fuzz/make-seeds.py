#!/usr/bin/env python3
# Builds the seed corpora of the fuzz harnesses from the fixtures (JSON
# objects as the API server sends them), in the input format of each
# harness (tests/fuzz/README.md).  Seeds kept in git, each defect's input
# among them, are under tests/fuzz/corpus/ and need no building.
#
# Usage: make-seeds.py OUT-DIR FIXTURE-DIR...
import glob
import json
import os
import sys


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def write(out, harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def main():
    out, dirs = sys.argv[1], sys.argv[2:]
    objects = {}            # file name -> object; the first directory wins
    streams = {}
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*", "*.json*"))):
            name = os.path.basename(path)
            with open(path, "rb") as f:
                raw = f.read()
            if name.endswith(".jsonl"):
                streams.setdefault(name, raw)
            else:
                objects.setdefault(name, json.loads(raw))

    # Kubernetes objects: each fixture as it is, and list items.
    for name, obj in objects.items():
        write(out, "k8s-objects", name, compact(obj))
        for i, item in enumerate(obj.get("items", [])[:8]):
            write(out, "k8s-objects", "%s-item%d" % (name, i), compact(item))

    # Watch stream: a control byte, then events.  Whole fixtures streams,
    # split and bounded in a few ways, and every object as an event.
    for name, raw in streams.items():
        for control in (0x00, 0x13, 0x80, 0xf7):
            write(out, "k8s-stream", "%s-%02x" % (name, control),
                  bytes([control]) + raw)
    lines = []
    for name, obj in sorted(objects.items()):
        if obj.get("kind") == "Status":
            lines.append(compact({"type": "ERROR", "object": obj}))
        elif "metadata" in obj and "items" not in obj:
            lines.append(compact({"type": "MODIFIED", "object": obj}))
    write(out, "k8s-stream", "all-objects",
          b"\x05" + ("\n".join(lines) + "\n").encode())

    # Derivation: "Kind JSON" lines.  One migration told in growing
    # prefixes, and every object at once.
    kinds = {"Pod", "Node", "VirtualMachineInstance",
             "VirtualMachineInstanceMigration", "LogicalSwitch",
             "LogicalPort"}
    story = ["logicalswitch-pods.json", "17-node.json",
             "logicalport-testvm.json", "01-vmi-running.json",
             "02-pod-source.json", "05-vmim-scheduled.json",
             "12-pod-target-created.json", "logicalport-testvm-migrating.json",
             "15-vmi-migrating.json", "08-vmim-running.json",
             "13-pod-target-domain-ready.json",
             "logicalport-testvm-activated.json", "16-vmi-migrated.json",
             "09-vmim-succeeded.json", "14-pod-source-completed.json"]
    node_a = objects.get("17-node.json")
    if node_a:
        node_a = json.loads(json.dumps(node_a))
        node_a["metadata"]["name"] = "node-a"
        for a in node_a.get("status", {}).get("addresses", []):
            if a.get("type") == "InternalIP":
                a["address"] = "172.18.0.2"
    chain = []
    for i, name in enumerate(story):
        if name not in objects:
            continue
        obj = objects[name]
        chain.append("%s %s" % (obj["kind"], compact(obj)))
        if node_a and name == "17-node.json":
            chain.append("Node %s" % compact(node_a))
        write(out, "derive", "story-%02d" % i, "\n".join(chain) + "\n")
    everything = ["%s %s" % (o["kind"], compact(o))
                  for _, o in sorted(objects.items())
                  if o.get("kind") in kinds]
    write(out, "derive", "everything", "\n".join(everything) + "\n")


if __name__ == "__main__":
    main()
