#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""The TCP canary of livebind's migration tests.

  canary.py server PORT SUMMARY      receive; write a JSON summary to
                                     SUMMARY on SIGTERM
  canary.py client IP PORT [MS]      send "SEQ\\n" every MS (10) ms over one
                                     TCP connection, reconnecting if it
                                     breaks; exits on SIGTERM

The summary: messages received, sequence numbers lost (gaps in the
sequence), the largest time between two consecutive messages (ms), and the
number of connections the server accepted (1 means no reconnect).
"window_gap_ms" is the largest time between two messages since the server
last got SIGUSR1 (a test's outage window); while nothing arrives it grows
with the time since the last message."""

import json
import os
import select
import signal
import socket
import sys
import time


def server(port, summary_path):
    stats = {"received": 0, "lost": 0, "max_gap_ms": 0.0, "connections": 0,
             "last_seq": -1, "out_of_order": 0, "window_gap_ms": 0.0}
    state = {"last_time": None}

    def new_window(*_):
        stats["window_gap_ms"] = 0.0

    signal.signal(signal.SIGUSR1, new_window)

    def finish(*_):
        with open(summary_path, "w") as f:
            json.dump(stats, f)
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    # Both families (IPv4 clients arrive as IPv4-mapped addresses), or
    # IPv4 alone where the kernel has no IPv6.
    try:
        lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        lsock.bind(("::", port))
    except OSError:
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("0.0.0.0", port))
    lsock.listen(4)
    conns = {}
    while True:
        ready, _, _ = select.select([lsock] + list(conns), [], [], 0.5)
        for s in ready:
            if s is lsock:
                c, _ = lsock.accept()
                conns[c] = b""
                stats["connections"] += 1
                continue
            try:
                data = s.recv(65536)
            except ConnectionError:
                data = b""      # Reset by the peer: counted by reconnects.
            if not data:
                del conns[s]
                s.close()
                continue
            buf = conns[s] + data
            *lines, rest = buf.split(b"\n")
            conns[s] = rest
            now = time.monotonic()
            for line in lines:
                try:
                    seq = int(line)
                except ValueError:
                    continue
                if state["last_time"] is not None:
                    gap = (now - state["last_time"]) * 1000
                    stats["max_gap_ms"] = max(stats["max_gap_ms"],
                                              round(gap, 1))
                    stats["window_gap_ms"] = max(stats["window_gap_ms"],
                                                 round(gap, 1))
                state["last_time"] = now
                last = stats["last_seq"]
                if seq > last + 1 and last >= 0:
                    stats["lost"] += seq - last - 1
                elif seq <= last:
                    stats["out_of_order"] += 1
                stats["last_seq"] = max(last, seq)
                stats["received"] += 1
        if state["last_time"] is not None:
            silent = round((time.monotonic() - state["last_time"]) * 1000, 1)
            stats["window_gap_ms"] = max(stats["window_gap_ms"], silent)
        # Atomically, so that readers never see a half-written file.
        with open(summary_path + ".live.tmp", "w") as f:
            json.dump(stats, f)
        os.replace(summary_path + ".live.tmp", summary_path + ".live")


def client(ip, port, interval_ms):
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    seq = 0
    sock = None
    next_time = time.monotonic()
    while running[0]:
        if sock is None:
            try:
                sock = socket.create_connection((ip, port), timeout=2)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                sock = None
                time.sleep(0.05)
                continue
        try:
            sock.sendall(b"%d\n" % seq)
            seq += 1
        except OSError:
            sock.close()
            sock = None
            continue
        next_time += interval_ms / 1000.0
        delay = next_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    if sock:
        sock.close()


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "client":
        ms = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
        client(sys.argv[2], int(sys.argv[3]), ms)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
