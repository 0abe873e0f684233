"""Recording scans and reading them back: portals, runs, states, findings, evidence; status, history, diff.

A scan result becomes (see netready/monitor/db.py for why):
- a finding set: the (rule, subject, verdict, level) rows, stored once per distinct set;
- a state: status, score, failing required rules, the finding set, a crash message; stored once per distinct one;
- evidence: the portal's full report (target, observations, findings, summary), zstd-compressed (as a delta
  against the portal's previous evidence), stored once per distinct *content*: the hash leaves out what changes
  on every scan without changing what was seen (times, durations, signature validity windows, the random name of
  the denial check and its proof), see `evidence_hash`;
- a run: extended (last_at, scans + 1) when state and evidence are those of the portal's last run, else a new
  row. Expiry moments and reachability of the last scan are kept on the run.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from netready.model import SCHEMA_VERSION, Finding, Observation, Target
from netready.monitor import facts as F
from netready.monitor.db import (
    VIEW_LOCAL,
    VIEW_MERGED,
    Evidence,
    FindingRow,
    FindingSet,
    Latest,
    Organisation,
    Portal,
    Run,
    State,
)

CRASHED = "crashed"
STATUSES = ("compliant", "not-compliant", "undetermined", CRASHED)
DEFAULT_EVERY = 24 * 3600
# A crashed scan is retried by the next round after this long (or the portal's own interval if shorter): soon,
# but a portal that always crashes does not keep the scheduler busy. `run --once` scans everything anyway.
CRASH_RETRY = 600
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Keys whose values change on every scan without a change in what was seen: left out of the evidence hash.
VOLATILE_KEYS = frozenset({
    "started", "finished", "duration_ms", "ms", "rtt_ms", "connect_ms", "elapsed_ms", "validated_at",
    "validated_at_ts", "fetched_at", "queries", "shared", "shared_answers", "inception", "expiration",
    "inception_ts", "expiration_ts", "message",
    "history",  # the IPv6-only check's "first seen" times: read from this store's own runs, not seen on the server
})  # fmt: skip
# And by name: timings, moments and byte counts of a transfer (the content has its own hash where it matters).
VOLATILE_SUFFIXES = ("_ms", "_at", "_ts")
VOLATILE_COUNTERS = frozenset({"bytes_up", "bytes_down", "connections", "pending"})
# The denial check asks a random name each time: its name and the NSEC/NSEC3 records that happen to cover it.
DENIAL_VOLATILE = frozenset({"qname", "sigs", "records", "asked"})
# HTTP answer headers that differ on every request.
VOLATILE_HEADERS = frozenset({"date", "age", "expires", "set-cookie", "x-request-id", "etag", "last-modified"})
RANDOM_LABEL = re.compile(r"\bnr-[0-9a-f]{6,}\b")
# The signature-verification budget of a DNSSEC check (probes.dnssec_crypto.Budget.to_dict): how many signatures
# were verified, answered from the process's cache or refused depends on what the process checked before (other
# portals of the round, an earlier round of the scheduler), not on the zone. Only its limit is kept.


@functools.cache
def _budget_keys() -> frozenset[str]:
    from netready.probes.dnssec_crypto import Budget  # imported when first needed: it loads dnspython's DNSSEC module

    return frozenset(Budget().to_dict())


class StoreError(ValueError):
    """Bad input for the store (unknown portal, bad interval...): a usage error."""


def now() -> int:
    return int(time.time())


def parse_duration(text: str | int | None, default: int = DEFAULT_EVERY) -> int:
    """"24h", "30m", "7d", "1w", "3600" -> seconds."""
    if text is None or text == "":
        return default
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text).lower())
    if not m:
        raise StoreError(f"bad duration {text!r}: use a number with s, m, h, d or w (e.g. 24h, 7d)")
    seconds = int(float(m.group(1)) * UNITS[m.group(2) or "s"])
    if seconds <= 0:
        raise StoreError(f"bad duration {text!r}: must be more than zero")
    return seconds


# --- portals --------------------------------------------------------------------------------------------------


def ascii_name(name: str) -> str:
    from netready.probes.dns import NameError_, to_ascii

    try:
        return to_ascii(name)
    except NameError_ as exc:
        raise StoreError(f"{name!r}: {exc}") from exc


def organisation(session: Session, name: str, create: bool = True) -> Organisation | None:
    name = name.strip()
    if not name:
        raise StoreError("an organisation needs a name (--org)")
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None and create:
        org = Organisation(name=name, created_at=now())
        session.add(org)
        session.flush()
    return org


@dataclass
class Added:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def add_portals(session: Session, names: Iterable[str], org: str, every: str | int | None = None,
                profile: str = "circular32", vantages: Iterable[str] = (), at: int | None = None) -> Added:
    """Add portals (or update the organisation, interval, profile and vantage points of known ones). New portals
    are due at once."""
    from netready.merge import VANTAGE_RE

    interval = parse_duration(every)
    _check_profile(profile)
    if Path(profile).is_file():  # a user's profile file: found again from any working directory
        profile = str(Path(profile).absolute())
    vps = [v.strip() for v in vantages if v.strip()]
    for v in vps:
        if not VANTAGE_RE.match(v):
            raise StoreError(f"vantage point name {v!r}: use letters, digits, '.', '_' or '-'")
    owner = organisation(session, org)
    assert owner is not None
    out = Added()
    t = at if at is not None else now()
    for raw in names:
        if not raw.strip():
            continue
        key = ascii_name(raw)
        portal = session.scalar(select(Portal).where(Portal.name == key))
        if portal is None:
            session.add(Portal(name=key, display_name=raw.strip(), org_id=owner.id, every_s=interval,
                               profile=profile, vantages=",".join(vps), next_due=t, added_at=t))
            out.added.append(key)
        else:
            portal.org_id, portal.every_s, portal.profile, portal.vantages = owner.id, interval, profile, ",".join(vps)
            out.updated.append(key)
    session.flush()
    return out


def _check_profile(profile: str) -> None:
    from netready.profiles import ProfileError, load_profile

    try:
        load_profile(profile)
    except ProfileError as exc:
        raise StoreError(str(exc)) from exc


def import_csv(session: Session, path: str | Path, at: int | None = None) -> Added:
    """Portals from a CSV with columns name, org and optionally every, profile, vantage (space or ';' separated)."""
    p = Path(path)
    if not p.is_file():
        raise StoreError(f"file not found: {path}")
    text = p.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    columns = {(c or "").strip().lower(): c for c in reader.fieldnames or []}
    missing = [c for c in ("name", "org") if c not in columns]
    if missing:
        raise StoreError(f"{path}: CSV needs the columns name and org (missing: {', '.join(missing)}; "
                         f"found: {', '.join(reader.fieldnames or [])})")
    out = Added()
    for line, row in enumerate(reader, start=2):
        def col(key: str, row: dict = row) -> str:  # type: ignore[type-arg]
            return (row.get(columns[key]) or "").strip() if key in columns else ""

        if not col("name"):
            continue
        try:
            got = add_portals(session, [col("name")], col("org"), col("every") or None, col("profile") or "circular32",
                              re.split(r"[;\s]+", col("vantage")), at)
        except StoreError as exc:
            raise StoreError(f"{path} line {line}: {exc}") from exc
        out.added += got.added
        out.updated += got.updated
    return out


def portal_by_name(session: Session, name: str) -> Portal:
    key = ascii_name(name)
    portal = session.scalar(select(Portal).where(Portal.name == key))
    if portal is None:
        raise StoreError(f"no portal {name!r} in the monitor (add it with: netready monitor add {name} --org ORG)")
    return portal


def view_of(portal: Portal) -> str:
    return VIEW_MERGED if portal.vantages else VIEW_LOCAL


def due_portals(session: Session, at: int | None = None, all_portals: bool = False) -> list[Portal]:
    query = select(Portal).order_by(Portal.next_due, Portal.id)
    if not all_portals:
        query = query.where(Portal.next_due <= (at if at is not None else now()))
    return list(session.scalars(query))


# --- content-addressed pieces ---------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canon(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _get_or_add(session: Session, model: type, sha: str, make) -> int:  # type: ignore[no-untyped-def]
    found = session.scalar(select(model.id).where(model.sha256 == sha))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = make()
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:  # another writer stored the same content meanwhile
        found = session.scalar(select(model.id).where(model.sha256 == sha))
        if found is None:  # not that: a real constraint failure
            raise
        return found


def finding_key(f: Finding) -> tuple[str, str, str, str]:
    return (f.rule_id, f.subject or "", f.verdict, f.level)


def finding_set_id(session: Session, findings: list[Finding]) -> int:
    rows = sorted({finding_key(f) for f in findings})
    sha = _sha(_canon(rows))

    def make() -> FindingSet:
        return FindingSet(sha256=sha, count=len(rows))

    set_id = session.scalar(select(FindingSet.id).where(FindingSet.sha256 == sha))
    if set_id is not None:
        return set_id
    set_id = _get_or_add(session, FindingSet, sha, make)
    if not session.scalar(select(FindingRow.pos).where(FindingRow.set_id == set_id).limit(1)) and rows:
        session.add_all(FindingRow(set_id=set_id, pos=i, rule=r, subject=s, verdict=v, level=lv)
                        for i, (r, s, v, lv) in enumerate(rows))
        session.flush()
    return set_id


def state_id(session: Session, status: str, score: float | None, failed: list[str], errors: list[str],
             set_id: int | None, error: str | None) -> int:
    content = {"status": status, "score": score, "failed": sorted(failed), "errors": sorted(errors), "set": set_id,
               "error": error}
    sha = _sha(_canon(content))
    return _get_or_add(session, State, sha, lambda: State(
        sha256=sha, status=status, score=score, failed_required=" ".join(sorted(failed)),
        error_required=" ".join(sorted(errors)), finding_set_id=set_id, error=error))


def _normalise(value: Any, denial: bool = False) -> Any:
    """The value without volatile parts, lists in a canonical order (a name server may list a DNSKEY set in any
    order: the same set). Only for hashing: the stored evidence keeps the original."""
    if isinstance(value, dict):
        if value.keys() == _budget_keys():
            return {"limit": value["limit"]}
        drop = VOLATILE_KEYS | (DENIAL_VOLATILE if denial else frozenset())
        out = {}
        for k, v in value.items():
            if k in drop or k in VOLATILE_COUNTERS or k.endswith(VOLATILE_SUFFIXES):
                continue
            if k == "headers" and isinstance(v, list):
                v = [h for h in v if not (isinstance(h, list) and h and str(h[0]).lower() in VOLATILE_HEADERS)]
            out[k] = _normalise(v, denial)
        return out
    if isinstance(value, list):
        items = [_normalise(v, denial) for v in value]
        return sorted(items, key=_canon)
    if isinstance(value, str):
        return RANDOM_LABEL.sub("nr-*", value)
    return value


def hashed_content(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence without what changes on every scan (VOLATILE_KEYS, the DNSSEC verification counts; for the
    denial check of a random name, the name and the records that cover it), lists in a canonical order."""
    observations = sorted((_normalise(o, denial=":denial:" in str(o.get("id", "")))
                           for o in evidence.get("observations", [])), key=_canon)
    # the report schema's number says how netready lays reports out, not what the probes saw
    body = {k: _normalise(v) for k, v in evidence.items() if k not in ("observations", "schema_version")}
    return {**body, "observations": observations}


