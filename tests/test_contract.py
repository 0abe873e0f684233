"""Contract clauses, SPEC.yml validation with line numbers, clause verdicts and the evidence hash (no network)."""

from __future__ import annotations

import hashlib
import json

import pytest

from netready.contract import (
    ContractReport,
    build_contract_report,
    canonical_json,
    clause_catalogue,
    contract_clauses,
    not_contractual,
    render_clauses,
    rules_without_clause,
    select_clauses,
    write_clauses,
    write_contract_report,
)
from netready.contract_spec import SpecError, parse_spec
from netready.judge import summarize
from netready.model import Finding, ProbeSettings, Report, Target
from netready.rules import catalogue

SPEC = """\
contract:
  id: HĐ-01/2026
  provider: Công ty Dữ liệu Ví Dụ
  signed: 2026-01-15
scenario: outsourced
services:
  - kind: web
    names: [dichvucong.a.gov.vn]
    expected:
      ipv4: [198.51.100.20]
      ipv6: ["2001:db8::20"]
  - kind: dns
    zones: [a.gov.vn]
    names: [dichvucong.a.gov.vn]
clauses: all
"""


def parse(text: str):
    return parse_spec(text, "SPEC.yml", clause_catalogue())


def test_catalogue_rules_exist_and_scenarios_differ() -> None:
    rules = catalogue()
    for clause in clause_catalogue().values():
        assert set(clause.rules) <= set(rules)
        assert clause.text["vi"] and clause.text["en"]
    web_out = {c.id for c in select_clauses("outsourced", "web")}
    web_idc = {c.id for c in select_clauses("idc", "web")}
    dns = {c.id for c in select_clauses("outsourced", "dns")}
    assert {"WEB-TLS-CERT", "WEB-TLS-VERSION", "WEB-IPV6", "WEB-HTTPS-REDIRECT"} <= web_out
    assert "ISP-IPV6" in web_idc and "WEB-TLS-CERT" not in web_idc
    assert {"DNS-IPV6-NS", "DNS-AAAA", "DNS-DNSSEC-SIGN", "DNS-DNSSEC-DS", "DNS-DNSSEC-ROLLOVER",
            "DNS-DNSSEC-MONITOR", "GEN-NOTICE", "GEN-ACCEPTANCE", "GEN-REMEDY"} <= dns
    assert not {c for c in dns if c.startswith("WEB-")}
    # every catalogue requirement of the brief has a clause that tests it
    tested = {r for c in clause_catalogue().values() for r in c.rules}
    assert {"VN-IPV6-WEB", "VN-IPV6-DNS", "VN-DNSSEC", "BP-DNSSEC-SIGS", "VN-TLS12", "VN-TLS-CA",
            "VN-TLS-KEY2048", "BP-HSTS", "VN-HTTPS-FORCED"} <= tested


def test_clause_document_formats(tmp_path) -> None:
    from docx import Document as Docx

    doc = contract_clauses("outsourced", "both", "vi")
    md = render_clauses(doc, "md")
    assert "Ký số DNSSEC vùng tên miền [DNS-DNSSEC-SIGN]" in md
    assert "VN-DNSSEC, BP-DNSSEC-ALGO, BP-DNSSEC-NSEC3" in md and "netready contract verify" in md
    write_clauses(doc, "docx", tmp_path / "c.docx")
    text = "\n".join(p.text for p in Docx(str(tmp_path / "c.docx")).paragraphs)
    assert "Bên cung cấp lập bản ghi DS (digest SHA-256)" in text
    en = render_clauses(contract_clauses("idc", "web", "en"), "md")
    assert "IPv6 Internet connectivity to the IDC" in en and "Trusted certificate" not in en


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (SPEC.replace("scenario: outsourced", "scenario: outsourced\ncolour: red"), 6, "unknown field 'colour'"),
        (SPEC.replace("    names: [dichvucong.a.gov.vn]\n    expected", "    names: [dichvucong.a.gov.vn]\n"
                      "    port: 443\n    expected"), 9, "unknown field 'port' in a service"),
        (SPEC.replace("clauses: all", "clauses: [WEB-HTTPS, WEB-TELEPORT]"), 15, "unknown clause 'WEB-TELEPORT'"),
        (SPEC.replace("clauses: all", "clauses: [ISP-IPV6]"), 15, "does not apply to scenario outsourced"),
        (SPEC.replace('"2001:db8::20"', "198.51.100.9"), 11, "not an IPv6 address"),
        (SPEC.replace("kind: dns", "kind: mail"), 12, "service kind 'mail'"),
        (SPEC.replace("  provider: Công ty Dữ liệu Ví Dụ\n", ""), 2, "lacks required field(s) provider"),
        (SPEC.replace("services:\n", "services: [\n", 1), 7, "not valid YAML"),
    ],
)
def test_malformed_spec_names_the_line(text: str, line: int, needle: str) -> None:
    with pytest.raises(SpecError) as info:
        parse(text)
    assert info.value.line == line, str(info.value)
    assert needle in str(info.value) and str(info.value).startswith(f"SPEC.yml:{line}:")


