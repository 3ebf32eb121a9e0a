"""``GET /v1/overrides/summary`` (role analyst): agreement with the route, alerts, and overrides proved right."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from triage.decisions import override_analytics
from triage.decisions.types import ScoringMoment
from triage.serving.deps import AnalystKey, StateDep
from triage.serving.problems import problem_responses
from triage.web import SessionDep

router = APIRouter(prefix="/v1/overrides", tags=["decisions"])


@router.get(
    "/summary",
    response_model=override_analytics.OverrideSummary,
    responses=problem_responses(401, 403, 422, 503),
)
def overrides_summary(
    key: AnalystKey,
    session: SessionDep,
    state: StateDep,
    as_of: Annotated[
        ScoringMoment | None, Query(description="the end of the alerts' window (default: now)")
    ] = None,
) -> override_analytics.OverrideSummary:
    """How often analysts kept the suggested route, by analyst (key id), team, band and month; alerts
    when agreement over the window is above `max_agreement` (automation bias) or when the overrides
    nearly all go one way (`domain.yaml: override_analytics`); and, for raised or lowered routes whose
    case's label has arrived, how many proved right (raised and escalated, lowered and did not)."""
    return override_analytics.override_summary(
        session,
        state.settings.domain.override_analytics,
        state.settings.horizon_days,
        as_of,
    )
