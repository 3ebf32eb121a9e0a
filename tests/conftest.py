"""Fixtures every test may use: a private TRIAGE_HOME and service databases (SQLite, PostgreSQL).

The PostgreSQL server is a throw-away cluster this session starts itself (``initdb`` in a
temporary folder, a free port on 127.0.0.1, fsync off) and removes at the end.  Tests that
take ``db_url`` run once per backend; ``pytest -m "not postgres"`` runs the SQLite half only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.postgres import PostgresDatabases, PostgresUnavailable, throwaway_postgres
from tests.support.service import train_champions
from triage.db import engine_for, migrate
from triage.db.base import all_models_metadata
from triage.models.registry import Champions
from triage.settings import get_settings

#: Every app the tests build, in-process or in a uvicorn child, signs workbench sessions with this
#: (the service refuses to start without a secret of 32 characters or more).
os.environ.setdefault("TRIAGE_WORKBENCH_SECRET", "tests-only-workbench-secret-" + "0" * 32)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def champions() -> Champions:
    """Both models fitted in a second on a random city (``train_champions``), shared by the session."""
    return train_champions()


@pytest.fixture(scope="session")
def rival() -> Champions:
    """A second cheap fit (another random city), as a challenger to ``champions``."""
    return train_champions(seed=1, version=2)


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``TRIAGE_HOME`` (and so a fresh default SQLite database) for one test."""
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path))
    monkeypatch.delenv("TRIAGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """``postgresql+psycopg://postgres@127.0.0.1:PORT``: a private server for this test session."""
    try:
        with throwaway_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server)
    yield databases
    databases.admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_databases: PostgresDatabases) -> str:
    """One migrated PostgreSQL database for the session; ``db_url`` empties it before each test."""
    url = postgres_databases.create("triage")
    migrate(url)
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty service database, once on SQLite (a temp file) and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'triage.db'}"
        migrate(url)
        return url
    url = request.getfixturevalue("migrated_postgres_url")
    tables = ", ".join(f'"{t.name}"' for t in all_models_metadata().sorted_tables)
    with engine_for(url).begin() as connection:
        connection.execute(text(f"TRUNCATE {tables}"))
    return url


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (not migrated), on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create("empty")
    yield url
    databases.drop(url)
