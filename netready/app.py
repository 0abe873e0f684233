"""What the CLI commands do, apart from parsing: build settings, run scans, write outputs.

cli.py stays thin; everything here is callable (and tested) without typer.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from netready.model import ProbeSettings


class UsageError(ValueError):
    """Bad command-line input: exit code 3."""


def default_root_hints() -> str:
    return str(resources.files("netready").joinpath("data/named.root"))


def lab_env_dict() -> dict[str, Any]:
    """The running lab's env (root hints, trust anchor, CA bundle, resolvers, portals)."""
    from netready import lab

    env = lab.env()
    return env.to_dict() if hasattr(env, "to_dict") else dict(env)


def build_settings(
    resolvers: list[str] | None = None,
    root_hints: str | None = None,
    trust_anchor: str | None = None,
    ca_file: str | None = None,
    timeout: float = 2.0,
    budget: float = 30.0,
    use_lab: bool = False,
) -> ProbeSettings:
    """Probe settings from options; --lab fills in whatever the running lab provides."""
    lab_flag = False
    if use_lab:
        env = lab_env_dict()
        root_hints = root_hints or env["root_hints"]
        trust_anchor = trust_anchor or env["trust_anchor"]
        ca_file = ca_file or env["ca_bundle"]
        lab_flag = True
    for label, path in (("root hints", root_hints), ("trust anchor", trust_anchor), ("CA bundle", ca_file)):
        if path and not Path(path).is_file():
            raise UsageError(f"{label} file not found: {path}")
    if not resolvers and not root_hints:
        root_hints = default_root_hints()
    return ProbeSettings(
        resolvers=list(resolvers or []),
        root_hints=root_hints,
        trust_anchor=trust_anchor,
        ca_file=ca_file,
        timeout=timeout,
        budget=budget,
        lab=lab_flag,
    )


def read_names(names: list[str], input_file: str | None) -> list[str]:
    """Names from the command line and/or a file: a plain list (one per line, # comments) or a CSV
    with a 'name' (or 'domain') column."""
    out = [n for n in names if n.strip()]
    if input_file:
        path = Path(input_file)
        if not path.is_file():
            raise UsageError(f"input file not found: {input_file}")
        text = path.read_text(encoding="utf-8-sig")
        first = text.splitlines()[0] if text.strip() else ""
        if "," in first or first.strip().lower() in ("name", "domain"):
            reader = csv.DictReader(io.StringIO(text))
            fields = {f.strip().lower(): f for f in reader.fieldnames or []}
            column = fields.get("name") or fields.get("domain")
            if column is None:
                raise UsageError(f"{input_file}: CSV needs a 'name' or 'domain' column (found {reader.fieldnames})")
            out.extend(row[column].strip() for row in reader if (row.get(column) or "").strip())
        else:
            out.extend(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    if not out:
        raise UsageError("no name to check: give names as arguments or --input FILE")
    seen: set[str] = set()
    unique = []
    for name in out:
        if name not in seen:
            seen.add(name)
            unique.append(name)
    return unique


@dataclass
class DemoResult:
    report_text: str
    json_path: Path
    html_path: Path
    exit_code: int


def lab_portal_names(env: dict[str, Any]) -> list[str]:
    return [p["name"] for p in env.get("portals", [])]


@dataclass
class CheckRun:
    report: Any  # netready.model.Report
    interrupted: bool
    resumed: int  # targets taken from the journal


def run_check(
    names: list[str],
    settings: ProbeSettings,
    profile: Any,
    concurrency: int = 16,
    output: str | None = None,
    resume: bool = False,
    fmt: str = "json",
    lang: str = "en",
    on_result: Any = None,
) -> CheckRun:
    """A batch check that journals each finished target when writing to a file, resumes from that
    journal, and on Ctrl-C still writes a valid report of what finished."""
    from netready.journal import Journal, journal_path, read_journal, write_atomic
    from netready.model import utc_now
    from netready.render import render
    from netready.scan import build_report, scan_results

    if resume and not output:
        raise UsageError("--resume needs --output FILE (the run to resume)")
    started = utc_now()
    done = {}
    journal = None
    if output:
        jpath = journal_path(output)
        if resume:
            done = {r.target.name: r for r in read_journal(jpath) if r.target.name in set(names)}
        journal = Journal(jpath, fresh=not resume)

    def record(result: Any) -> None:
        if journal:
            journal.append(result)
        if on_result:
            on_result(result)

    try:
        outcome = scan_results(names, settings, profile, concurrency, on_result=record, done=done)
    finally:
        if journal:
            journal.close()
    report = build_report(outcome.results, settings, profile, started, rejudge=bool(done))
    report.summary["interrupted"] = outcome.interrupted
    if output:
        write_atomic(Path(output), render(report, fmt, lang))
    return CheckRun(report, outcome.interrupted, len(done))
