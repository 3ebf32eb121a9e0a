"""A retried score with the same ``Idempotency-Key`` stores nothing new, on both scoring endpoints."""

from sqlalchemy import func, select

from tests.support.service import auth, case_request
from triage.db.service_models import Decision


def stored_decisions(client) -> int:
    with client.app.state.service.sessions() as session:
        return session.scalar(select(func.count()).select_from(Decision))


def test_a_retried_score_returns_the_stored_decision(client, keys):
    headers = {**auth(keys["scorer"]), "Idempotency-Key": "retry-1"}
    first = client.post("/v1/cases/score", json=case_request(), headers=headers)
    again = client.post("/v1/cases/score", json=case_request(), headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert stored_decisions(client) == 1


def test_a_retried_batch_returns_the_stored_decisions(client, keys):
    headers = {**auth(keys["scorer"]), "Idempotency-Key": "batch-1"}
    body = {"cases": [case_request("C-1"), case_request("C-2", household="H-3", counterparty=None)]}
    first = client.post("/v1/cases/batch-score", json=body, headers=headers)
    again = client.post("/v1/cases/batch-score", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, again.text
    assert [r["score_id"] for r in again.json()["results"]] == [
        r["score_id"] for r in first.json()["results"]
    ]
    assert stored_decisions(client) == 2


def test_the_same_key_with_another_body_is_a_conflict(client, keys):
    headers = {**auth(keys["scorer"]), "Idempotency-Key": "retry-2"}
    assert (
        client.post("/v1/cases/score", json=case_request("C-1"), headers=headers).status_code == 200
    )
    other = client.post("/v1/cases/score", json=case_request("C-9"), headers=headers)
    assert other.status_code == 409 and other.headers["content-type"] == "application/problem+json"
    batch = client.post(
        "/v1/cases/batch-score", json={"cases": [case_request("C-9")]}, headers=headers
    )
    assert batch.status_code == 409
    assert stored_decisions(client) == 1


def test_keys_belong_to_the_api_key_that_sent_them(client, keys):
    """Another client using the same idempotency key scores its own case, and never sees the first one."""
    client.post(
        "/v1/cases/score",
        json=case_request(),
        headers={**auth(keys["scorer"]), "Idempotency-Key": "k"},
    )
    other = client.post(
        "/v1/cases/score",
        json=case_request(),
        headers={**auth(keys["analyst"]), "Idempotency-Key": "k"},
    )
    assert other.status_code == 200
    assert stored_decisions(client) == 2


def test_without_a_key_every_call_is_scored(client, keys):
    for _ in range(2):
        assert (
            client.post(
                "/v1/cases/score", json=case_request(), headers=auth(keys["scorer"])
            ).status_code
            == 200
        )
    assert stored_decisions(client) == 2
