"""Point-in-time windows as array look-ups: no loop over queries, no cross join.

Rows of a source are sorted once by (key, time).  For a query (key, as_of) the rows with that
key and time ≤ as_of form one contiguous run ending at ``np.searchsorted``'s answer, and the
rows of a window ``(as_of - days, as_of]`` a contiguous slice ``[lo, hi)`` of it; counts, sums,
means, maxima and latest values then come from cumulative sums, ``reduceat`` and indexing.
Times are compared exactly (int64 nanoseconds): ranks of the distinct row times make the
composite (key, time) sort key fit in int64 at any scale.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

DAY_NS = 86_400 * 10**9
UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


def to_ns(times: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch of a tz-aware series (NaT → int64 min)."""
    if times.dtype != UTC_NS:  # the conversions cost ~50 µs even when there is nothing to do
        times = times.dt.tz_convert("UTC").astype(UTC_NS)
    return times.array.asi8


class EventIndex:
    """The rows of one source, sorted by (key code, time, tie-break), ready for window queries.

    Keys are non-negative integer codes (see ``History.encode``); a row with code -1 has no key
    and is left out, a query with an unknown code finds no rows.
    """

    def __init__(
        self,
        codes: np.ndarray,
        times_ns: np.ndarray,
        tiebreak: np.ndarray | None = None,
        distinct_times: np.ndarray | None = None,
        time_ranks: np.ndarray | None = None,
    ):
        """``distinct_times``/``time_ranks``: the source's sorted distinct times and each row's
        position in them, when the caller has them already (they are the costly part)."""
        keep = np.flatnonzero(codes >= 0)
        codes, times_ns = codes[keep], np.asarray(times_ns)[keep]
        self._times = np.unique(times_ns) if distinct_times is None else distinct_times
        ranks = np.searchsorted(self._times, times_ns) if time_ranks is None else time_ranks[keep]
        self._stride = len(self._times) + 1
        # codes are used as they are unless code * stride could overflow int64: then densify
        self._keys = (
            np.unique(codes) if len(codes) and codes.max() > (2**62) // self._stride else None
        )
        key_part = codes if self._keys is None else np.searchsorted(self._keys, codes)
        composite = key_part.astype(np.int64) * self._stride + ranks + 1
        if tiebreak is None:
            order = np.argsort(composite, kind="stable")
        else:
            order = np.lexsort((np.asarray(tiebreak)[keep], composite))
        self.order = keep[order]  # positions in the source frame, in index order
        self._composite = composite[order]
        self.times = times_ns[order]

    def __len__(self) -> int:
        return len(self._composite)

    def sorted_values(self, values: np.ndarray) -> np.ndarray:
        """A column of the source frame, in the index's order."""
        return np.asarray(values)[self.order]

    def runs(self, codes: np.ndarray) -> KeyRuns:
        """Where each key's rows start (its time look-ups then need two ``searchsorted`` only)."""
        known = codes >= 0
        if self._keys is not None:
            dense = np.minimum(np.searchsorted(self._keys, codes), max(len(self._keys) - 1, 0))
            known &= (self._keys[dense] == codes) if len(self._keys) else False
            codes = dense
        base = np.where(known, codes, 0).astype(np.int64) * self._stride
        start = np.where(known, np.searchsorted(self._composite, base, side="left"), 0)
        return KeyRuns(known, base, start)

    def until(self, runs: KeyRuns, times_ns: np.ndarray) -> np.ndarray:
        """End of each key's rows with time ≤ ``times_ns`` (0 for an unknown key)."""
        end = np.searchsorted(
            self._composite,
            runs.base + np.searchsorted(self._times, times_ns, side="right"),
            side="right",
        )
        return np.where(runs.known, end, 0)

    def window(
        self, codes: np.ndarray, as_of_ns: np.ndarray, days: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``[lo, hi)`` positions of each query's rows with time in ``(as_of - days, as_of]``."""
        runs = self.runs(codes)
        hi = self.until(runs, as_of_ns)
        if days is None:
            return runs.start, hi
        return self.until(runs, as_of_ns - days * DAY_NS), hi


class KeyRuns(NamedTuple):
    """Per query key: whether the index has it, its composite-key base and its first row."""

    known: np.ndarray
    base: np.ndarray
    start: np.ndarray


def window_positions(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query, position) for every position of every query's ``[lo, hi)``: the windows' rows, flat."""
    sizes = hi - lo
    query = np.repeat(np.arange(len(lo)), sizes)
    return query, np.repeat(lo, sizes) + np.arange(len(query)) - np.repeat(
        np.cumsum(sizes) - sizes, sizes
    )


def window_count(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return (hi - lo).astype(np.float64)


def window_sum(sorted_values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of each window's own values (missing as 0), ``add.reduceat`` over slices.

    Not the difference of a running total: that would carry the rounding of every earlier row,
    other households' included, so a case would get other bits from a history of two households
    (the service) than from the whole city (``triage score``).
    """
    if len(lo) == 0:
        return np.empty(0)
    padded = np.append(np.nan_to_num(np.asarray(sorted_values, dtype=np.float64), nan=0.0), 0.0)
    by_start = np.lexsort((hi, lo))
    bounds = np.column_stack([lo[by_start], hi[by_start]]).ravel()
    result = np.empty(len(lo))
    result[by_start] = np.add.reduceat(padded, bounds)[::2]
    return np.where(hi > lo, result, 0.0)


def window_mean(sorted_values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of the non-missing values in each window, NaN for none."""
    present = window_sum((~np.isnan(sorted_values)).astype(np.float64), lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present > 0, window_sum(sorted_values, lo, hi) / present, np.nan)


def _reduce_slices(
    reduce: np.ufunc, sorted_values: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """``reduce`` (``fmax``/``fmin``) of each window's non-missing values, NaN for none."""
    if len(lo) == 0:
        return np.empty(0)
    padded = np.append(np.asarray(sorted_values, dtype=np.float64), np.nan)
    by_start = np.lexsort((hi, lo))
    bounds = np.column_stack([lo[by_start], hi[by_start]]).ravel()
    result = np.empty(len(lo))
    result[by_start] = reduce.reduceat(padded, bounds)[::2]
    return np.where(hi > lo, result, np.nan)


def window_max(sorted_values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Largest non-missing value in each window, NaN for none (``fmax.reduceat`` over slices)."""
    return _reduce_slices(np.fmax, sorted_values, lo, hi)


def window_min(sorted_values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Smallest non-missing value in each window, NaN for none."""
    return _reduce_slices(np.fmin, sorted_values, lo, hi)


def last_position(
    lo: np.ndarray,
    hi: np.ndarray,
    sorted_ids: np.ndarray | None = None,
    excluded_ids: np.ndarray | None = None,
) -> np.ndarray:
    """Position of each window's latest row (-1 for none), skipping the query's excluded id."""
    last = hi - 1
    if sorted_ids is not None and len(sorted_ids):
        is_excluded = (last >= lo) & (sorted_ids[np.maximum(last, 0)] == excluded_ids)
        last = np.where(is_excluded, last - 1, last)
    return np.where(last >= lo, last, -1)
