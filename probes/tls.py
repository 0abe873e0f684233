"""TLS and HTTPS probe: for every published address, what the server on port 443 accepts and sends.

Per address: full OpenSSL handshakes (the one a browser gets, one restricted to the other key type so a
server with RSA and ECDSA certificates shows both, one without SNI), the trust in each certificate
(probes/tls_trust.py: path and name by `cryptography`, OpenSSL's opinion beside it, the OCSP staple),
raw hellos (probes/tls_hello.py) for versions, cipher suites, server preference, key-exchange groups and
post-quantum hybrids, and HTTP requests through probes.http.fetch (port 80 answer, HTTPS answer with HSTS,
same-host HTTPS redirects followed to find it). Facts only; the judging is in netready/evaluate/tls.py.
Observation shape: docs/probes/tls.md.

How the scan treats silence and refusals (why: one dropped hello must not look like a refusal of all):
- a timeout or a reset is tried once more before it counts; a version whose hellos get no answer twice is
  "not offered, no answer" and the other versions, suites and groups are still probed;
- only connection refused (RST) or an ICMP unreachable stops the raw probing of an address at once;
- a ServerHello that picks what the hello did not offer is a protocol error, not acceptance;
- no hello offers 128 suites or more (suites go in chunks); at most MAX_WORKERS_PER_ADDRESS connections
  to one address at a time.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from netready.model import Observation, ProbeSettings, Target, utc_now
from netready.probes import tls_suites as S

# Groups offered when enumerating, most wanted first (the order only matters for client-preference servers).
OFFER_GROUPS = [0x11EC, 0x11EB, 29, 23, 24, 25, 30, 256, 257, 258, 259, 260, 22, 21, 19, 26, 27, 28]
EC_GROUPS = [g for g in OFFER_GROUPS if not S.GROUPS[g].startswith("ffdhe") and "MLKEM" not in S.GROUPS[g]]
# Connections to one address at a time (raw hellos, handshakes and HTTP): low enough for rate limits.
MAX_WORKERS_PER_ADDRESS = 4
MAX_REDIRECTS = 3  # same-host HTTPS redirects followed to find Strict-Transport-Security
DECISIVE = ("refused", "unreachable")  # answers that settle the whole address at once


class _OutOfBudget(Exception):
    pass


@dataclass
class _Scan:
    address: str
    port: int
    sni: str | None
    settings: ProbeSettings
    deadline: float
    tls_seen: bool = False  # the OpenSSL handshake worked: odd answers to one hello are that hello's
    lock: threading.Lock = field(default_factory=threading.Lock)
    hellos: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    stop: str | None = None  # set when the address cannot be probed further (refused, unreachable, not TLS)

    def hello(self, version: int, ciphers: list[int], groups: list[int], key_share: bool = True,
              want_kex: bool = False, share_groups: list[int] | None = None, wait: float | None = None,
              attempts: int = 2):
        """One hello and the server's answer, a timeout or a reset tried once more, checked against the offer;
        `wait` replaces the timeout for each attempt (the second look at a silent version)."""
        from netready.probes.tls_hello import check_answer, client_hello, exchange

        raw = client_hello(version, ciphers, self.sni, groups, key_share, share_groups)
        for attempt in range(1, attempts + 1):
            left = self.deadline - time.monotonic()
            if left <= 0.05 or self.stop:
                raise _OutOfBudget(self.stop or "time budget for this address used up")
            ans = exchange(self.address, self.port, raw, min(wait or self.settings.timeout, left), want_kex)
            with self.lock:
                self.hellos += 1
                self.retries += attempt - 1
            if ans.kind not in ("timeout", "reset"):
                break
        ans.attempts = attempt
        if ans.kind in DECISIVE or (ans.kind in ("not_tls", "reset") and not self.tls_seen):
            # refused or unreachable settle the address; so do garbage or two resets where even the
            # OpenSSL handshake got no TLS
            self.stop = self.stop or f"{ans.kind}: {ans.detail}"
        return check_answer(ans, version, ciphers, groups)


def _second_look(scan: _Scan, versions: dict[str, dict[str, Any]], pool: ThreadPoolExecutor) -> None:
    """Versions whose hellos went unanswered, on an address that answers TLS, asked once more with a longer
    wait (side by side). An answer now means the server was only slow: the version is enumerated again with
    that wait (`late_answer_wait_s`). Still silence: "no answer" stands, and says how long it waited
    (`second_wait_s`). Either way the verdict rests on what the server did, not on a busy moment."""
    from netready.probes.http import SECOND_LOOK_WAIT

    spoke = scan.tls_seen or any(r.get("accepted") for r in versions.values())
    # only versions no hello of which got any answer (a refusal of the first suites settles the version)
    silent = [v for v, r in versions.items() if r.get("no_answer") and str(r.get("answer")).startswith("no answer")]
    left = scan.deadline - time.monotonic()
    if not silent or not spoke or scan.stop or left <= scan.settings.timeout:
        return
    wait = min(SECOND_LOOK_WAIT * scan.settings.timeout, left - 0.1)  # probes.http: a busy server answers late
    futures = {v: pool.submit(_answers_at_all, scan, v, wait) for v in silent}
    again = {v: pool.submit(_enumerate, scan, v, wait) for v, f in futures.items() if f.result()}
    for v in silent:
        if v in again:
            versions[v] = {**again[v].result(), "late_answer_wait_s": round(wait, 1)}
        else:
            versions[v]["second_wait_s"] = round(wait, 1)


def _version_offer(version: int) -> tuple[list[tuple[int, ...]], list[int]]:
    """What the hellos of one version offer: the suites in hellos (chunks) and the groups."""
    if version == 0x0304:
        return [tuple(S.TLS13_SUITES)], OFFER_GROUPS
    return list(S.suite_chunks()), [*EC_GROUPS, *[g for g in OFFER_GROUPS if g not in EC_GROUPS]]


def _answers_at_all(scan: _Scan, vname: str, wait: float) -> bool:
    """One hello of this version (its first chunk of suites), one attempt, waiting `wait`: any answer?"""
    version = S.VERSIONS[vname]
    chunks, groups = _version_offer(version)
    offer = list(chunks[0])
    try:
        ans = scan.hello(version, offer, groups, key_share=version != 0x0304, wait=wait, attempts=1)
    except _OutOfBudget:
        return False
    return ans.kind != "timeout"


def _answer_text(ans) -> str:
    if ans.kind == "alert":
        return f"alert {ans.alert}"
    if ans.kind == "hello" and ans.version is not None:
        return f"ServerHello {S.VERSION_NAMES.get(ans.version, hex(ans.version))}"
    if ans.kind == "hrr":
        return "HelloRetryRequest TLSv1.3"
    if ans.kind == "timeout":
        return f"no answer (timeout{', tried twice' if ans.attempts > 1 else ''})"
    return ans.kind + (f" ({ans.detail})" if ans.detail else "")


def _enumerate(scan: _Scan, vname: str, wait: float | None = None) -> dict[str, Any]:
    """Accepted suites for one version: offer a chunk, remove the chosen suite, offer again (testssl-style),
    chunk after chunk (no hello carries 128 suites or more). TLS 1.3 hellos carry no key share: the server's
    HelloRetryRequest names the suite it chose, and costs it no signature (a ServerHello flight does)."""
    version = S.VERSIONS[vname]
    share = version != 0x0304
    chunks, groups = _version_offer(version)
    out: dict[str, Any] = {"accepted": None, "answer": None, "suites": [], "preference": None, "complete": False}
    accepted: list[int] = []
    refused = False  # a definitive no for at least one hello
    try:
        for chunk in chunks:
            offer = list(chunk)
            ans = None
            while offer:
                ans = scan.hello(version, offer, groups, key_share=share, wait=wait)
                if out["answer"] is None or (ans.accepted and not accepted):
                    out["answer"] = _answer_text(ans)
                if ans.accepted and ans.version == version:
                    accepted.append(ans.cipher)
                    offer.remove(ans.cipher)
                    continue
                break
            if ans is None or not offer:
                continue
            if ans.warnings:
                out["warning_alerts"] = sorted(set(out.get("warning_alerts", [])) | set(ans.warnings))
            if ans.kind == "protocol_error":
                out["protocol_error"] = ans.detail
                refused = True
                continue
            if ans.accepted:  # the server answered with another (lower) version: it does not speak this one
                out["negotiated_instead"] = S.VERSION_NAMES.get(ans.version or 0, str(ans.version))
                refused = True
                break
            if ans.kind == "alert" and ans.alert == "protocol_version":
                refused = True
                break
            if ans.kind in ("alert", "closed", "reset"):
                refused = True  # no suite of this chunk: try the next one
                continue
            if ans.kind == "timeout":
                if not accepted:  # "not offered, no answer": a middlebox may drop this version's hellos
                    out["no_answer"] = True
                    refused = True
                else:
                    out["error"] = _answer_text(ans)
                break
            out["error"] = _answer_text(ans)  # not TLS, truncated, local error: inconclusive
            break
        else:
            out["complete"] = True
        if out.get("no_answer") or (refused and "error" not in out):
            out["complete"] = True
        if accepted:
            out["accepted"] = True
        elif refused and "error" not in out:
            out["accepted"] = False
        if len(accepted) >= 2 and out["complete"]:
            pref = accepted[::-1][: S.MAX_SUITES_PER_HELLO]
            ans = scan.hello(version, pref, groups, key_share=share, wait=wait)
            if ans.accepted and ans.cipher == pref[0]:
                out["preference"] = "client"
            elif ans.accepted and ans.cipher == accepted[0]:
                out["preference"] = "server"
            else:
                out["preference"] = "unclear"
    except _OutOfBudget as exc:
        out["error"] = f"stopped: {exc}"
        out["complete"] = False
        out["accepted"] = True if accepted else None
    out["suite_ids"] = accepted
    out["suites"] = [S.suite_name(c) for c in accepted]
    return out


def _groups_tls13(scan: _Scan) -> dict[str, Any]:
    """Groups by HelloRetryRequest: offer groups with no key share, the server names the one it wants."""
    return _groups(OFFER_GROUPS, "TLSv1.3",
                   lambda offer: scan.hello(0x0304, list(S.TLS13_SUITES), offer, key_share=False))


def _groups_tls12(scan: _Scan, version: int, ecdhe: list[int]) -> dict[str, Any]:
    """Groups by ServerKeyExchange: offer only ECDHE suites, read the named curve, remove it, repeat."""
    return _groups(EC_GROUPS, S.VERSION_NAMES[version], lambda offer: scan.hello(version, ecdhe, offer, want_kex=True))


def _groups(groups: Iterable[int], source: str, hello: Callable[[list[int]], Any]) -> dict[str, Any]:
    """Offer `groups`, take out the one the server picks, until it picks none of those left."""
    offer = list(groups)
    found: list[int] = []
    out: dict[str, Any] = {"source": source, "accepted": [], "complete": False}
    try:
        while offer:
            ans = hello(offer)
            if ans.accepted and ans.group in offer:
                found.append(ans.group)
                offer.remove(ans.group)
                continue
            if ans.kind == "protocol_error" or (ans.accepted and ans.group is not None):
                out["protocol_error"] = ans.detail or f"server chose group 0x{ans.group:04X} that was not offered"
            elif not ans.accepted and ans.kind not in ("alert", "closed", "reset", "timeout"):
                out["error"] = _answer_text(ans)
                break
            out["complete"] = True
            break
        else:
            out["complete"] = True
    except _OutOfBudget as exc:
        out["error"] = f"stopped: {exc}"
    out["accepted"] = [S.GROUPS.get(g, f"0x{g:04X}") for g in found]
    return out


def _dhe_bits(scan: _Scan, version: int, dhe: list[int]) -> int | None:
    try:
        ans = scan.hello(version, dhe, EC_GROUPS, want_kex=True)
    except _OutOfBudget:
        return None
    return ans.dh_bits


# Post-quantum hybrid key exchange (BP-TLS-PQ): a browser-like hello with a real ~1.2 kB ML-KEM share.
PQ_GROUPS = {"X25519MLKEM768": 0x11EC, "SecP256r1MLKEM768": 0x11EB}


def _pq(scan: _Scan, groups_future) -> dict[str, Any]:
    """Whether the server selects a post-quantum hybrid group. One TLS 1.3 hello with a real X25519MLKEM768
    share and an X25519 share, as Chrome and Firefox send it (~1.5 kB: several TCP segments on a real path);
    the group enumeration (HelloRetryRequests to hellos without shares) says whether the server asks for a
    hybrid when offered one; a SecP256r1MLKEM768 share is sent when the server named that group there. A
    server that answers the small TLS 1.3 hellos but not the large one chokes on it ("tldr.fail")."""
    from netready.probes.tls_hello import SECP256R1, X25519

    suites = list(S.TLS13_SUITES)
    x, p = PQ_GROUPS["X25519MLKEM768"], PQ_GROUPS["SecP256r1MLKEM768"]
    out: dict[str, Any] = {}
    try:
        big = scan.hello(0x0304, suites, [x, X25519, SECP256R1, 24], share_groups=[x, X25519])
        out["large_hello"] = {"share_groups": ["X25519MLKEM768", "x25519"], "answer": _answer_text(big),
                              "accepted": big.accepted, "attempts": big.attempts}
        named = set((groups_future.result() or {}).get("accepted") or [])
        hybrid_p = (scan.hello(0x0304, suites, [p, SECP256R1, X25519], share_groups=[p])
                    if "SecP256r1MLKEM768" in named else None)
    except _OutOfBudget as exc:
        out["error"] = f"stopped: {exc}"
        return out
    out["X25519MLKEM768"] = {
        "selected": big.accepted and big.kind == "hello" and big.group == x,
        "hrr": "X25519MLKEM768" in named,
        "answer": _answer_text(big) + (f", group {S.GROUPS.get(big.group, big.group)}" if big.group else ""),
    }
    out["SecP256r1MLKEM768"] = {
        "selected": bool(hybrid_p and hybrid_p.kind == "hello" and hybrid_p.group == p),
        "hrr": "SecP256r1MLKEM768" in named,
        "answer": (_answer_text(hybrid_p) + (f", group {S.GROUPS.get(hybrid_p.group, hybrid_p.group)}"
                                             if hybrid_p.group else "")) if hybrid_p else "not named by the server",
    }
    out["choked"] = not big.accepted and big.kind != "protocol_error"
    return out


# --- HTTP ------------------------------------------------------------------------------------------------


def _same_host_https(location: str | None, base: str, host: str) -> str | None:
    """The path of a redirect to https on the same host and port 443, else None (never raises)."""
    from netready.tables.web import split_location

    if not location:
        return None
    loc = split_location(location, base)
    if loc.get("error") or loc["scheme"] != "https" or loc["host"] != host.rstrip(".").lower():
        return None
    if loc["port"] not in (None, 443):
        return None
    return loc["path_query"]


def _http(address: str, port: int, host: str, settings: ProbeSettings, deadline: float) -> dict[str, Any]:
    from netready.probes.http import fetch_shared, parse_hsts

    def left(factor: float = 2.0) -> float:
        return max(0.1, min(settings.timeout * factor, deadline - time.monotonic()))

    https = fetch_shared(address, port, host, True, settings.ca_file, left())
    requests = 2 if https.get("tls_verified") is False else 1
    from netready.probes.http import fetch, retry_worthy

    if retry_worthy(https):  # one silence or one reset is not an answer; not shared: the shared one failed
        https = fetch(address, port, host, True, settings.ca_file, left())
        https["retried"] = True
        requests += 1
    plain = fetch_shared(address, 80, host, False, None, left(1.0)) if port == 443 else None
    # Strict-Transport-Security: on this answer, or on a same-host HTTPS redirect target (RFC 6797 8.1)
    chain = [https]
    current = https
    while not _hsts_headers(current) and len(chain) <= MAX_REDIRECTS and 300 <= (current.get("status") or 0) < 400:
        path = _same_host_https(current.get("location"), f"https://{host}{current.get('path') or '/'}", host)
        if not path or any(c.get("path") == path for c in chain):
            break
        from netready.probes.http import fetch

        current = fetch(address, port, host, True, settings.ca_file, left(), path=path)
        requests += 1
        chain.append(current)
    values = _hsts_headers(current)
    hsts = parse_hsts(values[0]) if values else None
    if hsts is not None:
        hsts["raw"] = values[0]
        hsts["count"] = len(values)
        hsts["path"] = current.get("path")
    out = {"https": https, "http": plain, "hsts": hsts, "requests": requests + (1 if plain is not None else 0)}
    if len(chain) > 1:
        out["https_redirects"] = [{k: c.get(k) for k in ("path", "status", "location", "error")} for c in chain[1:]]
    return out


def _hsts_headers(result: dict[str, Any]) -> list[str]:
    return [v for k, v in result.get("headers") or [] if k == "strict-transport-security"]


def _http_with_accepted_suites(http: dict[str, Any], versions: dict[str, Any], address: str, port: int,
                               host: str, settings: ProbeSettings, deadline: float) -> None:
    """When the GET's handshake failed but the raw scan found suites accepted, GET again offering exactly
    those suites (at security level 0): a server with only CBC-SHA or static-RSA suites serves HTTPS all the
    same, and cipher quality belongs to BP-TLS-CIPHERS alone. Deterministic: the same server gives the same
    offer every run."""
    from netready.probes.http import fetch

    https = http.get("https") or {}
    if https.get("status") is not None or https.get("stage") != "tls":
        return
    ids = [c for v in ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3") for c in (versions.get(v) or {}).get("suite_ids", [])]
    ciphers = S.openssl_cipher_string(ids)
    if ciphers is None:
        https["offer_note"] = "the suites the server accepts are unknown to this OpenSSL: " + ", ".join(
            S.suite_name(c) for c in ids[:5])
        return
    again = fetch(address, port, host, True, settings.ca_file,
                  max(0.1, min(settings.timeout * 2, deadline - time.monotonic())), ciphers=ciphers)
    again["offered"] = "suites the raw scan found accepted: " + ciphers
    again["first_attempt_error"] = https.get("error")
    http["https"] = again
    http["requests"] = http.get("requests", 0) + 1
    if again.get("status") is not None and not http.get("hsts"):
        values = _hsts_headers(again)
        if values:
            from netready.probes.http import parse_hsts

            http["hsts"] = {**parse_hsts(values[0]), "raw": values[0], "count": len(values), "path": again.get("path")}


# --- certificates ------------------------------------------------------------------------------------------


def _certificate(hs: dict[str, Any], host: str, settings: ProbeSettings, when: datetime) -> dict[str, Any]:
    """Facts and trust of the certificate one handshake showed (chain as sent, path, name, OCSP staple)."""
    from netready.probes.tls_trust import read_staple, verify

    chain = hs.get("chain") or []
    ders = hs.get("chain_der") or []
    leaf = chain[0]
    trust = verify(ders, host, when, settings.ca_file)
    path, name = trust["path"], trust["name"]
    reasons: list[str] = []
    if not path["ok"]:
        reasons.append(path["reason"] or "other")
    if name.get("ok") is False:
        reasons.append(name.get("reason") or "hostname_mismatch")
    # the verified path: cryptography's; else the one OpenSSL built (it accepts SHA-1 and weak keys)
    if path["chain"]:
        verified, source = path["chain"], "cryptography"
    elif hs.get("verified_chain_der"):
        from netready.probes.tls_cert import describe_der

        verified, source = [describe_der(d) for d in hs["verified_chain_der"]], "openssl"
    else:
        verified, source = [], None
    issuer_der = None
    if len(ders) > 1:
        issuer_der = ders[1]
    elif hs.get("verified_chain_der") and len(hs["verified_chain_der"]) > 1:
        issuer_der = hs["verified_chain_der"][1]
    ocsp = read_staple(hs["ocsp_der"], ders[0], issuer_der) if hs.get("ocsp_der") else None
    openssl_reasons = []
    for e in hs.get("verify_errors", []):
        if e["reason"] not in openssl_reasons:
            openssl_reasons.append(e["reason"])
    return {
        "auth": leaf.get("key_type"),
        "chain": chain,
        "chain_length": hs.get("chain_length"),
        "intermediates_sent": any(not c["self_issued"] for c in chain[1:]),
        "root_sent": any(c["self_issued"] for c in chain[1:]),
        "hostname_checked": host,
        "hostname_match": name.get("ok"),
        "trust": trust,
        "verified_path": verified,
        "verified_path_source": source,
        # OpenSSL's opinion, kept beside cryptography's (SECLEVEL 0: key sizes and SHA-1 are not its business)
        "chain_trusted": hs.get("chain_trusted"),
        "verify_errors": hs.get("verify_errors", []),
        "verified_chain": hs.get("verified_chain", []),
        "openssl_reasons": openssl_reasons,
        "reasons": reasons,
        "valid": not reasons,
        "ocsp_stapled": hs.get("ocsp_stapled"),
        "ocsp": ocsp,
        "must_staple": bool(leaf.get("must_staple")),
        "ocsp_responders": [a["url"] for a in leaf.get("aia") or [] if a.get("method") == "OCSP"],
        "negotiated": {"version": hs.get("version"), "cipher": hs.get("cipher_openssl"), "group": hs.get("group")},
        "unparsed": {c.get("sha256", "")[:16]: c["unparsed"] for c in chain if c.get("unparsed")},
    }


def _other_certificate(address: str, port: int, sni: str | None, host: str, settings: ProbeSettings,
                       when: datetime, default_type: str | None) -> dict[str, Any]:
    """A handshake that only accepts the other key type (RSA <-> ECDSA): a second certificate, if any."""
    from netready.probes.tls_cert import handshake_retried

    auth = "ECDSA" if default_type == "RSA" else "RSA"
    hs = handshake_retried(address, port, sni, settings.ca_file, settings.timeout, auth=auth)
    if not hs.get("chain"):
        return {"auth": auth, "found": False, "answer": hs.get("error")}
    return {"auth": auth, "found": True, "certificate": _certificate(hs, host, settings, when)}


def _no_sni(address: str, port: int, host: str, settings: ProbeSettings, default_sha: str | None) -> dict[str, Any]:
    """What a client without SNI gets (old clients, scanners, some monitoring): information only."""
    from netready.probes.tls_cert import handshake_retried, hostname_matches

    hs = handshake_retried(address, port, None, settings.ca_file, settings.timeout)
    if not hs.get("chain"):
        return {"handshake": False, "answer": hs.get("error")}
    leaf = hs["chain"][0]
    return {"handshake": True, "version": hs.get("version"), "subject": leaf.get("subject"),
            "dns_names": leaf.get("dns_names", [])[:20], "sha256": leaf.get("sha256"),
            "same_certificate": leaf.get("sha256") == default_sha,
            "matches_host": hostname_matches(host, leaf.get("dns_names", []), leaf.get("ip_names", []), [])}


def _strip_der(hs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hs.items() if not k.endswith("_der")}


# --- one address ---------------------------------------------------------------------------------------------


def scan_address(
    host: str,
    address: str,
    port: int = 443,
    sni: str | None = None,
    settings: ProbeSettings | None = None,
    name: str | None = None,
) -> Observation:
    """Everything about one address; one Observation, never raises (errors go in .error / data.errors)."""
    settings = settings or ProbeSettings()
    name = name or host
    obs_id = f"tls:{name}:{address}" + (f":{port}" if port != 443 else "")
    obs = Observation(
        id=obs_id,
        probe="tls",
        target=name,
        subject=address,
        asked={
            "address": address,
            "port": port,
            "sni": sni,
            "host": host,
            "ca_file": settings.ca_file,
            "timeout": settings.timeout,
        },
    )
    obs.started = utc_now()
    t0 = time.perf_counter()
    try:
        obs.data = _scan_address(host, address, port, sni, settings)
    except Exception as exc:  # noqa: BLE001 - a probe bug must not take the whole scan down
        obs.error = f"internal error in TLS probe: {type(exc).__name__}: {exc}"
    obs.duration_ms = round((time.perf_counter() - t0) * 1000, 3)
    if obs.error is None:
        obs.error = obs.data.get("fatal")
    return obs


def _no_tls(data: dict[str, Any], hs: dict[str, Any], address: str, port: int, host: str,
            settings: ProbeSettings, deadline: float) -> dict[str, Any]:
    """The address gives no TCP connection at all: say how (refused, unreachable, silence), and still ask
    port 80 (VN-HTTPS-FORCED: closed, unreachable, silent or serving pages)."""
    kind = hs.get("kind")
    data["fatal"] = f"port {port}: {hs['error']}" + (" (tried twice)" if hs.get("attempts", 1) > 1 else "")
    data["versions"] = {}
    plain = None
    if port == 443:
        from netready.probes.http import fetch_shared

        left = max(0.1, min(settings.timeout, deadline - time.monotonic()))
        plain = fetch_shared(address, 80, host, False, None, left)
    data["http"] = {"https": None, "http": plain, "hsts": None, "requests": 1 if plain else 0}
    data["no_tls"] = {"kind": kind, "stage": hs.get("stage"), "error": hs.get("error"),
                      "attempts": hs.get("attempts", 1)}
    n = hs.get("attempts", 1) + (1 if plain else 0)
    data["counts"] = {"tcp_connections": n, "tls_handshakes": hs.get("attempts", 1), "raw_hellos": 0,
                      "http_requests": 1 if plain else 0}
    return data


def _scan_address(host: str, address: str, port: int, sni: str | None, settings: ProbeSettings) -> dict[str, Any]:
    """Everything about one address: the OpenSSL handshake first (no TCP at all: _no_tls), then side by side in
    one pool the versions and suites, HTTP, the other key type's and the no-SNI certificates, the weaknesses,
    groups, DHE size and post-quantum hybrids; then the certificates judged for trust, errors and counts."""
    from netready.probes.tls_cert import handshake_retried
    from netready.probes.tls_vulns import check_vulns, skipped

    deadline = time.monotonic() + settings.budget
    when = datetime.now(UTC)
    scan = _Scan(address, port, sni, settings, deadline)
    data: dict[str, Any] = {"host": host, "address": address, "port": port, "sni": sni, "errors": []}
    hs = handshake_retried(address, port, sni, settings.ca_file, settings.timeout)
    handshakes = hs.get("attempts", 1)
    data["handshake"] = {k: hs.get(k) for k in ("version", "cipher_openssl", "group", "error", "kind", "ms",
                                                 "attempts", "first_error")}
    data["reachable"] = hs.get("stage") != "connect" or not hs.get("error")
    if hs.get("error") and hs.get("stage") == "connect":  # refused, unreachable, connect timeout (twice)
        return _no_tls(data, hs, address, port, sni or host, settings, deadline)
    scan.tls_seen = bool(hs.get("version"))
    if hs.get("kind") == "timeout":  # connected, then silence twice: no point in 30 more timeouts
        scan.stop = "timeout: " + hs["error"] + " (tried twice)"
    default_type = (hs.get("chain") or [{}])[0].get("key_type")
    with ThreadPoolExecutor(MAX_WORKERS_PER_ADDRESS) as pool:
        http_future = pool.submit(_http, address, port, sni or host, settings, deadline) if not scan.stop else None
        futures = {v: pool.submit(_enumerate, scan, v) for v in ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3")}
        other_future = (pool.submit(_other_certificate, address, port, sni, sni or host, settings, when, default_type)
                        if hs.get("chain") and default_type in ("RSA", "EC") else None)
        no_sni_future = (pool.submit(_no_sni, address, port, sni, settings, (hs.get("chain") or [{}])[0].get("sha256"))
                         if sni and hs.get("chain") else None)
        versions = {v: f.result() for v, f in futures.items()}
        _second_look(scan, versions, pool)
        versions = {v: versions[v] for v in S.VERSIONS}  # report lowest first
        _cross_check(data, hs, versions, scan)
        # weaknesses (SSLv2, renegotiation, compression, SCSV, Heartbleed, ROBOT, kex hashes): probes/tls_vulns.py
        # (issue #19), one of the pool's workers, beside the groups, DHE and post-quantum hellos
        silent = (scan.stop or "").startswith("timeout")
        vulns_future = None if silent else pool.submit(check_vulns, address, port, sni, versions, settings.timeout,
                                                       deadline)
        # key exchange groups, DHE size, post-quantum hybrids: side by side
        group_future = pool.submit(_groups_for, scan, versions)
        dhe_future = pool.submit(_dhe_for, scan, versions)
        pq_future = pool.submit(_pq, scan, group_future) if versions["TLSv1.3"].get("accepted") else None
        http = http_future.result() if http_future else None
        if http is not None:  # in the pool: never more than MAX_WORKERS_PER_ADDRESS connections at once
            pool.submit(_http_with_accepted_suites, http, versions, address, port, sni or host, settings,
                        deadline).result()
        data["groups"] = group_future.result()
        data["dhe_bits"] = dhe_future.result()
        data["pq"] = pq_future.result() if pq_future else {"applicable": False, "why": "TLS 1.3 not accepted"}
        other = other_future.result() if other_future else None
        data["no_sni"] = no_sni_future.result() if no_sni_future else None
        data["vulns"] = vulns_future.result() if vulns_future else skipped(f"raw probing stopped ({scan.stop})")
    data["versions"] = versions
    if not any(v.get("accepted") for v in versions.values()) and not hs.get("version"):
        data["fatal"] = f"no TLS on port {port}: {scan.stop or hs.get('error') or 'every hello refused'}"
        data["no_tls"] = {"kind": hs.get("kind"), "stage": hs.get("stage"), "error": hs.get("error"),
                          "attempts": hs.get("attempts", 1)}
    handshakes += _add_certificates(data, hs, other, sni or host, settings, when)
    if data["no_sni"] is not None:
        handshakes += 1
    data["http"] = http
    _add_errors_and_counts(data, hs, scan, handshakes)
    return data


def _add_certificates(data: dict[str, Any], hs: dict[str, Any], other: dict[str, Any] | None, host: str,
                      settings: ProbeSettings, when: datetime) -> int:
    """data["certificate"] (the default one), data["certificates"] (the other key type's, when the server has
    one) and data["other_key_type"]; the handshakes this took beyond the first (0 or 1)."""
    data["certificate"] = _certificate(hs, host, settings, when) if hs.get("chain") else None
    data["certificates"] = []
    if other is None:
        return 0
    default_sha = data["certificate"]["chain"][0]["sha256"] if data["certificate"] else None
    if other.get("found") and other["certificate"]["chain"][0]["sha256"] != default_sha:
        data["certificates"].append(other["certificate"])
    data["other_key_type"] = {"auth": other["auth"], "found": bool(other.get("found")), "answer": other.get("answer")}
    return 1


def _add_errors_and_counts(data: dict[str, Any], hs: dict[str, Any], scan: _Scan, handshakes: int) -> None:
    """What went wrong per version and in the OpenSSL handshake, and how many connections the address cost."""
    for v, r in data["versions"].items():
        if r.get("error"):
            data["errors"].append(f"{v}: {r['error']}")
    if hs.get("error"):
        data["errors"].append(f"OpenSSL handshake: {hs['error']}")
    if scan.stop and not data.get("fatal"):
        data["errors"].append(f"raw probing stopped early: {scan.stop}")
    http = data["http"]
    http_requests = http["requests"] if http else 0
    extra = (data["vulns"] or {}).get("connections", 0)
    data["counts"] = {
        "tcp_connections": handshakes + scan.hellos + http_requests + extra,
        "tls_handshakes": handshakes + scan.hellos + (http_requests - (1 if http and http["http"] else 0)) + extra,
        "raw_hellos": scan.hellos,
        "retries": scan.retries,
        "http_requests": http_requests,
    }


def _cross_check(data: dict[str, Any], hs: dict[str, Any], versions: dict[str, Any], scan: _Scan) -> None:
    """The OpenSSL handshake's version against the raw results: a version a real handshake negotiated is
    accepted whatever the raw hellos got (a server may be picky about them); a mismatch is noted."""
    got = hs.get("version")
    if got not in versions:
        return
    r = versions[got]
    if r.get("accepted"):
        higher = [v for v in ("TLSv1.3",) if v != got and versions[v].get("accepted")]
        if higher:
            data["consistency"] = (f"raw hellos got {higher[0]} accepted, but the OpenSSL handshake "
                                   f"negotiated {got}")
        return
    data["consistency"] = f"OpenSSL negotiated {got}, the raw hellos got {r.get('answer')}: counted as accepted"
    r["accepted"] = True
    r["by_openssl_handshake"] = True
    cipher = hs.get("cipher_openssl")
    if cipher and not r.get("suites"):
        r["note"] = f"suite seen only in the OpenSSL handshake: {cipher}"
    r.pop("no_answer", None)


def _groups_for(scan: _Scan, versions: dict[str, Any]) -> dict[str, Any]:
    if versions["TLSv1.3"].get("accepted"):
        return _groups_tls13(scan)
    legacy = [v for v in ("TLSv1.2", "TLSv1.1", "TLSv1.0") if versions[v].get("accepted")]
    ecdhe = [c for c in versions[legacy[0]]["suite_ids"] if "ECDHE" in S.suite_name(c)] if legacy else []
    if not ecdhe:
        return {"source": None, "accepted": [], "complete": True}
    return _groups_tls12(scan, S.VERSIONS[legacy[0]], ecdhe)


def _dhe_for(scan: _Scan, versions: dict[str, Any]) -> int | None:
    for v in ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3"):
        dhe = [c for c in versions[v].get("suite_ids", []) if S.suite_name(c).startswith("TLS_DHE_")]
        if dhe:
            return _dhe_bits(scan, S.VERSIONS[v], dhe)
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def scan_host(
    host: str,
    port: int = 443,
    addresses: list[str] | None = None,
    sni: str | None = None,
    settings: ProbeSettings | None = None,
    name: str | None = None,
) -> list[Observation]:
    """`netready tls HOST[:PORT]`: every address of host (or the given ones), in parallel.

    sni defaults to host (none when host is an IP literal). Without addresses the name is resolved
    through settings (explicit resolvers or root hints, never /etc/resolv.conf).
    """
    settings = settings or ProbeSettings()
    if _is_ip(host):
        addresses = addresses or [host.strip("[]")]
        sni = sni or None
        name = name or host.strip("[]")
    else:
        from netready.probes.dns_names import NameError_, to_ascii

        try:
            ascii_host = to_ascii(host)
        except NameError_ as exc:
            return [_name_error(host, host, f"bad host name: {exc}", "bad_name")]
        name = name or ascii_host
        sni = sni or ascii_host
        host = ascii_host
        if not addresses:
            from netready.probes.dns import resolve_addresses

            try:
                v4, v6, resolved = resolve_addresses(ascii_host, settings)
            except Exception as exc:  # noqa: BLE001 - resolution failures are observations
                return [_name_error(name, host, f"could not resolve {host}: {exc}")]
            addresses = [*v4, *v6]
            if not addresses and resolved.error:
                return [_name_error(name, host, f"could not resolve {host}: {resolved.error}")]
            if not addresses:
                return [_name_error(name, host, f"{host} has no A or AAAA record: nothing to probe", "no_address")]
    try:
        from netready.probes.tls_hello import prepare

        prepare()  # pay the scapy import once, before the threads start
    except Exception as exc:  # no scapy or a broken hello cache: an error per address, not a crash
        return [_name_error(name or host, host, f"TLS hello templates unavailable: {type(exc).__name__}: {exc}",
                            "internal")]
    if len(addresses) == 1:
        return [scan_address(host, addresses[0], port, sni, settings, name)]
    with ThreadPoolExecutor(min(8, len(addresses))) as pool:
        return list(pool.map(lambda a: scan_address(host, a, port, sni, settings, name), addresses))


def _our_dns_servers(settings: ProbeSettings) -> list[str]:
    """Where this run's DNS questions start (the resolvers, or the root servers of the hints): a refusal
    from one of them says something about this vantage point, not about the portal."""
    if settings.resolvers:
        return list(settings.resolvers)
    try:
        from netready.probes.dns import load_root_hints

        return load_root_hints(settings.root_hints) if settings.root_hints else []
    except (OSError, ValueError):
        return []


def _name_error(name: str, host: str, error: str, problem: str = "unresolved") -> Observation:
    """A name-level observation: no address to probe (problem unresolved | no_address) or no probe at all
    (internal: the hello templates could not be built)."""
    return Observation(id=f"tls:{name}", probe="tls", target=name, subject=name, asked={"host": host},
                       data={"name_problem": problem}, error=error)


def run(target: Target, settings: ProbeSettings) -> list[Observation]:
    """The scanner's entry point: port 443 on every published address, SNI = the portal's ASCII name."""
    if target.error:
        obs = _name_error(target.ascii_name or target.name, target.ascii_name, f"target unusable: {target.error}")
        obs.data["our_servers"] = _our_dns_servers(settings)
        return [obs]
    if not target.addresses:
        return [
            _name_error(
                target.ascii_name, target.ascii_name, f"{target.ascii_name} has no A or AAAA record: nothing to probe",
                "no_address",
            )
        ]
    return scan_host(target.ascii_name, 443, list(target.addresses), target.ascii_name, settings, target.ascii_name)
