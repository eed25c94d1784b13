#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""Sends one IPv6 neighbour-discovery frame from MAC on IFACE (raw, so
that a test can send what a well-behaved kernel would not):

  nd.py IFACE MAC ra PREFIX     a router advertisement from MAC's link-local
                                address: PREFIX/64 on-link and autonomous,
                                router lifetime 1800 s (a rogue router)
  nd.py IFACE MAC ns TARGET     a solicitation for TARGET to its
                                solicited-node group, from MAC's link-local
                                address, with a source link-layer option
  nd.py IFACE MAC dad TARGET    the same as duplicate address detection
                                sends it: from ::, without the option
  nd.py IFACE MAC rs SECONDS    router solicitations to ff02::2 from MAC's
                                link-local address, with a source
                                link-layer option (each one valid, as a
                                kernel sends it), as fast as one core lets
                                Python send them for SECONDS (at most 60;
                                0: one), then prints SENT ELAPSED"""

import ipaddress
import socket
import sys
import time


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def lla(mac):
    m = mac_bytes(mac)
    return bytes([0xfe, 0x80] + [0] * 6 + [m[0] ^ 2] + list(m[1:3])
                 + [0xff, 0xfe] + list(m[3:]))


def checksum(src, dst, icmp):
    data = src + dst + len(icmp).to_bytes(4, "big") + b"\0\0\0\x3a" + icmp
    s = sum(int.from_bytes(data[i:i + 2], "big")
            for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s & 0xffff).to_bytes(2, "big")


def frame(eth_dst, mac, src, dst, icmp):
    icmp = icmp[:2] + checksum(src, dst, icmp) + icmp[4:]
    ip6 = (b"\x60\0\0\0" + len(icmp).to_bytes(2, "big") + bytes([58, 255])
           + src + dst)
    return eth_dst + mac_bytes(mac) + b"\x86\xdd" + ip6 + icmp


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        sys.exit(2)
    iface, mac, kind, arg = sys.argv[1:]
    m = mac_bytes(mac)
    if kind == "ra":
        prefix = ipaddress.IPv6Network(arg + "/64").network_address.packed
        icmp = (bytes([134, 0, 0, 0, 64, 0]) + (1800).to_bytes(2, "big")
                + b"\0" * 8 + bytes([1, 1]) + m
                + bytes([3, 4, 64, 0xc0]) + b"\xff" * 8 + b"\0" * 4 + prefix)
        dst = ipaddress.IPv6Address("ff02::1").packed
        f = frame(b"\x33\x33\0\0\0\x01", mac, lla(mac), dst, icmp)
    elif kind in ("ns", "dad"):
        target = ipaddress.IPv6Address(arg).packed
        dst = ipaddress.IPv6Address("ff02::1:ff00:0").packed[:13] + target[13:]
        icmp = bytes([135, 0, 0, 0, 0, 0, 0, 0]) + target
        src = bytes(16)
        if kind == "ns":
            icmp += bytes([1, 1]) + m
            src = lla(mac)
        f = frame(b"\x33\x33" + dst[12:], mac, src, dst, icmp)
    elif kind == "rs":
        icmp = bytes([133, 0, 0, 0, 0, 0, 0, 0, 1, 1]) + m
        dst = ipaddress.IPv6Address("ff02::2").packed
        f = frame(b"\x33\x33\0\0\0\x02", mac, lla(mac), dst, icmp)
        flood(iface, f, min(float(arg), 60.0))
        return
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.send(f)


def flood(iface, f, seconds):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    start = time.monotonic()
    deadline = start + seconds
    sent = 0
    while True:
        # Check the clock once every few hundred frames: cheap and bounded.
        for _ in range(256 if seconds else 1):
            try:
                s.send(f)
            except OSError:
                pass            # A full queue: drop, as a NIC would.
            sent += 1
        if time.monotonic() >= deadline:
            break
    print("%d %.3f" % (sent, time.monotonic() - start))


if __name__ == "__main__":
    main()
