"""Plain DNS: name normalisation, single queries with UDP->TCP fallback, and address resolution.

Resolution goes either through the recursive resolvers the user gives, or iteratively from root
hints; never through /etc/resolv.conf. Other probes (dnssec, ipv6) build on these helpers.
"""

from __future__ import annotations

import functools
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from netready.model import Observation, ObservationTimer, ProbeSettings
from probes import dns_transport as transport
from probes import runcache

MAX_LABEL = 63
MAX_NAME = 253
MAX_REFERRALS = 24
MAX_CNAME_HOPS = 8


class NameError_(ValueError):
    """The user's name cannot be a DNS host name (empty or over-long label, bad IDN...)."""


def to_ascii(name: str) -> str:
    """IDNA 2008 (UTS 46) conversion of a user-given name to its ASCII form, with length checks."""
    raw = name.strip().rstrip(".")
    if not raw:
        raise NameError_("empty name")
    try:
        ascii_name = dns.name.from_unicode(raw).to_text(omit_final_dot=True)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise NameError_(f"not a valid domain name: {raw!r} ({exc})") from exc
    labels = ascii_name.split(".")
    if any(len(label) == 0 for label in labels):
        raise NameError_(f"empty label in {raw!r}")
    if any(len(label) > MAX_LABEL for label in labels):
        raise NameError_(f"label longer than {MAX_LABEL} characters in {raw!r}")
    if len(ascii_name) > MAX_NAME:
        raise NameError_(f"name longer than {MAX_NAME} characters: {raw!r}")
    return ascii_name.lower()


@dataclass
class Answer:
    """One response (or the failure to get one) from one server."""

    server: str
    response: dns.message.Message | None
    tcp: bool = False
    error: str | None = None
    rtt_ms: float = 0.0


def ask(
    server: str,
    qname: str | dns.name.Name,
    rdtype: str | int,
    timeout: float,
    dnssec: bool = False,
    recursion: bool = False,
    tcp: bool = False,
    fallback: bool = True,
) -> Answer:
    """One query to one server, never raising: UDP first and TCP when truncated (fallback), or TCP only
    (tcp=True), or UDP only (fallback=False: a truncated answer is returned as it came). The one place
    every probe sends a DNS question from. The answer may be a Message shared with other callers that got
    the same bytes (probes.dns_transport): read it, never change it."""
    question = transport.question_wire(qname, rdtype, dnssec, recursion)
    t0 = time.perf_counter()
    try:
        if tcp:
            wire, used_tcp = transport.tcp(question, server, timeout), True
        else:
            wire, used_tcp = transport.udp(question, server, timeout), False
            if fallback and transport.truncated(wire):
                left = timeout - (time.perf_counter() - t0)
                wire, used_tcp = transport.tcp(question, server, max(left, 0.001)), True
        resp = transport.parse(wire)
    except dns.exception.Timeout:
        return Answer(server, None, tcp, f"timeout after {timeout:g} s")
    except dns.message.Truncated:
        return Answer(server, None, tcp, "truncated")
    except ConnectionRefusedError:  # over UDP: the host said (ICMP port unreachable) that nothing listens on 53
        return Answer(server, None, tcp, f"refused: nothing listens on port 53 of {server}")
    # Garbage answers can make the wire parser fail with KeyError/IndexError too: an error, not a crash.
    except (OSError, dns.exception.DNSException, ValueError, EOFError, KeyError, IndexError, struct.error) as exc:
        return Answer(server, None, tcp, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return Answer(server, resp, used_tcp, None, round((time.perf_counter() - t0) * 1000, 3))


def parse_records(text: str) -> list[tuple[dns.name.Name, dns.rdata.Rdata]]:
    """Records from zone-file lines, tolerant of what hints and anchor files really contain.

    TTL and class are both optional and in either order ("." IN DS ..., ". 3600 IN NS ...");
    ';' comments and ( ... ) continuations are accepted. Owners are absolute (relative to the root).
    """
    joined: list[str] = []
    depth, buf = 0, ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0]
        if not line.strip() and depth == 0:
            continue
        depth += line.count("(") - line.count(")")
        buf += " " + line.replace("(", " ").replace(")", " ")
        if depth <= 0:
            joined.append(buf.strip())
            depth, buf = 0, ""
    out: list[tuple[dns.name.Name, dns.rdata.Rdata]] = []
    for line in joined:
        tokens = line.split()
        owner = dns.name.from_text(tokens[0], origin=dns.name.root)
        rest = tokens[1:]
        while rest and (rest[0].isdigit() or rest[0].upper() in ("IN", "CH", "HS")):
            rest = rest[1:]
        if len(rest) < 2:
            raise ValueError(f"cannot read record line: {line!r}")
        rdtype = dns.rdatatype.from_text(rest[0])
        out.append((owner, dns.rdata.from_text(dns.rdataclass.IN, rdtype, " ".join(rest[1:]), origin=dns.name.root)))
    return out


