"""Merging reports taken from several vantage points into one Report (`netready merge`).

Different ISPs route IPv6 differently: a portal reachable from one network may be dead from another.
Each vantage point runs `netready check -f json` on its own; this module combines their JSON reports:

- every observation id and subject gets its vantage point as a prefix (``isp-a/ipv6:NAME:web:ADDR``),
  so ids stay unique and every fact says where it was seen;
- targets are the union (addresses too); a name checked at only some vantage points says so in its
  findings and in ``summary.targets[NAME].not_checked_at``;
- every vantage point's observations are judged again under one profile, and for each target, rule and
  subject the merged verdict is the worst over the vantage points (``VERDICT_ORDER``), the reason naming
  which vantage point saw what;
- a vantage point without IPv6 of its own (no IPv6 exchange in its report succeeded) is not counted for
  what depends on IPv6 transport, so a portal counts as IPv6-reachable only when it is reachable from
  every vantage point that has IPv6 itself;
- each input's SHA-256 (of the file's bytes), file name, tool version, times, probe settings and targets
  are kept in ``settings.merge.vantage_points``, so a merged report can be merged (re-judged) again.

Pure: no network and no clock (the times come from the inputs), like `rejudge`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netready import __version__
from netready.errors import UsageError
from netready.judge import judge_target, summarize
from netready.model import READABLE_SCHEMA_VERSIONS, Finding, Observation, Report, Target
from netready.profiles import Profile
from netready.rules import catalogue

# Worst first. A fail makes a target not compliant, an error undetermined (netready.judge.target_summary);
# a warning still scores half, info (not applicable) is not scored, a pass is the best.
VERDICT_ORDER: tuple[str, ...] = ("fail", "error", "warn", "info", "pass")
VANTAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
SEP = "/"  # between the vantage point and the original id or subject; never in a vantage name
# Rules about IPv6 transport as a whole: what a vantage point without IPv6 says about them is not counted.
IPV6_TRANSPORT_RULES = frozenset({"VN-IPV6-DNS", "BP-IPV6-PARITY", "VN-IPV6-ONLY"})

VERDICT_WORDS = {
    "en": {"pass": "pass", "fail": "fail", "warn": "warn", "info": "info", "error": "error"},
    "vi": {"pass": "đạt", "fail": "không đạt", "warn": "cảnh báo", "info": "thông tin", "error": "lỗi"},
}
TEXT = {
    "en": {
        "set_aside": "not counted, no IPv6 at {vp}: {verdict} — {msg}",
        "no_verdict": "no verdict on this at {vps}",
        "not_checked": "name not checked at {vps}",
        "nobody": "cannot tell: no vantage point with IPv6 of its own measured this",
    },
    "vi": {
        "set_aside": "không tính, điểm đo {vp} không có IPv6: {verdict} — {msg}",
        "no_verdict": "không có kết quả cho mục này tại {vps}",
        "not_checked": "tên miền không được kiểm tra tại {vps}",
        "nobody": "không xác định được: không điểm đo nào có IPv6 đo được mục này",
    },
}


@dataclass
class Vantage:
    """One vantage point's report, as read from its file (findings are ignored: merge judges again)."""

    name: str
    report: Report
    file: str
    sha256: str
    via: dict[str, str] | None = None  # the merged report this one was taken out of


def worst(verdicts: list[str]) -> str:
    return min(verdicts, key=VERDICT_ORDER.index)


def _is_v6(text: Any) -> bool:
    if not isinstance(text, str) or ":" not in text:
        return False
    try:
        return ipaddress.ip_address(text.split("%")[0]).version == 6
    except ValueError:
        return False


def _obs_is_v6(obs: Observation) -> bool:
    """The observation is one IPv6 exchange (its subject or address, or the tail of its id, is IPv6)."""
    if _is_v6(obs.subject) or (isinstance(obs.data, dict) and _is_v6(obs.data.get("address"))):
        return True
    parts = obs.id.split(":")  # ids end with the address where there is one: "dnssec:NAME:server:ZONE:NS:ADDR"
    return any(_is_v6(":".join(parts[k:])) for k in range(1, len(parts)))


