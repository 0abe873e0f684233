"""Built-in offline lab: a small Internet in network namespaces (signed DNS hierarchy from a lab root,
validating resolver, lab CA, one nginx with a portal per scenario). See docs/lab.md.

    from netready.lab import up, down, status, env, LabEnv, LabError
"""

from .errors import LabError
from .model import LabEnv, Portal
from .orchestrate import down, env, is_up, lab_name, state_dir, status, up
from .scenarios import RULES, SCENARIOS

__all__ = [
    "LabEnv",
    "LabError",
    "Portal",
    "RULES",
    "SCENARIOS",
    "down",
    "env",
    "is_up",
    "lab_name",
    "state_dir",
    "status",
    "up",
]
