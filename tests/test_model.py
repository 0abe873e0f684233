"""The result model: JSON round trip, schema version, pure re-judging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netready.judge import rejudge, summarize, target_summary
from netready.model import SCHEMA_VERSION, Finding, Observation, Report, Target
from netready.profiles import load_profile


def _report() -> Report:
    target = Target(name="dịchvụcông.gov.vn", ascii_name="xn--dchvcng-o0a4b6c.gov.vn", ipv4=["198.51.100.7"],
                    ipv6=["2001:db8::7"])
    obs = Observation(id="dns:x:addresses", probe="dns", target=target.ascii_name, subject=target.ascii_name,
                      asked={"types": ["A", "AAAA"]}, data={"A": {"records": ["198.51.100.7"]}}, duration_ms=1.5)
    finding = Finding(rule_id="VN-HTTPS", target=target.ascii_name, verdict="fail", level="required",
                      message={"vi": "không trả lời cổng 443", "en": "no answer on port 443"},
                      subject="198.51.100.7", evidence=[obs.id])
    return Report(tool_version="0.1.0", started="2026-11-26T00:00:00.000Z", finished="2026-11-26T00:00:01.000Z",
                  profile="circular32", targets=[target], observations=[obs], findings=[finding],
                  summary=summarize([target], [finding]))


def test_round_trip_keeps_everything_and_unicode():
    report = _report()
    text = report.to_json()
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION
    assert "không trả lời" in text  # Vietnamese stays readable in the JSON, not \u-escaped
    again = Report.from_json(text)
    assert again.to_dict() == report.to_dict()
    assert again.targets[0].addresses == ["198.51.100.7", "2001:db8::7"]


def test_unknown_schema_version_is_refused():
    data = _report().to_dict()
    data["schema_version"] = 999
    with pytest.raises(ValueError, match="schema_version"):
        Report.from_dict(data)


def test_required_error_is_undetermined_never_pass():
    f = [Finding("VN-DNSSEC", "t", "error", "required", {"vi": "", "en": ""}),
         Finding("VN-HTTPS", "t", "pass", "required", {"vi": "", "en": ""})]
    s = target_summary(f)
    assert s["status"] == "undetermined" and not s["compliant"]
    assert s["error_required"] == ["VN-DNSSEC"]
    assert s["scores"]["dnssec"] == 0.0 and s["scores"]["https"] == 100.0


def test_compliance_needs_every_subject_to_pass():
    f = [Finding("VN-TLS12", "t", "pass", "required", {"vi": "", "en": ""}, subject="198.51.100.7"),
         Finding("VN-TLS12", "t", "fail", "required", {"vi": "", "en": ""}, subject="2001:db8::7")]
    s = target_summary(f)
    assert s["status"] == "not-compliant" and s["failed_required"] == ["VN-TLS12"]
    assert s["scores"]["https"] == 0.0  # a rule scores at its worst subject


def test_rejudge_is_pure_and_profile_driven():
    report = _report()
    a = rejudge(report, load_profile("circular32"))
    b = rejudge(Report.from_json(a.to_json()), load_profile("circular32"))
    assert [x.to_dict() for x in a.findings] == [x.to_dict() for x in b.findings]
    strict = rejudge(report, load_profile("strict"))
    levels = {f.rule_id: f.level for f in strict.findings}
    assert levels["BP-HSTS"] == "required" and levels["BP-CAA"] == "info"
    assert {f.rule_id for f in a.findings} >= {"VN-HTTPS", "VN-DNSSEC", "BP-HSTS"}


SCHEMA1_FIXTURE = Path(__file__).parent / "data" / "report-schema1.json"  # written by netready before schema 2


def _schema():
    import jsonschema

    schema = json.loads((Path(__file__).parent.parent / "docs" / "report.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def test_report_matches_the_published_json_schema():
    import jsonschema

    schema = _schema()
    jsonschema.validate(json.loads(_report().to_json()), schema)
    jsonschema.validate(json.loads(SCHEMA1_FIXTURE.read_text(encoding="utf-8")), schema)  # schema 1 still described
    broken = json.loads(_report().to_json())
    broken["results"][0]["findings"][0]["verdict"] = "passed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    mixed = json.loads(_report().to_json()) | {"schema_version": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(mixed, schema)


def test_a_schema1_report_still_loads_rejudges_merges_and_renders(tmp_path):
    """A report written before shared evidence (schema 1, flat lists) reads back with the same meaning: its
    findings are what judging its observations gives, it merges with a schema 2 report, it renders."""
    from netready.merge import merge_files
    from netready.render import render

    old = Report.load(SCHEMA1_FIXTURE)
    raw = json.loads(SCHEMA1_FIXTURE.read_text(encoding="utf-8"))
    assert [t.to_dict() for t in old.targets] == raw["targets"]
    assert [o.to_dict() for o in old.observations] == raw["observations"]
    assert [f.to_dict() for f in old.findings] == raw["findings"] and old.summary == raw["summary"]
    again = rejudge(old, load_profile("lab"))
    verdicts = {(f.target, f.rule_id, f.subject): f.verdict for f in again.findings}
    stored = {(f["target"], f["rule_id"], f["subject"]): f["verdict"] for f in raw["findings"]}
    # Rules added since are judged too, on top. A finding that is now the consequence of a root cause on the
    # same subject (issue #14: no certificate to judge where there is no TLS) is reported as info instead.
    consequences = {(f.target, f.rule_id, f.subject) for f in again.findings if f.caused_by}
    assert {k: verdicts.get(k) for k in stored if k not in consequences} == \
        {k: v for k, v in stored.items() if k not in consequences}
    assert consequences & stored.keys() and all(verdicts[k] == "info" for k in consequences & stored.keys())
    assert again.summary["totals"] == raw["summary"]["totals"]
    new = Report.from_json(old.to_json())  # written again: schema 2, same meaning
    assert json.loads(old.to_json())["schema_version"] == SCHEMA_VERSION == 3
    assert [o.to_dict() for o in new.observations] == raw["observations"]
    (tmp_path / "isp-a.json").write_text(SCHEMA1_FIXTURE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "isp-b.json").write_text(old.to_json(), encoding="utf-8")
    merged = merge_files([str(tmp_path / "isp-a.json"), str(tmp_path / "isp-b.json")], profile="lab")
    assert merged.summary["totals"] == raw["summary"]["totals"]
    for fmt in ("table", "csv", "html", "junit", "json"):
        assert "dichvucong.agency0001.gov.vn" in render(old, fmt)


@pytest.mark.parametrize(
    "data", [[], {"schema_version": 1}, {"schema_version": 2},
             {**json.loads(_report().to_json()), "results": [{"target": {"x": 1}, "observations": [],
                                                                "findings": []}]},
             {**json.loads(_report().to_json()), "results": [{"target": {"name": "a", "ascii_name": "a"},
                                                                "observations": [], "findings": [
                                                                    {"rule_id": "R", "verdict": "pass", "level": "info",
                                                                     "message": {}, "evidence": [3]}]}]}]
)
def test_foreign_json_is_a_clear_value_error(data):
    with pytest.raises(ValueError, match="netready report"):
        Report.from_dict(data)
