"""The history adapter: typed frames out of the service database, point in time.

The scoring service asks for the history of a few households as of a moment and gets the
same typed frames the validator produces for a dataset folder, so one feature code path
serves both batch and online scoring.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Select, and_, null, or_, select, true

from triage.contract import TABLE_ORDER, TABLES, TYPED_DTYPES
from triage.db.engine import engine_for
from triage.db.models import EXCHANGE_MODELS


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
    engine = url_or_engine if isinstance(url_or_engine, Engine) else engine_for(url_or_engine)
    filters = _history_filters(household_ids, person_ids, _utc(as_of))
    with engine.connect() as connection:
        return {name: _typed_frame(name, connection.execute(
                    _select_table(name, filters[name], include_pii)).all())
                for name in TABLE_ORDER}


def _utc(as_of: pd.Timestamp | None):
    if as_of is None:
        return None
    moment = pd.Timestamp(as_of)
    if moment.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return moment.tz_convert("UTC").to_pydatetime()


def _history_filters(household_ids: Collection[str] | None, person_ids: Collection[str] | None,
                     as_of) -> dict[str, ColumnElement[bool]]:
    """The WHERE clause of each table: the time cut-off and, when asked, the household scope."""
    tables = {name: model.__table__ for name, model in EXCHANGE_MODELS.items()}
    columns = {name: table.c for name, table in tables.items()}

    def in_time(name: str) -> ColumnElement[bool]:
        time_column = TABLES[name].time_column
        if as_of is None or time_column is None:
            return true()
        return columns[name][time_column] <= as_of

    if household_ids is None and person_ids is None:
        return {name: in_time(name) for name in TABLE_ORDER}

    households = sorted(set(household_ids or ()))
    persons, cases, incidents = columns["persons"], columns["cases"], columns["incidents"]
    person_scope = or_(persons.household_id.in_(households),
                       persons.person_id.in_(sorted(set(person_ids or ()))))
    case_scope = and_(or_(cases.household_id.in_(households),
                          cases.counterparty_household_id.in_(households)), in_time("cases"))
    selected_persons = select(persons.person_id).where(person_scope)
    selected_cases = select(cases.case_id).where(case_scope)
    scope = {
        "households": columns["households"].household_id.in_(households),
        "persons": person_scope,
        "hotline_calls": or_(columns["hotline_calls"].household_id.in_(households),
                             columns["hotline_calls"].person_id.in_(selected_persons)),
        "cases": case_scope,
        "mediation_events": columns["mediation_events"].case_id.in_(selected_cases),
        "screenings": columns["screenings"].person_id.in_(selected_persons),
        "psych_assessments": columns["psych_assessments"].person_id.in_(selected_persons),
        "incidents": or_(incidents.household_id.in_(households),
                         incidents.person_id.in_(selected_persons),
                         incidents.case_id.in_(selected_cases)),
    }
    return {name: and_(scope[name], in_time(name)) for name in TABLE_ORDER}


def _select_table(name: str, where: ColumnElement[bool], include_pii: bool) -> Select:
    table = EXCHANGE_MODELS[name].__table__
    spec = TABLES[name]
    columns = [null().label(c.name) if c.pii and not include_pii else table.c[c.name]
               for c in spec.columns]
    return select(*columns).where(where).order_by(table.c[spec.key])


def _typed_frame(name: str, rows: Sequence[tuple]) -> pd.DataFrame:
    """Database rows as a typed frame: the validator's columns and dtypes, nulls as ``<NA>``."""
    spec = TABLES[name]
    raw = pd.DataFrame.from_records(rows, columns=spec.column_names)
    typed = {}
    for column in spec.columns:
        values = raw[column.name]
        if column.type == "timestamp":
            values = pd.to_datetime(values, utc=True)
        typed[column.name] = values.astype(TYPED_DTYPES[column.type])
    return pd.DataFrame(typed, columns=spec.column_names)
