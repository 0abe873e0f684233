"""What the `netready monitor` commands do apart from parsing: open the database, call the store, render.

Renderers take plain data (store.status rows, history and diff dicts) and give text: table (tabulate), JSON, CSV.
Table cells are stripped of control characters: names and error texts may come from servers or files.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from netready.monitor.texts import STATUS_WORDS, t

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
CHANGE_WORDS = {"vi": {"first scan": "lần quét đầu", "evidence changed, verdicts the same":
                       "bằng chứng thay đổi, kết quả như cũ", "not scanned yet": "chưa quét", "status": "trạng thái",
                       "vantage points": "điểm đo"}}


def clean(value: Any) -> str:
    return CONTROL.sub("?", "" if value is None else str(value))


def when(ts: int | float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _change(text: str, lang: str) -> str:
    for en, vi in CHANGE_WORDS.get(lang, {}).items():
        text = text.replace(en, vi)
    return text


def _width(text: str) -> int:
    """Terminal columns of a cell: Vietnamese may come decomposed (combining marks take none), CJK takes two."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def plain_table(rows: list[list[str]], headers: list[str], right: frozenset[int] = frozenset()) -> str:
    """tabulate's "simple" layout (columns two spaces apart, a dashed line under the headers; columns in `right`
    aligned right), in one pass: tabulate took 2.7 s of CPU for the 20,000 rows of a national `monitor status`
    (it guesses every cell's type)."""
    widths = [_width(h) for h in headers]
    measured = [[_width(c) for c in row] for row in rows]
    for row in measured:
        widths = [max(a, b) for a, b in zip(widths, row, strict=True)]

    def line(cells: list[str], sizes: list[int]) -> str:
        return "  ".join(" " * (w - n) + c if i in right else c + " " * (w - n)
                         for i, (c, n, w) in enumerate(zip(cells, sizes, widths, strict=True))).rstrip()

    out = [line(headers, [_width(h) for h in headers]), line(["-" * w for w in widths], widths)]
    out += [line(row, sizes) for row, sizes in zip(rows, measured, strict=True)]
    return "\n".join(out) + "\n"


def render_status(rows: list[Any], fmt: str, lang: str) -> str:
    if fmt == "json":  # one portal per line: the C encoder (indent= falls back to the pure-Python one, 5x slower)
        return "[\n" + ",\n".join(json.dumps(r.to_dict(), ensure_ascii=False) for r in rows) + "\n]\n" if rows \
            else "[]\n"
    keys = ["portal", "org", "last_scan", "status", "score", "failed_required", "cert_days", "rrsig_days", "reachable",
            "changes"]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(keys)
        for r in rows:
            d = r.to_dict()
            w.writerow([when(d["last_scan"]) if k == "last_scan" else " ".join(d[k]) if isinstance(d[k], list)
                        else "" if d[k] is None else d[k] for k in keys])
        return buf.getvalue()
    words = STATUS_WORDS[lang]
    table = [[clean(r.display_name), clean(r.org), when(r.last_scan), words.get(r.status, r.status),
              "-" if r.score is None else f"{r.score:g}", " ".join(r.failed_required) or "-",
              "-" if r.cert_days is None else f"{r.cert_days:g}", "-" if r.rrsig_days is None else f"{r.rrsig_days:g}",
              clean(_change("; ".join(r.changes), lang)) or "-"] for r in rows]
    head = [t(lang, k) for k in ("h_portal", "h_org", "h_last", "h_status", "h_score", "h_failing", "h_cert",
                                 "h_rrsig", "h_changed")]
    return plain_table(table, head, right=frozenset({4, 6, 7}))  # score and day counts


def render_history(hist: dict[str, Any], fmt: str, lang: str) -> str:
    if fmt == "json":
        return json.dumps(hist, ensure_ascii=False, indent=2) + "\n"
    from tabulate import tabulate

    words = STATUS_WORDS[lang]
    periods = [[f"{when(r['first_scan'])} .. {when(r['last_scan'])}", r["scans"], words.get(r["status"], r["status"]),
                "-" if r["score"] is None else f"{r['score']:g}", " ".join(r["failed_required"]) or clean(r["error"])
                or "-"] for r in hist["runs"]]
    out = f"{clean(hist['display_name'])} ({clean(hist['org'])})\n"
    out += tabulate(periods, headers=[t(lang, k) for k in ("h_period", "h_scans", "h_status", "h_score", "h_failing")])
    changes = [[when(c["at"]), clean(c["rule"] or t(lang, "h_status")), clean(c["subject"] or "-"),
                words.get(c["from"], c["from"]) if c["kind"] == "status" else c["from"] or "-",
                words.get(c["to"], c["to"]) if c["kind"] == "status" else c["to"] or "-"] for c in hist["changes"]]
    if changes:
        out += "\n\n" + tabulate(changes, headers=[t(lang, k) for k in ("h_at", "h_rule", "h_subject", "h_from",
                                                                         "h_to")])
    return out + "\n"


def render_diff(d: dict[str, Any], fmt: str, lang: str) -> str:
    if fmt == "json":
        return json.dumps(d, ensure_ascii=False, indent=2) + "\n"
    from tabulate import tabulate

    words = STATUS_WORDS[lang]
    tot = d["totals"]

    def counts(c: dict[str, int], status: bool = False) -> str:
        return ", ".join(f"{words.get(k, k) if status else k} {v}" for k, v in sorted(c.items())) or "-"

    out = t(lang, "diff_head", since=when(d["since"]), n=tot["portals_changed"], became=counts(tot["became"], True),
            failing=counts(tot["rules_newly_failing"]), passing=counts(tot["rules_newly_passing"])) + "\n"
    rows = [[clean(p["portal"]), clean(p["org"]), when(p["at"]),
             f"{words.get(p['from'], p['from'])} -> {words.get(p['to'], p['to'])}",
             "; ".join(f"{c['rule']}{'@' + clean(c['subject']) if c['subject'] else ''} {c['from'] or '-'} -> "
                       f"{c['to'] or '-'}" for c in p["changes"]) or "-"] for p in d["portals"]]
    if rows:
        out += tabulate(rows, headers=[t(lang, k) for k in ("h_portal", "h_org", "h_at", "h_status", "h_changes")])
        out += "\n"
    return out


def round_line(result: Any, lang: str) -> str:
    statuses = list(result.scanned.values())
    skipped = t(lang, "skipped", n=len(result.skipped)) if result.skipped else ""
    return t(lang, "round", n=len(statuses), compliant=statuses.count("compliant"),
             not_compliant=statuses.count("not-compliant"), undetermined=statuses.count("undetermined"),
             crashed=statuses.count("crashed"), skipped=skipped, alerts=result.alerts_sent)
