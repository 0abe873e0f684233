"""A lab's env.json read back (netready.lab.state.read_env): a file that is missing, cut short or edited by hand
is one LabError that names the file, never a Python traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netready.lab.errors import LabError
from netready.lab.model import LabEnv
from netready.lab.state import read_env


def _written(tmp_path: Path, text: str) -> Path:
    (tmp_path / "env.json").write_text(text)
    return tmp_path


@pytest.mark.parametrize("text", [
    '{"portals": []}',  # fields missing
    '{"portals": [], "unknown_field": 1}',  # a field this code does not know
    '{"portals": ["not a portal"]}',  # a portal that is not an object
    '["a", "list"]',  # not an object at all
    '42',
    '{"portals": [{"name": "x"}]}',  # a portal with fields missing
    '{"portals": 7}',
    '{"portals": ',  # cut short
])
def test_a_hand_edited_env_json_is_one_lab_error_naming_the_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(LabError) as caught:
        read_env(_written(tmp_path, text))
    assert "env.json" in str(caught.value)
    assert "lab down" in str(caught.value)


def test_an_env_json_that_is_not_utf8_is_one_lab_error(tmp_path: Path) -> None:
    (tmp_path / "env.json").write_bytes(b'{"portals": "\xff"}')
    with pytest.raises(LabError, match="env.json"):
        read_env(tmp_path)


def test_a_missing_env_json_says_to_bring_the_lab_up(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no lab environment.*lab up"):
        read_env(tmp_path)


def test_an_env_json_the_lab_wrote_reads_back(tmp_path: Path) -> None:
    fields = {f: "x" for f in LabEnv.__dataclass_fields__ if f != "portals"}
    env = LabEnv.from_dict({**fields, "portals": []})
    got = read_env(_written(tmp_path, json.dumps(env.to_dict())))
    assert got == env
