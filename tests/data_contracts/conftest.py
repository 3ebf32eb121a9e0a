"""A tiny hand-written city in the exchange format, and a writer for its files in any style.

The rows are typed out by hand (not produced by ``triage generate``) so the validator is
tested against docs/data-format.md rather than against one generator's habits.
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pandas as pd
import pytest

from tests.support.exchange_rows import TINY_CITY, Rows, rows_as_csv
from triage.contract import TABLES


def _as_frames(rows: Rows) -> dict[str, pd.DataFrame]:
    frames = {}
    for table, table_rows in rows.items():
        frame = pd.DataFrame(
            table_rows, columns=list(dict.fromkeys(k for r in table_rows for k in r)), dtype="str"
        )
        frames[table] = frame.where(frame != "")
    return frames


@pytest.fixture(scope="session")
def as_frames():
    """Turn rows into raw string frames as a reader produces them (empty field = null)."""
    return _as_frames


@pytest.fixture(scope="session")
def tiny_city() -> Rows:
    """The tiny city itself; read-only (copy it before changing anything)."""
    return TINY_CITY


@pytest.fixture
def city() -> Rows:
    """A fresh copy of the tiny city, free to be changed by the test."""
    return copy.deepcopy(TINY_CITY)


@pytest.fixture(scope="session")
def write_dataset(tmp_path_factory):
    """Write a city as a dataset folder; keyword options choose the writer's style."""

    def write(
        rows: Rows,
        name: str = "dataset",
        *,
        fmt: str = "csv",
        bom: bool = False,
        line_end: str = "\n",
        shuffle_columns: bool = False,
    ) -> Path:
        folder = tmp_path_factory.mktemp(name)
        shuffler = random.Random(42)
        for table, table_rows in rows.items():
            columns = list(
                dict.fromkeys(
                    [*TABLES[table].column_names, *(k for row in table_rows for k in row)]
                )
            )
            columns = [c for c in columns if any(c in row for row in table_rows)] or columns
            if shuffle_columns:
                shuffler.shuffle(columns)
            if fmt == "csv":
                (folder / f"{table}.csv").write_bytes(
                    rows_as_csv(table_rows, columns, bom=bom, line_end=line_end)
                )
            else:
                frame = pd.DataFrame(table_rows, columns=columns, dtype="str")
                frame.to_parquet(folder / f"{table}.parquet", index=False)
        return folder

    return write
