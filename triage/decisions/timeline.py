"""A case's history in time order: every decision (first score and re-scores), review, visit, and
every dispute of a record of its households (docs/domain.md "Records people can contest")."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.config.domain import Followups
from triage.db.service_models import Decision, Followup
from triage.decisions.followups import followup_out
from triage.decisions.record_disputes import of_households
from triage.decisions.reviews import review_out
from triage.decisions.types import Timeline, TimelineDecision, TimelineEntry


def timeline(
    session: Session, case_id: str, cfg: Followups, now: datetime | None = None
) -> Timeline | None:
    """None when the case has no stored decision.  A review sits at its confirmation (or rejection)
    when it had one, a visit at when it was done, or else when it falls due, a dispute at its
    decision, or else at its registration."""
    decisions = session.scalars(
        select(Decision)
        .where(Decision.case_id == case_id)
        .order_by(Decision.created_at, Decision.score_id)
    ).all()
    if not decisions:
        return None
    now, grace = now or datetime.now(timezone.utc), timedelta(days=cfg.grace_days)
    entries = []
    for d in decisions:
        route = d.response["route"]
        entries.append(
            TimelineEntry(
                at=d.created_at,
                type="decision",
                decision=TimelineDecision(
                    score_id=d.score_id,
                    as_of=d.as_of,
                    probability=d.probability,
                    band=d.band,
                    priority=d.priority,
                    teams=route["teams"],
                    rules=route["rules"],
                    warnings=d.response["warnings"],
                    models=d.response["models"],
                    trigger=d.trigger,
                    previous_score_id=d.previous_score_id,
                    band_rise=d.band_rise,
                    changes=d.changes or [],
                ),
            )
        )
        entries += [
            TimelineEntry(at=r.confirmed_at or r.created_at, type="review", review=review_out(r))
            for r in d.reviews
        ]
    for f in session.scalars(select(Followup).where(Followup.case_id == case_id)):
        entries.append(
            TimelineEntry(
                at=f.done_at or f.due_at, type="followup", followup=followup_out(f, now, grace)
            )
        )
    households = {d.household_id for d in decisions} | {
        d.request["case"].get("counterparty_household_id") for d in decisions
    }
    entries += [
        TimelineEntry(at=r.decided_at or r.registered_at, type="record_dispute", record_dispute=r)
        for r in of_households(session, sorted(h for h in households if h))
    ]
    entries.sort(key=lambda e: e.at)
    return Timeline(case_id=case_id, entries=entries)
