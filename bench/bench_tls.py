"""Speed of the TLS probe: in-process scan of one address, and whole process vs sslyze and testssl.sh.

    python bench/bench_tls.py [--runs 20] [--pairs 5] [--tools sslyze,testssl] [--host H --address A --ca-file F]

Without --host it uses the running lab's `good` portal (NETREADY_LAB_NAME selects the lab).
Targets (issue #4): in-process full scan <= 150 ms; whole process faster than sslyze and >= 40x faster
than testssl.sh (both run with comparable scans: protocols, suites per protocol, certificate, groups).
Issue #14: whole process <= 0.7x sslyze's time on the same address, measured paired: --pairs rounds of
(netready, tool) back to back, so a load change on the shared machine hits both; the median of the
per-pair ratios is printed. sslyze comes from its own venv (bench/compare_tls.py: SSLYZE).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from netready.model import ProbeSettings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--tools", default="sslyze,testssl")
    ap.add_argument("--pairs", type=int, default=5, help="paired whole-process runs against sslyze")
    ap.add_argument("--host")
    ap.add_argument("--address")
    ap.add_argument("--ca-file")
    a = ap.parse_args()
    if not a.host:
        from netready import lab

        env = lab.env()
        portal = next(p for p in env.portals if p.scenario == "good")
        a.host, a.address, a.ca_file = portal.name, portal.ipv4[0], str(env.ca_bundle)
    from netready.probes.tls import scan_host
    from netready.probes.tls_hello import prepare

    t0 = time.perf_counter()
    prepare()
    print(f"scapy templates built (import + build): {(time.perf_counter() - t0) * 1000:.0f} ms")
    settings = ProbeSettings(ca_file=a.ca_file, timeout=3, budget=30)
    scan_host(a.host, 443, [a.address], a.host, settings)  # warm-up: contexts, CA bundle
    times, counts = [], None
    for _ in range(a.runs):
        t = time.perf_counter()
        obs = scan_host(a.host, 443, [a.address], a.host, settings)[0]
        times.append((time.perf_counter() - t) * 1000)
        counts = obs.data["counts"]
    print(f"in-process full scan of {a.host} {a.address}: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f}, max {max(times):.1f} over {a.runs} runs (target <= 150 ms)")
    print(f"  per scan: {counts['tcp_connections']} TCP connections, {counts['tls_handshakes']} TLS handshakes "
          f"({counts['raw_hellos']} raw hellos), {counts['http_requests']} HTTP requests")

    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r});"
            "from netready.probes.tls import scan_host; from netready.model import ProbeSettings;"
            f"o = scan_host({a.host!r}, 443, [{a.address!r}], {a.host!r}, ProbeSettings(ca_file={a.ca_file!r}));"
            "assert o[0].error is None, o[0].error")

    def ours() -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t

    import compare_tls

    print(f"whole process, netready: {ours():.2f} s (first run)")
    for tool in [x for x in a.tools.split(",") if x]:
        fn = {"sslyze": compare_tls.sslyze, "testssl": compare_tls.testssl}[tool]
        mine, theirs, ratios = [], [], []
        for _ in range(a.pairs if tool == "sslyze" else 1):
            m = ours()
            res = fn(a.host, a.address, 443, a.ca_file)
            if res is None:
                break
            mine.append(m)
            theirs.append(res["seconds"])
            ratios.append(m / res["seconds"])
            if res.get("error"):
                print(f"  {tool}: {res['error']}")
        if not ratios:
            print(f"whole process, {tool}: not installed")
            continue
        print(f"whole process, paired x{len(ratios)}: netready median {statistics.median(mine):.2f} s, {tool} median "
              f"{statistics.median(theirs):.2f} s -> netready/{tool} = {statistics.median(ratios):.2f}x "
              f"(pairs {min(ratios):.2f}..{max(ratios):.2f}; {1 / statistics.median(ratios):.1f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
