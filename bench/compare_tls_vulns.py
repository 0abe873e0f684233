"""TLS weaknesses side by side: netready, testssl.sh, sslyze (and openssl s_client for the key-exchange
signature hash) on the same addresses; then the speed of `netready tls` against sslyze's whole process
with the same checks, paired in one run.

    python bench/compare_tls_vulns.py --lab [SCENARIO ...]        # every (or the named) lab portal, both families
    python bench/compare_tls_vulns.py HOST ADDRESS [--port 443] [--ca-file F]
    options: --tools testssl,sslyze,openssl  --runs 7 (speed pairs)  --speed-only  --no-speed

Sub-checks compared (netready name: testssl.sh JSON id / sslyze JSON field / openssl):
  sslv2: SSLv2 (+DROWN) / ssl_2_0_cipher_suites;  secure_renegotiation: secure_renego /
  session_renegotiation.supports_secure_renegotiation;  client_renegotiation: secure_client_renego /
  session_renegotiation.is_vulnerable_to_client_renegotiation_dos;  compression: CRIME_TLS / tls_compression;
  fallback_scsv: fallback_SCSV / tls_fallback_scsv;  heartbleed: heartbleed / heartbleed;  robot: ROBOT / robot;
  kex_signature_hash: openssl s_client -tls1_2 -sigalgs "RSA+SHA1:ECDSA+SHA1:DSA+SHA1" (neither peer tool
  tests it; Internet.nl does, through nassl). Each tool's answer is reduced to clean / WEAK / ? and printed
  with its own words; "same" means the same reduction.

sslyze is not a Debian package and its pinned dependencies clash with netready's: it runs from its own venv
(SSLYZE, default /tmp/sslyze-venv/bin/sslyze), which this script creates with pip when it is missing.
testssl.sh is the Debian package's `testssl` (3.0.8 in Debian 12). Speed: `netready tls HOST --address A
--ca-file CA` (what a user runs on one address; --lab is timed too, for information) against `sslyze
--reneg --compression --fallback --heartbleed --robot --sslv2 HOST:443{A}`, alternated run by run,
medians compared; target: netready <= 0.7 x sslyze. With --lab it also prints the CPU per address of the
whole TLS probe with and without the weakness checks (netready's, and nginx's), what a batch pays for
them. Exit status 0 when every tool agrees and the target holds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netready.model import ProbeSettings  # noqa: E402

SSLYZE = os.environ.get("SSLYZE", "/tmp/sslyze-venv/bin/sslyze")
TESTSSL = os.environ.get("TESTSSL", shutil.which("testssl") or "testssl")
NETREADY = str(Path(sys.executable).parent / "netready")
CHECKS = ("sslv2", "secure_renegotiation", "client_renegotiation", "compression", "fallback_scsv", "heartbleed",
          "robot", "kex_signature_hash")  # fmt: skip
TARGET_RATIO = 0.7
SSLYZE_FLAGS = ["--reneg", "--compression", "--fallback", "--heartbleed", "--robot", "--sslv2"]

Cell = tuple[str, str]  # (clean | WEAK | ?, the tool's own words)


def ensure_sslyze() -> str | None:
    """sslyze's path; its venv is made with pip the first time (sslyze pins its own OpenSSL via nassl)."""
    if Path(SSLYZE).exists():
        return SSLYZE
    venv = Path(SSLYZE).parents[1]
    print(f"sslyze not found: creating {venv} (pip install sslyze)...", flush=True)
    try:
        python = shutil.which("python3") or sys.executable  # Debian's, not netready's venv
        subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "sslyze"], check=True, capture_output=True,
                       timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"  could not install sslyze: {exc}")
        return None
    return SSLYZE if Path(SSLYZE).exists() else None


# --- the tools ------------------------------------------------------------------------------------------------


def ours(host: str, address: str, port: int, ca_file: str | None) -> dict[str, Cell]:
    from netready.evaluate.tls_vulns import FINDINGS
    from netready.probes.tls import scan_host

    obs = scan_host(host, port, [address], host, ProbeSettings(ca_file=ca_file, timeout=3, budget=60))[0]
    out: dict[str, Cell] = {}
    for e in (obs.data.get("vulns") or {}).get("checks") or []:
        word = "?" if e["result"] == "unknown" else "WEAK" if (e["name"], e["result"]) in FINDINGS else "clean"
        out[e["name"]] = (word, e["result"])
    out["_connections"] = ("", str((obs.data.get("vulns") or {}).get("connections")))
    return out


