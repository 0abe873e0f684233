"""Raw ClientHellos and the server's first answer, independent of the local OpenSSL policy.

scapy's TLS layer builds one template hello per kind (SSLv3, TLS 1.0-1.2, TLS 1.3) the first time
it is needed. A scapy build costs ~5 ms of Python and a scan needs dozens of hellos that differ only
in a few vectors (cipher suites, groups, SNI, key shares), so variants are made by splicing those
vectors into the template's bytes (`client_hello`), which costs microseconds. The answer is read by
hand for the same reason: only ServerHello / HelloRetryRequest / ServerKeyExchange / alert fields
that decide a question are decoded, never whole records. tests/test_tls_hello.py checks the
spliced bytes with scapy's dissector.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import time
from dataclasses import dataclass

# SHA-256("HelloRetryRequest"): the ServerHello.random that marks a HelloRetryRequest (RFC 8446 4.1.3).
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")

EXT_SNI, EXT_GROUPS, EXT_POINTS, EXT_SIGALGS, EXT_VERSIONS, EXT_KEY_SHARE, EXT_RENEG = 0, 10, 11, 13, 43, 51, 0xFF01

SIG_ALGS = [
    0x0403,
    0x0503,
    0x0603,
    0x0807,
    0x0808,
    0x0804,
    0x0805,
    0x0806,
    0x0809,
    0x080A,
    0x080B,
    0x0401,
    0x0501,
    0x0601,
    0x0303,
    0x0301,
    0x0302,
    0x0203,
    0x0201,
    0x0202,
    0x0402,
    0x0502,
    0x0602,
]

ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    40: "handshake_failure",
    42: "bad_certificate",
    47: "illegal_parameter",
    48: "unknown_ca",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    120: "no_application_protocol",
}
MAX_RECORD = 16384 + 2048


@dataclass
class _Template:
    legacy_version: int
    record_version: int
    extensions: list[tuple[int, bytes]]  # in scapy's order; bodies replaced per variant
    x25519_share: bytes  # a real X25519 public key scapy generated for the template


@functools.lru_cache(maxsize=4)
def _template(kind: str) -> _Template:
    """The template of one kind: from the on-disk cache, else built by scapy (then cached)."""
    from probes.tls_suites import cache_get, cache_put

    cached = cache_get(f"hello-{kind}")
    if cached:
        return _Template(cached["legacy_version"], cached["record_version"],
                         [(t, bytes.fromhex(b)) for t, b in cached["extensions"]], bytes.fromhex(cached["share"]))
    tpl = _build_template(kind)
    cache_put(f"hello-{kind}", {"legacy_version": tpl.legacy_version, "record_version": tpl.record_version,
                                "extensions": [[t, b.hex()] for t, b in tpl.extensions],
                                "share": tpl.x25519_share.hex()})
    return tpl


def _build_template(kind: str) -> _Template:
    """Build the template hello of one kind with scapy and split it into its vectors."""
    from scapy.layers.tls.extensions import (
        ServerName,
        TLS_Ext_RenegotiationInfo,
        TLS_Ext_ServerName,
        TLS_Ext_SignatureAlgorithms,
        TLS_Ext_SupportedGroups,
        TLS_Ext_SupportedPointFormat,
        TLS_Ext_SupportedVersion_CH,
    )
    from scapy.layers.tls.handshake import TLSClientHello
    from scapy.layers.tls.keyexchange_tls13 import KeyShareEntry, TLS_Ext_KeyShare_CH

    version = {"ssl3": 0x0300, "tls12": 0x0303, "tls13": 0x0303}[kind]
    ext = []
    if kind != "ssl3":
        ext = [
            TLS_Ext_ServerName(servernames=[ServerName(servername=b"template.invalid")]),
            TLS_Ext_SupportedGroups(groups=[29, 23, 24]),
            TLS_Ext_SupportedPointFormat(ecpl=[0]),
            TLS_Ext_SignatureAlgorithms(sig_algs=SIG_ALGS),
            TLS_Ext_RenegotiationInfo(),
        ]
    if kind == "tls13":
        ext += [
            TLS_Ext_SupportedVersion_CH(versions=[0x0304]),
            TLS_Ext_KeyShare_CH(client_shares=[KeyShareEntry(group=29)]),
        ]
    hello = TLSClientHello(version=version, ciphers=[0x002F], comp=[0], ext=ext or None)
    raw = bytes(hello)
    # Split what scapy built: type(1) len(3) version(2) random(32) sid ciphers comp extensions.
    pos = 4 + 2 + 32
    pos += 1 + raw[pos]
    (clen,) = struct.unpack_from("!H", raw, pos)
    pos += 2 + clen
    pos += 1 + raw[pos]
    extensions: list[tuple[int, bytes]] = []
    share = b""
    if pos < len(raw):
        end = pos + 2 + struct.unpack_from("!H", raw, pos)[0]
        pos += 2
        while pos < end:
            etype, elen = struct.unpack_from("!HH", raw, pos)
            body = raw[pos + 4 : pos + 4 + elen]
            extensions.append((etype, body))
            if etype == EXT_KEY_SHARE:  # list len(2) group(2) key len(2) key
                share = body[6 : 6 + struct.unpack_from("!H", body, 4)[0]]
            pos += 4 + elen
    return _Template(version, 0x0300 if kind == "ssl3" else 0x0301, extensions, share)


def prepare() -> None:
    """Load or build every template and the suite table now (the first run in a home pays the scapy import)."""
    from probes.tls_suites import suite_table

    suite_table()
    for kind in ("ssl3", "tls12", "tls13"):
        _template(kind)


def _vec(data: bytes, width: int) -> bytes:
    return len(data).to_bytes(width, "big") + data


def client_hello(version: int, ciphers: list[int], sni: str | None, groups: list[int], key_share: bool = True) -> bytes:
    """One ClientHello record offering `version` (SSLv3..TLS 1.3), these suites and named groups.

    TLS 1.3: supported_versions = [1.3]; a real X25519 key share when x25519 is offered and key_share is
    True, else an empty share list (the server must then answer HelloRetryRequest naming its group).
    """
    kind = "ssl3" if version == 0x0300 else "tls13" if version == 0x0304 else "tls12"
    tpl = _template(kind)
    legacy = tpl.legacy_version if kind != "tls12" else version
    exts = []
    for etype, body in tpl.extensions:
        if etype == EXT_SNI:
            if not sni:
                continue
            name = sni.encode("ascii")
            body = _vec(b"\x00" + _vec(name, 2), 2)
        elif etype == EXT_GROUPS:
            if not groups:
                continue
            body = _vec(struct.pack(f"!{len(groups)}H", *groups), 2)
        elif etype == EXT_SIGALGS and version < 0x0303:
            continue  # not defined before TLS 1.2; some old servers choke on it
        elif etype == EXT_KEY_SHARE:
            share = b""
            if key_share and 29 in groups:
                share = (29).to_bytes(2, "big") + _vec(tpl.x25519_share, 2)
            body = _vec(share, 2)
        exts.append(etype.to_bytes(2, "big") + _vec(body, 2))
    session_id = os.urandom(32) if kind == "tls13" else b""  # 1.3 middlebox compatibility mode
    body = (
        legacy.to_bytes(2, "big")
        + os.urandom(32)
        + _vec(session_id, 1)
        + _vec(struct.pack(f"!{len(ciphers)}H", *ciphers), 2)
        + b"\x01\x00"
        + (_vec(b"".join(exts), 2) if exts else b"")
    )
    handshake = b"\x01" + _vec(body, 3)
    return b"\x16" + tpl.record_version.to_bytes(2, "big") + _vec(handshake, 2)


@dataclass
class Answer:
    """The server's first answer to a raw hello, reduced to what decides a question."""

    kind: str  # hello | hrr | alert | closed | reset | timeout | refused | not_tls | truncated | error
    version: int | None = None  # negotiated (supported_versions when present, else ServerHello.version)
    cipher: int | None = None
    group: int | None = None  # TLS 1.3 key_share group, or TLS <= 1.2 ServerKeyExchange named curve
    dh_bits: int | None = None  # TLS <= 1.2 ServerKeyExchange DH modulus size
    alert: str | None = None
    detail: str | None = None
    ms: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.kind in ("hello", "hrr")


