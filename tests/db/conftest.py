"""A tiny city as typed frames (the shape the validator hands to the loader), built by hand.

Three households: H1 quarrels with H2 (case K1) and is the counterparty of H3 (case K2);
H3 also has a case of its own (K3).  Times run through 2024 so that ``as_of`` cuts are easy.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from triage.contract import TABLE_ORDER, TABLES, TYPED_DTYPES

TINY_CITY: dict[str, list[dict]] = {
    "households": [
        {
            "household_id": "H1",
            "district": "城关区",
            "street": "东街道",
            "grid_id": "G1",
            "area_type": "urban",
            "size": 3,
            "low_income": False,
            "registered_at": "2023-01-01T09:00:00+08:00",
        },
        {
            "household_id": "H2",
            "district": "城關區",
            "street": "西街道",
            "grid_id": "G1",
            "area_type": "urban",
            "size": 2,
            "low_income": True,
            "registered_at": "2023-02-01T09:00:00+08:00",
        },
        {
            "household_id": "H3",
            "district": "河谷县",
            "street": "北乡",
            "grid_id": "G2",
            "area_type": "rural",
            "size": 5,
            "low_income": False,
            "registered_at": "2024-02-20T09:00:00+08:00",
        },
    ],
    "persons": [
        {
            "person_id": "P1a",
            "household_id": "H1",
            "sex": "male",
            "birth_year": 1980,
            "employment": "migrant_worker",
            "returned_migrant": True,
            "alcohol_problem": True,
            "name": "张三",
            "id_number": "110101198001011234",
            "phone": "13800000001",
        },
        {
            "person_id": "P1b",
            "household_id": "H1",
            "sex": "female",
            "birth_year": 1983,
            "ethnicity": "han",
            "name": "李四",
        },
        {
            "person_id": "P2a",
            "household_id": "H2",
            "sex": "male",
            "birth_year": 1975,
            "prior_conviction": False,
            "phone": "13800000002",
        },
        {
            "person_id": "P3a",
            "household_id": "H3",
            "sex": "female",
            "birth_year": 1990,
            "mental_health_registry": False,
        },
    ],
    "hotline_calls": [
        {
            "call_id": "CL1",
            "received_at": "2024-01-10T20:15:00+08:00",
            "channel": "110",
            "household_id": "H1",
            "person_id": "P1a",
            "category": "marriage_family",
            "text": "丈夫酒后扬言要砍人",
        },
        {
            "call_id": "CL2",
            "received_at": "2024-02-01T10:00:00+08:00",
            "channel": "12345",
            "household_id": "H2",
            "category": "neighbor",
            "text": "邻居噪音",
        },
        {
            "call_id": "CL3",
            "received_at": "2024-03-01T10:00:00+08:00",
            "channel": "grid_report",
            "category": "public_order",
        },
        {
            "call_id": "CL4",
            "received_at": "2024-06-01T08:30:00+00:00",
            "channel": "12338",
            "person_id": "P1b",
            "category": "marriage_family",
            "text": "婦女求助",
        },
    ],
    "cases": [
        {
            "case_id": "K1",
            "opened_at": "2024-01-15T09:30:00+08:00",
            "household_id": "H1",
            "counterparty_household_id": "H2",
            "dispute_type": "neighbor",
            "source": "grid_patrol",
            "amount_cny": 2000.5,
            "parties_count": 2,
            "description": "宅基地边界",
            "status": "mediated",
            "closed_at": "2024-02-01T09:30:00+08:00",
        },
        {
            "case_id": "K2",
            "opened_at": "2024-03-01T09:30:00+08:00",
            "household_id": "H3",
            "counterparty_household_id": "H1",
            "dispute_type": "wage_arrears",
            "source": "hotline",
            "parties_count": 40,
            "status": "open",
        },
        {
            "case_id": "K3",
            "opened_at": "2024-05-01T09:30:00+08:00",
            "household_id": "H3",
            "dispute_type": "land_transfer",
            "source": "walk_in",
            "amount_cny": 0.0,
            "parties_count": 2,
            "status": "failed",
            "closed_at": "2024-06-01T09:30:00+08:00",
        },
    ],
    "mediation_events": [
        {
            "event_id": "E1",
            "case_id": "K1",
            "at": "2024-01-20T10:00:00+08:00",
            "level": "village",
            "outcome": "no_agreement",
        },
        {
            "event_id": "E2",
            "case_id": "K1",
            "at": "2024-01-28T10:00:00+08:00",
            "level": "township",
            "outcome": "agreement",
            "note": "双方签字",
        },
        {
            "event_id": "E3",
            "case_id": "K2",
            "at": "2024-03-05T10:00:00+08:00",
            "level": "county",
            "outcome": "party_absent",
        },
        {
            "event_id": "E4",
            "case_id": "K3",
            "at": "2024-05-10T10:00:00+08:00",
            "level": "court",
            "outcome": "referred",
        },
    ],
    "screenings": [
        {
            "screening_id": "S1",
            "person_id": "P1a",
            "at": "2024-01-25T15:00:00+08:00",
            "instrument": "phq9",
            "score": 14,
            "item9": 1,
        },
        {
            "screening_id": "S2",
            "person_id": "P3a",
            "at": "2024-04-01T15:00:00+08:00",
            "instrument": "gad7",
            "score": 6,
        },
    ],
    "psych_assessments": [
        {
            "assessment_id": "A1",
            "person_id": "P1a",
            "at": "2024-02-05T15:00:00+08:00",
            "tier": "yellow",
        },
        {
            "assessment_id": "A2",
            "person_id": "P3a",
            "at": "2024-04-10T15:00:00+08:00",
            "tier": "green",
        },
    ],
    "incidents": [
        {
            "incident_id": "I1",
            "occurred_at": "2024-02-10T23:40:00+08:00",
            "household_id": "H1",
            "person_id": "P1a",
            "offence": "assault",
            "case_id": "K1",
        },
        {
            "incident_id": "I2",
            "occurred_at": "2024-05-20T23:40:00+08:00",
            "household_id": "H3",
            "offence": "threat",
        },
    ],
}


def typed_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A typed frame of ``table`` from plain rows; absent columns are null, times ISO strings."""
    spec = TABLES[table]
    raw = pd.DataFrame.from_records(rows, columns=spec.column_names)
    columns = {}
    for column in spec.columns:
        values = raw[column.name]
        if column.type == "timestamp":
            values = pd.to_datetime(values, utc=True, format="ISO8601")
        columns[column.name] = values.astype(TYPED_DTYPES[column.type])
    return pd.DataFrame(columns)


def city_frames(city: dict[str, list[dict]] = TINY_CITY) -> dict[str, pd.DataFrame]:
    return {table: typed_frame(table, city[table]) for table in TABLE_ORDER}


@pytest.fixture
def tiny_city() -> dict[str, pd.DataFrame]:
    """The tiny city as typed frames, fresh per test (tests may modify them)."""
    return city_frames()


@pytest.fixture
def make_frame() -> Callable[[str, list[dict]], pd.DataFrame]:
    return typed_frame


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture
def tiny_city_folder(tmp_path) -> Path:
    """The tiny city written as an exchange-format dataset folder (one CSV per table)."""
    folder = tmp_path / "tiny_city"
    folder.mkdir()
    for table in TABLE_ORDER:
        with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(TABLES[table].column_names)
            for row in TINY_CITY[table]:
                writer.writerow([_csv_value(row.get(c)) for c in TABLES[table].column_names])
    return folder
