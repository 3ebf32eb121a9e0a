"""A scored case as a typed object, its compact stored record, and the labelled answer users read.

The scorer returns :class:`ScoredCase`.  The decisions table keeps :meth:`ScoredCase.record`: the
numbers in the model version's feature order (contributions as a float32 array) and no labels,
packed (``PackedJSON``) into about 1.4 KB, where the labelled answer is about 30.  :func:`answer`
turns either back into the ``ScoreResponse`` JSON, with the feature list of the version that
scored it (``model_feature_lists``) and the registry's labels, so a stored decision is shown
exactly as it was answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from pydantic_core import to_jsonable_python

from triage.decisions.types import ScoreRequest
from triage.routing import Route

#: The record key set when retention removed the raw sensitive values (see ``retention.py``).
REMOVED_AT = "raw_values_removed_at"


def _compact(value):
    """A whole float as an int in the record (``0`` for ``0.0``); :func:`_restored` undoes it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _restored(value):
    return float(value) if type(value) is int else value


@dataclass(frozen=True)
class Explanation:
    """One model's explanation of one case or person: the feature values (JSON values: None when
    missing, str for categories) and SHAP contributions, both in the model version's feature order.

    Contributions are kept as float32, seven significant digits, in the answer as in the record, so
    a decision read back shows exactly what was answered; the margin they add up to stays float64.
    """

    values: list
    contributions: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "contributions", np.asarray(self.contributions, np.float32))

    def record(self) -> dict:
        return {
            "values": [_compact(v) for v in self.values],
            "contributions": np.ascontiguousarray(self.contributions, dtype="<f4"),
        }

    @classmethod
    def from_record(cls, record: dict | None) -> Explanation | None:
        if not record:
            return None
        return cls(
            values=[_restored(v) for v in record["values"]],
            contributions=np.frombuffer(record["contributions"], dtype="<f4"),
        )


@dataclass(frozen=True)
class EscalationScore:
    probability: float
    band: str
    base_value: float
    margin: float
    explanation: Explanation
    interval: list[float] | None = None  # Venn-ABERS [p0, p1]; None for a model without one


@dataclass(frozen=True)
class PersonTier:
    """A named person's tier: the screening rule's (no explanation) or the tier model's."""

    person_id: str
    tier: str
    tier_source: str
    probabilities: dict[str, float]
    explanation: Explanation | None
    tier_set: list[str] | None = None  # the model's conformal set; None for the rule's tier


@dataclass(frozen=True)
class ShadowScore:
    """What the challenger would have answered for a case: kept apart, never routed on.

    ``models`` names the versions used: the challenger's where it has one, the champion's otherwise
    (a tier challenger alone keeps the champion's probability and band).  No explanation: the
    shadow must cost little beside the answer.
    """

    models: dict[str, str]
    probability: float
    band: str
    route: Route
    tiers: dict[str, str]  # person id → tier


@dataclass(frozen=True)
class ScoredCase:
    """One decision: what was scored, the scores with their explanations, the route and the models."""

    score_id: str
    case_id: str
    as_of: datetime
    escalation: EscalationScore
    persons: list[PersonTier]
    route: Route
    models: dict[str, str]
    warnings: list[str]
    needs_judgement: bool = False  # the model cannot tell (see triage.decisions.scoring)
    request: ScoreRequest | None = None
    withheld: frozenset[str] = field(default_factory=frozenset)
    raw_values_removed_at: str | None = None
    shadow: ShadowScore | None = None  # stored apart; never part of the answer or its record

    @property
    def band(self) -> str:
        return self.escalation.band

    def as_json(self, explained: Callable[[Explanation | None, str], dict]) -> dict:
        """The decision as JSON data; ``explained(explanation, model)`` gives the keys that show an
        explanation (``model``: "escalation" or "tier")."""
        escalation = self.escalation
        out = {
            "score_id": self.score_id,
            "case_id": self.case_id,
            "as_of": to_jsonable_python(self.as_of),
            "escalation": {
                "probability": escalation.probability,
                "band": escalation.band,
                "base_value": escalation.base_value,
                "margin": escalation.margin,
                "interval": escalation.interval,
                **explained(escalation.explanation, "escalation"),
            },
            "persons": [
                {
                    "person_id": p.person_id,
                    "tier": p.tier,
                    "tier_source": p.tier_source,
                    "probabilities": p.probabilities,
                    "tier_set": p.tier_set,
                    **explained(p.explanation, "tier"),
                }
                for p in self.persons
            ],
            "route": self.route.model_dump(mode="json"),
            "models": self.models,
            "warnings": self.warnings,
            "needs_judgement": self.needs_judgement,
        }
        if self.raw_values_removed_at:
            out[REMOVED_AT] = self.raw_values_removed_at
        return out

    def record(self) -> dict:
        """The decision as stored: everything needed to show and audit it again, without labels."""
        out = self.as_json(lambda e, _: {"explanation": e.record() if e else None})
        if self.withheld:
            out["withheld"] = sorted(self.withheld)
        return out

    @classmethod
    def from_record(cls, record: dict) -> ScoredCase:
        escalation = record["escalation"]
        return cls(
            score_id=record["score_id"],
            case_id=record["case_id"],
            as_of=datetime.fromisoformat(record["as_of"]),
            escalation=EscalationScore(
                **_taken(escalation, "probability", "band", "base_value", "margin", "interval"),
                explanation=Explanation.from_record(escalation["explanation"]),
            ),
            persons=[
                PersonTier(
                    **_taken(p, "person_id", "tier", "tier_source", "probabilities", "tier_set"),
                    explanation=Explanation.from_record(p["explanation"]),
                )
                for p in record["persons"]
            ],
            route=Route.model_validate(record["route"]),
            models=record["models"],
            warnings=record["warnings"],
            needs_judgement=record.get("needs_judgement", False),
            withheld=frozenset(record.get("withheld", ())),
            raw_values_removed_at=record.get(REMOVED_AT),
        )


def _taken(record: dict, *keys: str) -> dict:
    """The record's values of ``keys`` (None for a key a record of an earlier version lacks)."""
    return {key: record.get(key) for key in keys}


def factors(
    explanation: Explanation | None,
    names: list[str],
    labels: dict[str, dict[str, str]],
    top: int | None,
    hidden: frozenset[str],
) -> list[dict]:
    """The labelled factors, largest contribution first, cut to ``top`` (None: all); the values of
    ``hidden`` features are withheld."""
    if explanation is None:
        return []
    contributions = explanation.contributions
    order = np.argsort(-np.abs(contributions), kind="stable")[:top].tolist()
    out = []
    for j in order:
        name = names[j]
        label = labels.get(name, {"zh": name, "en": name})
        withheld = name in hidden
        out.append(
            {
                "feature": name,
                "label": label["zh"],
                "label_zh": label["zh"],
                "label_en": label["en"],
                "value": None if withheld else explanation.values[j],
                "contribution": float(contributions[j]),
                "withheld": withheld,
            }
        )
    return out


def answer(
    scored: ScoredCase,
    feature_lists: dict[str, list[str]],
    labels: dict[str, dict[str, str]],
    top: int | None = None,
    hidden: frozenset[str] = frozenset(),
) -> dict:
    """The ``ScoreResponse`` JSON of a decision: ``feature_lists`` maps each model version to its
    feature names; ``hidden`` features (a scorer key's view) are withheld, as are those retention
    removed."""
    hidden = hidden | scored.withheld
    names = {model: feature_lists.get(scored.models[model], []) for model in scored.models}
    return scored.as_json(
        lambda e, model: {"factors": factors(e, names[model], labels, top, hidden)}
    )
