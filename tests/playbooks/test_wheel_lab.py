"""The wheel as a user gets it (issue #16): built from this checkout, installed with pip into a fresh venv outside the
checkout, and run from a directory that is not the checkout: `plan`, `contract clauses`, `check --lab` and
`remediate --check` on the lab machines, every file (templates, rules, playbooks) read from the installed package.

No package index is reachable from the tests, so the fresh venv borrows its dependencies from the checkout's venv
(the versions of requirements.lock, `make venv`): linked into a folder on its path, netready itself never among
them, and Ansible's commands given the fresh venv's interpreter. `pip check` then proves the wheel's requirements
are met by them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from netready.lab.machines.spec import PORTALS
from netready.model import Report

ROOT = Path(__file__).resolve().parent.parent.parent


# What the fresh venv must not borrow: netready itself (the checkout's editable install), and pip's own tools.
NOT_BORROWED = ("netready", "_netready", "__editable__", "probes", "cli.py", "pip", "setuptools", "pkg_resources",
                "_distutils_hack", "distutils-precedence.pth", "__pycache__")


def _borrow_dependencies(venv: Path, site: Path) -> None:
    theirs = Path(sysconfig.get_paths()["purelib"])  # the checkout venv's site-packages (this interpreter's)
    farm = venv.parent / "dependencies"
    farm.mkdir()
    for entry in theirs.iterdir():
        stem = entry.name.split("-")[0] if entry.name.endswith((".dist-info", ".egg-info")) else entry.name
        if stem in NOT_BORROWED or entry.name.startswith(NOT_BORROWED[:3]) or entry.suffix == ".pth":
            continue
        (farm / entry.name).symlink_to(entry)
    (site / "checkout-dependencies.pth").write_text(f"{farm}\n")
    for script in Path(sys.executable).parent.glob("ansible*"):  # ansible-playbook etc., run by ansible-runner
        body = script.read_text(encoding="utf-8", errors="replace")
        if body.startswith("#!"):
            mine = venv / "bin" / script.name
            mine.write_text(f"#!{venv / 'bin' / 'python'}\n" + body.split("\n", 1)[1], encoding="utf-8")
            mine.chmod(0o755)


@pytest.fixture(scope="module")
def installed(netready_wheel, tmp_path_factory) -> dict[str, Path]:
    """{"bin": the fresh venv's bin/, "site": its site-packages, "cwd": an empty working directory}."""
    base = tmp_path_factory.mktemp("wheel-user")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    site = next((venv / "lib").glob("python3*/site-packages"))
    _borrow_dependencies(venv, site)
    python, env = str(venv / "bin" / "python"), _user_env(venv / "bin")
    proc = subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(netready_wheel)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True, timeout=300, env=env).stdout
    assert not [line for line in check.splitlines() if line.startswith("netready ")], check  # requirements all met
    (base / "work").mkdir()
    return {"bin": venv / "bin", "site": site, "cwd": base / "work"}


def _user_env(bin_dir: Path) -> dict[str, str]:
    """The environment of a user of that venv: nothing of the checkout's on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return env | {"NO_COLOR": "1", "PATH": f"{bin_dir}:{env.get('PATH', '')}"}


def _run(installed: dict[str, Path], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(installed["bin"] / "netready"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=installed["cwd"], env=_user_env(installed["bin"]))


def test_the_installed_netready_is_the_wheels_not_the_checkout(installed, netready_wheel):
    out = subprocess.run([str(installed["bin"] / "python"), "-c",
                          "import netready, netready.resources as r; print(netready.__file__); "
                          "print(r.folder('playbooks')); print(r.folder('templates'))"],
                         capture_output=True, text=True, check=True, cwd=installed["cwd"],
                         env=_user_env(installed["bin"])).stdout.split()
    assert all(Path(p).resolve().is_relative_to(installed["site"]) for p in out), out
    version = _run(installed, "--version")
    assert version.returncode == 0 and netready_wheel.name.split("-")[1] in version.stdout, version.stdout


def test_plan_and_contract_clauses_from_the_wheel(installed):
    plan = _run(installed, "plan", "--agency", "Sở Thông tin và Truyền thông", "--scenario", "idc",
                "-o", "plan.md")
    assert plan.returncode == 0, plan.stderr[-2000:]
    text = (installed["cwd"] / "plan.md").read_text(encoding="utf-8")
    assert "Sở Thông tin và Truyền thông" in text and "DNSSEC" in text and "IPv6" in text
    clauses = _run(installed, "contract", "clauses", "--lang", "en", "--service", "both")
    assert clauses.returncode == 0, clauses.stderr[-2000:]
    assert "DNSSEC" in clauses.stdout and "TLS 1.2" in clauses.stdout


def test_check_on_the_lab_from_the_wheel(installed, lab):
    r = _run(installed, "check", "dichvucong.good.gov.vn", "dichvucong.unsigned.gov.vn", "--lab", "-f", "json")
    assert r.returncode == 1, r.stderr[-3000:]  # unsigned is not compliant
    report = Report.from_dict(json.loads(r.stdout))  # the JSON a user's tools read, through the model
    verdicts = {(f.target, f.rule_id): f.verdict for f in report.findings}
    assert verdicts[("dichvucong.good.gov.vn", "VN-DNSSEC")] == "pass"
    assert verdicts[("dichvucong.good.gov.vn", "VN-TLS-CA")] == "pass"
    assert verdicts[("dichvucong.unsigned.gov.vn", "VN-DNSSEC")] == "fail"


def test_remediate_check_on_the_lab_machines_from_the_wheel(installed, fresh_machines, lab_inv):
    """The playbooks come from the installed package (a real folder Ansible reads), in check mode: nothing changes,
    the required rules still fail (exit 2), and no host fails."""
    r = _run(installed, "remediate", "all", "-i", lab_inv, "--lab", "--check", "-f", "json", timeout=900)
    assert r.returncode == 2, r.stdout[-3000:] + r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert Path(data["playbook"]).resolve().is_relative_to(installed["site"]), data["playbook"]
    assert {h: (s["failed"], s["unreachable"]) for h, s in data["hosts"].items()} == {
        "web1": (0, 0), "bind1": (0, 0), "knot1": (0, 0)}
    rules = {(x["portal"], x["rule_id"]): (x["before"], x["after"]) for x in data["rules"]}
    for portal in PORTALS:
        assert rules[(portal, "VN-DNSSEC")] == ("fail", None), portal


def test_the_wheel_puts_nothing_generic_at_the_top_of_site_packages(netready_wheel):
    with zipfile.ZipFile(netready_wheel) as z:
        top = {n.split("/")[0] for n in z.namelist() if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"netready"}, sorted(top)
