"""`make collection`: the playbooks as the Ansible collection netready.readiness (issue #16). The archive carries
galaxy's metadata, every role with its argument specs, meta/runtime.yml and the playbooks, all naming roles and
playbooks by FQCN; installed with ansible-galaxy, its playbooks resolve with no role from this tree. Running them on
the lab machines: tests/playbooks/test_collection_lab.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from netready import __version__
from netready.collection import FQCN, CollectionError, semantic_version, short_role_names, stage

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = sorted(p.stem for p in (ROOT / "playbooks").glob("*.yml"))
ROLES = sorted(p.name for p in (ROOT / "playbooks" / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize(("pep440", "semver"), [
    ("0.1.1.dev94+g10e8e7641.d20261207", "0.1.1-dev.94+g10e8e7641.d20261207"),
    ("1.2", "1.2.0"), ("2.0.0", "2.0.0"), ("1.0rc1", "1.0.0-rc.1"), ("1.0.1.post2", "1.0.1+post.2"),
    ("0.3.0a1.dev4", "0.3.0-a.1.dev.4"),
])
def test_versions_become_semantic_versions(pep440, semver):
    assert semantic_version(pep440) == semver


def test_archive_has_galaxy_metadata_roles_with_argument_specs_and_playbooks(installed_collection):
    archive, _installed = installed_collection
    assert archive.name == f"netready-readiness-{semantic_version(__version__)}.tar.gz"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        runtime = yaml.safe_load(tar.extractfile("meta/runtime.yml"))
        texts = {n: tar.extractfile(n).read().decode() for n in names
                 if n.endswith(".yml") and (n.startswith("playbooks/") or n.endswith("meta/main.yml"))}
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("netready", "readiness",
                                                                              semantic_version(__version__))
    requirements = yaml.safe_load((ROOT / "playbooks/collections/requirements.yml").read_text())
    assert manifest["dependencies"] == {c["name"]: c["version"] for c in requirements["collections"]}
    assert manifest["license"] == ["Apache-2.0"] and "networking" in manifest["tags"]
    assert runtime == {"requires_ansible": ">=2.15.0"}
    for role in ROLES:
        assert f"roles/{role}/meta/argument_specs.yml" in names and f"roles/{role}/tasks/main.yml" in names, role
    assert {f"playbooks/{p}.yml" for p in PLAYBOOKS} <= names
    assert {"README.md", "CHANGELOG.md"} <= names
    for name, text in texts.items():  # every role and playbook named by FQCN
        assert short_role_names(yaml.safe_load(text)) == [], name
    assert f"role: {FQCN}.netready_common" in texts["roles/dnssec/meta/main.yml"]
    assert f"import_playbook: {FQCN}.check_inputs" in texts["playbooks/dual_stack.yml"]


def test_installed_playbooks_resolve_their_roles_from_the_collection_alone(installed_collection, tmp_path):
    _archive, installed = installed_collection
    (tmp_path / "no-roles").mkdir()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_ROLES_PATH=str(tmp_path / "no-roles"),
               ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    playbook = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run([str(playbook), "--syntax-check", *(f"{FQCN}.{p}" for p in PLAYBOOKS)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # The same playbooks without the collection: nothing else provides them.
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp_path / "no-roles")
    proc = subprocess.run([str(playbook), "--syntax-check", f"{FQCN}.site"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0


def test_builder_refuses_a_role_it_cannot_name(tmp_path):
    source = tmp_path / "playbooks"
    (source / "roles" / "web" / "tasks").mkdir(parents=True)
    (source / "roles" / "web" / "tasks" / "main.yml").write_text("---\n[]\n")
    (source / "collections").mkdir()
    (source / "collections" / "requirements.yml").write_text("collections: []\n")
    (source / "site.yml").write_text("---\n- name: Web\n  hosts: all\n  roles:\n    - role: missing\n")
    with pytest.raises(CollectionError, match="missing"):
        stage(tmp_path / "out", "1.0", source)
    (source / "site.yml").write_text("---\n- name: Web\n  hosts: all\n  roles:\n    - {role: web}\n")
    with pytest.raises(CollectionError, match="does not rewrite"):  # a spelling the builder does not know
        stage(tmp_path / "out2", "1.0", source)
