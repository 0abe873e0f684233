"""The journal (one line per finished target, shared evidence referenced) and the report streamed from it."""

from __future__ import annotations

import json
import weakref

import pytest

from netready import scan
from netready.journal import Journal, journal_index, read_journal, write_journal_report, write_report_json
from netready.model import Finding, Observation, Report, Target
from netready.profiles import load_profile
from netready.render import render
from netready.scan import TargetResult, build_report, scan_results

SIGS = [{"owner": "gov.vn.", "type": "DNSKEY", "key_tag": 108, "inception": "2026-12-06T23:06:29Z",
         "expiration": "2026-12-21T00:36:29Z", "valid": True}] * 3


def _result(name: str, text: str = "Dịch vụ công \"quoted\"\nline") -> TargetResult:
    target = Target(name=name, ascii_name=name, ipv4=["198.51.100.1"])
    observations = [
        Observation(id=f"tls:{name}:198.51.100.1", probe="tls", target=name, subject="198.51.100.1",
                    asked={"port": 443}, data={"nested": {"list": [1, 2.5, None, True], "empty": {}, "e": []},
                                               "text": text, "sigs": SIGS}),
        Observation(id=f"dns:{name}:addresses", probe="dns", target=name, subject=name, data={"looks": {"$": 1}},
                    error="timeout after 1 s"),
    ]
    findings = [Finding(rule_id="VN-HTTPS", target=name, verdict="pass", level="required",
                        message={"en": "HTTPS works", "vi": "HTTPS hoạt động"}, subject="198.51.100.1",
                        evidence=[observations[0].id, "elsewhere:id"])]
    return TargetResult(target, observations, findings)


def _flat(report: Report) -> tuple:
    return ([t.to_dict() for t in report.targets], [o.to_dict() for o in report.observations],
            [f.to_dict() for f in report.findings])


def _report(results: list[TargetResult]) -> Report:
    from netready.model import ProbeSettings

    return build_report(results, ProbeSettings(), load_profile("lab"), "2026-01-01T00:00:00Z")


def test_in_memory_json_reads_back_unchanged(tmp_path):
    for results in ([_result("xn--cng-xla.gov.vn"), _result("b.gov.vn")], []):
        report = _report(results)
        path = tmp_path / "r.json"
        write_report_json(report, path)
        assert path.read_text(encoding="utf-8") == render(report, "json")
        back = Report.load(path)
        assert _flat(back) == _flat(report) and back.summary == report.summary


def test_report_streamed_from_the_journal_reads_back_as_the_report(tmp_path):
    """Targets finished in another order than the input's, a torn last line: the report follows the input,
    holds every journaled target once, and means what the report built in memory means."""
    results = [_result(f"t{i}.gov.vn") for i in range(4)]
    profile = load_profile("lab")
    jpath = tmp_path / "run.json.jsonl"
    journal = Journal(jpath, fresh=True, profile=profile)
    for r in reversed(results):
        journal.append(r)
    journal.append(results[0])  # twice (a resumed run may do that): the first line wins
    journal.close()
    with jpath.open("a", encoding="utf-8") as fh:
        fh.write('{"kind":"target","input":"t9.gov.vn","shared":{"999":')
    full = _report(results)
    out = tmp_path / "run.json"
    streamed = write_journal_report(out, jpath, [r.target.name for r in results] + ["t9.gov.vn"], full.head(),
                                    profile)
    back = Report.load(out)
    assert _flat(back) == _flat(full)
    assert back.summary["targets"] == full.summary["targets"] and back.summary["totals"] == full.summary["totals"]
    assert streamed.targets == 4 and streamed.summary["totals"] == full.summary["totals"]
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["interrupted"] is False
    assert out.read_text(encoding="utf-8").count('"inception":"2026-12-06T23:06:29Z"') == 1


