"""The weekly conflict state of every household (calm → tense → crisis) and the events it drives.

One Markov step per week, vectorised over households; events are Poisson counts per
household-week whose rate depends on that week's state, drawn in blocks of weeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triage.synth.params import DAY, WEEK, Clock, sigmoid
from triage.synth.population import Population

CALM, TENSE, CRISIS = 0, 1, 2
BURN_IN_WEEKS = 26
BLOCK_WEEKS = 16


def simulate_states(
    rng: np.random.Generator, pop: Population, clock: Clock, params: dict
) -> np.ndarray:
    """States as an int8 array of shape (weeks, households).

    A household registered during the period is calm until it registers: it had no
    history the centre could know of.
    """
    spec = params["dynamics"]
    flags = {k: v.astype(float) for k, v in pop.any_flag.items()}
    up = spec["calm_to_tense"]
    calm_logit = (
        up["base"]
        + up["propensity"] * pop.propensity
        + up["alcohol"] * flags["alcohol_problem"]
        + up["prior_conviction"] * flags["prior_conviction"]
        + up["returned_migrant"] * flags["returned_migrant"]
        + up["low_income"] * pop.low_income
    )
    p_calm_up = sigmoid(calm_logit)
    p_calm_up_festival = sigmoid(
        calm_logit + up["spring_festival_migrant"] * flags["returned_migrant"]
    )
    worse = spec["tense_to_crisis"]
    p_tense_up = sigmoid(
        worse["base"]
        + worse["propensity"] * pop.propensity
        + worse["alcohol"] * flags["alcohol_problem"]
        + worse["prior_conviction"] * flags["prior_conviction"]
        + worse["mental_health_registry"] * flags["mental_health_registry"]
    )
    p_tense_down = spec["tense_to_calm"]
    p_crisis_to_tense, p_crisis_to_calm = spec["crisis_to_tense"], spec["crisis_to_calm"]

    festival = np.isin(clock.week_of_year(), spec["spring_festival_weeks_of_year"])
    registered_week = np.maximum(pop.registered_t, 0) // WEEK
    state = np.searchsorted(
        np.cumsum(spec["start_state_shares"]), rng.random(pop.n) * sum(spec["start_state_shares"])
    ).astype(np.int8)
    states = np.empty((clock.n_weeks, pop.n), dtype=np.int8)
    for week in range(-BURN_IN_WEEKS, clock.n_weeks):
        u = rng.random(pop.n)
        p_up = p_calm_up_festival if week >= 0 and festival[week] else p_calm_up
        calm, tense, crisis = state == CALM, state == TENSE, state == CRISIS
        new = state.copy()
        new[calm & (u < p_up)] = TENSE
        new[tense & (u < p_tense_up)] = CRISIS
        new[tense & (u >= p_tense_up) & (u < p_tense_up + p_tense_down)] = CALM
        new[crisis & (u < p_crisis_to_tense)] = TENSE
        new[crisis & (u >= p_crisis_to_tense) & (u < p_crisis_to_tense + p_crisis_to_calm)] = CALM
        if week >= 0:
            new[registered_week > week] = CALM
            states[week] = new
        state = new
    return states


@dataclass
class WeeklyEvents:
    """Events drawn from household-weeks: who, when (seconds on the clock) and in which state."""

    household: np.ndarray
    t: np.ndarray
    state: np.ndarray

    def take(self, keep: np.ndarray) -> "WeeklyEvents":
        return WeeklyEvents(self.household[keep], self.t[keep], self.state[keep])


def draw_weekly_events(
    rng: np.random.Generator,
    states: np.ndarray,
    rate_by_state,
    clock: Clock,
    pop: Population,
    per_household: np.ndarray | None = None,
    hours: tuple[int, int] = (7, 22),
) -> WeeklyEvents:
    """Poisson(rate[state] × per_household) events per household-week, at a time of day in ``hours``.

    Events before the household registered or after the last simulated day are dropped.
    """
    rate = np.asarray(rate_by_state, dtype=float)
    households, weeks = [], []
    for first in range(0, states.shape[0], BLOCK_WEEKS):
        block = states[first : first + BLOCK_WEEKS]
        lam = rate[block] if per_household is None else rate[block] * per_household[None, :]
        counts = rng.poisson(lam)
        week, household = np.nonzero(counts)
        n = counts[week, household]
        households.append(np.repeat(household, n))
        weeks.append(np.repeat(week + first, n))
    household = np.concatenate(households)
    week = np.concatenate(weeks)
    t = (
        week * WEEK
        + rng.integers(0, 7, len(week)) * DAY
        + rng.integers(hours[0] * 3600, hours[1] * 3600, len(week))
    )
    events = WeeklyEvents(household, t, states[week, household])
    keep = (t < clock.span) & (t >= pop.registered_t[household])
    order = np.argsort(t[keep], kind="stable")
    return events.take(np.flatnonzero(keep)[order])


def state_at(states: np.ndarray, household: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The state of each household in the week of ``t`` (the last week for later times)."""
    week = np.clip(t // WEEK, 0, states.shape[0] - 1)
    return states[week, household]
