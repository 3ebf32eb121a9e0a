"""Fairness audit of the escalation score by group, and the promotion gate built on it.

For each audited attribute (ethnicity, sex, area type, district; see :mod:`.groups`) and each group
with enough cases: the selection rate into ``high``/``critical``, the true- and false-positive
rates of that selection, and calibration (mean predicted probability minus observed escalation
rate).  The *gap* of a metric is the largest between-group difference; its confidence interval
comes from a case bootstrap (basic interval, which corrects the gap's upward bias from noise).  The gate refuses a model only when the interval's lower bound is
above the configured maximum, so a gap that sampling noise alone could produce never blocks one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count

from triage.config.domain import FairnessGate
from triage.evaluation.groups import ATTRIBUTES

#: Metrics whose between-group gaps are reported (and may be gated), in report order.
METRICS = ("selection_rate", "tpr", "fpr", "calibration")


def _metric_functions(threshold: float) -> dict:
    """MetricFrame metrics on ``(y, p)``: selection is ``p >= threshold`` (the ``high`` band cut)."""

    def rate(mask):
        return float(mask.mean()) if mask.size else float("nan")

    return {
        "n": count,
        "positives": lambda y, p: int(np.sum(y)),
        "selection_rate": lambda y, p: rate(np.asarray(p) >= threshold),
        "tpr": lambda y, p: rate(np.asarray(p)[np.asarray(y) == 1] >= threshold),
        "fpr": lambda y, p: rate(np.asarray(p)[np.asarray(y) == 0] >= threshold),
        "mean_predicted": lambda y, p: float(np.mean(p)),
        "observed_rate": lambda y, p: float(np.mean(y)),
        "calibration": lambda y, p: float(np.mean(p) - np.mean(y)),
    }


def _group_stats(
    codes: np.ndarray, k: int, y: np.ndarray, p: np.ndarray, selected: np.ndarray
) -> dict:
    """Per-group counts and rates for one (possibly resampled) set of cases, by ``np.bincount``."""
    n = np.bincount(codes, minlength=k).astype(float)
    pos = np.bincount(codes, weights=y, minlength=k)
    neg = n - pos
    sel = np.bincount(codes, weights=selected, minlength=k)
    sel_pos = np.bincount(codes, weights=selected * y, minlength=k)
    sum_p = np.bincount(codes, weights=p, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "n": n,
            "positives": pos,
            "negatives": neg,
            "selection_rate": sel / n,
            "tpr": sel_pos / pos,
            "fpr": (sel - sel_pos) / neg,
            "calibration": (sum_p - pos) / n,
        }


def _gaps(stats: dict, cfg: FairnessGate) -> dict[str, float]:
    """Largest between-group difference per metric, over groups with enough cases (and outcomes)."""
    big = stats["n"] >= cfg.min_group_cases
    eligible = {
        "selection_rate": big,
        "calibration": big,
        "tpr": big & (stats["positives"] >= cfg.min_group_outcomes),
        "fpr": big & (stats["negatives"] >= cfg.min_group_outcomes),
    }
    out = {}
    for metric in METRICS:
        values = stats[metric][eligible[metric]]
        out[metric] = float(values.max() - values.min()) if values.size >= 2 else float("nan")
    return out


def fairness_audit(
    y, p, groups: pd.DataFrame, *, threshold: float, cfg: FairnessGate, seed: int = 0
) -> dict:
    """Per-group metrics (Fairlearn ``MetricFrame``) and bootstrap CIs of the gaps, per attribute.

    ``y`` are observed escalations (0/1), ``p`` calibrated probabilities, ``groups`` one column per
    attribute (:func:`triage.evaluation.groups.case_groups`), ``threshold`` the ``high`` band cut.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    selected = (p >= threshold).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(y), size=(cfg.bootstrap, len(y)))
    alpha = (1.0 - cfg.confidence) / 2
    out: dict = {
        "threshold": float(threshold),
        "cases": int(len(y)),
        "positives": int(y.sum()),
        "confidence": cfg.confidence,
        "attributes": {},
    }
    for attribute in ATTRIBUTES:
        frame = MetricFrame(
            metrics=_metric_functions(threshold),
            y_true=y,
            y_pred=p,
            sensitive_features=groups[attribute].rename(attribute),
        )
        by_group = frame.by_group.reset_index().rename(columns={attribute: "group"})
        codes, names = pd.factorize(groups[attribute], sort=True)
        point = _gaps(_group_stats(codes, len(names), y, p, selected), cfg)
        boot = [
            _gaps(_group_stats(codes[d], len(names), y[d], p[d], selected[d]), cfg) for d in draws
        ]
        gaps = {}
        for metric in METRICS:
            sample = np.array([b[metric] for b in boot])
            sample = sample[~np.isnan(sample)]
            # Basic (reverse-percentile) interval: a largest-minus-smallest gap is biased upward by
            # noise, and its resamples more so; reflecting them about the estimate removes that bias.
            q_low, q_high = (
                np.quantile(sample, [alpha, 1 - alpha]) if sample.size else (np.nan, np.nan)
            )
            low, high = max(2 * point[metric] - q_high, 0.0), 2 * point[metric] - q_low
            gaps[metric] = {"gap": point[metric], "ci_low": float(low), "ci_high": float(high)}
        out["attributes"][attribute] = {
            "groups": [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for row in by_group.to_dict("records")
            ],
            "gaps": gaps,
        }
    return out


def fairness_gate(audit: dict, cfg: FairnessGate) -> tuple[bool, str]:
    """Refuse when a gated gap is credibly above its maximum (its CI lower bound exceeds it)."""
    breaches = []
    for attribute in cfg.gated_attributes:
        for metric, maximum in cfg.max_gap.items():
            gap = audit["attributes"][attribute]["gaps"][metric]
            if gap["ci_low"] > maximum:
                breaches.append(
                    f"{metric} gap by {attribute} {gap['gap']:.3f} "
                    f"(CI {gap['ci_low']:.3f}..{gap['ci_high']:.3f}) above {maximum}"
                )
    if breaches:
        return False, "unfair: " + "; ".join(breaches)
    return True, "fair: no gated gap credibly above its maximum (" + ", ".join(
        f"{m} {v}" for m, v in cfg.max_gap.items()
    ) + ")"


def fairness_table(audit: dict) -> list[dict]:
    """Flat rows (attribute, group, metrics…, and the attribute's gaps) for a page or a CSV."""
    rows = []
    for attribute, result in audit["attributes"].items():
        for group in result["groups"]:
            rows.append({"attribute": attribute, **group})
        rows.append(
            {
                "attribute": attribute,
                "group": "gap",
                **{f"{metric}": result["gaps"][metric]["gap"] for metric in METRICS},
                **{
                    f"{metric}_ci": [
                        result["gaps"][metric]["ci_low"],
                        result["gaps"][metric]["ci_high"],
                    ]
                    for metric in METRICS
                },
            }
        )
    return rows
