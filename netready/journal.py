"""A run journal: each finished target is appended as one JSON line, flushed at once.

`check --output FILE` keeps FILE.jsonl beside the report so that an interrupted run (Ctrl-C, a
crash, a killed machine) loses at most the targets in flight, and `--resume` skips the targets the
journal already holds. A torn last line (the process died mid-write) is ignored.

A line (journal version 2) holds one target's entry as the report stores it (model.result_record), the
shared values it defines (netready/evidence.py: each defined once per journal, referenced by later lines),
its summary and the profile it was judged under:

    {"kind":"target","input":NAME,"profile":FP,"shared":{"17":...},"result":{...},"summary":{...}}

Version 1 lines (target, observations and findings, nothing shared) are still read. The report of a batch
is streamed from the journal (write_journal_report): memory holds neither the evidence nor the findings of
the targets, whatever their number.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from netready.evidence import Interner, Resolver, dumps, plain
from netready.model import (
    SCHEMA_VERSION,
    Finding,
    Observation,
    Report,
    ReportWriter,
    Target,
    result_from_record,
    result_record,
    summary_json,
)
from netready.scan import TargetResult

HEADER_KIND = "netready-journal"
JOURNAL_VERSION = 2
FSYNC_INTERVAL = 1.0  # seconds: every line is flushed at once (a killed process loses nothing written);
# fsync, which only matters when the machine itself goes down, is paid at most once a second.
RESOLVE_CACHE = 512  # decoded shared values kept while re-judging journal lines


def journal_path(output: str | Path) -> Path:
    return Path(f"{output}.jsonl")


def profile_fingerprint(profile: Any) -> str:
    """Which profile judged a line: a digest of everything the profile sets (levels and thresholds)."""
    return hashlib.sha256(dumps(profile.to_dict()).encode()).hexdigest()[:16]


# --- reading -------------------------------------------------------------------------------------------------


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(offset, record) of every complete JSON line of the journal; torn or foreign lines are skipped."""
    with path.open("rb") as fh:
        offset = 0
        for line in fh:
            start, offset = offset, offset + len(line)
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a line cut short by an interruption
            if isinstance(record, dict):
                yield start, record


def _definitions(record: dict[str, Any]) -> dict[str, Any]:
    shared = record.get("shared")
    return shared if isinstance(shared, dict) else {}


def _raw_result(record: dict[str, Any]) -> dict[str, Any]:
    """The record's entry in the report's form (a version 1 line converted)."""
    if "result" in record:
        return record["result"]
    target = Target.from_dict(record["target"])
    return result_record(target, [Observation.from_dict(o) for o in record["observations"]],
                         [Finding.from_dict(f) for f in record["findings"]])


@dataclass
class JournalIndex:
    """Where each target's first complete line and each shared definition is, and the largest id used."""

    targets: dict[str, int] = field(default_factory=dict)  # input name -> byte offset
    definitions: array = field(default_factory=lambda: array("q"))  # id -> byte offset of its line (-1: none)
    max_id: int = 0

    def add_definition(self, ref: int, offset: int) -> None:
        if ref >= len(self.definitions):
            self.definitions.extend([-1] * (ref + 1 - len(self.definitions)))
        self.definitions[ref] = offset
        self.max_id = max(self.max_id, ref)


def journal_index(path: Path, on_definition: Callable[[str, Any], None] | None = None) -> JournalIndex:
    """Read the journal once: targets (first complete occurrence wins, as for --resume) and definitions
    (each handed to on_definition as it is met, in journal order)."""
    index = JournalIndex()
    if not path.is_file():
        return index
    for offset, record in _records(path):
        if record.get("kind") != "target":
            continue
        for ref, value in _definitions(record).items():
            if ref.isdigit():
                index.add_definition(int(ref), offset)
                if on_definition:
                    on_definition(ref, value)
        name = record.get("input")
        if isinstance(name, str):
            index.targets.setdefault(name, offset)
    return index


