"""Every error is RFC 9457 problem+json, and bad input never gives a 500."""

import pytest
from fastapi.testclient import TestClient

from tests.support.service import auth, case_request
from triage.app import create_app
from triage.settings import Settings

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance"}


@pytest.fixture
def service_db(sqlite_service_db):
    """Errors, reloads and metrics do not depend on the database engine: SQLite only."""
    return sqlite_service_db


def assert_problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert PROBLEM_MEMBERS <= set(body) and body["status"] == status
    return body


@pytest.mark.parametrize(
    "change",
    [
        {"parties_count": 1},
        {"dispute_type": "murder"},
        {"opened_at": "yesterday"},
        {"case_id": " C-1"},
        {"counterparty_household_id": "H-1"},
        {"amount_cny": -5},
        {"description": "长" * 4001},
        {"status": "open"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_a_malformed_case_is_422_naming_the_field_without_echoing_it(client, keys, change):
    body = case_request()
    body["case"].update(change)
    problem = assert_problem(
        client.post("/v1/cases/score", json=body, headers=auth(keys["scorer"])), 422
    )
    assert problem["errors"] and all(set(e) == {"loc", "msg", "type"} for e in problem["errors"])
    assert str(next(iter(change.values())))[:50] not in problem["detail"]


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{", 400),
        (b"[]", 422),
        (b'{"case": null}', 422),
        (b'{"case": {}, "as_of": 7}', 422),
        (b'{"case": ' * 5000 + b"}" * 5000, 400),  # nested too deep to parse at all
    ],
    ids=["truncated", "array", "null case", "wrong types", "deep nesting"],
)
def test_broken_json_is_a_client_error(client, keys, body, status):
    response = client.post(
        "/v1/cases/score",
        content=body,
        headers={**auth(keys["scorer"]), "Content-Type": "application/json"},
    )
    assert_problem(response, status)


@pytest.mark.parametrize(
    "body, where",
    [
        (
            b'{"case": {"case_id": "C-1",\n  "household_id": "H-1"',
            "expecting ',' delimiter at line 2, column 24 (character 52); "
            "the body ends there: was it cut short?",
        ),
        (
            b'{"case": {"case_id": "C-1" "household_id": 1}}',
            "expecting ',' delimiter at line 1, column 28 (character 28)",
        ),
    ],
    ids=["truncated", "missing comma"],
)
def test_a_body_that_is_not_json_says_where_it_stops_being_json(client, keys, body, where):
    response = client.post(
        "/v1/cases/score",
        content=body,
        headers={**auth(keys["scorer"]), "Content-Type": "application/json"},
    )
    assert assert_problem(response, 400)["detail"] == f"the body is not valid JSON: {where}"


def test_as_of_before_the_case_was_opened_is_422(client, keys):
    response = client.post(
        "/v1/cases/score",
        json=case_request(as_of="2025-05-01T00:00:00+08:00"),
        headers=auth(keys["scorer"]),
    )
    assert "before the case was opened" in assert_problem(response, 422)["detail"] + str(
        response.json()["errors"]
    )


def test_unknown_score_route_and_bad_top_are_problems(client, keys):
    assert_problem(client.get("/v1/scores/nope", headers=auth(keys["analyst"])), 404)
    assert_problem(client.get("/v1/nowhere", headers=auth(keys["analyst"])), 404)
    assert_problem(
        client.post(
            "/v1/cases/score",
            params={"top": "-1"},
            json=case_request(),
            headers=auth(keys["scorer"]),
        ),
        422,
    )
    assert_problem(client.delete("/v1/queue", headers=auth(keys["analyst"])), 405)


def test_a_body_above_the_size_limit_is_413_before_it_is_parsed(settings, champions):
    small = settings.model_copy(update={"max_body_bytes": 2048})
    with TestClient(create_app(small, champions=champions)) as client:
        response = client.post(
            "/v1/cases/score",
            content=b"x" * 4096,
            headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        )
        assert_problem(response, 413)

        def chunks():
            for _ in range(4):
                yield b"x" * 1024

        assert_problem(
            client.post(
                "/v1/cases/score", content=chunks(), headers={"Content-Type": "application/json"}
            ),
            413,
        )


def test_an_unreachable_database_gives_503_and_the_service_stays_up(tmp_path, champions):
    gone = Settings(home=tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:9/none")
    with TestClient(create_app(gone, champions=champions), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        problem = assert_problem(
            client.post(
                "/v1/cases/score", json=case_request(), headers=auth("trg_000000000000_secret")
            ),
            503,
        )
        assert "database" in problem["detail"]
        assert problem["instance"] == "/v1/cases/score"


def test_the_openapi_document_describes_problems_and_the_calibrated_probability(client, keys):
    spec = client.get("/openapi.json", headers=auth(keys["scorer"])).json()
    score = spec["paths"]["/v1/cases/score"]["post"]
    assert {"401", "403", "413", "422", "503"} <= set(score["responses"])
    assert "application/problem+json" in score["responses"]["422"]["content"]
    assert "ProblemDetails" in spec["components"]["schemas"]
    probability = spec["components"]["schemas"]["Escalation"]["properties"]["probability"][
        "description"
    ]
    assert "calibrated" in probability and "sigmoid(margin)" in probability
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
