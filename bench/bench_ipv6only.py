"""The IPv6-only page check (VN-IPV6-ONLY, probes/ipv6only.py) on the lab: time and memory, figures printed.

    .venv/bin/python bench/bench_ipv6only.py [--repeat 5] [--batch 3]

- one portal, with the browser: cold (Chromium started for it) and warm (the process's browser reused), and
  without it (--no-browser: the HTML parsed), per lab portal with dependencies (v4deps, v6ready, v4dns, good);
- extra memory of one portal's check, measured first, in this fresh process (nothing checked before): a thread
  samples /proc every 20 ms while each lab portal is checked cold then warm, and keeps the peak of (a) the PSS
  of every process in Chromium's process group (the browser and the page's renderer; its private part too:
  anonymous + shared memory) and (b) this process's PSS growth over its PSS before the first check (the proxy,
  the threads, the modules the check imports). The figure is (a) + (b) at their peaks: memory held while the
  page loads, not after (when the page's renderer is gone). The per-process split at the peak is printed, and
  a warning when another Chromium ran meanwhile (it shares the binary's pages: PSS too low);
- a batch: every lab portal checked --batch times over (one scan, 8 at a time): browsers started (must be 1)
  and time per portal with and without the browser;
- the peer: bare headless Chromium (`--dump-dom`, the same binary, names pinned with --host-resolver-rules,
  no proxy, no instrumentation) loading the same page in a fresh process: the floor of any browser-based
  check, and the ratio of netready's check to it; its peak PSS too (a separate run, sampled the same way).
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
import threading
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


def _smaps_rollup(pid: int | str) -> dict[str, int]:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return {key: int(rest.split()[0]) for key, _, rest in (line.partition(":") for line in f)
                if key in ("Pss", "Pss_Anon", "Pss_Shmem", "Pss_File")}


def group_memory(pid: int) -> tuple[float, float, list[tuple[str, float]]]:
    """(PSS, private anon+shmem) in MB of every process in the browser's process group, and (kind, PSS) each."""
    pss = private = 0
    each = []
    for proc, kind in browser_mod.processes(pid):
        try:
            m = _smaps_rollup(proc)
        except OSError:  # gone meanwhile
            continue
        pss += m.get("Pss", 0)
        private += m.get("Pss_Anon", 0) + m.get("Pss_Shmem", 0)
        each.append((kind, m.get("Pss", 0) / 1024))
    return pss / 1024, private / 1024, each


def self_pss() -> float:
    return _smaps_rollup("self").get("Pss", 0) / 1024


class PeakSampler(threading.Thread):
    """Samples the shared browser's process group and this process every 20 ms; keeps the peaks."""

    def __init__(self, base_pss: float) -> None:
        super().__init__(name="memory-sampler", daemon=True)
        self.base_pss = base_pss
        self.done = threading.Event()
        self.pss = self.private = self.grow = 0.0
        self.split: list[tuple[str, float]] = []
        self.others: set[int] = set()  # other Chromium processes seen (not this browser's)

    def run(self) -> None:
        ticks = 0
        while not self.done.wait(0.02):
            b = browser_mod._SHARED
            if b is not None and b.pid:
                pss, private, each = group_memory(b.pid)
                if pss > self.pss:
                    self.pss, self.split = pss, each
                self.private = max(self.private, private)
                if ticks % 10 == 0:
                    self.others |= other_chromium(os.path.realpath(b.binary), b.pid)
            self.grow = max(self.grow, self_pss() - self.base_pss)
            ticks += 1


