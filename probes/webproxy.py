"""An IPv6-only forward proxy on loopback: what a citizen on an IPv6-only network can reach.

The browser (or the static fallback) is given this proxy for every request. The proxy resolves each host
with netready's own resolver (the user's resolvers or the root hints; in the lab, the lab's), never the
system resolver, and connects only to the host's AAAA addresses: a host with A records alone is refused
here exactly as an IPv6-only network refuses it (no DNS64/NAT64 is assumed). It records, per host and port,
what the resolution gave, which IPv6 address answered or why none did, and how much went through.

Bounded: one deadline for the whole page check, caps on connections, hosts and bytes; past a cap a request
is refused with 503 and the cap is recorded, so a hostile page can neither hang the check nor grow it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from netready.model import ProbeSettings
from netready.probes import dns as pdns
from netready.probes.http import _connect  # the one bounded, ICMP-aware connect of the probes

HEAD_CAP = 64 * 1024  # a proxy request head larger than this is refused


@dataclass(frozen=True)
class Limits:
    """Caps for one page check (per proxy instance)."""

    connections: int = 256  # connections accepted from the client in all
    hosts: int = 48  # distinct host names resolved
    bytes: int = 48 * 1024 * 1024  # bytes relayed in both directions together
    active: int = 48  # connections open at the same time


@dataclass
class Addresses:
    """A host's AAAA and A records as netready's resolver found them."""

    aaaa: list[str] = field(default_factory=list)
    a: list[str] = field(default_factory=list)
    aaaa_rcode: str | None = None
    a_rcode: str | None = None
    error: str | None = None  # the AAAA lookup failed (timeout, SERVFAIL...): ambiguous, not "no AAAA"


@dataclass
class HostRecord:
    """What the proxy saw for one host:port."""

    host: str
    port: int
    aaaa: list[str] = field(default_factory=list)
    a: list[str] = field(default_factory=list)
    aaaa_rcode: str | None = None
    lookup_error: str | None = None
    address: str | None = None  # the IPv6 address that accepted the connection
    error: str | None = None  # why no IPv6 connection could be made
    stage: str | None = None  # where it failed: resolve | connect | limit
    connect_ms: float | None = None
    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    via: str = "proxy"  # proxy (the page asked for it) | check (netready connected itself: forms, links)

    @property
    def ok(self) -> bool:
        return self.address is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_v4_literal(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        return False
    return True


def _is_v6_literal(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6, host.strip("[]").split("%")[0])
    except OSError:
        return False
    return True


PROXY_STOPPED = "the page check ended before this host was looked up (its time budget ran out)"


class HostResolver:
    """AAAA and A of host names with netready's resolver, each name once (both asked side by side).
    Once the proxy stopped (the page check's budget ran out), a connection still open gets PROXY_STOPPED as
    its lookup error instead of an exception in its thread."""

    def __init__(self, settings: ProbeSettings, pool: ThreadPoolExecutor) -> None:
        self.settings = settings
        self.pool = pool
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    def resolve(self, host: str) -> Addresses:
        with self._lock:
            fut = self._cache.get(host)
            if fut is None:
                try:
                    fut = self._cache[host] = self.pool.submit(self._lookup, host)
                except RuntimeError:  # the pool was shut down: the proxy stopped
                    return Addresses(error=PROXY_STOPPED)
        try:
            return fut.result()
        except CancelledError:  # stop() cancels lookups not yet started
            return Addresses(error=PROXY_STOPPED)

    def _lookup(self, host: str) -> Addresses:
        try:
            resolver = pdns.Resolver(self.settings)
        except (OSError, ValueError) as exc:
            return Addresses(error=str(exc))
        try:
            v4 = self.pool.submit(resolver.resolve, host, "A")
        except RuntimeError:  # the proxy stopped between the two submissions
            return Addresses(error=PROXY_STOPPED)
        six = resolver.resolve(host, "AAAA")
        try:
            four = v4.result()
        except CancelledError:
            return Addresses(error=PROXY_STOPPED)
        out = Addresses(aaaa=list(six.records), a=list(four.records), aaaa_rcode=six.rcode, a_rcode=four.rcode)
        if six.error and not six.records:
            out.error = six.error
        return out


class IPv6OnlyProxy:
    """HTTP/1.1 forward proxy (CONNECT tunnels and absolute-form GET/POST) that reaches hosts over IPv6 only.

    start() -> the loopback port; stop() closes every socket. records() gives one HostRecord per host:port.
    """

    def __init__(self, settings: ProbeSettings, deadline: float, limits: Limits = Limits(),
                 on_request: Callable[[str, str, int], None] | None = None) -> None:
        self.settings = settings
        self.deadline = deadline
        self.limits = limits
        self.on_request = on_request
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="v6proxy-dns")
        self.resolver = HostResolver(settings, self.pool)
        self._records: dict[tuple[str, int], HostRecord] = {}
        self._names: set[str] = set()
        self.hosts_refused = 0  # requests to hosts past the cap
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self.accepted = 0
        self.relayed = 0
        self.limit_hits: list[str] = []
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.settimeout(0.2)
        self._sock, self.port = sock, sock.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name=f"v6proxy-{self.port}", daemon=True)
        t.start()
        self._threads.append(t)
        return self.port

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            socks = list(self._open)
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        for t in self._threads:
            t.join(timeout=2)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> IPv6OnlyProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def records(self) -> list[HostRecord]:
        with self._lock:
            return list(self._records.values())

    # ------------------------------------------------------------------ reaching a host over IPv6

    def _left(self) -> float:
        return self.deadline - time.monotonic()

    def _record(self, host: str, port: int, via: str) -> tuple[HostRecord, bool]:
        """The record of host:port and whether it is new. Past the host cap a record is made but not kept
        (the page may name thousands of hosts): the request is refused and the cap recorded."""
        key = (host, port)
        with self._lock:
            rec = self._records.get(key)
            if rec is not None:
                return rec, False
            rec = HostRecord(host=host, port=port, via=via)
            if host not in self._names and len(self._names) >= self.limits.hosts:
                rec.stage, rec.error = "limit", f"not checked: more than {self.limits.hosts} hosts on the page"
                self._hit(f"hosts > {self.limits.hosts}")
                self.hosts_refused += 1
                return rec, True
            self._names.add(host)
            self._records[key] = rec
            return rec, True

    def _hit(self, what: str) -> None:
        if what not in self.limit_hits:
            self.limit_hits.append(what)

    def reach(self, host: str, port: int, via: str = "proxy") -> tuple[HostRecord, socket.socket | None]:
        """Resolve host (unless it is a literal) and connect to its first AAAA that answers.

        The record keeps the first outcome; every later connection to the same host:port tries again
        (a page opens several), and an address that answered once is remembered."""
        host = host.lower().rstrip(".")
        rec, _new = self._record(host, port, via)
        if rec.stage == "limit":
            return rec, None
        rec.connections += 1
        if _is_v4_literal(host):
            rec.a, rec.stage = [host], "resolve"
            rec.error = "an IPv4 address literal: unreachable on an IPv6-only network"
            return rec, None
        if _is_v6_literal(host):
            candidates = [host.strip("[]")]
        else:
            found = self.resolver.resolve(host)
            rec.aaaa, rec.a, rec.aaaa_rcode, rec.lookup_error = found.aaaa, found.a, found.aaaa_rcode, found.error
            candidates = list(found.aaaa)
            if not candidates:
                rec.stage = "resolve"
                if found.error:
                    rec.error = f"AAAA lookup failed: {found.error}"
                elif found.a:
                    rec.error = f"no AAAA record (IPv4 only: {', '.join(found.a)})"
                else:
                    rec.error = f"no AAAA and no A record (answer {found.aaaa_rcode or 'none'})"
                return rec, None
        if rec.address in candidates:  # the one that worked first
            candidates.remove(rec.address)
            candidates.insert(0, rec.address)
        errors = []
        for addr in candidates:
            if self._left() <= 0:
                errors.append("time budget of the page check exhausted")
                break
            t0 = time.monotonic()
            try:
                sock = _connect(addr, port, time.monotonic() + min(self.settings.timeout, max(self._left(), 0.01)))
            except Exception as exc:  # noqa: BLE001 - OSError, deadline: every failure is a fact
                why = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
                if type(exc).__name__ == "_Deadline":
                    why = f"timeout after {self.settings.timeout:g} s"
                errors.append(f"[{addr}]:{port}: {why}")
                continue
            if rec.address is None:
                rec.address, rec.connect_ms = addr, round((time.monotonic() - t0) * 1000, 3)
                rec.error = rec.stage = None
            return rec, sock
        if rec.address is None:
            rec.stage, rec.error = "connect", "; ".join(errors) or "no IPv6 address answered"
        return rec, None

    # ------------------------------------------------------------------ serving the client

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                over_total = self.accepted > self.limits.connections
                over_active = len(self._open) >= 2 * self.limits.active
                self._open.add(client)
            if over_total or over_active:
                self._hit(f"connections > {self.limits.connections}" if over_total
                          else f"open connections > {self.limits.active}")
                self._refuse(client, "503 Service Unavailable", "netready: connection limit of the page check")
                continue
            t = threading.Thread(target=self._serve, args=(client,), name="v6proxy-conn", daemon=True)
            t.start()

    def _forget(self, *socks: socket.socket | None) -> None:
        for s in socks:
            if s is None:
                continue
            with self._lock:
                self._open.discard(s)
            with contextlib.suppress(OSError):
                s.close()

    def _refuse(self, client: socket.socket, status: str, why: str) -> None:
        body = why.encode()
        with contextlib.suppress(OSError):
            client.settimeout(1)
            client.sendall(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                           f"Connection: close\r\nProxy-Connection: close\r\n\r\n".encode() + body)
        self._forget(client)

    def _read_head(self, client: socket.socket) -> tuple[bytes, bytes] | None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            left = self._left()
            if left <= 0 or len(buf) > HEAD_CAP or self._stopping.is_set():
                return None
            client.settimeout(min(left, 5))
            try:
                chunk = client.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        return head, rest

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        try:
            got = self._read_head(client)
            if got is None:
                return
            head, rest = got
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self._refuse(client, "400 Bad Request", "netready proxy: bad request line")
                return
            method, target, _version = parts
            if method == "CONNECT":
                host, _, port_text = target.rpartition(":")
                host = host.strip("[]")
                port = int(port_text) if port_text.isdigit() else 443
                if self.on_request:
                    self.on_request("CONNECT", host, port)
                rec, upstream = self.reach(host, port)
                if upstream is None:
                    self._refuse(client, "502 Bad Gateway", f"netready IPv6-only proxy: {host}: {rec.error}")
                    return
                with self._lock:
                    self._open.add(upstream)
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
                self._pump(client, upstream, rec)
                return
            url = urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                self._refuse(client, "400 Bad Request", "netready proxy: absolute http:// URL or CONNECT expected")
                return
            port = url.port or 80
            if self.on_request:
                self.on_request(method, url.hostname, port)
            rec, upstream = self.reach(url.hostname, port)
            if upstream is None:
                self._refuse(client, "502 Bad Gateway", f"netready IPv6-only proxy: {url.hostname}: {rec.error}")
                return
            with self._lock:
                self._open.add(upstream)
            path = url.path or "/"
            if url.query:
                path += "?" + url.query
            # One request per connection: the proxy never has to parse a response to find its end.
            kept = [ln for ln in lines[1:] if ln.split(":", 1)[0].strip().lower()
                    not in ("connection", "proxy-connection", "keep-alive", "proxy-authorization")]
            out = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close"]) + "\r\n\r\n"
            upstream.sendall(out.encode("latin-1") + rest)
            self._pump(client, upstream, rec)
        except OSError:
            return
        finally:
            self._forget(client, upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket, rec: HostRecord) -> None:
        """Relay both ways until one side closes, the deadline passes or the byte cap is reached."""
        peers = {client: upstream, upstream: client}
        client.setblocking(False)
        upstream.setblocking(False)
        while not self._stopping.is_set():
            left = self._left()
            if left <= 0:
                return
            try:
                ready, _, _ = select.select(list(peers), [], [], min(left, 0.5))
            except (OSError, ValueError):
                return
            for src in ready:
                try:
                    data = src.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    self.relayed += len(data)
                    over = self.relayed > self.limits.bytes
                if over:
                    self._hit(f"bytes > {self.limits.bytes}")
                    return
                if src is client:
                    rec.bytes_up += len(data)
                else:
                    rec.bytes_down += len(data)
                dst = peers[src]
                dst.setblocking(True)
                dst.settimeout(max(0.01, min(self._left(), 5)))
                try:
                    dst.sendall(data)
                except OSError:
                    return
                finally:
                    with contextlib.suppress(OSError):
                        dst.setblocking(False)
