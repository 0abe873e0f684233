"""Small hostile servers on loopback, shared by the HTTP and IPv6 tests (and a self-check of them).

Each server listens on 127.0.0.1 or ::1 on a free port, serves every connection the same way in a
thread, and is stopped by the context manager. Modes:
  ok       a small valid HTTP/1.1 answer          silent   accepts, reads, never answers
  garbage  bytes that are not HTTP                reset    reads the request, then RST
  huge     Content-Length 8 MiB, streamed         trickle  a valid answer one byte every 0.2 s
  chunked  a valid chunked answer                 close    closes without answering
  http-now answers 400 at once, without reading
  tls-*    the same behind TLS (cert from `make_cert`)
"""

from __future__ import annotations

import datetime
import socket
import ssl
import struct
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OK_BODY = b"<html><body><h1>Cong dich vu cong</h1><p>Hello from the test server</p></body></html>\n"


def make_cert(directory: Path, host: str) -> tuple[Path, Path, Path]:
    """A CA and a leaf for `host` (EC P-256, valid now). Returns (ca.pem, leaf.pem, leaf.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netready test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _read_request(conn: socket.socket) -> None:
    conn.settimeout(3)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
    except OSError:
        return


def _serve(conn: socket.socket, mode: str, stop: threading.Event, body: bytes) -> None:
    try:
        if mode == "close":
            return
        if mode == "http-now":  # an HTTP server that answers whatever it got, like nginx to a ClientHello
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        _read_request(conn)
        if mode == "silent":
            stop.wait(10)
        elif mode == "garbage":
            conn.sendall(b"\x16\x03\x01garbage that is not HTTP at all\r\n\r\n")
        elif mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "huge":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\nContent-Type: text/plain\r\n\r\n")
            block = b"word " * 13107
            sent = 0
            while sent < 8388608 and not stop.is_set():
                conn.sendall(block[: 8388608 - sent])
                sent += len(block)
        elif mode == "trickle":
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n":
                if stop.wait(0.2):
                    break
                conn.sendall(bytes([b]))
        elif mode == "chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (body[:10], body[10:]):
                conn.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            conn.sendall(b"0\r\n\r\n")
        else:  # ok
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nStrict-Transport-Security: max-age=31536000\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


class HostileServer:
    """A threaded loopback server; .address and .port say where it listens."""

    def __init__(
        self,
        mode: str,
        family: int = socket.AF_INET,
        tls: ssl.SSLContext | None = None,
        body: bytes = OK_BODY,
        port: int = 0,
    ) -> None:
        self.mode, self.tls, self.body = mode, tls, body
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.address = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self.sock.bind((self.address, port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.accepted = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            if self.tls is not None:
                try:
                    conn.settimeout(3)
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    continue
            threading.Thread(target=_serve, args=(conn, self.mode, self.stop, self.body), daemon=True).start()

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@contextmanager
def server(mode: str, family: int = socket.AF_INET, tls: ssl.SSLContext | None = None, body: bytes = OK_BODY):
    with HostileServer(mode, family, tls, body) as srv:
        yield srv


def tls_server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def test_hostile_server_answers_ok() -> None:
    with server("ok") as srv, socket.create_connection((srv.address, srv.port), timeout=2) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.05)
        assert s.recv(100).startswith(b"HTTP/1.1 200 OK")
