#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""Probes of livebind's NetworkPolicy system test.  Run only inside a test
bed's namespaces.

  policy-probe.py sink PORT SUMMARY
      Counts UDP datagrams and TCP connection attempts (accepted
      connections) on PORT, by source address; rewrites SUMMARY (JSON:
      {"udp": {ADDR: N}, "tcp": {ADDR: N}}) every 0.2 s and on SIGTERM.

  policy-probe.py send IP PORT MS [SUMMARY]
      Every MS milliseconds, one UDP datagram to IP:PORT, and every fifth
      time a TCP connection attempt (non-blocking, abandoned after 1 s);
      exits on SIGTERM, writing {"sent": N, "connected": N} to SUMMARY.

  policy-probe.py fan-server PORT [--quiet-until FILE] [--period S]
      Accepts any number of TCP connections and sends each a line
      ("SEQ\\n") every S seconds (default 1) after it arrives (with
      --quiet-until, only once FILE exists: the connections stay idle
      until then, and their first lines are then spread over one period,
      not sent in one burst).

  policy-probe.py fan-client IP PORT N SUMMARY [--ramp S]
      Opens N TCP connections to IP:PORT (over S seconds if --ramp), then
      keeps reading the lines each one gets; on SIGUSR1 starts a new
      window; rewrites SUMMARY every 0.5 s: connections open, broken (reset
      or closed), and how many of the open ones got a line since the
      window started ("fresh")."""

import json
import os
import resource
import select
import selectors
import signal
import socket
import sys
import time


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def family_of(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def sink(port, summary):
    stats = {"udp": {}, "tcp": {}}
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    u.bind(("::", port))
    t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    t.bind(("::", port))
    t.listen(1024)

    def finish(*_):
        write_json(summary, stats)
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    last = 0
    while True:
        r, _, _ = select.select([u, t], [], [], 0.2)
        for s in r:
            if s is u:
                _, addr = u.recvfrom(2048)
                key = "udp"
            else:
                c, addr = t.accept()
                c.close()
                key = "tcp"
            src = addr[0].replace("::ffff:", "")
            stats[key][src] = stats[key].get(src, 0) + 1
        if time.time() - last > 0.2:
            write_json(summary, stats)
            last = time.time()


def send(ip, port, ms, summary=None):
    state = {"sent": 0, "connected": 0}
    pending = {}                # fd -> (time, socket)

    def finish(*_):
        if summary:
            write_json(summary, state)
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    u = socket.socket(family_of(ip), socket.SOCK_DGRAM)
    # To 255.255.255.255: UDP only, flooded by the switch to every port.
    broadcast = ip == "255.255.255.255"
    if broadcast:
        u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    poller = select.poll()
    interval = ms / 1000.0
    nxt = time.time()
    while True:
        try:
            u.sendto(b"probe", (ip, port))
        except OSError:
            pass
        state["sent"] += 1
        # A TCP SYN every 5th round: cheaper than a socket each time.
        if state["sent"] % 5 == 1 and not broadcast:
            c = socket.socket(family_of(ip), socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect((ip, port))
            except (BlockingIOError, OSError):
                pass
            pending[c.fileno()] = (time.time(), c)
            poller.register(c, select.POLLOUT)
        # Every 10th round: attempts that connected, and those given up.
        if state["sent"] % 10 == 0:
            now = time.time()
            for fd, _ in poller.poll(0):
                _, s = pending.pop(fd)
                poller.unregister(fd)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    state["connected"] += 1
                s.close()
            for fd, (t0, s) in list(pending.items()):
                if now - t0 > 1:
                    del pending[fd]
                    poller.unregister(fd)
                    s.close()
        nxt += interval
        time.sleep(max(0, nxt - time.time()))


def more_files():
    """As many descriptors as the hard limit allows: thousands of
    connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def fan_server(port, quiet_until=None, period=1.0):
    more_files()
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", port))
    ls.listen(4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    conns = {}
    seq = 0

    def drop(c):
        sel.unregister(c)
        c.close()
        del conns[c]

    while True:
        for key, _ in sel.select(0.1):
            s = key.fileobj
            if s is ls:
                try:
                    c, _ = ls.accept()
                    c.setblocking(False)
                    conns[c] = time.time()
                    sel.register(c, selectors.EVENT_READ)
                except OSError:
                    pass
            else:
                try:
                    if not s.recv(4096):
                        raise OSError
                except BlockingIOError:
                    pass
                except OSError:
                    drop(s)
        now = time.time()
        if quiet_until:
            if not os.path.exists(quiet_until):
                continue
            quiet_until = None
            for i, c in enumerate(conns):
                conns[c] = now - period + period * i / len(conns)
        for c, t in list(conns.items()):
            if now - t >= period:
                seq += 1
                try:
                    c.send(b"%d\n" % seq)
                except BlockingIOError:
                    pass
                except OSError:
                    drop(c)
                    continue
                conns[c] = now


def fan_client(ip, port, n, summary, ramp=0.0):
    more_files()
    stats = {"opened": 0, "open": 0, "broken": 0, "fresh": 0,
             "failed_connects": 0}
    conns = {}
    sel = selectors.DefaultSelector()
    window = {"start": time.time()}

    def new_window(*_):
        window["start"] = time.time()

    def finish(*_):
        write_json(summary, stats)
        sys.exit(0)

    signal.signal(signal.SIGUSR1, new_window)
    signal.signal(signal.SIGTERM, finish)
    start = time.time()
    last = 0
    while True:
        # Open the next ones on schedule.
        due = n if not ramp else min(n, int(n * (time.time() - start)
                                            / ramp) + 1)
        while stats["opened"] + stats["failed_connects"] < due:
            c = socket.socket(family_of(ip), socket.SOCK_STREAM)
            c.settimeout(3)
            try:
                c.connect((ip, port))
                c.setblocking(False)
                conns[c] = 0.0
                sel.register(c, selectors.EVENT_READ)
                stats["opened"] += 1
            except OSError:
                stats["failed_connects"] += 1
                c.close()
        now = time.time()
        for key, _ in (sel.select(0.1) if conns else []):
            s = key.fileobj
            try:
                data = s.recv(4096)
                if not data:
                    raise OSError
                conns[s] = now
                s.send(b"ack\n")
            except BlockingIOError:
                pass
            except OSError:
                sel.unregister(s)
                s.close()
                del conns[s]
                stats["broken"] += 1
        if not conns:
            time.sleep(0.1)
        if now - last > 0.5:
            stats["open"] = len(conns)
            stats["fresh"] = sum(1 for t in conns.values()
                                 if t >= window["start"])
            write_json(summary, stats)
            last = now


def main():
    mode = sys.argv[1]
    if mode == "sink":
        sink(int(sys.argv[2]), sys.argv[3])
    elif mode == "send":
        send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
             sys.argv[5] if len(sys.argv) > 5 else None)
    elif mode == "fan-server":
        quiet = None
        if "--quiet-until" in sys.argv:
            quiet = sys.argv[sys.argv.index("--quiet-until") + 1]
        period = 1.0
        if "--period" in sys.argv:
            period = float(sys.argv[sys.argv.index("--period") + 1])
        fan_server(int(sys.argv[2]), quiet, period)
    elif mode == "fan-client":
        ramp = 0.0
        if "--ramp" in sys.argv:
            ramp = float(sys.argv[sys.argv.index("--ramp") + 1])
        fan_client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                   sys.argv[5], ramp)
    else:
        sys.exit("unknown mode %s" % mode)


if __name__ == "__main__":
    main()
