"""The result model: targets, observations, findings and reports, with a JSON round trip.

Probes produce Observations (raw facts, never verdicts); the judge turns them into Findings;
a Report carries both, so a saved report can be judged again offline.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from netready.sanitize import clean

# 2: results grouped per target, shared evidence stored once (netready/evidence.py); 3: a result's own name and
# zone written as marks ("names", evidence.stand_in_names), so evidence that differs only in them is shared
SCHEMA_VERSION = 3
READABLE_SCHEMA_VERSIONS = (1, 2, 3)

Verdict = Literal["pass", "fail", "warn", "info", "error"]
Level = Literal["required", "recommended", "info"]
VERDICTS: tuple[str, ...] = ("pass", "fail", "warn", "info", "error")
LEVELS: tuple[str, ...] = ("required", "recommended", "info")


def utc_now() -> str:
    """ISO 8601 UTC timestamp with milliseconds, the one format used in reports."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ProbeSettings:
    """What every probe needs to stay off the system resolver and system trust when told to."""

    resolvers: list[str] = field(default_factory=list)  # recursive resolvers to fetch through
    root_hints: str | None = None  # zone-file with root NS + addresses (iterative mode)
    trust_anchor: str | None = None  # DS/DNSKEY records for "." in zone-file form
    ca_file: str | None = None  # extra CA bundle (PEM) added to the trust store
    timeout: float = 2.0  # per network operation, seconds
    budget: float = 30.0  # per target, seconds
    lab: bool = False  # lab profile: documentation prefixes are acceptable
    # The IPv6-only page check (probes/ipv6only.py): load pages in headless Chromium (False: parse the HTML
    # only), the portal's other pages to load too (paths or URLs, e.g. the login page), and earlier reports
    # (or another history source) that say since when a host has been IPv4-only.
    browser: bool = True
    # Why the pages are not loaded in the browser when browser is False (--no-browser, or the batch rule of
    # netready.app.with_ipv6only_options): stated in every VN-IPV6-ONLY finding and in the report's settings.
    browser_off: str | None = None
    follow: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Target:
    """A portal name as the user gave it, its ASCII (IDNA) form and the addresses it resolved to."""

    name: str
    ascii_name: str
    ipv4: list[str] = field(default_factory=list)
    ipv6: list[str] = field(default_factory=list)
    error: str | None = None  # why the name could not be used or resolved

    @property
    def addresses(self) -> list[str]:
        return [*self.ipv4, *self.ipv6]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        return cls(**clean(data))

    def cleaned(self) -> Target:
        """This target with control characters escaped in its texts (the name may come from an input file)."""
        return Target(**clean(self.to_dict()))


@dataclass
class Observation:
    """One raw fact a probe saw: what it asked, what came back, when, and any error."""

    id: str  # unique within a report, e.g. "tls:dichvucong.good.gov.vn:198.51.100.10"
    probe: str  # dns | dnssec | tls | http | ipv6 | naming
    target: str  # ascii name of the target
    subject: str  # what exactly was probed: an address, a zone, a server, the name
    asked: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable, probe-specific
    started: str = field(default_factory=utc_now)
    duration_ms: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        obs = cls(**clean(data))
        if obs.probe == "dnssec":
            check_key_tags(obs.data, obs.id)
        return obs

    def clean(self) -> Observation:
        """Escape control characters in what the server sent (sanitize.clean), in place; returns self."""
        self.subject, self.asked, self.data, self.error = (clean(self.subject), clean(self.asked), clean(self.data),
                                                           clean(self.error))
        return self


class ObservationTimer:
    """Fills started/duration_ms of an Observation around a block of probing."""

    def __init__(self, obs: Observation) -> None:
        self.obs = obs
        self._t0 = 0.0

    def __enter__(self) -> Observation:
        self.obs.started = utc_now()
        self._t0 = time.perf_counter()
        return self.obs

    def __exit__(self, *exc: object) -> None:
        self.obs.duration_ms = round((time.perf_counter() - self._t0) * 1000, 3)


@dataclass
class TargetResult:
    """What checking one target gave: the target, its observations and the findings judged from them."""

    target: Target
    observations: list[Observation]
    findings: list[Finding]


