"""The batch run cache: answers above the portals' zones are asked once per run, never a failure, and
a batch gives every target the same verdicts as checking it alone."""

from __future__ import annotations

import time

import dns.name
import dns.rdatatype

from netready.model import ProbeSettings
from netready.probes import runcache
from netready.probes.dnssec_walk import Fetcher
from netready.profiles import load_profile
from netready.scan import check_one, scan_results


def test_ttl_lru_and_failure_removal():
    cache = runcache.RunCache(max_entries=2)
    cache.put("a", 1, ttl=60)
    cache.put("b", 2, ttl=0.05)
    assert cache.get("a") == 1 and cache.get("b") == 2
    time.sleep(0.06)
    assert cache.get("b") is None  # expired with its TTL
    cache.put("c", 3, ttl=60)
    cache.put("d", 4, ttl=60)  # over the bound: the least recently used ("a") goes
    assert cache.get("a") is None and cache.get("c") == 3 and cache.get("d") == 4
    value, hit = cache.setdefault("e", "pending", ttl=60)
    assert (value, hit) == ("pending", False)
    assert cache.setdefault("e", "other", ttl=60) == ("pending", True)
    cache.expire("e", "not-the-value", 0)  # only the stored value may be expired
    assert cache.get("e") == "pending"
    cache.expire("e", "pending", 0)
    assert cache.get("e") is None
    cache.put("zero", 1, ttl=0)  # a TTL of 0 is never stored
    assert cache.get("zero") is None


def test_expired_entries_leave_memory_when_newer_ones_are_stored_without_being_asked_for():
    # the peer store holds each target's SOA answers and page GETs for seconds; a batch never asks for them
    # again, so they must not stay until the bound pushes them out
    cache = runcache.RunCache(max_entries=100)
    for i in range(5):
        cache.put(("old", i), object(), ttl=0.05)
    cache.put("long", 1, ttl=60)
    time.sleep(0.06)
    cache.put("new", 2, ttl=60)
    assert len(cache) == 2 and cache.get("long") == 1 and cache.get("new") == 2
    cache.get_or_make("made", lambda: 3, ttl=0.05)
    time.sleep(0.06)
    cache.get("long"), cache.get("new")  # asked for again: "made" is now the least recently used
    cache.get_or_make("made2", lambda: 4, ttl=60)
    assert len(cache) == 3 and cache.get("made") is None


def test_active_only_inside_a_run():
    assert runcache.current() is None
    with runcache.active() as outer:
        with runcache.active() as inner:
            assert inner is outer is runcache.current()
        assert runcache.current() is outer
    assert runcache.current() is None


def test_failed_answer_is_not_shared(tmp_path):
    hints = tmp_path / "hints"
    hints.write_text(". 1 NS a.silent.\na.silent. 1 A 127.0.0.9\n", encoding="utf-8")
    settings = ProbeSettings(root_hints=str(hints), timeout=0.2, budget=2.0)
    with runcache.active() as cache:
        fetcher = Fetcher(settings)
        reply = fetcher.ask(["127.0.0.9"], dns.name.from_text("vn."), dns.rdatatype.NS).result(timeout=5)
        # Nothing listens there: the kernel's ICMP "port unreachable" answers at once (a connected socket).
        assert reply.response is None and "refused" in (reply.error or "")
        assert len(cache) == 0  # a timeout seen by one target must not become every target's answer
        second = Fetcher(settings)
        again = second.ask(["127.0.0.9"], dns.name.from_text("vn."), dns.rdatatype.NS).result(timeout=5)
        assert again.response is None and second.queries == 1  # asked itself, did not adopt


def _verdicts(result):
    return sorted((f.rule_id, f.subject or "", f.verdict) for f in result.findings)


