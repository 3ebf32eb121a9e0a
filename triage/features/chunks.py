"""A large city's features built a chunk of households at a time.

Every feature reads the rows of one side of its query: the case's household, its counterparty's,
the pair of them, the case's own mediations, a person, or that person's household and members
(:mod:`triage.features.registry`).  So the features of a set of queries need only the rows of the
households they name, and a :class:`~triage.features.history.History` of those rows gives the same
values as one of the whole city (``tests/features/test_chunks.py`` compares them).  The whole
city's ``History`` is about twice the size of its tables (9 GB at a million households); built per
chunk it is a fraction of that, and the peak is the tables plus one chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from triage.features.history import SOURCE_COLUMNS
from triage.memory import release_memory

#: Queries (cases or persons) per chunk; a build with more reads the history a chunk at a time.
QUERIES_PER_CHUNK = 25_000

#: The tables' household columns, which decide the rows a household's features read.
_HOUSEHOLD_COLUMNS = (
    ("households", "household_id"),
    ("persons", "household_id"),
    ("hotline_calls", "household_id"),
    ("incidents", "household_id"),
    ("cases", "household_id"),
    ("cases", "counterparty_household_id"),
)
_PERSON_COLUMNS = (
    ("persons", "person_id"),
    ("screenings", "person_id"),
    ("psych_assessments", "person_id"),
)
_CASE_COLUMNS = (("cases", "case_id"), ("mediation_events", "case_id"))

Tables = Mapping[str, pd.DataFrame]
Chunk = tuple[np.ndarray, dict[str, pd.DataFrame]]


def chunked(tables, queries: int) -> bool:
    """Whether a build of ``queries`` rows on ``tables`` goes chunk by chunk: typed frames only
    (a ``History`` or column arrays are a request's, already small), when the queries or the
    city's cases are more than a chunk.  A few queries on a large city are then one chunk of the
    rows of their households, not a History of the whole city."""
    return (
        isinstance(tables, Mapping)
        and all(isinstance(frame, pd.DataFrame) for frame in tables.values())
        and max(queries, len(tables.get("cases", ()))) > QUERIES_PER_CHUNK
    )


def case_chunks(cases: pd.DataFrame, tables: Tables) -> Iterator[Chunk]:
    """(positions in ``cases``, the rows of ``tables`` their features read) per chunk of households;
    a household's cases are all in one chunk, with the rows of their counterparties.  One chunk,
    the tables as given, when the build is not :func:`chunked`."""
    if not chunked(tables, len(cases)):
        yield np.arange(len(cases)), tables
        return
    split = _HouseholdSplit(tables)
    counterparties = (
        cases["counterparty_household_id"] if "counterparty_household_id" in cases else None
    )
    yield from split.chunks(
        split.household_codes(cases["household_id"]),
        None if counterparties is None else split.household_codes(counterparties),
    )


def person_chunks(points: pd.DataFrame, tables: Tables) -> Iterator[Chunk]:
    """As :func:`case_chunks`, for person queries (``person_id``), grouped by their household."""
    split = _HouseholdSplit(tables)
    persons = split.person_codes(points["person_id"])
    yield from split.chunks(split.households_of_persons(persons), persons=persons)


def joined(chunks: Iterator[Chunk], work, size: int):
    """``work(positions, tables)`` of each chunk (a frame or an array), joined in the order of the
    ``size`` queries.

    A frame's float columns (the features) are written into place as each chunk is done, so they
    are held once, not once in parts and again joined: a million cases' features are 0.8 GB.
    """
    floats: dict[str, np.ndarray] = {}
    positions, parts, names = [], [], None
    for rows, part in chunks:
        result = work(rows, part)
        del part  # freed before the next chunk is cut
        positions.append(rows)
        if isinstance(result, pd.DataFrame):
            names = list(result.columns)
            for name in names:
                if result[name].dtype == np.float64:
                    floats.setdefault(name, np.empty(size))[rows] = result[name].to_numpy()
            result = result.drop(columns=[name for name in names if name in floats])
        parts.append(result)
    order = np.argsort(np.concatenate(positions), kind="stable")
    if names is None:
        return np.concatenate(parts)[order]
    rest = pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)
    return pd.DataFrame(
        {name: floats[name] if name in floats else rest[name] for name in names}, copy=False
    )


def _selected(codes: np.ndarray, chosen: np.ndarray, size: int) -> np.ndarray:
    """Which ``codes`` are among ``chosen`` (code -1, missing, never is)."""
    flags = np.zeros(size + 1, dtype=bool)
    flags[chosen[chosen >= 0]] = True
    return flags[codes]  # code -1 reads the last slot: False


class _HouseholdSplit:
    """The tables with their household, case and person ids as integer codes, so that the rows of
    a chunk of households are picked with array look-ups."""

    def __init__(self, tables: Tables):
        self.tables = dict(tables)
        #: Arrow tables of the columns a History reads (strings are shared, not copied): a chunk
        #: copies no other column, and filtering rows with Arrow costs a tenth of pandas' boolean
        #: indexing of string columns.
        self._arrow = {
            name: pa.Table.from_pandas(
                frame[[c for c in SOURCE_COLUMNS.get(name, []) if c in frame]], preserve_index=False
            )
            for name, frame in self.tables.items()
        }
        self._household, self.households = self._encode(_HOUSEHOLD_COLUMNS)
        self._person, self.persons = self._encode(_PERSON_COLUMNS)
        self._case, self.cases = self._encode(_CASE_COLUMNS)

    def _encode(self, columns) -> tuple[dict, pd.Index]:
        present = [(t, c) for t, c in columns if t in self.tables and c in self.tables[t]]
        values = [self.tables[t][c].astype("string") for t, c in present]
        if not values:
            return {}, pd.Index([])
        codes, distinct = pd.factorize(pd.concat(values, ignore_index=True))
        parts = np.split(codes, np.cumsum([len(v) for v in values])[:-1])
        return dict(zip(present, parts)), pd.Index(distinct)

    def household_codes(self, households: pd.Series) -> np.ndarray:
        return self.households.get_indexer(households.astype("string"))

    def person_codes(self, persons: pd.Series) -> np.ndarray:
        return self.persons.get_indexer(persons.astype("string"))

    def households_of_persons(self, persons: np.ndarray) -> np.ndarray:
        """The household code of each person code (-1 when the person is not in the persons table)."""
        household_of_person = np.full(len(self.persons) + 1, -1)
        if ("persons", "person_id") in self._person:
            household_of_person[self._person["persons", "person_id"]] = self._household[
                "persons", "household_id"
            ]
        return household_of_person[persons]  # code -1 reads the last slot: -1

    def chunks(
        self,
        households: np.ndarray,
        also: np.ndarray | None = None,
        persons: np.ndarray | None = None,
    ) -> Iterator[Chunk]:
        """Queries grouped by household code into chunks of about ``QUERIES_PER_CHUNK``; with
        each, the rows of its households, of ``also`` (another household each query reads) and of
        ``persons`` (the person each query is about, in or out of the persons table)."""
        count = max(-(-len(households) // QUERIES_PER_CHUNK), 1)
        # queries without a known household are dealt out in turn
        chunk_of = np.where(households >= 0, households, np.arange(len(households))) % count
        for chunk in range(count):
            release_memory()  # the last chunk's History and rows, before the next one is cut
            rows = np.flatnonzero(chunk_of == chunk)
            wanted = [households[rows]] + ([] if also is None else [also[rows]])
            asked = np.empty(0, dtype=np.int64) if persons is None else persons[rows]
            yield rows, self.rows_of(np.concatenate(wanted), asked)
        release_memory()

    def rows_of(self, households: np.ndarray, persons: np.ndarray) -> dict[str, pd.DataFrame]:
        """The rows of every table that a feature of ``households`` (and of ``persons``) can read."""
        size = len(self.households)

        def of_households(table: str, column: str = "household_id") -> np.ndarray:
            return _selected(self._household[table, column], households, size)

        out = {}
        for table in ("households", "hotline_calls", "incidents"):
            if (table, "household_id") in self._household:
                out[table] = self._rows(table, of_households(table))
        if "cases" in self.tables:
            involved = of_households("cases")
            if ("cases", "counterparty_household_id") in self._household:
                involved |= of_households("cases", "counterparty_household_id")
            out["cases"] = self._rows("cases", involved)
            if "mediation_events" in self.tables:
                case_codes = self._case["cases", "case_id"][involved]
                events = _selected(
                    self._case["mediation_events", "case_id"], case_codes, len(self.cases)
                )
                out["mediation_events"] = self._rows("mediation_events", events)
        person_codes = persons
        if "persons" in self.tables:
            members = of_households("persons")
            out["persons"] = self._rows("persons", members)
            person_codes = np.concatenate([self._person["persons", "person_id"][members], persons])
        for table in ("screenings", "psych_assessments"):
            if (table, "person_id") in self._person:
                rows = _selected(self._person[table, "person_id"], person_codes, len(self.persons))
                out[table] = self._rows(table, rows)
        return out

    def _rows(self, table: str, keep: np.ndarray) -> pd.DataFrame:
        """The rows of ``table`` where ``keep``, in the History's columns and the frame's types."""
        kept = self._arrow[table].filter(pa.array(keep)).to_pandas(types_mapper=_PANDAS_TYPES.get)
        return kept.astype(self.tables[table].dtypes[kept.columns].to_dict())


#: Arrow types read back as the typed frames' pandas types (``TYPED_DTYPES``), not numpy's.
_PANDAS_TYPES = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.large_string(): pd.StringDtype("pyarrow"),
    pa.bool_(): pd.BooleanDtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.float64(): pd.Float64Dtype(),
}
