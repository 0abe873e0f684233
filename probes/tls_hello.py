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

import errno
import functools
import os
import socket
import struct
import time
from dataclasses import dataclass, field

# SHA-256("HelloRetryRequest"): the ServerHello.random that marks a HelloRetryRequest (RFC 8446 4.1.3).
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")

EXT_SNI, EXT_GROUPS, EXT_POINTS, EXT_SIGALGS, EXT_VERSIONS, EXT_KEY_SHARE, EXT_RENEG = 0, 10, 11, 13, 43, 51, 0xFF01
EXT_PADDING, EXT_EMS = 21, 23  # RFC 7685 padding, RFC 7627 extended_master_secret
# Key-share groups a hello can carry a real share for (RFC 8446 4.2.8, draft-ietf-tls-ecdhe-mlkem).
X25519, SECP256R1, SECP384R1, X25519MLKEM768, SECP256R1MLKEM768 = 29, 23, 24, 0x11EC, 0x11EB

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
    from netready.probes.tls_suites import cache_get, cache_put

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
    from netready.probes.tls_suites import suite_table

    suite_table()
    for kind in ("ssl3", "tls12", "tls13"):
        _template(kind)


def _vec(data: bytes, width: int) -> bytes:
    return len(data).to_bytes(width, "big") + data


@functools.lru_cache(maxsize=8)
def _share(group: int) -> bytes:
    """A real public key share for one group (made once per process; the probe never completes a key
    exchange, but a server validates what it is given: FIPS 203 checks an ML-KEM key's encoding)."""
    if group == X25519:
        return _template("tls13").x25519_share
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    def point(curve) -> bytes:
        return ec.generate_private_key(curve).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    if group == SECP256R1:
        return point(ec.SECP256R1())
    if group == SECP384R1:
        return point(ec.SECP384R1())
    from cryptography.hazmat.primitives.asymmetric import mlkem

    ek = mlkem.MLKEM768PrivateKey.generate().public_key().public_bytes_raw()  # 1184 bytes
    if group == X25519MLKEM768:  # ML-KEM first, then X25519 (draft-ietf-tls-ecdhe-mlkem 4.1)
        return ek + _template("tls13").x25519_share
    if group == SECP256R1MLKEM768:  # the ECDH share first
        return point(ec.SECP256R1()) + ek
    raise ValueError(f"no key share for group 0x{group:04X}")


def client_hello(version: int, ciphers: list[int], sni: str | None, groups: list[int], key_share: bool = True,
                 share_groups: list[int] | None = None) -> bytes:
    """One ClientHello record offering `version` (SSLv3..TLS 1.3), these suites and named groups.

    TLS 1.3: supported_versions = [1.3]; a real X25519 key share when x25519 is offered and key_share is
    True, else an empty share list (the server must then answer HelloRetryRequest naming its group).
    share_groups names the groups to send real shares for instead (X25519MLKEM768 and SecP256r1MLKEM768
    shares are about 1.2 kB: such a hello spans several TCP segments on a real path).
    Every hello but SSLv3's carries extended_master_secret (RFC 7627; FIPS-mode servers require it),
    and one whose length falls in 256-511 bytes is padded to 512 (RFC 7685: some load balancers hang
    on such hellos).
    """
    kind = "ssl3" if version == 0x0300 else "tls13" if version == 0x0304 else "tls12"
    tpl = _template(kind)
    legacy = tpl.legacy_version if kind != "tls12" else version
    if share_groups is None:
        share_groups = [X25519] if key_share and X25519 in groups else []
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
            body = _vec(b"".join(g.to_bytes(2, "big") + _vec(_share(g), 2) for g in share_groups), 2)
        exts.append(etype.to_bytes(2, "big") + _vec(body, 2))
    if kind != "ssl3":
        exts.append(EXT_EMS.to_bytes(2, "big") + b"\x00\x00")
    session_id = os.urandom(32) if kind == "tls13" else b""  # 1.3 middlebox compatibility mode
    head = (
        legacy.to_bytes(2, "big")
        + os.urandom(32)
        + _vec(session_id, 1)
        + _vec(struct.pack(f"!{len(ciphers)}H", *ciphers), 2)
        + b"\x01\x00"
    )
    length = 4 + len(head) + (2 + sum(len(e) for e in exts) if exts else 0)
    if exts and 0xFF < length < 0x200:  # what OpenSSL's SSL_OP_TLSEXT_PADDING does
        exts.append(EXT_PADDING.to_bytes(2, "big") + _vec(bytes(max(0, 0x200 - length - 4)), 2))
    body = head + (_vec(b"".join(exts), 2) if exts else b"")
    handshake = b"\x01" + _vec(body, 3)
    return b"\x16" + tpl.record_version.to_bytes(2, "big") + _vec(handshake, 2)


