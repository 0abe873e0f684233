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
