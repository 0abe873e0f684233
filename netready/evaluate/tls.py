"""Judges of the TLS/HTTPS rules (REQUIREMENTS §2), one Outcome per probed address (subject = address).

Pure: reads only "tls" observations (shape: docs/probes/tls.md) and profile thresholds; times are
compared with the observation's `started`, so a saved report is judged the same way later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from netready.evaluate import Outcome, by_probe, evaluator
from netready.model import Observation, Target
from probes.http import parse_location
from probes.tls_suites import BAD_FLAGS, FFDHE, GROUP_BITS, LEGACY_VERSIONS, classify
from probes.tls_vulns import find as find_vuln

RuleFn = Callable[[Observation, dict[str, Any], Any], Outcome]


def _per_address(observations: list[Observation], profile: Any, judge: RuleFn,
                 need_tls: bool = True) -> list[Outcome]:
    """Run judge on every per-address observation; name-level failures give one error outcome."""
    out: list[Outcome] = []
    for obs in by_probe(observations, "tls"):
        ev = (obs.id,)
        d = obs.data or {}
        if "address" not in d:  # name could not be resolved / target unusable
            out.append(Outcome("error", f"TLS not probed: {obs.error}", f"Chưa kiểm tra được TLS: {obs.error}",
                               None, ev))
            continue
        if need_tls and not _tls_up(d):
            why = obs.error or "no TLS handshake succeeded"
            out.append(Outcome("error", f"Cannot judge: no TLS on this address ({why})",
                               f"Không đánh giá được: địa chỉ này không có TLS ({why})", obs.subject, ev))
            continue
        o = judge(obs, d, profile)
        out.append(Outcome(o.verdict, o.en, o.vi, obs.subject, ev))
    return out


def _tls_up(d: dict[str, Any]) -> bool:
    return bool((d.get("handshake") or {}).get("version")) or any(
        (v or {}).get("accepted") for v in (d.get("versions") or {}).values())


def _o(verdict: str, en: str, vi: str) -> Outcome:
    return Outcome(verdict, en, vi)  # type: ignore[arg-type]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _days_left(obs: Observation, leaf: dict[str, Any]) -> float:
    return (_when(leaf["not_after"]) - _when(obs.started)).total_seconds() / 86400


def _short(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n})" if len(items) > n else "")


# --- VN-HTTPS ------------------------------------------------------------------------------------------


@evaluator("VN-HTTPS")
def vn_https(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        hs = d.get("handshake") or {}
        if not _tls_up(d):
            kind, err = hs.get("kind"), obs.error or hs.get("error") or "no TLS"
            plain_err = (((d.get("http") or {}).get("http") or {}).get("error") or "").lower()
            if kind == "timeout" and "unreachable" in plain_err:
                # Linux treats ICMP unreachable during SYN as a soft error: the first connect just times out,
                # the port-80 connect right after gets the cached "unreachable". The address is dead.
                return _o("fail", f"Address unreachable: port {d['port']} timed out, port 80 says: {plain_err}",
                          f"Địa chỉ không tới được: cổng {d['port']} hết thời gian chờ, cổng 80 báo: {plain_err}")
            if kind == "timeout":
                return _o("error", f"Port {d['port']} did not answer in time: {err}",
                          f"Cổng {d['port']} không trả lời kịp thời: {err}")
            return _o("fail", f"No HTTPS on port {d['port']}: {err}", f"Không có HTTPS trên cổng {d['port']}: {err}")
        https = (d.get("http") or {}).get("https") or {}
        version = hs.get("version") or next((v for v, r in d["versions"].items() if r.get("accepted")), "?")
        if https.get("status"):
            return _o("pass", f"HTTPS answers ({version}, HTTP {https['status']})",
                      f"HTTPS hoạt động ({version}, HTTP {https['status']})")
        err = https.get("error") or "no HTTP answer"
        return _o("warn", f"TLS works ({version}) but no HTTP answer over it: {err}",
                  f"TLS hoạt động ({version}) nhưng không có phản hồi HTTP: {err}")

    return _per_address(observations, profile, judge, need_tls=False)


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
            return _o("error", f"Port 80 could not be checked: {err}", f"Không kiểm tra được cổng 80: {err}")
        status, loc = plain["status"], plain.get("location") or ""
        if 300 <= status < 400:
            u = parse_location(loc)
            same_host = u["host"] == host
            if u["scheme"] == "https" and same_host and u["port"] in (None, 443) and not u["error"]:
                return _o("pass", f"Port 80 redirects ({status}) to {loc}",
                          f"Cổng 80 chuyển hướng ({status}) tới {loc}")
            if u["scheme"] == "https" and not u["error"]:
                return _o("fail", f"Port 80 redirects ({status}) to another host: {loc}",
                          f"Cổng 80 chuyển hướng ({status}) sang máy chủ khác: {loc}")
            return _o("fail", f"Port 80 redirects ({status}) but not to https://{host}: {loc or 'no Location'}",
                      f"Cổng 80 chuyển hướng ({status}) nhưng không tới https://{host}: {loc or 'thiếu Location'}")
        return _o("fail", f"Plain HTTP answers {status} on port 80 without redirecting to HTTPS",
                  f"HTTP thường trả về {status} trên cổng 80, không chuyển hướng sang HTTPS")

    return _per_address(observations, profile, judge, need_tls=False)


# --- VN-TLS-CA -----------------------------------------------------------------------------------------

_REASONS = {
    "expired": ("certificate expired on {na}", "chứng thư số đã hết hạn ngày {na}"),
    "not_yet_valid": ("certificate not valid before {nb}", "chứng thư số chưa có hiệu lực trước ngày {nb}"),
    "self_signed": ("self-signed certificate", "chứng thư số tự ký"),
    "untrusted_root": ("chain ends at an untrusted root", "chuỗi chứng thư kết thúc ở CA gốc không được tin cậy"),
    "missing_intermediate": ("issuer not found: intermediate certificate not sent by the server (or unknown CA)",
                             "không tìm thấy CA cấp trên: máy chủ không gửi chứng thư trung gian (hoặc CA không rõ)"),
    "hostname_mismatch": ("names in the certificate ({names}) do not match {host}",
                          "tên trong chứng thư số ({names}) không khớp với {host}"),
    "bad_signature": ("a certificate signature does not verify", "chữ ký của chứng thư số không hợp lệ"),
    "chain_too_long": ("certificate chain too long", "chuỗi chứng thư quá dài"),
    "invalid_ca": ("an issuer is not a valid CA", "một CA cấp trên không hợp lệ"),
    "invalid_purpose": ("certificate not valid for TLS servers", "chứng thư số không dùng được cho máy chủ TLS"),
}


@evaluator("VN-TLS-CA")
def vn_tls_ca(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        cert = d.get("certificate")
        if not cert:
            return _o("error", "No certificate seen (full handshake failed)",
                      "Không nhận được chứng thư số (bắt tay TLS đầy đủ thất bại)")
        leaf = cert["chain"][0]
        reasons = list(cert.get("reasons") or [])
        # dates judged against the observation time, so re-judging later gives the same answer
        if _when(leaf["not_after"]) < _when(obs.started) and "expired" not in reasons:
            reasons.insert(0, "expired")
        if _when(leaf["not_before"]) > _when(obs.started) and "not_yet_valid" not in reasons:
            reasons.insert(0, "not_yet_valid")
        if not reasons:
            return _o("pass", f"Certificate valid, trusted and matches {cert.get('hostname_checked')} "
                              f"(issuer {leaf['issuer']})",
                      f"Chứng thư số hợp lệ, được tin cậy và khớp tên {cert.get('hostname_checked')} "
                      f"(cấp bởi {leaf['issuer']})")
        fill = {"na": leaf["not_after"][:10], "nb": leaf["not_before"][:10], "host": cert.get("hostname_checked"),
                "names": _short(leaf["dns_names"] or leaf["common_names"], 3)}
        en, vi = [], []
        for r in reasons:
            e, v = _REASONS.get(r, (f"verification error: {r}", f"lỗi xác thực: {r}"))
            en.append(e.format(**fill))
            vi.append(v.format(**fill))
        return _o("fail", "Certificate not trusted: " + "; ".join(en),
                  "Chứng thư số không được tin cậy: " + "; ".join(vi))

    return _per_address(observations, profile, judge)


# --- VN-TLS-KEY2048 ------------------------------------------------------------------------------------


@evaluator("VN-TLS-KEY2048")
def vn_tls_key2048(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    rsa_min = int(profile.threshold("rsa_min_bits", 2048))
    ec_min = int(profile.threshold("ec_min_bits", 256))

    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        cert = d.get("certificate")
        if not cert:
            return _o("error", "No certificate seen", "Không nhận được chứng thư số")
        leaf = cert["chain"][0]
        kt, bits = leaf["key_type"], leaf.get("key_bits") or 0
        if kt == "RSA":
            ok, need = bits >= rsa_min, rsa_min
        elif kt == "EC":
            ok, need = bits >= ec_min, ec_min
        elif kt in ("Ed25519", "Ed448"):
            ok, need = True, ec_min
        else:
            return _o("fail", f"Key type {kt} ({bits} bits) is not RSA or EC",
                      f"Loại khóa {kt} ({bits} bit) không phải RSA hay EC")
        if ok:
            return _o("pass", f"{kt} key of {bits} bits (minimum {need})", f"Khóa {kt} {bits} bit (tối thiểu {need})")
        return _o("fail", f"{kt} key of {bits} bits, below {need}", f"Khóa {kt} chỉ {bits} bit, dưới mức {need}")

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
            return _o("pass" if want else "fail", f"{name} accepted", f"{name} được chấp nhận")
        return _o("fail" if want else "pass", f"{name} refused ({r.get('answer')})",
                  f"{name} bị từ chối ({r.get('answer')})")

    return judge


@evaluator("VN-TLS12")
def vn_tls12(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    return _per_address(observations, profile, _version_rule("TLSv1.2", True), need_tls=False)


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
        if on:
            return _o("fail", f"Legacy protocols accepted: {', '.join(on)}",
                      f"Vẫn chấp nhận giao thức cũ: {', '.join(on)}")
        if unknown:
            return _o("error", f"Could not test {', '.join(unknown)}", f"Không kiểm tra được {', '.join(unknown)}")
        if sslv2 is None:
            return _o("pass", "SSLv3, TLS 1.0 and TLS 1.1 refused (SSLv2 not probed)",
                      "Đã từ chối SSLv3, TLS 1.0 và TLS 1.1 (chưa kiểm tra SSLv2)")
        return _o("pass", "SSLv2, SSLv3, TLS 1.0 and TLS 1.1 refused",
                  "Đã từ chối SSLv2, SSLv3, TLS 1.0 và TLS 1.1")

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


@evaluator("BP-TLS-CERT")
def bp_tls_cert(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    max_life = float(profile.threshold("cert_max_lifetime_days", 398))
    warn_left = float(profile.threshold("cert_warn_days_left", 30))
    rsa_good = int(profile.threshold("rsa_good_bits", 3072))

    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        cert = d.get("certificate")
        if not cert:
            return _o("error", "No certificate seen", "Không nhận được chứng thư số")
        chain = cert["chain"]
        leaf = chain[0]
        fails: list[tuple[str, str]] = []
        warns: list[tuple[str, str]] = []
        for i, c in enumerate(chain):
            if c.get("self_issued") and i > 0:
                continue  # a root's own signature is never checked
            if (c.get("signature_hash") or "").lower() in ("sha1", "md5"):
                who = "leaf" if i == 0 else f"intermediate {c['subject']}"
                fails.append((f"{who} signed with {c['signature_hash'].upper()}",
                              f"{'chứng thư máy chủ' if i == 0 else 'chứng thư trung gian'} ký bằng "
                              f"{c['signature_hash'].upper()}"))
        if "missing_intermediate" in (cert.get("reasons") or []) and not cert.get("intermediates_sent"):
            fails.append(("intermediate certificate not sent by the server", "máy chủ không gửi chứng thư trung gian"))
        elif not cert.get("intermediates_sent") and len(cert.get("verified_chain") or []) > 2:
            warns.append(("intermediate not sent (validation only works because the client already has it)",
                          "không gửi chứng thư trung gian (chỉ xác thực được vì máy khách đã có sẵn)"))
        if leaf["lifetime_days"] > max_life:
            warns.append((f"lifetime {leaf['lifetime_days']:.0f} days > {max_life:.0f}",
                          f"thời hạn {leaf['lifetime_days']:.0f} ngày > {max_life:.0f}"))
        if leaf.get("self_issued"):
            fails.append(("self-signed leaf: no CA chain at all", "chứng thư máy chủ tự ký: không có chuỗi CA"))
        left = _days_left(obs, leaf)
        if left < 0:
            fails.append((f"expired {-left:.0f} days ago", f"đã hết hạn {-left:.0f} ngày trước"))
        elif left < warn_left:
            warns.append((f"{left:.0f} days left (< {warn_left:.0f})", f"còn {left:.0f} ngày (< {warn_left:.0f})"))
        good = ""
        good_vi = ""
        if leaf["key_type"] == "RSA" and (leaf.get("key_bits") or 0) >= rsa_good:
            good, good_vi = f"; RSA {leaf['key_bits']} bits: good", f"; RSA {leaf['key_bits']} bit: tốt"
        summary = f"{leaf['signature_algorithm']}, {leaf['lifetime_days']:.0f}-day lifetime, {left:.0f} days left"
        summary_vi = f"{leaf['signature_algorithm']}, thời hạn {leaf['lifetime_days']:.0f} ngày, còn {left:.0f} ngày"
        if fails:
            return _o("fail", "; ".join(e for e, _ in fails + warns) + good,
                      "; ".join(v for _, v in fails + warns) + good_vi)
        if warns:
            return _o("warn", "; ".join(e for e, _ in warns) + good, "; ".join(v for _, v in warns) + good_vi)
        return _o("pass", summary + good, summary_vi + good_vi)

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
                      "Phản hồi HTTPS không có tiêu đề Strict-Transport-Security")
        if h.get("errors"):
            return _o("fail", f"Strict-Transport-Security unusable: {'; '.join(h['errors'])}",
                      f"Tiêu đề Strict-Transport-Security không hợp lệ: {'; '.join(h['errors'])}")
        age = h.get("max_age") or 0
        extra = (", includeSubDomains" if h.get("include_subdomains") else "")
        extra += ", preload" if h.get("preload") else ""
        if age < min_age:
            return _o("fail", f"HSTS max-age {age} < {min_age}{extra}", f"HSTS max-age {age} < {min_age}{extra}")
        return _o("pass", f"HSTS max-age {age}{extra}", f"HSTS max-age {age}{extra}")

    return _per_address(observations, profile, judge)


@evaluator("BP-OCSP")
def bp_ocsp(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        cert = d.get("certificate")
        if not cert:  # info, not error: this rule only ever informs
            return _o("info", "OCSP stapling unknown: no full TLS handshake on this address",
                      "Không rõ OCSP stapling: không bắt tay TLS đầy đủ được với địa chỉ này")
        if cert.get("ocsp_stapled"):
            return _o("info", "OCSP response stapled", "Có OCSP stapling")
        return _o("info", "No OCSP response stapled", "Không có OCSP stapling")

    return _per_address(observations, profile, judge, need_tls=False)
