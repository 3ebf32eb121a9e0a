"""Retention: what is past its period is masked or removed, and what was done is told and audited.

The periods are data (``domain.yaml`` ``retention``; docs/domain.md "Retention"): each rule names a
table, the kind of data it holds, the action past the period (``delete`` the row, or ``mask``: set
its columns empty) and the period in days, counted from the row's own time column.  Two tables need
more words:

- ``persons`` has no time column (docs/data-format.md).  A person's details are past their period
  when neither the person nor their household has a record since the cut-off: the household's
  registration, calls and police incidents of the person or the household, the person's screenings
  and assessments, the household's cases (opened, closed, or still open) and their mediations, and
  the household's stored decisions.  A record another rule deletes keeps no one.
- ``decisions`` (stored scores) keep what staff were told and why: probability, band, route,
  reasons, tiers and every contribution.  Past the period they lose their raw sensitive values: the
  values of features read from police incidents, screenings, assessments and the person registers
  (``withheld``, as a scorer key sees them), the case description, the figures their ``changes``
  lines quote, and the values out-of-population warnings quote.  The record keeps its shape and
  lists the ``withheld`` features, so the API and the workbench still show it;
  ``raw_values_removed_at`` says when.

Nothing here is personal in what it reports: counts, tables, kinds and cut-offs.  Every application
(not a dry run) is one entry of the audit trail, in the transaction that made the changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import cache

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from triage.config.domain import DECISIONS, RetentionPolicy, RetentionRule
from triage.contract import TABLES
from triage.db.engine import engine_for
from triage.db.models import EXCHANGE_MODELS
from triage.db.service_models import Decision
from triage.decisions.audit import record
from triage.decisions.scored import Explanation, ScoredCase
from triage.decisions.stored import SENSITIVE_SOURCES, feature_lists
from triage.features.registry import features_of

#: The tables whose values are raw sensitive data in a stored decision: those a scorer key never reads
#: back (police incidents, screenings, person registers) and the counsellors' assessments (health
#: data, PIPL Art. 28).
RAW_SOURCES = SENSITIVE_SOURCES | {"psych_assessments"}
#: Decisions rewritten per statement.
_CHUNK = 200


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule found past its period (and, unless a dry run, masked or removed)."""

    rule: RetentionRule
    cutoff: datetime
    count: int

    def line(self, dry_run: bool) -> str:
        """One line of the command's report: table, kind, count, period; no value of any row."""
        r, n = self.rule, self.count
        before = f"{self.cutoff:%Y-%m-%d %H:%M} UTC ({r.days} days)"
        head = f"{r.table} ({r.data}):"
        if r.table == DECISIONS:
            verb = "would lose" if dry_run else "lost"
            return f"{head} {n} decisions stored before {before} {verb} their raw sensitive values"
        if r.action == "delete":
            verb = "would be deleted" if dry_run else "deleted"
            return f"{head} {n} rows recorded before {before} {verb}"
        verb = "would be masked" if dry_run else "masked"
        columns = ", ".join(r.columns)
        if r.table == "persons":
            return f"{head} {columns} {verb} for {n} persons with no record since {before}"
        return f"{head} {columns} {verb} in {n} rows recorded before {before}"


# --- exchange tables -------------------------------------------------------------------------


def _table(name: str):
    return EXCHANGE_MODELS[name].__table__


