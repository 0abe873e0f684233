"""DNSSEC probe speed on the lab, and a paired side-by-side with DNSViz (`dnsviz probe -A | dnsviz grok`).

    python bench/bench_dnssec.py [--runs 20] [--pairs 7] [--name dichvucong.good.gov.vn] [--compare]

Prints:
- in-process time of one full check (chain, every server of the portal's zone validated over IPv4 and
  IPv6 on UDP and TCP, denial, CDS, CAA; the signature cache emptied before each run); target <= 50 ms;
- whole process, paired in one run: `netready dnssec --lab NAME -f json` and the DNSViz pipeline
  `dnsviz probe -A -x .:<root> NAME | dnsviz grok -t <anchor>` (a shell pipeline, wall time), alternately,
  `--pairs` times each; medians and the ratio; target: netready at most half of DNSViz;
- with --compare, the status DNSViz gives every lab portal next to netready's.
Run it inside your own namespace with your own lab (NETREADY_LAB_NAME), like the tests.
"""

from __future__ import annotations

import argparse
import json
import shlex
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
from netready.probes.dnssec import run_name  # noqa: E402
from netready.probes.dnssec_crypto import clear_caches  # noqa: E402

NETREADY = str(Path(sys.executable).parent / "netready")
# Debian's dnsviz 0.9.4 asks for pygraphviz.release, which pygraphviz >= 1.10 no longer has: shim it.
DNSVIZ_GROK = (
    "import sys, types, pygraphviz\n"
    "m = types.ModuleType('pygraphviz.release'); m.version = pygraphviz.__version__\n"
    "sys.modules['pygraphviz.release'] = m; pygraphviz.release = m\n"
    "sys.argv = ['dnsviz', 'grok', '-t', sys.argv[1]]\n"
    "exec(compile(open('/usr/bin/dnsviz').read(), 'dnsviz', 'exec'))\n"
)


def wall(cmd: list[str] | str, shell: bool = False) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, timeout=120, check=False, shell=shell)
    ms = (time.perf_counter() - t0) * 1000
    if proc.returncode not in (0, 1, 2):  # netready: 1 not compliant / 2 undetermined are answers too
        raise RuntimeError(f"{cmd if shell else cmd[0]} failed: {proc.stderr.decode(errors='replace')[-400:]}")
    return ms, proc.stdout


def dnsviz_pipeline(env, name: str) -> str:
    root = env.root_servers[0]
    probe = ["dnsviz", "probe", "-A", "-x", f".:{root['name']}={root['ipv4']}", name]
    grok = ["/usr/bin/python3", "-c", DNSVIZ_GROK, env.trust_anchor_dnskey]
    return f"set -o pipefail; {shlex.join(probe)} 2>/dev/null | {shlex.join(grok)}"


def dnsviz(env, name: str) -> tuple[float, dict]:
    ms, out = wall(["bash", "-c", dnsviz_pipeline(env, name)])
    return ms, json.loads(out)


def dnsviz_errors(node: object) -> list[str]:
    """Codes of every error DNSViz's grok reports under a node (per server, per RRset...)."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "errors" and isinstance(value, list):
                out += [str(e.get("code", "?")) for e in value if isinstance(e, dict)]
            else:
                out += dnsviz_errors(value)
    elif isinstance(node, list):
        for value in node:
            out += dnsviz_errors(value)
    return out


def ours(name: str) -> float:
    ms, out = wall([NETREADY, "dnssec", "--lab", name, "-f", "json"])
    json.loads(out)  # a whole report came out
    return ms


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20, help="in-process runs")
    ap.add_argument("--pairs", type=int, default=7, help="whole-process runs of each tool, alternated")
    ap.add_argument("--name", default="dichvucong.good.gov.vn")
    ap.add_argument("--compare", action="store_true", help="DNSViz status of every lab portal next to ours")
    args = ap.parse_args()
    env = lab_mod.up()  # idempotent: a healthy lab is returned as is
    settings = ProbeSettings(root_hints=str(env.root_hints), trust_anchor=str(env.trust_anchor), timeout=2.0, lab=True)

    run_name(args.name, settings)  # warm-up: imports, thread pools
    times, obs = [], []
    for _ in range(args.runs):
        clear_caches()  # every run verifies its signatures, as a fresh process would
        t0 = time.perf_counter()
        obs = run_name(args.name, settings)
        times.append((time.perf_counter() - t0) * 1000)
    chain = obs[0]
    servers = len(chain.data["servers"])
    print(
        f"in-process, one full check of {args.name}: median {statistics.median(times):.1f} ms, "
        f"min {min(times):.1f} ms over {args.runs} runs ({chain.data['queries']} queries, {servers} server "
        f"addresses validated, {len(obs)} observations, {chain.data['validation']['verified']} signature "
        f"checks + {chain.data['validation']['cached']} cached, status {chain.data['status']}); target <= 50 ms"
    )

    have_dnsviz = shutil.which("dnsviz") is not None
    if not have_dnsviz:
        print("dnsviz not installed (Debian package dnsviz + python3-pygraphviz): no comparison")
    mine, theirs = [], []
    ours(args.name)  # warm-up (page cache)
    for _ in range(args.pairs):
        mine.append(ours(args.name))
        if have_dnsviz:
            theirs.append(dnsviz(env, args.name)[0])
    print(f"whole process, `netready dnssec --lab {args.name} -f json`: median {statistics.median(mine):.0f} ms, "
          f"min {min(mine):.0f} ms ({args.pairs} runs)")
    if not have_dnsviz:
        return 0
    ratio = statistics.median(theirs) / statistics.median(mine)
    print(
        f"whole process, `dnsviz probe -A | dnsviz grok` (pipelined): median {statistics.median(theirs):.0f} ms, "
        f"min {min(theirs):.0f} ms ({args.pairs} runs, paired with ours); netready takes "
        f"{statistics.median(mine) / statistics.median(theirs):.0%} of DNSViz's time ({ratio:.1f}x faster; "
        "target: at most 50 %)"
    )
    if args.compare:
        for p in env.portals:
            try:
                _ms, grok = dnsviz(env, p.name)
                theirs_status = (grok.get(f"{p.zone}.", {}).get("delegation") or {}).get("status", "?")
                errors = dnsviz_errors(grok.get(f"{p.zone}.", {}))
                if errors:
                    counts = {c: errors.count(c) for c in dict.fromkeys(errors)}
                    theirs_status += " + errors " + ", ".join(f"{c} x{n}" for c, n in counts.items())
            except (RuntimeError, ValueError) as exc:  # dnsviz 0.9.4 grok crashes on some zones
                theirs_status = f"dnsviz failed ({str(exc).strip().splitlines()[-1][:60] or 'no output'})"
            mine_status = run_name(p.name, settings)[0].data["status"]
            print(f"  {p.name:34} netready {mine_status:13} dnsviz delegation {theirs_status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
