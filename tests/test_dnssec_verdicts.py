"""DNSSEC verdicts on zones signed in-process (dnspython) and served from loopback (127.53.x.y:53) by a small
authoritative server (tests/dnssec_fakes.py), honest or hostile. Each test is named after the behaviour a
validator must have (the anchors: RFC 4035, 5155, 6672, 6840, 4509, 9276; Unbound, BIND, DNSViz)."""

from __future__ import annotations

import base64
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from dnssec_fakes import (
    Authority,
    Denial,
    Key,
    ToyNet,
    build_zone,
    child_text,
    ds_text,
    make_key,
    nsec3_for,
    nsec_for,
    sign_extra,
    toy_chain,
)

from netready.evaluate import registry
from netready.model import Target
from netready.probes.dnssec import run_name
from netready.profiles import load_profile

ORIGIN = "portal.test."
BODY = "www 300 IN A 198.51.100.7\nwww 300 IN AAAA 2001:db8::7\n"


@pytest.fixture
def net(tmp_path):
    n = ToyNet(tmp_path)
    yield n
    n.close()


def keys(alg: int = 13) -> list[Key]:
    return [make_key(alg), make_key(alg, ksk=False)]


def judge(obs, rule):
    t = Target(name=obs[0].target, ascii_name=obs[0].target)
    return registry()[rule](t, obs, load_profile("lab"))


def part(obs, name):
    return [o for o in obs if o.id.split(":")[2] == name]


def zone_of(chain, name=ORIGIN):
    return next(z for z in chain.data["zones"] if z["zone"] == name)


def q_of(q):
    return q.question[0].name, q.question[0].rdtype


# --- 1. lame servers ---------------------------------------------------------------------------------------------


def test_lame_first_server_does_not_turn_a_healthy_zone_bogus(net):
    """ns1 answers like a recursive resolver (NOERROR, no AA, data without signatures): it is lame and the
    next server is asked (RFC 1034 §5.3.3); the delegation rule names it."""

    def lame(auth):
        def handle(q, tcp):
            r = auth.handle(q, tcp)
            r.flags &= ~dns.flags.AA
            r.answer = [rr for rr in r.answer if rr.rdtype != dns.rdatatype.RRSIG]
            return r
        return handle

    toy = toy_chain(net, ORIGIN, BODY, keys(), ns_count=2, child_wraps=[lame, None])
    obs = run_name("www.portal.test", toy.settings)
    assert obs[0].data["status"] == "secure", obs[0].data["reason"]
    assert judge(obs, "VN-DNSSEC")[0].verdict == "pass"
    out = judge(obs, "BP-DNS-DELEGATION")[0]
    assert out.verdict == "fail" and f"ns1.portal.test ({toy.child_addrs[0]})" in out.en and "lame" in out.en


# --- 2. truncation is not inconsistency ----------------------------------------------------------------------------


def test_dnskey_set_above_1232_bytes_is_retried_over_tcp_and_judged_consistent(net):
    """A rollover with four RSA keys: the DNSKEY answer does not fit 1232 bytes, UDP comes back with TC and
    no data. It is asked again over TCP; no server is said to have an empty key set."""
    ks = [make_key(8), make_key(8), make_key(8, ksk=False), make_key(8, ksk=False)]
    toy = toy_chain(net, ORIGIN, BODY, ks, ns_count=2)
    obs = run_name("www.portal.test", toy.settings)
    assert obs[0].data["status"] == "secure", obs[0].data["reason"]
    for o in part(obs, "server"):
        assert o.data["udp"]["dnskey_truncated"] and o.data["udp"]["dnskey_retried_tcp"]
        assert len(o.data["udp"]["dnskey_tags"]) == 4 == len(o.data["tcp"]["dnskey_tags"])
    assert judge(obs, "BP-DNS-CONSISTENT")[0].verdict == "pass"


# --- 3. unsupported is insecure, not bogus -----------------------------------------------------------------------


