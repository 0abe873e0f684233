"""Shared evidence (netready/evidence.py): written once, referenced, read back as the same values."""

from __future__ import annotations

import json

import pytest

from netready.evidence import Interner, Resolver, UnknownReference, table_resolver
from netready.model import SCHEMA_VERSION, Finding, Observation, Report, Target

CHAIN = {"subject": "CN=dichvucong.agency0001.gov.vn", "dns_names": [f"dichvucong.agency{i:04d}.gov.vn"
                                                                      for i in range(1, 101)]}
ROOT_KEYS = [{"key_tag": 31200, "flags": 257, "algorithm": 13, "key_bits": 256, "sep": True}]


def _target_report(n: int) -> Report:
    """n portals behind one certificate, below the same root keys: what a hosting provider's batch looks like."""
    targets, observations, findings = [], [], []
    for i in range(n):
        name = f"dichvucong.agency{i:04d}.gov.vn"
        targets.append(Target(name=name, ascii_name=name, ipv4=["198.51.100.190"], ipv6=["2001:db8:200::190"]))
        for addr in ("198.51.100.190", "2001:db8:200::190"):
            observations.append(Observation(id=f"tls:{name}:{addr}", probe="tls", target=name, subject=addr,
                                            data={"address": addr, "certificate": {"chain": [CHAIN]}}))
        observations.append(Observation(id=f"dnssec:{name}:chain", probe="dnssec", target=name, subject=name,
                                        data={"zones": [{"zone": ".", "dnskeys": ROOT_KEYS}], "qname": name}))
        findings.append(Finding("VN-TLS-CA", name, "pass", "required", {"vi": "hợp lệ", "en": "valid"},
                                subject="198.51.100.190", evidence=[f"tls:{name}:198.51.100.190"]))
    return Report(tool_version="0", started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z",
                  profile="lab", targets=targets, observations=observations, findings=findings,
                  summary={"totals": {"targets": n}})


def _flat(report: Report) -> tuple:
    return ([t.to_dict() for t in report.targets], [o.to_dict() for o in report.observations],
            [f.to_dict() for f in report.findings], report.summary)


def test_a_value_many_targets_carry_is_written_once_and_read_back_as_one_object():
    report = _target_report(50)
    text = report.to_json()
    assert text.count("dichvucong.agency0099.gov.vn") == 1  # the 100-name SAN list: once, not 100 times
    # the root keys: at most inline in the first target (nothing to share yet) and defined once
    assert text.count('"key_tag":31200') <= 2
    back = Report.from_json(text)
    assert _flat(back) == _flat(report)
    chains = {id(o.data["certificate"]["chain"]) for o in back.observations if o.probe == "tls"}
    assert len(chains) == 1  # equal evidence is one object in memory too
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION and data["shared"]
    assert data["results"][0]["findings"][0]["evidence"] == [0]  # the position of the observation
    assert "target" not in data["results"][0]["observations"][0]


def test_a_value_repeated_within_one_target_is_shared():
    report = _target_report(1)  # the same chain on the IPv4 and the IPv6 address
    text = report.to_json()
    assert text.count("dichvucong.agency0050.gov.vn") == 1
    assert _flat(Report.from_json(text)) == _flat(report)


@pytest.mark.parametrize("odd", [
    {"$": 1}, {"$": "x"}, {"$literal": {"$": 2}}, {"$literal": 5}, [{"$": 3}, {"$literal": []}],
    {"$ref": 1, "$": 2}, {"$": 1, "$with": {}}, {"$": 2, "$with": {"x": 1}, "y": 2},
])
def test_data_that_looks_like_a_reference_is_read_back_as_it_was(odd):
    report = _target_report(3)
    for o in report.observations:  # small and large, alone and repeated in every target
        o.data["odd"] = odd
        o.data["big"] = {"list": [odd] * 20}
    back = Report.from_json(report.to_json())
    assert _flat(back) == _flat(report)


def test_a_reference_to_nothing_is_a_clear_error():
    data = json.loads(_target_report(2).to_json())
    data["results"][0]["observations"][0]["data"] = {"$": 99999}
    with pytest.raises(ValueError, match="99999"):
        Report.from_dict(data)
    with pytest.raises(UnknownReference, match="itself"):
        table_resolver({"1": {"$": 1}}).definition(1)


