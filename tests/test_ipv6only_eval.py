"""VN-IPV6-ONLY judged from hand-made observations (pure: no network), and the first-seen history source."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from netready.evaluate.ipv6only import ipv6_only
from netready.ipv6only_history import HistoryError, load_history, register_source
from netready.model import Observation, Target

NAME = "dichvucong.x.gov.vn"
LAB = SimpleNamespace(lab=True, threshold=lambda name, default=None: default)
REAL = SimpleNamespace(lab=False, threshold=lambda name, default=None: default)
OK_WALK = {"skipped": None, "records": ["2001:db8::1"], "rcode": "NOERROR", "error": None, "failure": None}


def rec(host: str, **kw) -> dict:
    base = {"host": host, "port": 443, "aaaa": ["2001:db8::1"], "a": ["198.51.100.1"], "aaaa_rcode": "NOERROR",
            "lookup_error": None, "address": "2001:db8::1", "error": None, "stage": None, "via": "proxy"}
    return base | kw


def observations(transport: list[dict], requests: list[dict] | None = None, walks: dict | None = None,
                 page: dict | None = None, links: list | None = None, history: dict | None = None):
    requests = requests if requests is not None else [
        {"url": f"https://{NAME}/", "host": NAME, "port": 443, "kind": "document"}]
    page_data = {"url": f"https://{NAME}/", "mode": "browser", "engine": "HeadlessChrome/1", "state": "loaded",
                 "error": None, "requests": requests, "forms": [], "links": [], "limits": [], "pending": 0,
                 "requests_dropped": 0} | (page or {})
    roles = {f"{r['host']}:443": ["page"] for r in transport}
    for lk in links or []:
        roles[f"{lk['host']}:443"] = ["link"]
    hosts = {"mode": "browser", "static_reason": None, "transport": transport, "roles": roles,
             "resolution": walks if walks is not None else {r["host"]: OK_WALK for r in transport},
             "links": links or [], "limits": [], "history": history or {"source": None, "first_seen": {}}}
    return [Observation(id=f"ipv6only:{NAME}:page:0", probe="ipv6only", target=NAME, subject=NAME, data=page_data),
            Observation(id=f"ipv6only:{NAME}:hosts", probe="ipv6only", target=NAME, subject=NAME, data=hosts,
                        started="2026-03-01T10:00:00.000Z")]


def judge(obs, profile=LAB):
    out = ipv6_only(Target(NAME, NAME), obs, profile)
    json.dumps([o.__dict__ for o in out])
    return [(o.verdict, o.subject) for o in out], out


def test_all_over_ipv6_passes() -> None:
    verdicts, _ = judge(observations([rec(NAME)]))
    assert verdicts == [("pass", NAME)]


def test_documentation_address_fails_outside_the_lab_profile() -> None:
    verdicts, out = judge(observations([rec(NAME)]), REAL)
    assert verdicts == [("fail", NAME)] and "not a global unicast address" in out[0].en


def test_unique_local_answer_fails() -> None:
    verdicts, out = judge(observations([rec(NAME, address="fd00::1")]), LAB)
    assert verdicts == [("fail", NAME)] and "unique-local" in out[0].en


def test_connect_timeouts_only_are_an_error_not_a_fail() -> None:
    bad = rec("cdn.x.vn", address=None, stage="connect", error="[2001:db8::2]:443: timeout after 2 s")
    verdicts, out = judge(observations([rec(NAME), bad], requests=[
        {"url": f"https://{NAME}/", "host": NAME, "port": 443, "kind": "document"},
        {"url": "https://cdn.x.vn/a.js", "host": "cdn.x.vn", "port": 443, "kind": "script"}]))
    assert verdicts == [("error", NAME)] and "timeout" in out[0].en


def test_refused_connection_fails_naming_the_use() -> None:
    bad = rec("cdn.x.vn", address=None, stage="connect", error="[2001:db8::2]:443: Connection refused")
    verdicts, out = judge(observations([rec(NAME), bad], requests=[
        {"url": f"https://{NAME}/", "host": NAME, "port": 443, "kind": "document"},
        {"url": "https://cdn.x.vn/a.js", "host": "cdn.x.vn", "port": 443, "kind": "script",
         "initiator": f"https://{NAME}/main.js"}]))
    assert verdicts == [("fail", "cdn.x.vn")]
    assert "script https://cdn.x.vn/a.js (requested by the script https://dichvucong.x.gov.vn/main.js)" in out[0].en


def test_no_address_at_all_fails_as_such() -> None:
    bad = rec("gone.x.vn", aaaa=[], a=[], aaaa_rcode="NXDOMAIN", address=None, stage="resolve",
              error="no AAAA and no A record (answer NXDOMAIN)")
    verdicts, out = judge(observations([rec(NAME), bad]))
    assert verdicts == [("fail", "gone.x.vn")] and "no address at all (answer NXDOMAIN)" in out[0].en


def test_aaaa_lookup_failure_is_an_error() -> None:
    bad = rec("cdn.x.vn", aaaa=[], address=None, stage="resolve", lookup_error="timeout after 2 s",
              error="AAAA lookup failed: timeout after 2 s")
    verdicts, _ = judge(observations([rec(NAME), bad]))
    assert verdicts == [("error", NAME)]


@pytest.mark.parametrize(("failure", "verdict"), [("no-ipv6-server", "fail"), ("unanswered", "fail"),
                                                  ("timeout", "error"), ("budget", "error")])
def test_resolution_over_ipv6_only(failure, verdict) -> None:
    walks = {NAME: {"skipped": None, "records": [], "rcode": None, "error": "no IPv6 name server ...",
                    "failure": failure}}
    verdicts, _ = judge(observations([rec(NAME)], walks=walks))
    assert verdicts == [(verdict, NAME)]


def test_no_root_hints_means_not_checked() -> None:
    walks = {NAME: {"skipped": "no root hints given"}}
    verdicts, out = judge(observations([rec(NAME)], walks=walks))
    assert verdicts == [("error", NAME)] and "resolution over IPv6 only not checked" in out[0].en


def test_page_that_did_not_finish_is_an_error_even_if_every_host_worked() -> None:
    verdicts, out = judge(observations([rec(NAME)], page={"state": "timeout", "pending": 3}))
    assert verdicts == [("error", NAME)] and "3 requests still open" in out[0].en


def test_fails_also_say_what_could_not_be_checked() -> None:
    bad = rec("cdn.x.vn", aaaa=[], address=None, stage="resolve", error="no AAAA record (IPv4 only: 198.51.100.9)",
              a=["198.51.100.9"])
    verdicts, out = judge(observations([rec(NAME), bad], page={"limits": ["hosts > 48"]}))
    assert verdicts == [("fail", "cdn.x.vn"), ("error", NAME)] and "cap reached: hosts > 48" in out[1].en


def test_ipv4_only_link_is_listed_not_judged() -> None:
    link = rec("pay.x.vn", aaaa=[], address=None, stage="resolve", error="no AAAA", a=["198.51.100.9"], via="link")
    links = [{"href": "https://pay.x.vn/", "host": "pay.x.vn", "port": "443", "purpose": "payment", "text": ""}]
    verdicts, out = judge(observations([rec(NAME), link], links=links))
    assert verdicts == [("pass", NAME)]
    assert "pay.x.vn (payment: not reachable over IPv6)" in out[0].en


def test_first_seen_comes_from_the_history_in_the_observation() -> None:
    bad = rec("cdn.x.vn", aaaa=[], address=None, stage="resolve", error="no AAAA", a=["198.51.100.9"])
    history = {"source": "2 earlier netready run(s)", "first_seen": {"cdn.x.vn": "2026-01-05T08:00:00.000Z"}}
    _, out = judge(observations([rec(NAME), bad], history=history))
    assert "first seen 2026-01-05T08:00:00.000Z (2 earlier netready run(s))" in out[0].en
    assert "phát hiện lần đầu 2026-01-05T08:00:00.000Z" in out[0].vi


def _report(started: str, failing: list[str], targets=(NAME,)) -> dict:
    return {"schema_version": 1, "started": started, "targets": [{"name": t, "ascii_name": t} for t in targets],
            "findings": [{"rule_id": "VN-IPV6-ONLY", "target": NAME, "verdict": "fail", "subject": h}
                         for h in failing]}


def test_history_series_restarts_after_a_run_without_the_failure(tmp_path) -> None:
    runs = [("2026-01-01T00:00:00Z", ["a.vn", "b.vn"]), ("2026-02-01T00:00:00Z", ["a.vn"]),
            ("2026-03-01T00:00:00Z", ["a.vn", "b.vn"])]
    for i, (started, failing) in enumerate(runs):
        (tmp_path / f"r{i}.json").write_text(json.dumps(_report(started, failing)), encoding="utf-8")
    (tmp_path / "other.json").write_text(json.dumps(_report("2026-02-15T00:00:00Z", [], targets=("x.vn",))))
    history = load_history([str(tmp_path)])
    assert history.first_seen(NAME, "a.vn") == "2026-01-01T00:00:00Z"  # failing in every run of this portal
    assert history.first_seen(NAME, "b.vn") == "2026-03-01T00:00:00Z"  # fixed in February, broken again
    assert history.first_seen(NAME, "c.vn") is None
    assert history.first_seen("x.vn", "a.vn") is None


def test_history_errors_and_registered_sources(tmp_path) -> None:
    with pytest.raises(HistoryError, match="not found"):
        load_history([str(tmp_path / "missing")])
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(HistoryError, match="not a netready JSON report"):
        load_history([str(tmp_path / "bad.json")])

    class Monitor:
        description = "monitoring store"

        def __init__(self, where: str) -> None:
            self.where = where

        def first_seen(self, target: str, host: str) -> str | None:
            return "2025-12-01T00:00:00Z"

    register_source("testmonitor", Monitor)
    source = load_history(["testmonitor:/var/lib/x.db"])
    assert source.where == "/var/lib/x.db" and source.first_seen(NAME, "a.vn") == "2025-12-01T00:00:00Z"


def test_profiles_of_browsers_whose_netready_is_gone_are_removed() -> None:
    import os
    import subprocess
    import tempfile

    from netready.probes import browser

    done = subprocess.Popen(["true"])
    done.wait()  # a pid that no longer runs: its netready ended with os._exit or was killed
    gone = tempfile.mkdtemp(prefix=f"{browser.PROFILE_PREFIX}{done.pid}-")
    live = tempfile.mkdtemp(prefix=f"{browser.PROFILE_PREFIX}{os.getppid()}-")
    try:
        browser._remove_stale_profiles()
        assert not os.path.exists(gone) and os.path.exists(live)
    finally:
        os.rmdir(live)
