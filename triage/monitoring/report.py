"""The monitoring report: PNG plots and one self-contained HTML page (plots inlined)."""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402

from triage.evaluation.fairness import METRICS  # noqa: E402

TOP_FEATURES = 20


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def score_plot(reference: np.ndarray, current: np.ndarray, path: Path) -> Path:
    """Histograms of the champion's scores: training reference against the recent cases."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, max(reference.max(), current.max(), 1e-6), 30)
    ax.hist(reference, bins=bins, density=True, alpha=0.5, label="training reference")
    ax.hist(current, bins=bins, density=True, alpha=0.5, label="recent cases")
    ax.set(xlabel="escalation probability", ylabel="density", title="Score distribution")
    ax.legend()
    return _save(fig, path)


def psi_plot(drift: dict, cfg_lines: tuple[float, float], path: Path) -> Path:
    """The features with the largest PSI, with the warn and alert bounds."""
    top = sorted(drift.items(), key=lambda kv: -kv[1]["psi"])[:TOP_FEATURES]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(top) + 1.2))
    colours = {"ok": "tab:green", "warn": "tab:orange", "alert": "tab:red"}
    ax.barh(
        [f for f, _ in top][::-1],
        [d["psi"] for _, d in top][::-1],
        color=[colours[d["level"]] for _, d in top][::-1],
    )
    for bound in cfg_lines:
        ax.axvline(bound, ls="--", c="grey", lw=1)
    ax.set(xlabel="PSI", title="Feature drift (largest PSI)")
    return _save(fig, path)


def outcomes_plot(by_month: list[dict], reference_auc: float, path: Path) -> Path:
    """AUC and calibration (mean predicted vs observed) per month of opening."""
    months = [r["month"] for r in by_month]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    left.plot(
        months, [r["roc_auc"] if r["roc_auc"] is not None else np.nan for r in by_month], marker="o"
    )
    left.axhline(reference_auc, ls="--", c="grey", lw=1, label="at training")
    left.set(title="AUC by month", ylim=(0.4, 1.0))
    left.legend()
    right.plot(months, [r["mean_predicted"] for r in by_month], marker="o", label="mean predicted")
    right.plot(months, [r["observed_rate"] for r in by_month], marker="s", label="observed")
    right.set(title="Calibration by month")
    right.legend()
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=45)
    return _save(fig, path)


def fairness_plot(audit: dict, path: Path) -> Path:
    """Each attribute's gap per metric with its bootstrap confidence interval."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    attributes = list(audit["attributes"])
    width = 0.8 / len(METRICS)
    for i, metric in enumerate(METRICS):
        gaps = [audit["attributes"][a]["gaps"][metric] for a in attributes]
        x = np.arange(len(attributes)) + i * width
        centre = np.array([g["gap"] for g in gaps], dtype=float)
        low = np.nan_to_num(centre - np.array([g["ci_low"] for g in gaps], dtype=float))
        high = np.nan_to_num(np.array([g["ci_high"] for g in gaps], dtype=float) - centre)
        ax.bar(
            x,
            np.nan_to_num(centre),
            width,
            yerr=[np.maximum(low, 0), np.maximum(high, 0)],
            capsize=2,
            label=metric,
        )
    ax.set_xticks(np.arange(len(attributes)) + 0.4 - width / 2, attributes)
    ax.set(
        ylabel="largest between-group gap", title=f"Fairness gaps ({audit['confidence']:.0%} CI)"
    )
    ax.legend(fontsize=8)
    return _save(fig, path)


def write(
    summary: dict, reference_scores: np.ndarray, current_scores: np.ndarray, out: Path
) -> Path:
    """Write the plots and ``report.html`` into ``out``; return the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    plots = {
        "scores": score_plot(reference_scores, current_scores, out / "score_distribution.png"),
        "drift": psi_plot(summary["feature_drift"], (0.10, 0.25), out / "feature_psi.png"),
    }
    outcomes = summary["outcomes"]
    if outcomes.get("by_month"):
        plots["outcomes"] = outcomes_plot(
            outcomes["by_month"], outcomes["reference_roc_auc"], out / "outcomes_by_month.png"
        )
    if summary["fairness"] is not None:
        plots["fairness"] = fairness_plot(summary["fairness"]["audit"], out / "fairness_gaps.png")
    images = {
        name: base64.b64encode(path.read_bytes()).decode("ascii") for name, path in plots.items()
    }
    env = Environment(
        loader=PackageLoader("triage.monitoring", "templates"), autoescape=select_autoescape()
    )
    html = env.get_template("report.html").render(s=summary, images=images, metrics=METRICS)
    path = out / "report.html"
    path.write_text(html, encoding="utf-8")
    return path
