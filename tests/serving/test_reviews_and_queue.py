"""Analysts' reviews are kept with the decision; the queue puts the highest risk first and filters."""

import pytest

from tests.support.service import auth, case_request


@pytest.fixture
def scored(client, keys) -> list[dict]:
    """Four decisions of different households (so of different risk and routes)."""
    bodies = [
        case_request("C-1", "H-1"),
        case_request("C-2", "H-3", dispute_type="wage_arrears", parties_count=40),
        case_request("C-3", "H-404", counterparty=None, dispute_type="medical", persons=[]),
        case_request("C-4", "H-4", counterparty=None, dispute_type="neighbor", persons=["P-4-1"]),
    ]
    response = client.post(
        "/v1/cases/batch-score", json={"cases": bodies}, headers=auth(keys["scorer"])
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]


def queue(client, keys, **params):
    response = client.get("/v1/queue", params=params, headers=auth(keys["analyst"]))
    assert response.status_code == 200, response.text
    return response.json()


def test_an_agreement_and_an_override_are_kept_with_the_decision_and_audited(client, keys, scored):
    score_id = scored[0]["score_id"]
    agree = client.post(
        f"/v1/scores/{score_id}/review",
        json={"verdict": "agree", "note": "同意"},
        headers=auth(keys["analyst"]),
    )
    assert agree.status_code == 201 and agree.json()["teams"] == scored[0]["route"]["teams"]
    override = client.post(
        f"/v1/scores/{score_id}/review",
        json={"verdict": "override", "teams": ["police_station", "care_group"], "note": "加派民警"},
        headers=auth(keys["admin"]),
    )
    assert override.status_code == 201
    stored = client.get(f"/v1/scores/{score_id}", headers=auth(keys["analyst"])).json()
    assert [(r["verdict"], r["reviewer_key_id"]) for r in stored["reviews"]] == [
        ("agree", keys["analyst_id"]),
        ("override", keys["admin_id"]),
    ]
    assert (
        stored["reviews"][1]["teams"] == ["police_station", "care_group"]
        and stored["reviews"][1]["note"] == "加派民警"
    )
    assert stored["route"] == scored[0]["route"]  # the decision itself is unchanged
    audit = [
        e
        for e in client.get("/v1/audit", headers=auth(keys["admin"])).json()
        if e["action"] != "decision.read"
    ]
    assert [e["action"] for e in audit[:2]] == ["review.override", "review.agree"]
    assert audit[0]["key_id"] == keys["admin_id"] and audit[0]["target"] == score_id


@pytest.mark.parametrize(
    "body",
    [
        {"verdict": "override"},
        {"verdict": "override", "teams": ["swat"]},
        {"verdict": "agree", "teams": ["police_station"]},
        {"verdict": "maybe"},
    ],
)
def test_a_review_that_makes_no_sense_is_422(client, keys, scored, body):
    response = client.post(
        f"/v1/scores/{scored[0]['score_id']}/review", json=body, headers=auth(keys["analyst"])
    )
    assert (
        response.status_code == 422
        and response.headers["content-type"] == "application/problem+json"
    )


def test_reviewing_an_unknown_score_is_404(client, keys):
    response = client.post(
        "/v1/scores/none/review", json={"verdict": "agree"}, headers=auth(keys["analyst"])
    )
    assert response.status_code == 404


def test_the_queue_lists_the_highest_risk_first(client, keys, scored):
    page = queue(client, keys)
    probabilities = [item["probability"] for item in page["items"]]
    assert page["total"] == 4 and probabilities == sorted(probabilities, reverse=True)
    assert {item["score_id"] for item in page["items"]} == {s["score_id"] for s in scored}


def test_the_queue_filters_by_band_team_reviewed_and_dispute_type(client, keys, scored):
    client.post(
        f"/v1/scores/{scored[1]['score_id']}/review",
        json={"verdict": "agree"},
        headers=auth(keys["analyst"]),
    )
    assert [i["case_id"] for i in queue(client, keys, reviewed=True)["items"]] == ["C-2"]
    assert queue(client, keys, reviewed=False)["total"] == 3
    assert [i["case_id"] for i in queue(client, keys, team="labour_inspection")["items"]] == ["C-2"]
    assert [i["case_id"] for i in queue(client, keys, team="guardianship_group")["items"]] == [
        "C-4"
    ]
    assert [
        i["case_id"] for i in queue(client, keys, dispute_type=["medical", "neighbor"])["items"]
    ] in (["C-3", "C-4"], ["C-4", "C-3"])
    band = scored[0]["escalation"]["band"]
    assert all(i["band"] == band for i in queue(client, keys, band=[band])["items"])
    assert queue(client, keys, scored_from="2200-01-01T00:00:00")["total"] == 0
    assert queue(client, keys, scored_to="2200-01-01T00:00:00")["total"] == 4


def test_the_queue_pages(client, keys, scored):
    first, second = queue(client, keys, limit=3), queue(client, keys, limit=3, offset=3)
    assert (
        len(first["items"]) == 3
        and len(second["items"]) == 1
        and first["total"] == second["total"] == 4
    )
    assert not {i["score_id"] for i in first["items"]} & {i["score_id"] for i in second["items"]}


@pytest.mark.parametrize("team", ["%", "_", "x' OR '1'='1", "police_station;--", "\\"])
def test_filters_are_parameters_not_sql(client, keys, scored, team):
    assert queue(client, keys, team=team)["total"] == 0
