"""HTTP ingest of one exchange table: the same contract checks as ``triage validate``, then an upsert.

References are resolved against the rows of the request and the rows already in the
service database, so a call can bring persons of households loaded last week.  Valid rows
are upserted by key, which makes a repeated call change nothing.  Quarantined rows come back
as position, key, rule and detail only: the row as given may hold PII and is not echoed.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sqlalchemy import Engine, select

from triage.contract import TABLES
from triage.data_contracts import DatasetUnreadable, validate_frames
from triage.db.load import load_frames
from triage.db.models import EXCHANGE_MODELS
from triage.serving.schemas import IngestResult, QuarantinedRow


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


def ingest_rows(url: str, engine: Engine, table: str, rows: list[Mapping]) -> IngestResult:
    """Validate ``rows`` of ``table`` and upsert the valid ones; raises :class:`BadIngest`."""
    if table not in TABLES:
        raise BadIngest(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
    raw = pd.DataFrame.from_records(list(rows))
    try:
        result = validate_frames({table: raw}, stored=_stored_references(engine, table, raw))
    except DatasetUnreadable as exc:
        raise BadIngest(str(exc)) from exc
    valid, quarantine = result.valid[table], result.quarantine[table]
    stored = (load_frames(url, {table: valid})[table] if len(valid)
              else {"inserted": 0, "updated": 0, "unchanged": 0})
    key = TABLES[table].key
    return IngestResult(table=table, received=len(raw), stored=stored, quarantined=[
        QuarantinedRow(row=int(q["row_number"]) - 1, key=None if pd.isna(q.get(key)) else str(q[key])[:64],
                       rule=str(q["rule"]), detail=str(q["detail"]))
        for q in quarantine.to_dict("records")])
