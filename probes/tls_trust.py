"""Trust in a server's certificate, decided by `cryptography.x509.verification` (a webpki-style verifier:
what browsers do), and the OCSP staple read with `cryptography.x509.ocsp`. OpenSSL's opinion is recorded
by probes/tls_cert.py beside it.

Three questions, answered apart so one problem never hides another:
- path: does the leaf chain to a trusted root (system store + the given CA bundle) at this moment, with
  the certificates the server sent? The verified path (root included) is what SHA-1, key sizes and the
  lifetime are judged on, not the set the server happened to send.
- name: does the leaf cover the host (RFC 9525: subjectAltName only, a wildcard is one whole left-most
  label and covers an A-label too)? Checked with the leaf as its own trust anchor, so only the name
  (and the leaf's own form) decide.
- staple: what the stapled OCSP response says (status, times, the certificate it is about, signature).

The verifier needs no Authority Key Identifier in the leaf (OpenSSL and browsers accept certificates
without one); everything else is its web PKI defaults. Pure computation: no network.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import ssl
import threading
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.utils import CryptographyDeprecationWarning

from netready.probes.tls_cert import describe

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)

# A few system roots have non-positive serials: still roots. A warnings.catch_warnings() around each load is
# not thread-safe (checks run in threads) and let the warning through now and then; so is setting the filter
# again while another thread loads (filterwarnings removes, then inserts). The filter is added only where it is
# missing (a caller's own catch_warnings, pytest's for one, may have taken it away), under a lock.
_SERIAL_WARNING = "Parsed a serial number which wasn't positive"
_FILTER_LOCK = threading.Lock()


def _quiet_serial_warning() -> None:
    with _FILTER_LOCK:
        if not any(f[0] == "ignore" and f[2] is CryptographyDeprecationWarning and f[1] is not None
                   and f[1].pattern == _SERIAL_WARNING for f in warnings.filters):
            warnings.filterwarnings("ignore", message=_SERIAL_WARNING, category=CryptographyDeprecationWarning)


@functools.lru_cache(maxsize=8)
def trust_store(ca_file: str | None) -> tuple[Any, int]:
    """(cryptography Store of the system roots plus ca_file, number of roots), once per process.
    Each PEM block is read on its own: one certificate cryptography rejects does not lose the others."""
    from cryptography import x509
    from cryptography.x509.verification import Store

    _quiet_serial_warning()
    certs = []
    files = [f for f in (ssl.get_default_verify_paths().cafile, ca_file) if f]
    for f in files:
        try:
            data = Path(f).read_bytes()
        except OSError:
            continue
        for block in _PEM.findall(data):
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    return Store(certs), len(certs)


def _ee_policy():
    from cryptography import x509
    from cryptography.x509.verification import Criticality, ExtensionPolicy

    # webpki defaults, but an Authority Key Identifier is not demanded of the leaf (OpenSSL, Chrome and
    # Firefox accept leaves without it)
    return ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)


def _subject(name: str):
    from cryptography.x509.verification import DNSName, IPAddress

    try:
        return IPAddress(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return DNSName(name.rstrip(".").lower())


def _load(ders: list[bytes]) -> tuple[list[Any], list[str]]:
    from cryptography import x509

    certs, bad = [], []
    for i, der in enumerate(ders):
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            bad.append(f"certificate {i}: {exc}")
    return certs, bad


def _reason(error: str, leaf: Any, chain: list[Any], when: datetime) -> str:
    """The verifier's message, reduced to the reason words the judge and docs/rules/tls.md use."""
    text = error.lower()
    if "not valid at validation time" in text:
        try:
            if leaf.not_valid_after_utc < when:
                return "expired"
            if leaf.not_valid_before_utc > when:
                return "not_yet_valid"
        except ValueError:
            pass
        return "expired_in_chain"
    if "no subjectaltname" in text or "subjectaltname" in text and "missing" in text:
        return "no_san"
    if "key is too weak" in text or "too weak" in text:
        return "weak_key_in_chain"
    if "signature algorithm" in text or "unsupported" in text and "signature" in text:
        return "weak_signature_in_chain"
    if "candidates exhausted" in text or "no issuer" in text:
        if leaf is not None and leaf.issuer == leaf.subject:
            return "self_signed"
        if chain and chain[-1].issuer == chain[-1].subject:
            return "untrusted_root"
        return "missing_intermediate"
    if "extendedkeyusage" in text or "2.5.29.37" in text or "eku" in text:
        return "invalid_purpose"
    if "basicconstraints" in text or "2.5.29.19" in text or "keyusage" in text or "2.5.29.15" in text:
        return "invalid_ca"
    return "other"


