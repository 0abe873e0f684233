"""Plain DNS on the wire and the iterative walk, against small hostile servers on loopback (127.53.x.y:53):
IDNA 2008 names, stray datagrams, one retransmission, lame servers, referrals inside the bailiwick only
(also across the targets of a batch), and the target's time budget covering name resolution."""

from __future__ import annotations

import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest
from dnssec_fakes import ROOT_SOA, Authority, ToyNet, build_zone, child_text

from netready.model import ProbeSettings
from netready.probes import runcache
from netready.probes.dns import NameError_, Resolver, ask, resolve_addresses, to_ascii


@pytest.fixture
def net(tmp_path):
    n = ToyNet(tmp_path)
    yield n
    n.close()


def _answer(q: dns.message.Message, text: str, aa: bool = True) -> dns.message.Message:
    r = dns.message.make_response(q)
    if aa:
        r.flags |= dns.flags.AA
    r.answer.append(dns.rrset.from_text(q.question[0].name, 300, "IN", dns.rdatatype.to_text(q.question[0].rdtype),
                                        text))
    return r


# --- names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "ascii_name"), [
    ("faß.gov.vn", "xn--fa-hia.gov.vn"),  # IDNA 2003 would map ß to "ss": another name, another owner
    ("Dịchvụcông.GOV.vn", "xn--dchvcng-x0a0689dsha.gov.vn"),  # UTS 46: case folded, NFC
    ("ÖBB.at", "xn--bb-eka.at"),
])
def test_names_are_converted_with_idna_2008_not_2003(name, ascii_name):
    assert to_ascii(name) == ascii_name


@pytest.mark.parametrize("name", ["☃.gov.vn", "a\u200db.gov.vn"])  # a symbol, a joiner in the wrong place
def test_names_idna_2008_forbids_are_refused(name):
    with pytest.raises(NameError_):
        to_ascii(name)


# --- UDP robustness --------------------------------------------------------------------------------------------


def test_stray_datagram_with_another_id_is_discarded_and_the_answer_still_taken(net):
    def handle(q, tcp):
        stray = _answer(q, "198.51.100.66")
        stray.id = (q.id + 1) % 65536
        return [stray, _answer(q, "198.51.100.7")]

    srv = net.serve(handle)
    ans = ask(srv.address, "www.portal.test.", "A", 1.0)
    assert ans.error is None and ans.response.answer[0][0].address == "198.51.100.7"


def test_stray_datagram_for_another_question_is_discarded(net):
    def handle(q, tcp):
        other = dns.message.make_query("evil.test.", "A")
        other.id = q.id
        stray = _answer(other, "198.51.100.66")
        return [stray, _answer(q, "198.51.100.7")]

    srv = net.serve(handle)
    ans = ask(srv.address, "www.portal.test.", "A", 1.0)
    assert ans.error is None and ans.response.answer[0][0].address == "198.51.100.7"


def test_only_strays_is_a_timeout_that_says_what_was_discarded(net):
    def handle(q, tcp):
        stray = _answer(q, "198.51.100.66")
        stray.id = (q.id + 1) % 65536
        return stray

    srv = net.serve(handle)
    ans = ask(srv.address, "www.portal.test.", "A", 0.4, fallback=False)
    assert ans.response is None and "timeout" in ans.error and "discarded" in ans.error


def test_a_failed_resolution_says_why_each_server_failed(net):
    """The judge tells a refusal or garbage (an answer) from a silence per server (issue #14), so the
    resolution keeps each server's reason beside the joined error text."""
    def strays_only(q, tcp):
        stray = dns.message.make_response(q)
        stray.id = (q.id + 1) % 65536
        return stray

    garbage, dead = net.serve(strays_only).address, net.addr()  # nothing listens on `dead`: refused
    _v4, _v6, obs = resolve_addresses("www.portal.test", net.settings([garbage, dead], "", timeout=0.3))
    for rdtype in ("A", "AAAA"):
        why = obs.data[rdtype]["failures"]
        assert set(why) == {garbage, dead}, why
        assert "discarded" in why[garbage] and why[dead].startswith("refused"), why


