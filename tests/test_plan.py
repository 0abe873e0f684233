"""Plans: the gap list is exactly the report's failing findings; scenarios give the seed's task lists."""

from __future__ import annotations

import zipfile
from datetime import date

import pytest

from netready.judge import summarize
from netready.model import Finding, Report, Target
from netready.plan import PlanError, draft_plan, render_plan, rules_without_task, t, task_catalogue, write_plan
from netready.rules import catalogue

AGENCY = "Sở Thông tin và Truyền thông tỉnh Gia Lai"
FAILS = {("dichvucong.a.gov.vn", "VN-IPV6-WEB", None), ("dichvucong.a.gov.vn", "BP-HSTS", "198.51.100.20"),
         ("dichvucong.b.gov.vn", "VN-DNSSEC", None)}
ERRORS = {("dichvucong.b.gov.vn", "VN-TLS12", "2001:db8::21")}


def made_report() -> Report:
    """A report built from findings (independent of the lab): two portals, known fails and errors."""
    targets = [Target("dichvucong.a.gov.vn", "dichvucong.a.gov.vn", ["198.51.100.20"], []),
               Target("dichvucong.b.gov.vn", "dichvucong.b.gov.vn", ["198.51.100.21"], ["2001:db8::21"])]
    findings = []
    for target in targets:
        for rid, rule in catalogue().items():
            verdict, subject = "pass", None
            for name, frid, subj in FAILS | ERRORS:
                if name == target.ascii_name and frid == rid:
                    verdict, subject = ("fail" if (name, frid, subj) in FAILS else "error"), subj
            findings.append(Finding(rid, target.ascii_name, verdict, rule.level,
                                    {"vi": f"lý do {rid} — thiếu", "en": f"reason {rid}"}, subject, [f"obs:{rid}"]))
    return Report("0.1.0", "2026-11-26T00:00:00.000Z", "2026-11-26T00:00:01.000Z", "circular32", targets=targets,
                  findings=findings, summary=summarize(targets, findings))


def test_gaps_are_exactly_the_failing_findings() -> None:
    plan = draft_plan(AGENCY, "outsourced", "outsourced", made_report(), "vi")
    assert plan.gap_keys() == FAILS
    assert {(g.target, g.rule_id, g.subject) for g in plan.unverified} == ERRORS
    md = render_plan(plan, "md")
    gap_section = md.split("## 3.")[1].split("## 4.")[0]
    for _, rid, _ in FAILS:
        assert rid in gap_section
    # rules that passed everywhere never appear as gaps
    for rid in ("VN-TLS-CA", "BP-TLS13", "VN-HTTPS"):
        assert rid not in gap_section
    # the error is listed as not verified, never as a gap row
    assert "VN-TLS12" in gap_section and "không được coi là đạt" in gap_section


def test_task_status_follows_the_report() -> None:
    plan = draft_plan(AGENCY, "outsourced", "outsourced", made_report(), "en")
    tasks = {t.id: t for t in plan.tasks}
    assert tasks["T-DNSSEC-DS"].status == "todo"  # VN-DNSSEC fails on b
    assert {g.rule_id for g in tasks["T-TLS-CONFIG"].gaps} == {"BP-HSTS"}
    assert tasks["T-TLS-CERT"].status == "met"
    assert tasks["T-V6-HOSTING"].status == "todo"


def test_no_report_gives_no_invented_gaps() -> None:
    plan = draft_plan(AGENCY, "idc", "own", None, "vi")
    assert plan.gaps == [] and plan.portals == []
    assert all(t.status == "" for t in plan.tasks)
    assert "Chưa có báo cáo đo kiểm" in render_plan(plan, "md")


