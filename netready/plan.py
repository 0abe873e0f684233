"""Draft IPv6 / DNSSEC / HTTPS deployment plans (letter 1778/BTTTT-THH §7 and §8) for an agency to edit.

`draft_plan()` builds a PlanDocument from the hosting scenario, the DNS arrangement and, when given, a
probe Report: the current state and the gap list come only from the report's findings (the gaps are
exactly its failing findings, nothing invented); the tasks come from templates/plan/tasks.yaml.
`write_plan()` writes it as md, html, docx or pdf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from netready import resources
from netready.docs_out.blocks import Bullets, Document, Heading, Para, Table
from netready.docs_out.writers import FORMATS, render_html, render_md, write_document
from netready.model import Finding, Report
from netready.render import LEVEL_WORDS, VERDICT_WORDS
from netready.rules import catalogue
from netready.sanitize import clean_text

SCENARIOS = ("outsourced", "idc")
DNS_MODES = ("outsourced", "own")
LANGS = ("vi", "en")
TASKS_FILE = ("templates", "plan", "tasks.yaml")  # netready/resources.py
MD_TEMPLATE, HTML_TEMPLATE = "plan/plan.md.j2", "plan/plan.html.j2"


class PlanError(ValueError):
    """Bad input to the plan builder (unknown scenario, language...)."""


T: dict[str, dict[str, str]] = {
    "title": {"vi": "KẾ HOẠCH TRIỂN KHAI HTTPS, IPv6 VÀ DNSSEC CHO CỔNG THÔNG TIN ĐIỆN TỬ, DỊCH VỤ CÔNG TRỰC TUYẾN",
              "en": "DEPLOYMENT PLAN FOR HTTPS, IPv6 AND DNSSEC ON THE PORTAL AND ONLINE PUBLIC SERVICES"},
    "subtitle": {"vi": "Dự thảo do netready tạo — cơ quan rà soát, chỉnh sửa trước khi ban hành",
                 "en": "Draft made by netready — the agency reviews and edits it before issuing it"},
    "agency": {"vi": "Cơ quan", "en": "Agency"},
    "scenario": {"vi": "Phương án hosting", "en": "Hosting arrangement"},
    "dns": {"vi": "Phương án DNS", "en": "DNS arrangement"},
    "date": {"vi": "Ngày lập", "en": "Drafted on"},
    "report": {"vi": "Báo cáo đo kiểm", "en": "Probe report"},
    "no_report": {"vi": "không có (chưa đo kiểm)", "en": "none (not yet probed)"},
    "s_purpose": {"vi": "1. Mục đích, yêu cầu và căn cứ pháp lý", "en": "1. Purpose, requirements and legal basis"},
    "purpose": {
        "vi": "Bảo đảm cổng thông tin điện tử và các dịch vụ công trực tuyến mức độ 3, mức độ 4 của {agency} sử "
              "dụng HTTPS (TLS 1.2 trở lên, chứng thư số do tổ chức chứng thực tin cậy cấp, khóa 2048 bit trở lên), "
              "hỗ trợ địa chỉ Internet thế hệ mới IPv6 và tên miền được ký số DNSSEC liên thông với hệ thống DNS "
              "quốc gia \".vn\".",
        "en": "Make sure the portal and the level 3 and 4 online public services of {agency} use HTTPS (TLS 1.2 or "
              "newer, a certificate from a trusted certificate authority, a key of 2048 bits or more), support IPv6, "
              "and have their domain signed with DNSSEC and chained to the national \".vn\" DNS."},
    "legal_intro": {"vi": "Căn cứ:", "en": "Legal basis:"},
    "s_state": {"vi": "2. Hiện trạng", "en": "2. Current state"},
    "state_none": {
        "vi": "Chưa có báo cáo đo kiểm. Chạy lệnh ở mục 7 rồi lập lại kế hoạch với tùy chọn --report để điền hiện "
              "trạng và danh sách tồn tại.",
        "en": "No probe report was given. Run the commands of section 7, then draft the plan again with --report to "
              "fill in the current state and the gap list."},
    "state_intro": {"vi": "Theo báo cáo đo kiểm của netready {version} (hồ sơ {profile}), đo từ {started} "
                          "đến {finished}.",
                    "en": "From the netready {version} probe report (profile {profile}), probed from {started} to "
                          "{finished}."},
    "portal_status": {"vi": "Kết luận", "en": "Conclusion"},
    "status": {
        "vi": {"compliant": "ĐẠT", "not-compliant": "KHÔNG ĐẠT",
               "undetermined": "CHƯA XÁC ĐỊNH (có kiểm tra bắt buộc không chạy được)"},
        "en": {"compliant": "COMPLIANT", "not-compliant": "NOT COMPLIANT",
               "undetermined": "UNDETERMINED (a required check could not run)"}},  # type: ignore[dict-item]
    "addresses": {"vi": "Địa chỉ", "en": "Addresses"},
    "none": {"vi": "không có", "en": "none"},
    "h_rule": {"vi": "Quy tắc", "en": "Rule"},
    "h_level": {"vi": "Mức", "en": "Level"},
    "h_verdict": {"vi": "Kết quả", "en": "Verdict"},
    "h_subject": {"vi": "Trên", "en": "On"},
    "h_reason": {"vi": "Lý do / bằng chứng", "en": "Reason / evidence"},
    "h_portal": {"vi": "Cổng thông tin", "en": "Portal"},
    "s_gaps": {"vi": "3. Danh sách tồn tại cần khắc phục", "en": "3. Gaps to close"},
    "gaps_intro": {"vi": "Đúng các quy tắc có kết quả \"không đạt\" trong báo cáo đo kiểm, theo từng cổng thông tin.",
                   "en": "Exactly the rules the probe report judged \"fail\", by portal."},
    "gaps_none": {"vi": "Báo cáo không có quy tắc nào \"không đạt\".", "en": "The report has no failing rule."},
    "h_task": {"vi": "Nhiệm vụ khắc phục", "en": "Fixed by task"},
    "h_taskname": {"vi": "Nhiệm vụ", "en": "Task"},
    "h_field": {"vi": "Mục", "en": "Item"},
    "h_detail": {"vi": "Nội dung", "en": "Detail"},
    "no_task": {"vi": "(chưa có nhiệm vụ mẫu — cơ quan bổ sung)", "en": "(no model task — the agency adds one)"},
    "unverified": {
        "vi": "Chưa kiểm tra được (kết quả \"lỗi\", không được coi là đạt; cần đo lại):",
        "en": "Could not be checked (verdict \"error\", never counted as a pass; probe again):"},
    "s_tasks": {"vi": "4. Nhiệm vụ triển khai", "en": "4. Tasks"},
    "tasks_intro": {
        "outsourced": {
            "vi": "Phương án: cổng thông tin dùng hosting / dịch vụ công nghệ thông tin thuê ngoài (mục 8 a) i).",
            "en": "Arrangement: the portal runs on outsourced hosting / IT services (letter 1778 §8 a) i)."},
        "idc": {
            "vi": "Phương án: cổng thông tin do cơ quan tự quản lý tại trung tâm tích hợp dữ liệu hoặc IDC của "
                  "bộ, tỉnh/thành phố (mục 8 a) ii, iii).",
            "en": "Arrangement: the portal is run by the agency in the ministry's or province's data integration "
                  "centre / IDC (letter 1778 §8 a) ii, iii)."}},  # type: ignore[dict-item]
    "dns_intro": {
        "outsourced": {"vi": "DNS: dùng dịch vụ DNS hosting thuê ngoài (mục 8 b).",
                       "en": "DNS: outsourced DNS hosting (letter 1778 §8 b)."},
        "own": {"vi": "DNS: hệ thống DNS dùng riêng của cơ quan (mục 8 b).",
                "en": "DNS: the agency's own DNS system (letter 1778 §8 b)."}},  # type: ignore[dict-item]
    "l_responsible": {"vi": "Đơn vị thực hiện", "en": "Responsible"},
    "l_prereq": {"vi": "Điều kiện tiên quyết", "en": "Prerequisites"},
    "l_after": {"vi": "Sau nhiệm vụ", "en": "After tasks"},
    "l_steps": {"vi": "Nội dung", "en": "Work"},
    "l_milestone": {"vi": "Mốc thời gian", "en": "Milestone"},
    "l_risks": {"vi": "Rủi ro", "en": "Risks"},
    "l_rollback": {"vi": "Phương án khôi phục", "en": "Rollback"},
    "l_rules": {"vi": "Quy tắc kiểm tra", "en": "Checked by rules"},
    "l_status": {"vi": "Theo báo cáo", "en": "Per the report"},
    "st_todo": {"vi": "cần thực hiện — khắc phục: {gaps}", "en": "to do — closes: {gaps}"},
    "st_met": {"vi": "các quy tắc liên quan đã đạt — chỉ cần duy trì", "en": "related rules already pass — maintain"},
    "st_unverified": {"vi": "chưa xác minh được (có kết quả lỗi)", "en": "not verified (some checks gave error)"},
    "week": {"vi": "tuần {a}–{b}", "en": "weeks {a}–{b}"},
    "s_timeline": {"vi": "5. Tiến độ (mốc thời gian)", "en": "5. Timeline (milestones)"},
    "timeline_intro": {"vi": "Tính từ tuần bắt đầu triển khai; nhiệm vụ bắt đầu khi các nhiệm vụ tiên quyết xong.",
                       "en": "Counted from the start week; a task starts when the tasks it depends on are done."},
    "h_id": {"vi": "Mã", "en": "Id"},
    "h_start": {"vi": "Bắt đầu", "en": "Start"},
    "h_end": {"vi": "Hoàn thành", "en": "Done by"},
    "s_3369": {"vi": "Các mốc của Quyết định 3369/QĐ-BKHCN (chỉ dùng IPv6)",
               "en": "Milestones of Decision 3369/QĐ-BKHCN (IPv6-only)"},
    "h_period": {"vi": "Giai đoạn", "en": "Period"},
    "h_milestone": {"vi": "Mốc quốc gia", "en": "National milestone"},
    "h_portal_means": {"vi": "Đối với cổng thông tin", "en": "For the portal"},
    "s_cost": {"vi": "6. Dự toán chi phí (cơ quan điền số liệu)",
               "en": "6. Cost estimate (to be filled in by the agency)"},
    "cost_intro": {
        "vi": "Mục 7 hướng dẫn 1778 yêu cầu tính toán chi phí nâng cao hiệu năng máy chủ và phần mềm khi chuyển sang "
              "HTTPS. netready không tự đưa ra đơn giá.",
        "en": "Letter 1778 §7 asks for the cost of server and software capacity for HTTPS. netready does not "
              "invent prices."},
    "h_item": {"vi": "Hạng mục", "en": "Item"},
    "h_qty": {"vi": "Số lượng", "en": "Quantity"},
    "h_unit": {"vi": "Đơn giá (VNĐ)", "en": "Unit price (VND)"},
    "h_total": {"vi": "Thành tiền (VNĐ)", "en": "Amount (VND)"},
    "h_note": {"vi": "Ghi chú", "en": "Note"},
    "s_verify": {"vi": "7. Kiểm tra tiến độ và nghiệm thu", "en": "7. Verifying progress and acceptance"},
    "verify_intro": {
        "vi": "Sau mỗi mốc, chạy các lệnh sau; nhiệm vụ chỉ hoàn thành khi các quy tắc liên quan \"đạt\" trên mọi "
              "địa chỉ. Kết quả \"lỗi\" nghĩa là chưa kiểm tra được, không phải đạt.",
        "en": "After each milestone run the commands below; a task is done only when its rules \"pass\" on every "
              "address. \"error\" means the check could not run, never a pass."},
    "cmd_check": {"vi": "Đo kiểm và lưu báo cáo (JSON làm bằng chứng, HTML để đọc):",
                  "en": "Probe and save the report (JSON as evidence, HTML to read):"},
    "cmd_rejudge": {"vi": "Đánh giá lại báo cáo đã lưu (không cần mạng), ví dụ theo hồ sơ chặt hơn:",
                    "en": "Judge a saved report again (no network), e.g. with the stricter profile:"},
    "cmd_plan": {"vi": "Cập nhật kế hoạch này theo báo cáo mới:", "en": "Refresh this plan from the new report:"},
    "cmd_contract": {"vi": "Nghiệm thu nhà cung cấp theo hợp đồng:", "en": "Check the providers against the contract:"},
    "footer": {"vi": "Dự thảo kế hoạch HTTPS, IPv6, DNSSEC — {agency}",
               "en": "Draft HTTPS, IPv6, DNSSEC plan — {agency}"},
    "scenario_name": {
        "outsourced": {"vi": "hosting thuê ngoài", "en": "outsourced hosting"},
        "idc": {"vi": "tự quản lý tại IDC", "en": "self-managed in the IDC"}},  # type: ignore[dict-item]
    "dns_name": {
        "outsourced": {"vi": "DNS hosting thuê ngoài", "en": "outsourced DNS hosting"},
        "own": {"vi": "DNS dùng riêng", "en": "own DNS"}},  # type: ignore[dict-item]
}

LEGAL_BASIS: list[dict[str, str]] = [
    {"vi": "Thông tư số 32/2017/TT-BTTTT ngày 15/11/2017 của Bộ trưởng Bộ Thông tin và Truyền thông: khoản 4 Điều 15 "
           "(cổng thông tin điện tử, dịch vụ công trực tuyến mức độ 3, 4 hỗ trợ IPv6, DNSSEC) và Điều 20 "
           "(sử dụng HTTPS).",
     "en": "Circular 32/2017/TT-BTTTT of 15/11/2017 of the Minister of Information and Communications: Article 15(4) "
           "(portals and level 3/4 online services support IPv6 and DNSSEC) and Article 20 (use HTTPS)."},
    {"vi": "Thông tư số 39/2017/TT-BTTTT ngày 15/12/2017 ban hành Danh mục tiêu chuẩn kỹ thuật về ứng dụng công nghệ "
           "thông tin trong cơ quan nhà nước: mục 4.2 (TLS 1.2).",
     "en": "Circular 39/2017/TT-BTTTT of 15/12/2017, list of IT technical standards for state agencies: item 4.2 "
           "(TLS 1.2)."},
    {"vi": "Nghị định số 42/2022/NĐ-CP của Chính phủ quy định về việc cung cấp thông tin và dịch vụ công trực tuyến "
           "của cơ quan nhà nước trên môi trường mạng: Điều 13.",
     "en": "Government Decree 42/2022/ND-CP on online information and public services of state agencies: "
           "Article 13."},
    {"vi": "Quyết định số 1524/QĐ-BTTTT phê duyệt Đề án triển khai tiêu chuẩn DNSSEC cho hệ thống máy chủ tên miền "
           "quốc gia \".vn\" (Đề án 1524).",
     "en": "Decision 1524/QD-BTTTT approving the project to deploy DNSSEC on the national \".vn\" DNS "
           "(Project 1524)."},
    {"vi": "Công văn số 1778/BTTTT-THH ngày 06/6/2018 của Bộ Thông tin và Truyền thông hướng dẫn triển khai Thông tư "
           "số 32/2017/TT-BTTTT: mục 7 (HTTPS) và mục 8 (IPv6, DNSSEC).",
     "en": "Letter 1778/BTTTT-THH of 06/6/2018 of the Ministry of Information and Communications, guidance on "
           "Circular 32/2017/TT-BTTTT: section 7 (HTTPS) and section 8 (IPv6, DNSSEC)."},
    {"vi": "Quyết định số 3369/QĐ-BKHCN (tháng 11/2025) của Bộ Khoa học và Công nghệ về chương trình chuyển đổi sang "
           "chỉ dùng IPv6 (IPv6-only): thí điểm 2026–2027, triển khai diện rộng 2027–2028, chỉ dùng IPv6 2029–2030.",
     "en": "Decision 3369/QD-BKHCN (November 2025) of the Ministry of Science and Technology, the IPv6-only programme: "
           "pilots 2026–2027, large-scale rollout 2027–2028, IPv6-only 2029–2030."},
    {"vi": "Nghị định số 147/2024/NĐ-CP của Chính phủ: Điều 18 (thúc đẩy sử dụng IPv6).",
     "en": "Government Decree 147/2024/ND-CP: Article 18 (promoting IPv6)."},
    {"vi": "Kế hoạch hành động quốc gia về IPv6 và tài liệu hướng dẫn triển khai IPv6, DNSSEC của Trung tâm Internet "
           "Việt Nam (VNNIC).",
     "en": "The national IPv6 action plan and VNNIC's IPv6 and DNSSEC deployment guides."},
]

COST_ITEMS: list[tuple[dict[str, str], tuple[str, ...]]] = [
    ({"vi": "Chứng thư số SSL/TLS từ tổ chức chứng thực tin cậy (theo số tên miền × số năm)",
      "en": "SSL/TLS certificates from a trusted CA (names × years)"}, SCENARIOS),
    ({"vi": "Nâng cấp CPU/RAM máy chủ hoặc thiết bị cân bằng tải, giải mã TLS",
      "en": "Server CPU/RAM upgrade or load balancer / TLS offload device"}, SCENARIOS),
    ({"vi": "Phí thay đổi gói dịch vụ hosting (IPv6, HTTPS)", "en": "Change of the hosting service (IPv6, HTTPS)"},
     ("outsourced",)),
    ({"vi": "Nâng cấp, thay thế thiết bị mạng, tường lửa chưa hỗ trợ IPv6",
      "en": "Upgrade or replacement of routers and firewalls without IPv6"}, ("idc",)),
    ({"vi": "Kết nối Internet IPv6 từ ISP", "en": "IPv6 Internet connectivity from the ISP"}, ("idc",)),
    ({"vi": "(Nếu cần) Phí địa chỉ IPv4/IPv6, ASN độc lập tại VNNIC",
      "en": "(If needed) VNNIC fees for independent IPv4/IPv6 addresses and ASN"}, SCENARIOS),
    ({"vi": "Nâng cấp phần mềm ứng dụng hỗ trợ IPv6, HTTPS", "en": "Application upgrade for IPv6 and HTTPS"},
     SCENARIOS),
    ({"vi": "Dịch vụ DNS hosting có DNSSEC / nâng cấp hệ thống DNS dùng riêng",
      "en": "DNS hosting with DNSSEC / upgrade of the own DNS"}, SCENARIOS),
    ({"vi": "Nhân công triển khai, kiểm tra, nghiệm thu", "en": "Staff time for deployment, checks and acceptance"},
     SCENARIOS),
]
BLANK = "……"


def t(key: str, lang: str, **kw: Any) -> str:
    text = T[key][lang]
    return text.format(**kw) if kw else text


@dataclass
class Gap:
    """One failing finding of the report (the plan invents none)."""

    target: str
    rule_id: str
    level: str
    subject: str | None
    reason: str
    evidence: list[str] = field(default_factory=list)


@dataclass
class PlanTask:
    id: str
    area: str
    title: str
    responsible: str
    prerequisites: str
    after: list[str]
    steps: list[str]
    risks: str
    rollback: str
    rules: list[str]
    optional: bool
    weeks: int
    start_week: int = 1
    end_week: int = 1
    gaps: list[Gap] = field(default_factory=list)
    status: str = ""  # "" (no report) | todo | met | unverified
    own_gaps: bool = False  # made for given gaps (an IPv4-only dependency): closes those only


@dataclass
class PortalState:
    name: str
    ascii_name: str
    addresses: list[str]
    error: str | None
    status: str  # compliant | not-compliant | undetermined
    findings: list[Finding]


@dataclass
class PlanDocument:
    agency: str
    scenario: str
    dns: str
    lang: str
    drafted: str  # ISO date
    start: date | None
    portals: list[PortalState]
    gaps: list[Gap]
    unverified: list[Gap]
    tasks: list[PlanTask]
    report_meta: dict[str, str] = field(default_factory=dict)

    def gap_keys(self) -> set[tuple[str, str, str | None]]:
        return {(g.target, g.rule_id, g.subject) for g in self.gaps}

    def task_ids(self) -> list[str]:
        return [task.id for task in self.tasks]

    def to_document(self) -> Document:
        return _build_document(self)


@cache
def task_catalogue() -> dict[str, Any]:
    data = yaml.safe_load(resources.read_text(*TASKS_FILE))
    known = set(catalogue())
    for task in data["tasks"]:
        unknown = set(task.get("rules", [])) - known
        if unknown:
            raise PlanError(f"{TASKS_FILE}: task {task['id']}: unknown rule id(s) {sorted(unknown)}")
    return data


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise PlanError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")


def _finding_gap(f: Finding, lang: str) -> Gap:
    return Gap(target=f.target, rule_id=f.rule_id, level=f.level, subject=f.subject, reason=f.text(lang),
               evidence=list(f.evidence))


def _schedule(tasks: list[PlanTask]) -> None:
    """Start each task when the included tasks it depends on are done (tasks are in dependency order)."""
    end: dict[str, int] = {}
    for task in tasks:
        start = max((end[a] + 1 for a in task.after if a in end), default=1)
        task.start_week, task.end_week = start, start + task.weeks - 1
        end[task.id] = task.end_week


def _task_status(task: PlanTask, report: Report | None, gaps: list[Gap]) -> None:
    if task.own_gaps:
        task.status = "todo"
        return
    if report is None or not task.rules:
        return
    task.gaps = [g for g in gaps if g.rule_id in task.rules]
    related = [f for f in report.findings if f.rule_id in task.rules]
    if task.gaps:
        task.status = "todo"
    elif any(f.verdict == "error" for f in related) or not related:
        task.status = "unverified"
    else:
        task.status = "met"


def draft_plan(
    agency: str,
    scenario: str = "outsourced",
    dns: str = "outsourced",
    report: Report | None = None,
    lang: str = "vi",
    start: date | None = None,
    today: date | None = None,
) -> PlanDocument:
    """A draft plan for `agency`; with a report, its current state and exactly its failing rules as gaps."""
    _check_choice(scenario, SCENARIOS, "hosting scenario")
    _check_choice(dns, DNS_MODES, "DNS arrangement")
    _check_choice(lang, LANGS, "language")
    # typed by a user, but it lands in DOCX/PDF XML, which refuses control characters (issue #15)
    agency = clean_text(agency.strip()) or ("[tên cơ quan]" if lang == "vi" else "[agency name]")
    portals: list[PortalState] = []
    gaps: list[Gap] = []
    unverified: list[Gap] = []
    meta: dict[str, str] = {}
    if report is not None:
        meta = {"version": report.tool_version, "profile": report.profile, "started": report.started,
                "finished": report.finished}
        for target in report.targets:
            findings = report.findings_for(target.ascii_name)
            status = report.summary.get("targets", {}).get(target.ascii_name, {}).get("status", "undetermined")
            portals.append(PortalState(target.name, target.ascii_name, target.addresses, target.error, status,
                                       findings))
            gaps.extend(_finding_gap(f, lang) for f in findings if f.verdict == "fail")
            unverified.extend(_finding_gap(f, lang) for f in findings if f.verdict == "error")
    tasks: list[PlanTask] = []
    for raw in task_catalogue()["tasks"]:
        if scenario not in raw.get("scenarios", SCENARIOS) or dns not in raw.get("dns", DNS_MODES):
            continue
        responsible = raw["responsible"].get(scenario) or next(iter(raw["responsible"].values()))
        tasks.append(PlanTask(
            id=raw["id"], area=raw["area"], title=raw["title"][lang], responsible=responsible[lang],
            prerequisites=raw["prerequisites"][lang], after=list(raw.get("after", [])), steps=list(raw["steps"][lang]),
            risks=raw["risks"][lang], rollback=raw["rollback"][lang], rules=list(raw.get("rules", [])),
            optional=bool(raw.get("optional")), weeks=int(raw["weeks"]),
        ))
    tasks = _with_dependency_tasks(tasks, gaps, lang)
    included = {task.id for task in tasks}
    for task in tasks:
        task.after = [a for a in task.after if a in included]
    _schedule(tasks)
    for task in tasks:
        _task_status(task, report, gaps)
    return PlanDocument(agency=agency, scenario=scenario, dns=dns, lang=lang,
                        drafted=(today or date.today()).isoformat(), start=start, portals=portals, gaps=gaps,
                        unverified=unverified, tasks=tasks, report_meta=meta)


def _dependency_tasks(gaps: list[Gap], lang: str) -> list[PlanTask]:
    """One task per IPv4-only dependency found: each host (other than a portal itself) on which VN-IPV6-ONLY
    failed, with the portals that need it and what on their pages needs it (from the finding's reason)."""
    model = task_catalogue()["dependency_task"]
    portals = {g.target for g in gaps}
    by_host: dict[str, list[Gap]] = {}
    for g in gaps:
        if g.rule_id == "VN-IPV6-ONLY" and g.subject and g.subject not in portals:
            by_host.setdefault(g.subject, []).append(g)
    tasks = []
    for n, (host, found) in enumerate(sorted(by_host.items()), 1):
        needs = "; ".join(_needs(g.reason) for g in found)
        kw = {"host": host, "needs": needs, "portals": ", ".join(sorted({g.target for g in found}))}
        tasks.append(PlanTask(
            id=f"T-V6ONLY-DEP-{n}", area="ipv6only", title=model["title"][lang].format(**kw),
            responsible=model["responsible"][lang].format(**kw),
            prerequisites=model["prerequisites"][lang].format(**kw),
            after=list(model["after"]), steps=[s.format(**kw) for s in model["steps"][lang]],
            risks=model["risks"][lang], rollback=model["rollback"][lang], rules=["VN-IPV6-ONLY"], optional=False,
            weeks=int(model["weeks"]), gaps=found, own_gaps=True))
    return tasks


def _needs(reason: str) -> str:
    """What on the pages needs the host, from a VN-IPV6-ONLY reason (en: "needed for ...;", vi: "cần cho ...;")."""
    for marker in ("needed for ", "cần cho "):
        if marker in reason:
            return reason.split(marker, 1)[1].split("; ", 1)[0]
    return reason


def _with_dependency_tasks(tasks: list[PlanTask], gaps: list[Gap], lang: str) -> list[PlanTask]:
    """The dependency tasks right after T-V6ONLY-PLAN (their area's model task)."""
    extra = _dependency_tasks(gaps, lang)
    if not extra:
        return tasks
    at = next((i + 1 for i, t in enumerate(tasks) if t.id == "T-V6ONLY-PLAN"), len(tasks))
    return tasks[:at] + extra + tasks[at:]


def _rule_label(rule_id: str, lang: str) -> str:
    rule = catalogue().get(rule_id)
    return f"{rule_id} — {rule.text('title', lang)}" if rule else rule_id


def _week_label(plan: PlanDocument, week: int, end: bool = False) -> str:
    if plan.start is None:
        return ("tuần " if plan.lang == "vi" else "week ") + str(week)
    day = plan.start + timedelta(weeks=week - 1, days=4 if end else 0)
    return day.strftime("%d/%m/%Y")


def _gap_text(gaps: list[Gap]) -> str:
    return "; ".join(f"{g.target} {g.rule_id}" + (f" ({g.subject})" if g.subject else "") for g in gaps)


def _state_blocks(plan: PlanDocument, lang: str) -> list[Any]:
    if not plan.report_meta:
        return [Para(t("state_none", lang), "note")]
    m = plan.report_meta
    blocks: list[Any] = [Para(t("state_intro", lang, version=m["version"], profile=m["profile"], started=m["started"],
                                finished=m["finished"]))]
    status_words: dict[str, str] = T["status"][lang]  # type: ignore[assignment]
    rules = list(catalogue())
    for p in plan.portals:
        title = p.ascii_name if p.name == p.ascii_name else f"{p.name} ({p.ascii_name})"
        blocks.append(Heading(2, title))
        info = [f"{t('portal_status', lang)}: {status_words.get(p.status, p.status)}",
                f"{t('addresses', lang)}: {', '.join(p.addresses) or t('none', lang)}"]
        if p.error:
            info.append(p.error)
        blocks.append(Bullets(info))
        rows = [[f.rule_id, LEVEL_WORDS[lang].get(f.level, f.level), VERDICT_WORDS[lang][f.verdict], f.subject or "",
                 f.text(lang)] for f in sorted(p.findings, key=lambda f: rules.index(f.rule_id)
                                               if f.rule_id in rules else 999)]
        blocks.append(Table([t("h_rule", lang), t("h_level", lang), t("h_verdict", lang), t("h_subject", lang),
                             t("h_reason", lang)], rows))
    return blocks


def _gap_blocks(plan: PlanDocument, lang: str) -> list[Any]:
    if not plan.report_meta:
        return [Para(t("state_none", lang), "note")]
    blocks: list[Any] = [Para(t("gaps_intro", lang))]
    if not plan.gaps:
        blocks.append(Para(t("gaps_none", lang)))
    fixers: dict[str, list[str]] = {}
    for task in plan.tasks:
        for rule_id in task.rules if not task.own_gaps else ():
            fixers.setdefault(rule_id, []).append(task.id)
    for portal in plan.portals:
        mine = [g for g in plan.gaps if g.target == portal.ascii_name]
        if not mine:
            continue
        blocks.append(Heading(2, portal.ascii_name))
        own = {id(g): task.id for task in plan.tasks if task.own_gaps for g in task.gaps}
        rows = [[_rule_label(g.rule_id, lang), LEVEL_WORDS[lang].get(g.level, g.level), g.subject or "", g.reason,
                 own.get(id(g)) or ", ".join(fixers.get(g.rule_id, [])) or t("no_task", lang)] for g in mine]
        blocks.append(Table([t("h_rule", lang), t("h_level", lang), t("h_subject", lang), t("h_reason", lang),
                             t("h_task", lang)], rows))
    if plan.unverified:
        blocks.append(Para(t("unverified", lang)))
        blocks.append(Bullets([f"{g.target} — {g.rule_id}" + (f" ({g.subject})" if g.subject else "") + f": {g.reason}"
                               for g in plan.unverified]))
    return blocks


def _task_blocks(plan: PlanDocument, lang: str) -> list[Any]:
    areas = task_catalogue()["areas"]
    blocks: list[Any] = [Para(T["tasks_intro"][plan.scenario][lang]),  # type: ignore[index]
                         Para(T["dns_intro"][plan.dns][lang])]  # type: ignore[index]
    current_area = None
    for n, task in enumerate(plan.tasks, 1):
        if task.area != current_area:
            current_area = task.area
            blocks.append(Heading(2, areas[task.area][lang]))
        title = f"4.{n}. [{task.id}] {task.title}"  # optional tasks say "(if needed)" in their own title
        blocks.append(Heading(3, title))
        rows = [
            [t("l_responsible", lang), task.responsible],
            [t("l_prereq", lang), task.prerequisites + (f" {t('l_after', lang)}: {', '.join(task.after)}."
                                                         if task.after else "")],
            [t("l_steps", lang), "\n".join(f"- {s}" for s in task.steps)],
            [t("l_milestone", lang),
             f"{_week_label(plan, task.start_week)} → {_week_label(plan, task.end_week, True)}"],
            [t("l_risks", lang), task.risks],
            [t("l_rollback", lang), task.rollback],
        ]
        if task.rules:
            rows.append([t("l_rules", lang), ", ".join(task.rules)])
        if task.status:
            status = {"todo": t("st_todo", lang, gaps=_gap_text(task.gaps)), "met": t("st_met", lang),
                      "unverified": t("st_unverified", lang)}[task.status]
            rows.append([t("l_status", lang), status])
        blocks.append(Table([t("h_field", lang), t("h_detail", lang)], rows))
    return blocks


def _timeline_blocks(plan: PlanDocument, lang: str) -> list[Any]:
    rows = [[task.id, task.title, _week_label(plan, task.start_week), _week_label(plan, task.end_week, True)]
            for task in plan.tasks]
    milestones = [[m["period"], m[lang], m["portal"][lang]] for m in task_catalogue()["milestones_3369"]]
    return [Para(t("timeline_intro", lang)),
            Table([t("h_id", lang), t("h_taskname", lang), t("h_start", lang), t("h_end", lang)], rows),
            Heading(2, t("s_3369", lang)),
            Table([t("h_period", lang), t("h_milestone", lang), t("h_portal_means", lang)], milestones)]


def _cost_blocks(plan: PlanDocument, lang: str) -> list[Any]:
    rows = [[item[lang], BLANK, BLANK, BLANK, ""] for item, where in COST_ITEMS if plan.scenario in where]
    rows.append([("Tổng cộng" if lang == "vi" else "Total"), "", "", BLANK, ""])
    return [Para(t("cost_intro", lang)),
            Table([t("h_item", lang), t("h_qty", lang), t("h_unit", lang), t("h_total", lang), t("h_note", lang)],
                  rows)]


def _verify_blocks(plan: PlanDocument, lang: str) -> list[Any]:
    names = " ".join(p.ascii_name for p in plan.portals) or "dichvucong.<tên>.gov.vn"
    agency = plan.agency.replace('"', "'")
    blocks: list[Any] = [
        Para(t("verify_intro", lang)),
        Para(t("cmd_check", lang)),
        Para(f"netready check {names} --profile circular32 --lang {lang} -f json -o report.json\n"
             f"netready check {names} --profile circular32 --lang {lang} -f html -o report.html", "code"),
        Para(t("cmd_rejudge", lang)),
        Para(f"netready rejudge report.json --profile strict --lang {lang}", "code"),
        Para(t("cmd_plan", lang)),
        Para(f'netready plan --agency "{agency}" --scenario {plan.scenario} --dns {plan.dns} --report report.json '
             f"--lang {lang} -f docx -o ke-hoach.docx", "code"),
    ]
    if plan.scenario == "outsourced" or plan.dns == "outsourced":
        blocks += [Para(t("cmd_contract", lang)),
                   Para(f"netready contract verify SPEC.yml --lang {lang} -f pdf -o nghiem-thu.pdf", "code")]
    return blocks


def _build_document(plan: PlanDocument) -> Document:
    lang = plan.lang
    scen: dict[str, str] = T["scenario_name"][plan.scenario]  # type: ignore[assignment]
    dnsn: dict[str, str] = T["dns_name"][plan.dns]  # type: ignore[assignment]
    meta = [(t("agency", lang), plan.agency), (t("scenario", lang), scen[lang]), (t("dns", lang), dnsn[lang]),
            (t("date", lang), plan.drafted)]
    meta.append((t("report", lang), f"{plan.report_meta['started']} ({plan.report_meta['profile']})"
                 if plan.report_meta else t("no_report", lang)))
    doc = Document(title=t("title", lang), subtitle=t("subtitle", lang), lang=lang, meta=meta,
                   footer=t("footer", lang, agency=plan.agency))
    doc.add(Heading(1, t("s_purpose", lang)), Para(t("purpose", lang, agency=plan.agency)),
            Para(t("legal_intro", lang)), Bullets([item[lang] for item in LEGAL_BASIS]))
    doc.add(Heading(1, t("s_state", lang)), *_state_blocks(plan, lang))
    doc.add(Heading(1, t("s_gaps", lang)), *_gap_blocks(plan, lang))
    doc.add(Heading(1, t("s_tasks", lang)), *_task_blocks(plan, lang))
    doc.add(Heading(1, t("s_timeline", lang)), *_timeline_blocks(plan, lang))
    doc.add(Heading(1, t("s_cost", lang)), *_cost_blocks(plan, lang))
    doc.add(Heading(1, t("s_verify", lang)), *_verify_blocks(plan, lang))
    return doc


def render_plan(plan: PlanDocument, fmt: str = "md") -> str:
    """Text formats only (md, html); use write_plan for docx and pdf."""
    if fmt == "md":
        return render_md(plan.to_document(), MD_TEMPLATE)
    if fmt == "html":
        return render_html(plan.to_document(), HTML_TEMPLATE)
    raise PlanError(f"render_plan gives md or html; use write_plan for {fmt!r}")


def write_plan(plan: PlanDocument, fmt: str, path: str | Path) -> Path:
    """Write the plan as md, html, docx or pdf."""
    if fmt not in FORMATS:
        raise PlanError(f"unknown plan format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return write_document(plan.to_document(), fmt, path, MD_TEMPLATE, HTML_TEMPLATE)
