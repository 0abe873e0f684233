"""`netready serve`: the JSON API with tokens per organisation, its OpenAPI schema, and /metrics open on loopback
only unless a token is configured; scraped by a real Prometheus server started here."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
from sqlalchemy.orm import Session

from netready.lab import plan
from netready.monitor import store
from netready.monitor.db import open_db

from .servers import Prometheus, free_port, stop_pid, wait_port
from .synth import T0, result

NETREADY = str(Path(sys.executable).parent / "netready")
A, B = "dichvucong.a.gov.vn", "dichvucong.b.gov.vn"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, token: str | None = None, data: dict | None = None) -> tuple[int, str, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, headers=headers)
    try:
        with OPENER.open(req, timeout=20) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def _samples(text: str) -> dict[tuple[str, str, str | None, str | None], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(x.name, x.labels["portal"], x.labels.get("rule"), x.labels.get("address")): x.value
            for family in text_string_to_metric_families(text) for x in family.samples}


def cli(*args: str, db: str) -> str:
    r = subprocess.run([NETREADY, *args, "--db", db], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture(scope="module")
def service(lab, tmp_path_factory):
    """A monitor database with two organisations' portals scanned twice, and `netready serve` twice on it: on
    loopback, and on the lab's host-side address (a non-loopback client; never on every address of the machine)."""
    db = str(tmp_path_factory.mktemp("serve") / "monitor.db")
    engine = open_db(db)
    with Session(engine) as s, s.begin():
        store.add_portals(s, [A], "Tỉnh A")
        store.add_portals(s, [B], "Bộ B")
    for day, verdicts in ((0, {}), (1, {("VN-HTTPS", "2001:db8:200::129"): "fail"})):
        with Session(engine) as s, s.begin():
            for name in (A, B):
                at = T0 + timedelta(days=day)
                res = result(name, at=at, verdicts=verdicts if name == A else {})
                store.record(s, store.portal_by_name(s, name), res, at=int(at.timestamp()))
    engine.dispose()
    port, lab_port = free_port(), free_port(plan.HOST4)
    procs = [subprocess.Popen([NETREADY, "serve", "--listen", f"{host}:{p}", "--db", db], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for host, p in (("127.0.0.1", port),
                                                                                  (plan.HOST4, lab_port))]
    try:
        wait_port("127.0.0.1", port, 30, procs[0])
        wait_port(plan.HOST4, lab_port, 30, procs[1])
        yield {"db": db, "port": port, "local": f"http://127.0.0.1:{port}", "remote": f"http://{plan.HOST4}:{lab_port}"}
    finally:
        for proc in procs:
            stop_pid(proc)


def test_metrics_are_open_on_loopback_and_need_a_token_elsewhere_once_one_exists(service):
    local, remote = service["local"], service["remote"]
    status, text, headers = get(f"{local}/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    got = _samples(text)
    assert got[("netready_compliant", A, None, None)] == 0.0
    assert got[("netready_compliant", B, None, None)] == 1.0
    assert got[("netready_rule_pass", A, "VN-HTTPS", "2001:db8:200::129")] == 0.0
    assert got[("netready_score", B, None, None)] == 100.0
    for gauge in ("netready_cert_expiry_days", "netready_rrsig_expiry_days", "netready_last_scan_timestamp_seconds"):
        assert (gauge, B, None, None) in got
    assert {k[0] for k in got if k[1] == A} >= {"netready_compliant", "netready_rule_pass"}
    # From a non-loopback address, with no token in the database: refused.
    status, text, _h = get(f"{remote}/metrics")
    assert status == 403 and "open only to loopback" in text


def test_api_needs_a_token_and_a_read_token_sees_only_its_organisation(service):
    local, db = service["local"], service["db"]
    assert get(f"{local}/api/v1/portals")[0] == 401
    assert get(f"{local}/api/v1/portals", "nr_bad_token")[0] == 401
    token_a = cli("monitor", "token", "--org", "Tỉnh A", db=db)
    admin = cli("monitor", "token", "--admin", db=db)
    status, text, _h = get(f"{local}/api/v1/portals", token_a)
    assert status == 200
    rows = json.loads(text)
    assert [r["portal"] for r in rows] == [A]
    assert rows[0]["status"] == "not-compliant" and rows[0]["failed_required"] == ["VN-HTTPS"]
    assert rows[0]["changes"] == ["status compliant -> not-compliant", "VN-HTTPS@2001:db8:200::129 pass -> fail"]
    assert get(f"{local}/api/v1/portals/{B}", token_a)[0] == 404  # not "forbidden": its existence is not told
    assert get(f"{local}/api/v1/portals?org=" + quote("Bộ B"), token_a)[0] == 404
    assert [o["name"] for o in json.loads(get(f"{local}/api/v1/organisations", token_a)[1])] == ["Tỉnh A"]
    assert sorted(r["portal"] for r in json.loads(get(f"{local}/api/v1/portals", admin)[1])) == [A, B]

    hist = json.loads(get(f"{local}/api/v1/portals/{A}/history", token_a)[1])
    assert [c["to"] for c in hist["changes"]] == ["not-compliant", "fail"]
    scans = json.loads(get(f"{local}/api/v1/portals/{A}/scans", token_a)[1])
    assert [s["status"] for s in scans] == ["not-compliant", "compliant"]
    findings = json.loads(get(f"{local}/api/v1/scans/{scans[0]['id']}/findings", token_a)[1])
    https6 = next(f for f in findings if f["rule"] == "VN-HTTPS" and f["subject"] == "2001:db8:200::129")
    assert https6["verdict"] == "fail" and https6["message"]["vi"].startswith("VN-HTTPS fail lúc")
    report = json.loads(get(f"{local}/api/v1/scans/{scans[0]['id']}/report", token_a)[1])
    assert report["target"]["name"] == A and len(report["observations"]) == 3
    b_scan = json.loads(get(f"{local}/api/v1/portals/{B}/scans", admin)[1])[0]["id"]
    assert get(f"{local}/api/v1/scans/{b_scan}", token_a)[0] == 404
    changes = json.loads(get(f"{local}/api/v1/changes?since=5000d", token_a)[1])
    assert [p["portal"] for p in changes["portals"]] == [A]

    # Adding portals needs an admin token.
    body = {"names": ["dichvucong.c.gov.vn"], "org": "Tỉnh A"}
    assert get(f"{local}/api/v1/portals", token_a, body)[0] == 403
    status, text, _h = get(f"{local}/api/v1/portals", admin, body)
    assert status == 201 and json.loads(text) == {"added": ["dichvucong.c.gov.vn"], "updated": []}
    status, text, _h = get(f"{local}/api/v1/portals", admin, {"names": ["x.gov.vn"], "org": "A", "every": "often"})
    assert status == 422 and "bad duration" in text


def test_every_response_is_documented_and_answers_match_the_schema(service):
    local, db = service["local"], service["db"]
    status, text, _h = get(f"{local}/api/v1/openapi.json")
    assert status == 200
    spec = json.loads(text)
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = op["responses"].get("200") or op["responses"].get("201")
            assert ok and ok.get("content"), (method, path)
            if path.startswith("/api/v1/"):
                assert "401" in op["responses"], (method, path)
    admin = cli("monitor", "token", "--admin", db=db)

    def check(path: str, ref: dict) -> None:
        schema = {**ref, "components": spec["components"]}
        body = json.loads(get(f"{local}{path}", admin)[1])
        jsonschema.validate(body, schema)

    ops = spec["paths"]
    check("/api/v1/portals", ops["/api/v1/portals"]["get"]["responses"]["200"]["content"]["application/json"]
          ["schema"])
    check(f"/api/v1/portals/{A}/history", ops["/api/v1/portals/{name}/history"]["get"]["responses"]["200"]
          ["content"]["application/json"]["schema"])
    check("/api/v1/changes?since=5000d", ops["/api/v1/changes"]["get"]["responses"]["200"]["content"]
          ["application/json"]["schema"])


def test_prometheus_scrapes_the_metrics(service):
    """A real Prometheus (Debian's package) with a scrape config for netready serve."""
    port = service["port"]
    prom = Prometheus(targets=[f"127.0.0.1:{port}"]).start()
    try:
        deadline = time.monotonic() + 60
        result_ = []
        while time.monotonic() < deadline:
            result_ = prom.api("/api/v1/query?query=netready_compliant")["data"]["result"]
            if len(result_) >= 2:
                break
            time.sleep(0.5)
        values = {r["metric"]["portal"]: r["value"][1] for r in result_}
        assert values == {A: "0", B: "1"}
        up = prom.api("/api/v1/query?query=up")["data"]["result"]
        assert [r["value"][1] for r in up] == ["1"]
        rule = prom.api('/api/v1/query?query=netready_rule_pass{rule="VN-HTTPS",address="2001:db8:200::129"}')
        assert {r["metric"]["portal"]: r["value"][1] for r in rule["data"]["result"]} == {A: "0", B: "1"}
    finally:
        prom.stop()


def test_metrics_from_another_host_with_a_token(service):
    remote, db = service["remote"], service["db"]
    metrics_token = cli("monitor", "token", "--metrics", db=db)
    token_b = cli("monitor", "token", "--org", "Bộ B", db=db)
    assert get(f"{remote}/metrics")[0] == 401  # a token exists now: it is needed from here
    assert get(f"{remote}/metrics", "nr_abc_wrong")[0] == 401
    status, text, _h = get(f"{remote}/metrics", metrics_token)
    assert status == 200 and {k[1] for k in _samples(text)} == {A, B}
    status, text, _h = get(f"{remote}/metrics", token_b)  # an organisation's token: its portals only
    assert status == 200 and {k[1] for k in _samples(text)} == {B}
    assert get(f"{remote}/api/v1/portals", metrics_token)[0] == 401  # a metrics token is not an API token
