"""The feature registry: one flat list of feature definitions, read from ``config/features.yaml``.

Every engine computes a feature from its definition alone, so the pandas engine here and a
Spark engine later agree by construction.  What each ``op`` means (``rows`` are the rows of
``source`` whose key is the query's ``side`` key, whose time is in the window ending at
``as_of`` and which pass ``where``):

``count``              number of rows (``exclude``: minus the rows of the query's own case)
``max`` / ``min``      of ``value`` over the rows, NaN when there are none (``exclude``: not
                       reading the rows of the query's own case)
``mean``               of ``value`` over the rows, NaN when there are none
``trend``              ``log((1 + r) / (1 + b × window / baseline))``: ``r`` rows in the window,
                       ``b`` in the ``baseline`` days before it; 0 when the rate holds, above 0
                       when it rises, whatever the centre's usual volume
``latest``             ``value`` of the latest row (``exclude``: skipping the query's own row)
``latest_age_days``    days from the latest row to ``as_of``
``member_any``         1 if any member of the side's household has the ``value`` flag, 0 if
                       some member has it recorded false and none true, NaN if never recorded
``member_latest_max``  each member's ``latest`` ``value``, the highest over the members
``attribute``          ``value`` of the side's own row (household registered by ``as_of``)
``days_since``         days from the side's ``value`` timestamp to ``as_of``
``log1p``              ``log(1 + value)`` of the case's column
``present``            1 if the case's ``value`` column is filled, else 0
``lexicon``            1 if the case's ``value`` text carries a threat phrase, else 0
``text_score``         the learned text model's score of the case's ``value`` text
``age_years``          ``as_of`` year minus ``value`` (a birth year)

Sides name the key: ``household`` and ``counterparty`` read ``household_id`` /
``counterparty_household_id`` of the case (``household_id`` of a person), ``case`` the case
itself, ``person`` the person, ``pair`` the case's two households as one unordered key
(``household_pair``, none without a counterparty).  Under a household side, ``cases`` rows are
all cases the household is a party to (either role) and ``mediation_events`` the mediations of
those cases (with ``days_in_case``: days from the case's opening); under ``pair``, the cases
between the same two households, in either role, and their mediations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Literal

import yaml

from triage.contract import ESCALATION_OFFENCES, TABLES

FEATURES_FILE = Path(__file__).resolve().parent.parent / "config" / "features.yaml"

Entity = Literal["case", "person"]
Kind = Literal["count", "flag", "numeric", "categorical"]

OPS = frozenset(
    {
        "count",
        "max",
        "min",
        "mean",
        "trend",
        "latest",
        "latest_age_days",
        "member_any",
        "member_latest_max",
        "attribute",
        "days_since",
        "log1p",
        "present",
        "lexicon",
        "text_score",
        "age_years",
    }
)
#: Ops that aggregate time-stamped rows of ``source`` in a window (the rest read one row).
#: (time column, id column) of each time-stamped source, from the contract; the id breaks ties in time.
TIME_AND_ID: dict[str, tuple[str, str]] = {
    name: (spec.time_column, spec.key)
    for name, spec in TABLES.items()
    if spec.time_column and name != "households"
}
#: Which key a side reads a source by.
KEYED_BY = {
    "household": "household_id",
    "counterparty": "household_id",
    "case": "case_id",
    "person": "person_id",
    "pair": "household_pair",
}
HISTORY_OPS = frozenset(
    {"count", "max", "min", "mean", "trend", "latest", "latest_age_days", "member_latest_max"}
)
#: Ops whose ``exclude`` the engines apply (``count`` subtracts, the others skip the rows).
EXCLUDING_OPS = frozenset({"count", "max", "min", "latest", "latest_age_days"})
SIDE_QUERY_KEYS = {
    "case": {
        "household": "household_id",
        "counterparty": "counterparty_household_id",
        "case": "case_id",
        "pair": "household_pair",
    },
    "person": {"household": "household_id", "person": "person_id"},
}
#: Columns that must never become features: status/closed_at are after the fact
#: (docs/data-format.md "Point in time").
FORBIDDEN_VALUES = frozenset({"status", "closed_at"})


@dataclass(frozen=True)
class Feature:
    """One feature: its labels for explanations and its definition as data."""

    name: str
    label_zh: str
    label_en: str
    entity: Entity
    source: str
    window: int | None
    kind: Kind
    op: str
    side: str
    where: tuple[tuple[str, tuple], ...] = ()
    value: str | None = None
    exclude: tuple[str, str] | None = None  # (query column, source column)
    fill: float = math.nan
    categories: tuple[str, ...] = field(default=())
    baseline: int | None = None  # ``trend``: days before the window it is compared with

    @property
    def query_key(self) -> str:
        """The column of the query frame whose value selects this feature's rows."""
        return SIDE_QUERY_KEYS[self.entity][self.side]

    @property
    def reach(self) -> int | None:
        """How many days before ``as_of`` the feature reads rows (None: ever)."""
        return None if self.window is None else self.window + (self.baseline or 0)


