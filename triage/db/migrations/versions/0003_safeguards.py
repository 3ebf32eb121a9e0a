"""Safeguards: decision history (re-scores), four-eyes reviews and follow-up visits.

``decisions`` learns why it was scored (``trigger``), which decision it re-scores, whether the
band rose and what changed; ``reviews`` learn a four-eyes ``status`` and who confirmed; the new
``followups`` table holds the 回访 visits of mediated cases.  Written out by hand, like 0002.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    # Plain ADD COLUMNs (no table copy): SQLite with foreign_keys=ON cannot drop and rebuild a
    # referenced table, so the two new back-references are plain indexed ids, kept by the service.
    op.add_column(
        "decisions",
        sa.Column("trigger", sa.String(length=64), server_default="request", nullable=False),
    )
    op.add_column("decisions", sa.Column("previous_score_id", sa.String(length=36), nullable=True))
    op.add_column(
        "decisions", sa.Column("band_rise", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("decisions", sa.Column("changes", sa.JSON(), server_default="[]", nullable=False))
    op.create_index(op.f("ix_decisions_previous_score_id"), "decisions", ["previous_score_id"])
    op.add_column(
        "reviews", sa.Column("status", sa.String(length=32), server_default="final", nullable=False)
    )
    op.add_column("reviews", sa.Column("confirmed_by_key_id", sa.String(length=32), nullable=True))
    op.add_column("reviews", _time("confirmed_at", nullable=True))
    op.add_column("reviews", sa.Column("confirm_note", sa.Text(), nullable=True))
    op.add_column("reviews", sa.Column("priority", sa.String(length=32), nullable=True))
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("score_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        _time("due_at"),
        _time("done_at", nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("visitor_key_id", sa.String(length=32), nullable=True),
        sa.Column("rescore_score_id", sa.String(length=36), nullable=True),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["score_id"], ["decisions.score_id"], name=op.f("fk_followups_score_id_decisions")
        ),
        sa.ForeignKeyConstraint(
            ["visitor_key_id"], ["api_keys.id"], name=op.f("fk_followups_visitor_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["rescore_score_id"],
            ["decisions.score_id"],
            name=op.f("fk_followups_rescore_score_id_decisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
    )
    op.create_index("ix_followups_case_id_kind", "followups", ["case_id", "kind"], unique=True)
    op.create_index(op.f("ix_followups_household_id"), "followups", ["household_id"])
    op.create_index(op.f("ix_followups_due_at"), "followups", ["due_at"])


def downgrade() -> None:
    for name in ("ix_followups_due_at", "ix_followups_household_id", "ix_followups_case_id_kind"):
        op.drop_index(name, table_name="followups")
    op.drop_table("followups")
    for column in ("priority", "confirm_note", "confirmed_at", "confirmed_by_key_id", "status"):
        op.drop_column("reviews", column)
    op.drop_index(op.f("ix_decisions_previous_score_id"), table_name="decisions")
    for column in ("changes", "band_rise", "previous_score_id", "trigger"):
        op.drop_column("decisions", column)
