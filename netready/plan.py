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

from netready import messages, resources
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


# The plan's texts, in Vietnamese and English (data/messages.yaml).
T: dict[str, Any] = messages.section("plan", "texts")
LEGAL_BASIS: list[dict[str, str]] = messages.section("plan", "legal_basis")
COST_ITEMS: list[tuple[dict[str, str], tuple[str, ...]]] = [
    (item["text"], tuple(item["scenarios"])) for item in messages.section("plan", "cost_items")]
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
    unknown = set(data.get("untasked") or {}) - known
    if unknown:
        raise PlanError(f"{TASKS_FILE}: untasked: unknown rule id(s) {sorted(unknown)}")
    return data


def rules_without_task() -> list[str]:
    """Catalogue rules that no task fixes and that are not marked untasked with a reason (should be none)."""
    data = task_catalogue()
    covered = {r for task in data["tasks"] for r in task.get("rules", [])} | set(data.get("untasked") or {})
    return [rid for rid in catalogue() if rid not in covered]


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
    agency = clean_text(agency.strip()) or t("agency_blank", lang)
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
        return t("week_n", plan.lang, n=week)
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
        untasked = task_catalogue().get("untasked") or {}
        rows = [[_rule_label(g.rule_id, lang), LEVEL_WORDS[lang].get(g.level, g.level), g.subject or "", g.reason,
                 own.get(id(g)) or ", ".join(fixers.get(g.rule_id, []))
                 or (untasked[g.rule_id][lang] if g.rule_id in untasked else t("no_task", lang))] for g in mine]
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
    rows.append([t("total", lang), "", "", BLANK, ""])
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