def verify(chain_der: list[bytes], host: str, when: datetime | None = None,
           ca_file: str | None = None) -> dict[str, Any]:
    """{"path": {...}, "name": {...}, "verifier": "cryptography <version>"} for the chain as sent."""
    import cryptography
    from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, VerificationError

    when = when or datetime.now(UTC)
    out: dict[str, Any] = {"verifier": f"cryptography {cryptography.__version__}", "host": host}
    certs, bad = _load(chain_der)
    if not chain_der or any(b.startswith("certificate 0:") for b in bad):
        out["path"] = {"ok": False, "reason": "unreadable_leaf", "error": "; ".join(bad) or "no certificate",
                       "chain": []}
        out["name"] = {"ok": None, "error": "leaf certificate unreadable"}
        return out
    leaf, inters = certs[0], certs[1:]
    store, roots = trust_store(ca_file)
    out["store_roots"] = roots
    # path: the name is taken from the leaf itself, so a name mismatch never hides a path problem
    try:
        from cryptography import x509

        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [n.replace("*", "wildcard-check", 1) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except Exception:  # noqa: BLE001 - no SAN, or a SAN cryptography cannot read: path by the client verifier
        names = []
    builder = PolicyBuilder().store(store).time(when)
    try:
        if names:
            verifier = builder.extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                                  ee_policy=_ee_policy()).build_server_verifier(_subject(names[0]))
            path = verifier.verify(leaf, inters)
        else:  # a certificate without SAN: the path alone (the name check below says what is wrong)
            verifier = builder.extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                                  ee_policy=ExtensionPolicy.permit_all()).build_client_verifier()
            path = verifier.verify(leaf, inters).chain
        out["path"] = {"ok": True, "reason": None, "error": None, "chain": [describe(c) for c in path]}
    except (VerificationError, ValueError) as exc:
        reason = _reason(str(exc), leaf, certs, when)
        out["path"] = {"ok": False, "reason": reason, "error": _short(exc), "chain": []}
        if reason in ("expired", "not_yet_valid") and names:
            # the path a client builds while the leaf is valid: SHA-1 and key sizes are judged on it all the same
            try:
                mid = leaf.not_valid_before_utc + (leaf.not_valid_after_utc - leaf.not_valid_before_utc) / 2
                again = (PolicyBuilder().store(store).time(mid)
                         .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_ee_policy())
                         .build_server_verifier(_subject(names[0])).verify(leaf, inters))
                out["path"]["chain"] = [describe(c) for c in again]
                out["path"]["chain_at"] = _iso(mid)
            except (VerificationError, ValueError):
                pass
    if bad:
        out["path"]["unreadable"] = bad
    out["name"] = name_check(leaf, host)
    return out


def name_check(leaf: Any, host: str) -> dict[str, Any]:
    """RFC 9525 by cryptography's verifier with the leaf as its own anchor, at the middle of its validity."""
    from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

    try:
        mid = leaf.not_valid_before_utc + (leaf.not_valid_after_utc - leaf.not_valid_before_utc) / 2
        (PolicyBuilder().store(Store([leaf])).time(mid)
         .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_ee_policy())
         .build_server_verifier(_subject(host)).verify(leaf, []))
        return {"ok": True, "error": None, "by": "cryptography"}
    except (VerificationError, ValueError) as exc:
        text = str(exc)
        if "subjectAltName" in text:
            reason = "no_san" if "no subjectAltName" in text or "missing" in text else "hostname_mismatch"
            return {"ok": False, "reason": reason, "error": _short(exc), "by": "cryptography"}
        # the leaf's own form stopped the verifier before the name: fall back to the RFC 9525 matcher
        from netready.probes.tls_cert import hostname_matches

        d = describe(leaf)
        ok = hostname_matches(host, d["dns_names"], d["ip_names"], d["common_names"])
        reason = None if ok else ("no_san" if not d.get("has_san") else "hostname_mismatch")
        return {"ok": ok, "reason": reason, "error": None if ok else _short(exc), "by": "netready (RFC 9525)",
                "verifier_said": _short(exc)}


def _short(exc: Exception) -> str:
    text = str(exc)
    return re.sub(r" \(encountered processing <Certificate\(.*$", "", text)[:300]


# --- OCSP -------------------------------------------------------------------------------------------------


def read_staple(ocsp_der: bytes, leaf_der: bytes | None, issuer_der: bytes | None) -> dict[str, Any]:
    """What a stapled OCSP response (RFC 6960) says, checked against the leaf and its issuer."""
    from cryptography import x509
    from cryptography.x509 import ocsp

    out: dict[str, Any] = {"bytes": len(ocsp_der)}
    try:
        resp = ocsp.load_der_ocsp_response(ocsp_der)
    except ValueError as exc:
        out["error"] = f"not an OCSP response: {exc}"
        return out
    out["response_status"] = resp.response_status.name.lower()
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return out
    try:
        out["cert_status"] = resp.certificate_status.name.lower()
        out["this_update"] = _iso(resp.this_update_utc)
        out["next_update"] = _iso(resp.next_update_utc) if resp.next_update_utc else None
        out["produced_at"] = _iso(resp.produced_at_utc)
        if resp.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            out["revocation_time"] = _iso(resp.revocation_time_utc)
            reason = resp.revocation_reason
            out["revocation_reason"] = reason.name if reason else None
        leaf = x509.load_der_x509_certificate(leaf_der) if leaf_der else None
        out["serial_matches"] = leaf is not None and resp.serial_number == leaf.serial_number
        issuer = x509.load_der_x509_certificate(issuer_der) if issuer_der else None
        out["signature_valid"] = _ocsp_signature_ok(resp, issuer) if issuer is not None else None
    except (ValueError, TypeError) as exc:
        out["error"] = f"OCSP response unreadable: {exc}"
    return out


def _ocsp_signature_ok(resp: Any, issuer: Any) -> bool:
    """Signed by the issuer itself, or by a responder certificate the issuer signed (RFC 6960 4.2.2.2)."""
    signer = issuer
    for cert in resp.certificates:
        if cert.issuer == issuer.subject and _signed_by(cert.signature, cert.tbs_certificate_bytes,
                                                        cert.signature_hash_algorithm, issuer):
            signer = cert
    return _signed_by(resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm, signer)


def _signed_by(signature: bytes, data: bytes, hash_alg: Any, cert: Any) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_alg))
        else:
            key.verify(signature, data)  # Ed25519 / Ed448
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False
    except Exception:  # noqa: BLE001 - UnsupportedAlgorithm: cannot tell
        return False


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")
