"""Point-in-time feature frames for the escalation and tier models, and the rule-based tier.

Training, batch scoring and the HTTP service all call these functions with typed frames
(``TYPED_DTYPES``); the service passes the history it read from its database.  A row's
features use only history rows whose own time is ≤ its ``as_of`` (docs/data-format.md
"Point in time").
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from triage.config.domain import TierRule
from triage.contract import TIMEZONE
from triage.features.chunks import case_chunks, chunked, joined, person_chunks
from triage.features.columns import NAT_NS, Columns, as_float, as_objects, take
from triage.features.history import History, household_pairs
from triage.features.queries import Queries, compute
from triage.features.registry import Feature, features_of
from triage.features.windows import UTC_NS, last_position, to_ns

CASE_COLUMNS_REQUIRED = (
    "case_id",
    "as_of",
    "opened_at",
    "household_id",
    "dispute_type",
    "source",
    "parties_count",
)
CASE_COLUMNS_OPTIONAL = ("counterparty_household_id", "amount_cny", "description")


def as_utc(values: pd.Series) -> pd.Series:
    """Timestamps as ``datetime64[ns, UTC]``; values without an offset are Asia/Shanghai."""
    values = pd.Series(values).reset_index(drop=True)
    if values.dtype == "datetime64[ns, UTC]":
        return values
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.Series(
            [pd.Timestamp(v) if pd.notna(v) else pd.NaT for v in values], dtype=object
        )
        values = pd.Series(
            [v.tz_localize(TIMEZONE) if v is not pd.NaT and v.tzinfo is None else v for v in values]
        )
        values = pd.to_datetime(values, utc=True)
    elif values.dt.tz is None:
        values = values.dt.tz_localize(TIMEZONE)
    return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


class _Categories(NamedTuple):
    """A categorical feature's contract codes, in the forms the builders need."""

    dtype: pd.CategoricalDtype  # for the training frame's ``category`` column
    code_of: dict[str, int]  # value → code
    by_code: np.ndarray  # code → value (objects), code -1 → None


@functools.cache
def _categories(categories: tuple[str, ...]) -> _Categories:
    return _Categories(
        pd.CategoricalDtype(list(categories)),
        {category: i for i, category in enumerate(categories)},
        np.array([*categories, None], dtype=object),
    )


def _category_codes(values: np.ndarray, categories: tuple[str, ...]) -> np.ndarray:
    """Codes of ``values`` among the contract's codes; anything else (or missing) is -1."""
    code_of = _categories(categories).code_of
    return np.fromiter(
        (code_of.get(v, -1) if isinstance(v, str) else -1 for v in values),
        dtype=np.int32,
        count=len(values),
    )


def _query_array(values: pd.Series) -> np.ndarray:
    """A query column as history arrays hold it: int64 ns for times, objects for ids/codes/text, else float64."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return to_ns(values)
    if pd.api.types.is_string_dtype(values) or values.dtype == object:
        return as_objects(values)
    return as_float(values)


def _computed(
    entity_features: tuple[Feature, ...], queries: Columns, history: History
) -> dict[str, np.ndarray]:
    """Each feature's values for the ``queries`` rows, in their order: float64, or int32 category codes.

    Rows are computed sorted by (household, as_of): sorted look-ups are several times faster.
    """
    order = np.lexsort((queries["as_of"], history.encode("household_id", queries["household_id"])))
    sorted_queries = Queries(queries, history, order)
    back = np.argsort(order)
    out = {}
    for feature in entity_features:
        values = np.asarray(compute(feature, sorted_queries))[back]
        out[feature.name] = (
            _category_codes(values, feature.categories)
            if feature.kind == "categorical"
            else values.astype(np.float64, copy=False)
        )
    return out


def _as_arrays(
    entity_features: tuple[Feature, ...], computed: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Computed features as plain arrays: float64, or objects (the category's code, None when missing)."""
    return {
        f.name: _categories(f.categories).by_code[computed[f.name]]
        if f.kind == "categorical"
        else computed[f.name]
        for f in entity_features
    }


def _as_frame(
    entity_features: tuple[Feature, ...],
    computed: dict[str, np.ndarray],
    ids: pd.Series,
    as_of_ns: np.ndarray,
) -> pd.DataFrame:
    """Computed features as a frame: the row's id and ``as_of``, then float64 or ``category`` columns."""
    columns = {
        ids.name: ids.astype("string").array,
        "as_of": pd.to_datetime(as_of_ns, utc=True).array,
    }
    for feature in entity_features:
        values = computed[feature.name]
        columns[feature.name] = (
            pd.Categorical.from_codes(values, dtype=_categories(feature.categories).dtype)
            if feature.kind == "categorical"
            else values
        )
    return pd.DataFrame(columns)


