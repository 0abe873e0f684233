"""Ecosystem hygiene (issue #15, item 7), on the controller: every role declares its arguments, requirements.yml
lists every collection the roles call (and the installed ones satisfy it), requirements.lock pins every Python
dependency with hashes, and the vantage-point role installs only a pinned wheel."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from netready import remediate as R

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "playbooks" / "roles"
LOCK = ROOT / "requirements.lock"


def test_every_role_declares_its_arguments():
    for role in sorted(p for p in ROLES.iterdir() if p.is_dir()):
        spec_file = role / "meta" / "argument_specs.yml"
        assert spec_file.is_file(), f"{role.name} has no meta/argument_specs.yml"
        options = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"]["options"] or {}
        defaults = role / "defaults" / "main.yml"
        declared = set(yaml.safe_load(defaults.read_text()) or {}) if defaults.is_file() else set()
        assert declared <= set(options), f"{role.name}: defaults without an argument spec: {declared - set(options)}"


def test_controller_files_land_beside_the_inventory_not_in_the_playbooks():
    """The playbooks may be installed read-only (inside the netready wheel, or as the netready.readiness
    collection): DS records, CSRs and vantage reports go beside the inventory by default."""
    for f in [*ROLES.rglob("*.yml"), *(ROOT / "playbooks").glob("*.yml")]:
        assert "playbook_dir" not in f.read_text(), f"{f.relative_to(ROOT)} writes relative to the playbooks"
    assert str(R.ds_exports({"ns1": {"dnssec_zones": [{"name": "a.gov.vn"}]}}, "/srv/inv/hosts.yml")["a.gov.vn"]) \
        == "/srv/inv/ds/a.gov.vn.ds"


def _collections_used() -> set[str]:
    used = set()
    for f in [*ROLES.rglob("*.yml"), *(ROOT / "playbooks").glob("*.yml")]:
        for m in re.finditer(r"^\s*-?\s*([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+:\s*$", f.read_text(), re.M):
            used.add(m.group(1))
        for m in re.finditer(r"['\"|]\s*([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+\b", f.read_text()):  # filters, lookups
            if m.group(1).split(".")[0] in ("ansible", "community"):
                used.add(m.group(1))
    return used - {"ansible.builtin"}


def test_requirements_yml_lists_every_collection_the_roles_use():
    requirements = yaml.safe_load((ROOT / "playbooks/collections/requirements.yml").read_text())
    listed = {c["name"]: c["version"] for c in requirements["collections"]}
    used = _collections_used()
    assert used and used <= set(listed), f"not in playbooks/collections/requirements.yml: {used - set(listed)}"
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    out = subprocess.run([str(galaxy), "collection", "list", "--format", "json"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    installed: dict[str, str] = {}
    for path_collections in json.loads(out).values():
        for name, info in path_collections.items():
            installed.setdefault(name, info["version"])
    for name, spec in listed.items():
        assert name in installed, f"{name} is not installed"
        assert installed[name] in SpecifierSet(spec), f"{name} {installed[name]} does not satisfy {spec}"


def _lock() -> dict[str, tuple[str, list[str]]]:
    text = LOCK.read_text()
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if m:
            out[m.group(1).lower().replace("_", "-")] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return out


def test_lock_pins_every_dependency_with_hashes():
    """A dependency added to pyproject.toml without `make lock` fails here (and `make venv` says to run it)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    lock = _lock()
    assert lock, "requirements.lock is empty"
    for name, (_version, hashes) in lock.items():
        assert hashes, f"{name} is pinned without a hash"
    for req in wanted:
        key = req.name.lower().replace("_", "-")
        assert key in lock, f"{req.name} is in pyproject.toml but not in requirements.lock: run make lock"
        assert lock[key][0] in req.specifier, f"{req.name} {lock[key][0]} does not satisfy {req.specifier}"


def test_makefile_installs_from_the_lock_and_lints_the_playbooks():
    make = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r $(LOCK)" in make and "LOCK := requirements.lock" in make
    assert re.search(r"^lock:", make, re.M) and "--generate-hashes" in make
    assert "ansible-lint --offline --profile production" in make
    assert re.search(r"^test:.*\n(?:\t.*\n)*\t\$\(MAKE\) --no-print-directory lint-playbooks", make, re.M)


# --- the vantage-point role installs a pinned wheel ---------------------------------------------------------

INSTALL_PLAY = """
- name: Install netready the vantage way
  hosts: all
  gather_facts: false
  tasks:
    - name: The role's install steps
      ansible.builtin.include_role:
        name: netready_vantage
        tasks_from: install
"""


@pytest.fixture(scope="module")
def wheel(netready_wheel) -> Path:
    return netready_wheel


def _install(tmp_path: Path, **variables) -> tuple[str, list[R.TaskEvent]]:
    (tmp_path / "play.yml").write_text(INSTALL_PLAY)
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "netready_vantage_install": True, "netready_vantage_venv": str(tmp_path / "venv"), **variables}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"probe1": host}}}))
    status, _rc, _hosts, events, _out = R.run_playbook(str(tmp_path / "play.yml"), str(tmp_path / "hosts.yml"))
    return status, events


def test_vantage_role_refuses_a_bare_package_name(tmp_path):
    status, events = _install(tmp_path, netready_vantage_install_source="netready",
                              netready_vantage_install_sha256="")
    failed = [e for e in events if e.status == "failed"]
    assert status == "failed" and "a bare package name would be resolved on a public index" in failed[0].message
    assert not (tmp_path / "venv").exists()


def test_vantage_role_refuses_a_wheel_with_another_hash(tmp_path, wheel):
    status, events = _install(tmp_path, netready_vantage_install_source=str(wheel),
                              netready_vantage_install_sha256="0" * 64)
    failed = [e for e in events if e.status == "failed"]
    assert status == "failed" and "not the pinned" in failed[0].message, failed
    assert not (tmp_path / "venv").exists()


def test_vantage_role_installs_the_pinned_wheel(tmp_path, wheel):
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    status, events = _install(tmp_path, netready_vantage_install_source=str(wheel),
                              netready_vantage_install_sha256=digest,
                              netready_vantage_install_args="--no-index --no-deps")
    assert status == "successful", [e.message for e in events if e.status == "failed"]
    assert (tmp_path / "venv" / "bin" / "netready").exists()
