"""The IPv6 probe + evaluators against a loopback fake DNS (records the lab cannot publish) and
hostile loopback web servers: bad AAAA classes, no records at all, IPv4-only name servers, a web
server that accepts and never answers, ICMPv6 filtered."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_http_servers import HostileServer
from test_ipv6_fakedns import fakedns  # noqa: F401  (fixture)

from netready.evaluate import ipv6 as ev
from netready.evaluate import naming
from netready.model import ProbeSettings
from netready.probes import ipv6
from netready.probes.http import SECOND_LOOK_WAIT

PROFILE = SimpleNamespace(lab=False, threshold=lambda name, default=None: default)


def settings_for(hints: str, timeout: float = 1.0) -> ProbeSettings:
    return ProbeSettings(root_hints=hints, timeout=timeout, budget=10.0)


def scan(name: str, settings: ProbeSettings, icmp: bool = False):
    from netready.scan import make_target

    target, dns_obs = make_target(name, settings)
    obs = ipv6.run(target, settings, icmp=icmp)
    for o in obs:
        json.dumps(o.to_dict())  # every observation is JSON-able
    return target, dns_obs + obs


def verdicts(outcomes) -> list[tuple[str, str | None]]:
    return [(o.verdict, o.subject) for o in outcomes]


@pytest.mark.parametrize(
    ("label", "address", "text"),
    [("linklocal", "fe80::1", "link-local"), ("mapped", "::ffff:127.0.0.1", "IPv4-mapped")],
)
def test_bad_aaaa_class_fails(fakedns, label, address, text) -> None:  # noqa: F811
    _, hints = fakedns
    target, obs = scan(f"{label}.hostile.gov.vn", settings_for(hints))
    aaaa = next(o for o in obs if o.id.endswith(":aaaa"))
    assert aaaa.data["records"][0]["address"] == address
    out = ev.ipv6_web(target, obs, PROFILE)
    assert verdicts(out) == [("fail", address)]
    assert text in out[0].en and "không phải địa chỉ unicast toàn cầu" in out[0].vi


def test_mapped_aaaa_fails_even_though_it_connects(fakedns) -> None:  # noqa: F811
    # ::ffff:127.0.0.1 is reachable from this host (the kernel maps it to IPv4): class decides, not reachability.
    _, hints = fakedns
    with HostileServer("ok", socket.AF_INET6, port=443):
        target, obs = scan("mapped.hostile.gov.vn", settings_for(hints))
    web = next(o for o in obs if o.id.endswith(":web:::ffff:127.0.0.1"))
    assert web.data["class"] == "ipv4-mapped"
    assert ev.ipv6_web(target, obs, PROFILE)[0].verdict == "fail"


def test_cname_to_link_local_is_followed(fakedns) -> None:  # noqa: F811
    _, hints = fakedns
    target, obs = scan("alias.hostile.gov.vn", settings_for(hints))
    assert target.ipv6 == ["fe80::1"]
    v6only = next(o for o in obs if o.id.endswith(":v6only"))
    assert v6only.data["records"] == ["fe80::1"] and v6only.error is None


@pytest.mark.parametrize("label", ["nothing", "txtonly"])
def test_name_without_records(fakedns, label) -> None:  # noqa: F811
    _, hints = fakedns
    target, obs = scan(f"{label}.hostile.gov.vn", settings_for(hints))
    assert target.addresses == [] and target.error
    web = ev.ipv6_web(target, obs, PROFILE)
    rcode = "NXDOMAIN" if label == "nothing" else "NOERROR"
    assert web[0].verdict == "fail" and "no AAAA" in web[0].en and rcode in web[0].en
    parity = ev.ipv6_parity(target, obs, PROFILE)
    assert parity[0].verdict == "info"
    # The zone's name servers are still judged: ns1 has only a loopback AAAA, ns2 none.
    dns_out = ev.ipv6_dns(target, obs, PROFILE)
    assert dns_out[0].verdict == "fail" and dns_out[0].subject == "hostile.gov.vn"
    assert "ns2.hostile.gov.vn has no AAAA" in dns_out[0].en and "loopback" in dns_out[0].en


def test_name_servers_ipv4_only(fakedns) -> None:  # noqa: F811
    _, hints = fakedns
    target, obs = scan("dichvucong.v4only.gov.vn", settings_for(hints))
    dns_obs = next(o for o in obs if o.id.endswith(":dns"))
    assert dns_obs.data["zone"] == "v4only.gov.vn." and dns_obs.data["ns_with_aaaa"] == 0
    out = ev.ipv6_dns(target, obs, PROFILE)
    assert out[0].verdict == "fail" and out[0].en.startswith("name servers IPv4 only")
    assert out[0].vi.startswith("máy chủ tên miền chỉ có IPv4")
    v6only = next(o for o in obs if o.id.endswith(":v6only"))
    assert v6only.data["records"] == [] and v6only.data["rcode"] == "NOERROR"


def test_name_servers_over_ipv6_udp_and_tcp_are_measured(fakedns) -> None:  # noqa: F811
    server, hints = fakedns
    target, obs = scan("dichvucong.hostile.gov.vn", settings_for(hints))
    ns1 = next(
        n for n in next(o for o in obs if o.id.endswith(":dns")).data["name_servers"] if n["name"].startswith("ns1")
    )
    v6 = ns1["v6"][0]
    assert v6["address"] == "::1" and v6["udp"]["ok"] and v6["tcp"]["ok"] and v6["udp"]["serial"] == 7
    # With a profile that accepted loopback NS, one capable server is still below the minimum of 2.
    out = ev.ipv6_dns(
        target, obs, SimpleNamespace(lab=False, threshold=lambda n, d=None: 1 if "nameservers" in n else d)
    )
    assert out[0].verdict == "fail"  # ::1 is loopback: never acceptable


def test_silent_web_server_bounded_by_timeout(fakedns) -> None:  # noqa: F811
    _, hints = fakedns
    settings = settings_for(hints, timeout=0.5)
    with HostileServer("silent", socket.AF_INET6, port=443), HostileServer("silent", port=443):
        t0 = time.monotonic()
        target, obs = scan("dichvucong.hostile.gov.vn", settings)
        took = time.monotonic() - t0
    web6 = next(o for o in obs if o.id.endswith(":web:::1"))
    # bounded: two tries and one longer look (a hang would last until the server closes, i.e. never)
    assert took < (2 + SECOND_LOOK_WAIT + 2) * settings.timeout, took
    assert web6.data["https"]["second_wait_s"] == SECOND_LOOK_WAIT * settings.timeout
    assert web6.data["tcp"]["443"]["open"] is True and web6.data["tcp"]["80"]["open"] is False
    assert web6.data["https"]["error"].startswith("timeout")
    out = ev.ipv6_web(target, obs, SimpleNamespace(lab=True, threshold=lambda n, d=None: d))
    assert out[0].verdict == "fail"  # loopback class, whatever the server does


def test_icmp_filtered_is_information_not_failure(tmp_path) -> None:
    # A fresh network namespace where the kernel ignores echo requests: nothing answers, nothing breaks.
    code = ("import json; from netready.probes.ipv6 import _icmp; "
            "print(json.dumps(_icmp('x.gov.vn', '::1', 1.0).to_dict()))")
    root = Path(__file__).resolve().parent.parent
    cmd = (
        "ip link set lo up && echo 1 > /proc/sys/net/ipv6/icmp/echo_ignore_all && "
        f'cd {root} && {sys.executable} -c "{code}"'
    )
    res = subprocess.run(["unshare", "--net", "sh", "-c", cmd], capture_output=True, text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    obs = json.loads(res.stdout)
    assert obs["error"] is None and obs["data"]["echo"]["replied"] is False and obs["data"]["reached"] is False
    assert obs["duration_ms"] < 1000 + 1500  # two phases of at most 0.5 s each; slack only against a hang


def test_icmp_echo_on_loopback() -> None:
    obs = ipv6._icmp("x.gov.vn", "::1", 1.0)
    assert obs.data["echo"]["replied"] is True and obs.data["trace"][0]["type"] == "echo-reply"


def test_naming() -> None:
    from netready.model import Target

    good = naming.naming(Target("x", "dichvucong.baria-vungtau.gov.vn"), [], PROFILE)[0]
    assert good.verdict == "pass" and "follows" in good.en and "baria-vungtau" in good.en
    eserv = naming.naming(Target("x", "e-services.mic.gov.vn"), [], PROFILE)[0]
    assert "follows" in eserv.en
    other = naming.naming(Target("x", "dvc.hanoi.gov.vn"), [], PROFILE)[0]
    assert other.verdict == "info" and "not of the form" in other.en and "không có dạng" in other.vi
    outside = naming.naming(Target("x", "portal.example.vn"), [], PROFILE)[0]
    assert "not under .gov.vn" in outside.en


def test_icmp_messages_read_as_scapy_dissects_them() -> None:
    """The echo request and the answer fields are packed and read without scapy (issue #20: scapy cost
    every checking process ~23 MB): what they give must be what scapy's own ICMPv6 layers give."""
    from scapy.layers.inet6 import (
        UDP,
        ICMPv6DestUnreach,
        ICMPv6EchoReply,
        ICMPv6EchoRequest,
        ICMPv6TimeExceeded,
        IPerror6,
        IPv6ExtHdrHopByHop,
    )

    ours, other = 0x1234, 0x4321
    built = ICMPv6EchoRequest(id=ours, seq=5, data=b"netready", cksum=0)
    assert ipv6.echo_request(ours, 5) == bytes(built)
    quoted = bytes(IPerror6(src="2001:db8::1", dst="2001:db8::2") / ICMPv6EchoRequest(id=ours, seq=3))
    cases = [  # (packet as a raw socket gives it, from, expected filing or None)
        (bytes(ICMPv6EchoReply(id=ours, seq=0)), "2001:db8:200::190", {"type": "echo-reply", "seq": 0}),
        (bytes(ICMPv6EchoReply(id=ours, seq=0)), "2001:db8:200::1", None),  # a reply from elsewhere
        (bytes(ICMPv6EchoReply(id=other, seq=0)), "2001:db8:200::190", None),  # another check's
        (bytes(ICMPv6TimeExceeded() / quoted), "2001:db8:ffff:1::2", {"type": "time-exceeded", "seq": 3}),
        (bytes(ICMPv6DestUnreach(code=3) / quoted), "2001:db8:ffff:1::2",
         {"type": "unreachable (code 3)", "seq": 3}),
        (bytes(ICMPv6TimeExceeded() / IPerror6(dst="2001:db8::2") / UDP(sport=ours, dport=33434)), "::1", None),
        (bytes(ICMPv6TimeExceeded() / IPerror6(dst="2001:db8::2") / IPv6ExtHdrHopByHop()
               / ICMPv6EchoRequest(id=ours, seq=3)), "::1", None),  # we never send extension headers
        (bytes(ICMPv6TimeExceeded() / quoted)[:52], "::1", None),  # cut short in the quoted request
    ]
    for packet, src, expected in cases:
        replies: dict = {}
        ipv6._match(packet, src, ours, "2001:db8:200::190", {0: 0.0, 3: 0.0}, replies)
        got = next(({"type": v["type"], "seq": k} for k, v in replies.items()), None)
        if expected is None:
            assert got is None, (packet.hex(), got)
        else:
            assert got == expected, packet.hex()
            seq, what = expected["seq"], expected["type"]
            assert replies[seq]["from"] == src and replies[seq]["rtt_ms"] >= 0
            # and scapy reads the same identifier and sequence from it
            layer = ICMPv6EchoReply(packet) if what == "echo-reply" else (
                ICMPv6TimeExceeded if what == "time-exceeded" else ICMPv6DestUnreach)(packet)[ICMPv6EchoRequest]
            assert (layer.id, layer.seq) == (ours, seq)
