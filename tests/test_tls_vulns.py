"""The TLS weakness checks (probes/tls_vulns.py) and BP-TLS-VULNS against servers on loopback: the
hostile fakes of tests/tls_fakes.py emulate each weakness byte for byte, real OpenSSL servers (Python's
ssl) give the clean cases and the weaknesses OpenSSL can still be configured for."""

from __future__ import annotations

import json
import ssl
import time

import pytest
from tls_fakes import HOST, MEMORY, RSA_AES128_CBC, FakeTLS, Key, ScsvStripper, Weakness, serve, ssl_handler

from netready.evaluate import registry
from netready.model import Observation, ProbeSettings, Target
from netready.probes import tls
from netready.probes.tls_vulns import CHECKS, MAX_CONNECTIONS, skipped
from netready.tables.tls import vuln_entry as find
from netready.views.tls import render_tls_text


@pytest.fixture(scope="module")
def key() -> Key:
    return Key()


@pytest.fixture(scope="module")
def pem(key, tmp_path_factory):
    return key.pem_file(tmp_path_factory.mktemp("vulns"))


SETTINGS = ProbeSettings(timeout=1.0, budget=8.0)


def _scan(port: int) -> Observation:
    obs = tls.scan_host(HOST, port, ["127.0.0.1"], HOST, SETTINGS)[0]
    vulns = obs.data["vulns"]
    assert [e["name"] for e in vulns["checks"]] == list(CHECKS)
    assert all(e["evidence"] for e in vulns["checks"])
    assert vulns["connections"] <= MAX_CONNECTIONS, vulns
    return obs


def _fake(weak: Weakness, key: Key) -> tuple[Observation, Weakness]:
    with serve(FakeTLS(weak, key)) as port:
        return _scan(port), weak


def _result(obs: Observation, name: str) -> str:
    return find(obs.data, name)["result"]


def _judge(obs: Observation, rule: str = "BP-TLS-VULNS"):
    from netready.profiles import load_profile

    out = registry()[rule](Target(HOST, HOST, ["127.0.0.1"]), [obs], load_profile("circular32"))
    assert len(out) == 1 and out[0].subject == "127.0.0.1" and out[0].en and out[0].vi
    return out[0]


# --- clean servers -------------------------------------------------------------------------------------------


def test_modern_openssl_server_has_none_of_the_weaknesses(pem):
    # static RSA offered too, so that OpenSSL's own answer to the five ROBOT paddings is seen
    with serve(ssl_handler(pem, ciphers="ECDHE-RSA-AES128-GCM-SHA256:AES128-GCM-SHA256")) as port:
        obs = _scan(port)
    results = {e["name"]: e["result"] for e in obs.data["vulns"]["checks"]}
    assert results == {"sslv2": "refused", "secure_renegotiation": "supported", "client_renegotiation": "refused",
                       "compression": "refused", "fallback_scsv": "honoured", "heartbleed": "not_vulnerable",
                       "robot": "no_oracle", "kex_signature_hash": "secure"}
    out = _judge(obs)
    assert out.verdict == "pass", out.en
    legacy = _judge(obs, "BP-TLS-LEGACY-OFF")
    assert legacy.verdict == "pass" and "SSLv2, SSLv3" in legacy.en and "not probed" not in legacy.en
    assert "chưa kiểm tra" not in legacy.vi
    text = render_tls_text([obs], "vi")
    assert "Điểm yếu" in text and "Heartbleed" in text


def test_tls13_only_server_needs_no_renegotiation_compression_or_heartbeat_checks(pem):
    with serve(ssl_handler(pem, min_version=ssl.TLSVersion.TLSv1_3)) as port:
        obs = _scan(port)
    for name in ("secure_renegotiation", "client_renegotiation", "compression", "heartbleed", "robot",
                 "fallback_scsv", "kex_signature_hash"):
        assert _result(obs, name) in ("not_applicable",), (name, find(obs.data, name))
    assert obs.data["vulns"]["connections"] == 1  # only the SSLv2 hello
    assert _judge(obs).verdict == "pass"


# --- SSLv2 ----------------------------------------------------------------------------------------------------


