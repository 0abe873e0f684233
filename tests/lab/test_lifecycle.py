"""up is idempotent and refuses early; env is JSON-able; down leaves nothing behind."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

import netready.lab as lab_mod
from netready.lab import SCENARIOS, LabEnv, LabError, env, status, up

REPO = Path(__file__).resolve().parents[2]


def test_second_up_reuses_the_running_lab(lab):
    before = status(lab.name)
    again = up(lab.name)
    after = status(lab.name)
    assert again.to_dict()["portals"] == lab.to_dict()["portals"]
    assert after["running"] and all(p["alive"] for p in after["processes"].values())
    assert set(after["processes"]) == {"named-auth", "named-res", "knot-gov", "knot-agency", "nginx", "pqweb"}
    # Idempotent: nothing was restarted (same pids), so the second call did no rebuild.
    assert {k: p["pid"] for k, p in after["processes"].items()} == {k: p["pid"] for k, p in before["processes"].items()}


def test_env_shape(lab):
    data = json.loads(json.dumps(env(lab.name).to_dict()))
    for key in ("root_hints", "trust_anchor", "trust_anchor_dnskey", "trust_anchor_bind", "ca_bundle"):
        assert Path(data[key]).is_file(), key
    assert Path(data["trust_anchor"]).read_text().startswith(". IN DS ")
    assert "static-ds" in Path(data["trust_anchor_bind"]).read_text()
    assert data["resolvers"] == ["198.51.100.53", "2001:db8:53::53"]
    assert [p["scenario"] for p in data["portals"]] == [s.name for s in SCENARIOS]
    for p in data["portals"]:
        assert set(p) >= {"name", "scenario", "ipv4", "ipv6", "zone", "nameservers", "expected"}
        # The portal is <label>.<its zone> (dichvucong, or an IDN A-label), or the apex of its own zone (`optout`).
        label = next(s.label for s in SCENARIOS if s.name == p["scenario"])
        assert p["name"] in (f"{label}.{p['zone']}", p["zone"]) and all(
            set(ns) == {"name", "ipv4", "ipv6"} for ns in p["nameservers"]
        )
    assert LabEnv.from_dict(data) == env(lab.name)
    # what `check --lab` reads instead of the whole env: written by up, the same values
    small = json.loads((Path(data["state_dir"]) / "trust.json").read_text())
    assert small == {k: data[k] for k in ("root_hints", "trust_anchor", "ca_bundle", "resolvers")}
    assert lab_mod.trust(lab.name) == small


def test_cli_env_json(lab):
    res = subprocess.run(
        [sys.executable, "-m", "netready.lab", "env", "--json", "--name", lab.name],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ca_bundle"] == lab.ca_bundle


def test_missing_binary_refused_before_any_change(tmp_path):
    with pytest.raises(LabError, match=r"named.*bind9") as exc:
        up("labmiss", tools_path=str(tmp_path))
    assert "knotd" in str(exc.value) and "nginx" in str(exc.value)
    assert not Path("/run/netready/labmiss").exists() and not Path("/run/netready/labmiss.lock").exists()


def test_not_root_refused(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="root"):
        up("labnoroot")
    assert not Path("/run/netready/labnoroot").exists()


def test_bad_name_refused():
    with pytest.raises(LabError, match="bad lab name"):
        up("this-name-is-far-too-long")


def test_env_of_a_lab_that_is_not_up():
    with pytest.raises(LabError, match="not up"):
        env("labnone")


SCRIPT = r"""
import json, subprocess, sys, time
from netready.lab import up, down, status
name = sys.argv[1]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
t0 = time.monotonic(); e = up(name); t_up = time.monotonic() - t0
st = status(name)
t0 = time.monotonic(); down(name); t_down = time.monotonic() - t0
ip = lambda *a: json.loads(subprocess.run(["ip", "-j", *a], capture_output=True, text=True).stdout or "[]")
print(json.dumps({"up": t_up, "down": t_down, "status": st, "state_dir": e.state_dir, "links": ip("link"),
                  "addrs": ip("addr"), "r4": ip("-4", "route"), "r6": ip("-6", "route")}))
"""


def test_down_leaves_nothing_behind():
    """A separately named lab in its own host namespace (unshare --net), so the shared lab is untouched."""
    name = "nrt" + secrets.token_hex(3)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NETREADY_LAB")}
    res = subprocess.run(
        ["unshare", "--net", "--", sys.executable, "-c", SCRIPT, name],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environ,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"\nseparate lab {name}: up {out['up']:.2f} s, down {out['down']:.2f} s")
    st = out["status"]
    assert st["running"] and len(st["namespaces"]) == 3 and len(st["processes"]) == 6  # + pqweb (the pq portal)
    assert out["up"] < 60
    # Nothing left in the host namespace it ran in: only lo, only loopback addresses, no routes.
    assert [ln["ifname"] for ln in out["links"]] == ["lo"]
    assert {a["local"] for i in out["addrs"] for a in i["addr_info"]} <= {"127.0.0.1", "::1"}
    assert out["r4"] == [] and all(r["dst"] == "::1" for r in out["r6"]), (out["r4"], out["r6"])
    # No process, namespace name, state dir or lock anywhere.
    pids = [ns["holder_pid"] for ns in st["namespaces"].values()] + [
        p["pid"] for p in st["processes"].values()
    ]
    for pid in pids:
        state = Path(f"/proc/{pid}/stat")
        assert not state.exists() or state.read_text().rsplit(")", 1)[1].split()[0] == "Z", pid
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            assert out["state_dir"] not in cmd and f"netready-lab-{name}-" not in cmd, (proc.name, cmd)
    assert not [p for p in Path("/run/netns").glob(f"{name}-*")] if Path("/run/netns").exists() else True
    assert not Path(out["state_dir"]).exists() and not Path(out["state_dir"] + ".lock").exists()


def test_public_api():
    for fn in ("up", "down", "status", "env", "trust", "LabEnv", "LabError"):
        assert hasattr(lab_mod, fn)
