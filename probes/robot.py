"""ROBOT (Böck, Somorovsky, Young 2017): does the server's answer to an RSA ClientKeyExchange depend on
the PKCS#1 v1.5 padding of the premaster secret? Only for servers that accept an RSA key-exchange suite.

Per variant, one connection: a TLS <= 1.2 ClientHello offering only accepted RSA key-exchange suites,
the server's messages up to ServerHelloDone (its leaf RSA key read from the Certificate), then a
ClientKeyExchange whose premaster secret is encrypted with that key under one of five paddings, a
ChangeCipherSpec and a Finished record that cannot verify (the same bytes for every variant, as the
original robot-detect script and sslyze send). A server without an oracle answers all five the same
way (typically bad_record_mac); a different alert, a reset, a close or a silence for some of them is
an oracle. Classification as sslyze does it: all equal -> no oracle; otherwise weak when the three
malformed-padding variants get the same answer (only "0x00 0x02 ... 0x00 + 48 bytes" stands out),
strong when they differ among themselves. An oracle is re-checked once (one connection per distinct
answer): an answer that changes makes the result unknown (inconsistent), never a false alarm.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from netready.probes.tls_wire import (
    CT_ALERT,
    CT_CCS,
    CT_HANDSHAKE,
    HS_CERT_REQUEST,
    HS_CERTIFICATE,
    HS_SERVER_DONE,
    HS_SERVER_HELLO,
    Event,
    Wire,
    first_certificate,
    handshake_record,
    parse_server_hello,
    record,
    record_event,
)

VARIANTS = ("valid", "wrong_first_two_bytes", "wrong_position_00", "no_00_in_the_middle", "wrong_version_number")
# Fixed bytes sent as the (encrypted) Finished: they never verify, and they are the same for every variant,
# so only the premaster padding differs between the five connections.
BOGUS_FINISHED = (hashlib.sha512(b"netready ROBOT finished").digest() + hashlib.sha256(b"netready").digest())[:80]


def premaster(variant: str, modulus_bytes: int, version: int, secret: bytes, padding: bytes) -> int:
    """The PKCS#1 v1.5 block of one variant as an integer (padding: non-zero bytes, secret: 46 bytes)."""
    pad = padding[: modulus_bytes - 51]
    ver = version.to_bytes(2, "big")
    block = {
        "valid": b"\x00\x02" + pad + b"\x00" + ver + secret,
        "wrong_first_two_bytes": b"\x41\x17" + pad + b"\x00" + ver + secret,
        "wrong_position_00": b"\x00\x02" + pad + b"\x11" + secret + b"\x00\x11",
        "no_00_in_the_middle": b"\x00\x02" + pad + b"\x11\x11\x11" + secret,
        "wrong_version_number": b"\x00\x02" + pad + b"\x00\x02\x02" + secret,
    }[variant]
    assert len(block) == modulus_bytes
    return int.from_bytes(block, "big")


def _nonzero(n: int) -> bytes:
    return bytes(b or 0x5A for b in os.urandom(n))


def _rsa_key(der: bytes) -> tuple[int, int] | None:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = x509.load_der_x509_certificate(der).public_key()
    except ValueError:
        return None
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    nums = key.public_numbers()
    return nums.n, nums.e


class _Stop(Exception):
    """The attempt could not reach the ClientKeyExchange: not a server answer to compare."""


