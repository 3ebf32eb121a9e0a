"""A service database that refuses every write to ``persons``, the one table with PII.

On PostgreSQL a CHECK constraint fails, whose error detail repeats the whole row ("Failing row
contains …"); on SQLite, which cannot add a constraint to a table, a trigger aborts the insert.
The constraint is dropped again on the way out, since the PostgreSQL database is shared by tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from triage.db import engine_for


@contextmanager
def persons_refused(url: str) -> Iterator[None]:
    engine = engine_for(url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if postgres:
            connection.execute(
                text("ALTER TABLE persons ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_all BEFORE INSERT ON persons "
                    "BEGIN SELECT RAISE(ABORT, 'persons refused'); END"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "ALTER TABLE persons DROP CONSTRAINT refuse_all"
                    if postgres
                    else "DROP TRIGGER refuse_all"
                )
            )
