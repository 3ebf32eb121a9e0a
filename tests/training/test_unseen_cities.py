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


def test_the_model_beats_the_plain_pipeline_and_stays_below_every_ceiling(judged):
    model, plain = judged["model"]["roc_auc"], judged["plain"]["roc_auc"]
    assert model >= plain + 0.02, f"model {model:.3f} vs plain {plain:.3f}"
    for ceiling in ("oracle", "oracle_own_heat_from_traces"):
        if ceiling in judged:
            top = judged[ceiling]["roc_auc"]
            assert model <= top + 0.005, f"model {model:.3f} above {ceiling} {top:.3f}: leakage"


def test_the_model_comes_within_003_of_the_oracle_unless_the_tables_cannot_carry_that(judged):
    """Where an oracle knows a hidden state that no table records, it is no target: the second
    writer's heat has a hidden part per case, and its oracle file also gives the probability with
    that part inferred from the case's traces (every other hidden state still known). When even that
    falls more than 0.03 below the oracle, no model of the tables can come within 0.03, and the
    check is skipped with the figures; otherwise it holds."""
    oracle = judged["oracle"]["roc_auc"]
    from_traces = judged.get("oracle_own_heat_from_traces", {}).get("roc_auc", oracle)
    if from_traces < oracle - 0.03:
        pytest.skip(
            f"the oracle knows what the tables cannot carry: inferred from the traces it reaches "
            f"{from_traces:.3f}, {oracle - from_traces:.3f} below the oracle's {oracle:.3f}"
        )
    assert judged["model"]["roc_auc"] >= oracle - 0.03


def test_calibration_holds_on_the_later_months(judged):
    assert judged["model"]["ece"] < 0.03


def test_tiers_catch_red_and_do_at_least_as_well_as_the_screening_rule_where_it_applies(judged):
    tier = judged["tier"]
    assert tier["model"]["red_recall"] >= 0.45
    assert tier["model_where_rule"]["macro_f1"] >= tier["rule"]["macro_f1"]


def test_the_conformal_tier_sets_hold_the_counsellors_tier_as_often_as_promised(judged):
    sets = judged["tier"]["sets"]
    assert abs(sets["coverage"] - sets["nominal"]) <= 0.03, sets
