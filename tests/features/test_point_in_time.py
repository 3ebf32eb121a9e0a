"""Features as of t depend on nothing after t, and never on status/closed_at (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import random_tables, utc
from tests.support.domain import SHIPPED_DOMAIN
from tests.support.feud_city import feud_city
from triage.contract import CASE_STATUSES, TABLES
from triage.features import build_case_features, build_person_features, rule_tiers

START = utc("2022-01-01")

TIER_RULE = SHIPPED_DOMAIN.tier_rule


def known_by(tables: dict[str, pd.DataFrame], t: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Every table with the rows whose own time is after ``t`` deleted."""
    kept = {}
    for name, frame in tables.items():
        time_column = TABLES[name].time_column
        kept[name] = (
            frame if time_column is None else frame[frame[time_column] <= t].reset_index(drop=True)
        )
    return kept


def scrambled_outcomes(tables: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cases = tables["cases"].copy()
    cases["status"] = pd.array(rng.choice(CASE_STATUSES, len(cases)), dtype="string")
    cases["closed_at"] = cases["opened_at"] + pd.to_timedelta(
        rng.integers(0, 400, len(cases)), unit="D"
    )
    return {**tables, "cases": cases}


def queries_up_to(tables, t, rng) -> pd.DataFrame:
    """Cases opened by t, each as of t itself or as of its opening (how training sees it)."""
    cases = tables["cases"][tables["cases"]["opened_at"] <= t].copy()
    cases["as_of"] = cases["opened_at"].where(rng.random(len(cases)) < 0.3, t)
    return cases


cities = st.builds(
    lambda households, seed, day, cases: (
        random_tables(households, seed=seed, days=700, cases_per_household=cases),
        START + pd.Timedelta(days=day, hours=seed % 24),
        seed,
    ),
    st.integers(2, 30),
    st.integers(0, 10_000),
    st.integers(30, 700),
    st.sampled_from([1.0, 4.0]),  # 4: the same two households meet again in several cases
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cities)
def test_case_features_as_of_t_ignore_every_row_after_t(city):
    tables, t, seed = city
    queries = queries_up_to(tables, t, np.random.default_rng(seed))
    full = build_case_features(queries, scrambled_outcomes(tables, seed))
    truncated = build_case_features(queries, known_by(tables, t))
    pd.testing.assert_frame_equal(full, truncated)


@pytest.mark.parametrize(
    "t", ["2023-01-30T10:00", "2023-09-30T10:00", "2024-03-01T10:00", "2024-03-02T10:00"]
)
def test_a_feud_s_features_as_of_t_ignore_every_row_after_t(t):
    """The features of the same two households, the calls' trend and the ladder's speed, at
    moments on their windows' edges (the case-by-case answers: tests/support/feud_city.py)."""
    tables, t = feud_city().tables(), utc(t)
    queries = queries_up_to(tables, t, np.random.default_rng(0))
    pd.testing.assert_frame_equal(
        build_case_features(queries, scrambled_outcomes(tables, 0)),
        build_case_features(queries, known_by(tables, t)),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cities)
def test_person_features_and_rule_tiers_as_of_t_ignore_every_row_after_t(city):
    tables, t, _ = city
    assessments = tables["psych_assessments"]
    assessments = assessments[assessments["at"] <= t]
    points = pd.DataFrame(
        {
            "person_id": assessments["person_id"],
            "as_of": assessments["at"],
            "exclude_assessment_id": assessments["assessment_id"],
        }
    )
    everyone_at_t = pd.DataFrame({"person_id": tables["persons"]["person_id"], "as_of": t})
    points = pd.concat([points, everyone_at_t], ignore_index=True)
    truncated = known_by(tables, t)
    pd.testing.assert_frame_equal(
        build_person_features(points, tables), build_person_features(points, truncated)
    )
    pd.testing.assert_series_equal(
        rule_tiers(points, tables, TIER_RULE), rule_tiers(points, truncated, TIER_RULE)
    )
