"""The DNSSEC rules on observations written by hand: BP-DNSSEC-ALGO per RFC 9904 and RFC 9905 (algorithm
and DS digest tables), where a probe run would only repeat what the lab scenarios already show."""

from __future__ import annotations

import pytest

from netready.evaluate import registry
from netready.model import Observation, Target
from netready.profiles import load_profile


def _chain(algs: list[int], digests: list[int]) -> list[Observation]:
    zone = {
        "zone": "x.gov.vn.", "status": "secure", "ds_source": "parent", "errors": [],
        "dnskeys": [{"key_tag": 1000 + i, "algorithm": a, "key_bits": 2048, "zone_key": True, "sep": i == 0,
                     "flags": 257 if i == 0 else 256, "revoked": False} for i, a in enumerate(algs)],
        "ds": [{"key_tag": 1000, "algorithm": algs[0], "digest_type": d, "digest": "00"} for d in digests],
    }
    data = {"qname": "dichvucong.x.gov.vn.", "zones": [zone], "status": "secure", "reason": "",
            "answers": [{"zone": "x.gov.vn.", "type": "A", "records": ["198.51.100.1"], "cname": None}]}
    return [Observation(id="dnssec:dichvucong.x.gov.vn:chain", probe="dnssec", target="dichvucong.x.gov.vn",
                        subject="dichvucong.x.gov.vn", data=data)]


def _algo(algs: list[int], digests: list[int]):
    t = Target(name="dichvucong.x.gov.vn", ascii_name="dichvucong.x.gov.vn")
    return registry()["BP-DNSSEC-ALGO"](t, _chain(algs, digests), load_profile("circular32"))[0]


@pytest.mark.parametrize("alg", [5, 7])
def test_rsasha1_keys_fail_since_rfc_9905(alg):
    out = _algo([alg, alg], [2])
    assert out.verdict == "fail" and "RFC 9905" in out.en and "RFC 9905" in out.vi


@pytest.mark.parametrize("alg", [1, 3, 6, 10, 12])
def test_algorithms_rfc_9904_forbids_for_signing_fail(alg):
    assert _algo([alg], [2]).verdict == "fail"


@pytest.mark.parametrize("alg", [8, 13, 14, 15, 16])
def test_recommended_algorithms_pass(alg):
    assert _algo([alg, alg], [2]).verdict == "pass"


def test_unknown_algorithm_is_not_recommended():
    assert _algo([13, 17], [2]).verdict == "warn"


def test_sha1_only_ds_set_fails_and_sha1_beside_sha256_warns():
    assert _algo([13], [1]).verdict == "fail"
    assert _algo([13], [1, 2]).verdict == "warn"
    assert _algo([13], [4]).verdict == "pass"
