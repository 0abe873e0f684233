"""Hostile servers, bounded (issue #15, item 10): Hypothesis fuzzes every parser that reads server bytes.

Each parser is driven two ways: the pure function on generated input (HSTS values, Location values, ServerHello
and ServerKeyExchange bodies, DNS wire messages), and the real socket code against a small loopback server that
answers whatever Hypothesis made (HTTP heads with chunked bodies, TLS records, DNS over UDP and TCP), sometimes
without ever closing. The properties: no exception escapes, and every call ends within its time budget.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netready.probes import dns as pdns
from netready.probes import dns_transport, http, tls_hello

TIMEOUT = 0.25  # the budget each network call gets
SLACK = 0.75  # what scheduling on a busy 2-core machine may add on top of it
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


# --- a loopback server that answers with whatever the test says --------------------------------------------------

class HostileServer:
    """TCP and UDP on one 127.0.0.1 port; each connection or datagram gets `reply(request)` back, and the TCP
    connection is then closed, or held open without a word (stall) until the client gives up."""

    def __init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.tcp.listen(64)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.reply = lambda request: b""
        self.stall = False
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._tcp_loop, daemon=True),
                        threading.Thread(target=self._udp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def _tcp_loop(self) -> None:
        self.tcp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            try:
                request = conn.recv(65536)
            except OSError:
                request = b""
            try:
                conn.sendall(self.reply(request))
                if self.stall:
                    time.sleep(TIMEOUT + 0.3)
            except OSError:
                pass

    def _udp_loop(self) -> None:
        self.udp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                request, peer = self.udp.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            if not self.stall:
                try:
                    self.udp.sendto(self.reply(request)[:65507], peer)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(2)
        self.tcp.close()
        self.udp.close()


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    s = HostileServer()
    yield s
    s.close()


def bounded(fn, *args, **kwargs):
    t0 = time.monotonic()
    out = fn(*args, **kwargs)
    elapsed = time.monotonic() - t0
    assert elapsed < TIMEOUT + SLACK, f"{fn.__name__} took {elapsed:.2f} s (budget {TIMEOUT} s)"
    return out


stalls = st.integers(0, 9).map(lambda n: n == 0)  # one call in ten meets a server that never closes


# --- HSTS and Location: the values a server picks --------------------------------------------------------------

header_text = st.text(alphabet=st.characters(codec="latin-1"), max_size=120)
hsts_value = st.one_of(st.sampled_from(['"', "0", "31536000", "²", "١٢", "-1", "9" * 5000, " ", "", '"1"', "1e3"]),
                       st.text(max_size=8))
hsts_directive = st.tuples(st.sampled_from(["max-age", "MAX-AGE", "includeSubDomains", "preload", "x", "", "a b"]),
                           st.sampled_from(["", "=", " = "]), hsts_value).map("".join)
hsts_like = st.lists(hsts_directive, max_size=5).map(";".join)


@FUZZ
@given(st.one_of(header_text, hsts_like))
def test_hsts_parser_never_raises(value):
    out = http.parse_hsts(value)
    assert set(out) == {"max_age", "include_subdomains", "preload", "errors"}
    assert out["max_age"] is None or (isinstance(out["max_age"], int) and out["max_age"] >= 0)
    assert out["errors"] or out["max_age"] is not None


def test_hsts_unicode_digits_are_not_a_max_age():
    assert http.parse_hsts("max-age=²")["errors"] and http.parse_hsts("max-age=١٢")["max_age"] is None
    assert http.parse_hsts("max-age=" + "9" * 5000)["errors"]
    assert http.parse_hsts("max-age=31536000; includeSubDomains") == {
        "max_age": 31536000, "include_subdomains": True, "preload": False, "errors": []}


location_like = st.lists(st.sampled_from(["https://", "http://", "//", "[", "]", "::1", "host", ":", "99999", "443",
                                          "-1", "/path", "?q", "#f", "@", "user:pw", "%00", "\x00", " ", "xn--",
                                          "javascript:", "\u202e"]), max_size=10).map("".join)


@FUZZ
@given(st.one_of(header_text, location_like))
def test_location_parser_never_raises(value):
    out = http.parse_location(value)
    assert set(out) == {"scheme", "host", "port", "error"}
    assert out["port"] is None or 0 <= out["port"] <= 65535
    assert out["error"] is None or isinstance(out["error"], str)


def test_location_with_a_bad_port_or_bracket_is_an_error_not_a_crash():
    assert http.parse_location("https://dichvucong.gov.vn:99999/")["error"]
    assert http.parse_location("https://[dichvucong.gov.vn/")["error"]
    assert http.parse_location("https://Dichvucong.gov.vn./x") == {
        "scheme": "https", "host": "dichvucong.gov.vn", "port": None, "error": None}


# --- HTTP over a socket: heads, framing, chunked bodies --------------------------------------------------------

def _chunked(chunks: list[tuple[str, bytes]]) -> bytes:
    return b"".join(size.encode("latin-1") + b"\r\n" + data + b"\r\n" for size, data in chunks)


chunk = st.tuples(st.one_of(st.integers(0, 4096).map(lambda n: f"{n:x}"),
                            st.sampled_from(["-1", "zz", "", "1;ext=1", "FFFFFFFFFFFFFFFF", "0x10", " 5 ", "1_0"])),
                  st.binary(max_size=64))
http_header = st.tuples(st.sampled_from(["Strict-Transport-Security", "Location", "Transfer-Encoding",
                                         "Content-Length", "Content-Type", "X"]),
                        st.one_of(hsts_like, location_like, st.sampled_from(["chunked", "gzip, chunked", "-5",
                                                                             "99999999999", "12"]),
                                  header_text))
http_response = st.builds(
    lambda status, headers, body, raw_tail: (
        f"HTTP/1.1 {status} X\r\n".encode() + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers)
        + b"\r\n" + body + raw_tail),
    st.one_of(st.sampled_from([100, 101, 200, 204, 301, 302, 304, 308, 404]), st.integers(0, 999)),
    st.lists(http_header, max_size=6),
    st.one_of(st.lists(chunk, max_size=5).map(_chunked), st.binary(max_size=300)),
    st.binary(max_size=20),
)


@FUZZ
@given(st.one_of(http_response, st.binary(max_size=400)), stalls)
def test_http_fetch_of_hostile_answers_never_raises_and_keeps_its_budget(server, answer, stall):
    server.reply, server.stall = (lambda request: answer), stall
    out = bounded(http.fetch, "127.0.0.1", server.port, "dichvucong.gov.vn", False, None, TIMEOUT)
    assert out["error"] or out["status"] is not None
    assert out["body_length"] is None or out["body_length"] <= http.BODY_CAP


def test_negative_content_length_is_a_bad_answer(server):
    server.reply, server.stall = (lambda request: b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nabcdefgh"), False
    out = http.fetch("127.0.0.1", server.port, "x.gov.vn", False, None, TIMEOUT)
    assert out["error"] and "Content-Length" in out["error"]


# --- TLS: ServerHello and ServerKeyExchange -------------------------------------------------------------------

def _record(ctype: int, body: bytes, version: int = 0x0303) -> bytes:
    return bytes([ctype]) + version.to_bytes(2, "big") + len(body).to_bytes(2, "big") + body


def _handshake(mtype: int, body: bytes, claimed: int | None = None) -> bytes:
    return bytes([mtype]) + (len(body) if claimed is None else claimed).to_bytes(3, "big") + body


extension = st.tuples(st.sampled_from([43, 51, 0, 16, 0xFFFF]), st.binary(max_size=12), st.integers(0, 40))
server_hello = st.builds(
    lambda version, sid_len, sid, cipher, exts, ext_total: (
        version.to_bytes(2, "big") + bytes(32) + bytes([sid_len]) + sid + cipher.to_bytes(2, "big") + b"\x00"
        + (ext_total if ext_total is not None else sum(4 + len(b) for _, b, _ in exts)).to_bytes(2, "big")
        + b"".join(struct.pack("!HH", t, claimed) + b for t, b, claimed in exts)),
    st.sampled_from([0x0301, 0x0302, 0x0303, 0x0304, 0x7F1C, 0]), st.integers(0, 255), st.binary(max_size=32),
    st.integers(0, 0xFFFF), st.lists(extension, max_size=4), st.one_of(st.none(), st.integers(0, 0xFFFF)))
key_exchange = st.one_of(
    st.builds(lambda curve, rest: b"\x03" + curve.to_bytes(2, "big") + rest, st.integers(0, 0xFFFF),
              st.binary(max_size=40)),
    st.builds(lambda plen, p: plen.to_bytes(2, "big") + p, st.integers(0, 0xFFFF), st.binary(max_size=300)),
    st.binary(max_size=40))


@FUZZ
@given(st.one_of(server_hello, st.binary(max_size=120)), key_exchange)
def test_tls_message_parsers_never_raise_outside_the_exchange_contract(hello_body, kex_body):
    """The pure parsers may reject garbage only with the errors exchange() turns into an answer."""
    try:
        ans = tls_hello._parse_server_hello(hello_body)
    except (IndexError, ValueError, struct.error):
        return
    tls_hello._parse_key_exchange(kex_body, ans)
    assert ans.dh_bits is None or ans.dh_bits <= 0xFFFF * 8


tls_answer = st.builds(
    lambda hello, kex, claimed, version, split, tail: (
        b"".join(_record(22, part, version) for part in _split(_handshake(2, hello, claimed) + _handshake(12, kex)
                                                               + _handshake(14, b""), split)) + tail),
    st.one_of(server_hello, st.binary(max_size=60)), key_exchange, st.one_of(st.none(), st.integers(0, 0xFFFFFF)),
    st.sampled_from([0x0303, 0x0301, 0x0200, 0xFFFF]), st.integers(1, 50),
    st.one_of(st.just(b""), st.binary(max_size=30), st.just(_record(21, b"\x02\x28")), st.just(_record(23, b"x"))))


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


@FUZZ
@given(st.one_of(tls_answer, st.binary(max_size=300)), stalls, st.booleans())
def test_tls_exchange_of_hostile_answers_never_raises_and_keeps_its_budget(server, answer, stall, want_kex):
    server.reply, server.stall = (lambda request: answer), stall
    hello = tls_hello.client_hello(0x0303, [0xC02F, 0x009E], "dichvucong.gov.vn", [29, 23])
    ans = bounded(tls_hello.exchange, "127.0.0.1", server.port, hello, TIMEOUT, want_kex)
    assert ans.kind in ("hello", "hrr", "alert", "closed", "reset", "timeout", "refused", "not_tls", "truncated",
                        "error")


# --- DNS answers, over UDP and TCP --------------------------------------------------------------------------

def _answer_to(request: bytes, tail: bytes, flags: int, echo: bool, counts: tuple[int, int, int, int],
               tcp: bool) -> bytes:
    """A reply with the query's ID (so it passes the transport's first checks) and a chosen rest."""
    query = request[2:] if tcp else request
    if len(query) < 12:
        return b""
    end = dns_transport._question_end(query) if len(query) > 12 else 12
    body = query[:2] + struct.pack("!H", flags | 0x8000) + struct.pack("!HHHH", *counts)
    body += (query[12:end] if echo else b"") + tail
    return struct.pack("!H", len(body)) + body if tcp else body


rdtypes = st.sampled_from([dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.NS, dns.rdatatype.CNAME,
                           dns.rdatatype.DS, dns.rdatatype.DNSKEY, dns.rdatatype.RRSIG, dns.rdatatype.SOA,
                           dns.rdatatype.NSEC3, dns.rdatatype.TXT])
wire_rdata = st.binary(max_size=40)


def _structured_tail(records: list[tuple[int, int, bytes]]) -> bytes:
    out = b""
    for rdtype, ttl, rdata in records:
        out += b"\xc0\x0c" + struct.pack("!HHIH", rdtype, 1, ttl, len(rdata)) + rdata
    return out


dns_tail = st.one_of(st.binary(max_size=200),
                     st.lists(st.tuples(rdtypes, st.integers(0, 2**32 - 1), wire_rdata), max_size=6)
                     .map(_structured_tail))
counts = st.tuples(st.integers(0, 3), st.integers(0, 8), st.integers(0, 4), st.integers(0, 4))


@pytest.fixture()
def dns_port(server, monkeypatch):
    monkeypatch.setattr(dns_transport, "PORT", server.port)  # the hostile server, not port 53
    return server


@FUZZ
@given(dns_tail, st.integers(0, 0x7FFF), st.booleans(), counts, st.booleans(), stalls, rdtypes,
       st.booleans())
def test_dns_answers_never_raise_and_keep_their_budget(dns_port, tail, flags, echo, counts_, tcp, stall, rdtype,
                                                       dnssec):
    server = dns_port
    server.stall = stall
    server.reply = lambda request: _answer_to(request, tail, flags, echo, counts_, tcp=len(request) > 2 and
                                               struct.unpack("!H", request[:2])[0] == len(request) - 2)
    ans = bounded(pdns.ask, "127.0.0.1", "dichvucong.gov.vn", rdtype, TIMEOUT, dnssec=dnssec, tcp=tcp)
    assert ans.error or ans.response is not None
    if ans.response is not None:  # what the probes then read from it
        for section in (ans.response.answer, ans.response.authority, ans.response.additional):
            for rrset in section:
                for rd in rrset:
                    rd.to_text()


@FUZZ
@given(st.binary(max_size=300))
def test_dns_wire_parser_raises_only_what_ask_handles(wire):
    try:
        msg = dns_transport.parse(wire)
    except (dns.exception.DNSException, ValueError, EOFError, KeyError, IndexError, struct.error):
        return
    assert isinstance(msg, dns.message.Message)


def test_dns_message_builder_round_trip_sanity():
    """The structured strategy really produces parsable answers sometimes (else the fuzz would test little)."""
    q = dns.message.make_query("dichvucong.gov.vn", "A")
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("dichvucong.gov.vn.", 300, dns.rdataclass.IN, "A", "198.51.100.10"))
    wire = r.to_wire()
    tail = _structured_tail([(dns.rdatatype.A, 300, bytes([198, 51, 100, 10]))])
    built = _answer_to(q.to_wire(), tail, dns.flags.AA, True, (1, 1, 0, 0), tcp=False)
    assert dns.message.from_wire(built).answer[0].to_text() == dns.message.from_wire(wire).answer[0].to_text()
