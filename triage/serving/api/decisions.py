"""Stored decisions for analysts: one score, its reviews (four eyes), and the queue (role analyst)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from triage.decisions import audit, reviews, stored
from triage.decisions.queue import QueueFilter, queue_page
from triage.decisions.types import (
    Band,
    ConfirmIn,
    DisputeType,
    QueuePage,
    ReviewIn,
    ReviewOut,
    ScoringMoment,
    StoredScore,
)
from triage.serving.deps import AnalystKey, StateDep, TopDep
from triage.serving.problems import Problem, problem_responses
from triage.serving.schemas import RowId
from triage.web import SessionDep

router = APIRouter(prefix="/v1", tags=["decisions"])


@router.get(
    "/scores/{score_id}",
    response_model=StoredScore,
    responses=problem_responses(401, 403, 404, 422, 503),
)
def get_score(score_id: str, key: AnalystKey, session: SessionDep, top: TopDep) -> StoredScore:
    """A stored decision as it was answered, with its request and reviews (`?top=` as when scoring).
    Every read is audited (who, when, which decision)."""
    score = stored.get(session, score_id, top)
    if score is None:
        raise Problem(404, f"no stored score {score_id}")
    audit.record(session, "decision.read", key.id, target=score_id)
    session.commit()
    return score


@router.post(
    "/scores/{score_id}/review",
    response_model=ReviewOut,
    status_code=201,
    responses=problem_responses(400, 401, 403, 404, 422, 503),
)
def review_score(
    score_id: str, body: ReviewIn, key: AnalystKey, session: SessionDep, state: StateDep
) -> ReviewOut:
    """Agree with the route, or override it with the teams chosen; kept with the decision."""
    review = reviews.review(
        session, score_id, body, key.id, state.scorer.teams, state.scorer.routing
    )
    if review is None:
        raise Problem(404, f"no stored score {score_id}")
    session.commit()
    return review


def _settle(
    score_id: str, review_id: int, body: ConfirmIn, key, session, confirm: bool
) -> ReviewOut:
    review = reviews.settle(session, score_id, review_id, body, key.id, confirm)
    if review is None:
        raise Problem(404, f"no review {review_id} of stored score {score_id}")
    session.commit()
    return review


@router.post(
    "/scores/{score_id}/reviews/{review_id}/confirm",
    response_model=ReviewOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
)
def confirm_review(
    score_id: str,
    review_id: RowId,
    key: AnalystKey,
    session: SessionDep,
    body: ConfirmIn | None = None,
) -> ReviewOut:
    """Four eyes: a second analyst (another key: the proposer's own gives 403) confirms a pending override,
    which then becomes the route staff act on. A review that is not pending gives 409."""
    return _settle(score_id, review_id, body or ConfirmIn(), key, session, confirm=True)


@router.post(
    "/scores/{score_id}/reviews/{review_id}/reject",
    response_model=ReviewOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
)
def reject_review(
    score_id: str, review_id: RowId, body: ConfirmIn, key: AnalystKey, session: SessionDep
) -> ReviewOut:
    """Four eyes: a second analyst rejects a pending override (a note is required); the route stays as it was."""
    return _settle(score_id, review_id, body, key, session, confirm=False)


@router.get("/queue", response_model=QueuePage, responses=problem_responses(401, 403, 422, 503))
def queue(
    key: AnalystKey,
    session: SessionDep,
    state: StateDep,
    band: Annotated[list[Band] | None, Query(description="any of these bands")] = None,
    team: Annotated[str | None, Query(max_length=64, description="routed to this team")] = None,
    reviewed: Annotated[
        bool | None, Query(description="reviewed (true) or not yet (false)")
    ] = None,
    dispute_type: Annotated[
        list[DisputeType] | None, Query(description="any of these dispute types")
    ] = None,
    scored_from: Annotated[
        ScoringMoment | None, Query(description="scored at or after (ISO 8601)")
    ] = None,
    scored_to: Annotated[
        ScoringMoment | None, Query(description="scored at or before (ISO 8601)")
    ] = None,
    band_rise: Annotated[
        bool | None, Query(description="re-scored into a higher band (true) or not")
    ] = None,
    current: Annotated[
        bool | None,
        Query(
            description="only each case's latest decision (true), or only superseded ones (false)"
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> QueuePage:
    """Stored decisions, highest escalation probability first; re-scores say whether the band rose and what
    changed, and each item counts its case's missed follow-up visits."""
    where = QueueFilter(
        band=band,
        team=team,
        reviewed=reviewed,
        dispute_type=dispute_type,
        created_from=scored_from,
        created_to=scored_to,
        band_rise=band_rise,
        current=current,
    )
    return queue_page(session, where, limit, offset, state.settings.domain.followups)
