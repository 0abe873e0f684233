"""DNSSEC probe against small hostile and toy servers on loopback (127.53.0.x:53): faults and bad input.

The toy root zone is signed by dnspython (ECDSA P-256, NSEC); the trust anchor is its DS. Each fault server
is the only "root server" of its hints file, so what it does is exactly what the probe meets.
"""

from __future__ import annotations

import time
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest
from dnssec_fakes import FakeServer, hints_file, signed_root, zone_handler

from netready.evaluate import registry
from netready.model import ProbeSettings
from netready.probes.dnssec import run_name
from netready.profiles import load_profile

GOOD, SILENT, REFUSED, FORMERR, GARBAGE, TRUNC, EXPIRED = (f"127.53.0.{i}" for i in range(1, 8))


def _rcode(code: int):
    def handle(q: dns.message.Message, tcp: bool) -> dns.message.Message:
        r = dns.message.make_response(q)
        r.set_rcode(code)
        return r

    return handle


def _truncating(inner):
    def handle(q: dns.message.Message, tcp: bool) -> dns.message.Message:
        if tcp:
            return inner(q, tcp)
        r = dns.message.make_response(q)
        r.flags |= dns.flags.TC
        return r

    return handle


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d: Path = tmp_path_factory.mktemp("dnssec-toy")
    zone, anchor = signed_root(GOOD)
    old_zone, old_anchor = signed_root(EXPIRED, expired=True)
    trunc_zone, trunc_anchor = signed_root(TRUNC)
    (d / "ta").write_text(anchor)
    (d / "ta-trunc").write_text(trunc_anchor)
    (d / "ta-expired").write_text(old_anchor)
    servers = {
        GOOD: FakeServer(GOOD, zone_handler(zone)),
        SILENT: FakeServer(SILENT, lambda q, tcp: None),
        REFUSED: FakeServer(REFUSED, _rcode(dns.rcode.REFUSED)),
        FORMERR: FakeServer(FORMERR, _rcode(dns.rcode.FORMERR)),
        GARBAGE: FakeServer(GARBAGE, lambda q, tcp: b"\x13\x37garbage, not DNS at all"),
        TRUNC: FakeServer(TRUNC, _truncating(zone_handler(trunc_zone))),
        EXPIRED: FakeServer(EXPIRED, zone_handler(old_zone)),
    }
    yield d, servers
    for s in servers.values():
        s.close()


def settings(toy, *roots: str, anchor: str = "ta", timeout: float = 0.3, budget: float = 5.0) -> ProbeSettings:
    d, _ = toy
    hints = hints_file(d / f"hints-{'-'.join(roots)}", list(roots))
    return ProbeSettings(root_hints=hints, trust_anchor=str(d / anchor), timeout=timeout, budget=budget, lab=True)


def by_part(obs, part):
    return [o for o in obs if o.id.split(":")[2] == part]


def judge(obs, rule):
    from netready.model import Target

    t = Target(name=obs[0].target, ascii_name=obs[0].target)
    return registry()[rule](t, obs, load_profile("circular32"))


def test_secure_name_on_toy_root(toy):
    obs = run_name("www.portal.test", settings(toy, GOOD))
    chain = obs[0]
    assert chain.error is None
    assert chain.data["status"] == "secure", chain.data["reason"]
    assert [z["zone"] for z in chain.data["zones"]] == ["."]
    assert chain.data["zones"][0]["ds"][0]["matches"] == chain.data["zones"][0]["dnskeys"][0]["key_tag"]
    answers = {a["type"]: a for a in chain.data["answers"]}
    assert answers["A"]["records"] == ["198.51.100.7"] and answers["A"]["status"] == "secure"
    assert answers["AAAA"]["records"] == ["2001:db8::7"] and all(s["valid"] for s in answers["AAAA"]["sigs"])
    denial = by_part(obs, "denial")[0]
    assert denial.data["rcode"] == "NXDOMAIN" and denial.data["kind"] == "nsec"
    assert denial.data["status"] == "secure" and denial.data["proves"] == "nxdomain"
    server = by_part(obs, "server")[0]
    assert server.data["udp"]["serial"] == 1 and server.data["tcp"]["serial"] == 1
    assert server.data["udp"]["soa_signed"] and server.data["tcp"]["dnskey_tags"]
    caa = by_part(obs, "caa")[0]
    assert caa.data["found_at"] is None
    assert [c["name"] for c in caa.data["checked"]] == ["www.portal.test.", "portal.test.", "test."]
    assert judge(obs, "VN-DNSSEC")[0].verdict == "pass"
    assert judge(obs, "BP-DNSSEC-SIGS")[0].verdict == "pass"
    assert judge(obs, "BP-DNS-CONSISTENT")[0].verdict == "pass"
    assert judge(obs, "BP-CAA")[0].verdict == "info"
    assert judge(obs, "BP-DNSSEC-NSEC3")[0].verdict == "pass"
    assert judge(obs, "BP-DNSSEC-ALGO")[0].verdict == "pass"


