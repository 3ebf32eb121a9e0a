"""``triage monitor DIR``: a recent dataset against the champion's training data.

Status rules (thresholds in ``domain.yaml`` under ``monitoring:``), the worst one wins:

* feature drift: a feature drifted (PSI above ``psi_warn`` *and* a significant test) → warn; one
  above ``psi_alert``, ``alert_features`` drifted ones, or cases in categories the model never saw
  (a new district, a new case source) → alert.  Calendar-trending features are reported only;
* score distribution: PSI of the champion's scores against the reference scores;
* data quality: the share of rows the data contract quarantined, per table, rising;
* outcomes: on recent cases old enough to carry a label, AUC falling below the training run's
  test AUC by a bound *and* by more than ``auc_drop_z`` standard errors (a drop noise could make
  on a few dozen escalations is not one), or calibration (mean predicted − observed) off;
* fairness: a gated gap credibly above its maximum → warn (the gate itself acts at promotion).

Exit codes for a scheduler: 0 ok, 0 warn (with a message on stderr), 1 alert, 2 no input.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from triage.config.domain import Monitoring
from triage.contract import TIMEZONE
from triage.data_contracts import validate_dataset
from triage.evaluation.fairness import fairness_audit, fairness_gate, fairness_table
from triage.evaluation.groups import case_groups
from triage.evaluation.labels import dataset_end, escalation_labels
from triage.evaluation.metrics import expected_calibration_error
from triage.evaluation.reference import POPULATION_COLUMNS, load_reference, quarantine_shares
from triage.features import build_case_features
from triage.features.points import case_points
from triage.models.registry import configure_mlflow, load_native, version_by_alias
from triage.monitoring import report
from triage.monitoring.drift import frame_drift, numeric_drift
from triage.settings import Settings

log = logging.getLogger(__name__)
LEVELS = ("ok", "warn", "alert")
RUN_KIND = "monitor"


class NoChampion(LookupError):
    """Nothing to compare with: no escalation champion, or its run kept no monitoring reference."""


def recent_cases(tables: dict[str, pd.DataFrame], months: int) -> pd.DataFrame:
    """The cases opened in the dataset's last ``months`` months, each as of its opening."""
    points = case_points(tables)
    since = points["opened_at"].max() - pd.DateOffset(months=months)
    return points[points["opened_at"] > since].reset_index(drop=True)


def outcomes_by_month(
    opened_at: pd.Series, y: np.ndarray, p: np.ndarray, min_cases: int
) -> list[dict]:
    """AUC and calibration of labelled cases per month of opening (AUC only where it can be judged)."""
    months = opened_at.dt.tz_convert(TIMEZONE).dt.strftime("%Y-%m").to_numpy()
    rows = []
    for month in sorted(set(months)):
        m = months == month
        both = 0 < y[m].sum() < m.sum()
        rows.append(
            {
                "month": month,
                "cases": int(m.sum()),
                "positives": int(y[m].sum()),
                "mean_predicted": float(p[m].mean()),
                "observed_rate": float(y[m].mean()),
                "roc_auc": float(roc_auc_score(y[m], p[m]))
                if both and m.sum() >= min_cases
                else None,
            }
        )
    return rows


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982): the sampling error of an AUC on this many positives and negatives."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return float(np.sqrt(max(variance, 0.0)))


def _worst(levels) -> str:
    return max(levels, key=LEVELS.index, default="ok")


