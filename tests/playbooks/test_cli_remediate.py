"""`netready remediate` end to end on the lab machines, as a user runs it: --check changes nothing and exits 2
(the verdicts still fail), the real run exits 0 with the four required rules going fail -> pass (the DS handed to
the lab's gov.vn by the command itself), and a second run changes nothing on any host."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from netready.lab.machines.spec import BIND_ZONE, KNOT_ZONE, PORTALS

from .state import machine_state

NETREADY = str(Path(sys.executable).parent / "netready")
FIXED = ("VN-IPV6-WEB", "VN-DNSSEC", "VN-TLS-CA", "VN-HTTPS-FORCED")


def _remediate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NETREADY, "remediate", *args], capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, NO_COLOR="1"))


def _rules(data: dict) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    return {(r["portal"], r["rule_id"]): (r["before"], r["after"]) for r in data["rules"]}


def test_remediate_all_check_then_fix_then_nothing_to_do(fresh_machines, lab_inv):
    state = machine_state(fresh_machines)
    r = _remediate("all", "-i", lab_inv, "--lab", "--check", "-f", "json")
    assert r.returncode == 2, r.stdout[-3000:] + r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert data["check"] and data["exit_code"] == 2 and data["ds_submitted"] == {} and data["ds_exported"] == {}
    assert {h: (s["failed"], s["unreachable"]) for h, s in data["hosts"].items()} == {
        "web1": (0, 0), "bind1": (0, 0), "knot1": (0, 0)}
    assert all(s["changed"] > 0 for s in data["hosts"].values())  # it would change things...
    assert machine_state(fresh_machines) == state  # ...and changed none of them
    rules = _rules(data)
    for portal in PORTALS:
        for rule in FIXED:
            assert rules[(portal, rule)] == ("fail", None), (portal, rule)
    # progress on stderr, one line per host and task as the events came
    assert re.search(r"^  web1 +changed +tls : ", r.stderr, re.M), r.stderr[-2000:]
    assert re.search(r"^  knot1 +ok +", r.stderr, re.M)

    r = _remediate("all", "-i", lab_inv, "--lab", "-f", "json")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-3000:]
    data = json.loads(r.stdout)
    rules = _rules(data)
    for portal in PORTALS:
        for rule in FIXED:
            assert rules[(portal, rule)] == ("fail", "pass"), (portal, rule)
    assert sorted(data["ds_submitted"]) == [BIND_ZONE, KNOT_ZONE]  # the registrar's step, done by --lab
    assert data["ds_exported"] == data["ds_submitted"]
    assert "registrar step (lab): DS handed to the lab's gov.vn: machine-bind.gov.vn" in r.stderr

    state = machine_state(fresh_machines)
    r = _remediate("all", "-i", lab_inv, "--lab", "--lang", "vi")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-3000:]
    hosts = dict(re.findall(r"^  (web1|bind1|knot1) +\w+ +ok=\d+ changed=(\d+) failed=0 unreachable=0", r.stdout,
                            re.M))
    assert hosts == {"web1": "0", "bind1": "0", "knot1": "0"}, r.stdout
    assert machine_state(fresh_machines) == state
    assert "kết quả (trước -> sau):" in r.stdout and "mã thoát 0" in r.stdout
    for portal in PORTALS:
        assert f"  {portal} VN-DNSSEC: pass -> pass" in r.stdout


def test_without_lab_the_ds_is_printed_for_the_registrar(fresh_machines, lab_inv, lab):
    """Not --lab (the lab's files passed as a user would pass theirs): nothing is submitted, the DS exported is
    printed with the registrar instructions. Runs after the full remediation above: the zone is signed."""
    from netready.lab.machines import work_dir

    r = _remediate("dnssec", "-i", lab_inv, "--limit", "bind1", "--root-hints", str(lab.root_hints),
                   "--trust-anchor", str(lab.trust_anchor), "--ca-file", str(lab.ca_bundle), "--profile", "lab")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    ds = [x for x in (work_dir() / "ds" / f"{BIND_ZONE}.ds").read_text().splitlines() if x.strip()]
    assert ds and "Send these DS records to your domain registrar" in r.stdout
    assert all(f"  {line}" in r.stdout for line in ds) and KNOT_ZONE not in r.stdout.split("registrar")[1]
    assert "registrar step (lab)" not in r.stderr
    assert f"  dichvucong.{BIND_ZONE} VN-DNSSEC: pass -> pass" in r.stdout and "exit code 0" in r.stdout
