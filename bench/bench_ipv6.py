"""Speed of the IPv6 checks on one lab portal, in-process (target: all checks <= 100 ms, ICMP aside).

Needs a running lab (`python -m netready.lab up`, or NETREADY_LAB_NAME for your own instance).
Usage: python bench/bench_ipv6.py [portal] [rounds]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netready.evaluate import ipv6 as ev  # noqa: E402
from netready.model import ProbeSettings  # noqa: E402
from netready.probes import ipv6  # noqa: E402
from netready.probes.http import BODY_CAP, fetch, simhash  # noqa: E402
from netready.scan import make_target  # noqa: E402


def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def show(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    print(f"{label:<44} median {statistics.median(ms):8.2f} ms   p90 {p90:8.2f} ms   min {ms[0]:8.2f} ms")


def main() -> None:
    from netready import lab
    from netready.profiles import load_profile

    env = lab.up()
    name = sys.argv[1] if len(sys.argv) > 1 else "dichvucong.good.gov.vn"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    settings = ProbeSettings(root_hints=env.root_hints, trust_anchor=env.trust_anchor, ca_file=env.ca_bundle,
                             timeout=2.0, lab=True)  # fmt: skip
    profile = load_profile("lab")
    target, _ = make_target(name, settings)
    print(f"portal {name}: A {target.ipv4} AAAA {target.ipv6}; {rounds} rounds")
    ipv6.run(target, settings, icmp=False)  # warm-up: imports, TLS contexts
    obs: list = []

    def probe() -> None:
        obs[:] = ipv6.run(target, settings, icmp=False)

    show("ipv6.run (all checks, no ICMP)", timed(probe, rounds))
    show("ipv6.run (with ICMPv6 echo + trace)", timed(lambda: ipv6.run(target, settings), max(3, rounds // 4)))
    show("judge 3 IPv6 rules", timed(lambda: [f(target, obs, profile) for f in
                                                (ev.ipv6_web, ev.ipv6_dns, ev.ipv6_parity)], rounds))  # fmt: skip
    for o in obs:
        print(f"  {o.id:<58} {o.duration_ms:8.2f} ms")
    addr = target.ipv6[0] if target.ipv6 else target.ipv4[0]
    show(f"http.fetch https [{addr}]", timed(lambda: fetch(addr, 443, name, True, env.ca_bundle, 2.0), rounds))
    page = b"<p>" + b" ".join(b"word%d" % (i % 5000) for i in range(BODY_CAP // 8)) + b"</p>"
    show(f"simhash of a {len(page) // 1024} KiB page", timed(lambda: simhash(page[:BODY_CAP]), 5))


if __name__ == "__main__":
    main()
