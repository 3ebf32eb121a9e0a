"""RFC 9457 problem details: every error the service returns is ``application/problem+json``.

Service modules raise :class:`Problem` (or a plain domain error mapped here); the handlers
installed by :func:`install_problem_handlers` turn it, FastAPI's validation errors,
Starlette's HTTP errors, an unreachable database and an exhausted connection pool (503: the
caller should retry, nothing is wrong with the request) into the same shape.  Validation errors
list where and what, but never echo the offending input: it may hold PII.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from triage.db.engine import describe_error

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error with its HTTP status; ``extra`` becomes extension members of the problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict | None = None,
        **extra,
    ):
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers, extra
        self.title = title or HTTPStatus(status).phrase


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(
        "about:blank", description="URI of the problem type; about:blank means 'see status'"
    )
    title: str = Field(description="the HTTP status phrase, e.g. 'Unprocessable Content'")
    status: int
    detail: str = Field(description="what went wrong, for a person to read")
    instance: str = Field(description="the request path")
    errors: list[FieldError] | None = Field(None, description="each invalid field (422 only)")


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict | None = None,
    **extra,
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses=`` entries documenting the problems a route can return."""
    return {
        s: {
            "model": ProblemDetails,
            "description": HTTPStatus(s).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for s in statuses
    }


def _refused_with(status: int):
    async def refused(request: Request, exc: Exception):
        return problem_response(request, status, str(exc))

    return refused


def _field_errors(exc: RequestValidationError) -> list[dict]:
    return [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]


async def _where_json_breaks(request: Request, error: dict) -> str:
    """Where a body stops being JSON, in a reader's terms: what the parser expected, and the line and
    column (never the body's text, which may hold personal data)."""
    position = next((p for p in error.get("loc", ())[1:] if isinstance(p, int)), None)
    reason = str(error.get("ctx", {}).get("error", "not JSON"))
    reason = reason[:1].lower() + reason[1:]
    if position is None:
        return f"the body is not valid JSON: {reason}"
    body = (await request.body()).decode("utf-8", errors="replace")
    line = body.count("\n", 0, position) + 1
    column = position - body.rfind("\n", 0, position)
    cut = "; the body ends there: was it cut short?" if position >= len(body.rstrip()) else ""
    return f"the body is not valid JSON: {reason} at line {line}, column {column} (character {position + 1}){cut}"


def install_problem_handlers(
    app: FastAPI, refusals: dict[type[Exception], int] | None = None
) -> None:
    """The handlers; ``refusals`` maps domain errors (a rule refused the request) to their HTTP status,
    answered with the error's message as the detail, so that routes need no try/except."""
    for refusal, status in (refusals or {}).items():
        app.add_exception_handler(refusal, _refused_with(status))

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        return problem_response(
            request, exc.status, exc.detail, title=exc.title, headers=exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        errors = _field_errors(exc)
        broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:
            return problem_response(request, 400, await _where_json_breaks(request, broken))
        where = ", ".join(".".join(map(str, e["loc"])) for e in errors[:5])
        return problem_response(request, 422, f"the request is not valid: {where}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(
            request, exc.status_code, detail, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database(request: Request, exc: DBAPIError):
        log.warning(
            "database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__
        )
        return problem_response(
            request,
            503,
            "the database is unavailable; try again shortly",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(PoolTimeoutError)
    async def _busy(request: Request, exc: PoolTimeoutError):
        log.warning("no database connection free within the pool timeout")
        return problem_response(
            request, 503, "the database is busy; try again shortly", headers={"Retry-After": "5"}
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError):
        """Logged without its text or traceback, which repeat the rows written (PII in ``persons``);
        handled here, not as an unexpected error, whose traceback the server would print again."""
        log.error(
            "database error on %s %s: %s", request.method, request.url.path, describe_error(exc)
        )
        return problem_response(request, 500, "an unexpected error occurred; it has been logged")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "an unexpected error occurred; it has been logged")
