"""Overrides with care: raising a route is free with a note; dropping what a safeguard rule requires
waits for a second analyst (four eyes), and only then changes the route staff act on."""

import pytest

from tests.support.service import auth, case_request
from tests.support.keys import TEST_HASHER
from triage.decisions.keys import create_key


@pytest.fixture
def second_analyst(client) -> dict[str, str]:
    with client.app.state.service.sessions() as session:
        row, plain = create_key(session, "analyst", "second analyst", hasher=TEST_HASHER)
        session.commit()
    return {"key": plain, "id": row.id}


@pytest.fixture
def scored(client, keys) -> dict:
    """H-1's case: a weapon threat in the last 30 days and a person flagged for alcohol trouble."""
    response = client.post(
        "/v1/cases/score", json=case_request("C-1", "H-1"), headers=auth(keys["scorer"])
    )
    assert response.status_code == 200, response.text
    return response.json()


def review(client, key, score_id, **body):
    return client.post(f"/v1/scores/{score_id}/review", json=body, headers=auth(key))


def settle(client, key, score_id, review_id, action="confirm", **body):
    return client.post(
        f"/v1/scores/{score_id}/reviews/{review_id}/{action}", json=body, headers=auth(key)
    )


def stored(client, keys, score_id) -> dict:
    return client.get(f"/v1/scores/{score_id}", headers=auth(keys["analyst"])).json()


def test_the_route_names_what_safeguard_rules_require_and_not_what_the_band_advises(scored):
    route = scored["route"]
    assert {"weapon_threat_30d", "family_alcohol"} <= set(route["rules"])
    assert {"police_station", "case_task_force", "family_mediation"} <= set(route["required_teams"])
    assert route["required_priority"] == "critical"


def test_raising_a_route_takes_effect_at_once(client, keys, scored):
    extra = next(
        t
        for t in ("guardianship_group", "care_group", "psych_outreach")
        if t not in scored["route"]["teams"]
    )
    raised = review(
        client,
        keys["analyst"],
        scored["score_id"],
        verdict="override",
        teams=[*scored["route"]["teams"], extra],
        note="家中有未成年人，加派人手",
    )
    assert raised.status_code == 201 and raised.json()["status"] == "final"
    effective = stored(client, keys, scored["score_id"])["effective_route"]
    assert effective == {
        "teams": [*scored["route"]["teams"], extra],
        "priority": scored["route"]["priority"],
        "source": "review",
        "review_id": raised.json()["id"],
    }


def test_an_override_without_a_note_is_refused(client, keys, scored):
    refused = review(
        client,
        keys["analyst"],
        scored["score_id"],
        verdict="override",
        teams=["police_station"],
        note="  ",
    )
    assert refused.status_code == 422 and "note" in refused.json()["detail"] + str(
        refused.json()["errors"]
    )


def test_dropping_a_required_team_waits_for_another_analyst(client, keys, scored, second_analyst):
    score_id = scored["score_id"]
    proposed = review(
        client,
        keys["analyst"],
        score_id,
        verdict="override",
        teams=["family_mediation"],
        note="已和解，警方无需介入",
    )
    assert proposed.status_code == 201 and proposed.json()["status"] == "pending"
    pending = stored(client, keys, score_id)
    assert (
        pending["pending_review"]
        and pending["effective_route"]["teams"] == scored["route"]["teams"]
    )
    (item,) = client.get("/v1/queue", headers=auth(keys["analyst"])).json()["items"]
    assert item["pending_review"] and item["effective_teams"] == scored["route"]["teams"]

    own = settle(client, keys["analyst"], score_id, proposed.json()["id"])
    assert own.status_code == 403 and own.headers["content-type"] == "application/problem+json"
    confirmed = settle(client, second_analyst["key"], score_id, proposed.json()["id"], note="同意")
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["confirmed_by_key_id"]) == (
        "confirmed",
        second_analyst["id"],
    )
    assert stored(client, keys, score_id)["effective_route"]["teams"] == ["family_mediation"]
    assert settle(client, second_analyst["key"], score_id, proposed.json()["id"]).status_code == 409
    audit = [
        e
        for e in client.get("/v1/audit", headers=auth(keys["admin"])).json()
        if e["action"] != "decision.read"
    ]
    assert [(e["action"], e["key_id"]) for e in audit[:2]] == [
        ("review.confirm", second_analyst["id"]),
        ("review.override", keys["analyst_id"]),
    ]
    assert (
        audit[1]["detail"]["status"] == "pending"
        and "team police_station" in audit[1]["detail"]["drops_required"]
    )


def test_lowering_the_priority_below_a_rules_is_pending_too(client, keys, scored):
    lowered = review(
        client,
        keys["analyst"],
        scored["score_id"],
        verdict="override",
        teams=scored["route"]["teams"],
        priority="medium",
        note="当事人已搬离",
    )
    assert lowered.json()["status"] == "pending" and lowered.json()["priority"] == "medium"


def test_a_rejected_override_leaves_the_route_and_a_rejection_needs_a_note(
    client, keys, scored, second_analyst
):
    score_id = scored["score_id"]
    proposed = review(
        client,
        keys["analyst"],
        score_id,
        verdict="override",
        teams=["village_mediation"],
        note="风险不高",
    ).json()
    assert (
        settle(client, second_analyst["key"], score_id, proposed["id"], "reject").status_code == 422
    )
    rejected = settle(
        client,
        second_analyst["key"],
        score_id,
        proposed["id"],
        "reject",
        note="近期有持刀威胁，不能撤警",
    )
    assert (
        rejected.json()["status"] == "rejected"
        and rejected.json()["confirm_note"] == "近期有持刀威胁，不能撤警"
    )
    after = stored(client, keys, score_id)
    assert after["effective_route"]["source"] == "route" and not after["pending_review"]


def test_confirming_a_review_that_does_not_exist_is_a_404(client, keys, scored, second_analyst):
    assert settle(client, second_analyst["key"], scored["score_id"], 999).status_code == 404
    assert settle(client, keys["scorer"], scored["score_id"], 1).status_code == 403
