"""Evaluation metrics, computed the same way for the model, the oracle (ceiling) and the checklist (floor)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from triage.contract import TIERS


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate − mean probability| over equal-frequency bins, weighted by bin size."""
    order = np.argsort(p, kind="stable")
    chunks = np.array_split(order, bins)
    return float(sum(len(c) * abs(y[c].mean() - p[c].mean()) for c in chunks if len(c)) / len(y))


def ece_noise_floor(
    p: np.ndarray, bins: int = 10, draws: int = 200, quantile: float = 0.95, seed: int = 0
) -> float:
    """The ECE a *perfectly calibrated* model would still show on this many cases, by chance.

    Outcomes are simulated from ``p`` itself; on a few hundred cases with a 5 % base rate this
    floor is above 0.03, so a calibration bound must not be read below it.
    """
    rng = np.random.default_rng(seed)
    p = np.asarray(p, dtype=float)
    simulated = [
        expected_calibration_error((rng.random(p.size) < p).astype(float), p, bins)
        for _ in range(draws)
    ]
    return float(np.quantile(simulated, quantile))


def top_share_metrics(y: np.ndarray, score: np.ndarray, share: float) -> tuple[float, float]:
    """(recall, precision) when a centre reviews the top ``share`` of cases by score."""
    k = max(int(round(len(y) * share)), 1)
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].sum() / max(y.sum(), 1)), float(y[top].mean())


def binary_metrics(
    y, score, *, is_probability: bool = True, top_shares=(0.05, 0.10)
) -> dict[str, float]:
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    out = {
        "roc_auc": float(roc_auc_score(y, score)),
        "average_precision": float(average_precision_score(y, score)),
        "positives": int(y.sum()),
        "rows": int(len(y)),
        "base_rate": float(y.mean()),
    }
    if is_probability:
        out["brier"] = float(brier_score_loss(y, score))
        out["ece"] = expected_calibration_error(y, score)
        out["ece_noise_floor"] = ece_noise_floor(score)
    for share in top_shares:
        recall, precision = top_share_metrics(y, score, share)
        pct = int(round(share * 100))
        out[f"recall_top{pct}"] = recall
        out[f"precision_top{pct}"] = precision
    return out


def tier_metrics(
    y_true, proba: np.ndarray, predicted: np.ndarray | None = None
) -> dict[str, float]:
    """Macro-F1, quadratic-weighted kappa (green < yellow < red), red recall and green precision of the
    ``predicted`` tier indices (by default the most probable tier of each row of ``proba``)."""
    y_idx = _tier_index(y_true)
    pred = np.asarray(proba).argmax(axis=1) if predicted is None else np.asarray(predicted)
    return {
        "macro_f1": float(f1_score(y_idx, pred, average="macro", labels=[0, 1, 2])),
        "qwk": float(cohen_kappa_score(y_idx, pred, weights="quadratic", labels=[0, 1, 2])),
        "red_recall": float(recall_score(y_idx == 2, pred == 2, zero_division=0.0)),
        "green_precision": float(precision_score(y_idx == 0, pred == 0, zero_division=0.0)),
        "accuracy": float((y_idx == pred).mean()),
        "rows": int(len(y_idx)),
    }


def tier_confusion(y_true, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    """Counts by true tier (outer key) and predicted tier (inner key)."""
    matrix = confusion_matrix(_tier_index(y_true), np.asarray(predicted), labels=[0, 1, 2])
    return {truth: dict(zip(TIERS, map(int, row))) for truth, row in zip(TIERS, matrix)}


def summarise_folds(per_fold: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, min and max of each metric over the folds of a backtest."""
    return {
        name: {
            "mean": float(np.mean(values)),
            "min": float(np.min(values)),
            "max": float(np.max(values)),
        }
        for name in per_fold[0]
        for values in [[fold[name] for fold in per_fold]]
    }


def _tier_index(tiers) -> np.ndarray:
    lookup = {t: i for i, t in enumerate(TIERS)}
    return np.array([lookup[t] for t in tiers])
