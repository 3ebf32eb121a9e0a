"""Bulk upsert of typed exchange frames into the service database.

Each chunk of rows is first compared with what the database already holds under the same
keys, so that only new and changed rows are written and the counts say exactly what a load
did: loading the same export twice writes nothing, a later export writes only its news.
Writes are ``INSERT … ON CONFLICT (key) DO UPDATE``, so a loader racing another still ends
with the newest values instead of a key violation.  Each dialect gets its fastest bulk path:
a driver-level executemany on SQLite, ``COPY`` into a staging table on PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from operator import itemgetter

import pandas as pd
from sqlalchemy import Column, Connection, MetaData, Select, Table, any_, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from triage.contract import TABLE_ORDER, TABLES, TYPED_DTYPES
from triage.db.engine import engine_for
from triage.db.models import EXCHANGE_MODELS

log = logging.getLogger(__name__)

#: Rows per round trip: large enough to amortise statements, small enough for SQLite's
#: bound-parameter limit in the key look-up.
DEFAULT_CHUNK_ROWS = 5000


def load_frames(
    url: str, frames: Mapping[str, pd.DataFrame], *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> dict[str, dict[str, int]]:
    """Upsert typed frames (dtypes of :data:`triage.contract.TYPED_DTYPES`) by primary key.

    Tables are written in :data:`~triage.contract.TABLE_ORDER` in one transaction (a failed
    load leaves the database as it was).  Returns ``{table: {"inserted", "updated",
    "unchanged"}}`` for every table given.  Timestamps are stored to the microsecond.
    """
    unknown = set(frames) - set(TABLE_ORDER)
    if unknown:
        raise ValueError(f"not exchange tables: {sorted(unknown)}")
    engine = engine_for(url)
    writer_class = _WRITERS.get(engine.dialect.name)
    if writer_class is None:
        raise NotImplementedError(f"no bulk upsert for the {engine.dialect.name} dialect")
    counts: dict[str, dict[str, int]] = {}
    with engine.begin() as connection:
        for name in (name for name in TABLE_ORDER if name in frames):
            table = EXCHANGE_MODELS[name].__table__
            rows = _rows_of(name, frames[name])
            counts[name] = _upsert_table(writer_class(connection, table), rows, chunk_rows)
            log.info("loaded %s: %s", name, counts[name])
    return counts


def _rows_of(name: str, frame: pd.DataFrame) -> list[tuple]:
    """The frame's rows as tuples of plain Python values in contract column order."""
    spec = TABLES[name]
    missing = [c for c in spec.column_names if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: frame lacks columns {missing}")
    if frame[spec.key].duplicated().any():
        raise ValueError(f"{name}: duplicate {spec.key} values; validate the dataset first")
    columns = []
    for column in spec.columns:
        series = frame[column.name]
        if column.type == "timestamp":
            columns.append(_utc_datetimes(series, f"{name}.{column.name}"))
        else:
            columns.append(
                series.astype(TYPED_DTYPES[column.type]).to_numpy(dtype=object, na_value=None)
            )
    return list(zip(*columns))


def _utc_datetimes(series: pd.Series, where: str) -> list[datetime | None]:
    """Aware UTC ``datetime`` objects (microseconds, as the databases keep them), None for NaT.

    Going through numpy's ``datetime64[us]`` is ~20x faster than iterating pandas Timestamps.
    """
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        raise TypeError(f"{where} must be timezone-aware, got {series.dtype}")
    naive_utc = series.dt.tz_convert(None).to_numpy(dtype="datetime64[us]").astype(object)
    return [None if value is None else value.replace(tzinfo=timezone.utc) for value in naive_utc]


def _chunks(rows: list[tuple], size: int) -> Iterator[list[tuple]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _upsert_table(writer: _Writer, rows: list[tuple], chunk_rows: int) -> dict[str, int]:
    key_at = writer.key_position
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    rows = sorted(rows, key=itemgetter(key_at))  # appending to the key's b-tree is cheapest
    for chunk in _chunks(rows, chunk_rows):
        stored = {row[key_at]: row for row in writer.stored_rows([row[key_at] for row in chunk])}
        to_write = []
        for row in chunk:
            before = stored.get(row[key_at])
            if before is None:
                counts["inserted"] += 1
            elif before != row:
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
                continue
            to_write.append(row)
        if to_write:
            writer.upsert(to_write)
    return counts


class _Writer:
    """Reads the stored version of a chunk of rows and upserts rows, for one table."""

    def __init__(self, connection: Connection, table: Table) -> None:
        self.connection = connection
        self.table = table
        self.names = [c.name for c in table.columns]
        self.key = table.c[TABLES[table.name].key]
        self.key_position = self.names.index(self.key.name)
        # The columns' own bind processors, so values are stored exactly as the ORM stores them.
        self.processors = [c.type.bind_processor(connection.dialect) for c in table.columns]

    def stored_rows(self, keys: list[str]) -> list[tuple]:
        return [tuple(row) for row in self.connection.execute(self._stored_rows_query(keys))]

    def _stored_rows_query(self, keys: list[str]) -> Select:
        return select(*self.table.columns).where(self.key.in_(keys))

    def _processed_columns(self, rows: list[tuple]) -> list[list]:
        """Bind-processed values, column by column (one call per value, no per-row overhead)."""
        return [
            list(values) if process is None else [process(v) for v in values]
            for process, values in zip(self.processors, zip(*rows))
        ]

    def _set_from(self, insert) -> dict[str, Column]:
        return {n: insert.excluded[n] for n in self.names if n != self.key.name}

    def upsert(self, rows: list[tuple]) -> None:
        raise NotImplementedError


class _SqliteWriter(_Writer):
    """A driver-level executemany of one compiled upsert.

    Core's executemany processes parameters row by row; handing sqlite3 ready tuples
    halves the time of a load (~70k rows/s instead of ~35k).
    """

    def __init__(self, connection: Connection, table: Table) -> None:
        super().__init__(connection, table)
        insert = sqlite.insert(table)
        compiled = insert.on_conflict_do_update(
            index_elements=[self.key.name], set_=self._set_from(insert)
        ).compile(dialect=connection.dialect)
        self.sql = compiled.string
        self.parameter_order = [self.names.index(name) for name in compiled.positiontup]

    def upsert(self, rows: list[tuple]) -> None:
        columns = self._processed_columns(rows)
        self.connection.exec_driver_sql(
            self.sql, list(zip(*(columns[i] for i in self.parameter_order)))
        )


class _PostgresWriter(_Writer):
    """``COPY`` into a temporary staging table, then one ``INSERT … SELECT … ON CONFLICT``.

    psycopg's executemany is a round trip per row even when pipelined; COPY streams a chunk
    in one go.  The staging table is dropped when the load's transaction ends.
    """

    def __init__(self, connection: Connection, table: Table) -> None:
        super().__init__(connection, table)
        self.staging = Table(
            f"staging_{table.name}",
            MetaData(),
            *(Column(c.name, c.type) for c in table.columns),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DROP",
        )
        self.staging.create(connection)
        insert = postgresql.insert(table).from_select(self.names, select(self.staging))
        self.upsert_from_staging = insert.on_conflict_do_update(
            index_elements=[self.key.name], set_=self._set_from(insert)
        )
        self.copy_sql = (
            f'COPY "{self.staging.name}" ('
            + ", ".join(f'"{n}"' for n in self.names)
            + ") FROM STDIN"
        )

    def _stored_rows_query(self, keys: list[str]) -> Select:
        # One array parameter instead of thousands of placeholders to parse and plan.
        keys_array = bindparam("keys", keys, type_=postgresql.ARRAY(self.key.type))
        return select(*self.table.columns).where(self.key == any_(keys_array))

    def upsert(self, rows: list[tuple]) -> None:
        cursor = self.connection.connection.driver_connection.cursor()
        with cursor.copy(self.copy_sql) as copy:
            for row in zip(*self._processed_columns(rows)):
                copy.write_row(row)
        self.connection.execute(self.upsert_from_staging)
        self.connection.execute(self.staging.delete())


_WRITERS: dict[str, Callable[[Connection, Table], _Writer]] = {
    "sqlite": _SqliteWriter,
    "postgresql": _PostgresWriter,
}
