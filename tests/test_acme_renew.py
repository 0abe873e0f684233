"""ACME Renewal Information (RFC 9773) in the tls role's renewal helper (netready-acme-renew, run by certbot's
timer on the server): the certificate ID of the RFC's example, and the decision against a small HTTPS ACME
directory on loopback that offers renewalInfo (renew once the window started, wait before, certbot's own
schedule when the CA offers no ARI or answers garbage)."""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
import json
import os
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HELPER = Path(__file__).resolve().parent.parent / "playbooks/roles/tls/files/netready-acme-renew"


def _helper():
    loader = importlib.machinery.SourceFileLoader("netready_acme_renew", str(HELPER))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_certificate_id_is_rfc_9773s():
    h = _helper()
    aki = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    assert f"{h.b64url(aki)}.{h.b64url(h.serial_der_bytes(0x0087654321))}" == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    assert h.serial_der_bytes(0x7F) == b"\x7f" and h.serial_der_bytes(0x80) == b"\x00\x80"


def _cert(d: Path, cn: str, ca=None, ip: str | None = None) -> tuple:
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = ca if ca else (None, key)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_cert.subject if issuer_cert else name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=10))
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    if ca is None:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if ip:
        import ipaddress

        b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    cert = b.sign(issuer_key, hashes.SHA256())
    return cert, key


class _Acme(BaseHTTPRequestHandler):
    directory: dict = {}
    windows: dict = {}
    asked: list = []

    def do_GET(self):  # noqa: N802
        if self.path == "/dir":
            body = json.dumps(self.directory).encode()
        elif self.path.startswith("/ari/"):
            self.asked.append(self.path[5:])
            body = self.windows.get("raw") or json.dumps({"suggestedWindow": self.windows}).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    d = tmp_path_factory.mktemp("acme")
    ca, ca_key = _cert(d, "stub ACME CA")
    server_cert, server_key = _cert(d, "127.0.0.1", (ca, ca_key), ip="127.0.0.1")
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "server.pem").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    (d / "server.key").write_bytes(server_key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Acme)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "server.pem", d / "server.key")
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    # a certbot lineage whose certificate comes from the stub CA
    leaf, _ = _cert(d, "dichvucong.example.gov.vn", (ca, ca_key))
    conf = d / "letsencrypt"
    (conf / "renewal").mkdir(parents=True)
    (conf / "live/portal").mkdir(parents=True)
    (conf / "live/portal/cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (conf / "renewal/portal.conf").write_text(
        f"version = 2.1.0\ncert = {conf}/live/portal/cert.pem\n\n[renewalparams]\nauthenticator = webroot\n"
        f"server = https://127.0.0.1:{port}/dir\n")
    yield {"port": port, "conf": conf, "ca": d / "ca.pem", "leaf": leaf}
    httpd.shutdown()


def _decide(acme, directory, window=None, now="2030-01-15T00:00:00Z") -> str:
    _Acme.directory = directory
    _Acme.windows = window or {}
    out = subprocess.run([sys.executable, str(HELPER), "--config-dir", str(acme["conf"]), "--dry-run", "--now", now],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, SSL_CERT_FILE=str(acme["ca"])))
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_renews_once_the_ari_window_has_started(acme):
    ari = {"renewalInfo": f"https://127.0.0.1:{acme['port']}/ari"}
    _Acme.asked.clear()
    out = _decide(acme, ari, {"start": "2030-01-10T00:00:00Z", "end": "2030-01-20T00:00:00Z"})
    assert out.startswith("portal: renew: ARI window 2030-01-10T00:00:00Z"), out
    h = _helper()
    assert _Acme.asked == [h.cert_id(acme["leaf"].public_bytes(serialization.Encoding.PEM))]


def test_waits_before_the_ari_window_whatever_the_expiry(acme):
    ari = {"renewalInfo": f"https://127.0.0.1:{acme['port']}/ari"}
    out = _decide(acme, ari, {"start": "2030-02-10T00:00:00Z", "end": "2030-02-20T00:00:00Z"})
    assert out.startswith("portal: wait: ARI window starts 2030-02-10"), out


def test_without_ari_certbot_decides(acme):
    assert _decide(acme, {"newNonce": "x"}).startswith("portal: no-ari: the CA offers no renewalInfo")


BACKWARDS = b'{"suggestedWindow": {"start": "2030-02-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}}'


@pytest.mark.parametrize("raw", [b"not json", b'{"suggestedWindow": {"start": "x"}}', b"{}", BACKWARDS])
def test_garbage_renewal_information_falls_back_to_certbots_schedule(acme, raw):
    ari = {"renewalInfo": f"https://127.0.0.1:{acme['port']}/ari"}
    out = _decide(acme, ari, {"raw": raw})
    assert out.startswith("portal: no-ari: renewal information unavailable"), out
