"""A second city, written without `triage generate`, to judge the models on data they were not
developed on.

The story, in the generator's own terms:

- Each household carries a static *volatility* (drinking, former prisoners and severe-mental-disorder
  registry members among its adults, returned migrant men, hardship, its members' baseline distress and a
  hidden part) and a weekly *grievance* that decays and is pushed up by life shocks, by each dispute it
  is part of, by failed or skipped mediation, by threats and by violence.
- Households open disputes at a rate of their own; a few pairs of neighbours are in a long feud and keep
  bringing cases against each other, each one hotter than the last.  Wage-arrears cases take their heat
  from the sum owed, the months of delay and the number of workers, hardly from the family.
- A dispute brews for a few weeks (its household may call the hotlines) before it is registered.  It
  gets a *heat* (both households' volatility and grievance, the feud, the dispute, and a hidden part
  that leaks into the calls while it brews, the intake text and the source).  Heat sets the hazard of a
  *crisis*, which decays with the case's age; in crisis the households call the hotlines, sometimes a
  threat reaches the police, and the crisis ends either in violence (assault … arson, recorded on both
  households and linked to the case) or defused.  Mediation climbs village → township → county → court,
  and fails more often the hotter the case.
- Households also suffer violence unrelated to any case, at a rate set by their volatility.
- Persons carry a distress that rises with their household's grievance; screenings (PHQ-9, GAD-7) are
  noisy readings of it and a counsellor's 绿黄红 tier is an ordinal logit of it.

Because a case's crisis and violence are drawn from hazards fixed at opening, ``_oracle/cases.csv``
holds P(label = 1 | the generator's state at opening): the case itself, the other disputes of either
household already born (brewing, ended, in crisis, or not yet), violence unrelated to cases, and the
expected violence of disputes born inside the window (Campbell's formula over their rates, with the
disputes drawn by the same code that writes them, grievance projected by its decay).  The one
approximation is that projection, which leaves out the pushes of what happens after opening: pooled
over four 20,000-household cities the oracle's mean is 5 % below the label rate, its deciles close.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from triage.contract import DISPUTE_TYPES, EMPLOYMENT, ESCALATION_OFFENCES

HORIZON_DAYS = 180.0
WEEK = 7.0

# --- escalation: a case's crisis hazard is exp(heat) · exp(-age/TAU)/TAU; in crisis, violence and
# defusing compete with constant hazards (so the state "in crisis" is all the future needs).
TAU = 45.0
HIDDEN_SD = 1.8  # the part of a case's heat that no table records directly
VIOLENCE_RATE, DEFUSE_RATE = 0.12, 0.05
CRISIS_RATE = VIOLENCE_RATE + DEFUSE_RATE
VIOLENT_SHARE = VIOLENCE_RATE / CRISIS_RATE
BACKGROUND_VIOLENCE = 8e-6  # per household-day, times exp(1.3 · volatility)

# --- grievance: weekly decay, life shocks and the pushes of events
DECAY = 0.93
SHOCK_MEAN = 0.9
PUSH = {"case": 0.4, "failed": 0.5, "absent": 0.25, "crisis": 1.0, "threat": 0.5, "violence": 1.5}

# --- disputes: each brews for BREWING days (its households may call) before it is registered
BREWING = (1.0, 25.0)
CASE_RATE = 0.22 / 365  # per household-day before its own multiplier
FEUD_RATE = 0.9 / 365  # cases per feuding pair-day
FEUD_SHARE = 0.02  # households in a feuding pair
TYPES = DISPUTE_TYPES
T = {name: i for i, name in enumerate(TYPES)}
#                      marr  neigh wage  prop  land  med   traf  constr comm  other
MIX_URBAN = np.array([0.18, 0.16, 0.08, 0.20, 0.02, 0.07, 0.09, 0.07, 0.09, 0.04])
MIX_RURAL = np.array([0.22, 0.20, 0.12, 0.03, 0.18, 0.04, 0.06, 0.06, 0.04, 0.05])
MIX_FEUD = np.array([0.15, 0.60, 0, 0, 0.15, 0, 0, 0, 0, 0.10])
TYPE_HEAT = np.array([0.7, 0.35, 0, -0.9, 0.45, -0.1, -0.7, 0.1, -0.5, -0.3])
# where the counterparty lives (0 grid, 1 street, 2 district) and how often it is a registered household
CP_SCOPE = np.array([1, 0, 0, 0, 0, 2, 2, 0, 2, 0])
CP_SHARE = np.array([0.3, 0.9, 0.03, 0.2, 0.7, 0.05, 0.5, 0.3, 0.3, 0.3])

# --- distress and tiers: tier = ordinal logit of 1.5 · distress
TIER_SLOPE, GREEN_CUT, RED_CUT = 1.5, 1.8, 4.3

DISTRICTS = (
    ("临川区", "urban", ("文昌街道", "青云街道", "荷塘街道")),
    ("沙河区", "urban", ("柳岸街道", "北关街道", "新华街道", "东门街道")),
    ("江口区", "urban", ("江湾街道", "渡口街道")),
    ("云溪县", "rural", ("石桥镇", "梅林乡", "白鹭镇", "东岭乡")),
    ("凤岗县", "rural", ("凤鸣镇", "高坪乡", "马头镇")),
)
GRID_SIZE = 60


def write_second_city(out: Path, *, households: int, seed: int, start: date, end: date) -> dict:
    """Write the eight tables and ``_oracle/`` to ``out``; return rows per table, base rate and oracle AUC."""
    rng = np.random.default_rng(seed)
    days = float((end - start).days)
    city = _households(rng, households)
    people = _persons(rng, city, start.year)
    _volatility(rng, city, people)
    sim = _simulate(rng, city, people, days)
    p_oracle = _case_oracle(rng, city, sim)
    tables, assessment_oracle, intake_tone = _tables(rng, city, people, sim, start, days)
    p_escalation = p_oracle[sim.order]
    p_from_traces = _own_heat_from_traces(sim, p_oracle, intake_tone)[sim.order]
    case_oracle = pd.DataFrame(
        {
            "case_id": tables["cases"]["case_id"],
            "p_escalation": p_escalation,
            "p_escalation_own_heat_from_traces": p_from_traces,
        }
    )

    out = Path(out)
    (out / "_oracle").mkdir(parents=True, exist_ok=True)
    case_oracle.to_csv(out / "_oracle" / "cases.csv", index=False, float_format="%.8f")
    assessment_oracle.to_csv(out / "_oracle" / "assessments.csv", index=False, float_format="%.8f")
    for name, frame in tables.items():
        frame.to_csv(out / f"{name}.csv", index=False)

    labelled = sim.t_open[sim.order] + HORIZON_DAYS <= _data_end(tables, start)
    label = _labels(sim)[sim.order][labelled]
    p = p_escalation[labelled]
    auc = roc_auc_score if 0 < label.sum() < len(label) else (lambda *_: np.nan)
    return {
        "rows": {name: len(frame) for name, frame in tables.items()},
        "labelled_cases": int(labelled.sum()),
        "base_rate": float(label.mean()) if len(label) else float("nan"),
        "mean_oracle": float(p.mean()) if len(p) else float("nan"),
        "oracle_auc": float(auc(label, p)),
        "oracle_auc_own_heat_from_traces": float(auc(label, p_from_traces[labelled])),
    }


def _data_end(tables: dict[str, pd.DataFrame], start: date) -> float:
    """The latest own-time of any written row, in days since ``start`` (the end of the data, docs/data-format.md "The labels")."""
    latest = max(
        tables[name][column].max()
        for name, column in (
            ("hotline_calls", "received_at"),
            ("cases", "opened_at"),
            ("mediation_events", "at"),
            ("screenings", "at"),
            ("psych_assessments", "at"),
            ("incidents", "occurred_at"),
        )
    )
    return (pd.Timestamp(latest) - pd.Timestamp(start.isoformat(), tz="+08:00")) / pd.Timedelta(
        days=1
    )


# ----------------------------------------------------------------------------- households and persons


@dataclass
class City:
    district: np.ndarray  # index into DISTRICTS
    street: np.ndarray  # global street index
    grid: np.ndarray  # global grid index; households of a grid/street/district are contiguous
    rural: np.ndarray
    size: np.ndarray
    low_income: np.ndarray
    scope_start: list  # per scope (grid, street, district): first household of each unit
    scope_size: list
    scope_of: list  # per scope: the unit of each household
    volatility: np.ndarray = None
    case_rate: np.ndarray = None
    partner: np.ndarray = None  # the feuding neighbour, -1 if none
    shock_p: np.ndarray = None


def _households(rng, n: int) -> City:
    district = np.sort(rng.choice(len(DISTRICTS), n, p=[0.22, 0.26, 0.12, 0.24, 0.16]))
    streets = np.array([len(s) for _, _, s in DISTRICTS])
    street = (
        np.cumsum(streets)[district]
        - streets[district]
        + np.floor(rng.random(n) * streets[district]).astype(int)
    )
    street = np.sort(street)  # district only grows with street, so it stays contiguous too
    order_in_street = np.arange(n) - np.searchsorted(street, street)
    grid_in_street = order_in_street // GRID_SIZE
    _, grid = np.unique(street * 10_000 + grid_in_street, return_inverse=True)
    rural = np.array([DISTRICTS[d][1] == "rural" for d in range(len(DISTRICTS))])[district]
    size = np.clip(1 + rng.poisson(np.where(rural, 2.4, 1.6)), 1, 30)
    low_income = rng.random(n) < np.where(rural, 0.16, 0.08)
    scopes = [grid, street, district]
    starts = [np.searchsorted(s, np.arange(s.max() + 1)) for s in scopes]
    sizes = [np.bincount(s) for s in scopes]
    return City(district, street, grid, rural, size, low_income, starts, sizes, scopes)


@dataclass
class People:
    household: np.ndarray
    sex: np.ndarray  # 1 male
    age: np.ndarray
    adult: np.ndarray
    employment: np.ndarray
    returned: np.ndarray
    alcohol: np.ndarray
    prior: np.ndarray
    registry: np.ndarray
    minority: np.ndarray
    distress: np.ndarray  # baseline; grievance is added over time
    first: np.ndarray  # first person of each household


def _persons(rng, city: City, year: int) -> People:
    household = np.repeat(np.arange(len(city.size)), city.size)
    first = np.concatenate([[0], np.cumsum(city.size)[:-1]])
    rank = np.arange(len(household)) - first[household]
    n = len(household)
    age = np.where(
        rank == 0,
        rng.integers(24, 78, n),
        np.where(rank == 1, rng.integers(22, 75, n), rng.integers(0, 90, n)),
    )
    sex = (rng.random(n) < 0.52).astype(int)
    sex[rank == 1] = 1 - sex[first[household[rank == 1]]]  # the spouse
    adult = age >= 18
    rural = city.rural[household]
    male_adult = adult & (sex == 1)
    returned = adult & (age < 60) & rural & (rng.random(n) < 0.14)
    employment = np.select(
        [
            age < 18,
            age >= 62,
            returned & (rng.random(n) < 0.5),
            rural & (rng.random(n) < 0.45),
            rng.random(n) < 0.15,
            rng.random(n) < 0.25,
        ],
        [4, 5, 1, 3, 1, 2],
        default=0,
    )  # index into EMPLOYMENT
    alcohol = rng.random(n) < np.where(male_adult, 0.11, np.where(adult, 0.015, 0))
    prior = rng.random(n) < np.where(male_adult, 0.045, np.where(adult, 0.005, 0))
    registry = adult & (rng.random(n) < 0.011)
    minority = rng.random(n) < np.array([0.03, 0.05, 0.04, 0.18, 0.12])[city.district[household]]
    distress = (
        rng.normal(0, 1, n)
        + 0.9 * registry
        + 0.3 * city.low_income[household]
        + 0.3 * (employment == 1)
        + 0.3 * alcohol
    )
    return People(
        household,
        sex,
        age,
        adult,
        employment,
        returned,
        alcohol,
        prior,
        registry,
        minority,
        distress,
        first,
    )


def _volatility(rng, city: City, people: People) -> None:
    """Static household traits: volatility, own dispute rate, the feuding neighbour, shock odds."""
    n = len(city.size)
    male = people.adult & (people.sex == 1)

    def any_of(flag):
        return np.bincount(people.household, weights=flag, minlength=n) > 0

    top_distress = np.full(n, -np.inf)
    np.maximum.at(top_distress, people.household[people.adult], people.distress[people.adult])
    top_distress = np.where(np.isfinite(top_distress), top_distress, 0)
    city.volatility = (
        0.9 * any_of(male & people.alcohol)
        + 0.8 * any_of(people.prior)
        + 0.7 * any_of(people.registry)
        + 0.4 * any_of(male & people.returned)
        + 0.3 * city.low_income
        + 0.25 * top_distress
        + rng.normal(0, 0.5, n)
        - 0.55
    )
    city.case_rate = (
        CASE_RATE
        * np.exp(0.3 * city.volatility + rng.normal(0, 0.6, n))
        * np.where(city.rural, 1.15, 0.9)
    )
    city.shock_p = 0.02 + 0.03 * city.low_income
    city.partner = np.full(n, -1)
    candidates = np.sort(rng.choice(n, int(FEUD_SHARE * n), replace=False))
    same_grid = city.grid[candidates[:-1]] == city.grid[candidates[1:]]
    taken = np.zeros(len(candidates), bool)
    for i in np.flatnonzero(same_grid):
        if not taken[i] and not taken[i + 1]:
            a, b = candidates[i], candidates[i + 1]
            city.partner[a], city.partner[b] = b, a
            taken[i] = taken[i + 1] = True


# ----------------------------------------------------------------------------- the weekly simulation


@dataclass
class Marks:
    """What a new case is, fixed at its opening."""

    amount: np.ndarray  # NaN when not recorded
    parties: np.ndarray
    delay: np.ndarray  # months of unpaid wages (0 for other disputes)
    hidden: np.ndarray  # the part of heat no table records directly
    heat: np.ndarray


def _draw(rng, p: np.ndarray) -> np.ndarray:
    """One category index per row of ``p`` (rows of probabilities)."""
    return np.minimum(
        (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)).sum(axis=1), p.shape[1] - 1
    )


def _area_mix(city: City, who: np.ndarray) -> np.ndarray:
    return np.where(city.rural[who][:, None], MIX_RURAL, MIX_URBAN)


def _unit_of(city: City, who: np.ndarray, scope: np.ndarray):
    """First household and size of each household's grid (0), street (1) or district (2)."""
    units = [unit[who] for unit in city.scope_of]
    first = np.choose(scope, [start[u] for start, u in zip(city.scope_start, units)])
    size = np.choose(scope, [sizes[u] for sizes, u in zip(city.scope_size, units)])
    return first, size


