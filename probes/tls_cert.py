"""Full OpenSSL handshakes per address: the certificate chain as sent, OpenSSL's opinion of it, OCSP staple.

pyOpenSSL is used (not the ssl module) because Python 3.11's ssl gives neither the chain as sent nor
every verification error. The context accepts anything (SECLEVEL=0, TLS 1.0+): this handshake is for
looking, not for trusting, so a 1024-bit key or an expired certificate must still be seen. Every
verification error is recorded by the verify callback, which then lets the handshake go on. The trust
verdict itself (path and name, RFC 9525) comes from probes/tls_trust.py; OpenSSL's is kept beside it.

`auth` restricts a handshake to RSA or ECDSA certificates (signature algorithms for TLS 1.3, suites for
TLS <= 1.2), so a server with both kinds shows both; `ciphers` replaces the offered suites (the suites
the raw scan found accepted, when the default offer was refused). No hello offers 128 suites or more.
A certificate `cryptography` cannot describe (SM2, a custom explicit curve, broken extensions) is
described as far as it can be, with the reason, and never ends the handshake's observation.
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


# What the handshake offers: every suite the library has but PSK/SRP/anonymous/NULL ones (about 70; ALL
# alone is more than 128, which some servers refuse), at security level 0 so nothing is hidden from view.
OFFER = "ALL:!PSK:!SRP:!aNULL:!eNULL:@SECLEVEL=0"
AUTH = {  # (suites for TLS <= 1.2, signature algorithms for TLS 1.3) that make the server show one key type
    "RSA": ("aRSA:!PSK:!SRP:!aNULL:!eNULL:@SECLEVEL=0",
            "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:rsa_pss_pss_sha256:rsa_pss_pss_sha384:"
            "rsa_pss_pss_sha512:RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA224:RSA+SHA1"),
    "ECDSA": ("aECDSA:!PSK:!aNULL:!eNULL:@SECLEVEL=0",
              "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA224:ECDSA+SHA1"),
}


# Classical groups only: the wheel's OpenSSL would otherwise send a ~1.2 kB X25519MLKEM768 key share, and a
# server that chokes on large hellos would look like one without TLS (BP-TLS-PQ probes that on its own).
GROUPS = b"X25519:P-256:P-384:P-521:X448:ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192"


@functools.lru_cache(maxsize=16)
def _context(ca_file: str | None, auth: str | None = None, ciphers: str | None = None):  # -> SSL.Context
    """One context per CA bundle and offer per process (loading a bundle costs milliseconds)."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_VERSION)
    suites, sigalgs = AUTH.get(auth or "", (OFFER, None))
    ctx.set_cipher_list((ciphers or suites).encode())
    from cryptography.hazmat.bindings.openssl.binding import Binding

    lib = Binding().lib
    lib.SSL_CTX_set1_curves_list(ctx._context, GROUPS)
    if sigalgs:
        lib.SSL_CTX_set1_sigalgs_list(ctx._context, sigalgs.encode())
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
        try:
            subject = _name(cert.to_cryptography().subject) if cert is not None else ""
        except Exception:  # noqa: BLE001 - a certificate cryptography cannot read still has an error to record
            subject = "(unreadable)"
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


def handshake_retried(address: str, port: int, sni: str | None, ca_file: str | None, timeout: float,
                      auth: str | None = None, ciphers: str | None = None) -> dict[str, Any]:
    """handshake(), tried once more after a timeout or a reset (one silence is not an answer)."""
    hs = handshake(address, port, sni, ca_file, timeout, auth, ciphers)
    if hs.get("kind") in ("timeout", "reset"):
        again = handshake(address, port, sni, ca_file, timeout, auth, ciphers)
        again["attempts"] = 2
        again["first_error"] = hs.get("error")
        return again
    return hs


