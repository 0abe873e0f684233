"""Whole-process time and import profile of each netready command.

    python bench/bench_imports.py [--runs 7] [--top 8] [--lab] [--netready PATH]

For each command, run as a user runs it (the `netready` console script of this venv, or --netready PATH, e.g. a
wheel installed in another venv): the whole-process wall time (median and min of --runs) and CPU time, then one
run under `python -X importtime` summarised: the time spent importing, its share of the wall time, the top-level
packages that cost most (self time summed over their modules), and which of the heavy optional packages the
command loaded (typer, jinja2, scapy, the lab's orchestration, ...). Paired in the same run with a bare
`python -c pass` of the same interpreter, the floor no command can go below (ratio printed).
Target: `netready --version` at most 0.15 s whole process; `netready dnssec NAME --lab` spends most of its time
working, not importing. --lab adds the commands that need a running lab (run inside your own namespace, with
NETREADY_LAB_NAME set, like the tests).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# Imports a command pays for only when it uses them (issue #16: lazy imports).
HEAVY = ("typer", "rich", "jinja2", "scapy", "cryptography", "OpenSSL", "dns", "yaml", "docx", "weasyprint",
         "ansible_runner", "tabulate", "netready.lab.orchestrate", "netready.render", "netready.evaluate")
LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def commands(lab: bool, scratch: Path) -> list[tuple[str, list[str]]]:
    out = [
        ("--version", ["--version"]),
        ("--help", ["--help"]),
        ("contract clauses", ["contract", "clauses", "--scenario", "idc", "--lang", "en"]),
        ("plan (no report)", ["plan", "--agency", "Bench", "--scenario", "idc", "--dns", "own"]),
        ("lab status", ["lab", "status"]),
    ]
    if lab:
        out += [
            ("dnssec --lab", ["dnssec", "--lab", "dichvucong.good.gov.vn"]),
            ("dnssec --lab -f json", ["dnssec", "--lab", "dichvucong.good.gov.vn", "-f", "json"]),
            ("tls --lab", ["tls", "--lab", "dichvucong.good.gov.vn"]),
            ("ipv6 --lab --no-browser", ["ipv6", "--lab", "--no-browser", "dichvucong.good.gov.vn"]),
            ("check --lab -f json", ["check", "--lab", "--no-browser", "-f", "json", "-o",
                                     str(scratch / "r.json"), "dichvucong.good.gov.vn"]),
            ("rejudge (offline)", ["rejudge", str(scratch / "r.json")]),
        ]
    return out


def wall(argv: list[str]) -> tuple[float, float]:
    """Seconds of wall time and of CPU (user + system) of one run."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300, check=False)
    elapsed = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return elapsed, cpu


def import_profile(python: str, script: str, args: list[str]) -> tuple[float, dict[str, int], set[str]]:
    """(seconds importing, self microseconds per top-level package, every module imported) of one run."""
    proc = subprocess.run([python, "-X", "importtime", script, *args], capture_output=True, text=True,
                          timeout=300, check=False)
    per_package: dict[str, int] = defaultdict(int)
    modules: set[str] = set()
    total = 0
    for line in proc.stderr.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        self_us, name = int(m.group(1)), m.group(4)
        modules.add(name)
        total += self_us
        top = name.split(".")[0]
        per_package["netready." + name.split(".")[1] if top == "netready" and "." in name else top] += self_us
    return total / 1e6, dict(per_package), modules


def loaded(modules: set[str]) -> list[str]:
    return [h for h in HEAVY if h in modules or any(m.startswith(h + ".") for m in modules)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="whole-process runs per command")
    ap.add_argument("--top", type=int, default=8, help="packages listed per command")
    ap.add_argument("--lab", action="store_true", help="also the commands that need a running lab")
    ap.add_argument("--netready", default=str(Path(sys.executable).parent / "netready"),
                    help="the console script to measure (default: this venv's)")
    args = ap.parse_args()
    script = args.netready
    python = Path(script).read_text(encoding="utf-8").splitlines()[0].removeprefix("#!").strip()
    floor = [wall([python, "-c", "pass"])[0] for _ in range(args.runs)]
    print(f"{python} -c pass: median {statistics.median(floor) * 1000:.0f} ms, min {min(floor) * 1000:.0f} ms "
          f"({args.runs} runs): the floor of every command")
    with tempfile.TemporaryDirectory(prefix="netready-bench-imports-") as tmp:
        for label, argv in commands(args.lab, Path(tmp)):
            wall([script, *argv])  # warm-up: page cache, a lab answer cached nowhere but in the OS
            runs = [wall([script, *argv]) for _ in range(args.runs)]
            times = [w for w, _ in runs]
            med = statistics.median(times)
            importing, per_package, modules = import_profile(python, script, argv)
            top = sorted(per_package.items(), key=lambda kv: -kv[1])[: args.top]
            target = "  (target <= 150 ms)" if label == "--version" else ""
            print(f"\nnetready {label}: median {med * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, CPU "
                  f"{statistics.median(c for _, c in runs) * 1000:.0f} ms; {med / statistics.median(floor):.1f}x "
                  f"python -c pass{target}")
            print(f"  importing: {importing * 1000:.0f} ms in {len(modules)} modules "
                  f"({importing / med:.0%} of the wall time, measured in a separate run)")
            print("  by package: " + ", ".join(f"{name} {us / 1000:.0f}" for name, us in top) + " (ms, self)")
            print("  heavy packages loaded: " + (", ".join(loaded(modules)) or "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
