"""Fitting both models: a rolling-origin backtest judges the recipe, then a refit on every labelled case.

The backtest (:func:`triage.training.split.rolling_origin_splits`) trains on what was labelled
by each cut and tests on the months after it, as a retraining job on that date would; its figures
are what is reported and gated.  The version that is registered and served is then refit with the
backtest's settings on every labelled case, so a centre with two years of records is not served a
model that learnt from a fifth of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from triage.config import Domain
from triage.contract import TIERS
from triage.evaluation.labels import dataset_end, escalation_labels
from triage.evaluation.metrics import binary_metrics, summarise_folds, tier_confusion, tier_metrics
from triage.features import CallTextModel, build_case_features, build_person_features, rule_tiers
from triage.features.points import assessment_points, case_points
from triage.models import EscalationModel, TierModel
from triage.models.population import PopulationProfile
from triage.training.examples import checklist_score, oracle_probabilities
from triage.training.split import TimeSplit, rolling_origin_splits

#: Metrics of each fold summarised (mean, min, max) in the backtest report.
BACKTEST_METRICS = ("roc_auc", "average_precision", "ece", "recall_top5")
TIER_BACKTEST_METRICS = ("macro_f1", "red_recall", "green_precision", "qwk")


@dataclass
class EscalationFit:
    """The refit model and the backtest that judged its recipe (test rows pooled over the folds)."""

    model: EscalationModel
    folds: list[TimeSplit]
    test_points: pd.DataFrame  # the backtest's test cases with their as_of, oldest first
    X_test: pd.DataFrame  # their features, with each fold's own text model
    y_test: np.ndarray
    p_test: np.ndarray  # each fold model's calibrated probability of its own test cases
    metrics: dict  # pooled over the folds: model, checklist, oracle
    backtest: dict  # per source and metric: mean, min, max over the folds
    refit: dict  # the served model's training window and rows
    p_oracle: np.ndarray | None = None


@dataclass
class TierFit:
    model: TierModel
    folds: list[TimeSplit]
    X_test: pd.DataFrame
    y_test: np.ndarray
    test_times: pd.Series  # as_of of each backtest assessment
    proba_test: np.ndarray  # each fold model's probabilities of its own test assessments
    decided_test: np.ndarray  # and its red-first tiers
    metrics: dict
    backtest: dict
    refit: dict
    confusion: dict  # the backtest's tiers, true × predicted


def escalation_recipe(domain: Domain, **params) -> EscalationModel:
    return EscalationModel(
        calibration_share=domain.evaluation.calibration_share,
        band_top_shares=domain.escalation.band_top_shares,
        **params,
    )


def fit_escalation(
    tables, *, horizon_days: int, domain: Domain, oracle: pd.DataFrame | None
) -> EscalationFit:
    points = case_points(tables)
    data_end = dataset_end(tables)
    labels = escalation_labels(
        points, tables["incidents"], horizon_days=horizon_days, data_end=data_end
    )
    labelled = labels.notna()
    y = labels.to_numpy(dtype=float, na_value=np.nan)
    folds = rolling_origin_splits(
        points["opened_at"],
        labelled,
        folds=domain.evaluation.backtest_folds,
        test_months=domain.evaluation.test_months,
        label_delay_days=horizon_days,
    )
    tested = [_escalation_fold(split, points, y, tables, domain) for split in folds]
    test_points = pd.concat([t["points"] for t in tested], ignore_index=True)
    X_test = pd.concat([t.pop("X") for t in tested], ignore_index=True)  # one copy of them
    y_test, p_test = (
        np.concatenate([t["y"] for t in tested]),
        np.concatenate([t["p"] for t in tested]),
    )
    margins = np.concatenate([t["margin"] for t in tested])
    p_oracle = oracle_probabilities(oracle, test_points["case_id"], ["p_escalation"])
    p_oracle = None if p_oracle is None else p_oracle[:, 0]
    sources = {"model": p_test, "checklist": checklist_score(X_test, domain.checklist)}
    if p_oracle is not None:
        sources["oracle"] = p_oracle
    metrics = {
        name: binary_metrics(y_test, score, is_probability=name != "checklist")
        for name, score in sources.items()
    }
    fold_of = np.repeat(np.arange(len(tested)), [len(t["y"]) for t in tested])
    backtest = {
        name: summarise_folds(
            [
                {
                    m: v
                    for m, v in binary_metrics(
                        y_test[fold_of == k],
                        score[fold_of == k],
                        is_probability=name != "checklist",
                    ).items()
                    if m in BACKTEST_METRICS
                }
                for k in range(len(tested))
            ]
        )
        for name, score in sources.items()
    }
    backtest["trees"] = [t["trees"] for t in tested]

    text_model = CallTextModel().fit(tables, cutoff=data_end)
    train_points = points[labelled.to_numpy()].reset_index(drop=True)
    X = _case_features(train_points, tables, text_model)
    trees = int(np.median(backtest["trees"]))
    model = escalation_recipe(domain, n_estimators=trees, text_model=text_model)
    model.fit(X, y[labelled.to_numpy()], held_out_margin=margins, held_out_y=y_test)
    model.population_ = learn_population(X, train_points, tables, domain).to_dict()
    refit = training_window(train_points["opened_at"], labelled=int(labelled.sum())) | {
        "trees": trees
    }
    model.training_window_ = refit
    return EscalationFit(
        model, folds, test_points, X_test, y_test, p_test, metrics, backtest, refit, p_oracle
    )


def _escalation_fold(
    split: TimeSplit, points: pd.DataFrame, y: np.ndarray, tables, domain: Domain
) -> dict:
    """Train on what was labelled by the cut (text model included), test on the fold's window."""
    text_model = CallTextModel().fit(tables, cutoff=split.cut)
    train, test = split.train.to_numpy(), split.test.to_numpy()
    model = escalation_recipe(domain, text_model=text_model).fit(
        _case_features(points[train], tables, text_model), y[train]
    )
    test_points = points[test].reset_index(drop=True)
    X_test = _case_features(test_points, tables, text_model)
    return {
        "points": test_points,
        "X": X_test,
        "y": y[test],
        "p": model.predict_proba(X_test)[:, 1],
        "margin": model.decision_function(X_test),
        "trees": model.n_trees_,
    }


