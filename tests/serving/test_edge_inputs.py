"""Inputs at the edges that once answered 500: each is now a 4xx problem or a quarantined row."""

import json

import pytest

from tests.support.service import auth, case_request

FAR_DATES = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2201-01-01T00:00:00+08:00"]


def problem(response, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


@pytest.mark.parametrize("moment", FAR_DATES)
def test_far_dates_on_the_queue_are_a_422(client, keys, moment):
    for name in ("scored_from", "scored_to"):
        problem(client.get("/v1/queue", params={name: moment}, headers=auth(keys["analyst"])))


def test_an_audit_offset_past_64_bits_is_a_422(client, keys):
    for offset in ("4633333098889966780416", str(2**63)):
        problem(client.get("/v1/audit", params={"offset": offset}, headers=auth(keys["admin"])))


def test_workbench_dates_outside_the_years_kept_are_a_4xx(client, keys):
    client.post("/ui/login", data={"api_key": keys["analyst"]})
    for query in ({"scored_to": "9999-12-31"}, {"scored_from": "0001-01-01"}):
        assert client.get("/ui/", params=query).status_code == 422
    assert client.get("/ui/", params={"scored_to": "2200-12-31"}).status_code == 200


def test_a_lone_surrogate_quarantines_its_row_and_keeps_the_others(client, keys):
    call = {
        "household_id": "H-1",
        "received_at": "2025-05-21T10:00:00+08:00",
        "channel": "110",
        "category": "neighbor",
        "text": "争吵",
    }
    rows = [
        {**call, "call_id": "K-1", "text": "a\ud800b"},
        {**call, "call_id": "K-2"},
        {**call, "call_id": "K-\udfff"},
    ]
    response = client.post(
        "/v1/ingest/hotline_calls",
        content=json.dumps({"rows": rows}),  # \ud800 escaped
        headers={**auth(keys["scorer"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["stored"]["inserted"] == 1
    assert [(q["row"], q["key"], q["rule"]) for q in result["quarantined"]] == [
        (0, "K-1", "bad_text"),
        (2, None, "bad_text"),
    ]


def test_an_event_after_2200_is_quarantined_not_stored_and_rescored(client, keys):
    assert (
        client.post(
            "/v1/cases/score", json=case_request(), headers=auth(keys["scorer"])
        ).status_code
        == 200
    )
    incident = {
        "incident_id": "I-9",
        "household_id": "H-1",
        "occurred_at": "2250-01-01T10:00:00+08:00",
        "offence": "threat",
    }
    response = client.post(
        "/v1/ingest/incidents", json={"rows": [incident]}, headers=auth(keys["scorer"])
    )
    assert response.status_code == 200, response.text
    assert [q["rule"] for q in response.json()["quarantined"]] == ["bad_timestamp"]
    assert response.json()["rescored"] == []
