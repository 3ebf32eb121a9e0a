"""The analysts' queue: stored decisions, most likely to escalate first, filtered and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from triage.config.domain import Followups
from triage.db.service_models import Decision, Followup, Review
from triage.decisions.reviews import effective_route
from triage.decisions.types import QueueItem, QueuePage


@dataclass(frozen=True)
class QueueFilter:
    band: list[str] | None = None
    team: str | None = None
    reviewed: bool | None = None
    dispute_type: list[str] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    band_rise: bool | None = None
    current: bool | None = None  # only each case's latest decision (true) or only superseded ones
    score_ids: list[str] | None = None  # only these decisions


def queue_page(
    session: Session, where: QueueFilter, limit: int, offset: int, followup_rules: Followups
) -> QueuePage:
    """Stored decisions, highest probability first (newest first among equals), filtered and paged."""
    has_review = exists().where(Review.score_id == Decision.score_id)
    conditions = []
    if where.band:
        conditions.append(Decision.band.in_(where.band))
    if where.dispute_type:
        conditions.append(Decision.dispute_type.in_(where.dispute_type))
    if where.team:
        # Team codes are ';'-wrapped in `teams`; LIKE wildcards in the filter value are escaped.
        escaped = where.team.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(Decision.teams.like(f"%;{escaped};%", escape="\\"))
    if where.reviewed is not None:
        conditions.append(has_review if where.reviewed else ~has_review)
    if where.created_from is not None:
        conditions.append(Decision.created_at >= where.created_from)
    if where.created_to is not None:
        conditions.append(Decision.created_at <= where.created_to)
    if where.band_rise is not None:
        conditions.append(Decision.band_rise.is_(where.band_rise))
    if where.score_ids is not None:
        conditions.append(Decision.score_id.in_(where.score_ids))
    if where.current is not None:
        later = aliased(Decision)
        superseded = exists().where(
            later.case_id == Decision.case_id, later.created_at > Decision.created_at
        )
        conditions.append(~superseded if where.current else superseded)
    total = session.scalar(select(func.count()).select_from(Decision).where(*conditions))
    rows = session.scalars(
        select(Decision)
        .where(*conditions)
        .order_by(Decision.probability.desc(), Decision.created_at.desc(), Decision.score_id)
        .limit(limit)
        .offset(offset)
    ).all()
    cases = sorted({d.case_id for d in rows})
    newest = dict(
        session.execute(
            select(Decision.case_id, func.max(Decision.created_at))
            .where(Decision.case_id.in_(cases))
            .group_by(Decision.case_id)
        ).all()
    )
    missed = missed_followups(session, cases, followup_rules.grace_days)
    return QueuePage(
        total=total,
        limit=limit,
        offset=offset,
        items=[
            QueueItem(
                score_id=d.score_id,
                case_id=d.case_id,
                household_id=d.household_id,
                dispute_type=d.dispute_type,
                as_of=d.as_of,
                created_at=d.created_at,
                probability=d.probability,
                band=d.band,
                priority=d.priority,
                teams=d.teams.strip(";").split(";"),
                reviewed=bool(d.reviews),
                latest_verdict=d.reviews[-1].verdict if d.reviews else None,
                trigger=d.trigger,
                previous_score_id=d.previous_score_id,
                band_rise=d.band_rise,
                changes=d.changes or [],
                superseded=_utc(newest[d.case_id]) > d.created_at,
                effective_teams=effective_route(d).teams,
                pending_review=any(r.status == "pending" for r in d.reviews),
                missed_followups=missed.get(d.case_id, 0),
                needs_judgement=d.response.get("needs_judgement", False),
            )
            for d in rows
        ],
    )


def _utc(moment: datetime) -> datetime:
    """An aggregate's timestamp (``max(created_at)``) comes back naive on SQLite: it is UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def missed_followups(
    session: Session, case_ids: list[str], grace_days: int, now: datetime | None = None
) -> dict[str, int]:
    """Follow-up visits of these cases not done ``grace_days`` after they fell due."""
    if not case_ids:
        return {}
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=grace_days)
    return dict(
        session.execute(
            select(Followup.case_id, func.count())
            .where(
                Followup.case_id.in_(case_ids), Followup.done_at.is_(None), Followup.due_at < cutoff
            )
            .group_by(Followup.case_id)
        ).all()
    )