def test_signature_days_left_measured_against_observation_time(toy):
    obs = run_name("www.portal.test", settings(toy, GOOD))
    chain = obs[0]
    first = min(s["expiration_ts"] for s in chain.data["zones"][0]["dnskey_sigs"])
    # Re-judge the same saved observations as if they had been made 1 day before the first expiry.
    chain.started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(first - 86400))
    out = judge(obs, "BP-DNSSEC-SIGS")[0]
    assert out.verdict == "warn" and "1.0 days left" in out.en
    chain.started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(first + 60))
    assert judge(obs, "BP-DNSSEC-SIGS")[0].verdict == "fail"


def test_nonexistent_name_is_validated_nxdomain(toy):
    obs = run_name("nothere.test", settings(toy, GOOD))
    d = obs[0].data
    assert d["status"] == "secure" and d["exists"] is False
    assert all(a["rcode"] == "NXDOMAIN" and a["denial"]["proves"] == "nxdomain" for a in d["answers"])
    out = judge(obs, "VN-DNSSEC")[0]
    assert out.verdict == "fail" and "does not exist" in out.en


def test_cname_followed_and_loop_detected(toy):
    obs = run_name("alias.test", settings(toy, GOOD))
    assert obs[0].data["names"] == ["alias.test.", "www.portal.test."]
    assert obs[0].data["status"] == "secure"
    loop = run_name("loop-a.test", settings(toy, GOOD))
    assert loop[0].data["status"] == "indeterminate"
    assert any("CNAME loop" in e for e in loop[0].data["walk_errors"])
    assert judge(loop, "VN-DNSSEC")[0].verdict == "error"


def test_unicode_idn_name_goes_out_as_punycode(toy):
    _, servers = toy
    obs = run_name("dịchvụcông.test", settings(toy, GOOD))
    assert obs[0].target == "xn--dchvcng-x0a0689dsha.test"
    assert obs[0].data["status"] == "secure"
    assert ("xn--dchvcng-x0a0689dsha.test.", "A", False) in servers[GOOD].seen


@pytest.mark.parametrize("name", ["a..test", "x" * 64 + ".test", "", ".".join(["abcdefghi"] * 26)])
def test_bad_names_send_nothing(toy, name):
    _, servers = toy
    before = len(servers[GOOD].seen)
    obs = run_name(name, settings(toy, GOOD))
    assert len(obs) == 1 and obs[0].error and obs[0].error.startswith("name not usable")
    assert len(servers[GOOD].seen) == before


@pytest.mark.parametrize(
    ("server", "needle"),
    [(SILENT, "timeout"), (REFUSED, "REFUSED"), (FORMERR, "FORMERR"), (GARBAGE, "127.53.0.5")],
)
def test_failing_root_is_indeterminate(toy, server, needle):
    t0 = time.perf_counter()
    obs = run_name("www.portal.test", settings(toy, server, timeout=0.3))
    assert time.perf_counter() - t0 < 3
    chain = obs[0]
    assert chain.data["status"] == "indeterminate"
    assert needle in chain.error
    out = judge(obs, "VN-DNSSEC")[0]
    assert out.verdict == "error" and needle in out.en


def test_second_root_server_used_when_first_is_silent(toy):
    obs = run_name("www.portal.test", settings(toy, SILENT, GOOD, timeout=0.3))
    assert obs[0].data["status"] == "secure"


def test_truncated_udp_is_retried_over_tcp(toy):
    _, servers = toy
    obs = run_name("www.portal.test", settings(toy, TRUNC, anchor="ta-trunc"))
    assert obs[0].data["status"] == "secure", obs[0].data["reason"]
    assert any(tcp and qt == "A" for _n, qt, tcp in servers[TRUNC].seen)
    server = by_part(obs, "server")[0]
    assert server.data["udp"]["truncated"] is True and server.data["tcp"]["truncated"] is False


def test_expired_signatures_are_bogus_with_date(toy):
    obs = run_name("www.portal.test", settings(toy, EXPIRED, anchor="ta-expired"))
    chain = obs[0]
    assert chain.data["status"] == "bogus"
    assert "expired at" in chain.data["zones"][0]["reason"]
    assert all(s["crypto_ok"] for s in chain.data["zones"][0]["dnskey_sigs"])  # would verify, but too old
    assert judge(obs, "VN-DNSSEC")[0].verdict == "fail"
    assert judge(obs, "BP-DNSSEC-SIGS")[0].verdict == "fail"


def test_wrong_trust_anchor_is_bogus(toy):
    obs = run_name("www.portal.test", settings(toy, GOOD, anchor="ta-expired"))
    assert obs[0].data["status"] == "bogus"
    assert "no DNSKEY matches DS" in obs[0].data["reason"]


def test_budget_bounds_the_whole_target(toy):
    t0 = time.perf_counter()
    obs = run_name("www.portal.test", settings(toy, SILENT, timeout=2.0, budget=0.5))
    assert time.perf_counter() - t0 < 1.5
    assert obs[0].data["status"] == "indeterminate"
