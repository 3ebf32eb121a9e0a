"""The challenger's report over HTTP, on SQLite and PostgreSQL: the same live cases scored by both
models, their labels read from the service database's incidents, and both models' AUC and ECE."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.support.domain import domain_with
from tests.support.service import auth
from tests.support.shadow import LOOSE_GATES, score_in_shadow, shadow_rows
from triage.settings import Settings


@pytest.fixture
def settings(service_db: str, tmp_path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=service_db,
        domain_file=domain_with(tmp_path, challenger=LOOSE_GATES),
    )


def test_the_report_judges_both_models_on_the_labelled_live_cases(
    client, keys, settings, champions, rival
):
    scored = score_in_shadow(client, keys, champions, rival)
    response = client.get("/v1/shadow", headers=auth(keys["analyst"]))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["cases"], report["labelled"], report["escalated"]) == (3, 2, 1)

    shadows = shadow_rows(settings.db_url)
    y = np.array([1.0, 0.0])  # C-1 (H-3) escalated, C-2 (H-4) did not
    for model, probability in (
        ("champion", lambda case: scored[case]["escalation"]["probability"]),
        ("challenger", lambda case: shadows[scored[case]["score_id"]]["probability"]),
    ):
        p = np.array([probability("C-1"), probability("C-2")])
        assert report[model]["auc"] == pytest.approx(roc_auc_score(y, p))
        assert report[model]["ece"] == pytest.approx(np.abs(y - p).mean())  # one case a bin
    moved = {
        case
        for case, answer in scored.items()
        if shadows[answer["score_id"]]["band"] != answer["escalation"]["band"]
        or shadows[answer["score_id"]]["teams"] != ";" + ";".join(answer["route"]["teams"]) + ";"
    }
    assert {m["case_id"] for m in report["movers"]} == moved and report["moving"] == len(moved)
    assert report["promotion_refused_because"] == []

    later = client.get("/v1/shadow", params={"since": "2999-01-01"}, headers=auth(keys["analyst"]))
    assert later.json()["cases"] == 0 and later.json()["promotion_refused_because"]