def _ds(tag: int, alg: int, digest_type: int, digest: bytes) -> str:
    return f"{ORIGIN} 300 IN DS {tag} {alg} {digest_type} {digest.hex()}"


@pytest.mark.parametrize(("alg", "digest_type", "why"), [
    (253, 2, "PRIVATEDNS"),  # a private algorithm: nothing to verify with
    (99, 2, "unassigned algorithm"),
    (1, 2, "RSAMD5: validators must not use it"),
    (13, 5, "unassigned digest type"),
    (13, 3, "GOST digest"),
])
def test_ds_set_with_only_unsupported_algorithm_or_digest_makes_the_zone_insecure(net, alg, digest_type, why):
    # The zone's key of that algorithm (bytes nobody can verify with) and a DS that names it.
    key = dns.rdata.from_text("IN", "DNSKEY", f"257 3 {alg} " + "AwEAAc" + "A" * 86)
    made = dns.dnssec.make_ds(ORIGIN, key, 2, policy=dns.dnssec.allow_all_policy)
    body = BODY + f"@ 300 IN DNSKEY {key.to_text()}\n"
    toy = toy_chain(net, ORIGIN, body, [], ds=[_ds(dns.dnssec.key_id(key), alg, digest_type, made.digest)])
    chain = run_name("www.portal.test", toy.settings)[0]
    assert chain.data["status"] == "insecure", (why, chain.data["reason"])
    assert "cannot use" in zone_of(chain)["reason"]


def test_one_supported_ds_beside_unsupported_ones_still_validates(net):
    ks = keys()
    bogus = _ds(4242, 253, 2, bytes(32))
    toy = toy_chain(net, ORIGIN, BODY, ks, ds=[bogus, ds_text(ORIGIN, ks[0])])
    chain = run_name("www.portal.test", toy.settings)[0]
    assert chain.data["status"] == "secure", chain.data["reason"]
    used = {d["key_tag"]: d["used"] for d in zone_of(chain)["ds"]}
    assert used == {4242: False, ks[0].tag: True}


def test_dnskey_trust_anchor_of_an_unsupported_algorithm_is_insecure(net, tmp_path):
    key = dns.rdata.from_text("IN", "DNSKEY", "257 3 253 " + "BXRlc3QA" + "A" * 60)
    toy = toy_chain(net, ORIGIN, BODY, keys(), root_extra=f". 3600 IN DNSKEY {key.to_text()}\n")
    anchor = tmp_path / "anchor-253"
    anchor.write_text(f". IN DNSKEY {key.to_text()}\n")
    import dataclasses

    s = dataclasses.replace(toy.settings, trust_anchor=str(anchor))
    chain = run_name("www.portal.test", s)[0]
    assert chain.data["status"] == "insecure", chain.data["reason"]
    assert "trust anchor" in chain.data["zones"][0]["reason"]


def test_algorithm_the_local_crypto_library_cannot_verify_is_insecure(net, monkeypatch):
    """Simulates a library whose system policy dropped an algorithm (as RHEL 9 did with SHA-1 signatures):
    dnspython still lists Ed25519, but every verification with it fails. The self-test (sign, then verify,
    with a fresh key) tells this from a bad signature: insecure, not bogus."""
    from cryptography.exceptions import InvalidSignature
    from dns.dnssecalgs.eddsa import PublicED25519

    from netready.probes import dnssec_crypto

    toy = toy_chain(net, ORIGIN, BODY, keys(15))

    def refuse(self, signature, data):
        raise InvalidSignature

    monkeypatch.setattr(dnssec_crypto, "_RESULTS", dnssec_crypto._Lru(16))
    monkeypatch.setattr(PublicED25519, "verify", refuse)
    dnssec_crypto.algorithm_self_test.cache_clear()
    try:
        chain = run_name("www.portal.test", toy.settings)[0]
    finally:
        dnssec_crypto.algorithm_self_test.cache_clear()
    assert chain.data["status"] == "insecure", chain.data["reason"]
    assert "cannot verify" in zone_of(chain)["reason"]


