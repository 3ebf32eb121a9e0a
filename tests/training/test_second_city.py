"""The second, independent city: it conforms, it is reproducible, and its oracle is a ceiling."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.support.cities import SIZES, generated_city
from triage.contract import MAX_ID_LENGTH, TABLE_ORDER, TABLES
from triage.data_contracts import validate_dataset
from triage.evaluation.labels import dataset_end, escalation_labels

ARGS = dict(seed=3, start=date(2021, 7, 1), end=date(2024, 1, 1), writer="second")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("second") / "city"
    return out, generated_city(out, "small", **ARGS)


@pytest.fixture(scope="module")
def validated(city):
    return validate_dataset(city[0])


def test_every_row_validates(validated):
    assert validated.summary["quarantined"] == 0, validated.summary["by_rule"]
    assert validated.summary["warnings"] == []
    assert all(len(validated.valid[name]) > 0 for name in TABLE_ORDER)


def test_ids_are_unique_and_short(validated):
    for name in TABLE_ORDER:
        spec = TABLES[name]
        ids = validated.valid[name][spec.key]
        assert ids.is_unique and ids.str.len().max() <= MAX_ID_LENGTH


def test_cases_mix_sources_and_counterparties(validated):
    cases = validated.valid["cases"]
    assert {"police_referral", "court_referral"} <= set(cases["source"])
    assert 0.2 < cases["counterparty_household_id"].isna().mean() < 0.9
    per_household_year = len(cases) / SIZES["small"] / 2.5
    assert 0.2 <= per_household_year <= 0.4


def test_labels_and_oracle(city, validated):
    out, summary = city
    tables = validated.valid
    labels = escalation_labels(
        tables["cases"], tables["incidents"], horizon_days=180, data_end=dataset_end(tables)
    )
    oracle = pd.read_csv(out / "_oracle" / "cases.csv")
    assert list(oracle.columns) == ["case_id", "p_escalation", "p_escalation_own_heat_from_traces"]
    assert (
        set(oracle["case_id"]) == set(tables["cases"]["case_id"])
        and oracle["p_escalation"].between(0, 1).all()
    )
    both = tables["cases"][["case_id"]].merge(oracle, on="case_id", how="left")
    labelled = labels.notna().to_numpy()
    y = labels[labelled].to_numpy(dtype=float)
    assert 0.03 <= y.mean() <= 0.08
    assert summary["base_rate"] == pytest.approx(
        y.mean()
    )  # the generator's labels are the service's
    p, from_traces = (both[c].to_numpy()[labelled] for c in oracle.columns[1:])
    auc = roc_auc_score(y, p)
    assert 0.75 < auc < 0.97
    # knowing less (the case's hidden heat only through its traces) ranks worse, and stays a probability
    assert 0.7 < roc_auc_score(y, from_traces) < auc
    for probability in (p, from_traces):
        assert abs(probability.mean() - y.mean()) < 0.015


def test_the_oracle_from_traces_averages_the_oracle_over_what_the_traces_leave_open(city):
    """Inferring the hidden heat from a case's traces is Bayes: among cases it scores alike, the
    oracle's mean is its score (a wrong likelihood, such as tense calls read as calm, breaks this)."""
    oracle = pd.read_csv(city[0] / "_oracle" / "cases.csv")
    from_traces = oracle["p_escalation_own_heat_from_traces"]
    means = oracle.groupby(pd.qcut(from_traces, 5, labels=False)).mean(numeric_only=True)
    gap = (means["p_escalation"] - means["p_escalation_own_heat_from_traces"]).abs()
    assert (gap <= 0.15 * means["p_escalation_own_heat_from_traces"] + 0.002).all(), means


def test_assessment_oracle_is_complete(city, validated):
    out, _ = city
    oracle = pd.read_csv(out / "_oracle" / "assessments.csv")
    assert list(oracle.columns) == ["assessment_id", "p_green", "p_yellow", "p_red"]
    assert set(oracle["assessment_id"]) == set(
        validated.valid["psych_assessments"]["assessment_id"]
    )
    proba = oracle[["p_green", "p_yellow", "p_red"]].to_numpy()
    assert (proba >= 0).all() and np.allclose(proba.sum(axis=1), 1)
    tiers = validated.valid["psych_assessments"].merge(oracle, on="assessment_id")
    assert tiers.groupby("tier")["p_red"].mean()[["green", "yellow", "red"]].is_monotonic_increasing


def test_same_seed_same_bytes(city, tmp_path):
    out, _ = city
    again = tmp_path / "again"
    generated_city(again, "small", **ARGS)
    files = sorted(p.relative_to(out) for p in out.rglob("*.csv"))
    assert files == sorted(p.relative_to(again) for p in again.rglob("*.csv"))
    assert all((out / f).read_bytes() == (again / f).read_bytes() for f in files)
