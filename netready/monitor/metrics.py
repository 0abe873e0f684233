"""Prometheus metrics of the monitor, read from the database on every scrape (a custom collector: no state in
the service, so any number of `netready serve` processes give the same numbers).

Per portal (labels portal, org):
- netready_compliant: 1 compliant, 0 not compliant; undetermined and crashed portals are left out (unknown);
- netready_score: the overall score 0-100;
- netready_rule_pass{rule,address}: 1 pass, 0.5 warn, 0 fail, per rule and subject (address, zone, or "" for the
  whole portal); error and info verdicts are left out (unknown is not a value);
- netready_cert_expiry_days, netready_rrsig_expiry_days: days left from now (negative: expired);
- netready_last_scan_timestamp_seconds: when the portal was last scanned.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from netready.monitor.db import FindingRow, Run, State

RULE_VALUE = {"pass": 1.0, "warn": 0.5, "fail": 0.0}


def _last_scans(engine: Engine, org: str | None) -> list[Any]:
    """(portal, org, last scan time, cert expiry, RRSIG expiry, status, score, finding set) of every scanned
    portal, in one query (store.last_runs)."""
    from netready.monitor.store import last_runs

    with Session(engine) as session:
        rows = last_runs(session.connection(), [Run.last_at, Run.cert_expires, Run.rrsig_expires, State.status,
                                                State.score, State.finding_set_id], org)
    return [(name, org_name, *rest) for name, _display, org_name, run_id, *rest in rows if run_id is not None]


def snapshot(engine: Engine, org: str | None = None) -> list[dict[str, Any]]:
    """Per portal: labels and values of its last scan, and its findings (rule, subject, verdict)."""
    from netready.monitor.store import findings_of

    rows = _last_scans(engine, org)
    with Session(engine) as session:
        sets = findings_of(session, {r[7] for r in rows if r[7] is not None})
    return [{"portal": p, "org": o, "last_at": last, "cert_expires": cert, "rrsig_expires": rrsig, "status": status,
             "score": score, "findings": [(rule, subject, v) for (rule, subject), (v, _lv) in
                                          sets.get(set_id, {}).items()]}
            for p, o, last, cert, rrsig, status, score, set_id in rows]


class MonitorCollector:
    """prometheus_client collector over the monitor database (optionally one organisation)."""

    def __init__(self, engine: Engine, org: str | None = None) -> None:
        self.engine = engine
        self.org = org

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = time.time()
        labels = ["portal", "org"]
        compliant = GaugeMetricFamily("netready_compliant", "1 when every required rule passes, 0 when one fails",
                                      labels=labels)
        score = GaugeMetricFamily("netready_score", "Overall score of the last scan (0-100)", labels=labels)
        rule = GaugeMetricFamily("netready_rule_pass", "Rule verdict per subject: 1 pass, 0.5 warn, 0 fail",
                                 labels=[*labels, "rule", "address"])
        cert = GaugeMetricFamily("netready_cert_expiry_days", "Days until the earliest certificate expires",
                                 labels=labels)
        rrsig = GaugeMetricFamily("netready_rrsig_expiry_days",
                                  "Days until the earliest RRSIG on the DNSSEC chain expires", labels=labels)
        last = GaugeMetricFamily("netready_last_scan_timestamp_seconds", "When the portal was last scanned",
                                 labels=labels)
        for row in snapshot(self.engine, self.org):
            lv = [row["portal"], row["org"]]
            if row["status"] in ("compliant", "not-compliant"):
                compliant.add_metric(lv, 1.0 if row["status"] == "compliant" else 0.0)
            if row["score"] is not None:
                score.add_metric(lv, float(row["score"]))
            for rule_id, subject, verdict in row["findings"]:
                if verdict in RULE_VALUE:
                    rule.add_metric([*lv, rule_id, subject], RULE_VALUE[verdict])
            if row["cert_expires"] is not None:
                cert.add_metric(lv, round((row["cert_expires"] - now) / 86400, 3))
            if row["rrsig_expires"] is not None:
                rrsig.add_metric(lv, round((row["rrsig_expires"] - now) / 86400, 3))
            last.add_metric(lv, float(row["last_at"]))
        yield from (compliant, score, rule, cert, rrsig, last)


HELP = {
    "netready_compliant": "1 when every required rule passes, 0 when one fails",
    "netready_score": "Overall score of the last scan (0-100)",
    "netready_rule_pass": "Rule verdict per subject: 1 pass, 0.5 warn, 0 fail",
    "netready_cert_expiry_days": "Days until the earliest certificate expires",
    "netready_rrsig_expiry_days": "Days until the earliest RRSIG on the DNSSEC chain expires",
    "netready_last_scan_timestamp_seconds": "When the portal was last scanned",
}


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    return repr(float(value))


# Finding sets never change (content-addressed): their rule lines are rendered once per process and reused on
# every scrape; only the portals' last runs are read each time.
_SET_LINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
SET_CACHE_MAX = 100_000


def _set_lines(engine: Engine, set_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    cache: OrderedDict = _SET_LINES.setdefault(engine, OrderedDict())
    missing = sorted(i for i in set_ids if i not in cache)
    fresh: dict[int, list[tuple[str, str]]] = {i: [] for i in missing}
    with Session(engine) as session:
        for chunk in range(0, len(missing), 500):
            for set_id, rule, subject, verdict in session.execute(
                    select(FindingRow.set_id, FindingRow.rule, FindingRow.subject, FindingRow.verdict)
                    .where(FindingRow.set_id.in_(missing[chunk:chunk + 500]))):
                value = RULE_VALUE.get(verdict)
                if value is not None:
                    fresh[set_id].append((f'rule="{_esc(rule)}",address="{_esc(subject)}"', repr(value)))
    cache.update(fresh)
    while len(cache) > SET_CACHE_MAX:
        cache.popitem(last=False)
    return {i: cache[i] for i in set_ids if i in cache}


def render(engine: Engine, org: str | None = None) -> bytes:
    """The text exposition format (0.0.4) of the monitor's metrics, written directly: prometheus_client's
    generic writer takes about 40 us a sample, too slow for 20,000 portals' rule series on every scrape. The
    samples are those MonitorCollector gives through prometheus_client (a test parses and compares both)."""
    now = time.time()
    rows = _last_scans(engine, org)
    sets = _set_lines(engine, {r[7] for r in rows if r[7] is not None})
    lines: dict[str, list[str]] = {name: [] for name in HELP}
    compliant, score_, rule_lines = lines["netready_compliant"], lines["netready_score"], lines["netready_rule_pass"]
    cert_, rrsig_, last_ = (lines["netready_cert_expiry_days"], lines["netready_rrsig_expiry_days"],
                            lines["netready_last_scan_timestamp_seconds"])
    for portal, org_name, last_at, cert, rrsig, status, score, set_id in rows:
        lv = f'portal="{_esc(portal)}",org="{_esc(org_name)}"'
        if status in ("compliant", "not-compliant"):
            compliant.append(f"netready_compliant{{{lv}}} {'1.0' if status == 'compliant' else '0.0'}")
        if score is not None:
            score_.append(f"netready_score{{{lv}}} {_num(score)}")
        for labels, value in sets.get(set_id, ()):
            rule_lines.append(f"netready_rule_pass{{{lv},{labels}}} {value}")
        if cert is not None:
            cert_.append(f"netready_cert_expiry_days{{{lv}}} {_num(round((cert - now) / 86400, 3))}")
        if rrsig is not None:
            rrsig_.append(f"netready_rrsig_expiry_days{{{lv}}} {_num(round((rrsig - now) / 86400, 3))}")
        last_.append(f"netready_last_scan_timestamp_seconds{{{lv}}} {_num(last_at)}")
    out = []
    for name, samples in lines.items():
        out.append(f"# HELP {name} {HELP[name]}\n# TYPE {name} gauge\n")
        if samples:
            out.append("\n".join(samples) + "\n")
    return "".join(out).encode()
