"""Packed decisions: a stored decision's record compressed, its contributions as raw float32.

The record of ``triage.decisions.scored.ScoredCase.record`` was JSON with base64 contributions,
about 2.6 KB, so SQLite kept one decision per 4 KB page.  It is now kept by
``triage.db.types.PackedJSON`` (zlib over the JSON, the contributions as raw bytes beside it),
about 1.3 KB.  The two values that SQL read inside the record get columns of their own: the
route's ``respond_within_hours`` (the capacity view) and ``raw_values_removed_at`` (retention).
Existing rows are converted both ways; the downgrade leaves ``response`` nullable (SQLite cannot
rebuild a table others refer to).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from triage.db.types import PackedJSON, UtcDateTime

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 500
#: The record key retention sets (as in 0007), written out so the migration stays as it is.
REMOVED_AT = "raw_values_removed_at"


def _explanations(record: dict) -> list[dict]:
    explained = [record.get("escalation", {})] + record.get("persons", [])
    return [e["explanation"] for e in explained if e.get("explanation")]


def _packed(record: dict) -> dict:
    """The record with its base64 contributions as raw bytes (``PackedJSON`` takes a memoryview)."""
    for explanation in _explanations(record):
        explanation["contributions"] = memoryview(base64.b64decode(explanation["contributions"]))
    return record


def _unpacked(record: dict) -> dict:
    for explanation in _explanations(record):
        explanation["contributions"] = base64.b64encode(explanation["contributions"]).decode()
    return record


def _convert(source, target, convert, extra=lambda record: {}) -> None:
    """Write ``convert(record)`` of every decision's ``source`` column to ``target`` (both
    ``(name, type)``), in chunks of score ids, with the columns ``extra(record)`` gives."""
    connection = op.get_bind()
    (source, source_type), (target, target_type) = source, target
    decisions = sa.table(
        "decisions",
        sa.column("score_id", sa.String),
        sa.column(source, source_type),
        sa.column(target, target_type),
        sa.column("respond_within_hours", sa.Float),
        sa.column("raw_values_removed_at", UtcDateTime),
    )
    ids = connection.execute(sa.select(decisions.c.score_id).order_by("score_id")).scalars().all()
    for start in range(0, len(ids), _CHUNK):
        rows = connection.execute(
            sa.select(decisions.c.score_id, decisions.c[source]).where(
                decisions.c.score_id.in_(ids[start : start + _CHUNK])
            )
        ).all()
        values = [
            {"b_score_id": score_id, f"b_{target}": convert(record or {})}
            | {f"b_{k}": v for k, v in extra(record or {}).items()}
            for score_id, record in rows
        ]
        connection.execute(
            decisions.update()
            .where(decisions.c.score_id == sa.bindparam("b_score_id"))
            .values({k[2:]: sa.bindparam(k) for k in values[0] if k != "b_score_id"}),
            values,
        )


def _columns_apart(record: dict) -> dict:
    removed = record.get(REMOVED_AT)
    return {
        "respond_within_hours": record.get("route", {}).get("respond_within_hours"),
        "raw_values_removed_at": datetime.fromisoformat(removed) if removed else None,
    }


def upgrade() -> None:
    # NOT NULL needs a default for the rows already there; every row is then written.
    op.add_column(
        "decisions", sa.Column("packed", sa.LargeBinary(), nullable=False, server_default="")
    )
    op.add_column("decisions", sa.Column("respond_within_hours", sa.Float(), nullable=True))
    op.add_column(
        "decisions", sa.Column("raw_values_removed_at", sa.DateTime(timezone=True), nullable=True)
    )
    _convert(("response", sa.JSON), ("packed", PackedJSON), _packed, _columns_apart)
    op.drop_column("decisions", "response")
    op.alter_column("decisions", "packed", new_column_name="response")
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot drop a default in place
        op.alter_column("decisions", "response", server_default=None)


def downgrade() -> None:
    op.add_column("decisions", sa.Column("unpacked", sa.JSON(), nullable=True))
    _convert(("response", PackedJSON), ("unpacked", sa.JSON), _unpacked)
    op.drop_column("decisions", "response")
    op.drop_column("decisions", "respond_within_hours")
    op.drop_column("decisions", "raw_values_removed_at")
    op.alter_column("decisions", "unpacked", new_column_name="response")
