"""Batch throughput on the lab: N scale portals (+10 % dead or broken names), figures printed.

    .venv/bin/python bench/bench_batch.py [--domains 1000] [--concurrency 64] [--processes 0] [--report]

Brings the lab up with `scale=N` (extra signed agency zones and SNI portals), checks every name
(one checking process per core by default, as `netready check` does: this one and spawned workers) and
prints domains/minute, peak RSS (this process + each worker at the largest worker's peak), CPU used by
netready and by the lab's servers, statuses, time per probe
(median and p95 of the observation durations) and the observation errors grouped, so that load-induced
timeouts show. --report goes through run_check like `netready check -f json -o FILE` (journal, report
streamed from it). Target (issue #6): >= 1000 domains/minute on 2 cores, peak RSS <= 300 MB.
internet.nl documents about 166 web domains per minute on 4 vCPU. The lab's servers share the two
cores with netready, and other work on the machine changes the figures: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netready import lab  # noqa: E402
from netready.app import build_settings  # noqa: E402
from netready.profiles import load_profile  # noqa: E402
from netready.scan import auto_processes, scan_results  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--broken-share", type=float, default=0.10)
    ap.add_argument("--processes", type=int, default=0, help="worker processes (0: auto, one per core)")
    ap.add_argument("--report", action="store_true",
                    help="go through run_check as `netready check -o` does: journal + JSON report in a temp dir")
    args = ap.parse_args()

    t0 = time.perf_counter()
    env = lab.up(scale=args.domains).to_dict()
    print(f"lab up (scale {args.domains}) in {time.perf_counter() - t0:.1f} s")
    scale_names = [p["name"] for p in env["portals"] if p["scenario"].startswith("agency")][: args.domains]
    n_broken = int(len(scale_names) * args.broken_share)
    # Dead or broken: the lab's broken portals (name servers that time out, refuse or answer garbage; web
    # addresses that refuse or accept and stay silent: netready/lab/hostile.py), names that do not exist,
    # invalid names.
    lab_broken = [p["name"] for p in env["portals"] if p["name"].startswith("dichvucong.broken")]
    invalid = ["a..b", "x" * 64 + ".gov.vn"]
    rest = max(0, n_broken - len(invalid))
    from_lab = lab_broken[: rest - min(10, rest // 9)]
    broken = from_lab + [f"dichvucong.nosuch{i:04d}.gov.vn" for i in range(rest - len(from_lab))] + invalid
    # Spread over the list as in a real one (all of them at the end would leave the cores idle while the
    # last targets wait out their timeouts).
    good = scale_names[: len(scale_names) - n_broken]
    step = max(1, len(good) // max(1, len(broken)))
    names = []
    for i, bad in enumerate(broken):
        names += good[i * step : (i + 1) * step] + [bad]
    names += good[len(broken) * step :]
    settings = build_settings(use_lab=True, timeout=1.0, budget=20.0)
    profile = load_profile("lab")

    processes = args.processes or auto_processes(len(names))
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    servers0 = _server_cpu(Path(env["state_dir"]))
    machine0 = _machine_cpu()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t1 = time.perf_counter()
    tmp = tempfile.TemporaryDirectory(prefix="bench-batch-")
    out = Path(tmp.name) / "report.json"
    if args.report:
        from netready.app import run_check

        run_check(names, settings, profile, concurrency=args.concurrency, output=str(out), fmt="json",
                  processes=processes)
    else:
        results = scan_results(names, settings, profile, concurrency=args.concurrency,
                               processes=processes).results
    elapsed = time.perf_counter() - t1
    servers1 = _server_cpu(Path(env["state_dir"]))
    machine1 = _machine_cpu()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    user = (cpu1.ru_utime - cpu0.ru_utime) + (kids1.ru_utime - kids0.ru_utime)
    system = (cpu1.ru_stime - cpu0.ru_stime) + (kids1.ru_stime - kids0.ru_stime)
    cpu_s = user + system
    peak_mb = cpu1.ru_maxrss / 1024
    # ru_maxrss of children is the largest single worker; every worker is counted at that peak.
    worker_mb = kids1.ru_maxrss / 1024 if processes > 1 else 0.0

    sizes = ""
    if args.report:  # figures below come from the written report (read after the peak was taken)
        from netready.model import Report

        journal = Path(f"{out}.jsonl")
        sizes = f"report {out.stat().st_size / 1e6:.1f} MB, journal {journal.stat().st_size / 1e6:.1f} MB"
        report = Report.load(out)
        by_obs: dict[str, list] = {}
        by_find: dict[str, list] = {}
        for o in report.observations:
            by_obs.setdefault(o.target, []).append(o)
        for f in report.findings:
            by_find.setdefault(f.target, []).append(f)
        results = [_Result(t, by_obs.get(t.ascii_name, []), by_find.get(t.ascii_name, [])) for t in report.targets]
    tmp.cleanup()

    assert len(results) == len(names) and len({r.target.name for r in results}) == len(names), "target lost"
    per_probe: dict[str, list[float]] = {}
    for r in results:
        for o in r.observations:
            per_probe.setdefault(o.probe, []).append(o.duration_ms)
    statuses: dict[str, int] = {}
    from netready.judge import target_summary

    for r in results:
        s = target_summary(r.findings)["status"]
        statuses[s] = statuses.get(s, 0) + 1

    print(f"checked {len(names)} domains ({n_broken} dead/broken) in {elapsed:.1f} s "
          f"with concurrency {args.concurrency}")
    print(f"throughput: {len(names) / elapsed * 60:.0f} domains/minute (target >= 1000; internet.nl ~166 on 4 vCPU)")
    # The main process checks names too: processes - 1 spawned workers.
    total_mb = peak_mb + (processes - 1) * worker_mb if processes > 1 else peak_mb
    print(f"peak RSS: {total_mb:.0f} MB (target <= 300)"
          + (f" = main {peak_mb:.0f} + {processes - 1} worker(s) x {worker_mb:.0f}" if processes > 1 else "")
          + (f"; {sizes}" if sizes else ""))
    main_s = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    print(f"CPU of netready ({processes} process{'es' if processes > 1 else ''}): {cpu_s:.1f} s ({user:.1f} user, "
          f"{system:.1f} system; {cpu_s / len(names) * 1000:.0f} ms per domain, of which the main process "
          f"{main_s / len(names) * 1000:.0f} ms; {cpu_s / elapsed:.2f} cores busy on average)")
    server_s = {k: servers1.get(k, 0.0) - servers0.get(k, 0.0) for k in servers1}
    print(f"CPU of the lab's servers: {sum(server_s.values()):.1f} s ("
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(server_s.items())) + "); whole machine busy "
          f"{(machine1[0] - machine0[0]):.1f} of {(machine1[1] - machine0[1]):.1f} core-seconds")
    print(f"statuses: {statuses}")
    # Issue #14: "undetermined" only where the checks truly could not run (silent name servers, non-names).
    kinds = {p["name"]: p["scenario"] for p in env["portals"]}
    by_kind: dict[str, Counter[str]] = {}
    for r in results:
        name = r.target.name
        kind = ("good" if kinds.get(name, "").startswith("agency") else kinds.get(name)
                or ("nosuch" if ".nosuch" in name else "invalid"))
        by_kind.setdefault(kind, Counter())[target_summary(r.findings)["status"]] += 1
    print("statuses by kind: " + "; ".join(f"{k} {dict(v)}" for k, v in sorted(by_kind.items())))
    for probe, values in sorted(per_probe.items()):
        print(f"  probe {probe:7s}: n={len(values):5d} median {statistics.median(values):7.1f} ms"
              f"  p95 {percentile(values, 0.95):7.1f} ms")
    # What went wrong, grouped (numbers and names blanked), to tell load-induced timeouts from real faults.
    errors: Counter[str] = Counter()
    for r in results:
        for o in r.observations:
            if o.error:
                errors[f"{o.probe}: {_shape(o.error)}"] += 1
    print(f"observation errors: {sum(errors.values())}")
    for text, n in errors.most_common(8):
        print(f"  {n:5d}  {text[:150]}")
    verdict_errors = Counter(f.rule_id for r in results for f in r.findings if f.verdict == "error")
    print(f"findings with verdict error: {dict(verdict_errors.most_common(10))}")
    return 0


def _ticks(pid: int) -> float:
    """utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_cpu(state_dir: Path) -> dict[str, float]:
    """CPU seconds so far of each lab service (the pid files the lab writes) and its children."""
    out: dict[str, float] = {}
    for f in sorted((state_dir / "pids").glob("*.pid")):
        pid = int(f.read_text().strip())
        kids = Path(f"/proc/{pid}/task/{pid}/children")
        children = [int(c) for c in kids.read_text().split()] if kids.exists() else []
        out[f.stem] = _ticks(pid) + sum(_ticks(c) for c in children)
    return out


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) core-seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(values[:8]) - idle) / hz, sum(values[:8]) / hz


class _Result:
    def __init__(self, target, observations, findings) -> None:
        self.target, self.observations, self.findings = target, observations, findings


def _shape(text: str) -> str:
    text = re.sub(r"[0-9a-f]{10}", "X", text)
    text = re.sub(r"(agency|nosuch|broken)\d+", r"\1N", text)
    return re.sub(r"\d+(\.\d+)?", "N", text)


if __name__ == "__main__":
    raise SystemExit(main())
