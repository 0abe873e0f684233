"""The netready.readiness collection (`make collection`), installed with ansible-galaxy into a temporary path, run by
FQCN with ansible-playbook against the lab machines in check mode: every host reached, nothing failed, changes
announced where the machines need them (they start non-compliant) and none made. No role comes from this tree
(ANSIBLE_ROLES_PATH points at an empty folder, and the run starts outside the checkout)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netready.collection import FQCN

from .state import machine_state


@pytest.fixture(scope="module")
def machines_inventory(machines, tmp_path_factory) -> str:
    """The session's machines as they are (a check-mode run changes nothing, so no reset is needed)."""
    from netready.lab.machines import write_inventory

    return str(write_inventory(tmp_path_factory.mktemp("inv") / "hosts.yml"))


def test_collection_site_playbook_by_fqcn_in_check_mode(installed_collection, machines, machines_inventory,
                                                        tmp_path):
    _archive, installed = installed_collection
    (tmp_path / "no-roles").mkdir()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_ROLES_PATH=str(tmp_path / "no-roles"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_RETRY_FILES_ENABLED="False",
               ANSIBLE_PIPELINING="True",  # as netready's ansible.cfg (and the collection's README) has it
               ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cp"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("ANSIBLE_CONFIG", None)
    before = machine_state(machines)
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", machines_inventory,
                           f"{FQCN}.site", "--check", "--diff"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-2000:]
    recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
             for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", out, re.M)}
    assert set(recap) >= {"web1", "bind1", "knot1"}, out[-3000:]
    for host in ("web1", "bind1", "knot1"):
        assert recap[host]["failed"] == 0 and recap[host]["unreachable"] == 0, (host, recap[host])
        assert recap[host]["changed"] > 0, (host, recap[host])  # the starting state needs fixing...
    assert f"{FQCN}.dnssec" in out or "netready.readiness" in out  # roles ran from the collection
    assert machine_state(machines) == before  # ...and check mode changed nothing
