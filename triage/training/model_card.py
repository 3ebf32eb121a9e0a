"""A model card for every registered version, written from its own training run.

What it is for and what it must not be used for, the data it learnt from, its out-of-time figures
with bootstrap intervals, its errors by group with intervals, the features it reads and those
barred from it, and its known limits: what an analyst, an auditor or a person affected by a score
may ask of it (PIPL Art. 24).  Logged as ``model_card/<role>.md`` beside the version's model.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import average_precision_score, roc_auc_score

from triage.contract import AUDIT_ONLY_COLUMNS, PII_COLUMNS
from triage.evaluation.metrics import expected_calibration_error, tier_metrics
from triage.features.registry import FORBIDDEN_VALUES
from triage.training.fit import EscalationFit, TierFit

INTENDED_USE = """## Intended use

Ranks newly registered dispute cases (矛盾纠纷案件) of the centre that trained it by their estimated
risk of turning violent within the horizon, so that staff see the riskiest first and route them to
specialist teams; every score carries its reasons (SHAP factors), and an analyst agrees or overrides.

## Uses it must not serve

- No decision about a person without a human: the score orders a queue and proposes a route; it
  never closes a case, denies a service or marks a person.
- No use on populations unlike the one it learnt from (another county, other sources of cases)
  before it has been evaluated there out of time; the service warns when a case lies outside the
  training population.
- Not a measure of guilt or character, and not for policing individuals beyond the case.
"""

KNOWN_LIMITS = """## Known limits

- Learnt from the records the centre keeps: households with little recorded history get scores that
  rest on little (the service says so in `warnings`); what is never reported cannot be learnt.
- Labels are police records of violence within the horizon: violence never reported counts as none.
- The backtest's early folds train on fewer cases than the served refit, so its figures are a
  conservative guide; the refit's own calibration comes from the backtest's out-of-time margins.
- Figures on synthetic cities say how the method behaves, not how a real county's data will.
"""

TIER_LIMITS = """## Known limits

- Learnt from the assessments counsellors made: people never assessed are represented only through
  those who were, and a red person missed remains possible (see the red recall above).
- Figures on synthetic cities say how the method behaves, not how a real county's data will.
"""

METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "average_precision": "average precision",
    "ece": "ECE",
    "recall_top5": "share of escalations in the top 5 %",
}


def _interval(
    statistic, n: int, *, draws: int = 200, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """``statistic(rows)`` on all ``n`` rows and its bootstrap (percentile) interval over resampled rows."""
    return _intervals(
        lambda rows: {"value": statistic(rows)},
        ["value"],
        n,
        draws=draws,
        confidence=confidence,
        seed=seed,
    )["value"]


def _intervals(
    statistics, keys, n: int, *, draws: int = 200, confidence: float = 0.95, seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """:func:`_interval` of each of ``keys`` of ``statistics(rows)`` (a dict of figures), computed once
    per resample: every key is judged on the same resampled rows, as separate calls with one seed would."""
    resampled = [
        statistics(rows) for rows in np.random.default_rng(seed).integers(0, n, size=(draws, n))
    ]
    alpha = (1 - confidence) / 2
    point = statistics(np.arange(n))
    out = {}
    for key in keys:
        low, high = np.quantile([r[key] for r in resampled], [alpha, 1 - alpha])
        out[key] = float(point[key]), float(low), float(high)
    return out


def _rate_interval(rate: float, trials: int) -> str:
    """A group's rate and its Wilson 95 % interval ("–" for a group without such cases)."""
    if trials == 0 or rate != rate:
        return "–"
    ci = binomtest(round(rate * trials), trials).proportion_ci(method="wilson")
    return f"{rate:.2f} ({ci.low:.2f} .. {ci.high:.2f})"


def _features(names: list[str], labels: dict) -> str:
    used = "\n".join(f"- `{n}`: {labels.get(n, {}).get('en', '')}" for n in names)
    barred = ", ".join(
        f"`{c}`" for c in sorted(PII_COLUMNS | AUDIT_ONLY_COLUMNS | FORBIDDEN_VALUES)
    )
    return (
        f"## Features\n\n{len(names)} features, all as of the moment scored:\n\n{used}\n\n"
        f"Barred from every model: {barred} (personal data, the audit-only ethnicity, and case "
        "status known only after the fact).\n"
    )


