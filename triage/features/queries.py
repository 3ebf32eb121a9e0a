"""Evaluating one feature for a frame of queries: the window, member and row ops of the registry.

:class:`Queries` holds the rows features are computed for, with encodings and window look-ups
cached so that features of one source, key and window share them; :func:`compute` evaluates one
:class:`~triage.features.registry.Feature` over a prepared :class:`~triage.features.history.History`.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from triage.contract import LOCAL_ZONE, TIMEZONE
from triage.features.columns import NAT_NS, Columns, as_float, take
from triage.features.history import History
from triage.features.registry import HISTORY_OPS, KEYED_BY, Feature
from triage.features.text_scores import TEXT_SCORES
from triage.features.windows import (
    DAY_NS,
    EventIndex,
    last_position,
    window_count,
    window_max,
    window_mean,
    window_min,
    window_positions,
)


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
        [datetime.fromtimestamp(t // 10**9, LOCAL_ZONE).year for t in times_ns.tolist()],
        dtype=np.float64,
    )


def _days_between(earlier_ns: np.ndarray, present: np.ndarray, later_ns: np.ndarray) -> np.ndarray:
    """Days from ``earlier`` to ``later`` (fractional), NaN where ``earlier`` is missing."""
    return np.where(present, (later_ns - np.where(present, earlier_ns, 0)) / DAY_NS, np.nan)


def _latest(values: np.ndarray, last: np.ndarray) -> np.ndarray:
    return take(values, last)


def _extreme_without_own(
    op: str,
    values: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    row_ids: np.ndarray,
    own_ids: np.ndarray,
) -> np.ndarray:
    """``max``/``min`` of each window's values, skipping the rows whose id is the query's own
    (its own case's mediations are not "earlier"); NaN for none."""
    query, position = window_positions(lo, hi)
    kept = row_ids[position] != own_ids[query]
    result = np.full(len(lo), np.nan)
    reduce = np.fmax if op == "max" else np.fmin
    reduce.at(result, query[kept], values[position[kept]])
    return result


def _history_op(feature: Feature, queries: Queries) -> np.ndarray:
    """``count``/``trend``/``max``/``min``/``mean``/``latest``/``latest_age_days`` over a window of
    source rows."""
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
    if feature.op == "trend":
        far, _ = queries.window(index, feature.query_key, codes, feature.reach)
        recent, earlier = window_count(lo, hi), window_count(far, lo)
        return np.log((1 + recent) / (1 + earlier * feature.window / feature.baseline))
    values = rows.floats(feature.value) if feature.value else np.full(len(index), np.nan)
    if feature.op in ("max", "min") and feature.exclude:
        query_column, source_column = feature.exclude
        own = queries.codes(query_column, source_column)
        return _extreme_without_own(feature.op, values, lo, hi, rows.ids(source_column), own)
    if feature.op == "max":
        return window_max(values, lo, hi)
    if feature.op == "min":
        return window_min(values, lo, hi)
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
    if feature.side != "case":
        # no such party (e.g. no counterparty): unknown, not 0
        values = np.where(queries.missing(feature.query_key), np.nan, values)
    return values
