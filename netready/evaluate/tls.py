"""Judges of the TLS/HTTPS rules (REQUIREMENTS §2), one Outcome per probed address (subject = address).

Pure: reads only "tls" observations (shape: docs/probes/tls.md) and profile thresholds; times are
compared with the observation's `started`, so a saved report is judged the same way later.

No cascades: VN-HTTPS says whether an address has TLS at all (a refused or unreachable port is a fail,
a silence after a retry an error). Every other rule that needs a handshake there gives "info" with
caused_by="VN-HTTPS" instead of one more error: reported, not scored, and the target's status comes
from VN-HTTPS alone. Outcome.hint names the fix hint of rules.yaml that applies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from netready.evaluate import Outcome, by_probe, evaluator
from netready.evaluate.ladder import Ladder
from netready.model import Observation, Target
from netready.tables.dns import STRAYS_DISCARDED
from netready.tables.tls import (
    BAD_FLAGS,
    FFDHE,
    GROUP_BITS,
    LEGACY_VERSIONS,
    MOZILLA_HSTS_AGE,
    MOZILLA_INTERMEDIATE_GROUPS,
    MOZILLA_INTERMEDIATE_TLS12,
    MOZILLA_INTERMEDIATE_TLS13,
    VERSIONS,
    classify,
)
from netready.tables.tls import vuln_entry as find_vuln
from netready.tables.web import split_location

RuleFn = Callable[[Observation, dict[str, Any], Any], Outcome]

# CA/Browser Forum ballot SC-081: the longest TLS certificate lifetime by notBefore (first day it applies).
SC081_LIFETIME_DAYS: tuple[tuple[str, int], ...] = (
    ("0000-01-01", 398),
    ("2026-03-15", 200),
    ("2027-03-15", 100),
    ("2029-03-15", 47),
)


def _per_address(observations: list[Observation], profile: Any, judge: RuleFn,
                 need_tls: bool = True, name_judge: Callable[[Observation], Outcome] | None = None) -> list[Outcome]:
    """Run judge on every per-address observation.

    need_tls: on an address without TLS the rule is a consequence of VN-HTTPS (info, caused_by). A name
    that gives no address to probe is VN-HTTPS' business (name_judge); every other rule is its consequence.
    A probe that could not run at all (an internal error) is an error."""
    out: list[Outcome] = []
    for obs in by_probe(observations, "tls"):
        ev = (obs.id,)
        d = obs.data or {}
        if "address" not in d:  # the name gave no address to probe, or the probe could not run
            if not _no_address(obs):
                out.append(Outcome("error", f"TLS not probed: {obs.error}", f"Chưa kiểm tra được TLS: {obs.error}",
                                   None, ev))
            elif name_judge is not None:
                o = name_judge(obs)
                out.append(Outcome(o.verdict, o.en, o.vi, None, ev, None, o.hint))
            else:
                out.append(Outcome("info", f"Not judged: no address to probe ({obs.error}); see VN-HTTPS",
                                   f"Không đánh giá: không có địa chỉ để kiểm tra ({obs.error}); xem VN-HTTPS",
                                   None, ev, caused_by="VN-HTTPS"))
            continue
        if need_tls and not _tls_up(d):
            why = obs.error or "no TLS handshake succeeded"
            out.append(Outcome("info", f"Not judged: this address has no TLS ({why}); see VN-HTTPS",
                               f"Không đánh giá: địa chỉ này không có TLS ({why}); xem VN-HTTPS",
                               obs.subject, ev, caused_by="VN-HTTPS"))
            continue
        o = judge(obs, d, profile)
        out.append(Outcome(o.verdict, o.en, o.vi, obs.subject, ev, o.caused_by, o.hint))
    return out


def _no_address(obs: Observation) -> bool:
    """The TLS probe had no address to go to: the name did not resolve, or resolves to nothing."""
    if (obs.data or {}).get("name_problem") in ("unresolved", "no_address"):
        return True
    err = obs.error or ""  # reports written before name_problem existed
    return err.startswith("target unusable") or "has no A or AAAA record" in err or "could not resolve" in err


# Resolution errors that are ambiguity (the question may succeed later), not an answer.
_AMBIGUOUS_DNS = ("timeout", "timed out", "servfail", "no response", "budget", "no server to ask", "truncated")


def _ambiguous_dns(error: str) -> bool:
    """A silence or SERVFAIL; not a timeout during which the server sent only garbage (it did answer, uselessly)."""
    low = error.lower()
    return STRAYS_DISCARDED not in low and any(word in low for word in _AMBIGUOUS_DNS)


def _name_without_address(observations: list[Observation]) -> Callable[[Observation], Outcome]:
    """VN-HTTPS for a name with no address: a proven NXDOMAIN or NODATA, or name servers that refuse or answer
    garbage, are definitive (nobody can reach the portal): fail. A timeout or SERVFAIL is ambiguity: error,
    and so is a refusal by this run's own resolvers or root servers (it says nothing about the portal)."""
    dns_obs = next((o for o in by_probe(observations, "dns") if o.id.endswith(":addresses")), None)

    def judge(obs: Observation) -> Outcome:
        data = (dns_obs.data if dns_obs else None) or {}
        answers = [data.get(t) or {} for t in ("A", "AAAA")]
        errors = [a["error"] for a in answers if a.get("error")] or ([dns_obs.error] if dns_obs and dns_obs.error
                                                                    else [])
        if not dns_obs:
            errors = [obs.error or "no address"]
        if not errors and answers and all(a.get("rcode") in ("NXDOMAIN", "NOERROR") for a in answers):
            rcodes = ", ".join(f"{t}: {a.get('rcode')}" for t, a in zip(("A", "AAAA"), answers, strict=True))
            return _o("fail", f"No HTTPS: the name has no address ({rcodes})",
                      f"Không có HTTPS: tên miền không có địa chỉ ({rcodes})", "no_address")
        text = "; ".join(errors)
        ours = set((obs.data or {}).get("our_servers") or [])
        # Each server the last questions went to, and why it failed them (A and AAAA). A server that refused
        # or answered garbage once has answered: its silence to another question (Linux rate-limits the ICMP
        # port unreachable that is its refusal) does not take that back. Reports without `failures`: the text.
        whys: dict[str, list[str]] = {}
        for a in answers:
            for srv, why in (a.get("failures") or {}).items():
                whys.setdefault(srv, []).append(why)
        if whys:
            failing = set(whys)
            ambiguous = any(all(_ambiguous_dns(w) for w in ws) for ws in whys.values())
        else:
            failing = {srv for a in answers for srv in a.get("servers") or []}
            ambiguous = any(_ambiguous_dns(e) for e in errors)
        if ambiguous or (failing & ours) or not failing:
            # silence, or our own resolvers / root servers do not answer: nothing is known about the portal
            return _o("error", f"HTTPS not checked: the name could not be resolved ({text})",
                      f"Chưa kiểm tra được HTTPS: không phân giải được tên miền ({text})")
        return _o("fail", f"No HTTPS: the name's servers give no usable answer, nobody can resolve it ({text})",
                  f"Không có HTTPS: máy chủ tên miền không trả lời được, không ai phân giải được tên ({text})",
                  "no_address")

    return judge