def _window_texts(raw: dict) -> dict[str, dict]:
    return {
        lang: {(None if k in (None, "null") else int(k)): v for k, v in texts.items()}
        for lang, texts in raw.items()
    }


def _resolve_where(where: dict | None, sets: dict[str, tuple]) -> tuple[tuple[str, tuple], ...]:
    resolved = []
    for column, allowed in (where or {}).items():
        if isinstance(allowed, str) and allowed.startswith("@"):
            allowed = sets[allowed[1:]]
        resolved.append((column, tuple(allowed)))
    return tuple(resolved)


def _expand(family: dict, entity: Entity, config: dict, sets: dict) -> list[Feature]:
    sides, windows_text = config["sides"], _window_texts(config["windows_text"])
    features = []
    for side, variant, window in product(
        family["sides"], family.get("variants", [{}]), family["windows"]
    ):
        spec = {**family, **variant}
        words = {
            "side": sides[side]["prefix"],
            "side_zh": sides[side]["zh"],
            "side_en": sides[side]["en"],
            "variant": spec.get("variant", ""),
            "variant_zh": spec.get("variant_zh", ""),
            "variant_en": spec.get("variant_en", ""),
            "window": f"{window}d" if window else "ever",
            "window_zh": windows_text["zh"][window],
            "window_en": windows_text["en"][window],
        }
        source, value, kind = spec["source"], spec.get("value"), spec["kind"]
        categories = ()
        if kind == "categorical":
            table = "households" if source == "households" else source
            categories = TABLES[table].column(value).values
        label_en = spec["label_en"].format(**words)
        features.append(
            Feature(
                name=spec["name"].format(**words),
                label_zh=spec["label_zh"].format(**words),
                label_en=label_en[:1].upper() + label_en[1:],
                entity=entity,
                source=source,
                window=window,
                kind=kind,
                op=spec["op"],
                side=side,
                where=_resolve_where(spec.get("where"), sets),
                value=value,
                exclude=(spec["exclude"]["query"], spec["exclude"]["source"])
                if "exclude" in spec
                else None,
                fill=float(spec["fill"]) if "fill" in spec else math.nan,
                categories=categories,
                baseline=spec.get("baseline"),
            )
        )
    return features


def _check(features: list[Feature]) -> None:
    names = [f.name for f in features]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"feature names used twice: {sorted(duplicates)}")
    for f in features:
        if f.op not in OPS:
            raise ValueError(f"{f.name}: unknown op {f.op!r}")
        if f.value in FORBIDDEN_VALUES or any(c in FORBIDDEN_VALUES for c, _ in f.where):
            raise ValueError(f"{f.name}: status/closed_at may never be features")
        if f.source not in TABLES:
            raise ValueError(f"{f.name}: unknown source table {f.source!r}")
        if f.exclude and f.op not in EXCLUDING_OPS:
            raise ValueError(f"{f.name}: {f.op} cannot exclude the query's own rows")
        if (f.op == "trend") != (f.baseline is not None) or (f.op == "trend" and not f.window):
            raise ValueError(f"{f.name}: a trend, and only a trend, has a window and a baseline")


@lru_cache(maxsize=4)
def load_registry(path: str = str(FEATURES_FILE)) -> tuple[tuple[Feature, ...], dict]:
    """All features of ``path`` in registry order, and the raw configuration (lexicon, ranks)."""
    with open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    sets = {name: tuple(values) for name, values in config["sets"].items()}
    sets["escalation_offences"] = ESCALATION_OFFENCES
    features = [
        f for family in config["case_families"] for f in _expand(family, "case", config, sets)
    ]
    features += [
        f for family in config["person_families"] for f in _expand(family, "person", config, sets)
    ]
    _check(features)
    return tuple(features), config


FEATURES, FEATURE_CONFIG = load_registry()


def features_of(entity: Entity = "case") -> tuple[Feature, ...]:
    """The features of one model's frame (``case``: escalation, ``person``: tier), in order."""
    return tuple(f for f in FEATURES if f.entity == entity)


def feature_names(entity: Entity = "case") -> list[str]:
    """Feature column names of one model's frame, in registry order."""
    return [f.name for f in features_of(entity)]


def categorical_features(entity: Entity = "case") -> list[str]:
    """The columns built as pandas ``category`` (fixed categories from the contract enums)."""
    return [f.name for f in features_of(entity) if f.kind == "categorical"]


def feature_labels() -> dict[str, dict[str, str]]:
    """``{name: {"zh": …, "en": …}}`` for every feature of both models, for explanations."""
    return {f.name: {"zh": f.label_zh, "en": f.label_en} for f in FEATURES}
