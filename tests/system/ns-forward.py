#!/usr/bin/env python3
"""Forwards TCP connections from a loopback port of the caller's network
namespace to an address inside another namespace, so that a kubectl on the
host reaches the bed's kube-apiserver, which lives in the bed's underlay
namespace (the sandbox's --keep).  Bytes pass through untouched: TLS is
end to end between kubectl and kube-apiserver.

    ns-forward.py LISTEN-PORT NETNS-NAME TARGET-IP TARGET-PORT [PORT-FILE]

Listens on 127.0.0.1:LISTEN-PORT (0: any free port, written to PORT-FILE).
"""

import asyncio
import ctypes
import os
import socket
import sys

CLONE_NEWNET = 0x40000000


def enter_netns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/var/run/netns/" + name, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(%s): %s" % (name, os.strerror(err)))
    os.close(fd)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main():
    port, netns, ip, tport = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                              int(sys.argv[4]))
    # The listening socket is made in the caller's namespace; every socket
    # made after setns() is in the bed's.
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(64)
    enter_netns(netns)

    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection(ip, tport)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

    server = await asyncio.start_server(handle, sock=lsock)
    if len(sys.argv) > 5:
        with open(sys.argv[5] + ".tmp", "w") as f:
            f.write("%d\n" % lsock.getsockname()[1])
        os.rename(sys.argv[5] + ".tmp", sys.argv[5])
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
