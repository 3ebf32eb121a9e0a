"""Scoring: ``POST /v1/cases/score`` and ``POST /v1/cases/batch-score`` (role scorer)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic_core import to_json

from triage.decisions.scoring import score_and_store
from triage.decisions.stored import top_factors
from triage.decisions.types import ScoreRequest, ScoreResponse
from triage.serving.deps import ChampionsDep, ScorerKey, StateDep, TopDep
from triage.serving.problems import Problem, problem_responses
from triage.serving.schemas import BatchScoreRequest, BatchScoreResponse
from triage.web import SessionDep

router = APIRouter(prefix="/v1/cases", tags=["scoring"])
ERRORS = problem_responses(400, 401, 403, 413, 422, 503)  # 400: a body that is not JSON at all


def _rendered(content: dict) -> Response:
    """The answer serialised once; ``response_model`` still documents it (schemathesis checks they agree)."""
    return Response(to_json(content), media_type="application/json")


PROBABILITY_NOTE = ("`escalation.probability` is the calibrated probability of 民转刑 escalation; "
                    "`base_value + Σ contributions = margin` holds in log-odds, and because calibration is "
                    "fitted after the trees the probability need not equal sigmoid(margin).")


@router.post("/score", response_model=ScoreResponse, responses=ERRORS,
             description="Score one case as of `as_of` (default now). The decision is stored before the "
                         "response is sent. Concurrent requests to one worker are scored together "
                         "(dynamic batching); each gets its own decision. " + PROBABILITY_NOTE)
async def score_case(body: ScoreRequest, key: ScorerKey, state: StateDep, champions: ChampionsDep,
                     top: TopDep) -> Response:
    scored = await state.lane.score(body, champions, key.id)
    state.metrics.count_scores([scored.response["escalation"]["band"]])
    return _rendered(top_factors(scored.response, top))


@router.post("/batch-score", response_model=BatchScoreResponse, responses=ERRORS,
             description="Score up to `max_batch_cases` (1,000) cases in one call, all stored before the "
                         "response; more cases give 413. " + PROBABILITY_NOTE)
def batch_score(body: BatchScoreRequest, key: ScorerKey, session: SessionDep, state: StateDep,
                champions: ChampionsDep, top: TopDep) -> Response:
    if len(body.cases) > state.settings.max_batch_cases:
        raise Problem(413, f"a batch holds at most {state.settings.max_batch_cases} cases; got {len(body.cases)}")
    scored = score_and_store(session, state.scorer, champions, body.cases, key.id)
    state.metrics.count_scores([s.response["escalation"]["band"] for s in scored])
    return _rendered({"count": len(scored), "results": [top_factors(s.response, top) for s in scored]})
