"""`triage train` and `triage evaluate`: fit both models out of time, log to MLflow, promote through gates."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sqlalchemy.exc import SQLAlchemyError

from triage.config import load_domain
from triage.contract import TIERS
from triage.data_contracts import validate_dataset
from triage.features import (CallTextModel, build_case_features, build_person_features, feature_labels,
                             rule_tiers)
from triage.features.points import assessment_points, case_points
from triage.models import EscalationModel, TierModel
from triage.models.population import PopulationProfile
from triage.models.pyfunc import EscalationPyfunc, TierPyfunc
from triage.models.registry import champion_version, configure_mlflow, load_native
from triage.evaluation.fairness import fairness_audit, fairness_gate
from triage.evaluation.groups import case_groups
from triage.evaluation.reference import log_reference, quarantine_shares, reference_frame
from triage.settings import Settings
from triage.training import plots
from triage.evaluation.labels import dataset_end, escalation_labels
from triage.training.overrides import override_agreement, read_overrides
from triage.evaluation.metrics import binary_metrics, tier_metrics
from triage.training.split import TimeSplit, out_of_time_split

log = logging.getLogger(__name__)
#: Tolerance for sampling noise when checking that no model beats the simulator's own probability.
ORACLE_TOLERANCE = 0.005


@dataclass
class EscalationFit:
    model: EscalationModel
    split: TimeSplit
    test_points: pd.DataFrame     # the test cases with their as_of, for re-featurising with another model
    X_test: pd.DataFrame
    y_test: np.ndarray
    p_test: np.ndarray
    metrics: dict
    p_oracle: np.ndarray | None = None   # the simulator's probability of each test case, when known


@dataclass
class TierFit:
    model: TierModel
    split: TimeSplit
    X_test: pd.DataFrame
    y_test: np.ndarray
    metrics: dict


def read_oracle(dataset: Path, name: str) -> pd.DataFrame | None:
    """The generator's true probabilities (``_oracle/<name>.csv``), when the dataset has them."""
    path = Path(dataset) / "_oracle" / f"{name}.csv"
    return pd.read_csv(path, dtype={"case_id": str, "assessment_id": str}) if path.exists() else None


def oracle_probabilities(oracle: pd.DataFrame | None, ids: pd.Series, columns: list[str]) -> np.ndarray | None:
    """The oracle's columns for ``ids`` (in order), or None when there is no oracle or it misses an id."""
    if oracle is None:
        return None
    key = oracle.columns[0]
    values = pd.DataFrame({key: ids.to_numpy()}).merge(oracle, on=key, how="left")[columns]
    return None if values.isna().any().any() else values.to_numpy(dtype=float)


def checklist_score(X: pd.DataFrame, checklist: list[dict]) -> np.ndarray:
    """The floor: how many warning signs of a paper checklist a case shows (missing counts as absent)."""
    ticks = [(pd.to_numeric(X[item["feature"]], errors="coerce").fillna(-np.inf) >= item["at_least"])
             for item in checklist]
    return np.sum(ticks, axis=0).astype(float)


def fit_escalation(tables, *, horizon_days: int, domain: dict, oracle: pd.DataFrame | None) -> EscalationFit:
    points = case_points(tables)
    labels = escalation_labels(points, tables["incidents"], horizon_days=horizon_days, data_end=dataset_end(tables))
    split = out_of_time_split(points["opened_at"], labels.notna(), test_months=domain["evaluation"]["test_months"],
                              label_delay_days=horizon_days)
    text_model = CallTextModel().fit(tables, cutoff=split.cut)
    used = split.train | split.test
    features = build_case_features(points[used], tables, text_model=text_model)
    X = features.drop(columns=["case_id", "as_of"])
    train_rows, test_rows = split.train[used].to_numpy(), split.test[used].to_numpy()
    y = labels[used].to_numpy(dtype=float)
    model = EscalationModel(calibration_share=domain["evaluation"]["calibration_share"],
                            band_top_shares=domain["escalation"]["band_top_shares"], text_model=text_model)
    model.fit(X[train_rows].reset_index(drop=True), y[train_rows])
    model.population_ = learn_population(X[train_rows], points[used][train_rows], tables, domain).to_dict()
    X_test, y_test = X[test_rows].reset_index(drop=True), y[test_rows]
    p_test = model.predict_proba(X_test)[:, 1]
    test_points = points[used][test_rows].reset_index(drop=True)
    metrics = {"model": binary_metrics(y_test, p_test),
               "checklist": binary_metrics(y_test, checklist_score(X_test, domain["checklist"]), is_probability=False)}
    p_oracle = oracle_probabilities(oracle, test_points["case_id"], ["p_escalation"])
    if p_oracle is not None:
        p_oracle = p_oracle[:, 0]
        metrics["oracle"] = binary_metrics(y_test, p_oracle)
    return EscalationFit(model, split, test_points, X_test, y_test, p_test, metrics, p_oracle)


