"""Celery: scans published to one queue per vantage point, run by `netready worker` on probe hosts, merged here.

- `monitor run --broker URL` sends one task per portal and vantage point to queue `netready.vantage.<name>`; the
  worker of that vantage point checks the portal with its own probe settings (its resolvers, its network) and
  returns the one-portal report (docs/model.md) through the result backend (the same Redis).
- Tasks are acknowledged late and rejected when their worker process is lost (`task_acks_late`,
  `task_reject_on_worker_lost`), one at a time per process (`worker_prefetch_multiplier=1`): a worker killed in the
  middle of a scan puts the portal back in the queue and another process (or the restarted worker) scans it. With
  Redis, a message held by a worker that vanished entirely comes back after the visibility timeout.
- When every vantage point of a portal has answered (or the round's wait is over), the reports are judged again as
  one with netready.merge (worst verdict per rule and subject; a vantage point without IPv6 is not counted for
  IPv6) and stored as the portal's "merged" view. A portal no vantage point answered for is recorded as crashed
  and retried next round.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from netready.model import ProbeSettings, Report, Target
from netready.monitor import store
from netready.monitor.store import ScanResult

QUEUE_PREFIX = "netready.vantage."
TASK = "netready.scan"
# Seconds before Redis hands an unacknowledged task of a vanished worker to another one: longer than any scan.
VISIBILITY_TIMEOUT = int(os.environ.get("NETREADY_VISIBILITY_TIMEOUT", "600"))
_WORKER: dict[str, Any] = {}  # this worker's vantage point, probe settings and --lab (set by run_worker)


def queue_name(vantage: str) -> str:
    return f"{QUEUE_PREFIX}{vantage}"


def safe_url(url: str) -> str:
    """The broker URL without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{f'[{host}]' if ':' in host else host}"
        netloc += f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def make_app(broker: str):  # type: ignore[no-untyped-def]
    from celery import Celery

    app = Celery("netready", broker=broker, backend=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_track_started=True,
    )
    app.task(name=TASK, bind=True)(_scan_task)
    return app


def _scan_task(self, name: str, profile: str, timeout: float | None = None, budget: float | None = None
               ) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """In the worker: check one portal with this vantage point's settings; the one-portal report as JSON."""
    from dataclasses import replace

    from netready.model import utc_now
    from netready.profiles import load_for_run
    from netready.scan import build_report, check_one

    settings: ProbeSettings = _WORKER["settings"]
    if timeout:
        settings = replace(settings, timeout=float(timeout))
    if budget:
        settings = replace(settings, budget=float(budget))
    prof = load_for_run(profile, _WORKER.get("lab", False))
    started = utc_now()
    result = check_one(name, settings, prof)
    report = build_report([result], settings, prof, started)
    return {"vantage": _WORKER["vantage"], "ipv6": list(vantage_ipv6(settings)), "report": report.to_dict()}


IPV6_TEST_TTL = 300.0
_IPV6_CACHE: dict[str, Any] = {}


def _ipv6_servers(settings: ProbeSettings) -> list[str]:
    """IPv6 addresses to self-test against: the root servers of the root hints, else IPv6 resolvers."""
    import ipaddress

    out = []
    if settings.root_hints:
        try:
            lines = open(settings.root_hints, encoding="utf-8").read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            parts = line.split(";")[0].split()
            if len(parts) >= 3 and parts[-2].upper() == "AAAA":
                out.append(parts[-1])
    out += [r for r in settings.resolvers if ":" in r]
    valid = []
    for a in out:
        try:
            valid.append(str(ipaddress.IPv6Address(a)))
        except ValueError:
            continue
    return valid


def vantage_ipv6(settings: ProbeSettings) -> tuple[bool | None, str]:
    """Whether this vantage point has IPv6 itself: a root server (or resolver) answers over IPv6. Asked at most
    every 5 minutes. (None, why) when there is nothing to ask."""
    cached = _IPV6_CACHE.get("answer")
    if cached and time.monotonic() - _IPV6_CACHE["at"] < IPV6_TEST_TTL:
        return cached
    from netready.probes.dns import ask

    servers = _ipv6_servers(settings)
    answer: tuple[bool | None, str] = (None, "no IPv6 root server or resolver to ask")
    errors = []
    for server in servers[:4]:
        got = ask(server, ".", "NS", settings.timeout, recursion=bool(settings.resolvers and not settings.root_hints))
        if got.response is not None:
            answer = (True, f"{server} answered over IPv6")
            break
        errors.append(f"{server}: {got.error}")
    else:
        if servers:
            answer = (False, "no IPv6 server answered: " + "; ".join(errors))
    _IPV6_CACHE.update(answer=answer, at=time.monotonic())
    return answer


