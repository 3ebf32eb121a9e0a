"""Judging a trained recipe as the issue tracker's independent-city check does: an export of the first
months of a city, and the cases and assessments of the months after it, which training never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.support.domain import SHIPPED_DOMAIN
from tests.support.reference_pipeline import fit_reference, reference_features
from triage.contract import TABLES, TIERS
from triage.data_contracts import validate_dataset
from triage.evaluation.labels import dataset_end, escalation_labels
from triage.evaluation.metrics import binary_metrics, tier_confusion, tier_metrics
from triage.features import build_case_features, build_person_features, rule_tiers
from triage.features.points import assessment_points, case_points
from triage.training.examples import oracle_probabilities, read_oracle
from triage.training.fit import fit_escalation, fit_tier

TIER_RULE = SHIPPED_DOMAIN.tier_rule

#: The generator's probabilities judged beside the model; the second writer also gives its oracle
#: with the hidden part of each case's own heat inferred from the case's traces.
ORACLE_COLUMNS = {
    "oracle": "p_escalation",
    "oracle_own_heat_from_traces": "p_escalation_own_heat_from_traces",
}


def export_until(tables: dict[str, pd.DataFrame], end: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The tables as a centre would have exported them at ``end``: rows whose own time is ≤ end."""
    out = {}
    for name, frame in tables.items():
        column = TABLES[name].time_column
        out[name] = (frame[frame[column] <= end] if column else frame).reset_index(drop=True)
    cases = out["cases"]
    out["cases"] = cases.assign(closed_at=cases["closed_at"].where(cases["closed_at"] <= end))
    return out


def judge_unseen_months(
    city: Path, *, export_end: str, months: int = 10, horizon_days: int = 180
) -> dict:
    """Train on the export up to ``export_end``; AUC/AP of the refit, the plain pipeline and the oracle on
    the cases opened in the next ``months``, and tier figures on that window's assessments."""
    full = validate_dataset(city).valid
    end = pd.Timestamp(export_end, tz="UTC")
    window_end = end + pd.DateOffset(months=months)
    export = export_until(full, end)
    domain = SHIPPED_DOMAIN
    escalation = fit_escalation(
        export, horizon_days=horizon_days, domain=domain, oracle=read_oracle(city, "cases")
    )

    points = case_points(full)
    labels = escalation_labels(
        points, full["incidents"], horizon_days=horizon_days, data_end=dataset_end(full)
    )
    later = (
        (points["opened_at"] > end) & (points["opened_at"] <= window_end) & labels.notna()
    ).to_numpy()
    future, y = points[later].reset_index(drop=True), labels[later].to_numpy(dtype=float)
    X = build_case_features(future, full, text_model=escalation.model.text_model_)
    scores = {"model": escalation.model.predict_proba(X.drop(columns=["case_id", "as_of"]))[:, 1]}
    uncertainty = _escalation_intervals(escalation.model, scores["model"], y)

    export_points = case_points(export)
    export_labels = escalation_labels(
        export_points, export["incidents"], horizon_days=horizon_days, data_end=dataset_end(export)
    )
    known = export_labels.notna().to_numpy()
    plain = fit_reference(
        reference_features(export_points[known], export), export_labels[known].to_numpy(float)
    )
    scores["plain"] = plain.predict(reference_features(future, full))
    case_oracle = read_oracle(city, "cases")
    for name, column in ORACLE_COLUMNS.items():
        if case_oracle is not None and column in case_oracle:
            p = oracle_probabilities(case_oracle, future["case_id"], [column])
            if p is not None:
                scores[name] = p[:, 0]
    figures = {
        name: {
            k: v
            for k, v in binary_metrics(y, s, is_probability=name != "plain").items()
            if k in ("roc_auc", "average_precision", "ece", "rows", "positives")
        }
        for name, s in scores.items()
    }
    figures["refit"] = escalation.refit
    figures["backtest"] = escalation.backtest
    figures["intervals"] = uncertainty
    return figures | {"tier": _judge_tier(full, export, end, window_end, domain, city)}


def _escalation_intervals(model, p: np.ndarray, y: np.ndarray) -> dict:
    """How the Venn-ABERS intervals behave on later cases: their width, the share that reach
    another band (needs judgement), and per band the escalation rate beside the mean interval."""
    intervals = model.intervals(p)
    bands = model.bands(p)
    spans = (model.bands(intervals[:, 0]) != bands) | (model.bands(intervals[:, 1]) != bands)
    return {
        "median_width": float(np.median(intervals[:, 1] - intervals[:, 0])),
        "share_spanning_bands": float(spans.mean()),
        "by_band": {
            band: {
                "cases": int((bands == band).sum()),
                "escalated": float(y[bands == band].mean()),
                "mean_p0": float(intervals[bands == band, 0].mean()),
                "mean_p1": float(intervals[bands == band, 1].mean()),
            }
            for band in np.unique(bands)
        },
    }


def _tier_sets(model, proba: np.ndarray, y: np.ndarray) -> dict:
    """Coverage of the conformal tier sets on later assessments, and how many hold one tier."""
    sets = model.prediction_sets(proba)
    codes = pd.Categorical(y, categories=TIERS).codes
    sizes = sets.sum(axis=1)
    return {
        "coverage": float(sets[np.arange(len(y)), codes].mean()),
        "nominal": model.set_confidence,
        "share_single_tier": float((sizes == 1).mean()),
        "mean_size": float(sizes.mean()),
    }


def _judge_tier(full, export, end, window_end, domain, city: Path) -> dict:
    tier = fit_tier(export, domain=domain, oracle=read_oracle(city, "assessments"))
    points = assessment_points(full)
    later = ((points["as_of"] > end) & (points["as_of"] <= window_end)).to_numpy()
    future = points[later].reset_index(drop=True)
    X = build_person_features(future.drop(columns="tier"), full).drop(
        columns=["person_id", "as_of"], errors="ignore"
    )
    y = future["tier"].astype(str).to_numpy()
    proba = tier.model.predict_proba(X)
    decided = tier.model.decide(proba)
    out = {
        "model": tier_metrics(y, proba, decided),
        "confusion": tier_confusion(y, decided),
        "sets": _tier_sets(tier.model, proba, y),
        "refit": tier.refit,
        "backtest": tier.backtest,
    }
    rule = rule_tiers(future, full, TIER_RULE)
    covered = rule.notna().to_numpy()
    if covered.any():
        one_hot = np.eye(len(TIERS))[pd.Categorical(rule[covered], categories=TIERS).codes]
        out["rule"] = tier_metrics(y[covered], one_hot)
        out["model_where_rule"] = tier_metrics(y[covered], proba[covered], decided[covered])
    oracle = oracle_probabilities(
        read_oracle(city, "assessments"), future["exclude_assessment_id"], [f"p_{t}" for t in TIERS]
    )
    if oracle is not None:
        out["oracle"] = tier_metrics(y, oracle)
    return out
