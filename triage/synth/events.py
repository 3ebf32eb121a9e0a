"""What the weekly states leave behind: calls, cases, mediation, screenings, assessments, police records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triage.contract import (
    CALL_CATEGORIES,
    CASE_SOURCES,
    CASE_STATUSES,
    CHANNELS,
    DISPUTE_TYPES,
    ESCALATION_OFFENCES,
    INSTRUMENTS,
    MEDIATION_OUTCOMES,
    OFFENCES,
    TIERS,
)
from triage.synth.dynamics import draw_weekly_events, state_at
from triage.synth.params import DAY, Clock, draw_categorical, ids, pick_member, sigmoid
from triage.synth.population import Population
from triage.synth.text import PhraseBook

S = np.dtypes.StringDType()


def with_nulls(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Text values as an object array with ``None`` (an empty field) where ``null``."""
    out = np.asarray(values).astype(object)
    out[null] = None
    return out


def codes(names, index: np.ndarray) -> np.ndarray:
    return np.array(names, dtype=object)[index]


def _by_state(mapping: dict, names) -> np.ndarray:
    """A (3, len(names)) weight table from ``{name: [calm, tense, crisis]}``."""
    return np.array([mapping.get(name, [0.0, 0.0, 0.0]) for name in names], dtype=float).T


@dataclass
class Calls:
    columns: dict
    household: np.ndarray
    t: np.ndarray
    threat: np.ndarray


def simulate_calls(
    rng, pop: Population, states, clock: Clock, params: dict, book: PhraseBook
) -> Calls:
    spec = params["calls"]
    ev = draw_weekly_events(
        rng, states, spec["rate_by_state"], clock, pop, per_household=pop.activity
    )
    n = len(ev.t)
    category = draw_categorical(
        rng, _by_state(spec["category_by_state"], CALL_CATEGORIES)[ev.state]
    )
    about_focus = rng.random(n) < spec["focus_category_share"]
    category[about_focus] = pop.focus[
        ev.household[about_focus]
    ]  # dispute types lead CALL_CATEGORIES
    boost = np.ones((len(CALL_CATEGORIES), len(CHANNELS)))
    for cat, channels in spec["channel_category_boost"].items():
        for channel, factor in channels.items():
            boost[CALL_CATEGORIES.index(cat), CHANNELS.index(str(channel))] = factor
    channel = draw_categorical(
        rng, _by_state(spec["channel_by_state"], CHANNELS)[ev.state] * boost[category]
    )
    threat = rng.random(n) < np.array(spec["threat_share_by_state"])[ev.state]
    traditional = rng.random(n) < spec["traditional_share"]
    text = book.call_text(
        rng, list(CHANNELS), channel, list(CALL_CATEGORIES), category, threat, traditional
    )
    matched = rng.random(n) >= spec["unmatched_share"]
    person_known = matched & (rng.random(n) < spec["person_known_share"])
    person = pick_member(rng, ev.household, pop.first_person, pop.n_persons)
    columns = {
        "call_id": ids("CL", n, 9),
        "received_at": clock.iso(ev.t),
        "channel": codes(CHANNELS, channel),
        "household_id": with_nulls(pop.household_id[ev.household], ~matched),
        "person_id": with_nulls(pop.persons["person_id"][person], ~person_known),
        "category": codes(CALL_CATEGORIES, category),
        "text": with_nulls(text, rng.random(n) < spec["text_missing_share"]),
    }
    return Calls(columns, ev.household, ev.t, threat)


@dataclass
class Cases:
    columns: dict  # every column but status and closed_at, known only after mediation
    household: np.ndarray
    counterparty: np.ndarray  # -1: none registered
    t: np.ndarray
    state: np.ndarray
    dispute: np.ndarray
    parties: np.ndarray
    amount: np.ndarray  # NaN: not recorded
    threat_in_description: np.ndarray

    @property
    def n(self) -> int:
        return len(self.t)


