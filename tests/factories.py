"""Tiny cities in a line, as *typed* frames (``triage.contract.TYPED_DTYPES``).

    city = (City()
            .household("H1").person("P1", alcohol_problem=True)
            .household("H2")
            .call("H1", "2024-01-02", text="扬言要砍死他")
            .case("C1", "H1", "2024-02-01", counterparty="H2"))
    tables = city.tables()                 # dict table -> typed DataFrame, every table present
    cases = city.cases_as_of()             # the cases plus an ``as_of`` column (= opened_at)

Times are ISO strings (no offset = Asia/Shanghai, as in docs/data-format.md) or Timestamps.  Ids of
calls, events, screenings, assessments and incidents are numbered automatically.
``random_tables`` builds a larger random city with numpy for property tests and timings.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import count

import numpy as np
import pandas as pd

from triage.features import as_utc

from triage.contract import (
    CALL_CATEGORIES,
    CASE_SOURCES,
    CHANNELS,
    DISPUTE_TYPES,
    MEDIATION_LEVELS,
    MEDIATION_OUTCOMES,
    OFFENCES,
    TABLE_ORDER,
    TABLES,
    TIMEZONE,
    TYPED_DTYPES,
    empty_typed_frame,
)


def utc(value) -> pd.Timestamp:
    """A timestamp in UTC; a value without an offset is Asia/Shanghai time."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(TIMEZONE)
    return stamp.tz_convert("UTC").as_unit("ns")


