"""The one outcome ladder (netready/evaluate/ladder.py) the evaluators with several findings per subject climb."""

from __future__ import annotations

from netready.evaluate import Outcome
from netready.evaluate.ladder import Ladder


def test_a_failure_makes_the_outcome_fail_and_keeps_the_warnings_after_it():
    found = Ladder("a.gov.vn", ("dnssec:x:chain",))
    found.warn("only one name server", "chỉ có một máy chủ")
    found.fail("NS sets differ", "tập NS khác nhau")
    out = found.outcome(("all good", "đều tốt"), head=("a.gov.vn: ", "a.gov.vn: "), tail=(" (2 keys)", " (2 khóa)"))
    assert out == Outcome("fail", "a.gov.vn: NS sets differ; only one name server (2 keys)",
                          "a.gov.vn: tập NS khác nhau; chỉ có một máy chủ (2 khóa)", "a.gov.vn", ("dnssec:x:chain",))


def test_warnings_alone_make_the_outcome_warn():
    found = Ladder("z")
    found.warn("w1", "c1")
    found.warn("w2", "c2")
    out = found.outcome(("ok", "tốt"))
    assert (out.verdict, out.en, out.vi, out.subject, out.evidence) == ("warn", "w1; w2", "c1; c2", "z", ())


def test_nothing_found_passes_with_the_pass_text_between_head_and_tail():
    out = Ladder().outcome(("recommended only", "chỉ khuyến nghị"), head=("z: ", "z: "), tail=(" (k)", " (k)"))
    assert (out.verdict, out.en, out.vi, out.subject) == ("pass", "z: recommended only (k)", "z: chỉ khuyến nghị (k)",
                                                          None)


def test_the_dnssec_rules_that_collect_findings_climb_the_ladder():
    """No evaluator module spells the fail/warn/pass ladder by hand again (en and vi lists side by side)."""
    from pathlib import Path

    import netready.evaluate.dnssec as dnssec

    text = Path(dnssec.__file__).read_text(encoding="utf-8")
    assert "fails_en" not in text and "warns_en" not in text
    assert text.count("Ladder(") >= 3  # BP-DNSSEC-ALGO, BP-DNSSEC-SIGS, BP-DNS-DELEGATION


def test_the_outcome_carries_the_hint_of_its_first_failure_else_of_its_first_warning():
    found = Ladder()
    found.warn("renew soon", "sắp gia hạn", "renew")
    assert found.outcome(("ok", "tốt")).hint == "renew"
    found.fail("weak hash", "hàm băm yếu")  # a failure without a hint of its own
    found.fail("expired", "hết hạn", "expired")
    assert found.outcome(("ok", "tốt")).hint is None
    first = Ladder()
    first.fail("expired", "hết hạn", "expired")
    first.fail("self-signed", "tự ký", "self_signed")
    assert first.outcome(("ok", "tốt")).hint == "expired"
    assert Ladder().outcome(("ok", "tốt")).hint is None


def _cert_verdict(**leaf):
    from netready.evaluate.tls import bp_tls_cert
    from netready.model import Observation, Target
    from netready.profiles import load_profile

    base = {"subject": "CN=x", "key_type": "RSA", "key_bits": 2048, "signature_algorithm": "sha256WithRSAEncryption",
            "signature_hash": "sha256", "self_issued": False, "not_before": "2026-01-01T00:00:00Z",
            "not_after": "2026-12-01T00:00:00Z", "lifetime_days": 334}
    root = {"subject": "CN=root", "key_type": "RSA", "key_bits": 4096, "signature_hash": "sha256", "self_issued": True}
    chain = [{**base, **leaf}, root]
    obs = Observation(id="tls:a.gov.vn:198.51.100.7", probe="tls", target="a.gov.vn", subject="198.51.100.7",
                      data={"address": "198.51.100.7", "versions": {"TLSv1.2": {"accepted": True}},
                            "handshake": {"version": "TLSv1.2"},
                            "certificate": {"chain": chain, "verified_path": chain, "intermediates_sent": True,
                                            "reasons": [], "valid": True}},
                      started="2026-06-01T00:00:00Z")
    (out,) = bp_tls_cert(Target("a.gov.vn", "a.gov.vn", ["198.51.100.7"]), [obs], load_profile("circular32"))
    return out.verdict, out.en, out.vi, out.hint


def test_bp_tls_cert_climbs_the_ladder_with_the_same_verdicts_texts_and_hints():
    """Failures first (in the order found), then warnings, then the RSA-strength note; the hint of the first."""
    assert _cert_verdict() == ("pass", "sha256WithRSAEncryption, 334-day lifetime, 183 days left",
                               "sha256WithRSAEncryption, thời hạn 334 ngày, còn 183 ngày", None)
    verdict, en, vi, hint = _cert_verdict(signature_hash="sha1", not_after="2026-05-01T00:00:00Z", lifetime_days=500,
                                          key_bits=4096)
    assert (verdict, hint) == ("fail", "sha1")
    assert en == ("leaf signed with SHA1; expired 31 days ago; lifetime 500 days > 398 (CA/B SC-081 limit for a "
                  "certificate issued 2026-01-01); RSA 4096 bits: good")
    assert vi.startswith("chứng thư máy chủ ký bằng SHA1; đã hết hạn 31 ngày trước; thời hạn 500 ngày > 398")
    verdict, en, _vi, hint = _cert_verdict(lifetime_days=500)
    assert (verdict, hint) == ("warn", "lifetime")
    assert en == "lifetime 500 days > 398 (CA/B SC-081 limit for a certificate issued 2026-01-01)"


def test_the_tls_certificate_rule_climbs_the_ladder():
    from pathlib import Path

    import netready.evaluate.tls as tls

    text = Path(tls.__file__).read_text(encoding="utf-8")
    assert "Ladder(" in text and "fails.append" not in text and "warns.append" not in text
