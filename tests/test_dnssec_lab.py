"""DNSSEC probe and rules against the built-in lab (real BIND and Knot), side by side with delv."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from netready.evaluate import registry
from netready.model import Target
from netready.probes.dnssec import run, run_name
from netready.profiles import load_profile
from netready.views.dnssec import chain_svg, render_chain_text

RULES = ("VN-DNSSEC", "BP-DNSSEC-ALGO", "BP-DNSSEC-NSEC3", "BP-DNSSEC-SIGS", "BP-DNS-CONSISTENT", "BP-CAA",
         "BP-DNS-DELEGATION", "BP-DNSSEC-CDS")
STATUS = {"ok": "secure", "unsigned": "insecure", "bogus-ds": "bogus", "expired": "bogus", "stale": "bogus",
          "optout": "insecure"}


@pytest.fixture(scope="module")
def runs(lab, lab_settings):
    return {p.scenario: run(Target(name=p.name, ascii_name=p.name), lab_settings) for p in lab.portals}


def part(obs, name):
    return [o for o in obs if o.id.split(":")[2] == name]


def test_status_of_every_scenario(lab, runs):
    for p in lab.portals:
        chain = runs[p.scenario][0]
        assert chain.data["status"] == STATUS[p.dnssec], (p.scenario, chain.data["reason"])
        parents = [f"{p.scenario}.gov.vn."] if p.dnssec == "optout" else []  # the portal is the child zone
        assert [z["zone"] for z in chain.data["zones"]] == [".", "vn.", "gov.vn.", *parents, f"{p.zone}."]
        assert {a["type"] for a in chain.data["answers"]} == {"A", "AAAA"}
        final = chain.data["names"][-1]  # after CNAMEs (and the CNAME a DNAME synthesises)
        a = next(x for x in chain.data["answers"] if x["type"] == "A" and x["name"] == final)
        assert a["records"] == p.ipv4, p.scenario


def test_reasons_name_the_real_fault(runs):
    unsigned = runs["unsigned"][0].data
    zone = unsigned["zones"][-1]
    assert zone["status"] == "insecure" and zone["ds_denial"]["proves"] == "no-ds"
    assert "no DS for unsigned.gov.vn." in unsigned["reason"] and "NSEC3" in unsigned["reason"]
    assert all(s["valid"] for s in zone["ds_sigs"])  # the proof itself is signed by gov.vn
    bogus = runs["bogus"][0].data
    assert "no DNSKEY matches DS" in bogus["reason"]
    assert bogus["zones"][-1]["ds"][0]["matches"] is None
    expired = runs["expiredsig"][0].data
    assert "expired at" in expired["reason"]
    assert any(s["crypto_ok"] and not s["valid"] for s in expired["zones"][-1]["dnskey_sigs"])


def test_verdicts_match_the_lab_table(lab, runs):
    reg, profile = registry(), load_profile("lab")
    wrong = []
    for p in lab.portals:
        target = Target(name=p.name, ascii_name=p.name)
        for rule in RULES:
            outs = reg[rule](target, runs[p.scenario], profile)
            assert outs, (p.scenario, rule)
            for o in outs:
                assert o.en and o.vi
                if o.verdict != p.expected[rule]:
                    wrong.append((p.scenario, rule, o.verdict, p.expected[rule], o.en))
    assert not wrong


def test_same_status_through_the_lab_resolver(lab, runs, lab_resolver_settings):
    for p in lab.portals:
        via = run(Target(name=p.name, ascii_name=p.name), lab_resolver_settings)[0]
        assert via.asked["mode"] == "resolver"
        assert via.data["status"] == runs[p.scenario][0].data["status"], p.scenario


def test_same_verdict_as_delv(lab, runs):
    for p in lab.portals:
        if p.dnssec == "stale":  # delv validates what the resolver got from one server; netready every server
            continue
        proc = subprocess.run(
            ["delv", f"@{lab.resolvers[0]}", "-a", lab.trust_anchor_bind, "+root=.", p.name, "A"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        text = proc.stdout + proc.stderr
        if "; fully validated" in text:
            delv = "secure"
        elif "; unsigned answer" in text:
            delv = "insecure"
        elif "resolution failed" in text or "validation failed" in text:
            delv = "bogus"
        else:
            delv = f"? {text[:200]}"
        assert runs[p.scenario][0].data["status"] == delv, (p.scenario, text[:300])


def test_nonexistent_names_are_validated_nxdomain(lab_settings):
    for name, kind in (("nothere.good.gov.vn", None), ("nothere.nsec3iter.gov.vn", "nsec3")):
        chain = run_name(name, lab_settings)[0]
        assert chain.data["status"] == "secure" and chain.data["exists"] is False, chain.data["reason"]
        a = chain.data["answers"][0]
        assert a["rcode"] == "NXDOMAIN" and a["denial"]["proves"] == "nxdomain"
        if kind:
            assert a["denial"]["kind"] == kind


def test_nsec3_parameters_recorded(runs):
    d = part(runs["nsec3iter"], "denial")[0].data
    assert d["kind"] == "nsec3" and d["status"] == "secure"
    assert d["nsec3"]["iterations"] == 10 and d["nsec3"]["salt"] == "AABBCCDD"
    good = part(runs["good"], "denial")[0].data
    assert good["rcode"] == "NXDOMAIN" and good["proves"] == "nxdomain"


def test_every_server_checked_over_udp_and_tcp(lab, runs):
    p = lab.portal("good")
    servers = part(runs["good"], "server")
    expected = {(f"{ns['name']}.", a) for ns in p.nameservers for a in (ns["ipv4"], ns["ipv6"]) if a}
    assert {(o.data["ns"], o.data["address"]) for o in servers} == expected
    for o in servers:
        for tr in ("udp", "tcp"):
            assert o.data[tr]["answered"] and o.data[tr]["aa"] and o.data[tr]["edns"], (o.id, tr)
            assert o.data[tr]["soa_signed"] and o.data[tr]["dnskey_tags"]
    assert len({o.data["udp"]["serial"] for o in servers}) == 1
    nov6 = part(runs["nov6"], "server")
    assert nov6 and all(o.data["family"] == 4 for o in nov6)


def test_caa_climb(runs):
    caa = part(runs["good"], "caa")[0]
    assert caa.data["found_at"] and caa.data["records"]


def test_anchor_forms_dnskey_bind_and_iana(lab, lab_settings):
    for anchor in (lab.trust_anchor_dnskey, lab.trust_anchor_bind):
        s = dataclasses.replace(lab_settings, trust_anchor=anchor)
        assert run_name("dichvucong.good.gov.vn", s)[0].data["status"] == "secure", anchor
    iana = run_name("dichvucong.good.gov.vn", dataclasses.replace(lab_settings, trust_anchor=None))[0]
    assert iana.data["status"] == "bogus" and "no DNSKEY matches DS 20326" in iana.data["zones"][0]["reason"]


def test_chain_text_and_svg(runs):
    text = render_chain_text(runs["unsigned"], "en")
    assert "unsigned.gov.vn. [insecure]" in text and "no DS: NSEC3" in text
    vi = render_chain_text(runs["bogus"], "vi")
    assert "bogus.gov.vn. [sai (bogus)]" in vi and "no DNSKEY matches DS" in vi
    svg = chain_svg(runs["good"])  # Graphviz is in the Makefile's APT_PACKAGES
    assert svg.lstrip().startswith("<?xml") and "good.gov.vn." in svg and "trust anchor" in svg


def test_name_without_addresses_is_still_walked_by_the_scanner(lab, lab_settings):
    """The scanner marks a name with no A/AAAA; the DNSSEC probe still proves the denial securely."""
    from netready.profiles import load_profile
    from netready.scan import check_one

    result = check_one("dichvucong.nosuch.good.gov.vn", lab_settings, load_profile("lab"))
    assert result.target.error and not result.target.addresses
    chain = next(o for o in result.observations if o.id.endswith(":chain"))
    assert chain.error is None and chain.data["exists"] is False
    verdict = next(f for f in result.findings if f.rule_id == "VN-DNSSEC")
    assert verdict.verdict == "fail" and "NXDOMAIN" in verdict.message["en"]


def test_every_server_is_validated_over_ipv4_and_ipv6(lab, runs):
    """Every address of every name server of the portal's zone answers for itself: `good` validates on all
    four, `stale`'s ns2 fails on both its IPv4 and IPv6 address and is named in VN-DNSSEC."""
    good = runs["good"][0].data["servers"]
    assert {(s["address"], s["status"]) for s in good} == {
        (a, "secure") for ns in lab.portal("good").nameservers for a in (ns["ipv4"], ns["ipv6"])}
    stale = runs["stale"][0].data
    bad = {s["address"] for s in stale["servers"] if s["status"] == "bogus"}
    assert bad == {"198.51.100.102", "2001:db8:100::102"}
    assert "ns2.stale.gov.vn (198.51.100.102, 2001:db8:100::102)" in stale["reason"]
    lame = runs["lame"][0].data
    assert lame["status"] == "secure" and not [s for s in lame["servers"] if s["status"] == "bogus"]