def typed_frame(table: str, rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Rows of ``table`` as a typed frame: every contract column, contract dtypes, nulls as NA."""
    spec = TABLES[table]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return empty_typed_frame(table)
    out = {}
    for column in spec.columns:
        values = (
            frame[column.name]
            if column.name in frame.columns
            else pd.Series(pd.NA, index=frame.index)
        )
        if column.type == "timestamp" and pd.api.types.is_datetime64_any_dtype(values):
            out[column.name] = as_utc(values).set_axis(frame.index)
        elif column.type == "timestamp":
            out[column.name] = pd.Series(
                [utc(v) if pd.notna(v) else pd.NaT for v in values],
                index=frame.index,
                dtype=TYPED_DTYPES["timestamp"],
            )
        else:
            out[column.name] = (
                values.astype("object")
                .where(values.notna(), None)
                .astype(TYPED_DTYPES[column.type])
            )
    return pd.DataFrame(out).reset_index(drop=True)


class City:
    """A hand-built city: chain the methods, then take ``tables()``."""

    def __init__(self):
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self._numbers = count(1)
        self._last_household: str | None = None

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._numbers)}"

    def household(
        self,
        household_id: str,
        *,
        registered_at="2020-01-01",
        size: int = 3,
        low_income: bool = False,
        area_type: str = "urban",
        district: str = "城关区",
        street: str = "东关街道",
        grid_id: str = "G1",
    ) -> "City":
        self.rows["households"].append(
            dict(
                household_id=household_id,
                district=district,
                street=street,
                grid_id=grid_id,
                area_type=area_type,
                size=size,
                low_income=low_income,
                registered_at=registered_at,
            )
        )
        self._last_household = household_id
        return self

    def person(
        self,
        person_id: str,
        household_id: str | None = None,
        *,
        sex: str = "female",
        birth_year: int = 1980,
        **attributes,
    ) -> "City":
        """A member of ``household_id`` (default: the last household added); flags default unknown."""
        self.rows["persons"].append(
            dict(
                person_id=person_id,
                household_id=household_id or self._last_household,
                sex=sex,
                birth_year=birth_year,
                **attributes,
            )
        )
        return self

    def call(
        self,
        household_id: str | None,
        received_at,
        *,
        text: str | None = None,
        channel: str = "12345",
        category: str = "neighbor",
        person_id: str | None = None,
        call_id: str | None = None,
    ) -> "City":
        self.rows["hotline_calls"].append(
            dict(
                call_id=call_id or self._id("K"),
                received_at=received_at,
                channel=channel,
                household_id=household_id,
                person_id=person_id,
                category=category,
                text=text,
            )
        )
        return self

    def case(
        self,
        case_id: str,
        household_id: str,
        opened_at,
        *,
        counterparty: str | None = None,
        dispute_type: str = "neighbor",
        source: str = "walk_in",
        amount_cny: float | None = None,
        parties_count: int = 2,
        description: str | None = None,
        status: str = "open",
        closed_at=None,
    ) -> "City":
        self.rows["cases"].append(
            dict(
                case_id=case_id,
                opened_at=opened_at,
                household_id=household_id,
                counterparty_household_id=counterparty,
                dispute_type=dispute_type,
                source=source,
                amount_cny=amount_cny,
                parties_count=parties_count,
                description=description,
                status=status,
                closed_at=closed_at,
            )
        )
        return self

    def mediation(
        self,
        case_id: str,
        at,
        *,
        level: str = "village",
        outcome: str = "agreement",
        note: str | None = None,
    ) -> "City":
        self.rows["mediation_events"].append(
            dict(
                event_id=self._id("M"),
                case_id=case_id,
                at=at,
                level=level,
                outcome=outcome,
                note=note,
            )
        )
        return self

    def screening(
        self,
        person_id: str,
        at,
        *,
        instrument: str = "phq9",
        score: int = 0,
        item9: int | None = None,
    ) -> "City":
        self.rows["screenings"].append(
            dict(
                screening_id=self._id("S"),
                person_id=person_id,
                at=at,
                instrument=instrument,
                score=score,
                item9=item9,
            )
        )
        return self

    def assessment(
        self, person_id: str, at, tier: str, *, assessment_id: str | None = None
    ) -> "City":
        self.rows["psych_assessments"].append(
            dict(
                assessment_id=assessment_id or self._id("A"), person_id=person_id, at=at, tier=tier
            )
        )
        return self

    def incident(
        self,
        household_id: str,
        occurred_at,
        *,
        offence: str = "assault",
        person_id: str | None = None,
        case_id: str | None = None,
    ) -> "City":
        self.rows["incidents"].append(
            dict(
                incident_id=self._id("I"),
                occurred_at=occurred_at,
                household_id=household_id,
                person_id=person_id,
                offence=offence,
                case_id=case_id,
            )
        )
        return self

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every exchange table as a typed frame (empty tables included)."""
        return {name: typed_frame(name, self.rows.get(name, [])) for name in TABLE_ORDER}

    def cases_as_of(self, as_of=None, case_ids: list[str] | None = None) -> pd.DataFrame:
        """The city's cases with an ``as_of`` column: ``as_of`` if given, else each case's opening."""
        cases = self.tables()["cases"]
        if case_ids is not None:
            cases = cases.set_index("case_id").loc[case_ids].reset_index()
        cases["as_of"] = cases["opened_at"] if as_of is None else utc(as_of)
        return cases


def new_case(case_id: str, household_id: str, opened_at, *, as_of=None, **columns) -> pd.DataFrame:
    """One case that is not in the tables, as the service receives it, with its ``as_of``."""
    frame = City().case(case_id, household_id, opened_at, **columns).tables()["cases"]
    frame["as_of"] = utc(as_of if as_of is not None else opened_at)
    return frame


def random_tables(
    households: int,
    *,
    seed: int = 0,
    start="2022-01-01",
    days: int = 1095,
    calls_per_household: float = 5.0,
    cases_per_household: float = 1.0,
    texts: tuple[str, ...] = ("邻里噪音纠纷", "扬言要砍死他", "揚言同歸於盡", "欠薪", None),
) -> dict[str, pd.DataFrame]:
    """A random city of ``households`` households with realistic table proportions (no simulation)."""
    rng = np.random.default_rng(seed)
    t0 = utc(start)

    def times(n: int) -> pd.Series:
        offsets = rng.integers(0, days * 86_400, n) * 1_000_000_000
        return pd.Series(t0 + pd.to_timedelta(offsets, unit="ns"), dtype=TYPED_DTYPES["timestamp"])

    def pick(values, n, p=None):
        return pd.Series(rng.choice(np.asarray(values, dtype=object), n, p=p), dtype="string")

    def unknown_or(n: int, share: float) -> pd.Series:
        recorded = rng.random(n) < 0.6
        return pd.Series(np.where(recorded, rng.random(n) < share, None), dtype="boolean")

    hh_ids = pd.Series([f"H{i}" for i in range(households)], dtype="string")
    tables = {
        "households": pd.DataFrame(
            {
                "household_id": hh_ids,
                "district": pick(["城关区", "新城区"], households),
                "street": pick(["东关街道", "西关街道"], households),
                "grid_id": pick(["G1", "G2", "G3"], households),
                "area_type": pick(["urban", "rural"], households),
                "size": pd.array(rng.integers(1, 7, households), "Int64"),
                "low_income": pd.array(rng.random(households) < 0.1, "boolean"),
                "registered_at": pd.Series(
                    utc("2015-01-01")
                    + pd.to_timedelta(rng.integers(0, 3000, households), unit="D"),
                    dtype=TYPED_DTYPES["timestamp"],
                ),
            }
        )
    }
    n_persons = households * 3
    person_hh = hh_ids.iloc[rng.integers(0, households, n_persons)].reset_index(drop=True)
    tables["persons"] = typed_frame(
        "persons",
        pd.DataFrame(
            {
                "person_id": [f"P{i}" for i in range(n_persons)],
                "household_id": person_hh,
                "sex": pick(["female", "male"], n_persons),
                "birth_year": rng.integers(1940, 2010, n_persons),
                "alcohol_problem": unknown_or(n_persons, 0.1),
                "prior_conviction": unknown_or(n_persons, 0.05),
                "returned_migrant": unknown_or(n_persons, 0.1),
                "mental_health_registry": unknown_or(n_persons, 0.02),
            }
        ),
    )
    n_calls = int(households * calls_per_household)
    tables["hotline_calls"] = pd.DataFrame(
        {
            "call_id": pd.Series([f"K{i}" for i in range(n_calls)], dtype="string"),
            "received_at": times(n_calls),
            "channel": pick(CHANNELS, n_calls),
            "household_id": hh_ids.iloc[rng.integers(0, households, n_calls)].reset_index(
                drop=True
            ),
            "person_id": pd.Series(pd.NA, index=range(n_calls), dtype="string"),
            "category": pick(CALL_CATEGORIES, n_calls),
            "text": pick(texts, n_calls),
        }
    )
    n_cases = int(households * cases_per_household)
    case_hh = rng.integers(0, households, n_cases)
    counterparty = (
        np.where(
            rng.random(n_cases) < 0.5,
            (case_hh + 1 + rng.integers(0, households - 1, n_cases)) % households,
            -1,
        )
        if households > 1
        else np.full(n_cases, -1)
    )
    opened = times(n_cases)
    tables["cases"] = pd.DataFrame(
        {
            "case_id": pd.Series([f"C{i}" for i in range(n_cases)], dtype="string"),
            "opened_at": opened,
            "household_id": hh_ids.iloc[case_hh].reset_index(drop=True),
            "counterparty_household_id": pd.Series(
                [f"H{c}" if c >= 0 else None for c in counterparty], dtype="string"
            ),
            "dispute_type": pick(DISPUTE_TYPES, n_cases),
            "source": pick(CASE_SOURCES, n_cases),
            "amount_cny": pd.array(
                np.where(rng.random(n_cases) < 0.5, rng.exponential(20000, n_cases), np.nan),
                "Float64",
            ),
            "parties_count": pd.array(rng.integers(2, 6, n_cases), "Int64"),
            "description": pick(texts, n_cases),
            "status": pick(["open", "mediated", "failed"], n_cases),
            "closed_at": pd.Series(pd.NaT, index=range(n_cases), dtype=TYPED_DTYPES["timestamp"]),
        }
    )
    n_events = n_cases
    event_case = rng.integers(0, n_cases, n_events)
    tables["mediation_events"] = pd.DataFrame(
        {
            "event_id": pd.Series([f"M{i}" for i in range(n_events)], dtype="string"),
            "case_id": tables["cases"]["case_id"].iloc[event_case].reset_index(drop=True),
            "at": opened.iloc[event_case].reset_index(drop=True)
            + pd.to_timedelta(rng.integers(0, 120, n_events), unit="D"),
            "level": pick(MEDIATION_LEVELS, n_events),
            "outcome": pick(MEDIATION_OUTCOMES, n_events),
            "note": pd.Series(pd.NA, index=range(n_events), dtype="string"),
        }
    )
    n_screenings = households
    instruments = rng.choice(["phq9", "gad7"], n_screenings)
    tables["screenings"] = typed_frame(
        "screenings",
        pd.DataFrame(
            {
                "screening_id": [f"S{i}" for i in range(n_screenings)],
                "person_id": tables["persons"]["person_id"]
                .iloc[rng.integers(0, n_persons, n_screenings)]
                .to_numpy(),
                "at": times(n_screenings),
                "instrument": instruments,
                "score": np.where(
                    instruments == "phq9",
                    rng.integers(0, 28, n_screenings),
                    rng.integers(0, 22, n_screenings),
                ),
                "item9": [
                    int(v) if i == "phq9" else None
                    for i, v in zip(instruments, rng.integers(0, 4, n_screenings))
                ],
            }
        ),
    )
    n_assessments = households // 2
    tables["psych_assessments"] = typed_frame(
        "psych_assessments",
        pd.DataFrame(
            {
                "assessment_id": [f"A{i}" for i in range(n_assessments)],
                "person_id": tables["persons"]["person_id"]
                .iloc[rng.integers(0, n_persons, n_assessments)]
                .to_numpy(),
                "at": times(n_assessments),
                "tier": rng.choice(["green", "yellow", "red"], n_assessments, p=[0.7, 0.2, 0.1]),
            }
        ),
    )
    n_incidents = households // 5
    tables["incidents"] = typed_frame(
        "incidents",
        pd.DataFrame(
            {
                "incident_id": [f"I{i}" for i in range(n_incidents)],
                "occurred_at": times(n_incidents),
                "household_id": hh_ids.iloc[rng.integers(0, households, n_incidents)].to_numpy(),
                "offence": rng.choice(OFFENCES, n_incidents),
            }
        ),
    )
    return tables
