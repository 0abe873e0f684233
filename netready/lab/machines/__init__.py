"""Lab machines for remediation: real Debian hosts with systemd (systemd-nspawn -b) that Ansible can fix.

    from netready.lab.machines import up, down, status, machines, delegate, write_inventory

web1 (nginx, IPv4 only, self-signed, no redirect, no HSTS), bind1 (BIND, unsigned machine-bind.gov.vn),
knot1 (Knot, unsigned machine-knot.gov.vn). See docs/machines.md.
"""

from .delegation import delegate, undelegate
from .image import ensure_image
from .inventory import write_inventory
from .runtime import Machine, down, machines, reset, status, up
from .spec import SPECS, MachineSpec

__all__ = ["SPECS", "Machine", "MachineSpec", "delegate", "down", "ensure_image", "machines", "reset", "status",
           "undelegate", "up", "write_inventory"]
