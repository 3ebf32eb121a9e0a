"""The bodies only the HTTP API has (docs/interfaces.md): batches, ingest rows, models and keys.

The domain's own types (a case to score, its score, reviews, the queue) are in
:mod:`triage.decisions.types`; the API takes and returns those as they are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from triage.decisions.shadow import ShadowReport
from triage.decisions.types import Incoming, ScoreRequest, ScoreResponse

RowId = Annotated[
    int, Field(ge=1, le=2**31 - 1, description="a row id (a 32-bit integer on every database)")
]


class BatchScoreRequest(Incoming):
    cases: list[ScoreRequest] = Field(
        min_length=1, description="at most `max_batch_cases` (1,000) score requests; more gives 413"
    )


class BatchScoreResponse(BaseModel):
    count: int
    results: list[ScoreResponse]


class IngestRequest(Incoming):
    rows: list[dict[str, Any]] = Field(
        min_length=1, description="rows of one exchange table (docs/data-format.md)"
    )


class ModelInfo(BaseModel):
    version: str
    metrics: dict[str, float]


class ModelsOut(BaseModel):
    models: dict[str, ModelInfo]
    challenger: dict[str, ModelInfo] | None = Field(
        description="the versions scored in shadow beside the champions (never routed on); "
        "null without a challenger"
    )
    loaded_at: datetime
    worker: int = Field(
        description="the process id of the worker that answered (each serves its own copy)"
    )


class ShadowOut(ShadowReport):
    challenger_loaded: dict[str, ModelInfo] | None = Field(
        description="the challenger this worker scores in shadow; null without one"
    )
    promotion_refused_because: list[str] = Field(
        description="why `triage promote-challenger` would refuse (domain.yaml: challenger); "
        "empty when the report passes"
    )


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