def evidence_hash(evidence: dict[str, Any]) -> str:
    """SHA-256 of `hashed_content`. Equal hashes: the probes saw the same thing."""
    return _sha(_canon(hashed_content(evidence)))


EVIDENCE_CHAIN = 16  # at most this many deltas in a row, then a full copy
ZSTD_LEVEL = 19  # new evidence is rare (identical scans store nothing): compress hard


def _raw(session: Session, ev: Evidence) -> bytes:
    import zstandard

    if ev.codec == "zstd":
        return zstandard.ZstdDecompressor().decompress(ev.data)
    if ev.codec == "zstd-delta":
        base = _raw(session, session.get(Evidence, ev.base_id))
        d = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
        return zstandard.ZstdDecompressor(dict_data=d).decompress(ev.data)
    if ev.codec == "zlib":
        return zlib.decompress(ev.data)
    raise ValueError(f"evidence {ev.id}: unknown codec {ev.codec!r}")


def evidence_id(session: Session, evidence: dict[str, Any], previous: int | None = None) -> int:
    """The id of this evidence, stored if new: as a delta against `previous` (the portal's last evidence) when
    there is one and its chain is short, else in full."""
    import zstandard

    sha = evidence_hash(evidence)

    def make() -> Evidence:
        raw = _canon(evidence)
        base = session.get(Evidence, previous) if previous else None
        if base is not None and base.depth < EVIDENCE_CHAIN:
            d = zstandard.ZstdCompressionDict(_raw(session, base), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            data = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=d).compress(raw)
            return Evidence(sha256=sha, raw_size=len(raw), codec="zstd-delta", base_id=base.id,
                            depth=base.depth + 1, data=data)
        return Evidence(sha256=sha, raw_size=len(raw), codec="zstd", base_id=None, depth=0,
                        data=zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw))

    return _get_or_add(session, Evidence, sha, make)


