#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""A small QMP client for livebind's QEMU tests (tests/system/qemu.sh).

  qmp.py SOCKET COMMAND [ARGS-JSON]
      run one command; print its "return" as JSON; exit 1 on a QMP error
  qmp.py SOCKET --events OUT
      append every event, one JSON object a line, to OUT until QEMU goes
      away; each line is flushed at once, so a reader sees events as they
      come ("timestamp" is QEMU's wall clock, as CLOCK_REALTIME)
  qmp.py SOCKET --wait-migration TIMEOUT
      poll query-migrate until the migration ends; print its final status
      as JSON; exit 1 unless it completed

QEMU gives each monitor socket one client: the commands and the event log
use two sockets (-qmp twice)."""

import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rb")
        self.events = []
        self.read()                       # The greeting.
        self.command("qmp_capabilities")

    def read(self):
        line = self.file.readline()
        if not line:
            raise EOFError("QEMU closed the monitor")
        return json.loads(line)

    def command(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self.read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError("%s: %s" % (name, reply["error"]))
            return reply.get("return")


def log_events(path, out):
    qmp = Qmp(path)
    with open(out, "a") as f:
        for ev in qmp.events:
            f.write(json.dumps(ev) + "\n")
        f.flush()
        while True:
            try:
                ev = qmp.read()
            except (EOFError, ConnectionError):
                return 0
            if "event" in ev:
                f.write(json.dumps(ev) + "\n")
                f.flush()


def wait_migration(path, timeout):
    qmp = Qmp(path)
    deadline = time.monotonic() + timeout
    while True:
        st = qmp.command("query-migrate")
        if st.get("status") in ("completed", "failed", "cancelled"):
            print(json.dumps(st))
            return 0 if st["status"] == "completed" else 1
        if time.monotonic() > deadline:
            print(json.dumps(st))
            return 1
        time.sleep(0.02)


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    path, cmd = argv[1], argv[2]
    if cmd == "--events":
        return log_events(path, argv[3])
    if cmd == "--wait-migration":
        return wait_migration(path, float(argv[3]))
    args = json.loads(argv[3]) if len(argv) > 3 else None
    try:
        ret = Qmp(path).command(cmd, args)
    except RuntimeError as e:
        print("qmp: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(ret))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
