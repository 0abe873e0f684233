"""`netready tls NAME`: per address, what the TLS probe saw (versions, accepted suites with their flags,
certificates, groups, post-quantum hybrids, HTTP, the BP-TLS-VULNS sub-checks) and how it stands against
Mozilla's "intermediate" profile (judged by netready/evaluate/tls.py mozilla_intermediate). Reads saved
observations only (shape: docs/probes/tls.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from netready.evaluate.tls import mozilla_intermediate
from netready.model import Observation
from netready.tables.tls import VULN_TITLES, classify

_L = {
    "en": {
        "versions": "Protocols",
        "suites": "Suites",
        "cert": "Certificate",
        "groups": "Groups",
        "http": "HTTP",
        "yes": "accepted",
        "no": "refused",
        "unknown": "unknown",
        "pref": "order",
        "conn": "connections",
        "valid": "valid",
        "invalid": "NOT valid",
        "days": "days left",
        "stapled": "OCSP stapled",
        "nostaple": "no OCSP staple",
        "mozilla": "Mozilla intermediate",
        "ok": "compliant",
        "dev": "deviations",
        "pq": "Post-quantum",
        "selected": "selected",
        "hrr": "asked for by HelloRetryRequest",
        "none": "classical groups only",
        "choked": "breaks on the large hello",
        "nosni": "Without SNI",
        "same": "same certificate",
        "other": "another certificate",
        "noanswer": "no answer",
    },
    "vi": {
        "versions": "Giao thức",
        "suites": "Bộ mã",
        "cert": "Chứng thư số",
        "groups": "Nhóm trao đổi khóa",
        "http": "HTTP",
        "yes": "chấp nhận",
        "no": "từ chối",
        "unknown": "không rõ",
        "pref": "thứ tự",
        "conn": "kết nối",
        "valid": "hợp lệ",
        "invalid": "KHÔNG hợp lệ",
        "days": "ngày còn lại",
        "stapled": "có OCSP stapling",
        "nostaple": "không có OCSP stapling",
        "mozilla": "Mozilla intermediate",
        "ok": "tuân thủ",
        "dev": "sai khác",
        "pq": "Hậu lượng tử",
        "selected": "được chọn",
        "hrr": "được yêu cầu qua HelloRetryRequest",
        "none": "chỉ nhóm cổ điển",
        "choked": "lỗi với gói chào lớn",
        "nosni": "Không có SNI",
        "same": "cùng chứng thư",
        "other": "chứng thư khác",
        "noanswer": "không trả lời",
    },
}


def render_tls_text(observations: list[Observation], lang: str = "en") -> str:
    """Human summary per address: versions, accepted suites, certificate, groups, HTTP, Mozilla profile."""
    t = _L.get(lang, _L["en"])
    lines: list[str] = []
    for obs in (o for o in observations if o.probe == "tls"):
        d = obs.data or {}
        lines.append(f"== {obs.target} {obs.subject}" + (f" port {d['port']}" if d.get("port", 443) != 443 else ""))
        if obs.error:
            lines.append(f"   ERROR: {obs.error}")
        for v, r in (d.get("versions") or {}).items():
            state = t["yes"] if r.get("accepted") else t["no"] if r.get("accepted") is False else t["unknown"]
            if r.get("no_answer"):
                state += f" ({t['noanswer']})"
            pref = f"  ({t['pref']}: {r['preference']})" if r.get("preference") else ""
            lines.append(f"   {v:8} {state}{pref}")
            for s in r.get("suites", []):
                info = classify(s)
                flags = ",".join(info.flags) or ("AEAD+FS" if info.aead and info.fs else "")
                lines.append(f"       {s}  {flags}")
        g = d.get("groups") or {}
        if g.get("accepted"):
            lines.append(
                f"   {t['groups']}: {', '.join(g['accepted'])}"
                + (f"  DHE {d['dhe_bits']} bits" if d.get("dhe_bits") else "")
            )
        for c in [d.get("certificate"), *(d.get("certificates") or [])]:
            if not c:
                continue
            leaf = c["chain"][0]
            left = ""
            try:
                na = datetime.fromisoformat(leaf["not_after"].replace("Z", "+00:00"))
                st = datetime.fromisoformat(obs.started.replace("Z", "+00:00"))
                left = f", {(na - st).days} {t['days']}"
            except (ValueError, KeyError, AttributeError):
                pass
            names = ", ".join(leaf["dns_names"][:4] or leaf["common_names"])
            lines.append(
                f"   {t['cert']}: {leaf['key_type']} {leaf['key_bits']}, {leaf['signature_algorithm']}, [{names}]{left}"
            )
            lines.append(
                f"       {t['valid'] if c['valid'] else t['invalid'] + ': ' + ', '.join(c['reasons'])}; "
                f"chain {c['chain_length']}; {t['stapled'] if c['ocsp_stapled'] else t['nostaple']}"
            )
        n = d.get("no_sni") or {}
        if n.get("handshake"):
            seen = t["same"] if n.get("same_certificate") else f"{t['other']} {n.get('subject')}"
            lines.append(f"   {t['nosni']}: {seen}")
        pq = d.get("pq") or {}
        if pq.get("X25519MLKEM768") is not None:
            got = [f"{g} {t['selected'] if pq[g].get('selected') else t['hrr']}" for g in ("X25519MLKEM768",
                   "SecP256r1MLKEM768") if (pq.get(g) or {}).get("selected") or (pq.get(g) or {}).get("hrr")]
            choked = f"; {t['choked']}" if pq.get("choked") else ""
            lines.append(f"   {t['pq']}: {', '.join(got) or t['none']}{choked}")
        h = d.get("http") or {}
        if h:
            hs, hp = h.get("https") or {}, h.get("http") or {}
            hsts = h.get("hsts")
            lines.append(
                f"   {t['http']}: https {hs.get('status') or hs.get('error')}; "
                f"HSTS {hsts.get('max_age') if hsts else '-'}; port 80 "
                f"{(hp.get('status') or hp.get('error')) if hp else '-'} {hp.get('location') or ''}".rstrip()
            )
        if "groups" in d:  # a full scan of the address (not a refused port): how it stands against the profile
            m = mozilla_intermediate(d)
            verdict = t["ok"] if m["compliant"] else t["dev"] + ": " + "; ".join(m["deviations"])
            lines.append(f"   {t['mozilla']}: {verdict}")
        lines.extend(_vuln_lines(d, lang))
        cnt = d.get("counts")
        if cnt:
            lines.append(f"   {cnt['tcp_connections']} {t['conn']}, {obs.duration_ms:.0f} ms")
        for e in d.get("errors", []):
            lines.append(f"   ! {e}")
    return "\n".join(lines) + "\n"


def _vuln_lines(data: dict[str, Any], lang: str = "en") -> list[str]:
    """One line per BP-TLS-VULNS sub-check (its result and evidence)."""
    vulns = data.get("vulns") or {}
    if not vulns.get("checks"):
        return []
    i = 1 if lang == "vi" else 0
    head = ("Weaknesses", "Điểm yếu")[i] + f" ({vulns.get('connections')} " + ("connections", "kết nối")[i] + ")"
    lines = [f"   {head}:"]
    for e in vulns["checks"]:
        title = VULN_TITLES.get(e["name"], (e["name"], e["name"]))[i]
        lines.append(f"       {title:33} {e['result']:15} {e['evidence']}")
    return lines
