"""Secrets stay secret (issue #15, item 5), controller side: the lab's keys are 0600 from their first byte, and
.gitignore keeps private keys and vault passwords of the inventories out of git. (The Vault-supplied key on a
lab machine is tests/playbooks/test_safety_lab.py; remediation logs and JSON without secrets: tests/test_remediate.py
and test_safety_lab.py.)"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from netready.lab import pki, sysutil

ROOT = Path(__file__).resolve().parent.parent


def test_lab_keys_are_never_readable_by_others_not_even_for_a_moment(tmp_path, monkeypatch):
    """Every path a key's bytes are written to is 0600 before the first byte: watched at the rename, with a
    umask that would leave a plainly written file world-readable."""
    seen: list[int] = []
    real_replace = os.replace

    def watching_replace(src, dst):
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        return real_replace(src, dst)

    real_write = os.write

    def watching_write(fd, data):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(sysutil.os, "replace", watching_replace)
    monkeypatch.setattr(sysutil.os, "write", watching_write)
    old = os.umask(0)
    try:
        pki._write_key(tmp_path / "k.key", ec.generate_private_key(ec.SECP256R1()))
    finally:
        os.umask(old)
    assert seen and set(seen) == {0o600}
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    assert (tmp_path / "k.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in tmp_path.iterdir()] == ["k.key"]  # no temporary file left behind


def test_running_lab_pki_keys_are_0600(lab):
    keys = list((Path(lab.ca_bundle).parent).glob("*.key"))
    assert keys
    assert {stat.S_IMODE(k.stat().st_mode) for k in keys} == {0o600}


@pytest.mark.parametrize("path,ignored", [
    ("inventories/idc/files/dichvucong.example.gov.vn.key", True),
    ("inventories/idc/files/privkey.pem", True),
    ("inventories/idc/files/portal-key.pem", True),
    ("inventories/idc/files/Kexample.gov.vn.+013+12345.private", True),
    ("inventories/idc/.vault-pass", True),
    ("inventories/idc/files/dichvucong.example.gov.vn.key.vault", False),
    ("inventories/idc/files/ca-chain.pem", False),
    ("inventories/idc/hosts.yml", False),
])
def test_gitignore_keeps_inventory_secrets_out_of_git(path, ignored):
    res = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT, timeout=30)
    assert (res.returncode == 0) is ignored, path
