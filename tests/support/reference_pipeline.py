"""The plain pipeline a model must beat: simple counts, a keyword regex and one LightGBM.

What a data scientist would write in an afternoon without this project's features, trained on
the same labelled cases; it shares no code with ``triage.features``, so it judges them.
"""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pandas as pd

from triage.contract import DISPUTE_TYPES

VIOLENT = {"assault", "intentional_injury", "attempted_homicide", "homicide", "arson"}
THREAT_WORDS = re.compile("刀|砍|杀|打死|弄死|威胁|报复|同归于尽|放火|烧")


def _prior_count(
    points: pd.DataFrame, events: pd.DataFrame, time: str, days: int | None
) -> np.ndarray:
    """Per point: events of its household with ``time`` in (as_of - days, as_of] (ever when days is None)."""
    counts = np.zeros(len(points))
    grouped = {h: np.sort(g[time].to_numpy()) for h, g in events.groupby("household_id")}
    for i, (household, as_of) in enumerate(zip(points["household_id"], points["as_of"].to_numpy())):
        times = grouped.get(household)
        if times is None:
            continue
        end = np.searchsorted(times, as_of, side="right")
        start = (
            0
            if days is None
            else np.searchsorted(times, as_of - np.timedelta64(days, "D"), side="right")
        )
        counts[i] = end - start
    return counts


def reference_features(points: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Counts of the case's household's history as of each point, and the case's own fields."""
    calls, incidents, cases = tables["hotline_calls"], tables["incidents"], tables["cases"]
    threat_calls = calls[calls["text"].fillna("").str.contains(THREAT_WORDS)]
    mediations = tables["mediation_events"].merge(cases[["case_id", "household_id"]], on="case_id")
    failed = mediations[mediations["outcome"].isin(["no_agreement", "party_absent"])]
    points = points.assign(as_of=points["as_of"].dt.tz_convert("UTC").dt.tz_localize(None))
    naive = {
        name: frame.assign(**{col: frame[col].dt.tz_convert("UTC").dt.tz_localize(None)})
        for name, frame, col in (
            ("calls", calls, "received_at"),
            ("threat_calls", threat_calls, "received_at"),
            ("incidents", incidents, "occurred_at"),
            ("cases", cases, "opened_at"),
            ("failed", failed, "at"),
        )
    }
    violent = naive["incidents"][naive["incidents"]["offence"].isin(VIOLENT)]
    threats = naive["incidents"][naive["incidents"]["offence"] == "threat"]
    return pd.DataFrame(
        {
            "calls_90d": _prior_count(points, naive["calls"], "received_at", 90),
            "calls_365d": _prior_count(points, naive["calls"], "received_at", 365),
            "threat_calls_365d": _prior_count(points, naive["threat_calls"], "received_at", 365),
            "violent_ever": _prior_count(points, violent, "occurred_at", None),
            "threats_365d": _prior_count(points, threats, "occurred_at", 365),
            "prior_cases": _prior_count(points, naive["cases"], "opened_at", None) - 1,
            "failed_mediations_365d": _prior_count(points, naive["failed"], "at", 365),
            "description_threat": points["description"]
            .fillna("")
            .str.contains(THREAT_WORDS)
            .astype(float)
            .to_numpy(),
            "parties": points["parties_count"].astype(float).to_numpy(),
            "amount": points["amount_cny"].astype(float).to_numpy(),
            "dispute_type": pd.Categorical(
                points["dispute_type"].astype(str), categories=DISPUTE_TYPES
            ).codes,
        }
    )


def fit_reference(X: pd.DataFrame, y: np.ndarray) -> lgb.Booster:
    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 50,
        "verbose": -1,
        "seed": 0,
        "deterministic": True,
    }
    return lgb.train(
        params, lgb.Dataset(X, y, categorical_feature=["dispute_type"]), num_boost_round=300
    )
