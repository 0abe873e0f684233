"""Authenticated denial of existence: what a set of (already signature-checked) NSEC or NSEC3 RRsets proves.

NSEC (RFC 4035 §3.1.3, §5.4; RFC 6840 §4.1, §4.3): NXDOMAIN needs an NSEC covering the name and one
covering the wildcard at the closest encloser (an NSEC *matching* that wildcard proves it exists);
NODATA needs the NSEC of the name itself, an empty non-terminal proof, or the wildcard NODATA proof; the
type bitmap is read: a parent-side NSEC at a delegation (NS without SOA) proves nothing below the cut,
one with a DNAME proves nothing below the DNAME, and an NSEC at a name without the NS bit proves nothing
about a DS there.
NSEC3 (RFC 5155 §8): records with an unknown hash algorithm or unknown flags are ignored (§8.1, §8.2);
closest encloser + next closer (§8.3) where the encloser's NSEC3 must not be a delegation or DNAME;
NXDOMAIN also denies the wildcard (§8.4); NODATA matches the name (§8.5), a DS NODATA may rest on an
opt-out span (§8.6), a wildcard NODATA matches the wildcard (§8.7); an answer expanded from a wildcard
needs the next closer name covered (§8.8). An opt-out span proves only that no *signed* delegation
exists: what it hides is insecure. More than NSEC3_MAX_ITERATIONS iterations: insecure (RFC 9276 §3.2).

Every result is a Proof: status secure (proven), insecure (opt-out span, too many iterations) or bogus
(not proven), what was proven, and the reason in words.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset

NSEC3_MAX_ITERATIONS = 150  # RFC 9276 §3.2: validators may treat more as insecure (BIND, Unbound: 150)
MAX_NSEC3_HASHES = 128  # names hashed for one proof (a name has at most 127 labels)
NSEC3_SHA1 = 1

NS, SOA, DS, CNAME, DNAME = (dns.rdatatype.NS, dns.rdatatype.SOA, dns.rdatatype.DS, dns.rdatatype.CNAME,
                             dns.rdatatype.DNAME)


@dataclass
class Proof:
    kind: str = "none"  # nsec | nsec3 | none
    proves: str | None = None  # nxdomain | nodata | ent | wildcard-nodata | no-ds | opt-out | wildcard
    status: str = "bogus"  # secure | insecure | bogus
    reason: str | None = None
    nsec3: dict[str, Any] | None = None  # algorithm, iterations, salt, opt_out
    closest_encloser: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "proves": self.proves, "status": self.status, "reason": self.reason,
                "nsec3": self.nsec3, "closest_encloser": self.closest_encloser}


def types_of(rd: Any) -> set[int]:
    found: set[int] = set()
    for window, bitmap in rd.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    found.add(window * 256 + i * 8 + bit)
    return found


def _common(a: dns.name.Name, b: dns.name.Name) -> dns.name.Name:
    n = 0
    for x, y in zip(reversed(a.labels), reversed(b.labels), strict=False):
        if x.lower() != y.lower():
            break
        n += 1
    return dns.name.Name(a.labels[len(a.labels) - n :])


def _wild(ce: dns.name.Name) -> dns.name.Name:
    return dns.name.Name((b"*",) + ce.labels)


def _next_closer(qname: dns.name.Name, ce: dns.name.Name) -> dns.name.Name:
    return dns.name.Name(qname.labels[len(qname) - len(ce) - 1 :])


def _t(rdtype: int) -> str:
    return dns.rdatatype.to_text(rdtype)


def prove(records: list[dns.rrset.RRset], qname: dns.name.Name, qtype: int, zone: dns.name.Name,
          nxdomain: bool) -> Proof:
    """What the NSEC/NSEC3 RRsets of a negative answer from `zone` prove about (qname, qtype).

    nxdomain: the server said the name does not exist; otherwise that the type does not (for qtype DS
    at a delegation: the proof of an insecure delegation)."""
    nsec = [r for r in records if r.rdtype == dns.rdatatype.NSEC and r.name.is_subdomain(zone)]
    nsec3 = [r for r in records if r.rdtype == dns.rdatatype.NSEC3]
    if nsec:
        return _Nsec(nsec, zone).prove(qname, qtype, nxdomain)
    if nsec3:
        return _Nsec3.make(nsec3, zone).prove(qname, qtype, nxdomain)
    return Proof(reason=f"no NSEC or NSEC3 record proves that {qname} {_t(qtype)} does not exist")


def prove_wildcard_answer(records: list[dns.rrset.RRset], qname: dns.name.Name, source: dns.name.Name,
                          zone: dns.name.Name) -> Proof:
    """An answer for qname synthesised from the wildcard *.<source> (the RRSIG labels say which) is only
    right if qname does not exist and no name between it and <source> does (RFC 4035 §5.3.4, RFC 5155
    §8.8)."""
    nsec = [r for r in records if r.rdtype == dns.rdatatype.NSEC and r.name.is_subdomain(zone)]
    nsec3 = [r for r in records if r.rdtype == dns.rdatatype.NSEC3]
    if nsec:
        return _Nsec(nsec, zone).positive_wildcard(qname, source)
    if nsec3:
        return _Nsec3.make(nsec3, zone).positive_wildcard(qname, source)
    return Proof(reason=f"answer for {qname} expanded from wildcard *.{source} without NSEC/NSEC3 proof that "
                        f"{qname} does not exist")


def _judge_match(p: Proof, what: str, types: set[int], qname: dns.name.Name, qtype: int, zone: dns.name.Name) -> Proof:
    """What the denial record at qname itself (the NSEC at the name, the NSEC3 of its hash) proves about
    qtype, read from its type bitmap: nodata, no-ds at a delegation, ent for an empty non-terminal; or why
    it proves nothing (RFC 4035 §5.4, RFC 6840 §4.1 and §4.4, RFC 5155 §8.5 and §8.6)."""
    tname = _t(qtype)
    if qtype in types or CNAME in types:
        p.reason = f"{what} {qname} lists type {tname if qtype in types else 'CNAME'}: the denial is false"
    elif qtype == DS:
        if SOA in types and qname != dns.name.root:
            p.reason = f"{what} {qname} comes from the child zone (it has SOA), not from the parent"
        elif NS not in types:
            p.reason = (f"{what} {qname} has no NS bit: {qname} is not a delegation in {zone}, so it proves "
                        "nothing about a DS there (RFC 6840 §4.4)")
        else:
            p.proves, p.status = "no-ds", "secure"
    elif NS in types and SOA not in types:
        p.reason = (f"{what} {qname} is the parent's record of a delegation (NS without SOA): it cannot deny "
                    f"{tname} at the child (RFC 6840 §4.1)")
    else:
        p.proves, p.status = "nodata" if types else "ent", "secure"
    return p


# --- NSEC ----------------------------------------------------------------------------------------------------


class _Nsec:
    def __init__(self, rrsets: list[dns.rrset.RRset], zone: dns.name.Name) -> None:
        self.zone = zone
        self.items = [(r.name, r[0].next, types_of(r[0])) for r in rrsets if len(r)]

    def covers(self, owner: dns.name.Name, nxt: dns.name.Name, types: set[int], name: dns.name.Name) -> bool:
        """This NSEC proves `name` does not exist."""
        if name == owner or not name.is_subdomain(self.zone):
            return False
        if name.is_subdomain(owner) and (DNAME in types or (NS in types and SOA not in types)):
            return False  # names below a delegation or a DNAME are not this zone's to deny (RFC 6840 §4.1)
        if owner == nxt:  # the only NSEC of the zone
            return name != owner
        if owner < nxt:
            return owner < name < nxt
        return name > owner  # the last NSEC, pointing back at the apex

    def cover(self, name: dns.name.Name) -> tuple | None:
        return next((it for it in self.items if self.covers(*it, name)), None)

    def match(self, name: dns.name.Name) -> tuple | None:
        return next((it for it in self.items if it[0] == name), None)

    def closest_encloser(self, qname: dns.name.Name, item: tuple) -> dns.name.Name:
        owner, nxt, _ = item
        return max(_common(qname, owner), _common(qname, nxt), key=len)

    def prove(self, qname: dns.name.Name, qtype: int, nxdomain: bool) -> Proof:
        p = Proof(kind="nsec")
        tname = _t(qtype)
        if nxdomain:
            return self.nxdomain(qname, p)
        m = self.match(qname)
        if m is not None:
            return _judge_match(p, "NSEC at", m[2], qname, qtype, self.zone)
        for owner, nxt, _types in self.items:  # empty non-terminal: the name sorts between owner and a child of it
            if owner < qname and nxt != qname and nxt.is_subdomain(qname):
                if qtype == DS:
                    p.reason = f"{qname} is an empty non-terminal in {self.zone}: not a delegation"
                    return p
                p.proves, p.status = "ent", "secure"
                return p
        cover = self.cover(qname)
        if cover is not None:
            ce = self.closest_encloser(qname, cover)
            w = self.match(_wild(ce))
            if w is not None:
                types = w[2]
                if qtype in types or CNAME in types or (NS in types and SOA not in types):
                    p.reason = f"NSEC at the wildcard {_wild(ce)} lists {tname} (or CNAME/NS): the denial is false"
                    return p
                p.proves, p.status, p.closest_encloser = "wildcard-nodata", "secure", ce.to_text()
                return p
        p.reason = f"no NSEC matches {qname}, proves it an empty non-terminal, or denies {tname} at a wildcard"
        return p

    def nxdomain(self, qname: dns.name.Name, p: Proof) -> Proof:
        if self.match(qname) is not None:
            p.reason = f"an NSEC at {qname} proves that it exists: NXDOMAIN is false"
            return p
        cover = self.cover(qname)
        if cover is None:
            p.reason = f"no NSEC covers {qname}"
            return p
        ce = self.closest_encloser(qname, cover)
        if not ce.is_subdomain(self.zone):
            p.reason = f"the NSEC covering {qname} gives no closest encloser inside {self.zone}"
            return p
        wild = _wild(ce)
        p.closest_encloser = ce.to_text()
        if self.match(wild) is not None:
            p.reason = f"an NSEC at {wild} proves the wildcard exists: {qname} should have been synthesised from it"
            return p
        if self.cover(wild) is None:
            p.reason = f"no NSEC denies the wildcard {wild}"
            return p
        p.proves, p.status = "nxdomain", "secure"
        return p

    def positive_wildcard(self, qname: dns.name.Name, source: dns.name.Name) -> Proof:
        p = Proof(kind="nsec", closest_encloser=source.to_text())
        cover = self.cover(qname)
        if cover is None:
            p.reason = f"wildcard answer for {qname}: no NSEC proves that {qname} itself does not exist"
            return p
        ce = self.closest_encloser(qname, cover)
        if ce != source:
            p.reason = (f"wildcard answer for {qname} from *.{source}, but the NSEC shows {ce} as closest "
                        "encloser: a closer name exists, the wrong wildcard was used")
            return p
        p.proves, p.status = "wildcard", "secure"
        return p


# --- NSEC3 ---------------------------------------------------------------------------------------------------


class _Nsec3:
    def __init__(self, zone: dns.name.Name, table: list[tuple[str, str, Any]], params: dict[str, Any],
                 ignored: list[str]) -> None:
        self.zone = zone
        self.table = table  # (owner hash, next hash, rdata), one parameter set
        self.params = params
        self.ignored = ignored
        self._hashes: dict[dns.name.Name, str] = {}

    @classmethod
    def make(cls, rrsets: list[dns.rrset.RRset], zone: dns.name.Name) -> _Nsec3:
        ignored: list[str] = []
        table: list[tuple[str, str, Any]] = []
        params: dict[str, Any] | None = None
        for r in rrsets:
            if not len(r) or r.name.parent() != zone:
                ignored.append(f"NSEC3 {r.name} is not at the apex of {zone}")
                continue
            rd = r[0]
            if int(rd.algorithm) != NSEC3_SHA1:
                ignored.append(f"NSEC3 {r.name} uses unknown hash algorithm {int(rd.algorithm)} (RFC 5155 §8.1)")
                continue
            if int(rd.flags) not in (0, 1):
                ignored.append(f"NSEC3 {r.name} has unknown flags {int(rd.flags)} (RFC 5155 §8.2)")
                continue
            mine = {"algorithm": int(rd.algorithm), "iterations": int(rd.iterations), "salt": rd.salt.hex().upper(),
                    "opt_out": bool(rd.flags & 1)}
            if params is None:
                params = mine
            elif (mine["iterations"], mine["salt"]) != (params["iterations"], params["salt"]):
                ignored.append(f"NSEC3 {r.name} uses other parameters than the rest (RFC 5155 §8.2)")
                continue
            params["opt_out"] = params["opt_out"] or mine["opt_out"]
            table.append((r.name.labels[0].decode("ascii", "replace").upper(),
                          base64.b32hexencode(rd.next).decode().rstrip("=").upper(), rd))
        return cls(zone, table, params or {}, ignored)

    def h(self, name: dns.name.Name) -> str:
        found = self._hashes.get(name)
        if found is None:
            if len(self._hashes) >= MAX_NSEC3_HASHES:
                raise OverflowError("too many NSEC3 hashes for one proof")
            found = dns.dnssec.nsec3_hash(name, bytes.fromhex(self.params["salt"]), self.params["iterations"],
                                          NSEC3_SHA1).upper()
            self._hashes[name] = found
        return found

    def match(self, name: dns.name.Name) -> Any:
        hh = self.h(name)
        return next((rd for o, _n, rd in self.table if o == hh), None)

    def cover(self, name: dns.name.Name) -> Any:
        hh = self.h(name)
        for o, n, rd in self.table:
            if (o < hh < n) if o < n else (hh > o or hh < n):
                return rd
        return None

    def _base(self) -> Proof | None:
        """A proof that ends before looking at names: no usable record, or too many iterations."""
        p = Proof(kind="nsec3", nsec3=dict(self.params) if self.params else None)
        if not self.table:
            p.reason = "; ".join(self.ignored) or f"no usable NSEC3 record for {self.zone}"
            return p
        if self.params["iterations"] > NSEC3_MAX_ITERATIONS:
            p.status = "insecure"
            p.reason = (f"NSEC3 uses {self.params['iterations']} iterations (> {NSEC3_MAX_ITERATIONS}): treated as "
                        "insecure (RFC 9276 §3.2)")
            return p
        return None

    def closest_encloser(self, qname: dns.name.Name) -> tuple[dns.name.Name, dns.name.Name, Any] | str:
        """(closest encloser, next closer, NSEC3 covering the next closer), or why there is no proof."""
        for n in range(len(qname) - 1, len(self.zone) - 1, -1):
            ce = dns.name.Name(qname.labels[len(qname) - n :])
            rd = self.match(ce)
            if rd is None:
                continue
            types = types_of(rd)
            if DNAME in types or (NS in types and SOA not in types):
                return (f"the closest encloser {ce} of {qname} is a "
                        f"{'DNAME' if DNAME in types else 'delegation'}: the NSEC3 comes from above a cut "
                        "(RFC 5155 §8.3)")
            nc = _next_closer(qname, ce)
            cover = self.cover(nc)
            if cover is None:
                return f"closest encloser {ce} found, but no NSEC3 covers the next closer name {nc}"
            return ce, nc, cover
        return f"no NSEC3 closest-encloser proof for {qname}"

    def prove(self, qname: dns.name.Name, qtype: int, nxdomain: bool) -> Proof:
        if (base := self._base()) is not None:
            return base
        p = Proof(kind="nsec3", nsec3=dict(self.params))
        try:
            return self._prove(p, qname, qtype, nxdomain)
        except OverflowError as exc:
            p.reason = str(exc)
            return p

    def _prove(self, p: Proof, qname: dns.name.Name, qtype: int, nxdomain: bool) -> Proof:
        tname = _t(qtype)
        m = None if nxdomain else self.match(qname)
        if nxdomain and self.match(qname) is not None:
            p.reason = f"an NSEC3 matches {qname}: it exists, NXDOMAIN is false"
            return p
        if m is not None:  # §8.5 / §8.6 with a matching record
            return _judge_match(p, "NSEC3 for", types_of(m), qname, qtype, self.zone)
        ce_proof = self.closest_encloser(qname)
        if isinstance(ce_proof, str):
            p.reason = ce_proof if nxdomain or qtype == DS else f"no NSEC3 matches {qname} ({ce_proof})"
            return p
        ce, nc, nc_cover = ce_proof
        p.closest_encloser = ce.to_text()
        opt_out = bool(nc_cover.flags & 1)
        wild = _wild(ce)
        if nxdomain:  # §8.4
            if self.match(wild) is not None:
                p.reason = f"an NSEC3 matches the wildcard {wild}: {qname} should have been synthesised from it"
                return p
            if self.cover(wild) is None:
                p.reason = f"no NSEC3 denies the wildcard {wild}"
                return p
            p.proves, p.status = "nxdomain", "secure"
            if opt_out:
                p.status = "insecure"
                p.reason = (f"the next closer name {nc} lies in an opt-out span: an unsigned delegation may exist "
                            "there, so the NXDOMAIN is only insecure")
            return p
        if qtype == DS:  # §8.6: no matching record, the span must be opt-out
            if opt_out:
                p.proves, p.status = "opt-out", "secure"
                p.reason = f"{qname} lies in an opt-out span of {self.zone}: an unsigned delegation (RFC 5155 §8.6)"
            else:
                p.reason = f"no NSEC3 matches {qname} and the NSEC3 covering {nc} has no opt-out flag"
            return p
        w = self.match(wild)  # §8.7
        if w is not None:
            types = types_of(w)
            if qtype in types or CNAME in types or (NS in types and SOA not in types):
                p.reason = f"NSEC3 for the wildcard {wild} lists {tname} (or CNAME/NS): the denial is false"
                return p
            p.proves, p.status = "wildcard-nodata", "secure"
            return p
        if opt_out:
            p.proves, p.status = "opt-out", "insecure"
            p.reason = f"{qname} lies in an opt-out span of {self.zone}: data below an unsigned delegation is insecure"
            return p
        p.reason = f"no NSEC3 matches {qname} or the wildcard {wild}, and the span is not opt-out"
        return p

    def positive_wildcard(self, qname: dns.name.Name, source: dns.name.Name) -> Proof:
        if (base := self._base()) is not None:
            return base
        p = Proof(kind="nsec3", nsec3=dict(self.params), closest_encloser=source.to_text())
        nc = _next_closer(qname, source)
        try:
            covered = self.cover(nc) is not None
        except OverflowError as exc:
            p.reason = str(exc)
            return p
        if not covered:
            p.reason = (f"wildcard answer for {qname} from *.{source}: no NSEC3 covers the next closer name {nc}, "
                        "so a closer match may exist (RFC 5155 §8.8)")
            return p
        p.proves, p.status = "wildcard", "secure"
        return p
