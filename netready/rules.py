"""The rule catalogue, read from data/rules.yaml: ids, default levels, bilingual texts, sources, and each rule's
metadata (category, the area command that judges it, the remediation action that fixes it). Everything that asks
"which rules are of this area / fixed by this action" asks here, so a new rule needs only its catalogue entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from netready import resources

CATEGORIES: dict[str, dict[str, str]] = {
    "https": {"en": "HTTPS/TLS", "vi": "HTTPS/TLS", "area": "tls"},
    "ipv6": {"en": "IPv6", "vi": "IPv6", "area": "ipv6"},
    "dnssec": {"en": "DNSSEC", "vi": "DNSSEC", "area": "dnssec"},
    "naming": {"en": "Naming", "vi": "Đặt tên", "area": "ipv6"},
}
AREAS = ("dnssec", "tls", "ipv6")  # the area commands: netready dnssec|tls|ipv6
ACTIONS = ("dual-stack", "dnssec", "tls")  # netready remediate ACTION (and "all": every one of them)


class CatalogueError(ValueError):
    """data/rules.yaml names an unknown category, area or action."""


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    category: str
    source: str
    title: dict[str, str]
    passes_when: dict[str, str]
    remediation: str
    # One line on how to fix a fail or warn, per reason: {"default": {"en", "vi"}, "<hint>": {...}}.
    # An evaluator names the reason (Outcome.hint); the judge copies the text into the finding.
    fix: dict[str, dict[str, str]] = field(default_factory=dict)
    area: str = ""  # the area command that judges it; "" = the area of its category
    action: str | None = None  # the `netready remediate` action whose playbook fixes it; None = no playbook can

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise CatalogueError(f"rule {self.id}: unknown category {self.category!r}")
        if not self.area:
            object.__setattr__(self, "area", CATEGORIES[self.category]["area"])
        if self.area not in AREAS:
            raise CatalogueError(f"rule {self.id}: unknown area {self.area!r} (one of {', '.join(AREAS)})")
        if self.action is not None and self.action not in ACTIONS:
            raise CatalogueError(f"rule {self.id}: unknown action {self.action!r} (one of {', '.join(ACTIONS)})")

    def text(self, field: str, lang: str) -> str:
        texts: dict[str, str] = getattr(self, field)
        return texts.get(lang) or texts["en"]

    def fix_for(self, hint: str | None = None) -> dict[str, Any] | None:
        """The fix hint of one reason (or the rule's default): {"en", "vi", "action"}, or None."""
        text = self.fix.get(hint or "default") or self.fix.get("default")
        if not text and not self.action:
            return None
        return {"en": (text or {}).get("en", ""), "vi": (text or {}).get("vi", ""), "action": self.action}


@cache
def catalogue() -> dict[str, Rule]:
    """All rules by id, in catalogue order."""
    text = resources.read_text("data", "rules.yaml")
    # libyaml's loader when PyYAML has it: 3 ms instead of 60 for the catalogue, on every command run.
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {r["id"]: Rule(**r) for r in raw["rules"]}


def of_area(area: str) -> tuple[str, ...]:
    """The ids of the rules an area command (`netready dnssec|tls|ipv6`) judges, in catalogue order."""
    return tuple(r.id for r in catalogue().values() if r.area == area)


def gated_by(action: str) -> tuple[str, ...]:
    """The rules a `netready remediate ACTION` run answers for in its exit code: the required rules its playbook
    fixes ("all": those of every action). A dnssec run is not failed by a certificate it never touched, nor any run
    by a rule no playbook can fix (VN-IPV6-DNS needs a second name server)."""
    actions = ACTIONS if action == "all" else (action,)
    return tuple(r.id for r in catalogue().values() if r.action in actions and r.level == "required")
