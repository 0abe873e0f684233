"""Batch throughput on the lab: N scale portals (+10 % dead or broken names), figures printed.

    .venv/bin/python bench/bench_batch.py [--domains 1000] [--concurrency 64]

Brings the lab up with `scale=N` (extra signed agency zones and SNI portals), checks every name
in one process, and prints domains/minute, peak RSS, and time per probe (median and p95 of the
observation durations). Target (issue #6): >= 1000 domains/minute on 2 cores, peak RSS <= 300 MB.
internet.nl documents about 166 web domains per minute on 4 vCPU.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netready import lab  # noqa: E402
from netready.app import build_settings  # noqa: E402
from netready.profiles import load_profile  # noqa: E402
from netready.scan import scan_results  # noqa: E402


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
    args = ap.parse_args()

    t0 = time.perf_counter()
    env = lab.up(scale=args.domains).to_dict()
    print(f"lab up (scale {args.domains}) in {time.perf_counter() - t0:.1f} s")
    scale_names = [p["name"] for p in env["portals"] if p.get("scenario") == "scale"][: args.domains]
    n_broken = int(len(scale_names) * args.broken_share)
    # Dead or broken: names that do not exist in signed zones, a name whose v6 is dead, invalid names.
    broken = [f"dichvucong.nosuch{i:04d}.gov.vn" for i in range(n_broken - 2)] + ["a..b", "x" * 64 + ".gov.vn"]
    names = scale_names[: len(scale_names) - n_broken] + broken
    settings = build_settings(use_lab=True, timeout=1.0, budget=20.0)
    profile = load_profile("lab")

    t1 = time.perf_counter()
    outcome = scan_results(names, settings, profile, concurrency=args.concurrency)
    elapsed = time.perf_counter() - t1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    results = outcome.results
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
    print(f"peak RSS: {peak_mb:.0f} MB (target <= 300)")
    print(f"statuses: {statuses}")
    for probe, values in sorted(per_probe.items()):
        print(f"  probe {probe:7s}: n={len(values):5d} median {statistics.median(values):7.1f} ms"
              f"  p95 {percentile(values, 0.95):7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
