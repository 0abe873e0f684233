"""Renumbering and rotation on the lab machines (issue #15, item 6), re-probed by netready after every step:
changing web1's IPv6 address replaces its AAAA in both zones (never one beside the other), and a KSK rollover of
the Knot zone and of the BIND zone (new key, DS export, old key retired only after the parent serves the new DS)
keeps the zone secure at every step. (Certificate renewal with the chain complete: tests/playbooks/test_acme_lab.py.)"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from netready.lab.machines.spec import BIND_ZONE, KNOT_ZONE, PORTALS
from netready.lab.plan import GOV_SERVERS
from netready.remediate import EXIT_HOST_FAILED, EXIT_OK, PLAYBOOK_DIR, remediate, run_playbook

# The signers wait propagation delay + the DNSKEY TTL between rollover steps, BIND also its safety margins and the
# parent's DS TTL: seconds in the lab, not hours. Knot also waits the largest TTL of the zone: the lab zone's TTLs
# are 300 s, zone-max-ttl tells Knot to count 5 — only a lab may say so (BIND refuses a zone whose TTLs exceed its
# max-zone-ttl: it keeps its default of a day, which only delays the old key's removal, see the test).
FAST_KEYS = {"dnssec_propagation_delay": "1s", "dnssec_dnskey_ttl": 3,
             "dnssec_publish_safety": "1s", "dnssec_retire_safety": "1s", "dnssec_parent_ds_ttl": 2,
             "dnssec_parent_propagation_delay": "1s"}
FAST_ZONE = {"knot1": {"dnssec_zone_max_ttl": 5}, "bind1": {}}


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


def _rollover(lab_inv: str, host: str, zone: str, step: str) -> tuple[str, list]:
    status, _rc, _hosts, events, stdout = run_playbook(
        str(PLAYBOOK_DIR / "dnssec_ksk_rollover.yml"), lab_inv, limit=host,
        extravars={**FAST_KEYS, **FAST_ZONE[host], "dnssec_rollover_zone": zone, "dnssec_rollover_step": step,
                   "dnssec_parent_servers": [GOV_SERVERS[0].ipv4]})
    return status, [e for e in events if e.status == "failed"] or stdout


def _ds(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if " DS " in line] if path.exists() else []


def _ksk_tags(server: str, zone: str) -> set[int]:
    """Key tags of the key-signing keys the server publishes in the zone."""
    import dns.dnssec
    import dns.message
    import dns.query
    import dns.rdatatype

    reply = dns.query.udp(dns.message.make_query(zone, "DNSKEY"), server, timeout=2)
    return {dns.dnssec.key_id(rd) for rrset in reply.answer if rrset.rdtype == dns.rdatatype.DNSKEY
            for rd in rrset if rd.flags & 1}


def _bind_status(machine, zone: str) -> dict[int, dict[str, str]]:
    """`rndc dnssec -status ZONE` on the machine: {key tag: {state name: state}}."""
    out = machine.run(["rndc", "dnssec", "-status", zone]).stdout
    keys: dict[int, dict[str, str]] = {}
    for block in out.split("\nkey: ")[1:]:
        tag, _, rest = block.partition(" ")
        keys[int(tag)] = dict(line.strip(" -").split(":", 1) for line in rest.splitlines()
                              if line.strip().startswith("- ") and ":" in line)
        keys[int(tag)] = {k.strip(): v.strip() for k, v in keys[int(tag)].items()}
    return keys


def _bind_retired(machine, zone: str, old_tag: int, new_tag: int) -> bool:
    keys = _bind_status(machine, zone)
    return (keys.get(new_tag, {}).get("ds") == "omnipresent" and keys.get(old_tag, {}).get("goal") == "hidden"
            and keys.get(old_tag, {}).get("ds") in ("unretentive", "hidden"))


@pytest.mark.parametrize(("host", "zone"), [("knot1", KNOT_ZONE), ("bind1", BIND_ZONE)])
def test_ksk_rollover_keeps_the_zone_secure_at_every_step(fresh_machines, lab_inv, lab_settings, work_dir,
                                                          host, zone):
    from netready.lab.machines import submit_exported_ds

    portal = f"dichvucong.{zone}"
    ds_file = work_dir / "ds" / f"{zone}.ds"

    def registrar() -> None:
        assert zone in submit_exported_ds(work_dir / "ds", zones=[zone])

    def secure() -> None:
        assert _verdicts(lab_settings, [portal], "VN-DNSSEC") == {portal: {"pass"}}

    r = remediate("dnssec", lab_inv, limit=host, settings=lab_settings, extravars={**FAST_KEYS, **FAST_ZONE[host]},
                  between=registrar)
    assert r.exit_code() == EXIT_OK, r.stdout[-4000:]
    old = _ds(ds_file)
    assert len(old) == 1
    secure()

    # 1. a second key is published; once ready, both DS are exported and the new one is named
    status, failed = _rollover(lab_inv, host, zone, "new-key")
    assert status == "successful", failed
    both = _ds(ds_file)
    new = _ds(ds_file.with_name(f"{zone}.ds.new"))
    assert len(both) == 2 and old[0] in both and len(new) == 1 and new[0] in both
    secure()  # the parent still has the old DS only

    # 2. retiring the old key before the parent serves the new DS is refused: nothing changes
    status, failed = _rollover(lab_inv, host, zone, "retire-old")
    assert status == "failed" and "does not serve the DS of the new key" in failed[0].message, failed
    assert _ds(ds_file) == both
    secure()

    # 3. the registrar publishes the exported DS (both), 4. the old key is retired, 5. the parent keeps the new one
    registrar()
    secure()
    status, failed = _rollover(lab_inv, host, zone, "retire-old")
    assert status == "successful", failed
    assert _ds(ds_file) == new
    secure()
    registrar()
    secure()
    server = fresh_machines[host].ipv4
    old_tag, new_tag = (int(line.split(" DS ")[1].split()[0]) for line in (old[0], new[0]))
    if host == "knot1":  # Knot took the old key out of the zone before retire-old returned
        assert _ksk_tags(server, zone) == {new_tag}
    else:  # BIND retires it: the new DS counts as the one in force, the old one as withdrawn (its DNSKEY goes
        # once the zone's largest TTL has passed, a day by default), and the zone stays secure meanwhile
        deadline = time.monotonic() + 60
        while not _bind_retired(fresh_machines[host], zone, old_tag, new_tag) and time.monotonic() < deadline:
            assert new_tag in _ksk_tags(server, zone)
            secure()
            time.sleep(2)
        assert _bind_retired(fresh_machines[host], zone, old_tag, new_tag), _bind_status(fresh_machines[host], zone)
    secure()
    r = remediate("dnssec", lab_inv, limit=host, settings=lab_settings, extravars={**FAST_KEYS, **FAST_ZONE[host]})
    assert r.exit_code() == EXIT_OK and r.hosts[host].changed == 0, r.stdout[-3000:]
    assert r.exit_code() != EXIT_HOST_FAILED