def assess(
    drift: dict,
    population: dict,
    score: dict,
    quality: dict,
    outcomes: dict,
    fairness: dict | None,
    cfg: Monitoring,
) -> tuple[str, list[dict]]:
    """The overall status and its reasons (each reason: level, check, message)."""
    reasons = []
    for column, d in (drift | population).items():
        if d.get("unseen_categories") and d["level"] == "alert":
            reasons.append(
                {
                    "level": "alert",
                    "check": "unseen_categories",
                    "message": f"{column}: categories never seen in training: "
                    + ", ".join(f"{c} ({s:.1%})" for c, s in d["unseen_categories"].items()),
                }
            )
    flagged = {r["message"].split(":")[0] for r in reasons}
    counted = {
        f: d
        for f, d in drift.items()
        if d["level"] != "ok" and f not in cfg.trending_features and f not in flagged
    }
    if len(counted) >= cfg.warn_features:
        strong = (
            any(d["level"] == "alert" for d in counted.values())
            or len(counted) >= cfg.alert_features
        )
        drifted = sorted(counted, key=lambda f: -counted[f]["psi"])
        reasons.append(
            {
                "level": "alert" if strong else "warn",
                "check": "feature_drift",
                "message": f"{len(drifted)} feature(s) drifted: "
                + ", ".join(f"{f} (PSI {counted[f]['psi']:.2f})" for f in drifted[:8]),
                "features": drifted[:8],
            }
        )
    for column, d in population.items():
        if d["level"] != "ok" and column not in flagged:
            reasons.append(
                {
                    "level": d["level"],
                    "check": "population",
                    "message": f"{column} mix shifted (PSI {d['psi']:.2f})",
                }
            )
    if score["psi"] >= cfg.score_psi_warn and score["p_value"] < cfg.alpha:
        reasons.append(
            {
                "level": "alert" if score["psi"] >= cfg.score_psi_alert else "warn",
                "check": "score_drift",
                "message": f"score distribution shifted (PSI {score['psi']:.2f}, "
                f"mean {score['reference_mean']:.3f} → {score['current_mean']:.3f})",
            }
        )
    for table, change in quality.items():
        if change["rise"] >= cfg.quarantine_share_warn:
            reasons.append(
                {
                    "level": "alert" if change["rise"] >= cfg.quarantine_share_alert else "warn",
                    "check": "data_quality",
                    "message": f"{table}: quarantined share "
                    f"{change['reference']:.1%} → {change['current']:.1%}",
                }
            )
    if outcomes.get("roc_auc") is not None:
        drop = outcomes["reference_roc_auc"] - outcomes["roc_auc"]
        if drop >= cfg.auc_drop_warn and drop > cfg.auc_drop_z * outcomes["roc_auc_se"]:
            reasons.append(
                {
                    "level": "alert" if drop >= cfg.auc_drop_alert else "warn",
                    "check": "performance",
                    "message": f"AUC on labelled recent cases {outcomes['roc_auc']:.3f} vs "
                    f"{outcomes['reference_roc_auc']:.3f} at training",
                }
            )
        if abs(outcomes["calibration_gap"]) >= cfg.calibration_gap_warn:
            reasons.append(
                {
                    "level": "warn",
                    "check": "calibration",
                    "message": f"mean predicted − observed = {outcomes['calibration_gap']:+.3f}",
                }
            )
    if fairness is not None and not fairness["gate"]["passed"]:
        reasons.append(
            {"level": "warn", "check": "fairness", "message": fairness["gate"]["reason"]}
        )
    return _worst(r["level"] for r in reasons), reasons


def _champion_reference(settings: Settings):
    client = configure_mlflow(settings)
    version = version_by_alias(client, settings.escalation_model_name, settings.champion_alias)
    if version is None:
        raise NoChampion(
            f"no '{settings.champion_alias}' escalation model: run `triage train` first"
        )
    try:
        reference, facts = load_reference(version.run_id)
    except Exception as exc:  # an older run without the monitoring artifacts
        raise NoChampion(
            f"the champion's run {version.run_id} kept no monitoring reference: {exc}"
        ) from exc
    model = load_native(f"models:/{settings.escalation_model_name}/{version.version}")
    return version, model, reference, facts


