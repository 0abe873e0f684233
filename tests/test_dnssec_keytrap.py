"""Bounded validation cost (KeyTrap, CVE-2023-50387): hostile zones served from loopback that make an
unbounded validator spin, and the bound that stops each. The per-target time budget covering name
resolution is proven in test_dns_wire.py (thirty silent root addresses)."""

from __future__ import annotations

import os
import secrets
import struct
import time

import dns.dnssec
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG
from dnssec_fakes import Denial, Key, ToyNet, make_key, toy_chain

from netready.probes.dnssec import run_name
from netready.probes.dnssec_crypto import MAX_TRIES_PER_RRSET, MAX_TRIES_PER_TARGET

ORIGIN = "portal.test."
BODY = "www 300 IN A 198.51.100.7\n"


@pytest.fixture
def net(tmp_path):
    n = ToyNet(tmp_path)
    yield n
    n.close()


def _twins(key: DNSKEY, count: int) -> list[DNSKEY]:
    """`count` different RSA keys with the tag and algorithm of `key`: two bytes of the modulus moved in
    opposite directions keep the 16-bit word sum the key tag is (RFC 4034 Appendix B)."""
    raw = bytearray(key.key)
    start = 1 + raw[0]  # exponent length byte, exponent, then the modulus
    out = []
    for delta in range(1, 64):
        for pos in range(start + 8, len(raw) - 3):
            if len(out) == count:
                break
            if raw[pos] + delta <= 255 and raw[pos + 2] >= delta:
                k = bytearray(raw)
                k[pos] += delta
                k[pos + 2] -= delta
                out.append(DNSKEY(key.rdclass, key.rdtype, key.flags, key.protocol, key.algorithm, bytes(k)))
    assert all(dns.dnssec.key_id(k) == dns.dnssec.key_id(key) for k in out)
    return out


def _junk_sigs(rrset: dns.rrset.RRset, key: DNSKEY, count: int, size: int) -> list[RRSIG]:
    now = int(time.time())
    return [RRSIG(dns.rdataclass.IN, dns.rdatatype.RRSIG, rrset.rdtype, key.algorithm, len(rrset.name) - 1,
                  rrset.ttl, now + 86400, now - 3600, dns.dnssec.key_id(key), dns.name.from_text(ORIGIN),
                  secrets.token_bytes(size)) for _ in range(count)]


def test_colliding_key_tags_times_many_signatures_stop_at_the_per_rrset_cap(net):
    """250 RSA keys share the ZSK's tag and 250 signatures with that tag cover one A RRset (the valid one
    last): an unbounded validator tries 62,500 combinations. netready stops after a few per RRset."""
    ksk, zsk = make_key(8, bits=1024), make_key(8, ksk=False, bits=1024)
    twins = _twins(zsk.dnskey, 249)
    extra = "".join(f"@ 300 IN DNSKEY {k.to_text()}\n" for k in twins)

    def bomb(auth):
        def handle(q, tcp):
            r = auth.handle(q, tcp)
            for i, rr in enumerate(r.answer):
                if rr.rdtype == dns.rdatatype.RRSIG and rr.covers == dns.rdatatype.A:
                    a = next(x for x in r.answer if x.rdtype == dns.rdatatype.A)
                    sigs = dns.rrset.RRset(rr.name, rr.rdclass, rr.rdtype, rr.covers)
                    for s in _junk_sigs(a, zsk.dnskey, 249, 128) + list(rr):
                        sigs.add(s, rr.ttl)
                    r.answer[i] = sigs
            return r
        return handle

    toy = toy_chain(net, ORIGIN, BODY + extra, [ksk, zsk], wrap=bomb, timeout=3.0)
    t0 = time.perf_counter()
    chain = run_name("www.portal.test", toy.settings)[0]
    elapsed = time.perf_counter() - t0
    a = next(x for x in chain.data["answers"] if x["type"] == "A")
    assert a["status"] == "bogus" and "KeyTrap" in a["reason"], a["reason"]
    assert chain.data["validation"]["verified"] <= 4 * MAX_TRIES_PER_RRSET + 20, chain.data["validation"]
    assert elapsed < 10, f"{elapsed:.1f} s"  # a "does not hang" bound: unbounded, this takes 25 s even idle


