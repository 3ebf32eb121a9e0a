"""The households' history as the model saw it: calls, cases, mediations and incidents up to ``as_of``.

Read through ``read_tables`` (the scorer's own history adapter), so the timeline shows exactly
the records the score could use and nothing later, with the records found wrong since, which the
case page marks.  Person-table PII is never read; free
texts are cut short and long digit runs (telephone or ID numbers typed into a note) masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from triage.db import read_tables

TEXT_CHARS = 48
LATEST = 40
_DIGITS = re.compile(r"\d{6,}")


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # call, case, mediation, incident
    side: str  # household or counterparty
    code: str  # the record's category: channel, dispute type, mediation level, offence
    detail: str  # a second code (call category, mediation outcome) or ""
    text: str  # truncated, digits masked
    ref: str  # the record's case id where it has one
    table: str  # the exchange table and the row's key, which a dispute names
    record_id: str

    @property
    def record(self) -> str:
        """The record as the dispute form names it: ``<table>/<record id>``."""
        return f"{self.table}/{self.record_id}"


def mask_digits(text: str) -> str:
    """Hide long digit runs: a telephone or ID number typed into free text is PII."""
    return _DIGITS.sub("＊＊＊", text)


def _clip(text) -> str:
    if text is None or text is pd.NA:
        return ""
    text = mask_digits(str(text))
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _opt(value) -> str:
    return "" if value is None or value is pd.NA else str(value)


def timeline(
    engine: Engine, household: str, counterparty: str | None, case_id: str, as_of: datetime
) -> tuple[list[Event], int]:
    """The newest ``LATEST`` events of both households before ``as_of`` (newest first), and how many there were."""
    sides = {household: "household", **({counterparty: "counterparty"} if counterparty else {})}
    tables = read_tables(engine, household_ids=set(sides), as_of=pd.Timestamp(as_of))
    person_side = {
        p: sides[h]
        for p, h in zip(tables["persons"]["person_id"], tables["persons"]["household_id"])
        if h in sides
    }
    events: list[Event] = []
    for call in tables["hotline_calls"].itertuples():
        side = sides.get(_opt(call.household_id)) or person_side.get(
            _opt(call.person_id), "household"
        )
        events.append(
            Event(
                call.received_at,
                "call",
                side,
                call.channel,
                call.category,
                _clip(call.text),
                "",
                "hotline_calls",
                call.call_id,
            )
        )
    case_side = {}
    for case in tables["cases"].itertuples():
        side = sides.get(case.household_id) or sides.get(
            _opt(case.counterparty_household_id), "household"
        )
        case_side[case.case_id] = side
        if case.case_id != case_id:  # the case under review is shown above the timeline
            events.append(
                Event(
                    case.opened_at,
                    "case",
                    side,
                    case.dispute_type,
                    "",
                    _clip(case.description),
                    case.case_id,
                    "cases",
                    case.case_id,
                )
            )
    for event in tables["mediation_events"].itertuples():
        events.append(
            Event(
                event.at,
                "mediation",
                case_side.get(event.case_id, "household"),
                event.level,
                event.outcome,
                _clip(event.note),
                event.case_id,
                "mediation_events",
                event.event_id,
            )
        )
    for incident in tables["incidents"].itertuples():
        events.append(
            Event(
                incident.occurred_at,
                "incident",
                sides.get(incident.household_id, "household"),
                incident.offence,
                "",
                "",
                _opt(incident.case_id),
                "incidents",
                incident.incident_id,
            )
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:LATEST], len(events)
