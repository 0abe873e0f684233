"""The result model: targets, observations, findings and reports, with a JSON round trip.

Probes produce Observations (raw facts, never verdicts); the judge turns them into Findings;
a Report carries both, so a saved report can be judged again offline.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from netready.sanitize import clean

SCHEMA_VERSION = 1

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
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        finding = cls(**clean(data))  # reports written before caused_by/fix existed load with both None
        if finding.verdict not in VERDICTS or finding.level not in LEVELS:
            raise ValueError(f"finding {finding.rule_id!r}: unknown verdict {finding.verdict!r} or level "
                             f"{finding.level!r} (verdicts: {', '.join(VERDICTS)}; levels: {', '.join(LEVELS)})")
        return finding


@dataclass
class Report:
    """Everything one run saw and concluded; the unit that is saved, re-judged and rendered."""

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tool_version": self.tool_version,
            "started": self.started,
            "finished": self.finished,
            "profile": self.profile,
            "settings": self.settings,
            "targets": [t.to_dict() for t in self.targets],
            "observations": [o.to_dict() for o in self.observations],
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report from its JSON form; anything that is not one raises ValueError saying what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"not a netready report: top level is {type(data).__name__}, not an object")
        try:
            return cls._from_dict(data)
        except (TypeError, AttributeError, KeyError) as exc:
            raise ValueError(f"not a valid netready report (schema {SCHEMA_VERSION}): {type(exc).__name__}: {exc}") \
                from exc

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> Report:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"unsupported report schema_version {version!r} (this netready reads {SCHEMA_VERSION})")
        return cls(
            schema_version=version,
            tool_version=clean(data["tool_version"]),
            started=clean(data["started"]),
            finished=clean(data["finished"]),
            profile=clean(data["profile"]),
            settings=clean(data.get("settings", {})),
            targets=[Target.from_dict(t) for t in data.get("targets", [])],
            observations=[Observation.from_dict(o) for o in data.get("observations", [])],
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
            summary=clean(data.get("summary", {})),
        )

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