def _big_exponent_key(tag_of: Key | None = None) -> DNSKEY:
    """An RSA DNSKEY whose public exponent has ~4000 bits (odd, below a 4096-bit odd modulus): valid for a
    library, 200 times the work of e = 65537 per verification."""
    e = int.from_bytes(os.urandom(500), "big") | 1 | (1 << 3999)
    n = int.from_bytes(os.urandom(512), "big") | 1 | (1 << 4095)
    eb, nb = e.to_bytes(500, "big"), n.to_bytes(512, "big")
    raw = b"\x00" + struct.pack("!H", len(eb)) + eb + nb
    return DNSKEY(dns.rdataclass.IN, dns.rdatatype.DNSKEY, 256, 3, 8, raw)


def test_rsa_public_exponent_above_2_32_is_refused_before_any_arithmetic(net):
    ksk, zsk = make_key(8), make_key(8, ksk=False)
    big = [_big_exponent_key() for _ in range(6)]
    extra = "".join(f"@ 300 IN DNSKEY {k.to_text()}\n" for k in big)

    def junk(auth):
        def handle(q, tcp):
            r = auth.handle(q, tcp)
            for i, rr in enumerate(r.answer):
                if rr.rdtype == dns.rdatatype.RRSIG and rr.covers == dns.rdatatype.A:
                    a = next(x for x in r.answer if x.rdtype == dns.rdatatype.A)
                    sigs = dns.rrset.RRset(rr.name, rr.rdclass, rr.rdtype, rr.covers)
                    for k in big:
                        for s in _junk_sigs(a, k, 4, 512):
                            sigs.add(s, rr.ttl)
                    for s in rr:
                        sigs.add(s, rr.ttl)
                    r.answer[i] = sigs
            return r
        return handle

    toy = toy_chain(net, ORIGIN, BODY + extra, [ksk, zsk], wrap=junk, timeout=3.0)
    t0 = time.perf_counter()
    chain = run_name("www.portal.test", toy.settings)[0]
    elapsed = time.perf_counter() - t0
    a = next(x for x in chain.data["answers"] if x["type"] == "A")
    refused = [s for s in a["sigs"] if s["crypto_ok"] is None and "exponent" in (s["reason"] or "")]
    assert len(refused) == 24, [s["reason"] for s in a["sigs"]]
    assert a["status"] == "secure", a["reason"]  # the real ZSK's signature still counts
    assert elapsed < 10, f"{elapsed:.1f} s"


def test_signature_checks_of_one_target_stop_at_the_per_target_budget(net):
    """An NXDOMAIN answer carrying 40 extra NSEC3 RRsets, each with 8 signatures that do not verify: 320
    checks per answer (A and AAAA), each RRset under its own cap, together far over the target's budget."""
    ksk, zsk = make_key(13), make_key(13, ksk=False)

    def flood(auth):
        def handle(q, tcp):
            r = auth.handle(q, tcp)
            if r.rcode() != dns.rcode.NXDOMAIN:
                return r
            for _ in range(40):
                owner = dns.name.from_text(secrets.token_hex(16)[:32] + "." + ORIGIN)
                rd = dns.rdata.from_text("IN", "NSEC3", "1 0 0 - " + "0" * 32 + " A")
                rr = dns.rrset.from_rdata_list(owner, 300, [rd])
                sigs = dns.rrset.RRset(owner, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.NSEC3)
                for s in _junk_sigs(rr, zsk.dnskey, 8, 64):
                    sigs.add(s, 300)
                r.authority += [rr, sigs]
            return r
        return handle

    toy = toy_chain(net, ORIGIN, BODY, [ksk, zsk], Denial("nsec3"), wrap=flood, timeout=3.0)
    chain = run_name("nothere.portal.test", toy.settings)[0]
    v = chain.data["validation"]
    assert v["verified"] <= MAX_TRIES_PER_TARGET and v["refused"] > 0, v
    assert chain.data["status"] == "bogus"