def _tls_up(d: dict[str, Any]) -> bool:
    return bool((d.get("handshake") or {}).get("version")) or any(
        (v or {}).get("accepted") for v in (d.get("versions") or {}).values())


def _o(verdict: str, en: str, vi: str, hint: str | None = None) -> Outcome:
    return Outcome(verdict, en, vi, hint=hint)  # type: ignore[arg-type]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _days_left(obs: Observation, leaf: dict[str, Any]) -> float:
    return (_when(leaf["not_after"]) - _when(obs.started)).total_seconds() / 86400


def _short(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n})" if len(items) > n else "")


def _certificates(d: dict[str, Any]) -> list[dict[str, Any]]:
    """Every certificate the address showed: the default one, then another key type's (RSA / ECDSA)."""
    first = d.get("certificate")
    return ([first] if first else []) + list(d.get("certificates") or [])


def _label(cert: dict[str, Any], many: bool) -> tuple[str, str]:
    if not many:
        return "", ""
    leaf = cert["chain"][0]
    kind = "ECDSA" if leaf.get("key_type") == "EC" else leaf.get("key_type") or "?"
    return f"{kind} certificate: ", f"chứng thư {kind}: "


def _each_certificate(d: dict[str, Any], one: Callable[[dict[str, Any]], tuple[str, str, str, str | None]],
                      none: Outcome) -> Outcome:
    """A rule judged on every certificate the address showed, labelled by key type when there are several."""
    certs = _certificates(d)
    if not certs:
        return none
    parts = []
    for cert in certs:
        v, en, vi, hint = one(cert)
        pre_en, pre_vi = _label(cert, len(certs) > 1)
        parts.append((v, pre_en + en, pre_vi + vi, hint))
    return _combine(parts)


def _combine(parts: list[tuple[str, str, str, str | None]]) -> Outcome:
    """One outcome from several certificates' (verdict, en, vi, hint): the worst verdict, every message."""
    order = ["fail", "error", "warn", "info", "pass"]
    worst = min(parts, key=lambda p: order.index(p[0]))
    if len(parts) == 1:
        return _o(worst[0], worst[1], worst[2], worst[3])
    return _o(worst[0], " | ".join(p[1] for p in parts), " | ".join(p[2] for p in parts), worst[3])


# --- VN-HTTPS ------------------------------------------------------------------------------------------

_NO_TLS = {  # how an address refused TLS (probe's no_tls.kind / handshake.kind) -> verdict, en, vi
    "refused": ("fail", "port {port} refused the connection (TCP reset)", "cổng {port} từ chối kết nối (TCP reset)"),
    "unreachable": ("fail", "port {port} is unreachable (ICMP: {err})", "cổng {port} không tới được (ICMP: {err})"),
    "reset": ("fail", "port {port} resets every TLS handshake", "cổng {port} ngắt (reset) mọi lần bắt tay TLS"),
    "closed": ("fail", "port {port} closes every TLS handshake", "cổng {port} đóng kết nối ở mọi lần bắt tay TLS"),
    "tls_error": ("fail", "port {port} refuses every TLS handshake: {err}",
                  "cổng {port} từ chối mọi bắt tay TLS: {err}"),
}


