"""API tokens: `nr_<public id>_<secret>`; the database keeps only an argon2 hash of the secret.

Roles: `read` (one organisation's portals, read only), `admin` (every organisation; may add portals), `metrics`
(may scrape /metrics from anywhere). A verified token is remembered in memory for a minute (by a SHA-256 of the
whole token), so a scrape or a page does not pay argon2's cost on every request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from netready.monitor.db import Organisation, Token
from netready.monitor.store import StoreError, now, organisation

ROLES = ("read", "admin", "metrics")
PREFIX = "nr_"
CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class Principal:
    token_id: int
    role: str
    org: str | None  # None: every organisation

    def sees(self, org: str) -> bool:
        return self.org is None or self.org == org


def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()


def create_token(session: Session, role: str = "read", org: str | None = None, label: str = "") -> str:
    """A new token (shown once). read needs --org; admin and metrics may be limited to an org or not."""
    if role not in ROLES:
        raise StoreError(f"role must be one of {', '.join(ROLES)}")
    if role == "read" and not org:
        raise StoreError("a read-only token belongs to one organisation: give --org (or --admin)")
    org_id = None
    if org:
        owner = organisation(session, org, create=False)
        if owner is None:
            raise StoreError(f"no organisation {org!r} (add its portals first: netready monitor add ... --org)")
        org_id = owner.id
    public = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    session.add(Token(public_id=public, secret_hash=_hasher().hash(secret), role=role, org_id=org_id, label=label,
                      created_at=now(), revoked=False))
    session.flush()
    return f"{PREFIX}{public}_{secret}"


def any_token(session: Session, roles: tuple[str, ...] = ROLES) -> bool:
    return session.scalar(select(Token.id).where(Token.revoked.is_(False), Token.role.in_(roles)).limit(1)) is not None


def split_token(text: str) -> tuple[str, str] | None:
    """(public id, secret) of `nr_<public id>_<secret>`, or None. The public id is hex; the secret is URL-safe
    base64 and may itself contain "_" (and end with it): split at the first "_" after the id, never the last."""
    if not text.startswith(PREFIX):
        return None
    public, sep, secret = text[len(PREFIX):].partition("_")
    if not sep or not public or not secret:
        return None
    return public, secret


class Verifier:
    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def verify(self, session: Session, text: str | None) -> Principal | None:
        parts = split_token(text) if text else None
        if parts is None:
            return None
        key = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            hit = self._cache.get(key)
            if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
                return hit[1]
        public, secret = parts
        row = session.scalar(select(Token).where(Token.public_id == public))
        principal = None
        if row is not None and not row.revoked:
            from argon2.exceptions import VerificationError

            try:
                _hasher().verify(row.secret_hash, secret)
                org = session.get(Organisation, row.org_id).name if row.org_id else None
                principal = Principal(row.id, row.role, org)
            except VerificationError:
                principal = None
        with self._lock:
            self._cache[key] = (time.monotonic(), principal)
        return principal
