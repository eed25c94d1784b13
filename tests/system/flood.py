#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""Floods an interface with announcement-like frames as fast as one core
lets Python send them, for a system test of the switch's packet-in meters.
Bounded in count and in time; run only inside a test bed's namespace.

  flood.py IFACE OWN_MAC OWN_IP VM_MAC VM_IP [--seconds S] [--count N]
           [--own-untagged] [--stats FILE]

Frames, in turn:
  - RARP, GARP and an IPv6 NA from OWN_MAC, each with an 802.1Q tag
    (VLAN 7).  On a blocked (migration target) port these match the
    controller flows, which do not look at the VLAN, so each one is a
    packet-in; the agent rejects them (a pod's port is an access port), so
    the port stays blocked and the flood goes on.
  - untagged RARP, GARP and NA with VM_MAC and VM_IP, the migrating VM's:
    port security drops them (a spoof).
  - with --own-untagged, untagged RARP, GARP and NA from OWN_MAC too: on an
    ordinary port they pass and are flooded in the logical switch (on a
    blocked port they would be real announcements, so not there).
--stats writes "sent SECONDS" when done.

  flood.py announce IFACE MAC --cutover FILE --stamp FILE

is QEMU's announcement as announce.py --cutover sends it (runs "bridge
-batch FILE", then RARPs at 0, 50, 200, 450 and 800 ms) that also writes the
wall-clock time of the first RARP, in microseconds, to the --stamp file: the
test compares it with the time the agent saw the packet-in, to tell whether
the first RARP got through."""

import socket
import struct
import subprocess
import sys
import time


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_bytes(ip):
    return socket.inet_aton(ip)


def pad(frame):
    return frame + b"\x00" * max(0, 60 - len(frame))


def eth(dst, src, ethertype, vlan):
    hdr = dst + src
    if vlan is not None:
        hdr += struct.pack("!HH", 0x8100, vlan)
    return hdr + struct.pack("!H", ethertype)


def rarp(mac, vlan):
    m = mac_bytes(mac)
    return pad(eth(b"\xff" * 6, m, 0x8035, vlan)
               + b"\x00\x01\x08\x00\x06\x04\x00\x03"
               + m + b"\x00" * 4 + m + b"\x00" * 4)


def garp(mac, ip, vlan):
    m, a = mac_bytes(mac), ip_bytes(ip)
    return pad(eth(b"\xff" * 6, m, 0x0806, vlan)
               + b"\x00\x01\x08\x00\x06\x04\x00\x01"
               + m + a + b"\x00" * 6 + a)


def link_local(mac):
    m = bytearray(mac_bytes(mac))
    m[0] ^= 2
    return (b"\xfe\x80" + b"\x00" * 6 + bytes(m[:3]) + b"\xff\xfe"
            + bytes(m[3:]))


def na(mac, vlan):
    """An unsolicited NA (override flag) for the MAC's link-local address
    to all nodes; the checksum is left zero: the switch does not check it,
    and the agent rejects these frames for their tag already."""
    m, src = mac_bytes(mac), link_local(mac)
    body = (struct.pack("!BBHI", 136, 0, 0, 0x20000000) + src
            + b"\x02\x01" + m)
    ip6 = (struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + src
           + b"\xff\x02" + b"\x00" * 13 + b"\x01")
    return pad(eth(b"\x33\x33\x00\x00\x00\x01", m, 0x86dd, vlan)
               + ip6 + body)


def announce(args):
    iface, mac = args[0], args[1]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    frame = rarp(mac, None)
    subprocess.run(["bridge", "-batch", args[args.index("--cutover") + 1]],
                   check=True)
    start = time.monotonic()
    s.send(frame)
    stamp = time.time_ns() // 1000
    with open(args[args.index("--stamp") + 1], "w") as f:
        f.write("%d\n" % stamp)
    for r in (50, 200, 450, 800):
        delay = start + r / 1000.0 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.send(frame)


def main():
    args = sys.argv[1:]
    if args[:1] == ["announce"] and len(args) >= 7:
        announce(args[1:])
        return
    if len(args) < 5:
        sys.stderr.write(__doc__)
        sys.exit(2)
    iface, own_mac, own_ip, vm_mac, vm_ip = args[:5]
    seconds = 10.0
    count = 3000000
    if "--seconds" in args:
        seconds = min(float(args[args.index("--seconds") + 1]), 60.0)
    if "--count" in args:
        count = int(args[args.index("--count") + 1])
    frames = [rarp(own_mac, 7), garp(own_mac, own_ip, 7), na(own_mac, 7),
              rarp(vm_mac, None), garp(vm_mac, vm_ip, None),
              na(vm_mac, None)]
    if "--own-untagged" in args:
        frames += [rarp(own_mac, None), garp(own_mac, own_ip, None),
                   na(own_mac, None)]

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    start = time.monotonic()
    deadline = start + seconds
    sent = 0
    n = len(frames)
    while sent < count:
        # Check the clock once every few hundred frames: cheap and bounded.
        for _ in range(256):
            try:
                s.send(frames[sent % n])
            except OSError:
                pass            # A full queue: drop, as a NIC would.
            sent += 1
        if time.monotonic() >= deadline:
            break
    elapsed = time.monotonic() - start
    if "--stats" in args:
        with open(args[args.index("--stats") + 1], "w") as f:
            f.write("%d %.3f\n" % (sent, elapsed))


if __name__ == "__main__":
    main()
