"""The service checkpoints SQLite's write-ahead log from a thread of its own, not in its commits."""

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from triage.db import engine_for
from triage.db.engine import WAL_AUTOCHECKPOINT_PAGES, WalCheckpointer


@pytest.fixture
def database(tmp_path) -> Path:
    return tmp_path / "wal.db"


@pytest.fixture
def engine(database):
    engine = engine_for(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    return engine


def write(engine, rows: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO notes (body) VALUES (:body)"), [{"body": "x" * 4000}] * rows
        )


def test_commits_leave_the_log_to_the_checkpointer_which_copies_it_in(engine, database):
    """The rows stay in the log (database file small) until the checkpointer's thread copies them in."""
    with engine.connect() as connection:
        assert (
            connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            == WAL_AUTOCHECKPOINT_PAGES
        )
    write(engine, 1500)  # ~6 MB: SQLite's own default (1,000 pages) would have checkpointed
    assert database.stat().st_size < 2**20
    checkpointer = WalCheckpointer(engine, seconds=0.05)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 30
        while database.stat().st_size < 1500 * 4000:
            assert time.monotonic() < deadline, "the log was never copied into the database"
            time.sleep(0.05)
    finally:
        checkpointer.stop()
    assert checkpointer._thread is None
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 1500


def test_nothing_runs_for_an_in_memory_database():
    checkpointer = WalCheckpointer(engine_for("sqlite://"))
    checkpointer.start()
    assert checkpointer._thread is None
