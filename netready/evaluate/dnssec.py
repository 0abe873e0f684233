"""DNSSEC rules: VN-DNSSEC, BP-DNSSEC-ALGO, BP-DNSSEC-NSEC3, BP-DNSSEC-SIGS, BP-DNS-CONSISTENT,
BP-DNS-DELEGATION, BP-DNSSEC-CDS, BP-CAA.

Inputs are the observations of probes/dnssec.py (see docs/probes/dnssec.md). The "portal zones" are the
zones that hold the portal's answers (its own zone, plus the zones of any CNAME targets): the agency is
responsible for those, not for the root, .vn or gov.vn, whose state VN-DNSSEC already covers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from netready.evaluate import Outcome, evaluator
from netready.evaluate.ladder import Ladder
from netready.model import Observation, Target

if TYPE_CHECKING:
    from netready.profiles import Profile

# RFC 9904 (the algorithm table, Oct 2025) and RFC 9905 (RSASHA1 deprecated): algorithms a zone may sign
# with, and those it must not sign with any more. Anything else (unknown, private) is not recommended.
GOOD_ALGS = {8, 13, 14, 15, 16}
MUST_NOT_SIGN = {1, 3, 5, 6, 7, 10, 12}
ALG_NAMES = {1: "RSAMD5", 3: "DSA", 5: "RSASHA1", 6: "DSA-NSEC3-SHA1", 7: "RSASHA1-NSEC3-SHA1", 8: "RSASHA256",
             10: "RSASHA512", 12: "ECC-GOST", 13: "ECDSAP256SHA256", 14: "ECDSAP384SHA384", 15: "ED25519",
             16: "ED448"}  # fmt: skip
DIGEST_NAMES = {1: "SHA-1", 2: "SHA-256", 3: "GOST", 4: "SHA-384"}
GOOD_DIGESTS = {2, 4}
STATUS_VI = {
    "secure": "an toàn",
    "insecure": "không an toàn",
    "bogus": "sai (bogus)",
    "indeterminate": "không xác định",
}


def _prefixed(observations: list[Observation], part: str) -> list[Observation]:
    return [o for o in observations if o.probe == "dnssec" and o.id.split(":")[2:3] == [part]]


def _chain(observations: list[Observation]) -> Observation | None:
    found = _prefixed(observations, "chain")
    return found[0] if found else None


def _no_probe() -> list[Outcome]:
    return [Outcome("error", "the DNSSEC probe did not run", "phép đo DNSSEC đã không chạy")]


def _probe_error(chain: Observation) -> list[Outcome] | None:
    if chain.data.get("zones"):
        return None
    why = chain.error or "no data"
    return [
        Outcome(
            "error", f"DNSSEC check could not run: {why}", f"không kiểm tra được DNSSEC: {why}", evidence=(chain.id,)
        )
    ]


def _portal_zones(chain: Observation) -> list[dict[str, Any]]:
    """Zone reports of the zones holding the portal's answers, in order."""
    names: list[str] = []
    for a in chain.data.get("answers", []):
        if a["zone"] not in names:
            names.append(a["zone"])
    by_name = {z["zone"]: z for z in chain.data.get("zones", [])}
    return [by_name[n] for n in names if n in by_name]


def _when(obs: Observation) -> float:
    """The observation time as a POSIX timestamp: the clock every 'days left' is measured against."""
    text = obs.started.replace("Z", "+00:00")
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


def _signed(zone: dict[str, Any]) -> bool:
    return bool(zone.get("dnskeys"))


# --- VN-DNSSEC -----------------------------------------------------------------------------------------------


