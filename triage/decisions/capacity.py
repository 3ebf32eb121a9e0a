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

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from pydantic import BaseModel, Field
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from triage.contract import LOCAL_ZONE
from triage.db.service_models import Decision, Review
from triage.decisions.types import Band
from triage.routing import PRIORITY_RANK

#: Review states that settle a decision (after a rejection two analysts have looked and the route stands);
#: a ``pending`` override still waits for a second analyst and changes nothing.
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
    due_before: datetime = Field(
        description="the end of that day: cases due before this moment count"
    )
    teams: list[TeamLoad] = Field(description="teams over capacity first, then by cases due")


def end_of_day(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), LOCAL_ZONE)


def today() -> date:
    return datetime.now(LOCAL_ZONE).date()


def _open_latest_decisions(session: Session, before: datetime) -> list[tuple]:
    """The latest decision of every case, when nothing settles it yet and it was made before ``before``."""
    later = aliased(Decision)
    superseded = exists().where(
        later.case_id == Decision.case_id,
        (later.created_at > Decision.created_at)
        | ((later.created_at == Decision.created_at) & (later.score_id > Decision.score_id)),
    )
    settled = exists().where(Review.score_id == Decision.score_id, Review.status.in_(SETTLED))
    return [
        tuple(row)
        for row in session.execute(
            select(
                Decision.score_id,
                Decision.case_id,
                Decision.household_id,
                Decision.dispute_type,
                Decision.probability,
                Decision.band,
                Decision.priority,
                Decision.teams,
                Decision.created_at,
                Decision.respond_within_hours,
            ).where(Decision.created_at < before, ~superseded, ~settled)
        )
    ]


@dataclass(frozen=True)
class Ranking:
    """Each team's open cases due before ``due_before``, most urgent first: ``(row, due_at)`` pairs."""

    day: date
    due_before: datetime
    owed: dict[str, list[tuple[tuple, datetime]]]

    def beyond_capacity(self, capacity: dict[str, int]) -> dict[str, list[str]]:
        """Score id → the teams for which that case lies beyond the day's capacity."""
        beyond: dict[str, list[str]] = {}
        for code, rows in self.owed.items():
            for row, _ in rows[capacity[code] :]:
                beyond.setdefault(row[0], []).append(code)
        return beyond


def rank_due(session: Session, teams: list[str], day: date) -> Ranking:
    """The open cases of these teams due by the end of ``day`` (Asia/Shanghai), each team's most urgent first."""
    due_before = end_of_day(day)
    owed: dict[str, list[tuple[tuple, datetime]]] = {code: [] for code in teams}
    for row in _open_latest_decisions(session, due_before):
        due_at = row[8] + timedelta(hours=row[9])
        if due_at < due_before:
            for code in row[7].strip(";").split(";"):
                if code in owed:
                    owed[code].append((row, due_at))
    for rows in owed.values():  # priority, then probability, then the earlier deadline
        rows.sort(key=lambda r: (-PRIORITY_RANK[r[0][6]], -r[0][4], r[1], r[0][0]))
    return Ranking(day=day, due_before=due_before, owed=owed)


def teams_queue(
    ranking: Ranking,
    capacity: dict[str, int],
    cases_per_team: int = 100,
    now: datetime | None = None,
) -> TeamsQueue:
    """Per team: capacity, open cases due, how many are beyond capacity, and the first ``cases_per_team``."""
    now = now or datetime.now(timezone.utc)
    loads = []
    for code, rows in ranking.owed.items():
        cases = [
            DueCase(
                score_id=row[0],
                case_id=row[1],
                household_id=row[2],
                dispute_type=row[3],
                probability=row[4],
                band=row[5],
                priority=row[6],
                created_at=row[8],
                due_at=due_at,
                overdue=due_at < now,
                rank=rank,
                over_capacity=rank > capacity[code],
            )
            for rank, (row, due_at) in enumerate(rows[:cases_per_team], start=1)
        ]
        loads.append(
            TeamLoad(
                team=code,
                capacity=capacity[code],
                due=len(rows),
                over_capacity=max(len(rows) - capacity[code], 0),
                cases=cases,
            )
        )
    loads.sort(key=lambda load: (-load.over_capacity, -load.due, load.team))
    return TeamsQueue(day=ranking.day, due_before=ranking.due_before, teams=loads)
