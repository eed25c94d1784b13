#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""Canaries against the test guest's echo server (tests/guest/echo-server.c).

  echo-canary.py tcp IP PORT SUMMARY [MS]
      send "SEQ\\n" every MS (10) ms over one TCP connection (TCP_NODELAY:
      each message its own segment), reconnecting if it breaks, and read
      the echoes back
  echo-canary.py udp IP PORT SUMMARY [MS]
      send a sequence-numbered datagram every MS (5) ms and count echoes
  echo-canary.py mark IP PORT SUMMARY [MS]
      send a sequence-numbered datagram every MS (0.5) ms to a port
      nothing answers on, and read nothing: frames whose arrival on the
      VM's tap marks when traffic reaches it, without the guest's echoes
      (which a guest under TCG cannot keep up with at that rate)

tcp and udp run until SIGTERM, then wait up to 3 s for the echoes still
due and write a JSON summary to SUMMARY (and, while running, the count of
echoes to SUMMARY.live every 200 ms).  The summary: messages sent, echoed
and lost (sent, never echoed), TCP connections made (1: no reconnect), the
longest time without an echo while messages go out (ms) and, for UDP, the
longest run of lost datagrams.  mark stops at SIGTERM at once; its summary has
the datagrams sent and their spacing only."""

import json
import os
import select
import signal
import socket
import struct
import sys
import time


class Canary:
    def __init__(self, summary, interval, drain):
        self.summary = summary
        self.interval = interval
        self.drain = drain
        self.stats = {"sent": 0, "echoed": 0, "lost": 0, "connections": 0,
                      "max_gap_ms": 0.0, "out_of_order": 0,
                      "interval_ms": interval * 1000}
        self.stopping = False
        self.drain_until = None
        self.next_send = time.monotonic()
        self.last_echo = None
        self.last_live = 0
        signal.signal(signal.SIGTERM, self.stop)

    def stop(self, *_):
        self.stopping = True

    def running(self, now, all_echoed):
        """False once stopped and every echo is in (or the drain is over)."""
        if self.stopping and self.drain_until is None:
            self.drain_until = now + self.drain
        return self.drain_until is None or (now <= self.drain_until
                                            and not all_echoed)

    def send_due(self, now):
        """Whether a message is due (none once stopped); schedules the
        next."""
        if self.drain_until is not None or now < self.next_send:
            return False
        self.next_send += self.interval
        if self.next_send < now:
            self.next_send = now + self.interval
        return True

    def wait(self):
        return max(0, min(self.next_send - time.monotonic(), 0.05))

    def echoed(self, now):
        self.stats["echoed"] += 1
        # Gaps only while messages go out: once the client stops, the last
        # echoes may wait for the peer's delayed ACK.
        if self.last_echo is not None and self.drain_until is None:
            gap = (now - self.last_echo) * 1000
            self.stats["max_gap_ms"] = max(self.stats["max_gap_ms"],
                                           round(gap, 1))
        self.last_echo = now

    def live(self, now):
        if now - self.last_live >= 0.2:
            self.last_live = now
            with open(self.summary + ".live.tmp", "w") as f:
                json.dump({"echoed": self.stats["echoed"]}, f)
            os.replace(self.summary + ".live.tmp", self.summary + ".live")

    def finish(self):
        if "echoed" in self.stats:
            self.stats["lost"] = self.stats["sent"] - self.stats["echoed"]
        with open(self.summary + ".tmp", "w") as f:
            json.dump(self.stats, f)
        os.replace(self.summary + ".tmp", self.summary)


def tcp(ip, port, summary, interval):
    c = Canary(summary, interval, 3)
    sock = None
    buf = b""
    expect = 0
    while c.running(time.monotonic(),
                    c.stats["echoed"] == c.stats["sent"]):
        if sock is None:
            try:
                sock = socket.create_connection((ip, port), timeout=2)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                c.stats["connections"] += 1
                buf = b""
            except OSError:
                sock = None
                time.sleep(0.1)
                continue
        if c.send_due(time.monotonic()):
            try:
                sock.send(b"%d\n" % c.stats["sent"])
                c.stats["sent"] += 1
            except BlockingIOError:
                pass            # Counted as not sent: try again next tick.
            except OSError:
                sock.close()
                sock = None
                continue
        r, _, _ = select.select([sock], [], [], c.wait())
        if r:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                sock.close()
                sock = None
                continue
            buf += data
            *lines, buf = buf.split(b"\n")
            now = time.monotonic()
            for line in lines:
                seq = int(line)
                if seq != expect:
                    c.stats["out_of_order"] += 1
                expect = seq + 1
                c.echoed(now)
        c.live(time.monotonic())
    c.finish()


def udp(ip, port, summary, interval):
    c = Canary(summary, interval, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((ip, port))
    sock.setblocking(False)
    c.stats["connections"] = 1
    seen = set()
    while c.running(time.monotonic(), len(seen) == c.stats["sent"]):
        if c.send_due(time.monotonic()):
            try:
                sock.send(struct.pack("!Q", c.stats["sent"]) + b"x" * 56)
            except OSError:
                pass            # Unreachable for a moment: counted lost.
            c.stats["sent"] += 1
        r, _, _ = select.select([sock], [], [], c.wait())
        while r:
            try:
                data = sock.recv(2048)
            except OSError:
                break
            if len(data) >= 8:
                seq = struct.unpack("!Q", data[:8])[0]
                if seq not in seen:
                    seen.add(seq)
                    c.echoed(time.monotonic())
        c.live(time.monotonic())
    run = longest = 0
    for seq in range(c.stats["sent"]):
        run = 0 if seq in seen else run + 1
        longest = max(longest, run)
    c.stats["longest_loss_run"] = longest
    c.finish()


def mark(ip, port, summary, interval):
    c = Canary(summary, interval, 0)
    c.stats = {"sent": 0, "interval_ms": interval * 1000}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((ip, port))
    sock.setblocking(False)
    while c.running(time.monotonic(), True):
        if c.send_due(time.monotonic()):
            try:
                sock.send(struct.pack("!Q", c.stats["sent"]) + b"m" * 24)
            except OSError:
                pass            # The guest's port unreachable: ignored.
            c.stats["sent"] += 1
        time.sleep(c.wait())
    c.finish()


def main(argv):
    if len(argv) in (5, 6) and argv[1] in ("tcp", "udp", "mark"):
        ms = float(argv[5]) if len(argv) == 6 else (
            {"tcp": 10.0, "udp": 5.0, "mark": 0.5}[argv[1]])
        fn = {"tcp": tcp, "udp": udp, "mark": mark}[argv[1]]
        fn(argv[2], int(argv[3]), argv[4], ms / 1000)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