def test_one_lost_datagram_is_retransmitted_before_the_timeout(net):
    seen: list[int] = []

    def handle(q, tcp):
        seen.append(q.id)
        return None if len(seen) == 1 else _answer(q, "198.51.100.7")  # the first datagram is "lost"

    srv = net.serve(handle)
    t0 = time.perf_counter()
    ans = ask(srv.address, "www.portal.test.", "A", 1.0)
    assert ans.error is None and ans.response.answer[0][0].address == "198.51.100.7"
    assert len(seen) == 2 and seen[0] == seen[1]  # the same question again (a late first answer would count)
    assert time.perf_counter() - t0 < 1.0


# --- lame servers and bailiwick --------------------------------------------------------------------------------


def _root_with(net: ToyNet, lines: str) -> tuple[str, str]:
    """An unsigned root with these extra lines on its own address; returns (address, hints path)."""
    addr = net.addr()
    root = build_zone(".", ROOT_SOA + f". 3600 IN NS a.root-servers.test.\na.root-servers.test. 3600 IN A {addr}\n"
                      + lines, None)
    net.serve(Authority(root).handle, addr)
    return addr, net.settings([addr], ". IN DS 1 13 2 " + "00" * 32)


def test_lame_first_server_is_skipped_not_believed(net):
    lame, good = net.addr(), net.addr()
    zone = build_zone("portal.test.", child_text("portal.test.", {"ns1.portal.test.": lame, "ns2.portal.test.": good},
                                                 "www 300 IN A 198.51.100.7\n"), None)
    # ns1 answers like a recursive resolver with a stale cache: NOERROR, no AA, another address.
    net.serve(lambda q, tcp: _answer(q, "198.51.100.66", aa=False), lame)
    net.serve(Authority(zone).handle, good)
    _, settings = _root_with(net, f"portal.test. 300 IN NS ns1.portal.test.\nportal.test. 300 IN NS ns2.portal.test.\n"
                                  f"ns1.portal.test. 300 IN A {lame}\nns2.portal.test. 300 IN A {good}\n")
    res = Resolver(settings).resolve("www.portal.test", "A")
    assert res.error is None and res.records == ["198.51.100.7"]


def _evil_and_good(net: ToyNet) -> tuple[ProbeSettings, str]:
    """evil.test's server answers every question with an upward referral: test. NS ns.evil.test with glue
    pointing at itself, where it claims www.good.test is 198.51.100.66."""
    evil, good = net.addr(), net.addr()

    def evil_handle(q, tcp):
        qname = q.question[0].name
        if qname == dns.name.from_text("www.good.test."):
            return _answer(q, "198.51.100.66")
        r = dns.message.make_response(q)
        r.authority.append(dns.rrset.from_text("test.", 86400, "IN", "NS", "ns.evil.test."))
        r.additional.append(dns.rrset.from_text("ns.evil.test.", 86400, "IN", "A", evil))
        return r

    net.serve(evil_handle, evil)
    gz = build_zone("good.test.", child_text("good.test.", {"ns1.good.test.": good}, "www 300 IN A 198.51.100.7\n"),
                    None)
    net.serve(Authority(gz).handle, good)
    _, settings = _root_with(net, f"evil.test. 300 IN NS ns1.evil.test.\nns1.evil.test. 300 IN A {evil}\n"
                                  f"good.test. 300 IN NS ns1.good.test.\nns1.good.test. 300 IN A {good}\n")
    return settings, evil


def test_upward_referral_is_an_error_and_poisons_no_other_target_in_a_batch(net):
    settings, _evil = _evil_and_good(net)
    with runcache.active():
        _v4, _v6, evil_obs = resolve_addresses("www.evil.test", settings)
        assert "upward or sideways" in evil_obs.error
        v4, _v6, _obs = resolve_addresses("www.good.test", settings)
    assert v4 == ["198.51.100.7"]


