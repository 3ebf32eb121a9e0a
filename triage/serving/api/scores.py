"""Stored decisions for analysts: one score, its review, and the queue (role analyst)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from triage.serving import decisions
from triage.serving.deps import AnalystKey, SessionDep, StateDep, TopDep
from triage.serving.problems import Problem, problem_responses
from triage.serving.schemas import Band, DisputeType, Moment, QueuePage, ReviewIn, ReviewOut, StoredScore

router = APIRouter(prefix="/v1", tags=["decisions"])


@router.get("/scores/{score_id}", response_model=StoredScore, responses=problem_responses(401, 403, 404, 422, 503))
def get_score(score_id: str, key: AnalystKey, session: SessionDep, top: TopDep) -> StoredScore:
    """A stored decision as it was answered, with its request and reviews (`?top=` as when scoring)."""
    stored = decisions.get(session, score_id, top)
    if stored is None:
        raise Problem(404, f"no stored score {score_id}")
    return stored


@router.post("/scores/{score_id}/review", response_model=ReviewOut, status_code=201,
             responses=problem_responses(400, 401, 403, 404, 422, 503))
def review_score(score_id: str, body: ReviewIn, key: AnalystKey, session: SessionDep, state: StateDep) -> ReviewOut:
    """Agree with the route, or override it with the teams chosen; kept with the decision."""
    try:
        review = decisions.review(session, score_id, body, key.id, state.scorer.teams)
    except decisions.UnknownTeams as exc:
        raise Problem(422, str(exc)) from exc
    if review is None:
        raise Problem(404, f"no stored score {score_id}")
    session.commit()
    return review


@router.get("/queue", response_model=QueuePage, responses=problem_responses(401, 403, 422, 503))
def queue(key: AnalystKey, session: SessionDep,
          band: Annotated[list[Band] | None, Query(description="any of these bands")] = None,
          team: Annotated[str | None, Query(max_length=64, description="routed to this team")] = None,
          reviewed: Annotated[bool | None, Query(description="reviewed (true) or not yet (false)")] = None,
          dispute_type: Annotated[list[DisputeType] | None, Query(description="any of these dispute types")] = None,
          scored_from: Annotated[Moment | None, Query(description="scored at or after (ISO 8601)")] = None,
          scored_to: Annotated[Moment | None, Query(description="scored at or before (ISO 8601)")] = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 50,
          offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> QueuePage:
    """Stored decisions, highest escalation probability first."""
    where = decisions.QueueFilter(band=band, team=team, reviewed=reviewed, dispute_type=dispute_type,
                                  created_from=scored_from, created_to=scored_to)
    return decisions.queue(session, where, limit, offset)
