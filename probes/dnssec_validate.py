"""DNSSEC checks that need no network: keys, DS selection and matching, one-signature-at-a-time validation.

Every function returns plain data with the real reason spelled out ("RRSIG by 12345 expired at ..."),
because the evaluators and the chain picture must say *why* something is bogus, not just that it is.
Keys are told apart by identity (their RDATA), never by tag alone: a DS vouches for the key whose digest
it carries, and a signature counts as made by the key that verified it. Verification goes through
probes.dnssec_crypto (what can be verified, bounds per RRset and per target, a result cache).
Denial of existence is in probes.dnssec_denial.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS
from dns.rdtypes.ANY.RRSIG import RRSIG

from netready.probes.dnssec_crypto import (
    MAX_KEYS_PER_SIGNATURE,
    MAX_TRIES_PER_RRSET,
    Budget,
    algorithm_problem,
    algorithm_self_test,
    algorithm_text,
    digest_problem,
    digest_text,
    key_digest,
    key_refused,
    verify,
)

# A signer whose clock runs a little ahead (or ours a little behind) must not turn a zone bogus: an RRSIG
# whose inception is at most this many seconds in the future is accepted (Unbound allows far more).
INCEPTION_SKEW = 300
ZONE_KEY_FLAG = 0x0100  # RFC 4034 §2.1.1: only keys with this bit may sign zone data
REVOKE_FLAG = 0x0080  # RFC 5011: a revoked key signs nothing but its own DNSKEY RRset
SEP_FLAG = 0x0001


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
        "digest": key_digest(key),
        "flags": int(key.flags),
        "sep": bool(key.flags & SEP_FLAG),
        "zone_key": bool(key.flags & ZONE_KEY_FLAG),
        "revoked": bool(key.flags & REVOKE_FLAG),
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


def ds_digest_matches(owner: dns.name.Name, ds: DS, key: DNSKEY) -> bool:
    if dns.dnssec.key_id(key) != ds.key_tag or int(key.algorithm) != int(ds.algorithm):
        return False
    try:
        made = dns.dnssec.make_ds(owner, key, int(ds.digest_type), policy=dns.dnssec.allow_all_policy)
    except Exception:  # noqa: BLE001 - a digest type the library cannot compute matches nothing
        return False
    return made.digest == ds.digest


def match_ds(owner: dns.name.Name, ds: DS, keys: list[DNSKEY]) -> tuple[DNSKEY | None, str | None]:
    """The DNSKEY this DS vouches for: the one whose digest it carries (tag and algorithm equal is not
    enough: another key may share both). None and the reason when there is none or it may not be used."""
    same_tag = [k for k in keys if dns.dnssec.key_id(k) == ds.key_tag and int(k.algorithm) == int(ds.algorithm)]
    if not same_tag:
        return None, f"no DNSKEY matches DS {ds.key_tag} (algorithm {int(ds.algorithm)})"
    for key in same_tag:
        if ds_digest_matches(owner, ds, key):
            if not key.flags & ZONE_KEY_FLAG:
                return None, (f"DS {ds.key_tag} points at DNSKEY {ds.key_tag} (flags {int(key.flags)}), which lacks "
                              "the zone-key flag (RFC 4034 §2.1.1): it cannot sign the zone")
            if key.flags & REVOKE_FLAG:
                return None, f"DS {ds.key_tag} points at a revoked DNSKEY (RFC 5011)"
            return key, None
    return None, f"DNSKEY {ds.key_tag} found but its digest does not match DS {ds.key_tag}"


@dataclass
class DsChoice:
    """The DS records a validator uses, and what it made of the others."""

    usable: list[DS]
    notes: dict[int, str]  # index in the DS list -> why that DS is not used
    unsupported_only: bool  # every DS uses an algorithm or digest this machine cannot verify


def choose_ds(ds_list: list[DS]) -> DsChoice:
    """RFC 4035 §5.2 / RFC 6840 §5.2: DS records with an algorithm or digest type the validator cannot
    use are ignored (all of them unusable: the zone is insecure, not bogus). RFC 4509 §3: when a DS with
    a stronger digest than SHA-1 is present, SHA-1 DS records are ignored (no downgrade through SHA-1)."""
    notes: dict[int, str] = {}
    usable: list[tuple[int, DS]] = []
    for i, d in enumerate(ds_list):
        why = digest_problem(int(d.digest_type)) or algorithm_problem(int(d.algorithm))
        if why:
            notes[i] = f"DS {d.key_tag} ignored: {why}"
        else:
            usable.append((i, d))
    if any(int(d.digest_type) != 1 for _, d in usable):
        for i, d in usable:
            if int(d.digest_type) == 1:
                notes[i] = f"DS {d.key_tag} (SHA-1) ignored: a DS with a stronger digest is present (RFC 4509 §3)"
        usable = [(i, d) for i, d in usable if int(d.digest_type) != 1]
    return DsChoice([d for _, d in usable], notes, bool(ds_list) and not usable)


def unsupported_anchor_keys(keys: list[DNSKEY]) -> list[str]:
    return [f"trust anchor DNSKEY {dns.dnssec.key_id(k)}: {why}" for k in keys
            if (why := algorithm_problem(int(k.algorithm)))]


# --- signatures ----------------------------------------------------------------------------------------------


def signed_data(rrset: dns.rrset.RRset, sig: RRSIG) -> bytes:
    """The bytes an RRSIG signs (RFC 4034 §3.1.8.1): its RDATA without the signature, then every RR of the
    set in canonical form and order, with the original TTL; a wildcard expansion is signed as '*.<labels>'
    (RFC 4035 §5.3.2)."""
    out = struct.pack("!HBBIIIH", sig.type_covered, sig.algorithm, sig.labels, sig.original_ttl,
                      sig.expiration, sig.inception, sig.key_tag)
    out += sig.signer.canonicalize().to_wire()
    owner = rrset.name
    if owner.is_wild():
        owner_labels = len(owner) - 2
    else:
        owner_labels = len(owner) - 1
    if sig.labels < owner_labels:
        owner = dns.name.Name((b"*",) + owner.labels[len(owner) - 1 - sig.labels :])
    head = owner.canonicalize().to_wire() + struct.pack("!HHI", rrset.rdtype, rrset.rdclass, sig.original_ttl)
    for rdata in sorted({rd.to_digestable() for rd in rrset}):
        out += head + struct.pack("!H", len(rdata)) + rdata
    return out


def owner_labels(name: dns.name.Name) -> int:
    """Labels of an owner name as RRSIG counts them (no root, no leading '*')."""
    return len(name) - (2 if name.is_wild() else 1)


class Checker:
    """Validates signatures for one target: its clock (`now`) and its verification budget."""

    def __init__(self, now: float, budget: Budget | None = None) -> None:
        self.now = now
        self.budget = budget or Budget()
        self._tags: dict[int, tuple[list[DNSKEY], dict[int, list[DNSKEY]]]] = {}

    def _by_tag(self, keys: list[DNSKEY]) -> dict[int, list[DNSKEY]]:
        """Keys by tag, computed once per key list (a hostile set of hundreds of keys is walked once, not
        once per signature)."""
        found = self._tags.get(id(keys))
        if found is None or found[0] is not keys:
            index: dict[int, list[DNSKEY]] = {}
            for k in keys:
                index.setdefault(dns.dnssec.key_id(k), []).append(k)
            found = (keys, index)
            self._tags[id(keys)] = found
        return found[1]

    def rrsig(self, rrset: dns.rrset.RRset, sig: RRSIG, zone: dns.name.Name, keys: list[DNSKEY],
              tries: list[int]) -> dict[str, Any]:
        """Validate one RRSIG on its own; the result says exactly what is wrong with it, if anything.
        `tries` counts the verifications spent on this RRset (shared by its signatures)."""
        now = self.now
        out: dict[str, Any] = {
            "owner": rrset.name.to_text(),
            "type": dns.rdatatype.to_text(rrset.rdtype),
            "signer": sig.signer.to_text(),
            "key_tag": int(sig.key_tag),
            "key": None,  # digest of the key that verified it
            "algorithm": int(sig.algorithm),
            "labels": int(sig.labels),
            "original_ttl": int(sig.original_ttl),
            "ttl": int(rrset.ttl),
            "inception": iso(sig.inception),
            "expiration": iso(sig.expiration),
            "inception_ts": int(sig.inception),
            "expiration_ts": int(sig.expiration),
            "valid": False,
            "crypto_ok": None,
            "reason": None,
            "notes": [],
        }
        by = f"RRSIG by {sig.key_tag}"
        what = f"{out['owner']} {out['type']}"
        if sig.signer != zone or not rrset.name.is_subdomain(sig.signer):
            out["reason"] = f"{by} has signer {sig.signer} instead of zone {zone}"
            return out
        if sig.labels > owner_labels(rrset.name):
            out["reason"] = f"{by} over {what}: labels field {sig.labels} exceeds the owner's labels"
            return out
        if (why := algorithm_problem(int(sig.algorithm))) is not None:
            out["reason"] = f"{by}: {why}"
            out["unsupported"] = True
            return out
        if tries[0] >= MAX_TRIES_PER_RRSET:  # the RRset's checks are spent: the other signatures are not looked at
            out["reason"] = (f"{by} over {what}: not checked: at most {MAX_TRIES_PER_RRSET} signature checks "
                             "per RRset (KeyTrap guard)")
            return out
        same_tag = [k for k in self._by_tag(keys).get(int(sig.key_tag), [])
                    if int(k.algorithm) == int(sig.algorithm)]
        if not same_tag:
            out["reason"] = f"{by}: no such DNSKEY in the trusted key set of {zone}"
            return out
        usable = [k for k in same_tag if k.flags & ZONE_KEY_FLAG
                  and (not k.flags & REVOKE_FLAG or rrset.rdtype == dns.rdatatype.DNSKEY)]
        if not usable:
            k = same_tag[0]
            out["reason"] = (f"{by}: DNSKEY {sig.key_tag} (flags {int(k.flags)}) "
                             + ("lacks the zone-key flag (RFC 4034 §2.1.1): it cannot sign zone data"
                                if not k.flags & ZONE_KEY_FLAG else "is revoked (RFC 5011)"))
            return out
        if self.budget.exhausted:  # nothing more is verified for this target: do not even build the data
            self.budget.note_refused()
            out["reason"] = (f"{by} over {what}: not checked: validation budget of {self.budget.limit} signature "
                             "checks for this target used up (KeyTrap guard)")
            return out
        data = signed_data(rrset, sig)
        refusals: list[str] = []
        for key in usable[:MAX_KEYS_PER_SIGNATURE]:
            if (why := key_refused(key)) is not None:  # costs nothing: not counted
                refusals.append(why)
                continue
            if tries[0] >= MAX_TRIES_PER_RRSET:
                refusals.append(f"at most {MAX_TRIES_PER_RRSET} signature checks per RRset (KeyTrap guard)")
                break
            tries[0] += 1
            ok, why = verify(data, sig.signature, key, self.budget)
            if ok:
                out["crypto_ok"] = True
                out["key"] = key_digest(key)
                break
            if ok is False:
                out["crypto_ok"] = False
            elif why:
                refusals.append(why)
        if out["crypto_ok"] is not True:
            if len(usable) > MAX_KEYS_PER_SIGNATURE and not refusals:
                refusals.append(f"{len(usable)} keys share tag {sig.key_tag}: only {MAX_KEYS_PER_SIGNATURE} "
                                "tried (KeyTrap guard)")
            if out["crypto_ok"] is False:
                out["reason"] = f"{by} over {what}: signature does not verify"
                if refusals:
                    out["reason"] += f" ({'; '.join(dict.fromkeys(refusals))})"
                elif (why := algorithm_self_test(int(sig.algorithm))) is not None:
                    out["reason"], out["unsupported"] = f"{by}: {why}", True
            else:
                out["reason"] = f"{by} over {what}: not checked: {'; '.join(dict.fromkeys(refusals))}"
            return out
        if rrset.ttl > sig.original_ttl:
            out["notes"].append(f"TTL {rrset.ttl} of {what} exceeds the RRSIG original TTL {sig.original_ttl} "
                                "(RFC 4035 §5.3.3: validators cap it)")
        if sig.expiration < now:
            out["reason"] = f"{by} over {what} expired at {out['expiration']}"
            return out
        if sig.inception > now + INCEPTION_SKEW:
            out["reason"] = f"{by} over {what} not valid before {out['inception']}"
            return out
        if sig.inception > now:
            out["notes"].append(f"{by} over {what} starts {int(sig.inception - now)} s in the future: accepted "
                                f"within the {INCEPTION_SKEW} s clock-skew allowance")
        out["valid"] = True
        return out

    def rrset(self, rrset: dns.rrset.RRset, sigs: dns.rrset.RRset | None, zone: dns.name.Name,
              keys: list[DNSKEY]) -> SigCheck:
        out = SigCheck()
        tries = [0]
        for sig in sigs or []:
            out.sigs.append(self.rrsig(rrset, sig, zone, keys, tries))
        return out


@dataclass
class SigCheck:
    """The signatures over one RRset: secure when at least one verifies with a trusted key."""

    sigs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return any(s["valid"] for s in self.sigs)

    def valid_by(self, digests: set[str]) -> bool:
        """A valid signature made by one of these keys (by identity)."""
        return any(s["valid"] and s["key"] in digests for s in self.sigs)

    @property
    def unsupported(self) -> bool:
        """Every signature uses an algorithm this machine cannot verify."""
        return bool(self.sigs) and all(s.get("unsupported") for s in self.sigs)

    def reason(self, what: str) -> str:
        if not self.sigs:
            return f"{what}: no RRSIG"
        return "; ".join(dict.fromkeys(s["reason"] for s in self.sigs if s["reason"])) or f"{what}: no valid RRSIG"


__all__ = [
    "Checker",
    "DsChoice",
    "SigCheck",
    "algorithm_text",
    "choose_ds",
    "digest_text",
    "ds_info",
    "iso",
    "key_bits",
    "key_info",
    "match_ds",
    "signed_data",
    "unsupported_anchor_keys",
]
