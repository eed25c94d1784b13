#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""Sends QEMU's self-announcement after a live migration: RARP frames
(ethertype 0x8035, opcode 3, broadcast, sender and target MAC the NIC's,
IPs 0.0.0.0, 60 bytes) in rounds at 0, 50, 200, 450 and 800 ms.

  announce.py IFACE MAC [--rounds 0,50,200,450,800] [--src MAC]
              [--cutover FILE] [--trigger FIFO] [--na TARGET --na-flags S|O|SO|-]
              [--stamp]

--src sends with a different Ethernet source and sender MAC (to test that
a foreign announcement changes nothing).  --cutover applies FILE's "link
set dev IFACE state N" lines (bridge port states, the syntax of "bridge
-batch") itself, over rtnetlink, then announces at once, as QEMU does when
the VM resumes: the emulated cutover and the first RARP are microseconds
apart, with no process started in between (100 VMs resuming together
would otherwise wait for 100 "bridge" processes); any other line goes to
"bridge -batch".  --na sends an
IPv6 neighbour advertisement for TARGET instead (hop limit 255, with the
given flags: S solicited, O override), to test that only an unsolicited one
for the VM's own address activates anything.  --trigger waits, once ready,
until something opens FIFO for writing: many VMs then resume at once.
--stamp prints the wall clock time (us) at which the cutover was applied
("cutover US") and each frame sent ("sent US"), as a benchmark's clock."""

import os
import re
import socket
import struct
import subprocess
import sys
import time

RTM_SETLINK = 19
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLMSG_ERROR = 2
IFLA_PROTINFO, NLA_F_NESTED, IFLA_BRPORT_STATE = 12, 0x8000, 1


def port_state_msg(seq, ifindex, state):
    """The rtnetlink request that sets bridge port 'ifindex' to 'state', as
    "bridge link set dev IFNAME state STATE" sends it: RTM_SETLINK,
    AF_BRIDGE, IFLA_PROTINFO."""
    brport = struct.pack("HHB3x", 5, IFLA_BRPORT_STATE, state)
    protinfo = struct.pack("HH", 4 + len(brport),
                           IFLA_PROTINFO | NLA_F_NESTED) + brport
    ifinfo = struct.pack("BxHiII", socket.AF_BRIDGE, 0, ifindex, 0, 0)
    body = ifinfo + protinfo
    return struct.pack("IHHII", 16 + len(body), RTM_SETLINK,
                       NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def check_ack(reply):
    """Raises the error an rtnetlink acknowledgement carries, if any."""
    _, kind, _, _, _ = struct.unpack_from("IHHII", reply)
    error = struct.unpack_from("i", reply, 16)[0] if kind == NLMSG_ERROR \
        else 0
    if error:
        raise OSError(-error, os.strerror(-error))


def set_port_states(states):
    """Sets each (ifname, state) bridge port state."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    nl.bind((0, 0))
    for seq, (ifname, state) in enumerate(states, 1):
        nl.send(port_state_msg(seq, socket.if_nametoindex(ifname), state))
    for _ in states:
        check_ack(nl.recv(65536))
    nl.close()


def read_cutover(path):
    """The batch file at 'path': its (ifname, state) bridge port states and
    its other lines."""
    states, rest = [], []
    for line in open(path):
        m = re.fullmatch(r"link set dev (\S+) state (\d+)", line.strip())
        if m:
            states.append((m.group(1), int(m.group(2))))
        elif line.strip():
            rest.append(line)
    return states, rest


def cutover(path):
    """Applies the batch file at 'path'."""
    states, rest = read_cutover(path)
    if rest:
        subprocess.run(["bridge", "-batch", "-"], input="".join(rest),
                       text=True, check=True)
    set_port_states(states)


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def rarp(mac):
    m = mac_bytes(mac)
    frame = (b"\xff" * 6 + m + b"\x80\x35"
             + b"\x00\x01\x08\x00\x06\x04\x00\x03"
             + m + b"\x00" * 4 + m + b"\x00" * 4)
    return frame + b"\x00" * (60 - len(frame))


def na(mac, target, flags):
    m = mac_bytes(mac)
    t = socket.inet_pton(socket.AF_INET6, target)
    all_nodes = socket.inet_pton(socket.AF_INET6, "ff02::1")
    rso = (0x40 if "S" in flags else 0) | (0x20 if "O" in flags else 0)
    icmp = bytes([136, 0, 0, 0, rso, 0, 0, 0]) + t + bytes([2, 1]) + m
    # The checksum over the pseudo-header, as a real guest sends it.
    pseudo = t + all_nodes + len(icmp).to_bytes(4, "big") + b"\0\0\0\x3a"
    data = pseudo + icmp
    csum = sum(int.from_bytes(data[i:i + 2], "big")
               for i in range(0, len(data), 2))
    while csum >> 16:
        csum = (csum & 0xffff) + (csum >> 16)
    csum = ~csum & 0xffff
    icmp = icmp[:2] + csum.to_bytes(2, "big") + icmp[4:]
    ip6 = (b"\x60\0\0\0" + len(icmp).to_bytes(2, "big") + bytes([58, 255])
           + t + all_nodes)
    return b"\x33\x33\0\0\0\x01" + m + b"\x86\xdd" + ip6 + icmp


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    iface, mac = args[0], args[1]
    rounds = [0, 50, 200, 450, 800]
    if "--rounds" in args:
        rounds = [int(x) for x in args[args.index("--rounds") + 1].split(",")]
    if "--src" in args:
        mac = args[args.index("--src") + 1]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    frame = rarp(mac)
    if "--na" in args:
        frame = na(mac, args[args.index("--na") + 1],
                   args[args.index("--na-flags") + 1])
    if "--trigger" in args:
        open(args[args.index("--trigger") + 1], "rb").close()
    stamp = "--stamp" in args
    if "--cutover" in args:
        cutover(args[args.index("--cutover") + 1])
        if stamp:
            print("cutover %d" % (time.time_ns() // 1000), flush=True)
    start = time.monotonic()
    for r in rounds:
        delay = start + r / 1000.0 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.send(frame)
        if stamp:
            print("sent %d" % (time.time_ns() // 1000), flush=True)


if __name__ == "__main__":
    main()
