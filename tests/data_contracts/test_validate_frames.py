"""``validate_frames`` as the HTTP ingest uses it: rows of one table plus what is already stored."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.data_contracts import DatasetUnreadable, validate_frames

STORED_HOUSEHOLDS = {"households": pd.DataFrame({"household_id": ["hh-north-01", "hh-north-02"]})}
STORED_CASES = {
    "cases": pd.DataFrame(
        {"case_id": ["case-501"], "opened_at": pd.to_datetime(["2024-03-04T02:00:00Z"], utc=True)}
    )
}


def test_persons_of_stored_households_are_valid(tiny_city, as_frames):
    persons = as_frames({"persons": tiny_city["persons"][:3]})
    result = validate_frames(persons, stored=STORED_HOUSEHOLDS)
    assert list(result.valid["persons"]["person_id"]) == ["p-0001", "p-0002", "p-0003"]
    assert list(result.valid) == ["persons"]


def test_persons_of_households_neither_sent_nor_stored_are_unknown(tiny_city, as_frames):
    result = validate_frames(as_frames({"persons": tiny_city["persons"]}), stored=STORED_HOUSEHOLDS)
    assert result.quarantine["persons"][["row_number", "rule"]].values.tolist() == [
        [4, "unknown_reference"]
    ]


def test_events_are_checked_against_the_stored_opening_time(as_frames):
    events = as_frames(
        {
            "mediation_events": [
                {
                    "event_id": "ev-a",
                    "case_id": "case-501",
                    "at": "2024-03-04T10:00:00+08:00",
                    "level": "village",
                    "outcome": "agreement",
                },
                {
                    "event_id": "ev-b",
                    "case_id": "case-501",
                    "at": "2024-03-04T09:00:00+08:00",
                    "level": "village",
                    "outcome": "agreement",
                },
            ]
        }
    )
    result = validate_frames(events, stored=STORED_CASES)
    assert list(result.valid["mediation_events"]["event_id"]) == ["ev-a"]
    assert (
        result.quarantine["mediation_events"].loc[0, "detail"] == "time_order (at, cases.opened_at)"
    )


def test_json_scalars_are_read_as_their_text():
    screenings = pd.DataFrame(
        [
            {
                "screening_id": "scr-j1",
                "person_id": "p-1",
                "at": "2024-01-01T08:00:00+08:00",
                "instrument": "phq9",
                "score": 12,
                "item9": 1,
            },
            {
                "screening_id": "scr-j2",
                "person_id": "p-1",
                "at": "2024-01-02T08:00:00+08:00",
                "instrument": "gad7",
                "score": 3.0,
                "item9": None,
            },
        ]
    )
    result = validate_frames(
        {"screenings": screenings}, stored={"persons": pd.DataFrame({"person_id": ["p-1"]})}
    )
    assert result.summary["quarantined"] == 0
    assert result.valid["screenings"]["score"].tolist() == [12, 3]


def test_an_unknown_table_is_refused():
    with pytest.raises(DatasetUnreadable, match="unknown table"):
        validate_frames({"people": pd.DataFrame({"x": ["1"]})})


# Every spelling docs/data-format.md allows, drawn at random: none may ever be quarantined.
ids = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]),
    min_size=1,
    max_size=64,
).filter(lambda s: s == s.strip())
timestamps = st.builds(
    lambda moment, sep, seconds, offset: (
        moment.strftime(f"%Y-%m-%d{sep}%H:%M" + (":%S" if seconds else "")) + offset
    ),
    st.datetimes(
        min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2100-01-01").to_pydatetime(),
    ),
    st.sampled_from(["T", " "]),
    st.booleans(),
    st.sampled_from(["", "Z", "+08:00", "-05:30", "+0000"]),
)
bools = st.sampled_from(["true", "false", "TRUE", "False", "1", "0", "tRuE"])
households = st.fixed_dictionaries(
    {
        # NUL is the one character no text may hold (PostgreSQL cannot store it): test_fuzz_loaders.py
        "household_id": ids,
        "district": st.text(
            st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=4000
        ).filter(str.strip),
        "street": st.sampled_from(["東湖街道", "东湖街道", 'Main St, "north"']),
        "grid_id": ids,
        "area_type": st.sampled_from(["urban", "rural"]),
        "size": st.integers(1, 30).map(str),
        "low_income": bools,
        "registered_at": timestamps,
    }
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(households, min_size=1, max_size=40, unique_by=lambda h: h["household_id"]))
def test_no_valid_household_is_ever_quarantined(rows):
    result = validate_frames({"households": pd.DataFrame(rows, dtype="str")})
    assert result.quarantine["households"].empty, result.quarantine["households"][
        ["rule", "detail"]
    ]
    assert len(result.valid["households"]) == len(rows)
