"""The IPv6-only page check (VN-IPV6-ONLY, probes/ipv6only.py) on the lab: time and memory, figures printed.

    .venv/bin/python bench/bench_ipv6only.py [--repeat 5] [--batch 3]

- one portal, with the browser: cold (Chromium started for it) and warm (the process's browser reused), and
  without it (--no-browser: the HTML parsed), per lab portal with dependencies (v4deps, v6ready, v4dns, good);
- extra memory while a page is checked: the Chromium process group's PSS (and its private part: anonymous +
  shared memory, what the machine really gives up; file-backed pages of the 300 MB binary are page cache) plus
  this process's RSS growth;
- a batch: every lab portal checked --batch times over (one scan, 8 at a time): browsers started (must be 1)
  and time per portal with and without the browser;
- the peer: bare headless Chromium (`--dump-dom`, the same binary, names pinned with --host-resolver-rules,
  no proxy, no instrumentation) loading the same page in a fresh process: the floor of any browser-based
  check, and the ratio of netready's check to it.
Targets (issue #18): one portal with the browser <= 3 s, <= 150 MB extra memory. The machine is shared: the
load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netready import lab  # noqa: E402
from netready.app import build_settings  # noqa: E402
from netready.probes import browser as browser_mod  # noqa: E402
from netready.probes import ipv6only  # noqa: E402
from netready.profiles import load_profile  # noqa: E402
from netready.scan import make_target, scan  # noqa: E402

PORTALS = ("v4deps", "v6ready", "v4dns", "good")


def group_memory(pid: int) -> tuple[float, float]:
    """(PSS, private anon+shmem) in MB of every process in the browser's process group."""
    pss = private = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != pid:
                continue
            with open(f"/proc/{entry}/smaps_rollup") as f:
                for line in f:
                    key, _, rest = line.partition(":")
                    if key == "Pss":
                        pss += int(rest.split()[0])
                    elif key in ("Pss_Anon", "Pss_Shmem"):
                        private += int(rest.split()[0])
        except (OSError, ProcessLookupError):
            continue
    return pss / 1024, private / 1024


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one(name: str, settings) -> float:
    target, _ = make_target(name, settings)
    t0 = time.perf_counter()
    ipv6only.run(target, settings)
    return time.perf_counter() - t0


def peer(url: str, host: str, address: str) -> float:
    binary = browser_mod.find_chromium()
    with tempfile.TemporaryDirectory() as ud:
        argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--ignore-certificate-errors", f"--user-data-dir={ud}", f"--host-resolver-rules=MAP {host} [{address}]",
                "--dump-dom", url]
        t0 = time.perf_counter()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={"HOME": ud, "PATH": "/usr/bin"})
        elapsed = time.perf_counter() - t0
    if "Cổng Dịch vụ công" not in r.stdout:
        raise SystemExit(f"bare Chromium did not load {url}: {r.stderr[-500:]}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=3, help="times each lab portal appears in the batch")
    args = ap.parse_args()
    env = lab.up()
    settings = build_settings(use_lab=True)
    static = replace(settings, browser=False)
    print(f"lab {env.name} up; Chromium: {browser_mod.find_chromium()}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    browser_mod.stop_shared_browser()
    base_rss = rss_mb()
    print("\none portal (median of", args.repeat, "runs; s)")
    print(f"{'portal':<28} {'cold':>6} {'warm':>6} {'no-browser':>10} {'bare Chromium':>14} {'warm/bare':>9}")
    worst_warm = worst_cold = 0.0
    peak_pss = peak_private = 0.0
    for scenario in PORTALS:
        portal = env.portal(scenario)
        cold = []
        for _ in range(max(1, args.repeat // 2)):
            browser_mod.stop_shared_browser()
            cold.append(one(portal.name, settings))
        warm = [one(portal.name, settings) for _ in range(args.repeat)]
        b = browser_mod._SHARED
        if b is not None and b.pid:
            pss, private = group_memory(b.pid)
            peak_pss, peak_private = max(peak_pss, pss), max(peak_private, private)
        nob = [one(portal.name, static) for _ in range(args.repeat)]
        bare = statistics.median(peer(f"https://{portal.name}/", portal.name, portal.ipv6[0]) for _ in range(3))
        mc, mw, mn = statistics.median(cold), statistics.median(warm), statistics.median(nob)
        worst_cold, worst_warm = max(worst_cold, mc), max(worst_warm, mw)
        print(f"{portal.name:<28} {mc:6.2f} {mw:6.2f} {mn:10.2f} {bare:14.2f} {mw / bare:9.2f}")
    grow = rss_mb() - base_rss
    print(f"\nextra memory while checking: Chromium PSS {peak_pss:.0f} MB (private {peak_private:.0f} MB), "
          f"this process +{grow:.0f} MB RSS -> {peak_pss + grow:.0f} MB (PSS) / {peak_private + grow:.0f} MB "
          f"(private); target <= 150 MB")
    print(f"slowest portal: cold {worst_cold:.2f} s, warm {worst_warm:.2f} s (target <= 3 s)")

    names = [p.name for p in env.portals] * args.batch
    profile = load_profile("lab")
    for label, s in (("with the browser", settings), ("without (--no-browser)", static)):
        browser_mod.stop_shared_browser()
        before = browser_mod.STARTS
        t0 = time.perf_counter()
        report = scan(names, s, profile, concurrency=8, probe_names=("ipv6only",))
        elapsed = time.perf_counter() - t0
        started = browser_mod.STARTS - before
        per = elapsed / len(names)
        fails = sum(1 for f in report.findings if f.rule_id == "VN-IPV6-ONLY" and f.verdict == "fail")
        print(f"batch of {len(names)} ({len(env.portals)} lab portals x {args.batch}) {label}: {elapsed:.1f} s, "
              f"{per:.2f} s per portal, browsers started {started}, VN-IPV6-ONLY fails {fails}")
    browser_mod.stop_shared_browser()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
