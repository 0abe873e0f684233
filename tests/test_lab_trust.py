"""`check --lab` reads what it needs of the lab (hints, anchor, CA, resolvers) from the small trust.json, not
from env.json, which lists every portal (14 MB at scale 9000: parsing it cost a sweep's main process ~17 MB)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netready import app, lab
from netready.lab.errors import LabError

TRUST = {"root_hints": "root.hints", "trust_anchor": "root.ds", "ca_bundle": "root.pem", "resolvers": ["198.51.100.53"]}


@pytest.fixture()
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NETREADY_LAB_NAME", "trustlab")
    monkeypatch.setenv("NETREADY_LAB_DIR", str(tmp_path))
    (tmp_path / "state.json").write_text(json.dumps({"name": "trustlab", "phase": "up"}))
    for key in ("root_hints", "trust_anchor", "ca_bundle"):
        (tmp_path / TRUST[key]).write_text("x\n")
    return tmp_path


def _trust_file(d: Path) -> dict:
    data = {k: (str(d / v) if k != "resolvers" else v) for k, v in TRUST.items()}
    (d / "trust.json").write_text(json.dumps(data))
    return data


def test_lab_settings_come_from_the_trust_file_without_reading_the_portal_list(lab_dir: Path) -> None:
    data = _trust_file(lab_dir)
    (lab_dir / "env.json").write_text("{not json: the portal list must not be read")
    settings = app.build_settings(use_lab=True)
    assert (settings.root_hints, settings.trust_anchor, settings.ca_file) == (
        data["root_hints"], data["trust_anchor"], data["ca_bundle"])
    assert settings.lab is True
    assert lab.trust() == data


def test_a_lab_without_a_trust_file_is_read_from_its_env_as_before(lab_dir: Path) -> None:
    data = {k: (str(lab_dir / v) if k != "resolvers" else v) for k, v in TRUST.items()}
    (lab_dir / "env.json").write_text(json.dumps({"name": "trustlab", "state_dir": str(lab_dir), **data,
                                                  "trust_anchor_dnskey": "", "trust_anchor_bind": "",
                                                  "root_servers": [], "portals": []}))
    assert lab.trust() == data
    assert app.build_settings(use_lab=True).ca_file == data["ca_bundle"]


def test_a_trust_file_missing_a_key_falls_back_to_the_env(lab_dir: Path) -> None:
    _trust_file(lab_dir)
    broken = json.loads((lab_dir / "trust.json").read_text())
    del broken["ca_bundle"]
    (lab_dir / "trust.json").write_text(json.dumps(broken))
    with pytest.raises(LabError, match="no lab environment"):
        lab.trust()  # no env.json either: a clear lab error, not a KeyError


def test_a_lab_that_is_not_up_is_a_lab_error(lab_dir: Path) -> None:
    _trust_file(lab_dir)
    (lab_dir / "state.json").write_text(json.dumps({"name": "trustlab", "phase": "building"}))
    with pytest.raises(LabError, match="not up"):
        lab.trust()
