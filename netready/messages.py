"""The bilingual texts of netready's documents (plans, contract clauses, evidence reports), from one catalogue:
data/messages.yaml, each text with its Vietnamese and English side by side."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from netready import resources


@cache
def catalogue() -> dict[str, Any]:
    return yaml.load(resources.read_text("data", "messages.yaml"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def section(document: str, part: str) -> Any:
    """One part of a document's texts, e.g. section("plan", "texts")."""
    return catalogue()[document][part]
