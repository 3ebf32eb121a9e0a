"""Records people can contest: a dispute of an exchange row, and whether it was found wrong.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = sa.text("status != 'upheld'")


def upgrade() -> None:
    op.create_table(
        "record_disputes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("households", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("registered_by_key_id", sa.String(length=32), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_key_id", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registered_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_record_disputes_registered_by_key_id_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_record_disputes_decided_by_key_id_api_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_disputes")),
    )
    op.create_index(
        "ix_record_disputes_live_record",
        "record_disputes",
        ["table_name", "record_id"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_record_disputes_live_record", table_name="record_disputes")
    op.drop_table("record_disputes")