def _no_record_since(cutoff: datetime, floors: dict[str, datetime]) -> ColumnElement[bool]:
    """Persons of whom nothing, and of whose household nothing, was recorded at or after ``cutoff``
    that is kept: a row a delete rule removes (older than its table's ``floors``) keeps no one, so
    that a dry run, an application and the next application all agree."""

    def since(table: str) -> datetime:
        return max(cutoff, floors.get(table, cutoff))

    persons, households = _table("persons"), _table("households")
    calls, incidents, cases = _table("hotline_calls"), _table("incidents"), _table("cases")
    mediations, decisions = _table("mediation_events"), Decision.__table__
    person, household = persons.c.person_id, persons.c.household_id
    recent = [
        exists().where(
            households.c.household_id == household, households.c.registered_at >= cutoff
        ),
        *(
            exists().where(t.c[who] == whose, t.c[when] >= since(t.name))
            for t, when in ((calls, "received_at"), (incidents, "occurred_at"))
            for who, whose in (("person_id", person), ("household_id", household))
        ),
        *(
            exists().where(t.c.person_id == person, t.c.at >= since(t.name))
            for t in (_table("screenings"), _table("psych_assessments"))
        ),
        exists().where(decisions.c.household_id == household, decisions.c.created_at >= cutoff),
    ]
    for side in (cases.c.household_id, cases.c.counterparty_household_id):
        recent.append(
            exists().where(
                side == household,
                or_(
                    cases.c.opened_at >= since("cases"),
                    cases.c.closed_at >= since("cases"),
                    and_(cases.c.closed_at.is_(None), cases.c.status == "open"),
                ),
            )
        )
        recent.append(
            exists().where(
                mediations.c.case_id == cases.c.case_id,
                side == household,
                mediations.c.at >= since("mediation_events"),
            )
        )
    return not_(or_(*recent))


def _past_period(
    rule: RetentionRule, cutoff: datetime, floors: dict[str, datetime]
) -> ColumnElement[bool]:
    """The rows of the rule's table it applies to: past the period and, for a mask, not masked yet."""
    table = _table(rule.table)
    time_column = TABLES[rule.table].time_column
    old = _no_record_since(cutoff, floors) if time_column is None else table.c[time_column] < cutoff
    if rule.action == "delete":
        return old
    return and_(old, or_(*(table.c[c].is_not(None) for c in rule.columns)))


def _apply_to_table(
    session: Session,
    rule: RetentionRule,
    cutoff: datetime,
    floors: dict[str, datetime],
    dry_run: bool,
) -> int:
    table, where = _table(rule.table), _past_period(rule, cutoff, floors)
    count = session.scalar(select(func.count()).select_from(table).where(where)) or 0
    if count and not dry_run:
        if rule.action == "delete":
            session.execute(delete(table).where(where))
        else:
            session.execute(update(table).where(where).values({c: None for c in rule.columns}))
    return count


# --- stored decisions ------------------------------------------------------------------------


@cache
def raw_features() -> frozenset[str]:
    """The features whose values are raw sensitive data (read from :data:`RAW_SOURCES`)."""
    return frozenset(
        f.name
        for entity in ("case", "person")
        for f in features_of(entity)
        if f.source in RAW_SOURCES
    )


#: ``changes`` lines of re-scores that quote a new record's values (triage/decisions/rescoring.py):
#: screening scores, a police incident's offence, an assessment's tier.
_QUOTING_CHANGE = re.compile(
    r"^(new (?:screening|police incident|professional assessment) "
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}) \(.*\)$"
)


@cache
def _quoted_value() -> re.Pattern:
    """A raw feature's value as an out-of-population warning quotes it: ``(code) = 3`` or ``(code) 'x'``."""
    names = "|".join(sorted(raw_features(), key=len, reverse=True))
    return re.compile(rf"\(({names})\) (?:= [^\s;]+|'[^']*')")


def _masked(explanation: Explanation | None, names: list[str], raw: frozenset[str]):
    if explanation is None:
        return None
    values = [None if n in raw else v for n, v in zip(names, explanation.values)]
    return Explanation(values, explanation.contributions)


def masked_decision(
    record: dict,
    request: dict,
    changes: Iterable[str],
    at: datetime,
    lists: dict[str, list[str]],
) -> tuple[dict, dict, list[str]]:
    """A stored decision's record, request and changes without raw sensitive values; everything else
    (route, reasons, bands, tiers, contributions) as it was.  ``lists``: its models' feature lists."""
    raw = raw_features()
    scored = ScoredCase.from_record(record)
    escalation_names = lists[scored.models["escalation"]]
    tier_names = lists.get(scored.models["tier"], [])
    masked = replace(
        scored,
        escalation=replace(
            scored.escalation,
            explanation=_masked(scored.escalation.explanation, escalation_names, raw),
        ),
        persons=[
            replace(p, explanation=_masked(p.explanation, tier_names, raw)) for p in scored.persons
        ],
        warnings=[_quoted_value().sub(r"(\1) = …", w) for w in scored.warnings],
        withheld=scored.withheld | (raw & {*escalation_names, *tier_names}),
        raw_values_removed_at=at.isoformat(),
    )
    masked_request = {**request, "case": {**request["case"], "description": None}}
    masked_changes = [_QUOTING_CHANGE.sub(r"\1 (values removed)", line) for line in changes]
    return masked.record(), masked_request, masked_changes


