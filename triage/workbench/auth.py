"""Workbench sign-in: an analyst's API key checked once, then a signed session cookie.

The cookie holds the key's public id, the sign-in time and an HMAC over both, never the key
itself, so a stolen cookie cannot be replayed against the JSON API and it expires on its own.
The key's row is read on every page, so revoking the key (or lowering its role) signs the
analyst out at once.  The secret is shared by every worker of a service: it comes from
``TRIAGE_WORKBENCH_SECRET``, at least :data:`MIN_SECRET_LENGTH` characters, and the service does not
start without one (an empty or guessable secret would let anyone forge a session).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from triage.db.service_models import ApiKey
from triage.decisions import audit
from triage.decisions.keys import KeyVerifier, allows
from triage.settings import Settings
from triage.web import SessionDep

COOKIE = "triage_workbench"
ROLE = "analyst"


class SignInRequired(Exception):
    """No valid session: the handler sends the browser to the sign-in page."""


class SignInRefused(Exception):
    """The key presented at sign-in may not use the workbench; ``reason`` names the message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


MIN_SECRET_LENGTH = 32


class SecretMissing(ValueError):
    """``TRIAGE_WORKBENCH_SECRET`` is unset or too short: the service refuses to start."""


def session_secret(settings: Settings) -> bytes:
    """The configured secret; raises ``SecretMissing`` when it is unset or shorter than 32 characters."""
    secret = settings.workbench_secret.get_secret_value().strip() if settings.workbench_secret else ""
    if len(secret) < MIN_SECRET_LENGTH:
        raise SecretMissing(
            f"TRIAGE_WORKBENCH_SECRET must hold at least {MIN_SECRET_LENGTH} characters (it has {len(secret)}); "
            "make one with: python -c 'import secrets; print(secrets.token_hex(32))'")
    return secret.encode()


class CookieSigner:
    """``<key id>.<issued unix time>.<hmac>``: tamper-evident and expiring."""

    def __init__(self, secret: bytes, max_age_seconds: float):
        self.secret, self.max_age = secret, max_age_seconds

    def _mac(self, payload: str) -> str:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()

    def sign(self, key_id: str, now: float | None = None) -> str:
        payload = f"{key_id}.{int(now if now is not None else time.time())}"
        return f"{payload}.{self._mac(payload)}"

    def key_id(self, value: str, now: float | None = None) -> str | None:
        """The key id in a cookie that is intact and not expired; None otherwise."""
        payload, _, mac = value.rpartition(".")
        key_id, _, issued = payload.partition(".")
        if not (key_id and issued.isdigit() and hmac.compare_digest(mac, self._mac(payload))):
            return None
        age = (now if now is not None else time.time()) - int(issued)
        return key_id if 0 <= age <= self.max_age else None


def sign_in(session: Session, verifier: KeyVerifier, presented: str, client: str | None) -> ApiKey:
    """The key's row when it may use the workbench; raises ``SignInRefused`` otherwise, and
    ``TooManyFailures`` when the key id or the address has failed too often."""
    key = verifier.verify(session, presented.strip(), client)
    if key is None:
        raise SignInRefused("key_invalid")
    if not allows(key.role, ROLE):
        raise SignInRefused("key_scorer")
    audit.record(session, "workbench.sign_in", key.id)
    return key


def signer_of(request: Request) -> CookieSigner:
    return request.app.state.workbench_signer


def signed_in_key(request: Request, session: SessionDep) -> ApiKey:
    """The analyst behind the session cookie; ``SignInRequired`` when there is none any more."""
    key_id = signer_of(request).key_id(request.cookies.get(COOKIE, ""))
    key = session.get(ApiKey, key_id) if key_id else None
    if key is None or key.revoked_at is not None or not allows(key.role, ROLE):
        raise SignInRequired()
    return key


AnalystSession = Annotated[ApiKey, Depends(signed_in_key)]
