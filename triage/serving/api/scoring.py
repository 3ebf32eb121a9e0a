"""Scoring: ``POST /v1/cases/score`` and ``POST /v1/cases/batch-score`` (role scorer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.concurrency import run_in_threadpool
from pydantic_core import to_json

from triage.decisions.idempotency import body_digest, score_once
from triage.decisions.scoring import score_and_store
from triage.decisions.keys import allows
from triage.decisions.scored import ScoredCase
from triage.decisions.stored import answers, feature_lists
from triage.decisions.types import ScoreRequest, ScoreResponse
from triage.serving.deps import ChampionsDep, ScorerKey, ServiceState, StateDep, TopDep
from triage.serving.problems import Problem, problem_responses
from triage.serving.schemas import BatchScoreRequest, BatchScoreResponse
from triage.web import SessionDep

router = APIRouter(prefix="/v1/cases", tags=["scoring"])
ERRORS = problem_responses(400, 401, 403, 409, 413, 422, 503)  # 400: a body that is not JSON at all

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any printable ASCII text of your choice, unique per call. Sent again with the same body, the "
        "decisions the first call stored are returned and nothing new is stored; with another body, 409.",
    ),
]


def _seen_by(
    key, scored: list[ScoredCase], lists: dict[str, list[str]], top: int | None
) -> list[dict]:
    """The answers cut to ``top`` factors, with sensitive values withheld below the analyst role."""
    return answers(scored, lists, top, for_scorer=not allows(key.role, "analyst"))


def _rendered(content: dict) -> Response:
    """The answer serialised once; ``response_model`` still documents it (schemathesis checks they agree)."""
    return Response(to_json(content), media_type="application/json")


def _idempotent(
    state: ServiceState,
    champions,
    requests: list[ScoreRequest],
    key,
    idempotency_key: str,
    body: dict,
    top: int | None,
) -> list[dict]:
    """Score once per key and body; a retry gets the first call's decisions as they were stored."""
    with state.sessions() as session:
        scored, new = score_once(
            session, state.scorer, champions, requests, key.id, idempotency_key, body_digest(body)
        )
        versions = {v for s in scored for v in s.models.values()}  # a replay: maybe older ones
        lists = feature_lists(session, versions, champions.feature_lists)
    if new:
        state.metrics.count_scores([s.band for s in scored])
    return _seen_by(key, scored, lists, top)


PROBABILITY_NOTE = (
    "`escalation.probability` is the calibrated probability of 民转刑 escalation; "
    "`base_value + Σ contributions = margin` holds in log-odds, and because calibration is "
    "fitted after the trees the probability need not equal sigmoid(margin)."
)


@router.post(
    "/score",
    response_model=ScoreResponse,
    responses=ERRORS,
    description="Score one case as of `as_of` (default now). The decision is stored before the "
    "response is sent. Concurrent requests to one worker are scored together "
    "(dynamic batching); each gets its own decision. " + PROBABILITY_NOTE,
)
async def score_case(
    body: ScoreRequest,
    key: ScorerKey,
    state: StateDep,
    champions: ChampionsDep,
    top: TopDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    if idempotency_key is not None:
        body_sent = body.model_dump(mode="json", exclude_unset=True)
        (shown,) = await run_in_threadpool(
            _idempotent, state, champions, [body], key, idempotency_key, body_sent, top
        )
        return _rendered(shown)
    scored = await state.lane.score(body, champions, key.id)
    state.metrics.count_scores([scored.band])
    return _rendered(_seen_by(key, [scored], champions.feature_lists, top)[0])


@router.post(
    "/batch-score",
    response_model=BatchScoreResponse,
    responses=ERRORS,
    description="Score up to `max_batch_cases` (1,000) cases in one call, all stored before the "
    "response; more cases give 413. " + PROBABILITY_NOTE,
)
def batch_score(
    body: BatchScoreRequest,
    key: ScorerKey,
    session: SessionDep,
    state: StateDep,
    champions: ChampionsDep,
    top: TopDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    if len(body.cases) > state.settings.max_batch_cases:
        raise Problem(
            413,
            f"a batch holds at most {state.settings.max_batch_cases} cases; got {len(body.cases)}",
        )
    if idempotency_key is not None:
        body_sent = body.model_dump(mode="json", exclude_unset=True)
        shown = _idempotent(state, champions, body.cases, key, idempotency_key, body_sent, top)
    else:
        scored = score_and_store(session, state.scorer, champions, body.cases, key.id)
        state.metrics.count_scores([s.band for s in scored])
        shown = _seen_by(key, scored, champions.feature_lists, top)
    return _rendered({"count": len(shown), "results": shown})
