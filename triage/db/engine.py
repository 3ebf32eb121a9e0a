"""Engines and schema migrations of the service database (SQLite by default, PostgreSQL in prod)."""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic_core import to_json
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

DB_PACKAGE_DIR = Path(__file__).resolve().parent
#: Shipped inside the package so that ``migrate`` works from any working directory.
ALEMBIC_INI = DB_PACKAGE_DIR / "alembic.ini"


#: Page size of a new SQLite database (an existing one keeps its own until ``compact``): a stored
#: decision is about 2.1 KB, which the default 4 KB page holds only once (3.2 KB a decision with
#: its indexes, 2.5 KB with 16 KB pages, ``bench/bench_decisions.py``).
SQLITE_PAGE_BYTES = 16_384
#: Pages the write-ahead log may hold before a commit checkpoints it itself (SQLite's default is
#: 1,000): the service checkpoints from a thread of its own long before (``WalCheckpointer``);
#: other processes (``triage load``) still checkpoint in their commits, every 40 MB.
WAL_AUTOCHECKPOINT_PAGES = 40 * 2**20 // SQLITE_PAGE_BYTES


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets readers (the scoring service) run while a load writes; SQLite checks keys only when
    asked; a 64 MiB page cache keeps the history indexes in memory during bulk loads (2x faster)."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_BYTES}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


POSTGRES_OVERFLOW = 40


def _json_text(value) -> str:
    """JSON columns written by pydantic-core's serialiser: a decision's stored response (~110 factors)
    took 3x as long through ``json.dumps``."""
    return to_json(value).decode()


def database_exists(url: str) -> bool:
    """False only for a SQLite file that is not there (connecting would create it); True otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).expanduser().exists()
    return True


def _unless_in(url, **defaults) -> dict:
    """Connection defaults the URL's query does not set itself."""
    return {name: value for name, value in defaults.items() if name not in url.query}


