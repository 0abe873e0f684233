"""TLS weaknesses the peer tools test, per address, from raw packets (independent of the local OpenSSL,
except the client-initiated renegotiation, which needs a finished handshake: see below).

Sub-checks (one entry each in the observation: name, result, evidence, details), at most
MAX_CONNECTIONS extra TCP connections per address:

- sslv2 (1): a real SSLv2 CLIENT-HELLO (probes/sslv2.py).
- secure_renegotiation, compression, heartbleed (1; +2 when the server refuses the additions, +1 to ask
  with the SCSV when the extension got no renegotiation_info): one
  TLS <= 1.2 hello at the best such version with its accepted suites, offering DEFLATE + null, the
  empty renegotiation_info extension (the SCSV for SSLv3) and the heartbeat extension. The ServerHello
  tells compression and RFC 5746 support; when it echoes heartbeat, after ServerHelloDone one heartbeat
  request claiming 16 payload bytes and carrying none, then a close_notify (a patched server then
  closes at once instead of leaving us waiting).
- client_renegotiation (1): a pyOpenSSL client (TLS <= 1.2, SECLEVEL 0, legacy options) completes a
  handshake, then SSL_renegotiate: a second handshake that completes is "accepted".
- fallback_scsv (1): a hello at the second-best accepted version, its suites + TLS_FALLBACK_SCSV.
- kex_signature_hash (1): a TLS 1.2 hello with the accepted forward-secret suites and
  signature_algorithms offering only MD5 and SHA-1: the ServerKeyExchange's SignatureAndHashAlgorithm.
- robot (5, +1 per distinct answer to re-check an oracle): probes/robot.py, only when an RSA
  key-exchange suite is accepted.

Why pyOpenSSL for client-initiated renegotiation: the question is what the server does with a second
ClientHello inside an established, encrypted session. That needs the whole TLS 1.2 record layer (key
schedule, ciphers, Finished); testssl.sh (openssl s_client "R") and sslyze (nassl) also use an OpenSSL
client for it. Its limit is written down: a server the local OpenSSL cannot complete a handshake with
(SSLv3-only, suites OpenSSL 3 lacks) gives "unknown", never a guess.

Leaked memory: a Heartbleed reply is measured (record length, claimed payload length), never kept.
"""

from __future__ import annotations

import functools
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from netready.probes import tls_suites as S
from netready.tables.tls import VULN_CHECKS as CHECKS

MAX_CONNECTIONS = 12
LEGACY_ORDER = ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3")  # best first
OFFER_GROUPS = [29, 23, 24, 25, 30, 256, 257, 258, 259, 260]
FALLBACK_SCSV, RENEG_SCSV = 0x5600, 0x00FF
HEARTBEAT_CLAIM = 16  # payload length claimed by the heartbeat request, which carries no payload at all
# TLS 1.2 SignatureAndHashAlgorithm pairs offered by the weak-hash check: MD5 first, then SHA-1.
WEAK_SCHEMES = (0x0101, 0x0103, 0x0102, 0x0201, 0x0203, 0x0202)
HASHES = {1: "md5", 2: "sha1", 3: "sha224", 4: "sha256", 5: "sha384", 6: "sha512"}
SIGNATURES = {1: "rsa", 2: "dsa", 3: "ecdsa"}
OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION = 0x00040000


def scheme_name(scheme: int) -> str:
    if scheme >> 8 in HASHES:
        return f"{SIGNATURES.get(scheme & 0xFF, f'sig{scheme & 0xFF}')}_{HASHES[scheme >> 8]}"
    return {0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
            0x0807: "ed25519", 0x0808: "ed448", 0x0809: "rsa_pss_pss_sha256"}.get(scheme, f"0x{scheme:04X}")


@dataclass
class _Ctx:
    address: str
    port: int
    sni: str | None
    timeout: float
    deadline: float
    used: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, n: int) -> bool:
        """Take n connections from the per-address allowance; False when it (or the time) is used up."""
        with self.lock:
            if self.used + n > MAX_CONNECTIONS or self.deadline - time.monotonic() <= 0.05:
                return False
            self.used += n
            return True

    def limit(self) -> float:
        """Deadline of one connection: settings.timeout, within the address budget."""
        return min(self.deadline, time.monotonic() + self.timeout)


