#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""The UDP probe of livebind's migration benchmark.

  udp-probe.py server PORT
      echo every datagram back, adding the sequence number of the previous
      datagram received from the same client (so that the client can tell
      the forward path's losses from the return path's) and the wall clock
      time it was received (the client's one-way delay, on one machine)
  udp-probe.py client IP PORT SUMMARY [INTERVAL_MS]
      send a sequence-numbered datagram every INTERVAL_MS (2) ms until
      SIGTERM, wait 200 ms for the last echoes, then write a JSON summary
      to SUMMARY

The summary: datagrams sent, echoed and lost, the losses on the forward
path (client -> server), the longest run of consecutive lost datagrams and
the outage it means (run x interval), and every run of losses with the wall
clock time its first datagram was sent and the time the first datagram
after it that came back was sent.  A sender that falls behind (the machine
is busy) sends the datagrams it owes at once, with their real send times:
max_send_gap_ms shows it, and send_gaps lists the gaps over two intervals
(wall clock start, ms): an outage that falls into one is underestimated.
lost_sent_at: when each lost datagram was sent.  delays: for each datagram
echoed, [wall clock send time, one-way delay to the server, round trip]
(the two in ms)."""

import json
import os
import select
import signal
import socket
import struct
import sys
import time

HEADER = struct.Struct("!QQ")            # session, sequence number
ECHO = struct.Struct("!QQqd")            # ... the previous one received,
                                         # when this one was (wall clock)


def server(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    last = {}
    while True:
        data, addr = sock.recvfrom(2048)
        received = time.time()
        if len(data) < HEADER.size:
            continue
        session, seq = HEADER.unpack_from(data)
        prev = last.get(session, -1)
        if seq > prev:
            last[session] = seq
        if len(last) > 1000:            # sessions come and go; keep it small
            last = {session: last[session]}
        try:
            sock.sendto(ECHO.pack(session, seq, prev, received), addr)
        except OSError:
            pass


def client(ip, port, summary_path, interval_ms):
    interval = interval_ms / 1000.0
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((ip, port))
    sock.setblocking(False)
    session = int.from_bytes(os.urandom(8), "big")

    sent_at = []                    # wall clock send time of each seq
    echoed = set()
    delays = []                     # [sent, one-way ms, round trip ms]
    fwd_lost = set()
    max_send_gap = 0.0
    send_gaps = []                  # (start, ms) of gaps over 2 intervals
    next_send = time.monotonic()

    def receive():
        while True:
            try:
                data = sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:         # e.g. ICMP unreachable: a lost probe
                continue
            if len(data) < ECHO.size:
                continue
            now = time.time()
            s, seq, prev, received = ECHO.unpack_from(data)
            if s != session or seq >= len(sent_at) or seq in echoed:
                continue
            echoed.add(seq)
            if len(delays) < 100000:
                delays.append([sent_at[seq],
                               round((received - sent_at[seq]) * 1000, 3),
                               round((now - sent_at[seq]) * 1000, 3)])
            if prev < seq - 1:
                fwd_lost.update(range(max(prev + 1, 0), seq))

    while running[0]:
        now = time.monotonic()
        while now >= next_send and running[0]:
            seq = len(sent_at)
            wall = time.time()
            if sent_at:
                gap = wall - sent_at[-1]
                max_send_gap = max(max_send_gap, gap)
                if gap > 2 * interval and len(send_gaps) < 1000:
                    send_gaps.append((sent_at[-1], round(gap * 1000, 3)))
            sent_at.append(wall)
            try:
                sock.send(HEADER.pack(session, seq))
            except OSError:
                pass                # counted as lost
            next_send += interval
        try:
            select.select([sock], [], [], max(0.0, next_send - now))
        except InterruptedError:
            pass
        receive()

    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        try:
            select.select([sock], [], [], deadline - time.monotonic())
        except InterruptedError:
            pass
        receive()

    runs = []
    seq = 0
    n = len(sent_at)
    while seq < n:
        if seq in echoed:
            seq += 1
            continue
        first = seq
        while seq < n and seq not in echoed:
            seq += 1
        runs.append({"first": first, "length": seq - first,
                     "forward": len(fwd_lost.intersection(range(first, seq))),
                     "start": sent_at[first],
                     "end": sent_at[seq] if seq < n else None})
    longest = max((r["length"] for r in runs), default=0)
    summary = {"sent": n, "echoed": len(echoed), "lost": n - len(echoed),
               "lost_forward": len(fwd_lost), "longest_run": longest,
               "outage_ms": round(longest * interval_ms, 3),
               "interval_ms": interval_ms,
               "max_send_gap_ms": round(max_send_gap * 1000, 3),
               "send_gaps": send_gaps, "runs": runs, "delays": delays,
               "lost_sent_at": [sent_at[i] for i in range(n)
                                if i not in echoed][:2000]}
    with open(summary_path + ".tmp", "w") as f:
        json.dump(summary, f)
    os.replace(summary_path + ".tmp", summary_path)


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "server":
        server(int(args[1]))
    elif len(args) in (4, 5) and args[0] == "client":
        ms = float(args[4]) if len(args) == 5 else 2.0
        client(args[1], int(args[2]), args[3], ms)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
