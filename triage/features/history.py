"""The history a feature reads, prepared once per build, and the computation of each op.

``History`` turns the exchange tables into the few sources the registry names, keyed the way
its sides need (household, case, person), with derived columns (threat flag, learned text
score, ordinal ranks).  ``status``, ``closed_at``, PII and ethnicity are dropped here and never
reach a feature.  ``compute`` then evaluates one :class:`Feature` for a frame of queries.

Everything here is numpy on column arrays (:data:`Columns`), each table converted once per
``History``: a pandas call costs tens of microseconds whatever its size, which made a service
request (one case, a few dozen history rows) cost tens of milliseconds.  Training passes typed
frames; the service passes the column arrays its database read gives (``read_history``).  One
``History`` serves a request's case features, person features, rule tiers and route facts.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from triage.contract import TABLES, TIMEZONE
from triage.features.registry import FEATURE_CONFIG, HISTORY_OPS, KEYED_BY, TIME_AND_ID, Feature
from triage.features.text import carries_threat
from triage.features.windows import (
    DAY_NS,
    EventIndex,
    last_position,
    to_ns,
    window_count,
    window_max,
    window_mean,
    window_positions,
)

#: The columns each source keeps (everything else, including status/closed_at/PII, is dropped).
_KEEP = {
    "households": ["household_id", "registered_at", "size", "low_income", "area_type"],
    "persons": [
        "person_id",
        "household_id",
        "sex",
        "birth_year",
        "employment",
        "returned_migrant",
        "alcohol_problem",
        "prior_conviction",
        "mental_health_registry",
    ],
    "hotline_calls": ["call_id", "received_at", "channel", "household_id", "text"],
    "cases": ["case_id", "opened_at", "household_id", "counterparty_household_id"],
    "mediation_events": ["event_id", "case_id", "at", "level", "outcome"],
    "screenings": ["screening_id", "person_id", "at", "instrument", "score", "item9"],
    "psych_assessments": ["assessment_id", "person_id", "at", "tier"],
    "incidents": ["incident_id", "occurred_at", "household_id", "offence"],
}
_ID_KINDS = ("household_id", "case_id", "person_id", "assessment_id")
NAT_NS = np.iinfo(np.int64).min  # what ``to_ns`` gives a missing time
_OBJECT_TYPES = ("id", "enum", "text")

#: A table as column arrays of equal length: int64 UTC nanoseconds for timestamps (``NAT_NS``
#: when missing), objects (None when missing) for ids, codes and text, float64 (NaN) for
#: numbers and booleans.  A frame's ``text`` may stay a pandas string array (no copy of
#: millions of call texts); anything ``pd.factorize`` and ``carries_threat`` read will do.
Columns = dict[str, np.ndarray]


def as_float(values) -> np.ndarray:
    """Numbers/booleans as float64 with NaN for missing (LightGBM's missing value)."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        return values.astype(np.float64, copy=False)
    if (
        isinstance(values, pd.Series)
        and isinstance(values.dtype, np.dtype)
        and values.dtype.kind in "biuf"
    ):
        return values.to_numpy(dtype=np.float64)  # no missing-value mask: ~10x cheaper than below
    if not isinstance(values, pd.Series):
        values = pd.Series(values, copy=False)
    return values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def as_objects(values) -> np.ndarray:
    """Ids and codes as an object array with None for missing."""
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    if isinstance(values, pd.Series) and values.dtype == object:  # as below, at a tenth of the cost
        values = values.to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = None
        return values
    values = pd.Series(values)
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


def columns_of(name: str, frame: pd.DataFrame, keep: list[str] | None = None) -> Columns:
    """The ``keep`` columns (default all) of a typed frame of table ``name`` as :data:`Columns`."""
    types = {c.name: c.type for c in TABLES[name].columns}
    out = {}
    for column in keep or list(frame.columns):
        values = frame[column]
        if types[column] == "timestamp":
            out[column] = to_ns(values)
        elif types[column] == "text":
            out[column] = values.array
        elif types[column] in _OBJECT_TYPES:
            out[column] = as_objects(values)
        else:
            out[column] = as_float(values)
    return out


def _empty_columns(name: str) -> Columns:
    types = {c.name: c.type for c in TABLES[name].columns}
    return {
        column: np.empty(
            0,
            dtype=np.int64
            if types[column] == "timestamp"
            else object
            if types[column] in _OBJECT_TYPES
            else np.float64,
        )
        for column in _KEEP[name]
    }


def _table(tables: Mapping[str, pd.DataFrame | Columns], name: str) -> Columns:
    table = tables.get(name)
    if table is None:
        return _empty_columns(name)
    if isinstance(table, pd.DataFrame):
        return columns_of(name, table, _KEEP[name])
    return {column: table[column] for column in _KEEP[name]}


def _rows(columns: Columns, positions: np.ndarray) -> Columns:
    return {name: values[positions] for name, values in columns.items()}


def _length(columns: Columns) -> int:
    return len(next(iter(columns.values())))


def _first_of_each(columns: Columns, key: str) -> Columns:
    """The first row of each ``key`` (``drop_duplicates``): one row per household or person."""
    codes = pd.factorize(columns[key], use_na_sentinel=False)[0]
    if len(np.unique(codes)) == len(codes):
        return columns
    return _rows(columns, np.sort(np.unique(codes, return_index=True)[1]))


def _ranked(values: np.ndarray, ranks: dict[str, int]) -> np.ndarray:
    """Ordinal rank of each code (``features.yaml`` ``ranks``), NaN for missing or unranked."""
    codes, distinct = pd.factorize(values)
    by_code = np.array([ranks.get(v, np.nan) for v in distinct] + [np.nan], dtype=np.float64)
    return by_code[codes]  # code -1 reads the last slot: NaN


def _pairs_by_key(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left row, right row) of every pair of rows with equal, present keys (an inner join)."""
    codes = pd.factorize(np.concatenate([left, right]))[0]
    left_codes, right_codes = codes[: len(left)], codes[len(left) :]
    order = np.argsort(right_codes, kind="stable")
    sorted_codes = right_codes[order]
    lo = np.searchsorted(sorted_codes, left_codes, side="left")
    hi = np.where(left_codes >= 0, np.searchsorted(sorted_codes, left_codes, side="right"), lo)
    left_rows, positions = window_positions(lo, hi)
    return left_rows, order[positions]


def _sorted_codes(ids: np.ndarray) -> np.ndarray:
    """Codes of ``ids`` in sorted order, -1 for missing (``pd.factorize(sort=True)``, sorted in C)."""
    present = ~pd.isna(ids)
    codes = np.full(len(ids), -1, dtype=np.int64)
    if present.any():
        codes[present] = np.unique(ids[present].astype(str), return_inverse=True)[1].reshape(-1)
    return codes


class _TextScores:
    """Per text model, the threat flag and learned score of each text seen (both depend on the text only).

    Call texts never change once stored, and a household's calls are read again for each of its
    cases, so each process remembers them (at most ``limit`` texts per model, then starts over).
    """

    def __init__(self, limit: int = 200_000):
        self.limit = limit
        self._by_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._plain: dict[str, tuple[bool, float]] = {}  # without a text model
        self._lock = threading.Lock()

    def of(self, texts, text_model, also=None) -> tuple[np.ndarray, np.ndarray]:
        """(threat flag, text score) per text; False/NaN for a missing text.

        ``also``: texts that will be asked for next (a case's description), learnt in the same
        pass: the threat lexicon and the text model each cost milliseconds per call, whatever its size.
        """
        codes, distinct = pd.factorize(texts)
        distinct = np.asarray(distinct, dtype=object)  # iterating an Arrow array costs µs per text
        if len(distinct) > self.limit:  # a training-sized history: in one go, nothing kept
            texts = pd.Series(texts, dtype="string")
            return (
                carries_threat(texts).to_numpy(dtype=bool),
                text_model.score(texts) if text_model is not None else np.full(len(texts), np.nan),
            )
        extra = [] if also is None else pd.unique(np.asarray(also, dtype=object))
        with self._lock:
            known = self._plain if text_model is None else self._by_model.setdefault(text_model, {})
            found = [known.get(text) for text in distinct]
            unseen = list(
                dict.fromkeys(
                    [text for text, pair in zip(distinct, found) if pair is None]
                    + [text for text in extra if isinstance(text, str) and text not in known]
                )
            )
        if unseen:
            unseen_texts = pd.Series(unseen, dtype="string")
            threat = carries_threat(unseen_texts).to_numpy(dtype=bool).tolist()
            score = (
                text_model.score(unseen_texts)
                if text_model is not None
                else np.full(len(unseen), np.nan)
            ).tolist()
            learned = dict(zip(unseen, zip(threat, score)))
            found = [
                pair if pair is not None else learned[text] for text, pair in zip(distinct, found)
            ]
            if len(learned) <= self.limit:
                with self._lock:
                    if len(known) + len(learned) > self.limit:
                        known.clear()
                    known.update(learned)
        flags = np.array([pair[0] for pair in found] + [False], dtype=bool)
        scores = np.array([pair[1] for pair in found] + [np.nan], dtype=np.float64)
        return flags[codes], scores[codes]  # code -1 (missing text) reads the last slot


TEXT_SCORES = _TextScores()


class Source:
    """One source's rows keyed by ``key``: key codes, times and their ranks, columns on demand."""

    def __init__(self, columns: Columns, name: str, key: str, history: History):
        time_column, id_column = TIME_AND_ID[name]
        self.frame, self._history = columns, history  # ``frame``: the columns by name
        self.times = columns[time_column]
        self.distinct_times, self.time_ranks = np.unique(self.times, return_inverse=True)
        self.codes = history.encode(key, columns[key])
        self.tiebreak = _sorted_codes(columns[id_column])
        self.case_codes = (
            history.encode("case_id", columns["case_id"])
            if key != "case_id" and "case_id" in columns
            else None
        )
        self._ids: dict[str, np.ndarray] = {}
        self._factors: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def floats(self, column: str) -> np.ndarray:
        return self.frame[column]

    def ids(self, column: str) -> np.ndarray:
        """Integer codes of an id column (its name is its id kind)."""
        if column not in self._ids:
            self._ids[column] = self._history.encode(column, self.frame[column])
        return self._ids[column]

    def isin(self, column: str, allowed: tuple) -> np.ndarray:
        """``column`` in ``allowed``, on the column's factor codes (missing never matches)."""
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
    """Exchange tables prepared for feature queries; window indexes are built on first use.

    ``tables`` maps table names to typed frames (``TYPED_DTYPES``) or to :data:`Columns`.  Ids
    are encoded once as integer codes per id kind (household, case, person, assessment), so
    every window look-up works on integer arrays.  ``texts``: other texts the features will
    read (the cases' descriptions), whose threat flags and text scores come in the calls' pass.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame | Columns], text_model=None, texts=None):
        self.text_model = text_model
        ranks = FEATURE_CONFIG["ranks"]
        households = _first_of_each(_table(tables, "households"), "household_id")
        self.persons = _first_of_each(_table(tables, "persons"), "person_id")

        calls = _table(tables, "hotline_calls")
        calls = _rows(calls, np.flatnonzero(pd.notna(calls["household_id"])))
        calls["threat"], calls["text_score"] = TEXT_SCORES.of(calls["text"], text_model, also=texts)

        cases = _table(tables, "cases")
        as_counterparty = np.flatnonzero(pd.notna(cases["counterparty_household_id"]))
        involvement = {
            "case_id": np.concatenate([cases["case_id"], cases["case_id"][as_counterparty]]),
            "opened_at": np.concatenate([cases["opened_at"], cases["opened_at"][as_counterparty]]),
            "household_id": np.concatenate(
                [cases["household_id"], cases["counterparty_household_id"][as_counterparty]]
            ),
        }

        mediations = _table(tables, "mediation_events")
        mediations["level_rank"] = _ranked(mediations["level"], ranks["level"])
        event_rows, involvement_rows = _pairs_by_key(mediations["case_id"], involvement["case_id"])
        household_mediations = _rows(mediations, event_rows)
        household_mediations["household_id"] = involvement["household_id"][involvement_rows]

        assessments = _table(tables, "psych_assessments")
        assessments["tier_rank"] = _ranked(assessments["tier"], ranks["tier"])

        sources = {
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
            ids = [
                columns[kind]
                for columns in (*sources.values(), households, self.persons)
                if kind in columns
            ]
            distinct = pd.unique(np.concatenate(ids)) if ids else np.empty(0, dtype=object)
            self._vocabulary[kind] = {
                v: i for i, v in enumerate(v for v in distinct if v is not None)
            }
        #: (source, key column) → its rows; a household's cases and mediations include those where
        #: it is the counterparty.
        self._sources = {
            (source, key): Source(columns, source, key, self)
            for (source, key), columns in sources.items()
        }
        self._indexes: dict[tuple, Rows] = {}
        self._member_flags: dict[str, np.ndarray] = {}

        self._households = households
        self.household_codes = self.encode("household_id", households["household_id"])
        self.person_codes = self.encode("person_id", self.persons["person_id"])
        self.person_households = self.encode("household_id", self.persons["household_id"])
        self._by_household = np.argsort(self.person_households, kind="stable")

    def encode(self, kind: str, ids) -> np.ndarray:
        """Integer codes of ``ids`` (an id column of ``kind``); -1 for missing or unseen ids."""
        get = self._vocabulary[kind].get
        return np.fromiter((get(v, -1) for v in as_objects(ids)), dtype=np.int64, count=len(ids))

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
            index = EventIndex(
                codes,
                rows.times[positions],
                rows.tiebreak[positions],
                rows.distinct_times,
                rows.time_ranks[positions],
            )
            self._indexes[cache_key] = Rows(rows, positions, index)
        return self._indexes[cache_key]

    def household_column(self, column: str) -> np.ndarray:
        """A households column by household row: int64 ns for times, objects for codes, else float."""
        return self._households[column]

    def person_column(self, column: str) -> np.ndarray:
        """A persons column by person row: objects for codes, else float."""
        return self.persons[column]

    def positions(self, codes: np.ndarray, kind: str) -> np.ndarray:
        """Row of each code in the households (``household_id``) or persons (``person_id``) table, -1 if none."""
        table_codes = self.household_codes if kind == "household_id" else self.person_codes
        lookup = np.full(len(self._vocabulary[kind]) + 1, -1, dtype=np.int64)
        known = table_codes >= 0
        lookup[table_codes[known]] = np.flatnonzero(known)
        return lookup[codes]  # code -1 reads the last slot: -1

    def members(self, households: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query, person row) of each member of each query's household code (-1: none)."""
        sorted_households = self.person_households[self._by_household]
        lo = np.searchsorted(sorted_households, households, side="left")
        hi = np.where(
            households >= 0, np.searchsorted(sorted_households, households, side="right"), lo
        )
        query, position = window_positions(lo, hi)
        return query, self._by_household[position]

    def member_flag(self, flag: str) -> np.ndarray:
        """Per household code: 1 if a member has ``flag``, 0 if recorded but never true, else NaN."""
        if flag not in self._member_flags:
            per_household = np.full(len(self._vocabulary["household_id"]) + 1, np.nan)
            np.fmax.at(per_household, self.person_households, self.person_column(flag))
            per_household[-1] = np.nan  # code -1 (unknown household) reads this slot
            self._member_flags[flag] = per_household
        return self._member_flags[flag]


class Queries:
    """The rows features are computed for, as :data:`Columns` (``as_of`` in int64 ns), with cached
    encodings and window look-ups (features of one source, key and window share them).

    ``order``: the positions of the rows in the order they are computed (sorted look-ups are
    faster); every column read is taken in that order once.
    """

    def __init__(self, columns: Columns, history: History, order: np.ndarray | None = None):
        self.history = history
        self._given, self._order = columns, order
        self._columns: dict[str, np.ndarray] = {}
        self._codes: dict[tuple[str, str], np.ndarray] = {}
        self._cached: dict[tuple, np.ndarray] = {}
        self.as_of_ns = self.column("as_of")

    def __len__(self) -> int:
        return len(self.as_of_ns)

    def column(self, name: str) -> np.ndarray:
        """A query column: int64 ns for times, objects for ids/codes/text, float64 otherwise."""
        if name not in self._columns:
            values = self._given[name]
            self._columns[name] = values if self._order is None else values[self._order]
        return self._columns[name]

    def codes(self, column: str, kind: str | None = None) -> np.ndarray:
        """Integer codes of a query column (``kind``: the id kind, default the column's name)."""
        kind = kind or column
        if (column, kind) not in self._codes:
            self._codes[column, kind] = self.history.encode(kind, self.column(column))
        return self._codes[column, kind]

    def _once(self, key: tuple, make) -> np.ndarray:
        if key not in self._cached:
            self._cached[key] = make()
        return self._cached[key]

    def missing(self, column: str) -> np.ndarray:
        return self._once(("missing", column), lambda: pd.isna(self.column(column)))

    def positions(self, column: str, kind: str) -> np.ndarray:
        """Row of each query's ``column`` in the households or persons table (-1: none)."""
        return self._once(
            ("positions", column), lambda: self.history.positions(self.codes(column, kind), kind)
        )

    def members(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(query, person code) per member of the household in ``column``."""

        def make():
            query, person_rows = self.history.members(self.codes(column, "household_id"))
            return query, self.history.person_codes[person_rows]

        return self._once(("members", column), make)

    def window(
        self, index: EventIndex, key: str, codes: np.ndarray, days: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``index.window(codes, as_of, days)``; ``key`` names ``codes`` (same key, same codes)."""
        runs = self._once(("runs", index, key), lambda: index.runs(codes))
        hi = self._once(("until", index, key, None), lambda: index.until(runs, self.as_of_ns))
        if days is None:
            return runs.start, hi
        return self._once(
            ("until", index, key, days), lambda: index.until(runs, self.as_of_ns - days * DAY_NS)
        ), hi

    def year(self) -> np.ndarray:
        """The Asia/Shanghai calendar year of each ``as_of``."""
        return self._once(("year",), lambda: local_years(self.as_of_ns))


_LOCAL_ZONE = ZoneInfo(TIMEZONE)


def local_years(times_ns: np.ndarray) -> np.ndarray:
    """The Asia/Shanghai calendar year of each UTC nanosecond time, as float64.

    A few times (a service request's) one by one with ``zoneinfo``: pandas' conversion costs
    ~0.3 ms whatever the size.  Seconds decide the year: a year never starts mid-second.
    """
    if len(times_ns) > 256:
        return (
            pd.to_datetime(times_ns, utc=True).tz_convert(TIMEZONE).year.to_numpy(dtype=np.float64)
        )
    return np.array(
        [datetime.fromtimestamp(t // 10**9, _LOCAL_ZONE).year for t in times_ns.tolist()],
        dtype=np.float64,
    )


def _latest(values: np.ndarray, last: np.ndarray) -> np.ndarray:
    return take(values, last)


def _history_op(feature: Feature, queries: Queries) -> np.ndarray:
    """``count``/``max``/``mean``/``latest``/``latest_age_days`` over a window of source rows."""
    history, key_kind = queries.history, KEYED_BY[feature.side]
    codes = queries.codes(feature.query_key, key_kind)
    rows = history.rows(feature.source, key_kind, feature.where)
    index = rows.index
    lo, hi = queries.window(index, feature.query_key, codes, feature.window)
    if feature.op == "count":
        counts = window_count(lo, hi)
        if feature.exclude:  # minus the rows of the query's own case
            own = history.rows(feature.source, key_kind, feature.where, with_case=True).index
            case_column = feature.exclude[0]
            pairs = history.pair_code(codes, queries.codes(case_column, "case_id"))
            counts -= window_count(
                *queries.window(own, f"{feature.query_key}+{case_column}", pairs, feature.window)
            )
        return counts
    values = rows.floats(feature.value) if feature.value else np.full(len(index), np.nan)
    if feature.op == "max":
        return window_max(values, lo, hi)
    if feature.op == "mean":
        return window_mean(values, lo, hi)
    sorted_ids = excluded = None
    if feature.exclude:  # skip the query's own row (e.g. its assessment)
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


def _row_op(feature: Feature, queries: Queries) -> np.ndarray:
    """Ops that read one row: the case itself, the household or the person."""
    history = queries.history
    if feature.source == "households":
        rows = queries.positions(feature.query_key, "household_id")
        registered_at = history.household_column("registered_at")
        registered_ns = take(registered_at, rows, NAT_NS)
        days = _days_between(registered_ns, registered_ns != NAT_NS, queries.as_of_ns)
        registered = days >= 0  # NaN (unknown household) compares False
        if feature.op == "days_since":
            return np.where(registered, days, np.nan)
        column = history.household_column(feature.value)
        if feature.kind == "categorical":
            return np.where(registered, take(column, rows, None), None)
        return np.where(registered, take(column, rows), np.nan)
    if feature.source == "persons":
        column = take(
            history.person_column(feature.value),
            queries.positions(feature.query_key, "person_id"),
            None if feature.kind == "categorical" else np.nan,
        )
        if feature.op == "age_years":
            return queries.year() - column
        return column
    column = queries.column(feature.value)  # the case row itself
    if feature.op == "attribute":
        return column if feature.kind == "categorical" else as_float(column)
    if feature.op == "log1p":
        return np.log1p(as_float(column))
    present = ~queries.missing(feature.value) if column.dtype != np.int64 else column != NAT_NS
    if feature.op == "present":
        return present.astype(np.float64)
    if feature.op == "days_since":
        return _days_between(column, present, queries.as_of_ns)
    if feature.op == "lexicon":
        return np.where(present, TEXT_SCORES.of(column, history.text_model)[0], np.nan)
    if feature.op == "text_score":
        if history.text_model is None:
            return np.full(len(column), np.nan)
        return TEXT_SCORES.of(column, history.text_model)[1]
    raise ValueError(f"{feature.name}: unknown op {feature.op}")


def compute(feature: Feature, queries: Queries) -> np.ndarray:
    """The values of ``feature`` for each query row (in the queries' order)."""
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
