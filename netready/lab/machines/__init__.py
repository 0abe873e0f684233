"""Lab machines for remediation: real Debian hosts with systemd (systemd-nspawn -b) that Ansible can fix.

    from netready.lab.machines import up, down, status, machines, delegate, write_inventory, submit_exported_ds

web1 (nginx, IPv4 only, self-signed, no redirect, no HSTS), bind1 (BIND, unsigned machine-bind.gov.vn),
knot1 (Knot, unsigned machine-knot.gov.vn). See docs/machines.md.
"""

from .delegation import delegate, submit_exported_ds, undelegate
from .image import ensure_image
from .inventory import lab_inventory_path, work_dir, write_inventory, write_lab_inventory
from .runtime import Machine, down, machines, reset, status, up
from .spec import SPECS, MachineSpec

__all__ = ["SPECS", "Machine", "MachineSpec", "delegate", "down", "ensure_image", "lab_inventory_path", "machines",
           "reset", "status", "submit_exported_ds", "undelegate", "up", "work_dir", "write_inventory",
           "write_lab_inventory"]
