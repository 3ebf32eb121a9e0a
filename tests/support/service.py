"""What the service tests share: champions fitted in a second, a small city, keys, request bodies."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd

from tests.factories import City, random_tables
from tests.support.domain import SHIPPED_DOMAIN
from triage.decisions.stored import sensitive_features
from triage.features import (
    CallTextModel,
    build_case_features,
    build_person_features,
    feature_names,
)
from triage.models import EscalationModel, TierModel
from triage.models.registry import Champions
from triage.training.fit import learn_population


def train_champions(seed: int = 0, version: int = 1, reads_texts: bool = False) -> Champions:
    """Both models fitted on point-in-time features of a random 300-household city; with
    ``reads_texts``, the escalation model has a call-text model of its own, whose scores it leans on."""
    rng = np.random.default_rng(seed)
    tables = random_tables(300, seed=seed)
    cases = tables["cases"].sort_values("opened_at").assign(as_of=lambda f: f["opened_at"])
    text_model = (
        CallTextModel().fit(tables, cutoff=cases["opened_at"].max()) if reads_texts else None
    )
    X = build_case_features(cases, tables, text_model=text_model)[feature_names("case")]
    risk = (
        X["hh_violent_incidents_365d"].fillna(0)
        + X["hh_threat_calls_365d"].fillna(0)
        + rng.normal(0, 0.7, len(X))
    )
    if reads_texts:
        risk += 5 * X["hh_text_score_max_90d"].fillna(0)
    escalation = EscalationModel(
        n_estimators=40,
        early_stopping_rounds=10,
        min_child_samples=5,
        random_state=seed,
        text_model=text_model,
    ).fit(X, (risk > risk.quantile(0.8)).astype(int))
    P, tiers = _tier_examples(tables, rng)
    tier = TierModel(n_estimators=20, min_child_samples=5, random_state=seed).fit(P, tiers)
    return Champions(
        escalation=escalation,
        tier=tier,
        versions={"escalation": f"triage-escalation/{version}", "tier": f"triage-tier/{version}"},
        metrics={"escalation": {"escalation_auc": 0.71}, "tier": {"tier_macro_f1": 0.6}},
    )


def _tier_examples(tables, rng) -> tuple[pd.DataFrame, np.ndarray]:
    """Person features at one moment and tiers that follow the PHQ-9 (random where none)."""
    points = tables["persons"][["person_id"]].assign(as_of=pd.Timestamp("2024-12-31", tz="UTC"))
    P = build_person_features(points, tables)[feature_names("person")]
    severity = P["phq9_max"].fillna(
        pd.Series(rng.integers(0, 28, len(P)), index=P.index, dtype=float)
    )
    return P, np.select([severity >= 20, severity >= 10], ["red", "yellow"], "green")


def with_tier_sets(champions: Champions, seed: int = 0) -> Champions:
    """The champions with a tier model fitted as training fits it: its last quarter of persons held
    out, so that it has red-first thresholds and conformal tier sets."""
    rng = np.random.default_rng(seed)
    P, tiers = _tier_examples(random_tables(300, seed=seed), rng)
    cut = len(tiers) * 3 // 4
    first = TierModel(n_estimators=20, min_child_samples=5, random_state=seed).fit(
        P.iloc[:cut], tiers[:cut]
    )
    tier = TierModel(n_estimators=20, min_child_samples=5, random_state=seed).fit(
        P, tiers, held_out_proba=first.predict_proba(P.iloc[cut:]), held_out_y=tiers[cut:]
    )
    return dataclasses.replace(champions, tier=tier)


def small_city() -> City:
    """Households with the histories the routing rules and warnings look for (as of mid-2025)."""
    return (
        City()
        .household("H-1")
        .person("P-1-1", alcohol_problem=True)
        .person("P-1-2", sex="male")
        .household("H-2")
        .person("P-2-1")
        .household("H-3")
        .person("P-3-1", mental_health_registry=True)
        .household("H-4")
        .person("P-4-1")
        .call("H-1", "2025-05-20T10:00:00", text="对方持刀威胁要砍人", channel="110")
        .incident("H-3", "2024-09-01", offence="threat")
        .incident("H-3", "2025-01-15", offence="property_damage")
        .incident("H-3", "2025-04-02", offence="assault")
        .case("C-0", "H-1", "2025-01-05", counterparty="H-2", dispute_type="marriage_family")
        .mediation("C-0", "2025-01-10", outcome="no_agreement")
        .mediation("C-0", "2025-02-10", outcome="no_agreement", level="township")
        .mediation("C-0", "2025-03-10", outcome="party_absent", level="county")
        .screening("P-4-1", "2025-05-01", score=22, item9=2)
        .screening("P-2-1", "2024-06-01", score=3, item9=0)
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def case_request(
    case_id: str = "C-1",
    household: str = "H-1",
    *,
    counterparty: str | None = "H-2",
    dispute_type: str = "marriage_family",
    persons=("P-1-1",),
    as_of: str | None = "2025-06-01T10:00:00+08:00",
    **case,
) -> dict:
    """A score request body as docs/interfaces.md shows it."""
    body = {
        "case": {
            "case_id": case_id,
            "opened_at": "2025-06-01T09:30:00+08:00",
            "household_id": household,
            "counterparty_household_id": counterparty,
            "dispute_type": dispute_type,
            "source": "grid_patrol",
            "amount_cny": 20000,
            "parties_count": 2,
            "description": "夫妻因财产分割争吵",
            **case,
        },
        "persons": list(persons),
    }
    if as_of is not None:
        body["as_of"] = as_of
    return body


def without_medical_in_population(champions: Champions) -> Champions:
    """The champions with the population profile of their training city minus its medical disputes, so that
    a medical case is scored with an out-of-population warning."""
    tables = random_tables(300, seed=0)
    cases = tables["cases"].sort_values("opened_at").assign(as_of=lambda f: f["opened_at"])
    X = build_case_features(cases, tables)[feature_names("case")]
    trained = (X["case_dispute_type"] != "medical").to_numpy()
    escalation = copy.deepcopy(champions.escalation)
    escalation.population_ = learn_population(
        X[trained], cases[trained], tables, SHIPPED_DOMAIN
    ).to_dict()
    return dataclasses.replace(champions, escalation=escalation)


def ingest(client, keys: dict[str, str], table: str, rows: list[dict]) -> dict:
    """Rows of one exchange table through ``POST /v1/ingest/{table}`` (a TestClient or an httpx client)."""
    response = client.post(f"/v1/ingest/{table}", json={"rows": rows}, headers=auth(keys["scorer"]))
    assert response.status_code == 200, response.text
    return response.json()


def score(client, keys: dict[str, str], body: dict) -> dict:
    """One case through ``POST /v1/cases/score`` as the scorer; the answer's JSON."""
    response = client.post("/v1/cases/score", json=body, headers=auth(keys["scorer"]))
    assert response.status_code == 200, response.text
    return response.json()


def as_a_scorer_sees(answer: dict) -> dict:
    """An analyst's view of a decision as a scorer key is shown it: sensitive values withheld."""
    sensitive = sensitive_features()

    def shown(factors: list[dict]) -> list[dict]:
        return [
            {**f, "value": None, "withheld": True} if f["feature"] in sensitive else f
            for f in factors
        ]

    return {
        **answer,
        "escalation": {**answer["escalation"], "factors": shown(answer["escalation"]["factors"])},
        "persons": [{**p, "factors": shown(p["factors"])} for p in answer["persons"]],
    }
