"""Reading a dataset folder into *raw* frames: every value a string, exactly as written.

Validation must see the text a writer produced (``TRUE``, ``2024-03-05 14:20``, `` H-1``) to
judge it, and the quarantine file must show a bad row as given; so nothing is parsed here.
Parquet columns that already carry types are written back to the contract's text form.

What cannot be read as the contract's text is refused for the whole table, with the reason
(:class:`DatasetUnreadable`, exit 2): a file that is not UTF-8 (GBK, UTF-16), a repeated column
name (which copy would count?), a NUL character (PostgreSQL cannot store it; it marks a binary
or UTF-16 file), a nested value (a list or a mapping is not a cell), a row with more fields
than the header.  Everything else reaches validation, which quarantines rows, never drops them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from triage.contract import TABLE_ORDER, TABLES

FORMATS = ("csv", "parquet")


class DatasetUnreadable(Exception):
    """A table is missing, duplicated, undecodable or lacks a required column (CLI exit 2)."""


class Dataset(Mapping[str, pd.DataFrame]):
    """The raw string frame of each table of the contract, read from its file when asked for.

    A table is read each time it is asked for and kept by no one here, so a caller that goes
    table by table (validation) holds one raw table at a time, not the whole dataset.  A missing
    or doubled file is refused at once, before any table is read.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DatasetUnreadable(f"{self.folder} is not a folder")
        for table in TABLE_ORDER:
            _table_file(self.folder, table)

    def __getitem__(self, table: str) -> pd.DataFrame:
        if table not in TABLE_ORDER:
            raise KeyError(table)
        return read_table(self.folder, table)

    def __contains__(self, table: object) -> bool:
        return table in TABLE_ORDER

    def __iter__(self) -> Iterator[str]:
        return iter(TABLE_ORDER)

    def __len__(self) -> int:
        return len(TABLE_ORDER)


def read_dataset(folder: Path) -> Dataset:
    """One raw string frame per table of the contract, from ``<table>.csv`` or ``.parquet``,
    each read when it is asked for (:class:`Dataset`)."""
    return Dataset(folder)


def _table_file(folder: Path, table: str) -> Path:
    """The one file of ``table`` in ``folder``: ``<table>.csv`` or ``<table>.parquet``."""
    present = [
        folder / f"{table}.{fmt}" for fmt in FORMATS if (folder / f"{table}.{fmt}").is_file()
    ]
    if not present:
        raise DatasetUnreadable(
            f"table {table}: neither {table}.csv nor {table}.parquet in {folder}"
        )
    if len(present) > 1:
        raise DatasetUnreadable(
            f"table {table}: both {table}.csv and {table}.parquet exist; keep one"
        )
    return present[0]


def read_table(folder: Path, table: str) -> pd.DataFrame:
    """The raw frame of one table; which file format is decided by the file present."""
    path = _table_file(folder, table)
    try:
        frame = (
            _read_csv(path) if path.suffix == ".csv" else as_text_frame(_read_parquet(path), table)
        )
    except UnicodeDecodeError as exc:
        raise DatasetUnreadable(
            f"table {table}: cannot read {path.name}: not UTF-8 (byte "
            f"0x{exc.object[exc.start]:02x} cannot be decoded); a GBK, GB18030 or "
            "UTF-16 export must be saved as UTF-8"
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetUnreadable(f"table {table}: cannot read {path.name}: {reason}") from exc
    return frame.reset_index(drop=True)


_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


def _read_csv(path: Path) -> pd.DataFrame:
    """UTF-8 (BOM tolerated), RFC 4180, CRLF or LF; an empty field is a null, nothing else is."""
    with path.open("rb") as file:
        head = file.read(4)
    wide = next((name for bom, name in _WIDE_BOMS.items() if head.startswith(bom)), None)
    if wide:
        raise ValueError(
            f"the file is {wide} (it starts with a {wide} byte-order mark); the contract asks UTF-8"
        )
    options = dict(
        dtype="str",
        encoding="utf-8-sig",
        keep_default_na=False,
        na_values=[""],
        quoting=csv.QUOTE_MINIMAL,
        skip_blank_lines=True,
    )
    # pandas renames a repeated header ("street", "street.1"): read the header as written
    header = pd.read_csv(path, header=None, nrows=1, **options)
    _refuse_repeated_names([str(name) for name in header.iloc[0].dropna()] if len(header) else [])
    return pd.read_csv(path, **options)


def _read_parquet(path: Path) -> pd.DataFrame:
    _refuse_repeated_names(pq.read_schema(path).names)
    return pd.read_parquet(path)


def _refuse_repeated_names(names: list[str]) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"column name(s) written more than once: {', '.join(repeated)}")


def as_text_frame(frame: pd.DataFrame, table: str | None = None, skipped: int = 0) -> pd.DataFrame:
    """Every column as strings in the contract's text form; empty strings become nulls.

    Used for every frame before validation: Parquet files, rows handed over by the HTTP
    ingest (JSON values) and CSV text.  Raises :class:`DatasetUnreadable` for a repeated
    column name, a nested value or a NUL character, naming the column and the 1-based row
    (of the whole table, when ``frame`` is a part of it after ``skipped`` rows).
    """
    where = f"table {table}: " if table else ""
    try:
        _refuse_repeated_names([str(name) for name in frame.columns])
    except ValueError as exc:
        raise DatasetUnreadable(f"{where}{exc}") from exc
    text = {}
    for name in frame.columns:
        checked = (
            table not in TABLES or name in TABLES[table].column_names
        )  # extra columns are ignored
        nested = (
            _first(frame[name].map(lambda v: isinstance(v, _NESTED)))
            if checked and frame[name].dtype == object
            else None
        )
        if nested is not None:
            raise DatasetUnreadable(
                f"{where}column {name}, row {skipped + nested}: a nested value (list or "
                "mapping); every cell must be a single value"
            )
        text[name] = _as_text(frame[name])
        nul = _first(text[name].str.contains("\x00", regex=False)) if checked else None
        if nul is not None:
            raise DatasetUnreadable(
                f"{where}column {name}, row {skipped + nul}: a NUL character, which no "
                "text may hold (a binary, corrupt or UTF-16 file?)"
            )
    return pd.DataFrame(text, index=frame.index)


_NESTED = (list, tuple, dict, set, np.ndarray)


def _first(flags: pd.Series) -> int | None:
    """The 1-based position of the first true flag, or None."""
    hits = np.flatnonzero(flags.fillna(False).to_numpy(dtype=bool))
    return int(hits[0]) + 1 if hits.size else None


def _as_text(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
        values.dtype
    ):
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
    if isinstance(value, bytes):  # Parquet BYTE_ARRAY without a string annotation
        return value.decode("utf-8")
    return str(value)
