"""The validator's typed tables, handed to Spark as Parquet with the contract's types.

Quarantine has one definition, the validator (``triage.data_contracts``): Spark reads only the
valid rows it kept, staged once as Parquet (typed columns, microsecond UTC timestamps) so that
Spark reads them in parallel; on a cluster the staging folder is on storage every node sees.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from triage.contract import TABLE_ORDER, empty_typed_frame


def stage_typed_tables(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    """Write each typed table (every table of the contract) to ``folder/<table>.parquet``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLE_ORDER:
        frame = tables.get(name)
        stage_frame(empty_typed_frame(name) if frame is None else frame, folder / f"{name}.parquet")
    return folder


def stage_frame(frame: pd.DataFrame, path: Path) -> Path:
    """One typed frame as Parquet; timestamps in microseconds (Spark's unit), refusing to truncate."""
    frame.reset_index(drop=True).to_parquet(
        path, index=False, coerce_timestamps="us", allow_truncated_timestamps=False
    )
    return path


def read_typed_tables(spark: SparkSession, folder: Path) -> dict[str, DataFrame]:
    """The staged typed tables as Spark DataFrames, by table name."""
    return {name: spark.read.parquet(str(Path(folder) / f"{name}.parquet")) for name in TABLE_ORDER}