def load_evidence(session: Session, ev_id: int) -> dict[str, Any] | None:
    row = session.get(Evidence, ev_id)
    return json.loads(_raw(session, row)) if row is not None else None


# --- recording ------------------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    """What one scan of one portal gave, whoever ran it (this process, or Celery workers + merge)."""

    target: Target
    observations: list[Observation]
    findings: list[Finding]
    summary: dict[str, Any]  # netready.judge.target_summary of the findings (merge adds vantage points)
    vantages: list[str] = field(default_factory=list)
    crashed: str | None = None  # why the scan itself failed (nothing was judged)
    extra: dict[str, Any] = field(default_factory=dict)  # merge metadata kept in the evidence


@dataclass
class Recorded:
    portal: Portal
    run: Run
    new_run: bool
    previous: Run | None  # the portal's run before this scan (None on its first scan)
    facts: F.ExpiryFacts
    result: ScanResult


def crashed_result(target: Target, why: str) -> ScanResult:
    return ScanResult(target, [], [], {}, crashed=why)


def lock_portal(session: Session, portal: Portal) -> Latest | None:
    """Make this transaction the portal's only writer until it ends, and return its latest scan as committed.

    Two writers of one portal (the scheduler and a `run --once` from cron, two scheduler processes, results of
    Celery workers handled while the local scans of a round are stored) would otherwise both read the same latest
    run and both extend it or both start a new one: a lost scan count, a pointer to a run that is not the newest.
    A write to the portal's row comes first: on PostgreSQL a row lock held to the commit (the other writer waits,
    then reads what this one wrote: READ COMMITTED reads anew per statement); on SQLite the database's write lock
    (taken by the first write of a transaction, so the reads after it see the newest data)."""
    session.execute(update(Portal).where(Portal.id == portal.id).values(next_due=Portal.next_due))
    session.refresh(portal)
    latest = session.get(Latest, portal.id, populate_existing=True)
    return latest


