"""A small, strictly bounded HTTP/1.1 client for probes: one GET to one literal address.

Why not urllib/http.client: their timeouts are per socket operation, so a server that trickles one
byte a second holds them for ever; probes need one deadline for the whole exchange, no redirects,
no proxy, no system resolver (the address is given), and TLS problems reported rather than fatal.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import re
import select
import socket
import ssl
import struct
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from netready.tables.web import parse_location, split_location  # noqa: F401  (probes.http API, docs/probes/http.md)

BODY_CAP = 256 * 1024  # bytes of body kept for hashing; the rest is not read
HEAD_CAP = 64 * 1024  # status line + headers
USER_AGENT = "netready/0.1"
SHINGLE_WORDS = 3  # words per shingle for the body simhash


class _Deadline(Exception):
    """The whole-call deadline passed."""


DeadlineError = _Deadline  # public name for other probes using connect()


@dataclass
class FetchResult:
    """What one GET saw. Field names are the JSON shape documented in docs/probes/http.md."""

    address: str
    port: int
    host: str
    tls: bool
    path: str
    status: int | None = None
    reason: str | None = None
    http_version: str | None = None
    headers: list[list[str]] = field(default_factory=list)  # [[name_lowercase, value], ...] in order
    location: str | None = None
    body_sha256: str | None = None
    body_simhash: int | None = None
    body_length: int | None = None  # bytes read (capped at BODY_CAP)
    body_truncated: bool = False
    error: str | None = None
    stage: str | None = None  # where it failed: connect | tls | send | head | body
    connect_ms: float | None = None
    elapsed_ms: float = 0.0
    tls_version: str | None = None
    tls_verified: bool | None = None  # None: plain HTTP or no handshake
    tls_error: str | None = None  # why verification failed (the fetch went on unverified)


# What the GET offers: every suite this OpenSSL has but PSK/SRP/anonymous/NULL (under 128 suites), TLS 1.0+
# at security level 0, so a server with only CBC-SHA or static-RSA suites still answers. Cipher quality and
# key sizes are judged by the TLS rules, not by whether a page can be fetched.
OFFER = "ALL:!PSK:!SRP:!aNULL:!eNULL:@SECLEVEL=0"


@functools.lru_cache(maxsize=16)
def _context(ca_file: str | None, verify: bool, ciphers: str | None = None) -> ssl.SSLContext:
    """Contexts are costly to build (CA parsing); build each kind once per process."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    try:
        ctx.set_ciphers(ciphers or OFFER)
    except ssl.SSLError:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    if verify:
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_default_certs()
        if ca_file:
            ctx.load_verify_locations(cafile=ca_file)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Deadline
    return left


# Linux values (absent from Python's socket module): ask for ICMP errors on the socket's error queue.
IP_RECVERR, IPV6_RECVERR = 11, 25
_EE = struct.Struct("=IBBBBII")  # struct sock_extended_err: errno, origin, type, code, pad, info, data
_ICMP_ORIGINS = (2, 3)  # SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6


def _connect(address: str, port: int, deadline: float) -> socket.socket:
    """TCP connect bounded by the deadline. An ICMP "unreachable" from a router ends it at once:
    Linux counts it as a soft error during SYN_SENT and would retransmit the SYN for a second or
    more; with IP(V6)_RECVERR the ICMP error is queued on the socket and read here."""
    # AI_NUMERICHOST: a literal address only, never a DNS lookup (also accepts fe80::1%lo).
    family, stype, proto, _, sockaddr = socket.getaddrinfo(
        address, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
    )[0]
    sock = socket.socket(family, stype, proto)
    v6 = family == socket.AF_INET6
    level, opt = (socket.IPPROTO_IPV6, IPV6_RECVERR) if v6 else (socket.IPPROTO_IP, IP_RECVERR)
    try:
        sock.setsockopt(level, opt, 1)
        sock.setblocking(False)
        err = sock.connect_ex(sockaddr)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        poller = select.poll()
        poller.register(sock, select.POLLOUT | select.POLLERR)
        while err:
            if not poller.poll(max(1, int(_remaining(deadline) * 1000))):
                continue  # _remaining raises when the deadline has passed
            _icmp_error(sock)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            break
        sock.setsockopt(level, opt, 0)
        sock.setblocking(True)
    except BaseException:
        sock.close()
        raise
    return sock


