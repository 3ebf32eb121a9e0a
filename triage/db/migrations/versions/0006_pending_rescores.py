"""The outbox of re-scores: the open cases new rows call to be scored again, committed with the rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_rescores",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_pending_rescores_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_pending_rescores")),
    )
    op.create_index(op.f("ix_pending_rescores_queued_at"), "pending_rescores", ["queued_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_rescores_queued_at"), table_name="pending_rescores")
    op.drop_table("pending_rescores")
