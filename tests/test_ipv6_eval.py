"""The IPv6 evaluators on crafted observations: thresholds, classes, lab profile, messages, purity."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from netready.evaluate import ipv6 as ev
from netready.evaluate import registry
from netready.model import Observation, Target
from netready.probes.ipv6 import classify

NAME = "dichvucong.x.gov.vn"
REAL = SimpleNamespace(lab=False, threshold=lambda n, d=None: d)
LAB = SimpleNamespace(lab=True, threshold=lambda n, d=None: d)


def aaaa(*addrs: str, ipv4=("198.51.100.1",)) -> Observation:
    return Observation(
        id=f"ipv6:{NAME}:aaaa",
        probe="ipv6",
        target=NAME,
        subject=NAME,
        data={"records": [{"address": a, "class": classify(a)} for a in addrs], "ipv4": list(ipv4), "rcode": None},
    )


def web(addr: str, status: int | None = 200, simhash: int = 0, sha: str = "a", error: str | None = None,
        stage: str | None = None, location: str | None = None) -> Observation:  # fmt: skip
    family = 6 if ":" in addr else 4
    https = {"status": status, "error": error, "stage": stage, "elapsed_ms": 3.0, "body_simhash": simhash,
             "body_sha256": sha, "body_length": 100, "location": location, "connect_ms": 1.0}  # fmt: skip
    return Observation(id=f"ipv6:{NAME}:web:{addr}", probe="ipv6", target=NAME, subject=addr,
                       data={"family": family, "https": https, "tcp": {}})  # fmt: skip


T = Target(NAME, NAME, ["198.51.100.1"], ["2001:db8::1"])


@pytest.mark.parametrize(
    ("address", "cls"),
    [
        ("2400:cb00::1", "global"),
        ("2001:db8::1", "documentation"),
        ("fe80::1", "link-local"),
        ("fd00::1", "unique-local"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("::ffff:198.51.100.1", "ipv4-mapped"),
        ("2002:c633:6401::1", "6to4"),
        ("2001:0:4136:e378::1", "teredo"),
        ("ff02::1", "multicast"),
        ("64:ff9b::c633:6401", "nat64"),
        ("4000::1", "reserved"),
        ("not-an-address", "invalid"),
    ],
)
def test_classify(address, cls) -> None:
    assert classify(address) == cls


def test_documentation_prefix_only_in_lab() -> None:
    obs = [aaaa("2001:db8::1"), web("2001:db8::1")]
    assert ev.ipv6_web(T, obs, LAB)[0].verdict == "pass"
    real = ev.ipv6_web(T, obs, REAL)[0]
    assert real.verdict == "fail" and "documentation" in real.en


def test_unreachable_message() -> None:
    err = "connect to [2001:db8::1]:443 failed: No route to host"
    out = ev.ipv6_web(T, [aaaa("2001:db8::1"), web("2001:db8::1", None, error=err, stage="connect")], LAB)[0]
    assert out.verdict == "fail" and out.en == f"AAAA published but unreachable ({err})"
    assert out.subject == "2001:db8::1" and out.evidence == (f"ipv6:{NAME}:aaaa", f"ipv6:{NAME}:web:2001:db8::1")


def test_lookup_error_is_error_not_fail() -> None:
    obs = aaaa()
    obs.error = "AAAA lookup failed: timeout after 2 s"
    assert ev.ipv6_web(T, [obs], LAB)[0].verdict == "error"


def test_one_outcome_per_aaaa() -> None:
    obs = [aaaa("2001:db8::1", "fe80::1"), web("2001:db8::1"), web("fe80::1", None, error="x", stage="connect")]
    assert [(o.verdict, o.subject) for o in ev.ipv6_web(T, obs, LAB)] == [("pass", "2001:db8::1"), ("fail", "fe80::1")]


@pytest.mark.parametrize(
    ("v6", "verdict", "text"),
    [
        (dict(sha="a"), "pass", "identical"),
        (dict(sha="b", simhash=0b111), "pass", "distance 3/64"),
        (dict(sha="b", simhash=(1 << 15) - 1), "warn", "distance 15/64"),
        (dict(sha="b", simhash=(1 << 30) - 1), "fail", "distance 30/64"),
        (dict(status=503), "fail", "IPv4 200, IPv6 503"),
        (dict(status=None, error="timeout"), "info", "no answer"),  # a consequence of VN-IPV6-WEB, not scored
        (dict(location="https://elsewhere/"), "fail", "redirects differ"),
    ],
)
def test_parity(v6, verdict, text) -> None:
    obs = [aaaa("2001:db8::1"), web("198.51.100.1"), web("2001:db8::1", **v6)]
    out = ev.ipv6_parity(T, obs, LAB)
    assert len(out) == 1 and out[0].verdict == verdict and text in out[0].en, out[0].en
    assert out[0].vi and out[0].subject == "2001:db8::1"


def test_parity_threshold_comes_from_profile() -> None:
    obs = [aaaa("2001:db8::1"), web("198.51.100.1"), web("2001:db8::1", sha="b", simhash=(1 << 15) - 1)]
    loose = SimpleNamespace(lab=True, threshold=lambda n, d=None: 16 if n == "parity_max_distance" else d)
    assert ev.ipv6_parity(T, obs, loose)[0].verdict == "pass"


def test_parity_without_v4_answer_is_info() -> None:
    obs = [aaaa("2001:db8::1"), web("198.51.100.1", None, error="refused", stage="connect"), web("2001:db8::1")]
    assert ev.ipv6_parity(T, obs, LAB)[0].verdict == "info"


def ns_obs(*servers) -> Observation:
    return Observation(id=f"ipv6:{NAME}:dns", probe="ipv6", target=NAME, subject="x.gov.vn.",
                       data={"zone": "x.gov.vn.", "name_servers": list(servers)})  # fmt: skip


def ns(name: str, *v6: tuple[str, bool, bool]) -> dict:
    ok = {"ok": True, "error": None}
    bad = {"ok": False, "error": "timeout after 2 s"}
    return {"name": name, "ipv4": ["198.51.100.53"], "ipv6": [a for a, _, _ in v6],
            "v6": [{"address": a, "class": classify(a), "udp": ok if u else bad, "tcp": ok if t else bad}
                   for a, u, t in v6]}  # fmt: skip


def test_dns_two_capable_pass() -> None:
    obs = [ns_obs(ns("ns1.x.gov.vn.", ("2001:db8::53", True, True)), ns("ns2.x.gov.vn.", ("2001:db8::54", True, True)))]
    out = ev.ipv6_dns(T, obs, LAB)[0]
    assert out.verdict == "pass" and "2 of 2" in out.en and out.subject == "x.gov.vn"


def test_dns_tcp_missing_fails_with_reason() -> None:
    obs = [
        ns_obs(ns("ns1.x.gov.vn.", ("2001:db8::53", True, True)), ns("ns2.x.gov.vn.", ("2001:db8::54", True, False)))
    ]
    out = ev.ipv6_dns(T, obs, LAB)[0]
    assert (
        out.verdict == "fail"
        and "only 1 of 2" in out.en
        and "ns2.x.gov.vn (2001:db8::54) does not answer over IPv6 TCP" in out.en
    )


def test_dns_error_when_nothing_found() -> None:
    obs = ns_obs()
    obs.error = "SOA query for x.gov.vn. failed: timeout after 2 s"
    assert ev.ipv6_dns(T, [obs], LAB)[0].verdict == "error"


def test_registered() -> None:
    reg = registry()
    for rule in ("VN-IPV6-WEB", "VN-IPV6-DNS", "BP-IPV6-PARITY", "VN-NAMING"):
        assert rule in reg
