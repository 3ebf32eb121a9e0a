"""Ingesting one exchange table: the same contract checks as ``triage validate``, then an upsert.

References are resolved against the rows of the request and the rows already in the
service database, so a call can bring persons of households loaded last week.  Valid rows
are upserted by key, which makes a repeated call change nothing.  Quarantined rows come back
as position, key, rule and detail only: the row as given may hold PII and is not echoed.

Rows new to the database then act on the cases the service follows: new calls, incidents,
failed mediations and screenings re-score their households' open cases
(:mod:`triage.decisions.rescoring`), and cases shown mediated get their follow-up visits
(:mod:`triage.decisions.followups`).  The rows, their follow-up visits, the re-scores they owe
(the outbox, :mod:`triage.decisions.outbox`) and the ingest's audit entry commit in one
transaction; the re-scores are then drained.  ``triage load`` does the same chunk by chunk
(:func:`load_dataset`).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress

import pandas as pd
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from triage.config import Domain
from triage.contract import TABLES
from triage.data_contracts import DatasetUnreadable, validate_frames
from triage.db.engine import engine_for
from triage.db.load import DEFAULT_CHUNK_ROWS, load_frames, writing
from triage.db.models import EXCHANGE_MODELS
from triage.db.service_models import Decision
from triage.decisions.audit import record
from triage.decisions.champions import ChampionStore
from triage.decisions.followups import plan
from triage.decisions.outbox import drain, drain_queued, pending_count, queue, waiting_reason
from triage.decisions.rescoring import events_of, news_in, targets_for
from triage.decisions.scoring import Scorer
from triage.decisions.types import IngestResult, QuarantinedRow
from triage.models.registry import load_champions
from triage.settings import Settings


def pause_point(moment: str, table: str) -> None:
    """Where a test may pause or kill an ingest or a load: ``"writing"`` (an ingest validated, before
    its write transaction), ``"chunk"`` (a chunk of ``triage load`` written, before its commit) and
    ``"committed"`` (rows and the work they cause committed, nothing re-scored yet; ``table`` is
    ``"load"`` for ``triage load``).  Does nothing in service."""


class BadIngest(ValueError):
    """The rows cannot be read as the table at all (unknown table, a required column absent)."""


def _stored_references(engine: Engine, table: str, raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Rows already in the database that the request's rows refer to (keys, and cases' opened_at)."""
    stored: dict[str, pd.DataFrame] = {}
    for column in (c for c in TABLES[table].columns if c.references and c.name in raw):
        target, key = column.references.split(".")
        wanted = sorted(set(raw[column.name].dropna().astype(str)))
        if not wanted:
            continue
        model = EXCHANGE_MODELS[target].__table__
        columns = [model.c[key]] + ([model.c.opened_at] if target == "cases" else [])
        with engine.connect() as connection:
            rows = connection.execute(select(*columns).where(model.c[key].in_(wanted))).all()
        frame = pd.DataFrame(rows, columns=[c.name for c in columns])
        if "opened_at" in frame:
            frame["opened_at"] = pd.to_datetime(frame["opened_at"], utc=True)
        stored[target] = pd.concat([stored[target], frame]) if target in stored else frame
    return stored


