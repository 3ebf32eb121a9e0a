"""A challenger in shadow for tests: the session's champions with a second cheap fit beside them."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from triage.db import engine_for
from triage.db.service_models import ShadowScore
from triage.models.registry import Challenger, Champions

#: The versions the challenger of :func:`with_challenger` carries.
CHALLENGER_VERSIONS = {"escalation": "triage-escalation/2", "tier": "triage-tier/2"}


def with_challenger(
    champions: Champions, rival: Champions, roles=("escalation", "tier")
) -> Champions:
    """``champions`` with ``rival``'s models of ``roles`` as the challenger (version 2)."""
    return dataclasses.replace(
        champions,
        challenger=Challenger(
            escalation=rival.escalation if "escalation" in roles else None,
            tier=rival.tier if "tier" in roles else None,
            versions={role: CHALLENGER_VERSIONS[role] for role in roles},
            metrics={role: rival.metrics[role] for role in roles},
        ),
    )


def shadow_rows(db_url: str) -> dict[str, dict]:
    """The stored shadow scores by decision id."""
    with engine_for(db_url).connect() as connection:
        rows = connection.execute(select(ShadowScore.__table__)).mappings().all()
    return {row["score_id"]: dict(row) for row in rows}
