"""The monitor's tables (SQLAlchemy 2), the database URL, and opening a database at the newest migration.

Sizes matter: 20,000 portals scanned daily for two years are 14.6 million scans. A scan is therefore not a
row of its own: consecutive scans of a portal that saw the same thing (same verdicts, same evidence) are one
*run* (first and last scan time, number of scans), so a row is written only when something changed.
Verdicts, findings and evidence are stored once per distinct content (a SHA-256 over it) and shared by every
run that has them. Times are UTC seconds since the epoch (BigInteger): compact, and the same on SQLite and
PostgreSQL. The schema is made by the Alembic migrations in netready/monitor/migrations (a test checks that they
give exactly these tables).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DB = "netready.db"
ENV_DB = "NETREADY_DB"
# The view of a portal that status, history, metrics and alerts read: "local" (scanned by `monitor run`
# itself) or "merged" (judged over the vantage points' results, netready.merge).
VIEW_LOCAL = "local"
VIEW_MERGED = "merged"


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    """A ministry, province or agency that owns portals."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Portal(Base):
    __tablename__ = "portals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)  # ASCII (punycode) name
    display_name: Mapped[str] = mapped_column(String(253))  # as the user gave it (may be Unicode)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    every_s: Mapped[int] = mapped_column(Integer)  # scan interval
    profile: Mapped[str] = mapped_column(String(200))
    vantages: Mapped[str] = mapped_column(String(500), default="")  # comma list; "" = scanned locally
    next_due: Mapped[int] = mapped_column(BigInteger, index=True)
    added_at: Mapped[int] = mapped_column(BigInteger)


class FindingSet(Base):
    """One distinct set of findings (rule, subject, verdict, level), shared by every run that had it."""

    __tablename__ = "finding_sets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    count: Mapped[int] = mapped_column(Integer)


class FindingRow(Base):
    """One finding of a set. The key is (set, position in the set): one index serves every lookup by set, which
    matters at millions of rows (PostgreSQL would otherwise keep a second index for a surrogate id)."""

    __tablename__ = "findings"
    set_id: Mapped[int] = mapped_column(ForeignKey("finding_sets.id"), primary_key=True)
    pos: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300), default="")  # "" when the rule judges the whole portal
    verdict: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))


class State(Base):
    """What a scan concluded, apart from times: status, score, failing required rules, findings, error."""

    __tablename__ = "states"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # compliant | not-compliant | undetermined | crashed
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    failed_required: Mapped[str] = mapped_column(Text, default="")  # space-separated rule ids
    error_required: Mapped[str] = mapped_column(Text, default="")
    finding_set_id: Mapped[int | None] = mapped_column(ForeignKey("finding_sets.id"), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why the scan crashed


class Evidence(Base):
    """A full per-portal report (target, observations, findings, summary) as compressed JSON, stored once per
    distinct content (netready.monitor.store.evidence_hash). Most of a portal's new evidence is its previous one
    with a few fields changed (a renewed certificate): it is stored as a zstd delta against that one (`base_id`,
    the previous raw JSON as the dictionary), with a full copy every EVIDENCE_CHAIN deltas so a read
    decompresses a short chain."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw_size: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(16))  # zstd | zstd-delta
    base_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"), nullable=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)  # deltas between this one and a full copy
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Run(Base):
    """Consecutive scans of one portal (in one view) that concluded the same thing on the same evidence."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"))
    view: Mapped[str] = mapped_column(String(64))
    state_id: Mapped[int] = mapped_column(ForeignKey("states.id"))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"), nullable=True)
    first_at: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[int] = mapped_column(BigInteger)
    scans: Mapped[int] = mapped_column(Integer, default=1)
    # Moments (epoch seconds) of the earliest certificate notAfter and RRSIG expiration seen by the last scan.
    cert_expires: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cert_lifetime_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rrsig_expires: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reachable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    vantages: Mapped[str] = mapped_column(String(500), default="")  # who saw it ("" locally)
    # What changed against the run before (JSON list of short texts), computed once when the run starts, so
    # `status` of the whole fleet reads no findings.
    changes: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_runs_portal_view_first", "portal_id", "view", "first_at"),
        Index("ix_runs_first_at", "first_at"),
    )


class Latest(Base):
    """A portal's latest scan: a pointer to its newest run (and the one before) with that run's facts and state
    copied, written by store.record in the same transaction as the run. `status` and `/metrics` of the whole
    fleet read this table joined to portals by primary key, never the runs (millions of rows at scale).
    `rule_lines` is the netready_rule_pass samples of the finding set without the portal's labels
    (netready.monitor.metrics.rule_lines), rewritten only when the finding set changes."""

    __tablename__ = "latest"
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"), primary_key=True, autoincrement=False)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    prev_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    view: Mapped[str] = mapped_column(String(64))
    state_id: Mapped[int] = mapped_column(ForeignKey("states.id"))
    finding_set_id: Mapped[int | None] = mapped_column(ForeignKey("finding_sets.id"), nullable=True)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id"), nullable=True)
    first_at: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[int] = mapped_column(BigInteger)
    scans: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    failed_required: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cert_expires: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cert_lifetime_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rrsig_expires: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reachable: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    changes: Mapped[str] = mapped_column(Text, default="")
    rule_lines: Mapped[str] = mapped_column(Text, default="")


class Alert(Base):
    """One alert event: opened (and notified) once, resolved (and notified) once."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[int] = mapped_column(ForeignKey("portals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # cert-expiry | rrsig-expiry | rule-fail | unreachable
    key: Mapped[str] = mapped_column(String(400))  # what exactly: the rule and subject, or ""
    opened_at: Mapped[int] = mapped_column(BigInteger)
    resolved_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")  # JSON: facts for the message (days left...)
    open_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    resolve_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why a notification failed
    delivered: Mapped[str] = mapped_column(Text, default="")  # "channel:open channel:resolve ..." already sent


class Token(Base):
    """An API token: only an argon2 hash of its secret is stored. org_id None and role admin: every org."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # read | admin | metrics
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


def database_url(db: str | None = None) -> str:
    """--db, else $NETREADY_DB, else netready.db in the working directory. A plain path is a SQLite file."""
    text = db or os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" in text:
        if text.startswith("postgresql://"):  # psycopg 3 is the driver netready installs
            text = "postgresql+psycopg://" + text[len("postgresql://"):]
        return text
    return f"sqlite:///{Path(text).expanduser().absolute()}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL: the API and metrics read while `monitor run` writes; a writer waits for another up to 30 s.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrations_dir() -> Path:
    return Path(__file__).parent / "migrations"


def alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (Alembic), in one transaction per migration."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def open_db(db: str | None = None, migrate: bool = True) -> Engine:
    """An engine on the monitor database, its schema at the newest migration."""
    engine = make_engine(database_url(db))
    if migrate:
        upgrade(engine)
    return engine
