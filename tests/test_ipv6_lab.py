"""The IPv6 probe and rules on the built-in lab: every scenario gives the verdicts docs/lab.md lists."""

from __future__ import annotations

import json

import pytest

from netready.evaluate import ipv6 as ev
from netready.evaluate import naming
from netready.probes import ipv6
from netready.scan import make_target
from netready.views.ipv6 import render_ipv6_text

RULES = {
    "VN-IPV6-WEB": ev.ipv6_web,
    "VN-IPV6-DNS": ev.ipv6_dns,
    "BP-IPV6-PARITY": ev.ipv6_parity,
    "VN-NAMING": naming.naming,
}
ORDER = ("pass", "info", "warn", "fail", "error")


@pytest.fixture(scope="module")
def profile():
    from netready.profiles import load_profile

    return load_profile("lab")


@pytest.fixture(scope="module")
def scanned(lab, lab_settings):
    """Each lab portal scanned once (ICMP included: the lab routes it)."""
    out = {}
    for portal in lab.portals:
        target, obs = make_target(portal.name, lab_settings)
        obs += ipv6.run(target, lab_settings)
        out[portal.scenario] = (portal, target, obs)
    return out


def worst(outcomes) -> str:
    return max((o.verdict for o in outcomes), key=ORDER.index)


def expected(portal, rule: str) -> str | None:
    want = portal.expected.get(rule)
    return want.get("ipv6") if isinstance(want, dict) else want


def test_every_scenario_matches_the_lab_table(scanned, profile) -> None:
    mismatches = []
    for scenario, (portal, target, obs) in scanned.items():
        for rule, fn in RULES.items():
            want = expected(portal, rule)
            if want is None:
                continue
            outcomes = fn(target, obs, profile)
            got = worst(outcomes) if outcomes else "error"
            if got != want:
                mismatches.append(f"{scenario} {rule}: want {want}, got {got}: {[o.en for o in outcomes]}")
    assert not mismatches, "\n".join(mismatches)


def test_good(scanned, profile) -> None:
    portal, target, obs = scanned["good"]
    for o in obs:
        json.dumps(o.to_dict())
    assert [o.verdict for o in ev.ipv6_web(target, obs, profile)] == ["pass"] * len(target.ipv6)
    dns_out = ev.ipv6_dns(target, obs, profile)
    assert dns_out[0].verdict == "pass" and dns_out[0].subject == portal.zone
    v6only = next(o for o in obs if o.id.endswith(":v6only"))
    assert v6only.data["records"] == target.ipv6 and v6only.error is None
    assert all(":" in s for step in v6only.data["steps"] for s in step["servers"])  # IPv6 transport only
    icmp = next(o for o in obs if ":icmp:" in o.id)
    assert icmp.data["echo"]["replied"] is True and icmp.data["trace"][-1]["from"] == target.ipv6[0]
    assert ev.ipv6_parity(target, obs, profile)[0].verdict == "pass"


def test_nov6(scanned, profile) -> None:
    _, target, obs = scanned["nov6"]
    web = ev.ipv6_web(target, obs, profile)
    assert web[0].verdict == "fail" and "no AAAA" in web[0].en
    dns_out = ev.ipv6_dns(target, obs, profile)
    assert dns_out[0].verdict == "fail" and dns_out[0].en.startswith("name servers IPv4 only")


def test_v6dead(scanned, profile) -> None:
    _, target, obs = scanned["v6dead"]
    web = ev.ipv6_web(target, obs, profile)
    assert web[0].verdict == "fail" and web[0].en.startswith("AAAA published but unreachable (connect to [")
    icmp = next(o for o in obs if ":icmp:" in o.id)
    assert icmp.error is None and icmp.data["reached"] is False  # information only


def test_v6diff(scanned, profile) -> None:
    _, target, obs = scanned["v6diff"]
    assert [o.verdict for o in ev.ipv6_web(target, obs, profile)] == ["pass"]
    parity = ev.ipv6_parity(target, obs, profile)
    assert parity[0].verdict in ("fail", "warn") and "different page" in parity[0].en


def test_ipv6_only_walk_skips_the_lame_first_name_server_of_the_lame_scenario(scanned) -> None:
    """ns0.lame.gov.vn, asked first, is the lab's recursive resolver: asked without RD it refers upward to
    gov.vn. The IPv6-only walk skips it (RFC 1034 §5.3.3) and gets the answer from the next server."""
    from netready.lab import plan

    _, target, obs = scanned["lame"]
    v6only = next(o for o in obs if o.id.endswith(":v6only"))
    assert v6only.error is None and v6only.data["records"] == target.ipv6, (v6only.error, v6only.data)
    last = v6only.data["steps"][-1]
    assert last["zone"] == "lame.gov.vn." and last["servers"][0] == plan.RESOLVER6
    assert last["answered_by"] not in (None, plan.RESOLVER6)
    assert [s["zone"] for s in v6only.data["steps"]] == [".", "vn.", "gov.vn.", "lame.gov.vn."]  # no loop


def test_render(scanned) -> None:
    _, _, obs = scanned["good"]
    text = render_ipv6_text(obs, "vi")
    assert "Bản ghi AAAA" in text and "2001:db8:200::" in text


def test_the_ipv6_only_walk_skips_a_lame_name_server_and_keeps_the_shared_cut_clean(lab, lab_settings) -> None:
    """ns0.lame.gov.vn (asked first) is a recursive resolver: asked without recursion it refers back up to gov.vn.
    That is a lame answer (RFC 1034 §5.3.3), not a referral to follow: the walk asks the zone's other servers.
    Followed, it looped gov.vn -> lame.gov.vn until "too many referrals", and in a batch stored that loop as the
    path of the gov.vn cut, so every later portal below gov.vn showed it (and each run another one)."""
    import time

    from netready.probes import runcache

    lame, unsigned = lab.portal("lame").name, lab.portal("unsigned").name
    with runcache.active():
        walk = ipv6.resolve_ipv6_only(lame, lab_settings, time.monotonic() + 30)
        assert walk["error"] is None and walk["records"] == lab.portal("lame").ipv6
        assert walk["zones"] == [".", "vn.", "gov.vn.", "lame.gov.vn."]
        after = ipv6.resolve_ipv6_only(unsigned, lab_settings, time.monotonic() + 30)  # from the shared gov.vn cut
        assert after["records"] == lab.portal("unsigned").ipv6
        assert after["zones"] == [".", "vn.", "gov.vn.", "unsigned.gov.vn."]
