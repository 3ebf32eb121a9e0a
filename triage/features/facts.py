"""The facts routing rules test (``triage.routing.FACTS``), computed point in time for many cases at once.

Each fact looks only at history rows whose own time is ≤ the case's ``as_of``, of the case's
household and counterparty household (and, for person facts, their members and the persons
named in the request).  They are read from the same ``History`` window indexes as the features
(a request builds one and shares it), and a row seen from both households counts once.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from triage.contract import ESCALATION_OFFENCES
from triage.features import normalise, point_columns
from triage.features.columns import Columns, as_float, take
from triage.features.history import History, Rows
from triage.features.windows import window_max, window_positions
from triage.routing import FACTS

FAILED_OUTCOMES = ("no_agreement", "party_absent")
#: The case columns the facts read (``as_of`` in UTC), and those that may be absent.
CASE_COLUMNS = ("case_id", "household_id", "as_of", "parties_count")
OPTIONAL_CASE_COLUMNS = ("counterparty_household_id", "amount_cny", "description")
PERSON_FLAGS = {
    "alcohol_problem_persons": "alcohol_problem",
    "prior_conviction_persons": "prior_conviction",
    "mental_health_registry_persons": "mental_health_registry",
}


def _count_distinct(query: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """Per query 0..n-1: how many distinct ``ids`` its (query, id) pairs hold."""
    if len(query) == 0:
        return np.zeros(n)
    stride = int(ids.max()) + 1
    pairs = np.unique(query * stride + ids)
    return np.bincount(pairs // stride, minlength=n).astype(np.float64)


def _window_rows(
    rows: Rows, sides: list[np.ndarray], as_of_ns: np.ndarray, days: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(query, position in ``rows``) of every row in each query's window, over all sides' keys."""
    queries, positions = [], []
    for codes in sides:
        query, position = window_positions(*rows.index.window(codes, as_of_ns, days))
        queries.append(query)
        positions.append(position)
    return np.concatenate(queries), np.concatenate(positions)


def _distinct_rows(
    rows: Rows, sides: list[np.ndarray], as_of_ns: np.ndarray, days: int | None, keep=None
) -> np.ndarray:
    """Per query: distinct rows in its window over all sides, where ``keep(query, position)``."""
    query, position = _window_rows(rows, sides, as_of_ns, days)
    if keep is not None:
        chosen = keep(query, position)
        query, position = query[chosen], position[chosen]
    return _count_distinct(query, rows.row_ids()[position], len(as_of_ns))


def _mentions(texts, pattern: re.Pattern) -> np.ndarray:
    """Whether each (normalised) text matches; missing text does not. Each distinct text is read once."""
    codes, distinct = pd.factorize(texts)
    hits = np.array([bool(pattern.search(normalise(text))) for text in distinct], dtype=bool)
    return take(hits, codes, False).astype(bool)


def route_facts(
    cases: pd.DataFrame,
    named: pd.DataFrame,
    tables: dict[str, pd.DataFrame] | History,
    weapon_words: list[str],
) -> pd.DataFrame:
    """One row of facts per case (indexed like ``cases``).

    ``cases``: the case columns plus ``as_of`` (UTC); ``named``: ``row`` (the case's index) and
    ``person_id`` of the persons named in the request; ``tables``: typed history frames, or
    their :class:`History` when the caller has built it already.
    """
    history = tables if isinstance(tables, History) else History(tables)
    named_rows = cases.index.get_indexer(named["row"])
    facts = _facts(
        point_columns(cases, CASE_COLUMNS, OPTIONAL_CASE_COLUMNS),
        named_rows,
        named["person_id"].to_numpy(dtype=object),
        history,
        weapon_words,
    )
    return pd.DataFrame(facts, index=cases.index)