def test_the_interner_remembers_a_bounded_number_of_values():
    interner = Interner(seen_max=200, shared_max=50)
    for owner in range(2000):  # every record has its own large values, and one it shares with the next
        record = {"own": [f"{owner}-{k}" * 8 for k in range(10)], "pair": [f"pair {owner // 2}" * 10]}
        interner.begin(owner, [record])
        interner.encode(record)
        interner.end()
        assert len(interner._seen) <= 200 and len(interner) <= 50
    assert interner.next_id > 900  # each pair value was shared by its second record


def test_a_forgotten_value_is_defined_again_and_both_definitions_resolve():
    interner = Interner(seen_max=4, shared_max=1)
    texts, table = [], {}
    for owner, value in enumerate([CHAIN, CHAIN, ROOT_KEYS * 9, ROOT_KEYS * 9, CHAIN, CHAIN]):
        interner.begin(owner, [value])
        texts.append(interner.encode(value))
        table.update({str(k): json.loads(v) for k, v in interner.end().items()})
    resolver = Resolver(lambda ref: json.loads(json.dumps(table[str(ref)])))
    assert [resolver.resolve(json.loads(t)) for t in texts] == [CHAIN, CHAIN, ROOT_KEYS * 9, ROOT_KEYS * 9,
                                                               CHAIN, CHAIN]
    assert len(table) >= 3  # CHAIN was forgotten after ROOT_KEYS took the only slot, then defined again


def test_an_object_that_differs_in_a_few_members_is_written_as_the_changes():
    """Per-server answers that differ only in their round-trip time (and records that differ in one field)
    are the changes from a shared object of the same shape; the values come back exactly, types included."""
    answers = [{"answered": True, "rcode": "NOERROR", "aa": True, "edns": True, "serial": 2026120701,
                "dnskey_tags": [28455], "soa_signed": True, "rtt_ms": 0.1 * i, "truncated": False, "count": 1}
               for i in range(8)]
    answers[5]["count"] = True  # equal to 1 for Python, not for JSON: must not be taken for the base's 1
    answers[6]["truncated"] = 0
    report = _target_report(1)
    report.observations[0].data["servers"] = answers
    text = report.to_json()
    assert text.count('"$with"') >= 6 and text.count('"dnskey_tags"') == 1
    back = Report.from_json(text)
    got = back.observations[0].data["servers"]
    assert got == answers and [type(a["count"]) for a in got] == [type(a["count"]) for a in answers]
    assert [type(a["truncated"]) for a in got] == [type(a["truncated"]) for a in answers]
    assert _flat(back) == _flat(report)


def test_observations_and_findings_are_never_written_as_changes():
    report = _target_report(30)
    data = json.loads(report.to_json())
    entries = [e for r in data["results"] for e in r["observations"] + r["findings"]]
    assert not any("$with" in e for e in entries)
    assert all("id" in o or set(o) == {"$"} for r in data["results"] for o in r["observations"])


# --- schema 3: a target's own name and zone written as marks ---------------------------------------------------


def _named_report(n: int, extra: str = "") -> Report:
    """n portals whose evidence differs only in their names: ids, subjects, messages, their zone's answers."""
    targets, observations, findings = [], [], []
    for i in range(n):
        name = f"dichvucong.agency{i:04d}.gov.vn"
        zone = f"agency{i:04d}.gov.vn."
        targets.append(Target(name=name, ascii_name=name, ipv4=["198.51.100.190"]))
        chain = {"qname": name + ".", "zones": [{"zone": zone, "ns": [f"ns{k}.{zone}" for k in (1, 2)],
                                                 "reason": f"{zone}: DS 23689 -> DNSKEY, self-signature valid"}]}
        observations.append(Observation(id=f"dnssec:{name}:chain", probe="dnssec", target=name, subject=name,
                                        data={**chain, "note": extra}))
        findings.append(Finding("VN-DNSSEC", name, "pass", "required",
                                {"vi": f"an toàn: chuỗi tin cậy tới {name}", "en": f"secure: chain down to {name}"},
                                subject=name, evidence=[f"dnssec:{name}:chain"]))
    return Report(tool_version="0", started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z",
                  profile="lab", targets=targets, observations=observations, findings=findings,
                  summary={"totals": {"targets": n}})


