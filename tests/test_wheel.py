"""The wheel carries everything (issue #16): the data folders of the design card inside the package (exactly the
files git tracks: an untracked key in an inventory stays out), the version from git metadata. The wheel installed
into a fresh venv outside the checkout and run against the lab: tests/playbooks/test_wheel_lab.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_FOLDERS = ("templates", "playbooks", "inventories")


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60).stdout


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def test_wheel_carries_every_tracked_file_of_the_data_folders(netready_wheel):
    names = set(_names(netready_wheel))
    for folder in DATA_FOLDERS:
        tracked = {f"netready/{f}" for f in _git("ls-files", "--", folder).split()}
        inside = {n for n in names if n.startswith(f"netready/{folder}/")}
        assert tracked and inside == tracked, (folder, sorted(inside ^ tracked)[:10])
    for needed in ("netready/templates/plan/tasks.yaml", "netready/playbooks/site.yml",
                   "netready/playbooks/ansible.cfg", "netready/playbooks/roles/dnssec/meta/argument_specs.yml",
                   "netready/inventories/idc/hosts.yml", "netready/data/rules.yaml",
                   "netready/data/profiles/circular32.yaml", "netready/data/named.root", "netready/lab/keeper.py"):
        assert needed in names, needed


def test_wheel_version_comes_from_git_metadata(netready_wheel):
    with zipfile.ZipFile(netready_wheel) as z:
        written = z.read("netready/_version.py").decode()
        metadata = next(z.read(n).decode() for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    version = next(line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Version: "))
    assert f"__version__ = {version!r}" in written
    assert netready_wheel.name.startswith(f"netready-{version}-")
    head = _git("rev-parse", "HEAD").strip()
    exact = subprocess.run(["git", "describe", "--tags", "--exact-match"], cwd=ROOT, capture_output=True).returncode
    if exact != 0:  # between releases: a development version that names its commit
        assert ".dev" in version and f"+g{head[:7]}" in version, (version, head)


def test_untracked_files_in_the_data_folders_stay_out_of_the_wheel(tmp_path):
    """A private key left in an inventory (ignored by git, issue #15) is not packaged: only tracked files are."""
    tree = tmp_path / "tree"  # a copy of the checkout (work in progress included), never the checkout itself
    for f in filter(None, _git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")):
        src, dest = ROOT / f, tree / f
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the working tree
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dest.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dest)
    git = ["git", "-c", "user.name=netready-test", "-c", "user.email=test@netready.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=tree, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tree, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tree"], cwd=tree, check=True)
    secret = tree / "inventories" / "idc" / "files" / "portal.key"
    secret.write_text("-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n")
    (tree / "templates" / "draft.j2").write_text("untracked\n")
    assert _git("status", "--porcelain", "--ignored", cwd=tree).strip()  # the two files are untracked
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(tree)], check=True, capture_output=True, timeout=600)
    names = _names(next(out.glob("netready-*.whl")))
    assert "netready/inventories/idc/hosts.yml" in names
    assert not [n for n in names if n.endswith(("portal.key", "draft.j2"))]
