"""The simulation's parameters (``config/synth.yaml``) and its clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

SYNTH_FILE = Path(__file__).resolve().parent.parent / "config" / "synth.yaml"
DAY = 86_400
WEEK = 7 * DAY
#: Every timestamp is written in Beijing time, the offset the exchange format shows.
UTC_OFFSET = "+08:00"


@lru_cache(maxsize=4)
def load_synth_params(path: str = str(SYNTH_FILE)) -> dict:
    """Rates, effects and phrase lists of the simulated city, read once."""
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@dataclass(frozen=True)
class Clock:
    """Simulated time as integer seconds since ``start`` 00:00 Beijing time.

    Integers keep every stage vectorised and exact; only the writer turns them into text.
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")

    @property
    def span(self) -> int:
        """Seconds from the first simulated moment to just after the last day."""
        return ((self.end - self.start).days + 1) * DAY

    @property
    def n_weeks(self) -> int:
        return -(-self.span // WEEK)

    @property
    def origin(self) -> np.datetime64:
        return np.datetime64(self.start.isoformat(), "s")

    def week_of_year(self) -> np.ndarray:
        """ISO-like week of the year of each simulated week (1..53), for seasonal effects."""
        days = self.origin.astype("datetime64[D]") + np.arange(self.n_weeks) * 7
        year_start = days.astype("datetime64[Y]").astype("datetime64[D]")
        return ((days - year_start).astype(np.int64) // 7) + 1

    def iso(self, seconds: np.ndarray) -> np.ndarray:
        """ISO 8601 text with the Beijing offset, vectorised."""
        stamps = self.origin + np.asarray(seconds, dtype=np.int64).astype("timedelta64[s]")
        return np.strings.add(
            np.datetime_as_string(stamps, unit="s").astype(np.dtypes.StringDType()), UTC_OFFSET
        )


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def draw_categorical(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One category per row of ``weights`` (rows need not sum to one)."""
    weights = np.atleast_2d(weights)
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((cumulative < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def pick_member(
    rng: np.random.Generator, household: np.ndarray, first_person: np.ndarray, n_persons: np.ndarray
) -> np.ndarray:
    """A uniformly chosen person index of each given household (persons are stored by household)."""
    return first_person[household] + (rng.random(len(household)) * n_persons[household]).astype(
        np.int64
    )


def ids(prefix: str, n: int, width: int) -> np.ndarray:
    """``prefix`` plus a zero-padded running number: stable, readable identifiers."""
    numbers = np.arange(1, n + 1).astype(np.dtypes.StringDType())
    return np.strings.add(prefix, np.strings.zfill(numbers, width))
