"""The streamed JSON report is byte for byte the rendered one, and journal lines read back whole."""

from __future__ import annotations

from netready.journal import read_journal, result_to_line, write_report_json
from netready.model import Finding, Observation, Report, Target
from netready.render import render
from netready.scan import TargetResult


def _report(with_items: bool = True) -> Report:
    targets = [Target(name="cổng.gov.vn", ascii_name="xn--cng-xla.gov.vn", ipv4=["198.51.100.1"], ipv6=[])]
    observations = [
        Observation(id="tls:x:198.51.100.1", probe="tls", target="xn--cng-xla.gov.vn", subject="198.51.100.1",
                    asked={"port": 443}, data={"nested": {"list": [1, 2.5, None, True], "empty": {}, "e": []},
                                               "text": "Dịch vụ công \"quoted\"\nline"}, error=None),
        Observation(id="dns:x:addresses", probe="dns", target="xn--cng-xla.gov.vn", subject="x", data={},
                    error="timeout after 1 s"),
    ]
    findings = [Finding(rule_id="VN-HTTPS", target="xn--cng-xla.gov.vn", verdict="pass", level="required",
                        message={"en": "HTTPS works", "vi": "HTTPS hoạt động"}, evidence=["tls:x:198.51.100.1"])]
    return Report(tool_version="0", started="2024-01-01T00:00:00Z", finished="2024-01-01T00:00:01Z",
                  profile="lab", settings={"timeout": 1.0, "resolvers": []},
                  targets=targets if with_items else [], observations=observations if with_items else [],
                  findings=findings if with_items else [], summary={"targets": 1, "interrupted": False})


def test_streamed_json_equals_rendered(tmp_path):
    for with_items in (True, False):
        report = _report(with_items)
        path = tmp_path / f"r{with_items}.json"
        write_report_json(report, path)
        assert path.read_text(encoding="utf-8") == render(report, "json")
        assert Report.load(path).to_dict() == report.to_dict()


def test_journal_line_round_trip(tmp_path):
    report = _report()
    result = TargetResult(report.targets[0], report.observations, report.findings)
    path = tmp_path / "j.jsonl"
    path.write_text(result_to_line(result), encoding="utf-8")
    back = read_journal(path)
    assert len(back) == 1
    assert [o.to_dict() for o in back[0].observations] == [o.to_dict() for o in report.observations]
    assert back[0].target == report.targets[0] and back[0].findings == report.findings


def test_report_streamed_from_the_journal(tmp_path):
    """run_check keeps only targets and findings in memory and takes the observations from the journal."""
    from netready.journal import Journal

    full = _report()
    second = Target(name="b.gov.vn", ascii_name="b.gov.vn")
    obs_b = Observation(id="dns:b:addresses", probe="dns", target="b.gov.vn", subject="b.gov.vn", data={"x": [1]})
    full.targets.append(second)
    full.observations.append(obs_b)
    jpath = tmp_path / "run.json.jsonl"
    journal = Journal(jpath, fresh=True)
    # Finished in the other order, plus a torn last line: the report follows the targets' order.
    journal.append(TargetResult(second, [obs_b], []))
    journal.append(TargetResult(full.targets[0], full.observations[:2], full.findings))
    journal.close()
    with jpath.open("a", encoding="utf-8") as fh:
        fh.write('{"kind":"target","input":"b.gov.vn","obs')
    lean = Report(**{**full.__dict__, "observations": []})
    path = tmp_path / "run.json"
    write_report_json(lean, path, journal=jpath)
    assert path.read_text(encoding="utf-8") == render(full, "json")
