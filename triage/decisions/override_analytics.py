"""Override analytics: how often analysts keep the suggested route, which way they change it, and
whether the way they changed it proved right (docs/domain.md, "Override analytics").

VioGén's officers kept the automatic risk level in about 95 % of cases: agreement that high says the
route is accepted, not reviewed (automation bias).  Overrides that nearly all go one way say
something else: the routes are too low (or too high) for the analysts' judgement, or the analysts
have a habit.  Both are alerts here, with thresholds in ``domain.yaml: override_analytics``.

How reviews are counted:

- every review counts once, under its analyst: the reviewer's API key id (pseudonymous; a key's name
  is never read);
- a review *agrees* when its verdict is ``agree``, or when it is an override that changes nothing
  (direction ``same``); any other override counts as disagreement, whatever its four-eyes state:
  the alerts are about the analysts' judgement, not about the route in force;
- an override's direction is :func:`triage.routing.override_direction` of the decision's route;
- by team: a review counts for every team of the suggested route; ``added`` and ``dropped`` count
  the overrides that added or took away the team;
- by month: the month of the review in Asia/Shanghai;
- the alerts judge the reviews of the window ``(as_of - window_days, as_of]``, all analysts together
  and each analyst alone;
- outcomes: a ``raise`` or ``lower`` override whose case has its label (a violent offence within the
  horizon of the case's opening, :func:`triage.evaluation.labels.escalation_labels`, the horizon
  passed before the end of the data) proved right when a raised case escalated or a lowered one did
  not.  A raise that worked (staff went, nothing happened) looks wrong here, so the share of raises
  proved right is a floor.

The functions over :class:`ReviewFact` are pure; :func:`read_facts` and :func:`override_summary` read
them from the service database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from triage.config.domain import OverrideThresholds
from triage.contract import ESCALATION_OFFENCES, TABLES
from triage.db.models import EXCHANGE_MODELS, Incident
from triage.db.service_models import Decision, Review
from triage.contract import LOCAL_ZONE
from triage.evaluation.labels import escalation_labels
from triage.routing import override_direction

Direction = Literal["agree", "same", "raise", "lower", "mixed"]


@dataclass(frozen=True)
class ReviewFact:
    """One review with what it reviewed: the decision's band and suggested route, and the case's label
    (``escalated``: None until the horizon has passed)."""

    review_id: int
    score_id: str
    case_id: str
    analyst: str
    reviewed_at: datetime
    band: str
    route_teams: tuple[str, ...]
    route_priority: str
    verdict: str
    status: str = "final"
    teams: tuple[str, ...] = ()
    priority: str | None = None
    escalated: bool | None = None

    @property
    def direction(self) -> Direction:
        if self.verdict != "override":
            return "agree"
        return override_direction(
            list(self.route_teams), self.route_priority, list(self.teams), self.priority
        )  # type: ignore[return-value]

    @property
    def agrees(self) -> bool:
        return self.direction in ("agree", "same")

    @property
    def month(self) -> str:
        return self.reviewed_at.astimezone(LOCAL_ZONE).strftime("%Y-%m")

    @property
    def proved_right(self) -> bool | None:
        """A raise on a case that escalated, a lowering on one that did not; None when not judged."""
        if self.escalated is None or self.direction not in ("raise", "lower"):
            return None
        return self.escalated if self.direction == "raise" else not self.escalated


class Agreement(BaseModel):
    """Reviews of one group and how many kept the suggested route."""

    group: str = Field(
        description="the analyst's key id, a team code, a band, a month (YYYY-MM) or 'all'"
    )
    reviews: int
    agreed: int = Field(description="agreed, or overrode without changing anything")
    agreement: float | None = Field(description="agreed / reviews; null without reviews")
    overrides: int = Field(description="overrides that changed the route: raised + lowered + mixed")
    raised: int
    lowered: int
    mixed: int


class TeamAgreement(Agreement):
    added: int = Field(description="overrides that added the team to a route without it")
    dropped: int = Field(description="overrides that took the team off a route that named it")


class Alert(BaseModel):
    kind: Literal["automation_bias", "one_way"]
    analyst: str | None = Field(description="the analyst's key id; null for all analysts together")
    share: float = Field(description="the agreement, or the share of overrides going one way")
    threshold: float
    count: int = Field(description="reviews (automation_bias) or overrides (one_way) in the window")
    direction: Literal["raise", "lower"] | None = Field(
        None, description="one_way only: the way the overrides go"
    )


class Outcome(BaseModel):
    """Overrides of one direction against the labels of their cases."""

    direction: Literal["raise", "lower"]
    overrides: int
    labelled: int = Field(description="overrides whose case's label has arrived")
    escalated: int = Field(description="labelled cases that escalated")
    proved_right: int = Field(description="raised and escalated, or lowered and did not")
    share_right: float | None = Field(description="proved_right / labelled; null before any label")


class Window(BaseModel):
    start: datetime
    end: datetime
    days: int
    figures: Agreement


class OverrideSummary(BaseModel):
    as_of: datetime = Field(description="the end of the window")
    thresholds: OverrideThresholds
    window: Window
    alerts: list[Alert]
    overall: Agreement = Field(description="every review ever made")
    by_analyst: list[Agreement] = Field(description="most reviews first")
    by_team: list[TeamAgreement] = Field(description="most reviews first")
    by_band: list[Agreement] = Field(description="critical first")
    by_month: list[Agreement] = Field(description="oldest first")
    outcomes: list[Outcome]
    horizon_days: int = Field(description="the label horizon H")
    data_end: datetime | None = Field(
        description="the end of the data: labels are known for cases opened H days before it"
    )


def agreement(group: str, facts: Iterable[ReviewFact]) -> Agreement:
    facts = list(facts)
    directions = Counter(f.direction for f in facts)
    reviews, agreed = len(facts), sum(f.agrees for f in facts)
    return Agreement(
        group=group,
        reviews=reviews,
        agreed=agreed,
        agreement=agreed / reviews if reviews else None,
        overrides=reviews - agreed,
        raised=directions["raise"],
        lowered=directions["lower"],
        mixed=directions["mixed"],
    )


def agreement_by(
    facts: Iterable[ReviewFact], key: Callable[[ReviewFact], str], order=None
) -> list[Agreement]:
    """One row per value of ``key``; ``order`` sorts them (default: most reviews first)."""
    groups: dict[str, list[ReviewFact]] = {}
    for fact in facts:
        groups.setdefault(key(fact), []).append(fact)
    rows = [agreement(group, members) for group, members in groups.items()]
    return sorted(rows, key=order or (lambda r: (-r.reviews, r.group)))


def team_agreement(facts: Iterable[ReviewFact]) -> list[TeamAgreement]:
    """Per team: the reviews of routes naming it, and the overrides that added or dropped it."""
    routed: dict[str, list[ReviewFact]] = {}
    added: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for fact in facts:
        for team in fact.route_teams:
            routed.setdefault(team, []).append(fact)
        if fact.verdict == "override":
            added.update(set(fact.teams) - set(fact.route_teams))
            dropped.update(set(fact.route_teams) - set(fact.teams))
    rows = [
        TeamAgreement(
            **agreement(team, routed.get(team, [])).model_dump(),
            added=added[team],
            dropped=dropped[team],
        )
        for team in set(routed) | set(added)
    ]
    return sorted(rows, key=lambda r: (-r.reviews, -r.added, r.group))


def in_window(facts: Iterable[ReviewFact], as_of: datetime, days: int) -> list[ReviewFact]:
    start = as_of - timedelta(days=days)
    return [f for f in facts if start < f.reviewed_at <= as_of]


def _alerts_of(
    analyst: str | None, facts: Sequence[ReviewFact], limits: OverrideThresholds
) -> list[Alert]:
    found = []
    figures = agreement(analyst or "all", facts)
    if figures.reviews >= limits.min_reviews and figures.agreement > limits.max_agreement:
        found.append(
            Alert(
                kind="automation_bias",
                analyst=analyst,
                share=figures.agreement,
                threshold=limits.max_agreement,
                count=figures.reviews,
            )
        )
    if figures.overrides >= limits.min_overrides:
        way, most = max((("raise", figures.raised), ("lower", figures.lowered)), key=lambda w: w[1])
        if most / figures.overrides >= limits.one_way_share:
            found.append(
                Alert(
                    kind="one_way",
                    analyst=analyst,
                    share=most / figures.overrides,
                    threshold=limits.one_way_share,
                    count=figures.overrides,
                    direction=way,
                )
            )
    return found


def alerts(facts: Iterable[ReviewFact], limits: OverrideThresholds, as_of: datetime) -> list[Alert]:
    """Automation bias (agreement above ``max_agreement`` over at least ``min_reviews`` reviews) and
    one-way overrides (``one_way_share`` or more of at least ``min_overrides`` overrides raise, or
    lower), over the window: all analysts together first, then each analyst alone."""
    recent = in_window(facts, as_of, limits.window_days)
    found = _alerts_of(None, recent, limits)
    by_analyst: dict[str, list[ReviewFact]] = {}
    for fact in recent:
        by_analyst.setdefault(fact.analyst, []).append(fact)
    for analyst in sorted(by_analyst):
        found += _alerts_of(analyst, by_analyst[analyst], limits)
    return found


def outcomes(facts: Iterable[ReviewFact]) -> list[Outcome]:
    """For raises and lowerings: how many have their case's label, and how many proved right."""
    facts = list(facts)
    rows = []
    for way in ("raise", "lower"):
        mine = [f for f in facts if f.direction == way]
        labelled = [f for f in mine if f.escalated is not None]
        right = sum(bool(f.proved_right) for f in labelled)
        rows.append(
            Outcome(
                direction=way,
                overrides=len(mine),
                labelled=len(labelled),
                escalated=sum(bool(f.escalated) for f in labelled),
                proved_right=right,
                share_right=right / len(labelled) if labelled else None,
            )
        )
    return rows


