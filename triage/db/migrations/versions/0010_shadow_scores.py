"""A challenger in shadow: what the challenger would have answered for each stored decision.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shadow_scores",
        sa.Column("score_id", sa.String(length=36), nullable=False),
        sa.Column("escalation_version", sa.String(length=200), nullable=False),
        sa.Column("tier_version", sa.String(length=200), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=32), nullable=False),
        sa.Column("teams", sa.Text(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["score_id"], ["decisions.score_id"], name=op.f("fk_shadow_scores_score_id_decisions")
        ),
        sa.PrimaryKeyConstraint("score_id", name=op.f("pk_shadow_scores")),
    )


def downgrade() -> None:
    op.drop_table("shadow_scores")