def simulate_cases(
    rng, pop: Population, states, clock: Clock, params: dict, book: PhraseBook
) -> Cases:
    spec = params["cases"]
    ev = draw_weekly_events(rng, states, spec["rate_by_state"], clock, pop)
    n = len(ev.t)
    dispute = draw_categorical(rng, _by_state(spec["type_by_state"], DISPUTE_TYPES)[ev.state])
    about_focus = rng.random(n) < spec["focus_type_share"]
    dispute[about_focus] = pop.focus[ev.household[about_focus]]
    source = draw_categorical(rng, _by_state(spec["source_by_state"], CASE_SOURCES)[ev.state])

    counterparty = _same_street_neighbour(rng, pop, ev.household)
    share = np.array([spec["counterparty_registered_share"][d] for d in DISPUTE_TYPES])
    has_counterparty = (counterparty >= 0) & (rng.random(n) < share[dispute])
    has_counterparty &= pop.registered_t[np.maximum(counterparty, 0)] <= ev.t
    counterparty = np.where(has_counterparty, counterparty, -1)

    median = np.array([spec["amount_median"][d] for d in DISPUTE_TYPES], dtype=float)
    amount = np.round(rng.lognormal(np.log(median[dispute]), spec["amount_sigma"]), 0)
    amount[rng.random(n) < spec["amount_missing_share"]] = np.nan
    wage = dispute == DISPUTE_TYPES.index("wage_arrears")
    many = np.clip(
        np.round(
            rng.lognormal(
                spec["wage_arrears_parties_log_mean"], spec["wage_arrears_parties_log_sigma"], n
            )
        ),
        2,
        10_000,
    )
    few = 2 + (rng.random(n) < spec["other_parties_extra_share"]) * rng.integers(1, 5, n)
    parties = np.where(wage, many, few).astype(np.int64)

    threat = rng.random(n) < np.array(spec["threat_in_description_by_state"])[ev.state]
    traditional = rng.random(n) < params["calls"]["traditional_share"]
    description = book.description(rng, list(DISPUTE_TYPES), dispute, threat, traditional)
    amount_text = np.where(np.isnan(amount), 0, amount).astype(np.int64).astype(S)
    columns = {
        "case_id": ids("C", n, 8),
        "opened_at": clock.iso(ev.t),
        "household_id": pop.household_id[ev.household],
        "counterparty_household_id": with_nulls(
            pop.household_id[np.maximum(counterparty, 0)], counterparty < 0
        ),
        "dispute_type": codes(DISPUTE_TYPES, dispute),
        "source": codes(CASE_SOURCES, source),
        "amount_cny": with_nulls(amount_text, np.isnan(amount)),
        "parties_count": parties.astype(S),
        "description": with_nulls(description, rng.random(n) < spec["description_missing_share"]),
    }
    return Cases(
        columns, ev.household, counterparty, ev.t, ev.state, dispute, parties, amount, threat
    )


def _same_street_neighbour(rng, pop: Population, household: np.ndarray) -> np.ndarray:
    """Another household of the same street for each given one (-1 when it is alone there)."""
    order = np.argsort(pop.street, kind="stable")
    position = np.empty(pop.n, dtype=np.int64)
    position[order] = np.arange(pop.n)
    sorted_street = pop.street[order]
    first = np.searchsorted(sorted_street, pop.street[household], "left")
    count = np.searchsorted(sorted_street, pop.street[household], "right") - first
    pick = first + (rng.random(len(household)) * np.maximum(count - 1, 0)).astype(np.int64)
    pick += pick >= position[household]  # skip the household itself
    return np.where(count >= 2, order[np.minimum(pick, pop.n - 1)], -1)


@dataclass
class Mediation:
    columns: dict
    case: np.ndarray
    t: np.ndarray
    failed: np.ndarray
    status: np.ndarray  # per case, index into CASE_STATUSES
    closed_t: np.ndarray  # per case, -1: not closed


