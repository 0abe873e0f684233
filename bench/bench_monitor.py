"""Storage benchmark of `netready monitor`: N portals scanned daily for D days, on SQLite and on PostgreSQL.

Fills a monitor database (the real schema, made by the Alembic migrations) with generated scans in bulk, then
prints the database size and the time of the queries the commands run: `monitor status` for every portal and
`monitor history NAME`, plus `diff --since 7d` and the /metrics text. Targets of issue #17: <= 2 GB for 20,000
portals daily for two years; status <= 1 s; history <= 100 ms.

What is generated (printed at the start; change with the options): every portal is scanned once a day. Its
certificate is renewed every 60 days (60 % of portals, ACME-style) or 180 days; its verdicts change on average
every --change-days days (a required rule fails, later passes again); 0.2 % of scans crash (one run, then back).
Identical scans extend one run (netready/monitor/db.py), so rows are written only on a change. Evidence blobs:
the real code compresses a template report (--evidence-from REPORT.json, e.g. a `netready check --lab -f json`
report, else a built-in synthetic one of the same shape) in full and as deltas for a renewal and for a verdict
change; the measured sizes are used for every blob, filled with random (incompressible) bytes.

    .venv/bin/python bench/bench_monitor.py                      # 20,000 portals, 730 days, both databases
    .venv/bin/python bench/bench_monitor.py --portals 2000 --db sqlite
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import insert, text, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from netready.monitor import db as mdb  # noqa: E402
from netready.monitor import store  # noqa: E402

T_START = 1_767_225_600  # 2026-01-01 00:00 UTC
DAY = 86400
CHUNK = 20_000


# --- evidence sizes ---------------------------------------------------------------------------------------------


def synthetic_report(rng: random.Random) -> dict:
    """A one-portal report shaped like a real one (about 40 kB of JSON): DNS, DNSSEC chain, per-server checks, TLS
    per address with certificate chain and suites, IPv6 checks, findings in two languages."""
    hexs = lambda n: f"{rng.getrandbits(4 * n):0{n}x}"  # noqa: E731
    name = "dichvucong.agency.gov.vn"
    sig = lambda owner, t: {"owner": owner, "type": t, "signer": owner, "key_tag": rng.randint(1, 65535),  # noqa: E731
                            "algorithm": 13, "labels": 3, "original_ttl": 300, "inception": "2026-01-01T00:00:00Z",
                            "expiration": "2026-01-31T00:00:00Z", "inception_ts": T_START,
                            "expiration_ts": T_START + 30 * DAY, "valid": True, "crypto_ok": True, "reason": None}
    zones = [{"zone": z, "parent": p, "ns": [f"ns{i}.{z}" for i in (1, 2)], "ds_source": "parent",
              "ds": [{"key_tag": rng.randint(1, 65535), "algorithm": 13, "digest_type": 2, "digest": hexs(64),
                      "matches": 1, "problem": None}], "ds_sigs": [sig(p, "DS")],
              "dnskeys": [{"key_tag": rng.randint(1, 65535), "flags": f, "sep": f == 257, "zone_key": True,
                           "revoked": False, "algorithm": 13, "key_bits": 256} for f in (257, 256)],
              "dnskey_sigs": [sig(z, "DNSKEY")], "status": "secure", "reason": "chain validates", "errors": []}
             for z, p in ((".", "."), ("vn.", "."), ("gov.vn.", "vn."), ("agency.gov.vn.", "gov.vn."))]
    obs = [{"id": f"dnssec:{name}:chain", "probe": "dnssec", "target": name, "subject": name, "asked": {},
            "data": {"qname": name, "zones": zones, "answers": [{"name": name, "type": t, "records": [a],
                                                                 "sigs": [sig("agency.gov.vn.", t)]}
                                                                for t, a in (("A", "198.51.100.10"),
                                                                             ("AAAA", "2001:db8::10"))],
                     "status": "secure"}, "started": "2026-01-01T02:00:00.000Z", "duration_ms": 120.0, "error": None}]
    for ns in ("ns1", "ns2"):
        for addr in ("198.51.100.91", "2001:db8:100::91"):
            obs.append({"id": f"dnssec:{name}:server:agency.gov.vn.:{ns}:{addr}", "probe": "dnssec", "target": name,
                        "subject": addr, "asked": {}, "data": {t: {"answered": True, "rcode": "NOERROR", "aa": True,
                                                                   "edns": True, "serial": 2026010101,
                                                                   "soa_signed": True, "rtt_ms": 1.2,
                                                                   "dnskey_tags": [1, 2]} for t in ("udp", "tcp")},
                        "started": "2026-01-01T02:00:00.000Z", "duration_ms": 3.0, "error": None})
    suites = [f"TLS_ECDHE_RSA_WITH_AES_{b}_GCM_SHA{h}" for b, h in ((128, 256), (256, 384))]
    for addr in ("198.51.100.10", "2001:db8::10"):
        chain = [{"subject": f"CN={n}", "issuer": "CN=Issuing CA", "dns_names": [name, f"www.{name}"],
                  "key_type": "RSA", "key_bits": 2048, "signature_algorithm": "sha256WithRSAEncryption",
                  "not_before": "2026-01-01T00:00:00Z", "not_after": "2026-03-01T00:00:00Z", "lifetime_days": 60.0,
                  "serial": hexs(32), "sha256": hexs(64), "aia": ["http://ca.test/issuer.crt"]} for n in (name, "CA")]
        versions = {v: {"accepted": v in ("TLSv1.2", "TLSv1.3"), "answer": "ServerHello", "suites": suites,
                        "suite_ids": [49199, 49200], "preference": "client", "complete": True}
                    for v in ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")}
        headers = [["Server", "nginx"], ["Date", "Thu, 01 Jan 2026 02:00:00 GMT"], ["Strict-Transport-Security",
                                                                                    "max-age=63072000"]]
        obs.append({"id": f"tls:{name}:{addr}", "probe": "tls", "target": name, "subject": addr, "asked": {},
                    "data": {"host": name, "address": addr, "port": 443, "reachable": True,
                             "handshake": {"version": "TLSv1.3", "cipher_openssl": "TLS_AES_256_GCM_SHA384"},
                             "versions": versions, "groups": {"accepted": ["x25519", "secp256r1"]},
                             "certificate": {"chain": chain, "chain_trusted": True, "hostname_match": True},
                             "http": {"https": {"status": 200, "headers": headers, "body_sha256": hexs(64)},
                                      "http": {"status": 301, "location": f"https://{name}/"}}},
                    "started": "2026-01-01T02:00:00.000Z", "duration_ms": 25.0, "error": None})
        obs.append({"id": f"ipv6:{name}:web:{addr}", "probe": "ipv6", "target": name, "subject": addr, "asked": {},
                    "data": {"family": 6 if ":" in addr else 4, "tcp": {"443": {"open": True}, "80": {"open": True}},
                             "https": {"status": 200, "headers": headers, "body_sha256": hexs(64),
                                       "body_simhash": hexs(16), "body_length": 18000}},
                    "started": "2026-01-01T02:00:00.000Z", "duration_ms": 9.0, "error": None})
    from netready.rules import catalogue

    findings = [{"rule_id": r, "target": name, "verdict": "pass", "level": "required" if r.startswith("VN-") else
                 "recommended", "subject": s, "evidence": [o["id"] for o in obs[:2]],
                 "message": {"en": f"{r} passes on {s or name}: " + "details " * 6,
                             "vi": f"{r} đạt trên {s or name}: " + "chi tiết " * 6}}
                for r in catalogue() for s in ((None,) if not r.startswith(("VN-TLS", "BP-TLS", "VN-HTTPS"))
                                               else ("198.51.100.10", "2001:db8::10"))]
    return {"schema_version": 1, "target": {"name": name, "ascii_name": name, "ipv4": ["198.51.100.10"],
                                            "ipv6": ["2001:db8::10"], "error": None},
            "observations": obs, "findings": findings, "summary": {"status": "compliant"}}


def evidence_sizes(template: dict, rng: random.Random) -> dict[str, float]:
    """Compressed sizes (bytes) with the monitor's own codec: full, delta after a renewal, delta after a change."""
    import zstandard

    def raw(ev: dict) -> bytes:
        return json.dumps(ev, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()

    def renew(ev: dict) -> dict:
        ev = copy.deepcopy(ev)
        for o in ev["observations"]:
            for c in ((o.get("data") or {}).get("certificate") or {}).get("chain", [])[:1]:
                c["serial"], c["sha256"] = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(256):064x}"
                c["not_after"] = f"2026-0{rng.randint(3, 9)}-0{rng.randint(1, 9)}T00:00:00Z"
        return ev

    def change(ev: dict) -> dict:
        ev = copy.deepcopy(ev)
        f = rng.choice(ev["findings"])
        f["verdict"] = "fail" if f["verdict"] == "pass" else "pass"
        f["message"] = {"en": f"{f['rule_id']} now {f['verdict']}: a reason", "vi": "lý do"}
        ev["summary"] = {"status": "not-compliant" if f["verdict"] == "fail" else "compliant"}
        return ev

    full = raw(template)
    out = {"raw": len(full), "full": len(zstandard.ZstdCompressor(level=store.ZSTD_LEVEL).compress(full))}
    for kind, mutate in (("renewal", renew), ("change", change)):
        sizes = []
        for _ in range(5):
            new = raw(mutate(template))
            d = zstandard.ZstdCompressionDict(full, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            sizes.append(len(zstandard.ZstdCompressor(level=store.ZSTD_LEVEL, dict_data=d).compress(new)))
        out[kind] = statistics.mean(sizes)
    return out


# --- generation -------------------------------------------------------------------------------------------------


def portal_findings(rules: list[str], i: int) -> list[tuple[str, str, str, str]]:
    v4, v6 = f"198.51.100.{i % 250 + 1}", f"2001:db8:{i // 65536:x}:{i % 65536:x}::10"
    rows = []
    for r in rules:
        level = "required" if r.startswith("VN-") else "info" if r in ("VN-NAMING", "BP-OCSP", "BP-CAA") else \
            "recommended"
        subjects = (v4, v6) if r.startswith(("VN-TLS", "BP-TLS", "VN-HTTPS", "BP-HSTS")) else \
            (f"agency{i}.gov.vn.",) if "DNS" in r else ("",)
        rows += [(r, s, "info" if level == "info" else "pass", level) for s in subjects]
    return rows


def generate(engine, portals: int, days: int, change_days: float, sizes: dict[str, float], seed: int) -> dict:
    """Bulk rows, the way store.record would have written them for these scans. Returns counts."""
    from netready.monitor.metrics import rule_lines
    from netready.rules import catalogue

    rng = random.Random(seed)
    rules = list(catalogue())
    required = [r for r in rules if r.startswith("VN-") and r != "VN-NAMING"]
    counts = {"scans": 0, "runs": 0, "states": 0, "finding_sets": 0, "findings": 0, "evidence": 0,
              "evidence_bytes": 0}
    ids = {"run": 0, "state": 0, "set": 0, "evidence": 0}
    crash_states = []
    crash_info: dict[int, tuple] = {}  # state id -> (status, score, failed, error, finding set, rows)
    buf: dict[str, list[dict]] = {"organisations": [], "portals": [], "finding_sets": [], "findings": [],
                                  "states": [], "evidence": [], "runs": [], "latest": []}
    tables = {name: mdb.Base.metadata.tables[name] for name in buf}

    copy = engine.dialect.name == "postgresql"

    def flush() -> None:  # every table, parents first (foreign keys)
        if copy:  # PostgreSQL's COPY: a bulk load, as a DBA would restore one (INSERT ... VALUES is 10x slower)
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cur:
                    for name in ("organisations", "finding_sets", "findings", "states", "evidence", "portals",
                                 "runs", "latest"):
                        if buf[name]:
                            cols = list(buf[name][0])
                            with cur.copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as cp:
                                for row in buf[name]:
                                    cp.write_row([row[c] for c in cols])
                            buf[name].clear()
                raw.commit()
            finally:
                raw.close()
            return
        with engine.begin() as conn:
            for name in ("organisations", "finding_sets", "findings", "states", "evidence", "portals", "runs",
                         "latest"):
                if buf[name]:
                    conn.execute(insert(tables[name]), buf[name])
                    buf[name].clear()

    def blob(kind: str) -> bytes:
        size = max(16, int(rng.gauss(sizes[kind], sizes[kind] * 0.15)))
        counts["evidence_bytes"] += size
        return os.urandom(size)

    orgs = [f"Tỉnh {k}" for k in range(63)] + [f"Bộ {k}" for k in range(37)]
    buf["organisations"] = [{"id": k + 1, "name": n, "created_at": T_START} for k, n in enumerate(orgs)]
    for n in range(3):  # crashes share a few states (same error text)
        ids["state"] += 1
        crash_states.append(ids["state"])
        crash_info[ids["state"]] = ("crashed", None, "", f"check crashed: RuntimeError: generated {n}", None, [])
        buf["states"].append({"id": ids["state"], "sha256": hashlib.sha256(f"crash{n}".encode()).hexdigest(),
                              "status": "crashed", "score": None, "failed_required": "", "error_required": "",
                              "finding_set_id": None, "error": f"check crashed: RuntimeError: generated {n}"})
    def one_portal(p: int) -> None:
        base = portal_findings(rules, p)
        renew_every = 60 if rng.random() < 0.6 else 180
        # Event days: renewals, verdict changes, crashes (each crash lasts one scan).
        events: dict[int, str] = {}
        for d in range(rng.randint(1, renew_every), days, renew_every):
            events[d] = "renewal"
        d = 0
        while True:
            d += max(1, int(rng.expovariate(1 / change_days)))
            if d >= days:
                break
            events[d] = "change"
        for d in range(1, days):
            if rng.random() < 0.002:
                events[d] = "crash"
        failing: set[str] = set()
        state_id = set_id = None
        evidence_id = depth = None
        run: dict | None = None
        last_runs: list[int] = []

        seen_states: dict[frozenset[str], tuple[int, int]] = {}  # content-addressed, as store.record does
        state_info: dict[int, tuple] = dict(crash_info)  # what the latest row copies from a state

        def new_state() -> None:
            nonlocal state_id, set_id
            if frozenset(failing) in seen_states:  # back to verdicts this portal had before: the same rows
                set_id, state_id = seen_states[frozenset(failing)]
                return
            rows = [(r, s, "fail" if r in failing and v == "pass" else v, lv) for r, s, v, lv in base]
            ids["set"] += 1
            set_id = ids["set"]
            buf["finding_sets"].append({"id": set_id, "sha256": hashlib.sha256(f"s{set_id}".encode()).hexdigest(),
                                        "count": len(rows)})
            for pos, (r, s, v, lv) in enumerate(rows):
                buf["findings"].append({"set_id": set_id, "pos": pos, "rule": r, "subject": s, "verdict": v,
                                        "level": lv})
            ids["state"] += 1
            state_id = ids["state"]
            buf["states"].append({"id": state_id, "sha256": hashlib.sha256(f"t{state_id}".encode()).hexdigest(),
                                  "status": "not-compliant" if failing else "compliant",
                                  "score": 100.0 - 5 * len(failing), "failed_required": " ".join(sorted(failing)),
                                  "error_required": "", "finding_set_id": set_id, "error": None})
            counts["states"] += 1
            counts["finding_sets"] += 1
            counts["findings"] += len(rows)
            seen_states[frozenset(failing)] = (set_id, state_id)
            state_info[state_id] = (buf["states"][-1]["status"], buf["states"][-1]["score"],
                                    buf["states"][-1]["failed_required"], None, set_id, rows)

        def new_evidence(kind: str) -> None:
            nonlocal evidence_id, depth
            full = depth is None or depth >= store.EVIDENCE_CHAIN
            ids["evidence"] += 1
            buf["evidence"].append({"id": ids["evidence"], "sha256": hashlib.sha256(f"e{ids['evidence']}".encode())
                                    .hexdigest(), "raw_size": int(sizes["raw"]),
                                    "codec": "zstd" if full else "zstd-delta",
                                    "base_id": None if full else evidence_id, "depth": 0 if full else depth + 1,
                                    "data": blob("full" if full else kind)})
            evidence_id, depth = ids["evidence"], 0 if full else depth + 1
            counts["evidence"] += 1

        def start_run(day: int, state: int, evidence: int | None, changes: list[str]) -> None:
            nonlocal run
            ids["run"] += 1
            at = T_START + day * DAY + 7200 + p % 3600
            run = {"id": ids["run"], "portal_id": p, "view": mdb.VIEW_LOCAL, "state_id": state,
                   "evidence_id": evidence, "first_at": at, "last_at": at, "scans": 1,
                   "cert_expires": at + 50 * DAY, "cert_lifetime_s": renew_every * DAY,
                   "rrsig_expires": at + 20 * DAY, "reachable": True, "vantages": "",
                   "changes": json.dumps(changes, ensure_ascii=False)}
            buf["runs"].append(run)
            last_runs.append(ids["run"])
            counts["runs"] += 1

        for d in [d for d, k in events.items() if k == "crash"]:
            if d + 1 < days and d + 1 not in events:
                events[d + 1] = "back"  # a crash is one scan; the next one sees the portal as before
        new_state()
        new_evidence("full")
        start_run(0, state_id, evidence_id, ["first scan"])
        day = 0
        for d in sorted(events) + [days]:
            # the scans between events extend the current run
            if d - 1 > day:
                run["last_at"] = T_START + (d - 1) * DAY + 7200 + p % 3600
                run["scans"] += d - 1 - day
            if d >= days:
                break
            kind = events[d]
            status_now = "not-compliant" if failing else "compliant"
            if kind == "crash":
                start_run(d, rng.choice(crash_states), None, [f"status {status_now} -> crashed"])
            elif kind == "back":
                start_run(d, state_id, evidence_id, [f"status crashed -> {status_now}"])
            else:
                words = ["evidence changed, verdicts the same"]
                if kind == "change":
                    rule = rng.choice(required)
                    failing.symmetric_difference_update({rule})
                    new_state()
                    after = "not-compliant" if failing else "compliant"
                    words = ([f"status {status_now} -> {after}"] if after != status_now else []) + [
                        f"{rule}@198.51.100.{p % 250 + 1} {'pass -> fail' if rule in failing else 'fail -> pass'}"]
                new_evidence(kind)
                start_run(d, state_id, evidence_id, words)
            day = d
        counts["scans"] += days
        buf["portals"].append({"id": p, "name": f"dichvucong.agency{p}.gov.vn", "display_name":
                               f"dichvucong.agency{p}.gov.vn", "org_id": p % len(orgs) + 1, "every_s": DAY,
                               "profile": "circular32", "vantages": "", "next_due": T_START + days * DAY,
                               "added_at": T_START})
        # The portal's latest scan, as store.record keeps it (db.Latest).
        status, score, failed, error, last_set, rows = state_info[run["state_id"]]
        buf["latest"].append({
            "portal_id": p, "run_id": run["id"], "prev_run_id": last_runs[-2] if len(last_runs) > 1 else None,
            "view": run["view"], "state_id": run["state_id"], "finding_set_id": last_set,
            "evidence_id": run["evidence_id"], "first_at": run["first_at"], "last_at": run["last_at"],
            "scans": run["scans"], "status": status, "score": score, "failed_required": failed, "error": error,
            "cert_expires": run["cert_expires"], "cert_lifetime_s": run["cert_lifetime_s"],
            "rrsig_expires": run["rrsig_expires"], "reachable": run["reachable"], "changes": run["changes"],
            "rule_lines": rule_lines(rows)})

    for p in range(1, portals + 1):
        one_portal(p)
        if sum(len(v) for v in buf.values()) > 5 * CHUNK:
            flush()
    flush()
    return counts


# --- measuring ----------------------------------------------------------------------------------------------------


def server_cpu(pg) -> float:
    """CPU seconds used so far by the PostgreSQL server's processes (0 for SQLite: it runs in this process)."""
    if pg is None:
        return 0.0
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pg.proc.pid or int(entry) == pg.proc.pid:  # ppid is the server (or the server)
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def best_of(fn, n: int = 5, pg=None) -> tuple[float, float, float, float]:
    """(wall, CPU of this process, CPU of the PostgreSQL server, 1-minute load average) of the call with the best
    wall time over n calls. On a busy machine wall time is mostly waiting for a core; the CPU times are the work
    itself, and the load average says how busy the machine was."""
    best = None
    for _ in range(n):
        t0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu(pg)
        fn()
        got = (time.perf_counter() - t0, time.process_time() - c0, server_cpu(pg) - s0, os.getloadavg()[0])
        if best is None or got[0] < best[0]:
            best = got
    return best


def change_some(engine, portals: int, share: float, at: int, seed: int) -> int:
    """Real scans (store.record) of a share of the portals in which one required rule turns: new finding sets,
    states, evidence and runs, as a day of real monitoring brings. Returns how many."""
    from netready.judge import target_summary
    from netready.model import Finding, Target
    from netready.rules import catalogue

    rules = list(catalogue())
    rng = random.Random(seed)
    chosen = rng.sample(range(1, portals + 1), max(1, int(portals * share)))
    with engine.begin() as conn:  # the generated blobs are random bytes: no base for a real delta
        conn.execute(update(mdb.Latest).where(mdb.Latest.portal_id.in_(chosen)).values(evidence_id=None))
    for p in chosen:
        name = f"dichvucong.agency{p}.gov.vn"
        flip = rng.choice([r for r in rules if r.startswith("VN-HTTPS")] or rules)
        findings = [Finding(rule_id=r, target=name, verdict="fail" if r == flip and v == "pass" else v, level=lv,
                            message={"en": "generated", "vi": "sinh ra"}, subject=sub or None, evidence=[])
                    for r, sub, v, lv in portal_findings(rules, p)]
        result = store.ScanResult(Target(name=name, ascii_name=name), [], findings, target_summary(findings))
        with Session(engine) as s, s.begin():
            store.record(s, store.portal_by_name(s, name), result, at=at)
    return len(chosen)


def measure(engine, portals: int, days: int, pg=None) -> dict[str, tuple[float, float, float, float]]:
    from netready.monitor import commands, metrics

    at = T_START + days * DAY

    def with_session(fn):  # a fresh session per call, as each command and API request has
        def call():
            with Session(engine) as s:
                return fn(s)
        return call

    out: dict[str, tuple[float, float, float, float]] = {}
    rows = with_session(lambda s: store.status(s, at=at))()
    assert len(rows) == portals, len(rows)
    out["status"] = best_of(with_session(lambda s: store.status(s, at=at)), 5, pg)
    out["status_json"] = best_of(lambda: commands.render_status(rows, "json", "en"), 1)
    out["status_table"] = best_of(lambda: commands.render_status(rows, "table", "en"), 1)
    names = [f"dichvucong.agency{k}.gov.vn" for k in random.Random(1).sample(range(1, portals + 1), 20)]
    hist = [best_of(with_session(lambda s, n=n: store.history(s, n)), 3, pg) for n in names]
    out["history_median"] = sorted(hist)[len(hist) // 2]
    out["history_max"] = max(hist)
    out["diff_7d"] = best_of(with_session(lambda s: store.diff(s, at - 7 * DAY, until=at + 1)), 1, pg)
    out["metrics_first"] = best_of(lambda: metrics.render(engine), 1, pg)
    out["metrics"] = best_of(lambda: metrics.render(engine), 3, pg)
    changed = change_some(engine, portals, 0.01, at + 3600, 99)
    out["metrics_changed"] = best_of(lambda: metrics.render(engine), 1, pg)
    out["changed"] = (changed, 0, 0, 0)
    out["metrics_bytes"] = (len(metrics.render(engine)), 0, 0, 0)
    return out


def run_one(kind: str, args, sizes) -> None:
    pg = None
    tmp = Path(tempfile.mkdtemp(prefix="netready-bench-"))
    try:
        if kind == "sqlite":
            url = str(tmp / "bench.db")
        else:
            from monitor.servers import Postgres

            pg = Postgres().start()
            url = pg.create_database("bench")
        engine = mdb.open_db(url)
        t0 = time.perf_counter()
        counts = generate(engine, args.portals, args.days, args.change_days, sizes, args.seed)
        gen_s = time.perf_counter() - t0
        with engine.connect() as conn:  # statistics for the planner, as a DBA would after a bulk load
            if kind == "postgresql":  # COPY gave the ids: move the sequences past them for later real writes
                for table in ("organisations", "portals", "finding_sets", "states", "evidence", "runs"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"(SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
            conn.commit()
        if kind == "sqlite":
            with engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            size = sum(f.stat().st_size for f in tmp.iterdir() if f.name.startswith("bench.db"))
        else:
            size = pg.database_size("bench")
        with engine.connect() as conn:  # the latest table (one row per portal) on its own: it does not grow with days
            latest_size = conn.execute(text(
                "SELECT pg_total_relation_size('latest')" if kind == "postgresql" else
                "SELECT sum(pgsize) FROM dbstat WHERE name = 'latest' OR name LIKE 'sqlite_autoindex_latest%'")
            ).scalar()
        m = measure(engine, args.portals, args.days, pg)
        engine.dispose()
        print(f"\n{kind}: {counts['scans']:,} scans -> {counts['runs']:,} runs, {counts['states']:,} states, "
              f"{counts['finding_sets']:,} finding sets ({counts['findings']:,} findings), {counts['evidence']:,} "
              f"evidence blobs ({counts['evidence_bytes'] / 1e6:.0f} MB); generated in {gen_s:.0f} s")
        print(f"{kind}: database size {size / 1e9:.2f} GB (target <= 2 GB: {'met' if size <= 2e9 else 'NOT met'}), "
              f"of which the latest table {latest_size / 1e6:.1f} MB")

        def fig(key: str) -> str:
            wall, cpu, server, load = m[key]
            where = f", server {server * 1000:.0f}" if pg is not None else ""
            return f"{wall * 1000:.0f} ms (CPU {cpu * 1000:.0f}{where}; load {load:.1f})"

        cores = os.cpu_count()
        print(f"{kind} on {cores} cores, each figure with the 1-minute load average when it was taken:")
        print(f"  status of all {args.portals:,} portals (store.status) {fig('status')}, target <= 1000 ms: "
              f"{'met' if m['status'][0] <= 1 else 'NOT met'}; rendered as JSON {fig('status_json')}, as a table "
              f"{fig('status_table')}")
        print(f"  history NAME median {fig('history_median')}, max of 20 {fig('history_max')}, target <= 100 ms: "
              f"{'met' if m['history_max'][0] <= 0.1 else 'NOT met'}")
        print(f"  diff --since 7d {fig('diff_7d')}")
        print(f"  /metrics ({m['metrics_bytes'][0] / 1e6:.0f} MB of text): first scrape of a process "
              f"{fig('metrics_first')}; next, nothing changed {fig('metrics')}; after {m['changed'][0]:,} portals "
              f"(1 %) got a new finding set {fig('metrics_changed')}")
    finally:
        if pg is not None:
            pg.stop()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portals", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--change-days", type=float, default=60.0, help="mean days between verdict changes per portal")
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--evidence-from", help="a netready JSON report whose first target is the evidence template")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    if args.evidence_from:
        from netready.model import Report

        report = Report.load(args.evidence_from)  # any schema netready reads
        first = report.targets[0].ascii_name
        template = {"schema_version": 1, "target": report.targets[0].to_dict(),
                    "observations": [o.to_dict() for o in report.observations if o.target == first],
                    "findings": [f.to_dict() for f in report.findings if f.target == first],
                    "summary": report.summary["targets"][first]}
    else:
        template = synthetic_report(rng)
    sizes = evidence_sizes(template, rng)
    print(f"portals {args.portals:,}, days {args.days}, one scan a day; certificates renewed every 60 days (60 %) or "
          f"180 days; verdicts change every {args.change_days:g} days on average; 0.2 % of scans crash")
    print(f"evidence ({'from ' + args.evidence_from if args.evidence_from else 'synthetic template'}): "
          f"{sizes['raw'] / 1000:.1f} kB raw, {sizes['full'] / 1000:.2f} kB in full, delta after a renewal "
          f"{sizes['renewal'] / 1000:.2f} kB, after a verdict change {sizes['change'] / 1000:.2f} kB")
    for kind in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
        run_one(kind, args, sizes)


if __name__ == "__main__":
    main()
