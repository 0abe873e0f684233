"""Facts the monitor keeps per scan, read from a target's raw observations (never from verdicts):
the earliest certificate expiry over the portal's addresses, the earliest RRSIG expiration on its DNSSEC chain,
and whether the portal answered at all.

Pure and tolerant: the observation model evolves (new probes, compacted evidence), so every field is read with
a default and anything unreadable is simply not a fact. Days are counted from the observation's own time, like
the evaluators do, so the same evidence gives the same numbers later.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from netready.model import Observation, Target

DAY = 86400.0


def epoch(text: str | None) -> float | None:
    """ISO 8601 (with Z) to POSIX seconds; None for anything else."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class ExpiryFacts:
    """Moments in POSIX seconds; None when not observed."""

    observed_at: float | None = None  # when the probes looked (the earliest observation time)
    cert_expires: float | None = None  # the earliest leaf notAfter over every address
    cert_not_before: float | None = None  # notBefore of that same certificate (its lifetime)
    cert_subject: str | None = None  # the address it was served on
    rrsig_expires: float | None = None  # the earliest RRSIG expiration anywhere on the chain
    rrsig_owner: str | None = None  # "owner/TYPE by signer"

    @property
    def cert_lifetime(self) -> float | None:
        if self.cert_expires is None or self.cert_not_before is None:
            return None
        return self.cert_expires - self.cert_not_before

    def cert_days(self, at: float | None = None) -> float | None:
        return _days(self.cert_expires, at if at is not None else self.observed_at)

    def rrsig_days(self, at: float | None = None) -> float | None:
        return _days(self.rrsig_expires, at if at is not None else self.observed_at)


def _days(moment: float | None, at: float | None) -> float | None:
    if moment is None or at is None:
        return None
    return round((moment - at) / DAY, 2)


def _signatures(value: Any) -> Iterator[dict[str, Any]]:
    """Every RRSIG description in a DNSSEC observation, wherever the probe put it (zones' DS and DNSKEY
    signatures, answers, denial proofs): a dict with an expiration timestamp and a signer."""
    if isinstance(value, dict):
        if "expiration_ts" in value and "signer" in value:
            yield value
        for item in value.values():
            if isinstance(item, (dict, list)):
                yield from _signatures(item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                yield from _signatures(item)


def _leaf(obs: Observation) -> dict[str, Any] | None:
    cert = (obs.data or {}).get("certificate") if isinstance(obs.data, dict) else None
    chain = cert.get("chain") if isinstance(cert, dict) else None
    if isinstance(chain, list) and chain and isinstance(chain[0], dict):
        return chain[0]
    return None


def expiry_facts(observations: Iterable[Observation]) -> ExpiryFacts:
    """The earliest certificate and RRSIG expiries in one target's observations."""
    observed: list[float] = []
    cert: tuple[float, float | None, str] | None = None
    rrsig: tuple[float, str] | None = None
    for obs in observations:
        if (t := epoch(obs.started)) is not None:
            observed.append(t)
        if obs.probe == "tls" and (leaf := _leaf(obs)) is not None:
            expires = epoch(leaf.get("not_after"))
            if expires is not None and (cert is None or expires < cert[0]):
                cert = (expires, epoch(leaf.get("not_before")), obs.subject)
        elif obs.probe == "dnssec":
            for sig in _signatures(obs.data):
                expires = sig.get("expiration_ts")
                if isinstance(expires, (int, float)) and (rrsig is None or expires < rrsig[0]):
                    rrsig = (float(expires), f"{sig.get('owner', '?')}/{sig.get('type', '?')} by {sig.get('signer')}")
    return ExpiryFacts(
        observed_at=min(observed) if observed else None,
        cert_expires=cert[0] if cert else None,
        cert_not_before=cert[1] if cert else None,
        cert_subject=cert[2] if cert else None,
        rrsig_expires=rrsig[0] if rrsig else None,
        rrsig_owner=rrsig[1] if rrsig else None,
    )


def reachable(target: Target, observations: Iterable[Observation]) -> bool | None:
    """Whether the portal answered at all: an address that took a TCP connection on 443 or 80 (TLS probe), or an
    HTTP answer over either family (IPv6 probe). False when the name does not resolve or nothing answered; None
    when no probe looked (nothing to say)."""
    looked = False
    for obs in observations:
        data = obs.data if isinstance(obs.data, dict) else {}
        if obs.probe == "tls" and "reachable" in data:
            looked = True
            if data.get("reachable"):
                return True
        elif obs.probe == "ipv6" and ":web:" in obs.id:
            looked = True
            if (data.get("https") or {}).get("status") is not None or (data.get("http") or {}).get("status"):
                return True
    if target.error and not target.addresses:
        return False
    return False if looked else None
