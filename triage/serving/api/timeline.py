"""``GET /v1/cases/{case_id}/timeline`` (role analyst): a case's decisions, reviews and visits in time order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from triage.decisions.timeline import timeline
from triage.decisions.types import Timeline
from triage.serving.deps import AnalystKey, StateDep
from triage.serving.problems import Problem, problem_responses
from triage.web import SessionDep

router = APIRouter(prefix="/v1/cases", tags=["decisions"])


@router.get(
    "/{case_id}/timeline",
    response_model=Timeline,
    responses=problem_responses(401, 403, 404, 422, 503),
)
def case_timeline(
    case_id: Annotated[str, Path(max_length=64)],
    key: AnalystKey,
    session: SessionDep,
    state: StateDep,
) -> Timeline:
    """Every decision on the case (the first score, re-scores on new events and after visits, with what changed),
    every review (with its four-eyes state) and every follow-up visit, oldest first."""
    found = timeline(session, case_id, state.settings.domain.followups)
    if found is None:
        raise Problem(404, f"no stored decision for case {case_id}")
    return found
