"""The FastAPI application factory of the scoring service.

``create_app(settings, champions)`` builds one app around its own database engine, model
store, key verifier and metrics registry.  Tests inject champions; otherwise the lifespan
hook loads them by alias from MLflow, and a service without a promoted model still starts
(``/readyz`` says why it is not ready).  ``triage serve`` runs it under uvicorn as a factory.
"""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from triage.db import engine_for, migrate
from triage.db.engine import WalCheckpointer
from triage.models.registry import Champions, load_champions
from triage.serving.api import admin, cases, followups, ingest, ops, scores, teams, timeline
from triage.serving.batching import ScoringLane
from triage.serving.champions import ChampionStore, NoChampions
from triage.serving.decisions import NoteRequired, NotPending, SameAnalyst, UnknownTeams
from triage.serving.deps import ServiceState
from triage.serving.followups import AlreadyVisited, UnknownOutcome
from triage.serving.keys import KeyVerifier
from triage.serving.limits import BodyLimitMiddleware
from triage.serving.metrics import LatencyMiddleware, ServiceMetrics
from triage.serving.problems import ProblemDetails, install_problem_handlers, problem_response
from triage.serving.scoring import Scorer
from triage.settings import Settings, get_settings
from triage.workbench import mount_workbench

log = logging.getLogger(__name__)

DESCRIPTION = """
民转刑 escalation risk and 绿黄红 psychological tiers for dispute-resolution centres.

* **Auth**: `Authorization: Bearer <api key>`; roles scorer ⊂ analyst ⊂ admin. Only `/healthz` is open.
* **Scores** are advice to trained staff. `escalation.probability` is *calibrated*: it need not equal
  sigmoid(`margin`). `base_value` + the sum of all factor contributions (SHAP, log-odds) = `margin`.
* **Errors** are RFC 9457 `application/problem+json`.
"""


#: Errors of the domain rules and the HTTP status each is answered with (problem+json, its message as detail).
REFUSALS: dict[type[Exception], int] = {
    UnknownTeams: 422, NoteRequired: 422, SameAnalyst: 403, NotPending: 409, UnknownOutcome: 422, AlreadyVisited: 409,
}


def create_app(settings: Settings | None = None, champions: Champions | None = None) -> FastAPI:
    """The service app; ``champions`` (tests) replaces loading by alias from MLflow."""
    settings = settings or get_settings()
    settings.ensure_home()
    engine = engine_for(settings.db_url)
    store = ChampionStore(lambda: load_champions(settings), champions)
    metrics = ServiceMetrics()
    sessions, scorer = sessionmaker(engine, expire_on_commit=False), Scorer(settings, engine)
    state = ServiceState(settings=settings, engine=engine, sessions=sessions, champions=store,
                         verifier=KeyVerifier(settings.key_cache_seconds), metrics=metrics, scorer=scorer,
                         lane=ScoringLane(sessions, scorer, settings.lane_max_cases, settings.lane_linger_ms / 1000))

    checkpointer = WalCheckpointer(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        checkpointer.start()
        try:
            await run_in_threadpool(migrate, settings.db_url)
            state.migrated = True
        except SQLAlchemyError as exc:
            log.warning("database not reachable at start (%s); /readyz will retry", type(exc).__name__)
        if not store.ready:
            try:
                await run_in_threadpool(store.reload)
            except Exception as exc:  # nothing promoted yet, or MLflow unreachable: start, but not ready
                log.warning("no champion models loaded at start: %s", type(exc).__name__)
        if store.ready:
            metrics.set_models(store.current.versions)
        # the models, MLflow and the libraries are loaded for good: keep their objects out of the
        # collector's full passes, which otherwise stall a request now and then (p99 spikes)
        gc.freeze()
        yield
        state.lane.close()
        checkpointer.stop()

    app = FastAPI(title="triage scoring service", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.service = state
    install_problem_handlers(app, REFUSALS)

    @app.exception_handler(NoChampions)
    async def _no_models(request, exc: NoChampions):
        return problem_response(request, 503, f"no champion models are loaded: {exc}", headers={"Retry-After": "30"})

    for module in (cases, scores, timeline, followups, teams, ingest, admin, ops):
        app.include_router(module.router)
    mount_workbench(app)  # the analyst workbench at /ui/ (triage.workbench), on this app's state
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """Add the ProblemDetails schema to the OpenAPI components that the error responses refer to."""
    build = app.openapi

    def openapi():
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {})["ProblemDetails"] = \
                ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
