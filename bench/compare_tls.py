"""Side by side: netready's TLS probe, sslyze and testssl.sh on the same server; compare versions and suites.

    python bench/compare_tls.py HOST ADDRESS [--port 443] [--ca-file F] [--tools sslyze,testssl]
    python bench/compare_tls.py --lab [SCENARIO ...]     # every (or the named) lab portal, both families

sslyze runs from its own venv (SSLYZE, default /tmp/sslyze-venv/bin/sslyze: its pinned dependencies
clash with ours); testssl.sh is the Debian package's `testssl`. Names are compared in IANA form.
Exit status 0 when every tool that ran agrees with netready on every version and suite list.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netready.model import ProbeSettings  # noqa: E402

SSLYZE = os.environ.get("SSLYZE", "/tmp/sslyze-venv/bin/sslyze")
TESTSSL = os.environ.get("TESTSSL", shutil.which("testssl") or "testssl")
VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")

Result = dict[str, Any]  # {"versions": {v: bool}, "suites": {v: sorted list}, "seconds": float}


def ours(host: str, address: str, port: int, ca_file: str | None) -> Result:
    from netready.probes.tls import scan_host

    t0 = time.perf_counter()
    obs = scan_host(host, port, [address], host, ProbeSettings(ca_file=ca_file, timeout=3, budget=60))[0]
    seconds = time.perf_counter() - t0
    vs = obs.data.get("versions") or {}
    return {
        "versions": {v: bool((vs.get(v) or {}).get("accepted")) for v in VERSIONS},
        "suites": {v: sorted((vs.get(v) or {}).get("suites") or []) for v in VERSIONS},
        "groups": sorted((obs.data.get("groups") or {}).get("accepted") or []),
        "connections": (obs.data.get("counts") or {}).get("tcp_connections"),
        "seconds": seconds,
        "error": obs.error,
    }


def sslyze(host: str, address: str, port: int, ca_file: str | None) -> Result | None:
    if not Path(SSLYZE).exists():
        return None
    keys = {"SSLv3": "ssl_3_0", "TLSv1.0": "tls_1_0", "TLSv1.1": "tls_1_1", "TLSv1.2": "tls_1_2", "TLSv1.3": "tls_1_3"}
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "s.json"
        target = f"{host}:{port}{{{address}}}" if ":" not in address else f"{host}:{port}{{[{address}]}}"
        cmd = [SSLYZE, "--quiet", f"--json_out={out}", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3",
               "--elliptic_curves", "--certinfo"]
        if ca_file:
            cmd.append(f"--certinfo_ca_file={ca_file}")
        t0 = time.perf_counter()
        subprocess.run([*cmd, target], capture_output=True, timeout=300, check=False)
        seconds = time.perf_counter() - t0
        if not out.exists():
            return {"error": "sslyze wrote no JSON", "seconds": seconds}
        doc = json.loads(out.read_text())
    res = doc["server_scan_results"][0]
    if res.get("scan_status") != "COMPLETED":
        return {"error": f"sslyze: {res.get('connectivity_error_trace') or res.get('scan_status')}", "seconds": seconds}
    sr = res["scan_result"]
    suites = {}
    for v, k in keys.items():
        accepted = ((sr.get(f"{k}_cipher_suites") or {}).get("result") or {}).get("accepted_cipher_suites") or []
        suites[v] = sorted(a["cipher_suite"]["name"] for a in accepted)
    curves = ((sr.get("elliptic_curves") or {}).get("result") or {}).get("supported_curves") or []
    return {"versions": {v: bool(s) for v, s in suites.items()}, "suites": suites,
            "groups": sorted(c["name"] for c in curves), "seconds": seconds}


def testssl(host: str, address: str, port: int, ca_file: str | None) -> Result | None:
    if not shutil.which(TESTSSL):
        return None
    ids = {"SSLv3": "SSLv3", "TLS1": "TLSv1.0", "TLS1_1": "TLSv1.1", "TLS1_2": "TLSv1.2", "TLS1_3": "TLSv1.3"}
    prefix = {"ssl3": "SSLv3", "tls1": "TLSv1.0", "tls1_1": "TLSv1.1", "tls1_2": "TLSv1.2", "tls1_3": "TLSv1.3"}
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "t.json"
        cmd = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none", "--ip", address,
               "--jsonfile", str(out), "-p", "-E", "--sneaky"]
        if ca_file:
            cmd += ["--add-ca", ca_file]
        if ":" in address:
            cmd.append("-6")  # else testssl skips IPv6 addresses
        t0 = time.perf_counter()
        subprocess.run([*cmd, f"https://{host}:{port}"], capture_output=True, timeout=900, check=False,
                       env={**os.environ, "TERM": "dumb"})
        seconds = time.perf_counter() - t0
        if not out.exists():
            return {"error": "testssl wrote no JSON", "seconds": seconds}
        items = json.loads(out.read_text() or "[]")
    versions = {v: False for v in VERSIONS}
    suites: dict[str, list[str]] = {v: [] for v in VERSIONS}
    for it in items:
        iid, finding = it.get("id", ""), it.get("finding", "")
        if iid in ids:
            versions[ids[iid]] = finding.startswith("offered") or "offered" in finding and "not offered" not in finding
        elif iid.startswith("cipher-"):
            proto = iid[len("cipher-"):].rsplit("_x", 1)[0]
            if proto in prefix and finding.split():
                suites[prefix[proto]].append(finding.split()[-1])
    return {"versions": versions, "suites": {v: sorted(s) for v, s in suites.items()}, "seconds": seconds}


def compare(host: str, address: str, port: int = 443, ca_file: str | None = None,
            tools: tuple[str, ...] = ("sslyze", "testssl")) -> dict[str, Any]:
    """{"ours": Result, tool: Result|None, "diffs": {tool: [text]}} for one address."""
    out: dict[str, Any] = {"ours": ours(host, address, port, ca_file), "diffs": {}}
    for name in tools:
        res = {"sslyze": sslyze, "testssl": testssl}[name](host, address, port, ca_file)
        out[name] = res
        if res is None:
            continue
        diffs = []
        if res.get("error"):
            diffs.append(res["error"])
        else:
            for v in VERSIONS:
                if res["versions"][v] != out["ours"]["versions"][v]:
                    diffs.append(f"{v}: {name} says {res['versions'][v]}, netready {out['ours']['versions'][v]}")
                a, b = set(res["suites"][v]), set(out["ours"]["suites"][v])
                if a != b:
                    diffs.append(f"{v} suites: only {name}: {sorted(a - b)}; only netready: {sorted(b - a)}")
        out["diffs"][name] = diffs
    return out


def _print(host: str, address: str, r: dict[str, Any]) -> bool:
    ok = True
    o = r["ours"]
    line = f"{host} {address}: netready {o['seconds']:.2f} s ({o['connections']} connections)"
    for name in ("sslyze", "testssl"):
        res = r.get(name)
        if res is None:
            line += f"; {name} not installed"
            continue
        line += f"; {name} {res['seconds']:.2f} s"
    print(line)
    for v in VERSIONS:
        if o["versions"][v]:
            print(f"    {v}: {len(o['suites'][v])} suites")
    for name, diffs in r["diffs"].items():
        if diffs:
            ok = False
            for d in diffs:
                print(f"    DIFF {name}: {d}")
        else:
            print(f"    {name}: same versions and suites")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host", nargs="?")
    ap.add_argument("address", nargs="?")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--ca-file")
    ap.add_argument("--tools", default="sslyze,testssl")
    ap.add_argument("--lab", nargs="*", metavar="SCENARIO")
    a = ap.parse_args()
    tools = tuple(t for t in a.tools.split(",") if t)
    ok = True
    if a.lab is not None:
        from netready import lab

        env = lab.env()
        for p in env.portals:
            if a.lab and p.scenario not in a.lab:
                continue
            for addr in [*_list(p.ipv4), *_list(p.ipv6)]:
                ok &= _print(p.name, addr, compare(p.name, addr, 443, str(env.ca_bundle), tools))
    else:
        if not (a.host and a.address):
            ap.error("HOST and ADDRESS, or --lab")
        ok = _print(a.host, a.address, compare(a.host, a.address, a.port, a.ca_file, tools))
    return 0 if ok else 1


def _list(x: Any) -> list[str]:
    return [] if not x else [x] if isinstance(x, str) else list(x)


if __name__ == "__main__":
    sys.exit(main())
