"""Follow-up visits (回访): a mediated case the service follows gets visits at 7, 30 and 90 days;
missed ones show in the queue, and a visit's note can re-score the case."""

import pytest

from tests.support.service import auth, case_request, ingest

AGREEMENT = {
    "event_id": "E-8",
    "case_id": "C-0",
    "at": "2025-05-10T10:00:00+08:00",
    "level": "village",
    "outcome": "agreement",
}


def followups(client, keys, **params) -> dict:
    response = client.get("/v1/followups", params=params, headers=auth(keys["analyst"]))
    assert response.status_code == 200, response.text
    return response.json()


def visit(client, keys, followup_id, **body):
    return client.post(f"/v1/followups/{followup_id}", json=body, headers=auth(keys["analyst"]))


@pytest.fixture
def mediated(client, keys) -> dict:
    """H-1's case C-0, scored, then mediated on 2025-05-10: three visits planned (all past due by now)."""
    scored = client.post(
        "/v1/cases/score",
        headers=auth(keys["scorer"]),
        json=case_request(
            "C-0", "H-1", opened_at="2025-01-05T09:00:00+08:00", as_of="2025-05-01T10:00:00+08:00"
        ),
    ).json()
    assert ingest(client, keys, "mediation_events", [AGREEMENT])["followups_planned"] == 3
    return scored


def test_a_mediated_case_gets_visits_at_the_configured_intervals(client, keys, mediated):
    page = followups(client, keys, case_id="C-0")
    assert [(f["kind"], f["due_at"][:10], f["score_id"]) for f in page["items"]] == [
        ("7d", "2025-05-17", mediated["score_id"]),
        ("30d", "2025-06-09", mediated["score_id"]),
        ("90d", "2025-08-08", mediated["score_id"]),
    ]
    assert (
        ingest(client, keys, "mediation_events", [{**AGREEMENT, "event_id": "E-9"}])[
            "followups_planned"
        ]
        == 0
    )


def test_missed_visits_are_listed_and_counted_in_the_queue(client, keys, mediated):
    missed = followups(client, keys, missed="true")
    assert missed["total"] == 3 and {f["state"] for f in missed["items"]} == {"missed"}
    (item,) = client.get("/v1/queue", headers=auth(keys["analyst"])).json()["items"]
    assert item["missed_followups"] == 3

    assert (
        visit(
            client, keys, missed["items"][0]["id"], note="双方关系缓和", outcome="stable"
        ).status_code
        == 200
    )
    assert followups(client, keys, missed="true")["total"] == 2
    assert [f["state"] for f in followups(client, keys, state="done")["items"]] == ["done"]
    (item,) = client.get("/v1/queue", headers=auth(keys["analyst"])).json()["items"]
    assert item["missed_followups"] == 2


def test_a_visit_is_recorded_once_with_a_known_outcome(client, keys, mediated):
    first_id = followups(client, keys)["items"][0]["id"]
    unknown = visit(client, keys, first_id, note="?", outcome="fine")
    assert (
        unknown.status_code == 422
        and "outcomes are stable, concern, unreachable" in unknown.json()["detail"]
    )
    done = visit(
        client,
        keys,
        first_id,
        note="协议履行中",
        outcome="stable",
        visited_at="2025-05-18T15:00:00+08:00",
    )
    assert (done.json()["state"], done.json()["done_at"], done.json()["rescored"]) == (
        "done",
        "2025-05-18T07:00:00Z",
        None,
    )
    assert visit(client, keys, first_id, note="again", outcome="stable").status_code == 409
    assert visit(client, keys, 999_999, note="x", outcome="stable").status_code == 404


def test_a_visit_of_concern_rescores_the_case_and_shows_in_its_timeline(client, keys, mediated):
    first_id = followups(client, keys)["items"][0]["id"]
    done = visit(
        client,
        keys,
        first_id,
        note="对方又上门争吵",
        outcome="concern",
        visited_at="2025-05-18T15:00:00+08:00",
    )
    assert done.status_code == 200, done.text
    rescored = done.json()["rescored"]
    assert (
        rescored["previous_score_id"] == mediated["score_id"]
        and done.json()["rescore_score_id"] == rescored["score_id"]
    )
    assert rescored["as_of"] == "2025-05-18T07:00:00Z"
    assert rescored["changes"][0] == "follow-up visit 7d on 2025-05-18: concern"

    entries = client.get("/v1/cases/C-0/timeline", headers=auth(keys["analyst"])).json()["entries"]
    assert [e["decision"]["trigger"] for e in entries if e["type"] == "decision"] == [
        "request",
        "followup",
    ]
    assert [e["followup"]["state"] for e in entries if e["type"] == "followup"] == [
        "done",
        "missed",
        "missed",
    ]
    audit = [
        e
        for e in client.get("/v1/audit", headers=auth(keys["admin"])).json()
        if e["action"] != "decision.read"
    ]
    assert [e["action"] for e in audit[:2]] == ["followup.visit", "rescore"]


def test_a_case_loaded_as_mediated_gets_visits_from_its_closing(client, keys):
    client.post(
        "/v1/cases/score",
        headers=auth(keys["scorer"]),
        json=case_request("C-30", "H-2", counterparty=None, opened_at="2025-05-30T09:00:00+08:00"),
    )
    case = {
        "case_id": "C-30",
        "opened_at": "2025-05-30T09:00:00+08:00",
        "household_id": "H-2",
        "dispute_type": "neighbor",
        "source": "hotline",
        "parties_count": 2,
        "status": "mediated",
        "closed_at": "2025-06-05T09:00:00+08:00",
    }
    assert ingest(client, keys, "cases", [case])["followups_planned"] == 3
    assert followups(client, keys, case_id="C-30")["items"][0]["due_at"].startswith("2025-06-12")


def test_an_agreement_on_a_case_the_service_never_scored_plans_nothing(client, keys):
    assert ingest(client, keys, "mediation_events", [AGREEMENT])["followups_planned"] == 0
    assert followups(client, keys)["total"] == 0


def test_a_stored_case_whose_status_turns_mediated_gets_visits_once(client, keys):
    case = {
        "case_id": "C-31",
        "opened_at": "2025-05-30T09:00:00+08:00",
        "household_id": "H-2",
        "dispute_type": "neighbor",
        "source": "hotline",
        "parties_count": 2,
        "status": "open",
    }
    assert ingest(client, keys, "cases", [case])["followups_planned"] == 0
    client.post(
        "/v1/cases/score",
        headers=auth(keys["scorer"]),
        json=case_request("C-31", "H-2", counterparty=None, opened_at="2025-05-30T09:00:00+08:00"),
    )
    mediated = {**case, "status": "mediated", "closed_at": "2025-06-05T09:00:00+08:00"}
    assert ingest(client, keys, "cases", [mediated])["followups_planned"] == 3
    assert ingest(client, keys, "cases", [mediated])["followups_planned"] == 0


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_a_visit_dated_outside_the_years_kept_is_a_422(client, keys, mediated, moment):
    first = followups(client, keys)["items"][0]
    response = visit(
        client, keys, first["id"], outcome="concern", note="家中平稳", visited_at=moment
    )
    assert (
        response.status_code == 422
        and response.headers["content-type"] == "application/problem+json"
    )
