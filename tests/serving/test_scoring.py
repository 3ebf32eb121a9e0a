"""Scoring through the real app: explanation additivity, same probability as the batch path, stored decisions."""

import copy
import json
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from fastapi.testclient import TestClient

from tests.support.decisions import base64_contributions
from tests.support.service import as_a_scorer_sees, auth, case_request
from tests.support.keys import TEST_HASHER
from sqlalchemy import func, select

from triage.db import engine_for
from triage.db.service_models import Decision
from triage.app import create_app
from triage.db.history import read_tables
from triage.decisions.keys import create_key
from triage.decisions.types import ScoreResponse
from triage.features import build_case_features
from triage.serving.schemas import BatchScoreResponse


def score(client, keys, body=None, **params):
    response = client.post(
        "/v1/cases/score", json=body or case_request(), headers=auth(keys["scorer"]), params=params
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_score_response_has_the_shape_of_interfaces_md(client, keys):
    body = score(client, keys)
    assert set(body) == {
        "score_id",
        "case_id",
        "as_of",
        "escalation",
        "persons",
        "route",
        "models",
        "warnings",
        "needs_judgement",
    }
    assert body["case_id"] == "C-1" and body["warnings"] == []
    assert body["as_of"].startswith("2025-06-01T02:00:00")  # 10:00 +08:00 in UTC
    escalation = body["escalation"]
    assert 0 < escalation["probability"] < 1 and escalation["band"] in (
        "low",
        "medium",
        "high",
        "critical",
    )
    assert len(escalation["factors"]) == 8  # the default top
    factor = escalation["factors"][0]
    assert {"feature", "label", "label_zh", "label_en", "value", "contribution"} <= set(factor)
    assert body["models"] == {"escalation": "triage-escalation/1", "tier": "triage-tier/1"}
    assert body["route"]["reasons"] and body["route"]["respond_within_hours"] > 0


def test_answers_match_the_documented_schema(client, keys):
    """Responses are built as plain data (not validated models): the schema must still describe them."""
    single = client.post(
        "/v1/cases/score", json=case_request(), params={"top": "all"}, headers=auth(keys["scorer"])
    )
    ScoreResponse.model_validate_json(single.text, strict=True)
    cases = [
        case_request("C-1"),
        case_request("C-2", household="H-404", counterparty=None, persons=["P-404"]),
    ]
    batch = client.post(
        "/v1/cases/batch-score", json={"cases": cases}, headers=auth(keys["scorer"])
    )
    BatchScoreResponse.model_validate_json(batch.text, strict=True)


def test_contributions_add_up_to_the_margin_and_are_ordered_by_size(client, keys):
    escalation = score(client, keys, top="all")["escalation"]
    contributions = [f["contribution"] for f in escalation["factors"]]
    assert len(contributions) == len(
        client.app.state.service.champions.current.escalation.feature_names_
    )
    assert math.isclose(
        escalation["base_value"] + sum(contributions), escalation["margin"], abs_tol=1e-6
    )
    assert [abs(c) for c in contributions] == sorted((abs(c) for c in contributions), reverse=True)
    assert len(score(client, keys, top="3")["escalation"]["factors"]) == 3


def test_probability_equals_the_models_on_the_batch_feature_path(client, keys, champions, settings):
    """The service reads history as of `as_of` and builds features with the training code."""
    body = score(client, keys)
    as_of = pd.Timestamp(body["as_of"])
    tables = read_tables(settings.db_url, as_of=as_of)
    case = pd.DataFrame([case_request()["case"]]).assign(as_of=as_of)
    X = build_case_features(case, tables)[champions.escalation.feature_names_]
    expected = champions.escalation.predict_proba(X)[0, 1]
    assert body["escalation"]["probability"] == pytest.approx(expected, abs=1e-12)


def test_history_after_as_of_is_not_used(client, keys):
    """The weapon threat call of 2025-05-20 routes the case only when as_of is after it."""
    before = score(
        client,
        keys,
        case_request(as_of="2025-05-19T00:00:00+08:00", opened_at="2025-05-18T09:00:00+08:00"),
    )
    after = score(client, keys)
    assert "weapon_threat_30d" not in before["route"]["rules"]
    assert "weapon_threat_30d" in after["route"]["rules"]
    assert after["route"]["priority"] == "critical" and after["route"]["respond_within_hours"] == 2
    assert {"police_station", "case_task_force", "family_mediation"} <= set(after["route"]["teams"])


def test_rule_tier_where_a_recent_screening_exists_and_model_tier_otherwise(client, keys):
    body = score(
        client,
        keys,
        case_request(
            household="H-4", counterparty=None, dispute_type="neighbor", persons=["P-4-1", "P-2-1"]
        ),
    )
    by_person = {p["person_id"]: p for p in body["persons"]}
    assert by_person["P-4-1"]["tier"] == "red" and by_person["P-4-1"]["tier_source"] == "rule"
    assert by_person["P-4-1"]["factors"] == []
    assert by_person["P-2-1"]["tier_source"] == "model"  # its screening is a year old
    assert by_person["P-2-1"]["tier"] == max(
        by_person["P-2-1"]["probabilities"], key=by_person["P-2-1"]["probabilities"].get
    )
    assert {"tier_red", "self_harm_item9"} <= set(body["route"]["rules"])
    assert "guardianship_group" in body["route"]["teams"]


def test_person_factors_add_up_towards_the_predicted_tier(client, keys, champions):
    score_id = score(client, keys)[
        "score_id"
    ]  # read back by an analyst: a scorer sees no screening values
    person = client.get(
        f"/v1/scores/{score_id}", params={"top": "all"}, headers=auth(keys["analyst"])
    ).json()["persons"][0]
    assert person["tier_source"] == "model"
    assert len(person["factors"]) == len(champions.tier.feature_names_)
    values = pd.DataFrame([{f["feature"]: f["value"] for f in person["factors"]}])[
        champions.tier.feature_names_
    ]
    values = values.astype({c: "category" for c in champions.tier.schema_.categories})
    contributions, base = champions.tier.explain(
        values, np.array([["green", "yellow", "red"].index(person["tier"])])
    )
    assert sum(f["contribution"] for f in person["factors"]) == pytest.approx(
        contributions.sum(), abs=1e-6
    )


def test_unknown_household_is_scored_with_no_history_and_a_warning(client, keys):
    body = score(
        client, keys, case_request(household="H-404", counterparty=None, persons=["P-404"])
    )
    assert body["escalation"]["probability"] > 0
    assert any("H-404" in w for w in body["warnings"]) and any(
        "P-404" in w for w in body["warnings"]
    )
    assert body["persons"][0]["tier_source"] == "model"


def test_the_stored_decision_is_what_was_answered(client, keys):
    answered = score(client, keys, top="all")
    stored = client.get(
        f"/v1/scores/{answered['score_id']}", params={"top": "all"}, headers=auth(keys["analyst"])
    )
    assert stored.status_code == 200
    stored = stored.json()
    as_the_scorer_saw_it = as_a_scorer_sees(
        stored
    )  # the same, with the values a scorer may not read withheld
    assert {k: as_the_scorer_saw_it[k] for k in answered} == answered
    assert stored["request"]["case"]["case_id"] == "C-1" and stored["reviews"] == []
    default_view = client.get(
        f"/v1/scores/{answered['score_id']}", headers=auth(keys["analyst"])
    ).json()
    assert (
        as_a_scorer_sees(default_view)["escalation"]["factors"]
        == answered["escalation"]["factors"][:8]
    )


def test_batch_scores_every_case_in_order_and_stores_each(client, keys):
    cases = [case_request(f"C-{i}", household=h) for i, h in enumerate(["H-1", "H-3", "H-404"])]
    response = client.post(
        "/v1/cases/batch-score", json={"cases": cases}, headers=auth(keys["scorer"])
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["case_id"] for r in results] == ["C-0", "C-1", "C-2"] and response.json()[
        "count"
    ] == 3
    assert (
        "repeated_police_incidents" in results[1]["route"]["rules"]
    )  # H-3: three incidents in 12 months
    single = score(client, keys, case_request("C-1", household="H-3"))
    assert results[1]["escalation"]["probability"] == pytest.approx(
        single["escalation"]["probability"], abs=1e-12
    )
    queue = client.get("/v1/queue", headers=auth(keys["analyst"])).json()
    assert queue["total"] == 4


def test_a_stored_decision_is_packed_small_with_its_deadline_in_a_column(client, keys):
    cases = [case_request(f"C-{i}", household=h) for i, h in enumerate(["H-1", "H-3"])]
    response = client.post(
        "/v1/cases/batch-score", json={"cases": cases}, headers=auth(keys["scorer"])
    )
    answered = {
        r["score_id"]: r["route"]["respond_within_hours"] for r in response.json()["results"]
    }
    engine = engine_for(client.app.state.service.settings.db_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Decision.score_id,
                Decision.respond_within_hours,
                func.length(Decision.response),
                Decision.response,
            )
        ).all()
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA page_size").scalar_one() == 16_384
    assert {score_id: hours for score_id, hours, *_ in rows} == answered
    for *_, size, record in rows:
        assert size < 0.6 * len(json.dumps(base64_contributions(record)))


