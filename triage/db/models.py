"""The eight exchange tables of docs/data-format.md as SQLAlchemy models.

Columns, order, nullability and references mirror :data:`triage.contract.TABLES` one to one
(``tests/db/test_schema.py`` holds them to it).  Foreign keys follow every contract reference:
:data:`~triage.contract.TABLE_ORDER` loads referenced tables first and the validator
quarantines rows with unknown ids, so the keys never reject a validated load; they are the
database's own guard against a writer that skips validation.  Indexes serve the history
look-ups of the scoring service: by household + time, person + time and case.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Double, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from triage.db.base import Base
from triage.db.types import Code, FreeText, Id, UtcDateTime


class Household(Base):
    """户: one registered household."""

    __tablename__ = "households"

    household_id: Mapped[str] = mapped_column(Id, primary_key=True)
    district: Mapped[str] = mapped_column(FreeText)
    street: Mapped[str] = mapped_column(FreeText)
    grid_id: Mapped[str] = mapped_column(Id)
    area_type: Mapped[str] = mapped_column(Code)
    size: Mapped[int] = mapped_column(Integer)
    low_income: Mapped[bool] = mapped_column(Boolean)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Person(Base):
    """人员: the only table that holds PII (name, id_number, phone)."""

    __tablename__ = "persons"

    person_id: Mapped[str] = mapped_column(Id, primary_key=True)
    household_id: Mapped[str] = mapped_column(Id, ForeignKey("households.household_id"), index=True)
    sex: Mapped[str] = mapped_column(Code)
    birth_year: Mapped[int] = mapped_column(Integer)
    employment: Mapped[str | None] = mapped_column(Code)
    returned_migrant: Mapped[bool | None] = mapped_column(Boolean)
    alcohol_problem: Mapped[bool | None] = mapped_column(Boolean)
    prior_conviction: Mapped[bool | None] = mapped_column(Boolean)
    mental_health_registry: Mapped[bool | None] = mapped_column(Boolean)
    ethnicity: Mapped[str | None] = mapped_column(Code)
    name: Mapped[str | None] = mapped_column(FreeText)
    id_number: Mapped[str | None] = mapped_column(FreeText)
    phone: Mapped[str | None] = mapped_column(FreeText)


class HotlineCall(Base):
    """热线与网格上报: a hotline call or grid-worker report."""

    __tablename__ = "hotline_calls"
    __table_args__ = (
        Index("ix_hotline_calls_household_id_received_at", "household_id", "received_at"),
        Index("ix_hotline_calls_person_id_received_at", "person_id", "received_at"),
    )

    call_id: Mapped[str] = mapped_column(Id, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    channel: Mapped[str] = mapped_column(Code)
    household_id: Mapped[str | None] = mapped_column(Id, ForeignKey("households.household_id"))
    person_id: Mapped[str | None] = mapped_column(Id, ForeignKey("persons.person_id"))
    category: Mapped[str] = mapped_column(Code)
    text: Mapped[str | None] = mapped_column(FreeText)


class Case(Base):
    """矛盾纠纷案件: a dispute case; status and closed_at are as of the export, never features."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_household_id_opened_at", "household_id", "opened_at"),
        Index(
            "ix_cases_counterparty_household_id_opened_at", "counterparty_household_id", "opened_at"
        ),
    )

    case_id: Mapped[str] = mapped_column(Id, primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    household_id: Mapped[str] = mapped_column(Id, ForeignKey("households.household_id"))
    counterparty_household_id: Mapped[str | None] = mapped_column(
        Id, ForeignKey("households.household_id")
    )
    dispute_type: Mapped[str] = mapped_column(Code)
    source: Mapped[str] = mapped_column(Code)
    amount_cny: Mapped[float | None] = mapped_column(Double)
    parties_count: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(FreeText)
    status: Mapped[str] = mapped_column(Code)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MediationEvent(Base):
    """调解记录: one mediation session of a case."""

    __tablename__ = "mediation_events"
    __table_args__ = (Index("ix_mediation_events_case_id_at", "case_id", "at"),)

    event_id: Mapped[str] = mapped_column(Id, primary_key=True)
    case_id: Mapped[str] = mapped_column(Id, ForeignKey("cases.case_id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    level: Mapped[str] = mapped_column(Code)
    outcome: Mapped[str] = mapped_column(Code)
    note: Mapped[str | None] = mapped_column(FreeText)


class Screening(Base):
    """心理测评: a PHQ-9 or GAD-7 screening."""

    __tablename__ = "screenings"
    __table_args__ = (Index("ix_screenings_person_id_at", "person_id", "at"),)

    screening_id: Mapped[str] = mapped_column(Id, primary_key=True)
    person_id: Mapped[str] = mapped_column(Id, ForeignKey("persons.person_id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    instrument: Mapped[str] = mapped_column(Code)
    score: Mapped[int] = mapped_column(Integer)
    item9: Mapped[int | None] = mapped_column(Integer)


class PsychAssessment(Base):
    """专业评估: a counsellor's 绿黄红 tier."""

    __tablename__ = "psych_assessments"
    __table_args__ = (Index("ix_psych_assessments_person_id_at", "person_id", "at"),)

    assessment_id: Mapped[str] = mapped_column(Id, primary_key=True)
    person_id: Mapped[str] = mapped_column(Id, ForeignKey("persons.person_id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    tier: Mapped[str] = mapped_column(Code)


class Incident(Base):
    """刑事警情: a police record, possibly linked to a dispute case."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_household_id_occurred_at", "household_id", "occurred_at"),
        Index("ix_incidents_person_id_occurred_at", "person_id", "occurred_at"),
    )

    incident_id: Mapped[str] = mapped_column(Id, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    household_id: Mapped[str] = mapped_column(Id, ForeignKey("households.household_id"))
    person_id: Mapped[str | None] = mapped_column(Id, ForeignKey("persons.person_id"))
    offence: Mapped[str] = mapped_column(Code)
    case_id: Mapped[str | None] = mapped_column(Id, ForeignKey("cases.case_id"), index=True)


#: The model of each exchange table, in load order.
EXCHANGE_MODELS: dict[str, type[Base]] = {
    model.__tablename__: model
    for model in (
        Household,
        Person,
        HotlineCall,
        Case,
        MediationEvent,
        Screening,
        PsychAssessment,
        Incident,
    )
}