def _decisions_due(cutoff: datetime) -> ColumnElement[bool]:
    """Decisions stored before ``cutoff`` whose raw values are still there."""
    return and_(Decision.created_at < cutoff, Decision.raw_values_removed_at.is_(None))


def _apply_to_decisions(session: Session, cutoff: datetime, dry_run: bool) -> int:
    due = _decisions_due(cutoff)
    if dry_run:
        return session.scalar(select(func.count()).select_from(Decision).where(due)) or 0
    ids = list(session.scalars(select(Decision.score_id).where(due).order_by(Decision.score_id)))
    table, now = Decision.__table__, datetime.now(timezone.utc)
    rewrite = (
        update(table)
        .where(table.c.score_id == bindparam("b_score_id"))
        .values(
            response=bindparam("b_response"),
            request=bindparam("b_request"),
            changes=bindparam("b_changes"),
            raw_values_removed_at=now,
        )
    )
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(
                table.c.score_id,
                table.c.response,
                table.c.request,
                table.c.changes,
            ).where(table.c.score_id.in_(ids[start : start + _CHUNK]))
        ).all()
        versions = {v for row in rows for v in row.response["models"].values()}
        lists = feature_lists(session, versions)
        params = []
        for score_id, response, request, changes in rows:
            response, request, changes = masked_decision(
                response, request, changes or [], now, lists
            )
            params.append(
                dict(
                    b_score_id=score_id,
                    b_response=response,
                    b_request=request,
                    b_changes=changes,
                )
            )
        session.connection().execute(rewrite, params)
    return len(ids)


# --- the whole policy --------------------------------------------------------------------------


def apply_retention(
    session: Session, policy: RetentionPolicy, as_of: datetime, *, dry_run: bool
) -> list[RuleOutcome]:
    """Apply every rule as of ``as_of`` in the session's transaction (the caller commits; a dry run
    changes nothing and is not audited).  Person rules are listed first: they read the rows the other
    rules delete, as they will stand afterwards (``floors``)."""
    floors: dict[str, datetime] = {}
    for rule in policy.rules:
        if rule.action == "delete":
            cutoff = as_of - timedelta(days=rule.days)
            floors[rule.table] = max(cutoff, floors.get(rule.table, cutoff))
    outcomes = []
    for rule in sorted(policy.rules, key=lambda r: r.table != "persons"):
        cutoff = as_of - timedelta(days=rule.days)
        count = (
            _apply_to_decisions(session, cutoff, dry_run)
            if rule.table == DECISIONS
            else _apply_to_table(session, rule, cutoff, floors, dry_run)
        )
        outcomes.append(RuleOutcome(rule, cutoff, count))
    if not dry_run:
        record(
            session,
            "retention.apply",
            None,
            target="retention",
            as_of=as_of.isoformat(),
            placeholders=policy.placeholders,
            rules=[
                {
                    "table": o.rule.table,
                    "data": o.rule.data,
                    "action": o.rule.action,
                    "columns": o.rule.columns,
                    "days": o.rule.days,
                    "cutoff": o.cutoff.isoformat(),
                    "count": o.count,
                }
                for o in outcomes
            ],
        )
    return outcomes


def run_retention(
    url: str, policy: RetentionPolicy, as_of: datetime, *, dry_run: bool
) -> list[RuleOutcome]:
    """Apply the retention rules to the database at ``url`` in one transaction."""
    with Session(engine_for(url)) as session:
        outcomes = apply_retention(session, policy, as_of, dry_run=dry_run)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return outcomes
