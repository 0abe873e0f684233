"""probes.http against hostile loopback servers: every failure is bounded, reported and never raised."""

from __future__ import annotations

import hashlib
import json
import socket
import time

import pytest
from test_http_servers import OK_BODY, make_cert, server, tls_server_context

from netready.probes.http import BODY_CAP, fetch, parse_hsts, simhash, simhash_distance, tcp_connect

HOST = "dichvucong.test.gov.vn"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("certs"), HOST)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_plain_ok_v4_and_v6(family) -> None:
    with server("ok", family) as srv:
        r = fetch(srv.address, srv.port, HOST, False, None, 2.0)
    assert r["error"] is None, r
    assert (r["status"], r["reason"], r["http_version"]) == (200, "OK", "1.1")
    assert ["strict-transport-security", "max-age=31536000"] in r["headers"]
    assert r["body_length"] == len(OK_BODY)
    assert r["body_sha256"] == hashlib.sha256(OK_BODY).hexdigest()
    assert r["body_simhash"] == simhash(OK_BODY) != 0
    assert r["tls_verified"] is None
    json.dumps(r)  # JSON-able as it is


def test_chunked_body_is_decoded() -> None:
    with server("chunked") as srv:
        r = fetch(srv.address, srv.port, HOST, False, None, 2.0)
    assert r["error"] is None and r["body_sha256"] == hashlib.sha256(OK_BODY).hexdigest()


def test_silent_server_respects_total_deadline() -> None:
    with server("silent") as srv:
        t0 = time.monotonic()
        r = fetch(srv.address, srv.port, HOST, False, None, 0.5)
        took = time.monotonic() - t0
    assert r["status"] is None and r["error"].startswith("timeout") and "head" in r["error"]
    # Stops at the deadline, not before; the upper bound only proves it does not hang (slack for a busy CI).
    assert 0.45 < took < 0.5 + 1.5


def test_trickling_server_cannot_extend_the_deadline() -> None:
    # One byte every 0.2 s: a per-recv timeout of 0.5 s would never fire; the total deadline does.
    with server("trickle") as srv:
        t0 = time.monotonic()
        r = fetch(srv.address, srv.port, HOST, False, None, 0.7)
        took = time.monotonic() - t0
    assert r["error"].startswith("timeout"), r
    assert took < 0.7 + 1.5  # bounded by the total deadline (the trickle alone lasts about 8 s)


def test_silent_tls_server_times_out_in_handshake() -> None:
    with server("silent") as srv:  # plain TCP server that never speaks: the TLS handshake waits
        t0 = time.monotonic()
        r = fetch(srv.address, srv.port, HOST, True, None, 0.5)
    assert r["error"].startswith("timeout") and "tls" in r["error"]
    assert time.monotonic() - t0 < 0.8


def test_garbage_is_not_http() -> None:
    with server("garbage") as srv:
        r = fetch(srv.address, srv.port, HOST, False, None, 2.0)
    assert r["status"] is None and "not an HTTP response" in r["error"]


def test_reset_is_reported() -> None:
    with server("reset") as srv:
        r = fetch(srv.address, srv.port, HOST, False, None, 2.0)
    assert r["status"] is None and "reset" in r["error"]


def test_close_without_answer() -> None:
    with server("close") as srv:
        r = fetch(srv.address, srv.port, HOST, False, None, 2.0)
    assert r["status"] is None and ("without any HTTP response" in r["error"] or "reset" in r["error"])


def test_huge_body_is_capped() -> None:
    with server("huge") as srv:
        t0 = time.monotonic()
        r = fetch(srv.address, srv.port, HOST, False, None, 3.0)
    assert r["error"] is None and r["status"] == 200
    assert r["body_length"] == BODY_CAP and r["body_truncated"] is True
    assert time.monotonic() - t0 < 1.5


def test_refused_and_unroutable() -> None:
    with server("ok") as srv:
        port = srv.port
    r = fetch("127.0.0.1", port, HOST, False, None, 1.0)
    assert r["error"] == f"connect to 127.0.0.1:{port} failed: connection refused" and r["stage"] == "connect"
    c = tcp_connect("::1", port, 1.0)
    assert c["open"] is False and "refused" in c["error"]


def test_never_resolves_names() -> None:
    r = fetch("localhost", 80, HOST, False, None, 1.0)
    assert r["status"] is None and r["error"]  # a name is not a literal address: refused without DNS


def test_tls_verified_with_ca_file(certs) -> None:
    ca, leaf, key = certs
    with server("ok", socket.AF_INET6, tls=tls_server_context(leaf, key)) as srv:
        r = fetch(srv.address, srv.port, HOST, True, str(ca), 2.0)
    assert r["error"] is None and r["status"] == 200
    assert r["tls_verified"] is True and r["tls_error"] is None and r["tls_version"] in ("TLSv1.2", "TLSv1.3")


def test_tls_unverified_still_fetches(certs) -> None:
    ca, leaf, key = certs
    with server("ok", tls=tls_server_context(leaf, key)) as srv:
        no_ca = fetch(srv.address, srv.port, HOST, True, None, 2.0)
        wrong_host = fetch(srv.address, srv.port, "other.gov.vn", True, str(ca), 2.0)
    assert (
        no_ca["status"] == 200 and no_ca["tls_verified"] is False and "unable to get local issuer" in no_ca["tls_error"]
    )
    assert wrong_host["status"] == 200 and wrong_host["tls_verified"] is False
    assert "mismatch" in wrong_host["tls_error"].lower()


def test_tls_to_a_plain_http_port(certs) -> None:
    ca, _, _ = certs
    with server("http-now") as srv:
        r = fetch(srv.address, srv.port, HOST, True, str(ca), 2.0)
    assert r["status"] is None and r["error"].startswith("TLS handshake")


def test_simhash_properties() -> None:
    page = b" ".join(b"word%d" % i for i in range(400))
    assert simhash(page) == simhash(page.upper())  # case-insensitive words
    assert simhash(b"") == 0
    near = page.replace(b"word17 ", b"changed ")
    other = b" ".join(b"other%d" % i for i in range(400))
    assert simhash_distance(simhash(page), simhash(near)) <= 10
    assert simhash_distance(simhash(page), simhash(other)) >= 20
    assert simhash_distance(0, (1 << 64) - 1) == 64


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=31536000; includeSubDomains; preload", (31536000, True, True, 0)),
        ('max-age="600"', (600, False, False, 0)),
        ("MAX-AGE=0", (0, False, False, 0)),
        ("includeSubDomains", (None, True, False, 1)),
        ("max-age=abc", (None, False, False, 1)),
        ("max-age=1; max-age=2", (1, False, False, 1)),
        ("max-age=5;;  ", (5, False, False, 0)),
    ],
)
def test_parse_hsts(value, expected) -> None:
    got = parse_hsts(value)
    assert (got["max_age"], got["include_subdomains"], got["preload"], len(got["errors"])) == expected
