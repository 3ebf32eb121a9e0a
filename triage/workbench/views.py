"""What each workbench page shows, assembled from the service's own modules.

The queue and the stored decisions come from :mod:`triage.decisions.queue` and
:mod:`triage.decisions.stored` (the functions behind ``GET /v1/queue`` and ``GET /v1/scores/{id}``),
the teams' load from :mod:`triage.decisions.capacity` (``GET /v1/queue/teams``), the override
analytics from :mod:`triage.decisions.override_analytics` (``GET /v1/overrides/summary``), and a review is
stored with ``reviews.review`` exactly as ``POST /v1/scores/{id}/review`` stores it.  The router only
parses the request and renders these views.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from triage.config.domain import Domain, Followups
from triage.contract import BANDS, FIRST_YEAR, LAST_YEAR, LOCAL_ZONE
from triage.db.service_models import DISPUTABLE_TABLES, Decision
from triage.decisions import (
    capacity,
    followups,
    override_analytics,
    queue,
    record_disputes,
    reviews,
    shadow,
    stored,
)
from triage.decisions.champions import ChampionStore
from triage.decisions.timeline import timeline as decision_timeline
from triage.decisions.types import (
    Band,
    ConfirmIn,
    DisputeDecided,
    DisputeDecisionIn,
    DisputeIn,
    DisputeType,
    FollowupOut,
    QueueItem,
    RecordDisputeOut,
    ReviewIn,
    ReviewOut,
    StoredScore,
    TimelineEntry,
    VisitIn,
    VisitOut,
)
from triage.routing import RoutingRules
from triage.workbench.chart import Waterfall, waterfall
from triage.workbench.history import Event, timeline
from triage.workbench.i18n import VOCABULARY, Translator

#: The queue's band filters, most urgent first.
BANDS_DOWN: tuple[str, ...] = tuple(reversed(BANDS))
PAGE_SIZE = 20
#: Share of the response time left below which a case counts as due soon.
DUE_SOON_SHARE = 0.25
#: The service's warnings by their opening words, so that a page can name each kind in its own language.
WARNING_KINDS = (
    ("outside the training population", "population"),
    ("no recorded history", "no_history"),
    ("unknown household", "unknown_household"),
    ("unknown counterparty household", "unknown_counterparty"),
    ("unknown person", "unknown_person"),
)


def _blank_is_none(value):
    return None if value == "" else value


#: The days the queue's date filters accept (a day outside cannot be turned into a stored moment).
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)


class QueueQuery(BaseModel):
    """The queue's filters as the page's GET form sends them (an empty field means no filter)."""

    model_config = ConfigDict(extra="ignore")

    band: list[Band] = []
    team: str | None = Field(None, max_length=64)
    dispute_type: DisputeType | None = None
    reviewed: Literal["yes", "no"] | None = None
    scored_from: date | None = Field(None, ge=FIRST_DAY, le=LAST_DAY)
    scored_to: date | None = Field(None, ge=FIRST_DAY, le=LAST_DAY)
    band_rise: Literal["yes"] | None = None
    due: Literal["today"] | None = None
    page: int = Field(1, ge=1, le=100_000)

    _blank = field_validator(
        "team",
        "dispute_type",
        "reviewed",
        "scored_from",
        "scored_to",
        "band_rise",
        "due",
        mode="before",
    )(_blank_is_none)

    def where(self) -> queue.QueueFilter:
        """The filter of ``queue.queue_page``; dates are whole days in Asia/Shanghai."""
        start = datetime.combine(self.scored_from, time(), LOCAL_ZONE) if self.scored_from else None
        end = (
            datetime.combine(self.scored_to + timedelta(days=1), time(), LOCAL_ZONE)
            - timedelta(microseconds=1)
            if self.scored_to
            else None
        )
        return queue.QueueFilter(
            band=list(self.band) or None,
            team=self.team,
            dispute_type=[self.dispute_type] if self.dispute_type else None,
            reviewed=None if self.reviewed is None else self.reviewed == "yes",
            created_from=start,
            created_to=end,
            band_rise=True if self.band_rise else None,
        )


@dataclass(frozen=True)
class Deadline:
    hours: float
    elapsed_hours: float
    state: str  # overdue, due_soon, on_time, done


@dataclass(frozen=True)
class CaseWarning:
    kind: str  # one of the kinds of WARNING_KINDS, or "other"
    text: str


#: A feature's code in parentheses after its label, as the API's warnings name it.
FEATURE_CODE = re.compile(r" \([a-z][a-z0-9]*_[a-z0-9_]+\)")


def warnings_of(response: dict) -> list[CaseWarning]:
    """A stored response's warnings, each with its kind (how little the estimate rests on), the features
    named by their labels only."""
    return [
        CaseWarning(
            kind=next(
                (kind for opening, kind in WARNING_KINDS if text.startswith(opening)), "other"
            ),
            text=FEATURE_CODE.sub("", text),
        )
        for text in response.get("warnings", [])
    ]


@dataclass(frozen=True)
class QueueRow:
    item: QueueItem
    deadline: Deadline
    review_teams: list[str]
    warnings: list[CaseWarning]
    beyond_capacity: list[str]  # teams for which this case lies beyond today's capacity


@dataclass(frozen=True)
class QueueView:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    band_counts: dict[str, int]
    teams: capacity.TeamsQueue


def deadline(created_at: datetime, hours: float, reviewed: bool, now: datetime) -> Deadline:
    """Time since the case was scored against the route's ``respond_within_hours``."""
    elapsed = max((now - created_at).total_seconds() / 3600, 0.0)
    if reviewed:
        state = "done"
    elif elapsed > hours:
        state = "overdue"
    elif hours - elapsed <= hours * DUE_SOON_SHARE:
        state = "due_soon"
    else:
        state = "on_time"
    return Deadline(hours=hours, elapsed_hours=elapsed, state=state)


