"""Fixtures every test may use: a private TRIAGE_HOME and service databases (SQLite, PostgreSQL).

The PostgreSQL server is a throw-away cluster this session starts itself (``initdb`` in a
temporary folder, a free port on 127.0.0.1, fsync off) and removes at the end.  Tests that
take ``db_url`` run once per backend; ``pytest -m "not postgres"`` runs the SQLite half only.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

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


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``TRIAGE_HOME`` (and so a fresh default SQLite database) for one test."""
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path))
    monkeypatch.delenv("TRIAGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` (Debian's layout)."""
    candidates = [
        Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin") if (Path(d) / "initdb").exists()
    ]
    return max(candidates, key=lambda d: float(d.parent.name), default=None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """``postgresql+psycopg://postgres@127.0.0.1:PORT``: a private server for this test session."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; "
            "run scripts/install-system-deps.sh (make test does)"
        )
    root = Path(tempfile.mkdtemp(prefix="triage-pg-"))
    as_server_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the cluster belongs to `postgres`
        shutil.chown(root, "postgres", "postgres")
        as_server_user = ["runuser", "-u", "postgres", "--"]
    data_dir, log_file, port = root / "data", root / "server.log", _free_port()

    def pg(*args: str | Path) -> None:
        subprocess.run([*as_server_user, *map(str, args)], check=True, capture_output=True)

    pg(
        bin_dir / "initdb",
        "-D",
        data_dir,
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        pg(bin_dir / "pg_ctl", "-D", data_dir, "-o", options, "-l", log_file, "-w", "start")
    except subprocess.CalledProcessError:
        pytest.fail(f"PostgreSQL did not start:\n{log_file.read_text(errors='replace')}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        pg(bin_dir / "pg_ctl", "-D", data_dir, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


class _PostgresDatabases:
    """Creates and drops databases on the session's server."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")

    def create(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return f"{self.server}/{name}"

    def drop(self, url: str) -> None:
        engine_for(url).dispose()
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: str) -> Iterator[_PostgresDatabases]:
    databases = _PostgresDatabases(postgres_server)
    yield databases
    databases.admin.dispose()


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_databases: _PostgresDatabases) -> str:
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
    databases: _PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create("empty")
    yield url
    databases.drop(url)
