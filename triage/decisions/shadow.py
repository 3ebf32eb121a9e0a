"""The challenger in shadow: how its answers compare with the champions' on the same live cases, and
whether that allows its promotion (docs/models.md, "Promotion gates").

Every decision stored while a challenger is loaded has a ``shadow_scores`` row: what the challenger
would have answered.  The report reads the pairs of a window:

- each case counts once, with its first decision in the window that both scored (a later re-score
  may already know the outcome);
- bands agree when equal; routes agree when their team sets are equal;
- a case *would move* when its band or its teams differ; the report lists the largest changes of
  probability first;
- for cases whose label has arrived (the horizon passed before the end of the data, read as the
  override analytics read it) both models' ROC AUC and ECE on the same cases, computed only when
  there are ``min_outcomes`` escalations and non-escalations each.

The functions over :class:`ShadowFact` are pure; :func:`shadow_report` reads them from the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.metrics import roc_auc_score
from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.config.domain import ChallengerGate
from triage.contract import BANDS
from triage.db.service_models import Decision, ShadowScore
from triage.decisions.override_analytics import arrived_labels, data_end
from triage.evaluation.metrics import expected_calibration_error


@dataclass(frozen=True)
class ShadowFact:
    """One case as the champion answered it and as the challenger would have (``escalated``: None
    until its label arrives)."""

    score_id: str
    case_id: str
    champion_probability: float
    champion_band: str
    champion_teams: tuple[str, ...]
    challenger_probability: float
    challenger_band: str
    challenger_teams: tuple[str, ...]
    escalated: bool | None = None

    @property
    def same_band(self) -> bool:
        return self.champion_band == self.challenger_band

    @property
    def same_route(self) -> bool:
        return set(self.champion_teams) == set(self.challenger_teams)

    @property
    def change(self) -> float:
        return self.challenger_probability - self.champion_probability


class Mover(BaseModel):
    """A case whose band or teams the challenger would change."""

    case_id: str
    score_id: str
    champion_band: str
    challenger_band: str
    champion_teams: list[str]
    challenger_teams: list[str]
    champion_probability: float
    challenger_probability: float


class ModelOutcomes(BaseModel):
    auc: float | None = Field(description="ROC AUC on the labelled cases; null with too few")
    ece: float | None = Field(description="expected calibration error; null with too few")


class ShadowReport(BaseModel):
    since: datetime | None = Field(description="the window's start; null for every decision")
    champion_versions: list[str] = Field(description="the champion versions of the decisions read")
    challenger_versions: list[str] = Field(description="the challenger versions compared")
    cases: int = Field(description="cases both models scored")
    band_agreement: float | None = Field(description="share of cases with the same band")
    bands: dict[str, dict[str, int]] = Field(
        description="cases by champion band (outer) and challenger band (inner)"
    )
    route_agreement: float | None = Field(description="share of cases with the same team set")
    moving: int = Field(description="cases whose band or teams would change")
    movers: list[Mover] = Field(description="the largest changes of probability first, cut")
    labelled: int = Field(description="cases whose label has arrived")
    escalated: int = Field(description="labelled cases that escalated")
    min_outcomes: int = Field(description="escalations and non-escalations each needed for AUC")
    champion: ModelOutcomes
    challenger: ModelOutcomes
    horizon_days: int
    data_end: datetime | None = Field(
        description="the end of the data: labels are known for cases opened H days before it"
    )


def _outcomes(y: np.ndarray, p: np.ndarray, enough: bool) -> ModelOutcomes:
    if not enough:
        return ModelOutcomes(auc=None, ece=None)
    return ModelOutcomes(
        auc=float(roc_auc_score(y, p)), ece=expected_calibration_error(y.astype(float), p)
    )


def summarise(
    facts: Sequence[ShadowFact],
    gate: ChallengerGate,
    *,
    horizon_days: int,
    since: datetime | None = None,
    end: datetime | None = None,
    champion_versions: Sequence[str] = (),
    challenger_versions: Sequence[str] = (),
) -> ShadowReport:
    cases = len(facts)
    bands = {mine: {theirs: 0 for theirs in BANDS} for mine in BANDS}
    for fact in facts:
        bands[fact.champion_band][fact.challenger_band] += 1
    moving = sorted(
        (f for f in facts if not (f.same_band and f.same_route)),
        key=lambda f: (-abs(f.change), f.case_id),
    )
    labelled = [f for f in facts if f.escalated is not None]
    y = np.array([f.escalated for f in labelled], dtype=bool)
    positives = int(y.sum())
    enough = min(positives, len(y) - positives) >= gate.min_outcomes
    return ShadowReport(
        since=since,
        champion_versions=sorted(champion_versions),
        challenger_versions=sorted(challenger_versions),
        cases=cases,
        band_agreement=sum(f.same_band for f in facts) / cases if cases else None,
        bands=bands,
        route_agreement=sum(f.same_route for f in facts) / cases if cases else None,
        moving=len(moving),
        movers=[
            Mover(
                case_id=f.case_id,
                score_id=f.score_id,
                champion_band=f.champion_band,
                challenger_band=f.challenger_band,
                champion_teams=list(f.champion_teams),
                challenger_teams=list(f.challenger_teams),
                champion_probability=f.champion_probability,
                challenger_probability=f.challenger_probability,
            )
            for f in moving[: gate.movers_listed]
        ],
        labelled=len(labelled),
        escalated=positives,
        min_outcomes=gate.min_outcomes,
        champion=_outcomes(y, np.array([f.champion_probability for f in labelled]), enough),
        challenger=_outcomes(y, np.array([f.challenger_probability for f in labelled]), enough),
        horizon_days=horizon_days,
        data_end=end,
    )


def gate_failures(report: ShadowReport, gate: ChallengerGate) -> list[str]:
    """Why the report does not allow promoting the challenger, one line each; empty when it does."""
    failures = []
    if report.cases < gate.min_cases:
        failures.append(f"{report.cases} cases scored by both models, fewer than {gate.min_cases}")
    if report.labelled < gate.min_labelled:
        failures.append(f"{report.labelled} cases labelled, fewer than {gate.min_labelled}")
    mine, theirs = report.champion, report.challenger
    if mine.auc is None or theirs.auc is None:
        failures.append(
            f"AUC not computed: fewer than {gate.min_outcomes} escalations or non-escalations"
        )
        return failures
    if theirs.auc < mine.auc - gate.max_auc_drop:
        failures.append(
            f"challenger AUC {theirs.auc:.4f} below the champion's {mine.auc:.4f} "
            f"by more than {gate.max_auc_drop}"
        )
    if theirs.ece > mine.ece + gate.max_ece_rise:
        failures.append(
            f"challenger ECE {theirs.ece:.4f} above the champion's {mine.ece:.4f} "
            f"by more than {gate.max_ece_rise}"
        )
    return failures


# --- reading the service database ---------------------------------------------------------------


def _teams(wrapped: str) -> tuple[str, ...]:
    inner = wrapped.strip(";")
    return tuple(inner.split(";")) if inner else ()


def read_facts(
    session: Session,
    horizon_days: int,
    since: datetime | None = None,
    challenger: dict[str, str] | None = None,
) -> tuple[list[ShadowFact], datetime | None, set[str], set[str]]:
    """Each case's first decision both scored since ``since`` (of the ``challenger`` versions by
    role, when given), with its label; the end of the data; the champion and challenger versions."""
    query = (
        select(
            Decision.score_id,
            Decision.case_id,
            Decision.household_id,
            Decision.request[("case", "opened_at")].as_string(),
            Decision.request[("case", "counterparty_household_id")].as_string(),
            Decision.probability,
            Decision.band,
            Decision.teams,
            Decision.escalation_version,
            Decision.tier_version,
            ShadowScore.probability,
            ShadowScore.band,
            ShadowScore.teams,
            ShadowScore.escalation_version,
            ShadowScore.tier_version,
        )
        .join(ShadowScore, ShadowScore.score_id == Decision.score_id)
        .order_by(Decision.created_at, Decision.score_id)
    )
    if since is not None:
        query = query.where(Decision.created_at >= since)
    for role, version in (challenger or {}).items():
        query = query.where(getattr(ShadowScore, f"{role}_version") == version)
    first: dict[str, tuple] = {}
    for row in session.execute(query):
        first.setdefault(row[1], row)
    rows = list(first.values())
    end = data_end(session) if rows else None
    cases = pd.DataFrame(
        [(r[1], r[3], r[2], r[4]) for r in rows],
        columns=["case_id", "opened_at", "household_id", "counterparty_household_id"],
    )
    cases["opened_at"] = pd.to_datetime(cases["opened_at"], utc=True, format="ISO8601")
    labels = arrived_labels(session, cases, horizon_days, end)
    facts = [
        ShadowFact(
            score_id=r[0],
            case_id=r[1],
            champion_probability=r[5],
            champion_band=r[6],
            champion_teams=_teams(r[7]),
            challenger_probability=r[10],
            challenger_band=r[11],
            challenger_teams=_teams(r[12]),
            escalated=labels.get(r[1]),
        )
        for r in rows
    ]
    champions = {v for r in rows for v in (r[8], r[9])}
    challengers = {v for r in rows for v in (r[13], r[14])} - champions
    return facts, end, champions, challengers


def shadow_report(
    session: Session,
    gate: ChallengerGate,
    horizon_days: int,
    since: datetime | None = None,
    challenger: dict[str, str] | None = None,
) -> ShadowReport:
    """What ``triage compare``, ``GET /v1/shadow`` and the workbench's challenger page show."""
    facts, end, champions, challengers = read_facts(session, horizon_days, since, challenger)
    return summarise(
        facts,
        gate,
        horizon_days=horizon_days,
        since=since,
        end=end,
        champion_versions=champions,
        challenger_versions=set((challenger or {}).values()) | challengers,
    )
