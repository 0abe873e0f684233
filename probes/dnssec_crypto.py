"""Signature verification for the DNSSEC probe: what this machine can verify, and verifying within bounds.

What can be verified is asked of the crypto layer, never kept as a list of numbers here: an algorithm is
usable when dnspython's validation policy (RFC 9904: it refuses RSAMD5, DSA, DSA-NSEC3-SHA1) allows it and
dnspython implements it; when a verification with such a key fails, a self-test (sign and verify with a
fresh key of that algorithm) tells a bad signature from a library that cannot do the algorithm any more
(e.g. a system crypto policy that disabled SHA-1 signatures). A digest type is usable when the policy
allows it and dnspython can compute it.

Bounds (KeyTrap, CVE-2023-50387: colliding key tags times many signatures made validators spin): at most
MAX_KEYS_PER_SIGNATURE keys are tried for one RRSIG, MAX_TRIES_PER_RRSET verifications for one RRset and
MAX_TRIES_PER_TARGET for a whole target (Budget); RSA keys with a public exponent above 2^32 are refused
before any arithmetic. A verification whose result is known (same signed data, signature and key: the
same RRset from several servers) is answered from a cache and costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import threading
from collections import OrderedDict
from typing import Any

import dns.dnssec
import dns.dnssecalgs
import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
from dns.rdtypes.ANY.DNSKEY import DNSKEY

MAX_KEYS_PER_SIGNATURE = 4  # keys sharing one tag and algorithm tried for one RRSIG (BIND/Unbound: a few)
MAX_TRIES_PER_RRSET = 8  # signature verifications for one RRset
MAX_TRIES_PER_TARGET = 256  # for everything one target validates (a portal needs 10-40, an online signer
# such as a CDN's, whose every answer carries fresh signatures, up to ~100 with every server validated)
MAX_RSA_EXPONENT = 2**32  # larger exponents only make verification slow (RFC 3110 keys use 65537 or 3)
_CACHE_SIZE = 4096

_DIGEST_NAMES = {1: "SHA-1", 2: "SHA-256", 3: "GOST R 34.11-94", 4: "SHA-384"}


def algorithm_text(alg: int) -> str:
    try:
        name = dns.dnssec.algorithm_to_text(alg)
    except ValueError:
        name = ""
    return f"{alg} ({name})" if name and not name.isdigit() else str(alg)


def digest_text(digest_type: int) -> str:
    name = _DIGEST_NAMES.get(digest_type)
    return f"{digest_type} ({name})" if name else str(digest_type)


class _PolicyKey:
    """What dnspython's Policy looks at: a key's algorithm."""

    def __init__(self, algorithm: int) -> None:
        self.algorithm = algorithm


@functools.lru_cache(maxsize=64)
def algorithm_problem(alg: int) -> str | None:
    """None if signatures of DNSKEY algorithm `alg` can be validated here; else why not (in words)."""
    what = f"algorithm {algorithm_text(alg)}"
    if not dns.dnssec.default_policy.ok_to_validate(_PolicyKey(alg)):
        return f"{what}: validators must not use it (RFC 9904)"
    try:
        dns.dnssecalgs.get_algorithm_cls(alg)
    except dns.exception.UnsupportedAlgorithm:
        return f"{what} is not supported by the crypto library (dnspython)"
    except ValueError:  # outside 0..255
        return f"{what} is not a DNSSEC algorithm"
    return None


_SELF_TEST_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def algorithm_self_test(alg: int) -> str | None:
    """None if the crypto library really signs and verifies algorithm `alg` (a fresh key, one signature);
    else why not. Run only when a verification with such a key failed (RSA key generation costs ~20 ms)."""
    if (why := algorithm_problem(alg)) is not None:
        return why
    with _SELF_TEST_LOCK:
        try:
            cls: Any = dns.dnssecalgs.get_algorithm_cls(alg)
            try:
                priv = cls.generate(2048)
            except TypeError:
                priv = cls.generate()
            data = b"netready self-test"
            sig = priv.sign(data, verify=False)
            priv.public_key().verify(sig, data)
        except Exception as exc:  # noqa: BLE001 - any failure means: this library cannot do it here
            return f"algorithm {algorithm_text(alg)}: the local crypto library cannot verify it ({type(exc).__name__})"
    return None


_PROBE_KEY = DNSKEY(dns.rdataclass.IN, dns.rdatatype.DNSKEY, 257, 3, 13, bytes(64))


@functools.lru_cache(maxsize=32)
def digest_problem(digest_type: int) -> str | None:
    """None if DS digests of this type can be checked here; else why not."""
    what = f"digest type {digest_text(digest_type)}"
    if not dns.dnssec.default_policy.ok_to_validate_ds(digest_type):
        return f"{what}: validators must not use it (RFC 9904)"
    try:
        dns.dnssec.make_ds(dns.name.root, _PROBE_KEY, digest_type, policy=dns.dnssec.allow_all_policy)
    except Exception:  # noqa: BLE001 - UnsupportedAlgorithm for unknown types, ValueError from a FIPS hashlib
        return f"{what} is not supported by the crypto library"
    return None


def rsa_exponent(key: DNSKEY) -> int | None:
    """The public exponent of an RSA DNSKEY (RFC 3110 §2), None if the key is not RSA or is malformed."""
    if int(key.algorithm) not in (1, 5, 7, 8, 10):
        return None
    raw = key.key
    if not raw:
        return None
    if raw[0] == 0:
        if len(raw) < 3:
            return None
        (length,) = struct.unpack("!H", raw[1:3])
        start = 3
    else:
        length, start = raw[0], 1
    return int.from_bytes(raw[start : start + length], "big") if len(raw) >= start + length else None


def key_refused(key: DNSKEY) -> str | None:
    """Why a key is never used for verification (before any arithmetic), or None."""
    e = rsa_exponent(key)
    if e is not None and e > MAX_RSA_EXPONENT:
        return (f"DNSKEY {dns.dnssec.key_id(key)} has an RSA public exponent of {e.bit_length()} bits "
                "(above 2^32): refused, such keys only make verification slow (KeyTrap guard)")
    return None


class Budget:
    """Signature verifications one target may still spend (thread-safe)."""

    def __init__(self, limit: int = MAX_TRIES_PER_TARGET) -> None:
        self.limit = limit
        self.used = 0
        self.cached = 0  # verifications answered from the cache
        self.refused = 0  # verifications not done because a bound was reached
        self._lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    def note_refused(self) -> None:
        with self._lock:
            self.refused += 1

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                self.refused += 1
                return False
            self.used += 1
            return True

    def to_dict(self) -> dict[str, int]:
        return {"verified": self.used, "cached": self.cached, "refused": self.refused, "limit": self.limit}


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


_RESULTS = _Lru(_CACHE_SIZE)  # (data digest, signature, key wire) -> True | False
_PUBLIC = _Lru(512)  # key wire -> public key object, or the reason it cannot be loaded


def clear_caches() -> None:
    """Forget every verification result and loaded key (benchmarks measure the full work of each run)."""
    for lru in (_RESULTS, _PUBLIC):
        with lru.lock:
            lru.data.clear()


def key_wire(key: DNSKEY) -> bytes:
    return key.to_digestable()


def key_digest(key: DNSKEY) -> str:
    """A short identity of a DNSKEY (its RDATA hashed): two keys with one tag are told apart by it."""
    return hashlib.sha256(key_wire(key)).hexdigest()[:16]


def _public(key: DNSKEY) -> Any:
    wire = key_wire(key)
    found = _PUBLIC.get(wire)
    if found is None:
        try:
            found = dns.dnssecalgs.get_algorithm_cls_from_dnskey(key).public_cls.from_dnskey(key)
        except Exception as exc:  # noqa: BLE001 - a malformed key is a fact about the key, not a crash
            found = f"DNSKEY {dns.dnssec.key_id(key)} cannot be loaded ({type(exc).__name__}: {exc})"
        _PUBLIC.put(wire, found)
    return found


def verify(data: bytes, signature: bytes, key: DNSKEY, budget: Budget) -> tuple[bool | None, str | None]:
    """(True, None) verified; (False, why) the signature does not verify with this key; (None, why) not
    tried (refused key, unloadable key, or a bound reached)."""
    if (why := key_refused(key)) is not None:
        return None, why
    cache_key = (hashlib.sha256(data).digest(), signature, key_wire(key))
    known = _RESULTS.get(cache_key)
    if known is not None:
        with budget._lock:
            budget.cached += 1
        return known, None if known else "signature does not verify"
    public = _public(key)
    if isinstance(public, str):
        return None, public
    if not budget.take():
        return None, f"validation budget of {budget.limit} signature checks for this target used up (KeyTrap guard)"
    try:
        public.verify(signature, data)
        ok = True
    except Exception:  # noqa: BLE001 - InvalidSignature, or a backend error on hostile input: not verified
        ok = False
    _RESULTS.put(cache_key, ok)
    return ok, None if ok else "signature does not verify"