def test_sslv2_server_hello_fails_legacy_off_and_vulns(key):
    obs, weak = _fake(Weakness(sslv2=True), key)
    entry = find(obs.data, "sslv2")
    assert entry["result"] == "accepted", entry
    assert entry["ciphers"] == ["SSL_CK_RC4_128_WITH_MD5", "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"]
    legacy = _judge(obs, "BP-TLS-LEGACY-OFF")
    assert legacy.verdict == "fail" and "SSLv2" in legacy.en
    vulns = _judge(obs)
    assert vulns.verdict == "fail" and "SSLv2 accepted (DROWN)" in vulns.en and "SSLv2" in vulns.vi


def test_server_closing_on_sslv2_hello_refuses_it(key):
    obs, weak = _fake(Weakness(), key)
    assert _result(obs, "sslv2") == "refused" and "sslv2 hello" in weak.log
    assert "closed" in find(obs.data, "sslv2")["evidence"]


def test_server_silent_on_sslv2_hello_does_not_speak_sslv2(key):
    t0 = time.monotonic()
    obs, weak = _fake(Weakness(sslv2="silent"), key)
    assert time.monotonic() - t0 < 6  # one timeout waited for, not more (a generous "does not hang" bound)
    entry = find(obs.data, "sslv2")
    assert entry["result"] == "refused" and "does not speak SSLv2" in entry["evidence"], entry
    assert _judge(obs, "BP-TLS-LEGACY-OFF").verdict == "pass"


# --- renegotiation ------------------------------------------------------------------------------------------


def test_client_initiated_renegotiation_accepted_fails(pem):
    with serve(ssl_handler(pem, options=0x100)) as port:  # SSL_OP_ALLOW_CLIENT_RENEGOTIATION
        obs = _scan(port)
    assert _result(obs, "client_renegotiation") == "accepted"
    assert _result(obs, "secure_renegotiation") == "supported"
    out = _judge(obs)
    assert out.verdict == "fail" and "client-initiated renegotiation accepted" in out.en
    assert "đàm phán lại do máy khách" in out.vi


def test_server_without_renegotiation_info_is_insecure_renegotiation(key):
    obs, _ = _fake(Weakness(reneg_info=False), key)
    entry = find(obs.data, "secure_renegotiation")
    assert entry["result"] == "not_supported" and "CVE-2009-3555" in entry["evidence"]
    assert "none either to the SCSV" in entry["evidence"]  # both ways of asking were tried
    # the local OpenSSL cannot finish a handshake with the fake: said, not guessed
    assert _result(obs, "client_renegotiation") == "unknown"
    out = _judge(obs)
    assert out.verdict == "fail" and "no secure renegotiation" in out.en


def test_renegotiation_scsv_honoured_without_the_extension_is_secure(key):
    obs, _ = _fake(Weakness(reneg_info="scsv_only"), key)
    entry = find(obs.data, "secure_renegotiation")
    assert entry["result"] == "supported" and "SCSV" in entry["evidence"], entry


# --- compression ---------------------------------------------------------------------------------------------


def test_server_choosing_deflate_fails_for_crime(key):
    obs, _ = _fake(Weakness(deflate=True), key)
    entry = find(obs.data, "compression")
    assert entry["result"] == "accepted" and "DEFLATE" in entry["evidence"] and entry["method"] == 1
    out = _judge(obs)
    assert out.verdict == "fail" and "CRIME" in out.en


def test_server_choosing_null_compression_passes_compression(key):
    obs, _ = _fake(Weakness(), key)
    assert _result(obs, "compression") == "refused"


# --- TLS_FALLBACK_SCSV ----------------------------------------------------------------------------------------


def test_fallback_scsv_ignored_warns(pem):
    with serve(ssl_handler(pem)) as backend, serve(stripper := ScsvStripper(backend)) as port:
        obs = _scan(port)
    assert stripper.stripped == 1
    entry = find(obs.data, "fallback_scsv")
    assert entry["result"] == "ignored" and entry["versions"] == ["TLSv1.3", "TLSv1.2"], entry
    out = _judge(obs)
    assert out.verdict == "warn" and "TLS_FALLBACK_SCSV ignored" in out.en, out.en


def test_fallback_scsv_honoured_by_alert(key):
    obs, weak = _fake(Weakness(versions=(0x0301, 0x0302, 0x0303)), key)
    entry = find(obs.data, "fallback_scsv")
    assert entry["result"] == "honoured" and "inappropriate_fallback" in entry["evidence"]
    assert "scsv at 0x0302" in weak.log