@functools.cache
def engine_for(url: str) -> Engine:
    """One engine per URL for the whole process (engines own connection pools; build them once).

    SQLite: WAL, foreign keys on, a 30 s busy timeout (``?timeout=`` in the URL sets another), the
    file's folder created when missing; ``sqlite://`` (in memory) shares one connection.
    PostgreSQL: connections are pinged before use, so that after the server went away and came
    back requests get fresh connections instead of dead ones (no restart needed); a connection
    attempt gives up after 10 s (``?connect_timeout=``), so a request to an unreachable server
    ends as a 503 instead of hanging.

    Pool sizes: a service request holds its session's connection while the scorer reads through
    a second one, so a pool smaller than the requests in flight deadlocks (each holds one and
    waits for another until the pool's 30 s timeout; seen under load as 30 s answers and then
    errors).  SQLite connections are cheap: no limit.  PostgreSQL keeps 10 and may open
    :data:`POSTGRES_OVERFLOW` more: above the 40 requests uvicorn's thread pool runs at once,
    below the server's default of 100 connections.

    Every engine hides bound parameters: the rows of ``persons`` hold names, identity numbers and
    phones, and an error's text or a log line must never carry them.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            parsed,
            hide_parameters=True,
            pool_size=10,
            max_overflow=POSTGRES_OVERFLOW,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args=_unless_in(parsed, connect_timeout=10),
            json_serializer=_json_text,
        )
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        engine = create_engine(
            parsed,
            hide_parameters=True,
            poolclass=StaticPool,
            json_serializer=_json_text,
            connect_args={"check_same_thread": False},
        )
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            hide_parameters=True,
            pool_size=5,
            max_overflow=-1,
            json_serializer=_json_text,
            connect_args={"check_same_thread": False, **_unless_in(parsed, timeout=30)},
        )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def describe_error(exc: DBAPIError) -> str:
    """A database error in words that hold no row values, for logs and command output.

    PostgreSQL's own message may quote a value (``invalid input syntax for type integer: "…"``)
    and its detail repeats the failing row, names and phones included; so only the error class, its
    SQLSTATE and the table, column and constraint it names are kept.  SQLite's messages name
    constraints and columns, never values.
    """
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is None:
        return f"{type(orig).__name__}: {orig}" if orig is not None else type(exc).__name__
    parts = [
        f"{name} {value}"
        for name, value in (
            ("SQLSTATE", diag.sqlstate),
            ("table", diag.table_name),
            ("column", diag.column_name),
            ("constraint", diag.constraint_name),
        )
        if value
    ]
    return f"{type(orig).__name__} ({', '.join(parts)})"


class WalCheckpointer:
    """Checkpoints a SQLite database's write-ahead log from a thread of its own, every ``seconds``.

    Left to SQLite, the commit that takes the log past 1,000 pages copies it into the database and
    syncs it: a scoring batch that happened to do so waited ~15 ms for it (once the service's p99).  A PASSIVE checkpoint waits for no reader or writer, and the sqlite3 module
    releases the GIL while it runs.  Does nothing for other databases.
    """

    def __init__(self, engine: Engine, seconds: float = 0.5):
        self.engine, self.seconds = engine, seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (
            None,
            "",
            ":memory:",
        ):
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except SQLAlchemyError as exc:  # the database is away: the next round tries again
                log.debug("WAL checkpoint skipped: %s", type(exc).__name__)


def alembic_config() -> Config:
    """The package's Alembic configuration (script location inside ``triage/db/migrations``)."""
    return Config(str(ALEMBIC_INI))


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``) and, on SQLite,
    refresh the query planner's statistics; idempotent.  ``triage serve`` runs it at every start."""
    config = alembic_config()
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if connection.dialect.name == "sqlite":
            # Planner statistics: without them SQLite answers a band-filtered queue page by
            # sorting every matching decision instead of walking the risk-ordered index (0.8 s
            # against 16 ms at a million decisions; a sampled ANALYZE misleads it as badly).
            # PostgreSQL keeps its own (autovacuum).
            connection.exec_driver_sql("ANALYZE")


def compact(url: str) -> dict:
    """Give the room of deleted and rewritten rows back to the system, with the service stopped:
    after migration 0011 repacked the decisions, or after retention removed rows.

    SQLite keeps freed pages inside its file until ``VACUUM``, which is also the only moment an
    existing database can take :data:`SQLITE_PAGE_BYTES` pages (out of WAL, on its only
    connection); PostgreSQL rewrites every table (``VACUUM (FULL, ANALYZE)``).  Returns the
    database's bytes and page size before and after.
    """
    engine = engine_for(url)
    if engine.dialect.name == "sqlite":
        engine.dispose()  # this process's pooled connections, so that ours is the only one
        with closing(sqlite3.connect(make_url(url).database, isolation_level=None)) as database:
            before = _sqlite_size(database)
            database.execute("PRAGMA journal_mode=DELETE")
            database.execute(f"PRAGMA page_size={SQLITE_PAGE_BYTES}")
            database.execute("VACUUM")
            database.execute("PRAGMA journal_mode=WAL")
            after = _sqlite_size(database)
    else:
        size = "SELECT pg_database_size(current_database()), current_setting('block_size')::int"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            before = tuple(connection.exec_driver_sql(size).one())
            connection.exec_driver_sql("VACUUM (FULL, ANALYZE)")
            after = tuple(connection.exec_driver_sql(size).one())
    return {
        "bytes_before": before[0],
        "bytes_after": after[0],
        "page_bytes_before": before[1],
        "page_bytes_after": after[1],
    }


def _sqlite_size(database: sqlite3.Connection) -> tuple[int, int]:
    pages, page_bytes = (
        database.execute(f"PRAGMA {pragma}").fetchone()[0] for pragma in ("page_count", "page_size")
    )
    return pages * page_bytes, page_bytes
