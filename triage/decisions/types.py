"""What the domain takes and gives: a case to score, its score, reviews, the queue, visits, timelines.

Pydantic models, so that the HTTP API (docs/interfaces.md) can take and return them as they are and
document them in OpenAPI.  Inputs follow the rules of docs/data-format.md for a case:
ids of at most 64 characters without surrounding whitespace, a timestamp without an offset read
as Asia/Shanghai, enum codes as listed.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from triage.contract import (
    CASE_SOURCES,
    DISPUTE_TYPES,
    FIRST_YEAR,
    LAST_YEAR,
    LOCAL_ZONE,
    MAX_ID_LENGTH,
    MAX_TEXT_LENGTH,
    Band,
    Tier,
)
from triage.db.service_models import DISPUTABLE_TABLES
from triage.routing import Priority, Route


def aware(value: datetime) -> datetime:
    """A timestamp with its offset; without one it means Asia/Shanghai (docs/data-format.md)."""
    return value.replace(tzinfo=LOCAL_ZONE) if value.tzinfo is None else value


def scorable(value: datetime) -> datetime:
    """A moment features can be computed at: pandas' nanosecond timestamps end in 1677 and 2262."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is outside {FIRST_YEAR}..{LAST_YEAR}")
    return value


Id = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^\S(.*\S)?$")
]
ScoringMoment = Annotated[
    datetime,
    AfterValidator(aware),
    AfterValidator(scorable),
    Field(description="ISO 8601, years 1900..2200; without an offset it means Asia/Shanghai"),
]
DisputeType = Literal[DISPUTE_TYPES]  # type: ignore[valid-type]


class Incoming(BaseModel):
    """A body sent in: a field the model does not know is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class CaseIn(Incoming):
    """The case being scored, in the columns of the exchange table ``cases`` known at intake."""

    case_id: Id
    opened_at: ScoringMoment
    household_id: Id
    counterparty_household_id: Id | None = None
    dispute_type: DisputeType
    source: Literal[CASE_SOURCES]  # type: ignore[valid-type]
    amount_cny: Annotated[float, Field(ge=0, le=1e15)] | None = None
    parties_count: Annotated[int, Field(ge=2, le=10000)]
    description: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "CaseIn":
        if (
            self.counterparty_household_id is not None
            and self.counterparty_household_id == self.household_id
        ):
            raise ValueError("counterparty_household_id must differ from household_id")
        if self.amount_cny is not None and not math.isfinite(self.amount_cny):
            raise ValueError("amount_cny must be a finite number")
        return self


class ScoreRequest(Incoming):
    case: CaseIn
    as_of: ScoringMoment | None = Field(
        None, description="the moment history is read up to (default: now)"
    )
    persons: Annotated[
        list[Id], Field(max_length=100, description="persons to give a 绿黄红 tier")
    ] = []

    @model_validator(mode="after")
    def _after_opening(self) -> "ScoreRequest":
        if self.as_of is not None and self.as_of < self.case.opened_at:
            raise ValueError("as_of is before the case was opened")
        if len(set(self.persons)) != len(self.persons):
            raise ValueError("persons are listed more than once")
        return self


class Factor(BaseModel):
    feature: str
    label: str = Field(description="the feature's Chinese label")
    label_zh: str
    label_en: str
    value: float | str | bool | None = Field(
        description="the feature's value; null when unknown (未知) or withheld"
    )
    contribution: float = Field(description="SHAP value in log-odds (margin) space")
    withheld: bool = Field(
        False,
        description="the value is not shown to this key's role (a scorer key does not "
        "read police, screening or person-register values back), or was removed past its "
        "retention period (raw_values_removed_at)",
    )


class Escalation(BaseModel):
    probability: float = Field(
        description="calibrated probability of 民转刑 escalation within the horizon; calibration is fitted "
        "after the trees, so it need not equal sigmoid(margin)"
    )
    band: Band
    base_value: float = Field(description="the model's expected margin (log-odds)")
    margin: float = Field(
        description="base_value + the sum of all contributions (uncalibrated log-odds)"
    )
    interval: tuple[float, float] | None = Field(
        None,
        description="the Venn-ABERS interval [p0, p1] of the probability, learnt on held-out later "
        "cases: wide where few such cases pin it down (null for a model trained without one)",
    )
    factors: list[Factor] = Field(
        description="largest contributions by absolute value (?top=N, default 8; "
        "?top=all for every feature)"
    )


class PersonScore(BaseModel):
    person_id: str
    tier: Tier
    tier_source: Literal["rule", "model"] = Field(
        description="'rule' when a screening no older than 90 days decides the tier, else 'model'"
    )
    probabilities: dict[str, float] = Field(description="the tier model's class probabilities")
    tier_set: list[Tier] | None = Field(
        None,
        description="the tiers a conformal predictor cannot rule out at the configured confidence "
        "(90 %: the set holds the counsellor's tier nine times in ten); null for 'rule'",
    )
    factors: list[Factor] = Field(
        description="contributions towards the model's tier (empty for 'rule')"
    )


class ScoreResponse(BaseModel):
    score_id: str
    case_id: str
    as_of: datetime
    escalation: Escalation
    persons: list[PersonScore]
    route: Route
    models: dict[str, str] = Field(
        description="registered model versions used, e.g. triage-escalation/3"
    )
    warnings: list[str]
    needs_judgement: bool = Field(
        False,
        description="the model cannot tell: the probability's interval reaches another band, or "
        "a person's tier set holds more than one tier",
    )


Note = Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]


class ReviewIn(Incoming):
    verdict: Literal["agree", "override"]
    teams: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        None,
        max_length=20,
        description="the route's teams as the analyst decides them (override only)",
    )
    priority: Priority | None = Field(
        None,
        description="the priority as the analyst decides it (override only; default: the route's)",
    )
    note: Note | None = Field(None, description="why; required for an override")

    @model_validator(mode="after")
    def _teams_for_override(self) -> "ReviewIn":
        if self.verdict == "override" and not self.teams:
            raise ValueError("an override names the teams")
        if self.verdict == "override" and not (self.note or "").strip():
            raise ValueError("an override needs a note saying why")
        if self.verdict == "agree" and (self.teams or self.priority):
            raise ValueError("an agreement keeps the route; send verdict 'override' to change it")
        return self


class ReviewOut(BaseModel):
    id: int
    score_id: str
    verdict: str
    teams: list[str]
    priority: str | None = Field(
        None, description="the priority an override sets (null: the route's)"
    )
    note: str | None
    reviewer_key_id: str
    created_at: datetime
    status: Literal["final", "pending", "confirmed", "rejected"] = Field(
        "final",
        description="'pending': the override drops a team or priority a safeguard rule requires and "
        "waits for a second analyst, who 'confirmed' or 'rejected' it; else 'final'",
    )
    confirmed_by_key_id: str | None = None
    confirmed_at: datetime | None = None
    confirm_note: str | None = None


class ConfirmIn(Incoming):
    note: Note | None = Field(None, description="the second analyst's note (required to reject)")


class EffectiveRoute(BaseModel):
    """The route staff act on: the model's, or the latest final or confirmed override."""

    teams: list[str]
    priority: str
    source: Literal["route", "review"]
    review_id: int | None = None