def _pick_counterparty(rng, city: City, who: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """A registered household of the same grid/street/district as the dispute calls for, or -1."""
    first, size = _unit_of(city, who, CP_SCOPE[kind])
    pick = first + np.floor(rng.random(len(who)) * size).astype(int)
    pick = np.where(pick == who, first + (pick - first + 1) % np.maximum(size, 1), pick)
    registered = (rng.random(len(who)) < CP_SHARE[kind]) & (size > 1)
    return np.where(registered, pick, -1)


def _marks(rng, city: City, who, kind, counterparty, grievance_own, grievance_other, feud) -> Marks:
    """Heat and recorded attributes of new cases; the oracle draws hypothetical cases with it too."""
    n = len(who)
    wage = kind == T["wage_arrears"]
    delay = np.where(wage, 1 + rng.geometric(0.25, n), 0)
    parties = np.where(
        wage, 2 + np.minimum(np.floor(rng.lognormal(2.3, 1.1, n)), 2000), 2 + rng.poisson(0.3, n)
    ).astype(int)
    per_head = rng.uniform(2500, 7000, n)
    amount = np.where(
        wage,
        parties * per_head * delay,
        rng.lognormal(np.array([10.5, 8, 0, 7.5, 10, 10.8, 10, 11, 11.5, 9])[kind], 1.0),
    )
    amount = np.where(wage | (rng.random(n) < 0.7), np.round(amount, 2), np.nan)
    has_cp = counterparty >= 0
    v_other = np.where(has_cp, city.volatility[np.maximum(counterparty, 0)], 0)
    g_other = np.where(has_cp, grievance_other, 0)
    hidden = rng.normal(0, HIDDEN_SD, n)
    family = (
        -5.6
        + TYPE_HEAT[kind]
        + 1.2 * city.volatility[who]
        + 0.45 * v_other
        + 0.4 * grievance_own
        + 0.25 * g_other
        + 0.45 * np.minimum(feud, 4)
    )
    wages = (
        -5.8
        + 0.8 * np.log1p(delay)
        + 0.25 * np.log(parties)
        + 0.35 * (np.log10(parties * per_head * delay + 1) - 5)
        + 0.15 * city.volatility[who]
        + 0.15 * grievance_own
    )
    heat = np.where(wage, wages, family) + hidden
    return Marks(amount, parties, delay, hidden, heat)


@dataclass
class Simulation:
    grievance: np.ndarray  # weeks × households, at the start of each week
    household: np.ndarray  # per case
    counterparty: np.ndarray
    kind: np.ndarray
    source: np.ndarray
    amount: np.ndarray
    parties: np.ndarray
    delay: np.ndarray
    hidden: np.ndarray
    heat: np.ndarray
    t_born: np.ndarray  # the dispute starts brewing (calls may come) ...
    t_open: np.ndarray  # ... and is registered at the centre
    t_crisis: np.ndarray  # inf when no crisis
    t_resolved: np.ndarray  # crisis end (violence or defused), inf when no crisis
    status: np.ndarray
    t_closed: np.ndarray  # NaN while open at the export
    events: pd.DataFrame  # case, t, level, outcome
    incidents: pd.DataFrame  # t, household, person (-1), offence, case (-1)
    calls: pd.DataFrame  # t, household (-1), person (-1), channel, category, tense, brewing_case
    order: np.ndarray = None  # cases by opening time (the ids follow it)


LEVELS = ("village", "township", "county", "court")
LADDER = np.array([0, 0, 1, 2, 3])  # village twice, then township, county, court


def _simulate(rng, city: City, people: People, days: float) -> Simulation:
    n, weeks = len(city.size), int(np.ceil(days / WEEK))
    grievance = rng.gamma(1.2, 0.4, n)
    pushes = np.zeros((weeks + 1, n))
    history = np.empty((weeks, n), dtype=np.float32)
    pair_cases: dict[tuple[int, int], int] = {}
    dyads = np.flatnonzero(city.partner > np.arange(n))
    cases, events, incidents, calls = [], [], [], []
    opened = 0

    def push(t, households, size):
        week = np.floor(np.asarray(t) / WEEK).astype(int) + 1
        keep = (week < weeks) & (households >= 0)
        np.add.at(pushes, (week[keep], households[keep]), np.broadcast_to(size, week.shape)[keep])

    for w in range(weeks):
        grievance = grievance * DECAY + pushes[w]
        shocked = rng.random(n) < city.shock_p
        grievance[shocked] += rng.exponential(SHOCK_MEAN, shocked.sum())
        history[w] = grievance

        own = np.repeat(np.arange(n), rng.poisson(city.case_rate * WEEK))
        own_kind = _draw(rng, _area_mix(city, own))
        feuding = np.repeat(dyads, rng.poisson(FEUD_RATE * WEEK, len(dyads)))
        flip = rng.random(len(feuding)) < 0.5
        feud_who = np.where(flip, city.partner[feuding], feuding)
        who = np.concatenate([own, feud_who])
        kind = np.concatenate([own_kind, _draw(rng, np.tile(MIX_FEUD, (len(feud_who), 1)))])
        cp = np.concatenate([_pick_counterparty(rng, city, own, own_kind), city.partner[feud_who]])
        born = w * WEEK + rng.random(len(who)) * WEEK
        t = born + BREWING[0] + rng.random(len(who)) * (BREWING[1] - BREWING[0])
        keep = t < days
        who, kind, cp, born, t = who[keep], kind[keep], cp[keep], born[keep], t[keep]
        if not len(who):
            continue
        feud = np.array(
            [pair_cases.get((min(a, b), max(a, b)), 0) if b >= 0 else 0 for a, b in zip(who, cp)]
        )
        for a, b in zip(who, cp):
            if b >= 0:
                pair_cases[(min(a, b), max(a, b))] = pair_cases.get((min(a, b), max(a, b)), 0) + 1
        m = _marks(rng, city, who, kind, cp, grievance[who], grievance[np.maximum(cp, 0)], feud)
        index = opened + np.arange(len(who))
        crisis, resolved, violent = _crisis(rng, m.heat, t)
        source = _source(rng, kind, m.heat)
        status, closed, ladder = _mediation(rng, m.heat, t, source, days, index)
        cases.append(
            dict(
                household=who,
                counterparty=cp,
                kind=kind,
                source=source,
                amount=m.amount,
                parties=m.parties,
                delay=m.delay,
                hidden=m.hidden,
                heat=m.heat,
                t_born=born,
                t_open=t,
                t_crisis=crisis,
                t_resolved=resolved,
                status=status,
                t_closed=closed,
            )
        )
        events.append(ladder)

        push(t, who, PUSH["case"])
        push(t, cp, PUSH["case"])
        bad = ladder["outcome"].isin(["no_agreement", "party_absent"]).to_numpy()
        size = np.where(
            ladder["outcome"].to_numpy() == "party_absent", PUSH["absent"], PUSH["failed"]
        )
        for side in (who, cp):
            push(
                ladder["t"].to_numpy()[bad],
                side[ladder["case"].to_numpy()[bad] - opened],
                size[bad],
            )

        in_crisis = np.isfinite(crisis)
        c_idx = np.flatnonzero(in_crisis)
        for side in (who, cp):
            push(crisis[c_idx], side[c_idx], PUSH["crisis"])
            v = c_idx[violent[c_idx]]
            push(resolved[v], side[v], PUSH["violence"])
        incidents.append(
            _crisis_incidents(
                rng,
                people,
                who[c_idx],
                cp[c_idx],
                index[c_idx],
                crisis[c_idx],
                resolved[c_idx],
                violent[c_idx],
                push,
            )
        )
        calls.append(_crisis_calls(rng, who[c_idx], kind[c_idx], crisis[c_idx], resolved[c_idx]))
        calls.append(_calls_before(rng, who, kind, born, t, m.hidden, index))
        opened += len(who)

    sim = Simulation(
        grievance=history,
        **{k: np.concatenate([c[k] for c in cases]) for k in cases[0]},
        events=pd.concat(events, ignore_index=True),
        incidents=pd.concat(
            incidents + [_background_incidents(rng, city, history, days)], ignore_index=True
        ),
        calls=pd.concat(calls + [_background_calls(rng, city, history)], ignore_index=True),
    )
    sim.incidents = sim.incidents[sim.incidents["t"] < days].reset_index(drop=True)
    sim.calls = sim.calls[(sim.calls["t"] >= 0) & (sim.calls["t"] < days)].reset_index(drop=True)
    sim.events = sim.events[sim.events["t"] < days].reset_index(drop=True)
    sim.order = np.argsort(sim.t_open, kind="stable")
    return sim


def _crisis(rng, heat, t_open):
    """Crisis onset from the hazard exp(heat)·exp(-age/TAU)/TAU, then violence or defusing."""
    lam = np.exp(heat)
    e = rng.exponential(1.0, len(heat))
    happens = e < lam
    onset = np.where(happens, t_open - TAU * np.log1p(-np.minimum(e / lam, 1 - 1e-12)), np.inf)
    duration = rng.exponential(1 / CRISIS_RATE, len(heat))
    violent = happens & (rng.random(len(heat)) < VIOLENT_SHARE)
    return onset, np.where(happens, onset + duration, np.inf), violent


def _source(rng, kind, heat):
    """How the case reached the centre: police refer more of the hot ones, courts a few of any."""
    return _draw(rng, _source_probabilities(kind, heat))


def _source_probabilities(kind, heat) -> np.ndarray:
    """Cases × sources (grid, hotline, walk-in, police, court, other agency)."""
    police = 0.05 + 0.25 / (1 + np.exp(-(heat + 2.5)))
    p = np.stack(
        [
            np.full(len(heat), 0.26),
            np.full(len(heat), 0.28),
            np.full(len(heat), 0.24),
            police,
            np.full(len(heat), 0.05),
            np.full(len(heat), 0.06),
        ],
        axis=1,
    )
    p[kind == T["wage_arrears"], 5] += 0.15  # labour inspection sends wage cases
    return p / p.sum(axis=1, keepdims=True)


def _mediation(rng, heat, t_open, source, days, index):
    """Climb the ladder until an agreement; hotter cases fail and miss sessions more often."""
    n = len(heat)
    step = np.where(
        source == 3, 2, np.where(source == 4, 4, 0)
    )  # police start at township, courts at court
    t = t_open + 1 + rng.exponential(7, n)
    alive = rng.random(n) > 0.03
    status = np.where(alive, "open", "withdrawn").astype(object)
    closed = np.where(alive, np.nan, t_open + rng.exponential(10, n))
    rows = []
    while alive.any():
        i = np.flatnonzero(alive)
        agree = 1 / (1 + np.exp(-(0.4 - 0.7 * (heat[i] + 3.5))))
        u = rng.random(len(i))
        outcome = np.where(
            u < agree, "agreement", np.where(u < agree + 0.12, "party_absent", "no_agreement")
        )
        last = step[i] >= len(LADDER) - 1
        outcome = np.where(
            last & (outcome != "agreement") & (rng.random(len(i)) < 0.5), "referred", outcome
        )
        rows.append(
            pd.DataFrame(
                {
                    "case": index[i],
                    "t": t[i],
                    "level": np.array(LEVELS)[LADDER[step[i]]],
                    "outcome": outcome,
                }
            )
        )
        done = (outcome == "agreement") | (outcome == "referred") | last
        status[i[done]] = np.select(
            [outcome[done] == "agreement", outcome[done] == "referred"],
            ["mediated", "referred"],
            "failed",
        )
        closed[i[done]] = t[i[done]]
        alive[i[done]] = False
        step[i] += 1
        t[i] += 5 + rng.exponential(20, len(i))
    open_at_export = closed >= days
    status[open_at_export], closed[open_at_export] = "open", np.nan
    return status.astype(str), closed, pd.concat(rows, ignore_index=True)


def _member(rng, people: People, households: np.ndarray) -> np.ndarray:
    """One of the first two members (the adults) of each household; -1 for no household."""
    h = np.maximum(households, 0)
    size = np.bincount(people.household)[h]
    pick = people.first[h] + np.floor(rng.random(len(h)) * np.minimum(size, 2)).astype(int)
    return np.where(households >= 0, pick, -1)


def _crisis_incidents(rng, people, who, cp, case, onset, resolved, violent, push) -> pd.DataFrame:
    """A threat now and then during the crisis; violence at its end, recorded on both households."""
    threat = rng.random(len(who)) < 0.45
    t_threat = onset + rng.random(len(who)) * (resolved - onset)
    push(t_threat[threat], who[threat], PUSH["threat"])
    offence = rng.choice(
        ["assault", "intentional_injury", "attempted_homicide", "homicide", "arson"],
        len(who),
        p=[0.55, 0.3, 0.07, 0.03, 0.05],
    )
    linked = rng.random(len(who)) < 0.6
    frames = [
        pd.DataFrame(
            {
                "t": t_threat[threat],
                "household": who[threat],
                "offence": "threat",
                "case": np.where(rng.random(threat.sum()) < 0.3, case[threat], -1),
            }
        )
    ]
    for side in (who, cp):
        v = violent & (side >= 0)
        frames.append(
            pd.DataFrame(
                {
                    "t": resolved[v],
                    "household": side[v],
                    "offence": offence[v],
                    "case": np.where(linked[v], case[v], -1),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["person"] = np.where(
        rng.random(len(out)) < 0.7, _member(rng, people, out["household"].to_numpy()), -1
    )
    return out


CHANNELS_BY_KIND = {
    T["marriage_family"]: ("12338", 0.4),
    T["wage_arrears"]: ("12348", 0.4),
    T["land_transfer"]: ("12348", 0.2),
}


def _channel(rng, kind, urgent):
    channel = np.where(rng.random(len(kind)) < 0.3, "grid_report", "12345").astype(object)
    for k, (special, share) in CHANNELS_BY_KIND.items():
        channel[(kind == k) & (rng.random(len(kind)) < share)] = special
    channel[urgent & (rng.random(len(kind)) < 0.6)] = "110"
    return channel


def _crisis_calls(rng, who, kind, onset, resolved) -> pd.DataFrame:
    """The burst of calls while a crisis lasts (mostly to 110)."""
    count = rng.poisson(1.8, len(who))
    i = np.repeat(np.arange(len(who)), count)
    t = onset[i] + rng.random(len(i)) * (resolved[i] - onset[i])
    return pd.DataFrame(
        {
            "t": t,
            "household": who[i],
            "category": kind[i],
            "channel": _channel(rng, kind[i], np.ones(len(i), bool)),
            "tense": rng.random(len(i)) < 0.7,
        }
    )


def _calls_before(rng, who, kind, born, t_open, hidden, case) -> pd.DataFrame:
    """Calls while a dispute brews before it is registered: more of them, and tenser, for the hot ones.

    ``brewing_case`` keeps which case each call brewed for; only the oracle's traces read it."""
    count = rng.poisson(_brewing_call_rate(hidden))
    i = np.repeat(np.arange(len(who)), count)
    t = born[i] + rng.random(len(i)) * (t_open[i] - born[i])
    tense = rng.random(len(i)) < _p_tense_while_brewing(hidden[i])
    return pd.DataFrame(
        {
            "t": t,
            "household": who[i],
            "category": kind[i],
            "channel": _channel(rng, kind[i], tense),
            "tense": tense,
            "brewing_case": case[i],
        }
    )


def _brewing_call_rate(hidden):
    return 0.6 * np.exp(0.35 * hidden)


def _p_tense_while_brewing(hidden):
    return 1 / (1 + np.exp(-(-1.5 + 0.7 * hidden)))


def _background_calls(rng, city: City, history) -> pd.DataFrame:
    """Everyday calls: more from aggrieved households; some cannot be matched to a household."""
    rate = 0.012 * np.sqrt(city.size / 3) * np.exp(0.6 * history)
    week, who = np.nonzero(rng.poisson(rate))
    t = (week + rng.random(len(week))) * WEEK
    kind = np.where(
        rng.random(len(who)) < 0.2, len(TYPES), _draw(rng, _area_mix(city, who))
    )  # public_order
    tense = rng.random(len(who)) < 1 / (1 + np.exp(-(-3 + 0.8 * history[week, who])))
    who = np.where(rng.random(len(who)) < 0.08, -1, who)
    return pd.DataFrame(
        {
            "t": t,
            "household": who,
            "category": kind,
            "channel": _channel(rng, kind, tense),
            "tense": tense,
        }
    )


def _background_incidents(rng, city: City, history, days) -> pd.DataFrame:
    """Violence unrelated to cases (rate fixed by volatility); damage and threats that follow grievance."""
    n = len(city.size)
    count = rng.poisson(BACKGROUND_VIOLENCE * np.exp(1.3 * city.volatility) * days)
    who = np.repeat(np.arange(n), count)
    violent = pd.DataFrame(
        {
            "t": rng.random(len(who)) * days,
            "household": who,
            "offence": rng.choice(
                ["assault", "intentional_injury", "arson"], len(who), p=[0.75, 0.2, 0.05]
            ),
            "case": -1,
        }
    )
    week, minor = np.nonzero(rng.poisson(3e-4 * np.exp(0.5 * history)))
    other = pd.DataFrame(
        {
            "t": (week + rng.random(len(week))) * WEEK,
            "household": minor,
            "offence": rng.choice(
                ["property_damage", "other", "threat"], len(minor), p=[0.45, 0.35, 0.2]
            ),
            "case": -1,
        }
    )
    out = pd.concat([violent, other], ignore_index=True)
    out["person"] = -1
    return out


# ----------------------------------------------------------------------------- the oracle


def _violence_table():
    """P(violence within T days) of a case whose crisis intensity is lam, on a (log lam, T) grid.

    Onset density lam/TAU·e^{-s/TAU}·exp(-lam(1-e^{-s/TAU})); from onset, violence by T with
    probability VIOLENT_SHARE·(1 - e^{-CRISIS_RATE·(T - s)}).
    """
    log_lam = np.arange(-14, 5.001, 0.05)
    step = 0.25
    s = (np.arange(int(HORIZON_DAYS / step)) + 0.5) * step
    lam = np.exp(log_lam)[:, None]
    density = lam / TAU * np.exp(-s / TAU) * np.exp(-lam * (1 - np.exp(-s / TAU))) * step
    ends = (np.arange(len(s)) + 1) * step
    table = VIOLENT_SHARE * (
        np.cumsum(density, axis=1)
        - np.exp(-CRISIS_RATE * ends) * np.cumsum(density * np.exp(CRISIS_RATE * s), axis=1)
    )
    return log_lam, step, np.concatenate([np.zeros((len(log_lam), 1)), table], axis=1)


LOG_LAM, STEP, TABLE = _violence_table()


def _p_violence(log_lam: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Bilinear look-up in the table; exact up to the grid."""
    x = (np.clip(log_lam, LOG_LAM[0], LOG_LAM[-1]) - LOG_LAM[0]) / (LOG_LAM[1] - LOG_LAM[0])
    y = np.clip(within, 0, HORIZON_DAYS) / STEP
    i, j = (
        np.minimum(x.astype(int), len(LOG_LAM) - 2),
        np.minimum(y.astype(int), TABLE.shape[1] - 2),
    )
    fx, fy = x - i, y - j
    return (
        (1 - fx) * (1 - fy) * TABLE[i, j]
        + fx * (1 - fy) * TABLE[i + 1, j]
        + (1 - fx) * fy * TABLE[i, j + 1]
        + fx * fy * TABLE[i + 1, j + 1]
    )


IN_CRISIS = VIOLENT_SHARE * (1 - np.exp(-CRISIS_RATE * HORIZON_DAYS))
FUTURE_DRAWS = 32


def _case_oracle(rng, city: City, sim: Simulation) -> np.ndarray:
    """P(a violent incident of either household, or naming the case, in (opened, opened + H])."""
    n_cases = len(sim.t_open)
    log_survive = np.log1p(-_p_violence(sim.heat, np.full(n_cases, HORIZON_DAYS)))

    # other cases of either household born before: brewing, ended, in crisis, or with a crisis to come
    members = pd.DataFrame(
        {
            "case": np.concatenate([np.arange(n_cases), np.arange(n_cases)]),
            "household": np.concatenate([sim.household, sim.counterparty]),
        }
    )
    members = members[members["household"] >= 0]
    pairs = members.merge(members, on="household", suffixes=("", "_earlier"))
    pairs = pairs[["case", "case_earlier"]].drop_duplicates()
    c, e = pairs["case"].to_numpy(), pairs["case_earlier"].to_numpy()
    t0 = sim.t_open[c]
    earlier = (sim.t_born[e] < t0) & (e != c)
    c, e, t0 = c[earlier], e[earlier], t0[earlier]
    ended = sim.t_resolved[e] <= t0
    crisis_now = (sim.t_crisis[e] <= t0) & ~ended
    age = t0 - sim.t_open[e]  # negative while the other case still brews
    p = np.where(
        ended,
        0.0,
        np.where(
            crisis_now,
            IN_CRISIS,
            _p_violence(sim.heat[e] - np.maximum(age, 0) / TAU, HORIZON_DAYS + np.minimum(age, 0)),
        ),
    )
    np.add.at(log_survive, c, np.log1p(-p))

    # violence unrelated to cases, and cases opened inside the window
    for side in (sim.household, sim.counterparty):
        present = side >= 0
        h = np.maximum(side, 0)
        background = BACKGROUND_VIOLENCE * np.exp(1.3 * city.volatility[h]) * HORIZON_DAYS
        log_survive -= np.where(present, background, 0)
    log_survive -= _future_cases(rng, city, sim)
    return -np.expm1(log_survive)


HIDDEN_GRID = np.linspace(-5 * HIDDEN_SD, 5 * HIDDEN_SD, 201)


def _own_heat_from_traces(
    sim: Simulation, p_oracle: np.ndarray, intake_tone: np.ndarray
) -> np.ndarray:
    """The oracle without one thing it knows: the hidden part of the case's own heat.

    That part is replaced by what the case's traces at opening say of it (Bayes on a grid): its calls
    while brewing and how many were tense, the tone of its intake summary, and its source.  Everything
    else the oracle knows stays known: volatility, grievance, the other disputes' heat and crises.  So
    this still knows more than the tables do, and no model of the tables should rank cases better; how
    far it falls below the oracle is a distance no model can close.  (Calls before the city's first
    day are not written, so for cases opened in its first weeks the likelihood undercounts.)
    """
    recorded = sim.calls[sim.calls["brewing_case"].notna()]
    case = recorded["brewing_case"].to_numpy(dtype=int)
    n = len(sim.t_open)
    calls = np.bincount(case, minlength=n)[:, None]
    tense = np.bincount(case, weights=recorded["tense"].to_numpy(float), minlength=n)[:, None]
    h = HIDDEN_GRID[None, :]
    known = (sim.heat - sim.hidden)[:, None]

    rate, p_tense = _brewing_call_rate(h), _p_tense_while_brewing(h)
    log_post = -0.5 * (h / HIDDEN_SD) ** 2 + calls * np.log(rate) - rate
    log_post = log_post + tense * np.log(p_tense) + (calls - tense) * np.log1p(-p_tense)
    p_hot = _p_hot_intake(h, _grievance_at_opening(sim)[:, None])
    tone = intake_tone[:, None]
    log_post = log_post + np.where(
        tone == 1, np.log(p_hot), np.where(tone == 0, np.log1p(-p_hot), 0)
    )
    sources = _source_probabilities(
        np.repeat(sim.kind, len(HIDDEN_GRID)), (known + h).ravel()
    ).reshape(n, len(HIDDEN_GRID), -1)
    log_post = log_post + np.log(
        np.take_along_axis(sources, sim.source[:, None, None], axis=2)[..., 0]
    )
    weight = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    weight /= weight.sum(axis=1, keepdims=True)

    def p_own(heat):
        return _p_violence(heat, np.full(heat.shape, HORIZON_DAYS))

    expected_own = (weight * p_own(known + h)).sum(axis=1)
    survive_the_rest = (1 - p_oracle) / (1 - p_own(sim.heat))
    return 1 - survive_the_rest * (1 - expected_own)


def _named_rates(city: City) -> np.ndarray:
    """Per household, the rate at which other households' disputes name it as counterparty."""
    rate = np.zeros(len(city.size))
    for scope in range(3):
        out = city.case_rate * _named_share(city, np.arange(len(city.size)), scope)
        unit = city.scope_of[scope]
        total = np.bincount(unit, weights=out)[unit]
        rate += (total - out) / np.maximum(city.scope_size[scope][unit] - 1, 1)
    return rate


def _named_share(city: City, who: np.ndarray, scope: int) -> np.ndarray:
    """The share of ``who``'s own disputes that name a registered household of the given scope."""
    return (_area_mix(city, who) * CP_SHARE * (CP_SCOPE == scope)).sum(axis=1)


def _naming_dispute(rng, city: City, named: np.ndarray):
    """For disputes that name ``named`` as counterparty: the type, and the initiator drawn by dispute rate."""
    mix = _area_mix(city, named) * CP_SHARE  # a unit shares its area, so the initiator's mix
    kind = _draw(rng, mix / mix.sum(axis=1, keepdims=True))
    first, size = _unit_of(city, named, CP_SCOPE[kind])
    cumulative = np.concatenate([[0], np.cumsum(city.case_rate)])
    target = cumulative[first] + rng.random(len(named)) * (
        cumulative[first + size] - cumulative[first]
    )
    initiator = np.clip(
        np.searchsorted(cumulative, target, side="right") - 1, first, first + size - 1
    )
    initiator = np.where(
        initiator == named, first + (initiator - first + 1) % np.maximum(size, 1), initiator
    )
    return kind, initiator


def _future_cases(rng, city: City, sim: Simulation) -> np.ndarray:
    """Expected −log P(no violence) from disputes of either household born inside the window.

    Disputes involving a household are born at rates known at opening (its own, others' naming it,
    its feud); each brings P(violence before the window closes), averaged over disputes drawn by the
    same code that writes them (:func:`_marks`), with grievance projected by its decay and expected shocks.
    """
    rates = np.stack(
        [city.case_rate, _named_rates(city), np.where(city.partner >= 0, FEUD_RATE, 0)], axis=1
    )
    week = _week_of_opening(sim)
    out = np.zeros(len(sim.t_open))
    for side, other, second in (
        (sim.household, sim.counterparty, False),
        (sim.counterparty, sim.household, True),
    ):
        slots = np.flatnonzero(side >= 0)
        x = side[slots]
        rate = rates[x].sum(axis=1)
        if second:  # the feud's own disputes involve both households: count them once
            rate = rate - np.where(city.partner[x] == other[slots], FEUD_RATE, 0)
        draws = np.repeat(np.arange(len(slots)), FUTURE_DRAWS)
        x_d = x[draws]
        role = _draw(rng, rates[x_d] / rates[x_d].sum(axis=1, keepdims=True))  # own, named, feud
        kind = _draw(rng, np.where((role == 2)[:, None], MIX_FEUD, _area_mix(city, x_d)))
        named_kind, namer = _naming_dispute(rng, city, x_d)
        partner = city.partner[x_d]
        flip = rng.random(len(draws)) < 0.5
        who = np.select([role == 1, (role == 2) & flip], [namer, partner], x_d)
        cp = np.select(
            [role == 0, role == 1, flip],
            [_pick_counterparty(rng, city, x_d, kind), x_d, x_d],
            partner,
        )
        kind = np.where(role == 1, named_kind, kind)
        feud = np.where(role == 2, _pair_count(sim, x_d, partner, sim.t_open[slots][draws]), 0)
        v = rng.random(len(draws)) * HORIZON_DAYS
        decay = DECAY ** (v / WEEK)

        def projected(h):
            """Grievance at the dispute's birth: today's, the push of the case just opened, expected shocks."""
            now = sim.grievance[week[slots][draws], np.maximum(h, 0)] + PUSH["case"] * (h == x_d)
            drift = city.shock_p[np.maximum(h, 0)] * SHOCK_MEAN * (1 - decay) / (1 - DECAY)
            return now * decay + drift

        m = _marks(rng, city, who, kind, cp, projected(who), projected(cp), feud)
        registered = v + BREWING[0] + rng.random(len(draws)) * (BREWING[1] - BREWING[0])
        p = (
            _p_violence(m.heat, HORIZON_DAYS - registered)
            .reshape(len(slots), FUTURE_DRAWS)
            .mean(axis=1)
        )
        out[slots] += rate * HORIZON_DAYS * p
    return out


def _pair_count(sim: Simulation, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Disputes between households a and b born before t."""
    has = sim.counterparty >= 0
    keys = _pair_key(sim.household[has], sim.counterparty[has])
    order = np.lexsort((sim.t_born[has], keys))
    keys, times = keys[order], sim.t_born[has][order]
    query = _pair_key(a, b)
    lo = np.searchsorted(keys, query, side="left")
    hi = np.searchsorted(keys, query, side="right")
    # within [lo, hi) the times are sorted: count those before t
    count = np.zeros(len(a), dtype=int)
    for i in np.flatnonzero(hi > lo):
        count[i] = np.searchsorted(times[lo[i] : hi[i]], t[i])
    return count


def _pair_key(a, b):
    return np.minimum(a, b).astype(np.int64) * 10_000_000 + np.maximum(a, b)


def _labels(sim: Simulation) -> np.ndarray:
    """The label of docs/data-format.md computed from the generator's own incidents (cases in creation order)."""
    violent = sim.incidents[sim.incidents["offence"].isin(ESCALATION_OFFENCES)]
    cases = pd.DataFrame({"case": np.arange(len(sim.t_open)), "t0": sim.t_open})
    hits = [
        cases.assign(household=side).merge(violent[["household", "t"]], on="household")
        for side in (sim.household, sim.counterparty)
    ]
    hits.append(cases.merge(violent.loc[violent["case"] >= 0, ["case", "t"]], on="case"))
    hits = pd.concat(hits)
    inside = (hits["t"] > hits["t0"]) & (hits["t"] <= hits["t0"] + HORIZON_DAYS)
    return np.isin(cases["case"], hits.loc[inside, "case"]).astype(float)


# ----------------------------------------------------------------------------- the tables


def _tables(rng, city: City, people: People, sim: Simulation, start: date, days: float):
    stamp = _clock(start)
    n = len(city.size)
    hh_id = np.array([f"HH-{i:06d}" for i in range(n)], dtype=object)
    rank = np.arange(len(people.household)) - people.first[people.household]
    person_id = np.array(
        [f"P7-{h:06d}-{r:02d}" for h, r in zip(people.household, rank)], dtype=object
    )

    street_names = [s for _, _, streets in DISTRICTS for s in streets]
    households = pd.DataFrame(
        {
            "household_id": hh_id,
            "district": np.array([d[0] for d in DISTRICTS], dtype=object)[city.district],
            "street": np.array(street_names, dtype=object)[city.street],
            "grid_id": [
                f"WG{d:02d}-{s:03d}-{g:04d}"
                for d, s, g in zip(city.district, city.street, city.grid)
            ],
            "area_type": np.where(city.rural, "rural", "urban"),
            "size": city.size,
            "low_income": _bool(city.low_income),
            "registered_at": stamp(-rng.uniform(30, 3600, n)),
        }
    )
    persons = _persons_table(rng, people, person_id, hh_id, start.year)

    calls = sim.calls.sort_values("t", kind="stable").reset_index(drop=True)
    calls["person"] = np.where(
        rng.random(len(calls)) < 0.55, _member(rng, people, calls["household"].to_numpy()), -1
    )
    hotline_calls = pd.DataFrame(
        {
            "call_id": [f"RX-{i:07d}" for i in range(len(calls))],
            "received_at": stamp(calls["t"].to_numpy()),
            "channel": calls["channel"].to_numpy(),
            "household_id": _ref(hh_id, calls["household"].to_numpy()),
            "person_id": _ref(person_id, calls["person"].to_numpy()),
            "category": np.array(TYPES + ("public_order",), dtype=object)[
                calls["category"].to_numpy()
            ],
            "text": _call_texts(rng, calls["category"].to_numpy(), calls["tense"].to_numpy()),
        }
    )

    order = sim.order
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))
    years = stamp(sim.t_open[order]).str[:4]
    case_id = np.array([f"AJ{y}-{i:06d}" for y, i in zip(years, range(len(order)))], dtype=object)
    alcohol_home = np.bincount(people.household, weights=people.alcohol, minlength=n) > 0
    description, intake_tone = _descriptions(rng, sim, order, alcohol_home)
    cases = pd.DataFrame(
        {
            "case_id": case_id,
            "opened_at": stamp(sim.t_open[order]),
            "household_id": hh_id[sim.household[order]],
            "counterparty_household_id": _ref(hh_id, sim.counterparty[order]),
            "dispute_type": np.array(TYPES, dtype=object)[sim.kind[order]],
            "source": np.array(
                (
                    "grid_patrol",
                    "hotline",
                    "walk_in",
                    "police_referral",
                    "court_referral",
                    "other_agency",
                ),
                dtype=object,
            )[sim.source[order]],
            "amount_cny": [None if np.isnan(a) else f"{a:.2f}" for a in sim.amount[order]],
            "parties_count": sim.parties[order],
            "description": description,
            "status": sim.status[order],
            "closed_at": _maybe(stamp, sim.t_closed[order]),
        }
    )

    events = sim.events.assign(position=position[sim.events["case"].to_numpy()])
    events = events.sort_values(["t", "position"], kind="stable").reset_index(drop=True)
    mediation_events = pd.DataFrame(
        {
            "event_id": [f"ME-{i:07d}" for i in range(len(events))],
            "case_id": case_id[events["position"].to_numpy()],
            "at": stamp(events["t"].to_numpy()),
            "level": events["level"].to_numpy(),
            "outcome": events["outcome"].to_numpy(),
            "note": _notes(rng, events["outcome"].to_numpy()),
        }
    )

    screenings, assessments, assessment_oracle = _psychology(
        rng, city, people, sim, person_id, stamp, days
    )

    incidents = sim.incidents.sort_values("t", kind="stable").reset_index(drop=True)
    linked = incidents["case"].to_numpy()
    incidents_table = pd.DataFrame(
        {
            "incident_id": [f"JQ{i:07d}" for i in range(len(incidents))],
            "occurred_at": stamp(incidents["t"].to_numpy()),
            "household_id": hh_id[incidents["household"].to_numpy()],
            "person_id": _ref(person_id, incidents["person"].to_numpy()),
            "offence": incidents["offence"].to_numpy(),
            "case_id": _ref(case_id, np.where(linked >= 0, position[np.maximum(linked, 0)], -1)),
        }
    )
    tables = {
        "households": households,
        "persons": persons,
        "hotline_calls": hotline_calls,
        "cases": cases,
        "mediation_events": mediation_events,
        "screenings": screenings,
        "psych_assessments": assessments,
        "incidents": incidents_table,
    }
    return tables, assessment_oracle, intake_tone


def _clock(start: date):
    """Days since ``start`` (Shanghai midnight) → ISO 8601 strings with the +08:00 offset."""
    origin = np.datetime64(start.isoformat(), "s")

    def stamp(t):
        seconds = (
            np.round(np.asarray(t, dtype=float) * 86400).astype(np.int64).astype("timedelta64[s]")
        )
        return pd.Series(
            np.char.add(np.datetime_as_string(origin + seconds, unit="s"), "+08:00"), dtype=object
        )

    return stamp


def _maybe(stamp, t):
    out = stamp(np.nan_to_num(t))
    out[np.isnan(t)] = None
    return out


def _bool(flag):
    return np.where(flag, "true", "false")


def _ref(ids, index):
    return np.where(index >= 0, ids[np.maximum(index, 0)], None)


def _recorded(rng, flag, missing=0.15):
    """A flag as grid staff recorded it: sometimes never filled in."""
    return np.where(rng.random(len(flag)) < missing, None, _bool(flag))


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高梁宋郑谢韩唐冯于董萧"
GIVEN = "华明芳军英伟秀兰强丽静敏勇霞刚玲峰燕"


def _persons_table(rng, people: People, person_id, hh_id, year: int) -> pd.DataFrame:
    n = len(person_id)
    birth = year - people.age
    return pd.DataFrame(
        {
            "person_id": person_id,
            "household_id": hh_id[people.household],
            "sex": np.where(people.sex == 1, "male", "female"),
            "birth_year": birth,
            "employment": np.where(
                rng.random(n) < 0.1, None, np.array(EMPLOYMENT, dtype=object)[people.employment]
            ),
            "returned_migrant": _recorded(rng, people.returned),
            "alcohol_problem": _recorded(rng, people.alcohol),
            "prior_conviction": _recorded(rng, people.prior),
            "mental_health_registry": _recorded(rng, people.registry, 0.1),
            "ethnicity": np.where(
                rng.random(n) < 0.05, None, np.where(people.minority, "minority", "han")
            ),
            "name": [
                SURNAMES[i % len(SURNAMES)] + "某" + GIVEN[(i // 7) % len(GIVEN)]
                for i in rng.integers(0, 10**6, n)
            ],
            "id_number": [f"000000{b}0101{i % 10_000:04d}" for b, i in zip(birth, range(n))],
            "phone": np.where(rng.random(n) < 0.2, None, [f"100{i:08d}" for i in range(n)]),
        }
    )


def _psychology(rng, city: City, people: People, sim: Simulation, person_id, stamp, days):
    """Screenings read distress with noise; positive ones lead to a counsellor's 绿黄红 assessment."""
    years = days / 365
    adults = np.flatnonzero(people.adult)
    routine = np.repeat(adults, rng.poisson((0.15 + 0.6 * people.registry[adults]) * years))
    after_case = rng.random(len(sim.t_open)) < 0.35
    screened = np.concatenate([routine, _member(rng, people, sim.household[after_case])])
    t = np.concatenate(
        [
            rng.random(len(routine)) * days,
            sim.t_open[after_case] + 3 + rng.random(after_case.sum()) * 37,
        ]
    )
    keep = t < days
    screened, t = screened[keep], t[keep]
    distress = _distress(people, sim, screened, t)
    phq = rng.random(len(t)) < 0.9
    gad = ~phq | (rng.random(len(t)) < 0.6)
    phq_score = np.clip(np.round(5.5 + 4 * distress + rng.normal(0, 2.5, len(t))), 0, 27).astype(
        int
    )
    gad_score = np.clip(np.round(4.5 + 3.2 * distress + rng.normal(0, 2.5, len(t))), 0, 21).astype(
        int
    )
    item9 = np.digitize(2.2 * distress - 3.5 + rng.logistic(0, 1, len(t)), [0, 1.5, 3])
    rows = (
        pd.concat(
            [
                pd.DataFrame(
                    {
                        "t": t[phq],
                        "person": screened[phq],
                        "instrument": "phq9",
                        "score": phq_score[phq],
                        "item9": item9[phq],
                    }
                ),
                pd.DataFrame(
                    {
                        "t": t[gad],
                        "person": screened[gad],
                        "instrument": "gad7",
                        "score": gad_score[gad],
                        "item9": -1,
                    }
                ),
            ]
        )
        .sort_values(["t", "instrument"], kind="stable")
        .reset_index(drop=True)
    )
    screenings = pd.DataFrame(
        {
            "screening_id": [f"SC-{i:06d}" for i in range(len(rows))],
            "person_id": person_id[rows["person"].to_numpy()],
            "at": stamp(rows["t"].to_numpy()),
            "instrument": rows["instrument"].to_numpy(),
            "score": rows["score"].to_numpy(),
            "item9": rows["item9"].astype("Int64").where(rows["item9"] >= 0),
        }
    )

    positive = (phq & ((phq_score >= 10) | (item9 >= 1))) | (gad & (gad_score >= 10))
    referred = rng.random(len(t)) < np.where(positive, 0.6, 0.04)
    community = np.repeat(adults, rng.poisson(0.05 * years, len(adults)))
    who = np.concatenate([screened[referred], community])
    at = np.concatenate(
        [t[referred] + 3 + rng.random(referred.sum()) * 27, rng.random(len(community)) * days]
    )
    keep = at < days
    who, at = who[keep], at[keep]
    order = np.argsort(at, kind="stable")
    who, at = who[order], at[order]
    score = TIER_SLOPE * _distress(people, sim, who, at)
    p_red = 1 / (1 + np.exp(-(score - RED_CUT)))
    p_green = 1 - 1 / (1 + np.exp(-(score - GREEN_CUT)))
    u = rng.random(len(who))
    tier = np.where(u < p_green, "green", np.where(u < 1 - p_red, "yellow", "red"))
    ids = np.array([f"PG-{i:06d}" for i in range(len(who))], dtype=object)
    assessments = pd.DataFrame(
        {"assessment_id": ids, "person_id": person_id[who], "at": stamp(at), "tier": tier}
    )
    oracle = pd.DataFrame(
        {"assessment_id": ids, "p_green": p_green, "p_yellow": 1 - p_green - p_red, "p_red": p_red}
    )
    return screenings, assessments, oracle


def _distress(people: People, sim: Simulation, person, t):
    week = np.minimum((t / WEEK).astype(int), sim.grievance.shape[0] - 1)
    return people.distress[person] + 0.45 * sim.grievance[week, people.household[person]]


# ----------------------------------------------------------------------------- texts

CASE_TEXTS = {
    "marriage_family": (
        "夫妻因{topic}长期争吵,女方提出离婚,双方对房产分割各不相让",
        "婆媳矛盾由来已久,近来因{topic}又起冲突",
        "离婚后抚养费{amount}元迟迟不付,前妻多次上门索要",
        "兄弟几人因{topic}闹翻,互不往来",
        "丈夫常年在外,回乡后与妻子因{topic}争执不断",
    ),
    "neighbor": (
        "两户因排水沟堵塞互相指责",
        "邻居装修噪音扰民,多次协商未果",
        "因院墙越界发生口角,都说地是自家的",
        "楼上漏水把楼下墙面泡坏,要求赔偿{amount}元",
        "门前堆放杂物堵路,两家为此吵了多次",
    ),
    "wage_arrears": (
        "{n}名工人被拖欠工资约{amount}元,已拖了{months}个月",
        "包工头失联,{n}名务工人员讨薪无门,欠薪{months}个月",
        "工地结算纠纷,农民工{n}人讨要工钱{amount}元",
    ),
    "property_management": (
        "业主与物业因物业费上涨发生纠纷",
        "小区电梯长期故障,业主拒交物业费",
        "停车位收费问题,业主和物业公司对立",
    ),
    "land_transfer": (
        "土地流转合同到期,承包方拖欠租金{amount}元",
        "两户因承包地边界不清发生争执",
        "征地补偿分配不均,村民意见很大",
    ),
    "medical": ("患者家属对手术结果不满,要求赔偿{amount}元", "医疗费用有争议,家属在医院门口拉横幅"),
    "traffic_accident": ("电动车与小轿车相撞,对赔偿{amount}元有异议", "事故后肇事方迟迟不赔医药费"),
    "construction": ("房屋装修质量有问题,业主拒付尾款{amount}元", "建房施工震裂邻居墙体"),
    "commercial": ("合伙生意散伙,对账目有分歧,涉及{amount}元", "货款{amount}元逾期未付"),
    "other": ("借款{amount}元到期未还", "因迁坟问题两家发生争执"),
}
TOPICS = ("彩礼返还", "宅基地分家", "老人赡养", "欠债", "孩子上学", "家务琐事")
HOT = (
    "对方扬言要让他“好看”",
    "当事人情绪激动,称要同归于尽",
    "曾拿着菜刀到对方家门口叫骂",
    "放话要一把火烧了对方的房子",
    "双方已有推搡,冲突一触即发",
    "扬言再不解决就要“拼命”",
    "说自己已经忍无可忍",
    "半夜打电话恐吓对方家人",
)
CALM = ("双方愿意坐下来谈", "当事人情绪基本稳定", "希望尽快调处", "要求依法处理", "")
CALL_WORDS = (
    ("家里吵架", "夫妻矛盾", "婆媳不和", "闹离婚"),
    ("邻里纠纷", "邻居噪音", "占道堆放", "楼上漏水"),
    ("讨薪", "工钱拖欠", "包工头跑路"),
    ("物业费", "小区停车", "电梯坏了"),
    ("承包地", "土地租金", "地界"),
    ("医疗纠纷", "看病赔偿"),
    ("交通事故赔偿", "撞车"),
    ("装修质量", "施工扰民"),
    ("货款", "合伙账目"),
    ("借钱不还", "坟地"),
    ("有人聚众喝酒吵闹", "深夜噪音", "街上有人打架"),
)
CALL_TEXTS = (
    "来电反映{w}问题,希望有人管一管",
    "{w},已经好几次了",
    "网格员上报:{w}",
    "市民称{w},要求处理",
    "{w}。来电人语气平和",
)
CALL_HOT = (
    "来电人称对方扬言报复",
    "情绪激动,说要动刀",
    "称“再不管就要出人命了”",
    "说要去对方家里讨个说法",
    "哭诉被对方威胁",
)
NOTES = {
    "agreement": ("双方达成协议,当场签字", "经调解握手言和", "达成分期付款协议"),
    "no_agreement": ("双方各执一词,未能达成一致", "分歧较大,择日再调", "一方情绪激动,调解中止"),
    "party_absent": ("被申请人未到场", "一方电话不接,未到场"),
    "referred": ("引导当事人走诉讼程序", "移交法院处理"),
}
TRADITIONAL = str.maketrans(
    "们说钱还发门对时话过这里为气报复动杀闹邻纠纷协调资离烧拼恐吓扬执处问题费赔偿账业",
    "們說錢還發門對時話過這裡為氣報復動殺鬧鄰糾紛協調資離燒拚恐嚇揚執處問題費賠償賬業",
)


def _pick(rng, options):
    return options[rng.integers(len(options))]


def _variant(rng, text: str) -> str:
    """Some operators write traditional characters."""
    return text.translate(TRADITIONAL) if rng.random() < 0.15 else text


def _descriptions(rng, sim: Simulation, order, alcohol_home) -> tuple[list, np.ndarray]:
    """Intake summaries in case order, and each case's tone in creation order (1 hot, 0 calm, -1 none)."""
    hot = rng.random(len(order)) < _p_hot_intake(sim.hidden, _grievance_at_opening(sim))
    tone = hot.astype(int)
    out = []
    for i in order:
        if rng.random() < 0.05:
            out.append(None)
            tone[i] = -1
            continue
        text = _pick(rng, CASE_TEXTS[TYPES[sim.kind[i]]]).format(
            topic=_pick(rng, TOPICS),
            n=sim.parties[i],
            months=sim.delay[i],
            amount=f"{sim.amount[i]:,.0f}" if np.isfinite(sim.amount[i]) else "若干",
        )
        extra = _pick(rng, HOT) if hot[i] else _pick(rng, CALM)
        if alcohol_home[sim.household[i]] and rng.random() < 0.3:
            extra += ",一方有酗酒习惯"
        out.append(_variant(rng, "。".join(p for p in (text, extra) if p)))
    return out, tone


def _week_of_opening(sim: Simulation) -> np.ndarray:
    """Each case's row of ``sim.grievance`` (the last week for a case opened in it)."""
    return np.minimum((sim.t_open / WEEK).astype(int), sim.grievance.shape[0] - 1)


def _grievance_at_opening(sim: Simulation) -> np.ndarray:
    return sim.grievance[_week_of_opening(sim), sim.household]


def _p_hot_intake(hidden, grievance):
    """How likely an intake summary is written in a hot tone."""
    return 1 / (1 + np.exp(-(-2.2 + 0.8 * hidden + 0.5 * grievance)))


def _call_texts(rng, category, tense) -> list:
    out = []
    for k, hot in zip(category, tense):
        if rng.random() < 0.1:
            out.append(None)
            continue
        text = _pick(rng, CALL_TEXTS).format(w=_pick(rng, CALL_WORDS[k]))
        out.append(_variant(rng, text + (",".join(("", _pick(rng, CALL_HOT))) if hot else "")))
    return out


def _notes(rng, outcome) -> list:
    return [None if rng.random() < 0.35 else _variant(rng, _pick(rng, NOTES[o])) for o in outcome]
