"""The text views of `netready ipv6 NAME`: what the IPv6 probe and the IPv6-only page check saw, as plain-text
tables (facts only; the verdicts come from the judge and are rendered below them)."""

from __future__ import annotations

from netready.model import Observation
from netready.tables.web import host_port

_IPV6_LABELS = {
    "en": {
        "aaaa": "AAAA records", "none": "none", "addr": "address", "class": "class", "tcp80": "TCP 80",
        "https": "HTTPS", "body": "body sha256 / simhash", "ns": "name servers of", "ns_name": "name server",
        "udp": "SOA over IPv6 UDP", "tcp": "SOA over IPv6 TCP", "v6only": "AAAA resolved from the root over IPv6 only",
        "icmp": "ICMPv6 (information)", "skipped": "skipped", "open": "open", "closed": "closed",
        "no_reply": "no reply", "hops": "hops", "error": "error",
    },
    "vi": {
        "aaaa": "Bản ghi AAAA", "none": "không có", "addr": "địa chỉ", "class": "loại", "tcp80": "TCP 80",
        "https": "HTTPS", "body": "sha256 / simhash nội dung", "ns": "máy chủ tên miền của", "ns_name": "máy chủ",
        "udp": "SOA qua IPv6 UDP", "tcp": "SOA qua IPv6 TCP", "v6only": "Phân giải AAAA từ gốc chỉ qua IPv6",
        "icmp": "ICMPv6 (tham khảo)", "skipped": "bỏ qua", "open": "mở", "closed": "đóng",
        "no_reply": "không trả lời", "hops": "chặng", "error": "lỗi",
    },
}  # fmt: skip


def render_ipv6_text(observations: list[Observation], lang: str = "en") -> str:
    """Plain-text tables of what the IPv6 probe saw (facts only; verdicts come from the judge)."""
    from tabulate import tabulate

    t = _IPV6_LABELS.get(lang, _IPV6_LABELS["en"])
    obs = [o for o in observations if o.probe == "ipv6"]
    out: list[str] = []

    def one(suffix: str) -> Observation | None:
        return next((o for o in obs if o.id.endswith(f":{suffix}")), None)

    if (a := one("aaaa")) is not None:
        recs = a.data.get("records") or []
        listed = ", ".join(f"{r['address']} ({r['class']})" for r in recs) or t["none"]
        out.append(f"{t['aaaa']}: {listed}" + (f"  [{t['error']}: {a.error}]" if a.error else ""))
    rows = []
    for w in (o for o in obs if ":web:" in o.id):
        h = w.data.get("https") or {}
        tcp80 = (w.data.get("tcp") or {}).get("80") or {}
        err80 = tcp80.get("error") or ""
        state = t["open"] if tcp80.get("open") else (t["closed"] if "refused" in err80 else err80.split(": ")[-1])
        https = f"{h['status']} {h.get('reason') or ''}".strip() if h.get("status") is not None else h.get("error")
        body = f"{(h.get('body_sha256') or '')[:12]} / {h.get('body_simhash', '')}" if h.get("status") else ""
        rows.append([w.subject, w.data.get("class"), state, https, body])
    if rows:
        out.append(tabulate(rows, headers=[t["addr"], t["class"], t["tcp80"], t["https"], t["body"]]))
    if (d := one("dns")) is not None:
        zone = d.data.get("zone") or d.subject
        nrows = []
        for ns in d.data.get("name_servers") or []:
            if not ns.get("v6"):
                nrows.append([ns["name"], t["none"], "-", "-"])
            for r in ns.get("v6", []):
                cell = [("ok" if r[p]["ok"] else r[p].get("error") or "fail") for p in ("udp", "tcp")]
                nrows.append([ns["name"], f"{r['address']} ({r['class']})", *cell])
        out.append(f"{t['ns']} {zone}" + (f"  [{t['error']}: {d.error}]" if d.error else ""))
        if nrows:
            out.append(tabulate(nrows, headers=[t["ns_name"], "AAAA", t["udp"], t["tcp"]]))
    if (v := one("v6only")) is not None:
        if v.data.get("skipped"):
            res = f"{t['skipped']}: {v.data['skipped']}"
        else:
            res = ", ".join(v.data.get("records") or []) or f"{t['none']} ({v.data.get('rcode')})"
        out.append(f"{t['v6only']}: {res}" + (f"  [{t['error']}: {v.error}]" if v.error else ""))
    for i in (o for o in obs if ":icmp:" in o.id):
        if i.data.get("skipped"):
            out.append(f"{t['icmp']} {i.subject}: {t['skipped']}: {i.data['skipped']}")
            continue
        echo = i.data.get("echo") or {}
        first = f"{echo.get('rtt_ms')} ms" if echo.get("replied") else echo.get("type") or t["no_reply"]
        hops = " > ".join(f"{h['from']}" for h in i.data.get("trace") or [])
        out.append(f"{t['icmp']} {i.subject}: {first}; {t['hops']}: {hops or '-'}")
    return "\n\n".join(out) + "\n"


