"""Pandas in, pandas out: the Spark engine behind the same calls training and batch scoring make.

Typed frames (the validator's valid rows) are staged as Parquet and read by Spark; the results
come back in the pandas engine's layout, or, for a city the driver should not hold, are written
by the executors as Parquet folders (``write_*``, docs/spark.md).  ``staging_dir`` must be
visible to every node when the master is a real cluster (a temporary folder is fine in local
mode).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from triage.features.build import CASE_COLUMNS_OPTIONAL, CASE_COLUMNS_REQUIRED, as_utc
from triage.memory import release_memory
from triage.features.spark.engine import (
    ROW,
    build_case_features_spark,
    build_person_features_spark,
    feature_layout,
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
    """Empty ``tables`` and hand their memory back to the system (:func:`~triage.memory.release_memory`)."""
    tables.clear()
    release_memory()


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


def case_scores(features: DataFrame, model) -> DataFrame:
    """``case_id``, ``as_of`` (and ``ROW`` when the frame has it), ``escalation_probability`` and
    ``band`` of each row of a Spark feature frame, computed on the executors (``mapInPandas``).

    The fitted model travels to the Python workers with the function; each Arrow batch is
    scored with :meth:`EscalationModel.predict_proba` and banded with :meth:`EscalationModel.bands`
    (fixed thresholds), exactly as the pandas path does.
    """
    names = list(model.feature_names_)
    passed = [field for field in features.schema.fields if field.name in (ROW, "case_id", "as_of")]
    schema = StructType(
        [
            *passed,
            StructField("escalation_probability", DoubleType()),
            StructField("band", StringType()),
        ]
    )

    def predict(batches):
        for batch in batches:
            probability = model.predict_proba(batch[names])[:, 1]
            yield batch[[field.name for field in passed]].assign(
                escalation_probability=probability, band=model.bands(probability)
            )

    return features.select(*[field.name for field in passed], *names).mapInPandas(predict, schema)


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
    scored = case_scores(features, model).select(ROW, "escalation_probability")
    scored = scored.orderBy(ROW).toPandas()
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


def write_case_features(
    folder: Path, out: Path, *, text_model=None, spark: SparkSession | None = None
) -> Path:
    """The features of inputs staged by :func:`stage_case_inputs`, written by the executors as
    the Parquet folder ``out`` (``case_id``, ``as_of``, the features; rows in no order).

    Nothing is collected: the driver's memory does not grow with the city.
    :func:`read_feature_parquet` reads it back in the pandas engine's layout.
    """
    spark = spark or spark_session()
    with _jobs_described(spark, "features"):
        queries, spark_tables = _read_staged(spark, folder)
        features = build_case_features_spark(queries, spark_tables, text_model=text_model)
        features.drop(ROW).write.mode("overwrite").parquet(str(out))
    return Path(out)


def write_case_scores(folder: Path, model, out: Path, *, spark: SparkSession | None = None) -> dict:
    """Features and scores of inputs staged by :func:`stage_case_inputs`, written by the
    executors under ``out``: ``features/`` and ``scores/`` (``case_id``, ``as_of``,
    ``escalation_probability``, ``band``), Parquet folders.

    The scores are read from the written features, so each feature is computed once; routes
    need the pandas history of the whole city, so they are left to ``triage score`` with a file.
    """
    spark = spark or spark_session()
    out = Path(out)
    write_case_features(folder, out / "features", text_model=model.text_model_, spark=spark)
    with _jobs_described(spark, "scores"):
        features = spark.read.parquet(str(out / "features"))
        case_scores(features, model).write.mode("overwrite").parquet(str(out / "scores"))
    return {"features": out / "features", "scores": out / "scores"}


@contextmanager
def _jobs_described(spark: SparkSession, description: str) -> Iterator[None]:
    """Spark jobs started in the block carry ``description`` (the UI and the event log show it:
    ``bench/bench_spark_cluster.py`` sums task times by it)."""
    spark.sparkContext.setJobDescription(description)
    try:
        yield
    finally:
        spark.sparkContext.setJobDescription(None)


def write_training_features(
    tables: dict[str, pd.DataFrame], out: Path, *, spark: SparkSession | None = None
) -> Path:
    """:func:`spark_training_frame` written by the executors as the Parquet folder ``out``
    instead of collected; the inputs are staged beside ``out`` (:func:`staged_beside`).
    Empties ``tables`` once staged."""
    from triage.features.points import case_points

    with staged_beside(out, case_points(tables), tables) as staging:
        return write_case_features(staging, out, spark=spark)


@contextmanager
def staged_beside(
    out: Path, points: pd.DataFrame, tables: dict[str, pd.DataFrame]
) -> Iterator[Path]:
    """The inputs staged in a hidden folder beside ``out``, removed at the end; ``tables`` emptied.

    The executors write to ``out``, so they reach its neighbour too: no other shared storage is
    needed.  Not inside ``out``, which Spark empties before it writes there.
    """
    out = Path(out)
    staging = out.parent / f".{out.name}-inputs"
    try:
        stage_case_inputs(points, tables, staging)
        release_frames(tables)
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_feature_parquet(path: Path, entity: str = "case") -> pd.DataFrame:
    """A feature frame written by the executors, in the pandas engine's layout (ordered by id)."""
    frame = pd.read_parquet(path)
    id_column = "case_id" if entity == "case" else "person_id"
    return feature_layout(frame.sort_values([id_column, "as_of"], kind="stable"), entity)
