"""Looking at the outbox of re-scores from a test: what waits, what was re-scored, and a service that
stops at a moment of every ingest (the pause points of ``triage.decisions.ingest``).

``paused_app`` is a uvicorn factory: it serves like ``tests.serving.served_app`` (settings from the
environment, champions trained in-process), but every ingest that reaches ``TRIAGE_TEST_PAUSE_AT``
(default ``committed``: its rows and pending re-scores committed, nothing re-scored yet) writes
``TRIAGE_TEST_PAUSE_DIR/<table>`` and then sleeps, so that the test can SIGKILL the process there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from triage.app import create_app
from triage.db import engine_for

#: Open cases scored before the rows arrive: case id → (household, person), of the small city of
#: tests/serving/conftest.py.
OPEN_CASES = {"C-OB-2": ("H-2", "P-2-1"), "C-OB-3": ("H-3", "P-3-1"), "C-OB-4": ("H-4", "P-4-1")}
#: New rows of the two kinds an ingest brings most: a call for H-2 and a police incident for H-3.
NEW_ROWS = {
    "hotline_calls": [
        {
            "call_id": "K-OB-1",
            "received_at": "2025-06-04T08:00:00+08:00",
            "channel": "110",
            "household_id": "H-2",
            "category": "neighbor",
            "text": "邻居扬言报复",
        }
    ],
    "incidents": [
        {
            "incident_id": "I-OB-1",
            "occurred_at": "2025-06-05T20:00:00+08:00",
            "household_id": "H-3",
            "offence": "assault",
        }
    ],
}
#: The open cases the new rows concern (H-4's case is not one of them).
TOUCHED = {"C-OB-2", "C-OB-3"}


def open_case_requests() -> list[dict]:
    """Score request bodies for :data:`OPEN_CASES`."""
    from tests.support.service import case_request

    return [
        case_request(case_id, household, counterparty=None, persons=[person])
        for case_id, (household, person) in OPEN_CASES.items()
    ]


def rescores_per_case(url: str) -> dict[str, int]:
    """Stored re-scores (decisions triggered by new rows) per case."""
    with engine_for(url).connect() as connection:
        return dict(
            connection.execute(
                text(
                    "SELECT case_id, count(*) FROM decisions WHERE trigger LIKE 'event:%' "
                    "GROUP BY case_id"
                )
            ).all()
        )


def pending_cases(url: str) -> set[str]:
    with engine_for(url).connect() as connection:
        return set(connection.execute(text("SELECT case_id FROM pending_rescores")).scalars())


def paused_app():
    """The uvicorn factory described above."""
    import triage.decisions.ingest as ingest

    from tests.serving.served_app import build

    folder = Path(os.environ["TRIAGE_TEST_PAUSE_DIR"])
    moment = os.environ.get("TRIAGE_TEST_PAUSE_AT", "committed")

    def pause(at: str, table: str) -> None:
        if at == moment:
            (folder / table).write_text(str(os.getpid()))
            time.sleep(3600)  # until killed

    ingest.pause_point = pause
    return build()


@contextmanager
def service_without_champions(settings, champions, monkeypatch) -> Iterator[TestClient]:
    """A service on ``settings``' database whose registry has no champion until the client's
    ``promote()``; ``champions`` load at the next reload after it."""
    promoted = []

    def load(_settings):
        if not promoted:
            raise LookupError("no champion is promoted")
        return champions

    monkeypatch.setattr("triage.app.load_champions", load)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.promote = lambda: promoted.append(True)
        yield client