class DecisionHistory(BaseModel):
    """Why a decision was made and how it differs from the one before (re-scores)."""

    trigger: str = Field(
        "request",
        description="'request' (a score call), 'event:<table>' (new data arrived "
        "for the household), 'followup' (a follow-up visit) or 'record_found_wrong' (a record "
        "of the household was found wrong)",
    )
    previous_score_id: str | None = Field(None, description="the decision this one re-scores")
    band_rise: bool = Field(False, description="the band is higher than the previous decision's")
    changes: list[str] = Field(
        [], description="what changed since the previous decision, one line each"
    )


class StoredScore(ScoreResponse, DecisionHistory):
    created_at: datetime
    raw_values_removed_at: datetime | None = Field(
        None,
        description="when the decision's raw sensitive values (police, screening, assessment and "
        "person-register values, the case description) were removed past their retention period; "
        "route, reasons, bands and contributions are kept (null while the values are kept)",
    )
    request: dict[str, Any]
    reviews: list[ReviewOut]
    effective_route: EffectiveRoute | None = None
    pending_review: bool = Field(False, description="an override waits for a second analyst")


class QueueItem(BaseModel):
    score_id: str
    case_id: str
    household_id: str
    dispute_type: str
    as_of: datetime
    created_at: datetime
    probability: float
    band: Band
    priority: str
    teams: list[str]
    reviewed: bool
    latest_verdict: str | None
    trigger: str = "request"
    previous_score_id: str | None = None
    band_rise: bool = Field(
        False, description="re-scored into a higher band than the case's previous decision"
    )
    changes: list[str] = Field([], description="what changed since the previous decision")
    superseded: bool = Field(False, description="a later decision exists for the same case")
    effective_teams: list[str] = Field(
        [], description="the teams staff act on (the route, or a final override)"
    )
    pending_review: bool = Field(
        False, description="an override waits for a second analyst (four eyes)"
    )
    needs_judgement: bool = Field(False, description="see ScoreResponse.needs_judgement")
    missed_followups: int = Field(
        0, description="follow-up visits of the case past due and not done"
    )


class QueuePage(BaseModel):
    items: list[QueueItem]
    total: int
    limit: int
    offset: int


