#!/usr/bin/env python3
# Copyright (c) 2026 The livebind authors.
# Licensed under the Apache License, Version 2.0.
"""Frames on a VM's tap, for livebind's QEMU migration test and benchmark.

  tapcap.py capture IFNAME OUT
      record every frame on IFNAME (an AF_PACKET socket, kernel receive
      timestamps) until SIGTERM: one line a frame, flushed at once,
      "SEC.NSEC DIR ETHERTYPE SRC-MAC DST-MAC IP-SRC IP-DST PROTO", PROTO
      with ":SPORT>DPORT" for TCP and UDP (and "#N" for UDP, the
      datagram's first 8 bytes as a sequence number; a Geneve frame as
      the frame it carries, PROTO suffixed "@geneve"), where DIR is
      "to-vm" for a frame the kernel hands to the tap (QEMU reads it into
      the guest) and "from-vm" for one QEMU writes; "ready" on the first
      line once bound
  tapcap.py analyze OUT VM-MAC CLIENT-IP RESUME-EPOCH
      print JSON: frames to the VM before RESUME-EPOCH (seconds, QEMU's
      RESUME event), QEMU's first RARP after it (ms after RESUME), the
      client's first frame to the VM after it (ms after RESUME and after
      the first RARP; "client_first": that frame's time and protocol
      field, to find it in a capture at the client), and the guest's
      first gratuitous ARP (ms after RESUME)

Why the tap: under TCG the guest itself answers slowly for ~100 ms after
it resumes (cold translation cache), so the network's share of a cutover
is measured where the network hands frames to QEMU, not at an application."""

import json
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
PACKET_OUTGOING = 4


def fmt_mac(b):
    return ":".join("%02x" % x for x in b)


GENEVE_PORT = 6081


def describe(data):
    """A frame's "ETHERTYPE SRC-MAC DST-MAC IP-SRC IP-DST PROTO" fields.  A
    Geneve frame is described by the frame it carries, its PROTO field
    suffixed "@geneve" (an underlay capture times the same frame on its
    way between two switches)."""
    etype = struct.unpack("!H", data[12:14])[0]
    ipsrc = ipdst = proto = "-"
    if etype == 0x0800 and len(data) >= 34:
        ipsrc = socket.inet_ntoa(data[26:30])
        ipdst = socket.inet_ntoa(data[30:34])
        ihl = (data[14] & 0xf) * 4
        proto = {6: "tcp", 17: "udp", 1: "icmp"}.get(data[23], "ip")
        udp = 14 + ihl
        if proto in ("tcp", "udp") and len(data) >= udp + 4:
            sport, dport = struct.unpack("!HH", data[udp:udp + 4])
            proto += ":%d>%d" % (sport, dport)
            if proto.startswith("udp:") and dport == GENEVE_PORT:
                inner = udp + 16 + (data[udp + 8] & 0x3f) * 4
                if len(data) >= inner + 14:
                    return describe(data[inner:]) + "@geneve"
        if proto.startswith("udp:") and len(data) >= udp + 16:
            # echo-canary.py's datagrams begin with their sequence
            # number: the same frame found in two captures.
            proto += "#%d" % struct.unpack("!Q", data[udp + 8:udp + 16])[0]
    elif etype == 0x86dd and len(data) >= 54:
        ipsrc = socket.inet_ntop(socket.AF_INET6, data[22:38])
        ipdst = socket.inet_ntop(socket.AF_INET6, data[38:54])
        proto = {6: "tcp", 17: "udp", 58: "icmp6"}.get(data[20], "ip6")
        if proto in ("tcp", "udp") and len(data) >= 58:
            proto += ":%d>%d" % struct.unpack("!HH", data[54:58])
    elif etype == 0x0806 and len(data) >= 42:
        ipsrc = socket.inet_ntoa(data[28:32])
        ipdst = socket.inet_ntoa(data[38:42])
    return "%04x %s %s %s %s %s" % (etype, fmt_mac(data[6:12]),
                                    fmt_mac(data[0:6]), ipsrc, ipdst, proto)


def capture(ifname, out):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                         socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((ifname, 0))
    f = open(out, "w")
    f.write("ready\n")
    f.flush()

    def stop(*_):
        f.close()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    while True:
        data, anc, _, addr = sock.recvmsg(256, 64)
        ts = None
        for level, typ, val in anc:
            if level == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", val[:16])
                ts = "%d.%09d" % (sec, nsec)
        if ts is None or len(data) < 14:
            continue
        direction = "to-vm" if addr[2] == PACKET_OUTGOING else "from-vm"
        f.write("%s %s %s\n" % (ts, direction, describe(data)))
        f.flush()


def analyze(out, vm_mac, client_ip, resume):
    vm_mac = vm_mac.lower()
    res = {"to_vm_before_resume": 0, "to_vm_before_resume_first": None,
           "resume_to_rarp_ms": None, "resume_to_client_ms": None,
           "rarp_to_client_ms": None, "resume_to_garp_ms": None,
           "resume_to_rarp2_ms": None, "rarps": 0,
           "client_first": None}
    rarp = None
    with open(out) as f:
        for line in f:
            fields = line.split()
            if len(fields) != 8:
                continue
            t = float(fields[0])
            direction, etype, src, _, ipsrc, ipdst, proto = fields[1:]
            if direction == "to-vm" and t < resume:
                if not res["to_vm_before_resume"]:
                    res["to_vm_before_resume_first"] = line.strip()
                res["to_vm_before_resume"] += 1
                continue
            ms = (t - resume) * 1000
            if direction == "from-vm" and etype == "8035" and src == vm_mac:
                res["rarps"] += 1
                if rarp is None:
                    rarp = t
                    res["resume_to_rarp_ms"] = round(ms, 3)
                elif (res["resume_to_rarp2_ms"] is None
                      and t - rarp > 0.010):
                    # QEMU's second round (a round may be several frames).
                    res["resume_to_rarp2_ms"] = round(ms, 3)
            elif (direction == "from-vm" and etype == "0806"
                  and src == vm_mac and ipsrc == ipdst
                  and res["resume_to_garp_ms"] is None):
                res["resume_to_garp_ms"] = round(ms, 3)
            elif (direction == "to-vm" and ipsrc == client_ip
                  and res["resume_to_client_ms"] is None and t >= resume):
                res["resume_to_client_ms"] = round(ms, 3)
                res["client_first"] = [fields[0], proto]
                if rarp is not None:
                    res["rarp_to_client_ms"] = round((t - rarp) * 1000, 3)
    return res


def main(argv):
    if len(argv) == 4 and argv[1] == "capture":
        capture(argv[2], argv[3])
        return 0
    if len(argv) == 6 and argv[1] == "analyze":
        print(json.dumps(analyze(argv[2], argv[3], argv[4], float(argv[5]))))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