def testssl(host: str, address: str, port: int) -> dict[str, Cell] | None:
    if not shutil.which(TESTSSL):
        return None
    ids = {"SSLv2": "sslv2", "secure_renego": "secure_renegotiation", "secure_client_renego": "client_renegotiation",
           "CRIME_TLS": "compression", "fallback_SCSV": "fallback_scsv", "heartbleed": "heartbleed", "ROBOT": "robot"}
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "t.json"
        cmd = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none", "--ip", address,
               "--jsonfile", str(out), "-p", "-H", "-R", "-C", "-Z", "-BB", "-D"]
        if ":" in address:
            cmd.append("-6")
        subprocess.run([*cmd, f"https://{host}:{port}"], capture_output=True, timeout=900, check=False,
                       env={**os.environ, "TERM": "dumb"})
        items = json.loads(out.read_text() or "[]") if out.exists() else []
    cells: dict[str, Cell] = {}
    for it in items:
        name = ids.get(it.get("id", ""))
        if not name:
            continue
        sev, finding = it.get("severity", ""), it.get("finding", "")
        word = "WEAK" if sev in ("MEDIUM", "HIGH", "CRITICAL") else "?" if sev in ("WARN", "FATAL") else "clean"
        cells[name] = (word, finding)
    return cells


def sslyze(host: str, address: str, port: int) -> dict[str, Cell] | None:
    exe = ensure_sslyze()
    if not exe:
        return None
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "s.json"
        target = f"{host}:{port}{{{address}}}" if ":" not in address else f"{host}:{port}{{[{address}]}}"
        subprocess.run([exe, "--quiet", f"--json_out={out}", *SSLYZE_FLAGS, target], capture_output=True,
                       timeout=600, check=False)
        if not out.exists():
            return {c: ("?", "sslyze wrote no JSON") for c in CHECKS if c != "kex_signature_hash"}
        res = json.loads(out.read_text())["server_scan_results"][0]
    sr = res.get("scan_result") or {}

    def get(cmd: str) -> dict[str, Any]:
        return ((sr.get(cmd) or {}).get("result")) or {}

    cells: dict[str, Cell] = {}
    v2 = get("ssl_2_0_cipher_suites").get("accepted_cipher_suites")
    cells["sslv2"] = ("?", "no result") if v2 is None else ("WEAK" if v2 else "clean", f"{len(v2)} SSLv2 suites")
    reneg = get("session_renegotiation")
    sec, dos = reneg.get("supports_secure_renegotiation"), reneg.get("is_vulnerable_to_client_renegotiation_dos")
    cells["secure_renegotiation"] = ("?", "no result") if sec is None else (
        "clean" if sec else "WEAK", f"supports_secure_renegotiation={sec}")
    cells["client_renegotiation"] = ("?", "no result") if dos is None else (
        "WEAK" if dos else "clean", f"client_renegotiation_dos={dos}")
    comp = get("tls_compression").get("supports_compression")
    cells["compression"] = ("?", "no result") if comp is None else ("WEAK" if comp else "clean",
                                                                   f"supports_compression={comp}")
    scsv = get("tls_fallback_scsv").get("supports_fallback_scsv")
    cells["fallback_scsv"] = ("?", "no result") if scsv is None else ("clean" if scsv else "WEAK",
                                                                     f"supports_fallback_scsv={scsv}")
    hb = get("heartbleed").get("is_vulnerable_to_heartbleed")
    cells["heartbleed"] = ("?", "no result") if hb is None else ("WEAK" if hb else "clean", f"vulnerable={hb}")
    robot = get("robot").get("robot_result")
    cells["robot"] = ("?", "no result") if robot is None else (
        "WEAK" if robot.startswith("VULNERABLE") else "?" if robot.startswith("UNKNOWN") else "clean", robot)
    return cells