class QuarantinedRow(BaseModel):
    row: int = Field(description="0-based position of the row in the request")
    key: str | None = Field(description="the row's id, when it has one")
    rule: str = Field(
        description="the first contract rule the row broke (see RULES in triage.contract)"
    )
    detail: str


class Rescored(BaseModel):
    """An open case re-scored because something new arrived (or a follow-up visit asked for it)."""

    case_id: str
    score_id: str
    previous_score_id: str
    as_of: datetime
    band: Band
    previous_band: Band
    band_rise: bool
    changes: list[str]


class IngestResult(BaseModel):
    table: str
    received: int
    stored: dict[str, int] = Field(description="inserted / updated / unchanged rows")
    quarantined: list[QuarantinedRow]
    rescored: list[Rescored] = Field(
        [],
        description="open cases of the households concerned, re-scored as of "
        "the new rows (calls, incidents, failed mediations, screenings)",
    )
    rescoring_skipped: str | None = Field(
        None, description="why open cases were not re-scored, when they were not"
    )
    followups_planned: int = Field(
        0, description="follow-up visits planned for cases the rows show mediated"
    )


class FollowupOut(BaseModel):
    id: int
    case_id: str
    household_id: str
    score_id: str | None = Field(description="the decision in force when the visits were planned")
    kind: str = Field(description="the interval, e.g. '7d'")
    due_at: datetime
    state: Literal["upcoming", "due", "missed", "done"] = Field(
        description="'due' from due_at for `followups.grace_days`, then 'missed' until done"
    )
    done_at: datetime | None
    outcome: str | None
    note: str | None
    visitor_key_id: str | None
    rescore_score_id: str | None = Field(description="the decision the visit's re-score made")
    created_at: datetime


class FollowupPage(BaseModel):
    items: list[FollowupOut]
    total: int
    limit: int
    offset: int


class VisitIn(Incoming):
    note: Note = Field(min_length=1, description="what the visit found")
    outcome: Annotated[str, StringConstraints(max_length=32)] = Field(
        description="one of domain.yaml `followups.outcomes` (e.g. stable, concern, unreachable)"
    )
    rescore: bool = Field(
        False, description="re-score the case as of the visit (always for outcomes of concern)"
    )
    visited_at: ScoringMoment | None = Field(
        None, description="when the visit took place (default: now)"
    )


class VisitOut(FollowupOut):
    rescored: Rescored | None = None


DisputableTable = Literal[DISPUTABLE_TABLES]  # type: ignore[valid-type]
DisputeReason = Literal["wrong_household", "wrong_person", "not_this_family", "duplicate", "other"]


class DisputeIn(Incoming):
    reason: DisputeReason = Field(description="why the record is thought wrong, as a code")
    note: Annotated[Note, Field(min_length=1)] = Field(
        description="who raised it and what they said; free text kept for analysts only"
    )

    @model_validator(mode="after")
    def _said(self) -> "DisputeIn":
        if not self.note.strip():
            raise ValueError("a dispute needs a note saying who raised it and why")
        return self


class DisputeDecisionIn(Incoming):
    status: Literal["found_wrong", "upheld"] = Field(
        description="'found_wrong': scores leave the record out from now on; 'upheld': it stands"
    )
    note: Note | None = Field(None, description="how it was checked")


class RecordDisputeOut(BaseModel):
    id: int
    table: DisputableTable
    record_id: str
    households: list[str] = Field(description="the households the record concerns")
    status: Literal["disputed", "found_wrong", "upheld"]
    reason: DisputeReason
    note: str
    registered_by_key_id: str
    registered_at: datetime
    decided_by_key_id: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None


class DisputeDecided(RecordDisputeOut):
    rescored: list[Rescored] = Field(
        [], description="open cases of the households concerned, re-scored without the record"
    )
    rescoring_skipped: str | None = Field(
        None, description="why open cases were not re-scored yet, when they were not"
    )


class DisputePage(BaseModel):
    items: list[RecordDisputeOut]
    total: int
    limit: int
    offset: int


class TimelineDecision(DecisionHistory):
    score_id: str
    as_of: datetime
    probability: float
    band: Band
    priority: str
    teams: list[str]
    rules: list[str]
    warnings: list[str]
    models: dict[str, str]


class TimelineEntry(BaseModel):
    at: datetime = Field(
        description="when it happened: decided, reviewed (or confirmed), visit due or done, "
        "record disputed or its dispute decided"
    )
    type: Literal["decision", "review", "followup", "record_dispute"]
    decision: TimelineDecision | None = None
    review: ReviewOut | None = None
    followup: FollowupOut | None = None
    record_dispute: RecordDisputeOut | None = Field(
        None, description="a record of the case's households disputed, found wrong or upheld"
    )


class Timeline(BaseModel):
    case_id: str
    entries: list[TimelineEntry] = Field(description="oldest first")