def queue_view(
    session: Session, query: QueueQuery, domain: Domain, now: datetime | None = None
) -> QueueView:
    """One page of the queue, highest risk first, with the count per band under the other filters and
    each team's cases due today against its capacity."""
    now, capacities = now or datetime.now(timezone.utc), domain.capacity
    ranking = capacity.rank_due(session, list(capacities), now.astimezone(LOCAL_ZONE).date())
    where = query.where()
    if (
        query.due
    ):  # the cases the capacity table counts as due today, of the team when one is chosen
        where = replace(
            where,
            score_ids=sorted(
                {
                    row[0]
                    for code, rows in ranking.owed.items()
                    if query.team in (None, code)
                    for row, _ in rows
                }
            ),
        )
    page = queue.queue_page(
        session, where, PAGE_SIZE, (query.page - 1) * PAGE_SIZE, domain.followups
    )
    counts = {
        band: queue.queue_page(session, replace(where, band=[band]), 1, 0, domain.followups).total
        for band in BANDS_DOWN
    }
    beyond = ranking.beyond_capacity(capacities)
    rows = []
    for item in page.items:
        decision = session.get(
            Decision, item.score_id
        )  # already in the session from the queue query
        rows.append(
            QueueRow(
                item=item,
                review_teams=decision.reviews[-1].teams if decision.reviews else [],
                deadline=deadline(
                    item.created_at,
                    decision.response["route"]["respond_within_hours"],
                    any(r.status != "pending" for r in decision.reviews),
                    now,
                ),
                warnings=warnings_of(decision.response),
                beyond_capacity=beyond.get(item.score_id, []),
            )
        )
    return QueueView(
        rows=rows,
        total=page.total,
        page=query.page,
        pages=max(math.ceil(page.total / PAGE_SIZE), 1),
        band_counts=counts,
        teams=capacity.teams_queue(ranking, capacities, cases_per_team=0, now=now),
    )


@dataclass(frozen=True)
class CaseView:
    score: StoredScore
    chart: Waterfall
    events: list[Event]
    events_total: int
    deadline: Deadline
    warnings: list[CaseWarning]
    timeline: list[TimelineEntry]  # the case's decisions, reviews and visits, oldest first
    latest_score_id: str  # the case's newest decision (this one, unless re-scored since)
    followups: list[FollowupOut]
    disputes: list[RecordDisputeOut]  # of the households' records, newest first
    disputed: dict[str, str]  # "<table>/<record id>" → its latest dispute's status


def case_view(
    session: Session,
    engine: Engine,
    score_id: str,
    t: Translator,
    followup_rules: Followups,
    now: datetime | None = None,
) -> CaseView | None:
    """A stored decision with its chart, the households' history as of the score, and the case's own
    timeline of decisions, reviews and follow-up visits; None when unknown."""
    score = stored.get(session, score_id, top=None)
    if score is None:
        return None
    now = now or datetime.now(timezone.utc)
    case = score.request["case"]
    events, total = timeline(
        engine,
        case["household_id"],
        case.get("counterparty_household_id"),
        score.case_id,
        score.as_of,
    )
    entries = decision_timeline(session, score.case_id, followup_rules, now).entries
    decided = [e.decision for e in entries if e.type == "decision"]
    disputes = [e.record_dispute for e in entries if e.type == "record_dispute"]
    return CaseView(
        score=score,
        chart=waterfall(score.escalation.model_dump(), t),
        events=events,
        events_total=total,
        deadline=deadline(
            score.created_at,
            score.route.respond_within_hours,
            any(r.status != "pending" for r in score.reviews),
            now,
        ),
        warnings=warnings_of({"warnings": score.warnings}),
        timeline=entries,
        latest_score_id=decided[-1].score_id,
        followups=sorted(
            (e.followup for e in entries if e.type == "followup"), key=lambda f: f.due_at
        ),
        disputes=sorted(disputes, key=lambda d: d.id, reverse=True),
        disputed={
            f"{d.table}/{d.record_id}": d.status for d in sorted(disputes, key=lambda d: d.id)
        },
    )