def other_chromium(binary: str, pgid: int) -> set[int]:
    """Processes running the same Chromium binary outside this browser's process group. PSS splits a shared
    page between every process that maps it: another engineer's Chromium on the machine takes its share of
    the binary's ~110 MB of code pages, and this browser's figure drops by up to half (too good to be true)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/exe") == binary and os.getpgid(int(entry)) != pgid:
                found.add(int(entry))
        except OSError:
            continue
    return found


def one(name: str, settings) -> float:
    target, _ = make_target(name, settings)
    t0 = time.perf_counter()
    ipv6only.run(target, settings)
    return time.perf_counter() - t0


def peer_argv(url: str, host: str, address: str, ud: str) -> list[str]:
    return [browser_mod.find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--ignore-certificate-errors", f"--user-data-dir={ud}", f"--host-resolver-rules=MAP {host} [{address}]",
            "--dump-dom", url]


def peer(url: str, host: str, address: str) -> float:
    with tempfile.TemporaryDirectory() as ud:
        t0 = time.perf_counter()
        r = subprocess.run(peer_argv(url, host, address, ud), capture_output=True, text=True, timeout=60,
                           env={"HOME": ud, "PATH": "/usr/bin"})
        elapsed = time.perf_counter() - t0
    if "Cổng Dịch vụ công" not in r.stdout:
        raise SystemExit(f"bare Chromium did not load {url}: {r.stderr[-500:]}")
    return elapsed


def peer_memory(url: str, host: str, address: str) -> float:
    """Peak PSS (MB) of the bare Chromium's processes (its own session) while it loads the page."""
    peak = 0.0
    with tempfile.TemporaryDirectory() as ud:
        proc = subprocess.Popen(peer_argv(url, host, address, ud), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env={"HOME": ud, "PATH": "/usr/bin"},
                                start_new_session=True)
        try:
            while proc.poll() is None:
                peak = max(peak, group_memory(proc.pid)[0])
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                proc.kill()  # by its pid: the peer this bench started
            proc.wait()
    return peak


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

    # Memory first, while nothing has been checked in this process: what one portal's check adds.
    browser_mod.stop_shared_browser()
    sampler = PeakSampler(self_pss())
    sampler.start()
    for scenario in PORTALS:
        browser_mod.stop_shared_browser()
        one(env.portal(scenario).name, settings)  # cold: Chromium started for it
        one(env.portal(scenario).name, settings)  # warm: the same browser, a new page and context
    sampler.done.set()
    sampler.join()
    bare_pss = max(peer_memory(f"https://{p.name}/", p.name, p.ipv6[0]) for p in map(env.portal, PORTALS))
    browser = browser_mod.shared_browser()
    idle = group_memory(browser.pid)[0]
    # The floor of any check in this browser: an empty page (about:blank, nothing loaded) in a new context.
    empty = browser.open_page("http://127.0.0.1:9", lambda method, params: None)
    time.sleep(1.0)
    floor = group_memory(browser.pid)[0]
    browser.close_page(empty)
    split = ", ".join(f"{kind} {mb:.0f}" for kind, mb in sorted(sampler.split, key=lambda x: -x[1]))
    print(f"\nextra memory while a page is checked (peak, sampled every 20 ms): Chromium PSS {sampler.pss:.0f} MB "
          f"({split}; private {sampler.private:.0f} MB), this process +{sampler.grow:.0f} MB PSS -> "
          f"{sampler.pss + sampler.grow:.0f} MB (PSS) / {sampler.private + sampler.grow:.0f} MB (private); "
          f"target <= 150 MB")
    print(f"the browser alone between checks: {idle:.0f} MB PSS; with an empty page (about:blank): {floor:.0f} MB")
    print(f"bare headless Chromium (--dump-dom, the same pages, peak): {bare_pss:.0f} MB PSS; netready's check / bare "
          f"= {(sampler.pss + sampler.grow) / bare_pss:.2f}")
    if sampler.others:
        print(f"WARNING: {len(sampler.others)} other Chromium process(es) ran meanwhile and shared the binary's "
              "pages: the PSS figures above are too low; measure again on a quiet machine")

    print("\none portal (median of", args.repeat, "runs; s)")
    print(f"{'portal':<28} {'cold':>6} {'warm':>6} {'no-browser':>10} {'bare Chromium':>14} {'warm/bare':>9}")
    worst_warm = worst_cold = 0.0
    for scenario in PORTALS:
        portal = env.portal(scenario)
        cold = []
        for _ in range(max(1, args.repeat // 2)):
            browser_mod.stop_shared_browser()
            cold.append(one(portal.name, settings))
        warm = [one(portal.name, settings) for _ in range(args.repeat)]
        nob = [one(portal.name, static) for _ in range(args.repeat)]
        bare = statistics.median(peer(f"https://{portal.name}/", portal.name, portal.ipv6[0]) for _ in range(3))
        mc, mw, mn = statistics.median(cold), statistics.median(warm), statistics.median(nob)
        worst_cold, worst_warm = max(worst_cold, mc), max(worst_warm, mw)
        print(f"{portal.name:<28} {mc:6.2f} {mw:6.2f} {mn:10.2f} {bare:14.2f} {mw / bare:9.2f}")
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
