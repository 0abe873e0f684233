"""Suite-wide fixtures: the built-in lab is brought up once and shared by every test that needs it."""

from __future__ import annotations

import os
import time

import pytest

from netready.model import ProbeSettings


@pytest.fixture(scope="session")
def lab():
    """The running lab (netready.lab.LabEnv), named by NETREADY_LAB_NAME (default nrlab). Started once;
    stopped at the end only if this session started it (NETREADY_KEEP_LAB=1 keeps it)."""
    from netready import lab as lab_mod

    if os.geteuid() != 0:
        pytest.fail("the lab needs root (network namespaces, named, knotd, nginx): run the suite as root")
    name = lab_mod.lab_name()
    was_up = lab_mod.is_up(name)
    t0 = time.monotonic()
    env = lab_mod.up(name)
    print(f"\nlab {name}: {'reused' if was_up else 'started'} in {time.monotonic() - t0:.2f} s")
    yield env
    if not was_up and not os.environ.get("NETREADY_KEEP_LAB"):
        lab_mod.down(name)


@pytest.fixture(scope="session")
def lab_settings(lab) -> ProbeSettings:
    """Probe settings that point only at lab servers: root hints, trust anchor, CA bundle."""
    return ProbeSettings(
        resolvers=[],
        root_hints=str(lab.root_hints),
        trust_anchor=str(lab.trust_anchor),
        ca_file=str(lab.ca_bundle),
        timeout=2.0,
        lab=True,
    )


@pytest.fixture(scope="session")
def lab_resolver_settings(lab) -> ProbeSettings:
    """The same, but fetching through the lab's validating recursive resolver."""
    return ProbeSettings(
        resolvers=list(lab.resolvers),
        root_hints=str(lab.root_hints),
        trust_anchor=str(lab.trust_anchor),
        ca_file=str(lab.ca_bundle),
        timeout=2.0,
        lab=True,
    )


@pytest.fixture(scope="session")
def machines(lab):
    """The lab machines {name: netready.lab.machines.Machine} (web1, bind1, knot1) in their starting state,
    their zones delegated from the lab's gov.vn. Booted once; machines left running by an earlier session
    are reset first. Stopped at the end only if this session started them (NETREADY_KEEP_MACHINES=1 keeps
    them). Modules that change the machines reset them (netready.lab.machines.reset) and update this dict."""
    from netready.lab import machines as mach

    was_up = bool(mach.machines())
    t0 = time.monotonic()
    ms = mach.reset() if was_up else mach.up()
    print(f"\nlab machines: {'reset' if was_up else 'started'} in {time.monotonic() - t0:.2f} s")
    yield {m.name: m for m in ms}
    if not was_up and not os.environ.get("NETREADY_KEEP_MACHINES"):
        mach.down()
