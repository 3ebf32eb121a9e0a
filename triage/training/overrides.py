"""Analysts' overrides as data: exported for retraining evaluation, and checked against a new model.

An override says the analyst saw more (or less) risk than the route gave.  Each one is read from
the service database with the decision it overrode and a *direction*: ``raise`` (teams added or
priority raised, nothing taken away), ``lower`` (teams dropped or priority lowered, nothing added),
``mixed`` or ``same``.  ``triage train`` scores the overridden cases again with the new model, as of
the overridden decision, and reports how often the new model's band moved the analysts' way
(higher for a raise, lower for a lowering).  No identities: ids are pseudonymous and notes are the
analysts' own words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from triage.contract import BANDS
from triage.db.engine import database_exists, engine_for
from triage.db.service_models import Decision, Review
from triage.features import build_case_features
from triage.routing import override_direction

COLUMNS = [
    "review_id",
    "score_id",
    "case_id",
    "dispute_type",
    "as_of",
    "reviewed_at",
    "status",
    "escalation_version",
    "probability",
    "band",
    "route_priority",
    "route_teams",
    "override_priority",
    "override_teams",
    "direction",
    "dropped_required",
    "note",
]


#: Kept under its old name: the rule lives with the routes (``triage.routing``), where the override
#: analytics of ``triage.decisions`` read it too.
direction = override_direction


def read_overrides(url: str) -> pd.DataFrame:
    """Every override in the service database (any four-eyes status), oldest first; empty when none
    or when the database has no service tables yet."""
    if not database_exists(url) or not inspect(engine_for(url)).has_table("reviews"):
        return pd.DataFrame(columns=COLUMNS + ["request"])
    rows = []
    query = (
        select(Review, Decision)
        .join(Decision, Review.score_id == Decision.score_id)
        .where(Review.verdict == "override")
        .order_by(Review.created_at, Review.id)
    )
    with Session(engine_for(url)) as session:
        for review, decision in session.execute(query).all():
            route = decision.response["route"]
            rows.append(
                {
                    "review_id": review.id,
                    "score_id": decision.score_id,
                    "case_id": decision.case_id,
                    "dispute_type": decision.dispute_type,
                    "as_of": decision.as_of,
                    "reviewed_at": review.created_at,
                    "status": review.status,
                    "escalation_version": decision.escalation_version,
                    "probability": decision.probability,
                    "band": decision.band,
                    "route_priority": route["priority"],
                    "route_teams": ";".join(route["teams"]),
                    "override_priority": review.priority,
                    "override_teams": ";".join(review.teams),
                    "direction": direction(
                        route["teams"], route["priority"], review.teams, review.priority
                    ),
                    "dropped_required": ";".join(
                        t for t in route.get("required_teams", []) if t not in review.teams
                    ),
                    "note": review.note,
                    "request": decision.request,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS + ["request"])


def override_agreement(model, tables: dict[str, pd.DataFrame], overrides: pd.DataFrame) -> dict:
    """How often ``model``'s band on overridden cases moved the analysts' way.

    Judged: overrides in force (``final`` or ``confirmed``) with direction ``raise`` or ``lower``;
    each case is scored as of the overridden decision with the history in ``tables``.
    """
    judged = overrides[
        overrides["status"].isin(["final", "confirmed"])
        & overrides["direction"].isin(["raise", "lower"])
    ].reset_index(drop=True)
    report = {
        "overrides": int(len(overrides)),
        "judged": int(len(judged)),
        "agreed": 0,
        "agreement": None,
    }
    if judged.empty:
        return report
    cases = pd.DataFrame([r["case"] for r in judged["request"]])
    cases["opened_at"] = pd.to_datetime(cases["opened_at"], utc=True)
    cases["as_of"] = pd.to_datetime(judged["as_of"], utc=True)
    X = build_case_features(cases, tables, text_model=model.text_model_)[model.feature_names_]
    bands = model.bands(model.predict_proba(X)[:, 1])
    new = np.array([BANDS.index(b) for b in bands])
    old = judged["band"].map(BANDS.index).to_numpy()
    agreed = np.where(judged["direction"] == "raise", new > old, new < old)
    report |= {
        "agreed": int(agreed.sum()),
        "agreement": float(agreed.mean()),
        "by_direction": {
            d: {
                "judged": int((judged["direction"] == d).sum()),
                "agreed": int(agreed[(judged["direction"] == d).to_numpy()].sum()),
            }
            for d in ("raise", "lower")
        },
    }
    return report