@dataclass
class Finding:
    """A verdict of one rule on one target (and, where it applies per address or zone, one subject)."""

    rule_id: str
    target: str
    verdict: Verdict
    level: Level
    message: dict[str, str]  # {"vi": ..., "en": ...}
    subject: str | None = None  # an address, zone or server; None for the whole target
    evidence: list[str] = field(default_factory=list)  # observation ids
    # The rule whose finding on the same subject is the root cause of this one (e.g. "VN-HTTPS": the
    # address has no TLS, so there is no certificate to judge). Such a finding has verdict "info": it is
    # reported but neither scored nor counted for the status, which comes from the root cause itself.
    caused_by: str | None = None
    # How to fix a fail or warn, from the rule catalogue: {"en", "vi", "action"}; action is the
    # `netready remediate` action whose playbook fixes it, or null.
    fix: dict[str, Any] | None = None

    def text(self, lang: str = "en") -> str:
        return self.message.get(lang) or self.message.get("en") or ""

    def fix_text(self, lang: str = "en") -> str:
        if not self.fix:
            return ""
        return self.fix.get(lang) or self.fix.get("en") or ""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for optional in ("caused_by", "fix"):  # absent when empty: most findings have neither (report size)
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        finding = cls(**clean(data))  # reports written before caused_by/fix existed load with both None
        if finding.verdict not in VERDICTS or finding.level not in LEVELS:
            raise ValueError(f"finding {finding.rule_id!r}: unknown verdict {finding.verdict!r} or level "
                             f"{finding.level!r} (verdicts: {', '.join(VERDICTS)}; levels: {', '.join(LEVELS)})")
        return finding


