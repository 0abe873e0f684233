"""A plan drafted from a real scan of the lab names exactly the failing rules of that scan."""

from __future__ import annotations

from netready.plan import draft_plan, render_plan
from netready.profiles import load_profile
from netready.scan import scan

SCENARIOS = ("good", "nov6", "unsigned", "legacy", "selfsigned")


def test_plan_from_lab_report(lab, lab_settings) -> None:
    names = [lab.portal(s).name for s in SCENARIOS]
    report = scan(names, lab_settings, load_profile("lab"))
    failing = {(f.target, f.rule_id, f.subject) for f in report.findings if f.verdict == "fail"}
    plan = draft_plan("Sở Thông tin và Truyền thông", "outsourced", "outsourced", report, "vi")
    assert plan.gap_keys() == failing
    # the lab's own table of expected verdicts: every required (VN-) rule it expects to fail is a gap
    for scenario in SCENARIOS:
        portal = lab.portal(scenario)
        expected_fail = {rid for rid, v in portal.expected.items() if rid.startswith("VN-")
                         and (v == "fail" or (isinstance(v, dict) and "fail" in v.values()))}
        gap_rules = {g.rule_id for g in plan.gaps if g.target == portal.name}
        assert expected_fail <= gap_rules, (scenario, expected_fail - gap_rules)
    assert not [g for g in plan.gaps if g.target == lab.portal("good").name]
    md = render_plan(plan, "md")
    gaps_md = md.split("## 3.")[1].split("## 4.")[0]
    assert "### " + lab.portal("good").name not in gaps_md
    for target, rule_id, _ in failing:
        assert target in gaps_md and rule_id in gaps_md
