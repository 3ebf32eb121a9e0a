"""``domain.yaml`` as typed constants: read and checked once per file, then passed in.

Each section is a model of its own so a function takes only the part it needs (the follow-up
rules, the fairness gate, ...) and a mistyped or missing key fails when the file is read, not in
the middle of a request.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    model_validator,
)

from triage.contract import BANDS, TABLES, Band


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bilingual(_Section):
    zh: str
    en: str


class Escalation(_Section):
    #: Share of calibration cases at or above each band above the lowest (critical = top 5 %).
    band_top_shares: dict[Band, float]

    @model_validator(mode="after")
    def _every_upper_band(self) -> Escalation:
        if set(self.band_top_shares) != set(BANDS[1:]):
            raise ValueError(f"band_top_shares needs exactly the bands {list(BANDS[1:])}")
        return self


ScreeningCondition = dict[Literal["phq9_at_least", "item9_at_least", "gad7_at_least"], int]


class AnyOf(_Section):
    any: list[ScreeningCondition]


class TierRule(_Section):
    max_age_days: PositiveInt
    red: AnyOf
    yellow: AnyOf
    #: Each instrument's severity names by score range (for people reading the rule).
    bands: dict[str, list[tuple[int, int, str]]]


class Evaluation(_Section):
    backtest_folds: PositiveInt
    test_months: PositiveInt
    calibration_share: float = Field(gt=0, lt=1)


class TierModel(_Section):
    red_recall_target: float = Field(ge=0, le=1)
    set_confidence: float = Field(gt=0, lt=1)


class EscalationGate(_Section):
    max_auc_drop: float
    max_ece: float


class TierGate(_Section):
    max_macro_f1_drop: float


class FairnessGate(_Section):
    gated_attributes: list[str]
    max_gap: dict[Literal["calibration", "tpr"], float]
    min_group_cases: PositiveInt
    min_group_outcomes: PositiveInt
    bootstrap: PositiveInt
    confidence: float = Field(gt=0, lt=1)


class RetrainGate(_Section):
    min_auc_gain: float
    min_macro_f1_gain: float


class Gates(_Section):
    escalation: EscalationGate
    tier: TierGate
    fairness: FairnessGate
    retrain: RetrainGate


class ChecklistItem(_Section):
    feature: str
    at_least: float


class Monitoring(_Section):
    reference_rows: PositiveInt
    recent_months: PositiveInt
    psi_bins: PositiveInt
    psi_floor: float
    psi_warn: float
    psi_alert: float
    alpha: float
    unseen_category_share_alert: float
    trending_features: list[str]
    warn_features: PositiveInt
    alert_features: PositiveInt
    score_psi_warn: float
    score_psi_alert: float
    quarantine_share_warn: float
    quarantine_share_alert: float
    min_month_cases: PositiveInt
    auc_drop_warn: float
    auc_drop_alert: float
    auc_drop_z: float
    calibration_gap_warn: float


class Population(_Section):
    range_quantiles: tuple[float, float]
    range_slack: float
    max_listed_features: PositiveInt
    history_features: list[str]
    unchecked_features: list[str]


class Rescoring(_Section):
    mediation_failures: list[str]
    mediated_outcomes: list[str]
    max_listed_records: PositiveInt


class Followups(_Section):
    intervals_days: list[PositiveInt]
    grace_days: NonNegativeInt
    outcomes: dict[str, Bilingual]
    rescore_outcomes: list[str]

    @model_validator(mode="after")
    def _known_rescore_outcomes(self) -> Followups:
        unknown = set(self.rescore_outcomes) - set(self.outcomes)
        if unknown:
            raise ValueError(f"rescore_outcomes names unknown outcomes {sorted(unknown)}")
        return self


class OverrideThresholds(_Section):
    """When the override analytics raise an alert (automation bias, overrides all one way)."""

    window_days: int = Field(
        ge=1, le=3650, description="the alerts judge the reviews of these days"
    )
    max_agreement: float = Field(
        gt=0, lt=1, description="agreement above this share → automation-bias alert"
    )
    one_way_share: float = Field(
        gt=0.5, le=1, description="this share of overrides or more one way → one-way alert"
    )
    min_reviews: int = Field(ge=1, description="fewer reviews → no automation-bias alert")
    min_overrides: int = Field(ge=1, description="fewer overrides → no one-way alert")


class ChallengerGate(_Section):
    """When the challenger's shadow report allows its promotion (``triage promote-challenger``)."""

    min_cases: PositiveInt = Field(description="cases both models scored, at least")
    min_labelled: PositiveInt = Field(description="of them with their label arrived, at least")
    min_outcomes: PositiveInt = Field(
        description="escalations and non-escalations each among the labelled before AUC and ECE count"
    )
    max_auc_drop: float = Field(ge=0, le=1, description="challenger AUC ≥ champion AUC − this")
    max_ece_rise: float = Field(ge=0, le=1, description="challenger ECE ≤ champion ECE + this")
    movers_listed: PositiveInt = Field(description="cases that would move listed in the report")


