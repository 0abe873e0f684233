"""VN-IPV6-ONLY in the documents: the plan's Decision 3369 milestones and one task per IPv4-only dependency,
and the IPv6-only contract clause for hosting and CDN providers (no network)."""

from __future__ import annotations

from netready.contract import contract_clauses, render_clauses, select_clauses
from netready.judge import summarize
from netready.model import Finding, Report, Target
from netready.plan import draft_plan, render_plan
from netready.rules import catalogue

A, B = "dichvucong.a.gov.vn", "dichvucong.b.gov.vn"
NEEDS = {"cdn.example.vn": "script https://cdn.example.vn/app.js, font https://cdn.example.vn/f.woff2",
         "sso.example.vn": "form action https://sso.example.vn/login"}


def _reason(host: str, lang: str) -> str:
    if lang == "vi":
        return f"{host}: chỉ có IPv4 — người dùng chỉ có IPv6 không truy cập được, cần cho {NEEDS[host]}; phát hiện"
    return f"{host}: IPv4 only — unreachable for an IPv6-only citizen, needed for {NEEDS[host]}; first seen"


def report() -> Report:
    targets = [Target(A, A, ["198.51.100.20"], ["2001:db8::20"]), Target(B, B, ["198.51.100.21"], ["2001:db8::21"])]
    findings = []
    for t in targets:
        for rid, rule in catalogue().items():
            if rid != "VN-IPV6-ONLY":
                findings.append(Finding(rid, t.ascii_name, "pass", rule.level, {"vi": "đạt", "en": "ok"}))
    for target, host in ((A, "cdn.example.vn"), (B, "cdn.example.vn"), (A, "sso.example.vn")):
        findings.append(Finding("VN-IPV6-ONLY", target, "fail", "required",
                                {"vi": _reason(host, "vi"), "en": _reason(host, "en")}, host, ["obs"]))
    findings.append(Finding("VN-IPV6-ONLY", B, "pass", "required", {"vi": "đạt", "en": "ok"}, B))
    return Report("0.1.0", "2026-11-26T00:00:00.000Z", "2026-11-26T00:00:01.000Z", "ipv6only", targets=targets,
                  findings=findings, summary=summarize(targets, findings))


def test_plan_has_one_task_per_ipv4_only_dependency() -> None:
    plan = draft_plan("Sở KH&CN", "outsourced", "outsourced", report(), "en")
    deps = [t for t in plan.tasks if t.id.startswith("T-V6ONLY-DEP-")]
    assert [t.title for t in deps] == ["Get cdn.example.vn onto IPv6 or replace it (an IPv4-only dependency)",
                                       "Get sso.example.vn onto IPv6 or replace it (an IPv4-only dependency)"]
    cdn, sso = deps
    assert {(g.target, g.subject) for g in cdn.gaps} == {(A, "cdn.example.vn"), (B, "cdn.example.vn")}
    assert f"({A}, {B})" in cdn.prerequisites and NEEDS["cdn.example.vn"] in cdn.prerequisites
    assert cdn.status == sso.status == "todo" and cdn.after == ["T-V6ONLY-PLAN"]
    ids = plan.task_ids()
    assert ids.index("T-V6ONLY-PLAN") + 1 == ids.index("T-V6ONLY-DEP-1")  # right after their model task
    assert cdn.start_week > next(t for t in plan.tasks if t.id == "T-V6ONLY-PLAN").end_week
    md = render_plan(plan, "md")
    gaps = md.split("## 3.")[1].split("## 4.")[0]
    assert "T-V6ONLY-DEP-1" in gaps and "T-V6ONLY-DEP-2" in gaps  # each gap names its own task


def test_plan_shows_the_decision_3369_milestones_in_both_languages() -> None:
    for lang, heading, row in (("vi", "Các mốc của Quyết định 3369/QĐ-BKHCN", "2029–2030 | Chuyển sang chỉ dùng IPv6"),
                               ("en", "Milestones of Decision 3369/QĐ-BKHCN", "2026–2027 | IPv6-only pilots")):
        md = render_plan(draft_plan("X", "idc", "own", None, lang), "md")
        timeline = md.split("## 5.")[1].split("## 6.")[0]
        assert heading in timeline and row in timeline
        assert "3369" in md.split("## 1.")[1].split("## 2.")[0]  # legal basis


def test_plan_without_ipv6_only_failures_has_no_dependency_task() -> None:
    plan = draft_plan("X", "outsourced", "outsourced", None, "vi")
    assert "T-V6ONLY-PLAN" in plan.task_ids()
    assert not [t for t in plan.tasks if t.id.startswith("T-V6ONLY-DEP-")]


def test_contract_has_an_ipv6_only_clause_for_hosting_and_cdn() -> None:
    for scenario in ("outsourced", "idc"):
        assert "WEB-IPV6-ONLY" in {c.id for c in select_clauses(scenario, "web")}
    assert "WEB-IPV6-ONLY" not in {c.id for c in select_clauses("outsourced", "dns")}
    vi = render_clauses(contract_clauses("outsourced", "web", "vi"), "md")
    en = render_clauses(contract_clauses("outsourced", "web", "en"), "md")
    assert "Dùng được trên mạng chỉ có IPv6 (hosting, CDN) [WEB-IPV6-ONLY]" in vi and "3369/QĐ-BKHCN" in vi
    assert "hosting or CDN provider" in en and "VN-IPV6-ONLY" in en
