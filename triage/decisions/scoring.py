"""Scoring cases: history as of a moment → features → champion models → explanation → route.

A case "needs judgement" when the model cannot tell: the interval of its probability reaches
another band, or a named person's conformal tier set holds more than one tier (or none).

No HTTP here.  The history comes from the service database through the same typed frames
and the same feature code as training (``triage.features``), so a case scored over HTTP gets
the probability ``triage score`` gives it for the same as-of time.  A batch is scored in one
pass: one history read, one feature build, one model call.

When a challenger is loaded, the same feature values go through it too, once per batch, after the
champions' answers are made: its probability, band, tiers and the route the same rules would give
are kept on ``ScoredCase.shadow``, stored apart and never answered.  A challenger that fails is
logged and skipped; the answers do not change.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from triage.db.history import read_history
from triage.decisions import stored
from triage.decisions.scored import (
    EscalationScore,
    Explanation,
    PersonTier,
    ScoredCase,
    ShadowScore,
)
from triage.decisions.types import ScoreRequest
from triage.features import (
    case_feature_arrays,
    feature_labels,
    person_feature_arrays,
    rule_tier_values,
)
from triage.features.facts import route_fact_records
from triage.features.columns import Columns
from triage.features.history import History
from triage.models.population import population_warnings
from triage.models.registry import Champions
from triage.routing import RouteInput, RoutingFile, RoutingRules
from triage.settings import Settings

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: The case columns held as objects (ids, codes and text; None when missing).
_CASE_OBJECT_COLUMNS = (
    "case_id",
    "household_id",
    "counterparty_household_id",
    "dispute_type",
    "source",
    "description",
)


def _utc_ns(moments: list[datetime]) -> np.ndarray:
    """Aware datetimes as int64 UTC nanoseconds, exactly (datetimes hold microseconds)."""
    return np.array(
        [(m - _EPOCH) // timedelta(microseconds=1) * 1000 for m in moments], dtype=np.int64
    )


def _case_columns(requests: list[ScoreRequest], as_of: list[datetime]) -> Columns:
    """The requests' cases as ``triage.features.case_columns`` gives a frame's, built from the
    validated requests directly (a frame and its conversions cost more than a case's features)."""
    cases = [r.case for r in requests]
    columns = {
        name: np.array([getattr(c, name) for c in cases], dtype=object)
        for name in _CASE_OBJECT_COLUMNS
    }
    columns["opened_at"] = _utc_ns([c.opened_at for c in cases])
    columns["as_of"] = _utc_ns(as_of)
    columns["parties_count"] = np.array([c.parties_count for c in cases], dtype=np.float64)
    columns["amount_cny"] = np.array(
        [np.nan if c.amount_cny is None else c.amount_cny for c in cases], dtype=np.float64
    )
    return columns


def _plain_rows(features: dict[str, np.ndarray], names: list[str]) -> list[tuple]:
    """Feature arrays (by name) as one row of JSON values per case, in the model's order, for factors
    and storage: None for missing (未知), str for categories, float otherwise."""
    columns = []
    for name in names:
        values = features[name]
        if values.dtype != object:  # numbers: NaN becomes None, in one pass over the array
            numbers = values.astype(np.float64)
            values = numbers.astype(object)
            values[np.isnan(numbers)] = None
        columns.append(values.tolist())
    return list(zip(*columns))


@dataclass(frozen=True)
class _Scored:
    """The champions' scores of a batch, as the challenger's are compared with and routed from."""

    probability: np.ndarray
    bands: np.ndarray
    persons: list[tuple[int, PersonTier]]  # (case row, person), in the order of the named persons
    facts: list


@dataclass(frozen=True)
class _Inputs:
    """What a batch was scored from, read and built once for the champions and the challenger."""

    tables: dict
    cases: Columns
    features: dict[str, np.ndarray]
    points: Columns
    person_features: dict[str, np.ndarray]


class Scorer:
    """Scores cases against the service database; holds what is read once (labels, teams)."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings, self.engine = settings, engine
        self.labels = feature_labels()
        self.domain = settings.domain
        self.teams = set(self.domain.teams)
        self.routing_file = RoutingFile(settings.routing_file, self.teams)
        #: Called for each batch the challenger fails to score: the failure costs no answer, so
        #: nothing but a log line and these listeners (the service's metrics) would tell.
        self.on_challenger_failure: list[Callable[[], None]] = []

    @property
    def routing(self) -> RoutingRules:
        """The rules in force: the file as it is now, or its last good version while it is broken."""
        return self.routing_file.current()

    def score(
        self, requests: list[ScoreRequest], champions: Champions, now: datetime | None = None
    ) -> list[ScoredCase]:
        """Score every request (each as of its own ``as_of``, default ``now``), with explanations."""
        now = now or datetime.now(timezone.utc)
        routing = self.routing
        as_of = [(r.as_of or now).astimezone(timezone.utc) for r in requests]
        cases = _case_columns(requests, as_of)
        named_rows = np.array(
            [i for i, r in enumerate(requests) for _ in r.persons], dtype=np.int64
        )
        named_persons = np.array([p for r in requests for p in r.persons], dtype=object)
        households = set(cases["household_id"]) | {
            h for h in cases["counterparty_household_id"] if h
        }
        tables = read_history(
            self.engine, household_ids=households, person_ids=set(named_persons), as_of=max(as_of)
        )

        model = champions.escalation
        history = History(
            tables, model.text_model_, cases["description"]
        )  # one per request: features, tiers, facts
        features = case_feature_arrays(
            cases, history
        )  # arrays, not a 110-column frame: same values
        matrix = model.schema_.matrix(features)
        probability, contributions, base = model.predict_and_explain(matrix)
        bands = model.bands(probability)
        intervals = model.intervals(probability)
        spans = (
            np.zeros(len(probability), dtype=bool)
            if intervals is None
            else (model.bands(intervals[:, 0]) != bands) | (model.bands(intervals[:, 1]) != bands)
        )
        points = {"person_id": named_persons, "as_of": cases["as_of"][named_rows]}
        person_features = person_feature_arrays(points, history) if len(named_persons) else {}
        persons = self._persons(named_rows, points, person_features, history, champions)
        facts = route_fact_records(cases, named_rows, named_persons, history, routing.weapon_words)
        known_households = set(tables["households"]["household_id"])
        known_persons = set(tables["persons"]["person_id"])
        unusual = population_warnings(
            model, features, cases["household_id"], tables["households"], self.labels
        )
        values = _plain_rows(features, model.feature_names_)

        by_case: dict[int, list[PersonTier]] = {}
        for row, person in persons:
            by_case.setdefault(row, []).append(person)
        margins = (base + contributions.sum(axis=1)).tolist()
        versions = dict(champions.versions)
        scored = []
        for i, request in enumerate(requests):
            person_tiers = by_case.get(i, [])
            route = routing.route(
                RouteInput(
                    band=str(bands[i]),
                    dispute_type=request.case.dispute_type,
                    tiers=[p.tier for p in person_tiers],
                    facts=facts[i],
                )
            )
            scored.append(
                ScoredCase(
                    score_id=str(uuid.uuid4()),
                    case_id=request.case.case_id,
                    as_of=as_of[i],
                    escalation=EscalationScore(
                        probability=float(probability[i]),
                        band=str(bands[i]),
                        base_value=float(base[i]),
                        margin=margins[i],
                        explanation=Explanation(list(values[i]), contributions[i]),
                        interval=None if intervals is None else intervals[i].tolist(),
                    ),
                    persons=person_tiers,
                    route=route,
                    models=versions,
                    warnings=self._warnings(request, known_households, known_persons) + unusual[i],
                    needs_judgement=bool(spans[i]) or any(unsure(p) for p in person_tiers),
                    request=request,
                )
            )
        if champions.challenger is not None:
            shadows = self._shadow(
                champions,
                requests,
                routing,
                _Scored(probability, bands, persons, facts),
                _Inputs(tables, cases, features, points, person_features),
            )
            scored = [dataclasses.replace(s, shadow=shadow) for s, shadow in zip(scored, shadows)]
        return scored

    def _shadow(
        self,
        champions: Champions,
        requests: list[ScoreRequest],
        routing: RoutingRules,
        champion: _Scored,
        inputs: _Inputs,
    ) -> list[ShadowScore | None]:
        """What the challenger would answer for each request: one model call per model for the
        batch, on the champion's feature values (or its own text scores' when it reads texts
        otherwise).  Never raises: a failing challenger is logged, and the cases go without."""
        challenger = champions.challenger
        try:
            probability, bands = champion.probability, champion.bands
            model = challenger.escalation
            if model is not None:
                features = inputs.features
                if not challenger.shares_features:
                    history = History(inputs.tables, model.text_model_, inputs.cases["description"])
                    features = case_feature_arrays(inputs.cases, history)
                probability = model.predict_proba(None, matrix=model.schema_.matrix(features))[:, 1]
                bands = model.bands(probability)
            person_ids: list[list[str]] = [[] for _ in requests]
            tiers_of: list[list[str]] = [[] for _ in requests]
            for row, person in champion.persons:
                person_ids[row].append(person.person_id)
                tiers_of[row].append(person.tier)
            if challenger.tier is not None and champion.persons:
                tiers_of = self._shadow_tiers(challenger.tier, champion, inputs, len(requests))
            models = {**champions.versions, **challenger.versions}
            return [
                ShadowScore(
                    models=models,
                    probability=float(probability[i]),
                    band=str(bands[i]),
                    route=routing.route(
                        RouteInput(
                            band=str(bands[i]),
                            dispute_type=request.case.dispute_type,
                            tiers=tiers_of[i],
                            facts=champion.facts[i],
                        )
                    ),
                    tiers=dict(zip(person_ids[i], tiers_of[i])),
                )
                for i, request in enumerate(requests)
            ]
        except Exception as exc:  # noqa: BLE001 - the shadow must never cost an answer
            log.warning("challenger %s not scored: %s", challenger.versions, type(exc).__name__)
            for listener in self.on_challenger_failure:
                listener()
            return [None] * len(requests)

    @staticmethod
    def _shadow_tiers(model, champion: _Scored, inputs: _Inputs, cases: int) -> list[list[str]]:
        """Each case's person tiers as the tier challenger gives them: the screening rule's where
        it applies (the rule is not challenged), the challenger's otherwise."""
        probabilities = model.predict_proba(
            inputs.person_features, matrix=model.schema_.matrix(inputs.person_features)
        )
        predicted = model.decide(probabilities)
        classes = [str(c) for c in model.classes_]
        tiers_of: list[list[str]] = [[] for _ in range(cases)]
        for k, (row, person) in enumerate(champion.persons):
            tiers_of[row].append(
                person.tier if person.tier_source == "rule" else classes[predicted[k]]
            )
        return tiers_of

    def _persons(
        self,
        rows: np.ndarray,
        points: Columns,
        features: dict[str, np.ndarray],
        history: History,
        champions: Champions,
    ) -> list[tuple[int, PersonTier]]:
        """Each named person's tier (``points``: the persons named in case ``rows`` and their
        moments; ``features``: theirs): the screening rule where it applies, the tier model
        otherwise."""
        person_ids = points["person_id"]
        if len(person_ids) == 0:
            return []
        model = champions.tier
        matrix = model.schema_.matrix(features)
        probabilities = model.predict_proba(features, matrix=matrix)
        predicted = model.decide(
            probabilities
        )  # red first (TierModel.decide), not the most probable tier
        by_rule = rule_tier_values(points, history, self.domain.tier_rule)
        by_model = np.flatnonzero(
            [tier is None for tier in by_rule]
        )  # only model tiers are explained
        contributions = np.empty((len(person_ids), len(model.feature_names_)))
        if len(by_model):
            contributions[by_model] = model.explain(
                None, predicted[by_model], matrix=matrix[by_model]
            )[0]
        values = _plain_rows(features, model.feature_names_)
        sets = model.prediction_sets(probabilities)
        out = []
        classes = [str(c) for c in model.classes_]
        for k, (row, person_id) in enumerate(zip(rows.tolist(), person_ids)):
            from_rule = by_rule[k] is not None
            out.append(
                (
                    int(row),
                    PersonTier(
                        person_id=str(person_id),
                        tier=str(by_rule[k]) if from_rule else classes[predicted[k]],
                        tier_source="rule" if from_rule else "model",
                        probabilities=dict(zip(classes, probabilities[k].tolist())),
                        explanation=None
                        if from_rule
                        else Explanation(list(values[k]), contributions[k]),
                        tier_set=None
                        if from_rule or sets is None
                        else [c for c, held in zip(classes, sets[k]) if held],
                    ),
                )
            )
        return out

    @staticmethod
    def _warnings(request: ScoreRequest, households: set[str], persons: set[str]) -> list[str]:
        case, warnings = request.case, []
        if case.household_id not in households:
            warnings.append(f"unknown household {case.household_id}: scored with no history")
        if case.counterparty_household_id and case.counterparty_household_id not in households:
            warnings.append(
                f"unknown counterparty household {case.counterparty_household_id}: no history used"
            )
        warnings += [
            f"unknown person {p}: tier from no history" for p in request.persons if p not in persons
        ]
        return warnings


def unsure(person: PersonTier) -> bool:
    """The tier model's set for the person holds more than its one tier, or none."""
    return person.tier_set is not None and len(person.tier_set) != 1


def score_and_store(
    session: Session,
    scorer: Scorer,
    champions: Champions,
    requests: list[ScoreRequest],
    key_id: str,
) -> list[ScoredCase]:
    """Score and commit the decisions; only then may the caller answer."""
    scored = scorer.score(requests, champions)
    stored.store(session, scored, key_id, champions.feature_lists)
    session.commit()
    return scored