def test_fallback_scsv_not_applicable_with_one_version(key):
    obs, weak = _fake(Weakness(), key)
    assert _result(obs, "fallback_scsv") == "not_applicable"
    assert not [x for x in weak.log if x.startswith("scsv")]


# --- Heartbleed ---------------------------------------------------------------------------------------------


def test_heartbleed_echo_is_vulnerable_and_leaked_bytes_are_not_kept(key):
    obs, weak = _fake(Weakness(heartbeat="leak"), key)
    entry = find(obs.data, "heartbleed")
    assert entry["result"] == "vulnerable" and "CVE-2014-0160" in entry["evidence"], entry
    assert weak.log.count("heartbeat claiming 16 with 0 bytes") == 1  # one request, nothing more
    kept = json.dumps(obs.to_dict())
    assert MEMORY.decode() not in kept and MEMORY.hex() not in kept and "SECRET" not in kept  # measured, never kept
    out = _judge(obs)
    assert out.verdict == "fail" and "Heartbleed" in out.en


def test_patched_heartbeat_discards_the_request_without_a_wait(key):
    t0 = time.monotonic()
    obs, weak = _fake(Weakness(heartbeat="patched"), key)
    entry = find(obs.data, "heartbleed")
    assert entry["result"] == "not_vulnerable" and "echoed" in entry["evidence"], entry
    assert "heartbeat claiming 16 with 0 bytes" in weak.log
    assert time.monotonic() - t0 < 4  # the close_notify after the request: no timeout is waited for


def test_no_heartbeat_extension_means_no_request_is_sent(key):
    obs, weak = _fake(Weakness(), key)
    assert _result(obs, "heartbleed") == "not_vulnerable"
    assert not [x for x in weak.log if x.startswith("heartbeat")]


# --- ROBOT ---------------------------------------------------------------------------------------------------


def test_robot_strong_oracle_fails(key):
    obs, weak = _fake(Weakness(robot="strong"), key)
    entry = find(obs.data, "robot")
    assert entry["result"] == "strong_oracle", entry
    assert entry["answers"]["wrong_first_two_bytes"] == "reset"
    assert entry["answers"]["no_00_in_the_middle"] == "alert decode_error"
    assert entry["answers"]["valid"] == "alert bad_record_mac"
    assert entry["rechecked"]  # confirmed on a second connection before being reported
    assert entry["suites"] == ["TLS_RSA_WITH_AES_128_GCM_SHA256"]  # GCM first, as sslyze
    out = _judge(obs)
    assert out.verdict == "fail" and "ROBOT: strong" in out.en


def test_robot_weak_oracle_fails(key):
    obs, _ = _fake(Weakness(robot="weak"), key)
    entry = find(obs.data, "robot")
    assert entry["result"] == "weak_oracle", entry
    assert {entry["answers"][v] for v in ("wrong_first_two_bytes", "wrong_position_00", "no_00_in_the_middle")} == {
        "alert handshake_failure"}
    assert _judge(obs).verdict == "fail"


def test_robot_uniform_answers_are_no_oracle(key):
    obs, weak = _fake(Weakness(), key)
    entry = find(obs.data, "robot")
    assert entry["result"] == "no_oracle" and set(entry["answers"].values()) == {"alert bad_record_mac"}
    assert weak.ckes == 5  # five variants, no re-check needed
    formats = [x for x in weak.log if x.startswith("cke")]
    assert "cke first_ok=True format_ok=True" in formats and "cke first_ok=False format_ok=False" in formats


def test_robot_answers_that_change_are_unknown_not_an_oracle(key):
    obs, weak = _fake(Weakness(robot="flaky"), key)
    entry = find(obs.data, "robot")
    assert entry["result"] == "unknown" and "inconsistent" in entry["evidence"], entry
    out = _judge(obs)
    assert out.verdict == "error" and "ROBOT not determined" in out.en


def test_robot_not_applicable_without_rsa_key_exchange(key):
    obs, weak = _fake(Weakness(suites=(0xC02F,)), key)
    assert _result(obs, "robot") == "not_applicable" and weak.ckes == 0


