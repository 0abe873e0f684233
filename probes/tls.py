"""TLS and HTTPS probe: for every published address, what the server on port 443 accepts and sends.

Per address: one full OpenSSL handshake (certificate chain as sent, validation, OCSP staple), raw
hellos (probes/tls_hello.py) for versions, cipher suites, server preference and key-exchange groups,
and two HTTP requests through probes.http.fetch (port 80 answer, HTTPS answer with HSTS). Facts only;
the judging is in netready/evaluate/tls.py. Observation shape: docs/probes/tls.md.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from netready.model import Observation, ProbeSettings, Target, utc_now
from probes import tls_suites as S

# Groups offered when enumerating, most wanted first (the order only matters for client-preference servers).
OFFER_GROUPS = [0x11EC, 29, 23, 24, 25, 30, 256, 257, 258, 259, 260, 22, 21, 19, 26, 27, 28]
EC_GROUPS = [g for g in OFFER_GROUPS if not S.GROUPS[g].startswith("ffdhe") and "MLKEM" not in S.GROUPS[g]]
MAX_WORKERS_PER_ADDRESS = 4


class _OutOfBudget(Exception):
    pass


@dataclass
class _Scan:
    address: str
    port: int
    sni: str | None
    settings: ProbeSettings
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    hellos: int = 0
    errors: list[str] = field(default_factory=list)
    stop: str | None = None  # set when the server is not usable for raw probing (not TLS, silent...)

    def hello(
        self, version: int, ciphers: list[int], groups: list[int], key_share: bool = True, want_kex: bool = False
    ):
        from probes.tls_hello import client_hello, exchange

        left = self.deadline - time.monotonic()
        if left <= 0.05 or self.stop:
            raise _OutOfBudget(self.stop or "time budget for this address used up")
        raw = client_hello(version, ciphers, self.sni, groups, key_share)
        ans = exchange(self.address, self.port, raw, min(self.settings.timeout, left), want_kex)
        with self.lock:
            self.hellos += 1
        if ans.kind in ("timeout", "not_tls", "refused") and not self.stop:
            self.stop = f"{ans.kind}: {ans.detail}"
        return ans


def _answer_text(ans) -> str:
    if ans.kind == "alert":
        return f"alert {ans.alert}"
    if ans.kind == "hello" and ans.version is not None:
        return f"ServerHello {S.VERSION_NAMES.get(ans.version, hex(ans.version))}"
    return ans.kind + (f" ({ans.detail})" if ans.detail else "")


def _enumerate(scan: _Scan, vname: str) -> dict[str, Any]:
    """Accepted suites for one version: offer all, remove the chosen one, offer again (testssl-style)."""
    version = S.VERSIONS[vname]
    offer = list(S.TLS13_SUITES) if version == 0x0304 else list(S.suite_table())
    groups = OFFER_GROUPS if version == 0x0304 else [*EC_GROUPS, *[g for g in OFFER_GROUPS if g not in EC_GROUPS]]
    out: dict[str, Any] = {"accepted": None, "answer": None, "suites": [], "preference": None, "complete": False}
    accepted: list[int] = []
    try:
        while offer:
            ans = scan.hello(version, offer, groups)
            if out["answer"] is None:
                out["answer"] = _answer_text(ans)
            if ans.accepted and ans.version == version and ans.cipher in offer:
                out["accepted"] = True
                accepted.append(ans.cipher)
                offer.remove(ans.cipher)
                continue
            if ans.accepted and ans.version != version:
                out["accepted"] = out["accepted"] or False  # the server negotiated another version
                out["negotiated_instead"] = S.VERSION_NAMES.get(ans.version or 0, str(ans.version))
            elif ans.accepted:
                out["accepted"] = True
                out["note"] = f"server chose suite 0x{ans.cipher:04X} that was not offered"
            elif ans.kind in ("alert", "closed", "reset"):
                out["accepted"] = out["accepted"] or False
            else:  # timeout, garbage: inconclusive
                if not accepted:
                    out["accepted"] = None
                out["error"] = _answer_text(ans)
                break
            out["complete"] = True
            break
        else:
            out["complete"] = True
        if len(accepted) >= 2 and out["complete"]:
            ans = scan.hello(version, accepted[::-1], groups)
            if ans.accepted and ans.cipher == accepted[-1]:
                out["preference"] = "client"
            elif ans.accepted and ans.cipher == accepted[0]:
                out["preference"] = "server"
            else:
                out["preference"] = "unclear"
    except _OutOfBudget as exc:
        out["error"] = f"stopped: {exc}"
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
            if not ans.accepted and ans.kind not in ("alert", "closed", "reset"):
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


def _http(address: str, port: int, host: str, settings: ProbeSettings, deadline: float) -> dict[str, Any]:
    from probes.http import fetch_shared, parse_hsts

    left = max(0.1, min(settings.timeout * 2, deadline - time.monotonic()))
    https = fetch_shared(address, port, host, True, settings.ca_file, left)
    plain = (
        fetch_shared(address, 80, host, False, None, max(0.1, min(settings.timeout, deadline - time.monotonic())))
        if port == 443
        else None
    )
    hsts_values = [v for k, v in https.get("headers") or [] if k == "strict-transport-security"]
    hsts = parse_hsts(hsts_values[0]) if hsts_values else None
    if hsts is not None:
        hsts["raw"] = hsts_values[0]
        hsts["count"] = len(hsts_values)
    retried = https.get("tls_verified") is False or (https.get("tls_error") or "").startswith("verified")
    requests = 2 if retried else 1
    return {"https": https, "http": plain, "hsts": hsts, "requests": requests + (1 if plain is not None else 0)}


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


def _scan_address(host: str, address: str, port: int, sni: str | None, settings: ProbeSettings) -> dict[str, Any]:
    from probes.tls_cert import handshake, hostname_matches
    from probes.tls_vulns import check_vulns, skipped

    deadline = time.monotonic() + settings.budget
    scan = _Scan(address, port, sni, settings, deadline)
    data: dict[str, Any] = {"host": host, "address": address, "port": port, "sni": sni, "errors": []}
    hs = handshake(address, port, sni, settings.ca_file, settings.timeout)
    openssl_connections = 1
    data["handshake"] = {k: hs.get(k) for k in ("version", "cipher_openssl", "error", "kind", "ms")}
    data["reachable"] = hs.get("kind") not in ("refused", "timeout") or hs.get("stage") != "connect"
    if hs.get("error") and hs.get("stage") == "connect":  # refused, unreachable, connect timeout
        data["fatal"] = f"port {port}: {hs['error']}"
        data["versions"] = {}
        plain = None
        if port == 443:  # port 80 still matters for VN-HTTPS-FORCED (closed, unreachable or serving pages)
            from probes.http import fetch_shared

            left = max(0.1, min(settings.timeout, deadline - time.monotonic()))
            plain = fetch_shared(address, 80, sni or host, False, None, left)
        data["http"] = {"https": None, "http": plain, "hsts": None, "requests": 1 if plain else 0}
        n = 1 + (1 if plain else 0)
        data["counts"] = {"tcp_connections": n, "tls_handshakes": 1, "raw_hellos": 0, "http_requests": n - 1}
        return data
    if hs.get("kind") == "timeout":  # connected but the server says nothing: no point in 20 more timeouts
        scan.stop = "timeout: " + hs["error"]
    with ThreadPoolExecutor(MAX_WORKERS_PER_ADDRESS) as pool:
        http_future = pool.submit(_http, address, port, sni or host, settings, deadline) if not scan.stop else None
        futures = {v: pool.submit(_enumerate, scan, v) for v in ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3")}
        versions = {v: f.result() for v, f in futures.items()}
        http = http_future.result() if http_future else None
    versions = {v: versions[v] for v in S.VERSIONS}  # report lowest first
    data["versions"] = versions
    if not any(v.get("accepted") for v in versions.values()) and not hs.get("version"):
        data["fatal"] = f"no TLS on port {port}: {scan.stop or hs.get('error') or 'every hello refused'}"
    # weaknesses (SSLv2, renegotiation, compression, SCSV, Heartbleed, ROBOT, kex hashes): probes/tls_vulns.py,
    # side by side with the groups and DHE hellos
    vulns_pool = ThreadPoolExecutor(1)
    silent = (scan.stop or "").startswith("timeout")
    vulns = None if silent else vulns_pool.submit(check_vulns, address, port, sni, versions, settings.timeout, deadline)
    # key exchange groups and DHE size
    if versions["TLSv1.3"].get("accepted"):
        data["groups"] = _groups_tls13(scan)
    else:
        legacy = [v for v in ("TLSv1.2", "TLSv1.1", "TLSv1.0") if versions[v].get("accepted")]
        ecdhe = [c for c in versions[legacy[0]]["suite_ids"] if "ECDHE" in S.suite_name(c)] if legacy else []
        data["groups"] = (
            _groups_tls12(scan, S.VERSIONS[legacy[0]], ecdhe)
            if ecdhe
            else {"source": None, "accepted": [], "complete": True}
        )
    dhe_version, dhe = None, []
    for v in ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3"):
        dhe = [c for c in versions[v].get("suite_ids", []) if S.suite_name(c).startswith("TLS_DHE_")]
        if dhe:
            dhe_version = S.VERSIONS[v]
            break
    data["dhe_bits"] = _dhe_bits(scan, dhe_version, dhe) if dhe else None
    data["vulns"] = vulns.result() if vulns else skipped(f"raw probing stopped ({scan.stop})")
    vulns_pool.shutdown()
    # certificate
    chain = hs.get("chain") or []
    if chain:
        leaf = chain[0]
        match_name = sni or host
        hmatch = hostname_matches(match_name, leaf["dns_names"], leaf["ip_names"], leaf["common_names"])
        reasons = []
        for e in hs.get("verify_errors", []):
            if e["reason"] not in reasons:
                reasons.append(e["reason"])
        if not hmatch:
            reasons.append("hostname_mismatch")
        data["certificate"] = {
            "chain": chain,
            "chain_length": hs.get("chain_length"),
            "intermediates_sent": any(not c["self_issued"] for c in chain[1:]),
            "root_sent": any(c["self_issued"] for c in chain[1:]),
            "hostname_checked": match_name,
            "hostname_match": hmatch,
            "chain_trusted": hs.get("chain_trusted"),
            "verify_errors": hs.get("verify_errors", []),
            "verified_chain": hs.get("verified_chain", []),
            "reasons": reasons,
            "valid": not reasons,
            "ocsp_stapled": hs.get("ocsp_stapled"),
        }
    else:
        data["certificate"] = None
    data["http"] = http
    for v, r in versions.items():
        if r.get("error"):
            data["errors"].append(f"{v}: {r['error']}")
    if hs.get("error"):
        data["errors"].append(f"OpenSSL handshake: {hs['error']}")
    if scan.stop and not data.get("fatal"):
        data["errors"].append(f"raw probing stopped early: {scan.stop}")
    http_requests = http["requests"] if http else 0
    extra = (data["vulns"] or {}).get("connections", 0)
    data["counts"] = {
        "tcp_connections": openssl_connections + scan.hellos + http_requests + extra,
        "tls_handshakes": openssl_connections + scan.hellos + (http_requests - (1 if http and http["http"] else 0))
        + extra,
        "raw_hellos": scan.hellos,
        "http_requests": http_requests,
    }
    data["mozilla_intermediate"] = mozilla_intermediate(data)
    return data


def mozilla_intermediate(data: dict[str, Any]) -> dict[str, Any]:
    """How this address differs from Mozilla server-side TLS 6.0 "intermediate" (REQUIREMENTS §4)."""
    dev: list[str] = []
    advice: list[str] = []
    versions = data.get("versions") or {}
    for v in S.LEGACY_VERSIONS:
        if (versions.get(v) or {}).get("accepted"):
            dev.append(f"{v} accepted")
    for v in ("TLSv1.2", "TLSv1.3"):
        if (versions.get(v) or {}).get("accepted") is False:
            dev.append(f"{v} not accepted")
    extra12 = [s for s in (versions.get("TLSv1.2") or {}).get("suites", []) if s not in S.MOZILLA_INTERMEDIATE_TLS12]
    if extra12:
        dev.append("TLS 1.2 suites outside the profile: " + ", ".join(extra12))
    extra13 = [s for s in (versions.get("TLSv1.3") or {}).get("suites", []) if s not in S.MOZILLA_INTERMEDIATE_TLS13]
    if extra13:
        dev.append("TLS 1.3 suites outside the profile: " + ", ".join(extra13))
    groups = (data.get("groups") or {}).get("accepted", [])
    extra_groups = [g for g in groups if g not in S.MOZILLA_INTERMEDIATE_GROUPS]
    if extra_groups:
        dev.append("groups outside the profile: " + ", ".join(extra_groups))
    cert = data.get("certificate") or {}
    leaf = (cert.get("chain") or [{}])[0]
    if leaf.get("key_type") == "RSA" and (leaf.get("key_bits") or 0) < 2048:
        dev.append(f"RSA key {leaf.get('key_bits')} bits < 2048")
    if leaf.get("key_type") == "EC" and leaf.get("curve") not in ("secp256r1", "secp384r1"):
        dev.append(f"ECDSA curve {leaf.get('curve')} not P-256/P-384")
    if cert and not cert.get("ocsp_stapled"):
        advice.append("no OCSP staple")
    hsts = (data.get("http") or {}).get("hsts")
    if not hsts or (hsts.get("max_age") or 0) < S.MOZILLA_HSTS_AGE:
        advice.append(f"HSTS max-age below {S.MOZILLA_HSTS_AGE}")
    for v in ("TLSv1.2", "TLSv1.3"):
        if (versions.get(v) or {}).get("preference") == "server" and v == "TLSv1.2":
            advice.append("server enforces its own cipher order (the profile says prefer_server_ciphers off)")
    complete = bool(versions) and all((versions.get(v) or {}).get("complete") for v in S.VERSIONS)
    return {
        "profile": "Mozilla server-side TLS 6.0 intermediate",
        "compliant": complete and not dev,
        "complete": complete,
        "deviations": dev,
        "advice": advice,
    }


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
        from probes.dns import NameError_, resolve_addresses, to_ascii

        try:
            ascii_host = to_ascii(host)
        except NameError_ as exc:
            return [_name_error(host, host, f"bad host name: {exc}")]
        name = name or ascii_host
        sni = sni or ascii_host
        host = ascii_host
        if not addresses:
            try:
                v4, v6, _ = resolve_addresses(ascii_host, settings)
            except Exception as exc:  # noqa: BLE001 - resolution failures are observations
                return [_name_error(name, host, f"could not resolve {host}: {exc}")]
            addresses = [*v4, *v6]
            if not addresses:
                return [_name_error(name, host, f"{host} has no A or AAAA record: nothing to probe")]
    try:
        from probes.tls_hello import prepare

        prepare()  # pay the scapy import once, before the threads start
    except Exception as exc:  # no scapy or a broken hello cache: an error per address, not a crash
        return [_name_error(name or host, host, f"TLS hello templates unavailable: {type(exc).__name__}: {exc}")]
    if len(addresses) == 1:
        return [scan_address(host, addresses[0], port, sni, settings, name)]
    with ThreadPoolExecutor(min(8, len(addresses))) as pool:
        return list(pool.map(lambda a: scan_address(host, a, port, sni, settings, name), addresses))


def _name_error(name: str, host: str, error: str) -> Observation:
    return Observation(id=f"tls:{name}", probe="tls", target=name, subject=name, asked={"host": host}, error=error)


def run(target: Target, settings: ProbeSettings) -> list[Observation]:
    """The scanner's entry point: port 443 on every published address, SNI = the portal's ASCII name."""
    if target.error:
        return [_name_error(target.ascii_name or target.name, target.ascii_name, f"target unusable: {target.error}")]
    if not target.addresses:
        return [
            _name_error(
                target.ascii_name, target.ascii_name, f"{target.ascii_name} has no A or AAAA record: nothing to probe"
            )
        ]
    return scan_host(target.ascii_name, 443, list(target.addresses), target.ascii_name, settings, target.ascii_name)


# --- text rendering for `netready tls` ---------------------------------------------------------------------

_L = {
    "en": {
        "versions": "Protocols",
        "suites": "Suites",
        "cert": "Certificate",
        "groups": "Groups",
        "http": "HTTP",
        "yes": "accepted",
        "no": "refused",
        "unknown": "unknown",
        "pref": "order",
        "conn": "connections",
        "valid": "valid",
        "invalid": "NOT valid",
        "days": "days left",
        "stapled": "OCSP stapled",
        "nostaple": "no OCSP staple",
        "mozilla": "Mozilla intermediate",
        "ok": "compliant",
        "dev": "deviations",
    },
    "vi": {
        "versions": "Giao thức",
        "suites": "Bộ mã",
        "cert": "Chứng thư số",
        "groups": "Nhóm trao đổi khóa",
        "http": "HTTP",
        "yes": "chấp nhận",
        "no": "từ chối",
        "unknown": "không rõ",
        "pref": "thứ tự",
        "conn": "kết nối",
        "valid": "hợp lệ",
        "invalid": "KHÔNG hợp lệ",
        "days": "ngày còn lại",
        "stapled": "có OCSP stapling",
        "nostaple": "không có OCSP stapling",
        "mozilla": "Mozilla intermediate",
        "ok": "tuân thủ",
        "dev": "sai khác",
    },
}


def render_tls_text(observations: list[Observation], lang: str = "en") -> str:
    """Human summary per address: versions, accepted suites, certificate, groups, HTTP, Mozilla profile."""
    from datetime import datetime

    from probes.tls_vulns import render_lines as render_vulns

    t = _L.get(lang, _L["en"])
    lines: list[str] = []
    for obs in observations:
        d = obs.data or {}
        lines.append(f"== {obs.target} {obs.subject}" + (f" port {d['port']}" if d.get("port", 443) != 443 else ""))
        if obs.error:
            lines.append(f"   ERROR: {obs.error}")
        for v, r in (d.get("versions") or {}).items():
            state = t["yes"] if r.get("accepted") else t["no"] if r.get("accepted") is False else t["unknown"]
            pref = f"  ({t['pref']}: {r['preference']})" if r.get("preference") else ""
            lines.append(f"   {v:8} {state}{pref}")
            for s in r.get("suites", []):
                info = S.classify(s)
                flags = ",".join(info.flags) or ("AEAD+FS" if info.aead and info.fs else "")
                lines.append(f"       {s}  {flags}")
        g = d.get("groups") or {}
        if g.get("accepted"):
            lines.append(
                f"   {t['groups']}: {', '.join(g['accepted'])}"
                + (f"  DHE {d['dhe_bits']} bits" if d.get("dhe_bits") else "")
            )
        c = d.get("certificate")
        if c:
            leaf = c["chain"][0]
            left = ""
            try:
                na = datetime.fromisoformat(leaf["not_after"].replace("Z", "+00:00"))
                st = datetime.fromisoformat(obs.started.replace("Z", "+00:00"))
                left = f", {(na - st).days} {t['days']}"
            except (ValueError, KeyError):
                pass
            names = ", ".join(leaf["dns_names"][:4] or leaf["common_names"])
            lines.append(
                f"   {t['cert']}: {leaf['key_type']} {leaf['key_bits']}, {leaf['signature_algorithm']}, [{names}]{left}"
            )
            lines.append(
                f"       {t['valid'] if c['valid'] else t['invalid'] + ': ' + ', '.join(c['reasons'])}; "
                f"chain {c['chain_length']}; {t['stapled'] if c['ocsp_stapled'] else t['nostaple']}"
            )
        h = d.get("http") or {}
        if h:
            hs, hp = h.get("https") or {}, h.get("http") or {}
            hsts = h.get("hsts")
            lines.append(
                f"   {t['http']}: https {hs.get('status') or hs.get('error')}; "
                f"HSTS {hsts.get('max_age') if hsts else '-'}; port 80 "
                f"{(hp.get('status') or hp.get('error')) if hp else '-'} {hp.get('location') or ''}".rstrip()
            )
        m = d.get("mozilla_intermediate")
        if m:
            verdict = t["ok"] if m["compliant"] else t["dev"] + ": " + "; ".join(m["deviations"])
            lines.append(f"   {t['mozilla']}: {verdict}")
        lines.extend(render_vulns(d, lang))
        cnt = d.get("counts")
        if cnt:
            lines.append(f"   {cnt['tcp_connections']} {t['conn']}, {obs.duration_ms:.0f} ms")
        for e in d.get("errors", []):
            lines.append(f"   ! {e}")
    return "\n".join(lines) + "\n"