def connect(address: str, port: int, deadline: float) -> socket.socket:
    """A connected TCP socket to a literal address, bounded by `deadline` (time.monotonic()); raises
    DeadlineError, ConnectionRefusedError, or OSError (EHOSTUNREACH... naming the router) at once on an
    ICMP unreachable. Used by the raw TLS hellos and the OpenSSL handshake too."""
    return _connect(address, port, deadline)


def _icmp_error(sock: socket.socket) -> None:
    """Raise the first ICMP error queued on the socket, naming the router that sent it."""
    try:
        _, ancdata, _, _ = sock.recvmsg(1, 512, socket.MSG_ERRQUEUE)
    except (BlockingIOError, InterruptedError):
        return
    for _level, _type, data in ancdata:
        if len(data) < _EE.size:
            continue
        ee_errno, origin, _t, _c, _p, _i, _d = _EE.unpack_from(data)
        if ee_errno and origin in _ICMP_ORIGINS:
            offender = _offender(data[_EE.size :])
            where = f" (ICMP from {offender})" if offender else ""
            raise OSError(ee_errno, os.strerror(ee_errno) + where)


def _offender(raw: bytes) -> str | None:
    """The sockaddr after sock_extended_err (SO_EE_OFFENDER): who sent the ICMP error."""
    if len(raw) >= 24 and int.from_bytes(raw[:2], "little") == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    if len(raw) >= 8 and int.from_bytes(raw[:2], "little") == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    return None


def _handshake(raw: socket.socket, host: str, ctx: ssl.SSLContext, deadline: float) -> ssl.SSLSocket:
    raw.settimeout(_remaining(deadline))
    sni = None if _is_literal(host) else host
    tls = ctx.wrap_socket(raw, server_hostname=sni, do_handshake_on_connect=False)
    try:
        tls.do_handshake()
    except BaseException:
        tls.close()  # the TLS socket owns the descriptor now: close it here, not in the collector
        raise
    return tls


def _unverified(old: socket.socket, address: str, port: int, host: str, deadline: float,
                ciphers: str | None = None) -> ssl.SSLSocket:
    """A fresh connection and a handshake that accepts any certificate and any version."""
    old.close()
    return _handshake(_connect(address, port, deadline), host, _context(None, False, ciphers), deadline)


def _is_literal(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host.strip("[]"))
    except OSError:
        return False
    return True


def _recv(sock: socket.socket, deadline: float, size: int = 65536) -> bytes:
    sock.settimeout(_remaining(deadline))
    try:
        return sock.recv(size)
    except TimeoutError as exc:
        raise _Deadline from exc


