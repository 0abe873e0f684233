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


@pytest.fixture(scope="session")
def installed_collection(tmp_path_factory):
    """The netready.readiness collection built from this tree (netready.collection, what `make collection` runs)
    and installed with `ansible-galaxy collection install` into a temporary path: (archive, collections path).
    Its dependencies are the collections the `ansible` package ships (offline: nothing from Galaxy)."""
    import subprocess
    import sys
    from pathlib import Path

    from netready.collection import build

    d = tmp_path_factory.mktemp("collection")
    archive = build(d / "dist")
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    proc = subprocess.run([str(galaxy), "collection", "install", "--offline", str(archive), "-p", str(d / "installed")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return archive, d / "installed"


@pytest.fixture(scope="session")
def netready_wheel(tmp_path_factory):
    """netready's wheel, built from this checkout as a user builds it (pip wheel; version from git metadata)."""
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path_factory.mktemp("dist")
    root = Path(__file__).resolve().parent.parent
    # setuptools-scm writes netready/_version.py into the tree it builds from; the checkout's own (written when
    # its editable install was made) must stay, or `netready --version` and the installed metadata disagree.
    version_file = root / "netready" / "_version.py"
    kept = version_file.read_bytes() if version_file.exists() else None
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                               "-w", str(out), str(root)], capture_output=True, text=True, timeout=600)
    finally:
        if kept is None:
            version_file.unlink(missing_ok=True)
        else:
            version_file.write_bytes(kept)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return next(out.glob("netready-*.whl"))
