"""The explanation of one decision in the terms of its headline: how each factor moves the estimated risk.

The service explains a case with SHAP values in log-odds (``base_value`` + contributions =
``margin``), and the calibration fitted after the trees turns the margin into the probability on
the page.  The chart walks the same path in percentage points: the cumulative log-odds after each
factor, shifted by the calibration's offset at this case (logit(probability) − margin), read as a
probability.  So the bars start from a typical case's risk, add up exactly to this case's risk,
and the largest log-odds contributions stay the largest bars.  The top factors are shown one by
one; the rest are grouped by theme (calls, police records, mediation, persons, this case).  The
API's SHAP values are unchanged: this is only how the page reads them.

Rows are HTML, not SVG: a label wraps to the width it needs in either language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from triage.features import FEATURES
from triage.workbench.i18n import Translator

SPECS = {f.name: f for f in FEATURES}
#: Each feature's kind, so that a flag reads 是/否 rather than 1/0.
KINDS = {name: spec.kind for name, spec in SPECS.items()}
#: The themes the remaining factors are grouped by, in the order the chart lists them ("other": a feature
#: the registry no longer lists, explained by an older model).
THEMES = ("this_case", "calls", "police", "mediation", "persons", "other")
SOURCE_THEMES = {
    "hotline_calls": "calls",
    "incidents": "police",
    "mediation_events": "mediation",
    "cases": "mediation",
}


def theme_of(feature: str) -> str:
    """A feature's theme: this case's own facts, or what the households' calls, police records, mediation
    and earlier disputes, or members (screenings, registries) say."""
    spec = SPECS.get(feature)
    if spec is None:
        return "other"
    if spec.side == "case":
        return "this_case"
    return SOURCE_THEMES.get(spec.source, "persons")


@dataclass(frozen=True)
class Bar:
    label: str
    value: str
    contribution: float  # log-odds, as the API gives it
    points: float  # percentage points of estimated risk
    left: float  # per cent of the plot's width
    width: float
    up: bool
    group: bool = False  # a theme's remaining factors


@dataclass(frozen=True)
class Tick:
    at: float  # per cent of the plot's width
    text: str


@dataclass(frozen=True)
class Waterfall:
    bars: list[Bar]
    ticks: list[Tick]
    start: float  # a typical case's risk (probability)
    end: float  # this case's risk (probability)
    start_at: float
    end_at: float


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _step(span: float) -> float:
    """A round tick step (in percentage points) giving about five ticks over ``span``."""
    raw = max(span / 5, 1e-6)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def waterfall(escalation: dict, t: Translator, top: int = 8) -> Waterfall:
    """The chart of ``escalation`` (a stored response's part, with every factor): ``top`` factors, then the
    remaining ones by theme, in percentage points from a typical case's risk to this case's."""
    factors = escalation["factors"]
    base, margin = escalation["base_value"], escalation["margin"]
    shift = _logit(escalation["probability"]) - margin
    rows = [
        (
            f[f"label_{t.lang}"],
            t("value_removed")
            if f.get("withheld")
            else t.value(f["value"], KINDS.get(f["feature"])),
            f["contribution"],
            False,
        )
        for f in factors[:top]
    ]
    rest: dict[str, list[float]] = {}
    for f in factors[top:]:
        rest.setdefault(theme_of(f["feature"]), []).append(f["contribution"])
    unexplained = margin - base - sum(f["contribution"] for f in factors)
    if abs(unexplained) > 1e-9 and rest:  # rounding in the stored factors: kept in the last group
        rest[list(rest)[-1]].append(unexplained)
    rows += [
        (
            t("other_factors_theme", theme=t.term("factor_theme", theme), n=len(values)),
            "",
            sum(values),
            True,
        )
        for theme in THEMES
        for values in [rest.get(theme)]
        if values
    ]

    ends = [base]
    for *_, contribution, _ in rows:
        ends.append(ends[-1] + contribution)
    risks = [100 * _sigmoid(e + shift) for e in ends]
    low, high = min(risks), max(risks)
    pad = max((high - low) * 0.06, 0.5)
    low, high = max(low - pad, 0.0), min(high + pad, 100.0)

    def at(v: float) -> float:
        return (v - low) / (high - low) * 100

    bars = []
    for i, (label, value, contribution, group) in enumerate(rows):
        left, right = sorted((risks[i], risks[i + 1]))
        bars.append(
            Bar(
                label=label,
                value=value,
                contribution=contribution,
                points=risks[i + 1] - risks[i],
                left=at(left),
                width=max(at(right) - at(left), 0.4),
                up=contribution > 0,
                group=group,
            )
        )
    step = _step(high - low)
    ticks = [
        Tick(at(k * step), f"{k * step:g}%")
        for k in range(math.ceil(low / step), math.floor(high / step) + 1)
    ]
    return Waterfall(
        bars=bars,
        ticks=ticks,
        start=risks[0] / 100,
        end=risks[-1] / 100,
        start_at=at(risks[0]),
        end_at=at(risks[-1]),
    )
