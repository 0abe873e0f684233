"""Loopback TLS servers for the TLS verdict tests: real ones (Python's ssl on the system OpenSSL, pyOpenSSL on
the wheel's OpenSSL with ML-KEM and OCSP stapling) and a hostile "gate" in front of them.

The gate reads each connection's ClientHello, asks a policy what to do with it, and then proxies the bytes
to a real backend, stays silent, resets, or answers bytes of its own: a middlebox that drops TLS 1.0, a
server that wants extended_master_secret, one that chokes on 128 suites or on a large post-quantum hello,
one that sends a warning alert first, one that picks a suite nobody offered.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tls_fakes import _pipe as copy_until_eof  # one direction, then half-close

from netready.lab import pqweb

NOW = dt.datetime.now(dt.UTC)
PAGE = b"<html><body><h1>Cong dich vu cong</h1><p>test portal</p></body></html>\n"


# --- certificates ---------------------------------------------------------------------------------------------


def pem(*items) -> bytes:
    out = b""
    for it in items:
        if isinstance(it, x509.Certificate):
            out += it.public_bytes(serialization.Encoding.PEM)
        else:
            out += it.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return out


def cert(cn: str, key, issuer=None, issuer_key=None, *, ca: bool = False, names: list[str] | None = None,
         days: tuple[float, float] = (-1, 90), extensions: list = (), aki: bool = True) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(issuer.subject if issuer is not None else subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW + dt.timedelta(days=days[0])).not_valid_after(NOW + dt.timedelta(days=days[1]))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer is not None and aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
    if names is not None:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    else:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    for ext in extensions:
        b = b.add_extension(ext, critical=False)
    return b.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


@dataclass
class PKI:
    d: Path
    root_key: object = None
    root: x509.Certificate = None  # type: ignore[assignment]
    int_key: object = None
    inter: x509.Certificate = None  # type: ignore[assignment]
    ca_file: Path = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = cert("Gate Test Root", self.root_key, ca=True, days=(-10, 3650))
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = cert("Gate Test Intermediate", self.int_key, self.root, self.root_key, ca=True, days=(-10, 1000))
        self.ca_file = self.d / "gate-root.pem"
        self.ca_file.write_bytes(pem(self.root))

    def leaf(self, names: list[str] | None, key=None, days=(-1, 90), cn: str | None = None, extensions=()):
        key = key or rsa.generate_private_key(65537, 2048)
        return cert(cn or (names[0] if names else "leaf"), key, self.inter, self.int_key, names=names, days=days,
                    extensions=extensions), key

    def files(self, name: str, certs: list, key) -> tuple[Path, Path]:
        chain, keyfile = self.d / f"{name}.pem", self.d / f"{name}.key"
        chain.write_bytes(pem(*certs))
        keyfile.write_bytes(pem(key))
        return chain, keyfile


def openssl_sign_sha1(d: Path, subject_cn: str, subject_key, issuer: x509.Certificate, issuer_key,
                      ca: bool) -> x509.Certificate:
    """A certificate signed with SHA-1 (cryptography refuses to make one): by the openssl command."""
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
           .sign(subject_key, hashes.SHA256()))
    tag = subject_cn.replace(" ", "_")
    (d / f"{tag}.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    (d / f"{tag}-issuer.pem").write_bytes(pem(issuer))
    (d / f"{tag}-issuer.key").write_bytes(pem(issuer_key))
    ext = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n" if ca else \
        "basicConstraints=critical,CA:FALSE\n"
    (d / f"{tag}.ext").write_text(ext + "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(d / f"{tag}.csr"), "-CA", str(d / f"{tag}-issuer.pem"),
                    "-CAkey", str(d / f"{tag}-issuer.key"), "-sha1", "-days", "300", "-set_serial", "4242",
                    "-extfile", str(d / f"{tag}.ext"), "-out", str(d / f"{tag}.pem")],
                   check=True, capture_output=True)
    return x509.load_pem_x509_certificate((d / f"{tag}.pem").read_bytes())


def openssl_sm2_cert(d: Path) -> Path:
    """A self-signed SM2/SM3 certificate (cryptography cannot read its key or signature), by openssl."""
    key, out = d / "sm2.key", d / "sm2.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(key)], check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-subj", "/CN=SM2 cross CA", "-sm3",
                    "-days", "30", "-out", str(out)], check=True, capture_output=True)
    return out


# --- servers ----------------------------------------------------------------------------------------------------


def http_answer(status: str = "200 OK", headers: list[tuple[str, str]] = (), body: bytes = PAGE) -> bytes:
    return pqweb.http_answer(status, list(headers), body)


_read_request, request_path = pqweb.read_head, pqweb.request_path


Responder = Callable[[str], bytes]  # request path -> whole HTTP answer


def hsts_page(path: str) -> bytes:
    return http_answer(headers=[("Strict-Transport-Security", "max-age=63072000")])


class Listener:
    """A threaded TCP listener on 127.0.0.1 (port 0: any free port) calling handle(conn) per connection."""

    def __init__(self, handle: Callable[[socket.socket], None], address: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(64)
        self.address, self.port = address, self.sock.getsockname()[1]
        self.handle, self.stop = handle, threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        try:  # wakes the accept() of the loop: a bare close() would leave the port bound until it returns
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


def ssl_backend(chains: list[tuple[Path, Path]], *, ciphers: str | None = None, protocols=(ssl.TLSVersion.TLSv1_2,
                ssl.TLSVersion.TLSv1_3), dh: Path | None = None, respond: Responder = hsts_page,
                sni: Callable | None = None) -> Callable[[socket.socket], None]:
    """A real TLS server (Python ssl, system OpenSSL): certificates, suites, versions, DH group, HTTP answers."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version, ctx.maximum_version = protocols[0], protocols[-1]
    ctx.set_ciphers(ciphers or "ECDHE+AESGCM:ECDHE+CHACHA20:@SECLEVEL=0")  # Mozilla intermediate by default
    for chain, key in chains:
        ctx.load_cert_chain(chain, key)
    if dh:
        ctx.load_dh_params(str(dh))
    if sni:
        ctx.sni_callback = sni

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with ctx.wrap_socket(conn, server_side=True) as s:
                head = _read_request(s.recv)
                s.sendall(respond(request_path(head)))
        except (ssl.SSLError, OSError):
            pass

    return handle


