"""The composition root: one FastAPI app with the HTTP API (``/v1``) and the analyst workbench (``/ui``).

``create_app(settings, champions)`` builds one app around its own database engine, model
store, key verifier and metrics registry, and mounts both front ends on it.  Tests inject
champions; otherwise the lifespan hook loads them by alias from MLflow, and a service without a
promoted model still starts (``/readyz`` says why it is not ready).  ``triage serve`` runs it
under uvicorn as a factory.
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
from triage.decisions.champions import ChampionStore
from triage.decisions.keys import FailureLimit, KeyVerifier
from triage.decisions.outbox import OutboxWorker
from triage.decisions.scoring import Scorer
from triage.models.registry import Champions, load_champions
from triage.serving.api import mount_api
from triage.serving.batching import ScoringLane
from triage.serving.deps import ServiceState
from triage.serving.headers import DocsGateMiddleware, SecurityHeadersMiddleware
from triage.serving.docs import mount_docs
from triage.serving.limits import BodyLimitMiddleware
from triage.serving.metrics import LatencyMiddleware, ServiceMetrics
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


def create_app(settings: Settings | None = None, champions: Champions | None = None) -> FastAPI:
    """The service app; ``champions`` (tests) replaces loading by alias from MLflow."""
    settings = settings or get_settings()
    settings.ensure_home()
    engine = engine_for(settings.db_url)
    store = ChampionStore(
        lambda: load_champions(settings), champions, marker=settings.home / "champions.json"
    )
    metrics = ServiceMetrics()
    verifier = KeyVerifier(
        settings.key_cache_seconds,
        FailureLimit(
            settings.auth_failures_per_key,
            settings.auth_failures_per_address,
            settings.auth_failure_window_seconds,
        ),
    )
    sessions, scorer = sessionmaker(engine, expire_on_commit=False), Scorer(settings, engine)
    # re-scores left pending (a crash, no champion at the time) are drained whenever champions load
    outbox = OutboxWorker(engine, scorer, store)
    store.on_loaded.append(lambda _champions: outbox.kick())
    store.on_loaded.append(
        lambda loaded: metrics.count_challenger_failures("load", len(loaded.challenger_left_out))
    )
    scorer.on_challenger_failure.append(lambda: metrics.count_challenger_failures("score"))
    state = ServiceState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        champions=store,
        verifier=verifier,
        metrics=metrics,
        scorer=scorer,
        lane=ScoringLane(sessions, scorer, settings.lane_max_cases, settings.lane_linger_ms / 1000),
        outbox=outbox,
    )

    checkpointer = WalCheckpointer(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        checkpointer.start()
        try:
            await run_in_threadpool(migrate, settings.db_url)
            state.migrated = True
        except SQLAlchemyError as exc:
            log.warning(
                "database not reachable at start (%s); /readyz will retry", type(exc).__name__
            )
        if not store.ready:
            try:
                await run_in_threadpool(store.reload)
            # nothing promoted yet, or MLflow unreachable: start, but not ready
            except Exception as exc:
                log.warning("no champion models loaded at start: %s", type(exc).__name__)
        if store.ready:
            metrics.set_models(store.current.versions)
        if state.migrated:
            outbox.kick()  # what an earlier process left pending
        # the models, MLflow and the libraries are loaded for good: keep their objects out of the
        # collector's full passes, which otherwise stall a request now and then (p99 spikes)
        gc.freeze()
        yield
        outbox.stop()
        state.lane.close()
        checkpointer.stop()

    app = FastAPI(
        title="triage scoring service",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
    )
    app.state.service = state
    mount_api(app)
    mount_docs(app)
    mount_workbench(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(DocsGateMiddleware, public=settings.api_docs_public)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    return app
