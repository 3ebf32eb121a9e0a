"""read_tables: typed frames back out of the database, per household and point in time."""

import pandas as pd
import pytest

from triage.contract import PII_COLUMNS, TABLE_ORDER, TABLES
from triage.db import load_frames, read_tables


def _sorted(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.sort_values(TABLES[table].key).reset_index(drop=True)


def _ids(frames: dict[str, pd.DataFrame], table: str) -> set[str]:
    return set(frames[table][TABLES[table].key])


def test_round_trip_gives_the_frames_that_were_loaded(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    stored = read_tables(db_url, include_pii=True)

    assert list(stored) == list(TABLE_ORDER)
    for table in TABLE_ORDER:
        pd.testing.assert_frame_equal(_sorted(stored[table], table),
                                      _sorted(tiny_city[table], table))


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
    assert _ids(history, "cases") == {"K1", "K2"}           # party in K1, counterparty in K2
    assert _ids(history, "mediation_events") == {"E1", "E2", "E3"}
    assert _ids(history, "screenings") == {"S1"}
    assert _ids(history, "psych_assessments") == {"A1"}
    assert _ids(history, "incidents") == {"I1"}
    for table in TABLE_ORDER:  # the validator's shape, whatever the filter
        assert history[table].dtypes.to_dict() == tiny_city[table].dtypes.to_dict()


def test_as_of_keeps_only_what_was_known_then(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    history = read_tables(db_url, household_ids=["H1", "H3"],
                          as_of=pd.Timestamp("2024-03-01T09:30:00+08:00"))

    assert _ids(history, "households") == {"H1", "H3"}      # H3 registered 2024-02-20
    assert _ids(history, "hotline_calls") == {"CL1"}
    assert _ids(history, "cases") == {"K1", "K2"}           # K2 opened exactly at as_of
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
