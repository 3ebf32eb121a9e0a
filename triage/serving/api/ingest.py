"""``POST /v1/ingest/{table}`` (role scorer): rows of one exchange table, validated and upserted."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from triage.contract import TABLE_ORDER
from triage.decisions.ingest import BadIngest, ingest_rows
from triage.decisions.types import IngestResult
from triage.serving.deps import ScorerKey, StateDep
from triage.serving.problems import Problem, problem_responses
from triage.serving.schemas import IngestRequest

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])
TableName = Literal[TABLE_ORDER]  # type: ignore[valid-type]


@router.post(
    "/{table}",
    response_model=IngestResult,
    responses=problem_responses(400, 401, 403, 413, 422, 503),
)
def ingest(table: TableName, body: IngestRequest, key: ScorerKey, state: StateDep) -> IngestResult:
    """Validate rows with the data contract of `triage validate`; store the valid ones (an upsert by key, so
    sending the same rows again changes nothing) and return the invalid ones with the rule they broke.

    New calls, incidents, failed mediations and screenings re-score their household's open cases as of
    the new rows (`rescored`; a higher band is flagged in the queue); cases shown mediated (an agreement,
    or status `mediated`) get their follow-up visits. The rows and the re-scores they call for are
    committed together: re-scores not done in the call (`rescoring_skipped`, e.g. no champion loaded)
    wait and are done when champions are loaded or the service starts."""
    if len(body.rows) > state.settings.max_ingest_rows:
        raise Problem(413, f"an ingest call holds at most {state.settings.max_ingest_rows} rows")
    try:
        result = ingest_rows(
            state.settings.db_url,
            state.engine,
            table,
            body.rows,
            scorer=state.scorer,
            champions=state.champions,
            key_id=key.id,
        )
    except BadIngest as exc:
        raise Problem(422, str(exc)) from exc
    if result.rescoring_skipped:
        state.outbox.kick()  # re-scores left waiting: drained as soon as they can be
    state.metrics.count_scores([r.band for r in result.rescored])
    return result
