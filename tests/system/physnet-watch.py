#!/usr/bin/env python3
"""Watches MACs on the bed's physical switch (tests/system/physnet.sh).

Run in the switch's namespace with its OVS environment:
    physnet-watch.py BRIDGE MAC VLAN [MAC VLAN...]
Prints JSON lines, flushed, each with the "mac" it is about:
  {"t": T, "port": NAME}   the port the switch has learned MAC on (in VLAN)
                           changed ("" when it has none); T is when the
                           answer that shows it came back (fdb/show, asked
                           over ovs-vswitchd's control socket in a loop,
                           about a millisecond apart)
  {"t": T, "src": NAME, "rarp": BOOL}  the first frame from MAC on a trunk
                           port ("tr-*") after one from elsewhere, and every
                           RARP from MAC; T is the kernel's receive time.
                           An unsolicited NA from MAC (to all nodes) is
                           reported too, with "na": its target address.
All times are time.time()'s clock.  Runs until killed.
"""

import ipaddress
import json
import os
import select
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
ETH_P_RARP = 0x8035
ETH_P_8021Q = 0x8100
ETH_P_IPV6 = 0x86DD
ALL_NODES = bytes([0x33, 0x33, 0, 0, 0, 1])
SO_TIMESTAMPNS = 35


def emit(obj, lock=threading.Lock()):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def sniff(ifaces, macs):
    socks = {}
    for name in ifaces:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.bind((name, 0))
        socks[s.fileno()] = (s, name)
    last = {}
    while True:
        ready, _, _ = select.select(list(socks), [], [], 1.0)
        for fd in ready:
            s, name = socks[fd]
            frame, anc, _, addr = s.recvmsg(65535, 1024)
            if addr[2] == socket.PACKET_OUTGOING or len(frame) < 14:
                continue
            mac = frame[6:12]
            if mac not in macs:
                continue
            t = time.time()
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", data[:16])
                    t = sec + nsec / 1e9
            etype = struct.unpack("!H", frame[12:14])[0]
            off = 14
            if etype == ETH_P_8021Q and len(frame) >= 18:
                etype = struct.unpack("!H", frame[16:18])[0]
                off = 18
            rarp = etype == ETH_P_RARP
            event = {"t": t, "src": name, "rarp": rarp, "mac": macs[mac]}
            na = unsolicited_na(frame, etype, off)
            if na:
                event["na"] = na
            if rarp or na or name != last.get(mac):
                emit(event)
            last[mac] = name


def unsolicited_na(frame, etype, off):
    """The target of an unsolicited NA (to all nodes) in 'frame', or None."""
    if (etype != ETH_P_IPV6 or frame[:6] != ALL_NODES
            or len(frame) < off + 64 or frame[off + 6] != 58
            or frame[off + 40] != 136):
        return None
    return str(ipaddress.IPv6Address(frame[off + 48:off + 64]))


class Unixctl:
    """A JSON-RPC connection to an OVS daemon's control socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.id = 0
        self.dec = json.JSONDecoder()
        self.buf = ""

    def call(self, method, *params):
        self.id += 1
        self.sock.sendall(json.dumps({"id": self.id, "method": method,
                                      "params": list(params)}).encode())
        while True:
            try:
                msg, end = self.dec.raw_decode(self.buf.lstrip())
                self.buf = self.buf.lstrip()[end:]
                if msg.get("id") == self.id:
                    return msg.get("result") or ""
            except ValueError:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("control socket closed")
                self.buf += data.decode()


def port_names(ctl, bridge):
    names = {}
    for line in ctl.call("dpif/show").splitlines():
        f = line.strip().split()
        # "    tr-node1 1/2: (afpacket)" under the bridge
        if len(f) >= 2 and "/" in f[1] and f[1].split("/")[0].isdigit():
            names[f[1].split("/")[0]] = f[0]
    return names


def main():
    bridge, args = sys.argv[1], sys.argv[2:]
    watched = [(args[i].lower(), args[i + 1]) for i in range(0, len(args), 2)]
    macs = {bytes(int(x, 16) for x in m.split(":")): m for m, _ in watched}
    rundir = os.environ["OVS_RUNDIR"]
    pid = open(os.path.join(rundir, "ovs-vswitchd.pid")).read().strip()
    ctl = Unixctl(os.path.join(rundir, "ovs-vswitchd.%s.ctl" % pid))
    trunks = [n for n in os.listdir("/sys/class/net") if n.startswith("tr-")]
    threading.Thread(target=sniff, args=(trunks, macs), daemon=True).start()
    names = port_names(ctl, bridge)
    last = {}
    while True:
        out = ctl.call("fdb/show", bridge)
        t = time.time()
        port = dict.fromkeys(watched, "")
        for line in out.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3 and (f[2].lower(), f[1]) in port:
                if f[0] not in names:
                    names = port_names(ctl, bridge)
                port[(f[2].lower(), f[1])] = names.get(f[0], f[0])
        for key, p in port.items():
            if p != last.get(key):
                emit({"t": t, "port": p, "mac": key[0]})
                last[key] = p
        time.sleep(0.0005)


if __name__ == "__main__":
    main()
