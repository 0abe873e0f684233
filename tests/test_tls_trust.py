"""The trust store netready builds from the system roots and the given CA file (probes/tls_trust.py)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _negative_serial_root() -> bytes:
    """A root certificate whose serial reads as -1 (the DER integer patched after signing: loading does not check
    the signature; several real system roots have non-positive serials, which cryptography warns about)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Negative Serial Root")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    at = der.index(b"\xa0\x03\x02\x01\x02\x02\x01\x01") + 7  # version v3, then the serial INTEGER 1
    der = der[:at] + b"\xff" + der[at + 1:]
    import base64

    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()


def test_a_root_with_a_non_positive_serial_prints_no_warning_when_checks_load_the_store_side_by_side(tmp_path):
    # Each load used to sit in its own warnings.catch_warnings(), which is not thread-safe: the first targets of a
    # batch build the store side by side, one thread restored the filters while another loaded, and the warning
    # reached the user's stderr now and then (seen on a `netready check`).
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(_negative_serial_root() * 50)
    code = f"""
import sys, threading, warnings
sys.setswitchinterval(1e-6)  # threads take turns as often as they can: the race shows at once
from cryptography import x509
with open({str(bundle)!r}, "rb") as fh:
    cert = x509.load_pem_x509_certificate(fh.read())
assert cert.serial_number < 0   # the precondition: this certificate makes cryptography warn
from netready.probes import tls_trust
for _ in range(40):
    tls_trust.trust_store.cache_clear()
    threads = [threading.Thread(target=tls_trust.trust_store, args=({str(bundle)!r},)) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
print("roots", tls_trust.trust_store({str(bundle)!r})[1])
"""
    out = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "serial number" in out.stderr  # the precondition's own load and read warn: the warning is on
    assert "tls_trust.py" not in out.stderr, out.stderr
    assert out.stdout.startswith("roots ") and int(out.stdout.split()[1]) >= 1


def test_the_store_warns_nothing_under_a_callers_own_warning_filters(tmp_path):
    # pytest (or any caller) sets its own filters around each test: a filter set once at import was gone there
    # and the warning reached the test summary; the store adds its filter where it is missing.
    import warnings

    from netready.probes import tls_trust

    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(_negative_serial_root())
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        tls_trust.trust_store.cache_clear()
        tls_trust.trust_store(str(bundle))
    assert not [w for w in caught if "serial number" in str(w.message)], [str(w.message) for w in caught]