def _no_utf8(value) -> bool:
    """A string with a lone surrogate (JSON can send ``"\\ud800"``): no database, nor pandas, can hold it."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Consequences:
    """What new rows cause, written in their own transaction (``after_chunk`` of
    :func:`~triage.db.load.load_frames`): follow-up visits for the cases they show mediated and a
    pending re-score (:func:`~triage.decisions.outbox.queue`) for each open case of the
    households concerned.  News is told from the rows stored before, read under the writers' lock,
    so the same rows sent twice, even at once, count as news once."""

    def __init__(self, domain: Domain, key_id: str | None):
        self.domain, self.key_id = domain, key_id
        self.queued: set[str] = set()
        self.followups_planned = 0
        self._decisions = False

    def _any_decision(self, connection: Connection) -> bool:
        """Nothing can be re-scored or followed while the service holds no decision (a first load)."""
        if not self._decisions:
            self._decisions = connection.scalar(select(Decision.score_id).limit(1)) is not None
        return self._decisions

    def __call__(
        self, connection: Connection, table: str, rows: pd.DataFrame, before: pd.DataFrame
    ) -> None:
        if not self._any_decision(connection):
            return
        fresh = news_in(table, rows, before)
        if fresh.empty:
            return
        events, mediated = events_of(connection, {table: fresh}, self.domain.rescoring)
        if not events and not mediated:
            return
        with Session(bind=connection) as session:  # joins the chunk's transaction
            self.followups_planned += plan(session, mediated, self.domain.followups)
            self.queued |= queue(session, targets_for(session, events), self.key_id)
            session.flush()


def ingest_rows(
    url: str,
    engine: Engine,
    table: str,
    rows: list[Mapping],
    *,
    scorer: Scorer,
    champions: ChampionStore | None,
    key_id: str | None = None,
) -> IngestResult:
    """Validate ``rows`` of ``table`` and upsert the valid ones; raises :class:`BadIngest`.

    One transaction holds the rows, their follow-up visits, their pending re-scores and the audit
    entry; the re-scores are then drained (``rescored``), unless no champion is loaded
    (``rescoring_skipped``: they wait in the outbox).
    """
    if table not in TABLES:
        raise BadIngest(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
    rows = list(rows)
    unwritable = {i for i, row in enumerate(rows) if any(map(_no_utf8, [*row, *row.values()]))}
    kept = [i for i in range(len(rows)) if i not in unwritable]
    columns = list(dict.fromkeys(name for row in rows for name in row if not _no_utf8(name)))
    raw = pd.DataFrame.from_records([rows[i] for i in kept], columns=columns)
    try:
        result = validate_frames({table: raw}, stored=_stored_references(engine, table, raw))
    except DatasetUnreadable as exc:
        raise BadIngest(str(exc)) from exc
    valid, quarantine = result.valid[table], result.quarantine[table]
    key = TABLES[table].key
    quarantined = [
        QuarantinedRow(
            row=kept[int(q["row_number"]) - 1],
            key=None if pd.isna(q.get(key)) else str(q[key])[:64],
            rule=str(q["rule"]),
            detail=str(q["detail"]),
        )
        for q in quarantine.to_dict("records")
    ]
    quarantined += [
        QuarantinedRow(
            row=i,
            key=None
            if rows[i].get(key) is None or _no_utf8(rows[i][key])
            else str(rows[i][key])[:64],
            rule="bad_text",
            detail="bad_text: a lone surrogate, which no database can store",
        )
        for i in sorted(unwritable)
    ]
    consequences = Consequences(scorer.domain, key_id)
    pause_point("writing", table)
    with writing(engine) as connection:
        stored = (
            load_frames(url, {table: valid}, connection=connection, after_chunk=consequences)[table]
            if len(valid)
            else {"inserted": 0, "updated": 0, "unchanged": 0}
        )
        with Session(bind=connection) as session:
            record(
                session,
                "ingest",
                key_id,
                target=table,
                received=len(rows),
                stored=stored,
                quarantined=len(quarantined),
                queued=len(consequences.queued),
            )
            session.flush()
    pause_point("committed", table)
    outcome = IngestResult(
        table=table,
        received=len(rows),
        stored=stored,
        quarantined=sorted(quarantined, key=lambda q: q.row),
        followups_planned=consequences.followups_planned,
    )
    rescored, skipped = drain_queued(engine, scorer, champions, consequences.queued)
    return outcome.model_copy(update={"rescored": rescored, "rescoring_skipped": skipped})


def load_dataset(
    settings: Settings,
    frames: Mapping[str, pd.DataFrame],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> tuple[dict, dict]:
    """``triage load``: upsert ``frames`` one chunk per transaction, each with what its news cause
    (:class:`Consequences`), then drain every pending re-score with the champions from the registry.

    Returns the counts of :func:`~triage.db.load.load_frames` and ``{"rescored",
    "followups_planned"}`` (with ``rescoring_skipped`` when no champion could be loaded).
    """
    consequences = Consequences(settings.domain, None)

    def after_chunk(connection, table, rows, before) -> None:
        consequences(connection, table, rows, before)
        pause_point("chunk", table)

    counts = load_frames(
        settings.db_url,
        frames,
        chunk_rows=chunk_rows,
        commit_each_chunk=True,
        after_chunk=after_chunk,
    )
    pause_point("committed", "load")
    followed = {"rescored": 0, "followups_planned": consequences.followups_planned}
    engine = engine_for(settings.db_url)
    waiting = pending_count(engine)
    if not waiting:
        return counts, followed
    champions = ChampionStore(lambda: load_champions(settings))
    with suppress(Exception):  # nothing promoted yet, or the registry is unreachable: say so
        champions.reload()
    if not champions.ready:
        return counts, {**followed, "rescoring_skipped": waiting_reason(champions, waiting)}
    followed["rescored"] = len(drain(engine, Scorer(settings, engine), champions))
    return counts, followed