def test_spec_values_stay_text_and_all_expands() -> None:
    spec = parse(SPEC)
    assert spec.contract["signed"] == "2026-01-15"  # not a YAML date
    assert spec.names() == ["dichvucong.a.gov.vn"]
    assert "WEB-TLS-CERT" in spec.clauses and "DNS-DNSSEC-DS" in spec.clauses and "ISP-IPV6" not in spec.clauses


def made_report(fails: dict[str, str], ipv6: list[str]) -> Report:
    target = Target("dichvucong.a.gov.vn", "dichvucong.a.gov.vn", ["198.51.100.20"], ipv6)
    findings = [Finding(rid, target.ascii_name, fails.get(rid, "pass"), rule.level, {"vi": "lý do", "en": "reason"},
                        None, [f"obs:{rid}"]) for rid, rule in catalogue().items()]
    return Report("0.1.0", "2026-11-26T00:00:00.000Z", "2026-11-26T00:00:01.000Z", "circular32", targets=[target],
                  findings=findings, summary=summarize([target], findings))


def build(fails: dict[str, str], ipv6: list[str] | None = None) -> ContractReport:
    report = made_report(fails, ["2001:db8::20"] if ipv6 is None else ipv6)
    return build_contract_report(parse(SPEC), report, ProbeSettings(), "circular32", report.started, report.finished)


def test_clause_status_from_verdicts() -> None:
    cr = build({"VN-DNSSEC": "fail", "VN-TLS12": "error", "BP-TLS-CERT": "warn"})
    assert cr.status_of("DNS-DNSSEC-SIGN") == "not-met"
    assert cr.status_of("DNS-DNSSEC-DS") == "not-met"
    assert cr.status_of("WEB-TLS-VERSION") == "not-verified"  # an error is never a pass
    assert cr.status_of("WEB-TLS-RENEWAL") == "warn"
    assert cr.status_of("WEB-TLS-CERT") == "met"
    assert cr.status_of("GEN-REMEDY") == "manual"
    assert cr.exit_code() == 1
    assert build({"VN-TLS12": "error"}).exit_code() == 2
    assert build({}).exit_code() == 0


def test_expected_addresses_decide_address_clauses() -> None:
    cr = build({}, ipv6=["2001:db8::99"])
    assert cr.status_of("WEB-IPV6") == "not-met" and cr.status_of("DNS-AAAA") == "not-met"
    row = next(a for a in cr.evidence["addresses"] if a["family"] == "ipv6")
    assert row["missing"] == ["2001:db8::20"] and row["unexpected"] == ["2001:db8::99"]
    assert cr.status_of("WEB-HTTPS") == "met"  # address clauses only