@dataclass
class Report:
    """Everything one run saw and concluded; the unit that is saved, re-judged and rendered.

    In memory: flat lists of targets, observations and findings (what the judge and the renderers use). On
    disk (schema 2): one entry per target in "results", shared evidence in "shared" (see docs/model.md and
    netready/evidence.py). Schema 1 reports (flat lists, nothing shared) still load.
    """

    tool_version: str
    started: str
    finished: str
    profile: str
    settings: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def head(self) -> dict[str, Any]:
        """The fields written before the evidence."""
        return {
            "schema_version": SCHEMA_VERSION,
            "tool_version": self.tool_version,
            "started": self.started,
            "finished": self.finished,
            "profile": self.profile,
            "settings": self.settings,
        }

    def grouped(self) -> list[tuple[Target, list[Observation], list[Finding]]]:
        """Observations and findings per target, in target order (what the file stores per result). Those whose
        target is not in the report stay with the last target, and keep their own target name."""
        slots: dict[str, tuple[Target, list[Observation], list[Finding]]] = {}
        out = []
        for t in self.targets:
            entry = (t, [], [])
            out.append(entry)
            slots.setdefault(t.ascii_name, entry)
        if not out and (self.observations or self.findings):
            out.append((Target(name="", ascii_name=""), [], []))
        for o in self.observations:
            (slots.get(o.target) or out[-1])[1].append(o)
        for f in self.findings:
            (slots.get(f.target) or out[-1])[2].append(f)
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """The report as written to a file (schema 2). indent=None: one line."""
        from netready.evidence import Interner, plain

        interner = Interner()
        writer = ReportWriter(indent is not None)
        parts = []
        for n, (target, observations, findings) in enumerate(self.grouped()):
            record = result_record(target, observations, findings)
            interner.begin(n, [record["observations"], record["findings"]], record.get("names"))
            parts.append((plain(record["target"]), [interner.encode_entry(o) for o in record["observations"]],
                          [interner.encode_entry(f) for f in record["findings"]], record.get("names")))
            writer.shared.update(interner.end())
        out = io.StringIO()
        writer.start(out, self.head())
        writer.write_shared(out, writer.shared.items())
        writer.begin_results(out)
        for target_text, obs_texts, finding_texts, names in parts:
            writer.write_result(out, target_text, obs_texts, finding_texts, names)
        writer.end(out, self.summary)
        return out.getvalue()

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON form (schema 2) as Python values, references to shared evidence included."""
        return json.loads(self.to_json(indent=None))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report from its JSON form; anything that is not one raises ValueError saying what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"not a netready report: top level is {type(data).__name__}, not an object")
        version = data.get("schema_version")
        if version not in READABLE_SCHEMA_VERSIONS:
            raise ValueError(f"unsupported report schema_version {version!r} (this netready reads "
                             f"{', '.join(str(v) for v in READABLE_SCHEMA_VERSIONS)})")
        try:
            return cls._from_dict(data, version)
        except (TypeError, AttributeError, KeyError, IndexError) as exc:
            raise ValueError(f"not a valid netready report (schema {version}): {type(exc).__name__}: {exc}") \
                from exc

    @classmethod
    def _from_dict(cls, data: dict[str, Any], version: int) -> Report:
        report = cls(
            schema_version=SCHEMA_VERSION,
            tool_version=clean(data["tool_version"]),
            started=clean(data["started"]),
            finished=clean(data["finished"]),
            profile=clean(data["profile"]),
            settings=clean(data.get("settings", {})),
            summary=clean(data.get("summary", {})),
        )
        if version == 1:
            report.targets = [Target.from_dict(t) for t in data.get("targets", [])]
            report.observations = [Observation.from_dict(o) for o in data.get("observations", [])]
            report.findings = [Finding.from_dict(f) for f in data.get("findings", [])]
            return report
        from netready.evidence import table_resolver

        shared = data.get("shared") or {}
        if not isinstance(shared, dict):
            raise TypeError("'shared' is not an object")
        resolver = table_resolver(shared)
        for raw in data.get("results", []):
            target, observations, findings = result_from_record(resolver.resolve(raw))
            if target.ascii_name or target.name:
                report.targets.append(target)
            report.observations += observations
            report.findings += findings
        return report

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> Report:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def observations_for(self, target: str) -> list[Observation]:
        return [o for o in self.observations if o.target == target]

    def findings_for(self, target: str) -> list[Finding]:
        return [f for f in self.findings if f.target == target]


KEY_TAG_FIELDS = ("key_tag", "matches")


def check_key_tags(data: Any, where: str) -> None:
    """A DNSSEC observation's key tags (key_tag, and DS `matches`) are integers 0..65535, in place: digit strings
    become ints, anything else is refused. The chain picture builds node names from them, so a loaded report
    must not carry text there (issue #15)."""
    if isinstance(data, list):
        for item in data:
            check_key_tags(item, where)
        return
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if key in KEY_TAG_FIELDS and not isinstance(value, dict | list):
            if value is None and key == "matches":
                continue
            if isinstance(value, str) and value.isascii() and value.isdigit():
                value = data[key] = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
                raise ValueError(f"observation {where}: {key} must be an integer 0..65535, not {value!r}")
        else:
            check_key_tags(value, where)


# --- one target's entry in a file (the report's "results", a journal line) ---------------------------------


def result_record(target: Target, observations: list[Observation], findings: list[Finding]) -> dict[str, Any]:
    """One target's evidence as stored: observations and findings without the target's name (unless theirs
    differs), a finding's evidence as positions in this entry's observations (an id not among them stays an
    id). Every other field is kept as is, so fields added to the model are stored without a change here."""
    name = target.ascii_name
    position: dict[str, int] = {}
    for i, o in enumerate(observations):
        position.setdefault(o.id, i)
    obs = []
    for o in observations:
        d = {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        if d["target"] == name:
            del d["target"]
        obs.append(d)
    found = []
    for f in findings:
        d = {fl.name: getattr(f, fl.name) for fl in dataclasses.fields(f)}
        if d["target"] == name:
            del d["target"]
        d["evidence"] = [position.get(e, e) for e in f.evidence]
        for optional in ("caused_by", "fix"):  # as Finding.to_dict: absent when empty
            if d[optional] is None:
                del d[optional]
        found.append(d)
    from netready.evidence import stand_in_names, with_marks

    names = stand_in_names(name)
    (obs, found), marked = with_marks([obs, found], names)
    record = {"target": target.to_dict(), "observations": obs, "findings": found}
    if marked:
        record["names"] = names
    return record


def result_from_record(record: dict[str, Any]) -> tuple[Target, list[Observation], list[Finding]]:
    """The inverse of result_record (references already resolved)."""
    if "names" in record:
        from netready.evidence import without_marks

        names = record["names"]
        if not (isinstance(names, list) and names and all(type(n) is str and n for n in names)):
            raise TypeError(f"malformed names of a result: {names!r}")
        obs, found = without_marks([record["observations"], record["findings"]], names)
        record = {**record, "observations": obs, "findings": found}
    target = Target.from_dict(record["target"])
    name = target.ascii_name
    observations = [Observation.from_dict({**o, "target": o.get("target", name)}) for o in record["observations"]]
    ids = [o.id for o in observations]
    findings = []
    for f in record["findings"]:
        evidence = []
        for e in f.get("evidence", []):
            if type(e) is int:
                if not 0 <= e < len(ids):
                    raise IndexError(f"evidence {e} of {f.get('rule_id')} points past the observations of {name}")
                evidence.append(ids[e])
            else:
                evidence.append(e)
        findings.append(Finding.from_dict({**f, "target": f.get("target", name), "evidence": evidence}))
    return target, observations, findings


class ReportWriter:
    """The layout of a report file: the head indented, one shared definition per line, one observation and
    one finding per line within each target's entry, the summary with one line per target. Used for a
    report in memory (Report.to_json) and for one streamed from a journal (netready.journal)."""

    def __init__(self, pretty: bool = True) -> None:
        self.pretty = pretty
        self.shared: dict[int, str] = {}
        self._first = True

    def _nl(self, pad: int) -> str:
        return "\n" + " " * pad if self.pretty else ""

    def start(self, out: IO[str], head: dict[str, Any]) -> None:
        out.write("{")
        for i, (key, value) in enumerate(head.items()):
            text = json.dumps(value, ensure_ascii=False, indent=2 if self.pretty else None)
            out.write(("," if i else "") + self._nl(2) + f"{json.dumps(key)}: " + text.replace("\n", self._nl(2)))

    def write_shared(self, out: IO[str], definitions: Iterable[tuple[int, str]]) -> None:
        out.write("," + self._nl(2) + '"shared": {')
        first = True
        for ref, text in definitions:
            out.write(("" if first else ",") + self._nl(4) + f'"{ref}": {text}')
            first = False
        out.write(("" if first else self._nl(2)) + "}")

    def begin_results(self, out: IO[str]) -> None:
        out.write("," + self._nl(2) + '"results": [')
        self._first = True

    def write_result(self, out: IO[str], target: str, observations: list[str], findings: list[str],
                     names: list[str] | None = None) -> None:
        out.write(("" if self._first else ",") + self._nl(4) + '{"target": ' + target)
        self._first = False
        for key, items in (("observations", observations), ("findings", findings)):
            out.write(f', "{key}": [' + ",".join(self._nl(6) + item for item in items) + "]")
        if names:  # the names the entry writes as marks (netready/evidence.py, stand_in_names)
            out.write(', "names": ' + json.dumps(names))
        out.write("}")

    def end_results(self, out: IO[str]) -> None:
        out.write(("" if self._first else self._nl(2)) + "]")

    def end(self, out: IO[str], summary: dict[str, Any]) -> None:
        self.end_results(out)
        out.write("," + self._nl(2) + '"summary": ' + summary_json(summary, self.pretty))
        out.write("\n}" if self.pretty else "}")


def summary_json(summary: dict[str, Any], pretty: bool = True) -> str:
    """The summary object: its per-target entries one per line, the rest as is."""
    nl = (lambda pad: "\n" + " " * pad) if pretty else (lambda pad: "")
    parts = []
    for key, value in summary.items():
        if key == "targets" and isinstance(value, dict):
            inner = ",".join(nl(6) + f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
                             for k, v in value.items())
            parts.append(nl(4) + '"targets": {' + inner + (nl(4) if value else "") + "}")
        else:
            parts.append(nl(4) + f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{" + ",".join(parts) + (nl(2) if parts else "") + "}"
