"""The sorted-array window engine agrees with a plain loop, ties and boundaries included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.features.windows import (
    DAY_NS,
    EventIndex,
    last_position,
    window_count,
    window_max,
    window_mean,
    window_min,
)

events = st.lists(
    st.tuples(st.integers(-1, 4), st.integers(0, 20), st.one_of(st.none(), st.floats(0, 9))),
    max_size=40,
)
queries = st.lists(st.tuples(st.integers(-1, 5), st.integers(0, 25)), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(events, queries, st.one_of(st.none(), st.integers(1, 10)))
def test_windows_match_a_loop(rows, asked, days):
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    times = np.array([r[1] for r in rows], dtype=np.int64) * DAY_NS
    values = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=np.float64)
    index = EventIndex(codes, times, tiebreak=np.arange(len(rows)))
    q_codes = np.array([q[0] for q in asked], dtype=np.int64)
    q_times = np.array([q[1] for q in asked], dtype=np.int64) * DAY_NS
    lo, hi = index.window(q_codes, q_times, days)
    sorted_values = index.sorted_values(values)
    counts, maxima, minima, means = (
        window_count(lo, hi),
        window_max(sorted_values, lo, hi),
        window_min(sorted_values, lo, hi),
        window_mean(sorted_values, lo, hi),
    )
    last = last_position(lo, hi)
    for i, (code, time) in enumerate(zip(q_codes, q_times)):
        inside = [
            j
            for j in range(len(rows))
            if code >= 0
            and codes[j] == code
            and times[j] <= time
            and (days is None or times[j] > time - days * DAY_NS)
        ]
        present = [values[j] for j in inside if not np.isnan(values[j])]
        assert counts[i] == len(inside)
        assert np.isnan(maxima[i]) if not present else maxima[i] == max(present)
        assert np.isnan(minima[i]) if not present else minima[i] == min(present)
        assert np.isnan(means[i]) if not present else np.isclose(means[i], np.mean(present))
        latest = max(inside, key=lambda j: (times[j], j)) if inside else None
        assert (last[i] == -1) if latest is None else index.order[last[i]] == latest


def test_the_window_is_open_at_its_start_and_closed_at_as_of():
    index = EventIndex(np.array([0, 0, 0]), np.array([0, 10, 30]) * DAY_NS)
    lo, hi = index.window(np.array([0]), np.array([30]) * DAY_NS, 30)
    assert window_count(lo, hi).tolist() == [2]  # day 10 and day 30; day 0 is 30 days old


def test_the_excluded_latest_row_is_skipped():
    index = EventIndex(np.array([0, 0]), np.array([1, 2]) * DAY_NS)
    lo, hi = index.window(np.array([0, 0]), np.array([5, 5]) * DAY_NS, None)
    ids = index.sorted_values(np.array([100, 200]))
    assert last_position(lo, hi, ids, np.array([200, -1])).tolist() == [0, 1]


def test_a_window_mean_has_the_same_bits_whatever_rows_precede_it():
    """The service reads two households, `triage score` the whole city: a window's mean must not
    carry the rounding of other households' rows."""
    own = np.array([0.4832233446988994, 0.1, 0.7, 0.3333333333333333])
    others = np.random.default_rng(0).uniform(0, 1e6, 5000)
    alone = window_mean(own, np.array([0]), np.array([4]))
    after_others = window_mean(np.concatenate([others, own]), np.array([5000]), np.array([5004]))
    assert alone.tobytes() == after_others.tobytes()
