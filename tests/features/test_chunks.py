"""A large build reads the history a chunk of households at a time, with the same values as whole.

The chunk size is made small so that a small generated city is split into many chunks: a feature
that reads a row outside its chunk's households (a counterparty's call, a pair's earlier case, a
member's screening) would come out different.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from tests.support.cities import generated_city
from triage.batch_scoring import score_cases
from triage.data_contracts import validate_dataset
from triage.features import CallTextModel, build_case_features, build_person_features, chunks
from triage.features import rule_tier_values
from triage.features.points import assessment_points, case_points
from triage.routing import current_routing
from triage.settings import Settings


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, pd.DataFrame]:
    city = tmp_path_factory.mktemp("chunked-city")
    generated_city(city, "tiny", seed=5, start=date(2022, 1, 1), end=date(2024, 12, 31))
    return validate_dataset(city).valid


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(chunks, "QUERIES_PER_CHUNK", 40)
    return 40


def whole_and_chunked(monkeypatch: pytest.MonkeyPatch, build):
    """``build()`` with one History of the whole city, then chunk by chunk."""
    monkeypatch.setattr(chunks, "QUERIES_PER_CHUNK", 10**9)
    whole = build()
    monkeypatch.setattr(chunks, "QUERIES_PER_CHUNK", 40)
    return whole, build()


def test_case_features_are_the_same_chunk_by_chunk(tables, monkeypatch):
    text_model = CallTextModel().fit(tables, cutoff="2024-01-01")
    points = case_points(tables).sample(frac=1.0, random_state=3)  # any order comes back as given
    whole, chunked = whole_and_chunked(
        monkeypatch, lambda: build_case_features(points, tables, text_model=text_model)
    )
    assert len(points) > 5 * 40
    pd.testing.assert_frame_equal(chunked, whole)


def test_person_features_and_rule_tiers_are_the_same_chunk_by_chunk(tables, monkeypatch):
    points = assessment_points(tables).drop(columns="tier")
    points = pd.concat([points, points.assign(person_id="P-not-in-the-city")], ignore_index=True)
    whole, chunked = whole_and_chunked(monkeypatch, lambda: build_person_features(points, tables))
    pd.testing.assert_frame_equal(chunked, whole)
    rule = Settings().domain.tier_rule
    whole, chunked = whole_and_chunked(monkeypatch, lambda: rule_tier_values(points, tables, rule))
    np.testing.assert_array_equal(chunked, whole)


def test_a_chunk_holds_the_rows_of_its_households_and_their_counterparties(tables, small_chunks):
    points = case_points(tables)
    parts = list(chunks.case_chunks(points, tables))
    assert len(parts) == -(-len(points) // small_chunks)
    assert sorted(np.concatenate([rows for rows, _ in parts])) == list(range(len(points)))
    for rows, part in parts:
        named = set(points["household_id"].iloc[rows]) | set(
            points["counterparty_household_id"].iloc[rows].dropna()
        )
        calls = tables["hotline_calls"]
        assert set(part["hotline_calls"]["household_id"]) == named & set(calls["household_id"])
        assert len(part["hotline_calls"]) < len(calls)


def test_a_few_cases_of_a_large_city_read_only_their_households(tables, monkeypatch):
    points = case_points(tables).head(5)
    whole, chunked = whole_and_chunked(monkeypatch, lambda: build_case_features(points, tables))
    pd.testing.assert_frame_equal(chunked, whole)
    [(rows, part)] = chunks.case_chunks(points, tables)
    assert list(rows) == list(range(5))
    assert len(part["hotline_calls"]) < len(tables["hotline_calls"])


def test_batch_scores_and_routes_are_the_same_chunk_by_chunk(tables, champions, monkeypatch):
    routing = current_routing(Settings().routing_file, set(Settings().domain.teams))
    points = case_points(tables)
    whole, chunked = whole_and_chunked(
        monkeypatch, lambda: score_cases(points, tables, champions.escalation, routing)
    )
    pd.testing.assert_frame_equal(chunked, whole)
    assert whole["teams"].nunique() > 1
