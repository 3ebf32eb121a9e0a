"""The eight exchange tables of docs/data-format.md, with the history look-up indexes.

Written out by hand (not imported from the models) so that this revision stays what it was
when the models change later; ``tests/db/test_migrations.py`` checks that models and
migrations agree.

Revision ID: 0001
Revises:
Create Date: 2025-07-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=64), nullable=nullable)


def _code(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=32), nullable=nullable)


def _text(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "households",
        _id("household_id"),
        _text("district", nullable=False),
        _text("street", nullable=False),
        _id("grid_id"),
        _code("area_type"),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("low_income", sa.Boolean(), nullable=False),
        _time("registered_at"),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_households")),
    )
    op.create_table(
        "persons",
        _id("person_id"),
        _id("household_id"),
        _code("sex"),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        _code("employment", nullable=True),
        sa.Column("returned_migrant", sa.Boolean(), nullable=True),
        sa.Column("alcohol_problem", sa.Boolean(), nullable=True),
        sa.Column("prior_conviction", sa.Boolean(), nullable=True),
        sa.Column("mental_health_registry", sa.Boolean(), nullable=True),
        _code("ethnicity", nullable=True),
        _text("name"),
        _text("id_number"),
        _text("phone"),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.household_id"],
            name=op.f("fk_persons_household_id_households"),
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_persons")),
    )
    op.create_index("ix_persons_household_id", "persons", ["household_id"])

    op.create_table(
        "hotline_calls",
        _id("call_id"),
        _time("received_at"),
        _code("channel"),
        _id("household_id", nullable=True),
        _id("person_id", nullable=True),
        _code("category"),
        _text("text"),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.household_id"],
            name=op.f("fk_hotline_calls_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_hotline_calls_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_hotline_calls")),
    )
    op.create_index(
        "ix_hotline_calls_household_id_received_at",
        "hotline_calls",
        ["household_id", "received_at"],
    )
    op.create_index(
        "ix_hotline_calls_person_id_received_at", "hotline_calls", ["person_id", "received_at"]
    )

    op.create_table(
        "cases",
        _id("case_id"),
        _time("opened_at"),
        _id("household_id"),
        _id("counterparty_household_id", nullable=True),
        _code("dispute_type"),
        _code("source"),
        sa.Column("amount_cny", sa.Double(), nullable=True),
        sa.Column("parties_count", sa.Integer(), nullable=False),
        _text("description"),
        _code("status"),
        _time("closed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.household_id"],
            name=op.f("fk_cases_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_household_id"],
            ["households.household_id"],
            name=op.f("fk_cases_counterparty_household_id_households"),
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
    )
    op.create_index("ix_cases_household_id_opened_at", "cases", ["household_id", "opened_at"])
    op.create_index(
        "ix_cases_counterparty_household_id_opened_at",
        "cases",
        ["counterparty_household_id", "opened_at"],
    )

    op.create_table(
        "mediation_events",
        _id("event_id"),
        _id("case_id"),
        _time("at"),
        _code("level"),
        _code("outcome"),
        _text("note"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_mediation_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_mediation_events")),
    )
    op.create_index("ix_mediation_events_case_id_at", "mediation_events", ["case_id", "at"])

    op.create_table(
        "screenings",
        _id("screening_id"),
        _id("person_id"),
        _time("at"),
        _code("instrument"),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("item9", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_screenings_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("screening_id", name=op.f("pk_screenings")),
    )
    op.create_index("ix_screenings_person_id_at", "screenings", ["person_id", "at"])

    op.create_table(
        "psych_assessments",
        _id("assessment_id"),
        _id("person_id"),
        _time("at"),
        _code("tier"),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_psych_assessments_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("assessment_id", name=op.f("pk_psych_assessments")),
    )
    op.create_index("ix_psych_assessments_person_id_at", "psych_assessments", ["person_id", "at"])

    op.create_table(
        "incidents",
        _id("incident_id"),
        _time("occurred_at"),
        _id("household_id"),
        _id("person_id", nullable=True),
        _code("offence"),
        _id("case_id", nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.household_id"],
            name=op.f("fk_incidents_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_incidents_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_incidents_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incidents")),
    )
    op.create_index(
        "ix_incidents_household_id_occurred_at", "incidents", ["household_id", "occurred_at"]
    )
    op.create_index("ix_incidents_person_id_occurred_at", "incidents", ["person_id", "occurred_at"])
    op.create_index("ix_incidents_case_id", "incidents", ["case_id"])


def downgrade() -> None:
    # Dropping a table drops its indexes; children before parents.
    for table in (
        "incidents",
        "psych_assessments",
        "screenings",
        "mediation_events",
        "cases",
        "hotline_calls",
        "persons",
        "households",
    ):
        op.drop_table(table)
