"""The scoring service's own tables: API keys, decisions, reviews and the audit log.

Written out by hand, like 0001, so that it stays what it was when the models change later.

Revision ID: 0002
Revises: 0001
Create Date: 2025-07-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("hash", sa.String(length=200), nullable=False),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "decisions",
        sa.Column("score_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.String(length=64), nullable=False),
        sa.Column("dispute_type", sa.String(length=32), nullable=False),
        _time("as_of"),
        _time("created_at"),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=32), nullable=False),
        sa.Column("teams", sa.Text(), nullable=False),
        sa.Column("escalation_version", sa.String(length=200), nullable=False),
        sa.Column("tier_version", sa.String(length=200), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_decisions_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("score_id", name=op.f("pk_decisions")),
    )
    op.create_index(op.f("ix_decisions_case_id"), "decisions", ["case_id"])
    op.create_index(op.f("ix_decisions_household_id"), "decisions", ["household_id"])
    op.create_index(op.f("ix_decisions_created_at"), "decisions", ["created_at"])
    op.create_index("ix_decisions_probability", "decisions", ["probability"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("score_id", sa.String(length=36), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("teams", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewer_key_id", sa.String(length=32), nullable=False),
        _time("created_at"),
        sa.ForeignKeyConstraint(
            ["score_id"], ["decisions.score_id"], name=op.f("fk_reviews_score_id_decisions")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_key_id"], ["api_keys.id"], name=op.f("fk_reviews_reviewer_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_score_id"), "reviews", ["score_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _time("at"),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_reviews_score_id"), table_name="reviews")
    op.drop_table("reviews")
    for name in (
        "ix_decisions_probability",
        "ix_decisions_created_at",
        "ix_decisions_household_id",
        "ix_decisions_case_id",
    ):
        op.drop_index(name, table_name="decisions")
    op.drop_table("decisions")
    op.drop_table("api_keys")
