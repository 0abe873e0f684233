"""Plain DNS: name normalisation, single queries with UDP->TCP fallback, and address resolution.

Resolution goes either through the recursive resolvers the user gives, or iteratively from root
hints; never through /etc/resolv.conf. Other probes (dnssec, ipv6) build on these helpers.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from netready.model import Observation, ObservationTimer, ProbeSettings
from netready.probes import dns_transport as transport
from netready.probes import runcache

# A name's ASCII form and its checks have their home in probes/dns_names.py (a plain name needs no dnspython);
# they are read from here too, as before.
from netready.probes.dns_names import MAX_LABEL, MAX_NAME, NameError_, to_ascii  # noqa: F401

MAX_REFERRALS = 24
MAX_CNAME_HOPS = 8


@dataclass
class Answer:
    """One response (or the failure to get one) from one server."""

    server: str
    response: dns.message.Message | None
    tcp: bool = False
    error: str | None = None
    rtt_ms: float = 0.0
    truncated_udp: bool = False  # UDP came back truncated (TC) and the answer is the TCP retry's
    # Set by Resolver's iterative walk: the zone whose server gave the response (data about names outside it
    # is not believed), and, when there is no usable answer, what kind of failure it is (FAILURES).
    zone: dns.name.Name | None = None
    failure: str | None = None
    failures: dict[str, str] = field(default_factory=dict)  # server -> why it gave no usable answer


# Kinds of resolution failure, for judges that must tell a definitive failure from one that may pass:
FAILURES = {
    "budget": "the target's time budget ran out",
    "timeout": "every server of a zone timed out",
    "unanswered": "no server of a zone gave a usable answer (refused, lame, garbage...)",
    "no-server-address": "a referral named servers with no usable address",
    "referrals": "too many referrals",
    "cname": "a CNAME loop or too long a chain",
}


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
    retried = False  # the UDP answer was truncated and the question went again over TCP
    try:
        if tcp:
            wire = transport.tcp(question, server, timeout)
        else:
            wire = transport.udp(question, server, timeout)
            if fallback and transport.truncated(wire):
                retried = True
                left = timeout - (time.perf_counter() - t0)
                wire = transport.tcp(question, server, max(left, 0.001))
        resp = transport.parse(wire)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the answer's error, never an exception
        why = _failure(exc, server, timeout)
        if why is None:
            raise
        return Answer(server, None, tcp or retried, f"truncated over UDP; over TCP: {why}" if retried else why,
                      truncated_udp=retried)
    return Answer(server, resp, tcp or retried, None, round((time.perf_counter() - t0) * 1000, 3), retried)


def _failure(exc: Exception, server: str, timeout: float) -> str | None:
    """Why an exchange failed, in words; None for an exception that is a bug, not a network failure."""
    if isinstance(exc, transport.StrayTimeout):
        return f"timeout after {timeout:g} s; {exc.note()}"
    if isinstance(exc, dns.exception.Timeout):
        return f"timeout after {timeout:g} s"
    if isinstance(exc, dns.message.Truncated):
        return "truncated"
    if isinstance(exc, ConnectionRefusedError):  # UDP: ICMP port unreachable; TCP: reset
        return f"refused: nothing listens on port 53 of {server}"
    # Garbage answers can make the wire parser fail with KeyError/IndexError too: an error, not a crash.
    if isinstance(exc, OSError | dns.exception.DNSException | ValueError | EOFError | KeyError | IndexError
                  | struct.error):
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None


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
    failure: str | None = None  # the kind of failure behind `error` (FAILURES)
    failures: dict[str, str] = field(default_factory=dict)  # on error: each server asked last, and why it failed


class Resolver:
    """Fetches records through given recursive resolvers, or iteratively from root hints.

    Iteratively it believes only what each zone's servers may say (RFC 2181 §5.4.1): a referral must lead
    below the zone that gave it, glue and CNAME chain data are used only inside that zone's bailiwick, and a
    server that answers without the AA bit and without a referral is lame (RFC 1034 §5.3.3): the next server
    is asked. So nothing one zone's servers say can redirect lookups of names outside that zone, in this
    target or (through the batch run cache of zone cuts) in any other. Every question is sent before the
    resolver's deadline (settings.budget from its creation, or the one given): a root with thirty silent
    addresses costs the budget, not thirty timeouts.

    ipv6_only=True is the walk of a citizen with IPv6 only: from the IPv6 addresses of the root hints, only
    ever to IPv6 addresses (AAAA glue, or the AAAA of the name servers, resolved the same way), never
    through recursive resolvers. keep_steps=True records the zones asked for each top-level name
    (`steps`: zone, servers, which one answered; "shared" when a batch run's cache gave them)."""

    def __init__(self, settings: ProbeSettings, dnssec: bool = False, deadline: float | None = None,
                 ipv6_only: bool = False, keep_steps: bool = False) -> None:
        self.settings = settings
        self.timeout = settings.timeout
        self.deadline = deadline if deadline is not None else time.monotonic() + settings.budget
        # Addresses, NS and SOA need no signatures (the dnssec probe has its own fetcher): without the
        # DO bit responses carry no RRSIG/NSEC, which halves what each answer costs to parse in a batch.
        self.dnssec = dnssec
        self.ipv6_only = ipv6_only
        self.recursive = bool(settings.resolvers) and not ipv6_only
        self.queries = 0  # questions sent (an IPv6-only walk reports it)
        self.steps: list[dict[str, Any]] | None = [] if keep_steps else None
        self.root_servers: list[str] = []
        if not self.recursive:
            if not settings.root_hints:
                raise ValueError("no resolver and no root hints given: refusing to use the system resolver")
            self.root_servers = self._usable(load_root_hints(settings.root_hints))
            if not self.root_servers:
                raise ValueError("the root hints have no IPv6 address")

    def _usable(self, addresses: list[str]) -> list[str]:
        """The addresses this walk may ask: IPv6-only, IPv6 addresses that are not IPv4 in disguise (an
        IPv4-mapped ::ffff:a.b.c.d is reached over IPv4, which an IPv6-only citizen does not have)."""
        return [a for a in addresses if _ipv6_transport(a)] if self.ipv6_only else list(addresses)

    @property
    def _family(self) -> str:
        return "IPv6 " if self.ipv6_only else ""

    def _first_answer(self, servers: list[str], qname: dns.name.Name, rdtype: str, recursion: bool,
                      zone: dns.name.Name | None = None) -> Answer:
        last = Answer(servers[0] if servers else "-", None, error="no server to ask", failure="no-server-address")
        failures: list[str] = []
        timeouts = 0
        per_server: dict[str, str] = {}
        for server in servers:
            left = self.deadline - time.monotonic()
            if left <= 0:
                last = Answer(server, None, error=f"time budget of {self.settings.budget:g} s for this target used up",
                              failure="budget")
                failures.append(last.error)
                per_server[server] = last.error
                break
            self.queries += 1
            ans = ask(server, qname, rdtype, min(self.timeout, left), dnssec=self.dnssec, recursion=recursion)
            resp = ans.response
            if resp is not None and resp.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                why = None if recursion or zone is None else lame_reason(resp, zone, qname)
                if why is None:
                    ans.zone = zone
                    return ans
                last = Answer(server, resp, ans.tcp, f"lame: {why}")
            elif resp is not None:
                last = Answer(server, resp, ans.tcp, f"rcode {dns.rcode.to_text(resp.rcode())}")
            else:
                last = ans
                timeouts += bool(ans.error and "timeout" in ans.error)
            failures.append(f"{server}: {last.error}")
            per_server[server] = last.error or "no answer"
        failure = last.failure or ("timeout" if timeouts == len(failures) else "unanswered")
        if len(failures) > 1:
            last = Answer(last.server, last.response, last.tcp, "; ".join(failures))
        return replace(last, failure=failure, failures=per_server)  # a copy: `ask` answers may be shared

    def query(self, qname: str, rdtype: str, _depth: int = 0) -> tuple[Answer, list[str]]:
        """The final response for qname/rdtype and the list of servers consulted last."""
        name = dns.name.from_text(qname)
        if self.recursive:
            servers = list(self.settings.resolvers)
            return self._first_answer(servers, name, rdtype, recursion=True), servers
        trail: list[dict[str, Any]] = []
        try:
            return self._walk(name, rdtype, _depth, trail)
        finally:
            if _depth == 0 and self.steps is not None:
                self.steps.extend(trail)

    def _walk(self, name: dns.name.Name, rdtype: str, depth: int,
              trail: list[dict[str, Any]]) -> tuple[Answer, list[str]]:
        """From the deepest known cut (or the root) down the referrals to the zone that answers; each zone
        asked is appended to `trail`."""
        known = self._known_cut(name, rdtype)
        if known is not None:
            zone, servers, shared = known
            trail.extend({**step, "shared": True} for step in shared)
        else:
            zone, servers = dns.name.root, list(self.root_servers)
        for _ in range(MAX_REFERRALS):
            ans = self._first_answer(servers, name, rdtype, recursion=False, zone=zone)
            resp = ans.response
            trail.append({"zone": zone.to_text(), "servers": list(servers),
                          "answered_by": None if resp is None or ans.error else ans.server})
            if resp is None or ans.error:
                if ans.failure != "budget":
                    ans.error = f"no {self._family}name server of {zone} answered: {ans.error}"
                return ans, servers
            if resp.answer or resp.rcode() == dns.rcode.NXDOMAIN or resp.flags & dns.flags.AA:
                return ans, servers  # an answer, NXDOMAIN or NODATA
            cut = next(rr for rr in resp.authority if rr.rdtype == dns.rdatatype.NS)  # lame_reason: a referral below
            next_servers, lookups = self._referral_addresses(cut, resp, depth, zone)
            if not next_servers:
                # Definitive only when every name server's address was looked up and there is none; a lookup
                # that failed may have found one (its failure kind says how sure the answer is).
                failed = [r for r in lookups if r.error]
                why = "; ".join(f"{r.qname} {r.rdtype}: {r.error}" for r in failed)
                return Answer(ans.server, resp, failure=_worst(failed) if failed else "no-server-address",
                              error=f"no {self._family}address for any name server of {cut.name}"
                                    + (f" (lookups failed: {why})" if why else "")), servers
            if (cache := runcache.current()) is not None:
                cache.put(self._cut_key(cut.name), (next_servers, [dict(step) for step in trail]), cut.ttl)
            zone, servers = cut.name, next_servers
        return Answer(servers[0], None, error="too many referrals", failure="referrals"), servers

    def _cut_key(self, zone: dns.name.Name) -> tuple:
        return ("cut", self.ipv6_only, tuple(self.root_servers), zone)

    def _known_cut(self, name: dns.name.Name, rdtype: str) -> tuple[dns.name.Name, list[str], list] | None:
        """In a batch run: the deepest zone cut above `name` already learnt by a referral, its servers and
        the steps that found it (DS lives in the parent, so for DS the search starts one label up)."""
        cache = runcache.current()
        if cache is None:
            return None
        current = name.parent() if rdtype == "DS" and name != dns.name.root else name
        while current != dns.name.root:
            found = cache.get(self._cut_key(current))
            if found:
                servers, steps = found
                return current, list(servers), steps
            current = current.parent()
        return None

    def _referral_addresses(self, ns_rrset: dns.rrset.RRset, resp: dns.message.Message, depth: int,
                            zone: dns.name.Name) -> tuple[list[str], list[Resolution]]:
        """The addresses of a referral's name servers (in-bailiwick glue, else looked up) and the lookups."""
        ns_names = [rd.target for rd in ns_rrset]
        kinds = ("AAAA",) if self.ipv6_only else ("A", "AAAA")
        codes = {dns.rdatatype.from_text(k) for k in kinds}
        glue = self._usable([
            rd.address
            for rr in resp.additional
            if rr.rdtype in codes and rr.name in ns_names
            and rr.name.is_subdomain(zone)  # glue from outside the referring zone is not believed
            for rd in rr
        ])
        if glue or depth > 3:
            return glue, []
        found: list[str] = []
        lookups: list[Resolution] = []
        for ns in ns_names:
            if ns.is_subdomain(ns_rrset.name):
                continue  # in-zone name server without usable glue: asking for it would loop
            for rdtype in kinds:
                res = self.resolve(ns.to_text(), rdtype, _depth=depth + 1)
                lookups.append(res)
                found.extend(self._usable(res.records))
            if found:
                break
        return found, lookups

    def resolve(self, qname: str, rdtype: str, _depth: int = 0) -> Resolution:
        """Follow CNAMEs to the final records of one type."""
        result = Resolution(qname=qname, rdtype=rdtype)
        current = dns.name.from_text(qname)
        seen: set[dns.name.Name] = set()
        for _ in range(MAX_CNAME_HOPS):
            if current in seen:
                result.error = f"CNAME loop at {current}"
                result.failure = "cname"
                return result
            seen.add(current)
            ans, servers = self.query(current.to_text(), rdtype, _depth)
            result.servers = [ans.server]
            if ans.response is None or ans.error:
                result.error = ans.error or "no response"
                result.failure = ans.failure
                result.failures = dict(ans.failures)
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
            # The CNAME chain may continue inside the same response, as far as the answering zone may speak
            # for it: a zone's server saying what another zone's names are is not believed, they are asked.
            current = cname
            while (_in_bailiwick(current, ans.zone) and (nxt := _cname_target(resp, current)) is not None
                   and nxt not in seen):
                seen.add(current)
                result.cnames.append(nxt.to_text())
                current = nxt
            if _in_bailiwick(current, ans.zone) and _has(resp, current, rdtype):
                result.records = _records(resp, current, rdtype)
                return result
        result.error = "too many CNAME hops"
        result.failure = "cname"
        return result


def lame_reason(resp: dns.message.Message, zone: dns.name.Name, qname: dns.name.Name) -> str | None:
    """Why a NOERROR/NXDOMAIN answer from a server of `zone` to a question about qname is lame, or None.

    Authoritative (AA) answers are fine; so is a referral: no AA, no answer, NS records in the authority
    section for a zone below `zone` that holds qname. A referral upward or sideways (RFC 2181 §5.4.1:
    not below the zone that gave it) and any other non-authoritative answer are lame (RFC 1034 §5.3.3).
    The one definition every iterative walk uses."""
    if resp.flags & dns.flags.AA:
        return None
    cuts = [rr.name for rr in resp.authority if rr.rdtype == dns.rdatatype.NS]
    if cuts and not resp.answer:
        cut = cuts[0]
        if cut != zone and cut.is_subdomain(zone) and qname.is_subdomain(cut):
            return None
        return f"referral to {cut} from a server of {zone}: not below that zone (upward or sideways)"
    return "answer without the AA bit that is not a referral (RFC 1034 §5.3.3)"


def _ipv6_transport(address: str) -> bool:
    """An IPv6 address that is asked over IPv6 (not an IPv4-mapped or IPv4-compatible one)."""
    try:
        ip = ipaddress.IPv6Address(address.split("%")[0])
    except ValueError:
        return False
    return ip.ipv4_mapped is None and (int(ip) >> 32 != 0 or int(ip) == 1)  # not ::/96 (but ::1)


def _worst(failed: list[Resolution]) -> str:
    """The failure kind of a set of failed lookups, the least definitive first: a budget or a timeout may
    hide a good answer."""
    kinds = [r.failure or "unanswered" for r in failed]
    return next((k for k in ("budget", "timeout") if k in kinds), kinds[0])


def _in_bailiwick(name: dns.name.Name, zone: dns.name.Name | None) -> bool:
    """Whether the servers of `zone` may speak for name (zone None: a recursive resolver's answer)."""
    return zone is None or name.is_subdomain(zone)


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
            t: {"records": r.records, "cnames": r.cnames, "rcode": r.rcode, "error": r.error, "servers": r.servers,
                "failures": r.failures}
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
