"""`netready check` end to end on the lab: CLI -> scanner -> probes -> judge -> rendering."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from netready.model import Report
from netready.rules import catalogue

NETREADY = str(Path(sys.executable).parent / "netready")

# Scenarios whose every required rule should pass (the rest each break at least one required rule).
COMPLIANT = {"good", "v6diff", "nsec3iter"}


def test_check_every_lab_portal_json(lab, tmp_path):
    env = lab.to_dict()
    names = [p["name"] for p in env["portals"]]
    out = tmp_path / "report.json"
    r = subprocess.run([NETREADY, "check", "--lab", "-f", "json", "-o", str(out), *names],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr  # the lab has non-compliant portals by design
    report = Report.load(out)
    assert [t.ascii_name for t in report.targets] == names
    by_name = {p["name"]: p for p in env["portals"]}
    for target in report.targets:
        portal = by_name[target.ascii_name]
        assert sorted(target.ipv4) == sorted(portal["ipv4"])
        assert sorted(target.ipv6) == sorted(portal["ipv6"])
        judged = {f.rule_id for f in report.findings_for(target.ascii_name)}
        assert judged == set(catalogue()), f"{target.ascii_name}: rules not judged: {set(catalogue()) - judged}"
        status = report.summary["targets"][target.ascii_name]["status"]
        expected = "compliant" if portal["scenario"] in COMPLIANT else "not-compliant"
        assert status == expected, (target.ascii_name, status, report.summary["targets"][target.ascii_name])


def test_check_table_output_and_exit_code(lab):
    r = subprocess.run([NETREADY, "check", "--lab", "--lang", "vi", "dichvucong.good.gov.vn"],
                       capture_output=True, text=True, timeout=300, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dichvucong.good.gov.vn: ĐẠT" in r.stdout
    assert "\x1b[" not in r.stdout