def test_evidence_that_differs_only_in_the_portal_name_is_stored_once_and_read_back_exactly(monkeypatch):
    report = _named_report(40)
    text = report.to_json()
    assert text.count("DS 23689 -> DNSKEY") == 1 and text.count("secure: chain down to") == 1
    data = json.loads(text)
    assert data["results"][7]["names"] == ["dichvucong.agency0007.gov.vn", "agency0007.gov.vn"]
    assert _flat(Report.from_json(text)) == _flat(report)
    monkeypatch.setattr("netready.evidence.stand_in_names", lambda name: [])  # schema 2's way: no marks
    unmarked = report.to_json()
    assert "names" not in json.loads(unmarked)["results"][7]
    assert len(text) < 0.6 * len(unmarked), (len(text), len(unmarked))


def test_a_portal_whose_evidence_holds_a_mark_is_stored_without_marks_and_read_back_exactly():
    # A server may send U+E000 (private use): that target's entry is written as it is, without "names".
    report = _named_report(3, extra="sent by the server: \ue000 and \ue001")
    data = json.loads(report.to_json())
    assert all("names" not in r for r in data["results"])
    assert _flat(Report.from_json(report.to_json())) == _flat(report)


@pytest.mark.parametrize("name", ["Upper.Gov.VN", "dot.gov.vn.", "a..b", "vn", "xn--dchvcng-o0a4b6c.gov.vn",
                                  'q"uote.gov.vn', "dichvucong.gov.vn"])
def test_names_that_are_not_plain_host_names_round_trip_whatever_is_marked(name):
    from netready.evidence import stand_in_names

    marks = stand_in_names(name)
    assert all(m and "." in m for m in marks) and (not marks or name.startswith(marks[0]))
    target = Target(name=name, ascii_name=name, ipv4=["198.51.100.1"])
    obs = Observation(id=f"dns:{name}:addresses", probe="dns", target=name, subject=name,
                      data={name: [name, name.upper(), f"x.{name}", "gov.vn."]})
    finding = Finding("VN-HTTPS", name, "pass", "required", {"vi": name, "en": name}, subject=name,
                      evidence=[obs.id])
    report = Report(tool_version="0", started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z",
                    profile="lab", targets=[target], observations=[obs], findings=[finding], summary={})
    assert _flat(Report.from_json(report.to_json())) == _flat(report)


_NAMES = ["dichvucong.agency0001.gov.vn", "dichvucong.agency0002.gov.vn", "hanoi.gov.vn", "a.b", "Upper.Gov.VN",
          'q"uote.gov.vn', "x..y.vn"]


def _fragments():
    from hypothesis import strategies as st

    return st.sampled_from([*_NAMES, "agency0001.gov.vn", "agency0002.gov.vn", "gov.vn", ".", "\ue000", "\ue001",
                            "$", "$with", "$literal", "é"]) | st.text(
        st.characters(blacklist_categories=("Cc", "Cf", "Cs")), max_size=6)  # control characters: cleaned on read


def _json_values():
    from hypothesis import strategies as st

    text = st.lists(_fragments(), max_size=4).map("".join)
    leaves = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | text
    return st.recursive(leaves, lambda kids: st.lists(kids, max_size=5) | st.dictionaries(text, kids, max_size=5),
                        max_leaves=25)


def test_any_evidence_with_names_marks_and_lookalike_references_reads_back_exactly():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.tuples(st.sampled_from(_NAMES), _json_values(), _json_values()), min_size=1, max_size=5,
                    unique_by=lambda entry: entry[0]), _json_values())  # a report names each target once
    def round_trip(entries, common):
        targets, observations, findings = [], [], []
        for i, (name, data, extra) in enumerate(entries):
            targets.append(Target(name=name, ascii_name=name))
            for k, value in enumerate((data, common, {"shared": common, "own": extra})):  # repeats across targets
                observations.append(Observation(id=f"p:{name}:{i}:{k}", probe="dns", target=name, subject=name,
                                                data={"v": value}))
            findings.append(Finding("VN-HTTPS", name, "pass", "required", {"vi": str(extra)[:50], "en": name},
                                    subject=name, evidence=[f"p:{name}:{i}:0"]))
        report = Report(tool_version="0", started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z",
                        profile="lab", targets=targets, observations=observations, findings=findings, summary={})
        assert _flat(Report.from_json(report.to_json())) == _flat(report)

    round_trip()