def learn_population(X_train: pd.DataFrame, train_points: pd.DataFrame, tables, domain: dict) -> PopulationProfile:
    """The training population the service compares each scored case with (out-of-population warnings)."""
    households = tables["households"].set_index("household_id")["district"]
    districts = train_points["household_id"].map(households)
    return PopulationProfile.learn(X_train, districts.dropna().astype(str).unique(), domain["population"])


def fit_tier(tables, *, domain: dict, oracle: pd.DataFrame | None) -> TierFit:
    points = assessment_points(tables)
    split = out_of_time_split(points["as_of"], pd.Series(True, index=points.index),
                              test_months=domain["evaluation"]["test_months"])
    features = build_person_features(points.drop(columns="tier"), tables)
    X = features.drop(columns=["person_id", "as_of"], errors="ignore")
    y = points["tier"].astype(str).to_numpy()
    model = TierModel().fit(X[split.train.to_numpy()].reset_index(drop=True), y[split.train.to_numpy()])
    test_rows = split.test.to_numpy()
    X_test, y_test = X[test_rows].reset_index(drop=True), y[test_rows]
    metrics = {"model": tier_metrics(y_test, model.predict_proba(X_test))}
    rule = rule_tiers(points[test_rows].reset_index(drop=True), tables)
    covered = rule.notna().to_numpy()
    if covered.any():
        one_hot = np.eye(len(TIERS))[pd.Categorical(rule[covered], categories=TIERS).codes]
        metrics["rule"] = {**tier_metrics(y_test[covered], one_hot), "coverage": float(covered.mean())}
    proba = oracle_probabilities(oracle, points.loc[test_rows, "exclude_assessment_id"], [f"p_{t}" for t in TIERS])
    if proba is not None:
        metrics["oracle"] = tier_metrics(y_test, proba)
    return TierFit(model, split, X_test, y_test, metrics)


def flat_metrics(prefix: str, metrics: dict) -> dict[str, float]:
    """``{"model": {"roc_auc": …}}`` → ``{"<prefix>_roc_auc": …, "<prefix>_oracle_roc_auc": …}``."""
    flat = {}
    for source, values in metrics.items():
        stem = prefix if source == "model" else f"{prefix}_{source}"
        flat.update({f"{stem}_{k}": float(v) for k, v in values.items()})
    return flat


