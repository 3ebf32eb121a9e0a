"""Write tables in the exchange format: UTF-8 CSV (RFC 4180, empty = null) or Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from triage.contract import TABLES

ARROW_TYPES = {"int": pa.int64(), "decimal": pa.float64(), "bool": pa.bool_()}


def to_arrow(columns: dict[str, np.ndarray]) -> pa.Table:
    """Text cells (``None`` for an empty field) as an Arrow table of strings."""
    return pa.table(
        {
            name: pa.array(np.asarray(values).astype(object), type=pa.string())
            for name, values in columns.items()
        }
    )


def write_table(table: str, text: pa.Table, folder: Path, fmt: str) -> Path:
    if fmt == "csv":
        path = folder / f"{table}.csv"
        pacsv.write_csv(text, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    elif fmt == "parquet":
        path = folder / f"{table}.parquet"
        pq.write_table(_typed(table, text), path)
    else:
        raise ValueError(f"unknown format {fmt!r}: csv or parquet")
    return path


def _typed(table: str, text: pa.Table) -> pa.Table:
    """Parquet carries native types where every cell parses; a column with a deliberately
    broken cell stays text, so the broken value reaches the validator as written."""
    spec = TABLES[table]
    columns = {}
    for name in text.column_names:
        column = text[name]
        kind = spec.column(name).type
        try:
            if kind == "bool":
                if pc.all(
                    pc.is_in(column.drop_null(), value_set=pa.array(["true", "false"]))
                ).as_py():
                    column = pc.equal(column, "true")
            elif kind in ARROW_TYPES:
                column = column.cast(ARROW_TYPES[kind])
            elif kind == "timestamp":
                parsed = pd.to_datetime(column.to_pandas(), format="ISO8601", utc=True)
                column = pa.array(
                    parsed.dt.tz_convert("Asia/Shanghai"), type=pa.timestamp("s", "Asia/Shanghai")
                )
        except (pa.ArrowInvalid, ValueError):
            pass
        columns[name] = column
    return pa.table(columns)


def write_csv_frame(frame: pd.DataFrame, path: Path) -> None:
    """Side files (_oracle/, _expected/) are small: plain pandas CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.6f")
