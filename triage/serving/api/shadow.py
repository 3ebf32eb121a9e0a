"""``GET /v1/shadow`` (role analyst): the challenger against the champions on the same live cases."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query

from triage.contract import LOCAL_ZONE
from triage.decisions import shadow
from triage.serving.api.admin import model_infos
from triage.serving.deps import AnalystKey, ChampionsDep, StateDep
from triage.serving.problems import problem_responses
from triage.serving.schemas import ShadowOut
from triage.web import SessionDep

router = APIRouter(prefix="/v1", tags=["operations"])


@router.get("/shadow", response_model=ShadowOut, responses=problem_responses(401, 403, 422, 503))
def shadow_report(
    key: AnalystKey,
    session: SessionDep,
    state: StateDep,
    champions: ChampionsDep,
    since: Annotated[
        date | None, Query(description="decisions stored on or after this day (Asia/Shanghai)")
    ] = None,
) -> ShadowOut:
    """Agreement of bands and routes between the champions and the challenger loaded, the cases that
    would move, and both models' AUC and ECE on the cases whose label has arrived; with the reasons
    the promotion gates (`domain.yaml: challenger`) would refuse it."""
    gate = state.settings.domain.challenger
    challenger = champions.challenger
    report = shadow.shadow_report(
        session,
        gate,
        state.settings.horizon_days,
        since=datetime.combine(since, time(), LOCAL_ZONE) if since else None,
        challenger=challenger.versions if challenger else None,
    )
    return ShadowOut(
        **report.model_dump(),
        challenger_loaded=model_infos(challenger.versions, challenger.metrics)
        if challenger
        else None,
        promotion_refused_because=shadow.gate_failures(report, gate),
    )
