"""The TLS probe against real servers on loopback: Python ssl servers with certificates made here, and
small hostile servers (closed port, reset, silence, garbage, truncated record, HTTP, huge chain)."""

from __future__ import annotations

import datetime as dt
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from netready.evaluate import registry
from netready.model import ProbeSettings, Target
from netready.probes import tls
from netready.views.tls import render_tls_text

HOST = "portal.example"
NOW = dt.datetime.now(dt.UTC)


# --- a tiny PKI ------------------------------------------------------------------------------------------


def _cert(cn: str, key, issuer_cert, issuer_key, *, ca: bool, names: list[str] = (), days: tuple[int, int] = (-1, 90)):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(issuer_cert.subject if issuer_cert else subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW + dt.timedelta(days=days[0])).not_valid_after(NOW + dt.timedelta(days=days[1]))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                          content_commitment=False, key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
    return b.sign(issuer_key or key, hashes.SHA256())


class PKI:
    def __init__(self, d: Path) -> None:
        self.d = d
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _cert("Test Root", self.root_key, None, None, ca=True, days=(-10, 3650))
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = _cert("Test Intermediate", self.int_key, self.root, self.root_key, ca=True, days=(-10, 1000))
        self.ca_file = d / "root.pem"
        self.ca_file.write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        self.leaf_key = rsa.generate_private_key(65537, 2048)

    def chain_file(self, name: str, certs: list, key) -> Path:
        p = self.d / f"{name}.pem"
        p.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
                      + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
        return p

    def leaf(self, names: list[str], days=(-1, 90)):
        return _cert(names[0], self.leaf_key, self.inter, self.int_key, ca=False, names=names, days=days)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))


