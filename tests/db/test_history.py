"""read_tables and read_history: typed frames and column arrays out of the database, point in time."""

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from triage.contract import PII_COLUMNS, TABLE_ORDER, TABLES
from triage.db import engine_for, load_frames, migrate, read_tables
from triage.db.history import read_history


def _sorted(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.sort_values(TABLES[table].key).reset_index(drop=True)


def _ids(frames: dict[str, pd.DataFrame], table: str) -> set[str]:
    return set(frames[table][TABLES[table].key])


def test_round_trip_gives_the_frames_that_were_loaded(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    stored = read_tables(db_url, include_pii=True)

    assert list(stored) == list(TABLE_ORDER)
    for table in TABLE_ORDER:
        pd.testing.assert_frame_equal(
            _sorted(stored[table], table), _sorted(tiny_city[table], table)
        )


def test_pii_columns_are_present_but_null_unless_asked_for(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    persons = read_tables(db_url)["persons"]

    assert list(persons.columns) == TABLES["persons"].column_names
    for column in PII_COLUMNS:
        assert persons[column].dtype == "string" and persons[column].isna().all()
    assert persons["sex"].notna().all()


def test_household_filter_follows_the_households_history(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    history = read_tables(db_url, household_ids=["H1"])

    assert _ids(history, "households") == {"H1"}
    assert _ids(history, "persons") == {"P1a", "P1b"}
    assert _ids(history, "hotline_calls") == {"CL1", "CL4"}  # CL4 names a person of H1 only
    assert _ids(history, "cases") == {"K1", "K2"}  # party in K1, counterparty in K2
    assert _ids(history, "mediation_events") == {"E1", "E2", "E3"}
    assert _ids(history, "screenings") == {"S1"}
    assert _ids(history, "psych_assessments") == {"A1"}
    assert _ids(history, "incidents") == {"I1"}
    for table in TABLE_ORDER:  # the validator's shape, whatever the filter
        assert history[table].dtypes.to_dict() == tiny_city[table].dtypes.to_dict()


def test_as_of_keeps_only_what_was_known_then(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    history = read_tables(
        db_url, household_ids=["H1", "H3"], as_of=pd.Timestamp("2024-03-01T09:30:00+08:00")
    )

    assert _ids(history, "households") == {"H1", "H3"}  # H3 registered 2024-02-20
    assert _ids(history, "hotline_calls") == {"CL1"}
    assert _ids(history, "cases") == {"K1", "K2"}  # K2 opened exactly at as_of
    assert _ids(history, "mediation_events") == {"E1", "E2"}
    assert _ids(history, "screenings") == {"S1"}
    assert _ids(history, "psych_assessments") == {"A1"}
    assert _ids(history, "incidents") == {"I1"}


def test_person_ids_alone_select_those_persons_records(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    history = read_tables(db_url, person_ids=["P3a"])

    assert _ids(history, "persons") == {"P3a"}
    assert _ids(history, "screenings") == {"S2"}
    assert _ids(history, "psych_assessments") == {"A2"}
    assert history["households"].empty and history["cases"].empty


def test_an_unknown_household_has_an_empty_history(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    history = read_tables(db_url, household_ids=["H-new"])

    assert all(history[table].empty for table in TABLE_ORDER)
    assert list(history["cases"].columns) == TABLES["cases"].column_names


def test_as_of_must_say_its_timezone(db_url):
    with pytest.raises(ValueError, match="timezone"):
        read_tables(db_url, as_of=pd.Timestamp("2024-03-01 09:30"))


def test_column_arrays_hold_the_rows_of_the_typed_frames(db_url, tiny_city):
    """``read_history``: the same rows, timestamps as UTC nanoseconds to the microsecond, no PII."""
    tiny_city["hotline_calls"].loc[0, "received_at"] = pd.Timestamp("2024-01-10T12:15:00.123456Z")
    load_frames(db_url, tiny_city)
    scope = {
        "household_ids": ["H1", "H2"]
        + [f"H-unknown-{i}" for i in range(2000)],  # more than 999 ids
        "person_ids": ["P3a"],
        "as_of": pd.Timestamp("2024-03-01T09:30:00+08:00"),
    }

    frames, columns = read_tables(db_url, **scope), read_history(db_url, **scope)

    for table in TABLE_ORDER:
        frame = frames[table]
        assert list(columns[table]) == [c for c in frame.columns if c not in PII_COLUMNS]
        for name, values in columns[table].items():
            if frame[name].dtype.kind == "M":
                expected = frame[name].dt.tz_convert(None).to_numpy("datetime64[ns]").view("int64")
            elif values.dtype == object:
                expected = frame[name].to_numpy(dtype=object, na_value=None)
            else:
                expected = frame[name].to_numpy(dtype="float64", na_value=np.nan)
            np.testing.assert_array_equal(values, expected, err_msg=f"{table}.{name}")
    assert (
        columns["hotline_calls"]["received_at"][0]
        == pd.Timestamp("2024-01-10T12:15:00.123456Z").value
    )


def test_timestamps_stored_by_other_writers_are_read_as_the_instants_they_name(tmp_path, tiny_city):
    """SQLite keeps timestamps as text: one without offset is UTC, another offset is converted."""
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    migrate(url)
    load_frames(url, tiny_city)
    with engine_for(url).begin() as connection:
        connection.execute(
            text(
                "UPDATE hotline_calls SET received_at = '2024-01-10 12:15:00.5' WHERE call_id = 'CL1'"
            )
        )
        connection.execute(
            text("UPDATE cases SET opened_at = '2024-01-20 18:00:00+08:00' WHERE case_id = 'K1'")
        )

    history = read_history(url, household_ids=["H1"])
    frames = read_tables(url, household_ids=["H1"])

    calls, cases = history["hotline_calls"], history["cases"]
    assert (
        calls["received_at"][list(calls["call_id"]).index("CL1")]
        == pd.Timestamp("2024-01-10T12:15:00.5Z").value
    )
    assert (
        cases["opened_at"][list(cases["case_id"]).index("K1")]
        == pd.Timestamp("2024-01-20T10:00:00Z").value
    )
    assert pd.Timestamp("2024-01-20T10:00:00Z") in set(frames["cases"]["opened_at"])
