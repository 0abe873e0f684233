"""Hellos spliced from scapy templates must still be what scapy itself would dissect; suite names classify."""

from __future__ import annotations

from netready.probes import tls_suites as S
from netready.probes.tls_hello import client_hello


def _dissect(raw: bytes):
    from scapy.layers.tls.record import TLS

    rec = TLS(raw)
    return rec.msg[0]


def test_tls12_hello_dissects():
    ciphers = [0xC02F, 0x000A, 0x0005]
    ch = _dissect(client_hello(0x0303, ciphers, "dichvucong.good.gov.vn", [29, 23]))
    assert ch.version == 0x0303 and list(ch.ciphers) == ciphers
    exts = {type(e).__name__: e for e in ch.ext}
    assert exts["TLS_Ext_ServerName"].servernames[0].servername == b"dichvucong.good.gov.vn"
    assert list(exts["TLS_Ext_SupportedGroups"].groups) == [29, 23]
    assert "TLS_Ext_SupportedVersion_CH" not in exts


def test_tls13_hello_with_and_without_share():
    ch = _dissect(client_hello(0x0304, [0x1301], "a.example", [29, 24]))
    exts = {type(e).__name__: e for e in ch.ext}
    assert list(exts["TLS_Ext_SupportedVersion_CH"].versions) == [0x0304]
    shares = exts["TLS_Ext_KeyShare_CH"].client_shares
    assert len(shares) == 1 and shares[0].group == 29 and len(shares[0].key_exchange) == 32
    ch = _dissect(client_hello(0x0304, [0x1301], None, [24], key_share=False))
    exts = {type(e).__name__: e for e in ch.ext}
    assert "TLS_Ext_ServerName" not in exts and not exts["TLS_Ext_KeyShare_CH"].client_shares


def test_ssl3_and_tls10_hellos():
    raw = client_hello(0x0300, [0x000A], "a.example", [29])
    assert raw[1:3] == b"\x03\x00"
    ch = _dissect(raw)
    assert ch.version == 0x0300 and not ch.ext
    ch = _dissect(client_hello(0x0301, [0x002F], "a.example", [23]))
    assert ch.version == 0x0301
    assert "TLS_Ext_SignatureAlgorithms" not in {type(e).__name__ for e in ch.ext}


def test_classify():
    good = S.classify("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    assert good.fs and good.aead and not good.flags
    assert S.classify("TLS_RSA_WITH_3DES_EDE_CBC_SHA").flags == ("3DES",)
    assert S.classify("TLS_RSA_WITH_DES_CBC_SHA").flags == ("DES",)
    assert "EXPORT" in S.classify("TLS_RSA_EXPORT_WITH_RC4_40_MD5").flags
    assert "MD5" in S.classify("TLS_RSA_WITH_RC4_128_MD5").flags
    assert S.classify("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA").flags == ("CBC_SHA1",)
    cbc256 = S.classify("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256")
    assert cbc256.fs and not cbc256.aead and not cbc256.flags
    assert not S.classify("TLS_RSA_WITH_AES_128_GCM_SHA256").fs
    assert "ANON" in S.classify("TLS_DH_anon_WITH_AES_128_GCM_SHA256").flags
    assert S.classify("TLS_AES_256_GCM_SHA384").aead and S.classify("TLS_CHACHA20_POLY1305_SHA256").fs
    assert "NULL" in S.classify("TLS_ECDHE_RSA_WITH_NULL_SHA").flags


def test_hostname_matching_per_rfc9525():
    from netready.probes.tls_cert import hostname_matches as m

    assert m("a.example", ["a.example"], [], [])
    assert m("www.a.example", ["*.a.example"], [], [])
    assert not m("a.example", ["*.a.example"], [], [])
    assert not m("x.y.a.example", ["*.a.example"], [], [])
    assert m("xn--bcher-kva.a.example", ["*.a.example"], [], [])  # a wildcard is one whole label, A-labels too
    assert not m("xn--bcher-kva.a.example", ["xn--*.a.example"], [], [])  # never a partial-label wildcard
    assert m("xn--bcher-kva.example", ["XN--BCHER-KVA.example"], [], [])
    assert not m("a.example", ["b.example"], [], ["a.example"])  # CN ignored when SAN present
    assert not m("a.example", [], [], ["a.example"])  # and a CN-only certificate matches nothing
    assert m("198.51.100.1", [], ["198.51.100.1"], [])


def test_disk_cache_round_trip(tmp_path, monkeypatch):
    from netready.probes import tls_hello, tls_suites

    monkeypatch.setenv("NETREADY_CACHE", str(tmp_path))
    tls_hello._template.cache_clear()
    tls_suites.suite_table.cache_clear()
    try:
        built = tls_hello._template("tls13")  # cache empty: scapy builds, then writes the file
        table = tls_suites.suite_table()
        assert (tmp_path / f"tls-scapy-v{tls_suites.CACHE_FORMAT}.json").exists()
        tls_hello._template.cache_clear()
        tls_suites.suite_table.cache_clear()
        assert tls_hello._template("tls13") == built and tls_suites.suite_table() == table
        assert table[0xC02F] == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        assert table[0xC050].endswith("ARIA_128_GCM_SHA256")
    finally:
        tls_hello._template.cache_clear()
        tls_suites.suite_table.cache_clear()
