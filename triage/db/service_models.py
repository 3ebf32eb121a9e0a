"""Tables the scoring service writes: decisions, the challenger's shadow scores, reviews, visits,
disputed records, keys, audit.

A decision row is the whole record of one score (request, scores, feature values and
contributions, route, model versions) so that an analyst or an auditor can see later exactly
what staff were told and why; its labels come back from ``model_feature_lists``.  None of these
tables holds PII: requests carry pseudonymous ids, and feature values are built without the PII
columns.  ``teams`` is also kept as ``;a;b;`` text so that the queue can
filter by team with a plain parameterised ``LIKE`` on SQLite and PostgreSQL alike.

A case keeps every decision ever made on it: a re-score (new event, follow-up visit) is a
new row pointing at the one it re-scores, so the history is a timeline, never overwritten.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from triage.contract import TABLE_ORDER
from triage.db.base import Base
from triage.db.types import Code, Id, PackedJSON, UtcDateTime


class ApiKey(Base):
    """An API key: the public ``id`` is part of the key, the secret is kept only as an argon2 hash."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(Code)
    hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Decision(Base):
    """One stored score, written in the transaction that precedes the response."""

    __tablename__ = "decisions"

    score_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(Id, index=True)
    household_id: Mapped[str] = mapped_column(Id, index=True)
    dispute_type: Mapped[str] = mapped_column(Code)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    probability: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(Code)
    priority: Mapped[str] = mapped_column(Code)
    teams: Mapped[str] = mapped_column(Text, doc="';'-wrapped team codes, e.g. ';police_station;'")
    escalation_version: Mapped[str] = mapped_column(String(200))
    tier_version: Mapped[str] = mapped_column(String(200))
    request: Mapped[dict] = mapped_column(JSON)
    response: Mapped[dict] = mapped_column(
        PackedJSON, doc="the compact record of triage.decisions.scored.ScoredCase.record"
    )
    respond_within_hours: Mapped[float | None] = mapped_column(
        Float,
        nullable=True,
        doc="the route's deadline, apart from the packed record for the capacity query (added by 0011,"
        " which fills it from each record)",
    )
    raw_values_removed_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, nullable=True, doc="when retention removed the raw sensitive values"
    )
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    trigger: Mapped[str] = mapped_column(
        String(64),
        default="request",
        server_default="request",
        doc="why it was scored: 'request' (a score call), 'event:<table>' (new data), 'followup' (a visit)",
    )
    previous_score_id: Mapped[str | None] = mapped_column(
        String(36),
        nullable=True,
        index=True,
        doc="the decision this one re-scores (no FK: see 0003)",
    )
    band_rise: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        doc="the band is higher than the previous decision's",
    )
    changes: Mapped[list] = mapped_column(
        JSON,
        default=list,
        server_default="[]",
        doc="what changed since the previous decision, one short line each",
    )

    reviews: Mapped[list["Review"]] = relationship(
        back_populates="decision", order_by="Review.created_at", lazy="selectin"
    )

    __table_args__ = (
        Index("ix_decisions_probability", "probability"),
        # the queue's filters, counted from the index alone at a year of decisions (0008)
        Index("ix_decisions_band", "band"),
        Index("ix_decisions_dispute_type_probability", "dispute_type", "probability"),
        Index("ix_decisions_teams", "teams"),
    )


class ShadowScore(Base):
    """What the challenger would have answered for a stored decision: kept apart, never routed on.

    ``escalation_version`` and ``tier_version`` are the versions used, the challenger's where it
    has one and the champion's otherwise; ``tiers`` maps each named person's pseudonymous id to
    the tier it would have had.
    """

    __tablename__ = "shadow_scores"

    score_id: Mapped[str] = mapped_column(ForeignKey("decisions.score_id"), primary_key=True)
    escalation_version: Mapped[str] = mapped_column(String(200))
    tier_version: Mapped[str] = mapped_column(String(200))
    probability: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(Code)
    priority: Mapped[str] = mapped_column(Code)
    teams: Mapped[str] = mapped_column(Text, doc="';'-wrapped team codes, as in decisions")
    tiers: Mapped[dict] = mapped_column(JSON)


class ModelFeatureList(Base):
    """A model version's feature names in its order: a decision stores its values and contributions
    in this order, and its explanation gets names and labels back from here."""

    __tablename__ = "model_feature_lists"

    version: Mapped[str] = mapped_column(String(200), primary_key=True)
    names: Mapped[list] = mapped_column(JSON)


