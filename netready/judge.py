"""Judging: a pure function from observations (+ a profile) to findings, and the summary.

Nothing here touches the network or the clock, so a saved report can be judged again offline
(`netready rejudge`) and gives the same findings for the same profile.
"""

from __future__ import annotations

from typing import Any

from netready.evaluate import Outcome, registry
from netready.model import Finding, Observation, Report, Target
from netready.profiles import Profile
from netready.rules import CATEGORIES, catalogue

NOT_IMPLEMENTED = Outcome(
    "error",
    "not implemented yet: the probe for this rule is not built in this version",
    "chưa triển khai: phép đo cho quy tắc này chưa có trong phiên bản này",
)
VERDICT_SCORE = {"pass": 1.0, "warn": 0.5, "fail": 0.0, "error": 0.0}


def _no_outcome(target: Target) -> Outcome:
    if target.error:
        return Outcome(
            "error",
            f"could not check: {target.error}",
            f"không kiểm tra được: {target.error}",
        )
    return Outcome("error", "no observation to judge (the probe did not run)",
                   "không có dữ liệu đo để đánh giá (phép đo không chạy)")


def judge_target(target: Target, observations: list[Observation], profile: Profile) -> list[Finding]:
    """Every rule of the catalogue, judged on one target."""
    evaluators = registry()
    findings: list[Finding] = []
    for rule_id in catalogue():
        fn = evaluators.get(rule_id)
        if target.error and not observations:  # the name itself is unusable: say why on every rule
            outcomes = [_no_outcome(target)]
        elif fn is None:
            outcomes = [NOT_IMPLEMENTED]
        else:
            try:
                outcomes = fn(target, observations, profile) or [_no_outcome(target)]
            except Exception as exc:  # an evaluator bug must not hide the other rules
                outcomes = [Outcome("error", f"evaluation failed: {type(exc).__name__}: {exc}",
                                    f"lỗi khi đánh giá: {type(exc).__name__}: {exc}")]
        for out in outcomes:
            findings.append(
                Finding(
                    rule_id=rule_id,
                    target=target.ascii_name,
                    verdict=out.verdict,
                    level=profile.level(rule_id),  # type: ignore[arg-type]
                    message={"vi": out.vi, "en": out.en},
                    subject=out.subject,
                    evidence=list(out.evidence),
                    caused_by=out.caused_by,
                    fix=fix_for(rule_id, out.verdict, out.hint),
                )
            )
    return findings


def fix_for(rule_id: str, verdict: str, hint: str | None = None) -> dict[str, Any] | None:
    """The catalogue's fix hint for a fail or warn of this rule (None for any other verdict)."""
    rule = catalogue().get(rule_id)
    if rule is None or verdict not in ("fail", "warn"):
        return None
    return rule.fix_for(hint)


def judge(targets: list[Target], observations: list[Observation], profile: Profile) -> list[Finding]:
    by_target: dict[str, list[Observation]] = {}
    for obs in observations:
        by_target.setdefault(obs.target, []).append(obs)
    findings: list[Finding] = []
    for target in targets:
        findings.extend(judge_target(target, by_target.get(target.ascii_name, []), profile))
    return findings


def target_summary(findings: list[Finding]) -> dict[str, Any]:
    """Compliance and scores of one target's findings.

    Compliant: every required rule passes on every subject. A required error means the verdict
    cannot be given (undetermined); an error never counts as a pass.
    """
    rules = catalogue()
    required = [f for f in findings if f.level == "required"]
    failed = sorted({f.rule_id for f in required if f.verdict in ("fail", "warn")})
    errors = sorted({f.rule_id for f in required if f.verdict == "error"})
    if failed:
        status = "not-compliant"
    elif errors:
        status = "undetermined"
    else:
        status = "compliant"
    # Score: each scored rule counts once, at its worst subject; info-level rules are not scored.
    worst: dict[str, float] = {}
    for f in findings:
        if f.level == "info" or f.verdict == "info":
            continue
        value = VERDICT_SCORE[f.verdict]
        worst[f.rule_id] = min(worst.get(f.rule_id, 1.0), value)
    scores: dict[str, float | None] = {}
    for category in CATEGORIES:
        values = [v for rid, v in worst.items() if rules[rid].category == category]
        scores[category] = round(100 * sum(values) / len(values), 1) if values else None
    scores["overall"] = round(100 * sum(worst.values()) / len(worst), 1) if worst else None
    counts = {v: sum(1 for f in findings if f.verdict == v) for v in ("pass", "fail", "warn", "info", "error")}
    return {
        "status": status,
        "compliant": status == "compliant",
        "failed_required": failed,
        "error_required": errors,
        "counts": counts,
        "scores": scores,
    }


def summarize(targets: list[Target], findings: list[Finding]) -> dict[str, Any]:
    by_target: dict[str, list[Finding]] = {t.ascii_name: [] for t in targets}
    for f in findings:  # one pass: filtering all findings per target is quadratic in a national batch
        if f.target in by_target:
            by_target[f.target].append(f)
    per_target = {name: target_summary(found) for name, found in by_target.items()}
    statuses = [s["status"] for s in per_target.values()]
    return {
        "targets": per_target,
        "totals": {
            "targets": len(targets),
            "compliant": statuses.count("compliant"),
            "not_compliant": statuses.count("not-compliant"),
            "undetermined": statuses.count("undetermined"),
        },
    }


def rejudge(report: Report, profile: Profile) -> Report:
    """The same observations judged again under a (possibly different) profile."""
    findings = judge(report.targets, report.observations, profile)
    return Report(
        tool_version=report.tool_version,
        started=report.started,
        finished=report.finished,
        profile=profile.name,
        settings=report.settings,
        targets=report.targets,
        observations=report.observations,
        findings=findings,
        summary=summarize(report.targets, findings),
    )


def exit_code(summary: dict[str, Any]) -> int:
    """0 all compliant, 1 some not compliant, 2 a required check could not run."""
    totals = summary["totals"]
    if totals["not_compliant"]:
        return 1
    if totals["undetermined"]:
        return 2
    return 0
