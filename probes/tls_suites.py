"""Cipher-suite, group and version tables, and a pure classifier of IANA suite names.

No network and no scapy at import: evaluators use classify() on names stored in observations.
The suite id -> IANA name table comes from scapy's TLS layer (loaded lazily by the probe).
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Wire versions the probe asks about, lowest first. SSLv2 has another hello format and no
# server this project can build speaks it (Debian's OpenSSL has no SSLv2 at all): not probed.
VERSIONS: dict[str, int] = {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
VERSION_NAMES: dict[int, str] = {v: k for k, v in VERSIONS.items()}
LEGACY_VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1")

TLS13_SUITES: dict[int, str] = {
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
}

# Named groups (IANA "TLS Supported Groups"): id -> name.
GROUPS: dict[int, str] = {
    19: "secp192r1",
    21: "secp224r1",
    22: "secp256k1",
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    26: "brainpoolP256r1",
    27: "brainpoolP384r1",
    28: "brainpoolP512r1",
    29: "x25519",
    30: "x448",
    256: "ffdhe2048",
    257: "ffdhe3072",
    258: "ffdhe4096",
    259: "ffdhe6144",
    260: "ffdhe8192",
    0x11EB: "SecP256r1MLKEM768",
    0x11EC: "X25519MLKEM768",
    0x11ED: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00",
}
GROUP_IDS: dict[str, int] = {v: k for k, v in GROUPS.items()}
# Rough key-exchange strength of each group (bits of the EC field or the DH modulus) for the judge.
GROUP_BITS: dict[str, int] = {
    "secp192r1": 192,
    "secp224r1": 224,
    "secp256k1": 256,
    "secp256r1": 256,
    "secp384r1": 384,
    "secp521r1": 521,
    "brainpoolP256r1": 256,
    "brainpoolP384r1": 384,
    "brainpoolP512r1": 512,
    "x25519": 256,
    "x448": 448,
    "ffdhe2048": 2048,
    "ffdhe3072": 3072,
    "ffdhe4096": 4096,
    "ffdhe6144": 6144,
    "ffdhe8192": 8192,
    "SecP256r1MLKEM768": 256,
    "X25519MLKEM768": 256,
    "SecP384r1MLKEM1024": 384,
    "X25519Kyber768Draft00": 256,
}
FFDHE = {n for n in GROUPS.values() if n.startswith("ffdhe")}

# Mozilla server-side TLS 6.0 "intermediate" (REQUIREMENTS §4).
MOZILLA_INTERMEDIATE_TLS12 = frozenset(
    {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    }
)
MOZILLA_INTERMEDIATE_TLS13 = frozenset(
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)
MOZILLA_INTERMEDIATE_GROUPS = frozenset({"X25519MLKEM768", "x25519", "secp256r1", "secp384r1"})
MOZILLA_HSTS_AGE = 63072000

# Flags that make a suite insecure (BP-TLS-CIPHERS fail) vs merely dated (warn).
BAD_FLAGS = frozenset({"NULL", "EXPORT", "RC4", "DES", "3DES", "MD5", "ANON", "RC2", "IDEA"})

_SCSV = {0x00FF, 0x5600}


@dataclass(frozen=True)
class SuiteInfo:
    name: str
    kx: str  # RSA, ECDHE_RSA, DHE_RSA, ... or "TLS13"
    fs: bool  # forward secret key exchange
    aead: bool
    cbc: bool
    mac: str  # SHA, SHA256, SHA384, MD5, AEAD
    flags: tuple[str, ...]  # subset of BAD_FLAGS plus "CBC_SHA1"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["flags"] = list(self.flags)
        return d


_AEAD_RE = re.compile(r"(GCM|CCM|CHACHA20_POLY1305)")


@functools.lru_cache(maxsize=1024)
def classify(name: str) -> SuiteInfo:
    """Properties of a suite from its IANA name (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)."""
    if "_WITH_" not in name:  # TLS 1.3 suites name only the AEAD and hash
        aead = bool(_AEAD_RE.search(name))
        return SuiteInfo(name, "TLS13", True, aead, False, "AEAD", ())
    kx, enc = name.removeprefix("TLS_").removeprefix("SSL_").split("_WITH_", 1)
    mac = enc.rsplit("_", 1)[-1] if not _AEAD_RE.search(enc) else "AEAD"
    aead = mac == "AEAD"
    cbc = "_CBC" in f"_{enc}"
    flags: list[str] = []
    if enc.startswith("NULL") or kx == "NULL":
        flags.append("NULL")
    if "EXPORT" in kx or "EXPORT" in enc:
        flags.append("EXPORT")
    if "RC4" in enc:
        flags.append("RC4")
    if "3DES" in enc:
        flags.append("3DES")
    elif re.search(r"(^|_)DES(40)?_", enc):
        flags.append("DES")
    if "RC2" in enc:
        flags.append("RC2")
    if "IDEA" in enc:
        flags.append("IDEA")
    if mac == "MD5":
        flags.append("MD5")
    if "anon" in kx:
        flags.append("ANON")
    if cbc and mac == "SHA" and not (set(flags) & BAD_FLAGS):
        flags.append("CBC_SHA1")
    fs = kx.startswith(("DHE", "ECDHE")) and "anon" not in kx
    return SuiteInfo(name, kx, fs, aead, cbc, mac, tuple(flags))


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
