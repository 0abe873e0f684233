"""One round of `monitor run` without the network: a scan that crashes is recorded as crashed and stays due, a
portal with a profile that vanished too, a portal with vantage points and no broker is skipped (exit 2); the
exit code follows check's."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

import netready.scan as scan_mod
from netready.model import ProbeSettings, Target
from netready.monitor import schedule, store


@pytest.fixture
def fake_scan(monkeypatch):
    def make_target(name, settings):
        if name.startswith("crash"):
            raise RuntimeError("boom in the probe")
        return Target(name=name, ascii_name=name, error="name does not resolve: NXDOMAIN"), []

    monkeypatch.setattr(scan_mod, "make_target", make_target)


def test_a_round_records_crashes_and_retries_them(engine, fake_scan, tmp_path):
    profile = tmp_path / "mine.yaml"
    profile.write_text("name: mine\nextends: circular32\n", encoding="utf-8")
    with Session(engine) as s, s.begin():
        store.add_portals(s, ["crash.a.gov.vn", "gone.a.gov.vn"], "A", "24h")
        store.add_portals(s, ["lost-profile.a.gov.vn"], "A", "24h", profile=str(profile))
        store.add_portals(s, ["remote.a.gov.vn"], "A", vantages=["vnpt"])
    profile.unlink()  # the profile file disappears after the portal was added
    seen = []
    result = schedule.run_round(engine, ProbeSettings(timeout=0.1, budget=1), all_portals=True, processes=1,
                                on_result=lambda name, st: seen.append((name, st)))
    assert result.scanned == {"crash.a.gov.vn": "crashed", "gone.a.gov.vn": "undetermined",
                              "lost-profile.a.gov.vn": "crashed"}
    assert sorted(seen) == sorted(result.scanned.items())
    assert "need --broker" in result.skipped["remote.a.gov.vn"]
    assert result.exit_code() == 2
    with Session(engine) as s:
        rows = {r.portal: r for r in store.status(s)}
        assert rows["crash.a.gov.vn"].error.startswith("check crashed: RuntimeError: boom in the probe")
        assert "mine.yaml" in rows["lost-profile.a.gov.vn"].error
        assert rows["gone.a.gov.vn"].reachable is False
        due = {p.name for p in store.due_portals(s, at=store.now() + store.CRASH_RETRY)}
    # Crashed ones are due again at once; the judged one in 24 h; the remote one was never scanned.
    assert due == {"crash.a.gov.vn", "lost-profile.a.gov.vn", "remote.a.gov.vn"}


def test_exit_codes_follow_check():
    r = schedule.RoundResult(scanned={"a": "compliant"})
    assert r.exit_code() == 0
    r.scanned["b"] = "undetermined"
    assert r.exit_code() == 2
    r.scanned["c"] = "not-compliant"
    assert r.exit_code() == 1
