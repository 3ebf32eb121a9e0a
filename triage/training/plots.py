"""Evaluation plots logged with every training run (PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def calibration_curve(
    y: np.ndarray, curves: dict[str, np.ndarray], path: Path, bins: int = 10
) -> Path:
    """Reliability diagram: mean predicted vs observed rate in equal-frequency bins."""
    fig, ax = plt.subplots(figsize=(5, 5))
    top = 0.0
    for name, p in curves.items():
        chunks = np.array_split(np.argsort(p, kind="stable"), bins)
        xs, ys = [p[c].mean() for c in chunks], [y[c].mean() for c in chunks]
        ax.plot(xs, ys, marker="o", label=name)
        top = max(top, *xs, *ys)
    ax.plot([0, top], [0, top], ls="--", c="grey", lw=1)
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed escalation rate",
        title="Calibration (test window)",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def tier_calibration(
    y: np.ndarray, proba: np.ndarray, tiers: tuple[str, ...], path: Path, bins: int = 10
) -> Path:
    """One reliability curve per tier: mean P(tier) against the observed share of that tier, equal-frequency bins."""
    fig, ax = plt.subplots(figsize=(5, 5))
    colours = {"green": "tab:green", "yellow": "goldenrod", "red": "tab:red"}
    for k, tier in enumerate(tiers):
        p, observed = proba[:, k], (np.asarray(y) == tier).astype(float)
        chunks = np.array_split(np.argsort(p, kind="stable"), bins)
        ax.plot(
            [p[c].mean() for c in chunks],
            [observed[c].mean() for c in chunks],
            marker="o",
            label=tier,
            color=colours.get(tier),
        )
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(
        xlabel="mean predicted probability of the tier",
        ylabel="observed share of the tier",
        title="Calibration per tier (test window)",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def lift_chart(y: np.ndarray, scores: dict[str, np.ndarray], path: Path) -> Path:
    """Share of escalations caught against share of cases reviewed, highest score first."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    reviewed = np.arange(1, len(y) + 1) / len(y)
    for name, s in scores.items():
        caught = np.cumsum(y[np.argsort(-s, kind="stable")]) / max(y.sum(), 1)
        ax.plot(reviewed, caught, label=name)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="random")
    for share in (0.05, 0.10):
        ax.axvline(share, c="lightgrey", lw=1)
    ax.set(
        xlabel="share of cases reviewed",
        ylabel="share of escalations caught",
        title="Lift (test window)",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def confusion_matrix(confusion: dict[str, dict[str, int]], path: Path) -> Path:
    """Tiers of the test window, true (rows) × decided (columns), with each row's share in the cells."""
    tiers = list(confusion)
    counts = np.array(
        [[confusion[truth][decided] for decided in tiers] for truth in tiers], dtype=float
    )
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i, j in np.ndindex(counts.shape):
        ax.text(
            j,
            i,
            f"{int(counts[i, j])}\n{shares[i, j]:.0%}",
            ha="center",
            va="center",
            color="white" if shares[i, j] > 0.5 else "black",
        )
    ax.set(
        xticks=range(len(tiers)),
        xticklabels=tiers,
        yticks=range(len(tiers)),
        yticklabels=tiers,
        xlabel="decided tier",
        ylabel="assessed tier",
        title="Tiers (test window)",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def shap_summary(
    contributions: np.ndarray,
    matrix: np.ndarray,
    names: list[str],
    path: Path,
    max_display: int = 20,
    title: str | None = None,
) -> Path:
    """SHAP beeswarm of the test window (the ``shap`` package's own plot)."""
    import shap

    shap.summary_plot(
        contributions, matrix, feature_names=names, max_display=max_display, show=False
    )
    fig = plt.gcf()
    if title:
        fig.axes[0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