# --- 4. no SHA-1 downgrade ---------------------------------------------------------------------------------------


def test_sha1_ds_does_not_vouch_for_a_key_when_a_sha256_ds_exists(net):
    """RFC 4509 §3: with a SHA-256 DS in the set, SHA-1 DS records are ignored. Here the SHA-256 DS is wrong
    and only the SHA-1 one matches the key: bogus, not secure through SHA-1."""
    ks = keys()
    wrong256 = _ds(ks[0].tag, 13, 2, bytes(32))
    toy = toy_chain(net, ORIGIN, BODY, ks, ds=[wrong256, ds_text(ORIGIN, ks[0], "SHA1")])
    chain = run_name("www.portal.test", toy.settings)[0]
    assert chain.data["status"] == "bogus", chain.data["reason"]
    notes = [d["problem"] for d in zone_of(chain)["ds"] if d["digest_type"] == 1]
    assert notes and "RFC 4509" in notes[0]


@pytest.mark.parametrize("digests", [("SHA1",), ("SHA1", "SHA256")])
def test_sha1_ds_alone_or_beside_a_correct_sha256_validates(net, digests):
    ks = keys()
    toy = toy_chain(net, ORIGIN, BODY, ks, ds=[ds_text(ORIGIN, ks[0], d) for d in digests])
    obs = run_name("www.portal.test", toy.settings)
    assert obs[0].data["status"] == "secure", obs[0].data["reason"]
    algo = judge(obs, "BP-DNSSEC-ALGO")[0]
    assert algo.verdict == ("fail" if digests == ("SHA1",) else "warn"), algo.en


# --- 5. keys by identity, not by tag -----------------------------------------------------------------------------


def _tag_twins(alg: int = 13) -> tuple[Key, Key]:
    seen: dict[int, Key] = {}
    for _ in range(5000):
        k = make_key(alg)
        if k.tag in seen:
            return seen[k.tag], k
        seen[k.tag] = k
    raise AssertionError("no key tag collision found")


def test_ds_vouches_only_for_the_key_whose_digest_it_carries_not_its_tag_twin(net):
    """Two KSKs share tag and algorithm; the DS carries the digest of `named`, but only `twin` signs the
    DNSKEY set. The DS does not authenticate the twin (RFC 4035 §5.2): bogus."""
    named, twin = _tag_twins()
    named.signs = False
    zsk = make_key(13, ksk=False)
    toy = toy_chain(net, ORIGIN, BODY, [named, twin, zsk], ds=[ds_text(ORIGIN, named)])
    chain = run_name("www.portal.test", toy.settings)[0]
    assert chain.data["status"] == "bogus", chain.data["reason"]
    assert "same tag, other key" in zone_of(chain)["reason"]


# --- 6. denial proofs: NSEC ------------------------------------------------------------------------------------


WILD_BODY = BODY + "*.wild 300 IN A 198.51.100.9\n"


def test_nsec_matching_the_wildcard_proves_it_exists_not_nxdomain(net):
    """A server lies NXDOMAIN for x.wild.portal.test although *.wild.portal.test exists, and supplies the
    NSEC covering the name plus the NSEC *at* the wildcard: that NSEC proves the wildcard, not its absence."""

    def liar(auth):
        def handle(q, tcp):
            name, _t = q_of(q)
            if name != dns.name.from_text("x.wild.portal.test."):
                return auth.handle(q, tcp)
            z = auth.zones[0]
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            r.set_rcode(dns.rcode.NXDOMAIN)
            auth._add(z, r.authority, z.origin, dns.rdatatype.SOA)
            r.authority += nsec_for(z, name) + nsec_for(z, dns.name.from_text("*.wild.portal.test."))
            return r
        return handle

    toy = toy_chain(net, ORIGIN, WILD_BODY, keys(), wrap=liar)
    chain = run_name("x.wild.portal.test", toy.settings)[0]
    assert chain.data["status"] == "bogus", chain.data["reason"]
    assert "wildcard exists" in chain.data["reason"]