@evaluator("VN-DNSSEC")
def vn_dnssec(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    chain = _chain(observations)
    if chain is None:
        return _no_probe()
    if (err := _probe_error(chain)) is not None:
        return err
    d = chain.data
    status, reason = d["status"], d["reason"]
    name = d["qname"].rstrip(".")
    ev = (chain.id,)
    path = " → ".join(z["zone"] for z in d["zones"])
    if status == "secure":
        if not d.get("exists"):
            return [
                Outcome(
                    "fail",
                    f"{name} does not exist (NXDOMAIN, proven securely): nothing to protect",
                    f"{name} không tồn tại (NXDOMAIN, được chứng minh an toàn)",
                    evidence=ev,
                )
            ]
        records = [a for a in d["answers"] if a["type"] in ("A", "AAAA") and a["records"] and not a["cname"]]
        if not records:
            return [
                Outcome(
                    "fail",
                    f"{name} has no A or AAAA record (absence proven securely)",
                    f"{name} không có bản ghi A hay AAAA (được chứng minh an toàn)",
                    evidence=ev,
                )
            ]
        types = "/".join(sorted({a["type"] for a in records}))
        return [
            Outcome(
                "pass",
                f"secure: chain of trust validates from the trust anchor down to {name} {types} ({path})",
                f"an toàn: chuỗi tin cậy hợp lệ từ điểm neo tin cậy đến {types} của {name} ({path})",
                evidence=ev,
            )
        ]
    if status == "indeterminate":
        return [
            Outcome(
                "error",
                f"DNSSEC status could not be determined: {reason}",
                f"không xác định được trạng thái DNSSEC: {reason}",
                evidence=ev,
            )
        ]
    return [Outcome("fail", f"{status}: {reason}", f"{STATUS_VI[status]}: {reason}", evidence=ev)]


# --- BP-DNSSEC-ALGO ------------------------------------------------------------------------------------------


def _alg(n: int) -> str:
    return f"{n} ({ALG_NAMES.get(n, 'unknown')})"


@evaluator("BP-DNSSEC-ALGO")
def dnssec_algo(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    chain = _chain(observations)
    if chain is None:
        return _no_probe()
    if (err := _probe_error(chain)) is not None:
        return err
    out: list[Outcome] = []
    for z in _portal_zones(chain):
        zn, ev = z["zone"], (chain.id,)
        if not _signed(z):
            if z["status"] == "indeterminate" and z["errors"]:
                out.append(
                    Outcome(
                        "error",
                        f"{zn}: DNSKEY could not be fetched: {'; '.join(z['errors'])}",
                        f"{zn}: không lấy được DNSKEY: {'; '.join(z['errors'])}",
                        zn,
                        ev,
                    )
                )
            else:
                out.append(
                    Outcome(
                        "info",
                        f"{zn} is not signed: no DNSKEY algorithm to judge",
                        f"{zn} chưa được ký: không có thuật toán DNSKEY để đánh giá",
                        zn,
                        ev,
                    )
                )
            continue
        algs = sorted({k["algorithm"] for k in z["dnskeys"] if k["zone_key"]})
        digests = sorted({d["digest_type"] for d in z["ds"]})
        keys = ", ".join(f"{k['key_tag']}/{_alg(k['algorithm'])}/{k['key_bits']} bit" for k in z["dnskeys"])
        ds_text = ", ".join(DIGEST_NAMES.get(x, str(x)) for x in digests) or "none"
        bad = [a for a in algs if a in MUST_NOT_SIGN]
        weak = [a for a in algs if a not in GOOD_ALGS | MUST_NOT_SIGN]
        found = Ladder(zn, ev)
        if bad:
            rfcs = "RFC 9904" + (", RFC 9905" if set(bad) & {5, 7} else "")
            found.fail(f"algorithm {', '.join(_alg(a) for a in bad)} must not be used for signing ({rfcs})",
                       f"thuật toán {', '.join(_alg(a) for a in bad)} không được dùng để ký ({rfcs})")
        if digests and not set(digests) & GOOD_DIGESTS:
            found.fail(f"DS digest only {ds_text}: SHA-256 (2) or SHA-384 (4) is required (RFC 9904)",
                       f"DS chỉ dùng {ds_text}: cần SHA-256 (2) hoặc SHA-384 (4) (RFC 9904)")
        elif set(digests) - GOOD_DIGESTS:
            old = ", ".join(DIGEST_NAMES.get(x, str(x)) for x in digests if x not in GOOD_DIGESTS)
            found.warn(f"DS with digest {old} should be removed (RFC 9904: must not be created)",
                       f"nên gỡ DS dùng {old} (RFC 9904: không được tạo)")
        if weak:
            found.warn(f"algorithm {', '.join(_alg(a) for a in weak)} is not recommended (RFC 9904)",
                       f"thuật toán {', '.join(_alg(a) for a in weak)} không được khuyến nghị (RFC 9904)")
        if not digests and z["ds_source"] == "parent":
            found.warn("no DS at the parent: digest type cannot be judged",
                       "không có DS ở vùng cha: không đánh giá được kiểu băm")
        out.append(found.outcome(("recommended algorithms only", "chỉ dùng thuật toán được khuyến nghị"),
                                 head=(f"{zn}: ", f"{zn}: "),
                                 tail=(f" (keys {keys}; DS digest {ds_text})", f" (khóa {keys}; DS {ds_text})")))
    return out or [
        Outcome("error", "no zone found for the portal", "không tìm thấy vùng của cổng", evidence=(chain.id,))
    ]


# --- BP-DNSSEC-NSEC3 -----------------------------------------------------------------------------------------


@evaluator("BP-DNSSEC-NSEC3")
def dnssec_nsec3(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    chain = _chain(observations)
    if chain is None:
        return _no_probe()
    if (err := _probe_error(chain)) is not None:
        return err
    max_iter = int(profile.threshold("nsec3_max_iterations", 0))
    denials = {o.data.get("zone") or o.subject: o for o in _prefixed(observations, "denial")}
    out: list[Outcome] = []
    for z in _portal_zones(chain):
        zn = z["zone"]
        obs = denials.get(zn)
        if not _signed(z):
            out.append(
                Outcome(
                    "info",
                    f"{zn} is not signed: NSEC3 parameters not applicable",
                    f"{zn} chưa được ký: không áp dụng tham số NSEC3",
                    zn,
                    (chain.id,),
                )
            )
            continue
        if obs is None or obs.error or not obs.data.get("rcode"):
            why = obs.error if obs is not None and obs.error else "no denial observation"
            out.append(
                Outcome(
                    "error",
                    f"{zn}: denial of existence not observed: {why}",
                    f"{zn}: không quan sát được phủ định tồn tại: {why}",
                    zn,
                    (chain.id,),
                )
            )
            continue
        d, ev = obs.data, (chain.id, obs.id)
        if d["kind"] == "nsec":
            out.append(
                Outcome(
                    "pass",
                    f"{zn} uses NSEC (no NSEC3 parameters to tune)",
                    f"{zn} dùng NSEC (không có tham số NSEC3)",
                    zn,
                    ev,
                )
            )
            continue
        if d["kind"] != "nsec3" or not d.get("nsec3"):
            out.append(
                Outcome(
                    "warn",
                    f"{zn}: no NSEC/NSEC3 proof for {d['qname']} ({d['rcode']}): {d['reason']}",
                    f"{zn}: không có bằng chứng NSEC/NSEC3 cho {d['qname']} ({d['rcode']}): {d['reason']}",
                    zn,
                    ev,
                )
            )
            continue
        n3 = d["nsec3"]
        it, salt = n3["iterations"], n3["salt"]
        opt = "; opt-out set" if n3["opt_out"] else ""
        opt_vi = "; có cờ opt-out" if n3["opt_out"] else ""
        facts = f"NSEC3 iterations {it}, salt {salt or '-'}{opt}"
        facts_vi = f"NSEC3 số vòng lặp {it}, salt {salt or '-'}{opt_vi}"
        if it > max_iter:
            out.append(
                Outcome(
                    "fail",
                    f"{zn}: {facts}; RFC 9276 asks for {max_iter} extra iterations and no salt",
                    f"{zn}: {facts_vi}; RFC 9276 yêu cầu {max_iter} vòng lặp thêm và không dùng salt",
                    zn,
                    ev,
                )
            )
        elif salt:
            out.append(
                Outcome(
                    "warn",
                    f"{zn}: {facts}; RFC 9276 asks for an empty salt",
                    f"{zn}: {facts_vi}; RFC 9276 yêu cầu salt rỗng",
                    zn,
                    ev,
                )
            )
        else:
            out.append(Outcome("pass", f"{zn}: {facts} (RFC 9276)", f"{zn}: {facts_vi} (RFC 9276)", zn, ev))
    return out


# --- BP-DNSSEC-SIGS ------------------------------------------------------------------------------------------


def _zone_sigs(chain: Observation, observations: list[Observation], zone: dict[str, Any]) -> list[dict[str, Any]]:
    """Every RRSIG of the zone seen: over its DNSKEY set, the answers, the denial, CDS/CDNSKEY, and what
    each of its servers answered (signatures the chain already has are not repeated there)."""
    zn = zone["zone"]
    sigs = list(zone.get("dnskey_sigs", []))
    sigs.extend((zone.get("cds") or {}).get("sigs", []))
    for a in chain.data.get("answers", []):
        if a["zone"] == zn:
            sigs.extend(s for s in a.get("sigs", []) if s["signer"] == zn)
    for o in _prefixed(observations, "denial"):
        if o.data.get("zone") == zn:
            sigs.extend(s for s in o.data.get("sigs", []) if s["signer"] == zn)
    for o in _prefixed(observations, "server"):
        if o.data.get("zone") == zn:
            sigs.extend(s for s in (o.data.get("validation") or {}).get("sigs", []) if s["signer"] == zn)
    return sigs


@evaluator("BP-DNSSEC-SIGS")
def dnssec_sigs(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    chain = _chain(observations)
    if chain is None:
        return _no_probe()
    if (err := _probe_error(chain)) is not None:
        return err
    days = float(profile.threshold("sig_min_days_left", 3))
    now = _when(chain)
    skew = float(chain.data.get("inception_skew_s", 0))
    denials = _prefixed(observations, "denial")
    out: list[Outcome] = []
    for z in _portal_zones(chain):
        zn = z["zone"]
        ev = (chain.id, *(o.id for o in denials if o.data.get("zone") == zn))
        sigs = _zone_sigs(chain, observations, z)
        if not _signed(z):
            out.append(
                Outcome(
                    "info",
                    f"{zn} is not signed: no signature to check",
                    f"{zn} chưa được ký: không có chữ ký để kiểm tra",
                    zn,
                    ev,
                )
            )
            continue
        if not sigs:
            out.append(
                Outcome(
                    "fail",
                    f"{zn} has DNSKEYs but no RRSIG was seen over its data",
                    f"{zn} có DNSKEY nhưng không thấy chữ ký RRSIG nào",
                    zn,
                    ev,
                )
            )
            continue
        expired = [s for s in sigs if s["expiration_ts"] < now]
        future = [s for s in sigs if s["inception_ts"] > now + skew]
        broken = [s for s in sigs if s.get("crypto_ok") is False]
        soon = [s for s in sigs if now <= s["expiration_ts"] < now + days * 86400]
        first = min(sigs, key=lambda s: s["expiration_ts"])
        left = (first["expiration_ts"] - now) / 86400

        def who(s: dict[str, Any]) -> str:
            return f"RRSIG {s['owner']} {s['type']} by {s['key_tag']}"

        found = Ladder(zn, ev)
        if expired:
            s = expired[0]
            found.fail(f"{len(expired)} of {len(sigs)} signatures expired (e.g. {who(s)} at {s['expiration']})",
                       f"{len(expired)}/{len(sigs)} chữ ký đã hết hạn (ví dụ {who(s)} lúc {s['expiration']})")
        if future:
            s = future[0]
            found.fail(f"{len(future)} not yet valid (e.g. {who(s)} from {s['inception']})",
                       f"{len(future)} chữ ký chưa có hiệu lực (ví dụ {who(s)} từ {s['inception']})")
        if broken:
            found.fail(f"{len(broken)} do not verify (e.g. {who(broken[0])})",
                       f"{len(broken)} chữ ký không kiểm chứng được (ví dụ {who(broken[0])})")
        if soon:
            s = soon[0]
            found.warn(f"{len(soon)} signature(s) expire within {days:g} days ({who(s)} at {s['expiration']}, "
                       f"{left:.1f} days left)",
                       f"{len(soon)} chữ ký hết hạn trong vòng {days:g} ngày ({who(s)} lúc {s['expiration']}, "
                       f"còn {left:.1f} ngày)")
        if long_ttl := [s for s in sigs if s.get("ttl", 0) > s["original_ttl"]]:
            s = long_ttl[0]
            found.warn(f"{len(long_ttl)} RRset(s) served with a TTL above the RRSIG original TTL (e.g. {s['owner']} "
                       f"{s['type']}: TTL {s['ttl']} > {s['original_ttl']}; validators cap it, RFC 4035 §5.3.3)",
                       f"{len(long_ttl)} RRset có TTL lớn hơn TTL gốc trong RRSIG (ví dụ {s['owner']} {s['type']}: "
                       f"TTL {s['ttl']} > {s['original_ttl']}; bộ kiểm tra sẽ hạ xuống, RFC 4035 §5.3.3)")
        out.append(found.outcome(
            (f"{len(sigs)} signatures valid; the first expires at {first['expiration']} ({left:.1f} days)",
             f"{len(sigs)} chữ ký hợp lệ; chữ ký sớm hết hạn nhất hết hạn lúc {first['expiration']} "
             f"(còn {left:.1f} ngày)"),
            head=(f"{zn}: ", f"{zn}: ")))
    return out


# --- BP-DNS-CONSISTENT ---------------------------------------------------------------------------------------


def _server_view(data: dict[str, Any]) -> tuple[list[str], list[str], dict[str, Any]]:
    """(lame reasons, unreachable transports, observed facts) for one server's UDP and TCP answers.

    A truncated answer is never a fact: the probe asked a truncated DNSKEY again over TCP (its tags are
    the full set then); a truncated SOA without data is simply not compared."""
    lame: list[str] = []
    down: list[str] = []
    facts: dict[str, Any] = {}
    for tr in ("udp", "tcp"):
        t = data.get(tr) or {}
        if not t.get("answered"):
            down.append(f"{tr.upper()} ({t.get('error')})")
            continue
        if t.get("rcode") != "NOERROR":
            lame.append(f"{tr.upper()} rcode {t.get('rcode')}")
            continue
        if not t.get("aa"):
            lame.append(f"{tr.upper()} answer not authoritative")
            continue
        if t.get("serial") is None and t.get("truncated"):
            continue  # truncated over UDP: the TCP half of the check carries the answer
        if t.get("serial") is None:
            lame.append(f"{tr.upper()} no SOA in the answer")
            continue
        facts.setdefault("serial", set()).add(t["serial"])
        tags = t.get("dnskey_tags")
        if tags is not None and not (t.get("dnskey_truncated") and not t.get("dnskey_retried_tcp")):
            facts.setdefault("keys", set()).add(tuple(tags))
        facts.setdefault("signed", set()).add(bool(t.get("soa_signed")))
    return lame, down, facts


def _who(data: dict[str, Any]) -> str:
    return f"{data['ns'].rstrip('.')} ({data['address']})"


def _zone_servers(observations: list[Observation], zone: str) -> tuple[Observation | None, list[Observation],
                                                                         tuple[str, ...]]:
    """The servers:<zone> summary of a zone, its server:* observations, and their ids as evidence."""
    summary = next((o for o in _prefixed(observations, "servers") if o.data.get("zone") == zone), None)
    mine = [o for o in _prefixed(observations, "server") if o.data.get("zone") == zone]
    return summary, mine, tuple(o.id for o in ([summary] if summary else []) + mine)


@evaluator("BP-DNS-CONSISTENT")
def dns_consistent(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    chain = _chain(observations)
    if chain is None:
        return _no_probe()
    if (err := _probe_error(chain)) is not None:
        return err
    out: list[Outcome] = []
    for z in _portal_zones(chain):
        zn = z["zone"]
        summary, mine, ev = _zone_servers(observations, zn)
        if not mine:
            why = summary.error if summary is not None and summary.error else "no name server address found"
            out.append(Outcome("error", f"{zn}: no authoritative server to compare ({why})",
                               f"{zn}: không có máy chủ có thẩm quyền để so sánh ({why})", zn, ev))
        else:
            out.append(_zone_consistency(zn, _ServerViews.of(mine), ev))
    return out


@dataclass
class _ServerViews:
    """What the servers of one zone said: each fact's values and who gave them, who did not answer over what."""

    values: dict[str, dict[Any, list[str]]]  # serial | keys | signed -> value -> servers
    answered: int
    down_en: list[str]
    down_vi: list[str]
    aside: list[str]  # lame or broken: BP-DNS-DELEGATION names them; nothing here to compare

    @classmethod
    def of(cls, servers: list[Observation]) -> _ServerViews:
        views = cls({"serial": {}, "keys": {}, "signed": {}}, 0, [], [], [])
        for o in servers:
            who = _who(o.data)
            lame, down, facts = _server_view(o.data)
            if lame and not facts:
                views.aside.append(who)
                continue
            if down:
                views.down_en.append(f"{who}: no answer over {', '.join(down)}")
                views.down_vi.append(f"{who}: không trả lời qua {', '.join(down)}")
            if facts:
                views.answered += 1
            for k, vs in facts.items():
                for v in vs:
                    views.values[k].setdefault(v, []).append(who)
        return views


CONSISTENCY_LABELS = {"serial": ("SOA serial", "serial SOA"), "keys": ("DNSKEY key tags", "tập khóa DNSKEY"),
                      "signed": ("signed answers", "việc ký câu trả lời")}


def _zone_consistency(zn: str, views: _ServerViews, ev: list[str]) -> Outcome:
    if not views.answered:
        aside = ", ".join(views.aside)
        return Outcome("error", f"{zn}: no server answered authoritatively: {'; '.join(views.down_en) or aside}",
                       f"{zn}: không máy chủ nào trả lời có thẩm quyền: {'; '.join(views.down_vi) or aside}", zn, ev)
    diffs_en: list[str] = []
    diffs_vi: list[str] = []
    for k, by_value in views.values.items():
        if len(by_value) > 1:
            parts = "; ".join(f"{_fmt(v)} at {', '.join(sorted(set(w)))}" for v, w in sorted(by_value.items(), key=str))
            diffs_en.append(f"{CONSISTENCY_LABELS[k][0]} differ: {parts}")
            diffs_vi.append(f"{CONSISTENCY_LABELS[k][1]} khác nhau: {parts}")
    aside = ", ".join(views.aside)
    note_en = f"; not compared (see BP-DNS-DELEGATION): {aside}" if aside else ""
    note_vi = f"; không so sánh (xem BP-DNS-DELEGATION): {aside}" if aside else ""
    if diffs_en:
        return Outcome("fail", f"{zn}: {'; '.join(diffs_en)}{note_en}",
                       f"{zn}: các máy chủ không nhất quán: {'; '.join(diffs_vi)}{note_vi}", zn, ev)
    if views.down_en:
        return Outcome("warn", f"{zn}: answering servers agree, but {'; '.join(views.down_en)}{note_en}",
                       f"{zn}: các máy chủ trả lời thống nhất, nhưng {'; '.join(views.down_vi)}{note_vi}", zn, ev)
    serial = next(iter(views.values["serial"]), None)
    keys = next(iter(views.values["keys"]), ())
    signed = next(iter(views.values["signed"]), False)
    facts_en = f"serial {serial}, DNSKEY {_fmt(keys)}, {'signed' if signed else 'unsigned'}"
    facts_vi = f"serial {serial}, DNSKEY {_fmt(keys)}, {'có ký' if signed else 'không ký'}"
    return Outcome("pass", f"{zn}: {views.answered} server addresses agree over UDP and TCP ({facts_en}){note_en}",
                   f"{zn}: {views.answered} địa chỉ máy chủ thống nhất qua UDP và TCP ({facts_vi}){note_vi}", zn, ev)


# --- BP-DNS-DELEGATION ---------------------------------------------------------------------------------------


def _prefix(addr: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) an address is in: the unit of network diversity Zonemaster uses."""
    ip = ipaddress.ip_address(addr)
    return str(ipaddress.ip_network(f"{addr}/{24 if ip.version == 4 else 48}", strict=False))


def _answers_authoritatively(data: dict[str, Any]) -> str | None:
    """None if this server address gave an authoritative SOA over UDP or TCP; else what it did."""
    seen = []
    for tr in ("udp", "tcp"):
        t = data.get(tr) or {}
        if not t.get("answered"):
            seen.append(f"{tr.upper()}: no answer ({t.get('error')})")
        elif t.get("rcode") != "NOERROR":
            seen.append(f"{tr.upper()}: rcode {t.get('rcode')}")
        elif not t.get("aa"):
            seen.append(f"{tr.upper()}: answer without the AA bit (lame)")
        elif t.get("serial") is None and not t.get("truncated"):
            seen.append(f"{tr.upper()}: no SOA")
        else:
            return None
    return "; ".join(seen)


@evaluator("BP-DNS-DELEGATION")
def dns_delegation(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    """Zonemaster's delegation checks: the NS sets at the parent and at the apex agree, the glue equals the
    name servers' own addresses, every listed server answers authoritatively; the network diversity of the
    addresses (/24, /48) is reported."""
    chain = _chain(observations)
    if chain is None:
        return _no_probe()
    if (err := _probe_error(chain)) is not None:
        return err
    out: list[Outcome] = []
    for z in _portal_zones(chain):
        zn = z["zone"]
        summary, mine, ev = _zone_servers(observations, zn)
        if summary is None or (summary.error and not mine):
            why = summary.error if summary is not None else "no name server observation"
            out.append(Outcome("error", f"{zn}: delegation not observed: {why}",
                               f"{zn}: không quan sát được ủy quyền: {why}", zn, ev))
            continue
        d = summary.data
        found = Ladder(zn, ev)
        parent, child = set(d.get("ns_parent") or []), set(d.get("ns_child") or [])
        if parent and child and parent != child:
            only_p, only_c = sorted(parent - child), sorted(child - parent)
            what = "; ".join(x for x in (f"only at the parent: {', '.join(only_p)}" if only_p else "",
                                         f"only at the zone: {', '.join(only_c)}" if only_c else "") if x)
            found.fail(f"NS sets of the parent and of the zone differ ({what})",
                       f"tập NS ở vùng cha và ở vùng khác nhau ({what})")
        elif parent and not child and d.get("ns_child_error"):
            found.fail(f"the zone's own NS set could not be read: {d['ns_child_error']}",
                       f"không đọc được tập NS của vùng: {d['ns_child_error']}")
        glue, own = d.get("glue") or {}, d.get("child_addresses") or {}
        for ns in sorted(glue):
            if own.get(ns) and set(glue[ns]) != set(own[ns]):
                found.fail(f"glue for {ns} ({', '.join(sorted(glue[ns]))}) differs from its own addresses "
                           f"({', '.join(own[ns])})",
                           f"glue của {ns} ({', '.join(sorted(glue[ns]))}) khác địa chỉ thật của nó "
                           f"({', '.join(own[ns])})")
        for ns in sorted(parent):
            if ns.endswith("." + zn) and not glue.get(ns):
                found.fail(f"no glue at the parent for {ns}, a name server inside the zone",
                           f"vùng cha không có glue cho {ns}, máy chủ nằm trong chính vùng này")
        for o in mine:
            why = _answers_authoritatively(o.data)
            if why:
                found.fail(f"{_who(o.data)} does not answer authoritatively ({why})",
                           f"{_who(o.data)} không trả lời có thẩm quyền ({why})")
        names = parent | child
        if len(names) < 2:
            found.warn(f"only {len(names)} name server (RFC 1034 §4.1 asks for at least two)",
                       f"chỉ có {len(names)} máy chủ tên miền (RFC 1034 §4.1 yêu cầu ít nhất hai)")
        addrs = sorted({o.data["address"] for o in mine})
        nets4 = sorted({_prefix(a) for a in addrs if ":" not in a})
        nets6 = sorted({_prefix(a) for a in addrs if ":" in a})
        div_en = (f"{len(addrs)} addresses in {len(nets4)} IPv4 /24 and {len(nets6)} IPv6 /48"
                  + (" (info: no network diversity)" if len(nets4) <= 1 and len(nets6) <= 1 else ""))
        div_vi = (f"{len(addrs)} địa chỉ trong {len(nets4)} mạng IPv4 /24 và {len(nets6)} mạng IPv6 /48"
                  + (" (thông tin: không đa dạng mạng)" if len(nets4) <= 1 and len(nets6) <= 1 else ""))
        out.append(found.outcome(
            (f"parent and zone list the same {len(names)} name servers, glue matches, every address answers "
             "authoritatively",
             f"vùng cha và vùng cùng liệt kê {len(names)} máy chủ, glue khớp, mọi địa chỉ trả lời có thẩm quyền"),
            head=(f"{zn}: ", f"{zn}: "), tail=(f"; {div_en}", f"; {div_vi}")))
    return out


# --- BP-DNSSEC-CDS -------------------------------------------------------------------------------------------


@evaluator("BP-DNSSEC-CDS")
def dnssec_cds(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    """RFC 7344 / RFC 8078: published CDS/CDNSKEY agree with the DNSKEY set and say what DS the parent
    should hold."""
    chain = _chain(observations)
    if chain is None:
        return _no_probe()
    if (err := _probe_error(chain)) is not None:
        return err
    out: list[Outcome] = []
    for z in _portal_zones(chain):
        zn, ev = z["zone"], (chain.id,)
        c = z.get("cds")
        if c is None:
            out.append(Outcome("error", f"{zn}: CDS/CDNSKEY not observed", f"{zn}: không quan sát được CDS/CDNSKEY",
                               zn, ev))
            continue
        if c.get("error"):
            out.append(Outcome("error", f"{zn}: CDS/CDNSKEY could not be fetched: {c['error']}",
                               f"{zn}: không lấy được CDS/CDNSKEY: {c['error']}", zn, ev))
            continue
        if not c["cds"] and not c["cdnskey"]:
            out.append(Outcome(
                "info",
                f"{zn}: no CDS/CDNSKEY published: the DS at the parent is kept up to date by hand (RFC 7344 not used)",
                f"{zn}: không công bố CDS/CDNSKEY: DS ở vùng cha được cập nhật thủ công (không dùng RFC 7344)", zn, ev))
            continue
        if c["delete"] and not c["problems"]:
            out.append(Outcome(
                "info",
                f"{zn}: CDS/CDNSKEY ask the parent to delete the DS (RFC 8078 §4): the zone is going unsigned",
                f"{zn}: CDS/CDNSKEY yêu cầu vùng cha xóa DS (RFC 8078 §4): vùng sắp bỏ ký", zn, ev))
            continue
        should = "; ".join(c["parent_should_hold"]) or "none"
        has = "; ".join(c["parent_has"]) or "none"
        if not _signed(z) or z["status"] != "secure":
            out.append(Outcome(
                "info",
                f"{zn} is {z['status']}: CDS/CDNSKEY published ({should}) can bootstrap DNSSEC only after an "
                "out-of-band check (RFC 8078 §3)",
                f"{zn} ở trạng thái {z['status']}: CDS/CDNSKEY đã công bố ({should}) chỉ khởi tạo DNSSEC được sau "
                "khi kiểm tra ngoài băng (RFC 8078 §3)", zn, ev))
            continue
        if c["problems"]:
            out.append(Outcome("fail", f"{zn}: {'; '.join(c['problems'])}",
                               f"{zn}: CDS/CDNSKEY không nhất quán: {'; '.join(c['problems'])}", zn, ev))
        elif c["matches_parent"]:
            out.append(Outcome(
                "pass",
                f"{zn}: CDS/CDNSKEY agree with the DNSKEY set; the parent holds exactly that DS ({should})",
                f"{zn}: CDS/CDNSKEY khớp tập DNSKEY; vùng cha giữ đúng DS đó ({should})", zn, ev))
        else:
            out.append(Outcome(
                "warn",
                f"{zn}: CDS/CDNSKEY agree with the DNSKEY set and ask the parent to hold DS {should}; it holds {has} "
                "(update pending or not automated)",
                f"{zn}: CDS/CDNSKEY khớp tập DNSKEY và yêu cầu vùng cha giữ DS {should}; hiện vùng cha giữ {has} "
                "(đang chờ cập nhật hoặc chưa tự động hóa)", zn, ev))
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + " ".join(str(x) for x in v) + "]" if v else "none"
    return str(v)


# --- BP-CAA --------------------------------------------------------------------------------------------------


@evaluator("BP-CAA")
def caa(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    found = _prefixed(observations, "caa")
    if not found:
        return _no_probe()
    o = found[0]
    ev = (o.id,)
    if o.error:
        return [Outcome("error", f"CAA lookup failed: {o.error}", f"không tra cứu được CAA: {o.error}", evidence=ev)]
    d = o.data
    if d.get("found_at"):
        recs = "; ".join(d["records"])
        return [
            Outcome(
                "pass",
                f"CAA present at {d['found_at'].rstrip('.')}: {recs}",
                f"có bản ghi CAA tại {d['found_at'].rstrip('.')}: {recs}",
                evidence=ev,
            )
        ]
    climbed = ", ".join(c["name"].rstrip(".") for c in d.get("checked", []))
    return [
        Outcome(
            "info",
            f"no CAA record (checked {climbed}): any CA may issue certificates for this name",
            f"không có bản ghi CAA (đã kiểm tra {climbed}): mọi CA đều có thể cấp chứng thư cho tên này",
            evidence=ev,
        )
    ]
