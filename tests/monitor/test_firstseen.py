"""The monitor's database as the "first seen" history of VN-IPV6-ONLY (`--history monitor:DB`), on SQLite and on a
real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from netready.ipv6only_history import HistoryError, load_history
from netready.monitor import firstseen, store

from .synth import T0, result

PORTAL = "dichvucong.a.gov.vn"
HOST = "static.a.gov.vn"


def _iso(day: int) -> str:
    return (T0 + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scan(engine, day: int, verdict: str | None, crashed: bool = False) -> None:
    at = T0 + timedelta(days=day)
    res = (store.crashed_result(result(at=at).target, "check crashed: RuntimeError: x") if crashed else
           result(at=at, verdicts={("VN-IPV6-ONLY", HOST): verdict} if verdict else {}))
    with Session(engine) as s, s.begin():
        store.record(s, store.portal_by_name(s, PORTAL), res, at=int(at.timestamp()))


@pytest.fixture
def source(engine):
    with Session(engine) as s, s.begin():
        store.add_portals(s, [PORTAL], "Tỉnh A", "24h", at=int(T0.timestamp()))
    got = load_history([firstseen.spec(engine)])
    assert got.description == "netready monitor"
    return got


def test_first_seen_is_the_start_of_the_latest_unbroken_series_of_failing_runs(engine, source):
    _scan(engine, 0, "pass")
    assert source.first_seen(PORTAL, HOST) is None  # never failed
    _scan(engine, 1, "fail")
    _scan(engine, 2, "fail")  # the same run, one more scan
    _scan(engine, 3, None, crashed=True)  # judged nothing: neither ends nor starts a series
    _scan(engine, 4, "fail")
    assert source.first_seen(PORTAL, HOST) == _iso(1)
    assert source.first_seen(store.ascii_name(PORTAL.upper()), HOST) == _iso(1)
    _scan(engine, 5, None)  # a scan that did not name the host: it ends the series
    _scan(engine, 6, "fail")
    assert source.first_seen(PORTAL, HOST) == _iso(6)
    _scan(engine, 7, "warn")  # not a failure either
    _scan(engine, 8, "fail")
    assert source.first_seen(PORTAL, HOST) == _iso(8)
    assert source.first_seen(PORTAL, "other.a.gov.vn") is None
    assert source.first_seen("dichvucong.unknown.gov.vn", HOST) is None  # not monitored


def test_a_bad_monitor_history_is_a_clear_error(tmp_path):
    with pytest.raises(HistoryError, match="not found"):
        load_history([f"monitor:{tmp_path / 'none.db'}"])
    with pytest.raises(HistoryError, match="needs a database"):
        load_history(["monitor:"])
    with pytest.raises(HistoryError, match="cannot be combined"):
        load_history([f"monitor:{tmp_path / 'none.db'}", str(tmp_path)])


def test_first_seen_times_are_not_evidence_of_the_server():
    """What the history said is read from the monitor's own runs: the second scan of a failing host knows since
    when, the first does not, and the server did not change. Its verdicts and everything else still count."""
    def hosts(history, transport="2001:db8::1"):
        return {"observations": [{"id": "ipv6only:x:hosts", "data": {"transport": [{"address": transport}],
                                                                      "history": history}}]}

    first = {"source": "netready monitor", "error": None, "first_seen": {}}
    later = {"source": "netready monitor", "error": None, "first_seen": {HOST: _iso(1)}}
    assert store.evidence_hash(hosts(first)) == store.evidence_hash(hosts(later))
    assert store.evidence_hash(hosts(first)) != store.evidence_hash(hosts(first, "2001:db8::2"))
