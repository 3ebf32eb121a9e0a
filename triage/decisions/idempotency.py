"""Idempotent scoring: a score call sent again with the same ``Idempotency-Key`` stores nothing new.

The first call with a key stores its decisions and, in the same transaction, the key, a digest
of the body and the decisions' ids.  A retry with the same body gets those stored decisions back;
a retry with another body is refused (:class:`IdempotencyConflict`), since answering it with the
first body's decisions would be wrong and scoring it would make the key mean two things.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triage.db.service_models import Decision, IdempotentRequest
from triage.decisions import stored
from triage.decisions.scored import ScoredCase
from triage.decisions.scoring import Scorer
from triage.decisions.types import ScoreRequest
from triage.models.registry import Champions


class IdempotencyConflict(Exception):
    """The idempotency key was used before with another body."""


def body_digest(body: dict) -> str:
    """A digest of the body as the client sent it (fields left out stay out, so a default ``as_of`` of
    "now" does not make a retry look different)."""
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _replayed(session: Session, previous: IdempotentRequest, digest: str) -> list[ScoredCase]:
    if previous.body_sha256 != digest:
        raise IdempotencyConflict("this Idempotency-Key was used before with another body")
    rows = {
        d.score_id: d.response
        for d in session.execute(
            select(Decision.score_id, Decision.response).where(
                Decision.score_id.in_(previous.score_ids)
            )
        )
    }
    return [ScoredCase.from_record(rows[score_id]) for score_id in previous.score_ids]


def score_once(
    session: Session,
    scorer: Scorer,
    champions: Champions,
    requests: list[ScoreRequest],
    key_id: str,
    idempotency_key: str,
    digest: str,
) -> tuple[list[ScoredCase], bool]:
    """The decisions for ``requests`` and whether they are new: scored and stored now, or those stored
    by the first call with this key (a concurrent twin that committed first counts as that call)."""
    previous = session.get(IdempotentRequest, (key_id, idempotency_key))
    if previous is not None:
        return _replayed(session, previous, digest), False
    scored = scorer.score(requests, champions)
    stored.store(session, scored, key_id, champions.feature_lists)
    session.add(
        IdempotentRequest(
            key_id=key_id,
            idempotency_key=idempotency_key,
            body_sha256=digest,
            score_ids=[s.score_id for s in scored],
            created_at=datetime.now(timezone.utc),
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        previous = session.get(IdempotentRequest, (key_id, idempotency_key))
        if previous is None:
            raise
        return _replayed(session, previous, digest), False
    return scored, True
