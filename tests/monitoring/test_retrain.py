"""`triage retrain`: promotes a better model once, records why, and the running service swaps without a failed request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.factories import random_tables
from tests.support.domain import SHIPPED_DOMAIN
from triage.evaluation.metrics import tier_metrics
from triage.features import build_person_features, feature_names
from triage.models import TierModel
from triage.training.gates import retrain_gate
from triage.training.retrain import retrain


@pytest.fixture(scope="module")
def tier_fits():
    """A tier model fitted on a random city's screenings, and a weaker one fitted on shuffled tiers."""
    tables = random_tables(300, seed=3)
    points = tables["persons"][["person_id"]].assign(as_of=pd.Timestamp("2024-12-31", tz="UTC"))
    X = build_person_features(points, tables)[feature_names("person")]
    y = np.select(
        [X["phq9_max"].fillna(0) >= 20, X["phq9_max"].fillna(0) >= 10], ["red", "yellow"], "green"
    )
    model = TierModel(n_estimators=20, min_child_samples=5, random_state=0).fit(X, y)
    weaker = TierModel(n_estimators=20, min_child_samples=5, random_state=0).fit(
        X, np.random.default_rng(0).permutation(y)
    )
    return tier_metrics(y, model.predict_proba(X))["macro_f1"], tier_metrics(
        y, weaker.predict_proba(X)
    )["macro_f1"]


def test_retraining_on_better_data_promotes_and_the_service_serves_it_without_a_failed_request(
    first_champion, first_retrain
):
    summary, responses = first_retrain
    old, new = first_champion["versions"]["escalation"], summary["versions"]["escalation"]
    assert summary["promotion"]["escalation"]["promoted"], summary["promotion"]["escalation"][
        "reason"
    ]
    assert "beats the champion" in summary["promotion"]["escalation"]["reason"]
    assert summary["retrain"]["service_reload"]["models"]["escalation"]["version"] == new
    statuses = [status for status, _ in responses]
    assert len(responses) > 20 and set(statuses) == {200}
    served = [version for _, version in responses]
    assert served[0] == old and served[-1] == new
    switch = served.index(new)
    assert set(served[:switch]) == {old} and set(served[switch:]) == {new}  # one clean swap


def test_retraining_twice_on_the_same_data_promotes_at_most_once(
    monitoring_env, first_retrain, full_city
):
    first, _ = first_retrain
    client = MlflowClient()
    registered = len(client.search_model_versions(f"name='{monitoring_env.escalation_model_name}'"))
    second = retrain(full_city, settings=monitoring_env)
    assert second["retrain"]["promoted"] == [] and second["retrain"]["skipped"]
    tags = client.get_run(second["run_id"]).data.tags
    assert (
        tags["retrain_decision"].startswith("kept the champions")
        and "already learnt" in tags["retrain_decision"]
    )
    assert (
        len(client.search_model_versions(f"name='{monitoring_env.escalation_model_name}'"))
        == registered
    )
    champion = client.get_model_version_by_alias(monitoring_env.escalation_model_name, "champion")
    assert (
        f"{monitoring_env.escalation_model_name}/{champion.version}"
        == first["versions"]["escalation"]
    )


def test_a_model_that_only_ties_the_champion_is_not_promoted(tier_fits):
    """The margin rule itself, on real tier models: a tie refuses, a clear gain promotes."""
    better, weaker = tier_fits
    gates = SHIPPED_DOMAIN.gates

    def judged(candidate: float, champion: float) -> tuple[bool, str]:
        return retrain_gate(
            "tier",
            {"macro_f1": candidate},
            {
                "macro_f1": champion,
                "candidate_macro_f1": candidate,
                "scope": "the same assessments",
            },
            same_data=False,
            gates=gates,
        )

    tie = judged(better, better)
    assert not tie[0] and "does not beat" in tie[1]
    gain = judged(better, weaker)
    assert gain[0] and "beats the champion" in gain[1]
