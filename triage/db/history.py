"""The history adapter: typed frames out of the service database, point in time.

The scoring service asks for the history of a few households as of a moment and gets the
same typed values the validator produces for a dataset folder, so one feature code path
serves both batch and online scoring: ``read_tables`` gives typed frames (the workbench's
timeline), ``read_history`` the same rows as the column arrays ``triage.features.History``
reads (a pandas frame costs more to build than a household's history costs to read).

``read_history`` leaves out the rows an analyst found wrong (``record_disputes``, docs/domain.md
"Records people can contest"), so no score counts them; ``read_tables`` keeps them, so that the
workbench can show them marked.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Dialect,
    Engine,
    any_,
    bindparam,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
)

from triage.contract import TABLE_ORDER, TABLES, TYPED_DTYPES, empty_typed_frame
from triage.db.engine import engine_for
from triage.db.models import EXCHANGE_MODELS
from triage.db.service_models import DISPUTABLE_TABLES, RecordDispute
from triage.features.columns import Columns


def read_tables(
    url_or_engine: str | Engine,
    *,
    household_ids: Collection[str] | None = None,
    person_ids: Collection[str] | None = None,
    as_of: pd.Timestamp | None = None,
    include_pii: bool = False,
) -> dict[str, pd.DataFrame]:
    """Typed frames of every exchange table, optionally restricted to some households and persons.

    With neither ``household_ids`` nor ``person_ids`` every row is read.  Otherwise the
    frames hold: the given households; their persons and the given persons; calls of those
    households or persons; cases with a given household as party or counterparty; those
    cases' mediation events; screenings and assessments of the selected persons; incidents
    of the given households, the selected persons or the selected cases.

    ``as_of`` (timezone-aware) keeps only rows whose own time column is ≤ ``as_of`` (persons
    have none).  Cases keep ``status``/``closed_at`` as exported: they are never features.
    PII columns are present but null unless ``include_pii``.  Rows are ordered by key.
    """
    rows = _read(
        url_or_engine, household_ids, person_ids, as_of, include_pii, keep_found_wrong=True
    )
    return {name: _typed_frame(name, table_rows) for name, table_rows in rows.items()}


def read_history(
    url_or_engine: str | Engine,
    *,
    household_ids: Collection[str],
    person_ids: Collection[str] = (),
    as_of: pd.Timestamp | None = None,
) -> dict[str, Columns]:
    """The rows ``read_tables`` selects, as column arrays (``triage.features.columns.Columns``).

    Timestamps are int64 UTC nanoseconds, ids, codes and text objects (None when missing),
    numbers and booleans float64 (NaN when missing).  PII columns are left out altogether, and so
    are rows found wrong (with a case found wrong go its mediation events).
    """
    rows = _read(url_or_engine, household_ids, person_ids, as_of, False, keep_found_wrong=False)
    return {name: _columns(name, table_rows) for name, table_rows in rows.items()}


def _read(
    url_or_engine: str | Engine,
    household_ids: Collection[str] | None,
    person_ids: Collection[str] | None,
    as_of: pd.Timestamp | None,
    include_pii: bool,
    *,
    keep_found_wrong: bool,
) -> dict[str, list[tuple]]:
    """Each table's rows (all contract columns, PII null unless ``include_pii``; rows found wrong
    only with ``keep_found_wrong``), in key order.

    Through the driver's own cursor, with statements compiled once per dialect: SQLAlchemy's
    per-execution work (building, caching and compiling nine statements, an IN list rendered
    per id, a Python call per value read) was most of the cost of a case's history.
    Timestamps come back as ISO text (``_utc_nanoseconds`` reads it).
    """
    engine = url_or_engine if isinstance(url_or_engine, Engine) else engine_for(url_or_engine)
    cutoff = _utc(as_of)
    scoped = household_ids is not None or person_ids is not None
    id_array = _id_array(engine.dialect)
    values = {
        "cutoff": cutoff,
        "households": id_array(sorted(set(household_ids or ()))),
        "wanted_persons": id_array(sorted(set(person_ids or ()))),
    }
    rows: dict[str, list[tuple]] = {}
    with contextlib.closing(engine.raw_connection()) as connection:
        cursor = connection.cursor()
        for name in TABLE_ORDER:  # persons and cases are read before the tables that hang off them
            query = _query(
                engine.dialect, name, scoped, cutoff is not None, include_pii, keep_found_wrong
            )
            cursor.execute(query.sql, query.parameters(values))
            rows[name] = cursor.fetchall()
            if name in ("persons", "cases"):
                key = _position(name, TABLES[name].key)
                values[name] = id_array([row[key] for row in rows[name]])
    return rows


def _utc(as_of: pd.Timestamp | None):
    if as_of is None:
        return None
    moment = pd.Timestamp(as_of)
    if moment.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return moment.tz_convert("UTC").to_pydatetime()


@dataclass(frozen=True)
class _Query:
    """One table's SELECT compiled for one dialect, and how its parameters are passed."""

    sql: str
    positional: bool
    names: tuple[str, ...]  # the bound parameters in order, when positional
    cutoff: Callable | None  # the time column's own bind processing (its stored form on SQLite)

    def parameters(self, values: dict) -> list | dict:
        """The driver's parameters from ``cutoff`` and the id lists (as ``_id_array`` binds them)."""
        if self.cutoff:
            values = {**values, "cutoff": self.cutoff(values["cutoff"])}
        return [values[name] for name in self.names] if self.positional else values


