"""The /metrics text (written directly, for speed) gives exactly the samples prometheus_client's own writer gives
from MonitorCollector; label values are escaped; an organisation sees only its portals."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from netready.monitor import metrics, store

from .synth import T0, result


def _samples(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            value = s.value
            if s.name.endswith("_expiry_days"):
                value = round(value, 1)  # the clock moved between the two renderings
            out[(s.name, tuple(sorted(s.labels.items())))] = value
    return out


def test_fast_writer_matches_prometheus_client(engine):
    odd = 'dichvucong.x.gov.vn'
    with Session(engine) as s, s.begin():
        store.add_portals(s, ["dichvucong.a.gov.vn"], 'Tỉnh "A"\\B')
        store.add_portals(s, [odd], "Bộ B")
        store.add_portals(s, ["dichvucong.never.gov.vn"], "Bộ B")
        for name, verdicts in (("dichvucong.a.gov.vn", {("VN-HTTPS", "2001:db8:200::129"): "fail",
                                                        ("BP-HSTS", "198.51.100.129"): "warn"}), (odd, {})):
            store.record(s, store.portal_by_name(s, name), result(name, verdicts=verdicts),
                         at=int((T0 + timedelta(hours=1)).timestamp()))
    fast = metrics.render(engine).decode()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.MonitorCollector(engine))
    reference = generate_latest(registry).decode()
    assert _samples(fast) == _samples(reference)
    got = _samples(fast)
    a = (("org", 'Tỉnh "A"\\B'), ("portal", "dichvucong.a.gov.vn"))
    assert got[("netready_compliant", a)] == 0.0
    assert got[("netready_rule_pass", tuple(sorted((*a, ("rule", "BP-HSTS"), ("address", "198.51.100.129")))))] == 0.5
    assert got[("netready_rule_pass", tuple(sorted((*a, ("rule", "VN-HTTPS"), ("address", "2001:db8:200::129")))))] \
        == 0.0
    assert ("netready_rule_pass", tuple(sorted((*a, ("rule", "VN-NAMING"), ("address", ""))))) not in got  # info
    assert not any(dict(k[1]).get("portal") == "dichvucong.never.gov.vn" for k in got)  # not scanned: no sample
    only_b = _samples(metrics.render(engine, "Bộ B").decode())
    assert {dict(k[1])["org"] for k in only_b} == {"Bộ B"}
    assert _samples(metrics.render(engine).decode()) == got  # again, from the cached finding sets


def test_a_scrape_renders_again_only_the_portals_whose_latest_scan_changed(engine, monkeypatch):
    """The fast writer keeps what it rendered; writes by another process (another engine here) show in the next
    scrape: a new finding set, an extended run, a first scan, a move to another organisation, a crash. Rule samples
    are read again only for the portals whose finding set or labels changed; every scrape equals the reference."""
    from netready.model import Target
    from netready.monitor.db import open_db

    names = [f"dichvucong.{x}.gov.vn" for x in "abc"]
    writer = open_db(engine.url.render_as_string(hide_password=False), migrate=False)
    reads: list[list[int]] = []
    real = metrics._rule_texts
    monkeypatch.setattr(metrics, "_rule_texts", lambda conn, pids, *a, **k: reads.append(sorted(pids))
                        or real(conn, pids, *a, **k))

    def scan(name: str, hours: int, **kw) -> None:
        with Session(writer) as s, s.begin():
            res = kw.pop("res", None) or result(name, at=T0 + timedelta(hours=hours), **kw)
            store.record(s, store.portal_by_name(s, name), res, at=int((T0 + timedelta(hours=hours)).timestamp()))

    def scrape() -> dict:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(metrics.MonitorCollector(engine))
        fast = _samples(metrics.render(engine).decode())
        assert fast == _samples(generate_latest(registry).decode())
        return fast

    try:
        with Session(writer) as s, s.begin():
            store.add_portals(s, names[:2], "Tỉnh A")
            store.add_portals(s, names[2:], "Bộ B")
        scan(names[0], 1)
        scan(names[1], 1)
        first = scrape()
        assert len(reads) == 1 and len(reads[0]) == 2  # every portal's rule samples, once
        assert scrape() == first and len(reads) == 1  # nothing changed: nothing read again

        scan(names[1], 2)  # the same scan again: its run is extended, same finding set
        got = scrape()
        assert len(reads) == 1
        assert got[("netready_last_scan_timestamp_seconds", (("org", "Tỉnh A"), ("portal", names[1])))] == \
            (T0 + timedelta(hours=2)).timestamp()

        scan(names[0], 3, verdicts={("VN-HTTPS", "2001:db8:200::129"): "fail"})  # a new finding set
        scan(names[2], 3)  # a first scan
        got = scrape()
        assert reads[-1] == [1, 3]
        a = (("org", "Tỉnh A"), ("portal", names[0]))
        assert got[("netready_rule_pass", tuple(sorted((*a, ("rule", "VN-HTTPS"),
                                                        ("address", "2001:db8:200::129")))))] == 0.0

        with Session(writer) as s, s.begin():  # b moves to another organisation: its labels change
            store.add_portals(s, [names[1]], "Bộ B")
        got = scrape()
        assert reads[-1] == [2]
        assert {dict(k[1])["org"] for k in got if dict(k[1])["portal"] == names[1]} == {"Bộ B"}

        scan(names[0], 4, res=store.crashed_result(Target(names[0], names[0]), "check crashed: boom"))
        got = scrape()
        assert not any(k[0] in ("netready_rule_pass", "netready_compliant") and dict(k[1])["portal"] == names[0]
                       for k in got)
        only_b = _samples(metrics.render(engine, "Bộ B").decode())
        assert {dict(k[1])["portal"] for k in only_b} == {names[1], names[2]}
    finally:
        writer.dispose()
