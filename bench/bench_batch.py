"""A national sweep on the lab (issue #20): names/min, memory, report size and CPU per name at several sizes.

    .venv/bin/python bench/bench_batch.py [--sizes 1000,3000,10000] [--browser off|on|both]
                                          [--concurrency 64] [--against DIR] [--keep DIR]

Brings the lab up once, grown with `--scale` for the largest size (90 % good scale portals, 10 % broken: the
lab's broken portals -- name servers that time out, refuse or answer garbage, web addresses that refuse or
stay silent --, ten names that do not exist, two invalid names, spread over the list), then for each size
runs the real command a national sweep runs, as a child process:

    netready check --lab -i names.txt -f json -o sweep.json --concurrency 64 --timeout 1 --budget 20 [--browser]

and prints, per size and browser mode:
- names per minute (wall time of the whole command: start-up, checks, report written);
- memory of every process of the command (netready's own and, with the browser, Chromium's), sampled twice a
  second from /proc: the sum of each process's own peak (VmHWM; shared library pages counted once per
  process, an upper bound) and the largest total PSS seen (shared pages split between the processes that map
  them: what the sweep really costs the machine), netready and Chromium apart;
- report and journal bytes per portal;
- CPU of the command per name (user + system of it and every child it reaped: workers, Chromium) and of the
  lab's servers;
- statuses, and verdicts checked: every good portal compliant, every broken or invalid name not.
`--against DIR` also runs each size with the netready code in DIR (e.g. `git archive main | tar -x -C DIR`),
alternating with this tree's, and prints the ratios: a paired measurement on a machine whose load changes.
Targets (issue #20): <= 200 MB for all netready processes together at every size, <= 20 kB of report per
portal, >= 1,800 names/minute on 2 cores. The load average is printed beside every run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from netready import lab  # noqa: E402
from netready.lab.zones import broken_count  # noqa: E402

BROKEN_SHARE = 0.10
SAMPLE_EVERY = 0.5  # seconds between two memory samples


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sweep_names(portals: list[dict], size: int) -> tuple[list[str], set[str]]:
    """`size` names, 10 % of them dead, broken or invalid, spread over the list; and the set of those."""
    n_broken = int(size * BROKEN_SHARE)
    scale_names = [p["name"] for p in portals if p["scenario"].startswith("agency")]
    lab_broken = [p["name"] for p in portals if p["name"].startswith("dichvucong.broken")]
    invalid = ["a..b", "x" * 64 + ".gov.vn"]
    rest = max(0, n_broken - len(invalid))
    from_lab = lab_broken[: rest - min(10, rest // 9)]
    broken = from_lab + [f"dichvucong.nosuch{i:04d}.gov.vn" for i in range(rest - len(from_lab))] + invalid
    good = scale_names[: size - len(broken)]
    if len(good) < size - len(broken):
        raise SystemExit(f"the lab has {len(scale_names)} scale portals, {size - len(broken)} needed")
    step = max(1, len(good) // max(1, len(broken)))
    names: list[str] = []
    for i, bad in enumerate(broken):
        names += good[i * step : (i + 1) * step] + [bad]
    names += good[len(broken) * step :]
    return names, set(broken)


# --- memory of a process tree, from /proc -------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _kinds(root: int) -> dict[int, str]:
    """Every process below root: 'browser' for Chromium and all it started (renderers, zygotes, crashpad),
    'netready' for the rest (the main process, its workers, multiprocessing's resource tracker)."""
    out: dict[int, str] = {}
    todo = [(root, "netready")]
    while todo:
        pid, kind = todo.pop()
        if kind == "netready":
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                exe = ""
            if "chrom" in os.path.basename(exe) or "headless" in exe:
                kind = "browser"
        out[pid] = kind
        todo += [(c, kind) for c in _children(pid)]
    return out


def _status(pid: int) -> dict[str, int | str]:
    out: dict[str, int | str] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key == "Name":
                out["comm"] = rest.strip()
            elif key in ("VmHWM", "VmRSS"):
                out[key] = int(rest.split()[0])
    return out


def _pss(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


@dataclass
class Memory:
    """Peaks per process (kB) and the largest total PSS (kB) seen, netready and browser apart."""

    hwm: dict[int, tuple[str, int]] = field(default_factory=dict)  # pid -> (kind, VmHWM)
    pss_max: dict[str, int] = field(default_factory=lambda: {"netready": 0, "browser": 0, "all": 0})
    processes: Counter = field(default_factory=Counter)

    def sample(self, root: int) -> None:
        pss = {"netready": 0, "browser": 0}
        for pid, kind in _kinds(root).items():
            try:
                st = _status(pid)
                if "VmHWM" not in st:
                    continue
                pss[kind] += _pss(pid)
            except (OSError, ValueError):
                continue  # gone between listing and reading
            if pid not in self.hwm:
                self.processes[kind] += 1
            self.hwm[pid] = (kind, max(int(st["VmHWM"]), self.hwm.get(pid, ("", 0))[1]))
        for kind, v in pss.items():
            self.pss_max[kind] = max(self.pss_max[kind], v)
        self.pss_max["all"] = max(self.pss_max["all"], pss["netready"] + pss["browser"])

    def peak_sum(self, kind: str) -> int:
        return sum(v for k, v in self.hwm.values() if k == kind)

    def peaks(self, kind: str) -> list[int]:
        return sorted((v for k, v in self.hwm.values() if k == kind), reverse=True)


# --- one run ------------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    size: int
    browser: bool
    seconds: float = 0.0
    cpu: float = 0.0
    exit_code: int = 0
    memory: Memory = field(default_factory=Memory)
    report_bytes: int = 0
    journal_bytes: int = 0
    servers_cpu: dict[str, float] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)
    lines: list[str] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        return self.size / self.seconds * 60 if self.seconds else 0.0


def _entry(code: Path | None) -> str:
    """What the `netready` console script runs, in that tree: netready.entry (whose `check` needs no typer) where
    it answers `check`, else the typer application of cli.py (older trees)."""
    entry = (code or REPO) / "netready" / "entry.py"
    if entry.is_file() and '"check": ("names"' in entry.read_text(encoding="utf-8"):
        return "import sys; sys.argv[0] = 'netready'; from netready.entry import main; main()"
    return "from netready import cli; cli.main()"


def run_sweep(label: str, code: Path | None, names: list[str], broken: set[str], browser: bool, args, env_lab: dict,
              work: Path) -> Run:
    run = Run(label, len(names), browser)
    d = work / f"{label}-{len(names)}-{'browser' if browser else 'static'}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    out = d / "sweep.json"
    cmd = [sys.executable, "-c", _entry(code), "check", "--lab", "-i", str(d / "names.txt"),
           "-f", "json", "-o", str(out), "--concurrency", str(args.concurrency), "--timeout", str(args.timeout),
           "--budget", str(args.budget)] + _browser_flags(code, browser)
    environ = dict(os.environ)
    if code is not None:  # another tree's code first on the path (the spawned workers inherit it)
        environ["PYTHONPATH"] = str(code)
    servers0 = _server_cpu(Path(env_lab["state_dir"]))
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code or REPO, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            run.memory.sample(proc.pid)
            stop.wait(SAMPLE_EVERY)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    err: list[bytes] = []
    assert proc.stderr is not None
    err_thread = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    err_thread.start()
    _, status, usage = os.wait4(proc.pid, 0)
    run.seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    thread.join()
    err_thread.join()
    run.exit_code = proc.returncode
    run.cpu = usage.ru_utime + usage.ru_stime
    run.load = (load0, os.getloadavg()[0])
    servers1 = _server_cpu(Path(env_lab["state_dir"]))
    run.servers_cpu = {k: servers1.get(k, 0.0) - servers0.get(k, 0.0) for k in servers1}
    if not out.exists():
        tail = b"".join(err).decode(errors="replace")[-3000:]
        raise SystemExit(f"{label}: no report (exit {run.exit_code}):\n{tail}")
    run.report_bytes = out.stat().st_size
    journal = Path(f"{out}.jsonl")
    run.journal_bytes = journal.stat().st_size if journal.exists() else 0
    run.lines = _check_report(out, names, broken)
    if not args.keep:
        shutil.rmtree(d, ignore_errors=True)
    return run


def _browser_flags(code: Path | None, browser: bool) -> list[str]:
    """--browser for a browser run (without it a batch parses the HTML: the sweep default measured as is);
    code from before the batch default (only --no-browser) gets the flag it knows."""
    if "--browser/--no-browser" in ((code or REPO) / "cli.py").read_text(encoding="utf-8"):
        return ["--browser"] if browser else []
    return [] if browser else ["--no-browser"]


def _check_report(path: Path, names: list[str], broken: set[str]) -> list[str]:
    """Statuses, wrong verdicts, probe times and observation errors of the written report."""
    from netready.model import Report

    report = Report.load(path)
    lines = [f"IPv6-only page check: browser={report.settings.get('browser')} "
             f"({report.settings.get('browser_off') or 'pages loaded in Chromium'})"]
    got = [t.name for t in report.targets]
    if got != names:
        lines.append(f"!! TARGETS LOST OR REORDERED: {len(got)} of {len(names)}")
    statuses = report.summary["targets"]
    by_name = {t.name: statuses[t.ascii_name]["status"] for t in report.targets}
    wrong = [n for n, s in by_name.items() if (s == "compliant") == (n in broken)]
    lines.append(f"statuses: {dict(Counter(by_name.values()))}; wrong verdicts: {len(wrong)}"
                 + (f" e.g. {wrong[:5]}" if wrong else ""))
    per_probe: dict[str, list[float]] = {}
    errors: Counter[str] = Counter()
    for o in report.observations:
        per_probe.setdefault(o.probe, []).append(o.duration_ms)
        if o.error and o.target.split(".")[1:2] != ["broken"]:
            errors[f"{o.probe}: {_shape(o.error)}"] += 1
    for probe, values in sorted(per_probe.items()):
        lines.append(f"  probe {probe:8s}: n={len(values):6d} median {statistics.median(values):7.1f} ms"
                     f"  p95 {percentile(values, 0.95):7.1f} ms")
    lines.append(f"observation errors on names that are not lab-broken: {sum(errors.values())}")
    for text, n in errors.most_common(6):
        lines.append(f"  {n:5d}  {text[:140]}")
    return lines


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
        out[f.stem] = sum(_ticks(p) for p in _tree(pid))
    return out


def _shape(text: str) -> str:
    text = re.sub(r"[0-9a-f]{10}", "X", text)
    text = re.sub(r"(agency|nosuch|broken)\d+", r"\1N", text)
    return re.sub(r"\d+(\.\d+)?", "N", text)


def show(run: Run) -> None:
    m = run.memory
    nr, br = m.peak_sum("netready") / 1024, m.peak_sum("browser") / 1024
    peaks = " + ".join(f"{v / 1024:.0f}" for v in m.peaks("netready"))
    print(f"\n== {run.label}: {run.size} names, {'--browser' if run.browser else 'default (no browser)'} "
          f"(load average {run.load[0]:.1f} before, {run.load[1]:.1f} after; exit {run.exit_code})")
    print(f"names/min: {run.per_minute:,.0f} ({run.seconds:.1f} s)   CPU per name: {run.cpu / run.size * 1000:.1f} ms "
          f"(netready{' + Chromium' if run.browser else ''}; {run.cpu / run.seconds:.2f} cores)   lab servers: "
          f"{sum(run.servers_cpu.values()) / run.size * 1000:.1f} ms per name ("
          + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(run.servers_cpu.items()) if v >= 0.1) + ")")
    print(f"memory, netready: sum of peaks {nr:.0f} MB ({peaks}), PSS max {m.pss_max['netready'] / 1024:.0f} MB"
          + (f"; Chromium: {m.processes['browser']} processes, sum of peaks {br:.0f} MB, PSS max "
             f"{m.pss_max['browser'] / 1024:.0f} MB; all together PSS max {m.pss_max['all'] / 1024:.0f} MB"
             if m.processes["browser"] else ""))
    print(f"report: {run.report_bytes / run.size / 1000:.1f} kB per portal ({run.report_bytes / 1e6:.1f} MB), "
          f"journal {run.journal_bytes / run.size / 1000:.1f} kB per portal")
    for line in run.lines:
        print(line)


