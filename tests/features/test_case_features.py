"""Escalation features of a hand-built city, family by family, with the answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.factories import City, new_case, utc
from tests.support.feature_checks import assert_arrays_hold_the_frame
from triage.features import build_case_features, case_feature_arrays, feature_names


def features_of_case(city: City, case_id: str, as_of=None) -> pd.Series:
    frame = build_case_features(city.cases_as_of(as_of, case_ids=[case_id]), city.tables())
    return frame.iloc[0]


@pytest.fixture
def c2(quarrel_city) -> pd.Series:
    return features_of_case(quarrel_city, "C2")


def test_frame_has_ids_as_of_and_registry_columns_in_order(quarrel_city):
    frame = build_case_features(quarrel_city.cases_as_of(), quarrel_city.tables())
    assert list(frame.columns) == ["case_id", "as_of", *feature_names("case")]
    assert frame["case_id"].tolist() == ["C1", "C2"]
    assert frame["as_of"].iloc[1] == utc("2024-03-01T10:00")
    numeric = frame[feature_names("case")].select_dtypes("number")
    assert (numeric.dtypes == np.float64).all()
    assert frame["case_dispute_type"].dtype == "category"


def test_household_calls_by_channel_and_window(c2):
    assert (c2["hh_calls_all_30d"], c2["hh_calls_all_90d"], c2["hh_calls_all_365d"]) == (1, 2, 3)
    assert (c2["hh_calls_110_30d"], c2["hh_calls_12345_30d"], c2["hh_calls_12345_90d"]) == (1, 0, 1)
    assert (c2["hh_calls_grid_90d"], c2["hh_calls_grid_365d"], c2["hh_calls_12338_365d"]) == (
        0,
        1,
        0,
    )


def test_threat_calls_count_simplified_and_traditional_phrases(c2):
    # 2024-02-20 "揚言要同歸於盡" (traditional) and 2023-08-14 "拿刀砍死" (simplified)
    assert (c2["hh_threat_calls_30d"], c2["hh_threat_calls_90d"], c2["hh_threat_calls_365d"]) == (
        1,
        1,
        2,
    )


def test_counterparty_history_is_its_own_household_s(c2):
    assert (c2["cp_calls_all_30d"], c2["cp_calls_110_30d"], c2["cp_threat_calls_365d"]) == (1, 1, 0)
    assert (c2["cp_violent_incidents_365d"], c2["cp_violent_incidents_ever"]) == (0, 1)
    assert c2["cp_prior_cases_ever"] == 0 and c2["cp_ladder_level_ever"] == 0


def test_no_counterparty_means_unknown_not_zero(quarrel_city):
    c1 = features_of_case(quarrel_city.case("C9", "H2", "2024-03-02"), "C9")
    assert c1["case_has_counterparty"] == 0
    assert math.isnan(c1["cp_calls_all_90d"]) and math.isnan(c1["cp_any_prior_conviction"])


def test_prior_cases_and_failed_mediations_exclude_the_case_itself(c2):
    assert (c2["hh_prior_cases_365d"], c2["hh_prior_cases_ever"]) == (1, 1)
    assert (c2["hh_prior_failed_mediations_365d"], c2["hh_prior_failed_mediations_ever"]) == (2, 2)
    assert c2["hh_ladder_level_ever"] == 2  # township on C1


def test_counterparty_role_in_an_earlier_case_counts_as_a_prior_case(quarrel_city):
    c3 = features_of_case(quarrel_city.case("C3", "H3", "2024-03-02"), "C3")
    assert c3["hh_prior_cases_ever"] == 1  # H3 was C1's counterparty
    assert c3["hh_prior_failed_mediations_ever"] == 2


def test_rescoring_later_sees_this_case_s_mediation_so_far(quarrel_city):
    later = features_of_case(quarrel_city, "C2", as_of="2024-03-06T10:00")
    assert (
        later["case_mediations"],
        later["case_failed_mediations"],
        later["case_ladder_level"],
    ) == (1, 1, 1)
    assert later["hh_prior_failed_mediations_ever"] == 2  # C2's own failure is not "prior"
    assert later["case_age_days"] == 5.0


def test_incidents_by_kind_and_window(c2):
    # H1's threat incident was 100 days before the case
    assert (
        c2["hh_threat_incidents_90d"],
        c2["hh_threat_incidents_365d"],
        c2["hh_threat_incidents_ever"],
    ) == (0, 1, 1)
    assert c2["hh_violent_incidents_ever"] == 0


def test_member_flags_are_missing_when_never_recorded(c2):
    assert c2["hh_any_alcohol_problem"] == 1  # P1 true, P2 false
    assert c2["hh_any_prior_conviction"] == 0  # recorded false, never true
    assert math.isnan(c2["hh_any_returned_migrant"])  # nobody recorded: unknown, not no
    assert c2["cp_any_prior_conviction"] == 1
    assert math.isnan(c2["cp_any_alcohol_problem"])


def test_members_latest_screenings_and_tier(c2):
    assert (
        c2["hh_members_latest_phq9"],
        c2["hh_members_latest_item9"],
        c2["hh_members_latest_gad7"],
    ) == (14, 1, 9)
    assert c2["hh_members_latest_tier"] == 1  # yellow
    assert math.isnan(c2["cp_members_latest_phq9"])


def test_household_and_case_attributes(c2):
    assert (c2["hh_size"], c2["hh_low_income"], c2["hh_area_type"]) == (4, 1, "rural")
    assert c2["hh_days_registered"] == 1827
    assert (c2["case_dispute_type"], c2["case_source"]) == ("marriage_family", "police_referral")
    assert c2["case_log_amount"] == pytest.approx(np.log1p(20000))
    assert (c2["case_parties"], c2["case_has_counterparty"], c2["case_age_days"]) == (2, 1, 0)
    assert c2["case_description_threat"] == 1
    assert math.isnan(c2["hh_text_score_max_90d"])  # no text model given


def test_household_registered_after_as_of_has_no_attributes_yet():
    city = City().household("H1", registered_at="2024-06-01").case("C1", "H1", "2024-03-01")
    c1 = features_of_case(city, "C1")
    assert math.isnan(c1["hh_size"]) and math.isnan(c1["hh_days_registered"])
    assert pd.isna(c1["hh_area_type"])


def test_a_new_case_not_in_the_tables_scores_like_a_stored_one(quarrel_city):
    arriving = new_case(
        "NEW-1",
        "H1",
        "2024-03-01T10:00",
        counterparty="H2",
        dispute_type="marriage_family",
        source="police_referral",
        amount_cny=20000,
        description="持刀威胁妻子",
    )
    tables = quarrel_city.tables()
    without_c2 = {
        **tables,
        "cases": tables["cases"][tables["cases"]["case_id"] != "C2"],
        "mediation_events": tables["mediation_events"][
            tables["mediation_events"]["case_id"] != "C2"
        ],
    }
    scored = build_case_features(arriving, without_c2).iloc[0]
    stored = features_of_case(quarrel_city, "C2")
    assert scored.drop(["case_id"]).equals(stored.drop(["case_id"]))
    # with C2 stored too, the arriving case sees C2 as an earlier case of the household
    assert build_case_features(arriving, tables).iloc[0]["hh_prior_cases_ever"] == 2


def test_one_case_alone_equals_the_same_case_in_a_batch(quarrel_city):
    tables = quarrel_city.tables()
    batch = quarrel_city.cases_as_of()
    batch = pd.concat([batch, batch.assign(as_of=utc("2024-03-06T10:00"))], ignore_index=True)
    together = build_case_features(batch.iloc[::-1], tables)  # any input order
    for position in range(len(batch)):
        alone = build_case_features(batch.iloc[[len(batch) - 1 - position]], tables)
        pd.testing.assert_frame_equal(alone, together.iloc[[position]].reset_index(drop=True))


def test_unknown_household_scores_with_no_history():
    frame = build_case_features(new_case("X", "H-UNSEEN", "2024-01-01"), City().tables())
    row = frame.iloc[0]
    assert row["hh_calls_all_365d"] == 0 and row["hh_prior_cases_ever"] == 0
    assert math.isnan(row["hh_size"]) and math.isnan(row["hh_any_alcohol_problem"])


def test_missing_as_of_is_refused(quarrel_city):
    cases = quarrel_city.cases_as_of()
    cases.loc[0, "as_of"] = pd.NaT
    with pytest.raises(ValueError, match="as_of"):
        build_case_features(cases, quarrel_city.tables())


def test_arrays_hold_the_frame_values(quarrel_city):
    """``case_feature_arrays`` (the service's path) is the frame's computation, column by column."""
    cases = pd.concat(
        [quarrel_city.cases_as_of(), new_case("X", "H-UNSEEN", "2024-01-01", dispute_type="other")]
    )
    frame = build_case_features(cases, quarrel_city.tables())
    arrays = case_feature_arrays(cases, quarrel_city.tables())
    assert_arrays_hold_the_frame(arrays, frame, feature_names("case"))
