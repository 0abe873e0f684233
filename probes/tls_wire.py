"""Raw TLS records on one TCP connection, for the checks that go past the server's first answer.

probes/tls_hello.exchange reads one ServerHello and hangs up. The weakness checks of
probes/tls_vulns.py need more of the conversation: the whole ServerHello (compression method,
extensions), the Certificate and ServerKeyExchange messages, sending records in the middle of a
handshake (a heartbeat, a ClientKeyExchange) and reading what comes back, record by record. This
module is that: a connection under one deadline, a record and handshake-message reader, and the
parsers of the few server messages the checks read. It also edits a ClientHello made by
tls_hello.client_hello (compression methods, extensions, extra suites) without touching its builder.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field

from netready.probes.tls_hello import ALERTS

MAX_RECORD = 16384 + 2048
CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA, CT_HEARTBEAT = 20, 21, 22, 23, 24
HS_SERVER_HELLO, HS_CERTIFICATE, HS_SERVER_KEY_EXCHANGE, HS_CERT_REQUEST, HS_SERVER_DONE = 2, 11, 12, 13, 14
EXT_HEARTBEAT, EXT_SIGALGS, EXT_RENEG = 15, 13, 0xFF01


@dataclass
class Event:
    """Something other than the next handshake message: it ends or interrupts the conversation."""

    kind: str  # alert | closed | reset | timeout | not_tls | truncated | record | error
    alert: str | None = None
    level: int | None = None  # alert level: 1 warning, 2 fatal
    rtype: int | None = None  # record type, for kind "record"
    length: int | None = None  # record length, for kind "record"
    head: bytes = b""  # first bytes of a "record" fragment (at most 3: never payloads)
    detail: str | None = None

    def text(self) -> str:
        if self.kind == "alert":
            return f"alert {self.alert}"
        if self.kind == "record":
            return f"record type {self.rtype} ({self.length} bytes)"
        return self.kind + (f" ({self.detail})" if self.detail else "")


@dataclass
class ServerHello:
    version: int
    cipher: int
    compression: int
    extensions: dict[int, bytes] = field(default_factory=dict)


class Wire:
    """One TCP connection read under a deadline; never holds more than the current record."""

    def __init__(self, address: str, port: int, deadline: float) -> None:
        self.address, self.port, self.deadline = address, port, deadline
        self.sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
        self.buf = b""
        self.hs = b""

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def connect(self) -> None:
        """Raises ConnectionRefusedError, TimeoutError or OSError (unreachable...)."""
        self.sock.settimeout(self._left())
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.connect((self.address, self.port))

    def send(self, data: bytes) -> None:
        self.sock.settimeout(self._left())
        self.sock.sendall(data)

    def fill(self, n: int) -> bool:
        """Read until n bytes are buffered; False on EOF. Raises TimeoutError, ConnectionResetError."""
        while len(self.buf) < n:
            self.sock.settimeout(self._left())
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def take(self, n: int) -> bytes:
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def record(self) -> tuple[int, bytes] | Event:
        """The next record (type, fragment), or an Event for EOF, reset, timeout or garbage."""
        try:
            if not self.fill(5):
                return Event("closed" if not self.buf else "truncated")
            ctype, major, rlen = self.buf[0], self.buf[1], int.from_bytes(self.buf[3:5], "big")
            if not CT_CCS <= ctype <= CT_HEARTBEAT or major != 3 or rlen > MAX_RECORD:
                return Event("not_tls", detail=self.buf[:8].hex())
            if not self.fill(5 + rlen):
                return Event("truncated", detail=f"record of {rlen} bytes cut short")
        except TimeoutError:
            return Event("timeout")
        except ConnectionResetError:
            return Event("reset")
        except OSError as exc:
            return Event("error", detail=exc.strerror or str(exc))
        self.take(5)
        return ctype, self.take(rlen)

    def message(self) -> tuple[int, bytes] | Event:
        """The next handshake message (type, body); alerts and other records come back as Events."""
        while True:
            if len(self.hs) >= 4:
                mlen = int.from_bytes(self.hs[1:4], "big")
                if len(self.hs) >= 4 + mlen:
                    mtype, body, self.hs = self.hs[0], self.hs[4 : 4 + mlen], self.hs[4 + mlen :]
                    return mtype, body
            rec = self.record()
            if isinstance(rec, Event):
                return rec
            ctype, frag = rec
            if ctype == CT_HANDSHAKE:
                self.hs += frag
            else:
                return record_event(ctype, frag)

    def close(self) -> None:
        self.buf = self.hs = b""
        self.sock.close()


def record_event(ctype: int, frag: bytes) -> Event:
    """A non-handshake record as an Event; keeps at most the first 3 bytes of its fragment."""
    if ctype == CT_ALERT and len(frag) >= 2:
        return Event("alert", alert=ALERTS.get(frag[1], f"alert {frag[1]}"), level=frag[0])
    return Event("record", rtype=ctype, length=len(frag), head=bytes(frag[:3]))


def record(ctype: int, version: int, fragment: bytes) -> bytes:
    return bytes([ctype]) + version.to_bytes(2, "big") + len(fragment).to_bytes(2, "big") + fragment


def handshake_record(mtype: int, version: int, body: bytes) -> bytes:
    return record(CT_HANDSHAKE, version, bytes([mtype]) + len(body).to_bytes(3, "big") + body)


# --- parsers of server messages ----------------------------------------------------------------------------


def parse_server_hello(body: bytes) -> ServerHello:
    """Raises ValueError / IndexError / struct.error on a malformed message."""
    version = int.from_bytes(body[0:2], "big")
    pos = 34 + 1 + body[34]
    cipher = int.from_bytes(body[pos : pos + 2], "big")
    compression = body[pos + 2]
    pos += 3
    exts: dict[int, bytes] = {}
    if pos + 2 <= len(body):
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            etype, elen = struct.unpack_from("!HH", body, pos)
            exts[etype] = body[pos + 4 : pos + 4 + elen]
            pos += 4 + elen
    if 43 in exts and len(exts[43]) >= 2:  # supported_versions
        version = int.from_bytes(exts[43][:2], "big")
    return ServerHello(version, cipher, compression, exts)


def first_certificate(body: bytes) -> bytes | None:
    """DER of the leaf in a TLS <= 1.2 Certificate message."""
    if len(body) < 6:
        return None
    n = int.from_bytes(body[3:6], "big")
    return body[6 : 6 + n] or None


def key_exchange_signature(body: bytes, kx: str) -> int | None:
    """The SignatureAndHashAlgorithm of a TLS 1.2 ServerKeyExchange (RFC 5246 7.4.3, RFC 8422 5.4)."""
    if kx.startswith("ECDHE"):  # curve_type(1) named_curve(2) point<1..255>
        if not body or body[0] != 3:
            return None
        pos = 3 + 1 + body[3]
    elif kx.startswith("DHE"):  # dh_p<1..2^16-1> dh_g dh_Ys
        pos = 0
        for _ in range(3):
            pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
    else:
        return None
    if pos + 2 > len(body):
        return None
    return int.from_bytes(body[pos : pos + 2], "big")


# --- ClientHello editing -----------------------------------------------------------------------------------


def edit_hello(
    hello: bytes,
    *,
    compression: bytes | None = None,
    add_ciphers: tuple[int, ...] = (),
    set_extensions: dict[int, bytes | None] | None = None,
) -> bytes:
    """A copy of a one-record ClientHello with other compression methods, extra suites appended, and
    extensions replaced, added (at the end) or removed (value None)."""
    body = hello[9:]
    pos = 34 + 1 + body[34]
    head = body[:pos]
    clen = int.from_bytes(body[pos : pos + 2], "big")
    ciphers = body[pos + 2 : pos + 2 + clen] + b"".join(c.to_bytes(2, "big") for c in add_ciphers)
    pos += 2 + clen
    comp = body[pos + 1 : pos + 1 + body[pos]]
    pos += 1 + body[pos]
    exts: list[tuple[int, bytes]] = []
    if pos + 2 <= len(body):
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            etype, elen = struct.unpack_from("!HH", body, pos)
            exts.append((etype, body[pos + 4 : pos + 4 + elen]))
            pos += 4 + elen
    for etype, new in (set_extensions or {}).items():
        exts = [(t, b) for t, b in exts if t != etype] if new is None else (
            [(t, new if t == etype else b) for t, b in exts] if any(t == etype for t, _ in exts)
            else [*exts, (etype, new)])
    ext_bytes = b"".join(t.to_bytes(2, "big") + len(b).to_bytes(2, "big") + b for t, b in exts)
    comp = compression if compression is not None else comp
    out = (head + len(ciphers).to_bytes(2, "big") + ciphers + bytes([len(comp)]) + comp
           + (len(ext_bytes).to_bytes(2, "big") + ext_bytes if exts else b""))
    hs = b"\x01" + len(out).to_bytes(3, "big") + out
    return hello[:3] + len(hs).to_bytes(2, "big") + hs