def test_outsourced_and_idc_follow_the_seed() -> None:
    out = set(draft_plan(AGENCY, "outsourced", "outsourced").task_ids())
    idc = set(draft_plan(AGENCY, "idc", "outsourced").task_ids())
    # 8 a) i: hosting provider + ISP at the hosting site; ii/iii: review the IDC, ask the ISP
    assert "T-V6-HOSTING" in out and "T-V6-HOSTING" not in idc
    assert {"T-V6-IDC", "T-V6-ISP"} <= idc and not {"T-V6-IDC", "T-V6-ISP"} & out
    # both: VNNIC independent addresses/ASN for multi-homing, software vendor, DNS hosting publishes AAAA
    assert {"T-V6-VNNIC", "T-V6-SOFTWARE", "T-V6-AAAA-PROVIDER"} <= out & idc
    # seed 7: HTTPS tasks in every scenario
    assert {"T-HTTPS-PLAN", "T-HTTPS-COST", "T-TLS-CERT", "T-TLS-CONFIG"} <= out & idc
    md_out = render_plan(draft_plan(AGENCY, "outsourced", "outsourced"), "md")
    md_idc = render_plan(draft_plan(AGENCY, "idc", "outsourced"), "md")
    assert "đơn vị cung cấp dịch vụ hosting và ISP tại địa điểm hosting" in md_out
    assert "Rà soát, nâng cấp hạ tầng trung tâm tích hợp dữ liệu" in md_idc
    assert "Rà soát, nâng cấp hạ tầng" not in md_out


def test_dns_outsourced_and_own_follow_the_seed() -> None:
    prov = set(draft_plan(AGENCY, "idc", "outsourced").task_ids())
    own = set(draft_plan(AGENCY, "idc", "own").task_ids())
    # 8 b): outsourced -> DNSSEC in the DNS hosting contract, the provider signs
    assert {"T-DNSSEC-CONTRACT", "T-DNSSEC-PROVIDER-SIGN"} <= prov and not {"T-DNSSEC-PLAN"} & prov
    # own DNS -> DNSSEC plan, upgrade and sign, chain to .vn (DS through the registrar)
    assert {"T-DNSSEC-PLAN", "T-DNSSEC-OWN-SIGN", "T-V6-AAAA-OWN"} <= own and "T-DNSSEC-CONTRACT" not in own
    assert "T-DNSSEC-DS" in prov & own


def test_timeline_respects_prerequisites() -> None:
    plan = draft_plan(AGENCY, "idc", "own")
    by_id = {t.id: t for t in plan.tasks}
    for task in plan.tasks:
        assert task.end_week == task.start_week + task.weeks - 1
        for dep in task.after:
            assert task.start_week > by_id[dep].end_week, (task.id, dep)
    assert by_id["T-VERIFY"].start_week > by_id["T-DNSSEC-MONITOR"].end_week
    dated = render_plan(draft_plan(AGENCY, "idc", "own", start=date(2027, 1, 4)), "md")
    assert "| T-HTTPS-PLAN | Lập kế hoạch chuyển trang web từ HTTP sang HTTPS | 04/01/2027 | 15/01/2027 |" in dated


def test_english_plan_and_bad_input() -> None:
    md = render_plan(draft_plan("Ministry X", "outsourced", "own", made_report(), "en"), "md")
    assert "DEPLOYMENT PLAN" in md and "Gaps to close" in md and "KẾ HOẠCH" not in md
    with pytest.raises(PlanError, match="hosting scenario"):
        draft_plan(AGENCY, "cloud", "own")
    with pytest.raises(PlanError, match="language"):
        draft_plan(AGENCY, "idc", "own", lang="fr")


def test_md_html_docx_keep_vietnamese(tmp_path) -> None:
    from docx import Document as Docx

    plan = draft_plan(AGENCY, "idc", "own", made_report(), "vi")
    for fmt in ("md", "html", "docx"):
        write_plan(plan, fmt, tmp_path / f"plan.{fmt}")
    assert "Danh sách tồn tại cần khắc phục" in (tmp_path / "plan.md").read_text(encoding="utf-8")
    html = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert '<html lang="vi">' in html and "Phương án khôi phục" in html and AGENCY in html
    doc = Docx(str(tmp_path / "plan.docx"))
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
    assert "KẾ HOẠCH TRIỂN KHAI" in text and "Đăng ký địa chỉ IPv4, IPv6 và số hiệu mạng (ASN)" in text
    assert "VN-IPV6-WEB — Cổng thông tin truy cập được qua IPv6" in cells
    assert any(p.style.name.startswith("Heading") for p in doc.paragraphs)
    with zipfile.ZipFile(tmp_path / "plan.docx") as z:
        footer = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("word/footer"))
    assert "PAGE" in footer and "fldChar" in footer


