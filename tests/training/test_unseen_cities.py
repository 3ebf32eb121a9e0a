"""The models on months they never saw, on two cities written by independent generators.

Each city is exported after 26 months (2022-01 .. 2024-02), trained on as a centre would, and
judged on the cases and assessments of the ten months after the export: above a plain pipeline
trained on the same labelled cases, never above the generator's own probability.
"""

from __future__ import annotations


import pytest

from tests.support.cities import generated_city
from tests.support.unseen import judge_unseen_months

pytestmark = pytest.mark.slow

EXPORT_END = "2024-02-29"


@pytest.fixture(scope="module")
def second_city_20k(tmp_path_factory):
    out = tmp_path_factory.mktemp("second20k") / "city"
    generated_city(out, "large", seed=7, writer="second")
    return out


@pytest.fixture(scope="module", params=["triage generate", "second writer"])
def judged(request, city_20k, second_city_20k) -> dict:
    city = city_20k if request.param == "triage generate" else second_city_20k
    return judge_unseen_months(city, export_end=EXPORT_END)


def test_a_26_month_export_trains_the_served_model_on_nearly_every_labelled_case(judged):
    assert judged["refit"]["share_of_labelled"] >= 0.9
    assert judged["refit"]["rows"] > 5_000


def test_the_model_beats_the_plain_pipeline_and_stays_below_the_oracle(judged):
    model, plain, oracle = (judged[k]["roc_auc"] for k in ("model", "plain", "oracle"))
    assert model >= plain + 0.02, f"model {model:.3f} vs plain {plain:.3f}"
    assert model <= oracle + 0.005, f"model {model:.3f} above the oracle {oracle:.3f}: leakage"


def test_the_model_comes_within_003_of_the_oracle_where_the_data_carries_the_risk(judged, request):
    """On the project's own city the oracle's knowledge is in the tables; the second writer's oracle
    also knows a hidden heat of each dispute that the tables show only in part (see its module)."""
    if "second writer" in request.node.callspec.id:
        pytest.skip(
            "the second writer's oracle knows a latent heat the exported tables do not carry"
        )
    assert judged["model"]["roc_auc"] >= judged["oracle"]["roc_auc"] - 0.03


def test_calibration_holds_on_the_later_months(judged):
    assert judged["model"]["ece"] < 0.03


def test_tiers_catch_red_and_do_at_least_as_well_as_the_screening_rule_where_it_applies(judged):
    tier = judged["tier"]
    assert tier["model"]["red_recall"] >= 0.45
    assert tier["model_where_rule"]["macro_f1"] >= tier["rule"]["macro_f1"]


def test_the_conformal_tier_sets_hold_the_counsellors_tier_as_often_as_promised(judged):
    sets = judged["tier"]["sets"]
    assert abs(sets["coverage"] - sets["nominal"]) <= 0.03, sets