def record(session: Session, portal: Portal, result: ScanResult, at: int | None = None,
           view: str | None = None) -> Recorded:
    """Store one scan of `portal` and point the portal's latest scan at it; schedules its next scan (a crashed one
    is retried soon). `at` defaults to now, read once this transaction is the portal's only writer."""
    latest = lock_portal(session, portal)
    t = at if at is not None else now()
    view = view or view_of(portal)
    if result.crashed is not None:
        st = state_id(session, CRASHED, None, [], [], None, result.crashed)
        set_id = ev = None
        ex = F.ExpiryFacts()
        reach = None
    else:
        summary = result.summary
        set_id = finding_set_id(session, result.findings)
        st = state_id(session, summary.get("status", "undetermined"), (summary.get("scores") or {}).get("overall"),
                      list(summary.get("failed_required") or []), list(summary.get("error_required") or []),
                      set_id, None)
        evidence = {
            "schema_version": SCHEMA_VERSION,
            "target": result.target.to_dict(),
            "observations": [o.to_dict() for o in result.observations],
            "findings": [f.to_dict() for f in result.findings],
            "summary": summary,
            **result.extra,
        }
        ev = evidence_id(session, evidence, latest.evidence_id if latest is not None else None)
        ex = F.expiry_facts(result.observations)
        reach = F.reachable(result.target, result.observations)
    previous = session.get(Run, latest.run_id) if latest is not None and latest.view == view else None
    cert = int(ex.cert_expires) if ex.cert_expires is not None else None
    life = int(ex.cert_lifetime) if ex.cert_lifetime is not None else None
    rrsig = int(ex.rrsig_expires) if ex.rrsig_expires is not None else None
    vps = ",".join(result.vantages)
    if previous is not None and previous.state_id == st and previous.evidence_id == ev and previous.vantages == vps:
        previous.last_at, previous.scans = t, previous.scans + 1
        previous.cert_expires, previous.cert_lifetime_s, previous.rrsig_expires = cert, life, rrsig
        previous.reachable = reach
        run, new, before = previous, False, previous
    else:
        run = Run(portal_id=portal.id, view=view, state_id=st, evidence_id=ev, first_at=t, last_at=t, scans=1,
                  cert_expires=cert, cert_lifetime_s=life, rrsig_expires=rrsig, reachable=reach, vantages=vps,
                  changes=json.dumps(_changes_against(session, previous, st, ev, vps), ensure_ascii=False))
        session.add(run)
        session.flush()
        new, before = True, previous
    _point_latest(session, portal, latest, run, new, set_id, result)
    portal.next_due = t + (min(portal.every_s, CRASH_RETRY) if result.crashed is not None else portal.every_s)
    session.flush()
    return Recorded(portal, run, new, before, ex, result)


