"""Models in use and their reload (``/v1/models``), API keys and the audit trail (admin)."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from triage.decisions import audit, keys
from triage.serving.deps import AdminKey, AnalystKey, ChampionsDep, StateDep
from triage.serving.problems import Problem, problem_responses
from triage.serving.schemas import KeyOut, ModelInfo, ModelsOut
from triage.web import SessionDep

router = APIRouter(prefix="/v1", tags=["operations"])


def model_infos(versions: dict[str, str], metrics: dict[str, dict]) -> dict[str, ModelInfo]:
    return {
        role: ModelInfo(version=version, metrics=metrics.get(role, {}))
        for role, version in versions.items()
    }


def _models_out(champions) -> ModelsOut:
    challenger = champions.challenger
    return ModelsOut(
        worker=os.getpid(),
        loaded_at=champions.loaded_at,
        models=model_infos(champions.versions, champions.metrics),
        challenger=model_infos(challenger.versions, challenger.metrics) if challenger else None,
    )


@router.get("/models", response_model=ModelsOut, responses=problem_responses(401, 403, 503))
def models(key: AnalystKey, champions: ChampionsDep) -> ModelsOut:
    """The champion versions this worker serves, their evaluation metrics and when they were loaded,
    and the challenger scored in shadow beside them (null without one)."""
    return _models_out(champions)


@router.post(
    "/models/reload", response_model=ModelsOut, responses=problem_responses(401, 403, 502, 503)
)
async def reload_models(key: AdminKey, session: SessionDep, state: StateDep) -> ModelsOut:
    """Load the champions the registry's alias points at now and swap them in atomically; requests in
    flight finish on the old pair. When loading fails the old pair keeps serving (502)."""
    before = state.champions.current.versions if state.champions.ready else None
    try:
        fresh = await run_in_threadpool(state.champions.reload)
    except Exception as exc:
        audit.record(session, "models.reload_failed", key.id, error=type(exc).__name__)
        await run_in_threadpool(session.commit)
        raise Problem(
            502,
            f"loading the champion models failed ({type(exc).__name__}); "
            "the models in use are unchanged",
        ) from exc
    state.metrics.set_models(fresh.versions)
    audit.record(session, "models.reload", key.id, before=before, after=fresh.versions)
    await run_in_threadpool(session.commit)
    return _models_out(fresh)


class KeyCreate(BaseModel):
    role: keys.Role
    name: str = Field("", max_length=200)


class KeyCreated(KeyOut):
    key: str = Field(description="the API key itself, shown this once only")


@router.post(
    "/keys",
    response_model=KeyCreated,
    status_code=201,
    responses=problem_responses(400, 401, 403, 422, 503),
)
def create_key(body: KeyCreate, key: AdminKey, session: SessionDep) -> KeyCreated:
    """Create an API key; the response is the only place its plain text appears."""
    row, plain = keys.create_key(session, body.role, body.name, actor_key_id=key.id)
    session.commit()
    return KeyCreated(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        revoked_at=None,
        key=plain,
    )


@router.get("/keys", response_model=list[KeyOut], responses=problem_responses(401, 403, 503))
def list_keys(key: AdminKey, session: SessionDep) -> list[KeyOut]:
    return [KeyOut.model_validate(k, from_attributes=True) for k in keys.list_keys(session)]


@router.post(
    "/keys/{key_id}/revoke", response_model=KeyOut, responses=problem_responses(401, 403, 404, 503)
)
def revoke_key(key_id: str, key: AdminKey, session: SessionDep) -> KeyOut:
    """Revoke a key: it is refused from the next request on."""
    row = keys.revoke_key(session, key_id, actor_key_id=key.id)
    if row is None:
        raise Problem(404, f"no API key {key_id}")
    session.commit()
    return KeyOut.model_validate(row, from_attributes=True)


class AuditOut(BaseModel):
    id: int
    at: object
    key_id: str | None
    action: str
    target: str | None
    detail: dict


@router.get(
    "/audit", response_model=list[AuditOut], responses=problem_responses(401, 403, 422, 503)
)
def audit_log(
    key: AdminKey,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditOut]:
    """Who reviewed, overrode, ingested, reloaded or managed keys, newest first."""
    return [
        AuditOut.model_validate(e, from_attributes=True)
        for e in audit.entries(session, limit, offset)
    ]