def _entry(name: str, result: str, evidence: str, **details: Any) -> dict[str, Any]:
    return {"name": name, "result": result, "evidence": evidence, **details}


def _no_room(name: str) -> dict[str, Any]:
    return _entry(name, "unknown", f"not tested: the {MAX_CONNECTIONS}-connection allowance or the time budget "
                  "of this address is used up")


# --- the entry point ----------------------------------------------------------------------------------------


def check_vulns(address: str, port: int, sni: str | None, versions: dict[str, Any], timeout: float,
                deadline: float) -> dict[str, Any]:
    """Every sub-check for one address, given the probe's version/suite enumeration; never raises."""
    t0 = time.monotonic()
    ctx = _Ctx(address, port, sni, timeout, deadline)
    # Threads for what may wait long (an OpenSSL handshake and its renegotiation; ROBOT's five connections;
    # the SSLv2 hello, which TLS-only stacks often leave unanswered until the timeout), the quick one-hello
    # checks one after the other in this thread: a thread per check cost more CPU than the checks themselves
    # (batches are CPU-bound).
    slow: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "client_renegotiation": lambda: [_client_renegotiation(ctx, versions)],
        "robot": lambda: [_robot(ctx, versions)],
        "sslv2": lambda: [_sslv2(ctx)],
    }
    quick: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "hello": lambda: _hello_checks(ctx, versions),
        "fallback_scsv": lambda: [_fallback_scsv(ctx, versions)],
        "kex_signature_hash": lambda: [_kex_signature(ctx, versions)],
    }
    entries: dict[str, dict[str, Any]] = {}

    def collect(key: str, run: Callable[[], list[dict[str, Any]]]) -> None:
        try:
            for e in run():
                entries[e["name"]] = e
        except Exception as exc:  # noqa: BLE001 - a bug in one sub-check must not hide the others
            names = ("secure_renegotiation", "compression", "heartbleed") if key == "hello" else (key,)
            for name in names:
                entries[name] = _entry(name, "unknown", f"internal error: {type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(len(slow)) as pool:
        futures = {key: pool.submit(fn) for key, fn in slow.items()}
        for key, fn in quick.items():
            collect(key, fn)
        for key, fut in futures.items():
            collect(key, fut.result)
    return {
        "checks": [entries[n] for n in CHECKS],
        "connections": ctx.used,
        "max_connections": MAX_CONNECTIONS,
        "ms": round((time.monotonic() - t0) * 1000, 3),
    }


def skipped(reason: str) -> dict[str, Any]:
    """The `vulns` value when raw probing of the address stopped (silent or timing-out server): every
    sub-check unknown, with the reason, no connection made."""
    return {"checks": [_entry(n, "unknown", f"not tested: {reason}") for n in CHECKS], "connections": 0,
            "max_connections": MAX_CONNECTIONS, "ms": 0.0}


# --- helpers on the enumeration -------------------------------------------------------------------------


def _accepted(versions: dict[str, Any], name: str) -> bool | None:
    return (versions.get(name) or {}).get("accepted")


def _suites(versions: dict[str, Any], name: str) -> list[int]:
    return list((versions.get(name) or {}).get("suite_ids") or [])


def _best_legacy(versions: dict[str, Any]) -> tuple[str | None, str | None]:
    """(best accepted version <= TLS 1.2 with known suites, why none) ."""
    for v in LEGACY_ORDER:
        if _accepted(versions, v) and _suites(versions, v):
            return v, None
    unknown = [v for v in LEGACY_ORDER if _accepted(versions, v) is None]
    if unknown:
        return None, f"support of {', '.join(unknown)} unknown"
    return None, None


def _hello(ctx: _Ctx, version: int, suites: list[int]) -> bytes:
    from netready.probes.tls_hello import client_hello

    return client_hello(version, suites, ctx.sni, OFFER_GROUPS)


def _ssl(text: str) -> str:
    return text.replace("TLSv", "TLS ")


# --- SSLv2 -------------------------------------------------------------------------------------------------


def _sslv2(ctx: _Ctx) -> dict[str, Any]:
    from netready.probes.sslv2 import probe

    if not ctx.reserve(1):
        return _no_room("sslv2")
    r = probe(ctx.address, ctx.port, max(0.05, ctx.limit() - time.monotonic()))
    if r["accepted"]:
        ciphers = r.get("ciphers") or []
        what = f"{len(ciphers)} cipher kinds: {', '.join(ciphers)}" if ciphers else "no cipher kind listed"
        return _entry("sslv2", "accepted", f"SSLv2 SERVER-HELLO ({what})", ciphers=ciphers)
    if r["accepted"] is None:
        return _entry("sslv2", "unknown", f"SSLv2 CLIENT-HELLO: {r['answer']}")
    return _entry("sslv2", "refused", f"SSLv2 CLIENT-HELLO answered: {r['answer']}")


# --- secure renegotiation, compression, Heartbleed: one hello ------------------------------------------------


def _hello_checks(ctx: _Ctx, versions: dict[str, Any]) -> list[dict[str, Any]]:
    from netready.probes.tls_wire import EXT_HEARTBEAT, EXT_RENEG, edit_hello

    vname, why = _best_legacy(versions)
    names = ("secure_renegotiation", "compression", "heartbleed")
    if vname is None:
        if why:
            return [_entry(n, "unknown", f"not tested: {why}") for n in names]
        text = "no protocol version up to TLS 1.2 accepted (TLS 1.3 has no {})"
        return [_entry("secure_renegotiation", "not_applicable", text.format("renegotiation")),
                _entry("compression", "not_applicable", text.format("compression")),
                _entry("heartbleed", "not_applicable", text.format("heartbeat"))]
    version = S.VERSIONS[vname]
    base = _hello(ctx, version, _suites(versions, vname))
    ssl3 = version == 0x0300
    # SSLv3 hellos carry no extensions: secure renegotiation is asked with the SCSV, heartbeat not at all
    full = (edit_hello(base, compression=b"\x01\x00", add_ciphers=(RENEG_SCSV,)) if ssl3
            else edit_hello(base, compression=b"\x01\x00", set_extensions={EXT_HEARTBEAT: b"\x01"}))
    first = _one_hello(ctx, full, heartbeat=not ssl3)
    if first is None:
        return [_no_room(n) for n in names]
    refused_hb = refused_deflate = None
    got = first
    if "refused" in first and not ssl3:  # which addition did the server not like?
        refused_hb = first["refused"]
        got = _one_hello(ctx, edit_hello(base, compression=b"\x01\x00"), heartbeat=False)
        if got is not None and "refused" in got:
            refused_deflate = got["refused"]
            got = _one_hello(ctx, base, heartbeat=False)
    if got is None:
        return [_no_room(n) for n in names]
    if "refused" in got or "error" in got:
        why = got.get("refused") or got.get("error")
        kind = "unknown"
        return [_entry(n, kind, f"a {_ssl(vname)} hello with suites the server accepted got: {why}") for n in names]
    out = []
    reneg = got["reneg"]
    how = "the SCSV" if ssl3 else "the renegotiation_info extension"
    if reneg is None and not ssl3:  # RFC 5746 3.6: the SCSV must be honoured too; some stacks only do that
        scsv = _one_hello(ctx, edit_hello(base, add_ciphers=(RENEG_SCSV,), set_extensions={EXT_RENEG: None}),
                          heartbeat=False)
        if scsv and scsv.get("reneg") == b"\x00":
            reneg, how = b"\x00", "the SCSV; the extension alone got none"
        elif scsv and "version" in scsv:
            how = "the renegotiation_info extension, and none either to the SCSV"
    if reneg == b"\x00":
        out.append(_entry("secure_renegotiation", "supported", f"renegotiation_info in the {_ssl(vname)} "
                          f"ServerHello (answer to {how}, RFC 5746)", version=vname))
    elif reneg is None:
        out.append(_entry("secure_renegotiation", "not_supported", f"no renegotiation_info in the {_ssl(vname)} "
                          f"ServerHello although the hello carried {how}: insecure renegotiation "
                          "(CVE-2009-3555)", version=vname))
    else:
        out.append(_entry("secure_renegotiation", "not_supported", "renegotiation_info not empty on a first "
                          f"handshake ({reneg[:8].hex()}): RFC 5746 3.4 says abort", version=vname))
    if refused_deflate:
        out.append(_entry("compression", "refused", f"a hello offering DEFLATE was refused ({refused_deflate}); "
                          "the same hello with only the null method was accepted", version=vname))
    elif got["compression"] == 0:
        out.append(_entry("compression", "refused", f"offered DEFLATE and null, the {_ssl(vname)} ServerHello "
                          "chose null", version=vname))
    else:
        method = {1: "DEFLATE"}.get(got["compression"], f"method {got['compression']}")
        out.append(_entry("compression", "accepted", f"offered DEFLATE and null, the {_ssl(vname)} ServerHello "
                          f"chose {method} (CRIME)", version=vname, method=got["compression"]))
    if ssl3:
        out.append(_entry("heartbleed", "not_applicable", "best version up to TLS 1.2 is SSLv3: the heartbeat "
                          "extension needs TLS", version=vname))
    elif refused_hb and refused_deflate is None:
        out.append(_entry("heartbleed", "not_vulnerable", f"a hello with the heartbeat extension was refused "
                          f"({refused_hb}), accepted without it: no heartbeat", version=vname))
    elif refused_hb:
        out.append(_entry("heartbleed", "unknown", f"hellos with the heartbeat extension and DEFLATE refused "
                          f"({refused_hb}); the heartbeat extension alone was not tried", version=vname))
    else:
        out.append(_entry("heartbleed", got["heartbleed"], got["hb_evidence"], version=vname))
    return out


def _one_hello(ctx: _Ctx, hello: bytes, heartbeat: bool) -> dict[str, Any] | None:
    """Send one hello; ServerHello facts, and the heartbeat test when asked and the server echoes it."""
    from netready.probes.tls_wire import (
        CT_ALERT,
        CT_HEARTBEAT,
        EXT_HEARTBEAT,
        EXT_RENEG,
        HS_SERVER_DONE,
        HS_SERVER_HELLO,
        Event,
        Wire,
        parse_server_hello,
        record,
    )

    if not ctx.reserve(1):
        return None
    with Wire(ctx.address, ctx.port, ctx.limit()) as wire:
        try:
            wire.connect()
            wire.send(hello)
        except (TimeoutError, OSError) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        msg = wire.message()
        if isinstance(msg, Event):
            return {"refused" if msg.kind in ("alert", "closed", "reset") else "error": msg.text()}
        if msg[0] != HS_SERVER_HELLO:
            return {"error": f"handshake message {msg[0]} instead of ServerHello"}
        try:
            sh = parse_server_hello(msg[1])
        except (ValueError, IndexError) as exc:
            return {"error": f"malformed ServerHello: {exc}"}
        out: dict[str, Any] = {"version": sh.version, "compression": sh.compression, "reneg": sh.extensions.get(
            EXT_RENEG), "heartbeat_ext": EXT_HEARTBEAT in sh.extensions}
        if not heartbeat:
            return out
        if EXT_HEARTBEAT not in sh.extensions:
            out |= {"heartbleed": "not_vulnerable", "hb_evidence": "no heartbeat extension in the ServerHello: "
                    "heartbeat requests are not processed"}
            return out
        while True:  # up to ServerHelloDone: a vulnerable OpenSSL answers heartbeats mid-handshake
            msg = wire.message()
            if isinstance(msg, Event):
                out |= {"heartbleed": "unknown", "hb_evidence": f"heartbeat extension echoed, then {msg.text()} "
                        "before ServerHelloDone"}
                return out
            if msg[0] == HS_SERVER_DONE:
                break
        request = bytes([1]) + HEARTBEAT_CLAIM.to_bytes(2, "big")  # claims 16 bytes, carries 0
        try:
            wire.send(record(CT_HEARTBEAT, sh.version, request) + record(CT_ALERT, sh.version, b"\x01\x00"))
        except (TimeoutError, OSError):
            pass  # what the server sent before hanging up is still read below
        for _ in range(4):
            rec = wire.record()
            if isinstance(rec, Event):
                text = "no heartbeat response" + (" (silence)" if rec.kind == "timeout" else f", then {rec.text()}")
                out |= {"heartbleed": "not_vulnerable", "hb_evidence": f"heartbeat extension echoed; a request "
                        f"claiming {HEARTBEAT_CLAIM} bytes and carrying none got {text}"}
                return out
            ctype, frag = rec
            if ctype == CT_HEARTBEAT:
                claimed = int.from_bytes(frag[1:3], "big") if len(frag) >= 3 else 0
                size = len(frag)
                del frag, rec  # the reply may hold the server's memory: measured, never kept
                leaked = size > 3 + 16 or claimed > 0
                out |= {"heartbleed": "vulnerable" if leaked else "not_vulnerable",
                        "hb_evidence": f"heartbeat request claiming {HEARTBEAT_CLAIM} bytes and carrying none got a "
                        f"{size}-byte heartbeat response claiming {claimed} bytes"
                        + (": server memory disclosed (CVE-2014-0160); the bytes were discarded" if leaked else "")}
                return out
            if ctype == CT_ALERT:
                out |= {"heartbleed": "not_vulnerable", "hb_evidence": "heartbeat extension echoed; the malformed "
                        f"request got no heartbeat response (alert {frag[1] if len(frag) > 1 else '?'})"}
                return out
        out |= {"heartbleed": "unknown", "hb_evidence": "heartbeat extension echoed; only other records came back"}
        return out


# --- client-initiated renegotiation -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _reneg_context():  # -> SSL.Context
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_VERSION)
    ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_cipher_list(b"ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    # talk to servers without RFC 5746 too, and renegotiate with them: that is what is being tested
    ctx.set_options(SSL.OP_LEGACY_SERVER_CONNECT | OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION)
    ctx.set_verify(SSL.VERIFY_NONE, lambda *a: True)
    return ctx


def _drive(conn: Any, sock: socket.socket, step: Callable[[], Any], deadline: float) -> None:
    from OpenSSL import SSL

    while True:
        try:
            step()
            return
        except (SSL.WantReadError, SSL.WantWriteError) as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError from None
            write = isinstance(exc, SSL.WantWriteError)
            r, w, _ = select.select([] if write else [sock], [sock] if write else [], [], left)
            if not r and not w:
                raise TimeoutError from None


def _client_renegotiation(ctx: _Ctx, versions: dict[str, Any]) -> dict[str, Any]:
    from OpenSSL import SSL

    vname, why = _best_legacy(versions)
    if vname is None:
        if why:
            return _entry("client_renegotiation", "unknown", f"not tested: {why}")
        return _entry("client_renegotiation", "not_applicable", "no protocol version up to TLS 1.2 accepted: "
                      "TLS 1.3 has no renegotiation")
    if not ctx.reserve(1):
        return _no_room("client_renegotiation")
    deadline = ctx.limit()
    sock = socket.socket(socket.AF_INET6 if ":" in ctx.address else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            sock.connect((ctx.address, ctx.port))
        except (TimeoutError, OSError) as exc:
            return _entry("client_renegotiation", "unknown", f"connect: {exc}")
        sock.setblocking(False)
        conn = SSL.Connection(_reneg_context(), sock)
        if ctx.sni:
            conn.set_tlsext_host_name(ctx.sni.encode("ascii"))
        conn.set_connect_state()
        try:
            _drive(conn, sock, conn.do_handshake, deadline)
        except (SSL.Error, TimeoutError, OSError) as exc:
            return _entry("client_renegotiation", "unknown", "the local OpenSSL could not complete a TLS <= 1.2 "
                          f"handshake to try: {_ossl(exc)}")
        proto = conn.get_protocol_version_name()
        if not conn.renegotiate():
            return _entry("client_renegotiation", "unknown", f"OpenSSL would not start a renegotiation ({proto})")
        deadline = ctx.limit()
        try:
            _drive(conn, sock, conn.do_handshake, deadline)
        except TimeoutError:
            return _entry("client_renegotiation", "refused", f"{proto}: no answer to the renegotiation ClientHello "
                          f"within {ctx.timeout:g} s (ignored)", version=proto)
        except (SSL.Error, OSError) as exc:
            return _entry("client_renegotiation", "refused", f"{proto}: the renegotiation ClientHello got: "
                          f"{_ossl(exc)}", version=proto)
        return _entry("client_renegotiation", "accepted", f"{proto}: a renegotiation asked by the client completed "
                      "(a client can make the server redo RSA/DH work at will: DoS)", version=proto)
    finally:
        sock.close()


def _ossl(exc: BaseException) -> str:
    from OpenSSL import SSL

    if isinstance(exc, SSL.ZeroReturnError):
        return "close_notify (connection closed)"
    if isinstance(exc, SSL.SysCallError):
        code, text = (exc.args + (None, None))[:2]
        return "connection closed" if code == -1 else f"connection error: {text}"
    if isinstance(exc, SSL.Error) and exc.args and isinstance(exc.args[0], list):
        return "; ".join(str(e[2]) for e in exc.args[0] if len(e) > 2) or "TLS error"
    if isinstance(exc, TimeoutError):
        return f"timeout ({exc})" if str(exc) else "timeout"
    return f"{type(exc).__name__}: {exc}"


# --- TLS_FALLBACK_SCSV ---------------------------------------------------------------------------------------


def _fallback_scsv(ctx: _Ctx, versions: dict[str, Any]) -> dict[str, Any]:
    from netready.probes.tls_hello import exchange

    order = ("TLSv1.3", *LEGACY_ORDER)
    accepted = [v for v in order if _accepted(versions, v)]
    if len(accepted) < 2:
        unknown = [v for v in order if _accepted(versions, v) is None]
        if unknown:
            return _entry("fallback_scsv", "unknown", f"not tested: support of {', '.join(unknown)} unknown")
        only = accepted[0] if accepted else "no version"
        return _entry("fallback_scsv", "not_applicable", f"only {_ssl(only)} accepted: no lower version to fall "
                      "back to")
    best, lower = accepted[0], accepted[1]
    suites = _suites(versions, lower)
    if not suites:
        return _entry("fallback_scsv", "unknown", f"no suite known for {lower}")
    if not ctx.reserve(1):
        return _no_room("fallback_scsv")
    ans = exchange(ctx.address, ctx.port, _hello(ctx, S.VERSIONS[lower], [*suites, FALLBACK_SCSV]),
                   max(0.05, ctx.limit() - time.monotonic()))
    said = f"a {_ssl(lower)} hello with TLS_FALLBACK_SCSV (the server accepts {_ssl(best)})"
    if ans.kind == "alert" and ans.alert == "inappropriate_fallback":
        return _entry("fallback_scsv", "honoured", f"{said} got alert inappropriate_fallback (RFC 7507)",
                      versions=[best, lower])
    if ans.accepted:
        got = S.VERSION_NAMES.get(ans.version or 0, str(ans.version))
        return _entry("fallback_scsv", "ignored", f"{said} got a {_ssl(got)} ServerHello: downgrade not detected",
                      versions=[best, lower])
    if ans.kind in ("alert", "closed", "reset"):
        what = f"alert {ans.alert}" if ans.kind == "alert" else ans.kind
        return _entry("fallback_scsv", "honoured", f"{said} was refused ({what}) while the same hello without "
                      "the SCSV is accepted (RFC 7507 asks for inappropriate_fallback)", versions=[best, lower])
    return _entry("fallback_scsv", "unknown", f"{said} got: {ans.kind} {ans.detail or ''}".strip())


# --- SHA-1 / MD5 ServerKeyExchange signatures ---------------------------------------------------------------


def _kex_signature(ctx: _Ctx, versions: dict[str, Any]) -> dict[str, Any]:
    from netready.probes.tls_wire import (
        EXT_SIGALGS,
        HS_SERVER_DONE,
        HS_SERVER_HELLO,
        HS_SERVER_KEY_EXCHANGE,
        Event,
        Wire,
        edit_hello,
        key_exchange_signature,
        parse_server_hello,
    )

    name = "kex_signature_hash"
    acc = _accepted(versions, "TLSv1.2")
    if acc is None:
        return _entry(name, "unknown", "not tested: TLS 1.2 support unknown")
    if not acc:
        legacy = [v for v in ("TLSv1.1", "TLSv1.0") if _accepted(versions, v)]
        extra = (f"; {', '.join(legacy)} always sign with MD5+SHA-1 (judged by BP-TLS-LEGACY-OFF)" if legacy else "")
        return _entry(name, "not_applicable", "TLS 1.2 not accepted" + extra)
    fs = [s for s in _suites(versions, "TLSv1.2") if S.classify(S.suite_name(s)).fs]
    if not fs:
        return _entry(name, "not_applicable", "no forward-secret TLS 1.2 suite accepted: no ServerKeyExchange "
                      "is signed")
    if not ctx.reserve(1):
        return _no_room(name)
    schemes = b"".join(s.to_bytes(2, "big") for s in WEAK_SCHEMES)
    hello = edit_hello(_hello(ctx, 0x0303, fs), set_extensions={EXT_SIGALGS: len(schemes).to_bytes(2, "big")
                                                                 + schemes})
    offered = "a TLS 1.2 hello offering only MD5 and SHA-1 signature schemes"
    with Wire(ctx.address, ctx.port, ctx.limit()) as wire:
        try:
            wire.connect()
            wire.send(hello)
        except (TimeoutError, OSError) as exc:
            return _entry(name, "unknown", f"connect: {exc}")
        kx = None
        while True:
            msg = wire.message()
            if isinstance(msg, Event):
                if kx is None and msg.kind in ("alert", "closed", "reset"):
                    return _entry(name, "secure", f"{offered} was refused ({msg.text()})")
                return _entry(name, "unknown", f"{offered} got {msg.text()}")
            mtype, body = msg
            if mtype == HS_SERVER_HELLO:
                try:
                    cipher = parse_server_hello(body).cipher
                except (ValueError, IndexError):
                    return _entry(name, "unknown", "malformed ServerHello")
                kx = S.classify(S.suite_name(cipher)).kx
            elif mtype == HS_SERVER_KEY_EXCHANGE and kx:
                scheme = key_exchange_signature(body, kx)
                if scheme is None:
                    return _entry(name, "unknown", f"ServerKeyExchange for {kx} not understood")
                hname = HASHES.get(scheme >> 8)
                sname = scheme_name(scheme)
                if hname in ("md5", "sha1"):
                    return _entry(name, hname, f"{offered}: the ServerKeyExchange ({kx}) is signed with {sname}",
                                  scheme=sname)
                return _entry(name, "secure", f"{offered}: the server signed with {sname} anyway (not offered)",
                              scheme=sname)
            elif mtype == HS_SERVER_DONE:
                return _entry(name, "unknown", f"no ServerKeyExchange before ServerHelloDone ({kx})")


# --- ROBOT -------------------------------------------------------------------------------------------------


def _robot(ctx: _Ctx, versions: dict[str, Any]) -> dict[str, Any]:
    from netready.probes.robot import check_robot
    from netready.probes.tls_hello import client_hello

    for vname in ("TLSv1.2", "TLSv1.1", "TLSv1.0"):
        rsa = [s for s in _suites(versions, vname) if S.classify(S.suite_name(s)).kx == "RSA"]
        if rsa:
            break
    else:
        unknown = [v for v in ("TLSv1.2", "TLSv1.1", "TLSv1.0") if _accepted(versions, v) is None]
        if unknown:
            return _entry("robot", "unknown", f"not tested: support of {', '.join(unknown)} unknown")
        return _entry("robot", "not_applicable", "no RSA key-exchange suite accepted (TLS 1.0-1.2)")
    # like sslyze: GCM suites first, some servers leak only there
    offer = [s for s in rsa if "GCM" in S.suite_name(s)] or rsa
    version = S.VERSIONS[vname]
    res = check_robot(ctx.address, ctx.port, ctx.timeout, ctx.deadline,
                      lambda: client_hello(version, offer, ctx.sni, []), ctx.reserve)
    return _entry("robot", res.pop("result"), res.pop("evidence"), version=vname,
                  suites=[S.suite_name(s) for s in offer], **res)
