"""Pandas in, pandas out: the Spark engine behind the same calls training and batch scoring make.

Typed frames (the validator's valid rows) are staged as Parquet and read by Spark; the results
come back in the pandas engine's layout.  ``staging_dir`` must be visible to every node when the
master is a real cluster (a temporary folder is fine in local mode).
"""

from __future__ import annotations

import gc
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DoubleType, LongType, StructField, StructType

from triage.features.build import CASE_COLUMNS_OPTIONAL, CASE_COLUMNS_REQUIRED, as_utc
from triage.features.spark.engine import (
    ROW,
    build_case_features_spark,
    build_person_features_spark,
    to_feature_frame,
)
from triage.features.spark.session import spark_session
from triage.features.spark.tables import read_typed_tables, stage_frame, stage_typed_tables


def stage_case_inputs(points: pd.DataFrame, tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    """The typed tables and the case queries as Parquet in ``folder``, Spark's only input.

    Once staged, the caller may drop its pandas frames before Spark runs: at a million
    households they hold ~4 GB that the Spark JVM would otherwise sit beside.
    """
    folder = Path(folder)
    stage_typed_tables(tables, folder / "tables")
    stage_frame(_case_queries(points), folder / "queries.parquet")
    return folder


def release_frames(tables: dict[str, pd.DataFrame]) -> None:
    """Empty ``tables`` and hand their memory back to the system (see :func:`release_memory`)."""
    tables.clear()
    release_memory()


def release_memory() -> None:
    """Hand freed Arrow buffers back to the system: Arrow's pool keeps them (pandas strings live
    there), which would leave the pandas side's peak standing beside the Spark JVM."""
    gc.collect()
    pyarrow.default_memory_pool().release_unused()


def _read_staged(spark: SparkSession, folder: Path) -> tuple[DataFrame, dict[str, DataFrame]]:
    return spark.read.parquet(str(Path(folder) / "queries.parquet")), read_typed_tables(
        spark, Path(folder) / "tables"
    )


@contextmanager
def _staged(points: pd.DataFrame, tables: dict[str, pd.DataFrame], staging_dir: Path | None):
    with tempfile.TemporaryDirectory(prefix="triage-spark-", dir=staging_dir) as folder:
        yield stage_case_inputs(points, tables, Path(folder))


def _case_queries(points: pd.DataFrame) -> pd.DataFrame:
    """The case columns features read, ``as_of``/``opened_at`` in UTC, and the input order."""
    missing = [c for c in CASE_COLUMNS_REQUIRED if c not in points.columns]
    if missing:
        raise ValueError(f"cases lack columns {missing}")
    queries = points.reset_index(drop=True)[
        [c for c in (*CASE_COLUMNS_REQUIRED, *CASE_COLUMNS_OPTIONAL) if c in points.columns]
    ].copy()
    queries["as_of"] = as_utc(queries["as_of"])
    if queries["as_of"].isna().any():
        raise ValueError("every row needs an as_of time")
    queries["opened_at"] = as_utc(queries["opened_at"])
    for column in (
        "case_id",
        "household_id",
        "counterparty_household_id",
        "dispute_type",
        "source",
        "description",
    ):  # typed even when a column is all empty
        if column in queries.columns:
            queries[column] = queries[column].astype("string")
    for column in ("amount_cny", "parties_count"):
        if column in queries.columns:
            queries[column] = queries[column].astype("Float64")
    queries[ROW] = np.arange(len(queries), dtype=np.int64)
    return queries


def case_features(
    points: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    *,
    text_model=None,
    spark: SparkSession | None = None,
    staging_dir: Path | None = None,
) -> pd.DataFrame:
    """Same call and result as :func:`triage.features.build_case_features`, computed by Spark."""
    with _staged(points, tables, staging_dir) as folder:
        return staged_case_features(folder, text_model=text_model, spark=spark)


def staged_case_features(
    folder: Path, *, text_model=None, spark: SparkSession | None = None
) -> pd.DataFrame:
    """:func:`case_features` of inputs staged by :func:`stage_case_inputs`."""
    queries, spark_tables = _read_staged(spark or spark_session(), folder)
    return to_feature_frame(
        build_case_features_spark(queries, spark_tables, text_model=text_model), "case"
    )


def person_features(
    points: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    *,
    spark: SparkSession | None = None,
    staging_dir: Path | None = None,
) -> pd.DataFrame:
    """Same call and result as :func:`triage.features.build_person_features`, computed by Spark."""
    if not {"person_id", "as_of"} <= set(points.columns):
        raise ValueError("points need person_id and as_of")
    columns = [c for c in ("person_id", "as_of", "exclude_assessment_id") if c in points.columns]
    queries = points.reset_index(drop=True)[columns].copy()
    queries["as_of"] = as_utc(queries["as_of"])
    if "exclude_assessment_id" in queries.columns:  # an all-empty column still has a type
        queries["exclude_assessment_id"] = queries["exclude_assessment_id"].astype("string")
    queries[ROW] = np.arange(len(queries), dtype=np.int64)
    spark = spark or spark_session()
    with tempfile.TemporaryDirectory(prefix="triage-spark-", dir=staging_dir) as folder:
        stage_typed_tables(tables, Path(folder) / "tables")
        stage_frame(queries, Path(folder) / "queries.parquet")
        spark_queries, spark_tables = _read_staged(spark, Path(folder))
        return to_feature_frame(build_person_features_spark(spark_queries, spark_tables), "person")


def probabilities(features: DataFrame, model) -> DataFrame:
    """``ROW`` and ``escalation_probability`` of each row of a Spark feature frame (``mapInPandas``).

    The fitted model travels to the Python workers with the function; each Arrow batch is
    scored with :meth:`EscalationModel.predict_proba`, exactly as the pandas path does.
    """
    names = list(model.feature_names_)
    schema = StructType(
        [StructField(ROW, LongType()), StructField("escalation_probability", DoubleType())]
    )

    def predict(batches):
        for batch in batches:
            yield pd.DataFrame(
                {
                    ROW: batch[ROW].to_numpy(dtype=np.int64),
                    "escalation_probability": model.predict_proba(batch[names])[:, 1],
                }
            )

    return features.select(ROW, *names).mapInPandas(predict, schema)


def case_probabilities(
    points: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    model,
    *,
    spark: SparkSession | None = None,
    staging_dir: Path | None = None,
) -> np.ndarray:
    """Calibrated escalation probability per ``points`` row (in order): features and model on Spark."""
    with _staged(points, tables, staging_dir) as folder:
        return staged_case_probabilities(folder, model, spark=spark)


def staged_case_probabilities(
    folder: Path, model, *, spark: SparkSession | None = None
) -> np.ndarray:
    """:func:`case_probabilities` of inputs staged by :func:`stage_case_inputs`."""
    queries, spark_tables = _read_staged(spark or spark_session(), folder)
    features = build_case_features_spark(queries, spark_tables, text_model=model.text_model_)
    scored = probabilities(features, model).orderBy(ROW).toPandas()
    return scored["escalation_probability"].to_numpy(dtype=np.float64)


def spark_training_frame(
    tables: dict[str, pd.DataFrame],
    *,
    spark: SparkSession | None = None,
    staging_dir: Path | None = None,
) -> pd.DataFrame:
    """Every case as of its opening, oldest first, with its features, computed on Spark.

    Empties ``tables`` once staged, so that the JVM does not sit beside a pandas copy of the
    history (the CLI's case: nothing else reads them).
    """
    from triage.features.points import case_points

    with tempfile.TemporaryDirectory(prefix="triage-spark-", dir=staging_dir) as folder:
        stage_case_inputs(case_points(tables), tables, Path(folder))
        release_frames(tables)
        return staged_case_features(Path(folder), spark=spark)