def escalation_card(
    name: str, version: str, fit: EscalationFit, fairness: dict, labels: dict
) -> str:
    """The escalation model's card (Markdown)."""
    y, p = fit.y_test, fit.p_test
    rows = []
    for label, metric in (
        ("ROC AUC", roc_auc_score),
        ("average precision", average_precision_score),
        ("ECE", expected_calibration_error),
    ):
        point, low, high = _interval(lambda rows, metric=metric: metric(y[rows], p[rows]), len(y))
        rows.append(f"| {label} | {point:.3f} | {low:.3f} .. {high:.3f} |")
    backtest = fit.backtest["model"]
    folds = "\n".join(
        f"- fold {k + 1}: trained on {s.describe()['train_rows']:,} cases labelled by "
        f"{s.cut:%Y-%m-%d}, tested on {s.describe()['test_rows']:,} opened to {s.test_end:%Y-%m-%d}"
        for k, s in enumerate(fit.folds)
    )
    groups = [
        "| attribute | group | cases | escalations | selected into high/critical | TPR | FPR | "
        "calibration (predicted − observed) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for attribute, result in fairness["attributes"].items():
        for g in result["groups"]:
            n, positives = int(g["n"]), int(g["positives"])
            groups.append(
                f"| {attribute} | {g['group']} | {n:,} | {positives} | {g['selection_rate']:.2f} | "
                f"{_rate_interval(g['tpr'], positives)} | {_rate_interval(g['fpr'], n - positives)} | "
                f"{g['calibration']:+.3f} |"
            )
        gaps = ", ".join(
            f"{m.replace('_', ' ')} {v['gap']:.3f} ({v['ci_low']:.3f} .. {v['ci_high']:.3f})"
            if v["gap"] == v["gap"]
            else f"{m.replace('_', ' ')} not compared (groups too small)"
            for m, v in result["gaps"].items()
        )
        groups.append(f"| {attribute} | largest gap | | | | | | {gaps} |")
    refit = fit.refit
    return "\n".join(
        [
            f"# Model card: {name} version {version}",
            "",
            INTENDED_USE,
            "## Training data",
            "",
            f"The served version learnt from {refit['rows']:,} of the {refit['labelled_rows']:,} labelled cases "
            f"(opened {refit['first'][:10]} .. {refit['last'][:10]}), with {refit['trees']} trees.",
            "",
            "## Out of time",
            "",
            "A rolling-origin backtest, each fold trained only on what was labelled by its cut:",
            "",
            folds,
            "",
            f"Pooled over the folds ({len(y):,} cases, {int(y.sum())} escalations), with 95 % bootstrap "
            "intervals:",
            "",
            "| metric | value | interval |",
            "| --- | --- | --- |",
            *rows,
            "",
            "Per fold, mean (lowest .. highest): "
            + "; ".join(
                f"{METRIC_NAMES[m]} {v['mean']:.3f} ({v['min']:.3f} .. {v['max']:.3f})"
                for m, v in backtest.items()
            )
            + ".",
            "",
            f"Floor (checklist) ROC AUC {fit.metrics['checklist']['roc_auc']:.3f}"
            + (
                f"; ceiling (the generator's oracle) {fit.metrics['oracle']['roc_auc']:.3f}."
                if "oracle" in fit.metrics
                else "."
            ),
            "",
            "## By group",
            "",
            f"On the backtest's cases, selection at the `high` band cut ({fairness['threshold']:.3f}); Wilson "
            "95 % intervals for the rates, bootstrap intervals for the largest gap between groups. Ethnicity "
            "is read here only, never by the model.",
            "",
            *groups,
            "",
            _features(fit.model.feature_names_, labels),
            KNOWN_LIMITS,
        ]
    )


def tier_card(name: str, version: str, fit: TierFit, labels: dict) -> str:
    """The tier model's card (Markdown)."""
    y, proba, decided = fit.y_test, fit.proba_test, fit.decided_test
    figures = {
        "macro-F1": "macro_f1",
        "red recall": "red_recall",
        "green precision": "green_precision",
    }
    intervals = _intervals(
        lambda r: tier_metrics(y[r], proba[r], decided[r]), figures.values(), len(y)
    )
    rows = []
    for label, key in figures.items():
        point, low, high = intervals[key]
        rows.append(f"| {label} | {point:.3f} | {low:.3f} .. {high:.3f} |")
    confusion = [
        "| counsellor's tier \\ model's | green | yellow | red |",
        "| --- | --- | --- | --- |",
    ]
    confusion += [
        f"| {truth} | " + " | ".join(f"{n:,}" for n in row.values()) + " |"
        for truth, row in fit.confusion.items()
    ]
    rule = fit.metrics.get("rule")
    versus = (
        f"Where a screening of the last 90 days exists ({rule['coverage']:.0%} of the assessments) the "
        f"service gives the screening rule's tier: macro-F1 {rule['macro_f1']:.3f}, red recall "
        f"{rule['red_recall']:.2f}; the model there: {fit.metrics['model_where_rule']['macro_f1']:.3f}, "
        f"{fit.metrics['model_where_rule']['red_recall']:.2f}."
        if rule
        else "No assessment had a recent screening."
    )
    return "\n".join(
        [
            f"# Model card: {name} version {version}",
            "",
            "## Intended use\n\nSuggests the 绿黄红 tier a counsellor would give a person named in a case who has no "
            "screening of the last 90 days, red first (a red person missed is the costly error), so that care "
            "and guardianship groups are asked to look. A counsellor's assessment always replaces it.\n",
            "## Uses it must not serve\n\n- Not a diagnosis, and never a decision about a person without a counsellor.\n"
            "- Health data (PHQ-9, GAD-7) are sensitive personal information (PIPL Art. 28): the tier is shown "
            "only to those entitled to see the case.\n",
            "## Training data",
            "",
            f"The served version learnt from {fit.refit['rows']:,} assessments "
            f"({fit.refit['first'][:10]} .. {fit.refit['last'][:10]}).",
            "",
            "## Out of time",
            "",
            f"Pooled over the backtest's folds ({len(y):,} assessments), 95 % bootstrap intervals:",
            "",
            "| metric | value | interval |",
            "| --- | --- | --- |",
            *rows,
            "",
            *confusion,
            "",
            versus,
            "",
            "## By group\n\nNot audited by group yet: the fairness audit covers the escalation score.\n",
            _features(fit.model.feature_names_, labels),
            TIER_LIMITS,
        ]
    )
