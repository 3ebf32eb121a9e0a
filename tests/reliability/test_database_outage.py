"""The database goes away under a running server and comes back: 503 problem+json meanwhile, then service again.

PostgreSQL: the database stops accepting connections and every open one is terminated (what a
server restart or a fail-over does to a pool); SQLite: another process holds the write lock
(a stuck writer or a long maintenance job) longer than the server's busy timeout.  While it
lasts, scoring answers 503 ``application/problem+json`` with ``Retry-After``, stores nothing,
and the process stays up; when it ends, the same process scores and stores again, with no
restart.  A connection pool with every connection taken is a 503 too (retry), not a 500.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from tests.support.served_city import city_in
from tests.support.service import case_request
from triage.db import engine_for, migrate
from triage.app import create_app
from triage.settings import Settings

pytestmark = pytest.mark.slow


@contextmanager
def postgres_gone(url: str) -> Iterator[None]:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = parsed.database
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()


@contextmanager
def sqlite_locked(url: str) -> Iterator[None]:
    holder = sqlite3.connect(make_url(url).database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def outage_city(db_url, tmp_path):
    """The city, served with a 3 s SQLite busy timeout (30 s by default) so the lock is felt soon."""
    if db_url.startswith("sqlite"):
        db_url = f"{db_url}?timeout=3"
        migrate(db_url)
    return city_in(db_url, tmp_path / "home")


def decisions(url: str) -> int:
    with engine_for(url).connect() as connection:
        return connection.execute(text("SELECT count(*) FROM decisions")).scalar_one()


def test_a_lost_database_gives_503_and_the_same_process_recovers(outage_city, tmp_path):
    city = outage_city
    outage = sqlite_locked if city.url.startswith("sqlite") else postgres_gone
    with (
        city.served(log=tmp_path / "server.log") as (base, process),
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        before = http.post(
            "/v1/cases/score", json=case_request("OUT-before"), headers=city.auth("scorer")
        )
        assert before.status_code == 200, before.text

        with outage(city.url):
            for i in range(2):
                during = http.post(
                    "/v1/cases/score",
                    json=case_request(f"OUT-during-{i}"),
                    headers=city.auth("scorer"),
                )
                assert during.status_code == 503, during.text
                assert during.headers["content-type"] == "application/problem+json"
                assert during.headers["retry-after"] == "5"
                assert "database is unavailable" in during.json()["detail"]
            assert http.get("/healthz").status_code == 200
            assert process.poll() is None

        after = http.post(
            "/v1/cases/score", json=case_request("OUT-after"), headers=city.auth("scorer")
        )
        assert after.status_code == 200, after.text
        queue = http.get("/v1/queue", headers=city.auth("analyst")).json()
        assert {item["case_id"] for item in queue["items"]} == {"OUT-before", "OUT-after"}
        assert process.poll() is None  # the same process, never restarted
    assert decisions(city.url) == 2


def test_an_exhausted_connection_pool_is_a_503_not_a_500(tmp_path):
    """Every connection taken (a pool too small for the load): the caller is told to retry."""
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    migrate(url)
    app = create_app(Settings(home=tmp_path / "home", database_url=url))
    tiny = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app.state.service.sessions = sessionmaker(tiny)
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        tiny.connect(),
    ):  # holds the only one
        response = client.post(
            "/v1/cases/score", json=case_request(), headers={"Authorization": "Bearer trg_a_b"}
        )
    assert (
        response.status_code == 503
        and response.headers["content-type"] == "application/problem+json"
    )
    assert response.json()["detail"] == "the database is busy; try again shortly"
