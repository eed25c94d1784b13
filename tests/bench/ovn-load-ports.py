#!/usr/bin/env python3
"""Loads N logical ports into OVN, as bench-k8s.sh loads them into
kube-apiserver for livebind, and binds them to the remote chassis.

    ovn-load-ports.py NB_SOCK SB_SOCK N FIRST_IP LOCAL_PORT CHASSIS...

One logical switch "pods" with ports pod0..pod<N-1> (addresses "MAC IP",
the MAC derived from the IP as livebind derives it) and LOCAL_PORT, which
a node binds itself.  Each podI is bound to CHASSIS[I % len(CHASSIS)]
(Port_Binding.chassis, written into the SB database as the chassis'
ovn-controller would write it: none runs there).  Waits until ovn-northd
has made every Port_Binding and its logical flows stop changing, then
prints "lflows N".

Talks OVSDB's JSON-RPC on the databases' unix sockets itself: the
transactions are too large for ovsdb-client's command line.
"""
import ipaddress
import json
import socket
import sys
import time


class Ovsdb:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = ""
        self.next_id = 0
        self.decoder = json.JSONDecoder()

    def call(self, method, params):
        self.next_id += 1
        self.sock.sendall(json.dumps({"method": method, "params": params,
                                      "id": self.next_id}).encode())
        while True:
            msg = self._read()
            if msg.get("id") == self.next_id:
                if msg.get("error"):
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg["result"]
            if msg.get("method") == "echo":
                self.sock.sendall(json.dumps({"result": msg["params"],
                                              "error": None,
                                              "id": msg["id"]}).encode())

    def _read(self):
        while True:
            text = self.buf.lstrip()
            if text:
                try:
                    msg, end = self.decoder.raw_decode(text)
                    self.buf = text[end:]
                    return msg
                except ValueError:
                    pass
            data = self.sock.recv(1 << 20)
            if not data:
                raise RuntimeError("database closed the connection")
            self.buf += data.decode()

    def transact(self, db, *ops):
        result = self.call("transact", [db] + list(ops))
        for r in result:
            if r and "error" in r:
                raise RuntimeError("transact: %s" % r)
        return result

    def select(self, db, table, columns=("_uuid",)):
        r = self.transact(db, {"op": "select", "table": table, "where": [],
                               "columns": list(columns)})
        return r[0]["rows"]


def main():
    nb_sock, sb_sock, n, first, local = sys.argv[1:6]
    chassis_names = sys.argv[6:]
    n, first = int(n), ipaddress.IPv4Address(first)

    nb = Ovsdb(nb_sock)
    ops, ports = [], []
    for i in range(n):
        ip = first + i
        b = ip.packed
        mac = "0a:58:%02x:%02x:%02x:%02x" % tuple(b)
        ops.append({"op": "insert", "table": "Logical_Switch_Port",
                    "uuid-name": "p%d" % i,
                    "row": {"name": "pod%d" % i,
                            "addresses": "%s %s" % (mac, ip)}})
        ports.append(["named-uuid", "p%d" % i])
    ops.append({"op": "insert", "table": "Logical_Switch_Port",
                "uuid-name": "local", "row": {"name": local}})
    ports.append(["named-uuid", "local"])
    ops.append({"op": "insert", "table": "Logical_Switch",
                "row": {"name": "pods", "ports": ["set", ports]}})
    nb.transact("OVN_Northbound", *ops)

    sb = Ovsdb(sb_sock)
    deadline = time.time() + 600
    while len(sb.select("OVN_Southbound", "Port_Binding")) < n + 1:
        if time.time() > deadline:
            sys.exit("ovn-northd made no Port_Binding for every port")
        time.sleep(0.5)
    chassis = {}
    for row in sb.select("OVN_Southbound", "Chassis", ("_uuid", "name")):
        chassis[row["name"]] = row["_uuid"]
    missing = [c for c in chassis_names if c not in chassis]
    if missing:
        sys.exit("no Chassis %s in the SB database" % ", ".join(missing))
    sb.transact("OVN_Southbound", *[
        {"op": "update", "table": "Port_Binding",
         "where": [["logical_port", "==", "pod%d" % i]],
         "row": {"chassis": chassis[chassis_names[i % len(chassis_names)]]}}
        for i in range(n)])

    # ovn-northd is done when the logical flows stop changing.
    last, stable_since = -1, time.time()
    while time.time() - stable_since < 2:
        if time.time() > deadline:
            sys.exit("ovn-northd's logical flows never settled")
        count = len(sb.select("OVN_Southbound", "Logical_Flow"))
        if count != last:
            last, stable_since = count, time.time()
        time.sleep(0.5)
    print("lflows %d" % last)


if __name__ == "__main__":
    main()
