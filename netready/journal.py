"""A run journal: each finished target is appended as one JSON line, flushed at once.

`check --output FILE` keeps FILE.jsonl beside the report so that an interrupted run (Ctrl-C, a
crash, a killed machine) loses at most the targets in flight, and `--resume` skips the targets the
journal already holds. A torn last line (the process died mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from netready.model import SCHEMA_VERSION, Finding, Observation, Target
from netready.scan import TargetResult

HEADER_KIND = "netready-journal"


def journal_path(output: str | Path) -> Path:
    return Path(f"{output}.jsonl")


def result_to_line(result: TargetResult) -> str:
    record = {
        "kind": "target",
        "input": result.target.name,
        "target": result.target.to_dict(),
        "observations": [o.to_dict() for o in result.observations],
        "findings": [f.to_dict() for f in result.findings],
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


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
    """Append-only writer; one line per finished target, fsynced so a crash keeps it."""

    def __init__(self, path: Path, fresh: bool) -> None:
        self.path = path
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

    def _flush(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def append(self, result: TargetResult) -> None:
        self._fh.write(result_to_line(result))
        self._flush()

    def close(self) -> None:
        self._fh.close()


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
