"""Lab PKI with `cryptography`: root CA -> intermediate CA -> one leaf per portal (SAN = portal name)."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .sysutil import write_private

DAY = dt.timedelta(days=1)


@dataclass
class Issuer:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass
class LeafFiles:
    key: Path
    cert: Path
    chain: Path  # what nginx sends: leaf + intermediate, or the leaf alone


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "netready lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_key(path: Path, key) -> None:
    """0600 from the first byte (sysutil.write_private), never written first and narrowed after."""
    write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def _ca(cn: str, key, issuer: Issuer | None, now: dt.datetime, days: int, pathlen: int | None) -> Issuer:
    signer = issuer.key if issuer else key
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.cert.subject if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + days * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=pathlen), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return Issuer(b.sign(signer, hashes.SHA256()), key)


def make_cas(d: Path, now: dt.datetime) -> tuple[Issuer, Issuer]:
    """Root (10 years) and intermediate (5 years), ECDSA P-256 (fast to make); root.pem = the CA bundle."""
    d.mkdir(parents=True, exist_ok=True)
    root = _ca("netready Lab Root CA", ec.generate_private_key(ec.SECP256R1()), None, now, 3650, None)
    inter = _ca("netready Lab Issuing CA 1", ec.generate_private_key(ec.SECP256R1()), root, now, 1825, 0)
    (d / "root.pem").write_bytes(_pem(root.cert))
    (d / "intermediate.pem").write_bytes(_pem(inter.cert))
    _write_key(d / "root.key", root.key)
    _write_key(d / "intermediate.key", inter.key)
    return root, inter


OCSP_URL = "http://ocsp.netready-lab.test/"  # named in the leaves of the ocsp scenarios; nothing serves it


def make_leaf(
    d: Path,
    names: list[str],
    inter: Issuer,
    now: dt.datetime,
    kind: str = "good",
    send_intermediate: bool = True,
    bits: int | None = None,
    key_type: str = "rsa",
) -> LeafFiles:
    """kind: good (90 days) | rsa1024 | expired (ended 30 days ago) | selfsigned (10 years) | ocsp (names an
    OCSP responder) | muststaple (names one and carries the RFC 7633 TLS feature status_request).
    key_type: rsa | ec (P-256)."""
    d.mkdir(parents=True, exist_ok=True)
    if key_type == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(65537, bits or (1024 if kind == "rsa1024" else 2048))
    start, end = now - DAY, now + 90 * DAY
    if kind == "expired":
        start, end = now - 120 * DAY, now - 30 * DAY
    elif kind == "selfsigned":
        end = now + 3650 * DAY
    subject = _name(names[0])
    issuer_name, signer = (subject, key) if kind == "selfsigned" else (inter.cert.subject, inter.key)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # RSA leaves may also be used for static-RSA key exchange (cbconly): keyEncipherment, which browsers
            # check (Chrome: ERR_SSL_KEY_USAGE_INCOMPATIBLE without it); an EC leaf signs only
            x509.KeyUsage(True, True, key_type != "ec", False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if kind != "selfsigned":
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter.key.public_key()), critical=False
        )
    if kind in ("ocsp", "muststaple"):
        b = b.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_URL))]), critical=False)
    if kind == "muststaple":
        b = b.add_extension(x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
    cert = b.sign(signer, hashes.SHA256())
    files = LeafFiles(d / "key.pem", d / "cert.pem", d / "chain.pem")
    _write_key(files.key, key)
    files.cert.write_bytes(_pem(cert))
    send = send_intermediate and kind != "selfsigned"
    files.chain.write_bytes(_pem(cert) + (_pem(inter.cert) if send else b""))
    return files


def make_staple(leaf_pem: Path, inter: Issuer, now: dt.datetime, path: Path) -> Path:
    """A good OCSP response for the leaf, signed by its issuer, valid for a week from an hour ago (DER, for
    nginx's ssl_stapling_file): what a responder would have said, made offline."""
    from cryptography.x509 import ocsp

    leaf = x509.load_pem_x509_certificate(leaf_pem.read_bytes())
    resp = (
        ocsp.OCSPResponseBuilder()
        .add_response(cert=leaf, issuer=inter.cert, algorithm=hashes.SHA256(), cert_status=ocsp.OCSPCertStatus.GOOD,
                      this_update=now - dt.timedelta(hours=1), next_update=now + 7 * DAY,
                      revocation_time=None, revocation_reason=None)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, inter.cert)
        .sign(inter.key, hashes.SHA256())
    )
    path.write_bytes(resp.public_bytes(serialization.Encoding.DER))
    return path


def _pi_bits(bits: int) -> int:
    """floor(pi * 2**bits), Machin's formula in integers (exact enough with 64 guard bits)."""
    one = 1 << (bits + 64)

    def atan_inv(x: int) -> int:
        total, term, n, sign = 0, one // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n += 2
            sign = -sign
        return total

    return (16 * atan_inv(5) - 4 * atan_inv(239)) >> 64


def weak_dhparam(path: Path) -> None:
    """RFC 2409 group 2 (1024-bit MODP), computed rather than generated: instant and well known."""
    p = 2**1024 - 2**960 - 1 + 2**64 * (_pi_bits(894) + 129093)
    assert pow(2, p - 1, p) == 1, "group 2 prime miscomputed"
    with warnings.catch_warnings():  # FFDH is deprecated in cryptography: weak on purpose here
        warnings.simplefilter("ignore")
        params = dh.DHParameterNumbers(p, 2).parameters()
    path.write_bytes(params.parameter_bytes(serialization.Encoding.PEM, serialization.ParameterFormat.PKCS3))