def ipv6_at(report: Report) -> tuple[bool | None, str]:
    """Whether the vantage point had IPv6 itself: True when some IPv6 exchange of its report got an answer
    (an HTTPS status or open port over IPv6, a name server answering over IPv6, the IPv6-only walk from the
    root, an ICMPv6 echo reply); False when IPv6 was tried and nothing answered; None when never tried."""
    tried = 0
    first_error = ""
    for o in report.observations:
        if o.probe != "ipv6" or not isinstance(o.data, dict):
            continue
        ok: bool | None = None
        if ":web:" in o.id and o.data.get("family") == 6:
            https = o.data.get("https") or {}
            ports = o.data.get("tcp") or {}
            ok = https.get("status") is not None or any((p or {}).get("open") for p in ports.values())
        elif o.id.endswith(":dns"):
            answers = [r for ns in o.data.get("name_servers") or [] for r in ns.get("v6") or []]
            if answers:
                ok = any((r.get("udp") or {}).get("ok") or (r.get("tcp") or {}).get("ok") for r in answers)
        elif o.id.endswith(":v6only") and not o.data.get("skipped"):
            ok = bool(o.data.get("records")) or o.data.get("rcode") is not None
        elif ":icmp:" in o.id and not o.data.get("skipped"):
            ok = bool((o.data.get("echo") or {}).get("replied"))
        if ok is None:
            continue
        if ok:
            return True, f"answered over IPv6: {o.id}"
        tried += 1
        first_error = first_error or (o.error or "")
    if tried:
        why = f", e.g. {first_error}" if first_error else ""
        return False, f"no IPv6 exchange got an answer ({tried} tried{why})"
    return None, "no IPv6 exchange in this report"


# --- reading the inputs -------------------------------------------------------------------------------


def _read(path: str) -> tuple[Report, str]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from exc
    if isinstance(data, dict) and data.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
        raise UsageError(
            f"{path}: report of schema_version {data.get('schema_version')!r}; this netready "
            f"merges schema_version {' and '.join(str(v) for v in READABLE_SCHEMA_VERSIONS)} "
            "(check it again with this version)"
        )
    try:
        return Report.from_dict(data), hashlib.sha256(raw).hexdigest()
    except ValueError as exc:
        raise UsageError(f"{path}: {exc}") from exc


def _split(report: Report, file: str, sha256: str) -> list[Vantage]:
    """The vantage points inside a merged report, as they were before the merge."""
    out = []
    for vp in report.settings["merge"]["vantage_points"]:
        name = vp["name"]
        prefix = name + SEP
        observations = []
        for o in report.observations:
            if o.id.startswith(prefix):
                subject = o.subject[len(prefix) :] if o.subject.startswith(prefix) else o.subject
                observations.append(replace(o, id=o.id[len(prefix) :], subject=subject))
        part = Report(
            tool_version=vp.get("tool_version", report.tool_version),
            started=vp.get("started", ""),
            finished=vp.get("finished", ""),
            profile=vp.get("profile", report.profile),
            settings=vp.get("settings") or {},
            targets=[Target.from_dict(t) for t in vp.get("targets") or []],
            observations=observations,
        )
        out.append(Vantage(name, part, vp.get("file", file), vp.get("sha256", ""), {"file": file, "sha256": sha256}))
    return out


def load_vantages(paths: list[str], names: list[str] | None = None) -> list[Vantage]:
    """The inputs of a merge: one report per file, named by --vantage (once per file, in order) or by the file
    stem; a merged report brings its own vantage points. Any problem is a UsageError (exit 3)."""
    if not paths:
        raise UsageError("no report to merge: give one or more JSON reports (netready check -f json)")
    names = list(names or [])
    if names and len(names) != len(paths):
        raise UsageError(
            f"--vantage given {len(names)} time(s) for {len(paths)} report(s): give it once per "
            "report, in the same order, or not at all (the file names are used)"
        )
    out: list[Vantage] = []
    for i, path in enumerate(paths):
        report, sha = _read(path)
        if isinstance(report.settings.get("merge"), dict):
            if names:
                raise UsageError(
                    f"{path} is a merged report: its vantage points keep their names (leave out --vantage)"
                )
            try:
                out.extend(_split(report, path, sha))
            except (KeyError, TypeError, ValueError) as exc:
                raise UsageError(f"{path}: merged report with unreadable vantage points: {exc}") from exc
            continue
        out.append(Vantage(names[i] if names else Path(path).stem, report, path, sha))
    seen: set[str] = set()
    for v in out:
        if not VANTAGE_RE.match(v.name):
            raise UsageError(
                f"vantage point name {v.name!r} ({v.file}): use letters, digits, '.', '_' or '-' (give --vantage NAME)"
            )
        if v.name in seen:
            raise UsageError(f"vantage point {v.name!r} appears twice: give distinct --vantage names")
        seen.add(v.name)
    return out


def default_profile(vantages: list[Vantage]) -> str:
    """The profile the inputs were judged under, when they agree; else a UsageError asking for --profile."""
    names = sorted({v.report.profile for v in vantages})
    if len(names) != 1:
        raise UsageError(f"the reports were judged under different profiles ({', '.join(names)}): give --profile")
    return names[0]


