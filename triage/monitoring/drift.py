"""Distribution shift between a reference sample and a current one: PSI plus a statistical test.

PSI (population stability index) measures *how much* a distribution moved and does not grow with
the sample size; the test (two-sample Kolmogorov-Smirnov for numbers, chi-square for categories)
says whether the move could be chance.  A feature counts as drifted only when both agree, because
on thousands of cases a test alone flags shifts far too small to matter.

Evidently would fit here, but its current release (0.7) does not import under pandas 3
(``pandas.core.dtypes.common.infer_dtype_from_object`` is gone), so the same two numbers are
computed with scipy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from triage.config.domain import Monitoring

MISSING = "(missing)"


def _psi(ref_share: np.ndarray, cur_share: np.ndarray, floor: float) -> float:
    r, c = np.maximum(ref_share, floor), np.maximum(cur_share, floor)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_drift(ref: pd.Series, cur: pd.Series, *, bins: int, floor: float) -> dict:
    """PSI over the reference's quantile bins (missing values are a bin of their own) and the KS test."""
    r = pd.to_numeric(ref, errors="coerce").to_numpy(dtype=float)
    c = pd.to_numeric(cur, errors="coerce").to_numpy(dtype=float)
    r_ok, c_ok = r[~np.isnan(r)], c[~np.isnan(c)]
    edges = (
        np.unique(np.quantile(r_ok, np.linspace(0, 1, bins + 1))[1:-1])
        if r_ok.size
        else np.array([])
    )

    def shares(values: np.ndarray, present: np.ndarray) -> np.ndarray:
        counts = np.bincount(
            np.searchsorted(edges, present, side="right"), minlength=edges.size + 1
        )
        return np.append(counts, values.size - present.size) / max(values.size, 1)

    ks = stats.ks_2samp(r_ok, c_ok) if r_ok.size and c_ok.size else None
    return {
        "kind": "numeric",
        "psi": _psi(shares(r, r_ok), shares(c, c_ok), floor),
        "test": "ks",
        "statistic": float(ks.statistic) if ks else float("nan"),
        "p_value": float(ks.pvalue) if ks else float("nan"),
        "reference_mean": float(np.mean(r_ok)) if r_ok.size else None,
        "current_mean": float(np.mean(c_ok)) if c_ok.size else None,
        "reference_missing": float(np.isnan(r).mean()) if r.size else 0.0,
        "current_missing": float(np.isnan(c).mean()) if c.size else 0.0,
    }


def categorical_drift(ref: pd.Series, cur: pd.Series, *, floor: float) -> dict:
    """PSI over the categories (missing is one), chi-square on the counts, and unseen categories."""
    r = ref.astype("object").where(ref.notna(), MISSING).astype(str)
    c = cur.astype("object").where(cur.notna(), MISSING).astype(str)
    categories = sorted(set(r) | set(c))
    r_counts = r.value_counts().reindex(categories, fill_value=0).to_numpy()
    c_counts = c.value_counts().reindex(categories, fill_value=0).to_numpy()
    r_share, c_share = r_counts / max(r_counts.sum(), 1), c_counts / max(c_counts.sum(), 1)
    table = np.vstack([r_counts, c_counts])
    table = table[:, table.sum(axis=0) > 0]
    chi = stats.chi2_contingency(table) if table.shape[1] >= 2 else None
    unseen = {
        cat: float(share)
        for cat, share, rc in zip(categories, c_share, r_counts)
        if rc == 0 and share > 0
    }
    return {
        "kind": "categorical",
        "psi": _psi(r_share, c_share, floor),
        "test": "chi2",
        "statistic": float(chi.statistic) if chi else 0.0,
        "p_value": float(chi.pvalue) if chi else 1.0,
        "reference_shares": dict(zip(categories, map(float, r_share))),
        "current_shares": dict(zip(categories, map(float, c_share))),
        "unseen_categories": unseen,
    }


def drift_level(result: dict, cfg: Monitoring) -> str:
    """ok / warn / alert for one column: PSI above a bound *and* a significant test (or unseen categories)."""
    if sum(result.get("unseen_categories", {}).values()) >= cfg.unseen_category_share_alert:
        return "alert"
    significant = result["p_value"] < cfg.alpha
    if significant and result["psi"] >= cfg.psi_alert:
        return "alert"
    if significant and result["psi"] >= cfg.psi_warn:
        return "warn"
    return "ok"


def frame_drift(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: set[str], cfg: Monitoring
) -> dict:
    """Drift of every column both frames share, keyed by column, each with its ``level``."""
    out = {}
    for column in (c for c in reference.columns if c in current.columns):
        result = (
            categorical_drift(reference[column], current[column], floor=cfg.psi_floor)
            if column in categorical
            else numeric_drift(
                reference[column], current[column], bins=cfg.psi_bins, floor=cfg.psi_floor
            )
        )
        out[column] = result | {"level": drift_level(result, cfg)}
    return out