def handshake(address: str, port: int, sni: str | None, ca_file: str | None, timeout: float,
              auth: str | None = None, ciphers: str | None = None) -> dict[str, Any]:
    """Full handshake; returns {version, cipher, chain, validation, ocsp_stapled, ...} or {error, stage, kind}.

    kind on failure: refused | unreachable (ICMP) | timeout | reset | closed | tls_error | error. The
    chain's DER is in `chain_der` (bytes: for tls_trust, not for the observation)."""
    from OpenSSL import SSL

    from netready.probes.http import DeadlineError, connect

    t0 = time.monotonic()
    deadline = t0 + timeout
    out: dict[str, Any] = {"error": None, "stage": "connect"}
    sock: socket.socket | None = None
    conn = None
    try:
        try:
            sock = connect(address, port, deadline)
        except DeadlineError as exc:
            raise TimeoutError from exc
        sock.setblocking(False)
        out["stage"] = "tls"
        state: dict[str, Any] = {"verify_errors": [], "ocsp": None}
        conn = SSL.Connection(_context(ca_file, auth, ciphers), sock)
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
        try:
            out["group"] = conn.get_group_name()
        except Exception:  # noqa: BLE001 - not every build can name it
            out["group"] = None
        ders = [_der(c) for c in conn.get_peer_cert_chain() or []]
        verified = [_der(c) for c in conn.get_verified_chain() or []] if not state["verify_errors"] else []
        out["chain_length"] = len(ders)
        out["chain_der"] = ders[:MAX_CHAIN]
        out["chain"] = [describe_der(d) for d in ders[:MAX_CHAIN]]
        out["verify_errors"] = [
            {
                **e,
                "reason": VERIFY_REASONS.get(e["code"], ("other", f"verify error {e['code']}"))[0],
                "text": VERIFY_REASONS.get(e["code"], ("other", f"OpenSSL verify error {e['code']}"))[1],
            }
            for e in state["verify_errors"][:50]
        ]
        out["chain_trusted"] = not state["verify_errors"]
        out["verified_chain"] = [describe_der(d)["subject"] for d in verified]
        out["verified_chain_der"] = verified
        out["ocsp_stapled"] = bool(state["ocsp"])
        out["ocsp_bytes"] = len(state["ocsp"] or b"")
        out["ocsp_der"] = state["ocsp"] or b""
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
        from netready.probes.tls_hello import UNREACHABLE

        out["error"] = f"{exc.strerror or exc}"
        out["kind"] = "unreachable" if exc.errno in UNREACHABLE else "error"
    finally:
        if conn is not None:
            try:
                conn.set_shutdown(SSL.SENT_SHUTDOWN)
            except SSL.Error:
                pass
        if sock is not None:
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


def _der(x509_obj) -> bytes:
    from OpenSSL import crypto

    return crypto.dump_certificate(crypto.FILETYPE_ASN1, x509_obj)


