"""Migrations build the schema from nothing, on SQLite and PostgreSQL, and match the models."""

from datetime import datetime, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from triage.contract import TABLE_ORDER
from triage.db import engine_for, migrate
from triage.db.base import all_models_metadata
from triage.db.engine import alembic_config

EARLY = datetime(2025, 1, 1, tzinfo=timezone.utc)


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


def _to(url: str, step, revision: str) -> None:
    config = alembic_config()
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


def test_safeguards_revision_keeps_stored_decisions_and_reviews_and_downgrades(empty_db_url):
    _to(empty_db_url, command.upgrade, "0002")
    with engine_for(empty_db_url).begin() as connection:
        connection.execute(
            text("INSERT INTO api_keys VALUES ('k1', 'analyst one', 'analyst', 'x', :t, NULL)"),
            {"t": EARLY},
        )
        connection.execute(
            text(
                "INSERT INTO decisions (score_id, case_id, household_id, dispute_type, as_of, created_at, probability,"
                " band, priority, teams, escalation_version, tier_version, request, response, features, key_id)"
                " VALUES ('S-1', 'C-1', 'H-1', 'commercial', :t, :t, 0.2, 'medium', 'medium', ';village_mediation;',"
                " 'triage-escalation/1', 'triage-tier/1', '{}', '{}', '{}', 'k1')"
            ),
            {"t": EARLY},
        )
        connection.execute(
            text(
                "INSERT INTO reviews (score_id, verdict, teams, note, reviewer_key_id, created_at)"
                " VALUES ('S-1', 'agree', '[]', NULL, 'k1', :t)"
            ),
            {"t": EARLY},
        )

    _to(empty_db_url, command.upgrade, "head")
    with engine_for(empty_db_url).connect() as connection:
        decision = connection.execute(
            text("SELECT trigger, band_rise, previous_score_id FROM decisions")
        ).one()
        review_status = connection.execute(text("SELECT status FROM reviews")).scalar_one()
    assert (decision.trigger, bool(decision.band_rise), decision.previous_score_id) == (
        "request",
        False,
        None,
    )
    assert review_status == "final"

    _to(empty_db_url, command.downgrade, "0002")
    inspector = inspect(engine_for(empty_db_url))
    assert "followups" not in inspector.get_table_names()
    assert "trigger" not in {c["name"] for c in inspector.get_columns("decisions")}
    with engine_for(empty_db_url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM reviews")).scalar_one() == 1
