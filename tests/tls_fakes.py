"""Hostile TLS servers on loopback for the weakness checks (tests/test_tls_vulns.py).

Debian 12's OpenSSL serves none of these weaknesses, so `FakeTLS` speaks just enough TLS <= 1.2 by
hand, byte for byte as the weak stacks did: it parses the ClientHello and answers ServerHello,
Certificate, (ServerKeyExchange), ServerHelloDone, choosing what a `Weakness` says: an SSLv2
SERVER-HELLO, DEFLATE, no renegotiation_info, an ignored TLS_FALLBACK_SCSV, MD5 signatures, a
Heartbleed echo (over-reading a marker "memory"), a ROBOT padding oracle (it really decrypts the
ClientKeyExchange with its RSA key and answers by the PKCS#1 format). It cannot finish a handshake
(no record crypto): the OpenSSL handshakes of the probe fail against it, as they would against a
stack the local OpenSSL cannot talk to.

`serve_ssl` runs a real OpenSSL server (Python's ssl) for the weaknesses OpenSSL can still be asked
for: client-initiated renegotiation (SSL_OP_ALLOW_CLIENT_RENEGOTIATION), SHA-1 ServerKeyExchange
signatures at SECLEVEL 0. `ScsvStripper` sits in front of one and removes TLS_FALLBACK_SCSV from
ClientHellos, as a downgrading middlebox or a server that ignores the SCSV would.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

HOST = "portal.example"
MEMORY = b"SECRET-SERVER-MEMORY:"  # what a Heartbleed over-read returns; must never reach an observation
ECDHE_RSA_AES128_GCM, RSA_AES128_GCM, RSA_AES128_CBC = 0xC02F, 0x009C, 0x002F
ALERT = {"handshake_failure": 40, "protocol_version": 70, "inappropriate_fallback": 86, "bad_record_mac": 20,
         "decode_error": 50, "illegal_parameter": 47}


class Key:
    """One RSA key and a self-signed certificate for HOST (DER), shared by the fakes of a test module."""

    def __init__(self, bits: int = 2048) -> None:
        self.key = rsa.generate_private_key(65537, bits)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=90))
                     .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.der = self.cert.public_bytes(serialization.Encoding.DER)

    def pem_file(self, directory: Path) -> Path:
        p = directory / "fake-key.pem"
        p.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM) + self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return p


@dataclass
class Weakness:
    versions: tuple[int, ...] = (0x0303,)
    suites: tuple[int, ...] = (ECDHE_RSA_AES128_GCM, RSA_AES128_GCM, RSA_AES128_CBC)  # server preference
    sslv2: bool | str = False  # True (SERVER-HELLO), False (close), "silent" (wait for a TLS record)
    reneg_info: bool | str = True  # True | False | "scsv_only" (answers the SCSV, ignores the extension)
    deflate: bool = False
    scsv: str = "honour"  # honour | ignore
    heartbeat: str | None = None  # None (no extension) | "leak" (CVE-2014-0160) | "patched"
    sign: str = "sha256"  # sha256 (refuses a hello without it) | "first" (the client's first scheme, MD5 too)
    robot: str = "none"  # none | strong | weak | flaky (strong the first five times, then uniform)
    intolerant: tuple[str, ...] = ()  # "heartbeat", "deflate": hellos carrying them get handshake_failure
    log: list[str] = field(default_factory=list)  # what the server saw, for assertions
    ckes: int = 0


# --- wire helpers -------------------------------------------------------------------------------------------


def _rec(ctype: int, version: int, body: bytes) -> bytes:
    return bytes([ctype]) + version.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


def _hs(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def _alert(version: int, name: str) -> bytes:
    return _rec(21, version, bytes([2, ALERT[name]]))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


def _read_record(sock: socket.socket) -> tuple[int, bytes]:
    head = _recv_exact(sock, 5)
    return head[0], _recv_exact(sock, int.from_bytes(head[3:5], "big"))


@dataclass
class Hello:
    version: int
    ciphers: list[int]
    compression: bytes
    extensions: dict[int, bytes]


def parse_client_hello(body: bytes) -> Hello:
    version = int.from_bytes(body[0:2], "big")
    pos = 34 + 1 + body[34]
    clen = int.from_bytes(body[pos : pos + 2], "big")
    ciphers = [int.from_bytes(body[pos + 2 + i : pos + 4 + i], "big") for i in range(0, clen, 2)]
    pos += 2 + clen
    comp = body[pos + 1 : pos + 1 + body[pos]]
    pos += 1 + body[pos]
    exts: dict[int, bytes] = {}
    if pos + 2 <= len(body):
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            t, n = struct.unpack_from("!HH", body, pos)
            exts[t] = body[pos + 4 : pos + 4 + n]
            pos += 4 + n
    return Hello(version, ciphers, comp, exts)


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# --- the fake server ---------------------------------------------------------------------------------------


class FakeTLS:
    def __init__(self, weak: Weakness, key: Key) -> None:
        self.weak, self.key = weak, key
        self.lock = threading.Lock()

    def __call__(self, sock: socket.socket) -> None:
        sock.settimeout(3)
        first = sock.recv(3, socket.MSG_PEEK)
        if len(first) == 3 and first[0] & 0x80 and first[2] == 1:
            return self._sslv2(sock)
        ctype, frag = _read_record(sock)
        if ctype != 22 or frag[0] != 1:
            return
        hello = parse_client_hello(frag[4:])
        answer = self._choose(hello)
        if isinstance(answer, bytes):
            sock.sendall(answer)
            return
        version, suite, flight = answer
        sock.sendall(flight)
        self._after(sock, version, suite, hello)

    def _sslv2(self, sock: socket.socket) -> None:
        data = sock.recv(4096)
        self.weak.log.append("sslv2 hello")
        if self.weak.sslv2 == "silent":
            sock.recv(4096)  # a TLS-only stack waiting for the rest of a "record" that never comes
            return
        if not self.weak.sslv2:
            sock.close()  # what a TLS-only stack often does with an SSLv2 record
            return
        specs = bytes.fromhex("010080 0700c0")
        cert = self.key.der
        body = (b"\x04\x00\x01" + (2).to_bytes(2, "big") + len(cert).to_bytes(2, "big") + len(specs).to_bytes(2, "big")
                + (16).to_bytes(2, "big") + cert + specs + os.urandom(16))
        sock.sendall((0x8000 | len(body)).to_bytes(2, "big") + body)
        del data

    def _choose(self, h: Hello) -> bytes | tuple[int, int, bytes]:
        w = self.weak
        top = max(w.versions)
        if 43 in h.extensions:
            return _alert(0x0303, "protocol_version")  # a TLS 1.3 hello: this stack has no TLS 1.3
        version = min(h.version, top)
        if version not in w.versions:
            return _alert(0x0301, "protocol_version")
        if ("heartbeat" in w.intolerant and 15 in h.extensions) or ("deflate" in w.intolerant and 1 in h.compression):
            return _alert(version, "handshake_failure")  # an old stack choking on what it does not know
        if 0x5600 in h.ciphers and version < top:
            w.log.append(f"scsv at {version:#06x}")
            if w.scsv == "honour":
                return _alert(version, "inappropriate_fallback")
        suite = next((s for s in w.suites if s in h.ciphers), None)
        if suite is None:
            return _alert(version, "handshake_failure")
        comp = 1 if w.deflate and 1 in h.compression else 0
        exts = b""
        if (w.reneg_info is True and (0xFF01 in h.extensions or 0x00FF in h.ciphers)) or (
                w.reneg_info == "scsv_only" and 0x00FF in h.ciphers):
            exts += b"\xff\x01\x00\x01\x00"
        if w.heartbeat and 15 in h.extensions:
            exts += b"\x00\x0f\x00\x01\x01"
        sh = (version.to_bytes(2, "big") + os.urandom(32) + b"\x00" + suite.to_bytes(2, "big") + bytes([comp])
              + (len(exts).to_bytes(2, "big") + exts if exts else b""))
        certs = len(self.key.der).to_bytes(3, "big") + self.key.der
        msgs = _hs(2, sh) + _hs(11, len(certs).to_bytes(3, "big") + certs)
        if suite == ECDHE_RSA_AES128_GCM:
            params = b"\x03\x00\x1d\x20" + os.urandom(32)
            if version >= 0x0303:
                raw = h.extensions.get(13, b"")[2:]
                offered = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
                if w.sign == "first" and offered:
                    scheme = offered[0]
                elif 0x0401 in offered:
                    scheme = 0x0401
                else:
                    return _alert(version, "handshake_failure")
                params += scheme.to_bytes(2, "big")
            msgs += _hs(12, params + (64).to_bytes(2, "big") + os.urandom(64))
        msgs += _hs(14, b"")
        return version, suite, _rec(22, version, msgs)

    def _after(self, sock: socket.socket, version: int, suite: int, hello: Hello) -> None:
        w = self.weak
        cke: bytes | None = None
        while True:
            try:
                ctype, frag = _read_record(sock)
            except (EOFError, OSError):
                return
            if ctype == 24:
                claimed = int.from_bytes(frag[1:3], "big")
                w.log.append(f"heartbeat claiming {claimed} with {len(frag) - 3} bytes")
                if w.heartbeat == "leak":  # the CVE-2014-0160 bug: echo `claimed` bytes whatever came
                    memory = (MEMORY * (claimed // len(MEMORY) + 1))[:claimed]
                    sock.sendall(_rec(24, version, b"\x02" + claimed.to_bytes(2, "big") + memory + os.urandom(16)))
            elif ctype == 21:
                sock.close()
                return
            elif ctype == 22 and frag[:1] == b"\x10" and cke is None:
                cke = frag
                if suite != ECDHE_RSA_AES128_GCM:
                    early = self._robot_early(frag[6:], hello.version)
                    if early == "reset":
                        _reset(sock)
                        return
                    if early:
                        sock.sendall(_alert(version, early))
                        sock.close()
                        return
            elif ctype == 22 and cke is not None:  # the (encrypted) Finished
                sock.sendall(_alert(version, "bad_record_mac" if suite != ECDHE_RSA_AES128_GCM else
                                    "handshake_failure"))
                sock.close()
                return

    def _robot_early(self, encrypted: bytes, client_version: int) -> str | None:
        """The answer before the Finished, from the decrypted PKCS#1 block: None = wait for Finished."""
        w = self.weak
        with self.lock:
            w.ckes += 1
            n_cke = w.ckes
        mode = w.robot if not (w.robot == "flaky" and n_cke > 5) else "none"
        mode = "strong" if mode == "flaky" else mode
        nums = self.key.key.private_numbers()
        k = (nums.public_numbers.n.bit_length() + 7) // 8
        c = int.from_bytes(encrypted, "big")  # textbook RSA with CRT: the padding is checked below, by hand
        m1, m2 = pow(c, nums.dmp1, nums.p), pow(c, nums.dmq1, nums.q)
        block = (m2 + nums.q * ((nums.iqmp * (m1 - m2)) % nums.p)).to_bytes(k, "big")
        first_ok = block[:2] == b"\x00\x02"
        sep = block.find(b"\x00", 2)
        format_ok = first_ok and sep >= 10 and k - sep - 1 == 48
        w.log.append(f"cke first_ok={first_ok} format_ok={format_ok}")
        if mode == "strong":
            if not first_ok:
                return "reset"
            if not format_ok:
                return "decode_error"
        if mode == "weak" and not format_ok:
            return "handshake_failure"
        return None


