"""A challenger in shadow: every case is scored by it too and its answer stored apart; the champion's
answer and route stay byte for byte what they were; a broken challenger costs nothing; ``GET
/v1/models`` and ``GET /v1/shadow`` show it."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from tests.support.service import auth, case_request, train_champions
from tests.support.shadow import (
    CHALLENGER_VERSIONS,
    shadow_rows,
    with_broken_escalation,
    with_challenger,
)
from triage.decisions.types import ScoreRequest

BATCH = [case_request(f"C-B{i}", household) for i, household in enumerate(["H-1", "H-3", "H-4"])]


def load(client, champions) -> None:
    """Reload the service's store with ``champions`` (as after a reload that found a challenger)."""
    store = client.app.state.service.champions
    store._loader = lambda: champions
    store.reload()


def post_score(client, keys, body: dict):
    response = client.post("/v1/cases/score", json=body, headers=auth(keys["scorer"]))
    assert response.status_code == 200, response.text
    return response


def test_the_challenger_is_stored_apart_and_changes_no_answer(
    client, keys, settings, champions, rival
):
    alone = post_score(client, keys, case_request("C-1"))
    load(client, with_challenger(champions, rival))
    shadowed = post_score(client, keys, case_request("C-1"))

    before, after = alone.json()["score_id"], shadowed.json()["score_id"]
    assert shadowed.content == alone.content.replace(before.encode(), after.encode())
    stored = client.get(f"/v1/scores/{after}", headers=auth(keys["analyst"])).json()
    assert stored["route"] == alone.json()["route"]

    rows = shadow_rows(settings.db_url)
    assert list(rows) == [after]
    (expected,) = client.app.state.service.scorer.score(
        [ScoreRequest.model_validate(case_request("C-1"))], rival
    )
    row = rows[after]
    assert (row["escalation_version"], row["tier_version"]) == tuple(CHALLENGER_VERSIONS.values())
    assert row["probability"] == pytest.approx(expected.escalation.probability, abs=1e-9)
    assert row["band"] == expected.band
    assert row["teams"] == ";" + ";".join(expected.route.teams) + ";"
    assert row["tiers"] == {p.person_id: p.tier for p in expected.persons}


def test_a_challenger_reading_texts_otherwise_is_scored_on_features_of_its_own(
    client, keys, settings, champions
):
    rival = train_champions(seed=1, version=2, reads_texts=True)
    shadowed = with_challenger(champions, rival, roles=("escalation",))
    assert not shadowed.challenger.shares_features
    load(client, shadowed)
    body = case_request("C-1", description="对方扬言要砍人，已多次上门威胁")
    score_id = post_score(client, keys, body).json()["score_id"]
    (expected,) = client.app.state.service.scorer.score([ScoreRequest.model_validate(body)], rival)
    assert shadow_rows(settings.db_url)[score_id]["probability"] == pytest.approx(
        expected.escalation.probability, abs=1e-9
    )


def test_a_batch_is_shadowed_in_one_call_per_model(
    client, keys, settings, champions, rival, monkeypatch
):
    calls = []
    predict = rival.escalation.predict_proba
    monkeypatch.setattr(
        rival.escalation, "predict_proba", lambda *a, **k: calls.append(1) or predict(*a, **k)
    )
    load(client, with_challenger(champions, rival, roles=("escalation",)))
    response = client.post(
        "/v1/cases/batch-score", json={"cases": BATCH}, headers=auth(keys["scorer"])
    )
    assert response.status_code == 200, response.text
    ids = [r["score_id"] for r in response.json()["results"]]
    rows = shadow_rows(settings.db_url)
    assert sorted(rows) == sorted(ids) and calls == [1]
    # no tier challenger: the champion's tier version and the champion's tiers
    assert {r["tier_version"] for r in rows.values()} == {"triage-tier/1"}


def test_a_broken_challenger_leaves_the_answers_alone(
    client, keys, settings, champions, rival, caplog
):
    alone = post_score(client, keys, case_request("C-1"))
    load(client, with_broken_escalation(champions, rival))
    with caplog.at_level(logging.WARNING, logger="triage.decisions.scoring"):
        shadowed = post_score(client, keys, case_request("C-1"))
    after = shadowed.json()["score_id"]
    assert shadowed.content == alone.content.replace(
        alone.json()["score_id"].encode(), after.encode()
    )
    assert shadow_rows(settings.db_url) == {}
    assert "challenger" in caplog.text and "RuntimeError" in caplog.text


def test_models_and_shadow_show_the_challenger_beside_the_champions(client, keys, champions, rival):
    models = client.get("/v1/models", headers=auth(keys["analyst"])).json()
    assert models["challenger"] is None
    load(client, with_challenger(champions, rival))
    models = client.get("/v1/models", headers=auth(keys["analyst"])).json()
    assert models["models"]["escalation"]["version"] == "triage-escalation/1"
    assert models["challenger"]["escalation"] == {
        "version": "triage-escalation/2",
        "metrics": {"escalation_auc": 0.71},
    }

    for body in BATCH:
        post_score(client, keys, body)
    report = client.get("/v1/shadow", headers=auth(keys["analyst"]))
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["cases"] == 3 and body["challenger_versions"] == sorted(
        CHALLENGER_VERSIONS.values()
    )
    assert sum(sum(row.values()) for row in body["bands"].values()) == 3
    assert body["challenger_loaded"]["tier"]["version"] == "triage-tier/2"
    assert any("fewer than" in line for line in body["promotion_refused_because"])
    assert client.get("/v1/shadow", headers=auth(keys["scorer"])).status_code == 403


def test_metrics_count_the_challengers_failures_to_load_and_to_score(
    client, keys, champions, rival
):
    def failures(stage: str) -> str:
        text = client.get("/metrics", headers=auth(keys["scorer"])).text
        return text.split(f'triage_challenger_failures_total{{stage="{stage}"}} ')[1].split()[0]

    assert (failures("load"), failures("score")) == ("0.0", "0.0")
    # the tier challenger left out at the load (as ``load_champions`` reports it), the escalation
    # challenger failing at each call
    shadowed = with_broken_escalation(champions, rival, roles=("escalation",))
    load(client, replace(shadowed, challenger_left_out={"tier": "triage-tier/2"}))
    post_score(client, keys, case_request("C-1"))
    post_score(client, keys, case_request("C-2"))
    assert (failures("load"), failures("score")) == ("1.0", "2.0")