def test_nodata_under_a_wildcard_needs_the_wildcard_nsec_not_just_a_covering_one(net):
    """x.wild.portal.test A exists through the wildcard; a server strips it and answers NODATA with only the
    NSEC covering the name. NODATA needs the matching NSEC or the wildcard NODATA proof (RFC 4035 §3.1.3)."""

    def stripper(auth):
        def handle(q, tcp):
            name, qtype = q_of(q)
            if name != dns.name.from_text("x.wild.portal.test.") or qtype != dns.rdatatype.A:
                return auth.handle(q, tcp)
            z = auth.zones[0]
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            auth._add(z, r.authority, z.origin, dns.rdatatype.SOA)
            r.authority += nsec_for(z, name)
            return r
        return handle

    toy = toy_chain(net, ORIGIN, WILD_BODY, keys(), wrap=stripper)
    chain = run_name("x.wild.portal.test", toy.settings)[0]
    a = next(x for x in chain.data["answers"] if x["type"] == "A")
    assert a["status"] == "bogus", a["reason"]


def test_wildcard_nodata_and_empty_non_terminal_are_proven(net):
    toy = toy_chain(net, ORIGIN, WILD_BODY + "deep.ent 300 IN A 198.51.100.10\n", keys())
    chain = run_name("x.wild.portal.test", toy.settings)[0]
    aaaa = next(x for x in chain.data["answers"] if x["type"] == "AAAA")
    assert aaaa["status"] == "secure" and aaaa["denial"]["proves"] == "wildcard-nodata", aaaa
    ent = run_name("ent.portal.test", toy.settings)[0]
    assert ent.data["status"] == "secure" and ent.data["answers"][0]["denial"]["proves"] == "ent", ent.data["reason"]


def test_nsec_without_ns_bit_proves_nothing_about_a_ds(net):
    """An on-path attacker forges an (unsigned) referral for portal.test to its own server and replays the
    parent's genuine NSEC at portal.test, which has no NS bit (portal.test is an ordinary name there). That
    NSEC proves nothing about a DS at a delegation (RFC 6840 §4.4): bogus, not insecure."""
    evil = net.addr()

    def forge(auth):
        def handle(q, tcp):
            name, qtype = q_of(q)
            portal = dns.name.from_text(ORIGIN)
            if not name.is_subdomain(portal):
                return auth.handle(q, tcp)
            z = auth.zones[0]
            r = dns.message.make_response(q)
            if qtype == dns.rdatatype.DS and name == portal:
                r.flags |= dns.flags.AA
                auth._add(z, r.authority, z.origin, dns.rdatatype.SOA)
                r.authority += nsec_for(z, portal)
                return r
            r.authority.append(dns.rrset.from_text(ORIGIN, 300, "IN", "NS", "ns1.portal.test."))
            r.additional.append(dns.rrset.from_text("ns1.portal.test.", 300, "IN", "A", evil))
            return r
        return handle

    unsigned = build_zone(ORIGIN, f"@ 300 IN SOA ns1 h 1 3600 600 86400 300\n@ 300 IN NS ns1\nns1 300 IN A {evil}\n"
                          "www 300 IN A 198.51.100.66\n", None)
    net.serve(Authority(unsigned).handle, evil)
    toy = toy_chain(net, "other.test.", BODY, keys(), root_extra=f'{ORIGIN} 300 IN TXT "an ordinary name"\n',
                    root_wrap=forge)
    chain = run_name("www.portal.test", toy.settings)[0]
    assert chain.data["status"] == "bogus", chain.data["reason"]
    assert "no NS bit" in zone_of(chain)["reason"]


# --- 6. denial proofs: NSEC3 -----------------------------------------------------------------------------------