# --- merging ------------------------------------------------------------------------------------------


@dataclass
class _Entry:
    vantage: str
    finding: Finding
    counted: bool


def _counted(f: Finding, has_v6: bool | None, obs_by_id: dict[str, Observation]) -> bool:
    """False when the finding depends on IPv6 transport and the vantage point has no IPv6 itself."""
    if has_v6 is not False:
        return True
    if _is_v6(f.subject) or f.rule_id in IPV6_TRANSPORT_RULES:
        return False
    failed = [o for e in f.evidence if (o := obs_by_id.get(e)) is not None and o.error]
    return not (failed and all(_obs_is_v6(o) for o in failed))


def _message(entries: list[_Entry], no_verdict: list[str], not_checked: list[str], lang: str) -> str:
    words, text = VERDICT_WORDS[lang], TEXT[lang]
    groups: dict[tuple[str, str], list[str]] = {}
    counted = sorted((e for e in entries if e.counted), key=lambda e: VERDICT_ORDER.index(e.finding.verdict))
    for e in counted:
        groups.setdefault((e.finding.verdict, e.finding.text(lang)), []).append(e.vantage)
    parts = [f"{', '.join(vps)}: {words[v]} — {msg}" for (v, msg), vps in groups.items()]
    if not counted:
        parts.insert(0, text["nobody"])
    parts += [
        text["set_aside"].format(vp=e.vantage, verdict=words[e.finding.verdict], msg=e.finding.text(lang))
        for e in entries
        if not e.counted
    ]
    if no_verdict:
        parts.append(text["no_verdict"].format(vps=", ".join(no_verdict)))
    if not_checked:
        parts.append(text["not_checked"].format(vps=", ".join(not_checked)))
    return " | ".join(parts)


def _vantage_meta(v: Vantage, has_v6: bool | None, why: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": v.name,
        "file": v.file,
        "sha256": v.sha256,
        "tool_version": v.report.tool_version,
        "profile": v.report.profile,
        "started": v.report.started,
        "finished": v.report.finished,
        "ipv6": has_v6,
        "ipv6_evidence": why,
        "targets_checked": len(v.report.targets),
        "settings": v.report.settings,
        "targets": [t.to_dict() for t in v.report.targets],
    }
    if v.via:
        meta["via"] = v.via
    return meta


def _common_settings(vantages: list[Vantage]) -> dict[str, Any]:
    """Probe settings every vantage point shared (root hints, trust anchor...), for renderers."""
    first = vantages[0].report.settings
    return {
        k: val
        for k, val in first.items()
        if k != "merge" and all(v.report.settings.get(k) == val for v in vantages[1:])
    }


