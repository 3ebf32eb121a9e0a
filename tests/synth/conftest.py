"""Small generated cities (1,500 households), generated once per test session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.synth.contract_reading import read_tables
from triage.synth import generate_city

START, END = date(2022, 1, 1), date(2025, 6, 30)
SMALL_CITY = dict(households=1_500, seed=11, start=START, end=END)


@pytest.fixture(scope="session")
def city(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("city")
    return out, generate_city(out, **SMALL_CITY)


@pytest.fixture(scope="session")
def city_tables(city) -> dict[str, pd.DataFrame]:
    return read_tables(city[0])


@pytest.fixture(scope="session")
def city_with_bad_rows(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bad_city")
    return out, generate_city(out, **SMALL_CITY, bad_row_share=0.01)
