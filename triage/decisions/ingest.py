"""Ingesting one exchange table: the same contract checks as ``triage validate``, then an upsert.

References are resolved against the rows of the request and the rows already in the
service database, so a call can bring persons of households loaded last week.  Valid rows
are upserted by key, which makes a repeated call change nothing.  Quarantined rows come back
as position, key, rule and detail only: the row as given may hold PII and is not echoed.

Rows new to the database then act on the cases the service follows: new calls, incidents,
failed mediations and screenings re-score their households' open cases
(:mod:`triage.decisions.rescoring`), and cases shown mediated get their follow-up visits
(:mod:`triage.decisions.followups`).  The same happens after ``triage load`` (:func:`follow_load`).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from triage.contract import TABLES
from triage.data_contracts import DatasetUnreadable, validate_frames
from triage.db.engine import engine_for
from triage.db.load import load_frames
from triage.db.models import EXCHANGE_MODELS
from triage.db.service_models import Decision
from triage.decisions.champions import ChampionStore
from triage.decisions.followups import plan
from triage.decisions.rescoring import events_of, rescore, targets_for, unseen_rows
from triage.decisions.scoring import Scorer
from triage.decisions.types import IngestResult, QuarantinedRow
from triage.models.registry import load_champions
from triage.settings import Settings


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


def ingest_rows(
    url: str,
    engine: Engine,
    table: str,
    rows: list[Mapping],
    *,
    session: Session | None = None,
    scorer=None,
    champions: ChampionStore | None = None,
    key_id: str | None = None,
) -> IngestResult:
    """Validate ``rows`` of ``table`` and upsert the valid ones; raises :class:`BadIngest`.

    With a ``session`` (and the service's scorer and champions) the new rows also re-score open
    cases and plan follow-ups, in that session (the caller commits).
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
    fresh = unseen_rows(engine, table, valid)
    stored = (
        load_frames(url, {table: valid})[table]
        if len(valid)
        else {"inserted": 0, "updated": 0, "unchanged": 0}
    )
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
    outcome = IngestResult(
        table=table,
        received=len(rows),
        stored=stored,
        quarantined=sorted(quarantined, key=lambda q: q.row),
    )
    if session is None or fresh.empty:
        return outcome
    followed = after_load(session, engine, {table: fresh}, scorer, champions, key_id)
    return outcome.model_copy(update=followed)


def news_of(url: str, frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The rows of a load the database does not hold yet, for :func:`follow_load` (call before loading).

    Skipped (``{}``) while the service has no decision at all: then nothing can be re-scored or followed.
    """
    engine = engine_for(url)
    with engine.connect() as connection:
        if connection.scalar(select(Decision.score_id).limit(1)) is None:
            return {}
    return {
        table: rows
        for table, frame in frames.items()
        if len(rows := unseen_rows(engine, table, frame))
    }


def follow_load(settings: Settings, fresh: Mapping[str, pd.DataFrame]) -> dict:
    """``triage load``'s re-scores and visits (:func:`after_load`), committed; the champions are loaded
    from the registry only when some open case needs re-scoring."""
    if not fresh:
        return {"rescored": 0, "followups_planned": 0}
    engine = engine_for(settings.db_url)
    champions = ChampionStore(lambda: load_champions(settings))
    with Session(engine) as session:
        followed = after_load(
            session,
            engine,
            fresh,
            Scorer(settings, engine),
            champions,
            None,
            load_champions_if_needed=True,
        )
        session.commit()
    return {
        "rescored": len(followed.get("rescored", [])),
        "followups_planned": followed["followups_planned"],
        **(
            {"rescoring_skipped": followed["rescoring_skipped"]}
            if "rescoring_skipped" in followed
            else {}
        ),
    }


def after_load(
    session: Session,
    engine: Engine,
    fresh: Mapping[str, pd.DataFrame],
    scorer,
    champions: ChampionStore | None,
    key_id: str | None,
    *,
    load_champions_if_needed: bool = False,
) -> dict:
    """Re-score the open cases the new rows concern and plan visits for cases they show mediated.

    ``fresh``: the rows each table did not hold before (:func:`~triage.decisions.rescoring.unseen_rows`).
    Returns the additions to :class:`IngestResult` (``rescored``, ``rescoring_skipped``,
    ``followups_planned``); nothing is committed.
    """
    domain = scorer.domain
    events, mediated = events_of(engine, fresh, domain.rescoring)
    followed: dict = {"followups_planned": plan(session, mediated, domain.followups)}
    targets = targets_for(session, events)
    if targets and load_champions_if_needed and champions is not None and not champions.ready:
        with suppress(
            Exception
        ):  # nothing promoted yet, or the registry is unreachable: say so below
            champions.reload()
    if targets and (champions is None or not champions.ready):
        why = f" ({champions.last_error})" if champions is not None and champions.last_error else ""
        followed["rescoring_skipped"] = (
            f"{len(targets)} open cases not re-scored: no champion models are loaded{why}"
        )
    elif targets:
        followed["rescored"] = rescore(session, scorer, champions.current, targets, key_id)
    return followed
