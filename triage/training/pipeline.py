"""`triage train` and `triage evaluate`: backtest and refit both models, log to MLflow, promote through gates."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import mlflow

from triage.config import Domain
from triage.contract import TIERS
from triage.data_contracts import validate_dataset
from triage.evaluation.fairness import fairness_gate
from triage.evaluation.labels import dataset_end, escalation_labels
from triage.evaluation.metrics import binary_metrics, tier_metrics
from triage.features import build_case_features, build_person_features, feature_labels
from triage.features.points import assessment_points, case_points
from triage.models import EscalationModel
from triage.models.pyfunc import EscalationPyfunc, TierPyfunc
from triage.models.registry import configure_mlflow, load_native, version_by_alias
from triage.settings import Settings
from triage.training import gates
from triage.training.examples import checklist_score, oracle_probabilities, read_oracle
from triage.training.fit import champion_figures, fit_escalation, fit_tier, tier_champion_figures
from triage.training.model_card import escalation_card, tier_card
from triage.training.tracking import (
    audit_escalation_fairness,
    dataset_fingerprint,
    flat_backtest,
    flat_metrics,
    git_commit,
    log_fairness,
    log_monitoring_reference,
    log_override_agreement,
    register,
    write_plots,
)

log = logging.getLogger(__name__)
#: Tolerance for sampling noise when checking that no model beats the simulator's own probability.
ORACLE_TOLERANCE = 0.005


def _promotion(
    role: str,
    fit,
    champion,
    registered: dict,
    *,
    promote: str,
    same_data: bool,
    tables,
    domain: Domain,
) -> tuple[bool, str]:
    """The gate ``promote`` asks for, on figures of the candidate and the champion over the same cases."""
    if promote == "never":
        return False, "promotion disabled (--promote never)"
    if promote == "force":
        return True, "forced (--promote force)"
    if role == "escalation":
        old = champion_figures(fit, champion, tables, registered) if champion is not None else None
    else:
        old = tier_champion_figures(fit, champion, registered) if champion is not None else None
    if promote == "retrain":
        return gates.retrain_gate(
            role, fit.metrics["model"], old, same_data=same_data, gates=domain.gates
        )
    gate = gates.escalation_gate if role == "escalation" else gates.tier_gate
    return gate(fit.metrics["model"], old, getattr(domain.gates, role))


def train(
    dataset: Path, *, settings: Settings, horizon_days: int | None = None, promote: str = "auto"
) -> dict:
    """Train, evaluate, log and register both models; move ``champion`` per ``promote``.

    ``promote``: ``auto`` (the gates), ``retrain`` (the stricter retraining gate), ``never``, ``force``.
    The fairness gate applies to the escalation model under ``auto`` and ``retrain``.
    """
    horizon_days = horizon_days or settings.horizon_days
    domain = settings.domain
    validation = validate_dataset(dataset)
    tables = validation.valid
    escalation = fit_escalation(
        tables, horizon_days=horizon_days, domain=domain, oracle=read_oracle(dataset, "cases")
    )
    tier = fit_tier(tables, domain=domain, oracle=read_oracle(dataset, "assessments"))
    leaking = (
        ["escalation"]
        if (
            "oracle" in escalation.metrics
            and escalation.metrics["model"]["roc_auc"]
            > escalation.metrics["oracle"]["roc_auc"] + ORACLE_TOLERANCE
        )
        else []
    )
    if leaking:
        log.error("model beats the oracle on %s: that is leakage, not skill", leaking)

    client = configure_mlflow(settings)
    fingerprint, commit = dataset_fingerprint(dataset), git_commit()
    windows = {
        role: {"backtest": [split.describe() for split in fit.folds], "refit": fit.refit}
        for role, fit in (("escalation", escalation), ("tier", tier))
    }
    summary: dict = {
        "escalation": escalation.metrics,
        "tier": tier.metrics,
        "windows": windows,
        "backtest": {"escalation": escalation.backtest, "tier": tier.backtest},
        "tier_confusion": tier.confusion,
    }
    with mlflow.start_run(run_name="train") as run, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.log_params(
            {
                "horizon_days": horizon_days,
                "data_fingerprint": fingerprint,
                "git_commit": commit,
                "promote": promote,
                **{
                    f"{role}_refit_{k}": v
                    for role, w in windows.items()
                    for k, v in w["refit"].items()
                },
                **{
                    f"{role}_backtest_cuts": ",".join(f"{s.cut:%Y-%m-%d}" for s in fit.folds)
                    for role, fit in (("escalation", escalation), ("tier", tier))
                },
                **{
                    f"escalation_param_{k}": v
                    for k, v in escalation.model.get_params().items()
                    if k != "text_model"
                },
                "escalation_band_thresholds": json.dumps(escalation.model.band_thresholds_),
                "tier_thresholds": json.dumps(
                    {"red": tier.model.red_threshold_, "yellow": tier.model.yellow_threshold_}
                ),
            }
        )
        mlflow.log_metrics(
            flat_metrics("escalation", escalation.metrics)
            | flat_metrics("tier", tier.metrics)
            | flat_backtest("escalation", escalation.backtest)
            | flat_backtest("tier", tier.backtest)
        )
        mlflow.set_tags(
            {
                "git_commit": commit,
                "data_fingerprint": fingerprint,
                "leakage_suspected": str(bool(leaking)),
            }
        )
        labels = feature_labels()
        features_doc = {
            "escalation": [
                {"name": n, **labels.get(n, {})} for n in escalation.model.feature_names_
            ],
            "tier": [{"name": n, **labels.get(n, {})} for n in tier.model.feature_names_],
        }
        mlflow.log_dict(features_doc, "features.json")
        mlflow.log_dict(windows, "windows.json")
        mlflow.log_dict(summary["backtest"], "backtest.json")
        mlflow.log_dict(tier.confusion, "tier/confusion.json")
        mlflow.log_dict(validation.summary, "validation_summary.json")
        mlflow.log_dict(escalation.model.population_, "population.json")
        write_plots(escalation, tier, domain, folder)
        mlflow.log_artifacts(str(folder), "plots")
        fairness = audit_escalation_fairness(escalation, tables, domain)
        fair = fairness_gate(fairness, domain.gates.fairness)
        log_fairness(fairness, fair)
        log_monitoring_reference(escalation, tables, validation.summary, domain)
        overrides = log_override_agreement(escalation.model, tables, settings)

        metadata = {
            "git_commit": commit,
            "data_fingerprint": fingerprint,
            "validation": validation.summary,
        }
        versions, promotion = {}, {}
        for role, fit, python_model, name in (
            (
                "escalation",
                escalation,
                EscalationPyfunc(escalation.model),
                settings.escalation_model_name,
            ),
            ("tier", tier, TierPyfunc(tier.model), settings.tier_model_name),
        ):
            current = version_by_alias(client, name, settings.champion_alias)
            version = register(
                client,
                name,
                python_model,
                fit.model,
                fit.X_test,
                metadata
                | {
                    "metrics": fit.metrics,
                    "windows": windows[role],
                    "features": features_doc[role],
                },
                {
                    "git_commit": commit,
                    "data_fingerprint": fingerprint,
                    **{k: f"{v:.6g}" for k, v in flat_metrics(role, fit.metrics).items()},
                },
            )
            versions[role] = f"{name}/{version}"
            card = (
                escalation_card(name, version, fit, fairness, labels)
                if role == "escalation"
                else tier_card(name, version, fit, labels)
            )
            mlflow.log_text(card, f"model_card/{role}.md")
            client.set_model_version_tag(name, version, "model_card", f"model_card/{role}.md")
            champion = (
                load_native(f"models:/{name}/{current.version}")
                if current is not None and promote in ("auto", "retrain")
                else None
            )
            same_data = current is not None and current.tags.get("data_fingerprint") == fingerprint
            passed, reason = _promotion(
                role,
                fit,
                champion,
                current.tags if current else {},
                promote=promote,
                same_data=same_data,
                tables=tables,
                domain=domain,
            )
            if role == "escalation" and promote in ("auto", "retrain") and not fair[0]:
                passed, reason = False, f"{fair[1]}; {reason}"
            if passed:
                client.set_registered_model_alias(name, settings.champion_alias, version)
            client.set_model_version_tag(
                name, version, "promotion", ("promoted: " if passed else "refused: ") + reason
            )
            mlflow.set_tag(f"promotion_{role}", ("promoted: " if passed else "refused: ") + reason)
            promotion[role] = {"version": version, "promoted": passed, "reason": reason}
        summary |= {
            "versions": versions,
            "promotion": promotion,
            "run_id": run.info.run_id,
            "overrides": overrides,
            "leakage_suspected": leaking,
            "fairness_gate": {"passed": fair[0], "reason": fair[1]},
        }
    return summary


def evaluate(
    dataset: Path, model_uri: str, *, settings: Settings, horizon_days: int | None = None
) -> dict:
    """Evaluate one registered model on every labelled case (or assessment) of a dataset."""
    configure_mlflow(settings)
    model = load_native(model_uri)
    tables = validate_dataset(dataset).valid
    domain = settings.domain
    if isinstance(model, EscalationModel):
        points = case_points(tables)
        labels = escalation_labels(
            points,
            tables["incidents"],
            horizon_days=horizon_days or settings.horizon_days,
            data_end=dataset_end(tables),
        )
        points = points[labels.notna().to_numpy()].reset_index(drop=True)
        y = labels.dropna().to_numpy(dtype=float)
        X = build_case_features(points, tables, text_model=model.text_model_)
        out = {
            "model": binary_metrics(y, model.predict_proba(X)[:, 1]),
            "checklist": binary_metrics(
                y, checklist_score(X, domain.checklist), is_probability=False
            ),
        }
        p_oracle = oracle_probabilities(
            read_oracle(dataset, "cases"), points["case_id"], ["p_escalation"]
        )
        if p_oracle is not None:
            out["oracle"] = binary_metrics(y, p_oracle[:, 0])
        return {"model_uri": model_uri, "escalation": out}
    points = assessment_points(tables)
    X = build_person_features(points.drop(columns="tier"), tables)
    y = points["tier"].astype(str).to_numpy()
    proba = model.predict_proba(X)
    out = {"model": tier_metrics(y, proba, model.decide(proba))}
    oracle = oracle_probabilities(
        read_oracle(dataset, "assessments"),
        points["exclude_assessment_id"],
        [f"p_{t}" for t in TIERS],
    )
    if oracle is not None:
        out["oracle"] = tier_metrics(y, oracle)
    return {"model_uri": model_uri, "tier": out}
