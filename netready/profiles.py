"""Profiles decide each rule's level and every threshold; severities live in YAML, not in code.

A profile is a built-in name (circular32, strict, lab) or a path to a user's YAML file that may
`extends:` another profile and override `levels:` (rule id -> required|recommended|info) and
`thresholds:`. Malformed files give a ProfileError that names the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netready import resources
from netready.model import LEVELS
from netready.rules import catalogue

BUILTIN = ("circular32", "strict", "lab", "ipv6only")
ALLOWED_KEYS = {"name", "extends", "description", "levels", "thresholds", "lab", "promote_recommended"}


class ProfileError(ValueError):
    """A profile that cannot be used, with the reason."""


@dataclass(frozen=True)
class Profile:
    name: str
    description: dict[str, str] = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)  # effective level of every rule
    thresholds: dict[str, Any] = field(default_factory=dict)
    lab: bool = False

    def level(self, rule_id: str) -> str:
        return self.levels[rule_id]

    def threshold(self, name: str, default: Any = None) -> Any:
        return self.thresholds.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "levels": self.levels, "thresholds": self.thresholds, "lab": self.lab}


def _read_builtin(name: str) -> dict[str, Any]:
    text = resources.read_text("data", "profiles", f"{name}.yaml")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when there: fast


def _read(ref: str) -> tuple[dict[str, Any], str]:
    if ref in BUILTIN:
        return _read_builtin(ref), f"built-in profile {ref}"
    path = Path(ref)
    if not path.is_file():
        raise ProfileError(f"profile {ref!r}: not a built-in profile ({', '.join(BUILTIN)}) and no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile {path}: not valid YAML: {exc}") from exc
    return data, str(path)


def _validate(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: a profile must be a mapping of keys {sorted(ALLOWED_KEYS)}")
    unknown = set(data) - ALLOWED_KEYS
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(ALLOWED_KEYS)}")
    rules = catalogue()
    levels = data.get("levels") or {}
    if not isinstance(levels, dict):
        raise ProfileError(f"{where}: 'levels' must map rule ids to levels")
    for rule_id, level in levels.items():
        if rule_id not in rules:
            raise ProfileError(f"{where}: levels: unknown rule id {rule_id!r}")
        if level not in LEVELS:
            raise ProfileError(f"{where}: levels: {rule_id}: level {level!r} is not one of {list(LEVELS)}")
    thresholds = data.get("thresholds") or {}
    if not isinstance(thresholds, dict):
        raise ProfileError(f"{where}: 'thresholds' must be a mapping of names to numbers")
    for name, value in thresholds.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ProfileError(f"{where}: thresholds: {name}: {value!r} is not a non-negative number")
    return data


def load_profile(ref: str = "circular32", _seen: tuple[str, ...] = ()) -> Profile:
    """Resolve a profile by name or path, following `extends:` and applying overrides in order."""
    if ref in _seen:
        raise ProfileError(f"profile {ref!r}: 'extends' loop through {' -> '.join(_seen)}")
    data, where = _read(ref)
    data = _validate(data, where)
    base_ref = data.get("extends")
    if base_ref:
        if Path(ref).is_file() and not Path(str(base_ref)).is_absolute() and base_ref not in BUILTIN:
            base_ref = str(Path(ref).parent / str(base_ref))
        base = load_profile(str(base_ref), (*_seen, ref))
        levels, thresholds, lab = dict(base.levels), dict(base.thresholds), base.lab
    else:
        levels = {rule_id: rule.level for rule_id, rule in catalogue().items()}
        thresholds, lab = {}, False
    if data.get("promote_recommended"):
        levels = {rid: ("required" if lvl == "recommended" else lvl) for rid, lvl in levels.items()}
    known_thresholds = set(thresholds) or set(data.get("thresholds") or {})
    for name in data.get("thresholds") or {}:
        if base_ref and name not in known_thresholds:
            raise ProfileError(f"{where}: thresholds: unknown name {name!r}; known: {sorted(known_thresholds)}")
    levels.update(data.get("levels") or {})
    thresholds.update(data.get("thresholds") or {})
    if "lab" in data:
        lab = bool(data["lab"])
    name = str(data.get("name") or Path(ref).stem)
    return Profile(name=name, description=data.get("description") or {}, levels=levels, thresholds=thresholds, lab=lab)


def load_for_run(name: str, lab: bool) -> Profile:
    """The profile a run judges by: the one named, except that the command line's default (circular32) on the lab
    means the lab's profile (the lab's own CA and hints, REQUIREMENTS §2)."""
    return load_profile("lab" if lab and name == "circular32" else name)