def _running_lab(scale: int) -> dict | None:
    """The running lab when it is at least this large (a scaled lab takes minutes to build)."""
    try:
        if not lab.is_up():
            return None
        env = lab.env().to_dict()
    except Exception:  # noqa: BLE001 - no lab, or an unreadable one: build it
        return None
    have = sum(1 for p in env["portals"] if p["scenario"].startswith("agency"))
    return env if have >= scale else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000,10000", help="comma-separated numbers of names")
    ap.add_argument("--browser", choices=("off", "on", "both"), default="off")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--budget", type=float, default=20.0)
    ap.add_argument("--against", help="a directory with other netready code: each run is paired with one of it")
    ap.add_argument("--keep", help="keep the names, reports and journals in this directory")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    scale = max(size - int(size * BROKEN_SHARE) for size in sizes)
    scale = min(scale, 9999)  # the lab's limit; it brings one broken portal per nine good ones
    t0 = time.perf_counter()
    env = _running_lab(scale) or lab.up(scale=scale).to_dict()
    scale = sum(1 for p in env["portals"] if p["scenario"].startswith("agency"))
    print(f"lab up (scale {scale}: {scale} good portals, {broken_count(scale)} broken) in "
          f"{time.perf_counter() - t0:.1f} s; {os.cpu_count()} cores")
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.browser]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    against = Path(args.against).resolve() if args.against else None
    runs: list[tuple[Run, Run | None]] = []
    for size in sizes:
        names, broken = sweep_names(env["portals"], size)
        for browser in modes:
            base = run_sweep("against", against, names, broken, browser, args, env, work) if against else None
            if base:
                show(base)
            mine = run_sweep("this tree", None, names, broken, browser, args, env, work)
            show(mine)
            runs.append((mine, base))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| names | browser | names/min | CPU ms/name | netready peaks sum / PSS MB | Chromium PSS MB "
          "| report kB/portal | load avg |" + (" vs --against: names/min, MB, kB |" if against else ""))
    print("|---|---|---|---|---|---|---|---|" + ("---|" if against else ""))
    for mine, base in runs:
        m = mine.memory
        row = (f"| {mine.size:,} | {'on' if mine.browser else 'off'} | {mine.per_minute:,.0f} | "
               f"{mine.cpu / mine.size * 1000:.1f} | {m.peak_sum('netready') / 1024:.0f} / "
               f"{m.pss_max['netready'] / 1024:.0f} | {m.pss_max['browser'] / 1024:.0f} | "
               f"{mine.report_bytes / mine.size / 1000:.1f} | {mine.load[0]:.1f}-{mine.load[1]:.1f} |")
        if base:
            bm = base.memory
            row += (f" x{mine.per_minute / base.per_minute:.2f}, "
                    f"x{m.peak_sum('netready') / max(1, bm.peak_sum('netready')):.2f}, "
                    f"x{mine.report_bytes / max(1, base.report_bytes):.3f} |")
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