def test_nsec3_with_unknown_hash_algorithm_is_ignored_not_a_crash(net):
    """RFC 5155 §8.1: an NSEC3 with an unknown hash algorithm is ignored (today it crashed the probe). Put
    first in the answer, signed with the zone's own key, followed by a valid proof."""
    from dns.rdtypes.ANY.NSEC3 import NSEC3

    def odd(auth):
        def handle(q, tcp):
            r = auth.handle(q, tcp)
            if r.rcode() == dns.rcode.NXDOMAIN:
                z = auth.zones[0]
                rd = NSEC3(dns.rdataclass.IN, dns.rdatatype.NSEC3, 2, 0, 0, b"", b"\x01" * 20, [])
                rr = dns.rrset.from_rdata_list(dns.name.from_text("0" * 32 + "." + ORIGIN), 300, [rd])
                r.authority[:0] = [rr, sign_extra(z, rr)]
            return r
        return handle

    toy = toy_chain(net, ORIGIN, BODY, keys(), Denial("nsec3"), wrap=odd)
    chain = run_name("nothere.portal.test", toy.settings)[0]
    assert chain.data["status"] == "secure", chain.data["reason"]
    assert chain.data["answers"][0]["denial"]["proves"] == "nxdomain"


def test_nsec3_iterations_above_the_limit_are_insecure_not_bogus(net):
    toy = toy_chain(net, ORIGIN, BODY, keys(), Denial("nsec3", iterations=200))
    chain = run_name("nothere.portal.test", toy.settings)[0]
    assert chain.data["status"] == "insecure", chain.data["reason"]
    assert "RFC 9276" in chain.data["reason"]
    www = run_name("www.portal.test", toy.settings)[0]
    assert www.data["status"] == "secure"  # positive answers are unaffected


def test_nsec3_opt_out_delegation_makes_the_child_insecure(net):
    body = BODY + "sub 300 IN NS ns.sub\nns.sub 300 IN A 198.51.100.20\n"
    toy = toy_chain(net, ORIGIN, body, keys(), Denial("nsec3", opt_out=True))
    z = toy.child
    proof_for = Authority(z)
    r = dns.message.make_response(dns.message.make_query("sub.portal.test.", "DS", want_dnssec=True))
    proof_for.answer(z, dns.name.from_text("sub.portal.test."), dns.rdatatype.DS, r)
    from netready.probes.dnssec_denial import prove

    p = prove([x for x in r.authority if x.rdtype == dns.rdatatype.NSEC3], dns.name.from_text("sub.portal.test."),
              dns.rdatatype.DS, dns.name.from_text(ORIGIN), False)
    assert p.status == "secure" and p.proves == "opt-out", p


def test_nsec3_nxdomain_inside_an_opt_out_span_is_only_insecure(net):
    """An opt-out span may hide an unsigned delegation: an NXDOMAIN whose next closer name falls in it
    cannot be proven (BIND and Unbound answer insecure)."""
    body = BODY + "sub 300 IN NS ns.sub\nns.sub 300 IN A 198.51.100.20\n"
    toy = toy_chain(net, ORIGIN, body, keys(), Denial("nsec3", opt_out=True))
    chain = run_name("nothere.portal.test", toy.settings)[0]
    assert chain.data["status"] == "insecure", chain.data["reason"]
    assert "opt-out" in chain.data["reason"]


