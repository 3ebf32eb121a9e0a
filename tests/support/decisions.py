"""A decision made by hand: a scored case with two explained models, for tests of what is stored."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import numpy as np

from triage.decisions.scored import EscalationScore, Explanation, PersonTier, ScoredCase
from triage.features import feature_names
from triage.routing import Route

#: The feature lists of the two model versions :func:`scored_case` names.
FEATURE_LISTS = {"escalation/1": feature_names("case")[:4], "tier/1": feature_names("person")[:3]}
ESCALATION_VALUES = [3.0, None, 1.0, 0.0]


def scored_case(**changes) -> ScoredCase:
    """A case scored with an explained escalation, a model tier and a rule tier; ``changes``
    replace any field."""
    fields = dict(
        score_id="S-1",
        case_id="C-1",
        as_of=datetime(2025, 1, 1, tzinfo=timezone.utc),
        escalation=EscalationScore(
            0.2,
            "medium",
            -2.5,
            -1.25,
            Explanation(ESCALATION_VALUES, np.array([0.5, -0.25, 1.0, 0.0])),
            interval=[0.15, 0.25],
        ),
        persons=[
            PersonTier(
                "P-1",
                "red",
                "model",
                {"green": 0.2, "yellow": 0.3, "red": 0.5},
                Explanation([9.0, 2.0, None], np.array([0.1, 0.7, -0.2])),
                tier_set=["yellow", "red"],
            ),
            PersonTier("P-2", "green", "rule", {"green": 1.0, "yellow": 0.0, "red": 0.0}, None),
        ],
        route=Route(
            teams=["village_mediation"],
            priority="medium",
            respond_within_hours=72.0,
            reasons=["默认"],
            reasons_en=["default"],
            rules=["default"],
        ),
        models={"escalation": "escalation/1", "tier": "tier/1"},
        warnings=[],
        needs_judgement=True,
    )
    return ScoredCase(**(fields | changes))


def base64_contributions(record: dict) -> dict:
    """A stored record as JSON kept it before it was packed (revisions 0007 to 0010): contributions
    as base64 text."""
    for explained in [record["escalation"], *record["persons"]]:
        if explained["explanation"]:
            raw = explained["explanation"]["contributions"]
            explained["explanation"]["contributions"] = base64.b64encode(raw).decode()
    return record
