"""Probes measure; they never judge.

Each area module exposes ``run(target: Target, settings: ProbeSettings) -> list[Observation]``.
Modules are imported lazily (scapy alone costs a second), so a run pays only for what it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from netready.model import Observation, ProbeSettings, Target

ProbeFn = Callable[[Target, ProbeSettings], list[Observation]]

# name -> module; the order is the order observations appear in a report.
PROBE_MODULES: dict[str, str] = {
    "dnssec": "netready.probes.dnssec",
    "tls": "netready.probes.tls",
    "ipv6": "netready.probes.ipv6",
    "ipv6only": "netready.probes.ipv6only",
}


def load(name: str) -> ProbeFn | None:
    """The probe's run function, or None when that probe is not built yet."""
    module_name = PROBE_MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return None
    return getattr(module, "run", None)
