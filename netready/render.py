"""Report rendering: table (tabulate's "simple" layout, netready/simple_table.py), json, csv (one row per
target), junit and html.

Renderers take a Report and return text; they never probe or judge.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sys
from typing import Any

from netready.model import Report
from netready.rules import CATEGORIES, catalogue
from netready.sanitize import csv_cell

FORMATS = ("table", "json", "csv", "html", "junit")

LABELS = {
    "en": {
        "target": "target", "rule": "rule", "level": "level", "verdict": "verdict", "subject": "on",
        "reason": "reason", "compliant": "COMPLIANT", "not-compliant": "NOT COMPLIANT",
        "undetermined": "UNDETERMINED (a required check could not run)", "score": "score",
        "addresses": "addresses", "none": "none", "fix": "How to fix", "remediate": "netready remediate",
    },
    "vi": {
        "target": "tên miền", "rule": "quy tắc", "level": "mức", "verdict": "kết quả", "subject": "trên",
        "reason": "lý do", "compliant": "ĐẠT", "not-compliant": "KHÔNG ĐẠT",
        "undetermined": "CHƯA XÁC ĐỊNH (có kiểm tra bắt buộc không chạy được)", "score": "điểm",
        "addresses": "địa chỉ", "none": "không có", "fix": "Cách khắc phục", "remediate": "netready remediate",
    },
}
VERDICT_WORDS = {
    "en": {"pass": "pass", "fail": "fail", "warn": "warn", "info": "info", "error": "error"},
    "vi": {"pass": "đạt", "fail": "không đạt", "warn": "cảnh báo", "info": "thông tin", "error": "lỗi"},
}
LEVEL_WORDS = {
    "en": {"required": "required", "recommended": "recommended", "info": "info"},
    "vi": {"required": "bắt buộc", "recommended": "khuyến nghị", "info": "thông tin"},
}
COLOURS = {"pass": "32", "fail": "31", "warn": "33", "info": "36", "error": "35"}


def use_colour(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def _paint(text: str, verdict: str, colour: bool) -> str:
    return f"\x1b[{COLOURS[verdict]}m{text}\x1b[0m" if colour else text


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def fix_line(f: Any, lang: str = "en") -> str:
    """One line on how to fix a finding (from the rule catalogue), with the playbook action if one fixes it."""
    if not getattr(f, "fix", None):
        return ""
    action = f.fix.get("action")
    tail = f" ({LABELS[lang]['remediate']} {action})" if action else ""
    return f.fix_text(lang) + tail


def render(report: Report, fmt: str = "table", lang: str = "en", colour: bool = False) -> str:
    if fmt == "table":
        return render_table(report, lang, colour)
    if fmt == "json":
        return report.to_json() + "\n"
    if fmt == "csv":
        return render_csv(report)
    if fmt == "junit":
        return render_junit(report, lang)
    if fmt == "html":
        return render_html(report, lang)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


PAGE_CHECK = {
    "en": {"label": "IPv6-only page check (VN-IPV6-ONLY)", "browser": "pages loaded in headless Chromium",
           "static": "HTML parsed, no browser (requests made by scripts are not seen): {why}"},
    "vi": {"label": "Kiểm tra trang chỉ IPv6 (VN-IPV6-ONLY)", "browser": "tải trang bằng Chromium không giao diện",
           "static": "chỉ phân tích HTML, không dùng trình duyệt (không thấy yêu cầu do script tạo ra): {why}"},
}


def page_check_mode(report: Report, lang: str = "en") -> str | None:
    """How the report's IPv6-only page check ran (browser or HTML only, and why), from its settings; None
    when the report does not say (older reports, merged reports whose vantage points differ)."""
    browser = report.settings.get("browser")
    if browser is None:
        return None
    text = PAGE_CHECK[lang]
    why = report.settings.get("browser_off") or "--no-browser"
    return text["browser"] if browser else text["static"].format(why=why)


def summary_line(report: Report, target: str, lang: str) -> str:
    labels = LABELS[lang]
    s = report.summary["targets"][target]
    scores = ", ".join(
        f"{CATEGORIES[c][lang]} {s['scores'][c]:.0f}%" for c in CATEGORIES if s["scores"].get(c) is not None
    )
    overall = s["scores"].get("overall")
    overall_txt = f"{overall:.0f}%" if overall is not None else "-"
    return f"{target}: {labels[s['status']]} — {labels['score']} {overall_txt} ({scores})"


def render_table(report: Report, lang: str = "en", colour: bool = False) -> str:
    from netready.simple_table import simple_table  # tabulate's layout; tabulate itself only for odd cells

    labels = LABELS[lang]
    rules = catalogue()
    out: list[str] = []
    for target in report.targets:
        name = target.ascii_name
        header = name if target.name == name else f"{target.name} ({name})"
        addrs = ", ".join(target.addresses) or labels["none"]
        error = f" — {target.error}" if target.error else ""
        out.append(f"== {header} — {labels['addresses']}: {addrs}{error}")
        rows = []
        for f in report.findings_for(name):
            rows.append([
                f.rule_id,
                LEVEL_WORDS[lang][f.level],
                _paint(VERDICT_WORDS[lang][f.verdict], f.verdict, colour),
                f.subject or "",
                _short(f.text(lang)),
            ])
        rows.sort(key=lambda r: list(rules).index(r[0]) if r[0] in rules else 999)
        out.append(simple_table(rows, [labels["rule"], labels["level"], labels["verdict"], labels["subject"],
                                       labels["reason"]]))
        fixes = sorted({(f.rule_id, fix_line(f, lang)) for f in report.findings_for(name) if f.fix},
                       key=lambda x: list(rules).index(x[0]) if x[0] in rules else 999)
        if fixes:
            out.append(f"{labels['fix']}:")
            out.extend(f"  {rule}: {line}" for rule, line in fixes)
        out.append(summary_line(report, name, lang))
        out.append("")
    if len(report.targets) > 1:
        out.append(render_overview(report, lang, colour))
    mode = page_check_mode(report, lang)
    if mode and not report.settings.get("browser") and any(t.ascii_name for t in report.targets):
        out.append(f"{PAGE_CHECK[lang]['label']}: {mode}")
    totals = report.summary.get("totals", {})
    if totals:
        out.append(
            f"{totals['targets']} target(s): {totals['compliant']} compliant, {totals['not_compliant']} not compliant,"
            f" {totals['undetermined']} undetermined — profile {report.profile}, netready {report.tool_version}"
        )
    return "\n".join(out) + "\n"


def render_overview(report: Report, lang: str = "en", colour: bool = False) -> str:
    """One line per target: status, scores, and the required rules that fail or could not run."""
    from netready.simple_table import simple_table

    labels = LABELS[lang]
    head = {"en": ["target", "status", "score", "HTTPS/TLS", "IPv6", "DNSSEC", "required rules failing / not run"],
            "vi": ["tên miền", "trạng thái", "điểm", "HTTPS/TLS", "IPv6", "DNSSEC",
                   "quy tắc bắt buộc không đạt / không chạy"]}[lang]
    rows = []
    for target in report.targets:
        s = report.summary["targets"][target.ascii_name]
        verdict = {"compliant": "pass", "not-compliant": "fail", "undetermined": "error"}[s["status"]]

        def pct(key: str, scores: dict = s["scores"]) -> str:  # type: ignore[type-arg]
            return "-" if scores.get(key) is None else f"{scores[key]:.0f}%"

        problems = ", ".join(s["failed_required"] + [f"{r} (error)" for r in s["error_required"]])
        rows.append([target.ascii_name, _paint(labels[s["status"]], verdict, colour), pct("overall"), pct("https"),
                     pct("ipv6"), pct("dnssec"), problems or "-"])
    return simple_table(rows, head) + "\n"


def render_csv(report: Report) -> str:
    """One row per target, one column per rule (worst verdict over its subjects), pshtt-style."""
    order = ["error", "fail", "warn", "info", "pass"]
    rules = list(catalogue())
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["name", "ascii_name", "status", "score", "ipv4", "ipv6", *rules])
    for target in report.targets:
        worst: dict[str, str] = {}
        found = report.findings_for(target.ascii_name)
        judged = {f.rule_id for f in found if not f.caused_by}
        for f in found:
            if f.caused_by and f.rule_id in judged:
                continue  # a consequence on one address does not hide the verdict on the others
            cur = worst.get(f.rule_id)
            if cur is None or order.index(f.verdict) < order.index(cur):
                worst[f.rule_id] = f.verdict
        s = report.summary["targets"][target.ascii_name]
        writer.writerow([csv_cell(cell) for cell in (
            target.name, target.ascii_name, s["status"], s["scores"].get("overall"),
            " ".join(target.ipv4), " ".join(target.ipv6), *[worst.get(r, "") for r in rules],
        )])
    return buf.getvalue()


def render_junit(report: Report, lang: str = "en") -> str:
    """One testsuite per target, one testcase per rule and subject; required fails are failures."""
    from xml.etree import ElementTree as ET

    suites = ET.Element("testsuites", name="netready", timestamp=report.started)
    for target in report.targets:
        findings = report.findings_for(target.ascii_name)
        suite = ET.SubElement(suites, "testsuite", name=target.ascii_name, tests=str(len(findings)))
        failures = errors = skipped = 0
        for f in findings:
            case_name = f"{f.rule_id}" + (f" [{f.subject}]" if f.subject else "")
            case = ET.SubElement(suite, "testcase", classname=f"netready.{target.ascii_name}", name=case_name)
            text = f.text(lang)
            if f.verdict == "error":
                errors += 1
                ET.SubElement(case, "error", message=text)
            elif f.verdict == "fail" and f.level == "required":
                failures += 1
                ET.SubElement(case, "failure", message=text)
            elif f.verdict in ("fail", "warn", "info"):
                skipped += 1 if f.verdict == "info" else 0
                ET.SubElement(case, "system-out").text = f"{f.verdict}: {text}"
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


MAX_PICTURES = 50  # a chain picture costs a Graphviz run; large batches get the tables only


def _chain_pictures(report: Report) -> dict[str, str]:
    """Inline SVG of each target's DNSSEC chain (when Graphviz is there and the batch is small)."""
    if len(report.targets) > MAX_PICTURES:
        return {}
    try:
        from netready.views.dnssec import chain_svg, sanitize_svg
    except ImportError:
        return {}
    pictures: dict[str, str] = {}
    for target in report.targets:
        observations = report.observations_for(target.ascii_name)
        if not any(o.probe == "dnssec" and o.id.endswith(":chain") for o in observations):
            continue
        try:
            svg = chain_svg(observations)
        except (RuntimeError, OSError, KeyError, TypeError, ValueError):
            continue
        pictures[target.ascii_name] = sanitize_svg(svg)
    return pictures


