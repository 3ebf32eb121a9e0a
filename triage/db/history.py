"""The history adapter: typed frames out of the service database, point in time.

The scoring service asks for the history of a few households as of a moment and gets the
same typed values the validator produces for a dataset folder, so one feature code path
serves both batch and online scoring: ``read_tables`` gives typed frames (the workbench's
timeline), ``read_history`` the same rows as the column arrays ``triage.features.History``
reads (a pandas frame costs more to build than a household's history costs to read).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import timezone

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, DateTime, Engine, Select, and_, null, or_, select, true, type_coerce

from triage.contract import TABLE_ORDER, TABLES, TYPED_DTYPES, empty_typed_frame
from triage.db.engine import engine_for
from triage.db.models import EXCHANGE_MODELS
from triage.features.history import Columns


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
    rows = _read(url_or_engine, household_ids, person_ids, as_of, include_pii, plain_times=False)
    return {name: _typed_frame(name, table_rows) for name, table_rows in rows.items()}


def read_history(
    url_or_engine: str | Engine,
    *,
    household_ids: Collection[str],
    person_ids: Collection[str] = (),
    as_of: pd.Timestamp | None = None,
) -> dict[str, Columns]:
    """The rows ``read_tables`` selects, as column arrays (``triage.features.history.Columns``).

    Timestamps are int64 UTC nanoseconds, ids, codes and text objects (None when missing),
    numbers and booleans float64 (NaN when missing).  PII columns are left out altogether.
    """
    rows = _read(url_or_engine, household_ids, person_ids, as_of, include_pii=False, plain_times=True)
    return {name: _columns(name, table_rows) for name, table_rows in rows.items()}


def _read(url_or_engine: str | Engine, household_ids: Collection[str] | None, person_ids: Collection[str] | None,
          as_of: pd.Timestamp | None, include_pii: bool, plain_times: bool) -> dict[str, Sequence[tuple]]:
    """Each table's rows (all contract columns, PII null unless ``include_pii``), in key order.

    ``plain_times``: timestamps as the driver gives them (naive UTC from SQLite, aware from
    PostgreSQL) rather than through ``UtcDateTime``, whose per-value call was a third of
    reading a 1,000-case batch's history.
    """
    engine = url_or_engine if isinstance(url_or_engine, Engine) else engine_for(url_or_engine)
    cutoff = _utc(as_of)
    scoped = household_ids is not None or person_ids is not None
    households = sorted(set(household_ids or ()))
    wanted_persons = sorted(set(person_ids or ()))
    rows: dict[str, Sequence[tuple]] = {}
    with engine.connect() as connection:
        for name in TABLE_ORDER:  # persons and cases are read before the tables that hang off them
            where = _in_time(name, cutoff)
            if scoped:
                where = and_(where, _in_scope(name, households, wanted_persons, rows))
            rows[name] = connection.execute(_select_table(name, where, include_pii, plain_times)).all()
    return rows


def _utc(as_of: pd.Timestamp | None):
    if as_of is None:
        return None
    moment = pd.Timestamp(as_of)
    if moment.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return moment.tz_convert("UTC").to_pydatetime()


def _in_time(name: str, cutoff) -> ColumnElement[bool]:
    time_column = TABLES[name].time_column
    if cutoff is None or time_column is None:
        return true()
    return EXCHANGE_MODELS[name].__table__.c[time_column] <= cutoff


def _in_scope(name: str, households: list[str], wanted_persons: list[str],
              rows: dict[str, Sequence[tuple]]) -> ColumnElement[bool]:
    """The rows of ``name`` that belong to the households' history.

    Persons and cases already read are passed on as id lists rather than subqueries, so that
    every condition is an index look-up (an ``OR`` with a subquery makes PostgreSQL scan).
    """
    c = EXCHANGE_MODELS[name].__table__.c
    persons = [row[_position("persons", "person_id")] for row in rows.get("persons", ())]
    cases = [row[_position("cases", "case_id")] for row in rows.get("cases", ())]
    if name == "households":
        return c.household_id.in_(households)
    if name == "persons":
        return or_(c.household_id.in_(households), c.person_id.in_(wanted_persons))
    if name == "hotline_calls":
        return or_(c.household_id.in_(households), c.person_id.in_(persons))
    if name == "cases":
        return or_(c.household_id.in_(households), c.counterparty_household_id.in_(households))
    if name == "mediation_events":
        return c.case_id.in_(cases)
    if name in ("screenings", "psych_assessments"):
        return c.person_id.in_(persons)
    if name == "incidents":
        return or_(c.household_id.in_(households), c.person_id.in_(persons), c.case_id.in_(cases))
    raise KeyError(name)


@functools.cache
def _position(name: str, column: str) -> int:
    return TABLES[name].column_names.index(column)


def _select_table(name: str, where: ColumnElement[bool], include_pii: bool, plain_times: bool = False) -> Select:
    table = EXCHANGE_MODELS[name].__table__
    spec = TABLES[name]

    def column(c):
        if c.pii and not include_pii:
            return null().label(c.name)
        if plain_times and c.type == "timestamp":
            return type_coerce(table.c[c.name], DateTime(timezone=True)).label(c.name)
        return table.c[c.name]

    return select(*map(column, spec.columns)).where(where).order_by(table.c[spec.key])


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
            columns[column.name] = pd.to_datetime(list(values), utc=True).as_unit("ns")
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
        if column.type == "timestamp":     # naive values are UTC already (SQLite)
            naive = [v if v is None or v.tzinfo is None else v.astimezone(timezone.utc).replace(tzinfo=None)
                     for v in values]
            out[column.name] = np.array(naive, dtype="datetime64[us]").astype("datetime64[ns]").view(np.int64)
        elif column.type in ("id", "enum", "text"):
            out[column.name] = np.array(values, dtype=object) if values else np.empty(0, dtype=object)
        else:
            out[column.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return out


@functools.cache
def _empty_frames() -> dict[str, pd.DataFrame]:
    return {name: empty_typed_frame(name) for name in TABLE_ORDER}


def _empty_frame(name: str) -> pd.DataFrame:
    return _empty_frames()[name].copy()