BAND_ORDER = ("critical", "high", "medium", "low")


def summarise(
    facts: Sequence[ReviewFact],
    limits: OverrideThresholds,
    as_of: datetime,
    *,
    horizon_days: int,
    data_end: datetime | None = None,
) -> OverrideSummary:
    recent = in_window(facts, as_of, limits.window_days)
    return OverrideSummary(
        as_of=as_of,
        thresholds=limits,
        window=Window(
            start=as_of - timedelta(days=limits.window_days),
            end=as_of,
            days=limits.window_days,
            figures=agreement("window", recent),
        ),
        alerts=alerts(facts, limits, as_of),
        overall=agreement("all", facts),
        by_analyst=agreement_by(facts, lambda f: f.analyst),
        by_team=team_agreement(facts),
        by_band=agreement_by(
            facts,
            lambda f: f.band,
            order=lambda r: BAND_ORDER.index(r.group) if r.group in BAND_ORDER else 99,
        ),
        by_month=agreement_by(facts, lambda f: f.month, order=lambda r: r.group),
        outcomes=outcomes(facts),
        horizon_days=horizon_days,
        data_end=data_end,
    )


# --- reading the service database ---------------------------------------------------------------


def data_end(session: Session) -> datetime | None:
    """The latest own time of any exchange-table row (``triage.evaluation.labels.dataset_end``)."""
    latest = [
        session.scalar(select(func.max(getattr(EXCHANGE_MODELS[name], spec.time_column))))
        for name, spec in TABLES.items()
        if spec.time_column
    ]
    return max((t for t in latest if t is not None), default=None)