def test_nsec3_closest_encloser_at_a_delegation_cannot_deny_names_below_it(net):
    """A parent's NSEC3 at a delegation (NS without SOA) says nothing about names below the cut (RFC 5155
    §8.3). An attacker hides the delegation and 'proves' dichvucong.sub.portal.test does not exist with it."""
    body = BODY + "sub 300 IN NS ns.sub\nns.sub 300 IN A 198.51.100.20\n"

    def hide(auth):
        def handle(q, tcp):
            name, qtype = q_of(q)
            sub = dns.name.from_text("sub.portal.test.")
            if not name.is_subdomain(sub):
                return auth.handle(q, tcp)
            z = auth.zones[0]
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            auth._add(z, r.authority, z.origin, dns.rdatatype.SOA)
            if name == sub:  # "no such cut": NODATA
                return r
            r.set_rcode(dns.rcode.NXDOMAIN)
            nc, wild = dns.name.from_text("dichvucong.sub.portal.test."), dns.name.from_text("*.sub.portal.test.")
            for rr in nsec3_for(z, sub, True) + nsec3_for(z, nc, False) + nsec3_for(z, wild, False):
                if not any(x.name == rr.name and x.rdtype == rr.rdtype for x in r.authority):
                    r.authority.append(rr)
            return r
        return handle

    toy = toy_chain(net, ORIGIN, body, keys(), Denial("nsec3"), wrap=hide)
    chain = run_name("dichvucong.sub.portal.test", toy.settings)[0]
    assert chain.data["status"] == "bogus", chain.data["reason"]
    assert "delegation" in chain.data["reason"]


# --- 7. wildcard answers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["nsec", "nsec3"])
def test_wildcard_answer_for_a_name_that_exists_is_bogus(net, kind):
    """dichvucong.portal.test has its own A; an attacker replays the wildcard-synthesised answer (valid
    signature of *.portal.test) with some valid denial record that does not cover the name."""
    body = BODY + "* 300 IN A 198.51.100.66\ndichvucong 300 IN A 198.51.100.7\n"

    def replay(auth):
        def handle(q, tcp):
            name, qtype = q_of(q)
            if name != dns.name.from_text("dichvucong.portal.test.") or qtype != dns.rdatatype.A:
                return auth.handle(q, tcp)
            z = auth.zones[0]
            r = dns.message.make_response(q)
            r.flags |= dns.flags.AA
            auth._add(z, r.answer, dns.name.from_text("*.portal.test."), dns.rdatatype.A, owner=name)
            other = dns.name.from_text("www.portal.test.")
            r.authority += nsec_for(z, other) if kind == "nsec" else nsec3_for(z, other, True)
            return r
        return handle

    toy = toy_chain(net, ORIGIN, body, keys(), Denial(kind), wrap=replay)
    chain = run_name("dichvucong.portal.test", toy.settings)[0]
    a = next(x for x in chain.data["answers"] if x["type"] == "A")
    assert a["wildcard"] and a["status"] == "bogus", a["reason"]


@pytest.mark.parametrize("kind", ["nsec", "nsec3"])
def test_honest_wildcard_answer_is_secure(net, kind):
    toy = toy_chain(net, ORIGIN, WILD_BODY, keys(), Denial(kind))
    chain = run_name("x.wild.portal.test", toy.settings)[0]
    a = next(x for x in chain.data["answers"] if x["type"] == "A")
    assert a["wildcard"] and a["status"] == "secure" and a["records"] == ["198.51.100.9"], a["reason"]


# --- 8. DNAME ----------------------------------------------------------------------------------------------------


DNAME_BODY = BODY + "old 300 IN DNAME new.portal.test.\nportal.new 300 IN A 198.51.100.8\n"


def test_dname_answer_validates_through_the_synthesised_cname(net):
    toy = toy_chain(net, ORIGIN, DNAME_BODY, keys())
    obs = run_name("portal.old.portal.test", toy.settings)
    chain = obs[0]
    assert chain.data["status"] == "secure", chain.data["reason"]
    assert chain.data["names"] == ["portal.old.portal.test.", "portal.new.portal.test."]
    first = chain.data["answers"][0]
    assert first["dname"] == {"owner": "old.portal.test.", "target": "new.portal.test."}
    assert judge(obs, "VN-DNSSEC")[0].verdict == "pass"


