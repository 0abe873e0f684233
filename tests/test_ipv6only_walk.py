"""The IPv6-only resolution walk (probes.ipv6: the iterative resolver of probes.dns held to IPv6 addresses)
against hostile authoritative servers: a lame server first in a healthy zone (answering like a recursive
resolver: an upward referral, or a non-authoritative stale answer), a zone whose server refers to itself,
two zones referring to each other, an upward referral, CNAME data and glue from outside the answering zone.
The walk gives the right records or a clear error naming the lame server, within its budget, never "too
many referrals".

The servers need IPv6 addresses of their own, so the walk runs in a network namespace of its own (unshare
--net, root) with its addresses on lo: this file run as a script is that driver, and prints what each walk
returned as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

BUDGET, TIMEOUT = 8.0, 0.5
NET = "2001:db8:53:7::"  # documentation prefix, only inside the namespace the test creates
ROOT, GOOD, LAME, STALE, SELF, PING, PONG, UP, OOB, MID, LIAR, SILENT = (f"{NET}{n}" for n in range(1, 13))
LIAR4 = "127.0.0.1"  # reached as ::ffff:127.0.0.1 over IPv4: no server of an IPv6-only walk
TRUE_ADDR, TRUE_CHILD, BOGUS = "2001:db8:600d::1", "2001:db8:600d::2", "2001:db8:bad::1"
NAMES = ["www.lame.test", "www.stale.test", "www.self.test", "www.ping.test", "www.up.test", "www.oob.test",
         "www.child.mid.test", "www.mapped.test", "www.slowns.test", "www.good.test"]


# --- the driver (inside the namespace) ---------------------------------------------------------------------


def _zone(origin: str, ns: dict[str, str], body: str = ""):
    from dnssec_fakes import build_zone

    soa = f"{origin} 300 IN SOA {next(iter(ns))} hostmaster.{origin} 1 3600 600 86400 300\n"
    lines = "".join(f"{origin} 300 IN NS {n}\n" + (f"{n} 300 IN AAAA {a}\n" if n.endswith(origin) else "")
                    for n, a in ns.items())
    return build_zone(origin, soa + lines + body, None)


def _referral(q, owner: str, ns: str, glue: str):
    """A non-authoritative referral to owner (NS ns, AAAA glue), whatever was asked."""
    import dns.message
    import dns.rrset

    r = dns.message.make_response(q)
    r.authority.append(dns.rrset.from_text(owner, 300, "IN", "NS", ns))
    r.additional.append(dns.rrset.from_text(ns, 300, "IN", "AAAA", glue))
    return r


def _drive() -> None:
    import dns.flags
    import dns.message
    import dns.name
    import dns.rrset
    from dnssec_fakes import ROOT_SOA, Authority, FakeServer, build_zone, hints_file

    from netready.model import ProbeSettings
    from netready.probes import runcache
    from netready.probes.ipv6 import resolve_ipv6_only

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for addr in (ROOT, GOOD, LAME, STALE, SELF, PING, PONG, UP, OOB, MID, LIAR, SILENT):
        subprocess.run(["ip", "-6", "addr", "add", f"{addr}/128", "dev", "lo", "nodad"], check=True)

    def delegate(zone: str, ns: str, addr: str) -> str:
        return f"{zone} 300 IN NS {ns}\n{ns} 300 IN AAAA {addr}\n"

    root = build_zone(".", ROOT_SOA + ". 3600 IN NS a.root-servers.test.\n"
                      f"a.root-servers.test. 3600 IN AAAA {ROOT}\n"
                      # the lame (and the stale) server sorts first: it is asked first
                      + delegate("lame.test.", "ns0.lame.test.", LAME) + delegate("lame.test.", "ns1.lame.test.", GOOD)
                      + delegate("stale.test.", "ns0.stale.test.", STALE)
                      + delegate("stale.test.", "ns1.stale.test.", GOOD)
                      + delegate("good.test.", "ns.good.test.", GOOD) + delegate("self.test.", "ns.self.test.", SELF)
                      + delegate("ping.test.", "ns.ping.test.", PING) + delegate("pong.test.", "ns.pong.test.", PONG)
                      + delegate("up.test.", "ns.up.test.", UP) + delegate("oob.test.", "ns.oob.test.", OOB)
                      + delegate("mid.test.", "ns.mid.test.", MID)
                      + delegate("mapped.test.", "ns.mapped.test.", f"::ffff:{LIAR4}")
                      + delegate("silent.test.", "ns.silent.test.", SILENT)
                      + "slowns.test. 300 IN NS ns.deep.silent.test.\n", None)
    good_zones = [
        _zone("good.test.", {"ns.good.test.": GOOD}, f"www 300 IN AAAA {TRUE_ADDR}\n"
                                                     f"ns.elsewhere 300 IN AAAA {GOOD}\n"),
        _zone("lame.test.", {"ns0.lame.test.": LAME, "ns1.lame.test.": GOOD}, f"www 300 IN AAAA {TRUE_ADDR}\n"),
        _zone("stale.test.", {"ns0.stale.test.": STALE, "ns1.stale.test.": GOOD}, f"www 300 IN AAAA {TRUE_ADDR}\n"),
        _zone("child.mid.test.", {"ns.elsewhere.good.test.": GOOD}, f"www 300 IN AAAA {TRUE_CHILD}\n"),
    ]
    mid = _zone("mid.test.", {"ns.mid.test.": MID}, "child 300 IN NS ns.elsewhere.good.test.\n")
    oob = _zone("oob.test.", {"ns.oob.test.": OOB}, "www 300 IN CNAME www.good.test.\n")

    def stale(q, tcp):  # a recursive resolver's stale cache: NOERROR, no AA, a wrong address
        r = dns.message.make_response(q)
        r.answer.append(dns.rrset.from_text(q.question[0].name, 300, "IN", "AAAA", BOGUS))
        return r

    def oob_handle(q, tcp):  # authoritative CNAME, plus what it claims another zone's name is
        r = Authority(oob).handle(q, tcp)
        if any(rr.rdtype == dns.rdatatype.CNAME for rr in r.answer):
            r.answer.append(dns.rrset.from_text("www.good.test.", 300, "IN", "AAAA", BOGUS))
        return r

    def mid_handle(q, tcp):  # its referral carries "glue" for a name outside mid.test, pointing at a liar
        r = Authority(mid).handle(q, tcp)
        if not r.answer and any(rr.rdtype == dns.rdatatype.NS for rr in r.authority):
            r.additional.append(dns.rrset.from_text("ns.elsewhere.good.test.", 300, "IN", "AAAA", LIAR))
        return r

    def liar(q, tcp):
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        r.answer.append(dns.rrset.from_text(q.question[0].name, 300, "IN", "AAAA", BOGUS))
        return r

    servers = {
        "root": FakeServer(ROOT, Authority(root).handle),
        "good": FakeServer(GOOD, Authority(*good_zones).handle),
        # a recursive resolver asked without RD: it refers upward to the root it knows
        "lame": FakeServer(LAME, lambda q, tcp: _referral(q, ".", "a.root-servers.test.", ROOT)),
        "stale": FakeServer(STALE, stale),
        "self": FakeServer(SELF, lambda q, tcp: _referral(q, "self.test.", "ns.self.test.", SELF)),
        "ping": FakeServer(PING, lambda q, tcp: _referral(q, "pong.test.", "ns.pong.test.", PONG)),
        "pong": FakeServer(PONG, lambda q, tcp: _referral(q, "ping.test.", "ns.ping.test.", PING)),
        "up": FakeServer(UP, lambda q, tcp: _referral(q, "test.", "a.root-servers.test.", ROOT)),
        "oob": FakeServer(OOB, oob_handle),
        "mid": FakeServer(MID, mid_handle),
        "liar": FakeServer(LIAR, liar),
        "liar4": FakeServer(LIAR4, liar),
        "silent": FakeServer(SILENT, lambda q, tcp: None),
    }
    tmp = Path(sys.argv[1])
    settings = ProbeSettings(root_hints=hints_file(tmp / "hints", [ROOT]), timeout=TIMEOUT, budget=BUDGET, lab=True)
    out: dict[str, dict] = {}
    for batch in (False, True):  # alone, then all in one batch run (cached cuts must carry no lame answer over)
        with runcache.active() if batch else _nothing():
            for name in NAMES:
                t0 = time.monotonic()
                walk = resolve_ipv6_only(name, settings, time.monotonic() + BUDGET)
                walk["elapsed"] = time.monotonic() - t0
                out[f"{'batch:' if batch else ''}{name}"] = walk
    out["asked"] = {k: len(s.seen) for k, s in servers.items()}
    print(json.dumps(out))
    for s in servers.values():
        s.close()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# --- the tests ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def walks(tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("v6walk")
    tests = Path(__file__).parent
    env = {"PYTHONPATH": f"{tests}:{tests.parent}", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    res = subprocess.run(["unshare", "--net", "--", sys.executable, __file__, str(tmp)], capture_output=True,
                         text=True, timeout=4 * BUDGET * len(NAMES), env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("batch", ["", "batch:"], ids=["alone", "batch"])
@pytest.mark.parametrize("name", ["www.lame.test", "www.stale.test"])
def test_ipv6_only_walk_skips_a_lame_first_server_of_a_healthy_zone(walks, name, batch):
    walk = walks[batch + name]
    assert walk["error"] is None and walk["records"] == [TRUE_ADDR], walk
    assert walk["zones"][-1] == name.split(".", 1)[1] + "."
    assert walks["asked"]["lame" if "lame" in name else "stale"] > 0  # the lame server was asked, and skipped


@pytest.mark.parametrize("batch", ["", "batch:"], ids=["alone", "batch"])
@pytest.mark.parametrize(("name", "zone", "cut"), [
    ("www.self.test", "self.test.", "self.test."),  # refers to itself
    ("www.ping.test", "ping.test.", "pong.test."),  # sideways, and pong.test. refers back: a loop
    ("www.up.test", "up.test.", "test."),  # upward
])
def test_ipv6_only_walk_stops_at_a_referral_loop_or_upward_referral_with_a_clear_error(walks, name, zone, cut,
                                                                                       batch):
    walk = walks[batch + name]
    assert walk["records"] == [] and walk["failure"] == "unanswered", walk
    assert f"no IPv6 name server of {zone} answered" in walk["error"], walk["error"]
    assert f"lame: referral to {cut} from a server of {zone}" in walk["error"], walk["error"]
    assert "too many referrals" not in walk["error"]
    assert walk["queries"] < 10 and walk["elapsed"] < 2 * TIMEOUT + 1  # no loop: a few answers, no timeout


@pytest.mark.parametrize("batch", ["", "batch:"], ids=["alone", "batch"])
@pytest.mark.parametrize(("name", "want"), [
    ("www.oob.test", TRUE_ADDR),  # oob.test.'s server says what www.good.test is: asked at good.test.
    ("www.child.mid.test", TRUE_CHILD),  # mid.test.'s glue for ns.elsewhere.good.test: looked up at good.test.
    ("www.good.test", TRUE_ADDR),  # after all of the above in one batch: nothing poisoned
])
def test_ipv6_only_walk_believes_no_data_from_outside_the_answering_zone(walks, name, want, batch):
    walk = walks[batch + name]
    assert walk["error"] is None and walk["records"] == [want], walk


def test_ipv6_only_walk_never_asks_the_liar(walks):
    assert walks["asked"]["liar"] == 0 and walks["asked"]["liar4"] == 0


@pytest.mark.parametrize("batch", ["", "batch:"], ids=["alone", "batch"])
def test_ipv6_only_walk_takes_no_ipv4_mapped_server_address_for_ipv6(walks, batch):
    walk = walks[batch + "www.mapped.test"]
    assert walk["records"] == [] and walk["failure"] == "no-ipv6-server", walk
    assert walk["error"] == "no IPv6 address for any name server of mapped.test.", walk


@pytest.mark.parametrize("batch", ["", "batch:"], ids=["alone", "batch"])
def test_ipv6_only_walk_with_a_name_server_lookup_timing_out_is_not_a_definitive_fail(walks, batch):
    """slowns.test's only name server is ns.deep.silent.test, whose zone's server never answers: whether it has
    an IPv6 address is unknown, so the failure is a timeout (error), not "no IPv6 name server" (fail)."""
    walk = walks[batch + "www.slowns.test"]
    assert walk["records"] == [] and walk["failure"] == "timeout", walk
    assert walk["error"].startswith("no IPv6 address for any name server of slowns.test. (lookups failed: "
                                    "ns.deep.silent.test. AAAA: no IPv6 name server of silent.test. answered: "), walk
    assert walk["elapsed"] < BUDGET


if __name__ == "__main__":
    _drive()
