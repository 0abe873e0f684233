"""Time the remediation playbooks on fresh lab machines: check mode, each action, and the second run.

Run inside a network namespace of your own, with the lab up in it:
    ip netns exec NS env NETREADY_LAB_NAME=NS .venv/bin/python bench/bench_remediate.py
Prints seconds per run and changed tasks per host. It stops and re-creates the lab machines.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netready import lab  # noqa: E402
from netready.lab import machines as M  # noqa: E402
from netready.model import ProbeSettings  # noqa: E402
from netready.remediate import remediate  # noqa: E402


def main() -> None:
    env = lab.up()
    settings = ProbeSettings(root_hints=env.root_hints, trust_anchor=env.trust_anchor, ca_file=env.ca_bundle,
                             timeout=2.0, lab=True)
    t0 = time.monotonic()
    M.down()
    M.up()
    print(f"machines fresh in {time.monotonic() - t0:.1f} s")
    inv = str(M.write_lab_inventory())
    ds_dir = M.work_dir() / "ds"

    def submit_ds() -> None:  # the registrar's step, as `netready remediate --lab` does it
        M.submit_exported_ds(ds_dir)

    runs = [("all --check", "all", True, None), ("dual-stack", "dual-stack", False, None),
            ("dnssec", "dnssec", False, submit_ds), ("tls", "tls", False, None),
            ("all (second run)", "all", False, None)]
    for label, action, check, between in runs:
        t = time.monotonic()
        r = remediate(action, inv, check=check, settings=settings, between=between)  # type: ignore[arg-type]
        changed = " ".join(f"{h}={s.changed}" for h, s in sorted(r.hosts.items()))
        print(f"{label:<18} {time.monotonic() - t:6.1f} s  exit {r.exit_code()}  changed: {changed}")
    M.down()


if __name__ == "__main__":
    main()