#: The rule of ``retention`` that masks stored decisions' raw values (not an exchange table).
DECISIONS = "decisions"


def _referenced_tables() -> frozenset[str]:
    return frozenset(
        c.references.split(".")[0] for t in TABLES.values() for c in t.columns if c.references
    )


class RetentionRule(_Section):
    """One rule: past ``days`` from a row's own time, ``delete`` it or ``mask`` its ``columns``."""

    table: str
    data: str = Field(pattern=r"^[a-z][a-z_]*$", description="the kind of data, e.g. health")
    action: Literal["delete", "mask"]
    columns: list[str] = []
    days: int = Field(gt=0, description="the period, from the row's own time")

    @model_validator(mode="after")
    def _runs_on_its_table(self) -> "RetentionRule":
        if self.table == DECISIONS:
            if self.action != "mask" or self.columns:
                raise ValueError("decisions: action mask and no columns (the raw values are fixed)")
            return self
        if self.table not in TABLES:
            raise ValueError(f"unknown table {self.table!r}")
        spec = TABLES[self.table]
        if self.action == "delete":
            if self.columns:
                raise ValueError(f"{self.table}: a delete names no columns")
            if self.table in _referenced_tables():
                raise ValueError(f"{self.table}: other tables refer to its rows; mask its columns")
            if spec.time_column is None:
                raise ValueError(f"{self.table} has no time column to count a period from")
            return self
        if not self.columns:
            raise ValueError(f"{self.table}: a mask names its columns")
        for name in self.columns:
            if name not in spec.column_names:
                raise ValueError(f"{self.table} has no column {name!r}")
            if not spec.column(name).nullable:
                raise ValueError(f"{self.table}.{name} may not be empty, so it cannot be masked")
        return self


class RetentionPolicy(_Section):
    """``retention``: periods per table and kind of data (docs/domain.md "Retention")."""

    placeholders: bool = Field(
        True, description="the periods are the shipped placeholders, not a centre's own"
    )
    rules: list[RetentionRule] = Field(min_length=1)


class Domain(_Section):
    escalation: Escalation
    tier_rule: TierRule
    teams: dict[str, Bilingual]
    #: Cases each team can take up in one day (the capacity-aware queue).
    capacity: dict[str, NonNegativeInt]
    evaluation: Evaluation
    tier_model: TierModel
    gates: Gates
    checklist: list[ChecklistItem]
    monitoring: Monitoring
    population: Population
    rescoring: Rescoring
    followups: Followups
    override_analytics: OverrideThresholds
    challenger: ChallengerGate
    retention: RetentionPolicy

    @model_validator(mode="after")
    def _capacity_of_every_team(self) -> Domain:
        teams, listed = set(self.teams), set(self.capacity)
        if teams != listed:
            raise ValueError(
                f"capacity must list every team once: missing {sorted(teams - listed)}, "
                f"unknown {sorted(listed - teams)}"
            )
        return self


class DomainFileInvalid(ValueError):
    """``domain.yaml`` does not describe constants the service can run on; says where, in one line."""


@lru_cache(maxsize=8)
def load_domain(path: Path) -> Domain:
    """The domain constants of ``path`` (``Settings.domain_file``), read and checked once."""
    with open(path, encoding="utf-8") as fh:
        plain = yaml.safe_load(fh)
    try:
        return Domain.model_validate(plain)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise DomainFileInvalid(f"{Path(path).name} {where}: {first['msg']}") from None