def test_robot_uses_cbc_suites_when_no_rsa_gcm_suite(key):
    obs, _ = _fake(Weakness(suites=(0xC02F, RSA_AES128_CBC)), key)
    entry = find(obs.data, "robot")
    assert entry["result"] == "no_oracle" and entry["suites"] == ["TLS_RSA_WITH_AES_128_CBC_SHA"]


# --- key exchange signatures ---------------------------------------------------------------------------------


def test_openssl_at_seclevel_0_signing_with_sha1_warns(pem):
    with serve(ssl_handler(pem, ciphers="ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0")) as port:
        obs = _scan(port)
    entry = find(obs.data, "kex_signature_hash")
    assert entry["result"] == "sha1" and entry["scheme"] == "rsa_sha1", entry
    out = _judge(obs)
    assert out.verdict == "warn" and "SHA-1" in out.en


def test_md5_signed_key_exchange_fails(key):
    obs, _ = _fake(Weakness(sign="first"), key)
    entry = find(obs.data, "kex_signature_hash")
    assert entry["result"] == "md5" and entry["scheme"] == "rsa_md5", entry
    out = _judge(obs)
    assert out.verdict == "fail" and "MD5" in out.en


# --- judging saved and partial observations ------------------------------------------------------------------


def test_report_from_before_the_checks_rejudges_as_before(pem):
    with serve(ssl_handler(pem)) as port:
        obs = _scan(port)
    old = Observation.from_dict(obs.to_dict())
    old.data.pop("vulns")
    legacy = _judge(old, "BP-TLS-LEGACY-OFF")
    assert legacy.verdict == "pass" and "SSLv2 not probed" in legacy.en  # a saved report claims nothing new
    out = _judge(old)
    assert out.verdict == "error" and "not probed" in out.en


def test_silent_server_gets_no_weakness_connections():
    import socket

    def silent(sock: socket.socket) -> None:
        time.sleep(3)

    quick = ProbeSettings(timeout=0.4, budget=2.0)
    with serve(silent) as port:
        t0 = time.monotonic()
        obs = tls.scan_host(HOST, port, ["127.0.0.1"], HOST, quick)[0]
        assert time.monotonic() - t0 < quick.budget + 1
    vulns = obs.data["vulns"]
    assert vulns["connections"] == 0 and {e["result"] for e in vulns["checks"]} == {"unknown"}
    assert "raw probing stopped (timeout" in vulns["checks"][0]["evidence"]
    # no TLS at all: VN-HTTPS gives the error (after a retry); the weaknesses are its consequence (issue #14)
    out = _judge(obs)
    assert (out.verdict, out.caused_by) == ("info", "VN-HTTPS"), out
    assert _judge(obs, "VN-HTTPS").verdict == "error"


def test_weaknesses_not_tested_after_a_timeout_are_said_once():
    obs = Observation(id="tls:x:127.0.0.1", probe="tls", target=HOST, subject="127.0.0.1",
                      data={"address": "127.0.0.1", "versions": {"TLSv1.2": {"accepted": True}},
                            "vulns": skipped("raw probing stopped (timeout: no answer within 2 s)")})
    out = _judge(obs)
    assert out.verdict == "error" and out.en.count("timeout") == 1 and "raw probing stopped" in out.vi


def test_edited_hellos_still_dissect():
    """The hello editing (compression, heartbeat, signature schemes, extra suites) keeps a valid ClientHello."""
    from scapy.layers.tls.record import TLS

    from netready.probes.tls_hello import client_hello
    from netready.probes.tls_vulns import WEAK_SCHEMES
    from netready.probes.tls_wire import EXT_HEARTBEAT, EXT_SIGALGS, edit_hello

    base = client_hello(0x0303, [0xC02F, 0x002F], HOST, [29, 23])
    schemes = b"".join(s.to_bytes(2, "big") for s in WEAK_SCHEMES)
    raw = edit_hello(base, compression=b"\x01\x00", add_ciphers=(0x5600,),
                     set_extensions={EXT_HEARTBEAT: b"\x01", EXT_SIGALGS: len(schemes).to_bytes(2, "big") + schemes,
                                     0xFF01: None})
    ch = TLS(raw).msg[0]
    assert list(ch.ciphers) == [0xC02F, 0x002F, 0x5600] and list(ch.comp) == [1, 0]
    exts = {type(e).__name__: e for e in ch.ext}
    assert "TLS_Ext_Heartbeat" in exts and "TLS_Ext_RenegotiationInfo" not in exts
    assert list(exts["TLS_Ext_SignatureAlgorithms"].sig_algs) == list(WEAK_SCHEMES)
    assert exts["TLS_Ext_ServerName"].servernames[0].servername == HOST.encode()


