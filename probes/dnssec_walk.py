"""Fetching for the DNSSEC probe: cached, concurrent queries and the zone-cut walk from the root.

Two modes share one code path: iterative (the servers of each zone, found by referrals from the root
hints) and through recursive resolvers (RD+CD set, so bogus data still reaches netready, which then
validates it itself). Leaf queries run in one thread pool and never wait on anything; composite jobs
(a per-server check, the CAA climb) run in a second pool and wait only on leaf queries: no deadlock.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from netready.model import ProbeSettings, utc_now
from netready.probes import runcache
from netready.probes.dns import ask, lame_reason, load_root_hints

MAX_ZONE_DEPTH = 32
MAX_NS_LOOKUP_DEPTH = 3


@dataclass
class Reply:
    """The first usable response for a question, and what the other servers did before it."""

    server: str | None
    response: dns.message.Message | None
    tcp: bool = False
    error: str | None = None  # set when no server gave a usable response
    failures: list[str] = field(default_factory=list)  # "server: reason" for servers that failed first
    rtt_ms: float = 0.0
    fetched_at: str | None = None  # when the answer came (a batch run reuses answers within their TTL)

    @property
    def rcode(self) -> str | None:
        return dns.rcode.to_text(self.response.rcode()) if self.response is not None else None


@dataclass
class Zone:
    name: dns.name.Name
    parent: Zone | None
    servers: list[str]  # addresses asked for this zone (the resolvers in resolver mode)
    ns_names: list[str] = field(default_factory=list)  # from the delegation (or apex NS)
    glue: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None  # why no server address is known


def query_once(
    server: str, qname: dns.name.Name, rdtype: int, timeout: float, recursion: bool, tcp: bool, fallback: bool = True
) -> tuple[dns.message.Message | None, bool, str | None, float]:
    """One DNSSEC question (DO set) to one server: (response, over_tcp, error, rtt_ms). Never raises."""
    ans = ask(server, qname, rdtype, timeout, dnssec=True, recursion=recursion, tcp=tcp, fallback=fallback)
    return ans.response, ans.tcp, ans.error, ans.rtt_ms


def soa_key(server: str, zone: dns.name.Name, tcp: bool) -> tuple:
    """Key of a per-server SOA question (query_once flags: DO, EDNS 1232, no RD, no TCP fallback)."""
    return ("server-soa", server, zone, tcp)


class Fetcher:
    """Cached, deduplicated, deadline-bounded queries for one probe run."""

    def __init__(self, settings: ProbeSettings) -> None:
        self.settings = settings
        self.deadline = time.monotonic() + settings.budget
        self.recursive = bool(settings.resolvers)
        self.io, self.jobs = _pools()
        self._cache: dict[tuple, Future[Reply]] = {}
        self._lock = threading.Lock()
        self.queries = 0
        self.private: dns.name.Name | None = None  # the target's own name: its answers are never shared
        self.shared: list[tuple[dns.name.Name, int, Future[Reply]]] = []  # answers taken from the run cache
        self.zones: dict[dns.name.Name, Zone] = {}
        self._zone_lock = threading.Lock()
        if self.recursive:
            root_servers = list(settings.resolvers)
        else:
            if not settings.root_hints:
                raise ValueError("no resolver and no root hints given: refusing to use the system resolver")
            root_servers = load_root_hints(settings.root_hints)
        self.zones[dns.name.root] = Zone(dns.name.root, None, root_servers)

    def close(self) -> None:
        """Nothing to release: the pools are shared, and queued queries past the deadline return at once."""

    # --- leaf queries -------------------------------------------------------------------------------------

    def timeout(self) -> float:
        return max(0.0, min(self.settings.timeout, self.deadline - time.monotonic()))

    def raw(self, server: str, qname: dns.name.Name, rdtype: int, tcp: bool, fallback: bool = True) -> Future:
        """One uncached, non-recursive question to one server (per-server checks want each server's own answer)."""
        return self.io.submit(self._raw, server, qname, rdtype, tcp, fallback, False)

    def server_soa(self, server: str, zone: dns.name.Name, tcp: bool) -> Future:
        """SOA of zone from one server without TCP fallback. The IPv6 probe asks each IPv6 address of the
        zone's servers the same question: in a batch run it goes out once (runcache.peer_query)."""
        if ":" not in server:  # IPv4 addresses are asked by this probe only: nothing to share
            return self.raw(server, zone, dns.rdatatype.SOA, tcp, fallback=False)
        fut, _ = runcache.peer_query(
            soa_key(server, zone, tcp),
            lambda: self.raw(server, zone, dns.rdatatype.SOA, tcp, fallback=False),
            self.settings.budget,
        )
        return fut

    def _raw(self, server: str, qname: dns.name.Name, rdtype: int, tcp: bool, fallback: bool, recursion: bool) -> tuple:
        t = self.timeout()
        if t <= 0:
            return None, tcp, "time budget for this target exhausted", 0.0
        with self._lock:
            self.queries += 1
        return query_once(server, qname, rdtype, t, recursion, tcp, fallback)

    def ask(self, servers: list[str], qname: dns.name.Name, rdtype: int, share: bool = True,
            zone: dns.name.Name | None = None) -> Future[Reply]:
        """The first usable reply from these servers (the servers of `zone`), tried in order; cached for the
        probe run, and in a batch run (probes.runcache) shared with the other targets within the answer's
        TTL. A lame answer (RFC 1034 §5.3.3: not authoritative and not a referral below `zone`, or an
        upward/sideways referral) is not usable: the next server is asked."""
        key = (tuple(servers), qname, rdtype, zone)
        run_cache = runcache.current() if share else None
        if run_cache is not None and self.private is not None and qname.is_subdomain(self.private):
            run_cache = None
        with self._lock:
            fut = self._cache.get(key)
            if fut is not None:
                return fut
            fut = Future()
            self._cache[key] = fut
        if run_cache is None:
            self.io.submit(self._fill, fut, list(servers), qname, rdtype, zone)
            return fut
        skey = ("dnssec-ask", self.recursive, key)
        shared, hit = run_cache.setdefault(skey, fut, self.settings.budget)
        if not hit:
            self.io.submit(self._fill, fut, list(servers), qname, rdtype, zone, run_cache, skey)
            return fut
        with self._lock:
            self.shared.append((qname, rdtype, fut))
        shared.add_done_callback(lambda done: self._adopt(done, fut, list(servers), qname, rdtype, zone))
        return fut

    def _adopt(self, shared: Future, mine: Future, servers: list[str], qname: dns.name.Name, rdtype: int,
               zone: dns.name.Name | None) -> None:
        """Take another target's answer; if it failed (maybe that target's budget ran out), ask ourselves."""
        try:
            reply = shared.result()
        except Exception:  # noqa: BLE001 - a crashed shared query is just a miss
            reply = None
        if reply is not None and reply.response is not None:
            mine.set_result(reply)
        else:
            self.io.submit(self._fill, mine, servers, qname, rdtype, zone)

    def _fill(
        self,
        fut: Future,
        servers: list[str],
        qname: dns.name.Name,
        rdtype: int,
        zone: dns.name.Name | None = None,
        run_cache: runcache.RunCache | None = None,
        skey: tuple | None = None,
    ) -> None:
        try:
            reply = self._ask(servers, qname, rdtype, zone)
        except BaseException as exc:  # never leave a waiter hanging
            if run_cache is not None:
                run_cache.expire(skey, fut, 0)
            fut.set_exception(exc)
            return
        if run_cache is not None:  # only successful answers are shared, and only for their TTL
            ttl = runcache.response_ttl(reply.response) if reply.response is not None else 0.0
            run_cache.expire(skey, fut, ttl)
        fut.set_result(reply)

    def _ask(self, servers: list[str], qname: dns.name.Name, rdtype: int, zone: dns.name.Name | None = None) -> Reply:
        failures: list[str] = []
        if not servers:
            return Reply(None, None, error="no server address known")
        for server in servers:
            resp, tcp, err, rtt = self._raw(server, qname, rdtype, False, True, self.recursive)
            if resp is None:
                failures.append(f"{server}: {err}")
                continue
            rc = resp.rcode()
            if rc not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                failures.append(f"{server}: rcode {dns.rcode.to_text(rc)}")
                continue
            if not self.recursive and zone is not None and (why := lame_reason(resp, zone, qname)):
                failures.append(f"{server}: lame: {why}")
                continue
            return Reply(server, resp, tcp, None, failures, rtt, utc_now())
        return Reply(None, None, error="; ".join(failures), failures=failures)

    # --- zone cuts ----------------------------------------------------------------------------------------

    def deepest_zone(self, name: dns.name.Name) -> Zone:
        with self._zone_lock:
            best = self.zones[dns.name.root]
            for zname, zone in self.zones.items():
                if name.is_subdomain(zname) and len(zname) > len(best.name):
                    best = zone
            return best

    def zone_chain(self, zone: Zone) -> list[Zone]:
        chain = []
        z: Zone | None = zone
        while z is not None:
            chain.append(z)
            z = z.parent
        return list(reversed(chain))

    def find_zone(self, qname: dns.name.Name, depth: int = 0) -> tuple[Zone, str | None, bool]:
        """Walk label by label below the deepest known zone: (zone holding qname, error, name_exists).

        Asking NS for each ancestor (as QNAME minimisation does) finds every cut, also those a server
        authoritative for both parent and child would otherwise hide.
        """
        zone = self.deepest_zone(qname)
        for n in range(len(zone.name) + 1, len(qname) + 1):
            name = dns.name.Name(qname.labels[len(qname) - n :])
            with self._zone_lock:
                known = self.zones.get(name)
            if known is not None:
                zone = known
                continue
            reply = self.ask(zone.servers, name, dns.rdatatype.NS, zone=zone.name).result()
            if reply.response is None:
                return zone, f"servers of {zone.name} failed for {name} NS: {reply.error}", True
            resp = reply.response
            if resp.rcode() == dns.rcode.NXDOMAIN:
                return zone, None, False
            ns = _ns_rrset(resp, name)
            if ns is None:
                if any(r.name == name and r.rdtype == dns.rdatatype.CNAME for r in resp.answer):
                    return zone, None, True
                continue  # not a cut: an ordinary name (or empty non-terminal) inside the zone
            child = self._make_zone(name, zone, ns, resp, depth)
            with self._zone_lock:
                zone = self.zones.setdefault(name, child)
            self.prefetch(zone)
        return zone, None, True

    def _make_zone(
        self, name: dns.name.Name, parent: Zone, ns: dns.rrset.RRset, resp: dns.message.Message, depth: int
    ) -> Zone:
        ns_names = sorted({rd.target for rd in ns}, key=lambda n: n.to_text())
        glue: dict[str, list[str]] = {}
        for rr in resp.additional:
            # Glue is the parent's data only inside its own bailiwick (RFC 2181 §5.4.1): other addresses
            # in the additional section are not believed, those names are looked up instead.
            if rr.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and rr.name in ns_names \
                    and rr.name.is_subdomain(parent.name):
                glue.setdefault(rr.name.to_text(), []).extend(rd.address for rd in rr)
        zone = Zone(name, parent, [], [n.to_text() for n in ns_names], glue)
        if self.recursive:
            zone.servers = list(self.settings.resolvers)
            return zone
        addrs = [a for n in zone.ns_names for a in glue.get(n, [])]
        if not addrs and depth < MAX_NS_LOOKUP_DEPTH:
            for ns_name in ns_names:
                if ns_name.is_subdomain(name):
                    continue  # in-bailiwick without glue: unreachable, we would loop
                addrs.extend(self.addresses(ns_name, depth + 1))
                if addrs:
                    break
        zone.servers = _order(addrs)
        if not addrs:
            zone.error = f"no address for any name server of {name}"
        return zone

    def prefetch(self, zone: Zone) -> None:
        """Start DS (at the parent) and DNSKEY (at the zone) as soon as a cut is known."""
        if zone.parent is not None:
            self.ask(zone.parent.servers, zone.name, dns.rdatatype.DS, zone=zone.parent.name)
        self.ask(zone.servers, zone.name, dns.rdatatype.DNSKEY, zone=zone.name)

    def lookup(self, qname: dns.name.Name, rdtype: int, depth: int = 0) -> tuple[Zone, Reply | None, str | None]:
        """The reply for qname/rdtype from the zone holding qname (no CNAME following here)."""
        zone, err, exists = self.find_zone(qname, depth)
        if err:
            return zone, None, err
        if not zone.servers:
            return zone, None, zone.error or f"no server for {zone.name}"
        reply = self.ask(zone.servers, qname, rdtype, zone=zone.name).result()
        return zone, reply, reply.error

    def addresses_many(self, hosts: list[dns.name.Name]) -> dict[dns.name.Name, list[str]]:
        """A and AAAA of several host names at once (all questions in flight together)."""
        pending: list[tuple[dns.name.Name, int, Future[Reply]]] = []
        for host in hosts:
            # Addresses need no zone-cut discovery (that is for the names whose signatures are checked):
            # ask the deepest zone already known, and walk only if it refers us further down.
            zone = self.deepest_zone(host)
            if not zone.servers:
                continue
            for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                pending.append((host, rdtype, self.ask(zone.servers, host, rdtype, zone=zone.name)))
        found: dict[dns.name.Name, list[str]] = {h: [] for h in hosts}
        slow: set[dns.name.Name] = set()
        for host, rdtype, fut in pending:
            reply = fut.result()
            if reply.response is None or host in slow:
                continue
            resp = reply.response
            rrs = [r for r in resp.answer if r.name == host]
            referral = not resp.answer and not resp.flags & dns.flags.AA and resp.rcode() == dns.rcode.NOERROR
            if referral or any(r.rdtype == dns.rdatatype.CNAME for r in rrs):  # rare for a name server
                slow.add(host)
                found[host] = self.addresses(host)
                continue
            found[host].extend(rd.address for r in rrs if r.rdtype == rdtype for rd in r)
        return found

    def addresses(self, host: dns.name.Name, depth: int = 0) -> list[str]:
        """A and AAAA of a host name (name servers), following CNAMEs a few steps."""
        found: list[str] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            name = host
            for _ in range(4):
                _zone, reply, err = self.lookup(name, rdtype, depth)
                if err or reply is None or reply.response is None:
                    break
                rrs = [r for r in reply.response.answer if r.name == name]
                target = next((r[0].target for r in rrs if r.rdtype == dns.rdatatype.CNAME), None)
                found.extend(rd.address for r in rrs if r.rdtype == rdtype for rd in r)
                if target is None:
                    break
                name = target
        return found


_POOLS: tuple[ThreadPoolExecutor, ThreadPoolExecutor] | None = None
_POOLS_LOCK = threading.Lock()


def _pools() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """Process-wide pools (threads cost ~0.1 ms each to start; a run should not pay for 30 of them).

    Leaf queries never wait on anything and jobs wait only on leaf queries, so sharing cannot deadlock.
    """
    global _POOLS
    with _POOLS_LOCK:
        if _POOLS is None:
            _POOLS = (
                ThreadPoolExecutor(max_workers=32, thread_name_prefix="dnssec-io"),
                ThreadPoolExecutor(max_workers=16, thread_name_prefix="dnssec-job"),
            )
        return _POOLS


def _ns_rrset(resp: dns.message.Message, name: dns.name.Name) -> dns.rrset.RRset | None:
    for section in (resp.answer, resp.authority):
        for rr in section:
            if rr.name == name and rr.rdtype == dns.rdatatype.NS:
                return rr
    return None


def _order(addrs: list[str]) -> list[str]:
    """IPv4 first (works everywhere), then IPv6; duplicates removed."""
    seen: list[str] = []
    for a in sorted(addrs, key=lambda a: ":" in a):
        if a not in seen:
            seen.append(a)
    return seen
