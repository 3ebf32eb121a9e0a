"""Routing rules as data: which teams get a case, how fast, and why.

The rules live in ``config/routing.yaml`` so that an administrator can read and change them.
Each rule is a declarative match (band, dispute type, persons' tiers, numeric facts about the
case and its history) validated with pydantic when the file is loaded; nothing in the file is
executed.  A route is the union of the matching rules' teams, the most urgent priority, the
shortest response time and every matching rule's reason.  No match falls back to ``default``.

A rule that tests facts or persons' tiers is a *safeguard*: it routes the case whatever the
score says, so its teams and priority are the route's ``required_teams`` / ``required_priority``,
which an analyst may lower only with a second analyst's confirmation (four eyes).
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.contract import BANDS, DISPUTE_TYPES, TIERS, Band

log = logging.getLogger(__name__)

#: A route's urgency, on the same scale as the bands.
Priority = Band
PRIORITY_RANK: dict[str, int] = {band: rank for rank, band in enumerate(BANDS)}


def override_direction(
    route_teams: list[str], route_priority: str, teams: list[str], priority: str | None
) -> str:
    """Which way an override moved a route: ``raise`` (teams added or priority raised, nothing taken
    away), ``lower`` (teams dropped or priority lowered, nothing added), ``mixed`` or ``same``."""
    added, removed = set(teams) - set(route_teams), set(route_teams) - set(teams)
    step = PRIORITY_RANK[priority or route_priority] - PRIORITY_RANK[route_priority]
    up, down = bool(added) or step > 0, bool(removed) or step < 0
    return "mixed" if up and down else "raise" if up else "lower" if down else "same"


#: Facts a rule may test, with what they count (computed by ``triage.features.facts``).
FACTS: dict[str, str] = {
    "incidents_12m": "police incidents of the household or counterparty in the 365 days to as_of",
    "violent_incidents_prior": "escalation-offence incidents (assault … arson) of either household before as_of",
    "threat_incidents_30d": "police incidents with offence 'threat' of either household in the last 30 days",
    "weapon_mentions_30d": "the case description and calls of the last 30 days that name a weapon",
    "max_item9_90d": "highest PHQ-9 item 9 of a named or household person in the last 90 days (-1: none)",
    "failed_mediations_12m": "mediation events without agreement on either household's cases in 365 days",
    "prior_cases_12m": "earlier cases of either household in the 365 days to as_of",
    "alcohol_problem_persons": "named or household persons flagged for alcohol trouble (酗酒滋事)",
    "prior_conviction_persons": "named or household persons released from prison (刑满释放)",
    "mental_health_registry_persons": "named or household persons on the severe-mental-disorder registry",
    "parties_count": "parties to the case",
    "amount_cny": "amount in dispute (-1 when not given)",
}
FactName = Literal[tuple(FACTS)]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bound(_Strict):
    """A numeric test on one fact; every bound given must hold."""

    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> "Bound":
        if all(v is None for v in (self.gte, self.gt, self.lte, self.lt)):
            raise ValueError("a fact test needs at least one of gte, gt, lte, lt")
        return self

    def holds(self, value: float) -> bool:
        return (
            (self.gte is None or value >= self.gte)
            and (self.gt is None or value > self.gt)
            and (self.lte is None or value <= self.lte)
            and (self.lt is None or value < self.lt)
        )


class Match(_Strict):
    """What a case must show for a rule to fire: every part given must hold (logical AND)."""

    band: list[Band] | None = None
    dispute_type: list[Literal[DISPUTE_TYPES]] | None = None  # type: ignore[valid-type]
    tier: list[Literal[TIERS]] | None = Field(
        None, description="some named person has one of these tiers"
    )
    facts: dict[FactName, Bound] = Field(default_factory=dict)


class Text(_Strict):
    zh: str
    en: str


class Rule(_Strict):
    id: str
    when: Match
    teams: list[str] = Field(min_length=1)
    priority: Priority
    respond_within_hours: float = Field(gt=0)
    reason: Text

    @property
    def safeguard(self) -> bool:
        """Fires on facts or tiers, not on the score alone: its route is required, not advised."""
        return bool(self.when.facts) or self.when.tier is not None


class Fallback(_Strict):
    teams: list[str] = Field(min_length=1)
    priority: Priority
    respond_within_hours: float = Field(gt=0)
    reason: Text


class RouteInput(_Strict):
    """Everything a rule can look at for one case."""

    band: Band
    dispute_type: str
    tiers: list[str] = Field(default_factory=list)
    facts: dict[str, float] = Field(default_factory=dict)


class Route(_Strict):
    teams: list[str]
    priority: Priority
    respond_within_hours: float
    reasons: list[str] = Field(description="why, in Chinese, one per matching rule")
    reasons_en: list[str] = Field(description="the same reasons in English")
    rules: list[str] = Field(description="ids of the matching rules in routing.yaml")
    required_teams: list[str] = Field(
        default_factory=list,
        description="teams that safeguard rules (facts, tiers) require whatever the score; "
        "an override dropping one needs a second analyst",
    )
    required_priority: Priority | None = Field(
        None,
        description="the most urgent priority a safeguard rule requires (null when none fired)",
    )


class RoutingRules(_Strict):
    """The parsed rules file; ``route`` is the evaluator."""

    rules: list[Rule] = Field(min_length=1)
    default: Fallback
    weapon_words: list[str] = Field(
        default_factory=list, description="words that name a weapon in text"
    )

    def check_teams(self, known: set[str]) -> "RoutingRules":
        """Fail at load when a rule names a team that ``domain.yaml`` does not define."""
        unknown = {t for r in [*self.rules, self.default] for t in r.teams} - known
        if unknown:
            raise ValueError(f"routing rules name unknown teams: {sorted(unknown)}")
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("routing rule ids must be unique")
        return self

    def matches(self, rule: Rule, case: RouteInput) -> bool:
        m = rule.when
        if m.band is not None and case.band not in m.band:
            return False
        if m.dispute_type is not None and case.dispute_type not in m.dispute_type:
            return False
        if m.tier is not None and not set(m.tier) & set(case.tiers):
            return False
        return all(
            name in case.facts and bound.holds(case.facts[name]) for name, bound in m.facts.items()
        )

    def route(self, case: RouteInput) -> Route:
        fired = [r for r in self.rules if self.matches(r, case)] or [self.default]
        # Teams of the most urgent rules first; a team named twice keeps its first place.
        ordered = sorted(fired, key=lambda r: -PRIORITY_RANK[r.priority])
        teams = list(dict.fromkeys(t for r in ordered for t in r.teams))
        safeguards = [r for r in ordered if isinstance(r, Rule) and r.safeguard]
        return Route(
            teams=teams,
            priority=max((r.priority for r in fired), key=PRIORITY_RANK.__getitem__),
            respond_within_hours=min(r.respond_within_hours for r in fired),
            reasons=[r.reason.zh for r in ordered],
            reasons_en=[r.reason.en for r in ordered],
            rules=[getattr(r, "id", "default") for r in ordered],
            required_teams=list(dict.fromkeys(t for r in safeguards for t in r.teams)),
            required_priority=max(
                (r.priority for r in safeguards), key=PRIORITY_RANK.__getitem__, default=None
            ),
        )

    def required(self, route: dict) -> tuple[list[str], str | None]:
        """A stored route's required teams and priority; routes stored before they were recorded
        are read through the rules they name (those still in this file)."""
        if "required_teams" in route:
            return route["required_teams"], route.get("required_priority")
        named = set(route.get("rules", ()))
        safeguards = [r for r in self.rules if r.id in named and r.safeguard]
        return (
            list(dict.fromkeys(t for r in safeguards for t in r.teams)),
            max((r.priority for r in safeguards), key=PRIORITY_RANK.__getitem__, default=None),
        )


def load_routing(path: Path, known_teams: set[str]) -> RoutingRules:
    """Read and validate a rules file; raises ``ValueError`` (pydantic's included) on any mistake."""
    with open(path, encoding="utf-8") as fh:
        return RoutingRules.model_validate(yaml.safe_load(fh)).check_teams(known_teams)


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float, teams: frozenset[str]) -> RoutingRules:
    return load_routing(Path(path), set(teams))


