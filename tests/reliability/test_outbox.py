"""SIGKILL between an ingest's commit and its re-scores: after a restart each affected open case is
re-scored exactly once.

A real uvicorn process (``tests.support.outbox.paused_app``) takes an ingest of calls and one of
incidents at once; both stop right after their transaction committed (rows, pending re-scores,
audit entry) and before any re-score, and the process is killed there.  The rows are stored and the
re-scores wait in the outbox; a service started afterwards drains it: one new decision per
affected case, none for the case the rows do not concern, and a second start adds nothing.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.reliability.test_kill import count
from tests.servers import uvicorn_process
from tests.support.service import train_champions
from tests.support.outbox import (
    NEW_ROWS,
    TOUCHED,
    open_case_requests,
    pending_cases,
    rescores_per_case,
)
from triage.app import create_app
from triage.db import engine_for
from triage.settings import Settings


def started(city, champions) -> TestClient:
    """The service started again in-process (its lifespan drains what waits)."""
    return TestClient(
        create_app(Settings(home=city.home, database_url=city.url), champions=champions)
    )


def test_ingests_killed_after_their_commit_are_rescored_once_on_restart(city, tmp_path):
    champions = train_champions()
    with started(city, champions) as client:
        for body in open_case_requests():
            assert client.post("/v1/cases/score", json=body, headers=city.auth("scorer")).is_success

    paused = tmp_path / "paused"
    paused.mkdir()
    env = {**city.env(), "TRIAGE_TEST_PAUSE_DIR": str(paused)}
    with uvicorn_process(
        "tests.support.outbox:paused_app",
        env,
        ready=lambda base: (
            httpx.get(f"{base}/readyz", headers=city.auth("scorer"), timeout=2).status_code == 200
        ),
        log=tmp_path / "server.log",
    ) as (base, process):
        with ThreadPoolExecutor(len(NEW_ROWS)) as pool:
            calls = [
                pool.submit(
                    httpx.post,
                    f"{base}/v1/ingest/{table}",
                    json={"rows": rows},
                    headers=city.auth("scorer"),
                    timeout=60,
                )
                for table, rows in NEW_ROWS.items()
            ]
            deadline = time.monotonic() + 60
            while {p.name for p in paused.iterdir()} != set(NEW_ROWS):
                assert time.monotonic() < deadline, "the ingests did not reach their commit"
                assert not any(c.done() for c in calls), [c.result().text for c in calls]
                time.sleep(0.05)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            for call in calls:
                with pytest.raises(httpx.TransportError):
                    call.result(timeout=30)
    engine_for(city.url).dispose()  # the killed server's connections are gone

    assert count(city.url, "SELECT count(*) FROM hotline_calls WHERE call_id = 'K-OB-1'") == 1
    assert count(city.url, "SELECT count(*) FROM incidents WHERE incident_id = 'I-OB-1'") == 1
    assert count(city.url, "SELECT count(*) FROM audit_log WHERE action = 'ingest'") == 2
    assert rescores_per_case(city.url) == {}
    assert pending_cases(city.url) == TOUCHED

    for _ in range(2):  # started twice: the second start finds nothing left to do
        with started(city, champions) as client:
            assert client.app.state.service.outbox.wait(60)
        assert rescores_per_case(city.url) == dict.fromkeys(TOUCHED, 1)
        assert pending_cases(city.url) == set()