def dataset_fingerprint(dataset: Path) -> str:
    """sha256 over the table files (name and bytes), so a version names the exact data it learnt from."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(dataset).iterdir() if p.is_file() and not p.name.startswith((".", "_"))):
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def escalation_gate(fit: EscalationFit, champion, tables, gates: dict) -> tuple[bool, str]:
    """Promote when calibrated and no worse than the champion on the same held-out window."""
    auc, ece = fit.metrics["model"]["roc_auc"], fit.metrics["model"]["ece"]
    bound = max(gates["max_ece"], fit.metrics["model"]["ece_noise_floor"])
    if ece > bound:
        return False, f"ECE {ece:.4f} above the bound {bound:.4f}"
    if champion is None:
        return True, f"first version; ECE {ece:.4f} within {bound:.4f}"
    old_auc = champion_auc(fit, champion, tables)
    if auc < old_auc - gates["max_auc_drop"]:
        return False, f"AUC {auc:.4f} below champion's {old_auc:.4f} on the same window"
    return True, f"AUC {auc:.4f} vs champion {old_auc:.4f} on the same window; ECE {ece:.4f}"


def champion_auc(fit: EscalationFit, champion, tables) -> float:
    """The champion's AUC on the new fit's held-out window (featurised with the champion's text model)."""
    champion_X = build_case_features(fit.test_points, tables, text_model=champion.text_model_)
    return binary_metrics(fit.y_test, champion.predict_proba(champion_X)[:, 1])["roc_auc"]


def tier_gate(fit: TierFit, champion, gates: dict) -> tuple[bool, str]:
    f1 = fit.metrics["model"]["macro_f1"]
    if champion is None:
        return True, f"first version; macro-F1 {f1:.4f}"
    champion_f1 = tier_metrics(fit.y_test, champion.predict_proba(fit.X_test))["macro_f1"]
    if f1 < champion_f1 - gates["max_macro_f1_drop"]:
        return False, f"macro-F1 {f1:.4f} below champion's {champion_f1:.4f} on the same window"
    return True, f"macro-F1 {f1:.4f} vs champion {champion_f1:.4f} on the same window"


def retrain_gate(role: str, fit, champion, current, fingerprint: str, tables, domain: dict) -> tuple[bool, str]:
    """`triage retrain`: promote only a model learnt from another export that *beats* the champion.

    "Better" is a margin over the champion on the new fit's held-out window (``gates.retrain``), not
    "no worse"; and an export the champion already learnt from is a tie by definition.  So a rerun
    on the same data never promotes a second time.
    """
    if current is not None and current.tags.get("data_fingerprint") == fingerprint:
        return False, "the champion already learnt from this export (same data fingerprint)"
    gates = domain["gates"]
    if role == "escalation":
        calibrated, reason = escalation_gate(fit, None, tables, gates["escalation"])  # the ECE bound alone
        if not calibrated:
            return False, reason
        metric, new, gain = "AUC", fit.metrics["model"]["roc_auc"], gates["retrain"]["min_auc_gain"]
        old = champion_auc(fit, champion, tables) if champion is not None else None
    else:
        metric, new, gain = "macro-F1", fit.metrics["model"]["macro_f1"], gates["retrain"]["min_macro_f1_gain"]
        old = tier_metrics(fit.y_test, champion.predict_proba(fit.X_test))["macro_f1"] if champion is not None else None
    if old is None:
        return True, f"first version; {metric} {new:.4f}"
    if new < old + gain:
        return False, f"{metric} {new:.4f} does not beat the champion's {old:.4f} by {gain} on the same window"
    return True, f"{metric} {new:.4f} beats the champion's {old:.4f} by at least {gain} on the same window"


def audit_escalation_fairness(fit: EscalationFit, tables, domain: dict) -> dict:
    """Fairness audit of the held-out window; groups come from the tables, never from the features."""
    return fairness_audit(fit.y_test, fit.p_test, case_groups(fit.test_points, tables),
                          threshold=fit.model.band_thresholds_["high"], cfg=domain["gates"]["fairness"])


def log_fairness(audit: dict, decision: tuple[bool, str]) -> None:
    """The audit as an artifact, its gaps as metrics, the gate's verdict as a tag of the active run."""
    mlflow.log_dict(audit, "fairness/audit.json")
    mlflow.log_metrics({f"fairness_{attribute}_{metric}_gap": gap["gap"]
                        for attribute, result in audit["attributes"].items()
                        for metric, gap in result["gaps"].items() if np.isfinite(gap["gap"])})
    mlflow.set_tags({"fairness_audit": "true",
                     "fairness_gate": ("passed: " if decision[0] else "refused: ") + decision[1]})


def log_monitoring_reference(fit: EscalationFit, tables, validation_summary: dict, domain: dict) -> None:
    """What `triage monitor` compares later data with (see triage/evaluation/reference.py)."""
    frame = reference_frame(fit.X_test, fit.p_test, case_groups(fit.test_points, tables),
                            rows=domain["monitoring"]["reference_rows"])
    log_reference(frame, {"roc_auc": fit.metrics["model"]["roc_auc"], "ece": fit.metrics["model"]["ece"],
                          "base_rate": fit.metrics["model"]["base_rate"], "window": fit.split.describe(),
                          "quarantine_shares": quarantine_shares(validation_summary),
                          "categorical": sorted(fit.model.schema_.categories)})


def log_override_agreement(model: EscalationModel, tables, settings: Settings) -> dict:
    """How often the new model sides with the analysts' overrides kept in the service database
    (``overrides.json`` and the metric ``escalation_override_agreement``); none recorded is no error."""
    try:
        report = override_agreement(model, tables, read_overrides(settings.db_url))
    except SQLAlchemyError as exc:
        log.warning("service database unreadable, override agreement not reported: %s", type(exc).__name__)
        report = {"overrides": None, "judged": 0, "agreed": 0, "agreement": None,
                  "unavailable": f"service database unreadable ({type(exc).__name__})"}
    mlflow.log_dict(report, "overrides.json")
    if report["agreement"] is not None:
        mlflow.log_metric("escalation_override_agreement", report["agreement"])
    return report


def _log_plots(fit: EscalationFit, oracle_p: np.ndarray | None, checklist: np.ndarray, folder: Path) -> None:
    curves = {"model": fit.p_test} | ({"oracle": oracle_p} if oracle_p is not None else {})
    plots.calibration_curve(fit.y_test, curves, folder / "calibration_curve.png")
    plots.lift_chart(fit.y_test, curves | {"checklist": checklist}, folder / "lift_chart.png")
    contributions, _ = fit.model.explain(fit.X_test)
    plots.shap_summary(contributions, fit.model.schema_.matrix(fit.X_test), fit.model.feature_names_,
                       folder / "shap_summary.png")


def _register(client, name: str, python_model, model, X_example: pd.DataFrame, metadata: dict, tags: dict) -> str:
    example = model.schema_.signature_frame(X_example.head(5))
    output = python_model.predict(None, example)
    info = mlflow.pyfunc.log_model(name=name.removeprefix("triage-"), python_model=python_model,
                                   signature=infer_signature(example, output), input_example=example,
                                   registered_model_name=name, metadata=metadata)
    version = str(info.registered_model_version)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    return version


def train(dataset: Path, *, settings: Settings, horizon_days: int | None = None, promote: str = "auto") -> dict:
    """Train, evaluate, log and register both models; move ``champion`` per ``promote``.

    ``promote``: ``auto`` (the gates), ``retrain`` (the stricter :func:`retrain_gate`), ``never``, ``force``.
    The fairness gate applies to the escalation model under ``auto`` and ``retrain``.
    """
    horizon_days = horizon_days or settings.horizon_days
    domain = load_domain(settings.domain_file)
    validation = validate_dataset(dataset)
    tables = validation.valid
    escalation = fit_escalation(tables, horizon_days=horizon_days, domain=domain,
                                oracle=read_oracle(dataset, "cases"))
    tier = fit_tier(tables, domain=domain, oracle=read_oracle(dataset, "assessments"))
    leaking = [f"{name}" for name, fit, key in (("escalation", escalation, "roc_auc"),)
               if "oracle" in fit.metrics and fit.metrics["model"][key] > fit.metrics["oracle"][key] + ORACLE_TOLERANCE]
    if leaking:
        log.error("model beats the oracle on %s: that is leakage, not skill", leaking)

    client = configure_mlflow(settings)
    fingerprint, commit = dataset_fingerprint(dataset), git_commit()
    summary: dict = {"escalation": escalation.metrics, "tier": tier.metrics, "split": {
        "escalation": escalation.split.describe(), "tier": tier.split.describe()}}
    with mlflow.start_run(run_name="train") as run, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.log_params({"horizon_days": horizon_days, "data_fingerprint": fingerprint, "git_commit": commit,
                           "promote": promote, **{f"escalation_{k}": v for k, v in escalation.split.describe().items()},
                           **{f"tier_{k}": v for k, v in tier.split.describe().items()},
                           **{f"escalation_param_{k}": v for k, v in escalation.model.get_params().items()
                              if k != "text_model"},
                           "escalation_band_thresholds": json.dumps(escalation.model.band_thresholds_)})
        mlflow.log_metrics(flat_metrics("escalation", escalation.metrics) | flat_metrics("tier", tier.metrics))
        mlflow.set_tags({"git_commit": commit, "data_fingerprint": fingerprint, "leakage_suspected": str(bool(leaking))})
        labels = feature_labels()
        features_doc = {"escalation": [{"name": n, **labels.get(n, {})} for n in escalation.model.feature_names_],
                        "tier": [{"name": n, **labels.get(n, {})} for n in tier.model.feature_names_]}
        mlflow.log_dict(features_doc, "features.json")
        mlflow.log_dict(validation.summary, "validation_summary.json")
        mlflow.log_dict(escalation.model.population_, "population.json")
        _log_plots(escalation, escalation.p_oracle, checklist_score(escalation.X_test, domain["checklist"]), folder)
        mlflow.log_artifacts(str(folder), "plots")
        fairness = audit_escalation_fairness(escalation, tables, domain)
        fair = fairness_gate(fairness, domain["gates"]["fairness"])
        log_fairness(fairness, fair)
        log_monitoring_reference(escalation, tables, validation.summary, domain)
        overrides = log_override_agreement(escalation.model, tables, settings)

        metadata = {"git_commit": commit, "data_fingerprint": fingerprint, "validation": validation.summary}
        versions, promotion = {}, {}
        for role, fit, python_model, name, gate in (
            ("escalation", escalation, EscalationPyfunc(escalation.model), settings.escalation_model_name,
             lambda champ: escalation_gate(escalation, champ, tables, domain["gates"]["escalation"])),
            ("tier", tier, TierPyfunc(tier.model), settings.tier_model_name,
             lambda champ: tier_gate(tier, champ, domain["gates"]["tier"])),
        ):
            current = champion_version(client, name, settings.champion_alias)
            version = _register(client, name, python_model, fit.model, fit.X_test,
                                metadata | {"metrics": fit.metrics, "features": features_doc[role]},
                                {"git_commit": commit, "data_fingerprint": fingerprint,
                                 **{k: f"{v:.6g}" for k, v in flat_metrics(role, fit.metrics).items()}})
            versions[role] = f"{name}/{version}"
            if promote == "never":
                passed, reason = False, "promotion disabled (--promote never)"
            elif promote == "force":
                passed, reason = True, "forced (--promote force)"
            else:
                champion = load_native(f"models:/{name}/{current.version}") if current is not None else None
                passed, reason = (retrain_gate(role, fit, champion, current, fingerprint, tables, domain)
                                  if promote == "retrain" else gate(champion))
                if role == "escalation" and not fair[0]:
                    passed, reason = False, f"{fair[1]}; {reason}"
            if passed:
                client.set_registered_model_alias(name, settings.champion_alias, version)
            client.set_model_version_tag(name, version, "promotion", ("promoted: " if passed else "refused: ") + reason)
            mlflow.set_tag(f"promotion_{role}", ("promoted: " if passed else "refused: ") + reason)
            promotion[role] = {"version": version, "promoted": passed, "reason": reason}
        summary |= {"versions": versions, "promotion": promotion, "run_id": run.info.run_id, "overrides": overrides,
                    "leakage_suspected": leaking, "fairness_gate": {"passed": fair[0], "reason": fair[1]}}
    return summary


def evaluate(dataset: Path, model_uri: str, *, settings: Settings, horizon_days: int | None = None) -> dict:
    """Evaluate one registered model on every labelled case (or assessment) of a dataset."""
    configure_mlflow(settings)
    model = load_native(model_uri)
    tables = validate_dataset(dataset).valid
    domain = load_domain(settings.domain_file)
    if isinstance(model, EscalationModel):
        points = case_points(tables)
        labels = escalation_labels(points, tables["incidents"], horizon_days=horizon_days or settings.horizon_days,
                                   data_end=dataset_end(tables))
        points = points[labels.notna().to_numpy()].reset_index(drop=True)
        y = labels.dropna().to_numpy(dtype=float)
        X = build_case_features(points, tables, text_model=model.text_model_)
        out = {"model": binary_metrics(y, model.predict_proba(X)[:, 1]),
               "checklist": binary_metrics(y, checklist_score(X, domain["checklist"]), is_probability=False)}
        p_oracle = oracle_probabilities(read_oracle(dataset, "cases"), points["case_id"], ["p_escalation"])
        if p_oracle is not None:
            out["oracle"] = binary_metrics(y, p_oracle[:, 0])
        return {"model_uri": model_uri, "escalation": out}
    points = assessment_points(tables)
    X = build_person_features(points.drop(columns="tier"), tables)
    y = points["tier"].astype(str).to_numpy()
    out = {"model": tier_metrics(y, model.predict_proba(X))}
    proba = oracle_probabilities(read_oracle(dataset, "assessments"), points["exclude_assessment_id"],
                                 [f"p_{t}" for t in TIERS])
    if proba is not None:
        out["oracle"] = tier_metrics(y, proba)
    return {"model_uri": model_uri, "tier": out}