def test_synthesised_cname_that_does_not_follow_from_the_dname_is_bogus(net):
    def bend(auth):
        def handle(q, tcp):
            r = auth.handle(q, tcp)
            for i, rr in enumerate(r.answer):
                if rr.rdtype == dns.rdatatype.CNAME:
                    r.answer[i] = dns.rrset.from_text(rr.name, rr.ttl, "IN", "CNAME", "www.portal.test.")
            return r
        return handle

    toy = toy_chain(net, ORIGIN, DNAME_BODY, keys(), wrap=bend)
    chain = run_name("portal.old.portal.test", toy.settings)[0]
    assert chain.data["status"] == "bogus" and "does not follow from DNAME" in chain.data["reason"]


# --- 11. small ones ----------------------------------------------------------------------------------------------


def test_ttl_above_the_original_ttl_is_noted_and_warned(net):
    def stretch(auth):
        def handle(q, tcp):
            r = auth.handle(q, tcp)
            for rr in r.answer:
                if rr.rdtype == dns.rdatatype.A:
                    rr.ttl = 86400
            return r
        return handle

    toy = toy_chain(net, ORIGIN, BODY, keys(), wrap=stretch)
    obs = run_name("www.portal.test", toy.settings)
    assert obs[0].data["status"] == "secure"
    a = next(x for x in obs[0].data["answers"] if x["type"] == "A")
    assert a["sigs"][0]["ttl"] == 86400 and a["sigs"][0]["original_ttl"] == 300
    out = judge(obs, "BP-DNSSEC-SIGS")[0]
    assert out.verdict == "warn" and "original TTL" in out.en


def test_inception_a_little_in_the_future_is_accepted_within_the_skew_allowance(net):
    now = int(time.time())
    toy = toy_chain(net, ORIGIN, BODY, keys(), window=(now + 120, now + 30 * 86400))
    obs = run_name("www.portal.test", toy.settings)
    assert obs[0].data["status"] == "secure", obs[0].data["reason"]
    assert judge(obs, "BP-DNSSEC-SIGS")[0].verdict == "pass"


def test_inception_an_hour_in_the_future_is_bogus(net):
    now = int(time.time())
    toy = toy_chain(net, ORIGIN, BODY, keys(), window=(now + 3600, now + 30 * 86400))
    chain = run_name("www.portal.test", toy.settings)[0]
    assert chain.data["status"] == "bogus" and "not valid before" in chain.data["reason"]


def test_key_without_the_zone_key_flag_is_named(net):
    ksk = make_key(13, flags=1)  # SEP set, zone-key bit clear: it may not sign the zone (RFC 4034 §2.1.1)
    toy = toy_chain(net, ORIGIN, BODY, [ksk, make_key(13, ksk=False)])
    chain = run_name("www.portal.test", toy.settings)[0]
    assert chain.data["status"] == "bogus"
    assert "zone-key flag" in zone_of(chain)["reason"]


# --- every server validated --------------------------------------------------------------------------------------


def test_stale_secondary_serving_expired_signatures_is_named(net):
    """ns2 serves an older copy signed with the same keys, whose signatures expired: resolvers that ask it
    fail. The chain through ns1 validates; ns2 is named in VN-DNSSEC, BP-DNSSEC-SIGS and
    BP-DNS-CONSISTENT."""
    ks = keys()
    now = int(time.time())
    a1, a2 = net.addr(), net.addr()
    ns = {f"ns1.{ORIGIN}": a1, f"ns2.{ORIGIN}": a2}
    fresh = build_zone(ORIGIN, child_text(ORIGIN, ns, BODY, serial=2), ks)
    expired = build_zone(ORIGIN, child_text(ORIGIN, ns, BODY, serial=1), ks,
                         window=(now - 30 * 86400, now - 2 * 86400))
    net.serve(Authority(fresh).handle, a1)
    net.serve(Authority(expired).handle, a2)
    toy = toy_chain(net, ORIGIN, BODY, None, ds=[ds_text(ORIGIN, ks[0])], parent_ns=ns)
    obs = run_name("www.portal.test", toy.settings)
    chain = obs[0]
    assert chain.data["status"] == "bogus", chain.data["reason"]
    assert f"ns2.portal.test ({a2})" in chain.data["reason"] and "expired" in chain.data["reason"]
    assert {s["address"]: s["status"] for s in chain.data["servers"]} == {a1: "secure", a2: "bogus"}
    assert judge(obs, "VN-DNSSEC")[0].verdict == "fail"
    assert judge(obs, "BP-DNSSEC-SIGS")[0].verdict == "fail"
    consistent = judge(obs, "BP-DNS-CONSISTENT")[0]
    assert consistent.verdict == "fail" and "SOA serial differ" in consistent.en