@functools.lru_cache(maxsize=64)
def _query(
    dialect: Dialect,
    name: str,
    scoped: bool,
    timed: bool,
    include_pii: bool,
    keep_found_wrong: bool,
) -> _Query:
    table = EXCHANGE_MODELS[name].__table__
    spec = TABLES[name]

    def column(c):
        if c.pii and not include_pii:
            return null().label(c.name)
        if c.type == "timestamp":
            return _utc_text(table.c[c.name], dialect).label(c.name)
        return table.c[c.name]

    conditions = []
    time_column = table.c[spec.time_column] if timed and spec.time_column else None
    if time_column is not None:
        conditions.append(time_column <= bindparam("cutoff", type_=time_column.type))
    if scoped:
        conditions.append(_in_scope(name, table.c, functools.partial(_one_of, dialect=dialect)))
    if not keep_found_wrong and name in DISPUTABLE_TABLES:
        conditions.append(~_found_wrong(name, table.c[spec.key]))
    statement = select(*map(column, spec.columns)).where(*conditions).order_by(table.c[spec.key])
    compiled = statement.compile(dialect=dialect)
    return _Query(
        sql=compiled.string,
        positional=compiled.positional,
        names=tuple(compiled.positiontup or ()),
        cutoff=time_column.type.bind_processor(dialect) if time_column is not None else None,
    )


def _found_wrong(name: str, key: ColumnElement) -> ColumnElement[bool]:
    """The row of ``name`` keyed ``key`` was found wrong.  The table name and status are written
    into the SQL (constants), so the statement binds no parameter of its own."""
    disputes = RecordDispute.__table__
    return exists().where(
        disputes.c.table_name == literal_column(f"'{name}'"),
        disputes.c.record_id == key,
        disputes.c.status == literal_column("'found_wrong'"),
    )


def _one_of(column: ColumnElement, id_list: str, dialect: Dialect) -> ColumnElement[bool]:
    """``column`` is one of the ids bound as ``id_list``, in SQL that does not depend on how many.

    So each statement compiles once.  PostgreSQL binds an array (``= ANY``), SQLite a JSON array
    read by ``json_each``; both look the ids up in the column's index.
    """
    if dialect.name == "postgresql":
        return column == any_(bindparam(id_list, type_=ARRAY(column.type)))
    return column.in_(select(func.json_each(bindparam(id_list)).table_valued("value").c.value))


def _id_array(dialect: Dialect) -> Callable[[list[str]], object]:
    """How ``_one_of`` binds an id list: as a list (a PostgreSQL array) or as JSON text (SQLite)."""
    return list if dialect.name == "postgresql" else json.dumps