def test_evidence_hash_covers_the_json_bytes(tmp_path) -> None:
    cr = build({"VN-DNSSEC": "fail"})
    path = write_contract_report(cr, "json", tmp_path / "evidence.json")
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == cr.sha256
    # a third party recomputes it from the parsed JSON with the documented serialisation
    again = json.dumps(json.loads(raw), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert hashlib.sha256(again).hexdigest() == cr.sha256
    assert "Công ty Dữ liệu Ví Dụ".encode() in raw  # UTF-8 kept, not \\u escapes
    tampered = json.loads(raw)
    tampered["clauses"][0]["status"] = "met" if tampered["clauses"][0]["status"] != "met" else "not-met"
    assert hashlib.sha256(canonical_json(tampered)).hexdigest() != cr.sha256
    html = write_contract_report(cr, "html", tmp_path / "e.html", "vi").read_text(encoding="utf-8")
    assert cr.sha256 in html and "KHÔNG ĐẠT" in html and "Bên cung cấp" in html


def test_every_catalogue_rule_has_a_contract_clause_or_a_reason() -> None:
    # a rule added to data/rules.yaml without a clause (or a written reason why none) fails here
    assert rules_without_clause() == []
    in_clauses = {r for c in clause_catalogue().values() for r in c.rules}
    for rid, reason in not_contractual().items():
        assert rid not in in_clauses, f"{rid} is both in a clause and marked not contractual"
        assert reason["vi"].strip() and reason["en"].strip()
    # the document says why a rule of the catalogue has no clause in it
    md = render_clauses(contract_clauses("outsourced", "both", "en"), "md")
    assert "VN-NAMING" in md and "Decree 42/2022 Art. 13" in md.split("Rules with no clause")[1]
    idc = render_clauses(contract_clauses("idc", "dns", "vi"), "md").split("Quy tắc không có điều khoản")[1]
    assert "BP-TLS-VULNS" in idc and "kịch bản hoặc dịch vụ khác" in idc


# rule -> what its clause must cite (in both languages): the standard or the flaw it names
NEW_RULE_CITES = {
    "BP-DNS-DELEGATION": ("RFC 1034", "RFC 2181", "RFC 2182", "glue", "lame"),
    "BP-DNSSEC-CDS": ("RFC 7344", "RFC 8078", "RFC 9615", "CDNSKEY"),
    "BP-TLS-VULNS": ("SSLv2", "RFC 5746", "CVE-2014-0160", "ROBOT", "CRIME", "RFC 7507", "CVE-2014-0224"),
    "BP-TLS-PQ": ("X25519MLKEM768", "HelloRetryRequest", "FIPS 203"),
    "BP-OCSP": ("RFC 6960", "RFC 7633", "must-staple", "nextUpdate"),
    "VN-IPV6-ONLY": ("3369/QĐ-BKHCN", "AAAA"),
    "BP-TLS13": ("RFC 8446",),
    "BP-CAA": ("RFC 8659",),
}


@pytest.mark.parametrize("rule_id", sorted(NEW_RULE_CITES))
def test_recent_rules_have_a_clause_citing_their_standard(rule_id: str) -> None:
    clauses = [c for c in clause_catalogue().values() if rule_id in c.rules]
    assert clauses, f"no clause decided by {rule_id}"
    for lang in ("vi", "en"):
        text = " ".join(c.text[lang] for c in clauses)
        missing = [cite for cite in NEW_RULE_CITES[rule_id] if cite not in text]
        assert not missing, f"{rule_id} ({lang}): clause text lacks {missing}"
    scenario = next(s for s in ("outsourced", "idc") if s in clauses[0].scenarios)
    md = render_clauses(contract_clauses(scenario, "both", "vi"), "md")
    assert f"[{clauses[0].id}]" in md and rule_id in md


def test_optional_clauses_are_offered_but_in_force_only_when_listed() -> None:
    optional = {c.id for c in clause_catalogue().values() if c.optional}
    assert {"WEB-TLS-PQ", "DNS-DNSSEC-CDS", "DNS-CAA"} <= optional
    assert not optional & set(parse(SPEC).clauses)  # "all" leaves them out
    listed = parse(SPEC.replace("clauses: all", "clauses: [WEB-TLS-VULNS, WEB-TLS-PQ, DNS-DNSSEC-CDS]"))
    assert listed.clauses == ["WEB-TLS-VULNS", "WEB-TLS-PQ", "DNS-DNSSEC-CDS"]
    md = render_clauses(contract_clauses("outsourced", "both", "en"), "md")
    assert "Optional clause: in force only when the parties include it (list WEB-TLS-PQ" in md
    assert "(list WEB-TLS-VULNS" not in md


def build_listed(clauses: str, verdicts: dict[str, str]) -> ContractReport:
    report = made_report(verdicts, ["2001:db8::20"])
    return build_contract_report(parse(SPEC.replace("clauses: all", f"clauses: [{clauses}]")), report,
                                 ProbeSettings(), "circular32", report.started, report.finished)


def test_info_is_not_met_for_a_clause_that_demands_the_thing_itself() -> None:
    # no CAA record / no CDS / no post-quantum group: the rule says "info", the clause asked for it
    absent = {"BP-CAA": "info", "BP-DNSSEC-CDS": "info", "BP-TLS-PQ": "info", "BP-OCSP": "info"}
    cr = build_listed("DNS-CAA, DNS-DNSSEC-CDS, WEB-TLS-PQ, WEB-TLS-OCSP", absent)
    assert cr.status_of("DNS-CAA") == "not-met"
    assert cr.status_of("DNS-DNSSEC-CDS") == "not-met"
    assert cr.status_of("WEB-TLS-PQ") == "not-met"
    assert cr.status_of("WEB-TLS-OCSP") == "met"  # stapling is a "should": no staple is not a breach
    assert cr.exit_code() == 1
    cr = build_listed("DNS-CAA, DNS-DNSSEC-CDS, WEB-TLS-PQ, WEB-TLS-OCSP", {})
    assert {c["id"]: c["status"] for c in cr.clauses} == dict.fromkeys(
        ("DNS-CAA", "DNS-DNSSEC-CDS", "WEB-TLS-PQ", "WEB-TLS-OCSP"), "met")


def test_new_clauses_follow_their_rules_verdicts() -> None:
    cr = build_listed("WEB-TLS-VULNS, DNS-DELEGATION, WEB-TLS13, WEB-TLS-OCSP",
                      {"BP-TLS-VULNS": "fail", "BP-DNS-DELEGATION": "warn", "BP-TLS13": "error", "BP-OCSP": "fail"})
    assert cr.status_of("WEB-TLS-VULNS") == "not-met"
    assert cr.status_of("DNS-DELEGATION") == "warn"
    assert cr.status_of("WEB-TLS13") == "not-verified"
    assert cr.status_of("WEB-TLS-OCSP") == "not-met"  # a revoked or wrong staple, or must-staple without one


def test_a_clause_that_demands_pass_says_so_after_its_commands() -> None:
    md = render_clauses(contract_clauses("outsourced", "dns", "en"), "md")
    cds = md.split("[DNS-DNSSEC-CDS]")[1].split("## ")[0]
    assert cds.index("netready contract verify SPEC.yml   # DNS-DNSSEC-CDS") < cds.index(
        'An "info" result (e.g. nothing published) does not count as a pass for this clause.')
    assert "does not count as a pass" not in md.split("[DNS-DELEGATION]")[1].split("## ")[0]
