#!/usr/bin/env python3
"""impair.py - a lossy, slow wire between two interfaces (a test double).

    impair.py IF_A IF_B LOSS_PERCENT DELAY_MS [SEED]

Copies every Ethernet frame received on IF_A out of IF_B and back, through
AF_PACKET raw sockets, dropping LOSS_PERCENT of them at random and
delaying each by DELAY_MS, in both directions, keeping their order.

This stands in for "tc qdisc ... netem loss 1% delay 5ms" where the kernel
has no sch_netem (nor cls_matchall or the fq qdisc, so tc cannot impair a
link at all): bed.sh's bed_impair splices it into a node's underlay link
only then.  Its figures are the same as netem's: each frame is dropped
independently, the survivors leave DELAY_MS after they came, in order
(the delay is the same for all, so a FIFO per direction is the timer).
It does not model netem's jitter, reordering, corruption or rate.

On SIGTERM/SIGINT it prints what it did (frames passed and dropped per
direction) on stdout and exits 0.
"""

import collections
import os
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
# Largest frame the veths may carry (their MTU is at most 9000 here), with
# room to spare: a longer one would be truncated, not split.
FRAME_MAX = 65536
# Frames held at most per direction: at 5 ms that is far above what the
# bed's underlay carries; beyond it frames are dropped (and counted) as a
# full netem queue (its "limit") would.
QUEUE_MAX = 10000


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                      socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    try:
        # Our own transmissions are not echoed back to us (Linux >= 4.20);
        # otherwise they are recognised by their packet type below.
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    return s


class Direction:
    def __init__(self, src, dst, label):
        self.src, self.dst, self.label = src, dst, label
        self.queue = collections.deque()    # (due, frame), due ascending
        self.passed = self.dropped = self.overflow = self.send_errors = 0


def main(argv):
    if len(argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 2
    if_a, if_b = argv[1], argv[2]
    loss = float(argv[3]) / 100.0
    delay = float(argv[4]) / 1000.0
    rng = random.Random(int(argv[5]) if len(argv) == 6 else None)
    if not 0.0 <= loss <= 1.0 or delay < 0:
        sys.stderr.write("impair.py: bad loss or delay\n")
        return 2

    sock_a, sock_b = open_if(if_a), open_if(if_b)
    dirs = {sock_a.fileno(): Direction(sock_a, sock_b, f"{if_a}->{if_b}"),
            sock_b.fileno(): Direction(sock_b, sock_a, f"{if_b}->{if_a}")}

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print(f"impair: {if_a} <-> {if_b}: {loss * 100:g}% loss, "
          f"{delay * 1000:g} ms delay", flush=True)

    poller = select.poll()
    for fd in dirs:
        poller.register(fd, select.POLLIN)
    while not stop:
        now = time.monotonic()
        # Send whatever is due, oldest first.
        due_next = None
        for d in dirs.values():
            q = d.queue
            while q and q[0][0] <= now:
                try:
                    d.dst.send(q.popleft()[1])
                    d.passed += 1
                except OSError:
                    d.send_errors += 1  # e.g. the peer is down: a lost frame
            if q and (due_next is None or q[0][0] < due_next):
                due_next = q[0][0]
        # Bounded, so that a signal ends an idle loop (poll() is retried
        # after a signal whose handler returns).
        timeout = 200.0
        if due_next is not None:
            timeout = min(timeout,
                          max(0.0, due_next - time.monotonic()) * 1000.0)
        try:
            events = poller.poll(timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd, _ in events:
            d = dirs[fd]
            while True:
                try:
                    frame, addr = d.src.recvfrom(FRAME_MAX)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                if rng.random() < loss:
                    d.dropped += 1
                elif len(d.queue) >= QUEUE_MAX:
                    d.overflow += 1
                else:
                    d.queue.append((now + delay, frame))

    for d in dirs.values():
        print(f"impair: {d.label}: {d.passed} passed, {d.dropped} dropped "
              f"at random, {d.overflow} over the queue limit, "
              f"{d.send_errors} send errors, {len(d.queue)} in flight",
              flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except OSError as e:
        sys.stderr.write(f"impair.py: {e}\n")
        sys.exit(1)
