"""A stated request rate held against a real server; afterwards every answered score is stored, and nothing else.

The short form (8 requests/s for 10 s of mixed score, batch-score, ingest and queue traffic) runs
in ``make test`` on SQLite and PostgreSQL; ``bench/bench_load.py`` holds a rate for minutes and
prints the figures of the README.  Ten seconds are enough for what the short form asserts: 80
requests hold every kind of the mix (35 scores, 8 batches of 20, 9 ingests, 28 queue reads), and the
run outlasts both the client's 2 s keep-alive and uvicorn's 5 s idle timeout, so connections are
opened, reused and closed during it as they are in a long run.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.reliability.load import hold_rate, stored_decisions

pytestmark = pytest.mark.slow

RATE, DURATION_S = 8, 10


def test_the_rate_is_held_without_an_error_and_no_decision_is_lost(city, tmp_path):
    with city.served(log=tmp_path / "server.log") as (base, _):
        report = asyncio.run(hold_rate(base, city.keys, rate=RATE, duration_s=DURATION_S))
    print("\n".join(report.lines()))
    assert report.errors == []
    assert report.requests == RATE * DURATION_S and sum(report.ok.values()) == report.requests
    assert min(report.sent.values()) > 0  # every kind of request was in the mix
    stored = stored_decisions(city.url)
    assert stored["request"] == report.score_ids  # each answered score, and only those
    assert set().union(*stored.values()) == report.score_ids | report.rescored_ids
