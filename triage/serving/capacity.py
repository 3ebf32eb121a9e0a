"""Each team's cases due by the end of a day against the cases it can take up that day.

An alert flood must not bury the critical cases.  A team owes a case when the case's latest
decision routes it there, nobody has settled it yet (no review, or only an override still
waiting for a second analyst), and its deadline — scored at + the route's
``respond_within_hours`` — falls on or before the end of the day in Asia/Shanghai (overdue
cases included: they are still owed).  A team's cases are ranked most urgent first: the
route's priority, so that a rule which routes a case whatever the score says keeps it on top,
then the calibrated probability.  The team's daily ``capacity`` (``domain.yaml``) cuts that
ranking: the cases beyond it are the least urgent ones, never the critical ones.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from triage.config import load_domain
from triage.db.service_models import Decision, Review
from triage.routing import PRIORITY_RANK
from triage.serving.schemas import SHANGHAI, Band

#: Review states that settle a decision; a ``pending`` override still waits for a second analyst.
SETTLED = ("final", "confirmed", "rejected")


class DueCase(BaseModel):
    score_id: str
    case_id: str
    household_id: str
    dispute_type: str
    probability: float
    band: Band
    priority: str
    created_at: datetime
    due_at: datetime = Field(description="scored at + the route's respond_within_hours")
    overdue: bool = Field(description="the deadline had passed when the queue was read")
    rank: int = Field(description="1 = the team's most urgent case (priority, then probability)")
    over_capacity: bool = Field(description="ranked beyond the team's daily capacity")


class TeamLoad(BaseModel):
    team: str
    capacity: int = Field(description="cases the team can take up in a day (domain.yaml: capacity)")
    due: int = Field(description="open cases due by the end of the day, overdue included")
    over_capacity: int = Field(description="due cases beyond the capacity: the lowest-ranked ones")
    cases: list[DueCase] = Field(description="most urgent first, at most `cases_per_team`")


class TeamsQueue(BaseModel):
    day: date = Field(description="the day in Asia/Shanghai")
    due_before: datetime = Field(description="the end of that day: cases due before this moment count")
    teams: list[TeamLoad] = Field(description="teams over capacity first, then by cases due")


@lru_cache(maxsize=4)
def team_capacity(domain_file: Path) -> dict[str, int]:
    """``capacity`` of ``domain.yaml``: a whole number ≥ 0 for every team, and for no unknown team."""
    domain = load_domain(domain_file)
    capacity, teams = domain.get("capacity") or {}, set(domain["teams"])
    if set(capacity) != teams:
        raise ValueError(f"capacity must list every team once: missing {sorted(teams - set(capacity))}, "
                         f"unknown {sorted(set(capacity) - teams)}")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in capacity.values()):
        raise ValueError("each team's capacity is a whole number of cases per day, 0 or more")
    return dict(capacity)


def end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), SHANGHAI)


def today() -> date:
    return datetime.now(SHANGHAI).date()


def _open_latest_decisions(session: Session, before: datetime):
    """The latest decision of every case, when nothing settles it yet and it was made before ``before``."""
    latest = (select(Decision.score_id, func.row_number().over(
        partition_by=Decision.case_id, order_by=(Decision.created_at.desc(), Decision.score_id.desc())).label("n"))
        .subquery())
    settled = exists().where(Review.score_id == Decision.score_id, Review.status.in_(SETTLED))
    hours = Decision.response[("route", "respond_within_hours")].as_float()
    return session.execute(
        select(Decision.score_id, Decision.case_id, Decision.household_id, Decision.dispute_type,
               Decision.probability, Decision.band, Decision.priority, Decision.teams, Decision.created_at,
               hours.label("hours"))
        .join(latest, (latest.c.score_id == Decision.score_id) & (latest.c.n == 1))
        .where(~settled, Decision.created_at < before)).all()


def teams_queue(session: Session, capacity: dict[str, int], day: date, *, team: str | None = None,
                cases_per_team: int | None = 100, now: datetime | None = None) -> TeamsQueue:
    """Per team: capacity, open cases due by the end of ``day``, how many are beyond capacity, and the
    first ``cases_per_team`` cases (None: all of them)."""
    now, due_before = now or datetime.now(timezone.utc), end_of_day(day)
    owed: dict[str, list[tuple]] = {code: [] for code in capacity if team in (None, code)}
    for row in _open_latest_decisions(session, due_before):
        due_at = row.created_at + timedelta(hours=row.hours)
        if due_at >= due_before:
            continue
        for code in row.teams.strip(";").split(";"):
            if code in owed:
                owed[code].append((row, due_at))
    loads = []
    for code, rows in owed.items():
        rows.sort(key=lambda r: (-PRIORITY_RANK[r[0].priority], -r[0].probability, r[1], r[0].score_id))
        cases = [DueCase(score_id=row.score_id, case_id=row.case_id, household_id=row.household_id,
                         dispute_type=row.dispute_type, probability=row.probability, band=row.band,
                         priority=row.priority, created_at=row.created_at, due_at=due_at, overdue=due_at < now,
                         rank=rank, over_capacity=rank > capacity[code])
                 for rank, (row, due_at) in enumerate(rows[:cases_per_team], start=1)]
        loads.append(TeamLoad(team=code, capacity=capacity[code], due=len(rows),
                              over_capacity=max(len(rows) - capacity[code], 0), cases=cases))
    loads.sort(key=lambda load: (-load.over_capacity, -load.due, load.team))
    return TeamsQueue(day=day, due_before=due_before, teams=loads)