# --- servers -----------------------------------------------------------------------------------------------


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # the checks connect in parallel: the default backlog of 5 drops SYNs


@contextmanager
def serve(handler: Callable[[socket.socket], None]) -> Iterator[int]:
    """A threaded TCP server on 127.0.0.1 running handler per connection; yields the port."""

    class H(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                handler(self.request)
            except (OSError, EOFError, ssl.SSLError):
                pass

    srv = _Server(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def ssl_handler(pem: Path, *, options: int = 0, ciphers: str | None = None,
                min_version: ssl.TLSVersion | None = None) -> Callable[[socket.socket], None]:
    """A real OpenSSL server: reads until the client stops (so a renegotiation is processed), answers GETs."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)
    ctx.options |= options
    if ciphers:
        ctx.set_ciphers(ciphers)
    if min_version:
        ctx.minimum_version = min_version

    def handle(sock: socket.socket) -> None:
        sock.settimeout(3)
        with ctx.wrap_socket(sock, server_side=True) as s:
            while True:
                data = s.recv(4096)
                if not data:
                    return
                if data.startswith(b"GET "):
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    return

    return handle


class ScsvStripper:
    """Relay to a backend, removing TLS_FALLBACK_SCSV (0x5600) from the first ClientHello record."""

    def __init__(self, backend_port: int) -> None:
        self.backend_port = backend_port
        self.stripped = 0

    def __call__(self, sock: socket.socket) -> None:
        sock.settimeout(3)
        up = socket.create_connection(("127.0.0.1", self.backend_port), timeout=3)
        try:
            first = sock.recv(3, socket.MSG_PEEK)
            if len(first) == 3 and first[0] == 22:
                ctype, frag = _read_record(sock)
                up.sendall(self._strip(frag))
            threading.Thread(target=_pipe, args=(up, sock), daemon=True).start()
            _pipe(sock, up)
        finally:
            up.close()

    def _strip(self, frag: bytes) -> bytes:
        body = frag[4:]
        pos = 34 + 1 + body[34]
        clen = int.from_bytes(body[pos : pos + 2], "big")
        suites = body[pos + 2 : pos + 2 + clen]
        kept = b"".join(suites[i : i + 2] for i in range(0, clen, 2) if suites[i : i + 2] != b"\x56\x00")
        if kept != suites:
            self.stripped += 1
        body = body[:pos] + len(kept).to_bytes(2, "big") + kept + body[pos + 2 + clen :]
        hs = frag[:1] + len(body).to_bytes(3, "big") + body
        return _rec(22, 0x0301, hs)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
