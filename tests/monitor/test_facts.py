"""Days to certificate and RRSIG expiry, and reachability, read from observations (netready.monitor.facts)."""

from __future__ import annotations

from netready.model import Observation, Target
from netready.monitor.facts import expiry_facts, reachable

from .synth import T0, result


def test_earliest_certificate_and_rrsig_expiry_over_every_address_and_zone():
    r = result(cert_days=40, rrsig_days=3.5)
    # The IPv6 address serves a certificate that expires sooner than the IPv4 one.
    sooner = result(cert_days=10, cert_life=90).observations[1]
    obs = [r.observations[0], sooner, r.observations[2]]
    facts = expiry_facts(obs)
    assert facts.cert_days() == 10.0
    assert facts.cert_subject == "2001:db8:200::129"
    assert facts.cert_lifetime == 90 * 86400
    # The answer's RRSIG (3.5 days) expires before the root's DNSKEY signature (8.5 days).
    assert facts.rrsig_days() == 3.5
    assert facts.rrsig_owner == "dichvucong.a.gov.vn./A by a.gov.vn."
    # Counted from the observation's own time, or from any moment asked.
    assert facts.cert_days(at=T0.timestamp() + 86400) == 9.0


def test_expired_is_negative_and_missing_facts_are_none():
    facts = expiry_facts(result(cert_days=-2, rrsig_days=-1).observations)
    assert facts.cert_days() == -2.0 and facts.rrsig_days() == -1.0
    broken = [Observation(id="tls:x:a", probe="tls", target="x", subject="a", data={"certificate": None}),
              Observation(id="tls:x:b", probe="tls", target="x", subject="b", data={"certificate": {"chain": [
                  {"not_after": "garbage"}]}}),
              Observation(id="dnssec:x:chain", probe="dnssec", target="x", subject="x", data="not a dict"),
              Observation(id="dnssec:x:denial", probe="dnssec", target="x", subject="x",
                          data={"sigs": [{"signer": "x.", "expiration_ts": "soon"}]})]
    facts = expiry_facts(broken)
    assert facts.cert_days() is None and facts.rrsig_days() is None and facts.cert_lifetime is None
    assert expiry_facts([]).observed_at is None


def test_reachable_from_tls_or_ipv6_answers():
    assert reachable(Target("x", "x", ["198.51.100.1"]), result().observations) is True
    assert reachable(Target("x", "x", ["198.51.100.1"]), result(reachable=False).observations) is False
    web6 = Observation(id="ipv6:x:web:2001:db8::1", probe="ipv6", target="x", subject="2001:db8::1",
                       data={"https": {"status": 200}})
    assert reachable(Target("x", "x"), [*result(reachable=False).observations, web6]) is True
    assert reachable(Target("x", "x", error="name does not resolve: NXDOMAIN"), []) is False
    assert reachable(Target("x", "x", ["198.51.100.1"]), []) is None  # nobody looked
