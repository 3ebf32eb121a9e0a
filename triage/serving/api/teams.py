"""The capacity-aware queue: per team, the cases due today against its daily capacity (role analyst)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from triage.decisions import capacity
from triage.serving.deps import AnalystKey, StateDep
from triage.serving.problems import Problem, problem_responses
from triage.web import SessionDep

router = APIRouter(prefix="/v1/queue", tags=["decisions"])


@router.get(
    "/teams",
    response_model=capacity.TeamsQueue,
    responses=problem_responses(401, 403, 404, 422, 503),
)
def teams_queue(
    key: AnalystKey,
    session: SessionDep,
    state: StateDep,
    day: Annotated[
        date | None,
        Query(
            ge=date(1900, 1, 1),
            le=date(2200, 12, 31),
            description="a day in Asia/Shanghai (default: today)",
        ),
    ] = None,
    team: Annotated[str | None, Query(max_length=64, description="only this team")] = None,
    cases_per_team: Annotated[int, Query(ge=0, le=1000, description="cases listed per team")] = 100,
) -> capacity.TeamsQueue:
    """Each team's open cases due by the end of the day (overdue included), most urgent first — the
    route's priority, then the probability — and how many lie beyond the team's daily capacity
    (`domain.yaml: capacity`): those are the least urgent ones, so a flood cannot bury a critical case."""
    capacities = state.settings.domain.capacity
    if team is not None and team not in capacities:
        raise Problem(404, f"no team {team}")
    ranking = capacity.rank_due(
        session, [team] if team else list(capacities), day or capacity.today()
    )
    return capacity.teams_queue(ranking, capacities, cases_per_team)