def test_every_catalogue_rule_has_a_plan_task_or_a_reason() -> None:
    # a rule added to data/rules.yaml that no task fixes (and with no written reason) fails here
    assert rules_without_task() == []
    data = task_catalogue()
    tasked = {r for task in data["tasks"] for r in task.get("rules", [])}
    for rid, reason in (data.get("untasked") or {}).items():
        assert rid not in tasked, f"{rid} is both in a task and marked untasked"
        assert reason["vi"].strip() and reason["en"].strip()


def all_failing_report() -> Report:
    target = Target("dichvucong.c.gov.vn", "dichvucong.c.gov.vn", ["198.51.100.22"], ["2001:db8::22"])
    findings = [Finding(rid, target.ascii_name, "fail", rule.level, {"vi": f"lý do {rid}", "en": f"reason {rid}"},
                        None, [f"obs:{rid}"]) for rid, rule in catalogue().items()]
    return Report("0.1.0", "2026-11-26T00:00:00.000Z", "2026-11-26T00:00:01.000Z", "circular32", targets=[target],
                  findings=findings, summary=summarize([target], findings))


@pytest.mark.parametrize(("scenario", "dns"), [("outsourced", "outsourced"), ("outsourced", "own"),
                                               ("idc", "outsourced"), ("idc", "own")])
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_plan_has_a_task_for_every_failing_rule_of_the_report(scenario: str, dns: str, lang: str) -> None:
    plan = draft_plan(AGENCY, scenario, dns, all_failing_report(), lang)
    assert {g.rule_id for g in plan.gaps} == set(catalogue())
    untasked = task_catalogue().get("untasked") or {}
    closed = {r for task in plan.tasks for r in task.rules}
    for rid in catalogue():
        assert rid in closed or rid in untasked, f"{scenario}/{dns}: no task in the plan closes {rid}"
    for task in plan.tasks:
        if task.rules:
            assert task.status == "todo" and {g.rule_id for g in task.gaps} == set(task.rules)
    gap_section = render_plan(plan, "md").split("## 3.")[1].split("## 4.")[0]
    assert t("no_task", lang) not in gap_section
    for rid in untasked:
        assert untasked[rid][lang] in gap_section  # the reason, where a task would be


def test_recent_rules_have_tasks_that_say_how_to_verify() -> None:
    # issues #13, #14, #19: the task that closes each new rule names it in a netready command to check it
    plan = draft_plan(AGENCY, "outsourced", "outsourced", None, "en")
    tasks = {task.id: task for task in plan.tasks}
    for rid, task_id, words in [("BP-DNS-DELEGATION", "T-DNS-DELEGATION", ("glue", "lame", "registrar")),
                                ("BP-DNSSEC-CDS", "T-DNSSEC-MONITOR", ("CDS/CDNSKEY", "RFC 7344", "RFC 9615")),
                                ("BP-TLS-VULNS", "T-TLS-CONFIG", ("SSLv2", "RFC 5746", "ROBOT", "Heartbleed")),
                                ("BP-OCSP", "T-TLS-CONFIG", ("OCSP stapling", "RFC 7633")),
                                ("BP-TLS-PQ", "T-TLS-CONFIG", ("X25519MLKEM768", "ClientHello"))]:
        task = tasks[task_id]
        assert rid in task.rules
        steps = " ".join(task.steps)
        assert f"check {rid} with netready" in steps or f"netready dnssec <name> ({rid} passes)" in steps \
            or f"({rid} passes:" in steps, f"{task_id} does not say how to verify {rid}"
        assert all(w in steps for w in words), (task_id, [w for w in words if w not in steps])
    # the delegation is sound before the DS goes to the registrar
    assert "T-DNS-DELEGATION" in tasks["T-DNSSEC-DS"].after
    assert tasks["T-DNSSEC-DS"].start_week > tasks["T-DNS-DELEGATION"].end_week