# --- old and odd stacks ----------------------------------------------------------------------------------------


def test_hellos_refused_for_heartbeat_and_deflate_are_retried_without_them(key):
    obs, _ = _fake(Weakness(intolerant=("heartbeat", "deflate")), key)
    comp, hb = find(obs.data, "compression"), find(obs.data, "heartbleed")
    assert comp["result"] == "refused" and "DEFLATE was refused" in comp["evidence"], comp
    assert hb["result"] == "unknown", hb  # the heartbeat extension alone was never tried: not guessed
    assert _result(obs, "secure_renegotiation") == "supported"  # read from the plain hello


def test_hello_refused_only_for_heartbeat_means_no_heartbeat(key):
    obs, _ = _fake(Weakness(intolerant=("heartbeat",)), key)
    hb = find(obs.data, "heartbleed")
    assert hb["result"] == "not_vulnerable" and "refused" in hb["evidence"], hb
    assert _result(obs, "compression") == "refused"


def test_connection_allowance_is_never_exceeded(key):
    """Intolerant hellos (3 connections), two versions and a ROBOT oracle would want 15: 12 are used, and the
    oracle is reported as not re-checked rather than re-checked beyond the allowance."""
    weak = Weakness(versions=(0x0302, 0x0303), intolerant=("heartbeat", "deflate"), robot="strong")
    obs, weak = _fake(weak, key)
    assert obs.data["vulns"]["connections"] == MAX_CONNECTIONS
    robot = find(obs.data, "robot")
    assert robot["result"] == "strong_oracle" and "not re-checked" in robot["evidence"], robot
    assert weak.ckes == 5


def test_sslv3_only_server_is_asked_about_renegotiation_with_the_scsv(key):
    obs, _ = _fake(Weakness(versions=(0x0300,), suites=(RSA_AES128_CBC,)), key)
    assert obs.data["versions"]["SSLv3"]["accepted"] is True
    entry = find(obs.data, "secure_renegotiation")
    assert entry["result"] == "supported" and "SCSV" in entry["evidence"], entry
    assert _result(obs, "heartbleed") == "not_applicable"
    assert _result(obs, "robot") == "not_applicable"  # ROBOT is tested on TLS 1.0-1.2 only, as sslyze
    assert _judge(obs, "BP-TLS-LEGACY-OFF").verdict == "fail"


def test_sslv2_answers_read_by_hand():
    from netready.probes.sslv2 import client_hello, parse_answer

    hello = client_hello(b"\x01" * 16)
    assert hello[:2] == bytes([0x80, len(hello) - 2]) and hello[2] == 1 and hello[3:5] == b"\x00\x02"
    assert parse_answer(b"\x15\x03\x01\x00\x02\x02\x46")["answer"] == "TLS alert protocol_version"
    err = parse_answer(b"\x80\x03\x00\x00\x01")
    assert err["accepted"] is False and "NO-CIPHER-ERROR" in err["answer"]
    assert parse_answer(b"HTTP/1.1 400 Bad")["accepted"] is False
    v3 = parse_answer(b"\x80\x0b\x04\x00\x01\x03\x00" + b"\x00" * 6)
    assert v3["accepted"] is False and "version" in v3["answer"]  # a SERVER-HELLO must say version 2
    ok = parse_answer(b"\x80\x0e\x04\x00\x01\x00\x02\x00\x00\x00\x03\x00\x00" + bytes.fromhex("010080"))
    assert ok["accepted"] is True and ok["ciphers"] == ["SSL_CK_RC4_128_WITH_MD5"]


def test_scapy_version_from_its_dist_info_matches_the_metadata():
    """The hello cache is keyed by scapy's version, now read from the dist-info folder name (cheap)."""
    from importlib.metadata import version

    from netready.probes.tls_suites import _scapy_version

    assert _scapy_version() == version("scapy")