def arrived_labels(
    session: Session, cases: pd.DataFrame, horizon_days: int, end
) -> dict[str, bool]:
    """Case id → escalated, for the cases whose horizon has passed before ``end`` (``cases``: one
    row per case with ``case_id``, ``opened_at``, ``household_id``, ``counterparty_household_id``)."""
    if cases.empty or end is None:
        return {}
    incidents = pd.DataFrame(
        session.execute(
            select(
                Incident.household_id, Incident.case_id, Incident.occurred_at, Incident.offence
            ).where(Incident.offence.in_(ESCALATION_OFFENCES))
        ).all(),
        columns=["household_id", "case_id", "occurred_at", "offence"],
    )
    incidents["occurred_at"] = pd.to_datetime(incidents["occurred_at"], utc=True)
    label = escalation_labels(
        cases, incidents, horizon_days=horizon_days, data_end=pd.Timestamp(end)
    )
    return {
        case_id: bool(value)
        for case_id, value in zip(cases["case_id"], label, strict=True)
        if not pd.isna(value)
    }


def read_facts(session: Session, horizon_days: int) -> tuple[list[ReviewFact], datetime | None]:
    """Every review with its decision and its case's label, oldest first; and the end of the data."""
    rows = session.execute(
        select(
            Review.id,
            Review.score_id,
            Review.reviewer_key_id,
            Review.created_at,
            Review.verdict,
            Review.status,
            Review.teams,
            Review.priority,
            Decision.case_id,
            Decision.household_id,
            Decision.band,
            Decision.priority,
            Decision.teams,
            Decision.request[("case", "opened_at")].as_string(),
            Decision.request[("case", "counterparty_household_id")].as_string(),
        )
        .join(Decision, Review.score_id == Decision.score_id)
        .order_by(Review.created_at, Review.id)
    ).all()
    end = data_end(session) if rows else None
    cases = pd.DataFrame(
        [(r[8], r[13], r[9], r[14]) for r in rows],
        columns=["case_id", "opened_at", "household_id", "counterparty_household_id"],
    ).drop_duplicates("case_id")
    cases["opened_at"] = pd.to_datetime(cases["opened_at"], utc=True, format="ISO8601")
    labels = arrived_labels(session, cases.reset_index(drop=True), horizon_days, end)
    facts = [
        ReviewFact(
            review_id=r[0],
            score_id=r[1],
            case_id=r[8],
            analyst=r[2],
            reviewed_at=r[3],
            band=r[10],
            route_teams=tuple(r[12].strip(";").split(";")) if r[12].strip(";") else (),
            route_priority=r[11],
            verdict=r[4],
            status=r[5],
            teams=tuple(r[6] or ()),
            priority=r[7],
            escalated=labels.get(r[8]),
        )
        for r in rows
    ]
    return facts, end


