"""The SHAP waterfall of one decision, laid out in pixels for an inline SVG drawn on the server.

Starting from the model's base value, each of the top factors moves the margin (log-odds) by
its contribution; the remaining factors are one last bar, so the bars end exactly at the
decision's ``margin``.  No JavaScript and no network: the picture is in the page itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from triage.features import FEATURES
from triage.workbench.i18n import Translator

WIDTH = 760
LABEL_END = 292       # right edge of the factor labels
VALUE_END = 362       # right edge of the feature values
PLOT_START, PLOT_END = 378, 690
NUMBER_END = WIDTH - 6  # right edge of the contributions' numbers
ROW, TOP, BOTTOM = 30, 34, 34
LABEL_CHARS = {"zh": 19, "en": 38}
#: Each feature's kind, so that a flag reads 是/否 rather than 1/0.
KINDS = {f.name: f.kind for f in FEATURES}


@dataclass(frozen=True)
class Bar:
    label: str
    short: str
    value: str
    contribution: float
    x: float
    width: float
    y: float
    up: bool


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class Waterfall:
    bars: list[Bar]
    ticks: list[Tick]
    base_value: float
    margin: float
    base_x: float
    margin_x: float
    width: int
    height: int
    bar_height: float
    row: int = ROW
    top: int = TOP
    label_x: int = LABEL_END
    value_x: int = VALUE_END
    number_x: int = NUMBER_END


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _step(span: float) -> float:
    """A round tick step giving about five ticks over ``span``."""
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def waterfall(escalation: dict, t: Translator, top: int = 8) -> Waterfall:
    """The chart of ``escalation`` (a stored response's part): ``top`` factors plus the rest as one bar."""
    factors = escalation["factors"]
    base, margin = escalation["base_value"], escalation["margin"]
    rows = [(f[f"label_{t.lang}"], t.value(f["value"], KINDS.get(f["feature"])), f["contribution"])
            for f in factors[:top]]
    rest = margin - base - sum(c for *_, c in rows)
    if len(factors) > top:
        rows.append((t("other_factors", n=len(factors) - top), "", rest))
    ends = [base]
    for *_, contribution in rows:
        ends.append(ends[-1] + contribution)
    low, high = min(ends), max(ends)
    pad = max((high - low) * 0.06, 0.05)
    low, high = low - pad, high + pad

    def x(v: float) -> float:
        return PLOT_START + (v - low) / (high - low) * (PLOT_END - PLOT_START)

    bars = []
    for i, (label, value, contribution) in enumerate(rows):
        left, right = sorted((ends[i], ends[i + 1]))
        bars.append(Bar(label=label, short=_shorten(label, LABEL_CHARS[t.lang]), value=value,
                        contribution=contribution, x=x(left), width=max(x(right) - x(left), 1.5),
                        y=TOP + i * ROW, up=contribution > 0))
    step = _step(high - low)
    ticks = [Tick(x(k * step), f"{k * step:g}") for k in range(math.ceil(low / step), math.floor(high / step) + 1)]
    return Waterfall(bars=bars, ticks=ticks, base_value=base, margin=margin, base_x=x(base), margin_x=x(margin),
                     width=WIDTH, height=TOP + len(rows) * ROW + BOTTOM, bar_height=ROW * 0.62)