def load_root_hints(path: str | Path) -> list[str]:
    """Addresses of the root servers from a hints file (zone-file form: NS, A, AAAA); read again only
    when the file changes (a batch asks for them several times per target)."""
    st = Path(path).stat()
    return list(_root_hints(str(path), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=8)
def _root_hints(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        records = parse_records(text)
    except (dns.exception.DNSException, ValueError) as exc:
        raise ValueError(f"cannot read root hints {path}: {exc}") from exc
    addrs = [rd.address for _owner, rd in records if rd.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]
    if not addrs:
        raise ValueError(f"no root server address in hints file {path}")
    return tuple(addrs)


@dataclass
class Resolution:
    """The outcome of resolving one name/type: final rrset (after CNAMEs), chain of CNAMEs, trail."""

    qname: str
    rdtype: str
    records: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    rcode: str | None = None
    error: str | None = None
    servers: list[str] = field(default_factory=list)  # servers that gave the final answer


class Resolver:
    """Fetches records through given recursive resolvers, or iteratively from root hints."""

    def __init__(self, settings: ProbeSettings, dnssec: bool = False) -> None:
        self.settings = settings
        self.timeout = settings.timeout
        # Addresses, NS and SOA need no signatures (the dnssec probe has its own fetcher): without the
        # DO bit responses carry no RRSIG/NSEC, which halves what each answer costs to parse in a batch.
        self.dnssec = dnssec
        self.root_servers: list[str] = []
        if not settings.resolvers:
            if not settings.root_hints:
                raise ValueError("no resolver and no root hints given: refusing to use the system resolver")
            self.root_servers = load_root_hints(settings.root_hints)

    def _first_answer(self, servers: list[str], qname: dns.name.Name, rdtype: str, recursion: bool) -> Answer:
        last = Answer(servers[0] if servers else "-", None, error="no server to ask")
        for server in servers:
            ans = ask(server, qname, rdtype, self.timeout, dnssec=self.dnssec, recursion=recursion)
            if ans.response is not None and ans.response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return ans
            if ans.response is not None:
                last = Answer(server, ans.response, ans.tcp, f"rcode {dns.rcode.to_text(ans.response.rcode())}")
            else:
                last = ans
        return last

    def query(self, qname: str, rdtype: str, _depth: int = 0) -> tuple[Answer, list[str]]:
        """The final response for qname/rdtype and the list of servers consulted last."""
        name = dns.name.from_text(qname)
        if self.settings.resolvers:
            servers = list(self.settings.resolvers)
            return self._first_answer(servers, name, rdtype, recursion=True), servers
        servers = self._known_servers(name, rdtype) or list(self.root_servers)
        for _ in range(MAX_REFERRALS):
            ans = self._first_answer(servers, name, rdtype, recursion=False)
            resp = ans.response
            if resp is None or ans.error:
                return ans, servers
            if resp.answer or resp.rcode() == dns.rcode.NXDOMAIN:
                return ans, servers
            referral = [rr for rr in resp.authority if rr.rdtype == dns.rdatatype.NS]
            if not referral or not name.is_subdomain(referral[0].name):
                return ans, servers  # NODATA
            next_servers = self._referral_addresses(referral[0], resp, _depth)
            if not next_servers:
                return Answer(ans.server, resp, error=f"no address for any name server of {referral[0].name}"), servers
            if (cache := runcache.current()) is not None:
                cache.put(self._cut_key(referral[0].name), next_servers, referral[0].ttl)
            servers = next_servers
        return Answer(servers[0], None, error="too many referrals"), servers

    def _cut_key(self, zone: dns.name.Name) -> tuple:
        return ("cut", tuple(self.root_servers), zone)

    def _known_servers(self, name: dns.name.Name, rdtype: str) -> list[str] | None:
        """In a batch run: the servers of the deepest zone cut above `name` already learnt by a referral
        (DS lives in the parent, so for DS the search starts one label up)."""
        cache = runcache.current()
        if cache is None:
            return None
        current = name.parent() if rdtype == "DS" and name != dns.name.root else name
        while current != dns.name.root:
            found = cache.get(self._cut_key(current))
            if found:
                return list(found)
            current = current.parent()
        return None

    def _referral_addresses(self, ns_rrset: dns.rrset.RRset, resp: dns.message.Message, depth: int) -> list[str]:
        ns_names = [rd.target for rd in ns_rrset]
        glue = [
            rd.address
            for rr in resp.additional
            if rr.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and rr.name in ns_names
            for rd in rr
        ]
        if glue or depth > 3:
            return glue
        found: list[str] = []
        for ns in ns_names:
            for rdtype in ("A", "AAAA"):
                res = self.resolve(ns.to_text(), rdtype, _depth=depth + 1)
                found.extend(res.records)
            if found:
                break
        return found

    def resolve(self, qname: str, rdtype: str, _depth: int = 0) -> Resolution:
        """Follow CNAMEs to the final records of one type."""
        result = Resolution(qname=qname, rdtype=rdtype)
        current = dns.name.from_text(qname)
        seen: set[dns.name.Name] = set()
        for _ in range(MAX_CNAME_HOPS):
            if current in seen:
                result.error = f"CNAME loop at {current}"
                return result
            seen.add(current)
            ans, servers = self.query(current.to_text(), rdtype, _depth)
            result.servers = [ans.server]
            if ans.response is None or ans.error:
                result.error = ans.error or "no response"
                return result
            resp = ans.response
            result.rcode = dns.rcode.to_text(resp.rcode())
            if _has(resp, current, rdtype):
                result.records = _records(resp, current, rdtype)
                return result
            cname = _cname_target(resp, current)
            if cname is None:
                return result  # NODATA or NXDOMAIN
            result.cnames.append(cname.to_text())
            # The CNAME chain may continue inside the same response.
            current = cname
            while (nxt := _cname_target(resp, current)) is not None and nxt not in seen:
                seen.add(current)
                result.cnames.append(nxt.to_text())
                current = nxt
            if _has(resp, current, rdtype):
                result.records = _records(resp, current, rdtype)
                return result
        result.error = "too many CNAME hops"
        return result


def _has(resp: dns.message.Message, name: dns.name.Name, rdtype: str) -> bool:
    code = dns.rdatatype.from_text(rdtype)
    return any(rr.name == name and rr.rdtype == code for rr in resp.answer)


def _records(resp: dns.message.Message, name: dns.name.Name, rdtype: str) -> list[str]:
    code = dns.rdatatype.from_text(rdtype)
    return sorted(rd.to_text() for rr in resp.answer if rr.name == name and rr.rdtype == code for rd in rr)


def _cname_target(resp: dns.message.Message, name: dns.name.Name) -> dns.name.Name | None:
    for rr in resp.answer:
        if rr.name == name and rr.rdtype == dns.rdatatype.CNAME:
            return rr[0].target
    return None


def resolve_addresses(ascii_name: str, settings: ProbeSettings) -> tuple[list[str], list[str], Observation]:
    """A and AAAA of a name, and the observation that records how they were found."""
    obs = Observation(
        id=f"dns:{ascii_name}:addresses",
        probe="dns",
        target=ascii_name,
        subject=ascii_name,
        asked={"types": ["A", "AAAA"], "resolvers": settings.resolvers, "root_hints": settings.root_hints},
    )
    ipv4: list[str] = []
    ipv6: list[str] = []
    with ObservationTimer(obs):
        try:
            resolver = Resolver(settings)
        except (OSError, ValueError) as exc:
            obs.error = str(exc)
            return ipv4, ipv6, obs
        results = {t: resolver.resolve(ascii_name, t) for t in ("A", "AAAA")}
        ipv4, ipv6 = results["A"].records, results["AAAA"].records
        obs.data = {
            t: {"records": r.records, "cnames": r.cnames, "rcode": r.rcode, "error": r.error, "servers": r.servers}
            for t, r in results.items()
        }
        errors = [f"{t}: {r.error}" for t, r in results.items() if r.error]
        if errors and not (ipv4 or ipv6):
            obs.error = "; ".join(errors)
    return ipv4, ipv6, obs


@dataclass
class ZoneServers:
    """A zone's NS names as its own servers give them, and each name's A and AAAA lookups."""

    zone: str
    ns_names: list[str] = field(default_factory=list)
    lookups: dict[str, dict[str, Resolution]] = field(default_factory=dict)  # ns -> {"A": ..., "AAAA": ...}
    rcode: str | None = None
    error: str | None = None  # why there is no NS list


_LOOKUPS: ThreadPoolExecutor | None = None
_LOOKUPS_LOCK = threading.Lock()


def _lookup_pool() -> ThreadPoolExecutor:
    """Process-wide threads for the A/AAAA lookups below: they wait on nothing but the network."""
    global _LOOKUPS
    with _LOOKUPS_LOCK:
        if _LOOKUPS is None:
            _LOOKUPS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ns-lookup")
        return _LOOKUPS


def zone_name_servers(zone: str, settings: ProbeSettings) -> ZoneServers:
    """NS of `zone` and the addresses of each name server. The DNSSEC probe (server checks) and the IPv6
    probe (name servers over IPv6) of one target both need them: in a batch run they are looked up once
    (runcache.peer_query) and both probes report the same lookups. Never raises."""
    key = ("zone-ns", zone, tuple(settings.resolvers), settings.root_hints)
    result, _ = runcache.peer_compute(key, lambda: _zone_name_servers(zone, settings), settings.budget,
                                      settings.budget)
    return result


def _zone_name_servers(zone: str, settings: ProbeSettings) -> ZoneServers:
    out = ZoneServers(zone)
    try:
        resolver = Resolver(settings)
    except (OSError, ValueError) as exc:
        out.error = str(exc)
        return out
    ns = resolver.resolve(zone, "NS")
    out.rcode = ns.rcode
    if ns.error or not ns.records:
        out.error = ns.error or f"no NS records (rcode {ns.rcode})"
        return out
    out.ns_names = sorted(set(ns.records))
    pool = _lookup_pool()
    jobs = {(n, t): pool.submit(resolver.resolve, n, t) for n in out.ns_names for t in ("A", "AAAA")}
    for (n, t), job in jobs.items():
        out.lookups.setdefault(n, {})[t] = job.result()
    return out
