"""A throw-away PostgreSQL server: ``initdb`` in a temporary folder, a free port on 127.0.0.1, fsync
off, removed at the end.  The test session and the benchmarks start one the same way."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from triage.db import engine_for


class PostgresUnavailable(RuntimeError):
    """No server binaries on this machine (scripts/install-system-deps.sh installs them)."""


def _bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` (Debian's layout)."""
    candidates = [
        Path(d) for d in glob.glob("/usr/lib/postgresql/*/bin") if (Path(d) / "initdb").exists()
    ]
    return max(candidates, key=lambda d: float(d.parent.name), default=None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def throwaway_postgres(durable: bool = False) -> Iterator[str]:
    """``postgresql+psycopg://postgres@127.0.0.1:PORT``: a private server while the block runs.

    Tests run it with fsync and synchronous commits off; ``durable`` keeps PostgreSQL's defaults,
    so that a benchmark's commit waits for the disk as a production server's does."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
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
        *("-D", data_dir, "-A", "trust", "-U", "postgres", "-E", "UTF8"),
        *("--locale=C", "--no-sync"),
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    try:
        pg(bin_dir / "pg_ctl", "-D", data_dir, "-o", options, "-l", log_file, "-w", "start")
    except subprocess.CalledProcessError as exc:
        raise PostgresUnavailable(
            f"PostgreSQL did not start:\n{log_file.read_text(errors='replace')}"
        ) from exc
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        pg(bin_dir / "pg_ctl", "-D", data_dir, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


class PostgresDatabases:
    """Creates and drops databases on a server."""

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
