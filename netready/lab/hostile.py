"""Hostile servers for the scaled lab's broken portals (issue #6: a batch where some targets are dead or
broken must lose none of them and hang on none).

    python hostile.py --drop ADDR ... --garbage ADDR ... --hold ADDR:PORT ...

--drop ADDR     DNS on port 53 that never answers: UDP questions are read and dropped, TCP connections
                are accepted and held open in silence (timeouts).
--garbage ADDR  DNS on port 53 that answers every question with bytes that are not DNS: the question's
                ID and a QR flag, then junk (a parser error, not a timeout), over UDP and TCP.
--hold A:PORT   TCP that accepts and then says nothing (a TLS or HTTP client times out).
--lab-dir DIR   unused: the lab finds its processes by their state dir in the command line.
Addresses where nothing listens at all (refused) need no server. Standard library only: the lab runs
it with the interpreter of the netready that started the lab; one thread, one selector.
"""

from __future__ import annotations

import argparse
import selectors
import socket

JUNK = b"\x81\x80" + b"\xff" * 10 + b"not DNS at all \x00\x13\x37" * 3


def _family(addr: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def _listen(addr: str, port: int, kind: int) -> socket.socket:
    sock = socket.socket(_family(addr), kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        sock.listen(256)
    sock.setblocking(False)
    return sock


def serve(drop: list[str], garbage: list[str], hold: list[str]) -> None:
    sel = selectors.DefaultSelector()
    for addr in drop:
        sel.register(_listen(addr, 53, socket.SOCK_DGRAM), selectors.EVENT_READ, "drop-udp")
        sel.register(_listen(addr, 53, socket.SOCK_STREAM), selectors.EVENT_READ, "accept-hold")
    for addr in garbage:
        sel.register(_listen(addr, 53, socket.SOCK_DGRAM), selectors.EVENT_READ, "garbage-udp")
        sel.register(_listen(addr, 53, socket.SOCK_STREAM), selectors.EVENT_READ, "accept-garbage")
    for spec in hold:
        addr, _, port = spec.rpartition(":")
        sel.register(_listen(addr.strip("[]"), int(port), socket.SOCK_STREAM), selectors.EVENT_READ, "accept-hold")
    while True:
        for key, _ in sel.select():
            sock, what = key.fileobj, key.data
            assert isinstance(sock, socket.socket)
            try:
                if what == "drop-udp":
                    sock.recvfrom(65535)
                elif what == "garbage-udp":
                    data, peer = sock.recvfrom(65535)
                    sock.sendto(data[:2] + JUNK, peer)
                elif what.startswith("accept-"):
                    conn, _ = sock.accept()
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "garbage-tcp" if what == "accept-garbage" else "hold")
                else:  # a held or garbage TCP connection: read what comes, answer junk or nothing
                    data = sock.recv(65535)
                    if not data:
                        sel.unregister(sock)
                        sock.close()
                    elif what == "garbage-tcp" and len(data) >= 4:
                        body = data[2:4] + JUNK
                        sock.send(len(body).to_bytes(2, "big") + body)
            except OSError:
                if what in ("hold", "garbage-tcp"):
                    sel.unregister(sock)
                    sock.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drop", action="append", default=[])
    ap.add_argument("--garbage", action="append", default=[])
    ap.add_argument("--hold", action="append", default=[])
    ap.add_argument("--lab-dir", help="the lab's state dir: unused, it marks the process as the lab's")
    args = ap.parse_args()
    serve(args.drop, args.garbage, args.hold)


if __name__ == "__main__":
    main()