class ReviewRejected(ValueError):
    """The review form is incomplete; ``message`` is a key of the workbench's messages."""

    def __init__(self, message: str, **fields):
        super().__init__(message)
        self.message, self.fields = message, fields


def _invalid(exc: Exception) -> ReviewRejected:
    detail = (
        "; ".join(e["msg"] for e in exc.errors()) if isinstance(exc, ValidationError) else str(exc)
    )
    return ReviewRejected("review_invalid", detail=detail)


def submit_review(
    session: Session,
    score_id: str,
    verdict: str,
    teams: list[str],
    priority: str,
    note: str,
    reviewer_key_id: str,
    known_teams: set[str],
    routing: RoutingRules,
) -> ReviewOut | None:
    """Store the analyst's verdict as the API does (an override that drops what a safeguard rule
    requires waits for a second analyst); the form's own checks come first, in the page's words."""
    note = note.strip()
    if verdict == "override" and not teams:
        raise ReviewRejected("teams_required")
    if verdict == "override" and not note:
        raise ReviewRejected("note_required")
    try:
        override = verdict == "override"
        body = ReviewIn(
            verdict=verdict,
            teams=teams if override else None,
            priority=(priority or None) if override else None,
            note=note or None,
        )
        return reviews.review(session, score_id, body, reviewer_key_id, known_teams, routing)
    except (ValidationError, reviews.UnknownTeams) as exc:
        raise _invalid(exc) from exc


def settle_review(
    session: Session, score_id: str, review_id: int, action: str, note: str, key_id: str
) -> ReviewOut | None:
    """Four eyes: a second analyst confirms or rejects a pending override, as the API does; a rejection says why."""
    note = note.strip()
    if action == "reject" and not note:
        raise ReviewRejected("reject_note_required")
    try:
        return reviews.settle(
            session,
            score_id,
            review_id,
            ConfirmIn(note=note or None),
            key_id,
            confirm=action == "confirm",
        )
    except reviews.SameAnalyst as exc:
        raise ReviewRejected("same_analyst") from exc
    except (ValidationError, reviews.NotPending) as exc:
        raise _invalid(exc) from exc


def record_visit(
    session: Session,
    followup_id: int,
    outcome: str,
    note: str,
    rescore: bool,
    key_id: str,
    cfg: dict,
    scorer,
    champions: ChampionStore,
) -> VisitOut | None:
    """A follow-up visit recorded as ``POST /v1/followups/{id}`` records it (re-scoring when asked or of concern)."""
    note = note.strip()
    if not outcome:
        raise ReviewRejected("visit_outcome_required")
    if not note:
        raise ReviewRejected("visit_note_required")
    try:
        return followups.visit(
            session,
            followup_id,
            VisitIn(note=note, outcome=outcome, rescore=rescore),
            key_id,
            cfg,
            scorer,
            champions,
        )
    except (ValidationError, followups.UnknownOutcome, followups.AlreadyVisited) as exc:
        raise _invalid(exc) from exc


def case_of(session: Session, score_id: str) -> str | None:
    decision = session.get(Decision, score_id)
    return None if decision is None else decision.case_id


def submit_dispute(
    session: Session, record: str, reason: str, note: str, key_id: str
) -> RecordDisputeOut:
    """Register a dispute of ``record`` (``<table>/<record id>``, as the form names it) as
    ``POST /v1/records/{table}/{record_id}/disputes`` does."""
    table, _, record_id = record.partition("/")
    if table not in DISPUTABLE_TABLES or not record_id:
        raise ReviewRejected("dispute_record_required")
    if not reason:
        raise ReviewRejected("dispute_reason_required")
    if not note.strip():
        raise ReviewRejected("dispute_note_required")
    try:
        return record_disputes.register(
            session, table, record_id, DisputeIn(reason=reason, note=note.strip()), key_id
        )
    except record_disputes.AlreadyDisputed as exc:
        raise ReviewRejected("dispute_exists") from exc
    except (ValidationError, record_disputes.UnknownRecord) as exc:
        raise ReviewRejected("dispute_invalid") from exc


