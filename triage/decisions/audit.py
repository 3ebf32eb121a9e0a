"""The audit trail: who reviewed, overrode, ingested, reloaded or managed keys, and when."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.db.service_models import AuditEntry


def record(
    session: Session, action: str, key_id: str | None, *, target: str | None = None, **detail
) -> None:
    """Add an entry to the caller's transaction (so it commits, or not, with what it describes)."""
    session.add(
        AuditEntry(
            at=datetime.now(timezone.utc),
            key_id=key_id,
            action=action,
            target=target,
            detail=detail,
        )
    )


def entries(session: Session, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
        )
    )
