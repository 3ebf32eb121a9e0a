"""Generated cities of named sizes: the one place that says how big a test city is and what it spans.

Both writers of the exchange format are here: ``triage generate``'s simulator and the independent
second writer (:mod:`tests.support.second_city`), so a test can ask for the same size of either.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.support.second_city import write_second_city
from triage.synth import generate_city

START, END = date(2022, 1, 1), date(2025, 6, 30)

#: Households per named size.
SIZES = {"tiny": 300, "small": 1_500, "medium": 3_000, "large": 20_000}

WRITERS = {"triage": generate_city, "second": write_second_city}


def generated_city(
    out: Path,
    size: str,
    *,
    seed: int,
    start: date = START,
    end: date = END,
    writer: str = "triage",
    **options,
) -> dict:
    """Write a city of ``size`` (:data:`SIZES`) to ``out`` with ``writer``; returns its summary."""
    return WRITERS[writer](out, households=SIZES[size], seed=seed, start=start, end=end, **options)
