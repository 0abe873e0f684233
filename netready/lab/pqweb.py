"""A small HTTPS portal for the lab's `pq` scenario, on the OpenSSL that the `cryptography` wheel bundles
(4.x: ML-KEM), not Debian 12's OpenSSL 3.0 that nginx uses (no post-quantum groups).

    python pqweb.py --lab-dir DIR --cert CHAIN --key KEY --root DOCROOT --name HOST --listen ADDR ...

On every --listen address: port 443 with TLS 1.2 + 1.3, the Mozilla intermediate suites, groups
X25519MLKEM768, SecP256r1MLKEM768, X25519, P-256, P-384 (set through the wheel's own binding:
pyOpenSSL has no call for a group list), HSTS, and DOCROOT/index.html; port 80 answers 301 to
https://HOST/. One thread per connection, short timeouts; the lab stops it by pid.
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading
from pathlib import Path

from netready.tables.tls import MOZILLA_HSTS_AGE, MOZILLA_INTERMEDIATE_OPENSSL

GROUPS = b"X25519MLKEM768:SecP256r1MLKEM768:X25519:P-256:P-384"
CIPHERS = MOZILLA_INTERMEDIATE_OPENSSL.encode()
HSTS = f"max-age={MOZILLA_HSTS_AGE}"
TIMEOUT = 5.0


def context(chain: str, key: str):  # -> OpenSSL.SSL.Context
    from cryptography.hazmat.bindings.openssl.binding import Binding
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.use_certificate_chain_file(chain)
    ctx.use_privatekey_file(key)
    ctx.set_cipher_list(CIPHERS)
    if Binding().lib.SSL_CTX_set1_curves_list(ctx._context, GROUPS) != 1:
        raise SystemExit(f"this OpenSSL does not know the groups {GROUPS.decode()}")
    return ctx


def read_head(read) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 16384:
        chunk = read(4096)
        if not chunk:
            break
        data += chunk
    return data


def request_path(head: bytes) -> str:
    parts = head.split(b"\r\n", 1)[0].split()
    path = parts[1].decode("latin-1") if len(parts) >= 2 else "/"
    return path if path.startswith("/") else "/"


def http_answer(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers),
             f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def _bounded(conn: socket.socket) -> None:
    """Blocking, with kernel-level timeouts: pyOpenSSL on a socket with settimeout() (non-blocking inside)
    would raise WantReadError instead of waiting."""
    conn.setblocking(True)
    limit = struct.pack("ll", int(TIMEOUT), 0)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)


def serve_tls(conn: socket.socket, ctx, page: bytes) -> None:
    from OpenSSL import SSL

    _bounded(conn)
    tls = SSL.Connection(ctx, conn)
    tls.set_accept_state()
    try:
        tls.do_handshake()
        read_head(tls.recv)
        tls.sendall(http_answer("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                       ("Strict-Transport-Security", HSTS)], page))
        tls.shutdown()
    except (SSL.Error, OSError):
        pass
    finally:
        conn.close()


def serve_plain(conn: socket.socket, name: str) -> None:
    conn.settimeout(TIMEOUT)
    try:
        head = read_head(conn.recv)
        conn.sendall(http_answer("301 Moved Permanently", [("Location", f"https://{name}{request_path(head)}")], b""))
    except OSError:
        pass
    finally:
        conn.close()


def listen(addr: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((addr.strip("[]"), port))
    sock.listen(128)
    return sock


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab-dir", help="the lab's state dir: unused, it marks the process as the lab's")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--listen", action="append", default=[])
    args = ap.parse_args()
    ctx = context(args.cert, args.key)
    page = (Path(args.root) / "index.html").read_bytes()
    threads = []
    for addr in args.listen:
        for port, handle in ((443, lambda c: serve_tls(c, ctx, page)), (80, lambda c: serve_plain(c, args.name))):
            sock = listen(addr, port)

            def accept(sock: socket.socket = sock, handle=handle) -> None:
                while True:
                    conn, _ = sock.accept()
                    threading.Thread(target=handle, args=(conn,), daemon=True).start()

            t = threading.Thread(target=accept, daemon=True)
            t.start()
            threads.append(t)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
