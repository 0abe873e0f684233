"""Fixtures for the playbook tests: fresh lab machines (web1, bind1, knot1) and an inventory for them.

The machines are re-created at the start of the module (the tests change them) and stopped at its end.
They run in the caller's network namespace, like the lab: run these tests in a namespace of your own
(`ip netns exec NAME env NETREADY_LAB_NAME=NAME pytest tests/playbooks`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .labinv import lab_inventory

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


@pytest.fixture(scope="module")
def lab_machines(lab):
    from netready.lab import machines as M

    M.down()  # a clean, deliberately non-compliant start
    ms = {m.name: m for m in M.up()}
    res = ms["web1"].run(["sh", "-c", "cat > /etc/nftables.conf && nft -f /etc/nftables.conf"], input=WEB1_FIREWALL)
    assert res.returncode == 0, res.stderr
    yield ms
    M.down()


@pytest.fixture(scope="module")
def lab_inv(lab, lab_machines, tmp_path_factory) -> str:
    work = tmp_path_factory.mktemp("playbooks")
    return str(lab_inventory(work / "inv", Path(lab.ca_bundle).parent, work))


@pytest.fixture(scope="module")
def work_dir(lab_inv) -> Path:
    return Path(lab_inv).parent.parent
