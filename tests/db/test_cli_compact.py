"""`triage db compact`: the room of removed rows given back, on both databases; a SQLite database
made with 4 KB pages (before 16 KB pages were the default) takes 16 KB pages, its rows kept."""

import json
import sqlite3
from datetime import datetime, timezone

from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from triage.cli import app
from triage.db import engine_for, migrate
from triage.db.engine import SQLITE_PAGE_BYTES
from triage.db.models import Household

runner = CliRunner()


def households(first: int, count: int) -> list[dict]:
    moment = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return [
        dict(
            household_id=f"H{i:06d}",
            district="东城区",
            street="和平街道" * 20,
            grid_id=f"G{i % 50}",
            area_type="urban",
            size=3,
            low_income=False,
            registered_at=moment,
        )
        for i in range(first, first + count)
    ]


def test_compact_gives_back_removed_rows_and_moves_sqlite_to_larger_pages(empty_db_url):
    on_sqlite = make_url(empty_db_url).get_backend_name() == "sqlite"
    if on_sqlite:  # a database made before 16 KB pages were the default
        with sqlite3.connect(make_url(empty_db_url).database) as database:
            database.execute("PRAGMA page_size=4096")
            database.execute("VACUUM")
    migrate(empty_db_url)
    engine = engine_for(empty_db_url)
    with engine.begin() as connection:
        connection.execute(insert(Household), households(0, 6_000))
        connection.execute(Household.__table__.delete().where(Household.household_id >= "H001000"))

    result = runner.invoke(app, ["db", "compact", "--db", empty_db_url])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.splitlines()[-1])
    assert figures["bytes_after"] < figures["bytes_before"]
    if on_sqlite:
        assert (figures["page_bytes_before"], figures["page_bytes_after"]) == (
            4096,
            SQLITE_PAGE_BYTES,
        )
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Household)) == 1_000
    migrate(empty_db_url)  # still the newest schema, and usable


def test_compact_refuses_a_database_that_is_not_there(tmp_path):
    result = runner.invoke(app, ["db", "compact", "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 3
    assert not (tmp_path / "none.db").exists()