@dataclass
class Answer:
    """The server's first answer to a raw hello, reduced to what decides a question."""

    # hello | hrr | alert | closed | reset | timeout | refused | unreachable | not_tls | truncated | error,
    # or protocol_error (set by check_answer: the server chose what was not offered)
    kind: str
    version: int | None = None  # negotiated (supported_versions when present, else ServerHello.version)
    cipher: int | None = None
    group: int | None = None  # TLS 1.3 key_share group, or TLS <= 1.2 ServerKeyExchange named curve
    dh_bits: int | None = None  # TLS <= 1.2 ServerKeyExchange DH modulus size
    alert: str | None = None
    detail: str | None = None
    ms: float = 0.0
    warnings: list[str] = field(default_factory=list)  # warning-level alerts before the answer (RFC 6066 3)
    attempts: int = 1  # exchanges it took (a timeout or a reset is tried twice)

    @property
    def accepted(self) -> bool:
        return self.kind in ("hello", "hrr")


def check_answer(ans: Answer, version: int, ciphers: list[int], groups: list[int]) -> Answer:
    """A ServerHello that picks a suite, a group or a higher version that was not offered is a protocol
    error, not acceptance (RFC 8446 4.1.3, RFC 5246 7.4.1.3): a client aborts such a handshake."""
    if not ans.accepted:
        return ans
    wrong = []
    if ans.cipher is not None and ans.cipher not in ciphers:
        wrong.append(f"suite 0x{ans.cipher:04X}")
    if ans.version is not None and ans.version > version:
        wrong.append(f"version 0x{ans.version:04X}")
    if ans.group is not None and (ans.version or 0) >= 0x0304 and ans.group not in groups:
        wrong.append(f"group 0x{ans.group:04X}")
    if wrong:
        ans.detail = "server chose " + " and ".join(wrong) + " that the hello did not offer"
        ans.kind = "protocol_error"
    return ans


class _Reader:
    """Handshake messages out of TLS records, read under one deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline
        self.buf = b""
        self.hs = b""
        self.warnings: list[str] = []

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
                for i in range(0, len(frag) - 1, 2):
                    level, name = frag[i], ALERTS.get(frag[i + 1], f"alert {frag[i + 1]}")
                    if level != 1 or frag[i + 1] == 0:  # fatal, or close_notify: the server said no
                        return Answer("alert", alert=name, warnings=self.warnings)
                    self.warnings.append(name)  # a warning (unrecognized_name...) is not a refusal: read on
                continue
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
    """ECDHE: curve_type 3 + named curve (RFC 8422 5.4); DHE: the modulus p comes first (RFC 5246 7.4.3).
    Which one it is comes from the negotiated suite, never from the first byte: a 6144-bit prime is
    768 bytes long, so its length field starts with 0x03 too."""
    from netready.probes.tls_suites import suite_name
    from netready.tables.tls import classify

    kx = classify(suite_name(ans.cipher)).kx if ans.cipher is not None else ""
    if kx.startswith("ECDH"):
        if len(body) >= 3 and body[0] == 3:
            ans.group = int.from_bytes(body[1:3], "big")
    elif kx.startswith(("DHE", "DH_")) and len(body) >= 2:
        plen = int.from_bytes(body[0:2], "big")
        p = body[2 : 2 + plen]
        ans.dh_bits = int.from_bytes(p, "big").bit_length()


UNREACHABLE = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN)


def exchange(address: str, port: int, hello: bytes, timeout: float, want_kex: bool = False) -> Answer:
    """Connect, send one hello, read the answer (and the ServerKeyExchange when want_kex); never raises.

    kinds at connect: refused (RST), unreachable (ICMP unreachable: a definitive answer, read at once from
    the socket's error queue), timeout (no answer at all)."""
    t0 = time.monotonic()
    try:
        ans = _exchange(address, port, hello, timeout, want_kex)
    except TimeoutError:
        ans = Answer("timeout", detail=f"no answer within {timeout:g} s")
    except ConnectionResetError:
        ans = Answer("reset", detail="connection reset by peer")
    except ConnectionRefusedError:
        ans = Answer("refused", detail="connection refused")
    except OSError as exc:
        kind = "unreachable" if exc.errno in UNREACHABLE else "error"
        ans = Answer(kind, detail=exc.strerror or str(exc))
    except (IndexError, ValueError, struct.error) as exc:
        ans = Answer("not_tls", detail=f"malformed ServerHello: {exc}")
    ans.ms = round((time.monotonic() - t0) * 1000, 3)
    return ans


def _exchange(address: str, port: int, hello: bytes, timeout: float, want_kex: bool) -> Answer:
    from netready.probes.http import DeadlineError, connect

    deadline = time.monotonic() + timeout
    try:  # ICMP "unreachable" ends the connect at once (probes.http.connect reads the socket's error queue)
        sock = connect(address, port, deadline)
    except DeadlineError:
        return Answer("timeout", detail=f"TCP connect timed out after {timeout:g} s")
    with sock:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(hello)
        return _read_answer(sock, deadline, want_kex)


def _read_answer(sock: socket.socket, deadline: float, want_kex: bool) -> Answer:
    reader = _Reader(sock, deadline)
    first = reader.next_message()
    if isinstance(first, Answer):
        return first
    if first[0] != 2:
        return Answer("not_tls", detail=f"handshake message {first[0]} instead of ServerHello")
    ans = _parse_server_hello(first[1])
    ans.warnings = reader.warnings
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
