"""DNSSEC probe: the chain of trust from the root to the portal's A/AAAA, validated by netready itself.

Observations (ids start with "dnssec:<name>:"):
  chain                      zones from the root down (DS, DNSKEY, every RRSIG checked on its own), answers, status
  denial:<zone>              a random non-existent name in the portal's zone and its NSEC/NSEC3 proof
  servers:<zone>             NS names at the parent and at the apex, and their addresses
  server:<zone>:<ns>:<addr>  one authoritative server over UDP and TCP: SOA serial, DNSKEY tags, signed?, EDNS
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
from probes.dns import parse_records, zone_name_servers
from probes.dnssec_validate import (
    UNSUPPORTED_ALGORITHMS,
    UNSUPPORTED_DIGESTS,
    check_rrset,
    ds_info,
    iso,
    key_info,
    match_ds,
    prove_denial,
)
from probes.dnssec_walk import Fetcher, Reply, Zone

PROBE = "dnssec"
MAX_CNAME_HOPS = 8
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


def _check_denial(
    resp: Any, qname: dns.name.Name, qtype: int, zone: dns.name.Name, keys: list[DNSKEY], now: float
) -> tuple[bool, str, dict[str, Any], list[dict[str, Any]]]:
    """(proven, reason, denial dict, signature checks) for an NXDOMAIN/NODATA reply from a secure zone."""
    pairs = _denial_rrsets(resp)
    sig_checks: list[dict[str, Any]] = []
    bad: list[str] = []
    for rrset, sigs in pairs:
        chk = check_rrset(rrset, sigs, zone, keys, now)
        sig_checks.extend(chk.sigs)
        if not chk.ok:
            bad.append(chk.reason(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"))
    nxdomain = resp.rcode() == dns.rcode.NXDOMAIN
    denial = prove_denial([r for r, _ in pairs], qname, qtype, zone, nxdomain)
    d = denial.to_dict()
    if bad:
        return False, "; ".join(bad), d, sig_checks
    if denial.proves is None:
        return False, denial.reason or "no proof", d, sig_checks
    kind = denial.kind.upper()
    if denial.nsec3:
        n3 = denial.nsec3
        kind += (
            f" (iterations {n3['iterations']}, salt {n3['salt'] or '-'}, opt-out {'yes' if n3['opt_out'] else 'no'})"
        )
    return True, f"{denial.proves} proven by {kind}", d, sig_checks


# --- the chain -----------------------------------------------------------------------------------------------


@dataclass
class ZoneState:
    status: str
    reason: str
    keys: list[DNSKEY]  # the zone's DNSKEYs, usable for its data only when status is secure


def _zone_report(
    fetcher: Fetcher, zone: Zone, parent: ZoneState | None, anchor: Anchor, now: float
) -> tuple[dict[str, Any], ZoneState]:
    name = zone.name
    out: dict[str, Any] = {
        "zone": name.to_text(),
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

    def done(status: str, reason: str, keys: list[DNSKEY]) -> tuple[dict[str, Any], ZoneState]:
        out["status"], out["reason"] = status, reason
        return out, ZoneState(status, reason, keys)

    # DNSKEY at the zone (always fetched: the picture and the algorithm rule want it even when insecure).
    keys: list[DNSKEY] = []
    key_rrset = key_sigs = None
    if zone.servers:
        kreply = fetcher.ask(zone.servers, name, dns.rdatatype.DNSKEY).result()
        if kreply.response is not None:
            key_rrset = _find(kreply.response.answer, name, dns.rdatatype.DNSKEY)
            key_sigs = _sigs(kreply.response.answer, name, dns.rdatatype.DNSKEY)
            keys = list(key_rrset) if key_rrset else []
        else:
            out["errors"].append(f"DNSKEY {name}: {kreply.error}")
    else:
        out["errors"].append(zone.error or f"no server address for {name}")
    out["dnskeys"] = [key_info(name, k) for k in keys]
    if key_rrset is not None:
        out["dnskey_sigs"] = check_rrset(key_rrset, key_sigs, name, keys, now).sigs

    if parent is not None and parent.status != "secure":
        if parent.status == "insecure":
            return done("insecure", f"below the insecure delegation of {zone.parent.name}", keys)
        return done(parent.status, f"parent zone {zone.parent.name} is {parent.status}", keys)

    # The DS set: the trust anchor for the root, the parent's signed DS RRset otherwise.
    trusted: list[DNSKEY] = []
    if zone.parent is None:
        if anchor.error:
            return done("indeterminate", anchor.error, keys)
        ds_list = list(anchor.ds)
        out["anchor_keys"] = [key_info(name, k) for k in anchor.keys]
        trusted.extend(k for k in anchor.keys if k in keys)
    else:
        dreply = fetcher.ask(zone.parent.servers, name, dns.rdatatype.DS).result()
        if dreply.response is None:
            out["errors"].append(f"DS {name} at {zone.parent.name}: {dreply.error}")
            return done("indeterminate", f"servers of {zone.parent.name} did not answer for DS {name}", keys)
        resp = dreply.response
        out["ds_rcode"] = dns.rcode.to_text(resp.rcode())
        ds_rrset = _find(resp.answer, name, dns.rdatatype.DS)
        if ds_rrset is None:
            proven, why, denial, sigs = _check_denial(resp, name, dns.rdatatype.DS, zone.parent.name, parent.keys, now)
            out["ds_denial"], out["ds_sigs"] = denial, sigs
            if proven:
                return done("insecure", f"no DS for {name}: {why}", keys)
            return done("bogus", f"no DS for {name} and no valid proof of its absence: {why}", keys)
        chk = check_rrset(ds_rrset, _sigs(resp.answer, name, dns.rdatatype.DS), zone.parent.name, parent.keys, now)
        out["ds_sigs"] = chk.sigs
        if not chk.ok:
            return done("bogus", chk.reason(f"DS {name}"), keys)
        ds_list = list(ds_rrset)

    usable = [
        d
        for d in ds_list
        if int(d.algorithm) not in UNSUPPORTED_ALGORITHMS and int(d.digest_type) not in UNSUPPORTED_DIGESTS
    ]
    problems: list[str] = []
    for d in ds_list:
        info = ds_info(d)
        key, why = match_ds(name, d, keys)
        info["matches"] = dns.dnssec.key_id(key) if key is not None else None
        info["problem"] = why
        out["ds"].append(info)
        if key is not None and d in usable:
            trusted.append(key)
        elif why:
            problems.append(why)
    if ds_list and not usable and not anchor.keys:
        return done("insecure", f"every DS for {name} uses an algorithm or digest validators must not use", keys)
    if key_rrset is None:
        if out["errors"]:
            return done("indeterminate", f"servers of {name} did not answer for DNSKEY", keys)
        return done("bogus", f"DS exists for {name} but the zone has no DNSKEY", keys)
    if not trusted:
        return done("bogus", "; ".join(problems) or f"no DNSKEY of {name} matches its DS", keys)
    trusted_tags = {dns.dnssec.key_id(k) for k in trusted}
    good = [s for s in out["dnskey_sigs"] if s["valid"] and s["key_tag"] in trusted_tags]
    if not good:
        by_trusted = [s for s in out["dnskey_sigs"] if s["key_tag"] in trusted_tags]
        if not by_trusted:
            tags = ", ".join(str(t) for t in sorted(trusted_tags))
            return done("bogus", f"DNSKEY RRset of {name} is not signed by the key(s) its DS names ({tags})", keys)
        return done("bogus", "; ".join(s["reason"] for s in by_trusted if s["reason"]), keys)
    return done("secure", f"DS {', '.join(str(t) for t in sorted(trusted_tags))} → DNSKEY, self-signature valid", keys)


def _answer_report(
    name: dns.name.Name,
    rdtype: int,
    zone: Zone,
    state: ZoneState | None,
    reply: Reply | None,
    err: str | None,
    now: float,
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
    target = cname[0].target if cname is not None else None
    shown = rrset if rrset is not None else cname
    if shown is not None:
        out["records"] = sorted(rd.to_text() for rd in shown)
        out["cname"] = target.to_text() if target is not None else None
    if state is None or state.status != "secure":
        if state is not None and state.keys:  # untrusted, but the signature dates still matter (BP-DNSSEC-SIGS)
            for rr in [shown] if shown is not None else [r for r, _ in _denial_rrsets(resp)]:
                sigs = _sigs(resp.answer if shown is not None else resp.authority, rr.name, rr.rdtype)
                out["sigs"].extend(check_rrset(rr, sigs, zone.name, state.keys, now).sigs)
        status = state.status if state else "indeterminate"
        out["status"] = status
        out["reason"] = f"zone {zone.name} is {status}" + (f": {state.reason}" if state and state.reason else "")
        return out, target
    if shown is not None:
        sigs = _sigs(resp.answer, name, shown.rdtype)
        chk = check_rrset(shown, sigs, zone.name, state.keys, now)
        out["sigs"] = chk.sigs
        if not chk.ok:
            out["status"], out["reason"] = "bogus", chk.reason(f"{name} {dns.rdatatype.to_text(shown.rdtype)}")
            return out, target
        labels = min((s["labels"] for s in chk.sigs if s["valid"]), default=len(name) - 1)
        if labels < len(name) - 1:  # wildcard expansion: the exact name must be denied
            out["wildcard"] = True
            pairs = _denial_rrsets(resp)
            dchk = [check_rrset(r, s, zone.name, state.keys, now) for r, s in pairs]
            out["sigs"].extend(s for c in dchk for s in c.sigs)
            if not pairs or not all(c.ok for c in dchk):
                out["status"], out["reason"] = "bogus", f"wildcard answer for {name} without a valid NSEC/NSEC3 proof"
                return out, target
        out["status"], out["reason"] = (
            "secure",
            f"{out['type'] if rrset is not None else 'CNAME'} signed by {zone.name}",
        )
        return out, target
    proven, why, denial, sigs = _check_denial(resp, name, rdtype, zone.name, state.keys, now)
    out["denial"], out["sigs"] = denial, sigs
    out["status"] = "secure" if proven else "bogus"
    out["reason"] = why if proven else f"{out['rcode']} for {name} {out['type']} not proven: {why}"
    return out, None


# --- per-server, denial and CAA jobs -------------------------------------------------------------------------


def _server_transport(addr: str, zone: dns.name.Name, soa_reply: tuple, key_reply: tuple) -> dict[str, Any]:
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
    resp, _tcp, err, _rtt = key_reply
    if resp is None:
        out["dnskey_error"] = err
        out["dnskey_tags"] = None
    else:
        keys = _find(resp.answer, zone, dns.rdatatype.DNSKEY)
        out["dnskey_rcode"] = dns.rcode.to_text(resp.rcode())
        out["dnskey_truncated"] = bool(resp.flags & dns.flags.TC)
        out["dnskey_tags"] = sorted(dns.dnssec.key_id(k) for k in keys) if keys else []
        out["dnskey_signed"] = _sigs(resp.answer, zone, dns.rdatatype.DNSKEY) is not None
    return out


def _server_checks(fetcher: Fetcher, zone: dns.name.Name, servers: list[tuple[str, str]], target: str) -> list:
    """Every (NS name, address) over UDP (no TCP fallback: we want to see truncation) and TCP, all in flight."""
    t0 = time.perf_counter()
    started = utc_now()
    futs = {
        (ns, addr, tcp, rdtype): fetcher.server_soa(addr, zone, tcp)
        if rdtype == dns.rdatatype.SOA
        else fetcher.raw(addr, zone, rdtype, tcp, fallback=False)
        for ns, addr in servers
        for tcp in (False, True)
        for rdtype in (dns.rdatatype.SOA, dns.rdatatype.DNSKEY)
    }
    out = []
    for ns, addr in servers:
        obs = Observation(
            id=f"dnssec:{target}:server:{zone.to_text()}:{ns}:{addr}",
            probe=PROBE,
            target=target,
            subject=f"{ns} {addr}",
            asked={"zone": zone.to_text(), "queries": ["SOA", "DNSKEY"], "transports": ["udp", "tcp"]},
            started=started,
        )
        res = {
            name: _server_transport(
                addr,
                zone,
                futs[(ns, addr, tcp, dns.rdatatype.SOA)].result(),
                futs[(ns, addr, tcp, dns.rdatatype.DNSKEY)].result(),
            )
            for name, tcp in (("udp", False), ("tcp", True))
        }
        obs.duration_ms = round((time.perf_counter() - t0) * 1000, 3)
        obs.data = {"zone": zone.to_text(), "ns": ns, "address": addr, "family": 6 if ":" in addr else 4, **res}
        if not res["udp"]["answered"] and not res["tcp"]["answered"]:
            obs.error = f"{ns} ({addr}) did not answer: UDP {res['udp']['error']}; TCP {res['tcp']['error']}"
        out.append(obs)
    return out


def _servers_job(fetcher: Fetcher, zone: Zone, target: str) -> list[Observation]:
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
        names = sorted(set(ns_child) | set(ns_parent))
        lookups = child.lookups if child is not None else {}
        looked_up = {n: [a for t in ("A", "AAAA") for a in r[t].records] for n, r in lookups.items()}
        found = fetcher.addresses_many([dns.name.from_text(n) for n in names if n not in looked_up])
        addresses = {
            n: sorted(
                set(looked_up.get(n) or found.get(dns.name.from_text(n), [])) | set(zone.glue.get(n, [])),
                key=lambda a: (":" in a, a),
            )
            for n in names
        }
        summary.data = {
            "zone": zone.name.to_text(),
            "ns_parent": ns_parent if zone.parent else [],
            "ns_child": ns_child,
            "addresses": addresses,
            "glue": zone.glue,
        }
        if not names:
            summary.error = f"no NS record found for {zone.name}"
    pairs = [(n, a) for n, addrs in addresses.items() for a in addrs]
    return [summary, *_server_checks(fetcher, zone.name, pairs, target)]


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
        reply = fetcher.ask(zone.servers, qname, dns.rdatatype.A, share=False).result() if zone.servers else None
    return obs, (qname, reply)


def _finish_denial(
    obs: Observation, qname: dns.name.Name, reply: Reply | None, zone: Zone, state: ZoneState | None, now: float
) -> Observation:
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
                data["sigs"].extend(check_rrset(rr, sigs, zone.name, state.keys, now).sigs)
            n3 = next((r[0] for r, _ in _denial_rrsets(resp) if r.rdtype == dns.rdatatype.NSEC3), None)
            if n3 is not None:
                data["nsec3"] = {
                    "algorithm": int(n3.algorithm),
                    "iterations": int(n3.iterations),
                    "salt": n3.salt.hex().upper(),
                    "opt_out": bool(n3.flags & 1),
                }
        return obs
    proven, why, denial, sigs = _check_denial(resp, qname, dns.rdatatype.A, zone.name, state.keys, now)
    data.update(kind=denial["kind"], proves=denial["proves"], nsec3=denial["nsec3"], sigs=sigs)
    data["status"], data["reason"] = ("secure" if proven else "bogus"), why
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


def _run(fetcher: Fetcher, qname: dns.name.Name, chain: Observation, settings: ProbeSettings) -> list[Observation]:
    target = chain.target
    extra: list[Observation] = []
    with ObservationTimer(chain):
        now = time.time()
        anchor_f = fetcher.jobs.submit(load_anchor, settings.trust_anchor)
        caa_f = fetcher.jobs.submit(_caa_job, fetcher, qname, target)
        names: list[dns.name.Name] = []
        walk_errors: list[str] = []
        hops: list[tuple[dns.name.Name, Zone, dict[int, Future], bool]] = []
        side_jobs: dict[dns.name.Name, tuple[Future, Future]] = {}
        current: dns.name.Name | None = qname
        while current is not None and len(names) < MAX_CNAME_HOPS:
            if current in names:
                walk_errors.append(f"CNAME loop at {current}")
                break
            names.append(current)
            zone, err, exists = fetcher.find_zone(current)
            if err:
                walk_errors.append(err)
            if zone.name not in side_jobs and zone.servers and not err:
                side_jobs[zone.name] = (
                    fetcher.jobs.submit(_servers_job, fetcher, zone, target),
                    fetcher.jobs.submit(_denial_job, fetcher, zone, target),
                )
            asks = (
                {}
                if err or not zone.servers
                else {t: fetcher.ask(zone.servers, current, t) for t in (dns.rdatatype.A, dns.rdatatype.AAAA)}
            )
            hops.append((current, zone, asks, exists))
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
                walk_errors.append(f"more than {MAX_CNAME_HOPS} CNAME hops")

        # Validate top-down every zone any hop used (a CNAME may lead into other zones).
        anchor = anchor_f.result()
        zones_used: list[Zone] = []
        for _n, zone, _a, _e in hops:
            for z in fetcher.zone_chain(zone):
                if z not in zones_used:
                    zones_used.append(z)
        states: dict[dns.name.Name, ZoneState] = {}
        zone_reports: list[dict[str, Any]] = []
        for z in zones_used:  # parents always come before children in this list
            parent_state = states.get(z.parent.name) if z.parent else None
            report, state = _zone_report(fetcher, z, parent_state, anchor, now)
            states[z.name] = state
            zone_reports.append(report)

        answers: list[dict[str, Any]] = []
        for hop_name, zone, asks, _exists in hops:
            if not asks:
                err = next((e for e in walk_errors), None) or zone.error
                for t in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    rep, _ = _answer_report(hop_name, t, zone, states.get(zone.name), None, err, now)
                    answers.append(rep)
                continue
            for t, fut in asks.items():
                rep, _ = _answer_report(hop_name, t, zone, states.get(zone.name), fut.result(), None, now)
                answers.append(rep)

        statuses = [a["status"] for a in answers] or ["indeterminate"]
        if walk_errors and any("loop" in e or "hops" in e for e in walk_errors):
            statuses.append("indeterminate")
        status = worst(statuses)
        worst_answer = next((a for a in answers if a["status"] == status), None)
        reason = worst_answer["reason"] if worst_answer else "; ".join(walk_errors)
        if status == "indeterminate" and walk_errors:
            reason = "; ".join(walk_errors)
        final = [a for a in answers if a["name"] == names[-1].to_text()]
        exists = any(a["records"] for a in final) or any(a["rcode"] == "NOERROR" for a in final)
        chain.data = {
            "qname": qname.to_text(),
            "names": [n.to_text() for n in names],
            "trust_anchor": {
                "source": anchor.source,
                "ds": [ds_info(d) for d in anchor.ds],
                "keys": [key_info(dns.name.root, k) for k in anchor.keys],
                "error": anchor.error,
            },
            "zones": zone_reports,
            "answers": answers,
            "status": status,
            "reason": reason,
            "exists": exists and not any(a["rcode"] == "NXDOMAIN" for a in final),
            "walk_errors": walk_errors,
            "validated_at": iso(now),
            "validated_at_ts": int(now),
        }
        if status == "indeterminate":
            chain.error = reason

        for zname, (servers_f, denial_f) in side_jobs.items():
            zone = fetcher.zones[zname]
            dobs, (dq, dreply) = denial_f.result()
            extra.append(_finish_denial(dobs, dq, dreply, zone, states.get(zname), now))
            extra.extend(servers_f.result())
        extra.append(caa_f.result())
        chain.data["queries"] = fetcher.queries
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
    from probes.dns import NameError_, to_ascii

    try:
        ascii_name = to_ascii(name)
    except NameError_ as exc:
        return run(Target(name=name, ascii_name="", error=str(exc)), settings)
    return run(Target(name=name, ascii_name=ascii_name), settings)