def pyopenssl_backend(chain: Path, key: Path, *, groups: bytes | None = None, staple: bytes | None = None,
                      respond: Responder = hsts_page) -> Callable[[socket.socket], None]:
    """A TLS server on the wheel's OpenSSL (ML-KEM groups; an OCSP staple through pyOpenSSL's callback)."""
    from cryptography.hazmat.bindings.openssl.binding import Binding
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.use_certificate_chain_file(str(chain))
    ctx.use_privatekey_file(str(key))
    if groups:
        assert Binding().lib.SSL_CTX_set1_curves_list(ctx._context, groups) == 1
    if staple is not None:
        ctx.set_ocsp_server_callback(lambda conn, data: staple)

    def handle(conn: socket.socket) -> None:
        conn.setblocking(True)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 5, 0))
        tls = SSL.Connection(ctx, conn)
        tls.set_accept_state()
        try:
            tls.do_handshake()
            head = _read_request(tls.recv)
            tls.sendall(respond(request_path(head)))
            tls.shutdown()
        except (SSL.Error, OSError):
            pass

    return handle


# --- the gate ------------------------------------------------------------------------------------------------


@dataclass
class Hello:
    """What the gate saw of one ClientHello."""

    raw: bytes  # the whole first record
    record_length: int
    legacy_version: int
    suites: list[int]
    extensions: list[int]
    versions: list[int]  # supported_versions, empty when absent

    @property
    def top_version(self) -> int:
        return max(self.versions) if self.versions else self.legacy_version


