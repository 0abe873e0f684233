"""playbooks/vantage_scan.yml for real, through ansible-runner (netready.remediate.run_playbook): two vantage
points that are both this machine (ansible_connection: local), each with its own work directory and its own
list of lab portals, their reports fetched with ansible.builtin.fetch and merged on the controller.

What is not tested here: SSH to remote probe hosts, and `netready_vantage_install: true` (pip needs a package index
or wheels on the probe host; this machine has no Internet).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from netready.model import Report
from netready.remediate import PLAYBOOK_DIR, run_playbook

PLAYBOOK = str(PLAYBOOK_DIR / "vantage_scan.yml")
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "report.schema.json").read_text(encoding="utf-8"))
CHECK_TASK = "Check the portals from this vantage point"


@pytest.fixture(scope="module")
def setup(lab, tmp_path_factory):
    from netready import lab as lab_mod

    d = tmp_path_factory.mktemp("vantage-play")
    good, legacy = lab.portal("good").name, lab.portal("legacy").name
    (d / "names-a.txt").write_text(f"# isp-a\n{good}\n{legacy}\n", encoding="utf-8")
    (d / "names-b.txt").write_text(f"{good}\n", encoding="utf-8")
    netready = str(Path(sys.executable).parent / "netready")
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "netready_vantage_command": netready,
        "netready_vantage_check_args": ["--lab"],
        "netready_vantage_check_poll": 1,
        "netready_vantage_environment": {"NETREADY_LAB_NAME": lab_mod.lab_name(), "NO_COLOR": "1"},
    }
    inventory = {
        "all": {
            "vars": {"netready_vantage_fetch_dir": str(d / "fetched")},
            "children": {
                "vantage": {
                    "hosts": {
                        "isp-a": {
                            **host,
                            "netready_vantage_work_dir": str(d / "remote-a"),
                            "netready_vantage_names_file": str(d / "names-a.txt"),
                        },
                        "isp-b": {
                            **host,
                            "netready_vantage_work_dir": str(d / "remote-b"),
                            "netready_vantage_names_file": str(d / "names-b.txt"),
                        },
                    }
                }
            },
        }
    }
    inv = d / "hosts.yml"
    inv.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return {"dir": d, "inv": str(inv), "good": good, "legacy": legacy}


def _run(setup, check: bool = False):
    status, rc, hosts, events, stdout = run_playbook(PLAYBOOK, setup["inv"], check=check, timeout=600)
    assert rc == 0, stdout[-3000:]
    assert not any(h.failed or h.unreachable for h in hosts.values()), stdout[-3000:]
    return hosts, events


def test_check_mode_changes_nothing(setup):
    hosts, events = _run(setup, check=True)
    assert set(hosts) >= {"isp-a", "isp-b", "localhost"}
    d = setup["dir"]
    assert not (d / "fetched").exists()
    assert not (d / "remote-a").exists() and not (d / "remote-b").exists()


def test_playbook_checks_fetches_and_merges(setup):
    hosts, events = _run(setup)
    d = setup["dir"]
    checks = {e.host: e.status for e in events if e.task == CHECK_TASK}
    assert checks == {"isp-a": "changed", "isp-b": "changed"}
    for vp, names in (("isp-a", [setup["good"], setup["legacy"]]), ("isp-b", [setup["good"]])):
        fetched = d / "fetched" / f"{vp}.json"
        remote = d / f"remote-{vp[-1]}" / f"{vp}.json"
        assert fetched.read_bytes() == remote.read_bytes()
        raw = json.loads(fetched.read_text(encoding="utf-8"))
        jsonschema.validate(raw, SCHEMA)
        assert [t.ascii_name for t in Report.from_dict(raw).targets] == names
        assert raw["profile"] == "lab"
    merged_raw = json.loads((d / "fetched" / "merged.json").read_text(encoding="utf-8"))
    jsonschema.validate(merged_raw, SCHEMA)
    merged = Report.from_dict(merged_raw)
    meta = merged.settings["merge"]["vantage_points"]
    assert [m["name"] for m in meta] == ["isp-a", "isp-b"]
    for m in meta:
        assert m["sha256"] == hashlib.sha256((d / "fetched" / f"{m['name']}.json").read_bytes()).hexdigest()
    assert merged.summary["targets"][setup["legacy"]]["not_checked_at"] == ["isp-b"]
    assert merged.summary["targets"][setup["good"]]["vantage_points"] == ["isp-a", "isp-b"]
    assert merged.summary["targets"][setup["good"]]["status"] == "compliant"
    assert merged.summary["targets"][setup["legacy"]]["status"] == "not-compliant"
    ids = [o.id for o in merged.observations]
    assert len(ids) == len(set(ids)) and all(i.startswith(("isp-a/", "isp-b/")) for i in ids)
    assert "isp-a/" in (d / "fetched" / "merged.html").read_text(encoding="utf-8")


def test_second_run_resumes_and_checks_nothing_again(setup):
    hosts, events = _run(setup)
    checks = {e.host: e.status for e in events if e.task == CHECK_TASK}
    assert checks == {"isp-a": "ok", "isp-b": "ok"}
    journal = setup["dir"] / "remote-a" / "isp-a.json.jsonl"
    lines = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    assert sorted(x["input"] for x in lines if x["kind"] == "target") == sorted([setup["good"], setup["legacy"]])
