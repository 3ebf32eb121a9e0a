"""Records people can contest: a caseworker disputes an exchange row, an analyst decides on it.

A police record linked to the wrong household, a call about another family: the person concerned
or a caseworker says so, and the dispute is registered with who and why (a reason code and a
note).  The row is never changed or deleted.  Once an analyst finds it wrong, the histories the
service scores from leave it out (``triage.db.history.read_history``), and every open case of the
households it concerns that was scored with it in view is queued for a re-score in the same
transaction, through the outbox of new rows (:mod:`triage.decisions.outbox`), with a ``changes``
line naming the record.  Notes are free text that may name people: they stay in
``record_disputes`` and never reach a log, an audit entry or a ``changes`` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import get_args

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triage.contract import TABLES
from triage.db.models import EXCHANGE_MODELS
from triage.db.service_models import RecordDispute
from triage.decisions.audit import record
from triage.decisions.outbox import drain_queued, queue
from triage.decisions.rescoring import Target, latest_decisions, open_at
from triage.decisions.types import (
    DisputeDecided,
    DisputeDecisionIn,
    DisputeIn,
    DisputePage,
    DisputeReason,
    RecordDisputeOut,
)

REASONS: tuple[str, ...] = get_args(DisputeReason)
#: The trigger of a re-score caused by a record found wrong.
TRIGGER = "record_found_wrong"
#: Each table's rows as a ``changes`` line names them (no codes with underscores, no values).
_KIND = {
    "hotline_calls": "call",
    "cases": "case",
    "mediation_events": "mediation",
    "screenings": "screening",
    "psych_assessments": "assessment",
    "incidents": "police incident",
}


class UnknownRecord(LookupError):
    """No row of the table has that key."""


class AlreadyDisputed(ValueError):
    """A record has one dispute at a time that is open or found wrong."""


class NotOpen(ValueError):
    """A dispute is decided once."""


@dataclass(frozen=True)
class _Record:
    households: list[str]
    at: datetime | None  # the row's own time (None for a row without one)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _household_of(session: Session, table: str, key: str, value: str | None) -> list[str]:
    """The households of the row of ``table`` keyed ``value`` (persons: theirs; cases: both)."""
    if value is None:
        return []
    c = EXCHANGE_MODELS[table].__table__.c
    if table == "persons":
        return [h for h in session.execute(select(c.household_id).where(c[key] == value)).scalars()]
    row = session.execute(
        select(c.household_id, c.counterparty_household_id).where(c[key] == value)
    ).first()
    return [h for h in row if h] if row else []


def _record(session: Session, table: str, record_id: str) -> _Record | None:
    """The households the row concerns, as re-scoring reads them, and its time; None when unknown."""
    spec = TABLES[table]
    c = EXCHANGE_MODELS[table].__table__.c
    wanted = ("household_id", "counterparty_household_id", "person_id", "case_id")
    present = [c[name] for name in wanted if name in c]
    row = session.execute(
        select(c[spec.time_column], *present).where(c[spec.key] == record_id)
    ).first()
    if row is None:
        return None
    values = dict(zip([column.name for column in present], row[1:]))
    households = [values[n] for n in ("household_id", "counterparty_household_id") if values.get(n)]
    if not households and table == "mediation_events":
        households = _household_of(session, "cases", "case_id", values["case_id"])
    if not households and "person_id" in values:
        households = _household_of(session, "persons", "person_id", values["person_id"])
    return _Record(sorted(set(households)), _utc(row[0]))


def _wrapped(households: list[str]) -> str:
    return ";" + "".join(f"{h};" for h in households)


def dispute_out(dispute: RecordDispute) -> RecordDisputeOut:
    return RecordDisputeOut(
        id=dispute.id,
        table=dispute.table_name,
        record_id=dispute.record_id,
        households=[h for h in dispute.households.split(";") if h],
        status=dispute.status,
        reason=dispute.reason,
        note=dispute.note,
        registered_by_key_id=dispute.registered_by_key_id,
        registered_at=dispute.registered_at,
        decided_by_key_id=dispute.decided_by_key_id,
        decided_at=dispute.decided_at,
        decision_note=dispute.decision_note,
    )


def register(
    session: Session, table: str, record_id: str, body: DisputeIn, key_id: str
) -> RecordDisputeOut:
    """Register that a record is disputed (not committed).  Raises :class:`UnknownRecord`, or
    :class:`AlreadyDisputed` while another dispute of it is open or found it wrong."""
    found = _record(session, table, record_id)
    if found is None:
        raise UnknownRecord(f"no record {record_id} in {table}")
    live = session.scalar(
        select(RecordDispute.id).where(
            RecordDispute.table_name == table,
            RecordDispute.record_id == record_id,
            RecordDispute.status != "upheld",
        )
    )
    if live is not None:
        raise AlreadyDisputed(f"record {record_id} of {table} is already under dispute {live}")
    dispute = RecordDispute(
        table_name=table,
        record_id=record_id,
        households=_wrapped(found.households),
        status="disputed",
        reason=body.reason,
        note=body.note,
        registered_by_key_id=key_id,
        registered_at=datetime.now(timezone.utc),
    )
    session.add(dispute)
    try:
        session.flush()
    except IntegrityError as exc:  # the same record disputed at the same moment by someone else
        raise AlreadyDisputed(f"record {record_id} of {table} is already under dispute") from exc
    record(
        session,
        "record.dispute",
        key_id,
        target=f"{table}/{record_id}",
        dispute_id=dispute.id,
        table=table,
        record_id=record_id,
        reason=body.reason,
        status=dispute.status,
    )
    session.flush()
    return dispute_out(dispute)


def _queue_rescores(session: Session, dispute: RecordDispute, key_id: str) -> set[str]:
    """Queue a re-score of each open case of the record's households that was scored with the
    record in view (its latest decision is as of the record's time or later)."""
    found = _record(session, dispute.table_name, dispute.record_id)
    households = [h for h in dispute.households.split(";") if h]
    latest = {
        case_id: decision
        for case_id, decision in latest_decisions(session, households=households).items()
        if found is None or found.at is None or decision.as_of >= found.at
    }
    moments = {case_id: decision.as_of for case_id, decision in latest.items()}
    line = (
        f"{_KIND[dispute.table_name]} {dispute.record_id} found wrong "
        f"({dispute.reason.replace('_', ' ')}): left out of the score"
    )
    targets = [
        Target(latest[case_id], moments[case_id], TRIGGER, [line])
        for case_id in sorted(open_at(session, latest, moments))
    ]
    return queue(session, targets, key_id)


def decide(
    session: Session, dispute_id: int, body: DisputeDecisionIn, key_id: str
) -> tuple[RecordDisputeOut, set[str]] | None:
    """Decide an open dispute (not committed): the dispute, and the cases queued for a re-score
    when the record was found wrong.  None when there is no such dispute; :class:`NotOpen` when it
    was decided already (checked in the update itself, so two analysts cannot both decide it)."""
    dispute = session.get(RecordDispute, dispute_id)
    if dispute is None:
        return None
    decided = session.execute(
        update(RecordDispute)
        .where(RecordDispute.id == dispute_id, RecordDispute.status == "disputed")
        .values(
            status=body.status,
            decided_by_key_id=key_id,
            decided_at=datetime.now(timezone.utc),
            decision_note=body.note,
        )
    ).rowcount
    if not decided:
        session.refresh(dispute)
        raise NotOpen(f"dispute {dispute_id} was decided already ({dispute.status})")
    session.refresh(dispute)
    queued = _queue_rescores(session, dispute, key_id) if body.status == "found_wrong" else set()
    record(
        session,
        "record.decide",
        key_id,
        target=f"{dispute.table_name}/{dispute.record_id}",
        dispute_id=dispute.id,
        table=dispute.table_name,
        record_id=dispute.record_id,
        reason=dispute.reason,
        status=dispute.status,
        queued=len(queued),
    )
    session.flush()
    return dispute_out(dispute), queued


def decide_and_rescore(
    session: Session,
    dispute_id: int,
    body: DisputeDecisionIn,
    key_id: str,
    *,
    scorer,
    champions,
) -> DisputeDecided | None:
    """Decide, commit the decision with the re-scores it queues, then do them (when champions are
    loaded; otherwise they wait in the outbox, as an ingest's do)."""
    decided = decide(session, dispute_id, body, key_id)
    if decided is None:
        return None
    dispute, queued = decided
    session.commit()
    rescored, skipped = drain_queued(scorer.engine, scorer, champions, queued)
    return DisputeDecided(**dispute.model_dump(), rescored=rescored, rescoring_skipped=skipped)


def get(session: Session, dispute_id: int) -> RecordDisputeOut | None:
    dispute = session.get(RecordDispute, dispute_id)
    return None if dispute is None else dispute_out(dispute)


def of_record(session: Session, table: str, record_id: str) -> list[RecordDisputeOut]:
    """Every dispute of a record, oldest first; :class:`UnknownRecord` when there is no such row."""
    if _record(session, table, record_id) is None:
        raise UnknownRecord(f"no record {record_id} in {table}")
    return [
        dispute_out(d)
        for d in session.scalars(
            select(RecordDispute)
            .where(RecordDispute.table_name == table, RecordDispute.record_id == record_id)
            .order_by(RecordDispute.id)
        )
    ]


def _of_households(households: list[str]):
    return or_(*(RecordDispute.households.contains(f";{h};", autoescape=True) for h in households))


def of_households(session: Session, households: list[str]) -> list[RecordDisputeOut]:
    """The disputes of records that concern any of ``households``, oldest first."""
    if not households:
        return []
    return [
        dispute_out(d)
        for d in session.scalars(
            select(RecordDispute).where(_of_households(households)).order_by(RecordDispute.id)
        )
    ]


def listing(
    session: Session,
    *,
    statuses: list[str] | None,
    table: str | None,
    household_id: str | None,
    limit: int,
    offset: int,
) -> DisputePage:
    """Disputes, newest first, filtered by status, table or household."""
    conditions = []
    if statuses:
        conditions.append(RecordDispute.status.in_(statuses))
    if table:
        conditions.append(RecordDispute.table_name == table)
    if household_id:
        conditions.append(_of_households([household_id]))
    total = session.scalar(select(func.count()).select_from(RecordDispute).where(*conditions))
    rows = session.scalars(
        select(RecordDispute)
        .where(*conditions)
        .order_by(RecordDispute.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return DisputePage(
        items=[dispute_out(d) for d in rows], total=total, limit=limit, offset=offset
    )