def decide_dispute(
    session: Session, dispute_id: int, status: str, note: str, key_id: str, scorer, champions
) -> DisputeDecided | None:
    """Decide a dispute as ``POST /v1/disputes/{id}/decision`` does: found wrong, the open cases of
    its households are re-scored without the record."""
    try:
        body = DisputeDecisionIn(status=status, note=note.strip() or None)
        return record_disputes.decide_and_rescore(
            session, dispute_id, body, key_id, scorer=scorer, champions=champions
        )
    except record_disputes.NotOpen as exc:
        raise ReviewRejected("dispute_decided") from exc
    except ValidationError as exc:
        raise ReviewRejected("dispute_invalid") from exc


#: Where a training run's metric came from, as it prefixes the metric's name (the model's own has no prefix).
METRIC_SOURCES = ("model_where_rule", "served", "rule", "checklist", "oracle")
#: Metrics that count rows rather than measure them.
COUNTS = ("rows", "positives")


@dataclass(frozen=True)
class MetricRow:
    metric: str
    values: dict[str, str]  # by source, formatted
    folds: str | None  # the model's lowest–highest over the backtest periods


@dataclass(frozen=True)
class MetricTable:
    sources: list[str]
    rows: list[MetricRow]


def _figure(metric: str, value: float) -> str:
    return f"{int(round(value)):,}" if metric in COUNTS else f"{value:.3f}"


def _metric_order(metric: str) -> int:
    known = list(VOCABULARY["metric"])
    return known.index(metric) if metric in known else len(known)


def metric_table(role: str, metrics: dict[str, float]) -> MetricTable:
    """A champion's run metrics (``<role>[_backtest][_<source>]_<metric>[_<stat>]``) as one row per metric and
    one column per source, with the model's range over the backtest periods beside them."""
    pooled: dict[str, dict[str, float]] = {}
    folds: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        rest = key.removeprefix(f"{role}_")
        backtest = rest.startswith("backtest_")
        rest = rest.removeprefix("backtest_")
        source = next((s for s in METRIC_SOURCES if rest.startswith(f"{s}_")), "model")
        rest = rest.removeprefix(f"{source}_") if source != "model" else rest
        if not backtest:
            pooled.setdefault(rest, {})[source] = value
        elif source == "model":
            metric, _, stat = rest.rpartition("_")
            folds.setdefault(metric, {})[stat] = value
    sources = ["model"] + [
        s for s in reversed(METRIC_SOURCES) if any(s in v for v in pooled.values())
    ]
    rows = [
        MetricRow(
            metric,
            {s: _figure(metric, v) for s, v in values.items()},
            f"{_figure(metric, folds[metric]['min'])} – {_figure(metric, folds[metric]['max'])}"
            if {"min", "max"} <= folds.get(metric, {}).keys()
            else None,
        )
        for metric, values in sorted(pooled.items(), key=lambda item: _metric_order(item[0]))
    ]
    return MetricTable(sources=sources, rows=rows)


def monitoring_overview(settings) -> dict:
    """The latest `triage monitor` status and the champion's fairness table, or why they are missing."""
    from triage.monitoring import latest_fairness_table, latest_monitoring_summary

    try:
        return {
            "summary": latest_monitoring_summary(settings),
            "fairness": latest_fairness_table(settings) or [],
            "error": None,
        }
    except Exception as exc:  # MLflow unreachable: the page still shows the models
        return {"summary": None, "fairness": [], "error": f"{type(exc).__name__}: {exc}"}


def overrides_view(session: Session, settings) -> override_analytics.OverrideSummary:
    """The overrides page: what ``GET /v1/overrides/summary`` answers, now."""
    return override_analytics.override_summary(
        session,
        settings.domain.override_analytics,
        settings.horizon_days,
    )


@dataclass(frozen=True)
class ShadowView:
    """The challenger page: the challenger loaded (None without one), its report and the gates."""

    challenger: dict[str, str] | None
    report: shadow.ShadowReport
    refused_because: list[str]


def shadow_view(session: Session, settings, champions) -> ShadowView:
    """What ``GET /v1/shadow`` answers, now, for the challenger this worker has loaded."""
    gate = settings.domain.challenger
    versions = champions.challenger.versions if champions.challenger else None
    report = shadow.shadow_report(session, gate, settings.horizon_days, challenger=versions)
    return ShadowView(versions, report, shadow.gate_failures(report, gate))
