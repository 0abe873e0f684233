"""The rule catalogue, read from data/rules.yaml (ids, default levels, bilingual texts, sources)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from netready import resources

CATEGORIES: dict[str, dict[str, str]] = {
    "https": {"en": "HTTPS/TLS", "vi": "HTTPS/TLS"},
    "ipv6": {"en": "IPv6", "vi": "IPv6"},
    "dnssec": {"en": "DNSSEC", "vi": "DNSSEC"},
    "naming": {"en": "Naming", "vi": "Đặt tên"},
}


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
    action: str | None = None  # the `netready remediate` action whose playbook fixes this rule

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
