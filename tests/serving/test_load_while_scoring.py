"""``triage load`` commits chunk by chunk, so a score made meanwhile waits for one chunk, not the load.

On SQLite one writer at a time holds the database: a load written in one transaction would make
every score wait for its end (and answer 503 past the 30 s busy timeout).  Here each chunk is slowed
down to make the load last, a second connection sees the first chunk before the load ends, and a
score sent during the load is answered before the load's last chunk.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from tests.factories import random_tables
from tests.support.service import auth, case_request
from triage.db import engine_for
from triage.decisions.ingest import load_dataset

CHUNK_ROWS, CHUNK_SECONDS = 30, 0.02


def test_a_load_commits_chunk_by_chunk_and_a_score_gets_in_between(
    client, keys, settings, monkeypatch
):
    frames = random_tables(30, seed=3)
    chunks: list[str] = []
    seen_during_load: list[int] = []
    answered: list[tuple[float, int, int]] = []  # (seconds waited, status, chunks written by then)

    def score() -> None:
        started = time.monotonic()
        response = client.post(
            "/v1/cases/score", json=case_request("C-DURING-LOAD"), headers=auth(keys["scorer"])
        )
        answered.append((time.monotonic() - started, response.status_code, len(chunks)))

    scoring = threading.Thread(target=score)

    def pause(moment: str, table: str) -> None:
        if moment != "chunk":
            return
        chunks.append(table)
        if len(chunks) == 2:  # the first chunk is committed; the second is not yet
            with engine_for(settings.db_url).connect() as connection:
                seen_during_load.append(
                    connection.execute(
                        text("SELECT count(*) FROM households WHERE household_id LIKE 'H%'")
                    ).scalar_one()
                    - 4  # the small city's own households, H-1 to H-4
                )
            scoring.start()
        time.sleep(CHUNK_SECONDS)

    monkeypatch.setattr("triage.decisions.ingest.pause_point", pause)
    counts, _ = load_dataset(settings, frames, chunk_rows=CHUNK_ROWS)
    scoring.join(60)

    assert sum(sum(c.values()) for c in counts.values()) == sum(map(len, frames.values()))
    assert len(chunks) > 10 and seen_during_load == [CHUNK_ROWS]
    ((waited, status, written),) = answered
    assert status == 200 and written < len(chunks), (waited, written, len(chunks))
    assert waited < 1.0, f"a score waited {waited:.2f} s during a load"
