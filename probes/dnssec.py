"""DNSSEC probe: the chain of trust from the root to the portal's A/AAAA, validated by netready itself.

Observations (ids start with "dnssec:<name>:"):
  chain                      zones from the root down (DS, DNSKEY, every RRSIG checked on its own), answers,
                             CDS/CDNSKEY of the portal's zones, every server's validation outcome, status
  denial:<zone>              a random non-existent name in the portal's zone and its NSEC/NSEC3 proof
  servers:<zone>             NS names at the parent and at the apex, glue, and each name's own addresses
  server:<zone>:<ns>:<addr>  one authoritative server over UDP and TCP: SOA serial, DNSKEY tags, signed?, EDNS;
                             and its own answers (DNSKEY, SOA, the portal's A/AAAA) validated
  caa                        CAA records, climbing the tree as RFC 8659 says
See docs/probes/dnssec.md for the JSON shape. Statuses: secure, insecure, bogus, indeterminate.
"""

from __future__ import annotations

import re
import secrets
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.dnssec
import dns.exception
import dns.flags
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS

from netready.model import Observation, ObservationTimer, ProbeSettings, Target, utc_now
from netready.probes.dns import parse_records, zone_name_servers
from netready.probes.dnssec_crypto import Budget, algorithm_problem, algorithm_self_test, key_digest
from netready.probes.dnssec_denial import Proof, prove, prove_wildcard_answer
from netready.probes.dnssec_validate import (
    INCEPTION_SKEW,
    Checker,
    choose_ds,
    ds_digest_matches,
    ds_info,
    iso,
    key_info,
    match_ds,
    owner_labels,
    unsupported_anchor_keys,
)
from netready.probes.dnssec_walk import Fetcher, Reply, Zone

PROBE = "dnssec"
MAX_CNAME_HOPS = 8
MAX_NAMES_PER_SERVER = 4  # names of the walk asked of every server of a zone (each: A and AAAA)
STATUS_ORDER = ("bogus", "indeterminate", "insecure", "secure")  # worst first

# IANA root zone KSKs (KSK-2017 and KSK-2024), from data.iana.org/root-anchors.
IANA_ROOT_DS = (
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
    ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\n"
)

_BIND_ANCHOR = re.compile(
    r'^\s*"?([^\s"]+)"?\s+(initial-ds|static-ds|initial-key|static-key)\s+(\d+)\s+(\d+)\s+(\d+)\s+"?([^";]+)"?\s*;',
    re.M,
)


def worst(statuses: list[str]) -> str:
    return min(statuses, key=STATUS_ORDER.index) if statuses else "indeterminate"


# --- trust anchor --------------------------------------------------------------------------------------------


@dataclass
class Anchor:
    source: str
    ds: list[DS] = field(default_factory=list)
    keys: list[DNSKEY] = field(default_factory=list)
    error: str | None = None


def load_anchor(path: str | None) -> Anchor:
    """DS/DNSKEY records for "." from a zone-file (or a BIND trust-anchors clause); IANA's when no file."""
    if path is None:
        text, source = IANA_ROOT_DS, "IANA root KSKs 20326, 38696 (built in)"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            return Anchor(source, error=f"cannot read trust anchor {path}: {exc}")
        if _BIND_ANCHOR.search(text):
            lines = []
            for owner, kind, a, b, c, data in _BIND_ANCHOR.findall(text):
                rtype = "DS" if kind.endswith("-ds") else "DNSKEY"
                lines.append(f"{owner if owner.endswith('.') else owner + '.'} IN {rtype} {a} {b} {c} {data}")
            text = "\n".join(lines) + "\n"
    anchor = Anchor(source)
    try:
        for owner, rd in parse_records(text):
            if owner != dns.name.root:
                continue
            if rd.rdtype == dns.rdatatype.DS:
                anchor.ds.append(rd)
            elif rd.rdtype == dns.rdatatype.DNSKEY:
                anchor.keys.append(rd)
    except (dns.exception.DNSException, ValueError) as exc:
        anchor.error = f"cannot parse trust anchor {source}: {exc}"
    if not anchor.error and not (anchor.ds or anchor.keys):
        anchor.error = f"no DS or DNSKEY record for the root in trust anchor {source}"
    return anchor


# --- response helpers ----------------------------------------------------------------------------------------


def _find(section: list[dns.rrset.RRset], name: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
    for rr in section:
        if rr.name == name and rr.rdtype == rdtype:
            return rr
    return None


def _sigs(section: list[dns.rrset.RRset], name: dns.name.Name, covered: int) -> dns.rrset.RRset | None:
    for rr in section:
        if rr.name == name and rr.rdtype == dns.rdatatype.RRSIG and rr.covers == covered:
            return rr
    return None


def _denial_rrsets(resp: Any) -> list[tuple[dns.rrset.RRset, dns.rrset.RRset | None]]:
    out = []
    for rr in resp.authority:
        if rr.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3):
            out.append((rr, _sigs(resp.authority, rr.name, rr.rdtype)))
    return out


def _dname_above(resp: Any, name: dns.name.Name) -> dns.rrset.RRset | None:
    """The DNAME RRset of the answer whose owner is a proper ancestor of name (RFC 6672 §2.2)."""
    for rr in resp.answer:
        if rr.rdtype == dns.rdatatype.DNAME and name != rr.name and name.is_subdomain(rr.name):
            return rr
    return None


def _proof_text(proof: Proof) -> str:
    kind = proof.kind.upper()
    if proof.nsec3:
        n3 = proof.nsec3
        opt = "yes" if n3["opt_out"] else "no"
        kind += f" (iterations {n3['iterations']}, salt {n3['salt'] or '-'}, opt-out {opt})"
    return f"{proof.proves} proven by {kind}" + (f": {proof.reason}" if proof.reason else "")


