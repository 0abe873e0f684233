"""Playbook tests: each module starts from the machines' starting state (the session `machines` fixture of
tests/conftest.py, reset here) and the lab inventory from the one generator (netready.lab.machines).

The modules change the machines, so each one resets them at its start and again at its end (later modules
and test files then find the starting state). The machines run in the caller's network namespace, like the
lab: run these tests in a namespace of your own
(`ip netns exec NAME env NETREADY_LAB_NAME=NAME pytest tests/playbooks`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# web1 also gets a firewall that lets IPv4 web traffic in and drops IPv6 web traffic: the dual-stack
# playbook must open it (a common state of servers that were set up IPv4-only).
WEB1_FIREWALL = """flush ruleset
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
    meta l4proto { icmp, ipv6-icmp } accept
    meta nfproto ipv4 tcp dport { 22, 53, 80, 443 } accept
    meta nfproto ipv4 udp dport 53 accept
  }
}
"""


def _reset(machines: dict) -> None:
    from netready.lab import machines as mach

    machines.update({m.name: m for m in mach.reset()})
    # The work files of earlier runs describe keys the fresh machines do not have.
    for sub in ("ds", "csr"):
        shutil.rmtree(mach.work_dir() / sub, ignore_errors=True)


@pytest.fixture(scope="module")
def fresh_machines(machines):
    """The session's machines, reset to their starting state (plus web1's IPv4-only firewall)."""
    _reset(machines)
    res = machines["web1"].run(["sh", "-c", "cat > /etc/nftables.conf && nft -f /etc/nftables.conf"],
                               input=WEB1_FIREWALL)
    assert res.returncode == 0, res.stderr
    yield machines
    _reset(machines)


@pytest.fixture(scope="module")
def lab_inv(fresh_machines, tmp_path_factory) -> str:
    """The generated inventory for this lab and namespace (what inventories/lab/hosts.yml is for nrlab)."""
    from netready.lab.machines import write_inventory

    return str(write_inventory(tmp_path_factory.mktemp("inv") / "hosts.yml"))


@pytest.fixture(scope="module")
def work_dir(lab_inv) -> Path:
    """Where the playbooks leave this lab's DS exports (ds/) and CSRs (csr/)."""
    from netready.lab.machines import work_dir

    return work_dir()
