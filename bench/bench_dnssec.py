"""DNSSEC probe speed on the lab, and a side-by-side with DNSViz (probe -A + grok).

    python bench/bench_dnssec.py [--runs 20] [--name dichvucong.good.gov.vn] [--compare]

Prints: in-process time of one full check (chain + every server over v4/v6, UDP/TCP + denial + CAA;
target <= 50 ms), the whole-process time of a netready DNSSEC check vs `dnsviz probe -A` + `dnsviz grok`
(target: >= 2x faster), and with --compare the status DNSViz gives every lab portal next to ours.
Run it inside your own namespace with your own lab (NETREADY_LAB_NAME), like the tests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netready import lab as lab_mod  # noqa: E402
from netready.model import ProbeSettings  # noqa: E402
from probes.dnssec import run_name  # noqa: E402

# Debian's dnsviz 0.9.4 asks for pygraphviz.release, which pygraphviz >= 1.10 no longer has: shim it.
DNSVIZ_GROK = (
    "import sys, types, pygraphviz\n"
    "m = types.ModuleType('pygraphviz.release'); m.version = pygraphviz.__version__\n"
    "sys.modules['pygraphviz.release'] = m; pygraphviz.release = m\n"
    "sys.argv = ['dnsviz', 'grok', '-t', sys.argv[1]]\n"
    "exec(compile(open('/usr/bin/dnsviz').read(), 'dnsviz', 'exec'))\n"
)


def wall(cmd: list[str], stdin: bytes | None = None) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr.decode(errors='replace')[-400:]}")
    return (time.perf_counter() - t0) * 1000, proc.stdout


def dnsviz(env, name: str) -> tuple[float, dict]:
    root = env.root_servers[0]
    probe_ms, raw = wall(["dnsviz", "probe", "-A", "-x", f".:{root['name']}={root['ipv4']}", name])
    grok_ms, out = wall(["/usr/bin/python3", "-c", DNSVIZ_GROK, env.trust_anchor_dnskey], raw)
    return probe_ms + grok_ms, json.loads(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--name", default="dichvucong.good.gov.vn")
    ap.add_argument("--compare", action="store_true", help="DNSViz status of every lab portal next to ours")
    args = ap.parse_args()
    env = lab_mod.up()  # idempotent: a healthy lab is returned as is
    settings = ProbeSettings(root_hints=str(env.root_hints), trust_anchor=str(env.trust_anchor), timeout=2.0, lab=True)

    run_name(args.name, settings)  # warm-up: imports, thread pools
    times, obs = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        obs = run_name(args.name, settings)
        times.append((time.perf_counter() - t0) * 1000)
    chain = obs[0]
    print(
        f"in-process, one full check of {args.name}: median {statistics.median(times):.1f} ms, "
        f"min {min(times):.1f} ms over {args.runs} runs ({chain.data['queries']} queries, "
        f"{len(obs)} observations, status {chain.data['status']}); target <= 50 ms"
    )

    code = (
        "import sys; from netready.model import ProbeSettings; from probes.dnssec import run_name; "
        "o = run_name(sys.argv[1], ProbeSettings(root_hints=sys.argv[2], trust_anchor=sys.argv[3])); "
        "print(o[0].data['status'])"
    )
    ours = [
        wall([sys.executable, "-c", code, args.name, str(env.root_hints), str(env.trust_anchor)])[0] for _ in range(5)
    ]
    print(f"whole process, netready DNSSEC check: median {statistics.median(ours):.0f} ms (5 runs)")
    if shutil.which("dnsviz") is None:
        print("dnsviz not installed (Debian package dnsviz + python3-pygraphviz): no comparison")
        return 0
    theirs = [dnsviz(env, args.name)[0] for _ in range(5)]
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(
        f"whole process, dnsviz probe -A + grok: median {statistics.median(theirs):.0f} ms (5 runs); "
        f"netready is {ratio:.1f}x faster (target >= 2x)"
    )
    if args.compare:
        for p in env.portals:
            try:
                _ms, grok = dnsviz(env, p.name)
                theirs_status = (grok.get(f"{p.zone}.", {}).get("delegation") or {}).get("status", "?")
            except RuntimeError as exc:  # dnsviz 0.9.4 grok crashes on some zones (KeyError in offline.py)
                theirs_status = f"dnsviz failed ({str(exc).strip().splitlines()[-1][:60]})"
            mine = run_name(p.name, settings)[0].data["status"]
            print(f"  {p.name:32} netready {mine:13} dnsviz delegation {theirs_status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
