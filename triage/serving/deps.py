"""The API's dependencies, declared once so that route handlers stay short: key/role, models, state.

The database session per request comes from :mod:`triage.web`, shared with the workbench.

Those that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in its thread pool,
and those hops cost more per scoring request than the key check itself.  The ones that touch the
database stay ``def``, so a slow database never blocks the event loop (``/healthz`` keeps answering).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from triage.db.service_models import ApiKey
from triage.decisions.keys import TooManyFailures, allows
from triage.decisions.outbox import OutboxWorker
from triage.models.registry import Champions
from triage.serving.batching import ScoringLane
from triage.serving.metrics import ServiceMetrics
from triage.serving.problems import Problem
from triage.web import Service, client_address, get_service


@dataclass
class ServiceState(Service):
    """The service as the HTTP API holds it: with its metrics, its scoring lane, the worker that drains
    pending re-scores and whether the database is migrated (``/readyz``)."""

    metrics: ServiceMetrics
    lane: ScoringLane
    outbox: OutboxWorker
    migrated: bool = False


StateDep = Annotated[ServiceState, Depends(get_service)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer <api key>`; keys come from `triage keys create`.",
)
_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="triage"'}


def current_key(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The request's key, checked on a short session of its own and returned detached.

    One trip to the thread pool: checking it on the request's session took three (opening and
    closing that session are trips too), most of a scoring request's own work; and the request
    holds no pooled connection while it waits for its scoring batch.
    """
    if credentials is None:
        raise Problem(
            401, "an API key is required: send 'Authorization: Bearer <key>'", headers=_UNAUTHORIZED
        )
    try:
        with state.sessions() as session:
            key = state.verifier.verify(session, credentials.credentials, client_address(request))
    except TooManyFailures as exc:
        raise Problem(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
    if key is None:
        raise Problem(401, "the API key is not valid or has been revoked", headers=_UNAUTHORIZED)
    return key


def _require(role: str):
    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if not allows(key.role, role):
            raise Problem(403, f"this needs the {role} role; the key has the {key.role} role")
        return key

    return check


ScorerKey = Annotated[ApiKey, Depends(_require("scorer"))]
AnalystKey = Annotated[ApiKey, Depends(_require("analyst"))]
AdminKey = Annotated[ApiKey, Depends(_require("admin"))]


async def current_champions(state: StateDep) -> Champions:
    """The champion pair for this whole request (a reload meanwhile does not change it); first the pair
    another worker reloaded, if one did."""
    if state.champions.stale():
        await run_in_threadpool(state.champions.follow)
        if state.champions.ready:
            state.metrics.set_models(state.champions.current.versions)
    return state.champions.current


ChampionsDep = Annotated[Champions, Depends(current_champions)]


async def requested_top(
    state: StateDep,
    top: Annotated[
        str | None,
        Query(pattern=r"^(all|[0-9]{1,4})$", description="factors to list: a number, or 'all'"),
    ] = None,
) -> int | None:
    if top is None:
        return state.settings.default_top_factors
    return None if top == "all" else int(top)


TopDep = Annotated[int | None, Depends(requested_top)]
