"""Where a portal's CPU goes (issue #20): each step of checking one name, run one after another on the lab.

    .venv/bin/python bench/bench_probe_cpu.py [--names 100] [--skip 5] [--browser]

Takes the running lab's scale portals (a lab is brought up when none runs, scale 200) and checks each name the
way a sweep's checking process does (`netready.scan`: address lookup, the probes, `admit`, the judge, the
journal line), except that the steps run one after another, so the process's CPU clock between two steps is
that step's CPU: user and system time, voluntary and involuntary context switches, and wall time, per name.
Inside a step the probe keeps its own threads (the DNSSEC jobs, the TLS per-address pools), as in a sweep.
The first --skip names warm the process-wide caches (root, vn. and gov.vn. answers) and are not counted.

What it says that `bench_batch.py` cannot: which probe to make cheaper, and how much of it is the kernel (system
time: sockets, thread wake-ups and the GIL's hand-offs between threads) rather than Python. Figures only; no
target of its own (the batch's >= 1,800 names/minute on 2 cores is 67 ms of CPU per name for netready and the
lab's servers together).
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netready import lab, probes  # noqa: E402
from netready.app import build_settings  # noqa: E402
from netready.journal import LineEncoder  # noqa: E402
from netready.judge import judge_target  # noqa: E402
from netready.model import TargetResult  # noqa: E402
from netready.probes import runcache  # noqa: E402
from netready.profiles import load_profile  # noqa: E402
from netready.scan import DEFAULT_PROBES, admit, make_target  # noqa: E402

FIELDS = ("user", "sys", "vcsw", "icsw", "wall")


def _clock() -> tuple[float, float, int, int, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
    return r.ru_utime, r.ru_stime, r.ru_nvcsw, r.ru_nivcsw, time.monotonic()


class Steps:
    """Per step: the sums of the process's clocks over every name counted."""

    def __init__(self) -> None:
        self.sums: dict[str, Counter[str]] = {}
        self.counting = False

    def run(self, label: str, step: Callable[..., Any], *args: Any) -> Any:
        before = _clock()
        out = step(*args)
        after = _clock()
        if self.counting:
            total = self.sums.setdefault(label, Counter())
            for name, a, b in zip(FIELDS, before, after, strict=True):
                total[name] += b - a
        return out


def _names(count: int, skip: int) -> list[str]:
    if not lab.is_up():
        lab.up(scale=max(200, count + skip))
    portals = lab.env().to_dict()["portals"]
    names = [p["name"] for p in portals if p["scenario"].startswith("agency")][: count + skip]
    if len(names) < count + skip:
        raise SystemExit(f"the running lab has {len(names)} scale portals, {count + skip} needed")
    return names


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", type=int, default=100, help="names counted")
    ap.add_argument("--skip", type=int, default=5, help="names checked first and not counted (warm caches)")
    ap.add_argument("--browser", action="store_true", help="load pages in Chromium (a sweep parses the HTML)")
    args = ap.parse_args()
    names = _names(args.names, args.skip)
    settings = build_settings(timeout=1.0, budget=20.0, use_lab=True)
    settings = dataclasses.replace(settings, lab=True, browser=args.browser,
                                   browser_off=None if args.browser else "bench_probe_cpu: as in a sweep")
    profile = load_profile("lab")
    encode = LineEncoder("bench")
    run_probe = {name: probes.load(name) for name in DEFAULT_PROBES}
    steps = Steps()
    with runcache.active():
        for i, name in enumerate(names):
            steps.counting = i >= args.skip
            target, observations = steps.run("address lookup", make_target, name, settings)
            for probe, fn in run_probe.items():
                if fn is not None and observations:
                    observations += steps.run(f"probe {probe}", fn, target, settings)
            target, observations = steps.run("admit (escape)", admit, target, observations)
            findings = steps.run("judge", judge_target, target, observations, profile)
            steps.run("journal line", encode, TargetResult(target, observations, findings))
    n = args.names
    total = Counter()
    for s in steps.sums.values():
        total.update(s)
    cpu_all = total["user"] + total["sys"]
    print(f"{n} names of the lab, after {args.skip} not counted; per name:")
    print("| step | CPU ms (user + sys) | share | context switches (voluntary / forced) | wall ms |")
    print("|---|---|---|---|---|")
    for label, s in [*steps.sums.items(), ("all", total)]:
        cpu = s["user"] + s["sys"]
        print(f"| {label} | {cpu * 1000 / n:.1f} ({s['user'] * 1000 / n:.1f} + {s['sys'] * 1000 / n:.1f}) | "
              f"{cpu / cpu_all:.0%} | {s['vcsw'] / n:,.0f} / {s['icsw'] / n:,.0f} | {s['wall'] * 1000 / n:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