def simulate_mediation(
    rng, cases: Cases, states, clock: Clock, params: dict, book: PhraseBook
) -> Mediation:
    """Xiangxi's 三二一 ladder: village ×3, township ×2, county, then (for some) court.

    Each attempt succeeds with a chance that falls when the household is tense or in crisis
    that week. The case's status and closing time are what the export shows at its end.
    """
    spec = params["mediation"]
    ladder = spec["ladder"]
    n, rungs = cases.n, len(ladder)
    gaps = (rng.exponential(spec["gap_days_mean"], (n, rungs)) + 1.0) * DAY
    t = cases.t[:, None] + np.cumsum(gaps, axis=1).astype(np.int64)
    state = state_at(states, np.broadcast_to(cases.household[:, None], t.shape), t)
    base = np.array([spec["agreement_base"][level] for level in ladder])
    logit = np.log(base / (1 - base))[None, :] + np.array(spec["agreement_state_effect"])[state]
    agree = rng.random((n, rungs)) < sigmoid(logit)

    first_agreement = np.where(agree.any(axis=1), agree.argmax(axis=1), rungs)
    to_court = rng.random(n) < spec["court_referral_share"]
    last_possible = np.where(to_court, rungs - 1, rungs - 2)
    stop = np.minimum(first_agreement, last_possible)
    withdraw_after = rng.integers(0, 3, n)
    withdrawn = (rng.random(n) < params["cases"]["withdrawn_share"]) & (withdraw_after < stop)
    stop = np.where(withdrawn, withdraw_after, stop)

    rung = np.arange(rungs)[None, :]
    happens = rung <= stop[:, None]
    agreed = agree & (rung == stop[:, None]) & ~withdrawn[:, None]
    level_changes = np.array([ladder[i] != ladder[i + 1] for i in range(rungs - 1)] + [True])
    outcome = np.where(
        rng.random((n, rungs)) < spec["party_absent_share"],
        MEDIATION_OUTCOMES.index("party_absent"),
        MEDIATION_OUTCOMES.index("no_agreement"),
    )
    outcome = np.where(
        level_changes[None, :] & (rung < stop[:, None]),
        MEDIATION_OUTCOMES.index("referred"),
        outcome,
    )
    outcome = np.where(agreed, MEDIATION_OUTCOMES.index("agreement"), outcome)

    last_t = t[np.arange(n), stop]
    status = np.select(
        [withdrawn, agreed.any(axis=1), stop == rungs - 1],
        [
            CASE_STATUSES.index("withdrawn"),
            CASE_STATUSES.index("mediated"),
            CASE_STATUSES.index("referred"),
        ],
        CASE_STATUSES.index("failed"),
    )
    closed_t = last_t + rng.integers(0, params["cases"]["closing_days_max"] * DAY, n)
    still_open = closed_t >= clock.span
    status = np.where(still_open, CASE_STATUSES.index("open"), status)
    closed_t = np.where(still_open, -1, closed_t)

    written = happens & (t < clock.span)
    case_of, rung_of = np.nonzero(written)
    at = t[case_of, rung_of]
    order = np.lexsort((rung_of, case_of, at))
    case_of, rung_of, at = case_of[order], rung_of[order], at[order]
    event_outcome = outcome[case_of, rung_of]
    m = len(at)
    traditional = rng.random(m) < params["calls"]["traditional_share"]
    note = book.mediation_note(rng, list(MEDIATION_OUTCOMES), event_outcome, traditional)
    columns = {
        "event_id": ids("M", m, 9),
        "case_id": cases.columns["case_id"][case_of],
        "at": clock.iso(at),
        "level": np.array(ladder, dtype=object)[rung_of],
        "outcome": codes(MEDIATION_OUTCOMES, event_outcome),
        "note": with_nulls(note, rng.random(m) < spec["note_missing_share"]),
    }
    failed = event_outcome != MEDIATION_OUTCOMES.index("agreement")
    return Mediation(columns, case_of, at, failed, status, closed_t)


@dataclass
class Psychology:
    screenings: dict
    assessments: dict
    assessment_oracle: dict


def _distress_now(rng, pop: Population, person, state, spec) -> np.ndarray:
    """A person's distress this week: their baseline plus the household's conflict."""
    return (
        pop.person_distress[person]
        + np.array(spec["distress_by_state"])[state]
        + 0.3 * rng.standard_normal(len(person))
    )


