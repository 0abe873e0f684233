"""Batch runs: the journal survives Ctrl-C, --resume completes the run, no target lost or doubled."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from netready.model import Report

NETREADY = str(Path(sys.executable).parent / "netready")


def _journal_targets(path: Path) -> list[str]:
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("kind") == "target":
            names.append(rec["input"])
    return names


def test_interrupt_then_resume(tmp_path):
    # Root hints that point at a loopback address where nothing answers: every lookup times out,
    # so targets are slow enough to interrupt and each ends with a clear error, not a hang.
    hints = tmp_path / "hints"
    hints.write_text(". 1 NS a.silent.\na.silent. 1 A 127.0.0.9\n", encoding="utf-8")
    names = [f"dichvucong.agency{i:02d}.gov.vn" for i in range(24)] + ["a..b", "xn--bcher-kva.vn"]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    out = tmp_path / "run.json"
    journal = tmp_path / "run.json.jsonl"
    args = [NETREADY, "check", "-i", str(tmp_path / "names.txt"), "--root-hints", str(hints), "--timeout", "0.4",
            "--budget", "4", "--concurrency", "4", "-f", "json", "-o", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.exists() and len(_journal_targets(journal)) >= 4:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    partial = Report.load(out)  # valid JSON even though interrupted
    assert partial.summary["interrupted"] is True
    first = _journal_targets(journal)
    assert 4 <= len(first) < len(names)
    assert sorted(t.name for t in partial.targets) == sorted(first)

    r = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr  # every target ends in an error: undetermined, never pass
    final = Report.load(out)
    assert [t.name for t in final.targets] == names  # input order, each exactly once
    assert sorted(_journal_targets(journal)) == sorted(names)
    assert final.summary["interrupted"] is False
    assert final.summary["totals"]["undetermined"] == len(names)
    for t in final.targets:
        assert t.error, t.name
        found = final.findings_for(t.ascii_name)
        # an error, or a consequence of one (caused_by: the TLS rules of a name that gives no address)
        assert all(f.verdict == "error" or (f.verdict == "info" and f.caused_by) for f in found
                   if f.level == "required"), [f.to_dict() for f in found]
        assert not any(f.verdict == "pass" for f in found if f.rule_id != "VN-NAMING")


def _children(pid: int, task: str) -> list[str]:
    """Child pids started by one thread; a checking thread may end between listing and reading."""
    try:
        return Path(f"/proc/{pid}/task/{task}/children").read_text().split()
    except FileNotFoundError:
        return []


def test_a_killed_worker_process_loses_no_name(tmp_path):
    """A batch over two processes; the worker is killed (SIGKILL) while it holds names: the names it held
    are checked again here, every name ends in the results once, and no process is left behind."""
    import os
    import threading

    from netready.model import ProbeSettings
    from netready.profiles import load_profile
    from netready.scan import scan_results

    hints = tmp_path / "hints"
    hints.write_text(". 1 NS a.silent.\na.silent. 1 A 127.0.0.9\n", encoding="utf-8")
    settings = ProbeSettings(root_hints=str(hints), timeout=0.5, budget=4.0, browser=False)
    names = [f"dichvucong.agency{i:02d}.gov.vn" for i in range(40)]
    seen: list[str] = []
    first = threading.Event()

    def on_result(r):
        seen.append(r.target.name)
        if len(seen) >= 8:  # the worker is up (about a second of imports) and holds names by now
            first.set()

    out: dict = {}
    run = threading.Thread(target=lambda: out.setdefault("o", scan_results(
        names, settings, load_profile("lab"), concurrency=8, processes=2, on_result=on_result)))
    run.start()
    assert first.wait(60)
    workers = [p for t in os.listdir(f"/proc/{os.getpid()}/task") for p in _children(os.getpid(), t)
               if "_worker_main" in Path(f"/proc/{p}/cmdline").read_text()]
    assert len(workers) == 1, workers
    os.kill(int(workers[0]), signal.SIGKILL)
    run.join(120)
    assert not run.is_alive()
    outcome = out["o"]
    assert [r.target.name for r in outcome.results] == names and sorted(seen) == sorted(names)
    assert all(r.target.error for r in outcome.results)  # each ends with its error, none lost or doubled
    assert not Path(f"/proc/{workers[0]}").exists() or "Z" in Path(f"/proc/{workers[0]}/stat").read_text().split()[2]
