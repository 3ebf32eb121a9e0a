"""Point-in-time feature frames for the escalation and tier models, and the rule-based tier.

Training, batch scoring and the HTTP service all call these functions with typed frames
(``TYPED_DTYPES``); the service passes the history it read from its database.  A row's
features use only history rows whose own time is ≤ its ``as_of`` (CONTRACT.md "Point in time").
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from triage.config import load_domain
from triage.contract import TIMEZONE
from triage.features.history import History, Queries, compute, take
from triage.features.registry import Feature, features_of
from triage.features.windows import last_position, to_ns

CASE_COLUMNS_REQUIRED = ("case_id", "as_of", "opened_at", "household_id", "dispute_type", "source",
                         "parties_count")
CASE_COLUMNS_OPTIONAL = ("counterparty_household_id", "amount_cny", "description")


def as_utc(values: pd.Series) -> pd.Series:
    """Timestamps as ``datetime64[ns, UTC]``; values without an offset are Asia/Shanghai."""
    values = pd.Series(values).reset_index(drop=True)
    if values.dtype == "datetime64[ns, UTC]":
        return values
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.Series([pd.Timestamp(v) if pd.notna(v) else pd.NaT for v in values], dtype=object)
        values = pd.Series([v.tz_localize(TIMEZONE) if v is not pd.NaT and v.tzinfo is None else v
                            for v in values])
        values = pd.to_datetime(values, utc=True)
    elif values.dt.tz is None:
        values = values.dt.tz_localize(TIMEZONE)
    return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


@functools.cache
def _categories(categories: tuple[str, ...]) -> tuple[pd.CategoricalDtype, dict[str, int]]:
    return pd.CategoricalDtype(list(categories)), {category: i for i, category in enumerate(categories)}


def _categorical(values: np.ndarray, categories: tuple[str, ...]) -> pd.Categorical:
    """``values`` as a categorical of the contract's codes; anything else (or missing) is missing."""
    dtype, code_of = _categories(categories)
    codes = np.fromiter((code_of.get(v, -1) if isinstance(v, str) else -1 for v in values),
                        dtype=np.int32, count=len(values))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _frame(entity_features: tuple[Feature, ...], rows: pd.DataFrame, history: History,
           id_column: str) -> pd.DataFrame:
    """The feature frame of ``rows``, in their order.

    Rows are computed sorted by (household, as_of): sorted look-ups are several times faster.
    """
    order = np.lexsort((to_ns(rows["as_of"]), history.encode("household_id", rows["household_id"])))
    queries = Queries(rows, history, order)
    back = np.argsort(order)
    columns = {id_column: rows[id_column].astype("string").array, "as_of": rows["as_of"].array}
    for feature in entity_features:
        values = np.asarray(compute(feature, queries))[back]
        if feature.kind == "categorical":
            columns[feature.name] = _categorical(values, feature.categories)
        else:
            columns[feature.name] = values.astype(np.float64, copy=False)
    return pd.DataFrame(columns)


def _checked_as_of(frame: pd.DataFrame) -> pd.Series:
    as_of = as_utc(frame["as_of"])
    if as_of.isna().any():
        raise ValueError("every row needs an as_of time")
    return as_of


def _history(tables: dict[str, pd.DataFrame] | History, text_model=None, texts=None) -> History:
    """``tables`` prepared once; a ``History`` passed in is shared (the service builds one per request)."""
    if not isinstance(tables, History):
        return History(tables, text_model, texts)
    if text_model is not None and tables.text_model is not text_model:
        raise ValueError("the history was prepared with another text model")
    return tables


