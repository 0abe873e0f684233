"""Synthetic scan results for the monitor's unit tests: real model objects, judged by hand-picked verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from netready.judge import target_summary
from netready.model import Finding, Observation, Target
from netready.monitor.store import ScanResult

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def result(name: str = "dichvucong.a.gov.vn", at: datetime = T0, verdicts: dict | None = None,
           cert_days: float = 90, cert_life: float = 200, rrsig_days: float = 14, reachable: bool = True,
           serial: str = "01", v4: str = "198.51.100.129", v6: str = "2001:db8:200::129") -> ScanResult:
    """A portal with two addresses: TLS observations with a leaf certificate (days left from `at`), a DNSSEC chain
    with signatures, and findings with the given verdicts {(rule, subject): verdict} over a passing baseline.
    Expiry moments are fixed from T0 (the same certificate and signatures whenever the scan runs)."""
    target = Target(name=name, ascii_name=name, ipv4=[v4], ipv6=[v6])
    started = iso(at)
    not_after = T0 + timedelta(days=cert_days)
    leaf = {"not_after": iso(not_after).replace(".000", ""), "not_before": iso(not_after - timedelta(days=cert_life)),
            "serial": serial}
    obs = [Observation(id=f"tls:{name}:{a}", probe="tls", target=name, subject=a, started=started,
                       duration_ms=12.5, data={"reachable": reachable, "certificate": {"chain": [leaf]},
                                               "http": {"https": {"headers": [["Date", started]]}}})
           for a in (v4, v6)]
    sig = {"owner": f"{name}.", "type": "A", "signer": "a.gov.vn.", "inception_ts": T0.timestamp() - 86400,
           "expiration_ts": (T0 + timedelta(days=rrsig_days)).timestamp()}
    root_sig = {**sig, "owner": ".", "type": "DNSKEY", "signer": ".",
                "expiration_ts": (T0 + timedelta(days=rrsig_days + 5)).timestamp()}
    obs.append(Observation(id=f"dnssec:{name}:chain", probe="dnssec", target=name, subject=name, started=started,
                           data={"zones": [{"zone": ".", "dnskey_sigs": [root_sig]}], "answers": [{"sigs": [sig]}],
                                 "validated_at_ts": at.timestamp()}))
    base = {("VN-HTTPS", v4): "pass", ("VN-HTTPS", v6): "pass", ("VN-DNSSEC", "a.gov.vn."): "pass",
            ("BP-HSTS", v4): "pass", ("VN-NAMING", ""): "info"}
    base.update(verdicts or {})
    levels = {"BP-HSTS": "recommended", "VN-NAMING": "info"}
    findings = [Finding(rule_id=r, target=name, verdict=v, level=levels.get(r, "required"),
                        message={"en": f"{r} {v} at {started}", "vi": f"{r} {v} lúc {started}"}, subject=s or None,
                        evidence=[]) for (r, s), v in base.items()]
    return ScanResult(target, obs, findings, target_summary(findings))
