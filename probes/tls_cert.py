"""One full OpenSSL handshake per address: the certificate chain as sent, its validation, OCSP stapling.

pyOpenSSL is used (not the ssl module) because Python 3.11's ssl gives neither the chain as sent nor
every verification error. The context accepts anything (SECLEVEL=0, TLS 1.0+): this handshake is for
looking, not for trusting, so a 1024-bit key or an expired certificate must still be seen. Every
verification error is recorded by the verify callback, which then lets the handshake go on.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import select
import socket
import threading
import time
from datetime import UTC, datetime
from typing import Any

# OpenSSL X509_V_ERR_* codes -> (reason word used by the judge, text).
VERIFY_REASONS: dict[int, tuple[str, str]] = {
    2: ("missing_intermediate", "unable to get issuer certificate"),
    7: ("bad_signature", "certificate signature failure"),
    9: ("not_yet_valid", "certificate is not yet valid"),
    10: ("expired", "certificate has expired"),
    18: ("self_signed", "self-signed certificate"),
    19: ("untrusted_root", "self-signed certificate in chain (root not trusted)"),
    20: ("missing_intermediate", "unable to get local issuer certificate"),
    21: ("missing_intermediate", "unable to verify the first certificate"),
    22: ("chain_too_long", "certificate chain too long"),
    24: ("invalid_ca", "invalid CA certificate"),
    26: ("invalid_purpose", "unsupported certificate purpose"),
    32: ("invalid_ca", "key usage does not include certificate signing"),
}
MAX_CHAIN = 20  # certificates described in the observation; longer chains are cut (and counted)


@functools.lru_cache(maxsize=8)
def _context(ca_file: str | None):  # -> SSL.Context
    """One context per CA bundle per process (loading a bundle costs milliseconds)."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_VERSION)
    ctx.set_cipher_list(b"ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    ctx.set_verify(SSL.VERIFY_PEER, _verify_cb)
    ctx.set_verify_depth(MAX_CHAIN + 5)
    ctx.set_default_verify_paths()
    if ca_file:
        ctx.load_verify_locations(ca_file)
    ctx.set_ocsp_client_callback(_ocsp_cb)
    return ctx


def _verify_cb(conn, cert, errnum: int, depth: int, ok: int) -> bool:
    if not ok:
        state = conn.get_app_data()
        subject = _name(cert.to_cryptography().subject) if cert is not None else ""
        state["verify_errors"].append({"code": errnum, "depth": depth, "subject": subject})
    return True  # keep going: we want to see the whole chain and every error


def _ocsp_cb(conn, ocsp_bytes: bytes, data: Any) -> bool:
    conn.get_app_data()["ocsp"] = bytes(ocsp_bytes)
    return True


def _name(name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:
        return str(name)


def _wait(sock: socket.socket, write: bool, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    r, w, _ = select.select([] if write else [sock], [sock] if write else [], [], left)
    if not r and not w:
        raise TimeoutError


def handshake(address: str, port: int, sni: str | None, ca_file: str | None, timeout: float) -> dict[str, Any]:
    """Full handshake; returns {version, cipher, chain, validation, ocsp_stapled, ...} or {error, stage}."""
    from OpenSSL import SSL

    t0 = time.monotonic()
    deadline = t0 + timeout
    out: dict[str, Any] = {"error": None, "stage": "connect"}
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    conn = None
    try:
        sock.settimeout(timeout)
        sock.connect((address, port))
        sock.setblocking(False)
        out["stage"] = "tls"
        state: dict[str, Any] = {"verify_errors": [], "ocsp": None}
        conn = SSL.Connection(_context(ca_file), sock)
        conn.set_app_data(state)
        if sni:
            conn.set_tlsext_host_name(sni.encode("ascii"))
        conn.request_ocsp()
        conn.set_connect_state()
        while True:
            try:
                conn.do_handshake()
                break
            except SSL.WantReadError:
                _wait(sock, False, deadline)
            except SSL.WantWriteError:
                _wait(sock, True, deadline)
        out["stage"] = "done"
        out["version"] = conn.get_protocol_version_name()
        out["cipher_openssl"] = conn.get_cipher_name()
        chain = conn.get_peer_cert_chain(as_cryptography=True) or []
        verified = conn.get_verified_chain(as_cryptography=True) if not state["verify_errors"] else None
        out["chain_length"] = len(chain)
        out["chain"] = [describe(c) for c in chain[:MAX_CHAIN]]
        out["verify_errors"] = [
            {
                **e,
                "reason": VERIFY_REASONS.get(e["code"], ("other", f"verify error {e['code']}"))[0],
                "text": VERIFY_REASONS.get(e["code"], ("other", f"OpenSSL verify error {e['code']}"))[1],
            }
            for e in state["verify_errors"][:50]
        ]
        out["chain_trusted"] = not state["verify_errors"]
        out["verified_chain"] = [_name(c.subject) for c in verified] if verified else []
        out["ocsp_stapled"] = bool(state["ocsp"])
        out["ocsp_bytes"] = len(state["ocsp"] or b"")
    except TimeoutError:
        out["error"] = (
            f"timeout: no {'TCP connection' if out['stage'] == 'connect' else 'TLS handshake'} within {timeout:g} s"
        )
        out["kind"] = "timeout"
    except ConnectionRefusedError:
        out["error"], out["kind"] = "connection refused", "refused"
    except ConnectionResetError:
        out["error"], out["kind"] = "connection reset by peer", "reset"
    except SSL.SysCallError as exc:
        code = exc.args[0] if exc.args else None
        out["kind"] = "reset" if code in (-1, 104) else "closed"
        out["error"] = "connection closed by peer during TLS handshake" if code == -1 else f"TLS I/O error: {exc}"
    except SSL.Error as exc:
        out["error"], out["kind"] = f"TLS handshake failed: {_ssl_error(exc)}", "tls_error"
    except OSError as exc:
        out["error"], out["kind"] = f"{exc.strerror or exc}", "error"
    finally:
        if conn is not None:
            try:
                conn.set_shutdown(SSL.SENT_SHUTDOWN)
            except SSL.Error:
                pass
        sock.close()
        out["ms"] = round((time.monotonic() - t0) * 1000, 3)
    return out


def _ssl_error(exc: Exception) -> str:
    try:
        parts = [p[2] for p in exc.args[0]]
        return "; ".join(parts) or str(exc)
    except (IndexError, TypeError):
        return str(exc)


_DESCRIBED: dict[bytes, dict[str, Any]] = {}
_DESCRIBED_MAX = 256
_DESCRIBED_LOCK = threading.Lock()


def describe(cert) -> dict[str, Any]:
    """The facts the judge needs about one certificate (cryptography x509.Certificate).

    Many portals share certificates (one CA chain, hosting platforms with hundreds of SAN names): the
    description of a DER seen before is reused, a new top-level dict whose lists are shared (read-only),
    so a batch keeps one copy of a 1000-name SAN list instead of one per target and address.
    """
    from cryptography.hazmat.primitives import serialization

    der = cert.public_bytes(serialization.Encoding.DER)
    with _DESCRIBED_LOCK:
        known = _DESCRIBED.get(der)
    if known is None:
        known = _describe(cert, der)
        with _DESCRIBED_LOCK:
            if len(_DESCRIBED) >= _DESCRIBED_MAX:
                _DESCRIBED.pop(next(iter(_DESCRIBED)))
            _DESCRIBED[der] = known
    return dict(known)


def _describe(cert, der: bytes) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_type, bits, curve = "RSA", key.key_size, None
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_type, bits, curve = "EC", key.key_size, key.curve.name
    elif isinstance(key, ed25519.Ed25519PublicKey):
        key_type, bits, curve = "Ed25519", 256, None
    elif isinstance(key, ed448.Ed448PublicKey):
        key_type, bits, curve = "Ed448", 456, None
    elif isinstance(key, dsa.DSAPublicKey):
        key_type, bits, curve = "DSA", key.key_size, None
    else:
        key_type, bits, curve = type(key).__name__, None, None
    try:
        sig_hash = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None
    except Exception:  # noqa: BLE001 - unknown algorithms raise UnsupportedAlgorithm
        sig_hash = None
    dns_names: list[str] = []
    ip_names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = san.get_values_for_type(x509.DNSName)
        ip_names = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    except ValueError:
        pass
    cns = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    is_ca = None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        pass
    aia = []
    try:
        for desc in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value:
            aia.append({"method": desc.access_method._name, "url": str(desc.access_location.value)})
    except (x509.ExtensionNotFound, ValueError):
        pass
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    oid = cert.signature_algorithm_oid
    return {
        "subject": _name(cert.subject),
        "issuer": _name(cert.issuer),
        "common_names": [str(c) for c in cns],
        "dns_names": dns_names,
        "ip_names": ip_names,
        "key_type": key_type,
        "key_bits": bits,
        "curve": curve,
        "signature_algorithm": getattr(oid, "_name", oid.dotted_string),
        "signature_hash": sig_hash,
        "not_before": _iso(nb),
        "not_after": _iso(na),
        "lifetime_days": round((na - nb).total_seconds() / 86400, 2),
        "self_issued": cert.subject == cert.issuer,
        "is_ca": is_ca,
        "serial": format(cert.serial_number, "x"),
        "sha256": hashlib.sha256(der).hexdigest(),
        "aia": aia,
    }


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hostname_matches(host: str, dns_names: list[str], ip_names: list[str], common_names: list[str]) -> bool:
    """RFC 6125 matching of an ASCII host (or IP literal) against a certificate's names.

    SAN wins over CN (CN only when there is no SAN at all); a wildcard stands for exactly one whole
    left-most label and never matches inside an IDN A-label (xn--).
    """
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        return any(ipaddress.ip_address(i) == ip for i in ip_names)
    except ValueError:
        pass
    names = dns_names if (dns_names or ip_names) else common_names
    for pattern in names:
        pattern = pattern.rstrip(".").lower()
        if pattern == host:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            head, _, rest = host.partition(".")
            if rest and rest == pattern[2:] and head and not head.startswith("xn--") and rest.count(".") >= 1:
                return True
    return False
