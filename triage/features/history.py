"""The history a feature reads, prepared once per build.

``History`` turns the exchange tables into the few sources the registry names, keyed the way
its sides need (household, case, person), with derived columns (threat flag, learned text
score, ordinal ranks).  ``status``, ``closed_at``, PII and ethnicity are dropped here and never
reach a feature.  Ids are encoded once as integer codes, so every window look-up
(:mod:`triage.features.queries`) works on integer arrays.  One ``History`` serves a request's
case features, person features, rule tiers and route facts.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from triage.features.columns import Columns, as_objects, columns_of, empty_columns
from triage.features.registry import FEATURE_CONFIG, TIME_AND_ID
from triage.features.text_scores import TEXT_SCORES
from triage.features.windows import DAY_NS, EventIndex, window_positions

#: The columns each source keeps (everything else, including status/closed_at/PII, is dropped).
SOURCE_COLUMNS = {
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
_ID_KINDS = ("household_id", "case_id", "person_id", "assessment_id", "household_pair")
#: Joins a case's two household ids into its ``household_pair`` key (a character no id holds).
PAIR_SEPARATOR = "\x1f"


def household_pairs(households, counterparties) -> np.ndarray:
    """The unordered key of each (household, counterparty): the same whichever role each had;
    None when either is missing."""
    return np.array(
        [
            None if pd.isna(a) or pd.isna(b) else PAIR_SEPARATOR.join(sorted((a, b)))
            for a, b in zip(as_objects(households), as_objects(counterparties))
        ],
        dtype=object,
    )


def _table(tables: Mapping[str, pd.DataFrame | Columns], name: str) -> Columns:
    table = tables.get(name)
    if table is None:
        return empty_columns(name, SOURCE_COLUMNS[name])
    if isinstance(table, pd.DataFrame):
        return columns_of(name, table, SOURCE_COLUMNS[name])
    return {column: table[column] for column in SOURCE_COLUMNS[name]}


def _rows(columns: Columns, positions: np.ndarray) -> Columns:
    return {name: values[positions] for name, values in columns.items()}


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


def _mediations_of(mediations: Columns, cases: Columns, key: str) -> Columns:
    """The mediations of ``cases`` keyed by their ``key``, with ``days_in_case``: days from the
    case's opening to the mediation (how fast a case climbs the ladder)."""
    event_rows, case_rows = _pairs_by_key(mediations["case_id"], cases["case_id"])
    keyed = _rows(mediations, event_rows)
    keyed[key] = cases[key][case_rows]
    keyed["days_in_case"] = (keyed["at"] - cases["opened_at"][case_rows]) / DAY_NS
    return keyed


def _sorted_codes(ids: np.ndarray) -> np.ndarray:
    """Codes of ``ids`` in sorted order, -1 for missing (``pd.factorize(sort=True)``, sorted in C)."""
    present = ~pd.isna(ids)
    codes = np.full(len(ids), -1, dtype=np.int64)
    if present.any():
        codes[present] = np.unique(ids[present].astype(str), return_inverse=True)[1].reshape(-1)
    return codes


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

        between = {
            "case_id": cases["case_id"][as_counterparty],
            "opened_at": cases["opened_at"][as_counterparty],
            "household_pair": household_pairs(
                cases["household_id"][as_counterparty],
                cases["counterparty_household_id"][as_counterparty],
            ),
        }

        mediations = _table(tables, "mediation_events")
        mediations["level_rank"] = _ranked(mediations["level"], ranks["level"])
        household_mediations = _mediations_of(mediations, involvement, "household_id")
        pair_mediations = _mediations_of(mediations, between, "household_pair")

        assessments = _table(tables, "psych_assessments")
        assessments["tier_rank"] = _ranked(assessments["tier"], ranks["tier"])

        sources = {
            ("hotline_calls", "household_id"): calls,
            ("incidents", "household_id"): _table(tables, "incidents"),
            ("cases", "household_id"): involvement,
            ("cases", "household_pair"): between,
            ("mediation_events", "household_id"): household_mediations,
            ("mediation_events", "household_pair"): pair_mediations,
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
