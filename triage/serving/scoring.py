"""Scoring cases: history as of a moment → features → champion models → explanation → route.

No HTTP here.  The history comes from the service database through the same typed frames
and the same feature code as training (``triage.features``), so a case scored over HTTP gets
the probability ``triage score`` gives it for the same as-of time.  A batch is scored in one
pass: one history read, one feature build, one model call.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from pydantic_core import to_jsonable_python
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from triage.config import load_domain
from triage.db.history import read_history
from triage.features import case_feature_arrays, feature_labels, person_feature_arrays, rule_tiers
from triage.features.history import History
from triage.models.population import population_warnings
from triage.models.registry import Champions
from triage.routing import RouteInput, RoutingRules, current_routing
from triage.serving import decisions
from triage.serving.decisions import ScoredCase
from triage.serving.facts import route_fact_records
from triage.serving.schemas import CaseIn, ScoreRequest
from triage.settings import Settings


def _plain_rows(features: dict[str, np.ndarray], names: list[str]) -> list[tuple]:
    """Feature arrays (by name) as one row of JSON values per case, in the model's order, for factors
    and storage: None for missing (未知), str for categories, float otherwise."""
    columns = []
    for name in names:
        values = features[name]
        if values.dtype == object:                 # category codes, None when missing
            columns.append(values.tolist())
        else:
            columns.append([None if v != v else v for v in values.astype(np.float64).tolist()])   # NaN → None
    return list(zip(*columns))


class Scorer:
    """Scores cases against the service database; holds what is read once (labels, teams)."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings, self.engine = settings, engine
        self.labels = feature_labels()
        self.teams = set(load_domain(settings.domain_file)["teams"])

    @property
    def routing(self) -> RoutingRules:
        return current_routing(self.settings.routing_file, self.teams)

    def _factors(self, names: list[str], values: tuple, contributions: np.ndarray) -> list[dict]:
        """Every feature's factor, largest first, as plain data (~110 per case)."""
        labels = self.labels
        order = np.argsort(-np.abs(contributions), kind="stable").tolist()
        contribution = contributions.tolist()
        return [{"feature": names[j], "label": labels[names[j]]["zh"], "label_zh": labels[names[j]]["zh"],
                 "label_en": labels[names[j]]["en"], "value": values[j], "contribution": contribution[j]}
                for j in order]

    def score(self, requests: list[ScoreRequest], champions: Champions,
              now: datetime | None = None) -> list[ScoredCase]:
        """Score every request (each as of its own ``as_of``, default ``now``); full explanations."""
        now = now or datetime.now(timezone.utc)
        routing = self.routing
        columns = {name: [getattr(r.case, name) for r in requests] for name in CaseIn.model_fields}
        columns["opened_at"] = pd.to_datetime(columns["opened_at"], utc=True).as_unit("ns")
        columns["as_of"] = pd.to_datetime([r.as_of or now for r in requests], utc=True).as_unit("ns")
        cases = pd.DataFrame(columns)
        named = pd.DataFrame([(i, p) for i, r in enumerate(requests) for p in r.persons],
                             columns=["row", "person_id"])
        households = set(columns["household_id"]) | {h for h in columns["counterparty_household_id"] if h}
        tables = read_history(self.engine, household_ids=households, person_ids=set(named["person_id"]),
                              as_of=cases["as_of"].max())

        model = champions.escalation
        history = History(tables, model.text_model_, cases["description"])   # one per request: features, tiers, facts
        features = case_feature_arrays(cases, history)        # arrays, not a 110-column frame: same values
        matrix = model.schema_.matrix(features)
        probability = model.predict_proba(features, matrix=matrix)[:, 1]
        contributions, base = model.explain(features, matrix=matrix)
        bands = model.bands(probability)
        persons = self._persons(named, cases["as_of"], history, champions)
        facts = route_fact_records(cases, named, history, routing.weapon_words)
        known_households = set(tables["households"]["household_id"])
        known_persons = set(tables["persons"]["person_id"])
        unusual = population_warnings(model, features, cases["household_id"], tables["households"], self.labels)
        values = _plain_rows(features, model.feature_names_)
        as_of = [t.to_pydatetime() for t in cases["as_of"]]

        by_case: dict[int, list[dict]] = {}
        for row, person in persons:
            by_case.setdefault(row, []).append(person)
        margins = (base + contributions.sum(axis=1)).tolist()
        versions = dict(champions.versions)
        scored = []
        for i, request in enumerate(requests):
            person_scores = by_case.get(i, [])
            route = routing.route(RouteInput(band=str(bands[i]), dispute_type=request.case.dispute_type,
                                             tiers=[p["tier"] for p in person_scores], facts=facts[i]))
            # plain JSON-ready data, not ScoreResponse models: validating our own ~140 objects per case
            # cost more than its features (tests check that responses match the schema)
            response = {
                "score_id": str(uuid.uuid4()), "case_id": request.case.case_id,
                "as_of": to_jsonable_python(as_of[i]),
                "escalation": {"probability": float(probability[i]), "band": str(bands[i]),
                               "base_value": float(base[i]), "margin": margins[i],
                               "factors": self._factors(model.feature_names_, values[i], contributions[i])},
                "persons": person_scores, "route": route.model_dump(mode="json"), "models": versions,
                "warnings": self._warnings(request, known_households, known_persons) + unusual[i]}
            scored.append(ScoredCase(request=request, response=response, as_of=as_of[i],
                                     features=dict(zip(model.feature_names_, values[i]))))
        return scored

    def _persons(self, named: pd.DataFrame, as_of: pd.Series, history: History, champions: Champions
                 ) -> list[tuple[int, dict]]:
        """Each named person's tier: the screening rule where it applies, the tier model otherwise."""
        if named.empty:
            return []
        points = pd.DataFrame({"person_id": named["person_id"].astype("string"),
                               "as_of": as_of.iloc[named["row"]].to_numpy()})
        model = champions.tier
        features = person_feature_arrays(points, history)
        matrix = model.schema_.matrix(features)
        probabilities = model.predict_proba(features, matrix=matrix)
        predicted = probabilities.argmax(axis=1)
        by_rule = rule_tiers(points, history).to_numpy(dtype=object, na_value=None)
        by_model = np.flatnonzero([tier is None for tier in by_rule])     # only model tiers are explained
        contributions = np.empty((len(points), len(model.feature_names_)))
        if len(by_model):
            contributions[by_model] = model.explain(None, predicted[by_model], matrix=matrix[by_model])[0]
        values = _plain_rows(features, model.feature_names_)
        out = []
        classes = [str(c) for c in model.classes_]
        for k, (row, person_id) in enumerate(zip(named["row"], points["person_id"])):
            from_rule = by_rule[k] is not None
            out.append((int(row), {
                "person_id": str(person_id),
                "tier": str(by_rule[k]) if from_rule else classes[predicted[k]],
                "tier_source": "rule" if from_rule else "model",
                "probabilities": dict(zip(classes, probabilities[k].tolist())),
                "factors": [] if from_rule else self._factors(model.feature_names_, values[k], contributions[k])}))
        return out

    @staticmethod
    def _warnings(request: ScoreRequest, households: set[str], persons: set[str]) -> list[str]:
        case, warnings = request.case, []
        if case.household_id not in households:
            warnings.append(f"unknown household {case.household_id}: scored with no history")
        if case.counterparty_household_id and case.counterparty_household_id not in households:
            warnings.append(f"unknown counterparty household {case.counterparty_household_id}: no history used")
        warnings += [f"unknown person {p}: tier from no history" for p in request.persons if p not in persons]
        return warnings


def score_and_store(session: Session, scorer: Scorer, champions: Champions, requests: list[ScoreRequest],
                    key_id: str) -> list[ScoredCase]:
    """Score and commit the decisions; only then may the caller answer."""
    scored = scorer.score(requests, champions)
    decisions.store(session, scored, key_id)
    session.commit()
    return scored
