"""The Spark engine gives the pandas engine's frames and scores: same columns, rows and values.

A small generated city goes through the real path (generate → validate → features / model →
scores) on both engines; the hand-built quarrel city adds the edge cases (traditional script,
no counterparty, a case's own rows excluded, a person's own assessment excluded).  Spark runs on
a standalone cluster of this machine (``tests/support/spark_cluster.py``), so every value is
computed by executors in their own processes, and the batch scores are written by them as Parquet.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.support.cities import generated_city
from tests.support.domain import SHIPPED_DOMAIN
from tests.support.feud_city import feud_city
from triage import batch_scoring
from triage.batch_scoring import score_cases
from triage.cli import app
from triage.data_contracts import validate_dataset
from triage.features import build_case_features, build_person_features, categorical_features
from triage.features import chunks
from triage.features.points import assessment_points, case_points
from triage.features.spark import case_features, person_features, read_feature_parquet
from triage.routing import current_routing
from triage.settings import Settings
from triage.training.fit import fit_escalation

pytestmark = pytest.mark.spark


def assert_same_frame(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Same columns in the same order, same dtypes, same rows; floats equal to 1e-9, NaN where NaN."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for name in expected.columns:
        want, have = expected[name], got[name]
        assert have.dtype == want.dtype, name
        if want.dtype == np.float64:
            np.testing.assert_array_equal(
                np.isnan(have), np.isnan(want), err_msg=f"NaN pattern of {name}"
            )
            np.testing.assert_allclose(have, want, rtol=0, atol=1e-9, err_msg=name)
        else:
            assert (
                have.astype(object).where(have.notna(), None).tolist()
                == want.astype(object).where(want.notna(), None).tolist()
            ), name


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("spark-city") / "city"
    generated_city(out, "small", seed=11, start=date(2021, 1, 1), end=date(2024, 12, 31))
    return out


@pytest.fixture(scope="module")
def tables(city) -> dict[str, pd.DataFrame]:
    return validate_dataset(city).valid


@pytest.fixture(scope="module")
def escalation_model(tables):
    domain = SHIPPED_DOMAIN
    return fit_escalation(tables, horizon_days=180, domain=domain, oracle=None).model


def test_case_frames_are_equal_with_the_text_model(spark, tables, escalation_model):
    points = case_points(tables).sample(frac=1.0, random_state=0)  # any input order is kept
    expected = build_case_features(points, tables, text_model=escalation_model.text_model_)
    got = case_features(points, tables, text_model=escalation_model.text_model_, spark=spark)
    assert_same_frame(expected, got)
    text_scores = got["hh_text_score_max_90d"]
    assert text_scores.notna().any() and text_scores.nunique() > 1  # the text model really ran
    assert got["hh_calls_all_365d"].sum() > 0 and got["cp_prior_cases_ever"].isna().any()
    assert set(categorical_features("case")) <= {
        c for c in got.columns if got[c].dtype == "category"
    }


def test_person_frames_are_equal(spark, tables):
    points = assessment_points(tables)[["person_id", "as_of", "exclude_assessment_id"]]
    assert_same_frame(
        build_person_features(points, tables), person_features(points, tables, spark=spark)
    )


def test_scores_are_equal(spark, tables, escalation_model, monkeypatch):
    routing = current_routing(Settings().routing_file, set(SHIPPED_DOMAIN.teams))
    points = case_points(tables)
    on_pandas = score_cases(points, tables, escalation_model, routing, engine="pandas")
    monkeypatch.setattr(chunks, "QUERIES_PER_CHUNK", 700)  # chunks change nothing either
    on_spark = score_cases(points, tables, escalation_model, routing, engine="spark")
    np.testing.assert_allclose(
        on_spark["escalation_probability"], on_pandas["escalation_probability"], rtol=0, atol=1e-9
    )
    assert len(points) > 2 * chunks.QUERIES_PER_CHUNK
    pd.testing.assert_frame_equal(
        on_spark.drop(columns="escalation_probability"),
        on_pandas.drop(columns="escalation_probability"),
    )
    assert on_pandas["escalation_probability"].nunique() > 10  # a real model, not a constant


def test_hand_built_edge_cases_are_equal(spark, quarrel_city):
    tables = quarrel_city.tables()
    moments = ["2023-06-01T09:00", "2024-03-01T10:00", "2024-03-06T00:00", "2025-01-01T00:00"]
    points = pd.concat([quarrel_city.cases_as_of(as_of=m) for m in moments], ignore_index=True)
    assert_same_frame(
        build_case_features(points, tables), case_features(points, tables, spark=spark)
    )
    persons = pd.DataFrame(
        {
            "person_id": ["P1", "P2", "P3", "P-unknown"],
            "as_of": pd.Timestamp("2024-03-01T10:00", tz="Asia/Shanghai"),
            "exclude_assessment_id": [None, None, None, None],
        }
    )
    assert_same_frame(
        build_person_features(persons, tables), person_features(persons, tables, spark=spark)
    )


def test_pair_trend_and_climb_features_are_equal(spark):
    """The ops of a feud (the same two households, the calls' trend, the fastest climb): each
    case as of its opening, then all as of moments around the windows' edges."""
    city = feud_city()
    tables = city.tables()
    moments = [None, "2024-03-01T10:00", "2024-03-06T10:00", "2024-05-30T10:00"]
    points = pd.concat([city.cases_as_of(as_of=m) for m in moments], ignore_index=True)
    expected = build_case_features(points, tables)
    assert_same_frame(expected, case_features(points, tables, spark=spark))
    assert expected["pair_prior_cases_ever"].max() == 2
    assert expected["hh_fastest_climb_days_ever"].notna().any()


def test_features_command_writes_the_same_frame_on_both_engines(spark, city, tmp_path):
    """A file from either engine, and a Parquet folder written by the executors."""
    runner = CliRunner()
    for engine, out in (
        ("pandas", "pandas.parquet"),
        ("spark", "spark.parquet"),
        ("spark", "spark-folder"),
    ):
        result = runner.invoke(
            app, ["features", str(city), "--out", str(tmp_path / out), "--engine", engine]
        )
        assert result.exit_code == 0, result.output
    expected = pd.read_parquet(tmp_path / "pandas.parquet")
    assert_same_frame(expected, pd.read_parquet(tmp_path / "spark.parquet"))
    assert_same_frame(
        expected.sort_values(["case_id", "as_of"], kind="stable").reset_index(drop=True),
        read_feature_parquet(tmp_path / "spark-folder"),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pandas.parquet",
        "spark-folder",
        "spark.parquet",
    ]  # the staged inputs are removed


def _refuse_to_collect(frame):
    raise AssertionError("a frame was collected to the driver")


def test_executors_write_the_pandas_engines_features_and_scores(
    spark, spark_cluster, city, tables, escalation_model, tmp_path, monkeypatch
):
    """``triage score --engine spark --out FOLDER``: nothing collected, the same values."""
    assert spark.sparkContext.master == spark_cluster.master_url
    assert spark_cluster.alive_workers() == 2
    monkeypatch.setattr(batch_scoring, "load_native", lambda uri: escalation_model)
    out = tmp_path / "scored"
    with monkeypatch.context() as driver:
        driver.setattr(type(spark.range(0)), "toPandas", _refuse_to_collect)
        summary = batch_scoring.score_dataset(
            city, out, settings=Settings(home=tmp_path / "home"), engine="spark"
        )

    points = case_points(tables)
    expected = build_case_features(points, tables, text_model=escalation_model.text_model_)
    probability = escalation_model.predict_proba(expected[escalation_model.feature_names_])[:, 1]
    expected = expected.assign(escalation_probability=probability)
    expected = expected.sort_values(["case_id", "as_of"], kind="stable").reset_index(drop=True)
    features = read_feature_parquet(out / "features")
    assert_same_frame(expected.drop(columns="escalation_probability"), features)
    scores = pd.read_parquet(out / "scores").sort_values("case_id", kind="stable")
    assert list(scores.columns) == ["case_id", "as_of", "escalation_probability", "band"]
    assert scores["case_id"].tolist() == expected["case_id"].tolist()
    np.testing.assert_allclose(
        scores["escalation_probability"], expected["escalation_probability"], rtol=0, atol=1e-9
    )
    assert (scores["as_of"].to_numpy() == expected["as_of"].to_numpy()).all()
    bands = escalation_model.bands(expected["escalation_probability"].to_numpy())
    assert scores["band"].tolist() == bands.tolist() and len(set(bands)) > 2
    assert summary["cases"] == len(points) and sum(summary["bands"].values()) == len(points)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "scored"]  # staging removed
