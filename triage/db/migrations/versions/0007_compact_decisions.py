"""Compact decisions: a stored decision keeps numbers in its model's feature order, not labels.

A decision stored the whole labelled answer (every factor with its labels in two languages, about
30 KB) and its feature values once more.  It now keeps the record of
``triage.decisions.scored.ScoredCase.record`` (values and SHAP contributions as arrays in the
model version's feature order), and ``model_feature_lists`` keeps each version's feature names, from
which the labels come back when it is read.  Existing rows are converted: an escalation version's
order is that of the row's ``features`` (written in the model's order); a tier version's is the
feature registry's, the order the tier model is trained in; contributions are kept to float32 (seven
significant digits, as new decisions keep them).  The downgrade rebuilds the labelled
answers and the ``features`` column (left nullable: SQLite cannot rebuild a table others refer to).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import base64

import numpy as np
import sqlalchemy as sa
from alembic import op

from triage.features import feature_labels
from triage.features.registry import feature_names

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 500
#: The formats of this revision, written out here so that the migration stays as it is when
#: ``triage.decisions.scored`` changes: the key retention sets, and contributions as base64 float32.
REMOVED_AT = "raw_values_removed_at"


def _pack(contributions) -> str:
    return base64.b64encode(np.asarray(contributions, dtype="<f4").tobytes()).decode("ascii")


def _unpack(packed: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed), dtype="<f4")


decisions = sa.table(
    "decisions",
    sa.column("score_id", sa.String),
    sa.column("response", sa.JSON),
    sa.column("features", sa.JSON),
)
feature_lists = sa.table(
    "model_feature_lists", sa.column("version", sa.String), sa.column("names", sa.JSON)
)


def _explanation(factors: list[dict], names: list[str]) -> dict:
    by_name = {f["feature"]: f for f in factors}
    return {
        "values": [by_name[n]["value"] if n in by_name else None for n in names],
        "contributions": _pack(
            np.array([by_name[n]["contribution"] if n in by_name else 0.0 for n in names])
        ),
    }


def _compact(response: dict, features: dict, lists: dict[str, list[str]]) -> dict:
    """The record of a labelled answer; learns the versions' feature lists into ``lists``."""
    models, escalation = response["models"], response["escalation"]
    lists.setdefault(models["escalation"], list(features))
    tier_order = {n: i for i, n in enumerate(feature_names("person"))}
    tier_factors = [f for p in response["persons"] for f in p["factors"]]
    if tier_factors:
        names = sorted({f["feature"] for f in tier_factors}, key=lambda n: tier_order.get(n, 1e9))
        lists.setdefault(models["tier"], names)
    withheld = sorted(
        {f["feature"] for f in escalation["factors"] + tier_factors if f.get("withheld")}
    )
    record = {
        key: response[key]
        for key in ("score_id", "case_id", "as_of", "route", "models", "warnings")
    }
    record["escalation"] = {
        **{k: escalation[k] for k in ("probability", "band", "base_value", "margin")},
        "interval": escalation.get("interval"),
        "explanation": _explanation(escalation["factors"], lists[models["escalation"]]),
    }
    record["needs_judgement"] = response.get("needs_judgement", False)
    record["persons"] = [
        {
            **{k: p[k] for k in ("person_id", "tier", "tier_source", "probabilities")},
            "tier_set": p.get("tier_set"),
            "explanation": _explanation(p["factors"], lists[models["tier"]])
            if p["factors"]
            else None,
        }
        for p in response["persons"]
    ]
    if withheld:
        record["withheld"] = withheld
    if response.get(REMOVED_AT):
        record[REMOVED_AT] = response[REMOVED_AT]
    return record


def _restored(value):
    """A value as answered: the record keeps a whole float as an int."""
    return float(value) if type(value) is int else value


def _factors(explanation: dict | None, names: list[str], labels: dict, hidden: set) -> list[dict]:
    if explanation is None:
        return []
    contributions = _unpack(explanation["contributions"])
    out = []
    for j in np.argsort(-np.abs(contributions), kind="stable").tolist():
        name, withheld = names[j], names[j] in hidden
        label = labels.get(name, {"zh": name, "en": name})
        out.append(
            {
                "feature": name,
                "label": label["zh"],
                "label_zh": label["zh"],
                "label_en": label["en"],
                "value": None if withheld else _restored(explanation["values"][j]),
                "contribution": float(contributions[j]),
                "withheld": withheld,
            }
        )
    return out


def _labelled(record: dict, lists: dict[str, list[str]], labels: dict) -> dict:
    """The labelled answer of a record: each explanation replaced by its factors."""
    hidden, models = set(record.get("withheld", ())), record["models"]
    escalation = {k: v for k, v in record["escalation"].items() if k != "explanation"}
    escalation["factors"] = _factors(
        record["escalation"]["explanation"], lists[models["escalation"]], labels, hidden
    )
    persons = [
        {k: v for k, v in p.items() if k != "explanation"}
        | {"factors": _factors(p["explanation"], lists.get(models["tier"], []), labels, hidden)}
        for p in record["persons"]
    ]
    rest = {k: v for k, v in record.items() if k not in ("withheld", "escalation", "persons")}
    return rest | {"escalation": escalation, "persons": persons}


def _rewrite(select_columns, convert) -> None:
    """Rewrite every decision row in chunks, in score-id order."""
    connection, after = op.get_bind(), ""
    while True:
        rows = connection.execute(
            sa.select(decisions.c.score_id, *select_columns)
            .where(decisions.c.score_id > after)
            .order_by(decisions.c.score_id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        updates = [u for u in (convert(row) for row in rows) if u is not None]
        if updates:
            connection.execute(
                decisions.update()
                .where(decisions.c.score_id == sa.bindparam("b_score_id"))
                .values({k: sa.bindparam(f"b_{k}") for k in updates[0] if k != "score_id"}),
                [{f"b_{k}": v for k, v in u.items()} for u in updates],
            )
        after = rows[-1].score_id


def upgrade() -> None:
    op.create_table(
        "model_feature_lists",
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_model_feature_lists")),
    )
    lists: dict[str, list[str]] = {}

    def convert(row):
        if "factors" not in (row.response or {}).get("escalation", {}):
            return None  # not a scored answer: nothing to convert
        return {
            "score_id": row.score_id,
            "response": _compact(row.response, row.features or {}, lists),
        }

    _rewrite([decisions.c.response, decisions.c.features], convert)
    if lists:
        op.bulk_insert(feature_lists, [{"version": v, "names": n} for v, n in lists.items()])
    op.drop_column("decisions", "features")


def downgrade() -> None:
    op.add_column("decisions", sa.Column("features", sa.JSON(), nullable=True))
    connection = op.get_bind()
    lists = dict(
        connection.execute(sa.select(feature_lists.c.version, feature_lists.c.names)).all()
    )
    labels = feature_labels()

    def convert(row):
        record = row.response or {}
        if "explanation" not in record.get("escalation", {}):
            return {"score_id": row.score_id, "response": row.response, "features": {}}
        names = lists[record["models"]["escalation"]]
        values = [_restored(v) for v in record["escalation"]["explanation"]["values"]]
        return {
            "score_id": row.score_id,
            "response": _labelled(record, lists, labels),
            "features": dict(zip(names, values)),
        }

    _rewrite([decisions.c.response], convert)
    op.drop_table("model_feature_lists")
