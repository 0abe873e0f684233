"""IPv6 readiness of a portal: what its AAAA records are, whether the web answers over each address
(and the same as over IPv4), whether its zone's name servers serve it over IPv6, and whether the
name resolves from the root over IPv6 transport alone. Measures only; netready.evaluate.ipv6 judges.

Observations (ids; shapes in docs/probes/ipv6.md):
  ipv6:<name>:aaaa            the AAAA (and A) records, each AAAA classified (global, link-local...)
  ipv6:<name>:web:<address>   per A and AAAA: TCP 80, HTTPS GET (status + body fingerprint)
  ipv6:<name>:dns             the zone cut, its name servers, their AAAA, SOA over IPv6 UDP and TCP
  ipv6:<name>:v6only          AAAA resolved from the root using only IPv6 server addresses
  ipv6:<name>:icmp:<address>  ICMPv6 echo + short hop trace (information; needs root)
"""

from __future__ import annotations

import errno
import itertools
import os
import select
import socket
import struct
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from netready.model import Observation, ObservationTimer, ProbeSettings, Target
from netready.probes import dns as pdns
from netready.probes import runcache
from netready.probes.dnssec_walk import query_once, soa_key
from netready.probes.http import SECOND_LOOK_WAIT, fetch, fetch_shared, retry_worthy
from netready.tables.web import ipv6_class as classify

PROBE = "ipv6"
MAX_WORKERS = 16
ICMP_HOPS = 8  # hop trace length: enough for a lab or the last hops of a real path
ICMP_WAIT = 0.5  # seconds to collect echo replies / time-exceeded messages

# --- web over each address -------------------------------------------------------------------


def _web(name: str, address: str, family: int, settings: ProbeSettings) -> Observation:
    obs = Observation(
        id=f"{PROBE}:{name}:web:{address}",
        probe=PROBE,
        target=name,
        subject=address,
        asked={"family": family, "tcp_ports": [80, 443], "https": f"GET https://{name}/"},
    )
    with ObservationTimer(obs):
        # Reachability of ports 80 and 443 comes from the GETs' own connects; the TLS probe GETs the same
        # pages from the same addresses, so in a batch run each request goes out once (fetch_shared).
        https = fetch_shared(address, 443, name, True, settings.ca_file, settings.timeout)
        if retry_worthy(https):  # one silence or one reset after the connect is not an answer: once more
            https = {**fetch(address, 443, name, True, settings.ca_file, settings.timeout), "retried": True}
            if retry_worthy(https) and https["error"].startswith("timeout"):  # busy, or an MTU black hole?
                wait = SECOND_LOOK_WAIT * settings.timeout
                https = {**fetch(address, 443, name, True, settings.ca_file, wait), "retried": True,
                         "second_wait_s": wait}
        plain = fetch_shared(address, 80, name, False, None, settings.timeout)
        t80, t443 = _port_from_fetch(plain), _port_from_fetch(https)
        obs.data = {
            "family": family,
            "class": classify(address) if family == 6 else "ipv4",
            "tcp": {"80": t80, "443": t443},
            "https": https,
        }
        if https["error"] and https["status"] is None:
            obs.error = https["error"]
    return obs


def _port_from_fetch(result: dict[str, Any]) -> dict[str, Any]:
    """{port, open, error, elapsed_ms} of a GET's connect stage."""
    failed = result["stage"] == "connect"
    return {
        "port": result["port"],
        "open": not failed,
        "error": result["error"] if failed else None,
        "elapsed_ms": result["connect_ms"] if result["connect_ms"] is not None else result["elapsed_ms"],
    }


# --- the zone's name servers over IPv6 -------------------------------------------------------


def _find_zone(resolver: pdns.Resolver, name: str) -> tuple[str | None, str | None]:
    """The zone that holds `name` (owner of the SOA answering for it), or (None, error)."""
    candidate = dns.name.from_text(name)
    target = candidate
    while True:
        ans, _ = resolver.query(candidate.to_text(), "SOA")
        if ans.response is None or ans.error:
            return None, f"SOA query for {candidate} failed: {ans.error or 'no response'}"
        resp = ans.response
        for rrset in (*resp.answer, *resp.authority):
            if rrset.rdtype == dns.rdatatype.SOA and target.is_subdomain(rrset.name):
                return rrset.name.to_text(), None
        if candidate == dns.name.root:
            return None, f"no SOA found above {name}"
        candidate = candidate.parent()


