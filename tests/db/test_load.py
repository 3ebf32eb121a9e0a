"""load_frames: idempotent upserts by key, counted; PII stays in persons."""

import logging
from datetime import datetime, timezone

import pandas as pd
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triage.contract import PII_COLUMNS, TABLE_ORDER
from triage.db import engine_for, load_frames, read_tables
from triage.db.models import Case, Person


def _totals(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    return {
        kind: sum(c[kind] for c in counts.values()) for kind in ("inserted", "updated", "unchanged")
    }


def test_first_load_inserts_every_row(db_url, tiny_city):
    counts = load_frames(db_url, tiny_city)

    assert list(counts) == list(TABLE_ORDER)
    for table, frame in tiny_city.items():
        assert counts[table] == {"inserted": len(frame), "updated": 0, "unchanged": 0}


def test_loading_the_same_rows_twice_changes_nothing(db_url, tiny_city):
    load_frames(db_url, tiny_city)
    before = read_tables(db_url, include_pii=True)

    again = load_frames(db_url, tiny_city)

    assert _totals(again) == {
        "inserted": 0,
        "updated": 0,
        "unchanged": sum(map(len, tiny_city.values())),
    }
    after = read_tables(db_url, include_pii=True)
    for table in TABLE_ORDER:
        pd.testing.assert_frame_equal(after[table], before[table])


def test_a_later_export_adds_new_rows_and_updates_changed_ones(db_url, tiny_city, make_frame):
    load_frames(db_url, tiny_city)
    rows_before = {table: len(frame) for table, frame in tiny_city.items()}
    later = dict(tiny_city)
    cases = tiny_city["cases"].copy()
    cases.loc[cases.case_id == "K2", ["status", "closed_at"]] = [
        "mediated",
        pd.Timestamp("2024-04-01T10:00:00+08:00"),
    ]
    later["cases"] = cases
    later["mediation_events"] = pd.concat(
        [
            tiny_city["mediation_events"],
            make_frame(
                "mediation_events",
                [
                    {
                        "event_id": "E5",
                        "case_id": "K2",
                        "at": "2024-04-01T09:00:00+08:00",
                        "level": "county",
                        "outcome": "agreement",
                    }
                ],
            ),
        ],
        ignore_index=True,
    )

    counts = load_frames(db_url, later)

    assert counts["cases"] == {"inserted": 0, "updated": 1, "unchanged": 2}
    assert counts["mediation_events"] == {"inserted": 1, "updated": 0, "unchanged": 4}
    for table in ("households", "persons", "hotline_calls", "screenings", "incidents"):
        assert counts[table] == {"inserted": 0, "updated": 0, "unchanged": rows_before[table]}
    with Session(engine_for(db_url)) as session:
        k2 = session.get(Case, "K2")
        assert k2.status == "mediated"
        assert k2.closed_at == datetime(2024, 4, 1, 2, 0, tzinfo=timezone.utc)


def test_a_value_set_back_to_null_is_an_update(db_url, tiny_city):
    load_frames(db_url, tiny_city)
    persons = tiny_city["persons"].copy()
    persons.loc[persons.person_id == "P1a", "alcohol_problem"] = pd.NA

    counts = load_frames(db_url, {"persons": persons})

    assert counts == {"persons": {"inserted": 0, "updated": 1, "unchanged": 3}}
    with Session(engine_for(db_url)) as session:
        assert session.get(Person, "P1a").alcohol_problem is None


def test_stored_timestamps_come_back_in_utc(db_url, tiny_city):
    load_frames(db_url, tiny_city)

    with Session(engine_for(db_url)) as session:
        opened = session.scalars(select(Case.opened_at).where(Case.case_id == "K1")).one()
    assert opened == datetime(2024, 1, 15, 1, 30, tzinfo=timezone.utc)
    assert opened.utcoffset().total_seconds() == 0


def test_small_chunks_give_the_same_result(db_url, tiny_city):
    counts = load_frames(db_url, tiny_city, chunk_rows=2)
    again = load_frames(db_url, tiny_city, chunk_rows=3)

    assert (
        _totals(counts)["inserted"]
        == _totals(again)["unchanged"]
        == sum(map(len, tiny_city.values()))
    )


def test_an_unknown_reference_is_refused_and_nothing_is_kept(db_url, tiny_city, make_frame):
    """The validator quarantines unknown ids; foreign keys catch a writer that skipped it."""
    tiny_city["hotline_calls"] = make_frame(
        "hotline_calls",
        [
            {
                "call_id": "CL9",
                "received_at": "2024-01-01T00:00:00+08:00",
                "channel": "110",
                "household_id": "H-unknown",
                "category": "neighbor",
            }
        ],
    )

    with pytest.raises(IntegrityError):
        load_frames(db_url, tiny_city)

    assert all(frame.empty for frame in read_tables(db_url).values())


@pytest.mark.parametrize("problem", ["duplicate key", "naive timestamps", "missing column"])
def test_frames_that_are_not_validated_typed_frames_are_refused(db_url, tiny_city, problem):
    households = tiny_city["households"]
    if problem == "duplicate key":
        households = pd.concat([households, households.head(1)], ignore_index=True)
    elif problem == "naive timestamps":
        households = households.assign(registered_at=households.registered_at.dt.tz_localize(None))
    else:
        households = households.drop(columns="grid_id")

    with pytest.raises((ValueError, TypeError)):
        load_frames(db_url, {"households": households})


def test_pii_is_stored_only_in_persons_and_never_logged(db_url, tiny_city, caplog):
    pii_values = {v for column in PII_COLUMNS for v in tiny_city["persons"][column].dropna()}
    assert pii_values  # the tiny city has names, id numbers and phones

    with caplog.at_level(logging.DEBUG):
        load_frames(db_url, tiny_city)

    assert not any(value in caplog.text for value in pii_values)
    inspector = inspect(engine_for(db_url))
    for table in TABLE_ORDER:
        columns = {c["name"] for c in inspector.get_columns(table)}
        assert not (columns & PII_COLUMNS) or table == "persons", table
    stored = read_tables(db_url, include_pii=True)
    for table, frame in stored.items():
        if table != "persons":
            text = frame.astype("string").to_csv()
            assert not any(value in text for value in pii_values), table
    assert set(stored["persons"]["phone"].dropna()) == {"13800000001", "13800000002"}