def _point_latest(session: Session, portal: Portal, latest: Latest | None, run: Run, new: bool, set_id: int | None,
                  result: ScanResult) -> None:
    """The portal's latest scan is `run` (just extended, or new): copy what status and metrics read."""
    from netready.monitor.metrics import rule_lines

    st = session.get(State, run.state_id) if new else None
    if latest is None:
        latest = Latest(portal_id=portal.id, rule_lines="")
        session.add(latest)
    if st is not None:
        latest.prev_run_id = latest.run_id if latest.run_id is not None and latest.view == run.view else None
        if set_id != latest.finding_set_id or latest.run_id is None:
            latest.rule_lines = rule_lines(finding_key(f) for f in result.findings)
        latest.run_id, latest.view, latest.state_id, latest.finding_set_id = run.id, run.view, run.state_id, set_id
        latest.evidence_id, latest.first_at, latest.changes = run.evidence_id, run.first_at, run.changes
        latest.status, latest.score, latest.failed_required, latest.error = (st.status, st.score, st.failed_required,
                                                                             st.error)
    latest.last_at, latest.scans, latest.reachable = run.last_at, run.scans, run.reachable
    latest.cert_expires, latest.cert_lifetime_s, latest.rrsig_expires = (run.cert_expires, run.cert_lifetime_s,
                                                                         run.rrsig_expires)


