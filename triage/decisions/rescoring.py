"""Re-scoring open cases when something new is known about their household.

A score is a picture as of one moment.  When a call, a police incident, a failed mediation or a
screening arrives later for the household of an open case, the picture is stale: the case is
scored again, through the same :class:`~triage.decisions.scoring.Scorer`, as of the new rows, and
the new decision is stored beside the old one (``previous_score_id``) with what changed and
whether the band rose, so the queue can flag it and the case keeps its timeline.

Which cases are re-scored: the **open cases of the household** of each new row, where

* a case is a ``case_id`` with at least one stored decision whose ``household_id`` is the
  household (the case's own household; rows about the counterparty household do not re-score);
* the decision re-scored is the case's latest (by ``created_at``);
* the case is open at the moment ``t`` it is re-scored as of: the exchange table ``cases``
  either does not hold it (it was scored before it was exported), or shows it not closed by
  ``t`` (``closed_at`` empty or later than ``t``; an empty ``closed_at`` with a status other
  than ``open`` counts as closed).

``t`` is the latest new row's time for the household, but never earlier than the previous
decision's ``as_of``: a late-arriving row is seen together with everything seen before.
Only rows new to the database count (an ingest or load repeated changes nothing), and free
text (call summaries, notes) never goes into the ``changes`` lines.

The re-scores new rows call for are not done in the rows' transaction but queued in it, in the
outbox of :mod:`triage.decisions.outbox`, and done by its drain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from triage.config.domain import Rescoring
from triage.contract import BANDS, LOCAL_ZONE, TABLES
from triage.db.models import EXCHANGE_MODELS
from triage.db.service_models import Decision
from triage.decisions import stored
from triage.decisions.audit import record
from triage.decisions.scored import ScoredCase
from triage.decisions.types import Rescored, ScoreRequest
from triage.models.registry import Champions

#: The tables whose new rows re-score a household's open cases.
EVENT_TABLES = ("hotline_calls", "incidents", "mediation_events", "screenings", "psych_assessments")
_IN_CHUNK = 500  # ids per IN (...) look-up


@dataclass(frozen=True)
class Event:
    """One new row, reduced to what re-scoring needs: whose, when, and a line without free text."""

    table: str
    household_id: str
    at: datetime
    line: str


@dataclass(frozen=True)
class Mediated:
    """A case the new rows show mediated (an agreement reached, or status ``mediated``)."""

    case_id: str
    at: datetime


def in_chunks(values: list, size: int = _IN_CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def news_in(table: str, rows: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``rows`` that are news, given the rows ``before`` stored under the same keys (read
    in the transaction that writes them): rows of an event table whose key was not stored, cases
    not stored or stored with another status."""
    if rows.empty or table not in EVENT_TABLES + ("cases",):
        return rows.iloc[0:0]
    key = TABLES[table].key
    keys = rows[key].astype(str)
    stored = dict(
        zip(
            before[key].astype(str),
            before["status"].astype(str) if table == "cases" else [None] * len(before),
        )
    )
    news = ~keys.isin(stored)
    if table == "cases":
        news |= keys.isin(stored) & keys.map(stored).ne(rows["status"].astype(str))
    return rows[news.to_numpy()]


def _lookup(
    bind: Connection, table: str, key: str, value: str, ids: Iterable[str]
) -> dict[str, str]:
    """``{key: value}`` of stored rows of ``table`` (e.g. person → household)."""
    model = EXCHANGE_MODELS[table].__table__
    out: dict[str, str] = {}
    for chunk in in_chunks(sorted(set(ids))):
        out.update(
            bind.execute(select(model.c[key], model.c[value]).where(model.c[key].in_(chunk))).all()
        )
    return out


