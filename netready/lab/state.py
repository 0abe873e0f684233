"""Where a lab keeps its state, and reading its environment: all that probes and the CLI need from a running
lab, without the orchestration (namespaces, daemons, PKI) that `up` and `down` need. Kept small so that
`netready dnssec --lab NAME` does not pay for importing the whole lab."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import LabError
from .model import LabEnv

DEFAULT_NAME = "nrlab"
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")  # "<name>-h" must fit the 15-character interface limit


def lab_name(name: str | None = None) -> str:
    name = name or os.environ.get("NETREADY_LAB_NAME") or DEFAULT_NAME
    if not NAME_RE.match(name):
        raise LabError(f"bad lab name {name!r}: 1-12 characters, a-z then a-z/0-9 (interface <name>-h <= 15)")
    return name


def state_dir(name: str) -> Path:
    """/run/netready/<name>; NETREADY_LAB_DIR overrides it for the lab named by the environment only."""
    override = os.environ.get("NETREADY_LAB_DIR")
    if override and name == lab_name(None):
        return Path(override)
    return Path("/run/netready") / name


def load_state(d: Path) -> dict | None:
    try:
        return json.loads((d / "state.json").read_text())
    except (OSError, ValueError):
        return None


def read_env(d: Path) -> LabEnv:
    try:
        raw = (d / "env.json").read_bytes()
    except OSError as exc:
        raise LabError(f"no lab environment in {d} ({exc}); run `python -m netready.lab up`") from exc
    try:  # UnicodeDecodeError is a ValueError
        return LabEnv.from_dict(json.loads(raw.decode()))
    except (ValueError, TypeError, AttributeError) as exc:  # edited by hand, cut short, or another shape
        raise LabError(f"{d / 'env.json'} is not a lab environment netready wrote ({type(exc).__name__}: {exc}); "
                       "run `python -m netready.lab down` and `up` again") from exc


# What a check needs of the lab, beside env.json (which lists every portal: 14 MB at scale 9000).
TRUST_FILE = "trust.json"
TRUST_KEYS = ("root_hints", "trust_anchor", "ca_bundle", "resolvers")


def trust(name: str | None = None) -> dict:
    """Root hints, trust anchor, CA bundle and resolvers of a running lab: all `check --lab` needs, read without
    the portal list (parsing a scaled lab's env.json cost a national sweep's main process about 17 MB at its
    peak). A lab brought up by older code has no trust.json: its env.json is read instead."""
    d = _up_dir(name)
    try:
        data = json.loads((d / TRUST_FILE).read_text())
        if all(k in data for k in TRUST_KEYS):
            return {k: data[k] for k in TRUST_KEYS}
    except (OSError, ValueError):
        pass
    full = read_env(d).to_dict()
    return {k: full[k] for k in TRUST_KEYS}


def _up_dir(name: str | None) -> Path:
    name = lab_name(name)
    d = state_dir(name)
    st = load_state(d)
    if not st or st.get("phase") != "up":
        raise LabError(f"lab {name!r} is not up (no state in {d}); run `python -m netready.lab up`")
    return d


def env(name: str | None = None) -> LabEnv:
    """The environment of a running lab (paths, addresses, portals); LabError if it is not up."""
    return read_env(_up_dir(name))