@evaluator("VN-HTTPS")
def vn_https(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        hs = d.get("handshake") or {}
        port = d.get("port", 443)
        if not _tls_up(d):
            no_tls = d.get("no_tls") or {}
            kind, err = no_tls.get("kind") or hs.get("kind"), obs.error or hs.get("error") or "no TLS"
            stage = no_tls.get("stage") or ("connect" if d.get("reachable") is False else None)
            plain_err = (((d.get("http") or {}).get("http") or {}).get("error") or "").lower()
            tried = " (tried twice)" if (no_tls.get("attempts") or hs.get("attempts") or 1) > 1 else ""
            if kind == "timeout" and ("unreachable" in plain_err or "no route" in plain_err):
                # Linux treats ICMP unreachable during SYN as a soft error: the first connect may just time out,
                # the port-80 connect right after gets the cached "unreachable". The address is dead.
                return _o("fail", f"Address unreachable: port {port} timed out, port 80 says: {plain_err}",
                          f"Địa chỉ không tới được: cổng {port} hết thời gian chờ, cổng 80 báo: {plain_err}",
                          "unreachable")
            if kind == "timeout":  # ambiguity: an error, and only after a retry
                where = ("no TCP answer" if stage == "connect" else "TCP accepted, then no TLS answer")
                where_vi = ("không có phản hồi TCP" if stage == "connect" else "nhận TCP nhưng không trả lời TLS")
                return _o("error", f"Port {port} did not answer in time{tried}: {where} ({err})",
                          f"Cổng {port} không trả lời kịp thời{tried}: {where_vi} ({err})")
            if kind in _NO_TLS:
                _, en, vi = _NO_TLS[kind]
                fill = {"port": port, "err": hs.get("error") or err}
                return _o("fail", f"No HTTPS: {en.format(**fill)}", f"Không có HTTPS: {vi.format(**fill)}", kind)
            return _o("fail", f"No HTTPS on port {port}: {err}", f"Không có HTTPS trên cổng {port}: {err}", "no_tls")
        https = (d.get("http") or {}).get("https") or {}
        version = hs.get("version") or next((v for v, r in d["versions"].items() if r.get("accepted")), "?")
        if https.get("status"):
            how = " (with the suites the server accepts)" if https.get("offered") else ""
            how_vi = " (với các bộ mã máy chủ chấp nhận)" if https.get("offered") else ""
            return _o("pass", f"HTTPS answers ({version}, HTTP {https['status']}){how}",
                      f"HTTPS hoạt động ({version}, HTTP {https['status']}){how_vi}")
        err = https.get("offer_note") or https.get("error") or "no HTTP answer"
        return _o("warn", f"TLS works ({version}) but no HTTP answer over it: {err}",
                  f"TLS hoạt động ({version}) nhưng không có phản hồi HTTP: {err}", "no_http")

    return _per_address(observations, profile, judge, need_tls=False, name_judge=_name_without_address(observations))


# --- VN-HTTPS-FORCED -----------------------------------------------------------------------------------


@evaluator("VN-HTTPS-FORCED")
def vn_https_forced(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        plain = (d.get("http") or {}).get("http")
        host = (d.get("sni") or d.get("host") or "").rstrip(".").lower()
        if not plain:
            return _o("error", "Port 80 was not probed", "Chưa kiểm tra cổng 80")
        err = plain.get("error") or ""
        if not plain.get("status"):
            if "refused" in err:
                return _o("pass", "Port 80 is closed (connection refused): no plain HTTP",
                          "Cổng 80 đóng (từ chối kết nối): không có HTTP thường")
            if "unreachable" in err.lower() or "no route" in err.lower():
                return _o("pass", f"Port 80 unreachable ({err}): no plain HTTP served here",
                          f"Cổng 80 không tới được ({err}): không phục vụ HTTP thường")
            if "timeout" in err:  # a port that stays silent serves no plaintext
                how = ("no TCP answer" if plain.get("stage") == "connect"
                       else f"connection accepted, no HTTP answer ({plain.get('stage')})")
                how_vi = ("không có phản hồi TCP" if plain.get("stage") == "connect"
                          else f"nhận kết nối nhưng không trả lời HTTP ({plain.get('stage')})")
                return _o("pass", f"Port 80 stays silent ({how}): no plain HTTP served",
                          f"Cổng 80 im lặng ({how_vi}): không phục vụ HTTP thường")
            return _o("error", f"Port 80 could not be checked: {err}", f"Không kiểm tra được cổng 80: {err}")
        status, loc = plain["status"], plain.get("location") or ""
        if 300 <= status < 400:
            u = split_location(loc, f"http://{host}/")
            if not loc or u.get("error"):
                why = u.get("error") or "no Location header"
                return _o("fail", f"Port 80 redirects ({status}) to an unusable address: {why}",
                          f"Cổng 80 chuyển hướng ({status}) tới địa chỉ không dùng được: {why}", "bad_location")
            same_host = u["host"] == host
            if u["scheme"] == "https" and same_host and u["port"] in (None, 443):
                return _o("pass", f"Port 80 redirects ({status}) to {loc}",
                          f"Cổng 80 chuyển hướng ({status}) tới {loc}")
            if u["scheme"] == "https":
                return _o("fail", f"Port 80 redirects ({status}) to another host or port: {loc}",
                          f"Cổng 80 chuyển hướng ({status}) sang máy chủ hoặc cổng khác: {loc}", "other_host")
            return _o("fail", f"Port 80 redirects ({status}) but not to https://{host}: {loc}",
                      f"Cổng 80 chuyển hướng ({status}) nhưng không tới https://{host}: {loc}")
        return _o("fail", f"Plain HTTP answers {status} on port 80 without redirecting to HTTPS",
                  f"HTTP thường trả về {status} trên cổng 80, không chuyển hướng sang HTTPS")

    return _per_address(observations, profile, judge, need_tls=False)


# --- VN-TLS-CA -----------------------------------------------------------------------------------------

_REASONS = {
    "expired": ("certificate expired on {na}", "chứng thư số đã hết hạn ngày {na}"),
    "not_yet_valid": ("certificate not valid before {nb}", "chứng thư số chưa có hiệu lực trước ngày {nb}"),
    "expired_in_chain": ("a certificate of the chain is outside its validity",
                         "một chứng thư trong chuỗi đã hết hạn hoặc chưa có hiệu lực"),
    "self_signed": ("self-signed certificate", "chứng thư số tự ký"),
    "untrusted_root": ("chain ends at an untrusted root", "chuỗi chứng thư kết thúc ở CA gốc không được tin cậy"),
    "missing_intermediate": ("issuer not found: intermediate certificate not sent by the server (or unknown CA)",
                             "không tìm thấy CA cấp trên: máy chủ không gửi chứng thư trung gian (hoặc CA không rõ)"),
    "hostname_mismatch": ("names in the certificate ({names}) do not match {host}",
                          "tên trong chứng thư số ({names}) không khớp với {host}"),
    "no_san": ("the certificate has no subjectAltName: a name only in the CN is not accepted (RFC 9525, "
               "CA/B Baseline Requirements, browsers)",
               "chứng thư số không có subjectAltName: tên chỉ nằm trong CN không được chấp nhận (RFC 9525, "
               "CA/B BR, trình duyệt)"),
    "bad_signature": ("a certificate signature does not verify", "chữ ký của chứng thư số không hợp lệ"),
    "weak_signature_in_chain": ("a signature on the chain uses an algorithm browsers refuse (SHA-1 or older)",
                                "một chữ ký trong chuỗi dùng thuật toán trình duyệt từ chối (SHA-1 hoặc cũ hơn)"),
    "weak_key_in_chain": ("a CA key on the chain is too weak (RSA < 2048)",
                          "khóa của một CA trong chuỗi quá yếu (RSA < 2048)"),
    "chain_too_long": ("certificate chain too long", "chuỗi chứng thư quá dài"),
    "invalid_ca": ("an issuer is not a valid CA", "một CA cấp trên không hợp lệ"),
    "invalid_purpose": ("certificate not valid for TLS servers", "chứng thư số không dùng được cho máy chủ TLS"),
    "unreadable_leaf": ("the certificate cannot be read", "không đọc được chứng thư số"),
}


def _ca_one(obs: Observation, cert: dict[str, Any]) -> tuple[str, str, str, str | None]:
    leaf = cert["chain"][0]
    reasons = list(cert.get("reasons") or [])
    # dates judged against the observation time, so re-judging later gives the same answer
    if leaf.get("not_after") and _when(leaf["not_after"]) < _when(obs.started) and "expired" not in reasons:
        reasons.insert(0, "expired")
    if leaf.get("not_before") and _when(leaf["not_before"]) > _when(obs.started) and "not_yet_valid" not in reasons:
        reasons.insert(0, "not_yet_valid")
    trust = cert.get("trust") or {}
    path_ok = (trust.get("path") or {}).get("ok")
    openssl = ""
    if trust and cert.get("chain_trusted") is not None and bool(cert.get("chain_trusted")) != bool(path_ok):
        said = "trusts the chain" if cert.get("chain_trusted") else "does not: " + ", ".join(
            cert.get("openssl_reasons") or ["?"])
        said_vi = "tin cậy chuỗi" if cert.get("chain_trusted") else "không tin cậy: " + ", ".join(
            cert.get("openssl_reasons") or ["?"])
        openssl = f" (OpenSSL {said})", f" (OpenSSL {said_vi})"
    en_extra, vi_extra = openssl if openssl else ("", "")
    if not reasons:
        return ("pass", f"Certificate valid, trusted and matches {cert.get('hostname_checked')} "
                        f"(issuer {leaf['issuer']}){en_extra}",
                f"Chứng thư số hợp lệ, được tin cậy và khớp tên {cert.get('hostname_checked')} "
                f"(cấp bởi {leaf['issuer']}){vi_extra}", None)
    fill = {"na": (leaf.get("not_after") or "")[:10], "nb": (leaf.get("not_before") or "")[:10],
            "host": cert.get("hostname_checked"), "names": _short(leaf.get("dns_names") or ["none"], 3)}
    en, vi = [], []
    for r in reasons:
        e, v = _REASONS.get(r, (f"verification error: {r}", f"lỗi xác thực: {r}"))
        en.append(e.format(**fill))
        vi.append(v.format(**fill))
    detail = (trust.get("path") or {}).get("error") if "other" in reasons else None
    if detail:
        en.append(detail)
        vi.append(detail)
    return ("fail", "Certificate not trusted: " + "; ".join(en) + en_extra,
            "Chứng thư số không được tin cậy: " + "; ".join(vi) + vi_extra, reasons[0])


def _no_sni_note(d: dict[str, Any]) -> tuple[str, str]:
    n = d.get("no_sni") or {}
    if not n.get("handshake") or n.get("same_certificate"):
        return "", ""
    return (f"; without SNI the server shows another certificate ({n.get('subject')}) - information only",
            f"; không có SNI máy chủ trả chứng thư khác ({n.get('subject')}) - chỉ để tham khảo")


@evaluator("VN-TLS-CA")
def vn_tls_ca(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        none = _o("error", "No certificate seen (full handshake failed)",
                  "Không nhận được chứng thư số (bắt tay TLS đầy đủ thất bại)")
        out = _each_certificate(d, lambda cert: _ca_one(obs, cert), none)
        if out is none:
            return none
        note_en, note_vi = _no_sni_note(d)
        return _o(out.verdict, out.en + note_en, out.vi + note_vi, out.hint)

    return _per_address(observations, profile, judge)


# --- VN-TLS-KEY2048 ------------------------------------------------------------------------------------


@evaluator("VN-TLS-KEY2048")
def vn_tls_key2048(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    rsa_min = int(profile.threshold("rsa_min_bits", 2048))
    ec_min = int(profile.threshold("ec_min_bits", 256))

    def one(leaf: dict[str, Any]) -> tuple[str, str, str, str | None]:
        kt, bits = leaf.get("key_type"), leaf.get("key_bits") or 0
        if kt == "RSA":
            ok, need = bits >= rsa_min, rsa_min
        elif kt == "EC":
            ok, need = bits >= ec_min, ec_min
        elif kt in ("Ed25519", "Ed448"):
            ok, need = True, ec_min
        elif kt is None:
            why = "; ".join(leaf.get("unparsed") or ["unknown"])
            return ("fail", f"Key not readable ({why}): not RSA or EC of a known curve",
                    f"Không đọc được khóa ({why}): không phải RSA hay EC trên đường cong đã biết", "key_type")
        else:
            return ("fail", f"Key type {kt} ({bits} bits) is not RSA or EC",
                    f"Loại khóa {kt} ({bits} bit) không phải RSA hay EC", "key_type")
        if ok:
            return "pass", f"{kt} key of {bits} bits (minimum {need})", f"Khóa {kt} {bits} bit (tối thiểu {need})", None
        return "fail", f"{kt} key of {bits} bits, below {need}", f"Khóa {kt} chỉ {bits} bit, dưới mức {need}", None

    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        return _each_certificate(d, lambda cert: one(cert["chain"][0]),
                                 _o("error", "No certificate seen", "Không nhận được chứng thư số"))

    return _per_address(observations, profile, judge)


# --- versions ------------------------------------------------------------------------------------------


def _version_rule(name: str, want: bool) -> RuleFn:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        r = (d.get("versions") or {}).get(name) or {}
        acc = r.get("accepted")
        if acc is None:
            why = r.get("error") or r.get("answer") or "no answer"
            return _o("error", f"Could not tell whether {name} is accepted: {why}",
                      f"Không xác định được {name} có được chấp nhận không: {why}")
        if acc:
            how = how_vi = " (seen in the OpenSSL handshake)" if r.get("by_openssl_handshake") else ""
            if late := r.get("late_answer_wait_s"):
                how += f" (answered only when waited for up to {late:g} s)"
                how_vi += f" (chỉ trả lời khi được chờ tới {late:g} giây)"
            return _o("pass" if want else "fail", f"{name} accepted{how}", f"{name} được chấp nhận{how_vi}")
        extra = f"; {r['protocol_error']}" if r.get("protocol_error") else ""
        if r.get("no_answer"):
            waited = r.get("second_wait_s")
            en = f"tried twice, then once more waiting {waited:g} s" if waited else "tried twice"
            vi = f"đã thử hai lần, rồi thêm một lần chờ {waited:g} giây" if waited else "đã thử hai lần"
            return _o("fail" if want else "pass", f"{name} not offered: no answer to its hellos ({en}){extra}",
                      f"{name} không được cung cấp: không trả lời các gói chào ({vi}){extra}")
        return _o("fail" if want else "pass", f"{name} refused ({r.get('answer')}){extra}",
                  f"{name} bị từ chối ({r.get('answer')}){extra}")

    return judge


@evaluator("VN-TLS12")
def vn_tls12(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    return _per_address(observations, profile, _version_rule("TLSv1.2", True))


@evaluator("BP-TLS13")
def bp_tls13(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    return _per_address(observations, profile, _version_rule("TLSv1.3", True))


@evaluator("BP-TLS-LEGACY-OFF")
def bp_tls_legacy_off(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        versions = d.get("versions") or {}
        sslv2 = (find_vuln(d, "sslv2") or {}).get("result")  # None: a report made before SSLv2 was probed
        on = ["SSLv2"] * (sslv2 == "accepted") + [v for v in LEGACY_VERSIONS if (versions.get(v) or {}).get("accepted")]
        unknown = ["SSLv2"] * (sslv2 == "unknown") + [
            v for v in LEGACY_VERSIONS if (versions.get(v) or {}).get("accepted") is None]
        silent = [v for v in LEGACY_VERSIONS if (versions.get(v) or {}).get("no_answer")]
        if on:
            return _o("fail", f"Legacy protocols accepted: {', '.join(on)}",
                      f"Vẫn chấp nhận giao thức cũ: {', '.join(on)}")
        if unknown:
            return _o("error", f"Could not test {', '.join(unknown)}", f"Không kiểm tra được {', '.join(unknown)}")
        note = f" ({', '.join(silent)}: no answer, not offered)" if silent else ""
        note_vi = f" ({', '.join(silent)}: không trả lời, không được cung cấp)" if silent else ""
        if sslv2 is None:
            return _o("pass", f"SSLv3, TLS 1.0 and TLS 1.1 refused (SSLv2 not probed){note}",
                      f"Đã từ chối SSLv3, TLS 1.0 và TLS 1.1 (chưa kiểm tra SSLv2){note_vi}")
        return _o("pass", f"SSLv2, SSLv3, TLS 1.0 and TLS 1.1 refused{note}",
                  f"Đã từ chối SSLv2, SSLv3, TLS 1.0 và TLS 1.1{note_vi}")

    return _per_address(observations, profile, judge)


# --- BP-TLS-CIPHERS ------------------------------------------------------------------------------------


@evaluator("BP-TLS-CIPHERS")
def bp_tls_ciphers(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        # The rule passes only on AEAD suites with forward secrecy. Broken ciphers and suites without
        # forward secrecy (static RSA key exchange) fail it; forward-secret CBC suites are "flagged": warn.
        bad: list[str] = []
        no_fs: list[str] = []
        weak: list[str] = []
        total = 0
        incomplete = []
        for v, r in (d.get("versions") or {}).items():
            if r.get("accepted") and not r.get("complete"):
                incomplete.append(v)
            for s in r.get("suites") or []:
                total += 1
                info = classify(s)
                flags = [f for f in info.flags if f in BAD_FLAGS]
                if flags:
                    bad.append(f"{s} [{v}: {'/'.join(flags)}]")
                elif not info.fs:
                    no_fs.append(f"{s} [{v}]")
                elif not info.aead:
                    label = "CBC-SHA1" if "CBC_SHA1" in info.flags else "not AEAD"
                    weak.append(f"{s} [{v}: {label}]")
        if bad:
            return _o("fail", f"Insecure suites accepted: {_short(bad)}",
                      f"Chấp nhận bộ mã không an toàn: {_short(bad)}")
        if no_fs:
            return _o("fail", f"{len(no_fs)} of {total} suites have no forward secrecy (static RSA key exchange): "
                              f"{_short(no_fs)}",
                      f"{len(no_fs)}/{total} bộ mã không có bảo mật chuyển tiếp (trao đổi khóa RSA tĩnh): "
                      f"{_short(no_fs)}")
        if incomplete:
            return _o("error", f"Suite list incomplete for {', '.join(incomplete)}",
                      f"Danh sách bộ mã chưa đầy đủ cho {', '.join(incomplete)}")
        if weak:
            return _o("warn", f"{len(weak)} of {total} suites are forward-secret but not AEAD: {_short(weak)}",
                      f"{len(weak)}/{total} bộ mã có bảo mật chuyển tiếp nhưng không phải AEAD: {_short(weak)}")
        if not total:
            return _o("error", "No cipher suite seen", "Không thấy bộ mã nào")
        return _o("pass", f"All {total} accepted suites are AEAD with forward secrecy",
                  f"Cả {total} bộ mã được chấp nhận đều là AEAD có bảo mật chuyển tiếp (FS)")

    return _per_address(observations, profile, judge)


# --- BP-TLS-KEX ----------------------------------------------------------------------------------------


@evaluator("BP-TLS-KEX")
def bp_tls_kex(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    dh_min = int(profile.threshold("dh_min_bits", 2048))

    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        g = d.get("groups") or {}
        groups = list(g.get("accepted") or [])
        dhe = d.get("dhe_bits")
        problems_fail, problems_warn = [], []
        if dhe is not None and dhe < dh_min:
            problems_fail.append(f"DHE {dhe} bits < {dh_min}")
        weak_ff = [x for x in groups if x in FFDHE and GROUP_BITS[x] < dh_min]
        if weak_ff:
            problems_fail.append(f"groups {', '.join(weak_ff)} < {dh_min} bits")
        weak_ec = [x for x in groups if x not in FFDHE and GROUP_BITS.get(x, 0) < 256]
        if weak_ec:
            problems_warn.append(f"weak curves {', '.join(weak_ec)}")
        good = [x for x in groups if x in ("x25519", "secp256r1", "secp384r1", "X25519MLKEM768")]
        pq = " (post-quantum hybrid X25519MLKEM768 offered)" if "X25519MLKEM768" in groups else ""
        pq_vi = " (có nhóm lai hậu lượng tử X25519MLKEM768)" if pq else ""
        if g.get("error") and not groups:
            return _o("error", f"Groups could not be tested: {g['error']}", f"Không kiểm tra được nhóm: {g['error']}")
        if not good:
            problems_fail.append("no ECDHE with X25519, P-256 or P-384")
        dh_text = f"; DHE {dhe} bits" if dhe else ""
        if problems_fail:
            return _o("fail", "Key exchange: " + "; ".join(problems_fail + problems_warn) + dh_text,
                      "Trao đổi khóa: " + "; ".join(problems_fail + problems_warn) + dh_text)
        if problems_warn:
            return _o("warn", f"Key exchange groups {', '.join(groups)}: " + "; ".join(problems_warn),
                      f"Nhóm trao đổi khóa {', '.join(groups)}: " + "; ".join(problems_warn))
        return _o("pass", f"Key exchange groups {', '.join(groups)}{dh_text}{pq}",
                  f"Nhóm trao đổi khóa {', '.join(groups)}{dh_text}{pq_vi}")

    return _per_address(observations, profile, judge)


# --- BP-TLS-CERT ---------------------------------------------------------------------------------------


def max_lifetime_days(not_before: str, cap: float | None = None) -> float:
    """The CA/B (SC-081) lifetime limit in force on the certificate's notBefore, at most `cap`."""
    limit = next(days for start, days in reversed(SC081_LIFETIME_DAYS) if not_before[:10] >= start)
    return min(float(limit), cap) if cap else float(limit)


def _cert_one(obs: Observation, cert: dict[str, Any], profile: Any) -> tuple[str, str, str, str | None]:
    cap = float(profile.threshold("cert_max_lifetime_days", 398))
    fraction = float(profile.threshold("cert_warn_lifetime_fraction", 1 / 3))
    floor = float(profile.threshold("cert_warn_min_days", 7))
    rsa_good = int(profile.threshold("rsa_good_bits", 3072))
    rsa_min = int(profile.threshold("rsa_min_bits", 2048))
    chain = cert["chain"]
    leaf = chain[0]
    found = Ladder()
    # SHA-1 and key sizes on the verified path (what clients use), not on whatever else the server sent
    path = cert.get("verified_path") or []
    on_path = bool(path)
    judged = path if on_path else chain
    for i, c in enumerate(judged):
        if c.get("self_issued") and i > 0:
            continue  # a root's own signature is never checked
        who = "leaf" if i == 0 else f"intermediate {c['subject']}"
        who_vi = "chứng thư máy chủ" if i == 0 else f"chứng thư trung gian {c['subject']}"
        if (c.get("signature_hash") or "").lower() in ("sha1", "md5"):
            found.fail(f"{who} signed with {c['signature_hash'].upper()}",
                       f"{who_vi} ký bằng {c['signature_hash'].upper()}", "sha1")
        if i > 0 and c.get("key_type") == "RSA" and (c.get("key_bits") or 0) < rsa_min:
            found.fail(f"{who} has an RSA key of {c['key_bits']} bits", f"{who_vi} có khóa RSA {c['key_bits']} bit",
                       "weak_ca_key")
    if not on_path:
        note = ("no verified path: judged on the certificates as sent",
                "không có đường xác thực: đánh giá trên các chứng thư máy chủ gửi", None)
    else:
        note = None
    if "missing_intermediate" in (cert.get("reasons") or []) and not cert.get("intermediates_sent"):
        found.fail("intermediate certificate not sent by the server", "máy chủ không gửi chứng thư trung gian",
                   "intermediate")
    elif not cert.get("intermediates_sent") and len(path or cert.get("verified_chain") or []) > 2:
        found.warn("intermediate not sent (validation only works because the client already has it)",
                   "không gửi chứng thư trung gian (chỉ xác thực được vì máy khách đã có sẵn)", "intermediate")
    life = leaf.get("lifetime_days")
    if life is not None and leaf.get("not_before"):
        limit = max_lifetime_days(leaf["not_before"], cap)
        if life > limit:
            found.warn(f"lifetime {life:.0f} days > {limit:.0f} (CA/B SC-081 limit for a certificate issued "
                       f"{leaf['not_before'][:10]})",
                       f"thời hạn {life:.0f} ngày > {limit:.0f} (giới hạn CA/B SC-081 cho chứng thư cấp ngày "
                       f"{leaf['not_before'][:10]})", "lifetime")
    if leaf.get("self_issued"):
        found.fail("self-signed leaf: no CA chain at all", "chứng thư máy chủ tự ký: không có chuỗi CA",
                   "self_signed")
    left = _days_left(obs, leaf) if leaf.get("not_after") else 0.0
    margin = max(floor, (life or 0) * fraction)
    if left < 0:
        found.fail(f"expired {-left:.0f} days ago", f"đã hết hạn {-left:.0f} ngày trước", "expired")
    elif left < margin:
        found.warn(f"{left:.0f} days left (< {margin:.0f}: a third of its {life or 0:.0f}-day lifetime)",
                   f"còn {left:.0f} ngày (< {margin:.0f}: một phần ba thời hạn {life or 0:.0f} ngày)", "renew")
    good = good_vi = ""
    if leaf.get("key_type") == "RSA" and (leaf.get("key_bits") or 0) >= rsa_good:
        good, good_vi = f"; RSA {leaf['key_bits']} bits: good", f"; RSA {leaf['key_bits']} bit: tốt"
    if note:
        good, good_vi = good + f"; {note[0]}", good_vi + f"; {note[1]}"
    summary = f"{leaf.get('signature_algorithm')}, {life or 0:.0f}-day lifetime, {left:.0f} days left"
    summary_vi = f"{leaf.get('signature_algorithm')}, thời hạn {life or 0:.0f} ngày, còn {left:.0f} ngày"
    out = found.outcome((summary, summary_vi), tail=(good, good_vi))
    return out.verdict, out.en, out.vi, out.hint


@evaluator("BP-TLS-CERT")
def bp_tls_cert(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        return _each_certificate(d, lambda cert: _cert_one(obs, cert, profile),
                                 _o("error", "No certificate seen", "Không nhận được chứng thư số"))

    return _per_address(observations, profile, judge)


# --- BP-HSTS, BP-OCSP ----------------------------------------------------------------------------------


@evaluator("BP-HSTS")
def bp_hsts(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    min_age = int(profile.threshold("hsts_min_age", 31536000))

    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        http = d.get("http") or {}
        https = http.get("https") or {}
        if not https.get("status"):
            why = https.get("error") or "not fetched"
            return _o("error", f"No HTTPS answer to read HSTS from: {why}",
                      f"Không có phản hồi HTTPS để đọc HSTS: {why}")
        h = http.get("hsts")
        if not h:
            return _o("fail", "No Strict-Transport-Security header on the HTTPS answer",
                      "Phản hồi HTTPS không có tiêu đề Strict-Transport-Security", "missing")
        cert = d.get("certificate") or {}
        if cert and not cert.get("valid", True):
            # RFC 6797 8.1: a browser ignores the header unless the connection had no certificate error
            why = ", ".join(cert.get("reasons") or [])
            return _o("fail", f"Strict-Transport-Security is present but ignored by browsers: the certificate is "
                              f"not valid ({why}; RFC 6797 §8.1)",
                      f"Có Strict-Transport-Security nhưng trình duyệt bỏ qua: chứng thư số không hợp lệ ({why}; "
                      f"RFC 6797 §8.1)", "invalid_cert")
        if h.get("errors"):
            return _o("fail", f"Strict-Transport-Security unusable: {'; '.join(h['errors'])}",
                      f"Tiêu đề Strict-Transport-Security không hợp lệ: {'; '.join(h['errors'])}", "syntax")
        age = h.get("max_age") or 0
        extra = (", includeSubDomains" if h.get("include_subdomains") else "")
        extra += ", preload" if h.get("preload") else ""
        where = f" (on {h['path']}, after a same-host redirect)" if h.get("path") not in (None, "/") else ""
        where_vi = f" (trên {h['path']}, sau chuyển hướng cùng máy chủ)" if where else ""
        if age < min_age:
            return _o("fail", f"HSTS max-age {age} < {min_age}{extra}{where}",
                      f"HSTS max-age {age} < {min_age}{extra}{where_vi}", "short")
        return _o("pass", f"HSTS max-age {age}{extra}{where}", f"HSTS max-age {age}{extra}{where_vi}")

    return _per_address(observations, profile, judge)


def _ocsp_one(obs: Observation, cert: dict[str, Any]) -> tuple[str, str, str, str | None]:
    staple = cert.get("ocsp")
    responders = cert.get("ocsp_responders")
    must = cert.get("must_staple")
    if not cert.get("ocsp_stapled"):
        if must:
            return ("fail", "The certificate demands stapling (must-staple, RFC 7633) but no OCSP response is "
                            "stapled: browsers that honour it refuse the connection",
                    "Chứng thư số yêu cầu stapling (must-staple, RFC 7633) nhưng máy chủ không gửi phản hồi OCSP: "
                    "trình duyệt tôn trọng yêu cầu này sẽ từ chối kết nối", "must_staple")
        if responders is not None and not responders:
            return ("info", "The certificate names no OCSP responder: stapling does not apply",
                    "Chứng thư số không chỉ định máy chủ OCSP: không áp dụng stapling", None)
        return "info", "No OCSP response stapled", "Không có OCSP stapling", None
    if not staple:  # an older report: only "stapled" is known
        return "info", "OCSP response stapled", "Có OCSP stapling", None
    if staple.get("error"):
        return ("fail", f"Stapled OCSP response unusable: {staple['error']}",
                f"Phản hồi OCSP đính kèm không dùng được: {staple['error']}", "bad_staple")
    if staple.get("response_status") != "successful":
        return ("warn", f"Stapled OCSP response says {staple.get('response_status')}",
                f"Phản hồi OCSP đính kèm báo {staple.get('response_status')}", "bad_staple")
    status = staple.get("cert_status")
    if status == "revoked":
        return ("fail", f"Stapled OCSP response: certificate REVOKED on {staple.get('revocation_time')}",
                f"Phản hồi OCSP đính kèm: chứng thư số ĐÃ BỊ THU HỒI ngày {staple.get('revocation_time')}", "revoked")
    if staple.get("serial_matches") is False:
        return ("fail", "Stapled OCSP response is about another certificate",
                "Phản hồi OCSP đính kèm thuộc về chứng thư số khác", "bad_staple")
    if staple.get("signature_valid") is False:
        return ("fail", "Stapled OCSP response is not signed by the certificate's issuer",
                "Phản hồi OCSP đính kèm không được ký bởi CA cấp chứng thư", "bad_staple")
    now = _when(obs.started)
    this_update, next_update = staple.get("this_update"), staple.get("next_update")
    if this_update and _when(this_update) > now:
        return ("warn", f"Stapled OCSP response is from the future (thisUpdate {this_update})",
                f"Phản hồi OCSP đính kèm có thisUpdate ở tương lai ({this_update})", "stale")
    if next_update and _when(next_update) < now:
        return ("fail", f"Stapled OCSP response is stale (nextUpdate {next_update} has passed)",
                f"Phản hồi OCSP đính kèm đã cũ (nextUpdate {next_update} đã qua)", "stale")
    if status != "good":
        return ("warn", f"Stapled OCSP response: status {status}", f"Phản hồi OCSP đính kèm: trạng thái {status}",
                "bad_staple")
    until = f", valid until {next_update}" if next_update else ", no nextUpdate"
    return ("pass", f"OCSP response stapled: good, fresh (thisUpdate {this_update}{until})",
            f"Có OCSP stapling: good, còn hiệu lực (thisUpdate {this_update}{until})", None)


@evaluator("BP-OCSP")
def bp_ocsp(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        return _each_certificate(d, lambda cert: _ocsp_one(obs, cert),  # info, not error, without a certificate
                                 _o("info", "OCSP stapling unknown: no full TLS handshake on this address",
                                    "Không rõ OCSP stapling: không bắt tay TLS đầy đủ được với địa chỉ này"))

    return _per_address(observations, profile, judge)


# --- BP-TLS-PQ -----------------------------------------------------------------------------------------


@evaluator("BP-TLS-PQ")
def bp_tls_pq(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        pq = d.get("pq")
        if pq is None:
            return _o("info", "Post-quantum key exchange not probed (report from an older netready)",
                      "Chưa kiểm tra trao đổi khóa hậu lượng tử (báo cáo từ phiên bản netready cũ)")
        if pq.get("applicable") is False:
            return _o("info", "Post-quantum hybrids need TLS 1.3, which this address does not accept",
                      "Nhóm lai hậu lượng tử cần TLS 1.3, địa chỉ này không hỗ trợ TLS 1.3")
        if pq.get("error"):
            return _o("error", f"Post-quantum probe incomplete: {pq['error']}",
                      f"Chưa kiểm tra xong trao đổi khóa hậu lượng tử: {pq['error']}")
        big = pq.get("large_hello") or {}
        if pq.get("choked"):
            return _o("warn", f"The server answers small TLS 1.3 hellos but not one with an X25519MLKEM768 key "
                              f"share ({big.get('answer')}): browsers that send it (Chrome, Firefox) may fail",
                      f"Máy chủ trả lời gói chào TLS 1.3 nhỏ nhưng không trả lời gói có khóa X25519MLKEM768 "
                      f"({big.get('answer')}): trình duyệt gửi khóa này (Chrome, Firefox) có thể không kết nối được",
                      "choked")
        got, got_vi = [], []
        for name in ("X25519MLKEM768", "SecP256r1MLKEM768"):
            r = pq.get(name) or {}
            how = [w for w, on in (("selected", r.get("selected")), ("asked for by HelloRetryRequest", r.get("hrr")))
                   if on]
            how_vi = [w for w, on in (("được chọn", r.get("selected")), ("được yêu cầu qua HelloRetryRequest",
                                                                        r.get("hrr"))) if on]
            if how:
                got.append(f"{name} {' and '.join(how)}")
                got_vi.append(f"{name} {' và '.join(how_vi)}")
        if got:
            return _o("pass", "Post-quantum hybrid key exchange: " + "; ".join(got),
                      "Trao đổi khóa lai hậu lượng tử: " + "; ".join(got_vi))
        answer = (pq.get("X25519MLKEM768") or {}).get("answer")
        return _o("info", f"No post-quantum hybrid group: the server picks a classical one ({answer})",
                  f"Không có nhóm lai hậu lượng tử: máy chủ chọn nhóm cổ điển ({answer})", "none")

    return _per_address(observations, profile, judge)


# --- Mozilla "intermediate" (a summary, not a rule) -----------------------------------------------------


def mozilla_intermediate(data: dict[str, Any]) -> dict[str, Any]:
    """How one address (the data of a "tls" observation) differs from Mozilla server-side TLS 6.0 "intermediate"
    (REQUIREMENTS §4). Not a rule: a summary that `netready tls` shows (netready/views/tls.py); deviations
    break the profile, advice does not."""
    dev: list[str] = []
    advice: list[str] = []
    versions = data.get("versions") or {}
    for v in LEGACY_VERSIONS:
        if (versions.get(v) or {}).get("accepted"):
            dev.append(f"{v} accepted")
    for v in ("TLSv1.2", "TLSv1.3"):
        if (versions.get(v) or {}).get("accepted") is False:
            dev.append(f"{v} not accepted")
    extra12 = [s for s in (versions.get("TLSv1.2") or {}).get("suites", []) if s not in MOZILLA_INTERMEDIATE_TLS12]
    if extra12:
        dev.append("TLS 1.2 suites outside the profile: " + ", ".join(extra12))
    extra13 = [s for s in (versions.get("TLSv1.3") or {}).get("suites", []) if s not in MOZILLA_INTERMEDIATE_TLS13]
    if extra13:
        dev.append("TLS 1.3 suites outside the profile: " + ", ".join(extra13))
    groups = (data.get("groups") or {}).get("accepted", [])
    extra_groups = [g for g in groups if g not in MOZILLA_INTERMEDIATE_GROUPS]
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
    if not hsts or (hsts.get("max_age") or 0) < MOZILLA_HSTS_AGE:
        advice.append(f"HSTS max-age below {MOZILLA_HSTS_AGE}")
    for v in ("TLSv1.2", "TLSv1.3"):
        if (versions.get(v) or {}).get("preference") == "server" and v == "TLSv1.2":
            advice.append("server enforces its own cipher order (the profile says prefer_server_ciphers off)")
    complete = bool(versions) and all((versions.get(v) or {}).get("complete") for v in VERSIONS)
    return {
        "profile": "Mozilla server-side TLS 6.0 intermediate",
        "compliant": complete and not dev,
        "complete": complete,
        "deviations": dev,
        "advice": advice,
    }
