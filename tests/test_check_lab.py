"""`netready check` end to end on the lab: CLI -> scanner -> probes -> judge -> rendering, every
verdict compared with the lab's scenario table (netready/lab/scenarios.py, docs/lab.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from netready.lab import SCENARIOS
from netready.model import Report
from netready.profiles import load_profile
from netready.rules import catalogue

NETREADY = str(Path(sys.executable).parent / "netready")
SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "report.schema.json").read_text(encoding="utf-8"))


def _expected_status(scenario) -> str:
    levels = load_profile("lab").levels
    required = [v for r, v in scenario.expected().items() if levels[r] == "required"]
    words = [w for v in required for w in (v.values() if isinstance(v, dict) else [v])]
    if any(w in ("fail", "warn") for w in words):
        return "not-compliant"
    return "undetermined" if "error" in words else "compliant"


def test_check_every_lab_portal_matches_the_scenario_table(lab, tmp_path):
    env = lab.to_dict()
    names = [p["name"] for p in env["portals"]]
    out = tmp_path / "report.json"
    r = subprocess.run([NETREADY, "check", "--lab", "-f", "json", "-o", str(out), *names],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr  # the lab has non-compliant portals by design
    raw = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(raw, SCHEMA)
    report = Report.from_dict(raw)
    assert [t.ascii_name for t in report.targets] == names
    by_name = {p["name"]: p for p in env["portals"]}
    scenarios = {s.portal: s for s in SCENARIOS}
    mismatches = []
    for target in report.targets:
        portal = by_name[target.ascii_name]
        assert sorted(target.ipv4) == sorted(portal["ipv4"])
        assert sorted(target.ipv6) == sorted(portal["ipv6"])
        findings = report.findings_for(target.ascii_name)
        assert {f.rule_id for f in findings} == set(catalogue())
        scenario = scenarios[target.ascii_name]
        order = ["error", "fail", "warn", "info", "pass"]
        for rule_id, expected in scenario.expected().items():
            got = [f for f in findings if f.rule_id == rule_id]
            if isinstance(expected, dict):  # per address family
                checks = [(f, expected["ipv4" if f.subject in target.ipv4 else "ipv6"]) for f in got
                          if f.subject in target.addresses]
            else:  # one word for the target: its worst subject must give it
                worst = min(got, key=lambda f: order.index(f.verdict))
                checks = [(worst, expected)]
            for f, want in checks:
                if f.verdict != want:
                    mismatches.append(f"{scenario.name} {rule_id} [{f.subject}]: got {f.verdict}, want {want}: "
                                      f"{f.text('en')}")
        status = report.summary["targets"][target.ascii_name]["status"]
        if status != _expected_status(scenario):
            mismatches.append(f"{scenario.name}: status {status}, want {_expected_status(scenario)}")
    assert not mismatches, "\n".join(mismatches)


def test_check_table_output_and_exit_code(lab):
    r = subprocess.run([NETREADY, "check", "--lab", "--lang", "vi", "dichvucong.good.gov.vn"],
                       capture_output=True, text=True, timeout=300,
                       env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin", **_lab_name_env()})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dichvucong.good.gov.vn: ĐẠT" in r.stdout
    assert "\x1b[" not in r.stdout


def _lab_name_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("NETREADY_")}
