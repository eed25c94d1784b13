#!/usr/bin/env python3
"""Inspects an OCI archive made by utilities/build-image.sh: the index,
manifest and config (entrypoint, labels, times), and the layer (the files
the agent, the CNI install step and the probes need; none of what the image
leaves out; owners and times).  Reads the archive itself, so it needs no
container tool.

Usage: inspect-image.py ARCHIVE VERSION SOURCE_DATE_EPOCH

Prints a "PASS: ..." or "FAIL: ..." line per check (as
tests/packaging/test-packages.sh does), then "digest: sha256:..." and the
sizes.  Exits 1 if a check failed.
"""

import datetime
import gzip
import hashlib
import io
import json
import sys
import tarfile

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

# What the DaemonSet runs: the agent (entrypoint), the plugin and its install
# step (init container), ovs-appctl and a shell (probes), livebind-ctl.
REQUIRED = [
    "usr/sbin/livebind-agent",
    "usr/lib/cni/livebind",
    "usr/sbin/livebind-install-cni",
    "usr/bin/livebind-ctl",
    "usr/bin/ovs-appctl",
    "usr/bin/ovs-vsctl",
    "usr/bin/busybox",
    "etc/livebind/agent.conf",
    "usr/share/doc/livebind-agent/copyright",
    "usr/share/doc/openvswitch-common/copyright",
    "var/lib/dpkg/status.d/livebind-agent",
    "var/lib/dpkg/status.d/libc6",
]
# Symbolic links: merged /usr, busybox's applets the scripts use.
LINKS = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib",
         "lib64": "usr/lib64", "usr/bin/sh": "busybox",
         "usr/bin/cp": "busybox", "usr/bin/chmod": "busybox",
         "usr/bin/mv": "busybox"}
# Left out: OVS's daemons and Python, package managers, the files the
# runtime provides, a host's service files.
ABSENT_PREFIXES = ["usr/sbin/ovs-vswitchd", "usr/sbin/ovsdb-server",
                   "usr/bin/python3", "usr/lib/python3", "usr/bin/dpkg",
                   "usr/bin/apt", "etc/apt", "etc/resolv.conf",
                   "etc/hostname", "lib/systemd", "usr/lib/systemd",
                   "usr/share/man", "dev/"]

passed = failed = 0


def check(what, ok):
    global passed, failed
    if ok:
        passed += 1
        print("PASS: image: %s" % what)
    else:
        failed += 1
        print("FAIL: image: %s" % what)
    return ok


def main():
    archive, version, epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    outer = tarfile.open(archive)
    names = outer.getnames()
    check("archive entries sorted", names == sorted(names))

    def blob(digest):
        data = outer.extractfile("./blobs/" + digest.replace(":", "/")).read()
        check("blob %s... matches its digest" % digest[:19],
              "sha256:" + hashlib.sha256(data).hexdigest() == digest)
        return data

    layout = json.load(outer.extractfile("./oci-layout"))
    check("oci-layout version 1.0.0",
          layout.get("imageLayoutVersion") == "1.0.0")
    index = json.load(outer.extractfile("./index.json"))
    manifests = index.get("manifests", [])
    if not check("index.json: one manifest", len(manifests) == 1):
        return
    desc = manifests[0]
    name = "localhost/livebind:" + version
    check("index.json names it %s" % name,
          desc.get("annotations", {}).get(
              "org.opencontainers.image.ref.name") == name)
    check("manifest media type", desc.get("mediaType") == MANIFEST)
    manifest = json.loads(blob(desc["digest"]))
    check("config media type", manifest["config"]["mediaType"] == CONFIG)
    config = json.loads(blob(manifest["config"]["digest"]))
    layers = manifest["layers"]
    check("one gzip layer",
          len(layers) == 1 and layers[0]["mediaType"] == LAYER)

    cfg = config.get("config", {})
    check("entrypoint is the agent itself (no shell)",
          cfg.get("Entrypoint") == ["/usr/sbin/livebind-agent"])
    check("no Cmd", not cfg.get("Cmd"))
    check("PATH set", any(e.startswith("PATH=/usr/local/sbin:")
                          for e in cfg.get("Env", [])))
    check("os linux, architecture %s" % config.get("architecture"),
          config.get("os") == "linux" and config.get("architecture"))
    labels = cfg.get("Labels", {})
    check("label version %s" % version,
          labels.get("org.opencontainers.image.version") == version)
    check("label title livebind",
          labels.get("org.opencontainers.image.title") == "livebind")
    check("label licenses Apache-2.0",
          labels.get("org.opencontainers.image.licenses") == "Apache-2.0")
    for label in ("revision", "source", "created", "description"):
        check("label %s set" % label,
              labels.get("org.opencontainers.image." + label))
    created = datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    check("created is SOURCE_DATE_EPOCH (%s), history too" % created,
          config.get("created") == created
          and all(h.get("created") == created
                  for h in config.get("history", [])))

    data = blob(layers[0]["digest"])
    raw = gzip.decompress(data)
    check("layer diff_id matches",
          config["rootfs"]["diff_ids"]
          == ["sha256:" + hashlib.sha256(raw).hexdigest()])
    layer = tarfile.open(fileobj=io.BytesIO(raw))
    members = layer.getmembers()
    paths = [m.name[2:] if m.name.startswith("./") else m.name
             for m in members]
    check("layer entries sorted", paths == sorted(paths))
    by_path = dict(zip(paths, members))
    for p in REQUIRED:
        m = by_path.get(p)
        check("/%s present" % p, m is not None and m.isfile())
    for p in ("usr/sbin/livebind-agent", "usr/lib/cni/livebind",
              "usr/sbin/livebind-install-cni", "usr/bin/ovs-appctl"):
        m = by_path.get(p)
        check("/%s executable" % p, m is not None and m.mode & 0o111)
    for p, target in LINKS.items():
        m = by_path.get(p)
        check("/%s -> %s" % (p, target),
              m is not None and m.issym() and m.linkname == target)
    for prefix in ABSENT_PREFIXES:
        check("nothing at /%s" % prefix,
              not any(p.startswith(prefix) for p in paths))
    check("every entry owned by 0:0",
          all(m.uid == 0 and m.gid == 0 for m in members))
    check("no time after SOURCE_DATE_EPOCH",
          all(m.mtime <= epoch for m in members))
    check("no device nodes",
          not any(m.ischr() or m.isblk() for m in members))

    unpacked = sum(m.size for m in members)
    compressed = len(data)
    # A bound, not a figure to meet: a dependency that pulls in Python or
    # the OVS daemons again shows here.
    check("layer under 40 MiB compressed (%d KiB)" % (compressed // 1024),
          compressed < 40 << 20)
    print("digest: %s" % desc["digest"])
    print("size: %d KiB compressed, %d KiB unpacked, %d files"
          % (compressed // 1024, unpacked // 1024, len(members)))


if __name__ == "__main__":
    main()
    sys.exit(1 if failed else 0)
