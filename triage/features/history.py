"""The history a feature reads, prepared once per build, and the computation of each op.

``History`` turns the typed exchange tables into the few sources the registry names, keyed
the way its sides need (household, case, person), with derived columns (threat flag, learned
text score, ordinal ranks).  ``status``, ``closed_at``, PII and ethnicity are dropped here and
never reach a feature.  ``compute`` then evaluates one :class:`Feature` for a frame of queries.

Past the typed frames everything is numpy, each column converted once per ``History``: a
pandas call costs tens of microseconds whatever its size, which made a service request (one
case, a few dozen history rows) cost hundreds of milliseconds.  One ``History`` serves a
request's case features, person features, rule tiers and route facts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from triage.contract import TIMEZONE, empty_typed_frame
from triage.features.registry import FEATURE_CONFIG, HISTORY_OPS, KEYED_BY, TIME_AND_ID, Feature
from triage.features.text import carries_threat
from triage.features.windows import (
    DAY_NS, EventIndex, last_position, to_ns, window_count, window_max, window_mean, window_positions,
)

#: The columns each source keeps (everything else, including status/closed_at/PII, is dropped).
_KEEP = {
    "households": ["household_id", "registered_at", "size", "low_income", "area_type"],
    "persons": ["person_id", "household_id", "sex", "birth_year", "employment", "returned_migrant",
                "alcohol_problem", "prior_conviction", "mental_health_registry"],
    "hotline_calls": ["call_id", "received_at", "channel", "household_id", "text"],
    "cases": ["case_id", "opened_at", "household_id", "counterparty_household_id"],
    "mediation_events": ["event_id", "case_id", "at", "level", "outcome"],
    "screenings": ["screening_id", "person_id", "at", "instrument", "score", "item9"],
    "psych_assessments": ["assessment_id", "person_id", "at", "tier"],
    "incidents": ["incident_id", "occurred_at", "household_id", "offence"],
}
_ID_KINDS = ("household_id", "case_id", "person_id", "assessment_id")
NAT_NS = np.iinfo(np.int64).min            # what ``to_ns`` gives a missing time


def as_float(values: pd.Series) -> np.ndarray:
    """Numbers/booleans as float64 with NaN for missing (LightGBM's missing value)."""
    return values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def as_objects(values: pd.Series) -> np.ndarray:
    """Ids and codes as an object array with None for missing."""
    if not (pd.api.types.is_string_dtype(values) or values.dtype == object):
        values = values.astype("string")
    return values.to_numpy(dtype=object, na_value=None)


def take(values: np.ndarray, positions: np.ndarray, missing=np.nan) -> np.ndarray:
    """``values[positions]``, ``missing`` where a position is -1 (no such row)."""
    if len(values) == 0:
        return np.full(len(positions), missing, dtype=values.dtype if missing is None else None)
    return np.where(positions >= 0, values[np.maximum(positions, 0)], missing)


def _days_between(earlier_ns: np.ndarray, present: np.ndarray, later_ns: np.ndarray) -> np.ndarray:
    """Days from ``earlier`` to ``later`` (fractional), NaN where ``earlier`` is missing."""
    return np.where(present, (later_ns - np.where(present, earlier_ns, 0)) / DAY_NS, np.nan)


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    frame = tables.get(name)
    if frame is None or frame.empty:
        frame = empty_typed_frame(name)
    return frame[_KEEP[name]].reset_index(drop=True)


class Source:
    """One source's rows keyed by ``key``: key codes, times and their ranks, columns on demand."""

    def __init__(self, frame: pd.DataFrame, name: str, key: str, history: History):
        time_column, id_column = TIME_AND_ID[name]
        self.frame, self._history = frame, history
        self.times = to_ns(frame[time_column])
        self.distinct_times, self.time_ranks = np.unique(self.times, return_inverse=True)
        self.codes = history.encode(key, frame[key])
        self.tiebreak = pd.factorize(frame[id_column].astype("string"), sort=True)[0]
        self.case_codes = (history.encode("case_id", frame["case_id"])
                           if key != "case_id" and "case_id" in frame.columns else None)
        self._floats: dict[str, np.ndarray] = {}
        self._ids: dict[str, np.ndarray] = {}
        self._factors: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def floats(self, column: str) -> np.ndarray:
        if column not in self._floats:
            self._floats[column] = as_float(self.frame[column])
        return self._floats[column]

    def ids(self, column: str) -> np.ndarray:
        """Integer codes of an id column (its name is its id kind)."""
        if column not in self._ids:
            self._ids[column] = self._history.encode(column, self.frame[column])
        return self._ids[column]

    def isin(self, column: str, allowed: tuple) -> np.ndarray:
        """``frame[column].isin(allowed)`` on the column's factor codes (missing never matches)."""
        if column not in self._factors:
            self._factors[column] = pd.factorize(self.frame[column])
        codes, uniques = self._factors[column]
        return np.isin(codes, [i for i, value in enumerate(uniques) if value in allowed])


class Rows:
    """The rows of a source passing a filter, as a window index, with their columns in its order."""

    def __init__(self, source: Source, positions: np.ndarray, index: EventIndex):
        self.source, self.index = source, index
        self._positions = positions[index.order]

    def floats(self, column: str) -> np.ndarray:
        return self.source.floats(column)[self._positions]

    def ids(self, column: str) -> np.ndarray:
        return self.source.ids(column)[self._positions]

    def row_ids(self) -> np.ndarray:
        """Codes of the rows' own ids (a row seen under two keys has one code)."""
        return self.source.tiebreak[self._positions]

    def sorted(self, values: np.ndarray) -> np.ndarray:
        """An array over the source's rows, in the index's order."""
        return values[self._positions]


class History:
    """Typed tables prepared for feature queries; window indexes are built on first use.

    Ids are encoded once as integer codes per id kind (household, case, person, assessment),
    so every window look-up works on integer arrays.
    """

    def __init__(self, tables: dict[str, pd.DataFrame], text_model=None):
        self.text_model = text_model
        ranks = FEATURE_CONFIG["ranks"]
        households = _table(tables, "households").drop_duplicates("household_id").reset_index(drop=True)
        self.persons = _table(tables, "persons").drop_duplicates("person_id").reset_index(drop=True)

        calls = _table(tables, "hotline_calls")
        calls = calls[calls["household_id"].notna()].reset_index(drop=True)
        calls["threat"] = carries_threat(calls["text"]).to_numpy()
        calls["text_score"] = (text_model.score(calls["text"]) if text_model is not None
                               else np.full(len(calls), np.nan))

        cases = _table(tables, "cases")
        involvement = pd.concat([
            cases[["case_id", "opened_at", "household_id"]],
            cases.loc[cases["counterparty_household_id"].notna(),
                      ["case_id", "opened_at", "counterparty_household_id"]]
                 .rename(columns={"counterparty_household_id": "household_id"}),
        ], ignore_index=True)

        mediations = _table(tables, "mediation_events")
        mediations["level_rank"] = mediations["level"].map(ranks["level"]).astype("Float64")
        household_mediations = mediations.merge(involvement[["case_id", "household_id"]], on="case_id")

        assessments = _table(tables, "psych_assessments")
        assessments["tier_rank"] = assessments["tier"].map(ranks["tier"]).astype("Float64")

        frames = {
            ("hotline_calls", "household_id"): calls,
            ("incidents", "household_id"): _table(tables, "incidents"),
            ("cases", "household_id"): involvement,
            ("mediation_events", "household_id"): household_mediations,
            ("mediation_events", "case_id"): mediations,
            ("screenings", "person_id"): _table(tables, "screenings"),
            ("psych_assessments", "person_id"): assessments,
        }
        self._vocabulary: dict[str, dict] = {}
        for kind in _ID_KINDS:
            ids = [as_objects(frame[kind]) for frame in (*frames.values(), households, self.persons)
                   if kind in frame.columns]
            distinct = pd.unique(np.concatenate(ids)) if ids else np.empty(0, dtype=object)
            self._vocabulary[kind] = {v: i for i, v in enumerate(v for v in distinct if v is not None)}
        #: (source, key column) → its rows; a household's cases and mediations include those where
        #: it is the counterparty.
        self._sources = {(source, key): Source(frame, source, key, self) for (source, key), frame in frames.items()}
        self._indexes: dict[tuple, Rows] = {}
        self._member_flags: dict[str, np.ndarray] = {}

        self.household_codes = self.encode("household_id", households["household_id"])
        self._households = households
        self._household_columns: dict[str, np.ndarray] = {}
        self.person_codes = self.encode("person_id", self.persons["person_id"])
        self.person_households = self.encode("household_id", self.persons["household_id"])
        self._person_columns: dict[str, np.ndarray] = {}
        self._by_household = np.argsort(self.person_households, kind="stable")

    def encode(self, kind: str, ids: pd.Series | np.ndarray) -> np.ndarray:
        """Integer codes of ``ids`` (an id column of ``kind``); -1 for missing or unseen ids."""
        values = as_objects(ids) if isinstance(ids, pd.Series) else ids
        get = self._vocabulary[kind].get
        return np.fromiter((get(v, -1) for v in values), dtype=np.int64, count=len(values))

    def pair_code(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """One code for a (household, case) pair; -1 when either is -1."""
        stride = len(self._vocabulary["case_id"]) + 1
        return np.where((first >= 0) & (second >= 0), first * stride + second, -1)

    def source(self, source: str, key: str) -> Source:
        return self._sources[(source, key)]

    def rows(self, source: str, key: str, where=(), with_case: bool = False) -> Rows:
        """The window index of ``source`` rows passing ``where``, keyed by ``key`` (and case)."""
        cache_key = (source, key, where, with_case)
        if cache_key not in self._indexes:
            rows = self._sources[(source, key)]
            keep = np.ones(len(rows.codes), dtype=bool)
            for column, allowed in where:
                keep &= rows.isin(column, allowed)
            positions = np.flatnonzero(keep)
            codes = rows.codes[positions]
            if with_case:
                codes = self.pair_code(codes, rows.case_codes[positions])
            index = EventIndex(codes, rows.times[positions], rows.tiebreak[positions],
                               rows.distinct_times, rows.time_ranks[positions])
            self._indexes[cache_key] = Rows(rows, positions, index)
        return self._indexes[cache_key]

    def household_column(self, column: str) -> np.ndarray:
        """A households column by household row: int64 ns for times, objects for codes, else float."""
        if column not in self._household_columns:
            values = self._households[column]
            if pd.api.types.is_datetime64_any_dtype(values):
                converted = to_ns(values)
            elif pd.api.types.is_string_dtype(values):
                converted = as_objects(values)
            else:
                converted = as_float(values)
            self._household_columns[column] = converted
        return self._household_columns[column]

    def person_column(self, column: str) -> np.ndarray:
        """A persons column by person row: objects for codes, else float."""
        if column not in self._person_columns:
            values = self.persons[column]
            self._person_columns[column] = (as_objects(values) if pd.api.types.is_string_dtype(values)
                                            else as_float(values))
        return self._person_columns[column]

    def positions(self, codes: np.ndarray, kind: str) -> np.ndarray:
        """Row of each code in the households (``household_id``) or persons (``person_id``) table, -1 if none."""
        table_codes = self.household_codes if kind == "household_id" else self.person_codes
        lookup = np.full(len(self._vocabulary[kind]) + 1, -1, dtype=np.int64)
        known = table_codes >= 0
        lookup[table_codes[known]] = np.flatnonzero(known)
        return lookup[codes]                       # code -1 reads the last slot: -1

    def members(self, households: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query, person row) of each member of each query's household code (-1: none)."""
        sorted_households = self.person_households[self._by_household]
        lo = np.searchsorted(sorted_households, households, side="left")
        hi = np.where(households >= 0, np.searchsorted(sorted_households, households, side="right"), lo)
        query, position = window_positions(lo, hi)
        return query, self._by_household[position]

    def member_flag(self, flag: str) -> np.ndarray:
        """Per household code: 1 if a member has ``flag``, 0 if recorded but never true, else NaN."""
        if flag not in self._member_flags:
            per_household = np.full(len(self._vocabulary["household_id"]) + 1, np.nan)
            np.fmax.at(per_household, self.person_households, self.person_column(flag))
            per_household[-1] = np.nan            # code -1 (unknown household) reads this slot
            self._member_flags[flag] = per_household
        return self._member_flags[flag]


class Queries:
    """The rows features are computed for (``as_of`` and key columns), with cached encodings."""

    def __init__(self, frame: pd.DataFrame, history: History):
        self.frame = frame.reset_index(drop=True)
        self.history = history
        self.as_of = self.frame["as_of"]
        self.as_of_ns = to_ns(self.as_of)
        self._codes: dict[tuple[str, str], np.ndarray] = {}
        self._cached: dict[tuple, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def codes(self, column: str, kind: str | None = None) -> np.ndarray:
        """Integer codes of a query column (``kind``: the id kind, default the column's name)."""
        kind = kind or column
        if (column, kind) not in self._codes:
            self._codes[column, kind] = self.history.encode(kind, self.frame[column])
        return self._codes[column, kind]

    def _once(self, key: tuple, make) -> np.ndarray:
        if key not in self._cached:
            self._cached[key] = make()
        return self._cached[key]

    def missing(self, column: str) -> np.ndarray:
        return self._once(("missing", column), lambda: self.frame[column].isna().to_numpy())

    def positions(self, column: str, kind: str) -> np.ndarray:
        """Row of each query's ``column`` in the households or persons table (-1: none)."""
        return self._once(("positions", column), lambda: self.history.positions(self.codes(column, kind), kind))

    def members(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(query, person code) per member of the household in ``column``."""
        def make():
            query, person_rows = self.history.members(self.codes(column, "household_id"))
            return query, self.history.person_codes[person_rows]
        return self._once(("members", column), make)

    def year(self) -> np.ndarray:
        """The Asia/Shanghai calendar year of each ``as_of``."""
        return self._once(("year",), lambda: as_float(self.as_of.dt.tz_convert(TIMEZONE).dt.year))


def _latest(values: np.ndarray, last: np.ndarray) -> np.ndarray:
    return take(values, last)


def _history_op(feature: Feature, queries: Queries) -> np.ndarray:
    """``count``/``max``/``mean``/``latest``/``latest_age_days`` over a window of source rows."""
    history, key_kind = queries.history, KEYED_BY[feature.side]
    codes = queries.codes(feature.query_key, key_kind)
    rows = history.rows(feature.source, key_kind, feature.where)
    index = rows.index
    lo, hi = index.window(codes, queries.as_of_ns, feature.window)
    if feature.op == "count":
        counts = window_count(lo, hi)
        if feature.exclude:                   # minus the rows of the query's own case
            own = history.rows(feature.source, key_kind, feature.where, with_case=True).index
            pairs = history.pair_code(codes, queries.codes(feature.exclude[0], "case_id"))
            counts -= window_count(*own.window(pairs, queries.as_of_ns, feature.window))
        return counts
    values = rows.floats(feature.value) if feature.value else np.full(len(index), np.nan)
    if feature.op == "max":
        return window_max(values, lo, hi)
    if feature.op == "mean":
        return window_mean(values, lo, hi)
    sorted_ids = excluded = None
    if feature.exclude:                       # skip the query's own row (e.g. its assessment)
        query_column, source_column = feature.exclude
        sorted_ids = rows.ids(source_column)
        excluded = queries.codes(query_column, source_column)
    last = last_position(lo, hi, sorted_ids, excluded)
    if feature.op == "latest":
        return _latest(values, last)
    if feature.op == "latest_age_days":
        return np.where(last >= 0, (queries.as_of_ns - _latest(index.times, last)) / DAY_NS, np.nan)
    raise ValueError(f"{feature.name}: {feature.op} is not a window op")


def _member_op(feature: Feature, queries: Queries) -> np.ndarray:
    """Household members' flags (``member_any``) or highest latest value (``member_latest_max``)."""
    history = queries.history
    if feature.op == "member_any":
        return history.member_flag(feature.value)[queries.codes(feature.query_key, "household_id")]
    query, person = queries.members(feature.query_key)
    rows = history.rows(feature.source, "person_id", feature.where)
    lo, hi = rows.index.window(person, queries.as_of_ns[query], feature.window)
    latest = _latest(rows.floats(feature.value), last_position(lo, hi))
    highest = np.full(len(queries), np.nan)
    np.fmax.at(highest, query, latest)
    return highest


def _row_op(feature: Feature, queries: Queries) -> np.ndarray | pd.Series:
    """Ops that read one row: the case itself, the household or the person."""
    history = queries.history
    if feature.source == "households":
        rows = queries.positions(feature.query_key, "household_id")
        registered_at = history.household_column("registered_at")
        registered_ns = take(registered_at, rows, NAT_NS)
        days = _days_between(registered_ns, registered_ns != NAT_NS, queries.as_of_ns)
        registered = days >= 0                      # NaN (unknown household) compares False
        if feature.op == "days_since":
            return np.where(registered, days, np.nan)
        column = history.household_column(feature.value)
        if feature.kind == "categorical":
            return np.where(registered, take(column, rows, None), None)
        return np.where(registered, take(column, rows), np.nan)
    if feature.source == "persons":
        column = take(history.person_column(feature.value), queries.positions(feature.query_key, "person_id"),
                      None if feature.kind == "categorical" else np.nan)
        if feature.op == "age_years":
            return queries.year() - column
        return column
    column = queries.frame[feature.value]            # the case row itself
    if feature.op == "attribute":
        return column if feature.kind == "categorical" else as_float(column)
    if feature.op == "log1p":
        return np.log1p(as_float(column))
    if feature.op == "present":
        return column.notna().to_numpy(dtype=np.float64)
    if feature.op == "days_since":
        return _days_between(to_ns(column), column.notna().to_numpy(), queries.as_of_ns)
    if feature.op == "lexicon":
        return np.where(column.notna(), carries_threat(column).to_numpy(dtype=np.float64), np.nan)
    if feature.op == "text_score":
        if history.text_model is None:
            return np.full(len(column), np.nan)
        return history.text_model.score(column)
    raise ValueError(f"{feature.name}: unknown op {feature.op}")


def compute(feature: Feature, queries: Queries) -> np.ndarray | pd.Series:
    """The values of ``feature`` for each query row."""
    if feature.op == "member_any" or feature.op == "member_latest_max":
        values = _member_op(feature, queries)
    elif feature.op in HISTORY_OPS:
        values = _history_op(feature, queries)
    else:
        values = _row_op(feature, queries)
    if feature.kind == "categorical":
        return values
    if feature.op in HISTORY_OPS:
        values = np.where(np.isnan(values), feature.fill, values)
    if feature.side in ("household", "counterparty", "person"):
        # no such party (e.g. no counterparty): unknown, not 0
        values = np.where(queries.missing(feature.query_key), np.nan, values)
    return values
