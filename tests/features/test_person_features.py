"""Tier-model features and the PHQ-9/GAD-7 rule of docs/data-format.md, on the quarrel city."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.factories import City, utc
from tests.support.feature_checks import assert_arrays_hold_the_frame
from tests.support.domain import SHIPPED_DOMAIN, domain_with
from triage.config import load_domain
from triage.config.domain import AnyOf
from triage.features import build_person_features, feature_names, person_feature_arrays, rule_tiers
from triage.features.queries import local_years

TIER_RULE = SHIPPED_DOMAIN.tier_rule


def person_features(city: City, person_id: str, as_of, exclude=None) -> pd.Series:
    points = pd.DataFrame(
        {
            "person_id": [person_id],
            "as_of": [utc(as_of)],
            "exclude_assessment_id": pd.array([exclude], dtype="string"),
        }
    )
    return build_person_features(points, city.tables()).iloc[0]


def test_frame_shape(quarrel_city):
    points = pd.DataFrame({"person_id": ["P2", "P1"], "as_of": [utc("2024-03-01")] * 2})
    frame = build_person_features(points, quarrel_city.tables())
    assert list(frame.columns) == ["person_id", "as_of", *feature_names("person")]
    assert frame["person_id"].tolist() == ["P2", "P1"]


def test_latest_and_highest_screenings_with_their_age(quarrel_city):
    p1 = person_features(
        quarrel_city.screening("P1", "2024-02-20", score=8, item9=0), "P1", "2024-03-01"
    )
    assert (p1["phq9_latest"], p1["phq9_max"], p1["item9_latest"], p1["item9_max"]) == (8, 14, 0, 1)
    assert (p1["gad7_latest"], p1["gad7_max"], p1["screenings_ever"]) == (9, 9, 3)
    assert p1["phq9_age_days"] == 10  # 2024-02-20 → 2024-03-01
    assert math.isnan(person_features(quarrel_city, "P3", "2024-03-01")["phq9_latest"])


def test_previous_tier_skips_the_assessment_being_predicted(quarrel_city):
    city = quarrel_city.assessment("P1", "2024-03-01", "red", assessment_id="A-NOW")
    as_training_row = person_features(city, "P1", "2024-03-01", exclude="A-NOW")
    assert as_training_row["previous_tier"] == 1  # the yellow of 2024-01-20
    assert as_training_row["previous_tier_age_days"] == 41
    assert person_features(city, "P1", "2024-03-02")["previous_tier"] == 2


def test_person_flags_stay_missing_when_never_recorded(quarrel_city):
    p2 = person_features(quarrel_city, "P2", "2024-03-01")
    assert p2["person_alcohol_problem"] == 0
    assert math.isnan(p2["person_prior_conviction"])
    assert (p2["person_sex"], p2["person_age_years"]) == ("female", 44)
    assert pd.isna(p2["person_employment"])


def test_household_history_of_the_person(quarrel_city):
    p1 = person_features(quarrel_city, "P1", "2024-03-01T10:00")
    assert (p1["person_hh_calls_365d"], p1["person_hh_threat_calls_365d"]) == (3, 2)
    assert (p1["person_hh_incidents_365d"], p1["person_hh_violent_incidents_365d"]) == (1, 0)
    assert p1["person_hh_cases_365d"] == 2  # C1 and C2 (opened at that minute)
    assert (p1["person_hh_size"], p1["person_hh_low_income"]) == (4, 1)


@pytest.mark.parametrize(
    ("screenings", "tier"),
    [
        ([("phq9", 20, 0)], "red"),
        ([("phq9", 3, 2)], "red"),  # item 9 ≥ 2
        ([("phq9", 15, 0), ("gad7", 15, None)], "red"),
        ([("phq9", 14, 0), ("gad7", 15, None)], "yellow"),  # GAD-7 ≥ 15 needs PHQ-9 ≥ 15 for red
        ([("phq9", 10, 0)], "yellow"),
        ([("gad7", 10, None)], "yellow"),
        ([("phq9", 4, 1)], "yellow"),  # item 9 = 1
        ([("phq9", 9, 0), ("gad7", 9, None)], "green"),
        ([("gad7", 4, None)], "green"),
    ],
)
def test_rule_tier_follows_domain_cut_offs(screenings, tier):
    city = City().household("H1").person("P1")
    for instrument, score, item9 in screenings:
        city.screening("P1", "2024-03-01", instrument=instrument, score=score, item9=item9)
    points = pd.DataFrame({"person_id": ["P1"], "as_of": [utc("2024-03-02")]})
    assert rule_tiers(points, city.tables(), TIER_RULE).tolist() == [tier]


def test_rule_tier_needs_a_screening_no_older_than_90_days():
    city = City().household("H1").person("P1").screening("P1", "2024-01-01", score=22, item9=0)
    points = pd.DataFrame(
        {
            "person_id": ["P1", "P1", "P-UNKNOWN"],
            "as_of": [utc("2024-03-30"), utc("2024-04-01"), utc("2024-03-30")],
        },
        index=[10, 11, 12],
    )
    tiers = rule_tiers(points, city.tables(), TIER_RULE)
    assert tiers.index.tolist() == [10, 11, 12]
    assert tiers[10] == "red" and pd.isna(tiers[11]) and pd.isna(tiers[12])


def test_rule_tier_uses_the_rule_it_is_given_not_the_shipped_one():
    city = City().household("H1").person("P1").screening("P1", "2024-03-01", score=12, item9=0)
    points = pd.DataFrame({"person_id": ["P1"], "as_of": [utc("2024-03-02")]})
    stricter = TIER_RULE.model_copy(update={"yellow": AnyOf(any=[{"phq9_at_least": 15}])})
    assert rule_tiers(points, city.tables(), TIER_RULE).tolist() == ["yellow"]
    assert rule_tiers(points, city.tables(), stricter).tolist() == ["green"]


def test_a_domain_file_is_checked_when_read(tmp_path):
    with pytest.raises(ValueError, match="band_top_shares"):
        load_domain(domain_with(tmp_path, escalation={"band_top_shares": {"critical": 0.05}}))


def test_rule_tier_ignores_screenings_after_as_of():
    city = City().household("H1").person("P1").screening("P1", "2024-03-05", score=25, item9=3)
    points = pd.DataFrame({"person_id": ["P1"], "as_of": [utc("2024-03-01")]})
    assert pd.isna(rule_tiers(points, city.tables(), TIER_RULE)[0])


def test_arrays_hold_the_frame_values(quarrel_city):
    points = pd.DataFrame({"person_id": ["P2", "P1", "P-UNSEEN"], "as_of": [utc("2024-03-01")] * 3})
    frame = build_person_features(points, quarrel_city.tables())
    arrays = person_feature_arrays(points, quarrel_city.tables())
    assert_arrays_hold_the_frame(arrays, frame, feature_names("person"))


def test_local_years_are_the_same_one_by_one_and_in_bulk():
    """Ages use the Asia/Shanghai year of as_of: computed one by one for a few times, by pandas for
    many; both the same at every New Year (UTC+8) and through 1986–91, when China kept summer time."""
    new_years = (
        pd.to_datetime([f"{y}-01-01" for y in range(1980, 2031)])
        .tz_localize("Asia/Shanghai")
        .as_unit("ns")
    )
    rng = np.random.default_rng(5)
    random = rng.integers(0, 2**31, 300) * 10**9  # 1970..2038
    times = np.concatenate([(new_years - pd.Timedelta(1, "s")).asi8, new_years.asi8, random])
    bulk = local_years(np.concatenate([times, times]))[: len(times)]  # > 256 rows: pandas
    few = np.concatenate([local_years(chunk) for chunk in np.array_split(times, 10)])
    np.testing.assert_array_equal(few, bulk)
    assert few[: 2 * len(new_years)].tolist() == list(range(1979, 2030)) + list(range(1980, 2031))
