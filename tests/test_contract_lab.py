"""`contract verify` on the lab: each clause gets the status the lab's scenario table implies."""

from __future__ import annotations

import hashlib

from netready.contract import clause_catalogue, verify_contract, write_contract_report
from netready.model import Report

SCENARIOS = ("good", "nov6", "v6dead", "unsigned", "expiredsig", "legacy", "selfsigned", "v6diff")


def spec_text(portal, ipv6: list[str] | None = None, clauses: str = "all") -> str:
    v6 = ", ".join(f'"{a}"' for a in (portal.ipv6 if ipv6 is None else ipv6))
    return f"""\
contract:
  id: HĐ-LAB-{portal.scenario}
  provider: Nhà cung cấp thử nghiệm {portal.scenario}
scenario: outsourced
services:
  - kind: web
    names: [{portal.name}]
    expected:
      ipv4: [{", ".join(portal.ipv4)}]
      ipv6: [{v6}]
  - kind: dns
    zones: [{portal.zone}]
    names: [{portal.name}]
clauses: {clauses}
"""


def expected_status(portal, clause) -> str:
    """The clause status implied by the lab's expected verdicts of its rules."""
    if not clause.rules:
        return "manual"
    verdicts: list[str] = []
    for rid in clause.rules:
        v = portal.expected.get(rid, "pass")
        verdicts.extend(v.values() if isinstance(v, dict) else [v])
    if "fail" in verdicts or (clause.demands_pass and "info" in verdicts):
        return "not-met"
    if "error" in verdicts:
        return "not-verified"
    return "warn" if "warn" in verdicts else "met"


def test_contract_verify_matches_lab_scenarios(lab, lab_settings, tmp_path) -> None:
    catalogue = clause_catalogue()
    mismatches = []
    for scenario in SCENARIOS:
        portal = lab.portal(scenario)
        spec = tmp_path / f"{scenario}.yml"
        spec.write_text(spec_text(portal), encoding="utf-8")
        cr = verify_contract(spec, lab_settings)
        for clause in cr.clauses:
            want = expected_status(portal, catalogue[clause["id"]])
            if clause["status"] != want:
                mismatches.append((scenario, clause["id"], clause["status"], want))
        if scenario == "good":
            assert cr.exit_code() == 0
            assert all(a["status"] == "pass" for a in cr.evidence["addresses"])
    assert not mismatches


def test_optional_clauses_on_lab_count_info_as_not_met(lab, lab_settings, tmp_path) -> None:
    # WEB-TLS-PQ, DNS-DNSSEC-CDS, DNS-CAA ask for what their rules only report: the lab's nginx (OpenSSL 3.0) has
    # no post-quantum group and its zones publish no CDS, so those are not met while DNS-CAA is met
    catalogue = clause_catalogue()
    optional = [cid for cid, c in catalogue.items() if c.optional and "outsourced" in c.scenarios]
    assert {"WEB-TLS-PQ", "DNS-DNSSEC-CDS", "DNS-CAA"} <= set(optional)
    mismatches = []
    for scenario in SCENARIOS:
        portal = lab.portal(scenario)
        spec = tmp_path / f"{scenario}.yml"
        spec.write_text(spec_text(portal, clauses="[" + ", ".join(optional) + "]"), encoding="utf-8")
        cr = verify_contract(spec, lab_settings)
        assert [c["id"] for c in cr.clauses] == optional
        for clause in cr.clauses:
            want = expected_status(portal, catalogue[clause["id"]])
            if clause["status"] != want:
                mismatches.append((scenario, clause["id"], clause["status"], want))
        if scenario == "good":
            assert cr.status_of("WEB-TLS-PQ") == "not-met" and cr.status_of("DNS-CAA") == "met"
    assert not mismatches


def test_contract_evidence_on_lab(lab, lab_settings, tmp_path) -> None:
    portal = lab.portal("good")
    spec = tmp_path / "good.yml"
    spec.write_text(spec_text(portal, ipv6=["2001:db8:ffff::1"]), encoding="utf-8")  # wrong expected IPv6
    cr = verify_contract(spec, lab_settings)
    assert cr.status_of("WEB-IPV6") == "not-met" and cr.status_of("WEB-TLS-CERT") == "met"
    ev = cr.evidence
    assert ev["trust"]["trust_anchor"]["text"].strip() and ev["trust"]["ca_file"]["subjects"]
    observations = [o for r in ev["report"]["results"] for o in r["observations"]]
    assert observations and all(o["started"] for o in observations if "$" not in o)
    assert Report.from_dict(ev["report"]).observations  # the embedded report reads back (shared evidence resolved)
    raw = write_contract_report(cr, "json", tmp_path / "evidence.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == cr.sha256
    pdf = write_contract_report(cr, "pdf", tmp_path / "evidence.pdf", "vi")
    import subprocess

    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    assert "BÁO CÁO NGHIỆM THU KỸ THUẬT THEO HỢP ĐỒNG" in flat and "KHÔNG ĐẠT" in flat
    assert cr.sha256 in text.replace("\n", "")