_IPV6ONLY_LABELS = {
    "en": {"title": "On an IPv6-only network", "page": "page", "mode": "mode", "state": "state",
           "host": "host", "needed": "needed for", "aaaa": "AAAA", "ipv6": "IPv6 connection",
           "resolution": "resolution over IPv6 only", "links": "links leaving the site", "purpose": "purpose",
           "ok": "ok", "static": "static HTML (no browser)", "none": "none"},
    "vi": {"title": "Trên mạng chỉ có IPv6", "page": "trang", "mode": "cách đo", "state": "trạng thái",
           "host": "máy chủ", "needed": "cần cho", "aaaa": "AAAA", "ipv6": "kết nối IPv6",
           "resolution": "phân giải chỉ qua IPv6", "links": "liên kết ra ngoài trang", "purpose": "mục đích",
           "ok": "tốt", "static": "chỉ phân tích HTML (không trình duyệt)", "none": "không có"},
}


def render_ipv6only_text(observations: list[Observation], lang: str = "en") -> str:
    """Plain-text tables of what the IPv6-only check saw (facts only; the verdict comes from the judge)."""
    from tabulate import tabulate

    t = _IPV6ONLY_LABELS.get(lang, _IPV6ONLY_LABELS["en"])
    obs = [o for o in observations if o.probe == "ipv6only"]
    hosts = next((o for o in obs if o.id.endswith(":hosts")), None)
    out = [t["title"]]
    for page in (o for o in obs if ":page:" in o.id):
        d = page.data
        mode = d.get("engine") if d.get("mode") == "browser" else f"{t['static']}: {d.get('static_reason')}"
        out.append(f"{t['page']} {d.get('url')}: {t['state']} {d.get('state')}"
                   + (f" ({d.get('error')})" if d.get("error") else "")
                   + f"; {len(d.get('requests') or [])} requests; {t['mode']}: {mode}")
    if hosts is None or not hosts.data:
        return "\n".join(out + ([f"error: {hosts.error}"] if hosts is not None and hosts.error else []))
    kinds: dict[str, list[str]] = {}
    for page in (o for o in obs if ":page:" in o.id):
        for req in page.data.get("requests") or []:
            if req["kind"] not in kinds.setdefault(req["host"], []):
                kinds[req["host"]].append(req["kind"])
        for form in page.data.get("forms") or []:
            hp = host_port(form.get("action") or "")
            if hp and "form-action" not in kinds.setdefault(hp[0], []):
                kinds[hp[0]].append("form-action")
    walks = hosts.data.get("resolution") or {}
    rows = []
    for rec in hosts.data.get("transport") or []:
        walk = walks.get(rec["host"]) or {}
        res = walk.get("error") or walk.get("skipped") or ", ".join(walk.get("records") or []) or t["none"]
        need = ", ".join(kinds.get(rec["host"], [])) or rec.get("via", "")
        rows.append([f"{rec['host']}:{rec['port']}", need, ", ".join(rec.get("aaaa") or []) or t["none"],
                     t["ok"] + f" ({rec['address']})" if rec.get("address") else rec.get("error"), res])
    if rows:
        out.append(tabulate(rows, headers=[t["host"], t["needed"], t["aaaa"], t["ipv6"], t["resolution"]],
                            maxcolwidths=[34, 18, 22, 40, 40]))
    links = hosts.data.get("links") or []
    if links:
        ok = {r["host"] for r in hosts.data.get("transport") or [] if r.get("address")}
        out.append(f"{t['links']}:")
        out.append(tabulate([[lk["href"], lk["purpose"], t["ok"] if lk["host"] in ok else "-"] for lk in links[:20]],
                            headers=["URL", t["purpose"], "IPv6"], maxcolwidths=[60, 10, 6]))
    return "\n".join(out)
