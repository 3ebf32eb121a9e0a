"""Indexes for the queue's filters: band, dispute type (in risk order) and teams.

With a year of decisions (a million rows) each filtered queue page counted its total by reading
the whole table: 2–5 s on SQLite (bench/bench_decisions.py).  From these indexes alone the count
and the page take tens of milliseconds (a team, matched with LIKE, a few hundred).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_decisions_band": ["band"],
    "ix_decisions_dispute_type_probability": ["dispute_type", "probability"],
    "ix_decisions_teams": ["teams"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "decisions", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="decisions")