def openssl_sha1(host: str, address: str, port: int) -> dict[str, Cell] | None:
    exe = shutil.which("openssl")
    if not exe:
        return None
    connect = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    r = subprocess.run([exe, "s_client", "-connect", connect, "-servername", host, "-tls1_2", "-sigalgs",
                        "RSA+SHA1:ECDSA+SHA1:DSA+SHA1", "-cipher", "ECDHE:DHE:@SECLEVEL=0"],
                       input=b"", capture_output=True, timeout=60, check=False)
    text = (r.stdout + r.stderr).decode(errors="replace")
    digest = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                   if "Peer signature digest" in ln or "Peer signing digest" in ln), None)
    if digest:
        word = "WEAK" if digest.upper() in ("SHA1", "MD5") else "clean"
        return {"kex_signature_hash": (word, f"signs with {digest} when offered only SHA-1")}
    if "alert" in text or "handshake failure" in text or "no shared" in text:
        return {"kex_signature_hash": ("clean", "refuses a hello offering only SHA-1")}
    return {"kex_signature_hash": ("?", "no handshake")}


# --- comparison --------------------------------------------------------------------------------------------------


def compare(host: str, address: str, port: int, ca_file: str | None, tools: tuple[str, ...]) -> bool:
    from netready.probes.tls_hello import prepare

    prepare()  # the in-process figure is the scan, not the first import of everything
    t0 = time.perf_counter()
    results: dict[str, dict[str, Cell] | None] = {"netready": ours(host, address, port, ca_file)}
    ours_s = time.perf_counter() - t0
    runners = {"testssl": lambda: testssl(host, address, port), "sslyze": lambda: sslyze(host, address, port),
               "openssl": lambda: openssl_sha1(host, address, port)}
    for name in tools:
        results[name] = runners[name]()
    nr = results["netready"] or {}
    print(f"\n{host} {address}: netready's whole TLS probe {ours_s * 1000:.0f} ms in process, "
          f"{nr.get('_connections', ('', '?'))[1]} extra connections")
    cols = [t for t in results if results[t] is not None]
    print(f"  {'check':22}" + "".join(f"{c:31}" for c in cols))
    same = True
    for check in CHECKS:
        cells = [results[c].get(check) for c in cols]  # type: ignore[union-attr]
        mine = cells[0][0] if cells[0] else "?"
        others = [x[0] for x in cells[1:] if x]
        agree = all(o == mine for o in others)
        same &= agree and mine != "?"
        row = "".join(f"{(x[0] + ' ' + x[1])[:30]:31}" if x else f"{'-':31}" for x in cells)
        print(f"  {check:22}{row}{'' if agree else '  <-- DIFFERENT'}")
    missing = [t for t in tools if results.get(t) is None]
    if missing:
        print(f"  not installed: {', '.join(missing)}")
    print(f"  same results: {'yes' if same else 'NO'}")
    return same


def speed(host: str, address: str, ca_file: str | None, runs: int, lab: bool) -> bool:
    exe = ensure_sslyze()
    if not exe:
        print("speed: sslyze not available")
        return False
    target = f"{host}:443{{{address}}}" if ":" not in address else f"{host}:443{{[{address}]}}"
    cmds = {
        "netready tls (--ca-file)": [NETREADY, "tls", host, "--address", address]
        + (["--ca-file", ca_file] if ca_file else []),
        "sslyze": [exe, "--quiet", *SSLYZE_FLAGS, target],
    }
    if lab:
        cmds["netready tls (--lab)"] = [NETREADY, "tls", "--lab", host, "--address", address]
    times: dict[str, list[float]] = {k: [] for k in cmds}
    cpu: dict[str, list[float]] = {k: [] for k in cmds}
    load = os.getloadavg()[0]
    # Warm the page cache once, and let that run write the bytecode of netready's modules: an installed netready
    # has it (pip compiles at install, as it did for sslyze's venv), but a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile every module in every timed run (about 0.2 s of netready's time).
    warm_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for cmd in cmds.values():
        subprocess.run(cmd, capture_output=True, timeout=300, check=False, env=warm_env)
    for _ in range(runs):
        for name, cmd in cmds.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})
            times[name].append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["sslyze"]
    print(f"\nspeed on {host} {address}, whole processes alternated, {runs} runs each (median, min-max; CPU "
          f"user+sys median); load average before: {load:.1f}")
    for k, v in times.items():
        ratio = f"  = {med[k] / base:.2f} x sslyze" if k != "sslyze" else ""
        print(f"  {k:26} {med[k]:.2f} s ({min(v):.2f}-{max(v):.2f}), CPU {statistics.median(cpu[k]):.2f} s{ratio}")
    ratio = med["netready tls (--ca-file)"] / base
    ok = ratio <= TARGET_RATIO
    print(f"  target: netready tls <= {TARGET_RATIO} x sslyze with --reneg --compression --fallback --heartbleed "
          f"--robot --sslv2: {'met' if ok else 'NOT met'} ({ratio:.2f})")
    return ok


