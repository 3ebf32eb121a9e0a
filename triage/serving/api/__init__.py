"""HTTP routes of docs/interfaces.md; each handler checks the role and calls one service function.

:func:`mount_api` puts them on an app, with the errors they answer in RFC 9457 problem+json.
"""

from __future__ import annotations

from fastapi import FastAPI

from triage.decisions.champions import NoChampions
from triage.decisions.followups import AlreadyVisited, UnknownOutcome
from triage.decisions.idempotency import IdempotencyConflict
from triage.decisions.record_disputes import AlreadyDisputed, NotOpen, UnknownRecord
from triage.decisions.reviews import NoteRequired, NotPending, SameAnalyst, UnknownTeams
from triage.routing import RoutingUnavailable
from triage.serving.api import (
    admin,
    decisions,
    followups,
    ingest,
    ops,
    overrides,
    records,
    scoring,
    shadow,
    teams,
    timeline,
)
from triage.serving.problems import ProblemDetails, install_problem_handlers, problem_response

#: Errors of the domain rules and the HTTP status each is answered with (problem+json, its message as detail).
REFUSALS: dict[type[Exception], int] = {
    UnknownTeams: 422,
    NoteRequired: 422,
    SameAnalyst: 403,
    NotPending: 409,
    UnknownOutcome: 422,
    AlreadyVisited: 409,
    IdempotencyConflict: 409,
    UnknownRecord: 404,
    AlreadyDisputed: 409,
    NotOpen: 409,
}


def mount_api(app: FastAPI) -> None:
    """Add the API's routes and error answers to an app whose state is a serving ``ServiceState``."""
    install_problem_handlers(app, REFUSALS)

    @app.exception_handler(RoutingUnavailable)
    async def _no_routing(request, exc: RoutingUnavailable):
        return problem_response(request, 503, str(exc), headers={"Retry-After": "30"})

    @app.exception_handler(NoChampions)
    async def _no_models(request, exc: NoChampions):
        return problem_response(
            request, 503, f"no champion models are loaded: {exc}", headers={"Retry-After": "30"}
        )

    for module in (
        scoring,
        decisions,
        timeline,
        followups,
        records,
        teams,
        overrides,
        shadow,
        ingest,
        admin,
        ops,
    ):
        app.include_router(module.router)
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    """Add the ProblemDetails schema to the OpenAPI components that the error responses refer to."""
    build = app.openapi

    def openapi():
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("schemas", {})["ProblemDetails"] = (
                ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