def _soa_query(address: str, zone: str, tcp: bool, timeout: float, ttl: float, pool: ThreadPoolExecutor) -> Future:
    """The SOA question to one IPv6 address, as a future of query_once's (response, tcp, error, rtt).
    It is the DNSSEC probe's per-server question (same flags), so in a batch run whichever probe asks
    first sends it and the other takes its answer (runcache.peer_query)."""
    zname = dns.name.from_text(zone)
    fut, _ = runcache.peer_query(
        soa_key(address, zname, tcp),
        lambda: pool.submit(query_once, address, zname, dns.rdatatype.SOA, timeout, False, tcp, False),
        ttl,
    )
    return fut


def _soa_over(address: str, zone: str, tcp: bool, timeout: float, reply: tuple | None = None) -> dict[str, Any]:
    """SOA over one transport: from `reply` (a shared query_once result) or asked here. A UDP answer
    that came truncated (the shared question has no TCP fallback) is asked again with fallback."""
    if reply is not None and (reply[0] is None or not reply[0].flags & dns.flags.TC):
        resp, _tcp, error, rtt = reply
    else:
        ans = pdns.ask(address, zone, "SOA", timeout, dnssec=False, recursion=False, tcp=tcp)
        resp, error, rtt = ans.response, ans.error, ans.rtt_ms
    out: dict[str, Any] = {"ok": False, "rcode": None, "aa": None, "serial": None, "error": error}
    out["rtt_ms"] = rtt
    if resp is None:
        return out
    out["rcode"] = dns.rcode.to_text(resp.rcode())
    out["aa"] = bool(resp.flags & dns.flags.AA)
    zname = dns.name.from_text(zone)
    soa = [rr for rr in resp.answer if rr.rdtype == dns.rdatatype.SOA and rr.name == zname]
    if soa:
        out["serial"] = soa[0][0].serial
    out["ok"] = resp.rcode() == dns.rcode.NOERROR and out["aa"] and bool(soa)
    if not out["ok"] and not out["error"]:
        out["error"] = (
            f"answer without authority (rcode {out['rcode']}, aa={out['aa']}, SOA {'present' if soa else 'absent'})"
        )
    return out


def _reply(fut: Future) -> tuple | None:
    try:
        return fut.result()
    except Exception:  # noqa: BLE001 - a failed shared query is asked again by _soa_over
        return None


def _dns(name: str, settings: ProbeSettings, pool: ThreadPoolExecutor) -> Observation:
    obs = Observation(id=f"{PROBE}:{name}:dns", probe=PROBE, target=name, subject=name, asked={"query": "SOA"})
    with ObservationTimer(obs):
        try:
            resolver = pdns.Resolver(settings)
        except (OSError, ValueError) as exc:
            obs.error = str(exc)
            return obs
        zone, error = _find_zone(resolver, name)
        if zone is None:
            obs.error = error
            return obs
        obs.subject = zone
        found = pdns.zone_name_servers(zone, settings)  # in a batch: the DNSSEC probe's lookups, shared
        if found.error or not found.ns_names:
            obs.data = {"zone": zone, "name_servers": []}
            obs.error = f"NS of {zone}: {found.error or 'no NS records (rcode ' + str(found.rcode) + ')'}"
            return obs
        servers: list[dict[str, Any]] = []
        soa_jobs = {}
        for ns in found.ns_names:
            v4, v6 = found.lookups[ns]["A"], found.lookups[ns]["AAAA"]
            entry = {
                "name": ns,
                "ipv4": v4.records,
                "ipv6": v6.records,
                "lookup_errors": [f"{t}: {r.error}" for t, r in (("A", v4), ("AAAA", v6)) if r.error],
                "v6": [],
            }
            for addr in v6.records:
                for tcp in (False, True):
                    soa_jobs[(ns, addr, tcp)] = _soa_query(addr, zone, tcp, settings.timeout, settings.budget, pool)
            servers.append(entry)
        for entry in servers:
            for addr in entry["ipv6"]:
                udp, tcp = (_reply(soa_jobs[(entry["name"], addr, t)]) for t in (False, True))
                entry["v6"].append(
                    {
                        "address": addr,
                        "class": classify(addr),
                        "udp": _soa_over(addr, zone, False, settings.timeout, udp),
                        "tcp": _soa_over(addr, zone, True, settings.timeout, tcp),
                    }
                )
            entry["v6_capable"] = any(r["udp"]["ok"] and r["tcp"]["ok"] for r in entry["v6"])
        obs.data = {
            "zone": zone,
            "name_servers": servers,
            "ns_count": len(servers),
            "ns_with_aaaa": sum(1 for s in servers if s["ipv6"]),
            "ns_v6_capable": sum(1 for s in servers if s["v6_capable"]),
        }
    return obs


# --- resolution over IPv6 transport only -----------------------------------------------------