def cost(host: str, address: str, ca_file: str | None, runs: int) -> None:
    """CPU of the weakness checks per address, in process: netready's and, on the lab, nginx's (what a batch
    pays for them; batches are CPU-bound), with the checks and with check_vulns replaced by a no-op."""
    import netready.probes.tls as tls_probe
    import netready.probes.tls_vulns as vulns

    server_pids: list[int] = []
    try:
        from netready import lab

        st = lab.status()
        server_pids = [p["pid"] for s, p in st.get("processes", {}).items() if "nginx" in s]
    except Exception:  # noqa: BLE001 - not on the lab: client CPU only
        pass

    def tree(pid: int) -> list[int]:
        out = [pid]
        for f in Path(f"/proc/{pid}/task").glob("*/children"):
            out += [q for c in f.read_text().split() for q in tree(int(c))]
        return out

    def server_cpu() -> float:
        total = 0
        for pid in [q for p in server_pids for q in tree(p)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / os.sysconf("SC_CLK_TCK")

    real = vulns.check_vulns
    settings = ProbeSettings(ca_file=ca_file, timeout=3, budget=60)
    rows: dict[str, list[tuple[float, float]]] = {"with the weakness checks": [], "without": []}
    try:
        for _ in range(2):  # alternated, twice
            for label, fn in (("with the weakness checks", real), ("without", lambda *a, **k: None)):
                vulns.check_vulns = fn  # probes.tls imports it when it scans
                c0, s0 = time.process_time(), server_cpu()
                for _ in range(runs):
                    tls_probe.scan_host(host, 443, [address], host, settings)
                rows[label].append(((time.process_time() - c0) / runs, (server_cpu() - s0) / runs))
    finally:
        vulns.check_vulns = real
    print(f"\nCPU per address of the whole TLS probe on {host} {address}, in process, {runs} scans x 2:")
    for label, vals in rows.items():
        c = statistics.mean(v[0] for v in vals) * 1000
        srv = statistics.mean(v[1] for v in vals) * 1000
        print(f"  {label:26} netready {c:.1f} ms" + (f", nginx {srv:.1f} ms" if server_pids else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host", nargs="?")
    ap.add_argument("address", nargs="?")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--ca-file")
    ap.add_argument("--tools", default="testssl,sslyze,openssl")
    ap.add_argument("--lab", nargs="*", metavar="SCENARIO")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    a = ap.parse_args()
    tools = tuple(t for t in a.tools.split(",") if t)
    ok = True
    pairs: list[tuple[str, str]] = []
    speed_pair: tuple[str, str] | None = None
    if a.lab is not None:
        from netready import lab

        env = lab.env()
        a.ca_file = str(env.ca_bundle)
        for p in env.portals:
            if a.lab and p.scenario not in a.lab:
                continue
            pairs += [(p.name, addr) for addr in [*p.ipv4, *p.ipv6] if "dead" not in addr]
        legacy = next((p for p in env.portals if p.scenario == "legacy"), env.portals[0])
        speed_pair = (legacy.name, legacy.ipv4[0])  # static RSA accepted: ROBOT runs for both tools
    elif a.host and a.address:
        pairs = [(a.host, a.address)]
        speed_pair = pairs[0]
    else:
        ap.error("HOST and ADDRESS, or --lab")
    if not a.speed_only:
        for host, addr in pairs:
            ok &= compare(host, addr, a.port, a.ca_file, tools)
    if not a.no_speed and speed_pair:
        ok &= speed(*speed_pair, a.ca_file, a.runs, a.lab is not None)
        if a.lab is not None:
            good = next((p for p in env.portals if p.scenario == "good"), None)
            for host, addr in ([(good.name, good.ipv4[0])] if good else []) + [speed_pair]:
                cost(host, addr, a.ca_file, 20)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
