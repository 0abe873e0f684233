"""TLS facts that the probe (measure) and the judge (evaluate) both need: versions, suites, named groups,
the classification of IANA suite names, Mozilla's "intermediate" profile and the vocabulary of the
BP-TLS-VULNS sub-checks. One home for each: probes/tls*.py and netready/evaluate/tls*.py read them here.

Pure data and pure functions: no network, no scapy, nothing from netready.probes (the suite id -> name
table of every TLS <= 1.2 suite comes from scapy and stays on the probe side, probes/tls_suites.py).

Sources:
- versions, TLS 1.3 suites, named groups: IANA "Transport Layer Security (TLS) Parameters" registry
  (Cipher Suites, Supported Groups), RFC 8446 §B.4, RFC 7919 (ffdhe), draft-ietf-tls-ecdhe-mlkem (hybrids);
- the weak-suite flags: RFC 7465 (RC4), RFC 8996 (TLS 1.0/1.1 deprecated), RFC 9325 (BCP 195);
- Mozilla server-side TLS 6.0 "intermediate" (https://ssl-config.mozilla.org/guidelines/6.0.json), as
  REQUIREMENTS §4 adopts it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
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

# Mozilla server-side TLS 6.0 "intermediate" (REQUIREMENTS §4): its TLS 1.2 suites in Mozilla's order, by IANA
# name (what the judge compares) and OpenSSL name (what the lab's servers are configured with; the tls role's
# nginx template writes the same string, tests/test_tls_tables.py keeps the two equal).
_MOZILLA_INTERMEDIATE_TLS12_PAIRS = (
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"),
)
MOZILLA_INTERMEDIATE_TLS12 = frozenset(iana for iana, _ in _MOZILLA_INTERMEDIATE_TLS12_PAIRS)
MOZILLA_INTERMEDIATE_OPENSSL = ":".join(name for _, name in _MOZILLA_INTERMEDIATE_TLS12_PAIRS)
MOZILLA_INTERMEDIATE_CURVES_OPENSSL = "X25519:prime256v1:secp384r1"  # nginx ssl_ecdh_curve, as Mozilla writes it
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


# --- BP-TLS-VULNS: the sub-checks probes/tls_vulns.py runs, in its order, and their bilingual titles ----------

VULN_CHECKS = ("sslv2", "secure_renegotiation", "client_renegotiation", "compression", "fallback_scsv", "heartbleed",
               "robot", "kex_signature_hash")  # fmt: skip
VULN_TITLES: dict[str, tuple[str, str]] = {  # name -> (English, Vietnamese)
    "sslv2": ("SSLv2", "SSLv2"),
    "secure_renegotiation": ("secure renegotiation", "đàm phán lại an toàn"),
    "client_renegotiation": ("client-initiated renegotiation", "đàm phán lại do máy khách khởi tạo"),
    "compression": ("TLS compression", "nén TLS"),
    "fallback_scsv": ("TLS_FALLBACK_SCSV", "TLS_FALLBACK_SCSV"),
    "heartbleed": ("Heartbleed", "Heartbleed"),
    "robot": ("ROBOT", "ROBOT"),
    "kex_signature_hash": ("key exchange signature hash", "hàm băm của chữ ký trao đổi khóa"),
}


def vuln_entry(data: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The entry of one sub-check in a TLS observation's data (None in reports made before it existed)."""
    for entry in (data.get("vulns") or {}).get("checks") or []:
        if entry.get("name") == name:
            return entry
    return None
