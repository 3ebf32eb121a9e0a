"""民转刑: each case's escalation chance from the simulated state at its opening, the draw, and the oracle.

The oracle ``p_escalation`` of a case is the probability, given everything the simulator knows
at the case's opening, that the label of docs/data-format.md is positive, i.e. that a violent
incident hits the household or the counterparty household within (opened_at, opened_at + H]:

    1 - (1 - p_own) · (1 - p_background) · Π_A (1 - p_A→case)

- ``p_own``: the chance this case itself escalates (a logistic function of the state at opening,
  the threats, police records and failed mediations before it, the people's true flags, the
  dispute, and an unobserved part);
- ``p_background``: the constant hazard of violence unrelated to any case, on both households;
- ``p_A→case``: for each earlier case A sharing a household, the chance that A's escalation,
  not yet happened at this opening, lands on a shared household inside this window.

Escalations of cases opened *later* inside the window are not foreseeable and are left out,
so the oracle is a (near) ceiling, not a perfect predictor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from triage.contract import DISPUTE_TYPES, ESCALATION_OFFENCES, OFFENCES
from triage.synth.dynamics import CRISIS, state_at
from triage.synth.events import Calls, Cases, Mediation, PoliceRecords
from triage.synth.params import DAY, Clock, draw_categorical, pick_member, sigmoid
from triage.synth.population import Population

NO_LOWER_BOUND = -(10**15)


@dataclass
class Escalation:
    p_own: np.ndarray
    oracle: np.ndarray
    incidents: PoliceRecords


def count_before(
    event_household: np.ndarray,
    event_t: np.ndarray,
    household: np.ndarray,
    lower: np.ndarray | int,
    upper: np.ndarray,
) -> np.ndarray:
    """Events of each household with ``lower <= t < upper``: sorted keys, two binary searches."""
    scale = 10**12
    keys = np.sort(event_household.astype(np.int64) * scale + event_t)
    base = household.astype(np.int64) * scale
    lower = np.maximum(np.asarray(lower), -scale // 2)
    return np.searchsorted(keys, base + upper, "left") - np.searchsorted(keys, base + lower, "left")


def simulate_escalation(
    rng,
    pop: Population,
    states,
    clock: Clock,
    params: dict,
    cases: Cases,
    calls: Calls,
    mediation: Mediation,
    background: PoliceRecords,
) -> Escalation:
    spec = params["escalation"]
    horizon = spec["horizon_days"] * DAY
    h, t = cases.household, cases.t
    threats = count_before(calls.household[calls.threat], calls.t[calls.threat], h, t - 90 * DAY, t)
    prior_records = count_before(background.household, background.t, h, t - 365 * DAY, t)
    failed = count_before(
        h[mediation.case[mediation.failed]], mediation.t[mediation.failed], h, NO_LOWER_BOUND, t
    )
    has_counterparty = cases.counterparty >= 0
    counterparty_crisis = has_counterparty & (
        state_at(states, np.maximum(cases.counterparty, 0), t) == CRISIS
    )

    logit = (
        spec["intercept"]
        + np.array(spec["state"])[cases.state]
        + spec["counterparty_crisis"] * counterparty_crisis
        + spec["threat_calls_90d"] * np.minimum(threats, spec["threat_calls_cap"])
        + spec["threat_in_description"] * cases.threat_in_description
        + spec["prior_incidents_365d"] * np.minimum(prior_records, spec["prior_incidents_cap"])
        + spec["failed_mediations"] * np.minimum(failed, spec["failed_mediations_cap"])
        + spec["distress"] * np.clip(pop.max_distress[h], 0, None)
        + spec["propensity"] * pop.propensity[h]
        + spec["log_parties"] * np.log(cases.parties - 1)
        + spec["log10_amount"] * np.log10(np.nan_to_num(cases.amount, nan=0.0) + 1)
        + np.array([spec["dispute_type"][d] for d in DISPUTE_TYPES])[cases.dispute]
        + spec["unobserved_sigma"] * rng.standard_normal(cases.n)
    )
    for flag in (
        "alcohol_problem",
        "prior_conviction",
        "mental_health_registry",
        "returned_migrant",
    ):
        logit += spec[flag] * pop.any_flag[flag][h]
    p_own = sigmoid(logit)

    escalates = rng.random(cases.n) < p_own
    delay = _delay_quantile(rng.random(cases.n), spec["delay_mean_days"] * DAY, horizon)
    on_counterparty = has_counterparty & (rng.random(cases.n) < spec["counterparty_involved_share"])
    victim_household = np.where(on_counterparty, cases.counterparty, h)
    violent = np.array([OFFENCES.index(o) for o in ESCALATION_OFFENCES])
    mix = np.array([spec["offences"][o] for o in ESCALATION_OFFENCES])
    offence = violent[draw_categorical(rng, np.broadcast_to(mix, (cases.n, len(mix))))]
    person = pick_member(rng, victim_household, pop.first_person, pop.n_persons)
    person_known = rng.random(cases.n) < params["incidents"]["person_known_share"]
    linked = rng.random(cases.n) < spec["link_case_share"]
    happened = escalates & (t + delay < clock.span)
    rows = np.flatnonzero(happened)
    incidents = PoliceRecords(
        victim_household[rows],
        (t + delay)[rows],
        offence[rows],
        np.where(person_known, person, -1)[rows],
        np.where(linked, np.arange(cases.n), -1)[rows],
    )

    background_rate = (
        params["incidents"]["background_violence_per_household_year"] * horizon / (365 * DAY)
    )
    p_background = 1 - np.exp(-background_rate * (1 + has_counterparty))
    p_from_earlier = _earlier_cases(cases, p_own, escalates, delay, spec, horizon)
    oracle = 1 - (1 - p_own) * (1 - p_background) * (1 - p_from_earlier)
    return Escalation(p_own, oracle, incidents)


def _delay_quantile(u: np.ndarray, mean: float, horizon: float) -> np.ndarray:
    """Exponential delays truncated to (0, horizon]; at least a minute after the opening."""
    delay = -mean * np.log1p(-u * (1 - np.exp(-horizon / mean)))
    return np.clip(delay, 60, horizon).astype(np.int64)


def _delay_cdf(x: np.ndarray, mean: float, horizon: float) -> np.ndarray:
    return np.where(
        x >= horizon, 1.0, -np.expm1(-np.maximum(x, 0) / mean) / -np.expm1(-horizon / mean)
    )


def _earlier_cases(cases: Cases, p_own, escalates, delay, spec, horizon) -> np.ndarray:
    """P(an earlier case's escalation, still pending at this opening, hits this window)."""
    share = spec["counterparty_involved_share"]
    has_cp = cases.counterparty >= 0
    index = np.arange(cases.n)
    earlier = pd.DataFrame(
        {
            "a": np.concatenate([index, index[has_cp]]),
            "household": np.concatenate([cases.household, cases.counterparty[has_cp]]),
            "lands": np.concatenate(
                [np.where(has_cp, 1 - share, 1.0), np.full(has_cp.sum(), share)]
            ),
        }
    )
    later = pd.DataFrame(
        {
            "b": np.concatenate([index, index[has_cp]]),
            "household": np.concatenate([cases.household, cases.counterparty[has_cp]]),
        }
    )
    pairs = earlier.merge(later, on="household")
    gap = cases.t[pairs["b"].to_numpy()] - cases.t[pairs["a"].to_numpy()]
    pairs = pairs[(gap > 0) & (gap < horizon)]
    pairs = pairs.groupby(["a", "b"], sort=True, as_index=False)["lands"].sum()
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    gap = cases.t[b] - cases.t[a]
    mean = spec["delay_mean_days"] * DAY
    done = _delay_cdf(gap, mean, horizon)
    pending = p_own[a] * (1 - done) / (1 - p_own[a] * done)
    already_happened = escalates[a] & (delay[a] <= gap)
    p_pair = np.where(already_happened, 0.0, pending * pairs["lands"].to_numpy())
    log_miss = np.bincount(b, weights=np.log1p(-np.minimum(p_pair, 1 - 1e-12)), minlength=cases.n)
    return 1 - np.exp(log_miss)


def escalation_labels(cases: Cases, records: PoliceRecords, span: int, horizon_days: int):
    """The label of docs/data-format.md and whether it is known (not censored), from the
    simulated records."""
    horizon = horizon_days * DAY
    violent = np.isin(records.offence, [OFFENCES.index(o) for o in ESCALATION_OFFENCES])
    vh, vt = records.household[violent], records.t[violent]
    start, stop = cases.t + 1, cases.t + horizon + 1  # (opened, opened + H]
    hits = count_before(vh, vt, cases.household, start, stop)
    cp = cases.counterparty >= 0
    hits[cp] += count_before(vh, vt, cases.counterparty[cp], start[cp], stop[cp])
    linked = records.case[violent]
    in_window = (
        (linked >= 0)
        & (vt > cases.t[np.maximum(linked, 0)])
        & (vt <= cases.t[np.maximum(linked, 0)] + horizon)
    )
    hits += np.bincount(linked[in_window], minlength=cases.n)
    labelled = cases.t + horizon <= span
    return hits > 0, labelled
