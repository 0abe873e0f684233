"""BP-TLS-VULNS: the TLS weaknesses of `data.vulns` in "tls" observations (probes/tls_vulns.py), one
Outcome per address. Pure, like every evaluator: the sub-check results were recorded by the probe.

Worst first: fail (SSLv2, no secure renegotiation, client-initiated renegotiation, compression,
Heartbleed, ROBOT oracle, MD5 signatures) > error (a sub-check could not be decided) > warn (fallback
SCSV ignored while several versions are accepted, SHA-1 signatures) > pass. The message names every
sub-check that is not clean, with the probe's evidence.
"""

from __future__ import annotations

from typing import Any

from netready.evaluate import Outcome, evaluator
from netready.evaluate.tls import _per_address, _tls_up
from netready.model import Observation, Target
from netready.tables.tls import VULN_CHECKS as CHECKS
from netready.tables.tls import VULN_TITLES as TITLES

# (name, result) -> (verdict, en, vi); results not listed are clean ("pass").
FINDINGS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("sslv2", "accepted"): ("fail", "SSLv2 accepted (DROWN)", "chấp nhận SSLv2 (DROWN)"),
    ("secure_renegotiation", "not_supported"): ("fail", "no secure renegotiation (RFC 5746)",
                                                "không hỗ trợ đàm phán lại an toàn (RFC 5746)"),
    ("client_renegotiation", "accepted"): ("fail", "client-initiated renegotiation accepted",
                                           "chấp nhận đàm phán lại do máy khách khởi tạo"),
    ("compression", "accepted"): ("fail", "TLS compression accepted (CRIME)", "chấp nhận nén TLS (CRIME)"),
    ("heartbleed", "vulnerable"): ("fail", "Heartbleed: server memory disclosed",
                                   "lỗi Heartbleed: lộ dữ liệu bộ nhớ máy chủ"),
    ("robot", "strong_oracle"): ("fail", "ROBOT: strong RSA padding oracle", "ROBOT: oracle đệm RSA mạnh"),
    ("robot", "weak_oracle"): ("fail", "ROBOT: weak RSA padding oracle", "ROBOT: oracle đệm RSA yếu"),
    ("kex_signature_hash", "md5"): ("fail", "ServerKeyExchange signed with MD5",
                                    "ServerKeyExchange được ký bằng MD5"),
    ("fallback_scsv", "ignored"): ("warn", "TLS_FALLBACK_SCSV ignored: protocol downgrade not detected",
                                   "bỏ qua TLS_FALLBACK_SCSV: không phát hiện bị hạ cấp giao thức"),
    ("kex_signature_hash", "sha1"): ("warn", "ServerKeyExchange signed with SHA-1 when the client offers it",
                                     "ServerKeyExchange được ký bằng SHA-1 khi máy khách đề nghị"),
}
ORDER = ("fail", "error", "warn", "pass")


def _verdict(entry: dict[str, Any]) -> tuple[str, str, str]:
    name, result = entry.get("name", "?"), entry.get("result", "unknown")
    if (name, result) in FINDINGS:
        return FINDINGS[(name, result)]
    title_en, title_vi = TITLES.get(name, (name, name))
    if result == "unknown":
        return "error", f"{title_en} not determined", f"không xác định được {title_vi}"
    return "pass", title_en, title_vi


@evaluator("BP-TLS-VULNS")
def bp_tls_vulns(target: Target, observations: list[Observation], profile: Any) -> list[Outcome]:
    def judge(obs: Observation, d: dict[str, Any], _p: Any) -> Outcome:
        checks = {e.get("name"): e for e in (d.get("vulns") or {}).get("checks") or []}
        sslv2_on = (checks.get("sslv2") or {}).get("result") == "accepted"
        if not _tls_up(d) and not sslv2_on:  # a consequence of VN-HTTPS' finding (issue #14), not one more error
            why = obs.error or "no TLS handshake succeeded"
            return Outcome("info", f"Not judged: this address has no TLS ({why}); see VN-HTTPS",
                           f"Không đánh giá: địa chỉ này không có TLS ({why}); xem VN-HTTPS", caused_by="VN-HTTPS")
        if not checks:
            return Outcome("error", "TLS weaknesses not probed on this address",
                           "Chưa kiểm tra các điểm yếu TLS trên địa chỉ này")
        evidence = {e.get("evidence") for e in checks.values()}
        if len(evidence) == 1 and all(e.get("result") == "unknown" for e in checks.values()):
            why = evidence.pop()  # e.g. raw probing stopped on a timeout: said once, not eight times
            return Outcome("error", f"TLS weaknesses {why}", f"Chưa kiểm tra được các điểm yếu TLS: {why}")
        missing = [n for n in CHECKS if n not in checks]
        found: dict[str, list[tuple[str, str]]] = {w: [] for w in ORDER}
        for name in CHECKS:
            if name in missing:
                found["error"].append((f"{TITLES[name][0]} not recorded", f"thiếu kết quả {TITLES[name][1]}"))
                continue
            entry = checks[name]
            verdict, en, vi = _verdict(entry)
            if verdict != "pass":
                ev = entry.get("evidence") or ""
                found[verdict].append((f"{en} ({ev})", f"{vi} ({ev})"))
        worst = next(w for w in ORDER if found[w] or w == "pass")
        if worst == "pass":
            na = [TITLES[n][0] for n in CHECKS if checks[n].get("result") == "not_applicable"]
            na_vi = [TITLES[n][1] for n in CHECKS if checks[n].get("result") == "not_applicable"]
            return Outcome("pass", f"None of the {len(CHECKS)} weaknesses tested" + (
                f" (not applicable: {', '.join(na)})" if na else ""),
                f"Không có điểm yếu nào trong {len(CHECKS)} điểm yếu đã kiểm tra" + (
                f" (không áp dụng: {', '.join(na_vi)})" if na_vi else ""))
        problems = [p for w in ORDER[:3] for p in found[w]]
        return Outcome(worst, "; ".join(e for e, _ in problems), "; ".join(v for _, v in problems))  # type: ignore[arg-type]

    return _per_address(observations, profile, judge, need_tls=False)