# --- servers -----------------------------------------------------------------------------------------------


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(handler: Callable[[socket.socket], None]) -> Iterator[int]:
    class H(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                handler(self.request)
            except OSError:
                pass

    srv = _Server(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def _tls_handler(chain: Path, hsts: str | None = "max-age=63072000") -> Callable[[socket.socket], None]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain)

    def handle(sock: socket.socket) -> None:
        sock.settimeout(3)
        try:
            with ctx.wrap_socket(sock, server_side=True) as s:
                s.recv(4096)
                extra = f"Strict-Transport-Security: {hsts}\r\n" if hsts else ""
                s.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n{extra}Connection: close\r\n\r\nok".encode())
        except (ssl.SSLError, OSError):
            pass

    return handle


@pytest.fixture(scope="module")
def settings(pki) -> ProbeSettings:
    return ProbeSettings(ca_file=str(pki.ca_file), timeout=1.0, budget=8.0)


def _scan(port: int, settings: ProbeSettings, sni: str = HOST):
    obs = tls.scan_host(HOST, port, ["127.0.0.1"], sni, settings)
    assert len(obs) == 1
    return obs[0]


def _judge(obs) -> dict[str, str]:
    from netready.profiles import load_profile

    target = Target(HOST, HOST, ["127.0.0.1"])
    prof = load_profile("circular32")
    out = {}
    for rule, fn in registry().items():
        if rule.startswith(("VN-HTTPS", "VN-TLS", "BP-TLS", "BP-HSTS", "BP-OCSP")):
            res = fn(target, [obs], prof)
            assert len(res) == 1 and res[0].subject == "127.0.0.1"
            assert res[0].en and res[0].vi
            out[rule] = res[0].verdict
    return out


# --- certificate cases on a real (Python/OpenSSL) TLS server -------------------------------------------------


def test_good_chain(pki, settings):
    chain = pki.chain_file("good", [pki.leaf([HOST]), pki.inter], pki.leaf_key)
    for port in _serve(_tls_handler(chain)):
        obs = _scan(port, settings)
    assert obs.error is None, obs.error
    d = obs.data
    assert d["versions"]["TLSv1.2"]["accepted"] is True and d["versions"]["TLSv1.3"]["accepted"] is True
    assert all(d["versions"][v]["accepted"] is False for v in ("SSLv3", "TLSv1.0", "TLSv1.1"))
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in d["versions"]["TLSv1.2"]["suites"]
    assert d["certificate"]["valid"] and d["certificate"]["intermediates_sent"]
    assert d["certificate"]["chain"][0]["key_bits"] == 2048
    assert "x25519" in d["groups"]["accepted"]
    assert d["http"]["https"]["status"] == 200 and d["http"]["hsts"]["max_age"] == 63072000
    assert d["counts"]["tcp_connections"] >= d["counts"]["raw_hellos"] + 1
    v = _judge(obs)
    assert v["VN-HTTPS"] == "pass" and v["VN-TLS-CA"] == "pass" and v["VN-TLS12"] == "pass"
    assert v["VN-TLS-KEY2048"] == "pass" and v["BP-TLS-LEGACY-OFF"] == "pass" and v["BP-TLS13"] == "pass"
    assert v["BP-HSTS"] == "pass" and v["BP-OCSP"] == "info" and v["BP-TLS-CERT"] == "pass"
    assert v["VN-HTTPS-FORCED"] == "error"  # port 80 is only probed when the port is 443
    text = render_tls_text([obs], "vi")
    assert "TLSv1.2" in text and "chấp nhận" in text


def test_missing_intermediate(pki, settings):
    chain = pki.chain_file("noint", [pki.leaf([HOST])], pki.leaf_key)
    for port in _serve(_tls_handler(chain)):
        obs = _scan(port, settings)
    c = obs.data["certificate"]
    assert c["reasons"] == ["missing_intermediate"] and not c["intermediates_sent"]
    v = _judge(obs)
    assert v["VN-TLS-CA"] == "fail" and v["BP-TLS-CERT"] == "fail"


def test_expired_and_mismatch(pki, settings):
    chain = pki.chain_file("exp", [pki.leaf(["other.example"], days=(-100, -5)), pki.inter], pki.leaf_key)
    for port in _serve(_tls_handler(chain)):
        obs = _scan(port, settings)
    reasons = obs.data["certificate"]["reasons"]
    assert "expired" in reasons and "hostname_mismatch" in reasons
    assert _judge(obs)["VN-TLS-CA"] == "fail"


def test_self_signed(pki, settings, tmp_path):
    key = rsa.generate_private_key(65537, 2048)
    cert = _cert(HOST, key, None, None, ca=False, names=[HOST], days=(-1, 3650))
    chain = pki.chain_file("self", [cert], key)
    for port in _serve(_tls_handler(chain, hsts=None)):
        obs = _scan(port, settings)
    assert obs.data["certificate"]["reasons"] == ["self_signed"]
    v = _judge(obs)
    assert v["VN-TLS-CA"] == "fail" and v["BP-TLS-CERT"] == "fail" and v["BP-HSTS"] == "fail"


def test_sni_mismatch(pki, settings):
    chain = pki.chain_file("sni", [pki.leaf(["www.portal.example"]), pki.inter], pki.leaf_key)
    for port in _serve(_tls_handler(chain)):
        obs = _scan(port, settings, sni=HOST)
    assert obs.data["certificate"]["reasons"] == ["hostname_mismatch"]
    assert "www.portal.example" in _judge_msg(obs, "VN-TLS-CA")


def _judge_msg(obs, rule: str) -> str:
    from netready.profiles import load_profile

    return registry()[rule](Target(HOST, HOST, ["127.0.0.1"]), [obs], load_profile("circular32"))[0].en


def test_very_long_chain(pki, settings):
    certs, key, issuer, ikey = [], None, pki.inter, pki.int_key
    for i in range(30):  # 30 more intermediates: a 32-certificate chain
        key = ec.generate_private_key(ec.SECP256R1())
        c = _cert(f"Sub CA {i}", key, issuer, ikey, ca=True, days=(-1, 100))
        certs.append(c)
        issuer, ikey = c, key
    leaf = _cert(HOST, pki.leaf_key, issuer, ikey, ca=False, names=[HOST])
    chain = pki.chain_file("long", [leaf, *reversed(certs), pki.inter], pki.leaf_key)
    for port in _serve(_tls_handler(chain)):
        t0 = time.monotonic()
        obs = _scan(port, settings)
        assert time.monotonic() - t0 < 5
    c = obs.data["certificate"]
    assert c["chain_length"] == 32 and len(c["chain"]) == 20  # described up to MAX_CHAIN, counted in full
    assert obs.data["versions"]["TLSv1.2"]["accepted"] is True


# --- hostile servers --------------------------------------------------------------------------------------


def test_closed_port(settings):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    obs = _scan(port, settings)
    assert obs.error and "refused" in obs.error
    assert obs.data["counts"]["tcp_connections"] == 1  # no pointless retries on a closed port
    v = _judge(obs)
    assert v["VN-HTTPS"] == "fail" and v["VN-TLS-CA"] == "info" and v["VN-TLS12"] == "info"  # consequences


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.recv(10)
    sock.close()


def _silent(sock: socket.socket) -> None:
    time.sleep(4)


def _garbage(sock: socket.socket) -> None:
    sock.recv(4096)
    sock.sendall(b"\x00\xffgarbage that is not TLS at all" * 4)


def _truncated(sock: socket.socket) -> None:
    sock.recv(4096)
    sock.sendall(b"\x16\x03\x03\x01\xf4" + b"\x02\x00\x01\xf0" + b"\x03\x03")  # 500-byte record, 6 bytes sent


def _http(sock: socket.socket) -> None:
    sock.recv(4096)
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.mark.parametrize("handler,word", [(_reset, "reset"), (_garbage, "not_tls"), (_truncated, "truncated"),
                                          (_http, "HTTP/1.1")])
def test_hostile(handler, word, settings):
    for port in _serve(handler):
        t0 = time.monotonic()
        obs = _scan(port, settings)
        elapsed = time.monotonic() - t0
    assert obs.error and word in (obs.error + " ".join(obs.data.get("errors", [])) + str(obs.data["versions"]))
    assert elapsed < 3 and obs.data["counts"]["raw_hellos"] <= 10  # a reset is tried twice
    v = _judge(obs)
    assert v["VN-HTTPS"] == "fail" and v["VN-TLS-CA"] == "info"


def test_silent_server_respects_budget(settings):
    quick = ProbeSettings(ca_file=settings.ca_file, timeout=0.4, budget=2.0)
    for port in _serve(_silent):
        t0 = time.monotonic()
        obs = _scan(port, quick)
        elapsed = time.monotonic() - t0
    assert elapsed < quick.budget + 1.0, elapsed  # the per-address budget holds against a silent peer
    assert obs.error and "timeout" in obs.error
    assert _judge(obs)["VN-HTTPS"] == "error"  # silence is not a proof that HTTPS is absent


def test_unresolvable_name():
    # no resolvers and a root-hints file with no server: resolution must fail fast, as an observation
    obs = tls.scan_host("no-such-name.invalid", settings=ProbeSettings(resolvers=["127.0.0.1"], timeout=0.3))
    assert len(obs) == 1 and obs[0].error and obs[0].id == "tls:no-such-name.invalid"
    assert obs[0].data == {"name_problem": "unresolved"}


def test_run_without_addresses():
    obs = tls.run(Target("x.example", "x.example"), ProbeSettings())
    assert obs[0].error and "no A or AAAA" in obs[0].error
