"""Migrations build the schema from nothing, on SQLite and PostgreSQL, and match the models."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from triage.contract import TABLE_ORDER
from triage.db import engine_for, migrate
from triage.db.base import all_models_metadata
from triage.db.engine import alembic_config


def test_migrate_builds_every_table_from_an_empty_database(empty_db_url):
    migrate(empty_db_url)

    tables = set(inspect(engine_for(empty_db_url)).get_table_names())
    assert set(TABLE_ORDER) | {"alembic_version"} <= tables
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine_for(empty_db_url).connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


def test_migrated_schema_matches_the_models(empty_db_url):
    migrate(empty_db_url)
    migrate(empty_db_url)  # a second run is a no-op

    with engine_for(empty_db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, all_models_metadata()) == []

