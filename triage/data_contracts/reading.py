"""Reading a dataset folder into *raw* frames: every value a string, exactly as written.

Validation must see the text a writer produced (``TRUE``, ``2024-03-05 14:20``, `` H-1``) to
judge it, and the quarantine file must show a bad row as given; so nothing is parsed here.
Parquet columns that already carry types are written back to the contract's text form.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from triage.contract import TABLE_ORDER

FORMATS = ("csv", "parquet")


class DatasetUnreadable(Exception):
    """A table is missing, duplicated, undecodable or lacks a required column (CLI exit 2)."""


def read_dataset(folder: Path) -> dict[str, pd.DataFrame]:
    """One raw string frame per table of the contract, from ``<table>.csv`` or ``.parquet``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetUnreadable(f"{folder} is not a folder")
    return {table: read_table(folder, table) for table in TABLE_ORDER}


def read_table(folder: Path, table: str) -> pd.DataFrame:
    """The raw frame of one table; which file format is decided by the file present."""
    present = [folder / f"{table}.{fmt}" for fmt in FORMATS if (folder / f"{table}.{fmt}").is_file()]
    if not present:
        raise DatasetUnreadable(f"table {table}: neither {table}.csv nor {table}.parquet in {folder}")
    if len(present) > 1:
        raise DatasetUnreadable(f"table {table}: both {table}.csv and {table}.parquet exist; keep one")
    path = present[0]
    try:
        frame = _read_csv(path) if path.suffix == ".csv" else as_text_frame(pd.read_parquet(path))
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError,
            ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetUnreadable(f"table {table}: cannot read {path.name}: {reason}") from exc
    return frame.reset_index(drop=True)


def _read_csv(path: Path) -> pd.DataFrame:
    """UTF-8 (BOM tolerated), RFC 4180, CRLF or LF; an empty field is a null, nothing else is."""
    return pd.read_csv(path, dtype="str", encoding="utf-8-sig", keep_default_na=False,
                       na_values=[""], quoting=csv.QUOTE_MINIMAL, skip_blank_lines=True)


def as_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as strings in the contract's text form; empty strings become nulls.

    Used for Parquet files and for rows handed over by the HTTP ingest (JSON values).
    """
    return pd.DataFrame({name: _as_text(frame[name]) for name in frame.columns},
                        index=frame.index)


def _as_text(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        text = values.map(lambda v: v.isoformat(), na_action="ignore")
    elif pd.api.types.is_bool_dtype(values.dtype):
        text = values.map(lambda v: "true" if v else "false", na_action="ignore")
    elif pd.api.types.is_numeric_dtype(values.dtype) or values.dtype == object:
        text = values.map(_scalar_text, na_action="ignore")
    else:
        text = values
    text = text.astype("str")
    return text.where(text != "")


def _scalar_text(value) -> str:
    """A number or JSON scalar as a writer would have put it in a CSV cell."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)