def describe_der(der: bytes) -> dict[str, Any]:
    """describe() of DER bytes; a certificate `cryptography` cannot even load is described by its hash
    and the reason (a bad certificate is a finding, not the end of the observation)."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
    except Exception as exc:  # noqa: BLE001 - ValueError and friends from a malformed certificate
        return {"subject": "(unreadable)", "issuer": "", "common_names": [], "dns_names": [], "ip_names": [],
                "key_type": None, "key_bits": None, "curve": None, "signature_algorithm": None,
                "signature_hash": None, "not_before": None, "not_after": None, "lifetime_days": None,
                "self_issued": False, "is_ca": None, "serial": None, "sha256": hashlib.sha256(der).hexdigest(),
                "aia": [], "unparsed": [f"certificate: {type(exc).__name__}: {exc}"]}
    return describe(cert)


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
    """Each fact on its own: a part `cryptography` cannot read (an SM2 or custom-curve key, an unknown
    signature algorithm, duplicate or malformed extensions) is left empty and named in `unparsed`."""
    from cryptography import x509

    unparsed: list[str] = []

    def attempt(what: str, fn, default):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - UnsupportedAlgorithm, ValueError, DuplicateExtension...
            unparsed.append(f"{what}: {type(exc).__name__}: {exc}")
            return default

    key_type, bits, curve = attempt("public key", lambda: _key_facts(cert), (None, None, None))
    sig_hash = attempt("signature algorithm",
                       lambda: cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else None, None)
    exts = attempt("extensions", lambda: cert.extensions, None)

    def ext(cls):
        if exts is None:
            return None
        try:
            return exts.get_extension_for_class(cls).value
        except x509.ExtensionNotFound:
            return None
        except Exception as exc:  # noqa: BLE001 - a malformed extension value
            unparsed.append(f"extension {cls.__name__}: {type(exc).__name__}: {exc}")
            return None

    san = ext(x509.SubjectAlternativeName)
    dns_names = attempt("subjectAltName", lambda: san.get_values_for_type(x509.DNSName), []) if san else []
    ip_names = attempt("subjectAltName", lambda: [str(i) for i in san.get_values_for_type(x509.IPAddress)],
                       []) if san else []
    subject = attempt("subject", lambda: cert.subject, None)
    cns = attempt("subject", lambda: [str(a.value) for a in subject.get_attributes_for_oid(
        x509.NameOID.COMMON_NAME)], []) if subject is not None else []
    bc = ext(x509.BasicConstraints)
    aia = []
    info = ext(x509.AuthorityInformationAccess)
    for desc in info or []:
        aia.append({"method": desc.access_method._name, "url": str(desc.access_location.value)})
    tls_feature = ext(x509.TLSFeature)
    must_staple = bool(tls_feature) and any(f == x509.TLSFeatureType.status_request for f in tls_feature)
    eku = ext(x509.ExtendedKeyUsage)
    nb = attempt("validity", lambda: cert.not_valid_before_utc, None)
    na = attempt("validity", lambda: cert.not_valid_after_utc, None)
    oid = cert.signature_algorithm_oid
    issuer = attempt("issuer", lambda: cert.issuer, None)
    return {
        "subject": _name(subject) if subject is not None else "(unreadable)",
        "issuer": _name(issuer) if issuer is not None else "(unreadable)",
        "common_names": cns,
        "dns_names": dns_names,
        "ip_names": ip_names,
        "has_san": san is not None,
        "key_type": key_type,
        "key_bits": bits,
        "curve": curve,
        "signature_algorithm": getattr(oid, "_name", None) or oid.dotted_string,
        "signature_hash": sig_hash,
        "not_before": _iso(nb) if nb else None,
        "not_after": _iso(na) if na else None,
        "lifetime_days": round((na - nb).total_seconds() / 86400, 2) if nb and na else None,
        "self_issued": subject is not None and issuer is not None and subject == issuer,
        "is_ca": bc.ca if bc is not None else None,
        "serial": format(cert.serial_number, "x"),
        "sha256": hashlib.sha256(der).hexdigest(),
        "aia": aia,
        "must_staple": must_staple,
        "eku": [getattr(u, "_name", None) or u.dotted_string for u in eku] if eku is not None else None,
        "unparsed": unparsed,
    }


def _key_facts(cert) -> tuple[str, int | None, str | None]:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, None, None


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def hostname_matches(host: str, dns_names: list[str], ip_names: list[str], common_names: list[str]) -> bool:
    """RFC 9525 matching of an ASCII host (or IP literal) against a certificate's names, the fallback
    when `cryptography`'s verifier (probes/tls_trust.py) cannot say.

    Only subjectAltName counts: no CN fallback, so a CN-only certificate matches nothing (RFC 9525 6.3,
    CA/B BR 7.1.2.7, Chrome since 58). A wildcard is exactly one whole left-most label, and it covers any
    label there, an IDN A-label (xn--) included (RFC 9525 6.3: "*" matches one entire label).
    common_names is kept in the signature for callers; it is not consulted.
    """
    host = host.rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        return any(ipaddress.ip_address(i) == ip for i in ip_names)
    except ValueError:
        pass
    for pattern in dns_names:
        pattern = pattern.rstrip(".").lower()
        if pattern == host:
            return True
        if pattern.startswith("*.") and "*" not in pattern[2:]:
            head, _, rest = host.partition(".")
            if head and rest == pattern[2:] and rest.count(".") >= 1:
                return True
    return False
