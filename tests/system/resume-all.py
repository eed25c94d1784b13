#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""Many emulated VMs resume at once, from one process: each one's cutover
and QEMU's RARP rounds, as announce.py --cutover --stamp sends them for
one VM.

  resume-all.py SPEC --trigger FIFO [--rounds 0,50,200,450,800]

SPEC has a line "NETNS IFACE MAC BATCH LOG" for each VM: the guest's
network namespace (a name under /run/netns), the interface it announces
on, its MAC, the cutover (announce.py's "link set dev IFACE state N"
lines, nothing else) and the file its stamps go to ("cutover US" and
"sent US", the wall clock in microseconds, announce.py's format).

Why one process: on a bed that runs three nodes' switches and a hundred
emulated guests on two CPUs, a process for each VM waits for a CPU
between its cutover and its first RARP, up to 170 ms at the 99th
percentile (tests/bench/README.md), where a real VM's QEMU sends it
0.05-0.4 ms after it resumes.  Here every socket is opened and every
message built before the trigger, in each guest's namespace; once FIFO
is opened for writing, the VMs resume one after the other, each one's
cutover (one rtnetlink request) followed at once by its first RARP, the
whole list in a few milliseconds; the later rounds follow each VM's own
resume.  The stamps are written when the last round has gone."""

import ctypes
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import announce  # noqa: E402

CLONE_NEWNET = 0x40000000
PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


class Vm:
    """One VM's sockets and messages, made in its own namespace."""

    def __init__(self, netns, iface, mac, batch, log):
        self.log = log
        self.stamps = []
        states, rest = announce.read_cutover(batch)
        if rest:
            raise ValueError("%s: not a bridge port state: %r"
                             % (batch, rest[0].strip()))
        fd = os.open("/run/netns/" + netns, os.O_RDONLY)
        try:
            setns(fd)
        finally:
            os.close(fd)
        self.nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        self.nl.bind((0, 0))
        self.msgs = [announce.port_state_msg(seq, socket.if_nametoindex(n), s)
                     for seq, (n, s) in enumerate(states, 1)]
        self.pkt = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.pkt.bind((iface, 0))
        self.frame = announce.rarp(mac)

    def cutover(self):
        for msg in self.msgs:
            self.nl.send(msg)
        for _ in self.msgs:
            announce.check_ack(self.nl.recv(65536))
        self.stamps.append("cutover %d" % (time.time_ns() // 1000))

    def announce(self):
        self.pkt.send(self.frame)
        self.stamps.append("sent %d" % (time.time_ns() // 1000))


def main():
    args = sys.argv[1:]
    if len(args) < 3 or "--trigger" not in args:
        sys.stderr.write(__doc__)
        sys.exit(2)
    rounds = [0, 50, 200, 450, 800]
    if "--rounds" in args:
        rounds = [int(x) for x in args[args.index("--rounds") + 1].split(",")]
    # Named, so that a profile of the cutovers (perf, the scale bench's
    # BENCH_SCALE_PERF) tells it from the other Python processes.
    _libc.prctl(PR_SET_NAME, b"resume-all", 0, 0, 0)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    vms = []
    try:
        for n, line in enumerate(open(args[0]), 1):
            f = line.split()
            if not f:
                continue
            if len(f) != 5:
                raise ValueError("%s:%d: want NETNS IFACE MAC BATCH LOG"
                                 % (args[0], n))
            vms.append(Vm(*f))
    finally:
        setns(home)
        os.close(home)
    print("armed %d" % len(vms), flush=True)
    open(args[args.index("--trigger") + 1], "rb").close()
    # The first round goes with each VM's cutover when it is due at once,
    # as QEMU's does; the others follow each VM's own resume.
    first = rounds[0] == 0
    later = rounds[1:] if first else rounds
    starts = []
    for vm in vms:
        vm.cutover()
        if first:
            vm.announce()
        starts.append(time.monotonic())
    pending = sorted((start + r / 1000.0, i)
                     for i, start in enumerate(starts) for r in later)
    for due, i in pending:
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        vms[i].announce()
    for vm in vms:
        with open(vm.log, "w") as f:
            f.write("".join(s + "\n" for s in vm.stamps))


if __name__ == "__main__":
    main()