def route_fact_records(
    cases: Columns,
    named_rows: np.ndarray,
    named_persons: np.ndarray,
    history: History,
    weapon_words: list[str],
) -> list[dict[str, float]]:
    """:func:`route_facts` as one ``{fact: value}`` per case, in order (``to_dict("records")`` of
    the frame, without building it: the service wants records, and a frame costs more than the facts).
    ``cases`` are :data:`CASE_COLUMNS` as :func:`triage.features.point_columns` gives them;
    ``named_rows`` the position of each named person's case in them."""
    facts = _facts(cases, named_rows, named_persons, history, weapon_words)
    return [dict(zip(facts, row)) for row in np.column_stack(list(facts.values())).tolist()]


def _facts(
    cases: Columns,
    named_rows: np.ndarray,
    named_persons: np.ndarray,
    history: History,
    weapon_words: list[str],
) -> dict[str, np.ndarray]:
    """Each fact (``FACTS`` order) as a float64 array over ``cases``."""
    n = len(cases["as_of"])
    as_of_ns = cases["as_of"]
    household = history.encode("household_id", cases["household_id"])
    counterparty = history.encode("household_id", cases["counterparty_household_id"])
    sides = [household, np.where(counterparty == household, -1, counterparty)]
    own_case = history.encode("case_id", cases["case_id"])
    out = {}

    incidents = history.rows("incidents", "household_id")
    violent = history.rows("incidents", "household_id", (("offence", tuple(ESCALATION_OFFENCES)),))
    threats = history.rows("incidents", "household_id", (("offence", ("threat",)),))
    out["incidents_12m"] = _distinct_rows(incidents, sides, as_of_ns, 365)
    out["violent_incidents_prior"] = _distinct_rows(violent, sides, as_of_ns, None)
    out["threat_incidents_30d"] = _distinct_rows(threats, sides, as_of_ns, 30)

    if weapon_words:
        weapons = re.compile("|".join(re.escape(normalise(w)) for w in weapon_words))
        calls = history.rows("hotline_calls", "household_id")
        named_weapon = calls.sorted(_mentions(calls.source.frame["text"], weapons))
        out["weapon_mentions_30d"] = _distinct_rows(
            calls, sides, as_of_ns, 30, keep=lambda q, p: named_weapon[p]
        ) + _mentions(cases["description"], weapons)
    else:
        out["weapon_mentions_30d"] = np.zeros(n)

    def not_own_case(rows: Rows):
        case_ids = rows.ids("case_id")
        return lambda q, p: case_ids[p] != own_case[q]

    prior = history.rows("cases", "household_id")
    out["prior_cases_12m"] = _distinct_rows(prior, sides, as_of_ns, 365, keep=not_own_case(prior))
    failed = history.rows("mediation_events", "household_id", (("outcome", FAILED_OUTCOMES),))
    out["failed_mediations_12m"] = _distinct_rows(
        failed, sides, as_of_ns, 365, keep=not_own_case(failed)
    )

    query, person = [], []
    for codes in sides:
        member_query, member_rows = history.members(codes)
        query.append(member_query)
        person.append(history.person_codes[member_rows])
    query.append(np.asarray(named_rows, dtype=np.int64))
    person.append(history.encode("person_id", named_persons))
    query, person = np.concatenate(query), np.concatenate(person)
    known = person >= 0
    query, person = query[known], person[known]
    person_rows = history.positions(person, "person_id")
    for fact, column in PERSON_FLAGS.items():
        flagged = take(history.person_column(column), person_rows) == 1
        out[fact] = _count_distinct(query[flagged], person[flagged], n)
    phq9 = history.rows("screenings", "person_id", (("instrument", ("phq9",)),))
    lo, hi = phq9.index.window(person, as_of_ns[query], 90)
    highest = np.full(n, np.nan)
    np.fmax.at(highest, query, window_max(phq9.floats("item9"), lo, hi))
    out["max_item9_90d"] = np.where(np.isnan(highest), -1.0, highest)

    out["parties_count"] = as_float(cases["parties_count"])
    out["amount_cny"] = np.nan_to_num(as_float(cases["amount_cny"]), nan=-1.0)
    return {fact: np.asarray(out[fact], dtype=np.float64) for fact in FACTS}
