"""API keys: created once, stored as argon2 hashes, verified fast, revocable at once.

A key reads ``trg_<id>_<secret>``.  The public ``id`` finds the row, so a request costs one
primary-key lookup instead of trying every hash; argon2 (deliberately slow) runs only the
first time a key is seen, after which a SHA-256 digest of the key is cached for
``key_cache_seconds`` and compared in constant time.  The row is read on every request, so a
revocation (``revoked_at``) takes effect on the next request even for a cached key.

Failed authentications are limited per key id and per client address (:class:`FailureLimit`):
an attempt takes its place in both counts before argon2 runs and gives it back only when it
succeeds, so a guesser gets at most ``limit`` argon2 runs per window, however many it sends at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.db.service_models import ApiKey
from triage.decisions.audit import record

Role = Literal["scorer", "analyst", "admin"]
ROLES: tuple[str, ...] = ("scorer", "analyst", "admin")
#: A role may do what the roles before it may (docs/interfaces.md: analyst ⊃ scorer, admin ⊃ all).
ROLE_RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}
PREFIX = "trg"

#: argon2id with the library's defaults (64 MiB, 3 passes); a hash records its own parameters,
#: so keys made with other parameters still verify.
DEFAULT_HASHER = PasswordHasher()


def allows(role: str, needed: str) -> bool:
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[needed]


def create_key(
    session: Session,
    role: str,
    name: str = "",
    *,
    actor_key_id: str | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> tuple[ApiKey, str]:
    """Store a new key hashed and return it with the only copy of its plain text."""
    if role not in ROLE_RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(6)
    plain = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        id=key_id,
        name=name or f"{role} key",
        role=role,
        hash=hasher.hash(plain),
        created_at=datetime.now(timezone.utc),
    )
    session.add(row)
    record(session, "key.create", actor_key_id, target=key_id, role=role)
    return row, plain


def revoke_key(session: Session, key_id: str, *, actor_key_id: str | None = None) -> ApiKey | None:
    """Mark a key revoked (kept for the audit trail); None when there is no such key."""
    row = session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(timezone.utc)
        record(session, "key.revoke", actor_key_id, target=key_id)
    return row


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def key_id_of(presented: str) -> str | None:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


class TooManyFailures(Exception):
    """Too many failed authentications for the key id or the client address; retry after ``retry_after`` s."""

    def __init__(self, retry_after: int):
        super().__init__(f"too many failed authentications; try again in {retry_after} s")
        self.retry_after = retry_after


class FailureLimit:
    """At most ``limit`` failed authentications per subject in a fixed ``window`` of seconds (one process).

    Subjects are ``("key", id)`` of a stored key and ``("address", host)``.  Expired windows are
    dropped when the table grows past ``max_subjects``, so many addresses cannot fill memory.
    """

    def __init__(self, per_key: int, per_address: int, window: float, max_subjects: int = 100_000):
        self.limits = {"key": per_key, "address": per_address}
        self.window, self.max_subjects = window, max_subjects
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, subjects: list[tuple[str, str]]) -> None:
        """Count one attempt against every subject, or raise ``TooManyFailures`` if one has none left."""
        now = time.monotonic()
        with self._lock:
            counts = {s: self._current(s, now) for s in subjects}
            full = [start for s, (start, n) in counts.items() if n >= self.limits[s[0]]]
            if full:
                raise TooManyFailures(max(1, int(max(full) + self.window - now + 0.999)))
            if len(self._counts) > self.max_subjects:
                self._counts = {s: v for s, v in self._counts.items() if now - v[0] < self.window}
            for subject, (start, n) in counts.items():
                self._counts[subject] = (start, n + 1)

    def give_back(self, subjects: list[tuple[str, str]]) -> None:
        """The attempt succeeded: it does not count as a failure."""
        with self._lock:
            for subject in subjects:
                start, n = self._counts.get(subject, (0.0, 0))
                if n > 0:
                    self._counts[subject] = (start, n - 1)

    def _current(self, subject: tuple[str, str], now: float) -> tuple[float, int]:
        start, n = self._counts.get(subject, (now, 0))
        return (start, n) if now - start < self.window else (now, 0)


class KeyVerifier:
    """Checks presented keys against the database, remembering recent argon2 successes and limiting failures."""

    def __init__(self, cache_seconds: float = 300.0, limit: FailureLimit | None = None):
        self.cache_seconds = cache_seconds
        self.limit = limit or FailureLimit(per_key=5, per_address=30, window=60.0)
        self._verified: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def verify(self, session: Session, presented: str, client: str | None = None) -> ApiKey | None:
        """The key's row when ``presented`` is a valid, unrevoked key; None otherwise.

        Raises ``TooManyFailures`` when the key id or the ``client`` address has used up its failures;
        a key verified recently (cached) is let through without counting.
        """
        key_id = key_id_of(presented)
        row = session.get(ApiKey, key_id) if key_id else None
        usable = row is not None and row.revoked_at is None
        digest = hashlib.sha256(presented.encode()).digest()
        with self._lock:
            cached = self._verified.get(key_id) if usable else None
        if (
            cached
            and time.monotonic() - cached[1] < self.cache_seconds
            and hmac.compare_digest(cached[0], digest)
        ):
            return row
        subjects = ([("key", key_id)] if row is not None else []) + (
            [("address", client)] if client else []
        )
        self.limit.take(subjects)
        if not usable:
            return None
        try:
            DEFAULT_HASHER.verify(row.hash, presented)
        except (VerificationError, InvalidHashError):
            return None
        self.limit.give_back(subjects)
        with self._lock:
            self._verified[key_id] = (digest, time.monotonic())
        return row


def open_key_session(settings) -> Session:
    """A session on the migrated service database, for the ``triage keys`` commands."""
    from triage.db import engine_for, migrate

    settings.ensure_home()
    migrate(settings.db_url)
    return Session(engine_for(settings.db_url), expire_on_commit=False)