def simulate_psychology(rng, pop: Population, states, clock: Clock, params: dict) -> Psychology:
    """PHQ-9 / GAD-7 screenings and counsellor tiers (绿黄红), both driven by latent distress."""
    spec = params["screenings"]
    members = pop.n_persons.astype(float)
    ev = draw_weekly_events(
        rng, states, spec["rate_per_person_by_state"], clock, pop, per_household=members
    )
    n = len(ev.t)
    person = pick_member(rng, ev.household, pop.first_person, pop.n_persons)
    distress = _distress_now(rng, pop, person, ev.state, spec)
    phq9 = rng.random(n) < spec["phq9_share"]
    noise = rng.standard_normal(n)
    phq_score = np.clip(
        np.round(
            spec["phq9"]["intercept"]
            + spec["phq9"]["slope"] * distress
            + spec["phq9"]["noise"] * noise
        ),
        0,
        27,
    )
    gad_score = np.clip(
        np.round(
            spec["gad7"]["intercept"]
            + spec["gad7"]["slope"] * distress
            + spec["gad7"]["noise"] * noise
        ),
        0,
        21,
    )
    u = rng.random(n)
    item9 = sum(
        (u < sigmoid((distress - cut) / spec["item9_scale"])).astype(np.int64)
        for cut in spec["item9_cutpoints"]
    )
    screenings = {
        "screening_id": ids("S", n, 9),
        "person_id": pop.persons["person_id"][person],
        "at": clock.iso(ev.t),
        "instrument": codes(INSTRUMENTS, np.where(phq9, 0, 1)),
        "score": np.where(phq9, phq_score, gad_score).astype(np.int64).astype(S),
        "item9": with_nulls(item9.astype(S), ~phq9),
    }

    tier_spec = params["assessments"]
    ev = draw_weekly_events(
        rng, states, tier_spec["rate_per_person_by_state"], clock, pop, per_household=members
    )
    k = len(ev.t)
    person = pick_member(rng, ev.household, pop.first_person, pop.n_persons)
    eta = tier_spec["slope"] * _distress_now(rng, pop, person, ev.state, spec)
    low, high = tier_spec["cutpoints"]
    p_green = sigmoid(low - eta)
    p_not_red = sigmoid(high - eta)
    probabilities = np.column_stack([p_green, p_not_red - p_green, 1 - p_not_red])
    tier = draw_categorical(rng, probabilities)
    assessment_id = ids("A", k, 8)
    assessments = {
        "assessment_id": assessment_id,
        "person_id": pop.persons["person_id"][person],
        "at": clock.iso(ev.t),
        "tier": codes(TIERS, tier),
    }
    oracle = {
        "assessment_id": assessment_id,
        **{f"p_{name}": probabilities[:, i] for i, name in enumerate(TIERS)},
    }
    return Psychology(screenings, assessments, oracle)


@dataclass
class PoliceRecords:
    household: np.ndarray
    t: np.ndarray
    offence: np.ndarray  # index into OFFENCES
    person: np.ndarray  # -1: not recorded
    case: np.ndarray  # -1: not linked

    def __len__(self) -> int:
        return len(self.t)


def simulate_background_incidents(
    rng, pop: Population, states, clock: Clock, params: dict
) -> PoliceRecords:
    """Police records not caused by a case's escalation: threats and damage in bad weeks, and a
    rare constant hazard of violence that the oracle accounts for."""
    spec = params["incidents"]
    weeks_per_year = 365.0 / 7
    sources = [
        ("threat", spec["threat_rate_by_state"]),
        ("property_damage", spec["property_damage_rate_by_state"]),
        ("other", spec["other_rate_by_state"]),
        (None, [spec["background_violence_per_household_year"] / weeks_per_year] * 3),
    ]
    violent_mix = np.array([params["escalation"]["offences"][o] for o in ESCALATION_OFFENCES])
    households, times, offences = [], [], []
    for offence, rates in sources:
        ev = draw_weekly_events(rng, states, rates, clock, pop, hours=(0, 24))
        households.append(ev.household)
        times.append(ev.t)
        if offence is None:
            violent = np.array([OFFENCES.index(o) for o in ESCALATION_OFFENCES])
            offences.append(
                violent[draw_categorical(rng, np.broadcast_to(violent_mix, (len(ev.t), 5)))]
            )
        else:
            offences.append(np.full(len(ev.t), OFFENCES.index(offence)))
    household = np.concatenate(households)
    person = pick_member(rng, household, pop.first_person, pop.n_persons)
    person = np.where(rng.random(len(household)) < spec["person_known_share"], person, -1)
    return PoliceRecords(
        household,
        np.concatenate(times),
        np.concatenate(offences),
        person,
        np.full(len(household), -1),
    )


def link_to_recent_cases(rng, records: PoliceRecords, cases: Cases, params: dict) -> None:
    """The police sometimes link a record to the household's latest case opened shortly before."""
    spec = params["incidents"]
    unlinked = np.flatnonzero(records.case < 0)
    if len(unlinked) == 0 or cases.n == 0:
        return
    span = int(max(records.t.max(), cases.t.max())) + 1
    case_key = cases.household * span + cases.t
    order = np.argsort(case_key, kind="stable")
    record_key = records.household[unlinked] * span + records.t[unlinked]
    latest = np.searchsorted(case_key[order], record_key, "right") - 1
    candidate = order[np.maximum(latest, 0)]
    recent = (
        (latest >= 0)
        & (cases.household[candidate] == records.household[unlinked])
        & (records.t[unlinked] - cases.t[candidate] <= spec["link_to_recent_case_days"] * DAY)
    )
    link = recent & (rng.random(len(unlinked)) < spec["link_to_recent_case_share"])
    records.case[unlinked[link]] = candidate[link]