def _when(at: pd.Timestamp) -> str:
    return at.tz_convert(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def _present(value) -> bool:
    return value is not None and not pd.isna(value)


def events_of(
    bind: Connection, fresh: Mapping[str, pd.DataFrame], cfg: Rescoring
) -> tuple[list[Event], list[Mediated]]:
    """The events among freshly stored rows (households resolved through the database, in the
    transaction that stores them) and the cases they show mediated."""
    events: list[Event] = []
    mediated: list[Mediated] = []
    persons = [
        str(p)
        for t in ("hotline_calls", "screenings", "psych_assessments")
        if t in fresh
        for p in fresh[t]["person_id"].dropna()
    ]
    household_of_person = _lookup(bind, "persons", "person_id", "household_id", persons)
    for row in fresh.get("hotline_calls", pd.DataFrame()).to_dict("records"):
        household = (
            row["household_id"]
            if _present(row["household_id"])
            else household_of_person.get(str(row["person_id"]))
            if _present(row["person_id"])
            else None
        )
        if household is not None:
            events.append(
                Event(
                    "hotline_calls",
                    str(household),
                    row["received_at"].to_pydatetime(),
                    f"new call {_when(row['received_at'])} ({row['channel']}, {row['category']})",
                )
            )
    for row in fresh.get("incidents", pd.DataFrame()).to_dict("records"):
        events.append(
            Event(
                "incidents",
                str(row["household_id"]),
                row["occurred_at"].to_pydatetime(),
                f"new police incident {_when(row['occurred_at'])} ({row['offence']})",
            )
        )
    for table, line in (
        ("screenings", "new screening {when} ({instrument} {score}{item9})"),
        ("psych_assessments", "new professional assessment {when} ({tier})"),
    ):
        for row in fresh.get(table, pd.DataFrame()).to_dict("records"):
            household = household_of_person.get(str(row["person_id"]))
            if household is not None:
                item9 = f", item 9 = {row['item9']}" if _present(row.get("item9")) else ""
                events.append(
                    Event(
                        table,
                        household,
                        row["at"].to_pydatetime(),
                        line.format(
                            when=_when(row["at"]),
                            instrument=row.get("instrument"),
                            score=row.get("score"),
                            item9=item9,
                            tier=row.get("tier"),
                        ),
                    )
                )
    mediations = fresh.get("mediation_events", pd.DataFrame())
    if len(mediations):
        household_of_case = _lookup(
            bind, "cases", "case_id", "household_id", mediations["case_id"].astype(str)
        )
        for row in mediations.to_dict("records"):
            if row["outcome"] in cfg.mediated_outcomes:
                mediated.append(Mediated(str(row["case_id"]), row["at"].to_pydatetime()))
            elif (
                row["outcome"] in cfg.mediation_failures
                and str(row["case_id"]) in household_of_case
            ):
                events.append(
                    Event(
                        "mediation_events",
                        household_of_case[str(row["case_id"])],
                        row["at"].to_pydatetime(),
                        f"mediation {_when(row['at'])} on case {row['case_id']}: {row['outcome']} "
                        f"({row['level']})",
                    )
                )
    now = datetime.now(timezone.utc)
    for row in fresh.get("cases", pd.DataFrame()).to_dict("records"):
        if row["status"] == "mediated":
            mediated.append(
                Mediated(
                    str(row["case_id"]),
                    row["closed_at"].to_pydatetime() if _present(row["closed_at"]) else now,
                )
            )
    return events, mediated


def latest_decisions(
    session: Session, *, households: Iterable[str] = (), cases: Iterable[str] = ()
) -> dict[str, Decision]:
    """Each case's latest decision, for the cases of ``households`` or the ``cases`` named."""
    latest: dict[str, Decision] = {}
    for column, ids in (
        (Decision.household_id, sorted(set(households))),
        (Decision.case_id, sorted(set(cases))),
    ):
        for chunk in in_chunks(ids):
            for decision in session.scalars(select(Decision).where(column.in_(chunk))):
                held = latest.get(decision.case_id)
                if held is None or (decision.created_at, decision.score_id) > (
                    held.created_at,
                    held.score_id,
                ):
                    latest[decision.case_id] = decision
    return latest


def open_at(session: Session, case_ids: Iterable[str], moments: Mapping[str, datetime]) -> set[str]:
    """The cases of ``case_ids`` open at their moment (see the module docstring)."""
    cases = EXCHANGE_MODELS["cases"].__table__
    closed = set()
    for chunk in in_chunks(sorted(set(case_ids))):
        for case_id, status, closed_at in session.execute(
            select(cases.c.case_id, cases.c.status, cases.c.closed_at).where(
                cases.c.case_id.in_(chunk)
            )
        ):
            if closed_at is None and status != "open":
                closed.add(case_id)
            elif closed_at is not None and _utc(closed_at) <= moments[case_id]:
                closed.add(case_id)
    return set(case_ids) - closed


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


@dataclass(frozen=True)
class Target:
    """A decision to re-score, as of when, why, and the lines saying what is new."""

    decision: Decision
    as_of: datetime
    trigger: str
    lines: list[str]


def targets_for(session: Session, events: list[Event]) -> list[Target]:
    """The open cases of the events' households, each as of its household's latest event."""
    by_household: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_household[event.household_id].append(event)
    latest = latest_decisions(session, households=by_household)
    moments, triggers, lines = {}, {}, {}
    for case_id, decision in latest.items():
        news = sorted(by_household[decision.household_id], key=lambda e: e.at)
        moments[case_id] = max(news[-1].at, decision.as_of)
        triggers[case_id] = f"event:{news[-1].table}"
        lines[case_id] = [e.line for e in news]
    still_open = open_at(session, latest, moments)
    return [Target(latest[c], moments[c], triggers[c], lines[c]) for c in sorted(still_open)]


def _what_changed(previous: dict, current: ScoredCase, lines: list[str], cap: int) -> list[str]:
    """``previous``: the stored record of the decision ``current`` re-scores."""
    changes = lines[:cap] + (
        [f"… and {len(lines) - cap} more new records"] if len(lines) > cap else []
    )
    old, new = previous["escalation"], current.escalation
    if old["band"] != new.band:
        changes.append(f"band {old['band']} → {new.band}")
    changes.append(f"probability {old['probability']:.3f} → {new.probability:.3f}")
    before = set(previous["route"]["rules"])
    changes += [
        f"rule {rule} now applies: {reason}"
        for rule, reason in zip(current.route.rules, current.route.reasons_en)
        if rule not in before and rule != "default"
    ]
    return changes


def score_targets(scorer, champions: Champions, targets: list[Target]) -> list[ScoredCase]:
    """Score each target again as of its moment (no database write), in batches of the service's size."""
    scored: list[ScoredCase] = []
    batch = scorer.settings.max_batch_cases
    for start in range(0, len(targets), batch):
        scored += scorer.score(
            [
                ScoreRequest.model_validate({**t.decision.request, "as_of": t.as_of.isoformat()})
                for t in targets[start : start + batch]
            ],
            champions,
        )
    return scored


def max_listed(scorer) -> int:
    return scorer.domain.rescoring.max_listed_records


def store_rescores(
    session: Session,
    targets: list[Target],
    scored: list[ScoredCase],
    key_id: str | None,
    cap: int,
    feature_lists: dict[str, list[str]],
) -> list[Rescored]:
    """Store the new decisions of ``targets`` with their history and audit entries (not committed);
    ``cap``: change lines listed before "… and N more"; ``feature_lists``: the scoring models'."""
    if not targets:
        return []
    stored.store(session, scored, key_id, feature_lists)
    out: list[Rescored] = []
    for target, new in zip(targets, scored):
        previous = target.decision.response
        rise = BANDS.index(new.band) > BANDS.index(previous["escalation"]["band"])
        row = session.get(Decision, new.score_id)
        row.trigger, row.previous_score_id, row.band_rise = (
            target.trigger,
            target.decision.score_id,
            rise,
        )
        row.changes = _what_changed(previous, new, target.lines, cap)
        record(
            session,
            "rescore",
            key_id,
            target=row.score_id,
            case_id=row.case_id,
            previous_score_id=row.previous_score_id,
            trigger=row.trigger,
            band=row.band,
            band_rise=rise,
        )
        out.append(
            Rescored(
                case_id=row.case_id,
                score_id=row.score_id,
                previous_score_id=row.previous_score_id,
                as_of=row.as_of,
                band=row.band,
                previous_band=previous["escalation"]["band"],
                band_rise=rise,
                changes=row.changes,
            )
        )
    session.flush()
    return out


def rescore(
    session: Session, scorer, champions: Champions, targets: list[Target], key_id: str | None
) -> list[Rescored]:
    """Score each target again and store the new decisions with their history (not committed)."""
    return store_rescores(
        session,
        targets,
        score_targets(scorer, champions, targets),
        key_id,
        max_listed(scorer),
        champions.feature_lists,
    )
