"""Session fixture `machines`: the lab machines (web1, bind1, knot1) booted once, in their starting state.

Depends on the suite's `lab` fixture (tests/conftest.py) so the agency zones are delegated from the
lab's gov.vn. Can move to tests/conftest.py as it is. NETREADY_KEEP_MACHINES=1 leaves them running.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def machines(lab):
    """{name: netready.lab.machines.Machine}; stopped at the end only if this session started them."""
    from netready.lab import machines as mach

    was_up = bool(mach.machines())
    ms = mach.up()
    yield {m.name: m for m in ms}
    if not was_up and not os.environ.get("NETREADY_KEEP_MACHINES"):
        mach.down()
