"""The history a feature reads, prepared once per build, and the computation of each op.

``History`` turns the typed exchange tables into the few sources the registry names, keyed
the way its sides need (household, case, person), with derived columns (threat flag, learned
text score, ordinal ranks).  ``status``, ``closed_at``, PII and ethnicity are dropped here and
never reach a feature.  ``compute`` then evaluates one :class:`Feature` for a frame of queries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from triage.contract import TIMEZONE, empty_typed_frame
from triage.features.registry import FEATURE_CONFIG, HISTORY_OPS, Feature
from triage.features.text import carries_threat
from triage.features.windows import (
    DAY_NS, EventIndex, last_position, to_ns, window_count, window_max, window_mean,
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
#: (time column, id column) of each time-stamped source.
_TIME_AND_ID = {
    "hotline_calls": ("received_at", "call_id"), "cases": ("opened_at", "case_id"),
    "mediation_events": ("at", "event_id"), "screenings": ("at", "screening_id"),
    "psych_assessments": ("at", "assessment_id"), "incidents": ("occurred_at", "incident_id"),
}
#: Which key a side reads the source by.
_KEYED_BY = {"household": "household_id", "counterparty": "household_id", "case": "case_id",
             "person": "person_id"}


def as_float(values: pd.Series) -> np.ndarray:
    """Numbers/booleans as float64 with NaN for missing (LightGBM's missing value)."""
    return values.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def _days_between(earlier: pd.Series, later: pd.Series) -> np.ndarray:
    """Days from ``earlier`` to ``later`` (fractional), NaN where ``earlier`` is missing."""
    earlier = earlier.reset_index(drop=True)
    present = earlier.notna().to_numpy()
    elapsed_ns = to_ns(later) - np.where(present, to_ns(earlier), 0)
    days = elapsed_ns / DAY_NS
    return np.where(present, days, np.nan)


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    frame = tables.get(name)
    if frame is None or frame.empty:
        frame = empty_typed_frame(name)
    return frame[_KEEP[name]].reset_index(drop=True)


class History:
    """Typed tables prepared for feature queries; window indexes are built on first use.

    Ids are encoded once as integer codes per id kind (household, case, person, assessment),
    so every window look-up works on integer arrays.
    """

    def __init__(self, tables: dict[str, pd.DataFrame], text_model=None):
        self.text_model = text_model
        ranks = FEATURE_CONFIG["ranks"]
        self.households = _table(tables, "households").drop_duplicates("household_id").set_index("household_id")
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

        #: (source, key column) → frame with that key; a household's cases and mediations
        #: include those where it is the counterparty.
        self._sources = {
            ("hotline_calls", "household_id"): calls,
            ("incidents", "household_id"): _table(tables, "incidents"),
            ("cases", "household_id"): involvement,
            ("mediation_events", "household_id"): household_mediations,
            ("mediation_events", "case_id"): mediations,
            ("screenings", "person_id"): _table(tables, "screenings"),
            ("psych_assessments", "person_id"): assessments,
        }
        self._vocabulary = {
            kind: pd.Index(pd.concat([frame[kind] for frame in (*self._sources.values(), self.persons)
                                      if kind in frame.columns]).dropna().unique())
            for kind in ("household_id", "case_id", "person_id", "assessment_id")
        }
        self._indexes: dict[tuple, tuple[EventIndex, pd.DataFrame]] = {}
        self._distinct_times: dict[tuple[str, str], np.ndarray] = {}
        self._member_flags: dict[str, np.ndarray] = {}
        for (source, key), frame in self._sources.items():   # the costly parts, once per source
            time_column, id_column = _TIME_AND_ID[source]
            times = to_ns(frame[time_column])
            distinct_times, time_ranks = np.unique(times, return_inverse=True)
            frame["_code"] = self.encode(key, frame[key])
            frame["_time_rank"] = time_ranks
            frame["_tiebreak"] = pd.factorize(frame[id_column].astype("string"), sort=True)[0]
            if key != "case_id" and "case_id" in frame.columns:
                frame["_case_code"] = self.encode("case_id", frame["case_id"])
            self._distinct_times[source, key] = distinct_times

    def encode(self, kind: str, ids: pd.Series) -> np.ndarray:
        """Integer codes of ``ids`` (an id column of ``kind``); -1 for missing or unseen ids."""
        return self._vocabulary[kind].get_indexer(ids.astype("string")).astype(np.int64)

    def pair_code(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """One code for a (household, case) pair; -1 when either is -1."""
        stride = len(self._vocabulary["case_id"]) + 1
        return np.where((first >= 0) & (second >= 0), first * stride + second, -1)

    def rows(self, source: str, key: str, where=(), with_case: bool = False):
        """The window index of ``source`` rows passing ``where``, keyed by ``key`` (and case)."""
        cache_key = (source, key, where, with_case)
        if cache_key not in self._indexes:
            frame = self._sources[(source, key)]
            for column, allowed in where:
                frame = frame[frame[column].isin(list(allowed))]
            frame = frame.reset_index(drop=True)
            codes = frame["_code"].to_numpy()
            if with_case:
                codes = self.pair_code(codes, frame["_case_code"].to_numpy())
            index = EventIndex(codes, to_ns(frame[_TIME_AND_ID[source][0]]), frame["_tiebreak"].to_numpy(),
                               self._distinct_times[source, key], frame["_time_rank"].to_numpy())
            self._indexes[cache_key] = (index, frame)
        return self._indexes[cache_key]

    def member_flag(self, flag: str) -> np.ndarray:
        """Per household code: 1 if a member has ``flag``, 0 if recorded but never true, else NaN."""
        if flag not in self._member_flags:
            per_household = np.full(len(self._vocabulary["household_id"]) + 1, np.nan)
            np.fmax.at(per_household, self.encode("household_id", self.persons["household_id"]),
                       as_float(self.persons[flag]))
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
        self._codes: dict[str, np.ndarray] = {}
        self._members: dict[str, pd.DataFrame] = {}

    def __len__(self) -> int:
        return len(self.frame)

    def codes(self, column: str, kind: str | None = None) -> np.ndarray:
        """Integer codes of a query column (``kind``: the id kind, default the column's name)."""
        if column not in self._codes:
            self._codes[column] = self.history.encode(kind or column, self.frame[column])
        return self._codes[column]

    def members(self, column: str) -> pd.DataFrame:
        """One row per (query, member of the household in ``column``): query, person code, as_of."""
        if column not in self._members:
            persons = self.history.persons
            people = pd.DataFrame({"household": self.history.encode("household_id", persons["household_id"]),
                                   "person": self.history.encode("person_id", persons["person_id"])})
            queries = pd.DataFrame({"query": np.arange(len(self)), "household": self.codes(column, "household_id"),
                                    "as_of_ns": self.as_of_ns})
            self._members[column] = queries[queries["household"] >= 0].merge(people, on="household")
        return self._members[column]


def _latest(values: np.ndarray, last: np.ndarray) -> np.ndarray:
    return np.where(last >= 0, values[np.maximum(last, 0)] if len(values) else np.nan, np.nan)


def _history_op(feature: Feature, queries: Queries) -> np.ndarray:
    """``count``/``max``/``mean``/``latest``/``latest_age_days`` over a window of source rows."""
    history, key_kind = queries.history, _KEYED_BY[feature.side]
    codes = queries.codes(feature.query_key, key_kind)
    index, frame = history.rows(feature.source, key_kind, feature.where)
    lo, hi = index.window(codes, queries.as_of_ns, feature.window)
    if feature.op == "count":
        counts = window_count(lo, hi)
        if feature.exclude:                   # minus the rows of the query's own case
            own, _ = history.rows(feature.source, key_kind, feature.where, with_case=True)
            pairs = history.pair_code(codes, queries.codes(feature.exclude[0], "case_id"))
            counts -= window_count(*own.window(pairs, queries.as_of_ns, feature.window))
        return counts
    values = (index.sorted_values(as_float(frame[feature.value])) if feature.value
              else np.full(len(index), np.nan))
    if feature.op == "max":
        return window_max(values, lo, hi)
    if feature.op == "mean":
        return window_mean(values, lo, hi)
    sorted_ids = excluded = None
    if feature.exclude:                       # skip the query's own row (e.g. its assessment)
        query_column, source_column = feature.exclude
        sorted_ids = index.sorted_values(history.encode(source_column, frame[source_column]))
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
    members = queries.members(feature.query_key)
    index, frame = history.rows(feature.source, "person_id", feature.where)
    lo, hi = index.window(members["person"].to_numpy(), members["as_of_ns"].to_numpy(), feature.window)
    latest = _latest(index.sorted_values(as_float(frame[feature.value])), last_position(lo, hi))
    highest = np.full(len(queries), np.nan)
    np.fmax.at(highest, members["query"].to_numpy(), latest)
    return highest


def _row_op(feature: Feature, queries: Queries) -> np.ndarray | pd.Series:
    """Ops that read one row: the case itself, the household or the person."""
    history, as_of = queries.history, queries.as_of
    keys = queries.frame[feature.query_key].astype("string")
    if feature.source == "households":
        rows = history.households.reindex(keys.to_numpy())
        days = _days_between(rows["registered_at"], as_of)
        registered = days >= 0                      # NaN (unknown household) compares False
        if feature.op == "days_since":
            return np.where(registered, days, np.nan)
        column = rows[feature.value].reset_index(drop=True)
        if feature.kind == "categorical":
            return column.where(registered)
        return np.where(registered, as_float(column), np.nan)
    if feature.source == "persons":
        column = history.persons.set_index("person_id").reindex(keys.to_numpy())[feature.value].reset_index(drop=True)
        if feature.op == "age_years":
            return as_float(as_of.dt.tz_convert(TIMEZONE).dt.year) - as_float(column)
        return column if feature.kind == "categorical" else as_float(column)
    column = queries.frame[feature.value]            # the case row itself
    if feature.op == "attribute":
        return column if feature.kind == "categorical" else as_float(column)
    if feature.op == "log1p":
        return np.log1p(as_float(column))
    if feature.op == "present":
        return column.notna().to_numpy(dtype=np.float64)
    if feature.op == "days_since":
        return _days_between(column, as_of)
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
        values = np.where(queries.frame[feature.query_key].isna().to_numpy(), np.nan, values)
    return values