def test_glue_outside_the_referring_zone_is_not_used(net):
    """test.'s server delegates portal.test to ns.other.example and adds 'glue' for that name pointing at
    itself: outside test.'s bailiwick, so the name server's real address is looked up (at example.)."""
    tserv, real, ex = net.addr(), net.addr(), net.addr()
    portal = build_zone("portal.test.", child_text("portal.test.", {"ns.other.example.": real},
                                                   "www 300 IN A 198.51.100.7\n"), None)
    net.serve(Authority(portal).handle, real)
    example = build_zone("example.", child_text("example.", {"ns.example.": ex},
                                                f"ns.other 300 IN A {real}\n"), None)
    net.serve(Authority(example).handle, ex)

    def test_zone(q, tcp):
        qname = q.question[0].name
        if qname.is_subdomain(dns.name.from_text("portal.test.")) and qname != dns.name.from_text("portal.test."):
            r = dns.message.make_response(q)
            r.authority.append(dns.rrset.from_text("portal.test.", 300, "IN", "NS", "ns.other.example."))
            r.additional.append(dns.rrset.from_text("ns.other.example.", 300, "IN", "A", tserv))  # out of bailiwick
            return r
        return _answer(q, "198.51.100.66")  # what it says when asked itself: never the truth here

    net.serve(test_zone, tserv)
    _, settings = _root_with(net, f"test. 300 IN NS ns.test.\nns.test. 300 IN A {tserv}\n"
                                  f"example. 300 IN NS ns.example.\nns.example. 300 IN A {ex}\n")
    res = Resolver(settings).resolve("www.portal.test", "A")
    assert res.records == ["198.51.100.7"], res


def test_cname_chain_data_from_outside_the_answering_zone_is_not_believed(net):
    """evil.test's server answers www.evil.test with a CNAME to www.good.test and, in the same response, an
    address for www.good.test: not evil.test's to say, so www.good.test is asked at good.test."""
    evil, good = net.addr(), net.addr()
    ez = build_zone("evil.test.", child_text("evil.test.", {"ns1.evil.test.": evil},
                                             "www 300 IN CNAME www.good.test.\n"), None)

    def evil_handle(q, tcp):
        r = Authority(ez).handle(q, tcp)
        if r.answer:
            r.answer.append(dns.rrset.from_text("www.good.test.", 300, "IN", "A", "198.51.100.66"))
        return r

    net.serve(evil_handle, evil)
    gz = build_zone("good.test.", child_text("good.test.", {"ns1.good.test.": good}, "www 300 IN A 198.51.100.7\n"),
                    None)
    net.serve(Authority(gz).handle, good)
    _, settings = _root_with(net, f"evil.test. 300 IN NS ns1.evil.test.\nns1.evil.test. 300 IN A {evil}\n"
                                  f"good.test. 300 IN NS ns1.good.test.\nns1.good.test. 300 IN A {good}\n")
    res = Resolver(settings).resolve("www.evil.test", "A")
    assert res.error is None and res.records == ["198.51.100.7"] and res.cnames == ["www.good.test."], res


# --- the budget covers resolution --------------------------------------------------------------------------------


def test_thirty_silent_root_addresses_cost_the_budget_not_thirty_timeouts(net):
    from netready.profiles import load_profile
    from netready.scan import check_one

    silent = [net.serve(lambda q, tcp: None).address for _ in range(30)]
    settings = net.settings(silent, ". IN DS 1 13 2 " + "00" * 32, timeout=0.4, budget=1.0)
    t0 = time.perf_counter()
    result = check_one("www.portal.test", settings, load_profile("lab"), probe_names=("dnssec", "ipv6"))
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.5, f"took {elapsed:.1f} s against a 1 s budget"  # 30 x 0.4 s x 2 types before the fix
    assert result.target.error and "budget" in " ".join(o.error or "" for o in result.observations)
