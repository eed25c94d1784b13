#!/usr/bin/env python3
"""Watches one MAC on the bed's physical switch (tests/system/physnet.sh).

Run in the switch's namespace: physnet-watch.py BRIDGE MAC VLAN.  Prints JSON
lines, flushed: {"t": T, "port": NAME} each time the port the switch has
learned MAC on (in VLAN) changes ("" when it has none), and {"t": T,
"rarp": NAME} for every RARP from MAC seen on a trunk port ("tr-*").  T is
time.time(), so both kinds compare.  Runs until killed.
"""

import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

ETH_P_ALL = 0x0003
ETH_P_RARP = 0x8035
ETH_P_8021Q = 0x8100


def emit(obj, lock=threading.Lock()):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def sniff(ifaces, mac):
    """Timestamps RARPs from 'mac' on 'ifaces' (tagged or not)."""
    socks = {}
    for name in ifaces:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        socks[s.fileno()] = (s, name)
    while True:
        ready, _, _ = select.select(list(socks), [], [], 1.0)
        t = time.time()
        for fd in ready:
            s, name = socks[fd]
            frame, addr = s.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING or len(frame) < 14:
                continue
            etype = struct.unpack("!H", frame[12:14])[0]
            if etype == ETH_P_8021Q and len(frame) >= 18:
                etype = struct.unpack("!H", frame[16:18])[0]
            if etype == ETH_P_RARP and frame[6:12] == mac:
                emit({"t": t, "rarp": name})


def ofport_names(bridge):
    out = subprocess.run(["ovs-ofctl", "show", bridge], capture_output=True,
                         text=True).stdout
    names = {}
    for line in out.splitlines():
        line = line.strip()
        if "(" in line and "):" in line and line[0].isdigit():
            num, rest = line.split("(", 1)
            names[num.strip()] = rest.split(")", 1)[0]
    return names


def main():
    bridge, mac_s, vlan = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
    mac = bytes(int(x, 16) for x in mac_s.split(":"))
    trunks = [n for n in os.listdir("/sys/class/net") if n.startswith("tr-")]
    threading.Thread(target=sniff, args=(trunks, mac), daemon=True).start()
    names = ofport_names(bridge)
    last = None
    while True:
        out = subprocess.run(["ovs-appctl", "fdb/show", bridge],
                             capture_output=True, text=True).stdout
        t = time.time()
        port = ""
        for line in out.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3 and f[2].lower() == mac_s and f[1] == vlan:
                port = names.get(f[0], f[0])
                if port == f[0] and f[0].isdigit():
                    names = ofport_names(bridge)
                    port = names.get(f[0], f[0])
        if port != last:
            emit({"t": t, "port": port})
            last = port


if __name__ == "__main__":
    main()