def _certificates(report: Report) -> dict[str, list[dict[str, Any]]]:
    """Per target: the leaf certificate each address presented, with the facts an auditor files."""
    out: dict[str, list[dict[str, Any]]] = {}
    for o in report.observations:
        if o.probe != "tls" or not isinstance(o.data, dict):
            continue
        cert = o.data.get("certificate") or {}
        chain = cert.get("chain") or []
        if not chain:
            continue
        leaf = chain[0]
        out.setdefault(o.target, []).append({
            "address": o.data.get("address", o.subject),
            "subject": leaf.get("subject"),
            "issuer": leaf.get("issuer"),
            "names": ", ".join(leaf.get("dns_names") or leaf.get("common_names") or []),
            "key": f"{leaf.get('key_type')} {leaf.get('key_bits')}",
            "signature": leaf.get("signature_algorithm"),
            "not_before": leaf.get("not_before"),
            "not_after": leaf.get("not_after"),
            "sha256": leaf.get("sha256") or leaf.get("fingerprint_sha256") or "",
            "chain_sent": len(chain),
            "problems": ", ".join(cert.get("reasons") or []) or "-",
        })
    return out


def render_html(report: Report, lang: str = "en") -> str:
    """A self-contained evidence page: inline CSS and SVG, no network assets, raw JSON hashed in the appendix."""
    from netready.templating import get_template, with_csp  # Jinja2 only for HTML: a table run does not load it

    raw = report.to_json()
    return with_csp(get_template("report.html.j2").render(
        report=report,
        lang=lang,
        labels=LABELS[lang],
        verdicts=VERDICT_WORDS[lang],
        levels=LEVEL_WORDS[lang],
        rules=catalogue(),
        categories=CATEGORIES,
        pictures=_chain_pictures(report),
        certificates=_certificates(report),
        fix_line=fix_line,
        raw_json=raw,
        page_check=(PAGE_CHECK[lang]["label"], page_check_mode(report, lang)),
        raw_sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
    ))
