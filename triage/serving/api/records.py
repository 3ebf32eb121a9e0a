"""Records people can contest (role analyst): dispute an exchange row, decide, list the disputes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from triage.db.service_models import DISPUTABLE_TABLES, DISPUTE_STATUSES
from triage.decisions import record_disputes
from triage.decisions.types import (
    DisputableTable,
    DisputeDecided,
    DisputeDecisionIn,
    DisputeIn,
    DisputePage,
    RecordDisputeOut,
)
from triage.serving.deps import AnalystKey, StateDep
from triage.serving.problems import Problem, problem_responses
from triage.serving.schemas import RowId
from triage.web import SessionDep

router = APIRouter(tags=["records"])
RecordId = Annotated[str, Path(min_length=1, max_length=64)]
Status = Literal[DISPUTE_STATUSES]  # type: ignore[valid-type]


@router.post(
    "/v1/records/{table}/{record_id}/disputes",
    response_model=RecordDisputeOut,
    status_code=201,
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
)
def dispute_record(
    table: DisputableTable,
    record_id: RecordId,
    body: DisputeIn,
    key: AnalystKey,
    session: SessionDep,
) -> RecordDisputeOut:
    """Register that a record is disputed or wrong (`reason` a code, `note` who said so and why).
    The record is marked, never changed; scores leave it out once it is found wrong. A record has one
    dispute at a time that is open or found wrong (409)."""
    dispute = record_disputes.register(session, table, record_id, body, key.id)
    session.commit()
    return dispute


@router.get(
    "/v1/records/{table}/{record_id}/disputes",
    response_model=list[RecordDisputeOut],
    responses=problem_responses(401, 403, 404, 422, 503),
)
def record_disputes_of(
    table: DisputableTable, record_id: RecordId, key: AnalystKey, session: SessionDep
) -> list[RecordDisputeOut]:
    """Every dispute of a record, oldest first."""
    return record_disputes.of_record(session, table, record_id)


@router.get(
    "/v1/disputes", response_model=DisputePage, responses=problem_responses(401, 403, 422, 503)
)
def list_disputes(
    key: AnalystKey,
    session: SessionDep,
    status: Annotated[list[Status] | None, Query(description="any of these states")] = None,
    table: Annotated[Literal[DISPUTABLE_TABLES] | None, Query()] = None,  # type: ignore[valid-type]
    household_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DisputePage:
    """Disputes of records, newest first."""
    return record_disputes.listing(
        session,
        statuses=status,
        table=table,
        household_id=household_id,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/v1/disputes/{dispute_id}",
    response_model=RecordDisputeOut,
    responses=problem_responses(401, 403, 404, 422, 503),
)
def get_dispute(dispute_id: RowId, key: AnalystKey, session: SessionDep) -> RecordDisputeOut:
    found = record_disputes.get(session, dispute_id)
    if found is None:
        raise Problem(404, f"no dispute {dispute_id}")
    return found


@router.post(
    "/v1/disputes/{dispute_id}/decision",
    response_model=DisputeDecided,
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
)
def decide_dispute(
    dispute_id: RowId,
    body: DisputeDecisionIn,
    key: AnalystKey,
    session: SessionDep,
    state: StateDep,
) -> DisputeDecided:
    """`found_wrong`: scores leave the record out from now on, and every open case of its households
    scored with it in view is queued for a re-score in the decision's transaction, then re-scored
    without it (`rescored`; trigger `record_found_wrong`), or, without champions, once they load
    (`rescoring_skipped`).
    `upheld`: the record stands. A dispute is decided once (409)."""
    decided = record_disputes.decide_and_rescore(
        session, dispute_id, body, key.id, scorer=state.scorer, champions=state.champions
    )
    if decided is None:
        raise Problem(404, f"no dispute {dispute_id}")
    if decided.rescoring_skipped:
        state.outbox.kick()
    state.metrics.count_scores([r.band for r in decided.rescored])
    return decided
