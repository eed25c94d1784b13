#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""Connections held through a Service, for the Service handover's test.

  svc-conns.py server PORT NAME       echo every connection's bytes back,
                                      after a first line with NAME (the
                                      backend, so the client knows which)
  svc-conns.py client IP PORT N OUT   N connections to IP:PORT, each sends
                                      "SEQ\\n" every 20 ms and checks that
                                      the echo is exactly what it sent;
                                      never reconnects.  OUT.live is
                                      rewritten every 0.5 s, OUT on SIGTERM

The summary, per connection: the backend, messages sent and echoed, the
longest time between two echoes (ms, and since the last SIGUSR1) and why
it broke ("" if it did not: a reset, an end, an echo that differs)."""

import json
import os
import select
import signal
import socket
import sys
import time


def server(port, name):
    lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    lsock.bind(("::", port))
    lsock.listen(64)
    conns = []
    while True:
        ready, _, _ = select.select([lsock] + conns, [], [])
        for s in ready:
            if s is lsock:
                c, _ = lsock.accept()
                c.sendall((name + "\n").encode())
                conns.append(c)
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                conns.remove(s)
                s.close()
            else:
                s.sendall(data)


def client(ip, port, n, out):
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    conns = []
    for _ in range(n):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect((ip, port))
        name = b""
        while not name.endswith(b"\n"):
            chunk = s.recv(1)
            if not chunk:
                raise SystemExit("closed before its greeting")
            name += chunk
        s.setblocking(False)
        conns.append({"sock": s, "backend": name.decode().strip(),
                      "sent": b"", "echoed": b"", "seq": 0, "error": "",
                      "last_echo": time.monotonic(), "max_gap_ms": 0.0,
                      "window_gap_ms": 0.0})

    def summary():
        now = time.monotonic()
        res = []
        for c in conns:
            gap = (now - c["last_echo"]) * 1000 if not c["error"] else 0
            res.append({"backend": c["backend"], "sent": c["seq"],
                        "echoed": c["echoed"].count(b"\n"),
                        "error": c["error"],
                        "max_gap_ms": round(max(c["max_gap_ms"], gap)),
                        "window_gap_ms": round(max(c["window_gap_ms"],
                                                   gap))})
        return res

    def write(path):
        with open(path + ".tmp", "w") as f:
            json.dump(summary(), f)
        os.rename(path + ".tmp", path)

    def new_window(*_):
        for c in conns:
            c["window_gap_ms"] = 0.0

    def finish(*_):
        write(out)
        sys.exit(0)

    signal.signal(signal.SIGUSR1, new_window)
    signal.signal(signal.SIGTERM, finish)
    next_send = next_write = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_send:
            next_send = now + 0.02
            for c in conns:
                if c["error"]:
                    continue
                msg = b"%d\n" % c["seq"]
                try:
                    c["sock"].send(msg)
                except BlockingIOError:
                    continue
                except OSError as e:
                    c["error"] = "send: " + e.strerror
                    continue
                c["seq"] += 1
                c["sent"] += msg
        if now >= next_write:
            next_write = now + 0.5
            write(out + ".live")
        live = [c["sock"] for c in conns if not c["error"]]
        ready = select.select(live, [], [], 0.01)[0] if live else []
        for c in conns:
            if c["sock"] not in ready:
                continue
            try:
                data = c["sock"].recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                c["error"] = "recv: " + e.strerror
                continue
            if not data:
                c["error"] = "closed by the peer"
                continue
            now = time.monotonic()
            gap = (now - c["last_echo"]) * 1000
            c["max_gap_ms"] = max(c["max_gap_ms"], gap)
            c["window_gap_ms"] = max(c["window_gap_ms"], gap)
            c["last_echo"] = now
            c["echoed"] += data
            if not c["sent"].startswith(c["echoed"]):
                c["error"] = "echo differs from what was sent"


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3])
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