def current_routing(path: Path, known_teams: set[str]) -> RoutingRules:
    """The rules file as it is now on disk: an administrator's edit is picked up on the next case."""
    return _cached(str(path), Path(path).stat().st_mtime, frozenset(known_teams))


class RoutingUnavailable(RuntimeError):
    """The rules file is broken and no good version of it was ever read."""


class RoutingFile:
    """The rules file as the service follows it: an edit is picked up on the next case, and a broken or
    half-written file keeps the last good rules in force (logged once per change, shown by ``problem``)."""

    def __init__(self, path: Path, known_teams: set[str]):
        self.path, self.teams = Path(path), set(known_teams)
        self.problem: str | None = None
        self._good: RoutingRules | None = None
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def current(self) -> RoutingRules:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = (-1, -1)
        with self._lock:
            if stamp != self._seen:
                self._read(stamp)
            if self._good is None:
                raise RoutingUnavailable(f"no valid routing rules: {self.problem}")
            return self._good

    def _read(self, stamp: tuple[int, int]) -> None:
        self._seen = stamp
        try:
            self._good, self.problem = load_routing(self.path, self.teams), None
        except (OSError, ValueError, yaml.YAMLError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.problem = f"{self.path.name} is broken ({type(exc).__name__}: {reason})"
            log.error(
                "routing rules: %s; %s",
                self.problem,
                "keeping the last good rules"
                if self._good
                else "no good rules to keep: scoring is refused",
            )
