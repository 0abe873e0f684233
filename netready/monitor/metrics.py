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
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from netready.monitor.db import FindingRow, Organisation, Portal, Run, State

RULE_VALUE = {"pass": 1.0, "warn": 0.5, "fail": 0.0}


def snapshot(engine: Engine, org: str | None = None) -> list[dict[str, Any]]:
    """Per portal: labels and values of its last scan, and its findings (rule, subject, verdict)."""
    with Session(engine) as session:
        query = (select(Portal.name, Organisation.name, Run.last_at, Run.cert_expires, Run.rrsig_expires,
                        State.status, State.score, State.finding_set_id)
                 .join(Organisation, Organisation.id == Portal.org_id)
                 .join(Run, Run.id == Portal.last_run_id).join(State, State.id == Run.state_id))
        if org:
            query = query.where(Organisation.name == org)
        rows = session.execute(query).all()
        set_ids = sorted({r[7] for r in rows if r[7] is not None})
        findings: dict[int, list[tuple[str, str, str]]] = {}
        for chunk in range(0, len(set_ids), 500):
            for set_id, rule, subject, verdict in session.execute(
                    select(FindingRow.set_id, FindingRow.rule, FindingRow.subject, FindingRow.verdict)
                    .where(FindingRow.set_id.in_(set_ids[chunk:chunk + 500]))):
                findings.setdefault(set_id, []).append((rule, subject, verdict))
    return [{"portal": p, "org": o, "last_at": last, "cert_expires": cert, "rrsig_expires": rrsig, "status": status,
             "score": score, "findings": findings.get(set_id, [])}
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


def render(engine: Engine, org: str | None = None) -> bytes:
    """The text exposition format of the monitor's metrics."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(engine, org))
    return generate_latest(registry)
