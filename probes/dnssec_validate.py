"""DNSSEC checks that need no network: DS/DNSKEY matching, one-signature-at-a-time validation, denial proofs.

Every function returns plain data with the real reason spelled out ("RRSIG by 12345 expired at ..."),
because the evaluators and the chain picture must say *why* something is bogus, not just that it is.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dns.dnssec
import dns.name
import dns.rdataset
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS
from dns.rdtypes.ANY.RRSIG import RRSIG

# Algorithms a validator may treat as signing (RFC 8624 "MUST NOT validate": 1 RSAMD5, 3 DSA, 6 DSA-NSEC3, 12 GOST).
UNSUPPORTED_ALGORITHMS = {1, 3, 6, 12}
UNSUPPORTED_DIGESTS = {3}  # GOST R 34.11-94: not implemented by dnspython nor by modern validators
NSEC3_MAX_ITERATIONS = 150  # RFC 9276 §3.2: validators may treat more iterations as insecure


def iso(ts: int | float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_bits(key: DNSKEY) -> int:
    """Public key size in bits (RSA modulus, or the curve size)."""
    alg = int(key.algorithm)
    if alg in (5, 7, 8, 10, 1):
        raw = key.key
        if not raw:
            return 0
        if raw[0] == 0:
            if len(raw) < 3:
                return 0
            (exp_len,) = struct.unpack("!H", raw[1:3])
            off = 3 + exp_len
        else:
            off = 1 + raw[0]
        return int.from_bytes(raw[off:], "big").bit_length()
    return {13: 256, 14: 384, 15: 256, 16: 456, 12: 256}.get(alg, len(key.key) * 8)


def key_info(zone: dns.name.Name, key: DNSKEY) -> dict[str, Any]:
    return {
        "key_tag": dns.dnssec.key_id(key),
        "flags": int(key.flags),
        "sep": bool(key.flags & 0x0001),
        "zone_key": bool(key.flags & 0x0100),
        "revoked": bool(key.flags & 0x0080),
        "algorithm": int(key.algorithm),
        "key_bits": key_bits(key),
    }


def ds_info(ds: DS) -> dict[str, Any]:
    return {
        "key_tag": int(ds.key_tag),
        "algorithm": int(ds.algorithm),
        "digest_type": int(ds.digest_type),
        "digest": ds.digest.hex().upper(),
    }


def match_ds(zone: dns.name.Name, ds: DS, keys: list[DNSKEY]) -> tuple[DNSKEY | None, str | None]:
    """The DNSKEY a DS points at (tag, algorithm and digest all equal), or why none does."""
    if int(ds.digest_type) in UNSUPPORTED_DIGESTS:
        return None, f"DS {ds.key_tag} uses unsupported digest type {ds.digest_type}"
    same_tag = [k for k in keys if dns.dnssec.key_id(k) == ds.key_tag and int(k.algorithm) == int(ds.algorithm)]
    if not same_tag:
        return None, f"no DNSKEY matches DS {ds.key_tag} (algorithm {int(ds.algorithm)})"
    for key in same_tag:
        try:
            made = dns.dnssec.make_ds(zone, key, int(ds.digest_type), policy=dns.dnssec.allow_all_policy)
        except (dns.dnssec.UnsupportedAlgorithm, ValueError) as exc:
            return None, f"DS {ds.key_tag}: {exc}"
        if made.digest == ds.digest:
            return key, None
    return None, f"DNSKEY {ds.key_tag} found but its digest does not match DS {ds.key_tag}"


def check_rrsig(
    rrset: dns.rrset.RRset,
    sig: RRSIG,
    zone: dns.name.Name,
    keys: list[DNSKEY],
    now: float,
) -> dict[str, Any]:
    """Validate one RRSIG on its own; the result says exactly what is wrong with it, if anything."""
    out: dict[str, Any] = {
        "owner": rrset.name.to_text(),
        "type": dns.rdatatype.to_text(rrset.rdtype),
        "signer": sig.signer.to_text(),
        "key_tag": int(sig.key_tag),
        "algorithm": int(sig.algorithm),
        "labels": int(sig.labels),
        "original_ttl": int(sig.original_ttl),
        "inception": iso(sig.inception),
        "expiration": iso(sig.expiration),
        "inception_ts": int(sig.inception),
        "expiration_ts": int(sig.expiration),
        "valid": False,
        "crypto_ok": None,
        "reason": None,
    }
    if sig.signer != zone:
        out["reason"] = f"RRSIG by {sig.key_tag} has signer {sig.signer} instead of zone {zone}"
        return out
    if int(sig.algorithm) in UNSUPPORTED_ALGORITHMS:
        out["reason"] = f"RRSIG by {sig.key_tag} uses algorithm {int(sig.algorithm)} that validators must not use"
        return out
    candidates = [k for k in keys if dns.dnssec.key_id(k) == sig.key_tag and int(k.algorithm) == int(sig.algorithm)]
    if not candidates:
        out["reason"] = f"RRSIG by {sig.key_tag}: no such DNSKEY in the trusted key set of {zone}"
        return out
    # Check the cryptography at a moment inside the validity window, so an expired signature still
    # tells whether it would otherwise verify.
    inside = sig.inception + 1 if sig.inception < sig.expiration else now
    keyset = dns.rdataset.Rdataset(keys[0].rdclass, dns.rdatatype.DNSKEY)
    for k in candidates:
        keyset.add(k)
    try:
        dns.dnssec.validate_rrsig(rrset, sig, {zone: keyset}, now=inside, policy=dns.dnssec.allow_all_policy)
        out["crypto_ok"] = True
    except dns.dnssec.UnsupportedAlgorithm:
        out["reason"] = f"RRSIG by {sig.key_tag}: algorithm {int(sig.algorithm)} not supported"
        return out
    except dns.dnssec.ValidationFailure:
        out["crypto_ok"] = False
        out["reason"] = f"RRSIG by {sig.key_tag} over {out['owner']} {out['type']}: signature does not verify"
        return out
    if sig.expiration < now:
        out["reason"] = f"RRSIG by {sig.key_tag} over {out['owner']} {out['type']} expired at {out['expiration']}"
        return out
    if sig.inception > now:
        out["reason"] = f"RRSIG by {sig.key_tag} over {out['owner']} {out['type']} not valid before {out['inception']}"
        return out
    out["valid"] = True
    return out


@dataclass
class SigCheck:
    """The signatures over one RRset: secure when at least one verifies with a trusted key."""

    sigs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return any(s["valid"] for s in self.sigs)

    def reason(self, what: str) -> str:
        if not self.sigs:
            return f"{what}: no RRSIG"
        return "; ".join(s["reason"] for s in self.sigs if s["reason"]) or f"{what}: no valid RRSIG"


def check_rrset(
    rrset: dns.rrset.RRset, sigs: dns.rrset.RRset | None, zone: dns.name.Name, keys: list[DNSKEY], now: float
) -> SigCheck:
    out = SigCheck()
    for sig in sigs or []:
        out.sigs.append(check_rrsig(rrset, sig, zone, keys, now))
    return out


# --- authenticated denial ---------------------------------------------------------------------------------


def _b32hex(raw: bytes) -> str:
    return base64.b32hexencode(raw).decode().rstrip("=").upper()


def _covers(owner: dns.name.Name, nxt: dns.name.Name, name: dns.name.Name) -> bool:
    """NSEC interval test in canonical order, with wrap-around at the zone end."""
    if owner < nxt:
        return owner < name < nxt
    return name > owner or name < nxt  # last NSEC of the zone points back to the apex


def _hash_covers(owner_hash: str, next_hash: str, h: str) -> bool:
    if owner_hash < next_hash:
        return owner_hash < h < next_hash
    return h > owner_hash or h < next_hash


def _types(rd: Any) -> set[int]:
    found: set[int] = set()
    for window, bitmap in rd.windows:
        for i, byte in enumerate(bitmap):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    found.add(window * 256 + i * 8 + bit)
    return found


@dataclass
class Denial:
    """What a set of NSEC/NSEC3 records proves about (qname, qtype)."""

    kind: str = "none"  # nsec | nsec3 | none
    proves: str | None = None  # nxdomain | nodata | no-ds | opt-out
    reason: str | None = None
    nsec3: dict[str, Any] | None = None  # iterations, salt, opt_out, algorithm

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "proves": self.proves, "reason": self.reason, "nsec3": self.nsec3}


def prove_denial(
    records: list[dns.rrset.RRset], qname: dns.name.Name, qtype: int, zone: dns.name.Name, nxdomain: bool
) -> Denial:
    """Check that the (already signature-checked) NSEC/NSEC3 RRsets prove the answer given.

    nxdomain: the server said the name does not exist; otherwise it said the type does not exist
    (for qtype DS this is the proof of an insecure delegation).
    """
    nsec = [r for r in records if r.rdtype == dns.rdatatype.NSEC]
    nsec3 = [r for r in records if r.rdtype == dns.rdatatype.NSEC3]
    if nsec:
        return _prove_nsec(nsec, qname, qtype, nxdomain)
    if nsec3:
        return _prove_nsec3(nsec3, qname, qtype, zone, nxdomain)
    return Denial(reason=f"no NSEC or NSEC3 record proves that {qname} {dns.rdatatype.to_text(qtype)} does not exist")


def _prove_nsec(rrsets: list[dns.rrset.RRset], qname: dns.name.Name, qtype: int, nxdomain: bool) -> Denial:
    d = Denial(kind="nsec")
    tname = dns.rdatatype.to_text(qtype)
    if not nxdomain:
        for r in rrsets:
            if r.name == qname:
                types = _types(r[0])
                if qtype in types or dns.rdatatype.CNAME in types:
                    d.reason = f"NSEC at {qname} lists type {tname}: the denial is false"
                    return d
                if qtype == dns.rdatatype.DS and dns.rdatatype.SOA in types:
                    d.reason = f"NSEC at {qname} comes from the child zone, not the parent"
                    return d
                d.proves = "no-ds" if qtype == dns.rdatatype.DS else "nodata"
                return d
        # NODATA for a name under a wildcard, or an empty non-terminal: a covering NSEC suffices here.
        for r in rrsets:
            if _covers(r.name, r[0].next, qname):
                d.proves = "nodata"
                return d
        d.reason = f"no NSEC matches or covers {qname}"
        return d
    cover = next((r for r in rrsets if _covers(r.name, r[0].next, qname)), None)
    if cover is None:
        d.reason = f"no NSEC covers {qname}"
        return d
    ce = max(_common(qname, cover.name), _common(qname, cover[0].next), key=len)
    wildcard = dns.name.Name((b"*",) + ce.labels)
    if not any(r.name == wildcard or _covers(r.name, r[0].next, wildcard) for r in rrsets):
        d.reason = f"no NSEC denies the wildcard {wildcard}"
        return d
    d.proves = "nxdomain"
    return d


def _common(a: dns.name.Name, b: dns.name.Name) -> dns.name.Name:
    n = 0
    for x, y in zip(reversed(a.labels), reversed(b.labels), strict=False):
        if x.lower() != y.lower():
            break
        n += 1
    return dns.name.Name(a.labels[len(a.labels) - n :])


def _prove_nsec3(
    rrsets: list[dns.rrset.RRset], qname: dns.name.Name, qtype: int, zone: dns.name.Name, nxdomain: bool
) -> Denial:
    first = rrsets[0][0]
    params = {
        "algorithm": int(first.algorithm),
        "iterations": int(first.iterations),
        "salt": first.salt.hex().upper(),
        "opt_out": bool(first.flags & 1),
    }
    d = Denial(kind="nsec3", nsec3=params)
    tname = dns.rdatatype.to_text(qtype)
    if params["iterations"] > NSEC3_MAX_ITERATIONS:
        d.reason = (
            f"NSEC3 uses {params['iterations']} iterations (> {NSEC3_MAX_ITERATIONS}): validators treat it as insecure"
        )
        return d
    table = [(r.name.labels[0].decode().upper(), _b32hex(r[0].next), r[0]) for r in rrsets if r.name.labels]

    def h(name: dns.name.Name) -> str:
        return dns.dnssec.nsec3_hash(name, first.salt, first.iterations, first.algorithm).upper()

    def match(name: dns.name.Name) -> Any:
        hh = h(name)
        return next((rd for o, _n, rd in table if o == hh), None)

    def cover(name: dns.name.Name) -> Any:
        hh = h(name)
        return next((rd for o, n, rd in table if _hash_covers(o, n, hh)), None)

    if not nxdomain:
        rd = match(qname)
        if rd is not None:
            types = _types(rd)
            if qtype in types or dns.rdatatype.CNAME in types:
                d.reason = f"NSEC3 for {qname} lists type {tname}: the denial is false"
                return d
            if qtype == dns.rdatatype.DS and dns.rdatatype.SOA in types:
                d.reason = f"NSEC3 for {qname} comes from the child zone, not the parent"
                return d
            d.proves = "no-ds" if qtype == dns.rdatatype.DS else "nodata"
            return d
        if qtype != dns.rdatatype.DS:
            d.reason = f"no NSEC3 matches {qname}"
            return d
    # Closest-encloser proof (RFC 5155 §8.3): an ancestor that matches, the next closer name covered.
    ce, next_closer = None, None
    name = qname
    while len(name) > len(zone):
        parent = name.parent()
        if match(parent) is not None:
            ce, next_closer = parent, name
            break
        name = parent
    if ce is None:
        d.reason = f"no NSEC3 closest-encloser proof for {qname}"
        return d
    nc_cover = cover(next_closer)
    if nc_cover is None:
        d.reason = f"no NSEC3 covers the next closer name {next_closer}"
        return d
    if not nxdomain:  # DS with no matching NSEC3: only an opt-out span may hide an unsigned delegation
        if nc_cover.flags & 1:
            d.proves = "opt-out"
            return d
        d.reason = f"no NSEC3 matches {qname} and the covering NSEC3 has no opt-out flag"
        return d
    wildcard = dns.name.Name((b"*",) + ce.labels)
    if cover(wildcard) is None:
        d.reason = f"no NSEC3 denies the wildcard {wildcard}"
        return d
    d.proves = "nxdomain"
    return d
