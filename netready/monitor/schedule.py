"""Scheduling: which portals are due, one round of scans (here, or on Celery workers per vantage point), and the
scheduler loop of `netready monitor run`.

Scans use the batch engine of `netready check` (netready.scan.scan_results: bounded concurrency, per-target
budget, one process per core for large rounds) and the judge; each result is stored as soon as it arrives (one
transaction per portal), so a crash of this process loses only the scans in flight. A portal whose scan crashed
is recorded as crashed and stays due: the next round retries it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from netready.model import ProbeSettings
from netready.monitor import store
from netready.monitor.store import CRASHED, ScanResult
from netready.profiles import load_for_run

CRASH_PREFIXES = ("check crashed:", "internal error:")
# The longest the loop sleeps between looks at the schedule: portals added meanwhile are picked up.
MAX_SLEEP = 60.0
DB_RETRY = 30.0


@dataclass
class RoundResult:
    scanned: dict[str, str] = field(default_factory=dict)  # portal -> status
    skipped: dict[str, str] = field(default_factory=dict)  # portal -> why it was not scanned
    alerts_sent: int = 0
    alert_errors: list[str] = field(default_factory=list)
    interrupted: bool = False

    def exit_code(self) -> int:
        """As `netready check`: 0 all compliant, 1 some not compliant, 2 some could not be judged."""
        statuses = set(self.scanned.values())
        if "not-compliant" in statuses:
            return 1
        if statuses & {"undetermined", CRASHED} or self.skipped:
            return 2
        return 0


def _from_target_result(result: Any) -> ScanResult:
    from netready.judge import target_summary

    error = result.target.error or ""
    if error.startswith(CRASH_PREFIXES) and not result.observations:
        return store.crashed_result(result.target, error)
    return ScanResult(result.target, result.observations, result.findings, target_summary(result.findings))


def scan_local(names: list[str], settings: ProbeSettings, profile: Any, concurrency: int,
               on_result: Callable[[str, ScanResult], None], processes: int | None = None) -> bool:
    """Scan names with the batch engine; on_result(name, result) for each as it finishes. Returns interrupted."""
    from netready.scan import auto_processes, scan_results

    def deliver(result: Any) -> None:
        on_result(result.target.name, _from_target_result(result))

    outcome = scan_results(names, settings, profile, concurrency, on_result=deliver,
                           processes=processes if processes is not None else auto_processes(len(names)),
                           keep="none")
    return outcome.interrupted


def run_round(engine: Engine, settings: ProbeSettings, lab: bool = False, all_portals: bool = False,
              concurrency: int = 16, broker: str | None = None, alert_config: Any = None,
              on_result: Callable[[str, str], None] | None = None, at: int | None = None,
              processes: int | None = None, wait: float | None = None) -> RoundResult:
    """Scan what is due (everything with all_portals), store every result, raise and send alerts."""
    from netready.monitor import alerts

    out = RoundResult()
    with Session(engine) as session:
        due = store.due_portals(session, at, all_portals)
        plan = [(p.name, p.display_name, p.profile, p.vantages.split(",") if p.vantages else []) for p in due]
    local = [(n, d, prof) for n, d, prof, vps in plan if not vps]
    if local and not settings.history:  # VN-IPV6-ONLY says since when a host fails, from this database's runs
        from dataclasses import replace

        from netready.monitor import firstseen

        settings = replace(settings, history=[firstseen.spec(engine)])
    remote = [(n, d, prof, vps) for n, d, prof, vps in plan if vps]
    if remote and not broker:
        for n, _d, _p, vps in remote:
            out.skipped[n] = f"vantage points {', '.join(vps)} need --broker (netready worker on each)"
    lock = threading.Lock()

    def save(name: str, result: ScanResult) -> None:
        with lock, Session(engine) as session, session.begin():
            portal = store.portal_by_name(session, name)
            rec = store.record(session, portal, result, at=at)  # None: now, once the portal is locked
            if alert_config is not None:
                alerts.evaluate(session, rec, alert_config)
            out.scanned[portal.name] = session.get(store.State, rec.run.state_id).status
        if on_result:
            on_result(name, out.scanned[store.ascii_name(name)])

    by_profile: dict[str, list[str]] = {}
    for _n, display, prof in local:
        by_profile.setdefault(prof, []).append(display)
    for prof_name, names in by_profile.items():
        try:
            profile = load_for_run(prof_name, lab)
        except Exception as exc:  # a portal with a bad profile is recorded as crashed, the others go on
            for name in names:
                from netready.model import Target

                save(name, store.crashed_result(Target(name=name, ascii_name=name), f"profile {prof_name}: {exc}"))
            continue
        if scan_local(names, settings, profile, concurrency, save, processes):
            out.interrupted = True
            break
    if remote and broker and not out.interrupted:
        from netready.monitor import tasks

        tasks.scan_remote([(d, prof, vps) for _n, d, prof, vps in remote], broker, settings, lab, save,
                          wait=wait)
    if alert_config is not None:
        sent, errors = alerts.dispatch(engine, alert_config)
        out.alerts_sent, out.alert_errors = sent, errors
    return out


class Stopper:
    """SIGTERM / SIGINT end the loop after the current round (a second one interrupts the round)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        def handler(signum, frame):  # type: ignore[no-untyped-def]
            if self.event.is_set():
                raise KeyboardInterrupt
            self.event.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def next_wake(engine: Engine) -> float:
    """Seconds until the next portal is due (at most MAX_SLEEP)."""
    from sqlalchemy import func, select

    with Session(engine) as session:
        soonest = session.scalar(select(func.min(store.Portal.next_due)))
    if soonest is None:
        return MAX_SLEEP
    return max(0.0, min(MAX_SLEEP, soonest - time.time()))


def loop(engine: Engine, settings: ProbeSettings, stopper: Stopper, on_round: Callable[[RoundResult], None],
         **kwargs: Any) -> None:
    """The scheduler: a round whenever something is due, until stopped."""
    from sqlalchemy.exc import OperationalError

    while not stopper.event.is_set():
        try:
            result = run_round(engine, settings, **kwargs)
        except OperationalError as exc:  # the database went away (a PostgreSQL restart): try again later
            on_round(RoundResult(alert_errors=[f"database: {exc.orig or exc}"]))
            stopper.event.wait(DB_RETRY)
            continue
        on_round(result)
        if result.interrupted:
            return
        stopper.event.wait(next_wake(engine))