def _check_denial(
    checker: Checker, resp: Any, qname: dns.name.Name, qtype: int, zone: dns.name.Name, keys: list[DNSKEY]
) -> tuple[Proof, list[dict[str, Any]]]:
    """What the NSEC/NSEC3 records of a negative answer from a secure zone prove, using only the records
    whose signatures validate; and every signature check made."""
    sig_checks: list[dict[str, Any]] = []
    good: list[dns.rrset.RRset] = []
    bad: list[str] = []
    for rrset, sigs in _denial_rrsets(resp):
        chk = checker.rrset(rrset, sigs, zone, keys)
        sig_checks.extend(chk.sigs)
        if chk.ok:
            good.append(rrset)
        else:
            bad.append(chk.reason(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"))
    proof = prove(good, qname, qtype, zone, resp.rcode() == dns.rcode.NXDOMAIN)
    if proof.status == "bogus" and bad:
        proof.reason = f"{proof.reason}; records that did not validate: {'; '.join(dict.fromkeys(bad))}"
    return proof, sig_checks


# --- the chain -----------------------------------------------------------------------------------------------


@dataclass
class ZoneState:
    status: str
    reason: str
    keys: list[DNSKEY]  # the zone's DNSKEYs, usable for its data only when status is secure
    trusted: set[str] = field(default_factory=set)  # digests of the keys its DS (or the anchor) vouches for


def _zone_report(
    fetcher: Fetcher, checker: Checker, zone: Zone, parent: ZoneState | None, anchor: Anchor
) -> tuple[dict[str, Any], ZoneState]:
    """One zone of the chain: its keys, its DS set (the trust anchor's at the root), and whether the DS vouch for
    a key that signs the zone's DNSKEY RRset."""
    out: dict[str, Any] = {
        "zone": zone.name.to_text(),
        "parent": zone.parent.name.to_text() if zone.parent else None,
        "ns": zone.ns_names,
        "servers": zone.servers,
        "ds_source": "trust-anchor" if zone.parent is None else "parent",
        "ds": [],
        "ds_rcode": None,
        "ds_sigs": [],
        "ds_denial": None,
        "dnskeys": [],
        "dnskey_sigs": [],
        "anchor_keys": [],
        "status": "indeterminate",
        "reason": "",
        "errors": [],
    }
    keys, key_rrset, key_check = _zone_keys(fetcher, checker, zone, out)

    def done(status: str, reason: str, trusted: set[str] | None = None) -> tuple[dict[str, Any], ZoneState]:
        out["status"], out["reason"] = status, reason
        return out, ZoneState(status, reason, keys, trusted or set())

    if parent is not None and parent.status != "secure":
        if parent.status == "insecure":
            return done("insecure", f"below the insecure delegation of {zone.parent.name}")
        return done(parent.status, f"parent zone {zone.parent.name} is {parent.status}")
    ds_list, anchor_keys, stop = _ds_set(fetcher, checker, zone, parent, anchor, out)
    if stop is not None:
        return done(*stop)
    return done(*_key_verdict(zone, anchor, ds_list, anchor_keys, keys, key_rrset, key_check, out))


def _zone_keys(fetcher: Fetcher, checker: Checker, zone: Zone, out: dict[str, Any]) -> tuple[list[DNSKEY], Any, Any]:
    """The zone's DNSKEY RRset and the check of its signatures (always fetched: the picture and the algorithm rule
    want it even when the zone is insecure): (keys, rrset or None, check or None)."""
    name = zone.name
    keys: list[DNSKEY] = []
    key_rrset = key_sigs = None
    if zone.servers:
        kreply = fetcher.ask(zone.servers, name, dns.rdatatype.DNSKEY, zone=name).result()
        if kreply.response is not None:
            key_rrset = _find(kreply.response.answer, name, dns.rdatatype.DNSKEY)
            key_sigs = _sigs(kreply.response.answer, name, dns.rdatatype.DNSKEY)
            keys = list(key_rrset) if key_rrset else []
        else:
            out["errors"].append(f"DNSKEY {name}: {kreply.error}")
    else:
        out["errors"].append(zone.error or f"no server address for {name}")
    out["dnskeys"] = [key_info(name, k) for k in keys]
    key_check = checker.rrset(key_rrset, key_sigs, name, keys) if key_rrset is not None else None
    if key_check is not None:
        out["dnskey_sigs"] = key_check.sigs
    return keys, key_rrset, key_check


def _ds_set(fetcher: Fetcher, checker: Checker, zone: Zone, parent: ZoneState | None, anchor: Anchor,
            out: dict[str, Any]) -> tuple[list[DS], list[DNSKEY], tuple[str, str] | None]:
    """The DS set: the trust anchor's for the root, the parent's signed DS RRset otherwise. Returns (DS records,
    the anchor's usable keys, None), or a (status, reason) that ends the zone's validation here."""
    name = zone.name
    if zone.parent is None:
        if anchor.error:
            return [], [], ("indeterminate", anchor.error)
        out["anchor_keys"] = [key_info(name, k) for k in anchor.keys]
        return list(anchor.ds), [k for k in anchor.keys if algorithm_problem(int(k.algorithm)) is None], None
    assert parent is not None
    dreply = fetcher.ask(zone.parent.servers, name, dns.rdatatype.DS, zone=zone.parent.name).result()
    if dreply.response is None:
        out["errors"].append(f"DS {name} at {zone.parent.name}: {dreply.error}")
        return [], [], ("indeterminate", f"servers of {zone.parent.name} did not answer for DS {name}")
    resp = dreply.response
    out["ds_rcode"] = dns.rcode.to_text(resp.rcode())
    ds_rrset = _find(resp.answer, name, dns.rdatatype.DS)
    if ds_rrset is None:
        proof, sigs = _check_denial(checker, resp, name, dns.rdatatype.DS, zone.parent.name, parent.keys)
        out["ds_denial"], out["ds_sigs"] = proof.to_dict(), sigs
        if proof.status == "secure":
            return [], [], ("insecure", f"no DS for {name}: {_proof_text(proof)}")
        if proof.status == "insecure":
            return [], [], ("insecure", f"no DS for {name}: {proof.reason}")
        return [], [], ("bogus", f"no DS for {name} and no valid proof of its absence: {proof.reason}")
    chk = checker.rrset(ds_rrset, _sigs(resp.answer, name, dns.rdatatype.DS), zone.parent.name, parent.keys)
    out["ds_sigs"] = chk.sigs
    if not chk.ok:
        return [], [], ("bogus", chk.reason(f"DS {name}"))
    return list(ds_rrset), [], None


def _key_verdict(zone: Zone, anchor: Anchor, ds_list: list[DS], anchor_keys: list[DNSKEY], keys: list[DNSKEY],
                 key_rrset: Any, key_check: Any, out: dict[str, Any]) -> tuple[str, str, set[str] | None]:
    """Whether the usable DS (or anchor keys) vouch for a key that validly signs the DNSKEY RRset: (status,
    reason, digests of the trusted keys when secure)."""
    name = zone.name
    choice = choose_ds(ds_list)
    problems: list[str] = []
    trusted: list[DNSKEY] = [k for k in anchor_keys if k in keys]
    for i, d in enumerate(ds_list):
        info = ds_info(d)
        key, why = match_ds(name, d, keys)
        info["matches"] = dns.dnssec.key_id(key) if key is not None else None
        info["key"] = key_digest(key) if key is not None else None
        info["problem"] = choice.notes.get(i) or why
        info["used"] = d in choice.usable
        out["ds"].append(info)
        if d not in choice.usable:
            continue
        if key is not None:
            trusted.append(key)
        elif why:
            problems.append(why)
    if choice.unsupported_only and not anchor_keys:
        notes = "; ".join(choice.notes.values())
        return ("insecure", f"every DS for {name} uses an algorithm or digest this validator cannot use, so the zone "
                            f"is treated as unsigned (RFC 4035 §5.2, RFC 6840 §5.2): {notes}", None)
    if zone.parent is None and not ds_list and anchor.keys and not anchor_keys:
        return ("insecure", "every trust anchor key uses an algorithm this validator cannot use: "
                + "; ".join(unsupported_anchor_keys(anchor.keys)), None)
    if key_rrset is None:
        if out["errors"]:
            return "indeterminate", f"servers of {name} did not answer for DNSKEY", None
        return "bogus", f"DS exists for {name} but the zone has no DNSKEY", None
    if not trusted:
        return "bogus", "; ".join(problems) or f"no DNSKEY of {name} matches its DS", None
    digests = {key_digest(k) for k in trusted}
    tags = ", ".join(str(t) for t in sorted({dns.dnssec.key_id(k) for k in trusted}))
    assert key_check is not None
    if key_check.valid_by(digests):
        return "secure", f"DS {tags} → DNSKEY, self-signature valid", digests
    by_trusted = [s for s in key_check.sigs if s["key_tag"] in {dns.dnssec.key_id(k) for k in trusted}]
    algs = {int(k.algorithm) for k in trusted}
    if by_trusted and all(s.get("unsupported") for s in by_trusted) and all(algorithm_self_test(a) for a in algs):
        return ("insecure", "the keys the DS names use algorithms the local crypto library cannot verify: "
                + "; ".join(dict.fromkeys(s["reason"] for s in by_trusted)), None)
    if not by_trusted:
        return "bogus", f"DNSKEY RRset of {name} is not signed by the key(s) its DS names ({tags})", None
    if [s for s in by_trusted if s["valid"]]:  # a key with the DS's tag signed, but not the key the DS's digest names
        return ("bogus", f"DNSKEY RRset of {name} is signed by a key with tag {tags} that is not the key the DS "
                         "vouches for (same tag, other key)", None)
    return "bogus", "; ".join(dict.fromkeys(s["reason"] for s in by_trusted if s["reason"])), None


def _answer_report(
    checker: Checker,
    name: dns.name.Name,
    rdtype: int,
    zone: Zone,
    state: ZoneState | None,
    reply: Reply | None,
    err: str | None,
) -> tuple[dict[str, Any], dns.name.Name | None]:
    """One A/AAAA (or CNAME) answer judged against the state of its zone; also the CNAME target, if any."""
    out: dict[str, Any] = {
        "name": name.to_text(),
        "type": dns.rdatatype.to_text(rdtype),
        "zone": zone.name.to_text(),
        "server": reply.server if reply else None,
        "rcode": reply.rcode if reply else None,
        "records": [],
        "cname": None,
        "dname": None,
        "wildcard": False,
        "sigs": [],
        "denial": None,
        "status": "indeterminate",
        "reason": "",
        "error": err,
    }
    if reply is None or reply.response is None:
        out["reason"] = f"no answer for {name} {out['type']}: {err or (reply.error if reply else '')}"
        return out, None
    resp = reply.response
    rrset = _find(resp.answer, name, rdtype)
    cname = _find(resp.answer, name, dns.rdatatype.CNAME) if rrset is None else None
    dname = _dname_above(resp, name) if cname is not None else None
    target = cname[0].target if cname is not None else None
    shown = rrset if rrset is not None else cname
    if shown is not None:
        out["records"] = sorted(rd.to_text() for rd in shown)
        out["cname"] = target.to_text() if target is not None else None
    if dname is not None:
        out["dname"] = {"owner": dname.name.to_text(), "target": dname[0].target.to_text()}
    if state is None or state.status != "secure":
        if state is not None and state.keys:  # untrusted, but the signature dates still matter (BP-DNSSEC-SIGS)
            for rr in [dname or shown] if shown is not None else [r for r, _ in _denial_rrsets(resp)]:
                sigs = _sigs(resp.answer if shown is not None else resp.authority, rr.name, rr.rdtype)
                out["sigs"].extend(checker.rrset(rr, sigs, zone.name, state.keys).sigs)
        status = state.status if state else "indeterminate"
        out["status"] = status
        out["reason"] = f"zone {zone.name} is {status}" + (f": {state.reason}" if state and state.reason else "")
        return out, target
    if shown is None:
        proof, sigs = _check_denial(checker, resp, name, rdtype, zone.name, state.keys)
        out["denial"], out["sigs"] = proof.to_dict(), sigs
        out["status"] = proof.status
        if proof.status == "secure":
            out["reason"] = _proof_text(proof)
        else:
            out["reason"] = f"{out['rcode']} for {name} {out['type']}: {proof.reason}"
        return out, None
    if dname is not None and not _sigs(resp.answer, name, dns.rdatatype.CNAME):
        return _dname_report(checker, resp, out, name, cname, dname, zone, state), target
    sigs = _sigs(resp.answer, name, shown.rdtype)
    chk = checker.rrset(shown, sigs, zone.name, state.keys)
    out["sigs"] = chk.sigs
    what = out["type"] if rrset is not None else "CNAME"
    if not chk.ok:
        out["status"], out["reason"] = "bogus", chk.reason(f"{name} {what}")
        return out, target
    labels = max(s["labels"] for s in chk.sigs if s["valid"])
    if not name.is_wild() and labels < owner_labels(name):  # expanded from the wildcard *.<source>
        source = dns.name.Name(name.labels[len(name) - 1 - labels :])
        out["wildcard"] = True
        good, bad = [], []
        for r, s in _denial_rrsets(resp):
            dchk = checker.rrset(r, s, zone.name, state.keys)
            out["sigs"].extend(dchk.sigs)
            (good if dchk.ok else bad).append(r if dchk.ok else dchk.reason(f"{r.name}"))
        proof = prove_wildcard_answer(good, name, source, zone.name)
        out["denial"] = proof.to_dict()
        if proof.status != "secure":
            out["status"] = proof.status
            out["reason"] = proof.reason or "wildcard answer without proof"
            if bad:
                out["reason"] += f"; records that did not validate: {'; '.join(bad)}"
            return out, target
        out["status"], out["reason"] = "secure", f"{what} signed by {zone.name}, expanded from *.{source} (proven)"
        return out, target
    out["status"], out["reason"] = "secure", f"{what} signed by {zone.name}"
    return out, target


def _dname_report(checker: Checker, resp: Any, out: dict[str, Any], name: dns.name.Name, cname: dns.rrset.RRset,
                  dname: dns.rrset.RRset, zone: Zone, state: ZoneState) -> dict[str, Any]:
    """An unsigned CNAME synthesised from a DNAME (RFC 6672 §5.3.1): the DNAME must validate and the
    CNAME must be exactly what it synthesises (same owner, target = owner with the DNAME's owner suffix
    replaced by its target)."""
    chk = checker.rrset(dname, _sigs(resp.answer, dname.name, dns.rdatatype.DNAME), zone.name, state.keys)
    out["sigs"] = chk.sigs
    if not chk.ok:
        out["status"], out["reason"] = "bogus", chk.reason(f"{dname.name} DNAME")
        return out
    try:
        expected = name.relativize(dname.name).derelativize(dname[0].target)
    except dns.name.NameTooLong:
        out["status"], out["reason"] = "bogus", f"DNAME {dname.name} would synthesise a name too long for {name}"
        return out
    got = cname[0].target
    if len(cname) != 1 or got != expected:
        out["status"] = "bogus"
        out["reason"] = (f"CNAME {name} -> {got} does not follow from DNAME {dname.name} -> {dname[0].target} "
                         f"(it synthesises {expected}; RFC 6672 §5.3.1)")
        return out
    out["status"] = "secure"
    out["reason"] = f"CNAME synthesised from DNAME {dname.name} -> {dname[0].target}, signed by {zone.name}"
    return out


# --- per-server, denial, CDS and CAA jobs --------------------------------------------------------------------


def _server_transport(zone: dns.name.Name, soa_reply: tuple, key_reply: tuple, tcp: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"answered": False, "error": None}
    resp, _tcp, err, rtt = soa_reply
    if resp is None:
        out["error"] = f"SOA: {err}"
    else:
        soa = _find(resp.answer, zone, dns.rdatatype.SOA)
        out.update(
            answered=True,
            rcode=dns.rcode.to_text(resp.rcode()),
            aa=bool(resp.flags & dns.flags.AA),
            edns=resp.edns >= 0,
            edns_version=resp.edns if resp.edns >= 0 else None,
            truncated=bool(resp.flags & dns.flags.TC),
            serial=int(soa[0].serial) if soa else None,
            soa_signed=_sigs(resp.answer, zone, dns.rdatatype.SOA) is not None,
            rtt_ms=rtt,
        )
    resp, over_tcp, err, _rtt = key_reply
    if resp is None:
        out["dnskey_error"] = err
        out["dnskey_tags"] = None
        out["dnskey_truncated"] = bool(err and err.startswith("truncated over UDP"))
    else:
        keys = _find(resp.answer, zone, dns.rdatatype.DNSKEY)
        out["dnskey_rcode"] = dns.rcode.to_text(resp.rcode())
        # Over UDP a truncated DNSKEY answer was asked again over TCP (probes.dns.ask): the key set compared
        # is the full one, never the empty set of a truncated answer.
        out["dnskey_truncated"] = bool(resp.flags & dns.flags.TC) or (over_tcp and not tcp)
        out["dnskey_retried_tcp"] = over_tcp and not tcp
        out["dnskey_tags"] = sorted(dns.dnssec.key_id(k) for k in keys) if keys else []
        out["dnskey_signed"] = _sigs(resp.answer, zone, dns.rdatatype.DNSKEY) is not None
    return out


@dataclass
class _ServerRaw:
    """One server address's answers, kept until the zone's validation state is known."""

    obs: Observation
    dnskey: tuple | None  # query_once result over UDP (TCP after truncation)
    soa: tuple | None
    answers: dict[tuple[dns.name.Name, int], Future]  # (name, A|AAAA) -> query_once future


def _server_checks(fetcher: Fetcher, zone: dns.name.Name, servers: list[tuple[str, str]], target: str,
                   names: Future) -> list[_ServerRaw]:
    """Every (NS name, address) over UDP (TCP only when the UDP answer is truncated, which is recorded) and
    TCP, all in flight; then the portal's names in this zone (A, AAAA) from every address, to validate each
    server's own answers once the zone's keys are known."""
    t0 = time.perf_counter()
    started = utc_now()
    futs = {}
    for ns, addr in servers:
        for tcp in (False, True):
            futs[(ns, addr, tcp, dns.rdatatype.SOA)] = fetcher.server_soa(addr, zone, tcp)
            futs[(ns, addr, tcp, dns.rdatatype.DNSKEY)] = fetcher.raw(addr, zone, dns.rdatatype.DNSKEY, tcp,
                                                                      fallback=not tcp)
    wanted: list[dns.name.Name] = names.result()[:MAX_NAMES_PER_SERVER]
    answer_futs = {
        (ns, addr): {(n, t): fetcher.raw(addr, n, t, False, fallback=True)
                     for n in wanted for t in (dns.rdatatype.A, dns.rdatatype.AAAA)}
        for ns, addr in servers
    }
    out = []
    for ns, addr in servers:
        obs = Observation(
            id=f"dnssec:{target}:server:{zone.to_text()}:{ns}:{addr}",
            probe=PROBE,
            target=target,
            subject=f"{ns} {addr}",
            asked={"zone": zone.to_text(), "queries": ["SOA", "DNSKEY", "A", "AAAA"], "transports": ["udp", "tcp"],
                   "names": [n.to_text() for n in wanted]},
            started=started,
        )
        replies = {tcp: (futs[(ns, addr, tcp, dns.rdatatype.SOA)].result(),
                         futs[(ns, addr, tcp, dns.rdatatype.DNSKEY)].result()) for tcp in (False, True)}
        soa_udp = replies[False][0]
        if soa_udp[0] is not None and soa_udp[0].flags & dns.flags.TC:  # rare: the SOA answer did not fit
            replies[False] = (fetcher.raw(addr, zone, dns.rdatatype.SOA, True).result(), replies[False][1])
        res = {name: _server_transport(zone, *replies[tcp], tcp) for name, tcp in (("udp", False), ("tcp", True))}
        if soa_udp[0] is not None and soa_udp[0].flags & dns.flags.TC:
            res["udp"]["truncated"] = True
        obs.duration_ms = round((time.perf_counter() - t0) * 1000, 3)
        obs.data = {"zone": zone.to_text(), "ns": ns, "address": addr, "family": 6 if ":" in addr else 4, **res}
        if not res["udp"]["answered"] and not res["tcp"]["answered"]:
            obs.error = f"{ns} ({addr}) did not answer: UDP {res['udp']['error']}; TCP {res['tcp']['error']}"
        key_reply = replies[False][1] if replies[False][1][0] is not None else replies[True][1]
        soa_reply = replies[False][0] if replies[False][0][0] is not None else replies[True][0]
        out.append(_ServerRaw(obs, key_reply, soa_reply, answer_futs[(ns, addr)]))
    return out


def _servers_job(fetcher: Fetcher, zone: Zone, target: str, names: Future) -> tuple[Observation, list[_ServerRaw]]:
    summary = Observation(
        id=f"dnssec:{target}:servers:{zone.name.to_text()}",
        probe=PROBE,
        target=target,
        subject=zone.name.to_text(),
        asked={"zone": zone.name.to_text(), "query": "NS"},
    )
    with ObservationTimer(summary):
        # The zone's own NS list and the servers' addresses: the same lookups as the IPv6 probe's, done once
        # per target in a batch (probes.dns.zone_name_servers). Name servers only named at the parent are
        # looked up here, and the parent's glue is added: every address that may answer gets checked.
        child = zone_name_servers(zone.name.to_text(), fetcher.settings) if zone.servers else None
        ns_child = list(child.ns_names) if child is not None else []
        ns_parent = list(zone.ns_names)
        names_all = sorted(set(ns_child) | set(ns_parent))
        lookups = child.lookups if child is not None else {}
        looked_up = {n: [a for t in ("A", "AAAA") for a in r[t].records] for n, r in lookups.items()}
        found = fetcher.addresses_many([dns.name.from_text(n) for n in names_all if n not in looked_up])
        child_addresses = {n: sorted(set(looked_up.get(n) or found.get(dns.name.from_text(n), [])),
                                     key=lambda a: (":" in a, a)) for n in names_all}
        addresses = {
            n: sorted(set(child_addresses[n]) | set(zone.glue.get(n, [])), key=lambda a: (":" in a, a))
            for n in names_all
        }
        summary.data = {
            "zone": zone.name.to_text(),
            "ns_parent": ns_parent if zone.parent else [],
            "ns_child": ns_child,
            "ns_child_error": child.error if child is not None else None,
            "addresses": addresses,
            "child_addresses": child_addresses,
            "glue": zone.glue,
            "parent": zone.parent.name.to_text() if zone.parent else None,
        }
        if not names_all:
            summary.error = f"no NS record found for {zone.name}"
    pairs = [(n, a) for n, addrs in addresses.items() for a in addrs]
    return summary, _server_checks(fetcher, zone.name, pairs, target, names)


def _finish_server(raw: _ServerRaw, checker: Checker, zone: Zone, state: ZoneState | None,
                   seen: set[tuple]) -> Observation:
    """Validate what this one server answers (DNSKEY, SOA, the portal's A/AAAA) against the zone's trust:
    a stale secondary with expired signatures or an old key set is named, not hidden behind a good one."""
    obs = raw.obs
    checks: list[dict[str, Any]] = []
    sigs: list[dict[str, Any]] = []
    v: dict[str, Any] = {"status": "indeterminate", "reason": "", "checks": checks, "sigs": sigs}
    obs.data["validation"] = v
    if state is None or state.status != "secure":
        v["status"] = state.status if state else "indeterminate"
        v["reason"] = f"zone {zone.name} is {v['status']}: nothing to validate per server"
        return obs

    def add(what: str, status: str, reason: str, found: list[dict[str, Any]]) -> None:
        checks.append({"what": what, "status": status, "reason": reason})
        for s in found:  # the same signature as the chain's (or another server's) is not repeated
            key = (s["owner"], s["type"], s["key_tag"], s["expiration_ts"], s["valid"])
            if key not in seen:
                seen.add(key)
                sigs.append(s)

    name = zone.name
    resp = raw.dnskey[0] if raw.dnskey else None
    keys: list[DNSKEY] = []
    if resp is None:
        add("DNSKEY", "indeterminate", f"no answer: {raw.dnskey[2] if raw.dnskey else 'not asked'}", [])
    elif not resp.flags & dns.flags.AA:
        add("DNSKEY", "indeterminate", "answer not authoritative (lame)", [])
    else:
        krr = _find(resp.answer, name, dns.rdatatype.DNSKEY)
        keys = list(krr) if krr else []
        if krr is None:
            add("DNSKEY", "bogus", f"serves no DNSKEY RRset for the signed zone {name}", [])
        else:
            kchk = checker.rrset(krr, _sigs(resp.answer, name, dns.rdatatype.DNSKEY), name, keys)
            if kchk.valid_by(state.trusted):
                add("DNSKEY", "secure", "signed by the key the DS names", kchk.sigs)
            else:
                why = kchk.reason(f"DNSKEY {name}")
                if not any(s["key"] in state.trusted for s in kchk.sigs):
                    why = f"DNSKEY RRset not validly signed by the key the DS names ({why})"
                add("DNSKEY", "bogus", why, kchk.sigs)
    mine = ZoneState("secure", "", keys or state.keys, state.trusted)
    soa_resp = raw.soa[0] if raw.soa else None
    if soa_resp is not None and soa_resp.flags & dns.flags.AA:
        soa = _find(soa_resp.answer, name, dns.rdatatype.SOA)
        if soa is None:
            add("SOA", "bogus", "no SOA in the answer", [])
        else:
            chk = checker.rrset(soa, _sigs(soa_resp.answer, name, dns.rdatatype.SOA), name, mine.keys)
            add("SOA", "secure" if chk.ok else "bogus", "signed" if chk.ok else chk.reason(f"{name} SOA"), chk.sigs)
    for (qname, rdtype), fut in raw.answers.items():
        resp_t = fut.result()
        what = f"{qname.to_text()} {dns.rdatatype.to_text(rdtype)}"
        if resp_t[0] is None:
            add(what, "indeterminate", f"no answer: {resp_t[2]}", [])
            continue
        if not resp_t[0].flags & dns.flags.AA:
            add(what, "indeterminate", "answer not authoritative (lame)", [])
            continue
        rep, _ = _answer_report(checker, qname, rdtype, zone, mine, Reply(obs.data["address"], resp_t[0]), None)
        add(what, rep["status"], rep["reason"], rep["sigs"])
    statuses = [c["status"] for c in checks] or ["indeterminate"]
    v["status"] = worst([s for s in statuses if s != "indeterminate"] or statuses)
    bad = [c for c in checks if c["status"] == v["status"] and c["status"] != "secure"]
    v["reason"] = "; ".join(f"{c['what']}: {c['reason']}" for c in bad) or "every answer validates"
    return obs


def _cds_report(checker: Checker, zone: Zone, report: dict[str, Any], state: ZoneState | None,
                cds_f: Future, cdnskey_f: Future) -> dict[str, Any]:
    """CDS/CDNSKEY (RFC 7344, RFC 8078): what the zone asks its parent to hold, checked against its own
    DNSKEY set and the DS the parent holds now."""
    name = zone.name
    out: dict[str, Any] = {"cds": [], "cdnskey": [], "sigs": [], "delete": False, "problems": [],
                           "parent_should_hold": [], "parent_has": [], "matches_parent": None, "error": None,
                           "signed_by_ds_key": None}
    replies = {"CDS": cds_f.result(), "CDNSKEY": cdnskey_f.result()}
    errors = [f"{t}: {r.error}" for t, r in replies.items() if r.response is None]
    if errors:
        out["error"] = "; ".join(errors)
        return out
    cds = _find(replies["CDS"].response.answer, name, dns.rdatatype.CDS)
    cdnskey = _find(replies["CDNSKEY"].response.answer, name, dns.rdatatype.CDNSKEY)
    keys = state.keys if state else []
    out["parent_has"] = [f"{d['key_tag']} {d['algorithm']} {d['digest_type']} {d['digest']}" for d in report["ds"]]
    if cds is None and cdnskey is None:
        return out
    delete_cds = [d for d in cds or [] if int(d.algorithm) == 0]
    delete_key = [k for k in cdnskey or [] if int(k.algorithm) == 0]
    out["cds"] = [ds_info(d) for d in cds or []]
    out["cdnskey"] = [{"flags": int(k.flags), "algorithm": int(k.algorithm),
                       "key_tag": dns.dnssec.key_id(k) if int(k.algorithm) else 0} for k in cdnskey or []]
    out["delete"] = bool(delete_cds or delete_key)
    problems: list[str] = out["problems"]
    if (delete_cds and len(cds) > len(delete_cds)) or (delete_key and len(cdnskey) > len(delete_key)):
        problems.append("a delete request (algorithm 0) is mixed with other records (RFC 8078 §4)")
    if state is not None and state.status == "secure":
        for t, rr in (("CDS", cds), ("CDNSKEY", cdnskey)):
            if rr is None:
                continue
            chk = checker.rrset(rr, _sigs(replies[t].response.answer, name, rr.rdtype), name, keys)
            out["sigs"].extend(chk.sigs)
            by_ds = chk.valid_by(state.trusted)
            out["signed_by_ds_key"] = by_ds if out["signed_by_ds_key"] is None else out["signed_by_ds_key"] and by_ds
            if not by_ds:
                problems.append(f"{t} is not signed by a key the parent's DS names (RFC 7344 §4.1): "
                                f"{chk.reason(f'{name} {t}') if not chk.ok else 'signed by another key'}")
    if out["delete"]:
        return out
    dnskeys = {k.to_digestable(): k for k in keys}
    from_cds: list[DS] = []
    for d in cds or []:
        key = next((k for k in keys if ds_digest_matches(name, d, k)), None)
        if key is None:
            problems.append(f"CDS {d.key_tag} (digest {int(d.digest_type)}) matches no DNSKEY of {name}")
        from_cds.append(d)
    cdnskey_keys = []
    for k in cdnskey or []:
        wire = DNSKEY(k.rdclass, dns.rdatatype.DNSKEY, k.flags, k.protocol, k.algorithm, k.key).to_digestable()
        if wire not in dnskeys:
            problems.append(f"CDNSKEY {dns.dnssec.key_id(k)} is not in the DNSKEY set of {name}")
        else:
            cdnskey_keys.append(dnskeys[wire])
    if cds is not None and cdnskey is not None:
        by_cds = {key_digest(k) for d in cds for k in keys if ds_digest_matches(name, d, k)}
        if by_cds != {key_digest(k) for k in cdnskey_keys}:
            problems.append("CDS and CDNSKEY name different keys (RFC 7344 §4: they must agree)")
    should = [ds_info(d) for d in from_cds] if cds is not None else [
        ds_info(dns.dnssec.make_ds(name, k, "SHA256")) for k in cdnskey_keys]
    out["parent_should_hold"] = [f"{d['key_tag']} {d['algorithm']} {d['digest_type']} {d['digest']}" for d in should]
    out["matches_parent"] = sorted(out["parent_should_hold"]) == sorted(out["parent_has"])
    return out


def _denial_job(fetcher: Fetcher, zone: Zone, target: str) -> tuple[Observation, Any]:
    qname = dns.name.Name((f"nr-{secrets.token_hex(5)}".encode(),) + zone.name.labels)
    obs = Observation(
        id=f"dnssec:{target}:denial:{zone.name.to_text()}",
        probe=PROBE,
        target=target,
        subject=zone.name.to_text(),
        asked={"qname": qname.to_text(), "type": "A", "why": "a random name that should not exist"},
    )
    with ObservationTimer(obs):
        reply = (fetcher.ask(zone.servers, qname, dns.rdatatype.A, share=False, zone=zone.name).result()
                 if zone.servers else None)
    return obs, (qname, reply)


def _finish_denial(obs: Observation, qname: dns.name.Name, reply: Reply | None, zone: Zone,
                   state: ZoneState | None, checker: Checker) -> Observation:
    data: dict[str, Any] = {
        "zone": zone.name.to_text(),
        "qname": qname.to_text(),
        "rcode": None,
        "kind": "none",
        "proves": None,
        "nsec3": None,
        "sigs": [],
        "status": "indeterminate",
        "reason": "",
    }
    obs.data = data
    if reply is None or reply.response is None:
        obs.error = f"no answer for {qname}: {reply.error if reply else 'no server'}"
        data["reason"] = obs.error
        return obs
    resp = reply.response
    data["rcode"] = dns.rcode.to_text(resp.rcode())
    data["server"] = reply.server
    if resp.answer:
        data["reason"] = f"{qname} exists (wildcard?): {resp.rcode()} with {len(resp.answer)} answer RRset(s)"
    proven_state = state.status if state else "indeterminate"
    if proven_state != "secure":
        kinds = {dns.rdatatype.to_text(r.rdtype) for r, _ in _denial_rrsets(resp)}
        data["kind"] = "nsec3" if "NSEC3" in kinds else "nsec" if "NSEC" in kinds else "none"
        data["status"], data["reason"] = proven_state, f"zone {zone.name} is {proven_state}"
        if state is not None and state.keys:
            for rr, sigs in _denial_rrsets(resp):
                data["sigs"].extend(checker.rrset(rr, sigs, zone.name, state.keys).sigs)
            n3 = next((r[0] for r, _ in _denial_rrsets(resp) if r.rdtype == dns.rdatatype.NSEC3), None)
            if n3 is not None:
                data["nsec3"] = {
                    "algorithm": int(n3.algorithm),
                    "iterations": int(n3.iterations),
                    "salt": n3.salt.hex().upper(),
                    "opt_out": bool(n3.flags & 1),
                }
        return obs
    if resp.answer:  # a wildcard answers every name: the positive answer is validated like the portal's
        rep, _ = _answer_report(checker, qname, dns.rdatatype.A, zone, state, reply, None)
        data.update(kind=(rep["denial"] or {}).get("kind", "none"), proves="wildcard" if rep["wildcard"] else None,
                    nsec3=(rep["denial"] or {}).get("nsec3"), sigs=rep["sigs"], status=rep["status"],
                    reason=rep["reason"])
        return obs
    proof, sigs = _check_denial(checker, resp, qname, dns.rdatatype.A, zone.name, state.keys)
    data.update(kind=proof.kind, proves=proof.proves, nsec3=proof.nsec3, sigs=sigs)
    data["status"] = proof.status
    data["reason"] = _proof_text(proof) if proof.status == "secure" else (proof.reason or "no proof")
    return obs


def _caa_job(fetcher: Fetcher, name: dns.name.Name, target: str) -> Observation:
    obs = Observation(
        id=f"dnssec:{target}:caa",
        probe=PROBE,
        target=target,
        subject=name.to_text(),
        asked={"type": "CAA", "climb": "RFC 8659 §3"},
    )
    checked: list[dict[str, Any]] = []
    data: dict[str, Any] = {"checked": checked, "found_at": None, "records": []}
    with ObservationTimer(obs):
        current = name
        while current != dns.name.root:
            _zone, reply, err = fetcher.lookup(current, dns.rdatatype.CAA)
            if err or reply is None or reply.response is None:
                checked.append({"name": current.to_text(), "rcode": None, "error": err})
                obs.error = f"CAA {current}: {err}"
                break
            rr = _find(reply.response.answer, current, dns.rdatatype.CAA)
            checked.append({"name": current.to_text(), "rcode": reply.rcode, "count": len(rr) if rr else 0})
            if rr:
                data["found_at"] = current.to_text()
                data["records"] = sorted(rd.to_text() for rd in rr)
                break
            current = current.parent()
    obs.data = data
    return obs


# --- entry point ---------------------------------------------------------------------------------------------


def run(target: Target, settings: ProbeSettings) -> list[Observation]:
    name = target.ascii_name or target.name
    chain = Observation(
        id=f"dnssec:{name}:chain",
        probe=PROBE,
        target=name,
        subject=name,
        asked={
            "types": ["A", "AAAA"],
            "mode": "resolver" if settings.resolvers else "iterative",
            "resolvers": settings.resolvers,
            "root_hints": settings.root_hints,
            "trust_anchor": settings.trust_anchor,
        },
    )
    # Only an invalid name stops the walk. A name whose address lookup found nothing (target.error from
    # the scanner's resolution) is still walked: DNSSEC can prove that it does not exist, or say why not.
    if not target.ascii_name:
        chain.error = f"name not usable: {target.error or 'no ASCII name'}"
        return [chain]
    try:
        qname = dns.name.from_text(target.ascii_name)
    except dns.exception.DNSException as exc:
        chain.error = f"name not usable: {exc}"
        return [chain]
    try:
        fetcher = Fetcher(settings)
    except (OSError, ValueError) as exc:
        chain.error = str(exc)
        return [chain]
    fetcher.private = qname
    try:
        return _run(fetcher, qname, chain, settings)
    finally:
        fetcher.close()


Hop = tuple[dns.name.Name, Zone, dict[int, Future], bool]  # a name of the walk, its zone, its A/AAAA asks, exists


@dataclass
class _Walk:
    """The names from the portal's name through its CNAMEs, with the side jobs started per zone on the way."""

    names: list[dns.name.Name] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)
    side_jobs: dict[dns.name.Name, dict[str, Future]] = field(default_factory=dict)


def _side_jobs(fetcher: Fetcher, zone: Zone, target: str) -> dict[str, Future]:
    """Every server of the zone, its denial proofs, its CDS/CDNSKEY: started as soon as the walk meets the zone."""
    in_zone: Future = Future()  # the names of the walk in this zone, known once the walk ends
    return {
        "names": in_zone,
        "servers": fetcher.jobs.submit(_servers_job, fetcher, zone, target, in_zone),
        "denial": fetcher.jobs.submit(_denial_job, fetcher, zone, target),
        "cds": fetcher.ask(zone.servers, zone.name, dns.rdatatype.CDS, zone=zone.name),
        "cdnskey": fetcher.ask(zone.servers, zone.name, dns.rdatatype.CDNSKEY, zone=zone.name),
    }


def _walk(fetcher: Fetcher, qname: dns.name.Name, target: str) -> _Walk:
    walk = _Walk()
    current: dns.name.Name | None = qname
    while current is not None and len(walk.names) < MAX_CNAME_HOPS:
        if current in walk.names:
            walk.errors.append(f"CNAME loop at {current}")
            break
        walk.names.append(current)
        zone, err, exists = fetcher.find_zone(current)
        if err:
            walk.errors.append(err)
        if zone.name not in walk.side_jobs and zone.servers and not err:
            walk.side_jobs[zone.name] = _side_jobs(fetcher, zone, target)
        asks = (
            {}
            if err or not zone.servers
            else {t: fetcher.ask(zone.servers, current, t, zone=zone.name)
                  for t in (dns.rdatatype.A, dns.rdatatype.AAAA)}
        )
        walk.hops.append((current, zone, asks, exists))
        nxt = None
        for fut in asks.values():
            reply = fut.result()
            if reply.response is not None:
                cn = _find(reply.response.answer, current, dns.rdatatype.CNAME)
                if cn is not None:
                    nxt = cn[0].target
        current = nxt
    else:
        if current is not None:
            walk.errors.append(f"more than {MAX_CNAME_HOPS} CNAME hops")
    for zname, jobs in walk.side_jobs.items():
        jobs["names"].set_result([n for n, z, a, _e in walk.hops if z.name == zname and a])
    return walk


def _validate_zones(fetcher: Fetcher, checker: Checker, hops: list[Hop], anchor: Anchor,
                    ) -> tuple[dict[dns.name.Name, ZoneState], list[dict[str, Any]]]:
    """Top-down, every zone any hop used (a CNAME may lead into other zones): each zone's state and report."""
    zones_used: list[Zone] = []
    for _n, zone, _a, _e in hops:
        for z in fetcher.zone_chain(zone):
            if z not in zones_used:
                zones_used.append(z)
    states: dict[dns.name.Name, ZoneState] = {}
    zone_reports: list[dict[str, Any]] = []
    for z in zones_used:  # parents always come before children in this list
        parent_state = states.get(z.parent.name) if z.parent else None
        report, state = _zone_report(fetcher, checker, z, parent_state, anchor)
        states[z.name] = state
        zone_reports.append(report)
    return states, zone_reports


def _answers(checker: Checker, walk: _Walk, states: dict[dns.name.Name, ZoneState]) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    for hop_name, zone, asks, _exists in walk.hops:
        if not asks:
            err = next((e for e in walk.errors), None) or zone.error
            for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                rep, _ = _answer_report(checker, hop_name, t, zone, states.get(zone.name), None, err)
                answers.append(rep)
            continue
        for t, fut in asks.items():
            rep, _ = _answer_report(checker, hop_name, t, zone, states.get(zone.name), fut.result(), None)
            answers.append(rep)
    return answers


def _servers(fetcher: Fetcher, checker: Checker, walk: _Walk, states: dict[dns.name.Name, ZoneState],
             answers: list[dict[str, Any]], zone_reports: list[dict[str, Any]],
             ) -> tuple[list[Observation], list[dict[str, Any]]]:
    """Every authoritative server of the portal's zones, validated on its own answers; the denial proofs and CDS of
    each zone. Returns their observations and one line per server for the chain."""
    extra: list[Observation] = []
    server_results: list[dict[str, Any]] = []
    seen_sigs = {(s["owner"], s["type"], s["key_tag"], s["expiration_ts"], s["valid"])
                 for a in answers for s in a["sigs"]}
    seen_sigs |= {(s["owner"], s["type"], s["key_tag"], s["expiration_ts"], s["valid"])
                  for z in zone_reports for s in z["dnskey_sigs"]}
    by_zone = {r["zone"]: r for r in zone_reports}
    for zname, jobs in walk.side_jobs.items():
        zone = fetcher.zones[zname]
        summary, raws = jobs["servers"].result()
        extra.append(summary)
        for raw in raws:
            obs = _finish_server(raw, checker, zone, states.get(zname), seen_sigs)
            extra.append(obs)
            v = obs.data["validation"]
            bad = next((c for c in v["checks"] if c["status"] == v["status"]), None)
            server_results.append({"zone": zname.to_text(), "ns": obs.data["ns"], "address": obs.data["address"],
                                   "status": v["status"], "reason": v["reason"],
                                   "first": f"{bad['what']}: {bad['reason']}" if bad else v["reason"]})
        dobs, (dq, dreply) = jobs["denial"].result()
        extra.append(_finish_denial(dobs, dq, dreply, zone, states.get(zname), checker))
        if zname.to_text() in by_zone:
            by_zone[zname.to_text()]["cds"] = _cds_report(checker, zone, by_zone[zname.to_text()],
                                                           states.get(zname), jobs["cds"], jobs["cdnskey"])
    return extra, server_results


def _chain_status(answers: list[dict[str, Any]], walk_errors: list[str],
                  server_results: list[dict[str, Any]]) -> tuple[str, str]:
    """The chain's status and reason: the worst answer, indeterminate on a broken walk, bogus when a server of a
    secure zone serves data that does not validate."""
    statuses = [a["status"] for a in answers] or ["indeterminate"]
    if walk_errors and any("loop" in e or "hops" in e for e in walk_errors):
        statuses.append("indeterminate")
    status = worst(statuses)
    worst_answer = next((a for a in answers if a["status"] == status), None)
    reason = worst_answer["reason"] if worst_answer else "; ".join(walk_errors)
    if status == "indeterminate" and walk_errors:
        reason = "; ".join(walk_errors)
    bogus_servers = [s for s in server_results if s["status"] == "bogus"]
    if status == "secure" and bogus_servers:
        status = "bogus"
        by_ns: dict[str, list[dict[str, Any]]] = {}
        for s in bogus_servers:
            by_ns.setdefault(s["ns"], []).append(s)
        reason = "; ".join(
            f"{ns.rstrip('.')} ({', '.join(s['address'] for s in found)}) serves data that does not validate: "
            f"{found[0]['first']}" for ns, found in by_ns.items())
    return status, reason


def _run(fetcher: Fetcher, qname: dns.name.Name, chain: Observation, settings: ProbeSettings) -> list[Observation]:
    with ObservationTimer(chain):
        now = time.time()
        checker = Checker(now, Budget())
        anchor_f = fetcher.jobs.submit(load_anchor, settings.trust_anchor)
        caa_f = fetcher.jobs.submit(_caa_job, fetcher, qname, chain.target)
        walk = _walk(fetcher, qname, chain.target)
        anchor = anchor_f.result()
        states, zone_reports = _validate_zones(fetcher, checker, walk.hops, anchor)
        answers = _answers(checker, walk, states)
        extra, server_results = _servers(fetcher, checker, walk, states, answers, zone_reports)
        status, reason = _chain_status(answers, walk.errors, server_results)
        final = [a for a in answers if a["name"] == walk.names[-1].to_text()]
        exists = any(a["records"] for a in final) or any(a["rcode"] == "NOERROR" for a in final)
        chain.data = {
            "qname": qname.to_text(),
            "names": [n.to_text() for n in walk.names],
            "trust_anchor": {
                "source": anchor.source,
                "ds": [ds_info(d) for d in anchor.ds],
                "keys": [key_info(dns.name.root, k) for k in anchor.keys],
                "error": anchor.error,
            },
            "zones": zone_reports,
            "answers": answers,
            "servers": server_results,
            "status": status,
            "reason": reason,
            "exists": exists and not any(a["rcode"] == "NXDOMAIN" for a in final),
            "walk_errors": walk.errors,
            "validated_at": iso(now),
            "validated_at_ts": int(now),
            "inception_skew_s": INCEPTION_SKEW,
        }
        if status == "indeterminate":
            chain.error = reason
        extra.append(caa_f.result())
        chain.data["validation"] = checker.budget.to_dict()
    chain.data["queries"] = fetcher.queries
    chain.data["shared_answers"] = _shared_answers(fetcher)
    return [chain, *extra]


def _shared_answers(fetcher: Fetcher) -> list[dict[str, Any]]:
    """The answers this target took from the batch's run cache instead of asking: what, from whom, when."""
    out = []
    for qname, rdtype, fut in fetcher.shared:
        reply = fut.result() if fut.done() and fut.exception() is None else None
        if reply is None or reply.response is None:
            continue
        out.append({"qname": qname.to_text(), "type": dns.rdatatype.to_text(rdtype), "server": reply.server,
                    "rcode": reply.rcode, "fetched_at": reply.fetched_at})
    return out


def run_name(name: str, settings: ProbeSettings) -> list[Observation]:
    """Convenience for the CLI and benches: probe a user-given name (Unicode allowed) without a scanner."""
    from netready.probes.dns import NameError_, to_ascii

    try:
        ascii_name = to_ascii(name)
    except NameError_ as exc:
        return run(Target(name=name, ascii_name="", error=str(exc)), settings)
    return run(Target(name=name, ascii_name=ascii_name), settings)