# The judge's reading of why the walk failed (probes.dns.FAILURES -> resolve_ipv6_only's `failure`).
_V6_FAILURE = {"no-server-address": "no-ipv6-server", "timeout": "timeout", "unanswered": "unanswered",
               "budget": "budget"}


def _ipv6_only_walk(name: str, settings: ProbeSettings, deadline: float) -> dict[str, Any]:
    """AAAA of name from the root over IPv6 transport alone: the iterative resolver of probes.dns (lame
    servers skipped, referrals only downward, glue and data only in bailiwick) held to IPv6 addresses."""
    if not settings.root_hints:
        return {"skipped": "no root hints given: resolution from the root over IPv6 needs them"}
    try:
        resolver = pdns.Resolver(settings, deadline=deadline, ipv6_only=True, keep_steps=True)
    except (OSError, ValueError) as exc:
        error = str(exc) if "no IPv6 address" in str(exc) else f"root hints: {exc}"
        failure = "no-ipv6-server" if "no IPv6 address" in str(exc) else "other"
        return {"skipped": None, "records": [], "rcode": None, "error": error, "failure": failure,
                "queries": 0, "steps": []}
    res = resolver.resolve(name, "AAAA")
    return {"skipped": None, "records": res.records, "rcode": res.rcode if not res.error else None,
            "error": res.error, "failure": _V6_FAILURE.get(res.failure or "", "other") if res.error else None,
            "queries": resolver.queries, "steps": resolver.steps or []}


def _v6only(name: str, settings: ProbeSettings) -> Observation:
    obs = Observation(
        id=f"{PROBE}:{name}:v6only",
        probe=PROBE,
        target=name,
        subject=name,
        asked={"type": "AAAA", "from": "root hints, IPv6 addresses only"},
    )
    with ObservationTimer(obs):
        walk = _ipv6_only_walk(name, settings, time.monotonic() + settings.budget)
        if walk["skipped"]:
            obs.data = {"skipped": walk["skipped"]}
            return obs
        obs.data = {key: walk[key] for key in ("skipped", "records", "rcode", "steps", "queries")}
        obs.error = walk["error"]
    return obs


def resolve_ipv6_only(name: str, settings: ProbeSettings, deadline: float) -> dict[str, Any]:
    """The same IPv6-only walk as plain data, for any host name (probes.ipv6only walks every host a page
    needs): {skipped, records, rcode, error, failure, queries, zones}. `failure` sorts the error for the
    judge: "no-ipv6-server" (a zone on the path has no IPv6 name server address: definitive), "unanswered"
    (its IPv6 servers all failed: refused, lame...), "timeout" (every one of them timed out: ambiguous),
    "budget", "other"."""
    walk = _ipv6_only_walk(name, settings, deadline)
    if walk["skipped"]:
        return walk
    steps = walk.pop("steps")
    return {**walk, "zones": [s["zone"] for s in steps]}


# --- ICMPv6 echo and hop trace (information only) --------------------------------------------

ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY, ICMP6_TIME_EXCEEDED, ICMP6_DST_UNREACH = 128, 129, 3, 1  # RFC 4443 types
IPV6_UNICAST_HOPS = getattr(socket, "IPV6_UNICAST_HOPS", 16)