class JournalReader:
    """Random access to a journal's lines, with shared values resolved from wherever they were defined."""

    def __init__(self, path: Path, index: JournalIndex) -> None:
        self.path = path
        self.index = index
        self._fh = path.open("rb")
        self.resolver = Resolver(self._definition, cache=RESOLVE_CACHE)

    def record(self, offset: int) -> dict[str, Any]:
        self._fh.seek(offset)
        return json.loads(self._fh.readline())

    def _definition(self, ref: int) -> Any:
        offset = self.index.definitions[ref] if ref < len(self.index.definitions) else -1
        if offset < 0:
            raise KeyError(ref)
        return _definitions(self.record(offset))[str(ref)]

    def result(self, record: dict[str, Any]) -> TargetResult:
        raw = _raw_result(record)
        # Version 1 lines share nothing and were never escaped: what looks like a reference there is data.
        target, observations, findings = result_from_record(self.resolver.resolve(raw) if "result" in record else raw)
        return TargetResult(target, observations, findings)

    def close(self) -> None:
        self._fh.close()


def read_journal(path: Path) -> list[TargetResult]:
    """Completed targets with their evidence resolved, first occurrence wins (small journals: all in memory)."""
    index = journal_index(path)
    if not index.targets:
        return []
    reader = JournalReader(path, index)
    try:
        return [reader.result(reader.record(offset)) for offset in index.targets.values()]
    finally:
        reader.close()


# --- writing -------------------------------------------------------------------------------------------------


@dataclass
class JournalLine:
    """One target's journal line, encoded where it was checked (netready.scan hands these to on_result)."""

    target: Target
    text: str
    status: str


class LineEncoder:
    """Encodes finished targets as journal lines. Each checking process of a batch gets its own
    (for_slot): its own memory of shared values, and every `slots`-th definition id from `first_id`, so the
    processes never hand out the same id. Picklable before use (a worker receives it)."""

    def __init__(self, profile: str, first_id: int = 1, slot: int = 0, slots: int = 1) -> None:
        self.profile, self.first_id, self.slot, self.slots = profile, first_id, slot, slots
        self._interner: Interner | None = None
        self._lock: Any = None
        self._lines = 0

    def for_slot(self, slot: int, slots: int) -> LineEncoder:
        return LineEncoder(self.profile, self.first_id, slot, slots)

    def __getstate__(self) -> dict[str, Any]:
        return {"profile": self.profile, "first_id": self.first_id, "slot": self.slot, "slots": self.slots}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def __call__(self, result: TargetResult) -> JournalLine:
        import threading

        from netready.judge import target_summary

        if self._interner is None:
            self._interner = Interner(next_id=self.first_id + self.slot, id_step=self.slots)
            self._lock = threading.Lock()
        record = result_record(result.target, result.observations, result.findings)
        summary = target_summary(result.findings)
        with self._lock:
            self._lines += 1
            interner = self._interner
            interner.begin(self._lines, [record["observations"], record["findings"]], record.get("names"))
            # The entry's frame is never shared (readers find the target and the lists in every line); its
            # observations and findings, and anything in them, may be.
            body = (f'{{"target":{plain(record["target"])},"observations":['
                    + ",".join(interner.encode_entry(o) for o in record["observations"]) + '],"findings":['
                    + ",".join(interner.encode_entry(f) for f in record["findings"]) + "]"
                    + (f',"names":{dumps(record["names"])}' if "names" in record else "") + "}")
            shared = ",".join(f'"{ref}":{text}' for ref, text in interner.end().items())
        text = (f'{{"kind":"target","input":{dumps(result.target.name)},"profile":{dumps(self.profile)},'
                f'"shared":{{{shared}}},"result":{body},"summary":{dumps(summary)}}}\n')
        return JournalLine(result.target, text, summary["status"])


