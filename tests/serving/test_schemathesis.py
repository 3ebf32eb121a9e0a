"""Hostile input against the service's own OpenAPI spec: no 5xx, every response as documented.

schemathesis (in-process ASGI, no network) generates requests for every operation of
``/openapi.json``, authenticated as admin (every operation allowed), analyst and scorer
(many answers are then 403, which must be documented problem+json too); invalid requests as
admin and analyst.  The number of
examples per operation is bounded and the seed fixed so the run is short and repeatable.
Everything runs on SQLite and on PostgreSQL: PostgreSQL refuses things SQLite stores (a NUL
character, a year 0), so the same request may be fine on one and a 500 on the other.
"""

from __future__ import annotations

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.keys import TEST_HASHER
from triage.app import create_app
from triage.decisions.keys import create_key
from triage.settings import Settings

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture
def served(service_db, tmp_path, champions):
    """The app (lifespan started) and one key per role, on each database backend."""
    app = create_app(
        Settings(home=tmp_path / "home", database_url=service_db, api_docs_public=True),
        champions=champions,
    )
    with TestClient(app, raise_server_exceptions=False):
        keys = {}
        with app.state.service.sessions() as session:
            for role in ("scorer", "analyst", "admin"):
                keys[role] = create_key(session, role, f"schemathesis {role}", hasher=TEST_HASHER)[
                    1
                ]
            session.commit()
        yield app, keys


def _fuzz(app, key: str, mode: GenerationMode, max_examples: int) -> list[str]:
    """Every operation's generated cases, sent with ``key``; one message per operation that failed."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @hypothesis.settings(
            max_examples=max_examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=checks)

        # The champions are injected, so MLflow holds none: reload answers its documented 502
        # ("the models in use are unchanged"), which is the behaviour asked for, not a crash.
        checks = [
            c
            for c in CHECKS
            if c is not not_a_server_error or operation.path != "/v1/models/reload"
        ]

        try:
            run()
        # no parameter or body to make invalid (e.g. GET /healthz)
        except hypothesis.errors.Unsatisfiable:
            continue
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 10, "the OpenAPI spec lost its operations"
    return failures


@pytest.mark.parametrize("role", ["admin", "analyst", "scorer"])
def test_valid_requests_get_documented_answers(served, role):
    app, keys = served
    failures = _fuzz(app, keys[role], GenerationMode.POSITIVE, max_examples=15)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_invalid_requests_get_documented_answers(served, role):
    app, keys = served
    failures = _fuzz(app, keys[role], GenerationMode.NEGATIVE, max_examples=10)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("moment", ["0307-04-25T11:24:38", "2999-01-01T00:00:00+08:00"])
def test_a_moment_pandas_cannot_hold_is_a_422_not_a_500(served, moment):
    """Found by the run above: opened_at / as_of in year 307 crashed feature building."""
    from tests.support.service import case_request

    app, keys = served
    with TestClient(app, raise_server_exceptions=False) as client:
        for body in (case_request(opened_at=moment, as_of=None), case_request(as_of=moment)):
            response = client.post(
                "/v1/cases/score", json=body, headers={"Authorization": f"Bearer {keys['scorer']}"}
            )
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