def _icmp(name: str, address: str, timeout: float) -> Observation:
    """One echo (hop limit 64); then, unless it came back unreachable, echoes with hop limits
    1..ICMP_HOPS sent at once; each phase waits at most ICMP_WAIT seconds. A raw ICMPv6 socket
    (root) lets the kernel route and checksum; the echo requests and the few answer fields read (RFC 4443:
    type, code, identifier, sequence, and the echo request an error message quotes) are packed and unpacked
    here (scapy for these 8-byte headers cost each checking process ~23 MB of memory, issue #20)."""
    obs = Observation(
        id=f"{PROBE}:{name}:icmp:{address}",
        probe=PROBE,
        target=name,
        subject=address,
        asked={"echo": True, "trace_hops": ICMP_HOPS, "wait_s_per_phase": min(ICMP_WAIT, timeout)},
    )
    with ObservationTimer(obs):
        if os.geteuid() != 0:
            obs.data = {"skipped": "not root: raw ICMPv6 sockets need root (CAP_NET_RAW)"}
            return obs
        ident = _next_ident()
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        except OSError as exc:
            obs.data = {"skipped": f"raw ICMPv6 socket refused: {exc.strerror or exc}"}
            return obs
        sent: dict[int, float] = {}
        replies: dict[int, dict[str, Any]] = {}
        try:
            dest = socket.getaddrinfo(address, None, socket.AF_INET6, flags=socket.AI_NUMERICHOST)[0][4]
            wait = min(ICMP_WAIT, timeout)

            def send(seq: int) -> None:  # seq 0 = the echo; seq h = hop limit h
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_UNICAST_HOPS, 64 if seq == 0 else seq)
                # The kernel fills the checksum (always, for ICMPv6 raw sockets) and routes the message.
                sock.sendto(echo_request(ident, seq), dest)
                sent[seq] = time.monotonic()

            send(0)
            _collect(sock, ident, address, sent, replies, time.monotonic() + wait, lambda r: 0 in r)
            # No trace when the echo came back "unreachable": routers rate-limit ICMPv6 errors
            # (a burst of about 6), and spending them here would make the web checks' SYNs time out.
            if replies.get(0, {}).get("type", "echo-reply") == "echo-reply":
                for hop in range(1, ICMP_HOPS + 1):
                    send(hop)
                _collect(sock, ident, address, sent, replies, time.monotonic() + wait, _trace_done)
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) and 0 not in replies:
                # The kernel already knows the path is dead (an earlier ICMPv6 error cached for the
                # route): that is an answer about reachability, not a failure of the check.
                replies[0] = {"type": "unreachable", "from": None, "local": exc.strerror or str(exc)}
            else:
                obs.error = f"ICMPv6 to {address} failed: {exc.strerror or exc}"
        finally:
            sock.close()
        echo = replies.get(0)
        hops = [dict(hop=h, **replies[h]) for h in sorted(replies) if h > 0]
        # Hops at or beyond the destination all answer with echo replies from it: keep the first.
        trace: list[dict[str, Any]] = []
        for hop in hops:
            trace.append(hop)
            if hop["type"] == "echo-reply":
                break
        obs.data = {
            "skipped": None,
            "echo": {"replied": echo is not None and echo["type"] == "echo-reply", **(echo or {})},
            "trace": trace,
            "reached": any(h["type"] == "echo-reply" for h in trace) or bool(echo and echo["type"] == "echo-reply"),
        }
    return obs


def _collect(sock: socket.socket, ident: int, address: str, sent: dict[int, float],
             replies: dict[int, dict[str, Any]], deadline: float, done: Any) -> None:  # fmt: skip
    while (left := deadline - time.monotonic()) > 0 and not done(replies):
        if not select.select([sock], [], [], left)[0]:
            return
        packet, src = sock.recvfrom(2048)
        _match(packet, src[0], ident, address, sent, replies)


_IDENTS = itertools.count((os.getpid() * 7919) & 0xFFFF)
_IDENT_LOCK = threading.Lock()


def _next_ident() -> int:
    """A distinct echo identifier per check in this process: a raw socket sees every ICMPv6 packet, so
    concurrent checks (two AAAAs, many targets) must never share one."""
    with _IDENT_LOCK:
        return next(_IDENTS) & 0xFFFF


def _trace_done(replies: dict[int, dict[str, Any]]) -> bool:
    """The echo is answered and every hop up to the first echo reply is known (or the echo failed)."""
    if 0 not in replies:
        return False
    if replies[0]["type"] != "echo-reply":
        return True
    last = next((h for h in sorted(replies) if h > 0 and replies[h]["type"] != "time-exceeded"), None)
    return last is not None and all(h in replies for h in range(1, last))


ECHO_PAYLOAD = b"netready"
_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence (RFC 4443 §4.1)
_IPV6_HEADER = 40
_NEXT_HEADER = 6  # offset of the Next Header field in an IPv6 header
_ICMPV6 = 58


def echo_request(ident: int, seq: int) -> bytes:
    """An ICMPv6 echo request with a zero checksum (the kernel computes it)."""
    return _ECHO.pack(ICMP6_ECHO_REQUEST, 0, 0, ident, seq) + ECHO_PAYLOAD


def _quoted_echo(packet: bytes) -> tuple[int, int] | None:
    """(identifier, sequence) of the echo request an ICMPv6 error quotes (after its 8-byte header, the
    invoking packet's IPv6 header and then its ICMPv6 message), or None when it quotes something else."""
    start = 8 + _IPV6_HEADER
    if len(packet) < start + 8 or packet[8 + _NEXT_HEADER] != _ICMPV6 or packet[start] != ICMP6_ECHO_REQUEST:
        return None
    _, _, _, ident, seq = _ECHO.unpack_from(packet, start)
    return ident, seq


