"""Celery workers per vantage point on the lab: a real Redis broker started here, two `netready worker`s in two
vantage namespaces of the lab (nr17a-style names: <lab>a with IPv6, <lab>b without), one round of
`netready monitor run --once --broker`, verdicts merged as `netready merge` does; then a worker's process killed
in the middle of a scan: the portal is scanned again (acks late, rejected on worker lost), none is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netready.lab import lab_name, vantage

from .servers import Redis, stop_pid

NETREADY = str(Path(sys.executable).parent / "netready")


def nr(*args: str, db: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([NETREADY, *args, "--db", db], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def vantages(lab):
    name = lab_name()
    a = vantage.up(f"{name}a", 0, ipv6=True)
    try:
        b = vantage.up(f"{name}b", 1, ipv6=False)
    except Exception:
        vantage.down(a)
        raise
    yield a, b
    vantage.down(b)
    vantage.down(a)


@pytest.fixture(scope="module")
def redis(vantages):
    a, b = vantages
    server = Redis(binds=("127.0.0.1", a.host_side[0], b.host_side[0])).start()
    yield server
    server.stop()


class Worker:
    def __init__(self, vp, name: str, broker: str, log: Path, env: dict | None = None) -> None:
        self.log = log
        self.proc = subprocess.Popen(vp.argv([NETREADY, "worker", "--vantage", name, "--broker", broker, "--lab",
                                              "--concurrency", "1"]),
                                     stdout=open(log, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                     env={**(env or os.environ), "NO_COLOR": "1"})

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 60, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, f"{needle!r} not in the worker log:\n{self.text()}"
            time.sleep(0.05)

    def children(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self) -> None:
        stop_pid(self.proc, signal.SIGTERM, 30)


@pytest.fixture(scope="module")
def workers(vantages, redis, tmp_path_factory):
    a, b = vantages
    logs = tmp_path_factory.mktemp("workers")
    ws = {"vnpt": Worker(a, "vnpt", redis.url(a.host_side[0]), logs / "vnpt.log"),
          "viettel": Worker(b, "viettel", redis.url(b.host_side[0]), logs / "viettel.log")}
    for w in ws.values():
        w.wait_for("ready.")
    yield ws
    for w in ws.values():
        w.stop()


def test_vantage_namespaces_reach_the_lab_one_without_ipv6(lab, vantages):
    a, b = vantages
    web4, web6 = lab.portal("good").ipv4[0], lab.portal("good").ipv6[0]
    probe = ("import socket,sys\nfam=socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
             "s=socket.socket(fam);s.settimeout(3)\ntry:\n s.connect((sys.argv[1],443));print('ok')\n"
             "except OSError as e:\n print(type(e).__name__, e.errno)\n")
    def connect(vp, addr):
        return subprocess.run(vp.argv([sys.executable, "-c", probe, addr]), capture_output=True, text=True,
                              timeout=20).stdout.strip()
    assert connect(a, web4) == "ok" and connect(a, web6) == "ok"
    assert connect(b, web4) == "ok"
    assert connect(b, web6).startswith("OSError 101")  # ENETUNREACH: no IPv6 at all there


def test_one_round_from_two_vantage_points_is_merged(lab, workers, redis, tmp_path):
    db = str(tmp_path / "monitor.db")
    good, v6dead, nov6 = (lab.portal(s).name for s in ("good", "v6dead", "nov6"))
    r = nr("monitor", "add", good, v6dead, nov6, "--org", "Bộ TT&TT", "--vantage", "vnpt", "--vantage", "viettel",
           db=db)
    assert r.returncode == 0, r.stderr
    r = nr("monitor", "run", "--once", "--lab", "--timeout", "5", "--broker", redis.url(), db=db)
    assert r.returncode == 1, r.stderr + workers["vnpt"].text()[-3000:]
    assert "scanned 3 portal(s): 1 compliant, 2 not compliant, 0 undetermined, 0 crashed" in r.stderr
    rows = {row["portal"]: row for row in json.loads(nr("monitor", "status", "-f", "json", db=db).stdout)}
    # The good portal is compliant although viettel has no IPv6: that vantage point is not counted for IPv6.
    assert rows[good]["status"] == "compliant", rows[good]
    assert rows[v6dead]["failed_required"] == ["VN-HTTPS", "VN-IPV6-WEB"]
    assert rows[nov6]["failed_required"] == ["VN-IPV6-DNS", "VN-IPV6-WEB"]
    for w in workers.values():  # each worker scanned each portal
        w.wait_for("succeeded", count=3)
    # The stored evidence is the merged report: observations of both vantage points, merge metadata.
    hist = json.loads(nr("monitor", "history", good, "-f", "json", db=db).stdout)
    assert hist["view"] == "merged" and hist["runs"][0]["vantages"] == ["viettel", "vnpt"]
    from sqlalchemy.orm import Session

    from netready.monitor import store
    from netready.monitor.db import open_db

    engine = open_db(db)
    with Session(engine) as s:
        ev = store.load_evidence(s, hist["runs"][0]["evidence"])
    engine.dispose()
    assert {o["id"].split("/")[0] for o in ev["observations"]} == {"vnpt", "viettel"}
    meta = {m["name"]: m["ipv6"] for m in ev["merge"]["vantage_points"]}
    assert meta == {"vnpt": True, "viettel": False}
    web = next(f for f in ev["findings"] if f["rule_id"] == "VN-IPV6-WEB")
    assert web["verdict"] == "pass" and "not counted, no IPv6 at viettel" in web["message"]["en"]


def test_a_worker_killed_mid_scan_loses_no_portal(lab, workers, redis, tmp_path):
    db = str(tmp_path / "kill.db")
    good = lab.portal("good").name
    assert nr("monitor", "add", good, "--org", "Bộ TT&TT", "--vantage", "vnpt", db=db).returncode == 0
    w = workers["vnpt"]
    before = w.text().count("received")
    run = subprocess.Popen([NETREADY, "monitor", "run", "--once", "--lab", "--timeout", "5", "--broker", redis.url(),
                            "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    w.wait_for("received", count=before + 1)
    pool = w.children()
    assert pool, w.text()
    for pid in pool:  # the process running the scan dies in the middle of it
        os.kill(pid, signal.SIGKILL)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err + w.text()[-3000:]
    log = w.text()
    assert "WorkerLostError" in log and "signal 9" in log, log[-3000:]
    assert log.count("received") >= before + 2  # the same task, delivered again
    rows = json.loads(nr("monitor", "status", "-f", "json", db=db).stdout)
    assert [(r["portal"], r["status"]) for r in rows] == [(good, "compliant")]


def test_a_whole_worker_killed_mid_scan_hands_its_portal_to_the_next_worker(lab, vantages, redis, tmp_path):
    """The worker itself dies (SIGKILL to every process of it): its unacknowledged task comes back after Redis'
    visibility timeout (5 s here) to the worker started after it."""
    a, _b = vantages
    db = str(tmp_path / "vanish.db")
    good = lab.portal("good").name
    assert nr("monitor", "add", good, "--org", "Bộ TT&TT", "--vantage", "fpt", db=db).returncode == 0
    env = {**os.environ, "NETREADY_VISIBILITY_TIMEOUT": "5"}
    first = Worker(a, "fpt", redis.url(a.host_side[0]), tmp_path / "fpt1.log", env)
    first.wait_for("ready.")
    run = subprocess.Popen([NETREADY, "monitor", "run", "--once", "--lab", "--timeout", "5", "--broker", redis.url(),
                            "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    first.wait_for("received")
    for pid in [*first.children(), first.proc.pid]:
        os.kill(pid, signal.SIGKILL)
    first.proc.wait(10)
    second = Worker(a, "fpt", redis.url(a.host_side[0]), tmp_path / "fpt2.log", env)
    try:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err + second.text()[-3000:]
        assert "received" in second.text()
    finally:
        second.stop()
    rows = json.loads(nr("monitor", "status", "-f", "json", db=db).stdout)
    assert [(r["portal"], r["status"]) for r in rows] == [(good, "compliant")]
