"""Workbench sign-in: an analyst's API key checked once, then a signed session cookie.

The cookie holds the id of a session kept in the database, the sign-in time and an HMAC over
both, never the key itself, so a stolen cookie cannot be replayed against the JSON API, it expires
on its own, and signing out ends the session on the server (the cookie is worthless from then on).
The key's row is read on every page, so revoking the key (or lowering its role) signs the
analyst out at once.  The secret is shared by every worker of a service: it comes from
``TRIAGE_WORKBENCH_SECRET`` (``Settings.session_secret``), and the service does not start without
one (an empty or guessable secret would let anyone forge a session).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from triage.db.service_models import ApiKey, WorkbenchSession
from triage.decisions import audit
from triage.decisions.keys import KeyVerifier, allows
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


class CookieSigner:
    """``<session id>.<issued unix time>.<hmac>``: tamper-evident and expiring."""

    def __init__(self, secret: bytes, max_age_seconds: float):
        self.secret, self.max_age = secret, max_age_seconds

    def _mac(self, payload: str) -> str:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()

    def sign(self, session_id: str, now: float | None = None) -> str:
        payload = f"{session_id}.{int(now if now is not None else time.time())}"
        return f"{payload}.{self._mac(payload)}"

    def session_id(self, value: str, now: float | None = None) -> str | None:
        """The session id in a cookie that is intact and not expired; None otherwise."""
        payload, _, mac = value.rpartition(".")
        session_id, _, issued = payload.partition(".")
        if not (session_id and issued.isdigit() and hmac.compare_digest(mac, self._mac(payload))):
            return None
        age = (now if now is not None else time.time()) - int(issued)
        return session_id if 0 <= age <= self.max_age else None


def sign_in(session: Session, verifier: KeyVerifier, presented: str, client: str | None) -> str:
    """A new session's id when the key may use the workbench; raises ``SignInRefused`` otherwise, and
    ``TooManyFailures`` when the key id or the address has failed too often."""
    key = verifier.verify(session, presented.strip(), client)
    if key is None:
        raise SignInRefused("key_invalid")
    if not allows(key.role, ROLE):
        raise SignInRefused("key_scorer")
    started = WorkbenchSession(
        id=secrets.token_urlsafe(32), key_id=key.id, created_at=datetime.now(timezone.utc)
    )
    session.add(started)
    audit.record(session, "workbench.sign_in", key.id)
    return started.id


def sign_out(request: Request, session: Session) -> None:
    """End the cookie's session on the server (if it is still one)."""
    row = _session_row(request, session)
    if row is not None:
        row.ended_at = datetime.now(timezone.utc)
        audit.record(session, "workbench.sign_out", row.key_id)


def _session_row(request: Request, session: Session) -> WorkbenchSession | None:
    session_id = signer_of(request).session_id(request.cookies.get(COOKIE, ""))
    row = session.get(WorkbenchSession, session_id) if session_id else None
    return row if row is not None and row.ended_at is None else None


def signer_of(request: Request) -> CookieSigner:
    return request.app.state.workbench_signer


def signed_in_key(request: Request, session: SessionDep) -> ApiKey:
    """The analyst behind the session cookie; ``SignInRequired`` when there is none any more."""
    row = _session_row(request, session)
    key = session.get(ApiKey, row.key_id) if row is not None else None
    if key is None or key.revoked_at is not None or not allows(key.role, ROLE):
        raise SignInRequired()
    return key


AnalystSession = Annotated[ApiKey, Depends(signed_in_key)]


def case_viewed(score_id: str, key: AnalystSession, session: SessionDep) -> None:
    """Dependency of the case page: who opened which decision, and when, goes to the audit trail
    (ids only: the access log holds no personal data)."""
    audit.record(session, "workbench.case_view", key.id, target=score_id[:200])
    session.commit()
