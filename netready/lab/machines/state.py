"""What a lab's machines are, on disk: STATE_ROOT/<lab>/state.json (the running machines, their overlays, and the
delegations made for their zones), written whole and swapped in, under a per-lab lock. Read and written by the
runtime (boot, reset, down) and by the delegation helpers, which thus need not import each other."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

STATE_ROOT = Path(os.environ.get("NETREADY_MACHINE_STATE", "/var/lib/netready/machines"))


def state_dir(lab: str) -> Path:
    return STATE_ROOT / lab


@contextlib.contextmanager
def locked(lab: str) -> Iterator[None]:
    STATE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(STATE_ROOT / f"{lab}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def load(lab: str) -> dict | None:  # type: ignore[type-arg]
    try:
        return json.loads((state_dir(lab) / "state.json").read_text())
    except (OSError, ValueError):
        return None


def save(lab: str, st: dict) -> None:  # type: ignore[type-arg]
    d = state_dir(lab)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "state.json.tmp"
    tmp.write_text(json.dumps(st, indent=2))
    tmp.replace(d / "state.json")