def read_hello(conn: socket.socket) -> Hello | None:
    conn.settimeout(5)
    buf = b""
    while len(buf) < 5:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    if buf[0] != 0x16:  # an SSLv2-format hello (the weakness checks send one) or garbage: no TLS record
        return Hello(buf, len(buf), int.from_bytes(buf[3:5], "big") if buf[0] & 0x80 else 0, [], [], [])
    rlen = int.from_bytes(buf[3:5], "big")
    while len(buf) < 5 + rlen:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    body = buf[9 : 5 + rlen]
    legacy = int.from_bytes(body[0:2], "big")
    pos = 34 + 1 + body[34]
    clen = int.from_bytes(body[pos : pos + 2], "big")
    suites = list(struct.unpack(f"!{clen // 2}H", body[pos + 2 : pos + 2 + clen]))
    pos += 2 + clen
    pos += 1 + body[pos]
    exts, versions = [], []
    if pos + 2 <= len(body):
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            etype, elen = struct.unpack_from("!HH", body, pos)
            if etype == 43:
                vb = body[pos + 5 : pos + 4 + elen]
                versions = [int.from_bytes(vb[i : i + 2], "big") for i in range(0, len(vb), 2)]
            exts.append(etype)
            pos += 4 + elen
    return Hello(buf, rlen, legacy, suites, exts, versions)


ALERT_HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"


@dataclass
class Gate:
    """Policy: hello -> "proxy" | "silent" | "reset" | bytes (sent, then the connection closes) | ("late", s):
    the real server's answer, but only after s seconds (a server too busy to answer in time)."""

    policy: Callable[[Hello, int], object]
    backend: Listener | None = None
    seen: list[Hello] = field(default_factory=list)
    connections: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections += 1
            n = self.connections
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._handle(conn, n)
        finally:
            with self.lock:
                if not getattr(threading.current_thread(), "gate_done", False):
                    self.in_flight -= 1

    def _handle(self, conn: socket.socket, n: int) -> None:
        hello = read_hello(conn)
        if hello is None:
            return
        with self.lock:
            self.seen.append(hello)
        action = self.policy(hello, n)
        if action == "silent":
            conn.settimeout(10)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            return
        if action == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if isinstance(action, bytes):
            conn.sendall(action)
            return
        if isinstance(action, tuple) and action[0] == "prefix":  # some bytes, then the real server's answer
            conn.sendall(action[1])
        if isinstance(action, tuple) and action[0] == "late":
            time.sleep(action[1])
        assert self.backend is not None
        up = socket.create_connection((self.backend.address, self.backend.port), timeout=5)
        up.sendall(hello.raw)
        _pipe(conn, up, self._client_done)

    def _client_done(self) -> None:
        """The client closed its side: it no longer counts as a connection in flight (called in the handler's
        own thread, which then only waits for the backend to finish)."""
        with self.lock:
            self.in_flight -= 1
        threading.current_thread().gate_done = True  # type: ignore[attr-defined]


def _pipe(a: socket.socket, b: socket.socket, client_done: Callable[[], None] | None = None) -> None:
    for s in (a, b):
        s.settimeout(5)
    t = threading.Thread(target=copy_until_eof, args=(b, a), daemon=True)
    t.start()
    copy_until_eof(a, b)
    if client_done:
        client_done()
    t.join(6)
    b.close()


def closed_port(address: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on (bound, then released): connecting gets a reset."""
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    s.bind((address, 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextmanager
def serving(handle: Callable[[socket.socket], None], address: str = "127.0.0.1") -> Iterator[Listener]:
    listener = Listener(handle, address)
    try:
        yield listener
    finally:
        listener.close()


@contextmanager
def gated(policy: Callable[[Hello, int], object], backend: Callable[[socket.socket], None] | None
          ) -> Iterator[tuple[Listener, Gate]]:
    """A gate with this policy in front of a backend server: yields (the gate's listener, the gate)."""
    back = Listener(backend) if backend else None
    gate = Gate(policy, back)
    front = Listener(gate.handle)
    try:
        yield front, gate
    finally:
        front.close()
        if back:
            back.close()


def server_hello(version: int, suite: int) -> bytes:
    """A bare TLS <= 1.2 ServerHello record choosing `suite` (what a broken server might send)."""
    body = version.to_bytes(2, "big") + bytes(32) + b"\x00" + suite.to_bytes(2, "big") + b"\x00"
    hs = b"\x02" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x03" + len(hs).to_bytes(2, "big") + hs