def merge_reports(vantages: list[Vantage], profile: Profile,
                  ipv6: dict[str, tuple[bool | None, str]] | None = None) -> Report:
    """One Report over every vantage point: see the module docstring. Pure.
    ipv6: what a vantage point said of its own IPv6 (has it, evidence), e.g. a worker's self-test (netready
    monitor); otherwise it is read from its report (ipv6_at)."""
    if not vantages:
        raise UsageError("no report to merge")
    rules = list(catalogue())
    meta = []
    targets: dict[str, Target] = {}
    checked_at: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    observations: list[Observation] = []
    groups: dict[tuple[str, str, str | None], list[_Entry]] = {}
    judged_at: dict[str, list[str]] = {}  # target -> vantage points that judged it
    for v in vantages:
        has_v6, why = (ipv6 or {}).get(v.name) or ipv6_at(v.report)
        meta.append(_vantage_meta(v, has_v6, why))
        by_target: dict[str, list[Observation]] = {}
        for o in v.report.observations:
            by_target.setdefault(o.target, []).append(o)
        obs_by_id = {o.id: o for o in v.report.observations}
        observations += [
            replace(o, id=f"{v.name}{SEP}{o.id}", subject=f"{v.name}{SEP}{o.subject}") for o in v.report.observations
        ]
        for t in v.report.targets:
            key = t.ascii_name
            merged = targets.setdefault(key, Target(name=t.name, ascii_name=key))
            merged.ipv4 += [a for a in t.ipv4 if a not in merged.ipv4]
            merged.ipv6 += [a for a in t.ipv6 if a not in merged.ipv6]
            if t.error:
                errors.setdefault(key, []).append(f"{v.name}: {t.error}")
            if v.name in checked_at.setdefault(key, []):
                continue  # the same name twice in one report: judged once
            checked_at[key].append(v.name)
            judged_at.setdefault(key, []).append(v.name)
            for f in judge_target(t, by_target.get(key, []), profile):
                counted = _counted(f, has_v6, obs_by_id)
                f.evidence = [f"{v.name}{SEP}{e}" for e in f.evidence]
                groups.setdefault((key, f.rule_id, f.subject), []).append(_Entry(v.name, f, counted))
    for key, errs in errors.items():
        targets[key].error = "; ".join(errs)
    all_names = [v.name for v in vantages]
    target_index = {name: i for i, name in enumerate(targets)}
    rule_index = {rule: i for i, rule in enumerate(rules)}
    order = {k: i for i, k in enumerate(groups)}
    findings: list[Finding] = []
    for (target, rule_id, subject), entries in sorted(
        groups.items(), key=lambda kv: (target_index[kv[0][0]], rule_index.get(kv[0][1], len(rules)), order[kv[0]])
    ):
        seen = {e.vantage for e in entries}
        no_verdict = [n for n in judged_at[target] if n not in seen]
        not_checked = [n for n in all_names if n not in checked_at[target]]
        counted_entries = [e for e in entries if e.counted]
        # A consequence (caused_by: no TLS on this address from there) says nothing about the rule itself:
        # where another vantage point could judge the rule, its verdict stands.
        judged = [e for e in counted_entries if not e.finding.caused_by] or counted_entries
        counted = [e.finding.verdict for e in judged]
        verdict = worst(counted) if counted else "error"
        chosen = next((e.finding for e in judged if e.finding.verdict == verdict), None)
        findings.append(
            Finding(
                rule_id=rule_id,
                target=target,
                verdict=verdict,  # type: ignore[arg-type]
                level=profile.level(rule_id),  # type: ignore[arg-type]
                message={lang: _message(entries, no_verdict, not_checked, lang) for lang in ("vi", "en")},
                subject=subject,
                evidence=[e for entry in entries for e in entry.finding.evidence],
                caused_by=chosen.caused_by if chosen else None,
                fix=chosen.fix if chosen else None,
            )
        )
    merged_targets = list(targets.values())
    summary = summarize(merged_targets, findings)
    for name, s in summary["targets"].items():
        s["vantage_points"] = checked_at[name]
        s["not_checked_at"] = [n for n in all_names if n not in checked_at[name]]
    settings = {
        **_common_settings(vantages),
        "profile": profile.to_dict(),
        "merge": {"verdict_order": list(VERDICT_ORDER), "vantage_points": meta},
    }
    return Report(
        tool_version=__version__,
        started=min(v.report.started for v in vantages),
        finished=max(v.report.finished for v in vantages),
        profile=profile.name,
        settings=settings,
        targets=merged_targets,
        observations=observations,
        findings=findings,
        summary=summary,
    )


def merge_files(paths: list[str], names: list[str] | None = None, profile: str | None = None) -> Report:
    """`netready merge`: read the reports, pick the profile (--profile, else the one the reports share), merge."""
    from netready.profiles import BUILTIN, ProfileError, load_profile

    vantages = load_vantages(paths, names)
    ref = profile or default_profile(vantages)
    if not profile and ref not in BUILTIN:
        # The name comes from the report files: never let a file choose a path for netready to read.
        raise UsageError(f"the reports were judged under profile {ref!r}, not a built-in one "
                         f"({', '.join(BUILTIN)}): give --profile")
    try:
        prof = load_profile(ref)
    except ProfileError as exc:
        hint = "" if profile else " (the profile the reports were judged under; give --profile)"
        raise UsageError(f"{exc}{hint}") from exc
    return merge_reports(vantages, prof)


MERGE_MSG = {
    "en": "merged {n} report(s) from vantage points {names}: {targets} target(s){partial}; written to {output}",
    "vi": "đã gộp {n} báo cáo từ các điểm đo {names}: {targets} tên miền{partial}; đã ghi vào {output}",
}
PARTIAL_MSG = {"en": ", {k} checked at only some vantage points", "vi": ", {k} chỉ được kiểm tra tại một số điểm đo"}


def merge_note(report: Report, output: str, lang: str = "en") -> str:
    """The line `netready merge -o FILE` prints on stderr."""
    names = [vp["name"] for vp in report.settings["merge"]["vantage_points"]]
    partial = sum(1 for s in report.summary["targets"].values() if s.get("not_checked_at"))
    return MERGE_MSG[lang].format(
        n=len(names),
        names=", ".join(names),
        targets=len(report.targets),
        output=output,
        partial=PARTIAL_MSG[lang].format(k=partial) if partial else "",
    )