class Review(Base):
    """An analyst's verdict on a decision's route: ``agree`` or ``override`` with the teams chosen.

    ``status`` is ``final`` for a verdict that takes effect at once, ``pending`` for an override
    that drops a team a routing rule required (it waits for a second analyst), then
    ``confirmed`` or ``rejected`` by that analyst.
    """

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[str] = mapped_column(ForeignKey("decisions.score_id"), index=True)
    verdict: Mapped[str] = mapped_column(Code)
    teams: Mapped[list] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewer_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(Code, default="final", server_default="final")
    confirmed_by_key_id: Mapped[str | None] = mapped_column(
        String(32), nullable=True, doc="the second analyst's key (no FK: see 0003)"
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    confirm_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    priority: Mapped[str | None] = mapped_column(
        Code, nullable=True, doc="the priority an override sets"
    )

    decision: Mapped[Decision] = relationship(back_populates="reviews")


class Followup(Base):
    """A follow-up visit (回访) due on a mediated case, and what the visit found."""

    __tablename__ = "followups"
    __table_args__ = (Index("ix_followups_case_id_kind", "case_id", "kind", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(Id)
    household_id: Mapped[str] = mapped_column(Id, index=True)
    score_id: Mapped[str | None] = mapped_column(
        ForeignKey("decisions.score_id"),
        nullable=True,
        doc="the decision in force when the visits were planned",
    )
    kind: Mapped[str] = mapped_column(Code, doc="the interval, e.g. '7d'")
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str | None] = mapped_column(Code, nullable=True)
    visitor_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    rescore_score_id: Mapped[str | None] = mapped_column(
        ForeignKey("decisions.score_id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditEntry(Base):
    """Who did what and when: reviews, overrides, ingests, reloads, key creation and revocation."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class IdempotentRequest(Base):
    """A score call made with an ``Idempotency-Key``: its body's digest and the decisions it stored.

    Keys are scoped to the API key that sent them, so one client cannot read another's decisions
    by guessing its idempotency keys.
    """

    __tablename__ = "idempotent_requests"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    score_ids: Mapped[list] = mapped_column(
        JSON, doc="the decisions stored, in the order of the request"
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WorkbenchSession(Base):
    """A workbench sign-in: the cookie names it, and signing out ends it here, so a copied cookie dies too."""

    __tablename__ = "workbench_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PendingRescore(Base):
    """A re-score owed to an open case: the outbox of new rows (docs/reliability.md, "The outbox").

    Written in the transaction that stores the rows calling for it (and the ingest's audit entry), and
    deleted in the transaction that stores the new decision, so that a crash in between loses nothing
    and repeats nothing.  One row per case: news arriving while the case waits is merged into its row.
    """

    __tablename__ = "pending_rescores"

    case_id: Mapped[str] = mapped_column(Id, primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(
        UtcDateTime, index=True, doc="when queued, or when news last merged into it"
    )
    as_of: Mapped[datetime] = mapped_column(UtcDateTime, doc="the latest new row's time")
    trigger: Mapped[str] = mapped_column(String(64), doc="'event:<table>' of the latest new row")
    changes: Mapped[list] = mapped_column(
        JSON, doc="what is new, one short line per row (never free text)"
    )
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id"), nullable=True, doc="the key whose ingest queued it"
    )


#: The exchange tables whose rows feed features and may be disputed (households and persons are
#: registers, corrected at their source).
DISPUTABLE_TABLES = tuple(t for t in TABLE_ORDER if t not in ("households", "persons"))
#: What happens to a dispute: registered, then decided one way or the other.
DISPUTE_STATUSES = ("disputed", "found_wrong", "upheld")


class RecordDispute(Base):
    """A caseworker's word that an exchange row is wrong, and what an analyst decided about it.

    The row itself is never changed or deleted: a row ``found_wrong`` is left out of every history
    the service scores from (``triage.db.history.read_history``).  At most one dispute per row is
    open or found wrong at a time (the partial unique index); an ``upheld`` one may be followed by
    another.  ``note`` and ``decision_note`` are free text that may name people: they are kept here
    for analysts and go into no log, audit entry or ``changes`` line.
    """

    __tablename__ = "record_disputes"
    __table_args__ = (
        Index(
            "ix_record_disputes_live_record",
            "table_name",
            "record_id",
            unique=True,
            sqlite_where=text("status != 'upheld'"),
            postgresql_where=text("status != 'upheld'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(32), doc="the exchange table, e.g. 'incidents'")
    record_id: Mapped[str] = mapped_column(Id, doc="the row's key in that table")
    households: Mapped[str] = mapped_column(
        Text, doc="';'-wrapped households the row concerns, e.g. ';H-1;H-2;'"
    )
    status: Mapped[str] = mapped_column(Code, doc="'disputed', then 'found_wrong' or 'upheld'")
    reason: Mapped[str] = mapped_column(Code)
    note: Mapped[str] = mapped_column(Text)
    registered_by_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