class Journal:
    """Append-only writer; one line per finished target, flushed at once, fsynced at least every second.
    Values shared with earlier lines are referenced (netready/evidence.py); a resumed journal continues the
    numbering of its definitions (next_id)."""

    def __init__(self, path: Path, fresh: bool, profile: Any = None, index: JournalIndex | None = None) -> None:
        """index: the journal's index when the caller already read it (a resumed run)."""
        self.path = path
        self.profile = profile_fingerprint(profile) if profile is not None else ""
        self._synced = 0.0
        self.next_id = 1 if fresh else (index or journal_index(path)).max_id + 1
        self._encoder = LineEncoder(self.profile, self.next_id)
        mode = "w" if fresh else "a"
        self._fh: IO[str] = path.open(mode, encoding="utf-8")
        if fresh or path.stat().st_size == 0:
            self._fh.write(json.dumps({"kind": HEADER_KIND, "schema_version": SCHEMA_VERSION,
                                       "journal_version": JOURNAL_VERSION}) + "\n")
            self._flush()
        else:
            self._repair_tail()

    def encoder(self) -> LineEncoder:
        """An encoder for the checking processes of a batch (ids after those this journal holds); this
        journal's own append() must then not be used in the same run."""
        return LineEncoder(self.profile, self.next_id)

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

    def append(self, result: TargetResult | JournalLine) -> None:
        """A finished target: its result (encoded here) or its line encoded by a checking process."""
        line = result if isinstance(result, JournalLine) else self._encoder(result)
        self._fh.write(line.text)
        self._flush(sync=False)

    def line(self, result: TargetResult) -> str:
        return self._encoder(result).text

    def close(self) -> None:
        if not self._fh.closed:
            self._flush()
        self._fh.close()


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report_json(report: Report, path: Path) -> None:
    """A report in memory as its JSON file (render(report, "json")), via a temporary file and a rename."""
    write_atomic(path, report.to_json() + "\n")


@dataclass
class StreamedReport:
    """What write_journal_report wrote: the number of targets and the summary without per-target entries."""

    targets: int
    summary: dict[str, Any]


def write_journal_report(path: Path, journal: Path, names: list[str], head: dict[str, Any], profile: Any,
                         interrupted: bool = False) -> StreamedReport:
    """The JSON report of a batch, streamed from its journal: `names` in this order (those the journal holds,
    each once), every shared definition of the journal, and the summary. A line judged under another profile
    (a resumed run) is judged again under `profile`. Memory holds the journal's index, never the evidence or
    the findings of all targets. Written via a temporary file and a rename, like write_atomic."""
    from netready.judge import judge_target, target_summary

    fingerprint = profile_fingerprint(profile)
    tmp = path.with_name(f".{path.name}.tmp")
    writer = ReportWriter()
    totals = {"targets": 0, "compliant": 0, "not_compliant": 0, "undetermined": 0}
    status_key = {"compliant": "compliant", "not-compliant": "not_compliant", "undetermined": "undetermined"}
    with tmp.open("w", encoding="utf-8") as out, tempfile.TemporaryFile("w+", encoding="utf-8",
                                                                         dir=path.parent) as summaries:
        writer.start(out, head)
        out.write(',\n  "shared": {')
        first = [True]

        def definition(ref: str, value: Any) -> None:
            out.write(("" if first[0] else ",") + f'\n    "{ref}": {dumps(value)}')
            first[0] = False

        index = journal_index(journal, definition)
        out.write(("" if first[0] else "\n  ") + "}")
        writer.begin_results(out)
        reader = JournalReader(journal, index)
        written: set[str] = set()
        try:
            for name in names:
                offset = index.targets.get(name)
                if offset is None or name in written:
                    continue
                written.add(name)
                record = reader.record(offset)
                raw = _raw_result(record)
                summary = record.get("summary")
                encode = dumps if "result" in record else plain  # version 1 lines were never escaped
                if record.get("profile") != fingerprint or not isinstance(summary, dict):
                    result = reader.result(record)  # judged again: new findings, written without references
                    found = judge_target(result.target, result.observations, profile)
                    summary = target_summary(found)
                    raw, encode = result_record(result.target, result.observations, found), plain
                writer.write_result(out, encode(raw["target"]), [encode(o) for o in raw["observations"]],
                                    [encode(f) for f in raw["findings"]], raw.get("names"))
                ascii_name = raw["target"].get("ascii_name", name)
                summaries.write(("," if totals["targets"] else "") + f"\n      {dumps(ascii_name)}: {dumps(summary)}")
                totals["targets"] += 1
                totals[status_key.get(summary.get("status"), "undetermined")] += 1
        finally:
            reader.close()
        summaries.seek(0)
        writer.end_results(out)
        out.write(',\n  "summary": {\n    "targets": {')
        while chunk := summaries.read(1 << 20):
            out.write(chunk)
        rest = summary_json({"totals": totals, "interrupted": interrupted})
        out.write(("\n    }," if totals["targets"] else "},") + rest[1:] + "\n}\n")
    os.replace(tmp, path)
    return StreamedReport(totals["targets"], {"totals": totals, "interrupted": interrupted})
