"""Stored decisions: every score is written here, in the caller's transaction, before its
response leaves the service, and read back with its reviews.

The stored response carries the complete explanation; the ``top`` of a view is applied when it
is read, so the score call and a later ``GET`` show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache

from sqlalchemy import insert
from sqlalchemy.orm import Session

from triage.db.service_models import Decision
from triage.decisions.reviews import effective_route, review_out
from triage.decisions.types import ScoreRequest, StoredScore
from triage.features.registry import features_of

#: Exchange tables whose raw values only analysts read back: police incidents, screenings and the
#: person registers (alcohol, prior conviction, mental-health registry).  A scorer still gets every
#: factor's contribution, so it can show why, but it cannot use scoring to look a household up.
SENSITIVE_SOURCES = frozenset({"incidents", "screenings", "persons"})


@dataclass(frozen=True)
class ScoredCase:
    """What the scorer hands over for one case: the request, the full response (``ScoreResponse`` as
    JSON-ready data, every factor), the moment it was scored as of and the feature values."""

    request: ScoreRequest
    response: dict
    as_of: datetime
    features: dict


def _wrap(teams: list[str]) -> str:
    return ";" + ";".join(teams) + ";"


def store(session: Session, scored: list[ScoredCase], key_id: str | None) -> None:
    """Insert one decision per case in the session's transaction; the caller commits before responding.

    One INSERT for the whole batch (``insert(Decision)`` with a list of rows): adding 1,000 ORM
    objects cost more than scoring them.  Columns not named here take their defaults.
    """
    now = datetime.now(timezone.utc)
    session.execute(
        insert(Decision),
        [
            dict(
                score_id=s.response["score_id"],
                case_id=s.response["case_id"],
                household_id=s.request.case.household_id,
                dispute_type=s.request.case.dispute_type,
                as_of=s.as_of,
                created_at=now,
                probability=s.response["escalation"]["probability"],
                band=s.response["escalation"]["band"],
                priority=s.response["route"]["priority"],
                teams=_wrap(s.response["route"]["teams"]),
                escalation_version=s.response["models"]["escalation"],
                tier_version=s.response["models"]["tier"],
                request=s.request.model_dump(mode="json"),
                response=s.response,
                features=s.features,
                key_id=key_id,
            )
            for s in scored
        ],
    )


def top_factors(response: dict, top: int | None) -> dict:
    """The response with each factor list cut to its ``top`` largest (None keeps all)."""
    if top is None:
        return response
    cut = {
        **response,
        "escalation": {
            **response["escalation"],
            "factors": response["escalation"]["factors"][:top],
        },
    }
    cut["persons"] = [{**p, "factors": p["factors"][:top]} for p in response["persons"]]
    return cut


def get(session: Session, score_id: str, top: int | None) -> StoredScore | None:
    decision = session.get(Decision, score_id)
    if decision is None:
        return None
    return StoredScore(
        **top_factors(decision.response, top),
        created_at=decision.created_at,
        request=decision.request,
        reviews=[review_out(r) for r in decision.reviews],
        trigger=decision.trigger,
        previous_score_id=decision.previous_score_id,
        band_rise=decision.band_rise,
        changes=decision.changes or [],
        effective_route=effective_route(decision),
        pending_review=any(r.status == "pending" for r in decision.reviews),
    )


@cache
def sensitive_features() -> frozenset[str]:
    return frozenset(
        f.name
        for entity in ("case", "person")
        for f in features_of(entity)
        if f.source in SENSITIVE_SOURCES
    )


def for_scorer(response: dict) -> dict:
    """The answer as a scorer key sees it: the values of sensitive features withheld (``withheld``)."""
    sensitive = sensitive_features()

    def shown(factors: list[dict]) -> list[dict]:
        return [
            {**f, "value": None, "withheld": True}
            if f["feature"] in sensitive
            else {**f, "withheld": False}
            for f in factors
        ]

    seen = {
        **response,
        "escalation": {
            **response["escalation"],
            "factors": shown(response["escalation"]["factors"]),
        },
    }
    seen["persons"] = [{**p, "factors": shown(p["factors"])} for p in response["persons"]]
    return seen
