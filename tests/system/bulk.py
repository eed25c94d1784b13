#!/usr/bin/env python3
"""A paced bulk TCP transfer for provider-network migration tests.

  bulk.py server PORT RESULT   accept one connection, read to EOF; write
                               {"received": BYTES, "max_stall_ms": MS} to
                               RESULT (the longest time without data once
                               data flowed)
  bulk.py client IP PORT STOP  send 64 KiB every 10 ms (full-size segments)
                               until the file STOP exists; print
                               {"sent": BYTES}
"""

import json
import os
import socket
import sys
import time


def server(port, result):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    conn, _ = ls.accept()
    received, last, stall = 0, None, 0.0
    while True:
        data = conn.recv(1 << 20)
        now = time.monotonic()
        if not data:
            break
        if last is not None:
            stall = max(stall, now - last)
        last = now
        received += len(data)
    with open(result + ".tmp", "w") as f:
        json.dump({"received": received,
                   "max_stall_ms": round(stall * 1e3, 1)}, f)
    os.rename(result + ".tmp", result)


def client(ip, port, stop):
    s = socket.create_connection((ip, port), timeout=30)
    chunk = b"\0" * 65536
    sent = 0
    while not os.path.exists(stop):
        s.sendall(chunk)
        sent += len(chunk)
        time.sleep(0.01)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    print(json.dumps({"sent": sent}))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3])
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
