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