def _case_features(points: pd.DataFrame, tables, text_model) -> pd.DataFrame:
    return build_case_features(points, tables, text_model=text_model).drop(
        columns=["case_id", "as_of"]
    )


def training_window(times: pd.Series, *, labelled: int) -> dict:
    """The refit's window: first and last example, rows, and their share of the labelled examples."""
    return {
        "first": times.min().isoformat(),
        "last": times.max().isoformat(),
        "rows": int(len(times)),
        "labelled_rows": labelled,
        "share_of_labelled": float(len(times) / max(labelled, 1)),
    }


def learn_population(
    X_train: pd.DataFrame, train_points: pd.DataFrame, tables, domain: Domain
) -> PopulationProfile:
    """The training population the service compares each scored case with (out-of-population warnings)."""
    households = tables["households"].set_index("household_id")["district"]
    districts = train_points["household_id"].map(households)
    return PopulationProfile.learn(
        X_train, districts.dropna().astype(str).unique(), domain.population
    )


#: Fewest backtest rows the champion never learnt from for a comparison on the same cases.
MIN_UNSEEN_ROWS = 200


def unseen_by(champion, times: pd.Series, labels: np.ndarray) -> np.ndarray | None:
    """Backtest rows later than the champion's training window, or None when too few remain to judge.

    The champion learnt from cases up to the end of its window: judged on them it would look better
    than it is.  A champion without a recorded window was judged on held-out data of its own and
    is compared on every row.
    """
    window = getattr(champion, "training_window_", None)
    if window is None:
        return np.ones(len(labels), dtype=bool)
    unseen = (times > pd.Timestamp(window["last"])).to_numpy()
    enough = unseen.sum() >= MIN_UNSEEN_ROWS and len(np.unique(labels[unseen])) > 1
    return unseen if enough else None


def champion_figures(
    fit: EscalationFit, champion: EscalationModel, tables, registered: dict
) -> dict:
    """The champion's and the candidate's AUC on the backtest cases the champion never learnt from;
    failing enough of those, the champion's own out-of-time AUC as registered with its version."""
    rows = unseen_by(champion, fit.test_points["opened_at"], fit.y_test)
    if rows is None:
        return {
            "roc_auc": float(registered["escalation_roc_auc"]),
            "candidate_roc_auc": fit.metrics["model"]["roc_auc"],
            "rows": int(registered.get("escalation_rows", 0)),
            "scope": "each model's own backtest",
        }
    champion_X = build_case_features(fit.test_points[rows], tables, text_model=champion.text_model_)
    return {
        "roc_auc": binary_metrics(fit.y_test[rows], champion.predict_proba(champion_X)[:, 1])[
            "roc_auc"
        ],
        "candidate_roc_auc": binary_metrics(fit.y_test[rows], fit.p_test[rows])["roc_auc"],
        "rows": int(rows.sum()),
        "scope": "the same cases",
    }


