"""Features of a dispute's shape that any centre's records show: the same two households again,
the calls' trend, how fast earlier cases climbed the ladder, the counterparty's channels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.support.feud_city import FEUD_CASE, feud_city
from triage.features import build_case_features


def features_as_of(as_of=None) -> pd.DataFrame:
    city = feud_city()
    return build_case_features(city.cases_as_of(as_of), city.tables()).set_index("case_id")


@pytest.fixture(scope="module")
def c4() -> pd.Series:
    return features_as_of().loc[FEUD_CASE]


def test_earlier_disputes_between_the_same_two_households_in_either_role(c4):
    assert (c4["pair_prior_cases_ever"], c4["pair_prior_cases_365d"]) == (2, 1)
    assert c4["pair_prior_failed_mediations_ever"] == 3
    assert c4["hh_prior_cases_ever"] == 3  # H1's case against H3 is not between the two


def test_a_case_without_a_counterparty_has_no_pair_history():
    c5 = features_as_of().loc["C5"]
    assert math.isnan(c5["pair_prior_cases_ever"])
    assert math.isnan(c5["pair_prior_failed_mediations_ever"])


def test_the_first_dispute_of_a_pair_has_none_before_it():
    c1 = features_as_of().loc["C1"]
    assert (c1["pair_prior_cases_ever"], c1["pair_prior_failed_mediations_ever"]) == (0, 0)


def test_calls_trend_is_the_log_ratio_of_the_last_30_days_to_the_90_before(c4):
    # H1: 3 calls in (as_of - 30d, as_of], 3 in (as_of - 120d, as_of - 30d]: twice the rate
    assert c4["hh_calls_trend_30d"] == pytest.approx(np.log(4 / 2))
    # H2: none lately, one in the 90 days before
    assert c4["cp_calls_trend_30d"] == pytest.approx(np.log(1 / (1 + 30 / 90)))
    assert features_as_of().loc["C3"]["cp_calls_trend_30d"] == 0  # H3 never called


def test_fastest_climb_reads_earlier_cases_only(c4):
    assert c4["hh_fastest_climb_days_ever"] == 5  # C3, township after 5 days
    assert c4["cp_fastest_climb_days_ever"] == 20  # C1, township after 20 days
    later = features_as_of("2024-03-06T10:00").loc[FEUD_CASE]
    assert later["hh_fastest_climb_days_ever"] == 5  # C4's own climb in a day is not earlier
    assert later["pair_prior_cases_ever"] == 2


def test_fastest_climb_is_missing_when_no_case_got_above_the_village():
    assert math.isnan(features_as_of().loc["C1"]["hh_fastest_climb_days_ever"])


def test_counterparty_calls_by_channel(c4):
    assert (c4["cp_calls_grid_365d"], c4["cp_calls_12338_365d"]) == (1, 1)
    assert (c4["cp_calls_12345_365d"], c4["cp_calls_12348_365d"]) == (0, 0)