def attempt(address: str, port: int, deadline: float, hello: bytes, variant: str, secret: bytes,
            padding: bytes) -> str:
    """One connection, one variant: the server's answer as a word to compare ("alert bad_record_mac",
    "closed", "reset", "timeout", "record type 22"...). Raises _Stop before the ClientKeyExchange."""
    client_version = int.from_bytes(hello[9:11], "big")
    with Wire(address, port, deadline) as wire:
        try:
            wire.connect()
            wire.send(hello)
        except (TimeoutError, OSError) as exc:
            raise _Stop(f"connect: {exc}") from None
        key = version = None
        while True:
            msg = wire.message()
            if isinstance(msg, Event):
                raise _Stop(f"before ServerHelloDone: {msg.text()}")
            mtype, body = msg
            if mtype == HS_SERVER_HELLO:
                try:
                    version = parse_server_hello(body).version
                except (ValueError, IndexError):
                    raise _Stop("malformed ServerHello") from None
            elif mtype == HS_CERTIFICATE:
                der = first_certificate(body)
                key = _rsa_key(der) if der else None
            elif mtype == HS_CERT_REQUEST:
                raise _Stop("the server asks for a client certificate")
            elif mtype == HS_SERVER_DONE:
                break
        if key is None or version is None or version > 0x0303:
            raise _Stop("no RSA certificate" if version else "no ServerHello")
        n, e = key
        k = (n.bit_length() + 7) // 8
        if k < 64:
            raise _Stop(f"RSA key of {n.bit_length()} bits is too small for the test")
        m = premaster(variant, k, client_version, secret, padding)
        encrypted = pow(m, e, n).to_bytes(k, "big")
        cke = handshake_record(16, version, len(encrypted).to_bytes(2, "big") + encrypted)
        try:
            wire.send(cke + record(CT_CCS, version, b"\x01") + record(CT_HANDSHAKE, version, BOGUS_FINISHED))
        except (TimeoutError, OSError):
            pass  # the server may have hung up already: what it sent, if anything, is the answer
        while True:
            rec = wire.record()
            if isinstance(rec, Event):
                return rec.kind
            ctype, frag = rec
            if ctype == CT_ALERT and len(frag) >= 2:
                ev = record_event(ctype, frag)
                return f"alert {ev.alert}" + (" (warning)" if ev.level == 1 else "")
            return f"record type {ctype}"


def classify(answers: dict[str, str]) -> str:
    """sslyze's reading of the five answers: no_oracle, weak_oracle or strong_oracle."""
    if len(set(answers.values())) == 1:
        return "no_oracle"
    bad = {answers["wrong_first_two_bytes"], answers["wrong_position_00"], answers["no_00_in_the_middle"]}
    return "weak_oracle" if len(bad) == 1 else "strong_oracle"


def check_robot(address: str, port: int, timeout: float, deadline: float, make_hello: Callable[[], bytes],
                budget: Callable[[int], bool]) -> dict[str, Any]:
    """The five variants in parallel, and a re-check of an oracle. budget(n) reserves n connections;
    each connection gets `timeout` seconds, all of them end by `deadline` (time.monotonic())."""
    secret, padding = os.urandom(46), _nonzero(1024)
    if not budget(len(VARIANTS)):
        return {"result": "unknown", "evidence": "connection limit reached before the ROBOT test"}

    def run(variants: list[str]) -> dict[str, str | _Stop]:
        def one(v: str) -> str | _Stop:
            try:
                limit = min(deadline, time.monotonic() + timeout)
                return attempt(address, port, limit, make_hello(), v, secret, padding)
            except _Stop as exc:
                return exc

        with ThreadPoolExecutor(len(variants)) as pool:
            return dict(zip(variants, pool.map(one, variants), strict=True))

    first = run(list(VARIANTS))
    stopped = {v: str(a) for v, a in first.items() if isinstance(a, _Stop)}
    if stopped:
        v, why = next(iter(stopped.items()))
        return {"result": "unknown", "evidence": f"variant {v} stopped {why}", "answers": _texts(first)}
    answers: dict[str, str] = {v: a for v, a in first.items() if isinstance(a, str)}
    result = classify(answers)
    out: dict[str, Any] = {"answers": answers}
    if result != "no_oracle":
        # one variant per distinct answer again: a flaky server must not be reported as an oracle
        again = list({a: v for v, a in reversed(list(answers.items()))}.values())
        if budget(len(again)):
            second = run(again)
            changed = [v for v in again if second[v] != answers[v]]
            out["rechecked"] = {v: _text(second[v]) for v in again}
            if changed:
                out |= {"result": "unknown", "evidence": "inconsistent answers on a second try: "
                        + ", ".join(f"{v} {answers[v]} then {_text(second[v])}" for v in changed)}
                return out
        else:
            out["rechecked"] = None  # said in the evidence below
    groups: dict[str, list[str]] = {}
    for v, a in answers.items():
        groups.setdefault(a, []).append(v)
    summary = "; ".join(f"{a}: {', '.join(vs)}" for a, vs in groups.items())
    out["result"] = result
    out["evidence"] = ("same answer to all five paddings: " if result == "no_oracle" else "answers differ: ") + summary
    if result != "no_oracle" and out.get("rechecked") is None:
        out["evidence"] += " (not re-checked: connection allowance used up)"
    return out


def _text(a: str | _Stop) -> str:
    return a if isinstance(a, str) else f"stopped: {a}"


def _texts(d: dict[str, str | _Stop]) -> dict[str, str]:
    return {v: _text(a) for v, a in d.items()}