def run_worker(vantage: str, broker: str, settings: ProbeSettings, lab: bool, concurrency: int = 2) -> None:
    """`netready worker`: consume this vantage point's queue until stopped (SIGTERM: warm shutdown)."""
    _WORKER.update(vantage=vantage, settings=settings, lab=lab)
    app = make_app(broker)
    app.worker_main(["worker", "-Q", queue_name(vantage), "-c", str(concurrency), "-n", f"{vantage}@%h",
                     "--loglevel=INFO", "-P", "prefork", "--without-gossip", "--without-mingle",
                     "--without-heartbeat"])


def _merged(display: str, profile_name: str, lab: bool, answers: dict[str, dict[str, Any]]) -> ScanResult:
    """The vantage points' one-portal reports judged again as one (netready.merge)."""
    from netready.merge import Vantage, merge_reports
    from netready.profiles import load_for_run

    vantages = []
    for vp, answer in sorted(answers.items()):
        raw = json.dumps(answer["report"], sort_keys=True).encode()
        vantages.append(Vantage(vp, Report.from_dict(answer["report"]), f"celery:{vp}",
                                hashlib.sha256(raw).hexdigest()))
    # Each worker's own IPv6 self-test; a one-portal report alone cannot tell (a portal without IPv6 name servers
    # would make a vantage point with IPv6 look like one without).
    told = {vp: (a["ipv6"][0], a["ipv6"][1]) for vp, a in answers.items()
            if isinstance(a.get("ipv6"), list) and len(a["ipv6"]) == 2 and a["ipv6"][0] is not None}
    merged = merge_reports(vantages, load_for_run(profile_name, lab), told)
    target = merged.targets[0]
    summary = merged.summary["targets"][target.ascii_name]
    # What identifies the vantage points without what changes every scan (file hashes, times, settings).
    meta = [{k: m.get(k) for k in ("name", "ipv6", "ipv6_evidence", "targets_checked", "tool_version", "profile")}
            for m in merged.settings["merge"]["vantage_points"]]
    return ScanResult(target, merged.observations, merged.findings, summary, vantages=sorted(answers),
                      extra={"merge": {"verdict_order": merged.settings["merge"]["verdict_order"],
                                       "vantage_points": meta}})


def scan_remote(items: list[tuple[str, str, list[str]]], broker: str, settings: ProbeSettings, lab: bool,
                save: Callable[[str, ScanResult], None], wait: float | None = None, poll: float = 0.2) -> None:
    """Publish (portal, profile, vantage points) scans, store each portal's merged result as soon as all its
    vantage points answered; after `wait` seconds, merge what came and record portals nobody answered as crashed."""
    app = make_app(broker)
    pending: dict[str, dict[str, Any]] = {}
    for display, profile, vps in items:
        pending[display] = {"profile": profile, "tasks": {
            vp: app.send_task(TASK, args=[display, profile, settings.timeout, settings.budget], queue=queue_name(vp))
            for vp in vps}, "answers": {}, "errors": {}}
    per_queue: dict[str, int] = {}
    for _d, _p, vps in items:
        for vp in vps:
            per_queue[vp] = per_queue.get(vp, 0) + 1
    limit = wait if wait is not None else 120 + settings.budget * max(per_queue.values(), default=1)
    deadline = time.monotonic() + limit
    while pending:
        for display in list(pending):
            entry = pending[display]
            for vp, res in list(entry["tasks"].items()):
                if res.ready():
                    try:
                        entry["answers"][vp] = res.get(timeout=5, propagate=True)
                    except Exception as exc:  # the task raised in the worker: that vantage point has no answer
                        entry["errors"][vp] = f"{type(exc).__name__}: {exc}"
                    del entry["tasks"][vp]
            if not entry["tasks"]:
                _finish(display, entry, lab, save)
                del pending[display]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(poll)
    for display, entry in pending.items():  # out of time: what came is merged, the rest is missing
        for vp in entry["tasks"]:
            entry["errors"][vp] = f"no answer within {limit:.0f} s"
        _finish(display, entry, lab, save)


def _finish(display: str, entry: dict[str, Any], lab: bool, save: Callable[[str, ScanResult], None]) -> None:
    if entry["answers"]:
        try:
            result = _merged(display, entry["profile"], lab, entry["answers"])
        except Exception as exc:  # a report that cannot be merged is that portal's crash, not the round's
            result = store.crashed_result(Target(display, display), f"merge failed: {type(exc).__name__}: {exc}")
    else:
        why = "; ".join(f"{vp}: {err}" for vp, err in sorted(entry["errors"].items()))
        result = store.crashed_result(Target(display, display), f"no vantage point answered ({why})")
    save(display, result)