def _utc_ns(values: pd.Series) -> np.ndarray:
    """``to_ns(as_utc(values))``; UTC nanoseconds already need no conversion (a service request's)."""
    return to_ns(values if values.dtype == UTC_NS else as_utc(values))


def _history(tables: dict[str, pd.DataFrame] | History, text_model=None, texts=None) -> History:
    """``tables`` prepared once; a ``History`` passed in is shared (the service builds one per request)."""
    if not isinstance(tables, History):
        return History(tables, text_model, texts)
    if text_model is not None and tables.text_model is not text_model:
        raise ValueError("the history was prepared with another text model")
    return tables


#: Rows to compute features for: a frame, or its columns as arrays in :data:`Columns` form (times
#: as int64 UTC nanoseconds), which the service builds straight from its requests: selecting and
#: converting a frame's columns costs more than one case's features.
Points = pd.DataFrame | Mapping[str, np.ndarray]


def point_columns(
    points: Points, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Columns:
    """``points`` as :data:`Columns`: times in UTC ns, ids/codes/text objects, else float64;
    ``as_of`` required everywhere, absent optional columns missing."""
    present = points.columns if isinstance(points, pd.DataFrame) else points.keys()
    missing = [c for c in required if c not in present]
    if missing:
        raise ValueError(f"rows lack columns {missing}")
    n = len(points) if isinstance(points, pd.DataFrame) else len(points["as_of"])
    if isinstance(points, pd.DataFrame):
        columns = {
            c: _utc_ns(points[c]) if c in ("as_of", "opened_at") else _query_array(points[c])
            for c in required + optional
            if c in present
        }
    else:
        columns = {c: points[c] for c in required + optional if c in present}
    if (columns["as_of"] == NAT_NS).any():
        raise ValueError("every row needs an as_of time")
    return {
        c: columns[c] if c in columns else np.full(n, None, dtype=object)
        for c in required + optional
    }


def case_columns(cases: Points) -> Columns:
    """The contract's case columns and ``as_of`` of ``cases`` as :data:`Columns` (what the features,
    facts and warnings of a case read), and the ``household_pair`` key of its two households."""
    columns = point_columns(cases, CASE_COLUMNS_REQUIRED, CASE_COLUMNS_OPTIONAL)
    pairs = household_pairs(columns["household_id"], columns["counterparty_household_id"])
    return {**columns, "household_pair": pairs}


def case_feature_arrays(
    cases: Points, tables: dict[str, pd.DataFrame] | History, *, text_model=None
) -> dict[str, np.ndarray]:
    """:func:`build_case_features`' features as plain arrays by name (float64, or objects for a
    category: its code, None when missing), for callers that go straight to a model matrix
    (``FeatureSchema.matrix`` takes them): building and selecting a frame costs more than the
    features of one case.  ``cases`` may be :func:`case_columns` already (the service builds them)."""
    queries = case_columns(cases)
    features = features_of("case")
    return _as_arrays(
        features, _computed(features, queries, _history(tables, text_model, queries["description"]))
    )


def build_case_features(
    cases: pd.DataFrame, tables: dict[str, pd.DataFrame] | History, *, text_model=None
) -> pd.DataFrame:
    """One row of escalation features per ``cases`` row, as of its ``as_of``, in input order.

    ``cases`` holds the contract's case columns plus ``as_of``; a case need not be in
    ``tables["cases"]`` (a new case the service scores is not), and it is never its own prior
    case.  Returns ``case_id``, ``as_of`` and ``feature_names("case")`` (float64, or
    ``category`` with the contract's codes).  ``text_model`` (a fitted :class:`CallTextModel`)
    gives the text-score features; without it they are NaN.  ``tables`` may be a
    :class:`History` of them (built with the same ``text_model``), to share it between builds.
    """
    if chunked(tables, len(cases)):
        return joined(
            case_chunks(cases, tables),
            lambda rows, part: _case_features(cases.iloc[rows], part, text_model),
            len(cases),
        )
    return _case_features(cases, tables, text_model)


def _case_features(cases: pd.DataFrame, tables, text_model) -> pd.DataFrame:
    queries = case_columns(cases)
    features = features_of("case")
    computed = _computed(features, queries, _history(tables, text_model, queries["description"]))
    return _as_frame(features, computed, cases["case_id"], queries["as_of"])


def _person_queries(points: Points, history: History) -> Columns:
    """``person_id``, ``as_of`` and ``exclude_assessment_id`` of ``points`` and each person's household."""
    queries = point_columns(points, ("person_id", "as_of"), ("exclude_assessment_id",))
    rows = history.positions(history.encode("person_id", queries["person_id"]), "person_id")
    return {**queries, "household_id": take(history.person_column("household_id"), rows, None)}


def person_feature_arrays(
    points: Points, tables: dict[str, pd.DataFrame] | History
) -> dict[str, np.ndarray]:
    """:func:`build_person_features`' features as plain arrays by name, as :func:`case_feature_arrays`."""
    history = _history(tables)
    features = features_of("person")
    return _as_arrays(features, _computed(features, _person_queries(points, history), history))


def build_person_features(
    points: pd.DataFrame, tables: dict[str, pd.DataFrame] | History
) -> pd.DataFrame:
    """One row of tier features per ``points`` row (``person_id``, ``as_of``), in input order.

    ``exclude_assessment_id`` (optional) names an assessment that must not be its own
    "previous tier" (training rows are built as of each assessment).  Returns ``person_id``,
    ``as_of`` and ``feature_names("person")``.  ``tables`` may be a shared :class:`History`.
    """
    if chunked(tables, len(points)):
        return joined(
            person_chunks(points, tables),
            lambda rows, part: _person_features(points.iloc[rows], part),
            len(points),
        )
    return _person_features(points, tables)


def _person_features(points: pd.DataFrame, tables) -> pd.DataFrame:
    history = _history(tables)
    queries = _person_queries(points, history)
    features = features_of("person")
    return _as_frame(
        features, _computed(features, queries, history), points["person_id"], queries["as_of"]
    )


def _latest_recent(queries: Queries, instrument: str, max_age_days: int, column: str) -> np.ndarray:
    rows = queries.history.rows("screenings", "person_id", (("instrument", (instrument,)),))
    lo, hi = rows.index.window(queries.codes("person_id"), queries.as_of_ns, max_age_days)
    return take(rows.floats(column), last_position(lo, hi))


def rule_tiers(
    points: pd.DataFrame, tables: dict[str, pd.DataFrame] | History, rule: TierRule
) -> pd.Series:
    """The 绿黄红 tier of the PHQ-9/GAD-7 rule (docs/data-format.md "The labels"; ``domain.yaml``
    ``tier_rule``) per point.

    Uses each instrument's latest screening in ``(as_of - max_age_days, as_of]``; NA where the
    person has no such screening (the model serves them).  Indexed like ``points``.
    """
    return pd.Series(
        rule_tier_values(points, tables, rule), index=points.index, dtype="string", name="rule_tier"
    )


def rule_tier_values(
    points: Points, tables: dict[str, pd.DataFrame] | History, rule: TierRule
) -> np.ndarray:
    """:func:`rule_tiers` as an object array, None where no screening is recent enough."""
    if chunked(tables, len(points)):
        return joined(
            person_chunks(points, tables),
            lambda rows, part: _rule_tier_values(points.iloc[rows], part, rule),
            len(points),
        )
    return _rule_tier_values(points, tables, rule)


def _rule_tier_values(points: Points, tables, rule: TierRule) -> np.ndarray:
    history = _history(tables)
    queries = Queries(_person_queries(points, history), history)
    days = rule.max_age_days
    metrics = {
        "phq9": _latest_recent(queries, "phq9", days, "score"),
        "item9": _latest_recent(queries, "phq9", days, "item9"),
        "gad7": _latest_recent(queries, "gad7", days, "score"),
    }

    def meets(tier: str) -> np.ndarray:
        hit = np.zeros(len(queries), dtype=bool)
        for condition in getattr(rule, tier).any:
            holds = np.ones(len(queries), dtype=bool)
            for key, threshold in condition.items():
                holds &= metrics[key.removesuffix("_at_least")] >= threshold  # NaN → False
            hit |= holds
        return hit

    screened = ~(np.isnan(metrics["phq9"]) & np.isnan(metrics["gad7"]))
    return np.select([~screened, meets("red"), meets("yellow")], [None, "red", "yellow"], "green")
