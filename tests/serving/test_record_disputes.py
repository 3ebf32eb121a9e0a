"""Records people can contest: a record disputed, then found wrong, is marked and kept; scores leave
it out, every open case it touched is re-scored once, and the timeline and audit trail show it
without the note."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from tests.support.outbox import pending_cases, service_without_champions
from tests.support.service import auth, case_request, ingest, score
from triage.db import engine_for

#: Free text a dispute's note may hold: a name and a telephone number, which nothing else may echo.
NOTE = "王某某来电称此警情是隔壁李家的，电话13912345678"
#: A police record of an assault put on household H-2 after its cases were scored.
ASSAULT = {
    "incident_id": "I-W1",
    "occurred_at": "2025-06-03T20:00:00+08:00",
    "household_id": "H-2",
    "offence": "assault",
}
#: Two open cases of H-2, which the assault touches, and one of H-4, which it does not.
OPEN = {"C-W1": "H-2", "C-W2": "H-2", "C-W3": "H-4"}
CHANGE = "police incident I-W1 found wrong (wrong household): left out of the score"


def post(client, keys, path: str, body: dict, role: str = "analyst"):
    return client.post(path, json=body, headers=auth(keys[role]))


def dispute(client, keys, table="incidents", record_id="I-W1", **body) -> dict:
    response = post(
        client,
        keys,
        f"/v1/records/{table}/{record_id}/disputes",
        {"reason": "wrong_household", "note": NOTE, **body},
    )
    assert response.status_code == 201, response.text
    return response.json()


def decide(client, keys, dispute_id: int, status: str) -> dict:
    response = post(
        client, keys, f"/v1/disputes/{dispute_id}/decision", {"status": status, "note": NOTE}
    )
    assert response.status_code == 200, response.text
    return response.json()


def violent_incidents(client, keys, score_id: str) -> float:
    stored = client.get(
        f"/v1/scores/{score_id}", params={"top": "all"}, headers=auth(keys["analyst"])
    ).json()
    (factor,) = [
        f for f in stored["escalation"]["factors"] if f["feature"] == "hh_violent_incidents_365d"
    ]
    return factor["value"]


def decisions_per_case(url: str) -> dict[str, int]:
    with engine_for(url).connect() as connection:
        return dict(
            connection.execute(
                text("SELECT case_id, count(*) FROM decisions GROUP BY case_id")
            ).all()
        )


@pytest.fixture
def assaulted(client, keys) -> dict[str, dict]:
    """The open cases scored, then the assault ingested (which re-scores H-2's two cases)."""
    for case_id, household in OPEN.items():
        score(client, keys, case_request(case_id, household, counterparty=None, persons=[]))
    rescored = ingest(client, keys, "incidents", [ASSAULT])["rescored"]
    assert sorted(r["case_id"] for r in rescored) == ["C-W1", "C-W2"]
    return {r["case_id"]: r for r in rescored}


def test_a_record_found_wrong_is_kept_and_its_open_cases_are_rescored_once_without_it(
    client, keys, settings, assaulted
):
    before = violent_incidents(client, keys, assaulted["C-W1"]["score_id"])
    registered = dispute(client, keys)
    assert {k: registered[k] for k in ("table", "record_id", "households", "status", "reason")} == {
        "table": "incidents",
        "record_id": "I-W1",
        "households": ["H-2"],
        "status": "disputed",
        "reason": "wrong_household",
    }
    assert registered["registered_by_key_id"] == keys["analyst_id"]
    assert decisions_per_case(settings.db_url) == {"C-W1": 2, "C-W2": 2, "C-W3": 1}

    decided = decide(client, keys, registered["id"], "found_wrong")

    assert decided["status"] == "found_wrong" and decided["decided_by_key_id"] == keys["analyst_id"]
    assert sorted(r["case_id"] for r in decided["rescored"]) == ["C-W1", "C-W2"]
    assert decisions_per_case(settings.db_url) == {"C-W1": 3, "C-W2": 3, "C-W3": 1}
    assert pending_cases(settings.db_url) == set()
    new = {r["case_id"]: r for r in decided["rescored"]}["C-W1"]
    assert new["previous_score_id"] == assaulted["C-W1"]["score_id"]
    assert new["changes"][0] == CHANGE
    assert violent_incidents(client, keys, new["score_id"]) < before
    with engine_for(settings.db_url).connect() as connection:  # marked, never deleted
        assert (
            connection.execute(
                text("SELECT offence FROM incidents WHERE incident_id = 'I-W1'")
            ).scalar_one()
            == "assault"
        )


def test_the_timeline_and_the_audit_trail_show_it_and_nothing_echoes_the_note(
    client, keys, assaulted, caplog
):
    caplog.set_level(logging.DEBUG)
    registered = dispute(client, keys)
    decide(client, keys, registered["id"], "found_wrong")

    entries = client.get("/v1/cases/C-W1/timeline", headers=auth(keys["analyst"])).json()["entries"]
    (shown,) = [e["record_dispute"] for e in entries if e["type"] == "record_dispute"]
    assert (shown["record_id"], shown["status"]) == ("I-W1", "found_wrong")
    last = [e["decision"] for e in entries if e["type"] == "decision"][-1]
    assert last["trigger"] == "record_found_wrong" and last["changes"][0] == CHANGE

    audit = client.get("/v1/audit", headers=auth(keys["admin"])).json()
    found = {e["action"]: e for e in audit if e["action"].startswith("record.")}
    assert found["record.dispute"]["detail"] == {
        "dispute_id": registered["id"],
        "table": "incidents",
        "record_id": "I-W1",
        "reason": "wrong_household",
        "status": "disputed",
    }
    assert found["record.decide"]["detail"]["status"] == "found_wrong"
    assert found["record.decide"]["detail"]["queued"] == 2
    listed = client.get("/v1/records/incidents/I-W1/disputes", headers=auth(keys["analyst"]))
    assert [d["note"] for d in listed.json()] == [NOTE]  # kept for analysts
    changes = [
        line for e in entries if e["type"] == "decision" for line in e["decision"]["changes"]
    ]
    for elsewhere in (str(audit), str(changes), caplog.text):
        assert "13912345678" not in elsewhere and "王某某" not in elsewhere


def test_an_upheld_record_stands_and_may_be_disputed_again(client, keys, settings, assaulted):
    first = dispute(client, keys)
    upheld = decide(client, keys, first["id"], "upheld")
    assert upheld["rescored"] == [] and upheld["rescoring_skipped"] is None
    assert decisions_per_case(settings.db_url) == {"C-W1": 2, "C-W2": 2, "C-W3": 1}
    again = dispute(client, keys, reason="duplicate")
    listing = client.get(
        "/v1/disputes", params={"household_id": "H-2"}, headers=auth(keys["analyst"])
    ).json()
    assert [(d["id"], d["status"]) for d in listing["items"]] == [
        (again["id"], "disputed"),
        (first["id"], "upheld"),
    ]


def test_refusals_are_problems_that_never_echo_the_note(client, keys, assaulted):
    def refused(path: str, body: dict, status: int, role: str = "analyst") -> dict:
        response = post(client, keys, path, body, role)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "13912345678" not in response.text
        return response.json()

    body = {"reason": "wrong_household", "note": NOTE}
    refused("/v1/records/incidents/I-404/disputes", body, 404)
    refused("/v1/records/households/H-2/disputes", body, 422)  # not a disputable table
    refused("/v1/records/incidents/I-W1/disputes", {**body, "reason": "spite"}, 422)
    refused("/v1/records/incidents/I-W1/disputes", {**body, "note": "  "}, 422)
    refused("/v1/records/incidents/I-W1/disputes", body, 403, role="scorer")
    registered = dispute(client, keys)
    second = refused("/v1/records/incidents/I-W1/disputes", body, 409)
    assert (
        second["detail"] == f"record I-W1 of incidents is already under dispute {registered['id']}"
    )
    refused("/v1/disputes/999/decision", {"status": "found_wrong"}, 404)
    refused(f"/v1/disputes/{registered['id']}/decision", {"status": "deleted"}, 422)
    decide(client, keys, registered["id"], "found_wrong")
    refused(f"/v1/disputes/{registered['id']}/decision", {"status": "upheld"}, 409)
    refused("/v1/records/incidents/I-W1/disputes", body, 409)  # found wrong stays found wrong
    missing = client.get("/v1/records/incidents/I-404/disputes", headers=auth(keys["analyst"]))
    assert missing.status_code == 404


def test_without_champions_the_rescores_wait_in_the_outbox_until_champions_load(
    settings, champions, keys, assaulted, monkeypatch
):
    with service_without_champions(settings, champions, monkeypatch) as unready:
        registered = dispute(unready, keys)
        decided = decide(unready, keys, registered["id"], "found_wrong")
        assert decided["rescored"] == [] and "wait for re-scoring" in decided["rescoring_skipped"]
        assert pending_cases(settings.db_url) == {"C-W1", "C-W2"}
        unready.promote()
        reload = unready.post("/v1/models/reload", headers=auth(keys["admin"]))
        assert reload.status_code == 200, reload.text
        assert unready.app.state.service.outbox.wait(60)
    assert pending_cases(settings.db_url) == set()
    assert decisions_per_case(settings.db_url) == {"C-W1": 3, "C-W2": 3, "C-W3": 1}
