"""Prometheus metrics of the monitor, read from the database on every scrape (no state of record in the service:
any number of `netready serve` processes give the same numbers).

Per portal (labels portal, org):
- netready_compliant: 1 compliant, 0 not compliant; undetermined and crashed portals are left out (unknown);
- netready_score: the overall score 0-100;
- netready_rule_pass{rule,address}: 1 pass, 0.5 warn, 0 fail, per rule and subject (address, zone, or "" for the
  whole portal); error and info verdicts are left out (unknown is not a value);
- netready_cert_expiry_days, netready_rrsig_expiry_days: days left from now (negative: expired);
- netready_last_scan_timestamp_seconds: when the portal was last scanned.

A scrape reads the portals' latest scans (db.Latest: one row per portal, joined by key) and nothing else. The
rule samples of a portal are kept on its Latest row (`rule_lines`, written with the scan); `render` keeps what it
rendered per portal and renders again only the portals whose latest scan changed (see `render`).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from netready.monitor.db import Latest, Organisation, Portal

RULE_VALUE = {"pass": 1.0, "warn": 0.5, "fail": 0.0}
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


def rule_lines(findings: Iterable[tuple[Any, ...]]) -> str:
    """The netready_rule_pass samples of one finding set without the portal's labels, one per line:
    `rule="R",address="S"} V` (pass, warn and fail only; one sample per rule and subject). Stored on the portal's
    Latest row when its finding set changes (store.record; the migration 0002 fills it for older databases)."""
    verdicts: dict[tuple[str, str], str] = {}
    for rule, subject, verdict, *_rest in sorted(set(findings)):
        verdicts[(rule, subject or "")] = verdict
    return "\n".join(f'rule="{_esc(rule)}",address="{_esc(subject)}"}} {RULE_VALUE[verdict]!r}'
                     for (rule, subject), verdict in verdicts.items() if verdict in RULE_VALUE)


# --- the reference: prometheus_client's collector over the normalised tables ---------------------------------


def snapshot(engine: Engine, org: str | None = None) -> list[dict[str, Any]]:
    """Per scanned portal: labels and values of its last scan, and its findings (rule, subject, verdict) read
    from the finding set itself (not from the rule_lines kept for `render`)."""
    from netready.monitor.store import findings_of, latest_scans

    with Session(engine) as session:
        rows = latest_scans(session.connection(), [Latest.last_at, Latest.cert_expires, Latest.rrsig_expires,
                                                   Latest.status, Latest.score, Latest.finding_set_id], org,
                            scanned_only=True)
        sets = findings_of(session, {r[8] for r in rows if r[8] is not None})
    return [{"portal": p, "org": o, "last_at": last, "cert_expires": cert, "rrsig_expires": rrsig, "status": status,
             "score": score, "findings": [(rule, subject, v) for (rule, subject), (v, _lv) in
                                          sets.get(set_id, {}).items()]}
            for p, _display, o, last, cert, rrsig, status, score, set_id in rows]


class MonitorCollector:
    """prometheus_client collector over the monitor database (optionally one organisation). `render` gives the
    same samples much faster; this one is the reference its test compares with."""

    def __init__(self, engine: Engine, org: str | None = None) -> None:
        self.engine = engine
        self.org = org

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = time.time()
        labels = ["portal", "org"]
        fam = {name: GaugeMetricFamily(name, text, labels=[*labels, "rule", "address"] if name ==
                                       "netready_rule_pass" else labels) for name, text in HELP.items()}
        for row in snapshot(self.engine, self.org):
            lv = [row["portal"], row["org"]]
            if row["status"] in ("compliant", "not-compliant"):
                fam["netready_compliant"].add_metric(lv, 1.0 if row["status"] == "compliant" else 0.0)
            if row["score"] is not None:
                fam["netready_score"].add_metric(lv, float(row["score"]))
            for rule_id, subject, verdict in row["findings"]:
                if verdict in RULE_VALUE:
                    fam["netready_rule_pass"].add_metric([*lv, rule_id, subject], RULE_VALUE[verdict])
            if row["cert_expires"] is not None:
                fam["netready_cert_expiry_days"].add_metric(lv, round((row["cert_expires"] - now) / 86400, 3))
            if row["rrsig_expires"] is not None:
                fam["netready_rrsig_expiry_days"].add_metric(lv, round((row["rrsig_expires"] - now) / 86400, 3))
            fam["netready_last_scan_timestamp_seconds"].add_metric(lv, float(row["last_at"]))
        yield from fam.values()


# --- the fast writer ----------------------------------------------------------------------------------------

# The families that change only when a portal's latest scan changes; the expiry days change with the clock.
STATIC = ("netready_compliant", "netready_score", "netready_rule_pass", "netready_last_scan_timestamp_seconds")


@dataclass
class _Rendered:
    """What the last scrape (of one organisation filter) rendered: per static family the joined samples, and per
    portal the key it was rendered with, its label text and where its samples are in each family."""

    order: list[int] = field(default_factory=list)
    keys: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    labels: dict[int, str] = field(default_factory=dict)
    spans: dict[int, tuple[int, ...]] = field(default_factory=dict)  # (start, end) per STATIC family
    families: dict[str, bytes] = field(default_factory=lambda: dict.fromkeys(STATIC, b""))


class _Joiner:
    """Builds one family's bytes from pieces: new samples, or spans of the previous bytes (adjacent spans are
    taken as one slice: a scrape where few portals changed copies a few large slices)."""

    def __init__(self, old: bytes) -> None:
        self.old = memoryview(old)
        self.pieces: list[Any] = []
        self.size = 0
        self.pending: tuple[int, int] | None = None

    def _flush(self) -> None:
        if self.pending is not None:
            self.pieces.append(self.old[self.pending[0]:self.pending[1]])
            self.pending = None

    def keep(self, start: int, end: int) -> tuple[int, int]:
        if self.pending is not None and self.pending[1] == start:
            self.pending = (self.pending[0], end)
        else:
            self._flush()
            self.pending = (start, end)
        at = self.size
        self.size += end - start
        return at, self.size

    def add(self, data: bytes) -> tuple[int, int]:
        self._flush()
        self.pieces.append(data)
        at = self.size
        self.size += len(data)
        return at, self.size

    def result(self) -> bytes:
        self._flush()
        return b"".join(self.pieces)


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> (lock, {org filter: _Rendered})
MAX_FILTERS = 16


def _cache(engine: Engine) -> tuple[threading.Lock, dict[str | None, _Rendered]]:
    found = _CACHES.get(engine)
    if found is None:
        found = _CACHES.setdefault(engine, (threading.Lock(), {}))
    return found


def _rule_texts(conn: Any, pids: list[int], org: str | None, everything: bool) -> dict[int, tuple[int | None, str]]:
    """{portal id: (finding set id, rule_lines)} of these portals (of every scanned one when most are needed)."""
    query = select(Latest.portal_id, Latest.finding_set_id, Latest.rule_lines)
    if everything:
        if org:
            query = (query.join(Portal, Portal.id == Latest.portal_id)
                     .join(Organisation, Organisation.id == Portal.org_id).where(Organisation.name == org))
        return {pid: (set_id, text) for pid, set_id, text in conn.execute(query)}
    out = {}
    for chunk in range(0, len(pids), 500):
        for pid, set_id, text in conn.execute(query.where(Latest.portal_id.in_(pids[chunk:chunk + 500]))):
            out[pid] = (set_id, text)
    return out


def render(engine: Engine, org: str | None = None) -> bytes:
    """The text exposition format (0.0.4) of the monitor's metrics, written directly (prometheus_client's generic
    writer takes about 40 us a sample; the samples are those MonitorCollector gives, a test compares them).

    One query of the portals' latest scans (db.Latest, by key), then only what changed is rendered: a portal whose
    latest run, last scan time, finding set and labels are those of the previous scrape keeps its samples (the
    bytes of the previous scrape, sliced); its rule samples are read (Latest.rule_lines) only when its finding
    set or labels changed. The expiry days are computed for every portal on every scrape (they follow the clock).
    Nothing is trusted across scrapes but what the keys name, so a write by any process shows in the next scrape."""
    lock, per_filter = _cache(engine)
    with lock, engine.connect() as conn:
        rows = conn.execute(
            select(Latest.portal_id, Portal.name, Organisation.name, Latest.run_id, Latest.last_at,
                   Latest.finding_set_id, Latest.status, Latest.score, Latest.cert_expires, Latest.rrsig_expires)
            .join(Portal, Portal.id == Latest.portal_id).join(Organisation, Organisation.id == Portal.org_id)
            .where(*([Organisation.name == org] if org else [])).order_by(Latest.portal_id)).all()
        old = per_filter.get(org) or _Rendered()
        order = [r[0] for r in rows]
        stale = [r for r in rows if old.keys.get(r[0]) != r[1:6]]
        if stale or order != old.order:
            need = [r[0] for r in stale if (old.keys.get(r[0]) or (None,) * 5)[:2] != r[1:3]
                    or old.keys[r[0]][4] != r[5]]
            texts = _rule_texts(conn, need, org, everything=len(need) > len(rows) // 2) if need else {}
            new = _rerender(old, rows, {r[0] for r in stale}, texts)
        else:
            new = old
        per_filter.pop(org, None)
        per_filter[org] = new
        while len(per_filter) > MAX_FILTERS:
            per_filter.pop(next(iter(per_filter)))
    now = time.time()
    labels = new.labels
    cert = "".join(f"netready_cert_expiry_days{{{labels[pid]}}} {_num(round((c - now) / 86400, 3))}\n"
                   for pid, *_r, c, _x in rows if c is not None)
    rrsig = "".join(f"netready_rrsig_expiry_days{{{labels[pid]}}} {_num(round((x - now) / 86400, 3))}\n"
                    for pid, *_r, x in rows if x is not None)
    samples = {**new.families, "netready_cert_expiry_days": cert.encode(), "netready_rrsig_expiry_days":
               rrsig.encode()}
    out: list[bytes] = []
    for name, text in HELP.items():
        out.append(f"# HELP {name} {text}\n# TYPE {name} gauge\n".encode())
        out.append(samples[name])
    return b"".join(out)


def _rerender(old: _Rendered, rows: list[Any], stale: set[int], texts: dict[int, tuple[int | None, str]]
              ) -> _Rendered:
    new = _Rendered(order=[r[0] for r in rows])
    joiners = [_Joiner(old.families[name]) for name in STATIC]
    compliant, score_, rules, last_ = joiners
    for pid, name, org_name, run_id, last_at, set_id, status, score, _cert, _rrsig in rows:
        if pid not in stale:
            span = old.spans[pid]
            new.spans[pid] = tuple(x for j, k in zip(joiners, range(0, 8, 2), strict=True)
                                   for x in j.keep(span[k], span[k + 1]))
            new.keys[pid], new.labels[pid] = old.keys[pid], old.labels[pid]
            continue
        lv = f'portal="{_esc(name)}",org="{_esc(org_name)}"'
        spans: list[int] = []
        line = (f"netready_compliant{{{lv}}} {'1.0' if status == 'compliant' else '0.0'}\n"
                if status in ("compliant", "not-compliant") else "")
        spans += compliant.add(line.encode())
        spans += score_.add(f"netready_score{{{lv}}} {_num(score)}\n".encode() if score is not None else b"")
        if pid in texts:
            set_id, text = texts[pid]
            prefix = f"netready_rule_pass{{{lv},"
            spans += rules.add((prefix + text.replace("\n", "\n" + prefix) + "\n").encode() if text else b"")
        elif pid in old.spans and old.keys[pid][:2] == (name, org_name) and old.keys[pid][4] == set_id:  # the same
            span = old.spans[pid]
            spans += rules.keep(span[4], span[5])
        else:  # its latest row went away meanwhile: nothing now, read again next time
            set_id = -1
            spans += rules.add(b"")
        spans += last_.add(f"netready_last_scan_timestamp_seconds{{{lv}}} {_num(last_at)}\n".encode())
        new.spans[pid] = tuple(spans)
        new.keys[pid], new.labels[pid] = (name, org_name, run_id, last_at, set_id), lv
    new.families = {name: j.result() for name, j in zip(STATIC, joiners, strict=True)}
    return new
