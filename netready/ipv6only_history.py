"""Since when has a host a portal needs been unreachable over IPv6? The "first seen" hook of VN-IPV6-ONLY.

The IPv6-only probe asks a history source, for each host that fails, when that failure was first seen; the
answer is recorded in the probe's observation (so a saved report judges again to the same message), and the
evaluator prints it. Sources are given as strings (`ProbeSettings.history`, `netready check --history`):

- a netready JSON report or a directory of them (`check -f json -o`): earlier runs. A host's
  failure is "first seen" at the start of the earliest run of the latest unbroken series of runs in which
  VN-IPV6-ONLY failed on that host for that portal (a run that checked the portal without that failure
  ends the series);
- `SCHEME:REST` for a source registered with `register_source(SCHEME, factory)`, a factory returning an object
  that has `first_seen(target, host) -> ISO time | None` and a `description`. Built in: the monitoring store,
  `monitor:/var/lib/netready/monitor.db` or `monitor:postgresql://...` (netready.monitor.firstseen).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

RULE_ID = "VN-IPV6-ONLY"


class FirstSeen(Protocol):
    description: str

    def first_seen(self, target: str, host: str) -> str | None: ...


class HistoryError(ValueError):
    """A history source that cannot be read (bad path, not a report, unknown scheme)."""


_SOURCES: dict[str, Callable[[str], FirstSeen]] = {}
# Sources of netready itself: (module, factory), imported only when a spec names them.
_BUILT_IN = {"monitor": ("netready.monitor.firstseen", "open_source")}


def register_source(scheme: str, factory: Callable[[str], FirstSeen]) -> None:
    """Make `scheme:rest` history specs build their source with factory(rest) (for the monitoring store)."""
    _SOURCES[scheme] = factory


@dataclass
class ReportHistory:
    """First-seen times from earlier netready reports: runs = [(started, {target: failing hosts or None})]."""

    runs: list[tuple[str, dict[str, set[str]]]] = field(default_factory=list)
    description: str = "earlier netready reports"

    def add_run(self, started: str, findings: list[dict[str, Any]], targets: list[str]) -> None:
        failing: dict[str, set[str]] = {t: set() for t in targets}
        for f in findings:
            if f.get("rule_id") == RULE_ID and f.get("verdict") == "fail" and f.get("subject"):
                failing.setdefault(f["target"], set()).add(f["subject"])
        self.runs.append((started, failing))

    def first_seen(self, target: str, host: str) -> str | None:
        since = None
        for started, failing in sorted(self.runs, key=lambda r: r[0]):
            if target not in failing:
                continue  # that run did not check this portal: it neither starts nor ends a series
            if host in failing[target]:
                since = since or started
            else:
                since = None
        return since


def _read(path: Path, history: ReportHistory) -> None:
    from netready.model import Report

    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not ({"findings", "results"} & set(data)) or "started" not in data:
        raise HistoryError(f"{path}: not a netready JSON report")
    if "results" not in data:  # schema 1: flat lists, read as they are
        targets = [t.get("ascii_name") or t.get("name") for t in data.get("targets", [])]
        history.add_run(data["started"], data["findings"], targets)
        return
    report = Report.from_dict(data)  # schema 2: shared evidence resolved, findings per target
    targets = [t.ascii_name or t.name for t in report.targets]
    history.add_run(report.started, [f.to_dict() for f in report.findings], targets)


def load_history(specs: list[str]) -> FirstSeen | None:
    """One source from the specs (report files, directories of reports, or a registered scheme)."""
    if not specs:
        return None
    registered = [s for s in specs if ":" in s.split("/", 1)[0] and s.split(":", 1)[0] in {*_SOURCES, *_BUILT_IN}]
    if registered:
        if len(specs) > 1:
            raise HistoryError("a registered history source (SCHEME:...) cannot be combined with other sources")
        scheme, rest = registered[0].split(":", 1)
        if scheme in _SOURCES:
            return _SOURCES[scheme](rest)
        import importlib

        module, factory = _BUILT_IN[scheme]
        return getattr(importlib.import_module(module), factory)(rest)
    history = ReportHistory()
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            files = sorted(path.glob("*.json"))
        elif path.is_file():
            files = [path]
        else:
            raise HistoryError(f"history source not found: {spec}")
        for f in files:
            try:
                _read(f, history)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise HistoryError(f"{f}: cannot read as a netready report: {exc}") from exc
    history.description = f"{len(history.runs)} earlier netready run(s)"
    return history