def override_summary(
    session: Session, limits: OverrideThresholds, horizon_days: int, as_of: datetime | None = None
) -> OverrideSummary:
    """What ``GET /v1/overrides/summary`` answers and the workbench's overrides page shows."""
    facts, end = read_facts(session, horizon_days)
    return summarise(
        facts,
        limits,
        as_of or datetime.now(timezone.utc),
        horizon_days=horizon_days,
        data_end=end,
    )


#: Columns of ``triage overrides export``: no household, no request, no note (free text may hold a
#: name or a phone number), no key name.
EXPORT_COLUMNS = [
    "review_id",
    "score_id",
    "case_id",
    "analyst",
    "reviewed_at",
    "month",
    "band",
    "route_priority",
    "route_teams",
    "verdict",
    "status",
    "override_priority",
    "override_teams",
    "direction",
    "agrees",
    "escalated",
    "proved_right",
]


def export_rows(facts: Iterable[ReviewFact]) -> list[dict]:
    """One flat row per review (``EXPORT_COLUMNS``); team lists ``;``-separated."""
    return [
        {
            "review_id": f.review_id,
            "score_id": f.score_id,
            "case_id": f.case_id,
            "analyst": f.analyst,
            "reviewed_at": f.reviewed_at.isoformat(),
            "month": f.month,
            "band": f.band,
            "route_priority": f.route_priority,
            "route_teams": ";".join(f.route_teams),
            "verdict": f.verdict,
            "status": f.status,
            "override_priority": f.priority,
            "override_teams": ";".join(f.teams) if f.verdict == "override" else None,
            "direction": f.direction,
            "agrees": f.agrees,
            "escalated": f.escalated,
            "proved_right": f.proved_right,
        }
        for f in facts
    ]
