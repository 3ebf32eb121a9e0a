"""Migrations build the schema from nothing, on SQLite and PostgreSQL, and match the models."""

import json
from datetime import datetime, timezone


from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from tests.support.decisions import (
    ESCALATION_VALUES,
    FEATURE_LISTS,
    base64_contributions,
    scored_case,
)
from triage.contract import TABLE_ORDER
from triage.db import engine_for, migrate
from triage.db.base import all_models_metadata
from triage.db.engine import alembic_config
from triage.db.service_models import Decision
from triage.decisions import stored
from triage.decisions.scored import answer
from triage.features import feature_labels

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


def _insert_decision(url: str, **columns) -> None:
    """Decision S-1 of case C-1 written in plain SQL, with ``columns`` of an earlier revision."""
    row = {
        "score_id": "S-1",
        "case_id": "C-1",
        "household_id": "H-1",
        "dispute_type": "commercial",
        "as_of": EARLY,
        "created_at": EARLY,
        "probability": 0.2,
        "band": "medium",
        "priority": "medium",
        "teams": ";village_mediation;",
        "escalation_version": "escalation/1",
        "tier_version": "tier/1",
        "request": "{}",
    } | columns
    with engine_for(url).begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO decisions ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})"
            ),
            row,
        )


def test_safeguards_revision_keeps_stored_decisions_and_reviews_and_downgrades(empty_db_url):
    _to(empty_db_url, command.upgrade, "0002")
    with engine_for(empty_db_url).begin() as connection:
        connection.execute(
            text("INSERT INTO api_keys VALUES ('k1', 'analyst one', 'analyst', 'x', :t, NULL)"),
            {"t": EARLY},
        )
    _insert_decision(empty_db_url, response="{}", features="{}", key_id="k1")
    with engine_for(empty_db_url).begin() as connection:
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


def test_compact_decisions_revision_converts_stored_answers_and_reads_them_back_the_same(
    empty_db_url,
):
    lists = FEATURE_LISTS
    labelled = answer(scored_case(), lists, feature_labels())
    features = dict(zip(lists["escalation/1"], ESCALATION_VALUES))
    _to(empty_db_url, command.upgrade, "0006")
    _insert_decision(empty_db_url, response=json.dumps(labelled), features=json.dumps(features))

    _to(empty_db_url, command.upgrade, "0007")
    with engine_for(empty_db_url).connect() as connection:
        record = as_json(connection.execute(text("SELECT response FROM decisions")).scalar_one())
    assert "factors" not in record["escalation"]
    assert len(json.dumps(record)) < len(json.dumps(labelled)) / 2

    _to(empty_db_url, command.upgrade, "head")
    with Session(engine_for(empty_db_url)) as session:
        assert stored.feature_lists(session, set(lists)) == lists
        read = stored.get(session, "S-1", top=None).model_dump(mode="json")
    assert {k: read[k] for k in labelled} == labelled

    _to(empty_db_url, command.downgrade, "0006")
    with engine_for(empty_db_url).connect() as connection:
        response, features_back = connection.execute(
            text("SELECT response, features FROM decisions")
        ).one()
    assert (as_json(response), as_json(features_back)) == (labelled, features)


def as_json(value):
    """A JSON column read with plain SQL: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def test_shadow_scores_revision_adds_its_table_and_downgrades(empty_db_url):
    _to(empty_db_url, command.upgrade, "0009")
    assert "shadow_scores" not in inspect(engine_for(empty_db_url)).get_table_names()
    _to(empty_db_url, command.upgrade, "0010")
    columns = {c["name"] for c in inspect(engine_for(empty_db_url)).get_columns("shadow_scores")}
    assert {"score_id", "probability", "band", "teams", "tiers"} <= columns
    _to(empty_db_url, command.downgrade, "0009")
    tables = inspect(engine_for(empty_db_url)).get_table_names()
    assert "shadow_scores" not in tables and "decisions" in tables


def test_packed_decisions_revision_converts_records_and_reads_them_back_the_same(empty_db_url):
    scored = scored_case(raw_values_removed_at="2025-06-01T00:00:00Z")
    labelled = answer(scored, FEATURE_LISTS, feature_labels())
    as_stored_before = base64_contributions(scored.record())
    _to(empty_db_url, command.upgrade, "0010")
    _insert_decision(empty_db_url, response=json.dumps(as_stored_before))
    with Session(engine_for(empty_db_url)) as session, session.begin():
        stored.remember_feature_lists(session, FEATURE_LISTS)

    _to(empty_db_url, command.upgrade, "head")
    with Session(engine_for(empty_db_url)) as session:
        read = stored.get(session, "S-1", top=None).model_dump(mode="json")
        decision = session.get(Decision, "S-1")
        packed = session.execute(text("SELECT response FROM decisions")).scalar_one()
    assert {k: read[k] for k in labelled} == labelled
    assert decision.respond_within_hours == 72.0
    assert decision.raw_values_removed_at == datetime(2025, 6, 1, tzinfo=timezone.utc)
    assert len(packed) < len(json.dumps(as_stored_before)) * 0.75

    _to(empty_db_url, command.downgrade, "0010")
    with engine_for(empty_db_url).connect() as connection:
        response = connection.execute(text("SELECT response FROM decisions")).scalar_one()
    assert as_json(response) == as_stored_before
