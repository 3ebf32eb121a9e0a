"""Stored decisions, their reviews and the analysts' queue.

Every score is written here, in the caller's transaction, before its response leaves the
service.  The stored response carries the complete explanation; the ``top`` of a view is
applied when it is read, so the score call and a later ``GET`` show the same thing.

Reviews follow four eyes: an analyst may raise a route (more teams, higher priority) on their
own with a note, but an override that drops a team or a priority a safeguard rule requires
(``route.required_teams`` / ``required_priority``) stays ``pending`` and changes nothing staff
act on until a *different* analyst confirms it.  The route staff act on is the decision's
:func:`effective_route`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session, aliased

from triage.config import load_domain
from triage.db.service_models import Decision, Followup, Review
from triage.routing import PRIORITY_RANK, RoutingRules
from triage.serving.audit import record
from triage.serving.schemas import (ConfirmIn, EffectiveRoute, QueueItem, QueuePage, ReviewIn, ReviewOut, ScoreRequest,
                                    StoredScore)


class UnknownTeams(ValueError):
    """An override names team codes that ``domain.yaml`` does not define."""


class SameAnalyst(PermissionError):
    """Four eyes: the analyst who proposed an override cannot confirm or reject it."""


class NotPending(ValueError):
    """Only a pending override can be confirmed or rejected, and only once."""


class NoteRequired(ValueError):
    """Rejecting an override needs a note saying why."""


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
    session.execute(insert(Decision), [dict(
        score_id=s.response["score_id"], case_id=s.response["case_id"], household_id=s.request.case.household_id,
        dispute_type=s.request.case.dispute_type, as_of=s.as_of, created_at=now,
        probability=s.response["escalation"]["probability"], band=s.response["escalation"]["band"],
        priority=s.response["route"]["priority"], teams=_wrap(s.response["route"]["teams"]),
        escalation_version=s.response["models"]["escalation"], tier_version=s.response["models"]["tier"],
        request=s.request.model_dump(mode="json"), response=s.response, features=s.features, key_id=key_id,
    ) for s in scored])


def top_factors(response: dict, top: int | None) -> dict:
    """The response with each factor list cut to its ``top`` largest (None keeps all)."""
    if top is None:
        return response
    cut = {**response, "escalation": {**response["escalation"],
                                      "factors": response["escalation"]["factors"][:top]}}
    cut["persons"] = [{**p, "factors": p["factors"][:top]} for p in response["persons"]]
    return cut


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(id=review.id, score_id=review.score_id, verdict=review.verdict, teams=review.teams,
                     priority=review.priority, note=review.note, reviewer_key_id=review.reviewer_key_id,
                     created_at=review.created_at, status=review.status,
                     confirmed_by_key_id=review.confirmed_by_key_id, confirmed_at=review.confirmed_at,
                     confirm_note=review.confirm_note)


def effective_route(decision: Decision) -> EffectiveRoute:
    """The route staff act on: the latest final or confirmed review's, else the decision's own.

    An agreement after an override restores the decision's route; a pending or rejected
    override changes nothing.
    """
    route = decision.response["route"]
    for review in reversed(decision.reviews):
        if review.status in ("final", "confirmed"):
            if review.verdict == "override":
                return EffectiveRoute(teams=review.teams, priority=review.priority or route["priority"],
                                      source="review", review_id=review.id)
            break
    return EffectiveRoute(teams=route["teams"], priority=route["priority"], source="route")


def get(session: Session, score_id: str, top: int | None) -> StoredScore | None:
    decision = session.get(Decision, score_id)
    if decision is None:
        return None
    return StoredScore(**top_factors(decision.response, top), created_at=decision.created_at,
                       request=decision.request, reviews=[review_out(r) for r in decision.reviews],
                       trigger=decision.trigger, previous_score_id=decision.previous_score_id,
                       band_rise=decision.band_rise, changes=decision.changes or [],
                       effective_route=effective_route(decision),
                       pending_review=any(r.status == "pending" for r in decision.reviews))


def lowers_a_safeguard(route: dict, teams: list[str], priority: str | None,
                       routing: RoutingRules | None) -> list[str]:
    """What an override would take away that a safeguard rule requires (empty: a free raise)."""
    if routing is not None:
        required_teams, required_priority = routing.required(route)
    else:
        required_teams, required_priority = route.get("required_teams", []), route.get("required_priority")
    lost = [f"team {t}" for t in required_teams if t not in teams]
    if priority is not None and required_priority is not None \
            and PRIORITY_RANK[priority] < PRIORITY_RANK[required_priority]:
        lost.append(f"priority {required_priority}")
    return lost


def review(session: Session, score_id: str, verdict: ReviewIn, reviewer_key_id: str,
           known_teams: set[str], routing: RoutingRules | None = None) -> ReviewOut | None:
    """Keep an analyst's verdict with the decision (and in the audit log); None when no such score.

    An override that drops what a safeguard rule requires is stored ``pending`` (four eyes).
    """
    decision = session.get(Decision, score_id)
    if decision is None:
        return None
    route = decision.response["route"]
    status, priority, lost = "final", None, []
    if verdict.verdict == "override":
        unknown = sorted(set(verdict.teams) - known_teams)
        if unknown:
            raise UnknownTeams(f"unknown team codes: {', '.join(unknown)}")
        teams, priority = list(dict.fromkeys(verdict.teams)), verdict.priority
        lost = lowers_a_safeguard(route, teams, priority, routing)
        status = "pending" if lost else "final"
    else:
        teams = route["teams"]
    row = Review(score_id=score_id, verdict=verdict.verdict, teams=teams, priority=priority, note=verdict.note,
                 reviewer_key_id=reviewer_key_id, created_at=datetime.now(timezone.utc), status=status)
    session.add(row)
    record(session, f"review.{verdict.verdict}", reviewer_key_id, target=score_id, teams=teams,
           route_teams=route["teams"], priority=priority, status=status, drops_required=lost)
    session.flush()
    return review_out(row)


def settle(session: Session, score_id: str, review_id: int, body: ConfirmIn, key_id: str,
           confirm: bool) -> ReviewOut | None:
    """A second analyst confirms (or rejects, with a note) a pending override; None when no such review."""
    if not confirm and not (body.note or "").strip():
        raise NoteRequired("a rejection needs a note saying why")
    row = session.get(Review, review_id)
    if row is None or row.score_id != score_id:
        return None
    if row.status != "pending":
        raise NotPending(f"review {review_id} is {row.status}, not pending")
    if row.reviewer_key_id == key_id:
        raise SameAnalyst("four eyes: an override must be confirmed or rejected by another analyst")
    row.status = "confirmed" if confirm else "rejected"
    row.confirmed_by_key_id, row.confirmed_at = key_id, datetime.now(timezone.utc)
    row.confirm_note = body.note
    record(session, "review.confirm" if confirm else "review.reject", key_id, target=score_id,
           review_id=review_id, proposed_by=row.reviewer_key_id, teams=row.teams)
    session.flush()
    return review_out(row)


@dataclass(frozen=True)
class QueueFilter:
    band: list[str] | None = None
    team: str | None = None
    reviewed: bool | None = None
    dispute_type: list[str] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    band_rise: bool | None = None
    current: bool | None = None          # only each case's latest decision (true) or only superseded ones


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
    if where.band_rise is not None:
        conditions.append(Decision.band_rise.is_(where.band_rise))
    if where.current is not None:
        later = aliased(Decision)
        superseded = exists().where(later.case_id == Decision.case_id, later.created_at > Decision.created_at)
        conditions.append(~superseded if where.current else superseded)
    total = session.scalar(select(func.count()).select_from(Decision).where(*conditions))
    rows = session.scalars(select(Decision).where(*conditions)
                           .order_by(Decision.probability.desc(), Decision.created_at.desc(), Decision.score_id)
                           .limit(limit).offset(offset)).all()
    cases = sorted({d.case_id for d in rows})
    newest = dict(session.execute(select(Decision.case_id, func.max(Decision.created_at))
                                  .where(Decision.case_id.in_(cases)).group_by(Decision.case_id)).all())
    missed = missed_followups(session, cases)
    return QueuePage(total=total, limit=limit, offset=offset, items=[QueueItem(
        score_id=d.score_id, case_id=d.case_id, household_id=d.household_id, dispute_type=d.dispute_type,
        as_of=d.as_of, created_at=d.created_at, probability=d.probability, band=d.band, priority=d.priority,
        teams=d.teams.strip(";").split(";"), reviewed=bool(d.reviews),
        latest_verdict=d.reviews[-1].verdict if d.reviews else None,
        trigger=d.trigger, previous_score_id=d.previous_score_id, band_rise=d.band_rise, changes=d.changes or [],
        superseded=_utc(newest[d.case_id]) > d.created_at, effective_teams=effective_route(d).teams,
        pending_review=any(r.status == "pending" for r in d.reviews),
        missed_followups=missed.get(d.case_id, 0)) for d in rows])


def _utc(moment: datetime) -> datetime:
    """An aggregate's timestamp (``max(created_at)``) comes back naive on SQLite: it is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def missed_followups(session: Session, case_ids: list[str], now: datetime | None = None) -> dict[str, int]:
    """Follow-up visits of these cases not done ``followups.grace_days`` after they fell due."""
    if not case_ids:
        return {}
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=load_domain()["followups"]["grace_days"])
    return dict(session.execute(select(Followup.case_id, func.count()).where(
        Followup.case_id.in_(case_ids), Followup.done_at.is_(None), Followup.due_at < cutoff)
        .group_by(Followup.case_id)).all())