def tier_recipe(domain: Domain) -> TierModel:
    return TierModel(
        red_recall_target=domain.tier_model.red_recall_target,
        set_confidence=domain.tier_model.set_confidence,
    )


def fit_tier_recipe(X: pd.DataFrame, y: np.ndarray, domain: Domain) -> TierModel:
    """Trees on every row, thresholds from a first fit's probabilities of the latest quarter (held out)."""
    held_out = max(int(round(len(y) * domain.evaluation.calibration_share)), 1)
    first = tier_recipe(domain).fit(X.iloc[:-held_out].reset_index(drop=True), y[:-held_out])
    return tier_recipe(domain).fit(
        X, y, held_out_proba=first.predict_proba(X.iloc[-held_out:]), held_out_y=y[-held_out:]
    )


def fit_tier(tables, *, domain: Domain, oracle: pd.DataFrame | None) -> TierFit:
    """Backtest of the tier recipe over assessment times, then the refit on every assessment."""
    points = assessment_points(tables)
    folds = rolling_origin_splits(
        points["as_of"],
        pd.Series(True, index=points.index),
        folds=domain.evaluation.backtest_folds,
        test_months=domain.evaluation.test_months,
    )
    X = build_person_features(points.drop(columns="tier"), tables).drop(
        columns=["person_id", "as_of"], errors="ignore"
    )
    y = points["tier"].astype(str).to_numpy()
    tested, per_fold = [], []
    for split in folds:
        train, test = split.train.to_numpy(), split.test.to_numpy()
        model = fit_tier_recipe(X[train].reset_index(drop=True), y[train], domain)
        proba = model.predict_proba(X[test].reset_index(drop=True))
        tested.append((test, proba, model.decide(proba)))
        per_fold.append(
            {
                m: v
                for m, v in tier_metrics(y[test], proba, model.decide(proba)).items()
                if m in TIER_BACKTEST_METRICS
            }
        )
    test_rows = np.concatenate([np.flatnonzero(t[0]) for t in tested])
    proba = np.concatenate([t[1] for t in tested])
    decided = np.concatenate([t[2] for t in tested])
    X_test, y_test = X.iloc[test_rows].reset_index(drop=True), y[test_rows]
    metrics = {"model": tier_metrics(y_test, proba, decided)}
    rule = rule_tiers(points.iloc[test_rows].reset_index(drop=True), tables, domain.tier_rule)
    covered = rule.notna().to_numpy()
    if covered.any():
        rule_index = pd.Categorical(rule[covered], categories=TIERS).codes
        one_hot = np.eye(len(TIERS))[rule_index]
        metrics["rule"] = {
            **tier_metrics(y_test[covered], one_hot),
            "coverage": float(covered.mean()),
        }
        metrics["model_where_rule"] = tier_metrics(
            y_test[covered], proba[covered], decided[covered]
        )
        served = decided.copy()
        served[covered] = rule_index
        metrics["served"] = tier_metrics(y_test, proba, served)
    oracle_proba = oracle_probabilities(
        oracle, points["exclude_assessment_id"].iloc[test_rows], [f"p_{t}" for t in TIERS]
    )
    if oracle_proba is not None:
        metrics["oracle"] = tier_metrics(y_test, oracle_proba)
    model = fit_tier_recipe(X, y, domain)
    refit = training_window(points["as_of"], labelled=len(points))
    model.training_window_ = refit
    return TierFit(
        model,
        folds,
        X_test,
        y_test,
        points["as_of"].iloc[test_rows].reset_index(drop=True),
        proba,
        decided,
        metrics,
        {"model": summarise_folds(per_fold)},
        refit,
        tier_confusion(y_test, decided),
    )


def tier_champion_figures(fit: TierFit, champion: TierModel, registered: dict) -> dict:
    """The champion's macro-F1 with its own decision rule on the backtest assessments it never learnt
    from (the candidate's alongside); failing enough of those, its registered out-of-time figure."""
    rows = unseen_by(champion, fit.test_times, fit.y_test)
    if rows is None:
        return {
            "macro_f1": float(registered["tier_macro_f1"]),
            "candidate_macro_f1": fit.metrics["model"]["macro_f1"],
            "scope": "each model's own backtest",
        }
    proba = champion.predict_proba(fit.X_test[rows])
    decide = getattr(champion, "decide", None)
    return {
        "macro_f1": tier_metrics(fit.y_test[rows], proba, decide(proba) if decide else None)[
            "macro_f1"
        ],
        "candidate_macro_f1": tier_metrics(
            fit.y_test[rows], fit.proba_test[rows], fit.decided_test[rows]
        )["macro_f1"],
        "scope": "the same assessments",
    }