def test_batch_shares_the_chain_and_keeps_verdicts(lab, lab_settings):
    profile = load_profile("lab")
    names = ["dichvucong.good.gov.vn", "dichvucong.bogus.gov.vn", "dichvucong.unsigned.gov.vn",
             "dichvucong.expiredsig.gov.vn"]
    alone = {n: check_one(n, lab_settings, profile) for n in names}  # no run cache outside a batch
    assert runcache.current() is None
    batch = scan_results(names, lab_settings, profile, concurrency=1)  # one at a time: later ones reuse
    assert [r.target.name for r in batch.results] == names
    for result in batch.results:
        assert _verdicts(result) == _verdicts(alone[result.target.name]), result.target.name
    chains = {r.target.name: next(o for o in r.observations if o.id.endswith(":chain")) for r in batch.results}
    assert chains["dichvucong.good.gov.vn"].data["status"] == "secure"
    assert chains["dichvucong.bogus.gov.vn"].data["status"] == "bogus"
    later = chains["dichvucong.expiredsig.gov.vn"].data
    shared = {(a["qname"], a["type"]) for a in later["shared_answers"]}
    assert (".", "DNSKEY") in shared and ("gov.vn.", "DS") in shared  # the chain above was not asked again
    assert all(a["fetched_at"] and a["server"] for a in later["shared_answers"])
    # Evidence stays per target: the shared zones are still fully described in this target's chain.
    zones = {z["zone"]: z for z in later["zones"]}
    assert zones["."]["dnskeys"] and zones["gov.vn."]["ds"] and zones["gov.vn."]["status"] == "secure"
    assert not any(a["qname"].startswith("dichvucong.") for a in later["shared_answers"])


def test_worker_processes_give_the_same_results(lab, lab_settings):
    """processes=2: names spread over spawned workers come back complete, in input order, same verdicts."""
    profile = load_profile("lab")
    names = ["dichvucong.good.gov.vn", "dichvucong.nov6.gov.vn", "dichvucong.selfsigned.gov.vn", "a..b",
             "dichvucong.nosuch.gov.vn"]
    alone = {n: check_one(n, lab_settings, profile) for n in names}
    seen: list[str] = []
    batch = scan_results(names, lab_settings, profile, concurrency=4, processes=2,
                         on_result=lambda r: seen.append(r.target.name))
    assert [r.target.name for r in batch.results] == names and sorted(seen) == sorted(names)
    assert batch.finished == len(names)
    for result in batch.results:
        assert _verdicts(result) == _verdicts(alone[result.target.name]), result.target.name


def test_server_soa_asked_once_for_both_probes(lab, lab_settings):
    """In a batch the IPv6 probe's SOA to each name server IPv6 address and the DNSSEC server check's are
    one query; both observations still carry the facts (and the same serial) from that one answer."""
    profile = load_profile("lab")
    name = "dichvucong.good.gov.vn"
    alone = check_one(name, lab_settings, profile)
    with runcache.active():
        peers = runcache._PEERS
        assert peers is not None
        batch = check_one(name, lab_settings, profile)
        stats = peers.stats()
    assert _verdicts(batch) == _verdicts(alone)
    ipv6 = next(o for o in batch.observations if o.id.endswith(":dns") and o.probe == "ipv6")
    v6 = [(s["name"], r) for s in ipv6.data["name_servers"] for r in s["v6"]]
    assert v6 and all(r["udp"]["ok"] and r["tcp"]["ok"] for _, r in v6)
    # One store entry per (address, transport) and per GET (each portal address, ports 443 and 80): a miss by
    # whichever probe asked first, a hit by the other.
    # And one for the zone's NS list with the name servers' addresses (both probes need them).
    shared = 2 * len(v6) + 2 * len(batch.target.addresses) + 1
    assert stats["misses"] == shared and stats["hits"] == shared, stats
    summary = next(o for o in batch.observations if ":servers:" in o.id and o.data["zone"] == ipv6.data["zone"])
    assert summary.data["ns_child"] == [s["name"] for s in ipv6.data["name_servers"]]
    for s in ipv6.data["name_servers"]:
        assert set(s["ipv4"] + s["ipv6"]) <= set(summary.data["addresses"][s["name"]])
    for address in batch.target.addresses:  # the TLS and IPv6 probes hold the same GETs, one marked shared
        tls = next(o for o in batch.observations if o.probe == "tls" and o.subject == address).data["http"]
        web = next(o for o in batch.observations if o.id.endswith(f":web:{address}")).data
        assert tls["https"]["body_sha256"] == web["https"]["body_sha256"]
        assert bool(tls["https"].get("shared")) != bool(web["https"].get("shared"))
    servers = {(o.data["ns"], o.data["address"]): o.data for o in batch.observations if ":server:" in o.id
               and o.data.get("zone") == ipv6.data["zone"]}
    for ns, r in v6:
        checked = servers[(ns, r["address"])]
        assert checked["udp"]["serial"] == r["udp"]["serial"] == checked["tcp"]["serial"] == r["tcp"]["serial"]
    outside = check_one(name, lab_settings, profile)  # outside a batch nothing is shared
    assert runcache._PEERS is None and _verdicts(outside) == _verdicts(alone)
