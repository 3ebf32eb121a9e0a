"""Stored decisions, their reviews and the analysts' queue.

Every score is written here, in the caller's transaction, before its response leaves the
service.  The stored response carries the complete explanation; the ``top`` of a view is
applied when it is read, so the score call and a later ``GET`` show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from triage.db.service_models import Decision, Review
from triage.serving.audit import record
from triage.serving.schemas import QueueItem, QueuePage, ReviewIn, ReviewOut, ScoreRequest, ScoreResponse, StoredScore


class UnknownTeams(ValueError):
    """An override names team codes that ``domain.yaml`` does not define."""


@dataclass(frozen=True)
class ScoredCase:
    """What the scorer hands over for one case: the request, the full response and the feature values."""

    request: ScoreRequest
    response: ScoreResponse
    features: dict


def _wrap(teams: list[str]) -> str:
    return ";" + ";".join(teams) + ";"


def store(session: Session, scored: list[ScoredCase], key_id: str | None) -> None:
    """Add one decision per case to the session; the caller commits before responding."""
    now = datetime.now(timezone.utc)
    session.add_all(Decision(
        score_id=s.response.score_id, case_id=s.response.case_id, household_id=s.request.case.household_id,
        dispute_type=s.request.case.dispute_type, as_of=s.response.as_of, created_at=now,
        probability=s.response.escalation.probability, band=s.response.escalation.band,
        priority=s.response.route.priority, teams=_wrap(s.response.route.teams),
        escalation_version=s.response.models["escalation"], tier_version=s.response.models["tier"],
        request=s.request.model_dump(mode="json"), response=s.response.model_dump(mode="json"),
        features=s.features, key_id=key_id,
    ) for s in scored)
    session.flush()


def top_factors(response: dict, top: int | None) -> dict:
    """The response with each factor list cut to its ``top`` largest (None keeps all)."""
    if top is None:
        return response
    cut = {**response, "escalation": {**response["escalation"],
                                      "factors": response["escalation"]["factors"][:top]}}
    cut["persons"] = [{**p, "factors": p["factors"][:top]} for p in response["persons"]]
    return cut


def _review_out(review: Review) -> ReviewOut:
    return ReviewOut(id=review.id, score_id=review.score_id, verdict=review.verdict, teams=review.teams,
                     note=review.note, reviewer_key_id=review.reviewer_key_id, created_at=review.created_at)


def get(session: Session, score_id: str, top: int | None) -> StoredScore | None:
    decision = session.get(Decision, score_id)
    if decision is None:
        return None
    return StoredScore(**top_factors(decision.response, top), created_at=decision.created_at,
                       request=decision.request, reviews=[_review_out(r) for r in decision.reviews])


def review(session: Session, score_id: str, verdict: ReviewIn, reviewer_key_id: str,
           known_teams: set[str]) -> ReviewOut | None:
    """Keep an analyst's verdict with the decision (and in the audit log); None when no such score."""
    decision = session.get(Decision, score_id)
    if decision is None:
        return None
    if verdict.verdict == "override":
        unknown = sorted(set(verdict.teams) - known_teams)
        if unknown:
            raise UnknownTeams(f"unknown team codes: {', '.join(unknown)}")
        teams = list(dict.fromkeys(verdict.teams))
    else:
        teams = decision.response["route"]["teams"]
    row = Review(score_id=score_id, verdict=verdict.verdict, teams=teams, note=verdict.note,
                 reviewer_key_id=reviewer_key_id, created_at=datetime.now(timezone.utc))
    session.add(row)
    record(session, f"review.{verdict.verdict}", reviewer_key_id, target=score_id, teams=teams,
           route_teams=decision.response["route"]["teams"])
    session.flush()
    return _review_out(row)


@dataclass(frozen=True)
class QueueFilter:
    band: list[str] | None = None
    team: str | None = None
    reviewed: bool | None = None
    dispute_type: list[str] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def queue(session: Session, where: QueueFilter, limit: int, offset: int) -> QueuePage:
    """Stored decisions, highest probability first (newest first among equals), filtered and paged."""
    has_review = exists().where(Review.score_id == Decision.score_id)
    conditions = []
    if where.band:
        conditions.append(Decision.band.in_(where.band))
    if where.dispute_type:
        conditions.append(Decision.dispute_type.in_(where.dispute_type))
    if where.team:
        # Team codes are ';'-wrapped in `teams`; LIKE wildcards in the filter value are escaped.
        escaped = where.team.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Decision.teams.like(f"%;{escaped};%", escape="\\"))
    if where.reviewed is not None:
        conditions.append(has_review if where.reviewed else ~has_review)
    if where.created_from is not None:
        conditions.append(Decision.created_at >= where.created_from)
    if where.created_to is not None:
        conditions.append(Decision.created_at <= where.created_to)
    total = session.scalar(select(func.count()).select_from(Decision).where(*conditions))
    rows = session.scalars(select(Decision).where(*conditions)
                           .order_by(Decision.probability.desc(), Decision.created_at.desc(), Decision.score_id)
                           .limit(limit).offset(offset)).all()
    return QueuePage(total=total, limit=limit, offset=offset, items=[QueueItem(
        score_id=d.score_id, case_id=d.case_id, household_id=d.household_id, dispute_type=d.dispute_type,
        as_of=d.as_of, created_at=d.created_at, probability=d.probability, band=d.band, priority=d.priority,
        teams=d.teams.strip(";").split(";"), reviewed=bool(d.reviews),
        latest_verdict=d.reviews[-1].verdict if d.reviews else None) for d in rows])