# --- delegation and CDS ------------------------------------------------------------------------------------------


def test_delegation_ns_sets_and_glue_that_disagree_fail(net):
    a1, a2, a3 = net.addr(), net.addr(), net.addr()
    ks = keys()
    own = {f"ns1.{ORIGIN}": a1, f"ns2.{ORIGIN}": a2, f"ns3.{ORIGIN}": a3}
    zone = build_zone(ORIGIN, child_text(ORIGIN, own, BODY), ks)
    for a in (a1, a2, a3):
        net.serve(Authority(zone).handle, a)
    toy = toy_chain(net, ORIGIN, BODY, None, ds=[ds_text(ORIGIN, ks[0])],
                    parent_ns={f"ns1.{ORIGIN}": a1, f"ns2.{ORIGIN}": a3})  # ns3 missing; glue of ns2 wrong
    obs = run_name("www.portal.test", toy.settings)
    assert obs[0].data["status"] == "secure", obs[0].data["reason"]
    out = judge(obs, "BP-DNS-DELEGATION")[0]
    assert out.verdict == "fail", out.en
    assert "only at the zone: ns3.portal.test." in out.en and f"glue for ns2.portal.test. ({a3})" in out.en


def _with_cds(auth_zone_keys: list[Key], cds_key: Key, cdnskey_key: Key | None = None) -> str:
    cds = dns.dnssec.make_cds(ORIGIN, cds_key.dnskey, "SHA256")
    body = BODY + f"@ 300 IN CDS {cds.to_text()}\n"
    k = (cdnskey_key or cds_key).dnskey
    body += f"@ 300 IN CDNSKEY {k.flags} 3 {k.algorithm} {base64.b64encode(k.key).decode()}\n"
    return body


def test_cds_and_cdnskey_that_match_the_keys_and_the_parent_pass(net):
    ks = keys()
    toy = toy_chain(net, ORIGIN, _with_cds(ks, ks[0]), ks)
    obs = run_name("www.portal.test", toy.settings)
    out = judge(obs, "BP-DNSSEC-CDS")[0]
    assert out.verdict == "pass", out.en


def test_cds_for_a_new_key_asks_the_parent_for_another_ds(net):
    ks = keys()
    new = make_key(13)
    new.signs = False  # published, not signing yet: a KSK rollover waiting for the parent
    toy = toy_chain(net, ORIGIN, _with_cds(ks, new), [*ks, new], ds=[ds_text(ORIGIN, ks[0])])
    out = judge(run_name("www.portal.test", toy.settings), "BP-DNSSEC-CDS")[0]
    assert out.verdict == "warn" and "ask the parent to hold DS" in out.en, out.en


def test_cds_naming_no_key_of_the_zone_fails(net):
    ks = keys()
    stranger = make_key(13)
    toy = toy_chain(net, ORIGIN, _with_cds(ks, stranger, ks[0]), ks)
    out = judge(run_name("www.portal.test", toy.settings), "BP-DNSSEC-CDS")[0]
    assert out.verdict == "fail" and "matches no DNSKEY" in out.en, out.en


def test_no_cds_is_info(net):
    toy = toy_chain(net, ORIGIN, BODY, keys())
    out = judge(run_name("www.portal.test", toy.settings), "BP-DNSSEC-CDS")[0]
    assert out.verdict == "info"