class _Stream:
    """Buffered reads from a socket under one deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline, self.buf, self.eof = sock, deadline, b"", False

    def fill(self) -> bool:
        if self.eof:
            return False
        chunk = _recv(self.sock, self.deadline)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_until(self, marker: bytes, cap: int) -> bytes | None:
        while (i := self.buf.find(marker)) < 0:
            if len(self.buf) > cap or not self.fill():
                return None
        out, self.buf = self.buf[: i + len(marker)], self.buf[i + len(marker) :]
        return out

    def read(self, n: int) -> bytes:
        while len(self.buf) < n and self.fill():
            pass
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


_STATUS_RE = re.compile(rb"^HTTP/(\d\.\d) (\d{3})(?: ([^\r\n]*))?\r?\n")


def _read_body(stream: _Stream, headers: list[list[str]], status: int, result: FetchResult) -> bytes:
    if status in (204, 304) or 100 <= status < 200:
        return b""
    te = ",".join(v for k, v in headers if k == "transfer-encoding").lower()
    if "chunked" in te:
        body = b""
        while len(body) < BODY_CAP:
            line = stream.read_until(b"\n", 1024)
            if line is None:
                raise ValueError("chunked body ended early")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise ValueError(f"bad chunk size line {line[:40]!r}") from exc
            if size < 0:
                raise ValueError(f"negative chunk size in {line[:40]!r}")
            if size == 0:
                return body
            # Never trust the announced size for memory: read only what the cap still allows.
            body += stream.read(min(size, BODY_CAP - len(body)))
            if len(body) >= BODY_CAP:
                break
            stream.read_until(b"\n", 16)
        result.body_truncated = True
        return body[:BODY_CAP]
    lengths = [v for k, v in headers if k == "content-length"]
    if lengths:
        try:
            length = int(lengths[0].strip())
        except ValueError as exc:
            raise ValueError(f"bad Content-Length {lengths[0]!r}") from exc
        if length < 0:
            raise ValueError(f"bad Content-Length {lengths[0]!r}")
        want = min(length, BODY_CAP)
        body = stream.read(want)
        result.body_truncated = length > BODY_CAP
        if len(body) < want:
            raise ValueError(f"body ended after {len(body)} of {length} bytes")
        return body
    # No framing: the body runs to the end of the connection.
    while len(stream.buf) <= BODY_CAP and stream.fill():
        pass
    result.body_truncated = len(stream.buf) > BODY_CAP
    return stream.buf[:BODY_CAP]


def _exchange(sock: socket.socket, result: FetchResult, deadline: float) -> None:
    hostport = result.host if result.port == (443 if result.tls else 80) else f"{result.host}:{result.port}"
    request = (
        f"GET {result.path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    ).encode("idna" if not result.host.isascii() else "ascii")
    result.stage = "send"
    sock.settimeout(_remaining(deadline))
    sock.sendall(request)
    result.stage = "head"
    stream = _Stream(sock, deadline)
    while True:
        head = stream.read_until(b"\r\n\r\n", HEAD_CAP)
        if head is None:
            if not stream.buf:
                raise ValueError("connection closed without any HTTP response")
            if len(stream.buf) > HEAD_CAP:
                raise ValueError(f"no end of HTTP headers within {HEAD_CAP} bytes")
            raise ValueError(f"not an HTTP response: {stream.buf[:40]!r}")
        m = _STATUS_RE.match(head)
        if not m:
            raise ValueError(f"not an HTTP response: {head[:40]!r}")
        status = int(m.group(2))
        if status != 101 and 100 <= status < 200:
            continue  # interim response; the real one follows
        break
    result.http_version, result.status = m.group(1).decode(), status
    result.reason = (m.group(3) or b"").decode("latin-1").strip()
    for line in head[m.end() :].split(b"\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if sep:
            result.headers.append([name.decode("latin-1").strip().lower(), value.decode("latin-1").strip()])
    result.location = next((v for k, v in result.headers if k == "location"), None)
    result.stage = "body"
    body = _read_body(stream, result.headers, status, result)
    result.body_length = len(body)
    result.body_sha256 = hashlib.sha256(body).hexdigest()
    result.body_simhash = simhash(body)
    result.stage = None


def fetch(
    address: str,
    port: int,
    host: str,
    tls: bool,
    ca_file: str | None,
    timeout: float,
    path: str = "/",
    ciphers: str | None = None,
) -> dict[str, Any]:
    """One GET to a literal address with Host/SNI = host; never raises, never outlives `timeout`.

    TLS certificate problems do not stop the fetch: the first handshake verifies (chain to the
    system store plus ca_file, host name, dates); when that fails the reason goes to tls_error and a
    second, unverified handshake fetches the page anyway. No redirect is followed. `ciphers` (an
    OpenSSL cipher string) replaces the default offer (OFFER).
    """
    t0 = time.monotonic()
    deadline = t0 + timeout
    result = FetchResult(address=address, port=port, host=host, tls=tls, path=path)
    sock: socket.socket | None = None
    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    try:
        result.stage = "connect"
        sock = _connect(address, port, deadline)
        result.connect_ms = round((time.monotonic() - t0) * 1000, 3)
        if tls:
            result.stage = "tls"
            try:
                sock = _handshake(sock, host, _context(ca_file, True, ciphers), deadline)
                result.tls_verified = True
            except ssl.SSLCertVerificationError as exc:
                result.tls_verified = False
                result.tls_error = exc.verify_message or str(exc)
                sock = _unverified(sock, address, port, host, deadline, ciphers)
            except ssl.SSLError as exc:
                reason = str(exc.reason or exc)
                if "ALERT" in reason.upper():
                    raise  # the server itself refused: an unverified retry would not help
                # Refused by our own checks (key/digest too weak, version < 1.2): verification failed.
                weak = any(w in reason.upper() for w in ("TOO_SMALL", "TOO_WEAK"))
                result.tls_verified = False if weak else None
                result.tls_error = f"verified handshake failed: {reason}"
                sock = _unverified(sock, address, port, host, deadline, ciphers)
            assert isinstance(sock, ssl.SSLSocket)
            result.tls_version = sock.version()
        _exchange(sock, result, deadline)
    except (_Deadline, TimeoutError):
        if result.stage == "connect":
            result.error = f"connect to {target} failed: timeout after {timeout:g} s"
        else:
            result.error = f"timeout: no complete answer within {timeout:g} s (during {result.stage})"
    except ssl.SSLError as exc:
        result.error = f"TLS handshake with {target} failed: {exc.reason or exc}"
    except ConnectionRefusedError:
        result.error = f"connect to {target} failed: connection refused"
    except ConnectionResetError:
        result.error = f"connection to {target} reset by peer (during {result.stage})"
    except OSError as exc:
        what = f"connect to {target} failed" if result.stage == "connect" else f"{result.stage} with {target} failed"
        result.error = f"{what}: {exc.strerror or exc}"
    except (ValueError, UnicodeError) as exc:
        result.error = f"bad HTTP answer from {target}: {exc}"
    finally:
        if sock is not None:
            sock.close()
        result.elapsed_ms = round((time.monotonic() - t0) * 1000, 3)
    return asdict(result)


# After two silences (a timeout after the TCP connect, twice), one more try waiting this many timeouts before a
# silence counts as the server's answer: a busy server (or a checking machine busy with a national sweep)
# answers late; a path MTU black hole or a server that never speaks TLS does not answer at all.
SECOND_LOOK_WAIT = 3.0


def retry_worthy(result: dict[str, Any]) -> bool:
    """A GET that timed out after its TCP connect, or was reset: one silence or one reset is not an answer,
    worth one more (unshared) try. A connect that timed out, a refusal or an HTTP answer are answers."""
    err = result.get("error") or ""
    return result.get("status") is None and ((err.startswith("timeout") and result.get("stage") != "connect")
                                             or "reset by peer" in err)


def fetch_shared(address: str, port: int, host: str, tls: bool, ca_file: str | None, timeout: float) -> dict[str, Any]:
    """fetch(), but in a batch run the TLS and IPv6 probes of one target both GET / from each of its
    addresses (HSTS and redirect; v4/v6 parity): the request goes out once and the probe that did not
    send it gets a copy marked "shared": true (runcache.peer_query). Outside a run: plain fetch()."""
    from netready.probes import runcache

    result, shared = runcache.peer_compute(("http-get", address, port, host, tls, ca_file),
                                           lambda: fetch(address, port, host, tls, ca_file, timeout),
                                           timeout * 4, timeout * 2 + 1)
    return {**result, "shared": True} if shared else dict(result)


def tcp_connect(address: str, port: int, timeout: float) -> dict[str, Any]:
    """A bare TCP connect: {port, open, error, elapsed_ms}. Used for reachability checks."""
    t0 = time.monotonic()
    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    error = None
    try:
        _connect(address, port, t0 + timeout).close()
    except (_Deadline, TimeoutError):
        error = f"connect to {target} failed: timeout after {timeout:g} s"
    except ConnectionRefusedError:
        error = f"connect to {target} failed: connection refused"
    except OSError as exc:
        error = f"connect to {target} failed: {exc.strerror or exc}"
    return {"port": port, "open": error is None, "error": error, "elapsed_ms": round((time.monotonic() - t0) * 1000, 3)}


# --- body similarity -------------------------------------------------------------------------

_WORD_RE = re.compile(r"\w+", re.UNICODE)


def _spread_table(field_bits: int) -> list[int]:
    """Each byte value with its 8 bits moved into 8 counter fields of field_bits bits."""
    return [sum(1 << (field_bits * i) for i in range(8) if (b >> i) & 1) for b in range(256)]


_FIELD = 24  # bits per counter: room for 16 M shingles, far above BODY_CAP's worth of words
_SPREAD = _spread_table(_FIELD)
_FIELD_MASK = (1 << _FIELD) - 1


def simhash(body: bytes, width: int = SHINGLE_WORDS) -> int:
    """64-bit simhash (Charikar) of the body's word shingles: lowercased words, `width` at a time.

    Near-identical pages give hashes a few bits apart; unrelated pages about 32 bits apart.
    Counting is done in 64 fields of one big integer (8 table look-ups per shingle instead of 64
    bit tests), so a 256 KiB page costs milliseconds, not a second.
    """
    words = _WORD_RE.findall(body.decode("utf-8", errors="replace").lower())
    if not words:
        return 0
    n = max(1, len(words) - width + 1)
    weights: dict[str, int] = {}
    for i in range(n):
        shingle = " ".join(words[i : i + width])
        weights[shingle] = weights.get(shingle, 0) + 1
    total = 0
    acc = 0
    for shingle, weight in weights.items():
        h = hashlib.blake2b(shingle.encode(), digest_size=8).digest()
        spread = 0
        for k in range(8):  # byte k (little end first) holds bits 8k..8k+7
            spread |= _SPREAD[h[7 - k]] << (_FIELD * 8 * k)
        acc += weight * spread
        total += weight
    out = 0
    for bit in range(64):
        if 2 * ((acc >> (_FIELD * bit)) & _FIELD_MASK) > total:
            out |= 1 << bit
    return out


def simhash_distance(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit simhashes (0 = same page)."""
    return bin((a ^ b) & 0xFFFFFFFFFFFFFFFF).count("1")


