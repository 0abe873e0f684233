"""A run journal: each finished target is appended as one JSON line, flushed at once.

`check --output FILE` keeps FILE.jsonl beside the report so that an interrupted run (Ctrl-C, a
crash, a killed machine) loses at most the targets in flight, and `--resume` skips the targets the
journal already holds. A torn last line (the process died mid-write) is ignored.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from netready.model import SCHEMA_VERSION, Finding, Observation, Report, Target
from netready.scan import TargetResult

HEADER_KIND = "netready-journal"
FSYNC_INTERVAL = 1.0  # seconds: every line is flushed at once (a killed process loses nothing written);
# fsync, which only matters when the machine itself goes down, is paid at most once a second.


def shallow(obj: Any) -> dict[str, Any]:
    """A dataclass as a dict for json.dumps without dataclasses.asdict's deep copy (observation data
    is already plain JSON values; copying ~100 kB per target costs more than writing it)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def journal_path(output: str | Path) -> Path:
    return Path(f"{output}.jsonl")


def result_to_line(result: TargetResult) -> str:
    record = {
        "kind": "target",
        "input": result.target.name,
        "target": shallow(result.target),
        "observations": [shallow(o) for o in result.observations],
        "findings": [shallow(f) for f in result.findings],
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_default) + "\n"


def result_from_record(record: dict[str, Any]) -> TargetResult:
    return TargetResult(
        target=Target.from_dict(record["target"]),
        observations=[Observation.from_dict(o) for o in record["observations"]],
        findings=[Finding.from_dict(f) for f in record["findings"]],
    )


def read_journal(path: Path) -> list[TargetResult]:
    """Completed targets, first occurrence wins; torn or foreign lines are skipped."""
    if not path.is_file():
        return []
    results: list[TargetResult] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interruption
            if record.get("kind") != "target":
                continue
            result = result_from_record(record)
            if result.target.name in seen:
                continue
            seen.add(result.target.name)
            results.append(result)
    return results


class Journal:
    """Append-only writer; one line per finished target, flushed at once, fsynced at least every second."""

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
        self._synced = 0.0
        mode = "w" if fresh else "a"
        self._fh: IO[str] = path.open(mode, encoding="utf-8")
        if fresh or path.stat().st_size == 0:
            self._fh.write(json.dumps({"kind": HEADER_KIND, "schema_version": SCHEMA_VERSION}) + "\n")
            self._flush()
        else:
            self._repair_tail()

    def _repair_tail(self) -> None:
        # An interrupted write may have left a line without its newline: end it, so the next
        # record starts on a line of its own (the torn line is then skipped on reading).
        with self.path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            last = fh.read(1)
        if last != b"\n":
            self._fh.write("\n")
            self._flush()

    def _flush(self, sync: bool = True) -> None:
        self._fh.flush()
        if sync or time.monotonic() - self._synced >= FSYNC_INTERVAL:
            os.fsync(self._fh.fileno())
            self._synced = time.monotonic()

    def append(self, result: TargetResult) -> None:
        self._fh.write(result_to_line(result))
        self._flush(sync=False)

    def close(self) -> None:
        if not self._fh.closed:
            self._flush()
        self._fh.close()


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _indented(value: Any, pad: str) -> str:
    # json.dumps never puts a raw newline inside a string, so re-indenting line starts is safe.
    return json.dumps(value, ensure_ascii=False, indent=2, default=_default).replace("\n", "\n" + pad)


def journal_index(path: Path) -> dict[str, int]:
    """Byte offset of each target's record in the journal; first complete occurrence wins (as read_journal)."""
    index: dict[str, int] = {}
    with path.open("rb") as fh:
        offset = 0
        for line in fh:
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                record = None  # a torn line
            if isinstance(record, dict) and record.get("kind") == "target":
                index.setdefault(record["input"], offset)
            offset += len(line)
    return index


def _journal_observations(journal: Path, targets: list[Target]):  # -> Iterator[dict]
    index = journal_index(journal)
    with journal.open("rb") as fh:
        for target in targets:
            if target.name not in index:
                raise ValueError(f"target {target.name!r} is missing from the journal {journal}")
            fh.seek(index[target.name])
            yield from json.loads(fh.readline())["observations"]


def write_report_json(report: Report, path: Path, journal: Path | None = None) -> None:
    """The JSON report, byte for byte what `render(report, "json")` gives, written piece by piece: a
    national batch (100+ MB of raw observations) never exists as one deep copy plus one string in memory.
    journal: take the observations from the run's journal, target by target in report order, instead of
    report.observations (a batch that kept only targets and findings in memory).
    Written via a temporary file and a rename, like write_atomic."""
    tmp = path.with_name(f".{path.name}.tmp")
    head = {
        "schema_version": report.schema_version,
        "tool_version": report.tool_version,
        "started": report.started,
        "finished": report.finished,
        "profile": report.profile,
        "settings": report.settings,
    }
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write("{")
        first = True
        for key, value in head.items():
            fh.write(("\n" if first else ",\n") + f"  {json.dumps(key)}: " + _indented(value, "  "))
            first = False
        observations = (
            _journal_observations(journal, report.targets) if journal else (shallow(o) for o in report.observations)
        )
        for key, items in (("targets", (shallow(t) for t in report.targets)), ("observations", observations),
                           ("findings", (shallow(f) for f in report.findings))):
            fh.write(f",\n  {json.dumps(key)}: [")
            empty = True
            for item in items:
                fh.write(("\n    " if empty else ",\n    ") + _indented(item, "    "))
                empty = False
            fh.write("]" if empty else "\n  ]")
        fh.write(',\n  "summary": ' + _indented(report.summary, "  ") + "\n}\n")
    os.replace(tmp, path)
