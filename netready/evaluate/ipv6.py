"""IPv6 rules: VN-IPV6-WEB, VN-IPV6-DNS, BP-IPV6-PARITY. Pure: reads the ipv6 probe's observations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netready.evaluate import Outcome, by_probe, evaluator
from netready.model import Observation, Target
from netready.tables.web import split_location

if TYPE_CHECKING:
    from netready.profiles import Profile

# What a bad AAAA class means, for messages: (English, Vietnamese).
CLASS_TEXT: dict[str, tuple[str, str]] = {
    "link-local": ("link-local (fe80::/10)", "địa chỉ link-local (fe80::/10)"),
    "unique-local": ("unique-local (fc00::/7), private", "địa chỉ unique-local (fc00::/7), địa chỉ riêng"),
    "site-local": ("site-local (fec0::/10, deprecated)", "địa chỉ site-local (fec0::/10, đã bãi bỏ)"),
    "loopback": ("the loopback address ::1", "địa chỉ loopback ::1"),
    "unspecified": ("the unspecified address ::", "địa chỉ không xác định ::"),
    "ipv4-mapped": ("an IPv4-mapped address (::ffff:0:0/96)", "địa chỉ IPv4-mapped (::ffff:0:0/96)"),
    "ipv4-compatible": ("an IPv4-compatible address (::/96, deprecated)", "địa chỉ IPv4-compatible (::/96, đã bãi bỏ)"),
    "nat64": ("a NAT64 prefix address (64:ff9b::/96)", "địa chỉ thuộc tiền tố NAT64 (64:ff9b::/96)"),
    "6to4": ("a 6to4 tunnel address (2002::/16)", "địa chỉ đường hầm 6to4 (2002::/16)"),
    "teredo": ("a Teredo tunnel address (2001::/32)", "địa chỉ đường hầm Teredo (2001::/32)"),
    "multicast": ("a multicast address (ff00::/8)", "địa chỉ multicast (ff00::/8)"),
    "documentation": ("a documentation address (2001:db8::/32)", "địa chỉ dành cho tài liệu (2001:db8::/32)"),
    "discard": ("a discard-only address (100::/64)", "địa chỉ loại bỏ (100::/64)"),
    "benchmarking": ("a benchmarking address (2001:2::/48)", "địa chỉ đo kiểm (2001:2::/48)"),
    "orchid": ("an ORCHID identifier, not routable", "định danh ORCHID, không định tuyến được"),
    "reserved": ("outside the global unicast space (2000::/3)", "nằm ngoài vùng unicast toàn cầu (2000::/3)"),
    "invalid": ("not a valid IPv6 address", "không phải địa chỉ IPv6 hợp lệ"),
}


def _one(observations: list[Observation], suffix: str) -> Observation | None:
    return next((o for o in by_probe(observations, "ipv6") if o.id.endswith(f":{suffix}")), None)


def _webs(observations: list[Observation], family: int) -> list[Observation]:
    """The web observations of one family; where this probe's HTTPS GET failed in the handshake but the TLS
    probe's GET of the same address got an answer (it retries with exactly the suites the server accepts),
    that answer stands in, marked "from_tls_probe"."""
    tls_https = {o.subject: ((o.data or {}).get("http") or {}).get("https") or {}
                 for o in by_probe(observations, "tls")}
    out = []
    for o in by_probe(observations, "ipv6"):
        if ":web:" not in o.id or o.data.get("family") != family:
            continue
        https = o.data.get("https") or {}
        other = tls_https.get(o.subject) or {}
        if https.get("status") is None and https.get("stage") == "tls" and other.get("status") is not None:
            o = Observation(o.id, o.probe, o.target, o.subject, o.asked,
                            {**o.data, "https": {**other, "from_tls_probe": True}}, o.started, o.duration_ms, None)
        out.append(o)
    return out


def acceptable(cls: str, profile: Profile) -> bool:
    """Global unicast, or a documentation address on the lab profile."""
    return cls == "global" or (cls == "documentation" and bool(getattr(profile, "lab", False)))


def _aaaa_records(obs: Observation) -> list[dict[str, Any]]:
    return list(obs.data.get("records") or [])


@evaluator("VN-IPV6-WEB")
def ipv6_web(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    aaaa = _one(observations, "aaaa")
    if aaaa is None:
        return []
    records = _aaaa_records(aaaa)
    if not records:
        if aaaa.error:
            return [
                Outcome(
                    "error", f"could not check: {aaaa.error}", f"không kiểm tra được: {aaaa.error}", evidence=(aaaa.id,)
                )
            ]
        rcode = aaaa.data.get("rcode") or "NOERROR"
        v4 = ", ".join(aaaa.data.get("ipv4") or []) or "none"
        return [
            Outcome(
                "fail",
                f"no AAAA record for {target.ascii_name} (answer {rcode}; IPv4 addresses: {v4})",
                f"không có bản ghi AAAA cho {target.ascii_name} (trả lời {rcode}; địa chỉ IPv4: {v4})",
                evidence=(aaaa.id,),
            )
        ]
    webs = {o.subject: o for o in _webs(observations, 6)}
    outcomes: list[Outcome] = []
    for rec in records:
        addr, cls = rec["address"], rec.get("class", "invalid")
        if not acceptable(cls, profile):
            en, vi = CLASS_TEXT.get(cls, (cls, cls))
            outcomes.append(
                Outcome(
                    "fail",
                    f"AAAA {addr} is {en}, not a global unicast address",
                    f"AAAA {addr} là {vi}, không phải địa chỉ unicast toàn cầu",
                    subject=addr,
                    evidence=(aaaa.id,),
                )
            )
            continue
        web = webs.get(addr)
        if web is None:
            outcomes.append(
                Outcome(
                    "error",
                    f"no HTTPS measurement for {addr}",
                    f"không có phép đo HTTPS cho {addr}",
                    subject=addr,
                    evidence=(aaaa.id,),
                )
            )
            continue
        outcomes.append(_web_outcome(addr, web, aaaa))
    return outcomes


def _web_outcome(addr: str, web: Observation, aaaa: Observation) -> Outcome:
    https = web.data.get("https") or {}
    ev = (aaaa.id, web.id)
    if https.get("status") is not None:
        ms = https.get("elapsed_ms")
        return Outcome(
            "pass",
            f"HTTPS answers over IPv6 at {addr} (status {https['status']}, {ms:.0f} ms)",
            f"HTTPS trả lời qua IPv6 tại {addr} (mã {https['status']}, {ms:.0f} ms)",
            subject=addr,
            evidence=ev,
        )
    error = https.get("error") or web.error or "no answer"
    if https.get("stage") == "connect" or not https:
        return Outcome(
            "fail",
            f"AAAA published but unreachable ({error})",
            f"có bản ghi AAAA nhưng không kết nối được ({error})",
            subject=addr,
            evidence=ev,
        )
    return Outcome(
        "fail",
        f"AAAA {addr} accepts TCP on port 443 but HTTPS fails: {error}",
        f"AAAA {addr} nhận kết nối TCP cổng 443 nhưng HTTPS không hoạt động: {error}",
        subject=addr,
        evidence=ev,
    )


def _ns_problems(servers: list[dict[str, Any]], profile: Profile) -> tuple[list[str], list[str], list[str]]:
    """(capable NS names, English problems, Vietnamese problems)."""
    capable: list[str] = []
    en: list[str] = []
    vi: list[str] = []
    for ns in servers:
        name = ns["name"].rstrip(".")
        if not ns.get("ipv6"):
            en.append(f"{name} has no AAAA")
            vi.append(f"{name} không có AAAA")
            continue
        good = False
        for r in ns.get("v6", []):
            addr = r["address"]
            if not acceptable(r.get("class", ""), profile):
                cls_en, cls_vi = CLASS_TEXT.get(r.get("class", ""), (r.get("class", ""), r.get("class", "")))
                en.append(f"{name} AAAA {addr} is {cls_en}")
                vi.append(f"{name} AAAA {addr} là {cls_vi}")
                continue
            bad = [(p, r[p]) for p in ("udp", "tcp") if not r[p].get("ok")]
            for proto, res in bad:
                en.append(f"{name} ({addr}) does not answer over IPv6 {proto.upper()}: {res.get('error')}")
                vi.append(f"{name} ({addr}) không trả lời qua IPv6 {proto.upper()}: {res.get('error')}")
            good = good or not bad
        if good:
            capable.append(name)
    return capable, en, vi


@evaluator("VN-IPV6-DNS")
def ipv6_dns(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    obs = _one(observations, "dns")
    if obs is None:
        return []
    servers = obs.data.get("name_servers") or []
    zone = (obs.data.get("zone") or obs.subject).rstrip(".") or "."
    if not servers:
        why = obs.error or "no name server found"
        return [
            Outcome(
                "error",
                f"could not check the name servers: {why}",
                f"không kiểm tra được máy chủ tên miền: {why}",
                subject=zone,
                evidence=(obs.id,),
            )
        ]
    need = int(profile.threshold("min_ipv6_nameservers", 2))
    capable, en, vi = _ns_problems(servers, profile)
    total = len(servers)
    listed = ", ".join(capable)
    if len(capable) >= need:
        return [
            Outcome(
                "pass",
                f"{len(capable)} of {total} name servers of {zone} answer over IPv6 UDP and TCP ({listed})",
                f"{len(capable)}/{total} máy chủ tên miền của {zone} trả lời qua IPv6 UDP và TCP ({listed})",
                subject=zone,
                evidence=(obs.id,),
            )
        ]
    if not any(ns.get("ipv6") for ns in servers):
        names = ", ".join(ns["name"].rstrip(".") for ns in servers)
        return [
            Outcome(
                "fail",
                f"name servers IPv4 only: none of the {total} name servers of {zone} has an AAAA record ({names})",
                f"máy chủ tên miền chỉ có IPv4: cả {total} máy chủ của {zone} đều không có bản ghi AAAA ({names})",
                subject=zone,
                evidence=(obs.id,),
            )
        ]
    return [
        Outcome(
            "fail",
            f"only {len(capable)} of {total} name servers of {zone} answer over IPv6 UDP and TCP (need {need}): "
            + "; ".join(en),
            f"chỉ {len(capable)}/{total} máy chủ tên miền của {zone} trả lời qua IPv6 UDP và TCP (cần {need}): "
            + "; ".join(vi),
            subject=zone,
            evidence=(obs.id,),
        )
    ]


@evaluator("BP-IPV6-PARITY")
def ipv6_parity(target: Target, observations: list[Observation], profile: Profile) -> list[Outcome]:
    v6 = _webs(observations, 6)
    v4 = _webs(observations, 4)
    if _one(observations, "aaaa") is None and not v6:
        return []
    if not v6:
        return [
            Outcome(
                "info",
                "not applicable: no AAAA to compare with IPv4",
                "không áp dụng: không có AAAA để so sánh với IPv4",
            )
        ]
    answered = [o for o in v4 if (o.data.get("https") or {}).get("status") is not None]
    # the reference: an IPv4 answer that is not a server error when there is one (one broken IPv4 backend
    # must not make every IPv6 address look different)
    ref = next((o for o in answered if o.data["https"]["status"] < 500), answered[0] if answered else None)
    if ref is None:
        why = "no A record" if not v4 else "HTTPS gives no answer over IPv4"
        why_vi = "không có bản ghi A" if not v4 else "HTTPS không trả lời qua IPv4"
        return [
            Outcome(
                "info",
                f"nothing to compare: {why}",
                f"không có gì để so sánh: {why_vi}",
                evidence=tuple(o.id for o in v4),
            )
        ]
    ok_max = int(profile.threshold("parity_max_distance", 10))
    fail_min = int(profile.threshold("parity_fail_distance", 24))
    return [_parity(o, ref, ok_max, fail_min) for o in v6]


def _parity(v6: Observation, ref: Observation, ok_max: int, fail_min: int) -> Outcome:
    a, b = ref.data["https"], v6.data.get("https") or {}
    addr, ev = v6.subject, (ref.id, v6.id)
    if b.get("status") is None:  # the root cause is VN-IPV6-WEB's: nothing answers over IPv6 here
        return Outcome(
            "info",
            f"nothing to compare: IPv6 ({addr}) gives no answer ({b.get('error')}); see VN-IPV6-WEB",
            f"không có gì để so sánh: IPv6 ({addr}) không trả lời ({b.get('error')}); xem VN-IPV6-WEB",
            subject=addr,
            evidence=ev,
            caused_by="VN-IPV6-WEB",
        )
    if (a["status"] >= 500) != (b["status"] >= 500):
        bad = "IPv6" if b["status"] >= 500 else "IPv4"
        return Outcome(
            "fail",
            f"server error over {bad} only: IPv4 {a['status']}, IPv6 {b['status']}",
            f"lỗi máy chủ chỉ qua {bad}: IPv4 {a['status']}, IPv6 {b['status']}",
            subject=addr,
            evidence=ev,
            hint="server_error",
        )
    if a["status"] != b["status"]:
        return Outcome(
            "fail",
            f"different HTTP status: IPv4 {a['status']}, IPv6 {b['status']}",
            f"mã HTTP khác nhau: IPv4 {a['status']}, IPv6 {b['status']}",
            subject=addr,
            evidence=ev,
        )
    if _redirect_key(a) != _redirect_key(b):
        return Outcome(
            "fail",
            f"redirects differ: IPv4 to {a.get('location')}, IPv6 to {b.get('location')}",
            f"chuyển hướng khác nhau: IPv4 tới {a.get('location')}, IPv6 tới {b.get('location')}",
            subject=addr,
            evidence=ev,
        )
    if a.get("body_sha256") == b.get("body_sha256"):
        return Outcome(
            "pass",
            f"same status {a['status']} and identical body over IPv4 and IPv6",
            f"cùng mã {a['status']} và nội dung giống hệt qua IPv4 và IPv6",
            subject=addr,
            evidence=ev,
        )
    dist = _distance(a.get("body_simhash"), b.get("body_simhash"))
    sizes = f"{a.get('body_length')} / {b.get('body_length')} bytes"
    sizes_vi = f"{a.get('body_length')} / {b.get('body_length')} byte"
    if dist <= ok_max:
        return Outcome(
            "pass",
            f"same status {a['status']}, near-identical body (simhash distance {dist}/64 ≤ {ok_max}; {sizes})",
            f"cùng mã {a['status']}, nội dung gần giống nhau (khoảng cách simhash {dist}/64 ≤ {ok_max}; {sizes_vi})",
            subject=addr,
            evidence=ev,
        )
    verdict = "fail" if dist >= fail_min else "warn"
    return Outcome(
        verdict,
        f"IPv6 serves a different page: simhash distance {dist}/64 (near-identical ≤ {ok_max}; {sizes})",
        f"IPv6 phục vụ trang khác: khoảng cách simhash {dist}/64 (gần giống nhau khi ≤ {ok_max}; {sizes_vi})",
        subject=addr,
        evidence=ev,
    )


def _redirect_key(answer: dict[str, Any]) -> tuple | None:
    """What a redirect means: scheme, host, port and path. The query (session identifiers, SSO state,
    nonce and return parameters differ on every request) and path parameters such as ;jsessionid= are
    left out; an unusable Location is compared as written."""
    loc = answer.get("location")
    if not loc:
        return None
    host = answer.get("host") or "invalid"
    parts = split_location(loc, f"https://{host}{answer.get('path') or '/'}")
    if parts.get("error"):
        return ("unusable", loc)
    path = ";".join(p.split(";", 1)[0] for p in [parts["path"]])
    return parts["scheme"], parts["host"], parts["port"], path


def _distance(a: int | None, b: int | None) -> int:
    if a is None or b is None:
        return 64
    return bin((a ^ b) & 0xFFFFFFFFFFFFFFFF).count("1")