# --- HSTS ------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def parse_hsts(value: str) -> dict[str, Any]:
    """RFC 6797 §6.1 parse of one Strict-Transport-Security value.

    Returns {max_age: int|None, include_subdomains, preload, errors: [..]}. A header with errors
    (max-age missing or not a number, a directive repeated) is one a browser ignores: callers treat
    max_age as unusable whenever errors is non-empty.
    """
    out: dict[str, Any] = {"max_age": None, "include_subdomains": False, "preload": False, "errors": []}
    seen: set[str] = set()
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, raw = part.partition("=")
        name, raw = name.strip().lower(), raw.strip()
        if not _TOKEN_RE.match(name):
            out["errors"].append(f"bad directive name {name!r}")
            continue
        if name in seen:
            out["errors"].append(f"directive {name} repeated")
            continue
        seen.add(name)
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1]
        if name == "max-age":
            # ASCII digits only ('²'.isdigit() is true, int('²') fails), and no longer than a 64-bit number
            if not sep or not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
                out["errors"].append(f"max-age is not a number: {raw!r}")
            else:
                out["max_age"] = int(raw)
        elif name == "includesubdomains":
            out["include_subdomains"] = True
        elif name == "preload":
            out["preload"] = True
    if "max-age" not in seen:
        out["errors"].append("max-age missing")
    return out
