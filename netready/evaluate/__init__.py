"""Evaluators: pure functions from a target's observations to outcomes, one or more per rule.

Each area module registers its rules with @evaluator("RULE-ID"). An evaluator receives the
Target, only that target's observations and the Profile, and returns a list of Outcomes (one per
address/zone it judged, or one for the whole target). It must never touch the network.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netready.model import Observation, Target, Verdict

if TYPE_CHECKING:
    from netready.profiles import Profile

# Modules that register evaluators; imported lazily by registry().
AREA_MODULES = (
    "netready.evaluate.naming",
    "netready.evaluate.dnssec",
    "netready.evaluate.tls",
    "netready.evaluate.tls_vulns",
    "netready.evaluate.ipv6",
    "netready.evaluate.ipv6only",
)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    en: str
    vi: str
    subject: str | None = None
    evidence: tuple[str, ...] = field(default_factory=tuple)
    caused_by: str | None = None  # root-cause rule on the same subject (verdict is then "info")
    hint: str | None = None  # which fix hint of the rule applies (a key of its `fix` in rules.yaml)


Evaluator = Callable[[Target, list[Observation], "Profile"], list[Outcome]]
_REGISTRY: dict[str, Evaluator] = {}


def evaluator(rule_id: str) -> Callable[[Evaluator], Evaluator]:
    def register(fn: Evaluator) -> Evaluator:
        _REGISTRY[rule_id] = fn
        return fn

    return register


def registry() -> dict[str, Evaluator]:
    for name in AREA_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside an existing module must surface
                raise
    return dict(_REGISTRY)


def by_probe(observations: list[Observation], probe: str) -> list[Observation]:
    return [o for o in observations if o.probe == probe]
