"""Reviews as the override analytics read them, built in a line: ``fact("raise", escalated=True)``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path

import yaml

from tests.support.domain import domain_with
from triage.decisions.override_analytics import ReviewFact
from triage.settings import Settings

#: The moment the tests' windows end.
AS_OF = datetime(2025, 6, 30, 12, tzinfo=timezone.utc)
ROUTE = ("police_station", "family_mediation")
_ids = count(1)

#: An override of ``ROUTE`` (priority high) in each direction.
CHANGES = {
    "raise": dict(teams=(*ROUTE, "care_group")),
    "lower": dict(teams=("family_mediation",)),
    "mixed": dict(teams=("family_mediation", "care_group")),
    "same": dict(teams=ROUTE),
    "priority_down": dict(teams=ROUTE, priority="medium"),
}


def fact(
    kind: str = "agree",
    *,
    analyst: str = "a1",
    days_ago: float = 1,
    band: str = "high",
    escalated: bool | None = None,
    case_id: str | None = None,
    reviewed_at: datetime | None = None,
    **extra,
) -> ReviewFact:
    """An agreement (``kind="agree"``) or an override of the kind named in ``CHANGES``, made
    ``reviewed_at`` or ``days_ago`` before ``AS_OF``."""
    n = next(_ids)
    change = {} if kind == "agree" else CHANGES[kind]
    return ReviewFact(
        review_id=n,
        score_id=f"S-{n}",
        case_id=case_id or f"C-{n}",
        analyst=analyst,
        reviewed_at=reviewed_at or AS_OF - timedelta(days=days_ago),
        band=band,
        route_teams=ROUTE,
        route_priority="high",
        verdict="agree" if kind == "agree" else "override",
        teams=change.get("teams", ROUTE),
        priority=change.get("priority"),
        escalated=escalated,
        **extra,
    )


def facts(kind: str, n: int, **kwargs) -> list[ReviewFact]:
    return [fact(kind, **kwargs) for _ in range(n)]


def domain_with_thresholds(folder: Path, start: Path | None = None, **thresholds) -> Path:
    """``start`` (default: the shipped ``domain.yaml``) with these ``override_analytics`` values changed,
    written to ``folder / "domain.yaml"``."""
    domain = yaml.safe_load((start or Settings().domain_file).read_text(encoding="utf-8"))
    domain["override_analytics"] = {**domain["override_analytics"], **thresholds}
    return domain_with(folder, **domain)
