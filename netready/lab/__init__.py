"""Built-in offline lab: a small Internet in network namespaces (signed DNS hierarchy from a lab root,
validating resolver, lab CA, one nginx with a portal per scenario). See docs/lab.md.

    from netready.lab import up, down, status, env, LabEnv, LabError

Reading a running lab's environment (env, lab_name, state_dir) needs only netready.lab.state; the
orchestration (up, down, status, is_up) and the scenario tables (RULES, SCENARIOS) are imported the first
time one of those is used, so a command that only reads the environment (`netready dnssec|tls --lab NAME`)
does not pay for them.
"""

from __future__ import annotations

from typing import Any

from .errors import LabError
from .model import LabEnv, Portal
from .state import env, lab_name, state_dir, trust

_ORCHESTRATION = ("down", "is_up", "status", "up")
_SCENARIO_TABLES = ("RULES", "SCENARIOS")  # built when first read: `--lab` itself needs only the state (~10 ms)

__all__ = [
    "LabEnv",
    "LabError",
    "Portal",
    "RULES",
    "SCENARIOS",
    "down",
    "env",
    "trust",
    "is_up",
    "lab_name",
    "state_dir",
    "status",
    "up",
]


def __getattr__(name: str) -> Any:
    if name in _ORCHESTRATION:
        from . import orchestrate

        return getattr(orchestrate, name)
    if name in _SCENARIO_TABLES:
        from . import scenarios

        return getattr(scenarios, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
