"""Follow-up visits (回访) of mediated cases (role analyst): list them, record one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from triage.decisions import followups
from triage.decisions.types import FollowupPage, VisitIn, VisitOut
from triage.serving.deps import AnalystKey, StateDep
from triage.serving.problems import Problem, problem_responses
from triage.serving.schemas import RowId
from triage.web import SessionDep

router = APIRouter(prefix="/v1/followups", tags=["follow-ups"])
State = Literal[followups.STATES]  # type: ignore[valid-type]


@router.get("", response_model=FollowupPage, responses=problem_responses(401, 403, 422, 503))
def list_followups(
    key: AnalystKey,
    session: SessionDep,
    state: StateDep,
    missed: Annotated[
        bool | None, Query(description="only missed visits (true: same as state=missed)")
    ] = None,
    visit_state: Annotated[
        list[State] | None, Query(alias="state", description="any of these states")
    ] = None,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    household_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> FollowupPage:
    """Visits in the order they fall due. `missed=true`: not done `followups.grace_days` after falling due;
    `missed=false`: every visit that is not missed."""
    states = list(visit_state or [])
    if missed is not None:
        states = (
            ["missed"] if missed else [s for s in (states or followups.STATES) if s != "missed"]
        )
    where = followups.FollowupFilter(
        states=states or None, case_id=case_id, household_id=household_id
    )
    return followups.listing(session, where, limit, offset, state.settings.domain.followups)


@router.post(
    "/{followup_id}",
    response_model=VisitOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
)
def record_visit(
    followup_id: RowId, body: VisitIn, key: AnalystKey, session: SessionDep, state: StateDep
) -> VisitOut:
    """Record what a visit found. `rescore: true`, or an outcome of `followups.rescore_outcomes` (concern),
    re-scores the case as of the visit (a new decision with trigger `followup`). A visit is recorded once (409)."""
    done = followups.visit(
        session,
        followup_id,
        body,
        key.id,
        state.settings.domain.followups,
        state.scorer,
        state.champions,
    )
    if done is None:
        raise Problem(404, f"no follow-up visit {followup_id}")
    session.commit()
    if done.rescored is not None:
        state.metrics.count_scores([done.rescored.band])
    return done