class _Reader:
    """Handshake messages out of TLS records, read under one deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.buf = b""
        self.hs = b""

    def _need(self, n: int) -> bool:
        while len(self.buf) < n:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def next_message(self) -> tuple[int, bytes] | Answer:
        """The next handshake message (type, body), or an Answer that ends the exchange."""
        while True:
            if len(self.hs) >= 4:
                mlen = int.from_bytes(self.hs[1:4], "big")
                if len(self.hs) >= 4 + mlen:
                    mtype, body, self.hs = self.hs[0], self.hs[4 : 4 + mlen], self.hs[4 + mlen :]
                    return mtype, body
            if not self._need(5):
                return Answer("closed" if not self.buf and not self.hs else "truncated", detail=_show(self.buf))
            ctype, major, rlen = self.buf[0], self.buf[1], int.from_bytes(self.buf[3:5], "big")
            if ctype not in (20, 21, 22, 23) or major not in (2, 3) or rlen > MAX_RECORD:
                return Answer("not_tls", detail=_show(self.buf))
            if not self._need(5 + rlen):
                return Answer("truncated", detail=f"record of {rlen} bytes cut after {len(self.buf) - 5}")
            frag, self.buf = self.buf[5 : 5 + rlen], self.buf[5 + rlen :]
            if ctype == 21:
                if len(frag) < 2:
                    return Answer("truncated", detail="short alert")
                return Answer("alert", alert=ALERTS.get(frag[1], f"alert {frag[1]}"))
            if ctype != 22:
                return Answer("not_tls", detail=f"record type {ctype} before ServerHello")
            self.hs += frag


def _show(data: bytes) -> str:
    head = data[:24]
    text = head.decode("ascii", errors="replace")
    return repr(text) if text.isprintable() else head.hex()


def _parse_server_hello(body: bytes) -> Answer:
    version = int.from_bytes(body[0:2], "big")
    random = body[2:34]
    pos = 34 + 1 + body[34]
    cipher = int.from_bytes(body[pos : pos + 2], "big")
    pos += 3
    group = None
    if pos + 2 <= len(body):
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            etype, elen = struct.unpack_from("!HH", body, pos)
            ebody = body[pos + 4 : pos + 4 + elen]
            if etype == EXT_VERSIONS and elen >= 2:
                version = int.from_bytes(ebody[:2], "big")
            elif etype == EXT_KEY_SHARE and elen >= 2:
                group = int.from_bytes(ebody[:2], "big")
            pos += 4 + elen
    kind = "hrr" if random == HRR_RANDOM else "hello"
    return Answer(kind, version=version, cipher=cipher, group=group)


def _parse_key_exchange(body: bytes, ans: Answer) -> None:
    """ECDHE: curve_type 3 + named curve; DHE: the modulus p comes first (RFC 5246 7.4.3)."""
    if len(body) >= 3 and body[0] == 3:
        ans.group = int.from_bytes(body[1:3], "big")
    elif len(body) >= 2:
        plen = int.from_bytes(body[0:2], "big")
        p = body[2 : 2 + plen]
        ans.dh_bits = int.from_bytes(p, "big").bit_length()


def exchange(address: str, port: int, hello: bytes, timeout: float, want_kex: bool = False) -> Answer:
    """Connect, send one hello, read the answer (and the ServerKeyExchange when want_kex); never raises."""
    t0 = time.monotonic()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        ans = _exchange(sock, address, port, hello, timeout, want_kex)
    except TimeoutError:
        ans = Answer("timeout", detail=f"no answer within {timeout:g} s")
    except ConnectionResetError:
        ans = Answer("reset", detail="connection reset by peer")
    except OSError as exc:
        ans = Answer("error", detail=exc.strerror or str(exc))
    except (IndexError, ValueError, struct.error) as exc:
        ans = Answer("not_tls", detail=f"malformed ServerHello: {exc}")
    finally:
        sock.close()
    ans.ms = round((time.monotonic() - t0) * 1000, 3)
    return ans


def _exchange(sock: socket.socket, address: str, port: int, hello: bytes, timeout: float, want_kex: bool) -> Answer:
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.connect((address, port))
    except ConnectionRefusedError:
        return Answer("refused", detail="connection refused")
    except TimeoutError:
        return Answer("timeout", detail=f"TCP connect timed out after {timeout:g} s")
    sock.sendall(hello)
    reader = _Reader(sock, deadline)
    first = reader.next_message()
    if isinstance(first, Answer):
        return first
    if first[0] != 2:
        return Answer("not_tls", detail=f"handshake message {first[0]} instead of ServerHello")
    ans = _parse_server_hello(first[1])
    if want_kex and ans.kind == "hello" and (ans.version or 0) < 0x0304:
        while True:
            msg = reader.next_message()
            if isinstance(msg, Answer):
                break
            if msg[0] == 12:
                _parse_key_exchange(msg[1], ans)
                break
            if msg[0] == 14:  # ServerHelloDone: no key exchange message (static RSA)
                break
    return ans
