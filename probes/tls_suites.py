"""The probe's side of the suite tables: the id -> IANA name table of every TLS <= 1.2 suite (from scapy's TLS
layer, loaded lazily and cached on disk), the hello chunks and OpenSSL's names.

The facts the judge needs too (versions, TLS 1.3 suites, groups, classify(), the Mozilla profile) have one
home, netready/tables/tls.py; they are imported here so `tls_suites.X` keeps meaning the same thing.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from netready.tables.tls import (  # noqa: F401  (re-exported: the probe modules read them as S.NAME)
    BAD_FLAGS,
    FFDHE,
    GROUP_BITS,
    GROUP_IDS,
    GROUPS,
    LEGACY_VERSIONS,
    TLS13_SUITES,
    VERSION_NAMES,
    VERSIONS,
    SuiteInfo,
    classify,
)

_SCSV = {0x00FF, 0x5600}  # signalling values, not suites


def _aria_suites() -> dict[int, str]:
    """RFC 6209 ARIA suites 0xC03C-0xC071 (IANA order), missing from scapy's table; OpenSSL 3 serves them."""
    blocks = [
        ("CBC", ["RSA", "DH_DSS", "DH_RSA", "DHE_DSS", "DHE_RSA", "DH_anon",
                 "ECDHE_ECDSA", "ECDH_ECDSA", "ECDHE_RSA", "ECDH_RSA"]),
        ("GCM", ["RSA", "DHE_RSA", "DH_RSA", "DHE_DSS", "DH_DSS", "DH_anon",
                 "ECDHE_ECDSA", "ECDH_ECDSA", "ECDHE_RSA", "ECDH_RSA"]),
        ("CBC", ["PSK", "DHE_PSK", "RSA_PSK"]),
        ("GCM", ["PSK", "DHE_PSK", "RSA_PSK"]),
        ("CBC", ["ECDHE_PSK"]),
    ]
    out: dict[int, str] = {}
    code = 0xC03C
    for mode, kxs in blocks:
        for kx in kxs:
            out[code] = f"TLS_{kx}_WITH_ARIA_128_{mode}_SHA256"
            out[code + 1] = f"TLS_{kx}_WITH_ARIA_256_{mode}_SHA384"
            code += 2
    return out


# What scapy produced (suite table, hello templates) is kept on disk: importing scapy's TLS layer costs
# 0.5-0.7 s per process (REQUIREMENTS §7), more than a whole scan. Keyed by scapy's version.
CACHE_FORMAT = 1


def _cache_path() -> Path:
    base = os.environ.get("NETREADY_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                            os.path.expanduser("~/.cache"), "netready")
    return Path(base) / f"tls-scapy-v{CACHE_FORMAT}.json"


@functools.lru_cache(maxsize=1)
def _scapy_version() -> str:
    """scapy's installed version, without importing scapy. The dist-info folder next to the package names
    it: importlib.metadata.version() would scan every path entry first (~60 ms, a fifth of `netready tls`)."""
    import importlib.util

    spec = importlib.util.find_spec("scapy")
    if spec and spec.origin:
        site = Path(spec.origin).parent.parent
        found = sorted(site.glob("scapy-*.dist-info"))
        if len(found) == 1:
            return found[0].name[len("scapy-") : -len(".dist-info")]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scapy")
    except PackageNotFoundError:
        return "unknown"


def cache_get(key: str) -> Any:
    try:
        doc = json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return None
    return doc.get(key) if doc.get("scapy") == _scapy_version() else None


def cache_put(key: str, value: Any) -> None:
    """Best effort: a read-only home only costs the scapy import next time."""
    path = _cache_path()
    try:
        doc = json.loads(path.read_text())
        if doc.get("scapy") != _scapy_version():
            doc = {}
    except (OSError, ValueError):
        doc = {}
    doc["scapy"] = _scapy_version()
    doc[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(path)
    except OSError:
        pass


@functools.lru_cache(maxsize=1)
def suite_table() -> dict[int, str]:
    """Every TLS <= 1.2 suite scapy knows plus ARIA (id -> IANA name), minus signalling values."""
    cached = cache_get("suites")
    if cached:
        return {int(k): v for k, v in cached.items()}
    from scapy.layers.tls.crypto.suites import _tls_cipher_suites

    table = {k: v for k, v in _tls_cipher_suites.items() if k < 0x10000 and k not in _SCSV and k not in TLS13_SUITES}
    for k, v in _aria_suites().items():
        table.setdefault(k, v)
    cache_put("suites", {str(k): v for k, v in table.items()})
    return table


MAX_SUITES_PER_HELLO = 120  # some servers refuse a hello of 128 suites or more (testssl.sh splits too)
_ODD = ("PSK", "SRP", "KRB5", "anon", "NULL", "EXPORT", "FORTEZZA", "GOST", "_DH_", "ECDH_", "DSS", "RC2", "IDEA")


@functools.lru_cache(maxsize=1)
def suite_chunks() -> tuple[tuple[int, ...], ...]:
    """Every TLS <= 1.2 suite, in hellos of at most MAX_SUITES_PER_HELLO: suites real servers use first
    (forward secret AEAD, then the rest of ECDHE/DHE/RSA), then PSK, SRP, anonymous, export and the like,
    so a server usually answers from the first hello and the later ones only confirm a refusal."""
    def rank(item: tuple[int, str]) -> tuple:
        code, name = item
        info = classify(name)
        odd = any(word in name for word in _ODD) and not name.startswith(("TLS_ECDHE_", "TLS_DHE_RSA_",
                                                                          "TLS_RSA_WITH"))
        return (odd, bool(set(info.flags) & BAD_FLAGS), not info.fs, not info.aead, code)

    ordered = [code for code, _ in sorted(suite_table().items(), key=rank)]
    return tuple(tuple(ordered[i : i + MAX_SUITES_PER_HELLO]) for i in range(0, len(ordered), MAX_SUITES_PER_HELLO))


@functools.lru_cache(maxsize=1)
def openssl_names() -> dict[int, str]:
    """IANA suite id -> OpenSSL name, for the suites this Python's OpenSSL can speak (any security level)."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return {c["id"] & 0xFFFF: c["name"] for c in ctx.get_ciphers()}


def openssl_cipher_string(suite_ids: list[int]) -> str | None:
    """An OpenSSL cipher string offering exactly these TLS <= 1.2 suites (those OpenSSL has), at security
    level 0; None when OpenSSL has none of them."""
    names = [openssl_names()[c] for c in sorted(set(suite_ids)) if c in openssl_names() and c not in TLS13_SUITES]
    return ":".join(names[:MAX_SUITES_PER_HELLO]) + ":@SECLEVEL=0" if names else None


def suite_name(suite_id: int) -> str:
    if suite_id in TLS13_SUITES:
        return TLS13_SUITES[suite_id]
    return suite_table().get(suite_id, f"0x{suite_id:04X}")
