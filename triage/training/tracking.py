"""What a training run leaves in MLflow besides its metrics: artifacts, plots and registered versions."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sqlalchemy.exc import SQLAlchemyError

from triage.config import Domain
from triage.contract import TIERS
from triage.evaluation.fairness import fairness_audit
from triage.evaluation.groups import case_groups
from triage.evaluation.reference import log_reference, quarantine_shares, reference_frame
from triage.features import build_case_features
from triage.models import EscalationModel
from triage.models.pyfunc import pip_requirements
from triage.settings import Settings
from triage.training import plots
from triage.training.examples import checklist_score
from triage.training.fit import EscalationFit, TierFit
from triage.training.overrides import override_agreement, read_overrides

log = logging.getLogger(__name__)


def flat_metrics(prefix: str, metrics: dict) -> dict[str, float]:
    """``{"model": {"roc_auc": …}}`` → ``{"<prefix>_roc_auc": …, "<prefix>_oracle_roc_auc": …}``."""
    flat = {}
    for source, values in metrics.items():
        stem = prefix if source == "model" else f"{prefix}_{source}"
        flat.update({f"{stem}_{k}": float(v) for k, v in values.items()})
    return flat


def flat_backtest(prefix: str, backtest: dict) -> dict[str, float]:
    """``{"model": {"roc_auc": {"mean": …}}}`` → ``{"<prefix>_backtest_roc_auc_mean": …}``."""
    return {
        f"{prefix}_backtest{'' if source == 'model' else '_' + source}_{metric}_{stat}": float(
            value
        )
        for source, per_metric in backtest.items()
        if isinstance(per_metric, dict)
        for metric, stats in per_metric.items()
        for stat, value in stats.items()
    }


def dataset_fingerprint(dataset: Path) -> str:
    """sha256 over the table files (name and bytes), so a version names the exact data it learnt from."""
    digest = hashlib.sha256()
    for path in sorted(
        p for p in Path(dataset).iterdir() if p.is_file() and not p.name.startswith((".", "_"))
    ):
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def audit_escalation_fairness(fit: EscalationFit, tables, domain: Domain) -> dict:
    """Fairness audit of the backtest's cases; groups come from the tables, never from the features."""
    return fairness_audit(
        fit.y_test,
        fit.p_test,
        case_groups(fit.test_points, tables),
        threshold=fit.model.band_thresholds_["high"],
        cfg=domain.gates.fairness,
    )


def log_fairness(audit: dict, decision: tuple[bool, str]) -> None:
    """The audit as an artifact, its gaps as metrics, the gate's verdict as a tag of the active run."""
    mlflow.log_dict(audit, "fairness/audit.json")
    mlflow.log_metrics(
        {
            f"fairness_{attribute}_{metric}_gap": gap["gap"]
            for attribute, result in audit["attributes"].items()
            for metric, gap in result["gaps"].items()
            if np.isfinite(gap["gap"])
        }
    )
    mlflow.set_tags(
        {
            "fairness_audit": "true",
            "fairness_gate": ("passed: " if decision[0] else "refused: ") + decision[1],
        }
    )


def log_monitoring_reference(
    fit: EscalationFit, tables, validation_summary: dict, domain: Domain
) -> None:
    """What `triage monitor` compares later data with (see triage/evaluation/reference.py): the backtest's
    cases as the served model sees them (its text model, its scores), beside the backtest's figures."""
    X = build_case_features(fit.test_points, tables, text_model=fit.model.text_model_)[
        fit.model.feature_names_
    ]
    frame = reference_frame(
        X,
        fit.model.predict_proba(X)[:, 1],
        case_groups(fit.test_points, tables),
        rows=domain.monitoring.reference_rows,
    )
    log_reference(
        frame,
        {
            "roc_auc": fit.metrics["model"]["roc_auc"],
            "ece": fit.metrics["model"]["ece"],
            "base_rate": fit.metrics["model"]["base_rate"],
            "window": {
                "cut": fit.folds[0].cut.isoformat(),
                "test_end": fit.folds[-1].test_end.isoformat(),
                "test_rows": int(len(fit.y_test)),
            },
            "quarantine_shares": quarantine_shares(validation_summary),
            "categorical": sorted(fit.model.schema_.categories),
        },
    )


def log_override_agreement(model: EscalationModel, tables, settings: Settings) -> dict:
    """How often the new model sides with the analysts' overrides kept in the service database
    (``overrides.json`` and the metric ``escalation_override_agreement``); none recorded is no error."""
    try:
        report = override_agreement(model, tables, read_overrides(settings.db_url))
    except SQLAlchemyError as exc:
        log.warning(
            "service database unreadable, override agreement not reported: %s", type(exc).__name__
        )
        report = {
            "overrides": None,
            "judged": 0,
            "agreed": 0,
            "agreement": None,
            "unavailable": f"service database unreadable ({type(exc).__name__})",
        }
    mlflow.log_dict(report, "overrides.json")
    if report["agreement"] is not None:
        mlflow.log_metric("escalation_override_agreement", report["agreement"])
    return report


def write_plots(escalation: EscalationFit, tier: TierFit, domain: Domain, folder: Path) -> None:
    """Each model's plots of its backtest under a folder of its own (``escalation/``, ``tier/``).

    Escalation: calibration, lift and SHAP summary.  Tier: the confusion matrix, a calibration curve per
    tier, and the SHAP summary of P(red), the tier a safeguard acts on.
    """
    own = folder / "escalation"
    own.mkdir(parents=True, exist_ok=True)
    curves = {"model": escalation.p_test} | (
        {"oracle": escalation.p_oracle} if escalation.p_oracle is not None else {}
    )
    plots.calibration_curve(escalation.y_test, curves, own / "calibration_curve.png")
    plots.lift_chart(
        escalation.y_test,
        curves | {"checklist": checklist_score(escalation.X_test, domain.checklist)},
        own / "lift_chart.png",
    )
    contributions, _ = escalation.model.explain(escalation.X_test)
    plots.shap_summary(
        contributions,
        escalation.model.schema_.matrix(escalation.X_test),
        escalation.model.feature_names_,
        own / "shap_summary.png",
    )

    own = folder / "tier"
    own.mkdir(parents=True, exist_ok=True)
    plots.confusion_matrix(tier.confusion, own / "confusion_matrix.png")
    plots.tier_calibration(tier.y_test, tier.proba_test, TIERS, own / "calibration_curve.png")
    red = TIERS.index("red")
    contributions, _ = tier.model.explain(tier.X_test, np.full(len(tier.X_test), red))
    plots.shap_summary(
        contributions,
        tier.model.schema_.matrix(tier.X_test),
        tier.model.feature_names_,
        own / "shap_summary.png",
        title="Contributions to P(red)",
    )


def register(
    client, name: str, python_model, model, X_example: pd.DataFrame, metadata: dict, tags: dict
) -> str:
    """Log ``python_model`` as a pyfunc with a signature and register it under ``name``; the version."""
    example = model.schema_.signature_frame(X_example.head(5))
    output = python_model.predict(None, example)
    info = mlflow.pyfunc.log_model(
        name=name.removeprefix("triage-"),
        python_model=python_model,
        signature=infer_signature(example, output),
        input_example=example,
        registered_model_name=name,
        metadata=metadata,
        pip_requirements=pip_requirements(),
    )
    version = str(info.registered_model_version)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    return version
