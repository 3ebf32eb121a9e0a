"""Liveness (open), readiness and Prometheus metrics (role scorer)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from triage.serving.deps import ScorerKey, StateDep
from triage.serving.health import check_database, check_models, check_routing
from triage.serving.problems import Problem, problem_responses

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    ready: bool
    database: str
    models: str
    routing: str = Field(
        description="'ok', or why the rules file is broken and the last good rules serve"
    )


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up (no key needed)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses=problem_responses(401, 403, 503))
def readyz(key: ScorerKey, state: StateDep) -> Ready:
    """Ready when the database answers and both champion models are loaded (503 problem otherwise)."""
    db_ok, database = check_database(state.engine, state.settings.db_url, state.migrated)
    state.migrated = state.migrated or db_ok
    models_ok, models = check_models(state.champions)
    routing_ok, routing = check_routing(state.scorer.routing_file)
    if not (db_ok and models_ok and routing_ok):
        raise Problem(
            503,
            f"not ready: database {database}; models {models}; routing {routing}",
            database=database,
            models=models,
            routing=routing,
        )
    return Ready(ready=True, database=database, models=models, routing=routing)


@router.get("/metrics", response_class=Response, responses=problem_responses(401, 403))
def metrics(key: ScorerKey, state: StateDep) -> Response:
    """Prometheus text format: request latency by route, scores by band, model versions in use."""
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
