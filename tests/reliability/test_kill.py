"""SIGKILL the server in the middle of a 1,000-case batch score and of a 10,000-row ingest.

A batch is stored in one transaction, and so is an ingest: after the kill each must be wholly
in the database or wholly absent, every stored decision complete (request, response and
feature values, the response naming its own score id), and the database sound for a restarted
server.  An ingest cut off is simply sent again: the upsert by key then stores every row once.
The moment of each kill is a share of how long the same call took uncut, so that kills land
while the cases are scored and while they are written.
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select, text

from tests.reliability.load import PARTIES
from tests.support.service import case_request
from triage.db import engine_for
from triage.db.service_models import Decision

pytestmark = pytest.mark.slow

BATCH_CASES, INGEST_ROWS = 1_000, 10_000
KILL_AT = (0.6, 0.95)  # shares of the uncut call's duration


def batch(run: str) -> bytes:
    cases = [
        case_request(f"KILL-{run}-{i}", household, counterparty=counterparty, persons=(person,))
        for i, (household, counterparty, person) in (
            (i, PARTIES[i % len(PARTIES)]) for i in range(BATCH_CASES)
        )
    ]
    return json.dumps({"cases": cases}).encode()


def households(run: str) -> bytes:
    rows = [
        {
            "household_id": f"KILL-{run}-{i}",
            "district": "临水县",
            "street": "青石镇",
            "grid_id": f"g-{i % 40}",
            "area_type": "rural",
            "size": 1 + i % 6,
            "low_income": i % 3 == 0,
            "registered_at": "2021-02-03T08:00:00+08:00",
        }
        for i in range(INGEST_ROWS)
    ]
    return json.dumps({"rows": rows}).encode()


def post(base: str, path: str, body: bytes, headers: dict) -> httpx.Response:
    return httpx.post(
        f"{base}{path}",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=300,
    )


def kill_during(
    process, base: str, path: str, body: bytes, headers: dict, after_s: float
) -> httpx.Response | None:
    """Send the call, SIGKILL the server ``after_s`` later; the response if it came first."""
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(post, base, path, body, headers)
        time.sleep(after_s)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        try:
            return call.result(timeout=60)
        except httpx.TransportError:
            return None


def count(url: str, sql: str, **params) -> int:
    with engine_for(url).connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def assert_database_sound(url: str) -> None:
    if url.startswith("sqlite"):
        with engine_for(url).connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    engine_for(url).dispose()  # the killed server's connections are gone: start from fresh ones


def timed(call):
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def test_a_batch_killed_midway_is_stored_whole_or_not_at_all(city, tmp_path):
    outcomes = []
    for share in KILL_AT:
        run = f"{share:g}"
        with city.served(log=tmp_path / "server.log") as (base, process):
            if not outcomes:  # the first server also times the uncut call
                uncut, took = timed(
                    lambda: post(base, "/v1/cases/batch-score", batch("uncut"), city.auth("scorer"))
                )
                assert uncut.status_code == 200 and uncut.json()["count"] == BATCH_CASES
            answered = kill_during(
                process,
                base,
                "/v1/cases/batch-score",
                batch(run),
                city.auth("scorer"),
                took * share,
            )
        assert_database_sound(city.url)
        stored = count(
            city.url, "SELECT count(*) FROM decisions WHERE case_id LIKE :run", run=f"KILL-{run}-%"
        )
        assert stored in (0, BATCH_CASES), (
            f"a partial batch after a kill at {share:.0%}: {stored} decisions"
        )
        if answered is not None and answered.status_code == 200:
            assert stored == BATCH_CASES
        outcomes.append((share, stored))
    print(f"\nbatch of {BATCH_CASES} ({took:.1f} s uncut), killed at shares: {outcomes}")

    incomplete = count(
        city.url,
        "SELECT count(*) FROM decisions WHERE request IS NULL OR response IS NULL",
    )
    assert incomplete == 0
    with engine_for(city.url).connect() as connection:
        for score_id, response in connection.execute(select(Decision.score_id, Decision.response)):
            assert response["score_id"] == score_id
    with city.served(log=tmp_path / "server.log") as (
        base,
        _,
    ):  # the service starts and scores again
        after = post(
            base,
            "/v1/cases/score",
            json.dumps(case_request("KILL-after")).encode(),
            city.auth("scorer"),
        )
        assert after.status_code == 200, after.text
    assert count(city.url, "SELECT count(*) FROM decisions WHERE case_id = 'KILL-after'") == 1


def test_an_ingest_killed_midway_completes_when_sent_again_without_duplicates(city, tmp_path):
    cut_off = {}
    for share in KILL_AT:
        run = f"{share:g}"
        with city.served(log=tmp_path / "server.log") as (base, process):
            if not cut_off:
                uncut, took = timed(
                    lambda: post(
                        base, "/v1/ingest/households", households("uncut"), city.auth("scorer")
                    )
                )
                assert (
                    uncut.status_code == 200 and uncut.json()["stored"]["inserted"] == INGEST_ROWS
                )
            kill_during(
                process,
                base,
                "/v1/ingest/households",
                households(run),
                city.auth("scorer"),
                took * share,
            )
        assert_database_sound(city.url)
        cut_off[run] = count(
            city.url,
            "SELECT count(*) FROM households WHERE household_id LIKE :run",
            run=f"KILL-{run}-%",
        )
        assert cut_off[run] in (0, INGEST_ROWS), (
            f"a partial ingest after a kill at {share:.0%}: {cut_off[run]} rows"
        )
    print(
        f"\ningest of {INGEST_ROWS:,} rows ({took:.1f} s uncut), rows stored after kills: {cut_off}"
    )

    with city.served(log=tmp_path / "server.log") as (base, _):
        for run, stored in cut_off.items():
            again = post(base, "/v1/ingest/households", households(run), city.auth("scorer"))
            assert again.status_code == 200, again.text
            assert again.json()["stored"] == {
                "inserted": INGEST_ROWS - stored,
                "updated": 0,
                "unchanged": stored,
            }
    for run in cut_off:
        assert (
            count(
                city.url,
                "SELECT count(*) FROM households WHERE household_id LIKE :run",
                run=f"KILL-{run}-%",
            )
            == INGEST_ROWS
        )
    assert (
        count(city.url, "SELECT count(*) FROM households")
        == count(city.url, "SELECT count(DISTINCT household_id) FROM households")
        == 4 + INGEST_ROWS * (1 + len(KILL_AT))
    )