def _changes_against(session: Session, previous: Run | None, state: int, evidence: int | None,
                     vantages: str) -> list[str]:
    """What a new run changes against the run before it: status, each rule and subject whose verdict changed."""
    if previous is None:
        return ["first scan"]
    old, new = session.get(State, previous.state_id), session.get(State, state)
    diff_: list[tuple[str, str, str | None, str | None]] = []
    if old.finding_set_id and new.finding_set_id and old.finding_set_id != new.finding_set_id:
        sets = findings_of(session, [old.finding_set_id, new.finding_set_id])
        diff_ = verdict_changes(sets[old.finding_set_id], sets[new.finding_set_id])
    return _change_words(old.status, new.status, previous.evidence_id, evidence, previous.vantages, vantages, diff_)


# --- reading: status ------------------------------------------------------------------------------------------


@dataclass
class StatusRow:
    portal: str
    display_name: str
    org: str
    last_scan: int | None
    status: str | None
    score: float | None
    failed_required: list[str]
    cert_days: float | None
    rrsig_days: float | None
    reachable: bool | None
    changes: list[str]
    scans: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its deep copy took 0.5 s for 20,000 rows; the lists are the only mutable fields.
        return {**self.__dict__, "failed_required": list(self.failed_required), "changes": list(self.changes)}


def findings_of(session: Session, set_ids: Iterable[int]) -> dict[int, dict[tuple[str, str], tuple[str, str]]]:
    """{set id: {(rule, subject): (verdict, level)}} for these finding sets, in one query."""
    ids = sorted({i for i in set_ids if i is not None})
    out: dict[int, dict[tuple[str, str], tuple[str, str]]] = {i: {} for i in ids}
    for chunk in range(0, len(ids), 500):
        rows = session.execute(select(FindingRow.set_id, FindingRow.rule, FindingRow.subject, FindingRow.verdict,
                                      FindingRow.level).where(FindingRow.set_id.in_(ids[chunk:chunk + 500])))
        for set_id, rule, subject, verdict, level in rows:
            out[set_id][(rule, subject)] = (verdict, level)
    return out


