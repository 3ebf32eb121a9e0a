"""Analysts' reviews of a decision, under four eyes.

An analyst may raise a route (more teams, higher priority) on their own with a note, but an
override that drops a team or a priority a safeguard rule requires (``route.required_teams`` /
``required_priority``) stays ``pending`` and changes nothing staff act on until a *different*
analyst confirms it.  The route staff act on is the decision's :func:`effective_route`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from triage.db.service_models import Decision, Review
from triage.decisions.audit import record
from triage.decisions.types import ConfirmIn, EffectiveRoute, ReviewIn, ReviewOut
from triage.routing import PRIORITY_RANK, RoutingRules


class UnknownTeams(ValueError):
    """An override names team codes that ``domain.yaml`` does not define."""


class SameAnalyst(PermissionError):
    """Four eyes: the analyst who proposed an override cannot confirm or reject it."""


class NotPending(ValueError):
    """Only a pending override can be confirmed or rejected, and only once."""


class NoteRequired(ValueError):
    """Rejecting an override needs a note saying why."""


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        score_id=review.score_id,
        verdict=review.verdict,
        teams=review.teams,
        priority=review.priority,
        note=review.note,
        reviewer_key_id=review.reviewer_key_id,
        created_at=review.created_at,
        status=review.status,
        confirmed_by_key_id=review.confirmed_by_key_id,
        confirmed_at=review.confirmed_at,
        confirm_note=review.confirm_note,
    )


def effective_route(decision: Decision) -> EffectiveRoute:
    """The route staff act on: the latest final or confirmed review's, else the decision's own.

    An agreement after an override restores the decision's route; a pending or rejected
    override changes nothing.
    """
    route = decision.response["route"]
    for review in reversed(decision.reviews):
        if review.status in ("final", "confirmed"):
            if review.verdict == "override":
                return EffectiveRoute(
                    teams=review.teams,
                    priority=review.priority or route["priority"],
                    source="review",
                    review_id=review.id,
                )
            break
    return EffectiveRoute(teams=route["teams"], priority=route["priority"], source="route")


def lowers_a_safeguard(
    route: dict, teams: list[str], priority: str | None, routing: RoutingRules | None
) -> list[str]:
    """What an override would take away that a safeguard rule requires (empty: a free raise)."""
    if routing is not None:
        required_teams, required_priority = routing.required(route)
    else:
        required_teams, required_priority = (
            route.get("required_teams", []),
            route.get("required_priority"),
        )
    lost = [f"team {t}" for t in required_teams if t not in teams]
    if (
        priority is not None
        and required_priority is not None
        and PRIORITY_RANK[priority] < PRIORITY_RANK[required_priority]
    ):
        lost.append(f"priority {required_priority}")
    return lost


def review(
    session: Session,
    score_id: str,
    verdict: ReviewIn,
    reviewer_key_id: str,
    known_teams: set[str],
    routing: RoutingRules | None = None,
) -> ReviewOut | None:
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
    row = Review(
        score_id=score_id,
        verdict=verdict.verdict,
        teams=teams,
        priority=priority,
        note=verdict.note,
        reviewer_key_id=reviewer_key_id,
        created_at=datetime.now(timezone.utc),
        status=status,
    )
    session.add(row)
    record(
        session,
        f"review.{verdict.verdict}",
        reviewer_key_id,
        target=score_id,
        teams=teams,
        route_teams=route["teams"],
        priority=priority,
        status=status,
        drops_required=lost,
    )
    session.flush()
    return review_out(row)


def settle(
    session: Session, score_id: str, review_id: int, body: ConfirmIn, key_id: str, confirm: bool
) -> ReviewOut | None:
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
    record(
        session,
        "review.confirm" if confirm else "review.reject",
        key_id,
        target=score_id,
        review_id=review_id,
        proposed_by=row.reviewer_key_id,
        teams=row.teams,
    )
    session.flush()
    return review_out(row)