def run_monitor(dataset: Path, *, settings: Settings, out: Path | None = None) -> dict:
    """Compare ``dataset``'s recent cases with the champion's reference; write and log the report."""
    domain = settings.domain
    cfg = domain.monitoring
    version, model, reference, facts = _champion_reference(settings)
    validation = validate_dataset(dataset)
    tables = validation.valid
    points = recent_cases(tables, cfg.recent_months)
    X = build_case_features(points, tables, text_model=model.text_model_)[model.feature_names_]
    p = model.predict_proba(X)[:, 1]
    groups = case_groups(points, tables)

    categorical = set(facts["categorical"])
    drift = frame_drift(reference[model.feature_names_], X, categorical, cfg)
    population = frame_drift(
        reference[list(POPULATION_COLUMNS)],
        groups[list(POPULATION_COLUMNS)],
        set(POPULATION_COLUMNS),
        cfg,
    )
    score = numeric_drift(reference["score"], pd.Series(p), bins=cfg.psi_bins, floor=cfg.psi_floor)
    now_shares = quarantine_shares(validation.summary)
    quality = {
        t: {
            "reference": facts["quarantine_shares"].get(t, 0.0),
            "current": s,
            "rise": s - facts["quarantine_shares"].get(t, 0.0),
        }
        for t, s in now_shares.items()
    }

    labels = escalation_labels(
        points,
        tables["incidents"],
        horizon_days=settings.horizon_days,
        data_end=dataset_end(tables),
    )
    known = labels.notna().to_numpy()
    y, p_known = labels[known].to_numpy(dtype=float), p[known]
    outcomes: dict = {
        "labelled_cases": int(known.sum()),
        "reference_roc_auc": facts["roc_auc"],
        "reference_ece": facts["ece"],
        "roc_auc": None,
    }
    fairness = None
    if known.sum() >= cfg.min_month_cases and 0 < y.sum() < known.sum():
        auc = float(roc_auc_score(y, p_known))
        outcomes |= {
            "roc_auc": auc,
            "roc_auc_se": auc_standard_error(auc, int(y.sum()), int((1 - y).sum())),
            "ece": expected_calibration_error(y, p_known),
            "calibration_gap": float(p_known.mean() - y.mean()),
            "positives": int(y.sum()),
            "by_month": outcomes_by_month(
                points.loc[known, "opened_at"], y, p_known, cfg.min_month_cases
            ),
        }
        audit = fairness_audit(
            y,
            p_known,
            groups[known].reset_index(drop=True),
            threshold=model.band_thresholds_["high"],
            cfg=domain.gates.fairness,
        )
        passed, reason = fairness_gate(audit, domain.gates.fairness)
        fairness = {"audit": audit, "gate": {"passed": passed, "reason": reason}}

    status, reasons = assess(drift, population, score, quality, outcomes, fairness, cfg)
    created = datetime.now(timezone.utc)
    summary = {
        "status": status,
        "reasons": reasons,
        "created_at": created.isoformat(timespec="seconds"),
        "dataset": str(dataset),
        "champion": f"{settings.escalation_model_name}/{version.version}",
        "champion_run_id": version.run_id,
        "window": {
            "months": cfg.recent_months,
            "cases": len(points),
            "from": points["opened_at"].min().isoformat(),
            "to": points["opened_at"].max().isoformat(),
        },
        "reference_rows": len(reference),
        "feature_drift": drift,
        "population_drift": population,
        "score_drift": score,
        "data_quality": quality,
        "outcomes": outcomes,
        "fairness": fairness,
    }
    out = Path(out) if out else settings.home / "monitoring" / created.strftime("%Y%m%dT%H%M%SZ")
    report.write(summary, reference["score"].to_numpy(), p, out)
    summary["run_id"] = _log_run(summary, out)
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    return summary


def _log_run(summary: dict, out: Path) -> str:
    """The report as an MLflow run of its own, tagged so the workbench finds the latest one."""
    metrics = {
        "score_psi": summary["score_drift"]["psi"],
        "features_drifted": sum(d["level"] != "ok" for d in summary["feature_drift"].values()),
        "max_feature_psi": max((d["psi"] for d in summary["feature_drift"].values()), default=0.0),
        "recent_cases": summary["window"]["cases"],
        "labelled_cases": summary["outcomes"]["labelled_cases"],
    }
    for key in ("roc_auc", "ece", "calibration_gap"):
        if summary["outcomes"].get(key) is not None:
            metrics[f"recent_{key}"] = summary["outcomes"][key]
    with mlflow.start_run(run_name="monitor") as run:
        mlflow.set_tags(
            {
                "triage.run_kind": RUN_KIND,
                "status": summary["status"],
                "champion": summary["champion"],
                "dataset": summary["dataset"],
                "fairness_audit": str(summary["fairness"] is not None).lower(),
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.log_dict(json.loads(json.dumps(summary, default=str)), "summary.json")
        if summary["fairness"] is not None:
            mlflow.log_dict(summary["fairness"]["audit"], "fairness/audit.json")
            mlflow.log_dict(
                {"rows": fairness_table(summary["fairness"]["audit"])}, "fairness/table.json"
            )
        mlflow.log_artifacts(str(out), "report")
        return run.info.run_id