def verdict_changes(old: dict[tuple[str, str], tuple[str, str]],
                    new: dict[tuple[str, str], tuple[str, str]]) -> list[tuple[str, str, str | None, str | None]]:
    """(rule, subject, old verdict, new verdict) for every rule and subject whose verdict differs."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, (None, None))[0], new.get(key, (None, None))[0]
        if a != b:
            out.append((key[0], key[1], a, b))
    return out


def _change_words(prev_status: str | None, status_: str, prev_evidence: int | None, evidence: int | None,
                  prev_vantages: str | None, vantages: str,
                  changes: list[tuple[str, str, str | None, str | None]]) -> list[str]:
    if prev_status is None:
        return ["first scan"]
    words = []
    if prev_status != status_:
        words.append(f"status {prev_status} -> {status_}")
    for rule, subject, a, b in changes:
        words.append(f"{rule}{'@' + subject if subject else ''} {a or '-'} -> {b or '-'}")
    if not words and prev_evidence != evidence:
        words.append("evidence changed, verdicts the same")
    if not words and prev_vantages != vantages:
        words.append(f"vantage points {prev_vantages or '-'} -> {vantages or '-'}")
    return words


def latest_scans(conn: Any, columns: list[Any], org: str | None = None, scanned_only: bool = False) -> list[Any]:
    """(portal name, display name, org, *columns of the portal's Latest row, None when never scanned) per portal:
    one query over portals, organisations and the latest table (keys only; no runs, no states)."""
    head = [Portal.name, Portal.display_name, Organisation.name]
    query = select(*head, *columns).join(Organisation, Organisation.id == Portal.org_id)
    query = (query.join(Latest, Latest.portal_id == Portal.id) if scanned_only
             else query.outerjoin(Latest, Latest.portal_id == Portal.id))
    if org:
        query = query.where(Organisation.name == org)
    return conn.execute(query).all()


def status(session: Session, org: str | None = None, at: float | None = None, portal: str | None = None
           ) -> list[StatusRow]:
    """One row per portal (or only `portal`, an ASCII name): its last scan, status, score, failing required rules,
    days to certificate and RRSIG expiry (from `at`, default now), and what changed since the previous scan (kept
    on the run when it started). One query over the latest table (`latest_scans`), plain rows."""
    t = at if at is not None else time.time()
    conn = session.connection()  # Core execution: plain tuples, no ORM loading machinery per row
    columns = [Latest.last_at, Latest.scans, Latest.cert_expires, Latest.rrsig_expires, Latest.reachable,
               Latest.changes, Latest.status, Latest.score, Latest.failed_required, Latest.error]
    if portal is not None:
        rows = conn.execute(select(Portal.name, Portal.display_name, Organisation.name, *columns)
                            .join(Organisation, Organisation.id == Portal.org_id)
                            .outerjoin(Latest, Latest.portal_id == Portal.id).where(Portal.name == portal)).all()
    else:
        rows = latest_scans(conn, columns, org)
    rows.sort(key=lambda r: (r[2], r[0]))
    out = []
    day = F.DAY
    for name, display, org_name, last_at, scans, cert, rrsig, reach, changes, st, score, failed, error in rows:
        if last_at is None:
            out.append(StatusRow(name, display, org_name, None, None, None, [], None, None, None,
                                 ["not scanned yet"]))
            continue
        out.append(StatusRow(
            portal=name, display_name=display, org=org_name, last_scan=last_at, status=st, score=score,
            failed_required=failed.split(), cert_days=round((cert - t) / day, 1) if cert is not None else None,
            rrsig_days=round((rrsig - t) / day, 1) if rrsig is not None else None,
            reachable=reach, changes=json.loads(changes) if scans == 1 and changes else [], scans=scans,
            error=error))
    return out


# --- reading: history and diff --------------------------------------------------------------------------------


def runs_of(session: Session, portal: Portal, view: str | None = None) -> list[Run]:
    return list(session.scalars(select(Run).where(Run.portal_id == portal.id, Run.view == (view or view_of(portal)))
                                .order_by(Run.first_at, Run.id)))


def history(session: Session, name: str) -> dict[str, Any]:
    """The portal's runs (periods with the same verdicts and evidence) and every verdict change per rule and
    subject, oldest first."""
    portal = portal_by_name(session, name)
    org = session.get(Organisation, portal.org_id)
    runs = runs_of(session, portal)
    states = {s.id: s for s in session.scalars(select(State).where(State.id.in_({r.state_id for r in runs})))}
    sets = findings_of(session, {s.finding_set_id for s in states.values()})
    periods, changes = [], []
    prev_any: Run | None = None  # for status changes (a crash is one)
    prev_judged: Run | None = None  # for verdict changes (a crashed scan judged nothing)
    for run in runs:
        st = states[run.state_id]
        periods.append({"id": run.id, "first_scan": run.first_at, "last_scan": run.last_at, "scans": run.scans,
                        "status": st.status, "score": st.score, "failed_required": st.failed_required.split(),
                        "error": st.error, "vantages": run.vantages.split(",") if run.vantages else [],
                        "evidence": run.evidence_id})
        if prev_any is not None and states[prev_any.state_id].status != st.status:
            changes.append({"at": run.first_at, "kind": "status", "rule": None, "subject": None,
                            "from": states[prev_any.state_id].status, "to": st.status})
        if prev_judged is not None and st.finding_set_id:
            old = states[prev_judged.state_id].finding_set_id
            if old != st.finding_set_id:
                for rule, subject, a, b in verdict_changes(sets[old], sets[st.finding_set_id]):
                    changes.append({"at": run.first_at, "kind": "verdict", "rule": rule, "subject": subject or None,
                                    "from": a, "to": b})
        prev_any = run
        if st.finding_set_id:
            prev_judged = run
    return {"portal": portal.name, "display_name": portal.display_name, "org": org.name if org else None,
            "view": view_of(portal), "runs": periods, "changes": changes}


def diff(session: Session, since: int, org: str | None = None, until: int | None = None) -> dict[str, Any]:
    """What changed across the fleet since `since`: per portal, status and verdict changes between its last run
    before `since` and its newest run; totals of portals that became (not) compliant and rules newly failing.
    A few bulk queries whatever the number of portals that changed."""
    end = until if until is not None else now() + 1
    query = (select(Run.portal_id).where(Run.first_at >= since, Run.first_at < end).distinct())
    portal_ids = set(session.scalars(query))
    info: dict[int, tuple[str, str, str]] = {}
    ids = sorted(portal_ids)
    for chunk in range(0, len(ids), 900):
        q = (select(Portal.id, Portal.name, Organisation.name, Portal.vantages)
             .join(Organisation, Organisation.id == Portal.org_id).where(Portal.id.in_(ids[chunk:chunk + 900])))
        if org:
            q = q.where(Organisation.name == org)
        for pid, name, org_name, vps in session.execute(q):
            info[pid] = (name, org_name, VIEW_MERGED if vps else VIEW_LOCAL)
    # Newest run before `since` and newest before `end`, per portal (in the portal's view).
    before: dict[int, tuple[int, int]] = {}
    after: dict[int, tuple[int, int, int]] = {}
    ids = sorted(info)
    for chunk in range(0, len(ids), 900):
        rows = session.execute(select(Run.portal_id, Run.view, Run.first_at, Run.id, Run.state_id)
                               .where(Run.portal_id.in_(ids[chunk:chunk + 900]), Run.first_at < end)
                               .order_by(Run.portal_id, Run.first_at, Run.id))
        for pid, view, first_at, run_id, state in rows:
            if view != info[pid][2]:
                continue
            if first_at < since:
                before[pid] = (run_id, state)
            after[pid] = (first_at, run_id, state)
    state_ids = {s for _r, s in before.values()} | {s for _f, _r, s in after.values()}
    states: dict[int, tuple[str, int | None]] = {}
    sid = sorted(state_ids)
    for chunk in range(0, len(sid), 900):
        for i, st, set_id in session.execute(select(State.id, State.status, State.finding_set_id)
                                             .where(State.id.in_(sid[chunk:chunk + 900]))):
            states[i] = (st, set_id)
    need = set()
    for pid, (_f, _r, s_after) in after.items():
        if pid in before and states[before[pid][1]][1] != states[s_after][1]:
            need |= {states[before[pid][1]][1], states[s_after][1]} - {None}
    sets = findings_of(session, need)
    items = []
    newly_failing: dict[str, int] = {}
    newly_passing: dict[str, int] = {}
    became: dict[str, int] = {}
    for pid, (first_at, _run, s_after) in after.items():
        name, org_name, _view = info[pid]
        st_after, set_after = states[s_after]
        st_before, set_before = states[before[pid][1]] if pid in before else (None, None)
        changed = (verdict_changes(sets[set_before], sets[set_after])
                   if set_before is not None and set_after is not None and set_before != set_after else [])
        if pid in before and st_before == st_after and not changed:
            continue
        if st_before != st_after:
            became[st_after] = became.get(st_after, 0) + 1
        for rule, _subject, a, b in changed:
            if b in ("fail", "warn") and a not in ("fail", "warn"):
                newly_failing[rule] = newly_failing.get(rule, 0) + 1
            if b == "pass" and a in ("fail", "warn", "error"):
                newly_passing[rule] = newly_passing.get(rule, 0) + 1
        items.append({"portal": name, "org": org_name, "at": first_at, "from": st_before, "to": st_after,
                      "changes": [{"rule": r, "subject": s or None, "from": a, "to": b} for r, s, a, b in changed]})
    items.sort(key=lambda i: (i["org"], i["portal"]))
    return {"since": since, "until": end, "org": org, "portals": items,
            "totals": {"portals_changed": len(items), "became": became, "rules_newly_failing": newly_failing,
                       "rules_newly_passing": newly_passing}}


def mark_all_due(session: Session, at: int | None = None) -> None:
    session.execute(update(Portal).values(next_due=at if at is not None else now()))
