"""Households and the people in them: the latent propensity, true flags, what grid staff recorded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from triage.contract import EMPLOYMENT, DISPUTE_TYPES
from triage.synth.params import DAY, Clock, draw_categorical, ids

FLAGS = ("returned_migrant", "alcohol_problem", "prior_conviction", "mental_health_registry")
ID_CHECK_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK_CHARS = np.array(list("10X98765432"))
S = np.dtypes.StringDType()


@dataclass
class Population:
    """Columnar households and persons; persons are sorted by household."""

    household_id: np.ndarray
    district: np.ndarray  # index into params city.districts
    street: np.ndarray  # global street index
    street_name: np.ndarray
    district_name: np.ndarray
    grid_id: np.ndarray
    rural: np.ndarray
    size: np.ndarray
    low_income: np.ndarray
    registered_t: np.ndarray  # seconds since the clock's start (negative: before it)
    propensity: np.ndarray  # latent conflict propensity, never written
    focus: np.ndarray  # the household's usual kind of trouble (dispute type index)
    activity: np.ndarray  # how readily the household calls hotlines
    first_person: np.ndarray
    n_persons: np.ndarray
    any_flag: dict[str, np.ndarray]  # household has a member with the true flag
    max_distress: np.ndarray
    persons: dict[str, np.ndarray]  # written columns (strings, None for null) plus internals
    person_household: np.ndarray
    person_distress: np.ndarray

    @property
    def n(self) -> int:
        return len(self.household_id)


def build_population(
    rng: np.random.Generator, n_households: int, clock: Clock, params: dict
) -> Population:
    city = params["city"]
    districts = city["districts"]
    n = n_households

    district = rng.integers(0, len(districts), n)
    streets_per_district = np.array([len(d["streets"]) for d in districts])
    street_offset = np.concatenate([[0], np.cumsum(streets_per_district)[:-1]])
    local_street = (rng.random(n) * streets_per_district[district]).astype(np.int64)
    street = street_offset[district] + local_street
    street_names = np.array([s for d in districts for s in d["streets"]], dtype=S)
    district_names = np.array([d["name"] for d in districts], dtype=S)
    grid = rng.integers(1, city["grids_per_street"] + 1, n)
    grid_id = np.strings.add(
        np.strings.add("G", np.strings.zfill(street.astype(S), 3)),
        np.strings.add("-", np.strings.zfill(grid.astype(S), 2)),
    )

    rural = rng.random(n) < np.array([d["rural_share"] for d in districts])[district]
    size = np.clip(1 + rng.poisson(city["household_size_mean_extra"], n), 1, 30)
    income_share = np.where(
        rural, city["low_income_share"]["rural"], city["low_income_share"]["urban"]
    )
    propensity = rng.standard_normal(n)
    low_income = rng.random(n) < income_share * np.exp(0.3 * propensity)

    since = np.datetime64(f"{city['registered_since_year']}-01-01") - clock.origin.astype(
        "datetime64[D]"
    )
    before = rng.random(n) < city["registered_before_start_share"]
    registered_t = np.where(
        before,
        rng.integers(since.astype(np.int64) * DAY, 0, n),
        rng.integers(0, max(clock.span - 30 * DAY, DAY), n),
    )
    # The usual trouble of a household follows the calm-week mix of case types.
    type_mix = np.array([params["cases"]["type_by_state"][t][0] for t in DISPUTE_TYPES])
    focus = draw_categorical(rng, np.broadcast_to(type_mix, (n, len(type_mix))))
    activity = rng.lognormal(0.0, params["calls"]["activity_sigma"], n)

    n_persons = np.minimum(size, city["max_registered_persons"])
    first_person = np.concatenate([[0], np.cumsum(n_persons)[:-1]])
    household_id = ids("H", n, 7)
    persons, person_household, any_flag, distress = _persons(
        rng, params, clock, household_id, district, rural, propensity, n_persons, first_person
    )
    max_distress = np.full(n, -np.inf)
    np.maximum.at(max_distress, person_household, distress)

    return Population(
        household_id=household_id,
        district=district,
        street=street,
        street_name=street_names[street],
        district_name=district_names[district],
        grid_id=grid_id,
        rural=rural,
        size=size,
        low_income=low_income,
        registered_t=registered_t,
        propensity=propensity,
        focus=focus,
        activity=activity,
        first_person=first_person,
        n_persons=n_persons,
        any_flag=any_flag,
        max_distress=max_distress,
        persons=persons,
        person_household=person_household,
        person_distress=distress,
    )


def _persons(
    rng, params, clock, household_id, district, rural, propensity, n_persons, first_person
):
    spec = params["persons"]
    m = int(n_persons.sum())
    hh = np.repeat(np.arange(len(n_persons)), n_persons)
    rank = np.arange(m) - first_person[hh]  # 0 = the person the household is registered to
    p_rural = rural[hh]

    female = rng.random(m) < spec["female_share"]
    female[rank == 1] = ~female[first_person[hh[rank == 1]]]  # the second member: the spouse
    head_age = rng.integers(24, 78, m)[first_person[hh]] if m else np.empty(0, dtype=np.int64)
    kind = rng.random(m)
    age = np.where(
        rank == 0,
        head_age,
        np.where(
            rank == 1,
            np.clip(head_age + rng.integers(-5, 6, m), 18, 95),
            np.where(
                kind < 0.7,
                np.clip(head_age - rng.integers(20, 35, m), 0, 60),
                np.clip(head_age + rng.integers(20, 30, m), 40, 100),
            ),
        ),
    )
    ref_year = clock.start.year
    birth_year = ref_year - age
    adult = age >= 18

    columns: dict[str, np.ndarray] = {
        "person_id": ids("P", m, 8),
        "household_id": household_id[hh],
        "sex": np.where(female, "female", "male").astype(object),
        "birth_year": birth_year.astype(S).astype(object),
    }
    any_flag, truth_of = {}, {}
    for flag in FLAGS:
        prevalence = spec["flags"][flag]
        base = np.where(p_rural, prevalence["rural"], prevalence["urban"])
        odds = (
            base
            / (1 - base)
            * np.where(female, 1.0, prevalence["male_factor"])
            * np.exp(spec["propensity_flag_shift"] * propensity[hh])
        )
        truth = adult & (rng.random(m) < odds / (1 + odds))
        unrecorded = rng.random(m) < np.where(
            truth, spec["unrecorded_if_true"], spec["unrecorded_if_false"]
        )
        columns[flag] = _bool_text(truth, unrecorded)
        truth_of[flag] = truth
        any_flag[flag] = np.bincount(hh, weights=truth, minlength=len(n_persons)) > 0

    columns["employment"] = _employment(rng, params["employment"], age, p_rural)
    minority_share = np.array([d["minority_share"] for d in params["city"]["districts"]])[
        district[hh]
    ]
    ethnicity = np.where(rng.random(m) < minority_share, "minority", "han").astype(object)
    ethnicity[rng.random(m) < spec["ethnicity_unrecorded"]] = None
    columns["ethnicity"] = ethnicity

    # Baseline mental distress: personal, a little shared with the household's conflict, and high
    # for people on the severe-mental-disorder registry.
    distress = (
        0.8 * rng.standard_normal(m)
        + 0.3 * propensity[hh]
        + params["screenings"]["registry_distress"] * truth_of["mental_health_registry"]
    )
    columns.update(_pii(rng, params, district[hh], female, birth_year, m))
    return columns, hh, any_flag, distress


def _bool_text(truth: np.ndarray, unrecorded: np.ndarray) -> np.ndarray:
    text = np.where(truth, "true", "false").astype(object)
    text[unrecorded] = None
    return text


def _employment(rng, spec, age, rural) -> np.ndarray:
    codes = np.array(EMPLOYMENT, dtype=object)
    out = np.empty(len(age), dtype=object)
    for area, is_area in (("rural", rural), ("urban", ~rural)):
        mix = spec["working_age"][area]
        weights = np.array([mix.get(code, 0.0) for code in EMPLOYMENT])
        rows = np.flatnonzero(is_area)
        out[rows] = codes[
            draw_categorical(rng, np.broadcast_to(weights, (len(rows), len(weights))))
        ]
    out[age <= spec["student_until_age"]] = "student"
    out[age >= spec["retired_from_age"]] = "retired"
    out[rng.random(len(age)) < spec["unrecorded_share"]] = None
    return out


def _pii(rng, params, district, female, birth_year, m) -> dict[str, np.ndarray]:
    """Fake but realistic names, 18-digit identity numbers (with a valid check digit) and mobiles."""
    names = params["names"]
    surnames = np.array(list(names["surnames"]), dtype=S)
    # given-name characters by sex, plus an empty one for single-character given names
    n_female, n_male = len(names["given_female"]), len(names["given_male"])
    given = np.array(list(names["given_female"]) + list(names["given_male"]) + [""], dtype=S)
    pick = (rng.random((m, 2)) * np.where(female, n_female, n_male)[:, None]).astype(np.int64)
    pick += np.where(female, 0, n_female)[:, None]
    pick[rng.random(m) < 0.3, 1] = len(given) - 1
    name = np.strings.add(
        np.strings.add(surnames[rng.integers(0, len(surnames), m)], given[pick[:, 0]]),
        given[pick[:, 1]],
    )

    prefixes = np.array([[int(c) for c in d["id_prefix"]] for d in params["city"]["districts"]])
    month = rng.integers(1, 13, m)
    day = rng.integers(1, 29, m)
    sequence = rng.integers(0, 500, m) * 2 + np.where(female, 0, 1)  # odd for men, even for women
    digits = np.column_stack(
        [
            prefixes[district],
            _digits(birth_year, 4),
            _digits(month, 2),
            _digits(day, 2),
            _digits(sequence, 3),
        ]
    )
    check = ID_CHECK_CHARS[(digits * ID_CHECK_WEIGHTS).sum(axis=1) % 11]
    id_number = np.strings.add(_join_digits(digits), check.astype(S))

    phone_prefixes = np.array(names["phone_prefixes"], dtype=S)
    phone = np.strings.add(
        phone_prefixes[rng.integers(0, len(phone_prefixes), m)],
        _join_digits(rng.integers(0, 10, (m, 8))),
    )

    out = {}
    for column, values in (("name", name), ("id_number", id_number), ("phone", phone)):
        text = values.astype(object)
        text[rng.random(m) < params["persons"]["pii_missing"][column]] = None
        out[column] = text
    return out


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1)
    return (values[:, None] // powers) % 10


def _join_digits(digits: np.ndarray) -> np.ndarray:
    """Rows of single digits as text, without a Python loop: ASCII bytes viewed as one string."""
    ascii_digits = np.ascontiguousarray(digits.astype(np.uint8) + ord("0"))
    return ascii_digits.view(f"S{digits.shape[1]}").ravel().astype(S)