def _in_scope(
    name: str, c, one_of: Callable[[ColumnElement, str], ColumnElement[bool]]
) -> ColumnElement[bool]:
    """The rows of ``name`` that belong to the households' history.

    ``persons`` and ``cases`` are the ids of the rows already read, passed on as lists rather
    than subqueries, so that every condition is an index look-up (an ``OR`` with a subquery
    makes PostgreSQL scan); ``wanted_persons`` are the persons asked for.
    """
    if name == "households":
        return one_of(c.household_id, "households")
    if name == "persons":
        return or_(one_of(c.household_id, "households"), one_of(c.person_id, "wanted_persons"))
    if name == "hotline_calls":
        return or_(one_of(c.household_id, "households"), one_of(c.person_id, "persons"))
    if name == "cases":
        return or_(
            one_of(c.household_id, "households"), one_of(c.counterparty_household_id, "households")
        )
    if name == "mediation_events":
        return one_of(c.case_id, "cases")
    if name in ("screenings", "psych_assessments"):
        return one_of(c.person_id, "persons")
    if name == "incidents":
        return or_(
            one_of(c.household_id, "households"),
            one_of(c.person_id, "persons"),
            one_of(c.case_id, "cases"),
        )
    raise KeyError(name)


#: ``to_char`` pattern of a UTC timestamp in the form ``UtcDateTime`` stores on SQLite.
_PG_ISO_UTC = literal_column("""'YYYY-MM-DD HH24:MI:SS.US"+00:00"'""")


def _utc_text(column: ColumnElement, dialect: Dialect) -> ColumnElement:
    """A timestamp column as ISO text: SQLite stores it so; PostgreSQL writes it in UTC."""
    if dialect.name == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), column), _PG_ISO_UTC)
    return column


def _utc_nanoseconds(texts: Sequence[str | None]) -> np.ndarray:
    """ISO timestamps (without offset: UTC) as int64 UTC nanoseconds, NaT for None.

    numpy parses the text of the usual "+00:00" values (a third of the time of a 1,000-case
    batch's history went into a Python call per value); any other is read by ``datetime``.
    """
    naive = [
        text[:-6] if text is not None and text.endswith("+00:00") else _naive_utc(text)
        for text in texts
    ]
    return np.array(naive, dtype="datetime64[us]").astype("datetime64[ns]").view(np.int64)


def _naive_utc(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is None else moment.astimezone(timezone.utc).replace(tzinfo=None)


@functools.cache
def _position(name: str, column: str) -> int:
    return TABLES[name].column_names.index(column)


def _typed_frame(name: str, rows: Sequence[tuple]) -> pd.DataFrame:
    """Database rows as a typed frame: the validator's columns and dtypes, nulls as ``<NA>``.

    Built column by column with ``pd.array`` (a few ms for a household's history, where
    ``DataFrame.astype`` per column took four times as long).
    """
    if not rows:
        return _empty_frame(name)
    columns = {}
    for column, values in zip(TABLES[name].columns, zip(*rows)):
        if column.type == "timestamp":
            utc = _utc_nanoseconds(values).view("datetime64[ns]")
            columns[column.name] = pd.DatetimeIndex(utc).tz_localize("UTC")
        else:
            columns[column.name] = pd.array(values, dtype=TYPED_DTYPES[column.type])
    return pd.DataFrame(columns)


def _columns(name: str, rows: Sequence[tuple]) -> Columns:
    """Database rows as column arrays, PII columns left out."""
    spec = TABLES[name]
    values_of = zip(*rows) if rows else (() for _ in spec.columns)
    out: Columns = {}
    for column, values in zip(spec.columns, values_of):
        if column.pii:
            continue
        if column.type == "timestamp":
            out[column.name] = _utc_nanoseconds(values)
        elif column.type in ("id", "enum", "text"):
            out[column.name] = (
                np.array(values, dtype=object) if values else np.empty(0, dtype=object)
            )
        else:
            out[column.name] = np.array(
                [np.nan if v is None else v for v in values], dtype=np.float64
            )
    return out


@functools.cache
def _empty_frames() -> dict[str, pd.DataFrame]:
    return {name: empty_typed_frame(name) for name in TABLE_ORDER}


def _empty_frame(name: str) -> pd.DataFrame:
    return _empty_frames()[name].copy()