def test_batch_above_the_limit_is_refused_with_413_and_nothing_stored(client, keys):
    limit = client.app.state.service.settings.max_batch_cases
    body = {"cases": [case_request(f"C-{i}") for i in range(limit + 1)]}
    response = client.post("/v1/cases/batch-score", json=body, headers=auth(keys["scorer"]))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/queue", headers=auth(keys["analyst"])).json()["total"] == 0


def test_a_model_tier_is_read_red_first_with_the_champions_thresholds(settings, champions):
    """The served tier follows ``TierModel.decide``: with a red threshold of zero everyone is red."""
    tier = copy.deepcopy(champions.tier)
    tier.red_threshold_, tier.yellow_threshold_ = 0.0, 0.0
    with TestClient(
        create_app(settings, champions=dataclasses.replace(champions, tier=tier))
    ) as client:
        with client.app.state.service.sessions() as session:
            _, key = create_key(session, "scorer", "red first", hasher=TEST_HASHER)
            session.commit()
        response = client.post(
            "/v1/cases/score", json=case_request(persons=["P-2-1"]), headers=auth(key)
        )
    person = response.json()["persons"][0]
    assert person["tier_source"] == "model" and person["tier"] == "red"
    assert max(person["probabilities"], key=person["probabilities"].get) != "red"
