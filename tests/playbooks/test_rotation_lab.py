"""Renumbering and rotation on the lab machines (issue #15, item 6), re-probed by netready after every step:
changing web1's IPv6 address replaces its AAAA in both zones (never one beside the other), and a KSK rollover of
the Knot zone (new key, DS export, old key retired only after the parent serves the new DS) keeps the zone
secure at every step. (Certificate renewal with the chain complete: tests/playbooks/test_acme_lab.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

from netready.lab.machines.spec import KNOT_ZONE, PORTALS
from netready.lab.plan import GOV_SERVERS
from netready.remediate import EXIT_HOST_FAILED, EXIT_OK, PLAYBOOK_DIR, remediate, run_playbook

KNOT_PORTAL = f"dichvucong.{KNOT_ZONE}"
# Knot waits propagation delay + the largest TTL between rollover steps: seconds in the lab, not hours (the lab
# zone's TTLs are 300 s; zone-max-ttl tells Knot to count 5 — only a lab may say so).
FAST_KEYS = {"dnssec_propagation_delay": "1s", "dnssec_dnskey_ttl": 3, "dnssec_zone_max_ttl": 5}


def _aaaa(server: str, name: str) -> set[str]:
    out = subprocess.run(["dig", "+short", "+norec", "+time=2", "+tries=2", f"@{server}", name, "AAAA"],
                         capture_output=True, text=True, timeout=20).stdout
    return set(out.split())


def _verdicts(lab_settings, portals, rule: str) -> dict[str, set[str]]:
    from netready.profiles import load_profile
    from netready.scan import scan

    report = scan(list(portals), lab_settings, load_profile("lab"))
    out: dict[str, set[str]] = {}
    for f in report.findings:
        if f.rule_id == rule:
            out.setdefault(f.target, set()).add(f.verdict)
    return out


def test_renumbering_replaces_the_aaaa_instead_of_adding_one(fresh_machines, lab_inv, lab_settings, tmp_path):
    bind1, knot1 = fresh_machines["bind1"].ipv4, fresh_machines["knot1"].ipv4
    r = remediate("dual-stack", lab_inv)
    assert r.exit_code() == EXIT_OK, r.stdout[-4000:]
    for portal, server in zip(PORTALS, (bind1, knot1), strict=True):
        assert _aaaa(server, portal) == {"2001:db8:300::200"}

    moved = tmp_path / "hosts.yml"
    moved.write_text(Path(lab_inv).read_text().replace('dual_stack_ipv6_address: "2001:db8:300::200/64"',
                                                       'dual_stack_ipv6_address: "2001:db8:300::210/64"'))
    r = remediate("dual-stack", str(moved), settings=lab_settings)
    assert r.exit_code() == EXIT_OK, r.stdout[-4000:]
    for portal, server in zip(PORTALS, (bind1, knot1), strict=True):
        assert _aaaa(server, portal) == {"2001:db8:300::210"}, portal  # replaced, not added
    after = {t.ascii_name: t.ipv6 for t in r.after.targets}
    assert after == {p: ["2001:db8:300::210"] for p in PORTALS}  # what netready now sees
    assert {f.verdict for f in r.after.findings if f.rule_id == "VN-IPV6-WEB"} == {"pass"}


def _rollover(lab_inv: str, step: str) -> tuple[str, list]:
    status, _rc, _hosts, events, stdout = run_playbook(
        str(PLAYBOOK_DIR / "dnssec_ksk_rollover.yml"), lab_inv, limit="knot1",
        extravars={**FAST_KEYS, "dnssec_rollover_zone": KNOT_ZONE, "dnssec_rollover_step": step,
                   "dnssec_parent_servers": [GOV_SERVERS[0].ipv4]})
    return status, [e for e in events if e.status == "failed"] or stdout


def _ds(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if " DS " in line] if path.exists() else []


def test_ksk_rollover_keeps_the_zone_secure_at_every_step(fresh_machines, lab_inv, lab_settings, work_dir):
    from netready.lab.machines import submit_exported_ds

    ds_file = work_dir / "ds" / f"{KNOT_ZONE}.ds"

    def registrar() -> None:
        assert KNOT_ZONE in submit_exported_ds(work_dir / "ds", zones=[KNOT_ZONE])

    def secure() -> None:
        assert _verdicts(lab_settings, [KNOT_PORTAL], "VN-DNSSEC") == {KNOT_PORTAL: {"pass"}}

    r = remediate("dnssec", lab_inv, limit="knot1", settings=lab_settings, extravars=FAST_KEYS, between=registrar)
    assert r.exit_code() == EXIT_OK, r.stdout[-4000:]
    old = _ds(ds_file)
    assert len(old) == 1
    secure()

    # 1. a second key is published; once ready, both DS are exported and the new one is named
    status, failed = _rollover(lab_inv, "new-key")
    assert status == "successful", failed
    both = _ds(ds_file)
    new = _ds(ds_file.with_name(f"{KNOT_ZONE}.ds.new"))
    assert len(both) == 2 and old[0] in both and len(new) == 1 and new[0] in both
    secure()  # the parent still has the old DS only

    # 2. retiring the old key before the parent serves the new DS is refused: nothing changes
    status, failed = _rollover(lab_inv, "retire-old")
    assert status == "failed" and "does not serve the DS of the new key" in failed[0].message, failed
    assert _ds(ds_file) == both
    secure()

    # 3. the registrar publishes the exported DS (both), 4. the old key is retired, 5. the parent keeps the new one
    registrar()
    secure()
    status, failed = _rollover(lab_inv, "retire-old")
    assert status == "successful", failed
    assert _ds(ds_file) == new
    secure()
    registrar()
    secure()
    r = remediate("dnssec", lab_inv, limit="knot1", settings=lab_settings, extravars=FAST_KEYS)
    assert r.exit_code() == EXIT_OK and r.hosts["knot1"].changed == 0, r.stdout[-3000:]
    assert r.exit_code() != EXIT_HOST_FAILED
