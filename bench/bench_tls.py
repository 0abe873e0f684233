"""Speed of the TLS probe: in-process scan of one address, and whole process vs sslyze and testssl.sh.

    python bench/bench_tls.py [--runs 20] [--tools sslyze,testssl] [--host H --address A --ca-file F]

Without --host it uses the running lab's `good` portal (NETREADY_LAB_NAME selects the lab).
Targets (issue #4): in-process full scan <= 150 ms; whole process faster than sslyze and >= 40x faster
than testssl.sh (both run with comparable scans: protocols, suites per protocol, certificate, groups).
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
    ap.add_argument("--host")
    ap.add_argument("--address")
    ap.add_argument("--ca-file")
    a = ap.parse_args()
    if not a.host:
        from netready import lab

        env = lab.env()
        portal = next(p for p in env.portals if p.scenario == "good")
        a.host, a.address, a.ca_file = portal.name, portal.ipv4[0], str(env.ca_bundle)
    from probes.tls import scan_host
    from probes.tls_hello import prepare

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
            "from probes.tls import scan_host; from netready.model import ProbeSettings;"
            f"o = scan_host({a.host!r}, 443, [{a.address!r}], {a.host!r}, ProbeSettings(ca_file={a.ca_file!r}));"
            "assert o[0].error is None, o[0].error")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    ours = time.perf_counter() - t
    print(f"whole process, netready: {ours:.2f} s")
    import compare_tls

    for tool in [x for x in a.tools.split(",") if x]:
        res = {"sslyze": compare_tls.sslyze, "testssl": compare_tls.testssl}[tool](a.host, a.address, 443, a.ca_file)
        if res is None:
            print(f"whole process, {tool}: not installed")
            continue
        ratio = res["seconds"] / ours
        print(f"whole process, {tool}: {res['seconds']:.2f} s  -> netready is {ratio:.1f}x faster"
              + (f"  ({res['error']})" if res.get("error") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
