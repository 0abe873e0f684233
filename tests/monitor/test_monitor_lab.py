"""`netready monitor` on the lab, as a user runs it: add and import portals, scan with `run --once`, break a lab
portal on purpose (its IPv6 address made unreachable from here), and see status, history, diff and alerts change;
then the scheduler loop scanning by itself until SIGTERM.

The route is added in the network namespace the tests run in and removed right after (run this file in a
namespace of your own: `ip netns exec NAME env NETREADY_LAB_NAME=NAME pytest ...`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from netready.model import Report
from netready.monitor.store import CRASHED

from .servers import free_port

NETREADY = str(Path(sys.executable).parent / "netready")


def nr(*args: str, db: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([NETREADY, *args, "--db", db], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"})


def status(db: str) -> dict[str, dict]:
    r = nr("monitor", "status", "-f", "json", db=db)
    assert r.returncode in (0, 1, 2), r.stderr
    return {row["portal"]: row for row in json.loads(r.stdout)}


def _ip6(*args: str) -> None:
    r = subprocess.run(["ip", "-6", *args], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def hook():
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], got
    server.shutdown()
    server.server_close()


def test_monitor_on_the_lab_sees_a_portal_break_and_recover(lab, tmp_path, hook):
    port, events = hook
    db = str(tmp_path / "monitor.db")
    good, nov6, expired, legacy = (lab.portal(s).name for s in ("good", "nov6", "expiredcert", "legacy"))
    good_v6 = lab.portal("good").ipv6[0]
    config = tmp_path / "alerts.yml"
    config.write_text(f"channels:\n  - {{type: webhook, url: 'http://127.0.0.1:{port}/'}}\n", encoding="utf-8")

    r = nr("monitor", "add", good, nov6, expired, "--org", "Bộ TT&TT", "--lang", "vi", db=db)
    assert r.returncode == 0 and "đã thêm 3 cổng" in r.stderr
    csv = tmp_path / "more.csv"
    csv.write_text(f"name,org,every\n{legacy},Tỉnh B,12h\n", encoding="utf-8")
    assert nr("monitor", "import", str(csv), db=db).returncode == 0
    assert nr("monitor", "add", "x.gov.vn", "--org", "A", "--profile", "nope", db=db).returncode == 3
    assert nr("monitor", "add", "x.gov.vn", db=db).returncode == 3  # --org is required

    # A generous timeout per network operation: the lab shares a busy machine (a headless browser per check too).
    run = ("monitor", "run", "--once", "--lab", "--timeout", "5", "--config", str(config))
    r = nr(*run, db=db)
    assert r.returncode == 1, r.stderr  # as check: some portals are not compliant
    assert "scanned 4 portal(s): 1 compliant, 3 not compliant, 0 undetermined, 0 crashed" in r.stderr
    st = status(db)
    assert st[good]["status"] == "compliant" and st[good]["changes"] == ["first scan"]
    assert st[nov6]["failed_required"] == ["VN-IPV6-DNS", "VN-IPV6-WEB"]
    assert st[expired]["cert_days"] < 0 < st[good]["cert_days"]  # the lab's expired certificate
    assert 0 < st[good]["rrsig_days"] <= 31
    assert st[legacy]["org"] == "Tỉnh B"
    # The expired certificate is an event from the first scan on (within 14 days of expiry: long past it);
    # nothing turned from pass to fail yet (a first scan is no turn).
    assert [(e["event"], e["kind"], e["portal"]) for e in events] == [("open", "cert-expiry", expired)]
    assert events[0]["detail"]["days"] < 0
    r = nr(*run, db=db)
    assert r.returncode == 1
    assert len(events) == 1  # once per event, not every scan
    r = nr("monitor", "diff", "--since", "1h", "-f", "json", db=db)
    assert {p["portal"]: p["from"] for p in json.loads(r.stdout)["portals"]} == dict.fromkeys(st)  # all new
    mark = time.time()
    assert all(row["changes"] == [] and row["scans"] == 2 for row in status(db).values())

    # Break the good portal on purpose: its IPv6 address becomes unreachable from here.
    _ip6("route", "add", "unreachable", f"{good_v6}/128")
    try:
        assert nr(*run, db=db).returncode == 1
    finally:
        _ip6("route", "del", "unreachable", f"{good_v6}/128")
    since = f"{int(time.time() - mark) + 1}s"
    d = json.loads(nr("monitor", "diff", "--since", since, "-f", "json", db=db).stdout)
    assert [(p["portal"], p["from"], p["to"]) for p in d["portals"]] == [(good, "compliant", "not-compliant")]
    assert {"rule": "VN-HTTPS", "subject": good_v6, "from": "pass", "to": "fail"} in d["portals"][0]["changes"]
    assert d["totals"]["rules_newly_failing"]["VN-HTTPS"] == 1
    row = status(db)[good]
    assert row["status"] == "not-compliant"
    assert "VN-HTTPS" in row["failed_required"] and "VN-IPV6-WEB" in row["failed_required"]
    assert "status compliant -> not-compliant" in row["changes"]
    assert f"VN-HTTPS@{good_v6} pass -> fail" in row["changes"]
    opened = {(e["kind"], e["key"]) for e in events if e["event"] == "open" and e["portal"] == good}
    assert ("rule-fail", f"VN-HTTPS {good_v6}") in opened
    assert all(e["message"]["vi"] and e["message"]["en"] for e in events)

    # Fixed again.
    assert nr(*run, db=db).returncode == 1
    assert status(db)[good]["status"] == "compliant"
    resolved = {(e["kind"], e["key"]) for e in events if e["event"] == "resolve"}
    assert ("rule-fail", f"VN-HTTPS {good_v6}") in resolved

    r = nr("monitor", "history", good, "-f", "json", db=db)
    hist = json.loads(r.stdout)
    assert [(p["status"], p["scans"]) for p in hist["runs"]] == [("compliant", 2), ("not-compliant", 1),
                                                                 ("compliant", 1)]
    assert {"kind": "verdict", "rule": "VN-HTTPS", "subject": good_v6, "from": "pass", "to": "fail"}.items() <= \
        next(c for c in hist["changes"] if c["rule"] == "VN-HTTPS" and c["to"] == "fail").items()
    table = nr("monitor", "history", good, "--lang", "vi", db=db).stdout
    assert "không đạt" in table and "VN-HTTPS" in table

    since = f"{int(time.time() - mark) + 1}s"
    d = json.loads(nr("monitor", "diff", "--since", since, "-f", "json", db=db).stdout)
    assert d["portals"] == []  # broken and fixed since then: back where it was
    r = nr("monitor", "diff", "--since", "1h", "--org", "Tỉnh B", "--lang", "vi", db=db)
    assert r.returncode == 0 and "(1 cổng); chuyển sang: không đạt 1" in r.stdout and legacy in r.stdout
    assert good not in r.stdout
    r = nr("monitor", "status", "--org", "Bộ TT&TT", db=db)
    assert r.returncode == 1 and good in r.stdout and legacy not in r.stdout
    assert nr("monitor", "diff", "--since", "soon", db=db).returncode == 3
    assert nr("monitor", "history", "dichvucong.none.gov.vn", db=db).returncode == 3


def _evidence_paths(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _evidence_paths(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _evidence_paths(v, f"{path}[{i}]")
    else:
        yield path, value


def test_an_unchanged_lab_scanned_twice_in_one_process_extends_one_run_per_portal(lab, lab_settings, tmp_path):
    """Two rounds of the same unchanged portals, in one process as the scheduler does: the second round finds
    the signature cache and the batch's shared DNS cuts warm. Every portal must end with one run of two scans and
    no changes: what a check did (how much it took from a cache, which path it shared) is not what it saw."""
    from dataclasses import replace

    from sqlalchemy.orm import Session

    from netready.monitor import store
    from netready.monitor.db import Run, open_db
    from netready.monitor.schedule import run_round

    names = [lab.portal(s).name for s in ("good", "nov6", "expiredcert", "legacy", "lame", "unsigned")]
    engine = open_db(str(tmp_path / "twice.db"))
    try:
        with Session(engine) as s, s.begin():
            store.add_portals(s, names, "Bộ TT&TT")
        settings = replace(lab_settings, timeout=5.0)
        for _ in range(2):
            got = run_round(engine, settings, lab=True, all_portals=True, concurrency=8)
            assert sorted(got.scanned) == sorted(names) and CRASHED not in got.scanned.values()
        with Session(engine) as s:
            unstable = {}
            for name in names:
                runs = store.runs_of(s, store.portal_by_name(s, name))
                if len(runs) == 1:
                    continue
                old, new = (dict(_evidence_paths(store.hashed_content(store.load_evidence(s, r.evidence_id))))
                            for r in runs[-2:])
                unstable[name] = ([r.changes for r in runs[1:]],
                                  sorted((k, old.get(k), new.get(k)) for k in set(old) | set(new)
                                         if old.get(k) != new.get(k))[:5])
            assert unstable == {}
            assert all(row.scans == 2 and row.changes == [] for row in store.status(s))
            assert s.query(Run).count() == len(names)
    finally:
        engine.dispose()


def test_the_scheduler_scans_when_due_until_sigterm(lab, tmp_path):
    db = str(tmp_path / "loop.db")
    good = lab.portal("good").name
    assert nr("monitor", "add", good, "--org", "Bộ TT&TT", "--every", "3s", db=db).returncode == 0
    proc = subprocess.Popen([NETREADY, "monitor", "run", "--lab", "--timeout", "5", "--db", db], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        scans = 0
        while time.monotonic() < deadline:
            rows = status(db)
            scans = rows[good]["scans"] if rows[good]["status"] else 0
            if scans >= 3:
                break
            time.sleep(1)
        assert scans >= 3  # scanned again every 3 s, by itself
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "monitor running" in err and "scanned 1 portal(s): 1 compliant" in err


def test_the_ipv6_only_check_says_since_when_from_the_monitor(lab, tmp_path):
    """`monitor run` hands its own database to the IPv6-only check as history, and `check --history monitor:DB`
    reads it: a host of v4deps that fails over IPv6 only was first seen at the monitor's first scan of it."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from netready.monitor import store
    from netready.monitor.db import Latest, open_db

    db = str(tmp_path / "v6only.db")
    v4deps = lab.portal("v4deps").name
    assert nr("monitor", "add", v4deps, "--org", "Bộ TT&TT", db=db).returncode == 0
    # Compliant: VN-IPV6-ONLY is a recommended rule (docs/lab.md: it fails on three hosts of v4deps).
    assert nr("monitor", "run", "--once", "--lab", "--timeout", "5", db=db).returncode == 0
    engine = open_db(db)
    try:
        with Session(engine) as s:
            latest = s.get(Latest, store.portal_by_name(s, v4deps).id)
            first = datetime.fromtimestamp(latest.first_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            hosts = next(o for o in store.load_evidence(s, latest.evidence_id)["observations"]
                         if o["id"].endswith(":hosts"))
    finally:
        engine.dispose()
    assert hosts["data"]["history"] == {"source": "netready monitor", "error": None, "first_seen": {}}

    out = tmp_path / "check.json"
    r = subprocess.run([NETREADY, "check", "--lab", "--timeout", "5", "--history", f"monitor:{db}", "-f", "json",
                        "-o", str(out), v4deps], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    failing = [f for f in Report.load(out).findings if f.rule_id == "VN-IPV6-ONLY" and f.verdict == "fail"]
    assert {f.subject for f in failing} >= {"static.v4deps.gov.vn", "sso.v4deps.gov.vn"}
    for f in failing:
        assert f"first seen {first} (netready monitor)" in f.message["en"], f.message["en"]
        assert f"phát hiện lần đầu {first} (netready monitor)" in f.message["vi"]