def test_journal_line_round_trip_and_shared_values_across_lines(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = Journal(path, fresh=True)
    first, second = _result("a.gov.vn"), _result("b.gov.vn")
    journal.append(first)
    journal.append(second)
    journal.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and all(len(line.encode()) < 4000 for line in lines)
    assert '"key_tag":108' in lines[1] and '"key_tag":108' not in lines[2]  # defined once, referenced
    back = read_journal(path)
    assert [_flat(_report([r])) for r in back] == [_flat(_report([first])), _flat(_report([second]))]


def test_a_resumed_journal_continues_the_definitions(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = Journal(path, fresh=True)
    journal.append(_result("a.gov.vn"))
    journal.append(_result("b.gov.vn"))
    journal.close()
    before = journal_index(path).max_id
    resumed = Journal(path, fresh=False, index=journal_index(path))
    resumed.append(_result("c.gov.vn", text="another text, long enough to be shared " * 3))
    resumed.append(_result("d.gov.vn", text="another text, long enough to be shared " * 3))
    resumed.close()
    index = journal_index(path)
    ids = [int(k) for line in path.read_text(encoding="utf-8").splitlines()[1:]
           for k in json.loads(line)["shared"]]
    assert len(ids) == len(set(ids)) and min(i for i in ids if i > before) == before + 1
    assert sorted(index.targets) == ["a.gov.vn", "b.gov.vn", "c.gov.vn", "d.gov.vn"]
    assert [r.target.name for r in read_journal(path)] == ["a.gov.vn", "b.gov.vn", "c.gov.vn", "d.gov.vn"]


def test_lines_judged_under_another_profile_are_judged_again(tmp_path):
    results = [_result("a.gov.vn"), _result("b.gov.vn")]
    jpath = tmp_path / "run.json.jsonl"
    journal = Journal(jpath, fresh=True, profile=load_profile("lab"))
    for r in results:
        journal.append(r)
    journal.close()
    strict = load_profile("strict")
    out = tmp_path / "run.json"
    write_journal_report(out, jpath, ["a.gov.vn", "b.gov.vn"], _report(results).head(), strict)
    back = Report.load(out)
    from netready.judge import judge

    expected = judge(back.targets, back.observations, strict)
    assert [f.to_dict() for f in back.findings] == [f.to_dict() for f in expected]
    assert {f.level for f in back.findings if f.rule_id == "BP-HSTS"} == {"required"}  # strict's level


def test_schema1_journal_lines_are_still_read(tmp_path):
    """A journal written before shared evidence (one plain line per target) resumes and streams."""
    old = _result("a.gov.vn")
    line = {"kind": "target", "input": "a.gov.vn", "target": old.target.to_dict(),
            "observations": [o.to_dict() for o in old.observations],
            "findings": [f.to_dict() for f in old.findings]}
    jpath = tmp_path / "run.json.jsonl"
    jpath.write_text(json.dumps({"kind": "netready-journal", "schema_version": 1}) + "\n" + json.dumps(line) + "\n",
                     encoding="utf-8")
    journal = Journal(jpath, fresh=False, profile=load_profile("lab"))
    new = _result("b.gov.vn")
    journal.append(new)
    journal.close()
    out = tmp_path / "run.json"
    profile = load_profile("lab")
    write_journal_report(out, jpath, ["a.gov.vn", "b.gov.vn"], _report([]).head(), profile)
    back = Report.load(out)
    expected = _report([old, new])
    assert _flat(back)[:2] == _flat(expected)[:2]
    assert back.observations[1].data == {"looks": {"$": 1}}  # plain data in an old line, never a reference
    from netready.judge import judge_target

    # the old line says nothing of its profile: judged again; the new line keeps its findings
    rejudged = judge_target(old.target, old.observations, profile)
    assert [f.to_dict() for f in back.findings] == [f.to_dict() for f in rejudged + expected.findings[1:]]


def test_a_lean_scan_keeps_no_result_once_it_was_handed_on(monkeypatch):
    """keep="none" (what `check -f json -o` uses): after on_result had a result, nothing holds it any more,
    so a batch's memory does not grow with its number of names; keep="all" keeps them all."""
    alive: list[weakref.ref] = []

    class Payload(dict):
        pass

    def fake_check(name, settings, profile, probe_names=()):
        result = _result(name)
        result.observations[0].data["payload"] = payload = Payload(blob="x" * 10_000)
        alive.append(weakref.ref(payload))
        return result

    monkeypatch.setattr(scan, "check_one", fake_check)
    names = [f"n{i}.gov.vn" for i in range(40)]
    handed: list[str] = []
    outcome = scan_results(names, None, None, concurrency=4, keep="none",  # type: ignore[arg-type]
                           on_result=lambda r: handed.append(r.target.name))
    assert sorted(handed) == sorted(names) and outcome.results == [] and outcome.finished == len(names)
    assert len(alive) == len(names) and all(ref() is None for ref in alive)
    alive.clear()
    outcome = scan_results(names, None, None, concurrency=4, keep="all")  # type: ignore[arg-type]
    assert [r.target.name for r in outcome.results] == names and all(ref() is not None for ref in alive)
    with pytest.raises(ValueError, match="keep"):
        scan_results(names, None, None, keep="some")  # type: ignore[arg-type]


def test_lines_encoded_by_several_processes_share_one_journal(tmp_path):
    """Each checking process encodes its own lines (LineEncoder.for_slot): ids never collide, each process
    shares what it saw, and the streamed report reads back as the results."""
    import pickle

    profile = load_profile("lab")
    jpath = tmp_path / "run.json.jsonl"
    journal = Journal(jpath, fresh=True, profile=profile)
    base = journal.encoder()
    slots = [pickle.loads(pickle.dumps(base.for_slot(k, 3))) for k in range(3)]  # as a worker receives it
    results = [_result(f"t{i}.gov.vn") for i in range(9)]
    for i, r in enumerate(results):
        line = slots[i % 3](r)
        assert line.target.name == r.target.name and line.status in ("compliant", "not-compliant", "undetermined")
        journal.append(line)
    journal.close()
    ids = [int(k) for line in jpath.read_text(encoding="utf-8").splitlines()[1:] for k in json.loads(line)["shared"]]
    assert ids and len(ids) == len(set(ids)) and {i % 3 for i in ids} == {0, 1, 2}
    out = tmp_path / "run.json"
    write_journal_report(out, jpath, [r.target.name for r in results], _report(results).head(), profile)
    assert _flat(Report.load(out)) == _flat(_report(results))
