"""Follow-up visits (回访) of mediated cases: planned, listed when due or missed, recorded.

An agreement is not the end of a dispute: a mediated case the service has scored gets one
visit per interval of ``domain.yaml`` ``followups.intervals_days`` after the mediation.  A visit
falls due on its day; not done ``grace_days`` later it is *missed* and counts in the queue.
Recording a visit can re-score the case as of the visit (asked for, or an outcome of concern):
the new decision's trigger is ``followup``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from triage.config.domain import Followups
from triage.contract import LOCAL_ZONE
from triage.db.service_models import Followup
from triage.decisions.audit import record
from triage.decisions.champions import ChampionStore
from triage.decisions.rescoring import Mediated, Target, latest_decisions, rescore
from triage.decisions.types import FollowupOut, FollowupPage, VisitIn, VisitOut

STATES = ("upcoming", "due", "missed", "done")


class UnknownOutcome(ValueError):
    """The outcome is not one of ``followups.outcomes``."""


class AlreadyVisited(ValueError):
    """A visit is recorded once."""


def plan(session: Session, mediated: Iterable[Mediated], cfg: Followups) -> int:
    """Visits for each mediated case the service has a decision on (once per case and interval)."""
    first: dict[str, datetime] = {}
    for m in mediated:
        first[m.case_id] = min(first.get(m.case_id, m.at), m.at)
    tracked = latest_decisions(session, cases=first)
    if not tracked:
        return 0
    planned = set(
        session.execute(
            select(Followup.case_id, Followup.kind).where(Followup.case_id.in_(sorted(tracked)))
        ).all()
    )
    now, added = datetime.now(timezone.utc), 0
    for case_id, decision in sorted(tracked.items()):
        for days in cfg.intervals_days:
            kind = f"{days}d"
            if (case_id, kind) in planned:
                continue
            session.add(
                Followup(
                    case_id=case_id,
                    household_id=decision.household_id,
                    score_id=decision.score_id,
                    kind=kind,
                    due_at=first[case_id] + timedelta(days=days),
                    created_at=now,
                )
            )
            added += 1
    if added:
        record(
            session, "followups.plan", None, target=",".join(sorted(tracked))[:200], visits=added
        )
    session.flush()
    return added


def state_of(followup: Followup, now: datetime, grace: timedelta) -> str:
    if followup.done_at is not None:
        return "done"
    if now < followup.due_at:
        return "upcoming"
    return "due" if now < followup.due_at + grace else "missed"


def followup_out(followup: Followup, now: datetime, grace: timedelta) -> FollowupOut:
    return FollowupOut(
        id=followup.id,
        case_id=followup.case_id,
        household_id=followup.household_id,
        score_id=followup.score_id,
        kind=followup.kind,
        due_at=followup.due_at,
        state=state_of(followup, now, grace),
        done_at=followup.done_at,
        outcome=followup.outcome,
        note=followup.note,
        visitor_key_id=followup.visitor_key_id,
        rescore_score_id=followup.rescore_score_id,
        created_at=followup.created_at,
    )


@dataclass(frozen=True)
class FollowupFilter:
    states: list[str] | None = None
    case_id: str | None = None
    household_id: str | None = None


def listing(
    session: Session,
    where: FollowupFilter,
    limit: int,
    offset: int,
    cfg: Followups,
    now: datetime | None = None,
) -> FollowupPage:
    """Visits in the order they fall due, filtered by state, case or household."""
    now, grace = now or datetime.now(timezone.utc), timedelta(days=cfg.grace_days)
    conditions = []
    if where.case_id:
        conditions.append(Followup.case_id == where.case_id)
    if where.household_id:
        conditions.append(Followup.household_id == where.household_id)
    if where.states:
        open_ = Followup.done_at.is_(None)
        by_state = {
            "done": Followup.done_at.is_not(None),
            "upcoming": open_ & (Followup.due_at > now),
            "due": open_ & (Followup.due_at <= now) & (Followup.due_at > now - grace),
            "missed": open_ & (Followup.due_at <= now - grace),
        }
        conditions.append(or_(*(by_state[s] for s in where.states)))
    total = session.scalar(select(func.count()).select_from(Followup).where(*conditions))
    rows = session.scalars(
        select(Followup)
        .where(*conditions)
        .order_by(Followup.due_at, Followup.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return FollowupPage(
        total=total, limit=limit, offset=offset, items=[followup_out(f, now, grace) for f in rows]
    )


def visit(
    session: Session,
    followup_id: int,
    body: VisitIn,
    key_id: str,
    cfg: Followups,
    scorer,
    champions: ChampionStore,
) -> VisitOut | None:
    """Record a visit (and re-score the case when asked or of concern); None when no such visit.

    The champions are taken only for a re-score (none loaded then: ``NoChampions``, nothing stored).
    """
    followup = session.get(Followup, followup_id)
    if followup is None:
        return None
    if body.outcome not in cfg.outcomes:
        raise UnknownOutcome(
            f"unknown outcome {body.outcome!r}; outcomes are {', '.join(cfg.outcomes)}"
        )
    if followup.done_at is not None:
        raise AlreadyVisited(f"visit {followup_id} was recorded at {followup.done_at.isoformat()}")
    now = datetime.now(timezone.utc)
    followup.done_at = (body.visited_at or now).astimezone(timezone.utc)
    followup.note, followup.outcome, followup.visitor_key_id = body.note, body.outcome, key_id
    rescored = None
    if body.rescore or body.outcome in cfg.rescore_outcomes:
        decision = latest_decisions(session, cases=[followup.case_id])[followup.case_id]
        when = followup.done_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d")
        target = Target(
            decision,
            max(followup.done_at, decision.as_of),
            "followup",
            [f"follow-up visit {followup.kind} on {when}: {body.outcome}"],
        )
        (rescored,) = rescore(session, scorer, champions.current, [target], key_id)
        followup.rescore_score_id = rescored.score_id
    record(
        session,
        "followup.visit",
        key_id,
        target=str(followup_id),
        case_id=followup.case_id,
        outcome=body.outcome,
        rescore_score_id=followup.rescore_score_id,
    )
    session.flush()
    grace = timedelta(days=cfg.grace_days)
    return VisitOut(**followup_out(followup, now, grace).model_dump(), rescored=rescored)