def build_case_features(cases: pd.DataFrame, tables: dict[str, pd.DataFrame] | History, *,
                        text_model=None) -> pd.DataFrame:
    """One row of escalation features per ``cases`` row, as of its ``as_of``, in input order.

    ``cases`` holds the contract's case columns plus ``as_of``; a case need not be in
    ``tables["cases"]`` (a new case the service scores is not), and it is never its own prior
    case.  Returns ``case_id``, ``as_of`` and ``feature_names("case")`` (float64, or
    ``category`` with the contract's codes).  ``text_model`` (a fitted :class:`CallTextModel`)
    gives the text-score features; without it they are NaN.  ``tables`` may be a
    :class:`History` of them (built with the same ``text_model``), to share it between builds.
    """
    missing = [c for c in CASE_COLUMNS_REQUIRED if c not in cases.columns]
    if missing:
        raise ValueError(f"cases lack columns {missing}")
    queries = cases.reset_index(drop=True).copy()
    for column in CASE_COLUMNS_OPTIONAL:
        if column not in queries.columns:
            queries[column] = pd.NA
    queries["as_of"] = _checked_as_of(queries)
    queries["opened_at"] = as_utc(queries["opened_at"])
    return _frame(features_of("case"), queries, _history(tables, text_model, queries["description"]), "case_id")


def _person_rows(points: pd.DataFrame, history: History) -> pd.DataFrame:
    if not {"person_id", "as_of"} <= set(points.columns):
        raise ValueError("points need person_id and as_of")
    queries = points.reset_index(drop=True).copy()
    queries["as_of"] = _checked_as_of(queries)
    if "exclude_assessment_id" not in queries.columns:
        queries["exclude_assessment_id"] = pd.Series(pd.NA, index=queries.index, dtype="string")
    rows = history.positions(history.encode("person_id", queries["person_id"]), "person_id")
    queries["household_id"] = take(history.person_column("household_id"), rows, None)
    return queries


def build_person_features(points: pd.DataFrame, tables: dict[str, pd.DataFrame] | History) -> pd.DataFrame:
    """One row of tier features per ``points`` row (``person_id``, ``as_of``), in input order.

    ``exclude_assessment_id`` (optional) names an assessment that must not be its own
    "previous tier" (training rows are built as of each assessment).  Returns ``person_id``,
    ``as_of`` and ``feature_names("person")``.  ``tables`` may be a shared :class:`History`.
    """
    history = _history(tables)
    return _frame(features_of("person"), _person_rows(points, history), history, "person_id")


def _latest_recent(queries: Queries, instrument: str, max_age_days: int, column: str) -> np.ndarray:
    rows = queries.history.rows("screenings", "person_id", (("instrument", (instrument,)),))
    lo, hi = rows.index.window(queries.codes("person_id"), queries.as_of_ns, max_age_days)
    return take(rows.floats(column), last_position(lo, hi))


def rule_tiers(points: pd.DataFrame, tables: dict[str, pd.DataFrame] | History) -> pd.Series:
    """The 绿黄红 tier of DOMAIN.md's PHQ-9/GAD-7 rule (``domain.yaml`` ``tier_rule``) per point.

    Uses each instrument's latest screening in ``(as_of - max_age_days, as_of]``; NA where the
    person has no such screening (the model serves them).  Indexed like ``points``.
    """
    rule = load_domain()["tier_rule"]
    history = _history(tables)
    queries = Queries(_person_rows(points, history), history)
    days = rule["max_age_days"]
    metrics = {
        "phq9": _latest_recent(queries, "phq9", days, "score"),
        "item9": _latest_recent(queries, "phq9", days, "item9"),
        "gad7": _latest_recent(queries, "gad7", days, "score"),
    }

    def meets(tier: str) -> np.ndarray:
        hit = np.zeros(len(queries), dtype=bool)
        for condition in rule[tier]["any"]:
            holds = np.ones(len(queries), dtype=bool)
            for key, threshold in condition.items():
                holds &= metrics[key.removesuffix("_at_least")] >= threshold   # NaN → False
            hit |= holds
        return hit

    screened = ~(np.isnan(metrics["phq9"]) & np.isnan(metrics["gad7"]))
    tiers = np.select([~screened, meets("red"), meets("yellow")], [None, "red", "yellow"], "green")
    return pd.Series(tiers, index=points.index, dtype="string", name="rule_tier")
