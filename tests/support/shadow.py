"""A challenger in shadow for tests: the session's champions with a second cheap fit beside them."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from sqlalchemy import select

from tests.support.service import auth, case_request
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
        challenger=Challenger.beside(
            champions.escalation,
            escalation=rival.escalation if "escalation" in roles else None,
            tier=rival.tier if "tier" in roles else None,
            versions={role: CHALLENGER_VERSIONS[role] for role in roles},
            metrics={role: rival.metrics[role] for role in roles},
        ),
    )


class Broken:
    """An escalation challenger whose artifact turned out unusable at its first call."""

    text_model_ = None
    schema_ = SimpleNamespace(matrix=lambda features: None)

    def predict_proba(self, X, *, matrix=None):
        raise RuntimeError("damaged")


def with_broken_escalation(
    champions: Champions, rival: Champions, roles=("escalation", "tier")
) -> Champions:
    """:func:`with_challenger`, the challenger's escalation model :class:`Broken`."""
    shadowed = with_challenger(champions, rival, roles)
    return dataclasses.replace(
        shadowed, challenger=dataclasses.replace(shadowed.challenger, escalation=Broken())
    )


def shadow_rows(db_url: str) -> dict[str, dict]:
    """The stored shadow scores by decision id."""
    with engine_for(db_url).connect() as connection:
        rows = connection.execute(select(ShadowScore.__table__)).mappings().all()
    return {row["score_id"]: dict(row) for row in rows}


#: Opened long enough before the small city's last record (20 May 2025) for the 180-day label to be
#: known: H-3's case escalated (an assault in April 2025), H-4's did not; H-1's June case has no label.
OPENED = {"opened_at": "2024-10-15T09:00:00+08:00", "as_of": "2024-10-15T10:00:00+08:00"}
LABELLED_CASES = [
    case_request("C-1", "H-3", counterparty=None, **OPENED),
    case_request("C-2", "H-4", counterparty=None, persons=[], **OPENED),
    case_request("C-3", "H-1"),
]
#: The challenger's loose gates for a report of three cases (``domain.yaml: challenger``).
LOOSE_GATES = {
    "min_cases": 3,
    "min_labelled": 2,
    "min_outcomes": 1,
    "max_auc_drop": 1.0,
    "max_ece_rise": 1.0,
    "movers_listed": 10,
}


def score_in_shadow(client, keys: dict[str, str], champions: Champions, rival: Champions) -> dict:
    """The small city's :data:`LABELLED_CASES` scored with ``rival`` as challenger; answers by case."""
    store = client.app.state.service.champions
    store._loader = lambda: with_challenger(champions, rival)
    store.reload()
    response = client.post(
        "/v1/cases/batch-score", json={"cases": LABELLED_CASES}, headers=auth(keys["scorer"])
    )
    assert response.status_code == 200, response.text
    return {r["case_id"]: r for r in response.json()["results"]}