def _may_be_ours(packet: bytes, ident: int) -> bool:
    """A raw ICMPv6 socket sees the echo traffic of every concurrent check (of every process): the
    identifier (RFC 4443 §4.2; for an error, in the echo request it quotes after the 40-byte IPv6 header)."""
    want = ident.to_bytes(2, "big")
    if packet[0] == ICMP6_ECHO_REPLY:
        return packet[4:6] == want
    if packet[0] in (ICMP6_TIME_EXCEEDED, ICMP6_DST_UNREACH):
        inner = packet[8 + 40 :]
        return len(inner) >= 8 and inner[0] == ICMP6_ECHO_REQUEST and inner[4:6] == want
    return False


def _match(packet: bytes, src: str, ident: int, address: str, sent: dict[int, float],
           replies: dict[int, dict[str, Any]]) -> None:
    """Read one ICMPv6 message (a raw socket gives it without the IPv6 header) and file it."""
    if len(packet) < 8 or not _may_be_ours(packet, ident):
        return
    kind = packet[0]
    if kind == ICMP6_ECHO_REPLY:
        if socket.inet_pton(socket.AF_INET6, src.split("%")[0]) != socket.inet_pton(socket.AF_INET6, address):
            return  # an echo reply counts only from the address we asked
        _, _, _, pid, seq = _ECHO.unpack_from(packet)
        what = "echo-reply"
    elif kind in (ICMP6_TIME_EXCEEDED, ICMP6_DST_UNREACH):
        quoted = _quoted_echo(packet)
        if quoted is None:  # the invoking packet must be one of our echo requests
            return
        pid, seq = quoted
        what = "time-exceeded" if kind == ICMP6_TIME_EXCEEDED else f"unreachable (code {packet[1]})"
    else:
        return
    if pid != ident or seq not in sent or seq in replies:
        return
    replies[seq] = {"from": src, "type": what, "rtt_ms": round((time.monotonic() - sent[seq]) * 1000, 3)}


# --- the AAAA records ------------------------------------------------------------------------


def _aaaa(target: Target, settings: ProbeSettings) -> Observation:
    name = target.ascii_name
    obs = Observation(id=f"{PROBE}:{name}:aaaa", probe=PROBE, target=name, subject=name, asked={"type": "AAAA"})
    with ObservationTimer(obs):
        records = [{"address": a, "class": classify(a)} for a in target.ipv6]
        data: dict[str, Any] = {"records": records, "ipv4": list(target.ipv4), "rcode": None, "lookup_error": None}
        if not records:
            # Empty could mean "no AAAA" or "lookup failed": ask again to tell them apart.
            try:
                res = pdns.Resolver(settings).resolve(name, "AAAA")
                data["rcode"], data["lookup_error"] = res.rcode, res.error
                if res.records:  # the scanner's lookup lost them: record, do not invent
                    data["late_records"] = res.records
            except (OSError, ValueError) as exc:
                data["lookup_error"] = str(exc)
            if data["lookup_error"]:
                obs.error = f"AAAA lookup failed: {data['lookup_error']}"
        obs.data = data
    return obs


def run(target: Target, settings: ProbeSettings, *, icmp: bool = True) -> list[Observation]:
    """All IPv6 observations of one resolved target. Never raises; bounded by settings.timeout per
    operation (checks run concurrently). icmp=False leaves out the ICMPv6 echo/trace."""
    name = target.ascii_name
    # A name without addresses still gets the AAAA re-check and the name-server checks.
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        aaaa = pool.submit(_aaaa, target, settings)
        dnsf = pool.submit(_dns, name, settings, pool)
        v6only = pool.submit(_v6only, name, settings)
        webs = [pool.submit(_web, name, a, 6, settings) for a in target.ipv6]
        webs += [pool.submit(_web, name, a, 4, settings) for a in target.ipv4]
        web_obs = [_result(f, name, "web") for f in webs]
        # ICMP only after the web checks: the ICMPv6 errors it triggers count against the same
        # router rate limit as the "no route" answers that make a dead address fail fast.
        icmps = [pool.submit(_icmp, name, a, settings.timeout) for a in target.ipv6] if icmp else []
        out: list[Observation] = []
        for fut, oid in [(aaaa, "aaaa"), (dnsf, "dns"), (v6only, "v6only")]:
            out.append(_result(fut, name, oid))
        out += web_obs
        out += [_result(f, name, "icmp") for f in icmps]
    return out


def _result(fut: Any, name: str, what: str) -> Observation:
    try:
        return fut.result()
    except Exception as exc:  # a probe bug must become a visible error, not a crash of the scan
        return Observation(
            id=f"{PROBE}:{name}:{what}:crash:{id(fut)}",
            probe=PROBE,
            target=name,
            subject=name,
            error=f"internal error in {what} check: {type(exc).__name__}: {exc}",
        )
